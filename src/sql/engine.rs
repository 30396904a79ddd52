//! The database: tables, triggers, sessions with transactions, and the public API.
//!
//! Transactions keep an undo log in the client's [`Session`] (before-images of changed rows,
//! created objects, AUTOINCREMENT counters). ROLLBACK, and a failed statement inside a
//! transaction, replay it backwards: no copy of the database is made per transaction.
//! The engine has a single writer at a time, as SQLite: the first write of a transaction takes
//! the write lock, and other sessions' writes fail with `database is locked` until it ends.

use crate::vecmap::VecMap;
use std::sync::Arc;

use super::ast::Stmt;
use super::eval::Evaluator;
use super::exec::{Ctx, Trigger, TriggerRow};
use super::pages::Store;
use super::parser::parse_statement;
use super::table::Table;
use super::value::Value;
use super::{Commit, Env, Outcome, RowChange, SqlError, SqlErrorKind, StatementKind};

/// One undo-log entry: how to put back what a change did.
#[derive(Clone, Debug, PartialEq)]
/// `table` is the table's key (`Table::key`, shared: no allocation per row written).
pub(crate) enum Undo {
    Insert { table: Arc<str>, rowid: i64 },
    Update { table: Arc<str>, old_rowid: i64, new_rowid: i64, old: Vec<Value> },
    Delete { table: Arc<str>, rowid: i64, old: Vec<Value> },
    Sequence { table: Arc<str>, old: i64 },
    CreateTable { table: String },
    CreateTrigger { name: String },
}

/// What an open transaction has done so far.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct TxLog {
    pub(crate) id: u64,
    pub(crate) undo: Vec<Undo>,
    pub(crate) changes: Vec<RowChange>,
    pub(crate) statements: Vec<String>,
    /// How many changes there were after each of `statements` (see `Commit::ends`).
    pub(crate) ends: Vec<usize>,
    /// Applying a change from the leader's log: no row images to collect (nobody ships them on), only the undo
    /// log in case the change fails half-way.
    pub(crate) undo_only: bool,
}

impl TxLog {
    /// Record a row change unless this transaction only applies changes from elsewhere.
    pub(crate) fn change(&mut self, make: impl FnOnce() -> RowChange) {
        if !self.undo_only {
            self.changes.push(make());
        }
    }
}

/// A client connection's transaction state (BEGIN ... COMMIT spans several `execute` calls).
///
/// Dropping a session with an open transaction leaves its changes applied and the write lock
/// held: end connections with [`Database::close_session`] (which rolls back, as a database
/// does when a client disconnects or when it recovers after a crash).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Session {
    tx: Option<TxLog>,
}

impl Session {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn in_transaction(&self) -> bool {
        self.tx.is_some()
    }
}

/// A database: tables and triggers, and their pages (`pages.rs`). `Clone` is a full copy (used
/// for simulation checkpoints; pages are shared until written).
#[derive(Clone, Debug, Default)]
pub struct Database {
    /// Tables by lower-cased name (SQL names are case-insensitive).
    pub(crate) tables: VecMap<String, Table>,
    /// Triggers in creation order (shared: a definition never changes once created).
    pub(crate) triggers: Vec<Arc<Trigger>>,
    /// The transaction holding the write lock.
    write_lock: Option<u64>,
    /// Row locks instead of the one write lock (InnoDB-like): rows written by open transactions, and by whom.
    row_locking: bool,
    locks: VecMap<(String, i64), u64>,
    transactions_started: u64,
    /// The pages and work counters.
    pub(crate) store: Store,
    /// Statements run without the per-statement work limit (see [`Database::without_work_limit`]).
    unlimited: bool,
}

/// Equal contents, schema and lock; how many transactions were ever started, the pages (their
/// storage format) and work counters do not matter (see [`Database::pages_equal`]).
impl PartialEq for Database {
    fn eq(&self, other: &Self) -> bool {
        self.tables == other.tables && self.triggers == other.triggers && self.write_lock == other.write_lock
    }
}

fn outcome(kind: StatementKind) -> Outcome {
    Outcome { kind, columns: Vec::new(), rows: Vec::new(), rows_affected: 0, last_insert_id: None, committed: None }
}

impl Database {
    pub fn new() -> Self {
        Self::default()
    }

    /// Execute exactly one statement (a trailing `;` is allowed). Outside a transaction a
    /// write statement commits at once; inside one, a failed statement leaves the transaction
    /// open with that statement's effects undone (SQLite's statement rollback).
    pub fn execute(&mut self, sql: &str, session: &mut Session, env: &mut dyn Env) -> Result<Outcome, SqlError> {
        let parsed = parse_statement(sql)?;
        let text = sql.get(parsed.span.0..parsed.span.1).unwrap_or(sql).to_string();
        self.store.stats.statements += 1;
        match parsed.stmt {
            Stmt::Begin { immediate } => self.begin(session, immediate),
            Stmt::Commit => self.commit(session),
            Stmt::Rollback => {
                let tx =
                    session.tx.take().ok_or_else(|| SqlError::new("cannot rollback - no transaction is active"))?;
                self.end_transaction(tx, true);
                Ok(outcome(StatementKind::Rollback))
            }
            Stmt::Select(sel) => {
                let mut ev = Evaluator::new(env).unlimited(self.unlimited);
                let q = self.bind_select(&sel, TriggerRow::default())?;
                let rows = self.run_select(&q, &mut ev, TriggerRow::default());
                self.store.stats.rows_read += ev.rows_read;
                Ok(Outcome { columns: q.columns, rows: rows?, ..outcome(StatementKind::Select) })
            }
            stmt => self.execute_write(&stmt, text, session, env),
        }
    }

    /// Execute one statement in a fresh session (autocommit). A BEGIN here starts and at once
    /// abandons a transaction, so it has no effect.
    pub fn execute_autocommit(&mut self, sql: &str, env: &mut dyn Env) -> Result<Outcome, SqlError> {
        let mut session = Session::default();
        let result = self.execute(sql, &mut session, env);
        self.close_session(&mut session);
        result
    }

    /// End a client connection: an open transaction is rolled back and the lock released.
    pub fn close_session(&mut self, session: &mut Session) {
        if let Some(tx) = session.tx.take() {
            self.end_transaction(tx, true);
        }
    }

    fn begin(&mut self, session: &mut Session, immediate: bool) -> Result<Outcome, SqlError> {
        if session.tx.is_some() {
            return Err(SqlError::new("cannot start a transaction within a transaction"));
        }
        self.transactions_started = self.transactions_started.wrapping_add(1);
        let id = self.transactions_started;
        if immediate && !self.row_locking {
            if self.write_lock.is_some() {
                return Err(SqlError::of(SqlErrorKind::Locked, "database is locked"));
            }
            self.write_lock = Some(id);
        }
        session.tx = Some(TxLog { id, ..TxLog::default() });
        Ok(outcome(StatementKind::Begin))
    }

    fn commit(&mut self, session: &mut Session) -> Result<Outcome, SqlError> {
        let tx = session.tx.take().ok_or_else(|| SqlError::new("cannot commit - no transaction is active"))?;
        let commit = Commit { changes: tx.changes.clone(), statements: tx.statements.clone(), ends: tx.ends.clone() };
        self.end_transaction(tx, false);
        Ok(Outcome { committed: Some(commit), ..outcome(StatementKind::Commit) })
    }

    fn end_transaction(&mut self, mut tx: TxLog, rollback: bool) {
        if rollback {
            self.undo_to(&mut tx, (0, 0));
        }
        if self.write_lock == Some(tx.id) {
            self.write_lock = None;
        }
        if self.row_locking {
            self.locks.retain(|_, owner| *owner != tx.id);
        }
    }

    /// Choose concurrency control: SQLite's single writer (the default: a second transaction's write fails with
    /// `database is locked`) or row locks as InnoDB has them, where transactions that write different rows run
    /// at the same time. With row locks, AUTOINCREMENT values are never given back on rollback (as in InnoDB).
    pub fn set_row_locking(&mut self, on: bool) {
        self.row_locking = on;
    }

    pub fn row_locking(&self) -> bool {
        self.row_locking
    }

    /// Row locking: take the rows this statement wrote (undo entries from `from` on) for transaction `id`, or say
    /// which one another open transaction holds.
    fn lock_rows(&mut self, undo: &[Undo], id: u64, keep: bool) -> Result<(), SqlError> {
        let rows = undo.iter().filter_map(|u| match u {
            Undo::Insert { table, rowid } | Undo::Delete { table, rowid, .. } => Some((table, *rowid)),
            Undo::Update { table, old_rowid, .. } => Some((table, *old_rowid)),
            _ => None,
        });
        let rows: Vec<(String, i64)> = rows.map(|(t, r)| (t.to_string(), r)).collect();
        if let Some((t, r)) = rows.iter().find(|k| self.locks.get(*k).is_some_and(|o| *o != id)) {
            return Err(SqlError::of(
                SqlErrorKind::Locked,
                format!("database is locked: row {r} of {t} is being written by another transaction"),
            ));
        }
        if keep {
            for k in rows {
                self.locks.insert(k, id);
            }
        }
        Ok(())
    }

    /// Undo the log back to `mark` entries, newest first, and drop the matching row changes.
    fn undo_to(&mut self, tx: &mut TxLog, mark: (usize, usize)) {
        while tx.undo.len() > mark.0 {
            if let Some(entry) = tx.undo.pop() {
                self.undo(entry);
            }
        }
        tx.changes.truncate(mark.1);
    }

    fn undo(&mut self, entry: Undo) {
        if matches!(entry, Undo::Sequence { .. } | Undo::CreateTable { .. } | Undo::CreateTrigger { .. }) {
            self.store.catalog_dirty = true;
        }
        match entry {
            Undo::Insert { table, rowid } => {
                self.tables.get_mut(&*table).map(|t| t.take(rowid));
            }
            Undo::Update { table, old_rowid, new_rowid, old } => {
                if let Some(t) = self.tables.get_mut(&*table) {
                    t.take(new_rowid);
                    t.put(old_rowid, old);
                }
            }
            Undo::Delete { table, rowid, old } => {
                if let Some(t) = self.tables.get_mut(&*table) {
                    t.put(rowid, old);
                }
            }
            // With row locks, other transactions may have taken later values meanwhile: InnoDB keeps the gap.
            Undo::Sequence { .. } if self.row_locking => {}
            Undo::Sequence { table, old } => {
                if let Some(t) = self.tables.get_mut(&*table) {
                    t.sequence = old;
                }
            }
            Undo::CreateTable { table } => {
                self.tables.remove(&table);
            }
            Undo::CreateTrigger { name } => self.triggers.retain(|t| t.name != name),
        }
    }

    fn execute_write(
        &mut self,
        stmt: &Stmt,
        text: String,
        session: &mut Session,
        env: &mut dyn Env,
    ) -> Result<Outcome, SqlError> {
        let own = session.tx.as_ref().map(|t| t.id);
        if self.write_lock.is_some() && self.write_lock != own {
            return Err(SqlError::of(SqlErrorKind::Locked, "database is locked"));
        }
        let autocommit = session.tx.is_none();
        let tx = session.tx.get_or_insert_with(TxLog::default);
        if !autocommit && !self.row_locking {
            self.write_lock = Some(tx.id);
        }
        let mark = (tx.undo.len(), tx.changes.len());
        let mut result = self.run_write(stmt, tx, env);
        if result.is_ok() && self.row_locking {
            let undo = tx.undo.get(mark.0..).unwrap_or_default().to_vec();
            if let Err(e) = self.lock_rows(&undo, tx.id, !autocommit) {
                result = Err(e);
            }
        }
        if result.is_err() {
            self.undo_to(tx, mark);
        } else {
            tx.statements.push(text);
            tx.ends.push(tx.changes.len());
        }
        if autocommit {
            let done = session.tx.take().unwrap_or_default();
            return result.map(|out| Outcome {
                committed: Some(Commit { changes: done.changes, statements: done.statements, ends: done.ends }),
                ..out
            });
        }
        result
    }

    fn run_write(&mut self, stmt: &Stmt, log: &mut TxLog, env: &mut dyn Env) -> Result<Outcome, SqlError> {
        let kind = match stmt {
            Stmt::CreateTable(ct) => {
                self.create_table(ct, log)?;
                return Ok(outcome(StatementKind::CreateTable));
            }
            Stmt::CreateTrigger(ct) => {
                self.create_trigger(ct, log)?;
                return Ok(outcome(StatementKind::CreateTrigger));
            }
            Stmt::Insert(_) => StatementKind::Insert,
            Stmt::Update(_) => StatementKind::Update,
            _ => StatementKind::Delete,
        };
        let mut cx = Ctx { log, ev: Evaluator::new(env).unlimited(self.unlimited), trigger_stack: Vec::new() };
        let result = self.exec_dml(stmt, &mut cx, TriggerRow::default());
        self.store.stats.rows_read += cx.ev.rows_read;
        let (rows_affected, last_insert_id) = result?;
        Ok(Outcome { rows_affected, last_insert_id, ..outcome(kind) })
    }

    /// Apply a row change shipped by a logical (row-based) replication log. No triggers fire
    /// (their effects are in the log already); the AUTOINCREMENT counter advances past
    /// inserted keys. Rows are found by primary key (the hidden rowid for tables without one).
    /// Fails with `database is locked` while a client transaction holds the write lock.
    pub fn apply_change(&mut self, change: &RowChange) -> Result<(), SqlError> {
        if self.write_lock.is_some() {
            return Err(SqlError::of(SqlErrorKind::Locked, "database is locked"));
        }
        let mut log = TxLog { undo_only: true, ..TxLog::default() };
        let result = self.apply_logged(change, &mut log);
        if result.is_err() {
            self.undo_to(&mut log, (0, 0));
        }
        result
    }

    /// Apply a shipped row change inside the session's open transaction (a MIXED binlog transaction replays
    /// statements and row images together): it takes the write lock as a write statement would, and ROLLBACK undoes
    /// it. Without an open transaction it is `apply_change`.
    pub fn apply_change_in(&mut self, change: &RowChange, session: &mut Session) -> Result<(), SqlError> {
        let Some(tx) = session.tx.as_mut() else { return self.apply_change(change) };
        if self.write_lock.is_some_and(|holder| holder != tx.id) {
            return Err(SqlError::of(SqlErrorKind::Locked, "database is locked"));
        }
        if !self.row_locking {
            self.write_lock = Some(tx.id);
        }
        let mark = (tx.undo.len(), tx.changes.len());
        let mut result = self.apply_logged(change, tx);
        if result.is_ok() && self.row_locking {
            let undo = tx.undo.get(mark.0..).unwrap_or_default().to_vec();
            result = self.lock_rows(&undo, tx.id, true);
        }
        if result.is_err() {
            self.undo_to(tx, mark);
        }
        result
    }

    /// Delete every row of a table, firing no triggers (a replication target replacing its copy of the table).
    /// Fails with `database is locked` while a client transaction holds the write lock.
    pub fn delete_all_rows(&mut self, table: &str) -> Result<(), SqlError> {
        if self.write_lock.is_some() {
            return Err(SqlError::of(SqlErrorKind::Locked, "database is locked"));
        }
        let t = self.table(table)?;
        let (key, rowids): (String, Vec<i64>) = (t.name.to_ascii_lowercase(), t.rows.keys().copied().collect());
        let mut log = TxLog { undo_only: true, ..TxLog::default() };
        for rowid in rowids {
            self.delete_row(&key, rowid, &mut log);
        }
        Ok(())
    }

    /// A table's AUTOINCREMENT counter: the largest key it ever handed out (SQLite's `sqlite_sequence`).
    pub fn autoincrement_sequence(&self, table: &str) -> Option<i64> {
        self.table(table).ok().map(|t| t.sequence)
    }

    /// Move a table's AUTOINCREMENT counter forward to at least `value` (PostgreSQL's `setval`): the next key it
    /// hands out is above it. Never moves it back.
    pub fn advance_autoincrement(&mut self, table: &str, value: i64) {
        let Some(t) = self.tables.get_mut(&table.to_ascii_lowercase()) else { return };
        if t.autoincrement && value > t.sequence {
            t.sequence = value;
            self.store.catalog_dirty = true;
        }
    }

    fn apply_logged(&mut self, change: &RowChange, log: &mut TxLog) -> Result<(), SqlError> {
        match change {
            RowChange::Insert { table, row } => {
                let t = self.table(table)?;
                let key = t.key.clone();
                let mut values = vec![Value::Null; t.columns.len()];
                assign(t, &mut values, row)?;
                self.insert_row(&key, values, log).map(drop)
            }
            RowChange::Update { table, key, row } => {
                let (name, rowid) = self.locate(table, key)?;
                let t = self.table(&name)?;
                let mut values = t.rows.get(&rowid).cloned().unwrap_or_default();
                assign(t, &mut values, row)?;
                let all: Vec<usize> = (0..t.columns.len()).collect();
                self.update_row(&name, rowid, values, &all, log).map(drop)
            }
            RowChange::Delete { table, key } => {
                let (name, rowid) = self.locate(table, key)?;
                self.delete_row(&name, rowid, log).map(drop).ok_or_else(|| SqlError::new("row vanished during delete"))
            }
            RowChange::Ddl { sql } => match parse_statement(sql)?.stmt {
                Stmt::CreateTable(ct) => self.create_table(&ct, log).map(drop),
                Stmt::CreateTrigger(ct) => self.create_trigger(&ct, log).map(drop),
                _ => Err(SqlError::new(format!("not a DDL statement: {sql}"))),
            },
        }
    }

    /// Lower-cased table name and rowid of the row with primary key `key`.
    fn locate(&self, table: &str, key: &Value) -> Result<(String, i64), SqlError> {
        let t = self.table(table)?;
        let rowid = t.rowid_for_key(key).ok_or_else(|| {
            SqlError::of(
                SqlErrorKind::NoSuchRow,
                format!("no such row: {} key {}", t.name, super::ast::display_value(key)),
            )
        })?;
        Ok((t.name.to_ascii_lowercase(), rowid))
    }

    /// Is this statement read-only? SELECT is, and so are BEGIN / COMMIT / ROLLBACK (as
    /// `sqlite3_stmt_readonly` says: they change no data). Parse errors are returned.
    pub fn is_read_only(sql: &str) -> Result<bool, SqlError> {
        Ok(matches!(parse_statement(sql)?.stmt, Stmt::Select(_) | Stmt::Begin { .. } | Stmt::Commit | Stmt::Rollback))
    }

    /// Table names as declared, sorted.
    pub fn table_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.tables.values().map(|t| t.name.clone()).collect();
        super::sort_values(&mut names);
        names
    }

    /// Column names of a table (case-insensitive lookup), in declaration order.
    pub fn columns(&self, table: &str) -> Option<Vec<String>> {
        self.table(table).ok().map(Table::column_names)
    }

    /// Run `f` with no limit on the work of each statement: for the replication machinery's own statements and
    /// a follower's replay of what its leader committed, which are not a person's and must not fail for their size
    /// (the limit is there so that a person's statement cannot freeze the page; see `MAX_STEPS` in `eval.rs`).
    pub fn without_work_limit<T>(&mut self, f: impl FnOnce(&mut Database) -> T) -> T {
        let was = std::mem::replace(&mut self.unlimited, true);
        let out = f(self);
        self.unlimited = was;
        out
    }

    /// A table's lower-cased name, shared with the table when it exists (no allocation per use).
    pub fn table_key(&self, table: &str) -> Arc<str> {
        self.table(table).map_or_else(|_| Arc::from(table.to_ascii_lowercase()), |t| Arc::clone(&t.key))
    }

    /// Rows in all tables (counted, not copied).
    pub fn row_count(&self) -> usize {
        self.tables.values().map(|t| t.rows.len()).sum()
    }

    /// Whether `table` has the same columns and the same rows under the same rowids here and in
    /// `other` (then [`Database::rows`] is the same for both), found without copying a row.
    pub fn same_rows(&self, other: &Database, table: &str) -> bool {
        match (self.table(table), other.table(table)) {
            (Ok(a), Ok(b)) => {
                a.columns.len() == b.columns.len()
                    && a.columns.iter().zip(&b.columns).all(|(x, y)| x.name == y.name)
                    && a.rows == b.rows
            }
            _ => false,
        }
    }

    /// Rows of a table as (column, value) lists, ordered by primary key (by rowid for an
    /// INTEGER PRIMARY KEY or no key): two replicas with the same rows list them alike.
    pub fn rows(&self, table: &str) -> Vec<Vec<(String, Value)>> {
        self.table(table)
            .map_or_else(|_| Vec::new(), |t| t.rows_in_key_order().into_iter().map(|r| t.pairs(r)).collect())
    }

    /// The row with primary key `key` as (column, value) pairs, found through the key index.
    pub fn row_by_key(&self, table: &str, key: &Value) -> Option<Vec<(String, Value)>> {
        let t = self.table(table).ok()?;
        let rowid = t.rowid_for_key(key)?;
        t.rows.get(&rowid).map(|r| t.pairs(r))
    }

    /// `{table: [{col: value, ...}, ...]}`, rows ordered by primary key: the report format.
    pub fn tables_json(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut out = serde_json::Map::new();
        for t in self.tables.values() {
            let rows = t
                .rows_in_key_order()
                .into_iter()
                .map(|r| {
                    let obj = t.columns.iter().zip(r).map(|(c, v)| (c.name.clone(), v.to_json())).collect();
                    serde_json::Value::Object(obj)
                })
                .collect();
            out.insert(t.name.clone(), serde_json::Value::Array(rows));
        }
        out
    }

    /// Write what `serde_json` writes for [`Database::tables_json`], byte for byte, from the rows
    /// themselves: no JSON value of a whole table is built.
    pub fn write_tables_json(&self, out: &mut impl std::io::Write) -> std::io::Result<()> {
        // A JSON object's keys come out sorted (`serde_json::Map` is a B-tree), the last of equal ones kept.
        fn sorted_keys<'k>(keys: impl Iterator<Item = &'k str>) -> Vec<(usize, &'k str)> {
            let mut keys: Vec<(usize, &str)> = keys.enumerate().collect();
            keys.sort_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(&a.0)));
            keys.dedup_by(|later, first| later.1 == first.1);
            keys
        }
        let tables: Vec<&Table> = self.tables.values().collect();
        out.write_all(b"{")?;
        for (i, (t, name)) in sorted_keys(tables.iter().map(|t| t.name.as_str())).into_iter().enumerate() {
            let table = tables[t];
            if i > 0 {
                out.write_all(b",")?;
            }
            serde_json::to_writer(&mut *out, name)?;
            out.write_all(b":[")?;
            let columns = sorted_keys(table.columns.iter().map(|c| c.name.as_str()));
            for (j, row) in table.rows_in_key_order().into_iter().enumerate() {
                out.write_all(if j > 0 { b",{" } else { b"{" })?;
                let present = columns.iter().filter_map(|&(c, column)| Some((column, row.get(c)?)));
                for (k, (column, value)) in present.enumerate() {
                    if k > 0 {
                        out.write_all(b",")?;
                    }
                    serde_json::to_writer(&mut *out, column)?;
                    out.write_all(b":")?;
                    serde_json::to_writer(&mut *out, &value.to_json())?;
                }
                out.write_all(b"}")?;
            }
            out.write_all(b"]")?;
        }
        out.write_all(b"}")
    }

    /// The name of a table's declared primary key column.
    pub fn primary_key_column(&self, table: &str) -> Option<String> {
        let t = self.table(table).ok()?;
        t.columns.get(t.primary_key?).map(|c| c.name.clone())
    }

    /// The primary key value of a row given as (column, value) pairs; `None` when the table
    /// is unknown, has no declared primary key, or the row lacks it.
    pub fn primary_key_of(&self, table: &str, row: &[(String, Value)]) -> Option<Value> {
        let t = self.table(table).ok()?;
        let pk = t.columns.get(t.primary_key?)?;
        row.iter().find(|(c, _)| c.eq_ignore_ascii_case(&pk.name)).map(|(_, v)| v.clone())
    }

    /// The schema as normalised SQL: CREATE TABLE statements, then CREATE TRIGGER statements
    /// in creation order. Replaying them on an empty database recreates the schema (used to
    /// seed a follower from a snapshot).
    /// The CREATE TABLE statement of one table (normalised), if it exists.
    pub fn table_sql(&self, table: &str) -> Option<String> {
        self.table(table).ok().map(|t| t.sql.clone())
    }

    pub fn schema(&self) -> Vec<String> {
        let tables = self.tables.values().map(|t| t.sql.clone());
        tables.chain(self.triggers.iter().map(|t| t.sql.clone())).collect()
    }
}

/// Write (column, value) pairs into a row of `t`.
fn assign(t: &Table, values: &mut [Value], row: &[(String, Value)]) -> Result<(), SqlError> {
    for (column, value) in row {
        let i = t
            .column_index(column)
            .ok_or_else(|| SqlError::new(format!("table {} has no column named {column}", t.name)))?;
        if let Some(slot) = values.get_mut(i) {
            *slot = value.clone();
        }
    }
    Ok(())
}
