//! The benchmark workload, shared by `cargo bench`, `replsim bench` and the in-browser benchmark page so that all
//! three measure the same thing: an asynchronous cluster of `nodes` nodes taking `writes` single-row inserts.

use crate::scenario::{
    ClientSpec, Command, FailoverSpec, LogKind, Mode, NetworkSpec, NodeSpec, ReplicationSpec, Role, Scenario,
    TimedCommand,
};
use crate::world::sim::Simulation;

pub fn cluster_scenario(nodes: usize, writes: usize) -> Scenario {
    let every_us = 200; // 5,000 writes per simulated second
    Scenario {
        version: 1,
        seed: 42,
        until_ms: (writes as u64 * every_us) / 1000 + 2_000,
        title: Some(format!("benchmark: {nodes} nodes, {writes} writes")),
        narration: None,
        nodes: (0..nodes)
            .map(|i| NodeSpec::new(&format!("n{}", i + 1), if i == 0 { Role::Leader } else { Role::Follower }))
            .collect(),
        replication: ReplicationSpec {
            mode: Mode::Async,
            log: LogKind::Logical,
            heartbeat_ms: 50,
            ..ReplicationSpec::default()
        },
        failover: FailoverSpec::default(),
        network: NetworkSpec { latency_min_ms: 1, latency_max_ms: 5, ..NetworkSpec::default() },
        clients: vec![ClientSpec::new("load")],
        schema: vec!["CREATE TABLE kv (id INTEGER PRIMARY KEY AUTOINCREMENT, v INTEGER)".into()],
        workload: (0..writes)
            .map(|i| TimedCommand {
                at: 1_000 + i as u64 * every_us,
                command: Command::Sql { client: "load".into(), sql: format!("INSERT INTO kv (v) VALUES ({i})") },
            })
            .collect(),
        faults: Vec::new(),
        partitions: Vec::new(),
        partition_key: Default::default(),
        page_size: crate::scenario::DEFAULT_PAGE_SIZE as u32,
        row_locking: false,
        multi_leader: None,
    }
}

/// The benchmark world, ready to run, without a kept trace (events are hashed, not stored). Time only
/// `run_to_end` on it: building the workload and dropping the world are not simulation.
pub fn prepare_cluster(nodes: usize, writes: usize) -> Option<Simulation> {
    let scenario = cluster_scenario(nodes, writes);
    Simulation::with_trace(&scenario, scenario.seed, &[], false).ok()
}

/// Run the benchmark workload to its end; returns (events processed, trace hash).
pub fn run_cluster(nodes: usize, writes: usize) -> (u64, u64) {
    let Some(mut sim) = prepare_cluster(nodes, writes) else { return (0, 0) };
    sim.run_to_end();
    (sim.metrics.events, sim.trace.hash())
}

/// A benchmark result: events processed, the run's trace hash, and the times of `run_to_end` in seconds over the
/// runs (min, median, max; `secs` is the median, which the events/s figure uses).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Measurement {
    pub events: u64,
    pub hash: u64,
    pub secs: f64,
    pub min: f64,
    pub max: f64,
    pub runs: usize,
}

impl Measurement {
    pub fn events_per_sec(&self) -> f64 {
        self.events as f64 / self.secs.max(1e-9)
    }

    /// One line: `{target}: {nodes} nodes, {writes} writes: … events/s (median of N runs; min … max …)`.
    pub fn describe(&self, target: &str, nodes: usize, writes: usize) -> String {
        format!(
            "{target}: {nodes} nodes, {writes} writes: {} events, {:.0} events/s (median of {} runs: {:.3} s; min {:.3} s, max {:.3} s) trace hash {:016x}",
            self.events,
            self.events_per_sec(),
            self.runs,
            self.secs,
            self.min,
            self.max,
            self.hash
        )
    }
}

/// The one measurement every harness makes (`cargo bench` and `replsim bench` natively, the `?bench=1` page in the
/// browser), so that their numbers compare: warm up on a small run, then time only `run_to_end` of `runs` fresh
/// worlds with `clock` (seconds, any origin), and report min, median and max. Building the workload and dropping the
/// world stay outside the clock.
pub fn measure(nodes: usize, writes: usize, runs: usize, clock: impl Fn() -> f64) -> Option<Measurement> {
    run_cluster(nodes, 2_000);
    measure_prepared(|| prepare_cluster(nodes, writes), runs, clock)
}

/// `measure` of any prepared world (the leaderless benchmark too), without the warm-up.
pub fn measure_prepared(
    prepare: impl Fn() -> Option<Simulation>,
    runs: usize,
    clock: impl Fn() -> f64,
) -> Option<Measurement> {
    let mut times = Vec::new();
    let mut last = (0, 0);
    for _ in 0..runs.max(1) {
        let mut sim = prepare()?;
        let start = clock();
        sim.run_to_end();
        times.push(clock() - start);
        last = (sim.metrics.events, sim.trace.hash());
    }
    crate::sql::sort_stable_by(&mut times, f64::total_cmp);
    Some(Measurement {
        events: last.0,
        hash: last.1,
        secs: times[times.len() / 2],
        min: times[0],
        max: times[times.len() - 1],
        runs: times.len(),
    })
}

/// The sizes of the engine's curve (issue 13: events/s must stay flat as a run grows): writes per run, and runs.
pub const CURVE: [(usize, usize); 4] = [(1_000, 5), (16_000, 5), (256_000, 3), (1_000_000, 1)];

/// events/s at 256k writes over events/s at 16k (target: at least 0.9), from a curve measured on `CURVE`.
pub fn curve_ratio(curve: &[(usize, Measurement)]) -> Option<f64> {
    let at = |w: usize| curve.iter().find(|(n, _)| *n == w).map(|(_, m)| m.events_per_sec());
    Some(at(256_000)? / at(16_000)?.max(1e-9))
}

/// SQL statements per second through one node's storage engine: inserts with every fourth statement an update by
/// key, autocommit, pages written at a checkpoint every 250 statements (as a node does at its heartbeats).
/// Returns (statements, seconds).
pub fn measure_sql(statements: usize, clock: impl Fn() -> f64) -> (usize, f64) {
    let mut db = crate::sql::Database::new();
    let mut env = crate::sql::FixedEnv { now_us: 0, rng_state: 1 };
    let _ =
        db.execute_autocommit("CREATE TABLE kv (id INTEGER PRIMARY KEY AUTOINCREMENT, v INTEGER, s TEXT)", &mut env);
    let texts: Vec<String> = (0..statements)
        .map(|i| {
            if i % 4 == 3 {
                format!("UPDATE kv SET v = v + 1 WHERE id = {}", i / 2)
            } else {
                format!("INSERT INTO kv (v, s) VALUES ({i}, 'row {i}')")
            }
        })
        .collect();
    let start = clock();
    for (i, sql) in texts.iter().enumerate() {
        let _ = db.execute_autocommit(sql, &mut env);
        if i % 250 == 249 {
            db.checkpoint();
        }
    }
    db.checkpoint();
    (statements, clock() - start)
}

/// Bytes shipped per replication log method for a fixed workload: the benchmark cluster (`nodes` replicas,
/// `writes` single-row inserts) under statement, WAL, logical and trigger-based replication.
pub fn method_table(nodes: usize, writes: usize) -> String {
    let scenario = cluster_scenario(nodes, writes);
    match crate::compare::run_all(&scenario, scenario.seed) {
        Ok(sims) => {
            let figures: Vec<crate::compare::Figures> = sims.iter().map(crate::compare::figures).collect();
            crate::compare::table_text(&figures)
        }
        Err(e) => format!("the method benchmark did not start: {e}"),
    }
}

/// The long-run workload of the seek benchmark: 3 nodes, one client inserting a row every `every_ms` for `seconds`
/// of simulated time (the share link of the speed issue: a write every 20 ms).
pub fn long_run_scenario(seconds: u64, every_ms: u64) -> Scenario {
    let every_ms = every_ms.max(1);
    let writes = (seconds * 1000 / every_ms) as usize;
    let mut s = cluster_scenario(3, 0);
    s.title = Some(format!("long run: 3 nodes, a write every {every_ms} ms for {seconds} s"));
    s.until_ms = seconds * 1000;
    s.workload = (0..writes)
        .map(|i| TimedCommand {
            at: (i as u64 + 1) * every_ms * 1000,
            command: Command::Sql { client: "load".into(), sql: format!("INSERT INTO kv (v) VALUES ({i})") },
        })
        .filter(|c| c.at < seconds * 1_000_000)
        .collect();
    s
}

/// What `measure_seek` found: the seek to the end of a long run, then random seeks, and the memory it took.
#[derive(Clone, Debug, PartialEq)]
pub struct SeekMeasurement {
    pub seconds: u64,
    pub every_ms: u64,
    pub events: u64,
    pub to_end_secs: f64,
    /// Bytes the process (natively) or the wasm memory (in the page) grew by while reaching the end.
    pub grown_bytes: u64,
    pub checkpoints: usize,
    /// Seconds of each later seek, sorted.
    pub seeks: Vec<f64>,
}

impl SeekMeasurement {
    /// One line per figure, with the targets of the speed issue.
    pub fn describe(&self, target: &str) -> String {
        let mut out = format!(
            "{target}: seek to the end of {} s (a write every {} ms, 3 nodes): {:.3} s, {} events = {:.0} events/s; memory +{:.1} MB = {:.0} B per simulated second; {} checkpoints",
            self.seconds,
            self.every_ms,
            self.to_end_secs,
            self.events,
            self.events as f64 / self.to_end_secs.max(1e-9),
            self.grown_bytes as f64 / 1e6,
            self.grown_bytes as f64 / self.seconds.max(1) as f64,
            self.checkpoints,
        );
        if let (Some(min), Some(max)) = (self.seeks.first(), self.seeks.last()) {
            let median = self.seeks[self.seeks.len() / 2];
            out.push_str(&format!(
                "\n{target}: {} later seeks: min {:.1} ms, median {:.1} ms, max {:.1} ms",
                self.seeks.len(),
                min * 1e3,
                median * 1e3,
                max * 1e3
            ));
        }
        out
    }
}

/// The long-run playback benchmark, the same natively (`replsim bench-seek`) and in the page (`?bench=1`): seek to
/// the end of `long_run_scenario(seconds, every_ms)`, then to `seeks` moments in a fixed pseudo-random order.
/// `clock` gives seconds, `memory` the bytes in use (any origin).
pub fn measure_seek(
    seconds: u64,
    every_ms: u64,
    seeks: usize,
    clock: impl Fn() -> f64,
    memory: impl Fn() -> u64,
) -> Option<SeekMeasurement> {
    use crate::playback::Playback;
    let scenario = long_run_scenario(seconds, every_ms);
    let before = memory();
    let mut p = Playback::new(scenario, 42, Vec::new()).ok()?;
    let start = clock();
    p.seek(seconds * 1_000_000);
    let to_end_secs = clock() - start;
    let grown_bytes = memory().saturating_sub(before);
    let events = p.sim().metrics.events;
    let mut times = Vec::with_capacity(seeks);
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..seeks {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let start = clock();
        p.seek(x % (seconds * 1_000_000).max(1));
        times.push(clock() - start);
    }
    crate::sql::sort_stable_by(&mut times, f64::total_cmp);
    Some(SeekMeasurement {
        seconds,
        every_ms,
        events,
        to_end_secs,
        grown_bytes,
        checkpoints: p.checkpoint_count(),
        seeks: times,
    })
}

/// The leaderless benchmark (DDIA 5.4): `nodes` replicas, n = 3 (or fewer nodes), w = r = 2, read repair on; a
/// client coordinated by the first replica and one that coordinates itself, `ops` operations alternating a put
/// and a get over 1,000 keys.
pub fn leaderless_scenario(nodes: usize, ops: usize) -> Option<Scenario> {
    let every_us = 200;
    let n = nodes.min(3);
    let workload: Vec<serde_json::Value> = (0..ops)
        .map(|i| {
            let key = i / 2 % 1000;
            let sql = if i % 2 == 0 {
                format!("INSERT INTO kv (k, v) VALUES ({key}, {i})")
            } else {
                format!("SELECT v FROM kv WHERE k = {key}")
            };
            serde_json::json!({"at_us": 1_000 + i as u64 * every_us, "client": if i % 4 < 2 { "coordinated" } else { "direct" }, "sql": sql})
        })
        .collect();
    let v = serde_json::json!({
        "version": 1, "seed": 42,
        "until_ms": (ops as u64 * every_us) / 1000 + 2_000,
        "title": format!("benchmark: {nodes} leaderless replicas, {ops} operations"),
        "nodes": (0..nodes).map(|i| serde_json::json!({"id": format!("n{}", i + 1), "role": "replica"})).collect::<Vec<_>>(),
        "replication": {"leaderless": {"n": n, "w": n.min(2), "r": n.min(2)}},
        "network": {"latency_ms": {"min": 1, "max": 5}},
        "clients": [{"id": "coordinated", "coordinator": "n1"}, {"id": "direct", "coordinator": "client"}],
        "schema": ["CREATE TABLE kv (k INTEGER PRIMARY KEY, v INTEGER)"],
        "workload": workload,
    });
    Scenario::from_value(&v).ok()
}

/// The leaderless benchmark world, ready to run, without a kept trace.
pub fn prepare_leaderless(nodes: usize, ops: usize) -> Option<Simulation> {
    let scenario = leaderless_scenario(nodes, ops)?;
    Simulation::with_trace(&scenario, scenario.seed, &[], false).ok()
}

/// The multi-leader benchmark: `leaders` leaders replicating all-to-all (LWW, version vectors), one client per
/// leader, `writes` single-row inserts taken by the leaders in turn (5,000 per simulated second in all).
pub fn multi_leader_scenario(leaders: usize, writes: usize) -> Option<Scenario> {
    let base = cluster_scenario(leaders, writes);
    let mut v = base.to_json();
    let ids: Vec<String> = (0..leaders).map(|i| format!("n{}", i + 1)).collect();
    v["nodes"] = ids.iter().map(|id| serde_json::json!({"id": id, "role": "leader"})).collect();
    v["replication"]["topology"] = "all-to-all".into();
    v["replication"]["conflict"] = "lww".into();
    v["clients"] = ids.iter().map(|id| serde_json::json!({"id": format!("c{id}"), "leader": id})).collect();
    v["schema"] = serde_json::json!(["CREATE TABLE kv (id INTEGER PRIMARY KEY, v INTEGER)"]);
    v["workload"] = base
        .workload
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let sql = format!("INSERT INTO kv (id, v) VALUES ({i}, {i})");
            serde_json::json!({"at_ms": c.at / 1000, "client": format!("c{}", ids[i % leaders]), "sql": sql})
        })
        .collect();
    Scenario::from_value(&v).ok()
}

/// The multi-leader benchmark world, ready to run, without a kept trace.
pub fn prepare_multi_leader(leaders: usize, writes: usize) -> Option<Simulation> {
    let scenario = multi_leader_scenario(leaders, writes)?;
    Simulation::with_trace(&scenario, scenario.seed, &[], false).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measure_times_the_same_run_as_run_cluster() {
        let ticks = std::cell::Cell::new(0.0);
        let clock = || {
            ticks.set(ticks.get() + 1.0);
            ticks.get()
        };
        let m = measure(3, 200, 3, clock).expect("benchmark scenario is valid");
        assert_eq!((m.events, m.hash), run_cluster(3, 200));
        assert!(m.events > 0);
        // Two clock readings around each `run_to_end`, and nothing else on the clock.
        assert_eq!((m.min, m.secs, m.max, m.runs, ticks.get()), (1.0, 1.0, 1.0, 3, 6.0));
    }
}
