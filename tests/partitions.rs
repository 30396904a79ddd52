//! DDIA 5.2 "Consistent Prefix Reads" and DDIA 5.1 on a partitioned database: each partition is its own replication
//! group (own leader, log, LSNs and epochs), so the commands and measurements that act on "the leader" act on the
//! named node's group only: a planned failover, a new follower, the lag chart's samples.

use replsim::link::LinkState;
use replsim::scenario::{Command, Role, Scenario, TimedCommand};
use replsim::world::sim::Simulation;

mod common;
use common::{lesson, run};

fn node(sim: &Simulation, id: &str) -> usize {
    sim.protocol.single_leader().expect("single-leader run").nodes.iter().position(|n| n.id == id).expect("node")
}

/// The consistent-prefix lesson (p1: n1 leads n2, p2: m1 leads m2; messages by author: Poons in p1, Cake in p2)
/// with `faults` and extra `workload` entries appended, parsed from JSON like any scenario file.
fn with_entries(faults: serde_json::Value, workload: serde_json::Value) -> Result<Scenario, String> {
    let mut v = lesson("lag-consistent-prefix").to_json();
    v["faults"].as_array_mut().unwrap().extend(faults.as_array().unwrap().iter().cloned());
    v["workload"].as_array_mut().unwrap().extend(workload.as_array().unwrap().iter().cloned());
    Scenario::from_value(&v).map_err(|e| e.to_string())
}

/// The authors in a node's `messages` table.
fn authors(sim: &Simulation, n: usize) -> Vec<String> {
    common::text_column(sim, n, "messages", "author")
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
    assert_eq!(sim.protocol.single_leader().expect("single-leader run").leader_of(0), Some(n1));
    assert_eq!(sim.protocol.single_leader().expect("single-leader run").nodes[n1].role, Role::Leader);
    assert_eq!(sim.protocol.single_leader().expect("single-leader run").nodes[n1].epoch, 1);
    assert_eq!(sim.protocol.single_leader().expect("single-leader run").nodes[n2].leader, Some(n1));
    // p2 changed hands: m2 leads it in a new epoch of p2's own, m1 follows m2.
    assert_eq!(sim.protocol.single_leader().expect("single-leader run").leader_of(1), Some(m2));
    assert_eq!(sim.protocol.single_leader().expect("single-leader run").nodes[m2].role, Role::Leader);
    assert_eq!(sim.protocol.single_leader().expect("single-leader run").nodes[m2].epoch, 2);
    assert_eq!(sim.protocol.single_leader().expect("single-leader run").nodes[m1].role, Role::Follower);
    assert_eq!(sim.protocol.single_leader().expect("single-leader run").nodes[m1].leader, Some(m2));
    // One leadership change in all: n1 leads from start to end.
    assert!(sim
        .protocol
        .single_leader()
        .expect("single-leader run")
        .leader_spans
        .iter()
        .any(|(l, from, until)| *l == n1 && *from == 0 && until.is_none()));
    assert!(!sim.protocol.single_leader().expect("single-leader run").leader_spans.iter().any(|(l, _, _)| *l == n2));
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
    assert_eq!(sim.protocol.single_leader().expect("single-leader run").leader_of(0), Some(n1));
    assert_eq!(sim.protocol.single_leader().expect("single-leader run").nodes[n1].epoch, 1);
    assert_eq!(sim.protocol.single_leader().expect("single-leader run").leader_of(1), Some(m2));
    assert_eq!(sim.protocol.single_leader().expect("single-leader run").nodes[m2].epoch, 2);
}

// DDIA 5.1 setting up new followers, on a partitioned database: the new node joins one partition, copies that
// partition's leader (a snapshot of its rows only) and serves reads of that partition only.
#[test]
fn ch5_1_add_node_with_a_group_joins_only_that_partition() {
    let mut reads = Vec::new();
    for k in 0..12 {
        let author = if k % 2 == 0 { "Poons" } else { "Cake" };
        reads.push(serde_json::json!({
            "at_ms": 700 + 40 * k, "client": "reader",
            "sql": format!("SELECT author, body FROM messages WHERE author = '{author}'")
        }));
    }
    let mut v = lesson("lag-consistent-prefix").to_json();
    v["clients"].as_array_mut().unwrap().push(serde_json::json!({"id": "reader", "route": "random"}));
    v["workload"].as_array_mut().unwrap().extend(reads);
    v["faults"] = serde_json::json!([{"at_ms": 400, "add_node": "m3", "group": "p2"}]);
    let s = Scenario::from_value(&v).unwrap();
    let sim = run(&s, s.seed);
    let (n1, n2, m1, m2, m3) =
        (node(&sim, "n1"), node(&sim, "n2"), node(&sim, "m1"), node(&sim, "m2"), node(&sim, "m3"));
    assert_eq!(sim.protocol.single_leader().expect("single-leader run").partition_of[m3], 1);
    // Membership: p2's replicas know m3; p1's do not; m3 follows p2's leader.
    for r in [m1, m2, m3] {
        assert!(
            sim.protocol.single_leader().expect("single-leader run").nodes[r].members.contains(&m3),
            "{} knows m3",
            sim.protocol.single_leader().expect("single-leader run").nodes[r].id
        );
    }
    for r in [n1, n2] {
        assert!(
            !sim.protocol.single_leader().expect("single-leader run").nodes[r].members.contains(&m3),
            "{} must not know m3",
            sim.protocol.single_leader().expect("single-leader run").nodes[r].id
        );
    }
    assert_eq!(
        sim.protocol.single_leader().expect("single-leader run").nodes[m3].members,
        sim.protocol.single_leader().expect("single-leader run").nodes[m1].members
    );
    assert_eq!(sim.protocol.single_leader().expect("single-leader run").nodes[m3].leader, Some(m1));
    // Data: p2's rows only (Cake's answer), the same as p2's leader; Poons's question lives in p1.
    assert_eq!(authors(&sim, m3), vec!["Cake"]);
    assert_eq!(
        sim.protocol.single_leader().expect("single-leader run").nodes[m3].db.rows("messages"),
        sim.protocol.single_leader().expect("single-leader run").nodes[m1].db.rows("messages")
    );
    assert_eq!(
        sim.protocol.single_leader().expect("single-leader run").nodes[m3].lsn(),
        sim.protocol.single_leader().expect("single-leader run").nodes[m1].lsn()
    );
    assert_eq!(authors(&sim, n1), vec!["Poons"]);
    // Routing: reads of p1 never go to m3; some reads of p2 do, and see Cake's row there.
    let reader = sim.clients.iter().position(|c| c.id == "reader").unwrap();
    let reads: Vec<_> = sim.history.iter().filter(|h| h.client == reader).collect();
    assert_eq!(reads.len(), 12);
    assert!(reads.iter().filter(|h| h.sql.contains("'Poons'")).all(|h| h.node != m3));
    let at_m3: Vec<_> = reads.iter().filter(|h| h.node == m3).collect();
    assert!(!at_m3.is_empty(), "a random reader of p2 reaches m3 at least once in six reads");
    for h in at_m3 {
        assert!(h.sql.contains("'Cake'"));
        assert_eq!(h.result.as_ref().map(|r| r.rows.len()), Some(1), "{h:?}");
    }
}

// DDIA 5.1 setting up new followers: without a group the new node joins the first partition.
#[test]
fn ch5_1_add_node_without_a_group_joins_the_first_partition() {
    let s =
        with_entries(serde_json::json!([{"at_ms": 400, "add_node": "n3", "copy": "file-copy"}]), serde_json::json!([]))
            .unwrap();
    let sim = run(&s, s.seed);
    let (n1, m1, n3) = (node(&sim, "n1"), node(&sim, "m1"), node(&sim, "n3"));
    assert_eq!(sim.protocol.single_leader().expect("single-leader run").partition_of[n3], 0);
    assert_eq!(sim.protocol.single_leader().expect("single-leader run").nodes[n3].leader, Some(n1));
    assert!(
        sim.protocol.single_leader().expect("single-leader run").nodes[n1].members.contains(&n3)
            && !sim.protocol.single_leader().expect("single-leader run").nodes[m1].members.contains(&n3)
    );
    assert_eq!(authors(&sim, n3), vec!["Poons"]);
}

// Bad input: a group that is not a partition, or a group on a scenario without partitions, is a clear error.
#[test]
fn ch5_1_add_node_group_is_validated() {
    let e = with_entries(serde_json::json!([{"at_ms": 400, "add_node": "m3", "group": "p9"}]), serde_json::json!([]));
    assert_eq!(e.unwrap_err(), r#"faults[0].group: no partition "p9" (partitions: p1, p2)"#);
    let e = with_entries(serde_json::json!([{"at_ms": 400, "add_node": "m3", "group": 2}]), serde_json::json!([]));
    assert!(e.unwrap_err().starts_with("faults[0].group: "));
    let e = with_entries(serde_json::json!([{"at_ms": 400, "crash": "m1", "group": "p2"}]), serde_json::json!([]));
    assert_eq!(
        e.unwrap_err(),
        "faults[0].group: only an add_node entry takes a group (the partition the new node joins)"
    );
    let mut v = lesson("new-follower-snapshot").to_json();
    v["faults"] = serde_json::json!([{"at_ms": 400, "add_node": "n9", "group": "p1"}]);
    let e = Scenario::from_value(&v).unwrap_err().to_string();
    assert!(e.starts_with(r#"faults[0].group: no partition "p1": the scenario has no partitions"#), "{e}");
    // A command built in code with an unknown group (not through the parser) stops the run from starting.
    let s = lesson("lag-consistent-prefix");
    let bad = TimedCommand {
        at: 1000,
        command: Command::AddNode {
            id: "m3".into(),
            copy: replsim::scenario::CopyMethod::Snapshot,
            group: Some("p9".into()),
        },
    };
    let e = Simulation::new(&s, 1, &[bad]).unwrap_err();
    assert!(e.0.contains("p9"), "{e}");
}

// Share links: add_node's group survives to_json and a link, in the scenario and in a person's commands.
#[test]
fn ch5_1_add_node_group_round_trips_through_json_and_links() {
    let s = with_entries(serde_json::json!([{"at_ms": 400, "add_node": "m3", "group": "p2"}]), serde_json::json!([]))
        .unwrap();
    assert!(matches!(&s.faults[0].command, Command::AddNode { group: Some(g), .. } if g == "p2"));
    assert_eq!(Scenario::from_value(&s.to_json()).unwrap(), s);
    let person = TimedCommand {
        at: 900_001,
        command: Command::AddNode {
            id: "m4".into(),
            copy: replsim::scenario::CopyMethod::FileCopy,
            group: Some("p2".into()),
        },
    };
    let link = LinkState { scenario: s.clone(), seed: 3, commands: vec![person], at: 900_001, panes: Vec::new() };
    let decoded = LinkState::decode(&format!("#{}", link.encode())).unwrap();
    assert_eq!(decoded, link);
    // The replay from the link runs the same: m4 joins p2.
    let mut sim = Simulation::new(&decoded.scenario, decoded.seed, &decoded.commands).unwrap();
    sim.run_to_end();
    assert_eq!(sim.protocol.single_leader().expect("single-leader run").partition_of[node(&sim, "m4")], 1);
    assert_eq!(authors(&sim, node(&sim, "m4")), vec!["Cake"]);
}

// DDIA 5.2 consistent prefix: each partition replicates its own log, so each follower's lag is measured against its
// own partition's leader. p1's follower (n2) applies 800 ms late, p2's (m2) 20 ms late: the samples must say so.
#[test]
fn ch5_2_lag_samples_compare_each_replica_with_its_own_partitions_leader() {
    for name in ["lag-consistent-prefix", "lag-consistent-prefix-fixed"] {
        let s = lesson(name);
        let sim = run(&s, s.seed);
        let (n2, m2) = (node(&sim, "n2"), node(&sim, "m2"));
        assert!(!sim.protocol.single_leader().expect("single-leader run").lag_samples.is_empty());
        for sample in &sim.protocol.single_leader().expect("single-leader run").lag_samples {
            // Every follower in a sample is of the sampling leader's group, and each group's sample names
            // exactly its own follower.
            assert!(
                sample
                    .lags
                    .iter()
                    .all(|(n, _)| sim.protocol.single_leader().expect("single-leader run").partition_of[*n]
                        == sample.group),
                "{name}: {sample:?}"
            );
            let expected = if sample.group == 0 { n2 } else { m2 };
            assert_eq!(sample.lags.iter().map(|(n, _)| *n).collect::<Vec<_>>(), vec![expected], "{name}");
        }
        for g in [0, 1] {
            assert!(
                sim.protocol.single_leader().expect("single-leader run").lag_samples.iter().any(|s| s.group == g),
                "{name}: samples of group {g}"
            );
        }
        let max = |node: usize| {
            sim.protocol
                .single_leader()
                .expect("single-leader run")
                .lag_samples
                .iter()
                .flat_map(|s| s.lags.iter())
                .filter(|(n, _)| *n == node)
                .map(|(_, l)| *l)
                .max()
        };
        if name == "lag-consistent-prefix" {
            // n2 is 800 ms behind n1 while the question waits; m2 is never more than its 20 ms delay plus a
            // heartbeat and the network behind m1.
            let (lag_n2, lag_m2) = (max(n2).unwrap(), max(m2).unwrap());
            assert!(lag_n2 >= 500_000, "{name}: n2's lag {lag_n2}");
            assert!(lag_m2 <= 100_000, "{name}: m2's lag {lag_m2}");
        }
    }
}
