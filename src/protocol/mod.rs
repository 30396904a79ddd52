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

/// What a client gets back.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct OpResult {
    pub ok: bool,
    pub error: Option<String>,
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
    pub fn error(message: impl Into<String>) -> Self {
        OpResult { error: Some(message.into()), ..OpResult::default() }
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
