//! Namespace URIs of RFC 6120/6121 and the XEPs parley reads and writes: one table.

/// RFC 6120 §4.8.1 stream namespace.
pub const STREAMS: &str = "http://etherx.jabber.org/streams";
/// RFC 6120 §4.8.2 server-to-server content namespace.
pub const SERVER: &str = "jabber:server";
/// RFC 6120 §4.8.2 client-to-server content namespace.
pub const CLIENT: &str = "jabber:client";
/// XEP-0114 component namespace.
pub const COMPONENT: &str = "jabber:component:accept";
/// XEP-0220 dialback element namespace.
pub const DIALBACK: &str = "jabber:server:dialback";
/// XEP-0220 dialback stream feature.
pub const DIALBACK_FEATURE: &str = "urn:xmpp:features:dialback";
/// XEP-0288 bidirectional s2s stream feature.
pub const BIDI_FEATURE: &str = "urn:xmpp:features:bidi";
/// XEP-0288 bidi request.
pub const BIDI: &str = "urn:xmpp:bidi";
/// RFC 6120 §5 STARTTLS.
pub const TLS: &str = "urn:ietf:params:xml:ns:xmpp-tls";
/// RFC 6120 §6 SASL.
pub const SASL: &str = "urn:ietf:params:xml:ns:xmpp-sasl";
/// RFC 6120 §4.9.3 stream error conditions.
pub const STREAM_ERRORS: &str = "urn:ietf:params:xml:ns:xmpp-streams";
/// RFC 6120 §8.3 stanza error conditions.
pub const STANZA_ERRORS: &str = "urn:ietf:params:xml:ns:xmpp-stanzas";
/// XEP-0085 chat states.
pub const CHATSTATES: &str = "http://jabber.org/protocol/chatstates";
/// XEP-0184 message delivery receipts.
pub const RECEIPTS: &str = "urn:xmpp:receipts";
/// XEP-0333 chat markers.
pub const MARKERS: &str = "urn:xmpp:chat-markers:0";
/// XEP-0071 XHTML-IM wrapper.
pub const XHTML_IM: &str = "http://jabber.org/protocol/xhtml-im";
/// XEP-0071 XHTML body.
pub const XHTML: &str = "http://www.w3.org/1999/xhtml";
/// XEP-0444 reactions.
pub const REACTIONS: &str = "urn:xmpp:reactions:0";
/// XEP-0308 last message correction.
pub const CORRECTION: &str = "urn:xmpp:message-correct:0";
/// XEP-0424 message retraction.
pub const RETRACT: &str = "urn:xmpp:message-retract:1";
/// XEP-0461 message replies.
pub const REPLY: &str = "urn:xmpp:reply:0";
/// XEP-0066 out-of-band data (in messages).
pub const OOB: &str = "jabber:x:oob";
/// XEP-0172 user nickname.
pub const NICK: &str = "http://jabber.org/protocol/nick";
/// XEP-0203 delayed delivery.
pub const DELAY: &str = "urn:xmpp:delay";
/// XEP-0359 unique and stable stanza ids.
pub const SID: &str = "urn:xmpp:sid:0";
/// XEP-0199 ping.
pub const PING: &str = "urn:xmpp:ping";
/// XEP-0030 disco#info.
pub const DISCO_INFO: &str = "http://jabber.org/protocol/disco#info";
/// XEP-0030 disco#items.
pub const DISCO_ITEMS: &str = "http://jabber.org/protocol/disco#items";
/// XEP-0054 vcard-temp.
pub const VCARD: &str = "vcard-temp";
/// XEP-0115 entity capabilities.
pub const CAPS: &str = "http://jabber.org/protocol/caps";
/// The `xml:` prefix (XML Namespaces §3).
pub const XML: &str = "http://www.w3.org/XML/1998/namespace";
