//! XMPP framing + typed parse with the round-trip property (parse → write → frame → parse).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Err(e) = parley::xmpp::roundtrip::check(data) {
        panic!("{e}");
    }
});
