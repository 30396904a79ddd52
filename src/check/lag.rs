//! Checkers for DDIA 5.2 "Problems with Replication Lag", on client histories. Every replica applies the
//! leader's log in order, so the state a read saw is exactly a prefix of the log: its version (`served_lsn` in
//! its partition's log). A read reflects a write if and only if its version covers the write's. That makes the
//! rules exact:
//!
//! - `stale-read`: a read that misses a write acknowledged before the read began (a linearizable store never
//!   does this). The general case; reported only where none of the sharper rules below applies.
//! - `read-your-writes`: ... and that write was the same user's (on any of the user's devices).
//! - `monotonic-reads`: a user's read sees an older state than one of the user's earlier reads.
//! - `consistent-prefix`: a read sees a write without the write it causally depends on (same user wrote both in
//!   that order, or the second writer had read the first before writing) — possible only when causally related
//!   writes replicate through independent logs.

use crate::check::{Anomaly, AnomalyKind};
use crate::protocol::Version;
use crate::world::sim::{HistoryEntry, Simulation};
use crate::world::time::fmt_ms;

#[derive(Clone)]
struct Write {
    op: usize,
    /// The version the write created.
    version: Version,
    start: u64,
    end: u64,
}

#[derive(Clone)]
struct Read {
    op: usize,
    /// The version of each part of the state it saw (one per partition it looked at).
    seen: Vec<Version>,
    start: u64,
    end: u64,
}

impl Read {
    /// Did the state this read saw include `w`? `None` if it did not look where `w` went.
    fn reflects(&self, w: &Write) -> Option<bool> {
        self.seen.iter().find_map(|v| v.covers(&w.version))
    }
    /// Did this read see an older state than `earlier` did, of some part both looked at?
    fn older_than(&self, earlier: &Read) -> bool {
        earlier.seen.iter().any(|e| self.seen.iter().any(|v| v.covers(e) == Some(false)))
    }
    fn describe(&self) -> String {
        match self.seen.as_slice() {
            [one] => one.label(),
            _ => self.seen.iter().map(Version::label_in_group).collect::<Vec<_>>().join(" "),
        }
    }
}

/// The versions an operation's answer reports: (partition, LSN) of each part of the state it saw or wrote.
fn versions(served: &[(usize, u64)]) -> Vec<Version> {
    served.iter().map(|&(group, lsn)| Version::Lsn { group, lsn }).collect()
}

fn user_of(sim: &Simulation, h: &HistoryEntry) -> String {
    sim.clients[h.client].user.clone()
}

fn writes(sim: &Simulation) -> Vec<Write> {
    sim.history
        .iter()
        .enumerate()
        .filter(|(_, h)| !h.read && h.ok())
        .filter_map(|(op, h)| {
            let r = h.result.as_ref()?;
            let lsn = r.lsn?;
            let group = r.served.first().map_or(0, |(p, _)| *p);
            Some(Write { op, version: Version::Lsn { group, lsn }, start: h.start, end: h.end? })
        })
        .collect()
}

fn reads(sim: &Simulation) -> Vec<Read> {
    let Some(cl) = sim.protocol.single_leader() else { return Vec::new() };
    sim.history
        .iter()
        .enumerate()
        .filter(|(_, h)| h.read && h.ok() && cl.nodes[h.node].is_replica())
        .filter_map(|(op, h)| {
            let r = h.result.as_ref()?;
            let seen = if r.served.is_empty() { vec![(0, r.served_lsn?)] } else { r.served.clone() };
            let seen = versions(&seen);
            Some(Read { op, seen, start: h.start, end: h.end? })
        })
        .collect()
}

/// W1 happened before W2 as far as the application can tell: the same user wrote both in that order, or W2's
/// user had read a state containing W1 before writing W2.
fn causally_before(sim: &Simulation, w1: &Write, w2: &Write, rs: &[Read]) -> bool {
    if w1.end >= w2.start {
        return false;
    }
    let u2 = user_of(sim, &sim.history[w2.op]);
    user_of(sim, &sim.history[w1.op]) == u2
        || rs.iter().any(|r| r.end < w2.start && user_of(sim, &sim.history[r.op]) == u2 && r.reflects(w1) == Some(true))
}

pub fn check(sim: &Simulation) -> Vec<Anomaly> {
    let Some(cl) = sim.protocol.single_leader() else { return Vec::new() };
    let ws = writes(sim);
    let rs = reads(sim);
    let mut out = Vec::new();
    for r in &rs {
        let h = &sim.history[r.op];
        let reader = user_of(sim, h);
        let node = &cl.nodes[h.node].id;
        // Writes acknowledged before this read began that it does not reflect.
        let missed: Vec<&Write> = ws.iter().filter(|w| w.end < r.start && r.reflects(w) == Some(false)).collect();
        let own: Vec<&&Write> = missed.iter().filter(|w| user_of(sim, &sim.history[w.op]) == reader).collect();
        let mut sharper = false;
        if let Some(w) = own.iter().max_by_key(|w| w.end) {
            sharper = true;
            out.push(Anomaly {
                kind: AnomalyKind::ReadYourWrites,
                detail: format!(
                    "{reader}'s read #{} on {node} at {} saw {} but {reader}'s own write #{} ({}) was acknowledged at {}",
                    r.op,
                    fmt_ms(r.start),
                    r.describe(),
                    w.op,
                    w.version.label(),
                    fmt_ms(w.end)
                ),
                ops: vec![w.op, r.op],
            });
        }
        // An earlier read by the same user that saw more of some partition.
        let earlier = rs
            .iter()
            .filter(|e| e.end < r.start && user_of(sim, &sim.history[e.op]) == reader)
            .filter(|e| r.older_than(e))
            .max_by_key(|e| e.end);
        if let Some(e) = earlier {
            sharper = true;
            out.push(Anomaly {
                kind: AnomalyKind::MonotonicReads,
                detail: format!(
                    "{reader}'s read #{} on {node} saw {}, older than {} that {reader}'s earlier read #{} on {} saw: time went backwards",
                    r.op,
                    r.describe(),
                    e.describe(),
                    e.op,
                    cl.nodes[sim.history[e.op].node].id
                ),
                ops: vec![e.op, r.op],
            });
        }
        // An effect without its cause: W2 visible, W1 (which W2 depends on) not, from different partitions.
        if r.seen.len() > 1 {
            let effect = ws.iter().filter(|w2| r.reflects(w2) == Some(true)).find_map(|w2| {
                ws.iter()
                    .filter(|w1| w1.version.covers(&w2.version).is_none() && r.reflects(w1) == Some(false))
                    .find(|w1| causally_before(sim, w1, w2, &rs))
                    .map(|w1| (w1, w2))
            });
            if let Some((w1, w2)) = effect {
                sharper = true;
                out.push(Anomaly {
                    kind: AnomalyKind::ConsistentPrefix,
                    detail: format!(
                        "{reader}'s read #{} saw write #{} ({}) but not write #{} ({}) that came before it: the effect before its cause",
                        r.op, w2.op, sim.history[w2.op].sql, w1.op, sim.history[w1.op].sql
                    ),
                    ops: vec![w1.op, w2.op, r.op],
                });
            }
        }
        if !sharper {
            if let Some(w) = missed.iter().max_by_key(|w| w.end) {
                out.push(Anomaly {
                    kind: AnomalyKind::StaleRead,
                    detail: format!(
                        "read #{} on {node} at {} saw {}, missing write #{} ({}) acknowledged at {}",
                        r.op,
                        fmt_ms(r.start),
                        r.describe(),
                        w.op,
                        w.version.label(),
                        fmt_ms(w.end)
                    ),
                    ops: vec![w.op, r.op],
                });
            }
        }
    }
    out
}

/// Per routing policy: what a scenario's reads cost and what they saw.
#[derive(Clone, Debug, PartialEq)]
pub struct PolicyRow {
    pub policy: &'static str,
    /// Anomalies by kind (lag kinds only), in a stable order.
    pub anomalies: Vec<(AnomalyKind, usize)>,
    pub reads: usize,
    /// Share of reads (0..=1) that the leader served.
    pub leader_share: f64,
    pub read_p50_us: u64,
    pub read_p99_us: u64,
}

impl PolicyRow {
    /// The row as the worker sends it (`crate::jobs`); `from_json` reads it back.
    pub fn to_json(&self) -> serde_json::Value {
        let anomalies: serde_json::Map<String, serde_json::Value> =
            self.anomalies.iter().map(|(k, n)| (k.name().to_string(), (*n).into())).collect();
        serde_json::json!({"policy": self.policy, "anomalies": anomalies, "reads": self.reads,
                           "leader_share": self.leader_share, "read_p50_us": self.read_p50_us,
                           "read_p99_us": self.read_p99_us})
    }

    pub fn from_json(v: &serde_json::Value) -> Option<PolicyRow> {
        let name = v["policy"].as_str()?;
        let policy = crate::scenario::Route::ALL.into_iter().find(|r| r.name() == name)?.name();
        let mut anomalies = Vec::new();
        for (k, n) in v["anomalies"].as_object()? {
            anomalies.push((AnomalyKind::parse(k)?, n.as_u64()? as usize));
        }
        crate::sql::sort_stable_by(&mut anomalies, |a, b| a.0.name().cmp(b.0.name()));
        Some(PolicyRow {
            policy,
            anomalies,
            reads: v["reads"].as_u64()? as usize,
            leader_share: v["leader_share"].as_f64()?,
            read_p50_us: v["read_p50_us"].as_u64()?,
            read_p99_us: v["read_p99_us"].as_u64()?,
        })
    }
}

/// Run `scenario` once per routing policy (applied to every client that reads) and tabulate anomalies, leader
/// load and read latency: the price of each fix.
pub fn policy_table(scenario: &crate::scenario::Scenario, seed: u64) -> Vec<PolicyRow> {
    use crate::scenario::Route;
    let readers: Vec<usize> = (0..scenario.clients.len())
        .filter(|i| {
            let id = &scenario.clients[*i].id;
            scenario.workload.iter().any(|w| {
                matches!(&w.command, crate::scenario::Command::Sql { client, sql } if client == id && crate::world::sim::looks_like_read(sql))
            })
        })
        .collect();
    // One independent run per policy, on every core (`crate::par`), rows in the policies' order.
    crate::par::map(&Route::ALL, |route| {
        let mut s = scenario.clone();
        for i in &readers {
            s.clients[*i].route = *route;
        }
        let mut sim = Simulation::new(&s, seed, &[]).ok()?;
        sim.run_to_end();
        let mut counts: Vec<(AnomalyKind, usize)> = Vec::new();
        for a in check(&sim) {
            match counts.iter_mut().find(|(k, _)| *k == a.kind) {
                Some((_, n)) => *n += 1,
                None => counts.push((a.kind, 1)),
            }
        }
        // By name, as the CLI's table has always listed them.
        crate::sql::sort_stable_by(&mut counts, |a, b| a.0.name().cmp(b.0.name()));
        let done: Vec<&HistoryEntry> = sim
            .history
            .iter()
            .filter(|h| h.read && h.ok() && sim.protocol.single_leader().is_some_and(|c| c.nodes[h.node].is_replica()))
            .collect();
        let leader_reads =
            done.iter().filter(|h| sim.protocol.single_leader().is_some_and(|c| c.nodes[h.node].is_leader())).count();
        let latencies: Vec<u64> = done.iter().filter_map(|h| h.end.map(|e| e - h.start)).collect();
        Some(PolicyRow {
            policy: route.name(),
            anomalies: counts,
            reads: done.len(),
            leader_share: if done.is_empty() { 0.0 } else { leader_reads as f64 / done.len() as f64 },
            read_p50_us: crate::world::sim::percentile(&latencies, 50),
            read_p99_us: crate::world::sim::percentile(&latencies, 99),
        })
    })
    .into_iter()
    .flatten()
    .collect()
}
