//! RFC 3261 §12.2.2: requests inside one dialog are handled in the order they arrived.
//!
//! A connection hands every request to its own task, so two requests read from one TCP
//! segment could otherwise run on two threads in either order. The second would then win the
//! CSeq check and the first get 500 (CSeq out of order) — which ends the subscription at many
//! notifiers — and presence states would reach the watcher out of order. Each in-dialog request
//! therefore takes a [`Turn`] while it is still on the reading task, in wire order, and waits
//! for the previous request of its dialog to finish before it is handled. Requests outside a
//! dialog (no To tag: page-mode MESSAGE, initial SUBSCRIBE or INVITE, CANCEL) never wait.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};

use tokio::sync::oneshot;

use crate::sip::{HeaderName, SipMessage};

/// Tracked dialogs beyond which finished ones are swept (the table then holds at most the
/// dialogs with a request still in hand, plus this many).
const SWEEP_ABOVE: usize = 256;

/// Per connection (or UDP socket): the last request handed out for each dialog.
#[derive(Default)]
pub(crate) struct DialogOrder {
    last: HashMap<u64, oneshot::Receiver<()>>,
    hasher: RandomState,
    sweep_above: usize,
}

/// A request's place in its dialog: wait for the one before, then hold until dropped.
pub(crate) struct Turn {
    after: Option<oneshot::Receiver<()>>,
    _done: oneshot::Sender<()>,
}

impl Turn {
    /// Returns once every earlier request of the same dialog has been handled.
    pub(crate) async fn wait(&mut self) {
        if let Some(previous) = self.after.take() {
            // The previous task drops its sender when it is done (it never sends).
            let _ = previous.await;
        }
    }
}

impl DialogOrder {
    /// The turn of `msg` if it belongs to a dialog (its To has a tag), `None` otherwise.
    pub(crate) fn turn(&mut self, msg: &SipMessage) -> Option<Turn> {
        let key = self.dialog_key(msg)?;
        let (done, next) = oneshot::channel();
        let after = self.last.insert(key, next);
        if self.last.len() > self.sweep_above.max(SWEEP_ABOVE) {
            self.last
                .retain(|_, rx| matches!(rx.try_recv(), Err(oneshot::error::TryRecvError::Empty)));
            self.sweep_above = self.last.len() * 2;
        }
        Some(Turn { after, _done: done })
    }

    /// How many dialogs are tracked (tests).
    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.last.len()
    }

    fn dialog_key(&self, msg: &SipMessage) -> Option<u64> {
        let to_tag = msg.to().ok()?.tag?;
        let from_tag = msg.from().ok().and_then(|f| f.tag).unwrap_or("");
        let call_id = msg.header(HeaderName::CallId)?;
        Some(self.hasher.hash_one((call_id, from_tag, to_tag)))
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
