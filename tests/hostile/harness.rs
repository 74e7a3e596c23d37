//! The runner for the hostile table: a lab (the `parley` binary, stand-in SIP proxy and XMPP
//! server, test PKI), one case = action + expected peer-visible result + counted metric, and
//! the check that an ordinary peer is still served afterwards.

use std::collections::BTreeMap;
use std::time::Duration;

use rustls_pki_types::ServerName;
use tokio::net::TcpStream;
use tokio::time::timeout;

use crate::common::daemon::Daemon;
use crate::common::peers::{self, T};
use crate::common::pki::Pki;
use crate::common::wire::{self, Mailbox, Seen};

/// How long a case waits for parley's answer (above the 3 s idle timeouts of the lab).
const WAIT: Duration = Duration::from_secs(12);

/// Which listener a raw connection goes to.
#[derive(Debug, Clone, Copy)]
pub enum Port {
    Sip,
    Xmpp,
    XmppTls,
}

/// What the hostile peer does.
pub enum Action {
    /// Bytes on a SIP TLS connection authenticated as sip.test (nothing: an idle connection).
    Sip(Vec<u8>),
    /// Bytes on a SIP TLS connection presenting this client certificate ("" for none).
    SipAs(&'static str, Vec<u8>),
    /// Bytes on a SIP TLS connection, one per second.
    SipSlow(Vec<u8>),
    /// Requests on one SIP connection, each answered before the next is sent.
    SipFlood(Vec<Vec<u8>>),
    /// Bytes on an XMPP s2s stream authenticated as xmpp.test (nothing: an idle stream).
    Xmpp(Vec<u8>),
    /// Bytes on an authenticated XMPP stream, one per second.
    XmppSlow(Vec<u8>),
    /// Raw bytes on a plain TCP connection to a listener.
    Raw(Port, Vec<u8>),
    /// A TLS handshake presenting this client certificate, then `bytes`: to the SIP port
    /// directly, or to the XMPP port after a STARTTLS prelude.
    Tls(Port, &'static str, Vec<u8>),
    /// Raw bytes on a plain TCP connection to a listener, one per second.
    RawSlow(Port, Vec<u8>),
    /// This many connections to a listener from [`FLOOD_SOURCE`], held open; then one more
    /// from there, which is the one observed.
    Flood(Port, usize),
}

/// The source address of connection floods (loopback, but not the other cases' 127.0.0.1,
/// so that the per-address bound they trip leaves the other cases alone).
pub const FLOOD_SOURCE: &str = "127.0.0.2";

/// What the hostile peer must see.
pub enum Expect {
    /// Exactly these SIP responses ("code reason"), in order; then the connection closes when
    /// `closes`.
    Sip(Vec<&'static str>, bool),
    /// The connection closes without a byte.
    Closed,
    /// An XMPP stream error with this condition, then the end of the stream.
    Stream(&'static str),
    /// An error stanza with this condition, about the stanza whose id is the case name, sent
    /// back to the XMPP peer over parley's own outbound stream.
    Bounce(&'static str),
    /// A SIP request carrying the case name reaches the SIP proxy and passes the check.
    ToSip(fn(&str) -> Result<(), String>),
    /// An XMPP stanza carrying the case name reaches the XMPP server and passes the check
    /// (and the SIP sender got a 2xx).
    ToXmpp(fn(&str) -> Result<(), String>),
    /// The TLS session fails with this alert (as rustls names it).
    TlsAlert(&'static str),
    /// These raw bytes come back, then the connection closes.
    Bytes(&'static [u8]),
    /// The peer sees this text, then the connection closes.
    Contains(&'static str),
}

/// One row of the table.
pub struct Case {
    pub name: String,
    pub action: Action,
    pub expect: Expect,
    /// The series that must increase: name and labels it must carry.
    pub metric: (&'static str, Vec<(&'static str, &'static str)>),
}

impl Case {
    pub fn new(
        name: impl Into<String>,
        action: Action,
        expect: Expect,
        metric: &'static str,
        labels: &[(&'static str, &'static str)],
    ) -> Case {
        Case {
            name: name.into(),
            action,
            expect,
            metric: (metric, labels.to_vec()),
        }
    }

    fn protocol(&self) -> &'static str {
        match &self.action {
            Action::Sip(_) | Action::SipAs(..) | Action::SipSlow(_) | Action::SipFlood(_) => "sip",
            Action::Raw(Port::Sip, _) | Action::Tls(Port::Sip, ..) => "sip",
            Action::RawSlow(Port::Sip, _) | Action::Flood(Port::Sip, _) => "sip",
            _ => "xmpp",
        }
    }
}

/// The daemon and its stand-in peers.
pub struct Lab {
    pub pki: Pki,
    pub daemon: tokio::sync::Mutex<Daemon>,
    pub sip: std::net::SocketAddr,
    pub xmpp: std::net::SocketAddr,
    pub xmpp_tls: std::net::SocketAddr,
    pub admin: std::net::SocketAddr,
    /// What parley sent to the XMPP server (relayed messages and bounces).
    pub to_xmpp: Mailbox,
    /// What parley sent to the SIP proxy.
    pub to_sip: Mailbox,
}

impl Lab {
    pub async fn start(tag: &str) -> Lab {
        let pki =
            crate::common::badpki::with_bad_certs(tag, &["sip.test", "sip2.test", "xmpp.test"]);
        let (xmpp_hop, stanzas) = peers::xmpp_server(&pki, "xmpp.test").await;
        let (sip_hop, requests) = peers::sip_proxy(&pki, "sip.test").await;
        let d = pki.dir.display();
        let config = format!(
            r#"
state_dir = "{d}/state"
[log]
level = "info"
[tls]
ca_file = "{d}/ca.crt"
[metrics]
listen = "127.0.0.1:0"
[sip]
listen_tls = ["127.0.0.1:0"]
bounce_window_ms = 200
idle_timeout_ms = 3000
[xmpp]
listen = ["127.0.0.1:0"]
listen_tls = ["127.0.0.1:0"]
connect_timeout_ms = 2000
delivery_timeout_ms = 3000
idle_timeout_ms = 3000
negotiation_timeout_ms = 4000
preauth_max_bytes = 32768
[connections]
max_per_ip = 64
[policy.limits]
sender_rate = 0.05
sender_burst = 5
max_message_bytes = 8192
[[domain]]
name = "sip.test"
side = "sip"
next_hop = "{sip_hop}"
cert_file = "{d}/sip.test.crt"
key_file = "{d}/sip.test.key"
[[domain]]
name = "sip2.test"
side = "sip"
next_hop = "{sip_hop}"
cert_file = "{d}/sip2.test.crt"
key_file = "{d}/sip2.test.key"
[[domain]]
name = "xmpp.test"
side = "xmpp"
next_hop = "{xmpp_hop}"
cert_file = "{d}/xmpp.test.crt"
key_file = "{d}/xmpp.test.key"
"#
        );
        let file = pki.dir.join("parley.toml");
        std::fs::write(&file, config).unwrap();
        let daemon = Daemon::start(&file).await;
        Lab {
            sip: daemon.sip,
            xmpp: daemon.xmpp,
            xmpp_tls: daemon.xmpp_tls.expect("direct TLS listener"),
            admin: daemon.admin,
            daemon: tokio::sync::Mutex::new(daemon),
            to_xmpp: Mailbox::collect(stanzas),
            to_sip: Mailbox::collect(requests),
            pki,
        }
    }

    /// The address of a listener.
    pub fn addr(&self, port: Port) -> std::net::SocketAddr {
        match port {
            Port::Sip => self.sip,
            Port::Xmpp => self.xmpp,
            Port::XmppTls => self.xmpp_tls,
        }
    }

    /// The daemon process is still running.
    pub async fn assert_alive(&self) {
        assert!(self.daemon.lock().await.alive(), "parley exited");
    }

    async fn sample(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let mut s = TcpStream::connect(self.admin).await.unwrap();
        wire::write(
            &mut s,
            b"GET /metrics HTTP/1.1\r\nHost: parley\r\nConnection: close\r\n\r\n",
        )
        .await
        .unwrap();
        let seen = wire::read_until(&mut s, T, |_| false).await;
        assert!(seen.text.starts_with("HTTP/1.1 200"), "{}", seen.text);
        crate::common::daemon::sample(&seen.text, name, labels)
    }

    /// Every series of `name` with a non-zero value (for failure messages).
    async fn series(&self, name: &str) -> Vec<String> {
        let mut s = TcpStream::connect(self.admin).await.unwrap();
        wire::write(
            &mut s,
            b"GET /metrics HTTP/1.1\r\nHost: parley\r\nConnection: close\r\n\r\n",
        )
        .await
        .unwrap();
        let seen = wire::read_until(&mut s, T, |_| false).await;
        seen.text
            .lines()
            .filter(|l| l.starts_with(name) && !l.ends_with(" 0"))
            .map(str::to_owned)
            .collect()
    }

    async fn sip_tls(
        &self,
        cert: &str,
    ) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
        let connector = if cert.is_empty() {
            self.pki.anonymous_client()
        } else {
            self.pki.client(cert)
        };
        let tcp = TcpStream::connect(self.sip).await?;
        connector
            .connect(ServerName::try_from("xmpp.test").unwrap(), tcp)
            .await
    }

    async fn xmpp_stream(&self) -> tokio_rustls::client::TlsStream<TcpStream> {
        peers::xmpp_initiator(&self.pki, self.xmpp, "xmpp.test", "sip.test")
            .await
            .into_inner()
    }

    /// The plain STARTTLS prelude up to `<proceed/>`.
    async fn xmpp_proceed(&self) -> TcpStream {
        let tcp = TcpStream::connect(self.xmpp).await.unwrap();
        let mut s = peers::Text::new(tcp);
        s.send(&stream_header("xmpp.test", "sip.test")).await;
        s.until(&["</stream:features>"]).await;
        s.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
            .await;
        s.until(&["/>"]).await;
        s.into_inner()
    }

    /// STARTTLS on the XMPP port presenting `cert`; the TLS stream, or the error.
    async fn xmpp_starttls(
        &self,
        cert: &str,
    ) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
        let tcp = self.xmpp_proceed().await;
        self.pki
            .client(cert)
            .connect(ServerName::try_from("sip.test").unwrap(), tcp)
            .await
    }
}

/// An s2s stream header from `from` to `to`.
pub fn stream_header(from: &str, to: &str) -> String {
    format!(
        "<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' from='{from}' to='{to}' version='1.0'>"
    )
}

/// Run every case; returns the failures, one line each.
pub async fn run_all(lab: std::sync::Arc<Lab>, cases: Vec<Case>) -> Vec<String> {
    let mut groups: BTreeMap<String, Vec<Case>> = BTreeMap::new();
    for c in cases {
        let key = format!("{}{:?}", c.metric.0, c.metric.1);
        groups.entry(key).or_default().push(c);
    }
    let mut set = tokio::task::JoinSet::new();
    for (_, group) in groups {
        let lab = lab.clone();
        set.spawn(async move {
            let mut failures = Vec::new();
            for case in group {
                let name = case.name.clone();
                match timeout(Duration::from_secs(40), run_one(&lab, case)).await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => failures.push(format!("{name}: {e}")),
                    Err(_) => failures.push(format!("{name}: the case did not finish in 40 s")),
                }
            }
            failures
        });
    }
    let mut failures = Vec::new();
    while let Some(r) = set.join_next().await {
        failures.extend(r.expect("case group panicked"));
    }
    failures.sort();
    failures
}

async fn run_one(lab: &Lab, case: Case) -> Result<(), String> {
    let (metric, labels) = (&case.metric.0, case.metric.1.clone());
    let before = lab.sample(metric, &labels).await;
    let seen = act(lab, &case).await?;
    check(lab, &case, &seen).await?;
    // The counter may be bumped just after the peer saw the error.
    let mut after = lab.sample(metric, &labels).await;
    for _ in 0..30 {
        if after > before {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        after = lab.sample(metric, &labels).await;
    }
    if after <= before {
        return Err(format!(
            "{metric}{labels:?} did not increase (stayed {before}); peer saw {:?}; series now: {:?}",
            seen.text,
            lab.series(metric).await
        ));
    }
    still_served(lab, &case).await
}

/// Perform the action; what the peer saw.
async fn act(lab: &Lab, case: &Case) -> Result<Seen, String> {
    let done = done_when(&case.expect);
    Ok(match &case.action {
        Action::Sip(bytes) | Action::SipAs(_, bytes) => {
            let cert = match &case.action {
                Action::SipAs(c, _) => c,
                _ => "sip.test",
            };
            let mut io = lab.sip_tls(cert).await.map_err(|e| format!("TLS: {e}"))?;
            wire::write(&mut io, bytes)
                .await
                .map_err(|e| e.to_string())?;
            wire::read_until(&mut io, WAIT, done).await
        }
        Action::SipSlow(bytes) => {
            let mut io = lab.sip_tls("sip.test").await.map_err(|e| e.to_string())?;
            slow(&mut io, bytes, done).await
        }
        Action::SipFlood(requests) => {
            let mut io = lab.sip_tls("sip.test").await.map_err(|e| e.to_string())?;
            let mut text = String::new();
            for (i, r) in requests.iter().enumerate() {
                wire::write(&mut io, r).await.map_err(|e| e.to_string())?;
                let seen = wire::read_until(&mut io, WAIT, |t| {
                    !wire::sip_statuses(t).is_empty() && t.ends_with("\r\n\r\n")
                })
                .await;
                if wire::sip_statuses(&seen.text).is_empty() {
                    return Err(format!("no answer to flood request {i}: {seen:?}"));
                }
                text.push_str(&seen.text);
            }
            Seen {
                text,
                closed: false,
            }
        }
        Action::Xmpp(bytes) => {
            let mut io = lab.xmpp_stream().await;
            wire::write(&mut io, bytes)
                .await
                .map_err(|e| e.to_string())?;
            wire::read_until(&mut io, WAIT, done).await
        }
        Action::XmppSlow(bytes) => {
            let mut io = lab.xmpp_stream().await;
            slow(&mut io, bytes, done).await
        }
        Action::Raw(port, bytes) => {
            let addr = match port {
                Port::Sip => lab.sip,
                Port::Xmpp => lab.xmpp,
                Port::XmppTls => lab.xmpp_tls,
            };
            let mut io = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
            wire::write(&mut io, bytes)
                .await
                .map_err(|e| e.to_string())?;
            wire::read_until(&mut io, WAIT, done).await
        }
        Action::RawSlow(port, bytes) => {
            let mut io = TcpStream::connect(lab.addr(*port))
                .await
                .map_err(|e| e.to_string())?;
            slow(&mut io, bytes, done).await
        }
        Action::Flood(port, n) => {
            let addr = lab.addr(*port);
            let mut held = Vec::with_capacity(*n);
            for i in 0..*n {
                held.push(
                    connect_from(addr)
                        .await
                        .map_err(|e| format!("flood {i}: {e}"))?,
                );
            }
            let mut io = connect_from(addr).await.map_err(|e| e.to_string())?;
            let seen = wire::read_until(&mut io, WAIT, done).await;
            drop(held);
            seen
        }
        Action::Tls(port, cert, bytes) => {
            if *cert == "plain" {
                // The STARTTLS prelude, then plain text where the ClientHello belongs.
                let mut io = lab.xmpp_proceed().await;
                wire::write(&mut io, bytes)
                    .await
                    .map_err(|e| e.to_string())?;
                return Ok(wire::read_until(&mut io, WAIT, done).await);
            }
            let tls = match port {
                Port::Sip => lab.sip_tls(cert).await,
                _ => lab.xmpp_starttls(cert).await,
            };
            let mut io = match tls {
                Ok(io) => io,
                Err(e) => {
                    return Ok(Seen {
                        text: format!("TLS error: {e}"),
                        closed: true,
                    });
                }
            };
            if let Err(e) = wire::write(&mut io, bytes).await {
                return Ok(Seen {
                    text: format!("TLS error: {e}"),
                    closed: true,
                });
            }
            // A TLS 1.3 client finishes before the server has checked its certificate: the
            // alert arrives on the first read.
            read_tls(&mut io).await
        }
    })
}

/// A TCP connection to `addr` from [`FLOOD_SOURCE`].
async fn connect_from(addr: std::net::SocketAddr) -> std::io::Result<TcpStream> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.bind(format!("{FLOOD_SOURCE}:0").parse().unwrap())?;
    socket.connect(addr).await
}

async fn read_tls(io: &mut tokio_rustls::client::TlsStream<TcpStream>) -> Seen {
    use tokio::io::AsyncReadExt;
    let mut buf = vec![0u8; 4096];
    let mut text = String::new();
    loop {
        match timeout(WAIT, io.read(&mut buf)).await {
            Ok(Ok(0)) => return Seen { text, closed: true },
            Ok(Ok(n)) => text.push_str(&String::from_utf8_lossy(&buf[..n])),
            Ok(Err(e)) => {
                text.push_str(&format!("TLS error: {e}"));
                return Seen { text, closed: true };
            }
            Err(_) => {
                return Seen {
                    text,
                    closed: false,
                };
            }
        }
    }
}

async fn slow<S>(io: &mut S, bytes: &[u8], done: impl Fn(&str) -> bool + Copy) -> Seen
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    for b in bytes {
        if wire::write(io, &[*b]).await.is_err() {
            break;
        }
        let seen = wire::read_until(io, Duration::from_secs(1), done).await;
        if seen.closed || done(&seen.text) {
            return seen;
        }
        if !seen.text.is_empty() {
            // The answer began late in this byte's second: the rest of it, and the close
            // after it, get the full wait (a loaded machine may take longer than what was
            // left of the second).
            let rest = wire::read_until(io, WAIT, |t: &str| done(&(seen.text.clone() + t))).await;
            return wire::Seen {
                text: seen.text + &rest.text,
                closed: rest.closed,
            };
        }
    }
    wire::read_until(io, WAIT, done).await
}

/// When to stop reading: as soon as the expected result is complete.
fn done_when(expect: &Expect) -> impl Fn(&str) -> bool + Copy + use<> {
    let want = match expect {
        Expect::Sip(statuses, false) => statuses.len(),
        Expect::ToXmpp(_) => 1,
        Expect::ToSip(_) | Expect::Bounce(_) => usize::MAX - 1,
        _ => usize::MAX,
    };
    move |t: &str| {
        if want == usize::MAX - 1 {
            // Nothing comes back on the sending stream: do not wait for it.
            return true;
        }
        want != usize::MAX && wire::sip_statuses(t).len() >= want && t.ends_with("\r\n\r\n")
    }
}

async fn check(lab: &Lab, case: &Case, seen: &Seen) -> Result<(), String> {
    let name = &case.name;
    match &case.expect {
        Expect::Sip(want, closes) => {
            let got = wire::sip_statuses(&seen.text);
            if got != *want {
                return Err(format!(
                    "SIP responses {got:?}, want {want:?}: {:?}",
                    seen.text
                ));
            }
            if *closes && !seen.closed {
                return Err("connection left open".into());
            }
        }
        Expect::Closed => {
            if !seen.closed || !seen.text.is_empty() {
                return Err(format!("want a silent close, saw {seen:?}"));
            }
        }
        Expect::Stream(condition) => {
            let want = format!("<stream:error><{condition} ");
            if !seen.text.contains(&want) || !seen.text.contains("</stream:stream>") {
                return Err(format!(
                    "want stream error {condition}, saw {:?}",
                    seen.text
                ));
            }
            if !seen.closed {
                return Err("stream not closed after the stream error".into());
            }
        }
        Expect::Bounce(condition) => {
            let bounce = lab
                .to_xmpp
                .find(WAIT, |s| {
                    peers::attr(s, "id") == Some(name.as_str())
                        && peers::attr(s, "type") == Some("error")
                })
                .await
                .ok_or_else(|| {
                    format!("no error stanza with id {name}; stream saw {:?}", seen.text)
                })?;
            if !bounce.contains(&format!("<{condition} ")) {
                return Err(format!("want {condition}: {bounce}"));
            }
        }
        Expect::ToSip(ok) => {
            let req = lab
                .to_sip
                .find(WAIT, |r| r.contains(name.as_str()))
                .await
                .ok_or_else(|| {
                    format!("nothing reached the SIP proxy; stream saw {:?}", seen.text)
                })?;
            ok(&req).map_err(|e| format!("{e}: {req:?}"))?;
        }
        Expect::ToXmpp(ok) => {
            let got = wire::sip_statuses(&seen.text);
            if !got.first().is_some_and(|s| s.starts_with('2')) {
                return Err(format!("want a 2xx, saw {:?}", seen.text));
            }
            let stanza = lab
                .to_xmpp
                .find(WAIT, |s| s.contains(name.as_str()))
                .await
                .ok_or("nothing reached the XMPP server")?;
            ok(&stanza).map_err(|e| format!("{e}: {stanza:?}"))?;
        }
        Expect::TlsAlert(alert) => {
            if !seen.text.contains(alert) || !seen.closed {
                return Err(format!("want TLS alert {alert}, saw {seen:?}"));
            }
        }
        Expect::Contains(want) => {
            if !seen.text.contains(want) || !seen.closed {
                return Err(format!("want {want:?} then close, saw {seen:?}"));
            }
        }
        Expect::Bytes(want) => {
            if !seen.text.as_bytes().starts_with(want) || !seen.closed {
                return Err(format!("want {want:?} then close, saw {seen:?}"));
            }
        }
    }
    Ok(())
}

/// An ordinary peer of the same protocol is served after the case.
async fn still_served(lab: &Lab, case: &Case) -> Result<(), String> {
    let name = &case.name;
    let body = format!("after {name}");
    if case.protocol() == "sip" {
        let mut ua = peers::sip_client(&lab.pki, lab.sip, "sip.test", "xmpp.test").await;
        ua.send(&peers::sip_message(
            &format!("good-{name}@sip.test"),
            "juliet@xmpp.test",
            &format!("good-{name}@host"),
            &body,
        ))
        .await;
        let resp = timeout(T, peers::read_sip(&mut ua))
            .await
            .map_err(|_| "no answer to a good MESSAGE")?;
        if !resp.starts_with("SIP/2.0 202 ") {
            return Err(format!("good MESSAGE answered {resp:?}"));
        }
        lab.to_xmpp
            .find(T, |s| s.contains(&format!("<body>{body}</body>")))
            .await
            .ok_or("the good MESSAGE did not reach XMPP")?;
    } else {
        let mut peer = lab.xmpp_stream().await;
        wire::write(&mut peer, format!("<message from='good-{name}@xmpp.test/r' to='bob@sip.test' type='chat' id='good-{name}'><body>{body}</body></message>").as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        lab.to_sip
            .find(T, |r| r.ends_with(&format!("\r\n\r\n{body}")))
            .await
            .ok_or("the good XMPP message did not reach SIP")?;
    }
    Ok(())
}
