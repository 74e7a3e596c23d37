//! The connection of `--send` (UDP socket, TCP or direct-TLS stream) and the task that reads
//! the target's answers, framing them with parley's codecs and reporting their keys.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use bytes::BytesMut;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::flows::Proto;
use super::{SendOptions, SendTransport};
use crate::sip::framing::{StreamItem, frame_datagram, frame_stream};
use crate::sip::{SipLimits, SipMessage};
use crate::xmpp::stanza::{DbType, Element, IqType, parse_element};
use crate::xmpp::{Frame, Framer, StreamHeader, XmppLimits};

/// What the reader saw.
#[derive(Debug)]
pub(crate) enum Reply {
    /// An answer to the request with this key.
    Answer {
        /// Request key.
        key: String,
        /// Success (2xx, iq result, dialback valid).
        ok: bool,
        /// When it was read.
        at: Instant,
    },
    /// The target closed the connection, with a reason when it was an error.
    Closed(Option<String>),
}

/// An open connection to the target.
pub(crate) enum Conn {
    Udp {
        socket: Arc<UdpSocket>,
        target: SocketAddr,
        reader: JoinHandle<()>,
    },
    Stream {
        writer: Box<dyn AsyncWrite + Unpin + Send>,
        reader: JoinHandle<()>,
    },
}

impl Conn {
    /// Connect as `send` says; answers go to `tx`.
    pub async fn open(
        send: &SendOptions,
        proto: Proto,
        tx: mpsc::Sender<Reply>,
    ) -> std::io::Result<Conn> {
        let target = send.target;
        match &send.transport {
            SendTransport::Udp => {
                let local: SocketAddr = if target.is_ipv4() {
                    ([127, 0, 0, 1], 0).into()
                } else {
                    (std::net::Ipv6Addr::LOCALHOST, 0).into()
                };
                let local = if target.ip().is_loopback() {
                    local
                } else {
                    SocketAddr::new(unspecified(target), 0)
                };
                let socket = Arc::new(UdpSocket::bind(local).await?);
                let reader = tokio::spawn(read_datagrams(socket.clone(), tx));
                Ok(Conn::Udp {
                    socket,
                    target,
                    reader,
                })
            }
            SendTransport::Tcp => {
                let s = TcpStream::connect(target).await?;
                s.set_nodelay(true)?;
                let (r, w) = s.into_split();
                let reader = tokio::spawn(read_stream(r, proto, tx));
                Ok(Conn::Stream {
                    writer: Box::new(w),
                    reader,
                })
            }
            SendTransport::Tls {
                server_name,
                ca_file,
                client_cert,
            } => {
                let connector = connector(ca_file, client_cert.as_ref())?;
                let name = ServerName::try_from(server_name.clone())
                    .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
                let s = TcpStream::connect(target).await?;
                s.set_nodelay(true)?;
                let tls = connector.connect(name, s).await?;
                let (r, w) = tokio::io::split(tls);
                let reader = tokio::spawn(read_stream(r, proto, tx));
                Ok(Conn::Stream {
                    writer: Box::new(w),
                    reader,
                })
            }
        }
    }

    /// Write one message (one datagram over UDP).
    pub async fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        match self {
            Conn::Udp { socket, target, .. } => socket.send_to(bytes, *target).await.map(|_| ()),
            Conn::Stream { writer, .. } => {
                writer.write_all(bytes).await?;
                writer.flush().await
            }
        }
    }

    /// Close the connection and stop the reader.
    pub async fn close(self) {
        match self {
            Conn::Udp { reader, .. } => reader.abort(),
            Conn::Stream { mut writer, reader } => {
                let _ = writer.shutdown().await;
                reader.abort();
            }
        }
    }
}

fn unspecified(target: SocketAddr) -> std::net::IpAddr {
    if target.is_ipv4() {
        std::net::Ipv4Addr::UNSPECIFIED.into()
    } else {
        std::net::Ipv6Addr::UNSPECIFIED.into()
    }
}

fn connector(
    ca_file: &Path,
    client: Option<&(std::path::PathBuf, std::path::PathBuf)>,
) -> std::io::Result<tokio_rustls::TlsConnector> {
    let bad = |e: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, e);
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca_file)
        .map_err(|e| bad(format!("{}: {e}", ca_file.display())))?
    {
        let cert = cert.map_err(|e| bad(format!("{}: {e}", ca_file.display())))?;
        roots.add(cert).map_err(|e| bad(e.to_string()))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| bad(e.to_string()))?
        .with_root_certificates(roots);
    let config = match client {
        Some((cert, key)) => {
            let chain = CertificateDer::pem_file_iter(cert)
                .and_then(|it| it.collect::<Result<Vec<_>, _>>())
                .map_err(|e| bad(format!("{}: {e}", cert.display())))?;
            let key = PrivateKeyDer::from_pem_file(key)
                .map_err(|e| bad(format!("{}: {e}", key.display())))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| bad(e.to_string()))?
        }
        None => builder.with_no_client_auth(),
    };
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

/// The key and success of a SIP final response.
fn sip_answer(raw: bytes::Bytes) -> Option<(String, bool)> {
    let m = SipMessage::parse(raw, &SipLimits::default()).ok()?;
    let code = m.status().filter(|c| *c >= 200)?;
    let cseq = m.cseq().ok()?;
    let key = format!("sip {} {} {}", m.call_id().ok()?, cseq.seq, cseq.method);
    Some((key, (200..300).contains(&code)))
}

/// The key and success of an XMPP answer.
fn xmpp_answer(el: &Element<'_>) -> Option<(String, bool)> {
    match el {
        Element::Iq(iq) => match iq.type_? {
            IqType::Result => Some((format!("iq {}", iq.id.as_deref()?), true)),
            IqType::Error => Some((format!("iq {}", iq.id.as_deref()?), false)),
            _ => None,
        },
        Element::DbResult(db) => {
            let ok = db.type_? == DbType::Valid;
            Some((
                format!("db {} {}", db.to.as_deref()?, db.from.as_deref()?),
                ok,
            ))
        }
        _ => None,
    }
}

async fn read_datagrams(socket: Arc<UdpSocket>, tx: mpsc::Sender<Reply>) {
    let mut buf = vec![0u8; 65_536];
    loop {
        let n = match socket.recv_from(&mut buf).await {
            Ok((n, _)) => n,
            Err(e) => {
                let _ = tx.send(Reply::Closed(Some(e.to_string()))).await;
                return;
            }
        };
        let at = Instant::now();
        let Ok(len) = frame_datagram(&buf[..n], &SipLimits::default()) else {
            continue;
        };
        if let Some((key, ok)) = sip_answer(bytes::Bytes::copy_from_slice(&buf[..len]))
            && tx.send(Reply::Answer { key, ok, at }).await.is_err()
        {
            return;
        }
    }
}

async fn read_stream<R: AsyncRead + Unpin>(mut r: R, proto: Proto, tx: mpsc::Sender<Reply>) {
    let mut buf = BytesMut::with_capacity(16 * 1024);
    let mut framer = Framer::new(XmppLimits::default());
    let mut header = StreamHeader::default();
    loop {
        let reason = match r.read_buf(&mut buf).await {
            Ok(0) => None,
            Ok(_) => {
                let at = Instant::now();
                let parsed = match proto {
                    Proto::Sip => sip_frames(&mut buf, at),
                    Proto::Xmpp => xmpp_frames(&mut framer, &mut header, &mut buf, at),
                };
                match parsed {
                    Ok(answers) => {
                        for a in answers {
                            if tx.send(a).await.is_err() {
                                return;
                            }
                        }
                        continue;
                    }
                    Err(e) => Some(e),
                }
            }
            Err(e) => Some(e.to_string()),
        };
        let _ = tx.send(Reply::Closed(reason)).await;
        return;
    }
}

fn sip_frames(buf: &mut BytesMut, at: Instant) -> Result<Vec<Reply>, String> {
    let mut out = Vec::new();
    loop {
        match frame_stream(buf, &SipLimits::default()) {
            Ok(Some(StreamItem::Message { len })) => {
                if let Some((key, ok)) = sip_answer(buf.split_to(len).freeze()) {
                    out.push(Reply::Answer { key, ok, at });
                }
            }
            Ok(Some(item)) => {
                let _ = buf.split_to(item.len());
            }
            Ok(None) => return Ok(out),
            Err(e) => return Err(format!("unframeable SIP from the target: {e:?}")),
        }
    }
}

fn xmpp_frames(
    framer: &mut Framer,
    header: &mut StreamHeader,
    buf: &mut BytesMut,
    at: Instant,
) -> Result<Vec<Reply>, String> {
    let mut out = Vec::new();
    loop {
        match framer.next_frame(buf) {
            Ok(Some(Frame::Open(h))) => *header = h,
            Ok(Some(Frame::Element(el))) => match parse_element(&el, header) {
                Ok(Element::StreamError { condition, .. }) => {
                    let c = condition.map_or("unknown", |c| c.as_str());
                    return Err(format!("stream error from the target: {c}"));
                }
                Ok(e) => {
                    if let Some((key, ok)) = xmpp_answer(&e) {
                        out.push(Reply::Answer { key, ok, at });
                    }
                }
                Err(_) => {}
            },
            Ok(Some(Frame::Whitespace)) => {}
            Ok(Some(Frame::Close)) => return Err("the target closed the stream".into()),
            Ok(None) => return Ok(out),
            Err(e) => return Err(format!("unframeable XMPP from the target: {e:?}")),
        }
    }
}
