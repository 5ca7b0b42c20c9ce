//! The invalidation channel: every record write publishes the record's key on
//! [`CHANNEL`]; each replica's subscriber drops its copy, and pings on the same
//! connection so that the local cache knows how current it is (see [`super::local`]).
//!
//! Must never let the local cache look fresh while the subscription is down or stalled,
//! never log the URL, and must end when its store is dropped.

use std::sync::{Arc, Weak};
use std::time::Duration;

use futures_util::{FutureExt as _, StreamExt as _};

use super::local::{LocalCache, PING_EVERY};
use super::record::PREFIX;

/// The channel record writes are announced on (payload: the record's key).
pub const CHANNEL: &str = "portcullis:invalidate";
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// A ping unanswered this long means the connection is unusable.
const PING_TIMEOUT: Duration = Duration::from_secs(1);
const BACKOFF: (Duration, Duration) = (Duration::from_millis(100), Duration::from_secs(2));

/// Starts the subscriber for `cache` on `client`'s server, when a Tokio runtime runs
/// (not during `check-config`). It holds the cache weakly and ends soon after it is gone.
pub fn spawn(client: redis::Client, cache: &Arc<LocalCache>) {
    let Ok(handle) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let weak = Arc::downgrade(cache);
    handle.spawn(async move {
        let mut delay = BACKOFF.0;
        while weak.strong_count() > 0 {
            let connected = tokio::time::timeout(CONNECT_TIMEOUT, client.get_async_pubsub()).await;
            if let Ok(Ok(pubsub)) = connected {
                if serve(&weak, pubsub).await {
                    delay = BACKOFF.0;
                }
            }
            match weak.upgrade() {
                Some(cache) => cache.lost(),
                None => return,
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(BACKOFF.1);
        }
    });
}

/// Subscribes and applies invalidations until the connection fails or the cache is
/// gone; `true` when the subscription had been established.
async fn serve(weak: &Weak<LocalCache>, pubsub: redis::aio::PubSub) -> bool {
    let (mut sink, mut stream) = pubsub.split();
    let subscribed = tokio::time::timeout(PING_TIMEOUT, sink.subscribe(CHANNEL)).await;
    if !matches!(subscribed, Ok(Ok(()))) {
        return false;
    }
    match weak.upgrade() {
        Some(cache) => cache.subscribed(),
        None => return true,
    }
    let mut tick = tokio::time::interval(PING_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            msg = stream.next() => {
                let Some(msg) = msg else { return true };
                let Some(cache) = weak.upgrade() else { return true };
                apply(&cache, &msg);
            }
            _ = tick.tick() => {
                let Some(cache) = weak.upgrade() else { return true };
                let sent = cache.clock();
                let pong = tokio::time::timeout(PING_TIMEOUT, sink.ping::<redis::Value>()).await;
                if !matches!(pong, Ok(Ok(_))) {
                    return true;
                }
                // Everything Redis sent before the answer is queued in the stream by now:
                // apply it before saying the cache is current as of `sent`.
                while let Some(next) = stream.next().now_or_never() {
                    match next {
                        Some(msg) => apply(&cache, &msg),
                        None => return true,
                    }
                }
                cache.acked(sent);
            }
        }
    }
}

/// Drops the record a message names (anything else on the channel is ignored).
fn apply(cache: &LocalCache, msg: &redis::Msg) {
    if let Ok(key) = msg.get_payload::<String>() {
        // `portcullis:s:<handle>` (record::record_key).
        let handle = key.strip_prefix(PREFIX).and_then(|k| k.strip_prefix(":s:"));
        if let Some(handle) = handle {
            cache.forget(handle);
        }
    }
}
