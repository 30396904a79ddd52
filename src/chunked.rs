//! `Chunked<T>`: a vector in shared chunks, so that a copy of the world is cheap however long the run.
//!
//! The playback keeps a copy of the world every few thousand events to seek back to. The trace, the history and
//! the replication logs grow with the run; as plain `Vec`s every copy duplicated them, and the memory of a run grew
//! with the square of its length (a 60-second run took 7 GB). Here the elements live in chunks of `CHUNK` behind
//! reference counts: a clone copies one pointer per chunk, and a write to a shared chunk copies that chunk only
//! (copy on write). Appending copies at most the last chunk once per clone. Removing from the front (a log's
//! retention) moves a start offset and drops whole chunks.

use std::rc::Rc;

/// Elements per chunk: a clone costs one pointer per chunk, a first write after a clone copies one chunk.
pub const CHUNK: usize = 256;

#[derive(Clone)]
pub struct Chunked<T> {
    /// Every chunk but the last is full; the first has `head` elements removed from its front.
    chunks: Vec<Rc<Vec<T>>>,
    head: usize,
    len: usize,
}

impl<T> Default for Chunked<T> {
    fn default() -> Self {
        Chunked { chunks: Vec::new(), head: 0, len: 0 }
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for Chunked<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<T: PartialEq> PartialEq for Chunked<T> {
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len && self.iter().eq(other.iter())
    }
}

impl<T> Chunked<T> {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    fn place(&self, i: usize) -> (usize, usize) {
        let at = self.head + i;
        (at / CHUNK, at % CHUNK)
    }
    pub fn get(&self, i: usize) -> Option<&T> {
        if i >= self.len {
            return None;
        }
        let (c, k) = self.place(i);
        self.chunks.get(c).and_then(|chunk| chunk.get(k))
    }
    pub fn first(&self) -> Option<&T> {
        self.get(0)
    }
    pub fn last(&self) -> Option<&T> {
        self.len.checked_sub(1).and_then(|i| self.get(i))
    }
    /// The same as `first` and `last`, in a deque's words (replication logs).
    pub fn front(&self) -> Option<&T> {
        self.first()
    }
    pub fn back(&self) -> Option<&T> {
        self.last()
    }
    /// In order; double-ended, so `.rev()` walks back from the newest.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &T> + '_ {
        let head = self.head;
        let len = self.len;
        self.chunks.iter().enumerate().flat_map(move |(c, chunk)| {
            let from = if c == 0 { head } else { 0 };
            // The last chunk may hold elements past `len` only transiently; never yield them.
            let to = chunk.len().min((head + len).saturating_sub(c * CHUNK));
            chunk.get(from..to.max(from)).unwrap_or(&[]).iter()
        })
    }
    /// Elements `from..` in order.
    pub fn iter_from(&self, from: usize) -> impl Iterator<Item = &T> + '_ {
        let from = from.min(self.len);
        let (c, k) = self.place(from);
        let head = self.head;
        let len = self.len;
        self.chunks.iter().enumerate().skip(c).flat_map(move |(ci, chunk)| {
            let start = if ci == c {
                k
            } else if ci == 0 {
                head
            } else {
                0
            };
            let to = chunk.len().min((head + len).saturating_sub(ci * CHUNK));
            chunk.get(start..to.max(start)).unwrap_or(&[]).iter()
        })
    }
    /// The index of the first element for which `pred` is false, all before it being true (as the slice method).
    pub fn partition_point(&self, mut pred: impl FnMut(&T) -> bool) -> usize {
        let (mut lo, mut hi) = (0, self.len);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.get(mid).is_some_and(&mut pred) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }
    pub fn clear(&mut self) {
        self.chunks.clear();
        self.head = 0;
        self.len = 0;
    }
}

impl<T: Clone> Chunked<T> {
    pub fn push(&mut self, x: T) {
        let full = self.chunks.last().is_none_or(|c| c.len() >= CHUNK);
        if full {
            let mut chunk = Vec::with_capacity(CHUNK);
            chunk.push(x);
            self.chunks.push(Rc::new(chunk));
        } else if let Some(last) = self.chunks.last_mut() {
            Rc::make_mut(last).push(x);
        }
        self.len += 1;
    }
    pub fn push_back(&mut self, x: T) {
        self.push(x);
    }
    pub fn get_mut(&mut self, i: usize) -> Option<&mut T> {
        if i >= self.len {
            return None;
        }
        let (c, k) = self.place(i);
        self.chunks.get_mut(c).and_then(|chunk| Rc::make_mut(chunk).get_mut(k))
    }
    pub fn last_mut(&mut self) -> Option<&mut T> {
        self.len.checked_sub(1).and_then(|i| self.get_mut(i))
    }
    pub fn pop_front(&mut self) -> Option<T> {
        let x = self.first()?.clone();
        self.head += 1;
        self.len -= 1;
        if self.head == CHUNK || self.len == 0 {
            // The first chunk is used up (or everything is): drop it without copying.
            if self.len == 0 {
                self.clear();
            } else {
                self.chunks.remove(0);
                self.head = 0;
            }
        }
        Some(x)
    }
    pub fn pop_back(&mut self) -> Option<T> {
        let x = self.last()?.clone();
        self.truncate(self.len - 1);
        Some(x)
    }
    pub fn truncate(&mut self, n: usize) {
        if n >= self.len {
            return;
        }
        if n == 0 {
            self.clear();
            return;
        }
        let end = self.head + n;
        let chunks = end.div_ceil(CHUNK);
        self.chunks.truncate(chunks);
        let keep = end - (chunks - 1) * CHUNK;
        if let Some(last) = self.chunks.last_mut() {
            if last.len() > keep {
                Rc::make_mut(last).truncate(keep);
            }
        }
        self.len = n;
    }
    pub fn extend(&mut self, items: impl IntoIterator<Item = T>) {
        for x in items {
            self.push(x);
        }
    }
    /// A copy as a plain vector (tests, reports).
    pub fn to_vec(&self) -> Vec<T> {
        self.iter().cloned().collect()
    }
}

impl<T> std::ops::Index<usize> for Chunked<T> {
    type Output = T;
    fn index(&self, i: usize) -> &T {
        match self.get(i) {
            Some(x) => x,
            None => panic!("index {i} out of range for length {}", self.len),
        }
    }
}

impl<T: Clone> std::ops::IndexMut<usize> for Chunked<T> {
    fn index_mut(&mut self, i: usize) -> &mut T {
        let len = self.len;
        match self.get_mut(i) {
            Some(x) => x,
            None => panic!("index {i} out of range for length {len}"),
        }
    }
}

impl<T: Clone> FromIterator<T> for Chunked<T> {
    fn from_iter<I: IntoIterator<Item = T>>(items: I) -> Self {
        let mut c = Chunked::new();
        c.extend(items);
        c
    }
}

impl<'a, T> IntoIterator for &'a Chunked<T> {
    type Item = &'a T;
    type IntoIter = Box<dyn DoubleEndedIterator<Item = &'a T> + 'a>;
    fn into_iter(self) -> Self::IntoIter {
        Box::new(self.iter())
    }
}

/// Entries per leaf of a [`ChunkMap`] when it splits; an append past the end starts a new leaf instead, so maps
/// filled in key order (rowids) have full leaves.
const LEAF: usize = 128;

/// A sorted map in shared leaves: the table rows and row locations of every node's database. Like `Chunked`, a
/// clone copies one pointer per leaf and a write copies only the leaf it touches. Leaves are never empty.
#[derive(Clone)]
pub struct ChunkMap<K, V> {
    leaves: Vec<Rc<Vec<(K, V)>>>,
    len: usize,
}

impl<K, V> Default for ChunkMap<K, V> {
    fn default() -> Self {
        ChunkMap { leaves: Vec::new(), len: 0 }
    }
}

impl<K: std::fmt::Debug, V: std::fmt::Debug> std::fmt::Debug for ChunkMap<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<K: PartialEq, V: PartialEq> PartialEq for ChunkMap<K, V> {
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len && self.iter().eq(other.iter())
    }
}

impl<K, V> ChunkMap<K, V> {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&K, &V)> + '_ {
        self.leaves.iter().flat_map(|l| l.iter().map(|(k, v)| (k, v)))
    }
    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &K> + '_ {
        self.iter().map(|(k, _)| k)
    }
    pub fn values(&self) -> impl DoubleEndedIterator<Item = &V> + '_ {
        self.iter().map(|(_, v)| v)
    }
}

impl<K: Ord, V> ChunkMap<K, V> {
    /// The leaf that holds `k` or where it would go, and its position in that leaf.
    fn find(&self, k: &K) -> (usize, Result<usize, usize>) {
        // Rowids grow, so most inserts and lookups land in the last leaf: try it first (PostgreSQL's B-tree keeps
        // its rightmost leaf at hand for the same reason). Searching the leaves reads the last key of a dozen
        // leaves spread over the heap at 256k rows; the last leaf is the one just written.
        if let Some(l) = self.leaves.last() {
            if l.first().is_some_and(|(first, _)| first <= k) {
                return (self.leaves.len() - 1, l.binary_search_by(|(x, _)| x.cmp(k)));
            }
        }
        let leaf = self.leaves.partition_point(|l| l.last().is_some_and(|(last, _)| last < k));
        let leaf = leaf.min(self.leaves.len().saturating_sub(1));
        match self.leaves.get(leaf) {
            Some(l) => (leaf, l.binary_search_by(|(x, _)| x.cmp(k))),
            None => (0, Err(0)),
        }
    }
    pub fn get(&self, k: &K) -> Option<&V> {
        let (leaf, at) = self.find(k);
        self.leaves.get(leaf)?.get(at.ok()?).map(|(_, v)| v)
    }
    pub fn contains_key(&self, k: &K) -> bool {
        self.get(k).is_some()
    }
    /// Entries with keys at or after `k`, in order.
    pub fn range_from<'a>(&'a self, k: &K) -> impl Iterator<Item = (&'a K, &'a V)> + 'a {
        let (leaf, at) = self.find(k);
        let at = match at {
            Ok(i) | Err(i) => i,
        };
        self.leaves.iter().enumerate().skip(leaf).flat_map(move |(i, l)| {
            let from = if i == leaf { at } else { 0 };
            l.get(from..).unwrap_or(&[]).iter().map(|(k, v)| (k, v))
        })
    }
}

impl<K: Ord + Clone, V: Clone> ChunkMap<K, V> {
    pub fn get_mut(&mut self, k: &K) -> Option<&mut V> {
        let (leaf, at) = self.find(k);
        let at = at.ok()?;
        Rc::make_mut(self.leaves.get_mut(leaf)?).get_mut(at).map(|(_, v)| v)
    }
    pub fn insert(&mut self, k: K, v: V) -> Option<V> {
        let (leaf, at) = self.find(&k);
        let last_leaf = leaf + 1 == self.leaves.len();
        let Some(l) = self.leaves.get_mut(leaf) else {
            self.leaves.push(Rc::new(vec![(k, v)]));
            self.len += 1;
            return None;
        };
        match at {
            Ok(i) => Some(std::mem::replace(&mut Rc::make_mut(l)[i].1, v)),
            Err(i) => {
                self.len += 1;
                if l.len() >= LEAF {
                    if i == l.len() && last_leaf {
                        // Appending in key order: a new leaf, leaving this one full.
                        self.leaves.push(Rc::new(vec![(k, v)]));
                        return None;
                    }
                    let right = Rc::make_mut(l).split_off(LEAF / 2);
                    self.leaves.insert(leaf + 1, Rc::new(right));
                    let (leaf, i) = if i > LEAF / 2 { (leaf + 1, i - LEAF / 2) } else { (leaf, i) };
                    Rc::make_mut(&mut self.leaves[leaf]).insert(i, (k, v));
                } else {
                    Rc::make_mut(l).insert(i, (k, v));
                }
                None
            }
        }
    }
    pub fn remove(&mut self, k: &K) -> Option<V> {
        let (leaf, at) = self.find(k);
        let at = at.ok()?;
        let l = Rc::make_mut(self.leaves.get_mut(leaf)?);
        let (_, v) = l.remove(at);
        if l.is_empty() {
            self.leaves.remove(leaf);
        }
        self.len -= 1;
        Some(v)
    }
}

impl<'a, K, V> IntoIterator for &'a ChunkMap<K, V> {
    type Item = (&'a K, &'a V);
    type IntoIter = Box<dyn DoubleEndedIterator<Item = (&'a K, &'a V)> + 'a>;
    fn into_iter(self) -> Self::IntoIter {
        Box::new(self.iter())
    }
}

impl<K: Ord + Clone, V: Clone> FromIterator<(K, V)> for ChunkMap<K, V> {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(items: I) -> Self {
        let mut m = ChunkMap::new();
        for (k, v) in items {
            m.insert(k, v);
        }
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same operations on a `Chunked` and a `VecDeque` give the same contents, and clones taken on the way are
    /// not changed by later writes to the original.
    #[test]
    fn behaves_like_a_deque_and_clones_are_independent() {
        let mut c: Chunked<u32> = Chunked::new();
        let mut d = std::collections::VecDeque::new();
        let mut saved: Vec<(Chunked<u32>, Vec<u32>)> = Vec::new();
        let mut x: u64 = 7;
        for step in 0..20_000u32 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            match x % 10 {
                0 => {
                    assert_eq!(c.pop_front(), d.pop_front());
                }
                1 => {
                    assert_eq!(c.pop_back(), d.pop_back());
                }
                2 if !d.is_empty() => {
                    let i = (x >> 8) as usize % d.len();
                    c[i] = step;
                    d[i] = step;
                }
                3 if x % 97 == 3 => {
                    let n = (x >> 8) as usize % (d.len() + 1);
                    c.truncate(n);
                    d.truncate(n);
                }
                _ => {
                    c.push(step);
                    d.push_back(step);
                }
            }
            assert_eq!(c.len(), d.len());
            if step % 997 == 0 {
                saved.push((c.clone(), d.iter().copied().collect()));
            }
        }
        assert!(c.iter().eq(d.iter()));
        assert!(c.iter().rev().eq(d.iter().rev()));
        let sorted: Chunked<u32> = (0..1_000).map(|i| i * 2).collect();
        for x in [0, 1, 2, 511, 512, 513, 1_998, 1_999, 5_000] {
            let want = (0..1_000u32).map(|i| i * 2).collect::<Vec<_>>().partition_point(|&y| y < x);
            assert_eq!(sorted.partition_point(|&y| y < x), want, "partition_point at {x}");
        }
        for from in [0, 1, 255, 256, 300, d.len()] {
            assert!(c.iter_from(from).eq(d.iter().skip(from)), "iter_from({from})");
        }
        for (copy, want) in saved {
            assert_eq!(copy.to_vec(), want, "a clone changed after later writes to the original");
        }
    }

    /// The same inserts and removals on a `ChunkMap` and a `BTreeMap` give the same map; clones keep their contents.
    #[test]
    fn chunk_map_behaves_like_a_btreemap() {
        let mut m: ChunkMap<i64, u32> = ChunkMap::new();
        let mut b = std::collections::BTreeMap::new();
        let mut saved = Vec::new();
        let mut x: u64 = 11;
        for step in 0..30_000u32 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // Mostly in key order (rowids), some anywhere, some removals.
            let k = match x % 4 {
                0 => (x >> 8) as i64 % 5_000,
                _ => i64::from(step),
            };
            if x % 7 == 0 {
                assert_eq!(m.remove(&k), b.remove(&k));
            } else {
                assert_eq!(m.insert(k, step), b.insert(k, step));
            }
            if x % 11 == 0 {
                if let (Some(v), Some(w)) = (m.get_mut(&k), b.get_mut(&k)) {
                    *v += 1;
                    *w += 1;
                }
            }
            assert_eq!(m.len(), b.len());
            if step % 1_999 == 0 {
                saved.push((m.clone(), b.clone()));
            }
        }
        assert!(m.iter().eq(b.iter()));
        assert_eq!(m.keys().next_back(), b.keys().next_back());
        // The low keys (many leaves) and the last ones (the last leaf, which `find` tries first).
        for k in (-3..5_010).chain(29_000..30_010) {
            assert_eq!(m.get(&k), b.get(&k));
            assert!(m.range_from(&k).take(3).eq(b.range(k..).take(3)), "range_from({k})");
        }
        for (copy, want) in saved {
            assert!(copy.iter().eq(want.iter()), "a clone changed after later writes to the original");
        }
    }
}
