//! Reloading key files when they change: polled like the config file (`server::reload`),
//! debounced, swapped per source. A file that does not parse (or cannot be read) keeps
//! the source's current keys, is logged with the reason and counted
//! (`api_key_reloads_total{result="error"}`), once per distinct content.

use std::future::Future;
use std::sync::{Arc, Weak};
use std::time::Duration;

use super::{key_map, parse, ApiKeyStore};

/// How often key files are checked.
pub const POLL_INTERVAL: Duration = Duration::from_secs(1);
/// A change must stay the same this long before it is applied (editors write in steps).
const DEBOUNCE: Duration = Duration::from_millis(300);

/// What a source's file held when last looked at.
#[derive(PartialEq)]
enum Seen {
    Content(Vec<u8>),
    Unreadable(String),
}

impl ApiKeyStore {
    /// Watches every source's file until `shutdown`, or until the store is dropped (a
    /// reload that changed `api_keys` replaced it).
    pub fn spawn_watch<S>(self: &Arc<Self>, shutdown: S) -> tokio::task::JoinHandle<()>
    where
        S: Future<Output = ()> + Send + 'static,
    {
        let weak: Weak<Self> = Arc::downgrade(self);
        let mut seen: Vec<Seen> = self
            .sources
            .iter()
            .map(|s| Seen::Content(s.loaded.clone()))
            .collect();
        tokio::spawn(async move {
            tokio::pin!(shutdown);
            let mut tick = tokio::time::interval(POLL_INTERVAL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = &mut shutdown => return,
                    _ = tick.tick() => {}
                }
                let Some(store) = weak.upgrade() else { return };
                for (i, last) in seen.iter_mut().enumerate() {
                    store.poll_source(i, last).await;
                }
            }
        })
    }

    async fn poll_source(&self, i: usize, last: &mut Seen) {
        let Some(source) = self.sources.get(i) else {
            return;
        };
        let path = &source.cfg.file;
        let read = |r: std::io::Result<Vec<u8>>| match r {
            Ok(bytes) => Seen::Content(bytes),
            Err(e) => Seen::Unreadable(e.to_string()),
        };
        let now = read(tokio::fs::read(path).await);
        if now == *last {
            return;
        }
        tokio::time::sleep(DEBOUNCE).await;
        if read(tokio::fs::read(path).await) != now {
            return; // still being written; the next tick looks again
        }
        let name = &*source.name;
        let result = match &now {
            Seen::Unreadable(e) => Err(format!("cannot read: {e}")),
            Seen::Content(bytes) => parse(bytes),
        };
        *last = now;
        match result {
            Ok(entries) => {
                let keys = key_map(&source.name, entries);
                let count = keys.len();
                source.keys.store(Arc::new(keys));
                self.metrics
                    .api_keys_loaded
                    .with_label_values(&[name])
                    .set(i64::try_from(count).unwrap_or(i64::MAX));
                self.metrics
                    .api_key_reloads
                    .with_label_values(&[name, "ok"])
                    .inc();
                tracing::info!(source = name, file = %path.display(), keys = count, "API keys reloaded");
            }
            Err(e) => {
                self.metrics
                    .api_key_reloads
                    .with_label_values(&[name, "error"])
                    .inc();
                tracing::error!(source = name, file = %path.display(), "API key file rejected, keeping the previous keys: {e}");
            }
        }
    }
}
