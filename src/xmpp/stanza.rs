//! Typed, borrowed views of depth-1 elements (RFC 6120 §8, RFC 6121 §4–5, negotiation
//! elements of RFC 6120 §5–6 and XEP-0220).

use std::borrow::Cow;

use super::{ErrorType, StanzaCondition, StreamCondition, StreamHeader, XmppError};

/// `type` of a `<message/>` (RFC 6121 §5.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageType {
    /// chat
    Chat,
    /// error
    Error,
    /// groupchat
    Groupchat,
    /// headline
    Headline,
    /// normal (also when absent)
    Normal,
}

/// A stanza error (RFC 6120 §8.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StanzaErrorView<'a> {
    /// Error type.
    pub type_: ErrorType,
    /// Defined condition.
    pub condition: StanzaCondition,
    /// Human-readable `<text/>`, if any.
    pub text: Option<Cow<'a, str>>,
}

/// A `<message/>` stanza.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageView<'a> {
    /// `from`.
    pub from: Option<Cow<'a, str>>,
    /// `to`.
    pub to: Option<Cow<'a, str>>,
    /// `id`.
    pub id: Option<Cow<'a, str>>,
    /// `type`.
    pub type_: MessageType,
    /// `xml:lang`.
    pub lang: Option<Cow<'a, str>>,
    /// First `<body/>` (text unescaped).
    pub body: Option<Cow<'a, str>>,
    /// First `<subject/>`.
    pub subject: Option<Cow<'a, str>>,
    /// `<thread/>`.
    pub thread: Option<Cow<'a, str>>,
    /// `<error/>` of a type='error' message.
    pub error: Option<StanzaErrorView<'a>>,
}

/// A depth-1 element of an s2s stream, typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Element<'a> {
    /// `<stream:features/>`.
    Features(Features<'a>),
    /// `<starttls/>` (urn:ietf:params:xml:ns:xmpp-tls).
    StartTls,
    /// `<proceed/>`.
    Proceed,
    /// TLS `<failure/>`.
    TlsFailure,
    /// SASL `<auth mechanism=…>initial response</auth>`.
    SaslAuth {
        /// Mechanism name.
        mechanism: Cow<'a, str>,
        /// Base64 initial response as sent (`=` means empty), trimmed.
        initial: Cow<'a, str>,
    },
    /// SASL `<success/>`.
    SaslSuccess,
    /// SASL `<failure/>` with its condition element name.
    SaslFailure {
        /// Condition, e.g. `not-authorized`.
        condition: Cow<'a, str>,
    },
    /// `<stream:error/>`.
    StreamError {
        /// The condition, if recognised.
        condition: Option<StreamCondition>,
        /// `<text/>`, if any.
        text: Option<Cow<'a, str>>,
    },
    /// `<message/>`.
    Message(MessageView<'a>),
    /// `<presence/>` (typed view to come; raw bytes available to the caller).
    Presence,
    /// `<iq/>` (typed view to come).
    Iq,
    /// Anything else, by namespace and local name.
    Unknown {
        /// Namespace URI.
        ns: Cow<'a, str>,
        /// Local name.
        name: Cow<'a, str>,
    },
}

/// Stream features offered by the receiving entity (RFC 6120 §4.3.2).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Features<'a> {
    /// STARTTLS offered; `Some(true)` when marked `<required/>`.
    pub starttls: Option<bool>,
    /// SASL mechanisms offered.
    pub mechanisms: Vec<Cow<'a, str>>,
    /// Server Dialback offered (XEP-0220 `<dialback xmlns='urn:xmpp:features:dialback'/>`).
    pub dialback: bool,
}

/// Parse one depth-1 element framed from a stream with header `stream` (which supplies the
/// default namespace and prefixes).
pub fn parse_element<'a>(frame: &'a [u8], stream: &StreamHeader) -> Result<Element<'a>, XmppError> {
    let _ = (frame, stream);
    todo!("xmpp::stanza::parse_element")
}
