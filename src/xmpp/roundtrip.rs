//! The codec's round-trip property, shared by the fuzz target and the tests: every stanza
//! the framer and views accept is written back by the writer, re-framed and re-parsed to the
//! same typed fields; JIDs normalise idempotently; XEP-0106 escaping is reversible.

use bytes::BytesMut;

use super::encode::{
    IqOut, IqPayloadOut, MarkerOut, MessageExtOut, MessageOut, PresenceOut, StanzaErrorOut,
    StreamOpen, write_iq, write_message_with, write_presence, write_stream_open,
};
use super::stanza::{Element, IqPayload, Marker, StanzaErrorView, parse_element};
use super::{Frame, Framer, Jid, StreamHeader, XmppLimits, jid};

/// Feed `data` as the body of a stream after parley's own header, and check the property for
/// every element. `Err` describes the first violation.
pub fn check(data: &[u8]) -> Result<(), String> {
    if let Ok(s) = std::str::from_utf8(data) {
        check_jid(s)?;
    }
    let mut buf = BytesMut::new();
    write_stream_open(
        &mut buf,
        &StreamOpen {
            from: "a.example",
            to: "b.example",
            id: None,
        },
    );
    let mut framer = Framer::new(XmppLimits::default());
    let header = match framer.next_frame(&mut buf) {
        Ok(Some(Frame::Open(h))) => h,
        other => return Err(format!("own header rejected: {other:?}")),
    };
    buf.extend_from_slice(data);
    while let Ok(Some(frame)) = framer.next_frame(&mut buf) {
        if let Frame::Element(bytes) = frame {
            // Reading the framer's marks and scanning the bytes again must agree.
            let marked = framer.parse_last(&bytes, &header);
            let scanned = parse_element(&bytes, &header);
            if marked != scanned {
                return Err(format!("marked parse {marked:?} != scanned {scanned:?}"));
            }
            if let Ok(el) = scanned {
                check_element(&el, &header)?;
            }
        }
    }
    Ok(())
}

/// Normalisation is idempotent and escaping reversible.
fn check_jid(s: &str) -> Result<(), String> {
    if let Ok(j) = Jid::parse(s) {
        let again = Jid::parse(j.as_str()).map_err(|e| format!("{s:?} → {j} → {e}"))?;
        if again != j {
            return Err(format!("JID not idempotent: {s:?} → {j} → {again}"));
        }
    }
    let esc = jid::escape_local(s);
    if jid::unescape_local(&esc) != s {
        return Err(format!("XEP-0106 not reversible: {s:?} → {esc:?}"));
    }
    Ok(())
}

/// Rewrite one element and compare its debug projection after a second pass.
fn check_element(el: &Element<'_>, header: &StreamHeader) -> Result<(), String> {
    let mut out = BytesMut::new();
    if !write_back(el, &mut out) {
        return Ok(());
    }
    let mut framer = Framer::new(XmppLimits {
        max_stanza_bytes: usize::MAX / 2,
        ..XmppLimits::default()
    });
    let mut stream = BytesMut::new();
    write_stream_open(
        &mut stream,
        &StreamOpen {
            from: "a.example",
            to: "b.example",
            id: None,
        },
    );
    stream.extend_from_slice(&out);
    let _ = framer.next_frame(&mut stream);
    let bytes = match framer.next_frame(&mut stream) {
        Ok(Some(Frame::Element(b))) => b,
        other => return Err(format!("written stanza not framed: {other:?}\n{out:?}")),
    };
    let again = parse_element(&bytes, header).map_err(|e| format!("reparse: {e}\n{out:?}"))?;
    let (a, b) = (project(el), project(&again));
    if a != b {
        return Err(format!("round trip differs:\n{a}\n{b}\n{out:?}"));
    }
    Ok(())
}

/// Write the typed fields of `el` back; `false` for elements the property does not cover.
fn write_back(el: &Element<'_>, out: &mut BytesMut) -> bool {
    match el {
        Element::Message(m) => {
            let msg = MessageOut {
                from: m.from.as_deref().unwrap_or(""),
                to: m.to.as_deref().unwrap_or(""),
                id: m.id.as_deref(),
                type_: m.type_,
                lang: m.lang.as_deref(),
                body: m.body.as_deref(),
                subject: m.subject.as_deref(),
                thread: m.thread.as_deref(),
                error: err_out(&m.error),
            };
            let reactions: Vec<_> = m.reactions.iter().flat_map(|r| r.iter()).collect();
            let reaction_refs: Vec<&str> = reactions.iter().map(|r| &**r).collect();
            let ext = MessageExtOut {
                chat_state: m.chat_state,
                receipt_request: m.receipt_request,
                receipt_received: m.receipt_received.as_deref(),
                marker: m.marker.as_ref().map(|mk| match mk {
                    Marker::Markable => MarkerOut::Markable,
                    Marker::Received(id) => MarkerOut::Received(id),
                    Marker::Displayed(id) => MarkerOut::Displayed(id),
                    Marker::Acknowledged(id) => MarkerOut::Acknowledged(id),
                }),
                replace_id: m.replace_id.as_deref(),
                retract_id: m.retract_id.as_deref(),
                reply: m.reply.as_ref().map(|r| (r.to.as_deref(), &*r.id)),
                oob: m.oob.as_ref().map(|o| (&*o.url, o.desc.as_deref())),
                nick: m.nick.as_deref(),
                delay: m.delay.as_ref().map(|d| (&*d.stamp, d.from.as_deref())),
                stanza_id: m.stanza_id.as_ref().map(|s| (&*s.id, &*s.by)),
                origin_id: m.origin_id.as_deref(),
                reactions: m
                    .reactions
                    .as_ref()
                    .map(|r| (&*r.id, reaction_refs.as_slice())),
                raw: &[],
            };
            write_message_with(out, &msg, &ext);
        }
        Element::Presence(p) => {
            let Some(type_) = p.type_ else { return false };
            let caps = p.caps.as_ref().map(|c| (&*c.node, &*c.ver, &*c.hash));
            write_presence(
                out,
                &PresenceOut {
                    from: p.from.as_deref().unwrap_or(""),
                    to: p.to.as_deref().unwrap_or(""),
                    id: p.id.as_deref(),
                    type_,
                    show: p.show,
                    status: p.status.as_deref(),
                    priority: p.priority,
                    caps,
                    nick: p.nick.as_deref(),
                    error: err_out(&p.error),
                },
            );
        }
        Element::Iq(iq) => {
            let (Some(type_), Some(id)) = (iq.type_, iq.id.as_deref()) else {
                return false;
            };
            let vcard;
            let payload = match iq.payload_kind() {
                IqPayload::Ping => IqPayloadOut::Ping,
                IqPayload::VCard(v) => {
                    vcard = v;
                    IqPayloadOut::VCard(vcard.full_name.as_deref(), vcard.nickname.as_deref())
                }
                _ => return false,
            };
            write_iq(
                out,
                &IqOut {
                    from: iq.from.as_deref().unwrap_or(""),
                    to: iq.to.as_deref().unwrap_or(""),
                    id,
                    type_,
                    payload,
                    error: err_out(&iq.error),
                },
            );
        }
        _ => return false,
    }
    true
}

/// The typed fields the property compares, as text (raw XML and counts excluded).
fn project(el: &Element<'_>) -> String {
    let none_if_empty = |s: &Option<std::borrow::Cow<'_, str>>| {
        s.as_deref().filter(|s| !s.is_empty()).map(str::to_owned)
    };
    match el {
        Element::Message(m) => format!(
            "{:?}",
            (
                (
                    none_if_empty(&m.from),
                    none_if_empty(&m.to),
                    &m.id,
                    m.type_,
                    &m.lang
                ),
                (&m.body, &m.subject, &m.thread, &m.error),
                (
                    m.chat_state,
                    m.receipt_request,
                    &m.receipt_received,
                    &m.marker
                ),
                (
                    &m.replace_id,
                    &m.retract_id,
                    &m.reply,
                    &m.oob,
                    &m.nick,
                    &m.delay
                ),
                (&m.stanza_id, &m.origin_id),
                m.reactions
                    .as_ref()
                    .map(|r| (r.id.clone(), r.iter().collect::<Vec<_>>())),
            )
        ),
        Element::Presence(p) => format!(
            "{:?}",
            (
                (none_if_empty(&p.from), none_if_empty(&p.to), &p.id, p.type_),
                (p.show, &p.status, p.priority, &p.caps, &p.nick, &p.error),
            )
        ),
        Element::Iq(iq) => format!(
            "{:?}",
            (
                (
                    none_if_empty(&iq.from),
                    none_if_empty(&iq.to),
                    &iq.id,
                    iq.type_
                ),
                (iq.payload_kind(), &iq.error),
            )
        ),
        other => format!("{other:?}"),
    }
}

/// A stanza error view as writer input.
fn err_out<'v>(e: &'v Option<StanzaErrorView<'_>>) -> Option<StanzaErrorOut<'v>> {
    e.as_ref().map(|e| StanzaErrorOut {
        type_: e.type_,
        condition: e.condition,
        text: e.text.as_deref(),
    })
}
