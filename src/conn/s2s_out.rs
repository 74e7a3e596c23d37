//! Outbound s2s stream negotiation (RFC 6120 §4–6, XEP-0178, XEP-0368), initiating entity
//! side: TCP → (stream header → STARTTLS, or TLS at once for direct TLS) → TLS, verifying the
//! peer's certificate for its domain and presenting ours → restart → SASL EXTERNAL → restart →
//! established. Each step consumes the previous state and returns the next.

use std::time::Duration;

use base64::Engine;
use rustls_pki_types::{ServerName, TrustAnchor};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tracing::debug;

use super::ConnError;
use super::xml_stream::XmlStream;
use crate::auth::dialback::DialbackSecret;
use crate::auth::{self, VerifiedDomain};
use crate::metrics::{self, AuthMethod, Protocol, TlsFailure};
use crate::transport::resolve::{Resolver, Target};
use crate::xmpp::XmppLimits;
use crate::xmpp::encode::{self, DbPayload, StreamOpen};
use crate::xmpp::stanza::{DbType, Element};

/// An authenticated outbound stream, ready for stanzas.
#[derive(Debug)]
pub struct Established {
    /// The stream.
    pub stream: XmlStream<TlsStream<TcpStream>>,
    /// The peer domain, proven by its certificate.
    pub peer: VerifiedDomain,
    /// How parley authenticated itself to the peer.
    pub method: AuthMethod,
}

/// Where and how to reach the peer.
#[derive(Debug, Clone)]
pub struct Route<'a> {
    /// Our domain (stream `from`, the certificate we present).
    pub local: &'a str,
    /// The peer's domain.
    pub remote: &'a str,
    /// Servers to try in order (static next hop, or DNS).
    pub targets: Vec<Target>,
    /// SASL EXTERNAL allowed with this peer.
    pub external: bool,
    /// Server Dialback allowed with this peer.
    pub dialback: bool,
}

/// Try each target in turn (RFC 6120 §3.2.1: after a connection failure, the next one) and
/// negotiate an authenticated stream on the first that accepts, all within `deadline`: SASL
/// EXTERNAL when the peer offers it, else Server Dialback (XEP-0220) when it offers that.
pub async fn connect(
    route: &Route<'_>,
    resolver: &Resolver,
    connector: &TlsConnector,
    anchors: &[TrustAnchor<'_>],
    limits: XmppLimits,
    deadline: Duration,
    secret: &DialbackSecret,
) -> Result<Established, ConnError> {
    let attempt = async {
        let (tls, peer) = secure_transport(route, resolver, connector, anchors, limits).await?;
        authenticate(tls, peer, route, limits, secret).await
    };
    tokio::time::timeout(deadline, attempt)
        .await
        .map_err(|_| ConnError::Timeout("s2s connect and negotiation"))?
}

/// A TLS connection to the first target that accepts, its certificate verified for the
/// remote domain against that domain's trust `anchors`.
pub(crate) async fn secure_transport(
    route: &Route<'_>,
    resolver: &Resolver,
    connector: &TlsConnector,
    anchors: &[TrustAnchor<'_>],
    limits: XmppLimits,
) -> Result<(TlsStream<TcpStream>, VerifiedDomain), ConnError> {
    let (local, remote) = (route.local, route.remote);
    if route.targets.is_empty() {
        return Err(ConnError::NoService(remote.to_owned()));
    }
    let mut last = ConnError::UnknownDomain(remote.to_owned());
    for target in &route.targets {
        for addr in resolver.addresses(target).await {
            let tcp = match TcpStream::connect(addr).await {
                Ok(tcp) => tcp,
                Err(e) => {
                    debug!(peer.addr = %addr, error = %e, "s2s connect failed; trying the next target");
                    last = e.into();
                    continue;
                }
            };
            tcp.set_nodelay(true)?;
            let tcp = if target.direct_tls {
                tcp
            } else {
                starttls(tcp, local, remote, limits).await?
            };
            let name = ServerName::try_from(remote.to_owned())
                .map_err(|_| ConnError::UnknownDomain(remote.to_owned()))?;
            let tls = connector.connect(name, tcp).await.inspect_err(|e| {
                metrics::tls_handshake_failure(Protocol::Xmpp, false, TlsFailure::of_io(e))
            })?;
            let (peer, identity) = auth::verify_xmpp_peer(
                tls.get_ref().1.peer_certificates(),
                remote,
                anchors,
                auth::TlsRole::Server,
            )
            .map_err(ConnError::Auth)?;
            debug!(peer.domain = %peer, ?identity, "peer certificate verified");
            return Ok((tls, peer));
        }
    }
    Err(last)
}

async fn authenticate(
    tls: TlsStream<TcpStream>,
    peer: VerifiedDomain,
    route: &Route<'_>,
    limits: XmppLimits,
    secret: &DialbackSecret,
) -> Result<Established, ConnError> {
    let (local, remote) = (route.local, route.remote);
    let mut secure = XmlStream::new(tls, limits);
    open(&mut secure, local, remote).await?;
    let features = secure.read_element().await?;
    let (external, dialback) = match secure.parse(&features)? {
        Element::Features(f) => (
            route.external && f.mechanisms.iter().any(|m| m == "EXTERNAL"),
            route.dialback && f.dialback,
        ),
        other => return Err(unexpected("stream features", &other)),
    };
    let dialback = dialback || (route.dialback && secure.header().is_some_and(|h| h.dialback));
    if !external {
        if !dialback {
            return Err(ConnError::SaslRefused(
                "peer offers neither EXTERNAL nor dialback".into(),
            ));
        }
        return dialback_result(secure, peer, route, secret).await;
    }
    let authzid = base64::engine::general_purpose::STANDARD.encode(local);
    encode::write_sasl_auth(&mut secure.wbuf, "EXTERNAL", &authzid);
    secure.flush().await?;
    let outcome = secure.read_element().await?;
    match secure.parse(&outcome)? {
        Element::SaslSuccess => {}
        // Some servers offer EXTERNAL and then cannot verify our certificate (ejabberd
        // without the full chain); dialback on the same stream still proves our domain.
        Element::SaslFailure { condition } if dialback => {
            debug!(condition = %condition, "SASL EXTERNAL refused; trying dialback");
            return dialback_result(secure, peer, route, secret).await;
        }
        Element::SaslFailure { condition } => {
            return Err(ConnError::SaslRefused(condition.into_owned()));
        }
        other => return Err(unexpected("SASL outcome", &other)),
    }

    // Restarted, authenticated stream.
    let mut stream = secure.restart()?;
    open(&mut stream, local, remote).await?;
    let features = stream.read_element().await?;
    match stream.parse(&features)? {
        Element::Features(_) => {}
        other => return Err(unexpected("post-auth features", &other)),
    }
    Ok(Established {
        stream,
        peer,
        method: AuthMethod::SaslExternal,
    })
}

/// XEP-0220 §2.1 as originating server: send our key for this stream and wait for the
/// receiving server's verdict (it asks our authoritative server, parley itself).
async fn dialback_result(
    mut secure: XmlStream<TlsStream<TcpStream>>,
    peer: VerifiedDomain,
    route: &Route<'_>,
    secret: &DialbackSecret,
) -> Result<Established, ConnError> {
    let (local, remote) = (route.local, route.remote);
    let stream_id = secure
        .header()
        .and_then(|h| h.id.clone())
        .unwrap_or_default();
    let key = secret.key(remote, local, &stream_id);
    encode::write_db_result(&mut secure.wbuf, local, remote, DbPayload::Key(&key));
    secure.flush().await?;
    loop {
        let answer = secure.read_element().await?;
        match secure.parse(&answer)? {
            Element::DbResult(d) if d.type_.is_some() => {
                return match d.type_ {
                    Some(DbType::Valid) => Ok(Established {
                        stream: secure,
                        peer,
                        method: AuthMethod::Dialback,
                    }),
                    _ => Err(ConnError::Auth(auth::AuthError::DialbackInvalid)),
                };
            }
            // The receiving server may verify other keys with us on this stream meanwhile.
            Element::DbVerify(_) => debug!("db:verify on an outbound stream ignored"),
            other => return Err(unexpected("<db:result type=.../>", &other)),
        }
    }
}

/// The plain-text prelude: stream header, features offering STARTTLS, `<starttls/>`,
/// `<proceed/>`; returns the socket ready for the TLS handshake.
async fn starttls(
    tcp: TcpStream,
    local: &str,
    remote: &str,
    limits: XmppLimits,
) -> Result<TcpStream, ConnError> {
    let mut plain = XmlStream::new(tcp, limits);
    open(&mut plain, local, remote).await?;
    let features = plain.read_element().await?;
    match plain.parse(&features)? {
        Element::Features(f) if f.starttls.is_some() => {}
        other => return Err(unexpected("features offering STARTTLS", &other)),
    }
    encode::write_starttls(&mut plain.wbuf);
    plain.flush().await?;
    let proceed = plain.read_element().await?;
    match plain.parse(&proceed)? {
        Element::Proceed => plain.into_inner(),
        other => Err(unexpected("<proceed/>", &other)),
    }
}

pub(crate) async fn open<S>(
    stream: &mut XmlStream<S>,
    local: &str,
    remote: &str,
) -> Result<(), ConnError>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    encode::write_stream_open(
        &mut stream.wbuf,
        &StreamOpen {
            from: local,
            to: remote,
            id: None,
        },
    );
    stream.flush().await?;
    let header = stream.read_header().await?;
    if header.ns != crate::xmpp::framing::StreamNs::Server {
        return Err(ConnError::Unexpected {
            expected: "a jabber:server stream",
            got: format!("{:?}", header.ns),
        });
    }
    Ok(())
}

/// A protocol violation, naming what arrived by its kind only: element contents (message
/// bodies, dialback keys) never reach the logs.
pub(crate) fn unexpected(expected: &'static str, got: &Element<'_>) -> ConnError {
    let got = match got {
        Element::Features(_) => "<stream:features/>",
        Element::StartTls => "<starttls/>",
        Element::Proceed => "<proceed/>",
        Element::TlsFailure => "TLS <failure/>",
        Element::SaslAuth { .. } => "SASL <auth/>",
        Element::SaslSuccess => "SASL <success/>",
        Element::SaslFailure { .. } => "SASL <failure/>",
        Element::StreamError { .. } => "<stream:error/>",
        Element::Message(_) => "<message/>",
        Element::Presence(_) => "<presence/>",
        Element::Iq(_) => "<iq/>",
        Element::DbResult(_) => "<db:result/>",
        Element::DbVerify(_) => "<db:verify/>",
        Element::Bidi => "<bidi/>",
        Element::Unknown { .. } => "an unknown element",
    };
    ConnError::Unexpected {
        expected,
        got: got.to_owned(),
    }
}
