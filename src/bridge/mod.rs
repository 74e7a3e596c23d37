//! Pure translations between the wire views and the canonical model (RFC 7247, RFC 7572):
//! [`sip`] for SIP ⇄ model, [`xmpp`] for XMPP ⇄ model. No sockets, no policy, no clocks.

pub mod address;
pub mod sip;
pub mod xmpp;

use std::fmt;

/// Why a message cannot be translated. Each variant is "refuse this message": the caller
/// answers with the side's error ([`BridgeError::sip_status`] or
/// [`BridgeError::xmpp_condition`]), the one place these errors meet the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BridgeError {
    /// A sender or recipient address is not `user@domain` of a supported scheme.
    BadAddress,
    /// `tel:` or another non-SIP URI scheme.
    UnsupportedScheme,
    /// The body's media type has no mapping yet.
    UnsupportedMediaType,
    /// The body is not valid UTF-8 (or names another charset).
    BadCharset,
    /// The message has no body to carry.
    EmptyBody,
    /// A required header or attribute is missing or malformed.
    Malformed,
}

impl BridgeError {
    /// The SIP final response for this refusal.
    pub fn sip_status(&self) -> (u16, &'static str) {
        match self {
            BridgeError::BadAddress => (400, "Bad Address"),
            BridgeError::UnsupportedScheme => (416, "Unsupported URI Scheme"),
            BridgeError::UnsupportedMediaType => (415, "Unsupported Media Type"),
            BridgeError::BadCharset => (415, "Unsupported Charset"),
            BridgeError::EmptyBody => (400, "Empty Message"),
            BridgeError::Malformed => (400, "Bad Request"),
        }
    }

    /// The XMPP stanza error condition for this refusal.
    pub fn xmpp_condition(&self) -> crate::model::ErrorCondition {
        use crate::model::ErrorCondition as C;
        match self {
            BridgeError::BadAddress => C::JidMalformed,
            BridgeError::UnsupportedScheme | BridgeError::Malformed | BridgeError::EmptyBody => {
                C::BadRequest
            }
            BridgeError::UnsupportedMediaType | BridgeError::BadCharset => C::NotAcceptable,
        }
    }
}

impl fmt::Display for BridgeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.sip_status().1)
    }
}

impl std::error::Error for BridgeError {}
