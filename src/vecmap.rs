//! `VecMap`: a map kept as a `Vec` sorted by key.
//!
//! The same lookups and key-order iteration as a `BTreeMap`, for a fraction of the wasm code: every key/value type
//! of a `BTreeMap` instantiates the whole B-tree (insert, split, merge, steal, remove: 4-7 KB of wasm each), while
//! a `VecMap` is a binary search over a slice. Use it where a map holds few entries (one per node, client, lane or
//! operation in view) or where keys arrive mostly in order (message ids, history indexes): an insert costs a
//! binary search plus moving the entries after it. Large maps with keys in random order stay `BTreeMap`s (the
//! SQL engine's indexes).

use std::borrow::Borrow;

/// Ordered and compared as a `BTreeMap` is: entry by entry, in key order.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct VecMap<K, V>(Vec<(K, V)>);

impl<K, V> Default for VecMap<K, V> {
    fn default() -> Self {
        VecMap(Vec::new())
    }
}

impl<K: Ord, V> VecMap<K, V> {
    pub fn new() -> Self {
        Self::default()
    }

    /// From pairs in any order; of several pairs with the same key the last one wins, as with repeated `insert`s.
    pub fn from_pairs(mut pairs: Vec<(K, V)>) -> Self {
        crate::sql::sort_stable_by(&mut pairs, |a, b| a.0.cmp(&b.0));
        let mut out: Vec<(K, V)> = Vec::with_capacity(pairs.len());
        for (k, v) in pairs {
            match out.last_mut() {
                Some(last) if last.0 == k => last.1 = v,
                _ => out.push((k, v)),
            }
        }
        VecMap(out)
    }

    fn find<Q: Ord + ?Sized>(&self, key: &Q) -> Result<usize, usize>
    where
        K: Borrow<Q>,
    {
        self.0.binary_search_by(|(k, _)| k.borrow().cmp(key))
    }

    pub fn get<Q: Ord + ?Sized>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
    {
        self.find(key).ok().map(|i| &self.0[i].1)
    }

    pub fn get_mut<Q: Ord + ?Sized>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
    {
        self.find(key).ok().map(|i| &mut self.0[i].1)
    }

    pub fn contains_key<Q: Ord + ?Sized>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
    {
        self.find(key).is_ok()
    }

    /// Like `BTreeMap::insert`: an existing entry keeps its key and gets the new value.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        // Keys often arrive in order: check the end before searching.
        if self.0.last().is_none_or(|(last, _)| *last < key) {
            self.0.push((key, value));
            return None;
        }
        match self.find(&key) {
            Ok(i) => Some(std::mem::replace(&mut self.0[i].1, value)),
            Err(i) => {
                self.0.insert(i, (key, value));
                None
            }
        }
    }

    pub fn remove<Q: Ord + ?Sized>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
    {
        self.find(key).ok().map(|i| self.0.remove(i).1)
    }

    /// `entry(key).or_default()`.
    pub fn or_default(&mut self, key: K) -> &mut V
    where
        V: Default,
    {
        let i = self.find(&key).unwrap_or_else(|i| {
            self.0.insert(i, (key, V::default()));
            i
        });
        &mut self.0[i].1
    }

    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&K, &V)> {
        self.into_iter()
    }

    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &K> {
        self.0.iter().map(|(k, _)| k)
    }

    pub fn values(&self) -> impl DoubleEndedIterator<Item = &V> {
        self.0.iter().map(|(_, v)| v)
    }

    pub fn values_mut(&mut self) -> impl DoubleEndedIterator<Item = &mut V> {
        self.0.iter_mut().map(|(_, v)| v)
    }

    pub fn iter_mut(&mut self) -> impl DoubleEndedIterator<Item = (&K, &mut V)> {
        self.0.iter_mut().map(|(k, v)| (&*k, v))
    }

    /// The entries with keys below `key`, in key order (`BTreeMap::range(..key)`).
    pub fn below<Q: Ord + ?Sized>(&self, key: &Q) -> impl DoubleEndedIterator<Item = (&K, &V)>
    where
        K: Borrow<Q>,
    {
        let end = self.find(key).unwrap_or_else(|i| i);
        self.0[..end].iter().map(|(k, v)| (k, v))
    }

    /// The entries with keys at or above `key`, in key order (`BTreeMap::range(key..)`).
    pub fn from<Q: Ord + ?Sized>(&self, key: &Q) -> impl DoubleEndedIterator<Item = (&K, &V)>
    where
        K: Borrow<Q>,
    {
        let start = self.find(key).unwrap_or_else(|i| i);
        self.0[start..].iter().map(|(k, v)| (k, v))
    }

    /// The entry with the smallest key.
    pub fn first(&self) -> Option<(&K, &V)> {
        self.0.first().map(|(k, v)| (k, v))
    }

    pub fn retain(&mut self, mut keep: impl FnMut(&K, &mut V) -> bool) {
        self.0.retain_mut(|(k, v)| keep(k, v));
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn clear(&mut self) {
        self.0.clear();
    }
}

impl<K: Ord + Borrow<Q>, Q: Ord + ?Sized, V> std::ops::Index<&Q> for VecMap<K, V> {
    type Output = V;

    /// Panics when the key is absent, as `BTreeMap`'s index does.
    fn index(&self, key: &Q) -> &V {
        self.get(key).expect("VecMap: no entry for key")
    }
}

/// As `BTreeMap`'s: pairs in any order, the last of several with one key wins.
impl<K: Ord, V> FromIterator<(K, V)> for VecMap<K, V> {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(pairs: I) -> Self {
        Self::from_pairs(pairs.into_iter().collect())
    }
}

impl<'a, K, V> IntoIterator for &'a VecMap<K, V> {
    type Item = (&'a K, &'a V);
    type IntoIter = std::iter::Map<std::slice::Iter<'a, (K, V)>, fn(&'a (K, V)) -> (&'a K, &'a V)>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().map(|(k, v)| (k, v))
    }
}

impl<K, V> IntoIterator for VecMap<K, V> {
    type Item = (K, V);
    type IntoIter = std::vec::IntoIter<(K, V)>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

#[cfg(test)]
mod tests {
    use super::VecMap;
    use std::collections::BTreeMap;

    /// Any sequence of inserts, removes and `or_default`s leaves a `VecMap` equal, entry for entry and in order,
    /// to a `BTreeMap` given the same sequence.
    #[test]
    fn behaves_like_a_btreemap() {
        let seed = 11;
        let mut rng = crate::world::rng::SimRng::new(seed);
        for round in 0..200u32 {
            let keys = if round % 2 == 0 { 15 } else { 999 };
            let mut v: VecMap<u32, u32> = VecMap::new();
            let mut b: BTreeMap<u32, u32> = BTreeMap::new();
            for step in 0..60u32 {
                let key = rng.range_inclusive(0, keys) as u32;
                match rng.range_inclusive(0, 3) {
                    0 => assert_eq!(v.remove(&key), b.remove(&key), "seed {seed} round {round} step {step}"),
                    1 => {
                        *v.or_default(key) += step;
                        *b.entry(key).or_default() += step;
                    }
                    _ => assert_eq!(v.insert(key, step), b.insert(key, step), "seed {seed} round {round} step {step}"),
                }
                assert_eq!(v.get(&key), b.get(&key), "seed {seed} round {round} step {step}");
                assert!(
                    v.iter().map(|(k, x)| (*k, *x)).eq(b.iter().map(|(k, x)| (*k, *x))),
                    "seed {seed} round {round}"
                );
                assert_eq!(v.len(), b.len());
                assert!(
                    v.below(&key).map(|(k, x)| (*k, *x)).eq(b.range(..key).map(|(k, x)| (*k, *x))),
                    "seed {seed} round {round} step {step}: below"
                );
                assert!(
                    v.from(&key).map(|(k, x)| (*k, *x)).eq(b.range(key..).map(|(k, x)| (*k, *x))),
                    "seed {seed} round {round} step {step}: from"
                );
            }
            // Compared and ordered as the B-tree is (version vectors are sorted by it), and built from pairs alike.
            let v2: VecMap<u32, u32> = b.iter().rev().map(|(k, x)| (*k, x / 2)).collect();
            let b2: BTreeMap<u32, u32> = b.iter().map(|(k, x)| (*k, x / 2)).collect();
            assert_eq!(v.cmp(&v2), b.cmp(&b2), "seed {seed} round {round}: order");
            assert_eq!(v == v2, b == b2, "seed {seed} round {round}: equality");
        }
    }

    #[test]
    fn from_pairs_keeps_the_last_value_of_a_key() {
        let m = VecMap::from_pairs(vec![(3, "c"), (1, "a"), (3, "C"), (2, "b"), (1, "A")]);
        assert_eq!(m.iter().map(|(k, v)| (*k, *v)).collect::<Vec<_>>(), vec![(1, "A"), (2, "b"), (3, "C")]);
        assert_eq!(m[&2], "b");
        assert!(!m.contains_key(&4));
    }
}
