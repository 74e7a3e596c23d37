//! isComposing documents (RFC 3994 §4): `application/im-iscomposing+xml`.

use std::fmt::Write as _;

use super::{esc, leaf_text, walk};
use crate::sip::SipError;

/// Media type of isComposing documents.
pub const CONTENT_TYPE: &str = "application/im-iscomposing+xml";
const NS: &str = "urn:ietf:params:xml:ns:im-iscomposing";

/// Composing state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ComposingState {
    /// The user is composing.
    Active,
    /// The user stopped composing.
    Idle,
}

/// An isComposing indication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IsComposing {
    /// `<state>`.
    pub state: ComposingState,
    /// `<lastactive>` (date-time text), if any.
    pub last_active: Option<String>,
    /// `<contenttype>` being composed, if any.
    pub content_type: Option<String>,
    /// `<refresh>` seconds (only with `active`).
    pub refresh: Option<u32>,
}

impl IsComposing {
    /// Parse a document.
    pub fn parse(body: &[u8]) -> Result<IsComposing, SipError> {
        let mut state = None;
        let mut doc = IsComposing {
            state: ComposingState::Idle,
            last_active: None,
            content_type: None,
            refresh: None,
        };
        walk(body, |r, e, depth, empty| {
            let name = e.local_name();
            match (depth, name.as_ref()) {
                (1, b"isComposing") => Ok(false),
                (1, _) => Err(SipError::BadBody),
                (2, _) if empty => Ok(false),
                (2, b"state") => {
                    state = Some(match leaf_text(r, e)?.as_str() {
                        "active" => ComposingState::Active,
                        "idle" => ComposingState::Idle,
                        _ => return Err(SipError::BadBody),
                    });
                    Ok(true)
                }
                (2, b"lastactive") => {
                    doc.last_active = Some(leaf_text(r, e)?);
                    Ok(true)
                }
                (2, b"contenttype") => {
                    doc.content_type = Some(leaf_text(r, e)?);
                    Ok(true)
                }
                (2, b"refresh") => {
                    doc.refresh = Some(leaf_text(r, e)?.parse().map_err(|_| SipError::BadBody)?);
                    Ok(true)
                }
                _ => Ok(false),
            }
        })?;
        doc.state = state.ok_or(SipError::BadBody)?;
        Ok(doc)
    }

    /// Write the document.
    pub fn to_xml(&self) -> String {
        let mut s = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<isComposing xmlns=\"{NS}\">\n  <state>{}</state>\n",
            match self.state {
                ComposingState::Active => "active",
                ComposingState::Idle => "idle",
            }
        );
        if let Some(v) = &self.last_active {
            let _ = writeln!(s, "  <lastactive>{}</lastactive>", esc(v));
        }
        if let Some(v) = &self.content_type {
            let _ = writeln!(s, "  <contenttype>{}</contenttype>", esc(v));
        }
        if let Some(v) = self.refresh {
            let _ = writeln!(s, "  <refresh>{v}</refresh>");
        }
        s.push_str("</isComposing>\n");
        s
    }
}
