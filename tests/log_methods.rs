//! DDIA 5.1 "Implementation of Replication Logs": statement-based replication, write-ahead log (WAL) shipping,
//! logical (row-based) log replication and trigger-based replication. Each test reproduces one claim of the section
//! and asserts the outcome the book describes. Randomized tests print the seed that reproduces a failure.

use proptest::prelude::*;
use replsim::check::{anomalies, row_diffs};
use replsim::compare::{figures, run_all, Verdict, METHODS};
use replsim::log_methods::{LogRecord, MixedPart};
use replsim::protocol::single_leader::Status;
use replsim::scenario::{LogKind, Role, Scenario};
use replsim::sql::Value;
use replsim::world::sim::Simulation;

mod common;
use common::{lesson, regressions, run};

fn node(sim: &Simulation, id: &str) -> usize {
    sim.nodes.iter().position(|n| n.id == id).unwrap_or_else(|| panic!("no node {id}"))
}

fn divergences(sim: &Simulation) -> Vec<String> {
    anomalies(sim).into_iter().filter(|a| a.kind == replsim::check::AnomalyKind::Divergence).map(|a| a.detail).collect()
}

fn with_log(name: &str, log: LogKind) -> Scenario {
    lesson(name).with_log(log)
}

fn texts(sim: &Simulation, id: &str, table: &str, column: &str) -> Vec<String> {
    sim.nodes[node(sim, id)]
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
    let diffs = row_diffs(&sim, &sim.nodes[l], &sim.nodes[node(&sim, "n3")]);
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
    let shipped: Vec<String> = sim.nodes[0]
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
    for e in &sim.nodes[0].log {
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
    let last = sim.nodes[0].log.back().expect("alice's transaction is the last record");
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
    let leader_coupon = sim.nodes[0]
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
            sim.nodes[node(&sim, id)]
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
    let diffs = row_diffs(&plain, &plain.nodes[0], &plain.nodes[node(&plain, "n2")]);
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
    let leader = &sim.nodes[0];
    for f in &sim.nodes[1..] {
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
    let n3 = &sim.nodes[node(&sim, "n3")];
    assert_eq!(n3.status, Status::Halted);
    let e = n3.halt_error.clone().unwrap_or_default();
    assert!(e.contains("format 1") && e.contains("format 2"), "the error names both versions: {e}");
    assert_eq!(n3.storage_format, 2);
    let n2 = &sim.nodes[node(&sim, "n2")];
    assert_eq!(n2.lsn(), sim.nodes[0].lsn(), "the follower on the leader's format keeps up");
}

// DDIA 5.1 Logical log: "decoupled from the storage engine internals ... the leader and the follower can run different
// versions" — the rolling upgrade with a failover converges on format 2 everywhere.
#[test]
fn ch5_1_logical_rolling_upgrade_converges_on_the_new_format() {
    let sim = run(&lesson("logical-rolling-upgrade"), 3);
    assert!(divergences(&sim).is_empty(), "{:?}", divergences(&sim));
    let l = replsim::check::failover::final_leader(&sim).expect("leader");
    assert_eq!(sim.nodes[l].id, "n2", "the upgraded follower took over");
    for n in sim.nodes.iter().filter(|n| n.is_replica()) {
        assert_eq!(n.storage_format, 2, "{}", n.id);
        assert_eq!(n.db.storage_format(), 2, "{}", n.id);
        assert_eq!(n.lsn(), sim.nodes[l].lsn(), "{}", n.id);
        assert_eq!(n.status, Status::Running, "{}", n.id);
    }
    // The WAL version of the same upgrade breaks.
    let wal = run(&with_log("logical-rolling-upgrade", LogKind::Wal), 3);
    assert!(wal.nodes.iter().any(|n| n.status == Status::Halted));
}

// DDIA 5.1 Logical log: "easier for external applications to parse ... change data capture" — a search index fed by the
// leader's row log holds exactly the leader's documents.
#[test]
fn ch5_1_cdc_consumer_indexes_exactly_the_leaders_rows() {
    let sim = run(&lesson("cdc-search-index"), 5);
    assert!(divergences(&sim).is_empty(), "{:?}", divergences(&sim));
    let c = &sim.nodes[node(&sim, "search")];
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
        let c = &sim.nodes[node(&sim, "search")];
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
    assert!(sim.nodes[node(&sim, "n2")].db.rows("orders").is_empty(), "orders are not replicated");
    let index = sim.nodes[node(&sim, "search")].search.clone().expect("index");
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
        let mut r: Vec<String> = sim.nodes[node(&sim, id)]
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
    sim.nodes[0].db.rows(replsim::protocol::single_leader::CHANGES_TABLE)
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
            let leader = &sim.nodes[0];
            for f in sim.nodes.iter().filter(|n| n.is_replica() && n.index != 0) {
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
        prop_assert_eq!(wal.nodes[1].status, Status::Halted, "seed {}", seed);
        let logical = run(&random_workload(seed, LogKind::Logical, true), seed);
        prop_assert!(divergences(&logical).is_empty(), "seed {seed}");
        prop_assert_eq!(logical.nodes[1].lsn(), logical.nodes[0].lsn(), "seed {}", seed);
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
    let diffs = row_diffs(&sim, &sim.nodes[l], &sim.nodes[node(&sim, "n2")]);
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
