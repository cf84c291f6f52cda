//! Retrying transactions that lost a lock conflict.

use std::time::Duration;

/// How often the chain retries an erasure that failed on a lock conflict (a deadlock, a
/// serialization failure, a lock wait timeout, SQLite busy), and how long it waits in between.
///
/// Retrying is safe because the failed attempt was rolled back completely; the chain retries
/// only when it owns the transaction, never inside a transaction the caller passed in (the
/// caller's transaction is the unit to retry then). Every other error is returned at once.
///
/// ```
/// use std::time::Duration;
/// use erasure_core::RetryPolicy;
///
/// let policy = RetryPolicy::default();
/// assert_eq!(policy.attempts, 3);
/// let patient = RetryPolicy { attempts: 10, backoff: Duration::from_millis(50) };
/// let never = RetryPolicy::none();
/// assert_eq!(never.attempts, 1);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (at least 1).
    pub attempts: u32,
    /// The wait before the second attempt; it doubles for each further one, with jitter.
    pub backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 3,
            backoff: Duration::from_millis(25),
        }
    }
}

impl RetryPolicy {
    /// One attempt: lock conflicts are returned as errors.
    pub fn none() -> Self {
        Self {
            attempts: 1,
            backoff: Duration::ZERO,
        }
    }

    /// The wait after failed attempt number `attempt` (1-based), with up to 50 % jitter taken
    /// from `entropy` (any byte that differs between workers, e.g. of a run id) so that two
    /// workers that collided do not collide again in step.
    ///
    /// ```
    /// use std::time::Duration;
    /// use erasure_core::RetryPolicy;
    ///
    /// let policy = RetryPolicy { attempts: 4, backoff: Duration::from_millis(20) };
    /// assert_eq!(policy.delay(1, 0), Duration::from_millis(20));
    /// assert_eq!(policy.delay(3, 0), Duration::from_millis(80));
    /// assert!(policy.delay(3, 255) <= Duration::from_millis(120));
    /// ```
    pub fn delay(&self, attempt: u32, entropy: u8) -> Duration {
        let base = self
            .backoff
            .saturating_mul(1 << attempt.saturating_sub(1).min(10));
        base + base.mul_f64(f64::from(entropy) / 510.0)
    }
}
