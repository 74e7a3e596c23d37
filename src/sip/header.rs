//! SIP header names and typed header views (RFC 3261 §7.3, §20; compact forms §7.3.3).
//!
//! Every name, long or compact, maps through [`HeaderName::from_bytes`] to one enum via one
//! table ([`TABLE`]); typed views borrow from the message bytes.

use super::scan::{self, Params};
use super::uri::{HOST, REST, URI_CLASS, has_scheme};
// Kept reachable here, where callers outside the codec import them from.
pub(crate) use super::uri::{is_absolute_uri, split_host_port};

/// A header name, compact forms folded into their long form. `Other` keeps unknown names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HeaderName {
    /// Via / v
    Via,
    /// From / f
    From,
    /// To / t
    To,
    /// Call-ID / i
    CallId,
    /// CSeq
    CSeq,
    /// Max-Forwards
    MaxForwards,
    /// Content-Length / l
    ContentLength,
    /// Content-Type / c
    ContentType,
    /// Contact / m
    Contact,
    /// Subject / s
    Subject,
    /// Content-Language
    ContentLanguage,
    /// Expires
    Expires,
    /// Event / o (RFC 6665)
    Event,
    /// Subscription-State (RFC 6665)
    SubscriptionState,
    /// Allow-Events / u (RFC 6665)
    AllowEvents,
    /// Route
    Route,
    /// Record-Route
    RecordRoute,
    /// Accept
    Accept,
    /// Accept-Encoding
    AcceptEncoding,
    /// Accept-Language
    AcceptLanguage,
    /// Allow
    Allow,
    /// Supported / k
    Supported,
    /// Require
    Require,
    /// Proxy-Require
    ProxyRequire,
    /// Unsupported
    Unsupported,
    /// Date
    Date,
    /// Reason (RFC 3326)
    Reason,
    /// Warning
    Warning,
    /// Content-Encoding / e
    ContentEncoding,
    /// Content-Disposition
    ContentDisposition,
    /// MIME-Version
    MimeVersion,
    /// User-Agent
    UserAgent,
    /// Server
    Server,
    /// Authorization
    Authorization,
    /// Proxy-Authorization
    ProxyAuthorization,
    /// WWW-Authenticate
    WwwAuthenticate,
    /// Proxy-Authenticate
    ProxyAuthenticate,
    /// Authentication-Info
    AuthenticationInfo,
    /// Min-Expires
    MinExpires,
    /// Retry-After
    RetryAfter,
    /// Timestamp
    Timestamp,
    /// Organization
    Organization,
    /// Priority
    Priority,
    /// In-Reply-To
    InReplyTo,
    /// Reply-To
    ReplyTo,
    /// Alert-Info
    AlertInfo,
    /// Call-Info
    CallInfo,
    /// Error-Info
    ErrorInfo,
    /// Accept-Contact / a (RFC 3841)
    AcceptContact,
    /// Reject-Contact / j (RFC 3841)
    RejectContact,
    /// Request-Disposition / d (RFC 3841)
    RequestDisposition,
    /// Refer-To / r (RFC 3515)
    ReferTo,
    /// Referred-By / b (RFC 3892)
    ReferredBy,
    /// Session-Expires / x (RFC 4028)
    SessionExpires,
    /// Min-SE (RFC 4028)
    MinSe,
    /// Identity / y (RFC 8224)
    Identity,
    /// Identity-Info / n (RFC 4474)
    IdentityInfo,
    /// Path (RFC 3327)
    Path,
    /// Service-Route (RFC 3608)
    ServiceRoute,
    /// SIP-ETag (RFC 3903)
    SipEtag,
    /// SIP-If-Match (RFC 3903)
    SipIfMatch,
    /// P-Asserted-Identity (RFC 3325)
    PAssertedIdentity,
    /// P-Preferred-Identity (RFC 3325)
    PPreferredIdentity,
    /// Privacy (RFC 3323)
    Privacy,
    /// Content-Transfer-Encoding (seen in MIME bodies and some SIP stacks)
    ContentTransferEncoding,
    /// Any other header
    Other,
}

/// One row of the header table.
#[derive(Debug, Clone, Copy)]
pub struct HeaderInfo {
    /// The header.
    pub name: HeaderName,
    /// Canonical long form.
    pub long: &'static str,
    /// Compact form (RFC 3261 §7.3.3 and later RFCs), lower case.
    pub compact: Option<u8>,
    /// True when the header's grammar is a comma-separated list (§7.3.1).
    pub list: bool,
}

const fn row(name: HeaderName, long: &'static str, compact: Option<u8>, list: bool) -> HeaderInfo {
    HeaderInfo {
        name,
        long,
        compact,
        list,
    }
}

use HeaderName as H;

/// The one header table, in enum order (checked at compile time).
pub const TABLE: &[HeaderInfo] = &[
    row(H::Via, "Via", Some(b'v'), true),
    row(H::From, "From", Some(b'f'), false),
    row(H::To, "To", Some(b't'), false),
    row(H::CallId, "Call-ID", Some(b'i'), false),
    row(H::CSeq, "CSeq", None, false),
    row(H::MaxForwards, "Max-Forwards", None, false),
    row(H::ContentLength, "Content-Length", Some(b'l'), false),
    row(H::ContentType, "Content-Type", Some(b'c'), false),
    row(H::Contact, "Contact", Some(b'm'), true),
    row(H::Subject, "Subject", Some(b's'), false),
    row(H::ContentLanguage, "Content-Language", None, true),
    row(H::Expires, "Expires", None, false),
    row(H::Event, "Event", Some(b'o'), false),
    row(H::SubscriptionState, "Subscription-State", None, false),
    row(H::AllowEvents, "Allow-Events", Some(b'u'), true),
    row(H::Route, "Route", None, true),
    row(H::RecordRoute, "Record-Route", None, true),
    row(H::Accept, "Accept", None, true),
    row(H::AcceptEncoding, "Accept-Encoding", None, true),
    row(H::AcceptLanguage, "Accept-Language", None, true),
    row(H::Allow, "Allow", None, true),
    row(H::Supported, "Supported", Some(b'k'), true),
    row(H::Require, "Require", None, true),
    row(H::ProxyRequire, "Proxy-Require", None, true),
    row(H::Unsupported, "Unsupported", None, true),
    row(H::Date, "Date", None, false),
    row(H::Reason, "Reason", None, true),
    row(H::Warning, "Warning", None, true),
    row(H::ContentEncoding, "Content-Encoding", Some(b'e'), true),
    row(H::ContentDisposition, "Content-Disposition", None, false),
    row(H::MimeVersion, "MIME-Version", None, false),
    row(H::UserAgent, "User-Agent", None, false),
    row(H::Server, "Server", None, false),
    row(H::Authorization, "Authorization", None, false),
    row(H::ProxyAuthorization, "Proxy-Authorization", None, false),
    row(H::WwwAuthenticate, "WWW-Authenticate", None, false),
    row(H::ProxyAuthenticate, "Proxy-Authenticate", None, false),
    row(H::AuthenticationInfo, "Authentication-Info", None, false),
    row(H::MinExpires, "Min-Expires", None, false),
    row(H::RetryAfter, "Retry-After", None, false),
    row(H::Timestamp, "Timestamp", None, false),
    row(H::Organization, "Organization", None, false),
    row(H::Priority, "Priority", None, false),
    row(H::InReplyTo, "In-Reply-To", None, true),
    row(H::ReplyTo, "Reply-To", None, false),
    row(H::AlertInfo, "Alert-Info", None, true),
    row(H::CallInfo, "Call-Info", None, true),
    row(H::ErrorInfo, "Error-Info", None, true),
    row(H::AcceptContact, "Accept-Contact", Some(b'a'), true),
    row(H::RejectContact, "Reject-Contact", Some(b'j'), true),
    row(
        H::RequestDisposition,
        "Request-Disposition",
        Some(b'd'),
        true,
    ),
    row(H::ReferTo, "Refer-To", Some(b'r'), false),
    row(H::ReferredBy, "Referred-By", Some(b'b'), false),
    row(H::SessionExpires, "Session-Expires", Some(b'x'), false),
    row(H::MinSe, "Min-SE", None, false),
    row(H::Identity, "Identity", Some(b'y'), false),
    row(H::IdentityInfo, "Identity-Info", Some(b'n'), false),
    row(H::Path, "Path", None, true),
    row(H::ServiceRoute, "Service-Route", None, true),
    row(H::SipEtag, "SIP-ETag", None, false),
    row(H::SipIfMatch, "SIP-If-Match", None, false),
    row(H::PAssertedIdentity, "P-Asserted-Identity", None, true),
    row(H::PPreferredIdentity, "P-Preferred-Identity", None, true),
    row(H::Privacy, "Privacy", None, false),
    row(
        H::ContentTransferEncoding,
        "Content-Transfer-Encoding",
        None,
        false,
    ),
];

impl HeaderName {
    /// Map a header name as written on the wire (any case, compact or long): a compact
    /// letter by table, a long name by its length, first and last letter, then one
    /// case-insensitive comparison per candidate ([`super::names`]).
    pub fn from_bytes(name: &[u8]) -> HeaderName {
        super::names::classify(name, 0, name.len())
    }

    /// The canonical long form, e.g. `Call-ID`. `Other` has none.
    pub fn as_str(&self) -> Option<&'static str> {
        self.info().map(|i| i.long)
    }

    /// The table row of this header (`None` for `Other`).
    pub fn info(&self) -> Option<&'static HeaderInfo> {
        TABLE.get(*self as usize)
    }

    /// True when the header's values form a comma-separated list (§7.3.1), so that
    /// [`super::SipMessage::header_values`] splits them.
    pub fn is_list(&self) -> bool {
        self.info().is_some_and(|i| i.list)
    }
}

/// A name-addr or addr-spec with parameters: From, To, Contact, Route…
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NameAddr<'a> {
    /// Display name as written (quotes removed, escapes not yet undone), if any.
    pub display_name: Option<&'a str>,
    /// The URI inside the angle brackets (or the bare addr-spec).
    pub uri: &'a str,
    /// The `tag` parameter, if any.
    pub tag: Option<&'a str>,
    /// Raw header parameters after the URI (without the leading `;`), may be empty.
    pub params: &'a str,
}

impl<'a> NameAddr<'a> {
    /// Parse a name-addr / addr-spec with header parameters (RFC 3261 §20.10, §25.1). Strict:
    /// no white space inside `<…>`, unquoted display names are tokens, an addr-spec may not
    /// contain `?` or `,`, every parameter is well formed.
    pub fn parse(value: &'a str) -> Option<NameAddr<'a>> {
        Self::parse_tight(value).or_else(|| Self::parse_general(value))
    }

    /// The usual shape, `["quoted" SP*] <uri> [;params]` with no other white space and no
    /// quoted parameter value, in one pass: `None` for any other shape, which
    /// [`NameAddr::parse_general`] decides; wherever this answers, that gives the same answer.
    fn parse_tight(v: &'a str) -> Option<NameAddr<'a>> {
        let b = v.as_bytes();
        let (display_name, rest) = match b.first()? {
            b'"' => {
                let end = scan::quoted_end(b)?;
                let after = v.get(end..)?;
                let spaces = after.bytes().take_while(|&c| c == b' ').count();
                (Some(v.get(1..end - 1)?), after.get(spaces..)?)
            }
            b'<' => (None, v),
            _ => return None,
        };
        let (uri, after) = angle_uri(rest)?;
        if !has_scheme(uri) {
            return None;
        }
        let mut tag = None;
        let params = match after.as_bytes().first() {
            None => "",
            Some(b';') => {
                let params = after.get(1..)?;
                scan::tight_params(params, |name, val| {
                    if scan::eq_fold(name, "tag") {
                        tag = Some(val?);
                    }
                    Some(())
                })?;
                params
            }
            Some(_) => return None,
        };
        Some(NameAddr {
            display_name,
            uri,
            tag,
            params,
        })
    }

    /// [`NameAddr::parse`] by the grammar's parts, for every shape.
    fn parse_general(value: &'a str) -> Option<NameAddr<'a>> {
        let v = scan::trim(value);
        let bytes = v.as_bytes();
        // A URI taken from `<…>` has had its bytes checked by [`angle_uri`] already.
        let (display_name, uri, after, bytes_checked) = if bytes.first() == Some(&b'"') {
            let end = scan::quoted_end(bytes)?;
            let inner = v.get(1..end - 1)?;
            let rest = scan::trim_start(v.get(end..)?);
            let (uri, after) = angle_uri(rest)?;
            (Some(inner), uri, after, true)
        } else if let Some(lt) = bytes.iter().position(|&b| b == b'<') {
            let dn = scan::trim(v.get(..lt)?);
            // Words of tokens separated by white space.
            if !dn
                .bytes()
                .all(|b| scan::is_token_byte(b) || scan::is_lws(b))
            {
                return None;
            }
            let (uri, after) = angle_uri(v.get(lt..)?)?;
            (
                if dn.is_empty() { None } else { Some(dn) },
                uri,
                after,
                true,
            )
        } else {
            let end = bytes.iter().position(|&b| b == b';').unwrap_or(v.len());
            let uri = scan::trim(v.get(..end)?);
            if uri
                .bytes()
                .any(|b| matches!(b, b'?' | b',' | b'"' | b'>') || scan::is_lws(b))
            {
                return None;
            }
            (None, uri, v.get(end..)?, false)
        };
        let absolute = if bytes_checked {
            has_scheme(uri)
        } else {
            is_absolute_uri(uri)
        };
        if !absolute {
            return None;
        }
        let after = scan::trim_start(after);
        let params = if after.is_empty() {
            ""
        } else {
            // A SEMI must introduce a parameter (RFC 3261 §25.1: `*( SEMI to-param )`).
            after
                .strip_prefix(';')
                .filter(|p| !scan::trim(p).is_empty())?
        };
        let mut tag = None;
        for p in Params::new(params) {
            let (name, val) = p.ok()?;
            if scan::eq_fold(name, "tag") {
                tag = Some(scan::unquote(val?));
            }
        }
        Some(NameAddr {
            display_name,
            uri,
            tag,
            params: scan::trim(params),
        })
    }

    /// Value of a header parameter (`expires`, `q`, `+sip.instance`…), quotes removed.
    pub fn param(&self, name: &str) -> Option<&'a str> {
        scan::param(self.params, name)
    }
}

/// `<uri>` at the start of `s` (LAQUOT/RAQUOT allow no white space inside): the URI and the
/// rest. One pass up to the `>`, which must be the first byte that an absolute URI may not
/// hold (white space, a control, `<` or `>`): every byte of the URI is then one that
/// [`is_absolute_uri`] allows, and [`has_scheme`] completes that check.
fn angle_uri(s: &str) -> Option<(&str, &str)> {
    let inner = s.strip_prefix('<')?;
    let b = inner.as_bytes();
    let mut gt = 0;
    while b
        .get(gt)
        .is_some_and(|&c| URI_CLASS[usize::from(c)] & REST != 0)
    {
        gt += 1;
    }
    if b.get(gt) != Some(&b'>') || gt == 0 {
        return None;
    }
    Some((inner.get(..gt)?, inner.get(gt + 1..)?))
}

/// CSeq: sequence number and method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CSeq<'a> {
    /// Sequence number.
    pub seq: u32,
    /// Method token.
    pub method: &'a str,
}

impl<'a> CSeq<'a> {
    /// Parse `1*DIGIT LWS Method`; the number must be below 2^31 (RFC 3261 §8.1.1.5).
    pub fn parse(value: &'a str) -> Option<CSeq<'a>> {
        Self::parse_tight(value).or_else(|| Self::parse_general(value))
    }

    /// The usual shape, `1*10DIGIT SP token`, in one pass: `None` for any other shape, which
    /// [`CSeq::parse_general`] decides; wherever this answers, that gives the same answer.
    fn parse_tight(value: &'a str) -> Option<CSeq<'a>> {
        let b = value.as_bytes();
        let n = b.iter().position(|c| !c.is_ascii_digit())?;
        if n == 0 || n > 10 || b.get(n) != Some(&b' ') {
            return None;
        }
        let method = value.get(n + 1..)?;
        if !scan::is_token(method) {
            return None;
        }
        let seq = scan::parse_bounded(value.get(..n)?, (1 << 31) - 1)?;
        Some(CSeq {
            seq: u32::try_from(seq).ok()?,
            method,
        })
    }

    /// [`CSeq::parse`] by the grammar's parts, for every shape.
    fn parse_general(value: &'a str) -> Option<CSeq<'a>> {
        let (num, method) = scan::split_ws(scan::trim(value));
        let seq = scan::parse_bounded(num, (1 << 31) - 1)?;
        if !scan::is_token(method) {
            return None;
        }
        Some(CSeq {
            seq: u32::try_from(seq).ok()?,
            method,
        })
    }
}

/// One Via value: protocol, sent-by and the parameters parley uses (RFC 3261 §20.42, RFC 3581).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Via<'a> {
    /// Transport token (UDP, TCP, TLS…).
    pub transport: &'a str,
    /// Host part of sent-by.
    pub host: &'a str,
    /// Port of sent-by, if given.
    pub port: Option<u16>,
    /// The `branch` parameter, if any.
    pub branch: Option<&'a str>,
    /// The `received` parameter, if any.
    pub received: Option<&'a str>,
    /// The `rport` parameter: `Some(None)` for the bare flag, `Some(Some(port))` when filled in.
    pub rport: Option<Option<u16>>,
    /// The `maddr` parameter, if any.
    pub maddr: Option<&'a str>,
    /// The `ttl` parameter, if any.
    pub ttl: Option<u8>,
    /// Raw parameter text (without the leading `;`), may be empty.
    pub params: &'a str,
}

impl<'a> Via<'a> {
    /// A Via with its sent-by and raw parameters, none of them typed yet.
    fn sent_by(transport: &'a str, host: &'a str, port: Option<u16>, params: &'a str) -> Self {
        Via {
            transport,
            host,
            port,
            branch: None,
            received: None,
            rport: None,
            maddr: None,
            ttl: None,
            params,
        }
    }

    /// Parse one via-parm: `SIP / 2.0 / transport sent-by *(; param)` (LWS allowed around `/`).
    pub fn parse(value: &'a str) -> Option<Via<'a>> {
        Self::parse_tight(value).or_else(|| Self::parse_general(value))
    }

    /// The usual shape, `SIP/2.0/TRANSPORT host[:port][;params]` with one space, no other white
    /// space, no IPv6 reference and no quoted parameter value, in one pass: `None` for any
    /// other shape, which [`Via::parse_general`] decides; wherever this answers, that gives the
    /// same answer.
    pub(crate) fn parse_tight(v: &'a str) -> Option<Via<'a>> {
        let b = v.as_bytes();
        if !scan::eq_fold(v.get(..8)?, "SIP/2.0/") {
            return None;
        }
        let mut i = 8 + b.get(8..)?.iter().position(|&c| !scan::is_token_byte(c))?;
        let transport = v.get(8..i)?;
        if transport.is_empty() || b.get(i) != Some(&b' ') {
            return None;
        }
        i += 1;
        let host_start = i;
        let tail = b.get(i..)?;
        i += tail
            .iter()
            .position(|&c| URI_CLASS[usize::from(c)] & HOST == 0)
            .unwrap_or(tail.len());
        let host = v.get(host_start..i)?;
        if host.is_empty() {
            return None;
        }
        let mut port = None;
        if b.get(i) == Some(&b':') {
            let start = i + 1;
            let tail = b.get(start..)?;
            let n = tail
                .iter()
                .position(|c| !c.is_ascii_digit())
                .unwrap_or(tail.len());
            if n == 0 || n > 5 {
                return None;
            }
            i = start + n;
            port = Some(u16::try_from(scan::parse_u64(v.get(start..i)?)?).ok()?);
        }
        let mut via = Via::sent_by(transport, host, port, "");
        match b.get(i) {
            None => {}
            Some(b';') => {
                via.params = v.get(i + 1..)?;
                let params = via.params;
                scan::tight_params(params, |name, val| via.set_param(name, val))?;
            }
            Some(_) => return None,
        }
        Some(via)
    }

    /// Record a parameter that [`Via`] types (the last of a name wins); `None` when its value
    /// is missing or malformed.
    fn set_param(&mut self, name: &'a str, val: Option<&'a str>) -> Option<()> {
        // Names of other lengths cannot match: one length test skips the comparisons.
        let lower = |n: &str| scan::eq_fold(name, n);
        match name.len() {
            6 if lower("branch") => self.branch = Some(val?),
            8 if lower("received") => self.received = Some(val?),
            5 if lower("maddr") => self.maddr = Some(val?),
            3 if lower("ttl") => {
                self.ttl = Some(u8::try_from(scan::parse_bounded(val?, 255)?).ok()?);
            }
            5 if lower("rport") => {
                self.rport = Some(match val {
                    None => None,
                    Some(p) => Some(u16::try_from(scan::parse_bounded(p, 65535)?).ok()?),
                });
            }
            _ => {}
        }
        Some(())
    }

    /// [`Via::parse`] by the grammar's parts, for every shape.
    fn parse_general(value: &'a str) -> Option<Via<'a>> {
        let v = scan::trim(value);
        // `SIP/2.0/` as usually written; otherwise with LWS around the slashes.
        let rest = match v.get(..8) {
            Some(p) if p.eq_ignore_ascii_case("SIP/2.0/") => v.get(8..)?,
            _ => {
                let (name, rest) = scan::split_at_byte(v, b'/')?;
                let (version, rest) = scan::split_at_byte(rest, b'/')?;
                if !scan::trim(name).eq_ignore_ascii_case("SIP") || scan::trim(version) != "2.0" {
                    return None;
                }
                rest
            }
        };
        let rest = scan::trim_start(rest);
        let tlen = rest.bytes().take_while(|b| scan::is_token_byte(*b)).count();
        let transport = rest.get(..tlen)?;
        if transport.is_empty() {
            return None;
        }
        let rest = scan::trim_start(rest.get(tlen..)?);
        let (sent_by, params, has_params) = match scan::split_at_byte(rest, b';') {
            Some((s, p)) => (scan::trim(s), p, true),
            None => (scan::trim(rest), "", false),
        };
        let (host, port) = split_host_port(sent_by)?;
        let mut via = Via::sent_by(transport, host, port, scan::trim(params));
        if has_params && via.params.is_empty() {
            return None;
        }
        for p in Params::new(params) {
            let (name, val) = p.ok()?;
            via.set_param(name, val)?;
        }
        Some(via)
    }

    /// Value of any Via parameter, quotes removed; `Some("")` for a flag.
    pub fn param(&self, name: &str) -> Option<&'a str> {
        scan::param(self.params, name)
    }
}

/// A media type with its parameters (Content-Type, Accept entries).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaType<'a> {
    /// Type, e.g. `text`.
    pub type_: &'a str,
    /// Subtype, e.g. `plain`.
    pub subtype: &'a str,
    /// Raw parameter text after the first `;` (may be empty).
    pub params: &'a str,
}

impl<'a> MediaType<'a> {
    /// Parse `type "/" subtype *(";" param)` (RFC 3261 §20.15), LWS allowed around `/` and `;`.
    pub fn parse(value: &'a str) -> Option<MediaType<'a>> {
        match Self::parse_plain(value) {
            Some(answer) => answer,
            None => Self::parse_general(value),
        }
    }

    /// The usual shape, `token "/" token [";" params]` with no white space before the
    /// parameters, in one pass: the answer [`MediaType::parse_general`] gives, or `None` for
    /// any other shape (which the general path decides).
    fn parse_plain(value: &'a str) -> Option<Option<MediaType<'a>>> {
        let b = value.as_bytes();
        let mut slash = 0;
        while b.get(slash).is_some_and(|&c| scan::is_token_byte(c)) {
            slash += 1;
        }
        if slash == 0 || b.get(slash) != Some(&b'/') {
            return None;
        }
        let mut end = slash + 1;
        while b.get(end).is_some_and(|&c| scan::is_token_byte(c)) {
            end += 1;
        }
        if end == slash + 1 {
            return None;
        }
        let params = match b.get(end) {
            None => "",
            Some(b';') => scan::trim(value.get(end + 1..)?),
            Some(_) => return None,
        };
        if b.get(end).is_some() && (params.is_empty() || !scan::params_valid(params)) {
            return Some(None);
        }
        Some(Some(MediaType {
            type_: value.get(..slash)?,
            subtype: value.get(slash + 1..end)?,
            params,
        }))
    }

    /// [`MediaType::parse`] by the grammar's parts: split at `/` and `;`, trim, check each.
    fn parse_general(value: &'a str) -> Option<MediaType<'a>> {
        let v = scan::trim(value);
        let (ty, rest) = scan::split_at_byte(v, b'/')?;
        let (sub, params, has_params) = match scan::split_at_byte(rest, b';') {
            Some((s, p)) => (s, scan::trim(p), true),
            None => (rest, "", false),
        };
        let (type_, subtype) = (scan::trim(ty), scan::trim(sub));
        if !scan::is_token(type_) || !scan::is_token(subtype) || !scan::params_valid(params) {
            return None;
        }
        if has_params && params.is_empty() {
            return None;
        }
        Some(MediaType {
            type_,
            subtype,
            params,
        })
    }

    /// Value of a parameter (name compared case-insensitively), quotes removed.
    pub fn param(&self, name: &str) -> Option<&'a str> {
        scan::param(self.params, name)
    }

    /// True when type and subtype match (case-insensitively).
    pub fn is(&self, type_: &str, subtype: &str) -> bool {
        scan::eq_fold(self.type_, type_) && scan::eq_fold(self.subtype, subtype)
    }
}

#[cfg(test)]
#[path = "header_tests.rs"]
mod tests;
