//! Policy against a running gateway: consent for strangers end to end (in process, with the
//! stand-in peers of `common/peers.rs`), SIGHUP reload of the `parley` binary itself, and
//! `parley forget`.

// Shared with tests/gateway.rs, which uses every helper; this binary uses some.
#[allow(dead_code)]
mod common {
    pub mod peers;
    pub mod pki;
}

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::peers::*;
use common::pki::Pki;
use parley::app::App;
use parley::config::Config;
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;

fn config_text(pki: &Pki, xmpp_hop: SocketAddr, sip_hop: SocketAddr, policy: &str) -> String {
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
bounce_window_ms = 300
[xmpp]
listen = ["127.0.0.1:0"]
connect_timeout_ms = 2000
delivery_timeout_ms = 3000
{domains}
{policy}
"#
    )
}

fn pki(tag: &str) -> Pki {
    Pki::new(&format!("policy-{tag}"), &["sip.test", "xmpp.test"])
}

#[tokio::test]
async fn the_eleventh_message_from_a_stranger_is_refused_until_the_recipient_replies() {
    let pki = pki("consent");
    let (xmpp_hop, mut stanzas) = xmpp_server(&pki, "xmpp.test").await;
    let (sip_hop, mut requests) = sip_proxy(&pki, "sip.test").await;
    let config = Config::parse(&config_text(&pki, xmpp_hop, sip_hop, "")).unwrap();
    config.validate().unwrap();
    let cancel = CancellationToken::new();
    let app = App::build(config, cancel.clone()).await.unwrap();
    let (sip, xmpp, _) = app.local_addrs();
    let done = tokio::spawn(app.run(Duration::from_secs(5)));

    let mut peer = xmpp_initiator(&pki, xmpp[0], "xmpp.test", "sip.test").await;
    let send = |n: u32| {
        format!(
            "<message from='juliet@xmpp.test/b' to='bob@sip.test' type='chat' id='s{n}'><body>hello {n}</body></message>"
        )
    };
    for n in 1..=10 {
        peer.send(&send(n)).await;
        let req = timeout(T, requests.recv()).await.unwrap().unwrap();
        assert!(req.ends_with(&format!("hello {n}")), "message {n}: {req}");
    }
    peer.send(&send(11)).await;
    let refusal = timeout(T, stanzas.recv()).await.unwrap().unwrap();
    assert_eq!(attr(&refusal, "type"), Some("error"), "{refusal}");
    assert_eq!(attr(&refusal, "id"), Some("s11"), "{refusal}");
    assert!(refusal.contains("<policy-violation"), "{refusal}");
    assert!(
        refusal.contains("Recipient Has Not Accepted You Yet"),
        "{refusal}"
    );
    // Bob replies from SIP: that accepts juliet.
    let mut ua = sip_client(&pki, sip[0], "sip.test", "xmpp.test").await;
    ua.send(&sip_message(
        "bob@sip.test",
        "juliet@xmpp.test",
        "r1@host",
        "who is this?",
    ))
    .await;
    let reply = timeout(T, stanzas.recv()).await.unwrap().unwrap();
    assert!(reply.contains("<body>who is this?</body>"), "{reply}");
    assert!(read_sip(&mut ua).await.starts_with("SIP/2.0 202 "));
    peer.send(&send(12)).await;
    let req = timeout(T, requests.recv()).await.unwrap().unwrap();
    assert!(req.ends_with("hello 12"), "{req}");

    // The SIP side is held to the same rule (limit 10 applies to carol, a new stranger).
    for n in 1..=10 {
        ua.send(&sip_message(
            "carol@sip.test",
            "romeo@xmpp.test",
            &format!("c{n}@host"),
            "hi",
        ))
        .await;
        timeout(T, stanzas.recv()).await.unwrap().unwrap();
        let resp = read_sip(&mut ua).await;
        assert!(resp.starts_with("SIP/2.0 202 "), "message {n}: {resp}");
    }
    ua.send(&sip_message(
        "carol@sip.test",
        "romeo@xmpp.test",
        "c11@host",
        "hi",
    ))
    .await;
    let resp = read_sip(&mut ua).await;
    assert!(
        resp.starts_with("SIP/2.0 403 Recipient Has Not Accepted You Yet\r\n"),
        "{resp}"
    );
    cancel.cancel();
    assert!(
        timeout(Duration::from_secs(8), done)
            .await
            .unwrap()
            .unwrap()
    );
}

/// The `parley` binary, its stderr collected line by line.
struct Daemon {
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
}

impl Daemon {
    fn start(config: &std::path::Path) -> Daemon {
        let mut child = Command::new(env!("CARGO_BIN_EXE_parley"))
            .args(["run", "--config"])
            .arg(config)
            .env_remove("RUST_LOG")
            .env_remove("NOTIFY_SOCKET")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let (stderr, sink) = (child.stderr.take().unwrap(), log.clone());
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        Daemon { child, log }
    }

    /// Wait for a log line containing `needle` (counting from line `from`); its index.
    async fn wait_for(&self, needle: &str, from: usize) -> (usize, String) {
        for _ in 0..200 {
            if let Some((i, l)) = self
                .log
                .lock()
                .unwrap()
                .iter()
                .enumerate()
                .skip(from)
                .find(|(_, l)| l.contains(needle))
            {
                return (i, l.clone());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no log line {needle:?}: {:#?}", self.log.lock().unwrap());
    }

    fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill {sig}");
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn addr_in(line: &str) -> SocketAddr {
    let at = line.find("addr=").expect("addr= in the line") + 5;
    line[at..]
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn sighup_applies_a_new_allow_list_and_keeps_the_old_config_when_the_new_one_is_broken() {
    let pki = pki("sighup");
    let (xmpp_hop, mut stanzas) = xmpp_server(&pki, "xmpp.test").await;
    let sip_hop = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let file = pki.dir.join("parley.toml");
    let deny_all = "[policy.federation]\ndefault = \"deny\"\n";
    std::fs::write(&file, config_text(&pki, xmpp_hop, sip_hop, deny_all)).unwrap();
    let daemon = Daemon::start(&file);
    let (_, line) = daemon.wait_for("listening: SIP over TLS", 0).await;
    let sip = addr_in(&line);
    daemon.wait_for("parley ready", 0).await;

    let mut ua = sip_client(&pki, sip, "sip.test", "xmpp.test").await;
    let msg = |n: u32| {
        sip_message(
            "alice@sip.test",
            "juliet@xmpp.test",
            &format!("h{n}@host"),
            "hi",
        )
    };
    ua.send(&msg(1)).await;
    let resp = read_sip(&mut ua).await;
    assert!(
        resp.starts_with("SIP/2.0 403 Federation With This Domain Not Allowed"),
        "{resp}"
    );

    // A new allow list: the same connection now gets through.
    let allow = "[policy.federation]\ndefault = \"deny\"\nallow = [{ local = \"sip.test\", remote = \"xmpp.test\" }]\n";
    std::fs::write(&file, config_text(&pki, xmpp_hop, sip_hop, allow)).unwrap();
    daemon.signal("-HUP");
    let (seen, _) = daemon.wait_for("configuration reloaded", 0).await;
    ua.send(&msg(2)).await;
    let stanza = timeout(T, stanzas.recv()).await.unwrap().unwrap();
    assert!(stanza.contains("<body>hi</body>"), "{stanza}");
    let resp = read_sip(&mut ua).await;
    assert!(resp.starts_with("SIP/2.0 202 "), "{resp}");

    // A broken file (that would deny everything if half-applied) is rejected; the allow list stays.
    std::fs::write(
        &file,
        format!(
            "{}\n[policy.federation\n",
            config_text(&pki, xmpp_hop, sip_hop, deny_all)
        ),
    )
    .unwrap();
    daemon.signal("-HUP");
    let (_, rejected) = daemon
        .wait_for("new configuration rejected", seen + 1)
        .await;
    assert!(rejected.contains("parley.toml"), "{rejected}");
    ua.send(&msg(3)).await;
    timeout(T, stanzas.recv()).await.unwrap().unwrap();
    let resp = read_sip(&mut ua).await;
    assert!(resp.starts_with("SIP/2.0 202 "), "{resp}");

    daemon.signal("-TERM");
    daemon.wait_for("stopped", 0).await;
}

#[test]
fn forget_erases_everything_stored_about_an_address() {
    use parley::store::{RedbStore, Store};
    let dir = std::env::temp_dir().join(format!("parley-forget-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let db = dir.join("state/state.redb");
    {
        let s = RedbStore::open(&db).unwrap();
        s.accept("alice@sip.test", "juliet@xmpp.test", 1).unwrap();
        s.set_blocked("bob@sip.test", "alice@sip.test", true)
            .unwrap();
        s.accept("bob@sip.test", "juliet@xmpp.test", 1).unwrap();
    }
    let file = dir.join("parley.toml");
    let text = format!(
        "state_dir = \"{}\"\n{}",
        dir.join("state").display(),
        parley::config::DEFAULT_CONFIG
    );
    std::fs::write(&file, text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_parley"))
        .args(["forget", "alice@SIP.test", "--config"])
        .arg(&file)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(stdout.contains("2 records erased"), "{stdout}");
    let s = RedbStore::open(&db).unwrap();
    assert!(
        !s.pair("juliet@xmpp.test", "alice@sip.test")
            .unwrap()
            .accepted
    );
    assert!(!s.pair("alice@sip.test", "bob@sip.test").unwrap().blocked);
    assert!(
        s.pair("juliet@xmpp.test", "bob@sip.test").unwrap().accepted,
        "others kept"
    );
    drop(s);
    std::fs::remove_dir_all(dir).unwrap();
}
