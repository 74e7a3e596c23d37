//! XMPP → canonical events (RFC 6121 messages and presence; XEP-0085, 0184, 0333, 0071,
//! 0444, 0308, 0424, 0461, 0066, 0172, 0203, 0249). Pure functions over the codec's views.
//!
//! A message with a body and an extension that defines it (reactions, retraction, file link,
//! invitation, correction) is that extension's event, the body being its fallback. Whatever
//! else the stanza carries follows as events of their own, so nothing is lost: a receipt
//! (XEP-0184 `<received/>`) or marker (XEP-0333 `<received/>`, `<displayed/>`) riding on a
//! message is a receipt event after it, and so is a chat state that the message does not
//! imply. XEP-0085 puts `<active/>` on content messages, and an RFC 3994 receiver shows the
//! sender as idle once a content message arrives, so `active`, `paused` and
//! `inactive` with a body are implied by the message, while `composing` (typing again) and
//! `gone` (the conversation ends, which may end an IM session) follow it. A body-less message
//! gives its receipts and its chat state, whatever the state.

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
        id: sender_id(m),
        thread: m.thread.clone(),
        kind,
    };
    let body = m.body.clone().filter(|b| !b.trim().is_empty());
    let with_riders = |main: Event<'a>, env: &Envelope<'a>| {
        let mut out = vec![main];
        riders(m, env, true, &mut out);
        out
    };
    if let Some(r) = &m.reactions {
        let e = Event::Reaction(Reaction {
            env: env.clone(),
            to_id: r.id.clone(),
            emoji: r.iter().filter(|e| !e.trim().is_empty()).collect(),
        });
        return Ok(with_riders(e, &env));
    }
    if let Some(retracts) = &m.retract_id {
        let e = Event::Retraction(Retraction {
            env: env.clone(),
            retracts: retracts.clone(),
        });
        return Ok(with_riders(e, &env));
    }
    if let Some(invite) = m
        .children()
        .find(|c| c.ns == ext::CONFERENCE && c.name == "x")
    {
        let room = invite.attr("jid").ok_or(BridgeError::Malformed)?;
        let e = Event::GroupInvite(GroupInvite {
            env: env.clone(),
            room,
            reason: invite.attr("reason"),
            password: invite.attr("password"),
        });
        return Ok(with_riders(e, &env));
    }
    if let Some(oob) = &m.oob {
        let name = match &oob.url {
            Cow::Borrowed(u) => ext::file_name(u),
            Cow::Owned(u) => Cow::Owned(ext::file_name(u).into_owned()),
        };
        let e = Event::FileLink(FileLink {
            url: oob.url.clone(),
            name,
            size: None,
            desc: oob.desc.clone(),
            text: body.filter(|b| b.trim() != oob.url.trim()),
            env: env.clone(),
        });
        return Ok(with_riders(e, &env));
    }
    let Some(body) = body else {
        let mut out = Vec::new();
        riders(m, &env, false, &mut out);
        return Ok(out);
    };
    let mut msg = ChatMessage::plain(from, to, body);
    msg.thread = m.thread.clone();
    msg.kind = kind;
    msg.subject = m.subject.clone();
    msg.lang = m.body_lang.clone().or_else(|| m.lang.clone());
    msg.id = env.id.clone();
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
    let main = match &m.replace_id {
        Some(replaces) => Event::Correction(Correction {
            message: msg,
            replaces: replaces.clone(),
        }),
        None => Event::Message(msg),
    };
    Ok(with_riders(main, &env))
}

/// The id the XMPP sender knows its message by, for the SIP side to name in receipts and
/// references (`imdn.Message-ID`): XEP-0359 `<origin-id/>` first (the originating client's
/// own id, which servers must keep, §2.2), then the stanza `id`, then a `<stanza-id/>` set
/// `by` the sender's own account (its archive id, which its clients also know).
fn sender_id<'a>(m: &MessageView<'a>) -> Option<Cow<'a, str>> {
    let archived = || {
        let sid = m.stanza_id.as_ref()?;
        let bare = m.from.as_deref()?.split('/').next()?;
        sid.by.eq_ignore_ascii_case(bare).then(|| sid.id.clone())
    };
    m.origin_id
        .clone()
        .filter(|o| !o.is_empty())
        .or_else(|| m.id.clone())
        .or_else(archived)
}

/// The receipts, markers and chat state a message carries (XEP-0085 §5.2 standalone
/// notifications when it has no content), appended to `out`. `with_content`: they ride on a
/// content event, so they take no id of their own (the stanza id is the content's) and
/// chat states the content implies are left out (module docs). XEP-0333 `acknowledged` has
/// no IMDN counterpart.
fn riders<'a>(
    m: &MessageView<'a>,
    env: &Envelope<'a>,
    with_content: bool,
    out: &mut Vec<Event<'a>>,
) {
    let env = Envelope {
        id: if with_content { None } else { env.id.clone() },
        ..env.clone()
    };
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
    let state = match m.chat_state {
        Some(ChatState::Composing) => Typing::Composing,
        Some(ChatState::Gone) => Typing::Gone,
        _ if with_content => return,
        Some(ChatState::Active) => Typing::Active,
        Some(ChatState::Paused) => Typing::Paused,
        Some(ChatState::Inactive) => Typing::Inactive,
        None => return,
    };
    out.push(Event::ChatState(ChatStateEvent {
        env,
        state,
        refresh: None,
    }));
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
