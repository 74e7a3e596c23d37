//! SIP → canonical events (RFC 3428 MESSAGE, RFC 3862 CPIM, RFC 3994 isComposing, RFC 5438
//! IMDN, RFC 6665 / RFC 3856 SUBSCRIBE and NOTIFY as RFC 8048 maps them, RFC 7247 §8 for
//! error responses). Pure functions over a parsed [`SipMessage`].
//!
//! A MESSAGE body is read by media type: `text/plain`, `text/html` (sanitised to the
//! XEP-0071 profile, plus its plain rendering), `multipart/alternative` (RFC 2046 §5.1.4:
//! plain parts by Content-Language, the HTML part as the rich body), `message/cpim`
//! (unwrapped: From, DateTime and `imdn.*` honoured, extension headers read per
//! [`super::ext`]), `application/im-iscomposing+xml` and `message/imdn+xml`.

use std::borrow::Cow;

use super::presence::{availability_from_pidf, resource_from_tuple_id};
use super::{BridgeError, address, ext, html};
use crate::model::{
    Address, ChatMessage, ChatStateEvent, Correction, Envelope, ErrorAbout, ErrorEvent, Event,
    FileLink, GroupInvite, MessageKind, Passthrough, Presence, Probe, Reaction, Receipt,
    ReceiptKind, ReceiptRequest, ReplyTo, Retraction, Subscription, SubscriptionKind, Typing,
};
use crate::sip::body::cpim::{self, Cpim};
use crate::sip::body::imdn::{self, DispositionStatus, Imdn, NotificationKind};
use crate::sip::body::is_composing::{self, ComposingState, IsComposing};
use crate::sip::body::{multipart, pidf};
use crate::sip::header::MediaType;
use crate::sip::message::Method;
use crate::sip::typed::SubState;
use crate::sip::{HeaderName, SipMessage};

/// Deepest nesting of containers (CPIM, multipart) read.
const MAX_NESTING: u8 = 3;

/// Every canonical event a SIP request or response carries. An empty list means "no traffic
/// on the other side" (NOTIFY pending, a subscription refresh, a 2xx).
pub fn events_from_sip(msg: &SipMessage) -> Result<Vec<Event<'_>>, BridgeError> {
    if !msg.is_request() {
        return response_events(msg);
    }
    match msg.method().ok_or(BridgeError::Malformed)? {
        Method::Message => message_events(msg),
        Method::Subscribe => subscribe_events(msg),
        Method::Notify => notify_events(msg),
        _ => Err(BridgeError::NotInterworked),
    }
}

/// What a MESSAGE says about itself, gathered while its containers are unwrapped.
struct Gathered<'a> {
    from: Address<'a>,
    to: Address<'a>,
    thread: Option<Cow<'a, str>>,
    subject: Option<Cow<'a, str>>,
    lang: Option<Cow<'a, str>>,
    nick: Option<Cow<'a, str>>,
    id: Option<Cow<'a, str>>,
    stamp: Option<Cow<'a, str>>,
    receipts: ReceiptRequest,
    cpim: Option<Cpim<'a>>,
}

/// The content of a MESSAGE after unwrapping.
enum Content<'a> {
    Text {
        body: Cow<'a, str>,
        lang: Option<Cow<'a, str>>,
        alt: Vec<(Cow<'a, str>, Cow<'a, str>)>,
        rich: Option<Cow<'a, str>>,
    },
    Composing(IsComposing),
    Imdn(Imdn),
}

fn text_header<'a>(msg: &'a SipMessage, name: HeaderName) -> Option<Cow<'a, str>> {
    msg.header(name)
        .and_then(|v| std::str::from_utf8(v).ok())
        .map(|v| Cow::Borrowed(v.trim()))
        .filter(|v| !v.is_empty())
}

/// A display name with quoted-pair escapes undone.
pub(crate) fn display_name(d: &str) -> Cow<'_, str> {
    let d = d.trim();
    if !d.contains('\\') {
        return Cow::Borrowed(d);
    }
    let mut out = String::with_capacity(d.len());
    let mut chars = d.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.extend(chars.next()),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

fn message_events(msg: &SipMessage) -> Result<Vec<Event<'_>>, BridgeError> {
    let from_na = msg.from().map_err(|_| BridgeError::Malformed)?;
    let mut g = Gathered {
        from: address::from_sip_uri(from_na.uri)?,
        to: address::from_sip_uri(msg.request_uri().ok_or(BridgeError::Malformed)?)?,
        thread: Some(super::sip::thread_of_call_id(
            msg.call_id().map_err(|_| BridgeError::Malformed)?,
        )),
        subject: text_header(msg, HeaderName::Subject),
        lang: text_header(msg, HeaderName::ContentLanguage),
        nick: from_na
            .display_name
            .map(display_name)
            .filter(|n| !n.is_empty()),
        id: None,
        stamp: None,
        receipts: ReceiptRequest::default(),
        cpim: None,
    };
    let ct = msg.content_type().map_err(|_| BridgeError::Malformed)?;
    let content = content(&mut g, ct, msg.body(), 0)?;
    Ok(finish(g, content))
}

fn utf8_text<'a>(ct: Option<&MediaType<'_>>, body: &'a [u8]) -> Result<&'a str, BridgeError> {
    if let Some(cs) = ct.and_then(|c| c.param("charset")) {
        let cs = cs.trim_matches('"');
        if !cs.eq_ignore_ascii_case("utf-8") && !cs.eq_ignore_ascii_case("us-ascii") {
            return Err(BridgeError::BadCharset);
        }
    }
    std::str::from_utf8(body).map_err(|_| BridgeError::BadCharset)
}

fn content<'a>(
    g: &mut Gathered<'a>,
    ct: Option<MediaType<'a>>,
    body: &'a [u8],
    depth: u8,
) -> Result<Content<'a>, BridgeError> {
    if depth > MAX_NESTING {
        return Err(BridgeError::UnsupportedMediaType);
    }
    // RFC 3428 §9: a MESSAGE without Content-Type is text/plain.
    let ct_ref = ct.as_ref();
    let (t, s) = ct.map_or(("text", "plain"), |c| (c.type_, c.subtype));
    let is = |a: &str, b: &str| t.eq_ignore_ascii_case(a) && s.eq_ignore_ascii_case(b);
    if is("text", "plain") {
        let text = utf8_text(ct_ref, body)?;
        if text.trim().is_empty() {
            return Err(BridgeError::EmptyBody);
        }
        return Ok(Content::Text {
            body: Cow::Borrowed(text),
            lang: None,
            alt: Vec::new(),
            rich: None,
        });
    }
    if is("text", "html") {
        let text = utf8_text(ct_ref, body)?;
        let rich = html::sanitize(text).ok_or(BridgeError::EmptyBody)?;
        return Ok(Content::Text {
            body: Cow::Owned(html::to_plain(&rich)),
            lang: None,
            alt: Vec::new(),
            rich: Some(Cow::Owned(rich)),
        });
    }
    if t.eq_ignore_ascii_case("multipart") {
        return multipart_content(g, ct_ref, body, depth);
    }
    if is("message", "cpim") {
        let c = Cpim::parse(body).map_err(|_| BridgeError::Malformed)?;
        honour_cpim(g, &c)?;
        let inner_ct = c.content_type();
        let inner_body = c.body;
        g.cpim = Some(c);
        return content(g, inner_ct, inner_body, depth + 1);
    }
    if ct_ref.is_some_and(|c| c.to_string_eq(is_composing::CONTENT_TYPE)) {
        let doc = IsComposing::parse(body).map_err(|_| BridgeError::Malformed)?;
        return Ok(Content::Composing(doc));
    }
    if ct_ref.is_some_and(|c| c.to_string_eq(imdn::CONTENT_TYPE)) {
        let doc = Imdn::parse(body).map_err(|_| BridgeError::Malformed)?;
        return Ok(Content::Imdn(doc));
    }
    Err(BridgeError::UnsupportedMediaType)
}

/// Matching a media type against `type/subtype` text.
trait MediaTypeExt {
    fn to_string_eq(&self, full: &str) -> bool;
}

impl MediaTypeExt for MediaType<'_> {
    fn to_string_eq(&self, full: &str) -> bool {
        full.split_once('/').is_some_and(|(t, s)| self.is(t, s))
    }
}

fn multipart_content<'a>(
    g: &mut Gathered<'a>,
    ct: Option<&MediaType<'a>>,
    body: &'a [u8],
    depth: u8,
) -> Result<Content<'a>, BridgeError> {
    let boundary = ct
        .and_then(|c| c.param("boundary"))
        .map(|b| b.trim_matches('"'))
        .ok_or(BridgeError::Malformed)?;
    let parts = multipart::parse(body, boundary).map_err(|_| BridgeError::Malformed)?;
    let mut plain: Vec<(Option<Cow<'a, str>>, Cow<'a, str>)> = Vec::new();
    let mut rich = None;
    for p in &parts {
        let lang = p
            .header("Content-Language")
            .map(|l| Cow::Borrowed(l.trim()))
            .filter(|l| !l.is_empty());
        match content(g, p.content_type(), p.body, depth + 1) {
            Ok(Content::Text {
                body, rich: None, ..
            }) => plain.push((lang, body)),
            Ok(Content::Text { rich: Some(r), .. }) if rich.is_none() => rich = Some(r),
            // Parts parley cannot carry (images, unknown types) do not sink the message.
            _ => {}
        }
    }
    let mut plain = plain.into_iter();
    let (lang, body) = match (plain.next(), &rich) {
        (Some(first), _) => first,
        (None, Some(r)) => (None, Cow::Owned(html::to_plain(r))),
        (None, None) => return Err(BridgeError::UnsupportedMediaType),
    };
    let alt = plain
        .filter_map(|(l, b)| Some((l?, b)))
        .filter(|(l, _)| Some(l) != lang.as_ref())
        .collect();
    Ok(Content::Text {
        body,
        lang,
        alt,
        rich,
    })
}

/// RFC 3862 §3.3 / RFC 5438 §6: the CPIM headers that change what the message is.
fn honour_cpim<'a>(g: &mut Gathered<'a>, c: &Cpim<'a>) -> Result<(), BridgeError> {
    if let Some(f) = c.from() {
        // The CPIM From names the original sender; it must be an address we can map.
        g.from = address::from_sip_uri(f.uri)?;
        if let Some(n) = f.name.filter(|n| !n.trim().is_empty()) {
            g.nick = Some(Cow::Borrowed(n.trim()));
        }
    }
    if let Some(s) = c.header("Subject") {
        g.subject = Some(Cow::Borrowed(s));
    }
    if let Some(d) = c.datetime() {
        g.stamp = Some(Cow::Borrowed(d));
    }
    if let Some(id) = c.imdn_message_id() {
        g.id = Some(Cow::Borrowed(id));
    }
    for d in c.disposition_notification() {
        match d {
            "positive-delivery" => g.receipts.delivery = true,
            "display" => g.receipts.display = true,
            _ => {}
        }
    }
    Ok(())
}

/// Events from what was gathered and the content found.
fn finish<'a>(g: Gathered<'a>, content: Content<'a>) -> Vec<Event<'a>> {
    let env = Envelope {
        from: g.from.clone(),
        to: g.to.clone(),
        id: g.id.clone(),
        thread: g.thread.clone(),
        kind: MessageKind::Chat,
    };
    match content {
        Content::Composing(doc) => vec![Event::ChatState(ChatStateEvent {
            env,
            state: match doc.state {
                ComposingState::Active => Typing::Composing,
                ComposingState::Idle => Typing::Paused,
            },
            refresh: doc.refresh,
        })],
        Content::Imdn(doc) => imdn_events(env, doc),
        Content::Text {
            body,
            lang,
            alt,
            rich,
        } => {
            let cpim = g.cpim.clone();
            let mut m = ChatMessage::plain(g.from, g.to, body);
            m.thread = g.thread;
            m.subject = g.subject;
            m.lang = lang.or(g.lang);
            m.id = g.id;
            m.rich = rich;
            m.alt_bodies = alt;
            m.nick = g.nick;
            m.receipts = g.receipts;
            m.stamp = g.stamp;
            match cpim {
                Some(c) => extension_events(m, env, &c),
                None => vec![Event::Message(m)],
            }
        }
    }
}

fn imdn_events(env: Envelope<'_>, doc: Imdn) -> Vec<Event<'_>> {
    // Ids of messages that went XMPP → SIP were made CPIM tokens by percent-encoding.
    let for_id: Cow<'_, str> =
        Cow::Owned(crate::sip::uri::percent_decode(&doc.message_id).into_owned());
    let datetime = Some(Cow::Owned(doc.datetime));
    let receipt = |kind| {
        vec![Event::Receipt(Receipt {
            env: env.clone(),
            kind,
            for_id: for_id.clone(),
            datetime: datetime.clone(),
        })]
    };
    let error = |condition| {
        vec![Event::Error(ErrorEvent {
            from: env.from.clone(),
            to: env.to.clone(),
            id: Some(for_id.clone()),
            about: ErrorAbout::Message,
            condition,
            text: None,
            sip_status: None,
        })]
    };
    use crate::model::ErrorCondition as C;
    match (doc.kind, doc.status) {
        (NotificationKind::Delivery, DispositionStatus::Delivered) => {
            receipt(ReceiptKind::Delivered)
        }
        (NotificationKind::Display, DispositionStatus::Displayed) => {
            receipt(ReceiptKind::Displayed)
        }
        // RFC 5438 §7.2: negative notifications become errors about the original message.
        (_, DispositionStatus::Failed) => error(C::RecipientUnavailable),
        (_, DispositionStatus::Forbidden) => error(C::Forbidden),
        (_, DispositionStatus::Error) => error(C::InternalServerError),
        // processed / stored are for intermediaries: nothing to tell XMPP.
        _ => Vec::new(),
    }
}

/// A text message whose CPIM wrapper may carry extension headers.
fn extension_events<'a>(mut m: ChatMessage<'a>, env: Envelope<'a>, c: &Cpim<'a>) -> Vec<Event<'a>> {
    use crate::xmpp::ns;
    let v = |urn, local| ext::value(c, urn, local).map(Cow::Borrowed);
    if let Some(to_id) = v(ns::REACTIONS, "Id") {
        let emoji = ext::values(c, ns::REACTIONS, "Emoji")
            .into_iter()
            .map(Cow::Borrowed)
            .collect();
        return vec![Event::Reaction(Reaction { env, to_id, emoji })];
    }
    if let Some(retracts) = v(ns::RETRACT, "Id") {
        return vec![Event::Retraction(Retraction { env, retracts })];
    }
    if let Some(url) = v(ns::OOB, "Url") {
        let name = v(ns::OOB, "Name").unwrap_or_else(|| match &url {
            Cow::Borrowed(u) => ext::file_name(u),
            Cow::Owned(u) => Cow::Owned(ext::file_name(u).into_owned()),
        });
        let text = (!m.body.contains(url.as_ref())).then(|| m.body.clone());
        return vec![Event::FileLink(FileLink {
            size: v(ns::OOB, "Size").and_then(|s| s.parse().ok()),
            desc: v(ns::OOB, "Desc"),
            env,
            url,
            name,
            text,
        })];
    }
    if let Some(room) = v(ext::CONFERENCE, "Room") {
        return vec![Event::GroupInvite(GroupInvite {
            env,
            room,
            reason: v(ext::CONFERENCE, "Reason"),
            password: v(ext::CONFERENCE, "Password"),
        })];
    }
    if let Some(id) = v(ns::REPLY, "Id") {
        m.reply = Some(ReplyTo {
            id,
            author: v(ns::REPLY, "To"),
        });
    }
    // Extension headers of namespaces parley does not map travel raw.
    let known: Vec<&str> = ext::NAMESPACES
        .iter()
        .map(|(_, urn)| *urn)
        .chain([cpim::IMDN_NS])
        .filter_map(|urn| c.ns_prefix(urn))
        .collect();
    for (n, val) in &c.headers {
        if let Some((p, _)) = n.split_once('.')
            && !known.contains(&p)
        {
            m.passthrough.push(Passthrough::CpimHeader(
                Cow::Borrowed(n),
                Cow::Borrowed(val),
            ));
        }
    }
    match v(ns::CORRECTION, "Replace") {
        Some(replaces) => vec![Event::Correction(Correction {
            message: m,
            replaces,
        })],
        None => vec![Event::Message(m)],
    }
}

fn check_presence_event(msg: &SipMessage) -> Result<(), BridgeError> {
    match msg.event().map_err(|_| BridgeError::Malformed)? {
        Some(e) if e.package.eq_ignore_ascii_case("presence") => Ok(()),
        _ => Err(BridgeError::BadEvent),
    }
}

/// RFC 8048 §4 / DESIGN presence table: a new SUBSCRIBE is XMPP `subscribe` + `probe`; a
/// refresh or an in-dialog unsubscribe is no XMPP traffic (expiry is not contact removal);
/// an out-of-dialog `Expires: 0` is a one-shot fetch (RFC 6665 §4.4.3): a probe.
fn subscribe_events(msg: &SipMessage) -> Result<Vec<Event<'_>>, BridgeError> {
    check_presence_event(msg)?;
    let to_na = msg.to().map_err(|_| BridgeError::Malformed)?;
    if to_na.tag.is_some() {
        return Ok(Vec::new());
    }
    let from_na = msg.from().map_err(|_| BridgeError::Malformed)?;
    let from = address::from_sip_uri(from_na.uri)?;
    let to = address::from_sip_uri(msg.request_uri().ok_or(BridgeError::Malformed)?)?;
    let probe = Event::Probe(Probe {
        from: from.clone(),
        to: to.clone(),
    });
    if msg.expires().map_err(|_| BridgeError::Malformed)? == Some(0) {
        return Ok(vec![probe]);
    }
    Ok(vec![
        Event::Subscription(Subscription {
            from,
            to,
            kind: SubscriptionKind::Subscribe,
            nick: from_na
                .display_name
                .map(display_name)
                .filter(|n| !n.is_empty()),
        }),
        probe,
    ])
}

/// RFC 8048 §4 / DESIGN presence table: NOTIFY active → `subscribed` then the PIDF's
/// presence (one event per tuple); pending → nothing yet; terminated with reason `rejected`
/// or `noresource` → `unsubscribed`; other terminations (timeout, deactivated, probation,
/// giveup) are soft-state endings the gateway repairs by resubscribing: no XMPP traffic.
///
/// The `subscribed` is emitted for every active NOTIFY; RFC 6121 §3.1.6 has servers ignore
/// a `subscribed` without a pending request, and the router may drop it for dialogs it
/// already confirmed.
fn notify_events(msg: &SipMessage) -> Result<Vec<Event<'_>>, BridgeError> {
    check_presence_event(msg)?;
    let state = msg
        .subscription_state()
        .map_err(|_| BridgeError::Malformed)?
        .ok_or(BridgeError::Malformed)?;
    // In a NOTIFY, From is the presentity (notifier) and To the watcher (RFC 6665 §4.2.2);
    // the Request-URI is the watcher's contact, i.e. the gateway.
    let from = address::from_sip_uri(msg.from().map_err(|_| BridgeError::Malformed)?.uri)?;
    let to = address::from_sip_uri(msg.to().map_err(|_| BridgeError::Malformed)?.uri)?;
    let sub = |kind| {
        Event::Subscription(Subscription {
            from: from.without_resource().into_owned(),
            to: to.clone(),
            kind,
            nick: None,
        })
    };
    match state.state {
        SubState::Active => {
            let presences = pidf_presence(msg, &from, &to)?;
            let mut out = Vec::with_capacity(1 + presences.len());
            out.push(sub(SubscriptionKind::Subscribed));
            out.extend(presences);
            Ok(out)
        }
        SubState::Terminated
            if matches!(state.reason, Some(r) if r.eq_ignore_ascii_case("rejected")
                || r.eq_ignore_ascii_case("noresource")) =>
        {
            Ok(vec![sub(SubscriptionKind::Unsubscribed)])
        }
        SubState::Pending | SubState::Terminated | SubState::Other(_) => Ok(Vec::new()),
    }
}

/// The PIDF body of a NOTIFY as one presence event per tuple (none without a body).
fn pidf_presence<'a>(
    msg: &'a SipMessage,
    from: &Address<'a>,
    to: &Address<'a>,
) -> Result<Vec<Event<'a>>, BridgeError> {
    if msg.body().is_empty() {
        return Ok(Vec::new());
    }
    match msg.content_type().map_err(|_| BridgeError::Malformed)? {
        Some(ct) if ct.to_string_eq(pidf::CONTENT_TYPE) => {}
        _ => return Err(BridgeError::UnsupportedMediaType),
    }
    let doc = pidf::Presence::parse(msg.body()).map_err(|_| BridgeError::Malformed)?;
    let person_note = doc.notes.first();
    Ok(doc
        .tuples
        .iter()
        .map(|t| {
            let note = t.notes.first().or(person_note);
            let mut from = from.without_resource().into_owned();
            if !t.id.is_empty() {
                from.resource = Some(Cow::Owned(resource_from_tuple_id(&t.id).into_owned()));
            }
            Event::Presence(Presence {
                from,
                to: to.clone(),
                availability: availability_from_pidf(t.basic, &doc.activities),
                note: note.map(|n| Cow::Owned(n.text.clone())),
                lang: note.and_then(|n| n.lang.clone()).map(Cow::Owned),
                priority: None,
            })
        })
        .collect())
}

/// RFC 7247 §8.2: a final response ≥ 300 to a MESSAGE or SUBSCRIBE is an error for the XMPP
/// sender, from the SIP target (To) to the requester (From), condition from the table and
/// the reason phrase as `<text/>`. Other responses carry nothing to XMPP.
fn response_events(msg: &SipMessage) -> Result<Vec<Event<'_>>, BridgeError> {
    let code = msg.status().ok_or(BridgeError::Malformed)?;
    if code < 300 {
        return Ok(Vec::new());
    }
    let about = match msg.cseq().map_err(|_| BridgeError::Malformed)?.method {
        m if m.eq_ignore_ascii_case("MESSAGE") => ErrorAbout::Message,
        m if m.eq_ignore_ascii_case("SUBSCRIBE") => ErrorAbout::Presence,
        _ => return Err(BridgeError::NotInterworked),
    };
    let to = address::from_sip_uri(msg.from().map_err(|_| BridgeError::Malformed)?.uri)?;
    let from = address::from_sip_uri(msg.to().map_err(|_| BridgeError::Malformed)?.uri)?;
    Ok(vec![Event::Error(ErrorEvent {
        from,
        to,
        id: None,
        about,
        condition: super::sip::status_to_condition(code),
        text: msg.reason().filter(|r| !r.is_empty()).map(Cow::Borrowed),
        sip_status: Some(code),
    })])
}
