//! External marking (DESIGN "Policy") against a running gateway: the XMPP user sees a SIP
//! sender's XEP-0172 nick with the label, escaped; nothing is injected into SIP headers;
//! an empty label turns marking off.

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

fn config_text(pki: &Pki, xmpp_hop: SocketAddr, sip_hop: SocketAddr, policy: &str) -> String {
    let d = pki.dir.display();
    let domains = pki.domains_toml(xmpp_hop, sip_hop);
    format!(
        r#"
state_dir = "{d}/state"
[log]
level = "info"
[tls]
ca_file = "{d}/ca.crt"
[sip]
listen_tls = ["127.0.0.1:0"]
bounce_window_ms = 300
[xmpp]
listen = ["127.0.0.1:0"]
connect_timeout_ms = 2000
delivery_timeout_ms = 3000
{domains}
{policy}
"#
    )
}

/// A MESSAGE whose From has no display name.
fn nameless_message(from: &str, to: &str, call_id: &str, body: &str) -> String {
    format!(
        "MESSAGE sip:{to} SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:5999;branch=z9hG4bK-{call_id}\r\nMax-Forwards: 70\r\nFrom: <sip:{from}>;tag=a1\r\nTo: <sip:{to}>\r\nCall-ID: {call_id}\r\nCSeq: 1 MESSAGE\r\nContent-Type: text/plain;charset=UTF-8\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// The `From` header line of a SIP request.
fn from_line(req: &str) -> &str {
    req.lines()
        .find(|l| l.starts_with("From:") || l.starts_with("f:"))
        .unwrap_or_else(|| panic!("no From: {req}"))
}

/// Run one exchange each way with `policy`; returns (SIP request seen by the SIP peer for an
/// XMPP message with nick `xmpp_nick`, XMPP stanza seen by the XMPP peer for a nameless SIP
/// MESSAGE from bob).
async fn exchange(tag: &str, policy: &str, xmpp_nick: &str) -> (String, String) {
    let pki = Pki::new(&format!("extlabel-{tag}"), &["sip.test", "xmpp.test"]);
    let (xmpp_hop, mut stanzas) = xmpp_server(&pki, "xmpp.test").await;
    let (sip_hop, mut requests) = sip_proxy(&pki, "sip.test").await;
    let config = Config::parse(&config_text(&pki, xmpp_hop, sip_hop, policy)).unwrap();
    config.validate().unwrap();
    let cancel = CancellationToken::new();
    let app = App::build(config, cancel.clone()).await.unwrap();
    let (sip, xmpp, _) = app.local_addrs();
    let done = tokio::spawn(app.run(Duration::from_secs(5)));

    let mut peer = xmpp_initiator(&pki, xmpp[0], "xmpp.test", "sip.test").await;
    peer.send(&format!(
        "<message from='juliet@xmpp.test/b' to='bob@sip.test' type='chat' id='x1'><body>hi bob</body><nick xmlns='http://jabber.org/protocol/nick'>{xmpp_nick}</nick></message>"
    ))
    .await;
    let req = timeout(T, requests.recv()).await.unwrap().unwrap();
    assert!(req.ends_with("hi bob"), "{req}");

    let mut ua = sip_client(&pki, sip[0], "sip.test", "xmpp.test").await;
    ua.send(&nameless_message(
        "bob@sip.test",
        "juliet@xmpp.test",
        "el1",
        "hi juliet",
    ))
    .await;
    let stanza = timeout(T, stanzas.recv()).await.unwrap().unwrap();
    assert!(stanza.contains("<body>hi juliet</body>"), "{stanza}");
    let resp = read_sip(&mut ua).await;
    assert!(resp.starts_with("SIP/2.0 202 "), "{resp}");

    cancel.cancel();
    assert!(timeout(T, done).await.unwrap().unwrap());
    (req, stanza)
}

#[tokio::test]
async fn the_xmpp_side_sees_the_default_label() {
    let (req, stanza) = exchange("default", "", "Juliet").await;
    assert!(from_line(&req).contains("<sip:juliet@xmpp.test"), "{req}");
    assert!(
        stanza.contains("<nick xmlns='http://jabber.org/protocol/nick'>bob (external)</nick>"),
        "{stanza}"
    );
}

#[tokio::test]
async fn label_and_name_are_quoted_and_escaped() {
    let policy = "[policy]\nexternal_label = '[ext \"<&>\"]'";
    let (req, stanza) = exchange("escape", policy, "Ju\"li&#13;&#10;X-Injected: yes").await;
    // SIP: no injected header line.
    assert!(!req.lines().any(|l| l.starts_with("X-Injected")), "{req}");
    // XMPP: the label's markup characters are escaped in the nick's text.
    let nick_start = stanza.find("<nick ").unwrap_or_else(|| panic!("{stanza}"));
    let nick = &stanza[nick_start..];
    let nick = &nick[..nick.find("</nick>").unwrap() + 7];
    assert!(nick.contains("bob [ext "), "{nick}");
    assert!(nick.contains("&lt;&amp;&gt;"), "{nick}");
    assert!(!nick.contains("<&>"), "{nick}");
}

#[tokio::test]
async fn an_empty_label_turns_marking_off() {
    let (req, stanza) = exchange("off", "[policy]\nexternal_label = ''", "Juliet").await;
    assert!(!from_line(&req).contains("external"), "{req}");
    assert!(!stanza.contains("<nick"), "{stanza}");
}
