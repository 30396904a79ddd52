//! Bad scenario files get errors that name the field and what was expected, never a panic.

use proptest::prelude::*;
use replsim::Scenario;

mod common;
use common::regressions;

fn err(text: &str) -> String {
    Scenario::from_json_str(text).expect_err("should be rejected").to_string()
}

const OK: &str = r#"{"version": 1, "seed": 7, "until_ms": 2000,
  "nodes": [{"id": "n1", "role": "leader"}, {"id": "n2", "role": "follower"},
            {"id": "n3", "role": "follower", "clock": {"offset_ms": 250, "drift_ppm": 0}}],
  "replication": {"mode": "async", "log": "logical"},
  "network": {"latency_ms": {"min": 5, "max": 20}, "loss": 0.0},
  "clients": [{"id": "alice", "route": "leader"}],
  "schema": ["CREATE TABLE users (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT)"],
  "workload": [{"at_ms": 10, "client": "alice", "sql": "INSERT INTO users (name) VALUES ('ann')"}],
  "faults": [{"at_ms": 300, "crash": "n2"}, {"at_ms": 900, "restart": "n2"},
             {"at_ms": 400, "partition": [["n1"], ["n2", "n3"]]}, {"at_ms": 700, "heal": true}]}"#;

#[test]
fn the_issue_example_parses() {
    let s = Scenario::from_json_str(OK).unwrap();
    assert_eq!(s.nodes.len(), 3);
    assert_eq!(s.nodes[2].clock.offset_ms, 250);
    assert_eq!(s.faults.len(), 4);
}

#[test]
fn wrong_types_name_the_field() {
    assert_eq!(
        err(&OK.replace(r#""drift_ppm": 0"#, r#""drift_ppm": "fast""#)),
        r#"nodes[2].clock.drift_ppm: expected an integer, found the string "fast""#
    );
    assert_eq!(
        err(&OK.replace(r#""until_ms": 2000"#, r#""until_ms": -1"#)),
        "until_ms: expected a non-negative integer, found -1"
    );
    assert_eq!(
        err(&OK.replace(r#""loss": 0.0"#, r#""loss": 2"#)),
        "network.loss: expected a probability between 0 and 1, found 2"
    );
}

#[test]
fn references_must_exist() {
    assert_eq!(
        err(&OK.replace(r#""crash": "n2""#, r#""crash": "n9""#)),
        r#"faults[0].crash: no node "n9" (nodes: n1, n2, n3)"#
    );
    assert_eq!(
        err(&OK.replace(r#""client": "alice""#, r#""client": "bob""#)),
        r#"workload[0].client: no client "bob""#
    );
}

#[test]
fn structure_errors_are_explained() {
    assert!(err("{").starts_with("not valid JSON"));
    assert_eq!(err("[]"), "expected an object, found an array");
    assert_eq!(
        err(&OK.replace(r#""role": "leader""#, r#""role": "boss""#)),
        r#"nodes[0].role: expected one of leader | follower | cache | controller | replicator | cdc, found "boss""#
    );
    assert_eq!(
        err(&OK.replace(r#"{"id": "n2", "role": "follower"}"#, r#"{"id": "n2", "role": "leader"}"#)),
        r#"nodes: expected exactly one node with role "leader", found 2"#
    );
    assert!(err(&OK.replace(r#""seed": 7"#, r#""sead": 7"#)).starts_with("sead: unknown field"));
    assert_eq!(
        err(&OK.replace(r#"{"at_ms": 300, "crash": "n2"}"#, r#"{"at_ms": 300, "crash": "n2", "restart": "n2"}"#)),
        "faults[0]: expected exactly one action, found crash and restart"
    );
    assert_eq!(
        err(&OK.replace(r#"{"at_ms": 700, "heal": true}"#, r#"{"heal": true}"#)),
        "faults[3].at_ms: required field is missing"
    );
    assert_eq!(
        err(&OK.replace(r#""log": "logical""#, r#""log": "binlog""#)),
        r#"replication.log: expected one of statement | wal | logical | trigger, found "binlog""#
    );
    assert_eq!(err(&OK.replace(r#""id": "n3""#, r#""id": "n2""#)), r#"nodes[2].id: duplicate node id "n2""#);
}

#[test]
fn schema_errors_stop_the_run_with_a_message() {
    let s = Scenario::from_json_str(&OK.replace("CREATE TABLE users", "CREATE TABEL users")).unwrap();
    let e = replsim::Simulation::new(&s, 1, &[]).unwrap_err().to_string();
    assert!(e.starts_with("schema[0]: "), "{e}");
}

proptest! {
    // Counterexamples are kept in tests/scenario_validation.proptest-regressions and replayed first (commit them).
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: regressions(), ..ProptestConfig::default() })]
    /// Truncated and byte-mangled files never panic.
    #[test]
    fn mangled_files_never_panic(cut in 0usize..OK.len(), pos in 0usize..OK.len(), byte in any::<u8>()) {
        let _ = Scenario::from_json_str(&OK[..cut]);
        let mut bytes = OK.as_bytes().to_vec();
        bytes[pos] = byte;
        if let Ok(text) = String::from_utf8(bytes) {
            if let Ok(s) = Scenario::from_json_str(&text) {
                // Whatever parses also runs.
                if let Ok(mut sim) = replsim::Simulation::new(&s, 1, &[]) { sim.run_until(50_000); }
            }
        }
    }
}

#[test]
fn failover_and_new_node_keys_are_validated() {
    let with = |extra: &str| OK.replace(r#""network":"#, &format!("{extra}, \"network\":"));
    assert_eq!(
        err(&with(r#""failover": {"election": "vote"}"#)),
        r#"failover.election: expected one of most-up-to-date | controller, found "vote""#
    );
    assert_eq!(
        err(&with(r#""failover": {"election": "controller"}"#)),
        r#"failover.election: "controller" needs a node with role "controller""#
    );
    assert_eq!(err(&with(r#""failover": {"timeout_ms": 0}"#)), "failover.timeout_ms: expected 1..=3600000");
    // Nodes added during the run may be named by later commands.
    let s = Scenario::from_json_str(&OK.replace(
        r#"{"at_ms": 700, "heal": true}"#,
        r#"{"at_ms": 700, "add_node": "n4"}, {"at_ms": 800, "crash": "n4"}"#,
    ))
    .unwrap();
    assert_eq!(s.faults.len(), 5);
    assert_eq!(
        err(&OK.replace(r#"{"at_ms": 700, "heal": true}"#, r#"{"at_ms": 700, "add_node": "n2"}"#)),
        r#"faults[3].add_node: "n2" already exists"#
    );
    assert_eq!(
        err(&OK.replace(r#""route": "leader"}"#, r#""route": "leader", "cache": "n2"}"#)),
        r#"clients[0].cache: no node "n2" with role "cache""#
    );
}

// Issue #3's keys: storage formats, the upgrade command, trigger replication, CDC nodes, locking.
#[test]
fn log_method_keys_are_checked() {
    assert_eq!(
        err(&OK.replace(r#""role": "follower"}"#, r#""role": "follower", "storage_format": 3}"#)),
        "nodes[1].storage_format: expected 1 or 2, found 3"
    );
    assert_eq!(
        err(&OK.replace(r#"{"at_ms": 900, "restart": "n2"}"#, r#"{"at_ms": 900, "upgrade": "n2"}"#)),
        "faults[1].storage_format: required field is missing (1 or 2)"
    );
    assert_eq!(
        err(&OK.replace(r#"{"id": "n2", "role": "follower"}"#, r#"{"id": "n2", "role": "cdc"}"#)),
        r#"nodes[1].index: a cdc node needs the column it indexes, like "posts.body""#
    );
    assert_eq!(
        err(&OK.replace(r#"{"id": "n2", "role": "follower"}"#, r#"{"id": "n2", "role": "follower", "index": "a.b"}"#)),
        r#"nodes[1].index: only a node with role "cdc" has an index"#
    );
    let trigger = |t: &str| OK.replace(r#""log": "logical"}"#, &format!(r#""log": "trigger", "trigger": {t}}}"#));
    assert!(err(&trigger(r#"{"where": {"users": "name = = 1"}}"#))
        .starts_with("replication.trigger.where.users: not a valid SQL condition:"));
    assert_eq!(err(&trigger(r#"{"poll_ms": 0}"#)), "replication.trigger.poll_ms: expected 1..=60000");
    assert_eq!(
        err(&OK.replace(r#""version": 1,"#, r#""version": 1, "locking": "table","#)),
        r#"locking: expected one of database | row, found "table""#
    );
    // A trigger scenario gets its replicator process, and the filter is checked against the schema at start.
    let s = Scenario::from_json_str(&trigger(r#"{"tables": ["users"], "where": {"users": "nmae = 'x'"}}"#)).unwrap();
    assert!(s.nodes.iter().any(|n| n.id == "replicator"));
    let e = replsim::Simulation::new(&s, 1, &[]).expect_err("setup fails").to_string();
    assert!(e.contains("replication.trigger.where.users") && e.contains("nmae"), "{e}");
}

#[test]
fn link_settings_are_checked() {
    let with = |links: &str| OK.replace(r#""loss": 0.0}"#, &format!(r#""loss": 0.0, "links": {links}}}"#));
    let ok = Scenario::from_json_str(&with(r#"[{"between": ["n1", "n3"], "latency_ms": {"min": 80, "max": 120}}]"#));
    assert_eq!(ok.unwrap().network.links[0].latency_ms, Some((80, 120)));
    assert_eq!(
        err(&with(r#"[{"between": ["n1", "n9"], "loss": 0.1}]"#)),
        r#"network.links[0].between[1]: no node or client "n9""#
    );
    assert_eq!(
        err(&with(r#"[{"between": ["n1", "n2"], "from": "n1", "loss": 0.1}]"#)),
        r#"network.links[0]: expected either "between": [a, b] (both directions) or "from" and "to" (one direction)"#
    );
    assert_eq!(
        err(&with(r#"[{"from": "n2", "to": "n2", "loss": 0.1}]"#)),
        r#"network.links[0]: a link joins two different endpoints, found "n2" twice"#
    );
    assert_eq!(
        err(&with(r#"[{"from": "n1", "to": "alice"}]"#)),
        "network.links[0]: expected at least one of latency_ms, loss, duplicate, reorder"
    );
    assert_eq!(
        err(&with(r#"[{"from": "n1", "to": "alice", "loss": 1.5}]"#)),
        "network.links[0].loss: expected a probability between 0 and 1, found 1.5"
    );
    assert_eq!(
        err(&with(r#"[{"between": ["n1", "n2"], "latency_ms": {"min": 50, "max": 10}}]"#)),
        "network.links[0].latency_ms.max: expected at least min (50), found 10"
    );
    assert_eq!(err(&with(r#"{"n1": 5}"#)), "network.links: expected an array, found an object");
}
