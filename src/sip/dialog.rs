//! Presence subscription dialogs (RFC 6665 §4, RFC 3856) as pure state machines: one struct
//! per state, transitions consume it. No I/O and no clock reads: the caller passes `now` and
//! sends the NOTIFY / SUBSCRIBE each transition asks for. Expiry is data ([`Notifier::deadline`],
//! [`SubscriberEstablished::refresh_at`]).
//!
//! Notifier (parley for an XMPP presentity, a SIP watcher):
//! new SUBSCRIBE → *Pending* (202 and an immediate NOTIFY `pending`) → approval → *Active*
//! (NOTIFY `active` with the state) → each change a NOTIFY; a refresh re-arms expiry and
//! NOTIFYs the current state (§4.2.1.2); `Expires: 0`, expiry or a rejection end it with a
//! NOTIFY `terminated`. Every NOTIFY takes the next local CSeq; SUBSCRIBEs in the dialog must
//! come with increasing CSeq (RFC 3261 §12.2.2).
//!
//! Subscriber (parley for an XMPP watcher, a SIP presentity):
//! SUBSCRIBE sent → *Sent* → 2xx → *Established* (refreshed before expiry while the XMPP
//! subscription lives) → NOTIFY `terminated`: `rejected`/`noresource` end it for good, other
//! reasons (`timeout`, `deactivated`, `probation`, `giveup`) ask for a new SUBSCRIBE.

use std::time::Duration;

use tokio::time::Instant;

/// Longest subscription granted (seconds); longer requests are shortened (§4.2.1.1).
pub const MAX_EXPIRES: u32 = 3600;
/// Duration used when a SUBSCRIBE has no Expires (RFC 3856 §6.4 suggests 3600).
pub const DEFAULT_EXPIRES: u32 = 3600;

/// What identifies a dialog (RFC 3261 §12): Call-ID and both tags.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DialogId {
    /// Call-ID.
    pub call_id: String,
    /// parley's tag.
    pub local_tag: String,
    /// The peer's tag.
    pub remote_tag: String,
}

/// `Subscription-State` of a NOTIFY to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotifyState {
    /// `pending;expires=N`.
    Pending,
    /// `active;expires=N`, with the presence document.
    Active,
    /// `terminated;reason=R`.
    Terminated(&'static str),
}

/// A NOTIFY the caller must send now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Notify {
    /// Its CSeq number (strictly increasing in the dialog).
    pub cseq: u32,
    /// Subscription-State.
    pub state: NotifyState,
    /// Seconds left (the `expires` parameter; 0 when terminated).
    pub expires: u32,
}

/// A request that breaks the dialog's rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DialogError {
    /// CSeq not above the last one seen (RFC 3261 §12.2.2: answered 500).
    CSeqOutOfOrder,
}

impl DialogError {
    /// The SIP final response for this error.
    pub fn status(&self) -> (u16, &'static str) {
        match self {
            DialogError::CSeqOutOfOrder => (500, "CSeq Out Of Order"),
        }
    }
}

impl std::fmt::Display for DialogError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.status().1)
    }
}

impl std::error::Error for DialogError {}

/// The granted duration for a requested `Expires` (None: the default).
pub fn granted(requested: Option<u32>) -> u32 {
    requested.unwrap_or(DEFAULT_EXPIRES).min(MAX_EXPIRES)
}

/// The notifier's answer to a requested `Expires` under configured bounds (RFC 6665
/// §4.2.1.1): `Ok(granted)` = min(requested or the default, `max`), a fetch (0) stays 0;
/// `Err(min)` when a non-zero request is below `min` (423 with `Min-Expires: min`).
pub fn grant_within(requested: Option<u32>, min: u32, max: u32) -> Result<u32, u32> {
    match requested {
        Some(0) => Ok(0),
        Some(r) if r < min => Err(min),
        r => Ok(r.unwrap_or(DEFAULT_EXPIRES).min(max).max(1)),
    }
}

#[derive(Debug, Clone)]
struct Core {
    id: DialogId,
    remote_cseq: u32,
    local_cseq: u32,
    expires_at: Instant,
}

impl Core {
    fn notify(&mut self, state: NotifyState, now: Instant) -> Notify {
        self.local_cseq += 1;
        let left = self.expires_at.saturating_duration_since(now).as_secs();
        Notify {
            cseq: self.local_cseq,
            state,
            expires: match state {
                NotifyState::Terminated(_) => 0,
                _ => u32::try_from(left).unwrap_or(u32::MAX),
            },
        }
    }

    fn check_cseq(&mut self, cseq: u32) -> Result<(), DialogError> {
        if cseq <= self.remote_cseq {
            return Err(DialogError::CSeqOutOfOrder);
        }
        self.remote_cseq = cseq;
        Ok(())
    }
}

/// Notifier, *Pending*: the watcher waits for the presentity's approval.
#[derive(Debug, Clone)]
pub struct NotifierPending(Core);

/// Notifier, *Active*: the watcher gets every change.
#[derive(Debug, Clone)]
pub struct NotifierActive(Core);

/// A live notifier dialog.
#[derive(Debug, Clone)]
pub enum Notifier {
    /// Awaiting approval.
    Pending(NotifierPending),
    /// Approved.
    Active(NotifierActive),
}

impl NotifierPending {
    /// A new SUBSCRIBE created dialog `id` with CSeq `cseq` for `expires` seconds (> 0): the
    /// dialog and its immediate NOTIFY `pending` (§4.2.1.1).
    pub fn new(id: DialogId, cseq: u32, expires: u32, now: Instant) -> (NotifierPending, Notify) {
        let mut core = Core {
            id,
            remote_cseq: cseq,
            local_cseq: 0,
            expires_at: now + Duration::from_secs(u64::from(expires)),
        };
        let n = core.notify(NotifyState::Pending, now);
        (NotifierPending(core), n)
    }

    /// The dialog's identity.
    pub fn id(&self) -> &DialogId {
        &self.0.id
    }

    /// The presentity approved: NOTIFY `active` with the state.
    pub fn approve(mut self, now: Instant) -> (NotifierActive, Notify) {
        let n = self.0.notify(NotifyState::Active, now);
        (NotifierActive(self.0), n)
    }

    /// The presentity refused: the last NOTIFY.
    pub fn reject(mut self, now: Instant) -> Notify {
        self.0.notify(NotifyState::Terminated("rejected"), now)
    }
}

impl NotifierActive {
    /// The presentity's state changed: NOTIFY `active` with the new state.
    pub fn changed(mut self, now: Instant) -> (NotifierActive, Notify) {
        let n = self.0.notify(NotifyState::Active, now);
        (self, n)
    }

    /// The presentity revoked the subscription: the last NOTIFY.
    pub fn revoke(mut self, now: Instant) -> Notify {
        self.0.notify(NotifyState::Terminated("rejected"), now)
    }
}

impl Notifier {
    /// A dialog reloaded from the store: its CSeqs, whether it was approved, and the time
    /// left (> 0). No NOTIFY is due: the watcher already has the state of the dialog.
    pub fn restore(
        id: DialogId,
        remote_cseq: u32,
        local_cseq: u32,
        active: bool,
        left: Duration,
        now: Instant,
    ) -> Notifier {
        let core = Core {
            id,
            remote_cseq,
            local_cseq,
            expires_at: now + left,
        };
        if active {
            Notifier::Active(NotifierActive(core))
        } else {
            Notifier::Pending(NotifierPending(core))
        }
    }

    /// The dialog's identity.
    pub fn id(&self) -> &DialogId {
        &self.core().id
    }

    /// The CSeq of the last NOTIFY, and of the watcher's last SUBSCRIBE.
    pub fn cseqs(&self) -> (u32, u32) {
        (self.core().local_cseq, self.core().remote_cseq)
    }

    /// Whether the presentity approved.
    pub fn is_active(&self) -> bool {
        matches!(self, Notifier::Active(_))
    }

    /// The presentity's state changed: NOTIFY `active` with the new state when the dialog
    /// is active; nothing while it is pending.
    pub fn changed(&mut self, now: Instant) -> Option<Notify> {
        match self {
            Notifier::Active(NotifierActive(c)) => Some(c.notify(NotifyState::Active, now)),
            Notifier::Pending(_) => None,
        }
    }

    fn core(&self) -> &Core {
        match self {
            Notifier::Pending(NotifierPending(c)) | Notifier::Active(NotifierActive(c)) => c,
        }
    }

    fn core_mut(&mut self) -> &mut Core {
        match self {
            Notifier::Pending(NotifierPending(c)) | Notifier::Active(NotifierActive(c)) => c,
        }
    }

    /// When the subscription expires.
    pub fn deadline(&self) -> Instant {
        self.core().expires_at
    }

    /// A SUBSCRIBE in the dialog with CSeq `cseq` and `expires` seconds granted: a refresh
    /// (the dialog stays, NOTIFY of the current state) or, with 0, the end (NOTIFY
    /// `terminated;reason=timeout`, §4.2.1.4). A request out of CSeq order gives the dialog
    /// back unchanged with the error.
    pub fn refresh(
        mut self,
        cseq: u32,
        expires: u32,
        now: Instant,
    ) -> Result<(Option<Notifier>, Notify), (Notifier, DialogError)> {
        if let Err(e) = self.core_mut().check_cseq(cseq) {
            return Err((self, e));
        }
        if expires == 0 {
            let n = self
                .core_mut()
                .notify(NotifyState::Terminated("timeout"), now);
            return Ok((None, n));
        }
        self.core_mut().expires_at = now + Duration::from_secs(u64::from(expires));
        let state = match self {
            Notifier::Pending(_) => NotifyState::Pending,
            Notifier::Active(_) => NotifyState::Active,
        };
        let n = self.core_mut().notify(state, now);
        Ok((Some(self), n))
    }

    /// Expiry passed without a refresh: NOTIFY `terminated;reason=timeout` (§4.2.2). Not a
    /// contact removal on the XMPP side (DESIGN presence table).
    pub fn expire(mut self, now: Instant) -> Notify {
        self.core_mut()
            .notify(NotifyState::Terminated("timeout"), now)
    }
}

// ---------------------------------------------------------------------------------------
// Subscriber
// ---------------------------------------------------------------------------------------

/// Subscriber, *Sent*: an initial SUBSCRIBE is out, no dialog yet.
#[derive(Debug, Clone)]
pub struct SubscriberSent {
    call_id: String,
    local_tag: String,
    cseq: u32,
}

/// Subscriber, *Established*: a 2xx (or a NOTIFY) created the dialog.
#[derive(Debug, Clone)]
pub struct SubscriberEstablished {
    id: DialogId,
    local_cseq: u32,
    remote_cseq: u32,
    active: bool,
    expires_at: Instant,
}

/// What a NOTIFY to the subscriber means.
#[derive(Debug)]
pub enum SubscriberStep {
    /// Still waiting for the presentity.
    Pending(SubscriberEstablished),
    /// Active; `first` when it just became active (XMPP `subscribed` is due).
    Active(SubscriberEstablished, bool),
    /// Ended for good (`rejected`, `noresource`): XMPP `unsubscribed`.
    Rejected,
    /// Ended by soft state (`timeout`, `deactivated`, `probation`, `giveup`, none): a new
    /// SUBSCRIBE is due while the XMPP subscription lives, no XMPP traffic.
    Resubscribe,
}

/// The subscription state a NOTIFY carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Incoming<'a> {
    /// `pending`.
    Pending,
    /// `active`.
    Active,
    /// `terminated` with its reason, if any.
    Terminated(Option<&'a str>),
}

impl SubscriberSent {
    /// An initial SUBSCRIBE with this Call-ID, From tag and CSeq went out.
    pub fn new(call_id: String, local_tag: String, cseq: u32) -> SubscriberSent {
        SubscriberSent {
            call_id,
            local_tag,
            cseq,
        }
    }

    /// The final response: 2xx with the To tag and granted Expires establishes the dialog,
    /// anything else is the error for XMPP (`None`).
    pub fn on_final(
        self,
        code: u16,
        to_tag: Option<&str>,
        expires: u32,
        now: Instant,
    ) -> Option<SubscriberEstablished> {
        if !(200..300).contains(&code) {
            return None;
        }
        Some(SubscriberEstablished {
            id: DialogId {
                call_id: self.call_id,
                local_tag: self.local_tag,
                remote_tag: to_tag?.to_owned(),
            },
            local_cseq: self.cseq,
            remote_cseq: 0,
            active: false,
            expires_at: now + Duration::from_secs(u64::from(expires)),
        })
    }
}

impl SubscriberEstablished {
    /// The dialog's identity.
    pub fn id(&self) -> &DialogId {
        &self.id
    }

    /// When to send the refresh: 90 % into the granted time, at least 5 s before expiry
    /// when there is room for it (RFC 6665 §4.1.2.1 leaves the margin to the subscriber).
    pub fn refresh_at(&self, now: Instant) -> Instant {
        let left = self.expires_at.saturating_duration_since(now);
        let margin = (left / 10).max(Duration::from_secs(5).min(left / 2));
        self.expires_at - margin
    }

    /// Send a refresh (or, with `expires` 0, the unsubscribe): the CSeq to use.
    pub fn refresh(mut self, expires: u32, now: Instant) -> (SubscriberEstablished, u32) {
        self.local_cseq += 1;
        if expires > 0 {
            self.expires_at = now + Duration::from_secs(u64::from(expires));
        }
        let cseq = self.local_cseq;
        (self, cseq)
    }

    /// The 2xx to a refresh granted `expires` seconds.
    pub fn granted(mut self, expires: u32, now: Instant) -> SubscriberEstablished {
        self.expires_at = now + Duration::from_secs(u64::from(expires));
        self
    }

    /// A NOTIFY with CSeq `cseq`, state and `expires` parameter arrived.
    pub fn on_notify(
        mut self,
        cseq: u32,
        state: Incoming<'_>,
        expires: Option<u32>,
        now: Instant,
    ) -> Result<SubscriberStep, DialogError> {
        if cseq <= self.remote_cseq {
            return Err(DialogError::CSeqOutOfOrder);
        }
        self.remote_cseq = cseq;
        if let Some(e) = expires {
            self.expires_at = now + Duration::from_secs(u64::from(e));
        }
        Ok(match state {
            Incoming::Pending => SubscriberStep::Pending(self),
            Incoming::Active => {
                let first = !self.active;
                self.active = true;
                SubscriberStep::Active(self, first)
            }
            Incoming::Terminated(Some(r))
                if r.eq_ignore_ascii_case("rejected") || r.eq_ignore_ascii_case("noresource") =>
            {
                SubscriberStep::Rejected
            }
            Incoming::Terminated(_) => SubscriberStep::Resubscribe,
        })
    }
}

#[cfg(test)]
#[path = "dialog_tests.rs"]
mod tests;
