//! INVITE transactions (RFC 3261 §17.1.1 client, §17.2.1 server, with the RFC 6026 *Accepted*
//! state and §13.3.1.4 2xx retransmission) as pure state machines in the style of
//! [`super::transaction`]: one struct per state, transitions consume it, timers are data.
//!
//! Client (figure 5, RFC 6026 figure 3):
//! - *Calling*: the INVITE is out. Timer A retransmits it over UDP at T1, 2·T1, 4·T1…;
//!   Timer B (64·T1) ends it with a timeout. 1xx → *Proceeding* (no more retransmissions).
//! - *Proceeding*: waits for the final.
//! - 2xx (from *Calling* or *Proceeding*) → *Accepted* for Timer M (64·T1): the user sends the
//!   ACK itself (it is end-to-end); retransmitted 2xx are handed to it again so it re-ACKs.
//! - 3xx–6xx → *Completed*: the transaction ACKs; retransmitted finals get the ACK again
//!   until Timer D (32 s over UDP, 0 over a stream).
//!
//! Server (figure 7, RFC 6026 figure 5):
//! - *Proceeding*: over UDP 100 Trying goes out at once; over a stream only when the user
//!   has not answered within 200 ms (§17.2.1). A retransmitted INVITE gets the last
//!   provisional again; a CANCEL ends it with 487 (§9.2).
//! - 2xx → *Accepted* until Timer L (64·T1); over UDP the 2xx is retransmitted at T1 doubling
//!   to T2 until the ACK arrives (§13.3.1.4); no ACK by then asks the user to end the dialog.
//! - 3xx–6xx → *Completed*: Timer G retransmits the final over UDP (T1 doubling to T2) until
//!   the ACK; Timer H (64·T1) gives up. ACK → *Confirmed*, which absorbs further ACKs for
//!   Timer I (T4 over UDP, 0 over a stream).

use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

use super::transaction::{Reliability, Timers};

/// Timer D over an unreliable transport (§17.1.1.2: at least 32 s).
pub const TIMER_D: Duration = Duration::from_secs(32);

/// §17.2.1: without a response from the user within this time, the server transaction
/// sends 100 Trying itself.
pub const TRYING_DELAY: Duration = Duration::from_millis(200);

// ---------------------------------------------------------------------------------------
// Client
// ---------------------------------------------------------------------------------------

/// Client, *Calling*: INVITE sent, nothing heard.
#[derive(Debug)]
pub struct Calling {
    reliability: Reliability,
    timers: Timers,
    interval: Duration,
    timer_a: Option<Instant>,
    timer_b: Instant,
}

/// Client, *Proceeding*: a provisional arrived.
#[derive(Debug)]
pub struct ClientProceeding {
    reliability: Reliability,
    timers: Timers,
}

/// Client, *Completed*: a failure final arrived and was ACKed.
#[derive(Debug)]
pub struct ClientCompleted {
    timer_d: Instant,
}

/// Client, *Accepted*: a 2xx arrived; the user ACKs each copy.
#[derive(Debug)]
pub struct ClientAccepted {
    timer_m: Instant,
}

/// A live INVITE client transaction.
#[derive(Debug)]
pub enum InviteClient {
    /// INVITE sent.
    Calling(Calling),
    /// Provisional received.
    Proceeding(ClientProceeding),
    /// Failure final received and ACKed.
    Completed(ClientCompleted),
    /// 2xx received.
    Accepted(ClientAccepted),
}

/// What the caller does after a client transition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAction {
    /// Nothing.
    None,
    /// Send the INVITE again (Timer A).
    Retransmit,
    /// A provisional for the user.
    Provisional(u16),
    /// A 2xx for the user, which must send the ACK (again for a retransmitted 2xx).
    Accepted(u16),
    /// A failure final: send the ACK (§17.1.1.3) and hand `code` to the user once.
    Rejected(u16),
    /// A retransmitted failure final: send the same ACK again, nothing for the user.
    AckAgain,
    /// Timer B fired: the user gets a local 408.
    TimedOut,
}

impl InviteClient {
    /// An INVITE was just sent at `now`.
    pub fn start(reliability: Reliability, timers: Timers, now: Instant) -> InviteClient {
        InviteClient::Calling(Calling {
            reliability,
            timers,
            interval: timers.t1,
            timer_a: (reliability == Reliability::Unreliable).then(|| now + timers.t1),
            timer_b: now + timers.timeout(),
        })
    }

    /// When [`InviteClient::on_timer`] must next be called, if ever.
    pub fn deadline(&self) -> Option<Instant> {
        match self {
            InviteClient::Calling(s) => Some(s.timer_a.map_or(s.timer_b, |a| a.min(s.timer_b))),
            InviteClient::Proceeding(_) => None,
            InviteClient::Completed(s) => Some(s.timer_d),
            InviteClient::Accepted(s) => Some(s.timer_m),
        }
    }

    /// A response with status `code` matched this transaction.
    pub fn on_response(self, code: u16, now: Instant) -> (Option<InviteClient>, ClientAction) {
        let (reliability, timers) = match &self {
            InviteClient::Calling(s) => (s.reliability, s.timers),
            InviteClient::Proceeding(s) => (s.reliability, s.timers),
            InviteClient::Completed(_) if code >= 300 => {
                return (Some(self), ClientAction::AckAgain);
            }
            InviteClient::Accepted(_) if (200..300).contains(&code) => {
                return (Some(self), ClientAction::Accepted(code));
            }
            // Anything else after the final is stray: absorbed.
            InviteClient::Completed(_) | InviteClient::Accepted(_) => {
                return (Some(self), ClientAction::None);
            }
        };
        match code {
            100..=199 => (
                Some(InviteClient::Proceeding(ClientProceeding {
                    reliability,
                    timers,
                })),
                ClientAction::Provisional(code),
            ),
            200..=299 => (
                Some(InviteClient::Accepted(ClientAccepted {
                    timer_m: now + timers.timeout(),
                })),
                ClientAction::Accepted(code),
            ),
            _ => {
                let timer_d = match reliability {
                    Reliability::Reliable => now,
                    Reliability::Unreliable => now + TIMER_D,
                };
                (
                    Some(InviteClient::Completed(ClientCompleted { timer_d })),
                    ClientAction::Rejected(code),
                )
            }
        }
    }

    /// The deadline passed: the state to keep (none: terminated) and what to do.
    pub fn on_timer(self, now: Instant) -> (Option<InviteClient>, ClientAction) {
        match self {
            InviteClient::Calling(mut s) => {
                if now >= s.timer_b {
                    return (None, ClientAction::TimedOut);
                }
                match s.timer_a {
                    Some(a) if now >= a => {
                        // §17.1.1.2: Timer A doubles without a cap (Timer B ends it first).
                        s.interval *= 2;
                        s.timer_a = Some(now + s.interval);
                        (Some(InviteClient::Calling(s)), ClientAction::Retransmit)
                    }
                    _ => (Some(InviteClient::Calling(s)), ClientAction::None),
                }
            }
            InviteClient::Completed(s) if now >= s.timer_d => (None, ClientAction::None),
            InviteClient::Accepted(s) if now >= s.timer_m => (None, ClientAction::None),
            other => (Some(other), ClientAction::None),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Server
// ---------------------------------------------------------------------------------------

/// Server, *Proceeding*: the INVITE is with the user; `last` is the provisional sent (empty:
/// none yet).
#[derive(Debug)]
pub struct ServerProceeding {
    reliability: Reliability,
    timers: Timers,
    last: Bytes,
    /// The 100 Trying, and when to send it if the user stays silent (none: sent already).
    trying: Bytes,
    trying_at: Option<Instant>,
}

/// Server, *Accepted*: a 2xx was sent; retransmitted until the ACK over UDP.
#[derive(Debug)]
pub struct ServerAccepted {
    timers: Timers,
    response: Bytes,
    interval: Duration,
    /// Next 2xx retransmission; none once ACKed or over a stream.
    retransmit_at: Option<Instant>,
    acked: bool,
    timer_l: Instant,
}

/// Server, *Completed*: a failure final was sent; waiting for its ACK.
#[derive(Debug)]
pub struct ServerCompleted {
    reliability: Reliability,
    timers: Timers,
    response: Bytes,
    interval: Duration,
    timer_g: Option<Instant>,
    timer_h: Instant,
}

/// Server, *Confirmed*: the ACK arrived; later ACKs are absorbed until Timer I.
#[derive(Debug)]
pub struct ServerConfirmed {
    timer_i: Instant,
}

/// A live INVITE server transaction.
#[derive(Debug)]
pub enum InviteServer {
    /// With the user.
    Proceeding(ServerProceeding),
    /// 2xx sent.
    Accepted(ServerAccepted),
    /// Failure sent.
    Completed(ServerCompleted),
    /// Failure ACKed.
    Confirmed(ServerConfirmed),
}

/// What the caller does after a server transition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerAction {
    /// Nothing.
    None,
    /// Send these bytes (a response, again or for the first time).
    Send(Bytes),
    /// The ACK for the 2xx arrived: the dialog is confirmed.
    Acked,
    /// No ACK came for the 2xx by Timer L: the user ends the dialog with BYE (§13.3.1.4).
    AckTimeout,
    /// No ACK came for a failure final by Timer H (§17.2.1): the transaction ends.
    FailureAckTimeout,
}

impl InviteServer {
    /// A new INVITE at `now`, with its `100 Trying` (`trying`, serialized by the caller):
    /// the transaction, and the 100 when it goes out at once (over UDP, §17.2.1). Over a
    /// stream it waits [`TRYING_DELAY`] for the user's response.
    pub fn start(
        reliability: Reliability,
        timers: Timers,
        trying: Bytes,
        now: Instant,
    ) -> (InviteServer, Option<Bytes>) {
        let at_once = reliability == Reliability::Unreliable;
        let s = InviteServer::Proceeding(ServerProceeding {
            reliability,
            timers,
            last: if at_once {
                trying.clone()
            } else {
                Bytes::new()
            },
            trying_at: (!at_once).then(|| now + TRYING_DELAY),
            trying: trying.clone(),
        });
        (s, at_once.then_some(trying))
    }

    /// Whether no final was sent yet (a CANCEL still applies, §9.2).
    pub fn is_proceeding(&self) -> bool {
        matches!(self, InviteServer::Proceeding(_))
    }

    /// When [`InviteServer::on_timer`] must next be called, if ever.
    pub fn deadline(&self) -> Option<Instant> {
        match self {
            InviteServer::Proceeding(s) => s.trying_at,
            InviteServer::Accepted(s) => {
                Some(s.retransmit_at.map_or(s.timer_l, |r| r.min(s.timer_l)))
            }
            InviteServer::Completed(s) => Some(s.timer_g.map_or(s.timer_h, |g| g.min(s.timer_h))),
            InviteServer::Confirmed(s) => Some(s.timer_i),
        }
    }

    /// The user's response `code`, serialized as `bytes`.
    pub fn on_response(
        self,
        code: u16,
        bytes: Bytes,
        now: Instant,
    ) -> (Option<InviteServer>, ServerAction) {
        let InviteServer::Proceeding(p) = self else {
            // A final was already sent: a later response is discarded.
            return (Some(self), ServerAction::None);
        };
        let unreliable = p.reliability == Reliability::Unreliable;
        let t1 = p.timers.t1;
        let next = match code {
            100..=199 => InviteServer::Proceeding(ServerProceeding {
                last: bytes.clone(),
                trying_at: None,
                ..p
            }),
            200..=299 => InviteServer::Accepted(ServerAccepted {
                timers: p.timers,
                response: bytes.clone(),
                interval: t1,
                retransmit_at: unreliable.then(|| now + t1),
                acked: false,
                timer_l: now + p.timers.timeout(),
            }),
            _ => InviteServer::Completed(ServerCompleted {
                reliability: p.reliability,
                timers: p.timers,
                response: bytes.clone(),
                interval: t1,
                timer_g: unreliable.then(|| now + t1),
                timer_h: now + p.timers.timeout(),
            }),
        };
        (Some(next), ServerAction::Send(bytes))
    }

    /// The INVITE arrived again.
    pub fn on_retransmission(&self) -> ServerAction {
        match self {
            InviteServer::Proceeding(s) => ServerAction::Send(s.last.clone()),
            InviteServer::Completed(s) => ServerAction::Send(s.response.clone()),
            // RFC 6026 §7.1: absorbed in Accepted (the 2xx is retransmitted on its timer).
            InviteServer::Accepted(_) | InviteServer::Confirmed(_) => ServerAction::None,
        }
    }

    /// An ACK for this transaction (or, in *Accepted*, for its 2xx) arrived.
    pub fn on_ack(self, now: Instant) -> (Option<InviteServer>, ServerAction) {
        match self {
            InviteServer::Accepted(mut s) => {
                let first = !s.acked;
                s.acked = true;
                s.retransmit_at = None;
                let action = if first {
                    ServerAction::Acked
                } else {
                    ServerAction::None
                };
                (Some(InviteServer::Accepted(s)), action)
            }
            InviteServer::Completed(s) => {
                let timer_i = match s.reliability {
                    Reliability::Reliable => now,
                    Reliability::Unreliable => now + s.timers.t4,
                };
                (
                    Some(InviteServer::Confirmed(ServerConfirmed { timer_i })),
                    ServerAction::None,
                )
            }
            other => (Some(other), ServerAction::None),
        }
    }

    /// The deadline passed.
    pub fn on_timer(self, now: Instant) -> (Option<InviteServer>, ServerAction) {
        match self {
            InviteServer::Accepted(mut s) => {
                if now >= s.timer_l {
                    let action = if s.acked {
                        ServerAction::None
                    } else {
                        ServerAction::AckTimeout
                    };
                    return (None, action);
                }
                match s.retransmit_at {
                    Some(r) if now >= r => {
                        s.interval = (s.interval * 2).min(s.timers.t2);
                        s.retransmit_at = Some(now + s.interval);
                        let bytes = s.response.clone();
                        (Some(InviteServer::Accepted(s)), ServerAction::Send(bytes))
                    }
                    _ => (Some(InviteServer::Accepted(s)), ServerAction::None),
                }
            }
            InviteServer::Proceeding(mut s) => match s.trying_at {
                Some(at) if now >= at => {
                    s.trying_at = None;
                    s.last = s.trying.clone();
                    let bytes = s.trying.clone();
                    (Some(InviteServer::Proceeding(s)), ServerAction::Send(bytes))
                }
                _ => (Some(InviteServer::Proceeding(s)), ServerAction::None),
            },
            InviteServer::Completed(mut s) => {
                if now >= s.timer_h {
                    return (None, ServerAction::FailureAckTimeout);
                }
                match s.timer_g {
                    Some(g) if now >= g => {
                        s.interval = (s.interval * 2).min(s.timers.t2);
                        s.timer_g = Some(now + s.interval);
                        let bytes = s.response.clone();
                        (Some(InviteServer::Completed(s)), ServerAction::Send(bytes))
                    }
                    _ => (Some(InviteServer::Completed(s)), ServerAction::None),
                }
            }
            InviteServer::Confirmed(s) if now >= s.timer_i => (None, ServerAction::None),
            other => (Some(other), ServerAction::None),
        }
    }
}

#[cfg(test)]
#[path = "invite_tests.rs"]
mod tests;

#[path = "invite_table.rs"]
pub mod table;
