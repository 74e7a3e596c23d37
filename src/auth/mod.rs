//! Peer authentication proofs (RFC 6120 §13.7.1.2 / XEP-0178 for XMPP, RFC 5922 §7 for SIP).
//!
//! A [`VerifiedDomain`] can only be made here, from a certificate that TLS already verified
//! against the trust anchors, after checking that the certificate names the domain. Routing
//! takes one as proof; nothing else can forge it.

pub mod dialback;
pub mod xmpp_id;

use std::fmt;
use std::sync::Arc;

use rustls_pki_types::{CertificateDer, ServerName, TrustAnchor, UnixTime};

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
    /// The certificate does not chain to the trust anchors configured for this peer.
    UntrustedIssuer,
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AuthError::NoCertificate => "no client certificate",
            AuthError::BadCertificate => "unparsable certificate",
            AuthError::BadDomain => "not a domain name",
            AuthError::NameMismatch => "certificate does not name the domain",
            AuthError::DialbackInvalid => "dialback key not confirmed by the authoritative server",
            AuthError::UntrustedIssuer => "certificate not issued by a CA trusted for this peer",
        })
    }
}

impl std::error::Error for AuthError {}

/// Check that the (already chain-verified) end-entity certificate names `domain` in a DNS
/// subjectAltName, wildcards per RFC 6125.
///
/// The answer is a pure function of the certificate's bytes and the domain, and a peer sends
/// many requests over one connection: the last few answers on each thread are remembered, so
/// the certificate is parsed once per peer and domain, not once per request.
pub fn verify_certificate_for(
    peer_chain: Option<&[CertificateDer<'_>]>,
    domain: &str,
) -> Result<VerifiedDomain, AuthError> {
    let end_entity = peer_chain
        .and_then(|c| c.first())
        .ok_or(AuthError::NoCertificate)?;
    let der: &[u8] = end_entity.as_ref();
    let known = RECENT.with_borrow(|recent| {
        recent
            .iter()
            .find(|(d, c, _)| d.eq_ignore_ascii_case(domain) && c.as_slice() == der)
            .map(|(_, _, answer)| answer.clone())
    });
    if let Some(answer) = known {
        return answer;
    }
    let answer = check_certificate_for(end_entity, domain);
    RECENT.with_borrow_mut(|recent| {
        if recent.len() == RECENT_ANSWERS {
            recent.pop_back();
        }
        recent.push_front((domain.into(), der.to_vec(), answer.clone()));
    });
    answer
}

/// How many answers of [`verify_certificate_for`] each thread remembers.
const RECENT_ANSWERS: usize = 8;

/// A domain, a certificate's DER bytes, and what [`check_certificate_for`] said.
type Answer = (Box<str>, Vec<u8>, Result<VerifiedDomain, AuthError>);

thread_local! {
    static RECENT: std::cell::RefCell<std::collections::VecDeque<Answer>> =
        const { std::cell::RefCell::new(std::collections::VecDeque::new()) };
}

fn check_certificate_for(
    end_entity: &CertificateDer<'_>,
    domain: &str,
) -> Result<VerifiedDomain, AuthError> {
    let cert =
        webpki::EndEntityCert::try_from(end_entity).map_err(|_| AuthError::BadCertificate)?;
    let lower = domain.to_ascii_lowercase();
    let name = ServerName::try_from(lower.as_str()).map_err(|_| AuthError::BadDomain)?;
    cert.verify_is_valid_for_subject_name(&name)
        .map_err(|_| AuthError::NameMismatch)?;
    Ok(VerifiedDomain(lower.into()))
}

/// Which end of the TLS handshake presented the certificate (the extended key usage it
/// must allow).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsRole {
    /// The peer connected to us: a client certificate.
    Client,
    /// We connected to the peer: a server certificate.
    Server,
}

/// How an XMPP peer's certificate named its domain (RFC 6120 §13.7.1.2, XEP-0178).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XmppIdentity {
    /// A DNS-ID, wildcards per RFC 6125.
    DnsName,
    /// An SRV-ID `_xmpp-server.<domain>`.
    SrvName,
    /// An XmppAddr holding the domain.
    XmppAddr,
}

/// Authenticate an XMPP server peer: its chain must lead to one of `anchors` — the trust
/// anchors configured for that peer domain, which TLS, knowing no domain yet, could not
/// apply — and its end-entity certificate must name `domain` as a DNS-ID, an SRV-ID for
/// `_xmpp-server`, or an XmppAddr.
pub fn verify_xmpp_peer(
    peer_chain: Option<&[CertificateDer<'_>]>,
    domain: &str,
    anchors: &[TrustAnchor<'_>],
    role: TlsRole,
) -> Result<(VerifiedDomain, XmppIdentity), AuthError> {
    let (end_entity, intermediates) = peer_chain
        .and_then(|c| c.split_first())
        .ok_or(AuthError::NoCertificate)?;
    let cert =
        webpki::EndEntityCert::try_from(end_entity).map_err(|_| AuthError::BadCertificate)?;
    let usage = match role {
        TlsRole::Client => webpki::KeyUsage::client_auth(),
        TlsRole::Server => webpki::KeyUsage::server_auth(),
    };
    cert.verify_for_usage(
        webpki::ALL_VERIFICATION_ALGS,
        anchors,
        intermediates,
        UnixTime::now(),
        usage,
        None,
        None,
    )
    .map_err(|_| AuthError::UntrustedIssuer)?;
    let lower = domain.to_ascii_lowercase();
    let name = ServerName::try_from(lower.as_str()).map_err(|_| AuthError::BadDomain)?;
    let identity = if cert.verify_is_valid_for_subject_name(&name).is_ok() {
        XmppIdentity::DnsName
    } else {
        match xmpp_id::other_name_for(end_entity, &lower) {
            Some(xmpp_id::OtherId::SrvName) => XmppIdentity::SrvName,
            Some(xmpp_id::OtherId::XmppAddr) => XmppIdentity::XmppAddr,
            None => return Err(AuthError::NameMismatch),
        }
    };
    Ok((VerifiedDomain(lower.into()), identity))
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

    #[test]
    fn a_remembered_answer_is_only_given_for_the_same_certificate_and_domain() {
        let good = [cert_for(&["sip.example"])];
        let other = [cert_for(&["other.example"])];
        for _ in 0..2 {
            assert!(verify_certificate_for(Some(&good), "sip.example").is_ok());
            assert_eq!(
                verify_certificate_for(Some(&other), "sip.example"),
                Err(AuthError::NameMismatch)
            );
            assert_eq!(
                verify_certificate_for(Some(&good), "other.example"),
                Err(AuthError::NameMismatch)
            );
            assert_eq!(
                verify_certificate_for(Some(&good), "Sip.Example")
                    .unwrap()
                    .as_str(),
                "sip.example"
            );
        }
        // More certificates than are remembered: the first is checked again, same answer.
        for n in 0..RECENT_ANSWERS {
            let c = [cert_for(&[&format!("n{n}.example")])];
            assert!(verify_certificate_for(Some(&c), &format!("n{n}.example")).is_ok());
        }
        assert_eq!(
            verify_certificate_for(Some(&other), "sip.example"),
            Err(AuthError::NameMismatch)
        );
    }

    /// A CA and a certificate it issued for `domain` (DNS-ID), as (anchor DER, chain).
    fn issued(domain: &str) -> (CertificateDer<'static>, Vec<CertificateDer<'static>>) {
        let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca =
            rcgen::CertifiedIssuer::self_signed(ca, rcgen::KeyPair::generate().unwrap()).unwrap();
        let leaf = rcgen::CertificateParams::new(vec![domain.to_owned()])
            .unwrap()
            .signed_by(&rcgen::KeyPair::generate().unwrap(), &ca)
            .unwrap();
        (ca.der().clone(), vec![leaf.der().clone()])
    }

    #[test]
    fn an_xmpp_peer_must_chain_to_its_own_anchors() {
        let (ca_a, chain_a) = issued("a.example");
        let (ca_b, _) = issued("b.example");
        let anchors_a = [webpki::anchor_from_trusted_cert(&ca_a).unwrap()];
        let anchors_b = [webpki::anchor_from_trusted_cert(&ca_b).unwrap()];
        let (peer, how) =
            verify_xmpp_peer(Some(&chain_a), "A.example", &anchors_a, TlsRole::Server).unwrap();
        assert_eq!((peer.as_str(), how), ("a.example", XmppIdentity::DnsName));
        assert_eq!(
            verify_xmpp_peer(Some(&chain_a), "a.example", &anchors_b, TlsRole::Server),
            Err(AuthError::UntrustedIssuer)
        );
        assert_eq!(
            verify_xmpp_peer(Some(&chain_a), "b.example", &anchors_a, TlsRole::Server),
            Err(AuthError::NameMismatch)
        );
        assert_eq!(
            verify_xmpp_peer(None, "a.example", &anchors_a, TlsRole::Client),
            Err(AuthError::NoCertificate)
        );
    }
}
