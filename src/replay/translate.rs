//! `--translate`: one JSON line per captured message (and per gap, TLS stream or parse
//! failure), in capture order: where it was seen, what it is, the canonical events and the
//! translation parley would send. Keys are sorted and every value is derived from the capture,
//! so two runs over one capture print the same bytes.

use std::io::{self, Write};

use serde_json::{Map, Value, json};

use super::bridge_call;
use super::flows::{Event, Sink};
use super::split::Item;
use super::summary::MessageStats;
use crate::sip::{SipLimits, SipMessage};
use crate::xmpp::StreamHeader;
use crate::xmpp::decode::element_json;
use crate::xmpp::stanza::{Element, parse_element};

/// The translate sink.
pub(crate) struct Translator<'w> {
    out: &'w mut dyn Write,
    /// Time of the first packet of the capture; times are printed relative to it.
    pub origin: Option<u64>,
    n: u64,
    limits: SipLimits,
    /// Counters for the summary.
    pub stats: MessageStats,
    /// The first write error (later lines are not attempted).
    pub error: Option<io::Error>,
}

impl<'w> Translator<'w> {
    /// A translator printing to `out`.
    pub fn new(out: &'w mut dyn Write) -> Self {
        Translator {
            out,
            origin: None,
            n: 0,
            limits: SipLimits::default(),
            stats: MessageStats::default(),
            error: None,
        }
    }

    /// The output.
    pub fn out_mut(&mut self) -> &mut dyn Write {
        &mut *self.out
    }

    fn line(&mut self, e: &Event<'_>, mut body: Map<String, Value>) {
        self.n += 1;
        let rel = e.ts_ns.saturating_sub(self.origin.unwrap_or(e.ts_ns));
        body.insert("n".into(), json!(self.n));
        body.insert(
            "t".into(),
            json!(format!(
                "{}.{:06}",
                rel / 1_000_000_000,
                rel % 1_000_000_000 / 1000
            )),
        );
        body.insert("stream".into(), json!(e.stream.to_string()));
        body.insert("proto".into(), json!(e.proto.map(|p| p.as_str())));
        if self.error.is_some() {
            return;
        }
        let r = serde_json::to_writer(&mut *self.out, &Value::Object(body))
            .map_err(io::Error::from)
            .and_then(|()| self.out.write_all(b"\n"));
        if let Err(err) = r {
            self.error = Some(err);
        }
    }

    fn sip(&mut self, e: &Event<'_>, raw: &bytes::Bytes) {
        let mut body = Map::new();
        let msg =
            SipMessage::parse(raw.clone(), &self.limits).and_then(|m| m.validate().map(|()| m));
        match msg {
            Ok(m) => {
                let kind = match (m.method(), m.status()) {
                    (Some(method), _) => method.as_str().to_owned(),
                    (None, Some(code)) => code.to_string(),
                    (None, None) => "?".to_owned(),
                };
                self.stats.count("sip", kind);
                body.insert("sip".into(), sip_json(&m));
                let n = self.n + 1;
                let b = bridge_call::sip(&m, n, e.ts_ns);
                self.bridged(&mut body, b, "sip→xmpp");
            }
            Err(err) => {
                self.stats.failure("sip", &format!("{err:?}"));
                let (code, reason) = err.status();
                body.insert(
                    "parse_error".into(),
                    json!({ "kind": format!("{err:?}"), "status": code, "reason": reason, "bytes": raw.len() }),
                );
            }
        }
        self.line(e, body);
    }

    fn xmpp_element(&mut self, e: &Event<'_>, raw: &[u8], header: &StreamHeader) {
        let mut body = Map::new();
        match parse_element(raw, header) {
            Ok(el) => {
                self.stats.count("xmpp", xmpp_kind(&el));
                body.insert("xmpp".into(), element_json(&el));
                let b = bridge_call::xmpp(&el, self.n + 1, e.ts_ns);
                self.bridged(&mut body, b, "xmpp→sip");
            }
            Err(err) => {
                self.stats.failure("xmpp", &format!("{err:?}"));
                body.insert(
                    "parse_error".into(),
                    json!({ "kind": format!("{err:?}"), "condition": err.stream_condition().as_str() }),
                );
            }
        }
        self.line(e, body);
    }

    fn bridged(
        &mut self,
        body: &mut Map<String, Value>,
        b: bridge_call::Bridged,
        dir: &'static str,
    ) {
        if !b.events.is_empty() {
            body.insert("events".into(), Value::Array(b.events));
        }
        if let Some(t) = b.translation {
            *self.stats.translated.entry(dir).or_default() += 1;
            body.insert("translation".into(), t);
        }
        if let Some((dir, r)) = b.refused {
            let reason = r["reason"].as_str().unwrap_or_default();
            *self
                .stats
                .refused
                .entry(format!("{dir}: {reason}"))
                .or_default() += 1;
            body.insert("refused".into(), r);
        }
    }
}

impl Sink for Translator<'_> {
    fn start(&mut self, ts_ns: u64) {
        self.origin = Some(ts_ns);
    }

    fn event(&mut self, e: Event<'_>) {
        match &e.item {
            Item::Sip(raw) => self.sip(&e, raw),
            Item::XmppElement(raw, h) => self.xmpp_element(&e, raw, h),
            Item::XmppOpen(h, _) => {
                self.stats.count("xmpp", "stream:open".into());
                self.line(&e, one("xmpp", json!({ "open": header_json(h) })));
            }
            Item::XmppClose => {
                self.stats.count("xmpp", "stream:close".into());
                self.line(&e, one("xmpp", json!({ "close": true })));
            }
            Item::SipInvalid(err) => {
                self.stats.failure("sip", &format!("{err:?}"));
                let (code, reason) = err.status();
                let v = json!({ "kind": format!("{err:?}"), "status": code, "reason": reason });
                self.line(&e, one("parse_error", v));
            }
            Item::XmppInvalid(err) => {
                self.stats.failure("xmpp", &format!("{err:?}"));
                let v = json!({ "kind": format!("{err:?}"), "condition": err.stream_condition().as_str() });
                self.line(&e, one("parse_error", v));
            }
            Item::Gap(n) => self.line(&e, one("gap", json!({ "missing_bytes": n }))),
            Item::Tls => self.line(
                &e,
                one(
                    "tls",
                    json!("encrypted stream: parley cannot decrypt TLS captures"),
                ),
            ),
            Item::Incomplete(n) => {
                let proto = e.proto.map_or("?", |p| p.as_str());
                self.stats.failure(proto, "incomplete at end of stream");
                self.line(&e, one("incomplete", json!({ "bytes": n })));
            }
        }
    }
}

fn one(k: &str, v: Value) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert(k.into(), v);
    m
}

/// The type of a SIP message or XMPP element, as counted in the summary.
pub(crate) fn xmpp_kind(el: &Element<'_>) -> String {
    match el {
        Element::Message(m) => format!("message:{}", m.type_.as_str()),
        Element::Presence(p) => match p.type_.and_then(|t| t.as_str()) {
            Some(t) => format!("presence:{t}"),
            None => "presence".into(),
        },
        Element::Iq(iq) => format!("iq:{}", iq.type_.map_or("?", |t| t.as_str())),
        Element::DbResult(_) => "db:result".into(),
        Element::DbVerify(_) => "db:verify".into(),
        Element::Features(_) => "stream:features".into(),
        Element::StartTls => "starttls".into(),
        Element::Proceed => "proceed".into(),
        Element::TlsFailure => "tls:failure".into(),
        Element::SaslAuth { .. } => "sasl:auth".into(),
        Element::SaslSuccess => "sasl:success".into(),
        Element::SaslFailure { .. } => "sasl:failure".into(),
        Element::StreamError { .. } => "stream:error".into(),
        Element::Bidi => "bidi".into(),
        Element::Unknown { name, .. } => format!("other:{name}"),
    }
}

/// A compact description of a SIP message.
fn sip_json(m: &SipMessage) -> Value {
    let text = |h| {
        m.header(h)
            .map(|v| String::from_utf8_lossy(v).trim().to_owned())
    };
    let mut j = Map::new();
    match (m.method(), m.request_uri(), m.status()) {
        (Some(method), Some(uri), _) => {
            j.insert("method".into(), json!(method.as_str()));
            j.insert("uri".into(), json!(uri));
        }
        (_, _, Some(code)) => {
            j.insert("status".into(), json!(code));
            j.insert("reason".into(), json!(m.reason()));
        }
        _ => {}
    }
    use crate::sip::HeaderName as H;
    j.insert("call_id".into(), json!(m.call_id().ok()));
    j.insert("cseq".into(), json!(text(H::CSeq)));
    j.insert("from".into(), json!(text(H::From)));
    j.insert("to".into(), json!(text(H::To)));
    if let Some(ct) = text(H::ContentType) {
        j.insert("content_type".into(), json!(ct));
    }
    j.insert("body_bytes".into(), json!(m.body().len()));
    Value::Object(j)
}

fn header_json(h: &StreamHeader) -> Value {
    json!({
        "to": h.to, "from": h.from, "id": h.id, "version": h.version,
        "ns": h.ns.uri(), "dialback": h.dialback,
    })
}
