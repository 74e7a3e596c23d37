//! Connection-layer errors: every one ends the connection it happened on. Logged once, where
//! the task ends; ordinary disconnects at debug level.

use std::fmt;
use std::io;

use crate::auth::AuthError;
use crate::sip::SipError;
use crate::xmpp::{StreamCondition, XmppError};

/// Why a connection ended.
#[derive(Debug)]
pub enum ConnError {
    /// Socket or TLS error.
    Io(io::Error),
    /// The peer closed the connection.
    Closed,
    /// A negotiation step or an idle period took too long.
    Timeout(&'static str),
    /// The XML stream was invalid; the condition was sent to the peer.
    Xmpp(XmppError),
    /// The SIP stream could not be framed any more.
    Sip(SipError),
    /// The peer sent something the state does not allow.
    Unexpected {
        /// What was expected.
        expected: &'static str,
        /// What arrived.
        got: String,
    },
    /// The peer sent a stream error.
    PeerStreamError(Option<StreamCondition>),
    /// The peer is not authenticated for the domain it claims.
    Auth(AuthError),
    /// SASL was refused or not offered.
    SaslRefused(String),
    /// The stream names a domain parley does not serve.
    UnknownDomain(String),
    /// DNS says the domain offers no server-to-server service (an SRV target of ".").
    NoService(String),
    /// The connection carried nothing for the idle timeout and was closed.
    Idle,
    /// The gateway is shutting down.
    Shutdown,
}

impl ConnError {
    /// True for the ordinary ends of a connection, logged at debug level.
    pub fn is_ordinary(&self) -> bool {
        matches!(
            self,
            ConnError::Closed | ConnError::Idle | ConnError::Shutdown
        ) || matches!(self, ConnError::Io(e) if matches!(e.kind(), io::ErrorKind::ConnectionReset | io::ErrorKind::UnexpectedEof | io::ErrorKind::BrokenPipe))
    }
}

impl ConnError {
    /// True when retrying the same peer soon cannot succeed: its certificate or its
    /// authentication was refused (as opposed to an unreachable or slow peer).
    pub fn is_permanent(&self) -> bool {
        match self {
            ConnError::Auth(_) | ConnError::SaslRefused(_) | ConnError::NoService(_) => true,
            ConnError::Io(e) => e
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
                .is_some_and(|tls| {
                    matches!(
                        tls,
                        rustls::Error::InvalidCertificate(_)
                            | rustls::Error::NoCertificatesPresented
                    )
                }),
            _ => false,
        }
    }
}

impl fmt::Display for ConnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnError::Io(e) => write!(f, "i/o: {e}"),
            ConnError::Closed => f.write_str("closed by peer"),
            ConnError::Timeout(stage) => write!(f, "timeout during {stage}"),
            ConnError::Xmpp(e) => write!(f, "invalid XML stream: {e}"),
            ConnError::Sip(e) => write!(f, "invalid SIP stream: {e}"),
            ConnError::Unexpected { expected, got } => write!(f, "expected {expected}, got {got}"),
            ConnError::PeerStreamError(c) => {
                write!(
                    f,
                    "peer sent stream error {}",
                    c.map(|c| c.as_str()).unwrap_or("(unknown)")
                )
            }
            ConnError::Auth(e) => write!(f, "authentication failed: {e}"),
            ConnError::SaslRefused(why) => write!(f, "SASL refused: {why}"),
            ConnError::UnknownDomain(d) => write!(f, "domain not served here: {d}"),
            ConnError::NoService(d) => write!(
                f,
                "{d} offers no server-to-server service (SRV target \".\")"
            ),
            ConnError::Idle => f.write_str("idle timeout"),
            ConnError::Shutdown => f.write_str("shutting down"),
        }
    }
}

impl std::error::Error for ConnError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ConnError::Io(e) => Some(e),
            ConnError::Xmpp(e) => Some(e),
            ConnError::Sip(e) => Some(e),
            ConnError::Auth(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for ConnError {
    fn from(e: io::Error) -> Self {
        ConnError::Io(e)
    }
}
