//! Locating a SIP domain's servers (RFC 3263 §4): NAPTR → SRV (`_sips._tcp`, `_sip._tcp`,
//! `_sip._udp`, plus `_sipfederationtls._tcp`, which Skype for Business / Lync federation
//! publishes) → A/AAAA, or a static `next_hop` from config, which always wins.
//!
//! The ordering and selection rules are pure functions over resolver answers ([`from_naptr`],
//! [`srv_names`], [`order_srv`], [`fallback`]), so they are tested without DNS; the lookups
//! themselves go through the process-wide [`Resolver`].

use hickory_resolver::proto::rr::{RData, RecordType};
use tracing::debug;

use super::resolve::Resolver;

/// A SIP transport (RFC 3261 §18).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SipTransport {
    /// TLS over TCP (`sips`, port 5061).
    Tls,
    /// Plain TCP (port 5060).
    Tcp,
    /// UDP (port 5060).
    Udp,
}

impl SipTransport {
    /// The default port.
    pub fn default_port(self) -> u16 {
        match self {
            SipTransport::Tls => 5061,
            SipTransport::Tcp | SipTransport::Udp => 5060,
        }
    }

    /// The `transport` URI parameter / config value.
    pub fn parse(s: &str) -> Option<SipTransport> {
        match s.to_ascii_lowercase().as_str() {
            "tls" => Some(SipTransport::Tls),
            "tcp" => Some(SipTransport::Tcp),
            "udp" => Some(SipTransport::Udp),
            _ => None,
        }
    }

    /// The NAPTR service field (RFC 3263 §4.1).
    fn naptr_service(self) -> &'static str {
        match self {
            SipTransport::Tls => "SIPS+D2T",
            SipTransport::Tcp => "SIP+D2T",
            SipTransport::Udp => "SIP+D2U",
        }
    }
}

/// One server to try, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipTarget {
    /// Host name or IP literal.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Transport.
    pub transport: SipTransport,
}

/// A NAPTR record as the resolver gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Naptr {
    /// Order (lowest first).
    pub order: u16,
    /// Preference within an order (lowest first).
    pub preference: u16,
    /// Flags (`S`: the replacement is an SRV name).
    pub flags: String,
    /// Service (`SIPS+D2T`, `SIP+D2T`, `SIP+D2U`, …).
    pub service: String,
    /// The SRV name to query.
    pub replacement: String,
}

/// An SRV record as the resolver gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Srv {
    /// Priority (lowest first).
    pub priority: u16,
    /// Weight (higher first within a priority; RFC 2782's random pick is made deterministic).
    pub weight: u16,
    /// Port.
    pub port: u16,
    /// Target host (`.` means no service).
    pub target: String,
}

/// RFC 3263 §4.1: the SRV names to query from NAPTR answers, in order — only `S`-flagged
/// records for a transport in `allowed`, sorted by order then preference.
pub fn from_naptr(records: &[Naptr], allowed: &[SipTransport]) -> Vec<(SipTransport, String)> {
    let mut usable: Vec<(&Naptr, SipTransport)> = records
        .iter()
        .filter(|r| r.flags.eq_ignore_ascii_case("s"))
        .filter_map(|r| {
            allowed
                .iter()
                .find(|t| r.service.eq_ignore_ascii_case(t.naptr_service()))
                .map(|t| (r, *t))
        })
        .collect();
    usable.sort_by_key(|(r, _)| (r.order, r.preference));
    usable
        .into_iter()
        .map(|(r, t)| (t, r.replacement.trim_end_matches('.').to_owned()))
        .collect()
}

/// RFC 3263 §4.1 without NAPTR: the SRV names to try for `domain`, most secure first:
/// `_sipfederationtls._tcp` and `_sips._tcp` (TLS), `_sip._tcp`, `_sip._udp`, each only
/// when its transport is in `allowed`.
pub fn srv_names(domain: &str, allowed: &[SipTransport]) -> Vec<(SipTransport, String)> {
    let all = [
        (SipTransport::Tls, "_sipfederationtls._tcp"),
        (SipTransport::Tls, "_sips._tcp"),
        (SipTransport::Tcp, "_sip._tcp"),
        (SipTransport::Udp, "_sip._udp"),
    ];
    all.iter()
        .filter(|(t, _)| allowed.contains(t))
        .map(|(t, s)| (*t, format!("{s}.{domain}")))
        .collect()
}

/// RFC 2782 order of one SRV answer: lowest priority first, higher weight first within a
/// priority; a lone `.` target means the service is not offered (nothing).
pub fn order_srv(mut records: Vec<Srv>, transport: SipTransport) -> Vec<SipTarget> {
    if records.len() == 1 && records[0].target.trim_end_matches('.').is_empty() {
        return Vec::new();
    }
    records.sort_by_key(|r| (r.priority, std::cmp::Reverse(r.weight)));
    records
        .into_iter()
        .filter(|r| !r.target.trim_end_matches('.').is_empty())
        .map(|r| SipTarget {
            host: r.target.trim_end_matches('.').to_owned(),
            port: r.port,
            transport,
        })
        .collect()
}

/// RFC 3263 §4.2 with no SRV: the domain itself on the default port of the first allowed
/// transport.
pub fn fallback(domain: &str, allowed: &[SipTransport]) -> Option<SipTarget> {
    let t = *allowed.first()?;
    Some(SipTarget {
        host: domain.to_owned(),
        port: t.default_port(),
        transport: t,
    })
}

/// A static `host:port` next hop with its configured transport.
pub fn from_next_hop(hop: &str, transport: SipTransport) -> Option<SipTarget> {
    let t = super::resolve::Target::from_host_port(hop, false)?;
    Some(SipTarget {
        host: t.host,
        port: t.port,
        transport,
    })
}

impl Resolver {
    /// The SIP servers of `domain` over the `allowed` transports (in preference order), per
    /// RFC 3263: NAPTR, else the SRV names, else the domain's address records.
    pub async fn sip_targets(&self, domain: &str, allowed: &[SipTransport]) -> Vec<SipTarget> {
        let mut targets = Vec::new();
        if let Some(dns) = self.dns() {
            let naptr: Vec<Naptr> = match dns.lookup(format!("{domain}."), RecordType::NAPTR).await
            {
                Ok(answer) => answer
                    .record_iter()
                    .filter_map(|r| match r.data() {
                        RData::NAPTR(n) => Some(Naptr {
                            order: n.order(),
                            preference: n.preference(),
                            flags: String::from_utf8_lossy(n.flags()).into_owned(),
                            service: String::from_utf8_lossy(n.services()).into_owned(),
                            replacement: n.replacement().to_utf8(),
                        }),
                        _ => None,
                    })
                    .collect(),
                Err(_) => Vec::new(),
            };
            let mut names = from_naptr(&naptr, allowed);
            if names.is_empty() {
                names = srv_names(domain, allowed);
            }
            for (transport, name) in names {
                let Ok(srv) = dns.srv_lookup(format!("{name}.")).await else {
                    continue;
                };
                let records = srv
                    .iter()
                    .map(|r| Srv {
                        priority: r.priority(),
                        weight: r.weight(),
                        port: r.port(),
                        target: r.target().to_utf8(),
                    })
                    .collect();
                targets.extend(order_srv(records, transport));
            }
        }
        if targets.is_empty() {
            targets.extend(fallback(domain, allowed));
        }
        debug!(domain, ?targets, "SIP targets");
        targets
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use SipTransport::*;

    fn naptr(order: u16, pref: u16, service: &str, repl: &str) -> Naptr {
        Naptr {
            order,
            preference: pref,
            flags: "s".into(),
            service: service.into(),
            replacement: repl.into(),
        }
    }

    fn srv(priority: u16, weight: u16, port: u16, target: &str) -> Srv {
        Srv {
            priority,
            weight,
            port,
            target: target.into(),
        }
    }

    #[test]
    fn naptr_sorted_by_order_then_preference_and_filtered() {
        let records = [
            naptr(20, 10, "SIP+D2U", "_sip._udp.example.com."),
            naptr(10, 20, "SIP+D2T", "_sip._tcp.example.com."),
            naptr(10, 10, "SIPS+D2T", "_sips._tcp.example.com."),
            naptr(5, 10, "SIP+D2S", "_sip._sctp.example.com."),
            Naptr {
                flags: "A".into(),
                ..naptr(1, 1, "SIP+D2T", "x.example.com.")
            },
        ];
        assert_eq!(
            from_naptr(&records, &[Tls, Tcp, Udp]),
            [
                (Tls, "_sips._tcp.example.com".to_owned()),
                (Tcp, "_sip._tcp.example.com".to_owned()),
                (Udp, "_sip._udp.example.com".to_owned()),
            ]
        );
        // Only TLS allowed: the other records are ignored.
        assert_eq!(
            from_naptr(&records, &[Tls]),
            [(Tls, "_sips._tcp.example.com".to_owned())]
        );
    }

    #[test]
    fn srv_names_most_secure_first_with_federation_tls() {
        let names: Vec<_> = srv_names("example.com", &[Tls, Tcp, Udp])
            .into_iter()
            .map(|(_, n)| n)
            .collect();
        assert_eq!(
            names,
            [
                "_sipfederationtls._tcp.example.com",
                "_sips._tcp.example.com",
                "_sip._tcp.example.com",
                "_sip._udp.example.com"
            ]
        );
        assert_eq!(
            srv_names("example.com", &[Udp]),
            [(Udp, "_sip._udp.example.com".to_owned())]
        );
    }

    #[test]
    fn srv_by_priority_then_weight() {
        let got = order_srv(
            vec![
                srv(20, 0, 5061, "backup.example.com."),
                srv(10, 10, 5061, "b.example.com."),
                srv(10, 60, 5062, "a.example.com."),
            ],
            Tls,
        );
        let hosts: Vec<_> = got.iter().map(|t| (t.host.as_str(), t.port)).collect();
        assert_eq!(
            hosts,
            [
                ("a.example.com", 5062),
                ("b.example.com", 5061),
                ("backup.example.com", 5061)
            ]
        );
        assert!(got.iter().all(|t| t.transport == Tls));
    }

    #[test]
    fn dot_target_means_no_service() {
        assert!(order_srv(vec![srv(0, 0, 0, ".")], Tcp).is_empty());
    }

    #[test]
    fn fallback_uses_the_first_transport_default_port() {
        assert_eq!(
            fallback("example.com", &[Tls, Tcp]),
            Some(SipTarget {
                host: "example.com".into(),
                port: 5061,
                transport: Tls
            })
        );
        assert_eq!(fallback("example.com", &[Udp]).unwrap().port, 5060);
        assert_eq!(fallback("example.com", &[]), None);
    }

    #[test]
    fn static_next_hop_and_transport_names() {
        assert_eq!(
            from_next_hop("127.0.0.4:5060", Udp),
            Some(SipTarget {
                host: "127.0.0.4".into(),
                port: 5060,
                transport: Udp
            })
        );
        assert_eq!(SipTransport::parse("TLS"), Some(Tls));
        assert_eq!(SipTransport::parse("sctp"), None);
    }
}
