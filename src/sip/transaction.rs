//! Non-INVITE transactions (RFC 3261 §17.1.2 client, §17.2.2 server, §17.1.3 / §17.2.3
//! matching) as pure state machines: one struct per state, every transition consumes the
//! state and returns the next one (or none: terminated) with what the caller must do. Timers
//! E, F, K and J are data: each state says when it next wants [`Client::on_timer`] /
//! [`Server::on_timer`] called. No I/O, no spawning, no clock reads: the caller passes `now`.
//!
//! Client (§17.1.2.2, figure 6):
//! - *Trying*: the request was sent. Over an unreliable transport Timer E retransmits it at
//!   T1, 2·T1, … capped at T2. A provisional response moves to *Proceeding*, a final one to
//!   *Completed* (handed to the transaction user once), Timer F (64·T1) ends it with a timeout.
//! - *Proceeding*: Timer E retransmits at T2. Final → *Completed*. Timer F → timeout.
//! - *Completed*: absorbs retransmitted finals for Timer K (T4 unreliable, 0 reliable).
//!
//! Server (§17.2.2, figure 8):
//! - *Trying*: the request was handed to the transaction user; retransmissions are absorbed.
//! - *Proceeding*: a provisional was sent; retransmissions get it again.
//! - *Completed*: the final was sent; retransmissions get it again until Timer J (64·T1
//!   unreliable, 0 reliable), later responses from the user are discarded.

use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

use super::SipMessage;

/// The RFC 3261 §17.1.1.1 timer values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timers {
    /// RTT estimate (500 ms).
    pub t1: Duration,
    /// Maximum retransmission interval of non-INVITE requests (4 s).
    pub t2: Duration,
    /// Maximum time a message stays in the network (5 s).
    pub t4: Duration,
}

impl Timers {
    /// The RFC defaults.
    pub const RFC3261: Timers = Timers {
        t1: Duration::from_millis(500),
        t2: Duration::from_secs(4),
        t4: Duration::from_secs(5),
    };

    /// Timers with Timer F (= 64·T1) as given: T1 is derived from it, T2 and T4 keep their
    /// defaults unless T1 would exceed them.
    pub fn with_timeout(timer_f: Duration) -> Timers {
        let t1 = timer_f / 64;
        Timers {
            t1,
            t2: Timers::RFC3261.t2.max(t1),
            t4: Timers::RFC3261.t4,
        }
    }

    /// Timer F and Timer J (64·T1).
    pub fn timeout(&self) -> Duration {
        self.t1 * 64
    }
}

impl Default for Timers {
    fn default() -> Self {
        Timers::RFC3261
    }
}

/// Whether the transport retransmits by itself (TCP, TLS) or not (UDP).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reliability {
    /// A stream: no retransmissions, Timers K and J are zero.
    Reliable,
    /// Datagrams: Timer E retransmits, Timers K and J absorb late copies.
    Unreliable,
}

/// What identifies a transaction (RFC 3261 §17.2.3 for requests, §17.1.3 for responses):
/// the top Via branch, its sent-by and the CSeq method.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TransactionKey {
    /// Top Via `branch` (an RFC 3261 magic-cookie branch).
    pub branch: String,
    /// Top Via sent-by (`host[:port]`, lower-cased host).
    pub sent_by: String,
    /// CSeq method.
    pub method: String,
}

impl TransactionKey {
    /// The key of a request or response, or `None` when it has no RFC 3261 branch (RFC 2543
    /// peers: parley does not match those, each request is a new transaction).
    pub fn of(msg: &SipMessage) -> Option<TransactionKey> {
        let via = msg.via().ok()?;
        let branch = via.branch.filter(|b| b.starts_with("z9hG4bK"))?;
        let method = msg.cseq().ok()?.method;
        let mut sent_by = via.host.to_ascii_lowercase();
        if let Some(p) = via.port {
            sent_by.push(':');
            sent_by.push_str(&p.to_string());
        }
        Some(TransactionKey {
            branch: branch.to_owned(),
            sent_by,
            method: method.to_ascii_uppercase(),
        })
    }
}

// ---------------------------------------------------------------------------------------
// Client transaction
// ---------------------------------------------------------------------------------------

/// Client, *Trying*: the request is out, no response yet.
#[derive(Debug)]
pub struct ClientTrying {
    reliability: Reliability,
    timers: Timers,
    interval: Duration,
    timer_e: Option<Instant>,
    timer_f: Instant,
}

/// Client, *Proceeding*: a provisional response arrived.
#[derive(Debug)]
pub struct ClientProceeding {
    reliability: Reliability,
    timers: Timers,
    timer_e: Option<Instant>,
    timer_f: Instant,
}

/// Client, *Completed*: the final response arrived and was handed on; late copies are
/// absorbed until Timer K.
#[derive(Debug)]
pub struct ClientCompleted {
    timer_k: Instant,
}

/// A client transaction in one of its live states (terminated ones are dropped).
#[derive(Debug)]
pub enum Client {
    /// Request sent.
    Trying(ClientTrying),
    /// Provisional received.
    Proceeding(ClientProceeding),
    /// Final received.
    Completed(ClientCompleted),
}

/// What the caller does after a client transition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAction {
    /// Nothing.
    None,
    /// Send the request again (Timer E).
    Retransmit,
    /// Hand this final status to the transaction user (once per transaction).
    Final(u16),
    /// Timer F fired: the user gets a local 408 (RFC 3261 §8.1.3.1).
    TimedOut,
}

impl ClientTrying {
    /// The request was just sent at `now`.
    pub fn start(reliability: Reliability, timers: Timers, now: Instant) -> ClientTrying {
        ClientTrying {
            reliability,
            timers,
            interval: timers.t1,
            timer_e: (reliability == Reliability::Unreliable).then(|| now + timers.t1),
            timer_f: now + timers.timeout(),
        }
    }

    /// A response with status `code` arrived.
    pub fn on_response(self, code: u16, now: Instant) -> (Option<Client>, ClientAction) {
        if code < 200 {
            let next = ClientProceeding {
                reliability: self.reliability,
                timers: self.timers,
                // §17.1.2.2: in Proceeding Timer E fires at T2.
                timer_e: self.timer_e.map(|_| now + self.timers.t2),
                timer_f: self.timer_f,
            };
            return (Some(Client::Proceeding(next)), ClientAction::None);
        }
        complete(self.reliability, self.timers, code, now)
    }

    /// The earliest timer is due.
    pub fn on_timer(mut self, now: Instant) -> (Option<Client>, ClientAction) {
        if now >= self.timer_f {
            return (None, ClientAction::TimedOut);
        }
        match self.timer_e {
            Some(e) if now >= e => {
                self.interval = (self.interval * 2).min(self.timers.t2);
                self.timer_e = Some(now + self.interval);
                (Some(Client::Trying(self)), ClientAction::Retransmit)
            }
            _ => (Some(Client::Trying(self)), ClientAction::None),
        }
    }
}

impl ClientProceeding {
    /// A response with status `code` arrived.
    pub fn on_response(self, code: u16, now: Instant) -> (Option<Client>, ClientAction) {
        if code < 200 {
            return (Some(Client::Proceeding(self)), ClientAction::None);
        }
        complete(self.reliability, self.timers, code, now)
    }

    /// The earliest timer is due.
    pub fn on_timer(mut self, now: Instant) -> (Option<Client>, ClientAction) {
        if now >= self.timer_f {
            return (None, ClientAction::TimedOut);
        }
        match self.timer_e {
            Some(e) if now >= e => {
                self.timer_e = Some(now + self.timers.t2);
                (Some(Client::Proceeding(self)), ClientAction::Retransmit)
            }
            _ => (Some(Client::Proceeding(self)), ClientAction::None),
        }
    }
}

fn complete(
    reliability: Reliability,
    timers: Timers,
    code: u16,
    now: Instant,
) -> (Option<Client>, ClientAction) {
    let action = ClientAction::Final(code);
    match reliability {
        // Timer K is zero: terminated at once.
        Reliability::Reliable => (None, action),
        Reliability::Unreliable => (
            Some(Client::Completed(ClientCompleted {
                timer_k: now + timers.t4,
            })),
            action,
        ),
    }
}

impl ClientCompleted {
    /// A retransmitted final: absorbed.
    pub fn on_response(self) -> (Option<Client>, ClientAction) {
        (Some(Client::Completed(self)), ClientAction::None)
    }

    /// Timer K.
    pub fn on_timer(self, now: Instant) -> (Option<Client>, ClientAction) {
        if now >= self.timer_k {
            return (None, ClientAction::None);
        }
        (Some(Client::Completed(self)), ClientAction::None)
    }
}

impl Client {
    /// A new transaction for a request sent at `now`.
    pub fn start(reliability: Reliability, timers: Timers, now: Instant) -> Client {
        Client::Trying(ClientTrying::start(reliability, timers, now))
    }

    /// When [`Client::on_timer`] must next be called.
    pub fn deadline(&self) -> Instant {
        match self {
            Client::Trying(s) => s.timer_e.map_or(s.timer_f, |e| e.min(s.timer_f)),
            Client::Proceeding(s) => s.timer_e.map_or(s.timer_f, |e| e.min(s.timer_f)),
            Client::Completed(s) => s.timer_k,
        }
    }

    /// A response matched this transaction.
    pub fn on_response(self, code: u16, now: Instant) -> (Option<Client>, ClientAction) {
        match self {
            Client::Trying(s) => s.on_response(code, now),
            Client::Proceeding(s) => s.on_response(code, now),
            Client::Completed(s) => s.on_response(),
        }
    }

    /// The deadline passed.
    pub fn on_timer(self, now: Instant) -> (Option<Client>, ClientAction) {
        match self {
            Client::Trying(s) => s.on_timer(now),
            Client::Proceeding(s) => s.on_timer(now),
            Client::Completed(s) => s.on_timer(now),
        }
    }

    /// Whether the final response was already handed on.
    pub fn is_completed(&self) -> bool {
        matches!(self, Client::Completed(_))
    }
}

// ---------------------------------------------------------------------------------------
// Server transaction
// ---------------------------------------------------------------------------------------

/// Server, *Trying*: the request is with the transaction user, nothing sent yet.
#[derive(Debug)]
pub struct ServerTrying {
    reliability: Reliability,
    timers: Timers,
}

/// Server, *Proceeding*: a provisional response was sent.
#[derive(Debug)]
pub struct ServerProceeding {
    reliability: Reliability,
    timers: Timers,
    last: Bytes,
}

/// Server, *Completed*: the final response was sent; kept to answer retransmissions.
#[derive(Debug)]
pub struct ServerCompleted {
    last: Bytes,
    timer_j: Instant,
}

/// A server transaction in one of its live states.
#[derive(Debug)]
pub enum Server {
    /// With the transaction user.
    Trying(ServerTrying),
    /// Provisional sent.
    Proceeding(ServerProceeding),
    /// Final sent.
    Completed(ServerCompleted),
}

impl ServerTrying {
    /// A new request arrived and goes to the transaction user.
    pub fn start(reliability: Reliability, timers: Timers) -> ServerTrying {
        ServerTrying {
            reliability,
            timers,
        }
    }

    /// The user answered with `code`, serialized as `bytes`: send it.
    pub fn on_response(self, code: u16, bytes: Bytes, now: Instant) -> (Option<Server>, Bytes) {
        respond(self.reliability, self.timers, code, bytes, now)
    }
}

impl ServerProceeding {
    /// The user answered again.
    pub fn on_response(self, code: u16, bytes: Bytes, now: Instant) -> (Option<Server>, Bytes) {
        respond(self.reliability, self.timers, code, bytes, now)
    }
}

fn respond(
    reliability: Reliability,
    timers: Timers,
    code: u16,
    bytes: Bytes,
    now: Instant,
) -> (Option<Server>, Bytes) {
    if code < 200 {
        let next = ServerProceeding {
            reliability,
            timers,
            last: bytes.clone(),
        };
        return (Some(Server::Proceeding(next)), bytes);
    }
    let next = match reliability {
        // Timer J is zero over a stream: terminated once the final is sent.
        Reliability::Reliable => None,
        Reliability::Unreliable => Some(Server::Completed(ServerCompleted {
            last: bytes.clone(),
            timer_j: now + timers.timeout(),
        })),
    };
    (next, bytes)
}

impl Server {
    /// A new server transaction for a request handed to the user.
    pub fn start(reliability: Reliability, timers: Timers) -> Server {
        Server::Trying(ServerTrying::start(reliability, timers))
    }

    /// The request arrived again: what to send back (nothing while the user works on it).
    pub fn on_retransmission(&self) -> Option<Bytes> {
        match self {
            Server::Trying(_) => None,
            Server::Proceeding(s) => Some(s.last.clone()),
            Server::Completed(s) => Some(s.last.clone()),
        }
    }

    /// The user's response: the bytes to send, or `None` when the transaction already
    /// completed (a second final is discarded, §17.2.2).
    pub fn on_response(
        self,
        code: u16,
        bytes: Bytes,
        now: Instant,
    ) -> (Option<Server>, Option<Bytes>) {
        match self {
            Server::Trying(s) => {
                let (next, out) = s.on_response(code, bytes, now);
                (next, Some(out))
            }
            Server::Proceeding(s) => {
                let (next, out) = s.on_response(code, bytes, now);
                (next, Some(out))
            }
            done @ Server::Completed(_) => (Some(done), None),
        }
    }

    /// When [`Server::on_timer`] must next be called (Timer J), if ever.
    pub fn deadline(&self) -> Option<Instant> {
        match self {
            Server::Completed(s) => Some(s.timer_j),
            _ => None,
        }
    }

    /// Timer J: the state to keep, or `None` (terminated).
    pub fn on_timer(self, now: Instant) -> Option<Server> {
        match self {
            Server::Completed(s) if now >= s.timer_j => None,
            other => Some(other),
        }
    }
}

#[cfg(test)]
#[path = "transaction_tests.rs"]
mod tests;
