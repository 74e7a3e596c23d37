//! Finding a peer domain's servers: a static next hop from config, or DNS (RFC 6120 §3.2 for
//! XMPP: `_xmpps-server._tcp` (direct TLS, XEP-0368), then `_xmpp-server._tcp`, then the
//! domain's A/AAAA records on port 5269). /etc/hosts is honoured.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_resolver::TokioResolver;
use tracing::debug;

/// One server to try, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Host name or IP literal.
    pub host: String,
    /// Port.
    pub port: u16,
    /// TLS from the first byte (XEP-0368) rather than STARTTLS.
    pub direct_tls: bool,
}

impl Target {
    /// Parse a static `host:port` (IPv6 in brackets).
    pub fn from_host_port(s: &str, direct_tls: bool) -> Option<Target> {
        let (host, port) = s.rsplit_once(':')?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        Some(Target {
            host: host.to_owned(),
            port: port.parse().ok()?,
            direct_tls,
        })
    }
}

/// DNS for the whole process (one cache).
#[derive(Debug, Clone)]
pub struct Resolver {
    dns: Option<TokioResolver>,
}

impl Resolver {
    /// From the system configuration (resolv.conf, hosts). Without one, only /etc/hosts and
    /// IP literals work.
    pub fn from_system() -> Resolver {
        let dns = TokioResolver::builder_tokio().ok().map(|mut b| {
            let opts = b.options_mut();
            opts.timeout = Duration::from_secs(3);
            opts.attempts = 2;
            b.build()
        });
        Resolver { dns }
    }

    /// The DNS client, when the system configuration gave one (SIP lookups use it too).
    pub(crate) fn dns(&self) -> Option<&TokioResolver> {
        self.dns.as_ref()
    }

    /// XMPP s2s targets for `domain`, in the order to try them.
    pub async fn xmpp_targets(&self, domain: &str) -> Vec<Target> {
        let mut targets = Vec::new();
        if let Some(dns) = &self.dns {
            for (service, direct_tls) in
                [("_xmpps-server._tcp", true), ("_xmpp-server._tcp", false)]
            {
                let Ok(srv) = dns.srv_lookup(format!("{service}.{domain}.")).await else {
                    continue;
                };
                let mut records: Vec<_> = srv.iter().collect();
                // RFC 2782: lowest priority first; higher weight first within a priority.
                records.sort_by_key(|r| (r.priority(), std::cmp::Reverse(r.weight())));
                for r in records {
                    let host = r.target().to_utf8();
                    let host = host.trim_end_matches('.');
                    // RFC 2782: a target of "." means the service is not offered.
                    if !host.is_empty() {
                        targets.push(Target {
                            host: host.to_owned(),
                            port: r.port(),
                            direct_tls,
                        });
                    }
                }
            }
        }
        if targets.is_empty() {
            targets.push(Target {
                host: domain.to_owned(),
                port: 5269,
                direct_tls: false,
            });
        }
        debug!(domain, ?targets, "s2s targets");
        targets
    }

    /// The addresses of a target.
    pub async fn addresses(&self, target: &Target) -> Vec<SocketAddr> {
        if let Ok(ip) = target.host.parse::<IpAddr>() {
            return vec![SocketAddr::new(ip, target.port)];
        }
        if let Some(dns) = &self.dns
            && let Ok(ips) = dns.lookup_ip(format!("{}.", target.host)).await
        {
            let addrs: Vec<_> = ips
                .iter()
                .map(|ip| SocketAddr::new(ip, target.port))
                .collect();
            if !addrs.is_empty() {
                return addrs;
            }
        }
        // Fall back to the system resolver (getaddrinfo: /etc/hosts, nsswitch).
        tokio::net::lookup_host((target.host.as_str(), target.port))
            .await
            .map(|a| a.collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_targets_parse() {
        assert_eq!(
            Target::from_host_port("[::1]:5270", true),
            Some(Target {
                host: "::1".into(),
                port: 5270,
                direct_tls: true
            })
        );
        assert_eq!(
            Target::from_host_port("xmpp.example:5269", false)
                .unwrap()
                .host,
            "xmpp.example"
        );
        assert_eq!(Target::from_host_port("xmpp.example", false), None);
    }

    #[tokio::test]
    async fn ip_literals_resolve_without_dns() {
        let r = Resolver::from_system();
        let t = Target {
            host: "127.0.0.1".into(),
            port: 5269,
            direct_tls: false,
        };
        assert_eq!(
            r.addresses(&t).await,
            vec!["127.0.0.1:5269".parse().unwrap()]
        );
    }
}
