//! One SIP stream connection (RFC 3261 §18 over TLS), inbound or outbound: frames and parses
//! what arrives, hands requests to the router (each in its own task, answered through this
//! connection's queue), matches responses to the client transactions it sent, and writes
//! queued requests and responses in batches.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::{Buf, Bytes, BytesMut};
use rustls_pki_types::CertificateDer;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tracing::{debug, warn};

use super::ConnError;
use super::dialog_order::{DialogOrder, Turn, run_in_turn};
use crate::metrics::{self, Protocol};
use crate::routing::Gateway;
use crate::sip::framing::{self, StreamItem};
use crate::sip::invite::table::{self as invite_table, InviteTable, Outgoing};
use crate::sip::transaction::{Client, ClientAction, Reliability, Server, Timers, TransactionKey};
use crate::sip::{Head, SipError, SipMessage, reject};

/// A final response to a request parley sent (or one parley made up for a local failure).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipFinal {
    /// Status code.
    pub code: u16,
    /// Reason phrase.
    pub reason: String,
    /// The To tag of a response from the peer (dialog-forming requests).
    pub to_tag: Option<String>,
    /// The `Expires` of a response from the peer (SUBSCRIBE).
    pub expires: Option<u32>,
    /// The Contact URI of a response from the peer (the dialog's remote target).
    pub contact: Option<String>,
    /// The Record-Route URIs of a response from the peer, in order.
    pub record_route: Vec<String>,
    /// The SDP body of a 2xx from the peer (the answer to an INVITE's offer).
    pub sdp: Option<String>,
}

impl SipFinal {
    /// A locally generated final response.
    pub fn local(code: u16, reason: &str) -> SipFinal {
        SipFinal {
            code,
            reason: reason.to_owned(),
            to_tag: None,
            expires: None,
            contact: None,
            record_route: Vec::new(),
            sdp: None,
        }
    }
}

/// Something to write on a SIP connection.
#[derive(Debug)]
pub enum SipOut {
    /// A response to a request that arrived on this connection.
    Response {
        /// Serialized response.
        bytes: Bytes,
        /// Its status code.
        code: u16,
        /// The server transaction it answers (none for requests without an RFC 3261 branch).
        key: Option<TransactionKey>,
    },
    /// A request; its final response goes to `respond`.
    Request {
        /// Serialized request.
        bytes: Bytes,
        /// Its top Via branch, to match the response.
        branch: String,
        /// Where the final response goes.
        respond: oneshot::Sender<SipFinal>,
    },
}

/// The peer's verified certificate chain (empty when it presented none).
pub type PeerCerts = Arc<Vec<CertificateDer<'static>>>;

const READ_CHUNK: usize = 16 * 1024;
/// The read buffer of a connection that has carried nothing yet.
const IDLE_CHUNK: usize = 2 * 1024;
const MAX_BATCH: usize = 256;
/// Queued bytes not yet written above which nothing more is taken from the queue.
const WRITE_HIGH: usize = 256 * 1024;
/// Answers not yet written above which a connection reads no more requests.
const UNWRITTEN_MAX: usize = 1024 * 1024;
/// Requests of one connection handled at once: beyond, it reads no more until some are
/// answered, so a peer that pipelines without bound is slowed down by TCP instead of growing
/// parley's tasks and tables (and the time each message takes with them).
const IN_HAND_MAX: usize = 256;
/// How long a connection that ends may take to write out what it still holds.
const LAST_WRITE: std::time::Duration = std::time::Duration::from_secs(2);

/// One client transaction and where its final response goes.
struct ClientEntry {
    state: Client,
    respond: Option<oneshot::Sender<SipFinal>>,
    bytes: Bytes,
    dest: Option<SocketAddr>,
}

/// What to do with a request that arrived.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum RequestFate {
    /// A new transaction: hand it to the router.
    New,
    /// A new INVITE transaction: hand it to the router and send this at once (its 100
    /// Trying over UDP, RFC 3261 §17.2.1).
    NewWith(Bytes),
    /// A retransmission while the router works on it: drop it.
    Absorb,
    /// A retransmission of an answered request: send this again.
    Repeat(Bytes),
}

/// The transaction layer of one transport (RFC 3261 §17): client transactions by top Via
/// branch, server transactions by [`TransactionKey`], their timers, and retransmissions;
/// INVITE transactions (§17.1.1, §17.2.1, RFC 6026) in their own table.
pub(crate) struct Transactions {
    reliability: Reliability,
    timers: Timers,
    clients: HashMap<String, ClientEntry>,
    servers: HashMap<TransactionKey, Server>,
    invites: InviteTable<oneshot::Sender<SipFinal>>,
    /// Call-IDs of dialogs whose 2xx got no ACK (Timer L), for the user to end with BYE.
    unacked: Vec<String>,
    /// No client or server transaction has a timer before this; `None` when none has one.
    /// A bound, not exact (a transaction that has ended may have set it): lowered as
    /// transactions start or change state, made exact when timers fire. The connection's
    /// loop asks for it on every turn, which must not walk thousands of transactions.
    next_timer: Option<Instant>,
}

impl Transactions {
    /// An empty table for a transport.
    pub(crate) fn new(reliability: Reliability, timers: Timers) -> Transactions {
        Transactions {
            reliability,
            timers,
            clients: HashMap::new(),
            servers: HashMap::new(),
            invites: InviteTable::new(reliability, timers),
            unacked: Vec::new(),
            next_timer: None,
        }
    }

    /// A transaction's timer is now set for `at`.
    fn timer_at(&mut self, at: Option<Instant>) {
        self.next_timer = match (self.next_timer, at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }

    /// A request was sent (to `dest` over a datagram transport).
    pub(crate) fn sent(
        &mut self,
        branch: String,
        bytes: Bytes,
        respond: oneshot::Sender<SipFinal>,
        dest: Option<SocketAddr>,
    ) {
        if bytes.starts_with(b"INVITE ") {
            return self.invites.sent(branch, bytes, respond, dest);
        }
        let state = Client::start(self.reliability, self.timers, Instant::now());
        self.timer_at(Some(state.deadline()));
        let entry = ClientEntry {
            state,
            respond: Some(respond),
            bytes,
            dest,
        };
        self.clients.insert(branch, entry);
    }

    /// A response arrived: hand its final status on (once per transaction). Returns what
    /// the transaction sends in answer (the ACK of an INVITE final).
    pub(crate) fn on_response(&mut self, msg: &SipMessage) -> Option<Outgoing> {
        let (Some(code), Ok(via)) = (msg.status(), msg.via()) else {
            debug!("response without status or Via ignored");
            return None;
        };
        let branch = via.branch?;
        if self.invites.has_client(branch) {
            let to = (msg.header(crate::sip::HeaderName::To))
                .and_then(|v| std::str::from_utf8(v).ok())
                .unwrap_or_default()
                .trim();
            let step = self.invites.on_response(branch, code, to, Instant::now());
            if let Some((respond, code)) = step.deliver {
                metrics::sip_transaction(true, "INVITE", Some(code));
                let _ = respond.send(final_of(msg, code));
            }
            return step.send;
        }
        let Some(mut entry) = self.clients.remove(branch) else {
            debug!(code, "response matches no client transaction");
            return None;
        };
        let (next, action) = entry.state.on_response(code, Instant::now());
        if let ClientAction::Final(code) = action
            && let Some(respond) = entry.respond.take()
        {
            metrics::sip_transaction(true, request_method(&entry.bytes), Some(code));
            let _ = respond.send(final_of(msg, code));
        }
        if let Some(state) = next {
            self.timer_at(Some(state.deadline()));
            entry.state = state;
            self.clients.insert(branch.to_owned(), entry);
        }
        None
    }

    /// The end-to-end ACK for a 2xx (RFC 3261 §13.2.2.4) was sent: kept by its INVITE
    /// transaction to answer retransmitted 2xx.
    pub(crate) fn ack_sent(&mut self, ack: &Bytes) {
        let call_id = invite_table::header(ack, "Call-ID");
        let seq = invite_table::cseq_number(ack);
        if let (Some(call_id), Some(seq)) = (call_id, seq) {
            let call_id = call_id.to_owned();
            self.invites.ack_sent(&call_id, seq, ack.clone());
        }
    }

    /// A request arrived (from `from` over datagrams): new, or a retransmission (§17.2.3
    /// matching).
    pub(crate) fn on_request(
        &mut self,
        msg: &SipMessage,
        key: Option<&TransactionKey>,
        from: Option<SocketAddr>,
    ) -> RequestFate {
        let Some(key) = key else {
            return RequestFate::New;
        };
        let dialog = || Some((msg.call_id().ok()?.to_owned(), msg.cseq().ok()?.seq));
        // §17.2.3: an ACK opens no server transaction. For a failure it belongs to the
        // INVITE's (absorbed there); for a 2xx it is end-to-end: it stops the 2xx
        // retransmissions and goes to the user.
        if key.method == "ACK" {
            let d = dialog();
            let d = d.as_ref().map(|(c, s)| (c.as_str(), *s));
            if self.invites.on_ack(key, d, Instant::now()) {
                return RequestFate::Absorb;
            }
            return RequestFate::New;
        }
        if key.method == "INVITE" {
            let mut trying = BytesMut::with_capacity(msg.raw().len().min(1024));
            reject::write_status(&mut trying, msg.raw(), 100, "Trying");
            return match self.invites.on_invite(key, from, dialog(), trying.freeze()) {
                Ok(None) => RequestFate::New,
                Ok(Some(trying)) => RequestFate::NewWith(trying),
                Err(repeat) => {
                    metrics::sip_retransmissions("absorbed", 1);
                    repeat.map_or(RequestFate::Absorb, RequestFate::Repeat)
                }
            };
        }
        match self.servers.get(key) {
            Some(s) => {
                metrics::sip_retransmissions("absorbed", 1);
                match s.on_retransmission() {
                    Some(bytes) => RequestFate::Repeat(bytes),
                    None => RequestFate::Absorb,
                }
            }
            None => {
                let s = Server::start(self.reliability, self.timers);
                self.timer_at(s.deadline());
                self.servers.insert(key.clone(), s);
                RequestFate::New
            }
        }
    }

    /// The router answered: the bytes to send, or none (the transaction had completed).
    pub(crate) fn on_local_response(
        &mut self,
        key: Option<&TransactionKey>,
        code: u16,
        bytes: Bytes,
    ) -> Option<Bytes> {
        let Some(key) = key else { return Some(bytes) };
        let out = if self.invites.has_server(key) {
            self.invites
                .on_local_response(key, code, bytes, Instant::now())
        } else {
            let Some(s) = self.servers.remove(key) else {
                return Some(bytes);
            };
            let (next, out) = s.on_response(code, bytes, Instant::now());
            if let Some(next) = next {
                self.timer_at(next.deadline());
                self.servers.insert(key.clone(), next);
            }
            out
        };
        if code >= 200 && out.is_some() {
            metrics::sip_transaction(false, &key.method, Some(code));
        }
        out
    }

    /// Non-INVITE requests on a stream that wait for their final answer (over a stream a
    /// server transaction ends with it). INVITEs, few and long-lived, are not counted.
    pub(crate) fn in_hand(&self) -> usize {
        self.servers.len()
    }

    /// When to call [`Self::on_timers`]: at or before the earliest timer of any transaction.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        [self.next_timer, self.invites.deadline()]
            .into_iter()
            .flatten()
            .min()
    }

    /// The earliest timer of the client and server transactions, by walking them all.
    fn earliest_timer(&self) -> Option<Instant> {
        let c = self.clients.values().map(|e| e.state.deadline()).min();
        let s = self.servers.values().filter_map(Server::deadline).min();
        [c, s].into_iter().flatten().min()
    }

    /// Fire every due timer; returns what to send (retransmissions over UDP, a delayed 100
    /// Trying) and where. Dialogs whose 2xx got no ACK are left for [`Self::take_unacked`].
    pub(crate) fn on_timers(&mut self, now: Instant) -> Vec<(Bytes, Option<SocketAddr>)> {
        let fired = self.invites.on_timers(now);
        let mut resend = fired.send;
        for _ in 0..fired.unacked_failures {
            metrics::sip_ack_timeout(false);
        }
        for call_id in fired.unacked_2xx {
            metrics::sip_ack_timeout(true);
            self.unacked.push(call_id);
        }
        for respond in fired.timed_out {
            debug!("INVITE client transaction timed out (Timer B)");
            metrics::sip_transaction(true, "INVITE", None);
            let _ = respond.send(SipFinal::local(408, "Request Timeout"));
        }
        let due: Vec<String> = (self.clients.iter())
            .filter(|(_, e)| e.state.deadline() <= now)
            .map(|(b, _)| b.clone())
            .collect();
        for branch in due {
            let Some(mut entry) = self.clients.remove(&branch) else {
                continue;
            };
            let (next, action) = entry.state.on_timer(now);
            match action {
                ClientAction::Retransmit => resend.push((entry.bytes.clone(), entry.dest)),
                ClientAction::TimedOut => {
                    debug!(sip.branch = %branch, "client transaction timed out (Timer F)");
                    metrics::sip_transaction(true, request_method(&entry.bytes), None);
                    if let Some(respond) = entry.respond.take() {
                        let _ = respond.send(SipFinal::local(408, "Request Timeout"));
                    }
                }
                ClientAction::None | ClientAction::Final(_) => {}
            }
            if let Some(state) = next {
                entry.state = state;
                self.clients.insert(branch, entry);
            }
        }
        let due: Vec<TransactionKey> = (self.servers.iter())
            .filter(|(_, s)| s.deadline().is_some_and(|d| d <= now))
            .map(|(k, _)| k.clone())
            .collect();
        for key in due {
            if let Some(next) = self.servers.remove(&key).and_then(|s| s.on_timer(now)) {
                self.servers.insert(key, next);
            }
        }
        self.next_timer = self.earliest_timer();
        // Over a stream nothing is retransmitted: what goes out is a delayed 100 Trying.
        if self.reliability == Reliability::Unreliable {
            metrics::sip_retransmissions("sent", resend.len() as u64);
        }
        resend
    }

    /// The Call-IDs of dialogs whose 2xx got no ACK by Timer L since the last call.
    pub(crate) fn take_unacked(&mut self) -> Vec<String> {
        std::mem::take(&mut self.unacked)
    }

    /// Whether client transactions still wait for a final response.
    pub(crate) fn awaiting_finals(&self) -> bool {
        self.clients.values().any(|e| e.respond.is_some()) || self.invites.awaiting_finals()
    }

    /// The transport is gone: every waiting client transaction gets `code`.
    pub(crate) fn fail_all(&mut self, code: u16, reason: &str) {
        for (_, mut e) in self.clients.drain() {
            if let Some(respond) = e.respond.take() {
                let _ = respond.send(SipFinal::local(code, reason));
            }
        }
        self.servers.clear();
        self.next_timer = None;
        for respond in self.invites.drain_waiting() {
            let _ = respond.send(SipFinal::local(code, reason));
        }
    }
}

/// The method of a request parley wrote (its request line's first word).
fn request_method(bytes: &[u8]) -> &str {
    let end = bytes.iter().position(|b| *b == b' ').unwrap_or(0);
    std::str::from_utf8(&bytes[..end]).unwrap_or_default()
}

/// The final for the user of a client transaction, from the peer's response.
fn final_of(msg: &SipMessage, code: u16) -> SipFinal {
    SipFinal {
        code,
        reason: msg.reason().unwrap_or_default().to_owned(),
        to_tag: msg.to().ok().and_then(|t| t.tag).map(str::to_owned),
        expires: msg.expires().ok().flatten(),
        contact: msg.contacts().find_map(|c| match c {
            Ok(crate::sip::typed::Contact::Addr(a)) => Some(a.uri.to_owned()),
            _ => None,
        }),
        record_route: (msg.record_routes())
            .filter_map(Result::ok)
            .map(|r| r.uri.to_owned())
            .collect(),
        sdp: (200..300)
            .contains(&code)
            .then(|| crate::sip::sdp::body_of(msg).map(str::to_owned))
            .flatten(),
    }
}

/// Run the connection until it ends. `first` is written before anything else queued (the
/// requests that waited for an outbound connection, in order). Pending client transactions
/// are answered 503 when the connection ends. `counted` is the connection in
/// `parley_connections`; one not yet named (no certificate) takes the domain its first
/// request's From claims.
///
/// Reading and writing go on at once: a write the peer is slow to take never stops parley
/// from reading its answers (a peer that reads only after its own writes went out would
/// otherwise deadlock with parley once both socket buffers are full). What is taken from the
/// queue waits in [`WRITE_HIGH`] bytes at most; reading stops while [`UNWRITTEN_MAX`] bytes of
/// answers wait for a peer that does not read them.
pub async fn drive<S>(
    io: S,
    peer: PeerCerts,
    gw: Arc<Gateway>,
    rx: &mut mpsc::Receiver<SipOut>,
    tx: mpsc::Sender<SipOut>,
    first: impl IntoIterator<Item = SipOut>,
    mut counted: metrics::ConnectionGuard,
) -> Result<(), ConnError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let cancel = gw.shutdown_token();
    let (mut rd, mut wr) = tokio::io::split(io);
    // Small until used: an idle connection holds little memory; a busy one grows by READ_CHUNK.
    let mut rbuf = BytesMut::with_capacity(IDLE_CHUNK);
    let mut wbuf = BytesMut::new();
    // Written bytes the TLS layer may still hold: flushed once `wbuf` is empty.
    let mut unflushed = false;
    let mut transactions = Transactions::new(Reliability::Reliable, gw.sip_timers());
    let mut dispatch = Dispatch {
        peer: &peer,
        gw: &gw,
        tx: &tx,
        order: DialogOrder::default(),
    };
    // Inbound connections (no first request) are closed when they complete no message for
    // the idle timeout, so a silent or byte-by-byte sender cannot hold a connection slot.
    let mut backlog: std::collections::VecDeque<SipOut> = first.into_iter().collect();
    let idle = backlog
        .is_empty()
        .then(|| std::time::Duration::from_millis(gw.config().sip.idle_timeout_ms));
    let mut active = Instant::now();
    let mut next = backlog.pop_front();
    let result = loop {
        if let Some(item) = next.take() {
            take_batch(item, &mut backlog, rx, &mut wbuf, &mut transactions).await;
        }
        // What waited for the connection is queued before anything newer.
        if wbuf.len() < WRITE_HIGH
            && let Some(item) = backlog.pop_front()
        {
            next = Some(item);
            continue;
        }
        let earliest = transactions.deadline();
        tokio::select! {
            pushed = push(&mut wr, &wbuf), if !wbuf.is_empty() || unflushed => match pushed {
                Ok(0) => unflushed = false,
                Ok(n) => {
                    wbuf.advance(n);
                    unflushed = true;
                }
                Err(e) => break Err(e.into()),
            },
            item = rx.recv(), if wbuf.len() < WRITE_HIGH && backlog.is_empty() => match item {
                Some(item) => next = Some(item),
                None => break Ok(()),
            },
            read = rd.read_buf(&mut rbuf), if wbuf.len() < UNWRITTEN_MAX && transactions.in_hand() < IN_HAND_MAX => match read {
                Ok(0) => break Err(ConnError::Closed),
                Ok(_) => {
                    let before = rbuf.len();
                    if let Err(e) = process(&mut rbuf, &mut wbuf, &mut dispatch, &mut transactions, &mut counted) {
                        break Err(e);
                    }
                    if rbuf.len() < before {
                        active = Instant::now();
                    }
                    if rbuf.capacity() - rbuf.len() < 1024 {
                        rbuf.reserve(READ_CHUNK);
                    }
                }
                Err(e) => break Err(e.into()),
            },
            () = sleep_until_opt(earliest) => {
                // A stream never retransmits (Timers A, E and G are off on reliable
                // transports): what comes out is a 100 Trying the user was too slow for.
                for (bytes, _) in transactions.on_timers(Instant::now()) {
                    wbuf.extend_from_slice(&bytes);
                }
                for call_id in transactions.take_unacked() {
                    gw.sip_session_unacked(&call_id);
                }
            },
            () = sleep_until_opt(idle.map(|d| active + d)), if !transactions.awaiting_finals() => {
                if !rbuf.is_empty() {
                    on_parse_error(SipError::Truncated, &rbuf, &mut wbuf);
                }
                metrics::idle_closed(Protocol::Sip);
                break Err(ConnError::Idle);
            },
            () = cancel.cancelled(), if !transactions.awaiting_finals() => break Err(ConnError::Shutdown),
        }
    };
    // What is queued still goes out (an error answer, answers settled before a shutdown),
    // for a short while: the peer may not be reading.
    if !wbuf.is_empty() || unflushed {
        let _ = tokio::time::timeout(LAST_WRITE, write_out(&mut wr, &wbuf)).await;
    }
    transactions.fail_all(503, "Connection Lost");
    gw.sip_out_pool().withdraw_alias(&tx);
    let _ = wr.shutdown().await;
    result
}

/// Write some of `wbuf` (how much), or flush when it is empty (0).
async fn push<W: AsyncWrite + Unpin>(wr: &mut W, wbuf: &[u8]) -> std::io::Result<usize> {
    if wbuf.is_empty() {
        wr.flush().await?;
        return Ok(0);
    }
    match wr.write(wbuf).await? {
        0 => Err(std::io::ErrorKind::WriteZero.into()),
        n => Ok(n),
    }
}

/// Write the rest of `wbuf` out and flush it, as [`drive`] ends.
async fn write_out<W: AsyncWrite + Unpin>(wr: &mut W, wbuf: &[u8]) -> std::io::Result<()> {
    wr.write_all(wbuf).await?;
    wr.flush().await
}

pub(crate) async fn sleep_until_opt(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// Queue `first` and what else is ready for one write. When nothing else waits yet, the
/// handlers that are ready run first: answers settled together (one delivery confirmation
/// covers many) then leave in one write, not one each.
async fn take_batch(
    first: SipOut,
    backlog: &mut std::collections::VecDeque<SipOut>,
    rx: &mut mpsc::Receiver<SipOut>,
    wbuf: &mut BytesMut,
    transactions: &mut Transactions,
) -> usize {
    if rx.is_empty() {
        tokio::task::yield_now().await;
    }
    queue_batch(first, backlog, rx, wbuf, transactions)
}

/// Queue `first` and what waits behind it (the backlog, then the channel) for one write: at
/// most [`MAX_BATCH`] items, so a flood of answers cannot starve reading. Nothing is taken
/// from the queues that is not written: the rest waits for the next round.
fn queue_batch(
    first: SipOut,
    backlog: &mut std::collections::VecDeque<SipOut>,
    rx: &mut mpsc::Receiver<SipOut>,
    wbuf: &mut BytesMut,
    transactions: &mut Transactions,
) -> usize {
    queue_write(first, wbuf, transactions);
    let mut n = 1;
    while n < MAX_BATCH {
        let Some(item) = backlog.pop_front().or_else(|| rx.try_recv().ok()) else {
            break;
        };
        queue_write(item, wbuf, transactions);
        n += 1;
    }
    n
}

fn queue_write(item: SipOut, wbuf: &mut BytesMut, transactions: &mut Transactions) {
    match item {
        SipOut::Response { bytes, code, key } => {
            if code == 0 && key.is_none() && bytes.starts_with(b"ACK ") {
                transactions.ack_sent(&bytes);
            }
            if let Some(bytes) = transactions.on_local_response(key.as_ref(), code, bytes) {
                wbuf.extend_from_slice(&bytes);
            }
        }
        SipOut::Request {
            bytes,
            branch,
            respond,
        } => {
            wbuf.extend_from_slice(&bytes);
            transactions.sent(branch, bytes, respond, None);
        }
    }
}

/// Frame and dispatch everything complete in `rbuf`. Errors that lose the framing end the
/// connection (after a response is queued in `wbuf` where one can be sent).
fn process(
    rbuf: &mut BytesMut,
    wbuf: &mut BytesMut,
    dispatch: &mut Dispatch<'_>,
    transactions: &mut Transactions,
    counted: &mut metrics::ConnectionGuard,
) -> Result<(), ConnError> {
    let limits = &dispatch.gw.sip_limits();
    let mut head = Head::default();
    loop {
        let item = match framing::next_item(rbuf, limits, &mut head) {
            Ok(Some(item)) => item,
            Ok(None) => return Ok(()),
            Err(e) => {
                warn!(error = %e, "unframeable SIP stream; closing");
                // Answered like an unparsable request where the head allows it (RFC 3261
                // §8.2, e.g. 513 for an oversized head), then the connection closes.
                on_parse_error(e, rbuf, wbuf);
                return Err(ConnError::Sip(e));
            }
        };
        let bytes = rbuf.split_to(item.len()).freeze();
        match item {
            StreamItem::Ping => wbuf.extend_from_slice(b"\r\n"),
            StreamItem::Pong => {}
            StreamItem::Message { .. } => {
                match SipMessage::from_scanned(bytes.clone(), &mut head, limits) {
                    Ok(msg) if msg.status().is_some() => {
                        if let Some((ack, _)) = transactions.on_response(&msg) {
                            wbuf.extend_from_slice(&ack);
                        }
                    }
                    Ok(msg) => {
                        if !counted.is_named() {
                            counted.claim(&claimed_domain(&msg));
                        }
                        if !dispatch.peer.is_empty() {
                            lend_alias(&msg, dispatch.peer, dispatch.gw, dispatch.tx);
                        }
                        let key = TransactionKey::of(&msg);
                        match transactions.on_request(&msg, key.as_ref(), None) {
                            RequestFate::New => {}
                            RequestFate::NewWith(bytes) => wbuf.extend_from_slice(&bytes),
                            RequestFate::Absorb => continue,
                            RequestFate::Repeat(bytes) => {
                                wbuf.extend_from_slice(&bytes);
                                continue;
                            }
                        }
                        dispatch.request(msg, key);
                    }
                    Err(e) => on_parse_error(e, &bytes, wbuf),
                }
            }
        }
    }
}

/// Hands each request to its own task; those of one dialog run in arrival order.
struct Dispatch<'a> {
    peer: &'a PeerCerts,
    gw: &'a Arc<Gateway>,
    tx: &'a mpsc::Sender<SipOut>,
    order: DialogOrder,
}

impl Dispatch<'_> {
    fn request(&mut self, msg: SipMessage, key: Option<TransactionKey>) {
        let turn = self.order.turn(&msg);
        let (gw, peer, tx) = (self.gw.clone(), self.peer.clone(), self.tx.clone());
        // Boxed: the handler's future is a few kilobytes, and spawning moves a future by
        // value several times before it lands in its task; a box moves as a pointer.
        self.gw.tracker().spawn(Box::pin(async move {
            if let Some((code, bytes)) = handle_in_turn(&gw, &peer, &msg, turn).await {
                let _ = tx.send(SipOut::Response { bytes, code, key }).await;
            }
        }));
    }
}

/// Handle a request once the requests before it in its dialog (or of its sender and
/// recipient) are done; its answer, if any.
pub(crate) async fn handle_in_turn(
    gw: &Arc<Gateway>,
    peer: &PeerCerts,
    msg: &SipMessage,
    turn: Option<Turn>,
) -> Option<(u16, Bytes)> {
    run_in_turn(turn, || gw.sip_request(peer, msg)).await
}

/// RFC 5923: a request over TLS whose top Via offers `;alias`, from a peer whose certificate
/// covers the SIP domain in its From (§8), to an XMPP-side domain parley serves, lends this
/// connection for parley's requests from that domain to the peer's.
fn lend_alias(msg: &SipMessage, peer: &PeerCerts, gw: &Arc<Gateway>, tx: &mpsc::Sender<SipOut>) {
    use crate::config::Side;
    let Ok(via) = msg.via() else { return };
    if via.param("alias").is_none() || !via.transport.eq_ignore_ascii_case("TLS") {
        return;
    }
    let remote = claimed_domain(msg);
    let local = (msg.request_uri())
        .and_then(|u| crate::bridge::address::from_sip_uri(u).ok())
        .map(|a| a.domain.into_owned())
        .unwrap_or_default();
    if !gw.serves(&remote, Side::Sip) || !gw.serves(&local, Side::Xmpp) {
        return;
    }
    if crate::auth::verify_certificate_for(Some(peer), &remote).is_err() {
        debug!(peer.domain = %remote, "alias offered by a peer not certified for its domain");
        return;
    }
    gw.sip_out_pool().offer_alias(&local, &remote, tx);
}

/// The domain a request's From claims (unverified: a label value only, capped by
/// [`metrics::PeerLabels`]); empty when it has none.
pub(crate) fn claimed_domain(msg: &SipMessage) -> String {
    msg.from()
        .ok()
        .and_then(|f| crate::bridge::address::from_sip_uri(f.uri).ok())
        .map(|a| a.domain.into_owned())
        .unwrap_or_default()
}

/// A message that framed but does not parse: a request is answered with the mapped status
/// (RFC 3261 §8.2); a broken response cannot be answered and is only logged.
fn on_parse_error(e: SipError, raw: &[u8], wbuf: &mut BytesMut) {
    metrics::parse_error(Protocol::Sip, (&e).into());
    let answered = reject::write_rejection(wbuf, raw, e);
    warn!(error = %e, answered, "unparsable SIP message");
}

#[cfg(test)]
#[path = "sip_conn_tests.rs"]
mod tests;
