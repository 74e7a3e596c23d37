//! Splitting one reassembled byte stream into protocol messages with parley's own framers
//! ([`crate::sip::framing::frame_stream`], [`crate::xmpp::Framer`]), resynchronising after a
//! gap or a framing error, and noticing when a stream turns into TLS.

use bytes::{Bytes, BytesMut};

use crate::sip::framing::{StreamItem, frame_stream};
use crate::sip::{SipError, SipLimits};
use crate::xmpp::encode::{StreamOpen, write_stream_open};
use crate::xmpp::{Frame, Framer, StreamHeader, XmppError, XmppLimits};

/// What a splitter found, in stream order.
#[derive(Debug)]
pub(crate) enum Item<'a> {
    /// One SIP message (head and body), exactly its bytes.
    Sip(Bytes),
    /// SIP framing failed; the stream is resynchronised at the next start line.
    SipInvalid(SipError),
    /// An XMPP stream header, with its bytes.
    XmppOpen(&'a StreamHeader, Bytes),
    /// A depth-1 XMPP element and the header of the stream it belongs to.
    XmppElement(Bytes, &'a StreamHeader),
    /// `</stream:stream>`.
    XmppClose,
    /// XMPP framing failed; the stream is resynchronised at the next stanza.
    XmppInvalid(XmppError),
    /// Bytes missing from the capture.
    Gap(u64),
    /// The stream is TLS from here on (direct TLS, or after STARTTLS).
    Tls,
    /// Bytes left over at the end of the capture that do not make a whole message.
    Incomplete(usize),
}

/// What the other direction of the connection must do after an element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Signal {
    /// Nothing.
    None,
    /// `<proceed/>`: both directions continue in TLS.
    StartTls,
    /// SASL `<success/>`: both directions open new streams.
    Restart,
}

/// Whether `b` starts with a TLS record header (RFC 8446 §5.1), a handshake when `handshake`.
pub(crate) fn looks_like_tls(b: &[u8], handshake: bool) -> bool {
    match b {
        [t, 3, minor, ..] => {
            *minor <= 4
                && if handshake {
                    *t == 22
                } else {
                    (20..=23).contains(t)
                }
        }
        _ => false,
    }
}

/// Splitter of a SIP byte stream.
#[derive(Debug)]
pub(crate) struct SipSplitter {
    buf: BytesMut,
    limits: SipLimits,
    /// Looking for a start line (after a gap or error, or mid-stream start).
    resync: bool,
}

impl SipSplitter {
    /// A splitter; `resync` when the stream's start was not captured.
    pub fn new(limits: SipLimits, resync: bool) -> Self {
        SipSplitter {
            buf: BytesMut::new(),
            limits,
            resync,
        }
    }

    /// More bytes. Returns true when the stream turned out to be TLS.
    pub fn data(&mut self, d: &[u8], emit: &mut dyn FnMut(Item<'_>)) -> bool {
        self.buf.extend_from_slice(d);
        loop {
            if self.resync {
                match find_sip_start(&self.buf) {
                    Some(at) => {
                        let _ = self.buf.split_to(at);
                        self.resync = false;
                    }
                    None => {
                        // Keep a tail that may be the start of a start line.
                        let keep = self.buf.len().min(64);
                        let _ = self.buf.split_to(self.buf.len() - keep);
                        return false;
                    }
                }
            }
            match frame_stream(&self.buf, &self.limits) {
                Ok(Some(StreamItem::Message { len })) => {
                    emit(Item::Sip(self.buf.split_to(len).freeze()))
                }
                Ok(Some(item)) => {
                    let _ = self.buf.split_to(item.len());
                }
                Ok(None) => return false,
                Err(_) if looks_like_tls(&self.buf, false) => {
                    self.buf.clear();
                    emit(Item::Tls);
                    return true;
                }
                Err(e) => {
                    emit(Item::SipInvalid(e));
                    // Skip the bad start line, then look for the next one.
                    let _ = self.buf.split_to(1);
                    self.resync = true;
                }
            }
        }
    }

    /// Bytes are missing: drop what was buffered and look for the next start line.
    pub fn gap(&mut self, n: u64, emit: &mut dyn FnMut(Item<'_>)) {
        emit(Item::Gap(n));
        self.buf.clear();
        self.resync = true;
    }

    /// End of the stream.
    pub fn finish(&mut self, emit: &mut dyn FnMut(Item<'_>)) {
        if !self.resync && !self.buf.is_empty() {
            emit(Item::Incomplete(self.buf.len()));
        }
        self.buf.clear();
    }
}

/// Offset of the first thing that looks like a SIP start line (`SIP/2.0 NNN` or
/// `METHOD uri SIP/2.0`). Not only at line starts: a body without a final CRLF runs straight
/// into the next message.
pub(crate) fn find_sip_start(buf: &[u8]) -> Option<usize> {
    (0..buf.len()).find(|&at| {
        buf[at].is_ascii_uppercase()
            && (at == 0 || !buf[at - 1].is_ascii_uppercase())
            && is_sip_start(&buf[at..])
    })
}

/// Whether `b` begins with something that can only be a SIP start line (once complete).
pub(crate) fn is_sip_start(b: &[u8]) -> bool {
    if b.starts_with(b"SIP/2.0 ") {
        return true;
    }
    let method = b.iter().take_while(|c| c.is_ascii_uppercase()).count();
    if method == 0 || b.get(method) != Some(&b' ') {
        return false;
    }
    let rest = &b[method + 1..];
    let line_end = rest.iter().position(|c| *c == b'\r').unwrap_or(rest.len());
    let line = &rest[..line_end];
    let scheme = [&b"sip:"[..], b"sips:", b"tel:", b"im:", b"pres:"]
        .iter()
        .any(|s| line.len() >= s.len() && line[..s.len()].eq_ignore_ascii_case(s));
    scheme && (line_end == rest.len() || line.ends_with(b" SIP/2.0"))
}

/// Whether `b` begins an XML stream (XML declaration or a `…:stream` root).
pub(crate) fn is_xmpp_start(b: &[u8]) -> bool {
    let t = b.trim_ascii_start();
    if t.starts_with(b"<?xml") || t.starts_with(b"<stream ") {
        return true;
    }
    let name_end = t
        .iter()
        .take(64)
        .position(|c| c.is_ascii_whitespace() || *c == b'>')
        .unwrap_or(0);
    t.starts_with(b"<") && t[..name_end].ends_with(b":stream")
}

/// Splitter of an XMPP byte stream.
#[derive(Debug)]
pub(crate) struct XmppSplitter {
    framer: Framer,
    buf: BytesMut,
    header: Option<StreamHeader>,
    /// Whether the framer has read a stream header since its last (re)start.
    opened: bool,
    resync: bool,
    /// After `<proceed/>`: the next bytes are expected to be TLS.
    expect_tls: bool,
}

/// Element starts a resynchronisation may begin at.
const XMPP_STARTS: [&[u8]; 6] = [
    b"<message",
    b"<presence",
    b"<iq",
    b"<db:",
    b"<stream:stream",
    b"<?xml",
];

impl XmppSplitter {
    /// A splitter; `resync` when the stream's start was not captured.
    pub fn new(limits: XmppLimits, resync: bool) -> Self {
        XmppSplitter {
            framer: Framer::new(limits),
            buf: BytesMut::new(),
            header: None,
            opened: false,
            resync,
            expect_tls: false,
        }
    }

    /// The other direction sent `<proceed/>` or `<success/>`.
    pub fn signal(&mut self, s: Signal) {
        match s {
            Signal::None => {}
            Signal::StartTls => self.expect_tls = true,
            Signal::Restart => {
                self.framer.restart();
                self.opened = false;
            }
        }
    }

    /// More bytes. Returns the signal for the other direction, and whether this stream is
    /// TLS from now on.
    pub fn data(&mut self, d: &[u8], emit: &mut dyn FnMut(Item<'_>)) -> (Signal, bool) {
        self.buf.extend_from_slice(d);
        let mut signal = Signal::None;
        loop {
            if self.expect_tls && !self.buf.is_empty() {
                self.expect_tls = false;
                if looks_like_tls(&self.buf, false) {
                    self.buf.clear();
                    emit(Item::Tls);
                    return (signal, true);
                }
            }
            if self.resync && !self.resync_now() {
                return (signal, false);
            }
            let snapshot = (!self.opened).then(|| self.buf.clone().freeze());
            let before = self.buf.len();
            match self.framer.next_frame(&mut self.buf) {
                Ok(Some(Frame::Open(h))) => {
                    self.opened = true;
                    let raw = snapshot.map(|s| s.slice(..before - self.buf.len()));
                    let h = &*self.header.insert(h);
                    emit(Item::XmppOpen(h, raw.unwrap_or_default()));
                }
                Ok(Some(Frame::Element(el))) => {
                    let s = element_signal(&el);
                    if s != Signal::None {
                        signal = s;
                        self.signal(s);
                    }
                    let h = self.header.get_or_insert_with(StreamHeader::default);
                    emit(Item::XmppElement(el, h));
                }
                Ok(Some(Frame::Whitespace)) => {}
                Ok(Some(Frame::Close)) => emit(Item::XmppClose),
                Ok(None) => return (signal, false),
                Err(_) if looks_like_tls(&self.buf, false) => {
                    self.buf.clear();
                    emit(Item::Tls);
                    return (signal, true);
                }
                Err(e) => {
                    emit(Item::XmppInvalid(e));
                    let _ = self.buf.split_to(self.buf.len().min(1));
                    self.resync = true;
                }
            }
        }
    }

    /// Bytes are missing: drop what was buffered and look for the next stanza.
    pub fn gap(&mut self, n: u64, emit: &mut dyn FnMut(Item<'_>)) {
        emit(Item::Gap(n));
        self.buf.clear();
        self.resync = true;
    }

    /// End of the stream.
    pub fn finish(&mut self, emit: &mut dyn FnMut(Item<'_>)) {
        if !self.resync && !self.buf.trim_ascii().is_empty() {
            emit(Item::Incomplete(self.buf.len()));
        }
        self.buf.clear();
    }

    /// Find the next element start; restart the framer there. False when none yet.
    fn resync_now(&mut self) -> bool {
        let found = XMPP_STARTS
            .iter()
            .filter_map(|p| find_tag(&self.buf, p))
            .min();
        let Some(at) = found else {
            let keep = self.buf.len().min(16);
            let _ = self.buf.split_to(self.buf.len() - keep);
            return false;
        };
        let _ = self.buf.split_to(at);
        self.resync = false;
        self.framer = Framer::new(*self.framer.limits());
        self.opened = false;
        if !is_xmpp_start(&self.buf) {
            // Mid-stream: open a stream of the same kind so the framer accepts stanzas.
            let mut open = BytesMut::new();
            write_stream_open(
                &mut open,
                &StreamOpen {
                    from: "",
                    to: "",
                    id: None,
                },
            );
            if let Ok(Some(Frame::Open(h))) = self.framer.next_frame(&mut open) {
                self.header.get_or_insert(h);
            }
            self.opened = true;
        }
        true
    }
}

/// Position of `<name` followed by a name end.
fn find_tag(buf: &[u8], tag: &[u8]) -> Option<usize> {
    let mut from = 0;
    while from + tag.len() <= buf.len() {
        let at = from + buf[from..].windows(tag.len()).position(|w| w == tag)?;
        match buf.get(at + tag.len()) {
            Some(b' ' | b'\t' | b'\r' | b'\n' | b'>' | b'/') => return Some(at),
            Some(_) if tag.ends_with(b":") || tag == b"<?xml" => return Some(at),
            Some(_) => from = at + 1,
            None => return None,
        }
    }
    None
}

/// `<proceed/>` and SASL `<success/>` change both directions of the stream.
fn element_signal(el: &[u8]) -> Signal {
    let name_end = el
        .iter()
        .position(|c| c.is_ascii_whitespace() || *c == b'>' || *c == b'/')
        .unwrap_or(el.len());
    let name = &el[..name_end];
    let local = name.rsplit(|c| *c == b':').next().unwrap_or(name);
    let has = |ns: &[u8]| el.windows(ns.len()).any(|w| w == ns);
    match local {
        b"proceed" if has(b"urn:ietf:params:xml:ns:xmpp-tls") => Signal::StartTls,
        b"success" if has(b"urn:ietf:params:xml:ns:xmpp-sasl") => Signal::Restart,
        _ => Signal::None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sip_start_lines() {
        assert!(is_sip_start(b"MESSAGE sip:bob@b.example SIP/2.0\r\n"));
        assert!(is_sip_start(b"SIP/2.0 200 OK\r\n"));
        assert!(is_sip_start(b"OPTIONS sip:b"));
        assert!(!is_sip_start(b"Via: SIP/2.0/TCP x\r\n"));
        assert!(!is_sip_start(b"HELLO world\r\n"));
        assert_eq!(find_sip_start(b"ody\r\nSIP/2.0 200 OK\r\n"), Some(5));
    }

    #[test]
    fn xmpp_starts() {
        assert!(is_xmpp_start(b"<?xml version='1.0'?>"));
        assert!(is_xmpp_start(b"<stream:stream xmlns='jabber:server'>"));
        assert!(!is_xmpp_start(b"<message to='a'/>"));
        assert_eq!(find_tag(b"xx<iqq/><iq type", b"<iq"), Some(8));
    }

    #[test]
    fn tls_records() {
        assert!(looks_like_tls(&[22, 3, 1, 0, 200], true));
        assert!(looks_like_tls(&[23, 3, 3], false));
        assert!(!looks_like_tls(b"<stream", false));
        assert!(!looks_like_tls(&[23, 3, 3], true));
    }

    #[test]
    fn sip_resync_after_gap() {
        let mut s = SipSplitter::new(SipLimits::default(), false);
        let mut got = Vec::new();
        let msg = b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 0\r\n\r\n";
        s.data(&msg[..10], &mut |i| got.push(format!("{i:?}")));
        s.gap(5, &mut |i| got.push(format!("{i:?}")));
        s.data(b"garbage\r\n", &mut |i| got.push(format!("{i:?}")));
        s.data(msg, &mut |i| got.push(format!("{i:?}")));
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(got[0].starts_with("Gap(5)"));
        assert!(got[1].starts_with("Sip("));
    }
}
