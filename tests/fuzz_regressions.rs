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

// Postmortem (fuzz `run`, 3 hangs): each duplicated "more are waiting" answer started a poll; polls multiplied.
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

/// The SQL target's inputs saved as hangs, run as the target runs them: the fuzz schema, then each statement in one
/// session. Returns the messages of the statements canceled for their work, and the row writes of the whole input.
fn run_sql_input(data: &[u8]) -> (Vec<String>, u64) {
    use replsim::sql::{split_statements, Database, FixedEnv, Session};
    let mut env = FixedEnv { now_us: 1_700_000_000_000_000, rng_state: 7 };
    let input = String::from_utf8_lossy(data);
    let format = 1 + (data.len() % 2) as u8;
    let mut db = Database::with_storage(format, 512).expect("a valid storage setting");
    for s in split_statements(include_str!("../fuzz/corpus/sql/fuzz-schema.sql")) {
        db.execute_autocommit(&s, &mut env).expect("the fuzz schema runs");
    }
    let mut session = Session::new();
    let written = db.stats().rows_written;
    let mut canceled = Vec::new();
    for statement in split_statements(&input).iter().take(64) {
        if let Err(e) = db.execute(statement, &mut session, &mut env) {
            if e.message.starts_with("statement canceled") {
                canceled.push(e.message);
            }
        }
    }
    (canceled, db.stats().rows_written - written)
}

// Postmortem (fuzz `sql`, 84 hangs): nothing bounded a statement's work; cascading triggers wrote 4.3 M rows.
#[test]
fn a_cascading_trigger_statement_is_canceled_not_run_for_seconds() {
    let inputs = [
        include_bytes!("../fuzz/corpus/sql/hang-trigger-cascade-1.sql"),
        include_bytes!("../fuzz/corpus/sql/hang-trigger-cascade-2.sql"),
        include_bytes!("../fuzz/corpus/sql/hang-trigger-cascade-3.sql"),
    ];
    for (i, input) in inputs.iter().enumerate() {
        let (canceled, written) = run_sql_input(&input[..]);
        assert!(!canceled.is_empty(), "input {}: no statement reached the work limit", i + 1);
        // 64 statements of at most 5,000 row changes, each a put and a take at most.
        assert!(written < 64 * 5_000 * 2, "input {}: {written} row writes", i + 1);
    }
}

/// The "split brain without epochs" lesson on another network, with a follower that applies late (so it is always
/// behind whichever leader it hears): both leaders ship to it, and nothing tells it which one to believe.
fn split_brain_on(network: serde_json::Value) -> Scenario {
    let lesson = replsim::library::lesson("split-brain").expect("the lesson exists").expect("the lesson parses");
    let mut doc = lesson.to_json();
    doc["network"] = network;
    doc["nodes"][2]["apply_delay_ms"] = serde_json::json!(300);
    Scenario::from_value(&doc).expect("a valid scenario")
}

// Postmortem (fuzz `run`, 2 hangs): a follower torn between two leaders asked each again at every switch, and the
// leaders answered every copy of the same request; on a duplicating or zero-latency network the batches multiplied.
#[test]
fn a_follower_torn_between_two_leaders_does_not_multiply_catch_up_batches() {
    let networks = [
        serde_json::json!({"latency_ms": {"min": 3, "max": 9}, "duplicate": 0.5, "reorder": 0.9}),
        serde_json::json!({"latency_ms": {"min": 0, "max": 0}, "duplicate": 0.1, "reorder": 0.2, "loss": 0.05}),
        serde_json::json!({"latency_ms": {"min": 0, "max": 0}}),
    ];
    for (i, network) in networks.into_iter().enumerate() {
        let s = split_brain_on(network);
        for seed in 0..8 {
            let mut sim = Simulation::new(&s, seed, &[]).expect("starts");
            // The lesson as shipped takes about 1,600 events; a storm takes millions.
            let events = run_capped(&mut sim, s.until(), 50_000);
            let done = sim.next_event_time().is_none_or(|t| t > s.until());
            assert!(done, "network {i}, seed {seed}: still running after {events} events");
        }
    }
}
