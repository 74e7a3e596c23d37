//! Connection-count bounds for the inbound listeners (SIP and XMPP s2s): at most so many
//! connections open at once per protocol, and at most so many from one source address. A
//! connection over a bound is closed at once (XMPP on the STARTTLS port first hears a stream
//! error), and counted.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, LazyLock, Mutex};

use bytes::BytesMut;
use tokio::net::TcpStream;
use tracing::info;

use crate::config::ConnectionsConfig;
use crate::metrics::{self, Protocol};
use crate::xmpp::StreamCondition;
use crate::xmpp::encode;

/// How a refused connection is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Closed without a byte (SIP; XMPP direct TLS, where nothing can be said before a
    /// handshake parley will not spend on it).
    Close,
    /// An XMPP stream header and a stream error, then closed (the STARTTLS port).
    XmppStreamError,
}

/// Which bound a connection is over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    /// The protocol's total.
    Total,
    /// The source address's share.
    PerIp,
}

impl Bound {
    fn as_str(self) -> &'static str {
        match self {
            Bound::Total => "total",
            Bound::PerIp => "per_ip",
        }
    }
}

/// Open inbound connections of one protocol: the total and the count per source address.
#[derive(Debug, Default)]
pub struct Limiter {
    open: Mutex<Counts>,
}

#[derive(Debug, Default)]
struct Counts {
    total: usize,
    per_ip: HashMap<IpAddr, usize>,
}

/// An admitted connection's place; it is given back when dropped.
#[derive(Debug)]
pub struct Slot {
    limiter: Arc<Limiter>,
    ip: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut c = self.limiter.open.lock().unwrap_or_else(|p| p.into_inner());
        c.total = c.total.saturating_sub(1);
        if let Some(n) = c.per_ip.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                c.per_ip.remove(&self.ip);
            }
        }
    }
}

impl Limiter {
    /// Take a place for a connection from `ip`, or say which bound it is over.
    pub fn admit(
        self: &Arc<Self>,
        ip: IpAddr,
        max_total: usize,
        max_per_ip: usize,
    ) -> Result<Slot, Bound> {
        let mut c = self.open.lock().unwrap_or_else(|p| p.into_inner());
        if c.total >= max_total {
            return Err(Bound::Total);
        }
        let n = c.per_ip.entry(ip).or_insert(0);
        if *n >= max_per_ip {
            return Err(Bound::PerIp);
        }
        *n += 1;
        c.total += 1;
        Ok(Slot {
            limiter: self.clone(),
            ip,
        })
    }

    /// Connections open now (total).
    pub fn open(&self) -> usize {
        self.open.lock().unwrap_or_else(|p| p.into_inner()).total
    }
}

static SIP: LazyLock<Arc<Limiter>> = LazyLock::new(Arc::default);
static XMPP: LazyLock<Arc<Limiter>> = LazyLock::new(Arc::default);

/// Admit a connection just accepted from `ip` on a `protocol` listener under the bounds of
/// `config`; over a bound it is refused (told per `refusal`, closed by the caller dropping
/// it), counted and logged, and `None` is returned.
pub fn admit(
    config: &ConnectionsConfig,
    protocol: Protocol,
    ip: IpAddr,
    tcp: &TcpStream,
    refusal: Refusal,
) -> Option<Slot> {
    let (limiter, max_total) = match protocol {
        Protocol::Sip => (&*SIP, config.sip_max_inbound),
        Protocol::Xmpp => (&*XMPP, config.xmpp_max_inbound),
    };
    let bound = match limiter.admit(ip, max_total, config.max_per_ip) {
        Ok(slot) => return Some(slot),
        Err(bound) => bound,
    };
    metrics::connection_refused(protocol, bound.as_str());
    info!(peer.ip = %ip, protocol = protocol.as_str(), bound = bound.as_str(), "inbound connection refused: too many connections");
    if refusal == Refusal::XmppStreamError {
        let mut out = BytesMut::with_capacity(512);
        out.extend_from_slice(b"<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>");
        let (condition, text) = match bound {
            Bound::Total => (StreamCondition::ResourceConstraint, "too many connections"),
            Bound::PerIp => (
                StreamCondition::PolicyViolation,
                "too many connections from your address",
            ),
        };
        encode::write_stream_error(&mut out, condition, Some(text));
        encode::write_stream_close(&mut out);
        // A fresh socket's send buffer takes this at once; never wait on a flooding peer.
        let _ = tcp.try_write(&out);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_total_and_per_address_and_gives_places_back() {
        let l = Arc::new(Limiter::default());
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let a1 = l.admit(a, 3, 2).unwrap();
        let a2 = l.admit(a, 3, 2).unwrap();
        assert_eq!(l.admit(a, 3, 2).unwrap_err(), Bound::PerIp);
        let b1 = l.admit(b, 3, 2).unwrap();
        assert_eq!(l.admit(b, 3, 2).unwrap_err(), Bound::Total);
        assert_eq!(l.open(), 3);
        drop(a1);
        assert_eq!(l.open(), 2);
        let a3 = l.admit(a, 3, 2).expect("a place was given back");
        drop((a2, a3, b1));
        assert_eq!(l.open(), 0);
        assert!(
            l.open.lock().unwrap().per_ip.is_empty(),
            "no entry left behind"
        );
    }
}
