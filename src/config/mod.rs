//! The configuration file: serde structs with `deny_unknown_fields`, defaults, and
//! [`Config::validate`], which runs before any socket is bound and names the offending key.

mod connections;
mod default;
mod dns;
mod ops;
mod policy;
mod sip;
mod spool;
#[cfg(test)]
mod tests;
mod xmpp;

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

pub use connections::ConnectionsConfig;
pub use default::{DEFAULT_CONFIG, default_state_dir};
pub use dns::DnsConfig;
pub use ops::{AuditConfig, AuditOutput, MetricsConfig};
pub use policy::{
    Action, ConsentConfig, DomainPair, DomainSwitch, FederationConfig, LimitsConfig, PolicyConfig,
    UserLists,
};
pub use sip::SipConfig;
pub use spool::SpoolConfig;
pub use xmpp::XmppConfig;

/// Which protocol a domain lives on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// A SIP SIMPLE domain: parley is its XMPP server towards the XMPP world.
    Sip,
    /// An XMPP domain: parley is its SIP edge towards the SIP world.
    Xmpp,
}

impl Side {
    /// The other protocol.
    pub fn other(self) -> Side {
        match self {
            Side::Sip => Side::Xmpp,
            Side::Xmpp => Side::Sip,
        }
    }

    /// Lower-case name, as in the config file.
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Sip => "sip",
            Side::Xmpp => "xmpp",
        }
    }
}

/// The whole file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where parley keeps durable state (and generated TLS material).
    #[serde(default)]
    pub state_dir: Option<PathBuf>,
    /// Logging.
    #[serde(default)]
    pub log: LogConfig,
    /// Trust anchors.
    #[serde(default)]
    pub tls: TlsConfig,
    /// SIP listeners and transaction settings.
    #[serde(default)]
    pub sip: SipConfig,
    /// XMPP listeners and stream settings.
    #[serde(default)]
    pub xmpp: XmppConfig,
    /// Shutdown behaviour.
    #[serde(default)]
    pub shutdown: ShutdownConfig,
    /// The admin HTTP server and metrics.
    #[serde(default)]
    pub metrics: MetricsConfig,
    /// The metadata audit log.
    #[serde(default)]
    pub audit: AuditConfig,
    /// Federation matrix, consent and abuse limits.
    #[serde(default)]
    pub policy: PolicyConfig,
    /// The domains parley serves, on both sides.
    #[serde(default, rename = "domain")]
    pub domains: Vec<DomainConfig>,
    /// The durable spool.
    #[serde(default)]
    pub spool: SpoolConfig,
    /// Bounds on concurrent inbound connections.
    #[serde(default)]
    pub connections: ConnectionsConfig,
    /// The DNS servers for peer lookups.
    #[serde(default)]
    pub dns: DnsConfig,
}

/// `[log]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// A tracing filter, e.g. `info` or `parley=debug`.
    #[serde(default = "default_log_level")]
    pub level: String,
    /// Line format.
    #[serde(default)]
    pub format: LogFormat,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            level: default_log_level(),
            format: LogFormat::default(),
        }
    }
}

fn default_log_level() -> String {
    "info".to_owned()
}

/// Log line format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Plain,
    /// One JSON object per line (journald/ELK friendly).
    Json,
}

/// `[tls]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM file with the CA certificates peers are verified against. When absent, parley
    /// uses the CA it generated under the state directory.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
}

/// `[shutdown]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShutdownConfig {
    /// How long in-flight work may take to finish after SIGTERM before it is aborted.
    #[serde(default = "default_drain_timeout_ms")]
    pub drain_timeout_ms: u64,
}

impl Default for ShutdownConfig {
    fn default() -> Self {
        ShutdownConfig {
            drain_timeout_ms: default_drain_timeout_ms(),
        }
    }
}

fn default_drain_timeout_ms() -> u64 {
    10_000
}

/// One `[[domain]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DomainConfig {
    /// The domain name, e.g. `sip.example.com`.
    pub name: String,
    /// Which protocol its users are on.
    pub side: Side,
    /// Where its traffic goes: `host:port` of the SIP proxy or XMPP server (s2s). Without
    /// it the servers are found through DNS (RFC 3263 for SIP, RFC 6120 §3.2 for XMPP).
    #[serde(default)]
    pub next_hop: Option<String>,
    /// For an XMPP `next_hop`: TLS from the first byte (XEP-0368) instead of STARTTLS.
    #[serde(default)]
    pub direct_tls: bool,
    /// For an XMPP domain: how its servers may authenticate, both ways (default: both;
    /// dialback also needs `xmpp.dialback`). TLS is always required.
    #[serde(default = "all_s2s_auth")]
    pub auth: Vec<S2sAuth>,
    /// Certificate chain (PEM) parley presents when it acts for this domain.
    #[serde(default)]
    pub cert_file: Option<PathBuf>,
    /// Private key (PEM) for `cert_file`.
    #[serde(default)]
    pub key_file: Option<PathBuf>,
    /// For a SIP domain: how IM from XMPP reaches its users, as page-mode MESSAGE (RFC 3428,
    /// the default) or in an INVITE-established session (Skype for Business / Lync style).
    #[serde(default)]
    pub im_mode: ImMode,
    /// For a SIP domain: the transport of parley's requests to it (RFC 3261 §18). `udp`
    /// needs `sip.listen_udp`; requests too large for `sip.udp_mtu` are answered 513 locally.
    /// TCP and UDP peers cannot authenticate, so their requests to parley stay refused.
    #[serde(default)]
    pub transport: SipTransportMode,
    /// For an XMPP domain: the CA certificates (PEM) its servers' certificates must chain
    /// to, instead of `tls.ca_file`, both ways (SASL EXTERNAL, dialback, outbound TLS).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// For a SIP domain: which of parley's CPIM extension headers its peers understand, by
    /// namespace prefix (`bridge::ext`): `react` (XEP-0444 reactions), `correct` (XEP-0308),
    /// `retract` (XEP-0424), `reply` (XEP-0461), `oob` (XEP-0066 file links), `invite`
    /// (XEP-0249), or `all`. Those events then travel as `message/cpim` with the extension
    /// headers (the payload stays the readable text); the others, and all of them by default,
    /// as the readable text fallback only.
    #[serde(default)]
    pub sip_extensions: Vec<String>,
    /// For a SIP domain: the bodies its peers take in page mode, as media types in the form
    /// of SDP `accept-types` (RFC 4975 §9, `type/*` and `*` allowed). Absent: a SIMPLE peer
    /// (text/plain, message/cpim with IMDN, application/im-iscomposing+xml, text/html in
    /// multipart/alternative). `["text/plain"]`: an RFC 3428 peer that takes plain text only:
    /// rich messages cross as their plain text, receipt requests and chat states do not cross.
    /// (A session's peer says what it takes in its SDP instead.)
    #[serde(default)]
    pub sip_accept_types: Option<Vec<String>>,
}

impl DomainConfig {
    /// [`DomainConfig::sip_extensions`] as a set (unknown names, refused by
    /// [`Config::validate`], are left out).
    pub fn sip_extension_set(&self) -> crate::bridge::ext::Extensions {
        use crate::bridge::ext::Extensions;
        self.sip_extensions
            .iter()
            .filter_map(|n| Extensions::named(n))
            .fold(Extensions::NONE, Extensions::with)
    }

    /// What this SIP domain's peers take: [`DomainConfig::sip_accept_types`] and
    /// [`DomainConfig::sip_extensions`] together.
    pub fn sip_peer_caps(&self) -> crate::bridge::sip_out::SipPeerCaps {
        use crate::bridge::sip_out::SipPeerCaps;
        use crate::sip::sdp::takes;
        let caps = match &self.sip_accept_types {
            None => SipPeerCaps::SIMPLE,
            Some(types) => {
                let cpim = takes(types, "message/cpim");
                SipPeerCaps {
                    cpim,
                    // IMDN travels inside CPIM (RFC 5438 §6).
                    imdn: cpim,
                    is_composing: takes(types, "application/im-iscomposing+xml"),
                    html: takes(types, "multipart/alternative") && takes(types, "text/html"),
                    ..SipPeerCaps::PLAIN
                }
            }
        };
        SipPeerCaps {
            extensions: self.sip_extension_set(),
            ..caps
        }
    }
}

/// The transport of requests to a SIP domain.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SipTransportMode {
    /// TLS with mutual authentication (RFC 5922), the default.
    #[default]
    Tls,
    /// Plain TCP.
    Tcp,
    /// UDP, retransmitted by the transaction layer.
    Udp,
}

/// How XMPP chat messages are carried to a SIP domain.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImMode {
    /// Each message is a MESSAGE request of its own (RFC 3428).
    #[default]
    Page,
    /// Messages travel as in-dialog MESSAGE requests of an INVITE session (SDP `m=message`).
    Session,
}

/// A server-to-server authentication method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum S2sAuth {
    /// SASL EXTERNAL with the certificate (RFC 6120 §6, XEP-0178).
    SaslExternal,
    /// Server Dialback (XEP-0220), over TLS with a verified certificate.
    Dialback,
}

fn all_s2s_auth() -> Vec<S2sAuth> {
    vec![S2sAuth::SaslExternal, S2sAuth::Dialback]
}

/// A config error, naming the key it is about.
#[derive(Debug)]
pub enum ConfigError {
    /// The file could not be read.
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// TOML syntax or a type/unknown-key error from serde (its message names the key).
    Parse(toml::de::Error),
    /// A value that parses but is not acceptable.
    Invalid {
        /// Dotted key, e.g. `domain[1].next_hop`.
        key: String,
        /// What is wrong.
        reason: String,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Read { path, source } => write!(f, "{}: {source}", path.display()),
            ConfigError::Parse(e) => write!(f, "{e}"),
            ConfigError::Invalid { key, reason } => write!(f, "{key}: {reason}"),
        }
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ConfigError::Read { source, .. } => Some(source),
            ConfigError::Parse(e) => Some(e),
            ConfigError::Invalid { .. } => None,
        }
    }
}

fn invalid(key: impl Into<String>, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        reason: reason.into(),
    }
}

impl Config {
    /// Parse TOML text.
    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        toml::from_str(text).map_err(ConfigError::Parse)
    }

    /// Read and parse a file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Config::parse(&text)
    }

    /// The built-in default: loopback listeners, generated TLS material.
    pub fn builtin() -> Config {
        Config::parse(DEFAULT_CONFIG).expect("the built-in config parses (tested)")
    }

    /// Check everything that can be checked without binding a socket.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.domains.is_empty() {
            return Err(invalid("domain", "at least one [[domain]] is required"));
        }
        if self.sip.max_subscription_expires == 0
            || self.sip.min_subscription_expires > self.sip.max_subscription_expires
        {
            return Err(invalid(
                "sip.min_subscription_expires",
                "must not exceed sip.max_subscription_expires (at least 1)",
            ));
        }
        if !(self.sip.subscribe_rate >= 0.0 && self.sip.subscribe_rate.is_finite()) {
            return Err(invalid("sip.subscribe_rate", "a finite rate ≥ 0"));
        }
        let mut seen = HashSet::new();
        for (i, d) in self.domains.iter().enumerate() {
            let key = |field: &str| format!("domain[{i}].{field}");
            validate_domain_name(&d.name).map_err(|r| invalid(key("name"), r))?;
            if !seen.insert(d.name.to_ascii_lowercase()) {
                return Err(invalid(
                    key("name"),
                    format!("{} is declared twice", d.name),
                ));
            }
            // Without a next hop the servers are found by DNS (RFC 3263 for SIP domains).
            if let Some(hop) = &d.next_hop {
                validate_host_port(hop).map_err(|r| invalid(key("next_hop"), r))?
            }
            if d.auth.is_empty() {
                return Err(invalid(
                    key("auth"),
                    "at least one of \"sasl-external\", \"dialback\"",
                ));
            }
            match (&d.ca_file, d.side) {
                (Some(_), Side::Sip) => {
                    return Err(invalid(key("ca_file"), "applies only to XMPP domains"));
                }
                (Some(ca), Side::Xmpp) if !ca.is_file() => {
                    return Err(invalid(
                        key("ca_file"),
                        format!("{} is not a readable file", ca.display()),
                    ));
                }
                _ => {}
            }
            if !d.sip_extensions.is_empty() && d.side != Side::Sip {
                return Err(invalid(
                    key("sip_extensions"),
                    "applies only to SIP domains",
                ));
            }
            if let Some(bad) = d
                .sip_extensions
                .iter()
                .find(|n| crate::bridge::ext::Extensions::named(n).is_none())
            {
                return Err(invalid(
                    key("sip_extensions"),
                    format!(
                        "unknown extension {bad:?} (known: \"react\", \"correct\", \"retract\", \"reply\", \"oob\", \"invite\", \"all\")"
                    ),
                ));
            }
            if let Some(types) = &d.sip_accept_types {
                if d.side != Side::Sip {
                    return Err(invalid(
                        key("sip_accept_types"),
                        "applies only to SIP domains",
                    ));
                }
                if let Some(bad) = types.iter().find(|t| {
                    let t = t.as_str();
                    t != "*"
                        && !t.split_once('/').is_some_and(|(a, b)| {
                            !a.is_empty() && !b.is_empty() && !t.contains([' ', ';', ','])
                        })
                }) {
                    return Err(invalid(
                        key("sip_accept_types"),
                        format!("{bad:?} is not a media type (type/subtype, type/* or *)"),
                    ));
                }
            }
            if d.direct_tls && (d.side != Side::Xmpp || d.next_hop.is_none()) {
                return Err(invalid(
                    key("direct_tls"),
                    "applies only to an XMPP domain's next_hop",
                ));
            }
            match (&d.cert_file, &d.key_file) {
                (Some(_), None) => {
                    return Err(invalid(key("key_file"), "cert_file needs key_file"));
                }
                (None, Some(_)) => {
                    return Err(invalid(key("cert_file"), "key_file needs cert_file"));
                }
                _ => {}
            }
            for (field, path) in [("cert_file", &d.cert_file), ("key_file", &d.key_file)] {
                if let Some(p) = path
                    && !p.is_file()
                {
                    return Err(invalid(
                        key(field),
                        format!("{} is not a readable file", p.display()),
                    ));
                }
            }
        }
        for side in [Side::Sip, Side::Xmpp] {
            if !self.domains.iter().any(|d| d.side == side) {
                return Err(invalid(
                    "domain",
                    format!(
                        "no domain with side = \"{}\": nothing to federate with",
                        side.as_str()
                    ),
                ));
            }
        }
        let generated = self
            .domains
            .iter()
            .filter(|d| d.cert_file.is_none())
            .count();
        if generated != 0 && generated != self.domains.len() {
            let i = self
                .domains
                .iter()
                .position(|d| d.cert_file.is_none())
                .unwrap_or(0);
            return Err(invalid(
                format!("domain[{i}].cert_file"),
                "either every domain names its cert_file/key_file or none does (generated TLS material)",
            ));
        }
        match &self.tls.ca_file {
            Some(ca) if !ca.is_file() => {
                return Err(invalid(
                    "tls.ca_file",
                    format!("{} is not a readable file", ca.display()),
                ));
            }
            None if generated == 0 => {
                return Err(invalid(
                    "tls.ca_file",
                    "required when domains bring their own certificates",
                ));
            }
            _ => {}
        }
        if self.sip.listen_tls.is_empty() {
            return Err(invalid(
                "sip.listen_tls",
                "at least one address is required",
            ));
        }
        if self.xmpp.listen.is_empty() && self.xmpp.listen_tls.is_empty() {
            return Err(invalid(
                "xmpp.listen",
                "at least one address (listen or listen_tls) is required",
            ));
        }
        if self.xmpp.queue_depth == 0 {
            return Err(invalid("xmpp.queue_depth", "must be at least 1"));
        }
        if self.xmpp.delivery_timeout_ms >= self.sip.transaction_timeout_ms * 3 / 4 {
            return Err(invalid(
                "xmpp.delivery_timeout_ms",
                "must be below 3/4 of sip.transaction_timeout_ms, so a SIP sender hears the outcome",
            ));
        }
        for (key, v) in [
            ("xmpp.connect_timeout_ms", self.xmpp.connect_timeout_ms),
            ("xmpp.keepalive_ms", self.xmpp.keepalive_ms),
            ("xmpp.idle_timeout_ms", self.xmpp.idle_timeout_ms),
            ("sip.idle_timeout_ms", self.sip.idle_timeout_ms),
            ("xmpp.ping_timeout_ms", self.xmpp.ping_timeout_ms),
            (
                "xmpp.negotiation_timeout_ms",
                self.xmpp.negotiation_timeout_ms,
            ),
            ("xmpp.confirm_window", self.xmpp.confirm_window as u64),
            ("xmpp.preauth_max_bytes", self.xmpp.preauth_max_bytes as u64),
            (
                "xmpp.preauth_max_elements",
                self.xmpp.preauth_max_elements as u64,
            ),
        ] {
            if v == 0 {
                return Err(invalid(key, "must be positive"));
            }
        }
        if self.sip.transaction_timeout_ms == 0 {
            return Err(invalid("sip.transaction_timeout_ms", "must be positive"));
        }
        tracing_subscriber::EnvFilter::try_new(&self.log.level)
            .map_err(|e| invalid("log.level", e.to_string()))?;
        self.metrics.validate()?;
        self.audit.validate()?;
        self.policy.validate()?;
        self.spool.validate()?;
        self.connections.validate()?;
        self.dns.validate()?;
        Ok(())
    }

    /// The state directory, configured or the default.
    pub fn state_dir(&self) -> PathBuf {
        self.state_dir.clone().unwrap_or_else(default_state_dir)
    }

    /// How long a message waits for room in a full outbound queue.
    pub fn queue_wait(&self) -> Duration {
        self.connections.queue_wait(self.sip.transaction_timeout_ms)
    }

    /// Drain deadline.
    pub fn drain_timeout(&self) -> Duration {
        Duration::from_millis(self.shutdown.drain_timeout_ms)
    }

    /// Whether the XMPP domain `name` may authenticate (and be authenticated to) with `method`.
    pub fn s2s_auth_allowed(&self, name: &str, method: S2sAuth) -> bool {
        let dialback_on = method != S2sAuth::Dialback || self.xmpp.dialback;
        dialback_on && self.domain(name).is_some_and(|d| d.auth.contains(&method))
    }

    /// `(domain, ca_file)` of every XMPP domain with trust anchors of its own.
    pub fn xmpp_peer_cas(&self) -> Vec<(String, PathBuf)> {
        self.domains
            .iter()
            .filter(|d| d.side == Side::Xmpp)
            .filter_map(|d| Some((d.name.to_ascii_lowercase(), d.ca_file.clone()?)))
            .collect()
    }

    /// The domain entry for `name` (case-insensitive).
    pub fn domain(&self, name: &str) -> Option<&DomainConfig> {
        self.domains
            .iter()
            .find(|d| d.name.eq_ignore_ascii_case(name))
    }
}

fn validate_domain_name(name: &str) -> Result<(), String> {
    let ok_label = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if name.is_empty() || name.len() > 253 || !name.split('.').all(ok_label) {
        return Err(format!("{name:?} is not a domain name"));
    }
    Ok(())
}

fn validate_host_port(s: &str) -> Result<(), String> {
    let (host, port) = s
        .rsplit_once(':')
        .ok_or_else(|| format!("{s:?} is not host:port"))?;
    port.parse::<u16>()
        .ok()
        .filter(|p| *p != 0)
        .ok_or_else(|| format!("{port:?} is not a port"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.parse::<std::net::IpAddr>().is_err() {
        validate_domain_name(host)?;
    }
    Ok(())
}
