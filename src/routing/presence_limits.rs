//! Subscription-flood protection for presence (RFC 6665 §4.2.1.1: the notifier decides
//! whether to accept a new subscription; issue 8 "subscription-flood protection"): a bound on
//! live subscriptions per remote domain and per watcher, over both roles (SIP watchers of
//! XMPP users and XMPP watchers of SIP users), and a token bucket on new subscriptions per
//! remote domain.
//!
//! The decision is pure ([`admit`]); the gateway keeps the buckets and counts the live
//! dialogs. How a refusal is answered:
//!
//! - too fast: SIP `503 Service Unavailable` with `Retry-After` (RFC 3261 §21.5.4, the
//!   response that tells a client to try again later), XMPP `<resource-constraint/>`
//!   (type `wait`);
//! - too many: SIP `403 Subscription Limit Reached` (RFC 3261 §21.4.4: repeating the request
//!   does not help while the others live), XMPP `<policy-violation/>` with that text.
//!
//! The caller audits each refusal, which counts it as
//! `parley_policy_refusals_total{reason="subscription_limit"}`.

use std::sync::Arc;

use dashmap::DashMap;

use super::Gateway;
use crate::config::SipConfig;
use crate::model::ErrorCondition;
use crate::policy::{Bucket, Rate};

/// Why a new subscription is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flood {
    /// The remote domain holds `max_subscriptions_per_domain` already.
    Domain,
    /// The watcher holds `max_subscriptions_per_watcher` already.
    Watcher,
    /// New subscriptions from the domain arrive faster than the bucket allows; retry after
    /// this many seconds.
    Rate(u32),
}

impl Flood {
    /// The SIP final response (status, reason) and the `Retry-After` value, if any.
    pub(crate) fn sip_status(self) -> (u16, &'static str, Option<u32>) {
        match self {
            Flood::Domain | Flood::Watcher => (403, "Subscription Limit Reached", None),
            Flood::Rate(after) => (503, "Service Unavailable", Some(after)),
        }
    }

    /// The XMPP stanza error condition and its text.
    pub(crate) fn xmpp_condition(self) -> (ErrorCondition, &'static str) {
        match self {
            Flood::Domain | Flood::Watcher => (
                ErrorCondition::PolicyViolation,
                "Subscription Limit Reached",
            ),
            Flood::Rate(_) => (
                ErrorCondition::ResourceConstraint,
                "Too Many New Subscriptions",
            ),
        }
    }
}

/// The limits, from `[sip]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Limits {
    pub per_domain: usize,
    pub per_watcher: usize,
    pub rate: Rate,
}

impl Limits {
    pub(crate) fn from_config(c: &SipConfig) -> Limits {
        Limits {
            per_domain: c.max_subscriptions_per_domain,
            per_watcher: c.max_subscriptions_per_watcher,
            rate: Rate {
                per_second: c.subscribe_rate,
                burst: c.subscribe_burst.max(1),
            },
        }
    }
}

/// Decide on a new subscription from a domain holding `domain_live` subscriptions, by a
/// watcher holding `watcher_live`, with the domain's bucket `bucket` at `now_ms`: the bucket
/// to keep, or why it is refused. Counts are checked first, so a refused request spends no
/// token.
pub(crate) fn admit(
    limits: &Limits,
    domain_live: usize,
    watcher_live: usize,
    bucket: Bucket,
    now_ms: u64,
) -> Result<Bucket, Flood> {
    if domain_live >= limits.per_domain {
        return Err(Flood::Domain);
    }
    if watcher_live >= limits.per_watcher {
        return Err(Flood::Watcher);
    }
    bucket.take(limits.rate, now_ms).ok_or_else(|| {
        // One token comes back after 1/rate seconds.
        let after: f64 = (1.0 / limits.rate.per_second).ceil().clamp(1.0, 3600.0);
        Flood::Rate(after as u32)
    })
}

/// The new-subscription buckets by remote domain (only configured domains reach them, so
/// the map is bounded by the configuration).
#[derive(Debug, Default)]
pub(crate) struct Buckets(DashMap<String, Bucket>);

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl Gateway {
    /// Whether `watcher` (bare, in `domain`) may start one more presence subscription, in
    /// either role.
    pub(crate) fn admit_subscription(
        self: &Arc<Self>,
        domain: &str,
        watcher: &str,
    ) -> Result<(), Flood> {
        let limits = Limits::from_config(&self.config().sip);
        let (mut domain_live, mut watcher_live) = self.live_watches(domain, watcher);
        let (d, w) = self.live_subs(domain, watcher);
        domain_live += d;
        watcher_live += w;
        let key = domain.to_ascii_lowercase();
        let mut bucket = self.presence.buckets.0.entry(key).or_default();
        *bucket = admit(&limits, domain_live, watcher_live, *bucket, now_ms())?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const L: Limits = Limits {
        per_domain: 3,
        per_watcher: 2,
        rate: Rate {
            per_second: 1.0,
            burst: 2,
        },
    };

    #[test]
    fn counts_bound_before_the_rate_is_spent() {
        let b = Bucket::default();
        assert_eq!(admit(&L, 3, 0, b, 0), Err(Flood::Domain));
        assert_eq!(admit(&L, 0, 2, b, 0), Err(Flood::Watcher));
        // Refusals by count take no token: the burst of 2 is still there.
        let b = admit(&L, 0, 0, b, 0).unwrap();
        let b = admit(&L, 1, 1, b, 0).unwrap();
        assert_eq!(admit(&L, 2, 0, b, 0), Err(Flood::Rate(1)));
        assert!(admit(&L, 2, 0, b, 1000).is_ok(), "one token after 1 s");
    }

    #[test]
    fn answers_per_reason() {
        assert_eq!(
            Flood::Rate(2).sip_status(),
            (503, "Service Unavailable", Some(2))
        );
        assert_eq!(Flood::Watcher.sip_status().0, 403);
        assert_eq!(
            Flood::Domain.xmpp_condition().0,
            ErrorCondition::PolicyViolation
        );
        assert_eq!(
            Flood::Rate(1).xmpp_condition().0,
            ErrorCondition::ResourceConstraint
        );
    }

    #[test]
    fn a_rate_of_zero_is_unlimited() {
        let l = Limits {
            rate: Rate {
                per_second: 0.0,
                burst: 1,
            },
            ..L
        };
        let mut b = Bucket::default();
        for _ in 0..100 {
            b = admit(&l, 0, 0, b, 0).unwrap();
        }
    }
}
