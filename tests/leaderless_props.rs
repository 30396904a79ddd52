//! Properties of leaderless replication (DDIA 5.4) over random workloads and fault schedules: quorum reads with
//! w + r > n see every write acknowledged before they began; read repair and anti-entropy make replicas converge;
//! version vectors lose no concurrent write; the union merge is commutative, associative and idempotent; and an
//! independent stale-read computation agrees with the checker.

use proptest::prelude::*;
use replsim::check::{anomalies, AnomalyKind};
use replsim::protocol::leaderless::versions::{merge_union, reconcile, Sibling, Vv};
use replsim::scenario::Scenario;
use replsim::sql::Value;
use replsim::world::sim::Simulation;
use serde_json::{json, Value as Json};

mod common;
use common::regressions;

/// One timed step of a random run: (ms, client index, key index, write?).
type Step = (u64, usize, usize, bool);

/// A fault: (ms, node, what): a crash, a restart, or a restart restoring the node from the next node's copy.
type Fault = (u64, usize, FaultKind);

#[derive(Clone, Copy, Debug, PartialEq)]
enum FaultKind {
    Crash,
    Restart,
    Restore,
}

fn scenario(seed: u64, nwr: (usize, usize, usize), steps: &[Step], faults: &[Fault], ae: u64) -> Scenario {
    let (n, w, r) = nwr;
    let ids = ["a", "b", "c", "d"];
    let nodes: Vec<Json> = ids.iter().map(|i| json!({"id": i, "role": "replica"})).collect();
    let workload: Vec<Json> = steps
        .iter()
        .enumerate()
        .map(|(i, (at, c, k, write))| {
            let sql = if *write {
                format!("INSERT INTO kv VALUES ('k{k}', 'v{i}')")
            } else {
                format!("SELECT v FROM kv WHERE k = 'k{k}'")
            };
            json!({"at_ms": at, "client": format!("c{c}"), "sql": sql})
        })
        .collect();
    let faults: Vec<Json> = faults
        .iter()
        .map(|(at, node, kind)| match kind {
            FaultKind::Crash => json!({"at_ms": at, "crash": ids[*node]}),
            FaultKind::Restart => json!({"at_ms": at, "restart": ids[*node]}),
            FaultKind::Restore => {
                json!({"at_ms": at, "restart": ids[*node], "restore_from": ids[(node + 1) % ids.len()]})
            }
        })
        .collect();
    let v = json!({
        "version": 1, "seed": seed, "until_ms": 4000,
        "nodes": nodes,
        "replication": {"leaderless": {"n": n, "w": w, "r": r, "read_repair": true, "anti_entropy_ms": ae}},
        "network": {"latency_ms": {"min": 1, "max": 20}},
        "clients": [{"id": "c0", "coordinator": "a"}, {"id": "c1", "coordinator": "client"},
                    {"id": "c2", "coordinator": "c"}, {"id": "c3", "coordinator": "client"}],
        "schema": ["CREATE TABLE kv (k TEXT PRIMARY KEY, v TEXT)"],
        "workload": workload,
        "faults": faults,
    });
    Scenario::from_value(&v).expect("generated scenarios parse")
}

/// The same scenario with `replication.leaderless.resolve` set, and (under lww) replica b's clock 40 ms behind and
/// c's drifting ahead, so timestamps disagree with the order writes happened in.
fn with_resolve(s: &Scenario, resolve: &str) -> Scenario {
    let mut v = s.to_json();
    v["replication"]["leaderless"]["resolve"] = json!(resolve);
    if resolve == "lww" {
        v["nodes"][1]["clock"] = json!({"offset_ms": -40, "drift_ppm": 0});
        v["nodes"][2]["clock"] = json!({"offset_ms": 0, "drift_ppm": 20000});
    }
    Scenario::from_value(&v).expect("generated scenarios parse")
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    prop::collection::vec((0u64..1500, 0usize..4, 0usize..3, any::<bool>()), 1..40)
}

/// Crash and restart pairs; every node is running again by 1600 ms.
fn faults() -> impl Strategy<Value = Vec<Fault>> {
    prop::collection::vec((0u64..1200, 0usize..4, 1u64..400), 0..4).prop_map(|v| {
        v.into_iter()
            .flat_map(|(at, node, down)| {
                [(at, node, FaultKind::Crash), ((at + down).min(1600), node, FaultKind::Restart)]
            })
            .collect()
    })
}

/// The same, except that some restarts restore the node from another replica's copy (the edge case of a replica
/// restored from stale data).
fn faults_with_restores() -> impl Strategy<Value = Vec<Fault>> {
    prop::collection::vec((0u64..1200, 0usize..4, 1u64..400, any::<bool>()), 0..4).prop_map(|v| {
        v.into_iter()
            .flat_map(|(at, node, down, restore)| {
                let back = if restore { FaultKind::Restore } else { FaultKind::Restart };
                [(at, node, FaultKind::Crash), ((at + down).min(1600), node, back)]
            })
            .collect()
    })
}

fn run(s: &Scenario) -> Simulation {
    let mut sim = Simulation::new(s, s.seed, &[]).expect("setup");
    sim.run_to_end();
    sim
}

fn vv(e: &[(usize, u64)]) -> Vv {
    e.iter().copied().collect()
}

fn cart(e: &[(usize, u64)], dot: (usize, u64), items: &[&str], removed: &[&str]) -> Sibling {
    Sibling {
        vv: vv(e),
        dot,
        row: Some(vec![("id".into(), Value::Integer(1)), ("items".into(), Value::Text(items.join(",")))]),
        removed: removed.iter().map(|s| s.to_string()).collect(),
        op: 0,
        at: 0,
        ts: None,
    }
}

/// The merged items as a sorted set.
fn merged(s: &[Sibling]) -> (Vec<String>, Vec<String>) {
    let Some((row, removed)) = merge_union(s, "items") else { return (Vec::new(), Vec::new()) };
    let mut items: Vec<String> = match &row[1].1 {
        Value::Text(t) => t.split(',').filter(|x| !x.is_empty()).map(str::to_string).collect(),
        _ => Vec::new(),
    };
    items.sort();
    (items, removed)
}

fn sibling() -> impl Strategy<Value = Sibling> {
    let item = prop::sample::select(vec!["milk", "eggs", "ham", "flour", "tea"]);
    (
        // Contexts name other writers (3..6): a, b and c below are concurrent versions with dots of their own.
        prop::collection::vec((3usize..6, 1u64..4), 0..3),
        (0usize..3, 1u64..5),
        prop::collection::vec(item.clone(), 0..4),
        prop::collection::vec(item, 0..2),
    )
        .prop_map(|(e, dot, items, removed)| {
            let mut removed: Vec<&str> = removed;
            removed.sort_unstable();
            removed.dedup();
            cart(&e, dot, &items, &removed)
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, failure_persistence: regressions(), ..ProptestConfig::default() })]

    // With w + r > n, no sloppy quorum, no failed write and no replica restored from stale data, a read sees every
    // write acknowledged before it began. Restores are in the schedule: a stale read they cause must say so.
    #[test]
    fn ch5_4_strict_quorums_see_every_acknowledged_write(seed in any::<u64>(), steps in steps(), faults in faults_with_restores(),
                                                         wr in prop::sample::select(vec![(2usize, 2usize), (3, 1), (1, 3), (3, 3)])) {
        let s = scenario(seed, (3, wr.0, wr.1), &steps, &faults, 0);
        let sim = run(&s);
        prop_assume!(sim.history.iter().filter(|h| !h.read).all(|h| h.ok()));
        for a in anomalies(&sim).iter().filter(|a| a.kind == AnomalyKind::StaleRead) {
            // A write still in flight may be seen by one read and not the next (the book's concurrent-write case);
            // a write acknowledged before the read began must always be seen, unless a restore took it away.
            if a.detail.contains("restored from stale data") {
                prop_assert!(faults.iter().any(|f| f.2 == FaultKind::Restore), "seed {}: {}", seed, a.detail);
                continue;
            }
            prop_assert!(!a.detail.contains("did not see write"), "seed {}: {}", seed, a.detail);
        }
    }

    // With read repair and anti-entropy, every replica ends with the same versions once the faults are over. With
    // siblings no acknowledged write is lost (a version is only dropped for one whose writer had seen it); with last
    // write wins writes may be lost, but replicas still converge, on one version per key.
    #[test]
    fn ch5_4_replicas_converge_and_lose_no_write(seed in any::<u64>(), steps in steps(), faults in faults(), n in 2usize..5,
                                                 resolve in prop::sample::select(vec!["siblings", "lww"])) {
        let s = with_resolve(&scenario(seed, (n, 1, 1), &steps, &faults, 100), resolve);
        let sim = run(&s);
        let c = sim.protocol.leaderless().expect("leaderless run");
        for (k, _) in c.nodes[0].data.iter().chain(c.nodes[1].data.iter()) {
            let home = c.home(k);
            let first = &c.nodes[home[0]].data.get(k);
            for h in &home[1..] {
                prop_assert_eq!(&c.nodes[*h].data.get(k), first, "seed {}: {} differs on {}", seed, k.label(), c.nodes[*h].id);
            }
            if resolve == "lww" {
                prop_assert!(first.is_none_or(|v| v.len() == 1), "seed {}: lww keeps one version of {}", seed, k.label());
            }
        }
        let lost = anomalies(&sim).into_iter().filter(|a| a.kind == AnomalyKind::LostWrite).collect::<Vec<_>>();
        if resolve == "siblings" {
            prop_assert!(lost.is_empty(), "seed {}: {:?}", seed, lost);
        } else {
            // Every write lww lost, it lost to a higher timestamp (never for want of a replica: no node is down at
            // the end of these schedules, so "no replica holds it" would be a bug).
            for a in &lost {
                prop_assert!(a.detail.contains("discarded: concurrent writes resolved by last write wins"), "seed {}: {}", seed, a.detail);
            }
        }
    }

    // The application's union merge: order, grouping and repetition of siblings do not change the result.
    #[test]
    fn ch5_4_union_merge_is_commutative_associative_and_idempotent(a in sibling(), b in sibling(), c in sibling()) {
        let (mut a, mut b, mut c) = (a, b, c);
        (a.dot.0, b.dot.0, c.dot.0) = (0, 1, 2);
        let ab = merged(&[a.clone(), b.clone()]);
        prop_assert_eq!(&ab, &merged(&[b.clone(), a.clone()]));
        prop_assert_eq!(merged(&[a.clone(), a.clone()]), merged(std::slice::from_ref(&a)));
        // (a ∪ b) ∪ c = a ∪ (b ∪ c), merging a merged row again as one sibling.
        let as_sibling = |m: &(Vec<String>, Vec<String>)| {
            let items: Vec<&str> = m.0.iter().map(String::as_str).collect();
            let removed: Vec<&str> = m.1.iter().map(String::as_str).collect();
            cart(&[], (9, 1), &items, &removed)
        };
        let left = merged(&[as_sibling(&ab), c.clone()]);
        let right = merged(&[a.clone(), as_sibling(&merged(&[b.clone(), c.clone()]))]);
        prop_assert_eq!(left, right);
        // Reconciling versions is order-free too.
        let mut x = reconcile([std::slice::from_ref(&a), std::slice::from_ref(&b), std::slice::from_ref(&c)]);
        let mut y = reconcile([std::slice::from_ref(&c), std::slice::from_ref(&a), std::slice::from_ref(&b)]);
        x.sort_by(|p, q| (&p.vv, p.dot).cmp(&(&q.vv, q.dot)));
        y.sort_by(|p, q| (&p.vv, p.dot).cmp(&(&q.vv, q.dot)));
        prop_assert_eq!(x.iter().map(|s| s.dot).collect::<Vec<_>>(), y.iter().map(|s| s.dot).collect::<Vec<_>>());
    }

    // An independent stale-read computation: one writer per key writes v0, v1, ... in turn (each write with the
    // context of the last, so the values are totally ordered); a read is stale when it returns neither the value
    // of the last write acknowledged before it began nor a later one. The checker must flag exactly those reads.
    #[test]
    fn ch5_4_independent_stale_read_computation_agrees(seed in any::<u64>(), faults in faults(),
                                                      nwr in prop::sample::select(vec![(3usize, 1usize, 1usize), (3, 2, 1), (3, 2, 2), (4, 1, 2)]),
                                                      reads in prop::collection::vec((0u64..1500, 1usize..4), 1..25)) {
        let mut steps: Vec<Step> = (0..15).map(|i| (i * 100, 0, 0, true)).collect();
        steps.extend(reads.iter().map(|(at, c)| (*at, *c, 0, false)));
        let s = scenario(seed, nwr, &steps, &faults, 0);
        let sim = run(&s);
        let writes: Vec<&replsim::world::sim::HistoryEntry> = sim.history.iter().filter(|h| !h.read).collect();
        prop_assume!(writes.iter().all(|h| h.ok()));
        // Each write ended before the next began: the writer's contexts chain them, v0 < v1 < ...
        prop_assume!(writes.windows(2).all(|p| p[0].end.is_some_and(|e| e < p[1].start)));
        let value_of = |sql: &str| sql.split('\'').nth(3).unwrap_or_default().to_string();
        let mut expected: Vec<usize> = Vec::new();
        for (i, h) in sim.history.iter().enumerate().filter(|(_, h)| h.read && h.ok()) {
            let last = sim.history.iter().filter(|w| !w.read && w.end.is_some_and(|e| e < h.start)).max_by_key(|w| w.end);
            let Some(last) = last else { continue };
            let got: Vec<String> = h.result.as_ref().map(|r| r.rows.iter().map(|row| match &row[0] {
                Value::Text(t) => t.clone(),
                _ => String::new(),
            }).collect()).unwrap_or_default();
            // Stale: nothing it returned is that write's value or a later one (v7 replaces v3).
            let index = |v: &str| v.strip_prefix('v').and_then(|n| n.parse::<usize>().ok());
            let newest = got.iter().filter_map(|v| index(v)).max();
            if newest < index(&value_of(&last.sql)) {
                expected.push(i);
            }
        }
        let mut flagged: Vec<usize> = anomalies(&sim)
            .iter()
            .filter(|a| a.kind == AnomalyKind::StaleRead && a.detail.contains("did not see write"))
            .map(|a| a.ops[1])
            .collect();
        flagged.sort_unstable();
        prop_assert_eq!(flagged, expected, "seed {}", seed);
    }
}

/// A statement of any shape, good or bad, for the no-panic property.
fn any_statement() -> impl Strategy<Value = String> {
    let k = 0u8..4;
    prop_oneof![
        k.clone().prop_map(|k| format!("INSERT INTO kv VALUES ('k{k}', 'v')")),
        k.clone().prop_map(|k| format!("SELECT * FROM kv WHERE k = 'k{k}'")),
        k.clone().prop_map(|k| format!("UPDATE kv SET v = v || 'x' WHERE k = 'k{k}'")),
        k.clone().prop_map(|k| format!("DELETE FROM kv WHERE k = 'k{k}'")),
        k.clone().prop_map(|k| format!("INSERT INTO carts VALUES ({k}, 'milk,tea')")),
        k.clone().prop_map(|k| format!("UPDATE carts SET items = 'tea' WHERE id = {k}")),
        k.prop_map(|k| format!("SELECT items FROM carts WHERE id = {k}")),
        Just("SELECT * FROM kv".to_string()),
        Just("INSERT INTO kv (v) VALUES ('no key')".to_string()),
        Just("INSERT INTO carts (items) VALUES ('no key')".to_string()),
        Just("UPDATE kv SET k = 'other' WHERE k = 'k1'".to_string()),
        Just("SELECT COUNT(*) FROM kv WHERE k = 'k1'".to_string()),
        Just("SELECT nope FROM kv WHERE k = 'k1'".to_string()),
        Just("DELETE FROM nowhere WHERE k = 1".to_string()),
        Just("COMMIT".to_string()),
        Just("garbage (".to_string()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: regressions(), ..ProptestConfig::default() })]

    // Whatever the statements, settings and faults, a leaderless run ends, and its report, findings and view come
    // out without a panic; the same seed gives the same trace.
    #[test]
    fn ch5_4_any_leaderless_run_finishes_and_reports(seed in any::<u64>(), nodes in 1usize..6, nwr in (1usize..6, 1usize..6, 1usize..6),
                                                     sloppy in any::<bool>(), ae in prop::sample::select(vec![0u64, 50, 300]),
                                                     rr in any::<bool>(), loss in 0.0f64..0.3,
                                                     work in prop::collection::vec((0u64..1500, 0usize..3, any_statement(), any::<bool>()), 0..30),
                                                     faults in prop::collection::vec((0u64..1500, 0usize..6, 0u8..5), 0..6)) {
        let ids = ["a", "b", "c", "d", "e", "f"];
        let n = nwr.0.min(nodes);
        let (w, r) = (nwr.1.min(n), nwr.2.min(n));
        let coordinators = [json!("client"), json!("a"), json!(ids[nodes - 1])];
        let clients: Vec<Json> = (0..3).map(|i| json!({"id": format!("c{i}"), "coordinator": coordinators[i],
            "merge": if i == 2 { json!({"carts.items": "union"}) } else { json!({}) }})).collect();
        let workload: Vec<Json> = work.iter().map(|(at, c, sql, blind)| {
            let mut e = json!({"at_ms": at, "client": format!("c{c}"), "sql": sql});
            if *blind { e["blind"] = json!(true); }
            e
        }).collect();
        let faults: Vec<Json> = faults.iter().map(|(at, node, kind)| {
            let id = ids[node % nodes];
            match kind {
                0 => json!({"at_ms": at, "crash": id}),
                1 => json!({"at_ms": at, "restart": id}),
                2 => json!({"at_ms": at, "pause": id, "for_ms": 200}),
                3 => json!({"at_ms": at, "partition": [[id], ["c0"]]}),
                _ => json!({"at_ms": at, "heal": true}),
            }
        }).collect();
        let v = json!({
            "version": 1, "seed": seed, "until_ms": 2500,
            "nodes": ids[..nodes].iter().map(|i| json!({"id": i, "role": "replica"})).collect::<Vec<_>>(),
            "replication": {"leaderless": {"n": n, "w": w, "r": r, "read_repair": rr, "anti_entropy_ms": ae,
                                           "sloppy_quorum": sloppy, "handoff_ms": 70, "request_timeout_ms": 60}},
            "network": {"latency_ms": {"min": 1, "max": 30}, "loss": loss},
            "clients": clients,
            "schema": ["CREATE TABLE kv (k TEXT PRIMARY KEY, v TEXT)", "CREATE TABLE carts (id INTEGER PRIMARY KEY, items TEXT)"],
            "workload": workload,
            "faults": faults,
        });
        let s = Scenario::from_value(&v).expect("generated scenarios parse");
        let a = run(&s);
        let _ = replsim::report::report_json(&a);
        let _ = replsim::report::report_text(&a);
        let _ = a.view();
        // Every replica's tables, as the inspector asks for them one node at a time.
        for n in &s.nodes {
            let v = a.view_of(Some(&n.id));
            prop_assert!(v.nodes.iter().filter(|x| !x.tables.is_empty()).all(|x| x.id == n.id));
        }
        prop_assert_eq!(a.trace.hash(), run(&s).trace.hash());
    }
}
