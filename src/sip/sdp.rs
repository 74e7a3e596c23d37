//! SDP offer/answer (RFC 4566, RFC 3264) for session-mode IM: the `m=message <port> sip <uri>`
//! media line that Skype for Business / Lync federation uses to set up an IM dialog whose
//! messages travel as in-dialog SIP MESSAGE requests (the RFC 4975 `accept-types` attribute
//! names the bodies the peer takes). MSRP (`TCP/MSRP`) and RTP media are declined.
//!
//! Pure functions: an offer body in, an answer body (or the reason to refuse) out.

use std::fmt::Write as _;

/// Bodies parley takes and sends in a session, in order of preference.
pub const ACCEPT_TYPES: [&str; 4] = [
    "text/plain",
    "text/html",
    "message/cpim",
    "application/im-iscomposing+xml",
];

/// Why an offer cannot be answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SdpError {
    /// Not an SDP session description (no `v=0` or no media line).
    Malformed,
    /// No `m=message … sip` line (RTP-only or MSRP offers).
    NoMessageMedia,
    /// The message media accepts none of [`ACCEPT_TYPES`].
    NoCommonType,
}

impl SdpError {
    /// The SIP final response to the INVITE (RFC 3261 §21.4.26: 488 Not Acceptable Here).
    pub fn status(&self) -> (u16, &'static str) {
        match self {
            SdpError::Malformed => (400, "Bad Session Description"),
            SdpError::NoMessageMedia => (488, "Not Acceptable Here"),
            SdpError::NoCommonType => (488, "No Common Message Type"),
        }
    }
}

impl std::fmt::Display for SdpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.status().1)
    }
}

impl std::error::Error for SdpError {}

/// One `m=` line of an offer and the attributes that follow it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Media<'a> {
    /// Media type (`message`, `audio`, …).
    pub kind: &'a str,
    /// Port (0: the stream is disabled).
    pub port: u16,
    /// Transport protocol (`sip`, `RTP/AVP`, `TCP/MSRP`, …).
    pub proto: &'a str,
    /// The format list as written (for `sip` the peer's URI or `null`).
    pub fmt: &'a str,
    /// `a=accept-types:` values, if any.
    pub accept_types: Vec<&'a str>,
}

impl Media<'_> {
    /// An `m=message … sip` line, enabled.
    pub fn is_sip_message(&self) -> bool {
        self.kind.eq_ignore_ascii_case("message")
            && self.proto.eq_ignore_ascii_case("sip")
            && self.port != 0
    }
}

/// The media lines of a session description, in order. Lines are bounded by the body (the
/// SIP codec bounds the body); unknown lines are skipped.
pub fn media(body: &str) -> Result<Vec<Media<'_>>, SdpError> {
    let mut lines = body.lines().map(str::trim).filter(|l| !l.is_empty());
    if lines.next() != Some("v=0") {
        return Err(SdpError::Malformed);
    }
    let mut out: Vec<Media<'_>> = Vec::new();
    for line in lines {
        if let Some(m) = line.strip_prefix("m=") {
            let mut parts = m.splitn(4, ' ');
            let (Some(kind), Some(port), Some(proto)) = (parts.next(), parts.next(), parts.next())
            else {
                return Err(SdpError::Malformed);
            };
            // `<port>/<count>` is allowed (RFC 4566 §5.14).
            let port = port.split('/').next().unwrap_or_default();
            out.push(Media {
                kind,
                port: port.parse().map_err(|_| SdpError::Malformed)?,
                proto,
                fmt: parts.next().unwrap_or("").trim(),
                accept_types: Vec::new(),
            });
        } else if let Some(types) = line.strip_prefix("a=accept-types:")
            && let Some(last) = out.last_mut()
        {
            last.accept_types.extend(types.split_whitespace());
        }
    }
    if out.is_empty() {
        return Err(SdpError::Malformed);
    }
    Ok(out)
}

/// What the answer says about parley's side.
#[derive(Debug, Clone, Copy)]
pub struct Local<'a> {
    /// Address for `o=` and `c=` (an IP literal).
    pub addr: &'a str,
    /// Port of parley's SIP listener.
    pub port: u16,
    /// The URI parley takes messages at (`sip:user@host`).
    pub uri: &'a str,
    /// Session id and version for `o=`.
    pub session_id: u64,
}

/// The answer to `offer` (RFC 3264 §6): the first enabled `m=message … sip` line is accepted
/// with the common accept-types; every other media line is declined with port 0 in its place.
pub fn answer(offer: &str, local: &Local<'_>) -> Result<String, SdpError> {
    let lines = media(offer)?;
    let chosen = lines
        .iter()
        .position(Media::is_sip_message)
        .ok_or(SdpError::NoMessageMedia)?;
    let types = common_types(&lines[chosen].accept_types).ok_or(SdpError::NoCommonType)?;
    let ip = if local.addr.contains(':') {
        "IP6"
    } else {
        "IP4"
    };
    let mut out = String::with_capacity(256);
    let _ = write!(
        out,
        "v=0\r\no=- {id} {id} IN {ip} {addr}\r\ns=-\r\nc=IN {ip} {addr}\r\nt=0 0\r\n",
        id = local.session_id,
        addr = local.addr,
    );
    for (i, m) in lines.iter().enumerate() {
        if i == chosen {
            let _ = write!(
                out,
                "m=message {} sip {}\r\na=accept-types:{}\r\n",
                local.port,
                local.uri,
                types.join(" ")
            );
        } else {
            // RFC 3264 §6: a declined stream keeps its place with port 0.
            let fmt = if m.fmt.is_empty() { "0" } else { m.fmt };
            let _ = write!(out, "m={} 0 {} {}\r\n", m.kind, m.proto, fmt);
        }
    }
    Ok(out)
}

/// An offer for a new session from parley (RFC 3264 §5).
pub fn offer(local: &Local<'_>) -> String {
    let ip = if local.addr.contains(':') {
        "IP6"
    } else {
        "IP4"
    };
    format!(
        "v=0\r\no=- {id} {id} IN {ip} {addr}\r\ns=-\r\nc=IN {ip} {addr}\r\nt=0 0\r\n\
         m=message {port} sip {uri}\r\na=accept-types:{types}\r\n",
        id = local.session_id,
        addr = local.addr,
        port = local.port,
        uri = local.uri,
        types = ACCEPT_TYPES.join(" "),
    )
}

/// Whether an answer to parley's offer accepted the message stream.
pub fn accepted(answer: &str) -> bool {
    media(answer).is_ok_and(|m| m.iter().any(Media::is_sip_message))
}

/// The body of `msg` when it is a session description: `application/sdp`, not empty, UTF-8.
pub fn body_of(msg: &crate::sip::SipMessage) -> Option<&str> {
    let is_sdp = matches!(msg.content_type(), Ok(Some(ct))
        if ct.type_.eq_ignore_ascii_case("application") && ct.subtype.eq_ignore_ascii_case("sdp"));
    let body = msg.body();
    if !is_sdp || body.is_empty() {
        return None;
    }
    std::str::from_utf8(body).ok()
}

/// The `accept-types` of the first enabled `m=message … sip` line of a peer's offer or
/// answer: the bodies the peer takes in the session (empty: it named none, so anything).
pub fn peer_accept_types(body: &str) -> Result<Vec<&str>, SdpError> {
    let lines = media(body)?;
    let m = lines
        .into_iter()
        .find(Media::is_sip_message)
        .ok_or(SdpError::NoMessageMedia)?;
    Ok(m.accept_types)
}

/// Whether a body of `content_type` (parameters allowed) is one the peer's `accept-types`
/// take; `*` and `type/*` wildcards match (RFC 4975 §9), and an empty list takes anything.
pub fn takes<S: AsRef<str>>(accept_types: &[S], content_type: &str) -> bool {
    let media_type = content_type.split(';').next().unwrap_or_default().trim();
    accept_types.is_empty()
        || accept_types
            .iter()
            .any(|t| type_matches(t.as_ref(), media_type))
}

/// The offered types parley takes, in the offer's order; without `accept-types` the offer
/// takes anything, so all of parley's. `*` and `type/*` wildcards (RFC 4975 §9) match.
fn common_types(offered: &[&str]) -> Option<Vec<&'static str>> {
    if offered.is_empty() {
        return Some(ACCEPT_TYPES.to_vec());
    }
    let mut out: Vec<&'static str> = Vec::new();
    for o in offered {
        for ours in ACCEPT_TYPES {
            if type_matches(o, ours) && !out.contains(&ours) {
                out.push(ours);
            }
        }
    }
    (!out.is_empty()).then_some(out)
}

fn type_matches(offered: &str, ours: &str) -> bool {
    if offered == "*" {
        return true;
    }
    match offered.strip_suffix("/*") {
        Some(major) => ours
            .split('/')
            .next()
            .is_some_and(|m| m.eq_ignore_ascii_case(major)),
        None => offered.eq_ignore_ascii_case(ours),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCAL: Local<'static> = Local {
        addr: "192.0.2.5",
        port: 5061,
        uri: "sip:juliet@192.0.2.5",
        session_id: 42,
    };

    /// What a Lync/Skype for Business edge offers for an IM session.
    const LYNC_OFFER: &str = "v=0\r\no=- 0 0 IN IP4 10.0.0.1\r\ns=session\r\nc=IN IP4 10.0.0.1\r\n\
        t=0 0\r\nm=message 5060 sip null\r\na=accept-types:text/plain multipart/alternative \
        image/gif text/rtf text/html application/x-ms-ink application/ms-imdn+xml \
        text/x-msmsgsinvite\r\n";

    #[test]
    fn lync_offer_is_answered_with_the_common_types() {
        let a = answer(LYNC_OFFER, &LOCAL).unwrap();
        assert!(
            a.starts_with("v=0\r\no=- 42 42 IN IP4 192.0.2.5\r\n"),
            "{a}"
        );
        assert!(
            a.contains(
                "m=message 5061 sip sip:juliet@192.0.2.5\r\na=accept-types:text/plain text/html\r\n"
            ),
            "{a}"
        );
        assert!(accepted(&a));
    }

    #[test]
    fn the_peers_accept_types_decide_what_it_takes() {
        let offer = "v=0\r\nm=audio 4000 RTP/AVP 0\r\na=accept-types:text/html\r\n\
                     m=message 5060 sip null\r\na=accept-types:text/plain message/*\r\n";
        let types = peer_accept_types(offer).unwrap();
        assert_eq!(types, ["text/plain", "message/*"]);
        assert!(takes(&types, "text/plain;charset=UTF-8"));
        assert!(takes(&types, "message/cpim"));
        assert!(!takes(&types, "text/html"));
        assert!(!takes(&types, "application/im-iscomposing+xml"));
        assert!(!takes(&types, "multipart/alternative;boundary=x"));
        let none: [&str; 0] = [];
        assert!(takes(&none, "application/im-iscomposing+xml"));
        assert!(takes(&["*"], "multipart/alternative;boundary=x"));
        assert_eq!(
            peer_accept_types("v=0\r\nm=message 0 sip null\r\n"),
            Err(SdpError::NoMessageMedia)
        );
    }

    #[test]
    fn without_accept_types_all_of_ours_are_offered_back() {
        let offer = "v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nt=0 0\r\nm=message 5060 sip sip:a@b\r\n";
        let a = answer(offer, &LOCAL).unwrap();
        assert!(a.contains(&format!("a=accept-types:{}\r\n", ACCEPT_TYPES.join(" "))));
    }

    #[test]
    fn wildcards_match() {
        let offer = "v=0\nm=message 5060 sip null\na=accept-types:message/* application/*\n";
        let a = answer(offer, &LOCAL).unwrap();
        assert!(a.contains("a=accept-types:message/cpim application/im-iscomposing+xml\r\n"));
    }

    #[test]
    fn rtp_only_and_msrp_offers_are_refused_with_488() {
        let audio =
            "v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nc=IN IP4 h\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0 8\r\n";
        assert_eq!(answer(audio, &LOCAL), Err(SdpError::NoMessageMedia));
        assert_eq!(SdpError::NoMessageMedia.status().0, 488);
        let msrp = "v=0\r\nm=message 2855 TCP/MSRP *\r\na=accept-types:text/plain\r\n";
        assert_eq!(answer(msrp, &LOCAL), Err(SdpError::NoMessageMedia));
        let disabled = "v=0\r\nm=message 0 sip null\r\n";
        assert_eq!(answer(disabled, &LOCAL), Err(SdpError::NoMessageMedia));
    }

    #[test]
    fn no_common_type_is_488() {
        let offer = "v=0\r\nm=message 5060 sip null\r\na=accept-types:image/gif\r\n";
        assert_eq!(answer(offer, &LOCAL), Err(SdpError::NoCommonType));
        assert_eq!(SdpError::NoCommonType.status().0, 488);
    }

    #[test]
    fn audio_beside_message_is_declined_in_place() {
        let offer = "v=0\r\nm=audio 4000 RTP/AVP 0\r\nm=message 5060 sip null\r\n";
        let a = answer(offer, &LOCAL).unwrap();
        let m: Vec<_> = a.lines().filter(|l| l.starts_with("m=")).collect();
        assert_eq!(
            m,
            [
                "m=audio 0 RTP/AVP 0",
                "m=message 5061 sip sip:juliet@192.0.2.5"
            ]
        );
    }

    #[test]
    fn garbage_is_malformed() {
        assert_eq!(answer("hello", &LOCAL), Err(SdpError::Malformed));
        assert_eq!(answer("v=0\r\ns=-\r\n", &LOCAL), Err(SdpError::Malformed));
        assert_eq!(
            answer("v=0\r\nm=message x sip null\r\n", &LOCAL),
            Err(SdpError::Malformed)
        );
        assert_eq!(
            answer("v=0\r\nm=message\r\n", &LOCAL),
            Err(SdpError::Malformed)
        );
    }

    #[test]
    fn our_offer_parses_back() {
        let o = offer(&LOCAL);
        let m = media(&o).unwrap();
        assert_eq!(m.len(), 1);
        assert!(m[0].is_sip_message());
        assert_eq!(m[0].accept_types, ACCEPT_TYPES);
        // An answer to our own offer accepts it.
        assert!(accepted(&answer(&o, &LOCAL).unwrap()));
        assert!(!accepted("v=0\r\nm=message 0 sip null\r\n"));
    }
}
