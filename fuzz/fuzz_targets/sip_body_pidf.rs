//! PIDF with RPID (RFC 3863, RFC 4480): parsing never panics, and a parsed document written
//! back by `to_xml` parses to the same presence.
#![no_main]

use parley::sip::body::pidf::Presence;
use parley_fuzz::show;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(p) = Presence::parse(data) else {
        return;
    };
    let xml = p.to_xml();
    let again = Presence::parse(xml.as_bytes()).unwrap_or_else(|e| {
        panic!(
            "written PIDF does not parse: {e}\n{xml}\nfrom\n{}",
            show(data)
        )
    });
    assert_eq!(p, again, "PIDF round trip\n{xml}");
});
