//! SIP side of the load (RFC 3261 over TLS or TCP, RFC 3428 MESSAGE): the generator's
//! connections, which pipeline MESSAGE requests within a window and count the responses, and the
//! sink a gateway delivers to, which answers 200 and reads the stamped bodies. Framing and
//! parsing are parley's own SIP codec.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::Duration;

use bytes::BytesMut;
use parley::sip::encode::write_response;
use parley::sip::framing::frame_stream;
use parley::sip::{SipLimits, SipMessage, StreamItem};
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::time::Instant;

use crate::stats::{Registry, Run, body};

/// Messages written with one `write` at most.
const BATCH: u64 = 64;
/// Largest read buffer kept per connection before it is a framing error.
const MAX_BUFFER: usize = 4 << 20;

/// How the generator reaches the gateway.
#[derive(Clone)]
pub struct Target {
    pub addr: SocketAddr,
    /// TLS with this connector and server name, or plain TCP.
    pub tls: Option<(tokio_rustls::TlsConnector, String)>,
    /// Request-URI / To address (`user@host`).
    pub to: String,
    /// From address (`user@host`).
    pub from: String,
}

type Writer = Box<dyn AsyncWrite + Unpin + Send>;

/// One open generator connection.
pub struct Conn {
    writer: Writer,
    window: Arc<Semaphore>,
    alive: Arc<AtomicBool>,
}

impl Conn {
    pub fn is_alive(&self) -> bool {
        self.alive.load(Relaxed)
    }
}

/// Open `n` connections; responses are counted into the run their Call-ID names.
pub async fn connect(
    target: &Target,
    n: usize,
    window: usize,
    reg: Arc<Registry>,
) -> Result<Vec<Conn>, String> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let tcp = TcpStream::connect(target.addr)
            .await
            .map_err(|e| format!("connect {}: {e}", target.addr))?;
        let _ = tcp.set_nodelay(true);
        let window = Arc::new(Semaphore::new(window));
        let alive = Arc::new(AtomicBool::new(true));
        let writer: Writer = match &target.tls {
            Some((connector, name)) => {
                let name = ServerName::try_from(name.clone()).map_err(|e| e.to_string())?;
                let tls = connector
                    .connect(name, tcp)
                    .await
                    .map_err(|e| format!("TLS to {}: {e}", target.addr))?;
                let (r, w) = tokio::io::split(tls);
                tokio::spawn(read_responses(
                    r,
                    window.clone(),
                    alive.clone(),
                    reg.clone(),
                ));
                Box::new(w)
            }
            None => {
                let (r, w) = tcp.into_split();
                tokio::spawn(read_responses(
                    r,
                    window.clone(),
                    alive.clone(),
                    reg.clone(),
                ));
                Box::new(w)
            }
        };
        out.push(Conn {
            writer,
            window,
            alive,
        });
    }
    Ok(out)
}

/// Read responses: final ones free a window slot and count in their run.
async fn read_responses<R: AsyncRead + Unpin>(
    mut r: R,
    window: Arc<Semaphore>,
    alive: Arc<AtomicBool>,
    reg: Arc<Registry>,
) {
    let limits = SipLimits::default();
    let mut buf = BytesMut::with_capacity(64 * 1024);
    'read: loop {
        if buf.capacity() - buf.len() < 16 * 1024 {
            buf.reserve(64 * 1024);
        }
        match r.read_buf(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        loop {
            let item = match frame_stream(&buf, &limits) {
                Ok(Some(i)) => i,
                Ok(None) if buf.len() < MAX_BUFFER => break,
                _ => break 'read,
            };
            let len = match item {
                StreamItem::Message { len } => len,
                StreamItem::Ping => 4,
                StreamItem::Pong => 2,
            };
            let raw = buf.split_to(len).freeze();
            if !matches!(item, StreamItem::Message { .. }) {
                continue;
            }
            let Ok(msg) = SipMessage::parse(raw, &limits) else {
                continue;
            };
            let Some(status) = msg.status() else { continue };
            if status < 200 {
                continue;
            }
            let run = msg.call_id().ok().and_then(run_of_call_id);
            match run.and_then(|id| reg.get(id)) {
                Some(run) => run.response(Some(status)),
                None => {
                    reg.stray.fetch_add(1, Relaxed);
                }
            }
            window.add_permits(1);
        }
    }
    alive.store(false, Relaxed);
    window.close();
}

/// The run number in a Call-ID `plr-RUN-SEQ@load`.
fn run_of_call_id(id: &str) -> Option<u32> {
    id.strip_prefix("plr-")?.split('-').next()?.parse().ok()
}

/// Append MESSAGE `seq` of `run` to `out`.
fn write_message(out: &mut BytesMut, t: &Target, via: &str, run: u32, seq: u64, text: &mut String) {
    body(run, seq, text);
    let _ = write!(
        out,
        "MESSAGE sip:{to} SIP/2.0\r\nVia: SIP/2.0/{via} 127.0.0.1:5999;branch=z9hG4bK-plr-{run}-{seq}\r\nMax-Forwards: 70\r\nFrom: <sip:{from}>;tag=plr{run}\r\nTo: <sip:{to}>\r\nCall-ID: plr-{run}-{seq}@load\r\nCSeq: 1 MESSAGE\r\nContent-Type: text/plain\r\nContent-Length: {len}\r\n\r\n{text}",
        to = t.to,
        from = t.from,
        len = text.len(),
    );
}

/// Send on `conn` for `dur`: `rate` messages/s (0: as fast as the window allows).
pub async fn drive(
    mut conn: Conn,
    t: Arc<Target>,
    run: Arc<Run>,
    rate: f64,
    dur: Duration,
) -> Conn {
    let via = if t.tls.is_some() { "TLS" } else { "TCP" };
    let start = Instant::now();
    let end = start + dur;
    let mut sent = 0u64;
    let mut out = BytesMut::with_capacity(64 * 1024);
    let mut text = String::with_capacity(64);
    while conn.alive.load(Relaxed) {
        let now = Instant::now();
        if now >= end {
            break;
        }
        let due = if rate > 0.0 {
            ((now - start).as_secs_f64() * rate).ceil() as u64
        } else {
            sent + BATCH
        };
        let want = due.saturating_sub(sent).min(BATCH);
        if want == 0 {
            let next = start + Duration::from_secs_f64((sent + 1) as f64 / rate);
            tokio::time::sleep_until(next.min(end)).await;
            continue;
        }
        // Wait for one window slot, then take as many more as are free, up to `want`.
        let first = match tokio::time::timeout_at(end, conn.window.acquire()).await {
            Ok(Ok(p)) => p,
            _ => break,
        };
        first.forget();
        let mut more = (want - 1).min(conn.window.available_permits() as u64);
        match conn.window.try_acquire_many(more as u32) {
            Ok(p) => p.forget(),
            Err(_) => more = 0,
        }
        let seqs = run.take(1 + more);
        let n = seqs.end - seqs.start;
        // The run's numbering is used up: give back the slots no message will take.
        conn.window.add_permits((1 + more - n) as usize);
        if n == 0 {
            break;
        }
        for seq in seqs {
            write_message(&mut out, &t, via, run.id, seq, &mut text);
        }
        if conn.writer.write_all(&out).await.is_err() || conn.writer.flush().await.is_err() {
            run.conn_errors.fetch_add(1, Relaxed);
            conn.alive.store(false, Relaxed);
            break;
        }
        out.clear();
        run.sent.fetch_add(n, Relaxed);
        sent += n;
    }
    conn
}

/// Requests still unanswered on the connections (window slots taken).
pub fn in_flight(conns: &[Conn], window: usize) -> usize {
    conns
        .iter()
        .filter(|c| c.alive.load(Relaxed))
        .map(|c| window.saturating_sub(c.window.available_permits()))
        .sum()
}

/// A SIP server the gateway delivers to: answers every request 200 and counts the bodies.
pub async fn sink(
    listen: SocketAddr,
    tls: Option<tokio_rustls::TlsAcceptor>,
    reg: Arc<Registry>,
) -> Result<SocketAddr, String> {
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|e| format!("SIP sink on {listen}: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let _ = tcp.set_nodelay(true);
            let (tls, reg) = (tls.clone(), reg.clone());
            tokio::spawn(async move {
                match tls {
                    Some(acceptor) => {
                        if let Ok(s) = acceptor.accept(tcp).await {
                            serve(s, reg).await;
                        }
                    }
                    None => serve(tcp, reg).await,
                }
            });
        }
    });
    Ok(addr)
}

/// Answer every request on one sink connection, one write per read.
async fn serve<S: AsyncRead + AsyncWrite + Unpin>(mut s: S, reg: Arc<Registry>) {
    reg.sink_streams.fetch_add(1, Relaxed);
    let limits = SipLimits::default();
    let mut buf = BytesMut::with_capacity(64 * 1024);
    let mut out = BytesMut::with_capacity(64 * 1024);
    let mut lat = Vec::with_capacity(256);
    loop {
        if buf.capacity() - buf.len() < 16 * 1024 {
            buf.reserve(64 * 1024);
        }
        match s.read_buf(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        loop {
            let item = match frame_stream(&buf, &limits) {
                Ok(Some(i)) => i,
                Ok(None) if buf.len() < MAX_BUFFER => break,
                _ => return,
            };
            match item {
                StreamItem::Message { len } => {
                    let raw = buf.split_to(len).freeze();
                    let Ok(msg) = SipMessage::parse(raw, &limits) else {
                        reg.stray.fetch_add(1, Relaxed);
                        continue;
                    };
                    if !msg.is_request() {
                        continue;
                    }
                    if msg.method().is_some_and(|m| m.as_str() == "MESSAGE") {
                        reg.delivered(msg.body(), &mut lat);
                    }
                    write_response(&mut out, &msg, 200, "OK", Some("plrsink"), &[], b"");
                }
                StreamItem::Ping => {
                    let _ = buf.split_to(4);
                    out.extend_from_slice(b"\r\n");
                }
                StreamItem::Pong => {
                    let _ = buf.split_to(2);
                }
            }
        }
        reg.flush(&mut lat);
        if !out.is_empty() {
            if s.write_all(&out).await.is_err() || s.flush().await.is_err() {
                return;
            }
            out.clear();
        }
    }
}
