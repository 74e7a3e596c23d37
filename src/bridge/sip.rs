//! SIP ⇄ model (RFC 7572 for MESSAGE, RFC 7247 §8 for errors). Pure functions.

use std::borrow::Cow;

use bytes::BytesMut;

use super::sip_wire::{Head, finish, header, write_head};
use super::{BridgeError, address};
use crate::model::{Address, ChatMessage, ErrorCondition, MessageKind};
use crate::sip::header::MediaType;
use crate::sip::{HeaderName, SipMessage};

/// A SIP MESSAGE request to the canonical message. The recipient is the Request-URI; the
/// body must be `text/plain` in UTF-8 (other media types come with the rich-text mapping).
/// A hashed thread is owned; [`message_from_sip_in`] keeps it on the caller's stack instead.
pub fn message_from_sip(msg: &SipMessage) -> Result<ChatMessage<'_>, BridgeError> {
    let p = plain_parts(msg)?;
    let thread = thread_of_call_id(p.call_id);
    Ok(p.into_message(thread))
}

/// [`message_from_sip`] without allocating: a hashed thread is written into `token`, which
/// the returned message borrows along with `msg`.
pub fn message_from_sip_in<'a>(
    msg: &'a SipMessage,
    token: &'a mut ThreadToken,
) -> Result<ChatMessage<'a>, BridgeError> {
    let p = plain_parts(msg)?;
    let thread = Cow::Borrowed(thread_in(p.call_id, token));
    Ok(p.into_message(thread))
}

/// What a plain MESSAGE carries, as small borrowed values: the message is built once, in
/// the caller's return slot, rather than built here and moved out.
struct PlainParts<'a> {
    from: Address<'a>,
    to: Address<'a>,
    body: &'a str,
    call_id: &'a str,
    subject: Option<&'a str>,
    lang: Option<&'a str>,
}

impl<'a> PlainParts<'a> {
    fn into_message(self, thread: Cow<'a, str>) -> ChatMessage<'a> {
        let mut m = ChatMessage::plain(self.from, self.to, Cow::Borrowed(self.body));
        m.kind = MessageKind::Chat;
        m.thread = Some(thread);
        m.subject = self.subject.map(Cow::Borrowed);
        m.lang = self.lang.map(Cow::Borrowed);
        m
    }
}

/// The parts of a plain message, checked.
fn plain_parts(msg: &SipMessage) -> Result<PlainParts<'_>, BridgeError> {
    let from = msg.from().map_err(|_| BridgeError::Malformed)?;
    let from = address::from_sip_uri(from.uri)?;
    let to = address::from_sip_uri(msg.request_uri().ok_or(BridgeError::Malformed)?)?;
    let body = msg.body();
    if body.is_empty() {
        return Err(BridgeError::EmptyBody);
    }
    // RFC 3428 §9: a MESSAGE without Content-Type is text/plain.
    if let Some(ct) = msg.content_type().map_err(|_| BridgeError::Malformed)? {
        if !ct.is("text", "plain") {
            return Err(BridgeError::UnsupportedMediaType);
        }
        if !charset_ok(&ct) {
            return Err(BridgeError::BadCharset);
        }
    }
    let body = std::str::from_utf8(body).map_err(|_| BridgeError::BadCharset)?;
    let call_id = msg.call_id().map_err(|_| BridgeError::Malformed)?;
    let text_header = |name| {
        msg.header(name)
            .and_then(|v| std::str::from_utf8(v).ok())
            .map(str::trim)
    };
    Ok(PlainParts {
        from,
        to,
        body,
        call_id,
        subject: text_header(HeaderName::Subject),
        lang: text_header(HeaderName::ContentLanguage),
    })
}

/// A text/plain charset parley reads: none (UTF-8 by RFC 3428 §9's default for SIP text),
/// UTF-8 or its subset US-ASCII. The usual parameter text (none, or exactly
/// `charset=UTF-8` in any case) is recognised without splitting the parameters.
fn charset_ok(ct: &MediaType<'_>) -> bool {
    let p = ct.params;
    p.is_empty()
        || p == "charset=UTF-8"
        || p.eq_ignore_ascii_case("charset=utf-8")
        || charset_ok_by_param(ct)
}

/// [`charset_ok`] by the parameter parser.
fn charset_ok_by_param(ct: &MediaType<'_>) -> bool {
    ct.param("charset")
        .is_none_or(|cs| cs.eq_ignore_ascii_case("utf-8") || cs.eq_ignore_ascii_case("us-ascii"))
}

/// The XMPP `<thread>` for a SIP Call-ID. A Call-ID is usually `random@host`, and its host
/// (a PBX name, an internal IP) must not cross (topology hiding): one made only of letters,
/// digits and `-` is kept, any other is replaced by the first 96 bits of its SHA-256 in hex.
/// The same Call-ID always gives the same thread, so a conversation stays one thread, and a
/// thread made here comes back unchanged as the Call-ID of the replies.
pub fn thread_of_call_id(call_id: &str) -> Cow<'_, str> {
    if keeps_call_id(call_id) {
        Cow::Borrowed(call_id)
    } else {
        Cow::Owned(ThreadToken::of(call_id).as_str().to_owned())
    }
}

/// [`thread_of_call_id`] without allocating: a hashed thread is written into `token`.
pub fn thread_in<'a>(call_id: &'a str, token: &'a mut ThreadToken) -> &'a str {
    if keeps_call_id(call_id) {
        call_id
    } else {
        *token = ThreadToken::of(call_id);
        token.as_str()
    }
}

/// A Call-ID that crosses as it is: letters, digits and `-` only.
fn keeps_call_id(call_id: &str) -> bool {
    !call_id.is_empty()
        && call_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// A hashed thread: the first 96 bits of a SHA-256 as 24 lowercase hex digits, on the stack.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ThreadToken {
    hex: [u8; 24],
}

impl Default for ThreadToken {
    fn default() -> Self {
        Self { hex: [b'0'; 24] }
    }
}

impl ThreadToken {
    /// The token of a Call-ID: SHA-256 (FIPS 180-4) of its bytes, the first 12 bytes in hex.
    pub fn of(call_id: &str) -> Self {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let digest = sha256_prefix(call_id.as_bytes());
        let mut hex = [0u8; 24];
        for (pair, &b) in hex.chunks_exact_mut(2).zip(&digest) {
            pair[0] = HEX[usize::from(b >> 4)];
            pair[1] = HEX[usize::from(b & 0xf)];
        }
        Self { hex }
    }

    /// The token as text.
    pub fn as_str(&self) -> &str {
        // Only ASCII hex digits are ever stored.
        std::str::from_utf8(&self.hex).unwrap_or_default()
    }
}

/// The first 12 bytes of the SHA-256 of `data`. Where the CPU has the SHA extensions, a
/// Call-ID of up to 55 bytes (nearly all) is one padded block hashed with one call of the
/// compression function; otherwise ring's streaming hasher, whose assembly beats a
/// portable compression function on CPUs without them.
fn sha256_prefix(data: &[u8]) -> [u8; 12] {
    if data.len() <= 55 && sha_extensions() {
        sha256_prefix_one_block(data)
    } else {
        sha256_prefix_streaming(data)
    }
}

#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
fn sha_extensions() -> bool {
    std::arch::is_x86_feature_detected!("sha")
}

#[cfg(not(any(target_arch = "x86", target_arch = "x86_64")))]
fn sha_extensions() -> bool {
    false
}

/// [`sha256_prefix`] of at most 55 bytes as one block (FIPS 180-4 §5.1.1: the message, a 1
/// bit, zeros, and the length in bits as a 64-bit big-endian number fill 64 bytes).
fn sha256_prefix_one_block(data: &[u8]) -> [u8; 12] {
    /// FIPS 180-4 §5.3.3: the initial hash value of SHA-256.
    const H0: [u32; 8] = [
        0x6a09_e667,
        0xbb67_ae85,
        0x3c6e_f372,
        0xa54f_f53a,
        0x510e_527f,
        0x9b05_688c,
        0x1f83_d9ab,
        0x5be0_cd19,
    ];
    let mut block = [0u8; 64];
    if let Some(dst) = block.get_mut(..data.len()) {
        dst.copy_from_slice(data);
    }
    if let Some(b) = block.get_mut(data.len()) {
        *b = 0x80;
    }
    block[56..].copy_from_slice(&(data.len() as u64 * 8).to_be_bytes());
    let mut state = H0;
    sha2::block_api::compress256(&mut state, &[block]);
    let mut out = [0u8; 12];
    for (dst, w) in out.chunks_exact_mut(4).zip(state) {
        dst.copy_from_slice(&w.to_be_bytes());
    }
    out
}

/// [`sha256_prefix`] by ring's streaming SHA-256, for any length.
fn sha256_prefix_streaming(data: &[u8]) -> [u8; 12] {
    let digest = ring::digest::digest(&ring::digest::SHA256, data);
    let mut out = [0u8; 12];
    out.copy_from_slice(&digest.as_ref()[..12]);
    out
}

impl std::fmt::Debug for ThreadToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Transaction and transport values the caller chooses for an outgoing request.
#[derive(Debug, Clone, Copy)]
pub struct RequestContext<'a> {
    /// Via transport token, e.g. `TLS`.
    pub transport: &'a str,
    /// Via sent-by (`host:port`).
    pub sent_by: &'a str,
    /// Via branch (must start with `z9hG4bK`).
    pub branch: &'a str,
    /// From tag.
    pub from_tag: &'a str,
    /// Call-ID to use when the message's thread is not a valid Call-ID.
    pub fallback_call_id: &'a str,
    /// CSeq number.
    pub cseq: u32,
}

/// The canonical message as a SIP MESSAGE request (RFC 3428), appended to `out`: the plain
/// fast path (text/plain, no CPIM; From without GRUU). Written straight into `out`, no
/// allocation besides the buffer's growth.
pub fn write_message(out: &mut BytesMut, m: &ChatMessage<'_>, ctx: &RequestContext<'_>) {
    let call_id = m
        .thread
        .as_deref()
        .filter(|t| is_call_id(t))
        .unwrap_or(ctx.fallback_call_id);
    let head = Head {
        method: "MESSAGE",
        target: &m.to,
        from: &m.from,
        from_gruu: false,
        from_name: None,
        to: &m.to,
        to_tag: None,
        call_id,
    };
    out.reserve(m.body.len() + 128);
    write_head(out, &head, ctx);
    out.extend_from_slice(b"Content-Type: text/plain;charset=UTF-8\r\n");
    if let Some(s) = &m.subject {
        header(out, "Subject", s);
    }
    if let Some(lang) = m.lang.as_deref().filter(|l| is_language_tag(l)) {
        header(out, "Content-Language", lang);
    }
    finish(out, m.body.as_bytes());
}

/// RFC 3261 §25.1 `callid = word [ "@" word ]`.
pub(crate) fn is_call_id(s: &str) -> bool {
    let word = |w: &str| {
        !w.is_empty()
            && w.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-.!%*_+`'~()<>:\\\"/[]?{}".contains(&b))
    };
    s.len() <= 256
        && match s.split_once('@') {
            Some((a, b)) => word(a) && word(b),
            None => word(s),
        }
}

pub(crate) fn is_language_tag(s: &str) -> bool {
    !s.is_empty() && s.len() <= 35 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// RFC 7247 §8.2: a SIP final response code to an XMPP stanza error condition.
pub fn status_to_condition(code: u16) -> ErrorCondition {
    use ErrorCondition as C;
    match code {
        300..=399 => C::Redirect,
        400 => C::BadRequest,
        401 | 407 => C::NotAuthorized,
        403 => C::Forbidden,
        404 | 481 | 484 | 485 | 604 => C::ItemNotFound,
        405 | 501 => C::FeatureNotImplemented,
        406 | 415 | 416 | 488 | 606 => C::NotAcceptable,
        408 | 504 => C::RemoteServerTimeout,
        410 => C::Gone,
        413 | 414 | 513 => C::PolicyViolation,
        480 | 486 => C::RecipientUnavailable,
        491 => C::UnexpectedRequest,
        500 => C::InternalServerError,
        502 => C::RemoteServerNotFound,
        503 | 600 | 603 => C::ServiceUnavailable,
        // Codes the table does not name: by class.
        c if c / 100 == 4 => C::BadRequest,
        c if c / 100 == 5 => C::InternalServerError,
        _ => C::UndefinedCondition,
    }
}

/// RFC 7247 §8.1: an XMPP stanza error condition to a SIP final response.
pub fn condition_to_status(c: ErrorCondition) -> (u16, &'static str) {
    use ErrorCondition as C;
    match c {
        C::BadRequest | C::Conflict | C::JidMalformed | C::UndefinedCondition => {
            (400, "Bad Request")
        }
        C::NotAuthorized => (401, "Unauthorized"),
        C::Forbidden | C::PolicyViolation => (403, "Forbidden"),
        C::ItemNotFound => (404, "Not Found"),
        C::NotAllowed => (405, "Method Not Allowed"),
        C::NotAcceptable => (406, "Not Acceptable"),
        C::RemoteServerTimeout => (408, "Request Timeout"),
        C::Gone => (410, "Gone"),
        C::RecipientUnavailable => (480, "Temporarily Unavailable"),
        C::UnexpectedRequest => (491, "Request Pending"),
        C::InternalServerError | C::ResourceConstraint => (500, "Server Internal Error"),
        C::FeatureNotImplemented => (501, "Not Implemented"),
        C::ServiceUnavailable => (503, "Service Unavailable"),
        C::Redirect => (302, "Moved Temporarily"),
        C::RemoteServerNotFound => (502, "Bad Gateway"),
        C::RegistrationRequired | C::SubscriptionRequired => (403, "Forbidden"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_tables_follow_rfc_7247() {
        use ErrorCondition as C;
        let sip_to_xmpp = [
            (302, C::Redirect),
            (400, C::BadRequest),
            (401, C::NotAuthorized),
            (407, C::NotAuthorized),
            (403, C::Forbidden),
            (404, C::ItemNotFound),
            (481, C::ItemNotFound),
            (484, C::ItemNotFound),
            (485, C::ItemNotFound),
            (604, C::ItemNotFound),
            (405, C::FeatureNotImplemented),
            (501, C::FeatureNotImplemented),
            (406, C::NotAcceptable),
            (415, C::NotAcceptable),
            (416, C::NotAcceptable),
            (488, C::NotAcceptable),
            (606, C::NotAcceptable),
            (408, C::RemoteServerTimeout),
            (504, C::RemoteServerTimeout),
            (410, C::Gone),
            (413, C::PolicyViolation),
            (414, C::PolicyViolation),
            (513, C::PolicyViolation),
            (480, C::RecipientUnavailable),
            (486, C::RecipientUnavailable),
            (491, C::UnexpectedRequest),
            (500, C::InternalServerError),
            (502, C::RemoteServerNotFound),
            (503, C::ServiceUnavailable),
            (600, C::ServiceUnavailable),
            (603, C::ServiceUnavailable),
        ];
        for (code, cond) in sip_to_xmpp {
            assert_eq!(status_to_condition(code), cond, "{code}");
        }
        let xmpp_to_sip = [
            (C::BadRequest, 400),
            (C::Conflict, 400),
            (C::JidMalformed, 400),
            (C::UndefinedCondition, 400),
            (C::NotAuthorized, 401),
            (C::Forbidden, 403),
            (C::PolicyViolation, 403),
            (C::ItemNotFound, 404),
            (C::NotAllowed, 405),
            (C::NotAcceptable, 406),
            (C::RemoteServerTimeout, 408),
            (C::Gone, 410),
            (C::RecipientUnavailable, 480),
            (C::UnexpectedRequest, 491),
            (C::InternalServerError, 500),
            (C::ResourceConstraint, 500),
            (C::FeatureNotImplemented, 501),
            (C::ServiceUnavailable, 503),
        ];
        for (cond, code) in xmpp_to_sip {
            assert_eq!(condition_to_status(cond).0, code, "{cond:?}");
        }
    }

    #[test]
    fn threads_hide_the_call_id_host_and_are_stable() {
        let t = thread_of_call_id("c0ffee42@pbx7.internal.example");
        assert!(!t.contains("pbx7") && !t.contains('@'), "{t}");
        assert_eq!(t.len(), 24);
        assert_eq!(t, thread_of_call_id("c0ffee42@pbx7.internal.example"));
        assert_ne!(t, thread_of_call_id("c0ffee43@pbx7.internal.example"));
        assert_eq!(thread_of_call_id(&t), t, "comes back unchanged");
        assert_eq!(thread_of_call_id("abc-123"), "abc-123");
        assert_eq!(thread_of_call_id("10.0.0.5").len(), 24);
    }

    #[test]
    fn stack_threads_match_owned_threads() {
        for call_id in [
            "c0ffee42@pbx7.internal.example",
            "abc-123",
            "10.0.0.5",
            "x y",
            "",
        ] {
            let mut token = ThreadToken::default();
            assert_eq!(
                thread_in(call_id, &mut token),
                thread_of_call_id(call_id),
                "{call_id:?}"
            );
        }
        let mut token = ThreadToken::default();
        let t = thread_in("a84b4c76e66710@pc33.atlanta.com", &mut token);
        assert!(
            t.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()),
            "{t}"
        );
    }

    #[test]
    fn thread_tokens_keep_their_published_values() {
        // Threads already handed to XMPP clients must keep matching: values as computed by
        // the first implementation (ring's SHA-256), pinned.
        for (call_id, thread) in [
            (
                "a84b4c76e66710@pc33.sip.example",
                "ae275e1416974ac2491820be",
            ),
            ("", "e3b0c44298fc1c149afbf4c8"),
            ("10.0.0.5", "0546412d61ba57f140cbc562"),
        ] {
            assert_eq!(ThreadToken::of(call_id).as_str(), thread, "{call_id:?}");
        }
    }

    /// The token as first written: ring's streaming SHA-256, whatever the length.
    fn token_by_ring(call_id: &str) -> String {
        let digest = ring::digest::digest(&ring::digest::SHA256, call_id.as_bytes());
        digest.as_ref()[..12]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    fn hex(b: [u8; 12]) -> String {
        b.iter().map(|b| format!("{b:02x}")).collect()
    }

    proptest::proptest! {
        // Lengths around the one-block limit (55), the block size and two blocks.
        #[test]
        fn thread_tokens_agree_with_ring(s in "[a-z0-9@.é-]{0,140}") {
            let token = ThreadToken::of(&s);
            proptest::prop_assert_eq!(token.as_str(), token_by_ring(&s));
        }

        // The one-block path whether or not this CPU would take it.
        #[test]
        fn one_block_hashes_agree_with_ring(s in "[a-z0-9@.é-]{0,55}") {
            proptest::prop_assume!(s.len() <= 55);
            proptest::prop_assert_eq!(hex(sha256_prefix_one_block(s.as_bytes())), token_by_ring(&s));
        }
    }

    #[test]
    fn thread_tokens_agree_with_ring_at_every_length_to_three_blocks() {
        for n in 0..=200 {
            let s = "x".repeat(n);
            assert_eq!(ThreadToken::of(&s).as_str(), token_by_ring(&s), "{n}");
            if n <= 55 {
                assert_eq!(
                    hex(sha256_prefix_one_block(s.as_bytes())),
                    token_by_ring(&s),
                    "{n}"
                );
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn charset_fast_path_agrees_with_the_parameter_parser(
            params in "(;? ?(charset|CharSet|format|x)(=(utf-8|UTF-8|us-ascii|\"utf-8\"|latin1)?)?){0,3}",
        ) {
            let value = format!("text/plain{params}");
            if let Some(ct) = MediaType::parse(&value) {
                proptest::prop_assert_eq!(charset_ok(&ct), charset_ok_by_param(&ct), "{}", value);
            }
        }
    }

    #[test]
    fn charsets_are_read_alike_on_both_paths() {
        for (value, ok) in [
            ("text/plain", true),
            ("text/plain;charset=UTF-8", true),
            ("text/plain; charset=utf-8", true),
            ("text/plain;charset=\"utf-8\"", true),
            ("text/plain;CHARSET=US-ASCII", true),
            ("text/plain;format=flowed;charset=utf-8", true),
            ("text/plain;format=flowed", true),
            ("text/plain;charset=latin1", false),
            ("text/plain;charset=iso-8859-1", false),
            ("text/plain;charset=utf-8;charset=latin1", true),
        ] {
            let ct = MediaType::parse(value).unwrap();
            assert_eq!(charset_ok(&ct), ok, "{value}");
            assert_eq!(charset_ok_by_param(&ct), ok, "{value}");
        }
    }

    #[test]
    fn call_ids_are_checked_before_reuse() {
        assert!(is_call_id("a84b4c76e66710@pc33.atlanta.com"));
        assert!(!is_call_id("has space"));
        assert!(!is_call_id("line\r\nInjected: 1"));
        assert!(!is_call_id(""));
    }

    #[test]
    fn subjects_cannot_inject_headers() {
        let mut out = BytesMut::new();
        header(&mut out, "Subject", "hi\r\nVia: evil");
        assert_eq!(&out[..], b"Subject: hi  Via: evil\r\n");
    }
}
