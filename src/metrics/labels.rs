//! Label values: closed enums, and the capped set of peer domain names.

use std::collections::HashSet;
use std::io;
use std::sync::RwLock;

use serde::Serialize;

use crate::sip::SipError;
use crate::xmpp::XmppError;

macro_rules! label_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident => $s:literal,)+ }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
        pub enum $name {
            $($(#[$vdoc])* #[serde(rename = $s)] $variant,)+
        }

        impl $name {
            /// Every value, in declaration order (the order of pre-created handles).
            pub const ALL: [$name; [$($s),+].len()] = [$($name::$variant),+];

            /// The label value.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $s,)+
                }
            }
        }
    };
}

label_enum!(
    /// Which way a message crosses the gateway.
    Direction {
        /// From a SIP peer to an XMPP peer.
        SipToXmpp => "sip_to_xmpp",
        /// From an XMPP peer to a SIP peer.
        XmppToSip => "xmpp_to_sip",
    }
);

impl Direction {
    /// The direction of traffic arriving on `from`.
    pub fn from_protocol(from: Protocol) -> Direction {
        match from {
            Protocol::Sip => Direction::SipToXmpp,
            Protocol::Xmpp => Direction::XmppToSip,
        }
    }

    /// Where it comes from.
    pub fn source(self) -> Protocol {
        match self {
            Direction::SipToXmpp => Protocol::Sip,
            Direction::XmppToSip => Protocol::Xmpp,
        }
    }

    /// Where it goes.
    pub fn destination(self) -> Protocol {
        match self {
            Direction::SipToXmpp => Protocol::Xmpp,
            Direction::XmppToSip => Protocol::Sip,
        }
    }
}

label_enum!(
    /// A wire protocol (also the platform of an address in the audit log).
    Protocol {
        /// SIP (RFC 3261).
        Sip => "sip",
        /// XMPP (RFC 6120).
        Xmpp => "xmpp",
    }
);

label_enum!(
    /// What crossed: the audit `type` and the `kind` label.
    EventKind {
        /// An instant message.
        Im => "im",
        /// A presence update.
        Presence => "presence",
        /// A typing notification (chat state).
        Typing => "typing",
        /// A delivery or read receipt.
        Receipt => "receipt",
        /// A subscription request, approval or cancellation.
        Subscription => "subscription",
        /// An error reply to an earlier message.
        Error => "error",
    }
);

label_enum!(
    /// What happened to it.
    Outcome {
        /// Handed to the next hop.
        Delivered => "delivered",
        /// Refused by parley (policy, translation, capacity); the reason says why.
        Refused => "refused",
        /// Accepted, then answered with an error by the other side.
        Bounced => "bounced",
        /// Kept in the spool for later delivery.
        Spooled => "spooled",
        /// An ephemeral event (a chat state) not delivered and not kept: its peer was
        /// unreachable (XEP-0085 §5.3: chat states are not stored or retried).
        Dropped => "dropped",
        /// Answered by parley and not relayed: it has no counterpart on the other side (an
        /// IMDN processing notification, `processed` or `stored`, RFC 5438 §8.3).
        Consumed => "consumed",
    }
);

label_enum!(
    /// Why inbound bytes did not parse.
    ParseReason {
        /// SIP start line or XMPP stream header.
        StartLine => "start_line",
        /// A malformed or duplicated header.
        Header => "header",
        /// A required header is missing.
        MissingHeader => "missing_header",
        /// A URI or address that does not parse.
        Address => "address",
        /// A size or nesting limit was exceeded.
        TooLarge => "too_large",
        /// Content-Length or framing inconsistent with the bytes.
        Framing => "framing",
        /// A body that does not parse for its type.
        Body => "body",
        /// XML that is not well-formed or uses restricted constructs.
        Xml => "xml",
        /// Wrong namespace or prefix.
        Namespace => "namespace",
        /// A version, encoding, scheme or extension parley does not support.
        Unsupported => "unsupported",
    }
);

impl From<&SipError> for ParseReason {
    fn from(e: &SipError) -> ParseReason {
        match e {
            SipError::BadStartLine => ParseReason::StartLine,
            SipError::BadVersion | SipError::UnsupportedUriScheme | SipError::BadExtension => {
                ParseReason::Unsupported
            }
            SipError::BadHeader(_)
            | SipError::DuplicateHeader(_)
            | SipError::CSeqMethodMismatch => ParseReason::Header,
            SipError::MissingHeader(_) => ParseReason::MissingHeader,
            SipError::HeadTooLarge
            | SipError::TooManyHeaders
            | SipError::HeaderTooLong
            | SipError::BodyTooLarge
            | SipError::UriTooLong
            | SipError::TooManyHops => ParseReason::TooLarge,
            SipError::BadContentLength | SipError::Truncated => ParseReason::Framing,
            SipError::BadUri => ParseReason::Address,
            SipError::BadBody => ParseReason::Body,
        }
    }
}

impl From<&XmppError> for ParseReason {
    fn from(e: &XmppError) -> ParseReason {
        match e {
            XmppError::NotWellFormed | XmppError::RestrictedXml | XmppError::UnexpectedElement => {
                ParseReason::Xml
            }
            XmppError::InvalidNamespace | XmppError::BadNamespacePrefix => ParseReason::Namespace,
            XmppError::StanzaTooLarge | XmppError::TooDeep | XmppError::TooManyAttributes => {
                ParseReason::TooLarge
            }
            XmppError::BadStreamHeader => ParseReason::StartLine,
            XmppError::UnsupportedEncoding | XmppError::UnsupportedVersion => {
                ParseReason::Unsupported
            }
        }
    }
}

label_enum!(
    /// Why policy refused a message.
    PolicyReason {
        /// The sender's domain is not served here on the side it came from.
        SenderDomainNotServed => "sender_domain_not_served",
        /// The peer did not authenticate for the sender's domain.
        PeerNotAuthenticated => "peer_not_authenticated",
        /// The recipient's domain is not served on the other side (no open relay).
        RelayingDenied => "relaying_denied",
        /// Max-Forwards reached zero.
        TooManyHops => "too_many_hops",
        /// The recipient blocked the sender, or the operator blocked the pair.
        Blocked => "blocked",
        /// A rate or size limit.
        RateLimited => "rate_limited",
        /// The outbound queue for the peer is full.
        QueueFull => "queue_full",
        /// The message cannot be expressed on the other side.
        Untranslatable => "untranslatable",
        /// The federation matrix or a domain's inbound/outbound switch refuses the pair.
        FederationDenied => "federation_denied",
        /// A stranger used up the messages allowed before the recipient accepts.
        ConsentRequired => "consent_required",
        /// The message is over the size limit.
        TooLarge => "too_large",
        /// The message has more recipients than allowed.
        TooManyRecipients => "too_many_recipients",
        /// Subscription-flood protection: too many presence subscriptions for the remote
        /// domain or the watcher, or new ones arriving too fast.
        SubscriptionLimit => "subscription_limit",
    }
);

label_enum!(
    /// Why a TLS handshake failed.
    TlsFailure {
        /// The peer's certificate did not verify (chain, expiry, usage).
        Certificate => "certificate",
        /// The certificate is valid but not for the expected domain.
        NameMismatch => "name_mismatch",
        /// The peer presented no certificate where one is required.
        NoCertificate => "no_certificate",
        /// No common protocol version, cipher suite or extension.
        Incompatible => "incompatible",
        /// The peer sent a fatal alert.
        Alert => "alert",
        /// The handshake did not finish in time.
        Timeout => "timeout",
        /// The connection failed underneath (reset, EOF).
        Io => "io",
        /// Anything else rustls reports.
        Protocol => "protocol",
        /// The peer's certificate chains to no trusted CA.
        UntrustedCa => "untrusted_ca",
        /// The peer's certificate is expired (or not yet valid).
        Expired => "expired",
        /// The peer spoke something other than TLS (plaintext SIP or XMPP on a TLS port).
        NotTls => "not_tls",
    }
);

impl TlsFailure {
    /// Classify an error from a tokio-rustls handshake (rustls errors arrive wrapped in
    /// `io::Error`).
    pub fn of_io(e: &io::Error) -> TlsFailure {
        if e.kind() == io::ErrorKind::TimedOut {
            return TlsFailure::Timeout;
        }
        match e
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        {
            Some(r) => TlsFailure::of_rustls(r),
            None => TlsFailure::Io,
        }
    }

    /// Classify a rustls error.
    pub fn of_rustls(e: &rustls::Error) -> TlsFailure {
        use rustls::{CertificateError, Error, InvalidMessage};
        match e {
            Error::InvalidCertificate(CertificateError::UnknownIssuer) => TlsFailure::UntrustedCa,
            Error::InvalidCertificate(
                CertificateError::Expired
                | CertificateError::ExpiredContext { .. }
                | CertificateError::NotValidYet
                | CertificateError::NotValidYetContext { .. },
            ) => TlsFailure::Expired,
            Error::InvalidMessage(
                InvalidMessage::InvalidContentType | InvalidMessage::UnknownProtocolVersion,
            ) => TlsFailure::NotTls,
            Error::InvalidCertificate(CertificateError::NotValidForName)
            | Error::InvalidCertificate(CertificateError::NotValidForNameContext { .. }) => {
                TlsFailure::NameMismatch
            }
            Error::InvalidCertificate(_) => TlsFailure::Certificate,
            Error::NoCertificatesPresented => TlsFailure::NoCertificate,
            Error::PeerIncompatible(_) => TlsFailure::Incompatible,
            Error::AlertReceived(_) => TlsFailure::Alert,
            _ => TlsFailure::Protocol,
        }
    }
}

/// Peer domain label values with a cap: configured domains always keep their name; the first
/// `cap` other domains seen keep theirs; every later one is `other`.
#[derive(Debug)]
pub struct PeerLabels {
    configured: HashSet<String>,
    seen: RwLock<HashSet<String>>,
    cap: usize,
}

/// The label value for domains past the cap.
pub const OTHER: &str = "other";

impl PeerLabels {
    /// Labels for these configured domains, with room for `cap` more.
    pub fn new(configured: &[String], cap: usize) -> PeerLabels {
        PeerLabels {
            configured: configured.iter().map(|d| d.to_ascii_lowercase()).collect(),
            seen: RwLock::new(HashSet::new()),
            cap,
        }
    }

    /// The label value for `domain`.
    pub fn label(&self, domain: &str) -> String {
        let d = domain.trim_end_matches('.').to_ascii_lowercase();
        if self.configured.contains(&d) {
            return d;
        }
        if !valid_domain(&d) {
            return OTHER.to_owned();
        }
        if let Ok(seen) = self.seen.read() {
            if seen.contains(&d) {
                return d;
            }
            if seen.len() >= self.cap {
                return OTHER.to_owned();
            }
        }
        match self.seen.write() {
            Ok(mut seen) if seen.len() < self.cap || seen.contains(&d) => {
                seen.insert(d.clone());
                d
            }
            _ => OTHER.to_owned(),
        }
    }
}

/// Only plain DNS names become label values (nothing a peer could use to inject odd text).
fn valid_domain(d: &str) -> bool {
    !d.is_empty()
        && d.len() <= 253
        && d != OTHER
        && d.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

label_enum!(
    /// Why an XMPP s2s connection failed or died.
    S2sFailure {
        /// No target accepted the TCP connection (or none was found).
        Connect => "connect",
        /// The TLS handshake failed.
        Tls => "tls",
        /// The certificate does not chain to the anchors trusted for the peer.
        UntrustedIssuer => "untrusted_issuer",
        /// The certificate does not name the peer domain.
        NameMismatch => "name_mismatch",
        /// SASL or dialback refused, or no common method.
        AuthRefused => "auth_refused",
        /// Connect or negotiation took too long.
        Timeout => "timeout",
        /// An XEP-0199 ping got no answer: the stream was half-open.
        PingTimeout => "ping_timeout",
        /// The stream broke or the peer closed it.
        Closed => "closed",
        /// The peer broke the protocol or sent a stream error.
        Protocol => "protocol",
    }
);
