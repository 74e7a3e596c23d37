//! Token buckets, as plain values: the caller keeps them and passes the clock in, so every
//! decision is a pure function of its inputs.

/// A token bucket's state: tokens left at `at_ms`. A fresh bucket is full.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bucket {
    tokens: f64,
    at_ms: u64,
    fresh: bool,
}

impl Default for Bucket {
    fn default() -> Self {
        Bucket {
            tokens: 0.0,
            at_ms: 0,
            fresh: true,
        }
    }
}

/// A bucket's parameters: refill rate and capacity. A rate of 0 means unlimited.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    /// Tokens added per second.
    pub per_second: f64,
    /// Capacity.
    pub burst: u32,
}

impl Bucket {
    /// Take one token at `now_ms`: the bucket after the attempt, or `None` when it is empty.
    pub fn take(self, rate: Rate, now_ms: u64) -> Option<Bucket> {
        if rate.per_second <= 0.0 {
            return Some(self);
        }
        let burst = f64::from(rate.burst);
        let tokens = if self.fresh {
            burst
        } else {
            let elapsed = now_ms.saturating_sub(self.at_ms) as f64 / 1000.0;
            (self.tokens + elapsed * rate.per_second).min(burst)
        };
        (tokens >= 1.0).then_some(Bucket {
            tokens: tokens - 1.0,
            at_ms: now_ms.max(self.at_ms),
            fresh: false,
        })
    }

    /// Whether the bucket is full again at `now_ms` (it can then be forgotten).
    pub fn is_full(&self, rate: Rate, now_ms: u64) -> bool {
        self.fresh
            || self
                .take(rate, now_ms)
                .is_some_and(|b| b.tokens + 1.0 >= f64::from(rate.burst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const R: Rate = Rate {
        per_second: 2.0,
        burst: 3,
    };

    #[test]
    fn burst_then_empty_then_refill() {
        let mut b = Bucket::default();
        for _ in 0..3 {
            b = b.take(R, 1000).expect("within the burst");
        }
        assert_eq!(b.take(R, 1000), None, "burst spent");
        assert_eq!(b.take(R, 1400), None, "0.8 token after 400 ms");
        let b = b.take(R, 1500).expect("one token after 500 ms at 2/s");
        assert_eq!(b.take(R, 1500), None);
    }

    #[test]
    fn refill_is_capped_at_the_burst() {
        let mut b = Bucket::default().take(R, 0).unwrap();
        b = b.take(R, 3_600_000).unwrap();
        assert!(b.take(R, 3_600_000).is_some());
        assert!(b.is_full(R, 3_700_000));
        // Two tokens left after an hour's refill (capped at 3) and one take.
        let b = b.take(R, 3_600_000).unwrap().take(R, 3_600_000).unwrap();
        let b = b.take(R, 3_600_000);
        assert_eq!(b, None, "never more than 3 at once");
    }

    #[test]
    fn zero_rate_is_unlimited_and_clock_going_back_is_harmless() {
        let off = Rate {
            per_second: 0.0,
            burst: 0,
        };
        let mut b = Bucket::default();
        for _ in 0..10_000 {
            b = b.take(off, 5).unwrap();
        }
        let b = Bucket::default().take(R, 10_000).unwrap();
        assert!(b.take(R, 5_000).is_some(), "no refill, no panic");
    }
}
