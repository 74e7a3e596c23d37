//! What one load run counted: messages sent, responses by class, deliveries by sequence number
//! (each seen once), send→delivery latency, and the CPU and memory of the processes involved.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

/// Runs (steps) one invocation can hold; a delivery names its run in the body.
pub const MAX_RUNS: usize = 64;
/// Latencies above this (µs) are clamped into the top bucket.
const MAX_LATENCY_US: u64 = 600_000_000;

/// The process-wide clock the bodies' timestamps count from.
pub fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// Microseconds since [`epoch`].
pub fn now_us() -> u64 {
    epoch().elapsed().as_micros() as u64
}

/// The body of message `seq` of run `run`, stamped now: `plr RUN SEQ MICROS`.
pub fn body(run: u32, seq: u64, out: &mut String) {
    use std::fmt::Write;
    out.clear();
    let _ = write!(out, "plr {run} {seq} {}", now_us());
}

/// Reads `plr RUN SEQ MICROS` anywhere in `text`.
pub fn parse_body(text: &[u8]) -> Option<(u32, u64, u64)> {
    let at = text.windows(4).position(|w| w == b"plr ")?;
    let rest = std::str::from_utf8(&text[at + 4..(at + 64).min(text.len())]).ok()?;
    let mut it = rest
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty());
    Some((
        it.next()?.parse().ok()?,
        it.next()?.parse().ok()?,
        it.next()?.parse().ok()?,
    ))
}

/// The runs of this invocation, found by number without a lock.
pub struct Registry {
    runs: Vec<OnceLock<Arc<Run>>>,
    /// Deliveries naming no known run, or unreadable.
    pub stray: AtomicU64,
    /// Sink streams that finished their negotiation (the gateway can deliver).
    pub sink_streams: AtomicU64,
}

impl Registry {
    pub fn new() -> Arc<Registry> {
        Arc::new(Registry {
            runs: (0..MAX_RUNS).map(|_| OnceLock::new()).collect(),
            stray: AtomicU64::new(0),
            sink_streams: AtomicU64::new(0),
        })
    }

    /// Register run `id` able to number `capacity` messages.
    pub fn open(&self, id: u32, capacity: u64) -> Arc<Run> {
        let run = Arc::new(Run::new(id, capacity));
        let _ = self.runs[id as usize].set(run.clone());
        run
    }

    /// Run `id`, when open.
    pub fn get(&self, id: u32) -> Option<&Arc<Run>> {
        self.runs.get(id as usize)?.get()
    }

    /// A delivery read by a sink: its body text.
    pub fn delivered(&self, text: &[u8], lat: &mut Vec<(u32, u64)>) {
        let now = now_us();
        match parse_body(text) {
            Some((run, seq, sent_us)) if (run as usize) < MAX_RUNS => {
                match self.runs[run as usize].get() {
                    Some(r) if r.mark(seq) => lat.push((run, now.saturating_sub(sent_us))),
                    Some(_) => {}
                    None => {
                        self.stray.fetch_add(1, Relaxed);
                    }
                }
            }
            _ => {
                self.stray.fetch_add(1, Relaxed);
            }
        }
    }

    /// Move the latencies a sink collected into their runs' histograms.
    pub fn flush(&self, lat: &mut Vec<(u32, u64)>) {
        if lat.is_empty() {
            return;
        }
        let mut last: Option<(u32, std::sync::MutexGuard<'_, Histogram<u64>>)> = None;
        for (run, us) in lat.drain(..) {
            if last.as_ref().is_none_or(|(r, _)| *r != run) {
                last = None;
                if let Some(r) = self.runs[run as usize].get() {
                    last = Some((run, r.latency.lock().unwrap()));
                }
            }
            if let Some((_, h)) = last.as_mut() {
                h.saturating_record(us.clamp(1, MAX_LATENCY_US));
            }
        }
    }

    /// A failure a sink saw (an XMPP error stanza bounced back by the gateway).
    pub fn bounced(&self, text: &[u8]) {
        match parse_body(text).and_then(|(run, _, _)| self.runs.get(run as usize)?.get()) {
            Some(r) => {
                r.bounced.fetch_add(1, Relaxed);
            }
            None => {
                self.stray.fetch_add(1, Relaxed);
            }
        }
    }
}

/// The counters of one run.
pub struct Run {
    pub id: u32,
    capacity: u64,
    next: AtomicU64,
    pub sent: AtomicU64,
    delivered: AtomicU64,
    pub duplicates: AtomicU64,
    pub bounced: AtomicU64,
    /// Responses by class: index 1..=6 for 1xx..6xx, 0 for unreadable.
    pub responses: [AtomicU64; 7],
    /// Connections lost or refused.
    pub conn_errors: AtomicU64,
    seen: Vec<AtomicU64>,
    latency: Mutex<Histogram<u64>>,
}

impl Run {
    fn new(id: u32, capacity: u64) -> Run {
        Run {
            id,
            capacity,
            next: AtomicU64::new(0),
            sent: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
            duplicates: AtomicU64::new(0),
            bounced: AtomicU64::new(0),
            responses: Default::default(),
            conn_errors: AtomicU64::new(0),
            seen: (0..capacity.div_ceil(64))
                .map(|_| AtomicU64::new(0))
                .collect(),
            latency: Mutex::new(Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).unwrap()),
        }
    }

    /// Up to `n` fresh sequence numbers (fewer, or none, when the run's capacity is used up).
    pub fn take(&self, n: u64) -> std::ops::Range<u64> {
        let start = self.next.fetch_add(n, Relaxed).min(self.capacity);
        start..(start + n).min(self.capacity)
    }

    /// Record delivery of `seq`; false for a duplicate or an unknown number.
    fn mark(&self, seq: u64) -> bool {
        if seq >= self.capacity {
            return false;
        }
        let bit = 1u64 << (seq % 64);
        let old = self.seen[(seq / 64) as usize].fetch_or(bit, Relaxed);
        if old & bit != 0 {
            self.duplicates.fetch_add(1, Relaxed);
            return false;
        }
        self.delivered.fetch_add(1, Relaxed);
        true
    }

    pub fn delivered(&self) -> u64 {
        self.delivered.load(Relaxed)
    }

    /// Messages whose fate is known: delivered, bounced, or refused with an error response
    /// (those will not be delivered, so the drain need not wait for them).
    pub fn settled(&self) -> u64 {
        let refused: u64 = [0, 3, 4, 5, 6]
            .iter()
            .map(|&c| self.responses[c].load(Relaxed))
            .sum();
        self.delivered() + self.bounced.load(Relaxed) + refused
    }

    /// Response count of class `c` (1..=6), 0 for unreadable.
    pub fn response(&self, status: Option<u16>) {
        let class = status
            .map(|s| (s / 100) as usize)
            .filter(|c| (1..=6).contains(c));
        self.responses[class.unwrap_or(0)].fetch_add(1, Relaxed);
    }

    /// Sequence numbers sent but not delivered (at most `limit`), and how many in all.
    pub fn missing(&self, limit: usize) -> (Vec<u64>, u64) {
        let sent = self.sent.load(Relaxed).min(self.capacity);
        let mut list = Vec::new();
        let mut count = 0;
        for seq in 0..sent {
            if self.seen[(seq / 64) as usize].load(Relaxed) & (1 << (seq % 64)) == 0 {
                count += 1;
                if list.len() < limit {
                    list.push(seq);
                }
            }
        }
        (list, count)
    }

    /// Latency quantile in µs.
    pub fn quantile_us(&self, q: f64) -> Option<u64> {
        let h = self.latency.lock().unwrap();
        (!h.is_empty()).then(|| h.value_at_quantile(q))
    }

    pub fn max_us(&self) -> Option<u64> {
        let h = self.latency.lock().unwrap();
        (!h.is_empty()).then(|| h.max())
    }
}

/// CPU ticks and RSS of a set of processes, read from /proc.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcSample {
    /// user + system time, in clock ticks (USER_HZ, 100 on Linux).
    pub ticks: u64,
    /// Resident set size in KiB (summed over the processes: shared pages count once each).
    pub rss_kib: u64,
    /// Proportional set size in KiB (shared pages divided among their sharers).
    pub pss_kib: u64,
}

/// Linux reports /proc CPU times in USER_HZ, which is 100 on every Linux ABI.
const USER_HZ: f64 = 100.0;

impl ProcSample {
    pub fn read(pids: &[u32]) -> ProcSample {
        let mut s = ProcSample::default();
        for pid in pids {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            // Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
            if let Some(rest) = stat.rfind(')').map(|i| &stat[i + 2..]) {
                let f: Vec<&str> = rest.split_whitespace().collect();
                let n = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
                s.ticks += n(11) + n(12);
            }
            let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
            s.rss_kib += status
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
                .unwrap_or(0);
            let rollup =
                std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap_or_default();
            s.pss_kib += rollup
                .lines()
                .find_map(|l| l.strip_prefix("Pss:"))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
                .unwrap_or(0);
        }
        s
    }

    /// CPU use between two samples, as a percentage of one core.
    pub fn cpu_percent(before: ProcSample, after: ProcSample, elapsed: Duration) -> f64 {
        let secs = elapsed.as_secs_f64().max(1e-3);
        after.ticks.saturating_sub(before.ticks) as f64 / USER_HZ / secs * 100.0
    }
}

/// Pids of every process whose command name (`/proc/PID/comm`) is `name`.
pub fn pids_named(name: &str) -> Vec<u32> {
    let mut out = Vec::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for e in dir.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            if comm.trim_end() == name {
                out.push(pid);
            }
        }
    }
    out.sort_unstable();
    out
}

/// The processes serving `addr`: every process holding the listening socket bound to it, taken
/// up to its topmost ancestor of the same name, and all their descendants (a forking server
/// such as Kamailio has many). Empty when not found.
pub fn pids_listening(addr: std::net::SocketAddr) -> Vec<u32> {
    let inodes = listening_inodes(addr);
    if inodes.is_empty() {
        return Vec::new();
    }
    let mut all: Vec<(u32, u32)> = Vec::new(); // (pid, ppid)
    let mut holders = Vec::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for e in dir.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let ppid = stat
                .rfind(')')
                .and_then(|i| stat[i + 2..].split_whitespace().nth(1)?.parse().ok())
                .unwrap_or(0);
            all.push((pid, ppid));
            let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
                continue;
            };
            let holds = fds.flatten().any(|fd| {
                std::fs::read_link(fd.path()).ok().is_some_and(|l| {
                    let l = l.to_string_lossy();
                    inodes.iter().any(|i| l == format!("socket:[{i}]"))
                })
            });
            if holds {
                holders.push(pid);
            }
        }
    }
    // Up to the topmost ancestor with the same command name (a forking server's main process).
    let comm = |pid: u32| std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
    let mut out: Vec<u32> = Vec::new();
    for h in holders {
        let mut top = h;
        while let Some(&(_, ppid)) = all.iter().find(|(p, _)| *p == top) {
            if ppid <= 1 || comm(ppid) != comm(top) {
                break;
            }
            top = ppid;
        }
        if !out.contains(&top) {
            out.push(top);
        }
    }
    let mut i = 0;
    while i < out.len() {
        let parent = out[i];
        for &(pid, ppid) in &all {
            if ppid == parent && !out.contains(&pid) {
                out.push(pid);
            }
        }
        i += 1;
    }
    out.sort_unstable();
    out
}

/// Inodes of listening TCP sockets bound to `addr` (or to the wildcard on its port).
fn listening_inodes(addr: std::net::SocketAddr) -> Vec<u64> {
    let mut out = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let text = std::fs::read_to_string(table).unwrap_or_default();
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 10 || f[3] != "0A" {
                continue;
            }
            let Some((ip_hex, port_hex)) = f[1].split_once(':') else {
                continue;
            };
            if u16::from_str_radix(port_hex, 16).ok() != Some(addr.port()) {
                continue;
            }
            let ip_ok = match (addr.ip(), ip_hex.len()) {
                (std::net::IpAddr::V4(v4), 8) => u32::from_str_radix(ip_hex, 16)
                    .is_ok_and(|h| h == 0 || h.swap_bytes() == u32::from(v4)),
                (std::net::IpAddr::V6(_), 32) => true,
                _ => ip_hex.chars().all(|c| c == '0'),
            };
            if ip_ok && let Ok(inode) = f[9].parse() {
                out.push(inode);
            }
        }
    }
    out
}
