//! The `parley` binary as a child process: started on a config file, its stderr collected
//! line by line, stopped by a signal (including `kill -9`).

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub struct Daemon {
    pub child: Child,
    pub log: Arc<Mutex<Vec<String>>>,
}

impl Daemon {
    pub fn start(config: &std::path::Path) -> Daemon {
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

    /// Wait (at most 20 s) for a log line containing `needle`, counting from line `from`.
    pub async fn wait_for(&self, needle: &str, from: usize) -> (usize, String) {
        for _ in 0..400 {
            if let Some((i, l)) = (self.log.lock().unwrap().iter().enumerate())
                .skip(from)
                .find(|(_, l)| l.contains(needle))
            {
                return (i, l.clone());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no log line {needle:?}: {:#?}", self.log.lock().unwrap());
    }

    /// The address logged on the first line containing `needle` (`addr=…`).
    pub async fn addr(&self, needle: &str) -> SocketAddr {
        let (_, line) = self.wait_for(needle, 0).await;
        let at = line.find("addr=").expect("addr= in the line") + 5;
        line[at..]
            .split_whitespace()
            .next()
            .unwrap()
            .parse()
            .unwrap()
    }

    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill {sig}");
    }

    /// `kill -9` and reap.
    pub fn kill9(mut self) {
        self.signal("-KILL");
        let _ = self.child.wait();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
