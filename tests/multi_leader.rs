//! DDIA 5.3 "Multi-Leader Replication": each claim of the section as a test (`cargo test ch5_3`).

use replsim::check::{anomalies, AnomalyKind};
use replsim::protocol::Protocol;
use replsim::scenario::Scenario;
use replsim::sql::Value;
use replsim::world::sim::Simulation;
use serde_json::{json, Value as Json};

mod common;

/// Two datacenters (eu: eu1 leads eu2; us: us1 leads us2), 1-3 ms inside, 70-90 ms between; clients eu and us.
fn two_dcs(conflict: &str, workload: Json) -> Json {
    json!({
        "seed": 2, "until_ms": 3000,
        "nodes": [
            {"id": "eu1", "role": "leader", "datacenter": "eu"},
            {"id": "eu2", "role": "follower", "datacenter": "eu"},
            {"id": "us1", "role": "leader", "datacenter": "us"},
            {"id": "us2", "role": "follower", "datacenter": "us"}
        ],
        "replication": {"topology": "all-to-all", "conflict": conflict},
        "network": {"latency_ms": {"min": 1, "max": 3}, "datacenters": {"latency_ms": {"min": 70, "max": 90}}},
        "clients": [{"id": "eu", "datacenter": "eu"}, {"id": "us", "datacenter": "us"}],
        "schema": ["CREATE TABLE posts (id INTEGER PRIMARY KEY, body TEXT, likes INTEGER)"],
        "workload": workload
    })
}

/// Three leaders a, b, c (one datacenter each), 5 ms links.
fn three_leaders(replication: Json, workload: Json, faults: Json) -> Json {
    json!({
        "seed": 3, "until_ms": 3000,
        "nodes": [{"id": "a", "role": "leader"}, {"id": "b", "role": "leader"}, {"id": "c", "role": "leader"}],
        "replication": replication,
        "network": {"latency_ms": 5},
        "clients": [{"id": "ca", "leader": "a"}, {"id": "cb", "leader": "b"}, {"id": "cc", "leader": "c"}],
        "schema": ["CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"],
        "workload": workload,
        "faults": faults
    })
}

fn parse(v: &Json) -> Scenario {
    Scenario::from_value(v).unwrap_or_else(|e| panic!("scenario: {e}"))
}

fn run(v: &Json) -> Simulation {
    common::run(&parse(v), v["seed"].as_u64().unwrap_or(1))
}

fn err(v: &Json) -> String {
    Scenario::from_value(v).expect_err("should be refused").to_string()
}

fn node(sim: &Simulation, id: &str) -> usize {
    sim.protocol
        .single_leader()
        .expect("a multi-leader run has its datacenters' cluster")
        .nodes
        .iter()
        .position(|n| n.id == id)
        .expect("node")
}

/// Rows of `table` on node `id`, sorted, as text.
fn rows(sim: &Simulation, id: &str, table: &str) -> Vec<String> {
    let mut r: Vec<String> =
        sim.protocol.single_leader().expect("a multi-leader run has its datacenters' cluster").nodes[node(sim, id)]
            .db
            .rows(table)
            .iter()
            .map(|row| row.iter().map(|(c, v)| format!("{c}={}", text(v))).collect::<Vec<_>>().join(","))
            .collect();
    r.sort();
    r
}

fn text(v: &Value) -> String {
    match v {
        Value::Text(t) => t.clone(),
        other => replsim::log_methods::value_text(other),
    }
}

fn kinds(sim: &Simulation) -> Vec<AnomalyKind> {
    anomalies(sim).iter().map(|a| a.kind).collect()
}

fn all_equal(sim: &Simulation, ids: &[&str], table: &str) -> bool {
    ids.iter().all(|id| rows(sim, id, table) == rows(sim, ids[0], table))
}

fn ml(sim: &Simulation) -> &replsim::protocol::multi_leader::Cluster {
    match &sim.protocol {
        Protocol::MultiLeader(c) => c,
        _ => panic!("not multi-leader"),
    }
}

fn w(at: u64, client: &str, sql: &str) -> Json {
    json!({"at_ms": at, "client": client, "sql": sql})
}

// "Each leader is also a follower of the others": writes in both datacenters reach every replica of both, and a
// write is acknowledged by the local leader, without waiting for the other datacenter.
#[test]
fn ch5_3_two_datacenters_converge_and_writes_stay_local() {
    let mut wl = Vec::new();
    for i in 0..5 {
        wl.push(w(100 + 20 * i, "eu", &format!("INSERT INTO posts (id, body) VALUES ({}, 'eu')", i + 1)));
        wl.push(w(105 + 20 * i, "us", &format!("INSERT INTO posts (id, body) VALUES ({}, 'us')", i + 101)));
    }
    let sim = run(&two_dcs("lww", Json::Array(wl)));
    assert_eq!(rows(&sim, "eu1", "posts").len(), 10);
    assert!(all_equal(&sim, &["eu1", "eu2", "us1", "us2"], "posts"));
    assert!(kinds(&sim).is_empty(), "{:?}", anomalies(&sim));
    for h in &sim.history {
        assert!(h.ok());
        assert!(h.end.unwrap() - h.start < 20_000, "a write is answered inside its datacenter");
    }
}

// "Write conflicts are detected only asynchronously": both writes succeed; LWW then keeps the one with the higher
// timestamp everywhere and silently discards the other (an acknowledged write: a lost update).
#[test]
fn ch5_3_concurrent_writes_conflict_and_lww_converges_losing_one() {
    let sim = run(&two_dcs(
        "lww",
        json!([
            w(100, "eu", "INSERT INTO posts (id, body) VALUES (7, 'from eu')"),
            w(102, "us", "INSERT INTO posts (id, body) VALUES (7, 'from us')")
        ]),
    ));
    assert!(sim.history.iter().all(|h| h.ok()), "both writes were acknowledged");
    assert!(all_equal(&sim, &["eu1", "eu2", "us1", "us2"], "posts"));
    assert_eq!(rows(&sim, "eu1", "posts"), vec!["id=7,body=from us,likes=NULL"]);
    let found = anomalies(&sim);
    let conflict = found.iter().find(|a| a.kind == AnomalyKind::Conflict).expect("a conflict");
    assert_eq!(conflict.ops, vec![0, 1]);
    assert!(conflict.detail.contains("lww kept"), "{}", conflict.detail);
    let lost = found.iter().find(|a| a.kind == AnomalyKind::LostUpdate).expect("a lost update");
    assert_eq!(lost.ops, vec![0, 1], "the lost write #0 and the write that beat it");
    assert!(!kinds(&sim).contains(&AnomalyKind::Divergence));
}

// Conflict "none": each replica applies changes in the order it receives them, so the datacenters end different.
#[test]
fn ch5_3_unresolved_conflict_diverges() {
    let sim = run(&two_dcs(
        "none",
        json!([
            w(100, "eu", "INSERT INTO posts (id, body) VALUES (7, 'from eu')"),
            w(102, "us", "INSERT INTO posts (id, body) VALUES (7, 'from us')")
        ]),
    ));
    assert_eq!(rows(&sim, "eu1", "posts"), vec!["id=7,body=from us,likes=NULL"]);
    assert_eq!(rows(&sim, "us1", "posts"), vec!["id=7,body=from eu,likes=NULL"]);
    assert!(all_equal(&sim, &["eu1", "eu2"], "posts") && all_equal(&sim, &["us1", "us2"], "posts"));
    let k = kinds(&sim);
    assert!(k.contains(&AnomalyKind::Divergence) && k.contains(&AnomalyKind::Conflict), "{k:?}");
    assert!(!k.contains(&AnomalyKind::LostUpdate));
}

/// Figure 5-7: the title is A; leader 1 sets it to B and leader 2 to C at about the same time.
fn figure_5_7(conflict: &str, extra: Json) -> Simulation {
    let mut v = two_dcs(
        conflict,
        json!([
            w(50, "eu", "INSERT INTO posts (id, body, likes) VALUES (1, 'A', 10)"),
            w(500, "eu", "UPDATE posts SET body = 'B', likes = 13 WHERE id = 1"),
            w(501, "us", "UPDATE posts SET body = 'C', likes = 15 WHERE id = 1")
        ]),
    );
    for (k, x) in extra.as_object().unwrap() {
        v["replication"][k] = x.clone();
    }
    run(&v)
}

#[test]
fn ch5_3_each_strategy_resolves_figure_5_7() {
    let body = |sim: &Simulation| rows(sim, "eu1", "posts");
    // LWW: the later timestamp (us, 1 ms later) wins.
    let lww = figure_5_7("lww", json!({}));
    assert_eq!(body(&lww), vec!["id=1,body=C,likes=15"]);
    // Replica id: the write from the node later in the node list (us1) wins, whatever the clocks say.
    let rid = figure_5_7("replica-id", json!({}));
    assert_eq!(body(&rid), vec!["id=1,body=C,likes=15"]);
    assert!(kinds(&rid).contains(&AnomalyKind::LostUpdate));
    // Merge: the book's "B/C".
    let merge = figure_5_7("merge", json!({}));
    assert_eq!(body(&merge), vec!["id=1,body=B/C,likes=15"]);
    assert!(!kinds(&merge).contains(&AnomalyKind::LostUpdate), "merging discards nothing");
    // On-write handlers per column: likes = 10 + 3 + 5 (sum of both changes), body concatenated.
    let on_write = figure_5_7("on-write", json!({"on_write": {"posts.likes": "sum", "posts.body": "concat"}}));
    assert_eq!(body(&on_write), vec!["id=1,body=B/C,likes=18"]);
    let max = figure_5_7("on-write", json!({"on_write": {"posts.likes": "max", "posts.body": "min"}}));
    assert_eq!(body(&max), vec!["id=1,body=B,likes=15"]);
    for sim in [&lww, &rid, &merge, &on_write, &max] {
        assert!(all_equal(sim, &["eu1", "eu2", "us1", "us2"], "posts"), "every strategy but none converges");
        let c = anomalies(sim).into_iter().find(|a| a.kind == AnomalyKind::Conflict).expect("a conflict");
        assert_eq!(c.ops, vec![1, 2]);
    }
}

/// Figure 5-7 under `siblings`, then `then` (more workload).
fn figure_5_7_siblings(then: &[Json]) -> Simulation {
    let mut wl = vec![
        w(50, "eu", "INSERT INTO posts (id, body, likes) VALUES (1, 'A', 10)"),
        w(500, "eu", "UPDATE posts SET body = 'B' WHERE id = 1"),
        w(501, "us", "UPDATE posts SET body = 'C' WHERE id = 1"),
    ];
    wl.extend(then.iter().cloned());
    run(&two_dcs("siblings", Json::Array(wl)))
}

/// The rows operation `op` returned, as `body` texts, sorted.
fn read_bodies(sim: &Simulation, op: usize) -> Vec<String> {
    let r = sim.history.get(op).and_then(|h| h.result.clone()).expect("answered");
    assert!(r.ok, "{r:?}");
    let mut b: Vec<String> = r.rows.iter().map(|row| text(&row[1])).collect();
    b.sort();
    b
}

/// Per leader, the writers of every version of row `posts 1`.
fn sibling_sets(sim: &Simulation) -> Vec<Vec<(usize, u64)>> {
    let c = ml(sim);
    (0..c.state.len())
        .filter(|i| c.is_leader(*i))
        .map(|i| c.state[i].rows.values().flat_map(|m| m.versions.iter().map(|v| v.writer)).collect())
        .collect()
}

// "Record the conflict in an explicitly defined data structure that preserves all information, and write
// application code that resolves the conflict at some later time": both titles survive as siblings on every leader,
// a read returns each as its own row with the same key, nothing is discarded.
#[test]
fn ch5_3_siblings_keep_every_concurrent_version_and_a_read_returns_each() {
    let sim = figure_5_7_siblings(&[
        w(1500, "eu", "SELECT * FROM posts WHERE id = 1"),
        w(1500, "us", "SELECT id, body FROM posts"),
    ]);
    assert_eq!(read_bodies(&sim, 3), vec!["B", "C"]);
    assert_eq!(read_bodies(&sim, 4), vec!["B", "C"]);
    let r = sim.history.get(3).and_then(|h| h.result.clone()).unwrap();
    assert!(r.rows.iter().all(|row| row[0] == Value::Integer(1)), "same key: {:?}", r.rows);
    let sets = sibling_sets(&sim);
    assert_eq!(sets[0].len(), 2, "{sets:?}");
    assert!(sets.iter().all(|s| *s == sets[0]), "every leader keeps the same siblings: {sets:?}");
    assert!(all_equal(&sim, &["eu1", "eu2", "us1", "us2"], "posts"));
    let k = kinds(&sim);
    assert!(k.contains(&AnomalyKind::Conflict) && !k.contains(&AnomalyKind::LostUpdate), "{k:?}");
    assert!(!k.contains(&AnomalyKind::Divergence));
    let c = anomalies(&sim).into_iter().find(|a| a.kind == AnomalyKind::Conflict).unwrap();
    assert!(c.detail.contains("siblings: 2 versions kept"), "{}", c.detail);
}

// Resolve on read: a client that read the siblings writes the merged value; the write's context covers both
// siblings, so every leader replaces both with it.
#[test]
fn ch5_3_siblings_a_write_after_reading_them_replaces_them_everywhere() {
    let sim = figure_5_7_siblings(&[
        w(1500, "eu", "SELECT * FROM posts WHERE id = 1"),
        w(1600, "eu", "UPDATE posts SET body = 'B+C' WHERE id = 1"),
        w(2500, "us", "SELECT * FROM posts WHERE id = 1"),
    ]);
    assert_eq!(read_bodies(&sim, 3), vec!["B", "C"]);
    assert_eq!(read_bodies(&sim, 5), vec!["B+C"]);
    let sets = sibling_sets(&sim);
    assert!(sets.iter().all(|s| s.len() == 1 && *s == sets[0]), "{sets:?}");
    assert_eq!(rows(&sim, "us2", "posts"), vec!["id=1,body=B+C,likes=10"]);
}

// The client's read context decides what a write replaces: a client that never read the siblings writes beside
// them (its own leader's earlier version is replaced, the other leader's stays), on every leader alike.
#[test]
fn ch5_3_siblings_a_blind_write_replaces_only_what_its_client_read() {
    let sim = figure_5_7_siblings(&[
        w(1500, "us", "UPDATE posts SET body = 'E' WHERE id = 1"),
        w(2500, "eu", "SELECT body FROM posts WHERE id = 1"),
    ]);
    assert_eq!(read_bodies_col0(&sim, 4), vec!["B", "E"]);
    let sets = sibling_sets(&sim);
    assert!(sets.iter().all(|s| s.len() == 2 && *s == sets[0]), "{sets:?}");
    assert!(!kinds(&sim).contains(&AnomalyKind::LostUpdate));
}

fn read_bodies_col0(sim: &Simulation, op: usize) -> Vec<String> {
    let r = sim.history.get(op).and_then(|h| h.result.clone()).expect("answered");
    let mut b: Vec<String> = r.rows.iter().map(|row| text(&row[0])).collect();
    b.sort();
    b
}

// On-write `sum` is a counter: three leaders add to the same column at the same time, twice; every increment
// survives, in any arrival order.
#[test]
fn ch5_3_on_write_sum_keeps_every_concurrent_increment() {
    let mut v = three_leaders(
        json!({"conflict": "on-write", "on_write": {"t.n": "sum"}, "causality": "none"}),
        json!([
            w(50, "ca", "INSERT INTO t (id, v, n) VALUES (1, 'x', 100)"),
            w(300, "ca", "UPDATE t SET n = n + 1 WHERE id = 1"),
            w(300, "cb", "UPDATE t SET n = n + 10 WHERE id = 1"),
            w(300, "cc", "UPDATE t SET n = n + 100 WHERE id = 1"),
            w(302, "ca", "UPDATE t SET n = n + 2 WHERE id = 1"),
            w(302, "cb", "UPDATE t SET n = n + 20 WHERE id = 1"),
            w(302, "cc", "UPDATE t SET n = n - 200 WHERE id = 1")
        ]),
        json!([]),
    );
    v["schema"] = json!(["CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT, n INTEGER)"]);
    v["network"] = json!({"latency_ms": {"min": 1, "max": 40}});
    let sim = run(&v);
    for id in ["a", "b", "c"] {
        assert_eq!(rows(&sim, id, "t"), vec!["id=1,v=x,n=33"], "on {id}");
    }
}

// CRDT: a row is a map of per-column registers (concurrent updates of different columns both survive) and
// counters (increments commute); a row deleted on one side and updated on the other comes back (a tombstone loses
// to a concurrent update).
#[test]
fn ch5_3_crdt_keeps_concurrent_updates_of_different_columns_and_counts() {
    let mut v = two_dcs(
        "crdt",
        json!([
            w(50, "eu", "INSERT INTO posts (id, body, likes) VALUES (1, 'draft', 0)"),
            w(50, "eu", "INSERT INTO posts (id, body, likes) VALUES (2, 'old', 0)"),
            w(500, "eu", "UPDATE posts SET body = 'final' WHERE id = 1"),
            w(500, "us", "UPDATE posts SET likes = likes + 1 WHERE id = 1"),
            w(501, "eu", "UPDATE posts SET likes = likes + 2 WHERE id = 1"),
            w(900, "eu", "DELETE FROM posts WHERE id = 2"),
            w(900, "us", "UPDATE posts SET likes = likes + 5 WHERE id = 2")
        ]),
    );
    v["replication"]["causality"] = json!("none");
    let sim = run(&v);
    assert!(all_equal(&sim, &["eu1", "eu2", "us1", "us2"], "posts"), "{:?}", anomalies(&sim));
    assert_eq!(rows(&sim, "us1", "posts"), vec!["id=1,body=final,likes=3", "id=2,body=old,likes=5"]);
    // LWW on the same workload keeps one side of each conflict only.
    v["replication"]["conflict"] = json!("lww");
    let lww = run(&v);
    assert_ne!(rows(&lww, "us1", "posts")[0], "id=1,body=final,likes=3");
}

// LWW with a clock that is behind: a write made after its writer had seen the winner still loses.
#[test]
fn ch5_3_lww_with_a_skewed_clock_loses_a_causally_later_write() {
    let mut v = two_dcs(
        "lww",
        json!([
            w(100, "eu", "INSERT INTO posts (id, body) VALUES (1, 'first')"),
            w(600, "us", "UPDATE posts SET body = 'second' WHERE id = 1")
        ]),
    );
    v["nodes"][2]["clock"] = json!({"offset_ms": -2000});
    let sim = run(&v);
    assert!(sim.history.iter().all(|h| h.ok()));
    for id in ["eu1", "eu2", "us1", "us2"] {
        assert_eq!(rows(&sim, id, "posts"), vec!["id=1,body=first,likes=NULL"], "on {id}");
    }
    let lost = anomalies(&sim).into_iter().find(|a| a.kind == AnomalyKind::LostUpdate).expect("lost update");
    assert_eq!(lost.ops, vec![1, 0]);
    assert!(lost.detail.contains("causally later"), "{}", lost.detail);
    assert!(!kinds(&sim).contains(&AnomalyKind::Conflict), "not concurrent: the writer had seen the first write");
}

// Circular and star topologies: changes pass through several nodes, carry the ids they passed through, and a
// node drops a change tagged with its own id: no endless loop, everyone converges.
#[test]
fn ch5_3_circular_and_star_topologies_converge_without_loops() {
    let wl = json!([
        w(100, "ca", "INSERT INTO t VALUES (1, 'a')"),
        w(100, "cb", "INSERT INTO t VALUES (2, 'b')"),
        w(100, "cc", "INSERT INTO t VALUES (3, 'c')")
    ]);
    for repl in [
        json!({"topology": "circular"}),
        json!({"topology": "circular", "ring": ["c", "b", "a"]}),
        json!({"topology": "star", "hub": "b"}),
    ] {
        let sim = run(&three_leaders(repl.clone(), wl.clone(), json!([])));
        assert_eq!(rows(&sim, "a", "t").len(), 3, "{repl}");
        assert!(all_equal(&sim, &["a", "b", "c"], "t"), "{repl}");
        let c = ml(&sim);
        assert!(c.quiet(), "{repl}: nothing left to send");
        for i in 0..3 {
            assert_eq!(c.state[i].applied.len(), 3, "{repl}: each change applied once on each leader");
        }
        if repl["topology"] == "circular" {
            // Each change went once round the ring and was dropped where it started.
            let dropped: u64 = c.state.iter().map(|s| s.dropped_own).sum();
            assert_eq!(dropped, 3, "{repl}");
        }
        // A bounded number of messages between leaders: no change circulates for ever.
        assert!(sim.is_quiet() || sim.now() >= 3_000_000);
    }
}

// "One failed node in a ring cuts the flow until reconfigured": with b crashed, a's write does not reach c; once
// the ring is routed around b by hand, it does.
#[test]
fn ch5_3_a_failed_ring_node_stops_propagation_until_reconfigured() {
    let wl = json!([w(200, "ca", "INSERT INTO t VALUES (1, 'a')")]);
    let stuck = run(&three_leaders(json!({"topology": "circular"}), wl.clone(), json!([{"at_ms": 100, "crash": "b"}])));
    assert_eq!(rows(&stuck, "a", "t").len(), 1);
    assert!(rows(&stuck, "c", "t").is_empty(), "the change piles up before the failed node");
    let fixed = run(&three_leaders(
        json!({"topology": "circular"}),
        wl,
        json!([{"at_ms": 100, "crash": "b"}, {"at_ms": 1000, "reconfigure": {"topology": "circular", "ring": ["a", "c"]}}]),
    ));
    assert_eq!(rows(&fixed, "c", "t"), vec!["id=1,v=a"]);
    // All-to-all tolerates the failure.
    let all = run(&three_leaders(
        json!({"topology": "all-to-all"}),
        json!([w(200, "ca", "INSERT INTO t VALUES (1, 'a')")]),
        json!([{"at_ms": 100, "crash": "b"}]),
    ));
    assert_eq!(rows(&all, "c", "t"), vec!["id=1,v=a"]);
}

/// Figure 5-9: a inserts a row; b updates it once it has it; the link a→c is slow, so the update reaches c before
/// the insert.
fn overtaking(causality: &str) -> Json {
    let mut v = three_leaders(
        json!({"topology": "all-to-all", "causality": causality, "conflict": "lww"}),
        json!([
            w(100, "ca", "INSERT INTO t VALUES (1, 'inserted')"),
            w(200, "cb", "UPDATE t SET v = 'updated' WHERE id = 1")
        ]),
        json!([]),
    );
    v["network"]["links"] = json!([{"from": "a", "to": "c", "latency_ms": 500}]);
    v
}

#[test]
fn ch5_3_with_version_vectors_an_update_waits_for_its_insert() {
    let s = parse(&overtaking("version-vectors"));
    let mut sim = Simulation::new(&s, s.seed, &[]).unwrap();
    sim.run_until(400_000); // the update has reached c, the insert has not
    assert!(rows(&sim, "c", "t").is_empty(), "the update waits in c's buffer");
    assert_eq!(ml(&sim).state[node(&sim, "c")].pending.len(), 1);
    sim.run_to_end();
    assert!(all_equal(&sim, &["a", "b", "c"], "t"));
    assert_eq!(rows(&sim, "c", "t"), vec!["id=1,v=updated"]);
    assert!(anomalies(&sim).is_empty(), "{:?}", anomalies(&sim));
}

#[test]
fn ch5_3_without_causality_an_update_overtakes_its_insert() {
    let s = parse(&overtaking("none"));
    let mut sim = Simulation::new(&s, s.seed, &[]).unwrap();
    sim.run_until(400_000);
    assert_eq!(rows(&sim, "c", "t"), vec!["id=1,v=updated"], "applied on arrival, before the insert");
    sim.run_to_end();
    // Timestamps order them here (LWW): the insert is older and loses, so the replicas still agree...
    assert!(all_equal(&sim, &["a", "b", "c"], "t"));
    // ...but with no resolution at all, the late insert overwrites the update on c only.
    let mut v = overtaking("none");
    v["replication"]["conflict"] = json!("none");
    let sim = run(&v);
    assert_eq!(rows(&sim, "c", "t"), vec!["id=1,v=inserted"]);
    assert_eq!(rows(&sim, "a", "t"), vec!["id=1,v=updated"]);
    assert!(kinds(&sim).contains(&AnomalyKind::Divergence));
}

/// Two leaders insert into an AUTOINCREMENT table at the same time.
fn autoincrement(offsets: bool) -> Json {
    let mut v = two_dcs(
        "lww",
        json!([
            w(100, "eu", "INSERT INTO items (name) VALUES ('eu item')"),
            w(100, "us", "INSERT INTO items (name) VALUES ('us item')")
        ]),
    );
    v["schema"] = json!(["CREATE TABLE items (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT)"]);
    if offsets {
        v["nodes"][0]["auto_increment"] = json!({"increment": 2, "offset": 1});
        v["nodes"][2]["auto_increment"] = json!({"increment": 2, "offset": 2});
    }
    v
}

#[test]
fn ch5_3_auto_increment_offsets_avoid_key_collisions() {
    let collide = run(&autoincrement(false));
    assert_eq!(rows(&collide, "eu1", "items").len(), 1, "both leaders handed out key 1: one row lost");
    assert!(kinds(&collide).contains(&AnomalyKind::DuplicateKey));
    let apart = run(&autoincrement(true));
    assert_eq!(rows(&apart, "eu1", "items"), vec!["id=1,name=eu item", "id=2,name=us item"]);
    assert!(all_equal(&apart, &["eu1", "eu2", "us1", "us2"], "items"));
    assert!(anomalies(&apart).is_empty(), "{:?}", anomalies(&apart));
}

// Conflict avoidance: all of a user's writes go through the home leader, until the user moves.
#[test]
fn ch5_3_home_leader_avoids_conflicts_until_the_user_moves() {
    let mut v = two_dcs(
        "lww",
        json!([
            w(100, "eu", "INSERT INTO posts (id, body) VALUES (1, 'x')"),
            w(300, "eu", "UPDATE posts SET body = 'y' WHERE id = 1"),
            w(301, "us", "UPDATE posts SET body = 'z' WHERE id = 1")
        ]),
    );
    v["clients"][1]["leader"] = json!("eu1");
    let home = run(&v);
    assert!(!kinds(&home).contains(&AnomalyKind::Conflict), "{:?}", anomalies(&home));
    v["workload"].as_array_mut().unwrap().push(json!({"at_ms": 200, "move": "us", "leader": "us1"}));
    let moved = run(&v);
    assert!(kinds(&moved).contains(&AnomalyKind::Conflict));
    assert!(all_equal(&moved, &["eu1", "eu2", "us1", "us2"], "posts"));
}

// Offline clients: each device is a leader with its own database; while offline it keeps taking writes, and it
// syncs when it is back online (here 2 s later), conflicts resolved like any other.
#[test]
fn ch5_3_an_offline_device_keeps_working_and_syncs_when_back_online() {
    let v = json!({
        "seed": 4, "until_ms": 6000,
        "nodes": [{"id": "phone", "role": "leader"}, {"id": "laptop", "role": "leader"}, {"id": "server", "role": "leader"}],
        "replication": {"topology": "star", "hub": "server", "conflict": "lww"},
        "network": {"latency_ms": {"min": 20, "max": 60}},
        "clients": [{"id": "me", "datacenter": "phone"}, {"id": "me2", "datacenter": "laptop"}],
        "schema": ["CREATE TABLE events (id INTEGER PRIMARY KEY, title TEXT)"],
        "workload": [
            w(100, "me", "INSERT INTO events VALUES (1, 'dentist')"),
            w(1500, "me", "INSERT INTO events VALUES (2, 'added offline')"),
            w(1600, "me2", "UPDATE events SET title = 'dentist 9am' WHERE id = 1"),
            w(1700, "me", "UPDATE events SET title = 'dentist 10am' WHERE id = 1")
        ],
        "faults": [{"at_ms": 1000, "offline": "phone"}, {"at_ms": 3000, "online": "phone"}]
    });
    let s = parse(&v);
    let mut sim = Simulation::new(&s, s.seed, &[]).unwrap();
    sim.run_until(2_900_000);
    assert_eq!(rows(&sim, "phone", "events").len(), 2, "the phone took the write while offline");
    assert_eq!(rows(&sim, "laptop", "events"), vec!["id=1,title=dentist 9am"], "nobody else has it yet");
    sim.run_to_end();
    assert!(all_equal(&sim, &["phone", "laptop", "server"], "events"));
    assert_eq!(rows(&sim, "server", "events"), vec!["id=1,title=dentist 10am", "id=2,title=added offline"]);
    assert!(kinds(&sim).contains(&AnomalyKind::Conflict), "the two edits of event 1 were concurrent");
    assert!(kinds(&sim).contains(&AnomalyKind::LostUpdate), "LWW threw the laptop's edit away");
}

// Strategies side by side (`replsim conflicts`): one workload, every strategy; only "none" fails to converge, and
// only LWW and replica-id throw acknowledged writes away.
#[test]
fn ch5_3_strategies_side_by_side() {
    let s = common::lesson("multi-leader-conflict");
    let figures = replsim::protocol::multi_leader::strategies::run_all(&s, s.seed).unwrap();
    let by = |name: &str| figures.iter().find(|f| f.conflict.name() == name).unwrap();
    assert!(!by("none").converged);
    for name in ["lww", "replica-id", "merge", "on-write", "siblings"] {
        assert!(by(name).converged, "{name}");
        assert_eq!(by(name).conflicts, 1, "{name}");
    }
    assert_eq!((by("lww").discarded, by("replica-id").discarded, by("merge").discarded), (1, 1, 0));
    assert_eq!(by("merge").rows, vec!["pages: (id=1, title='B/C')"]);
    assert_eq!(by("siblings").discarded, 0, "siblings keep every version");
    assert!(replsim::protocol::multi_leader::strategies::run_all(&common::lesson("basics-async"), 1).is_err());
}

#[test]
fn ch5_3_same_seed_same_trace() {
    let v = overtaking("version-vectors");
    let (a, b) = (run(&v), run(&v));
    assert_eq!(a.trace.hash(), b.trace.hash());
    assert_eq!(a.metrics.events, b.metrics.events);
}

#[test]
fn ch5_3_multi_leader_fields_round_trip() {
    let mut v = autoincrement(true);
    v["replication"] = json!({"topology": "star", "hub": "us1", "conflict": "on-write", "causality": "none",
                              "on_write": {"items.name": "concat"}});
    v["clients"][0]["leader"] = json!("us1");
    let s = parse(&v);
    assert_eq!(Scenario::from_value(&s.to_json()).unwrap(), s);
}

#[test]
fn ch5_3_bad_multi_leader_input_is_explained() {
    let base = three_leaders(json!({}), json!([]), json!([]));
    let with = |f: &dyn Fn(&mut Json)| {
        let mut v = base.clone();
        f(&mut v);
        err(&v)
    };
    assert_eq!(
        with(&|v| v["replication"] = json!({"topology": "ring"})),
        r#"replication.topology: expected one of "all-to-all", "circular", "star", found "ring""#
    );
    assert_eq!(
        with(&|v| v["replication"] = json!({"topology": "star"})),
        "replication.hub: a star needs its root: the id of a leader"
    );
    assert_eq!(
        with(&|v| v["replication"] = json!({"topology": "star", "hub": "zz"})),
        r#"replication.hub: no leader "zz" (the hub must be a leader)"#
    );
    assert_eq!(
        with(&|v| v["replication"] = json!({"topology": "circular", "ring": ["a", "q"]})),
        r#"replication.ring[1]: no leader "q" (a ring joins leaders)"#
    );
    assert_eq!(
        with(&|v| v["replication"] = json!({"topology": "circular", "ring": ["a", "b"]})),
        r#"replication.ring: leader "c" is not in the ring (every leader must be)"#
    );
    assert_eq!(
        with(&|v| v["replication"] = json!({"conflict": "coin-toss"})).split(',').next().unwrap(),
        r#"replication.conflict: expected one of "none""#
    );
    assert_eq!(
        with(&|v| v["replication"] = json!({"log": "statement"})),
        r#"replication.log: leaders exchange row changes: multi-leader replication needs "logical", found "statement""#
    );
    assert_eq!(
        with(&|v| {
            v["nodes"][0]["datacenter"] = json!("x");
            v["nodes"][1]["datacenter"] = json!("x");
        }),
        r#"nodes[1].datacenter: datacenter "x" has more than one leader (a, b): one leader per datacenter"#
    );
    assert_eq!(
        with(&|v| v["nodes"][0]["auto_increment"] = json!({"increment": 2, "offset": 3})),
        "nodes[0].auto_increment.offset: expected 1..=increment (2), found 3"
    );
    assert_eq!(
        with(&|v| v["clients"][0]["datacenter"] = json!("mars")),
        r#"clients[0].datacenter: no datacenter "mars" (known: a, b, c)"#
    );
    assert_eq!(
        with(&|v| v["workload"] = json!([{"at_ms": 1, "reconfigure": {"topology": "circle"}}])),
        r#"workload[0].reconfigure.topology: expected one of "all-to-all", "circular", "star", found "circle""#
    );
    assert_eq!(
        with(&|v| v["failover"] = json!({"auto": true})),
        "failover.auto: automatic failover inside a datacenter is not supported with several leaders in this version"
    );
    // Multi-leader fields on a single-leader scenario.
    let mut single = base.clone();
    single["nodes"][1]["role"] = json!("follower");
    single["nodes"][2]["role"] = json!("follower");
    single["replication"] = json!({"topology": "circular"});
    assert_eq!(
        err(&single),
        r#"replication.topology: multi-leader replication needs at least two nodes with role "leader""#
    );
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    /// A random multi-leader run: 3 leaders (a and b each with a follower), a topology, a strategy, writes to a few
    /// rows from every leader, and faults that all heal before the end (a leader crash and restart, a partition,
    /// message loss, a leader offline then online).
    #[allow(clippy::too_many_arguments)]
    fn scenario(
        topology: usize,
        strategy: usize,
        causality: bool,
        writes: Vec<(u8, u8, u16, u8)>,
        crash: Option<(u8, u16)>,
        split: bool,
        loss: bool,
        offline: Option<(u8, u16)>,
        seed: u64,
    ) -> Json {
        let repl = match topology {
            0 => json!({"topology": "all-to-all"}),
            1 => json!({"topology": "circular"}),
            _ => json!({"topology": "star", "hub": "b"}),
        };
        let mut repl = repl;
        repl["conflict"] = json!(["lww", "replica-id", "merge", "on-write", "crdt", "siblings"][strategy]);
        if strategy == 3 {
            repl["on_write"] = json!({"t.v": "concat", "t.n": "sum"});
        }
        repl["causality"] = json!(if causality { "version-vectors" } else { "none" });
        let leaders = ["a", "b", "c"];
        let mut wl = Vec::new();
        for (who, row, at, kind) in writes {
            let client = ["ca", "cb", "cc"][who as usize % 3];
            let id = row % 4;
            let sql = match kind % 5 {
                0 => format!("INSERT INTO t (id, v, n) VALUES ({id}, '{client}{at}', 1)"),
                1 => format!("UPDATE t SET v = '{client}{at}' WHERE id = {id}"),
                2 => format!("UPDATE t SET n = n + 1 WHERE id = {id}"),
                3 => format!("DELETE FROM t WHERE id = {id}"),
                // A read (under siblings its context decides what the client's next write of the row replaces).
                _ => format!("SELECT * FROM t WHERE id = {id}"),
            };
            wl.push(w(50 + u64::from(at) % 1500, client, &sql));
        }
        let mut faults = Vec::new();
        if let Some((who, at)) = crash {
            let at = 100 + u64::from(at) % 1000;
            faults.push(json!({"at_ms": at, "crash": leaders[who as usize % 3]}));
            faults.push(json!({"at_ms": at + 400, "restart": leaders[who as usize % 3]}));
        }
        if split {
            faults.push(json!({"at_ms": 300, "partition": [["a", "a2"], ["b", "b2", "c"]]}));
            faults.push(json!({"at_ms": 1200, "heal": true}));
        }
        if let Some((who, at)) = offline {
            // A leader (a device) loses every link for a while, keeps taking writes, then comes back.
            let at = 100 + u64::from(at) % 1200;
            faults.push(json!({"at_ms": at, "offline": leaders[who as usize % 3]}));
            faults.push(json!({"at_ms": at + 300 + at % 900, "online": leaders[who as usize % 3]}));
        }
        json!({
            "seed": seed, "until_ms": 6000,
            "nodes": [{"id": "a", "role": "leader", "datacenter": "x"}, {"id": "a2", "role": "follower", "datacenter": "x"},
                      {"id": "b", "role": "leader", "datacenter": "y"}, {"id": "b2", "role": "follower", "datacenter": "y"},
                      {"id": "c", "role": "leader"}],
            "replication": repl,
            "network": {"latency_ms": {"min": 1, "max": 30}, "loss": if loss { 0.1 } else { 0.0 }},
            "clients": [{"id": "ca", "leader": "a"}, {"id": "cb", "leader": "b"}, {"id": "cc", "leader": "c"}],
            "schema": ["CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT, n INTEGER)"],
            "workload": wl,
            "faults": faults
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, failure_persistence: common::regressions(), ..ProptestConfig::default() })]

        // After healing and quiescence every strategy but "none" converges; no change is applied twice on any
        // leader in any topology; with version vectors no change is applied before its causal predecessors.
        #[test]
        fn ch5_3_every_strategy_but_none_converges(
            topology in 0usize..3,
            strategy in 0usize..6,
            causality in any::<bool>(),
            writes in proptest::collection::vec((0u8..3, 0u8..4, 0u16..1500, 0u8..5), 1..12),
            crash in proptest::option::of((0u8..3, 0u16..1000)),
            split in any::<bool>(),
            loss in any::<bool>(),
            offline in proptest::option::of((0u8..3, 0u16..1200)),
            seed in 0u64..1000,
        ) {
            let v = scenario(topology, strategy, causality, writes, crash, split, loss, offline, seed);
            let sim = run(&v);
            let c = ml(&sim);
            prop_assert!(c.quiet(), "quiet at the end");
            prop_assert!(all_equal(&sim, &["a", "a2", "b", "b2", "c"], "t"), "{:?}", anomalies(&sim));
            prop_assert!(!kinds(&sim).contains(&AnomalyKind::Divergence));
            // Siblings: every leader ends with the same sibling set of every row.
            let leaders: Vec<usize> = (0..c.state.len()).filter(|i| c.is_leader(*i)).collect();
            let set = |l: usize| -> Vec<(String, Vec<(usize, u64)>)> {
                c.state[l].rows.iter().map(|((t, k), m)| (format!("{t} {:?}", k.0), m.versions.iter().map(|v| v.writer).collect())).collect()
            };
            if strategy == 5 {
                for l in &leaders {
                    prop_assert_eq!(set(*l), set(leaders[0]), "sibling sets of {} and {}", l, leaders[0]);
                }
            }
            for (i, st) in c.state.iter().enumerate() {
                let mut ids: Vec<(usize, u64)> = st.applied.iter().map(|x| (x.origin, x.seq)).collect();
                let n = ids.len();
                ids.sort_unstable();
                ids.dedup();
                prop_assert_eq!(ids.len(), n, "node {} applied a change twice", i);
                if causality {
                    let mut vv = vec![0u64; c.state.len()];
                    for x in &st.applied {
                        prop_assert!(replsim::protocol::multi_leader::causality::deliverable(&vv, x),
                            "node {} applied {}:{} before its predecessors", i, x.origin, x.seq);
                        vv[x.origin] = x.seq;
                    }
                }
            }
        }
    }
}

// The trace says when a leader resolved a conflict (what was kept, what was discarded) and when it dropped a change
// that carried its own id (no replication loop), as events of their own.
#[test]
fn ch5_3_conflicts_and_loop_drops_are_trace_events() {
    use replsim::world::trace::TraceEvent;
    let s = common::lesson("multi-leader-conflict");
    let sim = common::run(&s, s.seed);
    let conflicts: Vec<String> = sim
        .trace
        .events()
        .iter()
        .filter_map(|e| match e {
            TraceEvent::ConflictResolved { node, row, how, .. } => Some(format!("{node} {row}: {how}")),
            _ => None,
        })
        .collect();
    assert_eq!(conflicts.len(), 2, "each leader resolves it once: {conflicts:?}");
    assert!(conflicts.iter().all(|c| c.contains("pages 1: lww kept") && c.contains("discarded")), "{conflicts:?}");
    let s = common::lesson("multi-leader-ring");
    let sim = common::run(&s, s.seed);
    let drops = sim.trace.events().iter().filter(|e| matches!(e, TraceEvent::DroppedOwn { .. })).count();
    let c = ml(&sim);
    let counted: u64 = c.state.iter().map(|s| s.dropped_own).sum();
    assert!(drops > 0 && drops as u64 == counted, "{drops} events, {counted} counted");
    let line = sim.trace.events().iter().find(|e| matches!(e, TraceEvent::DroppedOwn { .. })).unwrap().line();
    assert!(line.contains("loopdrop") && line.contains("it carries"), "{line}");
}

fn lesson_run(name: &str) -> Simulation {
    let s = common::lesson(name);
    common::run(&s, s.seed)
}

fn replicas_equal(sim: &Simulation, table: &str) -> bool {
    let ids: Vec<String> = sim.protocol.single_leader().unwrap().nodes.iter().map(|n| n.id.clone()).collect();
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    all_equal(sim, &ids, table)
}

// "Performance: in a multi-leader configuration, every write can be processed in the local datacenter": the same
// writes from the same place, acknowledged by the local leader in milliseconds, by a far leader after a round trip.
#[test]
fn ch5_3_lesson_a_leader_per_datacenter_against_one_far_away() {
    let sim = lesson_run("multi-leader-datacenters");
    let r = replsim::report::report_json(&sim);
    let lat = r["replication"]["write_latency"].as_array().unwrap();
    let p = |c: &str, q: &str| lat.iter().find(|l| l["client"] == c).unwrap()[q].as_f64().unwrap();
    assert!(p("near", "p99_ms") < 20.0, "{lat:?}");
    assert!(p("far", "p50_ms") > 140.0, "{lat:?}");
    assert!(replicas_equal(&sim, "orders") && kinds(&sim).is_empty());
}

// "Tolerance of datacenter outages: each datacenter can continue operating independently of the others, and
// replication catches up when the failed datacenter comes back online."
#[test]
fn ch5_3_lesson_a_datacenter_outage_the_other_keeps_working_and_catches_up() {
    let sim = lesson_run("multi-leader-dc-outage");
    let bob_ok = sim.history.iter().filter(|h| sim.scenario.clients[h.client].id == "bob" && !h.read && h.ok()).count();
    assert_eq!(bob_ok, 6, "every write in us is acknowledged during the eu outage");
    assert!(sim.history.iter().any(|h| !h.ok()), "ann's write during the outage fails");
    assert!(replicas_equal(&sim, "notes"), "eu caught up: {:?}", anomalies(&sim));
    assert_eq!(rows(&sim, "eu2", "notes").len(), 8);
}

// "Tolerance of network problems": during an inter-datacenter partition both sides keep accepting writes; after it
// heals the concurrent edits are a conflict, resolved the same way on both sides.
#[test]
fn ch5_3_lesson_an_inter_datacenter_partition() {
    let sim = lesson_run("multi-leader-dc-partition");
    assert!(sim.history.iter().all(|h| h.ok()), "both sides keep writing during the cut");
    let k = kinds(&sim);
    assert!(k.contains(&AnomalyKind::Conflict) && k.contains(&AnomalyKind::LostUpdate), "{k:?}");
    assert!(replicas_equal(&sim, "board"));
}

// "Conflict avoidance ... breaks down when you have to change the designated leader for a record".
#[test]
fn ch5_3_lesson_home_leader_until_the_user_moves() {
    let sim = lesson_run("multi-leader-home-move");
    let c = anomalies(&sim).into_iter().filter(|a| a.kind == AnomalyKind::Conflict).collect::<Vec<_>>();
    assert_eq!(c.len(), 1, "only the edits after the move conflict: {c:?}");
    assert_eq!(c[0].ops, vec![3, 4]);
    assert!(replicas_equal(&sim, "profiles"));
}

#[test]
fn ch5_3_lesson_lww_with_a_skewed_clock() {
    let sim = lesson_run("multi-leader-lww-skew");
    let lost = anomalies(&sim).into_iter().find(|a| a.kind == AnomalyKind::LostUpdate).expect("lost update");
    assert!(lost.detail.contains("causally later"), "{}", lost.detail);
    assert_eq!(rows(&sim, "us2", "docs"), vec!["id=1,body=teh draft"]);
}

// Star topology: changes go through the hub; a failed hub cuts the tips off from each other until it restarts.
#[test]
fn ch5_3_lesson_star_topology() {
    let sim = lesson_run("multi-leader-star");
    let read = |op: usize| sim.history.get(op).and_then(|h| h.result.clone()).unwrap().rows.len();
    assert_eq!(read(3), 3, "c has every tip's row through the hub");
    assert_eq!(read(5), 3, "while the hub is down, a's new row does not reach c");
    assert_eq!(read(6), 4, "after the restart it does");
    assert!(replicas_equal(&sim, "events") && kinds(&sim).is_empty());
}

// "Clients with offline operation": a device offline for 20 simulated hours keeps working; on reconnect the edits
// sync, the concurrent edit of one appointment is kept as siblings until a device that read both writes one.
#[test]
fn ch5_3_lesson_offline_calendar() {
    let sim = lesson_run("multi-leader-offline-calendar");
    assert!(sim.scenario.until_ms > 20 * 3_600_000);
    assert!(sim.history.iter().all(|h| h.ok()), "the offline phone acknowledged its own writes");
    let read = |op: usize| sim.history.get(op).and_then(|h| h.result.clone()).unwrap().rows.len();
    assert_eq!(read(4), 3, "two siblings of the appointment and the new event");
    assert_eq!(read(6), 2, "the laptop's write replaced both siblings");
    assert!(kinds(&sim).contains(&AnomalyKind::Conflict) && !kinds(&sim).contains(&AnomalyKind::LostUpdate));
    assert!(replicas_equal(&sim, "events"));
}

#[test]
fn ch5_3_lesson_figure_5_7_under_siblings() {
    let sim = lesson_run("multi-leader-siblings");
    let rows_of = |op: usize| sim.history.get(op).and_then(|h| h.result.clone()).unwrap().rows.len();
    assert_eq!((rows_of(3), rows_of(5)), (2, 1));
    assert_eq!(rows(&sim, "us2", "pages"), vec!["id=1,title=B and C"]);
    assert_eq!(kinds(&sim), vec![AnomalyKind::Conflict]);
}

// Offline devices stay offline for hours: a multi-leader scenario may run 48 hours simulated (others keep the
// 1-hour bound), and a stream to an unreachable leader backs off (up to a minute between resends), so the run stays
// small.
#[test]
fn ch5_3_until_ms_up_to_48_hours_for_multi_leader_and_cheap_offline_runs() {
    let mut v = three_leaders(json!({}), json!([]), json!([]));
    v["until_ms"] = json!(48 * 3_600_000u64);
    assert_eq!(parse(&v).until_ms, 172_800_000);
    v["until_ms"] = json!(48 * 3_600_000u64 + 1);
    assert!(err(&v).starts_with("until_ms: expected 1..=3600000 (multi-leader: up to 172800000)"), "{}", err(&v));
    let single =
        json!({"until_ms": 3_600_001u64, "nodes": [{"id": "a", "role": "leader"}, {"id": "b", "role": "follower"}]});
    assert!(err(&single).contains("only multi-leader scenarios may run up to 172800000"), "{}", err(&single));
    let sim = lesson_run("multi-leader-offline-calendar");
    let sent = sim.metrics.per_kind.values().map(|m| m.sent).sum::<u64>();
    assert!(sent < 5_000, "{sent} messages over 24 h with the phone offline for 20 h");
}

// The conflict view's data: for the conflicting row, each leader's writes in the order it applied them with their
// version vectors, the two concurrent writes marked, what each leader kept and what the strategy discarded.
#[test]
fn ch5_3_conflict_view_tells_each_leaders_story_of_the_row() {
    use replsim::protocol::multi_leader::story;
    let s = common::lesson("multi-leader-conflict");
    let sim = common::run(&s, s.seed);
    let c = ml(&sim);
    let lost = anomalies(&sim).into_iter().find(|a| a.kind == AnomalyKind::Conflict).unwrap();
    let (table, key) = story::row_of_finding(c, &lost.ops).expect("the finding names its row");
    assert_eq!(story::conflict_rows(c), vec![(table.clone(), key.clone())]);
    let st = story::row_story(c, &table, &key);
    assert_eq!((st.row.as_str(), st.strategy, st.leaders.len()), ("pages 1", "lww", 2));
    for l in &st.leaders {
        assert_eq!(l.steps.len(), 3, "insert, B and C on {}: {:?}", l.leader, l.steps);
        assert!(l.steps.windows(2).all(|w| w[0].at <= w[1].at));
        let concurrent: Vec<&str> = l.steps.iter().filter(|x| x.concurrent).map(|x| x.image.as_str()).collect();
        assert_eq!(concurrent.len(), 2, "{:?}", l.steps);
        let kept: Vec<&str> = l.steps.iter().filter(|x| x.kept).map(|x| x.image.as_str()).collect();
        assert_eq!(kept, vec!["(id=1, title='C')"], "on {}", l.leader);
        assert_eq!(l.shown, "(id=1, title='C')");
        assert!(l.steps[0].vv.starts_with('['), "{}", l.steps[0].vv);
    }
    assert_eq!(st.discarded.len(), 1);
    // Under siblings both versions are kept, with their version vectors.
    let sim = lesson_run("multi-leader-siblings");
    let mut sim2 = Simulation::new(&sim.scenario, sim.seed, &[]).unwrap();
    sim2.run_until(1_100_000);
    let st = story::row_story(ml(&sim2), "pages", &Value::Integer(1));
    assert!(st.leaders.iter().all(|l| l.versions.len() == 2), "{:?}", st.leaders);
    assert!(st.discarded.is_empty());
}

// The benchmark's multi-leader world (5 leaders all-to-all) is a valid scenario whose leaders converge.
#[test]
fn ch5_3_benchmark_world_five_leaders_all_to_all_converges() {
    let mut sim = replsim::bench::prepare_multi_leader(5, 500).expect("valid benchmark scenario");
    sim.run_to_end();
    assert_eq!(sim.history.iter().filter(|h| h.ok()).count(), 500);
    assert!(ml(&sim).quiet());
    assert!(all_equal(&sim, &["n1", "n2", "n3", "n4", "n5"], "kv"));
    assert_eq!(rows(&sim, "n5", "kv").len(), 500);
}

// `replsim conflicts` shows the siblings a row keeps under `siblings`, beside the one the database holds.
#[test]
fn ch5_3_strategies_table_lists_the_siblings() {
    let s = common::lesson("multi-leader-conflict");
    let figures = replsim::protocol::multi_leader::strategies::run_all(&s, s.seed).unwrap();
    let sib = figures.iter().find(|f| f.conflict.name() == "siblings").unwrap();
    assert!(sib.rows.iter().any(|r| r == "pages: siblings (id=1, title='B') | (id=1, title='C')"), "{:?}", sib.rows);
}

/// The lost-update finding against an independent computation, and the merge functions themselves.
mod lost_updates_and_merges {
    use super::*;
    use proptest::prelude::*;
    use replsim::protocol::multi_leader::conflicts::{resolve, RowMeta};
    use replsim::protocol::multi_leader::spec::{Conflict, Handler};
    use replsim::protocol::multi_leader::{Change, RowWrite};
    use std::collections::BTreeSet;

    /// Three leaders (a and b with a follower), rows 0..3 inserted by `a` at 10 ms, then UPDATEs with distinct
    /// values (`u<i>`, i the write's index) from every leader; clock offsets, and faults that all heal.
    #[allow(clippy::too_many_arguments)]
    fn updates(
        topology: usize,
        replica_id: bool,
        writes: &[(u8, u8, u16)],
        offsets: [i16; 3],
        crash: Option<(u8, u16)>,
        split: bool,
        offline: Option<(u8, u16)>,
        isolated: bool,
        seed: u64,
    ) -> Json {
        let mut repl = match topology {
            0 => json!({"topology": "all-to-all"}),
            1 => json!({"topology": "circular"}),
            _ => json!({"topology": "star", "hub": "b"}),
        };
        repl["conflict"] = json!(if replica_id { "replica-id" } else { "lww" });
        let leaders = ["a", "b", "c"];
        let mut wl: Vec<Json> =
            (0..4).map(|id| w(10, "ca", &format!("INSERT INTO t VALUES ({id}, 'init{id}')"))).collect();
        let mut seen = Vec::new();
        for (i, (who, row, at)) in writes.iter().enumerate() {
            if isolated && seen.contains(&(who % 3, row % 4)) {
                continue;
            }
            seen.push((who % 3, row % 4));
            let client = ["ca", "cb", "cc"][*who as usize % 3];
            wl.push(w(300 + u64::from(*at) % 1500, client, &format!("UPDATE t SET v = 'u{i}' WHERE id = {}", row % 4)));
        }
        let mut faults = Vec::new();
        if let Some((who, at)) = crash {
            let at = 300 + u64::from(at) % 1000;
            faults.push(json!({"at_ms": at, "crash": leaders[who as usize % 3]}));
            faults.push(json!({"at_ms": at + 400, "restart": leaders[who as usize % 3]}));
        }
        if split {
            faults.push(json!({"at_ms": 400, "partition": [["a", "a2"], ["b", "b2", "c"]]}));
            faults.push(json!({"at_ms": 1300, "heal": true}));
        }
        if let Some((who, at)) = offline {
            let at = 300 + u64::from(at) % 1200;
            faults.push(json!({"at_ms": at, "offline": leaders[who as usize % 3]}));
            faults.push(json!({"at_ms": at + 700, "online": leaders[who as usize % 3]}));
        }
        if isolated {
            // Every leader cut off from 200 ms to 2 s: each update is made before its writer has any other.
            for l in leaders {
                faults.push(json!({"at_ms": 200, "offline": l}));
                faults.push(json!({"at_ms": 2000, "online": l}));
            }
        }
        let mut nodes = json!([{"id": "a", "role": "leader", "datacenter": "x"}, {"id": "a2", "role": "follower", "datacenter": "x"},
                               {"id": "b", "role": "leader", "datacenter": "y"}, {"id": "b2", "role": "follower", "datacenter": "y"},
                               {"id": "c", "role": "leader"}]);
        for (k, n) in [0, 2, 4].into_iter().enumerate() {
            nodes[n]["clock"] = json!({"offset_ms": offsets[k]});
        }
        json!({
            "seed": seed, "until_ms": 8000,
            "nodes": nodes,
            "replication": repl,
            "network": {"latency_ms": {"min": 1, "max": 30}},
            "clients": [{"id": "ca", "datacenter": "x"}, {"id": "cb", "datacenter": "y"}, {"id": "cc", "datacenter": "c"}],
            "schema": ["CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"],
            "workload": wl,
            "faults": faults
        })
    }

    /// The oracle, from the history and the final state only: an acknowledged UPDATE is lost when no leader's
    /// database holds its value in its row at the end and no write to the row was made by a writer that had seen
    /// read its value just before writing (a write its own successor overwrote on purpose is not lost). "Had read"
    /// is the row as the later write's writer saw it (the `before` image of the change as it was replicated), not
    /// anything the checker computed. (A first version used "its version vector covers the write": wrong, a writer
    /// can have received a write that its leader had already discarded, and then it never read its value.)
    fn lost_by_oracle(sim: &Simulation) -> BTreeSet<usize> {
        let c = ml(sim);
        let mut changes: Vec<std::rc::Rc<Change>> = Vec::new();
        for st in &c.state {
            for x in &st.applied {
                if !changes.iter().any(|y| (y.origin, y.seq) == (x.origin, x.seq)) {
                    changes.push(x.clone());
                }
            }
        }
        let leaders: Vec<&str> = ["a", "b", "c"].into_iter().collect();
        let mut lost = BTreeSet::new();
        for (op, h) in sim.history.iter().enumerate() {
            if !h.ok() || !h.sql.starts_with("UPDATE") {
                continue;
            }
            let Some(me) = changes.iter().find(|x| x.op == Some(op)) else { continue }; // it matched no row
            let value = h.sql.split('\'').nth(1).unwrap().to_string();
            let id = h.sql.rsplit(' ').next().unwrap().to_string();
            let kept = leaders.iter().any(|l| rows(sim, l, "t").contains(&format!("id={id},v={value}")));
            // Overwritten on purpose: a later write of the row whose writer read this write's value just before
            // (its `before` image holds the value; values are unique).
            let superseded = changes.iter().any(|x| {
                (x.origin, x.seq) != (me.origin, me.seq)
                    && x.rows.iter().any(|r| {
                        replsim::log_methods::value_text(&r.key) == id
                            && r.before
                                .iter()
                                .flat_map(|b| b.iter())
                                .any(|(c, v)| c == "v" && *v == Value::Text(value.clone()))
                    })
            });
            if !kept && !superseded {
                lost.insert(op);
            }
        }
        lost
    }

    fn lost_by_checker(sim: &Simulation) -> BTreeSet<usize> {
        anomalies(sim).into_iter().filter(|a| a.kind == AnomalyKind::LostUpdate).map(|a| a.ops[0]).collect()
    }

    /// A change of row t 1 by leader `origin` (its first write, made after it had the insert of leader 0).
    fn change(
        origin: usize,
        ts: i64,
        image: Option<replsim::protocol::multi_leader::Image>,
        before: &[(String, Value)],
    ) -> Change {
        Change {
            origin,
            seq: 1,
            deps: vec![1, 0, 0, 0],
            ts,
            op: Some(origin),
            rows: vec![RowWrite {
                table: "t".into(),
                key: Value::Integer(1),
                image,
                before: Some(before.into()),
                insert: false,
                ctx: None,
            }],
            path: vec![origin],
            via: String::new(),
        }
    }

    fn img(v: &str, n: i64) -> replsim::protocol::multi_leader::Image {
        [("id".into(), Value::Integer(1)), ("v".into(), Value::Text(v.into())), ("n".into(), Value::Integer(n))].into()
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, failure_persistence: common::regressions(), ..ProptestConfig::default() })]

        // The `lost-update` finding (its lost write, ops[0]) is exactly the set of acknowledged writes an
        // independent computation from the history and the final state says no replica keeps, under LWW and
        // replica-id, with skewed clocks, crashes, partitions and a leader offline.
        //
        // This test found two real faults of the checker, now fixed (check.rs `lost_updates`): it reported a write
        // its own leader's next write had overwritten on purpose, and it missed a replica-id version that was
        // hidden and then replaced. Their minimal cases, kept for the record:
        // - LWW, all-to-all, writes [(0,3,441),(0,3,69),(2,3,82),(0,0,85)], split, seed 753: a writes u1 then u0
        //   to row 3 (u0 read u1), c concurrently writes u2. On c, u1 arrives after u2 and loses; yet u0 was
        //   built on u1, so u1 is not lost (it would be gone under any strategy).
        // - replica-id, star hub b, writes [(0,0,0),(0,3,816),(1,3,812),(0,0,0),(0,0,0),(0,0,0),(0,3,841)],
        //   seed 121: u1 (a) and u2 (b) concurrent, replica-id shows u2; a then writes u6 over both, having read
        //   u2: u1 was lost (nobody built on it), though no version of it is left at the end.
        #[test]
        fn ch5_3_lost_update_finding_equals_an_independent_oracle(
            topology in 0usize..3,
            writes in proptest::collection::vec((0u8..3, 0u8..4, 0u16..1500), 1..12),
            offsets in proptest::array::uniform3(-400i16..400),
            crash in proptest::option::of((0u8..3, 0u16..1000)),
            split in any::<bool>(),
            offline in proptest::option::of((0u8..3, 0u16..1200)),
            seed in 0u64..1000,
        ) {
            let v = updates(topology, false, &writes, offsets, crash, split, offline, false, seed);
            let sim = run(&v);
            prop_assert!(ml(&sim).quiet() && all_equal(&sim, &["a", "a2", "b", "b2", "c"], "t"), "{:?}", anomalies(&sim));
            prop_assert_eq!(lost_by_checker(&sim), lost_by_oracle(&sim), "{:?}", anomalies(&sim));
        }

        // Where the two definitions cannot differ (every leader writes a row at most once, while every leader is
        // offline, so no writer has read another's write and none overwrites its own), the `lost-update` findings
        // are exactly the acknowledged writes whose value no replica holds at the end, under LWW and replica-id,
        // with skewed clocks and crashes.
        #[test]
        fn ch5_3_lost_update_finding_equals_the_oracle_for_concurrent_writes(
            topology in 0usize..3,
            replica_id in any::<bool>(),
            writes in proptest::collection::vec((0u8..3, 0u8..4, 0u16..1500), 1..12),
            offsets in proptest::array::uniform3(-400i16..400),
            crash in proptest::option::of((0u8..3, 0u16..1000)),
            seed in 0u64..1000,
        ) {
            // No extra partition or offline period here: their heal/online would reconnect a leader early.
            let v = updates(topology, replica_id, &writes, offsets, crash, false, None, true, seed);
            let sim = run(&v);
            prop_assert!(ml(&sim).quiet() && all_equal(&sim, &["a", "a2", "b", "b2", "c"], "t"), "{:?}", anomalies(&sim));
            prop_assert_eq!(lost_by_checker(&sim), lost_by_oracle(&sim), "{:?}", anomalies(&sim));
        }

        // The merge functions, called directly: three concurrent updates of one row (each made after the insert,
        // none seeing another), folded in by `resolve` in every one of the 6 orders, give one result (the fold is
        // commutative and associative), the closed form the docs promise, and folding any of them in again
        // changes nothing (idempotent: a re-delivered change is recognised as already seen). For `sum` and the
        // crdt counter the result is the base plus the total of the increments whatever the order: addition is
        // not idempotent as a join, so idempotence there is the "seen" check, not the arithmetic.
        #[test]
        fn ch5_3_merge_functions_commute_associate_and_are_idempotent(
            strategy in 0usize..6,
            vals in proptest::array::uniform3(0u8..4),
            nums in proptest::array::uniform3(-5i64..20),
            ts in proptest::array::uniform3(0i64..1000),
            delete in proptest::option::of(0usize..3),
        ) {
            let (conflict, handlers): (Conflict, Vec<(String, Handler)>) = match strategy {
                0 => (Conflict::Merge, vec![]),
                1 => (Conflict::OnWrite, vec![("t.n".into(), Handler::Max), ("t.v".into(), Handler::Min)]),
                2 => (Conflict::OnWrite, vec![("t.n".into(), Handler::Min), ("t.v".into(), Handler::Max)]),
                3 => (Conflict::OnWrite, vec![("t.n".into(), Handler::Sum), ("t.v".into(), Handler::Concat)]),
                4 => (Conflict::Crdt, vec![("t.n".into(), Handler::Sum)]),
                _ => (Conflict::Siblings, vec![]),
            };
            let base = img("x", 10);
            let ins = Change { origin: 0, seq: 1, deps: vec![0; 4], ts: 0, op: Some(0), rows: vec![RowWrite {
                table: "t".into(), key: Value::Integer(1), image: Some(base.clone()), before: None, insert: true, ctx: None }],
                path: vec![0], via: String::new() };
            let mut m0 = RowMeta::from_write(&ins, &ins.rows[0]);
            if conflict == Conflict::Crdt {
                m0 = m0.registers(&[], &ins, &ins.rows[0]);
            }
            let m0 = m0.counted(&handlers, "t", &[], &ins.rows[0]);
            let letters = ["A", "B", "C", "D"];
            let writes: Vec<Change> = (0..3)
                .map(|i| {
                    // Under crdt, writer i changes column v only when i is even (registers of different columns).
                    let image = if delete == Some(i) {
                        None
                    } else if conflict == Conflict::Crdt && i % 2 == 1 {
                        Some(img("x", 10 + nums[i]))
                    } else if conflict == Conflict::Crdt {
                        Some(img(letters[vals[i] as usize], 10))
                    } else {
                        Some(img(letters[vals[i] as usize], 10 + nums[i]))
                    };
                    change(i + 1, ts[i], image, &base)
                })
                .collect();
            let names: Vec<String> = ["o", "p", "q", "r"].iter().map(|s| s.to_string()).collect();
            let fold = |order: &[usize]| {
                let mut m = m0.clone();
                for &i in order {
                    m = resolve(conflict, &handlers, &names, &m, &writes[i], &writes[i].rows[0]).meta;
                }
                m
            };
            let orders = [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]];
            let first = fold(&orders[0]);
            for o in &orders[1..] {
                let m = fold(o);
                prop_assert_eq!(&m.image, &first.image, "order {:?} against {:?}", o, orders[0]);
                let ws = |m: &RowMeta| { let mut v: Vec<_> = m.versions.iter().map(|v| v.writer).collect(); v.sort(); v };
                prop_assert_eq!(ws(&m), ws(&first), "versions kept, order {:?}", o);
            }
            // Idempotence of the join: re-delivering a change leaves the row as it was. Not for the counter
            // column under sum/crdt: `resolve` adds the delta of a change that is stale (a later write that saw it
            // arrived first, and its increment still counts), so a counter relies on the protocol never applying a
            // change twice (checked by `ch5_3_every_strategy_but_none_converges`), not on the merge.
            let counter = matches!(strategy, 3 | 4);
            let without_n = |i: &Option<replsim::protocol::multi_leader::Image>| {
                i.as_ref().map(|r| r.iter().filter(|(c, _)| !(counter && c == "n")).cloned().collect::<Vec<_>>())
            };
            for x in &writes {
                let again = resolve(conflict, &handlers, &names, &first, x, &x.rows[0]).meta;
                prop_assert_eq!(without_n(&again.image), without_n(&first.image), "{}:{} applied twice", x.origin, x.seq);
            }
            // The closed forms.
            let live: Vec<usize> = (0..3).filter(|i| delete != Some(*i)).collect();
            let v_of = |i: usize| letters[vals[i] as usize].to_string();
            let col = |name: &str| first.image.as_ref().and_then(|r| r.iter().find(|(c, _)| c == name).map(|(_, v)| v.clone()));
            let mut texts: Vec<String> = live.iter().map(|i| v_of(*i)).collect();
            texts.sort();
            texts.dedup();
            let nvals: Vec<i64> = live.iter().map(|i| 10 + nums[*i]).collect();
            if live.is_empty() {
                // Every write deleted the row: it stays deleted.
                prop_assert_eq!(&first.image, &None);
                return Ok(());
            }
            match strategy {
                0 => prop_assert_eq!(col("v"), Some(Value::Text(texts.join("/")))),
                1 => {
                    prop_assert_eq!(col("n"), Some(Value::Integer(*nvals.iter().max().unwrap())));
                    prop_assert_eq!(col("v"), Some(Value::Text(texts[0].clone())));
                }
                2 => {
                    prop_assert_eq!(col("n"), Some(Value::Integer(*nvals.iter().min().unwrap())));
                    prop_assert_eq!(col("v"), Some(Value::Text(texts.last().unwrap().clone())));
                }
                3 => {
                    let total = 10 + live.iter().map(|i| nums[*i]).sum::<i64>();
                    prop_assert_eq!(col("n"), Some(Value::Integer(total)));
                    prop_assert_eq!(col("v"), Some(Value::Text(texts.join("/"))));
                }
                4 => {
                    // Counter: the base plus every odd writer's increment. Register v: of the concurrent writers
                    // that changed it, the one latest in the node list (a value equal to the base says nothing).
                    let total = 10 + live.iter().filter(|i| *i % 2 == 1).map(|i| nums[*i]).sum::<i64>();
                    prop_assert_eq!(col("n"), Some(Value::Integer(total)));
                    let v = live.iter().filter(|i| *i % 2 == 0).rev().map(|i| v_of(*i)).next().unwrap_or("x".into());
                    prop_assert_eq!(col("v"), Some(Value::Text(v)));
                    // A tombstone loses to a concurrent update: the row is there.
                    prop_assert!(first.image.is_some());
                }
                _ => {
                    // Siblings: every concurrent version is kept.
                    prop_assert_eq!(first.versions.len(), 3);
                }
            }
        }
    }
}

// Collaborative editing as the book frames it: each person's device a leader; a document saved whole under last
// write wins loses one person's edit; merging keeps both (the editing view types keystrokes with a text CRDT).
#[test]
fn ch5_3_lesson_collaborative_editing_loses_a_whole_document_save_under_lww() {
    let sim = lesson_run("multi-leader-collab-editing");
    assert_eq!(kinds(&sim), vec![AnomalyKind::Conflict, AnomalyKind::LostUpdate]);
    assert!(replicas_equal(&sim, "docs"));
    let s = replsim::library::lesson("multi-leader-collab-editing").unwrap().unwrap();
    let all = replsim::protocol::multi_leader::strategies::run_all(&s, s.seed).unwrap();
    let merge = all.iter().find(|f| f.conflict.name() == "merge").unwrap();
    assert_eq!(merge.discarded, 0);
    assert!(merge.rows.iter().any(|r| r.contains("Ann: budget") && r.contains("Bob: launch")), "{:?}", merge.rows);
}

// Figure 5-9 both ways, as lessons: without causality c diverges; with version vectors it buffers the update.
#[test]
fn ch5_3_lesson_overtaking_with_and_without_version_vectors() {
    assert!(kinds(&lesson_run("multi-leader-overtaking")).contains(&AnomalyKind::Divergence));
    let fixed = lesson_run("multi-leader-overtaking-fixed");
    assert!(kinds(&fixed).is_empty(), "{:?}", kinds(&fixed));
    assert!(replicas_equal(&fixed, "tasks"));
}
