//! Pure translations between the wire views and the canonical model (RFC 7247, RFC 7572,
//! RFC 8048 and the XEPs of DESIGN). No sockets, no policy, no clocks.
//!
//! Two paths:
//! - the plain fast path, [`sip::message_from_sip_in`] / [`xmpp::write_message`] and
//!   [`xmpp::message_from_xmpp`] / [`sip::write_message`]: a text/plain message, borrowed
//!   from the input and written straight into the output buffer, no allocation;
//! - the event path, [`sip_in::events_from_sip`] / [`xmpp_in::events_from_xmpp`] into
//!   [`crate::model::Event`]s, and [`sip_out::write_sip_event`] /
//!   [`xmpp_out::write_xmpp_event`] (or the per-event `write_sip_*` / `write_xmpp_*`) out.
//!
//! Supporting tables: [`address`] (RFC 7247 §5), [`presence`] (RFC 8048 / RFC 4480
//! normalisation), [`html`] (XEP-0071 profile), [`ext`] (CPIM extension headers and text
//! fallbacks), [`receipts`] (the IMDN ⇄ XEP-0184/0333 id map), and both RFC 7247 §8 error
//! tables in [`sip`] ([`sip::status_to_condition`], [`sip::condition_to_status`]).

pub mod address;
pub mod ext;
pub mod html;
pub mod presence;
pub mod receipts;
pub mod sip;
pub mod sip_in;
pub mod sip_out;
pub(crate) mod sip_wire;
pub mod xmpp;
pub mod xmpp_in;
pub mod xmpp_out;

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
    /// A SUBSCRIBE or NOTIFY for an event package other than `presence` (RFC 6665 §8.3).
    BadEvent,
    /// The request or stanza has no mapping to the other side (a SIP method, an XMPP
    /// message type or payload parley does not interwork).
    NotInterworked,
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
            BridgeError::BadEvent => (489, "Bad Event"),
            BridgeError::NotInterworked => (501, "Not Implemented"),
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
            BridgeError::BadEvent | BridgeError::NotInterworked => C::FeatureNotImplemented,
        }
    }
}

impl fmt::Display for BridgeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.sip_status().1)
    }
}

impl std::error::Error for BridgeError {}

#[cfg(test)]
mod golden_tests;

#[cfg(test)]
mod roundtrip_tests;
