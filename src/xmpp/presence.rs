//! `<presence/>` (RFC 6121 §4): availability, subscriptions, probes, XEP-0115 caps.

use std::borrow::Cow;

use super::children::{Child, Children};
use super::message::Delay;
use super::scope::{ChildStart, Scope};
use super::stanza::{StanzaAttrs, StanzaErrorView, attr, parse_stanza_error, trim_cow};
use super::{XmppError, ns};

/// `type` of a `<presence/>` (RFC 6121 §4.7.1); absent means available.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PresenceType {
    /// No `type`: available.
    Available,
    /// `unavailable`
    Unavailable,
    /// `subscribe`
    Subscribe,
    /// `subscribed`
    Subscribed,
    /// `unsubscribe`
    Unsubscribe,
    /// `unsubscribed`
    Unsubscribed,
    /// `probe`
    Probe,
    /// `error`
    Error,
}

impl PresenceType {
    /// Wire form (`None` for available).
    pub fn as_str(&self) -> Option<&'static str> {
        Some(match self {
            PresenceType::Available => return None,
            PresenceType::Unavailable => "unavailable",
            PresenceType::Subscribe => "subscribe",
            PresenceType::Subscribed => "subscribed",
            PresenceType::Unsubscribe => "unsubscribe",
            PresenceType::Unsubscribed => "unsubscribed",
            PresenceType::Probe => "probe",
            PresenceType::Error => "error",
        })
    }

    /// Parse the wire form; `None` for a value RFC 6121 does not define.
    pub fn from_wire(s: Option<&str>) -> Option<PresenceType> {
        Some(match s {
            None => PresenceType::Available,
            Some("unavailable") => PresenceType::Unavailable,
            Some("subscribe") => PresenceType::Subscribe,
            Some("subscribed") => PresenceType::Subscribed,
            Some("unsubscribe") => PresenceType::Unsubscribe,
            Some("unsubscribed") => PresenceType::Unsubscribed,
            Some("probe") => PresenceType::Probe,
            Some("error") => PresenceType::Error,
            Some(_) => return None,
        })
    }
}

/// `<show/>` (RFC 6121 §4.7.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Show {
    /// `away`
    Away,
    /// `chat`
    Chat,
    /// `dnd`
    Dnd,
    /// `xa`
    Xa,
}

impl Show {
    /// Wire form.
    pub fn as_str(&self) -> &'static str {
        match self {
            Show::Away => "away",
            Show::Chat => "chat",
            Show::Dnd => "dnd",
            Show::Xa => "xa",
        }
    }

    /// Parse the wire form.
    pub fn from_wire(s: &str) -> Option<Show> {
        Some(match s {
            "away" => Show::Away,
            "chat" => Show::Chat,
            "dnd" => Show::Dnd,
            "xa" => Show::Xa,
            _ => return None,
        })
    }
}

/// XEP-0115 entity capabilities.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caps<'a> {
    /// `node`.
    pub node: Cow<'a, str>,
    /// `ver` (the verification string).
    pub ver: Cow<'a, str>,
    /// `hash` (e.g. `sha-1`).
    pub hash: Cow<'a, str>,
}

/// A `<presence/>` stanza.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresenceView<'a> {
    /// `from`.
    pub from: Option<Cow<'a, str>>,
    /// `to`.
    pub to: Option<Cow<'a, str>>,
    /// `id`.
    pub id: Option<Cow<'a, str>>,
    /// `type`; `None` if the value is not one RFC 6121 defines (answer `bad-request`).
    pub type_: Option<PresenceType>,
    /// `xml:lang`.
    pub lang: Option<Cow<'a, str>>,
    /// `<show/>`; `None` when absent or not one of the four values.
    pub show: Option<Show>,
    /// First `<status/>`.
    pub status: Option<Cow<'a, str>>,
    /// `<priority/>`; `None` when absent or outside -128..=127.
    pub priority: Option<i8>,
    /// XEP-0115 `<c/>`.
    pub caps: Option<Caps<'a>>,
    /// XEP-0172 nickname (sent with subscription requests).
    pub nick: Option<Cow<'a, str>>,
    /// XEP-0203 delay.
    pub delay: Option<Delay<'a>>,
    /// `<error/>` of a type='error' presence.
    pub error: Option<StanzaErrorView<'a>>,
    /// Number of children parley does not map.
    pub unknown_count: usize,
    /// The whole stanza as received.
    pub xml: &'a str,
    /// Default namespace of the stanza's children.
    pub stanza_ns: &'a str,
}

impl<'a> PresenceView<'a> {
    /// Every child element, with its namespace and raw XML.
    pub fn children(&self) -> Children<'a> {
        Children::of(self.xml, self.stanza_ns)
    }

    /// Children parley does not map, as raw XML.
    pub fn unknown_children(&self) -> impl Iterator<Item = Child<'a>> + 'a {
        let stanza_ns = self.stanza_ns;
        self.children().filter(move |c| {
            let known = if *c.ns == *stanza_ns {
                matches!(c.name, "show" | "status" | "priority" | "error")
            } else {
                matches!(
                    (&*c.ns, c.name),
                    (ns::CAPS, "c") | (ns::NICK, "nick") | (ns::DELAY, "delay")
                )
            };
            !known
        })
    }

    /// Every `<status/>` with its `xml:lang`.
    pub fn statuses(&self) -> impl Iterator<Item = (Option<Cow<'a, str>>, Cow<'a, str>)> + 'a {
        self.children()
            .filter(|c| c.name == "status")
            .filter_map(|c| {
                let lang = c.attr("xml:lang");
                c.text().map(|t| (lang, t))
            })
    }
}

/// Read a `<presence/>` whose start tag `me` was just read.
pub(crate) fn parse_presence<'a>(
    scope: &mut Scope<'a, '_>,
    me: &ChildStart<'a>,
    src: &'a str,
) -> Result<PresenceView<'a>, XmppError> {
    let a = StanzaAttrs::parse(me.attrs)?;
    let mut p = PresenceView {
        from: a.from,
        to: a.to,
        id: a.id,
        type_: PresenceType::from_wire(a.type_),
        lang: a.lang,
        show: None,
        status: None,
        priority: None,
        caps: None,
        nick: None,
        delay: None,
        error: None,
        unknown_count: 0,
        xml: src,
        stanza_ns: match &me.ns {
            Cow::Borrowed(s) => s,
            Cow::Owned(_) => ns::SERVER,
        },
    };
    if me.empty {
        return Ok(p);
    }
    while let Some(c) = scope.next_child()? {
        let in_stanza_ns = *c.ns == *p.stanza_ns;
        match (in_stanza_ns, &*c.ns, c.local) {
            (true, _, "show") if p.show.is_none() => {
                p.show = Show::from_wire(trim_cow(scope.text(&c)?).as_ref())
            }
            (true, _, "status") if p.status.is_none() => p.status = Some(scope.text(&c)?),
            (true, _, "priority") if p.priority.is_none() => {
                p.priority = trim_cow(scope.text(&c)?).parse().ok()
            }
            (true, _, "error") if p.error.is_none() => {
                p.error = Some(parse_stanza_error(scope, &c)?)
            }
            (true, _, "show" | "status" | "priority" | "error") => {
                scope.finish(&c)?;
            }
            (false, ns::CAPS, "c") => {
                let node = attr(c.attrs, "node")?;
                let ver = attr(c.attrs, "ver")?;
                let hash = attr(c.attrs, "hash")?;
                match (node, ver, hash) {
                    (Some(node), Some(ver), Some(hash)) => p.caps = Some(Caps { node, ver, hash }),
                    _ => p.unknown_count += 1,
                }
                scope.finish(&c)?;
            }
            (false, ns::NICK, "nick") => p.nick = Some(scope.text(&c)?),
            (false, ns::DELAY, "delay") => {
                match attr(c.attrs, "stamp")? {
                    Some(stamp) => {
                        p.delay = Some(Delay {
                            stamp,
                            from: attr(c.attrs, "from")?,
                        })
                    }
                    None => p.unknown_count += 1,
                }
                scope.finish(&c)?;
            }
            _ => {
                p.unknown_count += 1;
                scope.finish(&c)?;
            }
        }
    }
    Ok(p)
}
