//! An XML stream over any byte stream: reads frames through the codec's [`Framer`], writes
//! from a reused buffer. Shared by inbound and outbound s2s connections.

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::ConnError;
use crate::xmpp::encode;
use crate::xmpp::stanza::{self, Element};
use crate::xmpp::{Frame, Framer, StreamHeader, XmppLimits};

const READ_CHUNK: usize = 16 * 1024;

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
                    self.header = Some(h.clone());
                    return Ok(Frame::Open(h));
                }
                Ok(Some(frame)) => return Ok(frame),
                Ok(None) => {}
                Err(e) => {
                    let condition = crate::metrics::xmpp_parse_failed(&e);
                    self.send_stream_error(condition, None).await;
                    return Err(ConnError::Xmpp(e));
                }
            }
            self.rbuf.reserve(READ_CHUNK);
            if self.io.read_buf(&mut self.rbuf).await? == 0 {
                return Err(ConnError::Closed);
            }
        }
    }

    /// Next depth-1 element (skipping whitespace keep-alives); the peer's stream footer or a
    /// stream error ends the stream.
    pub async fn read_element(&mut self) -> Result<Bytes, ConnError> {
        loop {
            match self.read_frame().await? {
                Frame::Element(bytes) => return Ok(bytes),
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
    /// [`ConnError::PeerStreamError`].
    pub fn parse<'a>(&self, bytes: &'a [u8]) -> Result<Element<'a>, ConnError> {
        let header = self.header.as_ref().ok_or(ConnError::Unexpected {
            expected: "a stream header",
            got: "an element".into(),
        })?;
        match stanza::parse_element(bytes, header).map_err(ConnError::Xmpp)? {
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
        let _ = self.flush().await;
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
        let limits = self.limits;
        Ok(XmlStream::new(self.into_inner()?, limits))
    }
}
