//! Safety claims of replication, checked after every event (tests and `replsim soak`), not only at the end of a run.
//! Each claim concerns some scenarios (`Claim::concerns`) and is checked in those only:
//!
//! - `one-leader-per-epoch` (DDIA 5.1 failover): with epochs, at most one node acts as leader for a given epoch of
//!   a replication group (two leaders in one term is the split brain that epochs exist to rule out).
//! - `log-matching` (DDIA 5.1 replication log, with epochs): if two replicas of a group hold an entry at the same LSN
//!   written in the same epoch, they agree on the epochs of every entry before it (a follower's log is a prefix of
//!   its leader's, once divergent tails are discarded).
//! - `sync-writes-survive` (DDIA 5.1 synchronous replication): under sync mode with epochs, a write acknowledged to
//!   its client is never lost, whatever fails over: after every event the newest leader of its group holds it,
//!   and so does the final leader.
//! - `causal-order` (DDIA 5.3 multi-leader topologies, with `causality: "version-vectors"`): no leader applies a
//!   change before its causal predecessors (the earlier changes of its origin, and everything its version vector
//!   says its writer had seen), and none applies a change twice.
//! - `convergence` (eventual consistency), once every fault is healed and the cluster has been quiet long enough:
//!   single-leader with epochs (5.1), every running replica of a group has caught up with its leader and holds the
//!   same rows; multi-leader with a conflict strategy (5.3; `conflict: "none"` diverges on purpose), every running
//!   replica of every datacenter holds the same rows; leaderless with anti-entropy (5.4), every running home replica
//!   of a key holds the same versions of it.
//! - `siblings-keep-writes` (DDIA 5.4 "Detecting Concurrent Writes", `resolve: "siblings"`): after the heal, every
//!   acknowledged write is still held by a running replica, itself or a version whose writer had seen it: version
//!   vectors drop a version only for one that descends from it.

use crate::protocol::leaderless::spec::Resolve;
use crate::protocol::multi_leader::spec::{Causality, Conflict};
use crate::protocol::multi_leader::{self, causality};
use crate::protocol::single_leader::{Cluster, Node};
use crate::protocol::{Protocol, Status};
use crate::scenario::{Mode, Scenario};
use crate::vecmap::VecMap;
use crate::world::sim::Simulation;
use crate::world::time::Micros;

/// A claim the soak can be limited to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Claim {
    OneLeaderPerEpoch,
    LogMatching,
    SyncWritesSurvive,
    CausalOrder,
    Convergence,
    SiblingsKeepWrites,
}

impl Claim {
    pub const ALL: [Claim; 6] = [
        Claim::OneLeaderPerEpoch,
        Claim::LogMatching,
        Claim::SyncWritesSurvive,
        Claim::CausalOrder,
        Claim::Convergence,
        Claim::SiblingsKeepWrites,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Claim::OneLeaderPerEpoch => "one-leader-per-epoch",
            Claim::LogMatching => "log-matching",
            Claim::SyncWritesSurvive => "sync-writes-survive",
            Claim::CausalOrder => "causal-order",
            Claim::Convergence => "convergence",
            Claim::SiblingsKeepWrites => "siblings-keep-writes",
        }
    }

    /// Does this claim concern scenario `s` (the protocol and settings it is about)? Elsewhere it is not checked:
    /// without epochs two leaders may write the same LSNs (the split-brain lesson's point), `conflict: "none"` and
    /// `causality: "none"` diverge on purpose (Figure 5-9), and last write wins drops writes by design.
    pub fn concerns(self, s: &Scenario) -> bool {
        let leaderless = s.replication.leaderless.as_ref();
        let multi = s.multi_leader.as_ref();
        let single = leaderless.is_none() && multi.is_none();
        match self {
            // A multi-leader cluster's datacenters are single-leader groups: these hold inside each.
            Claim::OneLeaderPerEpoch | Claim::LogMatching => leaderless.is_none() && s.failover.epochs,
            Claim::SyncWritesSurvive => single && s.replication.mode == Mode::Sync && s.failover.epochs,
            Claim::CausalOrder => multi.is_some_and(|m| m.causality == Causality::VersionVectors),
            Claim::Convergence => {
                (single && s.failover.epochs)
                    || multi.is_some_and(|m| m.conflict != Conflict::None)
                    || leaderless.is_some_and(|l| l.anti_entropy_ms > 0)
            }
            Claim::SiblingsKeepWrites => leaderless.is_some_and(|l| l.resolve == Resolve::Siblings),
        }
    }

    pub fn parse(s: &str) -> Option<Claim> {
        Claim::ALL.into_iter().find(|c| c.name() == s)
    }
}

/// A claim that did not hold, and when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    pub claim: Claim,
    pub at: Micros,
    pub detail: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} broken at {} µs: {}", self.claim.name(), self.at, self.detail)
    }
}

/// Watches one run: call `after_event` after every step, then `at_end`.
#[derive(Clone, Debug, Default)]
pub struct Monitor {
    /// Which node led each (group, epoch) so far.
    leaders: VecMap<(usize, u64), usize>,
    /// `causal-order`, per multi-leader node: how many of its applied changes were checked, and the version vector
    /// they add up to.
    causal: Vec<(usize, Vec<u64>)>,
    /// The claims checked (empty: every claim).
    only: Vec<Claim>,
    /// `sync-writes-survive` after every event: the history entries before this one have finished (and been
    /// sorted into `acked` if they are acknowledged writes that logged something); per group, those writes, and
    /// the newest leader (node, epoch) and how many of them it was checked against.
    finished: usize,
    acked: VecMap<usize, Vec<usize>>,
    newest: VecMap<usize, (usize, u64, usize)>,
}

impl Monitor {
    pub fn new() -> Self {
        Monitor::default()
    }

    /// A monitor of `claims` only (empty: every claim).
    pub fn only(claims: &[Claim]) -> Self {
        Monitor { only: claims.to_vec(), ..Monitor::default() }
    }

    /// Does this monitor check `claim` on scenario `s`?
    pub fn checks(&self, claim: Claim, s: &Scenario) -> bool {
        (self.only.is_empty() || self.only.contains(&claim)) && claim.concerns(s)
    }

    /// Remember that `node` led `epoch` of `group` (tests plant a second leader with it).
    pub fn record_leader(&mut self, group: usize, epoch: u64, node: usize) {
        self.leaders.insert((group, epoch), node);
    }

    /// The per-event claims, right now.
    pub fn after_event(&mut self, sim: &Simulation) -> Result<(), Violation> {
        let now = sim.now();
        let s = &sim.scenario;
        if self.checks(Claim::CausalOrder, s) {
            if let Protocol::MultiLeader(c) = &sim.protocol {
                self.causal_order(c, now)?;
            }
        }
        let Some(c) = sim.protocol.single_leader() else { return Ok(()) };
        if self.checks(Claim::OneLeaderPerEpoch, s) {
            self.one_leader_per_epoch(c, now)?;
        }
        if self.checks(Claim::SyncWritesSurvive, s) {
            self.sync_writes_held(sim, c, now)?;
        }
        if self.checks(Claim::LogMatching, s) {
            log_matching(c, now)?;
        }
        Ok(())
    }

    fn one_leader_per_epoch(&mut self, c: &Cluster, now: Micros) -> Result<(), Violation> {
        for n in c.nodes.iter().filter(|n| n.acting_leader()) {
            let Some((epoch, _)) = n.leader_since else { continue };
            let group = c.partition_of[n.index];
            match self.leaders.get(&(group, epoch)) {
                Some(&other) if other != n.index => {
                    return Err(Violation {
                        claim: Claim::OneLeaderPerEpoch,
                        at: now,
                        detail: format!("{} and {} both lead epoch {epoch} of group {group}", c.nodes[other].id, n.id),
                    })
                }
                _ => {
                    self.leaders.insert((group, epoch), n.index);
                }
            }
        }
        Ok(())
    }

    /// `sync-writes-survive`, right now: the newest acting leader of each group (the highest epoch) holds every
    /// write acknowledged so far. A leader elected without one would serve reads that miss it, and discard it from
    /// the followers that have it, even if a later election happens to bring it back.
    fn sync_writes_held(&mut self, sim: &Simulation, c: &Cluster, now: Micros) -> Result<(), Violation> {
        while let Some(h) = sim.history.get(self.finished).filter(|h| h.end.is_some()) {
            if let Some(r) = h.result.as_ref().filter(|r| !h.read && r.ok && r.lsn.is_some()) {
                let group = r.served.first().map_or(0, |(g, _)| *g);
                let op = self.finished;
                match self.acked.get_mut(&group) {
                    Some(ops) => ops.push(op),
                    None => {
                        self.acked.insert(group, vec![op]);
                    }
                }
            }
            self.finished += 1;
        }
        for (group, ops) in self.acked.iter() {
            let newest = c
                .nodes
                .iter()
                .filter(|n| n.acting_leader() && c.partition_of[n.index] == *group)
                .filter_map(|n| n.leader_since.map(|(epoch, _)| (epoch, n.index)))
                .max();
            let Some((epoch, leader)) = newest else { continue };
            let from = match self.newest.get(group) {
                Some(&(l, e, checked)) if (l, e) == (leader, epoch) => checked,
                _ => 0,
            };
            let node = &c.nodes[leader];
            if let Some(op) = ops[from..].iter().find(|op| !node.origins.contains_key(op)) {
                return Err(Violation {
                    claim: Claim::SyncWritesSurvive,
                    at: now,
                    detail: format!(
                        "acknowledged write #{op} ({}) is not on {}, the leader of epoch {epoch}",
                        sim.history[*op].sql, node.id
                    ),
                });
            }
            self.newest.insert(*group, (leader, epoch, ops.len()));
        }
        Ok(())
    }

    /// `causal-order`: the changes each leader applied since the last event, in the order it applied them, each
    /// against the version vector of everything it had applied before.
    fn causal_order(&mut self, c: &multi_leader::Cluster, now: Micros) -> Result<(), Violation> {
        if self.causal.len() < c.state.len() {
            self.causal.resize(c.state.len(), (0, Vec::new()));
        }
        for (node, st) in c.state.iter().enumerate() {
            let (checked, vv) = &mut self.causal[node];
            for ch in st.applied.iter().skip(*checked) {
                if !causality::deliverable(vv, ch) {
                    let name = |i: usize| c.inner.nodes.get(i).map_or("?", |n| n.id.as_str());
                    return Err(Violation {
                        claim: Claim::CausalOrder,
                        at: now,
                        detail: format!(
                            "{} applied change {} of {} (depending on {:?}) having applied {:?}",
                            name(node),
                            ch.seq,
                            name(ch.origin),
                            ch.deps,
                            vv
                        ),
                    });
                }
                causality::join_change(vv, ch);
            }
            *checked = st.applied.len();
        }
        Ok(())
    }

    /// The claims about a finished run; `quiet_since`: when every fault was over (`None`: they may not be, and
    /// the claims about healed clusters are not checked).
    pub fn at_end(&self, sim: &Simulation, quiet_since: Option<Micros>) -> Result<(), Violation> {
        let now = sim.now();
        let s = &sim.scenario;
        if self.checks(Claim::SyncWritesSurvive, s) {
            if let Some(c) = sim.protocol.single_leader() {
                sync_writes_survive(sim, c, now)?;
            }
        }
        if quiet_since.is_none() {
            return Ok(());
        }
        if self.checks(Claim::Convergence, s) {
            match &sim.protocol {
                Protocol::SingleLeader(_) => convergence(sim, now)?,
                Protocol::MultiLeader(c) => {
                    if let Some(a) = multi_leader::check::divergence(sim, c).first() {
                        return Err(Violation { claim: Claim::Convergence, at: now, detail: a.detail.clone() });
                    }
                }
                Protocol::Leaderless(c) => leaderless_convergence(c, now)?,
            }
        }
        if self.checks(Claim::SiblingsKeepWrites, s) {
            if let Some(c) = sim.protocol.leaderless().filter(|c| c.restores.is_empty()) {
                // (A replica restored from an older copy loses writes on purpose: the restored-replica lesson.)
                if let Some(a) = crate::protocol::leaderless::findings::lost_writes(sim, c).first() {
                    return Err(Violation { claim: Claim::SiblingsKeepWrites, at: now, detail: a.detail.clone() });
                }
            }
        }
        Ok(())
    }
}

/// `sync-writes-survive`: every acknowledged write that wrote something is on its group's final leader.
fn sync_writes_survive(sim: &Simulation, c: &Cluster, now: Micros) -> Result<(), Violation> {
    // Writes that changed nothing (an UPDATE of no rows) have no log entry to lose.
    let logged = |h: &&crate::world::sim::HistoryEntry| h.result.as_ref().is_some_and(|r| r.lsn.is_some());
    for (op, h) in sim.history.iter().enumerate().filter(|(_, h)| !h.read && h.ok() && logged(h)) {
        let group = h.result.as_ref().and_then(|r| r.served.first()).map_or(0, |(g, _)| *g);
        let Some(leader) = c.leader_of(group) else { continue };
        if !c.nodes[leader].origins.contains_key(&op) {
            return Err(Violation {
                claim: Claim::SyncWritesSurvive,
                at: now,
                detail: format!(
                    "acknowledged write #{op} ({}) is not on the final leader {}",
                    h.sql, c.nodes[leader].id
                ),
            });
        }
    }
    Ok(())
}

/// Leaderless convergence: for every key any running replica holds, its running home replicas hold the same
/// versions.
fn leaderless_convergence(c: &crate::protocol::leaderless::Cluster, now: Micros) -> Result<(), Violation> {
    let running = |i: usize| c.nodes[i].status == Status::Running;
    for n in c.nodes.iter().filter(|n| running(n.index)) {
        for key in n.data.keys() {
            let home: Vec<usize> = c.home(key).into_iter().filter(|h| running(*h)).collect();
            let Some((&first, rest)) = home.split_first() else { continue };
            let held = c.nodes[first].data.get(key);
            if let Some(&other) = rest.iter().find(|h| c.nodes[**h].data.get(key) != held) {
                let count = |i: usize| c.nodes[i].data.get(key).map_or(0, Vec::len);
                return Err(Violation {
                    claim: Claim::Convergence,
                    at: now,
                    detail: format!(
                        "{} and {} hold different versions of {} ({} and {} versions)",
                        c.nodes[first].id,
                        c.nodes[other].id,
                        key.label(),
                        count(first),
                        count(other)
                    ),
                });
            }
        }
    }
    Ok(())
}

fn epoch_at(n: &Node, lsn: u64) -> Option<u64> {
    n.entry(lsn).map(|e| e.epoch)
}

fn log_matching(c: &Cluster, now: Micros) -> Result<(), Violation> {
    let replicas: Vec<&Node> = c.nodes.iter().filter(|n| n.is_replica() && n.status != Status::Absent).collect();
    for (i, a) in replicas.iter().enumerate() {
        for b in &replicas[i + 1..] {
            if c.partition_of[a.index] != c.partition_of[b.index] {
                continue;
            }
            // The LSNs both logs retain.
            let lo = a.base_lsn.max(b.base_lsn) + 1;
            let hi = a.lsn().min(b.lsn());
            if lo > hi {
                continue;
            }
            // The highest common LSN whose entries share an epoch: everything before it must agree.
            let Some(top) = (lo..=hi).rev().find(|l| epoch_at(a, *l) == epoch_at(b, *l)) else { continue };
            if let Some(l) = (lo..top).find(|l| epoch_at(a, *l) != epoch_at(b, *l)) {
                return Err(Violation {
                    claim: Claim::LogMatching,
                    at: now,
                    detail: format!("{} and {} agree on lsn {top} but not on lsn {l}", a.id, b.id),
                });
            }
        }
    }
    Ok(())
}

/// Every running replica has its group leader's LSN and the same rows.
fn convergence(sim: &Simulation, now: Micros) -> Result<(), Violation> {
    let Some(c) = sim.protocol.single_leader() else { return Ok(()) };
    for group in crate::check::failover::groups(sim) {
        let Some(l) = c.leader_of(group) else {
            return Err(Violation {
                claim: Claim::Convergence,
                at: now,
                detail: format!("group {group} has no leader after the faults healed"),
            });
        };
        let leader = &c.nodes[l];
        for n in c.nodes.iter().filter(|n| {
            n.is_replica() && n.index != l && n.status == Status::Running && c.partition_of[n.index] == group
        }) {
            if n.lsn() != leader.lsn() {
                return Err(Violation {
                    claim: Claim::Convergence,
                    at: now,
                    detail: format!(
                        "{} is at lsn {} but its leader {} at lsn {}",
                        n.id,
                        n.lsn(),
                        leader.id,
                        leader.lsn()
                    ),
                });
            }
        }
    }
    if let Some(a) = crate::check::check_divergence(sim).first() {
        return Err(Violation { claim: Claim::Convergence, at: now, detail: a.detail.clone() });
    }
    Ok(())
}
