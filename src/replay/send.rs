//! `--send`: replay the messages one side sent in the capture to a live target, with the
//! capture's timing (scaled by `--speed`) or as fast as possible, and count what comes back.
//!
//! What expects an answer: a SIP request other than ACK (its final response, matched by
//! Call-ID, CSeq and method); an XMPP `<iq type='get|set'/>` (the iq result or error with its
//! id); a dialback `<db:result/>` request (the `type` answer for the same domain pair). A 2xx,
//! an iq result or a valid dialback answer counts as answered; an error answer, no answer
//! within the timeout, or a lost connection counts as failed. Latency runs from the write of
//! the request to the answer. Messages are sent as captured, byte for byte.

use std::collections::HashMap;
use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::flows::{Event, Proto, Sink};
use super::send_io::{Conn, Reply};
use super::split::Item;
use super::summary::MessageStats;
use super::translate::xmpp_kind;
use super::{EXIT_DIFFERENCES, EXIT_IOERR, EXIT_UNAVAILABLE, ReplayOptions};
use super::{SendOptions, SendTransport, Summary};
use crate::sip::message::Method;
use crate::sip::{SipLimits, SipMessage};
use crate::xmpp::stanza::{Element, IqType, parse_element};

/// One captured message.
#[derive(Debug, Clone)]
pub(crate) struct Captured {
    ts_ns: u64,
    proto: Proto,
    src: SocketAddr,
    bytes: Bytes,
    /// The key of the answer it expects.
    expect: Option<String>,
}

/// Sink that keeps every message with what it expects.
#[derive(Default)]
struct Collector {
    messages: Vec<Captured>,
    stats: MessageStats,
}

impl Sink for Collector {
    fn event(&mut self, e: Event<'_>) {
        let Some(proto) = e.proto else { return };
        let (bytes, expect) = match &e.item {
            Item::Sip(raw) => match SipMessage::parse(raw.clone(), &SipLimits::default()) {
                Ok(m) => {
                    let kind = m
                        .method()
                        .map(|x| x.as_str().to_owned())
                        .or(m.status().map(|c| c.to_string()));
                    self.stats.count("sip", kind.unwrap_or_default());
                    (raw.clone(), sip_request_key(&m))
                }
                Err(err) => {
                    self.stats.failure("sip", &format!("{err:?}"));
                    (raw.clone(), None)
                }
            },
            Item::XmppOpen(_, raw) => {
                self.stats.count("xmpp", "stream:open".into());
                (raw.clone(), None)
            }
            Item::XmppElement(raw, h) => match parse_element(raw, h) {
                Ok(el) => {
                    self.stats.count("xmpp", xmpp_kind(&el));
                    (raw.clone(), xmpp_request_key(&el))
                }
                Err(err) => {
                    self.stats.failure("xmpp", &format!("{err:?}"));
                    (raw.clone(), None)
                }
            },
            Item::XmppClose => (Bytes::from_static(b"</stream:stream>"), None),
            Item::SipInvalid(err) => {
                self.stats.failure("sip", &format!("{err:?}"));
                return;
            }
            Item::XmppInvalid(err) => {
                self.stats.failure("xmpp", &format!("{err:?}"));
                return;
            }
            Item::Gap(_) | Item::Tls | Item::Incomplete(_) => return,
        };
        self.messages.push(Captured {
            ts_ns: e.ts_ns,
            proto,
            src: e.stream.src,
            bytes,
            expect,
        });
    }
}

/// `sip <Call-ID> <CSeq number> <method>` for requests that get a final response.
fn sip_request_key(m: &SipMessage) -> Option<String> {
    if matches!(m.method()?, Method::Ack) {
        return None;
    }
    let cseq = m.cseq().ok()?;
    Some(format!(
        "sip {} {} {}",
        m.call_id().ok()?,
        cseq.seq,
        cseq.method
    ))
}

/// The key of the answer an XMPP request expects.
fn xmpp_request_key(el: &Element<'_>) -> Option<String> {
    match el {
        Element::Iq(iq) if matches!(iq.type_, Some(IqType::Get | IqType::Set)) => {
            Some(format!("iq {}", iq.id.as_deref()?))
        }
        Element::DbResult(db) if db.type_.is_none() => {
            Some(format!("db {} {}", db.from.as_deref()?, db.to.as_deref()?))
        }
        _ => None,
    }
}

/// The messages to send: of the chosen protocol (default: the first message's), sent by the
/// chosen endpoint (default: the sender of the first such message).
fn select(msgs: Vec<Captured>, send: &SendOptions) -> Result<Vec<Captured>, String> {
    let proto = send
        .protocol
        .or_else(|| msgs.first().map(|m| m.proto))
        .ok_or("no SIP or XMPP messages in the capture")?;
    let first = msgs
        .iter()
        .find(|m| m.proto == proto)
        .ok_or_else(|| format!("no {} messages in the capture", proto.as_str()))?;
    let from = send.from.clone().unwrap_or_else(|| first.src.to_string());
    let matches = |a: &SocketAddr| match from.parse::<SocketAddr>() {
        Ok(s) => *a == s,
        Err(_) => a.ip().to_string() == from,
    };
    let out: Vec<_> = msgs
        .into_iter()
        .filter(|m| m.proto == proto && matches(&m.src))
        .collect();
    if out.is_empty() {
        return Err(format!("no {} messages sent by {from}", proto.as_str()));
    }
    if proto == Proto::Xmpp && send.transport == SendTransport::Udp {
        return Err("XMPP is replayed over TCP or TLS, not UDP".into());
    }
    Ok(out)
}

/// Counts of a send run.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SendReport {
    /// Messages written.
    pub sent: u64,
    /// Requests answered with success.
    pub answered: u64,
    /// Requests answered with an error.
    pub error_answers: u64,
    /// Requests without an answer in time (or whose connection was lost).
    pub timeouts: u64,
    /// Messages that expect no answer.
    pub unanswerable: u64,
    /// Latencies of the answers (success and error), sorted.
    pub latencies: Vec<Duration>,
    /// Set when the connection failed midway.
    pub connection_error: Option<String>,
}

impl SendReport {
    /// Failed requests: error answers and missing answers.
    pub fn failed(&self) -> u64 {
        self.error_answers + self.timeouts
    }

    /// The latency at percentile `p` (0–100), nearest rank.
    pub fn percentile(&self, p: f64) -> Option<Duration> {
        if self.latencies.is_empty() {
            return None;
        }
        let rank = ((p / 100.0) * self.latencies.len() as f64).ceil() as usize;
        self.latencies
            .get(rank.clamp(1, self.latencies.len()) - 1)
            .copied()
    }

    fn write(&self, out: &mut dyn Write, target: SocketAddr) -> std::io::Result<()> {
        writeln!(
            out,
            "sent {} messages to {target}: answered {}, failed {} ({} error answers, {} without answer), {} expecting no answer",
            self.sent,
            self.answered,
            self.failed(),
            self.error_answers,
            self.timeouts,
            self.unanswerable
        )?;
        if let Some(e) = &self.connection_error {
            writeln!(out, "connection: {e}")?;
        }
        let ms = |p| {
            self.percentile(p)
                .map_or("-".into(), |d| format!("{:.3}", d.as_secs_f64() * 1e3))
        };
        writeln!(
            out,
            "latency ms: p50 {} p90 {} p99 {} max {}",
            ms(50.0),
            ms(90.0),
            ms(99.0),
            ms(100.0)
        )
    }
}

/// Run `--send`; returns the exit status.
pub(crate) fn run(opts: &ReplayOptions, send: &SendOptions, out: &mut dyn Write) -> u8 {
    let mut c = Collector::default();
    let (engine, files) = super::process(opts, &mut c);
    let summary = Summary {
        files,
        engine,
        messages: std::mem::take(&mut c.stats),
    };
    let input = super::input_status(&summary);
    let selected = match select(c.messages, send) {
        Ok(s) => s,
        Err(e) => {
            let _ = writeln!(out, "nothing to send: {e}");
            let _ = summary.write_text(out);
            return input.max(EXIT_DIFFERENCES);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            let _ = writeln!(out, "cannot start the runtime: {e}");
            return EXIT_IOERR;
        }
    };
    let report = runtime.block_on(replay(selected, send));
    let report = match report {
        Ok(r) => r,
        Err(e) => {
            let _ = writeln!(out, "cannot reach {}: {e}", send.target);
            return EXIT_UNAVAILABLE;
        }
    };
    let written = report
        .write(out, send.target)
        .and_then(|()| summary.write_text(out));
    if written.is_err() {
        return EXIT_IOERR;
    }
    if report.failed() > 0 || report.connection_error.is_some() {
        EXIT_DIFFERENCES
    } else {
        input
    }
}

/// Send `msgs` and wait for the answers.
pub(crate) async fn replay(msgs: Vec<Captured>, send: &SendOptions) -> std::io::Result<SendReport> {
    let proto = msgs.first().map_or(Proto::Sip, |m| m.proto);
    let (tx, mut rx) = mpsc::channel::<Reply>(1024);
    let mut conn = Conn::open(send, proto, tx).await?;
    let mut report = SendReport::default();
    let mut pending: HashMap<String, Instant> = HashMap::new();
    let start = Instant::now();
    let t0 = msgs.first().map_or(0, |m| m.ts_ns);
    let mut closed = false;
    for m in &msgs {
        if let Some(speed) = send.speed.filter(|s| *s > 0.0) {
            let offset = Duration::from_nanos(m.ts_ns.saturating_sub(t0)).div_f64(speed);
            let due = start + offset;
            while !closed {
                tokio::select! {
                    _ = tokio::time::sleep_until(due) => break,
                    r = rx.recv() => closed = !settle(r, &mut pending, &mut report),
                }
            }
        }
        while let Ok(r) = rx.try_recv() {
            closed |= !settle(Some(r), &mut pending, &mut report);
        }
        if closed {
            break;
        }
        if let Err(e) = conn.write(&m.bytes).await {
            report.connection_error = Some(e.to_string());
            break;
        }
        report.sent += 1;
        match &m.expect {
            Some(k) => {
                pending.insert(k.clone(), Instant::now());
            }
            None => report.unanswerable += 1,
        }
    }
    let deadline = Instant::now() + send.answer_timeout;
    while !pending.is_empty() && !closed {
        tokio::select! {
            _ = tokio::time::sleep_until(deadline) => break,
            r = rx.recv() => closed = !settle(r, &mut pending, &mut report),
        }
    }
    report.timeouts += pending.len() as u64;
    report.latencies.sort();
    conn.close().await;
    Ok(report)
}

/// Account for one answer; false when the connection is gone.
fn settle(
    r: Option<Reply>,
    pending: &mut HashMap<String, Instant>,
    report: &mut SendReport,
) -> bool {
    match r {
        Some(Reply::Answer { key, ok, at }) => {
            if let Some(sent) = pending.remove(&key) {
                report.latencies.push(at.saturating_duration_since(sent));
                if ok {
                    report.answered += 1;
                } else {
                    report.error_answers += 1;
                }
            }
            true
        }
        Some(Reply::Closed(reason)) => {
            if !pending.is_empty() || reason.is_some() {
                report.connection_error =
                    Some(reason.unwrap_or_else(|| "closed by the target".into()));
            }
            false
        }
        None => false,
    }
}
