//! Tier-2 typed headers (RFC 3261 §20, RFC 6665 §8.2, RFC 3326): typed on access from the
//! indexed slices, borrowing from the message. [`SipMessage::validate`] types every one of
//! them once and caches the verdict.

use std::str::from_utf8;

use super::SipError;
use super::cached::{EventAt, Span, SubStateAt};
use super::error::HeaderKind;
use super::header::{HeaderName, MediaType, NameAddr};
use super::message::{Method, SipMessage};
use super::scan::{self, CommaSplit, Params};

/// One Contact value: the `*` wildcard (REGISTER removal) or an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Contact<'a> {
    /// `Contact: *`
    Wildcard,
    /// A name-addr / addr-spec with its parameters.
    Addr(NameAddr<'a>),
}

impl<'a> Contact<'a> {
    /// The `expires` parameter (delta-seconds).
    pub fn expires(&self) -> Option<u32> {
        match self {
            Contact::Wildcard => None,
            Contact::Addr(a) => a.param("expires").and_then(|v| v.parse().ok()),
        }
    }

    /// The `q` parameter in thousandths (0–1000).
    pub fn q(&self) -> Option<u16> {
        match self {
            Contact::Wildcard => None,
            Contact::Addr(a) => a.param("q").and_then(parse_qvalue),
        }
    }

    /// Parse one Contact value (`*` or a name-addr/addr-spec with valid expires and q).
    pub fn parse(value: &'a str) -> Option<Contact<'a>> {
        if scan::trim(value) == "*" {
            return Some(Contact::Wildcard);
        }
        let a = NameAddr::parse(value)?;
        if let Some(e) = a.param("expires") {
            scan::parse_bounded(e, u64::from(u32::MAX))?;
        }
        if let Some(q) = a.param("q") {
            parse_qvalue(q)?;
        }
        Some(Contact::Addr(a))
    }
}

/// `qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )` in thousandths.
pub(crate) fn parse_qvalue(s: &str) -> Option<u16> {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut thousandths = 0u16;
    for (i, b) in frac.bytes().enumerate() {
        thousandths += u16::from(b - b'0') * [100, 10, 1].get(i).copied().unwrap_or(0);
    }
    match int {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

/// Event (RFC 6665 §8.2.1): package (with template suffixes) and `id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event<'a> {
    /// Event package, e.g. `presence` or `presence.winfo`.
    pub package: &'a str,
    /// The `id` parameter.
    pub id: Option<&'a str>,
    /// Raw parameters.
    pub params: &'a str,
}

impl<'a> Event<'a> {
    /// Parse an Event value.
    pub fn parse(value: &'a str) -> Option<Event<'a>> {
        let (package, params) = split_params(value)?;
        if !scan::is_token(package) {
            return None;
        }
        Some(Event {
            package,
            id: scan::param(params, "id"),
            params,
        })
    }
}

/// `value *(; param)`: the leading token and the validated parameter text.
fn split_params(value: &str) -> Option<(&str, &str)> {
    let v = scan::trim(value);
    let (head, params) = match v.split_once(';') {
        Some((h, p)) if !scan::trim(p).is_empty() => (scan::trim(h), scan::trim(p)),
        Some(_) => return None,
        None => (v, ""),
    };
    scan::params_valid(params).then_some((head, params))
}

/// The state in Subscription-State.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubState<'a> {
    /// active
    Active,
    /// pending
    Pending,
    /// terminated
    Terminated,
    /// An extension state.
    Other(&'a str),
}

/// Subscription-State (RFC 6665 §8.2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubscriptionState<'a> {
    /// The state.
    pub state: SubState<'a>,
    /// `expires` (seconds left).
    pub expires: Option<u32>,
    /// `reason` (deactivated, probation, rejected, timeout, giveup, noresource…).
    pub reason: Option<&'a str>,
    /// `retry-after` (seconds).
    pub retry_after: Option<u32>,
    /// Raw parameters.
    pub params: &'a str,
}

impl<'a> SubscriptionState<'a> {
    /// Parse a Subscription-State value.
    pub fn parse(value: &'a str) -> Option<SubscriptionState<'a>> {
        let (state, params) = split_params(value)?;
        if !scan::is_token(state) {
            return None;
        }
        let state = if state.eq_ignore_ascii_case("active") {
            SubState::Active
        } else if state.eq_ignore_ascii_case("pending") {
            SubState::Pending
        } else if state.eq_ignore_ascii_case("terminated") {
            SubState::Terminated
        } else {
            SubState::Other(state)
        };
        let num = |name| -> Option<Option<u32>> {
            match scan::param(params, name) {
                None => Some(None),
                Some(v) => Some(Some(u32::try_from(scan::parse_u64(v)?).ok()?)),
            }
        };
        Some(SubscriptionState {
            state,
            expires: num("expires")?,
            reason: scan::param(params, "reason"),
            retry_after: num("retry-after")?,
            params,
        })
    }
}

/// Reason (RFC 3326): protocol, cause and text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reason<'a> {
    /// `SIP`, `Q.850`…
    pub protocol: &'a str,
    /// The `cause` parameter.
    pub cause: Option<u16>,
    /// The `text` parameter, quotes removed.
    pub text: Option<&'a str>,
}

impl<'a> Reason<'a> {
    /// Parse one Reason value.
    pub fn parse(value: &'a str) -> Option<Reason<'a>> {
        let (protocol, params) = split_params(value)?;
        if !scan::is_token(protocol) {
            return None;
        }
        let cause = match scan::param(params, "cause") {
            None => None,
            Some(c) => Some(u16::try_from(scan::parse_bounded(c, 65535)?).ok()?),
        };
        Some(Reason {
            protocol,
            cause,
            text: scan::param(params, "text"),
        })
    }
}

/// Warning (RFC 3261 §20.43): `warn-code SP warn-agent SP warn-text`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Warning<'a> {
    /// Three-digit code.
    pub code: u16,
    /// Host[:port] or pseudonym.
    pub agent: &'a str,
    /// The text, quotes removed (escapes kept).
    pub text: &'a str,
}

impl<'a> Warning<'a> {
    /// Parse one Warning value.
    pub fn parse(value: &'a str) -> Option<Warning<'a>> {
        let (code, rest) = scan::split_ws(scan::trim(value));
        let (agent, text) = scan::split_ws(rest);
        if code.len() != 3 || agent.is_empty() {
            return None;
        }
        let code = u16::try_from(scan::parse_u64(code)?).ok()?;
        if !text.starts_with('"') || scan::quoted_end(text.as_bytes()) != Some(text.len()) {
            return None;
        }
        Some(Warning {
            code,
            agent,
            text: scan::unquote(text),
        })
    }
}

/// A Date value (RFC 3261 §20.17, RFC 1123 form, always GMT).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SipDate {
    /// Year.
    pub year: u16,
    /// Month 1–12.
    pub month: u8,
    /// Day 1–31.
    pub day: u8,
    /// Hour 0–23.
    pub hour: u8,
    /// Minute 0–59.
    pub minute: u8,
    /// Second 0–60.
    pub second: u8,
}

const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

impl SipDate {
    /// Parse `wkday "," SP 2DIGIT SP month SP 4DIGIT SP 2DIGIT ":" 2DIGIT ":" 2DIGIT SP "GMT"`.
    pub fn parse(value: &str) -> Option<SipDate> {
        let v = scan::trim(value);
        let (wkday, rest) = v.split_once(", ")?;
        if !WEEKDAYS.contains(&wkday) {
            return None;
        }
        let mut parts = rest.split(' ');
        let (Some(day), Some(month), Some(year), Some(time), Some("GMT"), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return None;
        };
        let two = |s: &str, max: u64| {
            (s.len() == 2)
                .then(|| scan::parse_bounded(s, max))
                .flatten()
                .map(|n| n as u8)
        };
        let month = MONTHS.iter().position(|m| *m == month)? as u8 + 1;
        let mut hms = time.split(':');
        let (Some(h), Some(m), Some(s), None) = (hms.next(), hms.next(), hms.next(), hms.next())
        else {
            return None;
        };
        if year.len() != 4 {
            return None;
        }
        Some(SipDate {
            year: scan::parse_u64(year)? as u16,
            month,
            day: two(day, 31).filter(|d| *d >= 1)?,
            hour: two(h, 23)?,
            minute: two(m, 59)?,
            second: two(s, 60)?,
        })
    }
}

impl SipMessage {
    /// Typed values of a list header; an empty field is an empty list, an empty item an error.
    fn typed_list<'m, T: 'm>(
        &'m self,
        name: HeaderName,
        parse: impl Fn(&'m str) -> Option<T> + 'm,
    ) -> impl Iterator<Item = Result<T, SipError>> + 'm {
        let bad = SipError::BadHeader(HeaderKind::from(name));
        self.headers()
            .filter(move |f| f.name == name && !f.value.is_empty())
            .flat_map(|f| CommaSplit::new(f.value))
            .map(move |v| from_utf8(v).ok().and_then(&parse).ok_or(bad))
    }

    /// A single-valued typed header, if present.
    fn typed_one<'m, T>(
        &'m self,
        name: HeaderName,
        parse: impl Fn(&'m str) -> Option<T>,
    ) -> Result<Option<T>, SipError> {
        let bad = SipError::BadHeader(HeaderKind::from(name));
        self.header_str(name)?
            .map(|v| parse(v).ok_or(bad))
            .transpose()
    }

    /// Contact values in order (`*` included).
    pub fn contacts(&self) -> impl Iterator<Item = Result<Contact<'_>, SipError>> + '_ {
        self.typed_list(HeaderName::Contact, Contact::parse)
    }

    /// Route values (name-addr only).
    pub fn routes(&self) -> impl Iterator<Item = Result<NameAddr<'_>, SipError>> + '_ {
        self.typed_list(HeaderName::Route, route_parse)
    }

    /// Record-Route values (name-addr only).
    pub fn record_routes(&self) -> impl Iterator<Item = Result<NameAddr<'_>, SipError>> + '_ {
        self.typed_list(HeaderName::RecordRoute, route_parse)
    }

    /// Accept entries (an empty Accept accepts nothing).
    pub fn accept(&self) -> impl Iterator<Item = Result<MediaType<'_>, SipError>> + '_ {
        self.typed_list(HeaderName::Accept, MediaType::parse)
    }

    /// Allow methods.
    pub fn allow(&self) -> impl Iterator<Item = Result<Method<'_>, SipError>> + '_ {
        self.typed_list(HeaderName::Allow, |v| {
            let t = scan::trim(v);
            scan::is_token(t).then(|| Method::from_token(t))
        })
    }

    /// Option tags of Supported, Require, Proxy-Require or Unsupported.
    pub fn option_tags(
        &self,
        name: HeaderName,
    ) -> impl Iterator<Item = Result<&str, SipError>> + '_ {
        self.typed_list(name, |v| {
            let t = scan::trim(v);
            scan::is_token(t).then_some(t)
        })
    }

    /// Supported option tags.
    pub fn supported(&self) -> impl Iterator<Item = Result<&str, SipError>> + '_ {
        self.option_tags(HeaderName::Supported)
    }

    /// Require option tags.
    pub fn require(&self) -> impl Iterator<Item = Result<&str, SipError>> + '_ {
        self.option_tags(HeaderName::Require)
    }

    /// Require option tags not in `supported` (RFC 3261 §8.2.2.3): answer 420 with them in
    /// Unsupported when there are any. Malformed tags count as unsupported.
    pub fn unsupported_requires<'m>(
        &'m self,
        supported: &'m [&str],
    ) -> impl Iterator<Item = &'m str> + 'm {
        self.headers()
            .filter(|f| f.name == HeaderName::Require)
            .flat_map(|f| CommaSplit::new(f.value))
            .filter_map(|v| from_utf8(v).ok().map(scan::trim))
            .filter(move |t| !t.is_empty() && !supported.iter().any(|s| s.eq_ignore_ascii_case(t)))
    }

    /// [`SipError::BadExtension`] when Require names an unsupported extension.
    pub fn check_require(&self, supported: &[&str]) -> Result<(), SipError> {
        match self.unsupported_requires(supported).next() {
            Some(_) => Err(SipError::BadExtension),
            None => Ok(()),
        }
    }

    /// Reason values.
    pub fn reasons(&self) -> impl Iterator<Item = Result<Reason<'_>, SipError>> + '_ {
        self.typed_list(HeaderName::Reason, Reason::parse)
    }

    /// Warning values.
    pub fn warnings(&self) -> impl Iterator<Item = Result<Warning<'_>, SipError>> + '_ {
        self.typed_list(HeaderName::Warning, Warning::parse)
    }

    /// Expires (delta-seconds), if present (typed on first access, then cached).
    pub fn expires(&self) -> Result<Option<u32>, SipError> {
        self.tier2_typed().expires
    }

    /// Event, if present (typed on first access, then cached).
    pub fn event(&self) -> Result<Option<Event<'_>>, SipError> {
        self.tier2_typed()
            .event
            .map(|e| e.map(|(span, at)| at.view(self.span_str(span))))
    }

    /// Subscription-State, if present (typed on first access, then cached).
    pub fn subscription_state(&self) -> Result<Option<SubscriptionState<'_>>, SipError> {
        self.tier2_typed()
            .sub_state
            .map(|e| e.map(|(span, at)| at.view(self.span_str(span))))
    }

    /// Date, if present (typed on first access, then cached).
    pub fn date(&self) -> Result<Option<SipDate>, SipError> {
        self.tier2_typed().date
    }

    /// The single-valued tier-2 headers, typed together on the first access to any of them.
    fn tier2_typed(&self) -> &Tier2 {
        self.tier2().get_or_init(|| Tier2 {
            expires: self.typed_one(HeaderName::Expires, |v| {
                u32::try_from(scan::parse_u64(v)?).ok()
            }),
            event: self.typed_one(HeaderName::Event, |v| {
                Event::parse(v).map(|e| (self.span_of(v.as_bytes()), EventAt::of(v, &e)))
            }),
            sub_state: self.typed_one(HeaderName::SubscriptionState, |v| {
                SubscriptionState::parse(v)
                    .map(|s| (self.span_of(v.as_bytes()), SubStateAt::of(v, &s)))
            }),
            date: self.typed_one(HeaderName::Date, SipDate::parse),
        })
    }

    /// Type every header parley knows (tier 2) on top of what [`SipMessage::parse`] checked:
    /// all Via values and every typed header of this module. The first error wins; the
    /// verdict is computed once and cached.
    pub fn validate(&self) -> Result<(), SipError> {
        *self.validated().get_or_init(|| self.validate_uncached())
    }

    fn validate_uncached(&self) -> Result<(), SipError> {
        self.vias().try_for_each(|v| v.map(drop))?;
        let mut wildcard = false;
        let mut count = 0;
        for c in self.contacts() {
            wildcard |= c? == Contact::Wildcard;
            count += 1;
        }
        if wildcard && count > 1 {
            return Err(SipError::BadHeader(HeaderKind::Contact));
        }
        self.routes().try_for_each(|v| v.map(drop))?;
        self.record_routes().try_for_each(|v| v.map(drop))?;
        self.accept().try_for_each(|v| v.map(drop))?;
        self.allow().try_for_each(|v| v.map(drop))?;
        for tags in [
            HeaderName::Supported,
            HeaderName::Require,
            HeaderName::ProxyRequire,
            HeaderName::Unsupported,
        ] {
            self.option_tags(tags).try_for_each(|v| v.map(drop))?;
        }
        self.reasons().try_for_each(|v| v.map(drop))?;
        self.warnings().try_for_each(|v| v.map(drop))?;
        self.expires()?;
        self.event()?;
        self.subscription_state()?;
        self.date()?;
        Ok(())
    }
}

/// The single-valued tier-2 headers of a message, typed once and kept as offsets.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tier2 {
    expires: Result<Option<u32>, SipError>,
    event: Result<Option<(Span, EventAt)>, SipError>,
    sub_state: Result<Option<(Span, SubStateAt)>, SipError>,
    date: Result<Option<SipDate>, SipError>,
}

/// Route and Record-Route values must be name-addr (`<…>`).
fn route_parse(v: &str) -> Option<NameAddr<'_>> {
    let t = scan::trim(v);
    let angle = t.starts_with('<') || t.starts_with('"') || t.contains('<');
    if !angle {
        return None;
    }
    let a = NameAddr::parse(t)?;
    Params::new(a.params).all(|p| p.is_ok()).then_some(a)
}

#[cfg(test)]
#[path = "typed_tests.rs"]
mod tests;
