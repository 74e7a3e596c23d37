//! The running daemon: [`App::build`] loads TLS material and binds every listener (so errors
//! surface before readiness), [`App::run`] spawns the accept loops and waits for shutdown.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{Instrument, debug, info, info_span, warn};

use crate::config::Config;
use crate::conn::{self, s2s_in, sip_conn, sip_udp};
use crate::metrics::{self, Protocol, TlsFailure};
use crate::routing::Gateway;
use crate::store::RedbStore;
use crate::transport::certgen;
use crate::transport::tls::{DomainCert, TlsContext, TlsError};

/// Connections accepted at once per listener kind; more wait in the kernel backlog.
const MAX_CONNECTIONS: usize = 16 * 1024;

/// Why the daemon could not start.
#[derive(Debug)]
pub enum StartError {
    /// Generated TLS material could not be written.
    CertGen(io::Error),
    /// TLS material could not be loaded.
    Tls(TlsError),
    /// The state store could not be opened.
    Store(crate::store::StoreError),
    /// A listener could not be bound.
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: io::Error,
    },
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartError::CertGen(e) => write!(f, "generating TLS material: {e}"),
            StartError::Tls(e) => write!(f, "loading TLS material: {e}"),
            StartError::Store(e) => write!(f, "opening state: {e}"),
            StartError::Bind { addr, source } => write!(f, "binding {addr}: {source}"),
        }
    }
}

impl std::error::Error for StartError {}

/// A built daemon: listeners bound, not yet accepting.
#[derive(Debug)]
pub struct App {
    gw: Arc<Gateway>,
    sip_listeners: Vec<TcpListener>,
    sip_tcp_listeners: Vec<TcpListener>,
    sip_udp_sockets: Vec<UdpSocket>,
    xmpp_listeners: Vec<TcpListener>,
    xmpp_tls_listeners: Vec<TcpListener>,
}

impl App {
    /// Load TLS material (generating it for a config that names none) and bind listeners.
    pub async fn build(config: Config, cancel: CancellationToken) -> Result<App, StartError> {
        let (certs, ca_file) = tls_material(&config)?;
        let tls = TlsContext::build_with_peer_cas(&certs, &ca_file, &config.xmpp_peer_cas())
            .map_err(StartError::Tls)?;
        let mut sip_listeners = Vec::new();
        for addr in &config.sip.listen_tls {
            sip_listeners.push(bind(*addr).await?);
        }
        let mut sip_tcp_listeners = Vec::new();
        for addr in &config.sip.listen_tcp {
            sip_tcp_listeners.push(bind(*addr).await?);
        }
        let mut sip_udp_sockets = Vec::new();
        for addr in &config.sip.listen_udp {
            let socket = UdpSocket::bind(addr)
                .await
                .map_err(|source| StartError::Bind {
                    addr: *addr,
                    source,
                })?;
            sip_udp_sockets.push(socket);
        }
        let mut xmpp_listeners = Vec::new();
        for addr in &config.xmpp.listen {
            xmpp_listeners.push(bind(*addr).await?);
        }
        let mut xmpp_tls_listeners = Vec::new();
        for addr in &config.xmpp.listen_tls {
            xmpp_tls_listeners.push(bind(*addr).await?);
        }
        let store =
            RedbStore::open(&config.state_dir().join("state.redb")).map_err(StartError::Store)?;
        let contacts = crate::store::ContactBook::load(&store).map_err(StartError::Store)?;
        let gw = Arc::new(
            Gateway::new(config, tls, cancel, TaskTracker::new())
                .with_store(Arc::new(store))
                .with_contacts(contacts),
        );
        Ok(App {
            gw,
            sip_listeners,
            sip_tcp_listeners,
            sip_udp_sockets,
            xmpp_listeners,
            xmpp_tls_listeners,
        })
    }

    /// Addresses actually bound (ports resolved): SIP TLS, XMPP STARTTLS, XMPP direct TLS.
    pub fn local_addrs(&self) -> (Vec<SocketAddr>, Vec<SocketAddr>, Vec<SocketAddr>) {
        let addrs = |ls: &[TcpListener]| ls.iter().filter_map(|l| l.local_addr().ok()).collect();
        (
            addrs(&self.sip_listeners),
            addrs(&self.xmpp_listeners),
            addrs(&self.xmpp_tls_listeners),
        )
    }

    /// The gateway, to reload it while it runs.
    pub fn gateway(&self) -> Arc<Gateway> {
        self.gw.clone()
    }

    /// SIP addresses bound without TLS: plain TCP listeners, UDP sockets.
    pub fn sip_plain_addrs(&self) -> (Vec<SocketAddr>, Vec<SocketAddr>) {
        (
            (self.sip_tcp_listeners.iter())
                .filter_map(|l| l.local_addr().ok())
                .collect(),
            (self.sip_udp_sockets.iter())
                .filter_map(|s| s.local_addr().ok())
                .collect(),
        )
    }

    /// Accept until the shutdown token fires, then drain in-flight work for at most `grace`.
    /// Returns whether everything finished within the grace period.
    pub async fn run(self, grace: Duration) -> bool {
        let App {
            gw,
            sip_listeners,
            sip_tcp_listeners,
            sip_udp_sockets,
            xmpp_listeners,
            xmpp_tls_listeners,
        } = self;
        let tracker = gw.tracker().clone();
        let cancel = gw.shutdown_token();
        let sip_slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
        let xmpp_slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
        for l in sip_listeners {
            tracker.spawn(accept_loop(l, gw.clone(), sip_slots.clone(), Kind::Sip));
        }
        for l in sip_tcp_listeners {
            tracker.spawn(accept_loop(l, gw.clone(), sip_slots.clone(), Kind::SipTcp));
        }
        let mtu = gw.config().sip.udp_mtu;
        for socket in sip_udp_sockets {
            let span = info_span!("sip_udp", local.addr = ?socket.local_addr().ok());
            let (tx, rx) = tokio::sync::mpsc::channel(1024);
            gw.sip_udp_attach(tx.clone());
            tracker.spawn(sip_udp::serve(socket, gw.clone(), rx, tx, mtu).instrument(span));
        }
        for l in xmpp_listeners {
            tracker.spawn(accept_loop(
                l,
                gw.clone(),
                xmpp_slots.clone(),
                Kind::Xmpp(s2s_in::Mode::StartTls),
            ));
        }
        for l in xmpp_tls_listeners {
            tracker.spawn(accept_loop(
                l,
                gw.clone(),
                xmpp_slots.clone(),
                Kind::Xmpp(s2s_in::Mode::DirectTls),
            ));
        }
        gw.start_durable();
        cancel.cancelled().await;
        // Draining: load balancers stop sending new work; liveness stays up until exit.
        crate::admin::draining();
        tracker.close();
        info!(
            grace_ms = grace.as_millis() as u64,
            "draining in-flight work"
        );
        tokio::time::timeout(grace, tracker.wait()).await.is_ok()
    }
}

/// Put a new config in force on a running gateway (SIGHUP): validate it, load its TLS
/// material, then swap. On any error the config in force stays and the error is returned.
/// Listener addresses and the state directory are fixed at start; a change is ignored
/// with a warning.
pub fn reload(gw: &Gateway, config: Config) -> Result<(), ReloadError> {
    config.validate().map_err(ReloadError::Config)?;
    let old = gw.config();
    if config.sip.listen_tls != old.sip.listen_tls
        || config.xmpp.listen != old.xmpp.listen
        || config.xmpp.listen_tls != old.xmpp.listen_tls
        || config.state_dir() != old.state_dir()
    {
        warn!("listen addresses and state_dir change only on restart; keeping the bound ones");
    }
    if config.dns != old.dns {
        warn!("[dns] changes only on restart; keeping the name servers in use");
    }
    let (certs, ca_file) = tls_material(&config).map_err(ReloadError::Start)?;
    let tls = TlsContext::build_with_peer_cas(&certs, &ca_file, &config.xmpp_peer_cas())
        .map_err(|e| ReloadError::Start(StartError::Tls(e)))?;
    gw.replace_config(config, tls);
    Ok(())
}

/// Why a reload was rejected (the old config stays in force).
#[derive(Debug)]
pub enum ReloadError {
    /// The new config is invalid.
    Config(crate::config::ConfigError),
    /// Its TLS material could not be loaded.
    Start(StartError),
}

impl std::fmt::Display for ReloadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReloadError::Config(e) => write!(f, "{e}"),
            ReloadError::Start(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for ReloadError {}

/// Certificates per domain and the CA file: configured, or generated under the state dir.
fn tls_material(config: &Config) -> Result<(Vec<DomainCert>, std::path::PathBuf), StartError> {
    let configured = config.domains.iter().all(|d| d.cert_file.is_some());
    if configured {
        let certs = config
            .domains
            .iter()
            .map(|d| DomainCert {
                domain: d.name.to_ascii_lowercase(),
                side: d.side,
                cert_file: d.cert_file.clone().unwrap_or_default(),
                key_file: d.key_file.clone().unwrap_or_default(),
            })
            .collect();
        return Ok((certs, config.tls.ca_file.clone().unwrap_or_default()));
    }
    let dir = config.state_dir().join("tls");
    let names: Vec<String> = config
        .domains
        .iter()
        .map(|d| d.name.to_ascii_lowercase())
        .collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let generated = certgen::ensure(&dir, &refs).map_err(StartError::CertGen)?;
    let verb = if generated.created {
        "generated"
    } else {
        "using generated"
    };
    info!(dir = %dir.display(), ca = %generated.ca_file.display(), "{verb} TLS material (private CA; for evaluation only)");
    let certs = generated
        .domains
        .into_iter()
        .zip(&config.domains)
        .map(|((domain, cert_file, key_file), d)| DomainCert {
            domain,
            side: d.side,
            cert_file,
            key_file,
        })
        .collect();
    Ok((certs, generated.ca_file))
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, StartError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Bind { addr, source })
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Sip,
    SipTcp,
    Xmpp(s2s_in::Mode),
}

async fn accept_loop(listener: TcpListener, gw: Arc<Gateway>, slots: Arc<Semaphore>, kind: Kind) {
    let cancel = gw.shutdown_token();
    loop {
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => return },
            () = cancel.cancelled() => return,
        };
        let (tcp, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(pair) => pair,
                Err(e) => {
                    warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = cancel.cancelled() => return,
        };
        let Some(slot) = kind.admit(&gw, peer, &tcp) else {
            continue;
        };
        let permit = (permit, slot);
        let gw2 = gw.clone();
        match kind {
            Kind::Xmpp(mode) => spawn_connection(
                &gw,
                info_span!("s2s_in", peer.addr = %peer),
                permit,
                s2s_in::serve(tcp, mode, gw2),
            ),
            Kind::Sip => spawn_connection(
                &gw,
                info_span!("sip_in", peer.addr = %peer),
                permit,
                serve_sip(tcp, gw2),
            ),
            Kind::SipTcp => spawn_connection(
                &gw,
                info_span!("sip_tcp_in", peer.addr = %peer),
                permit,
                serve_sip_tcp(tcp, gw2),
            ),
        }
    }
}

impl Kind {
    /// Admit an accepted connection under `[connections]` (transport::conn_limit).
    fn admit(
        self,
        gw: &Gateway,
        peer: SocketAddr,
        tcp: &TcpStream,
    ) -> Option<crate::transport::conn_limit::Slot> {
        use crate::transport::conn_limit::{Refusal, admit};
        let (protocol, refusal) = match self {
            Kind::Sip | Kind::SipTcp => (Protocol::Sip, Refusal::Close),
            Kind::Xmpp(s2s_in::Mode::StartTls) => (Protocol::Xmpp, Refusal::XmppStreamError),
            Kind::Xmpp(s2s_in::Mode::DirectTls) => (Protocol::Xmpp, Refusal::Close),
        };
        admit(&gw.config().connections, protocol, peer.ip(), tcp, refusal)
    }
}

async fn serve_sip(tcp: TcpStream, gw: Arc<Gateway>) -> Result<(), conn::ConnError> {
    tcp.set_nodelay(true)?;
    let handshake =
        tokio::time::timeout(Duration::from_secs(10), gw.tls().sip_acceptor().accept(tcp)).await;
    let tls = match handshake {
        Ok(Ok(tls)) => tls,
        Ok(Err(e)) => {
            let reason = TlsFailure::of_io(&e);
            metrics::tls_handshake_failure(Protocol::Sip, true, reason);
            info!(reason = reason.as_str(), error = %e, "inbound SIP TLS handshake failed");
            return Err(e.into());
        }
        Err(_) => {
            metrics::tls_handshake_failure(Protocol::Sip, true, TlsFailure::Timeout);
            info!(
                reason = TlsFailure::Timeout.as_str(),
                "inbound SIP TLS handshake failed"
            );
            return Err(conn::ConnError::Timeout("TLS handshake"));
        }
    };
    let certs = tls
        .get_ref()
        .1
        .peer_certificates()
        .map(|c| c.to_vec())
        .unwrap_or_default();
    debug!("SIP TLS connection accepted");
    let counted = metrics::connection(Protocol::Sip, true, &certificate_domain(&gw, &certs));
    let (tx, mut rx) = tokio::sync::mpsc::channel(1024);
    sip_conn::drive(tls, Arc::new(certs), gw, &mut rx, tx, None, counted).await
}

/// The configured SIP domain a peer's certificate names (its `parley_connections` label);
/// empty (counted as `other`) when it names none.
fn certificate_domain(gw: &Gateway, certs: &[rustls_pki_types::CertificateDer<'_>]) -> String {
    let config = gw.config();
    (config.domains.iter())
        .filter(|d| d.side == crate::config::Side::Sip)
        .find(|d| crate::auth::verify_certificate_for(Some(certs), &d.name).is_ok())
        .map(|d| d.name.to_ascii_lowercase())
        .unwrap_or_default()
}

/// SIP over plain TCP: no certificate, so the router sees an empty chain.
async fn serve_sip_tcp(tcp: TcpStream, gw: Arc<Gateway>) -> Result<(), conn::ConnError> {
    tcp.set_nodelay(true)?;
    debug!("SIP TCP connection accepted");
    let counted = metrics::connection_unnamed(Protocol::Sip, true);
    let (tx, mut rx) = tokio::sync::mpsc::channel(1024);
    sip_conn::drive(tcp, Arc::new(Vec::new()), gw, &mut rx, tx, None, counted).await
}

/// Run one accepted connection on the tracker, holding its connection permit until it ends.
fn spawn_connection<F>(
    gw: &Gateway,
    span: tracing::Span,
    permit: (
        tokio::sync::OwnedSemaphorePermit,
        crate::transport::conn_limit::Slot,
    ),
    serve: F,
) where
    F: std::future::Future<Output = Result<(), conn::ConnError>> + Send + 'static,
{
    gw.tracker().spawn(
        async move {
            let _permit = permit;
            end_of_connection(serve.await);
        }
        .instrument(span),
    );
}

fn end_of_connection(result: Result<(), conn::ConnError>) {
    match result {
        Ok(()) => debug!("connection closed"),
        Err(e) if e.is_ordinary() => debug!(error = %e, "connection closed"),
        Err(e) => info!(error = %e, "connection ended"),
    }
}
