//! Session-mode IM (RFC 3261 INVITE dialogs) and topology hiding against a running gateway:
//! a SIP Call-ID naming an internal host never becomes the XMPP `<thread/>` (the hidden
//! token page mode uses stands in for it, the same for every message of the dialog), the
//! XMPP reply on that token finds the dialog again, and the INVITE parley sends carries the
//! external label in its From like a page-mode MESSAGE.

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

const T: Duration = Duration::from_secs(10);

async fn start(
    pki: &Pki,
    xmpp_hop: SocketAddr,
    sip_hop: SocketAddr,
) -> (SocketAddr, SocketAddr, CancellationToken) {
    let d = pki.dir.display();
    let text = format!(
        r#"
state_dir = "{d}/state"
[tls]
ca_file = "{d}/ca.crt"
[sip]
listen_tls = ["127.0.0.1:0"]
bounce_window_ms = 200
[xmpp]
listen = ["127.0.0.1:0"]
connect_timeout_ms = 2000
delivery_timeout_ms = 3000
[[domain]]
name = "sip.test"
side = "sip"
next_hop = "{sip_hop}"
cert_file = "{d}/sip.test.crt"
key_file = "{d}/sip.test.key"
im_mode = "session"
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
    let (sip, xmpp, _) = app.local_addrs();
    tokio::spawn(app.run(Duration::from_secs(2)));
    (sip[0], xmpp[0], cancel)
}

const OFFER: &str = "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=session\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=message 5060 sip null\r\na=accept-types:text/plain\r\n";

/// A Call-ID the way PBXs write them: random part and an internal host name.
const CALL_ID: &str = "7f3a9c@pbx7.corp.internal";

fn invite() -> String {
    format!(
        "INVITE sip:juliet@xmpp.test SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:5999;branch=z9hG4bKhid-inv\r\nMax-Forwards: 70\r\nFrom: <sip:alice@sip.test>;tag=a1\r\nTo: <sip:juliet@xmpp.test>\r\nCall-ID: {CALL_ID}\r\nCSeq: 1 INVITE\r\nContact: <sip:alice@127.0.0.1:5999;transport=tls>\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{OFFER}",
        OFFER.len()
    )
}

fn in_dialog(method: &str, tag: &str, cseq: u32, ctype: &str, body: &str) -> String {
    let ct = if body.is_empty() {
        String::new()
    } else {
        format!("Content-Type: {ctype}\r\n")
    };
    format!(
        "{method} sip:juliet@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:5999;branch=z9hG4bKhid{cseq}\r\nMax-Forwards: 70\r\nFrom: <sip:alice@sip.test>;tag=a1\r\nTo: <sip:juliet@xmpp.test>;tag={tag}\r\nCall-ID: {CALL_ID}\r\nCSeq: {cseq} {method}\r\n{ct}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

fn header_value<'a>(msg: &'a str, name: &str) -> &'a str {
    msg.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(':')))
        .map(str::trim)
        .unwrap_or_default()
}

fn thread_of(stanza: &str) -> String {
    stanza
        .split("<thread>")
        .nth(1)
        .and_then(|r| r.split("</thread>").next())
        .unwrap_or_else(|| panic!("no thread: {stanza}"))
        .to_owned()
}

#[tokio::test]
async fn session_call_id_host_never_reaches_xmpp() {
    let pki = Pki::new("sess-hide", &["sip.test", "xmpp.test"]);
    let (xmpp_hop, mut stanzas) = xmpp_server(&pki, "xmpp.test").await;
    let (sip_hop, mut requests) = sip_proxy(&pki, "sip.test").await;
    let (sip, xmpp, cancel) = start(&pki, xmpp_hop, sip_hop).await;
    let mut ua = sip_client(&pki, sip, "sip.test", "xmpp.test").await;

    ua.send(&invite()).await;
    let ok = timeout(T, read_sip(&mut ua)).await.unwrap();
    assert!(ok.starts_with("SIP/2.0 200 "), "{ok}");
    let tag = header_value(&ok, "To")
        .split(";tag=")
        .nth(1)
        .unwrap()
        .to_owned();
    ua.send(&in_dialog("ACK", &tag, 1, "", "")).await;

    // Plain text, then isComposing (the rich path), then BYE (`gone`): one thread, hidden.
    ua.send(&in_dialog("MESSAGE", &tag, 2, "text/plain", "hello"))
        .await;
    let r = timeout(T, read_sip(&mut ua)).await.unwrap();
    assert!(r.starts_with("SIP/2.0 202 "), "{r}");
    let m = timeout(T, stanzas.recv()).await.unwrap().unwrap();
    assert!(m.contains("hello"), "{m}");
    let composing = "<?xml version='1.0' encoding='UTF-8'?><isComposing xmlns='urn:ietf:params:xml:ns:im-iscomposing'><state>active</state></isComposing>";
    ua.send(&in_dialog(
        "MESSAGE",
        &tag,
        3,
        "application/im-iscomposing+xml",
        composing,
    ))
    .await;
    let r = timeout(T, read_sip(&mut ua)).await.unwrap();
    assert!(r.starts_with("SIP/2.0 20"), "{r}");
    let c = timeout(T, stanzas.recv()).await.unwrap().unwrap();
    assert!(c.contains("<composing "), "{c}");

    let thread = thread_of(&m);
    assert_eq!(thread_of(&c), thread, "one thread per dialog");
    for s in [&m, &c] {
        assert!(!s.contains("pbx7"), "Call-ID host leaked: {s}");
        assert!(!s.contains("7f3a9c"), "Call-ID leaked: {s}");
    }
    assert_eq!(thread.len(), 24, "{thread}");

    // The XMPP user answers on the hidden thread: the reply goes back in the dialog under
    // the real Call-ID.
    let mut peer = xmpp_initiator(&pki, xmpp, "xmpp.test", "sip.test").await;
    peer.send(&format!("<message type='chat' from='juliet@xmpp.test/balcony' to='alice@sip.test' id='r1'><body>hi back</body><thread>{thread}</thread></message>")).await;
    let back = timeout(T, requests.recv()).await.unwrap().unwrap();
    assert!(
        back.starts_with("MESSAGE sip:alice@127.0.0.1:5999"),
        "{back}"
    );
    assert_eq!(header_value(&back, "Call-ID"), CALL_ID, "{back}");
    assert_eq!(
        header_value(&back, "From"),
        format!("\"juliet (external)\" <sip:juliet@xmpp.test>;tag={tag}"),
        "{back}"
    );

    ua.send(&in_dialog("BYE", &tag, 4, "", "")).await;
    let r = timeout(T, read_sip(&mut ua)).await.unwrap();
    assert!(r.starts_with("SIP/2.0 200 "), "{r}");
    let gone = timeout(T, stanzas.recv()).await.unwrap().unwrap();
    assert!(gone.contains("<gone "), "{gone}");
    assert_eq!(thread_of(&gone), thread, "{gone}");
    assert!(!gone.contains("pbx7"), "{gone}");
    cancel.cancel();
}

#[tokio::test]
async fn invite_from_carries_the_external_label() {
    let pki = Pki::new("sess-label", &["sip.test", "xmpp.test"]);
    let (xmpp_hop, _stanzas) = xmpp_server(&pki, "xmpp.test").await;
    let (sip_hop, mut requests) = sip_proxy(&pki, "sip.test").await;
    let (_sip, xmpp, cancel) = start(&pki, xmpp_hop, sip_hop).await;
    let mut peer = xmpp_initiator(&pki, xmpp, "xmpp.test", "sip.test").await;
    peer.send("<message type='chat' from='juliet@xmpp.test/balcony' to='bob@sip.test' id='m1'><body>first</body><nick xmlns='http://jabber.org/protocol/nick'>Juliet \"C\"</nick></message>").await;
    let inv = timeout(T, requests.recv()).await.unwrap().unwrap();
    assert!(inv.starts_with("INVITE sip:bob@sip.test "), "{inv}");
    let from = header_value(&inv, "From");
    assert!(
        from.starts_with(r#""Juliet \"C\" (external)" <sip:juliet@xmpp.test>;tag="#),
        "{inv}"
    );
    // The ACK and the message in the dialog carry the same From.
    let ack = timeout(T, requests.recv()).await.unwrap().unwrap();
    assert_eq!(header_value(&ack, "From"), from, "{ack}");
    let msg = timeout(T, requests.recv()).await.unwrap().unwrap();
    assert!(msg.starts_with("MESSAGE "), "{msg}");
    assert_eq!(header_value(&msg, "From"), from, "{msg}");
    cancel.cancel();
}
