//! Raw byte-level peers for hostile input: connect, write arbitrary bytes (not necessarily
//! UTF-8), and read whatever comes back until the peer closes or a deadline passes.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{Notify, mpsc};

/// What a peer saw after sending: the bytes (lossily as text) and whether the connection
/// was closed by parley within the deadline.
#[derive(Debug, Clone, Default)]
pub struct Seen {
    pub text: String,
    pub closed: bool,
}

/// Write `bytes` (flushing).
pub async fn write<S: AsyncWrite + Unpin>(io: &mut S, bytes: &[u8]) -> std::io::Result<()> {
    io.write_all(bytes).await?;
    io.flush().await
}

/// Read until the peer closes, `done(text)` holds, or `wait` passes.
pub async fn read_until<S: AsyncRead + Unpin>(
    io: &mut S,
    wait: Duration,
    done: impl Fn(&str) -> bool,
) -> Seen {
    let mut buf = Vec::new();
    let deadline = tokio::time::Instant::now() + wait;
    let mut chunk = [0u8; 8192];
    loop {
        let text = String::from_utf8_lossy(&buf).into_owned();
        if done(&text) {
            return Seen {
                text,
                closed: false,
            };
        }
        match tokio::time::timeout_at(deadline, io.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                return Seen { text, closed: true };
            }
            Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
            Err(_) => {
                return Seen {
                    text,
                    closed: false,
                };
            }
        }
    }
}

/// The status lines ("513 Message Too Large") of the SIP responses in `text`, in order.
pub fn sip_statuses(text: &str) -> Vec<String> {
    text.split("\r\n")
        .filter_map(|l| l.strip_prefix("SIP/2.0 "))
        .map(str::to_owned)
        .collect()
}

/// Everything a stand-in peer received, kept so that concurrent cases can each find their own
/// message (by a token in it).
#[derive(Clone, Default)]
pub struct Mailbox {
    items: Arc<Mutex<Vec<String>>>,
    arrived: Arc<Notify>,
}

impl Mailbox {
    /// Drain a stand-in's channel into a mailbox.
    pub fn collect(mut rx: mpsc::Receiver<String>) -> Mailbox {
        let m = Mailbox::default();
        let sink = m.clone();
        tokio::spawn(async move {
            while let Some(item) = rx.recv().await {
                sink.items.lock().unwrap().push(item);
                sink.arrived.notify_waiters();
            }
        });
        m
    }

    /// The first item for which `pick` holds, waiting up to `wait`.
    pub async fn find(&self, wait: Duration, pick: impl Fn(&str) -> bool) -> Option<String> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let notified = self.arrived.notified();
            if let Some(hit) = self.items.lock().unwrap().iter().find(|i| pick(i)) {
                return Some(hit.clone());
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return None;
            }
        }
    }
}
