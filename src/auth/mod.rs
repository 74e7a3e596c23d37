//! Peer authentication proofs (RFC 6120 §13.7.1.2 / XEP-0178 for XMPP, RFC 5922 §7 for SIP).
//!
//! A [`VerifiedDomain`] can only be made here, from a certificate that TLS already verified
//! against the trust anchors, after checking that the certificate names the domain. Routing
//! takes one as proof; nothing else can forge it.

pub mod dialback;

use std::fmt;
use std::sync::Arc;

use rustls_pki_types::{CertificateDer, ServerName};

/// A domain the peer proved it speaks for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VerifiedDomain(Arc<str>);

impl VerifiedDomain {
    /// The domain, lower case.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for VerifiedDomain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a peer is not authenticated for a domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthError {
    /// The peer presented no certificate.
    NoCertificate,
    /// The certificate could not be parsed.
    BadCertificate,
    /// The domain is not a valid DNS name.
    BadDomain,
    /// The certificate does not name the domain.
    NameMismatch,
    /// The authoritative server did not confirm the dialback key (XEP-0220).
    DialbackInvalid,
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AuthError::NoCertificate => "no client certificate",
            AuthError::BadCertificate => "unparsable certificate",
            AuthError::BadDomain => "not a domain name",
            AuthError::NameMismatch => "certificate does not name the domain",
            AuthError::DialbackInvalid => "dialback key not confirmed by the authoritative server",
        })
    }
}

impl std::error::Error for AuthError {}

/// Check that the (already chain-verified) end-entity certificate names `domain` in a DNS
/// subjectAltName, wildcards per RFC 6125.
pub fn verify_certificate_for(
    peer_chain: Option<&[CertificateDer<'_>]>,
    domain: &str,
) -> Result<VerifiedDomain, AuthError> {
    let end_entity = peer_chain
        .and_then(|c| c.first())
        .ok_or(AuthError::NoCertificate)?;
    let cert =
        webpki::EndEntityCert::try_from(end_entity).map_err(|_| AuthError::BadCertificate)?;
    let lower = domain.to_ascii_lowercase();
    let name = ServerName::try_from(lower.as_str()).map_err(|_| AuthError::BadDomain)?;
    cert.verify_is_valid_for_subject_name(&name)
        .map_err(|_| AuthError::NameMismatch)?;
    Ok(VerifiedDomain(lower.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert_for(names: &[&str]) -> CertificateDer<'static> {
        let key = rcgen::KeyPair::generate().unwrap();
        let params =
            rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .unwrap();
        params.self_signed(&key).unwrap().der().clone()
    }

    #[test]
    fn names_in_the_certificate_verify() {
        let c = [cert_for(&["sip.example", "*.chat.example"])];
        assert_eq!(
            verify_certificate_for(Some(&c), "SIP.example")
                .unwrap()
                .as_str(),
            "sip.example"
        );
        assert!(verify_certificate_for(Some(&c), "muc.chat.example").is_ok());
    }

    #[test]
    fn other_names_are_refused() {
        let c = [cert_for(&["sip.example"])];
        assert_eq!(
            verify_certificate_for(Some(&c), "evil.example"),
            Err(AuthError::NameMismatch)
        );
        assert_eq!(
            verify_certificate_for(Some(&c), "a.b.sip.example"),
            Err(AuthError::NameMismatch)
        );
        assert_eq!(
            verify_certificate_for(None, "sip.example"),
            Err(AuthError::NoCertificate)
        );
    }
}
