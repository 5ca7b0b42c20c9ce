//! Buckets shared by every replica (`rate_limit_store: redis`, on `session.redis.url`):
//! one Lua script per check runs the GCRA step atomically on one key, so concurrent
//! checks from any number of replicas never race (Redis runs a script alone), and a
//! Cluster works (one key per script).
//!
//! Clock: the script reads Redis's own `TIME`, so every replica's checks of one key use
//! one clock and a gateway whose clock is off cannot stretch or shrink anyone's bucket;
//! the price is a small jump in a key's refill if a failover lands it on a server whose
//! clock differs. Keys (`portcullis:rl:<route>:<policy>:<hash>`) expire when the bucket is
//! full again, so Redis holds only keys that carry a debt.
//!
//! Never waits for Redis longer than [`TIMEOUT`] and never fails a request because of it:
//! an unanswered check is reported to the caller, which counts in its local bucket
//! instead; after a failure the store is left alone for [`BACKOFF`], so an outage costs
//! one timeout per backoff period, not one per request. Never logs the URL or a key.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::gcra::Verdict;
use crate::config::Secret;
use crate::session::redis::RedisConn;

/// How long a check waits for Redis before the local bucket answers.
pub const TIMEOUT: Duration = Duration::from_millis(50);
/// After a failed check, how long checks go straight to the local buckets.
pub const BACKOFF: Duration = Duration::from_millis(500);
/// At most one fallback warning per this long.
const WARN_EVERY: Duration = Duration::from_secs(10);

/// GCRA (as in `gcra.rs`) in microseconds. KEYS[1] = the bucket; ARGV = interval,
/// tolerance (µs). Returns {1, remaining} or {0, µs until one request fits}. TAT stored
/// with `%.0f`: Lua's default number format would round a microsecond timestamp.
const SCRIPT: &str = r"
if redis.replicate_commands then pcall(redis.replicate_commands) end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
local nxt = tat + interval
local ahead = nxt - now
if ahead > tolerance then
  return {0, ahead - tolerance}
end
redis.call('SET', KEYS[1], string.format('%.0f', nxt), 'PX', math.ceil(ahead / 1000))
return {1, math.floor((tolerance - ahead) / interval)}
";

/// Gives one request back: KEYS[1] = the bucket; ARGV[1] = interval (µs).
const REFUND: &str = r"
if redis.replicate_commands then pcall(redis.replicate_commands) end
local tat = tonumber(redis.call('GET', KEYS[1]))
if not tat then return 0 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
tat = tat - tonumber(ARGV[1])
if tat <= now then
  redis.call('DEL', KEYS[1])
else
  redis.call('SET', KEYS[1], string.format('%.0f', tat), 'PX', math.ceil((tat - now) / 1000))
end
return 1
";

/// The connection and script of the shared buckets (one per configured URL, kept across
/// reloads while the URL stays).
pub struct SharedStore {
    conn: Arc<RedisConn>,
    url: Secret,
    script: redis::Script,
    refund: redis::Script,
    epoch: Instant,
    /// Store nanoseconds until which checks skip Redis.
    skip_until: AtomicU64,
    /// Store nanoseconds (+1) of the last fallback warning; 0 = none yet.
    warned_at: AtomicU64,
}

impl std::fmt::Debug for SharedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedStore").finish_non_exhaustive()
    }
}

impl SharedStore {
    /// A store on `url` (`session.redis.url`: one URL or Cluster seeds). Connects lazily;
    /// the error never names the URL.
    pub fn new(url: &Secret) -> Result<Arc<SharedStore>, String> {
        let conn = RedisConn::new(url.expose()).map_err(|e| e.to_string())?;
        Ok(Arc::new(SharedStore {
            conn,
            url: url.clone(),
            script: redis::Script::new(SCRIPT),
            refund: redis::Script::new(REFUND),
            epoch: Instant::now(),
            skip_until: AtomicU64::new(0),
            warned_at: AtomicU64::new(0),
        }))
    }

    /// Whether this store is the one for `url` (a reload keeps it, and its connection).
    pub fn serves(&self, url: &Secret) -> bool {
        self.url == *url
    }

    fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// One atomic check of `key` with `args` = [interval, tolerance] in µs. `Err` (why,
    /// for the log) when Redis did not answer in time: the caller falls back.
    pub async fn check(&self, key: &str, args: &[&str; 2]) -> Result<Verdict, &'static str> {
        if self.now() < self.skip_until.load(Ordering::Relaxed) {
            return Err("redis failed a moment ago");
        }
        let keys = [key];
        let call = self.conn.script::<Vec<i64>>(&self.script, &keys, args);
        let outcome = match bounded(call).await {
            None => Err("redis did not answer in time"),
            Some(Err(_)) => Err("redis unavailable"),
            Some(Ok(reply)) => match reply.as_slice() {
                [1, remaining] => Ok(Verdict::Allowed {
                    remaining: u64::try_from(*remaining).unwrap_or(0),
                }),
                [0, micros] => Ok(Verdict::Limited {
                    retry_after: u64::try_from(*micros).unwrap_or(0).saturating_mul(1000),
                }),
                _ => Err("unexpected reply from redis"),
            },
        };
        if outcome.is_err() {
            let backoff = u64::try_from(BACKOFF.as_nanos()).unwrap_or(u64::MAX);
            self.skip_until
                .store(self.now().saturating_add(backoff), Ordering::Relaxed);
        }
        outcome
    }

    /// Gives one request back to `key` (`interval` in µs); best effort: a refund Redis
    /// does not take leaves the bucket stricter, never looser.
    pub async fn refund(&self, key: &str, interval: &str) {
        let keys = [key];
        let args = [interval];
        let call = self.conn.script::<i64>(&self.refund, &keys, &args);
        let _ = bounded(call).await;
    }

    /// Logs a fallback to the local buckets, at most once per [`WARN_EVERY`].
    pub fn warn_fallback(&self, route: &str, why: &str) {
        let now = self.now().saturating_add(1);
        let last = self.warned_at.load(Ordering::Relaxed);
        let every = u64::try_from(WARN_EVERY.as_nanos()).unwrap_or(u64::MAX);
        if last != 0 && now.saturating_sub(last) < every {
            return;
        }
        if self
            .warned_at
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
        {
            tracing::warn!(
                route,
                reason = why,
                "rate limits counted in this replica's local buckets: the shared store did not \
                 answer (each replica admits up to the limit on its own meanwhile; counted in \
                 portcullis_rate_limit_fallback_total, logged at most every 10 s)"
            );
        }
    }
}

/// `op` within [`TIMEOUT`]; `None` when it did not finish. When the timer fires, the task
/// yields once and looks again: a stalled process (CPU starvation, not a slow Redis) wakes
/// the timer and the connection's reader together, and a reply that already arrived must
/// not be taken for an outage.
async fn bounded<T>(op: impl std::future::Future<Output = T>) -> Option<T> {
    use futures_util::FutureExt as _;
    let mut op = std::pin::pin!(op);
    if let Ok(done) = tokio::time::timeout(TIMEOUT, op.as_mut()).await {
        return Some(done);
    }
    tokio::task::yield_now().await;
    op.as_mut().now_or_never()
}
