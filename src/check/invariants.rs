//! Safety claims of single-leader replication, checked after every event (tests and `replsim soak`), not only at
//! the end of a run:
//!
//! - `one-leader-per-epoch` (DDIA 5.1 failover): with epochs, at most one node acts as leader for a given epoch of
//!   a replication group (two leaders in one term is the split brain that epochs exist to rule out).
//! - `log-matching` (DDIA 5.1 replication log, with epochs): if two replicas of a group hold an entry at the same LSN
//!   written in the same epoch, they agree on the epochs of every entry before it (a follower's log is a prefix of
//!   its leader's, once divergent tails are discarded).
//! - `sync-writes-survive` (DDIA 5.1 synchronous replication): under sync mode with epochs, a write acknowledged to
//!   its client is never lost, whatever fails over: the final leader of its group holds it.
//! - `convergence` (DDIA 5.1 eventual consistency): with epochs, once every fault is healed and the cluster has been
//!   quiet long enough, every running replica of a group has caught up with its leader and holds the same rows.

use crate::protocol::single_leader::{Cluster, Node};
use crate::protocol::Status;
use crate::scenario::Mode;
use crate::vecmap::VecMap;
use crate::world::sim::Simulation;
use crate::world::time::Micros;

/// A claim the soak can be limited to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Claim {
    OneLeaderPerEpoch,
    LogMatching,
    SyncWritesSurvive,
    Convergence,
}

impl Claim {
    pub const ALL: [Claim; 4] =
        [Claim::OneLeaderPerEpoch, Claim::LogMatching, Claim::SyncWritesSurvive, Claim::Convergence];

    pub fn name(self) -> &'static str {
        match self {
            Claim::OneLeaderPerEpoch => "one-leader-per-epoch",
            Claim::LogMatching => "log-matching",
            Claim::SyncWritesSurvive => "sync-writes-survive",
            Claim::Convergence => "convergence",
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
}

impl Monitor {
    pub fn new() -> Self {
        Monitor::default()
    }

    /// Remember that `node` led `epoch` of `group` (tests plant a second leader with it).
    pub fn record_leader(&mut self, group: usize, epoch: u64, node: usize) {
        self.leaders.insert((group, epoch), node);
    }

    /// The per-event claims, right now.
    pub fn after_event(&mut self, sim: &Simulation) -> Result<(), Violation> {
        let now = sim.now();
        if !sim.scenario.failover.epochs {
            // Without epochs nothing stops two leaders writing the same LSNs: that is the split-brain lesson's point.
            return Ok(());
        }
        // Claims about single-leader replication: nothing to check under another protocol.
        let Some(c) = sim.protocol.single_leader() else { return Ok(()) };
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
        log_matching(c, now)
    }

    /// The claims about a finished run.
    pub fn at_end(&self, sim: &Simulation, quiet_since: Option<Micros>) -> Result<(), Violation> {
        // Claims about single-leader replication: nothing to check under another protocol.
        let Some(c) = sim.protocol.single_leader() else { return Ok(()) };
        let now = sim.now();
        if sim.scenario.replication.mode == Mode::Sync && sim.scenario.failover.epochs {
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
        }
        if quiet_since.is_some() && sim.scenario.failover.epochs {
            convergence(sim, now)?;
        }
        Ok(())
    }
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
