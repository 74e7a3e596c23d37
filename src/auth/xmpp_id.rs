//! XMPP server certificate identities (RFC 6120 §13.7.1.2 and §13.7.1.4, XEP-0178, RFC 4985):
//! the subjectAltName otherName forms webpki does not read — SRVName `_xmpp-server.<domain>`
//! (id-on-dnsSRV, IA5String) and XmppAddr `<domain>` (id-on-xmppAddr, UTF8String). Neither
//! admits a wildcard (RFC 6125 §6.4.3 allows one only in a DNS-ID). Pure: bytes in, answer out.

use x509_parser::asn1_rs::oid;
use x509_parser::asn1_rs::{Any, Class, FromDer, Oid, Tag};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;

/// id-on-dnsSRV (RFC 4985 §2).
const ID_ON_DNS_SRV: Oid<'static> = oid!(1.3.6.1.5.5.7.8.7);
/// id-on-xmppAddr (RFC 6120 §13.7.1.4).
const ID_ON_XMPP_ADDR: Oid<'static> = oid!(1.3.6.1.5.5.7.8.5);
/// The s2s service name checked in an SRVName (RFC 6120 §13.7.1.2.1).
const XMPP_SERVER_SERVICE: &str = "_xmpp-server.";

/// Which otherName identity named the domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtherId {
    /// `_xmpp-server.<domain>` in an SRVName.
    SrvName,
    /// `<domain>` in an XmppAddr.
    XmppAddr,
}

/// Whether the certificate `der` names `domain` (lower case) by an SRVName for the
/// `_xmpp-server` service or by an XmppAddr holding exactly the domain. `None` also when the
/// certificate or its subjectAltName cannot be parsed: an unreadable identity names nothing.
pub fn other_name_for(der: &[u8], domain: &str) -> Option<OtherId> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    let san = cert.subject_alternative_name().ok()??;
    san.value.general_names.iter().find_map(|name| match name {
        GeneralName::OtherName(oid, value) => match_other_name(oid, value, domain),
        _ => None,
    })
}

fn match_other_name(oid: &Oid<'_>, value: &[u8], domain: &str) -> Option<OtherId> {
    let (kind, string_tag) = if *oid == ID_ON_DNS_SRV {
        (OtherId::SrvName, Tag::Ia5String)
    } else if *oid == ID_ON_XMPP_ADDR {
        (OtherId::XmppAddr, Tag::Utf8String)
    } else {
        return None;
    };
    let text = explicit_string(value, string_tag)?;
    let named = match kind {
        OtherId::SrvName => text
            .get(..XMPP_SERVER_SERVICE.len())
            .filter(|service| service.eq_ignore_ascii_case(XMPP_SERVER_SERVICE))
            .map(|_| &text[XMPP_SERVER_SERVICE.len()..]),
        OtherId::XmppAddr => Some(text),
    }?;
    let named = named.strip_suffix('.').unwrap_or(named);
    (!named.contains('*') && named.eq_ignore_ascii_case(domain)).then_some(kind)
}

/// The string inside `[0] EXPLICIT <string_tag>`, the whole input and nothing more.
fn explicit_string(value: &[u8], string_tag: Tag) -> Option<&str> {
    let (rest, outer) = Any::from_der(value).ok()?;
    if !rest.is_empty() || outer.class() != Class::ContextSpecific || outer.tag() != Tag(0) {
        return None;
    }
    let (rest, inner) = Any::from_der(outer.data).ok()?;
    if !rest.is_empty() || inner.class() != Class::Universal || inner.tag() != string_tag {
        return None;
    }
    let text = std::str::from_utf8(inner.data).ok()?;
    (string_tag != Tag::Ia5String || text.is_ascii()).then_some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// DER of one otherName GeneralName: `[0] { OID, [0] EXPLICIT <tag> value }`.
    fn other_name(oid: &[u8], tag: u8, value: &str) -> Vec<u8> {
        let string = tlv(tag, value.as_bytes());
        let explicit = tlv(0xa0, &string);
        let mut body = tlv(0x06, oid);
        body.extend_from_slice(&explicit);
        tlv(0xa0, &body)
    }

    fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
        assert!(content.len() < 128, "short form lengths only");
        let mut v = vec![tag, content.len() as u8];
        v.extend_from_slice(content);
        v
    }

    const SRV: &[u8] = &[0x2b, 6, 1, 5, 5, 7, 8, 7];
    const XMPP_ADDR: &[u8] = &[0x2b, 6, 1, 5, 5, 7, 8, 5];

    /// A self-signed certificate whose only SANs are the given otherNames.
    fn cert_with(names: &[Vec<u8>]) -> Vec<u8> {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        let general_names: Vec<u8> = names.concat();
        params
            .custom_extensions
            .push(rcgen::CustomExtension::from_oid_content(
                &[2, 5, 29, 17],
                tlv(0x30, &general_names),
            ));
        params.self_signed(&key).unwrap().der().to_vec()
    }

    #[test]
    fn srv_name_for_xmpp_server_names_the_domain() {
        let c = cert_with(&[other_name(SRV, 0x16, "_xmpp-server.Chat.Example")]);
        assert_eq!(other_name_for(&c, "chat.example"), Some(OtherId::SrvName));
        assert_eq!(other_name_for(&c, "other.example"), None);
    }

    #[test]
    fn srv_name_for_another_service_or_with_a_wildcard_is_refused() {
        let client = cert_with(&[other_name(SRV, 0x16, "_xmpp-client.chat.example")]);
        assert_eq!(other_name_for(&client, "chat.example"), None);
        let wild = cert_with(&[other_name(SRV, 0x16, "_xmpp-server.*.example")]);
        assert_eq!(other_name_for(&wild, "chat.example"), None);
        // RFC 4985: an SRVName is an IA5String.
        let utf8 = cert_with(&[other_name(SRV, 0x0c, "_xmpp-server.chat.example")]);
        assert_eq!(other_name_for(&utf8, "chat.example"), None);
    }

    #[test]
    fn xmpp_addr_names_only_its_own_domain() {
        let c = cert_with(&[
            other_name(XMPP_ADDR, 0x0c, "other.example"),
            other_name(XMPP_ADDR, 0x0c, "chat.example"),
        ]);
        assert_eq!(other_name_for(&c, "chat.example"), Some(OtherId::XmppAddr));
        let other = cert_with(&[other_name(XMPP_ADDR, 0x0c, "other.example")]);
        assert_eq!(other_name_for(&other, "chat.example"), None);
        let wild = cert_with(&[other_name(XMPP_ADDR, 0x0c, "*.example")]);
        assert_eq!(other_name_for(&wild, "chat.example"), None);
        let ia5 = cert_with(&[other_name(XMPP_ADDR, 0x16, "chat.example")]);
        assert_eq!(other_name_for(&ia5, "chat.example"), None);
    }

    #[test]
    fn garbage_names_nothing() {
        assert_eq!(
            other_name_for(b"\x30\x03\x02\x01\x00", "chat.example"),
            None
        );
        assert_eq!(other_name_for(&[], "chat.example"), None);
        let c = cert_with(&[other_name(XMPP_ADDR, 0x0c, "chat.example")]);
        assert_eq!(other_name_for(&c[..c.len() - 40], "chat.example"), None);
        // The [0] EXPLICIT wrapper with trailing bytes inside is refused.
        let mut padded = tlv(0x0c, b"chat.example");
        padded.push(0);
        assert_eq!(explicit_string(&tlv(0xa0, &padded), Tag::Utf8String), None);
    }
}
