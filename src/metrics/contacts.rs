//! Contact lifecycle metrics: pairs kept, blocks, retirements and commit failures.

use ::metrics::{Unit, counter, describe_counter, describe_gauge, gauge};

use super::with;

/// Contact pairs parley keeps consent for, by state (`active`, `retired`).
pub const CONTACTS: &str = "parley_contacts";
/// Blocks set by users (through their platform or `parley block`).
pub const CONTACT_BLOCKS: &str = "parley_contact_blocks";
/// Contact pairs retired for lack of use or removed by the bound, by stage (`retired`,
/// `removed`, `evicted`).
pub const CONTACTS_RETIRED_TOTAL: &str = "parley_contacts_retired_total";
/// Contact state commits that failed (retried at the next commit).
pub const CONTACT_COMMIT_FAILURES_TOTAL: &str = "parley_contact_commit_failures_total";
/// New blocks refused because `[policy] max_blocks` blocks are kept.
pub const CONTACT_BLOCKS_REFUSED_TOTAL: &str = "parley_contact_blocks_refused_total";

pub(super) fn describe_contacts() {
    describe_gauge!(
        CONTACTS,
        Unit::Count,
        "Contact pairs parley keeps consent for, by state (active, retired)."
    );
    describe_gauge!(
        CONTACT_BLOCKS,
        Unit::Count,
        "Blocks set by users through their platform or the admin channel."
    );
    describe_counter!(
        CONTACTS_RETIRED_TOTAL,
        Unit::Count,
        "Contact pairs retired for lack of use or removed by the bound, by stage (retired, removed, evicted)."
    );
    describe_counter!(
        CONTACT_COMMIT_FAILURES_TOTAL,
        Unit::Count,
        "Contact state commits that failed and wait for the next one."
    );
    describe_counter!(
        CONTACT_BLOCKS_REFUSED_TOTAL,
        Unit::Count,
        "New blocks refused because the bound on blocks kept (policy.max_blocks) is reached."
    );
}

/// Contact pairs and blocks held.
pub fn contacts(active: usize, retired: usize, blocks: usize) {
    with(|_| {
        gauge!(CONTACTS, "state" => "active").set(active as f64);
        gauge!(CONTACTS, "state" => "retired").set(retired as f64);
        gauge!(CONTACT_BLOCKS).set(blocks as f64);
    });
}

/// `n` contact pairs reached retirement `stage` (`retired`, `removed`, `evicted`).
pub fn contacts_retired(stage: &'static str, n: u64) {
    with(|_| counter!(CONTACTS_RETIRED_TOTAL, "stage" => stage).increment(n));
}

/// A contact state commit failed.
pub fn contact_commit_failed() {
    with(|_| counter!(CONTACT_COMMIT_FAILURES_TOTAL).increment(1));
}

/// A new block was refused: the bound on blocks is reached.
pub fn contact_block_refused() {
    with(|_| counter!(CONTACT_BLOCKS_REFUSED_TOTAL).increment(1));
}
