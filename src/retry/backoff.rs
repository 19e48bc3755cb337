//! Exponential backoff with full jitter: before retry `n` (1 for the first)
//! the wait is drawn uniformly from `[0, min(max_delay, delay * 2^(n-1))]`.
//! Many instances throttled at the same moment spread their next attempts
//! over the whole window instead of coming back in lockstep.

use std::time::Duration;

/// The backoff of one retry policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub delay: Duration,
    pub max_delay: Duration,
}

impl Backoff {
    /// The longest wait before retry `retry` (1 = the first retry).
    pub fn ceiling(&self, retry: u32) -> Duration {
        let doublings = retry.saturating_sub(1).min(32);
        let grown = self
            .delay
            .checked_mul(1u32 << doublings.min(31))
            .unwrap_or(self.max_delay);
        grown.min(self.max_delay)
    }

    /// The wait before retry `retry`: uniform in `[0, ceiling]`, to the millisecond.
    pub fn wait(&self, retry: u32) -> Duration {
        let ceiling = self.ceiling(retry).as_millis().min(u128::from(u64::MAX)) as u64;
        Duration::from_millis(rand::random_range(0..=ceiling))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceilings_double_up_to_the_cap() {
        let b = Backoff {
            delay: Duration::from_secs(2),
            max_delay: Duration::from_secs(10),
        };
        let got: Vec<u64> = (1..=5).map(|n| b.ceiling(n).as_secs()).collect();
        assert_eq!(got, [2, 4, 8, 10, 10]);
        // No overflow however many retries.
        assert_eq!(b.ceiling(u32::MAX), Duration::from_secs(10));
        for n in 1..=5 {
            assert!(b.wait(n) <= b.ceiling(n));
        }
    }

    #[test]
    fn waits_are_spread_over_the_window() {
        let b = Backoff {
            delay: Duration::from_secs(60),
            max_delay: Duration::from_secs(60),
        };
        let waits: std::collections::BTreeSet<Duration> = (0..50).map(|_| b.wait(1)).collect();
        assert!(waits.len() > 40, "{waits:?}");
    }
}
