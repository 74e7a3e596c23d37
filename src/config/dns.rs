//! `[dns]`: which DNS servers answer parley's SRV, NAPTR and address lookups (RFC 6120 §3.2,
//! RFC 3263), instead of the system's resolv.conf.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use serde::Deserialize;

use super::{ConfigError, invalid};

/// `[dns]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DnsConfig {
    /// Name servers as `IP` (port 53) or `IP:port` (IPv6 as `[addr]:port`), asked in order;
    /// empty: the system configuration (resolv.conf).
    #[serde(default)]
    pub servers: Vec<String>,
    /// How long one query waits for an answer.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// How many times a query is sent before the lookup fails.
    #[serde(default = "default_attempts")]
    pub attempts: usize,
}

impl Default for DnsConfig {
    fn default() -> Self {
        DnsConfig {
            servers: Vec::new(),
            timeout_ms: default_timeout_ms(),
            attempts: default_attempts(),
        }
    }
}

fn default_timeout_ms() -> u64 {
    3000
}

fn default_attempts() -> usize {
    2
}

/// The most attempts per query (each waits up to the timeout).
const MAX_ATTEMPTS: usize = 10;

/// The most name servers (each is asked in turn when the one before fails).
const MAX_SERVERS: usize = 16;

impl DnsConfig {
    /// The configured name servers; empty when resolv.conf is to be used.
    pub fn server_addrs(&self) -> Vec<SocketAddr> {
        self.servers
            .iter()
            .filter_map(|s| parse_server(s))
            .collect()
    }

    /// The per-query timeout.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }

    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.servers.len() > MAX_SERVERS {
            return Err(invalid(
                "dns.servers",
                format!("at most {MAX_SERVERS} servers"),
            ));
        }
        for (i, s) in self.servers.iter().enumerate() {
            if parse_server(s).is_none() {
                return Err(invalid(
                    format!("dns.servers[{i}]"),
                    format!("{s:?} is not an IP address or IP:port"),
                ));
            }
        }
        if self.timeout_ms == 0 {
            return Err(invalid("dns.timeout_ms", "must be positive"));
        }
        if !(1..=MAX_ATTEMPTS).contains(&self.attempts) {
            return Err(invalid(
                "dns.attempts",
                format!("must be from 1 to {MAX_ATTEMPTS}"),
            ));
        }
        Ok(())
    }
}

/// `IP` (port 53) or `IP:port`; port 0 is no server.
fn parse_server(s: &str) -> Option<SocketAddr> {
    let addr = match s.parse::<SocketAddr>() {
        Ok(a) => a,
        Err(_) => SocketAddr::new(s.parse::<IpAddr>().ok()?, 53),
    };
    (addr.port() != 0).then_some(addr)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(servers: &[&str]) -> DnsConfig {
        DnsConfig {
            servers: servers.iter().map(|s| s.to_string()).collect(),
            ..DnsConfig::default()
        }
    }

    #[test]
    fn servers_with_and_without_port() {
        let c = with(&["127.0.0.1:5353", "::1", "[::1]:5300", "192.0.2.1"]);
        c.validate().unwrap();
        assert_eq!(
            c.server_addrs(),
            [
                "127.0.0.1:5353".parse::<SocketAddr>().unwrap(),
                "[::1]:53".parse().unwrap(),
                "[::1]:5300".parse().unwrap(),
                "192.0.2.1:53".parse().unwrap(),
            ]
        );
        assert!(DnsConfig::default().server_addrs().is_empty());
    }

    #[test]
    fn a_bad_server_is_named_by_index() {
        for bad in [
            "ns1.example.com",
            "127.0.0.1:",
            "127.0.0.1:0",
            "127.0.0.1:99999",
            "",
        ] {
            let err = with(&["127.0.0.1", bad])
                .validate()
                .unwrap_err()
                .to_string();
            assert!(err.starts_with("dns.servers[1]"), "{bad:?}: {err}");
        }
    }

    #[test]
    fn timeout_and_attempts_are_bounded() {
        let c = DnsConfig {
            timeout_ms: 0,
            ..DnsConfig::default()
        };
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .starts_with("dns.timeout_ms")
        );
        for attempts in [0, MAX_ATTEMPTS + 1] {
            let c = DnsConfig {
                attempts,
                ..DnsConfig::default()
            };
            assert!(
                c.validate()
                    .unwrap_err()
                    .to_string()
                    .starts_with("dns.attempts")
            );
        }
        let many = vec!["127.0.0.1"; MAX_SERVERS + 1];
        assert!(with(&many).validate().is_err());
    }
}
