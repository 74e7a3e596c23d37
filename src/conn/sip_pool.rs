//! Outbound SIP connections, one per (local domain, remote domain), over TLS to the remote
//! domain's next hop, verifying its certificate (RFC 5922) and presenting the local domain's.
//! Created on demand, reused, re-established on the next request after a failure.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use dashmap::DashMap;
use rustls_pki_types::ServerName;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tracing::{Instrument, debug, info, info_span, warn};

use super::ConnError;
use super::sip_conn::{self, SipFinal, SipOut};
use super::sip_udp::UdpOut;
use crate::auth;
use crate::metrics::{self, Protocol, TlsFailure};
use crate::routing::Gateway;

const QUEUE_DEPTH: usize = 4096;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The pool of outbound SIP connections.
#[derive(Debug, Default)]
pub struct SipPool {
    queues: DashMap<(String, String), mpsc::Sender<SipOut>>,
    udp: OnceLock<mpsc::Sender<UdpOut>>,
}

impl SipPool {
    /// The first bound UDP socket, for requests sent over UDP.
    pub fn attach_udp(&self, tx: mpsc::Sender<UdpOut>) {
        let _ = self.udp.set(tx);
    }

    /// Send a request over UDP to `to` (retransmitted by Timer E until a final response or
    /// Timer F); a request too large for the MTU is answered 513 locally.
    pub fn request_udp(
        &self,
        to: SocketAddr,
        bytes: Bytes,
        branch: String,
    ) -> oneshot::Receiver<SipFinal> {
        let (respond, rx) = oneshot::channel();
        let Some(udp) = self.udp.get() else {
            let _ = respond.send(SipFinal::local(503, "No UDP Transport"));
            return rx;
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
        rx
    }

    /// Send a request from `local` to `remote`; the returned receiver gets its final response
    /// (a local 408/502/503 when the peer cannot be reached).
    pub fn request(
        &self,
        gw: &Arc<Gateway>,
        local: &str,
        remote: &str,
        bytes: Bytes,
        branch: String,
    ) -> oneshot::Receiver<SipFinal> {
        let (respond, rx) = oneshot::channel();
        let key = (local.to_owned(), remote.to_owned());
        let tx = self
            .queues
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
            .clone();
        if let Err(e) = tx.try_send(SipOut::Request {
            bytes,
            branch,
            respond,
        }) {
            let (reason, item) = match e {
                mpsc::error::TrySendError::Full(i) => ("Queue Full", i),
                mpsc::error::TrySendError::Closed(i) => ("Shutting Down", i),
            };
            if let SipOut::Request { respond, .. } = item {
                let _ = respond.send(SipFinal::local(503, reason));
            }
        }
        rx
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
    loop {
        let first = tokio::select! {
            item = rx.recv() => match item { Some(i) => i, None => return },
            () = cancel.cancelled() => return,
        };
        match connect(&gw, &local, &remote).await {
            Ok((tls, certs)) => {
                info!("outbound SIP TLS connection established");
                let counted = metrics::connection(Protocol::Sip, false, &remote);
                match sip_conn::drive(
                    tls,
                    certs,
                    gw.clone(),
                    &mut rx,
                    tx.clone(),
                    Some(first),
                    counted,
                )
                .await
                {
                    Ok(()) => return,
                    Err(e) if e.is_ordinary() => {
                        debug!(error = %e, "outbound SIP connection ended")
                    }
                    Err(e) => warn!(error = %e, "outbound SIP connection failed"),
                }
            }
            Err(e) => {
                let local_final = match e {
                    ConnError::Timeout(_) => SipFinal::local(408, "Request Timeout"),
                    _ => SipFinal::local(502, "Bad Gateway"),
                };
                warn!(error = %e, "outbound SIP connect failed; failing queued requests");
                fail(first, &local_final);
                while let Ok(item) = rx.try_recv() {
                    fail(item, &local_final);
                }
            }
        }
    }
}

fn fail(item: SipOut, f: &SipFinal) {
    if let SipOut::Request { respond, .. } = item {
        let _ = respond.send(f.clone());
    }
}

type Connected = (
    tokio_rustls::client::TlsStream<TcpStream>,
    sip_conn::PeerCerts,
);

async fn connect(gw: &Gateway, local: &str, remote: &str) -> Result<Connected, ConnError> {
    let next_hop = gw
        .config()
        .domain(remote)
        .and_then(|d| d.next_hop.clone())
        .ok_or_else(|| ConnError::UnknownDomain(remote.to_owned()))?;
    let connector = gw
        .tls()
        .connector(local)
        .cloned()
        .ok_or_else(|| ConnError::UnknownDomain(local.to_owned()))?;
    let name = ServerName::try_from(remote.to_owned())
        .map_err(|_| ConnError::UnknownDomain(remote.to_owned()))?;
    let attempt = async {
        let tcp = TcpStream::connect(&next_hop).await?;
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
        Ok::<_, ConnError>((tls, Arc::new(certs)))
    };
    tokio::time::timeout(CONNECT_TIMEOUT, attempt)
        .await
        .map_err(|_| ConnError::Timeout("SIP TLS connect"))?
}
