//! Routing: the gateway core that connection tasks hand complete messages to. It checks that
//! the sender's domain is the one its peer authenticated for and that the pair of domains is
//! served here (no open relay), translates through [`crate::bridge`], forwards through the
//! outbound pools, and turns failures into the sender's protocol errors.

mod counted;
mod durable;
mod events;
mod ids;
mod log_gate;
mod police;
mod presence;
mod presence_durable;
mod presence_end;
mod presence_limits;
mod presence_sub;
mod sip_in;
mod sip_session;
mod spool;
mod xmpp_in;
pub mod xmpp_iq;

use std::sync::{Arc, OnceLock, RwLock};
use std::time::Instant;

use dashmap::DashMap;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::auth::dialback::DialbackSecret;
use crate::config::{Config, S2sAuth, Side};
use crate::conn::s2s_out::Route;
use crate::conn::sip_pool::SipPool;
use crate::conn::xmpp_pool::XmppPool;
use crate::model::DeliveryError;
use crate::policy::{Bucket, Policy};
use crate::sip::SipLimits;
use crate::store::{ContactBook, MemStore, Store};
use crate::transport::resolve::{Resolver, Target};
use crate::transport::tls::TlsContext;
use crate::xmpp::XmppLimits;

pub use ids::IdGenerator;
pub use xmpp_in::Inbound;

/// What a reload replaces at once: established connections keep what they started with.
#[derive(Debug)]
struct Live {
    config: Arc<Config>,
    tls: Arc<TlsContext>,
    policy: Arc<Policy>,
}

/// Shared state of the running gateway.
#[derive(Debug)]
pub struct Gateway {
    live: RwLock<Arc<Live>>,
    store: Arc<dyn Store>,
    domain_buckets: DashMap<String, Bucket>,
    sender_buckets: DashMap<String, Bucket>,
    started: Instant,
    sip_sent_by: String,
    xmpp_out: XmppPool,
    sip_out: SipPool,
    /// SIP presence dialogs and the presence they carry.
    presence: presence::PresenceState,
    /// SIP subscriptions parley holds for XMPP watchers.
    presence_subs: presence_sub::Subscriptions,
    /// Session-mode IM dialogs (INVITE with SDP `m=message`), by Call-ID.
    sessions: sip_session::Sessions,
    /// SIP→XMPP messages waiting for a possible XMPP error reply, by stanza id.
    bounces: DashMap<String, oneshot::Sender<DeliveryError<'static>>>,
    ids: IdGenerator,
    /// Ids of messages that crossed under an id their sender does not know (receipts).
    message_ids: ids::MessageIds,
    /// Messages held for peers that cannot take them now.
    spool: spool::Spool,
    resolver: Resolver,
    dialback: DialbackSecret,
    cancel: CancellationToken,
    tracker: TaskTracker,
    /// Consent, blocks and activity in memory (routing/police.rs).
    contacts: Arc<ContactBook>,
    /// The contact writer's requests, once started.
    contact_writer: OnceLock<tokio::sync::mpsc::Sender<police::ContactCmd>>,
}

impl Gateway {
    /// A gateway for a validated config and loaded TLS context.
    pub fn new(
        config: Config,
        tls: TlsContext,
        cancel: CancellationToken,
        tracker: TaskTracker,
    ) -> Gateway {
        let dialback = config
            .xmpp
            .dialback_secret
            .as_deref()
            .map_or_else(DialbackSecret::random, DialbackSecret::new);
        let sip_sent_by = config
            .sip
            .listen_tls
            .first()
            .map(|a| a.to_string())
            .unwrap_or_default();
        let resolver = Resolver::from_config(&config.dns);
        Gateway {
            live: RwLock::new(Arc::new(Live {
                policy: Arc::new(Policy::new(&config.policy)),
                config: Arc::new(config),
                tls: Arc::new(tls),
            })),
            store: Arc::new(MemStore::new()),
            domain_buckets: DashMap::new(),
            sender_buckets: DashMap::new(),
            started: Instant::now(),
            sip_sent_by,
            xmpp_out: XmppPool::default(),
            sip_out: SipPool::default(),
            presence: presence::PresenceState::default(),
            presence_subs: presence_sub::Subscriptions::default(),
            sessions: sip_session::Sessions::default(),
            bounces: DashMap::new(),
            ids: IdGenerator::new(),
            message_ids: ids::MessageIds::default(),
            spool: spool::Spool::default(),
            resolver,
            dialback,
            cancel,
            tracker,
            contacts: Arc::new(ContactBook::new()),
            contact_writer: OnceLock::new(),
        }
    }

    /// Keep durable state in `store` (the default is in memory).
    pub fn with_store(mut self, store: Arc<dyn Store>) -> Gateway {
        self.store = store;
        self
    }

    /// Decide on `contacts` (loaded from the store at startup) instead of an empty book.
    pub fn with_contacts(mut self, contacts: ContactBook) -> Gateway {
        self.contacts = Arc::new(contacts);
        self
    }

    fn live(&self) -> Arc<Live> {
        self.live.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The config in force (a reload swaps it; holders keep the one they took).
    pub fn config(&self) -> Arc<Config> {
        self.live().config.clone()
    }

    /// TLS contexts in force.
    pub fn tls(&self) -> Arc<TlsContext> {
        self.live().tls.clone()
    }

    /// The policy in force.
    pub fn policy(&self) -> Arc<Policy> {
        self.live().policy.clone()
    }

    /// The durable state.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Put a new config and its TLS contexts in force. Listeners stay as they are; new
    /// connections and every new message use the new values, established connections are
    /// not touched. The caller validated `config` and built `tls` from it.
    pub fn replace_config(&self, config: Config, tls: TlsContext) {
        let live = Arc::new(Live {
            policy: Arc::new(Policy::new(&config.policy)),
            config: Arc::new(config),
            tls: Arc::new(tls),
        });
        *self.live.write().unwrap_or_else(|p| p.into_inner()) = live;
        // Rates may have changed: start the buckets afresh.
        self.domain_buckets.clear();
        self.sender_buckets.clear();
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

    /// The outbound s2s pool (ping answers reach it from inbound streams).
    pub fn xmpp_pool(&self) -> &XmppPool {
        &self.xmpp_out
    }

    /// A fresh unique id (stanza ids, stream ids, tags, branches).
    pub fn new_id(&self) -> String {
        self.ids.next()
    }

    /// The Server Dialback secret (XEP-0185).
    pub fn dialback_secret(&self) -> &DialbackSecret {
        &self.dialback
    }

    /// The process-wide DNS resolver.
    pub fn resolver(&self) -> &Resolver {
        &self.resolver
    }

    /// How to reach the XMPP domain `remote` as `local`: its servers and the authentication
    /// methods allowed with it.
    pub async fn xmpp_route<'a>(&self, local: &'a str, remote: &'a str) -> Route<'a> {
        let config = self.config();
        Route {
            local,
            remote,
            targets: self.xmpp_targets(remote).await,
            external: config.s2s_auth_allowed(remote, S2sAuth::SaslExternal),
            dialback: config.s2s_auth_allowed(remote, S2sAuth::Dialback),
        }
    }

    /// The s2s servers of an XMPP domain: its static next hop, or DNS (RFC 6120 §3.2).
    pub async fn xmpp_targets(&self, domain: &str) -> Vec<Target> {
        match self.config().domain(domain) {
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
        self.config().domain(domain).is_some_and(|d| d.side == side)
    }
}
