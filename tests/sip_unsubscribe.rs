//! A SIP watcher's unsubscribe through a running gateway (RFC 6665 §4.2.1.4, RFC 8048 §5,
//! DESIGN presence table), against stand-in peers on loopback: an in-dialog SUBSCRIBE with
//! `Expires: 0` is answered 200, ends the dialog with a final NOTIFY `terminated` and sends
//! XMPP `unsubscribe` from the watcher; a dialog that merely expires sends nothing to XMPP.

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
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;

const T: Duration = Duration::from_secs(10);

struct Gw {
    sip: SocketAddr,
    xmpp: SocketAddr,
    cancel: CancellationToken,
}

async fn start(pki: &Pki, xmpp_hop: SocketAddr, sip_hop: SocketAddr) -> Gw {
    let d = pki.dir.display();
    let domains = pki.domains_toml(xmpp_hop, sip_hop);
    let text = format!(
        r#"
state_dir = "{d}/state"
[tls]
ca_file = "{d}/ca.crt"
[sip]
listen_tls = ["127.0.0.1:0"]
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
    let (sip, xmpp, _) = app.local_addrs();
    tokio::spawn(app.run(Duration::from_secs(2)));
    Gw {
        sip: sip[0],
        xmpp: xmpp[0],
        cancel,
    }
}

fn subscribe(call_id: &str, to_tag: Option<&str>, cseq: u32, expires: u32) -> String {
    // A proxy on the path records its route in the dialog-creating request only.
    let rr = if to_tag.is_none() {
        "Record-Route: <sip:127.0.0.1:5998;transport=tls;lr>\r\n"
    } else {
        ""
    };
    let to_tag = to_tag.map(|t| format!(";tag={t}")).unwrap_or_default();
    format!(
        "SUBSCRIBE sip:juliet@xmpp.test SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:5999;branch=z9hG4bK{call_id}{cseq}\r\nMax-Forwards: 70\r\n{rr}From: <sip:alice@sip.test>;tag=w1\r\nTo: <sip:juliet@xmpp.test>{to_tag}\r\nCall-ID: {call_id}\r\nCSeq: {cseq} SUBSCRIBE\r\nContact: <sip:alice@127.0.0.1:5999;transport=tls>\r\nEvent: presence\r\nAccept: application/pidf+xml\r\nExpires: {expires}\r\nContent-Length: 0\r\n\r\n"
    )
}

fn to_tag(resp: &str) -> String {
    let to = resp
        .lines()
        .find_map(|l| l.strip_prefix("To:"))
        .expect("To header");
    to.split(";tag=").nth(1).expect("To tag").trim().to_owned()
}

fn presence_type(stanza: &str) -> Option<&str> {
    attr(stanza, "type")
}

/// Subscribe alice@sip.test to juliet@xmpp.test with `expires`; returns the dialog's To tag
/// once the 202, the NOTIFY `pending` and the XMPP `subscribe` have been seen.
async fn subscribed<S>(
    ua: &mut Text<S>,
    requests: &mut tokio::sync::mpsc::Receiver<String>,
    stanzas: &mut tokio::sync::mpsc::Receiver<String>,
    call_id: &str,
    expires: u32,
) -> String
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    ua.send(&subscribe(call_id, None, 1, expires)).await;
    let ok = read_sip(ua).await;
    assert!(ok.starts_with("SIP/2.0 202 "), "{ok}");
    // RFC 3261 §12.1.1: the refreshes and the unsubscribe follow the recorded route.
    assert!(
        ok.contains("Record-Route: <sip:127.0.0.1:5998;transport=tls;lr>"),
        "{ok}"
    );
    let pending = timeout(T, requests.recv()).await.unwrap().unwrap();
    assert!(
        pending.contains("Subscription-State: pending;"),
        "{pending}"
    );
    let sub = timeout(T, stanzas.recv()).await.unwrap().unwrap();
    assert_eq!(presence_type(&sub), Some("subscribe"), "{sub}");
    assert_eq!(attr(&sub, "from"), Some("alice@sip.test"), "{sub}");
    to_tag(&ok)
}

/// RFC 6665 §4.2.1.4 + RFC 8048 §5: `Expires: 0` in the dialog → 200, NOTIFY `terminated`
/// (no later NOTIFY for the dialog), XMPP `unsubscribe` from the watcher to the presentity;
/// the dialog is gone afterwards (481).
#[tokio::test]
async fn sip_unsubscribe_ends_the_dialog_and_unsubscribes_on_xmpp() {
    let pki = Pki::new("unsub-x", &["sip.test", "xmpp.test"]);
    let (xmpp_hop, mut stanzas) = xmpp_server(&pki, "xmpp.test").await;
    let (sip_hop, mut requests) = sip_proxy(&pki, "sip.test").await;
    let gw = start(&pki, xmpp_hop, sip_hop).await;
    let mut ua = sip_client(&pki, gw.sip, "sip.test", "xmpp.test").await;
    let tag = subscribed(&mut ua, &mut requests, &mut stanzas, "unsub1", 600).await;

    // Juliet approves: the dialog is active.
    let mut peer = xmpp_initiator(&pki, gw.xmpp, "xmpp.test", "sip.test").await;
    peer.send("<presence type='subscribed' from='juliet@xmpp.test' to='alice@sip.test'/>")
        .await;
    let active = timeout(T, requests.recv()).await.unwrap().unwrap();
    assert!(active.contains("Subscription-State: active;"), "{active}");

    ua.send(&subscribe("unsub1", Some(&tag), 2, 0)).await;
    let ok = read_sip(&mut ua).await;
    assert!(ok.starts_with("SIP/2.0 200 "), "{ok}");
    let end = timeout(T, requests.recv()).await.unwrap().unwrap();
    assert!(end.starts_with("NOTIFY "), "{end}");
    assert!(end.contains("Subscription-State: terminated"), "{end}");
    assert!(end.contains("CSeq: 3 NOTIFY"), "{end}");
    assert!(end.contains("Call-ID: unsub1"), "{end}");

    let unsub = timeout(T, stanzas.recv()).await.unwrap().unwrap();
    assert!(unsub.starts_with("<presence"), "{unsub}");
    assert_eq!(presence_type(&unsub), Some("unsubscribe"), "{unsub}");
    assert_eq!(attr(&unsub, "from"), Some("alice@sip.test"), "{unsub}");
    assert_eq!(attr(&unsub, "to"), Some("juliet@xmpp.test"), "{unsub}");

    // The dialog is gone: a later presence change makes no NOTIFY, a refresh gets 481.
    peer.send("<presence from='juliet@xmpp.test/balcony' to='alice@sip.test'/>")
        .await;
    ua.send(&subscribe("unsub1", Some(&tag), 3, 600)).await;
    let gone = read_sip(&mut ua).await;
    assert!(gone.starts_with("SIP/2.0 481 "), "{gone}");
    // The next request towards SIP is the pending NOTIFY of a new subscription, not one
    // for the ended dialog.
    ua.send(&subscribe("unsub2", None, 1, 600)).await;
    let ok = read_sip(&mut ua).await;
    assert!(ok.starts_with("SIP/2.0 202 "), "{ok}");
    let next = timeout(T, requests.recv()).await.unwrap().unwrap();
    assert!(next.contains("Call-ID: unsub2"), "{next}");
    gw.cancel.cancel();
}

/// DESIGN "expiry is not contact removal": a dialog that expires without a refresh gets
/// NOTIFY `terminated;reason=timeout` and nothing goes to XMPP. The XMPP side's next stanza
/// after the expiry is the `subscribe` of a later new subscription (the stream keeps order).
#[tokio::test]
async fn sip_expiry_sends_nothing_to_xmpp() {
    let pki = Pki::new("unsub-e", &["sip.test", "xmpp.test"]);
    let (xmpp_hop, mut stanzas) = xmpp_server(&pki, "xmpp.test").await;
    let (sip_hop, mut requests) = sip_proxy(&pki, "sip.test").await;
    let gw = start(&pki, xmpp_hop, sip_hop).await;
    let mut ua = sip_client(&pki, gw.sip, "sip.test", "xmpp.test").await;
    let _tag = subscribed(&mut ua, &mut requests, &mut stanzas, "exp1", 1).await;

    let end = timeout(T, requests.recv()).await.unwrap().unwrap();
    assert!(end.contains("Call-ID: exp1"), "{end}");
    assert!(
        end.contains("Subscription-State: terminated;reason=timeout"),
        "{end}"
    );

    ua.send(&subscribe("exp2", None, 1, 600)).await;
    let ok = read_sip(&mut ua).await;
    assert!(ok.starts_with("SIP/2.0 202 "), "{ok}");
    let next = timeout(T, stanzas.recv()).await.unwrap().unwrap();
    assert_eq!(presence_type(&next), Some("subscribe"), "{next}");
    assert_eq!(attr(&next, "from"), Some("alice@sip.test"), "{next}");
    gw.cancel.cancel();
}
