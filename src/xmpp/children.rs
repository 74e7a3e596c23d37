//! Raw child elements of a stanza, read on demand: what parley does not map stays available
//! as exact XML slices with their resolved namespace, and (through
//! [`Child::self_contained`]) as XML that re-declares the namespace prefixes it borrowed from
//! its ancestors (XML Namespaces §6.1), so it can be copied into another stanza.

use std::borrow::Cow;

use super::scope::{ChildStart, Scope, resolve_name};
use super::stanza::attr;
use super::xml::{Attrs, Token, Tokenizer, split_qname};

/// Raw attribute texts of the enclosing start tags that may declare prefixes, innermost
/// first (`""` where there is none).
pub(crate) type Ancestors<'a> = [&'a str; 3];

/// One child element of a stanza.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Child<'a> {
    /// Namespace URI ("" if it uses a prefix declared only on the stream header).
    pub ns: Cow<'a, str>,
    /// Local name.
    pub name: &'a str,
    /// Raw attribute text of the start tag.
    pub attrs: &'a str,
    /// The child's exact XML (see [`Child::self_contained`] to copy it elsewhere).
    pub xml: &'a str,
    /// Start-tag attributes of the enclosing elements, for prefixes declared there.
    pub(crate) ancestors: Ancestors<'a>,
}

impl<'a> Child<'a> {
    /// Attribute `name`, unescaped (`None` if absent or malformed).
    pub fn attr(&self, name: &str) -> Option<Cow<'a, str>> {
        attr(self.attrs, name).ok().flatten()
    }

    /// Text content, unescaped (`None` if malformed).
    pub fn text(&self) -> Option<Cow<'a, str>> {
        let mut tok = Tokenizer::new(self.xml);
        match tok.next_token() {
            Ok(Some(Token::Start { empty: false, .. })) => tok.read_text().ok(),
            Ok(Some(Token::Start { empty: true, .. })) => Some(Cow::Borrowed("")),
            _ => None,
        }
    }

    /// This child's own children.
    pub fn children(&self) -> Children<'a> {
        let [a0, a1, _] = self.ancestors;
        Children::within(self.xml, "", [a0, a1, ""])
    }

    /// The child's XML, made self-contained: every namespace prefix it uses but declares only
    /// on an ancestor (the stanza, or an enclosing element) is re-declared on its start tag.
    /// Borrowed when nothing had to be added. A prefix no ancestor declares is left as is.
    pub fn self_contained(&self) -> Cow<'a, str> {
        let xml = self.xml;
        if !xml.contains(':') {
            return Cow::Borrowed(xml);
        }
        let needed = borrowed_prefixes(xml);
        if needed.is_empty() {
            return Cow::Borrowed(xml);
        }
        let mut decls = String::new();
        for p in needed {
            let Some(uri) = self.ancestors.iter().find_map(|a| declared_uri(a, p)) else {
                continue;
            };
            let q = if uri.contains('\'') { '"' } else { '\'' };
            decls.push_str(" xmlns:");
            decls.push_str(p);
            decls.push('=');
            decls.push(q);
            decls.push_str(uri);
            decls.push(q);
        }
        if decls.is_empty() {
            return Cow::Borrowed(xml);
        }
        // The start tag's name ends at the first space, `/` or `>`.
        let name_end = xml
            .bytes()
            .position(|b| super::framing::is_space(b) || b == b'/' || b == b'>')
            .unwrap_or(xml.len());
        let mut out = String::with_capacity(xml.len() + decls.len());
        out.push_str(&xml[..name_end]);
        out.push_str(&decls);
        out.push_str(&xml[name_end..]);
        Cow::Owned(out)
    }
}

/// The raw value of `xmlns:prefix` in the attribute text `attrs`.
fn declared_uri<'a>(attrs: &'a str, prefix: &str) -> Option<&'a str> {
    let mut it = Attrs::new(attrs);
    while let Ok(Some((k, v))) = it.next_attr() {
        if k.strip_prefix("xmlns:") == Some(prefix) {
            return Some(v);
        }
    }
    None
}

/// Prefixes used in the element `xml` (element and attribute names, other than `xml` and
/// `xmlns`) where no element of `xml` in scope declares them.
fn borrowed_prefixes<'x>(xml: &'x str) -> Vec<&'x str> {
    let mut needed: Vec<&str> = Vec::new();
    let mut declared: Vec<(usize, &str)> = Vec::new();
    let mut depth = 0usize;
    let mut tok = Tokenizer::new(xml);
    while let Ok(Some(t)) = tok.next_token() {
        match t {
            Token::Start {
                name, attrs, empty, ..
            } => {
                depth += 1;
                let mut it = Attrs::new(attrs);
                while let Ok(Some((k, _))) = it.next_attr() {
                    if let Some(p) = k.strip_prefix("xmlns:") {
                        declared.push((depth, p));
                    }
                }
                let mut used = |q: &'x str| {
                    if let (Some(p), _) = split_qname(q)
                        && p != "xml"
                        && p != "xmlns"
                        && !declared.iter().any(|(_, d)| *d == p)
                        && !needed.contains(&p)
                    {
                        needed.push(p);
                    }
                };
                used(name);
                let mut it = Attrs::new(attrs);
                while let Ok(Some((k, _))) = it.next_attr() {
                    used(k);
                }
                if empty {
                    declared.retain(|(d, _)| *d < depth);
                    depth -= 1;
                }
            }
            Token::End { .. } => {
                declared.retain(|(d, _)| *d < depth);
                depth = depth.saturating_sub(1);
            }
            _ => {}
        }
        if depth == 0 {
            break;
        }
    }
    needed
}

/// Iterator over the children of one element; stops at the end or at malformed input.
#[derive(Debug, Clone)]
pub struct Children<'a> {
    scope: Option<Scope<'a, 'static>>,
    /// Enclosing start tags of the children (the parent first).
    ancestors: Ancestors<'a>,
}

impl<'a> Children<'a> {
    /// The children of the element `xml`, whose default namespace (if it declares none) is
    /// `inherited_ns`.
    pub fn of(xml: &'a str, inherited_ns: &'a str) -> Children<'a> {
        Children::within(xml, inherited_ns, ["", "", ""])
    }

    /// As [`Children::of`], for an element whose own ancestors' start tags are `outer`
    /// (innermost first); the element's own start tag is added in front.
    pub(crate) fn within(
        xml: &'a str,
        inherited_ns: &'a str,
        outer: Ancestors<'a>,
    ) -> Children<'a> {
        let mut own_attrs = "";
        let mut tok = Tokenizer::new(xml);
        let scope = match tok.next_token() {
            Ok(Some(Token::Start {
                name,
                attrs,
                empty: false,
                ..
            })) => {
                own_attrs = attrs;
                let inherited = Cow::Borrowed(inherited_ns);
                resolve_name(name, attrs, &inherited, attrs, None)
                    .ok()
                    .map(|(ns, _)| Scope::new(tok, xml, ns, attrs, None))
            }
            _ => None,
        };
        Children {
            scope,
            ancestors: [own_attrs, outer[0], outer[1]],
        }
    }

    /// The text of the next child named `name` (other children are skipped).
    pub(crate) fn next_text(&mut self, name: &str) -> Option<Cow<'a, str>> {
        loop {
            let child = self.next()?;
            if child.name == name {
                return child.text();
            }
        }
    }

    fn advance(&mut self) -> Option<Child<'a>> {
        let scope = self.scope.as_mut()?;
        let c: ChildStart<'a> = scope.next_child().ok()??;
        let xml = scope.finish(&c).ok()?;
        let mut ns = c.ns;
        if ns.is_empty() {
            // A prefix declared further up than the parent.
            let qname =
                xml[1..].split(|ch: char| ch.is_ascii_whitespace() || ch == '/' || ch == '>');
            if let Some((Some(p), _)) = qname.map(split_qname).next()
                && let Some(uri) = self.ancestors.iter().find_map(|a| declared_uri(a, p))
            {
                ns = Cow::Borrowed(uri);
            }
        }
        Some(Child {
            ns,
            name: c.local,
            attrs: c.attrs,
            xml,
            ancestors: self.ancestors,
        })
    }
}

impl<'a> Iterator for Children<'a> {
    type Item = Child<'a>;

    fn next(&mut self) -> Option<Child<'a>> {
        let next = self.advance();
        if next.is_none() {
            self.scope = None;
        }
        next
    }
}
