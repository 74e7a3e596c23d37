//! The summary printed at the end of a replay: packets, messages per protocol and type, parse
//! failures with their reasons, refusals, TLS streams and streams with gaps.

use std::collections::BTreeMap;
use std::io::{self, Write};

use serde_json::{Value, json};

use super::flows::EngineStats;

/// Counters kept while messages are typed.
#[derive(Debug, Default, Clone)]
pub(crate) struct MessageStats {
    /// Messages by protocol, then type (`MESSAGE`, `200`, `message:chat`, `open`…).
    pub types: BTreeMap<&'static str, BTreeMap<String, u64>>,
    /// Parse failures by protocol and reason.
    pub parse_failures: BTreeMap<String, u64>,
    /// Messages the bridge would refuse, by direction and reason.
    pub refused: BTreeMap<String, u64>,
    /// Translations produced, by direction.
    pub translated: BTreeMap<&'static str, u64>,
}

impl MessageStats {
    /// Count a message of `proto` and type `kind`.
    pub fn count(&mut self, proto: &'static str, kind: String) {
        *self
            .types
            .entry(proto)
            .or_default()
            .entry(kind)
            .or_default() += 1;
    }

    /// Count a parse failure.
    pub fn failure(&mut self, proto: &str, reason: &str) {
        *self
            .parse_failures
            .entry(format!("{proto}: {reason}"))
            .or_default() += 1;
    }

    /// Messages counted.
    pub fn messages(&self) -> u64 {
        self.types.values().flat_map(|m| m.values()).sum()
    }
}

/// Everything the summary says.
#[derive(Debug, Clone)]
pub struct Summary {
    pub(crate) files: Vec<(String, Result<u64, String>)>,
    pub(crate) engine: EngineStats,
    pub(crate) messages: MessageStats,
}

impl Summary {
    /// Messages found (of every protocol).
    pub fn message_count(&self) -> u64 {
        self.messages.messages()
    }

    /// Parse failures found.
    pub fn parse_failure_count(&self) -> u64 {
        self.messages.parse_failures.values().sum()
    }

    /// Streams with missing bytes.
    pub fn gap_stream_count(&self) -> usize {
        self.engine.gaps.len()
    }

    /// Streams reported as TLS.
    pub fn tls_stream_count(&self) -> usize {
        self.engine.tls_streams.len()
    }

    /// The summary as one JSON value (keys in a fixed order, so golden files are stable).
    pub fn to_json(&self) -> Value {
        let e = &self.engine;
        let skipped: BTreeMap<&str, u64> =
            e.skipped.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        let gaps: Vec<Value> = e
            .gaps
            .iter()
            .map(|(s, n, b)| json!({ "stream": s, "gaps": n, "missing_bytes": b }))
            .collect();
        json!({ "summary": {
            "packets": e.packets,
            "capture_bytes": e.bytes,
            "packets_per_interface": e.interfaces,
            "skipped_packets": skipped,
            "tcp_connections": e.tcp_connections,
            "unclassified": e.unclassified,
            "over_flow_limit": e.over_limit,
            "duplicate_tcp_bytes": e.duplicate_bytes,
            "messages": self.messages.types,
            "parse_failures": self.messages.parse_failures,
            "refused": self.messages.refused,
            "translated": self.messages.translated,
            "tls_streams": e.tls_streams,
            "gaps": gaps,
        }})
    }

    /// The summary for a person.
    pub fn write_text(&self, out: &mut dyn Write) -> io::Result<()> {
        let e = &self.engine;
        writeln!(out, "replay summary")?;
        for (f, r) in &self.files {
            match r {
                Ok(n) => writeln!(out, "  {f}: {n} packets")?,
                Err(err) => writeln!(out, "  {f}: {err}")?,
            }
        }
        writeln!(
            out,
            "  {} packets, {} bytes, {} TCP connections",
            e.packets, e.bytes, e.tcp_connections
        )?;
        for (k, v) in &e.skipped {
            writeln!(out, "  skipped: {v} packets, {}", k.as_str())?;
        }
        if e.unclassified > 0 {
            writeln!(
                out,
                "  {} streams/datagrams neither SIP nor XMPP",
                e.unclassified
            )?;
        }
        for (proto, kinds) in &self.messages.types {
            let total: u64 = kinds.values().sum();
            let list: Vec<String> = kinds.iter().map(|(k, v)| format!("{k} {v}")).collect();
            writeln!(out, "  {proto}: {total} messages ({})", list.join(", "))?;
        }
        for (dir, n) in &self.messages.translated {
            writeln!(out, "  translated {dir}: {n}")?;
        }
        for (r, n) in &self.messages.refused {
            writeln!(out, "  refused {r}: {n}")?;
        }
        for (r, n) in &self.messages.parse_failures {
            writeln!(out, "  parse failure {r}: {n}")?;
        }
        for s in &e.tls_streams {
            writeln!(
                out,
                "  TLS: {s}: encrypted, parley cannot decrypt it (capture plain text, or decrypt the capture first)"
            )?;
        }
        for (s, n, b) in &e.gaps {
            writeln!(out, "  gaps: {s}: {n} gaps, {b} bytes missing")?;
        }
        Ok(())
    }
}
