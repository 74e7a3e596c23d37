//! The `[xmpp]` section: s2s listeners, outbound streams, delivery confirmation and
//! keep-alives (RFC 6120, XEP-0199, XEP-0368).

use std::net::SocketAddr;

use serde::Deserialize;

/// `[xmpp]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct XmppConfig {
    /// Server-to-server listeners with STARTTLS (RFC 6120, usually port 5269).
    #[serde(default)]
    pub listen: Vec<SocketAddr>,
    /// Server-to-server listeners with TLS from the first byte (XEP-0368, usually 5270).
    #[serde(default)]
    pub listen_tls: Vec<SocketAddr>,
    /// Stanzas queued per outbound stream while it connects; more are refused.
    #[serde(default = "default_queue_depth")]
    pub queue_depth: usize,
    /// Connect plus negotiation deadline for an outbound stream.
    #[serde(default = "default_connect_timeout_ms")]
    pub connect_timeout_ms: u64,
    /// How long a stanza may wait for an unreachable peer (retrying with backoff) before it
    /// is bounced with `remote-server-timeout`. Keep it below `sip.transaction_timeout_ms`.
    #[serde(default = "default_delivery_timeout_ms")]
    pub delivery_timeout_ms: u64,
    /// Send a whitespace keep-alive on an outbound stream idle this long.
    #[serde(default = "default_keepalive_ms")]
    pub keepalive_ms: u64,
    /// Close a stream (either direction) that carried no stanza this long.
    #[serde(default = "default_idle_timeout_ms")]
    pub idle_timeout_ms: u64,
    /// Offer and accept Server Dialback (XEP-0220) when a peer cannot use SASL EXTERNAL. The
    /// peer's server certificate is still verified on every dialback connection.
    #[serde(default = "yes")]
    pub dialback: bool,
    /// Dialback secret shared by every node serving the same domains (XEP-0185); random per
    /// start when absent.
    #[serde(default)]
    pub dialback_secret: Option<String>,
    /// Answer XEP-0092 software version queries to the gateway's domains.
    #[serde(default = "yes")]
    pub answer_version: bool,
    /// Send an XEP-0199 ping on an outbound stream that carried nothing this long; new
    /// stanzas wait until the peer answers. 0 turns pings off.
    #[serde(default = "default_ping_interval_ms")]
    pub ping_interval_ms: u64,
    /// A stream whose ping gets no answer (result or error) this long is dead (half-open):
    /// it is closed, and what waits is sent on a new one.
    #[serde(default = "default_ping_timeout_ms")]
    pub ping_timeout_ms: u64,
    /// Hold each stanza written to an outbound stream as unconfirmed until the peer confirms
    /// it (the answer to an XEP-0199 ping sent after the write), and send unconfirmed stanzas
    /// again on the next stream if this one dies: at-least-once delivery, duplicates possible.
    /// When off, a stanza counts as delivered once written.
    #[serde(default = "yes")]
    pub confirm_delivery: bool,
    /// Most stanzas written but not yet confirmed per outbound stream; when reached, writing
    /// waits for a confirmation (and senders see the queue fill up). A stream carries at most
    /// this many stanzas per ping round trip: 2048 allows 100,000/s at a 20 ms round trip.
    #[serde(default = "default_confirm_window")]
    pub confirm_window: usize,
    /// Time allowed for an inbound stream's whole negotiation (up to authenticated).
    #[serde(default = "default_negotiation_timeout_ms")]
    pub negotiation_timeout_ms: u64,
    /// Most bytes an inbound stream may send before it is authenticated.
    #[serde(default = "default_preauth_max_bytes")]
    pub preauth_max_bytes: usize,
    /// Most frames (elements, whitespace keep-alives, headers) an inbound stream may send
    /// before it is authenticated.
    #[serde(default = "default_preauth_max_elements")]
    pub preauth_max_elements: usize,
}

impl Default for XmppConfig {
    fn default() -> Self {
        XmppConfig {
            listen: Vec::new(),
            listen_tls: Vec::new(),
            queue_depth: default_queue_depth(),
            connect_timeout_ms: default_connect_timeout_ms(),
            delivery_timeout_ms: default_delivery_timeout_ms(),
            keepalive_ms: default_keepalive_ms(),
            idle_timeout_ms: default_idle_timeout_ms(),
            dialback: true,
            dialback_secret: None,
            answer_version: true,
            ping_interval_ms: default_ping_interval_ms(),
            ping_timeout_ms: default_ping_timeout_ms(),
            confirm_delivery: true,
            confirm_window: default_confirm_window(),
            negotiation_timeout_ms: default_negotiation_timeout_ms(),
            preauth_max_bytes: default_preauth_max_bytes(),
            preauth_max_elements: default_preauth_max_elements(),
        }
    }
}

fn default_queue_depth() -> usize {
    4096
}

fn default_connect_timeout_ms() -> u64 {
    10_000
}

fn yes() -> bool {
    true
}

fn default_delivery_timeout_ms() -> u64 {
    20_000
}

fn default_ping_interval_ms() -> u64 {
    60_000
}

fn default_ping_timeout_ms() -> u64 {
    10_000
}

fn default_confirm_window() -> usize {
    2048
}

fn default_negotiation_timeout_ms() -> u64 {
    30_000
}

fn default_preauth_max_bytes() -> usize {
    64 * 1024
}

fn default_preauth_max_elements() -> usize {
    64
}

fn default_keepalive_ms() -> u64 {
    60_000
}

fn default_idle_timeout_ms() -> u64 {
    600_000
}
