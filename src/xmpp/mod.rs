//! XMPP codec (RFC 6120, RFC 6121 and the XEPs parley maps): XML stream ⇄ stanzas. Never
//! touches a socket.
//!
//! Data flow: [`framing::Framer`] splits an incoming stream into the stream header and depth-1
//! elements (each a `Bytes` slice, no copy); [`stanza::parse_element`] gives a typed, borrowed
//! view of one element; [`encode`] writes stanzas and stream elements into a reused buffer.

mod children;
pub mod condition;
pub mod decode;
pub mod encode;
mod encode_ext;
pub mod error;
pub mod framing;
mod header;
mod iq;
pub mod jid;
mod marked;
mod message;
pub mod ns;
mod precis;
mod presence;
pub mod roundtrip;
mod scope;
pub mod stanza;
mod xml;

#[cfg(test)]
mod tests;

pub use condition::{ErrorType, StanzaCondition, StreamCondition};
pub use error::XmppError;
pub use framing::{Frame, Framer, MarkedElement, StreamHeader, StreamNs, XmppLimits};
pub use jid::Jid;
