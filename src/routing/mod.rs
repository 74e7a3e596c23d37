//! Routing: the gateway core that connection tasks hand complete messages to. It checks that
//! the sender's domain is the one its peer authenticated for and that the pair of domains is
//! served here (no open relay), translates through [`crate::bridge`], forwards through the
//! outbound pools, and turns failures into the sender's protocol errors.

mod ids;
mod presence;
mod presence_sub;
mod sip_in;
mod xmpp_in;
pub mod xmpp_iq;

use dashmap::DashMap;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::{Config, Side};
use crate::conn::sip_pool::SipPool;
use crate::conn::xmpp_pool::XmppPool;
use crate::model::DeliveryError;
use crate::sip::SipLimits;
use crate::transport::resolve::{Resolver, Target};
use crate::transport::tls::TlsContext;
use crate::xmpp::XmppLimits;

pub use ids::IdGenerator;

/// Shared state of the running gateway.
#[derive(Debug)]
pub struct Gateway {
    config: Config,
    tls: TlsContext,
    sip_sent_by: String,
    xmpp_out: XmppPool,
    sip_out: SipPool,
    /// SIP presence dialogs and the presence they carry.
    presence: presence::PresenceState,
    /// SIP subscriptions parley holds for XMPP watchers.
    presence_subs: presence_sub::Subscriptions,
    /// SIP→XMPP messages waiting for a possible XMPP error reply, by stanza id.
    bounces: DashMap<String, oneshot::Sender<DeliveryError<'static>>>,
    ids: IdGenerator,
    resolver: Resolver,
    cancel: CancellationToken,
    tracker: TaskTracker,
}

impl Gateway {
    /// A gateway for a validated config and loaded TLS context.
    pub fn new(
        config: Config,
        tls: TlsContext,
        cancel: CancellationToken,
        tracker: TaskTracker,
    ) -> Gateway {
        let sip_sent_by = config
            .sip
            .listen_tls
            .first()
            .map(|a| a.to_string())
            .unwrap_or_default();
        Gateway {
            config,
            tls,
            sip_sent_by,
            xmpp_out: XmppPool::default(),
            sip_out: SipPool::default(),
            presence: presence::PresenceState::default(),
            presence_subs: presence_sub::Subscriptions::default(),
            bounces: DashMap::new(),
            ids: IdGenerator::new(),
            resolver: Resolver::from_system(),
            cancel,
            tracker,
        }
    }

    /// The config in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// TLS contexts.
    pub fn tls(&self) -> &TlsContext {
        &self.tls
    }

    /// The process-wide shutdown signal.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.cancel.clone()
    }

    /// The process-wide task tracker (every task is spawned on it, so shutdown can wait).
    pub fn tracker(&self) -> &TaskTracker {
        &self.tracker
    }

    /// SIP codec limits.
    pub fn sip_limits(&self) -> SipLimits {
        SipLimits::default()
    }

    /// XMPP codec limits.
    pub fn xmpp_limits(&self) -> XmppLimits {
        XmppLimits::default()
    }

    /// A fresh unique id (stanza ids, stream ids, tags, branches).
    pub fn new_id(&self) -> String {
        self.ids.next()
    }

    /// The process-wide DNS resolver.
    pub fn resolver(&self) -> &Resolver {
        &self.resolver
    }

    /// The s2s servers of an XMPP domain: its static next hop, or DNS (RFC 6120 §3.2).
    pub async fn xmpp_targets(&self, domain: &str) -> Vec<Target> {
        match self.config.domain(domain) {
            Some(d) => match &d.next_hop {
                Some(hop) => Target::from_host_port(hop, d.direct_tls)
                    .into_iter()
                    .collect(),
                None => self.resolver.xmpp_targets(domain).await,
            },
            None => Vec::new(),
        }
    }

    /// Whether `domain` is configured here on `side`.
    pub fn serves(&self, domain: &str, side: Side) -> bool {
        self.config.domain(domain).is_some_and(|d| d.side == side)
    }
}
