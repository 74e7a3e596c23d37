//! XMPP side of the load (RFC 6120 server-to-server with STARTTLS and SASL EXTERNAL, XEP-0114
//! component accept): the sink a gateway delivers `<message>` stanzas to, and the source that
//! sends them into the gateway. Framing is parley's own XMPP stream framer.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::Duration;

use base64::Engine;
use bytes::{Bytes, BytesMut};
use parley::xmpp::{Frame, Framer, XmppLimits};
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{Instant, timeout};

use crate::stats::{Registry, Run, body};

/// Negotiation steps must finish within this.
const STEP: Duration = Duration::from_secs(10);
const MAX_BUFFER: usize = 4 << 20;

/// How the sink authenticates its peer.
#[derive(Clone)]
pub enum SinkKind {
    /// A server-to-server listener for `domain`: STARTTLS, then SASL EXTERNAL.
    S2s {
        domain: String,
        acceptor: tokio_rustls::TlsAcceptor,
    },
    /// XEP-0114 component accept; the handshake is checked against `secret`.
    Component { secret: String },
}

/// A stream being read frame by frame with parley's framer.
struct Stream<S> {
    io: S,
    buf: BytesMut,
    framer: Framer,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Stream<S> {
    fn new(io: S) -> Self {
        Stream {
            io,
            buf: BytesMut::with_capacity(64 * 1024),
            framer: Framer::new(XmppLimits::default()),
        }
    }

    /// The next frame, reading as needed (None: closed or broken).
    async fn frame(&mut self) -> Option<Frame> {
        loop {
            match self.framer.next_frame(&mut self.buf) {
                Ok(Some(Frame::Whitespace)) => continue,
                Ok(Some(f)) => return Some(f),
                Ok(None) if self.buf.len() < MAX_BUFFER => {}
                _ => return None,
            }
            if self.buf.capacity() - self.buf.len() < 16 * 1024 {
                self.buf.reserve(64 * 1024);
            }
            match self.io.read_buf(&mut self.buf).await {
                Ok(0) | Err(_) => return None,
                Ok(_) => {}
            }
        }
    }

    /// The next frame within [`STEP`], which must be an element containing `what`.
    async fn expect(&mut self, what: &str) -> Result<Bytes, String> {
        match timeout(STEP, self.frame()).await {
            Ok(Some(Frame::Element(e))) if contains(&e, what.as_bytes()) => Ok(e),
            Ok(Some(f)) => Err(format!("expected {what}, got {f:?}")),
            _ => Err(format!("stream closed or timed out waiting for {what}")),
        }
    }

    async fn open(&mut self) -> Result<parley::xmpp::StreamHeader, String> {
        match timeout(STEP, self.frame()).await {
            Ok(Some(Frame::Open(h))) => Ok(h),
            Ok(Some(f)) => Err(format!("expected a stream header, got {f:?}")),
            _ => Err("stream closed or timed out waiting for a header".into()),
        }
    }

    async fn send(&mut self, s: &str) -> Result<(), String> {
        self.io
            .write_all(s.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        self.io.flush().await.map_err(|e| e.to_string())
    }

    /// The stream under a new layer (STARTTLS): nothing may be buffered.
    fn into_inner(self) -> S {
        self.io
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn header(ns: &str, from: &str, to: &str, id: &str) -> String {
    let id = if id.is_empty() {
        String::new()
    } else {
        format!(" id='{id}'")
    };
    format!(
        "<?xml version='1.0'?><stream:stream xmlns='{ns}' xmlns:stream='http://etherx.jabber.org/streams' from='{from}' to='{to}' version='1.0'{id}>"
    )
}

/// Listen for the gateway's XMPP connections; every `<message>` is counted.
pub async fn sink(
    listen: SocketAddr,
    kind: SinkKind,
    reg: Arc<Registry>,
) -> Result<SocketAddr, String> {
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|e| format!("XMPP sink on {listen}: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        let mut n = 0u64;
        while let Ok((tcp, _)) = listener.accept().await {
            let _ = tcp.set_nodelay(true);
            n += 1;
            let (kind, reg) = (kind.clone(), reg.clone());
            tokio::spawn(async move {
                let r = match kind {
                    SinkKind::S2s { domain, acceptor } => {
                        s2s_accept(tcp, &domain, acceptor, n, reg).await
                    }
                    SinkKind::Component { secret } => component_accept(tcp, &secret, n, reg).await,
                };
                if let Err(e) = r {
                    eprintln!("parley-load: XMPP sink connection: {e}");
                }
            });
        }
    });
    Ok(addr)
}

async fn s2s_accept(
    tcp: TcpStream,
    domain: &str,
    acceptor: tokio_rustls::TlsAcceptor,
    n: u64,
    reg: Arc<Registry>,
) -> Result<(), String> {
    const NS: &str = "jabber:server";
    let mut s = Stream::new(tcp);
    let h = s.open().await?;
    let peer = h.from.unwrap_or_default();
    s.send(&header(NS, domain, &peer, &format!("plr{n}a")))
        .await?;
    s.send("<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls></stream:features>").await?;
    s.expect("starttls").await?;
    s.send("<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
        .await?;
    let tls = acceptor
        .accept(s.into_inner())
        .await
        .map_err(|e| format!("TLS: {e}"))?;
    let mut s = Stream::new(tls);
    s.open().await?;
    s.send(&header(NS, domain, &peer, &format!("plr{n}b")))
        .await?;
    s.send("<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>EXTERNAL</mechanism></mechanisms></stream:features>").await?;
    s.expect("EXTERNAL").await?;
    s.send("<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>")
        .await?;
    let mut s = Stream::new(s.into_inner());
    s.open().await?;
    s.send(&header(NS, domain, &peer, &format!("plr{n}c")))
        .await?;
    s.send("<stream:features/>").await?;
    count(s, reg).await;
    Ok(())
}

async fn component_accept(
    tcp: TcpStream,
    secret: &str,
    n: u64,
    reg: Arc<Registry>,
) -> Result<(), String> {
    let mut s = Stream::new(tcp);
    let h = s.open().await?;
    let name = h.to.unwrap_or_default();
    let id = format!("plrc{n}");
    s.send(&format!(
        "<?xml version='1.0'?><stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams' from='{name}' id='{id}'>"
    ))
    .await?;
    let hs = s.expect("handshake").await?;
    let digest = ring::digest::digest(
        &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
        format!("{id}{secret}").as_bytes(),
    );
    let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    if !contains(&hs.to_ascii_lowercase(), hex.as_bytes()) {
        let _ = s.send("<stream:error><not-authorized xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error></stream:stream>").await;
        return Err("component handshake does not match the secret".into());
    }
    s.send("<handshake/>").await?;
    count(s, reg).await;
    Ok(())
}

/// The result for an XEP-0199 ping `iq` (its `id`, with `from` and `to` swapped).
fn answer_ping(iq: &[u8], out: &mut String) {
    let tag = &iq[..iq.iter().position(|&b| b == b'>').unwrap_or(iq.len())];
    let attr = |name: &str| -> String {
        for q in ['\'', '"'] {
            let key = format!(" {name}={q}");
            if let Some(i) = tag.windows(key.len()).position(|w| w == key.as_bytes()) {
                let rest = &tag[i + key.len()..];
                let end = rest
                    .iter()
                    .position(|&b| b == q as u8)
                    .unwrap_or(rest.len());
                return String::from_utf8_lossy(&rest[..end]).into_owned();
            }
        }
        String::new()
    };
    out.push_str(&format!(
        "<iq type='result' id='{}' from='{}' to='{}'/>",
        attr("id"),
        attr("to"),
        attr("from")
    ));
}

/// Count the `<message>` stanzas of an established stream until it closes.
async fn count<S: AsyncRead + AsyncWrite + Unpin>(mut s: Stream<S>, reg: Arc<Registry>) {
    reg.sink_streams.fetch_add(1, Relaxed);
    let mut lat = Vec::with_capacity(256);
    let mut replies = String::new();
    loop {
        // Everything already buffered, then one flush of the latencies per read.
        loop {
            match s.framer.next_frame(&mut s.buf) {
                Ok(Some(Frame::Element(e))) => {
                    if e.starts_with(b"<iq") && contains(&e, b"urn:xmpp:ping") {
                        // XEP-0199: the gateway confirms delivery by pinging; answer like a server.
                        answer_ping(&e, &mut replies);
                    } else if e.starts_with(b"<message") {
                        let tag_end = e.iter().position(|&b| b == b'>').unwrap_or(e.len());
                        let tag = &e[..tag_end];
                        if contains(tag, b"type='error'") || contains(tag, b"type=\"error\"") {
                            reg.bounced(&e);
                        } else {
                            reg.delivered(&e, &mut lat);
                        }
                    }
                }
                Ok(Some(Frame::Close)) | Err(_) => {
                    reg.flush(&mut lat);
                    return;
                }
                Ok(Some(_)) => {}
                Ok(None) => break,
            }
        }
        reg.flush(&mut lat);
        if !replies.is_empty() {
            if s.send(&replies).await.is_err() {
                return;
            }
            replies.clear();
        }
        if s.buf.len() >= MAX_BUFFER {
            return;
        }
        if s.buf.capacity() - s.buf.len() < 16 * 1024 {
            s.buf.reserve(64 * 1024);
        }
        match s.io.read_buf(&mut s.buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

/// The XMPP source: where it connects and as whom.
#[derive(Clone)]
pub struct Source {
    pub addr: SocketAddr,
    pub connector: tokio_rustls::TlsConnector,
    /// The authenticated domain (its certificate) and the gateway's domain.
    pub from_domain: String,
    pub to_domain: String,
    /// Sender JID and recipient JID.
    pub from: String,
    pub to: String,
}

type Writer = Box<dyn AsyncWrite + Unpin + Send>;

/// One authenticated outgoing stream.
pub struct SourceConn {
    writer: Writer,
    alive: Arc<AtomicBool>,
}

impl SourceConn {
    pub fn is_alive(&self) -> bool {
        self.alive.load(Relaxed)
    }
}

/// Open an authenticated s2s stream to the gateway (STARTTLS, SASL EXTERNAL).
pub async fn source_connect(src: &Source) -> Result<SourceConn, String> {
    const NS: &str = "jabber:server";
    let tcp = TcpStream::connect(src.addr)
        .await
        .map_err(|e| format!("connect {}: {e}", src.addr))?;
    let _ = tcp.set_nodelay(true);
    let (from, to) = (&src.from_domain, &src.to_domain);
    let mut s = Stream::new(tcp);
    s.send(&header(NS, from, to, "")).await?;
    s.open().await?;
    s.expect("starttls").await?;
    s.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
        .await?;
    s.expect("proceed").await?;
    let name = ServerName::try_from(to.clone()).map_err(|e| e.to_string())?;
    let tls = src
        .connector
        .connect(name, s.into_inner())
        .await
        .map_err(|e| format!("TLS to {}: {e}", src.addr))?;
    let mut s = Stream::new(tls);
    s.send(&header(NS, from, to, "")).await?;
    s.open().await?;
    s.expect("EXTERNAL").await?;
    let authzid = base64::engine::general_purpose::STANDARD.encode(from);
    s.send(&format!(
        "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='EXTERNAL'>{authzid}</auth>"
    ))
    .await?;
    s.expect("success").await?;
    let mut s = Stream::new(s.into_inner());
    s.send(&header(NS, from, to, "")).await?;
    s.open().await?;
    s.expect("features").await?;
    let (r, writer) = tokio::io::split(s.into_inner());
    let alive = Arc::new(AtomicBool::new(true));
    let flag = alive.clone();
    tokio::spawn(async move {
        // Drain what the gateway sends on this stream; its end ends the connection.
        let mut r = r;
        let mut chunk = vec![0u8; 16 * 1024];
        while let Ok(n) = r.read(&mut chunk).await {
            if n == 0 {
                break;
            }
        }
        flag.store(false, Relaxed);
    });
    Ok(SourceConn {
        writer: Box::new(writer),
        alive,
    })
}

/// Messages written with one `write` at most.
const BATCH: u64 = 64;

/// Send `<message>` stanzas on `conn` for `dur` at `rate`/s (0: as fast as TCP takes them).
pub async fn source_drive(
    mut conn: SourceConn,
    src: Arc<Source>,
    run: Arc<Run>,
    rate: f64,
    dur: Duration,
) -> SourceConn {
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
        let seqs = run.take(want);
        let n = seqs.end - seqs.start;
        if n == 0 {
            break;
        }
        for seq in seqs {
            body(run.id, seq, &mut text);
            let _ = write!(
                out,
                "<message from='{}' to='{}' type='chat' id='plr-{}-{seq}'><body>{text}</body></message>",
                src.from, src.to, run.id
            );
        }
        let w = tokio::time::timeout_at(end + Duration::from_secs(5), async {
            conn.writer.write_all(&out).await?;
            conn.writer.flush().await
        })
        .await;
        if !matches!(w, Ok(Ok(()))) {
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
