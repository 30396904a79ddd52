//! The network between nodes and clients: a latency range (uniform jitter between min and max), loss, duplication
//! and reordering probabilities, each of which a link may set for itself (`NetworkSpec::links`), and cut links.
//! Cuts are directed, so a one-way partition (A can reach B, B cannot reach A) is just one cut; a symmetric
//! partition is two. Everything can change during a run.
//!
//! Every directed link keeps order (FIFO), as the TCP connections that PostgreSQL and MySQL replicate over do: a
//! message never arrives before one sent earlier on the same link. Only the `reorder` knob breaks that, for the
//! messages it picks. Messages on different links are independent, so they still overtake each other (DDIA 5.2's
//! consistent prefix anomaly needs exactly that).

use crate::scenario::{LinkParams, NetworkSpec};
use crate::vecmap::VecMap;
use crate::world::rng::SimRng;
use crate::world::time::{ms, Micros};

#[derive(Clone, Debug)]
pub struct Network {
    spec: NetworkSpec,
    /// Endpoint names: nodes first, then clients (the simulation's `Endpoint` order).
    names: Vec<String>,
    /// Directed cuts (from, to) by endpoint index (a set: few entries, so a sorted `Vec`).
    cuts: VecMap<(usize, usize), ()>,
    /// The settings of every directed link that `spec.links` changes, by endpoint index.
    overrides: VecMap<(usize, usize), LinkParams>,
    /// Per directed link, at `from * names.len() + to`: when the latest in-order message put on it arrives, or is
    /// dropped (a lost message holds up those behind it until its own due time: arrows on a link never cross).
    /// Sized once for every endpoint, since endpoints never come or go (nodes that join later are present, absent,
    /// from the start).
    last_arrival: Vec<Micros>,
}

impl Network {
    pub fn new(spec: NetworkSpec, names: Vec<String>) -> Self {
        let endpoints = names.len();
        let mut net = Network {
            spec: NetworkSpec::default(),
            names,
            cuts: VecMap::default(),
            overrides: VecMap::new(),
            last_arrival: vec![0; endpoints.saturating_mul(endpoints)],
        };
        net.set_spec(spec);
        net
    }

    pub fn spec(&self) -> &NetworkSpec {
        &self.spec
    }

    /// New settings from now on (cuts stay as they are).
    pub fn set_spec(&mut self, spec: NetworkSpec) {
        self.overrides.clear();
        for l in &spec.links {
            let (Some(a), Some(b)) = (self.index(&l.from), self.index(&l.to)) else { continue };
            for (x, y) in [(a, b), (b, a)] {
                self.overrides.insert((x, y), spec.params(&self.names[x], &self.names[y]));
            }
        }
        self.spec = spec;
    }

    /// How a message from one endpoint (by index) to another travels.
    pub fn params(&self, from: usize, to: usize) -> LinkParams {
        self.overrides.get(&(from, to)).copied().unwrap_or_else(|| self.spec.base())
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

    /// One-way delay for a message on a link: uniform in [min, max] at microsecond resolution; with probability
    /// `reorder` the message is held back by up to another `max` and is `reordered`: it keeps its own time, so it
    /// can overtake or be overtaken on its link. Draws the same random numbers whatever the link's history.
    pub fn sample(p: &LinkParams, rng: &mut SimRng) -> (Micros, bool) {
        let lo = ms(p.latency_min_ms);
        let hi = ms(p.latency_max_ms);
        let mut latency = rng.range_inclusive(lo, hi);
        let reordered = rng.chance(p.reorder);
        if reordered {
            latency = latency.saturating_add(rng.range_inclusive(0, hi.max(1)));
        }
        (latency.max(1), reordered)
    }

    /// When a message put on `from -> to` that would arrive at `arrival` really arrives: not before the link's
    /// previous in-order message. A `reordered` message keeps its own time and holds nothing up.
    pub fn in_order_arrival(&mut self, from: usize, to: usize, arrival: Micros, reordered: bool) -> Micros {
        let n = self.names.len();
        if reordered || from >= n || to >= n {
            return arrival;
        }
        let Some(last) = self.last_arrival.get_mut(from * n + to) else { return arrival };
        *last = (*last).max(arrival);
        *last
    }
}

/// Network settings edited from what a person typed (the playground's Network tab): each edit gives the whole new
/// setting, or `None` when the text does not read as a number (then nothing changes).
pub mod edit {
    use crate::scenario::NetworkSpec;

    /// The largest latency the scenario format accepts (ms).
    pub const MAX_LATENCY_MS: u64 = 60_000;

    /// One editable number of the settings.
    #[derive(Clone, Copy, PartialEq)]
    pub enum Field {
        Min,
        Max,
        /// Probabilities, edited as percentages.
        Loss,
        Duplicate,
        Reorder,
    }

    impl Field {
        /// `spec` with this field set from what a person typed (`None`: unreadable, change nothing). Latencies keep
        /// min <= max by moving the other bound.
        pub fn set_global(self, spec: &NetworkSpec, typed: &str) -> Option<NetworkSpec> {
            let mut s = spec.clone();
            match self {
                Field::Min | Field::Max => {
                    let (min, max) = bounds(self, (s.latency_min_ms, s.latency_max_ms), typed)?;
                    (s.latency_min_ms, s.latency_max_ms) = (min, max);
                }
                Field::Loss => s.loss = percent(typed)?,
                Field::Duplicate => s.duplicate = percent(typed)?,
                Field::Reorder => s.reorder = percent(typed)?,
            }
            Some(s)
        }

        pub fn set_link(self, spec: &NetworkSpec, i: usize, typed: &str) -> Option<NetworkSpec> {
            let mut s = spec.clone();
            let l = s.links.get_mut(i)?;
            // What the link does now (earlier entries for the same link included).
            let now = spec.params(&l.from, &l.to);
            match self {
                Field::Min | Field::Max => {
                    l.latency_ms = Some(bounds(self, (now.latency_min_ms, now.latency_max_ms), typed)?);
                }
                Field::Loss => l.loss = Some(percent(typed)?),
                Field::Duplicate => l.duplicate = Some(percent(typed)?),
                Field::Reorder => l.reorder = Some(percent(typed)?),
            }
            Some(s)
        }

        /// Is it edited as a percentage (else milliseconds)?
        pub fn is_percent(self) -> bool {
            matches!(self, Field::Loss | Field::Duplicate | Field::Reorder)
        }

        /// The input's `max` and `step`.
        pub fn limits(self) -> (&'static str, &'static str) {
            if self.is_percent() {
                ("100", "0.1")
            } else {
                ("60000", "1")
            }
        }

        /// The value a field shows: milliseconds, or a percentage.
        pub fn shown(self, spec: &NetworkSpec, link: Option<usize>) -> String {
            let p = match link.and_then(|i| spec.links.get(i)) {
                Some(l) => spec.params(&l.from, &l.to),
                None => spec.base(),
            };
            match self {
                Field::Min => p.latency_min_ms.to_string(),
                Field::Max => p.latency_max_ms.to_string(),
                Field::Loss => pct(p.loss),
                Field::Duplicate => pct(p.duplicate),
                Field::Reorder => pct(p.reorder),
            }
        }
    }

    fn bounds(f: Field, (min, max): (u64, u64), typed: &str) -> Option<(u64, u64)> {
        let v = typed.trim().parse::<u64>().ok()?.min(MAX_LATENCY_MS);
        Some(if f == Field::Min { (v, max.max(v)) } else { (min.min(v), v) })
    }

    /// "2.5" (percent) -> 0.025, within 0..=1.
    pub fn percent(typed: &str) -> Option<f64> {
        let v = typed.trim().trim_end_matches('%').trim().parse::<f64>().ok().filter(|v| v.is_finite())?;
        Some((v.clamp(0.0, 100.0) * 10.0).round() / 1000.0)
    }

    /// 0.025 -> "2.5".
    pub fn pct(p: f64) -> String {
        let tenths = (p * 1000.0).round() as u64;
        if tenths % 10 == 0 {
            (tenths / 10).to_string()
        } else {
            [(tenths / 10).to_string(), ".".into(), (tenths % 10).to_string()].concat()
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use crate::scenario::LinkSpec;

        #[test]
        fn percentages_read_and_print_in_tenths() {
            assert_eq!(percent("2.5"), Some(0.025));
            assert_eq!(percent(" 150 "), Some(1.0));
            assert_eq!(percent("-3"), Some(0.0));
            assert_eq!(percent("abc"), None);
            assert_eq!(percent("NaN"), None);
            assert_eq!(pct(0.025), "2.5");
            assert_eq!(pct(0.1), "10");
            assert_eq!(pct(0.0), "0");
        }

        #[test]
        fn latency_bounds_stay_ordered() {
            assert_eq!(bounds(Field::Min, (5, 20), "30"), Some((30, 30)));
            assert_eq!(bounds(Field::Max, (5, 20), "3"), Some((3, 3)));
            assert_eq!(bounds(Field::Max, (5, 20), "99999"), Some((5, MAX_LATENCY_MS)));
            assert_eq!(bounds(Field::Max, (5, 20), ""), None);
        }

        #[test]
        fn a_link_edit_changes_that_link_only() {
            let spec = NetworkSpec {
                links: vec![LinkSpec {
                    from: "n1".into(),
                    to: "n3".into(),
                    both_ways: true,
                    latency_ms: None,
                    loss: None,
                    duplicate: None,
                    reorder: None,
                }],
                ..NetworkSpec::default()
            };
            let s = Field::Max.set_link(&spec, 0, "120").unwrap();
            assert_eq!(s.links[0].latency_ms, Some((5, 120)));
            assert_eq!((s.latency_min_ms, s.latency_max_ms), (5, 20));
            assert_eq!(Field::Loss.set_link(&spec, 0, "10").unwrap().links[0].loss, Some(0.1));
            assert!(Field::Loss.set_link(&spec, 1, "10").is_none(), "no such link");
            assert_eq!(Field::Max.shown(&s, Some(0)), "120");
            assert_eq!(Field::Max.shown(&s, None), "20");
        }
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
            let l = Network::sample(&n.params(0, 1), &mut rng).0;
            assert!((5_000..=20_000).contains(&l));
        }
    }

    #[test]
    fn a_link_keeps_order_and_other_links_do_not_wait_for_it() {
        let mut n = net();
        // n1 -> n2: a slow message, then a fast one sent later, which waits for it.
        assert_eq!(n.in_order_arrival(0, 1, 20_000, false), 20_000);
        assert_eq!(n.in_order_arrival(0, 1, 7_000, false), 20_000, "never before the earlier message");
        assert_eq!(n.in_order_arrival(0, 1, 25_000, false), 25_000, "a later arrival is its own");
        // The other direction, and other links, are independent connections.
        assert_eq!(n.in_order_arrival(1, 0, 6_000, false), 6_000);
        assert_eq!(n.in_order_arrival(0, 2, 6_000, false), 6_000);
        assert_eq!(n.in_order_arrival(3, 0, 1, false), 1, "clients have links too");
        // The reorder knob's pick keeps its time and holds nothing up.
        assert_eq!(n.in_order_arrival(0, 1, 9_000, true), 9_000);
        assert_eq!(n.in_order_arrival(0, 1, 40_000, true), 40_000);
        assert_eq!(n.in_order_arrival(0, 1, 26_000, false), 26_000, "not held behind a reordered message");
        // Out of range (no such endpoint): the time as it is, no panic.
        assert_eq!(n.in_order_arrival(9, 0, 5, false), 5);
        assert_eq!(n.in_order_arrival(0, 1, Micros::MAX, false), Micros::MAX, "saturated times stay at the end");
    }

    #[test]
    fn a_message_is_reordered_only_when_the_knob_says_so() {
        let mut rng = SimRng::new(5);
        let p = NetworkSpec::default().base();
        assert!((0..1000).all(|_| !Network::sample(&p, &mut rng).1), "reorder 0: never");
        let p = NetworkSpec { reorder: 1.0, ..NetworkSpec::default() }.base();
        for _ in 0..1000 {
            let (latency, reordered) = Network::sample(&p, &mut rng);
            assert!(reordered && (5_000..=40_000).contains(&latency), "held back by up to another max: {latency}");
        }
    }

    #[test]
    fn a_link_entry_changes_only_its_link_and_only_the_fields_it_sets() {
        use crate::scenario::LinkSpec;
        let link = |from: &str, to: &str, both_ways, latency_ms, loss| LinkSpec {
            from: from.into(),
            to: to.into(),
            both_ways,
            latency_ms,
            loss,
            duplicate: None,
            reorder: None,
        };
        let spec = NetworkSpec {
            loss: 0.1,
            links: vec![link("n1", "n3", true, Some((80, 120)), None), link("n3", "n1", false, None, Some(0.5))],
            ..NetworkSpec::default()
        };
        let mut n = net();
        n.set_spec(spec);
        let p13 = n.params(0, 2);
        assert_eq!((p13.latency_min_ms, p13.latency_max_ms, p13.loss), (80, 120, 0.1), "n1->n3: between only");
        let p31 = n.params(2, 0);
        assert_eq!((p31.latency_min_ms, p31.latency_max_ms, p31.loss), (80, 120, 0.5), "n3->n1: both entries");
        let p12 = n.params(0, 1);
        assert_eq!((p12.latency_min_ms, p12.latency_max_ms, p12.loss), (5, 20, 0.1), "other links keep the defaults");
        let mut rng = SimRng::new(3);
        assert!((0..500).all(|_| (80_000..=120_000).contains(&Network::sample(&p13, &mut rng).0)));
        n.set_spec(NetworkSpec::default());
        assert_eq!(n.params(0, 2).latency_max_ms, 20, "new settings replace the old links");
    }
}
