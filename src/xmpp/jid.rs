//! JIDs (RFC 7622): a validated newtype over one `String` with offsets, and XEP-0106 escaping.

use std::fmt;

/// Why a string is not a valid JID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JidError {
    /// Empty domainpart, or an empty localpart/resourcepart around a separator.
    Empty,
    /// A part is longer than 1023 bytes.
    TooLong,
    /// A character not allowed in that part.
    BadCharacter,
}

impl fmt::Display for JidError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            JidError::Empty => "empty JID part",
            JidError::TooLong => "JID part too long",
            JidError::BadCharacter => "character not allowed in JID",
        })
    }
}

impl std::error::Error for JidError {}

/// A normalised JID: `[local@]domain[/resource]`, localpart case-folded, domain lower-cased.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Jid {
    text: String,
}

impl Jid {
    /// Parse and normalise.
    pub fn parse(s: &str) -> Result<Jid, JidError> {
        let _ = s;
        todo!("xmpp::jid::Jid::parse")
    }

    /// Localpart, if any.
    pub fn local(&self) -> Option<&str> {
        todo!("xmpp::jid::Jid::local")
    }

    /// Domainpart.
    pub fn domain(&self) -> &str {
        todo!("xmpp::jid::Jid::domain")
    }

    /// Resourcepart, if any.
    pub fn resource(&self) -> Option<&str> {
        todo!("xmpp::jid::Jid::resource")
    }

    /// The whole JID as text.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for Jid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// XEP-0106: escape a string for use as a localpart (`\20 \22 \26 \27 \2f \3a \3c \3e \40 \5c`).
pub fn escape_local(s: &str) -> std::borrow::Cow<'_, str> {
    let _ = s;
    todo!("xmpp::jid::escape_local")
}

/// XEP-0106: undo [`escape_local`].
pub fn unescape_local(s: &str) -> std::borrow::Cow<'_, str> {
    let _ = s;
    todo!("xmpp::jid::unescape_local")
}
