//! A gateway in-process for session-mode tests: one SIP domain (`sip.test`) and one XMPP
//! domain (`xmpp.test`) with stand-in next hops, and extra lines for `[sip]` and for the SIP
//! domain's table.

use std::net::SocketAddr;
use std::time::Duration;

use parley::app::App;
use parley::config::Config;
use tokio_util::sync::CancellationToken;

use super::pki::Pki;

/// The running gateway's listeners; cancel to stop it.
pub struct Gw {
    pub sip: SocketAddr,
    pub xmpp: SocketAddr,
    pub cancel: CancellationToken,
}

/// Start the gateway on loopback.
pub async fn start(
    pki: &Pki,
    xmpp_hop: SocketAddr,
    sip_hop: SocketAddr,
    sip_extra: &str,
    domain_extra: &str,
) -> Gw {
    let d = pki.dir.display();
    let text = format!(
        r#"
state_dir = "{d}/state"
[tls]
ca_file = "{d}/ca.crt"
[sip]
listen_tls = ["127.0.0.1:0"]
bounce_window_ms = 200
{sip_extra}
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
{domain_extra}
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
    Gw {
        sip: sip[0],
        xmpp: xmpp[0],
        cancel,
    }
}

/// An INVITE from `alice@sip.test` to `juliet@xmpp.test` over TLS with `offer` as its SDP.
pub fn invite(call_id: &str, offer: &str) -> String {
    format!(
        "INVITE sip:juliet@xmpp.test SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:5999;branch=z9hG4bK{call_id}inv\r\nMax-Forwards: 70\r\nFrom: <sip:alice@sip.test>;tag=a1\r\nTo: <sip:juliet@xmpp.test>\r\nCall-ID: {call_id}\r\nCSeq: 1 INVITE\r\nContact: <sip:alice@127.0.0.1:5999;transport=tls>\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{offer}",
        offer.len()
    )
}

/// A request of alice's inside the dialog with To tag `tag` (no Content-Type when `ctype`
/// is empty).
pub fn in_dialog(
    method: &str,
    call_id: &str,
    tag: &str,
    cseq: u32,
    ctype: &str,
    body: &str,
) -> String {
    let ct = if ctype.is_empty() {
        String::new()
    } else {
        format!("Content-Type: {ctype}\r\n")
    };
    format!(
        "{method} sip:juliet@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:5999;branch=z9hG4bK{call_id}{cseq}\r\nMax-Forwards: 70\r\nFrom: <sip:alice@sip.test>;tag=a1\r\nTo: <sip:juliet@xmpp.test>;tag={tag}\r\nCall-ID: {call_id}\r\nCSeq: {cseq} {method}\r\n{ct}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// The value of header `name` in a SIP message given as text, or "".
pub fn header_value<'a>(msg: &'a str, name: &str) -> &'a str {
    super::peers::sip_header(msg, name).unwrap_or_default()
}
