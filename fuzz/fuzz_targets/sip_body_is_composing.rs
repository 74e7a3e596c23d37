//! isComposing (RFC 3994): parsing never panics, and a parsed document written back by
//! `to_xml` parses to the same state.
#![no_main]

use parley::sip::body::is_composing::IsComposing;
use parley_fuzz::show;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(c) = IsComposing::parse(data) else {
        return;
    };
    let xml = c.to_xml();
    let again = IsComposing::parse(xml.as_bytes()).unwrap_or_else(|e| {
        panic!(
            "written isComposing does not parse: {e}\n{xml}\nfrom\n{}",
            show(data)
        )
    });
    assert_eq!(c, again, "isComposing round trip\n{xml}");
});
