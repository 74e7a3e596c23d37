//! Multipart (RFC 2046 §5.1). Input: the boundary on the first line, the body after it.
//! Parsing and the part accessors never panic; when every part carries exactly one header,
//! Content-Type (all `multipart::write` emits), the parts written back parse to the same parts.
#![no_main]

use parley::sip::body::multipart;
use parley::sip::header::MediaType;
use parley_fuzz::show;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some(nl) = data.iter().position(|&b| b == b'\n') else {
        return;
    };
    let (first, body) = (&data[..nl], &data[nl + 1..]);
    let Ok(first) = std::str::from_utf8(first) else {
        return;
    };
    // The first line is either a bare boundary or a whole Content-Type value.
    let boundary = MediaType::parse(first)
        .and_then(|m| m.param("boundary"))
        .unwrap_or(first.trim_end_matches('\r'));
    let Ok(parts) = multipart::parse(body, boundary) else {
        return;
    };
    assert!(parts.len() <= multipart::MAX_PARTS);
    let mut simple = Vec::with_capacity(parts.len());
    for p in &parts {
        let _ = p.content_type();
        match p.headers.as_slice() {
            [(name, value)] if name.eq_ignore_ascii_case("Content-Type") => {
                simple.push((*value, p.body))
            }
            _ => {}
        }
    }
    // `write` ends every header block with CRLF CRLF; a part whose content begins with the
    // delimiter (possible only after a bare-LF blank line) has no CRLF form with this boundary.
    let delim = format!("--{boundary}");
    let representable = simple.iter().all(|(_, b)| !b.starts_with(delim.as_bytes()));
    if simple.len() != parts.len() || parts.is_empty() || !representable {
        return;
    }
    let mut out = Vec::new();
    multipart::write(&mut out, boundary, &simple);
    let again = multipart::parse(&out, boundary).unwrap_or_else(|e| {
        panic!(
            "written multipart does not parse: {e}\n{}\nfrom\n{}",
            show(&out),
            show(data)
        )
    });
    let again: Vec<_> = again
        .iter()
        .map(|p| (p.header("Content-Type"), p.body))
        .collect();
    let want: Vec<_> = simple.iter().map(|(ct, b)| (Some(*ct), *b)).collect();
    assert_eq!(want, again, "multipart round trip\n{}", show(&out));
});
