//! Applying [`crate::policy`] to a message about to cross: gather the pair's state from the
//! store and the token buckets, decide, and record what an allowed message changes
//! (buckets, the stranger's count, the sender's acceptance of the recipient).

use tracing::warn;

use super::Gateway;
use crate::config::Side;
use crate::model::ChatMessage;
use crate::policy::{Decision, PairState, PolicyInput, PolicyState, Refusal};
use crate::store::bare;

/// How often (seconds) an accepted pair's last activity is written again.
const ACTIVITY_GRANULARITY_S: u64 = 3600;

fn now_s() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

impl Gateway {
    /// Decide whether `msg`, from a user on `from_side`, may cross; when it may, record its
    /// effects. The caller answers a refusal on the sender's protocol and audits it.
    pub(crate) fn police(&self, msg: &ChatMessage<'_>, from_side: Side) -> Result<(), Refusal> {
        let (from, to) = (bare(&msg.from.bare()), bare(&msg.to.bare()));
        let pair = self.store.pair(&from, &to).unwrap_or_else(|e| {
            warn!(error = %e, "consent state unavailable; treating the sender as a stranger");
            PairState::default()
        });
        let input = PolicyInput {
            from: &from,
            from_side,
            to: &to,
            bytes: msg.body.len() + msg.rich.as_ref().map_or(0, |r| r.len()),
            recipients: 1,
        };
        let now_ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let policy = self.policy();
        // Entry locks: domain before sender, always, so two messages cannot deadlock; the
        // store is not touched while they are held.
        let decision = {
            let mut domain = self
                .domain_buckets
                .entry(msg.from.domain.to_ascii_lowercase())
                .or_default();
            let mut sender = self.sender_buckets.entry(from.clone()).or_default();
            let state = PolicyState {
                pair,
                domain_bucket: *domain,
                sender_bucket: *sender,
                now_ms,
            };
            let d = policy.decide(&input, &state);
            if let Decision::Allow {
                domain_bucket,
                sender_bucket,
                ..
            } = d
            {
                *domain = domain_bucket;
                *sender = sender_bucket;
            }
            d
        };
        match decision {
            Decision::Refuse(r) => Err(r),
            Decision::Allow {
                count_unaccepted, ..
            } => {
                if count_unaccepted && let Err(e) = self.store.count_unaccepted(&from, &to) {
                    warn!(error = %e, "could not count a message from a stranger");
                }
                // Writing to someone accepts their replies (and refreshes the pair's activity).
                self.note_accepted(&from, &to);
                Ok(())
            }
        }
    }

    /// The display name with the external label for a federated sender (DESIGN "Policy");
    /// `None` when marking is off.
    pub(crate) fn external_name(&self, name: Option<&str>, user: &str) -> Option<String> {
        self.policy().external_name(name, user)
    }

    /// `by` accepts `of`: `by` wrote to `of`, or approved `of`'s presence subscription. The
    /// presence code calls this on an approved subscription.
    pub fn note_accepted(&self, by: &str, of: &str) {
        let (by, of) = (bare(by), bare(of));
        let now = now_s();
        let fresh = matches!(self.store.last_activity(&by, &of), Ok(Some(t)) if t + ACTIVITY_GRANULARITY_S > now);
        if !fresh && let Err(e) = self.store.accept(&by, &of, now) {
            warn!(error = %e, "could not record an accepted contact");
        }
    }
}
