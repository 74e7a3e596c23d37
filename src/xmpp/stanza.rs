//! Typed, borrowed views of depth-1 elements (RFC 6120 §8, RFC 6121 §4–5, negotiation
//! elements of RFC 6120 §5–6 and XEP-0220).
//!
//! [`parse_element`] reads a framed element once, borrowing every string from the frame
//! (`Cow::Owned` only where text had to be unescaped or joined). Children parley does not map
//! stay available as raw XML through the views' `children()` iterators.

use std::borrow::Cow;

use super::scope::{ChildStart, Scope, resolve_name};
use super::xml::{Attrs, Mark, Token, Tokenizer, attr_value, has_forbidden_char};
use super::{ErrorType, StanzaCondition, StreamCondition, StreamHeader, XmppError, ns};

pub use super::children::{Child, Children};
pub use super::iq::{DiscoInfo, Identity, IqPayload, IqType, IqView, VCard};
pub use super::message::{
    ChatState, Delay, Marker, MessageType, MessageView, Oob, Reactions, Reply, StanzaId,
};
pub use super::presence::{Caps, PresenceType, PresenceView, Show};

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

/// A depth-1 element of an s2s stream, typed.
///
/// The stanza views are large but live on the stack; boxing them would cost an allocation per
/// stanza on the hot path.
#[allow(clippy::large_enum_variant)]
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
    /// `<presence/>`.
    Presence(PresenceView<'a>),
    /// `<iq/>`.
    Iq(IqView<'a>),
    /// XEP-0220 `<db:result/>`.
    DbResult(Dialback<'a>),
    /// XEP-0220 `<db:verify/>`.
    DbVerify(Dialback<'a>),
    /// XEP-0288 `<bidi xmlns='urn:xmpp:bidi'/>`.
    Bidi,
    /// Anything else, by namespace and local name.
    Unknown {
        /// Namespace URI.
        ns: Cow<'a, str>,
        /// Local name.
        name: Cow<'a, str>,
    },
}

/// `type` of a dialback element (XEP-0220 §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbType {
    /// `valid`
    Valid,
    /// `invalid`
    Invalid,
    /// `error`
    Error,
}

impl DbType {
    /// Wire form.
    pub fn as_str(&self) -> &'static str {
        match self {
            DbType::Valid => "valid",
            DbType::Invalid => "invalid",
            DbType::Error => "error",
        }
    }
}

/// A `<db:result/>` or `<db:verify/>` (XEP-0220 §2.1–2.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dialback<'a> {
    /// `from` (the originating domain).
    pub from: Option<Cow<'a, str>>,
    /// `to` (the receiving domain).
    pub to: Option<Cow<'a, str>>,
    /// `id` (stream id; required on `db:verify`).
    pub id: Option<Cow<'a, str>>,
    /// `type`; absent on the request.
    pub type_: Option<DbType>,
    /// The dialback key (the text of a request), trimmed; empty on answers.
    pub key: Cow<'a, str>,
    /// `<error/>` of a `type='error'` answer.
    pub error: Option<StanzaErrorView<'a>>,
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
    /// XEP-0288 bidirectional streams offered.
    pub bidi: bool,
}

/// Attributes every stanza may carry (RFC 6120 §8.1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct StanzaAttrs<'a> {
    pub from: Option<Cow<'a, str>>,
    pub to: Option<Cow<'a, str>>,
    pub id: Option<Cow<'a, str>>,
    pub type_: Option<&'a str>,
    pub lang: Option<Cow<'a, str>>,
}

impl<'a> StanzaAttrs<'a> {
    /// Read the common attributes from a raw attribute text.
    pub(crate) fn parse(attrs: &'a str) -> Result<Self, XmppError> {
        let mut out = StanzaAttrs::default();
        let mut it = Attrs::new(attrs);
        while let Some((k, v)) = it.next_attr()? {
            match k {
                "from" => out.from = Some(attr_value(v)?),
                "to" => out.to = Some(attr_value(v)?),
                "id" => out.id = Some(attr_value(v)?),
                "type" => out.type_ = Some(v),
                "xml:lang" => out.lang = Some(attr_value(v)?),
                _ => {}
            }
        }
        Ok(out)
    }
}

/// The value of attribute `name` in raw attribute text, unescaped.
pub(crate) fn attr<'a>(attrs: &'a str, name: &str) -> Result<Option<Cow<'a, str>>, XmppError> {
    Attrs::new(attrs)
        .find_raw(name)?
        .map(attr_value)
        .transpose()
}

/// Parse one depth-1 element framed from a stream with header `stream` (which supplies the
/// default namespace and prefixes).
pub fn parse_element<'a>(frame: &'a [u8], stream: &StreamHeader) -> Result<Element<'a>, XmppError> {
    let src = std::str::from_utf8(frame).map_err(|_| XmppError::NotWellFormed)?;
    // The framer refuses characters XML 1.0 forbids; an element that skipped it (`parley
    // translate`) is checked here.
    if has_forbidden_char(src) {
        return Err(XmppError::NotWellFormed);
    }
    parse_tokens(src, Tokenizer::new(src), stream)
}

/// As [`parse_element`], reading token boundaries from the framer's marks for this frame
/// instead of scanning the bytes again (see [`super::Framer::parse_last`]).
pub(crate) fn parse_marked<'a>(
    frame: &'a [u8],
    marks: &[Mark],
    stream: &StreamHeader,
) -> Result<Element<'a>, XmppError> {
    let src = std::str::from_utf8(frame).map_err(|_| XmppError::NotWellFormed)?;
    parse_tokens(src, Tokenizer::indexed(src, marks), stream)
}

/// Read the element from its first token on.
fn parse_tokens<'a, 'h>(
    src: &'a str,
    mut tok: Tokenizer<'a, 'h>,
    stream: &'h StreamHeader,
) -> Result<Element<'a>, XmppError> {
    let (name, attrs, empty, at) = loop {
        match tok.next_token()? {
            Some(Token::Start {
                name,
                attrs,
                empty,
                at,
            }) => break (name, attrs, empty, at),
            Some(Token::Text(t)) if t.bytes().all(super::framing::is_space) => {}
            _ => return Err(XmppError::NotWellFormed),
        }
    };
    let stream_ns = Cow::Borrowed(stream.ns.uri());
    let (el_ns, local) = resolve_name(name, attrs, &stream_ns, attrs, Some(stream))?;
    let child_default = if name.contains(':') {
        // A prefixed element's children default to the declared default namespace, if any.
        match Attrs::new(attrs).find_raw("xmlns")? {
            Some(uri) => Cow::Borrowed(uri),
            None => stream_ns.clone(),
        }
    } else {
        el_ns.clone()
    };
    let mut scope = Scope::new(tok, src, child_default, attrs, Some(stream));
    let me = ChildStart {
        ns: el_ns.clone(),
        local,
        attrs,
        empty,
        at,
    };
    let el = match (&*el_ns, local) {
        (ns::SERVER | ns::CLIENT | ns::COMPONENT, "message") => {
            Element::Message(super::message::parse_message(&mut scope, &me, src)?)
        }
        (ns::SERVER | ns::CLIENT | ns::COMPONENT, "presence") => {
            Element::Presence(super::presence::parse_presence(&mut scope, &me, src)?)
        }
        (ns::SERVER | ns::CLIENT | ns::COMPONENT, "iq") => {
            Element::Iq(super::iq::parse_iq(&mut scope, &me, src)?)
        }
        (ns::STREAMS, "features") => Element::Features(parse_features(&mut scope, &me)?),
        (ns::STREAMS, "error") => parse_stream_error(&mut scope, &me)?,
        (ns::TLS, "starttls") => Element::StartTls,
        (ns::TLS, "proceed") => Element::Proceed,
        (ns::TLS, "failure") => Element::TlsFailure,
        (ns::SASL, "auth") => {
            let mechanism = attr(attrs, "mechanism")?.ok_or(XmppError::UnexpectedElement)?;
            let initial = trim_cow(scope.text(&me)?);
            Element::SaslAuth { mechanism, initial }
        }
        (ns::SASL, "success") => Element::SaslSuccess,
        (ns::DIALBACK, "result") => Element::DbResult(parse_dialback(&mut scope, &me)?),
        (ns::DIALBACK, "verify") => Element::DbVerify(parse_dialback(&mut scope, &me)?),
        (ns::BIDI, "bidi") => Element::Bidi,
        (ns::SASL, "failure") => {
            let mut condition = Cow::Borrowed("not-authorized");
            if !empty {
                while let Some(c) = scope.next_child()? {
                    if c.local != "text" {
                        condition = Cow::Borrowed(c.local);
                    }
                    scope.finish(&c)?;
                }
            }
            Element::SaslFailure { condition }
        }
        _ => Element::Unknown {
            ns: el_ns,
            name: Cow::Borrowed(local),
        },
    };
    Ok(el)
}

/// Trim XML whitespace off a text, keeping it borrowed when possible.
pub(crate) fn trim_cow(s: Cow<'_, str>) -> Cow<'_, str> {
    match s {
        Cow::Borrowed(b) => Cow::Borrowed(b.trim()),
        Cow::Owned(o) => Cow::Owned(o.trim().to_owned()),
    }
}

/// `<stream:features>` children (RFC 6120 §4.3.2, §5.4.1, §6.4.1; XEP-0220 §2.4).
fn parse_features<'a>(
    scope: &mut Scope<'a, '_>,
    me: &ChildStart<'a>,
) -> Result<Features<'a>, XmppError> {
    let mut f = Features::default();
    if me.empty {
        return Ok(f);
    }
    while let Some(c) = scope.next_child()? {
        match (&*c.ns, c.local) {
            (ns::TLS, "starttls") => {
                let mut required = false;
                if !c.empty {
                    let mut inner = scope.enter(&c);
                    while let Some(g) = inner.next_child()? {
                        required |= g.local == "required";
                        inner.finish(&g)?;
                    }
                    scope.resume(inner);
                }
                f.starttls = Some(required);
            }
            (ns::SASL, "mechanisms") if !c.empty => {
                let mut inner = scope.enter(&c);
                while let Some(g) = inner.next_child()? {
                    if g.local == "mechanism" {
                        f.mechanisms.push(trim_cow(inner.text(&g)?));
                    } else {
                        inner.finish(&g)?;
                    }
                }
                scope.resume(inner);
            }
            (ns::DIALBACK_FEATURE, "dialback") => {
                f.dialback = true;
                scope.finish(&c)?;
            }
            (ns::BIDI_FEATURE, "bidi") => {
                f.bidi = true;
                scope.finish(&c)?;
            }
            _ => {
                scope.finish(&c)?;
            }
        }
    }
    Ok(f)
}

/// `<stream:error>` (RFC 6120 §4.9).
fn parse_stream_error<'a>(
    scope: &mut Scope<'a, '_>,
    me: &ChildStart<'a>,
) -> Result<Element<'a>, XmppError> {
    let mut condition = None;
    let mut text = None;
    if !me.empty {
        while let Some(c) = scope.next_child()? {
            if &*c.ns != ns::STREAM_ERRORS {
                scope.finish(&c)?;
            } else if c.local == "text" {
                text = Some(scope.text(&c)?);
            } else {
                condition = condition.or(StreamCondition::from_wire(c.local));
                scope.finish(&c)?;
            }
        }
    }
    Ok(Element::StreamError { condition, text })
}

/// `<error type=…><condition/><text/></error>` inside a stanza (RFC 6120 §8.3.2).
pub(crate) fn parse_stanza_error<'a>(
    scope: &mut Scope<'a, '_>,
    me: &ChildStart<'a>,
) -> Result<StanzaErrorView<'a>, XmppError> {
    let type_ = Attrs::new(me.attrs)
        .find_raw("type")?
        .and_then(ErrorType::from_wire);
    let mut condition = None;
    let mut text = None;
    if !me.empty {
        let mut inner = scope.enter(me);
        while let Some(c) = inner.next_child()? {
            if &*c.ns != ns::STANZA_ERRORS {
                inner.finish(&c)?;
            } else if c.local == "text" {
                text = Some(inner.text(&c)?);
            } else {
                condition = condition.or(StanzaCondition::from_wire(c.local));
                inner.finish(&c)?;
            }
        }
        scope.resume(inner);
    }
    let condition = condition.unwrap_or(StanzaCondition::UndefinedCondition);
    Ok(StanzaErrorView {
        type_: type_.unwrap_or_else(|| condition.default_type()),
        condition,
        text,
    })
}

/// `<db:result/>` / `<db:verify/>` (XEP-0220 §2).
fn parse_dialback<'a>(
    scope: &mut Scope<'a, '_>,
    me: &ChildStart<'a>,
) -> Result<Dialback<'a>, XmppError> {
    let a = StanzaAttrs::parse(me.attrs)?;
    let type_ = match a.type_ {
        None => None,
        Some("valid") => Some(DbType::Valid),
        Some("invalid") => Some(DbType::Invalid),
        Some("error") => Some(DbType::Error),
        Some(_) => return Err(XmppError::UnexpectedElement),
    };
    let mut key = Cow::Borrowed("");
    let mut error = None;
    if !me.empty {
        if type_.is_none() {
            key = trim_cow(scope.text(me)?);
        } else {
            while let Some(c) = scope.next_child()? {
                if c.local == "error" {
                    error = Some(parse_stanza_error(scope, &c)?);
                } else {
                    scope.finish(&c)?;
                }
            }
        }
    }
    Ok(Dialback {
        from: a.from,
        to: a.to,
        id: a.id,
        type_,
        key,
        error,
    })
}
