//! TLS material for the load tool: a private CA with per-domain certificates (written by
//! `parley-load setup`), and the client/server configurations built from it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType, IsCa, KeyPair,
    SanType,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// A directory holding `ca.crt` and `DOMAIN.crt` / `DOMAIN.key`.
#[derive(Clone)]
pub struct Pki {
    pub dir: PathBuf,
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

type Res<T> = Result<T, String>;

impl Pki {
    /// Write a fresh CA and a certificate for each domain (DNS and `sip:` URI SANs). Each
    /// certificate names its own subject: with rcgen's one default name for all, OpenSSL
    /// peers (Kamailio's `tls` module) take a leaf for self-signed and refuse it.
    pub fn generate(dir: &Path, domains: &[&str]) -> Res<Pki> {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        let e = |e: rcgen::Error| e.to_string();
        let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(e)?;
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name = common_name("parley-load test CA");
        let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().map_err(e)?).map_err(e)?;
        let write = |name: String, text: String| {
            std::fs::write(dir.join(&name), text).map_err(|e| format!("{name}: {e}"))
        };
        write("ca.crt".into(), ca.pem())?;
        for d in domains {
            let mut p = CertificateParams::new(vec![d.to_string()]).map_err(e)?;
            let uri = format!("sip:{d}").try_into().map_err(e)?;
            p.subject_alt_names.push(SanType::URI(uri));
            p.distinguished_name = common_name(d);
            let key = KeyPair::generate().map_err(e)?;
            let cert = p.signed_by(&key, &ca).map_err(e)?;
            write(format!("{d}.crt"), cert.pem())?;
            write(format!("{d}.key"), key.serialize_pem())?;
        }
        Ok(Pki {
            dir: dir.to_owned(),
        })
    }

    fn roots(&self) -> Res<rustls::RootCertStore> {
        let path = self.dir.join("ca.crt");
        let mut roots = rustls::RootCertStore::empty();
        for c in CertificateDer::pem_file_iter(&path).map_err(|e| format!("{path:?}: {e}"))? {
            roots
                .add(c.map_err(|e| format!("{path:?}: {e}"))?)
                .map_err(|e| e.to_string())?;
        }
        Ok(roots)
    }

    fn chain_and_key(
        &self,
        domain: &str,
    ) -> Res<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)> {
        let crt = self.dir.join(format!("{domain}.crt"));
        let key = self.dir.join(format!("{domain}.key"));
        let chain = CertificateDer::pem_file_iter(&crt)
            .map_err(|e| format!("{crt:?}: {e}"))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("{crt:?}: {e}"))?;
        let key = PrivateKeyDer::from_pem_file(&key).map_err(|e| format!("{key:?}: {e}"))?;
        Ok((chain, key))
    }

    /// A client presenting `domain`'s certificate.
    pub fn client(&self, domain: &str) -> Res<tokio_rustls::TlsConnector> {
        let (chain, key) = self.chain_and_key(domain)?;
        let config = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(self.roots()?)
            .with_client_auth_cert(chain, key)
            .map_err(|e| e.to_string())?;
        Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
    }

    /// A server presenting `domain`'s certificate and asking for an optional client one.
    pub fn server(&self, domain: &str) -> Res<tokio_rustls::TlsAcceptor> {
        let (chain, key) = self.chain_and_key(domain)?;
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
            self.roots()?.into(),
            provider(),
        )
        .allow_unauthenticated()
        .build()
        .map_err(|e| e.to_string())?;
        let config = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain, key)
            .map_err(|e| e.to_string())?;
        Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
    }
}

/// The addresses `parley-load setup` lays out from a base port on 127.0.0.1.
pub struct Plan {
    pub sip_tls: u16,
    pub xmpp: u16,
    pub xmpp_sink: u16,
    pub sip_sink: u16,
    pub admin: u16,
}

impl Plan {
    pub fn new(base: u16) -> Plan {
        Plan {
            sip_tls: base,
            xmpp: base + 1,
            xmpp_sink: base + 2,
            sip_sink: base + 3,
            admin: base + 4,
        }
    }
}

/// parley's configuration for a load run: `sip.test` (SIP side, reached at the SIP sink) and
/// `xmpp.test` (XMPP side, reached at the XMPP sink), everything on loopback.
pub fn parley_config(
    dir: &Path,
    plan: &Plan,
    log_level: &str,
    audit: bool,
    bounce_window_ms: Option<u64>,
) -> String {
    let d = dir.display();
    format!(
        r#"# parley for a parley-load run (written by `parley-load setup`)
state_dir = "{d}/state"
[log]
level = "{log_level}"
[tls]
ca_file = "{d}/ca.crt"
[metrics]
listen = "127.0.0.1:{admin}"
# The generator is one stranger sending to one user as fast as it can: no consent gate, no
# rate buckets, or the run measures the policy instead of the gateway.
[audit]
output = "{audit}"
[policy.consent]
enable = false
[policy.limits]
domain_rate = 0
sender_rate = 0
# Every generator connection comes from 127.0.0.1: the per-address bound would refuse the
# idle-connection run past its default of 256.
[connections]
max_per_ip = 20000
sip_max_inbound = 20000
xmpp_max_inbound = 20000
[sip]
listen_tls = ["127.0.0.1:{sip}"]
{bounce}[xmpp]
listen = ["127.0.0.1:{xmpp}"]
[[domain]]
name = "sip.test"
side = "sip"
next_hop = "127.0.0.1:{sip_sink}"
cert_file = "{d}/sip.test.crt"
key_file = "{d}/sip.test.key"
[[domain]]
name = "xmpp.test"
side = "xmpp"
next_hop = "127.0.0.1:{xmpp_sink}"
cert_file = "{d}/xmpp.test.crt"
key_file = "{d}/xmpp.test.key"
"#,
        audit = if audit { "file" } else { "off" },
        bounce = bounce_window_ms
            .map(|ms| format!("bounce_window_ms = {ms}\n"))
            .unwrap_or_default(),
        admin = plan.admin,
        sip = plan.sip_tls,
        xmpp = plan.xmpp,
        sip_sink = plan.sip_sink,
        xmpp_sink = plan.xmpp_sink,
    )
}

fn common_name(cn: &str) -> DistinguishedName {
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, cn);
    name
}
