//! TLS contexts (tokio-rustls, ring provider): the certificate parley presents per domain
//! (chosen by SNI), the CA peers are verified against, and one client config per local domain.
//! Makes no authorization decision: [`crate::auth`] does, from the verified certificate.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::ResolvesClientCert;
use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{ClientConfig, RootCertStore, ServerConfig, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, TrustAnchor};
use tokio_rustls::{TlsAcceptor, TlsConnector};

use crate::config::Side;

/// Files for one domain.
#[derive(Debug, Clone)]
pub struct DomainCert {
    /// Domain name (lower case).
    pub domain: String,
    /// Which side the domain is on.
    pub side: Side,
    /// PEM chain.
    pub cert_file: PathBuf,
    /// PEM private key.
    pub key_file: PathBuf,
}

/// Why TLS material could not be loaded. Fatal at start-up (exit 64); on reload the old
/// context stays.
#[derive(Debug)]
pub enum TlsError {
    /// A PEM file could not be read or decoded.
    Pem {
        /// The file.
        path: PathBuf,
        /// Why.
        source: rustls_pki_types::pem::Error,
    },
    /// A PEM file held no certificate.
    NoCertificate(PathBuf),
    /// rustls refused the material (bad key, unsupported algorithm, bad CA).
    Rustls {
        /// The file involved.
        path: PathBuf,
        /// Why.
        source: rustls::Error,
    },
    /// The client-certificate verifier could not be built (e.g. an empty CA file).
    Verifier(rustls::server::VerifierBuilderError),
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsError::Pem { path, source } => write!(f, "{}: {source}", path.display()),
            TlsError::NoCertificate(path) => {
                write!(f, "{}: no certificate in file", path.display())
            }
            TlsError::Rustls { path, source } => write!(f, "{}: {source}", path.display()),
            TlsError::Verifier(e) => write!(f, "CA certificates: {e}"),
        }
    }
}

impl std::error::Error for TlsError {}

/// Everything TLS the gateway needs, built once per config (and again on reload).
#[derive(Clone)]
pub struct TlsContext {
    sip_acceptor: TlsAcceptor,
    xmpp_acceptor: TlsAcceptor,
    connectors: HashMap<String, TlsConnector>,
    xmpp_anchors: Arc<PeerAnchors>,
}

/// The trust anchors each XMPP peer domain's certificates must chain to: its own `ca_file`,
/// else the global one. TLS on s2s links accepts the union (the peer's domain is not known
/// at the handshake); [`crate::auth::verify_xmpp_peer`] then applies the peer's own set.
#[derive(Debug, Default)]
struct PeerAnchors {
    global: Vec<TrustAnchor<'static>>,
    per_peer: HashMap<String, Vec<TrustAnchor<'static>>>,
}

impl fmt::Debug for TlsContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsContext")
            .field("local_domains", &self.connectors.keys())
            .finish()
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

impl TlsContext {
    /// Load every certificate and key, and the CA file.
    pub fn build(domains: &[DomainCert], ca_file: &Path) -> Result<TlsContext, TlsError> {
        TlsContext::build_with_peer_cas(domains, ca_file, &[])
    }

    /// [`TlsContext::build`], with CA files of their own for some XMPP peer domains
    /// (`(domain, PEM file)`): those peers are verified against that file instead of
    /// `ca_file`.
    pub fn build_with_peer_cas(
        domains: &[DomainCert],
        ca_file: &Path,
        peer_cas: &[(String, PathBuf)],
    ) -> Result<TlsContext, TlsError> {
        let provider = provider();
        let roots = Arc::new(load_roots(ca_file)?);
        let mut anchors = PeerAnchors {
            global: roots.roots.clone(),
            per_peer: HashMap::new(),
        };
        let mut s2s_roots = (*roots).clone();
        for (domain, path) in peer_cas {
            let own = load_roots(path)?;
            s2s_roots.roots.extend(own.roots.iter().cloned());
            anchors
                .per_peer
                .insert(domain.to_ascii_lowercase(), own.roots);
        }
        let s2s_roots = Arc::new(s2s_roots);
        let mut keys = Vec::with_capacity(domains.len());
        for d in domains {
            keys.push((d, Arc::new(load_certified_key(&provider, d)?)));
        }
        let acceptor = |side: Side,
                        require_client_cert: bool,
                        roots: &Arc<RootCertStore>|
         -> Result<TlsAcceptor, TlsError> {
            let resolver = SniResolver::new(
                keys.iter()
                    .filter(|(d, _)| d.side == side)
                    .map(|(d, k)| (d.domain.clone(), k.clone())),
            );
            let builder =
                WebPkiClientVerifier::builder_with_provider(roots.clone(), provider.clone());
            let verifier = if require_client_cert {
                builder.build()
            } else {
                builder.allow_unauthenticated().build()
            }
            .map_err(TlsError::Verifier)?;
            let config = ServerConfig::builder_with_provider(provider.clone())
                .with_safe_default_protocol_versions()
                .map_err(|source| TlsError::Rustls {
                    path: ca_file.to_owned(),
                    source,
                })?
                .with_client_cert_verifier(verifier)
                .with_cert_resolver(Arc::new(resolver));
            Ok(TlsAcceptor::from(Arc::new(config)))
        };
        // On its SIP listener parley speaks for the XMPP-side domains, and the other way round.
        let sip_acceptor = acceptor(Side::Xmpp, true, &roots)?;
        let xmpp_acceptor = acceptor(Side::Sip, false, &s2s_roots)?;
        let mut connectors = HashMap::new();
        for (d, key) in &keys {
            // A SIP-side domain's connector dials XMPP peers (s2s), and the other way round.
            let roots = match d.side {
                Side::Sip => &s2s_roots,
                Side::Xmpp => &roots,
            };
            let config = ClientConfig::builder_with_provider(provider.clone())
                .with_safe_default_protocol_versions()
                .map_err(|source| TlsError::Rustls {
                    path: d.cert_file.clone(),
                    source,
                })?
                .with_root_certificates(roots.clone())
                .with_client_cert_resolver(Arc::new(FixedClientCert(key.clone())));
            connectors.insert(d.domain.clone(), TlsConnector::from(Arc::new(config)));
        }
        Ok(TlsContext {
            sip_acceptor,
            xmpp_acceptor,
            connectors,
            xmpp_anchors: Arc::new(anchors),
        })
    }

    /// Acceptor for SIP TLS listeners (client certificate required, RFC 5922).
    pub fn sip_acceptor(&self) -> &TlsAcceptor {
        &self.sip_acceptor
    }

    /// Acceptor for XMPP s2s STARTTLS (client certificate optional: SASL EXTERNAL uses it).
    pub fn xmpp_acceptor(&self) -> &TlsAcceptor {
        &self.xmpp_acceptor
    }

    /// The trust anchors for the XMPP peer domain `domain` (lower case): its own CA file
    /// when it has one, else the global CA file.
    pub fn xmpp_peer_anchors(&self, domain: &str) -> &[TrustAnchor<'static>] {
        self.xmpp_anchors
            .per_peer
            .get(domain)
            .unwrap_or(&self.xmpp_anchors.global)
    }

    /// Connector presenting `local_domain`'s certificate.
    pub fn connector(&self, local_domain: &str) -> Option<&TlsConnector> {
        self.connectors.get(local_domain)
    }
}

fn load_roots(ca_file: &Path) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    for cert in read_certs(ca_file)? {
        roots.add(cert).map_err(|source| TlsError::Rustls {
            path: ca_file.to_owned(),
            source,
        })?;
    }
    Ok(roots)
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|source| TlsError::Pem {
            path: path.to_owned(),
            source,
        })?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate(path.to_owned()));
    }
    Ok(certs)
}

fn load_certified_key(provider: &CryptoProvider, d: &DomainCert) -> Result<CertifiedKey, TlsError> {
    let chain = read_certs(&d.cert_file)?;
    let key = PrivateKeyDer::from_pem_file(&d.key_file).map_err(|source| TlsError::Pem {
        path: d.key_file.clone(),
        source,
    })?;
    CertifiedKey::from_der(chain, key, provider).map_err(|source| TlsError::Rustls {
        path: d.key_file.clone(),
        source,
    })
}

/// Picks the certificate by SNI; without SNI (or an unknown name) the first domain's.
#[derive(Debug)]
struct SniResolver {
    by_name: HashMap<String, Arc<CertifiedKey>>,
    default: Option<Arc<CertifiedKey>>,
}

impl SniResolver {
    fn new(keys: impl Iterator<Item = (String, Arc<CertifiedKey>)>) -> SniResolver {
        let mut by_name = HashMap::new();
        let mut default = None;
        for (name, key) in keys {
            default.get_or_insert_with(|| key.clone());
            by_name.insert(name, key);
        }
        SniResolver { by_name, default }
    }
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        hello
            .server_name()
            .and_then(|n| self.by_name.get(&n.to_ascii_lowercase()))
            .or(self.default.as_ref())
            .cloned()
    }
}

/// Always presents the local domain's certificate when the server asks for one.
#[derive(Debug)]
struct FixedClientCert(Arc<CertifiedKey>);

impl ResolvesClientCert for FixedClientCert {
    fn resolve(&self, _hints: &[&[u8]], _schemes: &[SignatureScheme]) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }

    fn has_certs(&self) -> bool {
        true
    }
}
