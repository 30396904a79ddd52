//! The replication log: how a leader turns a committed transaction into records, and how a follower applies them.
//! One trait, one implementation per method of DDIA 5.1 "Implementation of Replication Logs". This build has:
//!
//! - **statement**: the SQL text of every data-changing statement; followers execute it again with their own clock
//!   and random numbers, so NOW()/RAND()/UUID() diverge unless the leader substitutes the values it used.
//!   With `statement_mixed` (MySQL's MIXED format) each unsafe statement goes as the row images it produced, and
//!   the safe statements of the same transaction stay SQL text, in one record that keeps the transaction's order.
//! - **logical**: row images keyed by primary key (insert: all columns; update: key + new values; delete: key),
//!   closed by a commit record; followers write those rows, so nondeterminism cannot leak.
//! - **wal**: the bytes the storage engine wrote to its pages, tagged with its storage format; followers write the same
//!   bytes (so their pages are identical) and refuse bytes of another format.
//! - **trigger** does not ship this log at all: triggers fill a changes table that a replicator process polls (see
//!   `trigger.rs`); the leader keeps a row-based log for itself.
//!
//! One file per method: `statement.rs`, `wal.rs`, `logical.rs`, `trigger.rs`.

mod logical;
mod statement;
pub mod trigger;
mod wal;

pub use logical::LogicalLog;
pub use statement::StatementLog;
pub use wal::WalLog;

use crate::scenario::LogKind;
use crate::sql::{Database, Env, PageWrite, RowChange, SqlError, Value};

#[derive(Clone, Debug, PartialEq)]
pub enum LogRecord {
    /// The text of each data-changing statement of the transaction.
    Statement { statements: Vec<String> },
    /// The bytes the leader's storage engine wrote to its pages, in its storage format.
    Wal { format: u8, writes: Vec<PageWrite> },
    /// Row images keyed by primary key, closed by a commit record.
    Logical { changes: Vec<RowChange> },
    /// MySQL's MIXED format, for a transaction with a statement that is not safe to replay: every statement in the
    /// transaction's order, each logged the way that is safe for it, closed by one commit.
    Mixed { parts: Vec<MixedPart> },
}

/// One statement of a MIXED-format transaction.
#[derive(Clone, Debug, PartialEq)]
pub enum MixedPart {
    /// A statement that is safe to replay: its SQL text, run again by the followers.
    Statement(String),
    /// An unsafe statement (NOW(), RAND(), UUID()…): the row images it produced on the leader. The text is kept to
    /// label the record; it is not shipped (MySQL's row events do not carry it either).
    Rows { statement: String, changes: Vec<RowChange> },
}

/// One entry of the leader's ordered log.
#[derive(Clone, Debug, PartialEq)]
pub struct LogEntry {
    pub lsn: u64,
    /// The epoch (term) of the leader that wrote it.
    pub epoch: u64,
    pub record: LogRecord,
    /// The history index of the client operation that produced it.
    pub origin: Option<usize>,
    /// Rows the leader touched when it executed the transaction: (table, primary key), the table by its
    /// lower-cased name, shared with the database ([`crate::sql::Database::table_key`]). Used to name the
    /// operations behind a divergence, whatever the log method.
    pub keys: Vec<(std::sync::Arc<str>, Value)>,
    /// True time the leader committed it (for replication lag in milliseconds; not shipped bytes).
    pub committed_at: crate::world::time::Micros,
}

/// What the leader's storage engine did for one committed transaction: everything a log method may encode.
pub struct Committed<'a> {
    pub statements: &'a [String],
    pub changes: &'a [RowChange],
    /// `ends[i]`: how many of `changes` there were once statement i was done (see `sql::Commit::ends`).
    pub ends: &'a [usize],
    pub pages: Vec<PageWrite>,
    pub format: u8,
}

pub trait ReplicationLog {
    fn kind(&self) -> LogKind;
    /// Turn what the leader executed into a log record.
    fn encode(&self, committed: Committed) -> LogRecord;
    /// Does the leader ship its log to followers and CDC consumers? Trigger-based replication does not: its
    /// triggers fill a changes table that a replicator process reads.
    fn ships_log(&self) -> bool {
        true
    }
    /// Does the leader capture each change in a table for an external replicator (trigger-based replication)?
    fn captures_changes(&self) -> bool {
        !self.ships_log()
    }
    /// Are the storage engine's page writes the log (WAL shipping)? Then pages are written at each commit and
    /// never flushed in between; other methods leave dirty pages to the next checkpoint.
    fn pages_are_the_log(&self) -> bool {
        false
    }
    /// Does the leader rewrite NOW(), RAND() and UUID() into the values it used before logging the statement?
    /// Only a statement log can, when `substitution` is configured.
    fn substitutes(&self, _substitution: bool) -> bool {
        false
    }
    /// Apply a record on a follower, with the follower's own environment.
    fn apply(&self, db: &mut Database, record: &LogRecord, env: &mut dyn Env) -> Result<(), SqlError> {
        apply_record(db, record, env)
    }
}

/// Apply any record to a follower's database. Statements run again with the follower's clock and random numbers;
/// page bytes are written as they are (refused by a node on another storage format); row images are written by key.
/// A follower replays what its leader committed without the per-statement work limit (as a replica's SQL thread
/// runs without the client's timeouts): the leader's statement passed it, and a replica must not refuse it.
pub fn apply_record(db: &mut Database, record: &LogRecord, env: &mut dyn Env) -> Result<(), SqlError> {
    db.without_work_limit(|db| apply_record_in(db, record, env))
}

fn apply_record_in(db: &mut Database, record: &LogRecord, env: &mut dyn Env) -> Result<(), SqlError> {
    match record {
        LogRecord::Statement { statements } => {
            // A multi-statement transaction is replayed as one transaction, as MySQL's binlog does.
            let mut session = crate::sql::Session::default();
            let wrap = statements.len() > 1;
            if wrap {
                db.execute("BEGIN", &mut session, env)?;
            }
            for s in statements {
                if let Err(e) = db.execute(s, &mut session, env) {
                    if wrap {
                        let _ = db.execute("ROLLBACK", &mut session, env);
                    }
                    return Err(e);
                }
            }
            if wrap {
                db.execute("COMMIT", &mut session, env)?;
            }
            Ok(())
        }
        LogRecord::Wal { format, writes } => db.apply_page_writes(*format, writes),
        LogRecord::Logical { changes } => changes.iter().try_for_each(|c| db.apply_change(c)),
        LogRecord::Mixed { parts } => {
            // One transaction, in the leader's order: statements run again, row images are written as they are.
            let mut session = crate::sql::Session::default();
            db.execute("BEGIN", &mut session, env)?;
            let applied = parts.iter().try_for_each(|p| match p {
                MixedPart::Statement(s) => db.execute(s, &mut session, env).map(drop),
                MixedPart::Rows { changes, .. } => changes.iter().try_for_each(|c| db.apply_change_in(c, &mut session)),
            });
            match applied {
                Ok(()) => db.execute("COMMIT", &mut session, env).map(drop),
                Err(e) => {
                    db.close_session(&mut session);
                    Err(e)
                }
            }
        }
    }
}

/// The log method for a scenario's `replication.log`. Trigger-based replication does not ship the leader's log
/// (its replicator reads the changes table instead); the leader still keeps a row-based log of its own.
/// The log method of `kind`: the one place that maps a scenario's `replication.log` to its behaviour.
pub fn method(kind: LogKind, statement_mixed: bool) -> &'static dyn ReplicationLog {
    match kind {
        LogKind::Statement if statement_mixed => &StatementLog { mixed: true },
        LogKind::Statement => &StatementLog { mixed: false },
        LogKind::Wal => &WalLog,
        LogKind::Logical => &LogicalLog,
        LogKind::Trigger => &trigger::TriggerLog,
    }
}

/// A value as SQL source text (strings quoted and escaped), for statements a node builds itself.
pub fn sql_literal(v: &Value) -> String {
    match v {
        Value::Text(s) => format!("'{}'", s.replace('\'', "''")),
        other => value_text(other),
    }
}

/// The first bytes of a page write as hex, the way the comparison view draws WAL records.
pub fn hex_preview(bytes: &[u8], max: usize) -> String {
    let mut s = String::with_capacity(max * 3 + 1);
    for (i, b) in bytes.iter().take(max).enumerate() {
        if i > 0 {
            s.push(' ');
        }
        const HEX: &[u8; 16] = b"0123456789abcdef";
        s.push(HEX[(b >> 4) as usize] as char);
        s.push(HEX[(b & 15) as usize] as char);
    }
    if bytes.len() > max {
        s.push('…');
    }
    s
}

/// A value as a person reads it on a token: numbers plain, text quoted.
pub fn value_text(v: &Value) -> String {
    match v {
        Value::Null => "NULL".to_string(),
        Value::Integer(i) => i.to_string(),
        Value::Real(r) => format!("{r}"),
        Value::Text(s) => format!("'{s}'"),
    }
}

fn value_bytes(v: &Value) -> usize {
    match v {
        Value::Null => 1,
        Value::Integer(_) | Value::Real(_) => 8,
        Value::Text(s) => 4 + s.len(),
    }
}

impl LogRecord {
    /// Bytes on the wire, estimated from the encoding each method would use.
    pub fn size_bytes(&self) -> usize {
        match self {
            LogRecord::Statement { statements } => statements.iter().map(|s| 8 + s.len()).sum::<usize>() + 8,
            // Page number, offset and length before each run of bytes; a commit record closes the transaction.
            LogRecord::Wal { writes, .. } => writes.iter().map(|w| 8 + w.bytes.len()).sum::<usize>() + 16,
            LogRecord::Logical { changes } => changes_bytes(changes) + 16, // the commit record
            // Statements as a statement log sends them, row images as a row log does (without the statement's
            // text), and one commit record.
            LogRecord::Mixed { parts } => {
                let body: usize = parts
                    .iter()
                    .map(|p| match p {
                        MixedPart::Statement(s) => 8 + s.len(),
                        MixedPart::Rows { changes, .. } => changes_bytes(changes),
                    })
                    .sum();
                body + 16
            }
        }
    }

    /// A short label for message tokens and the trace.
    pub fn describe(&self) -> String {
        match self {
            LogRecord::Statement { statements } => {
                let first = statements.first().map(String::as_str).unwrap_or("");
                let mut s: String = first.chars().take(40).collect();
                if first.chars().count() > 40 {
                    s.push('…');
                }
                if statements.len() > 1 {
                    s.push_str(&format!(" (+{})", statements.len() - 1));
                }
                s
            }
            LogRecord::Wal { format, writes } => {
                let parts: Vec<String> = writes
                    .iter()
                    .take(2)
                    .map(|w| format!("p{}@{} {}", w.page, w.offset, hex_preview(&w.bytes, 4)))
                    .collect();
                let more = if writes.len() > 2 { format!(" (+{})", writes.len() - 2) } else { String::new() };
                format!("f{format} {}{more}", parts.join(", "))
            }
            LogRecord::Logical { changes } => format!("{}; commit", changes_label(changes.iter(), 2)),
            LogRecord::Mixed { parts } => {
                if parts.iter().all(|p| matches!(p, MixedPart::Rows { .. })) {
                    // Every statement was unsafe: the transaction is row images only.
                    let all = parts.iter().flat_map(|p| match p {
                        MixedPart::Rows { changes, .. } => changes.as_slice(),
                        MixedPart::Statement(_) => &[],
                    });
                    return format!("rows (unsafe stmt): {}; commit", changes_label(all, 2));
                }
                // Each statement the way it travels, in the transaction's order.
                let each: Vec<String> = parts
                    .iter()
                    .map(|p| match p {
                        MixedPart::Statement(s) => {
                            let mut t: String = s.chars().take(24).collect();
                            if s.chars().count() > 24 {
                                t.push('…');
                            }
                            t
                        }
                        MixedPart::Rows { changes, .. } => format!("rows: {}", changes_label(changes.iter(), 1)),
                    })
                    .collect();
                format!("{}; commit", each.join(" · "))
            }
        }
    }
}

/// Bytes of row images on the wire: table name, key and column values.
fn changes_bytes(changes: &[RowChange]) -> usize {
    changes
        .iter()
        .map(|c| match c {
            RowChange::Insert { table, row } => {
                8 + table.len() + row.iter().map(|(_, v)| value_bytes(v)).sum::<usize>()
            }
            RowChange::Update { table, key, row } => {
                8 + table.len() + value_bytes(key) + row.iter().map(|(_, v)| value_bytes(v)).sum::<usize>()
            }
            RowChange::Delete { table, key } => 8 + table.len() + value_bytes(key),
            RowChange::Ddl { sql } => 8 + sql.len(),
        })
        .sum()
}

/// The first `shown` row changes as a token shows them (`insert orders 3, update orders 1 (+2)`).
fn changes_label<'a>(changes: impl Iterator<Item = &'a RowChange>, shown: usize) -> String {
    let mut parts = Vec::new();
    let mut total = 0;
    for c in changes {
        total += 1;
        if parts.len() < shown {
            parts.push(match c {
                RowChange::Insert { table, row } => {
                    format!("insert {table} {}", row.first().map(|(_, v)| value_text(v)).unwrap_or_default())
                }
                RowChange::Update { table, key, .. } => format!("update {table} {}", value_text(key)),
                RowChange::Delete { table, key } => format!("delete {table} {}", value_text(key)),
                RowChange::Ddl { .. } => "ddl".to_string(),
            });
        }
    }
    let more = if total > parts.len() { format!(" (+{})", total - parts.len()) } else { String::new() };
    format!("{}{more}", parts.join(", "))
}
