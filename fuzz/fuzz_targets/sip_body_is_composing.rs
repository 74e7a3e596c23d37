//! isComposing (RFC 3994): parsing never panics, and a parsed document written back by
//! `to_xml` parses to the same state.
//! See `parley::sip::fuzzing::is_composing`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| parley::sip::fuzzing::is_composing(data));
