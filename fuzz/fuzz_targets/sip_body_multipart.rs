//! Multipart (RFC 2046 §5.1). Input: the boundary on the first line, the body after it.
//! Parsing and the part accessors never panic; when every part carries exactly one header,
//! Content-Type (all `multipart::write` emits), the parts written back parse to the same parts.
//! See `parley::sip::fuzzing::multipart`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| parley::sip::fuzzing::multipart(data));
