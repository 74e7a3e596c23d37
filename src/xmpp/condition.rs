//! Stanza and stream error conditions (RFC 6120 §8.3.3, §4.9.3).

/// Stanza error type (RFC 6120 §8.3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorType {
    /// Retry after providing credentials.
    Auth,
    /// Do not retry.
    Cancel,
    /// Proceed (the condition was only a warning).
    Continue,
    /// Retry after changing the data sent.
    Modify,
    /// Retry after waiting.
    Wait,
}

impl ErrorType {
    /// Wire form.
    pub fn as_str(&self) -> &'static str {
        match self {
            ErrorType::Auth => "auth",
            ErrorType::Cancel => "cancel",
            ErrorType::Continue => "continue",
            ErrorType::Modify => "modify",
            ErrorType::Wait => "wait",
        }
    }

    /// Parse the wire form.
    pub fn from_wire(s: &str) -> Option<ErrorType> {
        Some(match s {
            "auth" => ErrorType::Auth,
            "cancel" => ErrorType::Cancel,
            "continue" => ErrorType::Continue,
            "modify" => ErrorType::Modify,
            "wait" => ErrorType::Wait,
            _ => return None,
        })
    }
}

/// Stanza error conditions (RFC 6120 §8.3.3), namespace `urn:ietf:params:xml:ns:xmpp-stanzas`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StanzaCondition {
    /// `<bad-request/>`
    BadRequest,
    /// `<conflict/>`
    Conflict,
    /// `<feature-not-implemented/>`
    FeatureNotImplemented,
    /// `<forbidden/>`
    Forbidden,
    /// `<gone/>`
    Gone,
    /// `<internal-server-error/>`
    InternalServerError,
    /// `<item-not-found/>`
    ItemNotFound,
    /// `<jid-malformed/>`
    JidMalformed,
    /// `<not-acceptable/>`
    NotAcceptable,
    /// `<not-allowed/>`
    NotAllowed,
    /// `<not-authorized/>`
    NotAuthorized,
    /// `<policy-violation/>`
    PolicyViolation,
    /// `<recipient-unavailable/>`
    RecipientUnavailable,
    /// `<redirect/>`
    Redirect,
    /// `<registration-required/>`
    RegistrationRequired,
    /// `<remote-server-not-found/>`
    RemoteServerNotFound,
    /// `<remote-server-timeout/>`
    RemoteServerTimeout,
    /// `<resource-constraint/>`
    ResourceConstraint,
    /// `<service-unavailable/>`
    ServiceUnavailable,
    /// `<subscription-required/>`
    SubscriptionRequired,
    /// `<undefined-condition/>`
    UndefinedCondition,
    /// `<unexpected-request/>`
    UnexpectedRequest,
}

/// Wire names of every [`StanzaCondition`], in RFC order: the one table both directions use.
const STANZACONDITION_NAMES: &[(StanzaCondition, &str)] = &[
    (StanzaCondition::BadRequest, "bad-request"),
    (StanzaCondition::Conflict, "conflict"),
    (
        StanzaCondition::FeatureNotImplemented,
        "feature-not-implemented",
    ),
    (StanzaCondition::Forbidden, "forbidden"),
    (StanzaCondition::Gone, "gone"),
    (
        StanzaCondition::InternalServerError,
        "internal-server-error",
    ),
    (StanzaCondition::ItemNotFound, "item-not-found"),
    (StanzaCondition::JidMalformed, "jid-malformed"),
    (StanzaCondition::NotAcceptable, "not-acceptable"),
    (StanzaCondition::NotAllowed, "not-allowed"),
    (StanzaCondition::NotAuthorized, "not-authorized"),
    (StanzaCondition::PolicyViolation, "policy-violation"),
    (
        StanzaCondition::RecipientUnavailable,
        "recipient-unavailable",
    ),
    (StanzaCondition::Redirect, "redirect"),
    (
        StanzaCondition::RegistrationRequired,
        "registration-required",
    ),
    (
        StanzaCondition::RemoteServerNotFound,
        "remote-server-not-found",
    ),
    (
        StanzaCondition::RemoteServerTimeout,
        "remote-server-timeout",
    ),
    (StanzaCondition::ResourceConstraint, "resource-constraint"),
    (StanzaCondition::ServiceUnavailable, "service-unavailable"),
    (
        StanzaCondition::SubscriptionRequired,
        "subscription-required",
    ),
    (StanzaCondition::UndefinedCondition, "undefined-condition"),
    (StanzaCondition::UnexpectedRequest, "unexpected-request"),
];

impl StanzaCondition {
    /// Element name on the wire.
    pub fn as_str(&self) -> &'static str {
        STANZACONDITION_NAMES
            .iter()
            .find(|(c, _)| c == self)
            .map(|(_, n)| *n)
            .unwrap_or("undefined-condition")
    }

    /// Parse an element name.
    pub fn from_wire(s: &str) -> Option<StanzaCondition> {
        STANZACONDITION_NAMES
            .iter()
            .find(|(_, n)| *n == s)
            .map(|(c, _)| *c)
    }

    /// Every condition, in RFC order.
    pub fn all() -> impl Iterator<Item = StanzaCondition> {
        STANZACONDITION_NAMES.iter().map(|(c, _)| *c)
    }
}

/// Stream error conditions (RFC 6120 §4.9.3), namespace `urn:ietf:params:xml:ns:xmpp-streams`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StreamCondition {
    /// `<bad-format/>`
    BadFormat,
    /// `<bad-namespace-prefix/>`
    BadNamespacePrefix,
    /// `<conflict/>`
    Conflict,
    /// `<connection-timeout/>`
    ConnectionTimeout,
    /// `<host-gone/>`
    HostGone,
    /// `<host-unknown/>`
    HostUnknown,
    /// `<improper-addressing/>`
    ImproperAddressing,
    /// `<internal-server-error/>`
    InternalServerError,
    /// `<invalid-from/>`
    InvalidFrom,
    /// `<invalid-namespace/>`
    InvalidNamespace,
    /// `<invalid-xml/>`
    InvalidXml,
    /// `<not-authorized/>`
    NotAuthorized,
    /// `<not-well-formed/>`
    NotWellFormed,
    /// `<policy-violation/>`
    PolicyViolation,
    /// `<remote-connection-failed/>`
    RemoteConnectionFailed,
    /// `<reset/>`
    Reset,
    /// `<resource-constraint/>`
    ResourceConstraint,
    /// `<restricted-xml/>`
    RestrictedXml,
    /// `<see-other-host/>`
    SeeOtherHost,
    /// `<system-shutdown/>`
    SystemShutdown,
    /// `<undefined-condition/>`
    UndefinedCondition,
    /// `<unsupported-encoding/>`
    UnsupportedEncoding,
    /// `<unsupported-feature/>`
    UnsupportedFeature,
    /// `<unsupported-stanza-type/>`
    UnsupportedStanzaType,
    /// `<unsupported-version/>`
    UnsupportedVersion,
}

/// Wire names of every [`StreamCondition`], in RFC order: the one table both directions use.
const STREAMCONDITION_NAMES: &[(StreamCondition, &str)] = &[
    (StreamCondition::BadFormat, "bad-format"),
    (StreamCondition::BadNamespacePrefix, "bad-namespace-prefix"),
    (StreamCondition::Conflict, "conflict"),
    (StreamCondition::ConnectionTimeout, "connection-timeout"),
    (StreamCondition::HostGone, "host-gone"),
    (StreamCondition::HostUnknown, "host-unknown"),
    (StreamCondition::ImproperAddressing, "improper-addressing"),
    (
        StreamCondition::InternalServerError,
        "internal-server-error",
    ),
    (StreamCondition::InvalidFrom, "invalid-from"),
    (StreamCondition::InvalidNamespace, "invalid-namespace"),
    (StreamCondition::InvalidXml, "invalid-xml"),
    (StreamCondition::NotAuthorized, "not-authorized"),
    (StreamCondition::NotWellFormed, "not-well-formed"),
    (StreamCondition::PolicyViolation, "policy-violation"),
    (
        StreamCondition::RemoteConnectionFailed,
        "remote-connection-failed",
    ),
    (StreamCondition::Reset, "reset"),
    (StreamCondition::ResourceConstraint, "resource-constraint"),
    (StreamCondition::RestrictedXml, "restricted-xml"),
    (StreamCondition::SeeOtherHost, "see-other-host"),
    (StreamCondition::SystemShutdown, "system-shutdown"),
    (StreamCondition::UndefinedCondition, "undefined-condition"),
    (StreamCondition::UnsupportedEncoding, "unsupported-encoding"),
    (StreamCondition::UnsupportedFeature, "unsupported-feature"),
    (
        StreamCondition::UnsupportedStanzaType,
        "unsupported-stanza-type",
    ),
    (StreamCondition::UnsupportedVersion, "unsupported-version"),
];

impl StreamCondition {
    /// Element name on the wire.
    pub fn as_str(&self) -> &'static str {
        STREAMCONDITION_NAMES
            .iter()
            .find(|(c, _)| c == self)
            .map(|(_, n)| *n)
            .unwrap_or("undefined-condition")
    }

    /// Parse an element name.
    pub fn from_wire(s: &str) -> Option<StreamCondition> {
        STREAMCONDITION_NAMES
            .iter()
            .find(|(_, n)| *n == s)
            .map(|(c, _)| *c)
    }

    /// Every condition, in RFC order.
    pub fn all() -> impl Iterator<Item = StreamCondition> {
        STREAMCONDITION_NAMES.iter().map(|(c, _)| *c)
    }
}

impl StanzaCondition {
    /// The default error type for a condition (RFC 6120 §8.3.3 examples).
    pub fn default_type(&self) -> ErrorType {
        use StanzaCondition::*;
        match self {
            BadRequest | JidMalformed | NotAcceptable | PolicyViolation | Redirect => {
                ErrorType::Modify
            }
            NotAuthorized | RegistrationRequired | SubscriptionRequired | Forbidden => {
                ErrorType::Auth
            }
            InternalServerError | RecipientUnavailable | RemoteServerTimeout
            | ResourceConstraint | UnexpectedRequest => ErrorType::Wait,
            _ => ErrorType::Cancel,
        }
    }
}
