//! Hostile peers against parley's resource bounds: a slowloris or padded XMPP negotiation
//! (the pre-authentication deadline and byte/frame budget), and connection floods from one
//! address on each listener (the per-address connection bound).

use crate::harness::{Action, Case, Expect, Port, stream_header};

const NEGOTIATION: &str = "parley_negotiation_limit_total";
const REFUSED: &str = "parley_connections_refused_total";

fn header() -> Vec<u8> {
    stream_header("xmpp.test", "sip.test").into_bytes()
}

pub fn cases() -> Vec<Case> {
    let mut c = Vec::new();
    // Slowloris: the stream header trickled one byte per second; the negotiation deadline
    // (4 s in the lab) ends it with a stream error.
    c.push(Case::new(
        "xmpp-negotiation-slowloris-header",
        Action::RawSlow(Port::Xmpp, header()),
        Expect::Stream("connection-timeout"),
        NEGOTIATION,
        &[("reason", "deadline")],
    ));
    // A connection that never sends a byte.
    c.push(Case::new(
        "xmpp-negotiation-silent",
        Action::Raw(Port::Xmpp, Vec::new()),
        Expect::Stream("connection-timeout"),
        NEGOTIATION,
        &[("reason", "deadline")],
    ));
    // A header, then the STARTTLS request trickled.
    let mut trickled = header();
    trickled.extend_from_slice(b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
    c.push(Case::new(
        "xmpp-negotiation-slowloris-starttls",
        Action::RawSlow(Port::Xmpp, trickled),
        Expect::Stream("connection-timeout"),
        NEGOTIATION,
        &[("reason", "deadline")],
    ));
    // Direct TLS: half a ClientHello, then nothing; no stream to speak on, so a silent close.
    c.push(Case::new(
        "xmpp-negotiation-stalled-tls-handshake",
        Action::Raw(Port::XmppTls, b"\x16\x03\x01\x00\xc8\x01\x00".to_vec()),
        Expect::Closed,
        NEGOTIATION,
        &[("reason", "deadline")],
    ));
    // Padding: 40 KB of character data inside <starttls> before it is authenticated (the lab
    // allows 32 KB pre-auth; the stanza limit of 256 KB is not what stops it).
    let mut padded = header();
    padded.extend_from_slice(b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'>");
    padded.extend_from_slice(&b"a".repeat(40_000));
    padded.extend_from_slice(b"</starttls>");
    c.push(Case::new(
        "xmpp-preauth-byte-budget",
        Action::Raw(Port::Xmpp, padded),
        Expect::Stream("policy-violation"),
        NEGOTIATION,
        &[("reason", "bytes")],
    ));
    // Element flood on a secured but unauthenticated stream: db:verify requests are answered
    // there, so a peer could ask forever; after 64 frames the stream is closed.
    let mut verifies = header();
    for i in 0..80 {
        verifies.extend_from_slice(
            format!("<db:verify from='xmpp.test' to='sip.test' id='v{i}'>k</db:verify>").as_bytes(),
        );
    }
    c.push(Case::new(
        "xmpp-preauth-element-budget",
        Action::Tls(Port::Xmpp, "xmpp.test", verifies),
        Expect::Stream("policy-violation"),
        NEGOTIATION,
        &[("reason", "elements")],
    ));
    // Connection floods from one address (the lab allows 64 per address and protocol).
    c.push(Case::new(
        "xmpp-connection-flood-one-address",
        Action::Flood(Port::Xmpp, 64),
        Expect::Stream("policy-violation"),
        REFUSED,
        &[("protocol", "xmpp"), ("bound", "per_ip")],
    ));
    c.push(Case::new(
        "xmpp-tls-connection-flood-one-address",
        Action::Flood(Port::XmppTls, 64),
        Expect::Closed,
        REFUSED,
        &[("protocol", "xmpp"), ("bound", "per_ip")],
    ));
    c.push(Case::new(
        "sip-connection-flood-one-address",
        Action::Flood(Port::Sip, 64),
        Expect::Closed,
        REFUSED,
        &[("protocol", "sip"), ("bound", "per_ip")],
    ));
    c
}
