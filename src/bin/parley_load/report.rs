//! The load report: one row per run (or step), as a text table or JSON lines, and the verdict
//! whether the gateway kept up with the offered rate.

use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use serde_json::{Value, json};

use crate::stats::{ProcSample, Run};

/// When a run counts as sustained.
pub struct Criteria {
    pub max_p99_us: u64,
}

/// What one run measured.
pub struct Report {
    pub offered: f64,
    pub send_s: f64,
    pub wall_s: f64,
    pub sent: u64,
    pub delivered: u64,
    pub missing: u64,
    pub first_missing: Vec<u64>,
    pub duplicates: u64,
    pub bounced: u64,
    /// Responses by class (index 0: unreadable, 1..=6: 1xx..6xx); empty when none are expected.
    pub responses: Option<[u64; 7]>,
    pub unanswered: u64,
    pub conn_errors: u64,
    pub failures: u64,
    /// p50, p90, p99, p99.9, max in µs.
    pub latency_us: Option<[u64; 5]>,
    pub gw_cpu: f64,
    pub gw_rss_kib: u64,
    pub gw_pss_kib: u64,
    pub load_cpu: f64,
    pub ok: bool,
    pub why_not: Vec<String>,
}

impl Report {
    #[allow(clippy::too_many_arguments)]
    pub fn of(
        run: &Run,
        offered: f64,
        duration: f64,
        send_time: Duration,
        wall: Duration,
        gw: (ProcSample, ProcSample),
        me: (ProcSample, ProcSample),
        expects_responses: bool,
        c: &Criteria,
    ) -> Report {
        let sent = run.sent.load(Relaxed);
        let delivered = run.delivered();
        let (first_missing, missing) = run.missing(10);
        let responses =
            expects_responses.then(|| std::array::from_fn(|i| run.responses[i].load(Relaxed)));
        let answered: u64 = responses
            .map(|r| r[2..].iter().sum::<u64>() + r[0])
            .unwrap_or(sent);
        let unanswered = sent.saturating_sub(answered);
        let bad_responses = responses
            .map(|r| r[0] + r[3..].iter().sum::<u64>())
            .unwrap_or(0);
        let bounced = run.bounced.load(Relaxed);
        let conn_errors = run.conn_errors.load(Relaxed);
        let failures = bad_responses + bounced + conn_errors + unanswered;
        let latency_us = run.quantile_us(0.5).map(|p50| {
            [
                p50,
                run.quantile_us(0.9).unwrap_or(0),
                run.quantile_us(0.99).unwrap_or(0),
                run.quantile_us(0.999).unwrap_or(0),
                run.max_us().unwrap_or(0),
            ]
        });
        let mut why_not = Vec::new();
        if sent == 0 {
            why_not.push("nothing sent".to_string());
        }
        if failures > 0 {
            why_not.push(format!("{failures} failures"));
        }
        if delivered * 1000 < sent * 999 {
            why_not.push(format!("delivered {delivered} < 99.9 % of {sent}"));
        }
        if let Some(l) = latency_us
            && l[2] > c.max_p99_us
        {
            why_not.push(format!(
                "p99 {:.1} ms > {:.1} ms",
                l[2] as f64 / 1000.0,
                c.max_p99_us as f64 / 1000.0
            ));
        }
        if offered > 0.0 && (sent as f64) < 0.95 * offered * duration {
            why_not.push(format!(
                "sent {sent} < 95 % of the offered {:.0}",
                offered * duration
            ));
        }
        Report {
            offered,
            send_s: send_time.as_secs_f64(),
            wall_s: wall.as_secs_f64(),
            sent,
            delivered,
            missing,
            first_missing,
            duplicates: run.duplicates.load(Relaxed),
            bounced,
            responses,
            unanswered,
            conn_errors,
            failures,
            latency_us,
            gw_cpu: ProcSample::cpu_percent(gw.0, gw.1, wall),
            gw_rss_kib: gw.1.rss_kib,
            gw_pss_kib: gw.1.pss_kib,
            load_cpu: ProcSample::cpu_percent(me.0, me.1, wall),
            ok: why_not.is_empty(),
            why_not,
        }
    }

    fn sent_rate(&self) -> f64 {
        self.sent as f64 / self.send_s.max(1e-3)
    }

    fn delivered_rate(&self) -> f64 {
        self.delivered as f64 / self.send_s.max(1e-3)
    }

    fn json(&self, label: &str) -> Value {
        let ms = |i: usize| self.latency_us.map(|l| l[i] as f64 / 1000.0);
        json!({
            "label": label,
            "offered_rate": self.offered,
            "send_seconds": self.send_s,
            "wall_seconds": self.wall_s,
            "sent": self.sent,
            "sent_rate": self.sent_rate(),
            "delivered": self.delivered,
            "achieved_rate": self.delivered_rate(),
            "missing": self.missing,
            "first_missing": self.first_missing,
            "duplicates": self.duplicates,
            "bounced": self.bounced,
            "responses": self.responses.map(|r| json!({
                "unreadable": r[0], "1xx": r[1], "2xx": r[2], "3xx": r[3], "4xx": r[4], "5xx": r[5], "6xx": r[6],
            })),
            "unanswered": self.unanswered,
            "connection_errors": self.conn_errors,
            "failures": self.failures,
            "latency_ms": {"p50": ms(0), "p90": ms(1), "p99": ms(2), "p99_9": ms(3), "max": ms(4)},
            "gateway_cpu_percent": self.gw_cpu,
            "gateway_rss_kib": self.gw_rss_kib,
            "gateway_pss_kib": self.gw_pss_kib,
            "load_cpu_percent": self.load_cpu,
            "sustained": self.ok,
            "not_sustained_because": self.why_not,
        })
    }
}

/// Where the rows go.
pub struct Out {
    json: bool,
    label: String,
    rows: Vec<Report>,
}

impl Out {
    pub fn new(json: bool, label: &str, desc: &str, pids: &[u32], soft: u64, hard: u64) -> Out {
        if json {
            println!(
                "{}",
                json!({"label": label, "setup": desc, "gateway_pids": pids, "nofile": {"soft": soft, "hard": hard}})
            );
        } else {
            println!("[{label}] {desc}");
            println!(
                "[{label}] gateway pids {pids:?}; RLIMIT_NOFILE raised to {soft} (hard {hard}); latency is send→delivery"
            );
            println!(
                "{:>9} {:>9} {:>9} {:>9} {:>9} {:>7} {:>13} {:>7} {:>7} {:>7} {:>7} {:>7} {:>6} {:>6} {:>8} {:>8}  ok",
                "offered/s",
                "sent/s",
                "deliv/s",
                "sent",
                "delivered",
                "missing",
                "resp 2xx/err",
                "p50ms",
                "p90ms",
                "p99ms",
                "p99.9ms",
                "maxms",
                "gwCPU%",
                "ldCPU%",
                "gwRSSMiB",
                "gwPSSMiB"
            );
        }
        Out {
            json,
            label: label.to_owned(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, r: Report) {
        if self.json {
            println!("{}", r.json(&self.label));
        } else {
            let ms = |i: usize| {
                r.latency_us
                    .map(|l| format!("{:.2}", l[i] as f64 / 1000.0))
                    .unwrap_or("-".into())
            };
            let resp = match r.responses {
                Some(c) => format!("{}/{}", c[2], r.failures - r.bounced - r.conn_errors),
                None => format!("-/{}", r.bounced),
            };
            println!(
                "{:>9.0} {:>9.0} {:>9.0} {:>9} {:>9} {:>7} {:>13} {:>7} {:>7} {:>7} {:>7} {:>7} {:>6.0} {:>6.0} {:>8.1} {:>8.1}  {}",
                r.offered,
                r.sent_rate(),
                r.delivered_rate(),
                r.sent,
                r.delivered,
                r.missing,
                resp,
                ms(0),
                ms(1),
                ms(2),
                ms(3),
                ms(4),
                r.gw_cpu,
                r.load_cpu,
                r.gw_rss_kib as f64 / 1024.0,
                r.gw_pss_kib as f64 / 1024.0,
                if r.ok {
                    "yes".to_string()
                } else {
                    format!("no: {}", r.why_not.join("; "))
                }
            );
            if r.missing > 0 {
                println!(
                    "          missing sequence numbers (first {}): {:?}",
                    r.first_missing.len(),
                    r.first_missing
                );
            }
        }
        self.rows.push(r);
    }

    pub fn finish(&self, stepping: bool, best: Option<f64>, stray: u64) {
        if self.json {
            println!(
                "{}",
                json!({"label": self.label, "summary": true, "stepping": stepping, "highest_sustained_rate": best, "stray_deliveries": stray})
            );
        } else {
            if stray > 0 {
                println!(
                    "[{}] {stray} deliveries belonged to no run (late from a previous step, or unreadable)",
                    self.label
                );
            }
            if stepping {
                match best {
                    Some(b) => {
                        println!("[{}] highest sustained rate: {b:.0} messages/s", self.label)
                    }
                    None => println!("[{}] no step was sustained", self.label),
                }
            }
        }
    }
}
