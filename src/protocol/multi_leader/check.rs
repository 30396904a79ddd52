//! Findings of multi-leader replication (the report's `anomalies`), each naming the client operations (history
//! indexes) that prove it:
//!
//! - `conflict`: two writes to the same row, neither of which had seen the other, and how the strategy resolved
//!   them (recorded where a leader resolved them; the same conflict found on several leaders is one finding).
//! - `lost-update`: an acknowledged write that the strategy threw away (LWW, replica-id), naming the write that beat
//!   it; the detail says when the lost write was causally later than the winner (its writer had seen the winner:
//!   the clock-skew case).
//! - `duplicate-key`: two leaders generated the same AUTOINCREMENT key for different rows.
//! - `divergence`: replicas (leaders and followers of every datacenter) that hold different rows at the end.

use super::Cluster;
use crate::check::{row_diffs, Anomaly, AnomalyKind};
use crate::protocol::Status;
use crate::world::sim::Simulation;

pub fn anomalies(sim: &Simulation, c: &Cluster) -> Vec<Anomaly> {
    let mut out = Vec::new();
    for x in &c.conflicts {
        out.push(Anomaly { kind: AnomalyKind::Conflict, detail: x.detail.clone(), ops: x.ops.clone() });
    }
    for d in &c.discards {
        let Some(op) = d.loser_op else { continue };
        if !sim.history.get(op).is_some_and(|h| h.ok()) {
            continue;
        }
        let who = |o: usize| c.inner.nodes[o].id.clone();
        let mut ops = vec![op];
        ops.extend(d.winner_ops.iter().copied());
        let winners: Vec<String> = d.winner_ops.iter().map(|w| format!("#{w}")).collect();
        let why = if d.causally_later {
            format!(
                " although it was causally later (its writer on {} had seen the winner first): the clock of {} was behind",
                who(d.loser.0),
                who(d.loser.0)
            )
        } else {
            String::new()
        };
        out.push(Anomaly {
            kind: AnomalyKind::LostUpdate,
            detail: format!(
                "write #{op} to {} was acknowledged by {} and then discarded by conflict resolution ({}) in favour of {} by {}{why}",
                d.row,
                who(d.loser.0),
                c.spec.conflict.name(),
                if winners.is_empty() { "another write".to_string() } else { winners.join(", ") },
                who(d.winner.0),
            ),
            ops,
        });
    }
    out.extend(replica_id_losses(sim, c));
    for (t, k, ops) in &c.duplicate_keys {
        out.push(Anomaly {
            kind: AnomalyKind::DuplicateKey,
            detail: format!(
                "two leaders generated the same AUTOINCREMENT key {} in {t} for different rows (set \
                 nodes[i].auto_increment so that each leader hands out its own keys)",
                crate::log_methods::value_text(k)
            ),
            ops: ops.clone(),
        });
    }
    out.extend(divergence(sim, c));
    out
}

/// `replica-id`: the versions a row keeps that nobody sees (the highest node's version is shown), on the first
/// running leader at the end, for acknowledged writes.
fn replica_id_losses(sim: &Simulation, c: &Cluster) -> Vec<Anomaly> {
    if c.spec.conflict != super::spec::Conflict::ReplicaId {
        return Vec::new();
    }
    let Some(first) = (0..c.inner.nodes.len()).find(|i| c.is_leader(*i) && c.inner.nodes[*i].status == Status::Running)
    else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for ((table, _), m) in &c.state[first].rows {
        let Some(win) = m.winner() else { continue };
        for v in m.versions.iter().filter(|v| v.writer != win.writer) {
            let Some(op) = v.op.filter(|op| sim.history.get(*op).is_some_and(|h| h.ok())) else { continue };
            out.push(Anomaly {
                kind: AnomalyKind::LostUpdate,
                detail: format!(
                    "write #{op} to {table} was acknowledged by {} and then discarded by conflict resolution \
                     (replica-id) in favour of {} by {}",
                    c.inner.nodes[v.writer.0].id,
                    win.op.map_or("another write".to_string(), |w| format!("#{w}")),
                    c.inner.nodes[win.writer.0].id
                ),
                ops: std::iter::once(op).chain(win.op).collect(),
            });
        }
    }
    out
}

/// Every running replica against the first running leader.
fn divergence(sim: &Simulation, c: &Cluster) -> Vec<Anomaly> {
    let nodes = &c.inner.nodes;
    let Some(first) = nodes.iter().find(|n| n.role == crate::scenario::Role::Leader && n.status == Status::Running)
    else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for n in nodes.iter().filter(|n| n.index != first.index && n.is_replica() && n.status == Status::Running) {
        let diffs = row_diffs(sim, first, n);
        if diffs.is_empty() {
            continue;
        }
        let mut ops = Vec::new();
        for d in &diffs {
            let k = super::row_key(&d.table, &d.key);
            for l in [first.index, c.leader_of(n.index)] {
                if let Some(m) = c.state[l].rows.get(&k) {
                    ops.extend(m.ops.iter().copied());
                }
            }
        }
        crate::sql::sort_values(&mut ops);
        ops.dedup();
        let show = |r: &Option<Vec<(String, crate::sql::Value)>>| super::conflicts::show(r);
        let shown: Vec<String> = diffs
            .iter()
            .take(5)
            .map(|d| {
                format!(
                    "{} {}: {} {} vs {} {}",
                    d.table,
                    crate::log_methods::value_text(&d.key),
                    first.id,
                    show(&d.leader),
                    n.id,
                    show(&d.replica)
                )
            })
            .collect();
        out.push(Anomaly {
            kind: AnomalyKind::Divergence,
            detail: format!(
                "{} and {} ended with different rows ({} rows differ; conflict {:?}, causality {:?}): {}",
                first.id,
                n.id,
                diffs.len(),
                c.spec.conflict.name(),
                c.spec.causality.name(),
                shown.join("; ")
            ),
            ops,
        });
    }
    out
}

impl Cluster {
    /// The leader of `node`'s datacenter (itself for a leader).
    pub fn leader_of(&self, node: usize) -> usize {
        let dc = self.dc_of.get(node).copied().flatten();
        (0..self.inner.nodes.len()).find(|i| self.is_leader(*i) && self.dc_of[*i] == dc && dc.is_some()).unwrap_or(node)
    }
}
