//! One SIP stream connection (RFC 3261 §18 over TLS), inbound or outbound: frames and parses
//! what arrives, hands requests to the router (each in its own task, answered through this
//! connection's queue), matches responses to the client transactions it sent, and writes
//! queued requests and responses in batches.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use rustls_pki_types::CertificateDer;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tracing::{debug, warn};

use super::ConnError;
use crate::metrics::{self, Protocol};
use crate::routing::Gateway;
use crate::sip::framing::{self, StreamItem};
use crate::sip::{SipError, SipMessage, reject};

/// A final response to a request parley sent (or one parley made up for a local failure).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipFinal {
    /// Status code.
    pub code: u16,
    /// Reason phrase.
    pub reason: String,
}

impl SipFinal {
    /// A locally generated final response.
    pub fn local(code: u16, reason: &str) -> SipFinal {
        SipFinal {
            code,
            reason: reason.to_owned(),
        }
    }
}

/// Something to write on a SIP connection.
#[derive(Debug)]
pub enum SipOut {
    /// A response to a request that arrived on this connection.
    Response(Bytes),
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
const MAX_BATCH: usize = 256;

struct ClientTransaction {
    respond: oneshot::Sender<SipFinal>,
    deadline: Instant,
}

/// Run the connection until it ends. `first` is written before anything else (the request
/// that made an outbound connection). Pending client transactions are answered 503 when the
/// connection ends.
pub async fn drive<S>(
    mut io: S,
    peer: PeerCerts,
    gw: Arc<Gateway>,
    rx: &mut mpsc::Receiver<SipOut>,
    tx: mpsc::Sender<SipOut>,
    first: Option<SipOut>,
) -> Result<(), ConnError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let limits = gw.sip_limits();
    let timeout = Duration::from_millis(gw.config().sip.transaction_timeout_ms);
    let cancel = gw.shutdown_token();
    let mut rbuf = BytesMut::with_capacity(READ_CHUNK);
    let mut wbuf = BytesMut::with_capacity(READ_CHUNK);
    let mut transactions: HashMap<String, ClientTransaction> = HashMap::new();
    let mut next = first;
    let result = loop {
        if let Some(item) = next.take() {
            let mut item = item;
            for _ in 0..MAX_BATCH {
                queue_write(item, &mut wbuf, &mut transactions, timeout);
                match rx.try_recv() {
                    Ok(more) => item = more,
                    Err(_) => break,
                }
            }
            if let Err(e) = io.write_all(&wbuf).await {
                break Err(e.into());
            }
            wbuf.clear();
        }
        let earliest = transactions.values().map(|t| t.deadline).min();
        tokio::select! {
            item = rx.recv() => match item {
                Some(item) => next = Some(item),
                None => break Ok(()),
            },
            read = io.read_buf(&mut rbuf) => match read {
                Ok(0) => break Err(ConnError::Closed),
                Ok(_) => {
                    if let Err(e) = process(&mut rbuf, &mut wbuf, &limits, &peer, &gw, &tx, &mut transactions) {
                        let _ = io.write_all(&wbuf).await;
                        break Err(e);
                    }
                    if !wbuf.is_empty() {
                        if let Err(e) = io.write_all(&wbuf).await {
                            break Err(e.into());
                        }
                        wbuf.clear();
                    }
                    if rbuf.capacity() - rbuf.len() < 1024 {
                        rbuf.reserve(READ_CHUNK);
                    }
                }
                Err(e) => break Err(e.into()),
            },
            () = sleep_until_opt(earliest) => {
                let now = Instant::now();
                let expired: Vec<String> = transactions.iter().filter(|(_, t)| t.deadline <= now).map(|(b, _)| b.clone()).collect();
                for branch in expired {
                    if let Some(t) = transactions.remove(&branch) {
                        let _ = t.respond.send(SipFinal::local(408, "Request Timeout"));
                    }
                }
            },
            () = cancel.cancelled(), if transactions.is_empty() => break Err(ConnError::Shutdown),
        }
    };
    for (_, t) in transactions.drain() {
        let _ = t.respond.send(SipFinal::local(503, "Connection Lost"));
    }
    let _ = io.shutdown().await;
    result
}

async fn sleep_until_opt(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

fn queue_write(
    item: SipOut,
    wbuf: &mut BytesMut,
    transactions: &mut HashMap<String, ClientTransaction>,
    timeout: Duration,
) {
    match item {
        SipOut::Response(bytes) => wbuf.extend_from_slice(&bytes),
        SipOut::Request {
            bytes,
            branch,
            respond,
        } => {
            wbuf.extend_from_slice(&bytes);
            transactions.insert(
                branch,
                ClientTransaction {
                    respond,
                    deadline: Instant::now() + timeout,
                },
            );
        }
    }
}

/// Frame and dispatch everything complete in `rbuf`. Errors that lose the framing end the
/// connection (after a response is queued in `wbuf` where one can be sent).
fn process(
    rbuf: &mut BytesMut,
    wbuf: &mut BytesMut,
    limits: &crate::sip::SipLimits,
    peer: &PeerCerts,
    gw: &Arc<Gateway>,
    tx: &mpsc::Sender<SipOut>,
    transactions: &mut HashMap<String, ClientTransaction>,
) -> Result<(), ConnError> {
    loop {
        let item = match framing::frame_stream(rbuf, limits) {
            Ok(Some(item)) => item,
            Ok(None) => return Ok(()),
            Err(e) => {
                warn!(error = %e, "unframeable SIP stream; closing");
                return Err(ConnError::Sip(e));
            }
        };
        let bytes = rbuf.split_to(item.len()).freeze();
        match item {
            StreamItem::Ping => wbuf.extend_from_slice(b"\r\n"),
            StreamItem::Pong => {}
            StreamItem::Message { .. } => match SipMessage::parse(bytes.clone(), limits) {
                Ok(msg) if msg.status().is_some() => on_response(msg, transactions),
                Ok(msg) => {
                    let (gw, peer, tx) = (gw.clone(), peer.clone(), tx.clone());
                    gw.clone().tracker().spawn(async move {
                        if let Some(response) = gw.sip_request(&peer, msg).await {
                            let _ = tx.send(SipOut::Response(response)).await;
                        }
                    });
                }
                Err(e) => on_parse_error(e, &bytes, wbuf),
            },
        }
    }
}

fn on_response(msg: SipMessage, transactions: &mut HashMap<String, ClientTransaction>) {
    let (Some(code), Ok(via)) = (msg.status(), msg.via()) else {
        debug!("response without status or Via ignored");
        return;
    };
    if code < 200 {
        return;
    }
    let Some(t) = via.branch.and_then(|b| transactions.remove(b)) else {
        debug!(code, "response matches no client transaction");
        return;
    };
    let reason = msg.reason().unwrap_or_default().to_owned();
    let _ = t.respond.send(SipFinal { code, reason });
}

/// A message that framed but does not parse: a request is answered with the mapped status
/// (RFC 3261 §8.2); a broken response cannot be answered and is only logged.
fn on_parse_error(e: SipError, raw: &[u8], wbuf: &mut BytesMut) {
    metrics::parse_error(Protocol::Sip, (&e).into());
    let answered = reject::write_rejection(wbuf, raw, e);
    warn!(error = %e, answered, "unparsable SIP message");
}
