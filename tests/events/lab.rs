//! The daemon and stand-in peers the events tests run against, and the SIP and XMPP texts
//! they send.

use std::net::SocketAddr;
use std::time::Duration;

use crate::common::daemon::Daemon;
use crate::common::peers::*;
use crate::common::pki::Pki;
use tokio::net::TcpStream;
use tokio::sync::mpsc::Receiver;
use tokio::time::timeout;

pub type Tls = Text<tokio_rustls::client::TlsStream<TcpStream>>;

pub const CHATSTATES: &str = "http://jabber.org/protocol/chatstates";
pub const RECEIPTS: &str = "urn:xmpp:receipts";
pub const MARKERS: &str = "urn:xmpp:chat-markers:0";

/// The daemon with a stand-in XMPP server and SIP proxy behind it.
pub struct Lab {
    pub pki: Pki,
    pub d: Daemon,
    /// What parley sent to the XMPP server.
    pub stanzas: Receiver<String>,
    /// What parley sent to the SIP proxy.
    pub requests: Receiver<String>,
}

/// A loopback port nothing listens on (a peer that is down).
pub async fn closed_port() -> SocketAddr {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap()
}

impl Lab {
    /// `extra` is appended to the config (policy, more domains). `down.test` (XMPP) and
    /// `sipdown.test` (SIP) are served with next hops where nothing listens.
    pub async fn start(tag: &str, extra: &str) -> Lab {
        let pki = Pki::new(
            &format!("events-{tag}"),
            &["sip.test", "xmpp.test", "down.test", "sipdown.test"],
        );
        let (xmpp_hop, stanzas) = xmpp_server(&pki, "xmpp.test").await;
        let (sip_hop, requests) = sip_proxy(&pki, "sip.test").await;
        let down = closed_port().await;
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
[audit]
output = "file"
path = "{d}/audit.log"
[sip]
listen_tls = ["127.0.0.1:0"]
bounce_window_ms = 200
[xmpp]
listen = ["127.0.0.1:0"]
connect_timeout_ms = 1000
delivery_timeout_ms = 1500
[spool]
deadline_ms = 3000
retry_initial_ms = 500
retry_max_ms = 1000
[[domain]]
name = "sip.test"
side = "sip"
next_hop = "{sip_hop}"
cert_file = "{d}/sip.test.crt"
key_file = "{d}/sip.test.key"
[[domain]]
name = "sipdown.test"
side = "sip"
next_hop = "{down}"
cert_file = "{d}/sipdown.test.crt"
key_file = "{d}/sipdown.test.key"
[[domain]]
name = "xmpp.test"
side = "xmpp"
next_hop = "{xmpp_hop}"
cert_file = "{d}/xmpp.test.crt"
key_file = "{d}/xmpp.test.key"
[[domain]]
name = "down.test"
side = "xmpp"
next_hop = "{down}"
cert_file = "{d}/down.test.crt"
key_file = "{d}/down.test.key"
{extra}
"#
        );
        let file = pki.dir.join("parley.toml");
        std::fs::write(&file, config).unwrap();
        let d = Daemon::start(&file).await;
        Lab {
            pki,
            d,
            stanzas,
            requests,
        }
    }

    /// Kill parley (SIGKILL, as a crash) and start it again on the same configuration and
    /// state; connections to it must be opened again.
    pub async fn crash_and_restart(&mut self) {
        self.d.kill();
        self.d = Daemon::start(&self.pki.dir.join("parley.toml")).await;
    }

    /// An XMPP server for xmpp.test connected to parley's s2s listener, for `local`.
    pub async fn xmpp(&self, local: &'static str) -> Tls {
        xmpp_initiator(&self.pki, self.d.xmpp, "xmpp.test", local).await
    }

    /// A SIP proxy for sip.test connected to parley's SIP listener.
    pub async fn sip(&self) -> Tls {
        sip_client(&self.pki, self.d.sip, "sip.test", "xmpp.test").await
    }

    pub async fn request(&mut self) -> String {
        timeout(T, self.requests.recv()).await.unwrap().unwrap()
    }

    pub async fn stanza(&mut self) -> String {
        timeout(T, self.stanzas.recv()).await.unwrap().unwrap()
    }

    /// `parley_messages_total` for one direction, kind and outcome.
    pub async fn crossed(&self, direction: &str, kind: &str, outcome: &str) -> f64 {
        self.d
            .sample(
                "parley_messages_total",
                &[
                    ("direction", direction),
                    ("kind", kind),
                    ("outcome", outcome),
                ],
            )
            .await
    }

    /// Wait (bounded) until a counter reaches `want`; its last value.
    pub async fn counter_reaches(
        &self,
        direction: &str,
        kind: &str,
        outcome: &str,
        want: f64,
    ) -> f64 {
        let mut v = 0.0;
        for _ in 0..100 {
            v = self.crossed(direction, kind, outcome).await;
            if v >= want {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        v
    }

    /// The audit log lines written so far.
    pub fn audit(&self) -> Vec<serde_json::Value> {
        let path = self.pki.dir.join("audit.log");
        std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

impl Lab {
    /// Wait (bounded) until `want` audit lines match `pick` (the writer batches); how many do.
    pub async fn audited(&self, want: usize, pick: impl Fn(&serde_json::Value) -> bool) -> usize {
        let mut n = 0;
        for _ in 0..50 {
            n = self.audit().iter().filter(|l| pick(l)).count();
            if n >= want {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        n
    }
}

/// A MESSAGE from `from` to `to` with a body of type `ct`.
pub fn sip_msg(from: &str, to: &str, call_id: &str, ct: &str, body: &str) -> String {
    format!(
        "MESSAGE sip:{to} SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:5999;branch=z9hG4bK-{call_id}\r\nMax-Forwards: 70\r\nFrom: <sip:{from}>;tag=a1\r\nTo: <sip:{to}>\r\nCall-ID: {call_id}\r\nCSeq: 1 MESSAGE\r\nContent-Type: {ct}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

pub fn is_composing(state: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<isComposing xmlns=\"urn:ietf:params:xml:ns:im-iscomposing\"><state>{state}</state><contenttype>text/plain</contenttype></isComposing>"
    )
}

/// A CPIM-wrapped IMDN notification (RFC 5438 §7) from `from` about message `about`.
pub fn imdn(from: &str, to: &str, own_id: &str, about: &str, kind: &str, status: &str) -> String {
    format!(
        "From: <im:{from}>\r\nTo: <im:{to}>\r\nDateTime: 2026-11-22T01:00:00Z\r\nNS: imdn <urn:ietf:params:imdn>\r\nimdn.Message-ID: {own_id}\r\n\r\nContent-Type: message/imdn+xml\r\nContent-Disposition: notification\r\n\r\n<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<imdn xmlns=\"urn:ietf:params:xml:ns:imdn\"><message-id>{about}</message-id><datetime>2026-11-22T00:59:00Z</datetime><{kind}-notification><status><{status}/></status></{kind}-notification></imdn>"
    )
}

pub fn header<'r>(req: &'r str, name: &str) -> &'r str {
    let prefix = format!("{name}:");
    req.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no {name} in {req}"))
}

pub fn body(req: &str) -> &str {
    req.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("")
}

/// The CPIM payload (after the CPIM headers) of a `message/cpim` body, with its headers.
pub fn cpim(req: &str) -> (&str, &str) {
    body(req).split_once("\r\n\r\n").unwrap()
}

pub async fn status(ua: &mut Tls) -> String {
    let resp = read_sip(ua).await;
    resp.lines().next().unwrap().to_owned()
}
