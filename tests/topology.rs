//! Topology hiding (DESIGN "Policy", privacy): only addresses and display names cross the
//! boundary. Against a running gateway and stand-in peers on loopback:
//! - an XMPP → SIP MESSAGE and the NOTIFYs of a SIP watcher of an XMPP user carry nothing
//!   of the XMPP side — no resource, stanza id, peer port or next-hop port — in any header,
//!   and parley's own sent-by is the only Via;
//! - an XMPP stanza made from a SIP MESSAGE carries nothing of the SIP side's Via, Contact,
//!   Record-Route, User-Agent, internal IPs or Call-ID host.

#[allow(dead_code)]
mod common {
    pub mod peers;
    pub mod pki;
}

use std::net::SocketAddr;
use std::time::Duration;

use common::peers::*;
use common::pki::Pki;
use parley::app::App;
use parley::config::Config;
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;

const RESOURCE: &str = "SecretRes-7731";
const STANZA_ID: &str = "stanza-secret-4412";

fn config_text(pki: &Pki, xmpp_hop: SocketAddr, sip_hop: SocketAddr) -> String {
    let d = pki.dir.display();
    let domains = pki.domains_toml(xmpp_hop, sip_hop);
    format!(
        r#"
state_dir = "{d}/state"
[tls]
ca_file = "{d}/ca.crt"
[sip]
listen_tls = ["127.0.0.1:0"]
bounce_window_ms = 300
[xmpp]
listen = ["127.0.0.1:0"]
connect_timeout_ms = 2000
delivery_timeout_ms = 3000
{domains}
"#
    )
}

/// The header lines of a SIP message.
fn head(msg: &str) -> Vec<&str> {
    msg.split("\r\n\r\n")
        .next()
        .unwrap()
        .lines()
        .skip(1)
        .collect()
}

fn header<'a>(msg: &'a str, name: &str) -> Vec<&'a str> {
    head(msg)
        .into_iter()
        .filter_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then_some(v.trim())
        })
        .collect()
}

/// A SIP request parley originated for the XMPP side: every trace of that side is absent.
fn assert_no_xmpp_side(req: &str, secrets: &[String], parley_sent_by: &str) {
    for s in secrets {
        assert!(!req.contains(s.as_str()), "{s:?} leaked into:\n{req}");
    }
    let vias = header(req, "Via");
    assert_eq!(vias.len(), 1, "only parley's own Via: {req}");
    // Parley's sent-by is its configured SIP listen address (port 0 here: bound at random).
    assert!(
        vias[0].starts_with(&format!("SIP/2.0/TLS {parley_sent_by};")),
        "{req}"
    );
    assert!(header(req, "Record-Route").is_empty(), "{req}");
    for c in header(req, "Contact") {
        assert!(!c.contains(RESOURCE), "{req}");
    }
}

async fn stop(cancel: CancellationToken, done: tokio::task::JoinHandle<bool>, pki: &Pki) {
    cancel.cancel();
    assert!(timeout(T, done).await.unwrap().unwrap());
    let _ = std::fs::remove_dir_all(&pki.dir);
}

#[tokio::test]
async fn xmpp_to_sip_message_and_notify_carry_nothing_of_the_xmpp_side() {
    let pki = Pki::new("topology-x2s", &["sip.test", "xmpp.test"]);
    let (xmpp_hop, mut stanzas) = xmpp_server(&pki, "xmpp.test").await;
    let (sip_hop, mut requests) = sip_proxy(&pki, "sip.test").await;
    let config = Config::parse(&config_text(&pki, xmpp_hop, sip_hop)).unwrap();
    config.validate().unwrap();
    let cancel = CancellationToken::new();
    let app = App::build(config, cancel.clone()).await.unwrap();
    let (sip, xmpp, _) = app.local_addrs();
    let done = tokio::spawn(app.run(Duration::from_secs(2)));
    let sent_by = "127.0.0.1:0";

    let mut peer = xmpp_initiator(&pki, xmpp[0], "xmpp.test", "sip.test").await;
    let peer_port = peer.io.get_ref().0.local_addr().unwrap().port();
    let secrets = vec![
        RESOURCE.to_owned(),
        STANZA_ID.to_owned(),
        format!(":{peer_port}"),
        format!(":{}", xmpp_hop.port()),
        format!(":{}", xmpp[0].port()),
    ];

    peer.send(&format!(
        "<message from='juliet@xmpp.test/{RESOURCE}' to='bob@sip.test' type='chat' id='{STANZA_ID}'><body>hi bob</body></message>"
    ))
    .await;
    let req = timeout(T, requests.recv()).await.unwrap().unwrap();
    assert!(req.starts_with("MESSAGE sip:bob@sip.test "), "{req}");
    assert!(
        header(&req, "From")[0].contains("<sip:juliet@xmpp.test>"),
        "{req}"
    );
    assert_no_xmpp_side(&req, &secrets, sent_by);

    // bob watches juliet's presence: the NOTIFYs carry nothing of her side either.
    let mut ua = sip_client(&pki, sip[0], "sip.test", "xmpp.test").await;
    ua.send("SUBSCRIBE sip:juliet@xmpp.test SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:5999;branch=z9hG4bKtopo1\r\nMax-Forwards: 70\r\nFrom: <sip:bob@sip.test>;tag=w1\r\nTo: <sip:juliet@xmpp.test>\r\nCall-ID: topo-sub-1\r\nCSeq: 1 SUBSCRIBE\r\nContact: <sip:bob@127.0.0.1:5999;transport=tls>\r\nEvent: presence\r\nAccept: application/pidf+xml\r\nExpires: 600\r\nContent-Length: 0\r\n\r\n").await;
    let ok = read_sip(&mut ua).await;
    assert!(ok.starts_with("SIP/2.0 202 "), "{ok}");
    let mut notifies = vec![timeout(T, requests.recv()).await.unwrap().unwrap()];
    let sub = timeout(T, stanzas.recv()).await.unwrap().unwrap();
    assert_eq!(attr(&sub, "type"), Some("subscribe"), "{sub}");
    peer.send("<presence from='juliet@xmpp.test' to='bob@sip.test' type='subscribed'/>")
        .await;
    peer.send(&format!(
        "<presence from='juliet@xmpp.test/{RESOURCE}' to='bob@sip.test' id='{STANZA_ID}'><show>away</show><status>out</status></presence>"
    ))
    .await;
    // The active NOTIFYs: until one carries juliet's `away` (bounded by the timeout).
    loop {
        let n = timeout(T, requests.recv()).await.unwrap().unwrap();
        let done = n.contains("away");
        notifies.push(n);
        if done {
            break;
        }
    }
    for n in &notifies {
        assert!(n.starts_with("NOTIFY "), "{n}");
        assert_no_xmpp_side(n, &secrets, sent_by);
    }
    stop(cancel, done, &pki).await;
}

#[tokio::test]
async fn sip_to_xmpp_stanzas_carry_nothing_of_the_sip_side() {
    let pki = Pki::new("topology-s2x", &["sip.test", "xmpp.test"]);
    let (xmpp_hop, mut stanzas) = xmpp_server(&pki, "xmpp.test").await;
    let (sip_hop, _requests) = sip_proxy(&pki, "sip.test").await;
    let config = Config::parse(&config_text(&pki, xmpp_hop, sip_hop)).unwrap();
    config.validate().unwrap();
    let cancel = CancellationToken::new();
    let app = App::build(config, cancel.clone()).await.unwrap();
    let (sip, _, _) = app.local_addrs();
    let done = tokio::spawn(app.run(Duration::from_secs(2)));

    let mut ua = sip_client(&pki, sip[0], "sip.test", "xmpp.test").await;
    let ua_port = ua.io.get_ref().0.local_addr().unwrap().port();
    let body = "hello juliet";
    ua.send(&format!(
        "MESSAGE sip:juliet@xmpp.test SIP/2.0\r\nVia: SIP/2.0/TLS 10.1.2.3:5070;branch=z9hG4bKtopo2;received=192.0.2.44\r\nVia: SIP/2.0/TLS 172.16.9.9:5072;branch=z9hG4bKinner\r\nRecord-Route: <sip:10.9.9.9:5073;lr>\r\nMax-Forwards: 69\r\nFrom: \"Bob\" <sip:bob@sip.test>;tag=b1\r\nTo: <sip:juliet@xmpp.test>\r\nCall-ID: c0ffee42@pbx7.internal.sip.test\r\nCSeq: 1 MESSAGE\r\nContact: <sip:bob@192.168.77.5:5071;transport=tls>\r\nUser-Agent: SecretPBX/9.1\r\nP-Asserted-Identity: <sip:bob@10.1.2.99>\r\nContent-Type: text/plain;charset=UTF-8\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    ))
    .await;
    let resp = read_sip(&mut ua).await;
    assert!(resp.starts_with("SIP/2.0 202 "), "{resp}");
    let stanza = timeout(T, stanzas.recv()).await.unwrap().unwrap();
    assert!(stanza.contains("<body>hello juliet</body>"), "{stanza}");
    assert_eq!(attr(&stanza, "from"), Some("bob@sip.test"), "{stanza}");
    // The conversation keeps one thread, derived from the Call-ID without showing it.
    assert!(stanza.contains("<thread>"), "{stanza}");
    for secret in [
        "10.1.2.3",
        "192.0.2.44",
        "172.16.9.9",
        "10.9.9.9",
        "192.168.77.5",
        "10.1.2.99",
        "5070",
        "5071",
        "5072",
        "5073",
        "z9hG4bK",
        "SecretPBX",
        "pbx7",
        "internal",
        &format!(":{ua_port}"),
    ] {
        assert!(
            !stanza.contains(secret),
            "{secret:?} leaked into:\n{stanza}"
        );
    }
    stop(cancel, done, &pki).await;
}
