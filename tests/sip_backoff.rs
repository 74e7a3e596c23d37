//! Outbound SIP connection backoff through a running gateway (RFC 3261 §17.1.2: a request
//! lives until Timer F), against stand-in peers on loopback. While a SIP peer refuses
//! connections (it is restarting), requests wait and the connection is retried: an XMPP
//! `subscribe` becomes a SUBSCRIBE the peer receives once it is back, instead of an error at
//! the first refusal, and an XMPP message is delivered (the spool keeps working around it).
//! A peer that never comes back is retried several times, and the XMPP side hears
//! `service-unavailable` (503) once the transaction timeout has passed.

// Only some of the shared stand-in helpers are used here.
#[allow(dead_code)]
mod common {
    pub mod peers;
    pub mod pki;
}

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::peers::*;
use common::pki::Pki;
use parley::app::App;
use parley::config::Config;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;

const T: Duration = Duration::from_secs(20);

struct Gw {
    xmpp: SocketAddr,
    cancel: CancellationToken,
}

impl Drop for Gw {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

async fn start(pki: &Pki, xmpp_hop: SocketAddr, sip_hop: SocketAddr, timeout_ms: u64) -> Gw {
    let d = pki.dir.display();
    let domains = pki.domains_toml(xmpp_hop, sip_hop);
    let text = format!(
        r#"
state_dir = "{d}/state"
[tls]
ca_file = "{d}/ca.crt"
[sip]
listen_tls = ["127.0.0.1:0"]
transaction_timeout_ms = {timeout_ms}
[xmpp]
listen = ["127.0.0.1:0"]
connect_timeout_ms = 2000
delivery_timeout_ms = 3000
{domains}
"#
    );
    let config = Config::parse(&text).unwrap();
    config.validate().unwrap();
    let cancel = CancellationToken::new();
    let app = App::build(config, cancel.clone()).await.unwrap();
    let (_, xmpp, _) = app.local_addrs();
    tokio::spawn(app.run(Duration::from_secs(2)));
    Gw {
        xmpp: xmpp[0],
        cancel,
    }
}

/// A TLS SIP proxy for `domain` on `at`, answering every request 200; requests go on the
/// channel.
async fn sip_proxy_at(pki: &Pki, domain: &'static str, at: SocketAddr) -> mpsc::Receiver<String> {
    let listener = bind_again(at).await;
    let acceptor = pki.server(domain);
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let (acceptor, tx) = (acceptor.clone(), tx.clone());
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut s = Text::new(tls);
                loop {
                    let req = read_sip(&mut s).await;
                    s.send(&response_to(&req, "200 OK")).await;
                    if tx.send(req).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    rx
}

fn chat(id: &str, body: &str) -> String {
    format!(
        "<message from='juliet@xmpp.test/balcony' to='alice@sip.test' type='chat' id='{id}'><body>{body}</body></message>"
    )
}

/// The peer refuses connections for the first seconds after the message is sent (it is
/// restarting), then comes up on the same port: the MESSAGE reaches it and the XMPP sender
/// gets no error. (A page-mode MESSAGE goes through the durable spool, which retries it;
/// `tests/crash.rs` checks that it survives a crash meanwhile.)
#[tokio::test]
async fn message_waits_for_a_restarting_sip_peer_and_is_delivered() {
    let pki = Pki::new("backoff-late", &["sip.test", "xmpp.test"]);
    let (xmpp_hop, mut stanzas) = xmpp_server(&pki, "xmpp.test").await;
    let sip_hop = port_for_later();
    let gw = start(&pki, xmpp_hop, sip_hop, 32_000).await;
    let mut peer = xmpp_initiator(&pki, gw.xmpp, "xmpp.test", "sip.test").await;
    peer.send(&chat("b1", "are you back?")).await;
    // While the peer is down nothing comes back to the XMPP side: no bounce at the first
    // refusal (before, the sender got remote-server-not-found at once).
    let early = timeout(Duration::from_secs(3), stanzas.recv()).await;
    assert!(
        early.is_err(),
        "answered while the peer was down: {early:?}"
    );
    let mut requests = sip_proxy_at(&pki, "sip.test", sip_hop).await;
    let req = timeout(T, requests.recv())
        .await
        .expect("MESSAGE delivered once the peer is back")
        .unwrap();
    assert!(req.starts_with("MESSAGE sip:alice@sip.test"), "{req}");
    assert!(req.contains("are you back?"), "{req}");
    // The 200 produces no error stanza either.
    let after = timeout(Duration::from_secs(1), stanzas.recv()).await;
    assert!(after.is_err(), "error after delivery: {after:?}");
    // And the connection is reused for the next message, at once.
    peer.send(&chat("b2", "good")).await;
    let req = timeout(T, requests.recv()).await.unwrap().unwrap();
    assert!(req.contains("good"), "{req}");
}

/// The same for a presence subscription: the SUBSCRIBE has no spool to fall back on, so
/// before the backoff the XMPP watcher got an error presence at the first refusal.
#[tokio::test]
async fn subscribe_waits_for_a_restarting_sip_peer() {
    let pki = Pki::new("backoff-sub", &["sip.test", "xmpp.test"]);
    let (xmpp_hop, mut stanzas) = xmpp_server(&pki, "xmpp.test").await;
    let sip_hop = port_for_later();
    let gw = start(&pki, xmpp_hop, sip_hop, 32_000).await;
    let mut peer = xmpp_initiator(&pki, gw.xmpp, "xmpp.test", "sip.test").await;
    peer.send("<presence type='subscribe' from='juliet@xmpp.test' to='bob@sip.test'/>")
        .await;
    let early = timeout(Duration::from_secs(3), stanzas.recv()).await;
    assert!(
        early.is_err(),
        "answered while the peer was down: {early:?}"
    );
    let mut requests = sip_proxy_at(&pki, "sip.test", sip_hop).await;
    let req = timeout(T, requests.recv())
        .await
        .expect("SUBSCRIBE delivered once the peer is back")
        .unwrap();
    assert!(req.starts_with("SUBSCRIBE sip:bob@sip.test"), "{req}");
    // The 200 establishes the subscription: nothing in error reaches the watcher.
    let after = timeout(Duration::from_secs(1), stanzas.recv()).await;
    if let Ok(Some(s)) = &after {
        assert!(!s.contains("type='error'"), "{s}");
    }
}

/// A peer that accepts TCP and drops it at once, for as long as the test runs: parley
/// reconnects several times within the transaction timeout, then answers the watcher's
/// subscription with `service-unavailable` (503).
#[tokio::test]
async fn subscribe_to_a_peer_that_stays_down_is_retried_then_refused() {
    let pki = Pki::new("backoff-down", &["sip.test", "xmpp.test"]);
    let (xmpp_hop, mut stanzas) = xmpp_server(&pki, "xmpp.test").await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sip_hop = listener.local_addr().unwrap();
    let attempts = Arc::new(AtomicUsize::new(0));
    let counter = attempts.clone();
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            counter.fetch_add(1, Ordering::SeqCst);
            drop(tcp);
        }
    });
    let gw = start(&pki, xmpp_hop, sip_hop, 5_000).await;
    let mut peer = xmpp_initiator(&pki, gw.xmpp, "xmpp.test", "sip.test").await;
    peer.send("<presence type='subscribe' from='juliet@xmpp.test' to='bob@sip.test'/>")
        .await;
    let refused = timeout(T, stanzas.recv())
        .await
        .expect("answered within the test's bound")
        .unwrap();
    assert!(refused.starts_with("<presence"), "{refused}");
    assert!(
        refused.contains("type='error'") || refused.contains("type=\"error\""),
        "{refused}"
    );
    assert!(refused.contains("service-unavailable"), "{refused}");
    let n = attempts.load(Ordering::SeqCst);
    assert!(n >= 3, "only {n} connection attempts before the error");
}
