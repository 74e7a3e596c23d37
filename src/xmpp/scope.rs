//! Walking the children of one element with namespace resolution (XML Namespaces §6), without
//! allocating: default namespaces come from `xmlns` attributes or the enclosing element,
//! prefixes from the child, the stanza, or the stream header.

use std::borrow::Cow;

use super::xml::{Attrs, Token, Tokenizer, split_qname};
use super::{StreamHeader, XmppError, ns};

/// A child's start tag with its resolved namespace.
#[derive(Debug, Clone)]
pub(crate) struct ChildStart<'a> {
    /// Namespace URI ("" when a prefix could not be resolved outside the stream).
    pub ns: Cow<'a, str>,
    /// Local name.
    pub local: &'a str,
    /// Raw attribute text.
    pub attrs: &'a str,
    /// `<x/>`.
    pub empty: bool,
    /// Offset of `<`.
    pub at: usize,
}

/// The children of an element whose start tag has just been read.
#[derive(Debug, Clone)]
pub(crate) struct Scope<'a, 'h> {
    /// The tokenizer, positioned inside the parent.
    pub tok: Tokenizer<'a, 'h>,
    src: &'a str,
    /// Default namespace in the parent.
    default_ns: Cow<'a, str>,
    /// Raw attributes of the stanza (depth-1) element, for prefix declarations.
    top_attrs: &'a str,
    /// The stream header, when known.
    header: Option<&'h StreamHeader>,
}

/// Map a well-known URI to its `'static` constant so header-borrowed namespaces need no copy.
pub(crate) fn intern(uri: &str) -> Option<&'static str> {
    const KNOWN: &[&str] = &[
        ns::STREAMS,
        ns::SERVER,
        ns::CLIENT,
        ns::COMPONENT,
        ns::DIALBACK,
        ns::TLS,
        ns::SASL,
        ns::STREAM_ERRORS,
        ns::STANZA_ERRORS,
        ns::BIDI,
    ];
    KNOWN.iter().find(|k| **k == uri).copied()
}

impl<'a, 'h> Scope<'a, 'h> {
    /// Children of the element whose start tag `tok` just read.
    pub(crate) fn new(
        tok: Tokenizer<'a, 'h>,
        src: &'a str,
        default_ns: Cow<'a, str>,
        top_attrs: &'a str,
        header: Option<&'h StreamHeader>,
    ) -> Self {
        Scope {
            tok,
            src,
            default_ns,
            top_attrs,
            header,
        }
    }

    /// The parent's default namespace.
    pub(crate) fn default_ns(&self) -> &str {
        &self.default_ns
    }

    /// Resolve a qualified name with the attributes of its own start tag.
    pub(crate) fn resolve(
        &self,
        name: &'a str,
        attrs: &'a str,
    ) -> Result<(Cow<'a, str>, &'a str), XmppError> {
        resolve_name(name, attrs, &self.default_ns, self.top_attrs, self.header)
    }

    /// The next child start tag, or `None` at the parent's end tag.
    pub(crate) fn next_child(&mut self) -> Result<Option<ChildStart<'a>>, XmppError> {
        loop {
            match self.tok.next_token()? {
                Some(Token::Start {
                    name,
                    attrs,
                    empty,
                    at,
                }) => {
                    let (ns, local) = self.resolve(name, attrs)?;
                    return Ok(Some(ChildStart {
                        ns,
                        local,
                        attrs,
                        empty,
                        at,
                    }));
                }
                Some(Token::End { .. }) => return Ok(None),
                Some(Token::Text(_) | Token::CData(_)) => {}
                None => return Err(XmppError::NotWellFormed),
            }
        }
    }

    /// Skip the rest of `child` (if not empty) and return its raw XML.
    pub(crate) fn finish(&mut self, child: &ChildStart<'a>) -> Result<&'a str, XmppError> {
        let end = if child.empty {
            self.tok.pos()
        } else {
            self.tok.skip_element()?
        };
        Ok(&self.src[child.at..end])
    }

    /// The text of `child` (empty for `<x/>`), consuming it.
    pub(crate) fn text(&mut self, child: &ChildStart<'a>) -> Result<Cow<'a, str>, XmppError> {
        if child.empty {
            Ok(Cow::Borrowed(""))
        } else {
            self.tok.read_text()
        }
    }

    /// A scope over the children of `child` (which must not be empty).
    pub(crate) fn enter(&self, child: &ChildStart<'a>) -> Scope<'a, 'h> {
        Scope {
            tok: self.tok.clone(),
            src: self.src,
            default_ns: child.ns.clone(),
            top_attrs: self.top_attrs,
            header: self.header,
        }
    }

    /// Continue after a nested scope has read up to its parent's end tag.
    pub(crate) fn resume(&mut self, inner: Scope<'a, 'h>) {
        self.tok = inner.tok;
    }
}

/// Resolve `name` (with its own raw attributes) to `(namespace, local name)`.
pub(crate) fn resolve_name<'a>(
    name: &'a str,
    attrs: &'a str,
    default_ns: &Cow<'a, str>,
    top_attrs: &'a str,
    header: Option<&StreamHeader>,
) -> Result<(Cow<'a, str>, &'a str), XmppError> {
    let (prefix, local) = split_qname(name);
    let ns = match prefix {
        None => match Attrs::new(attrs).find_raw("xmlns")? {
            Some(uri) => Cow::Borrowed(uri),
            None => default_ns.clone(),
        },
        Some("xml") => Cow::Borrowed(ns::XML),
        Some(p) => {
            let decl = |a: &'a str| -> Result<Option<&'a str>, XmppError> {
                let mut it = Attrs::new(a);
                while let Some((k, v)) = it.next_attr()? {
                    if k.strip_prefix("xmlns:") == Some(p) {
                        return Ok(Some(v));
                    }
                }
                Ok(None)
            };
            if let Some(uri) = decl(attrs)?.or(decl(top_attrs)?) {
                Cow::Borrowed(uri)
            } else if let Some(h) = header {
                match h.resolve_prefix(p) {
                    Some(uri) => intern(uri)
                        .map(Cow::Borrowed)
                        .unwrap_or_else(|| Cow::Owned(uri.to_owned())),
                    None => return Err(XmppError::BadNamespacePrefix),
                }
            } else {
                Cow::Borrowed("")
            }
        }
    };
    Ok((ns, local))
}
