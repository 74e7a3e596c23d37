//! `[metrics]` and `[audit]`: the operations sections.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{ConfigError, invalid};

/// `[metrics]`: the admin HTTP server (`/metrics`, `/healthz`, `/readyz`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// Where the admin server listens; absent: no admin server, no metrics recorder.
    #[serde(default)]
    pub listen: Option<SocketAddr>,
    /// Distinct peer domains, beyond the configured ones, that get their own label value;
    /// later ones are counted as `other`.
    #[serde(default = "default_max_peer_domains")]
    pub max_peer_domains: usize,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            listen: None,
            max_peer_domains: default_max_peer_domains(),
        }
    }
}

fn default_max_peer_domains() -> usize {
    64
}

impl MetricsConfig {
    /// Checks without binding.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.max_peer_domains > 10_000 {
            return Err(invalid(
                "metrics.max_peer_domains",
                "at most 10000 (each is a time series per metric)",
            ));
        }
        Ok(())
    }
}

/// Where audit lines go.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuditOutput {
    /// No audit log.
    Off,
    /// JSON lines on standard output (journald under systemd).
    Stdout,
    /// A file with size-based rotation.
    #[default]
    File,
}

/// `[audit]`: the metadata audit log.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditConfig {
    /// `file`, `stdout` or `off`.
    #[serde(default)]
    pub output: AuditOutput,
    /// The file for `output = "file"`; default `<state_dir>/audit/audit.log`.
    #[serde(default)]
    pub path: Option<PathBuf>,
    /// Rotate when the file would grow past this many bytes.
    #[serde(default = "default_rotate_bytes")]
    pub rotate_bytes: u64,
    /// Rotated files kept (`audit.log.1.gz` … `audit.log.N.gz`); older ones are deleted.
    #[serde(default = "default_keep")]
    pub keep: usize,
    /// Gzip rotated files.
    #[serde(default = "default_true")]
    pub compress: bool,
    /// Records buffered between the gateway and the writer; when full, records are dropped,
    /// counted in `parley_audit_dropped_total` and logged.
    #[serde(default = "default_queue")]
    pub queue: usize,
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig {
            output: AuditOutput::default(),
            path: None,
            rotate_bytes: default_rotate_bytes(),
            keep: default_keep(),
            compress: true,
            queue: default_queue(),
        }
    }
}

fn default_rotate_bytes() -> u64 {
    100 * 1024 * 1024
}

fn default_keep() -> usize {
    30
}

fn default_true() -> bool {
    true
}

fn default_queue() -> usize {
    65_536
}

impl AuditConfig {
    /// Checks without opening the file.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.rotate_bytes < 4096 {
            return Err(invalid("audit.rotate_bytes", "must be at least 4096"));
        }
        if self.queue == 0 || self.queue > 1 << 24 {
            return Err(invalid("audit.queue", "must be between 1 and 16777216"));
        }
        if self.path.is_some() && self.output != AuditOutput::File {
            return Err(invalid("audit.path", "only used with output = \"file\""));
        }
        if let Some(p) = &self.path
            && (p.file_name().is_none() || p.is_dir())
        {
            return Err(invalid(
                "audit.path",
                format!("{} is not a file path", p.display()),
            ));
        }
        Ok(())
    }

    /// The audit file: configured, or under the state directory.
    pub fn file(&self, state_dir: &Path) -> PathBuf {
        self.path
            .clone()
            .unwrap_or_else(|| state_dir.join("audit").join("audit.log"))
    }
}
