//! The canonical, protocol-neutral model (RFC 7247 §4): addresses and events that both bridges
//! translate into and out of. Borrowed where possible, so a plain message's addresses and body
//! point into the input bytes. No wire syntax here.

use std::borrow::Cow;
use std::fmt;

/// The error vocabulary shared by both sides. RFC 7247 defines the interworking of errors
/// through the XMPP stanza conditions, so the model uses them directly.
pub use crate::xmpp::StanzaCondition as ErrorCondition;

/// A user address, `local@domain[/resource]`, in neutral form: the local part unescaped
/// (no percent-encoding, no XEP-0106 escapes), the domain in lower case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address<'a> {
    /// User part.
    pub local: Cow<'a, str>,
    /// Domain, lower case.
    pub domain: Cow<'a, str>,
    /// XMPP resource / SIP GRUU instance, when the sender named one.
    pub resource: Option<Cow<'a, str>>,
}

impl Address<'_> {
    /// `local@domain` (no resource).
    pub fn bare(&self) -> String {
        format!("{}@{}", self.local, self.domain)
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    /// One-to-one chat.
    Chat,
    /// A standalone message.
    Normal,
}

/// An instant message (RFC 3428 MESSAGE ⇄ RFC 6121 `<message/>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatMessage<'a> {
    /// Sender.
    pub from: Address<'a>,
    /// Recipient.
    pub to: Address<'a>,
    /// Conversation id: SIP Call-ID ⇄ XMPP `<thread/>`.
    pub thread: Option<Cow<'a, str>>,
    /// Chat or normal.
    pub kind: MessageKind,
    /// Plain-text body.
    pub body: Cow<'a, str>,
    /// Subject.
    pub subject: Option<Cow<'a, str>>,
    /// Language of body and subject.
    pub lang: Option<Cow<'a, str>>,
}

/// A delivery failure to report to the sender of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryError<'a> {
    /// The condition.
    pub condition: ErrorCondition,
    /// Human-readable text (a SIP reason phrase ⇄ XMPP `<text/>`).
    pub text: Option<Cow<'a, str>>,
}
