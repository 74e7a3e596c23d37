//! The admin HTTP server: `/metrics` (Prometheus text exposition), `/healthz` (liveness) and
//! `/readyz` (listeners bound, config loaded), plus the systemd watchdog.
//!
//! It runs on its own thread with its own single-threaded tokio runtime, so it answers while
//! the gateway's runtime is saturated. The listener is bound synchronously by [`start`], so a
//! bad address fails start-up before readiness.
//!
//! The HTTP side is a minimal HTTP/1.1 responder rather than hyper: three fixed `GET` routes,
//! no request bodies, one response per connection (`Connection: close`), a bounded request
//! head (8 KiB) read under a deadline, and at most [`MAX_CONNECTIONS`] connections at once.
//! That is all a Prometheus scraper, a load balancer health check or `curl` needs, and keeps
//! an HTTP stack (hyper, http, h2, their services) out of the daemon.

pub mod control;

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use metrics_exporter_prometheus::PrometheusHandle;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tracing::{debug, info, warn};

/// Connections served at once; more wait in the backlog.
pub const MAX_CONNECTIONS: usize = 64;
/// Largest request head accepted.
const MAX_HEAD: usize = 8 * 1024;
/// Deadline for reading the request head and writing the response.
const IO_TIMEOUT: Duration = Duration::from_secs(5);
/// How often histogram upkeep runs.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// What the admin server reports; shared with the daemon.
#[derive(Debug, Default)]
pub struct Status {
    ready: AtomicBool,
}

impl Status {
    /// Mark the daemon ready (every listener bound, config loaded) or not (draining).
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Release);
    }

    /// Whether `/readyz` answers 200.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }
}

/// A running admin server.
#[derive(Debug)]
pub struct AdminServer {
    addr: SocketAddr,
    status: Arc<Status>,
}

impl AdminServer {
    /// The bound address (port resolved).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The readiness flag.
    pub fn status(&self) -> &Arc<Status> {
        &self.status
    }

    /// Mark ready: `/readyz` answers 200 from now on.
    pub fn set_ready(&self) {
        self.status.set_ready(true);
    }
}

/// The operations side of a running daemon: metrics recorder, admin server, audit writer.
#[derive(Debug, Default)]
pub struct Ops {
    admin: Option<AdminServer>,
}

impl Ops {
    /// Start what `config` asks for, in this order: the metrics recorder and the admin server
    /// (`[metrics] listen`), then the audit writer (`[audit]`). Call after the config is
    /// validated and before the listeners are bound; errors are start-up failures.
    pub fn start(config: &crate::config::Config) -> io::Result<Ops> {
        let admin = match config.metrics.listen {
            Some(addr) => {
                let settings = crate::metrics::Settings {
                    max_peer_domains: config.metrics.max_peer_domains,
                    configured_domains: config.domains.iter().map(|d| d.name.clone()).collect(),
                };
                let handle = crate::metrics::install(&settings).map_err(io::Error::other)?;
                let server = start(addr, Some(handle))?;
                let _ = STATUS.set(server.status.clone());
                Some(server)
            }
            None => None,
        };
        let audit = crate::audit::writer::start(&config.audit, &config.state_dir())?;
        crate::audit::install(audit);
        Ok(Ops { admin })
    }

    /// Every listener is bound: `/readyz` answers 200 from now on.
    pub fn set_ready(&self) {
        if let Some(a) = &self.admin {
            a.set_ready();
        }
    }
}

/// The readiness of the process's admin server (set by [`Ops::start`]).
static STATUS: OnceLock<Arc<Status>> = OnceLock::new();

/// Shutdown has begun: `/readyz` answers 503 from now on, `/healthz` stays 200 until exit.
/// A no-op without an admin server.
pub fn draining() {
    if let Some(s) = STATUS.get() {
        s.set_ready(false);
        info!("draining: /readyz answers 503");
    }
}

/// Bind `addr` and serve on a new thread named `parley-admin`. `metrics` is `None` when no
/// recorder is installed (then `/metrics` answers 404).
pub fn start(addr: SocketAddr, metrics: Option<PrometheusHandle>) -> io::Result<AdminServer> {
    let std_listener = std::net::TcpListener::bind(addr)?;
    std_listener.set_nonblocking(true)?;
    let local = std_listener.local_addr()?;
    let status = Arc::new(Status::default());
    let shared = status.clone();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::thread::Builder::new()
        .name("parley-admin".into())
        .spawn(move || {
            runtime.block_on(async move {
                match TcpListener::from_std(std_listener) {
                    Ok(l) => serve(l, metrics, shared).await,
                    Err(e) => warn!(error = %e, "admin server cannot use its listener"),
                }
            })
        })?;
    info!(addr = %local, "admin server: /metrics /healthz /readyz");
    Ok(AdminServer {
        addr: local,
        status,
    })
}

/// Ping the systemd watchdog at half of `WatchdogSec` from the gateway's runtime (so a stuck
/// runtime stops the pings and systemd restarts the service). A no-op without `WatchdogSec`.
pub fn spawn_watchdog() {
    let Some(period) = sd_notify::watchdog_enabled() else {
        return;
    };
    let every = (period / 2).max(Duration::from_millis(100));
    info!(
        interval_ms = every.as_millis() as u64,
        "systemd watchdog enabled"
    );
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            if let Err(e) = sd_notify::notify(&[sd_notify::NotifyState::Watchdog]) {
                warn!(error = %e, "systemd watchdog notification failed");
            }
        }
    });
}

async fn serve(listener: TcpListener, metrics: Option<PrometheusHandle>, status: Arc<Status>) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    if let Some(h) = metrics.clone() {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(UPKEEP_EVERY);
            loop {
                tick.tick().await;
                h.run_upkeep();
            }
        });
    }
    loop {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        let (tcp, peer) = match listener.accept().await {
            Ok(pair) => pair,
            Err(e) => {
                debug!(error = %e, "admin accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let (metrics, status) = (metrics.clone(), status.clone());
        tokio::spawn(async move {
            let _permit = permit;
            let served = tokio::time::timeout(IO_TIMEOUT, answer(tcp, &metrics, &status)).await;
            if !matches!(served, Ok(Ok(()))) {
                debug!(peer.addr = %peer, "admin request not served");
            }
        });
    }
}

/// A parsed request line.
#[derive(Debug, PartialEq, Eq)]
struct Request<'a> {
    head_only: bool,
    path: &'a str,
}

/// Parse the request line of a complete head; `Err` carries the status to answer.
fn parse_request(head: &[u8]) -> Result<Request<'_>, u16> {
    let line_end = head.iter().position(|&b| b == b'\n').ok_or(400u16)?;
    let line = std::str::from_utf8(&head[..line_end]).map_err(|_| 400u16)?;
    let mut parts = line.trim_end_matches('\r').split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(400);
    };
    if !version.starts_with("HTTP/1.") {
        return Err(505);
    }
    let head_only = match method {
        "GET" => false,
        "HEAD" => true,
        _ => return Err(405),
    };
    let path = target.split('?').next().unwrap_or_default();
    Ok(Request { head_only, path })
}

/// The response for a request: status, content type, body.
fn respond(
    req: &Request<'_>,
    metrics: &Option<PrometheusHandle>,
    status: &Status,
) -> (u16, &'static str, String) {
    const TEXT: &str = "text/plain; charset=utf-8";
    match req.path {
        "/metrics" => match metrics {
            Some(h) => (
                200,
                "text/plain; version=0.0.4; charset=utf-8",
                crate::metrics::render(h),
            ),
            None => (404, TEXT, "metrics are not enabled\n".into()),
        },
        "/healthz" => (200, TEXT, "ok\n".into()),
        "/readyz" if status.is_ready() => (200, TEXT, "ready\n".into()),
        "/readyz" => (503, TEXT, "not ready\n".into()),
        _ => (404, TEXT, "not found\n".into()),
    }
}

async fn answer(
    mut tcp: TcpStream,
    metrics: &Option<PrometheusHandle>,
    status: &Status,
) -> io::Result<()> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    let complete = loop {
        if buf.windows(4).any(|w| w == b"\r\n\r\n") || buf.windows(2).any(|w| w == b"\n\n") {
            break true;
        }
        if buf.len() >= MAX_HEAD {
            break false;
        }
        let n = tcp.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let (code, ctype, body, head_only) = if !complete {
        (431, "text/plain; charset=utf-8", String::new(), false)
    } else {
        match parse_request(&buf) {
            Ok(req) => {
                let (c, t, b) = respond(&req, metrics, status);
                (c, t, b, req.head_only)
            }
            Err(c) => (c, "text/plain; charset=utf-8", String::new(), false),
        }
    };
    let mut out = format!(
        "HTTP/1.1 {code} {}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n",
        reason(code),
        body.len()
    );
    if code == 405 {
        out.push_str("Allow: GET, HEAD\r\n");
    }
    out.push_str("\r\n");
    tcp.write_all(out.as_bytes()).await?;
    if !head_only {
        tcp.write_all(body.as_bytes()).await?;
    }
    tcp.shutdown().await?;
    // Read what the client still sends until it closes, so closing does not reset the
    // connection under a response it has not read yet.
    let mut drained = 0;
    while drained < 4 * MAX_HEAD {
        match tcp.read(&mut chunk).await? {
            0 => break,
            n => drained += n,
        }
    }
    Ok(())
}

fn reason(code: u16) -> &'static str {
    match code {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_lines() {
        let cases: &[(&[u8], Result<Request<'_>, u16>)] = &[
            (
                b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n",
                Ok(Request {
                    head_only: false,
                    path: "/metrics",
                }),
            ),
            (
                b"HEAD /readyz?x=1 HTTP/1.0\r\n\r\n",
                Ok(Request {
                    head_only: true,
                    path: "/readyz",
                }),
            ),
            (b"POST /metrics HTTP/1.1\r\n\r\n", Err(405)),
            (b"GET /metrics HTTP/2\r\n\r\n", Err(505)),
            (b"GET  /metrics HTTP/1.1\r\n\r\n", Err(400)),
            (b"\xff\xfe\r\n\r\n", Err(400)),
        ];
        for (input, want) in cases {
            assert_eq!(
                &parse_request(input),
                want,
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    async fn get(addr: SocketAddr, request: &str) -> String {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(request.as_bytes()).await.unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        out
    }

    #[tokio::test]
    async fn serves_health_readiness_and_metrics() {
        let recorder = crate::metrics::builder().unwrap().build_recorder();
        let handle = recorder.handle();
        ::metrics::with_local_recorder(&recorder, || {
            ::metrics::counter!(crate::metrics::RELOADS_TOTAL, "outcome" => "ok").increment(3)
        });
        let server = start("127.0.0.1:0".parse().unwrap(), Some(handle)).unwrap();
        let addr = server.local_addr();
        let r = get(addr, "GET /healthz HTTP/1.1\r\n\r\n").await;
        assert!(
            r.starts_with("HTTP/1.1 200 OK\r\n") && r.ends_with("\r\n\r\nok\n"),
            "{r}"
        );
        let r = get(addr, "GET /readyz HTTP/1.1\r\n\r\n").await;
        assert!(r.starts_with("HTTP/1.1 503 "), "{r}");
        server.set_ready();
        let r = get(addr, "GET /readyz HTTP/1.1\r\n\r\n").await;
        assert!(r.starts_with("HTTP/1.1 200 "), "{r}");
        let r = get(addr, "GET /metrics HTTP/1.1\r\nAccept: */*\r\n\r\n").await;
        assert!(r.contains("text/plain; version=0.0.4"), "{r}");
        assert!(r.contains("parley_reloads_total{outcome=\"ok\"} 3"), "{r}");
        let r = get(addr, "HEAD /metrics HTTP/1.1\r\n\r\n").await;
        assert!(r.ends_with("\r\n\r\n"), "{r}");
        let r = get(addr, "GET /nope HTTP/1.1\r\n\r\n").await;
        assert!(r.starts_with("HTTP/1.1 404 "), "{r}");
        let big = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(MAX_HEAD));
        let r = get(addr, &big).await;
        assert!(r.starts_with("HTTP/1.1 431 "), "{r}");
    }
}
