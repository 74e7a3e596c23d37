//! A private CA and per-domain certificates for the tests, written to a temp directory.

use std::path::PathBuf;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair, SanType};

pub struct Pki {
    pub dir: PathBuf,
    /// A shared handle for a spawned peer: does not delete the directory when dropped.
    pub keep: bool,
}

impl Pki {
    /// CA plus a certificate for each domain (DNS + sip: URI SANs).
    pub fn new(tag: &str, domains: &[&str]) -> Pki {
        let dir = std::env::temp_dir().join(format!("parley-test-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
        std::fs::write(dir.join("ca.crt"), ca.pem()).unwrap();
        for d in domains {
            let mut p = CertificateParams::new(vec![d.to_string()]).unwrap();
            p.subject_alt_names
                .push(SanType::URI(format!("sip:{d}").try_into().unwrap()));
            let key = KeyPair::generate().unwrap();
            let cert = p.signed_by(&key, &ca).unwrap();
            std::fs::write(dir.join(format!("{d}.crt")), cert.pem()).unwrap();
            std::fs::write(dir.join(format!("{d}.key")), key.serialize_pem()).unwrap();
        }
        Pki { dir, keep: false }
    }

    /// The `[[domain]]` tables of a gateway between sip.test (next hop `sip_hop`) and
    /// xmpp.test (`xmpp_hop`) with this PKI's certificates: the end of a test configuration.
    pub fn domains_toml(
        &self,
        xmpp_hop: impl std::fmt::Display,
        sip_hop: impl std::fmt::Display,
    ) -> String {
        let d = self.dir.display();
        format!(
            r#"[[domain]]
name = "sip.test"
side = "sip"
next_hop = "{sip_hop}"
cert_file = "{d}/sip.test.crt"
key_file = "{d}/sip.test.key"
[[domain]]
name = "xmpp.test"
side = "xmpp"
next_hop = "{xmpp_hop}"
cert_file = "{d}/xmpp.test.crt"
key_file = "{d}/xmpp.test.key""#
        )
    }

    /// A whole gateway configuration on loopback (ephemeral listeners, this PKI's CA and
    /// certificates): `sections` (policy and the like) between the listeners and the domains.
    pub fn gateway_toml(
        &self,
        xmpp_hop: impl std::fmt::Display,
        sip_hop: impl std::fmt::Display,
        sections: &str,
    ) -> String {
        let d = self.dir.display();
        let domains = self.domains_toml(xmpp_hop, sip_hop);
        format!(
            r#"state_dir = "{d}/state"
[log]
level = "info"
[tls]
ca_file = "{d}/ca.crt"
[sip]
listen_tls = ["127.0.0.1:0"]
[xmpp]
listen = ["127.0.0.1:0"]
{sections}
{domains}
"#
        )
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn roots(&self) -> rustls::RootCertStore {
        use rustls_pki_types::pem::PemObject;
        let mut roots = rustls::RootCertStore::empty();
        for c in rustls_pki_types::CertificateDer::pem_file_iter(self.path("ca.crt")).unwrap() {
            roots.add(c.unwrap()).unwrap();
        }
        roots
    }

    fn chain_and_key(
        &self,
        domain: &str,
    ) -> (
        Vec<rustls_pki_types::CertificateDer<'static>>,
        rustls_pki_types::PrivateKeyDer<'static>,
    ) {
        use rustls_pki_types::pem::PemObject;
        let chain =
            rustls_pki_types::CertificateDer::pem_file_iter(self.path(&format!("{domain}.crt")))
                .unwrap()
                .map(Result::unwrap)
                .collect();
        let key =
            rustls_pki_types::PrivateKeyDer::from_pem_file(self.path(&format!("{domain}.key")))
                .unwrap();
        (chain, key)
    }

    /// A TLS client presenting `domain`'s certificate and trusting the CA.
    pub fn client(&self, domain: &str) -> tokio_rustls::TlsConnector {
        let (chain, key) = self.chain_and_key(domain);
        let config = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(self.roots())
            .with_client_auth_cert(chain, key)
            .unwrap();
        tokio_rustls::TlsConnector::from(std::sync::Arc::new(config))
    }

    /// A TLS client presenting no certificate (so SASL EXTERNAL is not possible).
    pub fn anonymous_client(&self) -> tokio_rustls::TlsConnector {
        let config = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(self.roots())
            .with_no_client_auth();
        tokio_rustls::TlsConnector::from(std::sync::Arc::new(config))
    }

    /// A TLS server presenting `domain`'s certificate, asking for (optional) client certs.
    pub fn server(&self, domain: &str) -> tokio_rustls::TlsAcceptor {
        let (chain, key) = self.chain_and_key(domain);
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
            self.roots().into(),
            provider(),
        )
        .allow_unauthenticated()
        .build()
        .unwrap();
        let config = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain, key)
            .unwrap();
        tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config))
    }
}

fn provider() -> std::sync::Arc<rustls::crypto::CryptoProvider> {
    std::sync::Arc::new(rustls::crypto::ring::default_provider())
}

impl Drop for Pki {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}
