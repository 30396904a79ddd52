//! Consistent hashing (DDIA 5.4, "Leaderless replication", and Dynamo's partitioning): where a key lives.
//!
//! Every replica owns a few points (tokens) on a ring of 64-bit positions, placed by hashing its id with a token
//! number. A key is hashed onto the same ring; walking clockwise from the key's position, the first `n` distinct
//! replicas met are the key's home replicas, and the replicas after them are its fallbacks (where a sloppy
//! quorum sends writes it cannot deliver home). Adding or removing a replica only moves the keys next to its
//! tokens. The hash is FNV-1a over the bytes: portable and the same on every platform and in the browser, so a
//! run's placement never depends on the machine.

/// Points each replica owns on the ring: a few, so that keys spread evenly over three or five replicas.
pub const TOKENS_PER_NODE: u64 = 8;

/// FNV-1a, 64 bits.
pub fn hash(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    // FNV's low bits mix poorly for short inputs; a final avalanche (SplitMix64's) spreads them over the ring.
    h = (h ^ (h >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    h ^ (h >> 31)
}

/// The ring: (position, node index), sorted by position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ring {
    pub points: Vec<(u64, usize)>,
    pub nodes: usize,
}

impl Ring {
    /// A ring of the replicas with these ids (node index = position in `ids`; `None`: not a replica).
    pub fn new(ids: &[Option<&str>]) -> Ring {
        let mut points: Vec<(u64, usize)> = Vec::new();
        for (i, id) in ids.iter().enumerate() {
            let Some(id) = id else { continue };
            for t in 0..TOKENS_PER_NODE {
                points.push((hash(format!("{id}#{t}").as_bytes()), i));
            }
        }
        crate::sql::sort_values(&mut points);
        Ring { points, nodes: ids.iter().filter(|i| i.is_some()).count() }
    }

    /// Every replica, in the order met walking clockwise from the key's position: the first n are its home.
    pub fn preference_list(&self, key: &str) -> Vec<usize> {
        let h = hash(key.as_bytes());
        let start = self.points.partition_point(|(p, _)| *p < h);
        let mut out: Vec<usize> = Vec::with_capacity(self.nodes);
        for k in 0..self.points.len() {
            let node = self.points[(start + k) % self.points.len()].1;
            if !out.contains(&node) {
                out.push(node);
                if out.len() == self.nodes {
                    break;
                }
            }
        }
        out
    }

    /// Position of a key on the ring as a fraction of the circle (for drawing).
    pub fn angle_of(key: &str) -> f64 {
        hash(key.as_bytes()) as f64 / u64::MAX as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preference_lists_hold_every_replica_once_and_are_stable() {
        let ring = Ring::new(&[Some("a"), Some("b"), None, Some("c")]);
        for k in ["x", "y", "kv:1", "carts:\"c1\""] {
            let p = ring.preference_list(k);
            assert_eq!(p.len(), 3);
            assert!(!p.contains(&2));
            assert_eq!(p, ring.preference_list(k));
        }
        // The hash is fixed: a change would move every key in every recorded run.
        assert_eq!(hash(b"a"), hash(b"a"));
        assert_ne!(hash(b"a"), hash(b"b"));
    }
}
