//! Requests arriving from SIP peers (RFC 3261 §8.2, RFC 3428): MESSAGE is relayed to XMPP,
//! OPTIONS answered, INVITE/BYE/CANCEL and in-dialog MESSAGE go to the session-mode IM
//! dialogs ([`super::sip_session`]), everything else is refused with 405.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::sync::oneshot;
use tracing::{debug, info};

use super::Gateway;
use crate::audit::{self, AuditRecord};
use crate::auth::{self, VerifiedDomain};
use crate::bridge::{self, BridgeError};
use crate::config::Side;
use crate::conn::sip_conn::PeerCerts;
use crate::conn::xmpp_pool::{OutStanza, QueueError};
use crate::metrics::{self, Direction, PolicyReason, Protocol};
use crate::model::ErrorCondition;
use crate::sip::SipMessage;
use crate::sip::encode;
use crate::sip::message::Method;
use crate::sip::transaction::Timers;

/// Methods parley accepts, for `Allow`.
const ALLOW: &str = "INVITE, ACK, BYE, CANCEL, MESSAGE, OPTIONS, SUBSCRIBE, NOTIFY";

/// A final response to write: status, reason, To tag (a fresh one when none) and `Expires`.
struct Answer {
    status: Status,
    to_tag: Option<String>,
    expires: Option<u32>,
    /// The 2xx to an INVITE: SDP answer and Contact (Record-Route is copied).
    session: Option<super::sip_session::SessionAnswer>,
    /// One more header field (`Min-Expires` of a 423, `Retry-After` of a 503).
    header: Option<(&'static str, String)>,
}

impl From<Status> for Answer {
    fn from(status: Status) -> Answer {
        Answer {
            status,
            to_tag: None,
            expires: None,
            session: None,
            header: None,
        }
    }
}

type Status = (u16, Cow<'static, str>);

impl Gateway {
    /// The transaction timers (RFC 3261 §17.1.1.1), Timer F as configured.
    pub fn sip_timers(&self) -> Timers {
        Timers::with_timeout(Duration::from_millis(
            self.config().sip.transaction_timeout_ms,
        ))
    }

    /// The UDP transport parley sends requests on (the first bound socket).
    pub fn sip_udp_attach(&self, tx: tokio::sync::mpsc::Sender<crate::conn::sip_udp::UdpOut>) {
        self.sip_out.attach_udp(tx);
    }

    /// The outbound SIP pool.
    pub(crate) fn sip_out_pool(&self) -> &crate::conn::sip_pool::SipPool {
        &self.sip_out
    }

    /// Handle one request; returns the status and the response to send (none for ACK).
    pub async fn sip_request(
        self: &Arc<Self>,
        peer: &PeerCerts,
        req: &SipMessage,
    ) -> Option<(u16, Bytes)> {
        let method = req.method()?;
        if method == Method::Ack {
            self.sip_session_ack(peer, req);
            return None;
        }
        // RFC 3261 §16.3 step 3 / §8.2: a request with no hops left is not forwarded on.
        // RFC 3261 §8.2.2.3: no option-tag is supported, so any Require is refused.
        let unsupported: Vec<&str> = req.unsupported_requires(&[]).collect();
        let answer = if let Ok(Some(0)) = req.max_forwards() {
            metrics::policy_refusal(Protocol::Sip, PolicyReason::TooManyHops);
            Answer::from((483, Cow::Borrowed("Too Many Hops")))
        } else if !unsupported.is_empty() && method != Method::Cancel {
            metrics::parse_error(Protocol::Sip, metrics::ParseReason::Unsupported);
            Answer::from((420, Cow::Borrowed("Bad Extension")))
        } else {
            self.sip_dispatch(peer, req, method).await
        };
        let (code, reason) = answer.status;
        metrics::sip_response_sent(code);
        let mut out = BytesMut::with_capacity(512);
        let tag = answer.to_tag.unwrap_or_else(|| self.new_id());
        let expires = answer.expires.map(|e| e.to_string());
        let unsupported = unsupported.join(", ");
        let mut extra = vec![("Allow", ALLOW)];
        if code == 420 {
            extra.push(("Unsupported", &unsupported));
        }
        if let Some((name, value)) = &answer.header {
            extra.push((name, value));
        }
        // RFC 3261 §12.1.1: the 2xx that makes a subscription dialog copies Record-Route, so
        // the watcher's refreshes and unsubscribe take the proxies' path.
        let subscribe_routes = if expires.is_some() && code / 100 == 2 {
            super::sip_session::record_route_values(req)
        } else {
            Vec::new()
        };
        let contact;
        if let Some(e) = &expires {
            contact = format!("<sip:{};transport=tls>", self.sip_sent_by);
            extra.push(("Expires", e));
            extra.extend(
                subscribe_routes
                    .iter()
                    .map(|r| ("Record-Route", r.as_str())),
            );
            extra.push(("Contact", &contact));
        }
        let (session_contact, record_routes);
        let mut body: &[u8] = b"";
        if let Some(s) = &answer.session {
            session_contact = format!(
                "<sip:{}@{};transport=tls>",
                s.contact_user, self.sip_sent_by
            );
            record_routes = super::sip_session::record_route_values(req);
            extra.extend(record_routes.iter().map(|r| ("Record-Route", r.as_str())));
            extra.push(("Contact", &session_contact));
            extra.push(("Content-Type", "application/sdp"));
            body = s.sdp.as_bytes();
        }
        encode::write_response(&mut out, req, code, &reason, Some(&tag), &extra, body);
        Some((code, out.freeze()))
    }

    async fn sip_dispatch(
        self: &Arc<Self>,
        peer: &PeerCerts,
        req: &SipMessage,
        method: Method<'_>,
    ) -> Answer {
        match method {
            Method::Message => {
                // Boxed where rare, so the future of every request stays small (it is moved
                // into a task of its own).
                let in_session = match self.session_message_check(req) {
                    Err(status) => return status.into(),
                    Ok(r) => r.map(Box::new),
                };
                match &in_session {
                    Some(r) if !is_plain(r) => {
                        Box::pin(self.session_rich_message(peer, r)).await.into()
                    }
                    Some(r) => Box::pin(self.relay_sip_message(peer, r)).await.into(),
                    None => self.relay_sip_message(peer, req).await.into(),
                }
            }
            Method::Invite => {
                let a = self.sip_invite(peer, req);
                Answer {
                    status: a.status,
                    to_tag: a.to_tag,
                    expires: None,
                    session: a.session,
                    header: None,
                }
            }
            Method::Bye => self.sip_bye(peer, req).into(),
            Method::Cancel => self.sip_cancel(req).into(),
            Method::Options => (200, Cow::Borrowed("OK")).into(),
            Method::Subscribe => {
                let a = self.sip_subscribe(peer, req);
                Answer {
                    status: (a.code, a.reason),
                    to_tag: a.to_tag,
                    expires: a.expires,
                    session: None,
                    header: a.header,
                }
            }
            Method::Notify => self.authenticated_notify(peer, req).into(),
            _ => (405, Cow::Borrowed("Method Not Allowed")).into(),
        }
    }

    /// A NOTIFY is taken only from a peer authenticated for the notifier's domain.
    fn authenticated_notify(self: &Arc<Self>, peer: &PeerCerts, req: &SipMessage) -> Status {
        let domain = req
            .from()
            .ok()
            .and_then(|f| bridge::address::from_sip_uri(f.uri).ok())
            .map(|a| a.domain.into_owned());
        match domain {
            Some(d) if auth::verify_certificate_for(Some(peer), &d).is_ok() => self.sip_notify(req),
            Some(_) => (
                403,
                Cow::Borrowed("Peer Not Authenticated For Sender Domain"),
            ),
            None => (400, Cow::Borrowed("Bad From")),
        }
    }

    async fn relay_sip_message(self: &Arc<Self>, peer: &PeerCerts, req: &SipMessage) -> Status {
        let timer = metrics::translate_timer(Direction::SipToXmpp);
        let mut token = bridge::sip::ThreadToken::default();
        let msg = match bridge::sip::message_from_sip_in(req, &mut token) {
            Ok(m) => m,
            // isComposing, IMDN, CPIM, HTML, multipart: the event path (routing/events.rs).
            Err(BridgeError::UnsupportedMediaType | BridgeError::EmptyBody) => {
                drop(timer);
                return Box::pin(self.relay_sip_events(peer, req)).await;
            }
            Err(e) => {
                metrics::policy_refusal(Protocol::Sip, PolicyReason::Untranslatable);
                return status(e.sip_status());
            }
        };
        let record =
            AuditRecord::im(Direction::SipToXmpp, &msg).session(req.call_id().unwrap_or_default());
        if !self.serves(&msg.from.domain, Side::Sip) {
            audit::refuse(record, PolicyReason::SenderDomainNotServed);
            return (403, Cow::Borrowed("Sender Domain Not Served Here"));
        }
        let sender = match auth::verify_certificate_for(Some(peer), &msg.from.domain) {
            Ok(v) => v,
            Err(e) => {
                info!(sender.domain = %msg.from.domain, error = %e, "SIP MESSAGE refused: peer not authenticated for the sender's domain");
                audit::refuse(record, PolicyReason::PeerNotAuthenticated);
                return (
                    403,
                    Cow::Borrowed("Peer Not Authenticated For Sender Domain"),
                );
            }
        };
        if !self.serves(&msg.to.domain, Side::Xmpp) {
            audit::refuse(record, PolicyReason::RelayingDenied);
            return (403, Cow::Borrowed("Relaying Denied"));
        }
        if let Err(r) = self.police(&msg, Side::Sip) {
            info!(
                reason = r.reason().as_str(),
                "SIP MESSAGE refused by policy"
            );
            audit::refuse(record, r.reason());
            return r.sip_status();
        }
        let id = self.new_id();
        let mut out = BytesMut::with_capacity(256 + msg.body.len());
        // External marking: the XMPP user sees the SIP sender as external (XEP-0172 nick);
        // the stanza keeps parley's id so a bounce finds this transaction.
        match self.external_name(msg.nick.as_deref(), &msg.from.local) {
            Some(name) => {
                let labelled = crate::model::ChatMessage {
                    nick: Some(Cow::Owned(name)),
                    id: None,
                    ..msg.clone()
                };
                bridge::xmpp_out::write_xmpp_message(&mut out, &labelled, None, &id);
            }
            None => bridge::xmpp::write_message(&mut out, &msg, &id),
        }
        let remote = msg.to.domain.to_string();
        drop(timer);
        let result = if self.spool_wanted(sender.as_str(), &remote) {
            let (from, to) = (msg.from.bare(), msg.to.bare());
            Box::pin(self.spool_sip_message(from, to, out.freeze())).await
        } else {
            self.forward_to_xmpp(&sender, &remote, id, out.freeze())
                .await
        };
        audit::emit(record.sip_final(result.0));
        result
    }

    /// Hand a stanza to the outbound stream and wait for its fate: written (then a short
    /// window for the peer's error reply), or failed.
    pub(super) async fn forward_to_xmpp(
        self: &Arc<Self>,
        sender: &VerifiedDomain,
        remote: &str,
        id: String,
        bytes: Bytes,
    ) -> Status {
        let (bounce_tx, bounce_rx) = oneshot::channel();
        self.bounces.insert(id.clone(), bounce_tx);
        let (ack_tx, ack_rx) = oneshot::channel();
        let stanza = OutStanza::new(bytes, Some(ack_tx));
        // A burst is absorbed as latency; a peer that stays behind is reported to the sender.
        let wait = self.config().queue_wait();
        let queued = (self.xmpp_out)
            .send_waiting(self, sender.as_str(), remote, stanza, wait)
            .await;
        let result = match queued {
            Err(QueueError::Full) => (503, Cow::Borrowed("Queue Full")),
            Err(QueueError::Closed) => (503, Cow::Borrowed("Shutting Down")),
            Ok(()) => {
                // Queued in order: the sender's next message may follow while this one waits
                // for its confirmation.
                crate::conn::dialog_order::pass_turn();
                self.await_delivery(ack_rx, bounce_rx).await
            }
        };
        self.bounces.remove(&id);
        debug!(stanza.id = %id, code = result.0, "SIP MESSAGE relayed");
        result
    }

    async fn await_delivery(
        &self,
        ack: oneshot::Receiver<Result<(), ErrorCondition>>,
        mut bounce: oneshot::Receiver<crate::model::DeliveryError<'static>>,
    ) -> Status {
        let budget = Duration::from_millis(self.config().sip.transaction_timeout_ms * 3 / 4);
        match tokio::time::timeout(budget, ack).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(condition))) => return status(bridge::sip::condition_to_status(condition)),
            Ok(Err(_)) => return (503, Cow::Borrowed("Service Unavailable")),
            Err(_) => return (408, Cow::Borrowed("Request Timeout")),
        }
        // With delivery confirmation the ack means the peer answered a ping sent after the
        // stanza; it answers on the stream its error replies come on, in order, so an error
        // for the stanza has been read already. Without it, give the peer a short window.
        let bounced = if self.config().xmpp.confirm_delivery {
            bounce.try_recv().ok()
        } else {
            let window = Duration::from_millis(self.config().sip.bounce_window_ms);
            tokio::time::timeout(window, bounce)
                .await
                .ok()
                .and_then(Result::ok)
        };
        match bounced {
            Some(err) => {
                let (code, default_reason) = bridge::sip::condition_to_status(err.condition);
                let reason = err
                    .text
                    .as_deref()
                    .map(reason_phrase)
                    .unwrap_or(Cow::Borrowed(default_reason));
                (code, Cow::Owned(reason.into_owned()))
            }
            None => (202, Cow::Borrowed("Accepted")),
        }
    }
}

/// A MESSAGE body the page-mode path takes: text/plain, or no Content-Type (RFC 3428 §9).
fn is_plain(req: &SipMessage) -> bool {
    match req.content_type() {
        Ok(Some(ct)) => {
            ct.type_.eq_ignore_ascii_case("text") && ct.subtype.eq_ignore_ascii_case("plain")
        }
        Ok(None) => true,
        Err(_) => false,
    }
}

fn status((code, reason): (u16, &'static str)) -> Status {
    (code, Cow::Borrowed(reason))
}

/// RFC 3261 §25.1 reason phrases: one line of printable text, bounded.
fn reason_phrase(text: &str) -> Cow<'_, str> {
    let clean = |c: char| !c.is_control();
    if text.len() <= 128 && text.chars().all(clean) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(text.chars().filter(|c| clean(*c)).take(128).collect())
}
