//! `--send` against small responders on the loopback (UDP, TCP, TLS, XMPP).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use bytes::BytesMut;
use rustls::pki_types::pem::PemObject;

use super::*;
use crate::sip::framing::{StreamItem, frame_stream};
use crate::sip::{SipLimits, SipMessage};
use crate::xmpp::stanza::{Element, IqType, parse_element};
use crate::xmpp::{Frame, Framer, StreamHeader, XmppLimits};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("protocol-tests/captures")
        .join(name)
}

/// A final response to `req`: 404 for `nobody@`, 200 otherwise.
fn answer(req: &[u8]) -> Option<Vec<u8>> {
    let m = SipMessage::parse(bytes::Bytes::copy_from_slice(req), &SipLimits::default()).ok()?;
    m.method()?;
    let code = if m.request_uri()?.contains("nobody@") {
        "404 Not Found"
    } else {
        "200 OK"
    };
    let head = std::str::from_utf8(&req[..m.head_len()]).ok()?;
    let mut out = format!("SIP/2.0 {code}\r\n");
    for line in head.split("\r\n").skip(1) {
        let name = line.split(':').next().unwrap_or("");
        if ["Via", "From", "To", "Call-ID", "CSeq"].contains(&name) {
            out.push_str(line);
            out.push_str("\r\n");
        }
    }
    out.push_str("Content-Length: 0\r\n\r\n");
    Some(out.into_bytes())
}

/// Serve SIP over one stream: answer every request.
fn serve_sip_stream(mut s: impl Read + Write) {
    let mut buf = BytesMut::new();
    let mut chunk = [0u8; 4096];
    while let Ok(n) = s.read(&mut chunk) {
        if n == 0 {
            return;
        }
        buf.extend_from_slice(&chunk[..n]);
        while let Ok(Some(StreamItem::Message { len })) = frame_stream(&buf, &SipLimits::default())
        {
            let req = buf.split_to(len);
            if let Some(a) = answer(&req) {
                let _ = s.write_all(&a);
            }
        }
    }
}

fn opts(capture: &str, send: SendOptions) -> ReplayOptions {
    let mut o = ReplayOptions::new(vec![fixture(capture)]);
    o.progress = false;
    o.mode = Mode::Send(send);
    o
}

fn run_to_string(o: &ReplayOptions) -> (u8, String) {
    let mut out = Vec::new();
    let status = run(o, &mut out);
    (status, String::from_utf8(out).unwrap())
}

#[test]
fn sip_over_udp_counts_answers_and_errors() {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let target = sock.local_addr().unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let server = thread::spawn(move || {
        let mut buf = [0u8; 65_536];
        for _ in 0..4 {
            let Ok((n, from)) = sock.recv_from(&mut buf) else {
                return;
            };
            if let Some(a) = answer(&buf[..n]) {
                let _ = sock.send_to(&a, from);
            }
        }
    });
    let mut send = SendOptions::new(target, SendTransport::Udp);
    send.from = Some("127.0.0.1:5070".into());
    let (status, out) = run_to_string(&opts("sip-udp-tcp.pcap", send));
    server.join().unwrap();
    assert_eq!(status, EXIT_DIFFERENCES, "{out}");
    assert!(
        out.contains("sent 4 messages")
            && out.contains("answered 3, failed 1 (1 error answers, 0 without answer)"),
        "{out}"
    );
    assert!(out.contains("latency ms: p50 "), "{out}");
}

#[test]
fn sip_over_tcp_with_capture_timing() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let target = l.local_addr().unwrap();
    let server = thread::spawn(move || {
        if let Ok((s, _)) = l.accept() {
            serve_sip_stream(s);
        }
    });
    let mut send = SendOptions::new(target, SendTransport::Tcp);
    send.from = Some("127.0.0.1:40100".into());
    send.speed = Some(4.0);
    let started = std::time::Instant::now();
    let (status, out) = run_to_string(&opts("sip-udp-tcp.pcap", send));
    let took = started.elapsed();
    server.join().unwrap();
    assert!(out.contains("sent 4 messages"), "{out}");
    assert!(out.contains("answered 3, failed 1"), "{out}");
    assert_eq!(status, EXIT_DIFFERENCES);
    // The four requests span about 15 ms in the capture: at speed 4, a few ms; never more
    // than the capture's own span.
    assert!(took < Duration::from_secs(3), "{took:?}");
}

#[test]
fn xmpp_over_tcp_answers_dialback_and_iq() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let target = l.local_addr().unwrap();
    let server = thread::spawn(move || {
        let Ok((mut s, _)) = l.accept() else { return };
        let mut framer = Framer::new(XmppLimits::default());
        let mut header = StreamHeader::default();
        let mut buf = BytesMut::new();
        let mut chunk = [0u8; 4096];
        while let Ok(n) = s.read(&mut chunk) {
            if n == 0 {
                return;
            }
            buf.extend_from_slice(&chunk[..n]);
            while let Ok(Some(f)) = framer.next_frame(&mut buf) {
                let reply = match f {
                    Frame::Open(h) => {
                        header = h;
                        "<stream:stream xmlns='jabber:server' xmlns:db='jabber:server:dialback' xmlns:stream='http://etherx.jabber.org/streams' id='x' version='1.0'>".to_owned()
                    }
                    Frame::Element(el) => match parse_element(&el, &header) {
                        Ok(Element::DbResult(db)) => format!(
                            "<db:result from='{}' to='{}' type='valid'/>",
                            db.to.unwrap_or_default(),
                            db.from.unwrap_or_default()
                        ),
                        Ok(Element::Iq(iq)) if iq.type_ == Some(IqType::Get) => {
                            format!("<iq type='result' id='{}'/>", iq.id.unwrap_or_default())
                        }
                        _ => continue,
                    },
                    Frame::Close => return,
                    Frame::Whitespace => continue,
                };
                let _ = s.write_all(reply.as_bytes());
            }
        }
    });
    let mut send = SendOptions::new(target, SendTransport::Tcp);
    send.from = Some("127.0.0.1:40200".into());
    let (status, out) = run_to_string(&opts("xmpp-s2s.pcapng", send));
    server.join().unwrap();
    assert_eq!(status, EXIT_OK, "{out}");
    // Header, db:result, 3 chat messages, presence, iq, groupchat, close.
    assert!(out.contains("sent 9 messages"), "{out}");
    assert!(out.contains("answered 2, failed 0"), "{out}");
    assert!(out.contains("7 expecting no answer"), "{out}");
}

#[test]
fn sip_over_tls() {
    let dir = std::env::temp_dir().join(format!("parley-replay-tls-{}", std::process::id()));
    let g = crate::transport::certgen::ensure(&dir, &["sip.test"]).unwrap();
    let (_, cert, key) = g.domains[0].clone();
    let chain = rustls::pki_types::CertificateDer::pem_file_iter(&cert)
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = rustls::pki_types::PrivateKeyDer::from_pem_file(&key).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let target: SocketAddr = l.local_addr().unwrap();
    let server = thread::spawn(move || {
        let Ok((s, _)) = l.accept() else { return };
        let conn = rustls::ServerConnection::new(Arc::new(config)).unwrap();
        serve_sip_stream(rustls::StreamOwned::new(conn, s));
    });
    let mut send = SendOptions::new(
        target,
        SendTransport::Tls {
            server_name: "sip.test".into(),
            ca_file: g.ca_file.clone(),
            client_cert: None,
        },
    );
    send.from = Some("127.0.0.1:40100".into());
    let (_, out) = run_to_string(&opts("sip-udp-tcp.pcap", send));
    server.join().unwrap();
    let _ = std::fs::remove_dir_all(dir);
    assert!(out.contains("answered 3, failed 1"), "{out}");
}

#[test]
fn unreachable_target_and_empty_selection() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let target = l.local_addr().unwrap();
    drop(l);
    let send = SendOptions::new(target, SendTransport::Tcp);
    let (status, out) = run_to_string(&opts("sip-udp-tcp.pcap", send));
    assert_eq!(status, EXIT_UNAVAILABLE, "{out}");
    let mut send = SendOptions::new(target, SendTransport::Tcp);
    send.from = Some("192.0.2.1".into());
    let (status, out) = run_to_string(&opts("sip-udp-tcp.pcap", send));
    assert_eq!(status, EXIT_DIFFERENCES);
    assert!(out.contains("nothing to send"), "{out}");
}

#[test]
fn percentiles_nearest_rank() {
    let r = SendReport {
        latencies: (1..=100).map(Duration::from_millis).collect(),
        ..SendReport::default()
    };
    assert_eq!(r.percentile(50.0), Some(Duration::from_millis(50)));
    assert_eq!(r.percentile(99.0), Some(Duration::from_millis(99)));
    assert_eq!(r.percentile(100.0), Some(Duration::from_millis(100)));
    assert_eq!(SendReport::default().percentile(50.0), None);
}
