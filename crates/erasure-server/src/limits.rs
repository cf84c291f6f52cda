//! Rate limits: a token bucket per client address (public routes) or per operator (operator
//! routes), in memory.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::Instant;

/// Buckets of `per_minute` requests, refilled continuously.
#[derive(Debug)]
pub(crate) struct RateLimiter<K> {
    per_minute: f64,
    buckets: Mutex<HashMap<K, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Buckets beyond this many are pruned of the full ones: memory stays bounded under a flood
/// of addresses.
const MAX_BUCKETS: usize = 100_000;

impl<K: Eq + Hash + Clone> RateLimiter<K> {
    pub(crate) fn new(per_minute: u32) -> Self {
        Self {
            per_minute: f64::from(per_minute.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one request from `key`'s bucket: `Ok(())`, or `Err(seconds)` until the next one.
    pub(crate) fn check(&self, key: &K) -> Result<(), u64> {
        self.check_at(key, Instant::now())
    }

    fn check_at(&self, key: &K, now: Instant) -> Result<(), u64> {
        let rate_per_second = self.per_minute / 60.0;
        // A poisoned lock only means another request panicked while holding it; the map is
        // still a valid map of buckets.
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if buckets.len() >= MAX_BUCKETS {
            let per_minute = self.per_minute;
            buckets.retain(|_, b| {
                b.tokens + now.duration_since(b.at).as_secs_f64() * rate_per_second < per_minute
            });
        }
        let bucket = buckets.entry(key.clone()).or_insert(Bucket {
            tokens: self.per_minute,
            at: now,
        });
        let refill = now.duration_since(bucket.at).as_secs_f64() * rate_per_second;
        bucket.tokens = (bucket.tokens + refill).min(self.per_minute);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let wait = (1.0 - bucket.tokens) / rate_per_second;
            // Whole seconds, at least one: `Retry-After`.
            Err(wait.ceil().max(1.0) as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_bucket_empties_refills_and_is_per_key() {
        let limiter = RateLimiter::new(3);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(limiter.check_at(&"a", t0), Ok(()));
        }
        assert_eq!(limiter.check_at(&"a", t0), Err(20), "one request per 20 s");
        assert_eq!(
            limiter.check_at(&"b", t0),
            Ok(()),
            "another key has its own"
        );
        assert_eq!(limiter.check_at(&"a", t0 + Duration::from_secs(20)), Ok(()));
        assert!(
            limiter
                .check_at(&"a", t0 + Duration::from_secs(21))
                .is_err()
        );
    }
}
