//! Presence across the gateway, parley as the RFC 6665 subscriber for SIP presentities watched
//! from XMPP (DESIGN presence table):
//!
//! 1. XMPP `subscribe` to a SIP user → SUBSCRIBE (Event: presence, Accept: PIDF) written by
//!    the bridge; a final ≥ 300 becomes a presence error for the XMPP user;
//! 2. a 2xx establishes the dialog; parley refreshes it before expiry for as long as it
//!    lives (the XMPP subscription);
//! 3. NOTIFY `pending` → nothing; `active` → XMPP `subscribed` (the first time) and the
//!    PIDF's presence; `terminated` with `rejected`/`noresource` → `unsubscribed`; other
//!    terminations → a new SUBSCRIBE, no XMPP traffic;
//! 4. XMPP `unsubscribe` → SUBSCRIBE `Expires: 0` in the dialog.
//!
//! Dialogs live in memory; each subscription is also recorded in the store, and parley
//! subscribes again at startup (routing/durable.rs).

use std::borrow::Cow;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use tokio::time::Instant;
use tracing::{Instrument, debug, info, warn};

use super::Gateway;
use crate::audit::{self, AuditRecord};
use crate::bridge::{self, sip::RequestContext, sip_out};
use crate::conn::xmpp_pool::OutStanza;
use crate::metrics::{Direction, EventKind, PolicyReason};
use crate::model::{
    Address, ErrorAbout, ErrorCondition, ErrorEvent, Event, Subscription, SubscriptionKind,
};
use crate::sip::SipMessage;
use crate::sip::dialog::{self, Incoming, SubscriberEstablished, SubscriberSent, SubscriberStep};
use crate::sip::typed::SubState;

/// Requested subscription duration (seconds).
const SUBSCRIBE_EXPIRES: u32 = 3600;

#[derive(Debug, Clone)]
enum State {
    Sent(SubscriberSent),
    Established(SubscriberEstablished),
}

/// One SIP subscription on behalf of an XMPP watcher.
#[derive(Debug)]
struct Sub {
    state: State,
    /// XMPP watcher, bare.
    watcher: Address<'static>,
    /// SIP presentity, bare.
    presentity: Address<'static>,
    /// Remote target and route set of the dialog (RFC 3261 §12.1.2), from the 2xx.
    target: Option<(String, Vec<String>)>,
}

/// The two ends of a subscription and the dialog's remote target, for a SUBSCRIBE.
struct Ends<'a> {
    watcher: &'a Address<'static>,
    presentity: &'a Address<'static>,
    target: Option<&'a (String, Vec<String>)>,
}

/// Subscriber dialogs by `(Call-ID, parley's tag)`.
#[derive(Debug, Default)]
pub struct Subscriptions {
    subs: super::counted::Counted<(String, String), Sub>,
}

impl Gateway {
    /// XMPP `subscribe` / `unsubscribe` from `watcher` to the SIP user `presentity`.
    pub(crate) fn xmpp_subscription_to_sip(self: &Arc<Self>, s: &Subscription<'_>) {
        let watcher = s.from.without_resource().into_owned();
        let presentity = s.to.without_resource().into_owned();
        match s.kind {
            SubscriptionKind::Subscribe => {
                if self.find_sub(&watcher, &presentity).is_some() {
                    debug!("already subscribed; the SIP dialog is kept");
                    return;
                }
                if let Err(flood) = self.admit_subscription(&watcher.domain, &watcher.bare()) {
                    warn!("new XMPP subscription refused by the flood limits");
                    let (condition, text) = flood.xmpp_condition();
                    self.subscription_refused(&watcher, &presentity, condition, text);
                    return;
                }
                audit::emit(subscription_record(&watcher, &presentity));
                self.start_sub(watcher, presentity);
            }
            SubscriptionKind::Unsubscribe => {
                self.remember_subscription(&watcher, &presentity, false);
                self.note_subscription_ended(&presentity.bare(), &watcher.bare());
                if let Some(key) = self.find_sub(&watcher, &presentity)
                    && let Some((key, sub)) = self.presence_subs.subs.remove(&key)
                    && let State::Established(est) = sub.state
                {
                    let (est, cseq) = est.refresh(0, Instant::now());
                    audit::emit(subscription_record(&watcher, &presentity));
                    let ends = Ends {
                        watcher: &sub.watcher,
                        presentity: &sub.presentity,
                        target: sub.target.as_ref(),
                    };
                    self.send_subscribe(&key, &ends, Some(&est), cseq, 0);
                }
            }
            _ => {}
        }
    }

    /// End the subscriber dialogs `hit` selects (contact retirement, `forget`; see
    /// [`super::presence_end`]): SUBSCRIBE `Expires: 0` in each established one, the stored
    /// subscription erased, and XMPP `unsubscribed` from the SIP user so the watcher's roster
    /// item loses its `to` subscription. Returns how many.
    pub(super) fn end_subscriptions(self: &Arc<Self>, hit: &super::presence_end::Hit<'_>) -> usize {
        let keys: Vec<(String, String)> = (self.presence_subs.subs.iter())
            .filter(|e| hit.hits(&e.watcher.bare(), &e.presentity.bare()))
            .map(|e| e.key().clone())
            .collect();
        let mut n = 0;
        for key in keys {
            let Some((key, sub)) = self.presence_subs.subs.remove(&key) else {
                continue;
            };
            n += 1;
            let Sub {
                state,
                watcher,
                presentity,
                target,
            } = sub;
            self.remember_subscription(&watcher, &presentity, false);
            self.note_subscription_ended(&presentity.bare(), &watcher.bare());
            if let State::Established(est) = state {
                let (est, cseq) = est.refresh(0, Instant::now());
                let ends = Ends {
                    watcher: &watcher,
                    presentity: &presentity,
                    target: target.as_ref(),
                };
                self.send_subscribe(&key, &ends, Some(&est), cseq, 0);
            }
            audit::emit(subscription_record(&watcher, &presentity));
            self.sip_event_to_xmpp(&Event::Subscription(Subscription {
                from: presentity,
                to: watcher,
                kind: SubscriptionKind::Unsubscribed,
                nick: None,
            }));
        }
        n
    }

    /// `(presentity, watcher)`, bare and lower case, of the subscriber dialogs `hit` selects.
    pub(super) fn live_subscriber_pairs(
        &self,
        hit: &super::presence_end::Hit<'_>,
    ) -> Vec<(String, String)> {
        (self.presence_subs.subs.iter())
            .map(|e| (e.presentity.bare(), e.watcher.bare()))
            .filter(|(p, w)| hit.hits(w, p))
            .map(|(p, w)| (p.to_ascii_lowercase(), w.to_ascii_lowercase()))
            .collect()
    }

    /// Live subscriptions held for watchers in `domain`, and for `watcher` (bare).
    pub(super) fn live_subs(&self, domain: &str, watcher: &str) -> (usize, usize) {
        let (mut d, mut w) = (0, 0);
        for e in self.presence_subs.subs.iter() {
            d += usize::from(e.watcher.domain.eq_ignore_ascii_case(domain));
            w += usize::from(e.watcher.bare().eq_ignore_ascii_case(watcher));
        }
        (d, w)
    }

    /// A presence error for the XMPP watcher: its `subscribe` was refused here.
    fn subscription_refused(
        self: &Arc<Self>,
        watcher: &Address<'static>,
        presentity: &Address<'static>,
        condition: ErrorCondition,
        text: &'static str,
    ) {
        let e = Event::Error(ErrorEvent {
            from: presentity.clone(),
            to: watcher.clone(),
            id: None,
            about: ErrorAbout::Presence,
            condition,
            text: Some(Cow::Borrowed(text)),
            sip_status: None,
        });
        audit::refuse(
            subscription_record(watcher, presentity),
            PolicyReason::SubscriptionLimit,
        );
        self.sip_event_to_xmpp(&e);
    }

    fn find_sub(
        &self,
        watcher: &Address<'_>,
        presentity: &Address<'_>,
    ) -> Option<(String, String)> {
        (self.presence_subs.subs.iter())
            .find(|e| e.watcher == *watcher && e.presentity == *presentity)
            .map(|e| e.key().clone())
    }

    pub(super) fn start_sub(
        self: &Arc<Self>,
        watcher: Address<'static>,
        presentity: Address<'static>,
    ) {
        self.remember_subscription(&watcher, &presentity, true);
        let key = (self.new_id(), self.new_id());
        info!(watcher = %format!("{}@{}", watcher.local, watcher.domain), presentity = %format!("{}@{}", presentity.local, presentity.domain), "subscribing to a SIP presentity");
        let sent = SubscriberSent::new(key.0.clone(), key.1.clone(), 1);
        // In the table before the SUBSCRIBE leaves: its 2xx or a NOTIFY may come back at once.
        let ends = (watcher.clone(), presentity.clone());
        let sub = Sub {
            state: State::Sent(sent),
            watcher,
            presentity,
            target: None,
        };
        self.presence_subs.subs.insert(key.clone(), sub);
        let ends = Ends {
            watcher: &ends.0,
            presentity: &ends.1,
            target: None,
        };
        self.send_subscribe(&key, &ends, None, 1, SUBSCRIBE_EXPIRES);
    }

    /// Write the SUBSCRIBE through the bridge and follow its final response.
    fn send_subscribe(
        self: &Arc<Self>,
        key: &(String, String),
        sub: &Ends<'_>,
        dialog: Option<&SubscriberEstablished>,
        cseq: u32,
        expires: u32,
    ) {
        let branch = format!("z9hG4bK{}", self.new_id());
        let (watcher, presentity) = (&sub.watcher, &sub.presentity);
        let contact = format!("sip:{}@{};transport=tls", watcher.local, self.sip_sent_by);
        let o = sip_out::SipOut {
            req: RequestContext {
                transport: "TLS",
                sent_by: &self.sip_sent_by,
                branch: &branch,
                from_tag: &key.1,
                fallback_call_id: &key.0,
                cseq,
            },
            caps: sip_out::SipPeerCaps::default(),
            call_id: Some(&key.0),
            to_tag: dialog.map(|d| d.id().remote_tag.as_str()),
            contact: &contact,
            expires,
            now: "",
            boundary: "",
        };
        let s = Subscription {
            from: (*watcher).clone(),
            to: (*presentity).clone(),
            kind: if expires == 0 {
                SubscriptionKind::Unsubscribe
            } else {
                SubscriptionKind::Subscribe
            },
            // External marking: the SIP user sees the XMPP watcher as external.
            nick: self.external_name(None, &watcher.local).map(Cow::Owned),
        };
        let mut out = BytesMut::with_capacity(512);
        sip_out::write_sip_subscription(&mut out, &s, &o);
        // In the dialog the request goes to the remote target through the route set
        // (RFC 3261 §12.2.1.1); the bridge writes the AOR, so the head is adjusted here.
        if let (Some(_), Some((target, routes))) = (dialog, sub.target) {
            out = in_dialog(&out, target, routes);
        }
        let rx = self.sip_out.request(
            self,
            &watcher.domain,
            &presentity.domain,
            out.freeze(),
            branch,
        );
        let (gw, key) = (self.clone(), key.clone());
        self.tracker().spawn(
            async move {
                let Ok(f) = rx.await else { return };
                debug!(code = f.code, "SUBSCRIBE final response");
                if expires > 0 {
                    gw.on_subscribe_final(&key, f);
                }
            }
            .in_current_span(),
        );
    }

    fn on_subscribe_final(
        self: &Arc<Self>,
        key: &(String, String),
        f: crate::conn::sip_conn::SipFinal,
    ) {
        // The dialog is changed in place (a NOTIFY handled meanwhile on another thread must
        // find it); what follows from the change is done after the entry is released.
        let established = {
            let Some(mut sub) = self.presence_subs.subs.get_mut(key) else {
                return;
            };
            let now = Instant::now();
            let granted = dialog::granted(f.expires.or(Some(SUBSCRIBE_EXPIRES)));
            match sub.state.clone() {
                State::Sent(sent) => match sent.on_final(f.code, f.to_tag.as_deref(), granted, now)
                {
                    Some(est) => {
                        // UAC route set: the 2xx's Record-Route in reverse (RFC 3261 §12.1.2).
                        let routes = f.record_route.iter().rev().cloned().collect();
                        sub.target = f.contact.clone().map(|c| (c, routes));
                        sub.state = State::Established(est);
                        Some(true)
                    }
                    None => None,
                },
                State::Established(est) if (200..300).contains(&f.code) => {
                    sub.state = State::Established(est.granted(granted, now));
                    Some(true)
                }
                // A refresh refused: the subscription is gone on the SIP side.
                State::Established(_) => Some(false),
            }
        };
        match established {
            Some(true) => self.spawn_refresh(key.clone()),
            Some(false) => {
                if let Some((_, sub)) = self.presence_subs.subs.remove(key) {
                    self.start_sub(sub.watcher, sub.presentity);
                }
            }
            None => {
                let Some((_, sub)) = self.presence_subs.subs.remove(key) else {
                    return;
                };
                self.remember_subscription(&sub.watcher, &sub.presentity, false);
                if super::police::refuses_consent(f.code) {
                    self.consent_refused(&sub.presentity.bare(), &sub.watcher.bare());
                }
                self.subscription_error(&sub.watcher, &sub.presentity, f.code, &f.reason);
            }
        }
    }

    /// Refresh the dialog before it expires, while it exists.
    fn spawn_refresh(self: &Arc<Self>, key: (String, String)) {
        let gw = self.clone();
        let cancel = self.shutdown_token();
        self.tracker().spawn(
            async move {
                let at = match gw.presence_subs.subs.get(&key).map(|s| match &s.state {
                    State::Established(e) => Some(e.refresh_at(Instant::now())),
                    State::Sent(_) => None,
                }) {
                    Some(Some(at)) => at,
                    _ => return,
                };
                tokio::select! {
                    () = tokio::time::sleep_until(at) => {}
                    () = cancel.cancelled() => return,
                }
                let (est, cseq, watcher, presentity, target) = {
                    let Some(mut sub) = gw.presence_subs.subs.get_mut(&key) else {
                        return;
                    };
                    let State::Established(est) = sub.state.clone() else {
                        return;
                    };
                    let (est, cseq) = est.refresh(SUBSCRIBE_EXPIRES, Instant::now());
                    sub.state = State::Established(est.clone());
                    (
                        est,
                        cseq,
                        sub.watcher.clone(),
                        sub.presentity.clone(),
                        sub.target.clone(),
                    )
                };
                let ends = Ends {
                    watcher: &watcher,
                    presentity: &presentity,
                    target: target.as_ref(),
                };
                gw.send_subscribe(&key, &ends, Some(&est), cseq, SUBSCRIBE_EXPIRES);
            }
            .in_current_span(),
        );
    }

    /// A NOTIFY from a SIP peer: the status to answer with.
    pub(crate) fn sip_notify(self: &Arc<Self>, req: &SipMessage) -> (u16, Cow<'static, str>) {
        let (Ok(call_id), Ok(to), Ok(from), Ok(cseq)) =
            (req.call_id(), req.to(), req.from(), req.cseq())
        else {
            return (400, Cow::Borrowed("Bad Request"));
        };
        let Some(tag) = to.tag else {
            return (481, Cow::Borrowed("Subscription Does Not Exist"));
        };
        let Ok(Some(state)) = req.subscription_state() else {
            return (400, Cow::Borrowed("Missing Subscription-State"));
        };
        let key = (call_id.to_owned(), tag.to_owned());
        // The dialog changes in place, and a NOTIFY it refuses (out of order, no From tag)
        // leaves it as it was; what follows is done after the entry is released.
        let (step, watcher, presentity) = {
            let Some(mut sub) = self.presence_subs.subs.get_mut(&key) else {
                return (481, Cow::Borrowed("Subscription Does Not Exist"));
            };
            let now = Instant::now();
            // RFC 6665 §4.1.2.4: a NOTIFY may arrive before the 2xx; it creates the dialog.
            let est = match sub.state.clone() {
                State::Established(e) => e,
                State::Sent(sent) => match sent.on_final(
                    200,
                    from.tag,
                    state.expires.unwrap_or(SUBSCRIBE_EXPIRES),
                    now,
                ) {
                    Some(e) => e,
                    None => return (400, Cow::Borrowed("Missing From Tag")),
                },
            };
            let incoming = match state.state {
                SubState::Pending => Incoming::Pending,
                SubState::Active => Incoming::Active,
                SubState::Terminated | SubState::Other(_) => Incoming::Terminated(state.reason),
            };
            let step = match est.on_notify(cseq.seq, incoming, state.expires, now) {
                Ok(s) => s,
                Err(e) => {
                    let (code, reason) = e.status();
                    return (code, Cow::Borrowed(reason));
                }
            };
            match &step {
                SubscriberStep::Pending(est) | SubscriberStep::Active(est, _) => {
                    sub.state = State::Established(est.clone());
                }
                SubscriberStep::Rejected | SubscriberStep::Resubscribe => {}
            }
            (step, sub.watcher.clone(), sub.presentity.clone())
        };
        let events = bridge::sip_in::events_from_sip(req).unwrap_or_default();
        match step {
            SubscriberStep::Pending(_) => {}
            SubscriberStep::Active(_, first) => {
                if first {
                    // The SIP user approved: it accepts the XMPP watcher (DESIGN "Policy").
                    self.note_approved(&presentity.bare(), &watcher.bare());
                }
                for e in &events {
                    let is_subscribed = matches!(e, Event::Subscription(s) if s.kind == SubscriptionKind::Subscribed);
                    if first || !is_subscribed {
                        self.sip_event_to_xmpp(e);
                    }
                }
            }
            SubscriberStep::Rejected => {
                self.presence_subs.subs.remove(&key);
                self.remember_subscription(&watcher, &presentity, false);
                self.note_subscription_ended(&presentity.bare(), &watcher.bare());
                if state
                    .reason
                    .is_some_and(|r| r.eq_ignore_ascii_case("rejected"))
                {
                    self.consent_refused(&presentity.bare(), &watcher.bare());
                }
                for e in &events {
                    self.sip_event_to_xmpp(e);
                }
            }
            SubscriberStep::Resubscribe => {
                self.presence_subs.subs.remove(&key);
                self.start_sub(watcher, presentity);
            }
        }
        (200, Cow::Borrowed("OK"))
    }

    fn subscription_error(
        self: &Arc<Self>,
        watcher: &Address<'static>,
        presentity: &Address<'static>,
        code: u16,
        reason: &str,
    ) {
        let e = Event::Error(ErrorEvent {
            from: presentity.clone(),
            to: watcher.clone(),
            id: None,
            about: ErrorAbout::Presence,
            condition: bridge::sip::status_to_condition(code),
            text: Some(Cow::Owned(reason.to_owned())),
            sip_status: Some(code),
        });
        self.sip_event_to_xmpp(&e);
    }

    /// One event from a SIP user to an XMPP user, on the stream from the SIP domain.
    fn sip_event_to_xmpp(self: &Arc<Self>, e: &Event<'_>) {
        let mut out = BytesMut::with_capacity(256);
        let id = self.new_id();
        let record = AuditRecord::event(Direction::SipToXmpp, e);
        if bridge::xmpp_out::write_xmpp_event(&mut out, e, &id).is_err() {
            audit::refuse(record, PolicyReason::Untranslatable);
            return;
        }
        let (local, remote) = (e.from().domain.to_string(), e.to().domain.to_string());
        let stanza = OutStanza::new(Bytes::from(out), None);
        if let Err(err) = self.xmpp_out.send(self, &local, &remote, stanza) {
            warn!(error = ?err, "could not queue a presence stanza");
            audit::refuse(record, PolicyReason::QueueFull);
        } else {
            audit::emit(record);
        }
    }
}

/// The audit record of an XMPP `subscribe`/`unsubscribe` crossing as a SUBSCRIBE.
fn subscription_record(watcher: &Address<'_>, presentity: &Address<'_>) -> AuditRecord {
    AuditRecord::new(
        Direction::XmppToSip,
        EventKind::Subscription,
        watcher.bare(),
        presentity.bare(),
    )
}

/// A request written for an address of record, re-targeted at the dialog's remote target
/// with the route set as Route header fields.
fn in_dialog(req: &[u8], target: &str, routes: &[String]) -> BytesMut {
    let mut out = BytesMut::with_capacity(req.len() + 64 + routes.len() * 64);
    let line_end = req
        .windows(2)
        .position(|w| w == b"\r\n")
        .unwrap_or(req.len());
    let first = &req[..line_end];
    let method_end = first.iter().position(|b| *b == b' ').unwrap_or(0);
    out.extend_from_slice(&first[..method_end]);
    out.extend_from_slice(b" ");
    out.extend_from_slice(target.as_bytes());
    out.extend_from_slice(b" SIP/2.0");
    let rest = &req[line_end..];
    // Route fields go right after the request line's first header (Via).
    let via_end = rest
        .get(2..)
        .and_then(|r| r.windows(2).position(|w| w == b"\r\n"))
        .map_or(rest.len(), |p| p + 2);
    out.extend_from_slice(&rest[..via_end]);
    for r in routes {
        out.extend_from_slice(b"\r\nRoute: <");
        out.extend_from_slice(r.as_bytes());
        out.extend_from_slice(b">");
    }
    out.extend_from_slice(&rest[via_end..]);
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn in_dialog_requests_go_to_the_remote_target_through_the_route_set() {
        let req = b"SUBSCRIBE sip:bob@sip.test SIP/2.0\r\nVia: SIP/2.0/TLS h;branch=z9hG4bK1\r\nMax-Forwards: 70\r\n\r\n";
        let out = super::in_dialog(
            req,
            "sip:bob@10.0.0.7:5061;transport=tls",
            &["sip:10.0.0.4;lr".to_owned()],
        );
        assert_eq!(
            std::str::from_utf8(&out).unwrap(),
            "SUBSCRIBE sip:bob@10.0.0.7:5061;transport=tls SIP/2.0\r\nVia: SIP/2.0/TLS h;branch=z9hG4bK1\r\nRoute: <sip:10.0.0.4;lr>\r\nMax-Forwards: 70\r\n\r\n"
        );
    }
}
