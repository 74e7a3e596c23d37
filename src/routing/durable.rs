//! Presence subscriptions that outlive a restart (RFC 6665 §4.1, DESIGN presence table: "the
//! gateway refreshes it for as long as the XMPP subscription lives, across its own
//! restarts"). Parley's SIP subscriptions on behalf of XMPP watchers are recorded in the store
//! when they start and erased when they end; at startup each recorded one is subscribed
//! again (a new dialog: the old one's state died with the process and expires at the
//! notifier on its own).
//!
//! Store writes run on the blocking pool: they commit durably and must not hold a worker.

use std::borrow::Cow;
use std::sync::Arc;

use tracing::{info, warn};

use super::Gateway;
use crate::config::Side;
use crate::model::Address;
use crate::store::Subscription;

fn address(bare: &str) -> Option<Address<'static>> {
    let (local, domain) = bare.rsplit_once('@')?;
    Some(Address {
        local: Cow::Owned(local.to_owned()),
        domain: Cow::Owned(domain.to_ascii_lowercase()),
        resource: None,
    })
}

/// Which recorded subscriptions parley holds as the SIP subscriber: an XMPP watcher of a SIP
/// presentity, both in domains served here.
pub(crate) fn held_as_subscriber(
    s: &Subscription,
    side_of: impl Fn(&str) -> Option<Side>,
) -> Option<(Address<'static>, Address<'static>)> {
    let (watcher, presentity) = (address(&s.subscriber)?, address(&s.contact)?);
    (side_of(&watcher.domain) == Some(Side::Xmpp) && side_of(&presentity.domain) == Some(Side::Sip))
        .then_some((watcher, presentity))
}

impl Gateway {
    /// Start what keeps state across restarts: the spool, and the subscriptions parley holds.
    pub fn start_durable(self: &Arc<Self>) {
        self.start_spool();
        self.restore_subscriptions();
        self.restore_watches();
        self.start_contacts();
    }

    /// Record (`live`) or erase the subscription of `watcher` to `presentity`.
    pub(crate) fn remember_subscription(
        &self,
        watcher: &Address<'_>,
        presentity: &Address<'_>,
        live: bool,
    ) {
        let (subscriber, contact) = (watcher.bare(), presentity.bare());
        let store = self.store.clone();
        self.tracker.spawn_blocking(move || {
            let r = if live {
                store.put_subscription(&Subscription {
                    subscriber,
                    contact,
                    approved: false,
                })
            } else {
                store.remove_subscription(&subscriber, &contact)
            };
            if let Err(e) = r {
                warn!(error = %e, "subscription not recorded in the store");
            }
        });
    }

    fn restore_subscriptions(self: &Arc<Self>) {
        let stored = match self.store.subscriptions() {
            Ok(s) => s,
            Err(e) => {
                warn!(error = %e, "stored subscriptions could not be read");
                return;
            }
        };
        let config = self.config();
        let side_of = |d: &str| config.domain(d).map(|d| d.side);
        let mut n = 0;
        for s in &stored {
            if let Some((watcher, presentity)) = held_as_subscriber(s, side_of) {
                self.start_sub(watcher, presentity);
                n += 1;
            }
        }
        if n > 0 {
            info!(subscriptions = n, "SIP subscriptions restored");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_xmpp_watchers_of_sip_presentities_are_resubscribed() {
        let side_of = |d: &str| match d {
            "sip.test" => Some(Side::Sip),
            "xmpp.test" => Some(Side::Xmpp),
            _ => None,
        };
        let sub = |subscriber: &str, contact: &str| Subscription {
            subscriber: subscriber.into(),
            contact: contact.into(),
            approved: false,
        };
        let (w, p) =
            held_as_subscriber(&sub("juliet@xmpp.test", "bob@SIP.test"), side_of).expect("held");
        assert_eq!(
            (w.bare(), p.bare()),
            ("juliet@xmpp.test".into(), "bob@sip.test".into())
        );
        assert!(held_as_subscriber(&sub("bob@sip.test", "juliet@xmpp.test"), side_of).is_none());
        assert!(held_as_subscriber(&sub("juliet@xmpp.test", "x@gone.test"), side_of).is_none());
        assert!(held_as_subscriber(&sub("nonsense", "bob@sip.test"), side_of).is_none());
    }
}
