//! What an outbound pool holds while its peer is unreachable: a bounded backlog of items,
//! each with its own delivery deadline, and the reconnect backoff (exponential, with jitter).

use std::collections::VecDeque;
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use tokio::time::Instant;

/// Items waiting for a connection, oldest first. Never holds more than its capacity: the
/// pool stops taking from its channel when full, so senders see backpressure.
#[derive(Debug)]
pub struct Backlog<T> {
    items: VecDeque<(T, Instant)>,
    capacity: usize,
}

impl<T> Backlog<T> {
    /// An empty backlog for at most `capacity` items.
    pub fn new(capacity: usize) -> Backlog<T> {
        Backlog {
            items: VecDeque::new(),
            capacity: capacity.max(1),
        }
    }

    /// Whether another item fits.
    pub fn has_room(&self) -> bool {
        self.items.len() < self.capacity
    }

    /// True when nothing waits.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Items waiting.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Add an item that must be delivered by `deadline`.
    pub fn push(&mut self, item: T, deadline: Instant) {
        self.items.push_back((item, deadline));
    }

    /// Put an item back at the front (it was taken for a write that did not happen).
    pub fn push_front(&mut self, item: T, deadline: Instant) {
        self.items.push_front((item, deadline));
    }

    /// Take the oldest item.
    pub fn pop(&mut self) -> Option<(T, Instant)> {
        self.items.pop_front()
    }

    /// The earliest deadline of any waiting item.
    pub fn earliest_deadline(&self) -> Option<Instant> {
        self.items.iter().map(|(_, d)| *d).min()
    }

    /// When to try to connect again, `delay` after `now`: but while items wait, no later than
    /// halfway to the earliest of their deadlines (and no sooner than `floor`). A long backoff
    /// would otherwise pass over the last seconds before a deadline, and a peer back in them
    /// would see its items bounced without one more attempt.
    pub fn retry_at(&self, now: Instant, delay: Duration, floor: Duration) -> Instant {
        let cap = self
            .earliest_deadline()
            .map_or(delay, |d| (d.saturating_duration_since(now) / 2).max(floor));
        now + delay.min(cap)
    }

    /// Remove every item whose deadline is at or before `now`, handing each to `expired`.
    pub fn expire(&mut self, now: Instant, mut expired: impl FnMut(T)) {
        let mut kept = VecDeque::with_capacity(self.items.len());
        for (item, deadline) in self.items.drain(..) {
            if deadline <= now {
                expired(item);
            } else {
                kept.push_back((item, deadline));
            }
        }
        self.items = kept;
    }

    /// Remove every item, handing each to `f`.
    pub fn drain(&mut self, mut f: impl FnMut(T)) {
        for (item, _) in self.items.drain(..) {
            f(item);
        }
    }
}

/// Reconnect delays: doubling from `initial` up to `max`, each with up to 25 % random jitter
/// so that many pools do not reconnect in step.
#[derive(Debug, Clone)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    current: Duration,
}

impl Backoff {
    /// A backoff starting at `initial`.
    pub fn new(initial: Duration, max: Duration) -> Backoff {
        Backoff {
            initial,
            max,
            current: initial,
        }
    }

    /// The next delay (and double the one after).
    pub fn next_delay(&mut self) -> Duration {
        let base = self.current;
        self.current = (self.current * 2).min(self.max);
        let jitter_range = base.as_millis() as u64 / 4;
        let jitter = if jitter_range == 0 {
            0
        } else {
            random() % jitter_range
        };
        base + Duration::from_millis(jitter)
    }

    /// Start over after a success.
    pub fn reset(&mut self) {
        self.current = self.initial;
    }
}

fn random() -> u64 {
    std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_bounded_jitter_and_resets() {
        let mut b = Backoff::new(Duration::from_millis(400), Duration::from_millis(2000));
        let bounds = [
            (400, 500),
            (800, 1000),
            (1600, 2000),
            (2000, 2500),
            (2000, 2500),
        ];
        for (lo, hi) in bounds {
            let d = b.next_delay().as_millis() as u64;
            assert!((lo..hi).contains(&d), "{d} not in {lo}..{hi}");
        }
        b.reset();
        assert!(b.next_delay() < Duration::from_millis(500));
    }

    #[tokio::test(start_paused = true)]
    async fn retries_come_before_the_earliest_deadline() {
        let now = Instant::now();
        let secs = Duration::from_secs;
        let floor = Duration::from_millis(500);
        let mut q = Backlog::new(4);
        // Nothing waits: the backoff alone.
        assert_eq!(q.retry_at(now, secs(16), floor), now + secs(16));
        q.push("a", now + secs(20));
        q.push("b", now + secs(12));
        // Halfway to the earliest deadline (12 s away), not the 16 s backoff.
        assert_eq!(q.retry_at(now, secs(16), floor), now + secs(6));
        // A shorter backoff stands.
        assert_eq!(q.retry_at(now, secs(2), floor), now + secs(2));
        // Close to the deadline the attempts come at the floor, not in a busy loop.
        let late = now + Duration::from_millis(11_800);
        assert_eq!(q.retry_at(late, secs(16), floor), late + floor);
        assert_eq!(
            q.retry_at(now + secs(13), secs(16), floor),
            now + secs(13) + floor
        );
    }

    #[tokio::test(start_paused = true)]
    async fn backlog_expires_only_what_is_due_and_keeps_order() {
        let now = Instant::now();
        let mut q = Backlog::new(3);
        q.push("a", now + Duration::from_secs(5));
        q.push("b", now + Duration::from_secs(1));
        q.push("c", now + Duration::from_secs(9));
        assert!(!q.has_room());
        assert_eq!(q.earliest_deadline(), Some(now + Duration::from_secs(1)));
        let mut gone = Vec::new();
        q.expire(now + Duration::from_secs(5), |i| gone.push(i));
        assert_eq!(gone, ["a", "b"]);
        assert_eq!(q.pop().map(|(i, _)| i), Some("c"));
        assert!(q.is_empty());
    }
}
