//! Prometheus metrics: every name, label and bucket set in one place.
//!
//! Names are `pub const`s with the `parley_` prefix and a unit suffix (`_total`, `_seconds`,
//! `_bytes`, or the counted thing: `_messages`, `_connections`, `_subscriptions`). Label values
//! come only from the closed enums below or from peer domain names, which [`PeerLabels`] caps:
//! configured domains always keep their name, the first `max_peer_domains` other domains seen
//! get theirs, and every later one is `other`.
//!
//! [`install`] sets the process-wide recorder, describes every metric once, and creates the
//! handles of every enum-labelled series up front (so they appear at zero and the hot path only
//! does an atomic add). The free functions ([`message`], [`policy_refusal`], …) are what call
//! sites use: one line each, a no-op before [`install`] (tools, tests).

mod contacts;
mod labels;
mod latency;
mod sip_tx;
#[cfg(test)]
mod tests;

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use ::metrics::{Counter, Gauge, Unit, counter, describe_counter, describe_gauge, gauge};
use metrics_exporter_prometheus::{BuildError, PrometheusBuilder, PrometheusHandle};

use crate::model::ErrorCondition;

pub use contacts::*;
pub use sip_tx::*;

pub use labels::{
    Direction, EventKind, Outcome, ParseReason, PeerLabels, PolicyReason, Protocol, TlsFailure,
};

/// Messages and events crossing the boundary. Labels: `direction`, `kind`, `outcome`.
pub const MESSAGES_TOTAL: &str = "parley_messages_total";
/// Time from a complete inbound message to its translation being queued. Label: `direction`.
pub const TRANSLATE_DURATION_SECONDS: &str = "parley_translate_duration_seconds";
/// Inbound bytes that did not parse. Labels: `protocol`, `reason`.
pub const PARSE_ERRORS_TOTAL: &str = "parley_parse_errors_total";
/// Messages refused by policy. Labels: `protocol` (where it came from), `reason`.
pub const POLICY_REFUSALS_TOTAL: &str = "parley_policy_refusals_total";
/// Errors parley sent (SIP responses ≥ 300, XMPP error stanzas). Labels: `protocol`, `condition`.
pub const ERRORS_SENT_TOTAL: &str = "parley_errors_sent_total";
/// Open connections. Labels: `protocol`, `direction` (`inbound`/`outbound`), `peer`.
pub const CONNECTIONS: &str = "parley_connections";
/// Messages queued for an outbound connection. Labels: `protocol`, `peer`.
pub const QUEUE_MESSAGES: &str = "parley_queue_messages";
/// Failed TLS handshakes. Labels: `protocol`, `direction`, `reason`.
pub const TLS_HANDSHAKE_FAILURES_TOTAL: &str = "parley_tls_handshake_failures_total";
/// Peer authentications. Labels: `protocol`, `method`, `outcome` (`ok`/`failed`).
pub const AUTH_TOTAL: &str = "parley_auth_total";
/// Messages in the store-and-forward spool.
pub const SPOOL_MESSAGES: &str = "parley_spool_messages";
/// Bytes in the spool.
pub const SPOOL_BYTES: &str = "parley_spool_bytes";
/// Age of the oldest spooled message.
pub const SPOOL_OLDEST_AGE_SECONDS: &str = "parley_spool_oldest_age_seconds";
/// Presence subscriptions currently active across the gateway.
pub const SUBSCRIPTIONS: &str = "parley_subscriptions";
/// Configuration reloads. Label: `outcome` (`ok`/`failed`).
pub const RELOADS_TOTAL: &str = "parley_reloads_total";
/// Always 1. Labels: `version`, `profile`.
pub const BUILD_INFO: &str = "parley_build_info";
/// Unix time the process started.
pub const START_TIME_SECONDS: &str = "parley_start_time_seconds";
/// Audit records dropped because the writer fell behind (its queue was full).
pub const AUDIT_DROPPED_TOTAL: &str = "parley_audit_dropped_total";
/// Audit lines written.
pub const AUDIT_WRITTEN_TOTAL: &str = "parley_audit_written_total";
/// Counter: inbound connections closed for carrying nothing within the idle timeout.
pub const IDLE_CLOSED_TOTAL: &str = "parley_idle_closed_total";
/// What happened to messages in the spool. Label: `event` (`spooled`, `delivered`,
/// `bounced`, `refused_full`, `store_failed`).
pub const SPOOL_EVENTS_TOTAL: &str = "parley_spool_events_total";

/// Translation latency buckets: 10 µs … 250 ms.
pub const TRANSLATE_BUCKETS: &[f64] = &latency::BOUNDS;
/// The help text of [`TRANSLATE_DURATION_SECONDS`].
const TRANSLATE_HELP: &str = "Time to translate one message and hand it to the outbound side.";

/// How peer authentication was done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    /// XMPP SASL EXTERNAL with the peer's certificate (RFC 6120 §6, XEP-0178).
    SaslExternal,
    /// XMPP Server Dialback (XEP-0220).
    Dialback,
    /// SIP mutual TLS, certificate names checked (RFC 5922).
    TlsCertificate,
}

impl AuthMethod {
    /// Every method, for pre-created handles.
    pub const ALL: [AuthMethod; 3] = [
        AuthMethod::SaslExternal,
        AuthMethod::Dialback,
        AuthMethod::TlsCertificate,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::SaslExternal => "sasl_external",
            AuthMethod::Dialback => "dialback",
            AuthMethod::TlsCertificate => "tls_certificate",
        }
    }
}

/// Settings for [`install`] (from `[metrics]`).
#[derive(Debug, Clone)]
pub struct Settings {
    /// Distinct non-configured peer domains that get their own label value.
    pub max_peer_domains: usize,
    /// Configured domain names: always their own label value.
    pub configured_domains: Vec<String>,
}

/// The installed recorder's handles.
#[derive(Debug)]
pub struct Metrics {
    messages: Vec<Counter>,
    translate: [latency::Latency; 2],
    parse_errors: Vec<Counter>,
    refusals: Vec<Counter>,
    tls_failures: Vec<Counter>,
    auth: Vec<Counter>,
    reloads: [Counter; 2],
    audit_dropped: Counter,
    audit_written: Counter,
    spool: [Gauge; 3],
    subscriptions: Gauge,
    peers: PeerLabels,
}

static METRICS: OnceLock<Metrics> = OnceLock::new();

/// Install the Prometheus recorder process-wide, describe every metric and create the handles.
/// Returns the handle that renders the exposition (served by [`crate::admin`]).
pub fn install(settings: &Settings) -> Result<PrometheusHandle, BuildError> {
    let handle = builder()?.install_recorder()?;
    let _ = METRICS.set(Metrics::new(settings));
    Ok(handle)
}

/// The exporter configuration.
pub fn builder() -> Result<PrometheusBuilder, BuildError> {
    Ok(PrometheusBuilder::new().upkeep_timeout(Duration::from_secs(5)))
}

/// The exposition: the exporter's series, then parley's own histograms.
pub fn render(handle: &PrometheusHandle) -> String {
    let mut out = handle.render();
    with(|m| m.render_histograms(&mut out));
    out
}

fn describe() {
    describe_counter!(
        MESSAGES_TOTAL,
        Unit::Count,
        "Messages and events crossing the boundary, by direction, kind and outcome."
    );
    describe_counter!(
        PARSE_ERRORS_TOTAL,
        Unit::Count,
        "Inbound messages that did not parse, by protocol and reason."
    );
    describe_counter!(
        POLICY_REFUSALS_TOTAL,
        Unit::Count,
        "Messages refused by policy, by reason."
    );
    describe_counter!(
        ERRORS_SENT_TOTAL,
        Unit::Count,
        "Errors sent to peers, by protocol and mapped condition."
    );
    describe_gauge!(
        CONNECTIONS,
        Unit::Count,
        "Open connections by protocol, direction and peer domain."
    );
    describe_gauge!(
        QUEUE_MESSAGES,
        Unit::Count,
        "Messages queued for an outbound connection, by protocol and peer domain."
    );
    describe_counter!(
        TLS_HANDSHAKE_FAILURES_TOTAL,
        Unit::Count,
        "Failed TLS handshakes by protocol, direction and reason."
    );
    describe_counter!(
        AUTH_TOTAL,
        Unit::Count,
        "Peer authentications by protocol, method and outcome."
    );
    describe_gauge!(
        SPOOL_MESSAGES,
        Unit::Count,
        "Messages in the store-and-forward spool."
    );
    describe_gauge!(
        SPOOL_BYTES,
        Unit::Bytes,
        "Bytes in the store-and-forward spool."
    );
    describe_gauge!(
        SPOOL_OLDEST_AGE_SECONDS,
        Unit::Seconds,
        "Age of the oldest spooled message."
    );
    describe_gauge!(
        SUBSCRIPTIONS,
        Unit::Count,
        "Presence subscriptions currently active."
    );
    describe_counter!(
        RELOADS_TOTAL,
        Unit::Count,
        "Configuration reloads by outcome."
    );
    describe_gauge!(BUILD_INFO, Unit::Count, "Build information; always 1.");
    describe_gauge!(
        START_TIME_SECONDS,
        Unit::Seconds,
        "Unix time the process started."
    );
    describe_counter!(
        AUDIT_DROPPED_TOTAL,
        Unit::Count,
        "Audit records dropped because the audit writer fell behind."
    );
    describe_counter!(AUDIT_WRITTEN_TOTAL, Unit::Count, "Audit lines written.");
    describe_counter!(
        IDLE_CLOSED_TOTAL,
        Unit::Count,
        "Inbound connections closed by the idle timeout, by protocol."
    );
    describe_counter!(
        SPOOL_EVENTS_TOTAL,
        Unit::Count,
        "Spool events: messages spooled, delivered from the spool, bounced at their deadline, refused because the spool was full or the store failed."
    );
    describe_s2s();
    describe_sip_transactions();
    describe_contacts();
}

impl Metrics {
    /// Describe every metric and create every enum-labelled handle on the current recorder.
    pub fn new(settings: &Settings) -> Metrics {
        describe();
        let mut messages = Vec::new();
        for d in Direction::ALL {
            for k in EventKind::ALL {
                for o in Outcome::ALL {
                    messages.push(counter!(MESSAGES_TOTAL, "direction" => d.as_str(), "kind" => k.as_str(), "outcome" => o.as_str()));
                }
            }
        }
        let translate = Default::default();
        let mut parse_errors = Vec::new();
        for p in Protocol::ALL {
            for r in ParseReason::ALL {
                parse_errors.push(
                    counter!(PARSE_ERRORS_TOTAL, "protocol" => p.as_str(), "reason" => r.as_str()),
                );
            }
        }
        let mut refusals = Vec::new();
        for p in Protocol::ALL {
            for r in PolicyReason::ALL {
                refusals.push(counter!(POLICY_REFUSALS_TOTAL, "protocol" => p.as_str(), "reason" => r.as_str()));
            }
        }
        let mut tls_failures = Vec::new();
        for p in Protocol::ALL {
            for d in ["inbound", "outbound"] {
                for r in TlsFailure::ALL {
                    tls_failures.push(counter!(TLS_HANDSHAKE_FAILURES_TOTAL, "protocol" => p.as_str(), "direction" => d, "reason" => r.as_str()));
                }
            }
        }
        let mut auth = Vec::new();
        for p in Protocol::ALL {
            for m in AuthMethod::ALL {
                for ok in ["ok", "failed"] {
                    auth.push(counter!(AUTH_TOTAL, "protocol" => p.as_str(), "method" => m.as_str(), "outcome" => ok));
                }
            }
        }
        let reloads = ["ok", "failed"].map(|o| counter!(RELOADS_TOTAL, "outcome" => o));
        gauge!(BUILD_INFO, "version" => env!("CARGO_PKG_VERSION"), "profile" => profile()).set(1.0);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        gauge!(START_TIME_SECONDS).set(now.as_secs_f64());
        for p in Protocol::ALL {
            for d in settings.configured_domains.iter() {
                let peer = d.to_ascii_lowercase();
                gauge!(QUEUE_MESSAGES, "protocol" => p.as_str(), "peer" => peer).set(0.0);
            }
        }
        Metrics {
            messages,
            translate,
            parse_errors,
            refusals,
            tls_failures,
            auth,
            reloads,
            audit_dropped: counter!(AUDIT_DROPPED_TOTAL),
            audit_written: counter!(AUDIT_WRITTEN_TOTAL),
            spool: [
                gauge!(SPOOL_MESSAGES),
                gauge!(SPOOL_BYTES),
                gauge!(SPOOL_OLDEST_AGE_SECONDS),
            ],
            subscriptions: gauge!(SUBSCRIPTIONS),
            peers: PeerLabels::new(&settings.configured_domains, settings.max_peer_domains),
        }
    }

    /// See [`message`].
    pub fn message(&self, d: Direction, k: EventKind, o: Outcome) {
        let i = (d as usize * EventKind::ALL.len() + k as usize) * Outcome::ALL.len() + o as usize;
        self.messages[i].increment(1);
    }

    /// See [`parse_error`].
    pub fn parse_error(&self, p: Protocol, r: ParseReason) {
        self.parse_errors[p as usize * ParseReason::ALL.len() + r as usize].increment(1);
    }

    /// See [`policy_refusal`].
    pub fn policy_refusal(&self, p: Protocol, r: PolicyReason) {
        self.refusals[p as usize * PolicyReason::ALL.len() + r as usize].increment(1);
    }

    /// See [`tls_handshake_failure`].
    pub fn tls_handshake_failure(&self, p: Protocol, inbound: bool, r: TlsFailure) {
        let d = usize::from(!inbound);
        self.tls_failures[(p as usize * 2 + d) * TlsFailure::ALL.len() + r as usize].increment(1);
    }

    /// See [`auth`].
    pub fn auth(&self, p: Protocol, m: AuthMethod, ok: bool) {
        let i = (p as usize * AuthMethod::ALL.len() + m as usize) * 2 + usize::from(!ok);
        self.auth[i].increment(1);
    }

    /// The label value for a peer domain (capped).
    pub fn peer_label(&self, domain: &str) -> String {
        self.peers.label(domain)
    }
}

impl Metrics {
    /// Append the histograms parley keeps itself, with their HELP and TYPE lines.
    pub(crate) fn render_histograms(&self, out: &mut String) {
        use std::fmt::Write;
        let name = TRANSLATE_DURATION_SECONDS;
        let _ = writeln!(out, "# HELP {name} {TRANSLATE_HELP}");
        let _ = writeln!(out, "# TYPE {name} histogram");
        for d in Direction::ALL {
            self.translate[d as usize].render(out, name, ("direction", d.as_str()));
        }
    }
}

fn profile() -> &'static str {
    if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    }
}

fn with(f: impl FnOnce(&Metrics)) {
    if let Some(m) = METRICS.get() {
        f(m);
    }
}

/// A message or event crossed (or tried to cross) the boundary.
pub fn message(d: Direction, k: EventKind, o: Outcome) {
    with(|m| m.message(d, k, o));
}

/// Inbound bytes that did not parse.
pub fn parse_error(p: Protocol, r: ParseReason) {
    with(|m| m.parse_error(p, r));
}

/// An XMPP element that did not parse: counted, and turned into its stream error.
pub fn xmpp_parse_failed(e: &crate::xmpp::XmppError) -> crate::xmpp::StreamCondition {
    parse_error(Protocol::Xmpp, e.into());
    e.stream_condition()
}

/// A message refused by policy; `p` is the protocol it arrived on.
pub fn policy_refusal(p: Protocol, r: PolicyReason) {
    with(|m| m.policy_refusal(p, r));
}

/// An error sent to a peer: a SIP final response ≥ 300 or an XMPP error stanza, by the
/// condition it maps to (RFC 7247 §7).
pub fn error_sent(p: Protocol, condition: ErrorCondition) {
    if METRICS.get().is_some() {
        counter!(ERRORS_SENT_TOTAL, "protocol" => p.as_str(), "condition" => condition.as_str())
            .increment(1);
    }
}

/// A SIP response parley sent: counted in `parley_errors_sent_total` when it is an error
/// (≥ 300), by the condition its code maps to.
pub fn sip_response_sent(code: u16) {
    if code >= 300 {
        error_sent(Protocol::Sip, crate::bridge::sip::status_to_condition(code));
    }
}

/// A TLS handshake failed.
pub fn tls_handshake_failure(p: Protocol, inbound: bool, r: TlsFailure) {
    with(|m| m.tls_handshake_failure(p, inbound, r));
}

/// A peer authenticated (`ok`) or failed to.
pub fn auth(p: Protocol, method: AuthMethod, ok: bool) {
    with(|m| m.auth(p, method, ok));
}

/// Current depth of an outbound queue.
pub fn queue_depth(p: Protocol, peer: &str, depth: usize) {
    queue_gauge(p, peer).set(depth as f64);
}

/// The queue gauge of a peer, for a queue that sets it on every change.
pub fn queue_gauge(p: Protocol, peer: &str) -> metrics::Gauge {
    match METRICS.get() {
        Some(m) => gauge!(QUEUE_MESSAGES, "protocol" => p.as_str(), "peer" => m.peer_label(peer)),
        None => metrics::Gauge::noop(),
    }
}

/// Spool size: messages, bytes, age of the oldest.
pub fn spool(messages: usize, bytes: u64, oldest: Duration) {
    with(|m| {
        m.spool[0].set(messages as f64);
        m.spool[1].set(bytes as f64);
        m.spool[2].set(oldest.as_secs_f64());
    });
}

/// Active subscriptions, as counted by the subscription store.
pub fn subscriptions(active: usize) {
    with(|m| m.subscriptions.set(active as f64));
}

/// A configuration reload finished.
pub fn reload(ok: bool) {
    with(|m| m.reloads[usize::from(!ok)].increment(1));
}

/// The audit writer dropped a record (its queue was full).
pub fn audit_dropped() {
    with(|m| m.audit_dropped.increment(1));
}

/// The audit writer wrote `n` lines.
pub fn audit_written(n: u64) {
    with(|m| m.audit_written.increment(n));
}

/// Times one translation; records on drop. `let _t = metrics::translate_timer(d);`
#[must_use = "the timer records when dropped"]
#[derive(Debug)]
pub struct TranslateTimer {
    direction: Direction,
    start: Instant,
}

/// Start timing a translation.
pub fn translate_timer(direction: Direction) -> TranslateTimer {
    TranslateTimer {
        direction,
        start: Instant::now(),
    }
}

impl Drop for TranslateTimer {
    fn drop(&mut self) {
        let elapsed = self.start.elapsed();
        with(|m| m.translate[self.direction as usize].record(elapsed));
    }
}

/// An open connection, counted while it lives. `let _c = metrics::connection(p, true, peer);`
#[must_use = "the connection is counted while this lives"]
#[derive(Debug)]
pub struct ConnectionGuard {
    gauge: Option<Gauge>,
    protocol: Protocol,
    inbound: bool,
    /// Whether the peer label came from an authenticated certificate or a request (see
    /// [`ConnectionGuard::claim`]) rather than being a placeholder.
    named: bool,
}

fn connection_gauge(p: Protocol, inbound: bool, peer: &str) -> Option<Gauge> {
    let dir = if inbound { "inbound" } else { "outbound" };
    METRICS.get().map(|m| {
        let g = gauge!(CONNECTIONS, "protocol" => p.as_str(), "direction" => dir, "peer" => m.peer_label(peer));
        g.increment(1.0);
        g
    })
}

/// Count an open connection until the guard drops.
pub fn connection(p: Protocol, inbound: bool, peer: &str) -> ConnectionGuard {
    ConnectionGuard {
        gauge: connection_gauge(p, inbound, peer),
        protocol: p,
        inbound,
        named: true,
    }
}

/// Count an open connection whose peer domain is not known yet (plain TCP, UDP): it is
/// counted as `other` until [`ConnectionGuard::claim`] names it.
pub fn connection_unnamed(p: Protocol, inbound: bool) -> ConnectionGuard {
    ConnectionGuard {
        gauge: connection_gauge(p, inbound, labels::OTHER),
        protocol: p,
        inbound,
        named: false,
    }
}

impl ConnectionGuard {
    /// Move an unnamed connection to the domain its first request claims (the From host of
    /// a peer without a certificate); a named one keeps its label.
    pub fn claim(&mut self, peer: &str) {
        if self.named {
            return;
        }
        self.named = true;
        if let Some(g) = self.gauge.take() {
            g.decrement(1.0);
        }
        self.gauge = connection_gauge(self.protocol, self.inbound, peer);
    }

    /// Whether the connection has its peer label.
    pub fn is_named(&self) -> bool {
        self.named
    }
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        if let Some(g) = &self.gauge {
            g.decrement(1.0);
        }
    }
}

/// An inbound connection closed by the idle timeout.
pub fn idle_closed(p: Protocol) {
    if METRICS.get().is_some() {
        counter!(IDLE_CLOSED_TOTAL, "protocol" => p.as_str()).increment(1);
    }
}

/// A spool event (`spooled`, `delivered`, `bounced`, `refused_full`, `store_failed`).
pub fn spool_event(event: &'static str, n: u64) {
    with(|_| counter!(SPOOL_EVENTS_TOTAL, "event" => event).increment(n));
}

pub use labels::S2sFailure;

/// XMPP s2s authentications by peer domain, direction, method and outcome.
pub const FEDERATION_AUTH_TOTAL: &str = "parley_federation_auth_total";
/// XMPP s2s connections that failed or died, by peer domain, direction and reason.
pub const FEDERATION_FAILURES_TOTAL: &str = "parley_federation_failures_total";

fn describe_s2s() {
    describe_counter!(
        FEDERATION_AUTH_TOTAL,
        Unit::Count,
        "XMPP s2s authentications by peer domain, direction, method and outcome."
    );
    describe_counter!(
        FEDERATION_FAILURES_TOTAL,
        Unit::Count,
        "XMPP s2s connections that failed or died, by peer domain, direction and reason."
    );
    describe_hardening();
}

fn direction_label(inbound: bool) -> &'static str {
    if inbound { "inbound" } else { "outbound" }
}

/// An XMPP s2s authentication with `peer` (capped label), which way and how.
pub fn s2s_auth(peer: &str, inbound: bool, method: AuthMethod, ok: bool) {
    with(|m| {
        counter!(FEDERATION_AUTH_TOTAL,
            "peer" => m.peer_label(peer),
            "direction" => direction_label(inbound),
            "method" => method.as_str(),
            "outcome" => if ok { "ok" } else { "failed" })
        .increment(1);
    });
}

/// An XMPP s2s connection with `peer` failed or died for `reason`.
pub fn s2s_failure(peer: &str, inbound: bool, reason: S2sFailure) {
    with(|m| {
        counter!(FEDERATION_FAILURES_TOTAL,
            "peer" => m.peer_label(peer),
            "direction" => direction_label(inbound),
            "reason" => reason.as_str())
        .increment(1);
    });
}

/// A presence subscription (a dialog parley notifies or subscribes in) came into being.
pub fn subscription_opened() {
    with(|m| m.subscriptions.increment(1.0));
}

/// A presence subscription ended (terminated, expired, rejected).
pub fn subscription_closed() {
    with(|m| m.subscriptions.decrement(1.0));
}

/// Stanzas written to an outbound s2s stream that died before the peer confirmed them, sent
/// again on the next stream (at-least-once: the peer may see them twice), by peer domain.
pub const FEDERATION_RESENT_TOTAL: &str = "parley_federation_resent_total";
/// Inbound connections closed at once because a connection-count bound was reached, by
/// protocol and bound (`total`, `per_ip`).
pub const CONNECTIONS_REFUSED_TOTAL: &str = "parley_connections_refused_total";
/// Inbound s2s streams closed during negotiation for exceeding a pre-auth bound, by reason
/// (`deadline`, `bytes`, `elements`).
pub const NEGOTIATION_LIMIT_TOTAL: &str = "parley_negotiation_limit_total";
/// Times an inbound stream waited for room in an outbound queue before reading on, by the
/// protocol of the queue (a peer that could not keep up slowed its senders down).
pub const BACKPRESSURE_TOTAL: &str = "parley_backpressure_total";
/// Error replies (bounces) that could not be queued towards their sender, by protocol: the
/// sender's own peer could not take them.
pub const REPLIES_UNSENT_TOTAL: &str = "parley_replies_unsent_total";

fn describe_hardening() {
    describe_counter!(
        BACKPRESSURE_TOTAL,
        Unit::Count,
        "Times an inbound stream waited for room in a full outbound queue before reading on."
    );
    describe_counter!(
        REPLIES_UNSENT_TOTAL,
        Unit::Count,
        "Error replies that could not be queued towards their sender."
    );
    describe_counter!(
        FEDERATION_RESENT_TOTAL,
        Unit::Count,
        "Stanzas re-sent on a new s2s stream because the one they were written to died unconfirmed."
    );
    describe_counter!(
        CONNECTIONS_REFUSED_TOTAL,
        Unit::Count,
        "Inbound connections closed at once by a connection-count bound, by protocol and bound."
    );
    describe_counter!(
        NEGOTIATION_LIMIT_TOTAL,
        Unit::Count,
        "Inbound s2s streams closed during negotiation for exceeding a pre-auth bound."
    );
}

/// `n` unconfirmed stanzas to `peer` go out again on the next stream.
pub fn federation_resent(peer: &str, n: usize) {
    with(|m| counter!(FEDERATION_RESENT_TOTAL, "peer" => m.peer_label(peer)).increment(n as u64));
}

/// An inbound connection refused by a connection-count `bound` (`total` or `per_ip`).
pub fn connection_refused(p: Protocol, bound: &'static str) {
    with(|_| {
        counter!(CONNECTIONS_REFUSED_TOTAL, "protocol" => p.as_str(), "bound" => bound).increment(1)
    });
}

/// An inbound s2s negotiation exceeded a pre-auth bound (`deadline`, `bytes`, `elements`).
pub fn negotiation_limit(reason: &'static str) {
    with(|_| counter!(NEGOTIATION_LIMIT_TOTAL, "reason" => reason).increment(1));
}

/// An inbound stream waits for room in a full outbound `p` queue.
pub fn backpressure(p: Protocol) {
    with(|_| counter!(BACKPRESSURE_TOTAL, "protocol" => p.as_str()).increment(1));
}

/// An error reply towards a `p` sender could not be queued.
pub fn reply_unsent(p: Protocol) {
    with(|_| counter!(REPLIES_UNSENT_TOTAL, "protocol" => p.as_str()).increment(1));
}
