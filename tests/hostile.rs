//! Hostile input against the running `parley` binary (issue 12): one table row per case —
//! what a hostile SIP or XMPP peer sends, the exact error it must see, the metric series that
//! must count it — and after every case an ordinary message from another peer must still
//! cross, so no case may crash, wedge or poison the daemon.
//!
//! Cases that share a metric series run one after another (so "the counter went up" is caused
//! by that case); the groups run concurrently to keep the suite short.

// Shared with the other test binaries; this one uses part of them. Paths are explicit because
// this crate root has a directory of the same name (tests/hostile/).
#[allow(dead_code)]
mod common {
    #[path = "../common/badpki.rs"]
    pub mod badpki;
    #[path = "../common/daemon.rs"]
    pub mod daemon;
    #[path = "../common/peers.rs"]
    pub mod peers;
    #[path = "../common/pki.rs"]
    pub mod pki;
    #[path = "../common/wire.rs"]
    pub mod wire;
}

#[path = "hostile/harness.rs"]
mod harness;
#[path = "hostile/limits.rs"]
mod limits;
#[path = "hostile/sip.rs"]
mod sip;
#[path = "hostile/sip_content.rs"]
mod sip_content;
#[path = "hostile/tls.rs"]
mod tls;
#[path = "hostile/xmpp.rs"]
mod xmpp;
#[path = "hostile/xmpp_addr.rs"]
mod xmpp_addr;

use harness::{Case, Lab};

fn all_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    cases.extend(sip::cases());
    cases.extend(sip_content::cases());
    cases.extend(xmpp::cases());
    cases.extend(xmpp_addr::cases());
    cases.extend(tls::cases());
    cases.extend(limits::cases());
    cases
}

#[test]
fn the_table_has_at_least_100_distinctly_named_cases() {
    let cases = all_cases();
    let mut names: Vec<&str> = cases.iter().map(|c| c.name.as_str()).collect();
    names.sort_unstable();
    let n = names.len();
    names.dedup();
    assert_eq!(
        names.len(),
        n,
        "case names are unique (they are the tokens too)"
    );
    assert!(n >= 100, "{n} cases");
    println!("{n} hostile cases");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_peers_get_exact_errors_are_counted_and_do_not_disturb_others() {
    let lab = std::sync::Arc::new(Lab::start("hostile").await);
    let failures = harness::run_all(lab.clone(), all_cases()).await;
    lab.assert_alive().await;
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
