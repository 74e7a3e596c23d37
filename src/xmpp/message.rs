//! `<message/>` (RFC 6121 §5) and the message extensions parley maps: XEP-0085 chat states,
//! 0184 receipts, 0333 markers, 0071 XHTML-IM, 0444 reactions, 0308 correction, 0424
//! retraction, 0461 replies, 0066 OOB, 0172 nick, 0203 delay, 0359 stanza/origin ids.

use std::borrow::Cow;

use super::scope::{ChildStart, Scope};
use super::stanza::{StanzaAttrs, StanzaErrorView, attr, parse_stanza_error};
use super::{XmppError, ns};

pub use super::children::{Child, Children};

/// `type` of a `<message/>` (RFC 6121 §5.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageType {
    /// chat
    Chat,
    /// error
    Error,
    /// groupchat
    Groupchat,
    /// headline
    Headline,
    /// normal (also when absent)
    Normal,
}

impl MessageType {
    /// Wire form.
    pub fn as_str(&self) -> &'static str {
        match self {
            MessageType::Chat => "chat",
            MessageType::Error => "error",
            MessageType::Groupchat => "groupchat",
            MessageType::Headline => "headline",
            MessageType::Normal => "normal",
        }
    }

    /// Parse the wire form; unknown values are treated as `normal` (RFC 6121 §5.2.2).
    pub fn from_wire(s: Option<&str>) -> MessageType {
        match s {
            Some("chat") => MessageType::Chat,
            Some("error") => MessageType::Error,
            Some("groupchat") => MessageType::Groupchat,
            Some("headline") => MessageType::Headline,
            _ => MessageType::Normal,
        }
    }
}

/// XEP-0085 chat state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatState {
    /// `<active/>`
    Active,
    /// `<composing/>`
    Composing,
    /// `<paused/>`
    Paused,
    /// `<inactive/>`
    Inactive,
    /// `<gone/>`
    Gone,
}

impl ChatState {
    /// Element name.
    pub fn as_str(&self) -> &'static str {
        match self {
            ChatState::Active => "active",
            ChatState::Composing => "composing",
            ChatState::Paused => "paused",
            ChatState::Inactive => "inactive",
            ChatState::Gone => "gone",
        }
    }

    /// From the element name.
    pub fn from_wire(s: &str) -> Option<ChatState> {
        Some(match s {
            "active" => ChatState::Active,
            "composing" => ChatState::Composing,
            "paused" => ChatState::Paused,
            "inactive" => ChatState::Inactive,
            "gone" => ChatState::Gone,
            _ => return None,
        })
    }
}

/// XEP-0333 chat marker (XEP-0184 receipts are separate fields).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Marker<'a> {
    /// `<markable/>`: the sender wants markers for this message.
    Markable,
    /// `<received id=…/>`.
    Received(Cow<'a, str>),
    /// `<displayed id=…/>`.
    Displayed(Cow<'a, str>),
    /// `<acknowledged id=…/>`.
    Acknowledged(Cow<'a, str>),
}

/// XEP-0461 reply reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply<'a> {
    /// JID of the author of the message replied to.
    pub to: Option<Cow<'a, str>>,
    /// Id of the message replied to.
    pub id: Cow<'a, str>,
}

/// XEP-0066 out-of-band data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Oob<'a> {
    /// `<url/>`.
    pub url: Cow<'a, str>,
    /// `<desc/>`.
    pub desc: Option<Cow<'a, str>>,
}

/// XEP-0203 delayed delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delay<'a> {
    /// `stamp` (XEP-0082 DateTime, as sent).
    pub stamp: Cow<'a, str>,
    /// `from`.
    pub from: Option<Cow<'a, str>>,
}

/// XEP-0359 `<stanza-id/>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StanzaId<'a> {
    /// `id`.
    pub id: Cow<'a, str>,
    /// `by`.
    pub by: Cow<'a, str>,
}

/// XEP-0444 reactions to one message: iterate the emoji with [`Reactions::iter`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reactions<'a> {
    /// Id of the message reacted to.
    pub id: Cow<'a, str>,
    /// Raw `<reactions>` element.
    pub xml: &'a str,
}

impl<'a> Reactions<'a> {
    /// Each `<reaction>` text; stops at the first malformed child.
    pub fn iter(&self) -> impl Iterator<Item = Cow<'a, str>> + 'a {
        let mut scope = Children::of(self.xml, ns::REACTIONS);
        std::iter::from_fn(move || scope.next_text("reaction"))
    }
}

/// A `<message/>` stanza.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageView<'a> {
    /// `from`.
    pub from: Option<Cow<'a, str>>,
    /// `to`.
    pub to: Option<Cow<'a, str>>,
    /// `id`.
    pub id: Option<Cow<'a, str>>,
    /// `type`.
    pub type_: MessageType,
    /// `xml:lang`.
    pub lang: Option<Cow<'a, str>>,
    /// First `<body/>` (text unescaped).
    pub body: Option<Cow<'a, str>>,
    /// First `<subject/>`.
    pub subject: Option<Cow<'a, str>>,
    /// `<thread/>`.
    pub thread: Option<Cow<'a, str>>,
    /// `<error/>` of a type='error' message.
    pub error: Option<StanzaErrorView<'a>>,
    /// `xml:lang` of the first `<body/>`, if it has its own.
    pub body_lang: Option<Cow<'a, str>>,
    /// `<thread parent=…>`.
    pub thread_parent: Option<Cow<'a, str>>,
    /// XEP-0085 chat state.
    pub chat_state: Option<ChatState>,
    /// XEP-0184 `<request/>`.
    pub receipt_request: bool,
    /// XEP-0184 `<received id=…/>`.
    pub receipt_received: Option<Cow<'a, str>>,
    /// XEP-0333 marker.
    pub marker: Option<Marker<'a>>,
    /// XEP-0071 raw `<html xmlns='http://jabber.org/protocol/xhtml-im'>` element.
    pub xhtml: Option<&'a str>,
    /// XEP-0444 reactions.
    pub reactions: Option<Reactions<'a>>,
    /// XEP-0308 `<replace id=…/>`: this message corrects message `id`.
    pub replace_id: Option<Cow<'a, str>>,
    /// XEP-0424 `<retract id=…/>`: retract message `id`.
    pub retract_id: Option<Cow<'a, str>>,
    /// XEP-0461 reply.
    pub reply: Option<Reply<'a>>,
    /// XEP-0066 OOB link.
    pub oob: Option<Oob<'a>>,
    /// XEP-0172 nickname.
    pub nick: Option<Cow<'a, str>>,
    /// XEP-0203 delay.
    pub delay: Option<Delay<'a>>,
    /// XEP-0359 first `<stanza-id/>`.
    pub stanza_id: Option<StanzaId<'a>>,
    /// XEP-0359 `<origin-id id=…/>`.
    pub origin_id: Option<Cow<'a, str>>,
    /// Number of children parley does not map (see [`MessageView::unknown_children`]).
    pub unknown_count: usize,
    /// The whole stanza as received.
    pub xml: &'a str,
    /// Default namespace of the stanza's children.
    pub stanza_ns: &'a str,
}

impl<'a> MessageView<'a> {
    /// Every child element, with its namespace and raw XML.
    pub fn children(&self) -> Children<'a> {
        Children::of(self.xml, self.stanza_ns)
    }

    /// Children parley does not map, as raw XML: policy decides whether they cross.
    pub fn unknown_children(&self) -> impl Iterator<Item = Child<'a>> + 'a {
        let stanza_ns = self.stanza_ns;
        self.children()
            .filter(move |c| !is_known_child(&c.ns, c.name, stanza_ns))
    }

    /// Every `<body/>` with its `xml:lang` (RFC 6121 §5.2.3).
    pub fn bodies(&self) -> impl Iterator<Item = (Option<Cow<'a, str>>, Cow<'a, str>)> + 'a {
        self.children()
            .filter(|c| c.name == "body")
            .filter_map(|c| {
                let lang = c.attr("xml:lang");
                c.text().map(|t| (lang, t))
            })
    }
}

/// Whether a message child is one the view maps.
fn is_known_child(child_ns: &str, name: &str, stanza_ns: &str) -> bool {
    if child_ns == stanza_ns {
        return matches!(name, "body" | "subject" | "thread" | "error");
    }
    match child_ns {
        ns::CHATSTATES => ChatState::from_wire(name).is_some(),
        ns::RECEIPTS => matches!(name, "request" | "received"),
        ns::MARKERS => matches!(name, "markable" | "received" | "displayed" | "acknowledged"),
        ns::XHTML_IM => name == "html",
        ns::REACTIONS => name == "reactions",
        ns::CORRECTION => name == "replace",
        ns::RETRACT => name == "retract",
        ns::REPLY => name == "reply",
        ns::OOB => name == "x",
        ns::NICK => name == "nick",
        ns::DELAY => name == "delay",
        ns::SID => matches!(name, "stanza-id" | "origin-id"),
        _ => false,
    }
}

/// Read a `<message/>` whose start tag `me` was just read.
pub(crate) fn parse_message<'a>(
    scope: &mut Scope<'a, '_>,
    me: &ChildStart<'a>,
    src: &'a str,
) -> Result<MessageView<'a>, XmppError> {
    let a = StanzaAttrs::parse(me.attrs)?;
    let mut m = MessageView {
        from: a.from,
        to: a.to,
        id: a.id,
        type_: MessageType::from_wire(a.type_),
        lang: a.lang,
        body: None,
        subject: None,
        thread: None,
        error: None,
        body_lang: None,
        thread_parent: None,
        chat_state: None,
        receipt_request: false,
        receipt_received: None,
        marker: None,
        xhtml: None,
        reactions: None,
        replace_id: None,
        retract_id: None,
        reply: None,
        oob: None,
        nick: None,
        delay: None,
        stanza_id: None,
        origin_id: None,
        unknown_count: 0,
        xml: src,
        stanza_ns: "",
    };
    m.stanza_ns = match &me.ns {
        Cow::Borrowed(s) => s,
        Cow::Owned(_) => ns::SERVER,
    };
    if me.empty {
        return Ok(m);
    }
    while let Some(c) = scope.next_child()? {
        if *c.ns == *scope.default_ns() || *c.ns == *m.stanza_ns {
            match c.local {
                "body" if m.body.is_none() => {
                    m.body_lang = attr(c.attrs, "xml:lang")?;
                    m.body = Some(scope.text(&c)?);
                }
                "subject" if m.subject.is_none() => m.subject = Some(scope.text(&c)?),
                "thread" if m.thread.is_none() => {
                    m.thread_parent = attr(c.attrs, "parent")?;
                    m.thread = Some(scope.text(&c)?);
                }
                "error" if m.error.is_none() => m.error = Some(parse_stanza_error(scope, &c)?),
                "body" | "subject" | "thread" | "error" => {
                    scope.finish(&c)?;
                }
                _ => {
                    m.unknown_count += 1;
                    scope.finish(&c)?;
                }
            }
            continue;
        }
        if !extension(&mut m, scope, &c)? {
            m.unknown_count += 1;
            scope.finish(&c)?;
        }
    }
    Ok(m)
}

/// Map one extension child; `false` if it is not one parley maps (left unconsumed).
fn extension<'a>(
    m: &mut MessageView<'a>,
    scope: &mut Scope<'a, '_>,
    c: &ChildStart<'a>,
) -> Result<bool, XmppError> {
    // Extensions that are malformed (a required attribute missing) stay unknown children.
    let id = attr(c.attrs, "id")?;
    let needs_id = matches!(
        (&*c.ns, c.local),
        (ns::MARKERS, "received" | "displayed" | "acknowledged")
            | (ns::REACTIONS, "reactions")
            | (ns::CORRECTION, "replace")
            | (ns::RETRACT, "retract")
            | (ns::REPLY, "reply")
            | (ns::SID, "stanza-id" | "origin-id")
    );
    let Some(id) = id.or(if needs_id {
        None
    } else {
        Some(Cow::Borrowed(""))
    }) else {
        return Ok(false);
    };
    match (&*c.ns, c.local) {
        (ns::CHATSTATES, name) => match ChatState::from_wire(name) {
            Some(s) => m.chat_state = Some(s),
            None => return Ok(false),
        },
        (ns::RECEIPTS, "request") => m.receipt_request = true,
        (ns::RECEIPTS, "received") => m.receipt_received = Some(id),
        (ns::MARKERS, "markable") => m.marker = Some(Marker::Markable),
        (ns::MARKERS, "received") => m.marker = Some(Marker::Received(id)),
        (ns::MARKERS, "displayed") => m.marker = Some(Marker::Displayed(id)),
        (ns::MARKERS, "acknowledged") => m.marker = Some(Marker::Acknowledged(id)),
        (ns::XHTML_IM, "html") => {
            m.xhtml = Some(scope.finish(c)?);
            return Ok(true);
        }
        (ns::REACTIONS, "reactions") => {
            let xml = scope.finish(c)?;
            m.reactions = Some(Reactions { id, xml });
            return Ok(true);
        }
        (ns::CORRECTION, "replace") => m.replace_id = Some(id),
        (ns::RETRACT, "retract") => m.retract_id = Some(id),
        (ns::REPLY, "reply") => {
            m.reply = Some(Reply {
                to: attr(c.attrs, "to")?,
                id,
            })
        }
        (ns::OOB, "x") => {
            let xml = scope.finish(c)?;
            let mut kids = Children::of(xml, ns::OOB);
            let (mut url, mut desc) = (None, None);
            for k in kids.by_ref() {
                match k.name {
                    "url" => url = url.or(k.text()),
                    "desc" => desc = desc.or(k.text()),
                    _ => {}
                }
            }
            if let Some(url) = url {
                m.oob = Some(Oob {
                    url: super::stanza::trim_cow(url),
                    desc,
                });
            }
            return Ok(true);
        }
        (ns::NICK, "nick") => {
            m.nick = Some(scope.text(c)?);
            return Ok(true);
        }
        (ns::DELAY, "delay") => {
            let Some(stamp) = attr(c.attrs, "stamp")? else {
                return Ok(false);
            };
            m.delay = Some(Delay {
                stamp,
                from: attr(c.attrs, "from")?,
            })
        }
        (ns::SID, "stanza-id") if m.stanza_id.is_none() => {
            let Some(by) = attr(c.attrs, "by")? else {
                return Ok(false);
            };
            m.stanza_id = Some(StanzaId { id, by })
        }
        (ns::SID, "origin-id") => m.origin_id = Some(id),
        _ => return Ok(false),
    }
    scope.finish(c)?;
    Ok(true)
}
