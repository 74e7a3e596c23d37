//! What an XMPP message leaves for an IM session (RFC 4975 `accept-types` as used by the
//! `m=message … sip` sessions of RFC 3261 dialogs): the payload of its in-dialog MESSAGE, and
//! whether that payload fits what the peer's SDP says it takes.

use bytes::Bytes;

use crate::sip::sdp;
use crate::sip::{HeaderName, SipMessage};
use crate::xmpp::stanza::MessageView;

/// The most `accept-types` kept per session (an SDP names a handful).
pub(super) const MAX_ACCEPT_TYPES: usize = 16;

#[derive(Debug, Clone)]
pub(super) struct Held {
    /// The sender's XEP-0172 nick, for the From display name of the INVITE.
    pub(super) nick: Option<String>,
    pub(super) from: String,
    pub(super) to: String,
    pub(super) id: Option<String>,
    /// What the in-dialog MESSAGE carries.
    pub(super) payload: Payload,
    /// Whether a failure goes back to the XMPP sender as an error stanza (not for chat
    /// states: nothing waits for one, XEP-0085 §5.3).
    pub(super) bounce: bool,
    /// The message's plain text, for a peer that takes text/plain but not the payload's type.
    pub(super) plain: Option<String>,
}

/// The body of an in-dialog MESSAGE and the headers that describe it: the same payload a
/// page-mode MESSAGE for the event carries (`bridge::sip_out` writes both).
#[derive(Debug, Clone)]
pub(super) struct Payload {
    pub(super) content_type: String,
    /// Subject and Content-Language, when the page-mode request has them.
    pub(super) headers: Vec<(&'static str, String)>,
    pub(super) body: Bytes,
}

impl Payload {
    pub(super) fn plain(body: &str) -> Payload {
        Payload {
            content_type: "text/plain;charset=UTF-8".to_owned(),
            headers: Vec::new(),
            body: Bytes::copy_from_slice(body.as_bytes()),
        }
    }

    /// The payload of a page-mode request written by `bridge::sip_out`.
    pub(super) fn of_request(req: &SipMessage) -> Option<Payload> {
        let text = |h| {
            req.header(h)
                .and_then(|v| std::str::from_utf8(v).ok())
                .map(str::to_owned)
        };
        let headers = [
            ("Subject", HeaderName::Subject),
            ("Content-Language", HeaderName::ContentLanguage),
        ]
        .into_iter()
        .filter_map(|(name, h)| Some((name, text(h)?)))
        .collect();
        Some(Payload {
            content_type: text(HeaderName::ContentType)?,
            headers,
            body: req.body_bytes(),
        })
    }
}

/// What a message leaves behind for the session: addresses, id, nick and the payload.
pub(super) fn held_of(m: &MessageView<'_>, payload: Payload, bounce: bool) -> Option<Held> {
    Some(Held {
        nick: m.nick.as_deref().map(str::to_owned),
        from: m.from.as_deref()?.to_owned(),
        to: m.to.as_deref()?.to_owned(),
        id: m.id.as_deref().map(str::to_owned),
        payload,
        bounce,
        plain: m.body.as_deref().map(str::to_owned),
    })
}

/// The `accept-types` a session keeps from the peer's SDP offer or answer (empty: it named
/// none, so it takes anything; an SDP parley cannot read also leaves it empty).
pub(super) fn accept_types_of(sdp_body: &str) -> Vec<String> {
    sdp::peer_accept_types(sdp_body)
        .unwrap_or_default()
        .into_iter()
        .take(MAX_ACCEPT_TYPES)
        .map(str::to_owned)
        .collect()
}

/// Make `held` fit the bodies the peer takes: its payload as it is, or the message's plain
/// text when the peer takes `text/plain` but not the payload's type (rich text, CPIM).
/// `false` when it takes neither (the sender gets 415's error).
pub(super) fn fit(accept_types: &[String], held: &mut Held) -> bool {
    if sdp::takes(accept_types, &held.payload.content_type) {
        return true;
    }
    if !sdp::takes(accept_types, "text/plain") {
        return false;
    }
    let Some(text) = held.plain.take() else {
        return false;
    };
    let headers = std::mem::take(&mut held.payload.headers);
    held.payload = Payload {
        headers,
        ..Payload::plain(&text)
    };
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(content_type: &str, plain: Option<&str>, bounce: bool) -> Held {
        Held {
            nick: None,
            from: "juliet@xmpp.test/balcony".into(),
            to: "alice@sip.test".into(),
            id: Some("m1".into()),
            payload: Payload {
                content_type: content_type.into(),
                headers: vec![("Subject", "hi".into())],
                body: Bytes::from_static(b"<rich/>"),
            },
            bounce,
            plain: plain.map(str::to_owned),
        }
    }

    fn types(t: &[&str]) -> Vec<String> {
        t.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn a_payload_the_peer_takes_goes_as_it_is() {
        let mut h = held("message/cpim", Some("x"), true);
        assert!(fit(&types(&["message/*"]), &mut h));
        assert_eq!(h.payload.content_type, "message/cpim");
        assert_eq!(&h.payload.body[..], b"<rich/>");
        let mut h = held("application/im-iscomposing+xml", None, false);
        assert!(fit(&[], &mut h));
        assert_eq!(h.payload.content_type, "application/im-iscomposing+xml");
    }

    #[test]
    fn rich_text_falls_back_to_plain_for_a_plain_text_peer() {
        let mut h = held("multipart/alternative;boundary=b", Some("very bold"), true);
        assert!(fit(&types(&["text/plain"]), &mut h));
        assert_eq!(h.payload.content_type, "text/plain;charset=UTF-8");
        assert_eq!(&h.payload.body[..], b"very bold");
        assert_eq!(h.payload.headers, vec![("Subject", "hi".to_owned())]);
    }

    #[test]
    fn what_the_peer_cannot_take_is_refused() {
        let mut chat_state = held("application/im-iscomposing+xml", None, false);
        assert!(!fit(&types(&["text/plain"]), &mut chat_state));
        assert_eq!(
            chat_state.payload.content_type,
            "application/im-iscomposing+xml"
        );
        let mut rich = held("text/html", Some("bold"), true);
        assert!(!fit(&types(&["message/cpim"]), &mut rich));
        assert_eq!(rich.payload.content_type, "text/html");
    }

    #[test]
    fn accept_types_are_read_from_the_sdp_and_bounded() {
        let many = (0..40)
            .map(|i| format!("x/t{i}"))
            .collect::<Vec<_>>()
            .join(" ");
        let sdp_body =
            format!("v=0\r\nm=message 5060 sip null\r\na=accept-types:text/plain {many}\r\n");
        let t = accept_types_of(&sdp_body);
        assert_eq!(t.len(), MAX_ACCEPT_TYPES);
        assert_eq!(t[0], "text/plain");
        assert!(accept_types_of("not sdp").is_empty());
    }
}
