//! SIP over UDP (RFC 3261 §18.1.2, §18.2): one task per bound socket. Datagrams are received
//! into an MTU-bounded buffer; one that fills it was cut by the kernel and is answered
//! `513 Message Too Large` (§18.1.1: larger messages belong on a stream). Requests go through
//! the server transactions of [`super::sip_conn::Transactions`] (retransmissions absorbed or
//! answered again from the stored response until Timer J), responses go back to the source
//! address (§18.2.2 with `rport`, RFC 3581). Requests parley sends over UDP are retransmitted
//! by Timer E until a final response or Timer F.
//!
//! No certificate authenticates a UDP peer: its requests reach the router with an empty
//! certificate chain, so only what needs no verified domain (OPTIONS, 483, 481…) is served.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tracing::{debug, warn};

use super::dialog_order::DialogOrder;
use super::sip_conn::{PeerCerts, RequestFate, SipFinal, Transactions, handle_in_turn};
use crate::metrics::{self, Protocol};
use crate::routing::Gateway;
use crate::sip::framing;
use crate::sip::transaction::{Reliability, TransactionKey};
use crate::sip::{SipError, SipMessage, reject};

/// Default path MTU for SIP over UDP (RFC 3261 §18.1.1 assumes 1500 bytes).
pub const DEFAULT_MTU: usize = 1500;

/// §18.1.1: a request within 200 bytes of the MTU must not be sent over UDP.
pub fn fits_udp_request(len: usize, mtu: usize) -> bool {
    len + 200 <= mtu
}

/// Something to send on the UDP socket.
#[derive(Debug)]
pub enum UdpOut {
    /// A response the router produced for a request from `to`.
    Response {
        /// Serialized response.
        bytes: Bytes,
        /// Status code.
        code: u16,
        /// The server transaction.
        key: Option<TransactionKey>,
        /// The request's source.
        to: SocketAddr,
    },
    /// A request to `to`; its final response goes to `respond`.
    Request {
        /// Serialized request.
        bytes: Bytes,
        /// Its top Via branch.
        branch: String,
        /// Destination.
        to: SocketAddr,
        /// Where the final response goes.
        respond: oneshot::Sender<SipFinal>,
    },
    /// A request that opens no transaction (the ACK for a 2xx, RFC 3261 §13.2.2.4), kept by
    /// its INVITE transaction to answer retransmitted 2xx.
    Stateless {
        /// Serialized request.
        bytes: Bytes,
        /// Destination.
        to: SocketAddr,
    },
}

/// Source addresses tracked as UDP peers in `parley_connections` at once.
const MAX_FLOWS: usize = 4096;
/// A UDP peer silent this long no longer counts (64·T1, the life of its transactions).
const FLOW_IDLE: Duration = Duration::from_secs(32);
/// How often idle UDP peers are dropped from the count.
const FLOW_SWEEP: Duration = Duration::from_secs(5);

/// UDP peers by source address: each one that sent a request within [`FLOW_IDLE`] is one
/// inbound "connection" in `parley_connections`, labelled by the domain its From claims.
#[derive(Default)]
struct Flows(HashMap<SocketAddr, (metrics::ConnectionGuard, Instant)>);

impl Flows {
    /// A request from `from` claiming `domain`.
    fn seen(&mut self, from: SocketAddr, domain: &str, now: Instant) {
        if let Some((_, last)) = self.0.get_mut(&from) {
            *last = now;
            return;
        }
        if self.0.len() >= MAX_FLOWS {
            return;
        }
        let mut counted = metrics::connection_unnamed(Protocol::Sip, true);
        counted.claim(domain);
        self.0.insert(from, (counted, now));
    }

    /// Forget peers silent for [`FLOW_IDLE`].
    fn sweep(&mut self, now: Instant) {
        self.0
            .retain(|_, (_, last)| now.saturating_duration_since(*last) < FLOW_IDLE);
    }
}

/// Serve one UDP socket until shutdown.
pub async fn serve(
    socket: UdpSocket,
    gw: Arc<Gateway>,
    mut rx: mpsc::Receiver<UdpOut>,
    tx: mpsc::Sender<UdpOut>,
    mtu: usize,
) {
    let limits = gw.sip_limits();
    let cancel = gw.shutdown_token();
    let mut transactions = Transactions::new(Reliability::Unreliable, gw.sip_timers());
    let no_certs: PeerCerts = Arc::new(Vec::new());
    // One byte more than the MTU: a datagram that fills it was larger than the MTU.
    let mut buf = vec![0u8; mtu + 1];
    let mut wbuf = BytesMut::with_capacity(mtu);
    let mut flows = Flows::default();
    // In-dialog requests from every source on this socket, handled in arrival order.
    let mut order = DialogOrder::default();
    let mut sweep = tokio::time::interval(FLOW_SWEEP);
    loop {
        let earliest = transactions.deadline();
        tokio::select! {
            r = socket.recv_from(&mut buf) => {
                let (n, from) = match r {
                    Ok(x) => x,
                    Err(e) => {
                        debug!(error = %e, "UDP receive failed");
                        continue;
                    }
                };
                let Some(data) = buf.get(..n) else { continue };
                wbuf.clear();
                let mut to = from;
                if let Some(msg) = receive(data, n > mtu, from, &limits, &mut wbuf, &mut to, &mut transactions) {
                    flows.seen(from, &super::sip_conn::claimed_domain(&msg), Instant::now());
                    let key = TransactionKey::of(&msg);
                    let turn = order.turn(&msg);
                    let (gw, certs, tx) = (gw.clone(), no_certs.clone(), tx.clone());
                    gw.clone().tracker().spawn(async move {
                        if let Some((code, bytes)) = handle_in_turn(&gw, &certs, &msg, turn).await {
                            let _ = tx.send(UdpOut::Response { bytes, code, key, to: from }).await;
                        }
                    });
                }
                if !wbuf.is_empty() {
                    send(&socket, &wbuf, to).await;
                }
            }
            item = rx.recv() => match item {
                Some(UdpOut::Response { bytes, code, key, to }) => {
                    if let Some(out) = transactions.on_local_response(key.as_ref(), code, bytes) {
                        send(&socket, &out, to).await;
                    }
                }
                Some(UdpOut::Request { bytes, branch, to, respond }) => {
                    if !fits_udp_request(bytes.len(), mtu) {
                        let _ = respond.send(SipFinal::local(513, "Message Too Large"));
                        continue;
                    }
                    send(&socket, &bytes, to).await;
                    transactions.sent(branch, bytes, respond, Some(to));
                }
                Some(UdpOut::Stateless { bytes, to }) => {
                    send(&socket, &bytes, to).await;
                    transactions.ack_sent(&bytes);
                }
                None => break,
            },
            () = sleep_until_opt(earliest) => {
                for (bytes, to) in transactions.on_timers(Instant::now()) {
                    if let Some(to) = to {
                        send(&socket, &bytes, to).await;
                    }
                }
                for call_id in transactions.take_unacked() {
                    gw.sip_session_unacked(&call_id);
                }
            }
            _ = sweep.tick() => flows.sweep(Instant::now()),
            () = cancel.cancelled() => break,
        }
    }
    transactions.fail_all(503, "Shutting Down");
}

/// One datagram: a request that is new is returned for the router; anything to send at once
/// (a rejection, a repeated response, a 100 Trying, an ACK) is left in `out`, for `to`
/// (set to `from` by the caller; an ACK goes where its INVITE went).
fn receive(
    data: &[u8],
    truncated: bool,
    from: SocketAddr,
    limits: &crate::sip::SipLimits,
    out: &mut BytesMut,
    to: &mut SocketAddr,
    transactions: &mut Transactions,
) -> Option<SipMessage> {
    // RFC 5626 §4.4.1 keep-alives over UDP are STUN, not CRLF; a bare CRLF is ignored.
    if data.iter().all(|b| matches!(b, b'\r' | b'\n')) {
        return None;
    }
    if truncated {
        reject_datagram(out, data, SipError::HeadTooLarge);
        return None;
    }
    let head = match framing::frame_datagram_head(data, limits) {
        Ok(head) => head,
        Err(e) => {
            reject_datagram(out, data, e);
            return None;
        }
    };
    let raw = Bytes::copy_from_slice(data.get(..head.len())?);
    let msg = match SipMessage::from_head(raw.clone(), head, limits) {
        Ok(m) => m,
        Err(e) => {
            reject_datagram(out, &raw, e);
            return None;
        }
    };
    if msg.status().is_some() {
        // §17.1.1.3: the ACK of a failure goes to the address, port and transport the
        // INVITE went to, wherever the response came from.
        if let Some((ack, dest)) = transactions.on_response(&msg) {
            out.extend_from_slice(&ack);
            *to = dest.unwrap_or(from);
        }
        return None;
    }
    match transactions.on_request(&msg, TransactionKey::of(&msg).as_ref(), Some(from)) {
        RequestFate::New => Some(msg),
        RequestFate::NewWith(trying) => {
            out.extend_from_slice(&trying);
            Some(msg)
        }
        RequestFate::Absorb => None,
        RequestFate::Repeat(bytes) => {
            out.extend_from_slice(&bytes);
            None
        }
    }
}

fn reject_datagram(out: &mut BytesMut, raw: &[u8], e: SipError) {
    metrics::parse_error(Protocol::Sip, (&e).into());
    let answered = reject::write_rejection(out, raw, e);
    warn!(error = %e, answered, "unusable SIP datagram");
}

async fn send(socket: &UdpSocket, bytes: &[u8], to: SocketAddr) {
    if let Err(e) = socket.send_to(bytes, to).await {
        debug!(error = %e, peer.addr = %to, "UDP send failed");
    }
}

async fn sleep_until_opt(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::transaction::Timers;

    const REQ: &str = "OPTIONS sip:gw@xmpp.test SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKu1\r\nMax-Forwards: 70\r\nFrom: <sip:a@sip.test>;tag=1\r\nTo: <sip:gw@xmpp.test>\r\nCall-ID: u1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";

    const PEER: SocketAddr =
        SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 5070);

    #[test]
    fn udp_request_size_rule() {
        assert!(fits_udp_request(1300, 1500));
        assert!(!fits_udp_request(1301, 1500));
    }

    #[tokio::test(start_paused = true)]
    async fn retransmissions_absorbed_then_answered_again() {
        let limits = crate::sip::SipLimits::default();
        let mut t = Transactions::new(Reliability::Unreliable, Timers::RFC3261);
        let mut out = BytesMut::new();
        let mut to = PEER;
        let msg = receive(
            REQ.as_bytes(),
            false,
            PEER,
            &limits,
            &mut out,
            &mut to,
            &mut t,
        )
        .expect("new");
        assert!(out.is_empty());
        // While the router works: absorbed.
        assert!(
            receive(
                REQ.as_bytes(),
                false,
                PEER,
                &limits,
                &mut out,
                &mut to,
                &mut t
            )
            .is_none()
        );
        assert!(out.is_empty());
        let key = TransactionKey::of(&msg);
        let resp = Bytes::from_static(b"SIP/2.0 200 OK\r\n\r\n");
        let sent = t.on_local_response(key.as_ref(), 200, resp.clone());
        assert_eq!(sent.as_ref(), Some(&resp));
        // After: the stored final goes out again, the router is not asked.
        assert!(
            receive(
                REQ.as_bytes(),
                false,
                PEER,
                &limits,
                &mut out,
                &mut to,
                &mut t
            )
            .is_none()
        );
        assert_eq!(&out[..], &resp[..]);
        // Timer J (64·T1) ends the transaction: the same branch is new again.
        tokio::time::advance(Timers::RFC3261.timeout()).await;
        let _ = t.on_timers(Instant::now());
        out.clear();
        assert!(
            receive(
                REQ.as_bytes(),
                false,
                PEER,
                &limits,
                &mut out,
                &mut to,
                &mut t
            )
            .is_some()
        );
    }

    #[test]
    fn truncated_datagram_is_answered_513() {
        let limits = crate::sip::SipLimits::default();
        let mut t = Transactions::new(Reliability::Unreliable, Timers::RFC3261);
        let mut out = BytesMut::new();
        let mut to = PEER;
        assert!(
            receive(
                REQ.as_bytes(),
                true,
                PEER,
                &limits,
                &mut out,
                &mut to,
                &mut t
            )
            .is_none()
        );
        assert!(out.starts_with(b"SIP/2.0 513 "), "{out:?}");
        assert!(
            std::str::from_utf8(&out)
                .unwrap()
                .contains("branch=z9hG4bKu1")
        );
    }

    #[tokio::test(start_paused = true)]
    async fn client_requests_are_retransmitted_then_time_out() {
        let mut t = Transactions::new(Reliability::Unreliable, Timers::RFC3261);
        let (respond, mut rx) = oneshot::channel();
        let to: SocketAddr = "127.0.0.1:5060".parse().unwrap();
        t.sent(
            "z9hG4bKc".into(),
            Bytes::from_static(b"REQ"),
            respond,
            Some(to),
        );
        let mut resent = 0;
        while let Some(d) = t.deadline() {
            tokio::time::sleep_until(d).await;
            resent += t.on_timers(Instant::now()).len();
        }
        assert_eq!(resent, 10);
        assert_eq!(rx.try_recv().unwrap().code, 408);
    }
}
