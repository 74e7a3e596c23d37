use bytes::Bytes;

use super::cpim::{self, Cpim, CpimAddress};
use super::imdn::{DispositionStatus, Imdn, NotificationKind};
use super::is_composing::{ComposingState, IsComposing};
use super::multipart;
use super::pidf::{Activity, Basic, Note, Presence, Tuple};
use crate::sip::{SipError, SipLimits, SipMessage};

const NOTIFY: &[u8] = include_bytes!("../../../protocol-tests/sip/bench/rfc6665-notify-pidf.sip");
const MPART: &[u8] = include_bytes!("../../../protocol-tests/sip/rfc4475/mpart01.dat");

#[test]
fn pidf_rpid_from_notify() {
    let m = SipMessage::parse(Bytes::from_static(NOTIFY), &SipLimits::default()).unwrap();
    assert!(
        m.content_type()
            .unwrap()
            .unwrap()
            .is("application", "pidf+xml")
    );
    let p = Presence::parse(m.body()).unwrap();
    assert_eq!(p.entity, "sip:alice@sip.example");
    assert_eq!(p.tuples.len(), 1);
    let t = &p.tuples[0];
    assert_eq!((t.id.as_str(), t.basic), ("t8f3a", Some(Basic::Open)));
    assert_eq!(t.contact.as_deref(), Some("sip:alice@192.0.2.4"));
    assert_eq!(t.priority.as_deref(), Some("0.8"));
    assert_eq!(
        t.notes,
        [Note {
            lang: Some("en".into()),
            text: "In a meeting until 3".into()
        }]
    );
    assert_eq!(p.activities, [Activity::Meeting]);
    assert_eq!(p.notes[0].text, "Busy");
}

#[test]
fn pidf_round_trip_and_rejects() {
    let p = Presence {
        entity: "sip:bob@xmpp.example".into(),
        tuples: vec![
            Tuple {
                id: "phone".into(),
                basic: Some(Basic::Open),
                notes: vec![Note {
                    lang: None,
                    text: "Fish & chips <3".into(),
                }],
                ..Tuple::default()
            },
            Tuple {
                id: "laptop".into(),
                basic: Some(Basic::Closed),
                contact: Some("xmpp:bob@xmpp.example/laptop".into()),
                priority: Some("0.5".into()),
                ..Tuple::default()
            },
        ],
        activities: vec![Activity::Busy, Activity::Other("gardening".into())],
        notes: vec![Note {
            lang: Some("fr".into()),
            text: "Occupé".into(),
        }],
    };
    assert_eq!(Presence::parse(p.to_xml().as_bytes()).unwrap(), p);
    for bad in [
        &b"<foo entity='x'/>"[..],
        b"<presence xmlns='urn:ietf:params:xml:ns:pidf'/>",
        b"<presence entity='x'><tuple id='a'><status><basic>maybe</basic></status></tuple></presence>",
        b"<presence entity='x'><tuple>",
        b"<presence entity='x'/><presence entity='y'/>",
        b"<!DOCTYPE x [<!ENTITY a 'b'>]><presence entity='x'/>",
        b"",
    ] {
        assert_eq!(Presence::parse(bad), Err(SipError::BadBody), "{}", String::from_utf8_lossy(bad));
    }
    let deep = format!(
        "<presence entity='x'>{}{}</presence>",
        "<a>".repeat(40),
        "</a>".repeat(40)
    );
    assert_eq!(Presence::parse(deep.as_bytes()), Err(SipError::BadBody));
}

#[test]
fn is_composing_rfc3994_example() {
    let doc = br#"<?xml version="1.0" encoding="UTF-8"?>
<isComposing xmlns="urn:ietf:params:xml:ns:im-iscomposing"
  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <state>active</state>
  <contenttype>text/plain</contenttype>
  <refresh>90</refresh>
</isComposing>"#;
    let c = IsComposing::parse(doc).unwrap();
    assert_eq!(c.state, ComposingState::Active);
    assert_eq!(c.content_type.as_deref(), Some("text/plain"));
    assert_eq!(c.refresh, Some(90));
    assert_eq!(IsComposing::parse(c.to_xml().as_bytes()).unwrap(), c);
    let idle = IsComposing {
        state: ComposingState::Idle,
        last_active: Some("2003-01-27T10:43:00Z".into()),
        content_type: None,
        refresh: None,
    };
    assert_eq!(IsComposing::parse(idle.to_xml().as_bytes()).unwrap(), idle);
    assert!(IsComposing::parse(b"<isComposing><state>typing</state></isComposing>").is_err());
    assert!(IsComposing::parse(b"<isComposing/>").is_err());
}

#[test]
fn imdn_rfc5438_example() {
    let doc = br#"<?xml version="1.0" encoding="UTF-8"?>
<imdn xmlns="urn:ietf:params:xml:ns:imdn">
   <message-id>34jk324j</message-id>
   <datetime>2008-04-04T12:16:49-05:00</datetime>
   <recipient-uri>im:bob@example.com</recipient-uri>
   <original-recipient-uri>im:bob@example.com</original-recipient-uri>
   <delivery-notification>
      <status>
         <delivered/>
      </status>
   </delivery-notification>
</imdn>"#;
    let i = Imdn::parse(doc).unwrap();
    assert_eq!(i.message_id, "34jk324j");
    assert_eq!(i.kind, NotificationKind::Delivery);
    assert_eq!(i.status, DispositionStatus::Delivered);
    assert_eq!(i.recipient_uri.as_deref(), Some("im:bob@example.com"));
    assert_eq!(Imdn::parse(i.to_xml().as_bytes()).unwrap(), i);
    let d = Imdn {
        kind: NotificationKind::Display,
        status: DispositionStatus::Displayed,
        recipient_uri: None,
        original_recipient_uri: None,
        ..i
    };
    assert_eq!(Imdn::parse(d.to_xml().as_bytes()).unwrap(), d);
    assert!(Imdn::parse(b"<imdn><message-id>x</message-id></imdn>").is_err());
}

#[test]
fn cpim_with_imdn_headers() {
    let body = b"From: MR SANDERS <im:piglet@100akerwood.com>\r\n\
To: Depressed Donkey <im:eeyore@100akerwood.com>\r\n\
DateTime: 2000-12-13T13:40:00-08:00\r\n\
Subject: the weather will be fine today\r\n\
NS: imdn <urn:ietf:params:imdn>\r\n\
imdn.Message-ID: 34jk324j\r\n\
imdn.Disposition-Notification: positive-delivery, display\r\n\
\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
\r\n\
Here is the text of my message.";
    let c = Cpim::parse(body).unwrap();
    assert_eq!(
        c.from(),
        Some(CpimAddress {
            name: Some("MR SANDERS"),
            uri: "im:piglet@100akerwood.com"
        })
    );
    assert_eq!(c.to().unwrap().uri, "im:eeyore@100akerwood.com");
    assert_eq!(c.datetime(), Some("2000-12-13T13:40:00-08:00"));
    assert_eq!(c.header("subject"), Some("the weather will be fine today"));
    assert_eq!(c.imdn_message_id(), Some("34jk324j"));
    assert_eq!(
        c.disposition_notification().collect::<Vec<_>>(),
        ["positive-delivery", "display"]
    );
    assert_eq!(c.content_type().unwrap().param("charset"), Some("utf-8"));
    assert_eq!(c.body, b"Here is the text of my message.");

    let mut out = Vec::new();
    cpim::write(
        &mut out,
        &[
            ("From", "<sip:a@b>"),
            ("NS", "imdn <urn:ietf:params:imdn>"),
            ("imdn.Message-ID", "m1"),
        ],
        "text/plain;charset=UTF-8",
        b"hi",
    );
    let c2 = Cpim::parse(&out).unwrap();
    assert_eq!((c2.imdn_message_id(), c2.body), (Some("m1"), &b"hi"[..]));
    assert!(Cpim::parse(b"From: x\r\n").is_err());
    assert!(Cpim::parse(b"bad header\r\n\r\n\r\n").is_err());
}

#[test]
fn multipart_rfc4475_mpart01() {
    let n = crate::sip::framing::frame_datagram(MPART, &SipLimits::default()).unwrap();
    let m = SipMessage::parse(Bytes::copy_from_slice(&MPART[..n]), &SipLimits::default()).unwrap();
    let boundary = m
        .content_type()
        .unwrap()
        .unwrap()
        .param("boundary")
        .unwrap();
    let parts = multipart::parse(m.body(), boundary).unwrap();
    assert_eq!(parts.len(), 2);
    assert_eq!(parts[0].content_type().unwrap().subtype, "plain");
    assert_eq!(parts[0].body, b"Hello");
    assert_eq!(parts[1].content_type().unwrap().subtype, "octet-stream");
    assert_eq!(parts[1].header("content-transfer-encoding"), Some("binary"));
}

#[test]
fn multipart_alternative_round_trip() {
    let mut out = Vec::new();
    multipart::write(
        &mut out,
        "b1",
        &[
            ("text/plain", b"hi *there*"),
            ("text/html", b"<p>hi <b>there</b></p>"),
        ],
    );
    let parts = multipart::parse(&out, "b1").unwrap();
    assert_eq!(parts.len(), 2);
    assert_eq!(parts[1].body, b"<p>hi <b>there</b></p>");
    assert!(multipart::parse(b"no delimiter", "b1").is_err());
    assert!(
        multipart::parse(
            b"--b1\r\nContent-Type: text/plain\r\n\r\nunterminated",
            "b1"
        )
        .is_err()
    );
    assert!(multipart::parse(b"--b1--", "").is_err());
}

/// Regression (fuzz, sip_body_pidf / sip_body_imdn): the XML body parsers accepted characters
/// XML 1.0 forbids, raw or as character references, and bytes that are not UTF-8; the writers
/// could not give them back, so parse → write → parse differed. Such bodies are now refused.
#[test]
fn xml_bodies_refuse_what_xml_forbids() {
    let imdn = |status: &str, datetime: &str| {
        format!(
            "<imdn xmlns='urn:ietf:params:xml:ns:imdn'><message-id>m</message-id>\
             <datetime>{datetime}</datetime><display-notification><status>{status}\
             </status></display-notification></imdn>"
        )
        .into_bytes()
    };
    let ok = Imdn::parse(&imdn("<displayed/>", "2024-05-01T10:00:00Z")).unwrap();
    assert_eq!(ok.status, DispositionStatus::Displayed);
    let other = Imdn::parse(&imdn("<x-seen/>", "2024-05-01T10:00:00Z")).unwrap();
    assert_eq!(other.status, DispositionStatus::Other("x-seen".into()));
    let mut not_utf8 = imdn("<x-seen/>", "t");
    let at = not_utf8.windows(6).position(|w| w == b"x-seen").unwrap();
    not_utf8[at + 1] = 0xb2;
    let bad: [Vec<u8>; 7] = [
        not_utf8,
        imdn("<displayed/>", "2024-05-01T\0:00Z"),
        imdn("<displayed/>", "2024-05-01T&#1;:00Z"),
        imdn("<displayed/>", "&#xFFFE;"),
        imdn("< processed/>", "t"),
        imdn("<rro(cessed/>", "t"),
        imdn("<a:-x/>", "t"),
    ];
    for b in &bad {
        assert_eq!(
            Imdn::parse(b),
            Err(SipError::BadBody),
            "{}",
            String::from_utf8_lossy(b)
        );
    }

    let pidf = |activity: &str| {
        format!(
            "<presence xmlns='urn:ietf:params:xml:ns:pidf' \
             xmlns:dm='urn:ietf:params:xml:ns:pidf:data-model' \
             xmlns:rpid='urn:ietf:params:xml:ns:pidf:rpid' entity='pres:a@b'>\
             <dm:person id='p'><rpid:activities>{activity}</rpid:activities></dm:person>\
             </presence>"
        )
        .into_bytes()
    };
    let p = Presence::parse(&pidf("<rpid:other>tea &#9; time</rpid:other>")).unwrap();
    assert_eq!(p.activities, [Activity::Other("tea \t time".into())]);
    for b in [
        pidf("<rpid:other>tea\u{1}</rpid:other>"),
        pidf("<rpid:other>tea&#1;</rpid:other>"),
        pidf("<rpid\u{1}/>"),
        pidf("<rpid:<error/>busy/>"),
    ] {
        assert_eq!(
            Presence::parse(&b),
            Err(SipError::BadBody),
            "{}",
            String::from_utf8_lossy(&b)
        );
    }
    let attr = b"<presence xmlns='urn:ietf:params:xml:ns:pidf' entity='a&#0;b'/>";
    assert_eq!(Presence::parse(attr), Err(SipError::BadBody));
}

/// The XML writers never write what their parsers refuse: a character XML 1.0 cannot carry
/// becomes U+FFFD, and an IMDN status that is no element name is written as `error`.
#[test]
fn xml_writers_write_only_what_parses() {
    let p = Presence {
        entity: "pres:a\u{0}@b".into(),
        activities: vec![Activity::Other("tea\u{1}\u{FFFF}".into())],
        ..Presence::default()
    };
    let again = Presence::parse(p.to_xml().as_bytes()).unwrap();
    assert_eq!(again.entity, "pres:a\u{FFFD}@b");
    assert_eq!(
        again.activities,
        [Activity::Other("tea\u{FFFD}\u{FFFD}".into())]
    );

    let d = Imdn {
        message_id: "m\u{1b}".into(),
        datetime: "2024-05-01T\u{0}10:00Z".into(),
        recipient_uri: None,
        original_recipient_uri: None,
        kind: NotificationKind::Processing,
        status: DispositionStatus::Other("< \u{0}rro(cessed".into()),
    };
    let again = Imdn::parse(d.to_xml().as_bytes()).unwrap();
    assert_eq!(again.message_id, "m\u{FFFD}");
    assert_eq!(again.datetime, "2024-05-01T\u{FFFD}10:00Z");
    assert_eq!(again.status, DispositionStatus::Error);
    let prefixed = Imdn {
        status: DispositionStatus::Other("a:b".into()),
        ..d
    };
    let again = Imdn::parse(prefixed.to_xml().as_bytes()).unwrap();
    assert_eq!(again.status, DispositionStatus::Error);
}
