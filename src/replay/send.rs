//! `--send`.
use std::io::Write;

use super::{ReplayOptions, SendOptions};

/// Run.
pub(crate) fn run(_opts: &ReplayOptions, _send: &SendOptions, _out: &mut dyn Write) -> u8 {
    0
}
