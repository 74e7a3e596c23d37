//! Requests written in IM session dialogs (RFC 3261 §12.2.1.1) and the small helpers.

use super::out::{DialogRequest, write_dialog_request};
use super::*;
use crate::sip::SipLimits;

fn session(remote_tag: &str, routes: &[&str]) -> Session {
    Session {
        local_tag: "L1".into(),
        remote_tag: remote_tag.into(),
        xmpp_user: "juliet@xmpp.test".into(),
        sip_user: "alice@sip.test".into(),
        thread: "c1".into(),
        from_name: Some("Juliet \"J\" (external)".into()),
        target: "sip:alice@192.0.2.7:5060".into(),
        routes: routes.iter().map(|r| (*r).to_owned()).collect(),
        local_cseq: 0,
        remote_cseq: 1,
        invite_cseq: 1,
        answer: String::new(),
        last_active: Instant::now(),
        pending: Vec::new(),
        established: true,
        peer_types: Vec::new(),
    }
}

#[test]
fn in_dialog_message_follows_the_route_set_and_parses() {
    let s = session("R9", &["sip:p1.sip.test;lr", "sip:p2.sip.test;lr"]);
    let bytes = write_dialog_request(
        "192.0.2.5:5061",
        &s,
        &DialogRequest {
            method: "MESSAGE",
            call_id: "c1",
            cseq: 7,
            branch: "z9hG4bKx",
            content_type: Some("text/plain;charset=UTF-8"),
            extra: &[],
            body: "hé".as_bytes(),
        },
    );
    let msg = SipMessage::parse(bytes, &SipLimits::default()).unwrap();
    assert_eq!(msg.request_uri(), Some("sip:alice@192.0.2.7:5060"));
    let routes: Vec<String> = msg.routes().map(|r| r.unwrap().uri.to_owned()).collect();
    assert_eq!(routes, ["sip:p1.sip.test;lr", "sip:p2.sip.test;lr"]);
    assert_eq!(msg.from().unwrap().tag, Some("L1"));
    assert_eq!(msg.from().unwrap().uri, "sip:juliet@xmpp.test");
    // The external label, as an escaped quoted-string.
    assert_eq!(
        msg.from().unwrap().display_name,
        Some(r#"Juliet \"J\" (external)"#)
    );
    assert_eq!(msg.to().unwrap().tag, Some("R9"));
    assert_eq!(msg.cseq().unwrap().seq, 7);
    assert_eq!(msg.call_id().unwrap(), "c1");
    assert_eq!(msg.body(), "hé".as_bytes());
    assert_eq!(msg.via().unwrap().branch, Some("z9hG4bKx"));
}

#[test]
fn invite_before_the_answer_has_no_to_tag_and_ack_no_contact() {
    let s = session("", &[]);
    let invite = write_dialog_request(
        "192.0.2.5:5061",
        &s,
        &DialogRequest {
            method: "INVITE",
            call_id: "c2",
            cseq: 1,
            branch: "z9hG4bKi",
            content_type: Some("application/sdp"),
            extra: &[],
            body: b"v=0\r\n",
        },
    );
    let m = SipMessage::parse(invite, &SipLimits::default()).unwrap();
    assert_eq!(m.to().unwrap().tag, None);
    assert!(m.contacts().next().is_some());
    let ack = write_dialog_request(
        "192.0.2.5:5061",
        &session("R1", &[]),
        &DialogRequest {
            method: "ACK",
            call_id: "c2",
            cseq: 1,
            branch: "z9hG4bKa",
            content_type: None,
            extra: &[],
            body: b"",
        },
    );
    let m = SipMessage::parse(ack, &SipLimits::default()).unwrap();
    assert_eq!(m.cseq().unwrap().method, "ACK");
    assert!(m.contacts().next().is_none());
}

#[test]
fn helpers() {
    assert_eq!(split_host_port("127.0.0.5:5061"), ("127.0.0.5", 5061));
    assert_eq!(split_host_port("[::1]:5071"), ("::1", 5071));
    assert_eq!(bare_jid("Juliet@xmpp.test/balcony"), "juliet@xmpp.test");
}

#[test]
fn sessions_index_by_pair_and_forget_on_remove() {
    let sessions = Sessions::default();
    sessions.insert("c1".into(), session("R", &[]));
    let pair = ("juliet@xmpp.test".to_owned(), "alice@sip.test".to_owned());
    assert_eq!(
        sessions.by_pair.get(&pair).map(|c| c.clone()),
        Some("c1".into())
    );
    // A newer session for the pair takes over; removing the old one keeps the new index.
    sessions.insert("c2".into(), session("R", &[]));
    assert!(sessions.remove("c1").is_some());
    assert_eq!(
        sessions.by_pair.get(&pair).map(|c| c.clone()),
        Some("c2".into())
    );
    assert!(sessions.remove("c2").is_some());
    assert!(sessions.by_pair.get(&pair).is_none());
    assert!(sessions.is_empty());
}
