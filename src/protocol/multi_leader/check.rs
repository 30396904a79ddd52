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
    out.extend(lost_updates(sim, c));
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

/// `lww`, `replica-id`: an acknowledged write (an INSERT or UPDATE of a row) is lost when, at the end, no running
/// leader shows its row as the write left it, and no later write of that row was based on it (its writer read the
/// row as this write left it: the before-image a change carries). A write overwritten by one that had read it was
/// replaced on purpose, under any strategy; a write whose version was hidden or discarded, and which nobody built
/// on, was thrown away by the strategy. The write that beat it is named from where a leader discarded it, else
/// (replica-id) from the version shown at the end.
fn lost_updates(sim: &Simulation, c: &Cluster) -> Vec<Anomaly> {
    use super::spec::Conflict;
    if !matches!(c.spec.conflict, Conflict::Lww | Conflict::ReplicaId) {
        return Vec::new();
    }
    // Every change, once, in (origin, number) order.
    let mut changes: std::collections::BTreeMap<(usize, u64), &super::Change> = std::collections::BTreeMap::new();
    for st in &c.state {
        for ch in &st.applied {
            changes.entry((ch.origin, ch.seq)).or_insert(ch);
        }
    }
    let running: Vec<usize> =
        (0..c.inner.nodes.len()).filter(|i| c.is_leader(*i) && c.inner.nodes[*i].status == Status::Running).collect();
    let Some(&first) = running.first() else { return Vec::new() };
    // Who built on what: each change's rows by (row, the image its writer read), so that finding the writes
    // based on a write is a lookup, not a scan of every change (a long run has hundreds of thousands).
    let mut based: std::collections::BTreeMap<(super::RowKey, String), Vec<&super::Change>> =
        std::collections::BTreeMap::new();
    for x in changes.values() {
        for r in x.rows.iter().filter(|r| r.before.is_some()) {
            based.entry((super::row_key(&r.table, &r.key), super::conflicts::show(&r.before))).or_default().push(x);
        }
    }
    let who = |o: usize| c.inner.nodes[o].id.clone();
    let mut out = Vec::new();
    for ch in changes.values() {
        let Some(op) = ch.op.filter(|op| sim.history.get(*op).is_some_and(|h| h.ok())) else { continue };
        for w in ch.rows.iter().filter(|w| w.image.is_some()) {
            let key = super::row_key(&w.table, &w.key);
            let kept = running.iter().any(|l| c.state[*l].rows.get(&key).is_some_and(|m| m.image == w.image));
            let built_on = based.get(&(key.clone(), super::conflicts::show(&w.image))).is_some_and(|xs| {
                xs.iter().any(|x| {
                    (x.origin, x.seq) != (ch.origin, ch.seq) && super::causality::saw(&x.deps, ch.origin, ch.seq)
                })
            });
            if kept || built_on {
                continue;
            }
            let row = format!("{} {}", w.table, crate::log_methods::value_text(&w.key));
            let discard = c.discards.iter().find(|d| d.loser == (ch.origin, ch.seq) && d.row == row);
            let (winner_ops, winner) = match discard {
                Some(d) => (d.winner_ops.clone(), Some(d.winner.0)),
                None => c.state[first].rows.get(&key).map_or((Vec::new(), None), |m| {
                    (m.ops.clone(), m.winner().map(|v| v.writer.0).or(m.writers.first().map(|w| w.0)))
                }),
            };
            let why = if discard.is_some_and(|d| d.causally_later) {
                format!(
                    " although it was causally later (its writer on {} had seen the winner first): the clock of {} was behind",
                    who(ch.origin),
                    who(ch.origin)
                )
            } else {
                String::new()
            };
            let winners: Vec<String> = winner_ops.iter().map(|w| format!("#{w}")).collect();
            out.push(Anomaly {
                kind: AnomalyKind::LostUpdate,
                detail: format!(
                    "write #{op} to {row} was acknowledged by {} and then discarded by conflict resolution ({}) in favour of {}{}{why}",
                    who(ch.origin),
                    c.spec.conflict.name(),
                    if winners.is_empty() { "another write".to_string() } else { winners.join(", ") },
                    winner.map_or(String::new(), |w| format!(" by {}", who(w))),
                ),
                ops: std::iter::once(op).chain(winner_ops.iter().copied().filter(|w| *w != op)).collect(),
            });
        }
    }
    out
}

/// Every running replica against the first running leader.
pub fn divergence(sim: &Simulation, c: &Cluster) -> Vec<Anomaly> {
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
        let show = |r: &Option<Vec<(String, crate::sql::Value)>>| {
            super::conflicts::show(&r.as_deref().map(super::Image::from))
        };
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
