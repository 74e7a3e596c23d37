//! The `[sip]` section: SIP listeners, transaction timers and presence subscription limits
//! (RFC 3261, RFC 6665, RFC 3856).

use std::net::SocketAddr;

use serde::Deserialize;

/// `[sip]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SipConfig {
    /// TLS listeners (RFC 3261 §26.2, mutual TLS per RFC 5922).
    #[serde(default)]
    pub listen_tls: Vec<SocketAddr>,
    /// Plain TCP listeners (RFC 3261 §18). No certificate authenticates these peers: only
    /// requests that need no verified domain are served on them.
    #[serde(default)]
    pub listen_tcp: Vec<SocketAddr>,
    /// UDP sockets (RFC 3261 §18), with retransmission by the transaction layer; the same
    /// authentication caveat as `listen_tcp`.
    #[serde(default)]
    pub listen_udp: Vec<SocketAddr>,
    /// Path MTU for UDP: datagrams are received into a buffer this large (a larger one is
    /// answered 513), and requests within 200 bytes of it are not sent over UDP.
    #[serde(default = "default_udp_mtu")]
    pub udp_mtu: usize,
    /// With `xmpp.confirm_delivery` off: how long a relayed MESSAGE waits for an XMPP bounce
    /// before it is answered 202. With it on, the peer's ping answer ends the wait.
    #[serde(default = "default_bounce_window_ms")]
    pub bounce_window_ms: u64,
    /// Non-INVITE transaction timeout (Timer F, 64·T1).
    #[serde(default = "default_transaction_timeout_ms")]
    pub transaction_timeout_ms: u64,
    /// Close an inbound SIP connection that completed no message this long; a request head
    /// still incomplete then (a slow sender) is answered 400 first.
    #[serde(default = "default_sip_idle_timeout_ms")]
    pub idle_timeout_ms: u64,
    /// Session-mode IM: an INVITE dialog with no MESSAGE either way for this long is ended
    /// with BYE (and XEP-0085 `gone` to the XMPP user).
    #[serde(default = "default_session_idle_timeout_secs")]
    pub session_idle_timeout_secs: u64,
    /// Longest presence subscription granted to a SIP watcher (seconds): parley grants
    /// min(requested, this) (RFC 6665 §4.2.1.1).
    #[serde(default = "default_max_subscription_expires")]
    pub max_subscription_expires: u32,
    /// Shortest non-zero subscription accepted: a SUBSCRIBE asking for less is answered
    /// 423 Interval Too Brief with `Min-Expires` (RFC 6665 §4.2.1.1).
    #[serde(default = "default_min_subscription_expires")]
    pub min_subscription_expires: u32,
    /// Presence damping (RFC 3856 §6.4): at most one NOTIFY per subscription per this many
    /// milliseconds; changes in between are coalesced into the latest state. 0 turns it off.
    #[serde(default = "default_notify_min_interval_ms")]
    pub notify_min_interval_ms: u64,
    /// Subscription-flood protection: live presence subscriptions (both roles) per remote
    /// domain.
    #[serde(default = "default_max_subscriptions_per_domain")]
    pub max_subscriptions_per_domain: usize,
    /// Live presence subscriptions per watcher address.
    #[serde(default = "default_max_subscriptions_per_watcher")]
    pub max_subscriptions_per_watcher: usize,
    /// New presence subscriptions per second per remote domain (token bucket; 0: unlimited).
    #[serde(default = "default_subscribe_rate")]
    pub subscribe_rate: f64,
    /// Burst of the new-subscription bucket.
    #[serde(default = "default_subscribe_burst")]
    pub subscribe_burst: u32,
}

impl Default for SipConfig {
    fn default() -> Self {
        SipConfig {
            listen_tls: Vec::new(),
            listen_tcp: Vec::new(),
            listen_udp: Vec::new(),
            udp_mtu: default_udp_mtu(),
            bounce_window_ms: default_bounce_window_ms(),
            transaction_timeout_ms: default_transaction_timeout_ms(),
            idle_timeout_ms: default_sip_idle_timeout_ms(),
            session_idle_timeout_secs: default_session_idle_timeout_secs(),
            max_subscription_expires: default_max_subscription_expires(),
            min_subscription_expires: default_min_subscription_expires(),
            notify_min_interval_ms: default_notify_min_interval_ms(),
            max_subscriptions_per_domain: default_max_subscriptions_per_domain(),
            max_subscriptions_per_watcher: default_max_subscriptions_per_watcher(),
            subscribe_rate: default_subscribe_rate(),
            subscribe_burst: default_subscribe_burst(),
        }
    }
}

fn default_udp_mtu() -> usize {
    1500
}

fn default_bounce_window_ms() -> u64 {
    500
}

fn default_transaction_timeout_ms() -> u64 {
    32_000
}

fn default_sip_idle_timeout_ms() -> u64 {
    600_000
}

fn default_session_idle_timeout_secs() -> u64 {
    600
}

fn default_max_subscription_expires() -> u32 {
    3600
}

fn default_min_subscription_expires() -> u32 {
    1
}

fn default_notify_min_interval_ms() -> u64 {
    5000
}

fn default_max_subscriptions_per_domain() -> usize {
    10_000
}

fn default_max_subscriptions_per_watcher() -> usize {
    200
}

fn default_subscribe_rate() -> f64 {
    20.0
}

fn default_subscribe_burst() -> u32 {
    100
}
