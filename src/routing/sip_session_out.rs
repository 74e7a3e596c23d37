//! Session-mode IM, requests parley sends (RFC 3261 §12.2.1.1 in-dialog requests, §13.2
//! INVITE, §13.2.2.4 ACK for a 2xx, §15.1.1 BYE): written here, sent through the SIP pool
//! towards the SIP user's domain.

use std::borrow::Cow;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use tokio::time::Instant;
use tracing::{Instrument, debug, info};

use super::{Held, Session, held, split_host_port};
use crate::auth::VerifiedDomain;
use crate::bridge;
use crate::conn::xmpp_pool::OutStanza;
use crate::metrics::{self, Protocol};
use crate::model::DeliveryError;
use crate::routing::Gateway;
use crate::sip::encode::{self, RequestParts};
use crate::sip::sdp;

/// The parts of a request in (or opening) a dialog.
pub(super) struct DialogRequest<'a> {
    pub method: &'a str,
    pub call_id: &'a str,
    pub cseq: u32,
    pub branch: &'a str,
    pub content_type: Option<&'a str>,
    /// Headers that describe the body (Subject, Content-Language).
    pub extra: &'a [(&'static str, String)],
    pub body: &'a [u8],
}

/// A request in `s`'s dialog (or, with an empty remote tag, the INVITE that opens it).
pub(super) fn write_dialog_request(sent_by: &str, s: &Session, r: &DialogRequest<'_>) -> Bytes {
    let via = format!("SIP/2.0/TLS {sent_by};branch={}", r.branch);
    // The From display name carries the external label, as page-mode MESSAGE does.
    let mut name = BytesMut::new();
    if let Some(n) = s.from_name.as_deref().filter(|n| !n.trim().is_empty()) {
        bridge::sip_wire::put_quoted(&mut name, n.trim());
        name.extend_from_slice(b" ");
    }
    let from = format!(
        "{}<sip:{}>;tag={}",
        String::from_utf8_lossy(&name),
        s.xmpp_user,
        s.local_tag
    );
    let to = if s.remote_tag.is_empty() {
        format!("<sip:{}>", s.sip_user)
    } else {
        format!("<sip:{}>;tag={}", s.sip_user, s.remote_tag)
    };
    let cseq = format!("{} {}", r.cseq, r.method);
    let user = s.xmpp_user.split('@').next().unwrap_or_default();
    let contact = format!("<sip:{user}@{sent_by};transport=tls>");
    let routes: Vec<String> = s.routes.iter().map(|r| format!("<{r}>")).collect();
    let mut headers: Vec<(&str, &str)> = vec![("Via", &via), ("Max-Forwards", "70")];
    headers.extend(routes.iter().map(|r| ("Route", r.as_str())));
    headers.extend([
        ("From", from.as_str()),
        ("To", to.as_str()),
        ("Call-ID", r.call_id),
        ("CSeq", cseq.as_str()),
    ]);
    if r.method != "ACK" && r.method != "BYE" {
        headers.push(("Contact", &contact));
    }
    if let Some(ct) = r.content_type {
        headers.push(("Content-Type", ct));
    }
    headers.extend(r.extra.iter().map(|(n, v)| (*n, v.as_str())));
    let mut out = BytesMut::with_capacity(512 + r.body.len());
    encode::write_request(
        &mut out,
        &RequestParts {
            method: r.method,
            uri: &s.target,
            headers: &headers,
            body: r.body,
        },
    );
    out.freeze()
}

impl Gateway {
    fn sip_pair(s: &Session) -> Option<(String, String)> {
        let x = s.xmpp_user.split_once('@')?.1.to_owned();
        let p = s.sip_user.split_once('@')?.1.to_owned();
        Some((x, p))
    }

    /// Send `held` as MESSAGE number `cseq` in the session; a failure goes back to the XMPP
    /// sender as an error, and 481/408 end the session.
    pub(super) fn send_in_session(
        self: &Arc<Self>,
        peer: VerifiedDomain,
        local: String,
        call_id: String,
        s: Session,
        cseq: u32,
        held: Held,
    ) {
        let Some((xmpp_domain, sip_domain)) = Self::sip_pair(&s) else {
            return;
        };
        let branch = format!("z9hG4bK{}", self.new_id());
        let bytes = write_dialog_request(
            &self.sip_sent_by,
            &s,
            &DialogRequest {
                method: "MESSAGE",
                call_id: &call_id,
                cseq,
                branch: &branch,
                content_type: Some(&held.payload.content_type),
                extra: &held.payload.headers,
                body: &held.payload.body,
            },
        );
        let rx = self
            .sip_out
            .request(self, &xmpp_domain, &sip_domain, bytes, branch);
        let gw = self.clone();
        self.tracker().spawn(
            async move {
                let Ok(f) = rx.await else { return };
                debug!(code = f.code, "in-session MESSAGE final response");
                if f.code >= 300 {
                    if matches!(f.code, 408 | 481) {
                        gw.sessions.remove(&call_id);
                    }
                    gw.session_bounce(&peer, &local, &held, f.code, &f.reason);
                }
            }
            .in_current_span(),
        );
    }

    /// Open a session towards the SIP user with an INVITE carrying parley's offer; `held`
    /// goes in it once the 2xx arrives.
    pub(super) fn open_session(
        self: &Arc<Self>,
        peer: &VerifiedDomain,
        local: &str,
        pair: (String, String),
        thread: Option<&str>,
        held: Held,
    ) {
        if self.sessions.len() >= super::MAX_SESSIONS {
            self.session_bounce(peer, local, &held, 486, "Busy Here");
            return;
        }
        // The thread becomes the Call-ID when it can be one (the XMPP client then sees its
        // own thread on the replies).
        let call_id = thread
            .filter(|t| bridge::sip::is_call_id(t) && !self.sessions.by_call_id.contains_key(*t))
            .map(str::to_owned)
            .unwrap_or_else(|| self.new_id());
        let (xmpp_user, sip_user) = pair;
        let user = xmpp_user.split('@').next().unwrap_or_default();
        let from_name = self
            .external_name(held.nick.as_deref(), user)
            .or_else(|| held.nick.clone());
        let session = Session {
            thread: bridge::sip::thread_of_call_id(&call_id).into_owned(),
            from_name,
            local_tag: self.new_id(),
            remote_tag: String::new(),
            target: format!("sip:{sip_user}"),
            xmpp_user,
            sip_user,
            routes: Vec::new(),
            local_cseq: 1,
            remote_cseq: 0,
            invite_cseq: 1,
            answer: String::new(),
            last_active: Instant::now(),
            pending: vec![held],
            established: false,
            peer_types: Vec::new(),
        };
        let Some((xmpp_domain, sip_domain)) = Self::sip_pair(&session) else {
            return;
        };
        let (addr, port) = split_host_port(&self.sip_sent_by);
        let uri = format!(
            "sip:{}@{}",
            session.xmpp_user.split('@').next().unwrap_or_default(),
            self.sip_sent_by
        );
        let offer = sdp::offer(&sdp::Local {
            addr,
            port,
            uri: &uri,
            session_id: 1,
        });
        let branch = format!("z9hG4bK{}", self.new_id());
        let bytes = write_dialog_request(
            &self.sip_sent_by,
            &session,
            &DialogRequest {
                method: "INVITE",
                call_id: &call_id,
                cseq: 1,
                branch: &branch,
                content_type: Some("application/sdp"),
                extra: &[],
                body: offer.as_bytes(),
            },
        );
        info!(sip.call_id = %call_id, "opening an IM session");
        self.sessions.insert(call_id.clone(), session);
        let rx = self
            .sip_out
            .request(self, &xmpp_domain, &sip_domain, bytes, branch);
        let (gw, peer, local) = (self.clone(), peer.clone(), local.to_owned());
        self.tracker().spawn(
            async move {
                let f = rx.await.unwrap_or_else(|_| {
                    crate::conn::sip_conn::SipFinal::local(503, "Shutting Down")
                });
                gw.session_answered(&peer, &local, &call_id, f);
            }
            .in_current_span(),
        );
    }

    /// The final response to parley's INVITE: ACK and flush the held messages, or bounce
    /// them.
    fn session_answered(
        self: &Arc<Self>,
        peer: &VerifiedDomain,
        local: &str,
        call_id: &str,
        f: crate::conn::sip_conn::SipFinal,
    ) {
        let remote_tag = f.to_tag.clone().filter(|_| (200..300).contains(&f.code));
        let Some(remote_tag) = remote_tag else {
            info!(sip.call_id = %call_id, code = f.code, "IM session refused");
            if let Some(s) = self.sessions.remove(call_id) {
                for h in &s.pending {
                    self.session_bounce(peer, local, h, f.code, &f.reason);
                }
            }
            return;
        };
        let (s, pending) = {
            let Some(mut s) = self.sessions.by_call_id.get_mut(call_id) else {
                return;
            };
            s.remote_tag = remote_tag;
            if let Some(c) = &f.contact {
                s.target = c.clone();
            }
            // §12.1.2: the UAC's route set is the Record-Route list reversed.
            s.routes = f.record_route.iter().rev().cloned().collect();
            s.peer_types = f
                .sdp
                .as_deref()
                .map(held::accept_types_of)
                .unwrap_or_default();
            s.established = true;
            s.last_active = Instant::now();
            let pending = std::mem::take(&mut s.pending);
            (s.clone(), pending)
        };
        let Some((xmpp_domain, sip_domain)) = Self::sip_pair(&s) else {
            return;
        };
        // §13.2.2.4: the ACK for a 2xx is a request of its own, outside any transaction.
        let ack = write_dialog_request(
            &self.sip_sent_by,
            &s,
            &DialogRequest {
                method: "ACK",
                call_id,
                cseq: s.invite_cseq,
                branch: &format!("z9hG4bK{}", self.new_id()),
                content_type: None,
                extra: &[],
                body: b"",
            },
        );
        self.sip_out
            .send_stateless(self, &xmpp_domain, &sip_domain, ack);
        info!(sip.call_id = %call_id, "IM session established");
        self.spawn_idle_watch(call_id.to_owned());
        for mut held in pending {
            if !held::fit(&s.peer_types, &mut held) {
                self.session_bounce(peer, local, &held, 415, "Unsupported Media Type");
                continue;
            }
            let cseq = {
                let Some(mut live) = self.sessions.by_call_id.get_mut(call_id) else {
                    return;
                };
                live.local_cseq += 1;
                live.local_cseq
            };
            self.send_in_session(
                peer.clone(),
                local.to_owned(),
                call_id.to_owned(),
                s.clone(),
                cseq,
                held,
            );
        }
    }

    /// End the session from parley's side with BYE (its final is only logged).
    pub(super) fn send_bye(self: &Arc<Self>, call_id: &str, mut s: Session) {
        let Some((xmpp_domain, sip_domain)) = Self::sip_pair(&s) else {
            return;
        };
        s.local_cseq += 1;
        let branch = format!("z9hG4bK{}", self.new_id());
        let bytes = write_dialog_request(
            &self.sip_sent_by,
            &s,
            &DialogRequest {
                method: "BYE",
                call_id,
                cseq: s.local_cseq,
                branch: &branch,
                content_type: None,
                extra: &[],
                body: b"",
            },
        );
        let rx = self
            .sip_out
            .request(self, &xmpp_domain, &sip_domain, bytes, branch);
        self.tracker().spawn(
            async move {
                if let Ok(f) = rx.await {
                    debug!(code = f.code, "BYE final response");
                }
            }
            .in_current_span(),
        );
    }

    /// An XMPP error for a held or sent message that SIP refused.
    pub(super) fn session_bounce(
        self: &Arc<Self>,
        peer: &VerifiedDomain,
        local: &str,
        held: &Held,
        code: u16,
        reason: &str,
    ) {
        if !held.bounce {
            debug!(
                code,
                "chat state in a session not delivered (no error for it)"
            );
            metrics::message(
                metrics::Direction::XmppToSip,
                metrics::EventKind::Typing,
                metrics::Outcome::Dropped,
            );
            return;
        }
        let condition = bridge::sip::status_to_condition(code);
        metrics::error_sent(Protocol::Xmpp, condition);
        let err = DeliveryError {
            condition,
            text: Some(Cow::Borrowed(reason)),
        };
        let mut out = BytesMut::with_capacity(256);
        bridge::xmpp::write_message_error(&mut out, &held.from, &held.to, held.id.as_deref(), &err);
        let _ = self.xmpp_out.send(
            self,
            local,
            peer.as_str(),
            OutStanza::new(out.freeze(), None),
        );
    }
}
