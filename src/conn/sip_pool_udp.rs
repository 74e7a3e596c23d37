//! SIP requests to peer domains configured with `transport = "udp"` (RFC 3261 §18.1.1), in
//! the order parley wrote them. Finding a domain's server (static next hop or RFC 3263 DNS)
//! is asynchronous, so one task per domain resolves and hands each request to the UDP socket
//! in turn: the ACK for a 2xx leaves before the in-dialog MESSAGE written after it, and two
//! MESSAGEs of one dialog leave in CSeq order (a UA answers a lower CSeq after a higher one
//! with 500, §12.2.2).

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};
use tracing::{Instrument, debug, info_span};

use super::sip_conn::SipFinal;
use super::sip_pool::{SipPool, retransport_via, targets};
use super::sip_udp::UdpOut;
use crate::routing::Gateway;
use crate::transport::sip_resolve::SipTransport;

/// Requests waiting for their domain's server to be resolved, per domain.
const ROUTE_DEPTH: usize = 4096;

/// A request to a UDP peer domain, before its server is known.
#[derive(Debug)]
pub(crate) enum UdpSend {
    /// A request opening a client transaction; its final response goes to `respond`.
    Request {
        bytes: Bytes,
        branch: String,
        respond: oneshot::Sender<SipFinal>,
    },
    /// A request that opens no transaction (the ACK for a 2xx, §13.2.2.4).
    Stateless { bytes: Bytes },
}

impl SipPool {
    /// The first bound UDP socket, for requests sent over UDP.
    pub fn attach_udp(&self, tx: mpsc::Sender<UdpOut>) {
        let _ = self.udp.set(tx);
    }

    /// Put a request on the UDP socket for `to` (retransmitted by Timer E until a final
    /// response or Timer F); a request too large for the MTU is answered 513 locally.
    fn send_udp(
        &self,
        to: SocketAddr,
        bytes: Bytes,
        branch: String,
        respond: oneshot::Sender<SipFinal>,
    ) {
        let Some(udp) = self.udp.get() else {
            let _ = respond.send(SipFinal::local(503, "No UDP Transport"));
            return;
        };
        let item = UdpOut::Request {
            bytes,
            branch,
            to,
            respond,
        };
        if let Err(e) = udp.try_send(item) {
            let item = match e {
                mpsc::error::TrySendError::Full(i) | mpsc::error::TrySendError::Closed(i) => i,
            };
            if let UdpOut::Request { respond, .. } = item {
                let _ = respond.send(SipFinal::local(503, "Queue Full"));
            }
        }
    }

    /// A request to a UDP domain, sent after everything written to that domain before it.
    pub(super) fn request_via_udp(
        &self,
        gw: &Arc<Gateway>,
        remote: &str,
        bytes: Bytes,
        branch: String,
    ) -> oneshot::Receiver<SipFinal> {
        let (respond, rx) = oneshot::channel();
        let item = UdpSend::Request {
            bytes,
            branch,
            respond,
        };
        if let Err(e) = self.udp_route(gw, remote).try_send(item) {
            let (mpsc::error::TrySendError::Full(item) | mpsc::error::TrySendError::Closed(item)) =
                e;
            if let UdpSend::Request { respond, .. } = item {
                let _ = respond.send(SipFinal::local(503, "Queue Full"));
            }
        }
        rx
    }

    /// [`SipPool::send_stateless`] to a UDP domain, in order with its requests.
    pub(super) fn send_stateless_udp(&self, gw: &Arc<Gateway>, remote: &str, bytes: Bytes) {
        if self
            .udp_route(gw, remote)
            .try_send(UdpSend::Stateless { bytes })
            .is_err()
        {
            debug!("stateless SIP message dropped: UDP queue full or closed");
        }
    }

    fn udp_route(&self, gw: &Arc<Gateway>, remote: &str) -> mpsc::Sender<UdpSend> {
        self.udp_routes
            .entry(remote.to_ascii_lowercase())
            .or_insert_with(|| {
                let (tx, rx) = mpsc::channel(ROUTE_DEPTH);
                let span = info_span!("sip_udp_out", peer.domain = %remote);
                gw.tracker()
                    .spawn(route(gw.clone(), remote.to_owned(), rx).instrument(span));
                tx
            })
            .clone()
    }
}

/// Resolve `remote`'s server for each request in turn and put it on the UDP socket; at
/// shutdown, requests still waiting are answered 503.
async fn route(gw: Arc<Gateway>, remote: String, mut rx: mpsc::Receiver<UdpSend>) {
    let cancel = gw.shutdown_token();
    let via_host = gw.config().sip.listen_udp.first().map(|a| a.to_string());
    loop {
        let item = tokio::select! {
            item = rx.recv() => item,
            () = cancel.cancelled() => None,
        };
        let Some(item) = item else { break };
        let to = tokio::select! {
            to = udp_server(&gw, &remote) => to,
            () = cancel.cancelled() => {
                refuse(item, 503, "Shutting Down");
                break;
            }
        };
        let Some(to) = to else {
            refuse(item, 502, "Bad Gateway");
            continue;
        };
        let pool = gw.sip_out_pool();
        match item {
            UdpSend::Request {
                bytes,
                branch,
                respond,
            } => {
                let bytes = retransport_via(&bytes, "UDP", via_host.as_deref());
                pool.send_udp(to, bytes, branch, respond);
            }
            UdpSend::Stateless { bytes } => {
                let bytes = retransport_via(&bytes, "UDP", via_host.as_deref());
                let sent = pool
                    .udp
                    .get()
                    .is_some_and(|udp| udp.try_send(UdpOut::Stateless { bytes, to }).is_ok());
                if !sent {
                    debug!("stateless SIP message dropped: UDP queue full or closed");
                }
            }
        }
    }
    rx.close();
    while let Ok(item) = rx.try_recv() {
        refuse(item, 503, "Shutting Down");
    }
}

/// Answer a request that cannot be sent locally; a stateless one is only logged.
fn refuse(item: UdpSend, code: u16, reason: &'static str) {
    match item {
        UdpSend::Request { respond, .. } => {
            let _ = respond.send(SipFinal::local(code, reason));
        }
        UdpSend::Stateless { .. } => debug!(code, "stateless SIP message dropped: {reason}"),
    }
}

/// The first address of `remote`'s UDP servers.
async fn udp_server(gw: &Gateway, remote: &str) -> Option<SocketAddr> {
    for t in targets(gw, remote, SipTransport::Udp).await {
        let target = crate::transport::resolve::Target {
            host: t.host.clone(),
            port: t.port,
            direct_tls: false,
        };
        if let Some(a) = gw.resolver().addresses(&target).await.into_iter().next() {
            return Some(a);
        }
    }
    None
}
