//! RFC 3261 §12.2.2: requests inside one dialog are handled in the order they arrived; and
//! page-mode MESSAGEs (RFC 3428) from one sender to one recipient cross in the order they
//! arrived.
//!
//! A connection hands every request to its own task, so two requests read from one TCP
//! segment could otherwise run on two threads in either order (the runtime even tends to run
//! the later one first). In a dialog the second would then win the CSeq check and the first get
//! 500 (CSeq out of order) — which ends the subscription at many notifiers — and presence
//! states would reach the watcher out of order; two chat lines would reach the reader swapped.
//! Each such request therefore takes a [`Turn`] while it is still on the reading task, in wire
//! order, and waits for the previous request of its dialog (or sender and recipient) before it
//! is handled. The turn passes on when the handler ends, or earlier when the handler calls
//! [`pass_turn`] because the request is already queued in order towards the far side (a
//! message waiting for its delivery confirmation does not hold up the next one). Other
//! requests outside a dialog (initial SUBSCRIBE or INVITE, CANCEL, OPTIONS) never wait.

use std::cell::Cell;
use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};

use tokio::sync::oneshot;

use crate::sip::message::Method;
use crate::sip::{HeaderName, SipMessage};

/// Tracked dialogs beyond which finished ones are swept (the table then holds at most the
/// dialogs with a request still in hand, plus this many).
const SWEEP_ABOVE: usize = 256;

tokio::task_local! {
    /// The turn of the request the current task handles, for [`pass_turn`].
    static HELD: Cell<Option<oneshot::Sender<()>>>;
}

/// Per connection (or UDP socket): the last request handed out for each dialog or pair.
#[derive(Default)]
pub(crate) struct DialogOrder {
    last: HashMap<u64, oneshot::Receiver<()>>,
    hasher: RandomState,
    sweep_above: usize,
}

/// A request's place in its dialog: wait for the one before, then hold until dropped.
pub(crate) struct Turn {
    after: Option<oneshot::Receiver<()>>,
    done: oneshot::Sender<()>,
}

impl Turn {
    /// Returns once every earlier request of the same dialog has been handled.
    pub(crate) async fn wait(&mut self) {
        if let Some(previous) = &mut self.after {
            // The previous task drops its sender when it is done (it never sends). Kept until
            // then, so a wait that is given up can be taken up again.
            let _ = previous.await;
            self.after = None;
        }
    }
}

/// Wait for the requests before `turn` (if the request has one), then run the handler
/// `make` returns, holding the turn until it ends or calls [`pass_turn`]. The handler is made
/// only once it may run, so the future of a waiting request holds it once, not twice.
pub(crate) async fn run_in_turn<F: Future>(
    turn: Option<Turn>,
    make: impl FnOnce() -> F,
) -> F::Output {
    let done = match turn {
        Some(mut turn) => {
            turn.wait().await;
            Some(turn.done)
        }
        None => None,
    };
    HELD.scope(Cell::new(done), make()).await
}

/// The request the current task handles is queued in order towards the far side: the next
/// request of its dialog or pair may go on. Does nothing outside [`run_in_turn`].
pub(crate) fn pass_turn() {
    let _ = HELD.try_with(|held| drop(held.take()));
}

impl DialogOrder {
    /// The turn of `msg` if it belongs to a dialog (its To has a tag) or is a page-mode
    /// MESSAGE, `None` otherwise.
    pub(crate) fn turn(&mut self, msg: &SipMessage) -> Option<Turn> {
        let key = self.order_key(msg)?;
        let (done, next) = oneshot::channel();
        let after = self.last.insert(key, next);
        if self.last.len() > self.sweep_above.max(SWEEP_ABOVE) {
            self.last
                .retain(|_, rx| matches!(rx.try_recv(), Err(oneshot::error::TryRecvError::Empty)));
            self.sweep_above = self.last.len() * 2;
        }
        Some(Turn { after, done })
    }

    /// How many dialogs are tracked (tests).
    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.last.len()
    }

    fn order_key(&self, msg: &SipMessage) -> Option<u64> {
        let to = msg.to().ok()?;
        let from = msg.from().ok();
        match to.tag {
            Some(to_tag) => {
                let from_tag = from.and_then(|f| f.tag).unwrap_or("");
                let call_id = msg.header(HeaderName::CallId)?;
                Some(self.hasher.hash_one((call_id, from_tag, to_tag)))
            }
            None if msg.method() == Some(Method::Message) => {
                Some(self.hasher.hash_one(("page", from?.uri, to.uri)))
            }
            None => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::SipLimits;
    use bytes::Bytes;
    use std::time::Duration;

    fn request(call_id: &str, to_tag: Option<&str>, cseq: u32) -> SipMessage {
        let to_tag = to_tag.map(|t| format!(";tag={t}")).unwrap_or_default();
        let raw = format!(
            "NOTIFY sip:j@x.test SIP/2.0\r\nVia: SIP/2.0/TLS h.test;branch=z9hG4bK{cseq}\r\n\
             From: <sip:c@s.test>;tag=f\r\nTo: <sip:j@x.test>{to_tag}\r\nCall-ID: {call_id}\r\n\
             CSeq: {cseq} NOTIFY\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
        );
        SipMessage::parse(Bytes::from(raw), &SipLimits::default()).expect("valid request")
    }

    #[tokio::test]
    async fn a_later_request_of_the_same_dialog_waits_for_the_earlier_one() {
        let mut order = DialogOrder::default();
        let first = order.turn(&request("a", Some("t"), 1)).expect("in dialog");
        let mut second = order.turn(&request("a", Some("t"), 2)).expect("in dialog");
        let waited = tokio::time::timeout(Duration::from_millis(50), second.wait()).await;
        assert!(
            waited.is_err(),
            "the second ran while the first was still in hand"
        );
        drop(first);
        tokio::time::timeout(Duration::from_secs(5), second.wait())
            .await
            .expect("the second runs once the first is done");
    }

    #[tokio::test]
    async fn other_dialogs_and_requests_outside_a_dialog_do_not_wait() {
        let mut order = DialogOrder::default();
        let _held = order.turn(&request("a", Some("t"), 1)).expect("in dialog");
        let mut other = order.turn(&request("b", Some("t"), 1)).expect("in dialog");
        tokio::time::timeout(Duration::from_secs(5), other.wait())
            .await
            .expect("another dialog does not wait");
        assert!(order.turn(&request("a", None, 2)).is_none());
    }

    fn message(from: &str, to: &str, n: u32) -> SipMessage {
        let raw = format!(
            "MESSAGE sip:{to} SIP/2.0\r\nVia: SIP/2.0/TLS h.test;branch=z9hG4bKm{n}\r\n\
             From: <sip:{from}>;tag=f{n}\r\nTo: <sip:{to}>\r\nCall-ID: m{n}\r\n\
             CSeq: 1 MESSAGE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
        );
        SipMessage::parse(Bytes::from(raw), &SipLimits::default()).expect("valid request")
    }

    #[tokio::test]
    async fn page_mode_messages_of_a_pair_wait_until_the_earlier_one_passes_its_turn() {
        let mut order = DialogOrder::default();
        let first = order
            .turn(&message("a@s.test", "j@x.test", 1))
            .expect("a turn");
        let mut second = order
            .turn(&message("a@s.test", "j@x.test", 2))
            .expect("a turn");
        let mut other = order
            .turn(&message("c@s.test", "j@x.test", 3))
            .expect("a turn");
        tokio::time::timeout(Duration::from_secs(5), other.wait())
            .await
            .expect("another sender does not wait");
        let (queued_tx, queued_rx) = oneshot::channel::<()>();
        let (confirm_tx, confirm_rx) = oneshot::channel::<()>();
        let handler = tokio::spawn(run_in_turn(Some(first), || async move {
            // Still in hand: the second waits.
            let _ = queued_rx.await;
            pass_turn();
            // Queued; waiting for the confirmation no longer holds the second.
            let _ = confirm_rx.await;
        }));
        let waited = tokio::time::timeout(Duration::from_millis(50), second.wait()).await;
        assert!(
            waited.is_err(),
            "the second ran before the first was queued"
        );
        queued_tx.send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(5), second.wait())
            .await
            .expect("the second runs once the first passed its turn");
        confirm_tx.send(()).unwrap();
        handler.await.unwrap();
        // Outside a turn, passing does nothing.
        pass_turn();
    }

    #[test]
    fn finished_dialogs_are_swept() {
        let mut order = DialogOrder::default();
        for i in 0..10 * SWEEP_ABOVE {
            drop(order.turn(&request(&i.to_string(), Some("t"), 1)));
        }
        assert!(order.tracked() <= SWEEP_ABOVE + 1, "{}", order.tracked());
        let held: Vec<_> = (0..2 * SWEEP_ABOVE)
            .filter_map(|i| order.turn(&request(&format!("h{i}"), Some("t"), 1)))
            .collect();
        assert!(order.tracked() >= held.len());
    }
}
