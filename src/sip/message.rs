//! A parsed SIP message (RFC 3261 §7) over one `Bytes` buffer: start line and header slices
//! indexed once (tier 1); typed views parsed on access (tier 2).

use bytes::Bytes;

use super::header::{CSeq, HeaderName, MediaType, NameAddr, Via};
use super::{SipError, SipLimits};

/// Request method. Extension methods are kept as `Other`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method<'a> {
    /// INVITE
    Invite,
    /// ACK
    Ack,
    /// BYE
    Bye,
    /// CANCEL
    Cancel,
    /// REGISTER
    Register,
    /// OPTIONS
    Options,
    /// MESSAGE (RFC 3428)
    Message,
    /// SUBSCRIBE (RFC 6665)
    Subscribe,
    /// NOTIFY (RFC 6665)
    Notify,
    /// PUBLISH (RFC 3903)
    Publish,
    /// INFO
    Info,
    /// REFER
    Refer,
    /// PRACK
    Prack,
    /// UPDATE
    Update,
    /// Any other token.
    Other(&'a str),
}

/// A complete SIP message: one `Bytes` plus offsets. Cheap to move between tasks.
#[derive(Debug, Clone)]
pub struct SipMessage {
    raw: Bytes,
}

impl SipMessage {
    /// Parse one complete message (as framed by [`super::framing`]).
    pub fn parse(raw: Bytes, limits: &SipLimits) -> Result<SipMessage, SipError> {
        let _ = limits;
        let _ = SipMessage { raw };
        todo!("sip::message::SipMessage::parse")
    }

    /// The message bytes.
    pub fn raw(&self) -> &Bytes {
        &self.raw
    }

    /// The method of a request; `None` for a response.
    pub fn method(&self) -> Option<Method<'_>> {
        todo!("sip::message::SipMessage::method")
    }

    /// The Request-URI of a request.
    pub fn request_uri(&self) -> Option<&str> {
        todo!("sip::message::SipMessage::request_uri")
    }

    /// The status code of a response.
    pub fn status(&self) -> Option<u16> {
        todo!("sip::message::SipMessage::status")
    }

    /// The reason phrase of a response.
    pub fn reason(&self) -> Option<&str> {
        todo!("sip::message::SipMessage::reason")
    }

    /// First value of a header, raw (folding intact).
    pub fn header(&self, name: HeaderName) -> Option<&[u8]> {
        let _ = name;
        todo!("sip::message::SipMessage::header")
    }

    /// Every value of a header in order, each field's comma-separated values split.
    pub fn header_values(&self, name: HeaderName) -> impl Iterator<Item = &[u8]> + '_ {
        let _ = name;
        todo!("sip::message::SipMessage::header_values");
        #[allow(unreachable_code)]
        std::iter::empty()
    }

    /// Top Via.
    pub fn via(&self) -> Result<Via<'_>, SipError> {
        todo!("sip::message::SipMessage::via")
    }

    /// From.
    pub fn from(&self) -> Result<NameAddr<'_>, SipError> {
        todo!("sip::message::SipMessage::from")
    }

    /// To.
    pub fn to(&self) -> Result<NameAddr<'_>, SipError> {
        todo!("sip::message::SipMessage::to")
    }

    /// Call-ID.
    pub fn call_id(&self) -> Result<&str, SipError> {
        todo!("sip::message::SipMessage::call_id")
    }

    /// CSeq.
    pub fn cseq(&self) -> Result<CSeq<'_>, SipError> {
        todo!("sip::message::SipMessage::cseq")
    }

    /// Max-Forwards, if present.
    pub fn max_forwards(&self) -> Result<Option<u32>, SipError> {
        todo!("sip::message::SipMessage::max_forwards")
    }

    /// Content-Type, if present.
    pub fn content_type(&self) -> Result<Option<MediaType<'_>>, SipError> {
        todo!("sip::message::SipMessage::content_type")
    }

    /// The body (empty when there is none).
    pub fn body(&self) -> &[u8] {
        todo!("sip::message::SipMessage::body")
    }
}
