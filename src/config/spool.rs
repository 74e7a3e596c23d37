//! `[spool]`: the durable store-and-forward spool for messages whose peer cannot take them now.

use serde::Deserialize;

use super::{ConfigError, invalid};

/// `[spool]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpoolConfig {
    /// How long a spooled message may wait for its peer before it is bounced to its sender,
    /// counted from when it was accepted (it survives restarts: the deadline is wall-clock).
    #[serde(default = "default_deadline_ms")]
    pub deadline_ms: u64,
    /// Most messages held at once; a message arriving when the spool is full is refused
    /// (SIP 503, XMPP `resource-constraint`).
    #[serde(default = "default_max_messages")]
    pub max_messages: usize,
    /// First delay before a failed delivery is tried again; it doubles up to `retry_max_ms`.
    #[serde(default = "default_retry_initial_ms")]
    pub retry_initial_ms: u64,
    /// Longest delay between delivery attempts.
    #[serde(default = "default_retry_max_ms")]
    pub retry_max_ms: u64,
}

impl Default for SpoolConfig {
    fn default() -> Self {
        SpoolConfig {
            deadline_ms: default_deadline_ms(),
            max_messages: default_max_messages(),
            retry_initial_ms: default_retry_initial_ms(),
            retry_max_ms: default_retry_max_ms(),
        }
    }
}

fn default_deadline_ms() -> u64 {
    24 * 3600 * 1000
}

fn default_max_messages() -> usize {
    100_000
}

fn default_retry_initial_ms() -> u64 {
    1000
}

fn default_retry_max_ms() -> u64 {
    60_000
}

impl SpoolConfig {
    /// Reject values that would make the spool useless.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.deadline_ms == 0 {
            return Err(invalid("spool.deadline_ms", "must be more than 0"));
        }
        if self.max_messages == 0 {
            return Err(invalid("spool.max_messages", "must be more than 0"));
        }
        if self.retry_initial_ms == 0 || self.retry_max_ms < self.retry_initial_ms {
            return Err(invalid(
                "spool.retry_max_ms",
                "retry_initial_ms must be more than 0 and at most retry_max_ms",
            ));
        }
        Ok(())
    }
}
