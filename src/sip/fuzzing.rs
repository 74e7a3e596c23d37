//! Properties checked by the cargo-fuzz targets in `fuzz/` (kept here so each target is one
//! line, the properties compile with the crate, and `cargo test` replays every input kept in
//! `fuzz/regressions/` through them).

use bytes::{Bytes, BytesMut};

use super::body::imdn::Imdn;
use super::body::is_composing::IsComposing;
use super::body::pidf::Presence;
use super::body::{cpim, multipart};
use super::encode::{write_canonical, write_edited, write_response};
use super::framing::{StreamItem, frame_datagram, frame_stream};
use super::header::MediaType;
use super::{SipLimits, SipMessage};

/// Framing and parsing never panic; a parsed message written back (canonical form and
/// edit-mode copy) parses to the same message; a response to a parsed request parses.
pub fn round_trip(data: &[u8]) {
    let limits = SipLimits::default();
    let mut candidates = Vec::with_capacity(2);
    if let Ok(Some(StreamItem::Message { len })) = frame_stream(data, &limits) {
        candidates.push(len);
    }
    if let Ok(len) = frame_datagram(data, &limits) {
        candidates.push(len);
    }
    let _ = super::decode::decode_to_json(data);
    for len in candidates {
        let Some(bytes) = data.get(..len) else {
            continue;
        };
        let Ok(msg) = SipMessage::parse(Bytes::copy_from_slice(bytes), &limits) else {
            continue;
        };
        let verdict = msg.validate();

        let mut out = BytesMut::new();
        write_canonical(&mut out, &msg);
        let again = SipMessage::parse(out.freeze(), &limits)
            .unwrap_or_else(|e| panic!("canonical form does not parse: {e}"));
        assert_same(&msg, &again);
        assert_eq!(verdict, again.validate());

        let mut copy = BytesMut::new();
        write_edited(&mut copy, &msg, &[]);
        assert_eq!(&copy[..], bytes, "edit mode without edits is a byte copy");

        if msg.is_request() {
            let mut resp = BytesMut::new();
            write_response(&mut resp, &msg, 200, "OK", Some("t1"), &[], b"");
            let r = SipMessage::parse(resp.freeze(), &limits)
                .unwrap_or_else(|e| panic!("response does not parse: {e}"));
            assert_eq!(r.call_id(), msg.call_id());
            assert_eq!(r.cseq(), msg.cseq());
            assert_eq!(r.via(), msg.via());
        }
    }
}

fn assert_same(a: &SipMessage, b: &SipMessage) {
    assert_eq!(a.method(), b.method());
    assert_eq!(a.request_uri(), b.request_uri());
    assert_eq!(a.status(), b.status());
    assert_eq!(a.reason(), b.reason());
    assert!(
        a.headers()
            .map(|f| (f.name, f.value))
            .eq(b.headers().map(|f| (f.name, f.value)))
    );
    assert_eq!(a.body(), b.body());
    assert_eq!(a.via(), b.via());
    assert_eq!(a.from(), b.from());
    assert_eq!(a.to(), b.to());
    assert_eq!(a.call_id(), b.call_id());
    assert_eq!(a.cseq(), b.cseq());
    assert_eq!(a.max_forwards(), b.max_forwards());
    assert_eq!(a.content_type(), b.content_type());
}

/// PIDF with RPID (RFC 3863, RFC 4480): parsing never panics, and a parsed document written
/// back by `to_xml` parses to the same presence.
pub fn pidf(data: &[u8]) {
    let Ok(p) = Presence::parse(data) else {
        return;
    };
    let xml = p.to_xml();
    let again = Presence::parse(xml.as_bytes()).unwrap_or_else(|e| {
        panic!(
            "written PIDF does not parse: {e}\n{xml}\nfrom\n{}",
            show(data)
        )
    });
    assert_eq!(p, again, "PIDF round trip\n{xml}");
}

/// IMDN (RFC 5438): parsing never panics, and a parsed notification written back by `to_xml`
/// parses to the same notification.
pub fn imdn(data: &[u8]) {
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
}

/// isComposing (RFC 3994): parsing never panics, and a parsed document written back by
/// `to_xml` parses to the same state.
pub fn is_composing(data: &[u8]) {
    let Ok(c) = IsComposing::parse(data) else {
        return;
    };
    let xml = c.to_xml();
    let again = IsComposing::parse(xml.as_bytes()).unwrap_or_else(|e| {
        panic!(
            "written isComposing does not parse: {e}\n{xml}\nfrom\n{}",
            show(data)
        )
    });
    assert_eq!(c, again, "isComposing round trip\n{xml}");
}

/// CPIM (RFC 3862): parsing and every accessor never panic; a parsed message written back by
/// `cpim::write` parses to the same headers and payload (and the same content headers when
/// Content-Type is the only one, which is all `write` emits).
pub fn cpim(data: &[u8]) {
    let Ok(c) = cpim::Cpim::parse(data) else {
        return;
    };
    let _ = (c.from(), c.to(), c.datetime(), c.imdn_message_id());
    let _ = c.disposition_notification().count();
    let _ = c.content_type();
    let _ = c.ns_header(cpim::IMDN_NS, "Message-ID");

    let ct = match c.content_headers.as_slice() {
        [(name, value)] if name.eq_ignore_ascii_case("Content-Type") => Some(*value),
        _ => None,
    };
    let mut out = Vec::new();
    cpim::write(&mut out, &c.headers, ct.unwrap_or("text/plain"), c.body);
    let again = cpim::Cpim::parse(&out).unwrap_or_else(|e| {
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
}

/// Multipart (RFC 2046 §5.1). Input: the boundary on the first line (bare, or a whole
/// Content-Type value), the body after it. Parsing and the part accessors never panic; when
/// every part carries exactly one header, Content-Type (all `multipart::write` emits), the
/// parts written back parse to the same parts.
pub fn multipart(data: &[u8]) {
    let Some(nl) = data.iter().position(|&b| b == b'\n') else {
        return;
    };
    let (first, body) = data.split_at(nl);
    let body = body.get(1..).unwrap_or_default();
    let Ok(first) = std::str::from_utf8(first) else {
        return;
    };
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
        if let [(name, value)] = p.headers.as_slice()
            && name.eq_ignore_ascii_case("Content-Type")
        {
            simple.push((*value, p.body));
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
}

fn show(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[cfg(test)]
mod tests {
    /// The corpus seeds satisfy the property (the fuzz run starts from them).
    #[test]
    fn corpus_round_trips() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/protocol-tests/sip");
        for sub in ["rfc4475", "bench", "fuzz", "."] {
            for entry in std::fs::read_dir(format!("{dir}/{sub}")).unwrap() {
                let path = entry.unwrap().path();
                if path.extension().is_some_and(|e| e == "dat" || e == "sip") {
                    super::round_trip(&std::fs::read(&path).unwrap());
                }
            }
        }
    }

    /// Every input a fuzz run once failed on (`fuzz/regressions/TARGET/`) still satisfies its
    /// target's property; inputs still failing wait in `fuzz/regressions/open/`, unreplayed.
    #[test]
    fn fuzz_regressions_replay() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/regressions");
        type Property = fn(&[u8]);
        let targets: [(&str, Property); 7] = [
            ("sip_message", super::round_trip),
            ("sip_body_pidf", super::pidf),
            ("sip_body_imdn", super::imdn),
            ("sip_body_is_composing", super::is_composing),
            ("sip_body_cpim", super::cpim),
            ("sip_body_multipart", super::multipart),
            ("xmpp_stream", |d| {
                if let Err(e) = crate::xmpp::roundtrip::check(d) {
                    panic!("{e}");
                }
            }),
        ];
        let mut replayed = 0;
        for (target, property) in targets {
            let Ok(entries) = std::fs::read_dir(format!("{dir}/{target}")) else {
                continue;
            };
            for entry in entries {
                let path = entry.unwrap().path();
                let data = std::fs::read(&path).unwrap();
                if std::panic::catch_unwind(|| property(&data)).is_err() {
                    panic!("{} fails its property again", path.display());
                }
                replayed += 1;
            }
        }
        assert!(
            replayed >= 5,
            "only {replayed} regression inputs found under {dir}"
        );
    }
}
