//! Presence parley ends on its own (RFC 6665 §4.1.3 and §4.2.2, RFC 6121 §3.2–3.3, RFC 8048
//! §5): when a contact pair retires for lack of use, or `parley forget` erases an address,
//! the live presence between the two sides is torn down, not only the stored records.
//!
//! - A SIP watcher of an XMPP user (parley the notifier) gets a last NOTIFY
//!   `terminated;reason=deactivated` on retirement — consent lapsed, a watcher still
//!   interested subscribes again and the XMPP user is asked afresh — or
//!   `terminated;reason=noresource` after `forget` (the address is gone: do not come back).
//!   The XMPP user gets `unsubscribe` from the watcher, so its roster item loses the `from`
//!   subscription.
//! - An XMPP watcher of a SIP user (parley the subscriber) has its dialog ended with
//!   SUBSCRIBE `Expires: 0`, and gets `unsubscribed` from the SIP user, so its roster item
//!   loses the `to` subscription.
//!
//! Retirement ends presence when a pair is deactivated (consent lapses, so presence stops
//! with it) and again, for anything set up meanwhile without reactivating the pair, when it
//! is removed after the grace period.

use std::collections::HashSet;
use std::sync::Arc;

use tracing::info;

use super::Gateway;
use crate::audit;
use crate::metrics::EventKind;
use crate::model::{Event, Subscription, SubscriptionKind};
use crate::sip::dialog::{Notify, NotifyState};

/// Why parley ends presence between two addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum End {
    /// The contact pair went unused past `[policy] retire_after` (or was evicted by the
    /// bound on kept pairs).
    Retired,
    /// An operator erased the address (`parley forget`).
    Forgotten,
}

impl End {
    /// The `reason` of the last NOTIFY to a SIP watcher (RFC 6665 §4.1.3).
    pub(crate) fn notify_reason(self) -> &'static str {
        match self {
            End::Retired => "deactivated",
            End::Forgotten => "noresource",
        }
    }
}

/// Which `(one end, other end)` pairs are hit, whatever the direction.
pub(crate) enum Hit<'a> {
    /// Any pair with this (bare) address at either end.
    Address(&'a str),
    /// These pairs, either way round (bare, lower case).
    Pairs(HashSet<(String, String)>),
}

impl Hit<'_> {
    /// The pairs of a retirement sweep.
    pub(crate) fn pairs(pairs: &[(String, String)]) -> Hit<'static> {
        Hit::Pairs(
            pairs
                .iter()
                .map(|(a, b)| (a.to_ascii_lowercase(), b.to_ascii_lowercase()))
                .collect(),
        )
    }

    /// Whether presence between `a` and `b` is hit.
    pub(crate) fn hits(&self, a: &str, b: &str) -> bool {
        match self {
            Hit::Address(x) => a.eq_ignore_ascii_case(x) || b.eq_ignore_ascii_case(x),
            Hit::Pairs(set) => {
                let (a, b) = (a.to_ascii_lowercase(), b.to_ascii_lowercase());
                // Two lookups without building the reversed key twice.
                let ab = (a, b);
                set.contains(&ab) || set.contains(&(ab.1, ab.0))
            }
        }
    }

    fn is_empty(&self) -> bool {
        matches!(self, Hit::Pairs(s) if s.is_empty())
    }
}

impl Gateway {
    /// End every live presence dialog `hit` selects, on both sides; returns how many.
    pub(crate) fn end_presence(self: &Arc<Self>, hit: &Hit<'_>, why: End) -> usize {
        if hit.is_empty() {
            return 0;
        }
        let n = self.end_watches(hit, why) + self.end_subscriptions(hit);
        if n > 0 {
            info!(
                dialogs = n,
                reason = why.notify_reason(),
                "live presence ended"
            );
        }
        n
    }

    /// Parley as notifier: last NOTIFY to the SIP watcher, `unsubscribe` to the XMPP user.
    fn end_watches(self: &Arc<Self>, hit: &Hit<'_>, why: End) -> usize {
        let keys: Vec<_> = (self.presence.watches.iter())
            .filter(|w| hit.hits(&w.info.presentity, &w.info.watcher))
            .map(|w| w.key().clone())
            .collect();
        let mut n = 0;
        for key in keys {
            let Some((key, watch)) = self.presence.watches.remove(&key) else {
                continue;
            };
            n += 1;
            self.unpersist_watch(&key);
            self.forget_presence(&watch.info.presentity, &watch.info.watcher);
            let (last, _) = watch.dialog.cseqs();
            let notify = Notify {
                cseq: last.saturating_add(1),
                state: NotifyState::Terminated(why.notify_reason()),
                expires: 0,
            };
            self.send_notify(&watch.info, notify);
            audit::emit(watch.info.record(EventKind::Subscription, None));
            let (Some(from), Some(to)) = (
                address(&watch.info.watcher),
                address(&watch.info.presentity),
            ) else {
                continue;
            };
            let local = from.domain.to_string();
            let e = Event::Subscription(Subscription {
                from,
                to,
                kind: SubscriptionKind::Unsubscribe,
                nick: None,
            });
            self.presence_out(&local, &e);
        }
        n
    }
}

/// A bare `user@domain` as a model address.
pub(super) fn address(bare: &str) -> Option<crate::model::Address<'static>> {
    crate::bridge::address::from_jid(bare)
        .ok()
        .map(|a| a.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_hit_either_way_and_addresses_either_end() {
        let hit = Hit::pairs(&[("alice@sip.test".into(), "Juliet@xmpp.test".into())]);
        assert!(hit.hits("juliet@xmpp.test", "alice@sip.test"));
        assert!(hit.hits("ALICE@sip.test", "juliet@xmpp.test"));
        assert!(!hit.hits("alice@sip.test", "romeo@xmpp.test"));
        let hit = Hit::Address("alice@sip.test");
        assert!(hit.hits("juliet@xmpp.test", "Alice@SIP.test"));
        assert!(hit.hits("alice@sip.test", "x@y"));
        assert!(!hit.hits("bob@sip.test", "juliet@xmpp.test"));
        assert!(Hit::pairs(&[]).is_empty());
    }

    #[test]
    fn retirement_invites_a_new_subscription_forget_does_not() {
        assert_eq!(End::Retired.notify_reason(), "deactivated");
        assert_eq!(End::Forgotten.notify_reason(), "noresource");
    }
}
