//! Operations against the real `parley` binary: `/readyz` while draining, the audit line of
//! every event type crossing the boundary (and none of their content), the subscriptions
//! gauge, SIP connection gauges per peer domain and transport, and inbound SIP TLS handshake
//! failures by reason. The peers are the stand-ins of `common/peers.rs`, on loopback.

#![allow(dead_code)]

mod common {
    pub mod peers;
    pub mod pki;
}

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::peers::*;
use common::pki::Pki;
use rustls_pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::time::timeout;

/// A loopback port free at the time of asking (the daemon binds it right after).
fn free_port() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    // Check the same port is free for UDP too (SIP over UDP uses it).
    match std::net::UdpSocket::bind(addr) {
        Ok(_) => addr,
        Err(_) => free_port(),
    }
}

/// A running `parley run` with its addresses; killed when dropped.
struct Daemon {
    child: Child,
    sip: SocketAddr,
    sip_tcp: SocketAddr,
    sip_udp: SocketAddr,
    xmpp: SocketAddr,
    admin: SocketAddr,
    audit: PathBuf,
    log: PathBuf,
}

impl Daemon {
    /// Start the binary on a config for `sip.test` (next hop `sip_hop`) and `xmpp.test` (next
    /// hop `xmpp_hop`), with metrics, a file audit log and `extra` appended to `[sip]`.
    fn start(pki: &Pki, xmpp_hop: SocketAddr, sip_hop: SocketAddr, sip_extra: &str) -> Daemon {
        let d = pki.dir.display();
        let domains = pki.domains_toml(xmpp_hop, sip_hop);
        let (sip, sip_tcp, xmpp, admin) = (free_port(), free_port(), free_port(), free_port());
        let sip_udp = sip_tcp;
        let audit = pki.dir.join("audit.log");
        let text = format!(
            r#"
state_dir = "{d}/state"
[log]
level = "info"
[tls]
ca_file = "{d}/ca.crt"
[sip]
listen_tls = ["{sip}"]
listen_tcp = ["{sip_tcp}"]
listen_udp = ["{sip_udp}"]
bounce_window_ms = 300
{sip_extra}
[xmpp]
listen = ["{xmpp}"]
# The stand-in peer answers pings at once on parley's stream and sends its error replies on
# its own, later: the bounce window (sip.bounce_window_ms) is what catches them.
confirm_delivery = false
connect_timeout_ms = 2000
delivery_timeout_ms = 3000
[metrics]
listen = "{admin}"
[audit]
output = "file"
path = "{audit}"
[shutdown]
drain_timeout_ms = 15000
{domains}
"#,
            audit = audit.display()
        );
        let config = pki.dir.join("parley.toml");
        std::fs::write(&config, text).unwrap();
        let log = pki.dir.join("parley.log");
        let child = Command::new(env!("CARGO_BIN_EXE_parley"))
            .args(["run", "--config"])
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        Daemon {
            child,
            sip,
            sip_tcp,
            sip_udp,
            xmpp,
            admin,
            audit,
            log,
        }
    }

    /// Wait (bounded) until `/readyz` answers 200.
    async fn ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                panic!("parley exited ({st}): {}", self.log_text());
            }
            if http_status(self.admin, "/readyz").await == Some(200) {
                return;
            }
            assert!(Instant::now() < deadline, "not ready: {}", self.log_text());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn sigterm(&self) {
        let st = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(st.success());
    }

    /// Metrics exposition.
    async fn metrics(&self) -> String {
        http_get(self.admin, "/metrics").await.unwrap_or_default()
    }

    /// Wait (bounded) until the sample `series` reads `want`; returns the last exposition.
    async fn metric_reaches(&self, series: &str, want: f64) -> String {
        let deadline = Instant::now() + T;
        loop {
            let text = self.metrics().await;
            if sample(&text, series) == Some(want) {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "{series} is {:?}, not {want}:\n{}",
                sample(&text, series),
                text.lines()
                    .filter(|l| l.starts_with(series.split('{').next().unwrap()))
                    .collect::<Vec<_>>()
                    .join("\n")
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Wait (bounded) until the audit log has `n` lines; returns them parsed.
    async fn audit_lines(&self, n: usize) -> Vec<serde_json::Value> {
        let deadline = Instant::now() + T;
        loop {
            let lines = read_lines(&self.audit);
            if lines.len() >= n {
                return lines
                    .iter()
                    .map(|l| serde_json::from_str(l).expect("audit line is JSON"))
                    .collect();
            }
            assert!(
                Instant::now() < deadline,
                "audit log has {} lines, not {n}: {lines:#?}",
                lines.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read_lines(path: &Path) -> Vec<String> {
    match std::fs::File::open(path) {
        Ok(f) => BufReader::new(f).lines().map_while(Result::ok).collect(),
        Err(_) => Vec::new(),
    }
}

/// The value of one sample line (`name{labels} value`), labels exactly as exposed.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
}

async fn http_get(addr: SocketAddr, path: &str) -> Option<String> {
    let mut s = timeout(Duration::from_secs(5), TcpStream::connect(addr))
        .await
        .ok()?
        .ok()?;
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
        .await
        .ok()?;
    let mut out = String::new();
    timeout(Duration::from_secs(5), s.read_to_string(&mut out))
        .await
        .ok()?
        .ok()?;
    Some(out)
}

async fn http_status(addr: SocketAddr, path: &str) -> Option<u16> {
    let r = http_get(addr, path).await?;
    r.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()
}

/// A SIP proxy for `domain` that accepts parley's TLS connections and reads, never answering:
/// parley's requests to it stay in flight until Timer F.
async fn silent_sip_proxy(pki: &Pki, domain: &'static str) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = pki.server(domain);
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut buf = [0u8; 4096];
                while matches!(tls.read(&mut buf).await, Ok(n) if n > 0) {}
            });
        }
    });
    addr
}

/// `/healthz` stays 200 and `/readyz` answers 503 from SIGTERM until the drain ends (here a
/// SIP MESSAGE parley sent waits for its final response, held by a peer that never answers);
/// then the process exits and the admin port closes.
#[tokio::test]
async fn readyz_is_503_while_draining_and_healthz_stays_200() {
    let pki = Pki::new("ops-drain", &["sip.test", "xmpp.test"]);
    let (xmpp_hop, _stanzas) = xmpp_server(&pki, "xmpp.test").await;
    let sip_hop = silent_sip_proxy(&pki, "sip.test").await;
    let mut d = Daemon::start(&pki, xmpp_hop, sip_hop, "transaction_timeout_ms = 8000");
    d.ready().await;
    assert_eq!(http_status(d.admin, "/healthz").await, Some(200));
    let mut peer = xmpp_initiator(&pki, d.xmpp, "xmpp.test", "sip.test").await;
    peer.send("<message from='juliet@xmpp.test/balcony' to='alice@sip.test' type='chat' id='d1'><body>still there?</body></message>").await;
    // The MESSAGE is on its way: parley's outbound SIP connection is counted.
    d.metric_reaches(
        r#"parley_connections{protocol="sip",direction="outbound",peer="sip.test"}"#,
        1.0,
    )
    .await;
    d.sigterm();
    let deadline = Instant::now() + T;
    let mut saw_draining = false;
    while Instant::now() < deadline {
        let ready = http_status(d.admin, "/readyz").await;
        let health = http_status(d.admin, "/healthz").await;
        if ready == Some(503) {
            assert_eq!(health, Some(200), "liveness while draining");
            saw_draining = true;
            break;
        }
        assert_eq!(ready, Some(200), "before the drain starts");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(saw_draining, "/readyz never went 503: {}", d.log_text());
    // Still draining (the MESSAGE waits for Timer F): both answers hold for a while.
    for _ in 0..5 {
        assert_eq!(http_status(d.admin, "/readyz").await, Some(503));
        assert_eq!(http_status(d.admin, "/healthz").await, Some(200));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        d.child.try_wait().unwrap().is_none(),
        "exited before the drain ended"
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(st) = d.child.try_wait().unwrap() {
            break st;
        }
        assert!(Instant::now() < deadline, "did not exit after draining");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "{status}: {}", d.log_text());
    assert_eq!(
        http_status(d.admin, "/healthz").await,
        None,
        "admin port closed"
    );
    assert!(
        d.log_text().contains("/readyz answers 503"),
        "{}",
        d.log_text()
    );
}

fn subscribe(call_id: &str, to_tag: Option<&str>, cseq: u32, expires: u32) -> String {
    let to_tag = to_tag.map(|t| format!(";tag={t}")).unwrap_or_default();
    format!(
        "SUBSCRIBE sip:juliet@xmpp.test SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:5999;branch=z9hG4bK{call_id}{cseq}\r\nMax-Forwards: 70\r\nFrom: <sip:alice@sip.test>;tag=w1\r\nTo: <sip:juliet@xmpp.test>{to_tag}\r\nCall-ID: {call_id}\r\nCSeq: {cseq} SUBSCRIBE\r\nContact: <sip:alice@127.0.0.1:5999;transport=tls>\r\nEvent: presence\r\nAccept: application/pidf+xml\r\nExpires: {expires}\r\nContent-Length: 0\r\n\r\n"
    )
}

fn options(transport: &str, from_domain: &str, branch: &str) -> String {
    format!(
        "OPTIONS sip:gw@sip.test SIP/2.0\r\nVia: SIP/2.0/{transport} 127.0.0.1:5999;branch=z9hG4bK{branch}\r\nMax-Forwards: 70\r\nFrom: <sip:probe@{from_domain}>;tag=o1\r\nTo: <sip:gw@sip.test>\r\nCall-ID: {branch}@host\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    )
}

/// The `direction,type,from,to,outcome` of an audit line.
fn summary(v: &serde_json::Value) -> String {
    ["direction", "type", "from", "to", "outcome"]
        .map(|k| v[k].as_str().unwrap_or_default().to_owned())
        .join(",")
}

/// One line per crossing event of each type (im, error, subscription, presence, typing,
/// receipt) with metadata only; the subscriptions gauge follows dialogs as they are created
/// and ended.
#[tokio::test]
async fn every_event_type_is_audited_and_subscriptions_are_counted() {
    let pki = Pki::new("ops-audit", &["sip.test", "xmpp.test"]);
    let (xmpp_hop, mut stanzas) = xmpp_server(&pki, "xmpp.test").await;
    let (sip_hop, mut requests) = sip_proxy(&pki, "sip.test").await;
    let mut d = Daemon::start(&pki, xmpp_hop, sip_hop, "");
    d.ready().await;
    let subs = "parley_subscriptions";
    d.metric_reaches(subs, 0.0).await;
    let mut ua = sip_client(&pki, d.sip, "sip.test", "xmpp.test").await;
    let mut peer = xmpp_initiator(&pki, d.xmpp, "xmpp.test", "sip.test").await;
    let mut expected: Vec<&str> = Vec::new();
    // Content that must never reach the log.
    let secrets = [
        "wherefore-art-thou",
        "balcony-status-words",
        "gone-fishing-text",
        "nobody-home-reason",
    ];

    // im, SIP → XMPP.
    ua.send(&sip_message(
        "alice@sip.test",
        "juliet@xmpp.test",
        "c1@host",
        secrets[0],
    ))
    .await;
    let got = timeout(T, stanzas.recv()).await.unwrap().unwrap();
    assert!(got.contains(secrets[0]), "{got}");
    let resp = read_sip(&mut ua).await;
    assert!(resp.starts_with("SIP/2.0 202 "), "{resp}");
    expected.push("sip_to_xmpp,im,alice@sip.test,juliet@xmpp.test,delivered");

    // error, XMPP → SIP: the reply to a SIP MESSAGE (the message itself is bounced).
    ua.send(&sip_message(
        "alice@sip.test",
        "nobody@xmpp.test",
        "c2@host",
        "anyone?",
    ))
    .await;
    let stanza = timeout(T, stanzas.recv()).await.unwrap().unwrap();
    let id = attr(&stanza, "id").unwrap();
    peer.send(&format!(
        "<message type='error' from='nobody@xmpp.test' to='alice@sip.test' id='{id}'><error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>{}</text></error></message>",
        secrets[3]
    ))
    .await;
    let resp = read_sip(&mut ua).await;
    assert!(resp.starts_with("SIP/2.0 503 "), "{resp}");
    expected.push("xmpp_to_sip,error,nobody@xmpp.test,alice@sip.test,delivered");
    expected.push("sip_to_xmpp,im,alice@sip.test,nobody@xmpp.test,bounced");

    // error, SIP → XMPP: a 404 for an XMPP message becomes an error stanza.
    peer.send("<message from='juliet@xmpp.test/balcony' to='nobody@sip.test' type='chat' id='m2'><body>hello?</body></message>").await;
    let bounce = timeout(T, stanzas.recv()).await.unwrap().unwrap();
    assert_eq!(attr(&bounce, "type"), Some("error"), "{bounce}");
    let _ = timeout(T, requests.recv()).await.unwrap().unwrap();
    expected.push("xmpp_to_sip,im,juliet@xmpp.test,nobody@sip.test,bounced");
    expected.push("sip_to_xmpp,error,nobody@sip.test,juliet@xmpp.test,delivered");

    // subscription, SIP → XMPP: a SIP watcher subscribes; one dialog is active.
    ua.send(&subscribe("sub1", None, 1, 600)).await;
    let ok = read_sip(&mut ua).await;
    assert!(ok.starts_with("SIP/2.0 202 "), "{ok}");
    let tag = ok
        .lines()
        .find_map(|l| l.strip_prefix("To:"))
        .and_then(|t| t.split(";tag=").nth(1))
        .expect("To tag")
        .trim()
        .to_owned();
    let pending = timeout(T, requests.recv()).await.unwrap().unwrap();
    assert!(pending.starts_with("NOTIFY "), "{pending}");
    let sub = timeout(T, stanzas.recv()).await.unwrap().unwrap();
    assert!(sub.contains("subscribe"), "{sub}");
    expected.push("sip_to_xmpp,subscription,alice@sip.test,juliet@xmpp.test,delivered");
    d.metric_reaches(subs, 1.0).await;

    // subscription, XMPP → SIP (approval), then presence with status text.
    peer.send("<presence type='subscribed' from='juliet@xmpp.test' to='alice@sip.test'/>")
        .await;
    let active = timeout(T, requests.recv()).await.unwrap().unwrap();
    assert!(active.contains("Subscription-State: active"), "{active}");
    expected.push("xmpp_to_sip,subscription,juliet@xmpp.test,alice@sip.test,delivered");
    peer.send(&format!(
        "<presence from='juliet@xmpp.test/balcony' to='alice@sip.test'><show>away</show><status>{}</status></presence>",
        secrets[1]
    ))
    .await;
    let notify = timeout(T, requests.recv()).await.unwrap().unwrap();
    assert!(notify.contains(secrets[1]), "{notify}");
    expected.push("xmpp_to_sip,presence,juliet@xmpp.test,alice@sip.test,delivered");

    // subscription, XMPP → SIP (a SUBSCRIBE parley holds for an XMPP watcher): two dialogs.
    peer.send("<presence type='subscribe' from='juliet@xmpp.test' to='bob@sip.test'/>")
        .await;
    let subscribe_req = timeout(T, requests.recv()).await.unwrap().unwrap();
    assert!(subscribe_req.starts_with("SUBSCRIBE "), "{subscribe_req}");
    expected.push("xmpp_to_sip,subscription,juliet@xmpp.test,bob@sip.test,delivered");
    d.metric_reaches(subs, 2.0).await;

    // presence, SIP → XMPP: a NOTIFY in that dialog with a PIDF note.
    let call_id = subscribe_req
        .lines()
        .find_map(|l| l.strip_prefix("Call-ID:"))
        .unwrap()
        .trim()
        .to_owned();
    let from_tag = subscribe_req
        .lines()
        .find_map(|l| l.strip_prefix("From:"))
        .and_then(|f| f.split(";tag=").nth(1))
        .unwrap()
        .trim()
        .to_owned();
    let pidf = format!(
        "<?xml version='1.0'?><presence xmlns='urn:ietf:params:xml:ns:pidf' entity='pres:bob@sip.test'><tuple id='t1'><status><basic>open</basic></status><note>{}</note></tuple></presence>",
        secrets[2]
    );
    ua.send(&format!(
        "NOTIFY sip:juliet@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:5999;branch=z9hG4bKn1\r\nMax-Forwards: 70\r\nFrom: <sip:bob@sip.test>;tag=proxy1\r\nTo: <sip:juliet@xmpp.test>;tag={from_tag}\r\nCall-ID: {call_id}\r\nCSeq: 1 NOTIFY\r\nEvent: presence\r\nSubscription-State: active;expires=600\r\nContent-Type: application/pidf+xml\r\nContent-Length: {}\r\n\r\n{pidf}",
        pidf.len()
    ))
    .await;
    let resp = read_sip(&mut ua).await;
    assert!(resp.starts_with("SIP/2.0 200 "), "{resp}");
    // The first active NOTIFY: `subscribed`, then the presence.
    for _ in 0..2 {
        let s = timeout(T, stanzas.recv()).await.unwrap().unwrap();
        assert!(s.starts_with("<presence"), "{s}");
    }
    expected.push("sip_to_xmpp,subscription,bob@sip.test,juliet@xmpp.test,delivered");
    expected.push("sip_to_xmpp,presence,bob@sip.test,juliet@xmpp.test,delivered");

    // typing and receipt, XMPP → SIP: relayed (isComposing, IMDN) and audited.
    peer.send("<message from='juliet@xmpp.test/balcony' to='alice@sip.test' type='chat' id='t1'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>").await;
    let typing = timeout(T, requests.recv()).await.unwrap().unwrap();
    assert!(
        typing.contains("application/im-iscomposing+xml"),
        "{typing}"
    );
    expected.push("xmpp_to_sip,typing,juliet@xmpp.test,alice@sip.test,delivered");
    peer.send("<message from='juliet@xmpp.test/balcony' to='alice@sip.test' id='r1'><received xmlns='urn:xmpp:receipts' id='m0'/></message>").await;
    let receipt = timeout(T, requests.recv()).await.unwrap().unwrap();
    assert!(receipt.contains("<message-id>m0</message-id>"), "{receipt}");
    expected.push("xmpp_to_sip,receipt,juliet@xmpp.test,alice@sip.test,delivered");

    // The SIP watcher unsubscribes: one dialog left.
    ua.send(&subscribe("sub1", Some(&tag), 2, 0)).await;
    let ok = read_sip(&mut ua).await;
    assert!(ok.starts_with("SIP/2.0 200 "), "{ok}");
    d.metric_reaches(subs, 1.0).await;
    // An explicit unsubscribe crosses as XMPP `unsubscribe` (RFC 8048), and is audited.
    expected.push("sip_to_xmpp,subscription,alice@sip.test,juliet@xmpp.test,delivered");

    let lines = d.audit_lines(expected.len()).await;
    // Give a stray extra line the time to show up before comparing.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let lines = if read_lines(&d.audit).len() > lines.len() {
        d.audit_lines(read_lines(&d.audit).len()).await
    } else {
        lines
    };
    let mut got: Vec<String> = lines.iter().map(summary).collect();
    got.sort();
    expected.sort();
    assert_eq!(got, expected);
    let text = std::fs::read_to_string(&d.audit).unwrap();
    for s in secrets {
        assert!(!text.contains(s), "content {s:?} in the audit log:\n{text}");
    }
    for l in &lines {
        let t = l["time"].as_str().unwrap();
        assert!(t.ends_with('Z') && t.len() == 24, "{t}");
        assert!(l["bytes"].is_u64(), "{l}");
        for k in ["session", "source", "destination"] {
            assert!(l[k].is_string(), "{k} in {l}");
        }
    }
    // Sizes of what was carried, not the text: body, status text, PIDF note, error text.
    let bytes_of = |s: &str| {
        lines
            .iter()
            .find(|l| summary(l) == s)
            .and_then(|l| l["bytes"].as_u64())
    };
    assert_eq!(
        bytes_of("sip_to_xmpp,im,alice@sip.test,juliet@xmpp.test,delivered"),
        Some(secrets[0].len() as u64)
    );
    assert_eq!(
        bytes_of("xmpp_to_sip,presence,juliet@xmpp.test,alice@sip.test,delivered"),
        Some(secrets[1].len() as u64)
    );
    assert_eq!(
        bytes_of("sip_to_xmpp,presence,bob@sip.test,juliet@xmpp.test,delivered"),
        Some(secrets[2].len() as u64)
    );
    assert_eq!(
        bytes_of("xmpp_to_sip,error,nobody@xmpp.test,alice@sip.test,delivered"),
        Some(secrets[3].len() as u64)
    );
    // The SIP watcher's session is its dialog's Call-ID.
    let sub_line = lines
        .iter()
        .find(|l| {
            summary(l) == "xmpp_to_sip,subscription,juliet@xmpp.test,alice@sip.test,delivered"
        })
        .unwrap();
    assert_eq!(sub_line["session"], "sub1");
    // Every refused line names why.
    for l in lines.iter().filter(|l| l["outcome"] == "refused") {
        assert_eq!(l["reason"], "untranslatable", "{l}");
    }
    let metrics = d.metrics().await;
    assert_eq!(
        sample(
            &metrics,
            r#"parley_messages_total{direction="xmpp_to_sip",kind="typing",outcome="delivered"}"#
        ),
        Some(1.0)
    );
}

/// Replace `domain`'s certificate in `pki` with one from a CA of another name.
fn untrusted_certificate(pki: &Pki, domain: &str) {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "unknown test CA");
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec![domain.to_owned()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    std::fs::write(pki.path(&format!("{domain}.crt")), cert.pem()).unwrap();
    std::fs::write(pki.path(&format!("{domain}.key")), key.serialize_pem()).unwrap();
}

/// `parley_connections` per transport and peer domain: inbound TLS by the certificate's
/// domain, inbound TCP and UDP by the domain their requests claim, outbound by the pool's
/// remote domain; and inbound TLS handshake failures by reason.
#[tokio::test]
async fn sip_connections_and_tls_failures_are_counted() {
    let pki = Pki::new("ops-conn", &["sip.test", "xmpp.test"]);
    // A sip.test certificate from a CA parley does not know, with a client that trusts
    // parley's CA.
    let rogue = Pki::new("ops-rogue", &["sip.test"]);
    untrusted_certificate(&rogue, "sip.test");
    std::fs::copy(pki.path("ca.crt"), rogue.path("ca.crt")).unwrap();
    let (xmpp_hop, _stanzas) = xmpp_server(&pki, "xmpp.test").await;
    let (sip_hop, mut requests) = sip_proxy(&pki, "sip.test").await;
    let mut d = Daemon::start(&pki, xmpp_hop, sip_hop, "");
    d.ready().await;
    let conn = |dir: &str, peer: &str| {
        format!(r#"parley_connections{{protocol="sip",direction="{dir}",peer="{peer}"}}"#)
    };

    // Inbound TLS from a sip.test certificate.
    let mut ua = sip_client(&pki, d.sip, "sip.test", "xmpp.test").await;
    ua.send(&options("TLS", "sip.test", "tls1")).await;
    assert!(read_sip(&mut ua).await.starts_with("SIP/2.0 200 "));
    d.metric_reaches(&conn("inbound", "sip.test"), 1.0).await;

    // Inbound plain TCP claiming tcp-peer.test.
    let tcp = TcpStream::connect(d.sip_tcp).await.unwrap();
    let mut tcp = Text::new(tcp);
    tcp.send(&options("TCP", "tcp-peer.test", "tcp1")).await;
    assert!(read_sip(&mut tcp).await.starts_with("SIP/2.0 200 "));
    d.metric_reaches(&conn("inbound", "tcp-peer.test"), 1.0)
        .await;

    // Inbound UDP claiming udp-peer.test.
    let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    udp.send_to(
        options("UDP", "udp-peer.test", "udp1").as_bytes(),
        d.sip_udp,
    )
    .await
    .unwrap();
    let mut buf = [0u8; 2048];
    let (n, _) = timeout(T, udp.recv_from(&mut buf)).await.unwrap().unwrap();
    assert!(buf[..n].starts_with(b"SIP/2.0 200 "));
    d.metric_reaches(&conn("inbound", "udp-peer.test"), 1.0)
        .await;

    // Outbound: an XMPP message makes parley connect to sip.test's proxy.
    let mut peer = xmpp_initiator(&pki, d.xmpp, "xmpp.test", "sip.test").await;
    peer.send("<message from='juliet@xmpp.test/b' to='alice@sip.test' type='chat' id='o1'><body>hi</body></message>").await;
    let _ = timeout(T, requests.recv()).await.unwrap().unwrap();
    d.metric_reaches(&conn("outbound", "sip.test"), 1.0).await;

    // Closing the TCP connection takes it off the gauge.
    drop(tcp);
    d.metric_reaches(&conn("inbound", "tcp-peer.test"), 0.0)
        .await;

    // TLS handshake failures on the SIP TLS port, by reason.
    let failures = |reason: &str| {
        format!(
            r#"parley_tls_handshake_failures_total{{protocol="sip",direction="inbound",reason="{reason}"}}"#
        )
    };
    let mut plain = TcpStream::connect(d.sip).await.unwrap();
    plain
        .write_all(options("TCP", "sip.test", "plain1").as_bytes())
        .await
        .unwrap();
    let mut sink = Vec::new();
    let _ = timeout(T, plain.read_to_end(&mut sink)).await;
    d.metric_reaches(&failures("not_tls"), 1.0).await;
    let tcp = TcpStream::connect(d.sip).await.unwrap();
    if let Ok(mut tls) = rogue
        .client("sip.test")
        .connect(ServerName::try_from("xmpp.test").unwrap(), tcp)
        .await
    {
        // TLS 1.3: the client is done before the server has checked its certificate.
        let _ = tls.write_all(b"\r\n\r\n").await;
        let _ = timeout(T, tls.read_to_end(&mut sink)).await;
    }
    let text = d.metric_reaches(&failures("untrusted_ca"), 1.0).await;
    assert_eq!(sample(&text, &failures("not_tls")), Some(1.0));
    let log = d.log_text();
    assert!(
        log.contains("inbound SIP TLS handshake failed") && log.contains("untrusted_ca"),
        "{log}"
    );
}
