//! XMPP writer (RFC 6120 §4.7, §8): stream header, negotiation elements and stanzas into a
//! caller's reused buffer, with text and attribute escaping. Never writes to a socket.

use bytes::BytesMut;

use super::stanza::MessageType;
use super::{ErrorType, StanzaCondition, StreamCondition};

/// The opening tag parley sends (always s2s, `jabber:server`, dialback namespace declared).
#[derive(Debug, Clone, Copy)]
pub struct StreamOpen<'a> {
    /// `from` (our domain).
    pub from: &'a str,
    /// `to` (the peer's domain).
    pub to: &'a str,
    /// `id` (only from the receiving entity).
    pub id: Option<&'a str>,
}

/// Features parley offers.
#[derive(Debug, Clone, Copy, Default)]
pub struct FeaturesOut<'a> {
    /// Offer STARTTLS, marked required.
    pub starttls_required: bool,
    /// SASL mechanisms to offer (empty: no `<mechanisms/>`).
    pub mechanisms: &'a [&'a str],
    /// Offer XEP-0220 dialback.
    pub dialback: bool,
}

/// A stanza error to attach to a `type='error'` stanza.
#[derive(Debug, Clone, Copy)]
pub struct StanzaErrorOut<'a> {
    /// Error type.
    pub type_: ErrorType,
    /// Condition.
    pub condition: StanzaCondition,
    /// Optional `<text/>`.
    pub text: Option<&'a str>,
}

/// A `<message/>` to write.
#[derive(Debug, Clone, Copy)]
pub struct MessageOut<'a> {
    /// `from`.
    pub from: &'a str,
    /// `to`.
    pub to: &'a str,
    /// `id`.
    pub id: Option<&'a str>,
    /// `type`.
    pub type_: MessageType,
    /// `xml:lang`.
    pub lang: Option<&'a str>,
    /// `<body/>`.
    pub body: Option<&'a str>,
    /// `<subject/>`.
    pub subject: Option<&'a str>,
    /// `<thread/>`.
    pub thread: Option<&'a str>,
    /// `<error/>`.
    pub error: Option<StanzaErrorOut<'a>>,
}

/// `<?xml version='1.0'?><stream:stream …>`.
pub fn write_stream_open(out: &mut BytesMut, open: &StreamOpen<'_>) {
    let _ = (out, open);
    todo!("xmpp::encode::write_stream_open")
}

/// `</stream:stream>`.
pub fn write_stream_close(out: &mut BytesMut) {
    out.extend_from_slice(b"</stream:stream>");
}

/// `<stream:features>…</stream:features>`.
pub fn write_features(out: &mut BytesMut, features: &FeaturesOut<'_>) {
    let _ = (out, features);
    todo!("xmpp::encode::write_features")
}

/// `<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>`.
pub fn write_starttls(out: &mut BytesMut) {
    out.extend_from_slice(b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
}

/// `<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>`.
pub fn write_proceed(out: &mut BytesMut) {
    out.extend_from_slice(b"<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
}

/// SASL `<auth mechanism=…>initial</auth>` (initial is base64, `=` for empty).
pub fn write_sasl_auth(out: &mut BytesMut, mechanism: &str, initial: &str) {
    let _ = (out, mechanism, initial);
    todo!("xmpp::encode::write_sasl_auth")
}

/// SASL `<success/>`.
pub fn write_sasl_success(out: &mut BytesMut) {
    out.extend_from_slice(b"<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>");
}

/// SASL `<failure><condition/></failure>`.
pub fn write_sasl_failure(out: &mut BytesMut, condition: &str) {
    let _ = (out, condition);
    todo!("xmpp::encode::write_sasl_failure")
}

/// `<stream:error><condition/><text/></stream:error>`.
pub fn write_stream_error(out: &mut BytesMut, condition: StreamCondition, text: Option<&str>) {
    let _ = (out, condition, text);
    todo!("xmpp::encode::write_stream_error")
}

/// `<message …>…</message>`.
pub fn write_message(out: &mut BytesMut, msg: &MessageOut<'_>) {
    let _ = (out, msg);
    todo!("xmpp::encode::write_message")
}
