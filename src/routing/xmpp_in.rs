//! Stanzas arriving on authenticated inbound s2s streams (RFC 6120 §8, RFC 6121 §5): messages
//! are relayed to SIP, error replies settle SIP→XMPP messages waiting for their fate.

use std::borrow::Cow;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use tracing::{Instrument, debug, info, warn};

use super::log_gate::LogGate;
use super::{Gateway, xmpp_iq};
use crate::audit::{self, AuditRecord};
use crate::auth::VerifiedDomain;
use crate::bridge::{self, BridgeError};
use crate::conn::xmpp_pool::OutStanza;
use crate::metrics::{self, Direction, EventKind, ParseReason, PolicyReason, Protocol};
use crate::model::DeliveryError;
use crate::xmpp::jid::Jid;
use crate::xmpp::stanza::IqView;
use crate::xmpp::stanza::{Element, MessageType, MessageView};
use crate::xmpp::{MarkedElement, StreamCondition, StreamHeader};

/// What the connection does after the router handled an element.
#[derive(Debug)]
pub enum Inbound {
    /// Nothing more.
    Done,
    /// Write this answer back on the same stream (dialback verification, XEP-0220 §2.3).
    Reply(BytesMut),
    /// Verify another domain pair by dialback and answer with `db:result` (XEP-0220 §2.5).
    Piggyback {
        /// Our domain.
        local: String,
        /// The domain the peer claims.
        remote: String,
        /// Its dialback key.
        key: String,
    },
}

impl Gateway {
    /// Handle one element from a peer authenticated as `peer`, on a stream addressed to
    /// `local`. `Ok(Some(bytes))` is an answer to write back on the same stream (dialback
    /// verification, XEP-0220 §2.3). An `Err` is a stream error: the caller sends it and closes
    /// the stream.
    pub async fn xmpp_inbound(
        self: &Arc<Self>,
        pairs: &[(String, VerifiedDomain)],
        header: &StreamHeader,
        element: MarkedElement,
    ) -> Result<Inbound, StreamCondition> {
        // The framer's marks travel with the element: it is not tokenized a second time.
        let parsed = element
            .parse(header)
            .map_err(|e| metrics::xmpp_parse_failed(&e))?;
        let (from, to) = match &parsed {
            Element::Message(m) => (m.from.as_deref(), m.to.as_deref()),
            Element::Iq(iq) => (iq.from.as_deref(), iq.to.as_deref()),
            Element::Presence(p) => (p.from.as_deref(), p.to.as_deref()),
            Element::DbVerify(d) => {
                let mut out = BytesMut::with_capacity(160);
                crate::conn::dialback::answer_verify(&mut out, self, d);
                return Ok(Inbound::Reply(out));
            }
            // XEP-0220 §2.5: another domain pair on this stream.
            Element::DbResult(d) if d.type_.is_none() => {
                return Ok(Inbound::Piggyback {
                    local: d.to.as_deref().unwrap_or_default().to_ascii_lowercase(),
                    remote: d.from.as_deref().unwrap_or_default().to_ascii_lowercase(),
                    key: d.key.clone().into_owned(),
                });
            }
            // RFC 6120 §4.9.3.24: a first-level child that is no stanza ends the stream.
            Element::Unknown { .. } => {
                metrics::parse_error(Protocol::Xmpp, ParseReason::Xml);
                return Err(StreamCondition::UnsupportedStanzaType);
            }
            _ => {
                debug!("element ignored");
                return Ok(Inbound::Done);
            }
        };
        // RFC 6120 §13.7.1.2 / §8.1.2.1: the sender must be in a domain the peer proved, and
        // the recipient in the local domain it proved it for.
        let from = from.and_then(|f| Jid::parse(f).ok()).ok_or_else(|| {
            metrics::parse_error(Protocol::Xmpp, ParseReason::Address);
            StreamCondition::InvalidFrom
        })?;
        if !pairs
            .iter()
            .any(|(_, p)| from.domain().eq_ignore_ascii_case(p.as_str()))
        {
            warn!(claimed = %from.domain(), "stanza from a domain the peer did not authenticate for");
            metrics::policy_refusal(Protocol::Xmpp, PolicyReason::PeerNotAuthenticated);
            return Err(StreamCondition::InvalidFrom);
        }
        let to = to.and_then(|t| Jid::parse(t).ok()).ok_or_else(|| {
            metrics::parse_error(Protocol::Xmpp, ParseReason::Address);
            StreamCondition::ImproperAddressing
        })?;
        let Some((local, peer)) = pairs.iter().find(|(l, p)| {
            to.domain().eq_ignore_ascii_case(l) && from.domain().eq_ignore_ascii_case(p.as_str())
        }) else {
            metrics::policy_refusal(Protocol::Xmpp, PolicyReason::RelayingDenied);
            return Err(StreamCondition::HostUnknown);
        };
        let local = local.as_str();
        let m = match parsed {
            Element::Message(m) => m,
            // Presence and subscriptions: routing/presence.rs (RFC 6665 dialogs).
            Element::Presence(p) => {
                self.xmpp_presence_in(&p);
                return Ok(Inbound::Done);
            }
            Element::Iq(iq) => {
                self.answer_iq(
                    peer,
                    local,
                    &iq,
                    to.local().is_none() && to.resource().is_none(),
                );
                return Ok(Inbound::Done);
            }
            _ => return Ok(Inbound::Done),
        };
        if m.type_ == MessageType::Error {
            self.settle_bounce(&m);
            return Ok(Inbound::Done);
        }
        // Plain messages take the fast path; everything else (body-less notifications,
        // receipts asked for, rich text, reactions, corrections, …) the event path
        // (routing/events.rs), through the same checks.
        if needs_event_path(&m) {
            self.relay_xmpp_events(peer, local, &m).await;
            return Ok(Inbound::Done);
        }
        match bridge::xmpp::message_from_xmpp(&m) {
            Ok(msg) => match self.police(&msg, crate::config::Side::Xmpp) {
                Ok(()) => {
                    if !self.xmpp_to_session(peer, local, &m) {
                        self.relay_to_sip(peer, local, &m, &msg).await
                    }
                }
                Err(r) => {
                    info!(
                        reason = r.reason().as_str(),
                        "XMPP message refused by policy"
                    );
                    audit::refuse(AuditRecord::im(Direction::XmppToSip, &msg), r.reason());
                    let text = Some(Cow::Borrowed(r.text()));
                    let condition = r.xmpp_condition();
                    self.bounce_to_xmpp(peer, local, &m, DeliveryError { condition, text })
                }
            },
            // Chat states and receipts without a body (the event path; `gone` may end an IM
            // session there, after the receipts the stanza also carries).
            Err(BridgeError::EmptyBody) => self.relay_xmpp_events(peer, local, &m).await,
            Err(e) => {
                metrics::policy_refusal(Protocol::Xmpp, PolicyReason::Untranslatable);
                self.bounce_to_xmpp(
                    peer,
                    local,
                    &m,
                    DeliveryError {
                        condition: e.xmpp_condition(),
                        text: Some(Cow::Borrowed(e.sip_status().1)),
                    },
                )
            }
        }
        Ok(Inbound::Done)
    }

    fn answer_iq(
        self: &Arc<Self>,
        peer: &VerifiedDomain,
        local: &str,
        iq: &IqView<'_>,
        to_domain: bool,
    ) {
        let answer = xmpp_iq::decide(iq, to_domain, self.config().xmpp.answer_version);
        if answer == xmpp_iq::IqAnswer::None {
            return;
        }
        let (from, to, id) = (
            iq.from.as_deref().unwrap_or_default(),
            iq.to.as_deref().unwrap_or_default(),
            iq.id.as_deref().unwrap_or_default(),
        );
        let mut out = BytesMut::with_capacity(256);
        xmpp_iq::write(&mut out, answer, from, to, id);
        if let Err(e) = self.xmpp_out.send(
            self,
            local,
            peer.as_str(),
            OutStanza::new(out.freeze(), None),
        ) {
            warn!(error = ?e, "could not queue an iq answer");
        }
    }

    fn settle_bounce(&self, m: &MessageView<'_>) {
        let Some(id) = m.id.as_deref() else { return };
        let err = bridge::xmpp::delivery_error(m);
        let mut record = AuditRecord::new(
            Direction::XmppToSip,
            EventKind::Error,
            bare_jid(m.from.as_deref()),
            bare_jid(m.to.as_deref()),
        );
        record.bytes = err.text.as_deref().map_or(0, str::len);
        match self.bounces.remove(id) {
            Some((_, waiter)) => {
                audit::emit(record);
                let owned = DeliveryError {
                    condition: err.condition,
                    text: err.text.map(|t| Cow::Owned(t.into_owned())),
                };
                let _ = waiter.send(owned);
            }
            None => {
                info!(stanza.id = %id, condition = err.condition.as_str(), "XMPP error for a message already answered");
                audit::refuse(record, PolicyReason::Untranslatable);
            }
        }
    }

    async fn relay_to_sip(
        self: &Arc<Self>,
        peer: &VerifiedDomain,
        local: &str,
        m: &MessageView<'_>,
        msg: &crate::model::ChatMessage<'_>,
    ) {
        let timer = metrics::translate_timer(Direction::XmppToSip);
        let id = self.new_id();
        let record = AuditRecord::im(Direction::XmppToSip, msg).session(&id);
        let branch = format!("z9hG4bK{id}");
        let mut out = BytesMut::with_capacity(512 + msg.body.len());
        let ctx = bridge::sip::RequestContext {
            transport: "TLS",
            sent_by: &self.sip_sent_by,
            branch: &branch,
            from_tag: &id,
            fallback_call_id: &id,
            cseq: 1,
        };
        // The From display name: the XEP-0172 nick (the fast path reads only the RFC 6121
        // fields), and the external label so the SIP user sees the XMPP sender as external.
        let nick = msg.nick.as_deref().or(m.nick.as_deref());
        let named;
        let msg = match self.external_name(nick, &msg.from.local) {
            Some(name) => {
                named = crate::model::ChatMessage {
                    nick: Some(Cow::Owned(name)),
                    ..msg.clone()
                };
                &named
            }
            None if msg.nick.is_none() && m.nick.is_some() => {
                named = crate::model::ChatMessage {
                    nick: m.nick.clone(),
                    ..msg.clone()
                };
                &named
            }
            None => msg,
        };
        bridge::sip_out::write_plain_message(&mut out, msg, &ctx);
        let request = out.freeze();
        let bare = (msg.from.bare(), msg.to.bare());
        drop(timer);
        self.deliver_to_sip(peer, local, m, record, request, branch, bare)
            .await;
    }

    /// Send a translated MESSAGE (a message, or an event delivered like one) to the SIP peer:
    /// spooled when earlier ones of the pair wait or the peer cannot be reached, an XMPP error
    /// to the sender when the SIP side answers ≥ 300. While the peer's queue is full this
    /// waits, at most `connections.queue_wait_ms` (the inbound stream reads no further).
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn deliver_to_sip(
        self: &Arc<Self>,
        peer: &VerifiedDomain,
        local: &str,
        m: &MessageView<'_>,
        record: AuditRecord,
        request: Bytes,
        branch: String,
        bare: (String, String),
    ) {
        let record_session = record.session.clone();
        let reply = ErrorReply::of(m);
        // Spooled when it cannot be delivered now (routing/spool.rs).
        let leg = crate::store::ToSip {
            branch: branch.clone(),
            sender: reply.from.clone(),
            recipient: reply.to.clone(),
            stanza_id: reply.id.clone(),
        };
        if self.spool_pending(peer.as_str(), local) {
            let gw = self.clone();
            self.tracker.spawn(async move {
                let _ = gw.spool_xmpp_message(bare.0, bare.1, request, leg).await;
            });
            return;
        }
        let final_rx = self
            .sip_out
            .request_waiting(
                self,
                peer.as_str(),
                local,
                request.clone(),
                branch,
                self.config().queue_wait(),
            )
            .await;
        let (gw, peer, local) = (self.clone(), peer.clone(), local.to_owned());
        self.tracker.spawn(
            async move {
                let Ok(f) = final_rx.await else { return };
                audit::emit(record.sip_final(f.code));
                debug!(code = f.code, "SIP MESSAGE final response");
                if super::spool::transient_local(&f) && gw.spool_started() {
                    let _ = gw.spool_xmpp_message(bare.0, bare.1, request, leg).await;
                    return;
                }
                if super::police::refuses_consent(f.code) {
                    // The SIP recipient declined the XMPP sender (routing/police.rs).
                    gw.consent_refused(&bare.1, &bare.0);
                }
                if f.code >= 300 {
                    let condition = bridge::sip::status_to_condition(f.code);
                    let mut error = AuditRecord::new(
                        Direction::SipToXmpp,
                        EventKind::Error,
                        bare_jid(Some(&reply.to)),
                        bare_jid(Some(&reply.from)),
                    );
                    error.bytes = f.reason.len();
                    audit::emit(error.session(&record_session));
                    reply.send(
                        &gw,
                        &peer,
                        &local,
                        DeliveryError {
                            condition,
                            text: Some(Cow::Owned(f.reason)),
                        },
                    );
                }
            }
            .in_current_span(),
        );
    }

    pub(super) fn bounce_to_xmpp(
        self: &Arc<Self>,
        peer: &VerifiedDomain,
        local: &str,
        m: &MessageView<'_>,
        err: DeliveryError<'_>,
    ) {
        ErrorReply::of(m).send(self, peer, local, err);
    }
}

/// Whether a message carries more than the plain fast path maps (RFC 6121 fields and a
/// chat state the body implies, `bridge::xmpp_in`): then it takes the event path.
fn needs_event_path(m: &MessageView<'_>) -> bool {
    use crate::xmpp::stanza::ChatState;
    m.receipt_request
        || matches!(m.chat_state, Some(ChatState::Composing | ChatState::Gone))
        || m.receipt_received.is_some()
        || m.marker.is_some()
        || m.xhtml.is_some()
        || m.reactions.is_some()
        || m.replace_id.is_some()
        || m.retract_id.is_some()
        || m.reply.is_some()
        || m.oob.is_some()
        || m.children()
            .any(|c| c.ns == bridge::ext::CONFERENCE && c.name == "x")
}

/// A JID without its resource, for the audit log (empty when absent).
fn bare_jid(jid: Option<&str>) -> String {
    let j = jid.unwrap_or_default();
    j.split_once('/').map_or(j, |(bare, _)| bare).to_owned()
}

/// What is needed to answer a message with an error after its view is gone.
struct ErrorReply {
    from: String,
    to: String,
    id: Option<String>,
}

impl ErrorReply {
    fn of(m: &MessageView<'_>) -> ErrorReply {
        ErrorReply {
            from: m.from.as_deref().unwrap_or_default().to_owned(),
            to: m.to.as_deref().unwrap_or_default().to_owned(),
            id: m.id.as_deref().map(str::to_owned),
        }
    }

    fn send(&self, gw: &Arc<Gateway>, peer: &VerifiedDomain, local: &str, err: DeliveryError<'_>) {
        metrics::error_sent(Protocol::Xmpp, err.condition);
        let mut out = BytesMut::with_capacity(256);
        bridge::xmpp::write_message_error(&mut out, &self.from, &self.to, self.id.as_deref(), &err);
        gw.queue_xmpp_reply(local, peer.as_str(), out.freeze());
    }
}

impl Gateway {
    /// Queue an error stanza from `local` towards an XMPP sender's domain `remote`. One the
    /// sender's peer cannot take now (its queue is full) is counted, and logged at most once
    /// a second: under overload this happens once per message.
    pub(super) fn queue_xmpp_reply(self: &Arc<Self>, local: &str, remote: &str, bytes: Bytes) {
        static UNSENT: LogGate = LogGate::new();
        let stanza = OutStanza::new(bytes, None);
        if let Err(e) = self.xmpp_out.send(self, local, remote, stanza) {
            metrics::reply_unsent(Protocol::Xmpp);
            if let Some(held_back) = UNSENT.pass(super::spool::unix_now()) {
                warn!(error = ?e, held_back, "could not queue an XMPP error reply");
            }
        }
    }
}
