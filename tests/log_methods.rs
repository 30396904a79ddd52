//! DDIA 5.1 "Implementation of Replication Logs": statement-based replication, write-ahead log (WAL) shipping,
//! logical (row-based) log replication and trigger-based replication. Each test reproduces one claim of the section
//! and asserts the outcome the book describes. Randomized tests print the seed that reproduces a failure.

use proptest::prelude::*;
use replsim::check::{anomalies, row_diffs, AnomalyKind};
use replsim::compare::{figures, run_all, Verdict, METHODS};
use replsim::log_methods::{LogRecord, MixedPart};
use replsim::protocol::single_leader::{
    ChangeOp, ChangePos, ChangeRow, Effect, Endpoint, Node, NodeConfig, Note, Payload, Status, Timer, CHANGES_TABLE,
};
use replsim::scenario::{ClockSpec, Command, FailoverSpec, LogKind, Mode, Role, Scenario, TriggerSpec};
use replsim::sql::Value;
use replsim::world::sim::Simulation;

mod common;
use common::{lesson, regressions, run};

fn node(sim: &Simulation, id: &str) -> usize {
    sim.protocol
        .single_leader()
        .expect("single-leader run")
        .nodes
        .iter()
        .position(|n| n.id == id)
        .unwrap_or_else(|| panic!("no node {id}"))
}

fn divergences(sim: &Simulation) -> Vec<String> {
    anomalies(sim).into_iter().filter(|a| a.kind == replsim::check::AnomalyKind::Divergence).map(|a| a.detail).collect()
}

fn with_log(name: &str, log: LogKind) -> Scenario {
    lesson(name).with_log(log)
}

fn texts(sim: &Simulation, id: &str, table: &str, column: &str) -> Vec<String> {
    sim.protocol.single_leader().expect("single-leader run").nodes[node(sim, id)]
        .db
        .rows(table)
        .into_iter()
        .filter_map(|r| r.into_iter().find(|(c, _)| c == column).map(|(_, v)| v))
        .map(|v| match v {
            Value::Text(t) => t,
            other => format!("{other:?}"),
        })
        .collect()
}

// DDIA 5.1 Statement-based replication: "any statement that calls a nondeterministic function, such as NOW() to get
// the current date and time or RAND() to get a random number, is likely to generate a different value on each
// replica."
#[test]
fn ch5_1_statement_now_and_rand_diverge() {
    let sim = run(&lesson("statement-now"), 7);
    let d = divergences(&sim);
    assert!(!d.is_empty(), "statement-based NOW()/RAND() should diverge, seed 7");
    assert!(d.iter().any(|x| x.contains("n3")), "n3 (clock 2.5 s ahead) differs: {d:?}");
    let l = node(&sim, "n1");
    let diffs = row_diffs(
        &sim,
        &sim.protocol.single_leader().expect("single-leader run").nodes[l],
        &sim.protocol.single_leader().expect("single-leader run").nodes[node(&sim, "n3")],
    );
    // The 'desk' row was written with literal values: it is the same everywhere.
    assert!(diffs
        .iter()
        .all(|r| r.leader.as_ref().is_none_or(|row| !row.iter().any(|(_, v)| *v == Value::Text("desk".into())))));
    assert!(diffs.iter().any(|r| r.differing_columns().contains(&"placed_at".to_string())));
}

// DDIA 5.1 Logical (row-based) log replication ships the values the leader computed: no divergence.
#[test]
fn ch5_1_logical_now_and_rand_converge() {
    let sim = run(&with_log("statement-now", LogKind::Logical), 7);
    assert!(divergences(&sim).is_empty(), "{:?}", divergences(&sim));
}

// DDIA 5.1 Statement-based: "the leader can replace any nondeterministic function calls with a fixed return value when
// the statement is logged so that the followers all get the same value."
#[test]
fn ch5_1_substitution_fixes_statement_divergence() {
    let sim = run(&lesson("statement-substitution"), 7);
    assert!(divergences(&sim).is_empty(), "{:?}", divergences(&sim));
    let shipped: Vec<String> = sim.protocol.single_leader().expect("single-leader run").nodes[0]
        .log
        .iter()
        .filter_map(|e| match &e.record {
            LogRecord::Statement { statements } => Some(statements.join(";")),
            _ => None,
        })
        .collect();
    assert!(shipped.iter().all(|s| !s.contains("NOW()") && !s.contains("RAND()")), "{shipped:?}");
}

// DDIA 5.1 Statement-based: MySQL "now switches to row-based replication if there is any nondeterminism in a statement".
#[test]
fn ch5_1_mixed_format_ships_unsafe_statements_as_rows() {
    let sim = run(&lesson("statement-mixed"), 7);
    assert!(divergences(&sim).is_empty(), "{:?}", divergences(&sim));
    let (mut rows, mut statements, mut mixed) = (0, 0, 0);
    for e in &sim.protocol.single_leader().expect("single-leader run").nodes[0].log {
        match &e.record {
            LogRecord::Mixed { parts } if parts.iter().all(|p| matches!(p, MixedPart::Rows { .. })) => {
                for p in parts {
                    let MixedPart::Rows { statement, .. } = p else { unreachable!() };
                    assert!(statement.contains("NOW()"), "{statement}");
                }
                rows += 1;
            }
            LogRecord::Mixed { .. } => mixed += 1,
            LogRecord::Statement { .. } => statements += 1,
            other => panic!("unexpected record {other:?}"),
        }
    }
    assert_eq!(
        (rows, statements, mixed),
        (3, 1, 1),
        "three unsafe writes as rows, the literal insert as a statement, alice's transaction as both"
    );
}

// DDIA 5.1 Statement-based, MySQL's MIXED format: the switch to rows is made per statement. In one transaction an
// unsafe statement (RAND()) goes as the row image it produced while the safe statements before and after it stay SQL
// text, in one record that keeps the transaction's order: the follower replays insert, row image, rename in that
// order, so the rename is not undone by the row image.
#[test]
fn ch5_1_mixed_format_decides_per_statement_in_one_ordered_record() {
    let sim = run(&lesson("statement-mixed"), 7);
    let last = sim.protocol.single_leader().expect("single-leader run").nodes[0]
        .log
        .back()
        .expect("alice's transaction is the last record");
    let LogRecord::Mixed { parts } = &last.record else { panic!("a MIXED record: {:?}", last.record) };
    let shape: Vec<String> = parts
        .iter()
        .map(|p| match p {
            MixedPart::Statement(s) => format!("sql {s}"),
            MixedPart::Rows { statement, changes } => format!("rows of {statement}: {}", changes.len()),
        })
        .collect();
    assert_eq!(
        shape,
        vec![
            "sql INSERT INTO orders (item, placed_at, coupon) VALUES ('chair', '2026-01-02 09:00:00', 0.25)"
                .to_string(),
            "rows of UPDATE orders SET coupon = RAND() WHERE item = 'chair': 1".to_string(),
            "sql UPDATE orders SET item = 'armchair' WHERE item = 'chair'".to_string(),
        ]
    );
    let MixedPart::Rows { changes, .. } = &parts[1] else { unreachable!() };
    let leader_coupon = sim.protocol.single_leader().expect("single-leader run").nodes[0]
        .db
        .rows("orders")
        .into_iter()
        .find(|r| r.iter().any(|(_, v)| *v == Value::Text("armchair".into())))
        .and_then(|r| r.into_iter().find(|(c, _)| c == "coupon"))
        .map(|(_, v)| v)
        .expect("the leader has the armchair");
    match &changes[0] {
        replsim::sql::RowChange::Update { table, key, row } => {
            assert_eq!((table.as_str(), key), ("orders", &Value::Integer(4)));
            assert!(row.contains(&("coupon".to_string(), leader_coupon.clone())), "the leader's RAND() value: {row:?}");
            assert!(row.contains(&("item".to_string(), Value::Text("chair".into()))), "before the rename: {row:?}");
        }
        other => panic!("an update row image: {other:?}"),
    }
    // Wire bytes: the statements' text as a statement log counts it, the row image as a row log does (without the
    // statement's text), and one commit record.
    let row_bytes = LogRecord::Logical { changes: changes.clone() }.size_bytes() - 16;
    let sql_bytes: usize = [&parts[0], &parts[2]]
        .iter()
        .map(|p| match p {
            MixedPart::Statement(s) => 8 + s.len(),
            MixedPart::Rows { .. } => unreachable!(),
        })
        .sum();
    assert_eq!(last.record.size_bytes(), sql_bytes + row_bytes + 16);
    assert_eq!(
        last.record.describe(),
        "INSERT INTO orders (item… · rows: update orders 4 · UPDATE orders SET item =…; commit"
    );
    for f in ["n2", "n3"] {
        assert_eq!(texts(&sim, f, "orders", "item"), texts(&sim, "n1", "orders", "item"), "{f}");
        let coupons = |id: &str| -> Vec<Value> {
            sim.protocol.single_leader().expect("single-leader run").nodes[node(&sim, id)]
                .db
                .rows("orders")
                .into_iter()
                .filter_map(|r| r.into_iter().find(|(c, _)| c == "coupon").map(|(_, v)| v))
                .collect()
        };
        assert_eq!(coupons(f), coupons("n1"), "{f} holds the leader's RAND() values");
    }
    assert!(divergences(&sim).is_empty(), "{:?}", divergences(&sim));
    // The same transaction in plain statement format re-runs RAND() on each follower: the coupons differ.
    let mut plain = lesson("statement-mixed");
    plain.replication.statement_mixed = false;
    let plain = run(&plain, 7);
    let diffs = row_diffs(
        &plain,
        &plain.protocol.single_leader().expect("single-leader run").nodes[0],
        &plain.protocol.single_leader().expect("single-leader run").nodes[node(&plain, "n2")],
    );
    assert!(
        diffs.iter().any(|r| r.key == Value::Integer(4) && r.differing_columns() == vec!["coupon".to_string()]),
        "{diffs:?}"
    );
}

// DDIA 5.1 Statement-based: "statements that have side effects (e.g., triggers, stored procedures, user-defined
// functions) may result in different side effects occurring on each replica".
#[test]
fn ch5_1_a_trigger_with_side_effects_runs_again_on_each_statement_follower() {
    let sim = run(&lesson("statement-trigger"), 11);
    let d = divergences(&sim);
    assert!(d.iter().any(|x| x.contains("audit")), "audit rows stamped by each follower's clock differ: {d:?}");
    let logical = run(&with_log("statement-trigger", LogKind::Logical), 11);
    assert!(divergences(&logical).is_empty(), "{:?}", divergences(&logical));
    assert_eq!(texts(&logical, "n3", "audit", "at"), texts(&logical, "n1", "audit", "at"));
}

// DDIA 5.1 WAL shipping: "the log describes the data on a very low level ... which disk blocks" — followers that apply
// the same bytes end with identical pages.
#[test]
fn ch5_1_wal_followers_build_identical_pages() {
    let mut s = lesson("wal-rolling-upgrade");
    s.faults.clear();
    let sim = run(&s, 3);
    assert!(divergences(&sim).is_empty());
    let leader = &sim.protocol.single_leader().expect("single-leader run").nodes[0];
    for f in &sim.protocol.single_leader().expect("single-leader run").nodes[1..] {
        assert_eq!(f.lsn(), leader.lsn());
        assert!(leader.db.pages_equal(&f.db), "{} pages differ from the leader's", f.id);
    }
    assert!(leader.log.iter().all(|e| matches!(e.record, LogRecord::Wal { .. })));
}

// DDIA 5.1 WAL shipping: "it is typically not possible to run different versions of the database software on the
// leader and the followers" — a follower upgraded to another storage format halts.
#[test]
fn ch5_1_wal_follower_on_another_storage_format_halts() {
    let sim = run(&lesson("wal-rolling-upgrade"), 3);
    let n3 = &sim.protocol.single_leader().expect("single-leader run").nodes[node(&sim, "n3")];
    assert_eq!(n3.status, Status::Halted);
    let e = n3.halt_error.clone().unwrap_or_default();
    assert!(e.contains("format 1") && e.contains("format 2"), "the error names both versions: {e}");
    assert_eq!(n3.storage_format, 2);
    let n2 = &sim.protocol.single_leader().expect("single-leader run").nodes[node(&sim, "n2")];
    assert_eq!(
        n2.lsn(),
        sim.protocol.single_leader().expect("single-leader run").nodes[0].lsn(),
        "the follower on the leader's format keeps up"
    );
}

// DDIA 5.1 Logical log: "decoupled from the storage engine internals ... the leader and the follower can run different
// versions" — the rolling upgrade with a failover converges on format 2 everywhere.
#[test]
fn ch5_1_logical_rolling_upgrade_converges_on_the_new_format() {
    let sim = run(&lesson("logical-rolling-upgrade"), 3);
    assert!(divergences(&sim).is_empty(), "{:?}", divergences(&sim));
    let l = replsim::check::failover::final_leader(&sim).expect("leader");
    assert_eq!(
        sim.protocol.single_leader().expect("single-leader run").nodes[l].id,
        "n2",
        "the upgraded follower took over"
    );
    for n in sim.protocol.single_leader().expect("single-leader run").nodes.iter().filter(|n| n.is_replica()) {
        assert_eq!(n.storage_format, 2, "{}", n.id);
        assert_eq!(n.db.storage_format(), 2, "{}", n.id);
        assert_eq!(n.lsn(), sim.protocol.single_leader().expect("single-leader run").nodes[l].lsn(), "{}", n.id);
        assert_eq!(n.status, Status::Running, "{}", n.id);
    }
    // The WAL version of the same upgrade breaks.
    let wal = run(&with_log("logical-rolling-upgrade", LogKind::Wal), 3);
    assert!(wal.protocol.single_leader().expect("single-leader run").nodes.iter().any(|n| n.status == Status::Halted));
}

// DDIA 5.1 Logical log: "easier for external applications to parse ... change data capture" — a search index fed by the
// leader's row log holds exactly the leader's documents.
#[test]
fn ch5_1_cdc_consumer_indexes_exactly_the_leaders_rows() {
    let sim = run(&lesson("cdc-search-index"), 5);
    assert!(divergences(&sim).is_empty(), "{:?}", divergences(&sim));
    let c = &sim.protocol.single_leader().expect("single-leader run").nodes[node(&sim, "search")];
    assert_eq!(c.role, Role::Cdc);
    let index = c.search.as_ref().expect("index");
    let keys: Vec<&String> = index.docs.keys().collect();
    assert_eq!(keys, vec!["2", "3"], "post 1 was deleted; 2 and 3 remain");
    assert_eq!(index.search("followers"), vec!["2".to_string()]);
    assert_eq!(index.search("quorums"), vec!["3".to_string()]);
    assert_eq!(index.search("lag"), Vec::<String>::new(), "titles are not indexed, bodies are");
    assert_eq!(index.search("overlap"), vec!["3".to_string()]);
    assert!(index.search("leaders").is_empty(), "the deleted post's words are gone");
}

// DDIA 5.1 logical log for change data capture: a consumer cannot decode statements or page bytes into row changes,
// so it halts and says why.
#[test]
fn ch5_1_cdc_consumer_halts_on_statement_and_wal_logs() {
    for log in [LogKind::Statement, LogKind::Wal] {
        let sim = run(&with_log("cdc-search-index", log), 5);
        let c = &sim.protocol.single_leader().expect("single-leader run").nodes[node(&sim, "search")];
        assert_eq!(c.status, Status::Halted, "{log:?}");
        assert!(c.halt_error.as_deref().unwrap_or("").contains("change data capture needs row changes"));
    }
}

// DDIA 5.1 Trigger-based replication: "replicate only a subset of the data ... replicate from one kind of database to
// another" — the target holds exactly the filtered subset.
#[test]
fn ch5_1_trigger_replication_copies_exactly_the_filtered_subset() {
    let sim = run(&lesson("trigger-subset"), 9);
    assert!(divergences(&sim).is_empty(), "{:?}", divergences(&sim));
    let mut names = texts(&sim, "n2", "customers", "name");
    names.sort();
    assert_eq!(names, vec!["Anouk", "Bram", "Daan"], "NL customers only (Cas moved to DE, Bram moved to NL)");
    assert!(
        sim.protocol.single_leader().expect("single-leader run").nodes[node(&sim, "n2")].db.rows("orders").is_empty(),
        "orders are not replicated"
    );
    let index = sim.protocol.single_leader().expect("single-leader run").nodes[node(&sim, "search")]
        .search
        .clone()
        .expect("index");
    assert_eq!(index.docs.len(), 3);
    assert_eq!(index.search("cas"), Vec::<String>::new());
}

// DDIA 5.1 Trigger-based: "greater overheads than other replication methods" — extra writes on the leader, polls, lag.
#[test]
fn ch5_1_trigger_replication_costs_extra_writes_polls_and_lag() {
    let s = lesson("trigger-subset");
    let trigger = figures(&run(&s, 9));
    let logical = figures(&run(&s.with_log(LogKind::Logical), 9));
    assert!(trigger.leader_rows_written > logical.leader_rows_written, "{trigger:?} vs {logical:?}");
    assert!(trigger.polls > 5 && trigger.empty_polls > 0, "{trigger:?}");
    assert!(trigger.max_lag_ms > logical.max_lag_ms, "polling adds delay: {trigger:?} vs {logical:?}");
    let leader = &sim_leader_changes(&s);
    assert!(leader.is_empty(), "every copied change was purged: {leader:?}");
}

// DDIA 5.1 Trigger-based replication with keys that move and a table name that needs quoting: the capture triggers log
// the old key of a moved row as a delete, so no target keeps the row under both keys.
#[test]
fn ch5_1_trigger_replication_follows_moved_keys_and_quoted_names() {
    let mut s = lesson("statement-now").with_log(LogKind::Trigger);
    s.schema = vec!["CREATE TABLE \"order \"\"items\"\"\" (id INTEGER PRIMARY KEY, item TEXT)".into()];
    s.workload.clear();
    let table = "\"order \"\"items\"\"\"";
    for (i, sql) in [
        format!("INSERT INTO {table} (id, item) VALUES (1, 'tea'), (2, 'cake')"),
        format!("UPDATE {table} SET id = 10 WHERE id = 1"),
        format!("UPDATE {table} SET item = 'scone', id = 20 WHERE id = 2"),
        format!("UPDATE {table} SET id = 1 WHERE id = 10"),
    ]
    .into_iter()
    .enumerate()
    {
        s.workload.push(replsim::scenario::TimedCommand {
            at: 100_000 + i as u64 * 300_000,
            command: replsim::scenario::Command::Sql { client: "alice".into(), sql },
        });
    }
    let sim = run(&s, 5);
    assert!(sim.history.iter().all(|h| h.ok()), "{:?}", sim.history.iter().map(|h| &h.result).collect::<Vec<_>>());
    let rows = |id: &str| -> Vec<String> {
        let mut r: Vec<String> = sim.protocol.single_leader().expect("single-leader run").nodes[node(&sim, id)]
            .db
            .rows("order \"items\"")
            .iter()
            .map(|r| format!("{:?}={:?}", r[0].1, r[1].1))
            .collect();
        r.sort();
        r
    };
    assert_eq!(rows("n1"), vec!["Integer(1)=Text(\"tea\")", "Integer(20)=Text(\"scone\")"]);
    for f in ["n2", "n3"] {
        assert_eq!(rows(f), rows("n1"), "{f} has the leader's rows, each under its current key only");
    }
    assert!(divergences(&sim).is_empty(), "{:?}", divergences(&sim));
}

fn sim_leader_changes(s: &Scenario) -> Vec<Vec<(String, Value)>> {
    let sim = run(s, 9);
    sim.protocol.single_leader().expect("single-leader run").nodes[0]
        .db
        .rows(replsim::protocol::single_leader::CHANGES_TABLE)
}

// DDIA 5.1 Implementation of Replication Logs: `replsim compare` runs the four methods side by side on one workload.
#[test]
fn ch5_1_compare_runs_all_four_methods_with_their_verdicts() {
    let sims = run_all(&lesson("statement-now"), 7).expect("runs");
    assert_eq!(sims.len(), 4);
    let f: Vec<_> = sims.iter().map(figures).collect();
    assert_eq!(f.iter().map(|x| x.log).collect::<Vec<_>>(), METHODS.to_vec());
    assert!(matches!(f[0].verdict, Verdict::Diverged { .. }), "statement: {:?}", f[0].verdict);
    for x in &f[1..] {
        assert_eq!(x.verdict, Verdict::Match, "{:?}", x.log);
    }
    // WAL ships page bytes: more bytes per record than the statement text for these small rows? At least nonzero.
    assert!(f.iter().all(|x| x.records > 0 && x.record_bytes > 0), "{f:?}");
}

fn random_workload(seed: u64, log: LogKind, format2_follower: bool) -> Scenario {
    let mut s = lesson("statement-now").with_log(log);
    s.workload.clear();
    let mut x = seed;
    let mut next = || {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (x >> 33) as usize
    };
    for i in 0..30u64 {
        let sql = match next() % 5 {
            // Moves a row to another key (a constraint error when the key is taken).
            4 => format!("UPDATE orders SET id = id + {} WHERE id = {}", 1 + next() % 30, next() % 20),
            0 | 1 => format!(
                "INSERT INTO orders (item, placed_at, coupon) VALUES ('i{}', '2026-01-01', {}.5)",
                next() % 50,
                next() % 9
            ),
            2 => format!("UPDATE orders SET coupon = coupon + 1 WHERE id = {}", next() % 20),
            _ => format!("DELETE FROM orders WHERE id = {}", next() % 20),
        };
        s.workload.push(replsim::scenario::TimedCommand {
            at: 50_000 + i * 20_000,
            command: replsim::scenario::Command::Sql { client: "alice".into(), sql },
        });
    }
    if format2_follower {
        s.nodes[1].storage_format = 2;
    }
    s
}

proptest! {
    // Counterexamples are kept in tests/log_methods.proptest-regressions and replayed first (commit them).
    #![proptest_config(ProptestConfig { cases: 24, failure_persistence: regressions(), ..ProptestConfig::default() })]

    // DDIA 5.1 replication logs: deterministic statements replicate identically under every method; under WAL the pages are byte-identical.
    #[test]
    fn ch5_1_every_method_converges_on_deterministic_workloads(seed in 0u64..1_000_000) {
        for log in METHODS {
            let sim = run(&random_workload(seed, log, false), seed);
            let d = divergences(&sim);
            prop_assert!(d.is_empty(), "seed {seed} {log:?}: {d:?}");
            let leader = &sim.protocol.single_leader().expect("single-leader run").nodes[0];
            for f in sim.protocol.single_leader().expect("single-leader run").nodes.iter().filter(|n| n.is_replica() && n.index != 0) {
                prop_assert_eq!(f.lsn(), leader.lsn(), "seed {} {:?} {}", seed, log, &f.id);
                if log == LogKind::Wal {
                    prop_assert!(leader.db.pages_equal(&f.db), "seed {seed}: pages of {} differ", f.id);
                }
            }
        }
    }

    // DDIA 5.1 WAL shipping vs logical log: a format-2 follower halts at its first WAL record; logical replication
    // converges.
    #[test]
    fn ch5_1_storage_format_matters_only_to_wal(seed in 0u64..1_000_000) {
        let wal = run(&random_workload(seed, LogKind::Wal, true), seed);
        prop_assert_eq!(wal.protocol.single_leader().expect("single-leader run").nodes[1].status, Status::Halted, "seed {}", seed);
        let logical = run(&random_workload(seed, LogKind::Logical, true), seed);
        prop_assert!(divergences(&logical).is_empty(), "seed {seed}");
        prop_assert_eq!(logical.protocol.single_leader().expect("single-leader run").nodes[1].lsn(), logical.protocol.single_leader().expect("single-leader run").nodes[0].lsn(), "seed {}", seed);
    }
}

// DDIA 5.1 Statement-based: "if they use an autoincrementing column ... they must be executed in exactly the same order
// on each replica, or else they may have a different effect. This can be limiting when there are multiple
// concurrently executing transactions." Two concurrent inserts, logged in commit order, swap keys on followers.
#[test]
fn ch5_1_autoincrement_under_concurrent_writers_diverges_with_statements_only() {
    let sim = run(&lesson("statement-autoincrement"), 13);
    let l = node(&sim, "n1");
    let leader_items = texts(&sim, "n1", "orders", "item");
    assert_eq!(leader_items, vec!["alice: book", "bob: lamp", "bob: desk"], "alice took id 1 before bob");
    let follower_items = texts(&sim, "n2", "orders", "item");
    assert_eq!(follower_items, vec!["bob: lamp", "alice: book", "bob: desk"], "replayed in commit order");
    let diffs = row_diffs(
        &sim,
        &sim.protocol.single_leader().expect("single-leader run").nodes[l],
        &sim.protocol.single_leader().expect("single-leader run").nodes[node(&sim, "n2")],
    );
    assert_eq!(diffs.len(), 2);
    for log in [LogKind::Wal, LogKind::Logical, LogKind::Trigger] {
        let other = run(&with_log("statement-autoincrement", log), 13);
        assert!(divergences(&other).is_empty(), "{log:?}: {:?}", divergences(&other));
    }
}

// Row locks (InnoDB-like): concurrent transactions write different rows; the same row is refused; a rolled-back
// insert leaves a gap in the AUTOINCREMENT sequence.
#[test]
fn row_locks_let_transactions_write_different_rows() {
    use replsim::sql::{Database, FixedEnv, Session};
    let mut db = Database::new();
    db.set_row_locking(true);
    let mut env = FixedEnv { now_us: 0, rng_state: 1 };
    db.execute_autocommit("CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT, v TEXT)", &mut env).unwrap();
    let (mut a, mut b) = (Session::new(), Session::new());
    db.execute("BEGIN", &mut a, &mut env).unwrap();
    db.execute("INSERT INTO t (v) VALUES ('a')", &mut a, &mut env).unwrap();
    db.execute("BEGIN", &mut b, &mut env).unwrap();
    let id_b = db.execute("INSERT INTO t (v) VALUES ('b')", &mut b, &mut env).unwrap().last_insert_id;
    assert_eq!(id_b, Some(2));
    let clash = db.execute("UPDATE t SET v = 'x' WHERE id = 1", &mut b, &mut env).unwrap_err();
    assert!(clash.message.starts_with("database is locked"), "{clash}");
    db.execute("ROLLBACK", &mut a, &mut env).unwrap();
    db.execute("COMMIT", &mut b, &mut env).unwrap();
    let next = db.execute_autocommit("INSERT INTO t (v) VALUES ('c')", &mut env).unwrap().last_insert_id;
    assert_eq!(next, Some(3), "id 1 is not handed out again");
    // SQLite's default: the second writer is refused outright.
    let mut single = Database::new();
    single.execute_autocommit("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)", &mut env).unwrap();
    let (mut a, mut b) = (Session::new(), Session::new());
    single.execute("BEGIN", &mut a, &mut env).unwrap();
    single.execute("INSERT INTO t (v) VALUES ('a')", &mut a, &mut env).unwrap();
    assert!(single.execute("INSERT INTO t (v) VALUES ('b')", &mut b, &mut env).is_err());
}

/// The trace's lines, with runs of spaces made one (the verbs are padded to a column).
fn lines(sim: &Simulation) -> Vec<String> {
    sim.trace.events().iter().map(|e| e.line().split_whitespace().collect::<Vec<_>>().join(" ")).collect()
}

/// The trace's lines that mention `word` (for asserting what a run did, in the trace's own words).
fn lines_with(sim: &Simulation, word: &str) -> Vec<String> {
    lines(sim).into_iter().filter(|l| l.contains(word)).collect()
}

/// Rows of `table` on node `id`, as sorted text (for comparing replicas).
fn table_text(sim: &Simulation, id: &str, table: &str) -> Vec<String> {
    let mut rows: Vec<String> = sim.protocol.single_leader().expect("single-leader run").nodes[node(sim, id)]
        .db
        .rows(table)
        .iter()
        .map(|r| format!("{r:?}"))
        .collect();
    rows.sort();
    rows
}

// DDIA 5.1 Trigger-based replication through a leader failure. The promoted follower gets the capture triggers and a
// changes table numbered on from the last change it applied; it tells the replicator, which polls it from then on. A
// target behind that point, and the old leader coming back ahead of it (with a change nobody polled), cannot continue:
// each gets an initial copy, and the old leader's unpolled write is discarded and reported lost.
#[test]
fn ch5_1_trigger_replication_follows_a_failover() {
    let sim = run(&lesson("trigger-failover"), 5);
    let (n1, n2, n3, r) = (node(&sim, "n1"), node(&sim, "n2"), node(&sim, "n3"), node(&sim, "replicator"));
    let leader = replsim::check::failover::final_leader(&sim).expect("a leader");
    assert_eq!(leader, n3, "the most up-to-date follower (it has ada's new balance) won");
    let l = &sim.protocol.single_leader().expect("single-leader run").nodes[n3];
    assert_eq!(l.epoch, 3, "n2 stood first, for epoch 2, and lost: n3 is less behind");
    // Capture on the new leader: triggers, and numbering that continues after what it applied as a target.
    let schema = l.db.schema().join("\n");
    assert!(schema.contains("_capture_accounts_ins"), "{schema}");
    assert_eq!(l.capture_base, ChangePos { era: 1, seq: 3 }, "ada, bob and ada's update reached n3 before the crash");
    assert_eq!(l.changes_era, 3);
    assert_eq!(l.db.autoincrement_sequence(CHANGES_TABLE), Some(4), "dan's insert is change 4 of era 3");
    // The replicator follows n3, with n1 and n2 as its targets, both confirmed at n3's last change.
    let rep = &sim.protocol.single_leader().expect("single-leader run").nodes[r].replicator;
    assert_eq!(sim.protocol.single_leader().expect("single-leader run").nodes[r].leader, Some(n3));
    assert_eq!((rep.era, rep.base), (3, ChangePos { era: 1, seq: 3 }));
    assert_eq!(rep.targets, vec![n2, n1]);
    assert_eq!(rep.acked.get(&n1).map(|a| a.0), Some(4));
    assert_eq!(rep.acked.get(&n2).map(|a| a.0), Some(4));
    assert!(rep.copying.is_empty());
    // n3 announced itself; n2 (behind) and n1 (ahead) asked for a copy; each installed one.
    assert_eq!(lines_with(&sim, "new leader e3").iter().filter(|l| l.contains("n3 -> replicator")).count(), 1);
    let asked: Vec<String> = lines_with(&sim, "copy me?").into_iter().filter(|l| l.contains(" send ")).collect();
    assert!(asked.iter().any(|l| l.contains("n2 -> replicator")), "{asked:?}");
    assert!(asked.iter().any(|l| l.contains("n1 -> replicator") && l.contains("(at #4 e1)")), "{asked:?}");
    for id in ["n1", "n2"] {
        assert_eq!(lines_with(&sim, &format!("install {id} snapshot")).len(), 1, "{id} installed one copy");
    }
    let discards = lines_with(&sim, "discard");
    assert_eq!(discards.len(), 1, "{discards:?}");
    assert!(discards[0].contains("n1") && discards[0].contains("(1 client writes)"), "{discards:?}");
    // Every replica ends with the new leader's rows: ada 11, bob, dan; eve is gone.
    let names = texts(&sim, "n3", "accounts", "name");
    assert_eq!(names, vec!["ada", "bob", "dan"]);
    for id in ["n1", "n2"] {
        assert_eq!(table_text(&sim, id, "accounts"), table_text(&sim, "n3", "accounts"), "{id}");
    }
    assert!(divergences(&sim).is_empty(), "{:?}", divergences(&sim));
    // The one lost write is eve's, acknowledged by n1 and never polled; no other write is reported lost.
    let lost: Vec<_> = anomalies(&sim).into_iter().filter(|a| a.kind == AnomalyKind::LostWrite).collect();
    assert_eq!(lost.len(), 1, "{lost:?}");
    assert!(sim.history[lost[0].ops[0]].sql.contains("'eve'"), "{lost:?}");
}

// DDIA 5.1 Trigger-based replication: the old leader comes back ahead of a new leader that has captured nothing and
// replicated nothing (its one write was never polled). Found by the soak: the replicator told targets of a new era
// only with changes or a leader LSN above theirs, so the old leader kept its unpolled row for good. Now every target
// hears of the new era with the next answer, empty or not, and the old leader asks for a copy.
#[test]
fn ch5_1_trigger_old_leader_resyncs_with_a_new_leader_that_captured_nothing() {
    let s = Scenario::from_json_str(
        r#"{"version": 1, "seed": 3, "until_ms": 4000,
            "nodes": [{"id": "n1", "role": "leader"}, {"id": "n2", "role": "follower"}, {"id": "n3", "role": "follower"}],
            "replication": {"mode": "async", "log": "trigger", "trigger": {"poll_ms": 500}},
            "failover": {"auto": true, "timeout_ms": 300, "epochs": true},
            "network": {"latency_ms": {"min": 10, "max": 20}},
            "clients": [{"id": "bank", "route": "leader"}],
            "schema": ["CREATE TABLE accounts (id INTEGER PRIMARY KEY, name TEXT)"],
            "workload": [{"at_ms": 100, "client": "bank", "sql": "INSERT INTO accounts VALUES (1, 'eve')"}],
            "faults": [{"at_ms": 200, "crash": "n1"}, {"at_ms": 1500, "restart": "n1"}]}"#,
    )
    .expect("a valid scenario");
    let sim = run(&s, 3);
    assert!(sim.history[0].ok(), "eve's account was acknowledged by n1");
    let leader = replsim::check::failover::final_leader(&sim).expect("a leader");
    assert_ne!(leader, node(&sim, "n1"));
    let asked: Vec<String> = lines_with(&sim, "copy me?").into_iter().filter(|l| l.contains(" send ")).collect();
    assert!(asked.iter().any(|l| l.contains("n1 -> replicator")), "{asked:?}");
    let leader_id = sim.protocol.single_leader().expect("single-leader run").nodes[leader].id.clone();
    assert!(texts(&sim, &leader_id, "accounts", "name").is_empty(), "eve's row was never polled");
    for id in ["n1", "n2", "n3"] {
        assert_eq!(table_text(&sim, id, "accounts"), table_text(&sim, &leader_id, "accounts"), "{id}");
    }
    assert!(divergences(&sim).is_empty(), "{:?}", divergences(&sim));
}

// DDIA 5.1 Trigger-based replication through a failover: targets that stand exactly where the new leader's numbering
// continues go on from their position, without a copy.
#[test]
fn ch5_1_trigger_targets_at_the_new_leaders_base_continue_from_their_position() {
    let mut s = lesson("trigger-failover");
    s.faults.retain(|f| matches!(f.command, Command::Crash(_)));
    let sim = run(&s, 5);
    let (n2, n3) = (node(&sim, "n2"), node(&sim, "n3"));
    let leader = replsim::check::failover::final_leader(&sim).expect("a leader");
    let other = if leader == n2 { n3 } else { n2 };
    assert_eq!(
        sim.protocol.single_leader().expect("single-leader run").nodes[leader].capture_base,
        ChangePos { era: 1, seq: 3 }
    );
    assert_eq!(
        sim.protocol.single_leader().expect("single-leader run").nodes[other].changes_era,
        2,
        "the other target adopted the new era"
    );
    assert!(lines_with(&sim, "copy").is_empty(), "no copies: {:?}", lines_with(&sim, "copy"));
    assert!(lines_with(&sim, "install").is_empty());
    let id = |i: usize| sim.protocol.single_leader().expect("single-leader run").nodes[i].id.clone();
    assert_eq!(table_text(&sim, &id(other), "accounts"), table_text(&sim, &id(leader), "accounts"));
    assert!(texts(&sim, &id(other), "accounts", "name").contains(&"dan".to_string()), "the new leader's write arrived");
    assert!(divergences(&sim).is_empty(), "{:?}", divergences(&sim));
}

fn replicator_cfg() -> NodeConfig {
    NodeConfig {
        mode: Mode::Async,
        log: LogKind::Trigger,
        heartbeat: 50_000,
        statement_substitution: false,
        semi_sync_timeout: 200_000,
        log_retention: 1_000,
        failover: FailoverSpec { auto: true, timeout_ms: 300, ..FailoverSpec::default() },
        controller: None,
        statement_mixed: false,
        trigger: TriggerSpec::default(),
        replicator: Some(3),
        caches: false,
    }
}

// DDIA 5.1 Trigger-based replication, the replicator's side of a failover (exact effects): silent leader for the
// failover timeout -> it asks a target who leads; the target's answer names the new leader -> new era, the new leader
// leaves the targets, the old one joins them, positions are forgotten and the next poll goes to the new leader from the
// start of its changes table; late answers from the old leader are ignored.
#[test]
fn ch5_1_trigger_replicator_learns_the_new_leader_by_asking() {
    let c = replicator_cfg();
    let mut r = Node::new(3, "replicator", Role::Replicator, ClockSpec::default(), 0, 1);
    r.leader = Some(0);
    r.replicator.targets = vec![1, 2];
    r.replicator.acked.insert(1, (7, 4));
    r.replicator.acked.insert(2, (7, 4));
    let poll = |after: i64| Payload::PollChanges { after, limit: 20 };
    // The leader answered at 0; at 200 ms it is still within the timeout: just the poll.
    let out = r.on_timer(200_000, Timer::Poll, &c);
    assert_eq!(
        out,
        vec![
            Effect::SetTimer { at: 300_000, timer: Timer::Poll },
            Effect::Send { to: Endpoint::Node(0), payload: poll(7) }
        ]
    );
    // No answer for 4 polls and for the failover timeout: it also asks target n2 who leads.
    let out = r.on_timer(600_000, Timer::Poll, &c);
    assert_eq!(
        out,
        vec![
            Effect::SetTimer { at: 700_000, timer: Timer::Poll },
            Effect::Send { to: Endpoint::Node(1), payload: Payload::PollChanges { after: 0, limit: 0 } },
            Effect::Send { to: Endpoint::Node(0), payload: poll(7) },
        ]
    );
    // A follower answers a poll with the leader it knows, and the epoch it learned that in: not its own epoch, which
    // may be newer (an election it stood in or voted in). Named with a newer epoch, a leader of the past would pass
    // for the current one: the replicator would follow it and ignore the real leader's announcements (soak).
    let mut f = Node::new(1, "n2", Role::Follower, ClockSpec::default(), 0, 1);
    f.leader = Some(2);
    f.leader_epoch = 2;
    f.epoch = 3;
    let out = f.on_message(610_000, Endpoint::Node(3), Payload::PollChanges { after: 0, limit: 0 }, &c);
    assert_eq!(out, vec![Effect::Send { to: Endpoint::Node(3), payload: Payload::Announce { leader: 2, epoch: 2 } }]);
    // It polls the new leader at once, from the start of its changes table.
    let out = r.on_message(620_000, Endpoint::Node(1), Payload::Announce { leader: 2, epoch: 2 }, &c);
    assert_eq!(out, vec![Effect::Send { to: Endpoint::Node(2), payload: poll(0) }]);
    assert_eq!(r.leader, Some(2));
    assert_eq!(r.replicator.era, 2);
    assert_eq!(r.replicator.targets, vec![1, 0], "n3 leads now; n1 will be a follower when it returns");
    assert!(r.replicator.acked.is_empty(), "positions of era 1 mean nothing in era 2");
    // The periodic poll goes on; this one is still out.
    assert_eq!(r.on_timer(700_000, Timer::Poll, &c), vec![Effect::SetTimer { at: 800_000, timer: Timer::Poll }]);
    // A late answer of the old leader changes nothing; the new leader's answer goes to both targets with its base.
    let changes = |era: u64, seq: i64| Payload::Changes {
        changes: std::rc::Rc::new(vec![ChangeRow {
            seq,
            table: "t".into(),
            op: ChangeOp::Insert,
            key: Value::Integer(1),
            row: Some(vec![("id".into(), Value::Integer(1))]),
            origin: None,
        }]),
        leader_lsn: 5,
        complete: true,
        era,
        base: ChangePos { era: 1, seq: 7 },
    };
    assert_eq!(r.on_message(630_000, Endpoint::Node(0), changes(1, 8), &c), vec![]);
    let out = r.on_message(640_000, Endpoint::Node(2), changes(2, 8), &c);
    let sent: Vec<(Endpoint, ChangePos, u64)> = out
        .iter()
        .filter_map(|e| match e {
            Effect::Send { to, payload: Payload::ApplyChanges { base, era, .. } } => Some((*to, *base, *era)),
            _ => None,
        })
        .collect();
    let base = ChangePos { era: 1, seq: 7 };
    assert_eq!(sent, vec![(Endpoint::Node(1), base, 2), (Endpoint::Node(0), base, 2)]);
    // Had it followed the wrong node for era 2, the real leader's answer in that era puts it right (only a leader
    // serves a poll).
    r.leader = Some(1);
    r.on_message(650_000, Endpoint::Node(2), changes(2, 9), &c);
    assert_eq!(r.leader, Some(2));
}

// DDIA 5.1 Trigger-based replication, a target's side (exact effects): changes of a new era continue only from exactly
// the new leader's base; anywhere else the target asks for an initial copy; an older era's late changes are ignored.
#[test]
fn ch5_1_trigger_target_continues_only_from_the_new_leaders_base() {
    let c = replicator_cfg();
    let mut t = Node::new(1, "n2", Role::Follower, ClockSpec::default(), 0, 1);
    t.bootstrap("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)").unwrap();
    t.applied_seq = 7;
    let row = |seq: i64, v: &str| ChangeRow {
        seq,
        table: "t".into(),
        op: ChangeOp::Insert,
        key: Value::Integer(seq),
        row: Some(vec![("id".into(), Value::Integer(seq)), ("v".into(), Value::Text(v.into()))]),
        origin: Some(3),
    };
    let apply = |rows: Vec<ChangeRow>, era: u64, base_seq: i64| Payload::ApplyChanges {
        changes: std::rc::Rc::new(rows),
        leader_lsn: 9,
        complete: true,
        era,
        base: ChangePos { era: 1, seq: base_seq },
    };
    // The new leader continues from change 6: this target has 7, one it never had. It cannot continue.
    let out = t.on_message(1, Endpoint::Node(3), apply(vec![row(7, "new")], 2, 6), &c);
    assert_eq!(
        out,
        vec![Effect::Send { to: Endpoint::Node(3), payload: Payload::NeedCopy { at: ChangePos { era: 1, seq: 7 } } }]
    );
    assert_eq!((t.changes_era, t.applied_seq), (1, 7), "nothing applied");
    // From exactly its position: it adopts era 2 and applies.
    let out = t.on_message(2, Endpoint::Node(3), apply(vec![row(8, "x")], 2, 7), &c);
    assert_eq!(
        out,
        vec![
            Effect::Note(Note::Applied { lsn: 9 }),
            Effect::Send { to: Endpoint::Node(3), payload: Payload::ChangesApplied { seq: 8, lsn: 9, era: 2 } },
        ]
    );
    assert_eq!((t.changes_era, t.applied_seq), (2, 8));
    assert!(t.origins.contains_key(&3), "it holds the write of operation 3");
    // A late batch of era 1 is stale.
    assert_eq!(t.on_message(3, Endpoint::Node(3), apply(vec![row(9, "old")], 1, 0), &c), vec![]);
    assert_eq!(t.db.rows("t").len(), 1);
}

// DDIA 5.1 Setting up new followers, under trigger-based replication: a node added to the cluster asks the replicator
// for an initial copy; the leader's replicated rows (through the filter) and the change they stand at reach it through
// the replicator; then it takes every later change like the other target.
#[test]
fn ch5_1_trigger_new_target_gets_an_initial_copy_then_the_changes() {
    let s = lesson("trigger-add-target");
    let sim = run(&s, 9);
    let (n1, n3, r) = (node(&sim, "n1"), node(&sim, "n3"), node(&sim, "replicator"));
    // The copy's path: n3 asks, the replicator asks the leader, the rows come back and go on to n3.
    let path: Vec<String> = lines(&sim)
        .into_iter()
        .filter(|l| l.contains(" send ") && (l.contains("copy") || l.contains("join")))
        .map(|l| {
            l.split_once(" send ").map_or(l.clone(), |(_, rest)| rest.split(" (").next().unwrap_or("").to_string())
        })
        .collect();
    assert_eq!(path.len(), 4, "{path:?}");
    assert!(path[0].contains("n3 -> replicator fetch copy me?"), "{path:?}");
    assert!(path[1].contains("replicator -> n1 snapshot copy rows?"), "{path:?}");
    assert!(path[2].contains("n1 -> replicator snapshot copy ≤#"), "{path:?}");
    assert!(path[3].contains("replicator -> n3 snapshot copy ≤#"), "{path:?}");
    assert!(path[3].ends_with("3 rows"), "Anouk, Bram and Cas were NL at the time: {path:?}");
    assert_eq!(lines_with(&sim, "install n3 snapshot").len(), 1);
    // n3 then took the later changes: Eva arrived, Cas left for DE; Finn never matched the filter.
    let mut names = texts(&sim, "n3", "customers", "name");
    names.sort();
    assert_eq!(names, vec!["Anouk", "Bram", "Eva"]);
    assert_eq!(table_text(&sim, "n3", "customers"), table_text(&sim, "n2", "customers"));
    assert!(
        sim.protocol.single_leader().expect("single-leader run").nodes[n3].db.rows("orders").is_empty(),
        "orders are not replicated"
    );
    assert_eq!(
        sim.protocol.single_leader().expect("single-leader run").nodes[n3].lsn(),
        sim.protocol.single_leader().expect("single-leader run").nodes[n1].lsn()
    );
    assert!(sim.protocol.single_leader().expect("single-leader run").nodes[r].replicator.targets.contains(&n3));
    assert_eq!(
        sim.protocol.single_leader().expect("single-leader run").nodes[n3].applied_seq,
        sim.protocol.single_leader().expect("single-leader run").nodes[node(&sim, "n2")].applied_seq
    );
    assert!(divergences(&sim).is_empty(), "{:?}", divergences(&sim));
    // Deterministic: the same scenario and seed give the same trace.
    assert_eq!(run(&s, 9).trace.hash(), sim.trace.hash());
}

// DDIA 5.1 Trigger-based replication and a planned failover (the rolling upgrade): the leader stops taking writes
// and waits until the replicator has brought its successor up to its LSN (no log is shipped: the successor has no
// changes table to apply the leader's own log to); then it hands over. Every target, the old leader included, stands
// exactly at the new leader's base and continues without a copy.
#[test]
fn ch5_1_trigger_planned_failover_hands_over_without_shipping_the_log() {
    let sim = run(&with_log("logical-rolling-upgrade", LogKind::Trigger), 3);
    let l = replsim::check::failover::final_leader(&sim).expect("leader");
    assert_eq!(sim.protocol.single_leader().expect("single-leader run").nodes[l].id, "n2");
    assert!(lines_with(&sim, "halt").is_empty(), "{:?}", lines_with(&sim, "halt"));
    assert!(lines_with(&sim, " replicate lsn ").is_empty(), "nothing of the leader's own log was shipped");
    assert!(lines_with(&sim, "copy").is_empty(), "no target needed a copy: {:?}", lines_with(&sim, "copy"));
    for id in ["n1", "n3"] {
        let n = &sim.protocol.single_leader().expect("single-leader run").nodes[node(&sim, id)];
        assert_eq!(
            (n.changes_era, n.lsn()),
            (2, sim.protocol.single_leader().expect("single-leader run").nodes[l].lsn()),
            "{id} continued into era 2"
        );
        assert_eq!(table_text(&sim, id, "users"), table_text(&sim, "n2", "users"), "{id}");
    }
    assert!(texts(&sim, "n1", "users", "name").contains(&"hal".to_string()), "the new leader's write reached n1");
    assert!(divergences(&sim).is_empty(), "{:?}", divergences(&sim));
}

// DDIA 5.1 Trigger-based replication: when the leader's answer leaves more changes behind, the replicator asks for the
// next batch at once, with a poll rather than a timer, so its periodic polls stay one chain (exact effects).
#[test]
fn ch5_1_trigger_replicator_fetches_the_rest_of_a_backlog_at_once() {
    let c = replicator_cfg();
    let mut r = Node::new(3, "replicator", Role::Replicator, ClockSpec::default(), 0, 1);
    r.leader = Some(0);
    r.replicator.targets = vec![1];
    let poll = Payload::PollChanges { after: 0, limit: 20 };
    let out = r.on_timer(0, Timer::Poll, &c);
    assert_eq!(
        out,
        vec![
            Effect::SetTimer { at: 100_000, timer: Timer::Poll },
            Effect::Send { to: Endpoint::Node(0), payload: poll.clone() }
        ]
    );
    let row = ChangeRow {
        seq: 1,
        table: "t".into(),
        op: ChangeOp::Insert,
        key: Value::Integer(1),
        row: Some(vec![("id".into(), Value::Integer(1))]),
        origin: None,
    };
    let base = ChangePos { era: 1, seq: 0 };
    let changes = std::rc::Rc::new(vec![row]);
    let answer = Payload::Changes { changes: changes.clone(), leader_lsn: 1, complete: false, era: 1, base };
    let out = r.on_message(10_000, Endpoint::Node(0), answer, &c);
    assert_eq!(
        out,
        vec![
            Effect::Send {
                to: Endpoint::Node(1),
                payload: Payload::ApplyChanges { changes, leader_lsn: 1, complete: false, era: 1, base }
            },
            Effect::Send { to: Endpoint::Node(0), payload: poll },
        ]
    );
}
