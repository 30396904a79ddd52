//! Replication protocols, and what every protocol shares with the world that runs it.
//!
//! The world (`crate::world`) owns time, the network and the clients; a protocol is the behaviour of the database
//! processes: I/O-free state machines that take the simulated time and one input (a message, a timer, a client's
//! request) and return effects (send, set a timer, a note for the trace). Only the world interprets effects.
//!
//! - `single_leader/`: DDIA 5.1 and 5.2, one folder, one file per section.
//! - `partitions.rs`: which replication group (partition) a statement belongs to.

pub mod partitions;
pub mod single_leader;

use crate::sql::{Outcome, StatementKind, Value};

/// The state of a process.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    Running,
    Crashed,
    Paused,
    /// Replication stopped on an error it cannot get past (e.g. a replayed statement failed).
    Halted,
    /// Not part of the cluster yet: a node that an `add_node` command brings in later.
    Absent,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Running => "running",
            Status::Crashed => "crashed",
            Status::Paused => "paused",
            Status::Halted => "halted",
            Status::Absent => "absent",
        }
    }
}

/// Who is at the other end of a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Endpoint {
    Node(usize),
    Client(usize),
}

/// Why an operation failed. The text (`Display`) is what the client history, the trace and the report show; the
/// variant is what checkers and views decide on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OpError {
    /// No answer within the client's timeout: the outcome is unknown (the write may or may not have happened).
    TimedOut { after_ms: u64 },
    /// A write sent to a replica that does not take writes.
    NotLeader { node: String },
    /// A write sent to a leader in the middle of a planned handover.
    HandingOver { node: String },
    /// A read the replica would not serve (behind the client's token, or lagging more than its bound); the client
    /// retries it at the leader.
    PassedOn { why: String },
    /// The statement itself failed (SQL error, constraint, no such table).
    Sql(String),
    /// The client could not route the statement to a partition.
    Router(String),
}

impl OpError {
    /// An error of the statement (the database was there and said no), not of availability.
    pub fn is_statement_error(&self) -> bool {
        matches!(self, OpError::Sql(_) | OpError::Router(_))
    }
}

impl std::fmt::Display for OpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OpError::TimedOut { after_ms } => {
                write!(f, "timed out after {after_ms}ms without an answer: the outcome is unknown")
            }
            OpError::NotLeader { node } => {
                write!(f, "cannot execute a write on {node}: it is a read-only follower (send writes to the leader)")
            }
            OpError::HandingOver { node } => {
                write!(f, "{node} is handing leadership over (planned failover): retry shortly")
            }
            OpError::PassedOn { why } => f.write_str(why),
            OpError::Sql(message) => f.write_str(message),
            OpError::Router(message) => write!(f, "router: {message}"),
        }
    }
}

/// What a client gets back.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct OpResult {
    pub ok: bool,
    pub error: Option<OpError>,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Value>>,
    pub rows_affected: u64,
    pub last_insert_id: Option<i64>,
    pub lsn: Option<u64>,
    pub read_only: bool,
    /// Rows this write inserted, as (`table:key`, row text): what an application would put in a cache.
    pub inserted: Vec<(String, String)>,
    /// "This node is not the leader; try that one."
    pub redirect: Option<usize>,
    /// For a cache read: whose row the cache returned.
    pub owner: Option<String>,
    /// For a read: the log position of the state it saw.
    pub served_lsn: Option<u64>,
    /// "Ask that node instead" (a follower too far behind for this read passes it to the leader).
    pub retry: Option<usize>,
    /// Filled in by the client: (partition, LSN) of each part of the state the operation saw or wrote.
    pub served: Vec<(usize, u64)>,
}

impl OpResult {
    pub fn error(error: OpError) -> Self {
        OpResult { error: Some(error), ..OpResult::default() }
    }
    pub(crate) fn from_outcome(o: Outcome, lsn: Option<u64>) -> Self {
        OpResult {
            ok: true,
            read_only: o.kind == StatementKind::Select,
            columns: o.columns,
            rows: o.rows,
            rows_affected: o.rows_affected,
            last_insert_id: o.last_insert_id,
            lsn,
            ..OpResult::default()
        }
    }
}
