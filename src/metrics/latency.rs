//! A fixed-bucket latency histogram in Prometheus exposition format (text format 0.0.4).
//!
//! Recording is a few relaxed atomic adds: no allocation, and nothing for an epoch-based
//! collector to reclaim later (the exporter's own histograms keep every sample in blocks
//! until the next upkeep and then defer freeing them, which under light traffic built up
//! for as long as the process ran).

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the buckets, in seconds: 10 µs … 250 ms.
pub const BOUNDS: [f64; 14] = [
    0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025,
    0.05, 0.1, 0.25,
];

/// Counts per bucket (not cumulative; the last one is `+Inf`), the sum and the count.
#[derive(Debug, Default)]
pub struct Latency {
    buckets: [AtomicU64; BOUNDS.len() + 1],
    sum_nanos: AtomicU64,
    count: AtomicU64,
}

impl Latency {
    /// Count one observation.
    pub fn record(&self, d: Duration) {
        let secs = d.as_secs_f64();
        let i = BOUNDS
            .iter()
            .position(|&b| secs <= b)
            .unwrap_or(BOUNDS.len());
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// Append this histogram's series (`_bucket`, `_sum`, `_count`) for one label value.
    pub fn render(&self, out: &mut String, name: &str, label: (&str, &str)) {
        let (key, value) = label;
        let mut cumulative = 0;
        for (i, counter) in self.buckets.iter().enumerate() {
            cumulative += counter.load(Ordering::Relaxed);
            let le = BOUNDS
                .get(i)
                .map_or_else(|| "+Inf".to_owned(), f64::to_string);
            let _ = writeln!(
                out,
                "{name}_bucket{{{key}=\"{value}\",le=\"{le}\"}} {cumulative}"
            );
        }
        let sum = self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
        let _ = writeln!(out, "{name}_sum{{{key}=\"{value}\"}} {sum}");
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_count{{{key}=\"{value}\"}} {count}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_cumulative_and_end_with_inf_sum_and_count() {
        let h = Latency::default();
        h.record(Duration::from_micros(5));
        h.record(Duration::from_micros(200));
        h.record(Duration::from_secs(2));
        let mut out = String::new();
        h.render(&mut out, "x_seconds", ("direction", "sip_to_xmpp"));
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), BOUNDS.len() + 3);
        assert_eq!(
            lines[0],
            "x_seconds_bucket{direction=\"sip_to_xmpp\",le=\"0.00001\"} 1"
        );
        assert!(lines.contains(&"x_seconds_bucket{direction=\"sip_to_xmpp\",le=\"0.0001\"} 1"));
        assert!(lines.contains(&"x_seconds_bucket{direction=\"sip_to_xmpp\",le=\"0.00025\"} 2"));
        assert!(lines.contains(&"x_seconds_bucket{direction=\"sip_to_xmpp\",le=\"0.25\"} 2"));
        assert!(lines.contains(&"x_seconds_bucket{direction=\"sip_to_xmpp\",le=\"+Inf\"} 3"));
        assert!(lines.contains(&"x_seconds_sum{direction=\"sip_to_xmpp\"} 2.000205"));
        assert!(lines.contains(&"x_seconds_count{direction=\"sip_to_xmpp\"} 3"));
    }
}
