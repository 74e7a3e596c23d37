//! Raw child elements of a stanza, read on demand: what parley does not map stays available
//! as exact XML slices with their resolved namespace.

use std::borrow::Cow;

use super::scope::{ChildStart, Scope, resolve_name};
use super::stanza::attr;
use super::xml::{Token, Tokenizer};

/// One child element of a stanza.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Child<'a> {
    /// Namespace URI ("" if it uses a prefix declared only on the stream header).
    pub ns: Cow<'a, str>,
    /// Local name.
    pub name: &'a str,
    /// Raw attribute text of the start tag.
    pub attrs: &'a str,
    /// The child's exact XML.
    pub xml: &'a str,
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
        Children::of(self.xml, "")
    }
}

/// Iterator over the children of one element; stops at the end or at malformed input.
#[derive(Debug, Clone)]
pub struct Children<'a> {
    scope: Option<Scope<'a, 'static>>,
}

impl<'a> Children<'a> {
    /// The children of the element `xml`, whose default namespace (if it declares none) is
    /// `inherited_ns`.
    pub fn of(xml: &'a str, inherited_ns: &'a str) -> Children<'a> {
        let mut tok = Tokenizer::new(xml);
        let scope = match tok.next_token() {
            Ok(Some(Token::Start {
                name,
                attrs,
                empty: false,
                ..
            })) => {
                let inherited = Cow::Borrowed(inherited_ns);
                resolve_name(name, attrs, &inherited, attrs, None)
                    .ok()
                    .map(|(ns, _)| Scope::new(tok, xml, ns, attrs, None))
            }
            _ => None,
        };
        Children { scope }
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
        Some(Child {
            ns: c.ns,
            name: c.local,
            attrs: c.attrs,
            xml,
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
