//! The one place replay calls the bridge: a captured message to its canonical events
//! ([`crate::bridge::sip_in::events_from_sip`], [`crate::bridge::xmpp_in::events_from_xmpp`])
//! and the wire bytes parley would send for them ([`crate::bridge::xmpp_out`],
//! [`crate::bridge::sip_out`]). Everything else in replay only describes the wire.
//!
//! Values parley would choose at run time (stanza ids, Via branches, tags, the CPIM time)
//! are derived from the message's number and time in the capture, so the output is
//! deterministic.

use std::time::{Duration, UNIX_EPOCH};

use bytes::BytesMut;
use serde_json::{Value, json};

use crate::bridge::sip::RequestContext;
use crate::bridge::sip_out::{SipOut, SipPeerCaps, write_sip_event};
use crate::bridge::xmpp_out::write_xmpp_event;
use crate::bridge::{BridgeError, sip_in, xmpp_in};
use crate::model::Event;
use crate::sip::SipMessage;
use crate::xmpp::stanza::Element;

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

/// Host parley names in Via and Contact in replayed translations.
const GATEWAY: &str = "gateway.invalid";

/// A SIP message captured at `ts_ns`, number `n` in the output.
pub(crate) fn sip(msg: &SipMessage, n: u64, _ts_ns: u64) -> Bridged {
    let mut b = Bridged::default();
    let events = match sip_in::events_from_sip(msg) {
        Ok(e) => e,
        Err(e) => return refused(b, "sip→xmpp", e),
    };
    b.events = events_json(&events);
    let mut text = String::new();
    let mut out = BytesMut::with_capacity(1024);
    for (i, ev) in events.iter().enumerate() {
        out.clear();
        let id = format!("replay-{n}-{}", i + 1);
        match write_xmpp_event(&mut out, ev, &id) {
            Ok(_) => text.push_str(&String::from_utf8_lossy(&out)),
            Err(e) => return refused(b, "sip→xmpp", e),
        }
    }
    if !text.is_empty() {
        b.translation = Some(json!({ "xmpp": text }));
    }
    b
}

/// An XMPP element captured at `ts_ns`, number `n` in the output.
pub(crate) fn xmpp(el: &Element<'_>, n: u64, ts_ns: u64) -> Bridged {
    let mut b = Bridged::default();
    let events = match xmpp_in::events_from_xmpp(el) {
        Ok(e) => e,
        Err(e) => return refused(b, "xmpp→sip", e),
    };
    b.events = events_json(&events);
    let (branch, tag, call_id) = (
        format!("z9hG4bKreplay{n}"),
        format!("replay{n}"),
        format!("replay{n}@{GATEWAY}"),
    );
    let now = crate::translate::rfc3339(UNIX_EPOCH + Duration::from_nanos(ts_ns));
    let boundary = format!("replay-alt-{n}");
    let o = SipOut {
        req: RequestContext {
            transport: "TLS",
            sent_by: "gateway.invalid:5061",
            branch: &branch,
            from_tag: &tag,
            fallback_call_id: &call_id,
            cseq: 1,
        },
        caps: SipPeerCaps::default(),
        call_id: None,
        to_tag: None,
        contact: "sip:gateway.invalid;transport=tls",
        expires: 3600,
        now: &now,
        boundary: &boundary,
    };
    let mut text = String::new();
    let mut out = BytesMut::with_capacity(1024);
    for ev in &events {
        out.clear();
        match write_sip_event(&mut out, ev, &o) {
            Ok(_) => text.push_str(&String::from_utf8_lossy(&out)),
            Err(e) => return refused(b, "xmpp→sip", e),
        }
    }
    if !text.is_empty() {
        b.translation = Some(json!({ "sip": text }));
    }
    b
}

fn events_json(events: &[Event<'_>]) -> Vec<Value> {
    events
        .iter()
        .map(|e| serde_json::to_value(e).unwrap_or(Value::Null))
        .collect()
}

/// A refusal. "Not interworked" (OPTIONS, iq, stream management…) is no refusal: parley
/// simply has nothing to send on the other side.
fn refused(mut b: Bridged, dir: &'static str, e: BridgeError) -> Bridged {
    if e != BridgeError::NotInterworked {
        let (code, reason) = e.sip_status();
        b.refused = Some((
            dir,
            json!({
                "reason": reason, "sip_status": code,
                "xmpp_condition": e.xmpp_condition().as_str(),
            }),
        ));
    }
    b
}
