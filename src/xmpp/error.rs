//! XMPP codec errors and their one mapping to a stream error condition (RFC 6120 §4.9.3).

use std::fmt;

use super::StreamCondition;

/// Why the XML stream could not be read. Every variant is fatal for the stream: the connection
/// sends [`XmppError::stream_condition`] and closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XmppError {
    /// Malformed XML or invalid UTF-8.
    NotWellFormed,
    /// DTD, processing instruction, comment or entity reference (RFC 6120 §11.1).
    RestrictedXml,
    /// The stream or a stanza is in the wrong namespace.
    InvalidNamespace,
    /// A stanza exceeds the byte limit.
    StanzaTooLarge,
    /// Elements are nested deeper than the limit.
    TooDeep,
    /// An element has more attributes than the limit, or a name is too long.
    TooManyAttributes,
    /// The stream header is missing a required attribute or has a bad version.
    BadStreamHeader,
    /// The peer sent something the stream state does not allow.
    UnexpectedElement,
    /// A prefix is used that no enclosing element (nor the stream header) declares.
    BadNamespacePrefix,
    /// The XML declaration names an encoding other than UTF-8.
    UnsupportedEncoding,
    /// The stream header's `version` has a major version other than 1.
    UnsupportedVersion,
}

impl XmppError {
    /// The stream error condition sent to the peer for this error.
    pub fn stream_condition(&self) -> StreamCondition {
        match self {
            XmppError::NotWellFormed => StreamCondition::NotWellFormed,
            XmppError::RestrictedXml => StreamCondition::RestrictedXml,
            XmppError::InvalidNamespace => StreamCondition::InvalidNamespace,
            XmppError::StanzaTooLarge | XmppError::TooDeep | XmppError::TooManyAttributes => {
                StreamCondition::PolicyViolation
            }
            XmppError::BadStreamHeader => StreamCondition::BadFormat,
            XmppError::UnexpectedElement => StreamCondition::UnsupportedStanzaType,
            XmppError::BadNamespacePrefix => StreamCondition::BadNamespacePrefix,
            XmppError::UnsupportedEncoding => StreamCondition::UnsupportedEncoding,
            XmppError::UnsupportedVersion => StreamCondition::UnsupportedVersion,
        }
    }
}

impl fmt::Display for XmppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.stream_condition().as_str())
    }
}

impl std::error::Error for XmppError {}
