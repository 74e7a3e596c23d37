//! Instant Message Disposition Notifications (RFC 5438 §7): `message/imdn+xml`.

use std::fmt::Write as _;

use super::{esc, is_xml_name, leaf_text, walk};
use crate::sip::SipError;

/// Media type of IMDN documents.
pub const CONTENT_TYPE: &str = "message/imdn+xml";
const NS: &str = "urn:ietf:params:xml:ns:imdn";

/// Which notification this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotificationKind {
    /// `<delivery-notification>`
    Delivery,
    /// `<display-notification>`
    Display,
    /// `<processing-notification>`
    Processing,
}

/// The status inside the notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DispositionStatus {
    /// `<delivered/>`
    Delivered,
    /// `<displayed/>`
    Displayed,
    /// `<processed/>`
    Processed,
    /// `<stored/>`
    Stored,
    /// `<failed/>`
    Failed,
    /// `<forbidden/>`
    Forbidden,
    /// `<error/>`
    Error,
    /// Any other status element (local name).
    Other(String),
}

impl DispositionStatus {
    fn from_name(n: &[u8]) -> DispositionStatus {
        match n {
            b"delivered" => DispositionStatus::Delivered,
            b"displayed" => DispositionStatus::Displayed,
            b"processed" => DispositionStatus::Processed,
            b"stored" => DispositionStatus::Stored,
            b"failed" => DispositionStatus::Failed,
            b"forbidden" => DispositionStatus::Forbidden,
            b"error" => DispositionStatus::Error,
            other => DispositionStatus::Other(String::from_utf8_lossy(other).into_owned()),
        }
    }

    /// The element name; an `Other` name that is no unprefixed XML name (never one parsed) is
    /// written as `error`, so the document stays well-formed.
    fn name(&self) -> &str {
        match self {
            DispositionStatus::Delivered => "delivered",
            DispositionStatus::Displayed => "displayed",
            DispositionStatus::Processed => "processed",
            DispositionStatus::Stored => "stored",
            DispositionStatus::Failed => "failed",
            DispositionStatus::Forbidden => "forbidden",
            DispositionStatus::Error => "error",
            DispositionStatus::Other(s) if is_xml_name(s.as_bytes()) && !s.contains(':') => s,
            DispositionStatus::Other(_) => "error",
        }
    }
}

/// An IMDN document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imdn {
    /// `<message-id>` of the message this notification is about.
    pub message_id: String,
    /// `<datetime>` of the original message.
    pub datetime: String,
    /// `<recipient-uri>`, if any.
    pub recipient_uri: Option<String>,
    /// `<original-recipient-uri>`, if any.
    pub original_recipient_uri: Option<String>,
    /// Delivery, display or processing.
    pub kind: NotificationKind,
    /// The status.
    pub status: DispositionStatus,
}

impl Imdn {
    /// Parse a document.
    pub fn parse(body: &[u8]) -> Result<Imdn, SipError> {
        let (mut id, mut dt, mut rcpt, mut orig, mut kind, mut status) =
            (None, None, None, None, None, None);
        walk(body, |r, e, depth, empty| {
            let name = e.local_name();
            let name = name.as_ref();
            match depth {
                1 if name == b"imdn" => Ok(false),
                1 => Err(SipError::BadBody),
                2 if empty => Ok(false),
                2 => Ok(match name {
                    b"message-id" => {
                        id = Some(leaf_text(r, e)?);
                        true
                    }
                    b"datetime" => {
                        dt = Some(leaf_text(r, e)?);
                        true
                    }
                    b"recipient-uri" => {
                        rcpt = Some(leaf_text(r, e)?);
                        true
                    }
                    b"original-recipient-uri" => {
                        orig = Some(leaf_text(r, e)?);
                        true
                    }
                    b"delivery-notification" => {
                        kind = Some(NotificationKind::Delivery);
                        false
                    }
                    b"display-notification" => {
                        kind = Some(NotificationKind::Display);
                        false
                    }
                    b"processing-notification" => {
                        kind = Some(NotificationKind::Processing);
                        false
                    }
                    _ => false,
                }),
                4 if kind.is_some() && status.is_none() => {
                    status = Some(DispositionStatus::from_name(name));
                    Ok(false)
                }
                _ => Ok(false),
            }
        })?;
        Ok(Imdn {
            message_id: id.ok_or(SipError::BadBody)?,
            datetime: dt.ok_or(SipError::BadBody)?,
            recipient_uri: rcpt,
            original_recipient_uri: orig,
            kind: kind.ok_or(SipError::BadBody)?,
            status: status.ok_or(SipError::BadBody)?,
        })
    }

    /// Write the document.
    pub fn to_xml(&self) -> String {
        let mut s = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<imdn xmlns=\"{NS}\">\n  <message-id>{}</message-id>\n  <datetime>{}</datetime>\n",
            esc(&self.message_id),
            esc(&self.datetime)
        );
        if let Some(v) = &self.recipient_uri {
            let _ = writeln!(s, "  <recipient-uri>{}</recipient-uri>", esc(v));
        }
        if let Some(v) = &self.original_recipient_uri {
            let _ = writeln!(
                s,
                "  <original-recipient-uri>{}</original-recipient-uri>",
                esc(v)
            );
        }
        let kind = match self.kind {
            NotificationKind::Delivery => "delivery-notification",
            NotificationKind::Display => "display-notification",
            NotificationKind::Processing => "processing-notification",
        };
        let _ = write!(
            s,
            "  <{kind}>\n    <status>\n      <{}/>\n    </status>\n  </{kind}>\n</imdn>\n",
            self.status.name()
        );
        s
    }
}
