//! At-least-once delivery on outbound s2s streams (issue 6): a stanza written to a stream that
//! dies before the peer confirmed it (the answer to an XEP-0199 ping written after it) is sent
//! again on the next stream, against a stand-in XMPP server whose first connection reads the
//! stanza and then dies without answering: killed (the socket closes) or half-open (silent).

#[allow(dead_code)]
mod common {
    pub mod daemon;
    pub mod peers;
    pub mod pki;
}

use std::net::SocketAddr;
use std::time::Duration;

use common::daemon::Daemon;
use common::peers::*;
use common::pki::Pki;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::time::timeout;

/// What the stand-in server saw.
#[derive(Debug, PartialEq)]
enum Seen {
    /// A message body, on the n-th connection (from 1).
    Message(usize, String),
    /// A ping on the n-th connection.
    Ping(usize),
}

/// How the first connection dies once it has read a message and the ping after it.
#[derive(Debug, Clone, Copy)]
enum Death {
    /// The socket closes (a SIGKILLed server).
    Killed,
    /// It keeps the socket and never reads or answers again (a half-open path).
    Silent,
    /// It does not die: every ping is answered.
    Never,
}

/// An XMPP server for `domain` whose first connection authenticates parley, reads stanzas
/// and dies as `death` at the first ping, unanswered. Later connections answer pings.
async fn dying_peer(
    pki: &Pki,
    domain: &'static str,
    death: Death,
) -> (SocketAddr, mpsc::Receiver<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = pki.server(domain);
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(async move {
        for n in 1..=20 {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let (acceptor, tx) = (acceptor.clone(), tx.clone());
            tokio::spawn(async move {
                let head = |id: &str| {
                    format!(
                        "<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' from='{domain}' to='sip.test' version='1.0' id='{id}'>"
                    )
                };
                let mut s = Text::new(tcp);
                s.until(&["<stream:stream"]).await;
                s.until(&[">"]).await;
                s.send(&head("r1")).await;
                s.send("<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls></stream:features>").await;
                s.until(&["<starttls"]).await;
                s.until(&["/>", "</starttls>"]).await;
                s.send("<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
                    .await;
                let mut s = Text::new(acceptor.accept(s.into_inner()).await.unwrap());
                s.until(&["<stream:stream"]).await;
                s.until(&[">"]).await;
                s.send(&head("r2")).await;
                s.send("<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>EXTERNAL</mechanism></mechanisms></stream:features>").await;
                s.until(&["</auth>"]).await;
                s.send("<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>")
                    .await;
                s.until(&["<stream:stream"]).await;
                s.until(&[">"]).await;
                s.send(&head("r3")).await;
                s.send("<stream:features/>").await;
                loop {
                    let element = s.element().await;
                    if element == "</stream:stream>" {
                        return;
                    }
                    if let Some(pong) = ping_answer(&element, domain) {
                        let _ = tx.send(Seen::Ping(n)).await;
                        if n > 1 || matches!(death, Death::Never) {
                            s.send(&pong).await;
                            continue;
                        }
                        match death {
                            Death::Never => unreachable!(),
                            Death::Killed => drop(s),
                            Death::Silent => {
                                tokio::time::sleep(Duration::from_secs(30)).await;
                                drop(s);
                            }
                        }
                        return;
                    }
                    if let Some(body) = element
                        .split_once("<body>")
                        .and_then(|(_, rest)| rest.split_once("</body>"))
                    {
                        let _ = tx.send(Seen::Message(n, body.0.to_owned())).await;
                    }
                }
            });
        }
    });
    (addr, rx)
}

/// parley with sip.test and xmpp.test (reached at `hop`), pings answered within 700 ms.
async fn daemon(pki: &Pki, hop: SocketAddr, extra: &str) -> Daemon {
    let d = pki.dir.display();
    let config = format!(
        r#"
state_dir = "{d}/state"
[log]
level = "debug"
[tls]
ca_file = "{d}/ca.crt"
[metrics]
listen = "127.0.0.1:0"
[sip]
listen_tls = ["127.0.0.1:0"]
[xmpp]
listen = ["127.0.0.1:0"]
connect_timeout_ms = 2000
delivery_timeout_ms = 5000
ping_timeout_ms = 700
{extra}
[policy.consent]
enable = false
[[domain]]
name = "sip.test"
side = "sip"
next_hop = "127.0.0.1:9"
cert_file = "{d}/sip.test.crt"
key_file = "{d}/sip.test.key"
[[domain]]
name = "xmpp.test"
side = "xmpp"
next_hop = "{hop}"
cert_file = "{d}/xmpp.test.crt"
key_file = "{d}/xmpp.test.key"
"#
    );
    let file = pki.dir.join("parley.toml");
    std::fs::write(&file, config).unwrap();
    Daemon::start(&file).await
}

/// Send one SIP MESSAGE through a peer that dies after reading it; return what the peer saw
/// (until the SIP answer came) and the SIP answer.
async fn through_a_dying_peer(tag: &str, death: Death, extra: &str) -> (Vec<Seen>, String, f64) {
    let pki = Pki::new(tag, &["sip.test", "xmpp.test"]);
    let (hop, mut seen) = dying_peer(&pki, "xmpp.test", death).await;
    let parley = daemon(&pki, hop, extra).await;
    let mut ua = sip_client(&pki, parley.sip, "sip.test", "xmpp.test").await;
    ua.send(&sip_message(
        "alice@sip.test",
        "juliet@xmpp.test",
        "r1@host",
        "only once?",
    ))
    .await;
    let answer = timeout(T, read_sip(&mut ua)).await.expect("a SIP answer");
    // What the server saw by then, and shortly after (a late re-send would show here).
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut log = Vec::new();
    while let Ok(s) = seen.try_recv() {
        log.push(s);
    }
    let resent = parley
        .sample("parley_federation_resent_total", &[("peer", "xmpp.test")])
        .await;
    (log, answer, resent)
}

#[tokio::test]
async fn a_stanza_written_to_a_peer_killed_before_confirming_it_arrives_on_the_next_stream() {
    let (seen, answer, resent) = through_a_dying_peer("resend-killed", Death::Killed, "").await;
    assert_eq!(
        seen,
        [
            Seen::Message(1, "only once?".into()),
            Seen::Ping(1),
            Seen::Message(2, "only once?".into()),
            Seen::Ping(2),
        ],
        "read on the first stream, sent again on the second, confirmed there"
    );
    assert!(answer.starts_with("SIP/2.0 202 "), "{answer}");
    assert!(answer.contains("Call-ID: r1@host"), "{answer}");
    assert_eq!(resent, 1.0);
}

#[tokio::test]
async fn a_stanza_written_to_a_half_open_stream_arrives_on_the_next_stream() {
    let (seen, answer, resent) = through_a_dying_peer("resend-silent", Death::Silent, "").await;
    assert_eq!(
        seen,
        [
            Seen::Message(1, "only once?".into()),
            Seen::Ping(1),
            Seen::Message(2, "only once?".into()),
            Seen::Ping(2),
        ],
        "read on the first stream, sent again on the second after the ping timed out"
    );
    assert!(answer.starts_with("SIP/2.0 202 "), "{answer}");
    assert_eq!(resent, 1.0);
}

/// With confirmation off, a written stanza counts as delivered: the SIP sender hears 202 at
/// once and nothing is sent again when the stream dies (what the option trades away).
#[tokio::test]
async fn without_confirmation_a_written_stanza_is_not_sent_again() {
    let (seen, answer, resent) = through_a_dying_peer(
        "resend-off",
        Death::Killed,
        "confirm_delivery = false\nping_interval_ms = 200",
    )
    .await;
    assert!(answer.starts_with("SIP/2.0 202 "), "{answer}");
    assert_eq!(seen[0], Seen::Message(1, "only once?".into()));
    assert!(
        !seen.contains(&Seen::Message(2, "only once?".into())),
        "{seen:?}"
    );
    assert_eq!(resent, 0.0);
}

/// Many stanzas in flight through a window of 4: every one arrives exactly once (no stream
/// died, so nothing is sent twice), every sender hears 202, and never more than 4 stanzas
/// go out between two pings (each ping confirms what came before it). (SIP requests are
/// handled concurrently, so their order on the stream is not the order they were sent in.)
#[tokio::test]
async fn a_small_confirmation_window_bounds_what_is_unconfirmed_and_delivers_everything() {
    let pki = Pki::new("resend-window", &["sip.test", "xmpp.test"]);
    let (hop, mut seen) = dying_peer(&pki, "xmpp.test", Death::Never).await;
    let parley = daemon(&pki, hop, "confirm_window = 4").await;
    let mut ua = sip_client(&pki, parley.sip, "sip.test", "xmpp.test").await;
    let n = 30;
    for i in 0..n {
        ua.send(&sip_message(
            "alice@sip.test",
            "juliet@xmpp.test",
            &format!("w{i}@host"),
            &format!("m{i}"),
        ))
        .await;
    }
    let mut ok = 0;
    for _ in 0..n {
        let r = timeout(T, read_sip(&mut ua)).await.unwrap();
        assert!(r.starts_with("SIP/2.0 202 "), "{r}");
        ok += 1;
    }
    let (mut bodies, mut run, mut longest) = (Vec::new(), 0, 0);
    while bodies.len() < n {
        match timeout(T, seen.recv()).await.unwrap().unwrap() {
            Seen::Message(1, body) => {
                bodies.push(body);
                run += 1;
                longest = longest.max(run);
            }
            Seen::Ping(1) => run = 0,
            other => panic!("one stream only: {other:?}"),
        }
    }
    assert!(longest <= 4, "{longest} stanzas between two pings");
    bodies.sort_unstable();
    let mut expected: Vec<String> = (0..n).map(|i| format!("m{i}")).collect();
    expected.sort_unstable();
    assert_eq!(bodies, expected);
    assert_eq!(ok, n);
}
