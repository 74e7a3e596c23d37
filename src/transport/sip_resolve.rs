//! Locating a SIP domain's servers (RFC 3263 §4): NAPTR → SRV (`_sips._tcp`, `_sip._tcp`,
//! `_sip._udp`, plus `_sipfederationtls._tcp`, which Skype for Business / Lync federation
//! publishes) → A/AAAA, or a static `next_hop` from config, which always wins.
//!
//! The ordering and selection rules are pure functions over resolver answers ([`from_naptr`],
//! [`srv_names`], [`order_srv`], [`sip_order`], [`fallback`]) with the random source of
//! RFC 2782's weighted pick passed in, so they are tested without DNS; the lookups
//! themselves go through the process-wide [`Resolver`].

use hickory_resolver::proto::rr::{RData, RecordType};
use tracing::debug;

use super::resolve::{Resolver, rfc2782_order, system_random};
pub use super::resolve::{Srv, SrvAnswer};

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

/// RFC 2782 order of one SRV answer for `transport` (see [`rfc2782_order`]).
pub fn order_srv(
    answer: SrvAnswer,
    transport: SipTransport,
    random: &mut impl FnMut(u32) -> u32,
) -> Vec<SipTarget> {
    let SrvAnswer::Records(records) = answer else {
        return Vec::new();
    };
    rfc2782_order(records.into_iter().map(|r| (r, ())).collect(), random)
        .into_iter()
        .map(|(r, ())| SipTarget {
            host: r.target,
            port: r.port,
            transport,
        })
        .collect()
}

/// RFC 3263 §4.2: the servers from the SRV answers of each name in turn (as [`from_naptr`] or
/// [`srv_names`] ordered them), each answer in RFC 2782 order; with none, the domain's
/// address records ([`fallback`]) — unless a name said its service is not offered (a lone
/// `.` target, RFC 2782), which leaves nothing to try.
pub fn sip_order(
    domain: &str,
    allowed: &[SipTransport],
    answers: Vec<(SipTransport, SrvAnswer)>,
    random: &mut impl FnMut(u32) -> u32,
) -> Vec<SipTarget> {
    let not_offered = answers.iter().any(|(_, a)| *a == SrvAnswer::NotOffered);
    let mut targets = Vec::new();
    for (transport, answer) in answers {
        targets.extend(order_srv(answer, transport, random));
    }
    if targets.is_empty() && !not_offered {
        targets.extend(fallback(domain, allowed));
    }
    targets
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
        let mut answers = Vec::new();
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
                answers.push((transport, self.srv(&name).await));
            }
        }
        let targets = sip_order(domain, allowed, answers, &mut system_random);
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
        Srv::new(priority, weight, port, target)
    }

    /// A random source that returns the given draws in turn.
    fn draws(values: &[u32]) -> impl FnMut(u32) -> u32 + '_ {
        let mut it = values.iter();
        move |n| (*it.next().expect("a draw for every pick")).min(n)
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
    fn srv_by_priority_then_weighted_pick() {
        let records = || {
            SrvAnswer::from_records(vec![
                srv(20, 0, 5061, "backup.example.com."),
                srv(10, 10, 5061, "b.example.com."),
                srv(10, 60, 5062, "a.example.com."),
            ])
        };
        let hosts = |got: Vec<SipTarget>| -> Vec<(String, u16)> {
            got.into_iter().map(|t| (t.host, t.port)).collect()
        };
        // Priority 10 first (running sums b 10, a 70): a draw of 11 picks a, 5 picks b.
        let got = order_srv(records(), Tls, &mut draws(&[11, 0, 0]));
        assert!(got.iter().all(|t| t.transport == Tls));
        assert_eq!(
            hosts(got),
            [
                ("a.example.com".into(), 5062),
                ("b.example.com".into(), 5061),
                ("backup.example.com".into(), 5061)
            ]
        );
        assert_eq!(
            hosts(order_srv(records(), Tls, &mut draws(&[5, 0, 0])))[0],
            ("b.example.com".into(), 5061)
        );
    }

    #[test]
    fn dot_target_means_no_service() {
        let dot = || SrvAnswer::from_records(vec![srv(0, 0, 0, ".")]);
        assert!(order_srv(dot(), Tcp, &mut draws(&[])).is_empty());
        // A lone "." rules out the address fallback …
        assert!(sip_order("example.com", &[Tls], vec![(Tls, dot())], &mut draws(&[])).is_empty());
        // … but not the servers another name gave.
        let got = sip_order(
            "example.com",
            &[Tls],
            vec![
                (Tls, dot()),
                (
                    Tls,
                    SrvAnswer::from_records(vec![srv(0, 0, 5061, "sip.example.com.")]),
                ),
            ],
            &mut draws(&[0]),
        );
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].host, "sip.example.com");
    }

    #[test]
    fn answers_keep_the_naptr_order_and_fall_back_only_with_none() {
        // NAPTR put TCP before TLS: the TCP servers come first, whatever their priority.
        let got = sip_order(
            "example.com",
            &[Tls, Tcp],
            vec![
                (
                    Tcp,
                    SrvAnswer::from_records(vec![srv(50, 0, 5060, "tcp.example.com.")]),
                ),
                (
                    Tls,
                    SrvAnswer::from_records(vec![srv(0, 0, 5061, "tls.example.com.")]),
                ),
            ],
            &mut draws(&[0, 0]),
        );
        let plan: Vec<_> = got.iter().map(|t| (t.host.as_str(), t.transport)).collect();
        assert_eq!(plan, [("tcp.example.com", Tcp), ("tls.example.com", Tls)]);
        // No records anywhere: the domain on the first transport's port (RFC 3263 §4.2).
        let got = sip_order(
            "example.com",
            &[Tls],
            vec![(Tls, SrvAnswer::Nothing)],
            &mut draws(&[]),
        );
        assert_eq!(
            got,
            [SipTarget {
                host: "example.com".into(),
                port: 5061,
                transport: Tls
            }]
        );
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
