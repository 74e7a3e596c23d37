//! Outbound s2s stream negotiation (RFC 6120 §4–6, XEP-0178, XEP-0368), initiating entity
//! side: TCP → (stream header → STARTTLS, or TLS at once for direct TLS) → TLS, verifying the
//! peer's certificate for its domain and presenting ours → restart → SASL EXTERNAL → restart →
//! established. Each step consumes the previous state and returns the next.

use std::time::Duration;

use base64::Engine;
use rustls_pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tracing::debug;

use super::ConnError;
use super::xml_stream::XmlStream;
use crate::auth::{self, VerifiedDomain};
use crate::transport::resolve::{Resolver, Target};
use crate::xmpp::XmppLimits;
use crate::xmpp::encode::{self, StreamOpen};
use crate::xmpp::stanza::Element;

/// An authenticated outbound stream, ready for stanzas.
#[derive(Debug)]
pub struct Established {
    /// The stream.
    pub stream: XmlStream<TlsStream<TcpStream>>,
    /// The peer domain, proven by its certificate.
    pub peer: VerifiedDomain,
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
}

/// Try each target in turn (RFC 6120 §3.2.1: after a connection failure, the next one) and
/// negotiate a stream on the first that accepts, all within `deadline`.
pub async fn connect(
    route: &Route<'_>,
    resolver: &Resolver,
    connector: &TlsConnector,
    limits: XmppLimits,
    deadline: Duration,
) -> Result<Established, ConnError> {
    let attempt = async {
        let mut last = ConnError::UnknownDomain(route.remote.to_owned());
        for target in &route.targets {
            for addr in resolver.addresses(target).await {
                match TcpStream::connect(addr).await {
                    Ok(tcp) => {
                        return negotiate(tcp, target.direct_tls, route, connector, limits).await;
                    }
                    Err(e) => {
                        debug!(peer.addr = %addr, error = %e, "s2s connect failed; trying the next target");
                        last = e.into();
                    }
                }
            }
        }
        Err(last)
    };
    tokio::time::timeout(deadline, attempt)
        .await
        .map_err(|_| ConnError::Timeout("s2s connect and negotiation"))?
}

async fn negotiate(
    tcp: TcpStream,
    direct_tls: bool,
    route: &Route<'_>,
    connector: &TlsConnector,
    limits: XmppLimits,
) -> Result<Established, ConnError> {
    let (local, remote) = (route.local, route.remote);
    tcp.set_nodelay(true)?;
    let tcp = if direct_tls {
        tcp
    } else {
        starttls(tcp, local, remote, limits).await?
    };
    let name = ServerName::try_from(remote.to_owned())
        .map_err(|_| ConnError::UnknownDomain(remote.to_owned()))?;
    let tls = connector.connect(name, tcp).await?;
    let peer = auth::verify_certificate_for(tls.get_ref().1.peer_certificates(), remote)
        .map_err(ConnError::Auth)?;

    // TLS stream: SASL EXTERNAL with our domain as authorization identity (XEP-0178 §3).
    let mut secure = XmlStream::new(tls, limits);
    open(&mut secure, local, remote).await?;
    let features = secure.read_element().await?;
    match secure.parse(&features)? {
        Element::Features(f) if f.mechanisms.iter().any(|m| m == "EXTERNAL") => {}
        Element::Features(_) => {
            return Err(ConnError::SaslRefused(
                "peer does not offer EXTERNAL".into(),
            ));
        }
        other => return Err(unexpected("features offering SASL", &other)),
    }
    let authzid = base64::engine::general_purpose::STANDARD.encode(local);
    encode::write_sasl_auth(&mut secure.wbuf, "EXTERNAL", &authzid);
    secure.flush().await?;
    let outcome = secure.read_element().await?;
    match secure.parse(&outcome)? {
        Element::SaslSuccess => {}
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
    Ok(Established { stream, peer })
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

async fn open<S>(stream: &mut XmlStream<S>, local: &str, remote: &str) -> Result<(), ConnError>
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

pub(crate) fn unexpected(expected: &'static str, got: &Element<'_>) -> ConnError {
    let got = format!("{got:?}");
    ConnError::Unexpected {
        expected,
        got: got.chars().take(120).collect(),
    }
}
