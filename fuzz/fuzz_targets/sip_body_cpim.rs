//! CPIM (RFC 3862): parsing and every accessor never panic; a parsed message written back by
//! `cpim::write` parses to the same headers and payload (and the same content headers when
//! Content-Type is the only one, which is all `write` emits).
//! See `parley::sip::fuzzing::cpim`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| parley::sip::fuzzing::cpim(data));
