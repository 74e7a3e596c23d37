//! `[connections]`: bounds on concurrent inbound connections, per protocol, in total and per
//! source address; a connection over a bound is closed at once.

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
}

impl Default for ConnectionsConfig {
    fn default() -> Self {
        ConnectionsConfig {
            sip_max_inbound: default_max_inbound(),
            xmpp_max_inbound: default_max_inbound(),
            max_per_ip: default_max_per_ip(),
        }
    }
}

fn default_max_inbound() -> usize {
    8192
}

fn default_max_per_ip() -> usize {
    256
}

impl ConnectionsConfig {
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
