//! An XML stream over any byte stream: reads frames through the codec's [`Framer`], writes
//! from a reused buffer. Shared by inbound and outbound s2s connections.

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;

use super::ConnError;
use crate::xmpp::encode;
use crate::xmpp::stanza::Element;
use crate::xmpp::{Frame, Framer, MarkedElement, StreamHeader, XmppLimits};

const READ_CHUNK: usize = 16 * 1024;

/// What a stream that is not authenticated yet may still send: its negotiation ends by
/// `deadline`, and it may send at most `bytes` more bytes and `frames` more frames (stream
/// headers, elements, whitespace keep-alives). Over any of them, parley sends a stream error
/// and closes: a peer trickling its negotiation (slowloris) or padding it cannot hold a
/// connection longer or make it read more than this.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    /// When the negotiation must be done.
    pub deadline: Instant,
    /// Bytes left.
    pub bytes: usize,
    /// Frames left.
    pub frames: usize,
}

/// A framed XML stream. `header` is the peer's current stream header.
#[derive(Debug)]
pub struct XmlStream<S> {
    io: S,
    rbuf: BytesMut,
    /// Reused output buffer; callers append, then [`XmlStream::flush`].
    pub wbuf: BytesMut,
    framer: Framer,
    limits: XmppLimits,
    header: Option<StreamHeader>,
    budget: Option<Budget>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> XmlStream<S> {
    /// Wrap a fresh connection (or one just upgraded to TLS).
    pub fn new(io: S, limits: XmppLimits) -> XmlStream<S> {
        XmlStream {
            io,
            rbuf: BytesMut::with_capacity(READ_CHUNK),
            wbuf: BytesMut::with_capacity(READ_CHUNK),
            framer: Framer::new(limits),
            limits,
            header: None,
            budget: None,
        }
    }

    /// Bound what the peer may still send (pre-authentication), or lift the bound (`None`).
    pub fn with_budget(mut self, budget: Option<Budget>) -> XmlStream<S> {
        self.budget = budget;
        self
    }

    /// What the peer may still send, when bounded (to carry it across a TLS upgrade).
    pub fn budget(&self) -> Option<Budget> {
        self.budget
    }

    /// The stream is authenticated: no pre-authentication bound any more.
    pub fn end_budget(&mut self) {
        self.budget = None;
    }

    /// Spend one frame of the budget; over it, the stream error goes out.
    async fn spend_frame(&mut self) -> Result<(), ConnError> {
        if let Some(b) = &mut self.budget {
            match b.frames.checked_sub(1) {
                Some(left) => b.frames = left,
                None => return Err(self.over_budget("elements").await),
            }
        }
        Ok(())
    }

    async fn over_budget(&mut self, reason: &'static str) -> ConnError {
        crate::metrics::negotiation_limit(reason);
        if reason == "deadline" {
            self.send_stream_error(crate::xmpp::StreamCondition::ConnectionTimeout, None)
                .await;
            return ConnError::Timeout("inbound s2s negotiation");
        }
        self.send_stream_error(
            crate::xmpp::StreamCondition::PolicyViolation,
            Some("too much data before authentication"),
        )
        .await;
        ConnError::Unexpected {
            expected: "a negotiation within its budget",
            got: format!("too many {reason} before authentication"),
        }
    }

    /// Read more bytes, within the budget when there is one.
    async fn fill(&mut self) -> Result<usize, ConnError> {
        self.rbuf.reserve(READ_CHUNK);
        let Some(b) = self.budget else {
            return Ok(self.io.read_buf(&mut self.rbuf).await?);
        };
        let n = match tokio::time::timeout_at(b.deadline, self.io.read_buf(&mut self.rbuf)).await {
            Ok(n) => n?,
            Err(_) => return Err(self.over_budget("deadline").await),
        };
        match b.bytes.checked_sub(n) {
            Some(left) => {
                if let Some(b) = &mut self.budget {
                    b.bytes = left;
                }
                Ok(n)
            }
            None => Err(self.over_budget("bytes").await),
        }
    }

    /// The underlying transport (e.g. to read the peer certificate).
    pub fn io_ref(&self) -> &S {
        &self.io
    }

    /// The peer's stream header, once received.
    pub fn header(&self) -> Option<&StreamHeader> {
        self.header.as_ref()
    }

    /// Next frame; the stream header is remembered. On an invalid stream the stream error is
    /// sent before returning.
    pub async fn read_frame(&mut self) -> Result<Frame, ConnError> {
        loop {
            match self.framer.next_frame(&mut self.rbuf) {
                Ok(Some(Frame::Open(h))) => {
                    self.spend_frame().await?;
                    self.header = Some(h.clone());
                    return Ok(Frame::Open(h));
                }
                Ok(Some(frame)) => {
                    self.spend_frame().await?;
                    return Ok(frame);
                }
                Ok(None) => {}
                Err(e) => {
                    let condition = crate::metrics::xmpp_parse_failed(&e);
                    self.send_stream_error(condition, None).await;
                    return Err(ConnError::Xmpp(e));
                }
            }
            if self.fill().await? == 0 {
                return Err(ConnError::Closed);
            }
        }
    }

    /// Next depth-1 element (skipping whitespace keep-alives), with the framer's marks so it
    /// is parsed without a second scan; the peer's stream footer or a stream error ends the
    /// stream.
    pub async fn read_element(&mut self) -> Result<MarkedElement, ConnError> {
        loop {
            match self.read_frame().await? {
                Frame::Element(bytes) => return Ok(self.framer.marked(bytes)),
                Frame::Whitespace => continue,
                Frame::Close => return Err(ConnError::Closed),
                Frame::Open(_) => {
                    return Err(ConnError::Unexpected {
                        expected: "an element",
                        got: "a stream header".into(),
                    });
                }
            }
        }
    }

    /// Expect the peer's stream header.
    pub async fn read_header(&mut self) -> Result<StreamHeader, ConnError> {
        loop {
            match self.read_frame().await? {
                Frame::Open(h) => return Ok(h),
                Frame::Whitespace => continue,
                Frame::Close => return Err(ConnError::Closed),
                Frame::Element(_) => {
                    return Err(ConnError::Unexpected {
                        expected: "a stream header",
                        got: "an element".into(),
                    });
                }
            }
        }
    }

    /// Parse an element against the current stream header; a peer stream error becomes
    /// [`ConnError::PeerStreamError`]. The element read last is not scanned again: the framer's marks for it are read.
    pub fn parse<'a>(&self, bytes: &'a [u8]) -> Result<Element<'a>, ConnError> {
        let header = self.header.as_ref().ok_or(ConnError::Unexpected {
            expected: "a stream header",
            got: "an element".into(),
        })?;
        match self
            .framer
            .parse_last(bytes, header)
            .map_err(ConnError::Xmpp)?
        {
            Element::StreamError { condition, .. } => Err(ConnError::PeerStreamError(condition)),
            other => Ok(other),
        }
    }

    /// Write everything in `wbuf`.
    pub async fn flush(&mut self) -> Result<(), ConnError> {
        self.io.write_all(&self.wbuf).await?;
        self.wbuf.clear();
        self.io.flush().await?;
        Ok(())
    }

    /// Best effort: send a stream error and the stream footer.
    pub async fn send_stream_error(
        &mut self,
        condition: crate::xmpp::StreamCondition,
        text: Option<&str>,
    ) {
        self.wbuf.clear();
        encode::write_stream_error(&mut self.wbuf, condition, text);
        encode::write_stream_close(&mut self.wbuf);
        if self.flush().await.is_ok() {
            self.linger().await;
        }
    }

    /// After a stream error: close our sending side, then read and discard what the peer
    /// still sends, for a bounded time and amount (RFC 6120 §4.4 waits for the peer's close).
    /// Closing with unread bytes would make the kernel answer with a reset, which can
    /// destroy the error before the peer reads it.
    async fn linger(&mut self) {
        const LINGER: std::time::Duration = std::time::Duration::from_secs(1);
        const MAX_DISCARD: usize = 1 << 20;
        let _ = tokio::time::timeout(LINGER, async {
            let _ = self.io.shutdown().await;
            let mut scratch = [0u8; 4096];
            let mut discarded = 0;
            while discarded < MAX_DISCARD {
                match self.io.read(&mut scratch).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => discarded += n,
                }
            }
        })
        .await;
    }

    /// Give the transport back for a TLS upgrade or after SASL, with a fresh framer. Bytes the
    /// peer sent beyond the last element are a protocol violation at these points (RFC 6120
    /// §5.4.3.3, §6.4.6), so they are refused.
    pub fn into_inner(self) -> Result<S, ConnError> {
        if !self.rbuf.is_empty() {
            return Err(ConnError::Unexpected {
                expected: "nothing before the stream restart",
                got: format!("{} bytes", self.rbuf.len()),
            });
        }
        Ok(self.io)
    }

    /// Restart the stream on the same transport (after SASL success).
    pub fn restart(self) -> Result<XmlStream<S>, ConnError> {
        let (limits, budget) = (self.limits, self.budget);
        Ok(XmlStream::new(self.into_inner()?, limits).with_budget(budget))
    }
}
