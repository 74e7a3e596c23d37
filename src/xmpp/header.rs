//! The stream header (RFC 6120 §4.7): `<stream:stream>` attributes and namespace declarations.

use super::XmppError;
use super::ns;
use super::xml::{Attrs, Token, Tokenizer, attr_value, split_qname};

/// Parse the opening tag of a stream (exactly `<…>`, already checked by the framer).
pub(crate) fn parse_header(tag: &str) -> Result<StreamHeader, XmppError> {
    let Some(Token::Start { name, attrs, .. }) = Tokenizer::new(tag).next_token()? else {
        return Err(XmppError::BadStreamHeader);
    };
    let (prefix, local) = split_qname(name);
    let mut header = StreamHeader::default();
    let mut default_ns = None;
    let mut root_ns = None;
    let mut it = Attrs::new(attrs);
    while let Some((key, raw)) = it.next_attr()? {
        let value = attr_value(raw)?.into_owned();
        match split_qname(key) {
            (None, "xmlns") => default_ns = Some(value),
            (Some("xmlns"), p) => {
                if prefix == Some(p) {
                    root_ns = Some(value.clone());
                }
                if value == ns::DIALBACK {
                    header.dialback = true;
                }
                header.prefixes.push((p.to_owned(), value));
            }
            (None, "to") => header.to = Some(value),
            (None, "from") => header.from = Some(value),
            (None, "id") => header.id = Some(value),
            (None, "version") => header.version = Some(value),
            (Some("xml"), "lang") => header.lang = Some(value),
            _ => {}
        }
    }
    let root_ns = match prefix {
        Some(_) => root_ns,
        None => default_ns.clone(),
    };
    match root_ns.as_deref() {
        Some(ns::STREAMS) => {}
        Some(_) => return Err(XmppError::InvalidNamespace),
        None => return Err(XmppError::BadNamespacePrefix),
    }
    if local != "stream" {
        return Err(XmppError::BadStreamHeader);
    }
    header.ns = match default_ns.as_deref() {
        Some(ns::SERVER) => StreamNs::Server,
        Some(ns::CLIENT) => StreamNs::Client,
        Some(ns::COMPONENT) => StreamNs::Component,
        _ => return Err(XmppError::InvalidNamespace),
    };
    if let Some(v) = &header.version {
        let major = v.split('.').next().unwrap_or("");
        if major != "1" || !v.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
            return Err(XmppError::UnsupportedVersion);
        }
    }
    Ok(header)
}

/// The default namespace a stream declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StreamNs {
    /// `jabber:server` (s2s)
    #[default]
    Server,
    /// `jabber:client` (c2s)
    Client,
    /// `jabber:component:accept` (XEP-0114)
    Component,
}

impl StreamNs {
    /// The namespace URI.
    pub fn uri(&self) -> &'static str {
        match self {
            StreamNs::Server => super::ns::SERVER,
            StreamNs::Client => super::ns::CLIENT,
            StreamNs::Component => super::ns::COMPONENT,
        }
    }
}

/// The opening `<stream:stream>` tag's attributes and namespace declarations.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StreamHeader {
    /// `to` attribute.
    pub to: Option<String>,
    /// `from` attribute.
    pub from: Option<String>,
    /// `id` attribute.
    pub id: Option<String>,
    /// `version` attribute.
    pub version: Option<String>,
    /// `xml:lang` attribute.
    pub lang: Option<String>,
    /// Default namespace.
    pub ns: StreamNs,
    /// Whether the dialback namespace (`xmlns:db='jabber:server:dialback'`) is declared.
    pub dialback: bool,
    /// Every prefixed namespace declared on the header, `(prefix, uri)`, e.g.
    /// `("stream", "http://etherx.jabber.org/streams")`. Stanzas resolve prefixes through it.
    /// When empty, `stream:` and (if [`Self::dialback`]) `db:` resolve to their usual URIs.
    pub prefixes: Vec<(String, String)>,
}

impl StreamHeader {
    /// The namespace URI bound to `prefix` on the header, with the conventional fallbacks.
    pub fn resolve_prefix(&self, prefix: &str) -> Option<&str> {
        if let Some((_, uri)) = self.prefixes.iter().find(|(p, _)| p == prefix) {
            return Some(uri);
        }
        if !self.prefixes.is_empty() {
            return None;
        }
        match prefix {
            "stream" => Some(super::ns::STREAMS),
            "db" if self.dialback => Some(super::ns::DIALBACK),
            _ => None,
        }
    }
}
