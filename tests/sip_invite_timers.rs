//! INVITE transaction details of the running binary (RFC 3261 §17.2.1, §17.1.1.3,
//! §13.3.1.4), against stand-in peers on loopback, with `/metrics` read from the binary:
//! - an INVITE over UDP is answered 100 Trying at once, before its final; a failure never
//!   ACKed ends by Timer H and is counted in `parley_sip_ack_timeouts_total{final="failure"}`;
//! - the ACK for a failure to parley's INVITE goes where the INVITE went, not to the
//!   address the response came from;
//! - a 2xx parley sent for a session INVITE over TLS that gets no ACK within 64·T1 ends the
//!   dialog: BYE to the SIP side, XEP-0085 `gone` to the XMPP user, counted in
//!   `parley_sip_ack_timeouts_total{final="2xx"}`; an ACKed dialog is left alone.

#![allow(dead_code)]

mod common {
    pub mod daemon;
    pub mod peers;
    pub mod pki;
}

use std::net::SocketAddr;
use std::time::Duration;

use common::daemon::Daemon;
use common::peers::*;
use common::pki::Pki;
use tokio::net::UdpSocket;
use tokio::time::timeout;

const T: Duration = Duration::from_secs(10);
const ACK_TIMEOUTS: &str = "parley_sip_ack_timeouts_total";

fn free_udp_port() -> SocketAddr {
    let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    s.local_addr().unwrap()
}

async fn recv(sock: &UdpSocket) -> (String, SocketAddr) {
    let mut buf = vec![0u8; 65_536];
    let (n, from) = timeout(T, sock.recv_from(&mut buf))
        .await
        .expect("a datagram within the bound")
        .unwrap();
    (String::from_utf8_lossy(&buf[..n]).into_owned(), from)
}

fn header<'a>(msg: &'a str, name: &str) -> &'a str {
    msg.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
        .map(str::trim)
        .unwrap_or_default()
}

/// Poll `/metrics` (bounded) until `name{labels}` reaches `want`; its last value.
async fn reaches(d: &Daemon, name: &str, labels: &[(&str, &str)], want: f64) -> f64 {
    let mut v = 0.0;
    for _ in 0..200 {
        v = d.sample(name, labels).await;
        if v >= want {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    v
}

/// The binary with `sip.test` reached at `sip_hop` over `sip_transport`, in session mode, and
/// transactions lasting `timeout_ms` (64·T1).
async fn daemon(
    pki: &Pki,
    xmpp_hop: SocketAddr,
    sip_hop: SocketAddr,
    sip_transport: &str,
    udp: SocketAddr,
    timeout_ms: u64,
) -> Daemon {
    let dir = pki.dir.display();
    let config = pki.dir.join("parley.toml");
    // Stanzas must be decided within 3/4 of a SIP transaction.
    let delivery_ms = timeout_ms / 2;
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
transaction_timeout_ms = {timeout_ms}
[xmpp]
listen = ["127.0.0.1:0"]
connect_timeout_ms = {delivery_ms}
delivery_timeout_ms = {delivery_ms}
[metrics]
listen = "127.0.0.1:0"
[[domain]]
name = "sip.test"
side = "sip"
next_hop = "{sip_hop}"
transport = "{sip_transport}"
im_mode = "session"
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
    Daemon::start(&config).await
}

const SDP: &str = "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=session\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=message 5060 sip null\r\na=accept-types:text/plain\r\n";

#[tokio::test]
async fn udp_invite_gets_100_trying_and_acks_go_where_the_invite_went() {
    let pki = Pki::new("invite-udp-timers", &["sip.test", "xmpp.test"]);
    let (xmpp_hop, _stanzas) = xmpp_server(&pki, "xmpp.test").await;
    // The SIP peer takes requests on one socket and answers from another.
    let peer_in = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let peer_out = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let udp = free_udp_port();
    let d = daemon(
        &pki,
        xmpp_hop,
        peer_in.local_addr().unwrap(),
        "udp",
        udp,
        2000,
    )
    .await;
    let failure = [("final", "failure")];
    assert_eq!(d.sample(ACK_TIMEOUTS, &failure).await, 0.0);

    // Inbound INVITE over UDP: 100 Trying first, with the request's Via, Call-ID and CSeq.
    let ua = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let me = ua.local_addr().unwrap();
    let invite = format!(
        "INVITE sip:juliet@xmpp.test SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bKtry1\r\nMax-Forwards: 70\r\nFrom: <sip:alice@sip.test>;tag=a1\r\nTo: <sip:juliet@xmpp.test>\r\nCall-ID: try1\r\nCSeq: 1 INVITE\r\nContact: <sip:alice@{me}>\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{SDP}",
        SDP.len()
    );
    ua.send_to(invite.as_bytes(), udp).await.unwrap();
    let (trying, _) = recv(&ua).await;
    assert!(trying.starts_with("SIP/2.0 100 Trying\r\n"), "{trying}");
    assert_eq!(
        header(&trying, "Via"),
        format!("SIP/2.0/UDP {me};branch=z9hG4bKtry1")
    );
    assert_eq!(header(&trying, "Call-ID"), "try1");
    assert_eq!(header(&trying, "CSeq"), "1 INVITE");
    assert_eq!(header(&trying, "To"), "<sip:juliet@xmpp.test>", "no tag");
    let (fin, _) = recv(&ua).await;
    let code: u16 = fin[8..11].parse().unwrap();
    // Over UDP no certificate vouches for sip.test: refused.
    assert!(code >= 300, "{fin}");
    // Never ACKed: Timer H (64·T1 = 2 s here) ends the transaction, and it is counted.
    assert_eq!(reaches(&d, ACK_TIMEOUTS, &failure, 1.0).await, 1.0);

    // Outbound: parley's session INVITE; the peer answers 486 from its other socket.
    let mut xmpp = xmpp_initiator(&pki, d.xmpp, "xmpp.test", "sip.test").await;
    xmpp.send("<message type='chat' from='juliet@xmpp.test/balcony' to='bob@sip.test' id='u1'><body>ring</body></message>").await;
    let (inv, parley) = recv(&peer_in).await;
    assert!(
        inv.starts_with("INVITE sip:bob@sip.test SIP/2.0\r\n"),
        "{inv}"
    );
    peer_out
        .send_to(response_to(&inv, "486 Busy Here").as_bytes(), parley)
        .await
        .unwrap();
    // §17.1.1.3: the ACK goes to where the INVITE went (Timer A copies of the INVITE sent
    // before the 486 arrived may come first).
    let mut ack = None;
    for _ in 0..20 {
        let (m, _) = recv(&peer_in).await;
        if m.starts_with("ACK ") {
            ack = Some(m);
            break;
        }
        assert!(m.starts_with("INVITE "), "{m}");
    }
    let ack = ack.expect("the ACK on the INVITE's address");
    assert!(ack.starts_with("ACK sip:bob@sip.test SIP/2.0\r\n"), "{ack}");
    assert_eq!(header(&ack, "Via"), header(&inv, "Via"), "same branch");
    assert_eq!(
        header(&ack, "CSeq"),
        format!("{} ACK", header(&inv, "CSeq").split(' ').next().unwrap())
    );
    // Nothing went to the address the 486 came from.
    let mut buf = [0u8; 2048];
    assert!(
        timeout(Duration::from_millis(500), peer_out.recv_from(&mut buf))
            .await
            .is_err(),
        "the ACK went to the response's source"
    );
}

fn invite(call_id: &str) -> String {
    format!(
        "INVITE sip:juliet@xmpp.test SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:5999;branch=z9hG4bK{call_id}inv\r\nMax-Forwards: 70\r\nFrom: <sip:alice@sip.test>;tag=a1\r\nTo: <sip:juliet@xmpp.test>\r\nCall-ID: {call_id}\r\nCSeq: 1 INVITE\r\nContact: <sip:alice@127.0.0.1:5999;transport=tls>\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{SDP}",
        SDP.len()
    )
}

fn in_dialog(method: &str, call_id: &str, tag: &str, cseq: u32) -> String {
    format!(
        "{method} sip:juliet@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:5999;branch=z9hG4bK{call_id}{cseq}{method}\r\nMax-Forwards: 70\r\nFrom: <sip:alice@sip.test>;tag=a1\r\nTo: <sip:juliet@xmpp.test>;tag={tag}\r\nCall-ID: {call_id}\r\nCSeq: {cseq} {method}\r\nContent-Length: 0\r\n\r\n"
    )
}

/// The final response to the last request (1xx skipped); its To tag.
async fn final_tag<S>(ua: &mut Text<S>) -> (String, String)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    for _ in 0..5 {
        let r = timeout(T, read_sip(ua)).await.unwrap();
        if r.starts_with("SIP/2.0 1") {
            continue;
        }
        let tag = header(&r, "To")
            .split(";tag=")
            .nth(1)
            .unwrap_or_default()
            .to_owned();
        return (r, tag);
    }
    panic!("no final");
}

#[tokio::test]
async fn a_2xx_never_acked_ends_the_session_with_bye() {
    let pki = Pki::new("invite-no-ack", &["sip.test", "xmpp.test"]);
    let (xmpp_hop, mut stanzas) = xmpp_server(&pki, "xmpp.test").await;
    let (sip_hop, mut requests) = sip_proxy(&pki, "sip.test").await;
    let d = daemon(&pki, xmpp_hop, sip_hop, "tls", free_udp_port(), 2000).await;
    let two_xx = [("final", "2xx")];
    assert_eq!(d.sample(ACK_TIMEOUTS, &two_xx).await, 0.0);
    let mut ua = sip_client(&pki, d.sip, "sip.test", "xmpp.test").await;

    // A session that is ACKed, opened first: its Timer L fires before the other's.
    ua.send(&invite("acked")).await;
    let (ok, acked_tag) = final_tag(&mut ua).await;
    assert!(ok.starts_with("SIP/2.0 200 "), "{ok}");
    ua.send(&in_dialog("ACK", "acked", &acked_tag, 1)).await;

    // A session whose 200 is never ACKed.
    ua.send(&invite("lost")).await;
    let (ok, tag) = final_tag(&mut ua).await;
    assert!(ok.starts_with("SIP/2.0 200 "), "{ok}");

    // 64·T1 (2 s here) later: BYE in the dialog, towards the SIP domain.
    let bye = timeout(T, requests.recv()).await.unwrap().unwrap();
    assert!(bye.starts_with("BYE "), "{bye}");
    assert_eq!(
        header(&bye, "Call-ID"),
        "lost",
        "only the unACKed dialog ends"
    );
    assert_eq!(
        header(&bye, "From"),
        format!("\"juliet (external)\" <sip:juliet@xmpp.test>;tag={tag}")
    );
    assert_eq!(header(&bye, "To"), "<sip:alice@sip.test>;tag=a1");
    // The XMPP user is told the session ended.
    let gone = timeout(T, stanzas.recv()).await.unwrap().unwrap();
    assert!(
        gone.contains("<gone xmlns='http://jabber.org/protocol/chatstates'/>"),
        "{gone}"
    );
    // The session's thread (a Call-ID of letters only is its own token).
    let thread = parley::bridge::sip::thread_of_call_id("lost");
    assert!(
        gone.contains(&format!("<thread>{thread}</thread>")),
        "{gone}"
    );
    assert!(gone.contains("to='juliet@xmpp.test'"), "{gone}");
    assert_eq!(reaches(&d, ACK_TIMEOUTS, &two_xx, 1.0).await, 1.0);

    // The ended dialog is unknown now; the ACKed one lives on.
    ua.send(&in_dialog("BYE", "lost", &tag, 2)).await;
    let (gone_dialog, _) = final_tag(&mut ua).await;
    assert!(gone_dialog.starts_with("SIP/2.0 481 "), "{gone_dialog}");
    ua.send(&in_dialog("BYE", "acked", &acked_tag, 2)).await;
    let (bye_ok, _) = final_tag(&mut ua).await;
    assert!(bye_ok.starts_with("SIP/2.0 200 "), "{bye_ok}");
    assert_eq!(d.sample(ACK_TIMEOUTS, &two_xx).await, 1.0);
}
