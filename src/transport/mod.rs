//! Transports: TLS contexts, listeners and outbound connects. Never looks inside payload bytes.

pub mod certgen;
pub mod conn_limit;
pub mod resolve;
pub mod sip_resolve;
pub mod tls;
