//! Domain and address patterns: `example.com` (exactly), `*.example.com` (any subdomain, not
//! the domain itself), `*` (anything); addresses `user@domain-pattern` or `*@domain-pattern`.
//! Domains compare case-insensitively; user parts exactly except for `*`.

/// A compiled domain pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DomainPattern {
    /// `*`.
    Any,
    /// `*.suffix`: stored as `.suffix`, lower case.
    Subdomains(String),
    /// One domain, lower case.
    Exact(String),
}

impl DomainPattern {
    /// Compile (the config validated the syntax).
    pub fn new(p: &str) -> DomainPattern {
        let p = p.to_ascii_lowercase();
        if p == "*" {
            DomainPattern::Any
        } else if let Some(rest) = p.strip_prefix('*') {
            DomainPattern::Subdomains(rest.to_owned())
        } else {
            DomainPattern::Exact(p)
        }
    }

    /// Whether `domain` matches.
    pub fn matches(&self, domain: &str) -> bool {
        match self {
            DomainPattern::Any => true,
            DomainPattern::Exact(d) => d.eq_ignore_ascii_case(domain),
            DomainPattern::Subdomains(suffix) => {
                domain.len() > suffix.len()
                    && domain.is_char_boundary(domain.len() - suffix.len())
                    && domain[domain.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
            }
        }
    }
}

/// A compiled address pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressPattern {
    user: Option<String>,
    domain: DomainPattern,
}

impl AddressPattern {
    /// Compile (the config validated the syntax).
    pub fn new(p: &str) -> AddressPattern {
        let (user, domain) = p.rsplit_once('@').unwrap_or(("*", p));
        AddressPattern {
            user: (user != "*").then(|| user.to_owned()),
            domain: DomainPattern::new(domain),
        }
    }

    /// Whether the bare address `address` matches.
    pub fn matches(&self, address: &str) -> bool {
        let Some((user, domain)) = address.rsplit_once('@') else {
            return false;
        };
        self.user.as_deref().is_none_or(|u| u == user) && self.domain.matches(domain)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domain_patterns() {
        let table = [
            ("*", "anything.example", true),
            ("partner.example", "Partner.Example", true),
            ("partner.example", "x.partner.example", false),
            ("*.partner.example", "x.partner.example", true),
            ("*.partner.example", "a.b.PARTNER.example", true),
            ("*.partner.example", "partner.example", false),
            ("*.partner.example", "evilpartner.example", false),
            ("*.partner.example", "ü.partner.example", true),
        ];
        for (p, d, want) in table {
            assert_eq!(DomainPattern::new(p).matches(d), want, "{p} vs {d}");
        }
    }

    #[test]
    fn address_patterns() {
        let table = [
            ("bob@x.example", "bob@x.example", true),
            ("bob@x.example", "Bob@x.example", false),
            ("bob@x.example", "bob@X.EXAMPLE", true),
            ("*@x.example", "anyone@x.example", true),
            ("*@*.x.example", "a@y.x.example", true),
            ("*@*.x.example", "a@x.example", false),
            ("*@x.example", "no-at-sign", false),
        ];
        for (p, a, want) in table {
            assert_eq!(AddressPattern::new(p).matches(a), want, "{p} vs {a}");
        }
    }
}
