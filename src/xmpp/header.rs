//! The stream header (RFC 6120 §4.7): `<stream:stream>` attributes and namespace declarations.

use super::XmppError;
use super::framing::{StreamHeader, StreamNs};
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
