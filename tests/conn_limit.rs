//! The total bound on concurrent inbound connections (`[connections]`), per protocol, against
//! the running binary: over it, a new connection is closed at once — XMPP after a
//! `resource-constraint` stream error, SIP silently — and counted; a place given back admits
//! the next one. (The per-address bound is in the hostile table, tests/hostile/limits.rs.)

#[allow(dead_code)]
mod common {
    pub mod daemon;
    pub mod peers;
    pub mod pki;
    pub mod wire;
}

use std::time::Duration;

use common::daemon::Daemon;
use common::peers::T;
use common::pki::Pki;
use common::wire;
use tokio::net::TcpStream;

async fn daemon(pki: &Pki) -> Daemon {
    let d = pki.dir.display();
    let config = format!(
        r#"
state_dir = "{d}/state"
[tls]
ca_file = "{d}/ca.crt"
[metrics]
listen = "127.0.0.1:0"
[sip]
listen_tls = ["127.0.0.1:0"]
[xmpp]
listen = ["127.0.0.1:0"]
[connections]
sip_max_inbound = 3
xmpp_max_inbound = 3
[[domain]]
name = "sip.test"
side = "sip"
next_hop = "127.0.0.1:9"
cert_file = "{d}/sip.test.crt"
key_file = "{d}/sip.test.key"
[[domain]]
name = "xmpp.test"
side = "xmpp"
next_hop = "127.0.0.1:9"
cert_file = "{d}/xmpp.test.crt"
key_file = "{d}/xmpp.test.key"
"#
    );
    let file = pki.dir.join("parley.toml");
    std::fs::write(&file, config).unwrap();
    Daemon::start(&file).await
}

const HEADER: &str = "<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' from='xmpp.test' to='sip.test' version='1.0'>";

#[tokio::test]
async fn connections_over_the_total_are_closed_at_once_and_counted_and_places_come_back() {
    let pki = Pki::new("conn-limit-total", &["sip.test", "xmpp.test"]);
    let parley = daemon(&pki).await;

    // XMPP: three held, the fourth hears resource-constraint and is closed.
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(TcpStream::connect(parley.xmpp).await.unwrap());
    }
    let mut over = TcpStream::connect(parley.xmpp).await.unwrap();
    let seen = wire::read_until(&mut over, T, |_| false).await;
    assert!(
        seen.text.contains("<stream:error><resource-constraint "),
        "{seen:?}"
    );
    assert!(seen.text.ends_with("</stream:stream>"), "{seen:?}");
    assert!(seen.closed, "{seen:?}");
    assert_eq!(
        parley
            .sample(
                "parley_connections_refused_total",
                &[("protocol", "xmpp"), ("bound", "total")]
            )
            .await,
        1.0
    );
    // One held connection goes away: its place admits a new stream (parley answers its
    // header with its own and the features).
    drop(held.pop());
    let mut admitted = false;
    for _ in 0..50 {
        let mut s = TcpStream::connect(parley.xmpp).await.unwrap();
        wire::write(&mut s, HEADER.as_bytes()).await.unwrap();
        let seen = wire::read_until(&mut s, Duration::from_secs(2), |t| {
            t.contains("</stream:features>") || t.contains("</stream:stream>")
        })
        .await;
        if seen.text.contains("<stream:features>") {
            admitted = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(admitted, "a place given back admits the next stream");
    // (Tries made before the place was given back were refused and counted too.)
    let xmpp_refused = parley
        .sample(
            "parley_connections_refused_total",
            &[("protocol", "xmpp"), ("bound", "total")],
        )
        .await;

    // SIP: three held, the fourth is closed without a byte.
    let mut sip_held = Vec::new();
    for _ in 0..3 {
        sip_held.push(TcpStream::connect(parley.sip).await.unwrap());
    }
    let mut over = TcpStream::connect(parley.sip).await.unwrap();
    let seen = wire::read_until(&mut over, T, |_| false).await;
    assert!(seen.closed && seen.text.is_empty(), "{seen:?}");
    assert_eq!(
        parley
            .sample(
                "parley_connections_refused_total",
                &[("protocol", "sip"), ("bound", "total")]
            )
            .await,
        1.0
    );
    // The SIP bound is separate from the XMPP one: the SIP refusal did not count there.
    assert_eq!(
        parley
            .sample(
                "parley_connections_refused_total",
                &[("protocol", "xmpp"), ("bound", "total")]
            )
            .await,
        xmpp_refused
    );
    drop(sip_held);
    let mut served = false;
    for _ in 0..50 {
        let tcp = TcpStream::connect(parley.sip).await.unwrap();
        let tls = pki
            .client("sip.test")
            .connect(
                rustls_pki_types::ServerName::try_from("xmpp.test").unwrap(),
                tcp,
            )
            .await;
        if tls.is_ok() {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        served,
        "SIP connections are admitted again once places are free"
    );
    drop(held);
}
