//! `--check GOLDEN`: translate, compare with a golden file line by line, print a unified
//! diff of the differences and exit non-zero when there are any.

use std::io::Write;
use std::path::Path;

use similar::TextDiff;

use super::{EXIT_DIFFERENCES, EXIT_IOERR, EXIT_NOINPUT, ReplayOptions};

/// Run the check; returns the exit status.
pub(crate) fn run(opts: &ReplayOptions, golden: &Path, out: &mut dyn Write) -> u8 {
    let expected = match std::fs::read_to_string(golden) {
        Ok(s) => s,
        Err(e) => {
            let _ = writeln!(out, "cannot read golden file {}: {e}", golden.display());
            return EXIT_NOINPUT;
        }
    };
    let mut actual = Vec::new();
    let status = super::translate(opts, &mut actual);
    if status == EXIT_IOERR {
        return status;
    }
    let actual = String::from_utf8_lossy(&actual);
    let result = if expected == actual {
        writeln!(
            out,
            "ok: {} lines match {}",
            actual.lines().count(),
            golden.display()
        )
        .map(|()| status)
    } else {
        let diff = TextDiff::from_lines(expected.as_str(), actual.as_ref());
        let changed = diff
            .ops()
            .iter()
            .filter(|op| !matches!(op, similar::DiffOp::Equal { .. }))
            .count();
        let golden_name = golden.display().to_string();
        writeln!(
            out,
            "{changed} differences from {golden_name} (- golden, + replay):"
        )
        .and_then(|()| {
            write!(
                out,
                "{}",
                diff.unified_diff()
                    .context_radius(1)
                    .header(&golden_name, "replay")
            )
        })
        .map(|()| EXIT_DIFFERENCES.max(status))
    };
    result.unwrap_or(EXIT_IOERR)
}
