//! SIP transaction metrics (RFC 3261 §17): transactions ended, UDP retransmissions, and
//! INVITE finals that never got their ACK.

use ::metrics::{Counter, Unit, counter, describe_counter};

use super::with;

/// SIP transactions that ended, by role (`client`, `server`), method and outcome (the final's
/// class `2xx`…`6xx`, or `timeout`).
pub const SIP_TRANSACTIONS_TOTAL: &str = "parley_sip_transactions_total";
/// SIP retransmissions over UDP: `sent` (Timers A, E, G and 2xx) and `absorbed` (a
/// retransmitted request the transaction layer kept from the router).
pub const SIP_RETRANSMISSIONS_TOTAL: &str = "parley_sip_retransmissions_total";
/// INVITE server transactions whose final got no ACK, by `final` (`2xx`: Timer L, the
/// dialog is ended with BYE; `failure`: Timer H).
pub const SIP_ACK_TIMEOUTS_TOTAL: &str = "parley_sip_ack_timeouts_total";

pub(super) fn describe_sip_transactions() {
    describe_counter!(
        SIP_TRANSACTIONS_TOTAL,
        Unit::Count,
        "SIP transactions that ended, by role, method and outcome (final class or timeout)."
    );
    describe_counter!(
        SIP_RETRANSMISSIONS_TOTAL,
        Unit::Count,
        "SIP retransmissions over UDP, sent and absorbed."
    );
    describe_counter!(
        SIP_ACK_TIMEOUTS_TOTAL,
        Unit::Count,
        "INVITE server transactions whose final got no ACK, by final (2xx, failure)."
    );
}

/// The methods with a label of their own; anything else is `other`.
const KNOWN: [&str; 14] = [
    "INVITE",
    "ACK",
    "BYE",
    "CANCEL",
    "MESSAGE",
    "SUBSCRIBE",
    "NOTIFY",
    "OPTIONS",
    "PUBLISH",
    "INFO",
    "REFER",
    "UPDATE",
    "PRACK",
    "REGISTER",
];
const OUTCOMES: [&str; 7] = ["1xx", "2xx", "3xx", "4xx", "5xx", "6xx", "timeout"];
/// Role × method (the known ones, then `other`) × outcome.
const SERIES: usize = 2 * (KNOWN.len() + 1) * OUTCOMES.len();

/// The transaction counters, each registered on first use (a lookup in the recorder's
/// registry per transaction would cost more than the transaction's other metrics together).
static TRANSACTIONS: [std::sync::OnceLock<Counter>; SERIES] =
    [const { std::sync::OnceLock::new() }; SERIES];

/// The index of a method in [`KNOWN`], or `KNOWN.len()` for `other`.
fn sip_method_index(method: &str) -> usize {
    (KNOWN.iter())
        .position(|m| m.eq_ignore_ascii_case(method))
        .unwrap_or(KNOWN.len())
}

/// A SIP transaction ended: `client` (a final response, or `None` for Timer B/F) or
/// `server` (the final parley sent).
pub fn sip_transaction(client: bool, method: &str, code: Option<u16>) {
    with(|_| {
        let outcome = match code {
            Some(100..=199) => 0,
            Some(200..=299) => 1,
            Some(300..=399) => 2,
            Some(400..=499) => 3,
            Some(500..=599) => 4,
            Some(_) => 5,
            None => 6,
        };
        let m = sip_method_index(method);
        let i = ((client as usize) * (KNOWN.len() + 1) + m) * OUTCOMES.len() + outcome;
        TRANSACTIONS[i]
            .get_or_init(|| {
                counter!(SIP_TRANSACTIONS_TOTAL,
                    "role" => if client { "client" } else { "server" },
                    "method" => KNOWN.get(m).copied().unwrap_or("other"),
                    "outcome" => OUTCOMES[outcome])
            })
            .increment(1);
    });
}

/// An INVITE server transaction ended without the ACK for its final (`two_xx`: Timer L,
/// else Timer H).
pub fn sip_ack_timeout(two_xx: bool) {
    let label = if two_xx { "2xx" } else { "failure" };
    with(|_| counter!(SIP_ACK_TIMEOUTS_TOTAL, "final" => label).increment(1));
}

/// `n` SIP retransmissions `sent` or `absorbed`.
pub fn sip_retransmissions(direction: &'static str, n: u64) {
    if n > 0 {
        with(|_| counter!(SIP_RETRANSMISSIONS_TOTAL, "direction" => direction).increment(n));
    }
}
