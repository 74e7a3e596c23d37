//! State kept per address stays bounded by live use, not by every address that ever sent
//! (issue 12's soak found these two growing with each new sender):
//! - a sender's rate bucket is forgotten once it has refilled to its burst;
//! - presence from an XMPP user to a SIP user nobody on the SIP side watches is not kept.

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
const SENDERS: usize = 30;

fn config_text(pki: &Pki, xmpp_hop: SocketAddr, sip_hop: SocketAddr) -> String {
    pki.gateway_toml(xmpp_hop, sip_hop, "[policy.consent]\nenable = false\n[policy.limits]\ndomain_rate = 0\nsender_rate = 2.0\nsender_burst = 5")
}

#[tokio::test]
async fn per_sender_state_goes_when_it_says_nothing_any_more() {
    let pki = Pki::new("memory-bounds", &["sip.test", "xmpp.test"]);
    let (xmpp_hop, mut stanzas) = xmpp_server(&pki, "xmpp.test").await;
    let (sip_hop, _requests) = sip_proxy(&pki, "sip.test").await;
    let config = Config::parse(&config_text(&pki, xmpp_hop, sip_hop)).unwrap();
    config.validate().unwrap();
    let cancel = CancellationToken::new();
    let app = App::build(config, cancel.clone()).await.unwrap();
    let (sip, xmpp, _) = app.local_addrs();
    let gw = app.gateway();
    let done = tokio::spawn(app.run(Duration::from_secs(5)));
    let mut ua = sip_client(&pki, sip[0], "sip.test", "xmpp.test").await;
    let mut peer = xmpp_initiator(&pki, xmpp[0], "xmpp.test", "sip.test").await;

    // One message from each of many senders: each has a bucket with one token spent.
    for i in 0..SENDERS {
        ua.send(&sip_message(
            &format!("s{i}@sip.test"),
            "juliet@xmpp.test",
            &format!("mb-{i}"),
            "hi",
        ))
        .await;
        let r = timeout(T, read_sip(&mut ua)).await.unwrap();
        assert!(r.starts_with("SIP/2.0 20"), "{r}");
        timeout(T, stanzas.recv()).await.unwrap().unwrap();
    }
    assert_eq!(gw.bucket_counts().1, SENDERS);
    gw.sweep_buckets();
    assert_eq!(gw.bucket_counts().1, SENDERS, "not yet refilled: kept");
    // At 2 tokens/s one token is back after 0.5 s: every bucket is full again.
    tokio::time::sleep(Duration::from_millis(700)).await;
    gw.sweep_buckets();
    assert_eq!(gw.bucket_counts(), (0, 0), "full buckets are forgotten");

    // Directed presence to SIP users nobody watches: not relayed, not kept.
    for i in 0..SENDERS {
        peer.send(&format!(
            "<presence from='x{i}@xmpp.test/r' to='bob@sip.test'><status>here</status></presence>"
        ))
        .await;
    }
    // A ping after them on the same stream: once its answer is out (on parley's own
    // stream), they were all handled.
    peer.send("<iq type='get' id='mb-ping' from='xmpp.test' to='sip.test'><ping xmlns='urn:xmpp:ping'/></iq>")
        .await;
    loop {
        let s = timeout(T, stanzas.recv()).await.unwrap().unwrap();
        if s.contains("mb-ping") {
            break;
        }
    }
    assert_eq!(gw.presence_cached(), 0);

    cancel.cancel();
    assert!(timeout(T, done).await.unwrap().unwrap());
    let _ = std::fs::remove_dir_all(&pki.dir);
}
