//! Policy (DESIGN "Policy"): whether one message may cross, as a pure decision. The caller
//! gathers what the decision needs — the pair's consent state from the store, the token
//! buckets, the clock — into a [`PolicyState`]; [`Policy::decide`] neither awaits nor mutates,
//! and says what to record when the message is allowed.
//!
//! Rules, in the order they are checked (the first refusal wins):
//! 1. size and recipient limits (`[policy.limits]`);
//! 2. the federation matrix (`[policy.federation]`): a deny rule matching the local/remote
//!    pair refuses, else an allow rule admits, else `default`;
//! 3. per-domain switches (`[[policy.domain]]`): the sender's domain must allow outbound, the
//!    recipient's inbound;
//! 4. the operator's per-user lists (`[[policy.user]]`), blocks honoured both ways;
//! 5. blocks recorded in the store, either way;
//! 6. consent: a sender the recipient has not accepted may deliver `max_unaccepted` messages;
//! 7. token buckets per sender domain and per sender.

mod label;
mod pattern;
mod rate;
#[cfg(test)]
mod tests;

use std::borrow::Cow;

use crate::config::{Action, PolicyConfig, Side};
use crate::metrics::PolicyReason;
use crate::model::ErrorCondition;

pub use label::labelled_name;
pub use pattern::{AddressPattern, DomainPattern};
pub use rate::{Bucket, Rate};

/// The rules of a config, compiled once (and again on reload).
#[derive(Debug, Clone)]
pub struct Policy {
    local_side: Side,
    default: Action,
    allow: Vec<(DomainPattern, DomainPattern)>,
    deny: Vec<(DomainPattern, DomainPattern)>,
    switches: Vec<(DomainPattern, bool, bool)>,
    users: Vec<(String, Vec<AddressPattern>, Vec<AddressPattern>)>,
    consent: Option<u32>,
    domain_rate: Rate,
    sender_rate: Rate,
    max_bytes: usize,
    max_recipients: usize,
    external_label: String,
}

/// One message to decide on. Addresses are bare (`local@domain`, no resource).
#[derive(Debug, Clone, Copy)]
pub struct PolicyInput<'a> {
    /// Sender.
    pub from: &'a str,
    /// The side the sender is on.
    pub from_side: Side,
    /// Recipient.
    pub to: &'a str,
    /// Body size in bytes.
    pub bytes: usize,
    /// Number of recipients.
    pub recipients: usize,
}

/// What the store knows about a sender → recipient pair.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PairState {
    /// The recipient accepted the sender (replied, or approved a subscription).
    pub accepted: bool,
    /// Messages delivered from the sender while not accepted.
    pub unaccepted: u32,
    /// The recipient blocked the sender or the sender blocked the recipient.
    pub blocked: bool,
}

/// Everything besides the message that a decision depends on.
#[derive(Debug, Clone, Copy, Default)]
pub struct PolicyState {
    /// Consent and blocks for the pair.
    pub pair: PairState,
    /// The bucket of the sender's domain.
    pub domain_bucket: Bucket,
    /// The bucket of the sender.
    pub sender_bucket: Bucket,
    /// The clock, in milliseconds (any monotonic origin).
    pub now_ms: u64,
}

/// The outcome.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Decision {
    /// The message may cross; record these.
    Allow {
        /// New state of the sender domain's bucket.
        domain_bucket: Bucket,
        /// New state of the sender's bucket.
        sender_bucket: Bucket,
        /// The sender is a stranger to the recipient: count this message against consent.
        count_unaccepted: bool,
    },
    /// The message is refused.
    Refuse(Refusal),
}

/// Why a message is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The body is over `max_message_bytes`.
    TooLarge,
    /// More recipients than `max_recipients`.
    TooManyRecipients,
    /// The federation matrix does not let these two domains exchange traffic.
    FederationDenied,
    /// The sender's domain may not send to the other side.
    OutboundDisabled,
    /// The recipient's domain may not receive from the other side.
    InboundDisabled,
    /// The operator's per-user lists refuse the pair.
    UserNotAllowed,
    /// One of the two blocked the other.
    Blocked,
    /// The recipient has not accepted the sender, who has used up the messages allowed.
    ConsentRequired,
    /// The sender's domain is over its rate.
    DomainRateLimited,
    /// The sender is over its rate.
    SenderRateLimited,
}

impl Refusal {
    /// The metrics/audit reason.
    pub fn reason(self) -> PolicyReason {
        match self {
            Refusal::TooLarge => PolicyReason::TooLarge,
            Refusal::TooManyRecipients => PolicyReason::TooManyRecipients,
            Refusal::FederationDenied | Refusal::OutboundDisabled | Refusal::InboundDisabled => {
                PolicyReason::FederationDenied
            }
            Refusal::UserNotAllowed | Refusal::Blocked => PolicyReason::Blocked,
            Refusal::ConsentRequired => PolicyReason::ConsentRequired,
            Refusal::DomainRateLimited | Refusal::SenderRateLimited => PolicyReason::RateLimited,
        }
    }

    /// The text the sender reads: SIP reason phrase, XMPP `<text/>`.
    pub fn text(self) -> &'static str {
        match self {
            Refusal::TooLarge => "Message Too Large",
            Refusal::TooManyRecipients => "Too Many Recipients",
            Refusal::FederationDenied => "Federation With This Domain Not Allowed",
            Refusal::OutboundDisabled => "Sender Domain May Not Send Externally",
            Refusal::InboundDisabled => "Recipient Domain Does Not Accept External Messages",
            Refusal::UserNotAllowed => "Not Allowed By Policy",
            Refusal::Blocked => "Blocked",
            Refusal::ConsentRequired => "Recipient Has Not Accepted You Yet",
            Refusal::DomainRateLimited => "Domain Rate Limit Exceeded",
            Refusal::SenderRateLimited => "Sender Rate Limit Exceeded",
        }
    }

    /// SIP status (RFC 7247: 413 ⇄ policy-violation; other refusals 403).
    pub fn sip_status(self) -> (u16, Cow<'static, str>) {
        let code = match self {
            Refusal::TooLarge => 413,
            _ => 403,
        };
        (code, Cow::Borrowed(self.text()))
    }

    /// XMPP stanza error condition (RFC 6120 §8.3.3.12 policy-violation for all policy).
    pub fn xmpp_condition(self) -> ErrorCondition {
        ErrorCondition::PolicyViolation
    }
}

fn domain_of(address: &str) -> &str {
    address.rsplit_once('@').map_or(address, |(_, d)| d)
}

impl Policy {
    /// Compile the rules of a validated config.
    pub fn new(c: &PolicyConfig) -> Policy {
        let pairs = |v: &[crate::config::DomainPair]| {
            v.iter()
                .map(|p| (DomainPattern::new(&p.local), DomainPattern::new(&p.remote)))
                .collect()
        };
        let list = |v: &[String]| v.iter().map(|a| AddressPattern::new(a)).collect();
        Policy {
            local_side: c.local_side,
            default: c.federation.default,
            allow: pairs(&c.federation.allow),
            deny: pairs(&c.federation.deny),
            switches: c
                .domains
                .iter()
                .map(|d| (DomainPattern::new(&d.name), d.inbound, d.outbound))
                .collect(),
            users: c
                .users
                .iter()
                .map(|u| {
                    (
                        u.address.to_ascii_lowercase(),
                        list(&u.allow),
                        list(&u.block),
                    )
                })
                .collect(),
            consent: c.consent.enable.then_some(c.consent.max_unaccepted),
            domain_rate: Rate {
                per_second: c.limits.domain_rate,
                burst: c.limits.domain_burst,
            },
            sender_rate: Rate {
                per_second: c.limits.sender_rate,
                burst: c.limits.sender_burst,
            },
            max_bytes: c.limits.max_message_bytes,
            max_recipients: c.limits.max_recipients,
            external_label: c.external_label.clone(),
        }
    }

    /// The bucket parameters, to expire full buckets.
    pub fn rates(&self) -> (Rate, Rate) {
        (self.domain_rate, self.sender_rate)
    }

    /// The display name to send for a federated sender whose own name is `name` and whose
    /// user part is `user` (see [`labelled_name`]); `None` when marking is off.
    pub fn external_name(&self, name: Option<&str>, user: &str) -> Option<String> {
        labelled_name(&self.external_label, name, user)
    }

    /// Decide on one message.
    pub fn decide(&self, m: &PolicyInput<'_>, s: &PolicyState) -> Decision {
        match self.check(m, s) {
            Ok(d) => d,
            Err(r) => Decision::Refuse(r),
        }
    }

    fn check(&self, m: &PolicyInput<'_>, s: &PolicyState) -> Result<Decision, Refusal> {
        if m.bytes > self.max_bytes {
            return Err(Refusal::TooLarge);
        }
        if m.recipients > self.max_recipients {
            return Err(Refusal::TooManyRecipients);
        }
        let (from_domain, to_domain) = (domain_of(m.from), domain_of(m.to));
        if !self.federates(from_domain, m.from_side, to_domain) {
            return Err(Refusal::FederationDenied);
        }
        if self.switch(from_domain).is_some_and(|(_, out)| !out) {
            return Err(Refusal::OutboundDisabled);
        }
        if self.switch(to_domain).is_some_and(|(inb, _)| !inb) {
            return Err(Refusal::InboundDisabled);
        }
        self.user_lists(m.from, m.to)?;
        self.user_lists(m.to, m.from)?;
        if s.pair.blocked {
            return Err(Refusal::Blocked);
        }
        let stranger = self.consent.is_some() && !s.pair.accepted;
        if let Some(max) = self.consent
            && stranger
            && s.pair.unaccepted >= max
        {
            return Err(Refusal::ConsentRequired);
        }
        let domain_bucket = s
            .domain_bucket
            .take(self.domain_rate, s.now_ms)
            .ok_or(Refusal::DomainRateLimited)?;
        let sender_bucket = s
            .sender_bucket
            .take(self.sender_rate, s.now_ms)
            .ok_or(Refusal::SenderRateLimited)?;
        Ok(Decision::Allow {
            domain_bucket,
            sender_bucket,
            count_unaccepted: stranger,
        })
    }

    /// The federation matrix for a message from `from` (on `from_side`) to `to`.
    pub fn federates(&self, from: &str, from_side: Side, to: &str) -> bool {
        let (local, remote) = if from_side == self.local_side {
            (from, to)
        } else {
            (to, from)
        };
        let hit = |rules: &[(DomainPattern, DomainPattern)]| {
            rules
                .iter()
                .any(|(l, r)| l.matches(local) && r.matches(remote))
        };
        if hit(&self.deny) {
            return false;
        }
        hit(&self.allow) || self.default == Action::Allow
    }

    /// `(inbound, outbound)` of the first switch matching `domain`.
    fn switch(&self, domain: &str) -> Option<(bool, bool)> {
        self.switches
            .iter()
            .find(|(p, _, _)| p.matches(domain))
            .map(|(_, i, o)| (*i, *o))
    }

    /// The lists of `user` (if any) against `peer`.
    fn user_lists(&self, user: &str, peer: &str) -> Result<(), Refusal> {
        let Some((_, allow, block)) = self
            .users
            .iter()
            .find(|(a, _, _)| a.eq_ignore_ascii_case(user))
        else {
            return Ok(());
        };
        if block.iter().any(|p| p.matches(peer)) {
            return Err(Refusal::Blocked);
        }
        if !allow.is_empty() && !allow.iter().any(|p| p.matches(peer)) {
            return Err(Refusal::UserNotAllowed);
        }
        Ok(())
    }
}
