use bytes::Bytes;

use super::*;
use crate::sip::SipLimits;

fn msg(extra: &str) -> SipMessage {
    let raw = format!(
        "NOTIFY sip:gw@xmpp.example SIP/2.0\r\nVia: SIP/2.0/TLS p.example;branch=z9hG4bK1\r\n\
         From: <sip:alice@sip.example>;tag=a\r\nTo: <sip:bob@xmpp.example>;tag=b\r\n\
         Call-ID: n1\r\nCSeq: 2 NOTIFY\r\n{extra}\r\n"
    );
    SipMessage::parse(Bytes::from(raw), &SipLimits::default()).unwrap()
}

#[test]
fn contact_values() {
    let m = msg(
        "m: <sip:a@1.2.3.4;transport=tls>;expires=60;q=0.5, \"B\" <sip:b@h>\r\nContact: sip:c@h;q=1\r\n",
    );
    let c: Vec<_> = m.contacts().map(Result::unwrap).collect();
    assert_eq!(c.len(), 3);
    assert_eq!(c[0].expires(), Some(60));
    assert_eq!(c[0].q(), Some(500));
    assert_eq!(c[2].q(), Some(1000));
    let Contact::Addr(b) = c[1] else { panic!() };
    assert_eq!(b.display_name, Some("B"));
    assert!(m.validate().is_ok());
    let star = msg("Contact: *\r\nExpires: 0\r\n");
    assert_eq!(star.contacts().next(), Some(Ok(Contact::Wildcard)));
    assert_eq!(star.expires(), Ok(Some(0)));
    assert!(star.validate().is_ok());
    for bad in [
        "Contact: *, <sip:a@b>\r\n",
        "Contact: <sip:a@b>;q=2\r\n",
        "Contact: <sip:a@b>;;;;\r\n",
        "Contact: sip:user@example.com?Route=%3Csip:sip.example.com%3E\r\n",
        "Contact: <sip:a@b>;expires=280297596632815\r\n",
    ] {
        assert_eq!(
            msg(bad).validate(),
            Err(SipError::BadHeader(HeaderKind::Contact)),
            "{bad}"
        );
    }
}

#[test]
fn event_and_subscription_state() {
    let m = msg(
        "o: presence;id=7\r\nSubscription-State: terminated;reason=rejected;retry-after=30\r\n",
    );
    let e = m.event().unwrap().unwrap();
    assert_eq!((e.package, e.id), ("presence", Some("7")));
    let s = m.subscription_state().unwrap().unwrap();
    assert_eq!(s.state, SubState::Terminated);
    assert_eq!(s.reason, Some("rejected"));
    assert_eq!(s.retry_after, Some(30));
    assert_eq!(s.expires, None);
    let s = msg("Subscription-State: active;expires=3599\r\n");
    let st = s.subscription_state().unwrap().unwrap();
    assert_eq!((st.state, st.expires), (SubState::Active, Some(3599)));
    assert_eq!(
        msg("Event: presence.winfo\r\n")
            .event()
            .unwrap()
            .unwrap()
            .package,
        "presence.winfo"
    );
    assert_eq!(
        msg("Event: pres ence\r\n").event(),
        Err(SipError::BadHeader(HeaderKind::Event))
    );
    assert_eq!(
        msg("Subscription-State: active;expires=x\r\n").validate(),
        Err(SipError::BadHeader(HeaderKind::SubscriptionState))
    );
}

#[test]
fn lists() {
    let m = msg(
        "Route: <sip:p1.example;lr>, <sip:p2.example;lr>\r\nRecord-Route: <sip:rr.example;lr>\r\n\
         Accept: application/pidf+xml;q=0.9, application/xpidf+xml\r\nAccept: \r\n\
         Allow: INVITE, ACK,MESSAGE ,FOO\r\nk: 100rel, timer\r\nSupported:\r\nRequire: path\r\n\
         Reason: SIP;cause=480;text=\"Away\", Q.850;cause=16\r\n\
         Warning: 301 isi.edu \"Incompatible network address type 'E.164'\", 399 gw:5060 \"x\"\r\n",
    );
    assert_eq!(
        m.routes().map(|r| r.unwrap().uri).collect::<Vec<_>>(),
        ["sip:p1.example;lr", "sip:p2.example;lr"]
    );
    assert_eq!(m.record_routes().count(), 1);
    let acc: Vec<_> = m.accept().map(Result::unwrap).collect();
    assert_eq!(acc.len(), 2);
    assert_eq!(acc[0].subtype, "pidf+xml");
    assert_eq!(
        m.allow().map(Result::unwrap).collect::<Vec<_>>(),
        [
            Method::Invite,
            Method::Ack,
            Method::Message,
            Method::Other("FOO")
        ]
    );
    assert_eq!(
        m.supported().map(Result::unwrap).collect::<Vec<_>>(),
        ["100rel", "timer"]
    );
    assert_eq!(
        m.require().map(Result::unwrap).collect::<Vec<_>>(),
        ["path"]
    );
    let r: Vec<_> = m.reasons().map(Result::unwrap).collect();
    assert_eq!(
        r[0],
        Reason {
            protocol: "SIP",
            cause: Some(480),
            text: Some("Away")
        }
    );
    assert_eq!(r[1].protocol, "Q.850");
    let w: Vec<_> = m.warnings().map(Result::unwrap).collect();
    assert_eq!(w[0].code, 301);
    assert_eq!(w[0].agent, "isi.edu");
    assert_eq!(w[1].agent, "gw:5060");
    assert!(m.validate().is_ok());
    assert!(msg("Route: sip:p1.example\r\n").validate().is_err());
    assert!(msg("Allow: INVITE,,ACK\r\n").validate().is_err());
    assert!(
        msg("Warning: 1812 overture \"In Progress\"\r\n")
            .validate()
            .is_err()
    );
}

#[test]
fn dates() {
    let m = msg("Date: Sat, 15 Oct 2005 04:44:56 GMT\r\n");
    assert_eq!(
        m.date().unwrap(),
        Some(SipDate {
            year: 2005,
            month: 10,
            day: 15,
            hour: 4,
            minute: 44,
            second: 56
        })
    );
    for bad in [
        "Fri, 01 Jan 2010 16:00:00 EST",
        "Sat, 15 Oct 2005 4:44:56 GMT",
        "15 Oct 2005 04:44:56 GMT",
        "Sat, 32 Oct 2005 04:44:56 GMT",
    ] {
        assert_eq!(SipDate::parse(bad), None, "{bad}");
    }
    assert_eq!(
        msg("Date: Fri, 01 Jan 2010 16:00:00 EST\r\n").validate(),
        Err(SipError::BadHeader(HeaderKind::Date))
    );
}

#[test]
fn qvalues() {
    assert_eq!(parse_qvalue("0"), Some(0));
    assert_eq!(parse_qvalue("0.33"), Some(330));
    assert_eq!(parse_qvalue("1.000"), Some(1000));
    assert_eq!(parse_qvalue("1.5"), None);
    assert_eq!(parse_qvalue("0.1234"), None);
}

#[test]
fn require_and_420() {
    let m = msg("Require: pref, nothingSupportsThis\r\nRequire: path\r\n");
    assert_eq!(
        m.unsupported_requires(&["path", "PREF"])
            .collect::<Vec<_>>(),
        ["nothingSupportsThis"]
    );
    assert_eq!(
        m.check_require(&["path"]).unwrap_err().status(),
        (420, "Bad Extension")
    );
    assert!(
        m.check_require(&["path", "pref", "nothingsupportsthis"])
            .is_ok()
    );
}
