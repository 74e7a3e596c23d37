//! SIP framing + parse with the round-trip property (parse → write → parse is the same
//! message); see `parley::sip::fuzzing::round_trip`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| parley::sip::fuzzing::round_trip(data));
