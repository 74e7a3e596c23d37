//! Presence across the gateway (RFC 6665, RFC 3856, RFC 8048; DESIGN presence table), parley
//! as the notifier for XMPP presentities watched from SIP:
//!
//! 1. a new SUBSCRIBE (Event: presence) from an authenticated SIP domain for an XMPP user is
//!    answered 202 with the granted Expires; an immediate NOTIFY `pending` follows, and the
//!    XMPP user gets `subscribe` + `probe` from the watcher's address;
//! 2. the XMPP user's `subscribed` makes the dialog active: NOTIFY `active` with the PIDF of
//!    the presence cached for that watcher (one tuple per resource); each later
//!    `<presence/>` to that watcher is a NOTIFY with the new PIDF;
//! 3. `unsubscribed` ends it with NOTIFY `terminated;reason=rejected`;
//! 4. a SUBSCRIBE in the dialog refreshes it (NOTIFY of the current state) or, with
//!    `Expires: 0`, ends it (NOTIFY `terminated`, and XMPP `unsubscribe` from the watcher,
//!    RFC 8048 §5); one for an unknown dialog gets 481; a CSeq not above the last
//!    gets 500; expiry without refresh ends it with `terminated;reason=timeout` and sends
//!    nothing to XMPP (expiry is not contact removal).
//!
//! The granted duration is min(requested, `sip.max_subscription_expires`); a request below
//! `sip.min_subscription_expires` gets 423 with `Min-Expires` (RFC 6665 §4.2.1.1). New
//! subscriptions pass the flood limits ([`super::presence_limits`]). Presence changes are
//! damped (RFC 3856 §6.4): at most one NOTIFY per `sip.notify_min_interval_ms` per dialog,
//! later changes coalesced into one NOTIFY of the latest state at the end of the interval.
//! The dialogs are kept in the store and reloaded at startup ([`super::presence_durable`]).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use dashmap::DashMap;
use tokio::time::Instant;
use tracing::{Instrument, debug, info, warn};

use super::Gateway;
use crate::audit::{self, AuditRecord};
use crate::auth;
use crate::bridge::{self, presence as table, sip_wire};
use crate::config::Side;
use crate::conn::sip_conn::PeerCerts;
use crate::conn::xmpp_pool::OutStanza;
use crate::metrics::{Direction, EventKind, PolicyReason};
use crate::model::{
    Address, Availability, Event, Presence as ModelPresence, Subscription, SubscriptionKind,
};
use crate::sip::SipMessage;
use crate::sip::body::pidf;
use crate::sip::dialog::{self, DialogId, Notifier, NotifierPending, Notify, NotifyState};
use crate::sip::encode::{self, RequestParts};
use crate::sip::typed::Contact;
use crate::xmpp::stanza::PresenceView;

/// `(Call-ID, parley's tag)`: what an in-dialog request names.
type DialogKey = (String, String);

/// One resource's last presence: availability and status text.
#[derive(Debug, Clone)]
struct Resource {
    availability: Availability,
    note: Option<String>,
}

/// A dialog where parley notifies a SIP watcher of an XMPP presentity.
#[derive(Debug)]
pub(super) struct Watch {
    pub(super) dialog: Notifier,
    pub(super) info: WatchInfo,
    /// The NOTIFY CSeq up to which the stored record is good (a restored dialog continues
    /// from here); the record is rewritten when the dialog reaches it.
    pub(super) cseq_reserved: u32,
    /// When the last NOTIFY went out (damping).
    pub(super) last_notify: Option<Instant>,
    /// A change is waiting for the end of the damping interval.
    pub(super) damped: bool,
}

/// What a NOTIFY of a [`Watch`] needs besides the dialog state.
#[derive(Debug)]
pub(super) struct WatchInfo {
    pub(super) id: DialogId,
    /// The XMPP user, bare (`juliet@xmpp.test`).
    pub(super) presentity: String,
    /// The SIP watcher's address of record, bare (`alice@sip.test`).
    pub(super) watcher: String,
    /// Where NOTIFYs go: the SUBSCRIBE's Contact, else its From URI.
    pub(super) target: String,
    /// Route set from the SUBSCRIBE's Record-Route.
    pub(super) routes: Vec<String>,
}

/// Presence state of the gateway.
#[derive(Debug, Default)]
pub struct PresenceState {
    pub(super) watches: super::counted::Counted<DialogKey, Watch>,
    /// Last presence per `(presentity, watcher)`, by resource.
    cache: DashMap<(String, String), BTreeMap<String, Resource>>,
    /// New-subscription buckets by remote domain.
    pub(super) buckets: super::presence_limits::Buckets,
    /// The store writer of the dialogs, once started.
    pub(super) writer: super::presence_durable::Writer,
}

/// Outcome of a SUBSCRIBE for the response writer: status, reason, the To tag to use, the
/// granted Expires, and one more header field (`Min-Expires` of a 423, `Retry-After` of a
/// 503).
pub(crate) struct SubscribeAnswer {
    pub code: u16,
    pub reason: Cow<'static, str>,
    pub to_tag: Option<String>,
    pub expires: Option<u32>,
    pub header: Option<(&'static str, String)>,
}

impl SubscribeAnswer {
    fn status(code: u16, reason: &'static str) -> SubscribeAnswer {
        SubscribeAnswer {
            code,
            reason: Cow::Borrowed(reason),
            to_tag: None,
            expires: None,
            header: None,
        }
    }

    fn with_header(mut self, name: &'static str, value: u32) -> SubscribeAnswer {
        self.header = Some((name, value.to_string()));
        self
    }
}

impl WatchInfo {
    /// The audit record of an XMPP event crossing to this watcher (XMPP→SIP, the dialog's
    /// Call-ID as the session), `note` the status text it carries (only its size is kept).
    pub(super) fn record(&self, kind: EventKind, note: Option<&str>) -> AuditRecord {
        let mut r = AuditRecord::new(
            Direction::XmppToSip,
            kind,
            self.presentity.clone(),
            self.watcher.clone(),
        )
        .session(&self.id.call_id);
        r.bytes = note.map_or(0, str::len);
        r
    }
}

fn bare(a: &Address<'_>) -> String {
    format!("{}@{}", a.local, a.domain)
}

impl Gateway {
    /// A SUBSCRIBE from a SIP peer (RFC 6665 §4.2.1).
    pub(crate) fn sip_subscribe(
        self: &Arc<Self>,
        peer: &PeerCerts,
        req: &SipMessage,
    ) -> SubscribeAnswer {
        match req.event() {
            Ok(Some(e)) if e.package.eq_ignore_ascii_case("presence") => {}
            _ => return SubscribeAnswer::status(489, "Bad Event"),
        }
        let (Ok(from), Ok(to), Ok(cseq), Ok(call_id)) =
            (req.from(), req.to(), req.cseq(), req.call_id())
        else {
            return SubscribeAnswer::status(400, "Bad Request");
        };
        let requested = req.expires().ok().flatten();
        let (min, max) = {
            let c = self.config();
            (
                c.sip.min_subscription_expires,
                c.sip.max_subscription_expires,
            )
        };
        let expires = match dialog::grant_within(requested, min, max) {
            Ok(e) => e,
            Err(min) => {
                return SubscribeAnswer::status(423, "Interval Too Brief")
                    .with_header("Min-Expires", min);
            }
        };
        if let Some(tag) = to.tag {
            return self.refresh_watch(peer, call_id, tag, cseq.seq, expires);
        }
        let (Ok(watcher), Some(Ok(presentity))) = (
            bridge::address::from_sip_uri(from.uri),
            req.request_uri().map(bridge::address::from_sip_uri),
        ) else {
            return SubscribeAnswer::status(400, "Bad Address");
        };
        if !self.serves(&watcher.domain, Side::Sip) {
            return SubscribeAnswer::status(403, "Sender Domain Not Served Here");
        }
        let Ok(sender) = auth::verify_certificate_for(Some(peer), &watcher.domain) else {
            return SubscribeAnswer::status(403, "Peer Not Authenticated For Sender Domain");
        };
        if !self.serves(&presentity.domain, Side::Xmpp) {
            return SubscribeAnswer::status(403, "Relaying Denied");
        }
        let Some(remote_tag) = from.tag else {
            return SubscribeAnswer::status(400, "Missing From Tag");
        };
        if let Err(flood) = self.admit_subscription(&watcher.domain, &bare(&watcher)) {
            let (code, reason, retry) = flood.sip_status();
            warn!(code, "new SIP subscription refused by the flood limits");
            let record = AuditRecord::new(
                Direction::SipToXmpp,
                EventKind::Subscription,
                bare(&watcher),
                bare(&presentity),
            );
            audit::refuse(record, PolicyReason::SubscriptionLimit);
            let a = SubscribeAnswer::status(code, reason);
            return match retry {
                Some(after) => a.with_header("Retry-After", after),
                None => a,
            };
        }
        let local_tag = self.new_id();
        let (pending, notify) = NotifierPending::new(
            DialogId {
                call_id: call_id.to_owned(),
                local_tag: local_tag.clone(),
                remote_tag: remote_tag.to_owned(),
            },
            cseq.seq,
            expires.max(1),
            Instant::now(),
        );
        let target = req
            .contacts()
            .next()
            .and_then(Result::ok)
            .and_then(|c| match c {
                Contact::Addr(a) => Some(a.uri),
                Contact::Wildcard => None,
            })
            .unwrap_or(from.uri)
            .to_owned();
        let routes = req
            .record_routes()
            .filter_map(Result::ok)
            .map(|r| r.uri.to_owned())
            .collect();
        let info = WatchInfo {
            id: pending.id().clone(),
            presentity: bare(&presentity),
            watcher: bare(&watcher),
            target,
            routes,
        };
        let watch = Watch {
            dialog: Notifier::Pending(pending),
            info,
            cseq_reserved: 0,
            last_notify: None,
            damped: false,
        };
        info!(presentity = %watch.info.presentity, watcher = %watch.info.watcher, expires, "SIP watcher subscribed");
        let key = (call_id.to_owned(), local_tag.clone());
        if expires == 0 {
            // RFC 6665 §4.4.3 one-shot fetch: no dialog stays, XMPP gets a probe only.
            let last = watch.dialog.expire(Instant::now());
            self.send_notify(&watch.info, last);
        } else {
            let mut watch = watch;
            // The first NOTIFY writes the dialog to the store (its CSeq reserve is 0).
            self.notify_watch(&mut watch, notify);
            self.presence.watches.insert(key.clone(), watch);
            self.spawn_expiry(key);
        }
        // DESIGN: XMPP `subscribe` + `probe` (a fetch: `probe` only). The probe of a new
        // subscription is held back: an XMPP server answers a probe from a contact not yet
        // approved with `unsubscribed` (RFC 6121 §4.3.2; Prosody also drops the pending
        // request then), which would end the dialog before the user could answer. After
        // approval the server sends the current presence by itself (RFC 6121 §3.1.5).
        match bridge::sip_in::events_from_sip(req) {
            Ok(events) => {
                for e in &events {
                    if expires > 0 && matches!(e, Event::Probe(_)) {
                        continue;
                    }
                    self.presence_to_xmpp(&sender, e);
                }
            }
            Err(e) => debug!(error = %e, "SUBSCRIBE carries no XMPP event"),
        }
        SubscribeAnswer {
            code: 202,
            reason: Cow::Borrowed("Accepted"),
            to_tag: Some(local_tag),
            expires: Some(expires),
            header: None,
        }
    }

    /// A SUBSCRIBE in an existing dialog: a refresh, or with `Expires: 0` the watcher's
    /// unsubscribe, which RFC 8048 §5 maps to XMPP `unsubscribe` (unlike an expiry).
    fn refresh_watch(
        self: &Arc<Self>,
        peer: &PeerCerts,
        call_id: &str,
        tag: &str,
        cseq: u32,
        expires: u32,
    ) -> SubscribeAnswer {
        let key = (call_id.to_owned(), tag.to_owned());
        // Changed in place: a presence change handled meanwhile on another thread must find
        // the dialog (else its NOTIFY would be lost). An unsubscribe removes it afterwards.
        let unsubscribed = {
            let Some(mut watch) = self.presence.watches.get_mut(&key) else {
                return SubscribeAnswer::status(481, "Subscription Does Not Exist");
            };
            // Only a peer authenticated for the watcher's domain may change its dialog.
            let watcher_domain = watch.info.watcher.split_once('@').map(|(_, d)| d);
            let Some(Ok(sender)) =
                watcher_domain.map(|d| auth::verify_certificate_for(Some(peer), d))
            else {
                return SubscribeAnswer::status(403, "Peer Not Authenticated For Sender Domain");
            };
            // An invalid request leaves the dialog as it was.
            match watch.dialog.clone().refresh(cseq, expires, Instant::now()) {
                Err((_, e)) => {
                    let (code, reason) = e.status();
                    warn!(code, "in-dialog SUBSCRIBE refused");
                    return SubscribeAnswer::status(code, reason);
                }
                Ok((Some(d), notify)) => {
                    watch.dialog = d;
                    self.notify_watch(&mut watch, notify);
                    // The new expiry and CSeq are stored with the refresh.
                    self.persist_watch(&mut watch);
                    None
                }
                Ok((None, notify)) => Some((sender, notify)),
            }
        };
        if let Some((sender, notify)) = unsubscribed
            && let Some((key, watch)) = self.presence.watches.remove(&key)
        {
            self.send_notify(&watch.info, notify);
            self.unpersist_watch(&key);
            info!(presentity = %watch.info.presentity, watcher = %watch.info.watcher, "SIP watcher unsubscribed");
            self.watcher_unsubscribed(&sender, &watch.info);
        }
        SubscribeAnswer {
            code: 200,
            reason: Cow::Borrowed("OK"),
            to_tag: None,
            expires: Some(expires),
            header: None,
        }
    }

    /// The XMPP `unsubscribe` from the SIP watcher to the XMPP presentity (DESIGN presence
    /// table: in-dialog SUBSCRIBE with `Expires: 0`).
    fn watcher_unsubscribed(self: &Arc<Self>, sender: &auth::VerifiedDomain, info: &WatchInfo) {
        // The presentity's server stops sending presence to the watcher now: what is cached
        // would go stale (a resource's later `unavailable` never comes).
        self.forget_presence(&info.presentity, &info.watcher);
        self.note_subscription_ended(&info.presentity, &info.watcher);
        let from = format!("sip:{}", info.watcher);
        let to = format!("sip:{}", info.presentity);
        let (Ok(from), Ok(to)) = (
            bridge::address::from_sip_uri(&from),
            bridge::address::from_sip_uri(&to),
        ) else {
            warn!("unsubscribe not interworked: dialog addresses do not map");
            return;
        };
        let event = Event::Subscription(Subscription {
            from,
            to,
            kind: SubscriptionKind::Unsubscribe,
            nick: None,
        });
        self.presence_to_xmpp(sender, &event);
    }

    /// End the dialog when it expires, unless refreshed meanwhile.
    pub(super) fn spawn_expiry(self: &Arc<Self>, key: DialogKey) {
        let gw = self.clone();
        let cancel = self.shutdown_token();
        self.tracker().spawn(
            async move {
                loop {
                    let Some(deadline) = gw.presence.watches.get(&key).map(|w| w.dialog.deadline())
                    else {
                        return;
                    };
                    tokio::select! {
                        () = tokio::time::sleep_until(deadline) => {}
                        () = cancel.cancelled() => return,
                    }
                    let now = Instant::now();
                    let due = gw
                        .presence
                        .watches
                        .remove_if(&key, |_, w| w.dialog.deadline() <= now);
                    if let Some((key, watch)) = due {
                        debug!(watcher = %watch.info.watcher, "SIP subscription expired");
                        let notify = watch.dialog.expire(now);
                        gw.send_notify(&watch.info, notify);
                        gw.unpersist_watch(&key);
                        gw.presence_unwatched(&watch.info);
                        return;
                    }
                }
            }
            .in_current_span(),
        );
    }

    /// A `<presence/>` from an authenticated XMPP peer to a SIP user (RFC 6121 §3–4).
    pub(crate) fn xmpp_presence_in(self: &Arc<Self>, p: &PresenceView<'_>) {
        let events = match bridge::xmpp_in::events_from_presence(p) {
            Ok(e) => e,
            Err(e) => {
                debug!(error = %e, "presence not interworked");
                return;
            }
        };
        for event in events {
            match event {
                Event::Subscription(s) => {
                    let pair = (bare(&s.from), bare(&s.to));
                    match s.kind {
                        SubscriptionKind::Subscribed => {
                            // Approving a subscription accepts the watcher (DESIGN "Policy").
                            self.note_approved(&pair.0, &pair.1);
                            self.watchers_approved(&pair)
                        }
                        SubscriptionKind::Unsubscribed => {
                            // The XMPP user refused or cancelled the SIP user (police.rs).
                            self.consent_refused(&pair.0, &pair.1);
                            self.watchers_rejected(&pair)
                        }
                        SubscriptionKind::Subscribe | SubscriptionKind::Unsubscribe => {
                            self.xmpp_subscription_to_sip(&s)
                        }
                    }
                }
                Event::Presence(pr) => self.presentity_changed(&pr),
                other => debug!(kind = other.kind_name(), "presence event not relayed"),
            }
        }
    }

    fn presentity_changed(self: &Arc<Self>, p: &ModelPresence<'_>) {
        let pair = (bare(&p.from), bare(&p.to));
        let keys = self.watch_keys(&pair);
        if keys.is_empty() {
            // Kept only while a SIP watcher's dialog may need it: otherwise every address
            // that ever sent presence would stay in memory.
            self.presence.cache.remove(&pair);
            debug!("presence for a pair no SIP watcher watches: not relayed");
            return;
        }
        let resource = p.from.resource.as_deref().unwrap_or_default().to_owned();
        {
            // One tuple per available resource; the bare JID's state only stands in when no
            // resource is known, and the last resource going away leaves one `closed` tuple
            // (with its status text) rather than an empty document.
            let mut entry = self.presence.cache.entry(pair.clone()).or_default();
            let state = Resource {
                availability: p.availability,
                note: p.note.as_deref().map(str::to_owned),
            };
            if p.availability == Availability::Unavailable {
                entry.remove(&resource);
                if entry
                    .values()
                    .all(|r| r.availability == Availability::Unavailable)
                {
                    entry.clear();
                    entry.insert(resource, state);
                }
            } else {
                entry.retain(|k, r| !k.is_empty() && r.availability != Availability::Unavailable);
                entry.insert(resource, state);
            }
        }
        let interval = Duration::from_millis(self.config().sip.notify_min_interval_ms);
        for key in keys {
            // Changed in place: a dialog taken out of the map even for a moment would be
            // missing for a refresh or unsubscribe handled on another thread (481).
            let Some(mut watch) = self.presence.watches.get_mut(&key) else {
                continue;
            };
            if watch.dialog.is_active() {
                audit::emit(watch.info.record(EventKind::Presence, p.note.as_deref()));
                let now = Instant::now();
                let due = watch.last_notify.map_or(now, |t| t + interval);
                if due <= now {
                    self.notify_change(&mut watch, now);
                } else if !watch.damped {
                    // RFC 3856 §6.4: the changes until `due` leave in one NOTIFY, which
                    // reads the cache when it is written, so it carries the latest state.
                    watch.damped = true;
                    self.spawn_damped(key.clone(), due);
                }
            }
        }
    }

    /// NOTIFY `active` with the current state of an active dialog.
    fn notify_change(self: &Arc<Self>, watch: &mut Watch, now: Instant) {
        if let Some(n) = watch.dialog.changed(now) {
            self.notify_watch(watch, n);
        }
    }

    /// Send the coalesced NOTIFY of a damped dialog at `due`, if still due then.
    fn spawn_damped(self: &Arc<Self>, key: DialogKey, due: Instant) {
        let gw = self.clone();
        let cancel = self.shutdown_token();
        self.tracker().spawn(
            async move {
                tokio::select! {
                    () = tokio::time::sleep_until(due) => {}
                    () = cancel.cancelled() => return,
                }
                let Some(mut watch) = gw.presence.watches.get_mut(&key) else {
                    return;
                };
                if watch.damped {
                    gw.notify_change(&mut watch, Instant::now());
                }
            }
            .in_current_span(),
        );
    }

    /// Send `n` for `watch`: its damping interval starts now, a pending coalesced change is
    /// carried by it, and the stored record is renewed when the CSeq reaches its reserve.
    fn notify_watch(self: &Arc<Self>, watch: &mut Watch, n: Notify) {
        self.send_notify(&watch.info, n);
        watch.last_notify = Some(Instant::now());
        watch.damped = false;
        if n.cseq >= watch.cseq_reserved {
            self.persist_watch(watch);
        }
    }

    fn watchers_approved(self: &Arc<Self>, pair: &(String, String)) {
        for key in self.watch_keys(pair) {
            let Some((key, mut watch)) = self.presence.watches.remove(&key) else {
                continue;
            };
            let now = Instant::now();
            match watch.dialog {
                Notifier::Pending(p) => {
                    let (a, n) = p.approve(now);
                    watch.dialog = Notifier::Active(a);
                    self.notify_watch(&mut watch, n);
                    self.persist_watch(&mut watch);
                    audit::emit(watch.info.record(EventKind::Subscription, None));
                }
                active => watch.dialog = active,
            }
            self.presence.watches.insert(key, watch);
        }
    }

    fn watchers_rejected(self: &Arc<Self>, pair: &(String, String)) {
        self.forget_presence(&pair.0, &pair.1);
        for key in self.watch_keys(pair) {
            let Some((key, watch)) = self.presence.watches.remove(&key) else {
                continue;
            };
            self.unpersist_watch(&key);
            let now = Instant::now();
            let notify = match watch.dialog {
                Notifier::Pending(p) => p.reject(now),
                Notifier::Active(a) => a.revoke(now),
            };
            self.send_notify(&watch.info, notify);
            audit::emit(watch.info.record(EventKind::Subscription, None));
        }
    }

    /// Drop the cached presence of `presentity` for `watcher` (the subscription ended).
    pub(super) fn forget_presence(&self, presentity: &str, watcher: &str) {
        self.presence.cache.retain(|(p, w), _| {
            !(p.eq_ignore_ascii_case(presentity) && w.eq_ignore_ascii_case(watcher))
        });
    }

    /// How many (presentity, watcher) pairs have presence held for SIP watchers.
    pub fn presence_cached(&self) -> usize {
        self.presence.cache.len()
    }

    /// A watcher's dialog ended on its own (expiry, failed NOTIFY): its cached presence goes
    /// when no other dialog of the pair needs it.
    fn presence_unwatched(&self, info: &WatchInfo) {
        let pair = (info.presentity.clone(), info.watcher.clone());
        if self.watch_keys(&pair).is_empty() {
            self.presence.cache.remove(&pair);
        }
    }

    /// Live dialogs whose watcher is in `domain`, and those of `watcher` (bare).
    pub(super) fn live_watches(&self, domain: &str, watcher: &str) -> (usize, usize) {
        let (mut d, mut w) = (0, 0);
        for e in self.presence.watches.iter() {
            let wd = e.info.watcher.rsplit_once('@').map_or("", |(_, d)| d);
            d += usize::from(wd.eq_ignore_ascii_case(domain));
            w += usize::from(e.info.watcher.eq_ignore_ascii_case(watcher));
        }
        (d, w)
    }

    fn watch_keys(&self, (presentity, watcher): &(String, String)) -> Vec<DialogKey> {
        (self.presence.watches.iter())
            .filter(|w| {
                w.info.presentity.eq_ignore_ascii_case(presentity)
                    && w.info.watcher.eq_ignore_ascii_case(watcher)
            })
            .map(|w| w.key().clone())
            .collect()
    }

    /// Write and send a NOTIFY for `watch` through the pool towards the watcher's domain.
    pub(super) fn send_notify(self: &Arc<Self>, watch: &WatchInfo, n: Notify) {
        let id = &watch.id;
        let branch = format!("z9hG4bK{}", self.new_id());
        let (Some((_, pres_domain)), Some((_, watcher_domain))) = (
            watch.presentity.split_once('@'),
            watch.watcher.split_once('@'),
        ) else {
            return;
        };
        let body = match n.state {
            NotifyState::Active => self.pidf_for(watch),
            _ => String::new(),
        };
        let state = match n.state {
            NotifyState::Pending => format!("pending;expires={}", n.expires),
            NotifyState::Active => format!("active;expires={}", n.expires),
            NotifyState::Terminated(reason) => format!("terminated;reason={reason}"),
        };
        let via = format!("SIP/2.0/TLS {};branch={branch}", self.sip_sent_by);
        // External marking: the watcher sees the XMPP presentity as external (issue 8).
        let mut from = BytesMut::with_capacity(96);
        let user = watch.presentity.split('@').next().unwrap_or_default();
        if let Some(name) = self.external_name(None, user) {
            sip_wire::put_quoted(&mut from, &name);
            from.extend_from_slice(b" ");
        }
        let from = format!(
            "{}<sip:{}>;tag={}",
            String::from_utf8_lossy(&from),
            watch.presentity,
            id.local_tag
        );
        let to = format!("<sip:{}>;tag={}", watch.watcher, id.remote_tag);
        let cseq = format!("{} NOTIFY", n.cseq);
        let contact = format!(
            "<sip:{}@{};transport=tls>",
            watch.presentity.split('@').next().unwrap_or_default(),
            self.sip_sent_by
        );
        let routes: Vec<String> = watch.routes.iter().map(|r| format!("<{r}>")).collect();
        let mut headers: Vec<(&str, &str)> = vec![("Via", &via), ("Max-Forwards", "70")];
        headers.extend(routes.iter().map(|r| ("Route", r.as_str())));
        headers.extend([
            ("From", from.as_str()),
            ("To", to.as_str()),
            ("Call-ID", id.call_id.as_str()),
            ("CSeq", cseq.as_str()),
            ("Contact", contact.as_str()),
            ("Event", "presence"),
            ("Subscription-State", state.as_str()),
        ]);
        if !body.is_empty() {
            headers.push(("Content-Type", pidf::CONTENT_TYPE));
        }
        let mut out = BytesMut::with_capacity(512 + body.len());
        encode::write_request(
            &mut out,
            &RequestParts {
                method: "NOTIFY",
                uri: &watch.target,
                headers: &headers,
                body: body.as_bytes(),
            },
        );
        let rx = self
            .sip_out
            .request(self, pres_domain, watcher_domain, out.freeze(), branch);
        let key = (id.call_id.clone(), id.local_tag.clone());
        let gw = self.clone();
        self.tracker().spawn(
            async move {
                let Ok(f) = rx.await else { return };
                debug!(code = f.code, "NOTIFY final response");
                // RFC 6665 §4.2.2: a 481 (or other failure) to a NOTIFY ends the subscription.
                // A final parley made itself because the next hop could not be reached now
                // is no answer from the watcher: the dialog stays for its next refresh.
                let unreached = super::spool::transient_local(&f);
                if f.code >= 300
                    && f.code != 408
                    && !unreached
                    && let Some((key, watch)) = gw.presence.watches.remove(&key)
                {
                    gw.unpersist_watch(&key);
                    gw.presence_unwatched(&watch.info);
                }
            }
            .in_current_span(),
        );
    }

    /// The PIDF of what the watcher may see: one tuple per cached resource (RFC 8048 §6).
    fn pidf_for(&self, watch: &WatchInfo) -> String {
        let mut doc = pidf::Presence {
            entity: format!("pres:{}", watch.presentity),
            ..pidf::Presence::default()
        };
        let pair = (watch.presentity.clone(), watch.watcher.clone());
        if let Some(resources) = self.presence.cache.get(&pair) {
            for (resource, r) in resources.iter() {
                let (basic, activity) = table::availability_to_pidf(r.availability);
                if doc.activities.is_empty() {
                    doc.activities.extend(activity);
                }
                let id = if resource.is_empty() {
                    Cow::Borrowed("gw")
                } else {
                    table::tuple_id_for_resource(resource)
                };
                doc.tuples.push(pidf::Tuple {
                    id: id.into_owned(),
                    basic: Some(basic),
                    contact: None,
                    priority: None,
                    notes: r
                        .note
                        .iter()
                        .map(|t| pidf::Note {
                            lang: None,
                            text: t.clone(),
                        })
                        .collect(),
                });
            }
        }
        doc.to_xml()
    }

    /// Send one presence event (subscribe, probe) to the XMPP side, from the SIP domain
    /// the peer authenticated for.
    fn presence_to_xmpp(self: &Arc<Self>, sender: &auth::VerifiedDomain, e: &Event<'_>) {
        self.presence_out(sender.as_str(), e);
    }

    /// Send one presence event to the XMPP side on the stream from `local` (a SIP domain
    /// served here).
    pub(super) fn presence_out(self: &Arc<Self>, local: &str, e: &Event<'_>) {
        let mut out = BytesMut::with_capacity(256);
        let id = self.new_id();
        // External marking on subscription requests (XEP-0172 nick).
        let labelled;
        let e = match e {
            Event::Subscription(s) if s.kind == SubscriptionKind::Subscribe => {
                match self.external_name(s.nick.as_deref(), &s.from.local) {
                    Some(name) => {
                        let mut s = s.clone();
                        s.nick = Some(Cow::Owned(name));
                        labelled = Event::Subscription(s);
                        &labelled
                    }
                    None => e,
                }
            }
            _ => e,
        };
        let record = AuditRecord::event(Direction::SipToXmpp, e);
        if bridge::xmpp_out::write_xmpp_event(&mut out, e, &id).is_err() {
            audit::refuse(record, PolicyReason::Untranslatable);
            return;
        }
        let remote = e.to().domain.to_string();
        let stanza = OutStanza::new(Bytes::from(out), None);
        if let Err(err) = self.xmpp_out.send(self, local, &remote, stanza) {
            warn!(error = ?err, "could not queue a presence stanza");
            audit::refuse(record, PolicyReason::QueueFull);
        } else {
            audit::emit(record);
        }
    }
}
