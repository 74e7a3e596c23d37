//! The durable spool against the real binary: `kill -9` during a burst of SIP MESSAGEs to an
//! XMPP peer that is down, restart, bring the peer up, and count what became of every message.

#[allow(dead_code)]
mod common {
    #[path = "spool_daemon.rs"]
    pub mod daemon;
    pub mod peers;
    pub mod pki;
}

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::daemon::Daemon;
use common::peers::*;
use common::pki::Pki;
use rustls_pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const BURST: usize = 1000;

fn config_text(pki: &Pki, xmpp_hop: SocketAddr, sip_hop: SocketAddr, deadline_ms: u64) -> String {
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
bounce_window_ms = 100
[xmpp]
listen = ["127.0.0.1:0"]
connect_timeout_ms = 1000
delivery_timeout_ms = 1500
[spool]
deadline_ms = {deadline_ms}
retry_initial_ms = 200
retry_max_ms = 1000
[policy.consent]
enable = false
[policy.limits]
domain_rate = 0
sender_rate = 0
{domains}
"#
    )
}

/// Final responses by Call-ID, read from the SIP connection until it closes.
type Finals = Arc<Mutex<HashMap<String, u16>>>;

/// Parse responses (no bodies: parley answers MESSAGE with Content-Length 0) into `finals`.
fn record_responses(buf: &mut String, finals: &Finals) {
    while let Some(end) = buf.find("\r\n\r\n") {
        let head: String = buf.drain(..end + 4).collect();
        let code: u16 = head.get(8..11).and_then(|c| c.parse().ok()).unwrap_or(0);
        let call_id = head
            .lines()
            .find_map(|l| l.strip_prefix("Call-ID:").or_else(|| l.strip_prefix("i:")))
            .map(|v| v.trim().to_owned())
            .unwrap_or_default();
        if code >= 200 {
            finals.lock().unwrap().insert(call_id, code);
        }
    }
}

/// Connect a SIP UA (TLS, sip.test's certificate) to parley; returns its writer and a task
/// filling `finals` until the connection ends.
async fn sip_ua(
    pki: &Pki,
    parley: SocketAddr,
    finals: Finals,
) -> tokio::io::WriteHalf<tokio_rustls::client::TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(parley).await.unwrap();
    let tls = pki
        .client("sip.test")
        .connect(ServerName::try_from("xmpp.test").unwrap(), tcp)
        .await
        .unwrap();
    let (mut rd, wr) = tokio::io::split(tls);
    tokio::spawn(async move {
        let mut buf = String::new();
        let mut chunk = vec![0u8; 16 * 1024];
        loop {
            match rd.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    buf.push_str(&String::from_utf8_lossy(&chunk[..n]));
                    record_responses(&mut buf, &finals);
                }
            }
        }
    });
    wr
}

/// Collect message bodies the XMPP stand-in receives, counting each.
fn count_bodies(mut rx: tokio::sync::mpsc::Receiver<String>) -> Arc<Mutex<HashMap<String, u32>>> {
    let seen = Arc::new(Mutex::new(HashMap::new()));
    let sink = seen.clone();
    tokio::spawn(async move {
        while let Some(s) = rx.recv().await {
            if let Some(b) = s
                .split("<body>")
                .nth(1)
                .and_then(|r| r.split("</body>").next())
            {
                *sink.lock().unwrap().entry(b.to_owned()).or_insert(0) += 1;
            }
        }
    });
    seen
}

/// Bounce notices the SIP stand-in receives, by the recipient they name.
fn count_bounces(mut rx: tokio::sync::mpsc::Receiver<String>) -> Arc<Mutex<Vec<String>>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    tokio::spawn(async move {
        while let Some(r) = rx.recv().await {
            sink.lock().unwrap().push(r);
        }
    });
    seen
}

fn call_id(n: usize) -> String {
    format!("crash-{n}@host")
}

fn body(n: usize) -> String {
    format!("burst {n}")
}

/// Send the warm-up message and wait for its answer: the peer is down, so it is refused at
/// the pool's delivery deadline, and the pool now knows the peer is down.
async fn warm_up(wr: &mut (impl AsyncWriteExt + Unpin), finals: &Finals) {
    let warm = sip_message("alice@sip.test", "juliet@xmpp.test", "warm@host", "warm");
    wr.write_all(warm.as_bytes()).await.unwrap();
    let start = Instant::now();
    while !finals.lock().unwrap().contains_key("warm@host") {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "no answer to the warm-up"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let code = finals.lock().unwrap()["warm@host"];
    assert!(
        code >= 300,
        "the peer is down: the first message cannot be 2xx ({code})"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_a_burst_loses_no_accepted_message() {
    let pki = Pki::new("crash-burst", &["sip.test", "xmpp.test"]);
    let xmpp_hop = port_for_later();
    let (sip_hop, bounces) = sip_proxy(&pki, "sip.test").await;
    let bounces = count_bounces(bounces);
    let file = pki.dir.join("parley.toml");
    std::fs::write(&file, config_text(&pki, xmpp_hop, sip_hop, 600_000)).unwrap();

    let daemon = Daemon::start(&file);
    let sip = daemon.addr("listening: SIP over TLS").await;
    daemon.wait_for("parley ready", 0).await;
    let finals: Finals = Arc::default();
    let mut wr = sip_ua(&pki, sip, finals.clone()).await;
    warm_up(&mut wr, &finals).await;

    // The burst; parley is killed once a third of it has been answered.
    let mut sent = 0;
    let mut killed_after = None;
    let mut daemon = Some(daemon);
    for n in 0..BURST {
        let m = sip_message("alice@sip.test", "juliet@xmpp.test", &call_id(n), &body(n));
        if wr.write_all(m.as_bytes()).await.is_err() {
            break;
        }
        sent += 1;
        if killed_after.is_none() && finals.lock().unwrap().len() > BURST / 3 {
            daemon.take().unwrap().kill9();
            killed_after = Some(sent);
        }
        if n % 50 == 0 {
            tokio::task::yield_now().await;
        }
    }
    if let Some(d) = daemon.take() {
        // Parley answered slower than the burst was written: kill it while it works.
        let start = Instant::now();
        while finals.lock().unwrap().len() <= BURST / 3 && start.elapsed() < Duration::from_secs(20)
        {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        d.kill9();
        killed_after = Some(sent);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let answered: HashMap<String, u16> = finals.lock().unwrap().clone();

    // Restart on the same state, then bring the XMPP peer up on its address.
    let daemon = Daemon::start(&file);
    daemon.wait_for("parley ready", 0).await;
    let (_, stanzas) = xmpp_server_at(&pki, "xmpp.test", xmpp_hop).await;
    let delivered = count_bodies(stanzas);

    let accepted: Vec<usize> = (0..BURST)
        .filter(|n| {
            answered
                .get(&call_id(*n))
                .is_some_and(|c| (200..300).contains(c))
        })
        .collect();
    let settled = |delivered: &HashMap<String, u32>| {
        accepted.iter().all(|n| delivered.contains_key(&body(*n)))
    };
    let start = Instant::now();
    while !settled(&delivered.lock().unwrap()) && start.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Anything sent twice would arrive right behind: give it time to show.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let delivered = delivered.lock().unwrap().clone();
    let bounced = bounces.lock().unwrap().len();

    let count_delivered = (0..BURST)
        .filter(|n| delivered.contains_key(&body(*n)))
        .count();
    let duplicates: u32 = delivered.values().map(|c| c - 1).sum();
    let lost: Vec<usize> = (accepted.iter().copied())
        .filter(|n| !delivered.contains_key(&body(*n)))
        .collect();
    let refused: Vec<usize> = (0..BURST)
        .filter(|n| answered.get(&call_id(*n)).is_some_and(|c| *c >= 300))
        .collect();
    let refused_but_delivered = (refused.iter())
        .filter(|n| delivered.contains_key(&body(**n)))
        .count();
    let unanswered = sent - accepted.len() - refused.len();
    let unanswered_delivered = (0..sent)
        .filter(|n| !answered.contains_key(&call_id(*n)) && delivered.contains_key(&body(*n)))
        .count();
    println!(
        "crash test: sent={sent} killed_after_sending={} 2xx={} refused={} unanswered={unanswered} delivered={count_delivered} (of which unanswered={unanswered_delivered}) bounced={bounced} duplicates={duplicates} lost={}",
        killed_after.unwrap_or(0),
        accepted.len(),
        refused.len(),
        lost.len(),
    );
    assert!(
        !accepted.is_empty(),
        "some messages were accepted before the kill"
    );
    assert!(
        unanswered > 0 || sent < BURST,
        "the kill happened during the burst"
    );
    assert!(
        lost.is_empty(),
        "accepted but neither delivered nor bounced: {lost:?}"
    );
    assert_eq!(
        duplicates, 0,
        "the peer was down at the crash: nothing was written twice"
    );
    assert_eq!(
        refused_but_delivered, 0,
        "a refused message must not be delivered"
    );
    assert!(
        !delivered.contains_key("warm"),
        "the warm-up was refused, not kept"
    );
    assert_eq!(bounced, 0, "the deadline is far away: nothing bounced");
    daemon.signal("-TERM");
    daemon.wait_for("stopped", 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_whose_deadline_passed_while_parley_was_down_are_bounced_at_restart() {
    let pki = Pki::new("crash-deadline", &["sip.test", "xmpp.test"]);
    let xmpp_hop = port_for_later();
    let (sip_hop, bounces) = sip_proxy(&pki, "sip.test").await;
    let bounces = count_bounces(bounces);
    let file = pki.dir.join("parley.toml");
    std::fs::write(&file, config_text(&pki, xmpp_hop, sip_hop, 3_000)).unwrap();

    let daemon = Daemon::start(&file);
    let sip = daemon.addr("listening: SIP over TLS").await;
    daemon.wait_for("parley ready", 0).await;
    let finals: Finals = Arc::default();
    let mut wr = sip_ua(&pki, sip, finals.clone()).await;
    warm_up(&mut wr, &finals).await;
    const N: usize = 20;
    for n in 0..N {
        let m = sip_message("alice@sip.test", "juliet@xmpp.test", &call_id(n), &body(n));
        wr.write_all(m.as_bytes()).await.unwrap();
    }
    let start = Instant::now();
    while finals.lock().unwrap().len() < N + 1 && start.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let accepted = (0..N)
        .filter(|n| finals.lock().unwrap().get(&call_id(*n)) == Some(&202))
        .count();
    assert_eq!(accepted, N, "every message spooled and answered 202");
    daemon.kill9();
    // Down for longer than the 3 s deadline.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let daemon = Daemon::start(&file);
    daemon.wait_for("spooled messages reloaded", 0).await;
    let start = Instant::now();
    while bounces.lock().unwrap().len() < N && start.elapsed() < Duration::from_secs(20) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let notices = bounces.lock().unwrap().clone();
    println!(
        "deadline test: accepted={accepted} bounced={}",
        notices.len()
    );
    assert_eq!(notices.len(), N, "one notice per accepted message");
    for r in &notices {
        assert!(r.starts_with("MESSAGE sip:alice@sip.test"), "{r}");
        assert!(r.contains("juliet@xmpp.test"), "from the recipient: {r}");
        assert!(r.contains("could not be delivered"), "{r}");
    }
    // The peer coming back now gets none of them.
    let (_, stanzas) = xmpp_server_at(&pki, "xmpp.test", xmpp_hop).await;
    let delivered = count_bodies(stanzas);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        delivered.lock().unwrap().is_empty(),
        "bounced messages are not delivered"
    );
    daemon.signal("-TERM");
    daemon.wait_for("stopped", 0).await;
}

/// A SIP proxy for sip.test on a given address, answering every request 200; requests go on
/// the channel.
async fn sip_proxy_at(pki: &Pki, at: SocketAddr) -> tokio::sync::mpsc::Receiver<String> {
    let listener = bind_again(at).await;
    let acceptor = pki.server("sip.test");
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let (acceptor, tx) = (acceptor.clone(), tx.clone());
            tokio::spawn(async move {
                let mut s = Text::new(acceptor.accept(tcp).await.unwrap());
                loop {
                    let req = read_sip(&mut s).await;
                    s.send(&response_to(&req, "200 OK")).await;
                    if tx.send(req).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    rx
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xmpp_messages_spooled_for_a_down_sip_peer_survive_kill_9() {
    const N: usize = 200;
    let pki = Pki::new("crash-reverse", &["sip.test", "xmpp.test"]);
    let sip_hop = port_for_later();
    let (xmpp_hop, errors) = xmpp_server(&pki, "xmpp.test").await;
    let errors = count_bounces(errors);
    let file = pki.dir.join("parley.toml");
    std::fs::write(&file, config_text(&pki, xmpp_hop, sip_hop, 600_000)).unwrap();

    let daemon = Daemon::start(&file);
    let xmpp = daemon
        .addr("listening: XMPP server-to-server (STARTTLS)")
        .await;
    daemon.wait_for("parley ready", 0).await;
    let mut peer = xmpp_initiator(&pki, xmpp, "xmpp.test", "sip.test").await;
    for n in 0..N {
        peer.send(&format!(
            "<message from='juliet@xmpp.test/b' to='bob@sip.test' type='chat' id='r{n}'><body>rev {n}</body></message>"
        ))
        .await;
    }
    // XMPP has no acknowledgement: a message is safe once parley committed it, shortly after
    // it was read. Give the spool that moment, then crash.
    tokio::time::sleep(Duration::from_secs(2)).await;
    daemon.kill9();

    let daemon = Daemon::start(&file);
    daemon.wait_for("spooled messages reloaded", 0).await;
    let requests = sip_proxy_at(&pki, sip_hop).await;
    let mut delivered: HashMap<String, u32> = HashMap::new();
    let mut requests = requests;
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(30) {
        match tokio::time::timeout(Duration::from_secs(2), requests.recv()).await {
            Ok(Some(r)) => {
                let body = r.split("\r\n\r\n").nth(1).unwrap_or_default().to_owned();
                *delivered.entry(body).or_insert(0) += 1;
            }
            // Quiet for 2 s after everything arrived: done.
            _ if delivered.len() >= N => break,
            Ok(None) => break,
            Err(_) => {}
        }
    }
    let duplicates: u32 = delivered.values().map(|c| c - 1).sum();
    let missing: Vec<usize> = (0..N)
        .filter(|n| !delivered.contains_key(&format!("rev {n}")))
        .collect();
    let errors = errors.lock().unwrap().len();
    println!(
        "reverse crash test: sent={N} delivered={} duplicates={duplicates} errors_to_sender={errors} missing={}",
        delivered.len(),
        missing.len()
    );
    assert!(missing.is_empty(), "not delivered: {missing:?}");
    assert_eq!(duplicates, 0);
    assert_eq!(errors, 0, "nothing was refused");
    daemon.signal("-TERM");
    daemon.wait_for("stopped", 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parley_subscribes_again_after_kill_9_for_its_xmpp_watchers() {
    let pki = Pki::new("crash-subs", &["sip.test", "xmpp.test"]);
    let sip_hop = port_for_later();
    let (xmpp_hop, _stanzas) = xmpp_server(&pki, "xmpp.test").await;
    let file = pki.dir.join("parley.toml");
    std::fs::write(&file, config_text(&pki, xmpp_hop, sip_hop, 600_000)).unwrap();
    let mut requests = sip_proxy_at(&pki, sip_hop).await;
    let subscribe_for = |r: &str| {
        r.starts_with("SUBSCRIBE sip:bob@sip.test")
            && r.contains("Event: presence")
            && r.contains("juliet@xmpp.test")
    };

    let daemon = Daemon::start(&file);
    let xmpp = daemon
        .addr("listening: XMPP server-to-server (STARTTLS)")
        .await;
    daemon.wait_for("parley ready", 0).await;
    let mut peer = xmpp_initiator(&pki, xmpp, "xmpp.test", "sip.test").await;
    peer.send("<presence type='subscribe' from='juliet@xmpp.test' to='bob@sip.test'/>")
        .await;
    let first = tokio::time::timeout(T, requests.recv())
        .await
        .unwrap()
        .unwrap();
    assert!(subscribe_for(&first), "{first}");
    // The record is written off the hot path: give it a moment before the crash.
    tokio::time::sleep(Duration::from_millis(500)).await;
    daemon.kill9();

    // No XMPP traffic after the restart: parley subscribes again on its own.
    let daemon = Daemon::start(&file);
    daemon.wait_for("SIP subscriptions restored", 0).await;
    let again = tokio::time::timeout(T, requests.recv())
        .await
        .unwrap()
        .unwrap();
    assert!(subscribe_for(&again), "{again}");
    let call_id = |r: &str| {
        r.lines()
            .find_map(|l| l.strip_prefix("Call-ID: "))
            .map(str::to_owned)
    };
    assert_ne!(call_id(&first), call_id(&again), "a new dialog");
    // Let the 200 establish the dialog (an unsubscribe before that ends it without a request).
    tokio::time::sleep(Duration::from_millis(500)).await;

    // After an unsubscribe and another restart, nothing is renewed.
    let mut peer = xmpp_initiator(
        &pki,
        daemon
            .addr("listening: XMPP server-to-server (STARTTLS)")
            .await,
        "xmpp.test",
        "sip.test",
    )
    .await;
    peer.send("<presence type='unsubscribe' from='juliet@xmpp.test' to='bob@sip.test'/>")
        .await;
    let end = match tokio::time::timeout(T, requests.recv()).await {
        Ok(Some(r)) => r,
        other => panic!(
            "no unsubscribe ({other:?}): {:#?}",
            daemon.log.lock().unwrap()
        ),
    };
    assert!(end.contains("Expires: 0"), "{end}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    daemon.kill9();
    let daemon = Daemon::start(&file);
    daemon.wait_for("parley ready", 0).await;
    let quiet = tokio::time::timeout(Duration::from_secs(2), requests.recv()).await;
    assert!(quiet.is_err(), "renewed after unsubscribe: {quiet:?}");
    daemon.signal("-TERM");
    daemon.wait_for("stopped", 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_spool_refuses_with_503_and_keeps_what_it_accepted() {
    let pki = Pki::new("crash-full", &["sip.test", "xmpp.test"]);
    let xmpp_hop = port_for_later();
    let (sip_hop, _bounces) = sip_proxy(&pki, "sip.test").await;
    let file = pki.dir.join("parley.toml");
    let text = config_text(&pki, xmpp_hop, sip_hop, 600_000)
        .replace("[spool]\n", "[spool]\nmax_messages = 5\n");
    std::fs::write(&file, text).unwrap();
    let daemon = Daemon::start(&file);
    let sip = daemon.addr("listening: SIP over TLS").await;
    daemon.wait_for("parley ready", 0).await;
    let finals: Finals = Arc::default();
    let mut wr = sip_ua(&pki, sip, finals.clone()).await;
    warm_up(&mut wr, &finals).await;
    for n in 0..10 {
        let m = sip_message("alice@sip.test", "juliet@xmpp.test", &call_id(n), &body(n));
        wr.write_all(m.as_bytes()).await.unwrap();
    }
    let start = Instant::now();
    while finals.lock().unwrap().len() < 11 && start.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let answered = finals.lock().unwrap().clone();
    let codes: Vec<u16> = (0..10).map(|n| answered[&call_id(n)]).collect();
    assert_eq!(codes.iter().filter(|c| **c == 202).count(), 5, "{codes:?}");
    assert_eq!(codes.iter().filter(|c| **c == 503).count(), 5, "{codes:?}");
    let (_, stanzas) = xmpp_server_at(&pki, "xmpp.test", xmpp_hop).await;
    let delivered = count_bodies(stanzas);
    let start = Instant::now();
    while delivered.lock().unwrap().len() < 5 && start.elapsed() < Duration::from_secs(20) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let delivered = delivered.lock().unwrap().clone();
    for (n, code) in codes.iter().enumerate() {
        let got = delivered.get(&body(n)).copied().unwrap_or(0);
        assert_eq!(got, u32::from(*code == 202), "message {n} answered {code}");
    }
    daemon.signal("-TERM");
    daemon.wait_for("stopped", 0).await;
}
