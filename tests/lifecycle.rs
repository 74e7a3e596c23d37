//! Contact lifecycle and refusals made on the users' own platforms, against a running
//! gateway with tiny durations from its config:
//! - a pair unused for `[policy] retire_after` is deactivated (the sender is a stranger
//!   again) and removed from memory and the store `retire_grace` later;
//! - a SIP 603 Decline to parley's MESSAGE, and an XMPP `unsubscribed`, revoke consent: the
//!   next message from that sender is refused by parley itself.

#[allow(dead_code)]
mod common {
    pub mod peers;
    pub mod pki;
}

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use common::peers::*;
use common::pki::Pki;
use parley::app::App;
use parley::config::Config;
use parley::routing::Gateway;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;

fn config_text(pki: &Pki, xmpp_hop: SocketAddr, sip_hop: SocketAddr, policy: &str) -> String {
    let d = pki.dir.display();
    let domains = pki.domains_toml(xmpp_hop, sip_hop);
    format!(
        r#"
state_dir = "{d}/state"
[log]
level = "info"
[tls]
ca_file = "{d}/ca.crt"
[sip]
listen_tls = ["127.0.0.1:0"]
bounce_window_ms = 300
[xmpp]
listen = ["127.0.0.1:0"]
connect_timeout_ms = 2000
delivery_timeout_ms = 3000
[policy]
{policy}
[policy.consent]
max_unaccepted = 2
[policy.limits]
domain_rate = 0
sender_rate = 0
{domains}
"#
    )
}

/// A SIP proxy answering 603 Decline to requests for `decliner@`, 200 to the others; every
/// request goes on the channel.
async fn declining_proxy(pki: &Pki) -> (SocketAddr, mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = pki.server("sip.test");
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let (acceptor, tx) = (acceptor.clone(), tx.clone());
            tokio::spawn(async move {
                let mut s = Text::new(acceptor.accept(tcp).await.unwrap());
                loop {
                    let req = read_sip(&mut s).await;
                    let code = if req.starts_with("MESSAGE sip:decliner@") {
                        "603 Decline"
                    } else {
                        "200 OK"
                    };
                    s.send(&response_to(&req, code)).await;
                    if tx.send(req).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (addr, rx)
}

struct Running {
    pki: Pki,
    gw: Arc<Gateway>,
    cancel: CancellationToken,
    done: tokio::task::JoinHandle<bool>,
    sip: SocketAddr,
    xmpp: SocketAddr,
    stanzas: mpsc::Receiver<String>,
    requests: mpsc::Receiver<String>,
}

async fn start(tag: &str, policy: &str) -> Running {
    let pki = Pki::new(&format!("lifecycle-{tag}"), &["sip.test", "xmpp.test"]);
    let (xmpp_hop, stanzas) = xmpp_server(&pki, "xmpp.test").await;
    let (sip_hop, requests) = declining_proxy(&pki).await;
    let config = Config::parse(&config_text(&pki, xmpp_hop, sip_hop, policy)).unwrap();
    config.validate().unwrap();
    let cancel = CancellationToken::new();
    let app = App::build(config, cancel.clone()).await.unwrap();
    let (sip, xmpp, _) = app.local_addrs();
    let gw = app.gateway();
    let done = tokio::spawn(app.run(Duration::from_secs(5)));
    Running {
        pki,
        gw,
        cancel,
        done,
        sip: sip[0],
        xmpp: xmpp[0],
        stanzas,
        requests,
    }
}

impl Running {
    async fn stop(self) {
        self.cancel.cancel();
        assert!(timeout(T, self.done).await.unwrap().unwrap());
        let _ = std::fs::remove_dir_all(&self.pki.dir);
    }
}

type Ua = Text<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>;

/// bob → juliet over SIP; the final status code.
async fn bob_writes(ua: &mut Ua, n: u32) -> u16 {
    ua.send(&sip_message(
        "bob@sip.test",
        "juliet@xmpp.test",
        &format!("lc-{n}@sip.test"),
        &format!("m{n}"),
    ))
    .await;
    let resp = read_sip(ua).await;
    resp[8..11].parse().unwrap()
}

/// Poll (bounded: 100 × 50 ms) until `f` holds.
async fn eventually(what: &str, f: impl Fn() -> bool) {
    for _ in 0..100 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("never: {what}");
}

#[tokio::test]
async fn unused_consent_is_retired_then_removed_and_the_sender_is_a_stranger_again() {
    let mut r = start(
        "retire",
        "retire_after = \"600ms\"\nretire_grace = \"600ms\"",
    )
    .await;
    let mut ua = sip_client(&r.pki, r.sip, "sip.test", "xmpp.test").await;
    // Two messages from a stranger, the third refused.
    assert_eq!(bob_writes(&mut ua, 1).await, 202);
    assert_eq!(bob_writes(&mut ua, 2).await, 202);
    assert_eq!(bob_writes(&mut ua, 3).await, 403);
    for _ in 0..2 {
        timeout(T, r.stanzas.recv()).await.unwrap().unwrap();
    }
    // juliet replies: she accepts bob.
    let mut peer = xmpp_initiator(&r.pki, r.xmpp, "xmpp.test", "sip.test").await;
    peer.send("<message from='juliet@xmpp.test/p' to='bob@sip.test' type='chat' id='r1'><body>hi</body></message>").await;
    timeout(T, r.requests.recv()).await.unwrap().unwrap();
    assert_eq!(bob_writes(&mut ua, 4).await, 202);
    timeout(T, r.stanzas.recv()).await.unwrap().unwrap();
    let book = r.gw.contacts().clone();
    assert!(book.state("bob@sip.test", "juliet@xmpp.test").accepted);

    // Unused: deactivated (bob is a stranger to juliet again), then removed.
    eventually("juliet's acceptance of bob retired", || {
        book.record("juliet@xmpp.test", "bob@sip.test")
            .is_some_and(|p| p.retired_ms != 0)
    })
    .await;
    assert!(!book.state("bob@sip.test", "juliet@xmpp.test").accepted);
    eventually("the retired pairs removed", || {
        book.record("juliet@xmpp.test", "bob@sip.test").is_none()
            && book.record("bob@sip.test", "juliet@xmpp.test").is_none()
    })
    .await;
    r.gw.flush_contacts().await.unwrap();
    assert!(
        r.gw.store().contacts().unwrap().pairs.is_empty(),
        "removed from the store too"
    );
    // A stranger again: two messages, then refused.
    assert_eq!(bob_writes(&mut ua, 5).await, 202);
    assert_eq!(bob_writes(&mut ua, 6).await, 202);
    assert_eq!(bob_writes(&mut ua, 7).await, 403);
    r.stop().await;
}

#[tokio::test]
async fn a_sip_decline_and_an_xmpp_unsubscribed_revoke_consent() {
    let mut r = start("refuse", "").await;
    let mut peer = xmpp_initiator(&r.pki, r.xmpp, "xmpp.test", "sip.test").await;

    // SIP 603 Decline to juliet's first message: the next one is refused by parley, and
    // never reaches the SIP side.
    peer.send("<message from='juliet@xmpp.test/p' to='decliner@sip.test' type='chat' id='d1'><body>one</body></message>").await;
    timeout(T, r.requests.recv()).await.unwrap().unwrap();
    let err = timeout(T, r.stanzas.recv()).await.unwrap().unwrap();
    assert!(
        err.contains("type='error'") || err.contains("type=\"error\""),
        "{err}"
    );
    peer.send("<message from='juliet@xmpp.test/p' to='decliner@sip.test' type='chat' id='d2'><body>two</body></message>").await;
    let err = timeout(T, r.stanzas.recv()).await.unwrap().unwrap();
    assert!(err.contains("policy-violation"), "{err}");
    assert!(err.contains("Recipient Has Not Accepted You Yet"), "{err}");
    assert!(r.requests.try_recv().is_err(), "nothing sent to SIP");

    // juliet accepts bob by writing; bob's message goes through.
    peer.send("<message from='juliet@xmpp.test/p' to='bob@sip.test' type='chat' id='b1'><body>hi</body></message>").await;
    timeout(T, r.requests.recv()).await.unwrap().unwrap();
    let mut ua = sip_client(&r.pki, r.sip, "sip.test", "xmpp.test").await;
    for n in 1..=3 {
        assert_eq!(
            bob_writes(&mut ua, n).await,
            202,
            "accepted: past the stranger limit"
        );
        timeout(T, r.stanzas.recv()).await.unwrap().unwrap();
    }
    // juliet refuses bob's presence subscription on her platform: consent revoked.
    peer.send("<presence from='juliet@xmpp.test' to='bob@sip.test' type='unsubscribed'/>")
        .await;
    let gw = r.gw.clone();
    eventually("consent revoked", || {
        !gw.contacts()
            .state("bob@sip.test", "juliet@xmpp.test")
            .accepted
    })
    .await;
    assert_eq!(bob_writes(&mut ua, 10).await, 403);
    // Writing to bob again accepts him again.
    peer.send("<message from='juliet@xmpp.test/p' to='bob@sip.test' type='chat' id='b2'><body>ok</body></message>").await;
    timeout(T, r.requests.recv()).await.unwrap().unwrap();
    assert_eq!(bob_writes(&mut ua, 11).await, 202);
    r.stop().await;
}
