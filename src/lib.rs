//! Parley: a SIP SIMPLE ⇄ XMPP federation gateway (RFC 7247 and its companions).
//!
//! # Layout
//! In data-flow order: transport → codec → canonical model → policy/routing → codec → transport.
//! - [`config`]: the TOML file, validated before anything is bound.
//! - [`transport`]: TLS contexts (per-domain certificates by SNI), generated material.
//! - [`auth`]: proof that a peer speaks for a domain ([`auth::VerifiedDomain`]).
//! - [`conn`]: connection tasks — SIP over TLS, XMPP s2s in and out, outbound pools.
//! - [`sip`]: SIP codec (RFC 3261): framing, borrowed message views, writer.
//! - [`xmpp`]: XMPP codec (RFC 6120/6121): stream framing, stanza views, JIDs, writer.
//! - [`model`]: the protocol-neutral canonical model.
//! - [`bridge`]: pure SIP ⇄ model ⇄ XMPP translations and the RFC 7247 error tables.
//! - [`policy`]: pure decisions: federation matrix, per-user lists, consent, rate and size
//!   limits.
//! - [`store`]: durable state (consent, blocks, subscriptions, spool) behind a small trait.
//! - [`routing`]: the gateway core: authorization of each message, forwarding, bounces.
//! - [`app`]: builds listeners and runs accept loops under one shutdown token.
//! - [`metrics`], [`admin`]: Prometheus metrics and `/metrics`, `/healthz`, `/readyz` on an
//!   isolated thread.
//! - [`audit`]: the metadata-only audit log and `parley report`.

pub mod admin;
pub mod app;
pub mod audit;
pub mod auth;
pub mod bridge;
pub mod config;
pub mod conn;
pub mod manpage;
pub mod metrics;
pub mod model;
pub mod policy;
pub mod replay;
pub mod routing;
pub mod sip;
pub mod store;
pub mod tools;
pub mod translate;
pub mod transport;
pub mod xmpp;
