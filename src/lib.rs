//! Parley: a SIP SIMPLE ⇄ XMPP federation gateway (RFC 7247 and its companions).
//!
//! # Layout
//! In data-flow order: transport → codec → canonical model → policy/routing → codec → transport.
//! - [`sip`]: SIP codec (RFC 3261): framing, borrowed message views, writer.
//! - [`xmpp`]: XMPP codec (RFC 6120/6121): stream framing, stanza views, JIDs, writer.

pub mod sip;
pub mod xmpp;
