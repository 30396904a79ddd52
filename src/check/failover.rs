//! Checkers for DDIA 5.1 "Handling Node Outages": they read the client histories, who acted as leader when, and
//! the final state, and report anomalies with the history entries that prove them.
//!
//! - `lost-write`: a write acknowledged to its client that the final leader does not hold (async replication
//!   plus failover: the old leader's unreplicated writes are discarded).
//! - `key-reuse`: one primary key handed out for two different acknowledged inserts (a promoted follower's
//!   autoincrement counter lagged), and reads through an external cache that then returned another user's row.
//! - `split-brain`: two nodes acted as leader at the same time and both accepted writes.
//! - `unavailable`: a window in which client writes failed (no leader, or no leader the clients knew of).

use crate::check::{Anomaly, AnomalyKind};
use crate::protocol::OpError;
use crate::vecmap::VecMap;
use crate::world::sim::Simulation;
use crate::world::time::fmt_ms;

/// The node whose data counts at the end: the acting leader of the newest epoch, or else the most up-to-date
/// replica.
pub fn final_leader(sim: &Simulation) -> Option<usize> {
    final_leader_of(sim, 0)
}

/// The same, within one replication group (partition).
pub fn final_leader_of(sim: &Simulation, group: usize) -> Option<usize> {
    let cl = sim.protocol.single_leader()?;
    cl.leader_of(group).or_else(|| {
        cl.nodes
            .iter()
            .filter(|n| {
                n.is_replica()
                    && n.status != crate::protocol::single_leader::Status::Absent
                    && cl.partition_of[n.index] == group
            })
            .max_by_key(|n| (n.epoch, n.lsn(), std::cmp::Reverse(n.index)))
            .map(|n| n.index)
    })
}

/// The replication groups of a run (one unless the database is partitioned).
pub fn groups(sim: &Simulation) -> std::ops::Range<usize> {
    0..sim.scenario.partitions.len().max(1)
}

fn who(sim: &Simulation, op: usize) -> String {
    let h = &sim.history[op];
    format!("{}'s write #{op} ({})", sim.clients[h.client].user, h.sql)
}

pub fn lost_writes(sim: &Simulation) -> Vec<Anomaly> {
    let Some(cl) = sim.protocol.single_leader() else { return Vec::new() };
    let leaders: Vec<Option<usize>> = groups(sim).map(|g| final_leader_of(sim, g)).collect();
    sim.history
        .iter()
        .enumerate()
        // A write with no log position changed no row: it committed nothing, so nothing of it can be lost.
        .filter(|(_, h)| !h.read && h.ok() && h.result.as_ref().is_some_and(|r| r.lsn.is_some()))
        .filter(|(_, h)| cl.nodes[h.node].is_replica())
        .filter_map(|(i, h)| leaders[cl.partition_of[h.node]].map(|l| (i, h, &cl.nodes[l])))
        .filter(|(i, _, leader)| !leader.origins.contains_key(i))
        .map(|(i, h, leader)| Anomaly {
            kind: AnomalyKind::LostWrite,
            detail: format!(
                "{} was acknowledged by {} at {}, but the final leader {} does not have it",
                who(sim, i),
                cl.nodes[h.node].id,
                h.end.map(fmt_ms).unwrap_or_default(),
                leader.id
            ),
            ops: vec![i],
        })
        .collect()
}

pub fn key_reuse(sim: &Simulation) -> Vec<Anomaly> {
    let Some(cl) = sim.protocol.single_leader() else { return Vec::new() };
    // key -> acknowledged inserts that were given it.
    // Keys are per partition: each partition hands out its own.
    let mut pairs: Vec<((usize, &str), usize)> = Vec::new();
    for (i, h) in sim.history.iter().enumerate().filter(|(_, h)| !h.read && h.ok()) {
        for (key, _) in h.result.iter().flat_map(|r| r.inserted.iter()) {
            pairs.push(((cl.partition_of[h.node], key.as_str()), i));
        }
    }
    // Sorted by key, each key's inserts stay in history order.
    crate::sql::sort_stable_by(&mut pairs, |a, b| a.0.cmp(&b.0));
    let given = pairs.chunk_by(|a, b| a.0 == b.0).map(|g| (g[0].0, g.iter().map(|p| p.1).collect::<Vec<usize>>()));
    let mut out = Vec::new();
    for ((_, key), ops) in given.filter(|(_, ops)| ops.len() > 1) {
        let users: Vec<String> = ops.iter().map(|o| sim.clients[sim.history[*o].client].user.clone()).collect();
        let mut detail = format!(
            "key {key} was given to {}",
            ops.iter().zip(&users).map(|(o, u)| format!("{u}'s row (#{o})")).collect::<Vec<_>>().join(" and then to ")
        );
        let mut proof = ops.clone();
        // Reads through the cache that returned someone else's row for this key.
        let wanted = format!("cache get {key}");
        for (i, h) in sim.history.iter().enumerate().filter(|(_, h)| h.sql == wanted && h.ok()) {
            let reader = &sim.clients[h.client].user;
            if let Some(owner) = h.result.as_ref().and_then(|r| r.owner.as_ref()).filter(|o| *o != reader) {
                detail.push_str(&format!("; {reader}'s read through the cache (#{i}) returned {owner}'s row"));
                proof.push(i);
            }
        }
        let mut distinct = users.clone();
        distinct.dedup();
        detail.push_str(&format!(" (users: {})", distinct.join(", ")));
        out.push(Anomaly { kind: AnomalyKind::KeyReuse, detail, ops: proof });
    }
    out
}

pub fn split_brain(sim: &Simulation) -> Vec<Anomaly> {
    let Some(cl) = sim.protocol.single_leader() else { return Vec::new() };
    let end_of_run = sim.now();
    let spans: Vec<(usize, u64, u64)> =
        cl.leader_spans.iter().map(|(n, s, e)| (*n, *s, e.unwrap_or(end_of_run))).collect();
    let mut out = Vec::new();
    for (i, a) in spans.iter().enumerate() {
        for b in &spans[i + 1..] {
            if a.0 == b.0 || cl.partition_of[a.0] != cl.partition_of[b.0] {
                continue;
            }
            let (from, to) = (a.1.max(b.1), a.2.min(b.2));
            if from >= to {
                continue;
            }
            let took = |node: usize| -> Vec<usize> {
                sim.history
                    .iter()
                    .enumerate()
                    .filter(|(_, h)| h.node == node && !h.read && h.ok() && h.end.is_some_and(|e| e >= from && e <= to))
                    .map(|(k, _)| k)
                    .collect()
            };
            let (wa, wb) = (took(a.0), took(b.0));
            if wa.is_empty() || wb.is_empty() {
                continue;
            }
            let detail = format!(
                "{} and {} both acted as leader from {} to {}: {} took writes {:?}, {} took writes {:?}",
                cl.nodes[a.0].id,
                cl.nodes[b.0].id,
                fmt_ms(from),
                fmt_ms(to),
                cl.nodes[a.0].id,
                wa,
                cl.nodes[b.0].id,
                wb
            );
            let mut ops = wa;
            ops.extend(wb);
            out.push(Anomaly { kind: AnomalyKind::SplitBrain, detail, ops });
        }
    }
    out
}

/// Windows of consecutive failed writes (by start time), each closed by the next write that succeeded.
pub fn unavailability(sim: &Simulation) -> Vec<Anomaly> {
    let Some(cl) = sim.protocol.single_leader() else { return Vec::new() };
    let mut writes: Vec<usize> = (0..sim.history.len())
        .filter(|i| !sim.history[*i].read && cl.nodes[sim.history[*i].node].is_replica())
        .filter(|i| sim.history[*i].end.is_some())
        .collect();
    crate::sql::sort_stable_by(&mut writes, |a, b| (sim.history[*a].start, a).cmp(&(sim.history[*b].start, b)));
    let mut out = Vec::new();
    let mut failed: Vec<usize> = Vec::new();
    let flush = |failed: &mut Vec<usize>, until: Option<u64>, out: &mut Vec<Anomaly>| {
        if failed.is_empty() {
            return;
        }
        let from = sim.history[failed[0]].start;
        let to = until.unwrap_or_else(|| failed.iter().filter_map(|o| sim.history[*o].end).max().unwrap_or(from));
        out.push(Anomaly {
            kind: AnomalyKind::Unavailable,
            detail: format!(
                "writes failed from {} to {}: {} write(s) got no acknowledgement ({})",
                fmt_ms(from),
                fmt_ms(to),
                failed.len(),
                sim.history[failed[0]]
                    .result
                    .as_ref()
                    .and_then(|r| r.error.as_ref())
                    .map(ToString::to_string)
                    .unwrap_or_default()
            ),
            ops: std::mem::take(failed),
        });
    };
    for i in writes {
        let h = &sim.history[i];
        let is_error_of_sql = h.result.as_ref().and_then(|r| r.error.as_ref()).is_some_and(OpError::is_statement_error);
        if h.ok() {
            flush(&mut failed, h.end, &mut out);
        } else if !is_error_of_sql {
            failed.push(i);
        }
    }
    flush(&mut failed, None, &mut out);
    out
}

/// Failover statistics of one run, for the timeout sweep.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FailoverStats {
    /// Elections won (or appointments) after the start.
    pub failovers: usize,
    /// Failovers while the previous leader was still alive (it was slow, paused or cut off, not dead).
    pub unnecessary: usize,
    /// Microseconds without any acting leader after a leader crashed.
    pub unavailable_after_crash: u64,
}

pub fn failover_stats(sim: &Simulation) -> FailoverStats {
    use crate::world::trace::TraceEvent;
    let mut stats = FailoverStats::default();
    let mut crashed_leader_at: Option<u64> = None;
    let mut alive: VecMap<&str, bool> = VecMap::default();
    for n in sim.protocol.single_leader().into_iter().flat_map(|c| c.nodes.iter()) {
        alive.insert(n.id.as_str(), true);
    }
    let mut current: Option<String> =
        sim.scenario.nodes.iter().find(|n| n.role == crate::scenario::Role::Leader).map(|n| n.id.clone());
    for e in sim.trace.events() {
        match e {
            TraceEvent::Crashed { at, node } | TraceEvent::ShutDown { at, node, .. } => {
                alive.insert(node, false);
                if current.as_deref() == Some(&**node) && crashed_leader_at.is_none() {
                    crashed_leader_at = Some(*at);
                }
            }
            TraceEvent::Restarted { node, .. } => {
                alive.insert(node, true);
            }
            TraceEvent::RoleChanged { at, node, role } if role.is_leader() => {
                stats.failovers += 1;
                // A new term while the previous leader was alive (even if it wins again) was not needed.
                if let Some(prev) = &current {
                    if alive.get(&prev.as_str()).copied().unwrap_or(false) && crashed_leader_at.is_none() {
                        stats.unnecessary += 1;
                    }
                }
                if let Some(c) = crashed_leader_at.take() {
                    stats.unavailable_after_crash += at - c;
                }
                current = Some(node.to_string());
            }
            _ => {}
        }
    }
    if let Some(c) = crashed_leader_at {
        stats.unavailable_after_crash += sim.now().saturating_sub(c);
    }
    stats
}

/// One row of the failover-timeout sweep: a timeout and what it cost over several seeds.
#[derive(Clone, Debug, PartialEq)]
pub struct SweepRow {
    pub timeout_ms: u64,
    pub runs: usize,
    /// Mean time without a leader after a real leader crash, per run.
    pub mean_unavailable_ms: f64,
    /// Failovers while the old leader was alive, summed over the runs.
    pub unnecessary_failovers: usize,
    pub failovers: usize,
}

impl SweepRow {
    /// The row as the worker sends it (`crate::jobs`); `from_json` reads it back.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({"timeout_ms": self.timeout_ms, "runs": self.runs,
                           "mean_unavailable_ms": self.mean_unavailable_ms,
                           "unnecessary_failovers": self.unnecessary_failovers, "failovers": self.failovers})
    }

    pub fn from_json(v: &serde_json::Value) -> Option<SweepRow> {
        Some(SweepRow {
            timeout_ms: v["timeout_ms"].as_u64()?,
            runs: v["runs"].as_u64()? as usize,
            mean_unavailable_ms: v["mean_unavailable_ms"].as_f64()?,
            unnecessary_failovers: v["unnecessary_failovers"].as_u64()? as usize,
            failovers: v["failovers"].as_u64()? as usize,
        })
    }
}

/// Run `scenario` with automatic failover at each timeout, over `seeds`, and measure the trade-off of DDIA 5.1:
/// a short timeout fails over needlessly on a pause or glitch, a long one leaves the cluster leaderless longer.
/// Every (timeout, seed) run is independent: they run on every core (`crate::par`), and add up in a fixed order.
pub fn sweep(scenario: &crate::scenario::Scenario, timeouts_ms: &[u64], seeds: std::ops::Range<u64>) -> Vec<SweepRow> {
    let runs: Vec<(u64, u64)> = timeouts_ms.iter().flat_map(|&t| seeds.clone().map(move |seed| (t, seed))).collect();
    let stats = crate::par::map(&runs, |&(timeout_ms, seed)| {
        let mut s = scenario.clone();
        s.failover.auto = true;
        s.failover.timeout_ms = timeout_ms.max(1);
        let mut sim = Simulation::with_trace(&s, seed, &[], true).ok()?;
        sim.run_to_end();
        Some(failover_stats(&sim))
    });
    let mut stats = stats.into_iter();
    timeouts_ms
        .iter()
        .map(|&timeout_ms| {
            let mut row =
                SweepRow { timeout_ms, runs: 0, mean_unavailable_ms: 0.0, unnecessary_failovers: 0, failovers: 0 };
            let mut unavailable_us = 0u64;
            for _ in seeds.clone() {
                let Some(Some(stats)) = stats.next() else { continue };
                row.runs += 1;
                row.failovers += stats.failovers;
                row.unnecessary_failovers += stats.unnecessary;
                unavailable_us += stats.unavailable_after_crash;
            }
            if row.runs > 0 {
                row.mean_unavailable_ms = unavailable_us as f64 / 1000.0 / row.runs as f64;
            }
            row
        })
        .collect()
}
