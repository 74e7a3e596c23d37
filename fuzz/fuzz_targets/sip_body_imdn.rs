//! IMDN (RFC 5438): parsing never panics, and a parsed notification written back by `to_xml`
//! parses to the same notification.
//! See `parley::sip::fuzzing::imdn`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| parley::sip::fuzzing::imdn(data));
