//! Canonical events → XMPP stanzas (RFC 6121; XEP-0085, 0184, 0333, 0071, 0444, 0308, 0424,
//! 0461, 0066, 0172, 0203, 0249), written into the caller's buffer.
//!
//! The stanza `id` is the event's own id when it has one (a CPIM `imdn.Message-ID`, so that
//! XMPP receipts name the id the SIP sender knows), else the `id` the caller passes.

use bytes::{BufMut, BytesMut};

use super::address::to_full_jid;
use super::xmpp::{open_message, text_element, write_message};
use super::{BridgeError, ext};
use crate::model::{
    Address, Availability, ChatMessage, ChatStateEvent, Envelope, ErrorAbout, ErrorEvent, Event,
    MessageKind, Presence, Receipt, ReceiptKind, Subscription, SubscriptionKind, Typing,
};
use crate::xmpp::encode::{
    MarkerOut, MessageExtOut, MessageOut, PresenceOut, StanzaErrorOut, escape_into,
    write_message_with, write_presence,
};
use crate::xmpp::ns;
use crate::xmpp::stanza::{ChatState, MessageType, PresenceType, Show};

/// Write the stanza(s) for `event`; returns how many were written.
pub fn write_xmpp_event(
    out: &mut BytesMut,
    event: &Event<'_>,
    id: &str,
) -> Result<usize, BridgeError> {
    Ok(match event {
        Event::Message(m) => {
            write_xmpp_message(out, m, None, id);
            1
        }
        Event::Correction(c) => {
            write_xmpp_message(out, &c.message, Some(&c.replaces), id);
            1
        }
        Event::ChatState(c) => {
            write_xmpp_chat_state(out, c, id);
            1
        }
        Event::Receipt(r) => {
            write_xmpp_receipt(out, r, id);
            1
        }
        Event::Presence(p) => {
            write_xmpp_presence(out, p);
            1
        }
        Event::Subscription(s) => {
            write_xmpp_subscription(out, s);
            1
        }
        Event::Probe(p) => {
            simple_presence(out, &p.from, &p.to, PresenceType::Probe);
            1
        }
        Event::Reaction(r) => {
            let emoji: Vec<&str> = r.emoji.iter().map(|e| e.as_ref()).collect();
            ext_message(
                out,
                &r.env,
                id,
                None,
                &MessageExtOut {
                    reactions: Some((&r.to_id, &emoji)),
                    ..MessageExtOut::default()
                },
            );
            1
        }
        Event::Retraction(r) => {
            // XEP-0424 §5: a fallback body for clients without retraction support.
            ext_message(
                out,
                &r.env,
                id,
                Some(ext::RETRACTION_FALLBACK),
                &MessageExtOut {
                    retract_id: Some(&r.retracts),
                    ..MessageExtOut::default()
                },
            );
            1
        }
        Event::FileLink(f) => {
            let mut n = 0;
            if let Some(t) = &f.text {
                ext_message(out, &f.env, id, Some(t), &MessageExtOut::default());
                n += 1;
            }
            // Clients show a file when the body is the OOB URL (XEP-0066 §3.1 practice).
            let env = Envelope {
                id: if n > 0 { None } else { f.env.id.clone() },
                ..f.env.clone()
            };
            let file_id = format!("{id}-file");
            ext_message(
                out,
                &env,
                if n > 0 { &file_id } else { id },
                Some(&f.url),
                &MessageExtOut {
                    oob: Some((&f.url, f.desc.as_deref())),
                    ..MessageExtOut::default()
                },
            );
            n + 1
        }
        Event::GroupInvite(g) => {
            let mut x = BytesMut::new();
            x.put_slice(b"<x xmlns='jabber:x:conference' jid='");
            escape_into(&mut x, &g.room, true);
            x.put_u8(b'\'');
            for (k, v) in [("reason", &g.reason), ("password", &g.password)] {
                if let Some(v) = v {
                    x.put_slice(format!(" {k}='").as_bytes());
                    escape_into(&mut x, v, true);
                    x.put_u8(b'\'');
                }
            }
            x.put_slice(b"/>");
            let raw = String::from_utf8_lossy(&x).into_owned();
            let text = ext::invite_text(g);
            ext_message(
                out,
                &g.env,
                id,
                Some(&text),
                &MessageExtOut {
                    raw: &[&raw],
                    ..MessageExtOut::default()
                },
            );
            1
        }
        Event::Error(e) => {
            write_xmpp_error(out, e);
            1
        }
    })
}

fn jid(a: &Address<'_>) -> String {
    let mut s = String::with_capacity(a.local.len() + a.domain.len() + 16);
    to_full_jid(a, &mut s);
    s
}

fn message_type(kind: MessageKind) -> MessageType {
    match kind {
        MessageKind::Chat => MessageType::Chat,
        MessageKind::Normal => MessageType::Normal,
        MessageKind::Groupchat => MessageType::Groupchat,
    }
}

fn ext_message(
    out: &mut BytesMut,
    env: &Envelope<'_>,
    id: &str,
    body: Option<&str>,
    ext_out: &MessageExtOut<'_>,
) {
    let (from, to) = (jid(&env.from), jid(&env.to));
    let id = env.id.as_deref().unwrap_or(id);
    let ext_out = &MessageExtOut {
        origin_id: Some(id),
        ..*ext_out
    };
    write_message_with(
        out,
        &MessageOut {
            from: &from,
            to: &to,
            id: Some(id),
            type_: message_type(env.kind),
            lang: None,
            body,
            subject: None,
            thread: env.thread.as_deref(),
            error: None,
        },
        ext_out,
    );
}

/// A message: the plain fast path when it has nothing but RFC 6121 fields, else with its
/// extensions (XHTML-IM, further-language bodies, receipt request, markable, nick, delay,
/// reply, correction).
pub fn write_xmpp_message(
    out: &mut BytesMut,
    m: &ChatMessage<'_>,
    replaces: Option<&str>,
    id: &str,
) {
    let id = m.id.as_deref().unwrap_or(id);
    // The fast writer covers the RFC 6121 children and the nick parley's external marking
    // adds to every message from SIP.
    let plain = m.rich.is_none()
        && m.alt_bodies.is_empty()
        && !m.receipts.any()
        && m.stamp.is_none()
        && m.reply.is_none()
        && replaces.is_none();
    if plain {
        write_message(out, m, id);
    } else {
        write_with_extensions(out, m, replaces, id);
    }
}

/// [`write_xmpp_message`] by the general extension writer.
pub(super) fn write_with_extensions(
    out: &mut BytesMut,
    m: &ChatMessage<'_>,
    replaces: Option<&str>,
    id: &str,
) {
    let mut raw_parts: Vec<String> = Vec::new();
    for (lang, body) in &m.alt_bodies {
        let mut b = BytesMut::new();
        b.put_slice(b"<body xml:lang='");
        escape_into(&mut b, lang, true);
        b.put_slice(b"'>");
        escape_into(&mut b, body, false);
        b.put_slice(b"</body>");
        raw_parts.push(String::from_utf8_lossy(&b).into_owned());
    }
    if let Some(r) = &m.rich {
        raw_parts.push(format!(
            "<html xmlns='{}'><body xmlns='{}'>{r}</body></html>",
            ns::XHTML_IM,
            ns::XHTML
        ));
    }
    let raw: Vec<&str> = raw_parts.iter().map(String::as_str).collect();
    let (from, to) = (jid(&m.from), jid(&m.to));
    write_message_with(
        out,
        &MessageOut {
            from: &from,
            to: &to,
            id: Some(id),
            type_: message_type(m.kind),
            lang: m.lang.as_deref(),
            body: Some(&m.body),
            subject: m.subject.as_deref(),
            thread: m.thread.as_deref(),
            error: None,
        },
        &MessageExtOut {
            receipt_request: m.receipts.delivery,
            marker: m.receipts.display.then_some(MarkerOut::Markable),
            replace_id: replaces,
            reply: m
                .reply
                .as_ref()
                .map(|r| (r.author.as_deref(), r.id.as_ref())),
            nick: m.nick.as_deref(),
            delay: m.stamp.as_deref().map(|s| (s, None)),
            origin_id: Some(id),
            raw: &raw,
            ..MessageExtOut::default()
        },
    );
}

/// XEP-0085 standalone notification (RFC 3994 `active` → `composing`, `idle` → `paused`).
pub fn write_xmpp_chat_state(out: &mut BytesMut, c: &ChatStateEvent<'_>, id: &str) {
    open_message(
        out,
        &c.env.from,
        &c.env.to,
        Some(c.env.id.as_deref().unwrap_or(id)),
        c.env.kind,
        None,
    );
    let state = match c.state {
        Typing::Active => ChatState::Active,
        Typing::Composing => ChatState::Composing,
        Typing::Paused => ChatState::Paused,
        Typing::Inactive => ChatState::Inactive,
        Typing::Gone => ChatState::Gone,
    };
    out.put_u8(b'<');
    out.put_slice(state.as_str().as_bytes());
    out.put_slice(b" xmlns='");
    out.put_slice(ns::CHATSTATES.as_bytes());
    out.put_slice(b"'/>");
    if let Some(t) = &c.env.thread {
        text_element(out, "thread", t);
    }
    out.put_slice(b"</message>");
}

/// IMDN `delivered` → XEP-0184 `<received id/>`; `displayed` → XEP-0333 `<displayed id/>`.
pub fn write_xmpp_receipt(out: &mut BytesMut, r: &Receipt<'_>, id: &str) {
    open_message(
        out,
        &r.env.from,
        &r.env.to,
        Some(r.env.id.as_deref().unwrap_or(id)),
        r.env.kind,
        None,
    );
    let (name, xmlns) = match r.kind {
        ReceiptKind::Delivered => ("received", ns::RECEIPTS),
        ReceiptKind::Displayed => ("displayed", ns::MARKERS),
    };
    out.put_u8(b'<');
    out.put_slice(name.as_bytes());
    out.put_slice(b" xmlns='");
    out.put_slice(xmlns.as_bytes());
    out.put_slice(b"' id='");
    escape_into(out, &r.for_id, true);
    out.put_slice(b"'/>");
    if let Some(t) = &r.env.thread {
        text_element(out, "thread", t);
    }
    out.put_slice(b"</message>");
}

/// One resource's presence (RFC 8048 §5; see [`super::presence`] for the table).
pub fn write_xmpp_presence(out: &mut BytesMut, p: &Presence<'_>) {
    let (from, to) = (jid(&p.from), jid(&p.to));
    let (type_, show) = match p.availability {
        Availability::Available => (PresenceType::Available, None),
        Availability::Chat => (PresenceType::Available, Some(Show::Chat)),
        Availability::Away => (PresenceType::Available, Some(Show::Away)),
        Availability::Xa => (PresenceType::Available, Some(Show::Xa)),
        Availability::Dnd => (PresenceType::Available, Some(Show::Dnd)),
        Availability::Unavailable => (PresenceType::Unavailable, None),
    };
    write_presence(
        out,
        &PresenceOut {
            from: &from,
            to: &to,
            id: None,
            type_,
            show,
            status: p.note.as_deref(),
            priority: p.priority,
            caps: None,
            nick: None,
            error: None,
        },
    );
}

fn simple_presence(out: &mut BytesMut, from: &Address<'_>, to: &Address<'_>, t: PresenceType) {
    let (from, to) = (jid(&from.without_resource()), jid(&to.without_resource()));
    write_presence(
        out,
        &PresenceOut {
            from: &from,
            to: &to,
            id: None,
            type_: t,
            show: None,
            status: None,
            priority: None,
            caps: None,
            nick: None,
            error: None,
        },
    );
}

/// `subscribe` (with the XEP-0172 nick), `subscribed`, `unsubscribe`, `unsubscribed`.
pub fn write_xmpp_subscription(out: &mut BytesMut, s: &Subscription<'_>) {
    let (from, to) = (
        jid(&s.from.without_resource()),
        jid(&s.to.without_resource()),
    );
    write_presence(
        out,
        &PresenceOut {
            from: &from,
            to: &to,
            id: None,
            type_: match s.kind {
                SubscriptionKind::Subscribe => PresenceType::Subscribe,
                SubscriptionKind::Subscribed => PresenceType::Subscribed,
                SubscriptionKind::Unsubscribe => PresenceType::Unsubscribe,
                SubscriptionKind::Unsubscribed => PresenceType::Unsubscribed,
            },
            show: None,
            status: None,
            priority: None,
            caps: None,
            nick: s.nick.as_deref(),
            error: None,
        },
    );
}

/// RFC 7247 §8.2: an error from SIP as a `type='error'` message or presence, from the
/// entity that failed to the original sender, the reason phrase as `<text/>`.
pub fn write_xmpp_error(out: &mut BytesMut, e: &ErrorEvent<'_>) {
    let (from, to) = (jid(&e.from), jid(&e.to));
    let error = StanzaErrorOut {
        type_: e.condition.default_type(),
        condition: e.condition,
        text: e.text.as_deref(),
    };
    match e.about {
        ErrorAbout::Message => write_message_with(
            out,
            &MessageOut {
                from: &from,
                to: &to,
                id: e.id.as_deref(),
                type_: MessageType::Error,
                lang: None,
                body: None,
                subject: None,
                thread: None,
                error: Some(error),
            },
            &MessageExtOut::default(),
        ),
        ErrorAbout::Presence => write_presence(
            out,
            &PresenceOut {
                from: &from,
                to: &to,
                id: e.id.as_deref(),
                type_: PresenceType::Error,
                show: None,
                status: None,
                priority: None,
                caps: None,
                nick: None,
                error: Some(error),
            },
        ),
    }
}
