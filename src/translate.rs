//! `parley translate` (RFC 7247 interworking, one message at a time): a SIP message or an XMPP
//! stanza in, what parley would send on the other side out — the wire form, or the
//! canonical events as JSON — or a clear refusal. Pure apart from reading the clock for CPIM
//! `DateTime` in [`translate_file`]; the CLI reads the files and sets the exit status (1 when
//! any input is refused).

use bytes::{Bytes, BytesMut};

use crate::bridge::sip::RequestContext;
use crate::bridge::sip_out::{SipOut, SipPeerCaps, write_sip_event};
use crate::bridge::xmpp_out::write_xmpp_event;
use crate::bridge::{BridgeError, sip_in, xmpp_in};
use crate::model::Event;
use crate::sip::framing::{StreamItem, frame_stream};
use crate::sip::{SipLimits, SipMessage};
use crate::xmpp::StreamHeader;
use crate::xmpp::stanza::parse_element;

/// Which side an input comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// A SIP request or response.
    Sip,
    /// An XMPP stanza.
    Xmpp,
}

/// What the translation assumes about the far side and the time.
#[derive(Debug, Clone, Copy)]
pub struct TranslateOptions<'a> {
    /// Capabilities of the SIP peer (for XMPP → SIP).
    pub caps: SipPeerCaps,
    /// RFC 3339 time used where a message carries none.
    pub now: &'a str,
}

/// Translate one file's content. Without `forced`, a first non-blank `<` means XMPP, anything
/// else SIP. Returns the text to print and whether the input was accepted.
pub fn translate_file(bytes: &[u8], forced: Option<Protocol>, json: bool) -> (String, bool) {
    let now = rfc3339(std::time::SystemTime::now());
    let opts = TranslateOptions {
        caps: SipPeerCaps::default(),
        now: &now,
    };
    translate_with(bytes, forced, json, &opts)
}

/// [`translate_file`] with explicit assumptions (golden tests fix the time and the peer).
pub fn translate_with(
    bytes: &[u8],
    forced: Option<Protocol>,
    json: bool,
    opts: &TranslateOptions<'_>,
) -> (String, bool) {
    let protocol = forced.unwrap_or_else(|| detect(bytes));
    let result = match protocol {
        Protocol::Sip => from_sip(bytes, json),
        Protocol::Xmpp => from_xmpp(bytes, json, opts),
    };
    match result {
        Ok(s) => (s, true),
        Err(e) => (format!("error: {e}\n"), false),
    }
}

/// Protocol of an input: XMPP when it starts with `<` after white space.
pub fn detect(bytes: &[u8]) -> Protocol {
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'<') => Protocol::Xmpp,
        _ => Protocol::Sip,
    }
}

/// Why an input is refused, in words.
#[derive(Debug)]
enum Refusal {
    Parse(String),
    Bridge(BridgeError),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Parse(s) => f.write_str(s),
            Refusal::Bridge(e) => {
                let (code, reason) = e.sip_status();
                write!(
                    f,
                    "{e}: not translated (SIP answer {code} {reason}; XMPP error <{}/>)",
                    e.xmpp_condition().as_str()
                )
            }
        }
    }
}

fn render_json(events: &[Event<'_>]) -> Result<String, Refusal> {
    let mut s = serde_json::to_string_pretty(events).map_err(|e| Refusal::Parse(e.to_string()))?;
    s.push('\n');
    Ok(s)
}

fn from_sip(bytes: &[u8], json: bool) -> Result<String, Refusal> {
    let limits = SipLimits::default();
    let len = match frame_stream(bytes, &limits) {
        Ok(Some(StreamItem::Message { len })) => len,
        Ok(_) => return Err(Refusal::Parse("SIP: incomplete message".into())),
        Err(e) => return Err(Refusal::Parse(format!("SIP: {e}"))),
    };
    if bytes
        .get(len..)
        .is_some_and(|rest| !rest.iter().all(u8::is_ascii_whitespace))
    {
        return Err(Refusal::Parse(
            "SIP: trailing bytes after the message (one message per file)".into(),
        ));
    }
    let raw = Bytes::copy_from_slice(bytes.get(..len).unwrap_or_default());
    let msg = SipMessage::parse(raw, &limits).map_err(|e| Refusal::Parse(format!("SIP: {e}")))?;
    let events = sip_in::events_from_sip(&msg).map_err(Refusal::Bridge)?;
    if json {
        return render_json(&events);
    }
    let mut text = String::new();
    let mut out = BytesMut::with_capacity(1024);
    for (i, ev) in events.iter().enumerate() {
        out.clear();
        let id = format!("parley-{}", i + 1);
        write_xmpp_event(&mut out, ev, &id).map_err(Refusal::Bridge)?;
        push_output(&mut text, &out);
    }
    if events.is_empty() {
        text.push_str("(nothing to send: no XMPP traffic for this message)\n");
    }
    Ok(text)
}

fn push_output(text: &mut String, out: &[u8]) {
    text.push_str(&String::from_utf8_lossy(out));
    if !text.ends_with('\n') {
        text.push('\n');
    }
}

fn from_xmpp(bytes: &[u8], json: bool, opts: &TranslateOptions<'_>) -> Result<String, Refusal> {
    let header = StreamHeader::default();
    let trimmed = bytes.trim_ascii();
    let el = parse_element(trimmed, &header).map_err(|e| Refusal::Parse(format!("XMPP: {e}")))?;
    let events = xmpp_in::events_from_xmpp(&el).map_err(Refusal::Bridge)?;
    if json {
        return render_json(&events);
    }
    let ctx = RequestContext {
        transport: "TLS",
        sent_by: "gateway.invalid:5061",
        branch: "z9hG4bK-parley-1",
        from_tag: "parley-tag-1",
        fallback_call_id: "parley-call-1@gateway.invalid",
        cseq: 1,
    };
    let o = SipOut {
        req: ctx,
        caps: opts.caps,
        call_id: None,
        to_tag: None,
        contact: "sip:gateway.invalid;transport=tls",
        expires: 3600,
        now: opts.now,
        boundary: "parley-alt-1",
    };
    let mut text = String::new();
    let mut out = BytesMut::with_capacity(1024);
    let mut written = 0;
    for ev in &events {
        out.clear();
        written += write_sip_event(&mut out, ev, &o).map_err(Refusal::Bridge)?;
        if !out.is_empty() {
            push_output(&mut text, &out);
        }
    }
    if written == 0 {
        text.push_str(
            "(nothing to send: no SIP traffic for this stanza, or the peer cannot take it)\n",
        );
    }
    Ok(text)
}

/// RFC 3339 UTC time of `t`, to the second.
pub fn rfc3339(t: std::time::SystemTime) -> String {
    let secs = t
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil from days (H. Hinnant's algorithm), valid for the Unix era.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_format() {
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
        assert_eq!(rfc3339(t), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(std::time::UNIX_EPOCH), "1970-01-01T00:00:00Z");
    }

    #[test]
    fn detection() {
        assert_eq!(detect(b"  <message/>"), Protocol::Xmpp);
        assert_eq!(detect(b"MESSAGE sip:a@b SIP/2.0\r\n"), Protocol::Sip);
    }
}
