//! XMPP ⇄ model (RFC 7572 for messages, RFC 7247 §8 for errors). Pure functions.

use std::borrow::Cow;

use bytes::{BufMut, BytesMut};

use super::{BridgeError, address};
use crate::model::{Address, ChatMessage, DeliveryError, MessageKind};
use crate::xmpp::encode::{self, MessageOut, StanzaErrorOut, escape_into};
use crate::xmpp::stanza::{MessageType, MessageView};

/// An XMPP `<message/>` with a body to the canonical message: the plain fast path (only the
/// RFC 6121 fields; [`super::xmpp_in::events_from_xmpp`] reads the extensions too).
pub fn message_from_xmpp<'a>(m: &MessageView<'a>) -> Result<ChatMessage<'a>, BridgeError> {
    let from = jid_address(m.from.as_ref().ok_or(BridgeError::Malformed)?)?;
    let to = jid_address(m.to.as_ref().ok_or(BridgeError::Malformed)?)?;
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
    let mut msg = ChatMessage::plain(from, to, body);
    msg.thread = m.thread.clone();
    msg.kind = kind;
    msg.subject = m.subject.clone();
    msg.lang = m.body_lang.clone().or_else(|| m.lang.clone());
    Ok(msg)
}

/// A JID attribute of a view as an address, borrowed from the input when the view borrowed.
pub fn jid_address<'a>(c: &Cow<'a, str>) -> Result<Address<'a>, BridgeError> {
    match c {
        Cow::Borrowed(s) => address::from_jid(s),
        Cow::Owned(s) => address::from_jid(s).map(Address::into_owned),
    }
}

/// The canonical message as an XMPP `<message/>`, appended to `out`: the plain fast path
/// (RFC 6121 children only), written straight into `out` with one reservation. Fixed
/// markup between two values goes out as one literal (`' id='`, `</body><thread>`, …),
/// through the inlined `extend_from_slice` (the `BufMut` methods are calls).
///
/// A XEP-0172 `<nick/>` (the sender's marked display name) goes after the RFC 6121 children.
///
/// The stanza ends with XEP-0359 `<origin-id/>` naming its own id: parley originates the
/// XMPP stanza of a message from SIP, so clients that correlate receipts, markers and
/// references by origin-id find the id the gateway maps back (`routing::ids`).
pub fn write_message(out: &mut BytesMut, m: &ChatMessage<'_>, id: &str) {
    out.reserve(
        m.body.len()
            + m.subject.as_ref().map_or(0, |s| s.len() + 21)
            + m.thread.as_ref().map_or(0, |t| t.len() + 17)
            + m.lang.as_ref().map_or(0, |l| l.len() + 12)
            + m.nick.as_ref().map_or(0, |n| n.len() + 54)
            + m.from.local.len()
            + m.from.domain.len()
            + m.to.local.len()
            + m.to.domain.len()
            + 2 * id.len()
            + 128,
    );
    out.extend_from_slice(b"<message from='");
    address::write_jid(out, &m.from, true);
    out.extend_from_slice(b"' to='");
    address::write_jid(out, &m.to, true);
    out.extend_from_slice(b"' id='");
    escape_into(out, id, true);
    out.extend_from_slice(match m.kind {
        MessageKind::Chat => b"' type='chat'",
        MessageKind::Groupchat => b"' type='groupchat'",
        MessageKind::Normal => b"'",
    });
    if let Some(lang) = m.lang.as_deref() {
        out.extend_from_slice(b" xml:lang='");
        escape_into(out, lang, true);
        out.extend_from_slice(b"'");
    }
    match &m.subject {
        Some(s) => {
            out.extend_from_slice(b"><subject>");
            escape_into(out, s, false);
            out.extend_from_slice(b"</subject><body>");
        }
        None => out.extend_from_slice(b"><body>"),
    }
    escape_into(out, &m.body, false);
    match &m.thread {
        Some(t) => {
            out.extend_from_slice(b"</body><thread>");
            escape_into(out, t, false);
            out.extend_from_slice(b"</thread>");
        }
        None => out.extend_from_slice(b"</body>"),
    }
    if let Some(n) = m.nick.as_deref() {
        out.extend_from_slice(b"<nick xmlns='http://jabber.org/protocol/nick'>");
        escape_into(out, n, false);
        out.extend_from_slice(b"</nick>");
    }
    out.extend_from_slice(b"<origin-id xmlns='urn:xmpp:sid:0' id='");
    escape_into(out, id, true);
    out.extend_from_slice(b"'/></message>");
}

/// [`write_message`] as first written, element by element: the reference its property
/// test compares against.
#[cfg(test)]
pub(crate) fn write_message_by_element(out: &mut BytesMut, m: &ChatMessage<'_>, id: &str) {
    open_message(out, &m.from, &m.to, Some(id), m.kind, m.lang.as_deref());
    if let Some(s) = &m.subject {
        text_element(out, "subject", s);
    }
    text_element(out, "body", &m.body);
    if let Some(t) = &m.thread {
        text_element(out, "thread", t);
    }
    write_origin_id(out, id);
    out.put_slice(b"</message>");
}

/// XEP-0359 `<origin-id/>` naming the stanza's own id, as [`write_message`] writes it.
#[cfg(test)]
pub(crate) fn write_origin_id(out: &mut BytesMut, id: &str) {
    out.put_slice(b"<origin-id xmlns='urn:xmpp:sid:0' id='");
    escape_into(out, id, true);
    out.put_slice(b"'/>");
}

/// `<message from to id type xml:lang>` from addresses (JIDs written in place).
pub(crate) fn open_message(
    out: &mut BytesMut,
    from: &Address<'_>,
    to: &Address<'_>,
    id: Option<&str>,
    kind: MessageKind,
    lang: Option<&str>,
) {
    out.put_slice(b"<message from='");
    address::write_jid(out, from, true);
    out.put_slice(b"' to='");
    address::write_jid(out, to, true);
    out.put_u8(b'\'');
    if let Some(id) = id {
        out.put_slice(b" id='");
        escape_into(out, id, true);
        out.put_u8(b'\'');
    }
    match kind {
        MessageKind::Chat => out.put_slice(b" type='chat'"),
        MessageKind::Groupchat => out.put_slice(b" type='groupchat'"),
        MessageKind::Normal => {}
    }
    if let Some(lang) = lang {
        out.put_slice(b" xml:lang='");
        escape_into(out, lang, true);
        out.put_u8(b'\'');
    }
    out.put_u8(b'>');
}

/// `<name>text</name>`, text escaped.
pub(crate) fn text_element(out: &mut BytesMut, name: &str, text: &str) {
    out.put_u8(b'<');
    out.put_slice(name.as_bytes());
    out.put_u8(b'>');
    escape_into(out, text, false);
    out.put_slice(b"</");
    out.put_slice(name.as_bytes());
    out.put_u8(b'>');
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

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(local: String, domain: String, resource: Option<String>) -> Address<'static> {
        Address {
            local: Cow::Owned(local),
            domain: Cow::Owned(domain),
            resource: resource.map(Cow::Owned),
        }
    }

    proptest::proptest! {
        /// The fast writer agrees with the element-by-element reference, and with the general
        /// extension writer for messages with the nick external marking adds.
        #[test]
        fn message_writer_agrees_with_the_element_writer(
            from in ("[a-zA-Z0-9 &<'é\\\\-]{1,6}", "[a-z0-9.<é-]{1,8}", proptest::option::of("[a-z/&'\"]{0,4}")),
            to in ("[a-zA-Z0-9 &<'é-]{1,6}", "[a-z0-9.-]{1,8}", proptest::option::of("[a-z/&'\"]{0,4}")),
            body in "[a-z <>&'\"\r\n\té]{0,20}",
            subject in proptest::option::of("[a-z <>&'\"\r]{0,8}"),
            thread in proptest::option::of("[a-z0-9<&-]{0,8}"),
            lang in proptest::option::of("[a-z'<-]{0,5}"),
            nick in proptest::option::of("[a-zA-Z <>&'\"é()]{0,12}"),
            kind in 0u8..3,
            id in "[a-z0-9'&<-]{0,6}",
        ) {
            let mut m = ChatMessage::plain(
                addr(from.0, from.1, from.2),
                addr(to.0, to.1, to.2),
                Cow::Owned(body),
            );
            m.subject = subject.map(Cow::Owned);
            m.thread = thread.map(Cow::Owned);
            m.lang = lang.map(Cow::Owned);
            m.kind = [MessageKind::Chat, MessageKind::Normal, MessageKind::Groupchat][usize::from(kind)];
            let (mut fast, mut reference) = (BytesMut::new(), BytesMut::new());
            write_message(&mut fast, &m, &id);
            write_message_by_element(&mut reference, &m, &id);
            proptest::prop_assert_eq!(
                String::from_utf8_lossy(&fast),
                String::from_utf8_lossy(&reference)
            );
            m.nick = nick.map(Cow::Owned);
            let (mut fast, mut general) = (BytesMut::new(), BytesMut::new());
            write_message(&mut fast, &m, &id);
            super::super::xmpp_out::write_with_extensions(&mut general, &m, None, &id);
            proptest::prop_assert_eq!(
                String::from_utf8_lossy(&fast),
                String::from_utf8_lossy(&general)
            );
        }
    }
}
