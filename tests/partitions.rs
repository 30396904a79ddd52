//! DDIA 5.1 on a partitioned database (DDIA 5.2 "Consistent Prefix Reads"): each partition is its own replication
//! group (own leader, log, LSNs and epochs), so the commands that act on "the leader" act on the named node's group
//! only.

use replsim::scenario::{Role, Scenario};
use replsim::world::sim::Simulation;

mod common;
use common::{lesson, run};

fn node(sim: &Simulation, id: &str) -> usize {
    sim.nodes.iter().position(|n| n.id == id).expect("node")
}

/// The consistent-prefix lesson (p1: n1 leads n2, p2: m1 leads m2; messages by author: Poons in p1, Cake in p2)
/// with `faults` and extra `workload` entries appended, parsed from JSON like any scenario file.
fn with_entries(faults: serde_json::Value, workload: serde_json::Value) -> Result<Scenario, String> {
    let mut v = lesson("lag-consistent-prefix").to_json();
    v["faults"].as_array_mut().unwrap().extend(faults.as_array().unwrap().iter().cloned());
    v["workload"].as_array_mut().unwrap().extend(workload.as_array().unwrap().iter().cloned());
    Scenario::from_value(&v).map_err(|e| e.to_string())
}

// DDIA 5.1 planned failover, on a partitioned database: only the named node's partition changes hands.
#[test]
fn ch5_1_failover_to_a_second_partition_node_hands_over_that_partition_only() {
    let s = with_entries(
        serde_json::json!([{"at_ms": 500, "failover_to": "m2"}]),
        serde_json::json!([
            {"at_ms": 1600, "client": "cake", "sql": "INSERT INTO messages (conversation, author, body) VALUES ('x', 'Cake', 'after')"},
            {"at_ms": 1600, "client": "poons", "sql": "INSERT INTO messages (conversation, author, body) VALUES ('x', 'Poons', 'after')"}
        ]),
    )
    .unwrap();
    let sim = run(&s, s.seed);
    let (n1, n2, m1, m2) = (node(&sim, "n1"), node(&sim, "n2"), node(&sim, "m1"), node(&sim, "m2"));
    // p1 is untouched: n1 still leads it, in its first epoch, and n2 still follows n1.
    assert_eq!(sim.leader_of(0), Some(n1));
    assert_eq!(sim.nodes[n1].role, Role::Leader);
    assert_eq!(sim.nodes[n1].epoch, 1);
    assert_eq!(sim.nodes[n2].leader, Some(n1));
    // p2 changed hands: m2 leads it in a new epoch of p2's own, m1 follows m2.
    assert_eq!(sim.leader_of(1), Some(m2));
    assert_eq!(sim.nodes[m2].role, Role::Leader);
    assert_eq!(sim.nodes[m2].epoch, 2);
    assert_eq!(sim.nodes[m1].role, Role::Follower);
    assert_eq!(sim.nodes[m1].leader, Some(m2));
    // One leadership change in all: n1 leads from start to end.
    assert!(sim.leader_spans.iter().any(|(l, from, until)| *l == n1 && *from == 0 && until.is_none()));
    assert!(!sim.leader_spans.iter().any(|(l, _, _)| *l == n2));
    // Writes after the handover: Cake's (p2) acknowledged by m2, Poons's (p1) still by n1.
    let by = |body: &str, author: &str| {
        let h = sim.history.iter().find(|h| h.sql.contains(author) && h.sql.contains(body)).expect("the write");
        assert!(h.ok(), "{author}'s write after the handover: {:?}", h.result);
        h.node
    };
    assert_eq!(by("'after'", "'Cake'"), m2);
    assert_eq!(by("'after'", "'Poons'"), n1);
}

// DDIA 5.1 planned failover with no working leader: the named node is promoted in its own partition, in an epoch
// after its partition's, and the other partition's leader stays.
#[test]
fn ch5_1_failover_to_with_its_partition_leaderless_promotes_it_there_only() {
    let s = with_entries(
        serde_json::json!([{"at_ms": 400, "crash": "m1"}, {"at_ms": 500, "failover_to": "m2"}]),
        serde_json::json!([]),
    )
    .unwrap();
    let sim = run(&s, s.seed);
    let (n1, m2) = (node(&sim, "n1"), node(&sim, "m2"));
    assert_eq!(sim.leader_of(0), Some(n1));
    assert_eq!(sim.nodes[n1].epoch, 1);
    assert_eq!(sim.leader_of(1), Some(m2));
    assert_eq!(sim.nodes[m2].epoch, 2);
}
