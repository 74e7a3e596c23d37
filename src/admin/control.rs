//! The local admin channel: a Unix stream socket `admin.sock` in the state directory, through
//! which `parley forget`, `parley block`, `parley unblock` and `parley blocks` act on the
//! running daemon (the state file is locked while it runs).
//!
//! Why a Unix socket rather than a route on the ops HTTP listener: the ops listener is
//! optional, may be bound to a non-loopback address for Prometheus, and any local user can
//! reach a loopback TCP port. The socket is created mode 0600 in the state directory, and
//! every connection's peer credentials (SO_PEERCRED) are checked: only root and the user
//! the daemon runs as are served.
//!
//! Protocol: one request line per connection (at most [`MAX_LINE`] bytes, read within
//! [`IO_TIMEOUT`]), words separated by one space:
//! `forget ADDRESS`, `block USER SENDER`, `unblock USER SENDER`, `blocks USER`. The answer
//! is zero or more data lines, then `ok TEXT` or `error TEXT`, then the connection closes.

use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::Semaphore;
use tracing::{info, warn};

use crate::routing::Gateway;

/// Largest request line.
pub const MAX_LINE: usize = 1024;
/// Deadline for reading the request and writing the answer.
const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// Requests served at once.
const MAX_CONNECTIONS: usize = 8;
/// Most entries `blocks` lists.
const MAX_LISTED: usize = 10_000;

/// The socket's path under `state_dir`.
pub fn socket_path(state_dir: &Path) -> PathBuf {
    state_dir.join("admin.sock")
}

/// One admin request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// Erase everything stored about an address.
    Forget(String),
    /// `user` blocks `sender` (`true`) or lifts the block.
    Block(String, String, bool),
    /// List whom `user` blocked.
    Blocks(String),
}

/// A request that is not one of the four forms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRequest(pub String);

impl std::fmt::Display for BadRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Check an address given to the admin channel: `local@domain`, printable, no spaces.
pub fn check_address(a: &str) -> Result<String, BadRequest> {
    let ok = a.len() <= 512
        && !a.chars().any(|c| c.is_whitespace() || c.is_control())
        && a.rsplit_once('@')
            .is_some_and(|(l, d)| !l.is_empty() && !d.is_empty());
    if ok {
        Ok(crate::store::bare(a))
    } else {
        Err(BadRequest(format!("{a:?} is not an address (user@domain)")))
    }
}

impl Request {
    /// Parse a request line (without its line end).
    pub fn parse(line: &str) -> Result<Request, BadRequest> {
        let words: Vec<&str> = line.split(' ').collect();
        match words.as_slice() {
            ["forget", a] => Ok(Request::Forget(check_address(a)?)),
            ["block", u, s] => Ok(Request::Block(check_address(u)?, check_address(s)?, true)),
            ["unblock", u, s] => Ok(Request::Block(check_address(u)?, check_address(s)?, false)),
            ["blocks", u] => Ok(Request::Blocks(check_address(u)?)),
            _ => Err(BadRequest(
                "expected: forget ADDRESS | block USER SENDER | unblock USER SENDER | blocks USER"
                    .into(),
            )),
        }
    }

    /// The request line (without its line end).
    pub fn line(&self) -> String {
        match self {
            Request::Forget(a) => format!("forget {a}"),
            Request::Block(u, s, true) => format!("block {u} {s}"),
            Request::Block(u, s, false) => format!("unblock {u} {s}"),
            Request::Blocks(u) => format!("blocks {u}"),
        }
    }
}

/// Bind the socket (replacing a stale one), mode 0600, and serve it on the gateway's
/// tracker until shutdown.
pub fn start(gw: Arc<Gateway>, path: &Path) -> io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let listener = UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    // The socket file is ours: its owner is the user the daemon runs as.
    let own_uid = std::fs::metadata(path)?.uid();
    info!(path = %path.display(), "admin channel: forget, block, unblock, blocks");
    let owned = path.to_owned();
    let tracker = gw.tracker().clone();
    tracker.spawn(serve(listener, gw, own_uid, owned));
    Ok(())
}

async fn serve(listener: UnixListener, gw: Arc<Gateway>, own_uid: u32, path: PathBuf) {
    let cancel = gw.shutdown_token();
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
            () = cancel.cancelled() => break,
        };
        let stream = tokio::select! {
            r = listener.accept() => match r {
                Ok((s, _)) => s,
                Err(e) => {
                    warn!(error = %e, "admin channel accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = cancel.cancelled() => break,
        };
        let allowed = stream
            .peer_cred()
            .is_ok_and(|c| c.uid() == 0 || c.uid() == own_uid);
        if !allowed {
            warn!("admin channel: connection from another user refused");
            continue;
        }
        let gw = gw.clone();
        gw.tracker().clone().spawn(async move {
            let _permit = permit;
            if tokio::time::timeout(IO_TIMEOUT, answer(stream, &gw))
                .await
                .is_err()
            {
                info!("admin channel: request timed out");
            }
        });
    }
    let _ = std::fs::remove_file(path);
}

async fn answer(stream: UnixStream, gw: &Arc<Gateway>) {
    let (rd, mut wr) = stream.into_split();
    let mut line = Vec::with_capacity(128);
    let read = BufReader::new(rd)
        .take(MAX_LINE as u64 + 1)
        .read_until(b'\n', &mut line)
        .await;
    let reply = match read {
        Err(e) => format!("error {e}\n"),
        Ok(_) if line.len() > MAX_LINE || !line.ends_with(b"\n") => {
            "error request line too long or unterminated\n".to_owned()
        }
        Ok(_) => match std::str::from_utf8(&line) {
            Err(_) => "error request is not UTF-8\n".to_owned(),
            Ok(text) => match Request::parse(text.trim_end_matches(['\r', '\n'])) {
                Err(e) => format!("error {e}\n"),
                Ok(req) => execute(gw, &req).await,
            },
        },
    };
    let _ = wr.write_all(reply.as_bytes()).await;
    let _ = wr.shutdown().await;
}

/// Carry out a request on the running gateway; the answer text, ending with its `ok` or
/// `error` line.
async fn execute(gw: &Arc<Gateway>, req: &Request) -> String {
    match req {
        Request::Forget(a) => match gw.forget_address(a).await {
            Ok(n) => {
                info!("admin channel: an address was forgotten");
                format!("ok {a}: {n} records erased\n")
            }
            Err(e) => format!("error {e}\n"),
        },
        Request::Block(u, s, blocked) => match gw.set_block(u, s, *blocked).await {
            Ok(changed) => {
                let what = match (blocked, changed) {
                    (true, true) => "blocked",
                    (true, false) => "already blocked",
                    (false, true) => "unblocked",
                    (false, false) => "was not blocked",
                };
                format!("ok {u}: {s} {what}\n")
            }
            Err(e) => format!("error {e}\n"),
        },
        Request::Blocks(u) => {
            let list = gw.contacts().blocks_by(u);
            let mut out = String::new();
            for b in list.iter().take(MAX_LISTED) {
                out.push_str(b);
                out.push('\n');
            }
            out.push_str(&format!("ok {u}: {} blocked\n", list.len()));
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_parse_and_print_back() {
        for line in [
            "forget alice@sip.test",
            "block alice@sip.test mallory@xmpp.test",
            "unblock alice@sip.test mallory@xmpp.test",
            "blocks alice@sip.test",
        ] {
            assert_eq!(Request::parse(line).unwrap().line(), line);
        }
        assert_eq!(
            Request::parse("forget Alice@SIP.Test").unwrap(),
            Request::Forget("Alice@sip.test".into())
        );
        for bad in [
            "",
            "forget",
            "forget alice",
            "forget @sip.test",
            "forget alice@",
            "block alice@sip.test",
            "blocks a@b c@d",
            "drop alice@sip.test",
            "forget  alice@sip.test",
            "forget a\u{7}@sip.test",
        ] {
            assert!(Request::parse(bad).is_err(), "{bad:?}");
        }
    }
}

/// Where a CLI request was carried out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// The running daemon, through its socket.
    Daemon,
    /// The state file directly (no daemon running).
    StateFile,
}

/// Carry out `req` for the CLI: on the running daemon through its socket, or on the state
/// file when no daemon listens (new blocks then bounded by `max_blocks` there too). Returns
/// the output lines (without `ok`) and where it ran.
pub fn run_cli(
    state_dir: &Path,
    max_blocks: usize,
    req: &Request,
) -> Result<(String, Via), String> {
    let path = socket_path(state_dir);
    match ask_daemon(&path, req) {
        Ok(reply) => {
            let (body, last) = match reply.trim_end_matches('\n').rsplit_once('\n') {
                Some((body, last)) => (format!("{body}\n"), last.to_owned()),
                None => (String::new(), reply.trim_end_matches('\n').to_owned()),
            };
            match (last.strip_prefix("ok "), last.strip_prefix("error ")) {
                (Some(ok), _) => Ok((format!("{body}{ok}\n"), Via::Daemon)),
                (_, Some(e)) => Err(e.to_owned()),
                _ => Err(format!("unexpected answer from the daemon: {last:?}")),
            }
        }
        // No daemon: nobody listens on the socket (or it was never created).
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused
            ) =>
        {
            direct(&state_dir.join("state.redb"), max_blocks, req).map(|out| (out, Via::StateFile))
        }
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

fn ask_daemon(path: &Path, req: &Request) -> io::Result<String> {
    use std::io::{Read, Write};
    let mut s = std::os::unix::net::UnixStream::connect(path)?;
    s.set_read_timeout(Some(IO_TIMEOUT * 2))?;
    s.set_write_timeout(Some(IO_TIMEOUT))?;
    s.write_all(format!("{}\n", req.line()).as_bytes())?;
    let mut reply = String::new();
    s.take(16 * 1024 * 1024).read_to_string(&mut reply)?;
    if reply.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the daemon closed the admin channel without an answer",
        ));
    }
    Ok(reply)
}

/// The same requests on the state file (the daemon is not running).
fn direct(db: &Path, max_blocks: usize, req: &Request) -> Result<String, String> {
    use crate::store::{RedbStore, Store};
    let store = RedbStore::open(db).map_err(|e| {
        format!(
            "{}: {e} (the daemon holds it, but its admin channel did not answer)",
            db.display()
        )
    })?;
    let blocks_by = |u: &str| -> Result<Vec<String>, String> {
        let mut v: Vec<String> = (store.contacts().map_err(|e| e.to_string())?.blocks)
            .into_iter()
            .filter(|(by, _)| by == u)
            .map(|(_, of)| of)
            .collect();
        v.sort();
        Ok(v)
    };
    match req {
        Request::Forget(a) => {
            let n = store.forget(a).map_err(|e| e.to_string())?;
            Ok(format!("{a}: {n} records erased\n"))
        }
        Request::Block(u, s, blocked) => {
            let was = blocks_by(u)?.contains(s);
            if *blocked && !was {
                let held = store.contacts().map_err(|e| e.to_string())?.blocks.len();
                if held >= max_blocks {
                    return Err(crate::store::StoreError::Full {
                        what: "blocks",
                        max: max_blocks,
                    }
                    .to_string());
                }
            }
            store
                .set_blocked(u, s, *blocked)
                .map_err(|e| e.to_string())?;
            let what = match (blocked, was) {
                (true, false) => "blocked",
                (true, true) => "already blocked",
                (false, true) => "unblocked",
                (false, false) => "was not blocked",
            };
            Ok(format!("{u}: {s} {what}\n"))
        }
        Request::Blocks(u) => {
            let list = blocks_by(u)?;
            let mut out: String = list.iter().map(|b| format!("{b}\n")).collect();
            out.push_str(&format!("{u}: {} blocked\n", list.len()));
            Ok(out)
        }
    }
}
