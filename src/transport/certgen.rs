//! First-start TLS material for configs that name no certificates: a private CA and one
//! certificate per domain (DNS and `sip:` URI SANs, RFC 5922 §7.1 / RFC 6125), written under
//! `<state_dir>/tls/`. Test and evaluation material only.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, SanType,
};

/// Paths of generated material.
#[derive(Debug, Clone)]
pub struct Generated {
    /// The private CA's certificate.
    pub ca_file: PathBuf,
    /// `(domain, cert_file, key_file)` for each domain.
    pub domains: Vec<(String, PathBuf, PathBuf)>,
    /// True when this call created the files (false when they were already there).
    pub created: bool,
}

/// Make sure `<dir>` holds a CA and a certificate for each domain; create all of them anew when
/// any is missing.
pub fn ensure(dir: &Path, domains: &[&str]) -> io::Result<Generated> {
    let ca_file = dir.join("ca.crt");
    let paths: Vec<_> = domains
        .iter()
        .map(|d| {
            (
                d.to_string(),
                dir.join(format!("{d}.crt")),
                dir.join(format!("{d}.key")),
            )
        })
        .collect();
    let complete = ca_file.is_file() && paths.iter().all(|(_, c, k)| c.is_file() && k.is_file());
    if !complete {
        fs::create_dir_all(dir)?;
        generate(&ca_file, &paths).map_err(io::Error::other)?;
    }
    Ok(Generated {
        ca_file,
        domains: paths,
        created: !complete,
    })
}

fn generate(
    ca_file: &Path,
    domains: &[(String, PathBuf, PathBuf)],
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "parley generated CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate()?)?;
    for (domain, cert_file, key_file) in domains {
        let mut params = CertificateParams::new(vec![domain.clone()])?;
        params
            .subject_alt_names
            .push(SanType::URI(format!("sip:{domain}").try_into()?));
        params
            .distinguished_name
            .push(DnType::CommonName, domain.as_str());
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &ca)?;
        write_private(key_file, key.serialize_pem().as_bytes())?;
        fs::write(cert_file, cert.pem())?;
    }
    fs::write(ca_file, ca.pem())?;
    Ok(())
}

fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_once_and_reuses() {
        let dir = std::env::temp_dir().join(format!("parley-certgen-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let first = ensure(&dir, &["a.example", "b.example"]).unwrap();
        assert!(first.created);
        let ca_before = fs::read(&first.ca_file).unwrap();
        let second = ensure(&dir, &["a.example", "b.example"]).unwrap();
        assert!(!second.created);
        assert_eq!(ca_before, fs::read(&second.ca_file).unwrap());
        fs::remove_dir_all(&dir).unwrap();
    }
}
