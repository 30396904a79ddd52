//! Pages and storage formats (`src/sql/pages.rs`): what physical (WAL) replication ships.

use proptest::prelude::*;
use replsim::sql::{Database, FixedEnv, PageKind, PageWrite, Session, Value};

mod common;
use common::regressions;

fn env() -> FixedEnv {
    FixedEnv { now_us: 1_700_000_000_000_000, rng_state: 1 }
}

fn run(db: &mut Database, sql: &str) {
    db.execute_autocommit(sql, &mut env()).unwrap_or_else(|e| panic!("{sql}: {e}"));
}

const SCHEMA: &[&str] = &[
    "CREATE TABLE users (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, email TEXT UNIQUE, score REAL, n INTEGER)",
    "CREATE TABLE log (k TEXT PRIMARY KEY, v INTEGER)",
    "CREATE TRIGGER audit AFTER INSERT ON users BEGIN INSERT INTO log VALUES ('u' || NEW.id, NEW.n); END",
];

fn storage(format: u8, page_size: usize, statements: &[&str]) -> Database {
    let mut db = Database::with_storage(format, page_size).unwrap();
    for sql in statements {
        run(&mut db, sql);
    }
    db
}

fn users(format: u8, page_size: usize, rows: usize) -> Database {
    let mut db = storage(format, page_size, SCHEMA);
    for i in 0..rows {
        run(&mut db, &format!("INSERT INTO users (name, email, score, n) VALUES ('user {i}', 'u{i}@x', {i}.5, {i})"));
    }
    db
}

/// Ship the leader's page writes to the follower and check the follower has nothing left to write.
fn ship(leader: &mut Database, follower: &mut Database) -> Result<Vec<PageWrite>, String> {
    let writes = leader.take_page_writes();
    follower.apply_page_writes(leader.storage_format(), &writes).map_err(|e| e.message)?;
    let again = follower.take_page_writes();
    if !again.is_empty() {
        return Err(format!("follower wrote {} ranges after applying", again.len()));
    }
    Ok(writes)
}

fn data_page(db: &Database, table: &str) -> u32 {
    let summaries = db.page_summaries();
    summaries.iter().find(|s| s.kind == PageKind::Table(table.into())).map(|s| s.page).expect("a data page")
}

#[test]
fn formats_encode_rows_differently() {
    let mut one = users(1, 256, 3);
    let mut two = users(2, 256, 3);
    one.take_page_writes();
    two.take_page_writes();
    assert!(one == two, "same rows, whatever the format");
    assert!(!one.pages_equal(&two));
    let (p1, p2) = (data_page(&one, "users"), data_page(&two, "users"));
    let (b1, b2) = (one.page_bytes(p1).unwrap(), two.page_bytes(p2).unwrap());
    assert_eq!((b1[0], b2[0]), (1, 2), "the header carries the format byte");
    assert_ne!(b1, b2);
    // Format 2 is the more compact one for these rows.
    let used = |db: &Database, p| db.page_summaries()[p as usize].used;
    assert!(used(&two, p2) < used(&one, p1));
    assert_eq!(one.recover_from_pages().unwrap(), one);
    assert_eq!(two.recover_from_pages().unwrap(), two);
}

#[test]
fn shipped_writes_build_identical_pages() {
    for format in [1, 2] {
        let mut leader = users(format, 256, 0);
        let mut follower = Database::with_storage(format, 256).unwrap();
        ship(&mut leader, &mut follower).unwrap();
        for i in 0..40 {
            run(&mut leader, &format!("INSERT INTO users (name, n) VALUES ('{}', {i})", "n".repeat(i)));
            let writes = ship(&mut leader, &mut follower).unwrap();
            assert!(!writes.is_empty());
            assert!(follower == leader && follower.pages_equal(&leader), "insert {i}");
        }
        run(&mut leader, "UPDATE users SET name = name || name WHERE id % 3 = 0");
        run(&mut leader, "DELETE FROM users WHERE id % 4 = 1");
        run(&mut leader, "DELETE FROM log");
        ship(&mut leader, &mut follower).unwrap();
        assert!(follower == leader && follower.pages_equal(&leader));
        assert_eq!(follower.rows("users").len(), 30);
        assert!(follower.stats().rows_written > 0 && follower.stats().bytes_written > 0);
    }
}

#[test]
fn a_single_row_change_writes_few_bytes() {
    let mut db = users(1, 256, 200);
    db.take_page_writes();
    run(&mut db, "UPDATE users SET n = 7 WHERE id = 100");
    let writes = db.take_page_writes();
    assert_eq!(writes.len(), 1, "{writes:?}");
    assert!(writes[0].bytes.len() <= 8, "{writes:?}");
    run(&mut db, "INSERT INTO users (name) VALUES ('z')");
    let writes = db.take_page_writes();
    let bytes: usize = writes.iter().map(|w| w.bytes.len()).sum();
    assert!(bytes < 120, "{writes:?}");
    let mut pages: Vec<u32> = writes.iter().map(|w| w.page).collect();
    pages.dedup();
    assert!(pages.len() <= 3, "catalog sequence, users and log pages: {pages:?}");
}

#[test]
fn a_follower_on_another_format_halts_naming_both() {
    let mut leader = users(1, 256, 2);
    let writes = leader.take_page_writes();
    let mut follower = Database::with_storage(2, 256).unwrap();
    let before = follower.clone();
    let err = follower.apply_page_writes(leader.storage_format(), &writes).unwrap_err().message;
    assert_eq!(err, "WAL record written in storage format 1 cannot be applied by a node running storage format 2");
    assert!(follower == before && follower.pages_equal(&before));
}

#[test]
fn rollback_yields_no_page_writes() {
    let mut db = users(2, 256, 5);
    db.take_page_writes();
    let mut session = Session::new();
    for sql in [
        "BEGIN",
        "INSERT INTO users (name) VALUES ('temp')",
        "UPDATE users SET name = 'changed and much longer than before' WHERE id = 2",
        "DELETE FROM users WHERE id = 3",
        "CREATE TABLE extra (a)",
        "INSERT INTO extra VALUES (1)",
        "ROLLBACK",
    ] {
        db.execute(sql, &mut session, &mut env()).unwrap();
    }
    assert_eq!(db.take_page_writes(), Vec::new());
    // A failed statement is undone too (UNIQUE on email), and writes nothing.
    assert!(db.execute_autocommit("INSERT INTO users (name, email) VALUES ('dup', 'u1@x')", &mut env()).is_err());
    assert_eq!(db.take_page_writes(), Vec::new());
}

#[test]
fn a_mid_transaction_flush_then_rollback_drops_the_table_from_the_pages() {
    let mut leader = users(1, 128, 3);
    let mut follower = Database::with_storage(1, 128).unwrap();
    ship(&mut leader, &mut follower).unwrap();
    let mut session = Session::new();
    for sql in [
        "BEGIN",
        "CREATE TABLE extra (a, b)",
        "INSERT INTO extra VALUES (1, 'one')",
        "INSERT INTO users (name) VALUES ('x')",
    ] {
        leader.execute(sql, &mut session, &mut env()).unwrap();
    }
    ship(&mut leader, &mut follower).unwrap();
    assert_eq!(follower.rows("extra").len(), 1);
    leader.execute("ROLLBACK", &mut session, &mut env()).unwrap();
    run(&mut leader, "CREATE TABLE other (c)");
    run(&mut leader, "INSERT INTO other VALUES (3)");
    ship(&mut leader, &mut follower).unwrap();
    assert!(follower == leader && follower.pages_equal(&leader));
    assert!(follower.columns("extra").is_none());
    assert_eq!(leader.recover_from_pages().unwrap(), leader);
}

#[test]
fn recover_from_pages_round_trips() {
    // Small pages: the catalog spans several pages, rows several data pages.
    let mut db = users(2, 128, 30);
    for i in 0..6 {
        run(
            &mut db,
            &format!("CREATE TABLE table_with_a_long_name_{i} (a INTEGER PRIMARY KEY, b TEXT DEFAULT 'x', c REAL)"),
        );
        run(&mut db, &format!("INSERT INTO table_with_a_long_name_{i} (c) VALUES ({i}.25)"));
    }
    run(&mut db, "DELETE FROM users WHERE id > 25");
    db.take_page_writes();
    let catalog = db.page_summaries().iter().filter(|s| s.kind == PageKind::Catalog).count();
    assert!(catalog > 1, "the catalog spans {catalog} pages");
    let recovered = db.recover_from_pages().unwrap();
    assert!(recovered == db && recovered.pages_equal(&db));
    assert_eq!(recovered.schema(), db.schema());
    // The recovered database continues exactly as the original (AUTOINCREMENT included).
    let (mut a, mut b) = (db, recovered);
    for db in [&mut a, &mut b] {
        run(db, "INSERT INTO users (name) VALUES ('next')");
    }
    assert_eq!(a.rows("users").last(), b.rows("users").last());
    assert_eq!(a.take_page_writes(), b.take_page_writes());
    assert!(a.pages_equal(&b));
}

#[test]
fn upgrade_storage_keeps_rows_and_changes_bytes() {
    let mut db = users(1, 256, 20);
    db.take_page_writes();
    let (before, pages) = (db.clone(), db.page_bytes(0).unwrap().to_vec());
    db.upgrade_storage(2).unwrap();
    assert_eq!(db.storage_format(), 2);
    assert!(db == before);
    assert_ne!(db.page_bytes(0).unwrap(), &pages[..]);
    assert!(db.take_page_writes().is_empty(), "an upgrade is not replicated");
    assert_eq!(db.recover_from_pages().unwrap(), db);
    // A format-1 follower of the upgraded node halts on its next write.
    let mut follower = before.clone();
    run(&mut db, "INSERT INTO users (name) VALUES ('after')");
    let writes = db.take_page_writes();
    let err = follower.apply_page_writes(db.storage_format(), &writes).unwrap_err().message;
    assert!(err.contains("storage format 2") && err.contains("storage format 1"), "{err}");
    // A snapshot copied from the old leader is re-encoded for this node.
    let mut snapshot = before.clone();
    snapshot.reencode_to(2).unwrap();
    assert!(snapshot == before && !snapshot.pages_equal(&before));
    assert!(snapshot.upgrade_storage(3).is_err());
}

#[test]
fn an_upgrade_that_would_not_fit_changes_nothing() {
    // Large integers take 10 bytes as format 2 varints against 9 in format 1.
    let mut db = storage(1, 128, &["CREATE TABLE t (a, b, c, d, e, f, g, h, i, j, k)"]);
    let big = (0..11).map(|_| i64::MIN.to_string()).collect::<Vec<_>>().join(", ");
    run(&mut db, &format!("INSERT INTO t VALUES ({big})"));
    db.take_page_writes();
    let before = db.clone();
    let err = db.upgrade_storage(2).unwrap_err().message;
    assert!(err.starts_with("row too big for a page"), "{err}");
    assert!(db.storage_format() == 1 && db.pages_equal(&before));
}

#[test]
fn a_row_too_big_for_a_page_is_an_sql_error() {
    let mut db = users(1, 128, 1);
    let long = "x".repeat(200);
    let err = db.execute_autocommit(&format!("INSERT INTO users (name) VALUES ('{long}')"), &mut env()).unwrap_err();
    assert!(err.message.starts_with("row too big for a page ("), "{}", err.message);
    assert!(err.message.ends_with("bytes, page size 128)"), "{}", err.message);
    let err = db.execute_autocommit(&format!("UPDATE users SET name = '{long}'"), &mut env()).unwrap_err();
    assert!(err.message.starts_with("row too big for a page"));
    assert_eq!(db.rows("users")[0][1].1, Value::Text("user 0".into()));
    // The same row fits in bigger pages.
    let mut big = users(1, 1024, 1);
    run(&mut big, &format!("INSERT INTO users (name) VALUES ('{long}')"));
}

#[test]
fn page_summaries_reflect_rows() {
    let mut db = users(1, 256, 25);
    assert_eq!(db.page_summaries().len(), 1, "nothing written yet: only the catalog");
    db.take_page_writes();
    let summaries = db.page_summaries();
    assert_eq!(summaries[0].kind, PageKind::Catalog);
    let rows_of = |kind: &str| -> usize {
        summaries.iter().filter(|s| s.kind == PageKind::Table(kind.into())).map(|s| s.rows).sum()
    };
    assert_eq!(rows_of("users"), 25);
    assert_eq!(rows_of("log"), 25);
    assert!(summaries.iter().all(|s| s.used <= 256));
    assert!(summaries.iter().filter(|s| s.kind == PageKind::Table("users".into())).count() > 1);
    run(&mut db, "DELETE FROM users");
    run(&mut db, "DELETE FROM log");
    db.take_page_writes();
    let summaries = db.page_summaries();
    let free: Vec<u32> = summaries.iter().filter(|s| s.kind == PageKind::Free).map(|s| s.page).collect();
    assert!(summaries.iter().all(|s| s.kind == PageKind::Catalog || s.kind == PageKind::Free && s.rows == 0));
    assert!(free.iter().all(|p| db.page_bytes(*p).unwrap().iter().all(|b| *b == 0)), "free pages are zeroed");
    // Freed pages are reused first, the lowest first.
    let count = db.page_count();
    run(&mut db, "INSERT INTO users (name) VALUES ('again')");
    db.take_page_writes();
    assert_eq!(db.page_count(), count);
    let summaries = db.page_summaries();
    // The trigger's log row and the user: tables are written in name order.
    assert_eq!(summaries[free[0] as usize].kind, PageKind::Table("log".into()));
    assert_eq!(summaries[free[1] as usize].kind, PageKind::Table("users".into()));
}

#[test]
fn storage_settings_are_checked() {
    assert!(Database::with_storage(0, 256).is_err());
    assert!(Database::with_storage(3, 256).is_err());
    assert!(Database::with_storage(1, 127).is_err());
    assert!(Database::with_storage(2, 65537).is_err());
    let db = Database::with_storage(2, 65536).unwrap();
    assert_eq!((db.storage_format(), db.page_size()), (2, 65536));
    let db = Database::new();
    assert_eq!((db.storage_format(), db.page_size()), (1, 256));
}

#[test]
fn stats_count_work() {
    let mut db = users(1, 256, 10);
    let s = db.stats();
    assert_eq!(s.statements, 13);
    assert_eq!(s.rows_written, 20, "ten users and ten log rows");
    assert_eq!((s.pages_written, s.bytes_written), (0, 0));
    run(&mut db, "SELECT * FROM users WHERE n > 3");
    run(&mut db, "SELECT * FROM users WHERE id = 3");
    assert_eq!(db.stats().rows_read, 11, "a full scan, then a rowid lookup");
    run(&mut db, "UPDATE users SET n = 0 WHERE id = 3");
    assert_eq!(db.stats().rows_written, 22, "an update is a take and a put");
    let writes = db.take_page_writes();
    let s = db.stats();
    assert!(s.pages_written >= 3);
    assert_eq!(s.bytes_written, writes.iter().map(|w| w.bytes.len() as u64).sum::<u64>());
}

#[test]
fn malformed_catalogs_are_errors_that_change_nothing() {
    let mut leader = users(1, 256, 3);
    let mut follower = Database::with_storage(1, 256).unwrap();
    ship(&mut leader, &mut follower).unwrap();
    let data = data_page(&follower, "users");
    let page0 = follower.page_bytes(0).unwrap().to_vec();
    let cases: Vec<(&str, Vec<PageWrite>)> = vec![
        (
            "next catalog page is a data page",
            vec![PageWrite { page: 0, offset: 2, bytes: data.to_be_bytes().to_vec() }],
        ),
        ("next catalog page is missing", vec![PageWrite { page: 0, offset: 2, bytes: vec![0, 0, 1, 0] }]),
        ("catalog stream cut short", vec![PageWrite { page: 0, offset: 6, bytes: vec![0, 30] }]),
        ("not SQL", vec![PageWrite { page: 0, offset: 27, bytes: b"DROP TABLE".to_vec() }]),
        ("unknown page kind", vec![PageWrite { page: data, offset: 1, bytes: vec![9] }]),
        ("slot out of range", vec![PageWrite { page: data, offset: 10, bytes: vec![0xff, 0xff] }]),
        ("write past the page end", vec![PageWrite { page: 0, offset: 250, bytes: vec![0; 10] }]),
        ("write far past the store", vec![PageWrite { page: 1_000_000, offset: 0, bytes: vec![1] }]),
    ];
    for (what, writes) in cases {
        let mut f = follower.clone();
        let err = f.apply_page_writes(1, &writes).expect_err(what);
        assert!(err.message.starts_with("malformed page"), "{what}: {}", err.message);
        assert!(f == follower && f.pages_equal(&follower), "{what}");
    }
    assert_eq!(follower.page_bytes(0).unwrap(), &page0[..]);
}

// ---- properties ----

fn statement() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => (0usize..90, any::<i64>(), proptest::option::of(0u8..20), proptest::option::of(-1e6f64..1e6)).prop_map(
            |(len, n, email, score)| {
                let email = email.map_or("NULL".to_string(), |e| format!("'e{e}'"));
                let score = score.map_or("NULL".to_string(), |s| s.to_string());
                format!("INSERT INTO users (name, email, score, n) VALUES ('{}', {email}, {score}, {n})", "x".repeat(len))
            }
        ),
        3 => (1i64..30, 0usize..120, -3i64..3).prop_map(|(id, len, n)| format!(
            "UPDATE users SET name = '{}', n = n + {n} WHERE id = {id}",
            "y".repeat(len)
        )),
        1 => (0i64..4).prop_map(|m| format!("UPDATE users SET score = NULL, email = NULL WHERE id % 4 = {m}")),
        2 => (1i64..30).prop_map(|id| format!("DELETE FROM users WHERE id = {id}")),
        1 => (0i64..5).prop_map(|m| format!("DELETE FROM log WHERE v % 5 = {m}")),
        1 => Just("BEGIN".to_string()),
        1 => Just("COMMIT".to_string()),
        1 => Just("ROLLBACK".to_string()),
        1 => (0usize..3).prop_map(|i| format!("CREATE TABLE IF NOT EXISTS t{i} (a, b TEXT, c INTEGER PRIMARY KEY)")),
        2 => (0usize..3, any::<i64>(), 0usize..30).prop_map(|(i, v, len)| format!(
            "INSERT INTO t{i} (a, b) VALUES ({v}, '{}')",
            "b".repeat(len)
        )),
        1 => (0usize..3).prop_map(|i| format!("DELETE FROM t{i} WHERE c % 2 = 0")),
    ]
}

fn setting() -> impl Strategy<Value = (u8, usize)> {
    (1u8..=2, prop_oneof![Just(128usize), Just(256), Just(512), Just(4096)])
}

/// Run the statements on a leader, shipping its page writes to the follower after each commit.
fn replicate(format: u8, page_size: usize, statements: &[String]) -> Result<(Database, Database), TestCaseError> {
    let mut leader = storage(format, page_size, SCHEMA);
    let mut follower = Database::with_storage(format, page_size).unwrap();
    ship(&mut leader, &mut follower).map_err(TestCaseError::fail)?;
    let mut session = Session::new();
    for sql in statements {
        let _ = leader.execute(sql, &mut session, &mut env());
        if !session.in_transaction() {
            ship(&mut leader, &mut follower).map_err(|e| TestCaseError::fail(format!("after {sql}: {e}")))?;
            prop_assert!(follower == leader, "tables differ after {}", sql);
            prop_assert!(follower.pages_equal(&leader), "pages differ after {}", sql);
        }
    }
    leader.close_session(&mut session);
    ship(&mut leader, &mut follower).map_err(TestCaseError::fail)?;
    Ok((leader, follower))
}

proptest! {
    // Counterexamples are kept in tests/pages.proptest-regressions and replayed first (commit them).
    #![proptest_config(ProptestConfig { cases: 48, failure_persistence: regressions(), ..ProptestConfig::default() })]

    /// A same-format follower that applies the leader's page writes has identical pages and
    /// equal tables after every commit; the leader's pages recover to the leader; a replica in
    /// the other format executing the same statements has equal tables but other bytes.
    #[test]
    fn followers_build_identical_pages(
        (format, page_size) in setting(),
        statements in prop::collection::vec(statement(), 1..60),
        after in prop::collection::vec(statement(), 0..20),
    ) {
        let (leader, follower) = replicate(format, page_size, &statements)?;
        prop_assert!(follower == leader && follower.pages_equal(&leader));
        // Promoted, the follower writes exactly what the old leader would have written.
        let (mut old, mut promoted) = (leader.clone(), follower.clone());
        for sql in &after {
            let a = old.execute_autocommit(sql, &mut env()).map(|o| o.rows_affected);
            let b = promoted.execute_autocommit(sql, &mut env()).map(|o| o.rows_affected);
            prop_assert_eq!(a, b);
            prop_assert_eq!(old.take_page_writes(), promoted.take_page_writes(), "after {}", sql);
        }
        let recovered = leader.recover_from_pages().map_err(|e| TestCaseError::fail(e.message))?;
        prop_assert!(recovered == leader && recovered.pages_equal(&leader));
        if page_size >= 512 {
            let other = 3 - format;
            let mut replica = storage(other, page_size, SCHEMA);
            let mut session = Session::new();
            for sql in &statements {
                let _ = replica.execute(sql, &mut session, &mut env());
            }
            replica.close_session(&mut session);
            replica.take_page_writes();
            prop_assert!(replica == leader);
            prop_assert!(!replica.pages_equal(&leader));
            let mut upgraded = leader.clone();
            upgraded.upgrade_storage(other).map_err(|e| TestCaseError::fail(e.message))?;
            prop_assert!(upgraded == leader && upgraded.recover_from_pages().unwrap() == leader);
        }
    }

    /// Mangled WAL bytes give an error or a consistent follower, never a panic; an error changes
    /// nothing, so the follower still applies the genuine writes afterwards.
    #[test]
    fn mangled_page_writes_never_panic(
        (format, page_size) in setting(),
        statements in prop::collection::vec(statement(), 1..25),
        last in statement(),
        mangles in prop::collection::vec((any::<usize>(), any::<usize>(), any::<u8>()), 1..6),
        garbage in prop::collection::vec((0u32..12, any::<u16>(), prop::collection::vec(any::<u8>(), 0..40)), 0..4),
    ) {
        let (mut leader, follower) = replicate(format, page_size, &statements)?;
        let _ = leader.execute_autocommit(&last, &mut env());
        let genuine = leader.take_page_writes();
        let mut writes = genuine.clone();
        if !writes.is_empty() {
            for (w, at, byte) in &mangles {
                let n = writes.len();
                let write = &mut writes[w % n];
                if !write.bytes.is_empty() {
                    let i = at % write.bytes.len();
                    write.bytes[i] = *byte;
                }
            }
        }
        writes.extend(garbage.into_iter().map(|(page, offset, bytes)| PageWrite { page, offset, bytes }));
        let mut mangled = follower.clone();
        match mangled.apply_page_writes(format, &writes) {
            Ok(()) => {
                let _ = mangled.take_page_writes();
                let _ = mangled.recover_from_pages();
                let _ = mangled.execute_autocommit("SELECT * FROM users", &mut env());
            }
            Err(_) => {
                prop_assert!(mangled == follower && mangled.pages_equal(&follower));
                mangled.apply_page_writes(format, &genuine).map_err(|e| TestCaseError::fail(e.message))?;
                prop_assert!(mangled == leader && mangled.pages_equal(&leader));
                prop_assert!(mangled.take_page_writes().is_empty());
            }
        }
    }
}

// A checkpoint writes the same pages as take_page_writes and counts the same bytes, without returning them.
#[test]
fn checkpoint_counts_what_take_page_writes_returns() {
    use replsim::sql::{Database, FixedEnv};
    let mut env = FixedEnv { now_us: 0, rng_state: 3 };
    let (mut a, mut b) = (Database::new(), Database::new());
    for db in [&mut a, &mut b] {
        for sql in [
            "CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT, v TEXT)",
            "INSERT INTO t (v) VALUES ('one'), ('two'), ('three')",
            "UPDATE t SET v = 'deux' WHERE id = 2",
            "DELETE FROM t WHERE id = 1",
        ] {
            db.execute_autocommit(sql, &mut env).unwrap();
        }
    }
    let writes = a.take_page_writes();
    b.checkpoint();
    assert!(a.pages_equal(&b));
    let bytes: u64 = writes.iter().map(|w| w.bytes.len() as u64).sum();
    assert_eq!(a.stats().bytes_written, bytes);
    assert_eq!(b.stats().bytes_written, bytes);
    assert_eq!(a.stats().pages_written, b.stats().pages_written);
    assert!(b.take_page_writes().is_empty());
}
