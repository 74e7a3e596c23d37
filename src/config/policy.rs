//! `[policy]`: the federation matrix, per-user lists, consent and abuse limits. Every default
//! lets traffic between configured domains through, so a config without this section behaves
//! as before; only consent (10 messages from a stranger) is on by default, as DESIGN asks.

use serde::Deserialize;

use super::{ConfigError, Side, invalid};

/// `[policy]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    /// Which side's domains are "local" in `[policy.federation]` rules (the operator's own).
    #[serde(default = "default_local_side")]
    pub local_side: Side,
    /// Which local domains may exchange traffic with which remote ones.
    #[serde(default)]
    pub federation: FederationConfig,
    /// Inbound/outbound switches, by domain pattern.
    #[serde(default, rename = "domain")]
    pub domains: Vec<DomainSwitch>,
    /// Per-user allow and block lists, set by the operator.
    #[serde(default, rename = "user")]
    pub users: Vec<UserLists>,
    /// Contact acceptance.
    #[serde(default)]
    pub consent: ConsentConfig,
    /// Token buckets and size limits.
    #[serde(default)]
    pub limits: LimitsConfig,
    /// Appended to the display name / XEP-0172 nick of federated senders; empty: off.
    #[serde(default = "default_external_label")]
    pub external_label: String,
    /// Consent and subscriptions unused this long are deactivated ("180d"; units ms, s, m,
    /// h, d), in milliseconds.
    #[serde(default = "default_retire_after", deserialize_with = "duration_ms")]
    pub retire_after: u64,
    /// Deactivated consent and subscriptions are removed this long after ("30d"), in
    /// milliseconds.
    #[serde(default = "default_retire_grace", deserialize_with = "duration_ms")]
    pub retire_grace: u64,
    /// Contact pairs kept at most; a new pair beyond it first removes the oldest inactive
    /// ones (retired before active, by age).
    #[serde(default = "default_max_contact_pairs")]
    pub max_contact_pairs: usize,
    /// Blocks (a user blocks a sender) kept at most; at the bound a new block is refused
    /// with an error, and no block is ever dropped to make room.
    #[serde(default = "default_max_blocks")]
    pub max_blocks: usize,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        PolicyConfig {
            local_side: default_local_side(),
            federation: FederationConfig::default(),
            domains: Vec::new(),
            users: Vec::new(),
            consent: ConsentConfig::default(),
            limits: LimitsConfig::default(),
            external_label: default_external_label(),
            retire_after: default_retire_after(),
            retire_grace: default_retire_grace(),
            max_contact_pairs: default_max_contact_pairs(),
            max_blocks: default_max_blocks(),
        }
    }
}

const DAY_MS: u64 = 24 * 3600 * 1000;

fn default_retire_after() -> u64 {
    180 * DAY_MS
}

fn default_retire_grace() -> u64 {
    30 * DAY_MS
}

fn default_max_contact_pairs() -> usize {
    1_000_000
}

fn default_max_blocks() -> usize {
    100_000
}

/// A duration such as `"180d"`, `"12h"`, `"90m"`, `"30s"` or `"250ms"`, in milliseconds.
pub fn parse_duration_ms(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (n, unit) = t.split_at(split);
    let n: u64 = n
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like \"180d\""))?;
    let scale = match unit {
        "ms" => 1,
        "s" => 1000,
        "m" => 60 * 1000,
        "h" => 3600 * 1000,
        "d" => DAY_MS,
        _ => return Err(format!("{text:?}: the unit must be ms, s, m, h or d")),
    };
    n.checked_mul(scale)
        .ok_or_else(|| format!("{text:?} is too long"))
}

fn duration_ms<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let text = String::deserialize(d)?;
    parse_duration_ms(&text).map_err(serde::de::Error::custom)
}

fn default_external_label() -> String {
    "(external)".to_owned()
}

fn default_local_side() -> Side {
    Side::Sip
}

/// Allow or deny.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Traffic may flow.
    #[default]
    Allow,
    /// Traffic is refused.
    Deny,
}

/// `[policy.federation]`: deny rules win over allow rules, which win over `default`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FederationConfig {
    /// When no rule matches.
    #[serde(default)]
    pub default: Action,
    /// Pairs that may federate.
    #[serde(default)]
    pub allow: Vec<DomainPair>,
    /// Pairs that may not.
    #[serde(default)]
    pub deny: Vec<DomainPair>,
}

/// A local/remote domain pair; each side a name, `*.suffix` (subdomains only) or `*`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DomainPair {
    /// Pattern for the domain on `local_side`.
    pub local: String,
    /// Pattern for the domain on the other side.
    pub remote: String,
}

/// `[[policy.domain]]`: whether a domain's users may send to / receive from the other side.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DomainSwitch {
    /// Domain pattern.
    pub name: String,
    /// Its users may receive messages from the other side.
    #[serde(default = "yes")]
    pub inbound: bool,
    /// Its users may send messages to the other side.
    #[serde(default = "yes")]
    pub outbound: bool,
}

/// `[[policy.user]]`: lists for one address; entries are addresses, `*@domain` or
/// `*@*.suffix`. Blocks apply both ways; a non-empty `allow` admits only what it names.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserLists {
    /// `local@domain` of the user.
    pub address: String,
    /// Who may exchange messages with the user (empty: anyone).
    #[serde(default)]
    pub allow: Vec<String>,
    /// Who may not, either way.
    #[serde(default)]
    pub block: Vec<String>,
}

/// `[policy.consent]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsentConfig {
    /// Require acceptance of strangers.
    #[serde(default = "yes")]
    pub enable: bool,
    /// Messages a stranger may deliver before the recipient accepts (replies or approves a
    /// presence subscription).
    #[serde(default = "default_max_unaccepted")]
    pub max_unaccepted: u32,
}

impl Default for ConsentConfig {
    fn default() -> Self {
        ConsentConfig {
            enable: true,
            max_unaccepted: default_max_unaccepted(),
        }
    }
}

fn default_max_unaccepted() -> u32 {
    10
}

/// `[policy.limits]`. A rate of 0 turns that bucket off.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// Sustained messages per second from one remote domain.
    #[serde(default = "default_domain_rate")]
    pub domain_rate: f64,
    /// Burst for `domain_rate`.
    #[serde(default = "default_domain_burst")]
    pub domain_burst: u32,
    /// Sustained messages per second from one sender.
    #[serde(default = "default_sender_rate")]
    pub sender_rate: f64,
    /// Burst for `sender_rate`.
    #[serde(default = "default_sender_burst")]
    pub sender_burst: u32,
    /// Largest body (bytes) relayed.
    #[serde(default = "default_max_message_bytes")]
    pub max_message_bytes: usize,
    /// Most recipients of one message.
    #[serde(default = "default_max_recipients")]
    pub max_recipients: usize,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            domain_rate: default_domain_rate(),
            domain_burst: default_domain_burst(),
            sender_rate: default_sender_rate(),
            sender_burst: default_sender_burst(),
            max_message_bytes: default_max_message_bytes(),
            max_recipients: default_max_recipients(),
        }
    }
}

fn default_domain_rate() -> f64 {
    200.0
}
fn default_domain_burst() -> u32 {
    1000
}
fn default_sender_rate() -> f64 {
    5.0
}
fn default_sender_burst() -> u32 {
    50
}
fn default_max_message_bytes() -> usize {
    64 * 1024
}
fn default_max_recipients() -> usize {
    1
}

fn yes() -> bool {
    true
}

/// Check a domain pattern: a name, `*.suffix` or `*`.
fn validate_domain_pattern(p: &str) -> Result<(), String> {
    if p == "*" {
        return Ok(());
    }
    let name = p.strip_prefix("*.").unwrap_or(p);
    super::validate_domain_name(name).map_err(|_| format!("{p:?} is not a domain or *.domain"))
}

fn validate_address_pattern(p: &str) -> Result<(), String> {
    match p.rsplit_once('@') {
        Some((local, domain)) if !local.is_empty() => validate_domain_pattern(domain),
        _ => Err(format!("{p:?} is not an address, *@domain or *@*.domain")),
    }
}

impl PolicyConfig {
    /// Check patterns and limits, naming the key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (list, pairs) in [
            ("allow", &self.federation.allow),
            ("deny", &self.federation.deny),
        ] {
            for (i, pair) in pairs.iter().enumerate() {
                for (field, p) in [("local", &pair.local), ("remote", &pair.remote)] {
                    validate_domain_pattern(p).map_err(|r| {
                        invalid(format!("policy.federation.{list}[{i}].{field}"), r)
                    })?;
                }
            }
        }
        for (i, d) in self.domains.iter().enumerate() {
            validate_domain_pattern(&d.name)
                .map_err(|r| invalid(format!("policy.domain[{i}].name"), r))?;
        }
        for (i, u) in self.users.iter().enumerate() {
            if u.address.starts_with('*') {
                return Err(invalid(
                    format!("policy.user[{i}].address"),
                    "must be one address, not a pattern",
                ));
            }
            validate_address_pattern(&u.address)
                .map_err(|r| invalid(format!("policy.user[{i}].address"), r))?;
            for (list, entries) in [("allow", &u.allow), ("block", &u.block)] {
                for (j, e) in entries.iter().enumerate() {
                    validate_address_pattern(e)
                        .map_err(|r| invalid(format!("policy.user[{i}].{list}[{j}]"), r))?;
                }
            }
        }
        if self.consent.enable && self.consent.max_unaccepted == 0 {
            return Err(invalid(
                "policy.consent.max_unaccepted",
                "must be at least 1 (or set enable = false)",
            ));
        }
        let l = &self.limits;
        for (key, rate, burst) in [
            ("domain", l.domain_rate, l.domain_burst),
            ("sender", l.sender_rate, l.sender_burst),
        ] {
            if !rate.is_finite() || rate < 0.0 {
                return Err(invalid(
                    format!("policy.limits.{key}_rate"),
                    "must be a non-negative number",
                ));
            }
            if rate > 0.0 && burst == 0 {
                return Err(invalid(
                    format!("policy.limits.{key}_burst"),
                    "must be at least 1",
                ));
            }
        }
        if l.max_message_bytes == 0 {
            return Err(invalid(
                "policy.limits.max_message_bytes",
                "must be positive",
            ));
        }
        if self.external_label.chars().count() > 64
            || self.external_label.chars().any(char::is_control)
        {
            return Err(invalid(
                "policy.external_label",
                "must be at most 64 characters, without control characters",
            ));
        }
        if self.retire_after == 0 {
            return Err(invalid("policy.retire_after", "must be positive"));
        }
        if self.max_contact_pairs == 0 {
            return Err(invalid("policy.max_contact_pairs", "must be positive"));
        }
        if self.max_blocks == 0 {
            return Err(invalid("policy.max_blocks", "must be positive"));
        }
        if l.max_recipients == 0 {
            return Err(invalid("policy.limits.max_recipients", "must be positive"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod max_blocks_tests {
    use super::PolicyConfig;

    #[test]
    fn max_blocks_has_a_default_is_read_and_must_be_positive() {
        assert_eq!(PolicyConfig::default().max_blocks, 100_000);
        let p: PolicyConfig = toml::from_str("max_blocks = 5").unwrap();
        assert_eq!(p.max_blocks, 5);
        p.validate().unwrap();
        let p: PolicyConfig = toml::from_str("max_blocks = 0").unwrap();
        let e = p.validate().unwrap_err();
        assert!(e.to_string().contains("policy.max_blocks"), "{e}");
    }
}
