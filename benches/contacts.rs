//! Consent on the hot path (issue 8): what one message from a stranger costs, per message,
//! when the decision reads and counts in the redb store (one durable commit per message, as
//! `police()` did before) and in the in-memory `ContactBook` (a write-behind task commits the
//! changed keys in one transaction every 200 ms; its cost is measured here per commit of
//! 1,000 changed pairs).
//!
//! Run: `nice -n 10 cargo bench --bench contacts`

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::Criterion;
use parley::store::{ContactBook, RedbStore, Store};

fn temp_db(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("parley-bench-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir.join("state.redb")
}

fn per_message(name: &str, n: u32, mut f: impl FnMut(u32)) {
    let start = Instant::now();
    for i in 0..n {
        f(i);
    }
    let each = start.elapsed() / n;
    println!(
        "{name}: {each:?} per message ({:.0} messages/s on one core)",
        1.0 / each.as_secs_f64()
    );
}

fn main() {
    let db = temp_db("redb");
    let store = RedbStore::open(&db).unwrap();
    per_message("redb, read + durable count", 200, |i| {
        let from = format!("s{}@xmpp.test", i % 50);
        black_box(store.pair(&from, "alice@sip.test").unwrap());
        black_box(store.count_unaccepted(&from, "alice@sip.test").unwrap());
    });
    let book = ContactBook::new();
    per_message("memory, read + count", 1_000_000, |i| {
        let from = format!("s{}@xmpp.test", i % 50);
        black_box(book.state(&from, "alice@sip.test"));
        black_box(book.count_unaccepted(&from, "alice@sip.test", u64::from(i)));
    });
    let start = Instant::now();
    let commits = 20;
    for c in 0..commits {
        for i in 0..1000 {
            book.count_unaccepted(&format!("s{i}@xmpp.test"), "alice@sip.test", c);
        }
        store.apply_contacts(&book.take_dirty(usize::MAX)).unwrap();
    }
    println!(
        "write-behind commit of 1,000 changed pairs: {:?}",
        start.elapsed() / commits as u32
    );

    let mut c = Criterion::default()
        .configure_from_args()
        .measurement_time(Duration::from_secs(2));
    c.bench_function("contacts/memory_read_and_count", |b| {
        b.iter(|| {
            black_box(book.state("s1@xmpp.test", "alice@sip.test"));
            black_box(book.count_unaccepted("s1@xmpp.test", "alice@sip.test", 1));
        })
    });
    c.final_summary();
    drop(store);
    let _ = std::fs::remove_dir_all(db.parent().unwrap());
}
