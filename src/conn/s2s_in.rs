//! Inbound s2s streams (RFC 6120 §4–6, XEP-0178), receiving entity side: stream header →
//! features (STARTTLS required) → TLS → restart → SASL EXTERNAL against the peer's certificate
//! → restart → established, then every stanza goes to the router with the proven domain.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tracing::{debug, info};

use super::ConnError;
use super::dialback;
use super::s2s_out::unexpected;
use super::xml_stream::{Budget, XmlStream};
use crate::auth::{self, VerifiedDomain};
use crate::config::{S2sAuth, Side};
use crate::metrics::{self, AuthMethod, ParseReason, PolicyReason, Protocol, TlsFailure};
use crate::routing::{Gateway, Inbound};
use crate::xmpp::encode::{self, DbPayload, FeaturesOut, StreamOpen};
use crate::xmpp::framing::StreamNs;
use crate::xmpp::stanza::{Element, IqType};
use crate::xmpp::{StreamCondition, StreamHeader, XmppLimits};

/// Beyond the negotiation deadline (which the stream's reads enforce with a stream error),
/// the time left for a TLS handshake or a write stuck on a peer that does not read.
const DEADLINE_GRACE: Duration = Duration::from_secs(1);

/// How an inbound connection starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Plain stream, STARTTLS required (port 5269).
    StartTls,
    /// TLS from the first byte (XEP-0368, port 5270).
    DirectTls,
}

/// Serve one accepted s2s connection until it ends.
pub async fn serve(tcp: TcpStream, mode: Mode, gw: Arc<Gateway>) -> Result<(), ConnError> {
    let limits = gw.xmpp_limits();
    tcp.set_nodelay(true)?;
    let cfg = &gw.config().xmpp;
    let negotiation_time = Duration::from_millis(cfg.negotiation_timeout_ms);
    let budget = Budget {
        deadline: tokio::time::Instant::now() + negotiation_time,
        bytes: cfg.preauth_max_bytes,
        frames: cfg.preauth_max_elements,
    };
    let negotiation = async {
        match mode {
            Mode::StartTls => {
                let (tls, local, remote, budget) = starttls(tcp, &gw, limits, budget).await?;
                authenticate(tls, Some((local, remote)), &gw, limits, budget).await
            }
            Mode::DirectTls => {
                let tls = gw
                    .tls()
                    .xmpp_acceptor()
                    .accept(tcp)
                    .await
                    .inspect_err(|e| {
                        metrics::tls_handshake_failure(Protocol::Xmpp, true, TlsFailure::of_io(e))
                    })?;
                authenticate(tls, None, &gw, limits, budget).await
            }
        }
    };
    let (mut stream, peer, local, stream_id) =
        tokio::time::timeout(negotiation_time + DEADLINE_GRACE, negotiation)
            .await
            .map_err(|_| {
                metrics::negotiation_limit("deadline");
                ConnError::Timeout("inbound s2s negotiation")
            })??;
    stream.end_budget();
    debug!(peer.domain = %peer, local.domain = %local, ?mode, "inbound s2s stream established");
    let _counted = metrics::connection(Protocol::Xmpp, true, peer.as_str());
    // Every (local, peer) pair authenticated on this stream (more by dialback piggybacking).
    let mut pairs = vec![(local, peer)];
    let cancel = gw.shutdown_token();
    let idle = Duration::from_millis(gw.config().xmpp.idle_timeout_ms);
    loop {
        let element = tokio::select! {
            e = tokio::time::timeout(idle, stream.read_element()) => match e {
                Ok(e) => e?,
                Err(_) => {
                    metrics::idle_closed(Protocol::Xmpp);
                    stream.send_stream_error(StreamCondition::ConnectionTimeout, None).await;
                    return Err(ConnError::Idle);
                }
            },
            () = cancel.cancelled() => {
                stream.send_stream_error(StreamCondition::SystemShutdown, None).await;
                return Err(ConnError::Shutdown);
            }
        };
        // An answer to one of our pings (XEP-0199) tells the outbound stream to this peer
        // that the peer is alive; it goes no further.
        if element.starts_with(b"<iq")
            && let Ok(Element::Iq(iq)) = stream.parse(&element)
            && matches!(iq.type_, Some(IqType::Result | IqType::Error))
            && let (Some(id), Some(from)) = (iq.id.as_deref(), iq.from.as_deref())
            && pairs
                .iter()
                .any(|(_, p)| from.eq_ignore_ascii_case(p.as_str()))
            && gw.xmpp_pool().pong(id, from)
        {
            continue;
        }
        let header = stream.header().cloned().ok_or(ConnError::Closed)?;
        match gw.xmpp_inbound(&pairs, &header, element).await {
            Ok(Inbound::Done) => {}
            // A dialback answer (XEP-0220 §2.3) goes back on this same stream.
            Ok(Inbound::Reply(answer)) => {
                stream.wbuf.extend_from_slice(&answer);
                stream.flush().await?;
            }
            Ok(Inbound::Piggyback { local, remote, key }) => {
                let verified = if gw.serves(&local, Side::Sip) && gw.serves(&remote, Side::Xmpp) {
                    dialback::verify(&gw, &local, &remote, &stream_id, &key).await
                } else {
                    Err(ConnError::Auth(auth::AuthError::NameMismatch))
                };
                metrics::auth(Protocol::Xmpp, AuthMethod::Dialback, verified.is_ok());
                metrics::s2s_auth(&remote, true, AuthMethod::Dialback, verified.is_ok());
                encode::write_db_result(
                    &mut stream.wbuf,
                    &local,
                    &remote,
                    DbPayload::Verdict(verified.is_ok()),
                );
                stream.flush().await?;
                match verified {
                    Ok(peer) => {
                        info!(peer.domain = %peer, local.domain = %local, "another domain pair authenticated on the stream (dialback)");
                        pairs.push((local, peer));
                    }
                    Err(e) => info!(peer.domain = %remote, error = %e, "dialback refused"),
                }
            }
            Err(condition) => {
                stream.send_stream_error(condition, None).await;
                return Err(ConnError::Unexpected {
                    expected: "a valid stanza",
                    got: condition.as_str().into(),
                });
            }
        }
    }
}

type Tls = tokio_rustls::server::TlsStream<TcpStream>;
/// The authenticated stream, the peer, our domain, and our id of the current stream (dialback
/// keys are bound to it).
type Negotiated = (XmlStream<Tls>, VerifiedDomain, String, String);

/// The plain prelude: header, features (STARTTLS required), `<starttls/>`, `<proceed/>`, TLS.
async fn starttls(
    tcp: TcpStream,
    gw: &Gateway,
    limits: XmppLimits,
    budget: Budget,
) -> Result<(Tls, String, String, Budget), ConnError> {
    let mut plain = XmlStream::new(tcp, limits).with_budget(Some(budget));
    let (local, remote, _) = accept_header(&mut plain, gw).await?;
    encode::write_features(
        &mut plain.wbuf,
        &FeaturesOut {
            starttls_required: true,
            ..FeaturesOut::default()
        },
    );
    plain.flush().await?;
    let starttls = plain.read_element().await?;
    match plain.parse(&starttls)? {
        Element::StartTls => {}
        other => {
            metrics::policy_refusal(Protocol::Xmpp, PolicyReason::PeerNotAuthenticated);
            plain
                .send_stream_error(
                    StreamCondition::PolicyViolation,
                    Some("STARTTLS is required"),
                )
                .await;
            return Err(unexpected("<starttls/>", &other));
        }
    }
    encode::write_proceed(&mut plain.wbuf);
    plain.flush().await?;
    let budget = plain.budget().unwrap_or(budget);
    let tls = gw
        .tls()
        .xmpp_acceptor()
        .accept(plain.into_inner().inspect_err(|_| {
            // Bytes pipelined after <starttls/> (RFC 6120 §5.4.3.3): never read as secured.
            metrics::parse_error(Protocol::Xmpp, ParseReason::Framing)
        })?)
        .await
        .inspect_err(|e| {
            info!(peer.domain = %remote, error = %e, "inbound s2s TLS handshake failed");
            metrics::s2s_failure(&remote, true, metrics::S2sFailure::Tls);
            metrics::tls_handshake_failure(Protocol::Xmpp, true, TlsFailure::of_io(e))
        })?;
    Ok((tls, local, remote, budget))
}

/// On TLS: header (the same domains as before STARTTLS, when there was a prelude), SASL
/// EXTERNAL against the peer's certificate, restart.
async fn authenticate(
    tls: Tls,
    expected: Option<(String, String)>,
    gw: &Gateway,
    limits: XmppLimits,
    budget: Budget,
) -> Result<Negotiated, ConnError> {
    let mut secure = XmlStream::new(tls, limits).with_budget(Some(budget));
    let (local, remote, stream_id) = accept_header(&mut secure, gw).await?;
    if expected
        .as_ref()
        .is_some_and(|(l, r)| *l != local || *r != remote)
    {
        secure
            .send_stream_error(StreamCondition::InvalidFrom, None)
            .await;
        return Err(ConnError::UnknownDomain(remote));
    }
    let has_cert = secure.io_ref().get_ref().1.peer_certificates().is_some();
    let config = gw.config();
    let external = has_cert && config.s2s_auth_allowed(&remote, S2sAuth::SaslExternal);
    let mechanisms: &[&str] = if external { &["EXTERNAL"] } else { &[] };
    let dialback = config.s2s_auth_allowed(&remote, S2sAuth::Dialback);
    encode::write_features(
        &mut secure.wbuf,
        &FeaturesOut {
            mechanisms,
            dialback,
            ..FeaturesOut::default()
        },
    );
    secure.flush().await?;
    loop {
        let element = secure.read_element().await?;
        match secure.parse(&element)? {
            Element::SaslAuth { mechanism, initial } if external => {
                return sasl_external(secure, &mechanism, &initial, local, remote, gw).await;
            }
            Element::SaslAuth { .. } => {
                encode::write_sasl_failure(&mut secure.wbuf, "invalid-mechanism");
                secure.flush().await?;
                return Err(ConnError::SaslRefused(
                    "EXTERNAL not offered to this peer".into(),
                ));
            }
            Element::DbResult(d) if dialback && d.type_.is_none() => {
                let claimed = (
                    d.to.as_deref().map(str::to_ascii_lowercase),
                    d.from.as_deref().map(str::to_ascii_lowercase),
                );
                let verified = if claimed == (Some(local.clone()), Some(remote.clone())) {
                    dialback::verify(gw, &local, &remote, &stream_id, &d.key).await
                } else {
                    Err(ConnError::Auth(auth::AuthError::NameMismatch))
                };
                metrics::auth(Protocol::Xmpp, AuthMethod::Dialback, verified.is_ok());
                metrics::s2s_auth(&remote, true, AuthMethod::Dialback, verified.is_ok());
                encode::write_db_result(
                    &mut secure.wbuf,
                    &local,
                    &remote,
                    DbPayload::Verdict(verified.is_ok()),
                );
                secure.flush().await?;
                let peer = verified.inspect_err(
                    |e| info!(peer.domain = %remote, error = %e, "dialback refused"),
                )?;
                info!(peer.domain = %peer, "inbound s2s stream authenticated (dialback)");
                return Ok((secure, peer, local, stream_id));
            }
            // As authoritative server, on a stream that is not (yet) authenticated.
            Element::DbVerify(d) => {
                dialback::answer_verify(&mut secure.wbuf, gw, &d);
                secure.flush().await?;
            }
            // RFC 6120 §4.9.3.12: data before the stream is authenticated.
            other => {
                metrics::policy_refusal(Protocol::Xmpp, PolicyReason::PeerNotAuthenticated);
                secure
                    .send_stream_error(StreamCondition::NotAuthorized, None)
                    .await;
                return Err(unexpected("SASL <auth/> or dialback", &other));
            }
        }
    }
}

/// SASL EXTERNAL (RFC 6120 §6, XEP-0178): the authorization identity (or, when empty, the
/// stream's `from`) must be the peer domain and named in its certificate; then the restart.
async fn sasl_external(
    mut secure: XmlStream<Tls>,
    mechanism: &str,
    initial: &str,
    local: String,
    remote: String,
    gw: &Gateway,
) -> Result<Negotiated, ConnError> {
    if mechanism != "EXTERNAL" {
        encode::write_sasl_failure(&mut secure.wbuf, "invalid-mechanism");
        secure.flush().await?;
        return Err(ConnError::SaslRefused("mechanism not offered".into()));
    }
    let authzid = decode_authzid(initial).unwrap_or_else(|| remote.clone());
    let verified = if authzid.eq_ignore_ascii_case(&remote) {
        auth::verify_xmpp_peer(
            secure.io_ref().get_ref().1.peer_certificates(),
            &remote,
            gw.tls().xmpp_peer_anchors(&remote),
            auth::TlsRole::Client,
        )
        .map(|(peer, identity)| {
            debug!(peer.domain = %peer, ?identity, "peer certificate verified");
            peer
        })
    } else {
        Err(auth::AuthError::NameMismatch)
    };
    metrics::auth(Protocol::Xmpp, AuthMethod::SaslExternal, verified.is_ok());
    metrics::s2s_auth(&remote, true, AuthMethod::SaslExternal, verified.is_ok());
    let peer = match verified {
        Ok(peer) => peer,
        Err(e) => {
            info!(peer.domain = %remote, authzid = %authzid, error = %e, "SASL EXTERNAL refused");
            let reason = super::xmpp_pool::failure_reason(&ConnError::Auth(e));
            metrics::s2s_failure(&remote, true, reason);
            encode::write_sasl_failure(&mut secure.wbuf, "not-authorized");
            secure.flush().await?;
            return Err(ConnError::Auth(e));
        }
    };
    encode::write_sasl_success(&mut secure.wbuf);
    secure.flush().await?;
    let mut stream = secure.restart()?;
    let (_, _, stream_id) = accept_header(&mut stream, gw).await?;
    encode::write_features(&mut stream.wbuf, &FeaturesOut::default());
    stream.flush().await?;
    info!(peer.domain = %peer, "inbound s2s stream authenticated (SASL EXTERNAL)");
    Ok((stream, peer, local, stream_id))
}

/// Read the initiating entity's header, check it, and answer with ours. Returns
/// `(local domain, claimed remote domain, our stream id)`.
async fn accept_header<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut XmlStream<S>,
    gw: &Gateway,
) -> Result<(String, String, String), ConnError> {
    let header = stream.read_header().await?;
    let (local, remote) = match check_header(&header, gw) {
        Ok(pair) => pair,
        Err((condition, err)) => {
            match condition {
                StreamCondition::HostUnknown => {
                    metrics::policy_refusal(Protocol::Xmpp, PolicyReason::RelayingDenied)
                }
                StreamCondition::PolicyViolation => {
                    metrics::policy_refusal(Protocol::Xmpp, PolicyReason::SenderDomainNotServed)
                }
                StreamCondition::InvalidNamespace => {
                    metrics::parse_error(Protocol::Xmpp, ParseReason::Namespace)
                }
                _ => metrics::parse_error(Protocol::Xmpp, ParseReason::Address),
            }
            stream.send_stream_error(condition, None).await;
            return Err(err);
        }
    };
    let id = gw.new_id();
    encode::write_stream_open(
        &mut stream.wbuf,
        &StreamOpen {
            from: &local,
            to: &remote,
            id: Some(&id),
        },
    );
    debug!(local.domain = %local, peer.domain = %remote, "s2s stream header accepted");
    Ok((local, remote, id))
}

fn check_header(
    h: &StreamHeader,
    gw: &Gateway,
) -> Result<(String, String), (StreamCondition, ConnError)> {
    if h.ns != StreamNs::Server {
        return Err((
            StreamCondition::InvalidNamespace,
            ConnError::Unexpected {
                expected: "jabber:server",
                got: format!("{:?}", h.ns),
            },
        ));
    }
    let to = h.to.as_deref().unwrap_or_default().to_ascii_lowercase();
    if !gw.serves(&to, Side::Sip) {
        return Err((StreamCondition::HostUnknown, ConnError::UnknownDomain(to)));
    }
    let from = h.from.as_deref().unwrap_or_default().to_ascii_lowercase();
    if from.is_empty() {
        return Err((
            StreamCondition::InvalidFrom,
            ConnError::Unexpected {
                expected: "a from attribute",
                got: "none".into(),
            },
        ));
    }
    if !gw.serves(&from, Side::Xmpp) {
        let err = ConnError::UnknownDomain(from);
        return Err((StreamCondition::PolicyViolation, err));
    }
    Ok((to, from))
}

fn decode_authzid(initial: &str) -> Option<String> {
    let initial = initial.trim();
    if initial.is_empty() || initial == "=" {
        return None;
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(initial)
        .ok()?;
    String::from_utf8(bytes).ok()
}
