//! Rate-limited log lines: a failure that can repeat once per message (a full queue under
//! overload) is logged at most once a second, with the count of lines held back, so that
//! logging never adds work exactly when the gateway has the least time for it.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// One call site's gate.
#[derive(Debug, Default)]
pub(crate) struct LogGate {
    /// The second (since the epoch) from which the next line may be written.
    next_s: AtomicU64,
    /// Lines held back since the last one written.
    held: AtomicU64,
}

impl LogGate {
    pub(crate) const fn new() -> LogGate {
        LogGate {
            next_s: AtomicU64::new(0),
            held: AtomicU64::new(0),
        }
    }

    /// At second `now_s`: `Some(n)` when a line may be written, `n` lines having been held
    /// back since the last one; `None` when this one is held back.
    pub(crate) fn pass(&self, now_s: u64) -> Option<u64> {
        let next = self.next_s.load(Relaxed);
        if now_s < next
            || (self.next_s)
                .compare_exchange(next, now_s + 1, Relaxed, Relaxed)
                .is_err()
        {
            self.held.fetch_add(1, Relaxed);
            return None;
        }
        Some(self.held.swap(0, Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::LogGate;

    #[test]
    fn one_line_a_second_with_the_count_held_back() {
        let gate = LogGate::new();
        assert_eq!(gate.pass(100), Some(0));
        assert_eq!(gate.pass(100), None);
        assert_eq!(gate.pass(100), None);
        assert_eq!(gate.pass(101), Some(2));
        assert_eq!(gate.pass(101), None);
        assert_eq!(gate.pass(105), Some(1));
        assert_eq!(gate.pass(106), Some(0));
    }
}
