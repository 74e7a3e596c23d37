//! `sip_extensions` of a SIP `[[domain]]`: the CPIM extension headers its peers understand.
//! Without it a reaction crosses as readable text only (text/plain); with `react` it crosses
//! as CPIM with `react.*` headers, while a correction (not declared) keeps its text fallback.
//! `sip_accept_types`: the bodies its peers take at all (`["text/plain"]`: plain text only).
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

/// The requests the SIP proxy receives for `stanzas`, with `domain_line` in the SIP domain's
/// table: `expect` of them, then the proxy must stay quiet.
async fn relay_all(tag: &str, domain_line: &str, stanzas: &[&str], expect: usize) -> Vec<String> {
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
    for s in stanzas {
        peer.send(s).await;
    }
    let mut got = Vec::new();
    for _ in 0..expect {
        got.push(timeout(T, requests.recv()).await.unwrap().unwrap());
    }
    let more = timeout(Duration::from_millis(300), requests.recv()).await;
    assert!(more.is_err(), "unexpected request: {more:?}");
    cancel.cancel();
    got
}

/// The reaction and the correction as the SIP proxy receives them.
async fn relay(tag: &str, domain_line: &str) -> (String, String) {
    let mut got = relay_all(tag, domain_line, &[REACTION, CORRECTION], 2).await;
    let correction = got.pop().unwrap();
    (got.pop().unwrap(), correction)
}

/// A domain whose peers take plain text only: a chat state does not cross, a rich message
/// asking for a receipt crosses as its plain text (no CPIM, no IMDN, no HTML).
#[tokio::test]
async fn a_plain_text_domain_gets_plain_text_only() {
    let composing = "<message type='chat' from='juliet@xmpp.test/balcony' to='bob@sip.test'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>";
    let rich = "<message type='chat' from='juliet@xmpp.test/balcony' to='bob@sip.test' id='r1'><body>very bold</body><request xmlns='urn:xmpp:receipts'/><html xmlns='http://jabber.org/protocol/xhtml-im'><body xmlns='http://www.w3.org/1999/xhtml'><p>very <b>bold</b></p></body></html></message>";
    let line = "sip_accept_types = [\"text/plain\"]";
    let got = relay_all("sipext-plain", line, &[composing, rich], 1).await;
    let m = &got[0];
    assert_eq!(
        sip_header(m, "Content-Type"),
        Some("text/plain;charset=UTF-8"),
        "{m}"
    );
    assert!(m.ends_with("\r\n\r\nvery bold"), "{m}");

    // The same with the default (a SIMPLE peer): both cross, the message as CPIM + HTML.
    let got = relay_all("sipext-simple", "", &[composing, rich], 2).await;
    assert_eq!(
        sip_header(&got[0], "Content-Type"),
        Some("application/im-iscomposing+xml"),
        "{}",
        got[0]
    );
    assert_eq!(
        sip_header(&got[1], "Content-Type"),
        Some("message/cpim"),
        "{}",
        got[1]
    );
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
