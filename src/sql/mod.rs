//! The SQL storage engine of each simulated database node: small, but real.
//!
//! A hand-written lexer and recursive-descent parser, a binder that resolves names before a
//! statement runs, and an executor over in-memory tables (`BTreeMap` of rowid to row).
//! Semantics follow SQLite wherever the subset overlaps, and `tests/sql_sqlite_diff.rs` checks
//! that against SQLite itself on random statement sequences. Everything is deterministic: the
//! only sources of nondeterminism are the node's clock and RNG, reached through [`Env`]. The
//! engine never panics on any input, and parse trees are bounded in depth.
//!
//! The tables are also kept as bytes in fixed-size pages, in storage format 1 or 2 (`pages.rs`:
//! page layout and both row formats): what physical (WAL) replication ships
//! ([`Database::take_page_writes`], [`Database::apply_page_writes`]) and crash recovery reads.
//!
//! # The subset
//!
//! - `CREATE TABLE [IF NOT EXISTS] t (col TYPE [PRIMARY KEY [AUTOINCREMENT]] [NOT NULL]
//!   [UNIQUE] [DEFAULT literal | (expr)], ..., [PRIMARY KEY (col)], [UNIQUE (a, b)])`. Any type
//!   name is accepted and given SQLite's type affinity (INTEGER, REAL, TEXT, NUMERIC for
//!   BOOLEAN / TIMESTAMP / DECIMAL..., none for BLOB or no type). `INTEGER PRIMARY KEY` is the
//!   rowid: NULL or omitted gets max(rowid)+1, or with AUTOINCREMENT one more than the largest
//!   ever used (SQLite's `sqlite_sequence`, rolled back with the transaction). Tables without an
//!   INTEGER PRIMARY KEY have a hidden rowid (readable as `rowid`, never in row lists or JSON).
//! - `CREATE TRIGGER [IF NOT EXISTS] name AFTER INSERT | UPDATE [OF cols] | DELETE ON t
//!   [FOR EACH ROW] [WHEN expr] BEGIN stmt; ... END`, bodies of INSERT / UPDATE / DELETE using
//!   `NEW.col` and `OLD.col` (and `NEW.rowid`). Triggers fire per row right after the row change, newest trigger
//!   first, and a trigger never fires itself (SQLite's `recursive_triggers = OFF`).
//! - `INSERT INTO t [(cols)] VALUES (...), ... | SELECT ... | DEFAULT VALUES`;
//!   `UPDATE t SET c = expr, ... [WHERE expr]`; `DELETE FROM t [WHERE expr]`.
//! - `SELECT [DISTINCT] expr [AS alias], * | t.* [FROM t [AS alias]] [WHERE] [GROUP BY]
//!   [HAVING] [ORDER BY expr | alias | n [ASC|DESC], ...] [LIMIT n [OFFSET m]]`, with or
//!   without FROM; aggregates COUNT(*), COUNT, SUM, TOTAL, AVG, MIN, MAX (and DISTINCT).
//! - `BEGIN [DEFERRED|IMMEDIATE|EXCLUSIVE] [TRANSACTION]`, `COMMIT`, `END`, `ROLLBACK`.
//! - Expressions: literals (integers, hex, reals, 'strings', NULL, TRUE, FALSE), column
//!   references (`col`, `t.col`, `rowid`), `|| * / % + - & | << >> < <= > >= = == != <>`,
//!   `IS [NOT]`, `IS [NOT] TRUE / FALSE`, `[NOT] IN (list)`, `[NOT] BETWEEN`, `[NOT] LIKE`, `ISNULL`, `NOTNULL`,
//!   `NOT`, `AND`, `OR`, unary `- + ~`, `CASE`, `CAST`. Functions: LOWER, UPPER, LENGTH, ABS,
//!   COALESCE, IFNULL, NULLIF, ROUND, TYPEOF, MIN/MAX (scalar), and the nondeterministic
//!   NOW() (`'YYYY-MM-DD HH:MM:SS.mmm'`, UTC, read once per statement), CURRENT_TIMESTAMP,
//!   RAND() (a real in [0, 1)), RANDOM() (an integer), UUID() (version 4).
//! - `--` and `/* */` comments, `"quoted"`, `` `quoted` `` and `[quoted]` identifiers.
//!
//! # Semantics shared with SQLite
//!
//! Dynamic typing with type affinity on store ('12' into an INTEGER column stores 12) and on
//! comparison; NULL < numbers < text; three-valued logic; integer arithmetic that turns real on
//! overflow; integer division; division by zero is NULL; text read by its numeric prefix in
//! arithmetic; LIKE case-insensitive for ASCII; real-to-text rendering digit for digit
//! (SQLite's `%!.15g` algorithm is reproduced); SUM's exact integer / Kahan-Babuska-Neumaier
//! summation and its overflow rule; statement-level atomicity; constraint checks row by row in
//! rowid order, newest UNIQUE index first; result aliases usable in WHERE / GROUP BY / HAVING;
//! `ORDER BY 2` only for 32-bit integer literals; bare columns of an aggregate query taken from
//! the group's first row, or the row of its (last) min() / max(); and error messages.
//!
//! Where SQLite's *execution plan* shows through, this engine behaves as SQLite's plan for a
//! full table scan does: LIMIT is computed first and a rowid-ordered query stops at the limit
//! (rows past it are never evaluated); constant AND-terms of a WHERE clause are tested once
//! before the scan (so `WHERE ABS(-9223372036854775808) = 1` fails on an empty table); INSERT
//! into a table with INSERT triggers, and INSERT ... SELECT, read all their input first.
//! SQLite may instead read a table through an index, which changes the order rows are visited
//! in where SQL leaves it unspecified (no ORDER BY, ties, which of two equal values an aggregate
//! keeps); this engine always scans in rowid order.
//!
//! # Deviations from SQLite
//!
//! - A non-INTEGER PRIMARY KEY is also NOT NULL (SQLite allows NULL there for legacy reasons),
//!   so that every row has a key for row-based replication. Composite primary keys, CHECK,
//!   FOREIGN KEY, COLLATE, BLOBs, joins, subqueries, compound selects, `INSERT OR ...`,
//!   upserts, RETURNING, ALTER / DROP, savepoints, BEFORE / INSTEAD OF triggers and bound
//!   parameters are not supported (they are errors, never silently ignored).
//! - Error messages name the table in `no such column: nmae in users`; a wrong number of
//!   INSERT values reads `wrong number of values: table t has 2 columns but 3 values were
//!   supplied`; end of input reads `incomplete input` as SQLite's does.
//! - A trigger body is checked against the schema when the trigger is created (SQLite waits
//!   until it fires).
//! - While one session's transaction holds the write lock, other sessions' writes fail with
//!   `database is locked` (as SQLite's would, without waiting) but their reads see the
//!   uncommitted rows: there is one copy of the data.
//! - `NOW()`, `RAND()`, `UUID()` are MySQL's functions, added for the replication lessons.
//! - When the largest rowid is already i64::MAX, SQLite tries random free rowids; this engine
//!   takes the smallest free one (deterministically).
//! - A statement may do at most 400,000 steps of work, its triggers' statements included (a row
//!   read or an expression evaluated is one step, a row inserted, updated or deleted 80): past
//!   that it fails with `statement canceled: ...` and is undone, as a statement reaching
//!   PostgreSQL's `statement_timeout` is. Steps, not time, so that runs stay deterministic; the
//!   limit stops trigger cascades that would freeze the page (about 10 ms of work at most). It
//!   applies to clients' statements and a scenario's schema, not to the replication machinery's
//!   own statements or a follower's replay of its leader's ([`Database::without_work_limit`]).
//! - `ROUND(x, n)` with n > 0 rounds the exact binary value correctly, which may differ from
//!   SQLite's own printf in the last digit in rare cases.

mod ast;
mod bind;
mod engine;
mod eval;
mod exec;
mod keyed;
mod lexer;
mod nondet;
mod pages;
mod parser;
mod table;
mod value;

#[cfg(test)]
mod tests;

use std::cmp::Ordering;
use std::fmt;

pub(crate) use ast::ident;
pub use engine::{Database, Session};
pub use keyed::{keyed_shape, KeyedShape};
pub use lexer::split_statements;
pub use nondet::{is_deterministic, substitute_nondeterministic};
pub use pages::{PageKind, PageSummary, PageWrite, StorageStats};
pub use value::{SortKey, Value};

/// Sort `v` stably by `cmp`: the same order as `v.sort_by(cmp)`, through one shared instance of the standard
/// library's sort. The indices are sorted (by one non-generic function calling `cmp` through a `dyn`), then the
/// elements are moved into place. Each `sort_by` on another element type or comparator would otherwise add its own
/// copy of the sort code (3-4 KB of wasm each). Used for sorts across the crate, also where an unstable sort would
/// do: stability never hurts determinism.
pub fn sort_stable_by<T>(v: &mut [T], mut cmp: impl FnMut(&T, &T) -> Ordering) {
    let mut order = sorted_indices(v.len(), &mut |a, b| cmp(&v[a], &v[b]));
    // order[k] is the index of the element that belongs at k: follow each cycle of the permutation once.
    for start in 0..order.len() {
        let mut at = start;
        while order[at] != start {
            let from = order[at];
            v.swap(at, from);
            order[at] = at;
            at = from;
        }
        order[at] = at;
    }
}

/// `v.sort()`, through [`sort_stable_by`] (equal elements are alike, so stable or not gives the same result).
pub fn sort_values<T: Ord>(v: &mut [T]) {
    sort_stable_by(v, T::cmp);
}

#[inline(never)]
pub(crate) fn sorted_indices(n: usize, cmp: &mut dyn FnMut(usize, usize) -> Ordering) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|a, b| cmp(*a, *b));
    order
}

/// Where nondeterminism comes from: the node's own clock and RNG. Followers re-executing a
/// statement use their own, which is why statement-based replication diverges.
pub trait Env {
    /// The executing node's local clock, microseconds since the Unix epoch (may be skewed vs
    /// other nodes).
    fn now_us(&mut self) -> i64;
    fn random_u64(&mut self) -> u64;
}

/// A simple [`Env`]: a fixed clock and a SplitMix64 random stream. For tests and tools.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FixedEnv {
    pub now_us: i64,
    pub rng_state: u64,
}

impl Env for FixedEnv {
    fn now_us(&mut self) -> i64 {
        self.now_us
    }

    fn random_u64(&mut self) -> u64 {
        self.rng_state = self.rng_state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng_state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// An error, worded as SQLite words it (`message`, for people), and its kind (for code that decides on it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SqlError {
    pub message: String,
    pub kind: SqlErrorKind,
}

/// The errors that code (not a person) must tell apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SqlErrorKind {
    #[default]
    Other,
    /// A NOT NULL or UNIQUE constraint failed (SQLite's `SQLITE_CONSTRAINT`).
    Constraint,
    /// Another session holds the write lock or the row (`SQLITE_BUSY`).
    Locked,
    /// A row change addressed a primary key the table does not have.
    NoSuchRow,
}

impl SqlError {
    pub fn new(message: impl Into<String>) -> Self {
        SqlError { message: message.into(), kind: SqlErrorKind::Other }
    }

    pub fn of(kind: SqlErrorKind, message: impl Into<String>) -> Self {
        SqlError { message: message.into(), kind }
    }
}

impl fmt::Display for SqlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for SqlError {}

/// One row change, as a logical (row-based) replication log carries it.
#[derive(Clone, Debug, PartialEq)]
pub enum RowChange {
    /// All column values of the new row.
    Insert { table: String, row: Vec<(String, Value)> },
    /// The primary key before the change, and all new column values.
    Update { table: String, key: Value, row: Vec<(String, Value)> },
    /// The primary key of the deleted row.
    Delete { table: String, key: Value },
    /// CREATE TABLE / CREATE TRIGGER, as normalised SQL text.
    Ddl { sql: String },
}

/// Everything a transaction did, in order, including changes made by triggers (each right
/// after the change that fired it). `statements` holds the text of each data-changing
/// statement the client ran in it (DDL included, failed statements excluded), and `ends[i]` how many of
/// `changes` the transaction had made once statement i was done: statement i made `changes[ends[i-1]..ends[i]]`
/// (MySQL's MIXED binlog format decides per statement how to log it).
///
/// For tables without a declared primary key, `key` is the hidden rowid, which matches on
/// replicas that applied the same changes in the same order.
#[derive(Clone, Debug, PartialEq)]
pub struct Commit {
    pub changes: Vec<RowChange>,
    pub statements: Vec<String>,
    pub ends: Vec<usize>,
}

impl Commit {
    /// The row changes statement `i` made (its triggers' included).
    pub fn changes_of(&self, i: usize) -> &[RowChange] {
        let start = if i == 0 { 0 } else { self.ends.get(i - 1).copied().unwrap_or(0) };
        let end = self.ends.get(i).copied().unwrap_or(start);
        self.changes.get(start..end).unwrap_or_default()
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Copy)]
pub enum StatementKind {
    Select,
    Insert,
    Update,
    Delete,
    CreateTable,
    CreateTrigger,
    Begin,
    Commit,
    Rollback,
}

/// The result of one statement.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    pub kind: StatementKind,
    /// SELECT result column names and rows.
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Value>>,
    /// Rows inserted, updated or deleted by the statement itself (not by triggers).
    pub rows_affected: u64,
    /// Rowid of the last row an INSERT inserted.
    pub last_insert_id: Option<i64>,
    /// Some when this call committed work: an autocommit write statement, or COMMIT (always,
    /// even for a transaction that changed nothing). None inside an open transaction, for
    /// SELECT, BEGIN, ROLLBACK.
    pub committed: Option<Commit>,
}
