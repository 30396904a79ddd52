//! Bad scenario files get errors that name the field and what was expected, never a panic.

use proptest::prelude::*;
use proptest::sample::{select, Index};
use replsim::link::{base64url_encode, LinkState};
use replsim::playback::Playback;
use replsim::protocol::Status;
use replsim::scenario::{Command, CopyMethod, TimedCommand, MAX_NODES};
use replsim::world::time::ms;
use replsim::world::trace::TraceEvent;
use replsim::{Scenario, Simulation};
use serde_json::{json, Value};

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
        r#"nodes[0].role: expected one of leader | follower | cache | controller | replicator | cdc | replica, found "boss""#
    );
    assert_eq!(
        err(&OK.replace(r#"{"id": "n1", "role": "leader"}"#, r#"{"id": "n1", "role": "follower"}"#)),
        r#"nodes: expected at least one node with role "leader", found 0"#
    );
    // Two leaders are multi-leader replication (DDIA 5.3), with its own checks.
    assert_eq!(
        err(&OK
            .replace(r#"{"id": "n2", "role": "follower"}"#, r#"{"id": "n2", "role": "leader"}"#)
            .replace(r#""route": "leader"}"#, r#""route": "leader", "leader": "n9"}"#)),
        r#"clients[0].leader: no leader "n9""#
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

// ---------- Bounds on numbers and on nodes added during the run ----------

#[test]
fn the_most_negative_clock_settings_are_refused() {
    // i64::MIN has no absolute value in i64: the range check itself used to overflow (found by the fuzzer below).
    let min = i64::MIN;
    assert_eq!(
        err(&OK.replace(r#""drift_ppm": 0"#, &format!(r#""drift_ppm": {min}"#))),
        "nodes[2].clock.drift_ppm: expected between -1000000 and 1000000"
    );
    assert_eq!(
        err(&OK.replace(r#""offset_ms": 250"#, &format!(r#""offset_ms": {min}"#))),
        "nodes[2].clock.offset_ms: expected at most one day either way (86400000)"
    );
}

fn pause(node: &str, at: u64, for_ms: u64) -> TimedCommand {
    TimedCommand { at, command: Command::Pause { node: node.into(), for_ms: Some(for_ms) } }
}

#[test]
fn a_pause_longer_than_the_run_lasts_to_its_end() {
    let s = Scenario::from_json_str(OK).unwrap();
    // Past validation (a person's command, or a Scenario built in code): 584 million years, from 100 ms on.
    let mut sim = Simulation::new(&s, 1, &[pause("n3", ms(100), u64::MAX / 1000)]).unwrap();
    sim.run_to_end();
    assert_eq!(
        sim.protocol.single_leader().expect("single-leader run").nodes[2].status,
        Status::Paused,
        "n3 is still paused at the end"
    );
    let resumed = sim.trace.events().iter().any(|e| matches!(e, TraceEvent::Resumed { .. }));
    assert!(!resumed, "the pause never ended");
    // The control: a pause that fits in the run does end.
    let mut sim = Simulation::new(&s, 1, &[pause("n3", ms(100), 300)]).unwrap();
    sim.run_to_end();
    assert_eq!(sim.protocol.single_leader().expect("single-leader run").nodes[2].status, Status::Running);
    // In a file the bound is the longest run, and the error names the field.
    let with = |d: u64| {
        OK.replace(r#"{"at_ms": 700, "heal": true}"#, &format!(r#"{{"at_ms": 700, "pause": "n3", "for_ms": {d}}}"#))
    };
    assert!(Scenario::from_json_str(&with(3_600_000)).is_ok());
    for d in [3_600_001, u64::MAX / 1000, u64::MAX] {
        assert_eq!(
            err(&with(d)),
            format!(
                "faults[3].for_ms: expected at most 3600000 (the longest run), found {d}; leave for_ms out to pause \
                 until a resume"
            )
        );
    }
}

#[test]
fn a_huge_client_timeout_never_fires_within_the_run() {
    // The leader is down before alice writes: nobody answers her.
    let crash = TimedCommand { at: ms(5), command: Command::Crash("n1".into()) };
    let outcome = |timeout_ms: u64| {
        let mut s = Scenario::from_json_str(OK).unwrap();
        s.clients[0].timeout_ms = timeout_ms;
        let mut sim = Simulation::new(&s, 1, std::slice::from_ref(&crash)).unwrap();
        sim.run_to_end();
        (sim.history[0].end, sim.history[0].result.as_ref().and_then(|r| r.error.clone()))
    };
    let (end, error) = outcome(1000);
    assert_eq!(end, Some(ms(1010)), "the control: the default timeout fires");
    assert_eq!(error, Some(replsim::protocol::OpError::TimedOut { after_ms: 1000 }));
    for huge in [u64::MAX / 1000, u64::MAX] {
        assert_eq!(outcome(huge), (None, None), "timeout_ms {huge}: still waiting at the end");
    }
    let with = |t: &str| OK.replace(r#""route": "leader"}"#, &format!(r#""route": "leader", "timeout_ms": {t}}}"#));
    assert!(Scenario::from_json_str(&with("3600000")).is_ok());
    assert_eq!(err(&with("3600001")), "clients[0].timeout_ms: expected 1..=3600000, found 3600001");
    assert_eq!(err(&with("0")), "clients[0].timeout_ms: expected 1..=3600000, found 0");
}

fn add_nodes(count: usize) -> String {
    let adds: Vec<String> = (0..count).map(|k| format!(r#"{{"at_ms": {}, "add_node": "j{k}"}}"#, 700 + k)).collect();
    OK.replace(r#"{"at_ms": 700, "heal": true}"#, &adds.join(", "))
}

#[test]
fn nodes_added_by_commands_count_against_max_nodes() {
    // OK has 3 nodes, and 3 faults before the one replaced.
    let room = MAX_NODES - 3;
    let full = Scenario::from_json_str(&add_nodes(room)).expect("up to the bound");
    let mut sim = Simulation::new(&full, 1, &[]).unwrap();
    sim.run_to_end();
    assert_eq!(sim.protocol.single_leader().expect("single-leader run").nodes.len(), MAX_NODES);
    assert_eq!(
        err(&add_nodes(room + 1)),
        format!(
            "faults[{}].add_node: at most {MAX_NODES} nodes in a run, counting those added by add_node commands",
            3 + room
        )
    );
    // Naming the same new node twice adds it once.
    let twice = add_nodes(room + 1).replace(&format!(r#""add_node": "j{room}""#), r#""add_node": "j0""#);
    assert_eq!(Scenario::from_json_str(&twice).expect("one node, added twice").faults.len(), 3 + room + 1);
    // A person's commands (the playground, a link) count with the scenario's: the run refuses to start, with a
    // message the playground shows.
    let add = |k: usize| TimedCommand {
        at: ms(50),
        command: Command::AddNode { id: format!("p{k}"), copy: CopyMethod::Snapshot, group: None },
    };
    let e = Playback::new(full, 1, vec![add(0)]).expect_err("one past the bound").0;
    assert_eq!(
        e,
        format!(
            "at most {MAX_NODES} nodes in a run, counting those added by add_node commands (found {})",
            MAX_NODES + 1
        )
    );
    let base = Scenario::from_json_str(OK).unwrap();
    assert!(Playback::new(base.clone(), 1, (0..room).map(add).collect()).is_ok());
    assert!(Playback::new(base, 1, (0..=room).map(add).collect()).is_err());
}

// ---------- Structure-aware fuzzing: scenario files and a person's commands, valid and hostile ----------
//
// The generator builds documents from the format's own parts (docs/scenario-format.md). A document is well-formed
// (`hostile = false`: every choice is one the format allows, so most such documents parse and run), or picks from
// the choices that must be refused as well (`hostile = true`: unknown ids, numbers past their bounds, huge pause
// durations and timeouts, contradicting settings); then about half of all documents are damaged in one to three
// spots by `corrupt` (wrong types, hostile numbers, missing, unknown and duplicated entries, emptied arrays).

const ROUTES: &[&str] = &["leader", "random", "sticky", "own-from-leader", "leader-window", "lsn-token", "max-lag"];
const STATEMENTS: &[&str] = &[
    "INSERT INTO users (name, owner) VALUES ('ann', 'alice')",
    "INSERT INTO users (name, owner) VALUES (UUID(), 'bob')",
    "INSERT INTO users (name) VALUES (RAND())",
    "INSERT INTO posts (id, body) VALUES (1, 'hello world')",
    "UPDATE users SET name = NOW() WHERE id = 1",
    "UPDATE users SET name = 'bo' WHERE owner = 'alice'",
    "DELETE FROM users WHERE id = 2",
    "SELECT * FROM users",
    "SELECT * FROM users WHERE owner = 'alice'",
    "SELECT name FROM users WHERE id = 1",
    "BEGIN",
    "COMMIT",
    "ROLLBACK",
    "SELEC garbage",
    "INSERT INTO nope VALUES (1)",
    "",
];

/// Values that are wrong somewhere: of another type, out of every range, unknown ids, empty, huge.
fn hostile_values() -> Vec<Value> {
    vec![
        json!(u64::MAX),
        json!(u64::MAX / 1000),
        json!(3_600_001),
        json!(-1),
        json!(i64::MIN),
        json!(0),
        json!(1),
        json!(1.5),
        json!(1e300),
        json!("ghost"),
        json!(""),
        json!("an id that is far too long to be one"),
        json!(true),
        json!(null),
        json!([]),
        json!({}),
        json!([["ghost"], []]),
        json!("x".repeat(10_001)),
    ]
}

/// `valid`, or now and then (when hostile) one of `bad`.
fn or_bad<T: Clone + std::fmt::Debug + 'static>(
    valid: BoxedStrategy<T>,
    hostile: bool,
    bad: Vec<T>,
) -> BoxedStrategy<T> {
    if hostile {
        prop_oneof![12 => valid, 1 => select(bad)].boxed()
    } else {
        valid
    }
}

/// Whom a document may name: its nodes and clients, and (when hostile) ids it does not have.
#[derive(Clone, Debug)]
struct Ids {
    nodes: Vec<String>,
    clients: Vec<String>,
    hostile: bool,
}

impl Ids {
    fn node(&self) -> BoxedStrategy<Value> {
        or_bad(select(self.nodes.clone()).prop_map(Value::from).boxed(), self.hostile, vec![json!("ghost")])
    }

    fn client(&self) -> BoxedStrategy<Value> {
        let known = if self.clients.is_empty() { vec!["alice".to_string()] } else { self.clients.clone() };
        or_bad(select(known).prop_map(Value::from).boxed(), self.hostile, vec![json!("mallory")])
    }

    fn endpoints(&self) -> Vec<String> {
        self.nodes.iter().chain(&self.clients).cloned().collect()
    }

    /// Two different endpoints (a link joins two), or when hostile possibly the same one or an unknown one.
    fn pair(&self) -> BoxedStrategy<(Value, Value)> {
        let all = self.endpoints();
        let n = all.len().max(2);
        let two = (any::<Index>(), any::<Index>()).prop_map(move |(a, b)| {
            let i = a.index(n);
            let j = (i + 1 + b.index(n - 1)) % n;
            let at = |k: usize| all.get(k).map_or(json!("n1"), |id| json!(id));
            (at(i), at(j))
        });
        or_bad(two.boxed(), self.hostile, vec![(json!("n1"), json!("n1")), (json!("n1"), json!("ghost"))])
    }
}

fn latency(hostile: bool) -> BoxedStrategy<Value> {
    let valid = prop_oneof![
        (0u64..30, 0u64..60).prop_map(|(a, b)| json!({"min": a, "max": a + b})),
        (0u64..50).prop_map(Value::from),
    ];
    or_bad(valid.boxed(), hostile, vec![json!({"min": 50, "max": 10}), json!(60_001), json!({"min": 1})])
}

fn probability(hostile: bool) -> BoxedStrategy<Value> {
    let valid = prop_oneof![3 => Just(json!(0.0)), 2 => (0u32..=30).prop_map(|p| json!(f64::from(p) / 100.0))];
    or_bad(valid.boxed(), hostile, vec![json!(1.5), json!(-0.1)])
}

fn network(ids: &Ids) -> BoxedStrategy<Value> {
    let h = ids.hostile;
    let link = (ids.pair(), any::<bool>(), latency(h), probability(h)).prop_map(|((a, b), both, lat, loss)| {
        if both {
            json!({"between": [a, b], "latency_ms": lat})
        } else {
            json!({"from": a, "to": b, "loss": loss})
        }
    });
    (latency(h), probability(h), probability(h), probability(h), prop::collection::vec(link, 0..3))
        .prop_map(|(lat, loss, dup, reorder, links)| {
            let mut n = json!({"latency_ms": lat, "loss": loss, "duplicate": dup, "reorder": reorder});
            if !links.is_empty() {
                n["links"] = json!(links);
            }
            n
        })
        .boxed()
}

/// A timed entry's moment: within the run, in ms or µs (or past the longest run).
fn moment(until_ms: u64, hostile: bool) -> BoxedStrategy<(&'static str, Value)> {
    let valid = prop_oneof![
        3 => (0..=until_ms).prop_map(|t| ("at_ms", json!(t))),
        1 => (0..=until_ms * 1000).prop_map(|t| ("at_us", json!(t))),
    ];
    or_bad(valid.boxed(), hostile, vec![("at_ms", json!(3_600_001)), ("at_us", json!(u64::MAX))])
}

/// One timed entry of any kind (a workload statement, a fault, a person's command). `joins`: may add nodes.
fn timed(ids: &Ids, until_ms: u64, joins: bool) -> BoxedStrategy<Value> {
    let h = ids.hostile;
    let (n, c) = (ids.node(), ids.client());
    let for_ms = or_bad(
        prop_oneof![Just(None), (0u64..1500).prop_map(Some), Just(Some(3_600_000))].boxed(),
        h,
        vec![Some(3_600_001), Some(u64::MAX / 1000), Some(u64::MAX)],
    );
    let key = or_bad(select(&["users:1", "users:2", "posts:1"][..]).boxed(), h, vec!["users", ":"]);
    let member =
        if ids.clients.is_empty() && !h { n.clone() } else { prop_oneof![3 => n.clone(), 1 => c.clone()].boxed() };
    let groups = prop::collection::vec(prop::collection::vec(member, 1..3), if h { 1..4 } else { 2..4 });
    let join_id = or_bad(select(&["j0", "j1", "j2"][..]).boxed(), h, vec!["n1", "bad id!"]);
    let copy = or_bad(select(&["snapshot", "file-copy"][..]).boxed(), h, vec!["rsync"]);
    let format = or_bad((1u64..=2).boxed(), h, vec![0, 3]);
    let mut actions: Vec<(u32, BoxedStrategy<Value>)> = vec![
        (3, n.clone().prop_map(|n| json!({"crash": n})).boxed()),
        (3, n.clone().prop_map(|n| json!({"restart": n})).boxed()),
        (
            3,
            (n.clone(), for_ms)
                .prop_map(|(n, d)| match d {
                    None => json!({"pause": n}),
                    Some(d) => json!({"pause": n, "for_ms": d}),
                })
                .boxed(),
        ),
        (2, n.clone().prop_map(|n| json!({"resume": n})).boxed()),
        (2, (groups, any::<bool>()).prop_map(|(g, one_way)| json!({"partition": g, "one_way": one_way})).boxed()),
        (1, ids.pair().prop_map(|(a, b)| json!({"cut": [a, b]})).boxed()),
        (1, Just(json!({"heal": true})).boxed()),
        (1, ids.pair().prop_map(|(a, b)| json!({"heal": [a, b]})).boxed()),
        (1, network(ids).prop_map(|v| json!({"network": v})).boxed()),
        (1, n.clone().prop_map(|n| json!({"failover_to": n})).boxed()),
        (1, (n, format).prop_map(|(n, f)| json!({"upgrade": n, "storage_format": f})).boxed()),
    ];
    if !ids.clients.is_empty() || h {
        actions
            .push((12, (c.clone(), select(STATEMENTS)).prop_map(|(c, sql)| json!({"client": c, "sql": sql})).boxed()));
        actions.push((1, (c, key).prop_map(|(c, k)| json!({"client": c, "cache_get": k})).boxed()));
    }
    if joins {
        actions.push((2, (join_id, copy).prop_map(|(id, copy)| json!({"add_node": id, "copy": copy})).boxed()));
    }
    (moment(until_ms, h), proptest::strategy::Union::new_weighted(actions))
        .prop_map(|((key, at), mut a)| {
            a[key] = at;
            a
        })
        .boxed()
}

fn node_spec(id: String, role: &'static str, hostile: bool) -> BoxedStrategy<Value> {
    let clock = prop_oneof![3 => Just(None), 1 => (-500i64..500, -2000i64..2000).prop_map(Some)];
    let delay = or_bad(prop_oneof![3 => Just(0u64), 1 => 1u64..300].boxed(), hostile, vec![3_600_001, u64::MAX]);
    (clock, delay, 1u64..=2)
        .prop_map(move |(clock, delay, format)| {
            let mut v = json!({"id": id, "role": role});
            if let Some((offset_ms, drift_ppm)) = clock {
                v["clock"] = json!({"offset_ms": offset_ms, "drift_ppm": drift_ppm});
            }
            if delay > 0 {
                v["apply_delay_ms"] = json!(delay);
            }
            if format == 2 {
                v["storage_format"] = json!(2);
            }
            if role == "cdc" {
                v["index"] = json!("users.name");
            }
            v
        })
        .boxed()
}

fn client_spec(id: String, caches: &[String], hostile: bool) -> BoxedStrategy<Value> {
    let cache = if caches.is_empty() { Just(None).boxed() } else { prop::option::of(select(caches.to_vec())).boxed() };
    let timeout = or_bad((50u64..3000).boxed(), hostile, vec![0, 3_600_001, u64::MAX / 1000]);
    let user = prop::option::of(select(&["u1", "u2"][..]));
    (select(ROUTES), timeout, user, cache, 0u64..2000, 0u64..300, any::<bool>())
        .prop_map(move |(route, timeout, user, cache, window, max_lag, share)| {
            let mut c = json!({"id": id, "route": route, "timeout_ms": timeout, "window_ms": window,
                               "max_lag_ms": max_lag, "share_token": share});
            if let Some(u) = user {
                c["user"] = json!(u);
            }
            if let Some(k) = cache {
                c["cache"] = json!(k);
            }
            c
        })
        .boxed()
}

fn replication(trigger: bool, hostile: bool) -> BoxedStrategy<Value> {
    let log = if trigger { Just("trigger").boxed() } else { select(&["statement", "wal", "logical"][..]).boxed() };
    let heartbeat = or_bad(select(&[5u64, 20, 50, 200][..]).boxed(), hostile, vec![0, 60_001]);
    let retention = prop_oneof![3 => Just(1_000_000u64), 1 => 1u64..20];
    let trigger_spec = (or_bad((1u64..200).boxed(), hostile, vec![0]), 1u64..50, any::<bool>());
    (select(&["async", "sync", "semi-sync"][..]), log, heartbeat, any::<bool>(), any::<bool>(), retention, trigger_spec)
        .prop_map(|(mode, log, hb, subst, mixed, retention, (poll, batch, filter))| {
            let mut r = json!({"mode": mode, "log": log, "heartbeat_ms": hb, "statement_substitution": subst,
                               "statement_mixed": mixed, "log_retention": retention,
                               "semi_sync_timeout_ms": 4 * hb});
            if log == "trigger" {
                r["trigger"] = json!({"poll_ms": poll, "batch": batch, "tables": ["users"]});
                if filter {
                    r["trigger"]["where"] = json!({"users": "owner = 'alice'"});
                }
            }
            r
        })
        .boxed()
}

fn failover(controller: bool, hostile: bool) -> BoxedStrategy<Option<Value>> {
    let election = if controller {
        select(&["most-up-to-date", "controller"][..]).boxed()
    } else {
        or_bad(Just("most-up-to-date").boxed(), hostile, vec!["controller"])
    };
    let timeout = or_bad((20u64..1000).boxed(), hostile, vec![0, 3_600_001]);
    let two = select(&["ignore", "shutdown-older", "shutdown-both"][..]);
    prop::option::of((any::<bool>(), timeout, election, any::<bool>(), any::<bool>(), two, 0u64..200))
        .prop_map(|f| {
            f.map(|(auto, timeout, election, epochs, fencing, two, discovery)| {
                json!({"auto": auto, "timeout_ms": timeout, "election": election, "epochs": epochs,
                       "fencing": fencing, "two_leaders": two, "discovery_ms": discovery})
            })
        })
        .boxed()
}

/// The rest of a document once its shape is chosen: nodes (ids `n1`…, roles given), clients, settings, entries.
fn document(roles: Vec<&'static str>, clients: Vec<String>, shape: Shape) -> BoxedStrategy<Value> {
    let Shape { partitioned, trigger, until_ms, hostile } = shape;
    let ids: Vec<String> = (1..=roles.len()).map(|i| format!("n{i}")).collect();
    let named = Ids { nodes: ids.clone(), clients: clients.clone(), hostile };
    let nodes: Vec<_> = ids.iter().zip(&roles).map(|(id, r)| node_spec(id.clone(), r, hostile)).collect();
    let caches: Vec<String> = ids.iter().zip(&roles).filter(|(_, r)| **r == "cache").map(|(i, _)| i.clone()).collect();
    let client_specs: Vec<_> = clients.iter().map(|c| client_spec(c.clone(), &caches, hostile)).collect();
    let schema = or_bad(
        Just(json!([
            "CREATE TABLE users (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT, owner TEXT)",
            "CREATE TABLE posts (id INTEGER PRIMARY KEY, body TEXT)"
        ]))
        .boxed(),
        hostile,
        vec![json!(["CREATE TABEL users (id)"]), json!([])],
    );
    // Trigger replication refuses add_node in a file; a person's commands may still carry one.
    let joins = !trigger || hostile;
    let entries = |n: std::ops::Range<usize>| prop::collection::vec(timed(&named, until_ms, joins), n);
    // Now and then many joiners at once: with the scenario's own nodes, up to MAX_NODES or past it.
    let joiners =
        if joins { prop_oneof![8 => Just(0usize), 2 => 1usize..3, 1 => 10usize..=16].boxed() } else { Just(0).boxed() };
    let commands = prop::collection::vec(timed(&named, until_ms, true), 0..5);
    let settings = (
        nodes,
        client_specs,
        replication(trigger, hostile),
        failover(roles.contains(&"controller"), hostile),
        prop::option::of(network(&named)),
        schema,
    );
    (settings, entries(0..12), entries(0..6), joiners, 0..=until_ms, commands)
        .prop_map(move |(settings, workload, mut faults, joiners, join_at, commands)| {
            let (nodes, clients, replication, failover, network, schema) = settings;
            for k in 0..joiners {
                faults.push(json!({"at_ms": join_at, "add_node": format!("j{k}"), "copy": "snapshot"}));
            }
            let mut s = json!({"version": 1, "until_ms": until_ms, "nodes": nodes, "replication": replication,
                               "clients": clients, "schema": schema, "workload": workload, "faults": faults});
            if let Some(f) = failover {
                s["failover"] = f;
            }
            if let Some(n) = network {
                s["network"] = n;
            }
            if partitioned {
                s["partitions"] = json!([{"id": "p1", "nodes": ["n1", "n2"]}, {"id": "p2", "nodes": ["n3", "n4"]}]);
                s["partition_key"] = json!({"users": "owner"});
            }
            json!({"scenario": s, "commands": commands})
        })
        .boxed()
}

#[derive(Clone, Copy, Debug)]
struct Shape {
    partitioned: bool,
    trigger: bool,
    until_ms: u64,
    hostile: bool,
}

/// A scenario and a person's commands, `{"scenario": …, "commands": […]}`, before any damage.
fn built() -> impl Strategy<Value = Value> {
    let role = prop_oneof![
        8 => Just("follower"),
        1 => Just("cache"),
        1 => Just("controller"),
        1 => Just("cdc"),
        1 => Just("replicator"),
    ];
    let until = prop_oneof![8 => 50u64..1500, 1 => Just(5_000u64), 1 => Just(3_600_000u64)];
    let clients = prop::sample::subsequence(vec!["alice".to_string(), "bob".into(), "carol".into()], 0..=3);
    let shape = (prop::bool::weighted(0.15), prop::bool::weighted(0.2), until, prop::bool::weighted(0.35));
    (prop::collection::vec(role, 0..5), clients, shape).prop_flat_map(
        |(more, clients, (partitioned, trigger, until_ms, hostile))| {
            let mut roles = vec!["leader"];
            for r in more {
                // At most one controller and one replicator, unless hostile.
                let again = matches!(r, "controller" | "replicator") && roles.contains(&r);
                roles.push(if again && !hostile { "follower" } else { r });
            }
            // Two groups of leader and follower; partitions take no controller, cdc, replicator or trigger log.
            if partitioned {
                roles = vec!["leader", "follower", "leader", "follower"];
            }
            let trigger = trigger && (!partitioned || hostile);
            document(roles, clients, Shape { partitioned, trigger, until_ms, hostile })
        },
    )
}

/// How to damage one spot of a document: `how` picks the damage, `what` the key or the hostile value.
#[derive(Clone, Debug)]
struct Damage {
    spot: Index,
    how: u8,
    what: Index,
}

fn spots(v: &Value, at: String, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => m.iter().for_each(|(k, x)| spots(x, format!("{at}/{k}"), out)),
        Value::Array(a) => a.iter().enumerate().for_each(|(i, x)| spots(x, format!("{at}/{i}"), out)),
        _ => {}
    }
    out.push(at);
}

fn damage(doc: &mut Value, d: &Damage) {
    let mut all = Vec::new();
    spots(doc, String::new(), &mut all);
    let Some(target) = doc.pointer_mut(&all[d.spot.index(all.len())]) else { return };
    match (d.how, target) {
        (0, Value::Object(m)) if !m.is_empty() => {
            let key = m.keys().nth(d.what.index(m.len())).cloned().unwrap_or_default();
            m.remove(&key);
        }
        (1, Value::Object(m)) => {
            m.insert("surprise".into(), json!(1));
        }
        (2, Value::Array(a)) => a.clear(),
        (3, Value::Array(a)) if !a.is_empty() => a.push(a[0].clone()),
        (_, t) => {
            let values = hostile_values();
            *t = values[d.what.index(values.len())].clone();
        }
    }
}

/// Documents as fuzzed: untouched a little more than half the time, else damaged in one to three spots; a seed;
/// and now and then durations past validation's bounds, set on the parsed scenario (see `past_validation`).
fn documents() -> impl Strategy<Value = (Value, u64, Option<Huge>)> {
    let d = (any::<Index>(), 0u8..8, any::<Index>()).prop_map(|(spot, how, what)| Damage { spot, how, what });
    let damages = prop_oneof![4 => Just(Vec::new()), 3 => prop::collection::vec(d, 1..=3)];
    let huge = (any::<Index>(), 0u64..1_500_000, select(&[u64::MAX / 1000, u64::MAX][..]))
        .prop_map(|(node, at, ms)| Huge { node, at, ms });
    let huge = prop_oneof![5 => Just(None), 1 => huge.prop_map(Some)];
    (built(), damages, any::<u64>(), huge).prop_map(|(mut doc, damages, seed, huge)| {
        for d in &damages {
            damage(&mut doc, d);
        }
        (doc, seed, huge)
    })
}

/// Durations no file may hold, for a `Scenario` built in code: every client's timeout, and a pause of one node.
#[derive(Clone, Debug)]
struct Huge {
    node: Index,
    at: u64,
    ms: u64,
}

/// Defence in depth behind validation: time arithmetic saturates, so such a run neither panics nor wraps around.
fn past_validation(s: &mut Scenario, extra: &mut Vec<TimedCommand>, h: &Huge) {
    for c in &mut s.clients {
        c.timeout_ms = h.ms;
    }
    let node = s.nodes[h.node.index(s.nodes.len())].id.clone();
    extra.push(TimedCommand { at: h.at, command: Command::Pause { node, for_ms: Some(h.ms) } });
}

/// The longest a fuzzed run runs: long enough for elections, snapshots and retries, short enough for many cases.
const FUZZ_RUN_MS: u64 = 5_000;

fn run_to(s: &Scenario, seed: u64, extra: &[TimedCommand]) -> Result<Simulation, String> {
    let mut sim = Simulation::new(s, seed, extra).map_err(|e| e.0)?;
    sim.run_until(s.until().min(ms(FUZZ_RUN_MS)));
    Ok(sim)
}

/// A document's scenario parsed, and the person's commands as a share link carries them (refused ones: none).
fn parse(doc: &Value, seed: u64) -> Result<Result<(Scenario, Vec<TimedCommand>), String>, TestCaseError> {
    let scenario = doc.get("scenario").cloned().unwrap_or(Value::Null);
    let s = match Scenario::from_json_str(&scenario.to_string()) {
        Ok(s) => s,
        Err(e) => {
            prop_assert!(!e.message.is_empty(), "an error without a message: {e:?}");
            return Ok(Err(e.to_string()));
        }
    };
    let commands = doc.get("commands").cloned().unwrap_or(Value::Null);
    let link = json!({"v": 1, "scenario": scenario, "seed": seed, "commands": commands, "at_us": 0});
    let extra = match LinkState::decode(&format!("run={}", base64url_encode(link.to_string().as_bytes()))) {
        Ok(ls) => {
            prop_assert_eq!(&ls.scenario, &s);
            ls.commands
        }
        Err(e) => {
            prop_assert!(!e.is_empty(), "a link error without a message");
            Vec::new()
        }
    };
    Ok(Ok((s, extra)))
}

proptest! {
    // Counterexamples are kept in tests/scenario_validation.proptest-regressions and replayed first (commit them).
    #![proptest_config(ProptestConfig { cases: 4000, failure_persistence: regressions(), ..ProptestConfig::default() })]
    /// Scenario files and share links built from the format's parts, well-formed, hostile or damaged: parsing never
    /// panics and every error has a message; whatever parses starts or says why not, runs without panicking, and
    /// runs the same twice with the same seed.
    #[test]
    fn built_files_and_links_never_panic((doc, seed, huge) in documents()) {
        let Ok((mut s, mut extra)) = parse(&doc, seed)? else { return Ok(()) };
        if let Some(h) = &huge {
            past_validation(&mut s, &mut extra, h);
        }
        match run_to(&s, seed, &extra) {
            Err(e) => prop_assert!(!e.is_empty(), "a setup error without a message"),
            Ok(first) => {
                let again = run_to(&s, seed, &extra).expect("the same scenario starts again");
                prop_assert_eq!(first.trace.hash(), again.trace.hash(), "same seed, same run");
                prop_assert_eq!(first.history.len(), again.history.len());
            }
        }
    }
}
