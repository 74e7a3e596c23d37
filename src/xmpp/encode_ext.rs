//! Writer for presence, iq and the message extensions parley maps (XEP-0085, 0184, 0333,
//! 0071, 0444, 0308, 0424, 0461, 0066, 0172, 0203, 0359, 0199, 0030, 0054). Each extension
//! element declares its namespace once, on itself.

use bytes::BytesMut;

use super::encode::{
    MessageOut, StanzaErrorOut, write_attr, write_message_children, write_message_open,
    write_stanza_error, write_text, write_text_element,
};
use super::ns;
use super::stanza::{ChatState, IqType, PresenceType, Show};

/// XEP-0333 marker to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarkerOut<'a> {
    /// `<markable/>`
    Markable,
    /// `<received id/>`
    Received(&'a str),
    /// `<displayed id/>`
    Displayed(&'a str),
    /// `<acknowledged id/>`
    Acknowledged(&'a str),
}

/// Message extensions to write after the RFC 6121 children.
#[derive(Debug, Clone, Copy, Default)]
pub struct MessageExtOut<'a> {
    /// XEP-0085.
    pub chat_state: Option<ChatState>,
    /// XEP-0184 `<request/>`.
    pub receipt_request: bool,
    /// XEP-0184 `<received id/>`.
    pub receipt_received: Option<&'a str>,
    /// XEP-0333.
    pub marker: Option<MarkerOut<'a>>,
    /// XEP-0308 id of the corrected message.
    pub replace_id: Option<&'a str>,
    /// XEP-0424 id of the retracted message.
    pub retract_id: Option<&'a str>,
    /// XEP-0461 `(to, id)`.
    pub reply: Option<(Option<&'a str>, &'a str)>,
    /// XEP-0066 `(url, desc)`.
    pub oob: Option<(&'a str, Option<&'a str>)>,
    /// XEP-0172.
    pub nick: Option<&'a str>,
    /// XEP-0203 `(stamp, from)`.
    pub delay: Option<(&'a str, Option<&'a str>)>,
    /// XEP-0359 `(id, by)`.
    pub stanza_id: Option<(&'a str, &'a str)>,
    /// XEP-0359 origin id.
    pub origin_id: Option<&'a str>,
    /// XEP-0444 `(message id, emoji)`.
    pub reactions: Option<(&'a str, &'a [&'a str])>,
    /// Trusted raw XML children written as they are (XEP-0071 `<html>` and passthrough);
    /// each must be a well-formed element that declares its own namespace.
    pub raw: &'a [&'a str],
}

/// `<message>` with extensions.
pub fn write_message_with(out: &mut BytesMut, msg: &MessageOut<'_>, ext: &MessageExtOut<'_>) {
    write_message_open(out, msg);
    write_message_children(out, msg);
    if let Some(s) = ext.chat_state {
        empty_ns(out, s.as_str(), ns::CHATSTATES, &[]);
    }
    if ext.receipt_request {
        empty_ns(out, "request", ns::RECEIPTS, &[]);
    }
    if let Some(id) = ext.receipt_received {
        empty_ns(out, "received", ns::RECEIPTS, &[("id", id)]);
    }
    match ext.marker {
        Some(MarkerOut::Markable) => empty_ns(out, "markable", ns::MARKERS, &[]),
        Some(MarkerOut::Received(id)) => empty_ns(out, "received", ns::MARKERS, &[("id", id)]),
        Some(MarkerOut::Displayed(id)) => empty_ns(out, "displayed", ns::MARKERS, &[("id", id)]),
        Some(MarkerOut::Acknowledged(id)) => {
            empty_ns(out, "acknowledged", ns::MARKERS, &[("id", id)])
        }
        None => {}
    }
    if let Some(id) = ext.replace_id {
        empty_ns(out, "replace", ns::CORRECTION, &[("id", id)]);
    }
    if let Some(id) = ext.retract_id {
        empty_ns(out, "retract", ns::RETRACT, &[("id", id)]);
    }
    if let Some((to, id)) = ext.reply {
        match to {
            Some(to) => empty_ns(out, "reply", ns::REPLY, &[("to", to), ("id", id)]),
            None => empty_ns(out, "reply", ns::REPLY, &[("id", id)]),
        }
    }
    if let Some((url, desc)) = ext.oob {
        open_ns(out, "x", ns::OOB, &[]);
        write_text_element(out, "url", url);
        if let Some(d) = desc {
            write_text_element(out, "desc", d);
        }
        out.extend_from_slice(b"</x>");
    }
    if let Some(n) = ext.nick {
        text_ns(out, "nick", ns::NICK, n);
    }
    if let Some((stamp, from)) = ext.delay {
        match from {
            Some(f) => empty_ns(out, "delay", ns::DELAY, &[("from", f), ("stamp", stamp)]),
            None => empty_ns(out, "delay", ns::DELAY, &[("stamp", stamp)]),
        }
    }
    if let Some((id, by)) = ext.stanza_id {
        empty_ns(out, "stanza-id", ns::SID, &[("id", id), ("by", by)]);
    }
    if let Some(id) = ext.origin_id {
        empty_ns(out, "origin-id", ns::SID, &[("id", id)]);
    }
    if let Some((id, emoji)) = ext.reactions {
        open_ns(out, "reactions", ns::REACTIONS, &[("id", id)]);
        for e in emoji {
            write_text_element(out, "reaction", e);
        }
        out.extend_from_slice(b"</reactions>");
    }
    for raw in ext.raw {
        out.extend_from_slice(raw.as_bytes());
    }
    out.extend_from_slice(b"</message>");
}

/// A `<presence/>` to write.
#[derive(Debug, Clone, Copy)]
pub struct PresenceOut<'a> {
    /// `from`.
    pub from: &'a str,
    /// `to` (empty: broadcast, no attribute).
    pub to: &'a str,
    /// `id`.
    pub id: Option<&'a str>,
    /// `type`.
    pub type_: PresenceType,
    /// `<show/>`.
    pub show: Option<Show>,
    /// `<status/>`.
    pub status: Option<&'a str>,
    /// `<priority/>`.
    pub priority: Option<i8>,
    /// XEP-0115 `(node, ver, hash)`.
    pub caps: Option<(&'a str, &'a str, &'a str)>,
    /// XEP-0172 nick.
    pub nick: Option<&'a str>,
    /// `<error/>`.
    pub error: Option<StanzaErrorOut<'a>>,
}

/// `<presence …>…</presence>` (RFC 6121 §4).
pub fn write_presence(out: &mut BytesMut, p: &PresenceOut<'_>) {
    out.extend_from_slice(b"<presence");
    opt_attr(out, "from", p.from);
    opt_attr(out, "to", p.to);
    if let Some(id) = p.id {
        write_attr(out, "id", id);
    }
    if let Some(t) = p.type_.as_str() {
        write_attr(out, "type", t);
    }
    out.extend_from_slice(b">");
    if let Some(s) = p.show {
        write_text_element(out, "show", s.as_str());
    }
    if let Some(s) = p.status {
        write_text_element(out, "status", s);
    }
    if let Some(pr) = p.priority {
        write_text_element(out, "priority", &pr.to_string());
    }
    if let Some((node, ver, hash)) = p.caps {
        empty_ns(
            out,
            "c",
            ns::CAPS,
            &[("hash", hash), ("node", node), ("ver", ver)],
        );
    }
    if let Some(n) = p.nick {
        text_ns(out, "nick", ns::NICK, n);
    }
    if let Some(e) = &p.error {
        write_stanza_error(out, e);
    }
    out.extend_from_slice(b"</presence>");
}

/// An `<iq/>` payload to write.
#[derive(Debug, Clone, Copy)]
pub enum IqPayloadOut<'a> {
    /// No child (a plain result).
    None,
    /// XEP-0199 `<ping/>`.
    Ping,
    /// XEP-0030 disco#info: `(identities (category, type, name), features)`.
    DiscoInfo(&'a [(&'a str, &'a str, &'a str)], &'a [&'a str]),
    /// XEP-0030 empty disco#items.
    DiscoItems,
    /// XEP-0054 vCard `(FN, NICKNAME)`.
    VCard(Option<&'a str>, Option<&'a str>),
    /// Trusted raw XML (a well-formed element declaring its own namespace).
    Raw(&'a str),
}

/// An `<iq/>` to write.
#[derive(Debug, Clone, Copy)]
pub struct IqOut<'a> {
    /// `from`.
    pub from: &'a str,
    /// `to`.
    pub to: &'a str,
    /// `id`.
    pub id: &'a str,
    /// `type`.
    pub type_: IqType,
    /// The payload.
    pub payload: IqPayloadOut<'a>,
    /// `<error/>` (with `type_: Error`).
    pub error: Option<StanzaErrorOut<'a>>,
}

/// `<iq …>…</iq>` (RFC 6120 §8.2.3).
pub fn write_iq(out: &mut BytesMut, iq: &IqOut<'_>) {
    out.extend_from_slice(b"<iq");
    opt_attr(out, "from", iq.from);
    opt_attr(out, "to", iq.to);
    write_attr(out, "id", iq.id);
    write_attr(out, "type", iq.type_.as_str());
    out.extend_from_slice(b">");
    match iq.payload {
        IqPayloadOut::None => {}
        IqPayloadOut::Ping => empty_ns(out, "ping", ns::PING, &[]),
        IqPayloadOut::DiscoInfo(ids, features) => {
            open_ns(out, "query", ns::DISCO_INFO, &[]);
            for (category, type_, name) in ids {
                out.extend_from_slice(b"<identity");
                write_attr(out, "category", category);
                write_attr(out, "type", type_);
                opt_attr(out, "name", name);
                out.extend_from_slice(b"/>");
            }
            for f in features {
                out.extend_from_slice(b"<feature");
                write_attr(out, "var", f);
                out.extend_from_slice(b"/>");
            }
            out.extend_from_slice(b"</query>");
        }
        IqPayloadOut::DiscoItems => empty_ns(out, "query", ns::DISCO_ITEMS, &[]),
        IqPayloadOut::VCard(full_name, nick) => {
            open_ns(out, "vCard", ns::VCARD, &[]);
            if let Some(f) = full_name {
                write_text_element(out, "FN", f);
            }
            if let Some(n) = nick {
                write_text_element(out, "NICKNAME", n);
            }
            out.extend_from_slice(b"</vCard>");
        }
        IqPayloadOut::Raw(xml) => out.extend_from_slice(xml.as_bytes()),
    }
    if let Some(e) = &iq.error {
        write_stanza_error(out, e);
    }
    out.extend_from_slice(b"</iq>");
}

/// An attribute, omitted when empty.
fn opt_attr(out: &mut BytesMut, name: &str, value: &str) {
    if !value.is_empty() {
        write_attr(out, name, value);
    }
}

/// `<name xmlns='ns' attrs…>`.
fn open_ns(out: &mut BytesMut, name: &str, xmlns: &str, attrs: &[(&str, &str)]) {
    out.extend_from_slice(b"<");
    out.extend_from_slice(name.as_bytes());
    write_attr(out, "xmlns", xmlns);
    for (k, v) in attrs {
        write_attr(out, k, v);
    }
    out.extend_from_slice(b">");
}

/// `<name xmlns='ns' attrs…/>`.
fn empty_ns(out: &mut BytesMut, name: &str, xmlns: &str, attrs: &[(&str, &str)]) {
    open_ns(out, name, xmlns, attrs);
    out.truncate(out.len() - 1);
    out.extend_from_slice(b"/>");
}

/// `<name xmlns='ns'>text</name>`.
fn text_ns(out: &mut BytesMut, name: &str, xmlns: &str, text: &str) {
    open_ns(out, name, xmlns, &[]);
    write_text(out, text);
    out.extend_from_slice(b"</");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b">");
}
