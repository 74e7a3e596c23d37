//! DNS resolution against a real DNS server (RFC 6120 §3.2 with XEP-0368, RFC 3263, RFC 2782):
//! parley is pointed at a small authoritative server on 127.0.0.1 through `[dns] servers`, and
//! a message crosses to a domain that only DNS can locate — through the second SRV target after
//! the first refused the connection. The certificate checked is the domain's, not the SRV
//! target's (RFC 6120 §13.7.2.1, RFC 5922 §4).

#[allow(dead_code)]
mod common {
    pub mod daemon;
    pub mod dns;
    pub mod peers;
    pub mod pki;
}

use std::net::{Ipv4Addr, SocketAddr};

use common::daemon::Daemon;
use common::dns::{DnsServer, Zone};
use common::peers::*;
use common::pki::Pki;
use hickory_resolver::proto::rr::RecordType;
use tokio::net::TcpListener;
use tokio::time::timeout;

const LOOPBACK: Ipv4Addr = Ipv4Addr::LOCALHOST;

/// A loopback port nothing listens on (connections to it are refused).
async fn refused_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap().port()
}

/// parley with `sip` and `xmpp` domains (each `(name, next_hop)`; no next hop: DNS), asking
/// only the name server at `dns`.
async fn daemon(
    pki: &Pki,
    dns: SocketAddr,
    sip: (&str, Option<SocketAddr>),
    xmpp: (&str, Option<SocketAddr>),
) -> Daemon {
    let d = pki.dir.display();
    let hop = |h: Option<SocketAddr>| h.map(|a| format!("next_hop = \"{a}\"")).unwrap_or_default();
    let config = format!(
        r#"
state_dir = "{d}/state"
[log]
level = "debug"
[tls]
ca_file = "{d}/ca.crt"
[metrics]
listen = "127.0.0.1:0"
[sip]
listen_tls = ["127.0.0.1:0"]
[xmpp]
listen = ["127.0.0.1:0"]
connect_timeout_ms = 2000
delivery_timeout_ms = 20000
[dns]
servers = ["{dns}"]
timeout_ms = 1000
attempts = 2
[policy.consent]
enable = false
[[domain]]
name = "{sip_name}"
side = "sip"
{sip_hop}
cert_file = "{d}/{sip_name}.crt"
key_file = "{d}/{sip_name}.key"
[[domain]]
name = "{xmpp_name}"
side = "xmpp"
{xmpp_hop}
cert_file = "{d}/{xmpp_name}.crt"
key_file = "{d}/{xmpp_name}.key"
"#,
        sip_name = sip.0,
        sip_hop = hop(sip.1),
        xmpp_name = xmpp.0,
        xmpp_hop = hop(xmpp.1),
    );
    let file = pki.dir.join("parley.toml");
    std::fs::write(&file, config).unwrap();
    Daemon::start(&file).await
}

/// The questions of the kinds parley's RFC order is about (AAAA follow-ups are left out:
/// whether they are asked depends on the resolver's address strategy, not on the order).
fn order_of(dns: &DnsServer) -> Vec<(RecordType, String)> {
    let mut seen = Vec::new();
    for q in dns.asked() {
        if q.0 != RecordType::AAAA && !seen.contains(&q) {
            seen.push(q);
        }
    }
    seen
}

fn q(t: RecordType, name: &str) -> (RecordType, String) {
    (t, name.to_owned())
}

/// The zone of xmpp.dns.test: no direct TLS (`_xmpps-server` is "."), and two STARTTLS servers
/// under host names of a hosting provider: `down` first (priority 10, refuses), `up` second.
fn xmpp_zone(down: u16, up: u16) -> Zone {
    Zone::default()
        .srv("_xmpps-server._tcp.xmpp.dns.test", 0, 0, 0, ".")
        .srv(
            "_xmpp-server._tcp.xmpp.dns.test",
            20,
            0,
            up,
            "up.hosting.test",
        )
        .srv(
            "_xmpp-server._tcp.xmpp.dns.test",
            10,
            0,
            down,
            "down.hosting.test",
        )
        .a("down.hosting.test", LOOPBACK)
        .a("up.hosting.test", LOOPBACK)
}

#[tokio::test]
async fn a_sip_message_reaches_an_xmpp_domain_found_only_through_srv_via_its_second_target() {
    // The peer's certificate names the domain only, not the host it is reached at.
    let pki = Pki::new("dns-xmpp", &["sip.test", "xmpp.dns.test"]);
    let (up, mut stanzas) = xmpp_server(&pki, "xmpp.dns.test").await;
    let down = refused_port().await;
    let dns = DnsServer::start(xmpp_zone(down, up.port())).await;
    let parley = daemon(
        &pki,
        dns.addr,
        ("sip.test", Some("127.0.0.1:9".parse().unwrap())),
        ("xmpp.dns.test", None),
    )
    .await;

    let mut ua = sip_client(&pki, parley.sip, "sip.test", "xmpp.dns.test").await;
    ua.send(&sip_message(
        "alice@sip.test",
        "juliet@xmpp.dns.test",
        "d1@host",
        "found by SRV",
    ))
    .await;
    let stanza = timeout(T, stanzas.recv())
        .await
        .expect("delivered")
        .unwrap();
    assert!(stanza.starts_with("<message"), "{stanza}");
    assert_eq!(
        attr(&stanza, "to"),
        Some("juliet@xmpp.dns.test"),
        "{stanza}"
    );
    assert!(stanza.contains("<body>found by SRV</body>"), "{stanza}");
    let resp = timeout(T, read_sip(&mut ua)).await.expect("a SIP answer");
    assert!(resp.starts_with("SIP/2.0 202 "), "{resp}");

    assert_eq!(
        order_of(&dns),
        [
            q(RecordType::SRV, "_xmpps-server._tcp.xmpp.dns.test"),
            q(RecordType::SRV, "_xmpp-server._tcp.xmpp.dns.test"),
            q(RecordType::A, "down.hosting.test"),
            q(RecordType::A, "up.hosting.test"),
        ],
        "both SRV services, then the targets by priority; no fallback to xmpp.dns.test itself"
    );
    let log = parley.log_lines();
    let refused = format!("127.0.0.1:{down}");
    assert!(
        log.iter()
            .any(|l| l.contains("s2s connect failed") && l.contains(&refused)),
        "the first target was tried and refused: {log:#?}"
    );
}

#[tokio::test]
async fn a_server_whose_certificate_names_only_its_srv_target_is_refused() {
    // RFC 6120 §13.7.2.1: the reference identity is the domain (xmpp.dns.test), never the host
    // DNS pointed at; a certificate for up.hosting.test alone does not authenticate the domain.
    let pki = Pki::new(
        "dns-xmpp-target-cert",
        &["sip.test", "xmpp.dns.test", "up.hosting.test"],
    );
    let (up, mut stanzas) = xmpp_server(&pki, "up.hosting.test").await;
    let dns = DnsServer::start(
        Zone::default()
            .srv(
                "_xmpp-server._tcp.xmpp.dns.test",
                0,
                0,
                up.port(),
                "up.hosting.test",
            )
            .a("up.hosting.test", LOOPBACK),
    )
    .await;
    let parley = daemon(
        &pki,
        dns.addr,
        ("sip.test", Some("127.0.0.1:9".parse().unwrap())),
        ("xmpp.dns.test", None),
    )
    .await;
    let mut ua = sip_client(&pki, parley.sip, "sip.test", "xmpp.dns.test").await;
    ua.send(&sip_message(
        "alice@sip.test",
        "juliet@xmpp.dns.test",
        "d2@host",
        "wrong host",
    ))
    .await;
    let resp = timeout(T, read_sip(&mut ua)).await.expect("a SIP answer");
    assert!(
        resp.starts_with("SIP/2.0 502 ") || resp.starts_with("SIP/2.0 504 "),
        "{resp}"
    );
    assert!(
        stanzas.try_recv().is_err(),
        "nothing reached a server that did not prove the domain"
    );
    let log = parley.log_lines();
    assert!(
        log.iter().any(|l| l.contains("outbound s2s connect failed")
            && l.contains("up.hosting.test")
            && l.contains("not valid for name \"xmpp.dns.test\"")),
        "refused for not covering the domain: {log:#?}"
    );
    assert!(
        order_of(&dns).contains(&q(RecordType::A, "up.hosting.test")),
        "the SRV target was found and tried: {:?}",
        dns.asked()
    );
}

#[tokio::test]
async fn an_xmpp_message_reaches_a_sip_domain_through_naptr_srv_and_its_second_target() {
    let pki = Pki::new("dns-sip", &["sip.dns.test", "xmpp.test"]);
    let (up, mut requests) = sip_proxy(&pki, "sip.dns.test").await;
    let down = refused_port().await;
    let dns = DnsServer::start(
        Zone::default()
            // RFC 3263 §4.1: UDP is preferred by order, but parley sends over TLS here, so
            // the SIPS+D2T record is the one to follow.
            .naptr("sip.dns.test", 10, 10, "SIP+D2U", "_sip._udp.sip.dns.test")
            .naptr(
                "sip.dns.test",
                20,
                10,
                "SIPS+D2T",
                "_sips._tcp.sip.dns.test",
            )
            .srv("_sip._udp.sip.dns.test", 0, 0, 5060, "udp.hosting.test")
            .srv(
                "_sips._tcp.sip.dns.test",
                1,
                0,
                up.port(),
                "edge2.hosting.test",
            )
            .srv("_sips._tcp.sip.dns.test", 0, 0, down, "edge1.hosting.test")
            .a("edge1.hosting.test", LOOPBACK)
            .a("edge2.hosting.test", LOOPBACK),
    )
    .await;
    let parley = daemon(
        &pki,
        dns.addr,
        ("sip.dns.test", None),
        ("xmpp.test", Some("127.0.0.1:9".parse().unwrap())),
    )
    .await;

    let mut peer = xmpp_initiator(&pki, parley.xmpp, "xmpp.test", "sip.dns.test").await;
    peer.send("<message from='juliet@xmpp.test/b' to='bob@sip.dns.test' type='chat' id='n1'><body>found by NAPTR</body></message>").await;
    let req = timeout(T, requests.recv())
        .await
        .expect("delivered")
        .unwrap();
    assert!(
        req.starts_with("MESSAGE sip:bob@sip.dns.test SIP/2.0\r\n"),
        "{req}"
    );
    assert!(req.ends_with("\r\n\r\nfound by NAPTR"), "{req}");

    assert_eq!(
        order_of(&dns),
        [
            q(RecordType::NAPTR, "sip.dns.test"),
            q(RecordType::SRV, "_sips._tcp.sip.dns.test"),
            q(RecordType::A, "edge1.hosting.test"),
            q(RecordType::A, "edge2.hosting.test"),
        ],
        "NAPTR, the TLS SRV name it gave (not UDP's, not the default names), then the targets"
    );
}

#[tokio::test]
async fn direct_tls_and_starttls_records_are_tried_in_one_priority_order() {
    // XEP-0368: _xmpps-server and _xmpp-server records are one RFC 2782 set. Priorities
    // 10 (STARTTLS, refuses), 20 (direct TLS, refuses), 30 (direct TLS, listening): all three
    // are tried in that order, each with its own way of starting TLS.
    let pki = Pki::new("dns-xmpps", &["sip.test", "xmpp.dns.test"]);
    let (tls_up, mut stanzas) = xmpp_server_direct_tls(&pki, "xmpp.dns.test").await;
    let (p10, p20) = (refused_port().await, refused_port().await);
    let dns = DnsServer::start(
        Zone::default()
            .srv(
                "_xmpps-server._tcp.xmpp.dns.test",
                30,
                0,
                tls_up.port(),
                "c.hosting.test",
            )
            .srv(
                "_xmpps-server._tcp.xmpp.dns.test",
                20,
                0,
                p20,
                "b.hosting.test",
            )
            .srv(
                "_xmpp-server._tcp.xmpp.dns.test",
                10,
                0,
                p10,
                "a.hosting.test",
            )
            .a("a.hosting.test", LOOPBACK)
            .a("b.hosting.test", LOOPBACK)
            .a("c.hosting.test", LOOPBACK),
    )
    .await;
    let parley = daemon(
        &pki,
        dns.addr,
        ("sip.test", Some("127.0.0.1:9".parse().unwrap())),
        ("xmpp.dns.test", None),
    )
    .await;
    let mut ua = sip_client(&pki, parley.sip, "sip.test", "xmpp.dns.test").await;
    ua.send(&sip_message(
        "alice@sip.test",
        "juliet@xmpp.dns.test",
        "d3@host",
        "over direct TLS",
    ))
    .await;
    let stanza = timeout(T, stanzas.recv())
        .await
        .expect("delivered")
        .unwrap();
    assert!(stanza.contains("<body>over direct TLS</body>"), "{stanza}");
    let resp = timeout(T, read_sip(&mut ua)).await.expect("a SIP answer");
    assert!(resp.starts_with("SIP/2.0 202 "), "{resp}");
    assert_eq!(
        order_of(&dns),
        [
            q(RecordType::SRV, "_xmpps-server._tcp.xmpp.dns.test"),
            q(RecordType::SRV, "_xmpp-server._tcp.xmpp.dns.test"),
            q(RecordType::A, "a.hosting.test"),
            q(RecordType::A, "b.hosting.test"),
            q(RecordType::A, "c.hosting.test"),
        ]
    );
}

#[tokio::test]
async fn a_domain_that_declares_no_s2s_service_is_not_tried_at_its_address() {
    // RFC 2782 / XEP-0368: a lone "." target says the service is not offered; parley must not
    // fall back to the domain's own A record (which exists here).
    let pki = Pki::new("dns-no-s2s", &["sip.test", "xmpp.dns.test"]);
    let dns = DnsServer::start(
        Zone::default()
            .srv("_xmpp-server._tcp.xmpp.dns.test", 0, 0, 0, ".")
            .a("xmpp.dns.test", LOOPBACK),
    )
    .await;
    let parley = daemon(
        &pki,
        dns.addr,
        ("sip.test", Some("127.0.0.1:9".parse().unwrap())),
        ("xmpp.dns.test", None),
    )
    .await;
    let mut ua = sip_client(&pki, parley.sip, "sip.test", "xmpp.dns.test").await;
    ua.send(&sip_message(
        "alice@sip.test",
        "juliet@xmpp.dns.test",
        "d4@host",
        "nowhere",
    ))
    .await;
    let resp = timeout(T, read_sip(&mut ua)).await.expect("a SIP answer");
    // remote-server-not-found (RFC 7247 §8: 502) at once: waiting for the delivery deadline
    // (20 s, longer than this test waits) would not make the domain offer the service.
    assert!(resp.starts_with("SIP/2.0 502 "), "{resp}");
    assert!(resp.contains("Call-ID: d4@host"), "{resp}");
    assert_eq!(
        order_of(&dns),
        [
            q(RecordType::SRV, "_xmpps-server._tcp.xmpp.dns.test"),
            q(RecordType::SRV, "_xmpp-server._tcp.xmpp.dns.test"),
        ],
        "no address lookup after the service was declared not offered"
    );
}
