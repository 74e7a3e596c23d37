//! SIP and SIPS URIs (RFC 3261 §19.1), parsed once into borrowed parts.

use std::borrow::Cow;

use super::SipError;

/// URI scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// sip:
    Sip,
    /// sips:
    Sips,
}

/// A parsed sip:/sips: URI borrowing from its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SipUri<'a> {
    /// sip or sips.
    pub scheme: Scheme,
    /// User part as written (percent-escapes intact).
    pub user: Option<&'a str>,
    /// Host: domain name, IPv4 address, or IPv6 reference with brackets.
    pub host: &'a str,
    /// Port, if given.
    pub port: Option<u16>,
    /// Raw `;param` text (without the leading `;`), may be empty.
    pub params: &'a str,
}

impl<'a> SipUri<'a> {
    /// Parse a sip:/sips: URI. Other schemes give [`SipError::UnsupportedUriScheme`].
    pub fn parse(text: &'a str) -> Result<SipUri<'a>, SipError> {
        let _ = text;
        todo!("sip::uri::SipUri::parse")
    }

    /// The user part with percent-escapes decoded (borrowed when there are none).
    pub fn user_decoded(&self) -> Option<Cow<'a, str>> {
        todo!("sip::uri::SipUri::user_decoded")
    }

    /// Value of a URI parameter (`transport`, `gr`, `lr`…); `Some("")` for a flag parameter.
    pub fn param(&self, name: &str) -> Option<&'a str> {
        let _ = name;
        todo!("sip::uri::SipUri::param")
    }
}
