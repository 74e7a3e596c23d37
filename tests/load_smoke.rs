//! `parley-load` against the real daemon on loopback, at a small fixed rate for two seconds in
//! each direction: every message sent is delivered, the latency report is there, and a run
//! whose sink the gateway cannot reach reports every message missing. Speed is not asserted
//! here (the p99 criterion is lifted); benches/compare/compare.sh measures it.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const LOAD: &str = env!("CARGO_BIN_EXE_parley-load");
const PARLEY: &str = env!("CARGO_BIN_EXE_parley");

/// Five consecutive free loopback ports (setup lays parley and the sinks out from a base).
fn free_base(salt: u16) -> u16 {
    for i in 0..200u16 {
        let base = 20_000
            + ((std::process::id() as u16)
                .wrapping_mul(7)
                .wrapping_add(salt + i * 11)
                % 40_000);
        let free = (0..5).all(|k| TcpListener::bind(("127.0.0.1", base + k)).is_ok());
        if free {
            return base;
        }
    }
    panic!("no five consecutive free ports");
}

struct Gateway {
    child: Child,
    dir: PathBuf,
    base: u16,
}

impl Gateway {
    fn start(tag: &str, salt: u16) -> Gateway {
        let dir =
            std::env::temp_dir().join(format!("parley-load-smoke-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let base = free_base(salt);
        let out = Command::new(LOAD)
            .args(["setup", "--dir"])
            .arg(&dir)
            .args(["--base-port", &base.to_string()])
            .output()
            .unwrap();
        assert!(out.status.success(), "setup: {out:?}");
        let child = Command::new(PARLEY)
            .args(["run", "--config"])
            .arg(dir.join("parley.toml"))
            .env_remove("RUST_LOG")
            .env_remove("NOTIFY_SOCKET")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let gw = Gateway { child, dir, base };
        let sip: SocketAddr = ([127, 0, 0, 1], base).into();
        let t0 = Instant::now();
        while TcpStream::connect(sip).is_err() {
            assert!(
                t0.elapsed() < Duration::from_secs(20),
                "parley did not listen on {sip}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        gw
    }

    fn addr(&self, offset: u16) -> String {
        format!("127.0.0.1:{}", self.base + offset)
    }

    /// Run parley-load `mode` with `sink` at 200 messages/s for 2 s, JSON report.
    fn load(&self, mode: &str, target: u16, sink: String) -> (Output, Vec<Value>) {
        let out = Command::new(LOAD)
            .arg(mode)
            .arg("--pki")
            .arg(&self.dir)
            .args(["--target", &self.addr(target), "--sink", &sink])
            .args([
                "--rate",
                "200",
                "--duration",
                "2",
                "--drain",
                "5",
                "--conns",
                "2",
            ])
            .args(["--max-p99-ms", "60000", "--json"])
            .args(["--pid", &self.child.id().to_string()])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let lines = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}\n{out:?}")))
            .collect();
        (out, lines)
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The one measurement row of a report.
fn row(lines: &[Value]) -> &Value {
    let rows: Vec<&Value> = lines.iter().filter(|l| l.get("sent").is_some()).collect();
    assert_eq!(rows.len(), 1, "{lines:#?}");
    rows[0]
}

fn n(v: &Value, key: &str) -> u64 {
    v[key].as_u64().unwrap_or_else(|| panic!("{key} in {v}"))
}

fn assert_all_delivered(out: &Output, lines: &[Value], expects_responses: bool) {
    let r = row(lines);
    let sent = n(r, "sent");
    assert!(sent >= 100, "a 2 s run at 200/s sends hundreds: {r}");
    assert_eq!(n(r, "delivered"), sent, "{r}");
    assert_eq!(n(r, "missing"), 0, "{r}");
    assert_eq!(n(r, "failures"), 0, "{r}");
    if expects_responses {
        assert_eq!(r["responses"]["2xx"].as_u64(), Some(sent), "{r}");
    }
    for q in ["p50", "p90", "p99", "p99_9", "max"] {
        let ms = r["latency_ms"][q]
            .as_f64()
            .unwrap_or_else(|| panic!("latency {q}: {r}"));
        assert!(ms > 0.0, "{q} {ms}: {r}");
    }
    let l = &r["latency_ms"];
    assert!(
        l["p50"].as_f64() <= l["p99"].as_f64() && l["p99"].as_f64() <= l["max"].as_f64(),
        "{r}"
    );
    assert!(n(r, "gateway_rss_kib") > 0, "parley's RSS read: {r}");
    // The exit status also reflects whether the offered rate was kept up, which depends on the
    // machine; only the stderr (errors) is checked here.
    assert!(out.stderr.is_empty(), "{out:?}");
}

#[test]
fn sip_to_xmpp_and_back_deliver_everything_sent_with_a_latency_report() {
    let gw = Gateway::start("both", 0);
    let (out, lines) = gw.load("sip-to-xmpp", 0, gw.addr(2));
    assert_all_delivered(&out, &lines, true);
    let (out, lines) = gw.load("xmpp-to-sip", 1, gw.addr(3));
    assert_all_delivered(&out, &lines, false);
}

#[test]
fn messages_the_gateway_cannot_deliver_are_reported_missing() {
    let gw = Gateway::start("lost", 5000);
    // The sink listens where parley does not deliver: nothing reaches it.
    let elsewhere = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let (out, lines) = gw.load("sip-to-xmpp", 0, elsewhere.to_string());
    let r = row(&lines);
    let sent = n(r, "sent");
    assert!(sent >= 100, "{r}");
    assert_eq!(n(r, "delivered"), 0, "{r}");
    assert_eq!(n(r, "missing"), sent, "{r}");
    assert_eq!(r["first_missing"].as_array().map(Vec::len), Some(10), "{r}");
    assert_eq!(r["sustained"], Value::Bool(false), "{r}");
    assert!(!out.status.success(), "a lossy run fails: {out:?}");
}
