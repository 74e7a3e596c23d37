//! Best-effort responses to requests that framed but did not parse (RFC 3261 §8.2): the
//! status from [`SipError::status`], with the Via, From, To, Call-ID and CSeq lines copied
//! verbatim so the sender can match it to its transaction.

use bytes::BytesMut;

use super::SipError;

/// Header names (long and compact) a response must echo.
const ECHOED: &[&str] = &["via", "v", "from", "f", "to", "t", "call-id", "i", "cseq"];

/// Append a response rejecting the request in `raw`. Returns false (and writes nothing) when
/// `raw` is not a request, since responses are never answered.
pub fn write_rejection(out: &mut BytesMut, raw: &[u8], err: SipError) -> bool {
    let (code, reason) = err.status();
    write_status(out, raw, code, reason)
}

/// Append a bodiless `code reason` response to the request in `raw`, its Via, From, To,
/// Call-ID and CSeq copied (a 100 Trying, §8.2.6.1, is written this way). False (nothing
/// written) when `raw` is not a request.
pub fn write_status(out: &mut BytesMut, raw: &[u8], code: u16, reason: &str) -> bool {
    let head_len = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(raw.len());
    let mut lines = raw[..head_len]
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    match lines.next() {
        Some(first) if !first.is_empty() && !first.starts_with(b"SIP/") => {}
        _ => return false,
    }
    out.extend_from_slice(format!("SIP/2.0 {code} {reason}\r\n").as_bytes());
    let mut echoing = false;
    for line in lines {
        let continuation = line.first().is_some_and(|b| *b == b' ' || *b == b'\t');
        if !continuation {
            echoing = line
                .iter()
                .position(|&b| b == b':')
                .and_then(|i| std::str::from_utf8(&line[..i]).ok())
                .is_some_and(|name| ECHOED.iter().any(|e| name.trim().eq_ignore_ascii_case(e)));
        }
        // Never reflect control characters (NUL, bare CR) back onto the wire.
        if echoing && line.iter().all(|&b| b >= 0x20 || b == b'\t') {
            out.extend_from_slice(line);
            out.extend_from_slice(b"\r\n");
        }
    }
    out.extend_from_slice(b"Content-Length: 0\r\n\r\n");
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echoes_transaction_headers_only() {
        let raw = b"MESSAGE sip:a@b SIP/2.0\r\nv: SIP/2.0/TLS h;branch=z9hG4bK1\r\nFrom: <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: c\r\nCSeq: 1 MESSAGE\r\nX-Bad: \0\r\nSubject: hi\r\n\r\n";
        let mut out = BytesMut::new();
        assert!(write_rejection(
            &mut out,
            raw,
            SipError::BadHeader(super::super::error::HeaderKind::Other)
        ));
        let text = std::str::from_utf8(&out).unwrap();
        assert!(
            text.starts_with("SIP/2.0 400 Bad Header\r\nv: SIP/2.0/TLS h;branch=z9hG4bK1\r\n"),
            "{text}"
        );
        assert!(text.contains("Call-ID: c\r\nCSeq: 1 MESSAGE\r\n"), "{text}");
        assert!(
            !text.contains("Subject") && !text.contains("X-Bad"),
            "{text}"
        );
        assert!(text.ends_with("Content-Length: 0\r\n\r\n"));
    }

    #[test]
    fn responses_are_not_answered() {
        let mut out = BytesMut::new();
        assert!(!write_rejection(
            &mut out,
            b"SIP/2.0 200 OK\r\nCSeq: x\r\n\r\n",
            SipError::BadStartLine
        ));
        assert!(out.is_empty());
    }

    #[test]
    fn control_characters_are_not_reflected() {
        let raw = b"MESSAGE sip:a@b SIP/2.0\r\nCall-ID: c\0d\r\n\r\n";
        let mut out = BytesMut::new();
        write_rejection(&mut out, raw, SipError::BadStartLine);
        assert!(!out.contains(&0));
    }
}
