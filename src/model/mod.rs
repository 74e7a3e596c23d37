//! The canonical, protocol-neutral model (RFC 7247 §4): addresses and events that both bridges
//! translate into and out of. Borrowed where possible, so a plain message's addresses and body
//! point into the input bytes. No wire syntax here.
//!
//! [`ChatMessage`] is the plain fast path; [`Event`] covers every canonical event (DESIGN
//! "Canonical model"): messages, chat states, receipts, presence, subscriptions, probes,
//! reactions, corrections, retractions, file links, group invites and errors.

mod event;

use std::borrow::Cow;
use std::fmt;

use serde::Serialize;

pub use event::{
    Availability, ChatStateEvent, Correction, Envelope, ErrorAbout, ErrorEvent, Event, FileLink,
    GroupInvite, Passthrough, Presence, Probe, Reaction, Receipt, ReceiptKind, ReceiptRequest,
    ReplyTo, Retraction, Subscription, SubscriptionKind, Typing,
};

/// The error vocabulary shared by both sides. RFC 7247 defines the interworking of errors
/// through the XMPP stanza conditions, so the model uses them directly.
pub use crate::xmpp::StanzaCondition as ErrorCondition;

/// A user address, `local@domain[/resource]`, in neutral form: the local part unescaped
/// (no percent-encoding, no XEP-0106 escapes), the domain in lower case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Address<'a> {
    /// User part.
    pub local: Cow<'a, str>,
    /// Domain, lower case.
    pub domain: Cow<'a, str>,
    /// XMPP resource / SIP GRUU instance, when the sender named one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<Cow<'a, str>>,
}

impl Address<'_> {
    /// `local@domain` (no resource).
    pub fn bare(&self) -> String {
        concat(&[&self.local, "@", &self.domain])
    }

    /// The same address without its resource, borrowing from `self`.
    pub fn without_resource(&self) -> Address<'_> {
        Address {
            local: Cow::Borrowed(&self.local),
            domain: Cow::Borrowed(&self.domain),
            resource: None,
        }
    }

    /// Detach from the input buffer.
    pub fn into_owned(self) -> Address<'static> {
        Address {
            local: Cow::Owned(self.local.into_owned()),
            domain: Cow::Owned(self.domain.into_owned()),
            resource: self.resource.map(|r| Cow::Owned(r.into_owned())),
        }
    }
}

impl fmt::Display for Address<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.local, self.domain)?;
        if let Some(r) = &self.resource {
            write!(f, "/{r}")?;
        }
        Ok(())
    }
}

/// Kind of an instant message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MessageKind {
    /// One-to-one chat.
    Chat,
    /// A standalone message.
    Normal,
    /// A message in a multi-user room (carried only where a room mapping exists).
    Groupchat,
}

/// An instant message (RFC 3428 MESSAGE ⇄ RFC 6121 `<message/>`, RFC 7572).
///
/// The first seven fields are the plain message; the rest are empty for it, and none of them
/// allocates when empty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChatMessage<'a> {
    /// Sender.
    pub from: Address<'a>,
    /// Recipient.
    pub to: Address<'a>,
    /// Conversation id: SIP Call-ID ⇄ XMPP `<thread/>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thread: Option<Cow<'a, str>>,
    /// Chat or normal.
    pub kind: MessageKind,
    /// Plain-text body.
    pub body: Cow<'a, str>,
    /// Subject.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<Cow<'a, str>>,
    /// Language of body and subject.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lang: Option<Cow<'a, str>>,
    /// Message id: XMPP stanza `id` ⇄ CPIM `imdn.Message-ID`, for receipts and errors.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<Cow<'a, str>>,
    /// Rich body as a sanitised XHTML fragment (the content of the XHTML `<body>`):
    /// XEP-0071 ⇄ `text/html`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rich: Option<Cow<'a, str>>,
    /// Further bodies in other languages, `(language, text)` (RFC 6121 §5.2.3).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub alt_bodies: Vec<(Cow<'a, str>, Cow<'a, str>)>,
    /// Sender's display name: XEP-0172 nick ⇄ SIP/CPIM display name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nick: Option<Cow<'a, str>>,
    /// Receipts the sender asked for.
    #[serde(skip_serializing_if = "ReceiptRequest::is_none")]
    pub receipts: ReceiptRequest,
    /// Original sending time (RFC 3339): CPIM `DateTime` ⇄ XEP-0203 `stamp`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stamp: Option<Cow<'a, str>>,
    /// XEP-0461 reply reference.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply: Option<ReplyTo<'a>>,
    /// Extensions parley does not map, kept raw for policy to judge.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub passthrough: Vec<Passthrough<'a>>,
}

impl<'a> ChatMessage<'a> {
    /// A plain message: everything but the first seven fields empty.
    pub fn plain(from: Address<'a>, to: Address<'a>, body: Cow<'a, str>) -> ChatMessage<'a> {
        ChatMessage {
            from,
            to,
            thread: None,
            kind: MessageKind::Chat,
            body,
            subject: None,
            lang: None,
            id: None,
            rich: None,
            alt_bodies: Vec::new(),
            nick: None,
            receipts: ReceiptRequest::default(),
            stamp: None,
            reply: None,
            passthrough: Vec::new(),
        }
    }

    /// The envelope of this message (addresses, id, thread, kind).
    pub fn envelope(&self) -> Envelope<'_> {
        Envelope {
            from: self.from.clone(),
            to: self.to.clone(),
            id: self.id.clone(),
            thread: self.thread.clone(),
            kind: self.kind,
        }
    }
}

/// A delivery failure to report to the sender of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryError<'a> {
    /// The condition.
    pub condition: ErrorCondition,
    /// Human-readable text (a SIP reason phrase ⇄ XMPP `<text/>`).
    pub text: Option<Cow<'a, str>>,
}

/// Serialises an [`ErrorCondition`] as its RFC 6120 element name.
pub(crate) fn condition_name<S: serde::Serializer>(
    c: &ErrorCondition,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.serialize_str(c.as_str())
}

/// The pieces one after the other, in one allocation (`format!` costs more on the hot path).
pub(crate) fn concat(pieces: &[&str]) -> String {
    let mut out = String::with_capacity(pieces.iter().map(|p| p.len()).sum());
    for p in pieces {
        out.push_str(p);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hot_types_stay_small() {
        // The plain path moves these by value; growth here is a cost on every message.
        assert!(std::mem::size_of::<Address<'_>>() <= 80);
        assert!(std::mem::size_of::<ChatMessage<'_>>() <= 512);
    }
}
