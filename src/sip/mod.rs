//! SIP codec (RFC 3261): bytes ⇄ borrowed SIP messages. Never touches a socket.
//!
//! Data flow: [`framing`] finds message boundaries in a stream or datagram (§18.3, RFC 5626
//! keep-alives), [`message::SipMessage`] indexes the start line and header slices of one message
//! (tier 1, §7) and types other headers on first access (tier 2, [`header`], [`typed`]), [`uri`]
//! parses sip/sips/tel URIs (§19.1), [`encode`] writes requests and responses into a reused
//! buffer (§8.2.6) or re-emits a message with edits. Every codec failure is a [`SipError`]
//! with the one status code a server answers it with.

pub mod body;
mod cached;
pub mod decode;
pub mod dialog;
pub mod encode;
pub mod error;
pub mod framing;
#[doc(hidden)]
pub mod fuzzing;
mod head;
pub mod header;
pub mod invite;
pub mod message;
mod names;
pub mod reject;
mod scan;
pub mod sdp;
pub mod transaction;
pub mod typed;
pub mod uri;

#[cfg(test)]
mod rfc4475_tests;

pub use error::SipError;
pub use framing::{Frame, SipLimits, StreamItem};
pub use head::Head;
pub use header::HeaderName;
pub use message::SipMessage;
