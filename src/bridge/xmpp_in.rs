//! XMPP → canonical events (RFC 6121 messages and presence; XEP-0085, 0184, 0333, 0071,
//! 0444, 0308, 0424, 0461, 0066, 0172, 0203, 0249). Pure functions over the codec's views.
//!
//! One stanza gives one event, or two when a body-less message carries both a chat state and
//! a receipt. A message with a body and an extension that defines it (reactions,
//! retraction, file link, invitation, correction) is that extension's event, the body being
//! its fallback; the chat state riding on a message with a body is implied by the message.

use std::borrow::Cow;

use super::xmpp::jid_address;
use super::{BridgeError, ext, html};
use crate::model::{
    Address, Availability, ChatMessage, ChatStateEvent, Correction, Envelope, ErrorAbout,
    ErrorCondition, ErrorEvent, Event, FileLink, GroupInvite, MessageKind, Passthrough, Presence,
    Probe, Reaction, Receipt, ReceiptKind, ReceiptRequest, ReplyTo, Retraction, Subscription,
    SubscriptionKind, Typing,
};
use crate::xmpp::stanza::{
    ChatState, Element, Marker, MessageType, MessageView, PresenceType, PresenceView, Show,
    StanzaErrorView,
};

/// Every canonical event an XMPP element carries. Non-stanza elements and iq are not
/// interworked.
pub fn events_from_xmpp<'a>(el: &Element<'a>) -> Result<Vec<Event<'a>>, BridgeError> {
    match el {
        Element::Message(m) => events_from_message(m),
        Element::Presence(p) => events_from_presence(p),
        _ => Err(BridgeError::NotInterworked),
    }
}

fn addresses<'a>(
    from: &Option<Cow<'a, str>>,
    to: &Option<Cow<'a, str>>,
) -> Result<(Address<'a>, Address<'a>), BridgeError> {
    Ok((
        jid_address(from.as_ref().ok_or(BridgeError::Malformed)?)?,
        jid_address(to.as_ref().ok_or(BridgeError::Malformed)?)?,
    ))
}

fn error_event<'a>(
    from: Address<'a>,
    to: Address<'a>,
    id: Option<Cow<'a, str>>,
    about: ErrorAbout,
    e: Option<&StanzaErrorView<'a>>,
) -> Event<'a> {
    Event::Error(ErrorEvent {
        from,
        to,
        id,
        about,
        condition: e.map_or(ErrorCondition::UndefinedCondition, |e| e.condition),
        text: e.and_then(|e| e.text.clone()),
        sip_status: None,
    })
}

/// A `<message/>` as events.
pub fn events_from_message<'a>(m: &MessageView<'a>) -> Result<Vec<Event<'a>>, BridgeError> {
    let (from, to) = addresses(&m.from, &m.to)?;
    let kind = match m.type_ {
        MessageType::Chat => MessageKind::Chat,
        MessageType::Normal => MessageKind::Normal,
        MessageType::Error => {
            return Ok(vec![error_event(
                from,
                to,
                m.id.clone(),
                ErrorAbout::Message,
                m.error.as_ref(),
            )]);
        }
        // Groupchat needs a room mapping (RFC 7702), headlines have no SIP counterpart.
        MessageType::Groupchat | MessageType::Headline => {
            return Err(BridgeError::NotInterworked);
        }
    };
    let env = Envelope {
        from: from.clone(),
        to: to.clone(),
        id: m.id.clone(),
        thread: m.thread.clone(),
        kind,
    };
    let body = m.body.clone().filter(|b| !b.trim().is_empty());
    if let Some(r) = &m.reactions {
        return Ok(vec![Event::Reaction(Reaction {
            env,
            to_id: r.id.clone(),
            emoji: r.iter().filter(|e| !e.trim().is_empty()).collect(),
        })]);
    }
    if let Some(retracts) = &m.retract_id {
        return Ok(vec![Event::Retraction(Retraction {
            env,
            retracts: retracts.clone(),
        })]);
    }
    if let Some(invite) = m
        .children()
        .find(|c| c.ns == ext::CONFERENCE && c.name == "x")
    {
        let room = invite.attr("jid").ok_or(BridgeError::Malformed)?;
        return Ok(vec![Event::GroupInvite(GroupInvite {
            env,
            room,
            reason: invite.attr("reason"),
            password: invite.attr("password"),
        })]);
    }
    if let Some(oob) = &m.oob {
        let name = match &oob.url {
            Cow::Borrowed(u) => ext::file_name(u),
            Cow::Owned(u) => Cow::Owned(ext::file_name(u).into_owned()),
        };
        return Ok(vec![Event::FileLink(FileLink {
            url: oob.url.clone(),
            name,
            size: None,
            desc: oob.desc.clone(),
            text: body.filter(|b| b.trim() != oob.url.trim()),
            env,
        })]);
    }
    let Some(body) = body else {
        return Ok(bodyless(m, env));
    };
    let mut msg = ChatMessage::plain(from, to, body);
    msg.thread = m.thread.clone();
    msg.kind = kind;
    msg.subject = m.subject.clone();
    msg.lang = m.body_lang.clone().or_else(|| m.lang.clone());
    msg.id = m.id.clone();
    msg.rich = m.xhtml.and_then(html::sanitize).map(Cow::Owned);
    msg.alt_bodies = m
        .bodies()
        .skip(1)
        .filter_map(|(lang, text)| Some((lang?, text)))
        .filter(|(l, _)| Some(l) != msg.lang.as_ref())
        .collect();
    msg.nick = m.nick.clone();
    msg.receipts = ReceiptRequest {
        delivery: m.receipt_request,
        display: m.marker == Some(Marker::Markable),
    };
    msg.stamp = m.delay.as_ref().map(|d| d.stamp.clone());
    msg.reply = m.reply.as_ref().map(|r| ReplyTo {
        id: r.id.clone(),
        author: r.to.clone(),
    });
    msg.passthrough = m
        .unknown_children()
        .filter(|c| c.ns != ext::CONFERENCE)
        .map(|c| Passthrough::Xml(c.self_contained()))
        .collect();
    Ok(vec![match &m.replace_id {
        Some(replaces) => Event::Correction(Correction {
            message: msg,
            replaces: replaces.clone(),
        }),
        None => Event::Message(msg),
    }])
}

/// A message without a body: receipts, markers, chat states (XEP-0085 §5.2 standalone
/// notifications). XEP-0333 `acknowledged` has no IMDN counterpart.
fn bodyless<'a>(m: &MessageView<'a>, env: Envelope<'a>) -> Vec<Event<'a>> {
    let mut out = Vec::new();
    let receipt = |kind, id: &Cow<'a, str>| {
        Event::Receipt(Receipt {
            env: env.clone(),
            kind,
            for_id: id.clone(),
            datetime: None,
        })
    };
    if let Some(id) = &m.receipt_received {
        out.push(receipt(ReceiptKind::Delivered, id));
    }
    match &m.marker {
        Some(Marker::Received(id)) if m.receipt_received.is_none() => {
            out.push(receipt(ReceiptKind::Delivered, id))
        }
        Some(Marker::Displayed(id)) => out.push(receipt(ReceiptKind::Displayed, id)),
        _ => {}
    }
    if let Some(s) = m.chat_state {
        out.push(Event::ChatState(ChatStateEvent {
            env,
            state: match s {
                ChatState::Active => Typing::Active,
                ChatState::Composing => Typing::Composing,
                ChatState::Paused => Typing::Paused,
                ChatState::Inactive => Typing::Inactive,
                ChatState::Gone => Typing::Gone,
            },
            refresh: None,
        }));
    }
    out
}

/// A `<presence/>` as events (RFC 6121 §3–4, DESIGN presence table).
pub fn events_from_presence<'a>(p: &PresenceView<'a>) -> Result<Vec<Event<'a>>, BridgeError> {
    let (from, to) = addresses(&p.from, &p.to)?;
    let sub = |kind| {
        Event::Subscription(Subscription {
            from: from.without_resource().into_owned(),
            to: to.without_resource().into_owned(),
            kind,
            nick: p.nick.clone(),
        })
    };
    let presence = |availability| {
        Event::Presence(Presence {
            from: from.clone(),
            to: to.clone(),
            availability,
            note: p.status.clone(),
            lang: p.lang.clone(),
            priority: p.priority,
        })
    };
    Ok(vec![match p.type_.ok_or(BridgeError::Malformed)? {
        PresenceType::Available => presence(match p.show {
            None => Availability::Available,
            Some(Show::Chat) => Availability::Chat,
            Some(Show::Away) => Availability::Away,
            Some(Show::Xa) => Availability::Xa,
            Some(Show::Dnd) => Availability::Dnd,
        }),
        PresenceType::Unavailable => presence(Availability::Unavailable),
        PresenceType::Subscribe => sub(SubscriptionKind::Subscribe),
        PresenceType::Subscribed => sub(SubscriptionKind::Subscribed),
        PresenceType::Unsubscribe => sub(SubscriptionKind::Unsubscribe),
        PresenceType::Unsubscribed => sub(SubscriptionKind::Unsubscribed),
        PresenceType::Probe => Event::Probe(Probe {
            from: from.without_resource().into_owned(),
            to: to.without_resource().into_owned(),
        }),
        PresenceType::Error => error_event(
            from.clone(),
            to.clone(),
            p.id.clone(),
            ErrorAbout::Presence,
            p.error.as_ref(),
        ),
    }])
}
