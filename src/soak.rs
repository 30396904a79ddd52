//! The seed soak (`replsim soak`): a random scenario per seed — replicas, replication mode, log method, failover
//! settings, a lossy and reordering network, clients that write and read, and faults (crashes, stalls, network
//! partitions, cut links) — run with every safety claim of `check::invariants` evaluated after every event, then,
//! once every fault has healed and the cluster has had time to settle, convergence. A run is a pure function of
//! its seed: a failure prints the seed, and `replsim soak --seed N --print` prints the scenario it ran, which
//! `replsim run` replays.

use crate::check::invariants::{Claim, Monitor, Violation};
use crate::scenario::Scenario;
use crate::world::rng::SimRng;
use crate::world::sim::Simulation;

/// When every fault is over: crashed nodes restarted, stalls resumed, the network healed.
pub const HEAL_MS: u64 = 2_500;
/// How long the run goes on after that, so that elections, catch-up and snapshots can finish.
pub const SETTLE_MS: u64 = 5_000;

/// The scenario of `seed`, as JSON (what `--print` shows).
pub fn scenario_json(seed: u64) -> String {
    let mut rng = SimRng::fork(seed, "soak");
    let mut pick = |lo: u64, hi: u64| rng.range_inclusive(lo, hi);
    let replicas = pick(3, 5) as usize;
    let ids: Vec<String> = (1..=replicas).map(|i| format!("n{i}")).collect();
    let nodes: Vec<String> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| format!(r#"{{"id": "{id}", "role": "{}"}}"#, if i == 0 { "leader" } else { "follower" }))
        .collect();
    let mode = ["async", "sync", "semi-sync"][pick(0, 2) as usize];
    let log = ["logical", "statement", "wal"][pick(0, 2) as usize];
    let epochs = pick(0, 9) < 8;
    let auto = pick(0, 9) < 8;
    let min = pick(1, 30);
    let max = min + pick(0, 100);
    let loss = [0.0, 0.0, 0.01, 0.05][pick(0, 3) as usize];
    let duplicate = [0.0, 0.0, 0.02][pick(0, 2) as usize];
    let reorder = [0.0, 0.0, 0.1][pick(0, 2) as usize];
    // The failure-detection timeout well above the slowest round trip (a reordered message waits up to another
    // `max`), as every consensus system requires: with a timeout under the round trip, elections collide for ever
    // (the timeout-too-short lesson), and convergence is not promised.
    let slowest = if reorder > 0.0 { 2 * max } else { max };
    let timeout = pick((4 * slowest).max(150), (4 * slowest).max(150) + 450);
    let clients = pick(1, 3) as usize;
    let client_ids: Vec<String> = (1..=clients).map(|i| format!("c{i}")).collect();
    let routes = ["leader", "random", "leader"];
    let client_specs: Vec<String> =
        client_ids.iter().map(|c| format!(r#"{{"id": "{c}", "route": "{}"}}"#, routes[pick(0, 2) as usize])).collect();
    let mut workload = Vec::new();
    for _ in 0..pick(10, 60) {
        let at = pick(50, HEAL_MS - 100);
        let client = &client_ids[pick(0, clients as u64 - 1) as usize];
        let k = pick(1, 12);
        let sql = match pick(0, 5) {
            0 | 1 => format!("INSERT INTO kv (k, v) VALUES ({k}, 'v{at}')"),
            2 | 3 => format!("UPDATE kv SET v = 'u{at}' WHERE k = {k}"),
            4 => format!("DELETE FROM kv WHERE k = {k}"),
            _ => format!("SELECT * FROM kv WHERE k = {k}"),
        };
        workload.push(format!(r#"{{"at_ms": {at}, "client": "{client}", "sql": "{sql}"}}"#));
    }
    let mut faults = Vec::new();
    for _ in 0..pick(0, 4) {
        let at = pick(100, HEAL_MS - 200);
        let node = &ids[pick(0, replicas as u64 - 1) as usize];
        match pick(0, 4) {
            0 => faults.push(format!(r#"{{"at_ms": {at}, "crash": "{node}"}}"#)),
            1 => faults.push(format!(r#"{{"at_ms": {at}, "pause": "{node}", "for_ms": {}}}"#, pick(50, 1500))),
            2 => {
                // Split the replicas in two; clients go with one side.
                let cut = pick(1, replicas as u64 - 1) as usize;
                let mut a: Vec<String> = ids[..cut].iter().map(|s| format!("\"{s}\"")).collect();
                let b: Vec<String> = ids[cut..].iter().map(|s| format!("\"{s}\"")).collect();
                if pick(0, 1) == 0 {
                    a.extend(client_ids.iter().map(|s| format!("\"{s}\"")));
                }
                faults.push(format!(r#"{{"at_ms": {at}, "partition": [[{}], [{}]]}}"#, a.join(", "), b.join(", ")));
            }
            3 => {
                let other = &ids[pick(0, replicas as u64 - 1) as usize];
                if other != node {
                    faults.push(format!(r#"{{"at_ms": {at}, "cut": ["{node}", "{other}"]}}"#));
                }
            }
            _ => faults.push(format!(r#"{{"at_ms": {at}, "crash": "{node}"}}"#)),
        }
    }
    // Everything heals at once.
    faults.push(format!(r#"{{"at_ms": {HEAL_MS}, "heal": true}}"#));
    for id in &ids {
        faults.push(format!(r#"{{"at_ms": {HEAL_MS}, "restart": "{id}"}}"#));
        faults.push(format!(r#"{{"at_ms": {HEAL_MS}, "resume": "{id}"}}"#));
    }
    format!(
        r#"{{"version": 1, "title": "soak seed {seed}", "seed": {seed}, "until_ms": {until},
 "nodes": [{nodes}],
 "replication": {{"mode": "{mode}", "log": "{log}"}},
 "network": {{"latency_ms": {{"min": {min}, "max": {max}}}, "loss": {loss}, "duplicate": {duplicate}, "reorder": {reorder}}},
 "failover": {{"auto": {auto}, "timeout_ms": {timeout}, "epochs": {epochs}}},
 "clients": [{clients}],
 "schema": ["CREATE TABLE kv (k INTEGER PRIMARY KEY, v TEXT)"],
 "workload": [{workload}],
 "faults": [{faults}]}}"#,
        until = HEAL_MS + SETTLE_MS,
        nodes = nodes.join(", "),
        clients = client_specs.join(", "),
        workload = workload.join(",\n  "),
        faults = faults.join(",\n  "),
    )
}

/// What one seed's run came to.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    Held {
        events: u64,
    },
    Broken(Violation),
    /// The generator made a scenario the parser refused (a bug in the generator, reported as such).
    BadScenario(String),
}

/// Run seed `seed`, checking `claims` (all when empty).
pub fn run_seed(seed: u64, claims: &[Claim]) -> Outcome {
    let json = scenario_json(seed);
    let scenario = match Scenario::from_json_str(&json) {
        Ok(s) => s,
        Err(e) => return Outcome::BadScenario(e.to_string()),
    };
    let mut sim = match Simulation::with_trace(&scenario, seed, &[], false) {
        Ok(s) => s,
        Err(e) => return Outcome::BadScenario(e.to_string()),
    };
    let wanted = |c: Claim| claims.is_empty() || claims.contains(&c);
    let until = scenario.until();
    let mut monitor = Monitor::new();
    let check = |r: Result<(), Violation>| match r {
        Err(v) if wanted(v.claim) => Some(v),
        _ => None,
    };
    while sim.next_event_time().is_some_and(|t| t <= until) {
        sim.step();
        if let Some(v) = check(monitor.after_event(&sim)) {
            return Outcome::Broken(v);
        }
    }
    sim.run_until(until);
    if let Some(v) = check(monitor.at_end(&sim, Some(HEAL_MS * 1000))) {
        return Outcome::Broken(v);
    }
    Outcome::Held { events: sim.metrics.events }
}
