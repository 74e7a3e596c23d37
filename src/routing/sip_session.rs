//! Session-mode IM (RFC 3261 §12–§15 INVITE dialogs whose SDP offers `m=message <port> sip
//! <uri>`, the way Skype for Business / Lync federation sets up IM; RFC 3428 MESSAGE inside
//! the dialog). MSRP is not offered.
//!
//! - An INVITE from an authenticated SIP domain to an XMPP user with an acceptable offer
//!   ([`crate::sip::sdp`]) is answered 200 with the SDP answer, Contact and the copied
//!   Record-Route; the dialog is kept by Call-ID, whose hidden token
//!   ([`bridge::sip::thread_of_call_id`], as in page mode) is the XMPP `<thread/>` of every
//!   message in it, so a Call-ID host never crosses. Offers without a `sip` message stream
//!   are answered 488. The final is sent at once (the transaction layer adds 100 Trying over
//!   UDP, §17.2.1), so a CANCEL finds nothing left to cancel (200 for the CANCEL, the INVITE
//!   stays answered). A 2xx that gets no ACK within 64·T1 ends the session: BYE to SIP,
//!   `gone` to XMPP (§13.3.1.4).
//! - MESSAGE in the dialog → the events page mode makes of it (routing/events.rs), on that
//!   thread: text, isComposing → XEP-0085, IMDN → XEP-0184/0333, CPIM, HTML, multipart;
//!   answered as page mode is (202 handed on, 200 confirmed, mapped errors; a body that
//!   cannot be mapped is refused, 415/488).
//! - XMPP messages and events (chat states, receipts, markers, rich text, reactions, …) from
//!   the XMPP user to the SIP user (by thread, else by the pair) go back as in-dialog MESSAGE
//!   with the payload page mode would send; an XMPP `gone` or the idle timeout
//!   (`sip.session_idle_timeout_secs`) ends the dialog with BYE. A BYE from SIP is answered
//!   200 and sends `gone` to XMPP.
//! - To a SIP domain with `im_mode = "session"`, the first XMPP message to a user opens the
//!   dialog with an INVITE (parley's offer); messages wait (bounded) for its 2xx, then go in
//!   the dialog; a failure bounces them to the XMPP sender. Receipts and chat states open no
//!   session: without one they go in page mode.
//!
//! Sessions live in memory; a restart ends them (the SIP side re-INVITEs on its next message).

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use dashmap::DashMap;
use tokio::time::Instant;
use tracing::{Instrument, debug, info};

use super::Gateway;
use crate::auth::{self, VerifiedDomain};
use crate::bridge;
use crate::config::{ImMode, Side};
use crate::conn::sip_conn::PeerCerts;
use crate::conn::xmpp_pool::OutStanza;
use crate::metrics::{self, Direction, EventKind, Outcome};
use crate::model::{ChatStateEvent, Envelope, MessageKind, Typing};
use crate::sip::encode;
use crate::sip::sdp;
use crate::sip::{HeaderName, SipMessage};
use crate::xmpp::stanza::{ChatState, MessageView};
use held::{Held, Payload, fit, held_of};

/// XMPP messages held per session while its INVITE is out.
const MAX_PENDING: usize = 32;
/// Live sessions at most; more INVITEs are answered 486 Busy Here.
const MAX_SESSIONS: usize = 10_000;

type Status = (u16, Cow<'static, str>);

/// One IM session dialog.
#[derive(Debug, Clone)]
struct Session {
    local_tag: String,
    /// Empty until the 2xx to parley's INVITE arrives.
    remote_tag: String,
    /// The XMPP user, bare (`juliet@xmpp.test`).
    xmpp_user: String,
    /// The SIP user, bare (`alice@sip.test`).
    sip_user: String,
    /// The XMPP `<thread/>` of the session: the hidden token of its Call-ID.
    thread: String,
    /// The From display name of parley's requests (the XMPP user with the external label).
    from_name: Option<String>,
    /// Request-URI of requests in the dialog (the peer's Contact).
    target: String,
    /// Route set (RFC 3261 §12.1).
    routes: Vec<String>,
    local_cseq: u32,
    remote_cseq: u32,
    /// CSeq number of the dialog-creating INVITE (what a CANCEL names).
    invite_cseq: u32,
    /// The SDP answer given (repeated for a re-INVITE).
    answer: String,
    last_active: Instant,
    /// An XMPP message waiting for the INVITE's 2xx: (from, to, id, body).
    pending: Vec<Held>,
    established: bool,
    /// The `accept-types` of the peer's SDP: what its in-dialog MESSAGEs may carry (empty:
    /// anything).
    peer_types: Vec<String>,
}

/// The live IM sessions.
#[derive(Debug, Default)]
pub struct Sessions {
    by_call_id: DashMap<String, Session>,
    /// `(XMPP user, SIP user)` → Call-ID of their session (messages without a thread).
    by_pair: DashMap<(String, String), String>,
}

impl Sessions {
    fn insert(&self, call_id: String, s: Session) {
        self.by_pair
            .insert((s.xmpp_user.clone(), s.sip_user.clone()), call_id.clone());
        self.by_call_id.insert(call_id, s);
    }

    fn remove(&self, call_id: &str) -> Option<Session> {
        let (_, s) = self.by_call_id.remove(call_id)?;
        self.by_pair
            .remove_if(&(s.xmpp_user.clone(), s.sip_user.clone()), |_, c| {
                c == call_id
            });
        Some(s)
    }

    /// How many sessions are live.
    pub fn len(&self) -> usize {
        self.by_call_id.len()
    }

    /// Whether none is.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.by_call_id.is_empty()
    }
}

/// What the 200 to an INVITE carries besides the usual headers.
#[derive(Debug)]
pub(crate) struct SessionAnswer {
    /// The SDP answer.
    pub sdp: String,
    /// User part for the Contact (`<sip:user@parley;transport=tls>`).
    pub contact_user: String,
}

/// An INVITE's outcome: status, To tag, and for a 2xx the SDP answer.
pub(crate) struct InviteAnswer {
    pub status: Status,
    pub to_tag: Option<String>,
    pub session: Option<SessionAnswer>,
}

impl From<Status> for InviteAnswer {
    fn from(status: Status) -> InviteAnswer {
        InviteAnswer {
            status,
            to_tag: None,
            session: None,
        }
    }
}

fn st(code: u16, reason: &'static str) -> Status {
    (code, Cow::Borrowed(reason))
}

fn bare(a: &crate::model::Address<'_>) -> String {
    format!("{}@{}", a.local, a.domain)
}

fn bare_jid(jid: &str) -> String {
    let no_res = jid.split('/').next().unwrap_or_default();
    no_res.to_ascii_lowercase()
}

/// The IP and port parley's SIP listener is reached at (`host:port`).
fn split_host_port(sent_by: &str) -> (&str, u16) {
    match sent_by.rsplit_once(':') {
        Some((h, p)) => (
            h.trim_start_matches('[').trim_end_matches(']'),
            p.parse().unwrap_or(5061),
        ),
        None => (sent_by, 5061),
    }
}

impl Gateway {
    /// An INVITE from a SIP peer: a new IM session, a re-INVITE in one, or a refusal.
    pub(crate) fn sip_invite(self: &Arc<Self>, peer: &PeerCerts, req: &SipMessage) -> InviteAnswer {
        let (Ok(from), Ok(to), Ok(call_id), Ok(cseq)) =
            (req.from(), req.to(), req.call_id(), req.cseq())
        else {
            return st(400, "Bad Request").into();
        };
        if to.tag.is_some() {
            return self.sip_reinvite(req, call_id, from.tag, cseq.seq);
        }
        let (Ok(sip_user), Some(Ok(xmpp_user))) = (
            bridge::address::from_sip_uri(from.uri),
            req.request_uri().map(bridge::address::from_sip_uri),
        ) else {
            return st(404, "Not Found").into();
        };
        let Some(remote_tag) = from.tag else {
            return st(400, "Missing From Tag").into();
        };
        if !self.serves(&sip_user.domain, Side::Sip) {
            return st(403, "Sender Domain Not Served Here").into();
        }
        if auth::verify_certificate_for(Some(peer), &sip_user.domain).is_err() {
            return st(403, "Peer Not Authenticated For Sender Domain").into();
        }
        if !self.serves(&xmpp_user.domain, Side::Xmpp) {
            return st(403, "Relaying Denied").into();
        }
        if self.sessions.len() >= MAX_SESSIONS {
            return st(486, "Busy Here").into();
        }
        let (addr, port) = split_host_port(&self.sip_sent_by);
        let uri = format!("sip:{}@{}", xmpp_user.local, self.sip_sent_by);
        let local = sdp::Local {
            addr,
            port,
            uri: &uri,
            session_id: u64::from(cseq.seq) + 1,
        };
        let mut peer_types = Vec::new();
        let answer = match sdp::body_of(req) {
            // RFC 3264 §4: an INVITE without an offer gets parley's offer in the 2xx (the
            // peer's answer comes in the ACK: `sip_session_ack`).
            _ if req.body().is_empty() => sdp::offer(&local),
            Some(body) => match sdp::answer(body, &local) {
                Ok(a) => {
                    peer_types = held::accept_types_of(body);
                    a
                }
                Err(e) => {
                    debug!(error = %e, "session offer refused");
                    return st(e.status().0, e.status().1).into();
                }
            },
            _ => return st(415, "Unsupported Media Type").into(),
        };
        let target = req
            .contacts()
            .find_map(|c| match c {
                Ok(crate::sip::typed::Contact::Addr(a)) => Some(a.uri.to_owned()),
                _ => None,
            })
            .unwrap_or_else(|| from.uri.to_owned());
        // §12.1.1: the UAS's route set is the Record-Route list in order.
        let routes = req
            .record_routes()
            .filter_map(Result::ok)
            .map(|r| r.uri.to_owned())
            .collect();
        let local_tag = self.new_id();
        let session = Session {
            local_tag: local_tag.clone(),
            remote_tag: remote_tag.to_owned(),
            xmpp_user: bare(&xmpp_user),
            sip_user: bare(&sip_user),
            thread: bridge::sip::thread_of_call_id(call_id).into_owned(),
            from_name: self.external_name(None, &xmpp_user.local),
            target,
            routes,
            local_cseq: 0,
            remote_cseq: cseq.seq,
            invite_cseq: cseq.seq,
            answer: answer.clone(),
            last_active: Instant::now(),
            pending: Vec::new(),
            established: true,
            peer_types,
        };
        info!(sip.call_id = %call_id, "IM session accepted");
        self.sessions.insert(call_id.to_owned(), session);
        self.spawn_idle_watch(call_id.to_owned());
        InviteAnswer {
            status: st(200, "OK"),
            to_tag: Some(local_tag),
            session: Some(SessionAnswer {
                sdp: answer,
                contact_user: xmpp_user.local.into_owned(),
            }),
        }
    }

    /// A re-INVITE: the session stays as it is, answered with the same SDP (RFC 3264 §8).
    fn sip_reinvite(
        &self,
        req: &SipMessage,
        call_id: &str,
        from_tag: Option<&str>,
        cseq: u32,
    ) -> InviteAnswer {
        let Some(mut s) = self.sessions.by_call_id.get_mut(call_id) else {
            return st(481, "Call/Transaction Does Not Exist").into();
        };
        if from_tag != Some(s.remote_tag.as_str()) {
            return st(481, "Call/Transaction Does Not Exist").into();
        }
        if cseq <= s.remote_cseq {
            return st(500, "CSeq Out Of Order").into();
        }
        if !req.body().is_empty() {
            let offer = std::str::from_utf8(req.body()).ok();
            let ok = offer.is_some_and(|b| {
                sdp::answer(
                    b,
                    &sdp::Local {
                        addr: "0.0.0.0",
                        port: 0,
                        uri: "sip:x",
                        session_id: 0,
                    },
                )
                .is_ok()
            });
            if !ok {
                return st(488, "Not Acceptable Here").into();
            }
            s.peer_types = held::accept_types_of(offer.unwrap_or_default());
        }
        s.remote_cseq = cseq;
        s.last_active = Instant::now();
        let user = s.xmpp_user.split('@').next().unwrap_or_default().to_owned();
        InviteAnswer {
            status: st(200, "OK"),
            to_tag: None,
            session: Some(SessionAnswer {
                sdp: s.answer.clone(),
                contact_user: user,
            }),
        }
    }

    /// A BYE: the session ends, the XMPP user gets `gone`.
    pub(crate) fn sip_bye(self: &Arc<Self>, peer: &PeerCerts, req: &SipMessage) -> Status {
        let (Ok(call_id), Ok(from)) = (req.call_id(), req.from()) else {
            return st(400, "Bad Request");
        };
        let known = self
            .sessions
            .by_call_id
            .get(call_id)
            .is_some_and(|s| from.tag == Some(s.remote_tag.as_str()));
        if !known {
            return st(481, "Call/Transaction Does Not Exist");
        }
        if self.session_peer(peer, call_id).is_none() {
            return st(403, "Peer Not Authenticated For Sender Domain");
        }
        if let Some(s) = self.sessions.remove(call_id) {
            info!(sip.call_id = %call_id, "IM session ended by BYE");
            self.send_gone(&s);
        }
        st(200, "OK")
    }

    /// An ACK with the SDP answer to the offer parley put in its 2xx (RFC 3264 §4: the
    /// INVITE had none): the session takes what the answer's `accept-types` say.
    pub(crate) fn sip_session_ack(&self, peer: &PeerCerts, req: &SipMessage) {
        let (Some(body), Ok(call_id), Ok(from)) = (sdp::body_of(req), req.call_id(), req.from())
        else {
            return;
        };
        if self.session_peer(peer, call_id).is_none() {
            return;
        }
        if let Some(mut s) = self.sessions.by_call_id.get_mut(call_id)
            && from.tag == Some(s.remote_tag.as_str())
        {
            s.peer_types = held::accept_types_of(body);
        }
    }

    /// The 2xx to the INVITE of dialog `call_id` got no ACK within 64·T1 (Timer L): the
    /// dialog ends with BYE (RFC 3261 §13.3.1.4) and the XMPP user gets `gone`.
    pub(crate) fn sip_session_unacked(self: &Arc<Self>, call_id: &str) {
        let Some(s) = self.sessions.remove(call_id) else {
            return;
        };
        info!(sip.call_id = %call_id, "IM session's 2xx never ACKed: ending it with BYE");
        self.send_gone(&s);
        self.send_bye(call_id, s);
    }

    /// A CANCEL: the INVITE it names was answered at once, so there is nothing left to
    /// cancel (§9.2: 200 for the CANCEL); one that matches no session gets 481.
    pub(crate) fn sip_cancel(&self, req: &SipMessage) -> Status {
        let (Ok(call_id), Ok(cseq)) = (req.call_id(), req.cseq()) else {
            return st(400, "Bad Request");
        };
        match self.sessions.by_call_id.get(call_id) {
            Some(s) if s.invite_cseq == cseq.seq => st(200, "OK"),
            _ => st(481, "Call/Transaction Does Not Exist"),
        }
    }

    /// A MESSAGE in a dialog (it has a To tag): `Ok(None)` when it has none, `Ok(Some(req))`
    /// when it fits a live session — re-addressed to the session's XMPP user, since its
    /// Request-URI is parley's Contact — and `Err` with the answer when it does not fit.
    pub(crate) fn session_message_check(
        &self,
        req: &SipMessage,
    ) -> Result<Option<SipMessage>, Status> {
        let Ok(to) = req.to() else { return Ok(None) };
        if to.tag.is_none() {
            return Ok(None);
        }
        let (Ok(call_id), Ok(from), Ok(cseq)) = (req.call_id(), req.from(), req.cseq()) else {
            return Err(st(400, "Bad Request"));
        };
        let Some(mut s) = self.sessions.by_call_id.get_mut(call_id) else {
            return Err(st(481, "Call/Transaction Does Not Exist"));
        };
        if from.tag != Some(s.remote_tag.as_str()) || to.tag != Some(s.local_tag.as_str()) {
            return Err(st(481, "Call/Transaction Does Not Exist"));
        }
        if cseq.seq <= s.remote_cseq {
            return Err(st(500, "CSeq Out Of Order"));
        }
        s.remote_cseq = cseq.seq;
        s.last_active = Instant::now();
        let uri = format!("sip:{}", s.xmpp_user);
        drop(s);
        let mut out = BytesMut::with_capacity(req.raw().len() + 32);
        encode::write_edited(&mut out, req, &[encode::Edit::RequestUri(&uri)]);
        SipMessage::parse(out.freeze(), &self.sip_limits())
            .map(Some)
            .map_err(|_| st(400, "Bad Request"))
    }

    /// A MESSAGE in a session whose body is not text/plain (isComposing, IMDN, CPIM, HTML,
    /// multipart): the same event path as page mode (`routing/events.rs`), so the XMPP user
    /// gets the same stanzas, on the session's thread (the hidden token of its Call-ID, as
    /// `bridge::sip_in` derives it). What cannot be mapped is refused with its SIP status.
    pub(crate) async fn session_rich_message(
        self: &Arc<Self>,
        peer: &PeerCerts,
        req: &SipMessage,
    ) -> Status {
        let Ok(call_id) = req.call_id() else {
            return st(400, "Bad Request");
        };
        if self.session_peer(peer, call_id).is_none() {
            return st(403, "Peer Not Authenticated For Sender Domain");
        }
        self.relay_sip_events(peer, req).await
    }

    /// The verified SIP domain of a session's peer, when `peer` is authenticated for it.
    fn session_peer(&self, peer: &PeerCerts, call_id: &str) -> Option<VerifiedDomain> {
        let domain = self
            .sessions
            .by_call_id
            .get(call_id)?
            .sip_user
            .split_once('@')?
            .1
            .to_owned();
        auth::verify_certificate_for(Some(peer), &domain).ok()
    }

    /// XEP-0085 `gone` on the session's thread, from the SIP user to the XMPP user.
    fn send_gone(self: &Arc<Self>, s: &Session) {
        let (Ok(from), Ok(to)) = (
            bridge::address::from_jid(&s.sip_user),
            bridge::address::from_jid(&s.xmpp_user),
        ) else {
            return;
        };
        let event = ChatStateEvent {
            env: Envelope {
                from,
                to,
                id: None,
                thread: Some(Cow::Borrowed(s.thread.as_str())),
                kind: MessageKind::Chat,
            },
            state: Typing::Gone,
            refresh: None,
        };
        let mut out = BytesMut::with_capacity(256);
        bridge::xmpp_out::write_xmpp_chat_state(&mut out, &event, &self.new_id());
        let local = s.sip_user.split('@').nth(1).unwrap_or_default();
        let remote = s.xmpp_user.split('@').nth(1).unwrap_or_default();
        let _ = self
            .xmpp_out
            .send(self, local, remote, OutStanza::new(out.freeze(), None));
    }

    /// End the session when no MESSAGE passed for the configured idle time.
    fn spawn_idle_watch(self: &Arc<Self>, call_id: String) {
        let gw = self.clone();
        let cancel = self.shutdown_token();
        self.tracker().spawn(
            async move {
                loop {
                    let idle =
                        Duration::from_secs(gw.config().sip.session_idle_timeout_secs.max(1));
                    let Some(at) = gw
                        .sessions
                        .by_call_id
                        .get(&call_id)
                        .map(|s| s.last_active + idle)
                    else {
                        return;
                    };
                    tokio::select! {
                        () = tokio::time::sleep_until(at) => {}
                        () = cancel.cancelled() => return,
                    }
                    let due = gw
                        .sessions
                        .by_call_id
                        .get(&call_id)
                        .is_some_and(|s| s.last_active + idle <= Instant::now());
                    if due {
                        info!(sip.call_id = %call_id, "IM session idle: ending it");
                        if let Some(s) = gw.sessions.remove(&call_id) {
                            gw.send_gone(&s);
                            if s.established {
                                gw.send_bye(&call_id, s);
                            }
                        }
                        return;
                    }
                }
            }
            .in_current_span(),
        );
    }

    // -----------------------------------------------------------------------------------
    // XMPP → SIP
    // -----------------------------------------------------------------------------------

    /// An XMPP message with a body from `m.from` to a SIP user: sent in their session when
    /// there is one, or opening one when the SIP domain wants session mode. `false`: not a
    /// session matter, relay it in page mode.
    pub(crate) fn xmpp_to_session(
        self: &Arc<Self>,
        peer: &VerifiedDomain,
        local: &str,
        m: &MessageView<'_>,
    ) -> bool {
        let Some(body) = &m.body else { return false };
        // Most messages: no session anywhere and none to open; nothing to copy or look up.
        if self.sessions.by_call_id.is_empty() && !self.session_mode(local) {
            return false;
        }
        let Some(held) = held_of(m, Payload::plain(body), true) else {
            return false;
        };
        self.held_to_session(peer, local, m.thread.as_deref(), held, true)
    }

    /// An XMPP event already translated for SIP (`request`, the page-mode MESSAGE
    /// `bridge::sip_out` wrote): its payload goes in the pair's live session as an in-dialog
    /// MESSAGE, so a SIP user in a session gets receipts, chat states, rich text and the
    /// rest inside the dialog. `opens`: content opens a session towards a domain in session
    /// mode (notices and chat states do not). `bounce`: a failure is answered with an XMPP
    /// error. `false`: not a session matter, relay it in page mode.
    pub(crate) fn xmpp_event_to_session(
        self: &Arc<Self>,
        peer: &VerifiedDomain,
        local: &str,
        m: &MessageView<'_>,
        request: &Bytes,
        opens: bool,
        bounce: bool,
    ) -> bool {
        let (Some(from), Some(to)) = (m.from.as_deref(), m.to.as_deref()) else {
            return false;
        };
        if self.sessions.by_call_id.is_empty() && !(opens && self.session_mode(local)) {
            return false;
        }
        let pair = (bare_jid(from), bare_jid(to));
        let live = self.session_of(m.thread.as_deref(), &pair).is_some();
        if !(live || (opens && self.session_mode(local))) {
            return false;
        }
        let payload = SipMessage::parse(request.clone(), &self.sip_limits())
            .ok()
            .and_then(|r| Payload::of_request(&r));
        let Some(held) = payload.and_then(|p| held_of(m, p, bounce)) else {
            return false;
        };
        self.held_to_session(peer, local, m.thread.as_deref(), held, opens)
    }

    /// Whether XMPP messages to the SIP domain `local` open IM sessions.
    fn session_mode(&self, local: &str) -> bool {
        self.config()
            .domain(local)
            .is_some_and(|d| d.side == Side::Sip && d.im_mode == ImMode::Session)
    }

    /// `held` in the pair's session: sent when it is established, held (bounded) while its
    /// INVITE is out, or (`may_open`, session mode) opening one.
    fn held_to_session(
        self: &Arc<Self>,
        peer: &VerifiedDomain,
        local: &str,
        thread: Option<&str>,
        mut held: Held,
        may_open: bool,
    ) -> bool {
        let pair = (bare_jid(&held.from), bare_jid(&held.to));
        if let Some(call_id) = self.session_of(thread, &pair)
            && let Some(mut s) = self.sessions.by_call_id.get_mut(&call_id)
        {
            s.last_active = Instant::now();
            if s.established {
                if fit(&s.peer_types, &mut held) {
                    s.local_cseq += 1;
                    let (session, cseq) = (s.clone(), s.local_cseq);
                    drop(s);
                    let local = local.to_owned();
                    self.send_in_session(peer.clone(), local, call_id, session, cseq, held);
                } else {
                    drop(s);
                    self.session_bounce(peer, local, &held, 415, "Unsupported Media Type");
                }
                return true;
            } else if !held.bounce {
                // A chat state is out of date by the time the session is up (XEP-0085
                // §5.3); it takes no place from the messages waiting.
                drop(s);
                metrics::message(Direction::XmppToSip, EventKind::Typing, Outcome::Dropped);
                return true;
            } else if s.pending.len() < MAX_PENDING {
                s.pending.push(held);
                return true;
            } else {
                drop(s);
                self.session_bounce(peer, local, &held, 503, "Session Queue Full");
                return true;
            }
        }
        if !(may_open && self.session_mode(local)) {
            return false;
        }
        self.open_session(peer, local, pair, thread, held);
        true
    }

    /// An XMPP message without a body: `gone` ends the pair's session with BYE.
    pub(crate) fn xmpp_session_state(self: &Arc<Self>, m: &MessageView<'_>) -> bool {
        if m.chat_state != Some(ChatState::Gone) {
            return false;
        }
        let (Some(from), Some(to)) = (m.from.as_deref(), m.to.as_deref()) else {
            return false;
        };
        let pair = (bare_jid(from), bare_jid(to));
        let Some(call_id) = self.session_of(m.thread.as_deref(), &pair) else {
            return false;
        };
        if let Some(s) = self.sessions.remove(&call_id) {
            info!(sip.call_id = %call_id, "IM session ended by XMPP gone");
            if s.established {
                self.send_bye(&call_id, s);
            }
        }
        true
    }

    /// The session of an XMPP message: the one whose thread it names, else the pair's.
    fn session_of(&self, thread: Option<&str>, pair: &(String, String)) -> Option<String> {
        let of_pair = self.sessions.by_pair.get(pair).map(|c| c.clone());
        if let Some(t) = thread {
            let same_pair = |s: &Session| {
                (s.xmpp_user.as_str(), s.sip_user.as_str()) == (pair.0.as_str(), pair.1.as_str())
            };
            // A thread parley gave out is the session's hidden token; one the XMPP user
            // chose became the Call-ID of the session it opened.
            if let Some(c) = &of_pair
                && self
                    .sessions
                    .by_call_id
                    .get(c)
                    .is_some_and(|s| s.thread == t)
            {
                return of_pair;
            }
            if let Some(s) = self.sessions.by_call_id.get(t)
                && same_pair(&s)
            {
                return Some(t.to_owned());
            }
        }
        of_pair
    }
}

/// Record-Route values of a request, as written (copied into the 2xx, §12.1.1).
pub(crate) fn record_route_values(req: &SipMessage) -> Vec<String> {
    req.header_values(HeaderName::RecordRoute)
        .filter_map(|v| std::str::from_utf8(v).ok())
        .map(str::to_owned)
        .collect()
}

#[path = "sip_session_held.rs"]
mod held;
#[path = "sip_session_out.rs"]
mod out;

#[cfg(test)]
#[path = "sip_session_tests.rs"]
mod tests;
