//! Hot reload: on SIGHUP or a change of the config file (polled, debounced), load and
//! validate the file, build a new snapshot from the current one and swap it atomically.
//! An invalid file keeps the running config, logs every error and counts the failure.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::config;
use crate::runtime::Gateway;

/// How often the config file is checked for changes.
pub const POLL_INTERVAL: Duration = Duration::from_secs(1);
/// A change must stay the same for this long before it is applied (editors write in steps).
const DEBOUNCE: Duration = Duration::from_millis(300);

/// Outcome of one reload attempt.
#[derive(Debug, PartialEq, Eq)]
pub enum ReloadOutcome {
    /// The new config is serving.
    Applied,
    /// The file was invalid; the old config keeps serving.
    Rejected,
}

/// Loads `path` and swaps it in, or keeps the old config and says why.
pub fn reload_from(gw: &Gateway, path: &Path) -> ReloadOutcome {
    let outcome = match config::load_file(path) {
        Err(errors) => {
            for issue in &errors.0 {
                tracing::error!(file = %path.display(), "config reload rejected: {issue}");
            }
            ReloadOutcome::Rejected
        }
        Ok(cfg) => match gw.apply(cfg) {
            Ok(()) => {
                tracing::info!(file = %path.display(), "configuration reloaded");
                ReloadOutcome::Applied
            }
            Err(e) => {
                tracing::error!(file = %path.display(), "config reload rejected: {e}");
                ReloadOutcome::Rejected
            }
        },
    };
    let label = match outcome {
        ReloadOutcome::Applied => "ok",
        ReloadOutcome::Rejected => "error",
    };
    gw.metrics.reloads.with_label_values(&[label]).inc();
    outcome
}

/// Watches `path` (poll + debounce) and SIGHUP until `shutdown`. `loaded` is the file
/// content the running config came from, read before this task starts so that an edit
/// made right after start-up is never mistaken for the baseline.
pub async fn watch(
    gw: Arc<Gateway>,
    path: PathBuf,
    loaded: Option<Vec<u8>>,
    shutdown: CancellationToken,
) {
    let mut last = loaded;
    let mut hup = hangup_stream();
    let mut tick = tokio::time::interval(POLL_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let forced = tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => false,
            _ = next_hangup(&mut hup) => true,
        };
        let current = tokio::fs::read(&path).await.ok();
        if !forced && (current.is_none() || current == last) {
            continue;
        }
        if !forced {
            tokio::time::sleep(DEBOUNCE).await;
            if tokio::fs::read(&path).await.ok() != current {
                continue; // still being written; the next tick picks it up
            }
        }
        last = current;
        let gw2 = gw.clone();
        let p = path.clone();
        // Loading reads files and builds TLS contexts: keep it off the async workers.
        let _ = tokio::task::spawn_blocking(move || reload_from(&gw2, &p)).await;
    }
}

#[cfg(unix)]
type Hangup = Option<tokio::signal::unix::Signal>;
#[cfg(not(unix))]
type Hangup = Option<()>;

#[cfg(unix)]
fn hangup_stream() -> Hangup {
    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok()
}
#[cfg(not(unix))]
fn hangup_stream() -> Hangup {
    None
}

#[cfg(unix)]
async fn next_hangup(h: &mut Hangup) {
    match h {
        Some(s) => {
            s.recv().await;
        }
        None => std::future::pending::<()>().await,
    }
}
#[cfg(not(unix))]
async fn next_hangup(_: &mut Hangup) {
    std::future::pending::<()>().await
}
