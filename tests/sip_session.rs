//! Session-mode IM through a running gateway (RFC 3261 INVITE dialogs with SDP
//! `m=message … sip`, as Skype for Business / Lync federation uses), against stand-in peers
//! on loopback: a SIP UA that opens a session with an XMPP user, and an XMPP user whose
//! messages open one towards a SIP domain configured for session mode.

// Only some of the shared stand-in helpers are used here.
#[allow(dead_code)]
mod common {
    pub mod peers;
    pub mod pki;
    pub mod session_gw;
}

use std::time::Duration;

use common::peers::*;
use common::pki::Pki;
use common::session_gw::{self, header_value, in_dialog, start};
use tokio::time::timeout;

const T: Duration = Duration::from_secs(10);

fn pki(tag: &str) -> Pki {
    Pki::new(tag, &["sip.test", "xmpp.test"])
}

const OFFER: &str = "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=session\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=message 5060 sip null\r\na=accept-types:text/plain text/html application/ms-imdn+xml\r\n";

/// The INVITE of a UA behind a record-routing proxy.
fn invite(call_id: &str, body: &str) -> String {
    session_gw::invite(call_id, body).replacen(
        "Max-Forwards",
        "Record-Route: <sip:proxy.sip.test;lr>\r\nMax-Forwards",
        1,
    )
}

/// A SIP UA opens a session: 200 with the SDP answer, in-dialog MESSAGE → XMPP on the
/// Call-ID thread, the XMPP reply → in-dialog MESSAGE along the route set, isComposing →
/// XEP-0085, BYE → 200 and `gone`; the dialog is then unknown (481).
#[tokio::test]
async fn sip_opens_a_session_with_an_xmpp_user() {
    let pki = pki("sess-in");
    let (xmpp_hop, mut stanzas) = xmpp_server(&pki, "xmpp.test").await;
    let (sip_hop, mut requests) = sip_proxy(&pki, "sip.test").await;
    let gw = start(&pki, xmpp_hop, sip_hop, "", "").await;
    let mut ua = sip_client(&pki, gw.sip, "sip.test", "xmpp.test").await;

    ua.send(&invite("s1", OFFER)).await;
    let ok = timeout(T, read_sip(&mut ua)).await.unwrap();
    assert!(ok.starts_with("SIP/2.0 200 "), "{ok}");
    assert_eq!(header_value(&ok, "Content-Type"), "application/sdp", "{ok}");
    assert_eq!(
        header_value(&ok, "Record-Route"),
        "<sip:proxy.sip.test;lr>",
        "{ok}"
    );
    assert!(
        header_value(&ok, "Contact").starts_with("<sip:juliet@127.0.0.1:"),
        "{ok}"
    );
    assert!(ok.contains("m=message "), "{ok}");
    assert!(
        ok.contains("a=accept-types:text/plain text/html\r\n"),
        "{ok}"
    );
    let tag = header_value(&ok, "To")
        .split(";tag=")
        .nth(1)
        .expect("To tag")
        .to_owned();
    ua.send(&in_dialog("ACK", "s1", &tag, 1, "", "")).await;

    ua.send(&in_dialog(
        "MESSAGE",
        "s1",
        &tag,
        2,
        "text/plain",
        "hello in a session",
    ))
    .await;
    let accepted = timeout(T, read_sip(&mut ua)).await.unwrap();
    assert!(accepted.starts_with("SIP/2.0 202 "), "{accepted}");
    let m = timeout(T, stanzas.recv()).await.unwrap().unwrap();
    assert!(m.contains("hello in a session"), "{m}");
    assert!(m.contains("<thread>s1</thread>"), "{m}");
    assert!(m.contains("from='alice@sip.test"), "{m}");

    let composing = "<?xml version='1.0' encoding='UTF-8'?><isComposing xmlns='urn:ietf:params:xml:ns:im-iscomposing'><state>active</state><contenttype>text/plain</contenttype></isComposing>";
    ua.send(&in_dialog(
        "MESSAGE",
        "s1",
        &tag,
        3,
        "application/im-iscomposing+xml",
        composing,
    ))
    .await;
    let r = timeout(T, read_sip(&mut ua)).await.unwrap();
    assert!(r.starts_with("SIP/2.0 20"), "{r}");
    let c = timeout(T, stanzas.recv()).await.unwrap().unwrap();
    assert!(
        c.contains("<composing xmlns='http://jabber.org/protocol/chatstates'/>"),
        "{c}"
    );
    assert!(c.contains("<thread>s1</thread>"), "{c}");

    // The XMPP user answers on the thread: an in-dialog MESSAGE along the route set.
    let mut peer = xmpp_initiator(&pki, gw.xmpp, "xmpp.test", "sip.test").await;
    peer.send("<message type='chat' from='juliet@xmpp.test/balcony' to='alice@sip.test' id='r1'><body>hi back</body><thread>s1</thread></message>").await;
    let back = timeout(T, requests.recv()).await.unwrap().unwrap();
    assert!(
        back.starts_with("MESSAGE sip:alice@127.0.0.1:5999;transport=tls SIP/2.0\r\n"),
        "{back}"
    );
    assert_eq!(
        header_value(&back, "Route"),
        "<sip:proxy.sip.test;lr>",
        "{back}"
    );
    assert_eq!(
        header_value(&back, "To"),
        "<sip:alice@sip.test>;tag=a1",
        "{back}"
    );
    assert_eq!(
        header_value(&back, "From"),
        format!("\"juliet (external)\" <sip:juliet@xmpp.test>;tag={tag}"),
        "{back}"
    );
    assert_eq!(header_value(&back, "Call-ID"), "s1", "{back}");
    assert_eq!(header_value(&back, "CSeq"), "1 MESSAGE", "{back}");
    assert!(back.ends_with("\r\n\r\nhi back"), "{back}");

    // An old CSeq does not fit the dialog.
    ua.send(&in_dialog("MESSAGE", "s1", &tag, 2, "text/plain", "again"))
        .await;
    let old = timeout(T, read_sip(&mut ua)).await.unwrap();
    assert!(old.starts_with("SIP/2.0 500 "), "{old}");

    ua.send(&in_dialog("BYE", "s1", &tag, 4, "", "")).await;
    let bye_ok = timeout(T, read_sip(&mut ua)).await.unwrap();
    assert!(bye_ok.starts_with("SIP/2.0 200 "), "{bye_ok}");
    let gone = timeout(T, stanzas.recv()).await.unwrap().unwrap();
    assert!(
        gone.contains("<gone xmlns='http://jabber.org/protocol/chatstates'/>"),
        "{gone}"
    );
    assert!(gone.contains("<thread>s1</thread>"), "{gone}");
    assert!(gone.contains("to='juliet@xmpp.test'"), "{gone}");

    ua.send(&in_dialog("MESSAGE", "s1", &tag, 5, "text/plain", "late"))
        .await;
    let late = timeout(T, read_sip(&mut ua)).await.unwrap();
    assert!(late.starts_with("SIP/2.0 481 "), "{late}");
    gw.cancel.cancel();
}

/// Offers parley cannot take are refused: RTP audio only → 488; a re-INVITE keeps the SDP;
/// a CANCEL after the 200 finds nothing to cancel (200), an unknown one 481.
#[tokio::test]
async fn unsupported_offers_reinvite_and_cancel() {
    let pki = pki("sess-488");
    let (xmpp_hop, _stanzas) = xmpp_server(&pki, "xmpp.test").await;
    let (sip_hop, _requests) = sip_proxy(&pki, "sip.test").await;
    let gw = start(&pki, xmpp_hop, sip_hop, "", "").await;
    let mut ua = sip_client(&pki, gw.sip, "sip.test", "xmpp.test").await;

    let audio = "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";
    ua.send(&invite("a1", audio)).await;
    let refused = timeout(T, read_sip(&mut ua)).await.unwrap();
    assert!(refused.starts_with("SIP/2.0 488 "), "{refused}");

    ua.send(&invite("r1", OFFER)).await;
    let ok = timeout(T, read_sip(&mut ua)).await.unwrap();
    assert!(ok.starts_with("SIP/2.0 200 "), "{ok}");
    let tag = header_value(&ok, "To")
        .split(";tag=")
        .nth(1)
        .unwrap()
        .to_owned();
    let sdp1 = ok.split("\r\n\r\n").nth(1).unwrap().to_owned();
    ua.send(&in_dialog(
        "INVITE",
        "r1",
        &tag,
        2,
        "application/sdp",
        OFFER,
    ))
    .await;
    let re = timeout(T, read_sip(&mut ua)).await.unwrap();
    assert!(re.starts_with("SIP/2.0 200 "), "{re}");
    assert_eq!(
        re.split("\r\n\r\n").nth(1).unwrap(),
        sdp1,
        "same SDP on re-INVITE"
    );
    ua.send(&in_dialog(
        "INVITE",
        "r1",
        &tag,
        3,
        "application/sdp",
        audio,
    ))
    .await;
    let re_audio = timeout(T, read_sip(&mut ua)).await.unwrap();
    assert!(re_audio.starts_with("SIP/2.0 488 "), "{re_audio}");

    let cancel = "CANCEL sip:juliet@xmpp.test SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:5999;branch=z9hG4bKr1inv\r\nMax-Forwards: 70\r\nFrom: <sip:alice@sip.test>;tag=a1\r\nTo: <sip:juliet@xmpp.test>\r\nCall-ID: r1\r\nCSeq: 1 CANCEL\r\nContent-Length: 0\r\n\r\n";
    ua.send(cancel).await;
    let c = timeout(T, read_sip(&mut ua)).await.unwrap();
    assert!(c.starts_with("SIP/2.0 200 "), "{c}");
    ua.send(&cancel.replace("Call-ID: r1", "Call-ID: nope"))
        .await;
    let c = timeout(T, read_sip(&mut ua)).await.unwrap();
    assert!(c.starts_with("SIP/2.0 481 "), "{c}");
    gw.cancel.cancel();
}

/// `im_mode = "session"`: the XMPP user's first message opens a session with INVITE (SDP
/// offer with `m=message … sip`), then goes in it after the ACK; XMPP `gone` ends it with
/// BYE.
#[tokio::test]
async fn xmpp_opens_a_session_in_session_mode() {
    let pki = pki("sess-out");
    let (xmpp_hop, _stanzas) = xmpp_server(&pki, "xmpp.test").await;
    let (sip_hop, mut requests) = sip_proxy(&pki, "sip.test").await;
    let gw = start(&pki, xmpp_hop, sip_hop, "", "im_mode = \"session\"").await;
    let mut peer = xmpp_initiator(&pki, gw.xmpp, "xmpp.test", "sip.test").await;
    peer.send("<message type='chat' from='juliet@xmpp.test/balcony' to='bob@sip.test' id='m1'><body>first</body><thread>t-42</thread></message>").await;
    let inv = timeout(T, requests.recv()).await.unwrap().unwrap();
    assert!(
        inv.starts_with("INVITE sip:bob@sip.test SIP/2.0\r\n"),
        "{inv}"
    );
    assert_eq!(header_value(&inv, "Content-Type"), "application/sdp");
    assert_eq!(header_value(&inv, "Call-ID"), "t-42", "{inv}");
    assert!(inv.contains("m=message "), "{inv}");
    assert!(inv.contains("a=accept-types:text/plain"), "{inv}");
    let ack = timeout(T, requests.recv()).await.unwrap().unwrap();
    assert!(ack.starts_with("ACK sip:bob@sip.test SIP/2.0\r\n"), "{ack}");
    assert_eq!(header_value(&ack, "CSeq"), "1 ACK");
    assert_eq!(header_value(&ack, "To"), "<sip:bob@sip.test>;tag=proxy1");
    let msg = timeout(T, requests.recv()).await.unwrap().unwrap();
    assert!(
        msg.starts_with("MESSAGE sip:bob@sip.test SIP/2.0\r\n"),
        "{msg}"
    );
    assert_eq!(header_value(&msg, "CSeq"), "2 MESSAGE");
    assert_eq!(header_value(&msg, "To"), "<sip:bob@sip.test>;tag=proxy1");
    assert!(msg.ends_with("first"), "{msg}");
    // A second message without a thread stays in the pair's session.
    peer.send("<message type='chat' from='juliet@xmpp.test/balcony' to='bob@sip.test' id='m2'><body>second</body></message>").await;
    let msg2 = timeout(T, requests.recv()).await.unwrap().unwrap();
    assert_eq!(header_value(&msg2, "Call-ID"), "t-42", "{msg2}");
    assert_eq!(header_value(&msg2, "CSeq"), "3 MESSAGE");
    peer.send("<message type='chat' from='juliet@xmpp.test/balcony' to='bob@sip.test'><gone xmlns='http://jabber.org/protocol/chatstates'/><thread>t-42</thread></message>").await;
    let bye = timeout(T, requests.recv()).await.unwrap().unwrap();
    assert!(bye.starts_with("BYE sip:bob@sip.test SIP/2.0\r\n"), "{bye}");
    assert_eq!(header_value(&bye, "CSeq"), "4 BYE");
    gw.cancel.cancel();
}

/// A session with no MESSAGE for the idle time is ended with BYE and `gone`.
#[tokio::test]
async fn idle_session_ends_with_bye_and_gone() {
    let pki = pki("sess-idle");
    let (xmpp_hop, mut stanzas) = xmpp_server(&pki, "xmpp.test").await;
    let (sip_hop, mut requests) = sip_proxy(&pki, "sip.test").await;
    let gw = start(&pki, xmpp_hop, sip_hop, "session_idle_timeout_secs = 1", "").await;
    let mut ua = sip_client(&pki, gw.sip, "sip.test", "xmpp.test").await;
    ua.send(&invite("i1", OFFER)).await;
    let ok = timeout(T, read_sip(&mut ua)).await.unwrap();
    assert!(ok.starts_with("SIP/2.0 200 "), "{ok}");
    let bye = timeout(T, requests.recv()).await.unwrap().unwrap();
    assert!(
        bye.starts_with("BYE sip:alice@127.0.0.1:5999;transport=tls SIP/2.0\r\n"),
        "{bye}"
    );
    assert_eq!(header_value(&bye, "Call-ID"), "i1");
    assert_eq!(header_value(&bye, "Route"), "<sip:proxy.sip.test;lr>");
    let gone = timeout(T, stanzas.recv()).await.unwrap().unwrap();
    assert!(
        gone.contains("<gone xmlns='http://jabber.org/protocol/chatstates'/>"),
        "{gone}"
    );
    gw.cancel.cancel();
}
