//! Independent stand-ins for the peers parley talks to, written with plain string handling
//! (not parley's codecs), so the tests check parley against an outside reading of the wire.

use std::net::SocketAddr;
use std::time::Duration;

use base64::Engine;
use rustls_pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use super::pki::Pki;

pub const T: Duration = Duration::from_secs(10);

/// A byte stream read as text up to markers.
pub struct Text<S> {
    pub io: S,
    buf: String,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Text<S> {
    pub fn new(io: S) -> Self {
        Text {
            io,
            buf: String::new(),
        }
    }

    /// Read one more chunk into the buffer; `awaited` names what was expected, for the
    /// failure message when the peer closes the connection instead.
    async fn fill(&mut self, awaited: &str) {
        let mut chunk = [0u8; 8192];
        let n = tokio::time::timeout(T, self.io.read(&mut chunk))
            .await
            .expect("peer read timed out")
            .expect("read");
        assert!(
            n > 0,
            "connection closed while waiting for {awaited}; got {:?}",
            self.buf
        );
        self.buf
            .push_str(std::str::from_utf8(&chunk[..n]).expect("utf-8"));
    }

    /// Read until one of `markers` appears; return everything up to and including it.
    pub async fn until(&mut self, markers: &[&str]) -> String {
        loop {
            let hit = markers
                .iter()
                .filter_map(|m| self.buf.find(m).map(|i| i + m.len()))
                .min();
            if let Some(end) = hit {
                return self.buf.drain(..end).collect();
            }
            self.fill(&format!("{markers:?}")).await;
        }
    }

    /// The next top-level XML element (or the stream footer), by counting tag depth; skips
    /// whitespace between elements. Enough for the stanzas parley writes (it escapes `>` in
    /// attribute values).
    pub async fn element(&mut self) -> String {
        loop {
            let start = self.buf.find('<');
            if let Some(start) = start {
                let mut depth = 0usize;
                let mut i = start;
                while let Some(open) = self.buf[i..].find('<').map(|o| i + o) {
                    let Some(close) = self.buf[open..].find('>').map(|c| open + c) else {
                        break;
                    };
                    let tag = &self.buf[open..=close];
                    if tag.starts_with("</") {
                        if depth == 0 {
                            // The stream footer.
                            return self
                                .buf
                                .drain(..=close)
                                .collect::<String>()
                                .trim()
                                .to_owned();
                        }
                        depth -= 1;
                    } else if !tag.ends_with("/>") {
                        depth += 1;
                    }
                    i = close + 1;
                    if depth == 0 {
                        let element: String = self.buf.drain(..i).collect();
                        return element.trim().to_owned();
                    }
                }
            }
            self.fill("an element").await;
        }
    }

    /// Read exactly `n` more bytes (a SIP body).
    pub async fn exact(&mut self, n: usize) -> String {
        while self.buf.len() < n {
            self.fill("the rest of a body").await;
        }
        self.buf.drain(..n).collect()
    }

    /// Read until the connection closes; return the rest.
    pub async fn rest(&mut self) -> String {
        let mut v = Vec::new();
        let _ = tokio::time::timeout(T, self.io.read_to_end(&mut v)).await;
        self.buf.push_str(&String::from_utf8_lossy(&v));
        std::mem::take(&mut self.buf)
    }

    pub async fn send(&mut self, s: &str) {
        self.io.write_all(s.as_bytes()).await.unwrap();
        self.io.flush().await.unwrap();
    }

    pub fn into_inner(self) -> S {
        assert!(self.buf.is_empty(), "unread data: {:?}", self.buf);
        self.io
    }
}

fn header(from: &str, to: &str, id: Option<&str>) -> String {
    let id = id.map(|i| format!(" id='{i}'")).unwrap_or_default();
    format!(
        "<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' from='{from}' to='{to}' version='1.0'{id}>"
    )
}

const FEATURES_END: &[&str] = &["</stream:features>", "<stream:features/>"];

/// An XMPP server for `domain` accepting parley's outbound s2s streams; every `<message>`
/// it receives is sent on the channel.
pub async fn xmpp_server(pki: &Pki, domain: &'static str) -> (SocketAddr, mpsc::Receiver<String>) {
    xmpp_server_at(pki, domain, "127.0.0.1:0".parse().unwrap()).await
}

/// [`xmpp_server`] speaking TLS from the first byte (XEP-0368).
pub async fn xmpp_server_direct_tls(
    pki: &Pki,
    domain: &'static str,
) -> (SocketAddr, mpsc::Receiver<String>) {
    serve_xmpp(pki, domain, "127.0.0.1:0".parse().unwrap(), true, true).await
}

/// [`xmpp_server`] that leaves parley's pings unanswered on parley's stream: they go on the
/// channel like every other element, so a test can answer them on its own stream to parley
/// (as servers without bidirectional streams do), after whatever it sends first.
pub async fn xmpp_server_forwarding_pings(
    pki: &Pki,
    domain: &'static str,
) -> (SocketAddr, mpsc::Receiver<String>) {
    serve_xmpp(pki, domain, "127.0.0.1:0".parse().unwrap(), false, false).await
}

/// [`xmpp_server`] on a given address (to bring a peer back on the port it had).
pub async fn xmpp_server_at(
    pki: &Pki,
    domain: &'static str,
    at: SocketAddr,
) -> (SocketAddr, mpsc::Receiver<String>) {
    serve_xmpp(pki, domain, at, false, true).await
}

/// [`xmpp_server`] with a 4 KiB receive buffer: a test that leaves its channel unread stalls
/// the server after a few stanzas, and what parley sends waits in parley, not in the kernel.
pub async fn xmpp_server_small_buffer(
    pki: &Pki,
    domain: &'static str,
) -> (SocketAddr, mpsc::Receiver<String>) {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    serve_xmpp_on(pki, domain, socket.listen(16).unwrap(), false, true).await
}

async fn serve_xmpp(
    pki: &Pki,
    domain: &'static str,
    at: SocketAddr,
    direct_tls: bool,
    answer_pings: bool,
) -> (SocketAddr, mpsc::Receiver<String>) {
    serve_xmpp_on(pki, domain, bind_again(at).await, direct_tls, answer_pings).await
}

/// A loopback address nothing listens on, for a peer a test brings up later. A port let go of
/// after binding port 0 lies in the kernel's ephemeral range, where any connection of a test
/// running alongside may take it as its local end for as long as it lives; this one lies
/// below that range (`net.ipv4.ip_local_port_range`), where only an explicit bind can. The
/// pick is spread by process and by call, and checked free when made.
pub fn port_for_later() -> SocketAddr {
    use std::sync::atomic::{AtomicU32, Ordering};
    static CALLS: AtomicU32 = AtomicU32::new(0);
    let low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|r| r.split_whitespace().next()?.parse::<u32>().ok())
        .unwrap_or(32_768);
    let first = 10_000;
    if low <= first + 1_000 {
        // No room below the range: a port-0 pick, as before.
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        return l.local_addr().unwrap();
    }
    let span = low - first;
    let seed = std::process::id().wrapping_mul(7_919);
    for _ in 0..span {
        let n = CALLS.fetch_add(1, Ordering::Relaxed);
        let port = first + seed.wrapping_add(n.wrapping_mul(101)) % span;
        let addr = SocketAddr::from(([127, 0, 0, 1], port as u16));
        if std::net::TcpListener::bind(addr).is_ok() {
            return addr;
        }
    }
    panic!("no free loopback port below {low}")
}

/// A listener on `at`. A port a test let go of (to bring a peer back on it) may meanwhile be
/// the local end of another test's connection: binding is tried again for up to 5 s.
pub async fn bind_again(at: SocketAddr) -> TcpListener {
    for _ in 0..100 {
        match TcpListener::bind(at).await {
            Ok(l) => return l,
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse && at.port() != 0 => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("bind {at}: {e}"),
        }
    }
    panic!("{at} stayed in use for 5 s")
}

async fn serve_xmpp_on(
    pki: &Pki,
    domain: &'static str,
    listener: TcpListener,
    direct_tls: bool,
    answer_pings: bool,
) -> (SocketAddr, mpsc::Receiver<String>) {
    let addr = listener.local_addr().unwrap();
    let acceptor = pki.server(domain);
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let (acceptor, tx) = (acceptor.clone(), tx.clone());
            tokio::spawn(async move {
                let tcp = if direct_tls {
                    tcp
                } else {
                    let mut s = Text::new(tcp);
                    s.until(&["<stream:stream"]).await;
                    s.until(&[">"]).await;
                    s.send(&header(domain, "x", Some("s1"))).await;
                    s.send("<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls></stream:features>").await;
                    s.until(&["<starttls"]).await;
                    s.until(&["/>", "</starttls>"]).await;
                    s.send("<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
                        .await;
                    s.into_inner()
                };
                let tls = acceptor.accept(tcp).await.unwrap();
                let mut s = Text::new(tls);
                s.until(&["<stream:stream"]).await;
                s.until(&[">"]).await;
                s.send(&header(domain, "x", Some("s2"))).await;
                s.send("<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>EXTERNAL</mechanism></mechanisms></stream:features>").await;
                s.until(&["</auth>"]).await;
                s.send("<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>")
                    .await;
                s.until(&["<stream:stream"]).await;
                s.until(&[">"]).await;
                s.send(&header(domain, "x", Some("s3"))).await;
                s.send("<stream:features/>").await;
                loop {
                    let element = s.element().await;
                    if element == "</stream:stream>" {
                        return;
                    }
                    if answer_pings && let Some(pong) = ping_answer(&element, domain) {
                        s.send(&pong).await;
                        continue;
                    }
                    if tx.send(element).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (addr, rx)
}

/// An XMPP server connecting to parley's s2s listener as `from`, negotiated up to an
/// authenticated stream.
pub async fn xmpp_initiator(
    pki: &Pki,
    parley: SocketAddr,
    from: &str,
    to: &'static str,
) -> Text<tokio_rustls::client::TlsStream<TcpStream>> {
    xmpp_initiator_with(pki, parley, from, to, false).await
}

/// [`xmpp_initiator`], with TLS from the first byte when `direct_tls` (XEP-0368).
pub async fn xmpp_initiator_with(
    pki: &Pki,
    parley: SocketAddr,
    from: &str,
    to: &'static str,
    direct_tls: bool,
) -> Text<tokio_rustls::client::TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(parley).await.unwrap();
    let tcp = if direct_tls {
        tcp
    } else {
        let mut s = Text::new(tcp);
        s.send(&header(from, to, None)).await;
        s.until(&["<stream:stream"]).await;
        s.until(&[">"]).await;
        let features = s.until(FEATURES_END).await;
        assert!(features.contains("starttls"), "{features}");
        s.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
            .await;
        s.until(&["<proceed"]).await;
        s.until(&["/>"]).await;
        s.into_inner()
    };
    let tls = pki
        .client(from)
        .connect(ServerName::try_from(to).unwrap(), tcp)
        .await
        .unwrap();
    let mut s = Text::new(tls);
    s.send(&header(from, to, None)).await;
    s.until(&["<stream:stream"]).await;
    s.until(&[">"]).await;
    let features = s.until(FEATURES_END).await;
    assert!(features.contains("EXTERNAL"), "{features}");
    let authzid = base64::engine::general_purpose::STANDARD.encode(from);
    s.send(&format!(
        "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='EXTERNAL'>{authzid}</auth>"
    ))
    .await;
    let outcome = s.until(&["/>", "</failure>"]).await;
    assert!(outcome.contains("<success"), "{outcome}");
    s.send(&header(from, to, None)).await;
    s.until(&["<stream:stream"]).await;
    s.until(&[">"]).await;
    s.until(FEATURES_END).await;
    s
}

/// A SIP proxy for `domain` accepting parley's TLS connections. Requests go on the channel;
/// each is answered 404 when its Request-URI user is `nobody`, else 200.
pub async fn sip_proxy(pki: &Pki, domain: &'static str) -> (SocketAddr, mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = pki.server(domain);
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let (acceptor, tx) = (acceptor.clone(), tx.clone());
            tokio::spawn(async move {
                let tls = acceptor.accept(tcp).await.unwrap();
                let mut s = Text::new(tls);
                loop {
                    let req = read_sip(&mut s).await;
                    let code = if req.starts_with("MESSAGE sip:nobody@") {
                        "404 Not Found"
                    } else {
                        "200 OK"
                    };
                    let resp = response_to(&req, code);
                    s.send(&resp).await;
                    if tx.send(req).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (addr, rx)
}

/// Read one SIP message (head + Content-Length body) as text.
pub async fn read_sip<S: AsyncRead + AsyncWrite + Unpin>(s: &mut Text<S>) -> String {
    let head = s.until(&["\r\n\r\n"]).await;
    let len: usize = head
        .lines()
        .find_map(|l| {
            l.strip_prefix("Content-Length:")
                .or_else(|| l.strip_prefix("l:"))
        })
        .map(|v| v.trim().parse().unwrap())
        .unwrap_or(0);
    let body = s.exact(len).await;
    head + &body
}

/// A response copying Via, From, To, Call-ID and CSeq.
pub fn response_to(req: &str, status: &str) -> String {
    let mut out = format!("SIP/2.0 {status}\r\n");
    // Header lines only: a CPIM body has From and To lines of its own.
    let head = req.split("\r\n\r\n").next().unwrap_or(req);
    for line in head.lines() {
        let name = line.split(':').next().unwrap_or("");
        if ["Via", "From", "Call-ID", "CSeq", "v", "f", "i"].contains(&name) {
            out.push_str(line);
            out.push_str("\r\n");
        } else if name == "To" || name == "t" {
            out.push_str(line);
            out.push_str(";tag=proxy1\r\n");
        }
    }
    out.push_str("Content-Length: 0\r\n\r\n");
    out
}

/// A SIP client connected to parley's SIP listener, presenting `domain`'s certificate.
pub async fn sip_client(
    pki: &Pki,
    parley: SocketAddr,
    domain: &str,
    server_name: &'static str,
) -> Text<tokio_rustls::client::TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(parley).await.unwrap();
    let tls = pki
        .client(domain)
        .connect(ServerName::try_from(server_name).unwrap(), tcp)
        .await
        .unwrap();
    Text::new(tls)
}

/// A MESSAGE request.
pub fn sip_message(from: &str, to: &str, call_id: &str, body: &str) -> String {
    format!(
        "MESSAGE sip:{to} SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:5999;branch=z9hG4bK-{}\r\nMax-Forwards: 70\r\nFrom: \"Alice\" <sip:{from}>;tag=a1\r\nTo: <sip:{to}>\r\nCall-ID: {call_id}\r\nCSeq: 1 MESSAGE\r\nContent-Type: text/plain;charset=UTF-8\r\nContent-Length: {}\r\n\r\n{body}",
        call_id.replace(['@', '.'], "-"),
        body.len()
    )
}

/// The value of attribute `name` in the first tag of `xml`.
pub fn attr<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    let tag_end = xml.find('>')?;
    let tag = &xml[..tag_end];
    for q in ['\'', '"'] {
        let pat = format!(" {name}={q}");
        if let Some(i) = tag.find(&pat) {
            let rest = &tag[i + pat.len()..];
            return rest.find(q).map(|j| &rest[..j]);
        }
    }
    None
}

/// Connect to parley's s2s listener as `from` → `to` and secure the stream with STARTTLS
/// through `tls` (with or without a client certificate); returns the TLS stream and the
/// features parley offered on it, before any authentication.
pub async fn xmpp_secured(
    parley: SocketAddr,
    from: &str,
    to: &'static str,
    tls: tokio_rustls::TlsConnector,
) -> (Text<tokio_rustls::client::TlsStream<TcpStream>>, String) {
    let tcp = TcpStream::connect(parley).await.unwrap();
    let mut s = Text::new(tcp);
    s.send(&header(from, to, None)).await;
    s.until(FEATURES_END).await;
    s.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
        .await;
    s.until(&["<proceed"]).await;
    s.until(&["/>"]).await;
    let tls = tls
        .connect(ServerName::try_from(to).unwrap(), s.into_inner())
        .await
        .unwrap();
    let mut s = Text::new(tls);
    s.send(&header(from, to, None)).await;
    s.until(&["<stream:stream"]).await;
    s.until(&[">"]).await;
    let features = s.until(FEATURES_END).await;
    (s, features)
}

/// The answer a server gives to an XEP-0199 ping from parley (which confirms, by its arrival,
/// every stanza written before the ping); `None` for any other element.
pub fn ping_answer(element: &str, domain: &str) -> Option<String> {
    if !element.starts_with("<iq")
        || attr(element, "type") != Some("get")
        || !element.contains("<ping xmlns='urn:xmpp:ping'")
    {
        return None;
    }
    let id = attr(element, "id")?;
    let from = attr(element, "from").unwrap_or("sip.test");
    Some(format!(
        "<iq type='result' id='{id}' from='{domain}' to='{from}'/>"
    ))
}

/// The value of header `name` in a SIP message given as text (the first one, trimmed).
pub fn sip_header<'a>(msg: &'a str, name: &str) -> Option<&'a str> {
    msg.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
        .map(str::trim)
}

/// The next item on `rx` that `want` accepts, skipping others (bounded by `T` each and 50
/// items).
pub async fn next_matching(
    rx: &mut mpsc::Receiver<String>,
    what: &str,
    want: impl Fn(&str) -> bool,
) -> String {
    for _ in 0..50 {
        let item = tokio::time::timeout(T, rx.recv())
            .await
            .unwrap_or_else(|_| panic!("in time: {what}"))
            .expect("open");
        if want(&item) {
            return item;
        }
    }
    panic!("never: {what}");
}
