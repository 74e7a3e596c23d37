//! XMPP ⇄ model (RFC 7572 for messages, RFC 7247 §8 for errors). Pure functions.

use std::borrow::Cow;

use bytes::BytesMut;

use super::{BridgeError, address};
use crate::model::{ChatMessage, DeliveryError, MessageKind};
use crate::xmpp::encode::{self, MessageOut, StanzaErrorOut};
use crate::xmpp::stanza::{MessageType, MessageView};

/// An XMPP `<message/>` with a body to the canonical message.
pub fn message_from_xmpp<'a>(m: &MessageView<'a>) -> Result<ChatMessage<'a>, BridgeError> {
    let from = address::from_jid(m.from.as_deref().ok_or(BridgeError::Malformed)?)?;
    let to = address::from_jid(m.to.as_deref().ok_or(BridgeError::Malformed)?)?;
    let kind = match m.type_ {
        MessageType::Chat => MessageKind::Chat,
        MessageType::Normal => MessageKind::Normal,
        // Groupchat and headline have no page-mode equivalent yet; errors are not messages.
        MessageType::Groupchat | MessageType::Headline | MessageType::Error => {
            return Err(BridgeError::UnsupportedMediaType);
        }
    };
    let body = m
        .body
        .clone()
        .filter(|b| !b.is_empty())
        .ok_or(BridgeError::EmptyBody)?;
    Ok(ChatMessage {
        from,
        to,
        thread: m.thread.clone(),
        kind,
        body,
        subject: m.subject.clone(),
        lang: m.lang.clone(),
    })
}

/// The canonical message as an XMPP `<message/>`, appended to `out`.
pub fn write_message(out: &mut BytesMut, m: &ChatMessage<'_>, id: &str) {
    let mut from = String::with_capacity(64);
    address::to_full_jid(&m.from, &mut from);
    let mut to = String::with_capacity(64);
    address::to_full_jid(&m.to, &mut to);
    encode::write_message(
        out,
        &MessageOut {
            from: &from,
            to: &to,
            id: Some(id),
            type_: match m.kind {
                MessageKind::Chat => MessageType::Chat,
                MessageKind::Normal => MessageType::Normal,
            },
            lang: m.lang.as_deref(),
            body: Some(&m.body),
            subject: m.subject.as_deref(),
            thread: m.thread.as_deref(),
            error: None,
        },
    );
}

/// A `type='error'` reply to a message that could not be delivered (RFC 6120 §8.3.1): sent
/// from the original recipient to the original sender, with the original id.
pub fn write_message_error(
    out: &mut BytesMut,
    original_from: &str,
    original_to: &str,
    id: Option<&str>,
    err: &DeliveryError<'_>,
) {
    encode::write_message(
        out,
        &MessageOut {
            from: original_to,
            to: original_from,
            id,
            type_: MessageType::Error,
            lang: None,
            body: None,
            subject: None,
            thread: None,
            error: Some(StanzaErrorOut {
                type_: err.condition.default_type(),
                condition: err.condition,
                text: err.text.as_deref(),
            }),
        },
    );
}

/// The stanza error carried by an XMPP error reply, as a delivery error.
pub fn delivery_error<'a>(m: &MessageView<'a>) -> DeliveryError<'a> {
    match &m.error {
        Some(e) => DeliveryError {
            condition: e.condition,
            text: e.text.clone(),
        },
        None => DeliveryError {
            condition: crate::model::ErrorCondition::UndefinedCondition,
            text: Some(Cow::Borrowed("error without a condition")),
        },
    }
}
