//! Certificates a hostile peer presents: expired, from a CA parley does not trust, and for a
//! domain parley does not serve. Written next to a [`Pki`]'s files so `Pki::client(name)`
//! loads them by name.

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair, SanType};

use super::pki::Pki;

/// A CA and per-domain certificates, like [`Pki::new`], plus the hostile ones:
/// `expired-<domain>`, `untrusted-<domain>` (signed by another CA) for each domain, and
/// `other.test` (valid, for a domain parley does not serve).
pub fn with_bad_certs(tag: &str, domains: &[&str]) -> Pki {
    let pki = Pki::new(tag, &[]);
    let dir = &pki.dir;
    let ca = new_ca("parley test CA");
    std::fs::write(dir.join("ca.crt"), ca.pem()).unwrap();
    let rogue = new_ca("rogue CA");
    for d in domains {
        write_leaf(dir, d, d, &ca, None);
    }
    for d in domains {
        let past = (
            rcgen::date_time_ymd(2020, 1, 1),
            rcgen::date_time_ymd(2021, 1, 1),
        );
        write_leaf(dir, &format!("expired-{d}"), d, &ca, Some(past));
        write_leaf(dir, &format!("untrusted-{d}"), d, &rogue, None);
    }
    write_leaf(dir, "other.test", "other.test", &ca, None);
    pki
}

fn new_ca(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, name.to_owned());
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap()
}

fn write_leaf(
    dir: &std::path::Path,
    file: &str,
    domain: &str,
    ca: &CertifiedIssuer<'static, KeyPair>,
    validity: Option<(time::OffsetDateTime, time::OffsetDateTime)>,
) {
    let mut p = CertificateParams::new(vec![domain.to_string()]).unwrap();
    p.subject_alt_names
        .push(SanType::URI(format!("sip:{domain}").try_into().unwrap()));
    if let Some((from, until)) = validity {
        p.not_before = from;
        p.not_after = until;
    }
    let key = KeyPair::generate().unwrap();
    let cert = p.signed_by(&key, ca).unwrap();
    std::fs::write(dir.join(format!("{file}.crt")), cert.pem()).unwrap();
    std::fs::write(dir.join(format!("{file}.key")), key.serialize_pem()).unwrap();
}
