//! Caps on the calls that requests make an identity provider answer (uncached
//! introspection, userinfo completion), so a flood of distinct junk tokens cannot turn
//! the gateway into an amplifier against its IdP: a token bucket (sustained rate and
//! burst) and a limit on calls in flight, both per provider and per replica.
//!
//! Fails closed and at once: past either cap the caller gets [`Throttled`] (a 503 with
//! `Retry-After`) without waiting, so no request queues behind a slow IdP. Only uncached
//! calls are counted; the callers consult their caches first. Never blocks on a lock
//! longer than a few arithmetic operations.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::config::CallLimit;

/// The longest `Retry-After` suggested (a very low configured rate would suggest hours).
const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// The cap was reached; retry after this long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttled {
    /// When a call is likely to be allowed again (at least one second).
    pub retry_after: Duration,
}

impl Throttled {
    /// Whole seconds for a `Retry-After` header (rounded up, at least 1).
    pub fn retry_after_secs(&self) -> u64 {
        let d = self.retry_after;
        (d.as_secs() + u64::from(d.subsec_nanos() > 0)).max(1)
    }
}

/// Held for the duration of one allowed call; dropping it frees the in-flight slot.
#[derive(Debug)]
pub struct CallPermit {
    _slot: OwnedSemaphorePermit,
}

struct Bucket {
    tokens: f64,
    last: Instant,
}

/// One provider's cap on one kind of call.
pub struct CallLimiter {
    per_second: f64,
    burst: f64,
    bucket: Mutex<Bucket>,
    in_flight: Arc<Semaphore>,
}

impl CallLimiter {
    /// A limiter for `limit`, its bucket full.
    pub fn new(limit: CallLimit) -> Self {
        let burst = f64::from(limit.burst.max(1));
        CallLimiter {
            per_second: limit.per_second.max(f64::MIN_POSITIVE),
            burst,
            bucket: Mutex::new(Bucket {
                tokens: burst,
                last: Instant::now(),
            }),
            in_flight: Arc::new(Semaphore::new(limit.max_in_flight.max(1) as usize)),
        }
    }

    /// Takes a slot and a token now, or says how long to wait.
    pub fn try_acquire(&self) -> Result<CallPermit, Throttled> {
        self.try_acquire_at(Instant::now())
    }

    /// [`try_acquire`](Self::try_acquire) at a given instant (tests control the clock).
    pub fn try_acquire_at(&self, now: Instant) -> Result<CallPermit, Throttled> {
        // The slot first: a refused call must not use up a token of the bucket.
        let slot = self
            .in_flight
            .clone()
            .try_acquire_owned()
            .map_err(|_| Throttled {
                retry_after: Duration::from_secs(1),
            })?;
        let mut bucket = self.bucket.lock().unwrap_or_else(PoisonError::into_inner);
        let elapsed = now.saturating_duration_since(bucket.last).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.per_second).min(self.burst);
        bucket.last = bucket.last.max(now);
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            return Ok(CallPermit { _slot: slot });
        }
        let wait = (1.0 - bucket.tokens) / self.per_second;
        Err(Throttled {
            retry_after: Duration::try_from_secs_f64(wait)
                .map_or(MAX_RETRY_AFTER, |d| d.min(MAX_RETRY_AFTER)),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn limiter(per_second: f64, burst: u32, max_in_flight: u32) -> CallLimiter {
        CallLimiter::new(CallLimit {
            per_second,
            burst,
            max_in_flight,
        })
    }

    #[test]
    fn the_bucket_allows_a_burst_then_the_rate() {
        let l = limiter(2.0, 3, 100);
        let t0 = Instant::now();
        for _ in 0..3 {
            drop(l.try_acquire_at(t0).unwrap());
        }
        let refused = l.try_acquire_at(t0).unwrap_err();
        assert_eq!(refused.retry_after, Duration::from_millis(500));
        assert_eq!(refused.retry_after_secs(), 1);
        // Half a second later one token is back, and only one.
        let t1 = t0 + Duration::from_millis(500);
        drop(l.try_acquire_at(t1).unwrap());
        assert!(l.try_acquire_at(t1).is_err());
        // A long quiet period refills up to the burst, never beyond.
        let t2 = t1 + Duration::from_secs(3600);
        for _ in 0..3 {
            drop(l.try_acquire_at(t2).unwrap());
        }
        assert!(l.try_acquire_at(t2).is_err());
        // A clock that goes backwards (another thread's earlier instant) adds nothing.
        assert!(l.try_acquire_at(t0).is_err());
    }

    #[test]
    fn calls_in_flight_are_capped_and_a_refusal_costs_no_token() {
        let l = limiter(1000.0, 3, 2);
        let t = Instant::now();
        let a = l.try_acquire_at(t).unwrap();
        let _b = l.try_acquire_at(t).unwrap();
        let refused = l.try_acquire_at(t).unwrap_err();
        assert_eq!(refused.retry_after_secs(), 1);
        drop(a);
        // The refused attempt took no token: the third of the burst is still there.
        let _c = l.try_acquire_at(t).unwrap();
    }

    #[test]
    fn retry_after_is_rounded_up_and_bounded() {
        let l = limiter(1.0 / 3600.0, 1, 1);
        let t = Instant::now();
        drop(l.try_acquire_at(t).unwrap());
        let refused = l.try_acquire_at(t).unwrap_err();
        assert_eq!(refused.retry_after_secs(), 3600);
        let slow = limiter(1e-9, 1, 1);
        drop(slow.try_acquire_at(t).unwrap());
        assert_eq!(
            slow.try_acquire_at(t).unwrap_err().retry_after,
            MAX_RETRY_AFTER
        );
        let odd = Throttled {
            retry_after: Duration::from_millis(1001),
        };
        assert_eq!(odd.retry_after_secs(), 2);
    }
}
