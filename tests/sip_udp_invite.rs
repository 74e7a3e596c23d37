//! INVITE transactions over UDP through a running gateway (RFC 3261 §17.1.1, §17.2.1,
//! §13.2.2.4, RFC 6026), against a stand-in UDP peer on loopback:
//! - parley's session INVITE to a UDP domain is retransmitted (Timer A) when the peer drops
//!   it, the 2xx is ACKed over UDP before the held messages follow in order, and a
//!   retransmitted 2xx (the peer lost the ACK) is ACKed again with the same ACK;
//! - an INVITE parley refuses over UDP has its final retransmitted (Timer G) until the ACK,
//!   and a retransmitted INVITE gets the same final, not a second answer from the router.

// Only some of the shared stand-in helpers are used here.
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
use tokio::net::UdpSocket;
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;

const T: Duration = Duration::from_secs(10);

struct Gw {
    xmpp: SocketAddr,
    udp: SocketAddr,
    cancel: CancellationToken,
}

impl Drop for Gw {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

async fn start(pki: &Pki, xmpp_hop: SocketAddr, sip_hop: SocketAddr) -> Gw {
    let d = pki.dir.display();
    let text = format!(
        r#"
state_dir = "{d}/state"
[tls]
ca_file = "{d}/ca.crt"
[sip]
listen_tls = ["127.0.0.1:0"]
listen_udp = ["127.0.0.1:0"]
[xmpp]
listen = ["127.0.0.1:0"]
connect_timeout_ms = 2000
delivery_timeout_ms = 3000
[[domain]]
name = "sip.test"
side = "sip"
next_hop = "{sip_hop}"
transport = "udp"
im_mode = "session"
cert_file = "{d}/sip.test.crt"
key_file = "{d}/sip.test.key"
[[domain]]
name = "xmpp.test"
side = "xmpp"
next_hop = "{xmpp_hop}"
cert_file = "{d}/xmpp.test.crt"
key_file = "{d}/xmpp.test.key"
"#
    );
    let config = Config::parse(&text).unwrap();
    config.validate().unwrap();
    let cancel = CancellationToken::new();
    let app = App::build(config, cancel.clone()).await.unwrap();
    let (_, xmpp, _) = app.local_addrs();
    let (_, udp) = app.sip_plain_addrs();
    tokio::spawn(app.run(Duration::from_secs(2)));
    Gw {
        xmpp: xmpp[0],
        udp: udp[0],
        cancel,
    }
}

/// The next datagram as text, with its source.
async fn recv(sock: &UdpSocket) -> (String, SocketAddr) {
    let mut buf = vec![0u8; 65_536];
    let (n, from) = timeout(T, sock.recv_from(&mut buf))
        .await
        .expect("a datagram within the bound")
        .unwrap();
    (String::from_utf8_lossy(&buf[..n]).into_owned(), from)
}

/// Datagrams until `want` is Some for one of them (at most 20).
async fn recv_until(
    sock: &UdpSocket,
    seen: &mut Vec<String>,
    want: impl Fn(&str) -> bool,
) -> String {
    for _ in 0..20 {
        let (d, _) = recv(sock).await;
        seen.push(d.clone());
        if want(&d) {
            return d;
        }
    }
    panic!("not seen: {seen:#?}");
}

fn header<'a>(msg: &'a str, name: &str) -> &'a str {
    msg.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
        .map(str::trim)
        .unwrap_or_default()
}

// Several workers, as in the daemon: tasks spawned in one order may run in another.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_invite_over_udp_is_retransmitted_and_each_2xx_is_acked() {
    let pki = Pki::new("udp-invite-out", &["sip.test", "xmpp.test"]);
    let (xmpp_hop, _stanzas) = xmpp_server(&pki, "xmpp.test").await;
    let peer_sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let gw = start(&pki, xmpp_hop, peer_sock.local_addr().unwrap()).await;
    let mut peer = xmpp_initiator(&pki, gw.xmpp, "xmpp.test", "sip.test").await;
    for i in 1..=3 {
        peer.send(&format!("<message type='chat' from='juliet@xmpp.test/balcony' to='bob@sip.test' id='u{i}'><body>over udp {i}</body></message>")).await;
    }
    // The first INVITE is "lost": not answered.
    let (first, _) = recv(&peer_sock).await;
    assert!(
        first.starts_with("INVITE sip:bob@sip.test SIP/2.0\r\n"),
        "{first}"
    );
    assert!(header(&first, "Via").starts_with("SIP/2.0/UDP "), "{first}");
    // Timer A: the same INVITE again.
    let (again, parley) = recv(&peer_sock).await;
    assert_eq!(again, first, "a retransmission is the same request");
    assert_eq!(parley, gw.udp, "sent from parley's UDP socket");
    let ok = response_to(&again, "200 OK");
    peer_sock.send_to(ok.as_bytes(), parley).await.unwrap();
    let mut seen = Vec::new();
    let ack = recv_until(&peer_sock, &mut seen, |d| d.starts_with("ACK ")).await;
    // A UA takes an in-dialog request only after the ACK: nothing but INVITE copies
    // already in flight may come before it.
    assert!(
        seen.iter()
            .all(|d| d.starts_with("INVITE ") || d.starts_with("ACK ")),
        "the ACK must come first: {seen:#?}"
    );
    assert!(ack.starts_with("ACK sip:bob@sip.test SIP/2.0\r\n"), "{ack}");
    assert_eq!(header(&ack, "CSeq"), "1 ACK");
    assert_eq!(header(&ack, "Call-ID"), header(&first, "Call-ID"));
    assert_eq!(header(&ack, "To"), "<sip:bob@sip.test>;tag=proxy1");
    assert!(header(&ack, "Via").starts_with("SIP/2.0/UDP "), "{ack}");
    // §13.2.2.4: the 2xx's ACK has a branch of its own.
    assert_ne!(header(&ack, "Via"), header(&first, "Via"));
    // The held messages follow in the dialog, in the order juliet sent them, with
    // rising CSeq numbers (a UA answers a lower CSeq after a higher one with 500).
    let mut cseqs = Vec::new();
    for i in 1..=3 {
        let msg = recv_until(&peer_sock, &mut seen, |d| d.starts_with("MESSAGE ")).await;
        assert!(
            msg.ends_with(&format!("over udp {i}")),
            "message {i} out of order: {msg}"
        );
        cseqs.push(header(&msg, "CSeq").to_owned());
        peer_sock
            .send_to(response_to(&msg, "200 OK").as_bytes(), parley)
            .await
            .unwrap();
    }
    assert_eq!(cseqs, ["2 MESSAGE", "3 MESSAGE", "4 MESSAGE"]);
    // The peer lost the ACK and sends its 2xx again: the same ACK again (RFC 6026 §8.4).
    peer_sock.send_to(ok.as_bytes(), parley).await.unwrap();
    let ack2 = recv_until(&peer_sock, &mut seen, |d| d.starts_with("ACK ")).await;
    assert_eq!(ack2, ack);
    // Once answered, the INVITE is not sent again.
    let invites = seen.iter().filter(|d| d.starts_with("INVITE ")).count();
    assert_eq!(invites, 0, "INVITE retransmitted after its 2xx: {seen:#?}");
}

#[tokio::test]
async fn refused_invite_over_udp_is_repeated_until_its_ack() {
    let pki = Pki::new("udp-invite-in", &["sip.test", "xmpp.test"]);
    let (xmpp_hop, _stanzas) = xmpp_server(&pki, "xmpp.test").await;
    let ua = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let me = ua.local_addr().unwrap();
    let gw = start(&pki, xmpp_hop, "127.0.0.1:9".parse().unwrap()).await;
    let sdp = "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=session\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=message 5060 sip null\r\na=accept-types:text/plain\r\n";
    let invite = format!(
        "INVITE sip:juliet@xmpp.test SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bKudpinv1\r\nMax-Forwards: 70\r\nFrom: <sip:alice@sip.test>;tag=a1\r\nTo: <sip:juliet@xmpp.test>\r\nCall-ID: udpinv1\r\nCSeq: 1 INVITE\r\nContact: <sip:alice@{me}>\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
        sdp.len()
    );
    ua.send_to(invite.as_bytes(), gw.udp).await.unwrap();
    // §17.2.1: over UDP the 100 Trying comes first.
    let (trying, _) = recv(&ua).await;
    assert!(trying.starts_with("SIP/2.0 100 "), "{trying}");
    let (resp, _) = recv(&ua).await;
    let code: u16 = resp[8..11].parse().unwrap();
    // Over UDP no certificate vouches for sip.test: the INVITE is refused.
    assert!(code >= 300, "{resp}");
    // No ACK: Timer G sends the same final again.
    let (again, _) = recv(&ua).await;
    assert_eq!(again, resp);
    // A retransmitted INVITE gets the same final from the transaction.
    ua.send_to(invite.as_bytes(), gw.udp).await.unwrap();
    let (repeat, _) = recv(&ua).await;
    assert_eq!(repeat, resp);
    // The ACK (same branch, the final's To) ends the retransmissions.
    let ack = format!(
        "ACK sip:juliet@xmpp.test SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bKudpinv1\r\nMax-Forwards: 70\r\nFrom: <sip:alice@sip.test>;tag=a1\r\nTo: {}\r\nCall-ID: udpinv1\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n",
        header(&resp, "To")
    );
    ua.send_to(ack.as_bytes(), gw.udp).await.unwrap();
    // Timer G would have fired again within T2 (4 s); a copy already in flight when the
    // ACK was sent may still arrive, nothing after that.
    let mut buf = vec![0u8; 65_536];
    let mut late = 0;
    while let Ok(r) = timeout(Duration::from_secs(5), ua.recv_from(&mut buf)).await {
        r.unwrap();
        late += 1;
        assert!(late <= 1, "final still retransmitted after the ACK");
    }
}
