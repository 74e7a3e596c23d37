//! Canonical events → SIP requests (RFC 3428 MESSAGE with RFC 3862 CPIM and RFC 5438 IMDN,
//! RFC 3994 isComposing, RFC 6665 / RFC 3856 SUBSCRIBE and NOTIFY with PIDF as RFC 8048 maps
//! them), written into the caller's buffer. What a peer can receive is said by
//! [`SipPeerCaps`]; an event the peer cannot take is written as nothing (`Ok(0)`) or as its
//! readable text fallback, never dropped without a word.

use std::borrow::Cow;

use bytes::{BufMut, BytesMut};

use super::presence::{availability_to_pidf, tuple_id_for_resource};
use super::sip::{RequestContext, condition_to_status, is_call_id, is_language_tag};
use super::sip_wire::{Head, finish, header, write_head};
use super::{BridgeError, address, ext};
use crate::model::{
    Address, ChatMessage, ChatStateEvent, ErrorAbout, ErrorCondition, ErrorEvent, Event, Presence,
    Receipt, ReceiptKind, Subscription, SubscriptionKind, Typing,
};
use crate::sip::SipMessage;
use crate::sip::body::imdn::{DispositionStatus, Imdn, NotificationKind};
use crate::sip::body::is_composing::{ComposingState, IsComposing};
use crate::sip::body::pidf;
use crate::sip::encode;

/// What a SIP peer accepts (from configuration or its Accept / Allow-Events).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SipPeerCaps {
    /// `message/cpim` bodies (RFC 3862).
    pub cpim: bool,
    /// IMDN (RFC 5438): disposition requests and notifications.
    pub imdn: bool,
    /// isComposing (RFC 3994): body-less typing MESSAGEs.
    pub is_composing: bool,
    /// `text/html` and `multipart/alternative`.
    pub html: bool,
    /// Which of parley's CPIM extension headers ([`super::ext`]) the peer takes; the others
    /// cross as their readable text fallback.
    pub extensions: ext::Extensions,
}

impl SipPeerCaps {
    /// An RFC 3428 peer: text/plain only.
    pub const PLAIN: SipPeerCaps = SipPeerCaps {
        cpim: false,
        imdn: false,
        is_composing: false,
        html: false,
        extensions: ext::Extensions::NONE,
    };
    /// A SIMPLE peer: CPIM, IMDN, isComposing and HTML, no extension headers (the default).
    pub const SIMPLE: SipPeerCaps = SipPeerCaps {
        cpim: true,
        imdn: true,
        is_composing: true,
        html: true,
        extensions: ext::Extensions::NONE,
    };
    /// A peer that also declared the extension headers.
    pub const EXTENDED: SipPeerCaps = SipPeerCaps {
        extensions: ext::Extensions::ALL,
        ..SipPeerCaps::SIMPLE
    };
}

impl Default for SipPeerCaps {
    fn default() -> Self {
        SipPeerCaps::SIMPLE
    }
}

/// Everything a SIP request needs besides the event.
#[derive(Debug, Clone, Copy)]
pub struct SipOut<'a> {
    /// Via, tags, Call-ID fallback, CSeq.
    pub req: RequestContext<'a>,
    /// The peer's capabilities.
    pub caps: SipPeerCaps,
    /// Dialog Call-ID for SUBSCRIBE refreshes and NOTIFY (overrides the thread).
    pub call_id: Option<&'a str>,
    /// To tag for in-dialog requests.
    pub to_tag: Option<&'a str>,
    /// Contact URI of the gateway (SUBSCRIBE and NOTIFY form dialogs).
    pub contact: &'a str,
    /// SUBSCRIBE `Expires` / NOTIFY `expires` in seconds.
    pub expires: u32,
    /// The current time (RFC 3339) for CPIM `DateTime` when the event carries none.
    pub now: &'a str,
    /// Boundary for multipart bodies.
    pub boundary: &'a str,
}

/// Write the SIP request(s) for `event`; returns how many were written (0: nothing to send
/// to this peer, e.g. a chat state to a peer without isComposing).
pub fn write_sip_event(
    out: &mut BytesMut,
    event: &Event<'_>,
    o: &SipOut<'_>,
) -> Result<usize, BridgeError> {
    write_sip_event_as(out, event, o, None)
}

/// [`write_sip_event`] with `from_name` as the display name of every MESSAGE's From (and
/// of the CPIM From), in place of the sender's own nick: the external label (DESIGN
/// "Policy"). The name is written as an RFC 3261 quoted-string, so it cannot add a header.
pub fn write_sip_event_as(
    out: &mut BytesMut,
    event: &Event<'_>,
    o: &SipOut<'_>,
    from_name: Option<&str>,
) -> Result<usize, BridgeError> {
    let write_im = |out: &mut BytesMut, m: &ChatMessage<'_>, h: &[(String, Cow<'_, str>)]| {
        write_im(out, m, h, o, from_name)
    };
    match event {
        Event::Message(m) => write_im(out, m, &[]),
        Event::ChatState(c) => Ok(write_sip_chat_state_as(out, c, o, from_name)),
        Event::Receipt(r) => Ok(write_sip_receipt_as(out, r, o, from_name)),
        Event::Presence(p) => write_sip_presence(out, std::slice::from_ref(p), o),
        Event::Subscription(s) => Ok(write_sip_subscription(out, s, o)),
        Event::Probe(p) => {
            write_subscribe(out, &p.from, &p.to, None, 0, o);
            Ok(1)
        }
        Event::Reaction(r) => {
            let text = ext::reaction_text(r);
            let mut h: Vec<(String, Cow<'_, str>)> = vec![ext_h("react", "Id", &r.to_id)];
            h.extend(r.emoji.iter().map(|e| ext_h("react", "Emoji", e)));
            let m = envelope_message(&r.env, text);
            write_im(out, &m, &h)
        }
        Event::Correction(c) => {
            let mut m = c.message.clone();
            if !(o.caps.cpim && o.caps.extensions.has("correct")) {
                m.body = Cow::Owned(ext::correction_text(&c.message.body));
                m.rich = None;
            }
            write_im(out, &m, &[ext_h("correct", "Replace", &c.replaces)])
        }
        Event::Retraction(r) => {
            let m = envelope_message(&r.env, ext::RETRACTION_FALLBACK.to_owned());
            write_im(out, &m, &[ext_h("retract", "Id", &r.retracts)])
        }
        Event::FileLink(f) => {
            let m = envelope_message(&f.env, ext::file_text(f));
            let mut h = vec![ext_h("oob", "Url", &f.url), ext_h("oob", "Name", &f.name)];
            if let Some(s) = f.size {
                h.push(("oob.Size".to_owned(), Cow::Owned(s.to_string())));
            }
            if let Some(d) = &f.desc {
                h.push(ext_h("oob", "Desc", d));
            }
            write_im(out, &m, &h)
        }
        Event::GroupInvite(g) => {
            let m = envelope_message(&g.env, ext::invite_text(g));
            let mut h = vec![ext_h("invite", "Room", &g.room)];
            if let Some(r) = &g.reason {
                h.push(ext_h("invite", "Reason", r));
            }
            if let Some(p) = &g.password {
                h.push(ext_h("invite", "Password", p));
            }
            write_im(out, &m, &h)
        }
        Event::Error(e) => Ok(write_sip_error(out, None, e, o)),
    }
}

fn ext_h<'v>(prefix: &str, local: &str, value: &'v str) -> (String, Cow<'v, str>) {
    (format!("{prefix}.{local}"), Cow::Borrowed(value))
}

fn envelope_message<'a>(env: &crate::model::Envelope<'a>, text: String) -> ChatMessage<'a> {
    let mut m = ChatMessage::plain(env.from.clone(), env.to.clone(), Cow::Owned(text));
    m.id = env.id.clone();
    m.thread = env.thread.clone();
    m.kind = env.kind;
    m
}

/// A message as a SIP MESSAGE: text/plain, `multipart/alternative` (rich or several
/// languages, when the peer takes HTML), wrapped in CPIM when receipts are asked for and the
/// peer takes IMDN. The From carries the sender's resource as a GRUU and its nick as the
/// display name.
pub fn write_sip_message(
    out: &mut BytesMut,
    m: &ChatMessage<'_>,
    o: &SipOut<'_>,
) -> Result<usize, BridgeError> {
    write_im(out, m, &[], o, None)
}

/// The plain fast path of [`super::sip::write_message`] (text/plain, no CPIM, From without
/// GRUU), with the message's nick as the From display name: XEP-0172 nick ⇄ SIP display name,
/// and the external label when the router put it there. The name is an RFC 3261
/// quoted-string (`"` and `\` escaped, control characters as spaces), so no header can be
/// injected through it.
pub fn write_plain_message(out: &mut BytesMut, m: &ChatMessage<'_>, ctx: &RequestContext<'_>) {
    let call_id = m
        .thread
        .as_deref()
        .filter(|t| is_call_id(t))
        .unwrap_or(ctx.fallback_call_id);
    let head = Head {
        method: "MESSAGE",
        target: &m.to,
        from: &m.from,
        from_gruu: false,
        from_name: m.nick.as_deref(),
        to: &m.to,
        to_tag: None,
        call_id,
    };
    out.reserve(m.body.len() + 160);
    write_head(out, &head, ctx);
    out.extend_from_slice(b"Content-Type: text/plain;charset=UTF-8\r\n");
    if let Some(s) = &m.subject {
        header(out, "Subject", s);
    }
    if let Some(lang) = m.lang.as_deref().filter(|l| is_language_tag(l)) {
        header(out, "Content-Language", lang);
    }
    finish(out, m.body.as_bytes());
}

/// RFC 5438 §6.3 `imdn.Message-ID` is a CPIM token: bytes outside it (and `%`) are
/// percent-encoded, which [`super::sip_in`] undoes on the notifications that come back.
pub fn imdn_message_id(id: &str) -> Cow<'_, str> {
    let ok = |b: u8| matches!(b, 0x21 | 0x23..=0x24 | 0x26..=0x27 | 0x2a..=0x2b | 0x2d..=0x2e | 0x30..=0x39 | 0x41..=0x5a | 0x5e..=0x7e);
    if id.bytes().all(ok) && !id.is_empty() {
        return Cow::Borrowed(id);
    }
    let mut s = String::with_capacity(id.len() * 3);
    for b in id.bytes() {
        if ok(b) {
            s.push(b as char);
        } else {
            s.push_str(&format!("%{b:02X}"));
        }
    }
    Cow::Owned(s)
}

fn write_im(
    out: &mut BytesMut,
    m: &ChatMessage<'_>,
    ext_headers: &[(String, Cow<'_, str>)],
    o: &SipOut<'_>,
    from_name: Option<&str>,
) -> Result<usize, BridgeError> {
    let name = from_name.or(m.nick.as_deref());
    if m.body.is_empty() {
        return Err(BridgeError::EmptyBody);
    }
    // The payload: plain, or multipart/alternative.
    let mut payload = Vec::with_capacity(m.body.len() + 64);
    let multipart = o.caps.html && (m.rich.is_some() || !m.alt_bodies.is_empty());
    let payload_type: Cow<'_, str> = if multipart {
        let boundary = safe_boundary(o.boundary, m);
        write_alternative(&mut payload, m, &boundary);
        Cow::Owned(format!("multipart/alternative;boundary={boundary}"))
    } else {
        payload.extend_from_slice(m.body.as_bytes());
        Cow::Borrowed("text/plain;charset=UTF-8")
    };
    let known = |h: &&(String, Cow<'_, str>)| o.caps.extensions.has_header(&h.0);
    let with_reply = o.caps.cpim && m.reply.is_some() && o.caps.extensions.has("reply");
    let with_ext = o.caps.cpim && ext_headers.iter().any(|h| known(&h));
    let with_imdn = o.caps.cpim && o.caps.imdn && m.receipts.any();
    let (body, content_type) = if with_ext || with_imdn || with_reply {
        let mut cpim = Vec::with_capacity(payload.len() + 256);
        write_cpim_headers(
            &mut cpim,
            &m.from,
            name,
            &m.to,
            m.stamp.as_deref().unwrap_or(o.now),
        );
        if let Some(s) = &m.subject {
            cpim_header(&mut cpim, "Subject", s);
        }
        if with_imdn {
            cpim_header(&mut cpim, "NS", "imdn <urn:ietf:params:imdn>");
            let id = m.id.as_deref().unwrap_or(o.req.fallback_call_id);
            cpim_header(&mut cpim, "imdn.Message-ID", &imdn_message_id(id));
            let d = match (m.receipts.delivery, m.receipts.display) {
                (true, true) => "positive-delivery, display",
                (true, false) => "positive-delivery",
                _ => "display",
            };
            cpim_header(&mut cpim, "imdn.Disposition-Notification", d);
        }
        let mut reply_h = Vec::new();
        if let (true, Some(r)) = (with_reply, &m.reply) {
            reply_h.push(ext_h("reply", "Id", &r.id));
            if let Some(a) = &r.author {
                reply_h.push(ext_h("reply", "To", a));
            }
        }
        write_ext_headers(&mut cpim, ext_headers.iter().filter(known).chain(&reply_h));
        cpim.extend_from_slice(b"\r\nContent-Type: ");
        cpim.extend_from_slice(payload_type.as_bytes());
        cpim.extend_from_slice(b"\r\n\r\n");
        cpim.extend_from_slice(&payload);
        (cpim, Cow::Borrowed("message/cpim"))
    } else {
        (payload, payload_type)
    };
    let call_id = o.call_id.unwrap_or_else(|| {
        m.thread
            .as_deref()
            .filter(|t| is_call_id(t))
            .unwrap_or(o.req.fallback_call_id)
    });
    let head = Head {
        method: "MESSAGE",
        target: &m.to,
        from: &m.from,
        from_gruu: true,
        from_name: name,
        to: &m.to,
        to_tag: o.to_tag,
        call_id,
    };
    write_head(out, &head, &o.req);
    header(out, "Content-Type", &content_type);
    if let (Some(s), false) = (&m.subject, content_type == "message/cpim") {
        header(out, "Subject", s);
    }
    if let Some(lang) = m.lang.as_deref().filter(|l| is_language_tag(l)) {
        header(out, "Content-Language", lang);
    }
    finish(out, &body);
    Ok(1)
}

/// `base`, or `base-NNNNNNNN` when the message text holds `base`: a boundary must not occur in
/// any part (RFC 2046 §5.1.1), else a sender could forge parts. Each position of the text
/// matches at most one fixed-width candidate, so the search ends within (occurrences + 1) tries.
fn safe_boundary<'b>(base: &'b str, m: &ChatMessage<'_>) -> Cow<'b, str> {
    let texts = || {
        std::iter::once(m.body.as_ref())
            .chain(m.alt_bodies.iter().map(|(_, b)| b.as_ref()))
            .chain(m.rich.as_deref())
    };
    if !texts().any(|t| t.contains(base)) {
        return Cow::Borrowed(base);
    }
    (0u32..)
        .map(|n| format!("{base}-{n:08x}"))
        .find(|b| !texts().any(|t| t.contains(b.as_str())))
        .map_or(Cow::Borrowed(base), Cow::Owned)
}

fn write_alternative(out: &mut Vec<u8>, m: &ChatMessage<'_>, boundary: &str) {
    let mut part = |ct: &str, lang: Option<&str>, content: &[u8]| {
        out.extend_from_slice(b"--");
        out.extend_from_slice(boundary.as_bytes());
        out.extend_from_slice(b"\r\nContent-Type: ");
        out.extend_from_slice(ct.as_bytes());
        if let Some(l) = lang.filter(|l| is_language_tag(l)) {
            out.extend_from_slice(b"\r\nContent-Language: ");
            out.extend_from_slice(l.as_bytes());
        }
        out.extend_from_slice(b"\r\n\r\n");
        out.extend_from_slice(content);
        out.extend_from_slice(b"\r\n");
    };
    part(
        "text/plain;charset=UTF-8",
        m.lang.as_deref(),
        m.body.as_bytes(),
    );
    for (lang, body) in &m.alt_bodies {
        part("text/plain;charset=UTF-8", Some(lang), body.as_bytes());
    }
    if let Some(r) = &m.rich {
        let html = format!("<html><body>{r}</body></html>");
        part(
            "text/html;charset=UTF-8",
            m.lang.as_deref(),
            html.as_bytes(),
        );
    }
    out.extend_from_slice(b"--");
    out.extend_from_slice(boundary.as_bytes());
    out.extend_from_slice(b"--\r\n");
}

/// A CPIM header line; CR/LF in the value become spaces.
fn cpim_header(out: &mut Vec<u8>, name: &str, value: &str) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    for b in value.bytes() {
        out.push(if b == b'\r' || b == b'\n' { b' ' } else { b });
    }
    out.extend_from_slice(b"\r\n");
}

/// RFC 3862 §3.3 From, To and DateTime.
fn write_cpim_headers(
    out: &mut Vec<u8>,
    from: &Address<'_>,
    nick: Option<&str>,
    to: &Address<'_>,
    datetime: &str,
) {
    let mut uri = BytesMut::new();
    address::write_im_uri(&mut uri, from);
    let from_v = match nick.filter(|n| !n.trim().is_empty()) {
        Some(n) => format!(
            "\"{}\" <{}>",
            n.trim().replace(['"', '\\'], ""),
            String::from_utf8_lossy(&uri)
        ),
        None => format!("<{}>", String::from_utf8_lossy(&uri)),
    };
    cpim_header(out, "From", &from_v);
    uri.clear();
    address::write_im_uri(&mut uri, to);
    cpim_header(out, "To", &format!("<{}>", String::from_utf8_lossy(&uri)));
    cpim_header(out, "DateTime", datetime);
}

/// Extension headers with an `NS:` declaration before the first header of each namespace.
fn write_ext_headers<'h, 'v: 'h>(
    out: &mut Vec<u8>,
    headers: impl Iterator<Item = &'h (String, Cow<'v, str>)> + Clone,
) {
    for (prefix, urn) in ext::NAMESPACES {
        let mine = headers
            .clone()
            .filter(|(n, _)| n.split_once('.').is_some_and(|(p, _)| p == *prefix));
        let mut declared = false;
        for (n, v) in mine {
            if !declared {
                cpim_header(out, "NS", &format!("{prefix} <{urn}>"));
                declared = true;
            }
            cpim_header(out, n, v);
        }
    }
}

/// RFC 3994: a typing indication as a body-less (isComposing) MESSAGE, only to peers that
/// accept it (DESIGN: never send one to a peer that did not). XEP-0085 `composing` is
/// `active`; `paused`, `active`, `inactive` and `gone` are `idle`.
pub fn write_sip_chat_state(out: &mut BytesMut, c: &ChatStateEvent<'_>, o: &SipOut<'_>) -> usize {
    write_sip_chat_state_as(out, c, o, None)
}

fn write_sip_chat_state_as(
    out: &mut BytesMut,
    c: &ChatStateEvent<'_>,
    o: &SipOut<'_>,
    from_name: Option<&str>,
) -> usize {
    if !o.caps.is_composing {
        return 0;
    }
    let doc = IsComposing {
        state: match c.state {
            Typing::Composing => ComposingState::Active,
            Typing::Active | Typing::Paused | Typing::Inactive | Typing::Gone => {
                ComposingState::Idle
            }
        },
        last_active: None,
        content_type: Some("text/plain".to_owned()),
        refresh: c.refresh.filter(|_| c.state == Typing::Composing),
    };
    let call_id = pick_call_id(c.env.thread.as_deref(), o);
    let head = Head {
        method: "MESSAGE",
        target: &c.env.to,
        from: &c.env.from,
        from_gruu: true,
        from_name,
        to: &c.env.to,
        to_tag: o.to_tag,
        call_id,
    };
    write_head(out, &head, &o.req);
    header(out, "Content-Type", "application/im-iscomposing+xml");
    finish(out, doc.to_xml().as_bytes());
    1
}

fn pick_call_id<'x>(thread: Option<&'x str>, o: &SipOut<'x>) -> &'x str {
    o.call_id.unwrap_or_else(|| {
        thread
            .filter(|t| is_call_id(t))
            .unwrap_or(o.req.fallback_call_id)
    })
}

/// RFC 5438 §7: a receipt as an IMDN inside CPIM (`Content-Disposition: notification`), only
/// to peers that take IMDN. `for_id` is written as it is: receipts from XMPP are about
/// messages that came from SIP, whose ids are SIP's own.
pub fn write_sip_receipt(out: &mut BytesMut, r: &Receipt<'_>, o: &SipOut<'_>) -> usize {
    write_sip_receipt_as(out, r, o, None)
}

fn write_sip_receipt_as(
    out: &mut BytesMut,
    r: &Receipt<'_>,
    o: &SipOut<'_>,
    from_name: Option<&str>,
) -> usize {
    if !(o.caps.cpim && o.caps.imdn) {
        return 0;
    }
    let (kind, status) = match r.kind {
        ReceiptKind::Delivered => (NotificationKind::Delivery, DispositionStatus::Delivered),
        ReceiptKind::Displayed => (NotificationKind::Display, DispositionStatus::Displayed),
    };
    let mut rcpt = BytesMut::new();
    address::write_im_uri(&mut rcpt, &r.env.from);
    let doc = Imdn {
        message_id: r.for_id.to_string(),
        datetime: r.datetime.as_deref().unwrap_or(o.now).to_owned(),
        recipient_uri: Some(String::from_utf8_lossy(&rcpt).into_owned()),
        original_recipient_uri: None,
        kind,
        status,
    };
    let mut body = Vec::with_capacity(512);
    write_cpim_headers(&mut body, &r.env.from, from_name, &r.env.to, o.now);
    cpim_header(&mut body, "NS", "imdn <urn:ietf:params:imdn>");
    let own_id = r.env.id.as_deref().unwrap_or(o.req.fallback_call_id);
    cpim_header(&mut body, "imdn.Message-ID", &imdn_message_id(own_id));
    body.extend_from_slice(
        b"\r\nContent-Type: message/imdn+xml\r\nContent-Disposition: notification\r\n\r\n",
    );
    body.extend_from_slice(doc.to_xml().as_bytes());
    let call_id = pick_call_id(r.env.thread.as_deref(), o);
    let head = Head {
        method: "MESSAGE",
        target: &r.env.to,
        from: &r.env.from,
        from_gruu: true,
        from_name,
        to: &r.env.to,
        to_tag: o.to_tag,
        call_id,
    };
    write_head(out, &head, &o.req);
    header(out, "Content-Type", "message/cpim");
    finish(out, &body);
    1
}

/// A NOTIFY carrying the presence of one user's resources as PIDF, one tuple per resource
/// (RFC 8048 §6; `<priority/>` not copied). All entries must share `from` (bare) and `to`.
/// The person-level RPID activity is the first available resource's.
pub fn write_sip_presence(
    out: &mut BytesMut,
    presences: &[Presence<'_>],
    o: &SipOut<'_>,
) -> Result<usize, BridgeError> {
    let first = presences.first().ok_or(BridgeError::Malformed)?;
    let doc = pidf_document(&first.from, presences);
    write_notify(
        out,
        &first.from,
        &first.to,
        "active",
        Some(&doc.to_xml()),
        o,
    );
    Ok(1)
}

fn pidf_document(presentity: &Address<'_>, presences: &[Presence<'_>]) -> pidf::Presence {
    let mut entity = BytesMut::with_capacity(presentity.local.len() + presentity.domain.len() + 16);
    address::write_uri_as(&mut entity, "pres", presentity);
    let mut doc = pidf::Presence {
        entity: String::from_utf8_lossy(&entity).into_owned(),
        tuples: Vec::with_capacity(presences.len()),
        ..pidf::Presence::default()
    };
    for p in presences {
        let (basic, activity) = availability_to_pidf(p.availability);
        if doc.activities.is_empty() {
            doc.activities.extend(activity);
        }
        let id = p
            .from
            .resource
            .as_deref()
            .map_or(Cow::Borrowed("gw"), |r| tuple_id_for_resource(r));
        doc.tuples.push(pidf::Tuple {
            id: id.into_owned(),
            basic: Some(basic),
            contact: None,
            priority: None,
            notes: p
                .note
                .iter()
                .map(|n| pidf::Note {
                    lang: p.lang.as_ref().map(|l| l.to_string()),
                    text: n.to_string(),
                })
                .collect(),
        });
    }
    doc
}

/// DESIGN presence table, XMPP → SIP: `subscribe` → SUBSCRIBE (Event: presence, Accept:
/// application/pidf+xml); `unsubscribe` → SUBSCRIBE Expires: 0; `subscribed` → NOTIFY
/// active (a PIDF without tuples: no state yet; the presence follows); `unsubscribed` →
/// NOTIFY terminated;reason=rejected.
pub fn write_sip_subscription(out: &mut BytesMut, s: &Subscription<'_>, o: &SipOut<'_>) -> usize {
    match s.kind {
        SubscriptionKind::Subscribe => {
            write_subscribe(out, &s.from, &s.to, s.nick.as_deref(), o.expires, o)
        }
        SubscriptionKind::Unsubscribe => write_subscribe(out, &s.from, &s.to, None, 0, o),
        SubscriptionKind::Subscribed => {
            let doc = pidf_document(&s.from, &[]);
            write_notify(out, &s.from, &s.to, "active", Some(&doc.to_xml()), o)
        }
        SubscriptionKind::Unsubscribed => {
            write_notify(out, &s.from, &s.to, "terminated;reason=rejected", None, o)
        }
    }
    1
}

fn write_subscribe(
    out: &mut BytesMut,
    from: &Address<'_>,
    to: &Address<'_>,
    nick: Option<&str>,
    expires: u32,
    o: &SipOut<'_>,
) {
    presence_head(out, "SUBSCRIBE", from, to, nick, o);
    out.put_slice(b"Accept: application/pidf+xml\r\nExpires: ");
    encode::put_decimal(out, u64::from(expires));
    out.put_slice(b"\r\n");
    finish(out, b"");
}

/// The head of a presence request (RFC 6665) between bare addresses: start line and core
/// headers, Contact, and `Event: presence`.
fn presence_head(
    out: &mut BytesMut,
    method: &str,
    from: &Address<'_>,
    to: &Address<'_>,
    from_name: Option<&str>,
    o: &SipOut<'_>,
) {
    let target = to.without_resource();
    let head = Head {
        method,
        target: &target,
        from: &from.without_resource(),
        from_gruu: false,
        from_name,
        to: &target,
        to_tag: o.to_tag,
        call_id: o.call_id.unwrap_or(o.req.fallback_call_id),
    };
    write_head(out, &head, &o.req);
    contact(out, o);
    out.put_slice(b"Event: presence\r\n");
}

fn contact(out: &mut BytesMut, o: &SipOut<'_>) {
    out.put_slice(b"Contact: <");
    out.put_slice(o.contact.as_bytes());
    out.put_slice(b">\r\n");
}

fn write_notify(
    out: &mut BytesMut,
    from: &Address<'_>,
    to: &Address<'_>,
    state: &str,
    pidf_body: Option<&str>,
    o: &SipOut<'_>,
) {
    presence_head(out, "NOTIFY", from, to, None, o);
    out.put_slice(b"Subscription-State: ");
    out.put_slice(state.as_bytes());
    if state == "active" {
        out.put_slice(b";expires=");
        encode::put_decimal(out, u64::from(o.expires));
    }
    out.put_slice(b"\r\n");
    match pidf_body {
        Some(b) => {
            header(out, "Content-Type", pidf::CONTENT_TYPE);
            finish(out, b.as_bytes());
        }
        None => finish(out, b""),
    }
}

/// RFC 7247 §8.1: an XMPP error as SIP. About a message: the final response to the MESSAGE
/// (`req`, when the caller still has it; else the status line with From and To, for
/// `parley translate`), code from the table, `<text/>` as reason phrase when it is one.
/// About a subscription: NOTIFY terminated, reason `noresource` for conditions that say the
/// user does not exist, `rejected` otherwise.
pub fn write_sip_error(
    out: &mut BytesMut,
    req: Option<&SipMessage>,
    e: &ErrorEvent<'_>,
    o: &SipOut<'_>,
) -> usize {
    if e.about == ErrorAbout::Presence {
        let reason = match e.condition {
            ErrorCondition::ItemNotFound
            | ErrorCondition::RemoteServerNotFound
            | ErrorCondition::Gone
            | ErrorCondition::JidMalformed => "terminated;reason=noresource",
            _ => "terminated;reason=rejected",
        };
        write_notify(out, &e.from, &e.to, reason, None, o);
        return 1;
    }
    let (code, default_reason) = condition_to_status(e.condition);
    let reason = e
        .text
        .as_deref()
        .filter(|t| t.len() <= 128 && !t.is_empty() && !t.chars().any(char::is_control))
        .unwrap_or(default_reason);
    match req {
        Some(req) => encode::write_response(out, req, code, reason, Some(o.req.from_tag), &[], b""),
        None => {
            out.put_slice(b"SIP/2.0 ");
            encode::put_decimal(out, u64::from(code));
            out.put_u8(b' ');
            out.put_slice(reason.as_bytes());
            out.put_slice(b"\r\nFrom: <");
            address::write_sip_uri(out, &e.to, true);
            out.put_slice(b">\r\nTo: <");
            address::write_sip_uri(out, &e.from, false);
            out.put_slice(b">;tag=");
            out.put_slice(o.req.from_tag.as_bytes());
            out.put_slice(b"\r\n");
            finish(out, b"");
        }
    }
    1
}

#[cfg(test)]
#[path = "sip_out_tests.rs"]
mod tests;
