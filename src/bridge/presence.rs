//! Presence normalisation (RFC 8048 §5–6, PIDF RFC 3863, RPID RFC 4480): the one table
//! between RPID activities / PIDF `<basic>` and XMPP availability, and the reversible
//! encoding of XMPP resources as PIDF tuple ids.
//!
//! XMPP → PIDF (RFC 8048 §6 as read for this table: `<show/>` values are carried through
//! RPID activities, `<status/>` as `<note/>`; `<priority/>` has no PIDF equivalent and is
//! not copied):
//!
//! | XMPP | `<basic>` | RPID activity |
//! |---|---|---|
//! | available (no show), chat | open | — |
//! | away | open | away |
//! | xa | open | away |
//! | dnd | open | busy |
//! | unavailable | closed | — |
//!
//! PIDF → XMPP: `closed` is unavailable whatever the activities. `open` takes the most
//! restrictive availability of the person's activities through [`ACTIVITY_TABLE`] (dnd >
//! xa > away > available); activities not in the table count as available. Never free-text
//! heuristics: a `<note>` saying "busy" changes nothing.

use std::borrow::Cow;

use crate::model::Availability;
use crate::sip::body::pidf::{Activity, Basic};

/// RFC 4480 §3.2 activity names → availability. Every activity the RFC registers is here.
pub const ACTIVITY_TABLE: &[(&str, Availability)] = &[
    ("appointment", Availability::Dnd),
    ("away", Availability::Away),
    ("breakfast", Availability::Away),
    ("busy", Availability::Dnd),
    ("dinner", Availability::Away),
    ("holiday", Availability::Xa),
    ("in-transit", Availability::Away),
    ("looking-for-work", Availability::Available),
    ("lunch", Availability::Away),
    ("meal", Availability::Away),
    ("meeting", Availability::Dnd),
    ("on-the-phone", Availability::Dnd),
    ("other", Availability::Available),
    ("performance", Availability::Dnd),
    ("permanent-absence", Availability::Xa),
    ("playing", Availability::Away),
    ("presentation", Availability::Dnd),
    ("shopping", Availability::Away),
    ("sleeping", Availability::Xa),
    ("spectator", Availability::Away),
    ("steering", Availability::Dnd),
    ("travel", Availability::Away),
    ("tv", Availability::Away),
    ("unknown", Availability::Available),
    ("vacation", Availability::Xa),
    ("worship", Availability::Dnd),
];

fn activity_name(a: &Activity) -> &str {
    match a {
        Activity::Away => "away",
        Activity::Busy => "busy",
        Activity::OnThePhone => "on-the-phone",
        Activity::Meeting => "meeting",
        Activity::Vacation => "vacation",
        Activity::Appointment => "appointment",
        Activity::Holiday => "holiday",
        Activity::Sleeping => "sleeping",
        Activity::Unknown => "unknown",
        // `<other>` free text is never interpreted.
        Activity::Other(name) if ACTIVITY_TABLE.iter().any(|(n, _)| n == name) => name,
        Activity::Other(_) => "other",
    }
}

fn rank(a: Availability) -> u8 {
    match a {
        Availability::Available | Availability::Chat => 0,
        Availability::Away => 1,
        Availability::Xa => 2,
        Availability::Dnd => 3,
        Availability::Unavailable => 4,
    }
}

/// PIDF `<basic>` plus person activities → availability.
pub fn availability_from_pidf(basic: Option<Basic>, activities: &[Activity]) -> Availability {
    if basic == Some(Basic::Closed) {
        return Availability::Unavailable;
    }
    activities
        .iter()
        .filter_map(|a| {
            let name = activity_name(a);
            ACTIVITY_TABLE
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, av)| *av)
        })
        .max_by_key(|a| rank(*a))
        .unwrap_or(Availability::Available)
}

/// Availability → PIDF `<basic>` and the RPID activity that carries it.
pub fn availability_to_pidf(a: Availability) -> (Basic, Option<Activity>) {
    match a {
        Availability::Available | Availability::Chat => (Basic::Open, None),
        Availability::Away | Availability::Xa => (Basic::Open, Some(Activity::Away)),
        Availability::Dnd => (Basic::Open, Some(Activity::Busy)),
        Availability::Unavailable => (Basic::Closed, None),
    }
}

/// Prefix marking a hex-encoded resource in a tuple id.
const HEX_PREFIX: &str = "rx";

/// A resource as a PIDF tuple id (an XML `ID`: a letter or `_` first, then letters, digits,
/// `.`, `-`, `_`). Resources that already are one, and do not start with `rx`, are used as
/// they are; others are `rx` + the hex of their UTF-8 bytes. [`resource_from_tuple_id`]
/// reverses both.
pub fn tuple_id_for_resource(resource: &str) -> Cow<'_, str> {
    let is_id = resource
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && resource
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
    if is_id && !resource.starts_with(HEX_PREFIX) {
        return Cow::Borrowed(resource);
    }
    let mut s = String::with_capacity(HEX_PREFIX.len() + resource.len() * 2);
    s.push_str(HEX_PREFIX);
    for b in resource.bytes() {
        s.push_str(&format!("{b:02x}"));
    }
    Cow::Owned(s)
}

/// A tuple id as a resource (see [`tuple_id_for_resource`]).
pub fn resource_from_tuple_id(id: &str) -> Cow<'_, str> {
    if let Some(hex) = id.strip_prefix(HEX_PREFIX)
        && hex.len() % 2 == 0
        && !hex.is_empty()
    {
        let bytes: Option<Vec<u8>> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
            .collect();
        if let Some(s) = bytes.and_then(|b| String::from_utf8(b).ok()) {
            return Cow::Owned(s);
        }
    }
    Cow::Borrowed(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_rows() {
        use Availability as A;
        let rows = [
            (Some(Basic::Open), vec![], A::Available),
            (Some(Basic::Closed), vec![Activity::Busy], A::Unavailable),
            (Some(Basic::Open), vec![Activity::Away], A::Away),
            (Some(Basic::Open), vec![Activity::Busy], A::Dnd),
            (Some(Basic::Open), vec![Activity::OnThePhone], A::Dnd),
            (Some(Basic::Open), vec![Activity::Meeting], A::Dnd),
            (Some(Basic::Open), vec![Activity::Vacation], A::Xa),
            (
                Some(Basic::Open),
                vec![Activity::Away, Activity::Busy],
                A::Dnd,
            ),
            (
                Some(Basic::Open),
                vec![Activity::Other("lunch".into())],
                A::Away,
            ),
            // Free text in <other> is not interpreted.
            (
                Some(Basic::Open),
                vec![Activity::Other("busy busy busy".into())],
                A::Available,
            ),
            (None, vec![], A::Available),
        ];
        for (basic, acts, want) in rows {
            assert_eq!(
                availability_from_pidf(basic, &acts),
                want,
                "{basic:?} {acts:?}"
            );
        }
        for a in [A::Available, A::Away, A::Dnd, A::Unavailable] {
            let (b, act) = availability_to_pidf(a);
            assert_eq!(
                availability_from_pidf(Some(b), act.as_slice()),
                a,
                "round trip {a:?}"
            );
        }
        // Lossy by design: chat → available, xa → away.
        assert_eq!(
            availability_to_pidf(A::Xa),
            (Basic::Open, Some(Activity::Away))
        );
    }

    #[test]
    fn tuple_ids_are_reversible() {
        for r in [
            "balcony",
            "Gajim.X1",
            "rx41",
            "with space",
            "ünï",
            "1abc",
            "a:b",
        ] {
            let id = tuple_id_for_resource(r);
            assert!(
                id.chars().next().unwrap().is_ascii_alphabetic(),
                "{r} -> {id}"
            );
            assert_eq!(resource_from_tuple_id(&id), r, "{r} -> {id}");
        }
        assert_eq!(tuple_id_for_resource("balcony"), "balcony");
    }
}
