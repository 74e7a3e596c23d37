//! Session-mode IM (RFC 3261 INVITE dialogs with SDP `m=message … sip`) takes the same event
//! path as page mode: an in-dialog MESSAGE carrying an RFC 5438 IMDN, a CPIM message asking
//! for receipts or `text/html` becomes the stanza a page-mode one would (on the session's
//! thread), and XMPP chat states, receipts, rich messages and reactions for a SIP user in a
//! session go inside the dialog, not as page-mode requests beside it — as far as the
//! `accept-types` of the peer's SDP allow. Stand-in peers on loopback.

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
use common::session_gw::{header_value, in_dialog, invite, start};
use tokio::time::timeout;

const T: Duration = Duration::from_secs(10);

const OFFER: &str = "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=session\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=message 5060 sip null\r\na=accept-types:text/plain text/html message/cpim application/im-iscomposing+xml multipart/alternative\r\n";

/// An offer from a UA that takes plain text only (as SIPp scenarios and basic clients do).
const PLAIN_OFFER: &str = "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=session\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=message 5060 sip null\r\na=accept-types:text/plain\r\n";

/// Open a session from the SIP UA (INVITE, 200, ACK); the gateway's To tag.
async fn open<S>(ua: &mut Text<S>, call_id: &str) -> String
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    open_with(ua, call_id, OFFER).await
}

async fn open_with<S>(ua: &mut Text<S>, call_id: &str, offer: &str) -> String
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    ua.send(&invite(call_id, offer)).await;
    let ok = timeout(T, read_sip(ua)).await.unwrap();
    assert!(ok.starts_with("SIP/2.0 200 "), "{ok}");
    let tag = header_value(&ok, "To")
        .split(";tag=")
        .nth(1)
        .expect("To tag")
        .to_owned();
    ua.send(&in_dialog("ACK", call_id, &tag, 1, "", "")).await;
    tag
}

const IMDN_DELIVERED: &str = "From: <im:alice@sip.test>\r\nTo: <im:juliet@xmpp.test>\r\nDateTime: 2024-05-01T10:00:00Z\r\nNS: imdn <urn:ietf:params:imdn>\r\nimdn.Message-ID: n-77\r\n\r\nContent-Type: message/imdn+xml\r\nContent-Disposition: notification\r\n\r\n<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n<imdn xmlns=\"urn:ietf:params:xml:ns:imdn\"><message-id>xmpp-42</message-id><datetime>2024-05-01T09:59:00Z</datetime><delivery-notification><status><delivered/></status></delivery-notification></imdn>";

const CPIM_WANTS_RECEIPT: &str = "From: <im:alice@sip.test>\r\nTo: <im:juliet@xmpp.test>\r\nDateTime: 2024-05-01T10:00:00Z\r\nNS: imdn <urn:ietf:params:imdn>\r\nimdn.Message-ID: m-5\r\nimdn.Disposition-Notification: positive-delivery\r\n\r\nContent-Type: text/plain;charset=UTF-8\r\n\r\nPlease confirm";

/// SIP → XMPP in a session: an IMDN, a CPIM message asking for a delivery receipt and an
/// HTML message each become the page-mode stanza on the session's thread; an in-dialog body
/// parley cannot map is refused (415), not answered 200 and dropped.
#[tokio::test]
async fn in_dialog_rich_messages_and_receipts_reach_xmpp() {
    let pki = Pki::new("sessev-in", &["sip.test", "xmpp.test"]);
    let (xmpp_hop, mut stanzas) = xmpp_server(&pki, "xmpp.test").await;
    let (sip_hop, _requests) = sip_proxy(&pki, "sip.test").await;
    let gw = start(&pki, xmpp_hop, sip_hop, "", "").await;
    let mut ua = sip_client(&pki, gw.sip, "sip.test", "xmpp.test").await;
    let tag = open(&mut ua, "e1").await;

    let imdn = in_dialog("MESSAGE", "e1", &tag, 2, "message/cpim", IMDN_DELIVERED);
    ua.send(&imdn).await;
    let r = timeout(T, read_sip(&mut ua)).await.unwrap();
    assert!(r.starts_with("SIP/2.0 20"), "{r}");
    let s = timeout(T, stanzas.recv()).await.unwrap().unwrap();
    assert!(
        s.contains("<received xmlns='urn:xmpp:receipts' id='xmpp-42'/>"),
        "{s}"
    );
    assert!(s.contains("<thread>e1</thread>"), "{s}");
    assert!(s.contains("to='juliet@xmpp.test'"), "{s}");

    let cpim = in_dialog("MESSAGE", "e1", &tag, 3, "message/cpim", CPIM_WANTS_RECEIPT);
    ua.send(&cpim).await;
    let r = timeout(T, read_sip(&mut ua)).await.unwrap();
    assert!(r.starts_with("SIP/2.0 20"), "{r}");
    let s = timeout(T, stanzas.recv()).await.unwrap().unwrap();
    assert!(s.contains("<body>Please confirm</body>"), "{s}");
    assert!(s.contains("<request xmlns='urn:xmpp:receipts'/>"), "{s}");
    assert!(s.contains("<thread>e1</thread>"), "{s}");

    let html = in_dialog(
        "MESSAGE",
        "e1",
        &tag,
        4,
        "text/html",
        "<p>very <b>bold</b></p>",
    );
    ua.send(&html).await;
    let r = timeout(T, read_sip(&mut ua)).await.unwrap();
    assert!(r.starts_with("SIP/2.0 20"), "{r}");
    let s = timeout(T, stanzas.recv()).await.unwrap().unwrap();
    assert!(s.contains("<body>very bold</body>"), "{s}");
    assert!(s.contains("http://jabber.org/protocol/xhtml-im"), "{s}");
    assert!(s.contains("<thread>e1</thread>"), "{s}");

    let octets = in_dialog(
        "MESSAGE",
        "e1",
        &tag,
        5,
        "application/octet-stream",
        "\u{1}\u{2}",
    );
    ua.send(&octets).await;
    let r = timeout(T, read_sip(&mut ua)).await.unwrap();
    assert!(r.starts_with("SIP/2.0 415 "), "{r}");
    // Nothing reached XMPP for it: the next stanza is the plain message sent after it.
    ua.send(&in_dialog("MESSAGE", "e1", &tag, 6, "text/plain", "after"))
        .await;
    let r = timeout(T, read_sip(&mut ua)).await.unwrap();
    assert!(r.starts_with("SIP/2.0 20"), "{r}");
    let s = timeout(T, stanzas.recv()).await.unwrap().unwrap();
    assert!(s.contains("<body>after</body>"), "{s}");
    gw.cancel.cancel();
}

/// XMPP → SIP for a SIP user in a session: a chat state, a receipt (found by the pair, no
/// thread), a rich message and a reaction each leave as an in-dialog MESSAGE (the peer's
/// Contact as Request-URI, the dialog's tags and Call-ID, CSeq counting up) with the payload
/// page mode would send; `gone` riding on a last message sends it, then ends the dialog.
#[tokio::test]
async fn xmpp_events_go_in_the_dialog() {
    let pki = Pki::new("sessev-out", &["sip.test", "xmpp.test"]);
    let (xmpp_hop, _stanzas) = xmpp_server(&pki, "xmpp.test").await;
    let (sip_hop, mut requests) = sip_proxy(&pki, "sip.test").await;
    let gw = start(&pki, xmpp_hop, sip_hop, "", "").await;
    let mut ua = sip_client(&pki, gw.sip, "sip.test", "xmpp.test").await;
    let tag = open(&mut ua, "e2").await;
    let mut peer = xmpp_initiator(&pki, gw.xmpp, "xmpp.test", "sip.test").await;

    let in_dialog_request = |req: &str, cseq: u32| {
        assert!(
            req.starts_with("MESSAGE sip:alice@127.0.0.1:5999;transport=tls SIP/2.0\r\n"),
            "{req}"
        );
        assert_eq!(header_value(req, "Call-ID"), "e2", "{req}");
        assert_eq!(
            header_value(req, "To"),
            "<sip:alice@sip.test>;tag=a1",
            "{req}"
        );
        assert!(
            header_value(req, "From").ends_with(&format!(";tag={tag}")),
            "{req}"
        );
        assert_eq!(
            header_value(req, "CSeq"),
            format!("{cseq} MESSAGE"),
            "{req}"
        );
    };

    peer.send("<message type='chat' from='juliet@xmpp.test/balcony' to='alice@sip.test'><composing xmlns='http://jabber.org/protocol/chatstates'/><thread>e2</thread></message>").await;
    let c = timeout(T, requests.recv()).await.unwrap().unwrap();
    in_dialog_request(&c, 1);
    assert_eq!(
        header_value(&c, "Content-Type"),
        "application/im-iscomposing+xml",
        "{c}"
    );
    assert!(c.contains("<state>active</state>"), "{c}");

    peer.send("<message type='chat' from='juliet@xmpp.test/balcony' to='alice@sip.test' id='rc1'><received xmlns='urn:xmpp:receipts' id='m-5'/></message>").await;
    let r = timeout(T, requests.recv()).await.unwrap().unwrap();
    in_dialog_request(&r, 2);
    assert_eq!(header_value(&r, "Content-Type"), "message/cpim", "{r}");
    assert!(r.contains("<message-id>m-5</message-id>"), "{r}");
    assert!(r.contains("<delivered/>"), "{r}");

    peer.send("<message type='chat' from='juliet@xmpp.test/balcony' to='alice@sip.test' id='h1'><body>very bold</body><html xmlns='http://jabber.org/protocol/xhtml-im'><body xmlns='http://www.w3.org/1999/xhtml'><p>very <b>bold</b></p></body></html><thread>e2</thread></message>").await;
    let h = timeout(T, requests.recv()).await.unwrap().unwrap();
    in_dialog_request(&h, 3);
    assert!(
        header_value(&h, "Content-Type").starts_with("multipart/alternative;boundary="),
        "{h}"
    );
    assert!(h.contains("<strong>bold</strong>"), "{h}");
    assert!(h.contains("very bold"), "{h}");

    peer.send("<message type='chat' from='juliet@xmpp.test/balcony' to='alice@sip.test' id='x1'><reactions xmlns='urn:xmpp:reactions:0' id='m-5'><reaction>👍</reaction></reactions></message>").await;
    let x = timeout(T, requests.recv()).await.unwrap().unwrap();
    in_dialog_request(&x, 4);
    assert!(x.ends_with("reacted 👍 to an earlier message"), "{x}");

    // A last message with `gone` on it: the message in the dialog, then BYE.
    peer.send("<message type='chat' from='juliet@xmpp.test/balcony' to='alice@sip.test' id='g1'><body>good night</body><gone xmlns='http://jabber.org/protocol/chatstates'/><thread>e2</thread></message>").await;
    let last = timeout(T, requests.recv()).await.unwrap().unwrap();
    in_dialog_request(&last, 5);
    assert!(last.ends_with("good night"), "{last}");
    let bye = timeout(T, requests.recv()).await.unwrap().unwrap();
    assert!(
        bye.starts_with("BYE sip:alice@127.0.0.1:5999;transport=tls SIP/2.0\r\n"),
        "{bye}"
    );
    assert_eq!(header_value(&bye, "CSeq"), "6 BYE", "{bye}");
    gw.cancel.cancel();
}

/// `im_mode = "session"`: a message asking for a receipt opens the session and goes in it as
/// CPIM with the IMDN request (not as text/plain without it); a chat state to a user without
/// a session opens none and goes in page mode.
#[tokio::test]
async fn session_mode_keeps_receipt_requests_and_chat_states_open_nothing() {
    let pki = Pki::new("sessev-mode", &["sip.test", "xmpp.test"]);
    let (xmpp_hop, _stanzas) = xmpp_server(&pki, "xmpp.test").await;
    let (sip_hop, mut requests) = sip_proxy(&pki, "sip.test").await;
    let gw = start(&pki, xmpp_hop, sip_hop, "", "im_mode = \"session\"").await;
    let mut peer = xmpp_initiator(&pki, gw.xmpp, "xmpp.test", "sip.test").await;

    peer.send("<message type='chat' from='juliet@xmpp.test/balcony' to='carol@sip.test'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>").await;
    let c = timeout(T, requests.recv()).await.unwrap().unwrap();
    assert!(
        c.starts_with("MESSAGE sip:carol@sip.test SIP/2.0\r\n"),
        "{c}"
    );
    assert!(!header_value(&c, "To").contains(";tag="), "{c}");

    peer.send("<message type='chat' from='juliet@xmpp.test/balcony' to='bob@sip.test' id='w1'><body>confirm?</body><request xmlns='urn:xmpp:receipts'/><thread>t-9</thread></message>").await;
    let inv = timeout(T, requests.recv()).await.unwrap().unwrap();
    assert!(
        inv.starts_with("INVITE sip:bob@sip.test SIP/2.0\r\n"),
        "{inv}"
    );
    let ack = timeout(T, requests.recv()).await.unwrap().unwrap();
    assert!(ack.starts_with("ACK "), "{ack}");
    let m = timeout(T, requests.recv()).await.unwrap().unwrap();
    assert!(m.starts_with("MESSAGE sip:bob@sip.test SIP/2.0\r\n"), "{m}");
    assert_eq!(header_value(&m, "Call-ID"), "t-9", "{m}");
    assert_eq!(header_value(&m, "CSeq"), "2 MESSAGE", "{m}");
    assert_eq!(header_value(&m, "Content-Type"), "message/cpim", "{m}");
    assert!(m.contains("imdn.Message-ID: w1\r\n"), "{m}");
    assert!(
        m.contains("imdn.Disposition-Notification: positive-delivery\r\n"),
        "{m}"
    );
    assert!(m.ends_with("confirm?"), "{m}");
    gw.cancel.cancel();
}

/// While parley's INVITE waits for its answer, a chat state is not held with the messages
/// (it would be out of date, XEP-0085): once the 2xx comes, the held message goes in the
/// dialog and the next request is the next message, no isComposing between them.
#[tokio::test]
async fn chat_states_do_not_wait_for_the_invite() {
    let pki = Pki::new("sessev-pending", &["sip.test", "xmpp.test"]);
    let (xmpp_hop, mut stanzas) = xmpp_server(&pki, "xmpp.test").await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sip_hop = listener.local_addr().unwrap();
    let gw = start(&pki, xmpp_hop, sip_hop, "", "im_mode = \"session\"").await;
    let mut peer = xmpp_initiator(&pki, gw.xmpp, "xmpp.test", "sip.test").await;

    peer.send("<message type='chat' from='juliet@xmpp.test/balcony' to='bob@sip.test' id='p1'><body>first</body><thread>t-p</thread></message>").await;
    let (tcp, _) = timeout(T, listener.accept()).await.unwrap().unwrap();
    let tls = pki.server("sip.test").accept(tcp).await.unwrap();
    let mut proxy = Text::new(tls);
    let inv = timeout(T, read_sip(&mut proxy)).await.unwrap();
    assert!(inv.starts_with("INVITE sip:bob@sip.test "), "{inv}");

    // The chat state arrives while the INVITE is unanswered; the ping after it on the same
    // stream is answered only once the chat state was handled.
    peer.send("<message type='chat' from='juliet@xmpp.test/balcony' to='bob@sip.test'><composing xmlns='http://jabber.org/protocol/chatstates'/><thread>t-p</thread></message>").await;
    peer.send("<iq type='get' id='sync-1' from='xmpp.test' to='sip.test'><ping xmlns='urn:xmpp:ping'/></iq>").await;
    let pong = next_matching(&mut stanzas, "ping answer", |s| s.contains("sync-1")).await;
    assert!(pong.contains("type='result'"), "{pong}");

    proxy.send(&response_to(&inv, "200 OK")).await;
    let ack = timeout(T, read_sip(&mut proxy)).await.unwrap();
    assert!(ack.starts_with("ACK "), "{ack}");
    let first = timeout(T, read_sip(&mut proxy)).await.unwrap();
    assert_eq!(header_value(&first, "CSeq"), "2 MESSAGE", "{first}");
    assert!(first.ends_with("first"), "{first}");
    proxy.send(&response_to(&first, "200 OK")).await;

    peer.send("<message type='chat' from='juliet@xmpp.test/balcony' to='bob@sip.test' id='p2'><body>second</body><thread>t-p</thread></message>").await;
    let second = timeout(T, read_sip(&mut proxy)).await.unwrap();
    assert_eq!(header_value(&second, "CSeq"), "3 MESSAGE", "{second}");
    assert!(second.ends_with("second"), "{second}");
    gw.cancel.cancel();
}

/// A body-less `gone` that also carries a receipt: the receipt goes in the dialog, then the
/// dialog ends with BYE (the receipt is not lost to the session's end).
#[tokio::test]
async fn a_receipt_riding_on_gone_goes_before_the_bye() {
    let pki = Pki::new("sessev-gone", &["sip.test", "xmpp.test"]);
    let (xmpp_hop, _stanzas) = xmpp_server(&pki, "xmpp.test").await;
    let (sip_hop, mut requests) = sip_proxy(&pki, "sip.test").await;
    let gw = start(&pki, xmpp_hop, sip_hop, "", "").await;
    let mut ua = sip_client(&pki, gw.sip, "sip.test", "xmpp.test").await;
    open(&mut ua, "e3").await;
    let mut peer = xmpp_initiator(&pki, gw.xmpp, "xmpp.test", "sip.test").await;

    peer.send("<message type='chat' from='juliet@xmpp.test/balcony' to='alice@sip.test' id='rg1'><received xmlns='urn:xmpp:receipts' id='m-9'/><gone xmlns='http://jabber.org/protocol/chatstates'/><thread>e3</thread></message>").await;
    let r = timeout(T, requests.recv()).await.unwrap().unwrap();
    assert!(
        r.starts_with("MESSAGE sip:alice@127.0.0.1:5999;transport=tls SIP/2.0\r\n"),
        "{r}"
    );
    assert_eq!(header_value(&r, "Call-ID"), "e3", "{r}");
    assert!(r.contains("<message-id>m-9</message-id>"), "{r}");
    let bye = timeout(T, requests.recv()).await.unwrap().unwrap();
    assert!(bye.starts_with("BYE "), "{bye}");
    assert_eq!(header_value(&bye, "Call-ID"), "e3", "{bye}");
    gw.cancel.cancel();
}

/// A UA whose SDP takes text/plain only (RFC 4975 `accept-types`): a chat state is not sent
/// in its dialog (nothing waits for it), a rich message goes as its plain text, and a receipt
/// it cannot take comes back to the XMPP sender as an error, not as a request the UA must
/// refuse. CSeq counts only what was sent.
#[tokio::test]
async fn a_plain_text_peer_gets_only_what_its_sdp_accepts() {
    let pki = Pki::new("sessev-plain", &["sip.test", "xmpp.test"]);
    let (xmpp_hop, mut stanzas) = xmpp_server(&pki, "xmpp.test").await;
    let (sip_hop, mut requests) = sip_proxy(&pki, "sip.test").await;
    let gw = start(&pki, xmpp_hop, sip_hop, "", "").await;
    let mut ua = sip_client(&pki, gw.sip, "sip.test", "xmpp.test").await;
    open_with(&mut ua, "e4", PLAIN_OFFER).await;
    let mut peer = xmpp_initiator(&pki, gw.xmpp, "xmpp.test", "sip.test").await;

    peer.send("<message type='chat' from='juliet@xmpp.test/balcony' to='alice@sip.test'><composing xmlns='http://jabber.org/protocol/chatstates'/><thread>e4</thread></message>").await;
    peer.send("<message type='chat' from='juliet@xmpp.test/balcony' to='alice@sip.test' id='h4'><body>very bold</body><html xmlns='http://jabber.org/protocol/xhtml-im'><body xmlns='http://www.w3.org/1999/xhtml'><p>very <b>bold</b></p></body></html><thread>e4</thread></message>").await;
    let h = timeout(T, requests.recv()).await.unwrap().unwrap();
    assert_eq!(header_value(&h, "Call-ID"), "e4", "{h}");
    assert_eq!(header_value(&h, "CSeq"), "1 MESSAGE", "{h}");
    assert_eq!(
        header_value(&h, "Content-Type"),
        "text/plain;charset=UTF-8",
        "{h}"
    );
    assert!(h.ends_with("\r\n\r\nvery bold"), "{h}");

    peer.send("<message type='chat' from='juliet@xmpp.test/balcony' to='alice@sip.test' id='rc4'><received xmlns='urn:xmpp:receipts' id='m-5'/><thread>e4</thread></message>").await;
    let err = next_matching(&mut stanzas, "error for the receipt", |s| {
        s.contains("id='rc4'")
    })
    .await;
    assert!(err.contains("type='error'"), "{err}");
    assert!(err.contains("to='juliet@xmpp.test/balcony'"), "{err}");

    peer.send("<message type='chat' from='juliet@xmpp.test/balcony' to='alice@sip.test' id='p4'><body>plain</body><thread>e4</thread></message>").await;
    let p = timeout(T, requests.recv()).await.unwrap().unwrap();
    assert_eq!(header_value(&p, "CSeq"), "2 MESSAGE", "{p}");
    assert!(p.ends_with("\r\n\r\nplain"), "{p}");
    gw.cancel.cancel();
}

/// A session parley opens takes what the SDP answer in the peer's 2xx accepts: a message
/// asking for a receipt goes as plain text to a UA that takes no CPIM.
#[tokio::test]
async fn the_answer_in_the_2xx_decides_what_parleys_session_carries() {
    let pki = Pki::new("sessev-answer", &["sip.test", "xmpp.test"]);
    let (xmpp_hop, _stanzas) = xmpp_server(&pki, "xmpp.test").await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sip_hop = listener.local_addr().unwrap();
    let gw = start(&pki, xmpp_hop, sip_hop, "", "im_mode = \"session\"").await;
    let mut peer = xmpp_initiator(&pki, gw.xmpp, "xmpp.test", "sip.test").await;

    peer.send("<message type='chat' from='juliet@xmpp.test/balcony' to='bob@sip.test' id='a1'><body>confirm?</body><request xmlns='urn:xmpp:receipts'/><thread>t-a</thread></message>").await;
    let (tcp, _) = timeout(T, listener.accept()).await.unwrap().unwrap();
    let tls = pki.server("sip.test").accept(tcp).await.unwrap();
    let mut proxy = Text::new(tls);
    let inv = timeout(T, read_sip(&mut proxy)).await.unwrap();
    assert!(inv.starts_with("INVITE sip:bob@sip.test "), "{inv}");
    let ok = response_to(&inv, "200 OK").replace(
        "Content-Length: 0\r\n\r\n",
        &format!(
            "Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{PLAIN_OFFER}",
            PLAIN_OFFER.len()
        ),
    );
    proxy.send(&ok).await;
    let ack = timeout(T, read_sip(&mut proxy)).await.unwrap();
    assert!(ack.starts_with("ACK "), "{ack}");
    let m = timeout(T, read_sip(&mut proxy)).await.unwrap();
    assert_eq!(header_value(&m, "CSeq"), "2 MESSAGE", "{m}");
    assert_eq!(
        header_value(&m, "Content-Type"),
        "text/plain;charset=UTF-8",
        "{m}"
    );
    assert!(m.ends_with("\r\n\r\nconfirm?"), "{m}");
    gw.cancel.cancel();
}

/// An INVITE without an offer gets parley's offer in the 200; the UA's answer comes in the
/// ACK (RFC 3264 §4), and its `accept-types` decide: text/plain only, so a rich message goes
/// as its plain text.
#[tokio::test]
async fn the_answer_in_the_ack_decides_what_an_offerless_session_carries() {
    let pki = Pki::new("sessev-ack", &["sip.test", "xmpp.test"]);
    let (xmpp_hop, _stanzas) = xmpp_server(&pki, "xmpp.test").await;
    let (sip_hop, mut requests) = sip_proxy(&pki, "sip.test").await;
    let gw = start(&pki, xmpp_hop, sip_hop, "", "").await;
    let mut ua = sip_client(&pki, gw.sip, "sip.test", "xmpp.test").await;
    let offerless = invite("e5", "").replace("Content-Type: application/sdp\r\n", "");
    ua.send(&offerless).await;
    let ok = timeout(T, read_sip(&mut ua)).await.unwrap();
    assert!(ok.starts_with("SIP/2.0 200 "), "{ok}");
    assert!(ok.contains("m=message "), "parley's offer: {ok}");
    let tag = header_value(&ok, "To")
        .split(";tag=")
        .nth(1)
        .expect("To tag")
        .to_owned();
    ua.send(&in_dialog(
        "ACK",
        "e5",
        &tag,
        1,
        "application/sdp",
        PLAIN_OFFER,
    ))
    .await;
    let mut peer = xmpp_initiator(&pki, gw.xmpp, "xmpp.test", "sip.test").await;

    peer.send("<message type='chat' from='juliet@xmpp.test/balcony' to='alice@sip.test' id='h5'><body>very bold</body><html xmlns='http://jabber.org/protocol/xhtml-im'><body xmlns='http://www.w3.org/1999/xhtml'><p>very <b>bold</b></p></body></html><thread>e5</thread></message>").await;
    let h = timeout(T, requests.recv()).await.unwrap().unwrap();
    assert_eq!(header_value(&h, "Call-ID"), "e5", "{h}");
    assert_eq!(
        header_value(&h, "Content-Type"),
        "text/plain;charset=UTF-8",
        "{h}"
    );
    assert!(h.ends_with("\r\n\r\nvery bold"), "{h}");
    gw.cancel.cancel();
}
