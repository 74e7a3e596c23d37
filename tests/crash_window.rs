//! The spool's crash window against the real binary: `kill -9` while spooled messages are
//! being delivered — written to the XMPP peer's stream but not yet confirmed (no XEP-0199
//! ping answer yet, so their records are still in the store) — then restart and count what
//! the peer got. Every accepted message must arrive; one that arrives twice must carry the
//! same stanza id both times (the peer can drop the copy), so the outcome per message is
//! exactly once by id; nothing refused arrives and nothing bounces.

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
use tokio::time::timeout;

const BURST: usize = 1000;
const T: Duration = Duration::from_secs(10);

fn config_text(pki: &Pki, xmpp_hop: SocketAddr, sip_hop: SocketAddr) -> String {
    let d = pki.dir.display();
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
deadline_ms = 600000
retry_initial_ms = 200
retry_max_ms = 500
[policy.consent]
enable = false
[policy.limits]
domain_rate = 0
sender_rate = 0
[[domain]]
name = "sip.test"
side = "sip"
next_hop = "{sip_hop}"
cert_file = "{d}/sip.test.crt"
key_file = "{d}/sip.test.key"
[[domain]]
name = "xmpp.test"
side = "xmpp"
next_hop = "{xmpp_hop}"
cert_file = "{d}/xmpp.test.crt"
key_file = "{d}/xmpp.test.key"
"#
    )
}

/// Final responses by Call-ID.
type Finals = Arc<Mutex<HashMap<String, u16>>>;

/// A SIP UA (TLS, sip.test's certificate) whose responses fill `finals` (parley answers
/// MESSAGE with Content-Length 0, so heads only).
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
        while let Ok(n @ 1..) = rd.read(&mut chunk).await {
            buf.push_str(&String::from_utf8_lossy(&chunk[..n]));
            while let Some(end) = buf.find("\r\n\r\n") {
                let head: String = buf.drain(..end + 4).collect();
                let code: u16 = head.get(8..11).and_then(|c| c.parse().ok()).unwrap_or(0);
                let call_id = head
                    .lines()
                    .find_map(|l| l.strip_prefix("Call-ID:"))
                    .map(|v| v.trim().to_owned())
                    .unwrap_or_default();
                if code >= 200 {
                    finals.lock().unwrap().insert(call_id, code);
                }
            }
        }
    });
    wr
}

fn call_id(n: usize) -> String {
    format!("window-{n}@host")
}

fn body(n: usize) -> String {
    format!("window {n}")
}

/// Copies of each body the peer got, with the stanza id of each copy.
#[derive(Default)]
struct Seen(HashMap<String, Vec<String>>);

impl Seen {
    fn add(&mut self, stanza: &str) {
        let Some(b) = stanza
            .split("<body>")
            .nth(1)
            .and_then(|r| r.split("</body>").next())
        else {
            return;
        };
        let id = attr(stanza, "id").unwrap_or_default().to_owned();
        self.0.entry(b.to_owned()).or_default().push(id);
    }

    fn copies(&self) -> usize {
        self.0.values().map(Vec::len).sum()
    }
}

async fn wait_until(what: &str, limit: Duration, f: impl Fn() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < limit, "never: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_between_written_and_confirmed_gives_every_message_once_by_id() {
    let pki = Pki::new("crash-window", &["sip.test", "xmpp.test"]);
    let xmpp_hop = {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        l.local_addr().unwrap()
    };
    let (sip_hop, mut bounces) = sip_proxy(&pki, "sip.test").await;
    let file = pki.dir.join("parley.toml");
    std::fs::write(&file, config_text(&pki, xmpp_hop, sip_hop)).unwrap();

    // 1. The peer is down: after the warm-up (refused at the pool's deadline), the burst is
    //    spooled, each message answered 202 once its record is committed.
    let daemon = Daemon::start(&file);
    let sip = daemon.addr("listening: SIP over TLS").await;
    daemon.wait_for("parley ready", 0).await;
    let finals: Finals = Arc::default();
    let mut wr = sip_ua(&pki, sip, finals.clone()).await;
    let warm = sip_message("alice@sip.test", "juliet@xmpp.test", "warm@host", "warm");
    wr.write_all(warm.as_bytes()).await.unwrap();
    wait_until("the warm-up answered", T, || {
        finals.lock().unwrap().contains_key("warm@host")
    })
    .await;
    for n in 0..BURST {
        let m = sip_message("alice@sip.test", "juliet@xmpp.test", &call_id(n), &body(n));
        wr.write_all(m.as_bytes()).await.unwrap();
    }
    // Until all are answered, or no answer came for 10 s (bounded by 120 s in all).
    let (start, mut last, mut progress) = (Instant::now(), 0, Instant::now());
    while start.elapsed() < Duration::from_secs(120) {
        let n = finals.lock().unwrap().len();
        if n > BURST || progress.elapsed() > Duration::from_secs(10) {
            break;
        }
        if n != last {
            (last, progress) = (n, Instant::now());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let answered = finals.lock().unwrap().clone();
    let accepted: Vec<usize> = (0..BURST)
        .filter(|n| {
            answered
                .get(&call_id(*n))
                .is_some_and(|c| (200..300).contains(c))
        })
        .collect();
    // No final response within the bound: the sender does not know; such a message may
    // arrive (once by id) or not, and is reported.
    let unanswered: Vec<usize> = (0..BURST)
        .filter(|n| !answered.contains_key(&call_id(*n)))
        .collect();
    let refused = BURST - accepted.len() - unanswered.len();

    // 2. The peer comes up and the spool drains into it. Once a third has arrived, the
    //    peer stops reading (its queue to the test fills, so it answers no more pings) and
    //    parley is killed: what it wrote since the last confirmation is in the window.
    let (_, mut stanzas) = xmpp_server_at(&pki, "xmpp.test", xmpp_hop).await;
    let mut seen = Seen::default();
    while seen.copies() < accepted.len() / 3 {
        let s = timeout(T, stanzas.recv()).await.unwrap().unwrap();
        seen.add(&s);
    }
    daemon.kill9();
    let before_restart = {
        // What was already read from the dead connection.
        while let Ok(Some(s)) = timeout(Duration::from_millis(300), stanzas.recv()).await {
            seen.add(&s);
        }
        seen.copies()
    };
    assert!(
        before_restart < accepted.len(),
        "the kill landed while the spool was draining ({before_restart} of {})",
        accepted.len()
    );

    // 3. Restart on the same state with the peer up: the unconfirmed rest is sent again.
    let daemon = Daemon::start(&file);
    daemon.wait_for("parley ready", 0).await;
    let start = Instant::now();
    while accepted.iter().any(|n| !seen.0.contains_key(&body(*n)))
        && start.elapsed() < Duration::from_secs(60)
    {
        if let Ok(Some(s)) = timeout(Duration::from_millis(200), stanzas.recv()).await {
            seen.add(&s);
        }
    }
    // Anything sent twice would come right behind: give it time to show.
    while let Ok(Some(s)) = timeout(Duration::from_secs(2), stanzas.recv()).await {
        seen.add(&s);
    }
    let mut bounced = 0;
    while let Ok(r) = bounces.try_recv() {
        bounced += usize::from(r.starts_with("MESSAGE ") && r.contains("juliet@xmpp.test"));
    }

    let lost: Vec<usize> = (accepted.iter().copied())
        .filter(|n| !seen.0.contains_key(&body(*n)))
        .collect();
    let duplicates: usize = seen.0.values().map(|ids| ids.len() - 1).sum();
    let ids_differ: Vec<&String> = (seen.0.iter())
        .filter(|(_, ids)| ids.iter().any(|i| i != &ids[0]))
        .map(|(b, _)| b)
        .collect();
    let refused_delivered = (0..BURST)
        .filter(|n| {
            !accepted.contains(n) && !unanswered.contains(n) && seen.0.contains_key(&body(*n))
        })
        .count();
    let distinct_ids: std::collections::HashSet<&String> = seen.0.values().flatten().collect();
    let unanswered_delivered = (unanswered.iter())
        .filter(|n| seen.0.contains_key(&body(**n)))
        .count();
    println!(
        "crash window: sent={BURST} accepted={} refused={refused} unanswered={unanswered:?} (delivered {unanswered_delivered}) delivered_before_kill={before_restart} delivered_distinct={} copies={} duplicates={duplicates} (same id: {}) distinct_ids={} bounced={bounced} lost={}",
        accepted.len(),
        seen.0.len(),
        seen.copies(),
        ids_differ.is_empty(),
        distinct_ids.len(),
        lost.len()
    );
    assert!(accepted.len() > BURST / 2, "most of the burst was spooled");
    assert!(lost.is_empty(), "accepted but never delivered: {lost:?}");
    assert!(
        ids_differ.is_empty(),
        "a copy sent again must carry the id of the first: {ids_differ:?}"
    );
    assert_eq!(
        distinct_ids.len(),
        accepted.len() + unanswered_delivered,
        "exactly one stanza id per delivered message"
    );
    assert_eq!(refused_delivered, 0, "a refused message must not arrive");
    assert!(!seen.0.contains_key("warm"), "the warm-up was refused");
    assert_eq!(bounced, 0, "the deadline is far away: nothing bounced");
    daemon.signal("-TERM");
    daemon.wait_for("stopped", 0).await;
    drop(daemon);
    let _ = std::fs::remove_dir_all(&pki.dir);
}
