//! The spool's crash window against the real binary: `kill -9` while spooled messages are
//! being delivered — written to the XMPP peer's stream but not yet confirmed (no XEP-0199
//! ping answer yet, so their records are still in the store) — then restart and count what
//! the peer got.
//!
//! Every SIP MESSAGE gets a final response. Every accepted message arrives; one that arrives
//! twice carries the same stanza id both times (the peer can drop the copy), so the outcome
//! per message is exactly once by id; nothing refused arrives and nothing bounces. Copies
//! are bounded: only what the peer had not confirmed when parley died is sent again, at most
//! `xmpp.confirm_window` stanzas.

#[allow(dead_code)]
mod common {
    #[path = "spool_daemon.rs"]
    pub mod daemon;
    pub mod peers;
    pub mod pki;
}

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::daemon::Daemon;
use common::peers::*;
use common::pki::Pki;
use rustls_pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::timeout;

const BURST: usize = 1000;
const T: Duration = Duration::from_secs(10);
/// `xmpp.confirm_window`: most stanzas written and not yet confirmed per stream.
const CONFIRM_WINDOW: usize = 100;

fn config_text(pki: &Pki, xmpp_hop: SocketAddr, sip_hop: SocketAddr) -> String {
    let d = pki.dir.display();
    let domains = pki.domains_toml(xmpp_hop, sip_hop);
    format!(
        r#"
state_dir = "{d}/state"
[log]
level = "info,parley::routing::spool=debug"
[tls]
ca_file = "{d}/ca.crt"
[sip]
listen_tls = ["127.0.0.1:0"]
bounce_window_ms = 100
[xmpp]
listen = ["127.0.0.1:0"]
connect_timeout_ms = 5000
delivery_timeout_ms = 1500
ping_timeout_ms = 60000
confirm_window = {CONFIRM_WINDOW}
[spool]
deadline_ms = 600000
retry_initial_ms = 200
retry_max_ms = 500
[policy.consent]
enable = false
[policy.limits]
domain_rate = 0
sender_rate = 0
{domains}
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
    /// Count a stanza; its body.
    fn add(&mut self, stanza: &str) -> Option<String> {
        let b = stanza
            .split("<body>")
            .nth(1)
            .and_then(|r| r.split("</body>").next())?;
        let id = attr(stanza, "id").unwrap_or_default().to_owned();
        self.0.entry(b.to_owned()).or_default().push(id);
        Some(b.to_owned())
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

/// What the XMPP peer saw, in order over all its streams.
#[derive(Debug)]
enum Event {
    /// A stanza parley sent.
    Stanza(String),
    /// The peer answered a ping: everything parley wrote before it is confirmed.
    Pong,
}

/// An XMPP server for xmpp.test on `at` (parley's next hop): STARTTLS, SASL EXTERNAL, then
/// every element read is reported, and pings are answered while `answer` is set. It never
/// stops reading, so what parley writes is seen whether or not pings are answered.
async fn peer(pki: &Pki, at: SocketAddr, answer: Arc<AtomicBool>) -> mpsc::Receiver<Event> {
    const DOMAIN: &str = "xmpp.test";
    let header = |id: &str| {
        format!(
            "<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' from='{DOMAIN}' to='sip.test' version='1.0' id='{id}'>"
        )
    };
    let listener = bind_again(at).await;
    let acceptor = pki.server(DOMAIN);
    // Bounded by what the test sends (a few thousand stanzas and pings at most).
    let (tx, rx) = mpsc::channel(BURST * 8);
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, tx, answer) = (acceptor.clone(), tx.clone(), answer.clone());
            tokio::spawn(async move {
                let mut s = Text::new(tcp);
                s.until(&["<stream:stream"]).await;
                s.until(&[">"]).await;
                s.send(&header("s1")).await;
                s.send("<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls></stream:features>").await;
                s.until(&["<starttls"]).await;
                s.until(&["/>", "</starttls>"]).await;
                s.send("<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
                    .await;
                let Ok(tls) = acceptor.accept(s.into_inner()).await else {
                    return;
                };
                let mut s = Text::new(tls);
                s.until(&["<stream:stream"]).await;
                s.until(&[">"]).await;
                s.send(&header("s2")).await;
                s.send("<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>EXTERNAL</mechanism></mechanisms></stream:features>").await;
                s.until(&["</auth>"]).await;
                s.send("<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>")
                    .await;
                s.until(&["<stream:stream"]).await;
                s.until(&[">"]).await;
                s.send(&header("s3")).await;
                s.send("<stream:features/>").await;
                loop {
                    let element = s.element().await;
                    if element == "</stream:stream>" {
                        return;
                    }
                    if let Some(pong) = ping_answer(&element, DOMAIN) {
                        if answer.load(Ordering::SeqCst) {
                            s.send(&pong).await;
                            if tx.send(Event::Pong).await.is_err() {
                                return;
                            }
                        }
                        continue;
                    }
                    if tx.send(Event::Stanza(element)).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    rx
}

/// Count what the peer saw before the restart: a stanza's body goes to `before`; a ping
/// answer confirms all of `before` so far.
fn take(e: Event, seen: &mut Seen, before: &mut Vec<String>, confirmed_upto: &mut usize) {
    match e {
        Event::Stanza(s) => before.extend(seen.add(&s)),
        Event::Pong => *confirmed_upto = before.len(),
    }
}

/// Sum of the spool records whose removal parley committed, from its log.
fn removals_committed(daemon: &Daemon) -> usize {
    (daemon.log.lock().unwrap().iter())
        .filter(|l| l.contains("spool records committed"))
        .filter_map(|l| l.split("removed=").nth(1))
        .filter_map(|v| v.split_whitespace().next()?.parse::<usize>().ok())
        .sum()
}

/// When parley is killed while the spool drains.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kill {
    /// The peer stops answering pings once a third has arrived; parley is killed once it
    /// has committed the removal of everything confirmed.
    AfterPeerStopsConfirming,
    /// The peer keeps answering pings; parley is killed as soon as a third has arrived.
    WhileConfirming,
}

async fn crash_window(kill: Kill) {
    let name = match kill {
        Kill::AfterPeerStopsConfirming => "crash-window-stop",
        Kill::WhileConfirming => "crash-window-live",
    };
    let pki = Pki::new(name, &["sip.test", "xmpp.test"]);
    let xmpp_hop = port_for_later();
    let (sip_hop, mut bounces) = sip_proxy(&pki, "sip.test").await;
    let file = pki.dir.join("parley.toml");
    std::fs::write(&file, config_text(&pki, xmpp_hop, sip_hop)).unwrap();

    // 1. The peer is down: after the warm-up (refused at the pool's deadline), the burst is
    //    spooled, each message answered 202 once its record is committed.
    let (t0, mut phases) = (Instant::now(), Vec::new());
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
    let unanswered: Vec<usize> = (0..BURST)
        .filter(|n| !answered.contains_key(&call_id(*n)))
        .collect();

    // 2. The peer comes up and the spool drains into it. Once a third has arrived, parley is
    //    killed: at once, or once the peer stopped confirming and parley has committed the
    //    removal of everything confirmed.
    phases.push(("spooled", t0.elapsed()));
    let answer = Arc::new(AtomicBool::new(true));
    let mut events = peer(&pki, xmpp_hop, answer.clone()).await;
    let mut seen = Seen::default();
    // Bodies of the copies read before the restart, in order, and how many of them came
    // before the last ping answer.
    let mut before: Vec<String> = Vec::new();
    let mut confirmed_upto = 0;
    while seen.copies() < accepted.len() / 3 {
        let Ok(Some(e)) = timeout(Duration::from_secs(30), events.recv()).await else {
            let log = daemon.log.lock().unwrap();
            panic!(
                "nothing delivered for 30 s after {} stanzas; parley's log ends: {:#?}",
                seen.copies(),
                &log[log.len().saturating_sub(20)..]
            );
        };
        take(e, &mut seen, &mut before, &mut confirmed_upto);
    }
    if kill == Kill::AfterPeerStopsConfirming {
        answer.store(false, Ordering::SeqCst);
        // Read until parley writes nothing more (what it wrote since the last answer waits
        // for confirmation) and has committed the removal of every confirmed message.
        let (start, mut quiet) = (Instant::now(), Instant::now());
        loop {
            let confirmed = confirmed_upto;
            if quiet.elapsed() > Duration::from_millis(500)
                && removals_committed(&daemon) >= confirmed
            {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "parley committed {} removals for {confirmed} confirmed messages",
                removals_committed(&daemon)
            );
            if let Ok(Some(e)) = timeout(Duration::from_millis(100), events.recv()).await {
                take(e, &mut seen, &mut before, &mut confirmed_upto);
                quiet = Instant::now();
            }
        }
    }
    phases.push(("to kill", t0.elapsed()));
    daemon.kill9();
    // What was already on its way from the dead connection.
    while let Ok(Some(e)) = timeout(Duration::from_millis(300), events.recv()).await {
        take(e, &mut seen, &mut before, &mut confirmed_upto);
    }
    let confirmed: HashSet<String> = before[..confirmed_upto].iter().cloned().collect();
    let unconfirmed_at_kill = before.len() - confirmed_upto;
    let delivered_before_kill = before.len();
    assert!(
        delivered_before_kill < accepted.len(),
        "the kill landed while the spool was draining ({delivered_before_kill} of {})",
        accepted.len()
    );

    // 3. Restart on the same state with the peer up and confirming: what the spool still
    //    holds is sent (again).
    answer.store(true, Ordering::SeqCst);
    let daemon = Daemon::start(&file);
    daemon.wait_for("parley ready", 0).await;
    let mut after: Vec<String> = Vec::new();
    let start = Instant::now();
    while accepted.iter().any(|n| !seen.0.contains_key(&body(*n)))
        && start.elapsed() < Duration::from_secs(60)
    {
        if let Ok(Some(Event::Stanza(s))) = timeout(Duration::from_millis(200), events.recv()).await
        {
            after.extend(seen.add(&s));
        }
    }
    // Anything sent twice would come right behind: give it time to show.
    while let Ok(Some(e)) = timeout(Duration::from_secs(2), events.recv()).await {
        if let Event::Stanza(s) = e {
            after.extend(seen.add(&s));
        }
    }
    phases.push(("redelivered", t0.elapsed()));
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
        .filter(|n| !accepted.contains(n) && seen.0.contains_key(&body(*n)))
        .count();
    let distinct_ids: HashSet<&String> = seen.0.values().flatten().collect();
    let confirmed_again: Vec<&String> = after.iter().filter(|b| confirmed.contains(*b)).collect();
    println!(
        "crash window ({kill:?}): sent={BURST} accepted={} no_answer={} delivered_before_kill={delivered_before_kill} confirmed_at_kill={} unconfirmed_at_kill={unconfirmed_at_kill} copies={} duplicates={duplicates} distinct_ids={} lost={} bounced={bounced} confirmed_resent={}",
        accepted.len(),
        unanswered.len(),
        confirmed.len(),
        seen.copies(),
        distinct_ids.len(),
        lost.len(),
        confirmed_again.len()
    );
    assert!(
        unanswered.is_empty(),
        "every MESSAGE gets a final response; none for {unanswered:?}"
    );
    assert!(accepted.len() > BURST / 2, "most of the burst was spooled");
    assert!(lost.is_empty(), "accepted but never delivered: {lost:?}");
    assert!(
        ids_differ.is_empty(),
        "a copy sent again must carry the id of the first: {ids_differ:?}"
    );
    assert_eq!(
        distinct_ids.len(),
        accepted.len(),
        "exactly one stanza id per delivered message"
    );
    assert_eq!(refused_delivered, 0, "a refused message must not arrive");
    assert!(!seen.0.contains_key("warm"), "the warm-up was refused");
    assert_eq!(bounced, 0, "the deadline is far away: nothing bounced");
    // Bounded duplicates: only what parley had out unconfirmed (or confirmed in the instant
    // before its removal was committed) is sent again — never more than the window.
    assert!(
        duplicates <= CONFIRM_WINDOW,
        "{duplicates} copies sent again; at most xmpp.confirm_window ({CONFIRM_WINDOW})"
    );
    if kill == Kill::AfterPeerStopsConfirming {
        assert!(
            unconfirmed_at_kill <= CONFIRM_WINDOW,
            "{unconfirmed_at_kill} stanzas out unconfirmed; the window is {CONFIRM_WINDOW}"
        );
        assert!(
            confirmed_again.is_empty(),
            "confirmed before the kill and sent again: {confirmed_again:?}"
        );
        assert!(
            duplicates <= unconfirmed_at_kill,
            "{duplicates} copies sent again, {unconfirmed_at_kill} were unconfirmed at the kill"
        );
    }
    eprintln!("[{kill:?}] phases: {:?}", phases);
    daemon.signal("-TERM");
    daemon.wait_for("stopped", 0).await;
    eprintln!("[{kill:?}] stopped at {:?}", t0.elapsed());
    drop(daemon);
    let _ = std::fs::remove_dir_all(&pki.dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_after_the_peer_stopped_confirming_resends_only_the_unconfirmed() {
    crash_window(Kill::AfterPeerStopsConfirming).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_while_the_peer_confirms_resends_at_most_one_window() {
    crash_window(Kill::WhileConfirming).await;
}
