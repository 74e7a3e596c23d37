//! The audit log: one JSON line per message or presence event crossing the boundary, with
//! metadata only — never the content.
//!
//! A line:
//! ```json
//! {"time":"2026-03-01T12:00:00.123Z","session":"c0ffee@sip.example","type":"im",
//!  "from":"alice@sip.example","to":"juliet@xmpp.example","source":"sip","destination":"xmpp",
//!  "direction":"sip_to_xmpp","outcome":"refused","reason":"relaying_denied","bytes":42}
//! ```
//! `time` is RFC 3339 UTC, `session` the SIP Call-ID or XMPP `<thread/>` (empty when there is
//! none), `bytes` the size of the content in bytes, `reason` present only for `refused` and
//! `bounced` (a policy reason or an RFC 6120 stanza condition).
//!
//! The hot path never blocks on the log: [`emit`] puts the record on a bounded queue to a
//! writer thread ([`writer`]). When the queue is full the record is dropped, counted in
//! `parley_audit_dropped_total`, and a warning is logged at most every ten seconds; size the
//! queue with `[audit] queue`. [`emit`] also counts the event in `parley_messages_total`, so a
//! call site is one line for both.
//!
//! [`report`] turns audit logs into usage per month (`parley report`).

pub mod read;
pub mod report;
#[cfg(test)]
mod tests;
pub mod writer;

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Serialize, Serializer};
use tokio::sync::mpsc;
use tracing::warn;

use crate::metrics::{self as m, Direction, EventKind, Outcome, Protocol};
use crate::model::{ChatMessage, Event};

/// One audit line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditRecord {
    /// When the event happened.
    #[serde(serialize_with = "rfc3339")]
    pub time: SystemTime,
    /// Conversation: SIP Call-ID or XMPP thread.
    pub session: String,
    /// What crossed.
    #[serde(rename = "type")]
    pub kind: EventKind,
    /// Sender, bare address.
    pub from: String,
    /// Recipient, bare address.
    pub to: String,
    /// The sender's platform.
    pub source: Protocol,
    /// The recipient's platform.
    pub destination: Protocol,
    /// Which way.
    pub direction: Direction,
    /// What happened.
    pub outcome: Outcome,
    /// Why it was refused or bounced.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
    /// Size of the content in bytes (the content itself is never logged).
    pub bytes: usize,
}

impl AuditRecord {
    /// An event of `kind` from `from` to `to` crossing in `direction`, delivered, now.
    pub fn new(direction: Direction, kind: EventKind, from: String, to: String) -> AuditRecord {
        AuditRecord {
            time: SystemTime::now(),
            session: String::new(),
            kind,
            from,
            to,
            source: direction.source(),
            destination: direction.destination(),
            direction,
            outcome: Outcome::Delivered,
            reason: None,
            bytes: 0,
        }
    }

    /// An instant message: addresses, thread and body size taken from the canonical message.
    pub fn im(direction: Direction, msg: &ChatMessage<'_>) -> AuditRecord {
        let mut r = AuditRecord::new(direction, EventKind::Im, msg.from.bare(), msg.to.bare());
        r.session = msg.thread.as_deref().unwrap_or_default().to_owned();
        r.bytes = msg.body.len();
        r
    }

    /// Any canonical event: its audit type, bare addresses, conversation id and content size
    /// (body, status text or error text in bytes; 0 for events that carry none).
    pub fn event(direction: Direction, e: &Event<'_>) -> AuditRecord {
        let kind = match e {
            Event::ChatState(_) => EventKind::Typing,
            Event::Receipt(_) => EventKind::Receipt,
            Event::Presence(_) | Event::Probe(_) => EventKind::Presence,
            Event::Subscription(_) => EventKind::Subscription,
            Event::Error(_) => EventKind::Error,
            Event::Message(_)
            | Event::Reaction(_)
            | Event::Correction(_)
            | Event::Retraction(_)
            | Event::FileLink(_)
            | Event::GroupInvite(_) => EventKind::Im,
        };
        let mut r = AuditRecord::new(direction, kind, e.from().bare(), e.to().bare());
        let (thread, bytes) = match e {
            Event::Message(m) => (m.thread.as_deref(), m.body.len()),
            Event::Correction(c) => (c.message.thread.as_deref(), c.message.body.len()),
            Event::ChatState(c) => (c.env.thread.as_deref(), 0),
            Event::Receipt(c) => (c.env.thread.as_deref(), 0),
            Event::Presence(p) => (None, p.note.as_deref().map_or(0, str::len)),
            Event::Error(x) => (None, x.text.as_deref().map_or(0, str::len)),
            _ => (None, 0),
        };
        r.session = thread.unwrap_or_default().to_owned();
        r.bytes = bytes;
        r
    }

    /// Set the outcome and its reason.
    pub fn outcome(mut self, outcome: Outcome, reason: Option<&'static str>) -> AuditRecord {
        self.outcome = outcome;
        self.reason = reason;
        self
    }

    /// Set the session id (e.g. the Call-ID when the message had no thread).
    pub fn session(mut self, session: &str) -> AuditRecord {
        if self.session.is_empty() {
            session.clone_into(&mut self.session);
        }
        self
    }

    /// The outcome from the SIP final response the next hop (or parley) gave: 2xx delivered,
    /// anything else bounced with the mapped condition (RFC 7247 §7) as the reason.
    pub fn sip_final(self, code: u16) -> AuditRecord {
        if (200..300).contains(&code) {
            self.outcome(Outcome::Delivered, None)
        } else {
            let condition = crate::bridge::sip::status_to_condition(code);
            self.outcome(Outcome::Bounced, Some(condition.as_str()))
        }
    }

    /// The JSON line, newline included.
    pub fn to_line(&self) -> Vec<u8> {
        let mut out = serde_json::to_vec(self).unwrap_or_default();
        out.push(b'\n');
        out
    }
}

fn rfc3339<S: Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_time(*t))
}

/// RFC 3339 UTC with milliseconds, e.g. `2026-03-01T12:00:00.123Z`.
pub fn format_time(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let ms = (d.as_millis() % 1000) as u16;
    let dt = time::OffsetDateTime::from_unix_timestamp(d.as_secs() as i64)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{ms:03}Z",
        dt.year(),
        u8::from(dt.month()),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second()
    )
}

/// The sending side of the audit queue. Cheap to clone; a disabled one only counts metrics.
#[derive(Debug, Clone)]
pub struct Audit {
    tx: Option<mpsc::Sender<AuditRecord>>,
}

impl Audit {
    /// An audit handle that writes nothing.
    pub fn disabled() -> Audit {
        Audit { tx: None }
    }

    /// A handle on `tx` (see [`writer::start`]).
    pub fn new(tx: mpsc::Sender<AuditRecord>) -> Audit {
        Audit { tx: Some(tx) }
    }

    /// Queue a record without waiting; see the module docs for what happens when full.
    pub fn emit(&self, record: AuditRecord) {
        m::message(record.direction, record.kind, record.outcome);
        let Some(tx) = &self.tx else { return };
        if tx.try_send(record).is_err() {
            m::audit_dropped();
            warn_dropped();
        }
    }
}

static AUDIT: OnceLock<Audit> = OnceLock::new();

/// Make `audit` the process-wide handle used by [`emit`]. Only the first call has an effect.
pub fn install(audit: Audit) {
    let _ = AUDIT.set(audit);
}

/// Record one crossing event: the audit line (when an audit log is installed) and
/// `parley_messages_total`.
pub fn emit(record: AuditRecord) {
    match AUDIT.get() {
        Some(a) => a.emit(record),
        None => m::message(record.direction, record.kind, record.outcome),
    }
}

/// Record a refusal by policy: `parley_policy_refusals_total` (by the protocol it came from)
/// and the audit line with `outcome = "refused"` and the reason.
pub fn refuse(record: AuditRecord, reason: m::PolicyReason) {
    m::policy_refusal(record.source, reason);
    emit(record.outcome(Outcome::Refused, Some(reason.as_str())));
}

/// Seconds since the epoch of the last "dropped" warning.
static LAST_DROP_WARNING: AtomicU64 = AtomicU64::new(0);

fn warn_dropped() {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let last = LAST_DROP_WARNING.load(Ordering::Relaxed);
    if now >= last + 10
        && LAST_DROP_WARNING
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    {
        warn!(
            "audit log queue full: records dropped (see parley_audit_dropped_total; raise [audit] queue)"
        );
    }
}
