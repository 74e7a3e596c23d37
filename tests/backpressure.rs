//! Backpressure through the real daemon, in both directions.
//!
//! * A SIP peer that stops reading for a while fills its outbound queue in parley; the
//!   inbound s2s stream relaying to it then reads no further until the queue has room, so the
//!   XMPP server writing into it is slowed down by TCP. Nothing is refused, nothing goes to
//!   the durable spool (which is for peers that cannot be reached, and costs a store write
//!   per message), and every message arrives, in order.
//! * An XMPP peer that stops reading fills its outbound queue; SIP MESSAGEs towards it then
//!   wait for room instead of being answered 503 at once: every one is delivered, in order,
//!   and answered 2xx.
//! * A SIP peer that answers each request before it reads the next, with answers larger than
//!   the requests, never deadlocks with parley: parley reads the answers while its own
//!   writes wait for the peer.
//!
//! The wait for room (`connections.queue_wait_ms`) is 8 s here, so that a loaded test machine
//! resumes the stalled peer in time.

#[allow(dead_code)]
mod common {
    pub mod daemon;
    pub mod peers;
    pub mod pki;
}

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use common::daemon::Daemon;
use common::peers::*;
use common::pki::Pki;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpSocket;
use tokio::sync::{Notify, mpsc};
use tokio::time::timeout;

/// More messages than parley's per-peer SIP queue (4,096) and the socket buffers between
/// parley and a peer that does not read can hold.
const MESSAGES: usize = 20_000;

/// A SIP peer for `domain` that reads nothing until `resume` is notified, then answers each
/// request 200, with `padding` bytes of padding, before it reads the next (so, with padding,
/// its writes block whenever parley does not read). Its socket buffers are small so that
/// parley's queue, not the kernel, holds what waits. Request bodies go on the channel.
async fn sip_peer(
    pki: &Pki,
    domain: &'static str,
    resume: Arc<Notify>,
    padding: usize,
) -> (SocketAddr, mpsc::Receiver<String>) {
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.set_send_buffer_size(4096).unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(16).unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = pki.server(domain);
    let (tx, rx) = mpsc::channel(MESSAGES);
    let padding = match padding {
        0 => String::new(),
        n => format!("X-Padding: {}\r\n", "p".repeat(n)),
    };
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let (acceptor, tx, resume) = (acceptor.clone(), tx.clone(), resume.clone());
            let padding = padding.clone();
            tokio::spawn(async move {
                let tls = acceptor.accept(tcp).await.unwrap();
                resume.notified().await;
                let mut s = Text::new(tls);
                loop {
                    let req = read_sip(&mut s).await;
                    let answer = response_to(&req, "200 OK");
                    s.send(&answer.replacen("\r\n", &format!("\r\n{padding}"), 1))
                        .await;
                    let body = req.split_once("\r\n\r\n").map_or("", |(_, b)| b);
                    if tx.send(body.to_owned()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (addr, rx)
}

/// Write [`MESSAGES`] chat messages with bodies `{tag}0`, `{tag}1`, … on `xmpp`, in batches,
/// as fast as parley reads them; the stream back when all are written.
fn send_burst<S>(mut xmpp: Text<S>, tag: &'static str) -> tokio::task::JoinHandle<Text<S>>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    tokio::spawn(async move {
        let mut batch = String::new();
        for i in 0..MESSAGES {
            batch.push_str(&format!(
                "<message from='juliet@xmpp.test/r' to='romeo@sip.test' type='chat' id='{tag}{i}'><body>{tag}{i}</body></message>"
            ));
            if batch.len() > 32 * 1024 || i + 1 == MESSAGES {
                xmpp.send(&batch).await;
                batch.clear();
            }
        }
        xmpp
    })
}

/// Wait until parley has held a stream back for the full `protocol` queue at least once.
async fn until_backpressure(parley: &Daemon, protocol: &str) {
    timeout(Duration::from_secs(60), async {
        while parley
            .sample("parley_backpressure_total", &[("protocol", protocol)])
            .await
            < 1.0
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("parley waits for room once the {protocol} queue is full"));
}

/// Every one of the [`MESSAGES`] bodies `{tag}n` arrives on `received`, in order.
async fn expect_in_order(received: &mut mpsc::Receiver<String>, tag: &str) {
    for i in 0..MESSAGES {
        let body = timeout(Duration::from_secs(30), received.recv())
            .await
            .unwrap_or_else(|_| panic!("message {i} of {MESSAGES} delivered within 30 s"))
            .unwrap();
        assert_eq!(body, format!("{tag}{i}"), "delivered in order");
    }
}

async fn daemon(pki: &Pki, sip_hop: SocketAddr, xmpp_hop: SocketAddr, xmpp: &str) -> Daemon {
    let d = pki.dir.display();
    let domains = pki.domains_toml(xmpp_hop, sip_hop);
    let config = format!(
        r#"
state_dir = "{d}/state"
[tls]
ca_file = "{d}/ca.crt"
[metrics]
listen = "127.0.0.1:0"
[audit]
output = "off"
[sip]
listen_tls = ["127.0.0.1:0"]
[xmpp]
listen = ["127.0.0.1:0"]
{xmpp}
[connections]
queue_wait_ms = 8000
[policy.consent]
enable = false
[policy.limits]
domain_rate = 0
sender_rate = 0
{domains}
"#
    );
    let file = pki.dir.join("parley.toml");
    std::fs::write(&file, config).unwrap();
    Daemon::start(&file).await
}

#[tokio::test]
async fn a_stalled_sip_peer_slows_the_xmpp_sender_down_instead_of_filling_the_spool() {
    let pki = Pki::new("backpressure", &["sip.test", "xmpp.test"]);
    let resume = Arc::new(Notify::new());
    let (sip_hop, mut received) = sip_peer(&pki, "sip.test", resume.clone(), 0).await;
    // Error replies would go to the XMPP side's server: there should be none.
    let (xmpp_hop, mut bounced) = xmpp_server(&pki, "xmpp.test").await;
    let parley = daemon(&pki, sip_hop, xmpp_hop, "").await;
    let xmpp = xmpp_initiator(&pki, parley.xmpp, "xmpp.test", "sip.test").await;
    let writer = send_burst(xmpp, "m");
    // The peer resumes as soon as parley holds the stream back: well within the 8 s an
    // inbound stream waits for room before a message goes on (to the spool).
    until_backpressure(&parley, "sip").await;
    resume.notify_one();
    let _xmpp = timeout(Duration::from_secs(60), writer)
        .await
        .expect("parley reads the whole burst once the SIP peer reads again")
        .unwrap();
    expect_in_order(&mut received, "m").await;

    let metrics = parley.metrics().await;
    let sample = |name, labels: &[(&str, &str)]| common::daemon::sample(&metrics, name, labels);
    assert_eq!(
        sample("parley_spool_events_total", &[("event", "spooled")]),
        0.0,
        "nothing went to the spool"
    );
    assert_eq!(
        sample("parley_errors_sent_total", &[]),
        0.0,
        "nothing refused"
    );
    assert!(bounced.try_recv().is_err(), "no stanza back to the sender");
}

/// The status codes of the next `n` SIP responses read from `rd`.
async fn status_codes(mut rd: impl tokio::io::AsyncRead + Unpin, n: usize) -> Vec<u16> {
    let (mut buf, mut codes) = (Vec::new(), Vec::with_capacity(n));
    let mut chunk = [0u8; 16 * 1024];
    while codes.len() < n {
        let got = rd.read(&mut chunk).await.unwrap();
        assert!(got > 0, "parley closed the SIP connection");
        buf.extend_from_slice(&chunk[..got]);
        while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).into_owned();
            let body = sip_header(&head, "Content-Length").map_or(0, |v| v.trim().parse().unwrap());
            if buf.len() < end + 4 + body {
                break;
            }
            codes.push(head[8..11].parse().unwrap());
            buf.drain(..end + 4 + body);
        }
    }
    codes
}

#[tokio::test]
async fn sip_messages_wait_for_a_stalled_xmpp_peer_instead_of_being_refused() {
    const N: usize = 3_000;
    let pki = Pki::new("backpressure-s2x", &["sip.test", "xmpp.test"]);
    // The server stops reading once 64 stanzas wait unread on its channel.
    let (xmpp_hop, mut received) = xmpp_server_small_buffer(&pki, "xmpp.test").await;
    let unused: SocketAddr = "127.0.0.1:9".parse().unwrap();
    // A stall as long as a ping's timeout would make parley re-send on a new stream.
    let xmpp = "queue_depth = 16\nping_timeout_ms = 60000";
    let parley = daemon(&pki, unused, xmpp_hop, xmpp).await;
    let ua = sip_client(&pki, parley.sip, "sip.test", "xmpp.test").await;
    let (rd, mut wr) = tokio::io::split(ua.into_inner());
    let writer = tokio::spawn(async move {
        let mut batch = String::new();
        for i in 0..N {
            let call_id = format!("c{i}@host");
            batch.push_str(&sip_message(
                "alice@sip.test",
                "juliet@xmpp.test",
                &call_id,
                &format!("m{i}"),
            ));
            if batch.len() > 32 * 1024 || i + 1 == N {
                wr.write_all(batch.as_bytes()).await.unwrap();
                batch.clear();
            }
        }
        wr
    });
    let reader = tokio::spawn(status_codes(rd, N));
    until_backpressure(&parley, "xmpp").await;
    let mut bodies = Vec::with_capacity(N);
    while bodies.len() < N {
        let element = timeout(Duration::from_secs(30), received.recv())
            .await
            .unwrap_or_else(|_| panic!("{} of {N} stanzas delivered within 30 s", bodies.len()))
            .unwrap();
        if let Some((_, rest)) = element.split_once("<body>") {
            bodies.push(rest.split_once("</body>").unwrap().0.to_owned());
        }
    }
    let expected: Vec<String> = (0..N).map(|i| format!("m{i}")).collect();
    let first_wrong = bodies.iter().zip(&expected).position(|(a, b)| a != b);
    assert!(
        first_wrong.is_none(),
        "every message delivered once, in order; first difference at {first_wrong:?}: {:?}",
        first_wrong.map(|i| &bodies[i.saturating_sub(2)..(i + 3).min(N)])
    );
    let codes = timeout(Duration::from_secs(30), reader)
        .await
        .unwrap()
        .unwrap();
    let refused: Vec<_> = codes.iter().filter(|c| !(200..300).contains(*c)).collect();
    assert!(refused.is_empty(), "all answered 2xx; refused: {refused:?}");
    drop(writer.await.unwrap());
}

/// Padding in each answer of the peer in the next test: a batch of parley's requests draws
/// more answers than parley's receive window and the peer's 4 KiB send buffer hold.
const PADDING: usize = 1024;

#[tokio::test]
async fn a_sip_peer_that_answers_before_reading_on_never_deadlocks_with_parley() {
    let pki = Pki::new("backpressure-duplex", &["sip.test", "xmpp.test"]);
    let resume = Arc::new(Notify::new());
    let (sip_hop, mut received) = sip_peer(&pki, "sip.test", resume.clone(), PADDING).await;
    let unused: SocketAddr = "127.0.0.1:9".parse().unwrap();
    let parley = daemon(&pki, sip_hop, unused, "").await;
    let xmpp = xmpp_initiator(&pki, parley.xmpp, "xmpp.test", "sip.test").await;
    let writer = send_burst(xmpp, "d");
    // The peer starts once parley's queue towards it is full: parley then writes full
    // batches, each drawing more answers than the two small buffers hold.
    until_backpressure(&parley, "sip").await;
    resume.notify_one();
    expect_in_order(&mut received, "d").await;
    drop(writer.await.unwrap());
}
