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

/// `prefix` + the first 96 bits of the SHA-256 of `label` and `name`, in hex: an opaque,
/// stable token that is a valid XML `ID` and XMPP resource.
fn opaque(prefix: &str, label: &[u8], name: &str) -> String {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(label);
    ctx.update(name.as_bytes());
    let digest = ctx.finish();
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(prefix.len() + 24);
    s.push_str(prefix);
    for &b in &digest.as_ref()[..12] {
        s.push(char::from(HEX[usize::from(b >> 4)]));
        s.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    s
}

/// A resource as a PIDF tuple id (an XML `ID`). Topology hiding: a resource names a device
/// or a client ("laptop-home", "Conversations.x1"), which must not cross, so the tuple id is
/// an opaque token derived from it — the same resource always gives the same tuple, so the
/// watcher still sees one tuple per device.
pub fn tuple_id_for_resource(resource: &str) -> Cow<'_, str> {
    Cow::Owned(opaque("t", b"parley-resource\0", resource))
}

/// A SIP tuple id as an XMPP resource: an opaque token derived from it, for the same reason
/// (see [`tuple_id_for_resource`]).
pub fn resource_from_tuple_id(id: &str) -> Cow<'_, str> {
    Cow::Owned(opaque("s", b"parley-tuple\0", id))
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
    fn tuple_ids_and_resources_are_opaque_stable_and_distinct() {
        let mut seen = std::collections::HashSet::new();
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
            assert!(!id.contains(r), "{r} -> {id}");
            assert!(id.starts_with('t') && id.len() == 25, "{id}");
            assert!(id[1..].bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
            assert_eq!(id, tuple_id_for_resource(r), "stable");
            assert!(seen.insert(id.into_owned()), "distinct");
            let res = resource_from_tuple_id(r);
            assert!(!res.contains(r) && res.starts_with('s'), "{r} -> {res}");
        }
    }
}
