//! Unit tests of the SQL engine. SQLite itself is the reference: `tests/sql_sqlite_diff.rs`
//! compares random statement sequences against it; these tests pin individual behaviours.

use super::ast::{literal, Stmt};
use super::eval::{civil_from_days, format_timestamp, like, unit_real, uuid_v4};
use super::lexer::{tokenize, Tok};
use super::parser::parse_statement;
use super::value::format_real;
use super::*;

fn env() -> FixedEnv {
    // 2023-11-14 22:13:20.123456 UTC
    FixedEnv { now_us: 1_700_000_000_123_456, rng_state: 7 }
}

fn db_with(statements: &[&str]) -> Database {
    let mut db = Database::new();
    for sql in statements {
        db.execute_autocommit(sql, &mut env()).unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    db
}

fn query(db: &mut Database, sql: &str) -> Vec<Vec<Value>> {
    db.execute_autocommit(sql, &mut env()).unwrap_or_else(|e| panic!("{sql}: {e}")).rows
}

/// The single value of a SELECT without FROM.
fn eval(expr: &str) -> Value {
    let rows = query(&mut Database::new(), &format!("SELECT {expr}"));
    rows.into_iter().next().and_then(|r| r.into_iter().next()).unwrap_or(Value::Null)
}

fn error(db: &mut Database, sql: &str) -> String {
    match db.execute_autocommit(sql, &mut env()) {
        Ok(o) => panic!("{sql} unexpectedly succeeded: {o:?}"),
        Err(e) => e.message,
    }
}

fn int(i: i64) -> Value {
    Value::Integer(i)
}

fn text(s: &str) -> Value {
    Value::Text(s.into())
}

const USERS: &str =
    "CREATE TABLE users (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, email TEXT UNIQUE, age INTEGER)";

// ---- lexer ----

#[test]
fn lexer_tokens_comments_and_quotes() {
    let toks: Vec<Tok> = tokenize("SELECT \"a b\", 'it''s', 1.5e3, [x], `y` -- c\n/* block */ <> ||")
        .unwrap()
        .into_iter()
        .map(|t| t.tok)
        .collect();
    assert_eq!(
        toks,
        vec![
            Tok::Word("SELECT".into()),
            Tok::Quoted("a b".into()),
            Tok::Sym(","),
            Tok::Str("it's".into()),
            Tok::Sym(","),
            Tok::Num("1.5e3".into()),
            Tok::Sym(","),
            Tok::Quoted("x".into()),
            Tok::Sym(","),
            Tok::Quoted("y".into()),
            Tok::Sym("<>"),
            Tok::Sym("||"),
        ]
    );
}

#[test]
fn lexer_errors_name_the_bad_token() {
    assert_eq!(tokenize("SELECT 'abc").unwrap_err().message, "unrecognized token: \"'abc\"");
    assert_eq!(tokenize("SELECT 12abc").unwrap_err().message, "unrecognized token: \"12abc\"");
    assert_eq!(tokenize("SELECT ?").unwrap_err().message, "unrecognized token: \"?\"");
    assert_eq!(tokenize("SELECT é").unwrap(), tokenize("SELECT é").unwrap(), "non-ASCII identifiers lex");
}

// ---- parser ----

#[test]
fn printed_statements_parse_back_to_the_same_tree() {
    let statements = [
        "SELECT DISTINCT a, b AS x, t.* FROM t AS u WHERE NOT a = 1 AND (b < 2 OR c IS NOT NULL) GROUP BY a HAVING COUNT(*) > 1 ORDER BY 2 DESC, a LIMIT 5 OFFSET 2",
        "SELECT -a - -1, - -2, 3 - (4 - 5), (1 + 2) * 3, 'x' || 'y''z', x NOT BETWEEN 1 AND 2, y NOT LIKE '%a_', z IN (1, NULL), w NOT IN ()",
        "SELECT CASE WHEN a THEN 1 ELSE 2 END, CASE b WHEN 1 THEN 'one' END, CAST(x AS REAL), COUNT(DISTINCT y), NOW(), CURRENT_TIMESTAMP",
        "INSERT INTO \"my table\" (\"select\", b) VALUES (1, -2.5), (NULL, 'x')",
        "INSERT INTO t SELECT * FROM u",
        "INSERT INTO t DEFAULT VALUES",
        "UPDATE t SET a = a + 1, b = NULL WHERE id IN (1, 2, 3)",
        "DELETE FROM t WHERE a ISNULL OR b NOTNULL OR c NOT NULL",
        "CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY AUTOINCREMENT, n VARCHAR(20) NOT NULL UNIQUE DEFAULT 'x', r REAL DEFAULT -1.5, d TIMESTAMP DEFAULT (NOW()), UNIQUE (n, r))",
        "CREATE TRIGGER audit AFTER UPDATE OF name ON users FOR EACH ROW WHEN NEW.name <> OLD.name BEGIN INSERT INTO log (msg) VALUES (OLD.name || ' -> ' || NEW.name); DELETE FROM x WHERE id = OLD.id; END",
        "SELECT -9223372036854775808, 9223372036854775808, 0x10, 1e999, a & b | c << 2 >> 1, ~a",
    ];
    for sql in statements {
        let first = parse_statement(sql).unwrap_or_else(|e| panic!("{sql}: {e}")).stmt;
        let printed = first.to_string();
        let second = parse_statement(&printed).unwrap_or_else(|e| panic!("{printed}: {e}")).stmt;
        assert_eq!(second.to_string(), printed, "printing is a fixed point");
        if !matches!(first, Stmt::Select(_)) {
            // (A SELECT item also keeps its source text, which printing normalises.)
            assert_eq!(first, second, "{sql}\nprinted as\n{printed}");
        }
    }
}

#[test]
fn precedence_follows_sqlite() {
    assert_eq!(eval("1 + 2 * 3"), int(7));
    assert_eq!(eval("-2 * -3"), int(6));
    assert_eq!(eval("NOT 1 = 2"), int(1), "NOT binds looser than =");
    assert_eq!(eval("1 OR 0 AND 0"), int(1), "AND binds tighter than OR");
    assert_eq!(eval("'a' || 1 + 2"), int(2), "|| binds tighter than +: 'a1' + 2, and 'a1' reads as 0");
    assert_eq!(eval("2 < 3 = 1"), int(1));
    assert_eq!(eval("1 BETWEEN 0 AND 2 AND 0"), int(0));
}

#[test]
fn syntax_errors_name_the_token_like_sqlite() {
    let mut db = db_with(&[USERS]);
    assert_eq!(error(&mut db, "SELECT * FORM users"), "near \"FORM\": syntax error");
    assert_eq!(error(&mut db, "SELECT * FROM"), "incomplete input");
    assert_eq!(error(&mut db, "INSERT users VALUES (1)"), "near \"users\": syntax error");
    assert_eq!(error(&mut db, "SELEC 1"), "near \"SELEC\": syntax error");
    assert_eq!(error(&mut db, "SELECT 1; SELECT 2"), "only one statement may be executed at a time");
    assert_eq!(error(&mut db, "  -- nothing\n"), "empty statement");
    assert_eq!(error(&mut db, "SELECT (SELECT 1)"), "near \"SELECT\": syntax error");
}

#[test]
fn deep_expressions_are_refused_not_overflowing_the_stack() {
    let deep_parens = format!("SELECT {}1{}", "(".repeat(100_000), ")".repeat(100_000));
    let long_chain = format!("SELECT 1{}", " + 1".repeat(100_000));
    let minus_chain = format!("SELECT {}1", "- ".repeat(100_000));
    let nots = format!("SELECT {}1", "NOT ".repeat(100_000));
    for sql in [deep_parens, long_chain, minus_chain, nots] {
        let e = Database::new().execute_autocommit(&sql, &mut env()).unwrap_err();
        assert!(e.message.starts_with("expression tree is too large"), "{}", e.message);
    }
    assert_eq!(eval(&format!("{}1", "1 + ".repeat(90))), int(91));
}

// ---- expressions ----

#[test]
fn arithmetic_follows_sqlite() {
    assert_eq!(eval("7 / 2"), int(3), "integer division");
    assert_eq!(eval("-7 / 2"), int(-3), "truncates toward zero");
    assert_eq!(eval("7 / 2.0"), Value::Real(3.5));
    assert_eq!(eval("7 % 3"), int(1));
    assert_eq!(eval("5.5 % 2"), Value::Real(1.0), "real remainder truncates the operands");
    assert_eq!(eval("1 / 0"), Value::Null);
    assert_eq!(eval("1 % 0"), Value::Null);
    assert_eq!(eval("1.0 / 0"), Value::Null);
    assert_eq!(eval("9223372036854775807 + 1"), Value::Real(9.223_372_036_854_776e18), "overflow turns real");
    assert_eq!(eval("-9223372036854775808 / -1"), Value::Real(9.223_372_036_854_776e18));
    assert_eq!(eval("-9223372036854775808 % -1"), int(0));
    assert_eq!(eval("-(-9223372036854775808)"), Value::Real(9.223_372_036_854_776e18));
    assert_eq!(eval("'12abc' + 1"), int(13), "text is read by its numeric prefix");
    assert_eq!(eval("'1.5x' * 2"), Value::Real(3.0));
    assert_eq!(eval("'abc' + 1"), int(1));
    assert_eq!(eval("-'abc'"), int(0));
    assert_eq!(eval("1 + NULL"), Value::Null);
    assert_eq!(eval("'a' || 1 || 2.5 || NULL"), Value::Null);
    assert_eq!(eval("'a' || 1 || 2.5"), text("a12.5"));
    assert_eq!(eval("6 & 3 | 8"), int(10));
    assert_eq!(eval("1 << 62 << 2"), int(0));
    assert_eq!(eval("-8 >> 1"), int(-4));
    assert_eq!(eval("1 << -1"), int(0));
    assert_eq!(eval("-1 >> 100"), int(-1));
    assert_eq!(eval("~0"), int(-1));
}

#[test]
fn null_logic_is_three_valued() {
    assert_eq!(eval("NULL AND 0"), int(0));
    assert_eq!(eval("NULL AND 1"), Value::Null);
    assert_eq!(eval("NULL OR 1"), int(1));
    assert_eq!(eval("NULL OR 0"), Value::Null);
    assert_eq!(eval("NOT NULL"), Value::Null);
    assert_eq!(eval("NULL = NULL"), Value::Null);
    assert_eq!(eval("NULL IS NULL"), int(1));
    assert_eq!(eval("1 IS NOT NULL"), int(1));
    assert_eq!(eval("NULL IS 1"), int(0));
    assert_eq!(eval("1 IN (2, NULL)"), Value::Null);
    assert_eq!(eval("1 IN (1, NULL)"), int(1));
    assert_eq!(eval("1 NOT IN (2, NULL)"), Value::Null);
    assert_eq!(eval("NULL IN ()"), int(0));
    assert_eq!(eval("NULL NOT IN ()"), int(1));
    assert_eq!(eval("NULL BETWEEN 1 AND 2"), Value::Null);
    assert_eq!(eval("5 BETWEEN NULL AND 2"), int(0), "5 <= 2 is false whatever the lower bound");
    assert_eq!(eval("NULL LIKE 'a'"), Value::Null);
    assert_eq!(eval("CASE WHEN NULL THEN 1 ELSE 2 END"), int(2));
}

#[test]
fn comparisons_order_types_like_sqlite() {
    assert_eq!(eval("NULL < 1"), Value::Null);
    assert_eq!(eval("1 < 'a'"), int(1), "numbers sort before text");
    assert_eq!(eval("'10' < '9'"), int(1), "text compares by bytes");
    assert_eq!(eval("1 = 1.0"), int(1));
    assert_eq!(eval("9007199254740993 > 9007199254740992.0"), int(1), "exact int/real comparison");
    assert_eq!(eval("'1' = 1"), int(0), "no affinity between two literals");
    assert_eq!(eval("CAST('1' AS INTEGER) = '1'"), int(1), "a CAST has affinity");
    let mut db = db_with(&["CREATE TABLE t (i INTEGER, s TEXT)", "INSERT INTO t VALUES (5, '5')"]);
    // A TEXT column turns the number into text: '5' < '10' is false, byte by byte.
    assert_eq!(
        query(&mut db, "SELECT i = '5', s = 5, i = s, i < '10', s < 10 FROM t"),
        vec![vec![int(1), int(1), int(1), int(1), int(0)]]
    );
    assert_eq!(
        query(&mut db, "SELECT i IN ('5'), s IN (5), s BETWEEN 4 AND 6 FROM t"),
        vec![vec![int(1), int(1), int(1)]]
    );
}

#[test]
fn like_is_case_insensitive_for_ascii_and_linear() {
    assert!(like("a%c", "ABBBC"));
    assert!(like("_b_", "abc"));
    assert!(!like("_b_", "abcd"));
    assert!(like("%", ""));
    assert!(!like("é", "É"), "only ASCII folds, as in SQLite");
    let text = "a".repeat(5000);
    let pattern = format!("{}b", "%a".repeat(50));
    assert!(!like(&pattern, &text), "pathological patterns finish quickly");
    assert_eq!(eval("12 LIKE '1%'"), int(1), "numbers are matched as text");
}

#[test]
fn functions() {
    assert_eq!(eval("LOWER('AbC'), 1"), text("abc"));
    assert_eq!(eval("UPPER('é a')"), text("é A"));
    assert_eq!(eval("LENGTH('héllo')"), int(5));
    assert_eq!(eval("LENGTH(12.5)"), int(4));
    assert_eq!(eval("ABS(-3)"), int(3));
    assert_eq!(eval("ABS('-2')"), Value::Real(2.0));
    assert_eq!(eval("COALESCE(NULL, NULL, 3, 4)"), int(3));
    assert_eq!(eval("IFNULL(NULL, 'x')"), text("x"));
    assert_eq!(eval("NULLIF(1, 1)"), Value::Null);
    assert_eq!(eval("ROUND(2.5)"), Value::Real(3.0));
    assert_eq!(eval("ROUND(-2.5)"), Value::Real(-3.0));
    assert_eq!(eval("ROUND(2.71828, 2)"), Value::Real(2.72));
    assert_eq!(eval("ROUND(NULL)"), Value::Null);
    assert_eq!(eval("TYPEOF(1.0)"), text("real"));
    assert_eq!(eval("MAX(1, 'a', 2)"), text("a"));
    assert_eq!(eval("MIN(1, NULL)"), Value::Null);
    assert_eq!(eval("CAST('12.9xyz' AS INTEGER)"), int(12));
    assert_eq!(eval("CAST(12.9 AS INTEGER)"), int(12));
    assert_eq!(eval("CAST('3.0' AS NUMERIC)"), int(3));
    assert_eq!(eval("CAST(1e20 AS TEXT)"), text("1.0e+20"));
    assert_eq!(eval("CASE 2 WHEN 1 THEN 'a' WHEN 2 THEN 'b' END"), text("b"));
    let mut db = Database::new();
    assert_eq!(error(&mut db, "SELECT nosuch(1)"), "no such function: nosuch");
    assert_eq!(error(&mut db, "SELECT LOWER(1, 2)"), "wrong number of arguments to function lower()");
    assert_eq!(error(&mut db, "SELECT ABS(-9223372036854775808)"), "integer overflow");
}

#[test]
fn reals_render_like_sqlite() {
    let cases = [
        (1.0, "1.0"),
        (0.1 + 0.2, "0.3"),
        (1e20, "1.0e+20"),
        (1.5e-7, "1.5e-07"),
        (100.0, "100.0"),
        (-0.0, "0.0"),
        (123_456_789_012_345_678.0, "1.23456789012346e+17"),
        (1e15, "1.0e+15"),
        (1e14, "100000000000000.0"),
        (0.0001, "0.0001"),
        (1.0 / 3.0, "0.333333333333333"),
        (-2.5, "-2.5"),
        (f64::INFINITY, "Inf"),
    ];
    for (r, expected) in cases {
        assert_eq!(format_real(r), expected, "{r:?}");
    }
}

#[test]
fn literals_print_back_exactly() {
    for v in [Value::Real(0.1), Value::Real(-1e-300), Value::Real(3.0), int(i64::MIN), text("it's"), Value::Null] {
        let printed = literal(&v);
        assert_eq!(eval(&printed), v, "{printed}");
    }
}

// ---- time, randomness ----

#[test]
fn now_formats_known_epochs() {
    let at = |us: i64| format_timestamp(us, true);
    assert_eq!(at(0), "1970-01-01 00:00:00.000");
    assert_eq!(at(-1), "1969-12-31 23:59:59.999");
    assert_eq!(at(1_700_000_000_123_456), "2023-11-14 22:13:20.123");
    assert_eq!(at(951_782_400_000_000), "2000-02-29 00:00:00.000", "leap day of a century leap year");
    assert_eq!(at(4_107_542_400_000_000), "2100-03-01 00:00:00.000", "2100 is not a leap year");
    assert_eq!(at(-62_135_596_800_000_000), "0001-01-01 00:00:00.000");
    assert_eq!(civil_from_days(-719_468), (0, 3, 1));
    assert_eq!(format_timestamp(i64::MAX, true), "294247-01-10 04:00:54.775", "extreme clocks do not overflow");
    assert_eq!(format_timestamp(i64::MIN, true), "-290308-12-21 19:59:05.224");
    assert_eq!(eval("NOW()"), text("2023-11-14 22:13:20.123"));
    assert_eq!(eval("CURRENT_TIMESTAMP"), text("2023-11-14 22:13:20"));
    assert_eq!(eval("CURRENT_DATE || ' ' || CURRENT_TIME"), text("2023-11-14 22:13:20"));
}

// DDIA 5.1 statement-based: RAND(), UUID() and NOW() read the executing node's Env, so two
// nodes running the same statement get different values.
#[test]
fn rand_and_uuid_come_from_the_env() {
    assert_eq!(unit_real(0), 0.0);
    assert!(unit_real(u64::MAX) < 1.0);
    assert_eq!(uuid_v4(0, 0), "00000000-0000-4000-8000-000000000000");
    assert_eq!(uuid_v4(u64::MAX, u64::MAX), "ffffffff-ffff-4fff-bfff-ffffffffffff");
    let Value::Text(u) = eval("UUID()") else { panic!("uuid is text") };
    assert_eq!(u.len(), 36);
    assert_eq!(u.chars().nth(14), Some('4'));
    let Value::Real(r) = eval("RAND()") else { panic!("rand is real") };
    assert!((0.0..1.0).contains(&r));
    assert_eq!(eval("RAND()"), eval("RAND()"), "same env, same value: the RNG is the only source");
}

#[test]
fn now_is_read_once_per_statement() {
    struct Ticking(i64);
    impl Env for Ticking {
        fn now_us(&mut self) -> i64 {
            self.0 += 1000;
            self.0
        }
        fn random_u64(&mut self) -> u64 {
            0
        }
    }
    let rows = Database::new().execute_autocommit("SELECT NOW() = NOW()", &mut Ticking(0)).unwrap().rows;
    assert_eq!(rows, vec![vec![int(1)]]);
}

// ---- tables ----

#[test]
fn insert_assigns_rowids_and_applies_affinity() {
    let mut db = db_with(&[USERS, "CREATE TABLE misc (i INTEGER, r REAL, t TEXT, n NUMERIC, b BOOLEAN, x)"]);
    let out =
        db.execute_autocommit("INSERT INTO users (name, age) VALUES ('ann', '42'), ('bob', 3.0)", &mut env()).unwrap();
    assert_eq!((out.kind, out.rows_affected, out.last_insert_id), (StatementKind::Insert, 2, Some(2)));
    assert_eq!(
        query(&mut db, "SELECT id, age, typeof(age) FROM users"),
        vec![vec![int(1), int(42), text("integer")], vec![int(2), int(3), text("integer")],]
    );
    query(&mut db, "INSERT INTO misc VALUES ('12', '12', 12, '1e3', 'true', '7')");
    query(&mut db, "INSERT INTO misc VALUES (' 5 ', 3, 1.5, '0x10', TRUE, 7)");
    assert_eq!(
        query(&mut db, "SELECT * FROM misc"),
        vec![
            vec![int(12), Value::Real(12.0), text("12"), int(1000), text("true"), text("7")],
            vec![int(5), Value::Real(3.0), text("1.5"), text("0x10"), int(1), int(7)],
        ]
    );
    assert_eq!(error(&mut db, "INSERT INTO users (id, name) VALUES ('x', 'a')"), "datatype mismatch");
}

// DDIA 5.1 failover: a new leader whose key counter is behind hands out keys already used;
// AUTOINCREMENT at least never reuses a key this node has seen.
#[test]
fn autoincrement_never_reuses_keys_but_plain_rowids_do() {
    let mut db = db_with(&[
        USERS,
        "CREATE TABLE plain (id INTEGER PRIMARY KEY, v TEXT)",
        "INSERT INTO users (name) VALUES ('a'), ('b'), ('c')",
        "INSERT INTO plain (v) VALUES ('a'), ('b'), ('c')",
        "DELETE FROM users WHERE id = 3",
        "DELETE FROM plain WHERE id = 3",
    ]);
    let auto = db.execute_autocommit("INSERT INTO users (name) VALUES ('d')", &mut env()).unwrap();
    let plain = db.execute_autocommit("INSERT INTO plain (v) VALUES ('d')", &mut env()).unwrap();
    assert_eq!(auto.last_insert_id, Some(4));
    assert_eq!(plain.last_insert_id, Some(3), "without AUTOINCREMENT max(rowid)+1 reuses 3");
    query(&mut db, "INSERT INTO users (id, name) VALUES (10, 'x')");
    query(&mut db, "DELETE FROM users WHERE id = 10");
    assert_eq!(
        db.execute_autocommit("INSERT INTO users (name) VALUES ('y')", &mut env()).unwrap().last_insert_id,
        Some(11)
    );
}

#[test]
fn tables_without_primary_key_use_a_hidden_rowid() {
    let mut db = db_with(&["CREATE TABLE log (msg TEXT)", "INSERT INTO log VALUES ('a'), ('b')"]);
    assert_eq!(db.columns("LOG"), Some(vec!["msg".to_string()]));
    assert_eq!(query(&mut db, "SELECT rowid, * FROM log WHERE rowid = 2"), vec![vec![int(2), text("b")]]);
    assert_eq!(db.rows("log"), vec![vec![("msg".to_string(), text("a"))], vec![("msg".to_string(), text("b"))]]);
    let out = db.execute_autocommit("DELETE FROM log WHERE msg = 'a'", &mut env()).unwrap();
    assert_eq!(out.committed.unwrap().changes, vec![RowChange::Delete { table: "log".into(), key: int(1) }]);
    assert_eq!(db.primary_key_of("log", &[("msg".into(), text("b"))]), None);
}

#[test]
fn constraint_errors_match_sqlite() {
    let mut db = db_with(&[
        USERS,
        "CREATE TABLE codes (code TEXT PRIMARY KEY, a INTEGER, b INTEGER, UNIQUE (a, b))",
        "INSERT INTO users (name, email) VALUES ('ann', 'a@x'), ('bob', NULL)",
    ]);
    assert_eq!(error(&mut db, "INSERT INTO users (id, name) VALUES (1, 'x')"), "UNIQUE constraint failed: users.id");
    assert_eq!(
        error(&mut db, "INSERT INTO users (name, email) VALUES ('x', 'a@x')"),
        "UNIQUE constraint failed: users.email"
    );
    assert_eq!(error(&mut db, "INSERT INTO users (email) VALUES ('z')"), "NOT NULL constraint failed: users.name");
    assert_eq!(error(&mut db, "UPDATE users SET name = NULL"), "NOT NULL constraint failed: users.name");
    assert_eq!(
        error(&mut db, "UPDATE users SET id = id + 1"),
        "UNIQUE constraint failed: users.id",
        "checked row by row"
    );
    assert_eq!(error(&mut db, "UPDATE users SET id = NULL"), "datatype mismatch");
    query(&mut db, "INSERT INTO users (name, email) VALUES ('cy', NULL)");
    query(&mut db, "INSERT INTO codes VALUES ('A', 1, 2), ('B', 1, NULL), ('C', 1, NULL)");
    assert_eq!(error(&mut db, "INSERT INTO codes VALUES ('A', 5, 5)"), "UNIQUE constraint failed: codes.code");
    assert_eq!(error(&mut db, "INSERT INTO codes VALUES ('D', 1, 2)"), "UNIQUE constraint failed: codes.a, codes.b");
    assert_eq!(error(&mut db, "INSERT INTO codes VALUES (NULL, 7, 7)"), "NOT NULL constraint failed: codes.code");
    // The failed statements changed nothing: statement-level atomicity.
    assert_eq!(query(&mut db, "SELECT COUNT(*) FROM users"), vec![vec![int(3)]]);
    assert_eq!(query(&mut db, "SELECT id FROM users ORDER BY id"), vec![vec![int(1)], vec![int(2)], vec![int(3)]]);
}

#[test]
fn name_errors_match_sqlite() {
    let mut db = db_with(&[
        USERS,
        "CREATE TRIGGER t1 AFTER INSERT ON users BEGIN UPDATE users SET age = 1 WHERE id = NEW.id; END",
    ]);
    assert_eq!(error(&mut db, "SELECT nmae FROM users"), "no such column: nmae in users");
    assert_eq!(error(&mut db, "SELECT u.nmae FROM users u"), "no such column: u.nmae");
    assert_eq!(error(&mut db, "SELECT 1 FROM userz"), "no such table: userz");
    assert_eq!(error(&mut db, "SELECT x"), "no such column: x");
    assert_eq!(error(&mut db, USERS), "table users already exists");
    assert_eq!(
        error(&mut db, "INSERT INTO users VALUES (1, 'a', 'b')"),
        "wrong number of values: table users has 4 columns but 3 values were supplied"
    );
    assert_eq!(error(&mut db, "INSERT INTO users (name) VALUES ('a', 'b')"), "2 values for 1 columns");
    assert_eq!(
        error(&mut db, "INSERT INTO users (name) VALUES ('a'), ('b', 'c')"),
        "all VALUES must have the same number of terms"
    );
    assert_eq!(error(&mut db, "INSERT INTO users (nmae) VALUES ('a')"), "table users has no column named nmae");
    assert_eq!(error(&mut db, "UPDATE users SET nmae = 1"), "no such column: nmae in users");
    assert_eq!(error(&mut db, "SELECT * FROM users WHERE COUNT(*) > 1"), "misuse of aggregate function count()");
    assert_eq!(error(&mut db, "SELECT COUNT(MAX(id)) FROM users"), "misuse of aggregate function max()");
    assert_eq!(error(&mut db, "SELECT 1 ORDER BY 2"), "1st ORDER BY term out of range - should be between 1 and 1");
    assert_eq!(error(&mut db, "SELECT *"), "no tables specified");
    assert_eq!(error(&mut db, "SELECT 1 LIMIT 1.5"), "datatype mismatch");
    assert_eq!(
        error(&mut db, "CREATE TRIGGER t1 AFTER DELETE ON users BEGIN DELETE FROM users; END"),
        "trigger t1 already exists"
    );
    assert_eq!(
        error(&mut db, "CREATE TRIGGER t2 AFTER DELETE ON users BEGIN DELETE FROM users WHERE id = NEW.id; END"),
        "no such column: NEW.id"
    );
    assert_eq!(
        error(&mut db, "CREATE TRIGGER t2 BEFORE DELETE ON users BEGIN DELETE FROM users; END"),
        "only AFTER triggers are supported"
    );
    assert_eq!(
        error(&mut db, "CREATE TABLE bad (a TEXT PRIMARY KEY AUTOINCREMENT)"),
        "AUTOINCREMENT is only allowed on an INTEGER PRIMARY KEY"
    );
    assert_eq!(error(&mut db, "CREATE TABLE bad (a, A)"), "duplicate column name: A");
    assert_eq!(
        error(&mut db, "CREATE TABLE bad (a INTEGER PRIMARY KEY, b TEXT PRIMARY KEY)"),
        "table \"bad\" has more than one primary key"
    );
}

#[test]
fn identifiers_are_case_insensitive_and_may_be_quoted() {
    let mut db = db_with(&[
        "CREATE TABLE \"Order Items\" (\"select\" INTEGER, Qty INTEGER)",
        "insert into \"order items\" values (1, 2)",
    ]);
    assert_eq!(
        query(&mut db, "SELECT \"SELECT\", qty, QTY * 2 AS double FROM [order items]"),
        vec![vec![int(1), int(2), int(4)]]
    );
    let out = db.execute_autocommit("SELECT qty, qty + 1, qty AS q FROM \"Order Items\"", &mut env()).unwrap();
    assert_eq!(out.columns, vec!["Qty", "qty + 1", "q"], "declared name for columns, source text for expressions");
    assert_eq!(db.table_names(), vec!["Order Items"]);
}

#[test]
fn select_where_order_limit_aggregates() {
    let mut db = db_with(&[
        USERS,
        "INSERT INTO users (name, age) VALUES ('ann', 30), ('bob', 25), ('cy', NULL), ('dee', 30), ('Al', 41)",
    ]);
    let names = |db: &mut Database, sql: &str| -> Vec<Value> { query(db, sql).into_iter().flatten().collect() };
    assert_eq!(
        names(&mut db, "SELECT name FROM users WHERE age >= 30 ORDER BY age DESC, name"),
        vec![text("Al"), text("ann"), text("dee")]
    );
    assert_eq!(
        names(&mut db, "SELECT name FROM users ORDER BY age LIMIT 2"),
        vec![text("cy"), text("bob")],
        "NULL sorts first"
    );
    assert_eq!(names(&mut db, "SELECT name FROM users ORDER BY id LIMIT 2 OFFSET 3"), vec![text("dee"), text("Al")]);
    assert_eq!(names(&mut db, "SELECT name FROM users ORDER BY id LIMIT 3, 1"), vec![text("dee")]);
    assert_eq!(
        names(&mut db, "SELECT name AS n FROM users WHERE name LIKE 'a%' ORDER BY n"),
        vec![text("Al"), text("ann")]
    );
    assert_eq!(
        names(&mut db, "SELECT DISTINCT age FROM users WHERE age IS NOT NULL ORDER BY 1"),
        vec![int(25), int(30), int(41)]
    );
    assert_eq!(
        query(&mut db, "SELECT COUNT(*), COUNT(age), SUM(age), MIN(age), MAX(name), AVG(age), TOTAL(age) FROM users"),
        vec![vec![int(5), int(4), int(126), int(25), text("dee"), Value::Real(31.5), Value::Real(126.0)]]
    );
    assert_eq!(
        query(&mut db, "SELECT COUNT(*), SUM(age), MAX(age) FROM users WHERE 0"),
        vec![vec![int(0), Value::Null, Value::Null]]
    );
    assert_eq!(
        query(&mut db, "SELECT age, COUNT(*) AS n FROM users GROUP BY age HAVING n > 0 ORDER BY n DESC, age"),
        vec![vec![int(30), int(2)], vec![Value::Null, int(1)], vec![int(25), int(1)], vec![int(41), int(1)]]
    );
    assert_eq!(query(&mut db, "SELECT COUNT(DISTINCT age) FROM users"), vec![vec![int(3)]]);
    assert_eq!(query(&mut db, "SELECT 1 + 1, NOW() WHERE 1"), vec![vec![int(2), text("2023-11-14 22:13:20.123")]]);
    assert_eq!(query(&mut db, "SELECT 1 WHERE 0"), Vec::<Vec<Value>>::new());
    assert_eq!(error(&mut db, "SELECT SUM(9223372036854775807) FROM users"), "integer overflow");
}

// ---- behaviours found by the differential test against SQLite ----

#[test]
fn is_true_and_is_false_test_truth() {
    assert_eq!(eval("'-4' IS TRUE"), int(1), "'-4' is truthy...");
    assert_eq!(eval("'-4' IS 1"), int(0), "...but not equal to 1");
    assert_eq!(eval("NULL IS NOT FALSE"), int(1), "never NULL");
    assert_eq!(eval("'' IS FALSE"), int(1));
    assert_eq!(eval("0 IS FALSE % 2"), int(1), "only a bare TRUE / FALSE makes a truth test: 0 IS (0 % 2)");
}

#[test]
fn order_by_positions_are_small_integer_literals_only() {
    let mut db = db_with(&["CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT)", "INSERT INTO t (a) VALUES ('x'), ('y')"]);
    assert_eq!(query(&mut db, "SELECT a FROM t ORDER BY 1 DESC"), vec![vec![text("y")], vec![text("x")]]);
    assert_eq!(query(&mut db, "SELECT a FROM t ORDER BY FALSE, id DESC"), vec![vec![text("y")], vec![text("x")]]);
    assert_eq!(
        query(&mut db, "SELECT a FROM t ORDER BY 9223372036854775807, id"),
        vec![vec![text("x")], vec![text("y")]]
    );
    assert_eq!(
        error(&mut db, "SELECT a FROM t ORDER BY 2"),
        "1st ORDER BY term out of range - should be between 1 and 1"
    );
    assert_eq!(
        error(&mut db, "SELECT a FROM t ORDER BY id, -1"),
        "2nd ORDER BY term out of range - should be between 1 and 1"
    );
    assert_eq!(
        query(&mut db, "SELECT a, COUNT(*) FROM t GROUP BY 1 ORDER BY 1"),
        vec![vec![text("x"), int(1)], vec![text("y"), int(1)]]
    );
}

#[test]
fn aliases_resolve_in_where_group_by_and_having() {
    let mut db = db_with(&[USERS, "INSERT INTO users (name, age) VALUES ('a', 20), ('b', 30), ('c', 30)"]);
    assert_eq!(
        query(&mut db, "SELECT name, age * 2 AS twice FROM users WHERE twice > 50 ORDER BY twice DESC, name"),
        vec![vec![text("b"), int(60)], vec![text("c"), int(60)],]
    );
    assert_eq!(
        query(&mut db, "SELECT age AS a, COUNT(*) AS n FROM users GROUP BY a HAVING n > 1"),
        vec![vec![int(30), int(2)]]
    );
    assert_eq!(
        query(&mut db, "SELECT name AS age FROM users WHERE age = 20"),
        vec![vec![text("a")]],
        "a real column wins over an alias"
    );
}

#[test]
fn bare_columns_of_aggregates_come_from_sqlites_row() {
    let mut db = db_with(&[
        "CREATE TABLE t (id INTEGER PRIMARY KEY, g, v)",
        "INSERT INTO t (g, v) VALUES (1, 5), (1, 9), (1, 7), (2, 1)",
    ]);
    assert_eq!(query(&mut db, "SELECT id, COUNT(*) FROM t"), vec![vec![int(1), int(4)]], "the first row of the group");
    assert_eq!(query(&mut db, "SELECT id, MAX(v) FROM t"), vec![vec![int(2), int(9)]], "the row of the max");
    assert_eq!(
        query(&mut db, "SELECT id, MAX(v), MIN(v) FROM t"),
        vec![vec![int(4), int(9), int(1)]],
        "the last min/max decides"
    );
    assert_eq!(
        query(&mut db, "SELECT g, id, MIN(v) FROM t GROUP BY g"),
        vec![vec![int(1), int(1), int(5)], vec![int(2), int(4), int(1)]]
    );
}

#[test]
fn constant_where_terms_are_tested_before_the_scan_and_limit_stops_it() {
    let mut db = db_with(&["CREATE TABLE t (id INTEGER PRIMARY KEY, a)"]);
    assert_eq!(
        error(&mut db, "DELETE FROM t WHERE ABS(-9223372036854775808) = 1"),
        "integer overflow",
        "even on an empty table"
    );
    assert!(query(&mut db, "SELECT ABS(-9223372036854775808) FROM t").is_empty(), "no row, no evaluation");
    query(&mut db, "INSERT INTO t (a) VALUES (1), (-9223372036854775808)");
    assert_eq!(
        query(&mut db, "SELECT ABS(a) FROM t ORDER BY id LIMIT 1"),
        vec![vec![int(1)]],
        "row 2 is never computed"
    );
    assert_eq!(
        error(&mut db, "SELECT ABS(a) FROM t ORDER BY a LIMIT 1"),
        "integer overflow",
        "sorting computes every row"
    );
    assert!(query(&mut db, "SELECT ABS(a) FROM t LIMIT 0").is_empty());
}

#[test]
fn sum_and_min_follow_sqlite_to_the_edge() {
    let mut db = db_with(&["CREATE TABLE t (v)", "INSERT INTO t VALUES (9223372036854775807), (1)"]);
    assert_eq!(error(&mut db, "SELECT SUM(v) FROM t"), "integer overflow");
    query(&mut db, "INSERT INTO t VALUES ('x')");
    assert_eq!(
        query(&mut db, "SELECT SUM(v) FROM t"),
        vec![vec![Value::Real(9.223_372_036_854_776e18)]],
        "a real forgives the overflow"
    );
    assert_eq!(eval("MIN(-0.0, 0)"), int(0), "among equals, scalar min() returns the last");
    assert_eq!(eval("MAX(0, -0.0)"), int(0), "and max() the first");
    assert_eq!(eval("'1e3' % 7"), Value::Real(1.0), "remainder reads text by its integer prefix");
}

#[test]
fn rowids_past_the_maximum() {
    let mut db = db_with(&[
        "CREATE TABLE plain (id INTEGER PRIMARY KEY, v)",
        "CREATE TABLE auto (id INTEGER PRIMARY KEY AUTOINCREMENT, v)",
        "INSERT INTO plain VALUES (9223372036854775807, 'max'), (1, 'one')",
        "INSERT INTO auto VALUES (9223372036854775807, 'max')",
    ]);
    let out = db.execute_autocommit("INSERT INTO plain (v) VALUES ('next')", &mut env()).unwrap();
    assert_eq!(out.last_insert_id, Some(2), "SQLite picks a random free rowid; this engine the smallest");
    assert_eq!(error(&mut db, "INSERT INTO auto (v) VALUES ('next')"), "database or disk is full");
}

#[test]
fn triggers_see_the_rowid_of_tables_without_a_key() {
    let mut db = db_with(&[
        "CREATE TABLE notes (body TEXT)",
        "CREATE TABLE audit (note INTEGER, op TEXT)",
        "CREATE TRIGGER a AFTER INSERT ON notes BEGIN INSERT INTO audit VALUES (NEW.rowid, 'ins'); END",
        "CREATE TRIGGER d AFTER DELETE ON notes BEGIN INSERT INTO audit VALUES (OLD.rowid, 'del'); END",
        "INSERT INTO notes VALUES ('a'), ('b')",
        "DELETE FROM notes WHERE body = 'a'",
    ]);
    assert_eq!(
        query(&mut db, "SELECT note, op FROM audit"),
        vec![vec![int(1), text("ins")], vec![int(2), text("ins")], vec![int(1), text("del")],]
    );
}

#[test]
fn an_insert_into_a_table_with_triggers_reads_all_its_values_first() {
    // SQLite copies the VALUES into a temporary table first when INSERT triggers exist: a bad
    // value in row 2 then fails the statement before row 1's constraint is checked.
    let mut db = db_with(&["CREATE TABLE t (a NOT NULL, b)", "CREATE TABLE u (x)"]);
    let bad = "INSERT INTO t VALUES (NULL, 1), (1, ABS(-9223372036854775808))";
    assert_eq!(error(&mut db, bad), "NOT NULL constraint failed: t.a", "row by row");
    query(&mut db, "CREATE TRIGGER tr AFTER INSERT ON t BEGIN INSERT INTO u VALUES (NEW.a); END");
    assert_eq!(error(&mut db, bad), "integer overflow", "all rows first");
}

// ---- transactions ----

// DDIA 5.1 logical log: a transaction's row changes, then its commit record.
#[test]
fn commit_returns_every_change_of_the_transaction() {
    let mut db = db_with(&[USERS]);
    let mut s = Session::new();
    let run = |db: &mut Database, s: &mut Session, sql: &str| db.execute(sql, s, &mut env()).unwrap();
    assert_eq!(run(&mut db, &mut s, "BEGIN").kind, StatementKind::Begin);
    assert!(s.in_transaction());
    let ins = run(&mut db, &mut s, "INSERT INTO users (name) VALUES ('ann');");
    assert_eq!(ins.committed, None, "nothing is committed inside a transaction");
    run(&mut db, &mut s, "UPDATE users SET age = 5 WHERE name = 'ann'");
    assert_eq!(run(&mut db, &mut s, "SELECT age FROM users").rows, vec![vec![int(5)]], "own changes are visible");
    run(&mut db, &mut s, "DELETE FROM users WHERE id = 1");
    let commit = run(&mut db, &mut s, "COMMIT").committed.unwrap();
    assert!(!s.in_transaction());
    let row = |age: Value| {
        vec![("id".into(), int(1)), ("name".into(), text("ann")), ("email".into(), Value::Null), ("age".into(), age)]
    };
    assert_eq!(
        commit.changes,
        vec![
            RowChange::Insert { table: "users".into(), row: row(Value::Null) },
            RowChange::Update { table: "users".into(), key: int(1), row: row(int(5)) },
            RowChange::Delete { table: "users".into(), key: int(1) },
        ]
    );
    assert_eq!(
        commit.statements,
        vec![
            "INSERT INTO users (name) VALUES ('ann')",
            "UPDATE users SET age = 5 WHERE name = 'ann'",
            "DELETE FROM users WHERE id = 1",
        ]
    );
}

#[test]
fn rollback_restores_rows_schema_and_the_autoincrement_counter() {
    let mut db = db_with(&[USERS, "INSERT INTO users (name) VALUES ('ann'), ('bob')"]);
    let before = db.clone();
    let mut s = Session::new();
    for sql in [
        "BEGIN TRANSACTION",
        "INSERT INTO users (name) VALUES ('cy'), ('dee')",
        "UPDATE users SET id = 10, name = 'ANN' WHERE id = 1",
        "DELETE FROM users WHERE name = 'bob'",
        "CREATE TABLE extra (x)",
        "CREATE TRIGGER tr AFTER INSERT ON users BEGIN INSERT INTO extra VALUES (1); END",
    ] {
        db.execute(sql, &mut s, &mut env()).unwrap();
    }
    let out = db.execute("ROLLBACK", &mut s, &mut env()).unwrap();
    assert_eq!((out.kind, out.committed), (StatementKind::Rollback, None));
    assert_eq!(db, before, "everything, including sqlite_sequence, is as before");
    let next = db.execute_autocommit("INSERT INTO users (name) VALUES ('eve')", &mut env()).unwrap();
    assert_eq!(next.last_insert_id, Some(3), "the rolled-back ids 3 and 4 are handed out again, as in SQLite");
}

#[test]
fn a_failed_statement_inside_a_transaction_undoes_only_itself() {
    let mut db = db_with(&[USERS]);
    let mut s = Session::new();
    db.execute("BEGIN", &mut s, &mut env()).unwrap();
    db.execute("INSERT INTO users (name, email) VALUES ('ann', 'a')", &mut s, &mut env()).unwrap();
    let e =
        db.execute("INSERT INTO users (name, email) VALUES ('bob', 'b'), ('cy', 'a')", &mut s, &mut env()).unwrap_err();
    assert_eq!(e.message, "UNIQUE constraint failed: users.email");
    assert!(s.in_transaction(), "the transaction stays open");
    let commit = db.execute("COMMIT", &mut s, &mut env()).unwrap().committed.unwrap();
    assert_eq!(commit.changes.len(), 1, "bob's insert was undone with the failed statement");
    assert_eq!(commit.statements, vec!["INSERT INTO users (name, email) VALUES ('ann', 'a')"]);
    assert_eq!(db.rows("users").len(), 1);
}

#[test]
fn transaction_control_errors() {
    let mut db = Database::new();
    let mut s = Session::new();
    assert_eq!(
        db.execute("COMMIT", &mut s, &mut env()).unwrap_err().message,
        "cannot commit - no transaction is active"
    );
    assert_eq!(
        db.execute("ROLLBACK", &mut s, &mut env()).unwrap_err().message,
        "cannot rollback - no transaction is active"
    );
    db.execute("BEGIN", &mut s, &mut env()).unwrap();
    assert_eq!(
        db.execute("BEGIN", &mut s, &mut env()).unwrap_err().message,
        "cannot start a transaction within a transaction"
    );
    let empty = db.execute("END TRANSACTION", &mut s, &mut env()).unwrap();
    assert_eq!(empty.committed, Some(Commit { changes: vec![], statements: vec![], ends: vec![] }));
}

#[test]
fn one_writer_at_a_time() {
    let mut db = db_with(&[USERS]);
    let (mut a, mut b) = (Session::new(), Session::new());
    db.execute("BEGIN", &mut a, &mut env()).unwrap();
    db.execute("BEGIN", &mut b, &mut env()).unwrap();
    db.execute("INSERT INTO users (name) VALUES ('a')", &mut a, &mut env()).unwrap();
    let locked = db.execute("INSERT INTO users (name) VALUES ('b')", &mut b, &mut env()).unwrap_err();
    assert_eq!(locked.message, "database is locked");
    assert_eq!(db.execute_autocommit("DELETE FROM users", &mut env()).unwrap_err().message, "database is locked");
    assert_eq!(
        db.apply_change(&RowChange::Delete { table: "users".into(), key: int(1) }).unwrap_err().message,
        "database is locked"
    );
    assert_eq!(db.execute("SELECT COUNT(*) FROM users", &mut b, &mut env()).unwrap().rows, vec![vec![int(1)]]);
    db.close_session(&mut a);
    assert!(!a.in_transaction());
    assert!(db.rows("users").is_empty(), "closing the session rolled back");
    db.execute("INSERT INTO users (name) VALUES ('b')", &mut b, &mut env()).unwrap();
    db.execute("COMMIT", &mut b, &mut env()).unwrap();
    assert_eq!(db.rows("users").len(), 1);
}

// ---- triggers ----

#[test]
fn triggers_fire_per_row_and_join_the_transaction() {
    // DDIA 5.1 trigger-based replication: a trigger copies each change into a changes table.
    let mut db = db_with(&[
        USERS,
        "CREATE TABLE changes (seq INTEGER PRIMARY KEY AUTOINCREMENT, op TEXT, user_id INTEGER, name TEXT)",
        "CREATE TRIGGER users_ins AFTER INSERT ON users BEGIN INSERT INTO changes (op, user_id, name) VALUES ('insert', NEW.id, NEW.name); END",
        "CREATE TRIGGER users_upd AFTER UPDATE OF name ON users FOR EACH ROW WHEN NEW.name <> OLD.name BEGIN INSERT INTO changes (op, user_id, name) VALUES ('rename', NEW.id, OLD.name || '>' || NEW.name); END",
        "CREATE TRIGGER users_del AFTER DELETE ON users BEGIN INSERT INTO changes (op, user_id) VALUES ('delete', OLD.id); END",
    ]);
    let out = db.execute_autocommit("INSERT INTO users (name) VALUES ('ann'), ('bob')", &mut env()).unwrap();
    assert_eq!((out.rows_affected, out.last_insert_id), (2, Some(2)), "trigger rows are not counted");
    let tables: Vec<&str> = out
        .committed
        .as_ref()
        .unwrap()
        .changes
        .iter()
        .map(|c| match c {
            RowChange::Insert { table, .. } => table.as_str(),
            _ => "?",
        })
        .collect();
    assert_eq!(tables, vec!["users", "changes", "users", "changes"], "each trigger change follows its row");
    query(&mut db, "UPDATE users SET name = 'ANN' WHERE id = 1");
    query(&mut db, "UPDATE users SET name = 'bob' WHERE id = 2");
    query(&mut db, "UPDATE users SET age = 3");
    query(&mut db, "DELETE FROM users WHERE id = 2");
    assert_eq!(
        query(&mut db, "SELECT op, user_id, name FROM changes"),
        vec![
            vec![text("insert"), int(1), text("ann")],
            vec![text("insert"), int(2), text("bob")],
            vec![text("rename"), int(1), text("ann>ANN")],
            vec![text("delete"), int(2), Value::Null],
        ]
    );
    assert_eq!(error(&mut db, "INSERT INTO users (name) VALUES (NULL)"), "NOT NULL constraint failed: users.name");
}

#[test]
fn triggers_fire_newest_first_and_never_recurse() {
    let mut db = db_with(&[
        "CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER)",
        "CREATE TABLE log (m TEXT)",
        "CREATE TRIGGER first AFTER INSERT ON t BEGIN INSERT INTO log VALUES ('first'); END",
        "CREATE TRIGGER second AFTER INSERT ON t BEGIN INSERT INTO log VALUES ('second'); END",
        // Inserting into t from a trigger on t: SQLite's recursive_triggers=OFF stops the loop.
        "CREATE TRIGGER again AFTER INSERT ON t WHEN NEW.n < 100 BEGIN INSERT INTO t (n) VALUES (NEW.n + 1); END",
        "CREATE TRIGGER bump AFTER UPDATE ON t BEGIN UPDATE t SET n = n + 1 WHERE id = NEW.id; END",
    ]);
    query(&mut db, "INSERT INTO t (n) VALUES (1)");
    assert_eq!(query(&mut db, "SELECT id, n FROM t"), vec![vec![int(1), int(1)], vec![int(2), int(2)]]);
    let log: Vec<Value> = query(&mut db, "SELECT m FROM log").into_iter().flatten().collect();
    assert_eq!(log, vec![text("second"), text("first"), text("second"), text("first")]);
    query(&mut db, "UPDATE t SET n = 10 WHERE id = 1");
    assert_eq!(query(&mut db, "SELECT n FROM t WHERE id = 1"), vec![vec![int(11)]]);
}

#[test]
fn a_failing_trigger_fails_the_statement() {
    let mut db = db_with(&[
        "CREATE TABLE a (id INTEGER PRIMARY KEY)",
        "CREATE TABLE b (id INTEGER PRIMARY KEY)",
        "CREATE TRIGGER copy AFTER INSERT ON a BEGIN INSERT INTO b VALUES (NEW.id); END",
        "INSERT INTO b VALUES (2)",
    ]);
    assert_eq!(error(&mut db, "INSERT INTO a VALUES (1), (2)"), "UNIQUE constraint failed: b.id");
    assert!(db.rows("a").is_empty(), "row 1 and its trigger's row were undone too");
    assert_eq!(db.rows("b").len(), 1);
}

/// A table `t` of `n` rows (ids 1..=n, c = 0), built by doubling.
fn table_of(n: usize) -> Database {
    let mut db = db_with(&["CREATE TABLE t (id INTEGER PRIMARY KEY, c INTEGER)", "INSERT INTO t (c) VALUES (0)"]);
    while db.rows("t").len() * 2 <= n {
        query(&mut db, "INSERT INTO t (c) SELECT c FROM t");
    }
    db
}

#[test]
fn a_runaway_trigger_cascade_is_canceled_and_undone() {
    // Fuzzing found statements whose triggers update every row for every row inserted, and
    // whose updates insert rows again: seconds of work for one statement, a frozen page.
    let mut db = table_of(512);
    query(&mut db, "CREATE TRIGGER spread AFTER INSERT ON t BEGIN UPDATE t SET c = c + 1 WHERE id <> NEW.id; END");
    let before = db.rows("t");
    let message = error(&mut db, "INSERT INTO t (c) SELECT c FROM t");
    assert!(message.starts_with("statement canceled: it did more than 400,000 steps of work"), "{message}");
    assert_eq!(super::eval::MAX_STEPS, 400_000, "the message's figure is the limit");
    assert!(message.contains("stays responsive"), "{message}");
    assert_eq!(db.rows("t"), before, "every row the statement and its triggers changed is undone");
    // Inside a transaction only the statement is undone, and the transaction goes on.
    let mut s = Session::new();
    db.execute("BEGIN", &mut s, &mut env()).unwrap();
    db.execute("INSERT INTO t (c) VALUES (7)", &mut s, &mut env()).unwrap();
    assert!(db.execute("INSERT INTO t (c) SELECT c FROM t", &mut s, &mut env()).is_err());
    assert!(s.in_transaction());
    let commit = db.execute("COMMIT", &mut s, &mut env()).unwrap().committed.unwrap();
    assert_eq!(commit.statements, vec!["INSERT INTO t (c) VALUES (7)".to_string()]);
    assert_eq!(db.rows("t").len(), 513);
}

#[test]
fn the_work_limit_counts_rows_read_expressions_and_changes() {
    // Reads: a scan of 1,024 rows per inserted row, 1,024 inserts: a million rows, each also
    // a filter of three expressions (`c = -1`).
    let mut db = table_of(1024);
    query(&mut db, "CREATE TRIGGER look AFTER INSERT ON t BEGIN DELETE FROM t WHERE c = -1; END");
    assert!(error(&mut db, "INSERT INTO t (c) SELECT c FROM t").starts_with("statement canceled"));
    // 64 inserts scanning 1,024 rows each are 65,536 rows and 196,608 expressions: allowed.
    query(&mut db, "INSERT INTO t (c) SELECT c FROM t WHERE id <= 64");
    // Changes: 80 steps each, so 4,000 rows in one statement pass and 6,000 do not.
    let mut db = table_of(4096);
    query(&mut db, "UPDATE t SET c = 1 WHERE id <= 4000");
    let mut db = table_of(8192);
    assert!(error(&mut db, "UPDATE t SET c = 1 WHERE id <= 6000").starts_with("statement canceled"));
    // The replication machinery's own statements, and a follower's replay, run without the limit; it is back after.
    let big = db.without_work_limit(|db| db.execute_autocommit("UPDATE t SET c = 1 WHERE id <= 6000", &mut env()));
    assert_eq!(big.map(|o| o.rows_affected), Ok(6000));
    assert!(error(&mut db, "UPDATE t SET c = 2 WHERE id <= 6000").starts_with("statement canceled"));
    // Expressions: a list of 400 values tested for 2,048 rows is over 800,000 evaluations.
    let mut db = table_of(2048);
    let list: Vec<String> = (1..=400).map(|i| i.to_string()).collect();
    let sql = format!("SELECT count(*) FROM t WHERE c IN ({})", list.join(", "));
    assert!(error(&mut db, &sql).starts_with("statement canceled"));
    assert_eq!(query(&mut db, "SELECT count(*) FROM t"), vec![vec![int(2048)]]);
}

#[test]
fn tables_written_as_json_are_the_tables_json_value() {
    let mut db = db_with(&[
        "CREATE TABLE \"Zeta\" (b TEXT, a REAL, \"C\" INTEGER PRIMARY KEY, \"q\"\"uote\" , \"é\")",
        "CREATE TABLE alpha (k TEXT PRIMARY KEY, v)",
        "INSERT INTO alpha VALUES ('z', NULL), ('a', 1.5e300), ('m', -0.0)",
    ]);
    query(&mut db, "INSERT INTO \"Zeta\" VALUES ('x\"y\\n', 2.5, 7, 'tab\t', 'ü'), (NULL, -1, 3, 12, '')");
    query(&mut db, "CREATE TABLE empty (id INTEGER PRIMARY KEY)");
    let mut out = Vec::new();
    db.write_tables_json(&mut out).unwrap();
    assert_eq!(String::from_utf8(out).unwrap(), serde_json::Value::Object(db.tables_json()).to_string());
}

// ---- replication ----

#[test]
fn logical_changes_replay_to_an_identical_follower() {
    // DDIA 5.1 logical (row-based) log: a follower applying the row changes ends up identical,
    // even though NOW() and RAND() were evaluated only on the leader.
    let mut leader = Database::new();
    let mut follower = Database::new();
    let statements = [
        USERS,
        "CREATE TABLE log (msg TEXT, at TEXT, r REAL)",
        "CREATE TRIGGER t AFTER INSERT ON users BEGIN INSERT INTO log VALUES (NEW.name, NOW(), RAND()); END",
        "INSERT INTO users (name, age) VALUES ('ann', 30), ('bob', 20), ('cy', 10)",
        "UPDATE users SET id = id + 100, age = age + 1 WHERE name = 'ann'",
        "DELETE FROM log WHERE msg = 'bob'",
        "DELETE FROM users WHERE name IN ('ann', 'cy')",
    ];
    for sql in statements {
        let commit = leader.execute_autocommit(sql, &mut env()).unwrap().committed.unwrap();
        for change in &commit.changes {
            follower.apply_change(change).unwrap_or_else(|e| panic!("{change:?}: {e}"));
        }
    }
    assert_eq!(leader.tables_json(), follower.tables_json());
    // The follower's AUTOINCREMENT counter advanced past replicated keys: promoted, it does
    // not hand out cy's deleted key 3 again (UPDATE does not move the counter, as in SQLite).
    let next = follower.execute_autocommit("INSERT INTO users (name) VALUES ('new')", &mut env()).unwrap();
    assert_eq!(next.last_insert_id, Some(4));
    // Applying a change that does not fit is an error, and changes nothing.
    let missing = RowChange::Delete { table: "users".into(), key: int(999) };
    assert_eq!(follower.apply_change(&missing).unwrap_err().message, "no such row: users key 999");
    let clash =
        RowChange::Insert { table: "users".into(), row: vec![("id".into(), int(4)), ("name".into(), text("x"))] };
    assert_eq!(follower.apply_change(&clash).unwrap_err().message, "UNIQUE constraint failed: users.id");
}

#[test]
fn schema_recreates_tables_and_triggers() {
    let leader = db_with(&[
        USERS,
        "CREATE TABLE log (msg TEXT DEFAULT 'none', at TIMESTAMP DEFAULT (NOW()))",
        "CREATE TRIGGER t AFTER DELETE ON users BEGIN INSERT INTO log (msg) VALUES (OLD.name); END",
    ]);
    let mut copy = Database::new();
    for sql in leader.schema() {
        copy.apply_change(&RowChange::Ddl { sql }).unwrap();
    }
    assert_eq!(copy.schema(), leader.schema());
    query(&mut copy, "INSERT INTO users (name) VALUES ('ann')");
    query(&mut copy, "DELETE FROM users");
    assert_eq!(query(&mut copy, "SELECT * FROM log"), vec![vec![text("ann"), text("2023-11-14 22:13:20.123")]]);
}

#[test]
fn statement_based_replication_diverges_on_rand_and_now() {
    // DDIA 5.1 statement-based: the follower re-executes the text with its own clock and RNG.
    let setup = "CREATE TABLE t (id INTEGER PRIMARY KEY, r REAL, at TEXT)";
    let sql = "INSERT INTO t (r, at) VALUES (RAND(), NOW())";
    let mut leader = db_with(&[setup]);
    let mut follower = db_with(&[setup]);
    let mut leader_env = FixedEnv { now_us: 1_000_000, rng_state: 1 };
    let mut follower_env = FixedEnv { now_us: 2_000_000, rng_state: 2 };
    assert_eq!(is_deterministic(sql), Ok(false));
    leader.execute_autocommit(sql, &mut leader_env).unwrap();
    follower.execute_autocommit(sql, &mut follower_env).unwrap();
    assert_ne!(leader.tables_json(), follower.tables_json(), "replicas diverged");

    // The fix: the leader substitutes the values it used, executes and logs that text.
    let mut leader = db_with(&[setup]);
    let mut follower = db_with(&[setup]);
    let logged = substitute_nondeterministic(sql, &mut leader_env).unwrap();
    assert_eq!(is_deterministic(&logged), Ok(true));
    assert!(logged.starts_with("INSERT INTO t (r, at) VALUES (0."), "{logged}");
    assert!(logged.ends_with(", '1970-01-01 00:00:01.000')"), "{logged}");
    leader.execute_autocommit(&logged, &mut leader_env).unwrap();
    follower.execute_autocommit(&logged, &mut follower_env).unwrap();
    assert_eq!(leader.tables_json(), follower.tables_json());
}

// DDIA 5.1 statement-based: the leader logs fixed values in place of nondeterministic calls.
#[test]
fn substitution_keeps_everything_else_verbatim() {
    let mut e = FixedEnv { now_us: 0, rng_state: 0 };
    let seq: Vec<u64> = (0..4).map(|_| e.random_u64()).collect();
    let mut e = FixedEnv { now_us: 0, rng_state: 0 };
    let out = substitute_nondeterministic("select  5 -random(), uuid() /* keep */, now() = now(), 'now()' ;", &mut e)
        .unwrap();
    let uuid = uuid_v4(seq[1], seq[2]);
    assert_eq!(
        out,
        format!(
            "select  5 -({}), '{uuid}' /* keep */, '1970-01-01 00:00:00.000' = '1970-01-01 00:00:00.000', 'now()' ;",
            seq[0] as i64
        )
    );
    let trigger = "CREATE TRIGGER t AFTER INSERT ON x BEGIN INSERT INTO y VALUES (NOW()); END";
    assert_eq!(substitute_nondeterministic(trigger, &mut e).unwrap(), trigger, "trigger bodies run later");
    assert_eq!(is_deterministic(trigger), Ok(false));
    assert_eq!(is_deterministic("UPDATE t SET a = 1"), Ok(true));
    assert!(substitute_nondeterministic("SELECT FROM", &mut e).is_err());
}

#[test]
fn read_only_statements() {
    assert_eq!(Database::is_read_only("SELECT * FROM x"), Ok(true));
    assert_eq!(Database::is_read_only("BEGIN"), Ok(true));
    assert_eq!(Database::is_read_only("insert into x values (1)"), Ok(false));
    assert_eq!(Database::is_read_only("CREATE TABLE x (a)"), Ok(false));
    assert!(Database::is_read_only("SELECT * FORM x").is_err());
}

#[test]
fn reports_order_rows_by_primary_key() {
    let mut db = db_with(&[
        "CREATE TABLE kv (k TEXT PRIMARY KEY, v REAL)",
        "INSERT INTO kv VALUES ('b', 1.5), ('a', NULL), ('c', 2)",
    ]);
    let json = serde_json::Value::Object(db.tables_json());
    assert_eq!(json, serde_json::json!({"kv": [{"k": "a", "v": null}, {"k": "b", "v": 1.5}, {"k": "c", "v": 2.0}]}));
    assert_eq!(db.primary_key_of("kv", &[("v".into(), Value::Null), ("K".into(), text("b"))]), Some(text("b")));
    let out = db.execute_autocommit("UPDATE kv SET k = 'z' WHERE k = 'a'", &mut env()).unwrap();
    let change = &out.committed.unwrap().changes[0];
    assert_eq!(
        change,
        &RowChange::Update {
            table: "kv".into(),
            key: text("a"),
            row: vec![("k".into(), text("z")), ("v".into(), Value::Null)]
        }
    );
    assert_eq!(
        serde_json::to_string(&vec![Value::Null, int(1), Value::Real(0.5), text("x")]).unwrap(),
        "[null,1,0.5,\"x\"]"
    );
    assert_eq!(db.columns("nope"), None);
    assert!(db.rows("nope").is_empty());
}

// ---- split_statements ----

#[test]
fn split_statements_respects_strings_comments_and_trigger_bodies() {
    let script = "CREATE TABLE t (a TEXT); -- one; two\nINSERT INTO t VALUES ('x;y'), (\"b;\");\n/* ; */\n\
                  CREATE TRIGGER tr AFTER INSERT ON t BEGIN INSERT INTO u VALUES (1); DELETE FROM u; END;\n;;\nSELECT 1 -- end";
    assert_eq!(
        split_statements(script),
        vec![
            "CREATE TABLE t (a TEXT)",
            "-- one; two\nINSERT INTO t VALUES ('x;y'), (\"b;\")",
            "/* ; */\nCREATE TRIGGER tr AFTER INSERT ON t BEGIN INSERT INTO u VALUES (1); DELETE FROM u; END",
            "SELECT 1 -- end",
        ]
    );
    assert_eq!(split_statements("SELECT 'unterminated;"), vec!["SELECT 'unterminated;"]);
    assert!(split_statements(" -- only a comment ; /* and */ ").is_empty());
}

// ---- never panic ----

/// proptest is a native-only dev-dependency (it needs getrandom).
#[cfg(not(target_arch = "wasm32"))]
mod never_panic {
    use super::*;

    #[rustfmt::skip]
    const VOCABULARY: &[&str] = &[
        "SELECT", "INSERT", "INTO", "VALUES", "UPDATE", "SET", "DELETE", "FROM", "WHERE", "CREATE", "TABLE",
        "TRIGGER", "AFTER", "ON", "BEGIN", "END", "COMMIT", "ROLLBACK", "ORDER", "BY", "GROUP", "HAVING", "LIMIT",
        "OFFSET", "AND", "OR", "NOT", "NULL", "IS", "IN", "LIKE", "BETWEEN", "CASE", "WHEN", "THEN", "ELSE", "CAST",
        "AS", "DISTINCT", "PRIMARY", "KEY", "AUTOINCREMENT", "UNIQUE", "DEFAULT", "INTEGER", "TEXT", "REAL", "NEW",
        "OLD", "t", "u", "a", "b", "id", "NOW()", "RAND()", "UUID()", "COUNT(*)", "SUM", "MAX", "ABS", "ROUND", "(",
        ")", ",", ";", ".", "*", "+", "-", "/", "%", "||", "=", "<>", "<", ">=", "<<", "~", "0", "1", "-1",
        "9223372036854775807", "9223372036854775808", "1e308", "0.5", "'x'", "'%a_'", "''", "\"q\"", "--", "/*",
        "'", "\"",
    ];

    fn prepared_db() -> Database {
        db_with(&[
            "CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT, a TEXT UNIQUE, b REAL NOT NULL DEFAULT 0)",
            "CREATE TABLE u (k TEXT PRIMARY KEY, n INTEGER)",
            "CREATE TRIGGER tr AFTER INSERT ON t BEGIN INSERT INTO u VALUES (COALESCE(NEW.a, 'none'), NEW.id); END",
            "INSERT INTO t (a, b) VALUES ('x', 1), ('y', 2.5), (NULL, -1)",
        ])
    }

    fn exercise(db: &mut Database, session: &mut Session, sql: &str) {
        let _ = db.execute(sql, session, &mut env());
        let _ = Database::is_read_only(sql);
        let _ = is_deterministic(sql);
        let _ = substitute_nondeterministic(sql, &mut env());
        let _ = split_statements(sql);
        if let Ok(parsed) = parse_statement(sql) {
            // What prints must parse again (the normalised DDL text is replayed on followers).
            let printed = parsed.stmt.to_string();
            if !matches!(parsed.stmt, Stmt::Select(_)) || !printed.contains("<aggregate") {
                assert!(parse_statement(&printed).is_ok(), "{sql:?} printed as {printed:?}");
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_text_never_panics(sql in "\\PC{0,80}") {
            let mut db = prepared_db();
            exercise(&mut db, &mut Session::new(), &sql);
        }

        #[test]
        fn token_soup_never_panics(words in proptest::collection::vec(proptest::sample::select(VOCABULARY), 0..40)) {
            let mut db = prepared_db();
            let mut session = Session::new();
            exercise(&mut db, &mut session, &words.join(" "));
            // The same soup again inside a transaction, then roll back: the undo log must hold.
            let before = db.clone();
            db.execute("BEGIN", &mut session, &mut env()).ok();
            exercise(&mut db, &mut session, &words.join(" "));
            db.close_session(&mut session);
            if !session.in_transaction() && !words.iter().any(|w| ["COMMIT", "END", "ROLLBACK"].contains(w)) {
                proptest::prop_assert_eq!(&db, &before);
            }
        }
    }
}

#[test]
fn shared_stable_sort_matches_sort_by() {
    // Keys with many ties: the payload shows whether equal keys keep their order.
    let mut state = 1u64;
    for len in [0usize, 1, 2, 3, 7, 20, 33, 100, 257, 1000] {
        let v: Vec<(u8, usize)> = (0..len)
            .map(|i| {
                state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                ((state >> 59) as u8, i)
            })
            .collect();
        let mut want = v.clone();
        want.sort_by_key(|p| p.0);
        let mut got = v.clone();
        sort_stable_by(&mut got, |a, b| a.0.cmp(&b.0));
        assert_eq!(got, want, "len {len}");
        let mut desc = v;
        sort_stable_by(&mut desc, |a, b| b.cmp(a));
        want.sort_by(|a, b| b.cmp(a));
        assert_eq!(desc, want, "len {len}");
        let mut plain: Vec<u8> = want.iter().map(|p| p.0).collect();
        let mut expect = plain.clone();
        expect.sort_unstable();
        sort_values(&mut plain);
        assert_eq!(plain, expect);
    }
}

// Code decides on an error's kind, never on its words: a parse error that mentions constraints is not a
// constraint failure (the compare view used to skip it as one).
#[test]
fn errors_carry_a_kind_that_code_decides_on() {
    let mut db = db_with(&["CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL UNIQUE)"]);
    let kind = |db: &mut Database, sql: &str| db.execute_autocommit(sql, &mut env()).unwrap_err().kind;
    query(&mut db, "INSERT INTO t VALUES (1, 'a')");
    assert_eq!(kind(&mut db, "INSERT INTO t VALUES (2, 'a')"), SqlErrorKind::Constraint);
    assert_eq!(kind(&mut db, "INSERT INTO t VALUES (3, NULL)"), SqlErrorKind::Constraint);
    let e = db.execute_autocommit("CREATE TABLE u (id INTEGER CHECK (id > 0))", &mut env()).unwrap_err();
    assert!(e.message.contains("constraint"), "{}", e.message);
    assert_eq!(e.kind, SqlErrorKind::Other);
    let missing = RowChange::Delete { table: "t".into(), key: int(999) };
    assert_eq!(db.apply_change(&missing).unwrap_err().kind, SqlErrorKind::NoSuchRow);
}
