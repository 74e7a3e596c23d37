//! The INVITE transactions of one transport (RFC 3261 §17.1.1, §17.2.1, RFC 6026): the state
//! machines of [`super`] keyed and driven, with what the transport must send and what the
//! user must hear returned as data. No I/O; the caller passes `now`.
//!
//! - Client: Timer A retransmits the INVITE over UDP until a provisional, Timer B times it
//!   out. A failure final is ACKed here (§17.1.1.3, same branch) and the ACK repeated for
//!   each copy until Timer D. The first 2xx goes to the user, which sends the end-to-end ACK
//!   (§13.2.2.4); the transport records it with [`InviteTable::ack_sent`], and each
//!   retransmitted 2xx gets it again until Timer M (RFC 6026 §8.4).
//! - Server: 100 Trying at once over UDP, after 200 ms of silence from the user over a
//!   stream (§17.2.1); a retransmitted INVITE is absorbed (or answered with the response
//!   sent for it); a failure is retransmitted by Timer G until its ACK (same branch) or
//!   Timer H; a 2xx over UDP until the ACK of its dialog (same Call-ID and CSeq number, a
//!   new branch) or Timer L. A 2xx never ACKed is reported by its dialog's Call-ID, for the
//!   user to end the dialog with BYE (§13.3.1.4).

use std::collections::HashMap;
use std::net::SocketAddr;

use bytes::Bytes;
use tokio::time::Instant;

use super::{ClientAction, InviteClient, InviteServer, ServerAction};
use crate::sip::transaction::{Reliability, Timers, TransactionKey};

/// Bytes to send and where (none: the connection the table belongs to).
pub type Outgoing = (Bytes, Option<SocketAddr>);

struct ClientEntry<R> {
    state: InviteClient,
    respond: Option<R>,
    request: Bytes,
    dest: Option<SocketAddr>,
    /// The ACK sent for this INVITE's final (failure: by the table; 2xx: by the user).
    ack: Option<Bytes>,
}

struct ServerEntry {
    state: InviteServer,
    dest: Option<SocketAddr>,
    dialog: Option<(String, u32)>,
}

/// What a response or a timer means for an INVITE client transaction.
pub struct ClientStep<R> {
    /// The user's responder and the final status for it (408 on Timer B).
    pub deliver: Option<(R, u16)>,
    /// Something to send (an ACK, a retransmitted INVITE).
    pub send: Option<Outgoing>,
}

/// What [`InviteTable::on_timers`] fired.
pub struct Fired<R> {
    /// What to send (retransmissions, a delayed 100 Trying) and where.
    pub send: Vec<Outgoing>,
    /// Users whose INVITE timed out (Timer B).
    pub timed_out: Vec<R>,
    /// The Call-IDs of dialogs whose 2xx got no ACK by Timer L (§13.3.1.4: end with BYE).
    pub unacked_2xx: Vec<String>,
    /// Failure finals that got no ACK by Timer H.
    pub unacked_failures: usize,
}

impl<R> Default for ClientStep<R> {
    fn default() -> Self {
        ClientStep {
            deliver: None,
            send: None,
        }
    }
}

/// The INVITE client and server transactions of one transport.
pub struct InviteTable<R> {
    reliability: Reliability,
    timers: Timers,
    clients: HashMap<String, ClientEntry<R>>,
    servers: HashMap<TransactionKey, ServerEntry>,
}

impl<R> InviteTable<R> {
    /// An empty table.
    pub fn new(reliability: Reliability, timers: Timers) -> InviteTable<R> {
        InviteTable {
            reliability,
            timers,
            clients: HashMap::new(),
            servers: HashMap::new(),
        }
    }

    /// An INVITE with top Via `branch` was sent (to `dest` over a datagram transport).
    pub fn sent(&mut self, branch: String, request: Bytes, respond: R, dest: Option<SocketAddr>) {
        let state = InviteClient::start(self.reliability, self.timers, Instant::now());
        let entry = ClientEntry {
            state,
            respond: Some(respond),
            request,
            dest,
            ack: None,
        };
        self.clients.insert(branch, entry);
    }

    /// Whether `branch` names a client INVITE transaction of this table.
    pub fn has_client(&self, branch: &str) -> bool {
        self.clients.contains_key(branch)
    }

    /// A response with `code` for the client transaction `branch`; `to` is its To header
    /// value (with the tag), for the ACK of a failure.
    pub fn on_response(
        &mut self,
        branch: &str,
        code: u16,
        to: &str,
        now: Instant,
    ) -> ClientStep<R> {
        let mut step = ClientStep::default();
        let Some(mut entry) = self.clients.remove(branch) else {
            return step;
        };
        let (next, action) = entry.state.on_response(code, now);
        match action {
            ClientAction::Accepted(code) => match entry.respond.take() {
                Some(r) => step.deliver = Some((r, code)),
                // A retransmitted 2xx: the user's ACK again (RFC 6026 §8.4).
                None => step.send = entry.ack.clone().map(|a| (a, entry.dest)),
            },
            ClientAction::Rejected(code) => {
                let ack = ack_for_failure(&entry.request, to);
                step.send = Some((ack.clone(), entry.dest));
                entry.ack = Some(ack);
                step.deliver = entry.respond.take().map(|r| (r, code));
            }
            ClientAction::AckAgain => step.send = entry.ack.clone().map(|a| (a, entry.dest)),
            _ => {}
        }
        if let Some(state) = next {
            entry.state = state;
            self.clients.insert(branch.to_owned(), entry);
        }
        step
    }

    /// The user sent `ack` for the 2xx of its INVITE with Call-ID `call_id` and CSeq
    /// number `seq`: kept to answer retransmitted 2xx. False when no transaction waits.
    pub fn ack_sent(&mut self, call_id: &str, seq: u32, ack: Bytes) -> bool {
        let found = self.clients.values_mut().find(|e| {
            matches!(e.state, InviteClient::Accepted(_))
                && header(&e.request, "Call-ID") == Some(call_id)
                && cseq_number(&e.request) == Some(seq)
        });
        match found {
            Some(e) => {
                e.ack = Some(ack);
                true
            }
            None => false,
        }
    }

    /// A new INVITE arrived as server transaction `key` (from `dest` over datagrams), with
    /// `trying`, its 100 Trying: Ok with the 100 when it goes out at once (UDP); Err when it
    /// is a retransmission, with what to send again (if anything).
    pub fn on_invite(
        &mut self,
        key: &TransactionKey,
        dest: Option<SocketAddr>,
        dialog: Option<(String, u32)>,
        trying: Bytes,
    ) -> Result<Option<Bytes>, Option<Bytes>> {
        if let Some(e) = self.servers.get(key) {
            return Err(match e.state.on_retransmission() {
                ServerAction::Send(b) if !b.is_empty() => Some(b),
                _ => None,
            });
        }
        let (state, now) =
            InviteServer::start(self.reliability, self.timers, trying, Instant::now());
        let entry = ServerEntry {
            state,
            dest,
            dialog,
        };
        self.servers.insert(key.clone(), entry);
        Ok(now)
    }

    /// An ACK arrived with the top Via of `key` (method ACK). True when it belonged to a
    /// failure of this table (hop by hop: not for the user); a 2xx's ACK, matched by its
    /// dialog, stops the 2xx retransmissions and still goes to the user.
    pub fn on_ack(
        &mut self,
        key: &TransactionKey,
        dialog: Option<(&str, u32)>,
        now: Instant,
    ) -> bool {
        let invite = TransactionKey {
            method: "INVITE".to_owned(),
            ..key.clone()
        };
        let failure = (self.servers.get(&invite)).is_some_and(|e| {
            matches!(
                e.state,
                InviteServer::Completed(_) | InviteServer::Confirmed(_)
            )
        });
        let target = if failure {
            Some(invite)
        } else {
            dialog.and_then(|(call_id, seq)| {
                (self.servers.iter())
                    .find(|(_, e)| {
                        matches!(e.state, InviteServer::Accepted(_))
                            && (e.dialog.as_ref()).is_some_and(|(c, s)| c == call_id && *s == seq)
                    })
                    .map(|(k, _)| k.clone())
            })
        };
        if let Some(k) = target
            && let Some(mut e) = self.servers.remove(&k)
            && let (Some(next), _) = e.state.on_ack(now)
        {
            e.state = next;
            self.servers.insert(k, e);
        }
        failure
    }

    /// Whether `key` is a server INVITE transaction of this table.
    pub fn has_server(&self, key: &TransactionKey) -> bool {
        self.servers.contains_key(key)
    }

    /// The user answered the INVITE `key` with `code`: the bytes to send (none: a final was
    /// already sent).
    pub fn on_local_response(
        &mut self,
        key: &TransactionKey,
        code: u16,
        bytes: Bytes,
        now: Instant,
    ) -> Option<Bytes> {
        let Some(mut e) = self.servers.remove(key) else {
            return Some(bytes);
        };
        let (next, action) = e.state.on_response(code, bytes, now);
        if let Some(next) = next {
            e.state = next;
            self.servers.insert(key.clone(), e);
        }
        match action {
            ServerAction::Send(b) => Some(b),
            _ => None,
        }
    }

    /// The earliest timer of any transaction.
    pub fn deadline(&self) -> Option<Instant> {
        let c = self
            .clients
            .values()
            .filter_map(|e| e.state.deadline())
            .min();
        let s = self
            .servers
            .values()
            .filter_map(|e| e.state.deadline())
            .min();
        match (c, s) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Fire every due timer: what to send, the users to tell of a timeout (Timer B), and the
    /// server transactions that ended without their ACK.
    pub fn on_timers(&mut self, now: Instant) -> Fired<R> {
        let mut fired = Fired {
            send: Vec::new(),
            timed_out: Vec::new(),
            unacked_2xx: Vec::new(),
            unacked_failures: 0,
        };
        let due: Vec<String> = (self.clients.iter())
            .filter(|(_, e)| e.state.deadline().is_some_and(|d| d <= now))
            .map(|(b, _)| b.clone())
            .collect();
        for branch in due {
            let Some(mut e) = self.clients.remove(&branch) else {
                continue;
            };
            let (next, action) = e.state.on_timer(now);
            match action {
                ClientAction::Retransmit => fired.send.push((e.request.clone(), e.dest)),
                ClientAction::TimedOut => fired.timed_out.extend(e.respond.take()),
                _ => {}
            }
            if let Some(state) = next {
                e.state = state;
                self.clients.insert(branch, e);
            }
        }
        let due: Vec<TransactionKey> = (self.servers.iter())
            .filter(|(_, e)| e.state.deadline().is_some_and(|d| d <= now))
            .map(|(k, _)| k.clone())
            .collect();
        for key in due {
            let Some(mut e) = self.servers.remove(&key) else {
                continue;
            };
            let (next, action) = e.state.on_timer(now);
            match action {
                ServerAction::Send(b) => fired.send.push((b, e.dest)),
                ServerAction::AckTimeout => {
                    tracing::debug!(sip.branch = %key.branch, "no ACK for a 2xx (Timer L)");
                    fired
                        .unacked_2xx
                        .extend(e.dialog.as_ref().map(|(c, _)| c.clone()));
                }
                ServerAction::FailureAckTimeout => {
                    tracing::debug!(sip.branch = %key.branch, "no ACK for a failure (Timer H)");
                    fired.unacked_failures += 1;
                }
                _ => {}
            }
            if let Some(state) = next {
                e.state = state;
                self.servers.insert(key, e);
            }
        }
        fired
    }

    /// Whether a client transaction still waits for its final.
    pub fn awaiting_finals(&self) -> bool {
        self.clients.values().any(|e| e.respond.is_some())
    }

    /// The transport is gone: every waiting user, and the table emptied.
    pub fn drain_waiting(&mut self) -> Vec<R> {
        self.servers.clear();
        self.clients
            .drain()
            .filter_map(|(_, e)| e.respond)
            .collect()
    }
}

/// The value of the first `name:` header line of a message parley wrote.
pub fn header<'a>(msg: &'a [u8], name: &str) -> Option<&'a str> {
    let text = std::str::from_utf8(msg).ok()?;
    let head = text.split("\r\n\r\n").next()?;
    head.split("\r\n").skip(1).find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// The CSeq number of a message parley wrote.
pub fn cseq_number(msg: &[u8]) -> Option<u32> {
    header(msg, "CSeq")?.split_whitespace().next()?.parse().ok()
}

/// The ACK for a failure final to `invite` (§17.1.1.3): its Request-URI, top Via, From,
/// Call-ID, Route and Max-Forwards, the response's To (with its tag), CSeq number with ACK.
pub fn ack_for_failure(invite: &[u8], to: &str) -> Bytes {
    let text = String::from_utf8_lossy(invite);
    let head = text.split("\r\n\r\n").next().unwrap_or_default();
    let mut lines = head.split("\r\n");
    let uri = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or_default();
    let mut out = format!("ACK {uri} SIP/2.0\r\n");
    let mut via_done = false;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let name = name.trim();
        let lower = name.to_ascii_lowercase();
        match lower.as_str() {
            "via" | "v" if !via_done => {
                via_done = true;
                out.push_str(line);
            }
            "from" | "f" | "call-id" | "i" | "route" | "max-forwards" => out.push_str(line),
            "to" | "t" => out.push_str(&format!("To: {to}")),
            "cseq" => {
                let n = value.split_whitespace().next().unwrap_or("1");
                out.push_str(&format!("CSeq: {n} ACK"));
            }
            _ => continue,
        }
        out.push_str("\r\n");
    }
    out.push_str("Content-Length: 0\r\n\r\n");
    Bytes::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const INVITE: &str = "INVITE sip:bob@sip.test SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.5:5060;branch=z9hG4bKi1;rport\r\nMax-Forwards: 70\r\nFrom: <sip:juliet@xmpp.test>;tag=f1\r\nTo: <sip:bob@sip.test>\r\nCall-ID: c1\r\nCSeq: 7 INVITE\r\nContact: <sip:juliet@127.0.0.5>\r\nContent-Type: application/sdp\r\nContent-Length: 3\r\n\r\nv=0";

    fn b100() -> Bytes {
        Bytes::from_static(b"SIP/2.0 100 Trying")
    }

    fn key(method: &str) -> TransactionKey {
        TransactionKey {
            branch: "z9hG4bKs1".into(),
            sent_by: "127.0.0.1:5070".into(),
            method: method.into(),
        }
    }

    #[test]
    fn ack_for_a_failure_copies_the_invite_and_takes_the_response_to() {
        let ack = ack_for_failure(INVITE.as_bytes(), "<sip:bob@sip.test>;tag=b9");
        assert_eq!(
            std::str::from_utf8(&ack).unwrap(),
            "ACK sip:bob@sip.test SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.5:5060;branch=z9hG4bKi1;rport\r\nMax-Forwards: 70\r\nFrom: <sip:juliet@xmpp.test>;tag=f1\r\nTo: <sip:bob@sip.test>;tag=b9\r\nCall-ID: c1\r\nCSeq: 7 ACK\r\nContent-Length: 0\r\n\r\n"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn client_retransmits_then_acks_a_failure_once_per_copy() {
        let mut t: InviteTable<u8> = InviteTable::new(Reliability::Unreliable, Timers::RFC3261);
        let dest: SocketAddr = "127.0.0.9:5060".parse().unwrap();
        t.sent(
            "z9hG4bKi1".into(),
            Bytes::from_static(INVITE.as_bytes()),
            1,
            Some(dest),
        );
        tokio::time::advance(Timers::RFC3261.t1).await;
        let f = t.on_timers(Instant::now());
        let (send, out) = (f.send, f.timed_out);
        assert_eq!(send.len(), 1, "Timer A");
        assert!(send[0].0.starts_with(b"INVITE "));
        assert!(out.is_empty());
        let step = t.on_response(
            "z9hG4bKi1",
            486,
            "<sip:bob@sip.test>;tag=b9",
            Instant::now(),
        );
        assert_eq!(step.deliver, Some((1, 486)));
        let (ack, to) = step.send.unwrap();
        assert!(ack.starts_with(b"ACK sip:bob@sip.test "));
        assert_eq!(to, Some(dest));
        // A retransmitted 486 gets the same ACK and nothing for the user.
        let again = t.on_response(
            "z9hG4bKi1",
            486,
            "<sip:bob@sip.test>;tag=b9",
            Instant::now(),
        );
        assert!(again.deliver.is_none());
        assert_eq!(again.send.unwrap().0, ack);
        // Timer D ends it.
        tokio::time::advance(crate::sip::invite::TIMER_D).await;
        let _ = t.on_timers(Instant::now());
        assert!(!t.has_client("z9hG4bKi1"));
    }

    #[tokio::test(start_paused = true)]
    async fn client_hands_the_first_2xx_on_and_re_acks_copies_with_the_users_ack() {
        let mut t: InviteTable<u8> = InviteTable::new(Reliability::Unreliable, Timers::RFC3261);
        t.sent(
            "z9hG4bKi1".into(),
            Bytes::from_static(INVITE.as_bytes()),
            1,
            None,
        );
        let first = t.on_response(
            "z9hG4bKi1",
            200,
            "<sip:bob@sip.test>;tag=b9",
            Instant::now(),
        );
        assert_eq!(first.deliver, Some((1, 200)));
        assert!(first.send.is_none(), "the 2xx ACK is the user's");
        assert!(!t.ack_sent("other", 7, Bytes::from_static(b"ACK x")));
        assert!(t.ack_sent("c1", 7, Bytes::from_static(b"ACK e2e")));
        let copy = t.on_response(
            "z9hG4bKi1",
            200,
            "<sip:bob@sip.test>;tag=b9",
            Instant::now(),
        );
        assert!(copy.deliver.is_none());
        assert_eq!(&copy.send.unwrap().0[..], b"ACK e2e");
    }

    #[tokio::test(start_paused = true)]
    async fn client_times_out_with_timer_b() {
        let mut t: InviteTable<u8> = InviteTable::new(Reliability::Unreliable, Timers::RFC3261);
        t.sent(
            "z9hG4bKi1".into(),
            Bytes::from_static(INVITE.as_bytes()),
            3,
            None,
        );
        let mut retransmits = 0;
        let mut timed_out = Vec::new();
        for _ in 0..20 {
            let Some(d) = t.deadline() else { break };
            tokio::time::advance(d - Instant::now()).await;
            let f = t.on_timers(Instant::now());
            let (send, out) = (f.send, f.timed_out);
            retransmits += send.len();
            timed_out.extend(out);
        }
        // Timer A at 0.5, 1.5, 3.5, 7.5, 15.5, 31.5 s; Timer B at 32 s.
        assert_eq!(retransmits, 6);
        assert_eq!(timed_out, vec![3]);
    }

    #[tokio::test(start_paused = true)]
    async fn server_absorbs_retransmitted_invites_and_repeats_a_failure_until_its_ack() {
        let mut t: InviteTable<u8> = InviteTable::new(Reliability::Unreliable, Timers::RFC3261);
        let dest: SocketAddr = "127.0.0.1:5070".parse().unwrap();
        assert_eq!(
            t.on_invite(&key("INVITE"), Some(dest), Some(("c1".into(), 1)), b100()),
            Ok(Some(b100())),
            "over UDP the 100 Trying goes out at once"
        );
        // With the user: the 100 again.
        assert_eq!(
            t.on_invite(&key("INVITE"), Some(dest), None, b100()),
            Err(Some(b100()))
        );
        let sent = t.on_local_response(
            &key("INVITE"),
            403,
            Bytes::from_static(b"403"),
            Instant::now(),
        );
        assert_eq!(sent.as_deref(), Some(&b"403"[..]));
        // Answered: a retransmission gets the final again.
        assert_eq!(
            t.on_invite(&key("INVITE"), Some(dest), None, b100()),
            Err(Some(Bytes::from_static(b"403")))
        );
        tokio::time::advance(Timers::RFC3261.t1).await;
        let send = t.on_timers(Instant::now()).send;
        assert_eq!(
            send,
            vec![(Bytes::from_static(b"403"), Some(dest))],
            "Timer G"
        );
        assert!(
            t.on_ack(&key("ACK"), Some(("c1", 1)), Instant::now()),
            "hop-by-hop ACK"
        );
        tokio::time::advance(Timers::RFC3261.t2).await;
        let send = t.on_timers(Instant::now()).send;
        assert!(send.is_empty(), "no retransmission once ACKed");
    }

    #[tokio::test(start_paused = true)]
    async fn server_repeats_a_2xx_until_the_dialogs_ack() {
        let mut t: InviteTable<u8> = InviteTable::new(Reliability::Unreliable, Timers::RFC3261);
        t.on_invite(&key("INVITE"), None, Some(("c1".into(), 1)), b100())
            .unwrap();
        t.on_local_response(
            &key("INVITE"),
            200,
            Bytes::from_static(b"200"),
            Instant::now(),
        );
        tokio::time::advance(Timers::RFC3261.t1).await;
        assert_eq!(t.on_timers(Instant::now()).send.len(), 1);
        // The 2xx's ACK has a branch of its own: matched by Call-ID and CSeq, and it is the user's.
        let ack_key = TransactionKey {
            branch: "z9hG4bKother".into(),
            ..key("ACK")
        };
        assert!(!t.on_ack(&ack_key, Some(("c1", 1)), Instant::now()));
        tokio::time::advance(Timers::RFC3261.t2).await;
        assert!(t.on_timers(Instant::now()).send.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn unacked_finals_are_reported_when_timers_l_and_h_fire() {
        let mut t: InviteTable<u8> = InviteTable::new(Reliability::Reliable, Timers::RFC3261);
        let other = TransactionKey {
            branch: "z9hG4bKs2".into(),
            ..key("INVITE")
        };
        // Over a stream no 100 at once: it waits for the user.
        assert_eq!(
            t.on_invite(&key("INVITE"), None, Some(("c1".into(), 1)), b100()),
            Ok(None)
        );
        t.on_invite(&other, None, Some(("c2".into(), 1)), b100())
            .unwrap();
        t.on_local_response(
            &key("INVITE"),
            200,
            Bytes::from_static(b"200"),
            Instant::now(),
        );
        // The other INVITE's user stays silent for 200 ms: the 100 goes out.
        tokio::time::advance(crate::sip::invite::TRYING_DELAY).await;
        let f = t.on_timers(Instant::now());
        assert_eq!(f.send, vec![(b100(), None)]);
        t.on_local_response(&other, 486, Bytes::from_static(b"486"), Instant::now());
        let mut unacked = Vec::new();
        let mut failures = 0;
        for _ in 0..10 {
            let Some(d) = t.deadline() else { break };
            tokio::time::advance(d - Instant::now()).await;
            let f = t.on_timers(Instant::now());
            assert!(f.send.is_empty(), "a stream never retransmits");
            unacked.extend(f.unacked_2xx);
            failures += f.unacked_failures;
        }
        assert_eq!(unacked, vec!["c1".to_owned()]);
        assert_eq!(failures, 1);
        assert!(!t.has_server(&key("INVITE")) && !t.has_server(&other));
    }
}
