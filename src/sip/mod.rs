//! SIP codec (RFC 3261): bytes ⇄ borrowed SIP messages. Never touches a socket.
//!
//! Data flow: [`framing`] finds message boundaries in a stream or datagram, [`message::SipMessage`]
//! indexes the start line and header slices of one message (tier 1) and types other headers on
//! first access (tier 2), [`encode`] writes requests and responses into a reused buffer.

pub mod encode;
pub mod error;
pub mod framing;
pub mod header;
pub mod message;
pub mod uri;

pub use error::SipError;
pub use framing::{SipLimits, StreamItem};
pub use header::HeaderName;
pub use message::SipMessage;
