//! Codec tests: framing (tables + every prefix + transcripts), views, writer, JIDs.

mod children;
mod encode;
mod framing;
mod golden;
mod jid;
mod stanza;

use bytes::BytesMut;

use super::{Frame, Framer, XmppError, XmppLimits};

/// Prosody 0.12 style s2s stream header (inbound, after TLS).
pub(crate) const PROSODY_HEADER: &str = "<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:db='jabber:server:dialback' xmlns:stream='http://etherx.jabber.org/streams' version='1.0' from='prosody.example' to='parley.example' id='0b8a6c1e-7d3e' xml:lang='en'>";

/// Feed `input` in one piece and collect every frame until the buffer is drained.
pub(crate) fn frames(input: &[u8]) -> Result<Vec<Frame>, XmppError> {
    frames_with(input, XmppLimits::default())
}

/// As [`frames`], with explicit limits.
pub(crate) fn frames_with(input: &[u8], limits: XmppLimits) -> Result<Vec<Frame>, XmppError> {
    let mut f = Framer::new(limits);
    let mut buf = BytesMut::from(input);
    let mut out = Vec::new();
    while let Some(fr) = f.next_frame(&mut buf)? {
        out.push(fr);
    }
    Ok(out)
}

/// Feed `input` in pieces of `step` bytes, collecting frames.
pub(crate) fn frames_chunked(input: &[u8], step: usize) -> Result<Vec<Frame>, XmppError> {
    let mut f = Framer::new(XmppLimits::default());
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    for piece in input.chunks(step) {
        buf.extend_from_slice(piece);
        while let Some(fr) = f.next_frame(&mut buf)? {
            out.push(fr);
        }
    }
    Ok(out)
}
