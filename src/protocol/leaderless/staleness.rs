//! The staleness curve (Bailis et al., "Probabilistically Bounded Staleness"): for a cluster's n, w, r and
//! network, the probability that a read t ms after a write was acknowledged returns it, measured over many seeds.
//!
//! For each seed the scenario's replicas and network run a fixed experiment instead of the scenario's workload:
//! one client writes a key (fanning out itself, so no coordinator's queue stands in the way); a first run finds
//! when the write is acknowledged (A); a second run adds one read per point t, at A + t, each by a client of its
//! own (read repair off, so no read helps another). The write's messages are all sent when it starts, so the reads
//! added later change nothing about when each replica gets the write. A read is fresh when it returns the
//! written value. With w + r > n every read is fresh; with smaller quorums the curve shows how fast the chance of
//! a stale read falls as t grows.

use serde_json::{json, Value as Json};

use crate::scenario::Scenario;
use crate::world::sim::Simulation;

/// Points per curve (each a reading client; the scenario format allows 32 clients).
pub const MAX_POINTS: usize = 30;

/// One point of the curve.
#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    pub t_ms: u64,
    /// Seeds whose read at A + t returned the write, of `runs`.
    pub fresh: u64,
    pub runs: u64,
}

impl Point {
    pub fn probability(&self) -> f64 {
        if self.runs == 0 {
            0.0
        } else {
            self.fresh as f64 / self.runs as f64
        }
    }
}

/// The experiment on `base`'s replicas and network, with reads at `A + t` for each of `ts`.
fn experiment(base: &Scenario, ts: &[u64], ack_ms: Option<u64>) -> Result<Scenario, String> {
    let spec = base.replication.leaderless.as_ref().ok_or("the staleness curve needs replication.leaderless")?;
    let mut spec = spec.to_json();
    // PBS's model: nothing but the write's own messages carries it (no read repair, no anti-entropy).
    spec["read_repair"] = json!(false);
    spec["anti_entropy_ms"] = json!(0);
    let nodes: Vec<Json> = base.nodes.iter().map(|n| json!({"id": n.id, "role": "replica"})).collect();
    let mut clients = vec![json!({"id": "writer", "coordinator": "client", "timeout_ms": 5_000})];
    let mut workload =
        vec![json!({"at_ms": 10, "client": "writer", "sql": "INSERT INTO pbs (k, v) VALUES ('x', 'new')"})];
    if let Some(a) = ack_ms {
        for (i, t) in ts.iter().enumerate() {
            let id = format!("reader{i}");
            clients.push(json!({"id": id, "coordinator": "client", "timeout_ms": 5_000}));
            workload.push(json!({"at_ms": a + t, "client": id, "sql": "SELECT v FROM pbs WHERE k = 'x'"}));
        }
    }
    let until = ack_ms.unwrap_or(10) + ts.iter().max().copied().unwrap_or(0) + 5_000;
    let v = json!({
        "version": 1, "seed": base.seed, "until_ms": until.min(crate::scenario::MAX_UNTIL_MS),
        "nodes": nodes,
        "replication": {"leaderless": spec},
        "network": crate::scenario::Scenario::to_json(base)["network"].clone(),
        "clients": clients,
        "schema": ["CREATE TABLE pbs (k TEXT PRIMARY KEY, v TEXT)"],
        "workload": workload,
    });
    Scenario::from_value(&v).map_err(|e| e.to_string())
}

/// The curve over `seeds`, at each of `ts` (ms after the acknowledgement; at most `MAX_POINTS`).
pub fn curve(base: &Scenario, ts: &[u64], seeds: std::ops::Range<u64>) -> Result<Vec<Point>, String> {
    if ts.is_empty() || ts.len() > MAX_POINTS {
        return Err(format!("expected 1..={MAX_POINTS} points in time"));
    }
    let mut points: Vec<Point> = ts.iter().map(|t| Point { t_ms: *t, fresh: 0, runs: 0 }).collect();
    let probe = experiment(base, ts, None)?;
    for seed in seeds {
        let mut first = Simulation::with_trace(&probe, seed, &[], false).map_err(|e| e.to_string())?;
        first.run_to_end();
        // Acknowledged at A (rounded up to a whole ms); a write that failed has no curve point for this seed.
        let Some(ack) = first.history.first().filter(|h| h.ok()).and_then(|h| h.end) else { continue };
        let s = experiment(base, ts, Some(ack.div_ceil(1000)))?;
        let mut sim = Simulation::with_trace(&s, seed, &[], false).map_err(|e| e.to_string())?;
        sim.run_to_end();
        for (i, p) in points.iter_mut().enumerate() {
            let Some(read) = sim.history.iter().find(|h| h.client == i + 1) else { continue };
            let Some(result) = read.result.as_ref().filter(|r| r.ok) else { continue };
            p.runs += 1;
            if result.rows.iter().any(|row| row.first() == Some(&crate::sql::Value::Text("new".into()))) {
                p.fresh += 1;
            }
        }
    }
    Ok(points)
}

/// Evenly spaced points from 0 to twice the network's largest one-way delay (at least 1 ms apart).
pub fn default_points(base: &Scenario) -> Vec<u64> {
    let span = (2 * base.network.latency_max_ms).max(10);
    let step = (span / 20).max(1);
    (0..=20).map(|i| i * step).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base(w: usize, r: usize) -> Scenario {
        Scenario::from_value(&json!({
            "nodes": [{"id": "a", "role": "replica"}, {"id": "b", "role": "replica"}, {"id": "c", "role": "replica"}],
            "replication": {"leaderless": {"n": 3, "w": w, "r": r}},
            "network": {"latency_ms": {"min": 1, "max": 40}},
        }))
        .unwrap()
    }

    #[test]
    fn strict_quorums_are_always_fresh_and_small_ones_get_fresher_with_time() {
        let strict = curve(&base(2, 2), &[0, 20], 0..40).unwrap();
        assert!(strict.iter().all(|p| p.runs > 0 && p.fresh == p.runs), "{strict:?}");
        let loose = curve(&base(1, 1), &[0, 80], 0..200).unwrap();
        assert!(loose[0].probability() < 1.0, "{loose:?}");
        assert!(loose[1].probability() >= loose[0].probability(), "{loose:?}");
        assert_eq!(loose[1].fresh, loose[1].runs, "after twice the largest delay every replica has it: {loose:?}");
    }
}
