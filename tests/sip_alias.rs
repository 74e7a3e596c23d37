//! RFC 5923 connection reuse through a running gateway, against stand-in peers on loopback:
//! parley's TLS requests offer `;alias`; a SIP peer that offers `;alias` on an inbound TLS
//! connection certified for its domain gets parley's requests to that domain over that
//! connection while it lives, and over parley's own connection to the domain's next hop
//! before and after.

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
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;

const T: Duration = Duration::from_secs(10);

struct Gw {
    sip: SocketAddr,
    xmpp: SocketAddr,
    cancel: CancellationToken,
}

impl Drop for Gw {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
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

fn header<'a>(msg: &'a str, name: &str) -> &'a str {
    msg.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
        .map(str::trim)
        .unwrap_or_default()
}

/// A MESSAGE from alice@sip.test to juliet@xmpp.test, its Via offering `;alias` or not.
fn message(call_id: &str, alias: bool) -> String {
    let m = sip_message("alice@sip.test", "juliet@xmpp.test", call_id, "hi");
    if alias {
        m.replacen(";branch=", ";alias;branch=", 1)
    } else {
        m
    }
}

#[tokio::test]
async fn an_inbound_connection_offering_alias_carries_parleys_requests() {
    let pki = Pki::new("sip-alias", &["sip.test", "xmpp.test"]);
    let (xmpp_hop, mut stanzas) = xmpp_server(&pki, "xmpp.test").await;
    let (sip_hop, mut requests) = sip_proxy(&pki, "sip.test").await;
    let gw = start(&pki, xmpp_hop, sip_hop).await;
    let mut xmpp = xmpp_initiator(&pki, gw.xmpp, "xmpp.test", "sip.test").await;
    let to_alice = |id: &str| {
        format!(
            "<message type='chat' from='juliet@xmpp.test/balcony' to='alice@sip.test' id='{id}'><body>{id}</body></message>"
        )
    };

    // A peer connection without alias: parley's requests go to the next hop, offering alias.
    let mut plain = sip_client(&pki, gw.sip, "sip.test", "xmpp.test").await;
    plain.send(&message("al1", false)).await;
    let r = timeout(T, read_sip(&mut plain)).await.unwrap();
    assert!(r.starts_with("SIP/2.0 20"), "{r}");
    timeout(T, stanzas.recv()).await.unwrap().unwrap();
    xmpp.send(&to_alice("one")).await;
    let one = timeout(T, requests.recv()).await.unwrap().unwrap();
    assert!(one.ends_with("\r\n\r\none"), "{one}");
    let via = header(&one, "Via");
    assert!(
        via.starts_with("SIP/2.0/TLS ") && via.ends_with(";alias"),
        "{via}"
    );

    // A peer connection that offers alias: parley's next request comes over it.
    let mut aliased = sip_client(&pki, gw.sip, "sip.test", "xmpp.test").await;
    aliased.send(&message("al2", true)).await;
    let r = timeout(T, read_sip(&mut aliased)).await.unwrap();
    assert!(r.starts_with("SIP/2.0 20"), "{r}");
    timeout(T, stanzas.recv()).await.unwrap().unwrap();
    xmpp.send(&to_alice("two")).await;
    let two = timeout(T, read_sip(&mut aliased)).await.unwrap();
    assert!(
        two.starts_with("MESSAGE sip:alice@sip.test SIP/2.0\r\n"),
        "{two}"
    );
    assert!(two.ends_with("\r\n\r\ntwo"), "{two}");
    aliased.send(&response_to(&two, "200 OK")).await;

    // The aliased connection closes (parley sees it before closing its side): requests go
    // to the next hop again.
    let mut io = aliased.into_inner();
    io.shutdown().await.unwrap();
    let mut rest = Vec::new();
    let _ = timeout(T, io.read_to_end(&mut rest)).await.unwrap();
    xmpp.send(&to_alice("three")).await;
    let three = timeout(T, requests.recv()).await.unwrap().unwrap();
    assert!(three.ends_with("\r\n\r\nthree"), "{three}");
    // Nothing of "two" reached the next hop.
    assert!(requests.try_recv().is_err());
    drop(plain);
}

#[tokio::test]
async fn alias_from_a_peer_not_certified_for_its_domain_is_not_taken() {
    let pki = Pki::new("sip-alias-uncert", &["sip.test", "xmpp.test", "other.test"]);
    let (xmpp_hop, _stanzas) = xmpp_server(&pki, "xmpp.test").await;
    let (sip_hop, mut requests) = sip_proxy(&pki, "sip.test").await;
    let gw = start(&pki, xmpp_hop, sip_hop).await;
    let mut xmpp = xmpp_initiator(&pki, gw.xmpp, "xmpp.test", "sip.test").await;
    // Certified for other.test, claiming sip.test: refused, and not an alias for sip.test.
    let mut liar = sip_client(&pki, gw.sip, "other.test", "xmpp.test").await;
    liar.send(&message("al3", true)).await;
    let r = timeout(T, read_sip(&mut liar)).await.unwrap();
    assert!(r.starts_with("SIP/2.0 403 "), "{r}");
    xmpp.send("<message type='chat' from='juliet@xmpp.test/balcony' to='alice@sip.test' id='x'><body>to the hop</body></message>").await;
    let m = timeout(T, requests.recv()).await.unwrap().unwrap();
    assert!(m.ends_with("to the hop"), "{m}");
}
