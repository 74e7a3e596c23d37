//! XMPP → SIP (RFC 7247 and companions), through the same entry points as `parley translate`.
//! Properties: nothing panics, for every kind of SIP peer; every SIP request written frames
//! and parses with parley's own SIP parser; a message that crosses XMPP → SIP → XMPP keeps its
//! sender, recipient and body.
#![no_main]

use bytes::BytesMut;
use parley::bridge::sip_out::{SipPeerCaps, write_sip_event};
use parley::bridge::xmpp_out::write_xmpp_event;
use parley::bridge::{sip_in, xmpp_in};
use parley::model::{Address, ChatMessage, ErrorAbout, Event};
use parley::translate::{Protocol, TranslateOptions, translate_with};
use parley::xmpp::StreamHeader;
use parley::xmpp::stanza::parse_element;
use parley_fuzz::{NOW, frame_xmpp, reparse_sip, show, sip_out};

fn message<'a, 'b>(events: &'b [Event<'a>]) -> Option<&'b ChatMessage<'a>> {
    events.iter().find_map(|e| match e {
        Event::Message(m) => Some(m),
        _ => None,
    })
}

/// The address as SIP sees it: a SIP user part reaches XMPP case-folded (the case rule of
/// `parley::bridge::address`), and the resource travels as a GRUU only where the peer takes it.
fn folded(a: &Address<'_>) -> (String, String) {
    (a.local.to_lowercase(), a.domain.to_string())
}

const CAPS: [SipPeerCaps; 3] = [
    SipPeerCaps::PLAIN,
    SipPeerCaps::SIMPLE,
    SipPeerCaps::EXTENDED,
];

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    for caps in CAPS {
        let opts = TranslateOptions { caps, now: NOW };
        let _ = translate_with(data, Some(Protocol::Xmpp), false, &opts);
    }
    let opts = TranslateOptions {
        caps: SipPeerCaps::SIMPLE,
        now: NOW,
    };
    let _ = translate_with(data, Some(Protocol::Xmpp), true, &opts);

    let Ok(el) = parse_element(data.trim_ascii(), &StreamHeader::default()) else {
        return;
    };
    let Ok(events) = xmpp_in::events_from_xmpp(&el) else {
        return;
    };
    for ev in &events {
        // An error about a message is the final response to the SIP request it answers; without
        // that request parley writes only a status line with From and To, for display.
        if let Event::Error(e) = ev
            && e.about != ErrorAbout::Presence
        {
            continue;
        }
        for caps in CAPS {
            let mut sip = BytesMut::new();
            let Ok(n) = write_sip_event(&mut sip, ev, &sip_out(caps)) else {
                continue;
            };
            let msgs = reparse_sip(&sip);
            assert_eq!(msgs.len(), n, "request count\n{}", show(&sip));
            let (Event::Message(m1), true) = (ev, caps == SipPeerCaps::SIMPLE) else {
                continue;
            };
            // Back to XMPP: the message the SIP side reads is the one XMPP sent.
            let Some(first) = msgs.first() else {
                continue;
            };
            let ev2 = sip_in::events_from_sip(first)
                .unwrap_or_else(|e| panic!("own SIP refused: {e}\n{}", show(&sip)));
            let m2 =
                message(&ev2).unwrap_or_else(|| panic!("no message in {ev2:?}\n{}", show(&sip)));
            assert_eq!(folded(&m2.from), folded(&m1.from), "{}", show(&sip));
            assert_eq!(folded(&m2.to), folded(&m1.to), "{}", show(&sip));
            assert_eq!(m2.body, m1.body, "{}", show(&sip));

            let mut xml = BytesMut::new();
            let Ok(k) = write_xmpp_event(&mut xml, &Event::Message(m2.clone()), "gw-1") else {
                continue;
            };
            let (header, stanzas) = frame_xmpp(&xml);
            assert_eq!(stanzas.len(), k, "{}", show(&xml));
            let Some(s) = stanzas.first() else {
                continue;
            };
            let el = parse_element(s, &header)
                .unwrap_or_else(|e| panic!("written stanza does not parse: {e}\n{}", show(s)));
            let ev3 = xmpp_in::events_from_xmpp(&el)
                .unwrap_or_else(|e| panic!("own stanza refused: {e}\n{}", show(&xml)));
            let m3 =
                message(&ev3).unwrap_or_else(|| panic!("no message in {ev3:?}\n{}", show(&xml)));
            assert_eq!(folded(&m3.from), folded(&m1.from), "{}", show(&xml));
            assert_eq!(folded(&m3.to), folded(&m1.to), "{}", show(&xml));
            assert_eq!(m3.body, m1.body, "{}", show(&xml));
        }
    }
});
