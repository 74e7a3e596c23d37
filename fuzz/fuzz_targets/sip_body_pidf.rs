//! PIDF with RPID (RFC 3863, RFC 4480): parsing never panics, and a parsed document written
//! back by `to_xml` parses to the same presence.
//! See `parley::sip::fuzzing::pidf`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| parley::sip::fuzzing::pidf(data));
