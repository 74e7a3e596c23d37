//! `parley replay`: SIP and XMPP traffic from pcap/pcapng captures, through parley's codecs and
//! bridge (issue 10).
//!
//! Data flow, each step its own module:
//! 1. [`capture`] reads pcap or pcapng files (several interfaces, each with its link type and
//!    timestamp resolution) and yields packets in file order;
//! 2. [`link`] decodes Ethernet / Linux cooked (SLL, SLL2) / raw IP / BSD loopback, IPv4/IPv6,
//!    TCP/UDP;
//! 3. [`flows`] tracks connections, reassembles TCP per direction ([`tcp`]: out-of-order,
//!    retransmitted and overlapping segments; gaps reported; bounded store), classifies each
//!    stream (TLS, configured ports, content) and splits it into messages with parley's own
//!    framers ([`split`]);
//! 4. a sink uses them: [`translate`] prints JSON lines (the bridge is called in one place,
//!    [`bridge_call`]), [`check`] diffs them against a golden file, [`send`] replays one side to
//!    a live target;
//! 5. [`summary`] ends every run: messages per protocol and type, parse failures with their
//!    reasons, refusals, TLS streams, streams with gaps.
//!
//! The CLI calls [`run`] with a [`ReplayOptions`] and an output; the return value is the
//! process exit status ([`EXIT_OK`], [`EXIT_DIFFERENCES`], …).

mod bridge_call;
mod capture;
mod check;
mod flows;
mod link;
mod progress;
mod send;
mod send_io;
mod split;
mod summary;
pub mod synth;
mod tcp;
mod translate;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_send;

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

pub use capture::CaptureError;
pub use flows::Proto;
pub use send::SendReport;
pub use summary::Summary;

use flows::{Engine, EngineConfig, Sink};

/// Success.
pub const EXIT_OK: u8 = 0;
/// `--check` found differences, or `--send` had failures.
pub const EXIT_DIFFERENCES: u8 = 1;
/// A capture is not a pcap/pcapng file or is malformed (sysexits EX_DATAERR).
pub const EXIT_DATAERR: u8 = 65;
/// A capture or the golden file cannot be opened (sysexits EX_NOINPUT).
pub const EXIT_NOINPUT: u8 = 66;
/// The `--send` target cannot be reached (sysexits EX_UNAVAILABLE).
pub const EXIT_UNAVAILABLE: u8 = 69;
/// Writing the output failed (sysexits EX_IOERR).
pub const EXIT_IOERR: u8 = 74;

/// SIP ports recognised by default.
pub const DEFAULT_SIP_PORTS: [u16; 2] = [5060, 5062];
/// XMPP ports recognised by default.
pub const DEFAULT_XMPP_PORTS: [u16; 2] = [5222, 5269];

/// What to do with the captured messages.
#[derive(Debug, Clone)]
pub enum Mode {
    /// Print canonical events and translations as JSON lines (the default).
    Translate,
    /// Compare the translation with a golden file; differences exit non-zero.
    Check {
        /// The golden JSON-lines file.
        golden: PathBuf,
    },
    /// Replay one side to a live target.
    Send(SendOptions),
}

/// Transport of `--send`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendTransport {
    /// One datagram per SIP message.
    Udp,
    /// One TCP connection.
    Tcp,
    /// One direct-TLS connection.
    Tls {
        /// Name to verify the target's certificate against.
        server_name: String,
        /// PEM file of the CA to trust.
        ca_file: PathBuf,
        /// Client certificate chain and key (PEM), for targets that require mutual TLS
        /// (parley's SIP listener does, RFC 5922).
        client_cert: Option<(PathBuf, PathBuf)>,
    },
}

/// Options of `--send`.
#[derive(Debug, Clone)]
pub struct SendOptions {
    /// Where to send.
    pub target: SocketAddr,
    /// How.
    pub transport: SendTransport,
    /// Which protocol's messages to send (by default the first one found).
    pub protocol: Option<Proto>,
    /// Send the messages this endpoint sent (IP, or IP and port); by default the side that
    /// opened the first connection (or sent the first datagram).
    pub from: Option<String>,
    /// Capture timing divided by this factor; `None` sends as fast as possible.
    pub speed: Option<f64>,
    /// How long to wait for an answer.
    pub answer_timeout: Duration,
}

impl SendOptions {
    /// Options for `target` over `transport` with defaults for the rest.
    pub fn new(target: SocketAddr, transport: SendTransport) -> Self {
        SendOptions {
            target,
            transport,
            protocol: None,
            from: None,
            speed: None,
            answer_timeout: Duration::from_secs(5),
        }
    }
}

/// Options of `parley replay`.
#[derive(Debug, Clone)]
pub struct ReplayOptions {
    /// Capture files, read in this order as one capture.
    pub captures: Vec<PathBuf>,
    /// What to do.
    pub mode: Mode,
    /// Ports that mean SIP.
    pub sip_ports: Vec<u16>,
    /// Ports that mean XMPP.
    pub xmpp_ports: Vec<u16>,
    /// Show a progress bar (only ever drawn when stderr is a terminal).
    pub progress: bool,
    /// Out-of-order bytes held per TCP direction before a gap is declared.
    pub max_pending_bytes: usize,
    /// TCP connections tracked at once.
    pub max_connections: usize,
}

impl ReplayOptions {
    /// Translate `captures` with the default ports and bounds.
    pub fn new(captures: Vec<PathBuf>) -> Self {
        ReplayOptions {
            captures,
            mode: Mode::Translate,
            sip_ports: DEFAULT_SIP_PORTS.to_vec(),
            xmpp_ports: DEFAULT_XMPP_PORTS.to_vec(),
            progress: true,
            max_pending_bytes: 1 << 20,
            max_connections: 65_536,
        }
    }

    fn engine_config(&self) -> EngineConfig {
        EngineConfig {
            sip_ports: self.sip_ports.clone(),
            xmpp_ports: self.xmpp_ports.clone(),
            max_pending: self.max_pending_bytes,
            max_flows: self.max_connections,
        }
    }
}

/// Run `parley replay` in the chosen mode, writing to `out`; returns the exit status.
///
/// `--translate` writes JSON lines ending with a `{"summary": …}` line; `--check` writes the
/// differences (or a confirmation) and the summary; `--send` writes the send report and the
/// summary.
pub fn run(opts: &ReplayOptions, out: &mut dyn Write) -> u8 {
    match &opts.mode {
        Mode::Translate => translate(opts, out),
        Mode::Check { golden } => check::run(opts, golden, out),
        Mode::Send(send) => send::run(opts, send, out),
    }
}

/// `--translate`: JSON lines to `out`; returns the exit status.
pub fn translate(opts: &ReplayOptions, out: &mut dyn Write) -> u8 {
    let mut t = translate::Translator::new(out);
    let (engine, files) = process(opts, &mut t);
    let summary = Summary {
        files,
        engine,
        messages: std::mem::take(&mut t.stats),
    };
    if t.error.is_none() {
        let line = summary.to_json().to_string();
        if let Err(e) = writeln!(t.out_mut(), "{line}") {
            t.error = Some(e);
        }
    }
    if t.error.is_some() {
        return EXIT_IOERR;
    }
    input_status(&summary)
}

/// The exit status that the captures' readability gives.
fn input_status(s: &Summary) -> u8 {
    let mut status = EXIT_OK;
    for (_, r) in &s.files {
        if let Err(e) = r {
            status = status.max(if e.starts_with("cannot open") {
                EXIT_NOINPUT
            } else {
                EXIT_DATAERR
            });
        }
    }
    status
}

/// A capture file and its packet count or read error.
type FileResult = (String, Result<u64, String>);

/// Read every capture through the engine into `sink`.
fn process(opts: &ReplayOptions, sink: &mut dyn Sink) -> (flows::EngineStats, Vec<FileResult>) {
    let mut engine = Engine::new(opts.engine_config());
    let bar = progress::Progress::new(opts.progress, &opts.captures);
    let mut files = Vec::new();
    let mut started = false;
    for path in &opts.captures {
        let name = path.display().to_string();
        let file = match std::fs::File::open(path) {
            Ok(f) => f,
            Err(e) => {
                files.push((name, Err(format!("cannot open: {e}"))));
                continue;
            }
        };
        let r = capture::for_each_packet(bar.reader(file), |p| {
            if !started {
                started = true;
                sink.start(p.ts_ns);
            }
            engine.packet(p, sink);
        });
        files.push((name, r.map_err(|e| e.to_string())));
    }
    engine.finish(sink);
    bar.finish();
    (engine.stats, files)
}
