//! Canonical events (RFC 7247 §4, RFC 7572, RFC 8048 and the XEPs of DESIGN): every thing one
//! side can tell the other, in protocol-neutral form.

use std::borrow::Cow;

use serde::Serialize;

use super::{Address, ChatMessage, ErrorCondition, MessageKind, condition_name};

/// One canonical event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event<'a> {
    /// An instant message (plain or rich).
    Message(ChatMessage<'a>),
    /// Typing notification: RFC 3994 ⇄ XEP-0085.
    ChatState(ChatStateEvent<'a>),
    /// Delivery / display notification: RFC 5438 IMDN ⇄ XEP-0184 / XEP-0333.
    Receipt(Receipt<'a>),
    /// Availability of one resource: PIDF/RPID ⇄ `<presence/>`.
    Presence(Presence<'a>),
    /// Subscription management (RFC 8048 §4 ⇄ RFC 6121 §3).
    Subscription(Subscription<'a>),
    /// A request for current presence (RFC 6121 §4.3).
    Probe(Probe<'a>),
    /// XEP-0444 reaction.
    Reaction(Reaction<'a>),
    /// XEP-0308 correction of an earlier message.
    Correction(Correction<'a>),
    /// XEP-0424 retraction of an earlier message.
    Retraction(Retraction<'a>),
    /// XEP-0066 / XEP-0363 file link.
    FileLink(FileLink<'a>),
    /// XEP-0249 invitation to a group chat.
    GroupInvite(GroupInvite<'a>),
    /// An error about an earlier message or presence (RFC 7247 §8).
    Error(ErrorEvent<'a>),
}

impl<'a> Event<'a> {
    /// Sender of the event.
    pub fn from(&self) -> &Address<'a> {
        match self {
            Event::Message(m) => &m.from,
            Event::ChatState(e) => &e.env.from,
            Event::Receipt(e) => &e.env.from,
            Event::Presence(e) => &e.from,
            Event::Subscription(e) => &e.from,
            Event::Probe(e) => &e.from,
            Event::Reaction(e) => &e.env.from,
            Event::Correction(e) => &e.message.from,
            Event::Retraction(e) => &e.env.from,
            Event::FileLink(e) => &e.env.from,
            Event::GroupInvite(e) => &e.env.from,
            Event::Error(e) => &e.from,
        }
    }

    /// Recipient of the event.
    pub fn to(&self) -> &Address<'a> {
        match self {
            Event::Message(m) => &m.to,
            Event::ChatState(e) => &e.env.to,
            Event::Receipt(e) => &e.env.to,
            Event::Presence(e) => &e.to,
            Event::Subscription(e) => &e.to,
            Event::Probe(e) => &e.to,
            Event::Reaction(e) => &e.env.to,
            Event::Correction(e) => &e.message.to,
            Event::Retraction(e) => &e.env.to,
            Event::FileLink(e) => &e.env.to,
            Event::GroupInvite(e) => &e.env.to,
            Event::Error(e) => &e.to,
        }
    }

    /// Short name, for logs and metrics labels.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Event::Message(_) => "message",
            Event::ChatState(_) => "chat_state",
            Event::Receipt(_) => "receipt",
            Event::Presence(_) => "presence",
            Event::Subscription(_) => "subscription",
            Event::Probe(_) => "probe",
            Event::Reaction(_) => "reaction",
            Event::Correction(_) => "correction",
            Event::Retraction(_) => "retraction",
            Event::FileLink(_) => "file_link",
            Event::GroupInvite(_) => "group_invite",
            Event::Error(_) => "error",
        }
    }
}

/// The addressing part of a message-like event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Envelope<'a> {
    /// Sender.
    pub from: Address<'a>,
    /// Recipient.
    pub to: Address<'a>,
    /// Id of this event's message (stanza id ⇄ imdn.Message-ID).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<Cow<'a, str>>,
    /// Conversation id (Call-ID ⇄ `<thread/>`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thread: Option<Cow<'a, str>>,
    /// Message kind.
    pub kind: MessageKind,
}

/// Which receipts the sender of a message asked for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ReceiptRequest {
    /// XEP-0184 `<request/>` ⇄ `positive-delivery`.
    pub delivery: bool,
    /// XEP-0333 `<markable/>` ⇄ `display`.
    pub display: bool,
}

impl ReceiptRequest {
    /// Whether any receipt is asked for.
    pub fn any(&self) -> bool {
        self.delivery || self.display
    }

    /// Whether no receipt is asked for.
    pub fn is_none(&self) -> bool {
        !self.any()
    }
}

/// XEP-0461 reply reference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReplyTo<'a> {
    /// Id of the message replied to.
    pub id: Cow<'a, str>,
    /// Author of the message replied to, as sent (a JID or URI), if given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub author: Option<Cow<'a, str>>,
}

/// An extension parley does not map.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Passthrough<'a> {
    /// An XMPP child element, as raw XML.
    Xml(Cow<'a, str>),
    /// A CPIM header `(name, value)`.
    CpimHeader(Cow<'a, str>, Cow<'a, str>),
}

/// Typing state, the canonical vocabulary (XEP-0085's, the richer one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Typing {
    /// Participating, not typing.
    Active,
    /// Typing.
    Composing,
    /// Stopped typing.
    Paused,
    /// Not paying attention.
    Inactive,
    /// Left the conversation.
    Gone,
}

/// A typing notification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChatStateEvent<'a> {
    /// Addresses.
    pub env: Envelope<'a>,
    /// The state.
    pub state: Typing,
    /// RFC 3994 `<refresh>` seconds, when the sender gave one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh: Option<u32>,
}

/// Receipt kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ReceiptKind {
    /// Delivered to the recipient's device.
    Delivered,
    /// Displayed to the recipient.
    Displayed,
}

/// A disposition notification about an earlier message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Receipt<'a> {
    /// Addresses (from = the recipient of the original message).
    pub env: Envelope<'a>,
    /// Delivered or displayed.
    pub kind: ReceiptKind,
    /// Id of the message this is about, in the id space of the side it came from; the
    /// [`crate::bridge::receipts::IdMap`] translates it.
    pub for_id: Cow<'a, str>,
    /// Original message's DateTime (IMDN `<datetime>`), when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub datetime: Option<Cow<'a, str>>,
}

/// Availability, the canonical vocabulary (RFC 6121 `<show/>` plus unavailable).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Availability {
    /// Online.
    Available,
    /// Free for chat.
    Chat,
    /// Away.
    Away,
    /// Extended away.
    Xa,
    /// Do not disturb.
    Dnd,
    /// Offline.
    Unavailable,
}

/// Presence of one resource (one PIDF tuple).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Presence<'a> {
    /// The presentity, with the resource this state is for.
    pub from: Address<'a>,
    /// The watcher (the subscriber).
    pub to: Address<'a>,
    /// Availability.
    pub availability: Availability,
    /// Free text: `<status/>` ⇄ `<note/>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<Cow<'a, str>>,
    /// Language of the note.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lang: Option<Cow<'a, str>>,
    /// XMPP `<priority/>`; never copied into PIDF (no safe equivalent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<i8>,
}

/// Subscription action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SubscriptionKind {
    /// Request to see the recipient's presence.
    Subscribe,
    /// Request approved.
    Subscribed,
    /// Stop seeing the recipient's presence.
    Unsubscribe,
    /// Request denied or approval withdrawn.
    Unsubscribed,
}

/// A subscription event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Subscription<'a> {
    /// Sender.
    pub from: Address<'a>,
    /// Recipient.
    pub to: Address<'a>,
    /// Action.
    pub kind: SubscriptionKind,
    /// Sender's display name (XEP-0172 nick ⇄ SIP display name).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nick: Option<Cow<'a, str>>,
}

/// A presence probe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Probe<'a> {
    /// Who asks.
    pub from: Address<'a>,
    /// Whose presence.
    pub to: Address<'a>,
}

/// XEP-0444 reaction: the full set of the sender's reactions to one message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reaction<'a> {
    /// Addresses.
    pub env: Envelope<'a>,
    /// Id of the message reacted to.
    pub to_id: Cow<'a, str>,
    /// Emoji (empty: reactions removed).
    pub emoji: Vec<Cow<'a, str>>,
}

/// XEP-0308 correction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Correction<'a> {
    /// The corrected message.
    pub message: ChatMessage<'a>,
    /// Id of the message it replaces.
    pub replaces: Cow<'a, str>,
}

/// XEP-0424 retraction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Retraction<'a> {
    /// Addresses.
    pub env: Envelope<'a>,
    /// Id of the message retracted.
    pub retracts: Cow<'a, str>,
}

/// A link to a file (XEP-0066 OOB, as XEP-0363 uploads are shared).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileLink<'a> {
    /// Addresses.
    pub env: Envelope<'a>,
    /// The URL.
    pub url: Cow<'a, str>,
    /// File name (from the URL's last path segment when not given).
    pub name: Cow<'a, str>,
    /// Size in bytes, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub desc: Option<Cow<'a, str>>,
    /// Accompanying text, when it is more than the URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<Cow<'a, str>>,
}

/// XEP-0249 direct invitation to a room.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupInvite<'a> {
    /// Addresses.
    pub env: Envelope<'a>,
    /// The room's address (a bare JID, as text).
    pub room: Cow<'a, str>,
    /// Reason text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<Cow<'a, str>>,
    /// Room password.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<Cow<'a, str>>,
}

/// What an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ErrorAbout {
    /// A message (SIP MESSAGE ⇄ `<message type='error'/>`).
    Message,
    /// A presence or subscription (SIP SUBSCRIBE ⇄ `<presence type='error'/>`).
    Presence,
}

/// An error reply travelling back to the sender of an earlier request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorEvent<'a> {
    /// The entity reporting the error (the original recipient).
    pub from: Address<'a>,
    /// The original sender.
    pub to: Address<'a>,
    /// Id of the failed message or presence, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<Cow<'a, str>>,
    /// Message or presence.
    pub about: ErrorAbout,
    /// The condition (RFC 7247 §8 tables).
    #[serde(serialize_with = "condition_name")]
    pub condition: ErrorCondition,
    /// Reason phrase ⇄ `<text/>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<Cow<'a, str>>,
    /// SIP status code, when the error came from SIP.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sip_status: Option<u16>,
}
