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
//! The dialogs live in memory: a restart ends them, and SIP watchers re-subscribe.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use dashmap::DashMap;
use tokio::time::Instant;
use tracing::{Instrument, debug, info, warn};

use super::Gateway;
use crate::audit::{self, AuditRecord};
use crate::auth;
use crate::bridge::{self, presence as table};
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
struct Watch {
    dialog: Notifier,
    info: WatchInfo,
}

/// What a NOTIFY of a [`Watch`] needs besides the dialog state.
#[derive(Debug)]
struct WatchInfo {
    id: DialogId,
    /// The XMPP user, bare (`juliet@xmpp.test`).
    presentity: String,
    /// The SIP watcher's address of record, bare (`alice@sip.test`).
    watcher: String,
    /// Where NOTIFYs go: the SUBSCRIBE's Contact, else its From URI.
    target: String,
    /// Route set from the SUBSCRIBE's Record-Route.
    routes: Vec<String>,
}

/// Presence state of the gateway.
#[derive(Debug, Default)]
pub struct PresenceState {
    watches: super::counted::Counted<DialogKey, Watch>,
    /// Last presence per `(presentity, watcher)`, by resource.
    cache: DashMap<(String, String), BTreeMap<String, Resource>>,
}

/// Outcome of a SUBSCRIBE for the response writer: status, reason, the To tag to use and
/// the granted Expires.
pub(crate) struct SubscribeAnswer {
    pub code: u16,
    pub reason: Cow<'static, str>,
    pub to_tag: Option<String>,
    pub expires: Option<u32>,
}

impl SubscribeAnswer {
    fn status(code: u16, reason: &'static str) -> SubscribeAnswer {
        SubscribeAnswer {
            code,
            reason: Cow::Borrowed(reason),
            to_tag: None,
            expires: None,
        }
    }
}

impl WatchInfo {
    /// The audit record of an XMPP event crossing to this watcher (XMPP→SIP, the dialog's
    /// Call-ID as the session), `note` the status text it carries (only its size is kept).
    fn record(&self, kind: EventKind, note: Option<&str>) -> AuditRecord {
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
        if let Some(tag) = to.tag {
            return self.refresh_watch(peer, call_id, tag, cseq.seq, dialog::granted(requested));
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
        let expires = dialog::granted(requested);
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
        };
        info!(presentity = %watch.info.presentity, watcher = %watch.info.watcher, expires, "SIP watcher subscribed");
        let key = (call_id.to_owned(), local_tag.clone());
        if expires == 0 {
            // RFC 6665 §4.4.3 one-shot fetch: no dialog stays, XMPP gets a probe only.
            let last = watch.dialog.expire(Instant::now());
            self.send_notify(&watch.info, last);
        } else {
            self.send_notify(&watch.info, notify);
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
        let Some((key, mut watch)) = self.presence.watches.remove(&key) else {
            return SubscribeAnswer::status(481, "Subscription Does Not Exist");
        };
        // Only a peer authenticated for the watcher's domain may change its dialog.
        let watcher_domain = watch.info.watcher.split_once('@').map(|(_, d)| d);
        let Some(Ok(sender)) = watcher_domain.map(|d| auth::verify_certificate_for(Some(peer), d))
        else {
            self.presence.watches.insert(key, watch);
            return SubscribeAnswer::status(403, "Peer Not Authenticated For Sender Domain");
        };
        let now = Instant::now();
        let (next, notify) = match watch.dialog.refresh(cseq, expires, now) {
            Ok(x) => x,
            Err((dialog, e)) => {
                // An invalid request leaves the dialog as it was.
                watch.dialog = dialog;
                self.presence.watches.insert(key, watch);
                let (code, reason) = e.status();
                warn!(code, "in-dialog SUBSCRIBE refused");
                return SubscribeAnswer::status(code, reason);
            }
        };
        self.send_notify(&watch.info, notify);
        if let Some(d) = next {
            watch.dialog = d;
            self.presence.watches.insert(key.clone(), watch);
        } else {
            info!(presentity = %watch.info.presentity, watcher = %watch.info.watcher, "SIP watcher unsubscribed");
            self.watcher_unsubscribed(&sender, &watch.info);
        }
        SubscribeAnswer {
            code: 200,
            reason: Cow::Borrowed("OK"),
            to_tag: None,
            expires: Some(expires),
        }
    }

    /// The XMPP `unsubscribe` from the SIP watcher to the XMPP presentity (DESIGN presence
    /// table: in-dialog SUBSCRIBE with `Expires: 0`).
    fn watcher_unsubscribed(self: &Arc<Self>, sender: &auth::VerifiedDomain, info: &WatchInfo) {
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
    fn spawn_expiry(self: &Arc<Self>, key: DialogKey) {
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
                    if let Some((_, watch)) = due {
                        debug!(watcher = %watch.info.watcher, "SIP subscription expired");
                        let notify = watch.dialog.expire(now);
                        gw.send_notify(&watch.info, notify);
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
                        SubscriptionKind::Subscribed => self.watchers_approved(&pair),
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
        for key in self.watch_keys(&pair) {
            let Some((key, mut watch)) = self.presence.watches.remove(&key) else {
                continue;
            };
            watch.dialog = match watch.dialog {
                Notifier::Active(a) => {
                    let (a, n) = a.changed(Instant::now());
                    self.send_notify(&watch.info, n);
                    audit::emit(watch.info.record(EventKind::Presence, p.note.as_deref()));
                    Notifier::Active(a)
                }
                pending => pending,
            };
            self.presence.watches.insert(key, watch);
        }
    }

    fn watchers_approved(self: &Arc<Self>, pair: &(String, String)) {
        for key in self.watch_keys(pair) {
            let Some((key, mut watch)) = self.presence.watches.remove(&key) else {
                continue;
            };
            watch.dialog = match watch.dialog {
                Notifier::Pending(p) => {
                    let (a, n) = p.approve(Instant::now());
                    self.send_notify(&watch.info, n);
                    audit::emit(watch.info.record(EventKind::Subscription, None));
                    Notifier::Active(a)
                }
                active => active,
            };
            self.presence.watches.insert(key, watch);
        }
    }

    fn watchers_rejected(self: &Arc<Self>, pair: &(String, String)) {
        for key in self.watch_keys(pair) {
            let Some((_, watch)) = self.presence.watches.remove(&key) else {
                continue;
            };
            let now = Instant::now();
            let notify = match watch.dialog {
                Notifier::Pending(p) => p.reject(now),
                Notifier::Active(a) => a.revoke(now),
            };
            self.send_notify(&watch.info, notify);
            audit::emit(watch.info.record(EventKind::Subscription, None));
        }
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
    fn send_notify(self: &Arc<Self>, watch: &WatchInfo, n: Notify) {
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
        let from = format!("<sip:{}>;tag={}", watch.presentity, id.local_tag);
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
                if f.code >= 300 && f.code != 408 {
                    gw.presence.watches.remove(&key);
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
        let stanza = OutStanza {
            bytes: Bytes::from(out),
            ack: None,
        };
        if let Err(err) = self.xmpp_out.send(self, sender.as_str(), &remote, stanza) {
            warn!(error = ?err, "could not queue a presence stanza");
            audit::refuse(record, PolicyReason::QueueFull);
        } else {
            audit::emit(record);
        }
    }
}
