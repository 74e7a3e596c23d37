//! SIP transaction metrics of the running binary, read from `/metrics`:
//! `parley_sip_transactions_total{role,method,outcome}` and
//! `parley_sip_retransmissions_total{direction}`, against stand-in peers on loopback: an
//! OPTIONS sent twice over UDP is one server transaction and one absorbed retransmission;
//! a MESSAGE over UDP whose first copy the peer drops is one client transaction with a 2xx
//! and at least one retransmission sent.

#![allow(dead_code)]

mod common {
    pub mod daemon;
    pub mod peers;
    pub mod pki;
}

use std::time::Duration;

use common::daemon::Daemon;
use common::peers::*;
use common::pki::Pki;
use tokio::net::UdpSocket;
use tokio::time::timeout;

const T: Duration = Duration::from_secs(10);

fn free_udp_port() -> std::net::SocketAddr {
    let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    s.local_addr().unwrap()
}

async fn recv(sock: &UdpSocket) -> (String, std::net::SocketAddr) {
    let mut buf = vec![0u8; 65_536];
    let (n, from) = timeout(T, sock.recv_from(&mut buf))
        .await
        .expect("a datagram within the bound")
        .unwrap();
    (String::from_utf8_lossy(&buf[..n]).into_owned(), from)
}

/// Poll `/metrics` (bounded) until `name{labels}` reaches `want`; its last value.
async fn reaches(d: &Daemon, name: &str, labels: &[(&str, &str)], want: f64) -> f64 {
    let mut v = 0.0;
    for _ in 0..100 {
        v = d.sample(name, labels).await;
        if v >= want {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    v
}

#[tokio::test]
async fn transactions_and_retransmissions_are_counted() {
    let pki = Pki::new("tx-metrics", &["sip.test", "xmpp.test"]);
    let (xmpp_hop, _stanzas) = xmpp_server(&pki, "xmpp.test").await;
    let peer_sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let sip_hop = peer_sock.local_addr().unwrap();
    let udp = free_udp_port();
    let dir = pki.dir.display();
    let config = pki.dir.join("parley.toml");
    std::fs::write(
        &config,
        format!(
            r#"
state_dir = "{dir}/state"
[log]
level = "info"
[tls]
ca_file = "{dir}/ca.crt"
[sip]
listen_tls = ["127.0.0.1:0"]
listen_udp = ["{udp}"]
[xmpp]
listen = ["127.0.0.1:0"]
connect_timeout_ms = 2000
delivery_timeout_ms = 3000
[metrics]
listen = "127.0.0.1:0"
[[domain]]
name = "sip.test"
side = "sip"
next_hop = "{sip_hop}"
transport = "udp"
cert_file = "{dir}/sip.test.crt"
key_file = "{dir}/sip.test.key"
[[domain]]
name = "xmpp.test"
side = "xmpp"
next_hop = "{xmpp_hop}"
cert_file = "{dir}/xmpp.test.crt"
key_file = "{dir}/xmpp.test.key"
"#
        ),
    )
    .unwrap();
    let d = Daemon::start(&config).await;
    let tx = "parley_sip_transactions_total";
    let rt = "parley_sip_retransmissions_total";
    let before = d.metrics().await;
    let server_options = [
        ("role", "server"),
        ("method", "OPTIONS"),
        ("outcome", "2xx"),
    ];
    let client_message = [
        ("role", "client"),
        ("method", "MESSAGE"),
        ("outcome", "2xx"),
    ];
    assert_eq!(common::daemon::sample(&before, tx, &server_options), 0.0);
    assert_eq!(common::daemon::sample(&before, tx, &client_message), 0.0);

    // Inbound: the same OPTIONS twice (the first answer "lost"): one transaction, and the
    // copy is absorbed (answered from the transaction).
    let ua = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let me = ua.local_addr().unwrap();
    let options = format!(
        "OPTIONS sip:gw@xmpp.test SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bKmetrics1\r\nMax-Forwards: 70\r\nFrom: <sip:probe@sip.test>;tag=o1\r\nTo: <sip:gw@xmpp.test>\r\nCall-ID: metrics1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    );
    ua.send_to(options.as_bytes(), udp).await.unwrap();
    let (first, _) = recv(&ua).await;
    assert!(first.starts_with("SIP/2.0 200 "), "{first}");
    ua.send_to(options.as_bytes(), udp).await.unwrap();
    let (again, _) = recv(&ua).await;
    assert_eq!(again, first);
    assert_eq!(reaches(&d, tx, &server_options, 1.0).await, 1.0);
    assert!(reaches(&d, rt, &[("direction", "absorbed")], 1.0).await >= 1.0);

    // Outbound: a MESSAGE over UDP; the peer drops the first copy (Timer E sends it again)
    // and answers the second.
    let mut peer = xmpp_initiator(&pki, d.xmpp, "xmpp.test", "sip.test").await;
    peer.send("<message type='chat' from='juliet@xmpp.test/balcony' to='bob@sip.test' id='x1'><body>count me</body></message>").await;
    let (m1, _) = recv(&peer_sock).await;
    assert!(m1.starts_with("MESSAGE sip:bob@sip.test "), "{m1}");
    let (m2, parley) = recv(&peer_sock).await;
    assert_eq!(m2, m1);
    peer_sock
        .send_to(response_to(&m2, "200 OK").as_bytes(), parley)
        .await
        .unwrap();
    assert_eq!(reaches(&d, tx, &client_message, 1.0).await, 1.0);
    assert!(reaches(&d, rt, &[("direction", "sent")], 1.0).await >= 1.0);
    // No timeout was counted for either.
    let text = d.metrics().await;
    assert_eq!(
        common::daemon::sample(&text, tx, &[("outcome", "timeout")]),
        0.0
    );
}
