//! `sip_extensions` of a SIP `[[domain]]`: the CPIM extension headers its peers understand.
//! Without it a reaction crosses as readable text only (text/plain); with `react` it crosses
//! as CPIM with `react.*` headers, while a correction (not declared) keeps its text fallback.
//! Stand-in peers on loopback.

// Only some of the shared stand-in helpers are used here.
#[allow(dead_code)]
mod common {
    pub mod peers;
    pub mod pki;
}

use std::time::Duration;

use common::peers::*;
use common::pki::Pki;
use parley::app::App;
use parley::config::Config;
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;

const T: Duration = Duration::from_secs(10);

const REACTION: &str = "<message type='chat' from='juliet@xmpp.test/balcony' to='bob@sip.test' id='x1'><reactions xmlns='urn:xmpp:reactions:0' id='sip-7'><reaction>👍</reaction></reactions></message>";
const CORRECTION: &str = "<message type='chat' from='juliet@xmpp.test/balcony' to='bob@sip.test' id='x2'><body>at nine</body><replace xmlns='urn:xmpp:message-correct:0' id='x0'/></message>";

/// The reaction and the correction as the SIP proxy receives them, with `domain_line` in
/// the SIP domain's table.
async fn relay(tag: &str, domain_line: &str) -> (String, String) {
    let pki = Pki::new(tag, &["sip.test", "xmpp.test"]);
    let (xmpp_hop, _stanzas) = xmpp_server(&pki, "xmpp.test").await;
    let (sip_hop, mut requests) = sip_proxy(&pki, "sip.test").await;
    let text = pki.gateway_toml(xmpp_hop, sip_hop, "").replacen(
        "side = \"sip\"\n",
        &format!("side = \"sip\"\n{domain_line}\n"),
        1,
    );
    let config = Config::parse(&text).unwrap();
    config.validate().unwrap();
    let cancel = CancellationToken::new();
    let app = App::build(config, cancel.clone()).await.unwrap();
    let (_, xmpp, _) = app.local_addrs();
    tokio::spawn(app.run(Duration::from_secs(2)));
    let mut peer = xmpp_initiator(&pki, xmpp[0], "xmpp.test", "sip.test").await;
    peer.send(REACTION).await;
    let reaction = timeout(T, requests.recv()).await.unwrap().unwrap();
    peer.send(CORRECTION).await;
    let correction = timeout(T, requests.recv()).await.unwrap().unwrap();
    cancel.cancel();
    (reaction, correction)
}

#[tokio::test]
async fn without_sip_extensions_reactions_are_text() {
    let (reaction, correction) = relay("sipext-none", "").await;
    assert_eq!(
        sip_header(&reaction, "Content-Type"),
        Some("text/plain;charset=UTF-8"),
        "{reaction}"
    );
    assert!(!reaction.contains("react."), "{reaction}");
    assert!(
        reaction.ends_with("reacted 👍 to an earlier message"),
        "{reaction}"
    );
    assert!(!correction.contains("correct."), "{correction}");
    assert!(correction.contains("at nine"), "{correction}");
}

#[tokio::test]
async fn declared_extensions_cross_as_cpim_headers() {
    let (reaction, correction) = relay("sipext-react", "sip_extensions = [\"react\"]").await;
    assert_eq!(
        sip_header(&reaction, "Content-Type"),
        Some("message/cpim"),
        "{reaction}"
    );
    assert!(
        reaction.contains(
            "\r\nNS: react <urn:xmpp:reactions:0>\r\nreact.Id: sip-7\r\nreact.Emoji: 👍\r\n"
        ),
        "{reaction}"
    );
    assert!(
        reaction.ends_with("reacted 👍 to an earlier message"),
        "{reaction}"
    );
    // `correct` was not declared: the readable fallback, no correct.* header.
    assert!(!correction.contains("correct."), "{correction}");
    assert!(correction.contains("at nine"), "{correction}");
}
