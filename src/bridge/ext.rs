//! Reactions (XEP-0444), corrections (XEP-0308), retractions (XEP-0424), replies (XEP-0461),
//! file links (XEP-0066 / XEP-0363) and group invites (XEP-0249) on the SIP side: as CPIM
//! (RFC 3862 §3.4, §5) extension headers where the peer declared support, otherwise as a
//! readable text fallback. Never silently dropped.
//!
//! Each extension is a CPIM namespace named by its XEP's own namespace URI, so the headers
//! say what they carry:
//!
//! | Extension | `NS:` | Headers |
//! |---|---|---|
//! | XEP-0444 | `react <urn:xmpp:reactions:0>` | `react.Id`, `react.Emoji` (one per emoji; none: removed) |
//! | XEP-0308 | `correct <urn:xmpp:message-correct:0>` | `correct.Replace` |
//! | XEP-0424 | `retract <urn:xmpp:message-retract:1>` | `retract.Id` |
//! | XEP-0461 | `reply <urn:xmpp:reply:0>` | `reply.Id`, `reply.To` |
//! | XEP-0066 | `oob <jabber:x:oob>` | `oob.Url`, `oob.Name`, `oob.Size`, `oob.Desc` |
//! | XEP-0249 | `invite <jabber:x:conference>` | `invite.Room`, `invite.Reason`, `invite.Password` |
//!
//! The payload is always the readable fallback text, so a peer that ignores the headers
//! still shows something sensible.

use std::borrow::Cow;
use std::fmt::Write as _;

use crate::model::{FileLink, GroupInvite, Reaction};
use crate::sip::body::cpim::Cpim;
use crate::xmpp::ns;

/// `(prefix, namespace URI)` of each extension, in the order headers are written.
pub const NAMESPACES: &[(&str, &str)] = &[
    ("react", ns::REACTIONS),
    ("correct", ns::CORRECTION),
    ("retract", ns::RETRACT),
    ("reply", ns::REPLY),
    ("oob", ns::OOB),
    ("invite", CONFERENCE),
];

/// The extensions of [`NAMESPACES`] a SIP peer takes as CPIM headers, named by their prefix
/// (configuration: `sip_extensions` of a SIP `[[domain]]`). A peer without one gets the
/// readable text fallback for it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Extensions(u8);

impl Extensions {
    /// None: text fallbacks only.
    pub const NONE: Extensions = Extensions(0);
    /// Every extension of [`NAMESPACES`].
    pub const ALL: Extensions = Extensions((1 << NAMESPACES.len()) - 1);

    fn bit(prefix: &str) -> Option<u8> {
        let i = NAMESPACES.iter().position(|(p, _)| *p == prefix)?;
        Some(1 << i)
    }

    /// The set holding the extension named `prefix` (`react`, `correct`, `retract`, `reply`,
    /// `oob`, `invite`); `all` is every one. `None` for an unknown name.
    pub fn named(prefix: &str) -> Option<Extensions> {
        match prefix {
            "all" => Some(Extensions::ALL),
            p => Self::bit(p).map(Extensions),
        }
    }

    /// The union of both sets.
    pub fn with(self, other: Extensions) -> Extensions {
        Extensions(self.0 | other.0)
    }

    /// Whether the extension named `prefix` is in the set.
    pub fn has(self, prefix: &str) -> bool {
        Self::bit(prefix).is_some_and(|b| self.0 & b != 0)
    }

    /// Whether the header `name` (`prefix.Local`) belongs to an extension in the set.
    pub fn has_header(self, name: &str) -> bool {
        name.split_once('.').is_some_and(|(p, _)| self.has(p))
    }
}

/// XEP-0249 namespace.
pub const CONFERENCE: &str = "jabber:x:conference";

/// XEP-0424 §5 recommended fallback body.
pub const RETRACTION_FALLBACK: &str =
    "This person attempted to retract a previous message, but it's unsupported by your client.";

/// Every value of the extension header `local` in namespace `urn` (the prefix the message
/// declared for it, whatever it is).
pub fn values<'a>(cpim: &Cpim<'a>, urn: &str, local: &'a str) -> Vec<&'a str> {
    let Some(prefix) = cpim.ns_prefix(urn) else {
        return Vec::new();
    };
    cpim.headers
        .iter()
        .filter_map(|(n, v)| {
            let (p, l) = n.split_once('.')?;
            (p == prefix && l.eq_ignore_ascii_case(local)).then_some(*v)
        })
        .collect()
}

/// The first value of an extension header.
pub fn value<'a>(cpim: &Cpim<'a>, urn: &str, local: &'a str) -> Option<&'a str> {
    cpim.ns_header(urn, local)
}

/// Text fallback for a reaction.
pub fn reaction_text(r: &Reaction<'_>) -> String {
    if r.emoji.is_empty() {
        "removed their reaction to an earlier message".to_owned()
    } else {
        let mut s = String::from("reacted ");
        for (i, e) in r.emoji.iter().enumerate() {
            if i > 0 {
                s.push(' ');
            }
            s.push_str(e);
        }
        s.push_str(" to an earlier message");
        s
    }
}

/// Text fallback for a correction.
pub fn correction_text(body: &str) -> String {
    format!("[correction] {body}")
}

/// A byte count for people: `512 bytes`, `1.5 KB`, `12 MB`.
pub fn human_size(n: u64) -> String {
    const UNITS: [&str; 4] = ["KB", "MB", "GB", "TB"];
    if n < 1024 {
        return format!("{n} bytes");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = UNITS[0];
    for u in UNITS.iter().skip(1) {
        if v < 1024.0 {
            break;
        }
        v /= 1024.0;
        unit = u;
    }
    if v < 10.0 {
        format!("{v:.1} {unit}")
    } else {
        format!("{v:.0} {unit}")
    }
}

/// Text fallback for a file link: the accompanying text, then the file name, its size when
/// known, the description and the link.
pub fn file_text(f: &FileLink<'_>) -> String {
    let mut s = String::new();
    if let Some(t) = &f.text {
        s.push_str(t);
        s.push('\n');
    }
    let _ = write!(s, "📎 {}", f.name);
    if let Some(n) = f.size {
        let _ = write!(s, " ({})", human_size(n));
    }
    if let Some(d) = &f.desc {
        let _ = write!(s, " — {d}");
    }
    let _ = write!(s, "\n{}", f.url);
    s
}

/// Text fallback for a group-chat invitation.
pub fn invite_text(g: &GroupInvite<'_>) -> String {
    let mut s = format!("invites you to the group chat {}", g.room);
    if let Some(r) = &g.reason {
        let _ = write!(s, ": {r}");
    }
    let _ = write!(s, " (xmpp:{}?join)", g.room);
    s
}

/// The file name of a URL: its last path segment, percent-decoded; `file` when there is none.
pub fn file_name(url: &str) -> Cow<'_, str> {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let after_host = path.split_once("://").map_or(path, |(_, rest)| rest);
    let seg = after_host
        .split_once('/')
        .map(|(_, p)| p.rsplit('/').next().unwrap_or(""))
        .unwrap_or("");
    if seg.is_empty() {
        Cow::Borrowed("file")
    } else {
        crate::sip::uri::percent_decode(seg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_names() {
        assert_eq!(human_size(512), "512 bytes");
        assert_eq!(human_size(1536), "1.5 KB");
        assert_eq!(human_size(12 * 1024 * 1024), "12 MB");
        assert_eq!(
            file_name("https://up.example/abc/holiday%20photo.jpg?x=1"),
            "holiday photo.jpg"
        );
        assert_eq!(file_name("https://up.example/"), "file");
    }
}
