//! Connection tasks: the only code that does I/O. Each reads bytes, frames them with a codec,
//! hands complete messages to [`crate::routing`], and drains a bounded outbound queue.

pub mod backlog;
pub mod dialback;
pub(crate) mod dialog_order;
pub mod error;
pub mod pair_key;
pub mod s2s_in;
pub mod s2s_out;
pub mod sip_conn;
pub mod sip_pool;
mod sip_pool_udp;
pub mod sip_udp;
pub mod xml_stream;
pub mod xmpp_pool;

pub use error::ConnError;
