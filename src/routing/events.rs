//! Canonical events across the gateway, both ways (RFC 3994 isComposing ⇄ XEP-0085 chat
//! states, RFC 5438 IMDN ⇄ XEP-0184 / XEP-0333 receipts, and the messages that carry
//! XEP-0444 reactions, 0308 corrections, 0424 retractions, 0461 replies, 0066 file links,
//! 0249 invitations, XHTML-IM / `text/html` and CPIM): every one passes the same checks as a
//! plain message — the sender's domain is the one its peer authenticated for
//! ([`VerifiedDomain`]), both domains are served here (no open relay), the federation matrix,
//! the per-user lists and blocks, and the rate limits ([`crate::policy`]).
//!
//! # How consent applies
//!
//! - **Content** (a message, reaction, correction, retraction, file link, invitation) is a
//!   message: a stranger's counts toward the consent limit, and writing one accepts the
//!   recipient (see [`Gateway::police`]).
//! - **Notices** (delivery and display receipts, negative IMDN) and **ephemeral** events
//!   (chat states) are sent by clients on their own, not written by the user: they never count
//!   toward the stranger's limit and never accept anyone. They are still refused (not relayed)
//!   once the sender is blocked, past the limit, outside the federation matrix or over its
//!   rate — the same decision as a message, without its effects.
//!
//! # Delivery
//!
//! - Content and notices are delivered like messages: spooled when the peer is down, bounced
//!   with the mapped error (a SIP final response, an XMPP error stanza) when refused or failed.
//! - Chat states are ephemeral (XEP-0085 §5.3: a notification out of date is worse than none,
//!   so it is neither stored nor retried). When the peer cannot be reached they are dropped:
//!   counted as `parley_messages_total{kind="typing",outcome="dropped"}`, audited with outcome
//!   `dropped`, and logged at debug. A SIP sender's typing MESSAGE is answered `202 Accepted`
//!   once handed on or dropped; an XMPP sender's chat state refused by policy gets no error
//!   stanza (nothing is waiting for one).
//!
//! # Ids
//!
//! Receipts and references must name the id the receiving side knows; see
//! [`super::ids::MessageIds`] for the map. Every relayed event is audited with its kind and
//! addresses, never its content.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tracing::{debug, info};

use super::Gateway;
use crate::audit::{self, AuditRecord};
use crate::auth::{self, VerifiedDomain};
use crate::bridge::{self, ext, sip_out};
use crate::config::Side;
use crate::conn::sip_conn::PeerCerts;
use crate::conn::xmpp_pool::OutStanza;
use crate::metrics::{self, Direction, EventKind, Outcome, PolicyReason, Protocol};
use crate::model::{
    Address, ChatMessage, DeliveryError, Event, ReceiptKind, ReceiptRequest, Typing,
};
use crate::policy::{Decision, Refusal};
use crate::sip::SipMessage;
use crate::store::bare;
use crate::xmpp::stanza::MessageView;

type Status = (u16, Cow<'static, str>);

/// How an event is policed and delivered (module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Class {
    /// Written by the user: policed and delivered as a message.
    Content,
    /// Sent by the client about an earlier message: not counted, delivered as a message.
    Notice,
    /// A chat state: not counted, never spooled, dropped when the peer is unreachable.
    Ephemeral,
    /// Presence and subscriptions: not carried by messages.
    Other,
}

/// The class of `e`.
pub(super) fn class(e: &Event<'_>) -> Class {
    match e {
        Event::Message(_)
        | Event::Correction(_)
        | Event::Reaction(_)
        | Event::Retraction(_)
        | Event::FileLink(_)
        | Event::GroupInvite(_) => Class::Content,
        Event::Receipt(_) | Event::Error(_) => Class::Notice,
        Event::ChatState(_) => Class::Ephemeral,
        Event::Presence(_) | Event::Subscription(_) | Event::Probe(_) => Class::Other,
    }
}

/// A content event as the message policy sees it: addresses and the text that crosses (the
/// body, or the readable fallback the other side shows).
fn as_message<'e, 'a>(e: &'e Event<'a>) -> Cow<'e, ChatMessage<'a>> {
    let text = |env: &crate::model::Envelope<'a>, t: String| {
        Cow::Owned(ChatMessage::plain(
            env.from.clone(),
            env.to.clone(),
            Cow::Owned(t),
        ))
    };
    match e {
        Event::Message(m) => Cow::Borrowed(m),
        Event::Correction(c) => Cow::Borrowed(&c.message),
        Event::Reaction(r) => text(&r.env, ext::reaction_text(r)),
        Event::Retraction(r) => text(&r.env, ext::RETRACTION_FALLBACK.to_owned()),
        Event::FileLink(f) => text(&f.env, ext::file_text(f)),
        Event::GroupInvite(g) => text(&g.env, ext::invite_text(g)),
        other => Cow::Owned(ChatMessage::plain(
            other.from().clone(),
            other.to().clone(),
            Cow::Borrowed(""),
        )),
    }
}

/// The sender's nick, for the external label.
fn nick<'e>(e: &'e Event<'_>) -> Option<&'e str> {
    match e {
        Event::Message(m) => m.nick.as_deref(),
        Event::Correction(c) => c.message.nick.as_deref(),
        _ => None,
    }
}

impl Gateway {
    /// Police `e`, arriving from `side`, by its class: content as a message (counted), notices
    /// and chat states by the same rules without counting or accepting.
    pub(super) fn police_event(&self, e: &Event<'_>, side: Side) -> Result<(), Refusal> {
        match class(e) {
            Class::Content => self.police(&as_message(e), side),
            Class::Notice | Class::Ephemeral => self.police_quiet(e.from(), e.to(), side),
            Class::Other => Err(Refusal::UserNotAllowed),
        }
    }

    /// The message decision without its effects on consent: an event that is not written by
    /// the user neither counts toward a stranger's limit nor accepts the recipient. It does
    /// take from the rate buckets (a flood of typing notifications is still a flood).
    fn police_quiet(
        &self,
        from: &Address<'_>,
        to: &Address<'_>,
        from_side: Side,
    ) -> Result<(), Refusal> {
        let (f, t) = (bare(&from.bare()), bare(&to.bare()));
        match self.decide(&f, &t, &from.domain, from_side, 0) {
            Decision::Refuse(r) => Err(r),
            Decision::Allow { .. } => Ok(()),
        }
    }

    /// Point the ids `e` refers to at the ones its recipient knows (receipts, reactions,
    /// corrections, retractions, replies, negative IMDN).
    fn map_references(&self, e: &mut Event<'_>) {
        let recipient = e.to().bare();
        let ids = &self.message_ids;
        let map = |id: &mut Cow<'_, str>, last: bool| {
            let origin = ids.origin(&recipient, id, last);
            if origin != **id {
                *id = Cow::Owned(origin);
            }
        };
        match e {
            Event::Receipt(r) => map(&mut r.for_id, r.kind == ReceiptKind::Displayed),
            Event::Reaction(r) => map(&mut r.to_id, false),
            Event::Retraction(r) => map(&mut r.retracts, false),
            Event::Correction(c) => {
                map(&mut c.replaces, false);
                if let Some(r) = &mut c.message.reply {
                    map(&mut r.id, false);
                }
            }
            Event::Message(m) => {
                if let Some(r) = &mut m.reply {
                    map(&mut r.id, false);
                }
            }
            Event::Error(x) => {
                if let Some(id) = &mut x.id {
                    map(id, false);
                }
            }
            _ => {}
        }
    }

    /// What the SIP peers of `domain` take: SIMPLE (CPIM, IMDN, isComposing, HTML) and the
    /// CPIM extension headers its `sip_extensions` names.
    fn sip_caps(&self, domain: &str) -> sip_out::SipPeerCaps {
        self.config()
            .domain(domain)
            .map(|d| d.sip_peer_caps())
            .unwrap_or_default()
    }

    /// A chat state that will not be delivered: counted, audited, logged at debug.
    fn chat_state_dropped(record: AuditRecord, why: &'static str) {
        debug!(
            reason = why,
            "chat state dropped: its peer is unreachable and chat states are not stored (XEP-0085)"
        );
        audit::emit(record.outcome(Outcome::Dropped, Some(why)));
    }

    // ---- SIP → XMPP -------------------------------------------------------------------------

    /// A page-mode MESSAGE that is not plain text (isComposing, IMDN, CPIM, HTML, multipart):
    /// its events, checked and relayed to XMPP. Answers the SIP transaction.
    pub(super) async fn relay_sip_events(
        self: &Arc<Self>,
        peer: &PeerCerts,
        req: &SipMessage,
    ) -> Status {
        let call_id = req.call_id().unwrap_or_default();
        let events = match bridge::sip_in::events_from_sip(req) {
            Ok(e) => e,
            Err(e) => {
                metrics::policy_refusal(Protocol::Sip, PolicyReason::Untranslatable);
                let (code, reason) = e.sip_status();
                return (code, Cow::Borrowed(reason));
            }
        };
        let Some(first) = events.first() else {
            // IMDN `processed` / `stored`: for intermediaries, nothing to tell XMPP.
            metrics::message(Direction::SipToXmpp, EventKind::Receipt, Outcome::Consumed);
            debug!(
                call_id,
                "IMDN processing notification answered, not relayed: XMPP has no counterpart"
            );
            return (200, Cow::Borrowed("OK"));
        };
        let refuse_all = |reason: PolicyReason| {
            for e in &events {
                let r = AuditRecord::event(Direction::SipToXmpp, e).session(call_id);
                audit::refuse(r, reason);
            }
        };
        let (from_domain, to_domain) = (first.from().domain.clone(), first.to().domain.clone());
        if !self.serves(&from_domain, Side::Sip) {
            refuse_all(PolicyReason::SenderDomainNotServed);
            return (403, Cow::Borrowed("Sender Domain Not Served Here"));
        }
        let sender = match auth::verify_certificate_for(Some(peer), &from_domain) {
            Ok(v) => v,
            Err(e) => {
                info!(sender.domain = %from_domain, error = %e, "SIP MESSAGE refused: peer not authenticated for the sender's domain");
                refuse_all(PolicyReason::PeerNotAuthenticated);
                return (
                    403,
                    Cow::Borrowed("Peer Not Authenticated For Sender Domain"),
                );
            }
        };
        if !self.serves(&to_domain, Side::Xmpp) {
            refuse_all(PolicyReason::RelayingDenied);
            return (403, Cow::Borrowed("Relaying Denied"));
        }
        let mut answer = (202, Cow::Borrowed("Accepted"));
        for e in events {
            // One MESSAGE carries one event; should it carry more, the first failure answers.
            let status = self.relay_sip_event(&sender, e, call_id).await;
            if answer.0 < 300 {
                answer = status;
            }
        }
        answer
    }

    async fn relay_sip_event(
        self: &Arc<Self>,
        sender: &VerifiedDomain,
        mut e: Event<'_>,
        call_id: &str,
    ) -> Status {
        let timer = metrics::translate_timer(Direction::SipToXmpp);
        let class = class(&e);
        let record = AuditRecord::event(Direction::SipToXmpp, &e).session(call_id);
        if class == Class::Other {
            audit::refuse(record, PolicyReason::Untranslatable);
            return (501, Cow::Borrowed("Not Implemented"));
        }
        if let Err(r) = self.police_event(&e, Side::Sip) {
            info!(
                reason = r.reason().as_str(),
                event = e.kind_name(),
                "SIP event refused by policy"
            );
            audit::refuse(record, r.reason());
            return r.sip_status();
        }
        self.map_references(&mut e);
        let mut id = self.new_id();
        let label = self.external_name(nick(&e), &e.from().local);
        let sender_bare = e.from().bare();
        // The stanza carries parley's id (an XMPP error finds this transaction by it) with the
        // SIP sender's own `imdn.Message-ID` after it, for the receipts that name it.
        let mut own_id = |env_id: &mut Option<Cow<'_, str>>, wants: ReceiptRequest| {
            if let Some(origin) = env_id.take() {
                id = self.message_ids.crossing(&sender_bare, &origin, &id, wants);
            }
        };
        match &mut e {
            Event::Message(m) => {
                own_id(&mut m.id, m.receipts);
                if let Some(l) = &label {
                    m.nick = Some(Cow::Owned(l.clone()));
                }
            }
            Event::Correction(c) => {
                own_id(&mut c.message.id, c.message.receipts);
                if let Some(l) = &label {
                    c.message.nick = Some(Cow::Owned(l.clone()));
                }
            }
            Event::Reaction(r) => own_id(&mut r.env.id, ReceiptRequest::default()),
            Event::Retraction(r) => own_id(&mut r.env.id, ReceiptRequest::default()),
            Event::FileLink(f) => own_id(&mut f.env.id, ReceiptRequest::default()),
            Event::GroupInvite(g) => own_id(&mut g.env.id, ReceiptRequest::default()),
            Event::ChatState(c) => c.env.id = None,
            Event::Receipt(r) => r.env.id = None,
            // A negative IMDN keeps the id of the message it is about.
            _ => {}
        }
        let mut out = BytesMut::with_capacity(512);
        if let Err(err) = bridge::xmpp_out::write_xmpp_event(&mut out, &e, &id) {
            audit::refuse(record, PolicyReason::Untranslatable);
            let (code, reason) = err.sip_status();
            return (code, Cow::Borrowed(reason));
        }
        drop(timer);
        let remote = e.to().domain.to_ascii_lowercase();
        let bytes = out.freeze();
        if class == Class::Ephemeral {
            self.chat_state_to_xmpp(sender, &remote, bytes, record);
            return (202, Cow::Borrowed("Accepted"));
        }
        let result = if self.spool_wanted(sender.as_str(), &remote) {
            self.spool_sip_message(e.from().bare(), e.to().bare(), bytes)
                .await
        } else {
            self.forward_to_xmpp(sender, &remote, id, bytes).await
        };
        audit::emit(record.sip_final(result.0));
        result
    }

    /// Hand a chat state to the s2s stream without holding the SIP transaction: dropped when
    /// the peer is known down, its queue is full, or it cannot be reached in time.
    fn chat_state_to_xmpp(
        self: &Arc<Self>,
        sender: &VerifiedDomain,
        remote: &str,
        bytes: Bytes,
        record: AuditRecord,
    ) {
        if self.spool_wanted(sender.as_str(), remote) {
            Self::chat_state_dropped(record, "peer_unreachable");
            return;
        }
        let (ack_tx, ack_rx) = tokio::sync::oneshot::channel();
        let queued = self.xmpp_out.send(
            self,
            sender.as_str(),
            remote,
            OutStanza::new(bytes, Some(ack_tx)),
        );
        if queued.is_err() {
            Self::chat_state_dropped(record, "queue_full");
            return;
        }
        let budget = Duration::from_millis(self.config().xmpp.delivery_timeout_ms);
        self.tracker.spawn(async move {
            match tokio::time::timeout(budget, ack_rx).await {
                Ok(Ok(Ok(()))) => audit::emit(record),
                _ => Self::chat_state_dropped(record, "peer_unreachable"),
            }
        });
    }

    // ---- XMPP → SIP -------------------------------------------------------------------------

    /// A message that is not plain (body-less notifications, receipts requested, rich text,
    /// reactions, corrections, retractions, replies, file links, invitations): its events,
    /// checked and relayed to SIP. The stream already checked the sender's domain against the
    /// peer (`peer`) and the recipient's against `local`.
    pub(super) async fn relay_xmpp_events(
        self: &Arc<Self>,
        peer: &VerifiedDomain,
        local: &str,
        m: &MessageView<'_>,
    ) {
        let events = match bridge::xmpp_in::events_from_message(m) {
            Ok(e) => e,
            Err(e) => {
                metrics::policy_refusal(Protocol::Xmpp, PolicyReason::Untranslatable);
                self.bounce_to_xmpp(
                    peer,
                    local,
                    m,
                    DeliveryError {
                        condition: e.xmpp_condition(),
                        text: Some(Cow::Borrowed(e.sip_status().1)),
                    },
                );
                return;
            }
        };
        if events.is_empty() {
            debug!("message with nothing to relay (no body, receipt or chat state)");
        }
        for e in events {
            self.relay_xmpp_event(peer, local, m, e).await;
        }
    }

    async fn relay_xmpp_event(
        self: &Arc<Self>,
        peer: &VerifiedDomain,
        local: &str,
        m: &MessageView<'_>,
        mut e: Event<'_>,
    ) {
        let timer = metrics::translate_timer(Direction::XmppToSip);
        let class = class(&e);
        let record = AuditRecord::event(Direction::XmppToSip, &e);
        if class == Class::Other {
            audit::refuse(record, PolicyReason::Untranslatable);
            return;
        }
        if let Err(r) = self.police_event(&e, Side::Xmpp) {
            info!(
                reason = r.reason().as_str(),
                event = e.kind_name(),
                "XMPP event refused by policy"
            );
            audit::refuse(record, r.reason());
            if class != Class::Ephemeral {
                let text = Some(Cow::Borrowed(r.text()));
                let condition = r.xmpp_condition();
                self.bounce_to_xmpp(peer, local, m, DeliveryError { condition, text });
            }
            return;
        }
        // `gone` ends the pair's IM session with BYE (routing/sip_session.rs).
        if matches!(&e, Event::ChatState(c) if c.state == Typing::Gone)
            && self.xmpp_session_state(m)
        {
            audit::emit(record);
            return;
        }
        self.map_references(&mut e);
        let label = self.external_name(nick(&e), &e.from().local);
        let id = self.new_id();
        let branch = format!("z9hG4bK{id}");
        let now = audit::format_time(std::time::SystemTime::now());
        let boundary = format!("parley-{id}");
        let contact = format!("sip:{}", self.sip_sent_by);
        let o = sip_out::SipOut {
            req: bridge::sip::RequestContext {
                transport: "TLS",
                sent_by: &self.sip_sent_by,
                branch: &branch,
                from_tag: &id,
                fallback_call_id: &id,
                cseq: 1,
            },
            caps: self.sip_caps(local),
            call_id: None,
            to_tag: None,
            contact: &contact,
            expires: 0,
            now: &now,
            boundary: &boundary,
        };
        let mut out = BytesMut::with_capacity(1024);
        match sip_out::write_sip_event_as(&mut out, &e, &o, label.as_deref()) {
            Ok(n) if n > 0 => {}
            Ok(_) => {
                // The SIP peer takes no such event (only when its capabilities say so).
                audit::refuse(record, PolicyReason::Untranslatable);
                return;
            }
            Err(err) => {
                audit::refuse(record, PolicyReason::Untranslatable);
                if class != Class::Ephemeral {
                    self.bounce_to_xmpp(
                        peer,
                        local,
                        m,
                        DeliveryError {
                            condition: err.xmpp_condition(),
                            text: Some(Cow::Borrowed(err.sip_status().1)),
                        },
                    );
                }
                return;
            }
        }
        let record = record.session(&id);
        let request = out.freeze();
        // A SIP user in an IM session gets the event inside the dialog (routing/sip_session.rs).
        let (opens, bounce) = (class == Class::Content, class != Class::Ephemeral);
        if self.xmpp_event_to_session(peer, local, m, &request, opens, bounce) {
            audit::emit(record);
            return;
        }
        if class == Class::Ephemeral {
            self.chat_state_to_sip(peer, local, request, branch, record);
            return;
        }
        let pair = (e.from().bare(), e.to().bare());
        drop(timer);
        self.deliver_to_sip(peer, local, m, record, request, branch, pair)
            .await;
    }

    /// A chat state to SIP: not spooled; dropped when earlier messages of the pair wait in the
    /// spool (the peer is unreachable) or the request fails.
    fn chat_state_to_sip(
        self: &Arc<Self>,
        peer: &VerifiedDomain,
        local: &str,
        request: Bytes,
        branch: String,
        record: AuditRecord,
    ) {
        if self.spool_pending(peer.as_str(), local) {
            Self::chat_state_dropped(record, "peer_unreachable");
            return;
        }
        let final_rx = self
            .sip_out
            .request(self, peer.as_str(), local, request, branch);
        self.tracker.spawn(async move {
            match final_rx.await {
                Ok(f) if f.code < 300 => audit::emit(record.sip_final(f.code)),
                Ok(f) if super::spool::transient_local(&f) => {
                    Self::chat_state_dropped(record, "peer_unreachable")
                }
                // The peer answered with an error: a bounce, but XMPP gets none for a chat
                // state (nothing waits for it).
                Ok(f) => audit::emit(record.sip_final(f.code)),
                Err(_) => Self::chat_state_dropped(record, "peer_unreachable"),
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ChatStateEvent, Envelope, MessageKind, Reaction, Receipt, Typing};

    fn addr(l: &'static str, d: &'static str) -> Address<'static> {
        Address {
            local: Cow::Borrowed(l),
            domain: Cow::Borrowed(d),
            resource: None,
        }
    }

    fn env() -> Envelope<'static> {
        Envelope {
            from: addr("alice", "sip.test"),
            to: addr("juliet", "xmpp.test"),
            id: None,
            thread: None,
            kind: MessageKind::Chat,
        }
    }

    #[test]
    fn typing_and_receipts_are_not_content() {
        let typing = Event::ChatState(ChatStateEvent {
            env: env(),
            state: Typing::Composing,
            refresh: None,
        });
        let receipt = Event::Receipt(Receipt {
            env: env(),
            kind: ReceiptKind::Delivered,
            for_id: Cow::Borrowed("m1"),
            datetime: None,
        });
        let reaction = Event::Reaction(Reaction {
            env: env(),
            to_id: Cow::Borrowed("m1"),
            emoji: vec![Cow::Borrowed("👍")],
        });
        assert_eq!(class(&typing), Class::Ephemeral);
        assert_eq!(class(&receipt), Class::Notice);
        assert_eq!(class(&reaction), Class::Content);
    }

    #[test]
    fn a_reaction_is_policed_as_its_readable_text() {
        let reaction = Event::Reaction(Reaction {
            env: env(),
            to_id: Cow::Borrowed("m1"),
            emoji: vec![Cow::Borrowed("👍")],
        });
        let m = as_message(&reaction);
        assert_eq!(m.from.local, "alice");
        assert_eq!(m.to.local, "juliet");
        assert!(m.body.contains('👍'), "{}", m.body);
    }
}
