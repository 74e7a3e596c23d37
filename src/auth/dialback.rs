//! Server Dialback (XEP-0220) with keys per XEP-0185: the key parley hands out as originating
//! server, the check it makes as authoritative server, and the proof it accepts as receiving
//! server once the authoritative server confirmed a key.

use std::fmt::Write;

use ring::{digest, hmac, rand::SecureRandom};

use super::VerifiedDomain;

/// The process's dialback secret (random per start unless configured, so that several nodes
/// behind one domain can share it).
#[derive(Clone)]
pub struct DialbackSecret {
    key: hmac::Key,
}

impl std::fmt::Debug for DialbackSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DialbackSecret(..)")
    }
}

impl DialbackSecret {
    /// From a configured secret.
    pub fn new(secret: &str) -> DialbackSecret {
        // XEP-0185 §3: the HMAC key is the hex SHA-256 of the secret.
        let hashed = hex(digest::digest(&digest::SHA256, secret.as_bytes()).as_ref());
        DialbackSecret {
            key: hmac::Key::new(hmac::HMAC_SHA256, hashed.as_bytes()),
        }
    }

    /// A fresh random secret.
    pub fn random() -> DialbackSecret {
        let mut bytes = [0u8; 32];
        // The system RNG failing is not recoverable; an all-zero secret would be guessable.
        ring::rand::SystemRandom::new()
            .fill(&mut bytes)
            .expect("system random number generator");
        DialbackSecret::new(&hex(&bytes))
    }

    /// The key for a stream from `originating` to `receiving` with stream id `stream_id`.
    pub fn key(&self, receiving: &str, originating: &str, stream_id: &str) -> String {
        let text = format!("{receiving} {originating} {stream_id}");
        hex(hmac::sign(&self.key, text.as_bytes()).as_ref())
    }

    /// As authoritative server: is `key` the one we issued? (Constant-time comparison.)
    pub fn is_valid(&self, receiving: &str, originating: &str, stream_id: &str, key: &str) -> bool {
        let Some(tag) = unhex(key.trim()) else {
            return false;
        };
        let text = format!("{receiving} {originating} {stream_id}");
        hmac::verify(&self.key, text.as_bytes(), &tag).is_ok()
    }
}

/// As receiving server: the authoritative server answered our `db:verify` for `domain` with
/// `type='valid'`, over a connection on which we verified its certificate for `domain`.
/// The only way dialback makes a [`VerifiedDomain`].
pub fn confirmed(domain: &str, answer_valid: bool) -> Result<VerifiedDomain, super::AuthError> {
    if answer_valid {
        Ok(VerifiedDomain(domain.to_ascii_lowercase().into()))
    } else {
        Err(super::AuthError::DialbackInvalid)
    }
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_matches_the_xep_0185_example() {
        let secret = DialbackSecret::new("s3cr3tf0rd14lb4ck");
        assert_eq!(
            secret.key("xmpp.example.com", "example.org", "D60000229F"),
            "37c69b1cf07a3f67c04a5ef5902fa5114f2c76fe4a2686482ba5b89323075643"
        );
    }

    #[test]
    fn keys_bind_every_input() {
        let s = DialbackSecret::random();
        let k = s.key("a.example", "b.example", "id1");
        assert!(s.is_valid("a.example", "b.example", "id1", &k));
        assert!(!s.is_valid("b.example", "a.example", "id1", &k));
        assert!(!s.is_valid("a.example", "b.example", "id2", &k));
        assert!(!DialbackSecret::random().is_valid("a.example", "b.example", "id1", &k));
    }

    #[test]
    fn only_a_valid_answer_proves_a_domain() {
        assert_eq!(
            confirmed("Xmpp.Example", true).unwrap().as_str(),
            "xmpp.example"
        );
        assert!(confirmed("xmpp.example", false).is_err());
    }
}
