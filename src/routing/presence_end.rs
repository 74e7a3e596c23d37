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
//! is removed after the grace period; eviction by the bound on kept pairs ends it as soon
//! as the pair is removed.
//!
//! The roster on the XMPP side outlives the dialogs: a SIP watcher's dialog expires without
//! the XMPP user hearing of it (expiry is not contact removal), and the XMPP user's roster
//! item keeps its `from` subscription. So a pair `(by, of)` whose `by` approved `of`'s
//! subscription remembers it ([`crate::store::PairRecord::subscribed`]), and when it
//! retires, is evicted or forgotten with no live dialog left, the XMPP side gets what it
//! would have got with one: `unsubscribe` from a SIP watcher to the XMPP user, `unsubscribed`
//! from a SIP user to its XMPP watcher.

use std::collections::HashSet;
use std::sync::Arc;

use tracing::info;

use super::Gateway;
use crate::audit;
use crate::config::Side;
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

/// Which end of an approved pair `(by, of)` speaks when its subscription ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Speaker {
    /// `by`, the presentity that approved.
    By,
    /// `of`, the watcher.
    Of,
}

/// What the XMPP side must hear when the approved subscription of `of` to `by` ends with no
/// live dialog, given the sides of their domains: who says it, and what.
fn roster_end(
    by: &str,
    of: &str,
    side_of: impl Fn(&str) -> Option<Side>,
) -> Option<(Speaker, SubscriptionKind)> {
    let side = |a: &str| a.rsplit_once('@').and_then(|(_, d)| side_of(d));
    match (side(by)?, side(of)?) {
        // A SIP watcher of an XMPP user: the watcher unsubscribes (RFC 6121 §3.3).
        (Side::Xmpp, Side::Sip) => Some((Speaker::Of, SubscriptionKind::Unsubscribe)),
        // An XMPP watcher of a SIP user: the SIP user cancels it (RFC 6121 §3.2).
        (Side::Sip, Side::Xmpp) => Some((Speaker::By, SubscriptionKind::Unsubscribed)),
        _ => None,
    }
}

impl Gateway {
    /// End the live presence `hit` selects ([`Gateway::end_presence`]) and, for each pair
    /// `(by, of)` of `subscribed` (`by` approved `of`'s subscription) that had no live
    /// dialog, tell the XMPP side the subscription ended. Returns how many dialogs and
    /// roster subscriptions were ended.
    pub(crate) fn end_contacts(
        self: &Arc<Self>,
        hit: &Hit<'_>,
        subscribed: &[(String, String)],
        why: End,
    ) -> usize {
        let live = self.live_pairs(hit);
        let mut n = self.end_presence(hit, why);
        let config = self.config();
        let side_of = |d: &str| config.domain(d).map(|d| d.side);
        for (by, of) in subscribed {
            if live.contains(&(by.to_ascii_lowercase(), of.to_ascii_lowercase())) {
                continue; // ended with its dialog
            }
            let Some((speaker, kind)) = roster_end(by, of, side_of) else {
                continue;
            };
            let (from, to) = match speaker {
                Speaker::By => (by, of),
                Speaker::Of => (of, by),
            };
            let (Some(from), Some(to)) = (address(from), address(to)) else {
                continue;
            };
            n += 1;
            let local = from.domain.to_string();
            self.presence_out(
                &local,
                &Event::Subscription(Subscription {
                    from,
                    to,
                    kind,
                    nick: None,
                }),
            );
        }
        n
    }

    /// `(presentity, watcher)`, lower case, of every live dialog `hit` selects, either
    /// role: the pair `(by, of)` whose `by` approved the subscription.
    fn live_pairs(&self, hit: &Hit<'_>) -> HashSet<(String, String)> {
        let mut live: HashSet<(String, String)> = (self.presence.watches.iter())
            .filter(|w| hit.hits(&w.info.presentity, &w.info.watcher))
            .map(|w| {
                (
                    w.info.presentity.to_ascii_lowercase(),
                    w.info.watcher.to_ascii_lowercase(),
                )
            })
            .collect();
        live.extend(self.live_subscriber_pairs(hit));
        live
    }

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
            self.note_subscription_ended(&watch.info.presentity, &watch.info.watcher);
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
    fn a_retired_approval_is_ended_by_whoever_would_end_it_on_the_xmpp_side() {
        let side_of = |d: &str| match d {
            "sip.test" => Some(Side::Sip),
            "xmpp.test" => Some(Side::Xmpp),
            _ => None,
        };
        // Juliet approved alice's SIP subscription: alice unsubscribes.
        assert_eq!(
            roster_end("juliet@xmpp.test", "alice@sip.test", side_of),
            Some((Speaker::Of, SubscriptionKind::Unsubscribe))
        );
        // Bob (SIP) approved juliet's subscription: bob cancels it.
        assert_eq!(
            roster_end("bob@sip.test", "juliet@xmpp.test", side_of),
            Some((Speaker::By, SubscriptionKind::Unsubscribed))
        );
        // Same side, unknown domain, no domain: nothing crosses.
        assert_eq!(roster_end("a@sip.test", "b@sip.test", side_of), None);
        assert_eq!(roster_end("a@xmpp.test", "b@gone.test", side_of), None);
        assert_eq!(roster_end("nobody", "b@sip.test", side_of), None);
    }

    #[test]
    fn retirement_invites_a_new_subscription_forget_does_not() {
        assert_eq!(End::Retired.notify_reason(), "deactivated");
        assert_eq!(End::Forgotten.notify_reason(), "noresource");
    }
}
