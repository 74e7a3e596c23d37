//! `parley-load`: a load generator and sinks for SIP (RFC 3261/3428) ⇄ XMPP (RFC 6120, XEP-0114)
//! gateways — parley, or Kamailio's xmpp module — run on loopback. It sends stamped messages on
//! one side, receives them on the other and reports rates, losses, latency percentiles and the
//! CPU and memory of the processes involved. Not part of the daemon.

mod idle;
mod report;
mod sip;
mod stats;
mod tls;
mod xmpp;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand, ValueEnum};

use report::{Criteria, Report};
use stats::{ProcSample, Registry};

/// The daemon's allocator: the generator and sinks share the cores with the gateway under
/// test, so they should cost as little as it does.
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Longest send phase of one run (or step).
const MAX_DURATION_S: f64 = 60.0;
/// Most connections one invocation opens.
const MAX_CONNS: usize = 20_000;
/// Largest per-connection window.
const MAX_WINDOW: usize = 65_536;

#[derive(Parser)]
#[command(
    args_override_self = true,
    name = "parley-load",
    version,
    about = "Load generator and sinks for SIP ⇄ XMPP gateways (loopback only)"
)]
struct Cli {
    /// Worker threads of the generator and sinks; by default 1 for `sip-to-xmpp`, 2 otherwise.
    /// On a small machine shared with the gateway, the SIP generator and the XMPP sink, which
    /// only reads, cost less on one thread and leave the gateway more CPU. The SIP sink of
    /// `xmpp-to-sip` answers every MESSAGE; there, runs on 2 cores carried more with two
    /// threads. The report's ldCPU% shows when the tool nears its cores.
    #[arg(long, global = true, value_parser = clap::value_parser!(u16).range(1..=64))]
    threads: Option<u16>,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Write a test PKI (sip.test, xmpp.test) and a parley.toml for a load run into DIR.
    Setup {
        #[arg(long)]
        dir: PathBuf,
        /// parley's SIP TLS port; its XMPP port, the XMPP sink, the SIP sink and the admin
        /// server follow at +1..+4.
        #[arg(long, default_value_t = 15061)]
        base_port: u16,
        #[arg(long, default_value = "warn")]
        log_level: String,
        /// Keep parley's audit log on (a line per message, written to DIR/state/audit).
        #[arg(long)]
        audit: bool,
        /// parley's `sip.bounce_window_ms` (how long a relayed MESSAGE waits for an XMPP bounce
        /// before its 202); default: parley's own.
        #[arg(long)]
        bounce_window_ms: Option<u64>,
    },
    /// SIP MESSAGE into the gateway, counted as XMPP `<message>` at the sink.
    SipToXmpp {
        #[command(flatten)]
        load: Load,
        /// SIP transport to the gateway.
        #[arg(long, value_enum, default_value_t = Transport::Tls)]
        transport: Transport,
        /// What the XMPP sink speaks: s2s (STARTTLS + SASL EXTERNAL) or XEP-0114 component accept.
        #[arg(long, value_enum, default_value_t = SinkKind::S2s)]
        sink_kind: SinkKind,
        /// XEP-0114 shared secret (component sink).
        #[arg(long, default_value = "secret")]
        component_secret: String,
    },
    /// XMPP `<message>` into the gateway over authenticated s2s, counted as SIP MESSAGE at the sink.
    XmppToSip {
        #[command(flatten)]
        load: Load,
    },
    /// Hold N idle TLS connections to the gateway's SIP listener; report its RSS per connection.
    IdleTls {
        #[command(flatten)]
        who: Who,
        /// The gateway's SIP TLS address.
        #[arg(long)]
        target: SocketAddr,
        #[arg(long, default_value_t = 1000)]
        conns: usize,
        /// Seconds to hold them open after the last handshake (RSS is read at the end).
        #[arg(long, default_value_t = 2.0)]
        hold: f64,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Transport {
    Tls,
    Tcp,
}

#[derive(Clone, Copy, ValueEnum)]
enum SinkKind {
    S2s,
    Component,
}

/// The TLS material and the processes measured.
#[derive(Args)]
struct Who {
    /// Directory with ca.crt and DOMAIN.crt/.key (see `setup`).
    #[arg(long)]
    pki: PathBuf,
    /// The SIP-side domain (certificate of the SIP generator and the SIP sink).
    #[arg(long, default_value = "sip.test")]
    sip_domain: String,
    /// The XMPP-side domain (certificate of the XMPP source and the XMPP sink).
    #[arg(long, default_value = "xmpp.test")]
    xmpp_domain: String,
    /// Gateway process(es) to measure; default: the processes holding the --target listening
    /// socket, and their children.
    #[arg(long)]
    pid: Vec<u32>,
    /// Measure every process with this command name instead.
    #[arg(long)]
    proc_name: Option<String>,
    /// Machine-readable report.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct Load {
    #[command(flatten)]
    who: Who,
    /// The gateway's address (SIP listener for sip-to-xmpp, XMPP s2s listener for xmpp-to-sip).
    #[arg(long)]
    target: SocketAddr,
    /// Where the sink listens (the gateway's next hop for the receiving domain).
    #[arg(long)]
    sink: SocketAddr,
    /// xmpp-to-sip: also listen here as the XMPP-side domain's server (the gateway's next hop
    /// for it), so that errors the gateway bounces back count as failures.
    #[arg(long)]
    bounce_sink: Option<SocketAddr>,
    /// TLS server name to ask the gateway for; default: the receiving domain.
    #[arg(long)]
    server_name: Option<String>,
    /// Recipient (`user@host`); default juliet@XMPP-DOMAIN or bob@SIP-DOMAIN.
    #[arg(long)]
    to: Option<String>,
    /// Sender (`user@host`); default alice@SIP-DOMAIN or romeo@XMPP-DOMAIN/load.
    #[arg(long)]
    from: Option<String>,
    /// Connections to the gateway.
    #[arg(long, default_value_t = 4)]
    conns: usize,
    /// Unanswered requests allowed per SIP connection.
    #[arg(long, default_value_t = 64)]
    window: usize,
    /// Offered messages per second in all (0: as fast as the gateway accepts).
    #[arg(long, default_value_t = 1000.0)]
    rate: f64,
    /// Step the rate START:STOP:FACTOR until the gateway stops keeping up.
    #[arg(long)]
    step: Option<String>,
    /// Seconds of sending per run or step (at most 60).
    #[arg(long, default_value_t = 5.0)]
    duration: f64,
    /// Seconds to wait after sending for the last deliveries and responses.
    #[arg(long, default_value_t = 5.0)]
    drain: f64,
    /// Step criterion: highest p99 (ms) a sustained rate may have.
    #[arg(long, default_value_t = 100.0)]
    max_p99_ms: f64,
    /// Before sending, wait up to this many seconds for the gateway to open its stream to the
    /// sink (a component connects at start; parley connects on the first message).
    #[arg(long, default_value_t = 0.0)]
    wait_sink: f64,
    /// Seconds of warm-up at 200/s before the first step (not reported): the gateway opens its
    /// connections to the sink on the first message.
    #[arg(long, default_value_t = 1.0)]
    warmup: f64,
    /// Label for the report (e.g. the system under test).
    #[arg(long, default_value = "gateway")]
    label: String,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let threads = cli.threads.unwrap_or(match cli.cmd {
        Cmd::SipToXmpp { .. } => 1,
        _ => 2,
    });
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(usize::from(threads))
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("parley-load: runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match rt.block_on(run(cli)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("parley-load: {e}");
            ExitCode::from(2)
        }
    }
}

/// Raise the open-files limit to the hard limit; returns (soft, hard) after.
fn raise_nofile() -> (u64, u64) {
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    rlimit::Resource::NOFILE.get().unwrap_or((0, 0))
}

fn loopback(addr: SocketAddr, what: &str) -> Result<(), String> {
    if addr.ip().is_loopback() {
        Ok(())
    } else {
        Err(format!(
            "{what} {addr} is not a loopback address (the tool runs on loopback only)"
        ))
    }
}

fn pids(who: &Who, target: SocketAddr) -> Vec<u32> {
    match (&who.pid[..], &who.proc_name) {
        ([], Some(name)) => stats::pids_named(name),
        ([], None) => stats::pids_listening(target),
        (given, _) => given.to_vec(),
    }
}

async fn run(cli: Cli) -> Result<bool, String> {
    stats::epoch();
    match cli.cmd {
        Cmd::Setup {
            dir,
            base_port,
            log_level,
            audit,
            bounce_window_ms,
        } => {
            let dir = std::path::absolute(&dir).map_err(|e| e.to_string())?;
            tls::Pki::generate(&dir, &["sip.test", "xmpp.test"])?;
            let plan = tls::Plan::new(base_port);
            let path = dir.join("parley.toml");
            std::fs::write(
                &path,
                tls::parley_config(&dir, &plan, &log_level, audit, bounce_window_ms),
            )
            .map_err(|e| format!("{path:?}: {e}"))?;
            println!("config={}", path.display());
            println!("sip_tls=127.0.0.1:{}", plan.sip_tls);
            println!("xmpp=127.0.0.1:{}", plan.xmpp);
            println!("xmpp_sink=127.0.0.1:{}", plan.xmpp_sink);
            println!("sip_sink=127.0.0.1:{}", plan.sip_sink);
            println!("admin=127.0.0.1:{}", plan.admin);
            Ok(true)
        }
        Cmd::IdleTls {
            who,
            target,
            conns,
            hold,
        } => idle_tls(who, target, conns, hold).await,
        Cmd::SipToXmpp {
            load,
            transport,
            sink_kind,
            component_secret,
        } => {
            let pki = tls::Pki {
                dir: load.who.pki.clone(),
            };
            let reg = Registry::new();
            let kind = match sink_kind {
                SinkKind::S2s => xmpp::SinkKind::S2s {
                    domain: load.who.xmpp_domain.clone(),
                    acceptor: pki.server(&load.who.xmpp_domain)?,
                },
                SinkKind::Component => xmpp::SinkKind::Component {
                    secret: component_secret,
                },
            };
            loopback(load.sink, "--sink")?;
            loopback(load.target, "--target")?;
            xmpp::sink(load.sink, kind, reg.clone()).await?;
            let target = sip::Target {
                addr: load.target,
                tls: match transport {
                    Transport::Tls => Some((
                        pki.client(&load.who.sip_domain)?,
                        load.server_name
                            .clone()
                            .unwrap_or(load.who.xmpp_domain.clone()),
                    )),
                    Transport::Tcp => None,
                },
                to: load
                    .to
                    .clone()
                    .unwrap_or(format!("juliet@{}", load.who.xmpp_domain)),
                from: load
                    .from
                    .clone()
                    .unwrap_or(format!("alice@{}", load.who.sip_domain)),
            };
            let desc = format!(
                "sip-to-xmpp: SIP MESSAGE over {} to {} ({} conns, window {}), XMPP sink ({}) on {}",
                if target.tls.is_some() { "TLS" } else { "TCP" },
                load.target,
                load.conns,
                load.window,
                match sink_kind {
                    SinkKind::S2s => "s2s STARTTLS + SASL EXTERNAL",
                    SinkKind::Component => "XEP-0114 component accept",
                },
                load.sink
            );
            let mut sender = Gen::Sip {
                target: Arc::new(target),
                conns: Vec::new(),
            };
            steps(&load, &reg, &mut sender, &desc).await
        }
        Cmd::XmppToSip { load } => {
            let pki = tls::Pki {
                dir: load.who.pki.clone(),
            };
            let reg = Registry::new();
            loopback(load.sink, "--sink")?;
            loopback(load.target, "--target")?;
            sip::sink(
                load.sink,
                Some(pki.server(&load.who.sip_domain)?),
                reg.clone(),
            )
            .await?;
            if let Some(at) = load.bounce_sink {
                loopback(at, "--bounce-sink")?;
                let kind = xmpp::SinkKind::S2s {
                    domain: load.who.xmpp_domain.clone(),
                    acceptor: pki.server(&load.who.xmpp_domain)?,
                };
                xmpp::sink(at, kind, reg.clone()).await?;
            }
            let src = xmpp::Source {
                addr: load.target,
                connector: pki.client(&load.who.xmpp_domain)?,
                from_domain: load.who.xmpp_domain.clone(),
                to_domain: load
                    .server_name
                    .clone()
                    .unwrap_or(load.who.sip_domain.clone()),
                from: load
                    .from
                    .clone()
                    .unwrap_or(format!("romeo@{}/load", load.who.xmpp_domain)),
                to: load
                    .to
                    .clone()
                    .unwrap_or(format!("bob@{}", load.who.sip_domain)),
            };
            let desc = format!(
                "xmpp-to-sip: XMPP s2s (STARTTLS + SASL EXTERNAL) to {} ({} conns), SIP sink (TLS, answers 200) on {}",
                load.target, load.conns, load.sink
            );
            let mut sender = Gen::Xmpp {
                src: Arc::new(src),
                conns: Vec::new(),
            };
            steps(&load, &reg, &mut sender, &desc).await
        }
    }
}

/// The sending side, its connections kept across steps.
enum Gen {
    Sip {
        target: Arc<sip::Target>,
        conns: Vec<sip::Conn>,
    },
    Xmpp {
        src: Arc<xmpp::Source>,
        conns: Vec<xmpp::SourceConn>,
    },
}

impl Gen {
    /// Bring the connections up to `n` (dead ones are dropped by the drivers' callers).
    async fn fill(&mut self, n: usize, window: usize, reg: &Arc<Registry>) -> Result<(), String> {
        match self {
            Gen::Sip { target, conns } => {
                conns.retain(sip::Conn::is_alive);
                let more = n.saturating_sub(conns.len());
                conns.extend(sip::connect(target, more, window, reg.clone()).await?);
            }
            Gen::Xmpp { src, conns } => {
                conns.retain(xmpp::SourceConn::is_alive);
                while conns.len() < n {
                    conns.push(xmpp::source_connect(src).await?);
                }
            }
        }
        Ok(())
    }

    /// Send for `dur` at `rate` in all, spread over the connections.
    async fn drive(&mut self, run: &Arc<stats::Run>, rate: f64, dur: Duration) {
        match self {
            Gen::Sip { target, conns } => {
                let per = rate / conns.len().max(1) as f64;
                let tasks: Vec<_> = conns
                    .drain(..)
                    .map(|c| tokio::spawn(sip::drive(c, target.clone(), run.clone(), per, dur)))
                    .collect();
                for t in tasks {
                    if let Ok(c) = t.await {
                        conns.push(c);
                    }
                }
            }
            Gen::Xmpp { src, conns } => {
                let per = rate / conns.len().max(1) as f64;
                let tasks: Vec<_> = conns
                    .drain(..)
                    .map(|c| {
                        tokio::spawn(xmpp::source_drive(c, src.clone(), run.clone(), per, dur))
                    })
                    .collect();
                for t in tasks {
                    if let Ok(c) = t.await {
                        conns.push(c);
                    }
                }
            }
        }
    }

    /// Requests still awaiting a response.
    fn in_flight(&self, window: usize) -> usize {
        match self {
            Gen::Sip { conns, .. } => sip::in_flight(conns, window),
            Gen::Xmpp { .. } => 0,
        }
    }

    fn expects_responses(&self) -> bool {
        matches!(self, Gen::Sip { .. })
    }
}

/// Parse `START:STOP:FACTOR`.
fn parse_step(s: &str) -> Result<(f64, f64, f64), String> {
    let v: Vec<f64> = s
        .split(':')
        .map(|p| {
            p.parse::<f64>()
                .map_err(|_| format!("--step {s:?}: not START:STOP:FACTOR"))
        })
        .collect::<Result<_, _>>()?;
    match v[..] {
        [a, b, f] if a > 0.0 && b >= a && f > 1.0 => Ok((a, b, f)),
        _ => Err(format!(
            "--step {s:?}: need 0 < START <= STOP and FACTOR > 1"
        )),
    }
}

/// One run, or the steps, with their reports.
async fn steps(
    load: &Load,
    reg: &Arc<Registry>,
    sender: &mut Gen,
    desc: &str,
) -> Result<bool, String> {
    if !(load.duration > 0.0 && load.duration <= MAX_DURATION_S) {
        return Err(format!(
            "--duration must be in (0, {MAX_DURATION_S}] seconds"
        ));
    }
    if load.conns == 0 || load.conns > MAX_CONNS || load.window == 0 || load.window > MAX_WINDOW {
        return Err(format!(
            "--conns in 1..={MAX_CONNS}, --window in 1..={MAX_WINDOW}"
        ));
    }
    let drain = Duration::from_secs_f64(load.drain.clamp(0.0, 60.0));
    let (soft, hard) = raise_nofile();
    let rates: Vec<f64> = match &load.step {
        Some(s) => {
            let (a, b, f) = parse_step(s)?;
            let mut v = vec![a];
            while v.len() < stats::MAX_RUNS - 1 && v[v.len() - 1] * f <= b * 1.000_001 {
                v.push((v[v.len() - 1] * f).round());
            }
            v
        }
        None => vec![load.rate.max(0.0)],
    };
    let wait = Instant::now() + Duration::from_secs_f64(load.wait_sink.clamp(0.0, 60.0));
    while Instant::now() < wait && reg.sink_streams.load(std::sync::atomic::Ordering::Relaxed) == 0
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    if load.wait_sink > 0.0 && reg.sink_streams.load(std::sync::atomic::Ordering::Relaxed) == 0 {
        return Err(format!(
            "the gateway opened no stream to the sink within {} s",
            load.wait_sink
        ));
    }
    if load.warmup > 0.0 {
        sender.fill(load.conns, load.window, reg).await?;
        let warm = Duration::from_secs_f64(load.warmup.min(10.0));
        let run = reg.open((stats::MAX_RUNS - 1) as u32, 4096);
        sender.drive(&run, 200.0, warm).await;
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline
            && (run.delivered() < run.sent.load(std::sync::atomic::Ordering::Relaxed)
                || sender.in_flight(load.window) > 0)
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let pids = pids(&load.who, load.target);
    let criteria = Criteria {
        max_p99_us: (load.max_p99_ms * 1000.0) as u64,
    };
    let mut out = report::Out::new(load.who.json, &load.label, desc, &pids, soft, hard);
    let mut best: Option<f64> = None;
    let mut all_ok = true;
    for (i, &rate) in rates.iter().enumerate() {
        sender.fill(load.conns, load.window, reg).await?;
        let dur = Duration::from_secs_f64(load.duration);
        // Room for the offered count, or for 1 M/s when sending as fast as possible.
        let capacity = (rate.max(1_000_000.0) * load.duration * 1.1) as u64 + 4096;
        let run = reg.open(i as u32, capacity);
        let (gw0, me0) = (
            ProcSample::read(&pids),
            ProcSample::read(&[std::process::id()]),
        );
        let t0 = Instant::now();
        sender.drive(&run, rate, dur).await;
        let send_time = t0.elapsed();
        let sent = run.sent.load(std::sync::atomic::Ordering::Relaxed);
        let deadline = Instant::now() + drain;
        while Instant::now() < deadline
            && (run.settled() < sent || sender.in_flight(load.window) > 0)
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let wall = t0.elapsed();
        let (gw1, me1) = (
            ProcSample::read(&pids),
            ProcSample::read(&[std::process::id()]),
        );
        let r = Report::of(
            &run,
            rate,
            load.duration,
            send_time,
            wall,
            (gw0, gw1),
            (me0, me1),
            sender.expects_responses(),
            &criteria,
        );
        let ok = r.ok;
        if ok {
            best = Some(rate);
        }
        all_ok &= ok;
        out.row(r);
        if load.step.is_some() && !ok {
            break;
        }
    }
    out.finish(
        load.step.is_some(),
        best,
        reg.stray.load(std::sync::atomic::Ordering::Relaxed),
    );
    Ok(if load.step.is_some() {
        best.is_some()
    } else {
        all_ok
    })
}

async fn idle_tls(who: Who, target: SocketAddr, conns: usize, hold: f64) -> Result<bool, String> {
    loopback(target, "--target")?;
    let (soft, hard) = raise_nofile();
    let budget = (soft as usize).saturating_sub(64);
    if conns == 0 || conns > MAX_CONNS || conns > budget {
        return Err(format!(
            "--conns must be in 1..={} (RLIMIT_NOFILE raised to {soft} of hard {hard})",
            MAX_CONNS.min(budget)
        ));
    }
    let pids = pids(&who, target);
    let pki = tls::Pki {
        dir: who.pki.clone(),
    };
    let connector = pki.client(&who.sip_domain)?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = ProcSample::read(&pids);
    let t0 = Instant::now();
    let (held, errors) = idle::open(target, connector, &who.xmpp_domain, conns).await;
    let opened = t0.elapsed();
    tokio::time::sleep(Duration::from_secs_f64(hold.clamp(0.0, 600.0))).await;
    let after = ProcSample::read(&pids);
    let n = held.len();
    let per_kib = after.rss_kib.saturating_sub(before.rss_kib) as f64 / n.max(1) as f64;
    let ok = errors.is_empty() && !pids.is_empty();
    if who.json {
        let v = serde_json::json!({
            "mode": "idle-tls",
            "target": target.to_string(),
            "pids": pids,
            "nofile": {"soft": soft, "hard": hard},
            "requested": conns,
            "open": n,
            "errors": errors.len(),
            "first_errors": errors.iter().take(5).collect::<Vec<_>>(),
            "open_seconds": opened.as_secs_f64(),
            "rss_before_kib": before.rss_kib,
            "rss_after_kib": after.rss_kib,
            "rss_per_conn_kib": per_kib,
        });
        println!("{v}");
    } else {
        println!(
            "idle-tls to {target}: RLIMIT_NOFILE raised to {soft} (hard {hard}); gateway pids {pids:?}"
        );
        println!(
            "  connections open     {n} of {conns} ({} failed) in {:.2} s",
            errors.len(),
            opened.as_secs_f64()
        );
        for e in errors.iter().take(5) {
            println!("  error: {e}");
        }
        println!("  gateway RSS before   {} KiB", before.rss_kib);
        println!(
            "  gateway RSS after    {} KiB (held {hold} s)",
            after.rss_kib
        );
        println!("  RSS per connection   {per_kib:.1} KiB");
    }
    drop(held);
    Ok(ok)
}
