//! XMPP s2s peer authentication and liveness through a running gateway, against stand-in
//! peers on loopback: per-peer trust anchors, XEP-0178 certificate identities (SRVName,
//! XmppAddr), XEP-0199 half-open detection, and the per-peer metrics on the admin endpoint.

#[allow(dead_code)]
mod common {
    pub mod peers;
    pub mod pki;
}

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use base64::Engine;
use common::peers::*;
use common::pki::Pki;
use parley::app::App;
use parley::config::Config;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;

struct Parley {
    sip: SocketAddr,
    xmpp: SocketAddr,
    cancel: CancellationToken,
    done: tokio::task::JoinHandle<bool>,
}

impl Parley {
    /// sip.test (SIP side) plus the given XMPP `[[domain]]` tables; `xmpp_extra` goes into
    /// `[xmpp]`.
    async fn start(pki: &Pki, xmpp_domains: &str, xmpp_extra: &str) -> Parley {
        let d = pki.dir.display();
        let text = format!(
            r#"
state_dir = "{d}/state"
[log]
level = "debug"
[tls]
ca_file = "{d}/ca.crt"
[sip]
listen_tls = ["127.0.0.1:0"]
[xmpp]
listen = ["127.0.0.1:0"]
connect_timeout_ms = 2000
delivery_timeout_ms = 3000
{xmpp_extra}
[[domain]]
name = "sip.test"
side = "sip"
next_hop = "127.0.0.1:9"
cert_file = "{d}/sip.test.crt"
key_file = "{d}/sip.test.key"
{xmpp_domains}
"#
        );
        let config = Config::parse(&text).unwrap();
        config.validate().unwrap();
        let cancel = CancellationToken::new();
        let app = App::build(config, cancel.clone()).await.unwrap();
        let (sip, xmpp, _) = app.local_addrs();
        let done = tokio::spawn(app.run(Duration::from_secs(5)));
        Parley {
            sip: sip[0],
            xmpp: xmpp[0],
            cancel,
            done,
        }
    }

    async fn stop(self) {
        self.cancel.cancel();
        let _ = timeout(Duration::from_secs(8), self.done).await;
    }
}

/// An XMPP `[[domain]]` table.
fn xmpp_domain(pki: &Pki, name: &str, next_hop: Option<SocketAddr>, ca: Option<&Path>) -> String {
    let d = pki.dir.display();
    let hop = next_hop.map_or(String::new(), |h| format!("next_hop = \"{h}\"\n"));
    let ca = ca.map_or(String::new(), |c| {
        format!("ca_file = \"{}\"\n", c.display())
    });
    format!(
        "[[domain]]\nname = \"{name}\"\nside = \"xmpp\"\n{hop}{ca}cert_file = \"{d}/{name}.crt\"\nkey_file = \"{d}/{name}.key\"\n"
    )
}

/// A CA of some peer's own, kept in memory, issuing certificates with any subjectAltName.
struct PeerCa {
    issuer: rcgen::CertifiedIssuer<'static, rcgen::KeyPair>,
}

/// A subjectAltName entry.
enum San<'a> {
    Dns(&'a str),
    /// otherName id-on-dnsSRV, IA5String.
    SrvName(&'a str),
    /// otherName id-on-xmppAddr, UTF8String.
    XmppAddr(&'a str),
}

fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    assert!(content.len() < 128);
    let mut v = vec![tag, content.len() as u8];
    v.extend_from_slice(content);
    v
}

fn other_name(last_arc: u8, string_tag: u8, value: &str) -> Vec<u8> {
    let mut body = tlv(0x06, &[0x2b, 6, 1, 5, 5, 7, 8, last_arc]);
    body.extend_from_slice(&tlv(0xa0, &tlv(string_tag, value.as_bytes())));
    tlv(0xa0, &body)
}

impl PeerCa {
    fn new(dir: &Path, file: &str) -> PeerCa {
        let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let issuer =
            rcgen::CertifiedIssuer::self_signed(ca, rcgen::KeyPair::generate().unwrap()).unwrap();
        std::fs::write(dir.join(file), issuer.pem()).unwrap();
        PeerCa { issuer }
    }

    /// A certificate naming exactly `sans`, written as `<stem>.crt` / `<stem>.key` in `dir`.
    fn issue(&self, dir: &Path, stem: &str, sans: &[San<'_>]) {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        let names: Vec<u8> = sans
            .iter()
            .flat_map(|s| match s {
                San::Dns(n) => tlv(0x82, n.as_bytes()),
                San::SrvName(n) => other_name(7, 0x16, n),
                San::XmppAddr(n) => other_name(5, 0x0c, n),
            })
            .collect();
        params
            .custom_extensions
            .push(rcgen::CustomExtension::from_oid_content(
                &[2, 5, 29, 17],
                tlv(0x30, &names),
            ));
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        std::fs::write(dir.join(format!("{stem}.crt")), cert.pem()).unwrap();
        std::fs::write(dir.join(format!("{stem}.key")), key.serialize_pem()).unwrap();
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A TLS client presenting `<stem>.crt` from `dir`, trusting parley's CA (`pki`).
fn client(pki: &Pki, dir: &Path, stem: &str) -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(pki.path("ca.crt")).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let chain = CertificateDer::pem_file_iter(dir.join(format!("{stem}.crt")))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let key = PrivateKeyDer::from_pem_file(dir.join(format!("{stem}.key"))).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .unwrap();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

/// Open an inbound stream as `from` with the certificate `<stem>.crt` and try SASL
/// EXTERNAL; true when parley answers `<success/>`.
async fn external_accepted(parley: &Parley, pki: &Pki, dir: &Path, stem: &str, from: &str) -> bool {
    let (mut s, features) =
        xmpp_secured(parley.xmpp, from, "sip.test", client(pki, dir, stem)).await;
    assert!(features.contains("EXTERNAL"), "{stem}: {features}");
    let authzid = base64::engine::general_purpose::STANDARD.encode(from);
    s.send(&format!(
        "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='EXTERNAL'>{authzid}</auth>"
    ))
    .await;
    let outcome = s.until(&["<success", "</failure>"]).await;
    outcome.contains("<success")
}

#[tokio::test]
async fn a_peer_ca_file_replaces_the_global_ca_for_that_peer_only() {
    let pki = Pki::new("s2s-peer-ca", &["sip.test", "xmpp.test", "other.test"]);
    let own = pki.dir.join("own");
    std::fs::create_dir_all(&own).unwrap();
    let ca = PeerCa::new(&own, "other-ca.crt");
    ca.issue(&own, "other.test", &[San::Dns("other.test")]);
    // The same CA also signs a certificate naming xmpp.test, which does not trust it.
    ca.issue(&own, "xmpp.test", &[San::Dns("xmpp.test")]);
    let domains = xmpp_domain(&pki, "xmpp.test", None, None)
        + &xmpp_domain(&pki, "other.test", None, Some(&own.join("other-ca.crt")));
    let parley = Parley::start(&pki, &domains, "").await;

    assert!(
        external_accepted(&parley, &pki, &own, "other.test", "other.test").await,
        "other.test's certificate from its own CA"
    );
    assert!(
        !external_accepted(&parley, &pki, &pki.dir, "other.test", "other.test").await,
        "other.test with a certificate from the global CA, which it does not use"
    );
    assert!(
        !external_accepted(&parley, &pki, &own, "xmpp.test", "xmpp.test").await,
        "xmpp.test with a certificate chaining to another peer's CA"
    );
    assert!(
        external_accepted(&parley, &pki, &pki.dir, "xmpp.test", "xmpp.test").await,
        "xmpp.test with the global CA"
    );
    parley.stop().await;
}

#[tokio::test]
async fn srv_name_and_xmpp_addr_identities_are_accepted_only_for_the_domain() {
    let pki = Pki::new("s2s-ids", &["sip.test", "other.test"]);
    let own = pki.dir.join("own");
    std::fs::create_dir_all(&own).unwrap();
    let ca = PeerCa::new(&own, "other-ca.crt");
    let cases: &[(&str, San<'_>, bool)] = &[
        ("srv-right", San::SrvName("_xmpp-server.other.test"), true),
        ("srv-client", San::SrvName("_xmpp-client.other.test"), false),
        ("srv-wild", San::SrvName("_xmpp-server.*.test"), false),
        ("addr-right", San::XmppAddr("other.test"), true),
        ("addr-other", San::XmppAddr("xmpp.test"), false),
        ("addr-wild", San::XmppAddr("*.test"), false),
        ("dns-right", San::Dns("other.test"), true),
        ("dns-wild-bare", San::Dns("*.other.test"), false),
    ];
    for (stem, san, _) in cases {
        ca.issue(&own, stem, std::slice::from_ref(san));
    }
    let domains = xmpp_domain(&pki, "other.test", None, Some(&own.join("other-ca.crt")));
    let parley = Parley::start(&pki, &domains, "").await;
    for (stem, _, expected) in cases {
        let got = external_accepted(&parley, &pki, &own, stem, "other.test").await;
        assert_eq!(got, *expected, "certificate {stem}");
    }
    parley.stop().await;
}

#[tokio::test]
async fn outbound_peers_are_verified_against_their_own_ca() {
    let pki = Pki::new("s2s-out-ca", &["sip.test", "xmpp.test", "other.test"]);
    // What the stand-in peers see: parley's CA (to verify parley), their own certificates.
    let own = pki.dir.join("own");
    std::fs::create_dir_all(&own).unwrap();
    std::fs::copy(pki.path("ca.crt"), own.join("ca.crt")).unwrap();
    let ca = PeerCa::new(&own, "other-ca.crt");
    ca.issue(&own, "other.test", &[San::Dns("other.test")]);
    ca.issue(&own, "xmpp.test", &[San::Dns("xmpp.test")]);
    let peers = Pki {
        dir: own.clone(),
        keep: true,
    };
    let (other_hop, mut other_stanzas) = xmpp_server(&peers, "other.test").await;
    // xmpp.test trusts only the global CA, but its server shows a certificate from other.test's.
    let (xmpp_hop, mut xmpp_stanzas) = xmpp_server(&peers, "xmpp.test").await;
    let domains = xmpp_domain(
        &pki,
        "other.test",
        Some(other_hop),
        Some(&own.join("other-ca.crt")),
    ) + &xmpp_domain(&pki, "xmpp.test", Some(xmpp_hop), None);
    let parley = Parley::start(&pki, &domains, "").await;
    let mut ua = sip_client(&pki, parley.sip, "sip.test", "other.test").await;
    ua.send(&sip_message(
        "alice@sip.test",
        "juliet@other.test",
        "o1@host",
        "to other",
    ))
    .await;
    let stanza = timeout(T, other_stanzas.recv()).await.unwrap().unwrap();
    assert!(stanza.contains("<body>to other</body>"), "{stanza}");
    let resp = read_sip(&mut ua).await;
    assert!(resp.starts_with("SIP/2.0 202 "), "{resp}");

    ua.send(&sip_message(
        "alice@sip.test",
        "juliet@xmpp.test",
        "o2@host",
        "to xmpp",
    ))
    .await;
    let resp = read_sip(&mut ua).await;
    assert!(resp.starts_with("SIP/2.0 502 "), "{resp}");
    assert!(resp.contains("Call-ID: o2@host"), "{resp}");
    assert!(
        xmpp_stanzas.try_recv().is_err(),
        "nothing reached the server with the wrong CA"
    );
    parley.stop().await;
}

/// What the half-open stand-in saw.
#[derive(Debug, PartialEq)]
enum Seen {
    /// A message body, on the n-th connection (from 1).
    Message(usize, String),
    /// The first connection got a ping and went silent.
    Ping,
}

/// An XMPP server for `domain` whose first connection authenticates parley, takes stanzas,
/// and goes silent (reads and answers nothing more) once it sees a ping: a half-open link.
/// Later connections work. With `once`, the listener closes after the first connection.
async fn half_open_peer(
    pki: &Pki,
    domain: &'static str,
    once: bool,
) -> (SocketAddr, mpsc::Receiver<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = pki.server(domain);
    let (tx, rx) = mpsc::channel(16);
    tokio::spawn(async move {
        for n in 1.. {
            let (tcp, _) = listener.accept().await.unwrap();
            let (acceptor, tx) = (acceptor.clone(), tx.clone());
            let handle = tokio::spawn(async move {
                let head = |id: &str| {
                    format!(
                        "<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' from='{domain}' to='sip.test' version='1.0' id='{id}'>"
                    )
                };
                let mut s = Text::new(tcp);
                s.until(&["<stream:stream"]).await;
                s.until(&[">"]).await;
                s.send(&head("h1")).await;
                s.send("<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls></stream:features>").await;
                s.until(&["<starttls"]).await;
                s.until(&["/>", "</starttls>"]).await;
                s.send("<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
                    .await;
                let mut s = Text::new(acceptor.accept(s.into_inner()).await.unwrap());
                s.until(&["<stream:stream"]).await;
                s.until(&[">"]).await;
                s.send(&head("h2")).await;
                s.send("<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>EXTERNAL</mechanism></mechanisms></stream:features>").await;
                s.until(&["</auth>"]).await;
                s.send("<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>")
                    .await;
                s.until(&["<stream:stream"]).await;
                s.until(&[">"]).await;
                s.send(&head("h3")).await;
                s.send("<stream:features/>").await;
                loop {
                    let element = s.element().await;
                    if element == "</stream:stream>" {
                        return;
                    }
                    if element.contains("urn:xmpp:ping") && n == 1 {
                        let _ = tx.send(Seen::Ping).await;
                        // Half-open: keep the socket, never read or answer again.
                        tokio::time::sleep(Duration::from_secs(60)).await;
                        drop(s);
                        return;
                    }
                    if let Some(body) = element
                        .split_once("<body>")
                        .and_then(|(_, rest)| rest.split_once("</body>"))
                    {
                        let _ = tx.send(Seen::Message(n, body.0.to_owned())).await;
                    }
                }
            });
            if once {
                drop(listener);
                let _ = handle.await;
                return;
            }
        }
    });
    (addr, rx)
}

// These tests are about the idle ping on its own: with delivery confirmation (tests/s2s_resend.rs)
// every write is followed by a ping, and the first message would be re-sent on the new stream.
const PING_FAST: &str = "ping_interval_ms = 300\nping_timeout_ms = 700\nconfirm_delivery = false";

#[tokio::test]
async fn a_half_open_stream_is_detected_by_ping_and_waiting_messages_go_on_a_new_one() {
    let pki = Pki::new("s2s-half-open", &["sip.test", "xmpp.test"]);
    let (hop, mut seen) = half_open_peer(&pki, "xmpp.test", false).await;
    let parley = Parley::start(
        &pki,
        &xmpp_domain(&pki, "xmpp.test", Some(hop), None),
        PING_FAST,
    )
    .await;
    let mut ua = sip_client(&pki, parley.sip, "sip.test", "xmpp.test").await;
    ua.send(&sip_message(
        "alice@sip.test",
        "juliet@xmpp.test",
        "h1@host",
        "first",
    ))
    .await;
    assert_eq!(
        timeout(T, seen.recv()).await.unwrap(),
        Some(Seen::Message(1, "first".into()))
    );
    assert!(read_sip(&mut ua).await.starts_with("SIP/2.0 202 "));
    // The idle stream is pinged; the peer goes silent.
    assert_eq!(timeout(T, seen.recv()).await.unwrap(), Some(Seen::Ping));
    ua.send(&sip_message(
        "alice@sip.test",
        "juliet@xmpp.test",
        "h2@host",
        "second",
    ))
    .await;
    assert_eq!(
        timeout(T, seen.recv()).await.unwrap(),
        Some(Seen::Message(2, "second".into())),
        "the waiting message goes out on a new connection"
    );
    let resp = read_sip(&mut ua).await;
    assert!(resp.starts_with("SIP/2.0 202 "), "{resp}");
    assert!(resp.contains("Call-ID: h2@host"), "{resp}");
    parley.stop().await;
}

#[tokio::test]
async fn a_half_open_stream_to_a_peer_that_does_not_come_back_bounces_at_the_deadline() {
    let pki = Pki::new("s2s-half-gone", &["sip.test", "xmpp.test"]);
    let (hop, mut seen) = half_open_peer(&pki, "xmpp.test", true).await;
    let parley = Parley::start(
        &pki,
        &xmpp_domain(&pki, "xmpp.test", Some(hop), None),
        PING_FAST,
    )
    .await;
    let mut ua = sip_client(&pki, parley.sip, "sip.test", "xmpp.test").await;
    ua.send(&sip_message(
        "alice@sip.test",
        "juliet@xmpp.test",
        "g1@host",
        "first",
    ))
    .await;
    assert_eq!(
        timeout(T, seen.recv()).await.unwrap(),
        Some(Seen::Message(1, "first".into()))
    );
    assert!(read_sip(&mut ua).await.starts_with("SIP/2.0 202 "));
    assert_eq!(timeout(T, seen.recv()).await.unwrap(), Some(Seen::Ping));
    ua.send(&sip_message(
        "alice@sip.test",
        "juliet@xmpp.test",
        "g2@host",
        "second",
    ))
    .await;
    let resp = read_sip(&mut ua).await;
    // Not written into the dead stream and acknowledged: bounced once its deadline passed.
    assert!(
        resp.starts_with("SIP/2.0 502 ") || resp.starts_with("SIP/2.0 504 "),
        "{resp}"
    );
    assert!(resp.contains("Call-ID: g2@host"), "{resp}");
    parley.stop().await;
}

/// The process-wide metrics recorder and admin server (installed once per test binary).
fn admin() -> SocketAddr {
    static ADMIN: OnceLock<SocketAddr> = OnceLock::new();
    *ADMIN.get_or_init(|| {
        let handle = parley::metrics::install(&parley::metrics::Settings {
            max_peer_domains: 8,
            configured_domains: vec!["sip.test".into(), "metrics.test".into(), "bad.test".into()],
        })
        .unwrap();
        let server = parley::admin::start("127.0.0.1:0".parse().unwrap(), Some(handle)).unwrap();
        let addr = server.local_addr();
        std::mem::forget(server);
        addr
    })
}

async fn scrape() -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = tokio::net::TcpStream::connect(admin()).await.unwrap();
    tcp.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut out = String::new();
    timeout(T, tcp.read_to_string(&mut out))
        .await
        .unwrap()
        .unwrap();
    out
}

/// The value of the series `name{labels}` (labels in any order, all of them), if present.
fn value(text: &str, series: &str) -> Option<f64> {
    let (name, labels) = series.split_once('{')?;
    let mut want: Vec<&str> = labels.trim_end_matches('}').split(',').collect();
    want.sort_unstable();
    text.lines().find_map(|l| {
        let (head, v) = l.rsplit_once(' ')?;
        let (n, ls) = head.split_once('{')?;
        let mut got: Vec<&str> = ls.trim_end_matches('}').split(',').collect();
        got.sort_unstable();
        (n == name && got == want).then(|| v.parse().ok())?
    })
}

#[tokio::test]
async fn per_peer_connections_auth_failures_and_queue_depth_are_scraped() {
    admin();
    let pki = Pki::new("s2s-metrics", &["sip.test", "metrics.test", "bad.test"]);
    let (hop, mut seen) = half_open_peer(&pki, "metrics.test", false).await;
    let domains = xmpp_domain(&pki, "metrics.test", Some(hop), None)
        + &xmpp_domain(&pki, "bad.test", None, None);
    let parley = Parley::start(&pki, &domains, PING_FAST).await;
    let mut ua = sip_client(&pki, parley.sip, "sip.test", "metrics.test").await;
    ua.send(&sip_message(
        "alice@sip.test",
        "juliet@metrics.test",
        "m1@host",
        "one",
    ))
    .await;
    assert_eq!(
        timeout(T, seen.recv()).await.unwrap(),
        Some(Seen::Message(1, "one".into()))
    );
    assert!(read_sip(&mut ua).await.starts_with("SIP/2.0 202 "));
    let text = scrape().await;
    let peer = "peer=\"metrics.test\"";
    assert_eq!(
        value(
            &text,
            &format!("parley_connections{{direction=\"outbound\",{peer},protocol=\"xmpp\"}}")
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        value(
            &text,
            &format!(
                "parley_federation_auth_total{{direction=\"outbound\",method=\"sasl_external\",outcome=\"ok\",{peer}}}"
            )
        ),
        Some(1.0),
        "{text}"
    );
    // Settled: the gauge went back down when the stanza was written, not only up.
    assert_eq!(
        value(
            &text,
            &format!("parley_queue_messages{{{peer},protocol=\"xmpp\"}}")
        ),
        Some(0.0),
        "{text}"
    );

    // The peer goes half-open: a ping failure, and the message waiting meanwhile is counted.
    assert_eq!(timeout(T, seen.recv()).await.unwrap(), Some(Seen::Ping));
    ua.send(&sip_message(
        "alice@sip.test",
        "juliet@metrics.test",
        "m2@host",
        "two",
    ))
    .await;
    let mut waiting = None;
    for _ in 0..50 {
        let text = scrape().await;
        waiting = value(
            &text,
            &format!("parley_queue_messages{{{peer},protocol=\"xmpp\"}}"),
        );
        if waiting == Some(1.0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        waiting,
        Some(1.0),
        "the waiting message is in the queue gauge"
    );
    assert_eq!(
        timeout(T, seen.recv()).await.unwrap(),
        Some(Seen::Message(2, "two".into()))
    );
    assert!(read_sip(&mut ua).await.starts_with("SIP/2.0 202 "));
    let text = scrape().await;
    assert_eq!(
        value(
            &text,
            &format!(
                "parley_federation_failures_total{{direction=\"outbound\",{peer},reason=\"ping_timeout\"}}"
            )
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        value(
            &text,
            &format!("parley_queue_messages{{{peer},protocol=\"xmpp\"}}")
        ),
        Some(0.0),
        "{text}"
    );

    // An inbound peer refused: its certificate names another domain.
    let (mut s, _) = xmpp_secured(
        parley.xmpp,
        "bad.test",
        "sip.test",
        pki.client("metrics.test"),
    )
    .await;
    let authzid = base64::engine::general_purpose::STANDARD.encode("bad.test");
    s.send(&format!(
        "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='EXTERNAL'>{authzid}</auth>"
    ))
    .await;
    assert!(
        s.until(&["<success", "</failure>"])
            .await
            .contains("not-authorized")
    );
    let text = scrape().await;
    assert_eq!(
        value(
            &text,
            "parley_federation_auth_total{direction=\"inbound\",method=\"sasl_external\",outcome=\"failed\",peer=\"bad.test\"}"
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        value(
            &text,
            "parley_federation_failures_total{direction=\"inbound\",peer=\"bad.test\",reason=\"name_mismatch\"}"
        ),
        Some(1.0),
        "{text}"
    );
    parley.stop().await;
}
