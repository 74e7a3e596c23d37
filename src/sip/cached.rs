//! Typed SIP header views kept as offsets (RFC 3261 §20), so a [`super::SipMessage`] types each
//! header once and hands out borrowed views afterwards without parsing again.
//!
//! A view such as [`Via`] borrows `&str`s from the message; the message cannot hold borrows of
//! itself, so it keeps where each part lies inside the header value ([`Piece`]) and rebuilds the
//! view from the value on access: one UTF-8 check of the value, no parsing, no allocation.
//!
//! The `of` constructors of the core headers' offsets are inlined into the parse: returned
//! through memory, their small fields were read back in wide words (store-forwarding stalls).

use super::header::{CSeq, MediaType, NameAddr, Via};
use super::typed::{Event, SubState, SubscriptionState};

/// A byte range of the message: a header value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Span {
    pub start: u32,
    pub end: u32,
}

/// A part of a header value, as offsets relative to the value's start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Piece {
    at: u32,
    len: u32,
}

impl Piece {
    /// Where `part` lies inside `value` (an empty or foreign `part` is stored as empty).
    fn of(value: &str, part: &str) -> Piece {
        let at = (part.as_ptr() as usize).wrapping_sub(value.as_ptr() as usize);
        match (u32::try_from(at), u32::try_from(part.len())) {
            (Ok(at), Ok(len)) if !part.is_empty() && at as usize + part.len() <= value.len() => {
                Piece { at, len }
            }
            _ => Piece::default(),
        }
    }

    #[inline]
    fn get(self, value: &str) -> &str {
        let at = self.at as usize;
        value.get(at..at + self.len as usize).unwrap_or_default()
    }
}

fn opt(value: &str, part: Option<&str>) -> Option<Piece> {
    part.map(|p| Piece::of(value, p))
}

/// A typed [`Via`] as offsets.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ViaAt {
    transport: Piece,
    host: Piece,
    port: Option<u16>,
    branch: Option<Piece>,
    received: Option<Piece>,
    rport: Option<Option<u16>>,
    maddr: Option<Piece>,
    ttl: Option<u8>,
    params: Piece,
}

impl ViaAt {
    #[inline]
    pub(crate) fn of(value: &str, v: &Via<'_>) -> ViaAt {
        ViaAt {
            transport: Piece::of(value, v.transport),
            host: Piece::of(value, v.host),
            port: v.port,
            branch: opt(value, v.branch),
            received: opt(value, v.received),
            rport: v.rport,
            maddr: opt(value, v.maddr),
            ttl: v.ttl,
            params: Piece::of(value, v.params),
        }
    }

    #[inline]
    pub(crate) fn view<'a>(&self, value: &'a str) -> Via<'a> {
        Via {
            transport: self.transport.get(value),
            host: self.host.get(value),
            port: self.port,
            branch: self.branch.map(|p| p.get(value)),
            received: self.received.map(|p| p.get(value)),
            rport: self.rport,
            maddr: self.maddr.map(|p| p.get(value)),
            ttl: self.ttl,
            params: self.params.get(value),
        }
    }
}

/// A typed [`NameAddr`] as offsets.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct NameAddrAt {
    display_name: Option<Piece>,
    uri: Piece,
    tag: Option<Piece>,
    params: Piece,
}

impl NameAddrAt {
    #[inline]
    pub(crate) fn of(value: &str, a: &NameAddr<'_>) -> NameAddrAt {
        NameAddrAt {
            display_name: opt(value, a.display_name),
            uri: Piece::of(value, a.uri),
            tag: opt(value, a.tag),
            params: Piece::of(value, a.params),
        }
    }

    #[inline]
    pub(crate) fn view<'a>(&self, value: &'a str) -> NameAddr<'a> {
        NameAddr {
            display_name: self.display_name.map(|p| p.get(value)),
            uri: self.uri.get(value),
            tag: self.tag.map(|p| p.get(value)),
            params: self.params.get(value),
        }
    }
}

/// A typed [`CSeq`] as offsets.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct CSeqAt {
    seq: u32,
    method: Piece,
}

impl CSeqAt {
    #[inline]
    pub(crate) fn of(value: &str, c: &CSeq<'_>) -> CSeqAt {
        CSeqAt {
            seq: c.seq,
            method: Piece::of(value, c.method),
        }
    }

    #[inline]
    pub(crate) fn view<'a>(&self, value: &'a str) -> CSeq<'a> {
        CSeq {
            seq: self.seq,
            method: self.method.get(value),
        }
    }
}

/// A typed [`MediaType`] as offsets.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct MediaTypeAt {
    type_: Piece,
    subtype: Piece,
    params: Piece,
}

impl MediaTypeAt {
    #[inline]
    pub(crate) fn of(value: &str, m: &MediaType<'_>) -> MediaTypeAt {
        MediaTypeAt {
            type_: Piece::of(value, m.type_),
            subtype: Piece::of(value, m.subtype),
            params: Piece::of(value, m.params),
        }
    }

    #[inline]
    pub(crate) fn view<'a>(&self, value: &'a str) -> MediaType<'a> {
        MediaType {
            type_: self.type_.get(value),
            subtype: self.subtype.get(value),
            params: self.params.get(value),
        }
    }
}

/// A typed [`Event`] as offsets.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct EventAt {
    package: Piece,
    id: Option<Piece>,
    params: Piece,
}

impl EventAt {
    pub(crate) fn of(value: &str, e: &Event<'_>) -> EventAt {
        EventAt {
            package: Piece::of(value, e.package),
            id: opt(value, e.id),
            params: Piece::of(value, e.params),
        }
    }

    #[inline]
    pub(crate) fn view<'a>(&self, value: &'a str) -> Event<'a> {
        Event {
            package: self.package.get(value),
            id: self.id.map(|p| p.get(value)),
            params: self.params.get(value),
        }
    }
}

/// A typed [`SubscriptionState`] as offsets.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SubStateAt {
    /// The state; an extension state's token is in `other`.
    state: SubState<'static>,
    other: Piece,
    expires: Option<u32>,
    reason: Option<Piece>,
    retry_after: Option<u32>,
    params: Piece,
}

impl SubStateAt {
    pub(crate) fn of(value: &str, s: &SubscriptionState<'_>) -> SubStateAt {
        let (state, other) = match s.state {
            SubState::Active => (SubState::Active, Piece::default()),
            SubState::Pending => (SubState::Pending, Piece::default()),
            SubState::Terminated => (SubState::Terminated, Piece::default()),
            SubState::Other(t) => (SubState::Other(""), Piece::of(value, t)),
        };
        SubStateAt {
            state,
            other,
            expires: s.expires,
            reason: opt(value, s.reason),
            retry_after: s.retry_after,
            params: Piece::of(value, s.params),
        }
    }

    #[inline]
    pub(crate) fn view<'a>(&self, value: &'a str) -> SubscriptionState<'a> {
        SubscriptionState {
            state: match self.state {
                SubState::Other(_) => SubState::Other(self.other.get(value)),
                SubState::Active => SubState::Active,
                SubState::Pending => SubState::Pending,
                SubState::Terminated => SubState::Terminated,
            },
            expires: self.expires,
            reason: self.reason.map(|p| p.get(value)),
            retry_after: self.retry_after,
            params: self.params.get(value),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_round_trip_and_stay_in_bounds() {
        let value = "SIP/2.0/TLS h.example:5061;branch=z9hG4bK1;rport";
        let via = Via::parse(value).unwrap();
        let at = ViaAt::of(value, &via);
        assert_eq!(at.view(value), via);
        // A part that does not lie inside the value is kept as empty, never out of bounds.
        assert_eq!(Piece::of(value, "elsewhere").get(value), "");
        assert_eq!(Piece::of("", "").get("abc"), "");
        let v = "\"A\" <sip:a@b>;tag=x";
        let na = NameAddr::parse(v).unwrap();
        assert_eq!(NameAddrAt::of(v, &na).view(v), na);
    }
}
