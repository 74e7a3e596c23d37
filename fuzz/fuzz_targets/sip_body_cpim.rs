//! CPIM (RFC 3862): parsing and every accessor never panic; a parsed message written back by
//! `cpim::write` parses to the same headers and payload (and the same content headers when
//! Content-Type is the only one, which is all `write` emits).
#![no_main]

use parley::sip::body::cpim::{self, Cpim, IMDN_NS};
use parley_fuzz::show;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(c) = Cpim::parse(data) else {
        return;
    };
    let _ = (c.from(), c.to(), c.datetime(), c.imdn_message_id());
    let _ = c.disposition_notification().count();
    let _ = c.content_type();
    let _ = c.ns_header(IMDN_NS, "Message-ID");

    let ct = match c.content_headers.as_slice() {
        [(name, value)] if name.eq_ignore_ascii_case("Content-Type") => Some(*value),
        _ => None,
    };
    let mut out = Vec::new();
    cpim::write(&mut out, &c.headers, ct.unwrap_or("text/plain"), c.body);
    let again = Cpim::parse(&out).unwrap_or_else(|e| {
        panic!(
            "written CPIM does not parse: {e}\n{}\nfrom\n{}",
            show(&out),
            show(data)
        )
    });
    assert_eq!(c.headers, again.headers, "CPIM headers\n{}", show(&out));
    assert_eq!(c.body, again.body, "CPIM payload\n{}", show(&out));
    if let Some(ct) = ct {
        assert_eq!(
            again.content_headers,
            [("Content-Type", ct)],
            "{}",
            show(&out)
        );
    }
});
