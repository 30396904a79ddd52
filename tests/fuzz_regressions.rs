//! What the coverage-guided fuzzer (fuzz/, `scripts/fuzz`) found, each kept as a test named after it, with a
//! one-line postmortem.

use replsim::scenario::Role;
use replsim::world::time::ms;
use replsim::{Scenario, Simulation};

/// A trigger scenario whose replicator has no target to confirm anything, so its changes table never empties and
/// every answer says "more are waiting", on a network that duplicates messages.
fn lonely_replicator(duplicate: f64, inserts: usize) -> Scenario {
    let workload: Vec<String> = (0..inserts)
        .map(|i| format!(r#"{{"at_ms": {i}, "client": "alice", "sql": "INSERT INTO users (name) VALUES ('u{i}')"}}"#))
        .collect();
    Scenario::from_json_str(&format!(
        r#"{{"version": 1, "until_ms": 3000,
             "nodes": [{{"id": "n1", "role": "leader"}}],
             "replication": {{"log": "trigger", "trigger": {{"batch": 2, "poll_ms": 200, "tables": ["users"]}}}},
             "network": {{"latency_ms": {{"min": 10, "max": 29}}, "duplicate": {duplicate}}},
             "clients": [{{"id": "alice", "route": "leader"}}],
             "schema": ["CREATE TABLE users (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT)"],
             "workload": [{}]}}"#,
        workload.join(", ")
    ))
    .expect("a valid scenario")
}

/// Run to `until`, or stop after `cap` events (a run that multiplies its events fails instead of hanging the test).
fn run_capped(sim: &mut Simulation, until: u64, cap: u64) -> u64 {
    let mut events = 0;
    while events < cap && sim.next_event_time().is_some_and(|t| t <= until) {
        sim.step();
        events += 1;
    }
    events
}

fn polls(sim: &Simulation) -> u64 {
    sim.protocol
        .single_leader()
        .expect("single-leader run")
        .nodes
        .iter()
        .find(|n| n.role == Role::Replicator)
        .map_or(0, |n| n.replicator.polls)
}

// Postmortem: every answer saying "more are waiting" started the next poll at once, and on a duplicating network
// duplicated answers (and answers to duplicated polls) each started one too: polls multiplied without end and a
// 1-second run never finished (the fuzz target `run`: 3 hangs within minutes).
#[test]
fn trigger_replicator_polls_do_not_multiply_on_a_duplicating_network() {
    for seed in 0..8 {
        let s = lonely_replicator(0.5, 10);
        let mut sim = Simulation::new(&s, seed, &[]).expect("starts");
        let events = run_capped(&mut sim, ms(3000), 50_000);
        assert!(events < 50_000 && sim.next_event_time().is_none_or(|t| t > ms(3000)), "seed {seed}: {events} events");
        // 16 periodic polls in 3 s (at 0, 200, … 3000 ms); each may fetch one more batch at once, never more.
        let p = polls(&sim);
        assert!((16..=16 * 2).contains(&p), "seed {seed}: {p} polls in 3 s");
    }
    // The control: without duplication the replicator still fetches the waiting batches at once, at network speed.
    let s = lonely_replicator(0.0, 10);
    let mut sim = Simulation::new(&s, 1, &[]).expect("starts");
    sim.run_until(ms(3000));
    assert!(polls(&sim) > 15, "more batches than periodic polls: {}", polls(&sim));
}
