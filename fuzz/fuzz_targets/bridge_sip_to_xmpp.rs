//! SIP → XMPP (RFC 7247 and companions), through the same entry points as `parley translate`.
//! Properties: nothing panics; every stanza written frames and parses with parley's own XMPP
//! parser; a message that crosses SIP → XMPP → SIP keeps its sender, recipient and body.
#![no_main]

use bytes::BytesMut;
use parley::bridge::sip_out::{SipPeerCaps, write_sip_event};
use parley::bridge::xmpp_out::write_xmpp_event;
use parley::bridge::{sip_in, xmpp_in};
use parley::model::{Address, ChatMessage, Event};
use parley::translate::{Protocol, TranslateOptions, translate_with};
use parley::xmpp::stanza::parse_element;
use parley_fuzz::{NOW, frame_xmpp, parse_sip, reparse_sip, show, sip_out};

fn message<'a, 'b>(events: &'b [Event<'a>]) -> Option<&'b ChatMessage<'a>> {
    events.iter().find_map(|e| match e {
        Event::Message(m) => Some(m),
        _ => None,
    })
}

/// The address as XMPP keeps it: a SIP user part reaches XMPP case-folded (the case rule of
/// `parley::bridge::address`); the resource is compared apart.
fn folded(a: &Address<'_>) -> (String, String) {
    (a.local.to_lowercase(), a.domain.to_string())
}

/// Text as XML 1.0 can carry it: each character §2.2 forbids becomes U+FFFD.
fn xml_text(s: &str) -> String {
    s.chars()
        .map(|c| match u32::from(c) {
            0x9 | 0xA | 0xD | 0x20..=0xD7FF | 0xE000..=0xFFFD | 0x10000..=0x10FFFF => c,
            _ => '\u{FFFD}',
        })
        .collect()
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let opts = TranslateOptions {
        caps: SipPeerCaps::SIMPLE,
        now: NOW,
    };
    let _ = translate_with(data, Some(Protocol::Sip), false, &opts);
    let _ = translate_with(data, Some(Protocol::Sip), true, &opts);

    let Some(msg) = parse_sip(data) else {
        return;
    };
    let Ok(events) = sip_in::events_from_sip(&msg) else {
        return;
    };
    for ev in &events {
        let mut xml = BytesMut::new();
        let Ok(n) = write_xmpp_event(&mut xml, ev, "gw-1") else {
            continue;
        };
        let (header, stanzas) = frame_xmpp(&xml);
        assert_eq!(stanzas.len(), n, "stanza count\n{}", show(&xml));
        let mut parsed = Vec::with_capacity(stanzas.len());
        for s in &stanzas {
            let el = parse_element(s, &header)
                .unwrap_or_else(|e| panic!("written stanza does not parse: {e}\n{}", show(s)));
            parsed.push(el);
        }
        let Event::Message(m1) = ev else {
            continue;
        };
        // Back to SIP: the message the XMPP side reads is the one SIP sent.
        let Some(el) = parsed.first() else {
            continue;
        };
        let ev2 = xmpp_in::events_from_xmpp(el)
            .unwrap_or_else(|e| panic!("own stanza refused: {e}\n{}", show(&xml)));
        let m2 = message(&ev2).unwrap_or_else(|| panic!("no message in {ev2:?}\n{}", show(&xml)));
        assert_eq!(folded(&m2.from), folded(&m1.from), "{}", show(&xml));
        assert_eq!(folded(&m2.to), folded(&m1.to), "{}", show(&xml));
        // XML cannot carry every character a SIP body may hold: the XMPP writer puts U+FFFD
        // for each one it cannot (a SIP text body is not XML).
        assert_eq!(m2.body, xml_text(&m1.body), "{}", show(&xml));

        let mut sip = BytesMut::new();
        let written = write_sip_event(
            &mut sip,
            &Event::Message(m2.clone()),
            &sip_out(SipPeerCaps::SIMPLE),
        )
        .unwrap_or_else(|e| panic!("XMPP → SIP refused its own message: {e}\n{}", show(&xml)));
        let back = reparse_sip(&sip);
        assert_eq!(back.len(), written, "{}", show(&sip));
        let Some(first) = back.first() else {
            continue;
        };
        let ev3 = sip_in::events_from_sip(first)
            .unwrap_or_else(|e| panic!("own SIP refused: {e}\n{}", show(&sip)));
        let m3 = message(&ev3).unwrap_or_else(|| panic!("no message in {ev3:?}\n{}", show(&sip)));
        assert_eq!(folded(&m3.from), folded(&m1.from), "{}", show(&sip));
        assert_eq!(folded(&m3.to), folded(&m1.to), "{}", show(&sip));
        assert_eq!(m3.body, m2.body, "{}", show(&sip));
    }
});
