//! Finding a peer domain's servers: a static next hop from config, or DNS (RFC 6120 §3.2 for
//! XMPP: `_xmpps-server._tcp` (direct TLS, XEP-0368) and `_xmpp-server._tcp` mixed into one
//! RFC 2782 order, else the domain's A/AAAA records on port 5269). /etc/hosts is honoured.
//! The name servers are the system's or those of `[dns]`.
//!
//! The order decisions are pure functions over resolver answers ([`rfc2782_order`],
//! [`xmpp_order`]) that take their random source as an argument, so they are tested without
//! DNS.

use std::net::{IpAddr, SocketAddr};

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{NameServerConfig, NameServerConfigGroup, ResolverConfig};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::proto::xfer::Protocol;
use tracing::debug;

use crate::config::DnsConfig;

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

/// One SRV record as the resolver gave it (RFC 2782).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Srv {
    /// Priority (lowest first).
    pub priority: u16,
    /// Weight: within a priority, the chance of being tried first is proportional to it.
    pub weight: u16,
    /// Port.
    pub port: u16,
    /// Target host, without the trailing dot (empty for the root, `.`).
    pub target: String,
}

impl Srv {
    /// A record with the target as DNS wrote it (a trailing dot is dropped).
    pub fn new(priority: u16, weight: u16, port: u16, target: &str) -> Srv {
        Srv {
            priority,
            weight,
            port,
            target: target.trim_end_matches('.').to_owned(),
        }
    }
}

/// What one SRV query said about a service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SrvAnswer {
    /// Servers to try.
    Records(Vec<Srv>),
    /// A single record with target `.`: the service is decidedly not offered (RFC 2782).
    NotOffered,
    /// No records (NXDOMAIN, no data, or the lookup failed).
    Nothing,
}

impl SrvAnswer {
    /// Classify the records of one answer: a lone `.` target is "not offered"; `.` targets
    /// among others carry no server and are dropped.
    pub fn from_records(records: Vec<Srv>) -> SrvAnswer {
        if records.len() == 1 && records[0].target.is_empty() {
            return SrvAnswer::NotOffered;
        }
        let records: Vec<Srv> = records
            .into_iter()
            .filter(|r| !r.target.is_empty())
            .collect();
        if records.is_empty() {
            SrvAnswer::Nothing
        } else {
            SrvAnswer::Records(records)
        }
    }
}

/// RFC 2782 order: lowest priority first; within a priority, repeatedly pick at random with
/// probability proportional to weight. Per the RFC the weight-0 records go first in the list
/// the running sums are taken over, so among weighted records they are picked rarely (only
/// when the random number is 0), and a priority of only weight-0 records keeps its order.
/// `random(n)` returns a uniform number in `0..=n`; passing it in keeps the order testable.
pub fn rfc2782_order<T>(
    mut records: Vec<(Srv, T)>,
    random: &mut impl FnMut(u32) -> u32,
) -> Vec<(Srv, T)> {
    // Stable: weight-0 records first, each group in the order given.
    records.sort_by_key(|(r, _)| (r.priority, r.weight != 0));
    let mut out = Vec::with_capacity(records.len());
    let mut rest = records.into_iter().peekable();
    while let Some((first, tag)) = rest.next() {
        let priority = first.priority;
        let mut group = vec![(first, tag)];
        while let Some(next) = rest.next_if(|(r, _)| r.priority == priority) {
            group.push(next);
        }
        while !group.is_empty() {
            let total: u32 = group.iter().map(|(r, _)| u32::from(r.weight)).sum();
            let pick = random(total).min(total);
            let mut running = 0u32;
            let at = group
                .iter()
                .position(|(r, _)| {
                    running += u32::from(r.weight);
                    running >= pick
                })
                .unwrap_or(0);
            out.push(group.remove(at));
        }
    }
    out
}

/// RFC 6120 §3.2 with XEP-0368: the s2s servers of `domain` from its `_xmpps-server._tcp`
/// (direct TLS) and `_xmpp-server._tcp` (STARTTLS) answers, mixed into one RFC 2782 order.
/// With no records at all, the domain itself on 5269 — unless either service was
/// declared "not offered" (`.`), which rules out that fallback (XEP-0368 §5, RFC 2782):
/// then there is nothing to try.
pub fn xmpp_order(
    domain: &str,
    xmpps: SrvAnswer,
    xmpp: SrvAnswer,
    random: &mut impl FnMut(u32) -> u32,
) -> Vec<Target> {
    let not_offered = xmpps == SrvAnswer::NotOffered || xmpp == SrvAnswer::NotOffered;
    let mut records = Vec::new();
    for (answer, direct_tls) in [(xmpps, true), (xmpp, false)] {
        if let SrvAnswer::Records(rs) = answer {
            records.extend(rs.into_iter().map(|r| (r, direct_tls)));
        }
    }
    if records.is_empty() {
        if not_offered {
            return Vec::new();
        }
        return vec![Target {
            host: domain.to_owned(),
            port: 5269,
            direct_tls: false,
        }];
    }
    rfc2782_order(records, random)
        .into_iter()
        .map(|(r, direct_tls)| Target {
            host: r.target,
            port: r.port,
            direct_tls,
        })
        .collect()
}

/// A uniform number in `0..=n` from the system's secure random source (the modulo bias over
/// a 32-bit draw is below 2^-16 for any SRV weight sum).
pub fn system_random(n: u32) -> u32 {
    use ring::rand::{SecureRandom, SystemRandom};
    let mut bytes = [0u8; 4];
    if SystemRandom::new().fill(&mut bytes).is_err() {
        return 0;
    }
    let draw = u32::from_le_bytes(bytes);
    match n.checked_add(1) {
        Some(m) => draw % m,
        None => draw,
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
        Resolver::from_config(&DnsConfig::default())
    }

    /// From `[dns]`: its servers (over UDP, and TCP for truncated answers) when given, else
    /// the system configuration; its timeout and attempts either way.
    pub fn from_config(config: &DnsConfig) -> Resolver {
        let servers = config.server_addrs();
        let builder = if servers.is_empty() {
            TokioResolver::builder_tokio().ok()
        } else {
            let mut group = NameServerConfigGroup::with_capacity(2 * servers.len());
            for addr in servers {
                group.push(NameServerConfig::new(addr, Protocol::Udp));
                group.push(NameServerConfig::new(addr, Protocol::Tcp));
            }
            Some(TokioResolver::builder_with_config(
                ResolverConfig::from_parts(None, Vec::new(), group),
                TokioConnectionProvider::default(),
            ))
        };
        let dns = builder.map(|mut b| {
            let opts = b.options_mut();
            opts.timeout = config.timeout();
            opts.attempts = config.attempts;
            b.build()
        });
        Resolver { dns }
    }

    /// The DNS client, when the system configuration gave one (SIP lookups use it too).
    pub(crate) fn dns(&self) -> Option<&TokioResolver> {
        self.dns.as_ref()
    }

    /// The SRV answer for `name` (fully qualified, without the trailing dot).
    pub(crate) async fn srv(&self, name: &str) -> SrvAnswer {
        let Some(dns) = &self.dns else {
            return SrvAnswer::Nothing;
        };
        match dns.srv_lookup(format!("{name}.")).await {
            Ok(srv) => SrvAnswer::from_records(
                srv.iter()
                    .map(|r| Srv::new(r.priority(), r.weight(), r.port(), &r.target().to_utf8()))
                    .collect(),
            ),
            Err(e) => {
                debug!(name, error = %e, "no SRV records");
                SrvAnswer::Nothing
            }
        }
    }

    /// XMPP s2s targets for `domain`, in the order to try them (RFC 6120 §3.2, XEP-0368).
    pub async fn xmpp_targets(&self, domain: &str) -> Vec<Target> {
        let xmpps = self.srv(&format!("_xmpps-server._tcp.{domain}")).await;
        let xmpp = self.srv(&format!("_xmpp-server._tcp.{domain}")).await;
        let targets = xmpp_order(domain, xmpps, xmpp, &mut system_random);
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

    /// A random source that returns the given draws in turn (each must be in range).
    fn draws(values: &[u32]) -> impl FnMut(u32) -> u32 + '_ {
        let mut it = values.iter();
        move |n| {
            let v = *it.next().expect("a draw for every pick");
            assert!(v <= n, "draw {v} out of 0..={n}");
            v
        }
    }

    fn hosts(order: &[(Srv, ())]) -> Vec<&str> {
        order.iter().map(|(r, _)| r.target.as_str()).collect()
    }

    fn tagged(records: &[(u16, u16, &str)]) -> Vec<(Srv, ())> {
        records
            .iter()
            .map(|&(p, w, t)| (Srv::new(p, w, 5269, t), ()))
            .collect()
    }

    #[test]
    fn lower_priority_first_whatever_the_weights() {
        let got = rfc2782_order(
            tagged(&[(20, 100, "c."), (10, 0, "a."), (15, 0, "b.")]),
            &mut draws(&[0, 0, 0]),
        );
        assert_eq!(hosts(&got), ["a", "b", "c"]);
    }

    #[test]
    fn weighted_pick_uses_running_sums() {
        // Weights 10, 60, 30 in that order: running sums 10, 70, 100 over 0..=100.
        let records = || tagged(&[(5, 10, "a"), (5, 60, "b"), (5, 30, "c")]);
        // 50 falls in b's range (11..=70); then over a, c (sums 10, 40): 35 → c; then a.
        assert_eq!(
            hosts(&rfc2782_order(records(), &mut draws(&[50, 35, 0]))),
            ["b", "c", "a"]
        );
        // 10 is still a's (running sum 10 >= 10); 71 is c's.
        assert_eq!(
            hosts(&rfc2782_order(records(), &mut draws(&[10, 71, 60]))),
            ["a", "c", "b"]
        );
        // 100 is the last record's.
        assert_eq!(
            hosts(&rfc2782_order(records(), &mut draws(&[100, 0, 0]))),
            ["c", "a", "b"]
        );
    }

    #[test]
    fn weight_zero_is_picked_only_on_a_zero_draw() {
        // The weight-0 record is put first for the running sums whatever its place.
        let records = || tagged(&[(1, 5, "heavy"), (1, 0, "zero")]);
        assert_eq!(
            hosts(&rfc2782_order(records(), &mut draws(&[1, 0]))),
            ["heavy", "zero"]
        );
        assert_eq!(
            hosts(&rfc2782_order(records(), &mut draws(&[0, 5]))),
            ["zero", "heavy"]
        );
        // Only weight-0 records: the order given.
        assert_eq!(
            hosts(&rfc2782_order(
                tagged(&[(1, 0, "x"), (1, 0, "y"), (1, 0, "z")]),
                &mut draws(&[0, 0, 0])
            )),
            ["x", "y", "z"]
        );
    }

    #[test]
    fn weights_share_first_place_in_proportion() {
        // Every draw in 0..=100 once: a (10) first on 11 draws (0..=10), b (60) on 60,
        // c (30) on 30.
        let mut first = std::collections::HashMap::new();
        for d in 0..=100 {
            let mut seq = [d, 0, 0].into_iter();
            let got = rfc2782_order(
                tagged(&[(5, 10, "a"), (5, 60, "b"), (5, 30, "c")]),
                &mut |_| seq.next().unwrap(),
            );
            *first.entry(got[0].0.target.clone()).or_insert(0) += 1;
        }
        assert_eq!(first["a"], 11);
        assert_eq!(first["b"], 60);
        assert_eq!(first["c"], 30);
    }

    #[test]
    fn lone_dot_is_not_offered_and_dots_among_others_are_dropped() {
        assert_eq!(
            SrvAnswer::from_records(vec![Srv::new(0, 0, 0, ".")]),
            SrvAnswer::NotOffered
        );
        assert_eq!(SrvAnswer::from_records(vec![]), SrvAnswer::Nothing);
        assert_eq!(
            SrvAnswer::from_records(vec![Srv::new(0, 0, 0, "."), Srv::new(1, 0, 5269, "x.")]),
            SrvAnswer::Records(vec![Srv::new(1, 0, 5269, "x")])
        );
    }

    fn answer(records: &[(u16, u16, u16, &str)]) -> SrvAnswer {
        SrvAnswer::from_records(
            records
                .iter()
                .map(|&(p, w, port, t)| Srv::new(p, w, port, t))
                .collect(),
        )
    }

    fn plan(targets: &[Target]) -> Vec<(&str, u16, bool)> {
        targets
            .iter()
            .map(|t| (t.host.as_str(), t.port, t.direct_tls))
            .collect()
    }

    #[test]
    fn xmpps_and_xmpp_records_are_mixed_by_priority() {
        let got = xmpp_order(
            "example.com",
            answer(&[
                (20, 0, 5270, "tls.example.com."),
                (5, 0, 443, "edge.example.com."),
            ]),
            answer(&[(10, 0, 5269, "xmpp.example.com.")]),
            &mut draws(&[0, 0, 0]),
        );
        assert_eq!(
            plan(&got),
            [
                ("edge.example.com", 443, true),
                ("xmpp.example.com", 5269, false),
                ("tls.example.com", 5270, true),
            ]
        );
    }

    #[test]
    fn xmpps_and_xmpp_records_share_a_priority_by_weight() {
        // Same priority: xmpps weight 1, xmpp weight 3 (sums 1, 4): a draw of 2 picks xmpp.
        let got = xmpp_order(
            "example.com",
            answer(&[(0, 1, 5270, "a.example.com.")]),
            answer(&[(0, 3, 5269, "b.example.com.")]),
            &mut draws(&[2, 0]),
        );
        assert_eq!(
            plan(&got),
            [
                ("b.example.com", 5269, false),
                ("a.example.com", 5270, true)
            ]
        );
    }

    #[test]
    fn no_records_fall_back_to_the_domain_on_5269() {
        let got = xmpp_order(
            "example.com",
            SrvAnswer::Nothing,
            SrvAnswer::Nothing,
            &mut draws(&[]),
        );
        assert_eq!(plan(&got), [("example.com", 5269, false)]);
    }

    #[test]
    fn not_offered_rules_out_the_address_fallback() {
        // No direct TLS, STARTTLS servers listed: those.
        let got = xmpp_order(
            "example.com",
            SrvAnswer::NotOffered,
            answer(&[(0, 0, 5269, "xmpp.example.com.")]),
            &mut draws(&[0]),
        );
        assert_eq!(plan(&got), [("xmpp.example.com", 5269, false)]);
        // No s2s at all, or no direct TLS and no STARTTLS records: nothing to try.
        for (xmpps, xmpp) in [
            (SrvAnswer::Nothing, SrvAnswer::NotOffered),
            (SrvAnswer::NotOffered, SrvAnswer::Nothing),
            (SrvAnswer::NotOffered, SrvAnswer::NotOffered),
        ] {
            assert!(xmpp_order("example.com", xmpps, xmpp, &mut draws(&[])).is_empty());
        }
    }

    #[test]
    fn system_random_stays_in_range() {
        for n in [0, 1, 7, 65535] {
            for _ in 0..50 {
                assert!(system_random(n) <= n);
            }
        }
        assert_eq!(system_random(0), 0);
    }
}
