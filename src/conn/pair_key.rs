//! Maps keyed by a pair of domains (or any two strings), looked up by two `&str` without
//! building an owned key: the per-message lookups of the outbound pools and the spool.
//!
//! A `(String, String)` key lends itself as `dyn StrPair`, which hashes and compares exactly
//! as the tuple does, so `map.get(&("a", "b") as &dyn StrPair)` finds the entry
//! `("a".to_owned(), "b".to_owned())`.

use std::borrow::Borrow;
use std::hash::{Hash, Hasher};

/// Two strings, owned or borrowed.
pub trait StrPair {
    /// The first string.
    fn first(&self) -> &str;
    /// The second string.
    fn second(&self) -> &str;
}

impl StrPair for (String, String) {
    fn first(&self) -> &str {
        &self.0
    }
    fn second(&self) -> &str {
        &self.1
    }
}

impl StrPair for (&str, &str) {
    fn first(&self) -> &str {
        self.0
    }
    fn second(&self) -> &str {
        self.1
    }
}

impl<'a> Borrow<dyn StrPair + 'a> for (String, String) {
    fn borrow(&self) -> &(dyn StrPair + 'a) {
        self
    }
}

/// As `(String, String)` hashes: each string in turn.
impl Hash for dyn StrPair + '_ {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.first().hash(state);
        self.second().hash(state);
    }
}

impl PartialEq for dyn StrPair + '_ {
    fn eq(&self, other: &Self) -> bool {
        self.first() == other.first() && self.second() == other.second()
    }
}

impl Eq for dyn StrPair + '_ {}

/// The lookup key for `(first, second)`.
pub fn pair<'a>(first: &'a str, second: &'a str) -> (&'a str, &'a str) {
    (first, second)
}

#[cfg(test)]
mod tests {
    use super::*;
    use dashmap::DashMap;
    use std::collections::HashMap;

    proptest::proptest! {
        /// A pair of `&str` finds exactly the entry its owned tuple is stored under, also
        /// where moving a byte from one string to the other keeps the concatenation.
        #[test]
        fn borrowed_pairs_find_owned_keys(a in "[a-c.]{0,4}", b in "[a-c.]{0,4}", c in "[a-c.]{0,4}", d in "[a-c.]{0,4}") {
            let map: DashMap<(String, String), u8> = DashMap::new();
            map.insert((a.clone(), b.clone()), 1);
            let std_map: HashMap<(String, String), u8> = HashMap::from([((a.clone(), b.clone()), 1)]);
            let same = (a.as_str(), b.as_str()) == (c.as_str(), d.as_str());
            let key = pair(&c, &d);
            proptest::prop_assert_eq!(map.contains_key(&key as &dyn StrPair), same);
            proptest::prop_assert_eq!(std_map.contains_key(&key as &dyn StrPair), same);
            let own = pair(&a, &b);
            proptest::prop_assert!(map.get(&own as &dyn StrPair).is_some());
        }
    }
}
