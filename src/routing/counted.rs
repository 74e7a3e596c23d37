//! The presence dialog tables, counted: every entry is one active subscription in the
//! `parley_subscriptions` gauge, so the gauge moves on each create, expiry and termination.

use std::hash::Hash;

use dashmap::DashMap;
use dashmap::mapref::one::{Ref, RefMut};

use crate::metrics;

/// A `DashMap` of subscription dialogs whose entries are counted in `parley_subscriptions`.
#[derive(Debug)]
pub(crate) struct Counted<K: Eq + Hash, V>(DashMap<K, V>);

impl<K: Eq + Hash, V> Default for Counted<K, V> {
    fn default() -> Self {
        Counted(DashMap::new())
    }
}

impl<K: Eq + Hash, V> Counted<K, V> {
    /// Insert; a new key is one more subscription.
    pub(crate) fn insert(&self, key: K, value: V) -> Option<V> {
        let old = self.0.insert(key, value);
        if old.is_none() {
            metrics::subscription_opened();
        }
        old
    }

    /// Remove; a removed entry is one subscription less.
    pub(crate) fn remove(&self, key: &K) -> Option<(K, V)> {
        let gone = self.0.remove(key);
        if gone.is_some() {
            metrics::subscription_closed();
        }
        gone
    }

    /// Remove when `f` says so.
    pub(crate) fn remove_if(&self, key: &K, f: impl FnOnce(&K, &V) -> bool) -> Option<(K, V)> {
        let gone = self.0.remove_if(key, f);
        if gone.is_some() {
            metrics::subscription_closed();
        }
        gone
    }

    /// Look one up.
    pub(crate) fn get(&self, key: &K) -> Option<Ref<'_, K, V>> {
        self.0.get(key)
    }

    /// Change one in place (it stays in the table, and counted, throughout).
    pub(crate) fn get_mut(&self, key: &K) -> Option<RefMut<'_, K, V>> {
        self.0.get_mut(key)
    }

    /// Every entry.
    pub(crate) fn iter(&self) -> dashmap::iter::Iter<'_, K, V> {
        self.0.iter()
    }
}

impl<K: Eq + Hash, V> Drop for Counted<K, V> {
    fn drop(&mut self) {
        for _ in 0..self.0.len() {
            metrics::subscription_closed();
        }
    }
}
