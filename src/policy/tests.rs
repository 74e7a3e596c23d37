//! One test per rule of [`Policy::decide`].

use super::*;
use crate::config::Config;

fn policy(toml: &str) -> Policy {
    let c = Config::parse(toml).unwrap();
    c.policy.validate().unwrap();
    Policy::new(&c.policy)
}

/// A message from a SIP user to an XMPP user.
fn msg<'a>(from: &'a str, to: &'a str) -> PolicyInput<'a> {
    PolicyInput {
        from,
        from_side: if from.ends_with("sip.test") {
            Side::Sip
        } else {
            Side::Xmpp
        },
        to,
        bytes: 5,
        recipients: 1,
    }
}

fn accepted() -> PolicyState {
    PolicyState {
        pair: PairState {
            accepted: true,
            ..PairState::default()
        },
        ..PolicyState::default()
    }
}

fn refusal(p: &Policy, m: &PolicyInput<'_>, s: &PolicyState) -> Option<Refusal> {
    match p.decide(m, s) {
        Decision::Refuse(r) => Some(r),
        Decision::Allow { .. } => None,
    }
}

#[test]
fn defaults_let_configured_traffic_through() {
    let p = policy("");
    let m = msg("alice@sip.test", "juliet@xmpp.test");
    assert_eq!(refusal(&p, &m, &accepted()), None);
    assert!(matches!(
        p.decide(&m, &PolicyState::default()),
        Decision::Allow {
            count_unaccepted: true,
            ..
        }
    ));
}

#[test]
fn size_and_recipient_limits() {
    let p = policy("[policy.limits]\nmax_message_bytes = 10\nmax_recipients = 2\n");
    let mut m = msg("alice@sip.test", "juliet@xmpp.test");
    m.bytes = 10;
    assert_eq!(refusal(&p, &m, &accepted()), None);
    m.bytes = 11;
    assert_eq!(refusal(&p, &m, &accepted()), Some(Refusal::TooLarge));
    assert_eq!(Refusal::TooLarge.sip_status().0, 413);
    m.bytes = 1;
    m.recipients = 3;
    assert_eq!(
        refusal(&p, &m, &accepted()),
        Some(Refusal::TooManyRecipients)
    );
}

#[test]
fn federation_matrix_deny_wins_then_allow_then_default() {
    let p = policy(
        r#"
[policy.federation]
default = "deny"
allow = [{ local = "sip.test", remote = "*.partner.example" }, { local = "*", remote = "xmpp.test" }]
deny = [{ local = "sip.test", remote = "bad.partner.example" }]
"#,
    );
    let s = accepted();
    let ok = |from, to| refusal(&p, &msg(from, to), &s).is_none();
    assert!(ok("alice@sip.test", "bob@a.partner.example"));
    assert!(
        ok("bob@a.partner.example", "alice@sip.test"),
        "both directions"
    );
    assert!(!ok("alice@sip.test", "bob@partner.example"), "*.x is not x");
    assert!(
        !ok("alice@sip.test", "eve@bad.partner.example"),
        "deny wins"
    );
    assert!(!ok("eve@bad.partner.example", "alice@sip.test"));
    assert!(ok("carol@other.sip.test", "juliet@xmpp.test"));
    assert!(
        !ok("carol@other.sip.test", "x@a.partner.example"),
        "default"
    );
    assert_eq!(
        refusal(&p, &msg("alice@sip.test", "x@nowhere.example"), &s),
        Some(Refusal::FederationDenied)
    );
}

#[test]
fn local_side_orients_the_matrix() {
    let p = policy(
        r#"
[policy]
local_side = "xmpp"
[policy.federation]
default = "deny"
allow = [{ local = "xmpp.test", remote = "sip.test" }]
"#,
    );
    let s = accepted();
    assert_eq!(
        refusal(&p, &msg("alice@sip.test", "juliet@xmpp.test"), &s),
        None
    );
    assert_eq!(
        refusal(&p, &msg("juliet@xmpp.test", "alice@sip.test"), &s),
        None
    );
}

#[test]
fn inbound_and_outbound_switches() {
    let p = policy(
        r#"
[[policy.domain]]
name = "quiet.sip.test"
inbound = false
[[policy.domain]]
name = "*.mute.example"
outbound = false
"#,
    );
    let s = accepted();
    assert_eq!(
        refusal(&p, &msg("a@quiet.sip.test", "juliet@xmpp.test"), &s),
        None,
        "outbound still on"
    );
    assert_eq!(
        refusal(&p, &msg("juliet@xmpp.test", "a@quiet.sip.test"), &s),
        Some(Refusal::InboundDisabled)
    );
    assert_eq!(
        refusal(&p, &msg("m@x.mute.example", "a@sip.test"), &s),
        Some(Refusal::OutboundDisabled)
    );
    assert_eq!(
        refusal(&p, &msg("a@sip.test", "m@x.mute.example"), &s),
        None
    );
}

#[test]
fn per_user_lists_both_ways() {
    let p = policy(
        r#"
[[policy.user]]
address = "alice@sip.test"
block = ["eve@xmpp.test", "*@spam.example"]
[[policy.user]]
address = "ceo@sip.test"
allow = ["*@*.partner.example"]
"#,
    );
    let s = accepted();
    let r = |from, to| refusal(&p, &msg(from, to), &s);
    assert_eq!(r("eve@xmpp.test", "alice@sip.test"), Some(Refusal::Blocked));
    assert_eq!(r("alice@sip.test", "eve@xmpp.test"), Some(Refusal::Blocked));
    assert_eq!(
        r("x@spam.example", "alice@sip.test"),
        Some(Refusal::Blocked)
    );
    assert_eq!(r("juliet@xmpp.test", "alice@sip.test"), None);
    assert_eq!(
        r("juliet@xmpp.test", "ceo@sip.test"),
        Some(Refusal::UserNotAllowed)
    );
    assert_eq!(
        r("ceo@sip.test", "juliet@xmpp.test"),
        Some(Refusal::UserNotAllowed)
    );
    assert_eq!(r("p@a.partner.example", "ceo@sip.test"), None);
}

#[test]
fn stored_blocks_are_honoured() {
    let p = policy("");
    let s = PolicyState {
        pair: PairState {
            accepted: true,
            unaccepted: 0,
            blocked: true,
        },
        ..PolicyState::default()
    };
    assert_eq!(
        refusal(&p, &msg("a@sip.test", "b@xmpp.test"), &s),
        Some(Refusal::Blocked)
    );
}

#[test]
fn a_stranger_may_send_ten_then_is_refused_until_accepted() {
    let p = policy("");
    let m = msg("stranger@xmpp.test", "bob@sip.test");
    let mut s = PolicyState::default();
    for n in 0..10 {
        s.pair.unaccepted = n;
        assert!(
            matches!(
                p.decide(&m, &s),
                Decision::Allow {
                    count_unaccepted: true,
                    ..
                }
            ),
            "message {}",
            n + 1
        );
    }
    s.pair.unaccepted = 10;
    assert_eq!(refusal(&p, &m, &s), Some(Refusal::ConsentRequired));
    let r = Refusal::ConsentRequired;
    assert_eq!(r.sip_status().0, 403);
    assert_eq!(r.xmpp_condition(), ErrorCondition::PolicyViolation);
    assert_eq!(r.reason(), PolicyReason::ConsentRequired);
    s.pair.accepted = true;
    assert!(matches!(
        p.decide(&m, &s),
        Decision::Allow {
            count_unaccepted: false,
            ..
        }
    ));
}

#[test]
fn consent_limit_is_configurable_and_can_be_off() {
    let p = policy("[policy.consent]\nmax_unaccepted = 2\n");
    let m = msg("s@xmpp.test", "b@sip.test");
    let mut s = PolicyState::default();
    s.pair.unaccepted = 2;
    assert_eq!(refusal(&p, &m, &s), Some(Refusal::ConsentRequired));
    let off = policy("[policy.consent]\nenable = false\n");
    s.pair.unaccepted = 1000;
    assert!(matches!(
        off.decide(&m, &s),
        Decision::Allow {
            count_unaccepted: false,
            ..
        }
    ));
}

#[test]
fn rate_limits_per_domain_and_per_sender() {
    let p = policy(
        "[policy.limits]\ndomain_rate = 1.0\ndomain_burst = 3\nsender_rate = 1.0\nsender_burst = 2\n",
    );
    let m = msg("a@xmpp.test", "b@sip.test");
    let mut s = accepted();
    s.now_ms = 1_000;
    for _ in 0..2 {
        match p.decide(&m, &s) {
            Decision::Allow {
                domain_bucket,
                sender_bucket,
                ..
            } => {
                s.domain_bucket = domain_bucket;
                s.sender_bucket = sender_bucket;
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(refusal(&p, &m, &s), Some(Refusal::SenderRateLimited));
    // Another sender of the same domain has its own bucket but shares the domain's.
    let other = PolicyState {
        sender_bucket: Bucket::default(),
        ..s
    };
    let Decision::Allow { domain_bucket, .. } = p.decide(&m, &other) else {
        panic!("third message of the domain is within its burst");
    };
    let other = PolicyState {
        domain_bucket,
        ..other
    };
    assert_eq!(refusal(&p, &m, &other), Some(Refusal::DomainRateLimited));
    assert_eq!(
        Refusal::DomainRateLimited.reason(),
        PolicyReason::RateLimited
    );
    // A second later each bucket has a token again.
    s.now_ms += 1_000;
    assert_eq!(refusal(&p, &m, &s), None);
}

#[test]
fn refusals_do_not_spend_tokens_or_consent() {
    let p = policy("[policy.limits]\nmax_message_bytes = 1\n");
    let mut m = msg("a@xmpp.test", "b@sip.test");
    m.bytes = 2;
    // A refusal returns no state to record: the caller keeps the old buckets and counters.
    assert_eq!(
        p.decide(&m, &PolicyState::default()),
        Decision::Refuse(Refusal::TooLarge)
    );
}

#[test]
fn config_errors_name_the_key() {
    for (toml, key) in [
        (
            "[policy.federation]\nallow = [{ local = \"*.\", remote = \"x\" }]\n",
            "policy.federation.allow[0].local",
        ),
        (
            "[[policy.user]]\naddress = \"a@b.example\"\nblock = [\"nodomain\"]\n",
            "policy.user[0].block[0]",
        ),
        (
            "[policy.consent]\nmax_unaccepted = 0\n",
            "policy.consent.max_unaccepted",
        ),
        (
            "[policy.limits]\nsender_rate = -1.0\n",
            "policy.limits.sender_rate",
        ),
        (
            "[[policy.domain]]\nname = \"a b\"\n",
            "policy.domain[0].name",
        ),
    ] {
        let c = Config::parse(toml).unwrap();
        let e = c.policy.validate().unwrap_err().to_string();
        assert!(e.starts_with(key), "{toml}: {e}");
    }
    assert!(Config::parse("[policy]\nunknown = 1\n").is_err());
}
