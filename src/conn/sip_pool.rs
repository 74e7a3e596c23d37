//! Outbound SIP connections, one per (local domain, remote domain), over TLS to the remote
//! domain's next hop, verifying its certificate (RFC 5922) and presenting the local domain's.
//! Created on demand, reused, re-established on the next request after a failure. While a
//! peer refuses or does not answer (it may be restarting), requests wait and the connection
//! is retried with exponential backoff and jitter; each request is answered 503 (refused) or
//! 408 (no answer) only when the transaction timeout (Timer F) passes first. A page-mode
//! MESSAGE is answered 503 at the first failure when the spool runs: the spool commits it
//! durably and retries it, where the pool would only hold it in memory.
//!
//! Each pair's queue is bounded. Requests relayed from an inbound XMPP stream wait for room
//! in it ([`SipPool::request_waiting`]), so a SIP peer that cannot keep up slows the XMPP
//! peer down through TCP; other requests are answered 503 at once when it is full.
//!
//! The servers are the static `next_hop`, else RFC 3263 DNS ([`crate::transport::sip_resolve`]).
//! A domain configured with `transport = "tcp"` gets a plain TCP connection; with
//! `transport = "udp"` requests go on parley's UDP socket (retransmitted by Timer E), those
//! too large for the MTU answered 513 locally (RFC 3261 §18.1.1). The top Via names the
//! transport actually used.
//!
//! Connection reuse (RFC 5923): parley's TLS requests carry `;alias` in their Via, so a peer
//! may send its own requests back over parley's connection. An inbound TLS connection whose
//! peer offers `;alias` and whose certificate covers the domain its request comes from
//! (RFC 5923 §8, checked by the connection) is registered here with
//! [`SipPool::offer_alias`]: requests from the local domain it was addressed to towards that
//! peer domain go over it while it lives, instead of a connection of parley's own.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use dashmap::DashMap;
use rustls_pki_types::ServerName;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tracing::{Instrument, debug, info, info_span, warn};

use super::ConnError;
use super::backlog::{Backlog, Backoff};
use super::pair_key::{StrPair, pair};
use super::sip_conn::{self, SipFinal, SipOut};
use super::sip_udp::UdpOut;
use crate::auth;
use crate::config::SipTransportMode;
use crate::metrics::{self, Protocol, TlsFailure};
use crate::routing::Gateway;
use crate::transport::sip_resolve::{self, SipTarget, SipTransport};

const QUEUE_DEPTH: usize = 4096;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Reconnect delays while a peer is unreachable (doubling, with jitter); requests wait for
/// the transaction timeout before they are answered 408/503.
const INITIAL_BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(4);

/// The pool of outbound SIP connections.
#[derive(Debug, Default)]
pub struct SipPool {
    queues: DashMap<(String, String), mpsc::Sender<SipOut>>,
    /// Inbound connections offered for reuse (RFC 5923), by (local, remote) domain.
    aliases: DashMap<(String, String), mpsc::Sender<SipOut>>,
    pub(super) udp: OnceLock<mpsc::Sender<UdpOut>>,
    /// Per UDP peer domain, the task that resolves its server and sends in order.
    pub(super) udp_routes: DashMap<String, mpsc::Sender<super::sip_pool_udp::UdpSend>>,
}

impl SipPool {
    /// The inbound connection writing through `tx` carried a request from `remote` (whose
    /// certificate the connection verified) to `local` with `;alias` in its Via: requests
    /// from `local` to `remote` reuse it (RFC 5923 §5). A live alias is kept.
    pub(crate) fn offer_alias(&self, local: &str, remote: &str, tx: &mpsc::Sender<SipOut>) {
        let key = (local.to_ascii_lowercase(), remote.to_ascii_lowercase());
        let mut fresh = false;
        self.aliases
            .entry(key)
            .and_modify(|a| {
                if a.is_closed() {
                    *a = tx.clone();
                    fresh = true;
                }
            })
            .or_insert_with(|| {
                fresh = true;
                tx.clone()
            });
        if fresh {
            info!(local.domain = %local, peer.domain = %remote, "reusing an inbound SIP connection (alias)");
        }
    }

    /// The connection writing through `tx` ended: it is no longer an alias.
    pub(crate) fn withdraw_alias(&self, tx: &mpsc::Sender<SipOut>) {
        self.aliases.retain(|_, a| !a.same_channel(tx));
    }

    /// Queue `item` on the alias connection from `local` to `remote`, if one lives; the item
    /// back when none takes it.
    fn via_alias(&self, local: &str, remote: &str, item: SipOut) -> Result<(), SipOut> {
        let Some(alias) = self.alias(local, remote) else {
            return Err(item);
        };
        alias.try_send(item).map_err(|e| match e {
            mpsc::error::TrySendError::Full(i) | mpsc::error::TrySendError::Closed(i) => i,
        })
    }

    /// The live alias connection from `local` to `remote`, if any.
    fn alias(&self, local: &str, remote: &str) -> Option<mpsc::Sender<SipOut>> {
        let (local, remote) = (lowercase(local), lowercase(remote));
        let alias = self.aliases.get(&pair(&local, &remote) as &dyn StrPair)?;
        Some(alias.clone())
    }

    /// Write a message from `local` to `remote` that opens no transaction (an ACK for a 2xx,
    /// RFC 3261 §13.2.2.4): nothing waits for an answer.
    pub fn send_stateless(&self, gw: &Arc<Gateway>, local: &str, remote: &str, bytes: Bytes) {
        let bytes = match transport_of(gw, remote) {
            SipTransportMode::Udp => return self.send_stateless_udp(gw, remote, bytes),
            SipTransportMode::Tcp => retransport_via(&bytes, "TCP", None),
            SipTransportMode::Tls => bytes,
        };
        let item = SipOut::Response {
            bytes,
            code: 0,
            key: None,
        };
        let Err(item) = self.via_alias(local, remote, item) else {
            return;
        };
        let tx = self.queue(gw, local, remote);
        if tx.try_send(item).is_err() {
            debug!("stateless SIP message dropped: queue full or closed");
        }
    }

    /// Requests waiting in each outbound stream's channel for its connection to write them,
    /// by remote domain (several local domains to one remote add up).
    pub fn queue_depths(&self) -> Vec<(String, usize)> {
        let mut depths: Vec<(String, usize)> = Vec::new();
        for q in self.queues.iter() {
            let waiting = q.value().max_capacity() - q.value().capacity();
            match depths.iter_mut().find(|(remote, _)| *remote == q.key().1) {
                Some((_, n)) => *n += waiting,
                None => depths.push((q.key().1.clone(), waiting)),
            }
        }
        depths
    }

    /// Set the per-peer SIP queue gauge from [`SipPool::queue_depths`].
    pub fn sample_queue_depths(&self) {
        for (remote, n) in self.queue_depths() {
            metrics::queue_depth(Protocol::Sip, &remote, n);
        }
    }

    fn queue(&self, gw: &Arc<Gateway>, local: &str, remote: &str) -> mpsc::Sender<SipOut> {
        if let Some(tx) = self.queues.get(&pair(local, remote) as &dyn StrPair) {
            return tx.clone();
        }
        let key = (local.to_owned(), remote.to_owned());
        self.queues
            .entry(key)
            .or_insert_with(|| {
                let (tx, rx) = mpsc::channel(QUEUE_DEPTH);
                let span = info_span!("sip_out", local.domain = %local, peer.domain = %remote);
                gw.tracker().spawn(
                    run(
                        gw.clone(),
                        local.to_owned(),
                        remote.to_owned(),
                        rx,
                        tx.clone(),
                    )
                    .instrument(span),
                );
                tx
            })
            .clone()
    }

    /// Send a request from `local` to `remote`; the returned receiver gets its final response
    /// (a local 408/502/503 when the peer cannot be reached, 503 at once when its queue is
    /// full).
    pub fn request(
        &self,
        gw: &Arc<Gateway>,
        local: &str,
        remote: &str,
        bytes: Bytes,
        branch: String,
    ) -> oneshot::Receiver<SipFinal> {
        match self.route(gw, local, remote, bytes, branch) {
            Routed::Taken(rx) => rx,
            Routed::Queue(tx, item, rx) => {
                if let Err(e) = tx.try_send(item) {
                    refuse_unqueued(e);
                }
                rx
            }
        }
    }

    /// [`SipPool::request`], but when the peer's queue is full the caller waits, at most
    /// `max`, for room instead of hearing 503 at once. An inbound stream relaying to SIP
    /// awaits this before it reads on, so a SIP peer that cannot keep up slows its senders
    /// down (TCP backpressure) in the order they sent.
    pub async fn request_waiting(
        &self,
        gw: &Arc<Gateway>,
        local: &str,
        remote: &str,
        bytes: Bytes,
        branch: String,
        max: Duration,
    ) -> oneshot::Receiver<SipFinal> {
        let (tx, item, rx) = match self.route(gw, local, remote, bytes, branch) {
            Routed::Taken(rx) => return rx,
            Routed::Queue(tx, item, rx) => (tx, item, rx),
        };
        let item = match tx.try_send(item) {
            Ok(()) => return rx,
            Err(mpsc::error::TrySendError::Full(item)) => item,
            Err(e) => {
                refuse_unqueued(e);
                return rx;
            }
        };
        metrics::backpressure(Protocol::Sip);
        if let Err(e) = tx.send_timeout(item, max).await {
            let (mpsc::error::SendTimeoutError::Timeout(item)
            | mpsc::error::SendTimeoutError::Closed(item)) = e;
            refuse_unqueued(mpsc::error::TrySendError::Full(item));
        }
        rx
    }

    /// Where a request goes: taken already (UDP, or an alias connection), or to be queued on
    /// the pair's channel.
    fn route(
        &self,
        gw: &Arc<Gateway>,
        local: &str,
        remote: &str,
        bytes: Bytes,
        branch: String,
    ) -> Routed {
        let bytes = match transport_of(gw, remote) {
            SipTransportMode::Udp => {
                return Routed::Taken(self.request_via_udp(gw, remote, bytes, branch));
            }
            SipTransportMode::Tcp => retransport_via(&bytes, "TCP", None),
            SipTransportMode::Tls => offer_alias_via(&bytes),
        };
        let (respond, rx) = oneshot::channel();
        let item = SipOut::Request {
            bytes,
            branch,
            respond,
        };
        match self.via_alias(local, remote, item) {
            Ok(()) => Routed::Taken(rx),
            Err(item) => Routed::Queue(self.queue(gw, local, remote), item, rx),
        }
    }
}

/// A request and where it goes (see [`SipPool::route`]).
enum Routed {
    Taken(oneshot::Receiver<SipFinal>),
    Queue(mpsc::Sender<SipOut>, SipOut, oneshot::Receiver<SipFinal>),
}

/// Answer a request its queue did not take: 503, locally.
fn refuse_unqueued(e: mpsc::error::TrySendError<SipOut>) {
    let (reason, item) = match e {
        mpsc::error::TrySendError::Full(i) => ("Queue Full", i),
        mpsc::error::TrySendError::Closed(i) => ("Shutting Down", i),
    };
    if let SipOut::Request { respond, .. } = item {
        let _ = respond.send(SipFinal::local(503, reason));
    }
}

/// `s` in lower case, borrowed when it is already.
fn lowercase(s: &str) -> std::borrow::Cow<'_, str> {
    if s.bytes().any(|b| b.is_ascii_uppercase()) {
        s.to_ascii_lowercase().into()
    } else {
        s.into()
    }
}

async fn run(
    gw: Arc<Gateway>,
    local: String,
    remote: String,
    mut rx: mpsc::Receiver<SipOut>,
    tx: mpsc::Sender<SipOut>,
) {
    let cancel = gw.shutdown_token();
    let lifetime = Duration::from_millis(gw.config().sip.transaction_timeout_ms);
    let mut backlog = Backlog::new(QUEUE_DEPTH);
    let mut backoff = Backoff::new(INITIAL_BACKOFF, MAX_BACKOFF);
    loop {
        if backlog.is_empty() {
            tokio::select! {
                item = rx.recv() => match item {
                    Some(i) => backlog.push(i, Instant::now() + lifetime),
                    None => return,
                },
                () = cancel.cancelled() => return,
            }
        }
        // A connection attempt can outlast a request (a peer that accepts TCP and never
        // answers): requests keep arriving and each is answered when its lifetime ends.
        let connecting = connect(&gw, &local, &remote);
        tokio::pin!(connecting);
        let connected = loop {
            backlog.expire(Instant::now(), |i| {
                fail(i, &SipFinal::local(408, "Request Timeout"))
            });
            let wake = backlog.earliest_deadline();
            tokio::select! {
                c = &mut connecting => break c,
                item = rx.recv(), if backlog.has_room() => match item {
                    Some(i) => backlog.push(i, Instant::now() + lifetime),
                    None => break Err(ConnError::Shutdown),
                },
                () = sip_conn::sleep_until_opt(wake) => {}
                () = cancel.cancelled() => break Err(ConnError::Shutdown),
            }
        };
        match connected {
            Ok(conn) => {
                backoff.reset();
                let mut first = Vec::with_capacity(backlog.len());
                backlog.drain(|i| first.push(i));
                let counted = metrics::connection(Protocol::Sip, false, &remote);
                let driven = match conn {
                    Connected::Tls(tls, certs) => {
                        info!("outbound SIP TLS connection established");
                        sip_conn::drive(tls, certs, gw.clone(), &mut rx, tx.clone(), first, counted)
                            .await
                    }
                    Connected::Tcp(tcp) => {
                        info!("outbound SIP TCP connection established");
                        let none: sip_conn::PeerCerts = Arc::new(Vec::new());
                        sip_conn::drive(tcp, none, gw.clone(), &mut rx, tx.clone(), first, counted)
                            .await
                    }
                };
                match driven {
                    Ok(()) => return,
                    Err(e) if e.is_ordinary() => {
                        debug!(error = %e, "outbound SIP connection ended")
                    }
                    Err(e) => warn!(error = %e, "outbound SIP connection failed"),
                }
            }
            Err(ConnError::Shutdown) => {
                return backlog.drain(|i| fail(i, &SipFinal::local(503, "Shutting Down")));
            }
            Err(e) => {
                let local_final = unreachable_final(&e);
                // A refused certificate, an unknown domain: retrying cannot help before the
                // transaction ends, so the senders hear it now.
                if !retryable(&e) {
                    warn!(error = %e, "outbound SIP connect failed; failing queued requests");
                    backlog.drain(|i| fail(i, &local_final));
                    while let Ok(item) = rx.try_recv() {
                        fail(item, &local_final);
                    }
                    continue;
                }
                // A page-mode MESSAGE goes to the durable spool (which retries it) rather than
                // wait here in memory, where a crash would lose it.
                let spool = gw.spool_started();
                let mut kept = Backlog::new(QUEUE_DEPTH);
                while let Some((item, deadline)) = backlog.pop() {
                    if spool && spool_takes(&item) {
                        fail(item, &local_final);
                    } else {
                        kept.push(item, deadline);
                    }
                }
                backlog = kept;
                let now = Instant::now();
                let retry_at = backlog.retry_at(now, backoff.next_delay(), INITIAL_BACKOFF);
                let retry_ms = (retry_at - now).as_millis() as u64;
                warn!(error = %e, waiting = backlog.len(), retry_ms, "outbound SIP connect failed; retrying");
                let wait = Wait {
                    retry_at,
                    lifetime,
                    expired: &local_final,
                    spool,
                };
                if !wait_to_retry(&mut backlog, &mut rx, &cancel, wait).await {
                    return;
                }
            }
        }
    }
}

/// Between connection attempts: take new requests while there is room (each lives for the
/// transaction timeout from then), and answer each one whose lifetime ends with `expired`.
/// Returns false when the pool must stop.
async fn wait_to_retry(
    backlog: &mut Backlog<SipOut>,
    rx: &mut mpsc::Receiver<SipOut>,
    cancel: &tokio_util::sync::CancellationToken,
    w: Wait<'_>,
) -> bool {
    let Wait {
        retry_at,
        lifetime,
        expired,
        spool,
    } = w;
    loop {
        let now = Instant::now();
        backlog.expire(now, |i| fail(i, expired));
        if now >= retry_at || backlog.is_empty() {
            return true;
        }
        let wake = backlog
            .earliest_deadline()
            .map_or(retry_at, |d| d.min(retry_at));
        tokio::select! {
            () = tokio::time::sleep_until(wake) => {}
            item = rx.recv(), if backlog.has_room() => match item {
                Some(i) if spool && spool_takes(&i) => fail(i, expired),
                Some(i) => backlog.push(i, Instant::now() + lifetime),
                None => {
                    backlog.drain(|i| fail(i, &SipFinal::local(503, "Shutting Down")));
                    return false;
                }
            },
            () = cancel.cancelled() => {
                backlog.drain(|i| fail(i, &SipFinal::local(503, "Shutting Down")));
                return false;
            }
        }
    }
}

/// How [`wait_to_retry`] waits: until `retry_at`; new requests live for `lifetime` and are
/// answered `expired` at its end (at once when `spool` and the spool takes them).
struct Wait<'a> {
    retry_at: Instant,
    lifetime: Duration,
    expired: &'a SipFinal,
    spool: bool,
}

/// Whether the spool takes `item` when its peer is unreachable: a page-mode MESSAGE (no
/// To tag), answered with a transient local failure (routing/spool.rs `transient_local`).
fn spool_takes(item: &SipOut) -> bool {
    let SipOut::Request { bytes, .. } = item else {
        return false;
    };
    bytes.starts_with(b"MESSAGE ")
        && crate::sip::invite::table::header(bytes, "To").is_some_and(|to| !to.contains(";tag="))
}

/// Whether a failed connection attempt is worth repeating within a transaction's lifetime:
/// the peer refused, reset or did not answer (it may be restarting), as opposed to a
/// certificate that does not cover the domain or a domain with no server at all.
fn retryable(e: &ConnError) -> bool {
    !e.is_permanent() && !matches!(e, ConnError::UnknownDomain(_) | ConnError::Auth(_))
}

/// The local final response for requests whose peer stayed unreachable: 408 when it did not
/// answer in time, 503 when it refused or reset (RFC 3261 §16.7 / §21.5.4), 502 when it can
/// never be reached this way.
fn unreachable_final(e: &ConnError) -> SipFinal {
    match e {
        ConnError::Timeout(_) => SipFinal::local(408, "Request Timeout"),
        e if retryable(e) => SipFinal::local(503, "Service Unavailable"),
        _ => SipFinal::local(502, "Bad Gateway"),
    }
}

fn fail(item: SipOut, f: &SipFinal) {
    if let SipOut::Request { respond, .. } = item {
        let _ = respond.send(f.clone());
    }
}

/// An established outbound connection.
enum Connected {
    Tls(
        Box<tokio_rustls::client::TlsStream<TcpStream>>,
        sip_conn::PeerCerts,
    ),
    Tcp(TcpStream),
}

/// The configured transport of requests to `remote`.
pub(super) fn transport_of(gw: &Gateway, remote: &str) -> SipTransportMode {
    gw.config()
        .domain(remote)
        .map(|d| d.transport)
        .unwrap_or_default()
}

/// The servers of `remote` for `transport`: its static next hop, else RFC 3263 DNS.
pub(super) async fn targets(gw: &Gateway, remote: &str, transport: SipTransport) -> Vec<SipTarget> {
    let hop = gw.config().domain(remote).and_then(|d| d.next_hop.clone());
    match hop {
        Some(h) => sip_resolve::from_next_hop(&h, transport)
            .into_iter()
            .collect(),
        None => gw.resolver().sip_targets(remote, &[transport]).await,
    }
}

/// Rewrite the top Via of a request parley wrote (`Via: SIP/2.0/TLS sent-by;…`) for the
/// transport actually used, with a new sent-by when given (parley's Vias carry `rport`,
/// RFC 3581, so a UDP answer comes back to the socket it left from).
pub(crate) fn retransport_via(bytes: &Bytes, transport: &str, sent_by: Option<&str>) -> Bytes {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return bytes.clone();
    };
    let Some(start) = text.find("\r\nVia: SIP/2.0/TLS ") else {
        return bytes.clone();
    };
    let value = start + "\r\nVia: SIP/2.0/".len();
    let Some(semi) = text[value..].find(';').map(|i| value + i) else {
        return bytes.clone();
    };
    let mut out = String::with_capacity(text.len() + 16);
    out.push_str(&text[..value]);
    out.push_str(transport);
    out.push(' ');
    match sent_by {
        Some(s) => out.push_str(s),
        None => out.push_str(&text[value + 4..semi]),
    }
    out.push_str(&text[semi..]);
    Bytes::from(out)
}

/// Add `;alias` to the top Via of a TLS request parley wrote (RFC 5923 §6): parley is willing
/// to take the peer's requests over this connection.
pub(crate) fn offer_alias_via(bytes: &Bytes) -> Bytes {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return bytes.clone();
    };
    // The top Via only (parley writes it first, in this form), and only over TLS.
    let Some(start) = text.find("\r\nVia: ") else {
        return bytes.clone();
    };
    let value = start + 2;
    if !text[value..].starts_with("Via: SIP/2.0/TLS ") {
        return bytes.clone();
    }
    let Some(end) = text[value..].find("\r\n").map(|i| value + i) else {
        return bytes.clone();
    };
    let line = &text[value..end];
    if line
        .split(';')
        .any(|p| p.trim().eq_ignore_ascii_case("alias"))
    {
        return bytes.clone();
    }
    let mut out = String::with_capacity(text.len() + 6);
    out.push_str(&text[..end]);
    out.push_str(";alias");
    out.push_str(&text[end..]);
    Bytes::from(out)
}

async fn connect(gw: &Gateway, local: &str, remote: &str) -> Result<Connected, ConnError> {
    let mode = transport_of(gw, remote);
    let transport = match mode {
        SipTransportMode::Tcp => SipTransport::Tcp,
        _ => SipTransport::Tls,
    };
    let candidates = targets(gw, remote, transport).await;
    if candidates.is_empty() {
        return Err(ConnError::UnknownDomain(remote.to_owned()));
    }
    let mut last = ConnError::UnknownDomain(remote.to_owned());
    for t in candidates {
        let target = crate::transport::resolve::Target {
            host: t.host.clone(),
            port: t.port,
            direct_tls: false,
        };
        for addr in gw.resolver().addresses(&target).await {
            let attempt = match transport {
                SipTransport::Tcp => connect_tcp(addr).await.map(Connected::Tcp),
                _ => connect_tls(gw, local, remote, addr).await,
            };
            match attempt {
                Ok(c) => return Ok(c),
                Err(e) => {
                    debug!(peer.addr = %addr, error = %e, "SIP server unreachable; trying the next");
                    last = e;
                }
            }
        }
    }
    Err(last)
}

async fn connect_tcp(addr: SocketAddr) -> Result<TcpStream, ConnError> {
    let tcp = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr))
        .await
        .map_err(|_| ConnError::Timeout("SIP TCP connect"))??;
    tcp.set_nodelay(true)?;
    Ok(tcp)
}

async fn connect_tls(
    gw: &Gateway,
    local: &str,
    remote: &str,
    addr: SocketAddr,
) -> Result<Connected, ConnError> {
    let connector = gw
        .tls()
        .connector(local)
        .cloned()
        .ok_or_else(|| ConnError::UnknownDomain(local.to_owned()))?;
    let name = ServerName::try_from(remote.to_owned())
        .map_err(|_| ConnError::UnknownDomain(remote.to_owned()))?;
    let attempt = async {
        let tcp = TcpStream::connect(addr).await?;
        tcp.set_nodelay(true)?;
        let tls = connector.connect(name, tcp).await.inspect_err(|e| {
            metrics::tls_handshake_failure(Protocol::Sip, false, TlsFailure::of_io(e))
        })?;
        let certs = tls
            .get_ref()
            .1
            .peer_certificates()
            .map(|c| c.to_vec())
            .unwrap_or_default();
        auth::verify_certificate_for(Some(&certs), remote).map_err(ConnError::Auth)?;
        Ok::<_, ConnError>(Connected::Tls(Box::new(tls), Arc::new(certs)))
    };
    tokio::time::timeout(CONNECT_TIMEOUT, attempt)
        .await
        .map_err(|_| ConnError::Timeout("SIP TLS connect"))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_depths_count_waiting_requests_per_remote_domain() {
        let pool = SipPool::default();
        let (a, _rx_a) = mpsc::channel(QUEUE_DEPTH);
        let (b, _rx_b) = mpsc::channel(QUEUE_DEPTH);
        let (c, _rx_c) = mpsc::channel(QUEUE_DEPTH);
        let response = || SipOut::Response {
            bytes: Bytes::from_static(b"SIP/2.0 200 OK\r\n\r\n"),
            code: 200,
            key: None,
        };
        for _ in 0..3 {
            a.try_send(response()).unwrap();
        }
        b.try_send(response()).unwrap();
        pool.queues.insert(("x.test".into(), "sip.test".into()), a);
        pool.queues.insert(("y.test".into(), "sip.test".into()), b);
        pool.queues.insert(("x.test".into(), "idle.test".into()), c);
        let mut depths = pool.queue_depths();
        depths.sort();
        assert_eq!(
            depths,
            vec![("idle.test".to_owned(), 0), ("sip.test".to_owned(), 4)]
        );
    }

    #[test]
    fn via_is_rewritten_for_the_transport_used() {
        let req = Bytes::from_static(
            b"MESSAGE sip:b@x SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.5:5061;branch=z9hG4bK1\r\nTo: <sip:b@x>\r\n\r\n",
        );
        let udp = retransport_via(&req, "UDP", Some("127.0.0.5:5060"));
        assert_eq!(
            &udp[..],
            b"MESSAGE sip:b@x SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.5:5060;branch=z9hG4bK1\r\nTo: <sip:b@x>\r\n\r\n"
        );
        let tcp = retransport_via(&req, "TCP", None);
        assert_eq!(
            &tcp[..],
            b"MESSAGE sip:b@x SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.5:5061;branch=z9hG4bK1\r\nTo: <sip:b@x>\r\n\r\n"
        );
        // Anything else is left alone.
        let other = Bytes::from_static(b"ACK x SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z\r\n\r\n");
        assert_eq!(retransport_via(&other, "TCP", None), other);
    }

    #[test]
    fn tls_requests_offer_alias_once() {
        let req = Bytes::from_static(
            b"MESSAGE sip:b@sip.test SIP/2.0\r\nVia: SIP/2.0/TLS gw.xmpp.test:5061;branch=z9hG4bK1;rport\r\nVia: SIP/2.0/TLS x;branch=z9hG4bK0\r\nCSeq: 1 MESSAGE\r\n\r\n",
        );
        let out = offer_alias_via(&req);
        assert_eq!(
            std::str::from_utf8(&out).unwrap(),
            "MESSAGE sip:b@sip.test SIP/2.0\r\nVia: SIP/2.0/TLS gw.xmpp.test:5061;branch=z9hG4bK1;rport;alias\r\nVia: SIP/2.0/TLS x;branch=z9hG4bK0\r\nCSeq: 1 MESSAGE\r\n\r\n"
        );
        assert_eq!(offer_alias_via(&out), out, "offered once");
        let tcp = retransport_via(&req, "TCP", None);
        assert_eq!(offer_alias_via(&tcp), tcp, "not over plain TCP");
    }
}
