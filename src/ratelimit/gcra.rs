//! The bucket math: GCRA (the generic cell rate algorithm, ITU-T I.371), the token
//! bucket in the form that stores one number per key — the theoretical arrival time
//! (TAT) of the next request — in integer nanoseconds.
//!
//! A key whose TAT lies in the past has a full bucket, exactly like a key never seen: that
//! is what lets the stores forget idle keys without changing any decision. Pure functions
//! of (stored TAT, now, quota): no clock, no I/O, no allocation.

use std::time::Duration;

use crate::config::RateLimit;

/// One limit's rate and burst, in the units the math uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    /// Nanoseconds one request "costs" (period / count, rounded up: never faster than
    /// configured).
    interval: u64,
    /// `interval × burst`: how far the TAT may run ahead of now.
    tolerance: u64,
    /// Requests admitted at once by a quiet key.
    burst: u64,
}

/// What one check decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Admitted; `remaining` more would be admitted right now.
    Allowed {
        /// Requests still admitted at this instant.
        remaining: u64,
    },
    /// Refused; a request would be admitted again after `retry_after` nanoseconds.
    Limited {
        /// Nanoseconds until one request fits again.
        retry_after: u64,
    },
}

impl Quota {
    /// The quota of a validated limit; `None` only for values validation refuses
    /// (zero count or burst, or a window that overflows).
    pub fn of(limit: &RateLimit) -> Option<Quota> {
        Quota::new(limit.count, limit.period, limit.burst)
    }

    /// `count` requests per `period`, `burst` at once.
    pub fn new(count: u64, period: Duration, burst: u64) -> Option<Quota> {
        if count == 0 || burst == 0 {
            return None;
        }
        let period = u64::try_from(period.as_nanos()).ok()?;
        let interval = period.div_ceil(count).max(1);
        let tolerance = interval.checked_mul(burst)?;
        Some(Quota {
            interval,
            tolerance,
            burst,
        })
    }

    /// Nanoseconds one request costs.
    pub fn interval_ns(&self) -> u64 {
        self.interval
    }

    /// The burst (the `q` of the RateLimit-Policy field).
    pub fn burst(&self) -> u64 {
        self.burst
    }

    /// Seconds a fully used bucket takes to refill, rounded up, at least 1 (the `w` of
    /// the RateLimit-Policy field: `burst` requests per `w` seconds).
    pub fn window_secs(&self) -> u64 {
        ceil_secs(self.tolerance).max(1)
    }

    /// (interval, tolerance) in whole microseconds, rounded up, for the Redis script
    /// (Redis's clock has microsecond resolution; Lua numbers are exact below 2^53 µs).
    pub fn micros(&self) -> (u64, u64) {
        let interval = self.interval.div_ceil(1000).max(1);
        (interval, interval.saturating_mul(self.burst))
    }
}

/// Decides one request of a key whose stored TAT is `tat` (`None`: never seen or
/// forgotten) at `now`. Returns the verdict and the TAT to store (unchanged when limited:
/// a refused request costs nothing, so a client that keeps hammering is admitted again
/// at the configured rate, not never).
pub fn decide(tat: Option<u64>, now: u64, q: &Quota) -> (Verdict, u64) {
    let tat = tat.map_or(now, |t| t.max(now));
    let next = tat.saturating_add(q.interval);
    // How far the TAT would run ahead of now: `burst` intervals at most.
    let ahead = next - now;
    if ahead > q.tolerance {
        let verdict = Verdict::Limited {
            retry_after: ahead - q.tolerance,
        };
        return (verdict, tat);
    }
    let remaining = (q.tolerance - ahead) / q.interval;
    (Verdict::Allowed { remaining }, next)
}

/// Whole seconds in `nanos`, rounded up (Retry-After and the RateLimit `t` are integers,
/// and rounding down would invite a retry that is refused again).
pub fn ceil_secs(nanos: u64) -> u64 {
    nanos.div_ceil(1_000_000_000)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    /// A key's bucket driven by a clock the test moves.
    struct Bucket {
        tat: Option<u64>,
        q: Quota,
    }

    impl Bucket {
        fn new(count: u64, period_secs: u64, burst: u64) -> Bucket {
            let q = Quota::new(count, Duration::from_secs(period_secs), burst).unwrap();
            Bucket { tat: None, q }
        }
        fn hit(&mut self, now: u64) -> Verdict {
            let (v, tat) = decide(self.tat, now, &self.q);
            self.tat = Some(tat);
            v
        }
        fn admitted(&mut self, now: u64, n: usize) -> usize {
            (0..n)
                .filter(|_| matches!(self.hit(now), Verdict::Allowed { .. }))
                .count()
        }
    }

    #[test]
    fn a_quiet_key_gets_its_burst_then_waits_one_interval() {
        let mut b = Bucket::new(100, 1, 200);
        let t0 = 5 * S;
        for i in 0..200u64 {
            assert_eq!(b.hit(t0), Verdict::Allowed { remaining: 199 - i });
        }
        // 100/s: one request per 10 ms.
        assert_eq!(
            b.hit(t0),
            Verdict::Limited {
                retry_after: 10_000_000
            }
        );
        assert_eq!(
            b.hit(t0 + 4_000_000),
            Verdict::Limited {
                retry_after: 6_000_000
            }
        );
        assert_eq!(b.hit(t0 + 10_000_000), Verdict::Allowed { remaining: 0 });
        assert!(matches!(b.hit(t0 + 10_000_000), Verdict::Limited { .. }));
    }

    #[test]
    fn the_sustained_rate_is_never_exceeded() {
        // 10/s with a burst of 5, hammered every millisecond for ten seconds: at most
        // the burst plus one per 100 ms.
        let mut b = Bucket::new(10, 1, 5);
        let admitted: usize = (0..10_000u64).map(|ms| b.admitted(ms * 1_000_000, 1)).sum();
        assert_eq!(admitted, 5 + 100 - 1);
    }

    #[test]
    fn a_refused_request_costs_nothing() {
        let mut b = Bucket::new(1, 1, 1);
        assert_eq!(b.admitted(0, 1), 1);
        assert_eq!(b.admitted(S / 2, 1000), 0);
        // One second after the admitted one, whatever was refused in between.
        assert_eq!(b.admitted(S, 2), 1);
    }

    #[test]
    fn an_idle_key_refills_to_the_burst_and_no_further() {
        let mut b = Bucket::new(1, 60, 3);
        assert_eq!(b.admitted(0, 10), 3);
        // Two intervals later: two tokens back.
        assert_eq!(b.admitted(120 * S, 10), 2);
        // A day later: the burst, not more.
        assert_eq!(b.admitted(86_400 * S, 10), 3);
    }

    #[test]
    fn a_stale_tat_is_the_same_as_no_entry() {
        let q = Quota::new(5, Duration::from_secs(1), 5).unwrap();
        let now = 100 * S;
        assert_eq!(decide(Some(now - 1), now, &q), decide(None, now, &q));
        assert_eq!(decide(Some(0), now, &q), decide(None, now, &q));
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        let mut b = Bucket::new(1, 3600, 5);
        assert_eq!(b.admitted(0, 5), 5);
        let Verdict::Limited { retry_after } = b.hit(0) else {
            panic!("over the burst")
        };
        assert_eq!(retry_after, 3600 * S);
        assert_eq!(ceil_secs(retry_after), 3600);
        assert_eq!(ceil_secs(1), 1);
        assert_eq!(ceil_secs(S), 1);
        assert_eq!(ceil_secs(S + 1), 2);
    }

    #[test]
    fn quotas() {
        let q = Quota::new(100, Duration::from_secs(1), 200).unwrap();
        assert_eq!(
            (q.interval, q.tolerance, q.burst()),
            (10_000_000, 2 * S, 200)
        );
        assert_eq!(q.window_secs(), 2);
        assert_eq!(q.micros(), (10_000, 2_000_000));
        // 3/s: 333 333 334 ns, rounded up (never faster than configured).
        let q = Quota::new(3, Duration::from_secs(1), 3).unwrap();
        assert_eq!(q.interval, 333_333_334);
        assert_eq!(q.micros(), (333_334, 1_000_002));
        // A sub-second window is announced as one second.
        let q = Quota::new(1000, Duration::from_secs(1), 10).unwrap();
        assert_eq!(q.window_secs(), 1);
        assert_eq!(Quota::new(0, Duration::from_secs(1), 1), None);
        assert_eq!(Quota::new(1, Duration::from_secs(1), 0), None);
        assert_eq!(
            Quota::new(1, Duration::from_secs(u64::MAX), 1_000_000),
            None
        );
    }
}
