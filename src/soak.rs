//! The seed soak (`replsim soak`): a random scenario per seed, under one of the three protocols of DDIA chapter 5:
//!
//! - single-leader (half the seeds): replicas, replication mode, log method (statement, WAL, logical, trigger),
//!   failover settings, clients that write through the leader and read by one of 5.2's routing policies;
//! - multi-leader (a quarter): two to four leaders, each in its own datacenter with up to one follower, a topology,
//!   a conflict strategy, causality by version vectors or none, clients homed on any leader;
//! - leaderless (a quarter): three to five replicas, n/w/r, read repair, anti-entropy, sloppy quorums and hinted
//!   handoff, siblings or last write wins, blind writes, coordinators on a replica or in the client;
//!
//! each with a lossy, duplicating, reordering network and faults (crashes, stalls, network partitions, cut links),
//! run with every safety claim of `check::invariants` that concerns it evaluated after every event, then, once
//! every fault has healed and the cluster has had time to settle, the end-of-run claims (convergence; acknowledged
//! writes kept). A run is a pure function of its seed: a failure prints the seed, and `replsim soak --seed N
//! --print` prints the scenario it ran, which `replsim run` replays (with `--until-ms` past the scenario's end when
//! convergence was given more settle time).

use crate::check::invariants::{Claim, Monitor, Violation};
use crate::scenario::Scenario;
use crate::world::rng::SimRng;
use crate::world::sim::Simulation;
use crate::world::time::ms;

/// When every fault is over: crashed nodes restarted, stalls resumed, the network healed.
pub const HEAL_MS: u64 = 2_500;
/// How long the run goes on after that, so that elections, catch-up and snapshots can finish.
pub const SETTLE_MS: u64 = 5_000;
/// How many more settle periods a cluster that has not converged yet gets (past the scenario's end) before
/// `convergence` fails: elections can take several rounds (one seed in about 140,000 needed a second period).
pub const EXTRA_SETTLES: u32 = 3;

/// The protocol a seed's scenario runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    SingleLeader,
    MultiLeader,
    Leaderless,
}

/// Which protocol seed `seed` soaks (drawn from a stream of its own, apart from the scenario's: a single-leader
/// seed's scenario did not change when the other protocols joined the soak).
pub fn kind_of(seed: u64) -> Kind {
    match SimRng::fork(seed, "soak-protocol").range_inclusive(0, 3) {
        0 => Kind::MultiLeader,
        1 => Kind::Leaderless,
        _ => Kind::SingleLeader,
    }
}

/// The scenario of `seed`, as JSON (what `--print` shows).
pub fn scenario_json(seed: u64) -> String {
    match kind_of(seed) {
        Kind::SingleLeader => single_leader_json(seed),
        Kind::MultiLeader => multi_leader_json(seed),
        Kind::Leaderless => leaderless_json(seed),
    }
}

/// A network for the soak: latency between `min` and `max` ms, sometimes lossy, duplicating or reordering (the
/// fields of `network`, without braces); and the slowest a message can be (a reordered one waits up to another
/// `max`).
fn network(pick: &mut impl FnMut(u64, u64) -> u64) -> (u64, String) {
    let min = pick(1, 30);
    let max = min + pick(0, 100);
    let loss = [0.0, 0.0, 0.01, 0.05][pick(0, 3) as usize];
    let duplicate = [0.0, 0.0, 0.02][pick(0, 2) as usize];
    let reorder = [0.0, 0.0, 0.1][pick(0, 2) as usize];
    let json = format!(
        r#""latency_ms": {{"min": {min}, "max": {max}}}, "loss": {loss}, "duplicate": {duplicate}, "reorder": {reorder}"#
    );
    (if reorder > 0.0 { 2 * max } else { max }, json)
}

/// Up to four faults before the heal (crashes, stalls, a partition in two, a cut link), then the heal: the network
/// whole again, every node restarted and resumed at `HEAL_MS`.
fn faults(pick: &mut impl FnMut(u64, u64) -> u64, ids: &[String], client_ids: &[String]) -> String {
    let n = ids.len() as u64;
    let mut faults = Vec::new();
    for _ in 0..pick(0, 4) {
        let at = pick(100, HEAL_MS - 200);
        let node = &ids[pick(0, n - 1) as usize];
        match pick(0, 4) {
            1 => faults.push(format!(r#"{{"at_ms": {at}, "pause": "{node}", "for_ms": {}}}"#, pick(50, 1500))),
            2 => {
                // Split the nodes in two; clients go with one side.
                let cut = pick(1, n - 1) as usize;
                let mut a: Vec<String> = ids[..cut].iter().map(|s| format!("\"{s}\"")).collect();
                let b: Vec<String> = ids[cut..].iter().map(|s| format!("\"{s}\"")).collect();
                if pick(0, 1) == 0 {
                    a.extend(client_ids.iter().map(|s| format!("\"{s}\"")));
                }
                faults.push(format!(r#"{{"at_ms": {at}, "partition": [[{}], [{}]]}}"#, a.join(", "), b.join(", ")));
            }
            3 => {
                let other = &ids[pick(0, n - 1) as usize];
                if other != node {
                    faults.push(format!(r#"{{"at_ms": {at}, "cut": ["{node}", "{other}"]}}"#));
                }
            }
            _ => faults.push(format!(r#"{{"at_ms": {at}, "crash": "{node}"}}"#)),
        }
    }
    faults.push(format!(r#"{{"at_ms": {HEAL_MS}, "heal": true}}"#));
    for id in ids {
        faults.push(format!(r#"{{"at_ms": {HEAL_MS}, "restart": "{id}"}}"#));
        faults.push(format!(r#"{{"at_ms": {HEAL_MS}, "resume": "{id}"}}"#));
    }
    faults.join(",\n  ")
}

/// 10–60 statements on table kv (k INTEGER PRIMARY KEY, v TEXT) over keys 1..=`keys` by random clients, before
/// the heal. `leaderless`: a client reads a key before it updates it (a leaderless store updates a row from the
/// versions its client read), and a fifth of the writes are blind (written without those versions).
fn workload(pick: &mut impl FnMut(u64, u64) -> u64, client_ids: &[String], keys: u64, leaderless: bool) -> String {
    let mut workload = Vec::new();
    for _ in 0..pick(10, 60) {
        let at = pick(50, HEAL_MS - 100);
        let client = &client_ids[pick(0, client_ids.len() as u64 - 1) as usize];
        let k = pick(1, keys);
        let sql = match pick(0, 5) {
            0 | 1 => format!("INSERT INTO kv (k, v) VALUES ({k}, 'v{at}')"),
            2 | 3 => format!("UPDATE kv SET v = 'u{at}' WHERE k = {k}"),
            4 => format!("DELETE FROM kv WHERE k = {k}"),
            _ => format!("SELECT * FROM kv WHERE k = {k}"),
        };
        let mut blind = "";
        if leaderless && !sql.starts_with("SELECT") {
            if sql.starts_with("UPDATE") {
                let read = at.saturating_sub(pick(150, 400)).max(10);
                workload.push(format!(
                    r#"{{"at_ms": {read}, "client": "{client}", "sql": "SELECT * FROM kv WHERE k = {k}"}}"#
                ));
            }
            if pick(0, 4) == 0 {
                blind = r#", "blind": true"#;
            }
        }
        workload.push(format!(r#"{{"at_ms": {at}, "client": "{client}", "sql": "{sql}"{blind}}}"#));
    }
    workload.join(",\n  ")
}

/// A generated scenario's parts, each JSON text (lists: their items).
struct Parts {
    nodes: Vec<String>,
    replication: String,
    network: String,
    /// Single-leader only.
    failover: Option<String>,
    clients: Vec<String>,
    workload: String,
    faults: String,
}

impl Parts {
    /// The scenario of `seed`: these parts in the body every generated scenario shares.
    fn json(self, seed: u64) -> String {
        let failover = self.failover.map(|f| format!("\n \"failover\": {f},")).unwrap_or_default();
        format!(
            r#"{{"version": 1, "title": "soak seed {seed}", "seed": {seed}, "until_ms": {until},
 "nodes": [{nodes}],
 "replication": {replication},
 "network": {{{network}}},{failover}
 "clients": [{clients}],
 "workload": [{workload}],
 "faults": [{faults}],
 "schema": ["CREATE TABLE kv (k INTEGER PRIMARY KEY, v TEXT)"]}}"#,
            until = HEAL_MS + SETTLE_MS,
            nodes = self.nodes.join(", "),
            replication = self.replication,
            network = self.network,
            clients = self.clients.join(", "),
            workload = self.workload,
            faults = self.faults,
        )
    }
}

/// DDIA 5.3: leaders in datacenters of their own, each maybe with a follower; a topology, a conflict strategy, a
/// causality setting; clients homed on any leader.
fn multi_leader_json(seed: u64) -> String {
    let mut rng = SimRng::fork(seed, "soak-multi-leader");
    let mut pick = |lo: u64, hi: u64| rng.range_inclusive(lo, hi);
    let leaders = pick(2, 4) as usize;
    let mut ids = Vec::new();
    let mut nodes = Vec::new();
    let mut leader_ids = Vec::new();
    for l in 1..=leaders {
        let id = format!("n{l}");
        nodes.push(format!(r#"{{"id": "{id}", "role": "leader", "datacenter": "dc{l}"}}"#));
        leader_ids.push(id.clone());
        ids.push(id);
        if pick(0, 2) == 0 {
            let f = format!("f{l}");
            nodes.push(format!(r#"{{"id": "{f}", "role": "follower", "datacenter": "dc{l}"}}"#));
            ids.push(f);
        }
    }
    let topology = ["all-to-all", "all-to-all", "circular", "star"][pick(0, 3) as usize];
    let conflict = ["lww", "replica-id", "merge", "siblings", "on-write", "crdt", "none"][pick(0, 6) as usize];
    let handler = ["max", "min", "concat"][pick(0, 2) as usize];
    let causality = ["version-vectors", "version-vectors", "version-vectors", "none"][pick(0, 3) as usize];
    let (_, network) = network(&mut pick);
    let network =
        format!(r#"{network}, "datacenters": {{"latency_ms": {{"min": {}, "max": {}}}}}"#, pick(10, 40), pick(41, 120));
    let client_ids: Vec<String> = (1..=pick(1, 3)).map(|i| format!("c{i}")).collect();
    let clients: Vec<String> = client_ids
        .iter()
        .map(|c| format!(r#"{{"id": "{c}", "leader": "{}"}}"#, leader_ids[pick(0, leaders as u64 - 1) as usize]))
        .collect();
    let hub = if topology == "star" { r#", "hub": "n1""# } else { "" };
    let on_write =
        if conflict == "on-write" { format!(r#", "on_write": {{"kv.v": "{handler}"}}"#) } else { String::new() };
    let replication = format!(
        r#"{{"mode": "async", "log": "logical", "topology": "{topology}"{hub}, "conflict": "{conflict}"{on_write}, "causality": "{causality}"}}"#
    );
    let workload = workload(&mut pick, &client_ids, 6, false);
    let faults = faults(&mut pick, &ids, &client_ids);
    Parts { nodes, replication, network, failover: None, clients, workload, faults }.json(seed)
}

/// DDIA 5.4: replicas with quorums, read repair, anti-entropy (mostly on), sloppy quorums, siblings or last write
/// wins; clients coordinating themselves or through a replica.
fn leaderless_json(seed: u64) -> String {
    let mut rng = SimRng::fork(seed, "soak-leaderless");
    let mut pick = |lo: u64, hi: u64| rng.range_inclusive(lo, hi);
    let replicas = pick(3, 5);
    let ids: Vec<String> = (1..=replicas).map(|i| format!("n{i}")).collect();
    let nodes: Vec<String> = ids.iter().map(|id| format!(r#"{{"id": "{id}", "role": "replica"}}"#)).collect();
    let n = pick(2, 3.min(replicas));
    let (w, r) = (pick(1, n), pick(1, n));
    let read_repair = pick(0, 3) > 0;
    let anti_entropy = [100, 200, 400, 0][pick(0, 3) as usize];
    let sloppy = pick(0, 2) == 0;
    let handoff = [50, 200][pick(0, 1) as usize];
    let resolve = ["siblings", "siblings", "lww"][pick(0, 2) as usize];
    let (slowest, network) = network(&mut pick);
    // A coordinator waits for replicas longer than the slowest round trip (else no write ever meets w).
    let request_timeout = 2 * slowest + pick(50, 300);
    let client_ids: Vec<String> = (1..=pick(1, 3)).map(|i| format!("c{i}")).collect();
    let clients: Vec<String> = client_ids
        .iter()
        .map(|c| {
            let coordinator =
                if pick(0, 3) == 0 { "client".to_string() } else { ids[pick(0, replicas - 1) as usize].clone() };
            format!(r#"{{"id": "{c}", "coordinator": "{coordinator}"}}"#)
        })
        .collect();
    let replication = format!(
        r#"{{"leaderless": {{"n": {n}, "w": {w}, "r": {r}, "read_repair": {read_repair}, "anti_entropy_ms": {anti_entropy}, "sloppy_quorum": {sloppy}, "handoff_ms": {handoff}, "request_timeout_ms": {request_timeout}, "resolve": "{resolve}"}}}}"#
    );
    let workload = workload(&mut pick, &client_ids, 8, true);
    let faults = faults(&mut pick, &ids, &client_ids);
    Parts { nodes, replication, network, failover: None, clients, workload, faults }.json(seed)
}

/// DDIA 5.1/5.2: the single-leader scenario of `seed` (the soak's first generator: its scenarios are unchanged).
pub fn single_leader_json(seed: u64) -> String {
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
    let (slowest, network) = network(&mut pick);
    // The failure-detection timeout well above the slowest round trip, as every consensus system requires: with a
    // timeout under the round trip, elections collide for ever (the timeout-too-short lesson), and convergence is
    // not promised.
    let timeout = pick((4 * slowest).max(150), (4 * slowest).max(150) + 450);
    let client_ids: Vec<String> = (1..=pick(1, 3)).map(|i| format!("c{i}")).collect();
    let mut routes: Vec<&str> =
        client_ids.iter().map(|_| ["leader", "random", "leader"][pick(0, 2) as usize]).collect();
    let workload = workload(&mut pick, &client_ids, 12, false);
    let faults = faults(&mut pick, &ids, &client_ids);
    // Drawn apart, so the scenarios above stay what they were: a quarter of seeds replicate by triggers (a
    // replicator process polls the leader's changes table), and a third of them route reads by one of 5.2's
    // policies.
    let mut extra = SimRng::fork(seed, "soak-single-leader-extra");
    let log = if extra.range_inclusive(0, 3) == 0 { "trigger" } else { log };
    if extra.range_inclusive(0, 2) == 0 {
        // (Clients that read from the leader take a policy instead; random stays random.)
        let policies = ["sticky", "own-from-leader", "leader-window", "lsn-token", "max-lag"];
        for route in &mut routes {
            let policy = policies[extra.range_inclusive(0, policies.len() as u64 - 1) as usize];
            if *route == "leader" {
                *route = policy;
            }
        }
    }
    let clients = client_ids.iter().zip(&routes).map(|(c, r)| format!(r#"{{"id": "{c}", "route": "{r}"}}"#)).collect();
    Parts {
        nodes,
        replication: format!(r#"{{"mode": "{mode}", "log": "{log}"}}"#),
        network,
        failover: Some(format!(r#"{{"auto": {auto}, "timeout_ms": {timeout}, "epochs": {epochs}}}"#)),
        clients,
        workload,
        faults,
    }
    .json(seed)
}

/// What one seed's run came to.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    Held {
        events: u64,
        /// The claims that concerned it (the others were not checked).
        checked: Vec<Claim>,
        /// The extra settle periods convergence needed (0: it held when the scenario ended).
        extra_settles: u32,
    },
    /// No claim asked for concerns this seed's scenario (`replsim soak --claim` skips it).
    Skipped,
    Broken(Violation),
    /// The generator made a scenario the parser refused (a bug in the generator, reported as such).
    BadScenario(String),
}

/// Run seed `seed`, checking `claims` (all when empty).
pub fn run_seed(seed: u64, claims: &[Claim]) -> Outcome {
    run_scenario(seed, &scenario_json(seed), claims)
}

/// Run a generated scenario (`json`) with `seed`, checking `claims` (all when empty).
pub fn run_scenario(seed: u64, json: &str, claims: &[Claim]) -> Outcome {
    let scenario = match Scenario::from_json_str(json) {
        Ok(s) => s,
        Err(e) => return Outcome::BadScenario(e.to_string()),
    };
    let mut monitor = Monitor::only(claims);
    let checked: Vec<Claim> = Claim::ALL.into_iter().filter(|c| monitor.checks(*c, &scenario)).collect();
    if checked.is_empty() && !claims.is_empty() {
        return Outcome::Skipped;
    }
    let mut sim = match Simulation::with_trace(&scenario, seed, &[], false) {
        Ok(s) => s,
        Err(e) => return Outcome::BadScenario(e.to_string()),
    };
    let mut until = scenario.until();
    let mut extra = 0;
    loop {
        while sim.next_event_time().is_some_and(|t| t <= until) {
            sim.step();
            if let Err(v) = monitor.after_event(&sim) {
                return Outcome::Broken(v);
            }
        }
        sim.run_until(until);
        match monitor.at_end(&sim, Some(ms(HEAL_MS))) {
            Ok(()) => break,
            // Convergence is a liveness claim: a cluster still electing when the settle time is over (a split
            // vote; a stale candidate that cannot win forcing new epochs, as Raft without pre-vote allows) gets
            // more quiet time before the claim fails.
            Err(v) if v.claim == Claim::Convergence && extra < EXTRA_SETTLES => {
                extra += 1;
                until += ms(SETTLE_MS);
            }
            Err(v) => return Outcome::Broken(v),
        }
    }
    Outcome::Held { events: sim.metrics.events, checked, extra_settles: extra }
}
