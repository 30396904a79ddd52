//! The replication log: how a leader turns a committed transaction into records, and how a follower applies them.
//! One trait, one implementation per method of DDIA 5.1 "Implementation of Replication Logs". This build has:
//!
//! - **statement**: the SQL text of every data-changing statement; followers execute it again with their own clock
//!   and random numbers, so NOW()/RAND()/UUID() diverge unless the leader substitutes the values it used.
//! - **logical**: row images keyed by primary key (insert: all columns; update: key + new values; delete: key),
//!   closed by a commit record; followers write those rows, so nondeterminism cannot leak.
//!
//! WAL shipping and trigger-based replication plug in here too (they are the next step of the roadmap).

use crate::scenario::LogKind;
use crate::sql::{Database, Env, RowChange, SqlError, Value};

#[derive(Clone, Debug, PartialEq)]
pub enum LogRecord {
    Statement { statements: Vec<String> },
    Logical { changes: Vec<RowChange> },
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
    /// Rows the leader touched when it executed the transaction: (table, primary key). Used to name the
    /// operations behind a divergence, whatever the log method.
    pub keys: Vec<(String, Value)>,
    /// True time the leader committed it (for replication lag in milliseconds; not shipped bytes).
    pub committed_at: crate::time::Micros,
}

pub trait ReplicationLog {
    fn kind(&self) -> LogKind;
    /// Turn what the leader executed into a log record.
    fn encode(&self, statements: &[String], changes: &[RowChange]) -> LogRecord;
    /// Apply a record on a follower, with the follower's own environment.
    fn apply(&self, db: &mut Database, record: &LogRecord, env: &mut dyn Env) -> Result<(), SqlError>;
}

pub struct StatementLog;
pub struct LogicalLog;

impl ReplicationLog for StatementLog {
    fn kind(&self) -> LogKind {
        LogKind::Statement
    }
    fn encode(&self, statements: &[String], _changes: &[RowChange]) -> LogRecord {
        LogRecord::Statement { statements: statements.to_vec() }
    }
    fn apply(&self, db: &mut Database, record: &LogRecord, env: &mut dyn Env) -> Result<(), SqlError> {
        let LogRecord::Statement { statements } = record else {
            return Err(mismatch("statement"));
        };
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
}

impl ReplicationLog for LogicalLog {
    fn kind(&self) -> LogKind {
        LogKind::Logical
    }
    fn encode(&self, _statements: &[String], changes: &[RowChange]) -> LogRecord {
        LogRecord::Logical { changes: changes.to_vec() }
    }
    fn apply(&self, db: &mut Database, record: &LogRecord, _env: &mut dyn Env) -> Result<(), SqlError> {
        let LogRecord::Logical { changes } = record else {
            return Err(mismatch("logical"));
        };
        changes.iter().try_for_each(|c| db.apply_change(c))
    }
}

fn mismatch(expected: &str) -> SqlError {
    SqlError { message: format!("log record is not a {expected} record") }
}

pub fn method(kind: LogKind) -> &'static dyn ReplicationLog {
    match kind {
        LogKind::Statement => &StatementLog,
        // Scenario validation refuses wal and trigger until they exist.
        LogKind::Logical | LogKind::Wal | LogKind::Trigger => &LogicalLog,
    }
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
            LogRecord::Logical { changes } => {
                let body: usize = changes
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
                    .sum();
                body + 16 // the commit record
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
            LogRecord::Logical { changes } => {
                let parts: Vec<String> = changes
                    .iter()
                    .take(2)
                    .map(|c| match c {
                        RowChange::Insert { table, row } => {
                            format!("insert {table} {}", row.first().map(|(_, v)| value_text(v)).unwrap_or_default())
                        }
                        RowChange::Update { table, key, .. } => format!("update {table} {}", value_text(key)),
                        RowChange::Delete { table, key } => format!("delete {table} {}", value_text(key)),
                        RowChange::Ddl { .. } => "ddl".to_string(),
                    })
                    .collect();
                let more = if changes.len() > 2 { format!(" (+{})", changes.len() - 2) } else { String::new() };
                format!("{}{more}; commit", parts.join(", "))
            }
        }
    }
}
