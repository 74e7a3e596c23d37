//! The built-in default configuration: everything on loopback, TLS material generated under
//! the state directory on first start.

use std::path::PathBuf;

/// The default config file, also the template shipped in `/etc/parley/parley.toml`.
pub const DEFAULT_CONFIG: &str = include_str!("../../examples/parley.toml");

/// `$XDG_DATA_HOME/parley` (or `~/.local/share/parley`), else `./parley-state`.
pub fn default_state_dir() -> PathBuf {
    dirs::data_dir()
        .map(|d| d.join("parley"))
        .unwrap_or_else(|| PathBuf::from("parley-state"))
}
