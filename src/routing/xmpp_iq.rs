//! What the gateway's XMPP domains answer to iq requests (RFC 6120 §8.2.3): XEP-0030
//! disco#info/items, XEP-0199 ping and XEP-0092 version for the domain itself;
//! `service-unavailable` for everything else (RFC 6121 §8.5). A pure decision, then one writer.

use bytes::BytesMut;

use crate::xmpp::encode::{IqOut, IqPayloadOut, StanzaErrorOut};
use crate::xmpp::stanza::{IqPayload, IqType, IqView};
use crate::xmpp::{ErrorType, StanzaCondition};

/// Features parley really implements, advertised in disco#info.
pub const DISCO_FEATURES: &[&str] = &[
    "http://jabber.org/protocol/disco#info",
    "http://jabber.org/protocol/disco#items",
    "urn:xmpp:ping",
    "jabber:iq:version",
];

/// The answer to one iq.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IqAnswer {
    /// Results and errors are never answered.
    None,
    /// An empty result (ping).
    Pong,
    /// The disco#info of the domain.
    DiscoInfo,
    /// An empty disco#items.
    DiscoItems,
    /// Software version (XEP-0092), when enabled.
    Version,
    /// A stanza error.
    Error(StanzaCondition),
}

/// Decide the answer. `to_domain` is true when the iq is addressed to the bare domain.
pub fn decide(iq: &IqView<'_>, to_domain: bool, version_enabled: bool) -> IqAnswer {
    let (Some(type_), Some(_)) = (iq.type_, iq.id.as_deref()) else {
        return IqAnswer::Error(StanzaCondition::BadRequest);
    };
    if matches!(type_, IqType::Result | IqType::Error) {
        return IqAnswer::None;
    }
    if iq.payload.is_none() || iq.extra_children > 0 {
        return IqAnswer::Error(StanzaCondition::BadRequest);
    }
    if !to_domain || type_ != IqType::Get {
        return IqAnswer::Error(StanzaCondition::ServiceUnavailable);
    }
    match iq.payload_kind() {
        IqPayload::Ping => IqAnswer::Pong,
        IqPayload::DiscoInfo(d) if d.node.is_none() => IqAnswer::DiscoInfo,
        IqPayload::DiscoItems { node: None, .. } => IqAnswer::DiscoItems,
        _ if version_enabled
            && iq
                .payload
                .as_ref()
                .is_some_and(|p| p.ns == "jabber:iq:version" && p.name == "query") =>
        {
            IqAnswer::Version
        }
        _ => IqAnswer::Error(StanzaCondition::ServiceUnavailable),
    }
}

const VERSION_QUERY: &str = concat!(
    "<query xmlns='jabber:iq:version'><name>parley</name><version>",
    env!("CARGO_PKG_VERSION"),
    "</version></query>"
);

/// Write the answer (nothing for [`IqAnswer::None`]); `from`/`to` are the request's.
pub fn write(out: &mut BytesMut, answer: IqAnswer, request_from: &str, request_to: &str, id: &str) {
    let (type_, payload, error) = match answer {
        IqAnswer::None => return,
        IqAnswer::Pong => (IqType::Result, IqPayloadOut::None, None),
        IqAnswer::DiscoInfo => (
            IqType::Result,
            IqPayloadOut::DiscoInfo(&[("server", "im", "parley")], DISCO_FEATURES),
            None,
        ),
        IqAnswer::DiscoItems => (IqType::Result, IqPayloadOut::DiscoItems, None),
        IqAnswer::Version => (IqType::Result, IqPayloadOut::Raw(VERSION_QUERY), None),
        IqAnswer::Error(condition) => (
            IqType::Error,
            IqPayloadOut::None,
            Some(StanzaErrorOut {
                type_: error_type(condition),
                condition,
                text: None,
            }),
        ),
    };
    crate::xmpp::encode::write_iq(
        out,
        &IqOut {
            from: request_to,
            to: request_from,
            id,
            type_,
            payload,
            error,
        },
    );
}

fn error_type(c: StanzaCondition) -> ErrorType {
    match c {
        StanzaCondition::BadRequest => ErrorType::Modify,
        _ => ErrorType::Cancel,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xmpp::StreamHeader;
    use crate::xmpp::framing::StreamNs;
    use crate::xmpp::stanza::{Element, parse_element};

    fn decide_on(xml: &str, to_domain: bool) -> IqAnswer {
        let header = StreamHeader {
            to: None,
            from: None,
            id: None,
            version: None,
            lang: None,
            ns: StreamNs::Server,
            dialback: true,
            prefixes: Vec::new(),
        };
        match parse_element(xml.as_bytes(), &header).unwrap() {
            Element::Iq(iq) => decide(&iq, to_domain, true),
            other => panic!("not an iq: {other:?}"),
        }
    }

    #[test]
    fn the_domain_answers_ping_disco_and_version() {
        let ping = "<iq from='a.example' to='sip.test' id='p1' type='get'><ping xmlns='urn:xmpp:ping'/></iq>";
        assert_eq!(decide_on(ping, true), IqAnswer::Pong);
        let disco = "<iq from='a.example' to='sip.test' id='d1' type='get'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>";
        assert_eq!(decide_on(disco, true), IqAnswer::DiscoInfo);
        let version = "<iq from='a.example' to='sip.test' id='v1' type='get'><query xmlns='jabber:iq:version'/></iq>";
        assert_eq!(decide_on(version, true), IqAnswer::Version);
    }

    #[test]
    fn everything_else_is_service_unavailable_or_bad_request() {
        let to_user = "<iq from='a.example' to='bob@sip.test' id='p2' type='get'><ping xmlns='urn:xmpp:ping'/></iq>";
        assert_eq!(
            decide_on(to_user, false),
            IqAnswer::Error(StanzaCondition::ServiceUnavailable)
        );
        let roster = "<iq from='a.example' to='sip.test' id='r1' type='set'><query xmlns='jabber:iq:roster'/></iq>";
        assert_eq!(
            decide_on(roster, true),
            IqAnswer::Error(StanzaCondition::ServiceUnavailable)
        );
        let empty = "<iq from='a.example' to='sip.test' id='e1' type='get'/>";
        assert_eq!(
            decide_on(empty, true),
            IqAnswer::Error(StanzaCondition::BadRequest)
        );
        let result = "<iq from='a.example' to='sip.test' id='x' type='result'/>";
        assert_eq!(decide_on(result, true), IqAnswer::None);
    }

    #[test]
    fn answers_swap_addresses_and_keep_the_id() {
        let mut out = BytesMut::new();
        write(
            &mut out,
            IqAnswer::Error(StanzaCondition::ServiceUnavailable),
            "a.example",
            "bob@sip.test",
            "q1",
        );
        let s = std::str::from_utf8(&out).unwrap();
        assert!(
            s.starts_with("<iq from='bob@sip.test' to='a.example' id='q1' type='error'>"),
            "{s}"
        );
        assert!(
            s.contains("<service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>"),
            "{s}"
        );
    }
}
