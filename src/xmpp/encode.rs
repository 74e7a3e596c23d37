//! XMPP writer (RFC 6120 §4.7, §8): stream header, negotiation elements and stanzas into a
//! caller's reused buffer, with text and attribute escaping. Never writes to a socket.

use bytes::BytesMut;

use super::stanza::MessageType;
use super::{ErrorType, StanzaCondition, StreamCondition, ns};

pub use super::encode_ext::{
    IqOut, IqPayloadOut, MarkerOut, MessageExtOut, PresenceOut, write_iq, write_message_with,
    write_presence,
};

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
    out.extend_from_slice(b"<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback'");
    write_attr(out, "from", open.from);
    write_attr(out, "to", open.to);
    if let Some(id) = open.id {
        write_attr(out, "id", id);
    }
    out.extend_from_slice(b" version='1.0'>");
}

/// `</stream:stream>`.
pub fn write_stream_close(out: &mut BytesMut) {
    out.extend_from_slice(b"</stream:stream>");
}

/// `<stream:features>…</stream:features>`.
pub fn write_features(out: &mut BytesMut, features: &FeaturesOut<'_>) {
    out.extend_from_slice(b"<stream:features>");
    if features.starttls_required {
        out.extend_from_slice(
            b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls>",
        );
    }
    if !features.mechanisms.is_empty() {
        out.extend_from_slice(b"<mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>");
        for m in features.mechanisms {
            write_text_element(out, "mechanism", m);
        }
        out.extend_from_slice(b"</mechanisms>");
    }
    if features.dialback {
        out.extend_from_slice(b"<dialback xmlns='urn:xmpp:features:dialback'><errors/></dialback>");
    }
    out.extend_from_slice(b"</stream:features>");
}

/// `<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>`.
pub fn write_starttls(out: &mut BytesMut) {
    out.extend_from_slice(b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
}

/// `<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>`.
pub fn write_proceed(out: &mut BytesMut) {
    out.extend_from_slice(b"<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
}

/// SASL `<auth mechanism=…>initial</auth>` (initial is base64, `=` for empty; `""` writes no
/// initial response at all).
pub fn write_sasl_auth(out: &mut BytesMut, mechanism: &str, initial: &str) {
    out.extend_from_slice(b"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl'");
    write_attr(out, "mechanism", mechanism);
    if initial.is_empty() {
        out.extend_from_slice(b"/>");
    } else {
        out.extend_from_slice(b">");
        write_text(out, initial);
        out.extend_from_slice(b"</auth>");
    }
}

/// SASL `<success/>`.
pub fn write_sasl_success(out: &mut BytesMut) {
    out.extend_from_slice(b"<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>");
}

/// SASL `<failure><condition/></failure>` (RFC 6120 §6.5). A condition that is not an XML
/// name is written as `not-authorized`.
pub fn write_sasl_failure(out: &mut BytesMut, condition: &str) {
    out.extend_from_slice(b"<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><");
    out.extend_from_slice(safe_name(condition, "not-authorized").as_bytes());
    out.extend_from_slice(b"/></failure>");
}

/// `<stream:error><condition/><text/></stream:error>`.
pub fn write_stream_error(out: &mut BytesMut, condition: StreamCondition, text: Option<&str>) {
    out.extend_from_slice(b"<stream:error><");
    out.extend_from_slice(condition.as_str().as_bytes());
    out.extend_from_slice(b" xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>");
    if let Some(t) = text {
        out.extend_from_slice(b"<text xmlns='urn:ietf:params:xml:ns:xmpp-streams'>");
        write_text(out, t);
        out.extend_from_slice(b"</text>");
    }
    out.extend_from_slice(b"</stream:error>");
}

/// `<message …>…</message>`.
pub fn write_message(out: &mut BytesMut, msg: &MessageOut<'_>) {
    write_message_open(out, msg);
    write_message_children(out, msg);
    out.extend_from_slice(b"</message>");
}

/// The start tag of a `<message>` and its attributes.
pub(crate) fn write_message_open(out: &mut BytesMut, msg: &MessageOut<'_>) {
    out.extend_from_slice(b"<message");
    if !msg.from.is_empty() {
        write_attr(out, "from", msg.from);
    }
    if !msg.to.is_empty() {
        write_attr(out, "to", msg.to);
    }
    if let Some(id) = msg.id {
        write_attr(out, "id", id);
    }
    if msg.type_ != MessageType::Normal {
        write_attr(out, "type", msg.type_.as_str());
    }
    if let Some(lang) = msg.lang {
        write_attr(out, "xml:lang", lang);
    }
    out.extend_from_slice(b">");
}

/// The RFC 6121 children of a `<message>`: subject, body, thread, error.
pub(crate) fn write_message_children(out: &mut BytesMut, msg: &MessageOut<'_>) {
    if let Some(s) = msg.subject {
        write_text_element(out, "subject", s);
    }
    if let Some(b) = msg.body {
        write_text_element(out, "body", b);
    }
    if let Some(t) = msg.thread {
        write_text_element(out, "thread", t);
    }
    if let Some(e) = &msg.error {
        write_stanza_error(out, e);
    }
}

/// `<error type=…><condition xmlns=…/><text xmlns=…>…</text></error>` (RFC 6120 §8.3.2).
pub fn write_stanza_error(out: &mut BytesMut, e: &StanzaErrorOut<'_>) {
    out.extend_from_slice(b"<error");
    write_attr(out, "type", e.type_.as_str());
    out.extend_from_slice(b"><");
    out.extend_from_slice(e.condition.as_str().as_bytes());
    out.extend_from_slice(b" xmlns='");
    out.extend_from_slice(ns::STANZA_ERRORS.as_bytes());
    out.extend_from_slice(b"'/>");
    if let Some(t) = e.text {
        out.extend_from_slice(b"<text xmlns='");
        out.extend_from_slice(ns::STANZA_ERRORS.as_bytes());
        out.extend_from_slice(b"'>");
        write_text(out, t);
        out.extend_from_slice(b"</text>");
    }
    out.extend_from_slice(b"</error>");
}

/// `<name>text</name>` with the text escaped; `name` must be a literal XML name.
pub(crate) fn write_text_element(out: &mut BytesMut, name: &str, text: &str) {
    out.extend_from_slice(b"<");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b">");
    write_text(out, text);
    out.extend_from_slice(b"</");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b">");
}

/// ` name='value'` with the value escaped; `name` must be a literal XML name.
pub(crate) fn write_attr(out: &mut BytesMut, name: &str, value: &str) {
    out.extend_from_slice(b" ");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"='");
    escape_into(out, value, true);
    out.extend_from_slice(b"'");
}

/// Character data, escaped.
pub(crate) fn write_text(out: &mut BytesMut, text: &str) {
    escape_into(out, text, false);
}

/// `name` if it is a plain XML name (letters, digits, `-`, `_`, `.`), else `fallback`.
pub(crate) fn safe_name<'n>(name: &'n str, fallback: &'n str) -> &'n str {
    let ok = name.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok { name } else { fallback }
}

/// [`ESCAPE`] flag: the byte is replaced in text.
const IN_TEXT: u8 = 1;
/// [`ESCAPE`] flag: the byte is replaced in an attribute value.
const IN_ATTR: u8 = 2;

/// Per byte, where [`escape_into`] may replace it: controls, `&`, `<`, `>`, quotes, and 0xEF,
/// the lead byte of U+FFFE and U+FFFF. Every other byte is copied as it is.
const ESCAPE: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = IN_TEXT | IN_ATTR;
        i += 1;
    }
    t[b'\t' as usize] = IN_ATTR;
    t[b'\n' as usize] = IN_ATTR;
    t[b'&' as usize] = IN_TEXT | IN_ATTR;
    t[b'<' as usize] = IN_TEXT | IN_ATTR;
    t[b'>' as usize] = IN_TEXT | IN_ATTR;
    t[b'\'' as usize] = IN_ATTR;
    t[b'"' as usize] = IN_ATTR;
    t[0xEF] = IN_TEXT | IN_ATTR;
    t
};

/// Escape `s` into `out`. `&`, `<`, `>` always; quotes, tab, CR and LF in attributes (so
/// attribute-value normalisation gives the same string back); CR in text. Characters XML 1.0
/// cannot carry (controls other than tab/LF/CR, U+FFFE, U+FFFF) become U+FFFD. One table
/// lookup per byte; runs of plain bytes are copied at once.
pub(crate) fn escape_into(out: &mut BytesMut, s: &str, attr: bool) {
    const FFFD: &[u8] = "\u{fffd}".as_bytes();
    let bytes = s.as_bytes();
    let mask = if attr { IN_ATTR } else { IN_TEXT };
    let mut last = 0;
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if ESCAPE[usize::from(b)] & mask == 0 {
            i += 1;
            continue;
        }
        let (rep, len): (&[u8], usize) = match b {
            b'&' => (b"&amp;", 1),
            b'<' => (b"&lt;", 1),
            b'>' => (b"&gt;", 1),
            b'\'' => (b"&apos;", 1),
            b'"' => (b"&quot;", 1),
            b'\t' => (b"&#9;", 1),
            b'\n' => (b"&#10;", 1),
            b'\r' => (b"&#13;", 1),
            // U+FFFE and U+FFFF are EF BF BE and EF BF BF; other characters led by EF pass.
            0xEF => match bytes.get(i + 1..i + 3) {
                Some([0xBF, 0xBE | 0xBF]) => (FFFD, 3),
                _ => {
                    i += 1;
                    continue;
                }
            },
            _ => (FFFD, 1),
        };
        out.extend_from_slice(bytes.get(last..i).unwrap_or_default());
        out.extend_from_slice(rep);
        i += len;
        last = i;
    }
    out.extend_from_slice(bytes.get(last..).unwrap_or_default());
}

/// What a dialback element carries: a key (a request) or a verdict (an answer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbPayload<'a> {
    /// The dialback key.
    Key(&'a str),
    /// `type='valid'` or `type='invalid'`.
    Verdict(bool),
}

/// `<db:result/>` (XEP-0220 §2.1, §2.4).
pub fn write_db_result(out: &mut BytesMut, from: &str, to: &str, payload: DbPayload<'_>) {
    write_db(out, "result", from, to, None, payload);
}

/// `<db:verify/>` (XEP-0220 §2.2, §2.3); `id` is the receiving server's stream id.
pub fn write_db_verify(out: &mut BytesMut, from: &str, to: &str, id: &str, payload: DbPayload<'_>) {
    write_db(out, "verify", from, to, Some(id), payload);
}

fn write_db(
    out: &mut BytesMut,
    name: &str,
    from: &str,
    to: &str,
    id: Option<&str>,
    payload: DbPayload<'_>,
) {
    out.extend_from_slice(b"<db:");
    out.extend_from_slice(name.as_bytes());
    write_attr(out, "from", from);
    write_attr(out, "to", to);
    if let Some(id) = id {
        write_attr(out, "id", id);
    }
    match payload {
        DbPayload::Verdict(valid) => {
            write_attr(out, "type", if valid { "valid" } else { "invalid" });
            out.extend_from_slice(b"/>");
        }
        DbPayload::Key(key) => {
            out.extend_from_slice(b">");
            write_text(out, key);
            out.extend_from_slice(b"</db:");
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b">");
        }
    }
}
