//! IMDN (RFC 5438): parsing never panics, and a parsed notification written back by `to_xml`
//! parses to the same notification.
#![no_main]

use parley::sip::body::imdn::Imdn;
use parley_fuzz::show;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(n) = Imdn::parse(data) else {
        return;
    };
    let xml = n.to_xml();
    let again = Imdn::parse(xml.as_bytes()).unwrap_or_else(|e| {
        panic!(
            "written IMDN does not parse: {e}\n{xml}\nfrom\n{}",
            show(data)
        )
    });
    assert_eq!(n, again, "IMDN round trip\n{xml}");
});
