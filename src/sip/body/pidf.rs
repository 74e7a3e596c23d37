//! Presence documents: PIDF (RFC 3863) with the RPID extensions parley maps (RFC 4480
//! activities, person notes), `application/pidf+xml`.
//!
//! Parsing keeps one [`Tuple`] per `<tuple>` (one per XMPP resource) and the person-level
//! RPID activities; unknown elements are skipped. Writing produces the same shape.

use std::fmt::Write as _;

use super::{attr, esc, leaf_text, walk};
use crate::sip::SipError;

/// Media type of PIDF documents.
pub const CONTENT_TYPE: &str = "application/pidf+xml";
const NS: &str = "urn:ietf:params:xml:ns:pidf";
const NS_DM: &str = "urn:ietf:params:xml:ns:pidf:data-model";
const NS_RPID: &str = "urn:ietf:params:xml:ns:pidf:rpid";

/// `<basic>` status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Basic {
    /// open
    Open,
    /// closed
    Closed,
}

/// A `<note>` with its language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// `xml:lang`, if any.
    pub lang: Option<String>,
    /// Text.
    pub text: String,
}

/// RFC 4480 §3.2 activities (the ones parley maps; others kept by name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Activity {
    /// away
    Away,
    /// busy
    Busy,
    /// on-the-phone
    OnThePhone,
    /// meeting
    Meeting,
    /// vacation
    Vacation,
    /// appointment
    Appointment,
    /// holiday
    Holiday,
    /// sleeping
    Sleeping,
    /// unknown
    Unknown,
    /// Any other activity element (local name), or `<other>` text.
    Other(String),
}

impl Activity {
    fn from_name(n: &[u8]) -> Activity {
        match n {
            b"away" => Activity::Away,
            b"busy" => Activity::Busy,
            b"on-the-phone" => Activity::OnThePhone,
            b"meeting" => Activity::Meeting,
            b"vacation" => Activity::Vacation,
            b"appointment" => Activity::Appointment,
            b"holiday" => Activity::Holiday,
            b"sleeping" => Activity::Sleeping,
            b"unknown" => Activity::Unknown,
            other => Activity::Other(String::from_utf8_lossy(other).into_owned()),
        }
    }

    /// The element name (None for free-text `Other`, written as `<rpid:other>`).
    fn element(&self) -> Option<&'static str> {
        Some(match self {
            Activity::Away => "away",
            Activity::Busy => "busy",
            Activity::OnThePhone => "on-the-phone",
            Activity::Meeting => "meeting",
            Activity::Vacation => "vacation",
            Activity::Appointment => "appointment",
            Activity::Holiday => "holiday",
            Activity::Sleeping => "sleeping",
            Activity::Unknown => "unknown",
            Activity::Other(_) => return None,
        })
    }
}

/// One `<tuple>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Tuple {
    /// `id` attribute.
    pub id: String,
    /// `<status><basic>`, if given.
    pub basic: Option<Basic>,
    /// `<contact>` URI, if any.
    pub contact: Option<String>,
    /// `<contact priority>`, if any (text as written).
    pub priority: Option<String>,
    /// Tuple notes.
    pub notes: Vec<Note>,
}

/// A presence document.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Presence {
    /// `entity` attribute (the presentity URI).
    pub entity: String,
    /// Tuples in document order.
    pub tuples: Vec<Tuple>,
    /// Person-level RPID activities.
    pub activities: Vec<Activity>,
    /// Person-level and presence-level notes.
    pub notes: Vec<Note>,
}

impl Presence {
    /// Parse a PIDF document.
    pub fn parse(body: &[u8]) -> Result<Presence, SipError> {
        let mut p = Presence::default();
        let mut in_tuple = false;
        let mut in_person = false;
        let mut in_activities = false;
        let mut tuple_depth = 0;
        walk(body, |r, e, depth, empty| {
            let local = e.local_name();
            let name = local.as_ref();
            if depth == 1 {
                if name != b"presence" {
                    return Err(SipError::BadBody);
                }
                p.entity = attr(e, b"entity")?.ok_or(SipError::BadBody)?;
                return Ok(false);
            }
            if depth == 2 {
                in_tuple = name == b"tuple";
                in_person = name == b"person";
                in_activities = false;
                if in_tuple {
                    tuple_depth = depth;
                    p.tuples.push(Tuple {
                        id: attr(e, b"id")?.unwrap_or_default(),
                        ..Tuple::default()
                    });
                }
                if name == b"note" && !empty {
                    let lang = attr(e, b"lang")?;
                    p.notes.push(Note {
                        lang,
                        text: leaf_text(r, e)?,
                    });
                    return Ok(true);
                }
                return Ok(false);
            }
            if in_tuple && depth > tuple_depth {
                let Some(t) = p.tuples.last_mut() else {
                    return Ok(false);
                };
                return Ok(match (depth, name) {
                    (4, b"basic") if !empty => {
                        t.basic = Some(match leaf_text(r, e)?.as_str() {
                            "open" => Basic::Open,
                            "closed" => Basic::Closed,
                            _ => return Err(SipError::BadBody),
                        });
                        true
                    }
                    (3, b"contact") if !empty => {
                        t.priority = attr(e, b"priority")?;
                        t.contact = Some(leaf_text(r, e)?);
                        true
                    }
                    (3, b"note") if !empty => {
                        let lang = attr(e, b"lang")?;
                        t.notes.push(Note {
                            lang,
                            text: leaf_text(r, e)?,
                        });
                        true
                    }
                    _ => false,
                });
            }
            if in_person {
                match (depth, name) {
                    (3, b"activities") => in_activities = !empty,
                    (3, b"note") if !empty => {
                        let lang = attr(e, b"lang")?;
                        p.notes.push(Note {
                            lang,
                            text: leaf_text(r, e)?,
                        });
                        return Ok(true);
                    }
                    (3, _) => in_activities = false,
                    (4, b"other") if in_activities && !empty => {
                        p.activities.push(Activity::Other(leaf_text(r, e)?));
                        return Ok(true);
                    }
                    (4, b"note" | b"description") => {}
                    (4, _) if in_activities => p.activities.push(Activity::from_name(name)),
                    _ => {}
                }
            }
            Ok(false)
        })?;
        Ok(p)
    }

    /// Write the document (PIDF + data model + RPID namespaces).
    pub fn to_xml(&self) -> String {
        // One allocation for a typical document (a few tuples, a note).
        let mut s = String::with_capacity(512 + 128 * self.tuples.len());
        let _ = write!(
            s,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<presence xmlns=\"{NS}\" xmlns:dm=\"{NS_DM}\" xmlns:rpid=\"{NS_RPID}\" entity=\"{}\">\n",
            esc(&self.entity)
        );
        for t in &self.tuples {
            let _ = writeln!(s, "  <tuple id=\"{}\">", esc(&t.id));
            if let Some(b) = t.basic {
                let b = if b == Basic::Open { "open" } else { "closed" };
                let _ = writeln!(s, "    <status><basic>{b}</basic></status>");
            } else {
                s.push_str("    <status/>\n");
            }
            if let Some(c) = &t.contact {
                match &t.priority {
                    Some(p) => {
                        let _ = writeln!(
                            s,
                            "    <contact priority=\"{}\">{}</contact>",
                            esc(p),
                            esc(c)
                        );
                    }
                    None => {
                        let _ = writeln!(s, "    <contact>{}</contact>", esc(c));
                    }
                }
            }
            for n in &t.notes {
                write_note(&mut s, "    ", "note", n);
            }
            s.push_str("  </tuple>\n");
        }
        if !self.activities.is_empty() || !self.notes.is_empty() {
            s.push_str("  <dm:person id=\"p\">\n");
            if !self.activities.is_empty() {
                s.push_str("    <rpid:activities>");
                for a in &self.activities {
                    match (a.element(), a) {
                        (Some(el), _) => {
                            let _ = write!(s, "<rpid:{el}/>");
                        }
                        (None, Activity::Other(text)) => {
                            let _ = write!(s, "<rpid:other>{}</rpid:other>", esc(text));
                        }
                        (None, _) => {}
                    }
                }
                s.push_str("</rpid:activities>\n");
            }
            for n in &self.notes {
                write_note(&mut s, "    ", "dm:note", n);
            }
            s.push_str("  </dm:person>\n");
        }
        s.push_str("</presence>\n");
        s
    }
}

fn write_note(s: &mut String, indent: &str, el: &str, n: &Note) {
    match &n.lang {
        Some(l) => {
            let _ = writeln!(
                s,
                "{indent}<{el} xml:lang=\"{}\">{}</{el}>",
                esc(l),
                esc(&n.text)
            );
        }
        None => {
            let _ = writeln!(s, "{indent}<{el}>{}</{el}>", esc(&n.text));
        }
    }
}
