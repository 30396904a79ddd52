//! The network between nodes and clients: a latency range (uniform jitter between min and max), loss, duplication
//! and reordering probabilities, and cut links. Cuts are directed, so a one-way partition (A can reach B, B cannot
//! reach A) is just one cut; a symmetric partition is two. Everything can change during a run.

use crate::rng::SimRng;
use crate::scenario::NetworkSpec;
use crate::time::{ms, Micros};
use crate::vecmap::VecMap;

#[derive(Clone, Debug)]
pub struct Network {
    pub spec: NetworkSpec,
    /// Endpoint names: nodes first, then clients (the simulation's `Endpoint` order).
    names: Vec<String>,
    /// Directed cuts (from, to) by endpoint index (a set: few entries, so a sorted `Vec`).
    cuts: VecMap<(usize, usize), ()>,
}

impl Network {
    pub fn new(spec: NetworkSpec, names: Vec<String>) -> Self {
        Network { spec, names, cuts: VecMap::default() }
    }

    fn index(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }

    pub fn can_reach(&self, from: usize, to: usize) -> bool {
        !self.cuts.contains_key(&(from, to))
    }

    /// Is the link between two named endpoints cut in each direction? (a->b, b->a)
    pub fn link_state(&self, a: &str, b: &str) -> (bool, bool) {
        match (self.index(a), self.index(b)) {
            (Some(a), Some(b)) => (self.cuts.contains_key(&(a, b)), self.cuts.contains_key(&(b, a))),
            _ => (false, false),
        }
    }

    pub fn has_cuts(&self) -> bool {
        !self.cuts.is_empty()
    }

    /// Endpoints in different groups can no longer reach each other (with `one_way`, only messages from an
    /// earlier group to a later one are cut). Endpoints named in no group keep all their links.
    pub fn partition(&mut self, groups: &[Vec<String>], one_way: bool) {
        for (gi, g) in groups.iter().enumerate() {
            for h in &groups[gi + 1..] {
                for a in g {
                    for b in h {
                        if let (Some(a), Some(b)) = (self.index(a), self.index(b)) {
                            self.cuts.insert((a, b), ());
                            if !one_way {
                                self.cuts.insert((b, a), ());
                            }
                        }
                    }
                }
            }
        }
    }

    pub fn heal_link(&mut self, a: &str, b: &str) {
        if let (Some(a), Some(b)) = (self.index(a), self.index(b)) {
            self.cuts.remove(&(a, b));
            self.cuts.remove(&(b, a));
        }
    }

    pub fn heal_all(&mut self) {
        self.cuts.clear();
    }

    /// One-way delay for a message: uniform in [min, max] at microsecond resolution; with probability
    /// `reorder` the message is held back by up to another `max`, so it can overtake or be overtaken.
    pub fn sample_latency(&self, rng: &mut SimRng) -> Micros {
        let lo = ms(self.spec.latency_min_ms);
        let hi = ms(self.spec.latency_max_ms);
        let mut latency = rng.range_inclusive(lo, hi);
        if rng.chance(self.spec.reorder) {
            latency += rng.range_inclusive(0, hi.max(1));
        }
        latency.max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net() -> Network {
        Network::new(NetworkSpec::default(), vec!["n1".into(), "n2".into(), "n3".into(), "alice".into()])
    }

    #[test]
    fn symmetric_partition_cuts_both_ways_between_groups_only() {
        let mut n = net();
        n.partition(&[vec!["n1".into()], vec!["n2".into(), "n3".into()]], false);
        assert!(!n.can_reach(0, 1) && !n.can_reach(1, 0) && !n.can_reach(0, 2));
        assert!(n.can_reach(1, 2), "nodes in the same group still talk");
        assert!(n.can_reach(3, 0), "a client named in no group keeps its links");
        n.heal_all();
        assert!(n.can_reach(0, 1));
    }

    #[test]
    fn one_way_partition_cuts_one_direction() {
        let mut n = net();
        n.partition(&[vec!["n1".into()], vec!["n2".into()]], true);
        assert!(!n.can_reach(0, 1));
        assert!(n.can_reach(1, 0));
        assert_eq!(n.link_state("n1", "n2"), (true, false));
        n.heal_link("n2", "n1");
        assert!(n.can_reach(0, 1));
    }

    #[test]
    fn latency_stays_in_range_without_reordering() {
        let n = net();
        let mut rng = SimRng::new(1);
        for _ in 0..1000 {
            let l = n.sample_latency(&mut rng);
            assert!((5_000..=20_000).contains(&l));
        }
    }
}
