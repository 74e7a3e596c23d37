//! The one place replay calls the bridge: a captured message to its canonical events and the
//! translation parley would send. Everything else in replay only describes the wire.
//!
//! Values parley would choose at run time (stanza ids, Via branches, tags) are derived from
//! the message's number in the capture, so the output is deterministic.

use std::collections::HashMap;

use bytes::BytesMut;
use serde_json::{Value, json};

use crate::bridge::{self, BridgeError};
use crate::model::{ChatMessage, DeliveryError, MessageKind};
use crate::sip::SipMessage;
use crate::sip::message::Method;
use crate::xmpp::stanza::{Element, MessageType};

/// What the bridge made of one message.
#[derive(Debug, Default)]
pub(crate) struct Bridged {
    /// Canonical events.
    pub events: Vec<Value>,
    /// The bytes parley would send, as `{"xmpp": …}` or `{"sip": …}`.
    pub translation: Option<Value>,
    /// Why the message would be refused (and the answer parley would give).
    pub refused: Option<(&'static str, Value)>,
}

/// SIP MESSAGE requests seen, by Call-ID and CSeq, so an error response to one can be
/// translated into the XMPP error to its sender. Bounded.
#[derive(Debug, Default)]
pub(crate) struct Correlation {
    sip_requests: HashMap<(String, u32), (String, String, String)>,
}

/// Requests remembered at most.
const MAX_CORRELATED: usize = 10_000;

/// Host parley would name in Via for replayed translations.
const SENT_BY: &str = "gateway.invalid";

/// A SIP message.
pub(crate) fn sip(msg: &SipMessage, n: u64, cx: &mut Correlation) -> Bridged {
    let mut b = Bridged::default();
    match msg.method() {
        Some(Method::Message) => match bridge::sip::message_from_sip(msg) {
            Ok(m) => {
                let id = format!("replay-{n}");
                b.events.push(message_json(&m));
                let mut out = BytesMut::with_capacity(256 + m.body.len());
                bridge::xmpp::write_message(&mut out, &m, &id);
                b.translation = Some(json!({ "xmpp": String::from_utf8_lossy(&out) }));
                if let Ok(cseq) = msg.cseq() {
                    if cx.sip_requests.len() >= MAX_CORRELATED {
                        cx.sip_requests.clear();
                    }
                    let (mut from, mut to) = (String::new(), String::new());
                    bridge::address::to_full_jid(&m.from, &mut from);
                    bridge::address::to_full_jid(&m.to, &mut to);
                    cx.sip_requests.insert(
                        (m.thread.as_deref().unwrap_or("").to_owned(), cseq.seq),
                        (from, to, id),
                    );
                }
            }
            Err(e) => b.refused = Some(("sip→xmpp", refusal_json(e))),
        },
        Some(_) => {}
        None => sip_response(msg, cx, &mut b),
    }
    b
}

/// A final error response to a MESSAGE seen earlier: the XMPP error to its sender.
fn sip_response(msg: &SipMessage, cx: &mut Correlation, b: &mut Bridged) {
    let Some(code) = msg.status() else { return };
    if code < 300 {
        return;
    }
    let (Ok(call_id), Ok(cseq)) = (msg.call_id(), msg.cseq()) else {
        return;
    };
    if cseq.method != "MESSAGE" {
        return;
    }
    let err = DeliveryError {
        condition: bridge::sip::status_to_condition(code),
        text: msg.reason().map(std::borrow::Cow::Borrowed),
    };
    b.events.push(json!({
        "type": "delivery-error", "condition": err.condition.as_str(), "text": err.text,
    }));
    if let Some((from, to, id)) = cx.sip_requests.get(&(call_id.to_owned(), cseq.seq)) {
        let mut out = BytesMut::with_capacity(256);
        bridge::xmpp::write_message_error(&mut out, from, to, Some(id), &err);
        b.translation = Some(json!({ "xmpp": String::from_utf8_lossy(&out) }));
    }
}

/// An XMPP element.
pub(crate) fn xmpp(el: &Element<'_>, n: u64) -> Bridged {
    let mut b = Bridged::default();
    let Element::Message(m) = el else { return b };
    if m.type_ == MessageType::Error {
        let e = bridge::xmpp::delivery_error(m);
        b.events.push(json!({
            "type": "delivery-error", "condition": e.condition.as_str(), "text": e.text,
            "for": m.id,
        }));
        let (code, reason) = bridge::sip::condition_to_status(e.condition);
        b.translation = Some(json!({ "sip_status": code, "reason": reason }));
        return b;
    }
    if m.body.is_none() {
        return b;
    }
    match bridge::xmpp::message_from_xmpp(m) {
        Ok(msg) => {
            b.events.push(message_json(&msg));
            let id = format!("replay{n}");
            let branch = format!("z9hG4bKreplay{n}");
            let ctx = bridge::sip::RequestContext {
                transport: "TLS",
                sent_by: SENT_BY,
                branch: &branch,
                from_tag: &id,
                fallback_call_id: &id,
                cseq: 1,
            };
            let mut out = BytesMut::with_capacity(512 + msg.body.len());
            bridge::sip::write_message(&mut out, &msg, &ctx);
            b.translation = Some(json!({ "sip": String::from_utf8_lossy(&out) }));
        }
        Err(e) => b.refused = Some(("xmpp→sip", refusal_json(e))),
    }
    b
}

fn message_json(m: &ChatMessage<'_>) -> Value {
    json!({
        "type": "message",
        "from": m.from.to_string(),
        "to": m.to.to_string(),
        "kind": match m.kind {
            MessageKind::Chat => "chat",
            MessageKind::Normal => "normal",
            MessageKind::Groupchat => "groupchat",
        },
        "thread": m.thread,
        "body": m.body,
        "subject": m.subject,
        "lang": m.lang,
    })
}

fn refusal_json(e: BridgeError) -> Value {
    let (code, reason) = e.sip_status();
    json!({
        "reason": reason, "sip_status": code, "xmpp_condition": e.xmpp_condition().as_str(),
    })
}
