//! `<iq/>` (RFC 6120 §8.2.3) and the payloads parley answers or maps: XEP-0199 ping, XEP-0030
//! disco#info / disco#items, XEP-0054 vCard (FN and NICKNAME only).

use std::borrow::Cow;

use super::children::{Child, Children};
use super::scope::{ChildStart, Scope};
use super::stanza::{StanzaAttrs, StanzaErrorView, parse_stanza_error};
use super::{XmppError, ns};

/// `type` of an `<iq/>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IqType {
    /// `get`
    Get,
    /// `set`
    Set,
    /// `result`
    Result,
    /// `error`
    Error,
}

impl IqType {
    /// Wire form.
    pub fn as_str(&self) -> &'static str {
        match self {
            IqType::Get => "get",
            IqType::Set => "set",
            IqType::Result => "result",
            IqType::Error => "error",
        }
    }

    /// Parse the wire form.
    pub fn from_wire(s: &str) -> Option<IqType> {
        Some(match s {
            "get" => IqType::Get,
            "set" => IqType::Set,
            "result" => IqType::Result,
            "error" => IqType::Error,
            _ => return None,
        })
    }
}

/// An `<iq/>` stanza.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IqView<'a> {
    /// `from`.
    pub from: Option<Cow<'a, str>>,
    /// `to`.
    pub to: Option<Cow<'a, str>>,
    /// `id` (required by RFC 6120 §8.2.3; `None` means answer `bad-request`).
    pub id: Option<Cow<'a, str>>,
    /// `type`; `None` when missing or invalid (answer `bad-request`).
    pub type_: Option<IqType>,
    /// `xml:lang`.
    pub lang: Option<Cow<'a, str>>,
    /// The first child other than `<error/>`: the payload.
    pub payload: Option<Child<'a>>,
    /// `<error/>` of a type='error' iq.
    pub error: Option<StanzaErrorView<'a>>,
    /// Children after the first payload (RFC 6120 says a get/set has exactly one).
    pub extra_children: usize,
    /// The whole stanza as received.
    pub xml: &'a str,
}

/// A payload parley knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IqPayload<'a> {
    /// XEP-0199 `<ping/>`.
    Ping,
    /// XEP-0030 disco#info query or result.
    DiscoInfo(DiscoInfo<'a>),
    /// XEP-0030 disco#items query or result, with its `node`.
    DiscoItems {
        /// `node`.
        node: Option<Cow<'a, str>>,
        /// The raw `<query/>`.
        xml: &'a str,
    },
    /// XEP-0054 vCard.
    VCard(VCard<'a>),
    /// Anything else (or no payload).
    Other,
}

/// XEP-0030 disco#info `<query/>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscoInfo<'a> {
    /// `node`.
    pub node: Option<Cow<'a, str>>,
    /// The raw `<query/>`.
    pub xml: &'a str,
}

/// One `<identity/>` of a disco#info result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity<'a> {
    /// `category`.
    pub category: Cow<'a, str>,
    /// `type`.
    pub type_: Cow<'a, str>,
    /// `name`.
    pub name: Option<Cow<'a, str>>,
}

impl<'a> DiscoInfo<'a> {
    /// Every `<identity/>`.
    pub fn identities(&self) -> impl Iterator<Item = Identity<'a>> + 'a {
        Children::of(self.xml, ns::DISCO_INFO)
            .filter(|c| c.name == "identity" && c.ns == ns::DISCO_INFO)
            .filter_map(|c| {
                Some(Identity {
                    category: c.attr("category")?,
                    type_: c.attr("type")?,
                    name: c.attr("name"),
                })
            })
    }

    /// Every `<feature var=…/>`.
    pub fn features(&self) -> impl Iterator<Item = Cow<'a, str>> + 'a {
        Children::of(self.xml, ns::DISCO_INFO)
            .filter(|c| c.name == "feature" && c.ns == ns::DISCO_INFO)
            .filter_map(|c| c.attr("var"))
    }
}

/// XEP-0054 vCard, reduced to what crosses the gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VCard<'a> {
    /// `<FN/>` (formatted name).
    pub full_name: Option<Cow<'a, str>>,
    /// `<NICKNAME/>`.
    pub nickname: Option<Cow<'a, str>>,
}

impl<'a> IqView<'a> {
    /// The typed payload.
    pub fn payload_kind(&self) -> IqPayload<'a> {
        let Some(p) = &self.payload else {
            return IqPayload::Other;
        };
        match (&*p.ns, p.name) {
            (ns::PING, "ping") => IqPayload::Ping,
            (ns::DISCO_INFO, "query") => IqPayload::DiscoInfo(DiscoInfo {
                node: p.attr("node"),
                xml: p.xml,
            }),
            (ns::DISCO_ITEMS, "query") => IqPayload::DiscoItems {
                node: p.attr("node"),
                xml: p.xml,
            },
            (ns::VCARD, "vCard") => {
                let mut v = VCard {
                    full_name: None,
                    nickname: None,
                };
                for c in p.children() {
                    match c.name {
                        "FN" if v.full_name.is_none() => v.full_name = c.text(),
                        "NICKNAME" if v.nickname.is_none() => v.nickname = c.text(),
                        _ => {}
                    }
                }
                IqPayload::VCard(v)
            }
            _ => IqPayload::Other,
        }
    }
}

/// Read an `<iq/>` whose start tag `me` was just read.
pub(crate) fn parse_iq<'a>(
    scope: &mut Scope<'a, '_>,
    me: &ChildStart<'a>,
    src: &'a str,
) -> Result<IqView<'a>, XmppError> {
    let a = StanzaAttrs::parse(me.attrs)?;
    let mut iq = IqView {
        from: a.from,
        to: a.to,
        id: a.id,
        type_: a.type_.and_then(IqType::from_wire),
        lang: a.lang,
        payload: None,
        error: None,
        extra_children: 0,
        xml: src,
    };
    if me.empty {
        return Ok(iq);
    }
    while let Some(c) = scope.next_child()? {
        if c.local == "error" && *c.ns == *scope.default_ns() && iq.error.is_none() {
            iq.error = Some(parse_stanza_error(scope, &c)?);
        } else {
            let xml = scope.finish(&c)?;
            if iq.payload.is_none() {
                iq.payload = Some(Child {
                    ns: c.ns,
                    name: c.local,
                    attrs: c.attrs,
                    xml,
                    ancestors: [me.attrs, "", ""],
                });
            } else {
                iq.extra_children += 1;
            }
        }
    }
    Ok(iq)
}
