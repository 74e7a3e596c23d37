//! Reading audit logs back: plain or gzip-compressed files, and directories of them.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The fields of an audit line that reports use.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Line {
    /// RFC 3339 time.
    pub time: String,
    /// Event type (`im`, `presence`, …).
    #[serde(rename = "type")]
    pub kind: String,
    /// Sender.
    pub from: String,
    /// Recipient.
    pub to: String,
    /// Sender's platform.
    pub source: String,
    /// Recipient's platform.
    pub destination: String,
    /// `delivered`, `refused`, `bounced` or `spooled`.
    pub outcome: String,
}

/// The files to read for `inputs`: files as given, directories expanded to the files in them
/// whose names start with `audit` (sorted).
pub fn expand(inputs: &[PathBuf]) -> io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for p in inputs {
        if p.is_dir() {
            let mut inside: Vec<PathBuf> = std::fs::read_dir(p)?
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|f| {
                    f.is_file()
                        && f.file_name()
                            .and_then(|n| n.to_str())
                            .is_some_and(|n| n.starts_with("audit"))
                })
                .collect();
            inside.sort();
            files.extend(inside);
        } else {
            files.push(p.clone());
        }
    }
    Ok(files)
}

/// Open a log, decompressing `.gz` files (by name or by magic bytes).
pub fn open(path: &Path) -> io::Result<Box<dyn BufRead>> {
    let mut f = File::open(path)?;
    let mut magic = [0u8; 2];
    let n = f.read(&mut magic)?;
    let f = {
        use std::io::Seek;
        let mut f = f;
        f.seek(io::SeekFrom::Start(0))?;
        f
    };
    if n == 2 && magic == [0x1f, 0x8b] {
        Ok(Box::new(BufReader::new(flate2::read::MultiGzDecoder::new(
            f,
        ))))
    } else {
        Ok(Box::new(BufReader::new(f)))
    }
}

/// Call `each` for every parseable line of every file; returns the count of lines that did
/// not parse.
pub fn for_each_line(files: &[PathBuf], mut each: impl FnMut(Line)) -> io::Result<usize> {
    let mut bad = 0;
    for path in files {
        let reader =
            open(path).map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        for line in reader.lines() {
            let line =
                line.map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<Line>(&line) {
                Ok(l) => each(l),
                Err(_) => bad += 1,
            }
        }
    }
    Ok(bad)
}
