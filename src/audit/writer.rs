//! The audit writer: a thread that drains the bounded queue into standard output or a file
//! with size-based rotation.
//!
//! Rotation (`output = "file"`): before a line would take the file past `rotate_bytes`, the
//! file is closed, `audit.log.N[.gz]` become `audit.log.N+1[.gz]` (the one past `keep` is
//! deleted), `audit.log` becomes `audit.log.1` (gzip-compressed to `audit.log.1.gz` when
//! `compress` is on), and a new `audit.log` is started. Lines are flushed whenever the queue is
//! empty, so a quiet gateway's file is always complete. The thread is separate from the
//! runtime, so slow disks never stall the gateway; a full queue drops records (module docs of
//! [`crate::audit`]).

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use tokio::sync::mpsc;
use tracing::{info, warn};

use super::{Audit, AuditRecord};
use crate::config::{AuditConfig, AuditOutput};
use crate::metrics;

/// Open the configured output and start the writer thread (`parley-audit`). `Ok(disabled)`
/// when the output is `off`.
pub fn start(config: &AuditConfig, state_dir: &Path) -> io::Result<Audit> {
    let sink = match config.output {
        AuditOutput::Off => return Ok(Audit::disabled()),
        AuditOutput::Stdout => Sink::Stdout(BufWriter::new(io::stdout())),
        AuditOutput::File => {
            let path = config.file(state_dir);
            let file = RotatingFile::open(
                path.clone(),
                config.rotate_bytes,
                config.keep,
                config.compress,
            )?;
            info!(path = %path.display(), "audit log");
            Sink::File(file)
        }
    };
    let (tx, rx) = mpsc::channel(config.queue);
    std::thread::Builder::new()
        .name("parley-audit".into())
        .spawn(move || run(rx, sink))?;
    Ok(Audit::new(tx))
}

fn run(mut rx: mpsc::Receiver<AuditRecord>, mut sink: Sink) {
    let mut failing = false;
    let mut written = 0u64;
    while let Some(record) = rx.blocking_recv() {
        let result = sink.write_line(&record.to_line());
        written += 1;
        let result = result.and_then(|()| {
            if rx.is_empty() {
                metrics::audit_written(std::mem::take(&mut written));
                sink.flush()
            } else {
                Ok(())
            }
        });
        match result {
            Err(e) if !failing => {
                warn!(error = %e, "audit log write failed; retrying with the next record");
                failing = true;
            }
            Err(_) => {}
            Ok(()) if failing => {
                info!("audit log writes succeed again");
                failing = false;
            }
            Ok(()) => {}
        }
    }
    let _ = sink.flush();
}

enum Sink {
    Stdout(BufWriter<io::Stdout>),
    File(RotatingFile),
}

impl Sink {
    fn write_line(&mut self, line: &[u8]) -> io::Result<()> {
        match self {
            Sink::Stdout(w) => w.write_all(line),
            Sink::File(f) => f.write_line(line),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Sink::Stdout(w) => w.flush(),
            Sink::File(f) => f.file.flush(),
        }
    }
}

/// A file that rotates by size.
#[derive(Debug)]
pub struct RotatingFile {
    path: PathBuf,
    file: BufWriter<File>,
    size: u64,
    limit: u64,
    keep: usize,
    compress: bool,
}

impl RotatingFile {
    /// Open (append) `path`, creating its directory.
    pub fn open(
        path: PathBuf,
        limit: u64,
        keep: usize,
        compress: bool,
    ) -> io::Result<RotatingFile> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir)?;
        }
        let file = open_append(&path)?;
        let size = file.metadata()?.len();
        Ok(RotatingFile {
            path,
            file: BufWriter::new(file),
            size,
            limit,
            keep,
            compress,
        })
    }

    /// Append one line, rotating first when it would not fit.
    pub fn write_line(&mut self, line: &[u8]) -> io::Result<()> {
        if self.size > 0 && self.size + line.len() as u64 > self.limit {
            self.rotate()?;
        }
        self.file.write_all(line)?;
        self.size += line.len() as u64;
        Ok(())
    }

    /// Flush buffered lines to the file.
    pub fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }

    fn rotate(&mut self) -> io::Result<()> {
        self.file.flush()?;
        remove_if_exists(&rotated(&self.path, self.keep, false))?;
        remove_if_exists(&rotated(&self.path, self.keep, true))?;
        for k in (1..self.keep).rev() {
            for gz in [false, true] {
                let from = rotated(&self.path, k, gz);
                if from.exists() {
                    fs::rename(&from, rotated(&self.path, k + 1, gz))?;
                }
            }
        }
        if self.keep == 0 {
            fs::remove_file(&self.path)?;
        } else {
            let first = rotated(&self.path, 1, false);
            fs::rename(&self.path, &first)?;
            if self.compress {
                gzip(&first, &rotated(&self.path, 1, true))?;
                fs::remove_file(&first)?;
            }
        }
        self.file = BufWriter::new(open_append(&self.path)?);
        self.size = 0;
        Ok(())
    }
}

/// `audit.log.K` or `audit.log.K.gz`.
pub fn rotated(path: &Path, k: usize, gz: bool) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{k}"));
    if gz {
        name.push(".gz");
    }
    PathBuf::from(name)
}

fn open_append(path: &Path) -> io::Result<File> {
    let mut o = OpenOptions::new();
    o.create(true).append(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o640);
    o.open(path)
}

fn remove_if_exists(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

fn gzip(from: &Path, to: &Path) -> io::Result<()> {
    let mut input = File::open(from)?;
    let out = open_append(to)?;
    let mut enc =
        flate2::write::GzEncoder::new(BufWriter::new(out), flate2::Compression::default());
    io::copy(&mut input, &mut enc)?;
    enc.finish()?.flush()
}
