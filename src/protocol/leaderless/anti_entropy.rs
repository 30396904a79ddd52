//! Anti-entropy (DDIA 5.4, "Read repair and anti-entropy"), with Merkle trees as Dynamo and Riak use them.
//!
//! Every `anti_entropy_ms` each replica picks another (round robin) and compares the keys both are home
//! replicas of. Each side hashes those keys into a fixed number of leaves (by the key's hash), a leaf's hash
//! covering every key in it and every version of each; inner nodes hash their two children, up to a root. The
//! first replica sends its tree; the second walks both trees from the root and descends only into branches whose
//! hashes differ, so two replicas that agree exchange one tree and nothing else. For the leaves that differ, the
//! second replica sends its entries and the first merges them (versions it lacks, or newer ones), then sends its
//! own entries for the same leaves back. Unlike read repair this heals keys nobody reads, at the cost of a
//! background process and a delay of up to one period. The order in which it copies is not the order of writes.

use super::versions::Sibling;
use super::*;

/// Leaves of each tree: a power of two.
pub const LEAVES: usize = 16;

/// A Merkle tree: `levels[0]` is the root, the last level the leaves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MerkleTree {
    pub levels: Vec<Vec<u64>>,
}

impl MerkleTree {
    pub fn hashes(&self) -> usize {
        self.levels.iter().map(Vec::len).sum()
    }

    fn build(leaves: Vec<u64>) -> MerkleTree {
        let mut levels = vec![leaves];
        while levels[0].len() > 1 {
            let up: Vec<u64> = levels[0]
                .chunks(2)
                .map(|p| {
                    let mut b = p[0].to_le_bytes().to_vec();
                    b.extend_from_slice(&p.get(1).copied().unwrap_or(0).to_le_bytes());
                    ring::hash(&b)
                })
                .collect();
            levels.insert(0, up);
        }
        MerkleTree { levels }
    }

    /// The leaves where the two trees differ, found by descending only into differing branches.
    pub fn differing_leaves(&self, other: &MerkleTree) -> Vec<usize> {
        if self.levels.len() != other.levels.len() {
            return (0..LEAVES).collect();
        }
        let mut frontier = vec![0usize];
        for depth in 0..self.levels.len() {
            let differ: Vec<usize> =
                frontier.into_iter().filter(|i| self.levels[depth].get(*i) != other.levels[depth].get(*i)).collect();
            if depth + 1 == self.levels.len() {
                return differ;
            }
            frontier = differ.iter().flat_map(|i| [2 * i, 2 * i + 1]).collect();
        }
        Vec::new()
    }
}

/// The leaf a key falls in.
pub fn leaf_of(key: &Key) -> usize {
    (ring::hash(key.ring_key().as_bytes()) % LEAVES as u64) as usize
}

fn version_hash(key: &Key, set: &[Sibling]) -> u64 {
    let mut text = key.ring_key();
    for s in set {
        for (a, c) in &s.vv {
            text.push_str(&format!("|{a}:{c}"));
        }
        text.push_str(&format!("|@{}:{}", s.dot.0, s.dot.1));
        match &s.row {
            Some(row) => {
                for (c, v) in row {
                    text.push_str(&format!("|{c}={}", v.to_json()));
                }
            }
            None => text.push_str("|deleted"),
        }
        text.push_str(&format!("|-{}", s.removed.join(",")));
    }
    ring::hash(text.as_bytes())
}

impl Cluster {
    /// The keys `a` holds that both `a` and `b` are home replicas of.
    fn shared_keys(&self, a: usize, b: usize) -> Vec<(&Key, &Vec<Sibling>)> {
        self.nodes[a]
            .data
            .iter()
            .filter(|(k, _)| {
                let home = self.home(k);
                home.contains(&a) && home.contains(&b)
            })
            .collect()
    }

    /// Node `a`'s Merkle tree over the keys it shares with `b`.
    pub fn merkle_tree(&self, a: usize, b: usize) -> MerkleTree {
        let mut leaves = vec![0u64; LEAVES];
        for (k, set) in self.shared_keys(a, b) {
            let l = leaf_of(k);
            let mut bytes = leaves[l].to_le_bytes().to_vec();
            bytes.extend_from_slice(&version_hash(k, set).to_le_bytes());
            leaves[l] = ring::hash(&bytes);
        }
        MerkleTree::build(leaves)
    }

    fn entries_in(&self, a: usize, b: usize, leaves: &[usize]) -> Vec<(Key, Vec<Sibling>)> {
        self.shared_keys(a, b)
            .into_iter()
            .filter(|(k, _)| leaves.contains(&leaf_of(k)))
            .map(|(k, s)| (k.clone(), s.clone()))
            .collect()
    }
}

/// Node `node` starts a round with the next replica in turn: it sends its tree.
pub fn start_round(cluster: &mut Cluster, node: usize) -> Vec<Action> {
    let peers: Vec<usize> = (0..cluster.nodes.len()).filter(|p| *p != node).collect();
    if peers.is_empty() {
        return Vec::new();
    }
    let n = &mut cluster.nodes[node];
    let peer = peers[(n.ae_round % peers.len() as u64) as usize];
    n.ae_round += 1;
    let tree = cluster.merkle_tree(node, peer);
    vec![send(Endpoint::Node(node), Endpoint::Node(peer), Msg::Tree { tree })]
}

/// The peer compares trees and sends its entries of the leaves that differ.
pub fn on_tree(cluster: &mut Cluster, me: usize, peer: usize, theirs: &MerkleTree) -> Vec<Action> {
    let leaves = cluster.merkle_tree(me, peer).differing_leaves(theirs);
    cluster.nodes[me].ae_last = Some((peer, leaves.clone()));
    if leaves.is_empty() {
        return Vec::new();
    }
    let entries = cluster.entries_in(me, peer, &leaves);
    vec![send(Endpoint::Node(me), Endpoint::Node(peer), Msg::Diff { leaves, entries })]
}

/// The first replica merges the peer's entries and sends its own for the same leaves.
pub fn on_diff(
    cluster: &mut Cluster,
    me: usize,
    peer: usize,
    leaves: &[usize],
    entries: Vec<(Key, Vec<Sibling>)>,
) -> Vec<Action> {
    cluster.nodes[me].ae_last = Some((peer, leaves.to_vec()));
    let mine = cluster.entries_in(me, peer, leaves);
    for (k, vs) in &entries {
        for v in vs {
            cluster.nodes[me].store(k, v);
        }
    }
    vec![send(Endpoint::Node(me), Endpoint::Node(peer), Msg::Entries { entries: mine })]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_trees_differ_nowhere_and_one_leaf_is_found() {
        let a = MerkleTree::build(vec![1; LEAVES]);
        assert!(a.differing_leaves(&a).is_empty());
        let mut l = vec![1; LEAVES];
        l[5] = 9;
        assert_eq!(a.differing_leaves(&MerkleTree::build(l)), vec![5]);
    }
}
