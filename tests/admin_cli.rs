//! `parley forget`, `block`, `unblock` and `blocks` against the real binary: on the running
//! daemon through its admin socket (the state file is locked then), and on the state file
//! when no daemon runs. A block set while the daemon runs is honoured at once, committed
//! before the command returns (it survives a `kill -9` right after), and lifted by `unblock`.

#[allow(dead_code)]
mod common {
    #[path = "spool_daemon.rs"]
    pub mod daemon;
    pub mod peers;
    pub mod pki;
}

use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use common::daemon::Daemon;
use common::peers::*;
use common::pki::Pki;
use tokio::time::timeout;

const T: Duration = Duration::from_secs(10);

fn config_text(pki: &Pki, xmpp_hop: SocketAddr, sip_hop: SocketAddr, consent: u32) -> String {
    let d = pki.dir.display();
    let domains = pki.domains_toml(xmpp_hop, sip_hop);
    format!(
        r#"
state_dir = "{d}/state"
[log]
level = "info"
[tls]
ca_file = "{d}/ca.crt"
[sip]
listen_tls = ["127.0.0.1:0"]
bounce_window_ms = 100
[xmpp]
listen = ["127.0.0.1:0"]
connect_timeout_ms = 2000
delivery_timeout_ms = 3000
[policy.consent]
max_unaccepted = {consent}
[policy.limits]
domain_rate = 0
sender_rate = 0
{domains}
"#
    )
}

fn parley(config: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_parley"))
        .args(args)
        .arg("--config")
        .arg(config)
        .env_remove("RUST_LOG")
        .output()
        .unwrap()
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Run a CLI command that must succeed; returns its stdout and whether the daemon did it.
fn ok(config: &Path, args: &[&str]) -> (String, bool) {
    let o = parley(config, args);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{args:?}: {out}{err}");
    (out, err.contains("done by the running daemon"))
}

/// Send one SIP MESSAGE bob → juliet; returns the status code.
async fn send(
    ua: &mut Text<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>,
    n: u32,
) -> u16 {
    let call_id = format!("admin-{n}@sip.test");
    ua.send(&sip_message(
        "bob@sip.test",
        "juliet@xmpp.test",
        &call_id,
        &format!("hello {n}"),
    ))
    .await;
    let resp = timeout(T, read_sip(ua)).await.unwrap();
    resp[8..11].parse().unwrap()
}

#[tokio::test]
async fn block_unblock_and_forget_act_on_the_running_daemon_and_on_the_state_file() {
    let pki = Pki::new("admin-cli", &["sip.test", "xmpp.test"]);
    let (xmpp_hop, mut stanzas) = xmpp_server(&pki, "xmpp.test").await;
    let (sip_hop, _requests) = sip_proxy(&pki, "sip.test").await;
    let file = pki.dir.join("parley.toml");
    std::fs::write(&file, config_text(&pki, xmpp_hop, sip_hop, 10)).unwrap();
    let state = pki.dir.join("state");

    let daemon = Daemon::start(&file);
    let sip = daemon.addr("listening: SIP over TLS").await;
    daemon.wait_for("admin channel", 0).await;
    let sock = state.join("admin.sock");
    let mode = std::fs::metadata(&sock).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "only the daemon's user may connect");

    let mut ua = sip_client(&pki, sip, "sip.test", "xmpp.test").await;
    assert_eq!(send(&mut ua, 1).await, 202);
    timeout(T, stanzas.recv()).await.unwrap().unwrap();

    // Block while running: honoured for the next message, both ways.
    let (out, by_daemon) = ok(&file, &["block", "juliet@xmpp.test", "bob@SIP.test"]);
    assert!(by_daemon, "{out}");
    assert!(out.contains("bob@sip.test blocked"), "{out}");
    assert_eq!(send(&mut ua, 2).await, 403);
    let (out, by_daemon) = ok(&file, &["blocks", "juliet@xmpp.test"]);
    assert!(by_daemon);
    assert_eq!(out, "bob@sip.test\njuliet@xmpp.test: 1 blocked\n");
    let (out, _) = ok(&file, &["block", "juliet@xmpp.test", "bob@sip.test"]);
    assert!(out.contains("already blocked"), "{out}");

    // Unblock: messages cross again.
    let (out, by_daemon) = ok(&file, &["unblock", "juliet@xmpp.test", "bob@sip.test"]);
    assert!(by_daemon && out.contains("unblocked"), "{out}");
    assert_eq!(send(&mut ua, 3).await, 202);
    timeout(T, stanzas.recv()).await.unwrap().unwrap();

    // A block is committed before the command returns: it survives kill -9 right after.
    ok(&file, &["block", "juliet@xmpp.test", "mallory@sip.test"]);
    daemon.kill9();
    let (out, by_daemon) = ok(&file, &["blocks", "juliet@xmpp.test"]);
    assert!(!by_daemon, "no daemon: the state file");
    assert_eq!(out, "mallory@sip.test\njuliet@xmpp.test: 1 blocked\n");

    // Restarted: forget erases bob's consent and juliet's block of mallory.
    let daemon = Daemon::start(&file);
    let sip = daemon.addr("listening: SIP over TLS").await;
    daemon.wait_for("admin channel", 0).await;
    let mut ua = sip_client(&pki, sip, "sip.test", "xmpp.test").await;
    assert_eq!(send(&mut ua, 4).await, 202, "the stale socket was replaced");
    timeout(T, stanzas.recv()).await.unwrap().unwrap();
    let (out, by_daemon) = ok(&file, &["forget", "juliet@xmpp.test"]);
    assert!(by_daemon, "{out}");
    // bob's count as a stranger to juliet, bob's acceptance of juliet, the block.
    assert!(out.contains("juliet@xmpp.test: 3 records erased"), "{out}");
    let (out, _) = ok(&file, &["blocks", "juliet@xmpp.test"]);
    assert_eq!(out, "juliet@xmpp.test: 0 blocked\n");

    // Bad input: refused before anything is touched.
    let o = parley(&file, &["block", "juliet", "bob@sip.test"]);
    assert_eq!(o.status.code(), Some(64), "{o:?}");

    daemon.signal("-TERM");
    daemon.wait_for("stopped", 0).await;
    // Nothing about juliet is left on disk.
    let (out, by_daemon) = ok(&file, &["forget", "juliet@xmpp.test"]);
    assert!(!by_daemon);
    assert!(out.contains("juliet@xmpp.test: 0 records erased"), "{out}");
    drop(daemon);
    let _ = std::fs::remove_dir_all(&pki.dir);
}

#[tokio::test]
async fn consent_counters_committed_before_a_kill_9_hold_after_the_restart() {
    let pki = Pki::new("admin-cli-counts", &["sip.test", "xmpp.test"]);
    let (xmpp_hop, mut stanzas) = xmpp_server(&pki, "xmpp.test").await;
    let (sip_hop, _requests) = sip_proxy(&pki, "sip.test").await;
    let file = pki.dir.join("parley.toml");
    std::fs::write(&file, config_text(&pki, xmpp_hop, sip_hop, 3)).unwrap();

    let daemon = Daemon::start(&file);
    let sip = daemon.addr("listening: SIP over TLS").await;
    daemon.wait_for("admin channel", 0).await;
    let mut ua = sip_client(&pki, sip, "sip.test", "xmpp.test").await;
    // bob is a stranger to juliet: 2 of his 3 messages used.
    for n in 1..=2 {
        assert_eq!(send(&mut ua, n).await, 202);
        timeout(T, stanzas.recv()).await.unwrap().unwrap();
    }
    // Any block commits every change made so far (the writer's group commit).
    ok(&file, &["block", "carol@xmpp.test", "mallory@sip.test"]);
    daemon.kill9();

    let daemon = Daemon::start(&file);
    let sip = daemon.addr("listening: SIP over TLS").await;
    let mut ua = sip_client(&pki, sip, "sip.test", "xmpp.test").await;
    assert_eq!(send(&mut ua, 3).await, 202, "the third of three");
    timeout(T, stanzas.recv()).await.unwrap().unwrap();
    assert_eq!(
        send(&mut ua, 4).await,
        403,
        "the count survived the kill -9"
    );
    daemon.signal("-TERM");
    daemon.wait_for("stopped", 0).await;
    drop(daemon);
    let _ = std::fs::remove_dir_all(&pki.dir);
}

async fn send_as(
    ua: &mut Text<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>,
    from: &str,
    n: u32,
) -> u16 {
    let call_id = format!("spool-{n}@sip.test");
    ua.send(&sip_message(
        from,
        "juliet@xmpp.test",
        &call_id,
        &format!("m{n}"),
    ))
    .await;
    let resp = timeout(T, read_sip(ua)).await.unwrap();
    resp[8..11].parse().unwrap()
}

#[tokio::test]
async fn forget_on_the_running_daemon_drops_spooled_messages_too() {
    let pki = Pki::new("admin-cli-spool", &["sip.test", "xmpp.test"]);
    let xmpp_hop = port_for_later();
    let (sip_hop, _requests) = sip_proxy(&pki, "sip.test").await;
    let file = pki.dir.join("parley.toml");
    let text = config_text(&pki, xmpp_hop, sip_hop, 10)
        + "[spool]\nretry_initial_ms = 200\nretry_max_ms = 400\n";
    std::fs::write(&file, text).unwrap();

    let daemon = Daemon::start(&file);
    let sip = daemon.addr("listening: SIP over TLS").await;
    daemon.wait_for("admin channel", 0).await;
    let mut ua = sip_client(&pki, sip, "sip.test", "xmpp.test").await;
    // The XMPP peer is down: the first message fails at the pool's deadline, later ones
    // are spooled (202 once committed).
    assert!(send_as(&mut ua, "alice@sip.test", 0).await >= 300);
    for n in 1..=2 {
        assert_eq!(send_as(&mut ua, "bob@sip.test", n).await, 202);
    }
    let (out, by_daemon) = ok(&file, &["forget", "bob@sip.test"]);
    assert!(by_daemon, "{out}");
    // The two spooled records, bob's count as a stranger, bob's acceptance of juliet.
    assert!(out.contains("bob@sip.test: 4 records erased"), "{out}");

    // The peer comes back; a later message of the same pair of domains is delivered, and
    // nothing of bob's went before it (the spool keeps a pair's order): not even the copies
    // the spool had handed to the XMPP pool, which was still trying to reconnect.
    let (_, mut stanzas) = xmpp_server_at(&pki, "xmpp.test", xmpp_hop).await;
    assert_eq!(send_as(&mut ua, "carol@sip.test", 3).await, 202);
    let first = timeout(T, stanzas.recv()).await.unwrap().unwrap();
    assert!(first.contains("from='carol@sip.test'"), "{first}");
    assert!(!first.contains("bob@"), "{first}");
    daemon.signal("-TERM");
    daemon.wait_for("stopped", 0).await;
    drop(daemon);
    let _ = std::fs::remove_dir_all(&pki.dir);
}

/// With no daemon the CLI writes the state file itself, and keeps `policy.max_blocks` there
/// too: a new block past the bound is refused, lifting one and repeating one still work.
#[test]
fn blocks_on_the_state_file_keep_the_bound() {
    let pki = Pki::new("admin-cli-bound", &["sip.test", "xmpp.test"]);
    let addr: SocketAddr = "127.0.0.1:9".parse().unwrap();
    let file = pki.dir.join("parley.toml");
    let toml = config_text(&pki, addr, addr, 10).replace(
        "[policy.consent]",
        "[policy]\nmax_blocks = 2\n[policy.consent]",
    );
    std::fs::write(&file, toml).unwrap();
    ok(&file, &["block", "juliet@xmpp.test", "a@sip.test"]);
    ok(&file, &["block", "romeo@xmpp.test", "b@sip.test"]);
    let o = parley(&file, &["block", "juliet@xmpp.test", "c@sip.test"]);
    let (out, err) = text(&o);
    assert!(!o.status.success(), "{out}{err}");
    assert!(err.contains("at most 2 blocks"), "{err}");
    let (out, _) = ok(&file, &["block", "juliet@xmpp.test", "a@sip.test"]);
    assert!(out.contains("already blocked"), "{out}");
    ok(&file, &["unblock", "romeo@xmpp.test", "b@sip.test"]);
    let (out, by_daemon) = ok(&file, &["block", "juliet@xmpp.test", "c@sip.test"]);
    assert!(!by_daemon && out.contains("c@sip.test blocked"), "{out}");
    let _ = std::fs::remove_dir_all(&pki.dir);
}
