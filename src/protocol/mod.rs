//! Replication protocols, and what every protocol shares with the world that runs it.
//!
//! The world (`crate::world`) owns true time, the event queue, the network, the processes' lives (running, paused,
//! crashed), the clients' history and the trace. It knows processes and messages, not leaders. A protocol is
//! everything else: the database processes as I/O-free state machines, and the client library that decides where a
//! client's statement goes. The world talks to the protocol through one enum, [`Protocol`], whose methods are the
//! whole interface: start / message / timer / crash handlers and client requests that return [`Action`]s, commands
//! that only the protocol understands (add a node, fail over), and [`Protocol::observe`], which gives views and
//! checkers what every protocol can say about a node (its role badge, its version, whether it takes writes).
//! One enum rather than a generic world: the world stays one `Clone` type for checkpoints, and the wasm carries
//! one copy of it.
//!
//! - `single_leader/`: DDIA 5.1 and 5.2, one folder, one file per section.
//! - `partitions.rs`: which replication group (partition) a statement belongs to.
//!
//! A new protocol (multi-leader, leaderless) is a folder next to `single_leader/` and one variant in each of
//! [`Protocol`], [`Message`] and [`Timer`].

pub mod leaderless;
pub mod multi_leader;
pub mod partitions;
pub mod single_leader;

use crate::scenario::{Command, Role, Scenario};
use crate::sql::{Outcome, StatementKind, Value};
use crate::world::sim::{HistoryEntry, SetupError};
use crate::world::time::Micros;
use crate::world::trace::{MsgKind, Name, TraceEvent};

/// The replicated system a run simulates: one variant per protocol. The world calls only these methods.
#[derive(Clone, Debug)]
pub enum Protocol {
    SingleLeader(single_leader::Cluster),
    Leaderless(leaderless::Cluster),
    /// DDIA 5.3: a leader per datacenter; inside each, the single-leader machinery.
    MultiLeader(Box<multi_leader::Cluster>),
}

/// A message between endpoints, of whichever protocol runs.
// Single-leader payloads are the large ones and the most frequent: boxing them would cost every message.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq)]
pub enum Message {
    SingleLeader(single_leader::Payload),
    Leaderless(leaderless::Msg),
    /// Between leaders (multi-leader replication); inside a datacenter its messages are single-leader ones.
    MultiLeader(multi_leader::Payload),
}

/// A timer a process set, of whichever protocol runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Timer {
    SingleLeader(single_leader::Timer),
    Leaderless(leaderless::Timer),
}

/// What the protocol asks the world to do.
// Built and consumed at once, never stored in bulk.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Put a message on the network; `delay` is added to the network's latency (service discovery's propagation).
    Send {
        from: Endpoint,
        to: Endpoint,
        msg: Message,
        delay: Micros,
    },
    /// Wake process `node` at `at` (ignored if the process crashed in between).
    SetTimer {
        node: usize,
        at: Micros,
        timer: Timer,
    },
    Trace(TraceEvent),
    /// The process stops as if crashed (a split-brain guard shut it down): what it had parked is lost.
    Stop {
        node: usize,
    },
    /// Client operation `op` has its answer.
    Finish {
        op: usize,
        result: OpResult,
    },
    /// Client operation `op` is now with `node` (passed on to another replica).
    Reassign {
        op: usize,
        node: usize,
    },
    /// Wake client library `client` at `at` (a leaderless client that coordinates its own quorums waits this long).
    SetClientTimer {
        client: usize,
        at: Micros,
        timer: Timer,
    },
}

/// Where the client library sends a new statement.
#[derive(Clone, Debug, PartialEq)]
pub struct Routed {
    /// The client's guess at whether it reads (the node decides for real).
    pub read: bool,
    /// The node the operation is recorded against (the first it goes to).
    pub node: usize,
    /// The client refused it without sending anything.
    pub refused: Option<OpError>,
    pub actions: Vec<Action>,
}

/// What a protocol did with a command.
#[derive(Clone, Debug, PartialEq)]
pub enum CommandOutcome {
    /// Not this protocol's command, or nothing to do (an unknown node, a node already there).
    Ignored,
    Actions(Vec<Action>),
    /// A client operation: the world records it in the history, starts its timeout, then acts.
    Operation {
        client: usize,
        sql: String,
        routed: Routed,
    },
}

/// A point in a replica's history, comparable with another replica's: an LSN within one replication group's log
/// under single-leader replication; a version vector or a timestamp under the protocols to come.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Version {
    Lsn {
        group: usize,
        lsn: u64,
    },
    /// Leaderless replication: the join of the version vectors of everything a replica holds (actor, counter).
    Vector(Vec<(usize, u64)>),
}

impl Version {
    /// Does a replica at `self` reflect everything of `other`? `None` when the two are not comparable (different
    /// groups' logs).
    pub fn covers(&self, other: &Version) -> Option<bool> {
        match (self, other) {
            (Version::Lsn { group: a, lsn: x }, Version::Lsn { group: b, lsn: y }) => (a == b).then_some(x >= y),
            (Version::Vector(a), Version::Vector(b)) => {
                Some(b.iter().all(|(k, v)| a.iter().any(|(ka, va)| ka == k && va >= v)))
            }
            _ => None,
        }
    }

    pub fn label(&self) -> String {
        match self {
            Version::Lsn { lsn, .. } => format!("lsn {lsn}"),
            Version::Vector(v) => format!("vv {}", v.iter().map(|(_, c)| c).sum::<u64>()),
        }
    }

    /// The label with the replication group it belongs to (`p2@7`: partition 2, LSN 7).
    pub fn label_in_group(&self) -> String {
        match self {
            Version::Lsn { group, lsn } => format!("p{}@{lsn}", group + 1),
            Version::Vector(_) => self.label(),
        }
    }
}

/// What any protocol can say about one of its nodes, for views and checkers.
#[derive(Clone, Debug, PartialEq)]
pub struct Observation {
    pub role: Role,
    pub status: Status,
    /// How far its data goes.
    pub version: Version,
    /// It takes writes right now (a leader that is running or stalled).
    pub takes_writes: bool,
    /// The replication group it belongs to.
    pub group: usize,
}

impl Protocol {
    /// Build the processes and clients of `scenario` (nodes that `add_node` brings in later exist from the start,
    /// absent; `commands` says which).
    pub fn new(
        scenario: &std::rc::Rc<Scenario>,
        seed: u64,
        commands: &crate::world::sim::Commands,
    ) -> Result<Self, SetupError> {
        if let Some(spec) = &scenario.replication.leaderless {
            return leaderless::Cluster::new(scenario, seed, spec).map(Protocol::Leaderless);
        }
        if scenario.multi_leader.is_some() {
            return multi_leader::Cluster::new(scenario, seed, commands).map(|c| Protocol::MultiLeader(Box::new(c)));
        }
        single_leader::Cluster::new(scenario, seed, commands).map(Protocol::SingleLeader)
    }

    /// Every endpoint's name, nodes first, then clients.
    pub fn names(&self) -> std::rc::Rc<[Name]> {
        match self {
            Protocol::SingleLeader(c) => c.names.clone(),
            Protocol::Leaderless(c) => c.names.clone(),
            Protocol::MultiLeader(c) => c.inner.names.clone(),
        }
    }

    /// The single-leader cluster, for the views and checkers of DDIA 5.1 and 5.2; `None` under a protocol that
    /// is not single-leader (each caller says what it shows then).
    pub fn single_leader(&self) -> Option<&single_leader::Cluster> {
        match self {
            Protocol::SingleLeader(c) => Some(c),
            // Each datacenter is one replication group of the single-leader machinery: views draw them as such.
            Protocol::MultiLeader(c) => Some(&c.inner),
            Protocol::Leaderless(_) => None,
        }
    }

    pub fn single_leader_mut(&mut self) -> Option<&mut single_leader::Cluster> {
        match self {
            Protocol::SingleLeader(c) => Some(c),
            Protocol::MultiLeader(c) => Some(&mut c.inner),
            Protocol::Leaderless(_) => None,
        }
    }

    /// The leaderless cluster (DDIA 5.4), for its views, report fields and checkers.
    pub fn leaderless(&self) -> Option<&leaderless::Cluster> {
        match self {
            Protocol::Leaderless(c) => Some(c),
            Protocol::SingleLeader(_) | Protocol::MultiLeader(_) => None,
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Protocol::SingleLeader(c) => c.nodes.len(),
            Protocol::Leaderless(c) => c.nodes.len(),
            Protocol::MultiLeader(c) => c.inner.nodes.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn node_index(&self, id: &str) -> Option<usize> {
        match self {
            Protocol::SingleLeader(c) => c.nodes.iter().position(|n| n.id == id),
            Protocol::Leaderless(c) => c.nodes.iter().position(|n| n.id == id),
            Protocol::MultiLeader(c) => c.inner.nodes.iter().position(|n| n.id == id),
        }
    }

    pub fn status(&self, node: usize) -> Status {
        match self {
            Protocol::SingleLeader(c) => c.nodes[node].status,
            Protocol::Leaderless(c) => c.nodes[node].status,
            Protocol::MultiLeader(c) => c.inner.nodes[node].status,
        }
    }

    /// Bumped at every crash: timers set by an earlier life of the process are ignored.
    pub fn incarnation(&self, node: usize) -> u64 {
        match self {
            Protocol::SingleLeader(c) => c.nodes[node].incarnation,
            Protocol::Leaderless(c) => c.nodes[node].incarnation,
            Protocol::MultiLeader(c) => c.inner.nodes[node].incarnation,
        }
    }

    /// The process stops: volatile state is lost, durable state stays.
    pub fn crash(&mut self, node: usize) {
        match self {
            Protocol::SingleLeader(c) => c.nodes[node].crash(),
            Protocol::Leaderless(c) => c.crash(node),
            Protocol::MultiLeader(c) => c.inner.nodes[node].crash(),
        }
    }

    pub fn pause(&mut self, node: usize) {
        match self {
            Protocol::SingleLeader(c) => c.nodes[node].status = Status::Paused,
            Protocol::Leaderless(c) => c.nodes[node].status = Status::Paused,
            Protocol::MultiLeader(c) => c.inner.nodes[node].status = Status::Paused,
        }
    }

    /// The process runs again after a pause or a crash (halted again if it had halted on an error).
    pub fn revive(&mut self, node: usize) {
        match self {
            Protocol::SingleLeader(c) => {
                let n = &mut c.nodes[node];
                n.status = if n.halt_error.is_some() { Status::Halted } else { Status::Running };
            }
            Protocol::Leaderless(c) => c.nodes[node].status = Status::Running,
            Protocol::MultiLeader(c) => {
                let n = &mut c.inner.nodes[node];
                n.status = if n.halt_error.is_some() { Status::Halted } else { Status::Running };
            }
        }
    }

    /// A crashed replica's data is replaced by a copy of replica `from`'s (leaderless only: returns false, and
    /// changes nothing, under the other protocols).
    pub fn restore(&mut self, node: usize, from: usize, now: Micros) -> bool {
        match self {
            Protocol::Leaderless(c) => c.restore(node, from, now),
            Protocol::SingleLeader(_) | Protocol::MultiLeader(_) => false,
        }
    }

    /// A rolling upgrade's step: the (stopped) process's files are rewritten in storage format `format`.
    pub fn upgrade_storage(&mut self, node: usize, format: u8) -> Result<(), String> {
        match self {
            Protocol::SingleLeader(c) => c.nodes[node].upgrade_storage(format),
            Protocol::Leaderless(_) => Err(format!(
                "storage format {format}: leaderless replicas keep versions, not pages (nothing to rewrite)"
            )),
            Protocol::MultiLeader(c) => c.inner.nodes[node].upgrade_storage(format),
        }
    }

    pub fn on_start(&mut self, node: usize, now: Micros) -> Vec<Action> {
        match self {
            Protocol::SingleLeader(c) => c.on_start(node, now),
            Protocol::Leaderless(c) => c.on_start(node, now),
            Protocol::MultiLeader(c) => c.on_start(node, now),
        }
    }

    pub fn on_message(&mut self, node: usize, now: Micros, from: Endpoint, msg: Message) -> Vec<Action> {
        match (self, msg) {
            (Protocol::SingleLeader(c), Message::SingleLeader(p)) => c.on_message(node, now, from, p),
            (Protocol::MultiLeader(c), msg) => c.on_message(node, now, from, msg),
            (Protocol::Leaderless(c), Message::Leaderless(m)) => c.on_message(node, now, from, m),
            // Another protocol's message cannot reach this run's processes.
            _ => Vec::new(),
        }
    }

    pub fn on_timer(&mut self, node: usize, now: Micros, timer: Timer) -> Vec<Action> {
        match (self, timer) {
            (Protocol::SingleLeader(c), Timer::SingleLeader(t)) => c.on_timer(node, now, t),
            (Protocol::MultiLeader(c), Timer::SingleLeader(t)) => c.on_timer(node, now, t),
            (Protocol::Leaderless(c), Timer::Leaderless(t)) => c.on_timer(node, now, t),
            _ => Vec::new(),
        }
    }

    /// A client sends statement `sql` as operation `op`: where it goes, or why the client refuses it.
    pub fn client_request(&mut self, client: usize, op: usize, sql: &str, now: Micros) -> Routed {
        match self {
            Protocol::SingleLeader(c) => c.client_request(client, op, sql, now),
            Protocol::Leaderless(c) => c.client_request(client, op, sql, now),
            Protocol::MultiLeader(c) => c.client_request(client, op, sql, now),
        }
    }

    /// A message reached client `client`. `history`: the operations so far (the world drops answers to finished
    /// ones before calling).
    pub fn on_client_message(
        &mut self,
        client: usize,
        now: Micros,
        from: Endpoint,
        msg: Message,
        history: &crate::chunked::Chunked<HistoryEntry>,
    ) -> Vec<Action> {
        match (self, msg) {
            (Protocol::SingleLeader(c), Message::SingleLeader(p)) => c.on_client_message(client, now, from, p, history),
            (Protocol::MultiLeader(c), msg) => c.on_client_message(client, now, from, msg, history),
            (Protocol::Leaderless(c), Message::Leaderless(m)) => c.on_client_message(client, now, from, m, history),
            _ => Vec::new(),
        }
    }

    /// A timer a client library set (`Action::SetClientTimer`) is due.
    pub fn on_client_timer(
        &mut self,
        client: usize,
        now: Micros,
        timer: Timer,
        history: &crate::chunked::Chunked<HistoryEntry>,
    ) -> Vec<Action> {
        match (self, timer) {
            (Protocol::Leaderless(c), Timer::Leaderless(t)) => c.on_client_timer(client, now, t, history),
            _ => Vec::new(),
        }
    }

    /// Client operation `op`, sent to `node`, had no answer in time.
    pub fn on_client_timeout(&mut self, client: usize, op: &HistoryEntry, index: usize) {
        match self {
            Protocol::SingleLeader(c) => c.on_client_timeout(client, op, index),
            Protocol::Leaderless(c) => c.on_client_timeout(client, op, index),
            Protocol::MultiLeader(c) => c.inner.on_client_timeout(client, op, index),
        }
    }

    /// A command only the protocol understands (a membership change, a failover, a cache lookup). `op` is the
    /// history index the command gets if it is a client operation.
    pub fn command(&mut self, command: &Command, op: usize, now: Micros) -> CommandOutcome {
        match self {
            Protocol::SingleLeader(c) => c.command(command, op, now),
            Protocol::Leaderless(c) => c.command(command, op, now),
            Protocol::MultiLeader(c) => c.command(command, op, now),
        }
    }

    /// The protocol's own bookkeeping after every event (who acted as leader when).
    pub fn after_event(&mut self, now: Micros) {
        match self {
            Protocol::SingleLeader(c) => c.track_leadership(now),
            Protocol::Leaderless(_) => {}
            Protocol::MultiLeader(c) => c.inner.track_leadership(now),
        }
    }

    pub fn observe(&self, node: usize) -> Observation {
        match self {
            Protocol::SingleLeader(c) => c.observe(node),
            Protocol::Leaderless(c) => c.observe(node),
            Protocol::MultiLeader(c) => c.observe(node),
        }
    }
}

impl Message {
    pub fn kind(&self) -> MsgKind {
        match self {
            Message::SingleLeader(p) => p.kind(),
            Message::Leaderless(m) => m.kind(),
            Message::MultiLeader(p) => p.kind(),
        }
    }

    /// The client operation (history index) this message belongs to, if any.
    pub fn op(&self) -> Option<usize> {
        match self {
            Message::SingleLeader(p) => p.op(),
            Message::Leaderless(m) => m.op(),
            Message::MultiLeader(p) => p.op(),
        }
    }

    /// The log positions (first, last) a replication message carries.
    pub fn lsns(&self) -> Option<(u64, u64)> {
        match self {
            Message::SingleLeader(p) => p.lsns(),
            Message::Leaderless(_) => None,
            Message::MultiLeader(_) => None,
        }
    }

    /// The label drawn on the message token.
    pub fn label(&self) -> String {
        match self {
            Message::SingleLeader(p) => p.label(),
            Message::Leaderless(m) => m.label(),
            Message::MultiLeader(p) => p.label(),
        }
    }

    pub fn size_bytes(&self) -> u32 {
        match self {
            Message::SingleLeader(p) => p.size_bytes(),
            Message::Leaderless(m) => m.size_bytes(),
            Message::MultiLeader(p) => p.size_bytes(),
        }
    }

    /// Replication log records it carries, and their bytes (for the log-method comparison).
    pub fn records(&self) -> (u64, u64) {
        match self {
            Message::SingleLeader(p) => p.records(),
            Message::Leaderless(_) => (0, 0),
            Message::MultiLeader(p) => p.records(),
        }
    }

    pub fn single_leader(&self) -> Option<&single_leader::Payload> {
        match self {
            Message::SingleLeader(p) => Some(p),
            Message::Leaderless(_) => None,
            Message::MultiLeader(_) => None,
        }
    }
}

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
    /// Leaderless replication: fewer than w replicas acknowledged the write, or fewer than r answered the read.
    QuorumNotMet(String),
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
            OpError::QuorumNotMet(message) => f.write_str(message),
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
    /// Rows this write inserted, as (`table:key`, row text): what an application would put in a cache. The row
    /// text is empty when no client of the run has a cache (nothing reads it then).
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
