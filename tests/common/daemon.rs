//! The `parley` binary as a test runs it: started on loopback with its own config, state
//! directory and test PKI, its stderr collected line by line, its listening addresses read from
//! the log, and its admin `/metrics` endpoint scraped.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A running `parley run --config FILE`, killed when dropped.
pub struct Daemon {
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
    /// SIP over TLS listener.
    pub sip: SocketAddr,
    /// XMPP s2s listener (STARTTLS).
    pub xmpp: SocketAddr,
    /// XMPP s2s listener (direct TLS), when configured.
    pub xmpp_tls: Option<SocketAddr>,
    /// The admin server (`/metrics`).
    pub admin: SocketAddr,
}

impl Daemon {
    /// Start the binary and wait until it is ready.
    pub async fn start(config: &Path) -> Daemon {
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
        let mut d = Daemon {
            child,
            log,
            sip: "0.0.0.0:0".parse().unwrap(),
            xmpp: "0.0.0.0:0".parse().unwrap(),
            xmpp_tls: None,
            admin: "0.0.0.0:0".parse().unwrap(),
        };
        d.wait_for("parley ready", 0).await;
        d.sip = addr_in(&d.wait_for("listening: SIP over TLS", 0).await.1);
        d.xmpp = addr_in(&d.wait_for("(STARTTLS)", 0).await.1);
        d.admin = addr_in(&d.wait_for("admin server:", 0).await.1);
        d.xmpp_tls = d.find("(direct TLS)").map(|l| addr_in(&l));
        d
    }

    fn find(&self, needle: &str) -> Option<String> {
        let log = self.log.lock().unwrap();
        log.iter().find(|l| l.contains(needle)).cloned()
    }

    /// Wait for a log line containing `needle` (counting from line `from`); its index.
    pub async fn wait_for(&self, needle: &str, from: usize) -> (usize, String) {
        for _ in 0..400 {
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

    /// Lines logged so far.
    pub fn log_lines(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    /// The process is still running.
    pub fn alive(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// The `/metrics` text.
    pub async fn metrics(&self) -> String {
        let mut s = tokio::net::TcpStream::connect(self.admin).await.unwrap();
        s.write_all(b"GET /metrics HTTP/1.1\r\nHost: parley\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut out = Vec::new();
        tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out))
            .await
            .expect("metrics within 10 s")
            .unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("HTTP/1.1 200"), "{text}");
        text
    }

    /// The sum of every series of `name` whose labels include all of `labels`.
    pub async fn sample(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        sample(&self.metrics().await, name, labels)
    }
}

/// The sum of every series of `name` in `text` whose labels include all of `labels`.
pub fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            let (n, rest) = match series.find('{') {
                Some(i) => (&series[..i], &series[i..]),
                None => (series, ""),
            };
            if n != name {
                return None;
            }
            let all = labels
                .iter()
                .all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")));
            all.then(|| value.parse::<f64>().ok()).flatten()
        })
        .sum()
}

impl Daemon {
    /// SIGKILL the daemon and reap it (a crash: nothing is flushed or closed).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The address after `addr=` in a log line.
pub fn addr_in(line: &str) -> SocketAddr {
    let at = line.find("addr=").expect("addr= in the line") + 5;
    line[at..]
        .split_whitespace()
        .next()
        .unwrap()
        .trim_end_matches(',')
        .parse()
        .unwrap()
}
