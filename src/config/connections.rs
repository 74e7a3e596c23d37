//! `[connections]`: bounds on concurrent inbound connections, per protocol, in total and per
//! source address (a connection over a bound is closed at once); and how long a message waits
//! for room in a full outbound queue.

use serde::Deserialize;

use super::{ConfigError, invalid};

/// `[connections]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectionsConfig {
    /// Most inbound connections open at once on the SIP listeners (TLS and TCP together).
    #[serde(default = "default_max_inbound")]
    pub sip_max_inbound: usize,
    /// Most inbound connections open at once on the XMPP s2s listeners.
    #[serde(default = "default_max_inbound")]
    pub xmpp_max_inbound: usize,
    /// Most inbound connections open at once from one source IP address, per protocol.
    #[serde(default = "default_max_per_ip")]
    pub max_per_ip: usize,
    /// How long a message waits for room in its peer's full outbound queue (SIP or XMPP)
    /// before it is refused (503, `resource-constraint` or the spool); at most a quarter of
    /// `sip.transaction_timeout_ms`. A message from an XMPP stream holds that stream up while
    /// it waits, so its sender is slowed down through TCP.
    #[serde(default = "default_queue_wait_ms")]
    pub queue_wait_ms: u64,
}

impl Default for ConnectionsConfig {
    fn default() -> Self {
        ConnectionsConfig {
            sip_max_inbound: default_max_inbound(),
            xmpp_max_inbound: default_max_inbound(),
            max_per_ip: default_max_per_ip(),
            queue_wait_ms: default_queue_wait_ms(),
        }
    }
}

fn default_max_inbound() -> usize {
    8192
}

fn default_max_per_ip() -> usize {
    256
}

fn default_queue_wait_ms() -> u64 {
    2_000
}

impl ConnectionsConfig {
    /// [`ConnectionsConfig::queue_wait_ms`], but at most a quarter of the SIP transaction
    /// timeout: a SIP sender must hear its answer well before its transaction ends.
    pub fn queue_wait(&self, transaction_timeout_ms: u64) -> std::time::Duration {
        std::time::Duration::from_millis(self.queue_wait_ms.min(transaction_timeout_ms / 4))
    }

    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        for (key, v) in [
            ("connections.sip_max_inbound", self.sip_max_inbound),
            ("connections.xmpp_max_inbound", self.xmpp_max_inbound),
            ("connections.max_per_ip", self.max_per_ip),
        ] {
            if v == 0 {
                return Err(invalid(key, "must be at least 1"));
            }
        }
        Ok(())
    }
}
