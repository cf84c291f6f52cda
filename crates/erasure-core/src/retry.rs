//! Retrying transactions that lost a lock conflict.

use std::future::Future;
use std::time::Duration;

/// How often the chain retries an erasure that failed on a lock conflict (a deadlock, a
/// serialization failure, a lock wait timeout, SQLite busy), and how long it waits in between.
///
/// Retrying is safe because the failed attempt was rolled back completely; every attempt runs in
/// a *new* transaction ([`transaction`](crate::transaction)). The chain retries only when it
/// owns the transaction, never inside a transaction the caller passed in (the caller's
/// transaction is the unit to retry then). Every other error is returned at once.
///
/// The wait before each retry doubles, with up to 50 % random jitter drawn per attempt, so that
/// two workers that collided do not collide again in step.
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

    /// The wait after failed attempt number `attempt`, with fresh random jitter.
    pub fn jittered(&self, attempt: u32) -> Duration {
        self.delay(attempt, entropy())
    }

    /// Starts counting the attempts of one unit of work; see [`Retry`].
    pub fn start(&self) -> Retry {
        Retry {
            policy: *self,
            attempt: 1,
        }
    }

    /// Runs `work` (called with the 1-based attempt number) until it succeeds, fails with an
    /// error for which `is_conflict` is false, or the attempts run out; waits
    /// [`jittered`](Self::jittered) between attempts. Each call of `work` must begin a new
    /// transaction (on a new connection, typically, taken from a pool): the failed attempt's
    /// transaction is gone.
    ///
    /// ```
    /// use std::time::Duration;
    /// use erasure_core::RetryPolicy;
    ///
    /// # async fn run() {
    /// let policy = RetryPolicy { attempts: 3, backoff: Duration::from_millis(1) };
    /// let mut calls = 0;
    /// let result: Result<u32, &str> = policy
    ///     .run(|attempt| { calls += 1; async move {
    ///         if attempt < 3 { Err("deadlock") } else { Ok(attempt) }
    ///     }}, |e| *e == "deadlock")
    ///     .await;
    /// assert_eq!(result, Ok(3));
    /// assert_eq!(calls, 3);
    /// # }
    /// # tokio::runtime::Runtime::new().unwrap().block_on(run());
    /// ```
    ///
    /// # Errors
    ///
    /// The last attempt's error.
    pub async fn run<T, E, F, Fut>(
        &self,
        mut work: F,
        is_conflict: impl Fn(&E) -> bool,
    ) -> Result<T, E>
    where
        F: FnMut(u32) -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let mut retry = self.start();
        loop {
            match work(retry.attempt()).await {
                Err(e) if retry.again(is_conflict(&e)).await => {}
                result => return result,
            }
        }
    }
}

/// The attempts of one unit of work under a [`RetryPolicy`], for loops that cannot hand their
/// work to [`RetryPolicy::run`] (work on a connection they were lent).
///
/// ```
/// # use erasure_core::RetryPolicy;
/// # async fn work(_: u32) -> Result<(), std::io::Error> { Ok(()) }
/// # async fn run() -> Result<(), std::io::Error> {
/// let mut retry = RetryPolicy::default().start();
/// loop {
///     match work(retry.attempt()).await {
///         Err(e) if retry.again(e.kind() == std::io::ErrorKind::WouldBlock).await => continue,
///         result => return result,
///     }
/// }
/// # }
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    policy: RetryPolicy,
    attempt: u32,
}

impl Retry {
    /// The number of the attempt about to run (or that just ran), from 1.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// After a failed attempt: when `conflict` (the failure was a lock conflict) and attempts
    /// are left, waits the jittered backoff, counts the next attempt and returns `true`;
    /// otherwise returns `false` at once.
    pub async fn again(&mut self, conflict: bool) -> bool {
        if !conflict || self.attempt >= self.policy.attempts {
            return false;
        }
        let wait = self.policy.jittered(self.attempt);
        tracing::warn!(
            attempt = self.attempt,
            wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
            "lock conflict; retrying in a new transaction"
        );
        tokio::time::sleep(wait).await;
        self.attempt += 1;
        true
    }
}

/// One random byte per call, so that workers (and the attempts of one worker) wait different
/// times. Without a random source (never seen in practice), the clock's nanoseconds.
fn entropy() -> u8 {
    match getrandom::u32() {
        Ok(v) => v.to_le_bytes()[0],
        Err(_) => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos().to_le_bytes()[0]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_differs_between_draws() {
        let policy = RetryPolicy {
            attempts: 5,
            backoff: Duration::from_millis(100),
        };
        let waits: std::collections::BTreeSet<Duration> =
            (0..32).map(|_| policy.jittered(2)).collect();
        assert!(
            waits.len() > 4,
            "32 draws gave {} distinct waits",
            waits.len()
        );
        assert!(waits.iter().all(|w| *w >= Duration::from_millis(200)));
        assert!(waits.iter().all(|w| *w <= Duration::from_millis(300)));
    }

    #[tokio::test]
    async fn only_conflicts_are_retried_and_attempts_are_bounded() {
        let policy = RetryPolicy {
            attempts: 3,
            backoff: Duration::from_millis(1),
        };
        let mut calls = 0;
        let r: Result<(), &str> = policy
            .run(
                |_| {
                    calls += 1;
                    async { Err("conflict") }
                },
                |_| true,
            )
            .await;
        assert_eq!((r, calls), (Err("conflict"), 3));
        let mut calls = 0;
        let r: Result<(), &str> = policy
            .run(
                |_| {
                    calls += 1;
                    async { Err("fatal") }
                },
                |e| *e == "conflict",
            )
            .await;
        assert_eq!((r, calls), (Err("fatal"), 1));
    }
}
