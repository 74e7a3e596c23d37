//! The whole path through a running gateway: SIP over TLS ⇄ XMPP s2s, against independent
//! stand-in peers on loopback (see `common/peers.rs`). The interop suite repeats these against
//! real Prosody and Kamailio.

// Only some of the shared stand-in helpers are used here.
#[allow(dead_code)]
mod common {
    pub mod dialback;
    pub mod peers;
    pub mod pki;
}

/// Presence dialogs both ways (RFC 6665, DESIGN presence table).
#[path = "sip/presence.rs"]
mod presence;

use std::net::SocketAddr;
use std::time::Duration;

use common::peers::*;
use common::pki::Pki;
use parley::app::App;
use parley::config::Config;
use tokio::task::JoinHandle;
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;

struct Gateway {
    sip: SocketAddr,
    sip_tcp: SocketAddr,
    sip_udp: SocketAddr,
    xmpp: SocketAddr,
    xmpp_tls: SocketAddr,
    cancel: CancellationToken,
    done: JoinHandle<bool>,
}

impl Gateway {
    async fn start(pki: &Pki, xmpp_hop: SocketAddr, sip_hop: SocketAddr) -> Gateway {
        Gateway::start_with(pki, xmpp_hop, sip_hop, false, "", 3000).await
    }

    /// With `direct_tls`, parley reaches the XMPP peer with TLS from the first byte.
    async fn start_with(
        pki: &Pki,
        xmpp_hop: SocketAddr,
        sip_hop: SocketAddr,
        direct_tls: bool,
        xmpp_domain_extra: &str,
        delivery_ms: u64,
    ) -> Gateway {
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
listen_tcp = ["127.0.0.1:0"]
listen_udp = ["127.0.0.1:0"]
bounce_window_ms = 1000
[xmpp]
listen = ["127.0.0.1:0"]
listen_tls = ["127.0.0.1:0"]
connect_timeout_ms = 2000
delivery_timeout_ms = {delivery_ms}
[[domain]]
name = "sip.test"
side = "sip"
next_hop = "{sip_hop}"
cert_file = "{d}/sip.test.crt"
key_file = "{d}/sip.test.key"
[[domain]]
name = "sip2.test"
side = "sip"
next_hop = "{sip_hop}"
cert_file = "{d}/sip2.test.crt"
key_file = "{d}/sip2.test.key"
[[domain]]
name = "xmpp.test"
side = "xmpp"
next_hop = "{xmpp_hop}"
direct_tls = {direct_tls}
{xmpp_domain_extra}
cert_file = "{d}/xmpp.test.crt"
key_file = "{d}/xmpp.test.key"
"#
        );
        let config = Config::parse(&text).unwrap();
        config.validate().unwrap();
        let cancel = CancellationToken::new();
        let app = App::build(config, cancel.clone()).await.unwrap();
        let (sip, xmpp, xmpp_tls) = app.local_addrs();
        let (sip_tcp, sip_udp) = app.sip_plain_addrs();
        let done = tokio::spawn(app.run(Duration::from_secs(5)));
        Gateway {
            sip: sip[0],
            sip_tcp: sip_tcp[0],
            sip_udp: sip_udp[0],
            xmpp: xmpp[0],
            xmpp_tls: xmpp_tls[0],
            cancel,
            done,
        }
    }

    async fn stop(self) {
        self.cancel.cancel();
        let drained = timeout(Duration::from_secs(8), self.done)
            .await
            .expect("shutdown within budget")
            .unwrap();
        assert!(drained, "in-flight work drained within the grace period");
        assert!(
            tokio::net::TcpStream::connect(self.sip).await.is_err(),
            "SIP port released"
        );
        assert!(
            tokio::net::TcpStream::connect(self.xmpp).await.is_err(),
            "XMPP port released"
        );
    }
}

fn pki(tag: &str) -> Pki {
    Pki::new(tag, &["sip.test", "sip2.test", "xmpp.test"])
}

async fn closed_port() -> SocketAddr {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap()
}

#[tokio::test]
async fn sip_message_becomes_xmpp_message() {
    let pki = pki("s2x");
    let (xmpp_hop, mut stanzas) = xmpp_server(&pki, "xmpp.test").await;
    let gw = Gateway::start(&pki, xmpp_hop, closed_port().await).await;
    let mut ua = sip_client(&pki, gw.sip, "sip.test", "xmpp.test").await;
    ua.send(&sip_message(
        "alice@sip.test",
        "juliet@xmpp.test",
        "c1@host",
        "héllo 👋 a < b & c",
    ))
    .await;
    let stanza = timeout(T, stanzas.recv()).await.unwrap().unwrap();
    assert_eq!(attr(&stanza, "from"), Some("alice@sip.test"), "{stanza}");
    assert_eq!(attr(&stanza, "to"), Some("juliet@xmpp.test"), "{stanza}");
    assert_eq!(attr(&stanza, "type"), Some("chat"), "{stanza}");
    assert!(
        attr(&stanza, "id").is_some_and(|id| !id.is_empty()),
        "{stanza}"
    );
    assert!(
        stanza.contains("<body>héllo 👋 a &lt; b &amp; c</body>"),
        "{stanza}"
    );
    // Topology hiding: the thread is derived from the Call-ID without its host.
    assert!(
        stanza.contains("<thread>") && !stanza.contains("c1@host"),
        "{stanza}"
    );
    let resp = read_sip(&mut ua).await;
    assert!(resp.starts_with("SIP/2.0 202 "), "{resp}");
    assert!(resp.contains("Call-ID: c1@host\r\n"), "{resp}");
    assert!(resp.contains("branch=z9hG4bK-c1-host"), "{resp}");
    gw.stop().await;
}

#[tokio::test]
async fn xmpp_message_becomes_sip_message() {
    let pki = pki("x2s");
    let (sip_hop, mut requests) = sip_proxy(&pki, "sip.test").await;
    let gw = Gateway::start(&pki, closed_port().await, sip_hop).await;
    let mut peer = xmpp_initiator(&pki, gw.xmpp, "xmpp.test", "sip.test").await;
    peer.send("<message from='juliet@xmpp.test/balcony' to='bob@sip.test' type='chat' id='m1'><body>Привет &amp; 你好</body><thread>t-42</thread></message>").await;
    let req = timeout(T, requests.recv()).await.unwrap().unwrap();
    assert!(
        req.starts_with("MESSAGE sip:bob@sip.test SIP/2.0\r\n"),
        "{req}"
    );
    assert!(req.contains("<sip:juliet@xmpp.test>;tag="), "{req}");
    assert!(req.contains("Call-ID: t-42\r\n"), "{req}");
    assert!(req.contains("text/plain;charset=UTF-8"), "{req}");
    assert!(req.ends_with("\r\n\r\nПривет & 你好"), "{req}");
    gw.stop().await;
}

#[tokio::test]
async fn direct_tls_works_both_ways() {
    let pki = pki("direct-tls");
    let (xmpp_hop, mut stanzas) = xmpp_server_direct_tls(&pki, "xmpp.test").await;
    let (sip_hop, mut requests) = sip_proxy(&pki, "sip.test").await;
    let gw = Gateway::start_with(&pki, xmpp_hop, sip_hop, true, "", 3000).await;
    // Inbound: XEP-0368 on parley's direct-TLS listener.
    let mut peer = xmpp_initiator_with(&pki, gw.xmpp_tls, "xmpp.test", "sip.test", true).await;
    peer.send("<message from='juliet@xmpp.test/b' to='bob@sip.test' type='chat' id='d1'><body>direct in</body></message>").await;
    let req = timeout(T, requests.recv()).await.unwrap().unwrap();
    assert!(req.ends_with("\r\n\r\ndirect in"), "{req}");
    // Outbound: parley opens TLS at once to a direct-TLS peer.
    let mut ua = sip_client(&pki, gw.sip, "sip.test", "xmpp.test").await;
    ua.send(&sip_message(
        "alice@sip.test",
        "juliet@xmpp.test",
        "d2@host",
        "direct out",
    ))
    .await;
    let stanza = timeout(T, stanzas.recv()).await.unwrap().unwrap();
    assert!(stanza.contains("<body>direct out</body>"), "{stanza}");
    gw.stop().await;
}

#[tokio::test]
async fn the_gateway_domain_answers_ping_disco_and_version() {
    let pki = pki("iq");
    let (xmpp_hop, mut stanzas) = xmpp_server(&pki, "xmpp.test").await;
    let gw = Gateway::start(&pki, xmpp_hop, closed_port().await).await;
    let mut peer = xmpp_initiator(&pki, gw.xmpp, "xmpp.test", "sip.test").await;
    peer.send(
        "<iq from='xmpp.test' to='sip.test' id='p1' type='get'><ping xmlns='urn:xmpp:ping'/></iq>",
    )
    .await;
    peer.send("<iq from='xmpp.test' to='sip.test' id='d1' type='get'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>").await;
    peer.send("<iq from='xmpp.test' to='sip.test' id='v1' type='get'><query xmlns='jabber:iq:version'/></iq>").await;
    peer.send("<iq from='juliet@xmpp.test/b' to='bob@sip.test' id='u1' type='get'><query xmlns='jabber:iq:roster'/></iq>").await;
    // The answers come back over parley's own outbound stream (s2s streams are one-way).
    let mut answers = Vec::new();
    for _ in 0..4 {
        answers.push(timeout(T, stanzas.recv()).await.unwrap().unwrap());
    }
    let by_id = |id: &str| {
        answers
            .iter()
            .find(|a| attr(a, "id") == Some(id))
            .cloned()
            .unwrap_or_default()
    };
    let pong = by_id("p1");
    assert_eq!(attr(&pong, "type"), Some("result"), "{pong}");
    assert_eq!(attr(&pong, "from"), Some("sip.test"), "{pong}");
    assert_eq!(attr(&pong, "to"), Some("xmpp.test"), "{pong}");
    let disco = by_id("d1");
    assert!(disco.contains("<feature var='urn:xmpp:ping'/>"), "{disco}");
    assert!(disco.contains("category='server'"), "{disco}");
    let version = by_id("v1");
    assert!(version.contains("<name>parley</name>"), "{version}");
    let roster = by_id("u1");
    assert_eq!(attr(&roster, "type"), Some("error"), "{roster}");
    assert!(roster.contains("<service-unavailable"), "{roster}");
    gw.stop().await;
}

#[tokio::test]
async fn inbound_dialback_is_verified_with_the_authoritative_server() {
    let pki = pki("dialback-in");
    let (sip_hop, mut requests) = sip_proxy(&pki, "sip.test").await;
    let authoritative = common::dialback::authoritative(&pki, "xmpp.test", "c0ffee").await;
    let gw = Gateway::start(&pki, authoritative, sip_hop).await;
    for (key, expected) in [("bad", "invalid"), ("c0ffee", "valid")] {
        // A peer without a client certificate: parley offers dialback, not EXTERNAL.
        let (mut s, features) =
            xmpp_secured(gw.xmpp, "xmpp.test", "sip.test", pki.anonymous_client()).await;
        assert!(
            features.contains("urn:xmpp:features:dialback") && !features.contains("EXTERNAL"),
            "{features}"
        );
        s.send(&format!(
            "<db:result from='xmpp.test' to='sip.test'>{key}</db:result>"
        ))
        .await;
        let verdict = s.element().await;
        assert_eq!(attr(&verdict, "type"), Some(expected), "{verdict}");
        if expected == "valid" {
            // Not yet authenticated for sip2.test on this stream: the stanza is refused only
            // after piggybacking fails, so first piggyback (XEP-0220 §2.5) with a bad key.
            s.send("<db:result from='xmpp.test' to='sip2.test'>wrong</db:result>")
                .await;
            let verdict = s.element().await;
            assert_eq!(attr(&verdict, "type"), Some("invalid"), "{verdict}");
            s.send("<db:result from='xmpp.test' to='sip2.test'>c0ffee</db:result>")
                .await;
            let verdict = s.element().await;
            assert_eq!(attr(&verdict, "type"), Some("valid"), "{verdict}");
            assert_eq!(attr(&verdict, "to"), Some("xmpp.test"), "{verdict}");
            assert_eq!(attr(&verdict, "from"), Some("sip2.test"), "{verdict}");
            // A stanza to the piggybacked domain no longer ends the stream.
            s.send("<iq from='xmpp.test' to='sip2.test' id='pg1' type='result'/>")
                .await;
            s.send("<message from='juliet@xmpp.test/b' to='bob@sip.test' type='chat' id='db1'><body>via dialback</body></message>").await;
            let req = timeout(T, requests.recv()).await.unwrap().unwrap();
            assert!(req.ends_with("\r\n\r\nvia dialback"), "{req}");
        }
    }
    gw.stop().await;
}

#[tokio::test]
async fn a_stanza_for_a_domain_pair_not_authenticated_on_the_stream_ends_it() {
    let pki = pki("pair-check");
    let gw = Gateway::start(&pki, closed_port().await, closed_port().await).await;
    let mut peer = xmpp_initiator(&pki, gw.xmpp, "xmpp.test", "sip.test").await;
    // sip2.test is served here, but this stream was authenticated for sip.test only.
    peer.send("<message from='juliet@xmpp.test/b' to='bob@sip2.test' type='chat' id='x'><body>hi</body></message>").await;
    let rest = peer.rest().await;
    assert!(rest.contains("<host-unknown"), "{rest}");
    gw.stop().await;
}

#[tokio::test]
async fn allowed_auth_methods_are_per_peer_domain() {
    let pki = pki("auth-methods");
    let gw = Gateway::start_with(
        &pki,
        closed_port().await,
        closed_port().await,
        false,
        r#"auth = ["dialback"]"#,
        3000,
    )
    .await;
    // A peer with a valid certificate is still offered dialback only.
    let (mut s, features) =
        xmpp_secured(gw.xmpp, "xmpp.test", "sip.test", pki.client("xmpp.test")).await;
    assert!(
        !features.contains("EXTERNAL") && features.contains("urn:xmpp:features:dialback"),
        "{features}"
    );
    s.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='EXTERNAL'>=</auth>")
        .await;
    let refused = s.until(&["</failure>"]).await;
    assert!(refused.contains("invalid-mechanism"), "{refused}");
    gw.stop().await;
}

#[tokio::test]
async fn outbound_dialback_when_the_peer_offers_no_external() {
    let pki = pki("dialback-out");
    // The peer verifies parley's key by asking parley itself (its s2s listener); the listener
    // address is known only after start, so the peer is given a forwarder port first.
    let forward = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let forward_addr = forward.local_addr().unwrap();
    let (xmpp_hop, mut stanzas) =
        common::dialback::dialback_only_server(&pki, "xmpp.test", forward_addr).await;
    let gw = Gateway::start(&pki, xmpp_hop, closed_port().await).await;
    let target = gw.xmpp;
    tokio::spawn(async move {
        loop {
            let (mut a, _) = forward.accept().await.unwrap();
            let mut b = tokio::net::TcpStream::connect(target).await.unwrap();
            tokio::spawn(async move {
                let _ = tokio::io::copy_bidirectional(&mut a, &mut b).await;
            });
        }
    });
    let mut ua = sip_client(&pki, gw.sip, "sip.test", "xmpp.test").await;
    ua.send(&sip_message(
        "alice@sip.test",
        "juliet@xmpp.test",
        "db2@host",
        "dialback out",
    ))
    .await;
    let stanza = timeout(T, stanzas.recv()).await.unwrap().unwrap();
    assert!(stanza.contains("<body>dialback out</body>"), "{stanza}");
    let resp = read_sip(&mut ua).await;
    assert!(resp.starts_with("SIP/2.0 202 "), "{resp}");
    gw.stop().await;
}

#[tokio::test]
async fn xmpp_error_reply_becomes_sip_error_response() {
    // As a server does: the error for the message, then the answer to the ping parley wrote
    // after it, both on the server's own stream to parley. The error must win over 202.
    let pki = pki("bounce");
    let (xmpp_hop, mut stanzas) = xmpp_server_forwarding_pings(&pki, "xmpp.test").await;
    let gw = Gateway::start(&pki, xmpp_hop, closed_port().await).await;
    let mut peer = xmpp_initiator(&pki, gw.xmpp, "xmpp.test", "sip.test").await;
    let mut ua = sip_client(&pki, gw.sip, "sip.test", "xmpp.test").await;
    ua.send(&sip_message(
        "alice@sip.test",
        "nobody@xmpp.test",
        "c2@host",
        "anyone?",
    ))
    .await;
    let stanza = timeout(T, stanzas.recv()).await.unwrap().unwrap();
    let id = attr(&stanza, "id").unwrap();
    let ping = timeout(T, stanzas.recv()).await.unwrap().unwrap();
    let pong = ping_answer(&ping, "xmpp.test").expect("a ping follows the message");
    peer.send(&format!(
        "<message type='error' from='nobody@xmpp.test' to='alice@sip.test' id='{id}'><error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>"
    ))
    .await;
    peer.send(&pong).await;
    let resp = read_sip(&mut ua).await;
    assert!(resp.starts_with("SIP/2.0 503 "), "{resp}");
    gw.stop().await;
}

#[tokio::test]
async fn sip_error_response_becomes_xmpp_error_stanza() {
    let pki = pki("sip404");
    let (xmpp_hop, mut stanzas) = xmpp_server(&pki, "xmpp.test").await;
    let (sip_hop, _requests) = sip_proxy(&pki, "sip.test").await;
    let gw = Gateway::start(&pki, xmpp_hop, sip_hop).await;
    let mut peer = xmpp_initiator(&pki, gw.xmpp, "xmpp.test", "sip.test").await;
    peer.send("<message from='juliet@xmpp.test/balcony' to='nobody@sip.test' type='chat' id='m2'><body>hello?</body></message>").await;
    let bounce = timeout(T, stanzas.recv()).await.unwrap().unwrap();
    assert_eq!(attr(&bounce, "type"), Some("error"), "{bounce}");
    assert_eq!(attr(&bounce, "id"), Some("m2"), "{bounce}");
    assert_eq!(
        attr(&bounce, "to"),
        Some("juliet@xmpp.test/balcony"),
        "{bounce}"
    );
    assert_eq!(attr(&bounce, "from"), Some("nobody@sip.test"), "{bounce}");
    assert!(
        bounce.contains("<item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>"),
        "{bounce}"
    );
    gw.stop().await;
}

#[tokio::test]
async fn unreachable_xmpp_peer_is_a_sip_error_at_the_delivery_deadline() {
    let pki = pki("unreach");
    let gw = Gateway::start(&pki, closed_port().await, closed_port().await).await;
    let mut ua = sip_client(&pki, gw.sip, "sip.test", "xmpp.test").await;
    let sent = std::time::Instant::now();
    ua.send(&sip_message(
        "alice@sip.test",
        "juliet@xmpp.test",
        "c3@host",
        "is anyone there",
    ))
    .await;
    let resp = read_sip(&mut ua).await;
    // remote-server-not-found (RFC 7247: 502), once the 3 s delivery deadline passed.
    assert!(resp.starts_with("SIP/2.0 502 "), "{resp}");
    assert!(
        sent.elapsed() >= Duration::from_millis(2900),
        "bounced before the deadline"
    );
    gw.stop().await;
}

/// A SIP MESSAGE with `body` sent to an XMPP peer that is down, and the peer brought back
/// on the same port `back_after` later, with `[xmpp] delivery_timeout_ms = delivery_ms`.
/// Returns the stanza the peer got (waited for up to `wait` once it is back), how long after
/// the send it came, and the SIP final response.
async fn sent_while_the_peer_was_down(
    name: &str,
    delivery_ms: u64,
    back_after: Duration,
    wait: Duration,
    body: &str,
) -> (String, Duration, String) {
    let pki = pki(name);
    let hop = port_for_later();
    let gw = Gateway::start_with(&pki, hop, closed_port().await, false, "", delivery_ms).await;
    let mut ua = sip_client(&pki, gw.sip, "sip.test", "xmpp.test").await;
    let sent = std::time::Instant::now();
    ua.send(&sip_message(
        "alice@sip.test",
        "juliet@xmpp.test",
        &format!("{name}@host"),
        body,
    ))
    .await;
    tokio::time::sleep(back_after).await;
    let (_, mut stanzas) = xmpp_server_at(&pki, "xmpp.test", hop).await;
    let stanza = timeout(wait, stanzas.recv()).await.unwrap().unwrap();
    let arrived = sent.elapsed();
    let resp = read_sip(&mut ua).await;
    gw.stop().await;
    (stanza, arrived, resp)
}

#[tokio::test]
async fn xmpp_peer_back_within_the_deadline_gets_the_message() {
    // The first connection attempt fails; the peer comes back on the same port.
    let (stanza, _, resp) = sent_while_the_peer_was_down(
        "comeback",
        3000,
        Duration::from_millis(300),
        T,
        "sent while you were down",
    )
    .await;
    assert!(
        stanza.contains("<body>sent while you were down</body>"),
        "{stanza}"
    );
    assert!(resp.starts_with("SIP/2.0 202 "), "{resp}");
}

/// The reconnect backoff doubles (0.5, 1, 2, 4, 8 s, up to 25 % more each): from a message
/// sent at 0 with a 15 s deadline the attempts would come at about 0, 0.5, 1.5, 3.5, 7.5–9.4
/// and then only at 15.5 s or later. A peer back at 10 s is tried before the deadline all
/// the same, because no retry waits past halfway to the deadline of what is waiting.
#[tokio::test]
async fn xmpp_peer_back_late_in_the_deadline_is_tried_before_it() {
    let (stanza, arrived, resp) = sent_while_the_peer_was_down(
        "comeback-late",
        15_000,
        Duration::from_secs(10),
        Duration::from_secs(8),
        "sent long before you were back",
    )
    .await;
    assert!(
        stanza.contains("<body>sent long before you were back</body>"),
        "{stanza}"
    );
    // Before the deadline: not bounced to the spool and sent from there afterwards.
    assert!(
        arrived < Duration::from_secs(15),
        "arrived after {arrived:?}"
    );
    assert!(resp.starts_with("SIP/2.0 202 "), "{resp}");
}

#[tokio::test]
async fn untrusted_xmpp_peer_is_bounced_at_once_not_at_the_deadline() {
    let pki = pki("untrusted");
    // The same domain name, certified by a CA parley does not trust.
    let rogue = Pki::new("untrusted-rogue", &["xmpp.test"]);
    let (xmpp_hop, _stanzas) = xmpp_server(&rogue, "xmpp.test").await;
    let gw = Gateway::start(&pki, xmpp_hop, closed_port().await).await;
    let mut ua = sip_client(&pki, gw.sip, "sip.test", "xmpp.test").await;
    let sent = std::time::Instant::now();
    ua.send(&sip_message(
        "alice@sip.test",
        "juliet@xmpp.test",
        "u1@host",
        "hello?",
    ))
    .await;
    let resp = read_sip(&mut ua).await;
    assert!(resp.starts_with("SIP/2.0 502 "), "{resp}");
    assert!(
        sent.elapsed() < Duration::from_millis(2500),
        "waited for the 3 s deadline"
    );
    gw.stop().await;
}

#[tokio::test]
async fn sip_sender_must_be_in_the_peers_certificate() {
    let pki = pki("spoof-sip");
    let gw = Gateway::start(&pki, closed_port().await, closed_port().await).await;
    let mut ua = sip_client(&pki, gw.sip, "sip.test", "xmpp.test").await;
    // sip2.test is served here, but this peer's certificate names only sip.test.
    ua.send(&sip_message(
        "mallory@sip2.test",
        "juliet@xmpp.test",
        "c4@host",
        "spoofed",
    ))
    .await;
    let resp = read_sip(&mut ua).await;
    assert!(
        resp.starts_with("SIP/2.0 403 Peer Not Authenticated For Sender Domain"),
        "{resp}"
    );
    gw.stop().await;
}

#[tokio::test]
async fn open_relay_is_refused() {
    let pki = pki("relay");
    let gw = Gateway::start(&pki, closed_port().await, closed_port().await).await;
    let mut ua = sip_client(&pki, gw.sip, "sip.test", "xmpp.test").await;
    ua.send(&sip_message(
        "alice@sip.test",
        "someone@elsewhere.example",
        "c5@host",
        "relay me",
    ))
    .await;
    let resp = read_sip(&mut ua).await;
    assert!(resp.starts_with("SIP/2.0 403 Relaying Denied"), "{resp}");
    ua.send(&sip_message(
        "alice@elsewhere.example",
        "juliet@xmpp.test",
        "c6@host",
        "relay me",
    ))
    .await;
    let resp = read_sip(&mut ua).await;
    assert!(
        resp.starts_with("SIP/2.0 403 Sender Domain Not Served Here"),
        "{resp}"
    );
    gw.stop().await;
}

#[tokio::test]
async fn xmpp_sender_must_be_in_the_authenticated_domain() {
    let pki = pki("spoof-xmpp");
    let gw = Gateway::start(&pki, closed_port().await, closed_port().await).await;
    let mut peer = xmpp_initiator(&pki, gw.xmpp, "xmpp.test", "sip.test").await;
    peer.send("<message from='mallory@evil.example' to='bob@sip.test' type='chat' id='x'><body>spoofed</body></message>").await;
    let rest = peer.rest().await;
    assert!(rest.contains("<invalid-from"), "{rest}");
    gw.stop().await;
}

#[tokio::test]
async fn unknown_xmpp_peer_domain_is_refused_at_the_stream_header() {
    let pki = pki("unknown-peer");
    let gw = Gateway::start(&pki, closed_port().await, closed_port().await).await;
    let tcp = tokio::net::TcpStream::connect(gw.xmpp).await.unwrap();
    let mut s = Text::new(tcp);
    s.send("<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' from='evil.example' to='sip.test' version='1.0'>").await;
    let rest = s.rest().await;
    assert!(rest.contains("<policy-violation"), "{rest}");
    gw.stop().await;
}

#[tokio::test]
async fn builtin_config_starts_with_generated_tls_material() {
    let dir = std::env::temp_dir().join(format!("parley-builtin-{}", std::process::id()));
    let mut config = Config::builtin();
    config.state_dir = Some(dir.clone());
    config.sip.listen_tls = vec!["127.0.0.1:0".parse().unwrap()];
    config.xmpp.listen = vec!["127.0.0.1:0".parse().unwrap()];
    config.validate().unwrap();
    let cancel = CancellationToken::new();
    let app = App::build(config, cancel.clone()).await.unwrap();
    assert!(dir.join("tls/ca.crt").is_file());
    let done = tokio::spawn(app.run(Duration::from_secs(1)));
    cancel.cancel();
    assert!(
        timeout(Duration::from_secs(5), done)
            .await
            .unwrap()
            .unwrap()
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn unparsable_request_gets_a_400_and_the_connection_keeps_serving() {
    let pki = pki("bad-sip");
    let (xmpp_hop, mut stanzas) = xmpp_server(&pki, "xmpp.test").await;
    let gw = Gateway::start(&pki, xmpp_hop, closed_port().await).await;
    let mut ua = sip_client(&pki, gw.sip, "sip.test", "xmpp.test").await;
    // '@' is not allowed in a Via branch token.
    let bad = sip_message("alice@sip.test", "juliet@xmpp.test", "c7@host", "x")
        .replace("branch=z9hG4bK-c7-host", "branch=z9hG4bK@bad");
    ua.send(&bad).await;
    let resp = read_sip(&mut ua).await;
    assert!(resp.starts_with("SIP/2.0 400 "), "{resp}");
    assert!(resp.contains("Call-ID: c7@host\r\n"), "{resp}");
    ua.send(&sip_message(
        "alice@sip.test",
        "juliet@xmpp.test",
        "c8@host",
        "still here",
    ))
    .await;
    let stanza = timeout(T, stanzas.recv()).await.unwrap().unwrap();
    assert!(stanza.contains("<body>still here</body>"), "{stanza}");
    let resp = read_sip(&mut ua).await;
    assert!(resp.starts_with("SIP/2.0 202 "), "{resp}");
    gw.stop().await;
}

fn options(transport: &str, branch: &str, max_forwards: u32, pad: usize) -> String {
    format!(
        "OPTIONS sip:juliet@xmpp.test SIP/2.0\r\nVia: SIP/2.0/{transport} 127.0.0.1:5999;branch={branch}\r\nMax-Forwards: {max_forwards}\r\nFrom: <sip:alice@sip.test>;tag=a1\r\nTo: <sip:juliet@xmpp.test>\r\nCall-ID: {branch}@h\r\nCSeq: 1 OPTIONS\r\nSubject: {}\r\nContent-Length: 0\r\n\r\n",
        "x".repeat(pad)
    )
}

async fn udp_exchange(sock: &tokio::net::UdpSocket, to: SocketAddr, req: &str) -> String {
    sock.send_to(req.as_bytes(), to).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let (n, _) = timeout(Duration::from_secs(5), sock.recv_from(&mut buf))
        .await
        .expect("a UDP response")
        .unwrap();
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

/// RFC 3261 §17.2.2: a retransmitted request is answered from the stored response (the same
/// To tag), not handled again; a datagram larger than the MTU gets 513 (§18.1.1); no hops
/// left gets 483 (§16.3).
#[tokio::test]
async fn sip_over_udp_absorbs_retransmissions_and_bounds_datagrams() {
    let pki = pki("udp");
    let gw = Gateway::start(&pki, closed_port().await, closed_port().await).await;
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let req = options("UDP", "z9hG4bKudp1", 70, 0);
    let first = udp_exchange(&sock, gw.sip_udp, &req).await;
    assert!(first.starts_with("SIP/2.0 200 "), "{first}");
    let again = udp_exchange(&sock, gw.sip_udp, &req).await;
    assert_eq!(first, again, "retransmission answered from the transaction");
    let big = udp_exchange(&sock, gw.sip_udp, &options("UDP", "z9hG4bKudp2", 70, 2000)).await;
    assert!(big.starts_with("SIP/2.0 513 "), "{big}");
    assert!(big.contains("branch=z9hG4bKudp2"), "{big}");
    let hops = udp_exchange(&sock, gw.sip_udp, &options("UDP", "z9hG4bKudp3", 0, 0)).await;
    assert!(hops.starts_with("SIP/2.0 483 "), "{hops}");
    gw.stop().await;
}

/// Plain TCP carries no certificate: OPTIONS is answered, a MESSAGE is refused 403.
#[tokio::test]
async fn sip_over_plain_tcp_serves_only_what_needs_no_verified_domain() {
    let pki = pki("tcp");
    let gw = Gateway::start(&pki, closed_port().await, closed_port().await).await;
    let tcp = tokio::net::TcpStream::connect(gw.sip_tcp).await.unwrap();
    let mut ua = Text::new(tcp);
    ua.send(&options("TCP", "z9hG4bKtcp1", 70, 0)).await;
    let ok = read_sip(&mut ua).await;
    assert!(ok.starts_with("SIP/2.0 200 "), "{ok}");
    ua.send(&sip_message(
        "alice@sip.test",
        "juliet@xmpp.test",
        "t1@h",
        "hi",
    ))
    .await;
    let refused = read_sip(&mut ua).await;
    assert!(refused.starts_with("SIP/2.0 403 "), "{refused}");
    gw.stop().await;
}
