//! The bound on contact pairs kept (`[policy] max_contact_pairs`), on the running binary with
//! a bound of 4: each stranger's first message makes two pairs (the recipient's count of the
//! stranger, the stranger's acceptance of the recipient); past the bound the oldest pairs
//! go, counted as `parley_contacts_retired_total{stage="evicted"}`, and a stranger whose
//! count was removed starts afresh.

#![allow(dead_code)]

mod common {
    pub mod daemon;
    pub mod peers;
    pub mod pki;
}

use std::time::Duration;

use common::daemon::Daemon;
use common::peers::*;
use common::pki::Pki;
use tokio::time::timeout;

const T: Duration = Duration::from_secs(10);

type Ua = Text<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>;

async fn send(ua: &mut Ua, from: &str, n: u32) -> u16 {
    ua.send(&sip_message(
        from,
        "juliet@xmpp.test",
        &format!("bound-{n}@sip.test"),
        &format!("m{n}"),
    ))
    .await;
    let r = timeout(T, read_sip(ua)).await.unwrap();
    r[8..11].parse().unwrap()
}

const EVICTED: (&str, &str) = ("stage", "evicted");

#[tokio::test]
async fn past_the_bound_the_oldest_pairs_go_and_are_counted() {
    let pki = Pki::new("contact-bound", &["sip.test", "xmpp.test"]);
    let (xmpp_hop, mut stanzas) = xmpp_server(&pki, "xmpp.test").await;
    let (sip_hop, _requests) = sip_proxy(&pki, "sip.test").await;
    let dir = pki.dir.display();
    let config = pki.dir.join("parley.toml");
    std::fs::write(
        &config,
        format!(
            r#"
state_dir = "{dir}/state"
[log]
level = "info"
[tls]
ca_file = "{dir}/ca.crt"
[sip]
listen_tls = ["127.0.0.1:0"]
bounce_window_ms = 100
[xmpp]
listen = ["127.0.0.1:0"]
connect_timeout_ms = 2000
delivery_timeout_ms = 3000
[metrics]
listen = "127.0.0.1:0"
[policy]
max_contact_pairs = 4
[policy.consent]
max_unaccepted = 1
[policy.limits]
domain_rate = 0
sender_rate = 0
[[domain]]
name = "sip.test"
side = "sip"
next_hop = "{sip_hop}"
cert_file = "{dir}/sip.test.crt"
key_file = "{dir}/sip.test.key"
[[domain]]
name = "xmpp.test"
side = "xmpp"
next_hop = "{xmpp_hop}"
cert_file = "{dir}/xmpp.test.crt"
key_file = "{dir}/xmpp.test.key"
"#
        ),
    )
    .unwrap();
    let d = Daemon::start(&config).await;
    let mut ua = sip_client(&pki, d.sip, "sip.test", "xmpp.test").await;
    let name = "parley_contacts_retired_total";

    // s1 has used its one message as a stranger.
    assert_eq!(send(&mut ua, "s1@sip.test", 1).await, 202);
    assert_eq!(send(&mut ua, "s1@sip.test", 2).await, 403);
    assert_eq!(send(&mut ua, "s2@sip.test", 3).await, 202);
    // Four pairs: nothing removed yet.
    assert_eq!(d.sample(name, &[EVICTED]).await, 0.0);
    // s3's two pairs push out the two oldest, s1's.
    assert_eq!(send(&mut ua, "s3@sip.test", 4).await, 202);
    assert_eq!(d.sample(name, &[EVICTED]).await, 2.0);
    // s1's count went with them: it is a stranger with a fresh allowance (and s2's pairs,
    // now the oldest, make room for it).
    assert_eq!(send(&mut ua, "s1@sip.test", 5).await, 202);
    assert_eq!(d.sample(name, &[EVICTED]).await, 4.0);
    for _ in 0..4 {
        timeout(T, stanzas.recv()).await.unwrap().unwrap();
    }
    // s3 still counts: its second message is refused.
    assert_eq!(send(&mut ua, "s3@sip.test", 6).await, 403);
    drop(d);
    let _ = std::fs::remove_dir_all(&pki.dir);
}
