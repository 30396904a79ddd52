//! A database server process, as an I/O-free state machine: `on_message` / `on_timer` / `on_start` take the
//! simulated time and an input and return effects (send a message, set a timer, note something for the trace). Only
//! the simulation interprets effects; it owns true time, the network and the event queue. Handler tests at the bottom
//! assert the exact effects.
//!
//! Single-leader replication (DDIA 5.1 "Leaders and Followers"):
//! - The leader executes client statements on its storage engine; each committed transaction becomes one entry of
//!   its ordered log with the next log sequence number (LSN) and the leader's epoch, and is shipped at once to every
//!   follower that is in step. Followers apply entries strictly in LSN order (early ones wait in a buffer), durably
//!   remember how far they got, and acknowledge their position.
//! - Every `heartbeat_ms` the leader sends each follower its latest LSN; followers answer with their position, and the
//!   leader retransmits what a follower misses. A restarted follower asks for everything after its durable position
//!   (catch-up); one that is further behind than the leader's retained log, or brand new, gets a consistent snapshot
//!   tagged with its LSN, copied in chunks, and then the backlog after it.
//! - Async mode answers the client once the leader committed; sync mode once every follower confirmed; semi-sync once
//!   the one synchronous follower confirmed (and a lagging synchronous follower is replaced by the best async one).
//!
//! Failover (DDIA 5.1 "Handling Node Outages"): followers that hear nothing from the leader for `timeout_ms` (plus a
//! random jitter, so they do not all start at once) start an election in a new epoch; a replica votes at most once
//! per epoch and only for a candidate whose log is at least as up to date as its own, so the winner is the most
//! up-to-date reachable replica. Or a controller node watches everyone's status and appoints the follower with the
//! highest LSN. With epochs on, every leader-era message carries the epoch: a node that sees a newer one steps
//! down, and a returning old leader whose log has entries the new leader lacks discards them (they are the lost
//! writes) and rebuilds from a snapshot. Without epochs nothing tells an old leader it was replaced: split brain.

use std::collections::{BTreeMap, VecDeque};
use std::rc::Rc;

use crate::vecmap::VecMap;

use crate::replog::{method, value_text, Committed, LogEntry};
use crate::rng::SimRng;
use crate::scenario::{ClockSpec, Election, FailoverSpec, LogKind, Mode, Role, TriggerSpec, TwoLeaders};

mod capture;
pub use capture::{ChangeOp, ChangeRow, ReplicatorState, SearchIndex, CHANGES_TABLE};

use crate::sql::{Database, Env, Outcome, RowChange, Session, StatementKind, Value};
use crate::time::Micros;

/// 2026-01-01T00:00:00Z: the wall-clock reading at simulated time zero, for NOW().
pub const EPOCH_BASE_US: i64 = 1_767_225_600_000_000;
/// How many log entries a leader puts in one catch-up message.
pub const CATCH_UP_BATCH: usize = 64;
/// Rows per snapshot or file-copy chunk: small, so that a transfer takes visible time.
pub const ROWS_PER_CHUNK: usize = 4;
/// The leader sends one snapshot chunk every this many microseconds (the transfer's bandwidth).
pub const CHUNK_INTERVAL: Micros = 15_000;
/// How long a follower holds a read for a client's LSN token before passing it to the leader.
pub const TOKEN_WAIT: Micros = 100_000;

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
    fn from_outcome(o: Outcome, lsn: Option<u64>) -> Self {
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

/// A consistent copy of a leader's database at one log position.
#[derive(Clone, Debug, PartialEq)]
pub struct Snapshot {
    pub lsn: u64,
    /// Epoch of the entry at `lsn` (0 for an empty log).
    pub last_epoch: u64,
    pub db: Database,
    pub origins: VecMap<usize, ()>,
    pub rows: usize,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Payload {
    /// A client statement. For reads: `min_lsn`, the client's token (0: none), and `max_lag`, the most a follower
    /// may be behind to serve it (None: any).
    Request {
        op: usize,
        sql: String,
        min_lsn: u64,
        max_lag: Option<Micros>,
    },
    Response {
        op: usize,
        result: OpResult,
    },
    /// `prev_epoch`: the epoch of the entry just before the first one, so the follower can check its log agrees.
    Replicate {
        epoch: u64,
        /// Shared by every follower the same batch goes to.
        entries: Rc<[Rc<LogEntry>]>,
        leader_lsn: u64,
        prev_epoch: u64,
    },
    Ack {
        epoch: u64,
        lsn: u64,
    },
    Heartbeat {
        epoch: u64,
        leader_lsn: u64,
    },
    /// A follower asks for every entry after `after_lsn`; `last_epoch` is the epoch of its entry there.
    Fetch {
        epoch: u64,
        after_lsn: u64,
        last_epoch: u64,
    },
    /// "Your epoch is stale (or your fencing token is): the newest I know is `epoch`, led by `leader`."
    Rejected {
        epoch: u64,
        leader: Option<usize>,
    },
    /// The follower's log has entries after `keep_lsn` that the leader's does not: discard them and rebuild.
    Diverged {
        epoch: u64,
        keep_lsn: u64,
    },
    /// The follower is behind what the leader's log retains: it needs a snapshot.
    NeedSnapshot {
        epoch: u64,
    },
    SnapshotRequest {
        epoch: u64,
    },
    SnapshotChunk {
        epoch: u64,
        part: u32,
        total: u32,
        snapshot: Rc<Snapshot>,
    },
    /// The naive way to make a follower: copy the leader's data, page by page, while it keeps changing.
    CopyRequest,
    CopyChunk {
        part: u32,
        total: u32,
        schema: Option<Rc<Database>>,
        rows: Vec<(String, Vec<(String, Value)>)>,
        lsn: u64,
    },
    VoteRequest {
        epoch: u64,
        last_lsn: u64,
        last_epoch: u64,
    },
    Vote {
        epoch: u64,
        granted: bool,
    },
    /// A controller (or a planned handover) makes the receiver leader of `epoch`.
    Promote {
        epoch: u64,
    },
    /// "The leader is now `leader`, in `epoch`" (to replicas from a controller, to clients by service discovery).
    Announce {
        leader: usize,
        epoch: u64,
    },
    /// A replica's periodic report to the controller.
    Status {
        epoch: u64,
        lsn: u64,
        leading: bool,
    },
    CachePut {
        key: String,
        owner: String,
        row: String,
    },
    CacheGet {
        op: usize,
        key: String,
    },
    /// Trigger-based replication: the replicator asks the leader for rows of its changes table after `after`.
    PollChanges {
        after: i64,
        limit: u32,
    },
    /// The leader's answer: changes with the current rows they point at; `complete`: nothing more after these.
    Changes {
        changes: Rc<Vec<ChangeRow>>,
        leader_lsn: u64,
        complete: bool,
    },
    /// The replicator applies changes to a target store.
    ApplyChanges {
        changes: Rc<Vec<ChangeRow>>,
        leader_lsn: u64,
        complete: bool,
    },
    /// A target confirms it has applied every change up to `seq`, and is now at leader LSN `lsn`.
    ChangesApplied {
        seq: i64,
        lsn: u64,
    },
    /// The replicator tells the leader it may delete changes up to `upto` (every target has them).
    PurgeChanges {
        upto: i64,
    },
}

impl Payload {
    pub fn kind(&self) -> crate::trace::MsgKind {
        use crate::trace::MsgKind;
        match self {
            Payload::Request { .. } | Payload::CacheGet { .. } => MsgKind::Request,
            Payload::Response { .. } => MsgKind::Response,
            Payload::Replicate { .. } => MsgKind::Replicate,
            Payload::Ack { .. } => MsgKind::Ack,
            Payload::Heartbeat { .. } | Payload::Status { .. } => MsgKind::Heartbeat,
            Payload::Fetch { .. } | Payload::Diverged { .. } | Payload::NeedSnapshot { .. } => MsgKind::Fetch,
            Payload::Rejected { .. } => MsgKind::Ack,
            Payload::SnapshotRequest { .. }
            | Payload::SnapshotChunk { .. }
            | Payload::CopyRequest
            | Payload::CopyChunk { .. } => MsgKind::Snapshot,
            Payload::VoteRequest { .. } | Payload::Vote { .. } | Payload::Promote { .. } | Payload::Announce { .. } => {
                MsgKind::Election
            }
            Payload::CachePut { .. } => MsgKind::Request,
            Payload::PollChanges { .. } | Payload::PurgeChanges { .. } => MsgKind::Fetch,
            Payload::Changes { .. } | Payload::ApplyChanges { .. } => MsgKind::Replicate,
            Payload::ChangesApplied { .. } => MsgKind::Ack,
        }
    }

    /// The label drawn on the message token.
    pub fn label(&self) -> String {
        match self {
            Payload::Request { sql, .. } => {
                let mut s: String = sql.chars().take(32).collect();
                if sql.chars().count() > 32 {
                    s.push('…');
                }
                s
            }
            Payload::Response { result, .. } => match (&result.error, result.read_only) {
                (Some(_), _) => "error".to_string(),
                (None, true) => format!("{} rows", result.rows.len()),
                (None, false) => match result.lsn {
                    Some(l) => format!("ok lsn {l}"),
                    None => "ok".to_string(),
                },
            },
            Payload::Replicate { entries, .. } => match &entries[..] {
                [] => "empty".to_string(),
                [one] => format!("lsn {}: {}", one.lsn, one.record.describe()),
                [first, .., last] => format!("lsn {}..{}", first.lsn, last.lsn),
            },
            Payload::Ack { lsn, .. } => format!("ack {lsn}"),
            Payload::Heartbeat { leader_lsn, epoch } => format!("hb {leader_lsn} e{epoch}"),
            Payload::Fetch { after_lsn, .. } => format!("fetch >{after_lsn}"),
            Payload::Rejected { epoch, .. } => format!("stale! e{epoch}"),
            Payload::Diverged { keep_lsn, .. } => format!("diverged >{keep_lsn}"),
            Payload::NeedSnapshot { .. } => "need snapshot".to_string(),
            Payload::SnapshotRequest { .. } => "snapshot?".to_string(),
            Payload::SnapshotChunk { part, total, snapshot, .. } => {
                format!("snap@{} {}/{}", snapshot.lsn, part + 1, total)
            }
            Payload::CopyRequest => "copy files?".to_string(),
            Payload::CopyChunk { part, total, .. } => format!("copy {}/{}", part + 1, total),
            Payload::VoteRequest { epoch, last_lsn, .. } => format!("vote? e{epoch} lsn {last_lsn}"),
            Payload::Vote { granted, epoch } => format!("{} e{epoch}", if *granted { "yes" } else { "no" }),
            Payload::Promote { epoch } => format!("promote e{epoch}"),
            Payload::Announce { epoch, .. } => format!("new leader e{epoch}"),
            Payload::Status { lsn, .. } => format!("status {lsn}"),
            Payload::CachePut { key, .. } => format!("cache put {key}"),
            Payload::CacheGet { key, .. } => format!("cache get {key}"),
            Payload::PollChanges { after, .. } => format!("poll _changes >{after}"),
            Payload::Changes { changes, .. } | Payload::ApplyChanges { changes, .. } => match changes.as_slice() {
                [] => "no changes".to_string(),
                [one] => one.describe(),
                [first, .., last] => format!("changes {}..{}: {}", first.seq, last.seq, first.describe()),
            },
            Payload::ChangesApplied { seq, .. } => format!("applied #{seq}"),
            Payload::PurgeChanges { upto } => format!("purge ≤{upto}"),
        }
    }

    /// Estimated bytes on the wire (a fixed header plus the body).
    pub fn size_bytes(&self) -> u32 {
        let body = match self {
            Payload::Request { sql, .. } => sql.len(),
            Payload::Response { result, .. } => {
                result.rows.iter().map(|r| r.len() * 8).sum::<usize>() + result.error.as_ref().map_or(0, String::len)
            }
            Payload::Replicate { entries, .. } => entries.iter().map(|e| 8 + e.record.size_bytes()).sum(),
            Payload::SnapshotChunk { snapshot, total, .. } => {
                // Each chunk carries its share of the rows (about 40 bytes a row).
                (snapshot.rows * 40).div_ceil((*total).max(1) as usize) + 16
            }
            Payload::CopyChunk { rows, .. } => rows.len() * 40 + 16,
            Payload::CachePut { key, row, owner } => key.len() + row.len() + owner.len(),
            Payload::CacheGet { key, .. } => key.len(),
            Payload::Changes { changes, .. } | Payload::ApplyChanges { changes, .. } => {
                changes.iter().map(ChangeRow::size_bytes).sum()
            }
            _ => 8,
        };
        (24 + body).min(u32::MAX as usize) as u32
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Timer {
    /// Every heartbeat interval: leaders send heartbeats, followers check the leader is alive, controllers check.
    Tick,
    /// A buffered entry becomes ready to apply (followers with an apply delay).
    ApplyReady,
    /// Send the next chunk of a snapshot or file copy.
    SendChunk,
    /// Reads held for a token may have waited long enough.
    HeldReads,
    /// The election deadline may have passed (set at the exact deadline, not on a tick, so that randomized
    /// deadlines really differ).
    Election,
    /// The trigger-based replicator polls the leader's changes table.
    Poll,
}

/// Something worth a line in the trace, said by the node.
#[derive(Clone, Debug, PartialEq)]
pub enum Note {
    WriteCommitted {
        op: usize,
        lsn: u64,
    },
    Applied {
        lsn: u64,
    },
    Halted {
        error: String,
    },
    ElectionStarted {
        epoch: u64,
    },
    BecameLeader {
        epoch: u64,
    },
    SteppedDown {
        epoch: u64,
        reason: String,
    },
    /// Entries this node had that the new leader does not: discarded. `ops` are their client operations.
    Discarded {
        from_lsn: u64,
        to_lsn: u64,
        ops: Vec<usize>,
    },
    SnapshotInstalled {
        lsn: u64,
    },
    CaughtUp {
        lsn: u64,
    },
    SyncFollower {
        node: usize,
    },
    /// A split-brain guard shut this node down.
    ShutDown {
        reason: String,
    },
    Appointed {
        node: usize,
        epoch: u64,
    },
}

// Effects are built and consumed at once, never stored in bulk: boxing the payload would cost an allocation per
// message for nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    Send { to: Endpoint, payload: Payload },
    SetTimer { at: Micros, timer: Timer },
    Note(Note),
}

/// A leader's view of one follower (volatile: lost when the leader crashes).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PeerProgress {
    /// Highest LSN the follower confirmed applying.
    pub match_lsn: u64,
    /// Highest LSN sent to it.
    pub sent_lsn: u64,
    pub last_send: Micros,
    pub last_ack: Micros,
}

/// A client response held back until enough followers confirmed (sync and semi-sync modes).
#[derive(Clone, Debug, PartialEq)]
struct Waiting {
    client: usize,
    op: usize,
    lsn: u64,
    result: OpResult,
}

/// A transfer in progress on the leader: a snapshot or a naive file copy.
#[derive(Clone, Debug)]
struct Transfer {
    snapshot: Option<Rc<Snapshot>>,
    next: u32,
    total: u32,
}

/// How a joining follower is doing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Joining {
    Snapshot { received: u32, total: u32, lsn: u64 },
    FileCopy { received: u32, total: u32 },
    CatchingUp,
}

/// State lost in a crash.
#[derive(Clone, Debug, Default)]
struct Volatile {
    peers: VecMap<usize, PeerProgress>,
    /// Entries received ahead of order, with the time they may be applied.
    /// Entries received ahead of order: (ready time, entry, epoch of the entry before it).
    buffer: BTreeMap<u64, (Micros, Rc<LogEntry>, u64)>,
    sessions: VecMap<usize, Session>,
    waiting: Vec<Waiting>,
    leader_lsn_seen: u64,
    last_heard_leader: Micros,
    /// When this follower will start an election if it still hears nothing.
    election_deadline: Micros,
    votes: VecMap<usize, ()>,
    candidate: bool,
    sync_follower: Option<usize>,
    /// Planned failover in progress: hand leadership to this follower once it has everything.
    handing_over: Option<usize>,
    transfers: VecMap<usize, Transfer>,
    snapshot_parts: VecMap<u32, ()>,
    snapshot_since: Micros,
    copy_rows: Vec<(String, Vec<(String, Value)>)>,
    /// Controller: last status heard from each replica (time, epoch, lsn, leading).
    statuses: VecMap<usize, (Micros, u64, u64, bool)>,
    appointed: Option<(usize, Micros)>,
    /// Cache: key -> (owner, row).
    kv: VecMap<String, (String, String)>,
    /// Reads waiting for this replica to reach the client's token: (client, op, sql, min_lsn, since).
    held_reads: Vec<(usize, usize, String, u64, Micros)>,
    /// Since when this follower knows of leader entries it has not applied (its replication lag).
    behind_since: Option<Micros>,
}

#[derive(Clone, Debug)]
pub struct Node {
    pub index: usize,
    pub id: String,
    pub role: Role,
    pub status: Status,
    pub halt_error: Option<String>,
    // Durable: survives a crash.
    pub db: Database,
    /// The retained log (entries are immutable and shared between nodes and messages).
    pub log: VecDeque<Rc<LogEntry>>,
    /// LSN just before the first retained entry (a snapshot's position, or what retention dropped).
    pub base_lsn: u64,
    base_epoch: u64,
    /// The newest epoch this node knows of.
    pub epoch: u64,
    voted_for: Option<usize>,
    /// Client operations whose writes this node holds (for the lost-write checker).
    pub origins: VecMap<usize, ()>,
    /// The database replicas of the cluster (including this one).
    pub members: Vec<usize>,
    /// Who this node believes is the leader.
    pub leader: Option<usize>,
    pub joining: Option<Joining>,
    /// Epoch in which this node last became leader (to tell two leaders apart).
    pub leader_since: Option<(u64, Micros)>,
    pub clock: ClockSpec,
    pub apply_delay: Micros,
    rng: SimRng,
    timer_rng: SimRng,
    vol: Volatile,
    /// Bumped at every crash, so timers set before the crash are ignored after it.
    pub incarnation: u64,
    /// The storage format this node's engine writes (an upgrade command changes it).
    pub storage_format: u8,
    /// CDC consumers the leader feeds its log to (they are not replicas: no votes, no write confirmations).
    pub subscribers: Vec<usize>,
    /// Trigger-based replication target: the last change of the leader's changes table applied here.
    pub applied_seq: i64,
    /// A CDC consumer's store: a search index over one text column.
    pub search: Option<SearchIndex>,
    /// The trigger-based replicator's positions and counters.
    pub replicator: ReplicatorState,
}

/// The node's clock and random numbers, lent to the SQL engine for NOW(), RAND() and UUID().
pub struct NodeEnv<'a> {
    pub local_now_us: i64,
    pub rng: &'a mut SimRng,
}

impl Env for NodeEnv<'_> {
    fn now_us(&mut self) -> i64 {
        self.local_now_us
    }
    fn random_u64(&mut self) -> u64 {
        self.rng.next_u64()
    }
}

#[derive(Clone, Debug)]
pub struct NodeConfig {
    pub mode: Mode,
    pub log: LogKind,
    pub heartbeat: Micros,
    pub statement_substitution: bool,
    pub semi_sync_timeout: Micros,
    pub log_retention: u64,
    pub failover: FailoverSpec,
    pub controller: Option<usize>,
    pub statement_mixed: bool,
    pub trigger: TriggerSpec,
}

impl NodeConfig {
    fn timeout(&self) -> Micros {
        self.failover.timeout_ms * 1_000
    }
}

fn send(to: usize, payload: Payload) -> Effect {
    Effect::Send { to: Endpoint::Node(to), payload }
}

impl Node {
    pub fn new(index: usize, id: &str, role: Role, clock: ClockSpec, apply_delay: Micros, seed: u64) -> Self {
        Node {
            index,
            id: id.to_string(),
            role,
            status: Status::Running,
            halt_error: None,
            db: Database::new(),
            log: VecDeque::new(),
            base_lsn: 0,
            base_epoch: 0,
            epoch: if role == Role::Leader { 1 } else { 0 },
            voted_for: None,
            origins: VecMap::new(),
            members: Vec::new(),
            leader: None,
            joining: None,
            leader_since: if role == Role::Leader { Some((1, 0)) } else { None },
            clock,
            apply_delay,
            rng: SimRng::fork(seed, &format!("node:{id}")),
            timer_rng: SimRng::fork(seed, &format!("timers:{id}")),
            vol: Volatile::default(),
            incarnation: 0,
            storage_format: 1,
            subscribers: Vec::new(),
            applied_seq: 0,
            search: None,
            replicator: ReplicatorState::default(),
        }
    }

    /// The reading of this node's own clock at true time `now`: offset plus drift, in integer arithmetic.
    pub fn local_time_us(&self, now: Micros) -> i64 {
        let now = now as i64;
        let drift = (i128::from(now) * i128::from(self.clock.drift_ppm) / 1_000_000) as i64;
        EPOCH_BASE_US + now + self.clock.offset_ms * 1_000 + drift
    }

    pub fn lsn(&self) -> u64 {
        self.base_lsn + self.log.len() as u64
    }

    /// Epoch of the last entry this node has.
    pub fn last_epoch(&self) -> u64 {
        self.log.back().map_or(self.base_epoch, |e| e.epoch)
    }

    /// The entry at `lsn`, if retained.
    pub fn entry(&self, lsn: u64) -> Option<&Rc<LogEntry>> {
        lsn.checked_sub(self.base_lsn + 1).and_then(|i| self.log.get(i as usize))
    }

    fn epoch_at(&self, lsn: u64) -> Option<u64> {
        if lsn == self.base_lsn {
            Some(self.base_epoch)
        } else {
            self.entry(lsn).map(|e| e.epoch)
        }
    }

    pub fn is_leader(&self) -> bool {
        self.role == Role::Leader
    }

    pub fn is_replica(&self) -> bool {
        self.role.is_replica()
    }

    /// Acting as leader right now: leader role and a running (or stalled) process.
    pub fn acting_leader(&self) -> bool {
        self.is_leader() && matches!(self.status, Status::Running | Status::Paused)
    }

    pub fn is_candidate(&self) -> bool {
        self.vol.candidate
    }

    /// The latest leader LSN this node has heard of (its own if it is the leader).
    pub fn leader_lsn_seen(&self) -> u64 {
        if self.is_leader() {
            self.lsn()
        } else {
            self.vol.leader_lsn_seen.max(self.lsn())
        }
    }

    pub fn peer(&self, follower: usize) -> Option<&PeerProgress> {
        self.vol.peers.get(&follower)
    }

    pub fn buffered(&self) -> usize {
        self.vol.buffer.len()
    }

    pub fn waiting_writes(&self) -> usize {
        self.vol.waiting.len()
    }

    pub fn sync_follower(&self) -> Option<usize> {
        self.vol.sync_follower
    }

    /// A cache node's contents: key -> (owner, row).
    pub fn cache_entries(&self) -> &VecMap<String, (String, String)> {
        &self.vol.kv
    }

    fn followers(&self) -> Vec<usize> {
        self.members.iter().copied().filter(|m| *m != self.index).collect()
    }

    /// Where the leader ships its log: followers and CDC consumers (nobody under trigger-based replication, whose
    /// replicator reads the changes table instead).
    fn downstream(&self, cfg: &NodeConfig) -> Vec<usize> {
        if cfg.log == LogKind::Trigger {
            return Vec::new();
        }
        let mut all = self.followers();
        all.extend(self.subscribers.iter().copied().filter(|s| *s != self.index));
        all
    }

    /// Followers and CDC consumers take a leader's log the same way; only followers vote and confirm writes.
    fn follows(&self) -> bool {
        matches!(self.role, Role::Follower | Role::Cdc)
    }

    fn majority(&self) -> usize {
        self.members.len() / 2 + 1
    }

    /// Run a schema statement at setup, outside replication (every node starts with the same schema, and so with
    /// the same pages when it has the same storage format).
    pub fn bootstrap(&mut self, sql: &str) -> Result<(), String> {
        let mut env = NodeEnv { local_now_us: EPOCH_BASE_US, rng: &mut self.rng };
        let r = self.db.execute_autocommit(sql, &mut env).map(|_| ()).map_err(|e| e.message);
        let _ = self.db.take_page_writes();
        r
    }

    /// A checkpoint: write the rows changed since the last one into their pages (every heartbeat interval; a WAL
    /// leader writes its pages at each commit, since the page writes are its log).
    pub fn flush_pages(&mut self) {
        self.db.checkpoint();
    }

    /// A rolling upgrade's step on this node: rewrite every page in `format` (the process is down meanwhile).
    pub fn upgrade_storage(&mut self, format: u8) -> Result<(), String> {
        self.db.upgrade_storage(format).map_err(|e| e.message)?;
        self.storage_format = format;
        Ok(())
    }

    fn new_deadline(&mut self, now: Micros, cfg: &NodeConfig) -> Micros {
        let t = cfg.timeout();
        // Raft-style: somewhere in [timeout, 2 x timeout], so that one follower usually stands first.
        now + t + self.timer_rng.range_inclusive(0, t)
    }

    /// Called when the process starts: at time zero, at every restart, and when an added node joins.
    pub fn on_start(&mut self, now: Micros, cfg: &NodeConfig) -> Vec<Effect> {
        let mut out = vec![Effect::SetTimer { at: now + cfg.heartbeat, timer: Timer::Tick }];
        self.vol.last_heard_leader = now;
        self.vol.election_deadline = self.new_deadline(now, cfg);
        match self.role {
            Role::Leader => self.reset_peers(now),
            Role::Replicator => out.push(Effect::SetTimer { at: now, timer: Timer::Poll }),
            Role::Follower | Role::Cdc => match (&self.joining, self.leader) {
                (Some(Joining::Snapshot { .. }), Some(l)) => {
                    self.vol.snapshot_since = now;
                    out.push(send(l, Payload::SnapshotRequest { epoch: self.epoch }));
                }
                (Some(Joining::FileCopy { .. }), Some(l)) => out.push(send(l, Payload::CopyRequest)),
                (_, Some(l)) if self.incarnation > 0 => out.push(send(l, self.fetch())),
                _ => {}
            },
            Role::Cache | Role::Controller => {}
        }
        out
    }

    /// A leader (starting, or newly elected) does not know where its followers are until they answer a
    /// heartbeat: assume they are in step, and learn otherwise.
    fn reset_peers(&mut self, now: Micros) {
        let last = self.lsn();
        let mut all = self.followers();
        all.extend(self.subscribers.iter().copied().filter(|s| *s != self.index));
        self.vol.peers.clear();
        for f in all {
            self.vol.peers.insert(f, PeerProgress { match_lsn: 0, sent_lsn: last, last_send: now, last_ack: now });
        }
        self.vol.sync_follower = self.followers().first().copied();
    }

    fn fetch(&self) -> Payload {
        Payload::Fetch { epoch: self.epoch, after_lsn: self.lsn(), last_epoch: self.last_epoch() }
    }

    pub fn crash(&mut self) {
        self.status = Status::Crashed;
        self.incarnation += 1;
        // Open transactions die with the process: undo their uncommitted changes.
        let sessions = std::mem::take(&mut self.vol.sessions);
        for (_, mut session) in sessions {
            // Rolls back an open transaction and releases its write lock.
            self.db.close_session(&mut session);
        }
        // A half-received snapshot is useless after a restart: start the join again.
        if let Some(Joining::Snapshot { .. } | Joining::FileCopy { .. }) = &self.joining {
            self.joining = Some(match self.joining {
                Some(Joining::FileCopy { .. }) => Joining::FileCopy { received: 0, total: 0 },
                _ => Joining::Snapshot { received: 0, total: 0, lsn: 0 },
            });
        }
        self.vol = Volatile::default();
    }

    pub fn on_message(&mut self, now: Micros, from: Endpoint, payload: Payload, cfg: &NodeConfig) -> Vec<Effect> {
        let mut out = Vec::new();
        match (self.role, from) {
            (Role::Cache, _) => self.on_cache_message(from, payload, &mut out),
            (Role::Controller, Endpoint::Node(n)) => self.on_controller_message(now, n, payload),
            (Role::Replicator, Endpoint::Node(n)) => self.on_replicator_message(now, n, payload, cfg, &mut out),
            (_, Endpoint::Client(c)) => match payload {
                Payload::Request { op, sql, min_lsn, max_lag } => {
                    self.on_client_read_or_write(now, c, op, sql, min_lsn, max_lag, cfg, &mut out)
                }
                Payload::Announce { .. } | Payload::Response { .. } => {}
                _ => {}
            },
            (_, Endpoint::Node(n)) => self.on_replica_message(now, n, payload, cfg, &mut out),
        }
        out
    }

    pub fn on_timer(&mut self, now: Micros, timer: Timer, cfg: &NodeConfig) -> Vec<Effect> {
        let mut out = Vec::new();
        match timer {
            Timer::Tick => {
                out.push(Effect::SetTimer { at: now + cfg.heartbeat, timer: Timer::Tick });
                // Under WAL shipping the pages are the log: they are written at each commit, never in between.
                if cfg.log != LogKind::Wal {
                    self.flush_pages();
                }
                match self.role {
                    Role::Leader => self.leader_tick(now, cfg, &mut out),
                    Role::Follower | Role::Cdc => self.follower_tick(now, cfg, &mut out),
                    Role::Controller => self.controller_tick(now, cfg, &mut out),
                    Role::Cache | Role::Replicator => {}
                }
                if let (Some(c), true) = (cfg.controller, self.is_replica()) {
                    let leading = self.is_leader();
                    out.push(send(c, Payload::Status { epoch: self.epoch, lsn: self.lsn(), leading }));
                }
            }
            Timer::Poll if self.role == Role::Replicator => self.replicator_poll(now, cfg, &mut out),
            Timer::ApplyReady if self.follows() => {
                let before = self.lsn();
                self.apply_ready(now, cfg, &mut out);
                if let (true, Some(l)) = (self.lsn() > before, self.leader) {
                    out.push(send(l, Payload::Ack { epoch: self.epoch, lsn: self.lsn() }));
                }
            }
            Timer::SendChunk if self.is_leader() => self.send_chunks(now, &mut out),
            Timer::Election => self.election_timer(now, cfg, &mut out),
            Timer::HeldReads => self.release_held_reads(now, cfg, &mut out),
            _ => {}
        }
        out
    }

    // ----- leader -----

    fn leader_tick(&mut self, now: Micros, cfg: &NodeConfig, out: &mut Vec<Effect>) {
        let last = self.lsn();
        let shipping = cfg.log != LogKind::Trigger;
        let mut targets = self.followers();
        targets.extend(self.downstream(cfg).into_iter().filter(|s| self.subscribers.contains(s)));
        for f in targets {
            if self.vol.transfers.contains_key(&f) {
                continue;
            }
            let p = self.vol.peers.or_default(f);
            // Retransmit to a follower that is behind and has been sent nothing for a while.
            let stalled = now.saturating_sub(p.last_send) >= 2 * cfg.heartbeat;
            if shipping && p.match_lsn < last && stalled {
                p.sent_lsn = p.match_lsn;
                self.send_batch(now, f, out);
            } else {
                out.push(send(f, Payload::Heartbeat { epoch: self.epoch, leader_lsn: last }));
            }
        }
        if cfg.mode == Mode::SemiSync {
            self.check_sync_follower(now, cfg, out);
        }
    }

    /// Semi-sync: replace a synchronous follower that has stopped confirming while writes wait on it.
    fn check_sync_follower(&mut self, now: Micros, cfg: &NodeConfig, out: &mut Vec<Effect>) {
        let current = self.vol.sync_follower;
        let silent =
            |p: Option<&PeerProgress>| p.is_none_or(|p| now.saturating_sub(p.last_ack) > cfg.semi_sync_timeout);
        let stuck = match current {
            None => true,
            Some(s) => {
                silent(self.vol.peers.get(&s))
                    && (!self.vol.waiting.is_empty() || self.vol.peers.get(&s).is_none_or(|p| p.match_lsn < self.lsn()))
            }
        };
        if !stuck {
            return;
        }
        let best = self
            .followers()
            .into_iter()
            .filter(|f| Some(*f) != current && !silent(self.vol.peers.get(f)))
            .max_by_key(|f| (self.vol.peers.get(f).map_or(0, |p| p.match_lsn), std::cmp::Reverse(*f)));
        if let Some(b) = best {
            self.vol.sync_follower = Some(b);
            out.push(Effect::Note(Note::SyncFollower { node: b }));
            self.release_confirmed(cfg, out);
        }
    }

    fn on_request(
        &mut self,
        now: Micros,
        client: usize,
        op: usize,
        sql: &str,
        cfg: &NodeConfig,
        out: &mut Vec<Effect>,
    ) {
        let reply =
            |result: OpResult| Effect::Send { to: Endpoint::Client(client), payload: Payload::Response { op, result } };
        if !self.is_leader() || self.vol.handing_over.is_some() {
            match Database::is_read_only(sql) {
                Ok(true) => {}
                Ok(false) => {
                    let why = match self.vol.handing_over {
                        Some(_) => format!("{} is handing leadership over (planned failover): retry shortly", self.id),
                        None => format!(
                            "cannot execute a write on {}: it is a read-only follower (send writes to the leader)",
                            self.id
                        ),
                    };
                    let redirect = self.leader.filter(|l| *l != self.index);
                    out.push(reply(OpResult { redirect, ..OpResult::error(why) }));
                    return;
                }
                Err(e) => {
                    out.push(reply(OpResult::error(e.message)));
                    return;
                }
            }
        }
        let local = self.local_time_us(now);
        let mut session = self.vol.sessions.remove(&client).unwrap_or_default();
        // Statement-based replication with substitution: the leader fixes NOW()/RAND()/UUID() to literal values
        // first and executes the fixed text, so followers replaying it compute exactly what the leader did.
        let text = if self.is_leader() && cfg.log == LogKind::Statement && cfg.statement_substitution {
            let mut env = NodeEnv { local_now_us: local, rng: &mut self.rng };
            crate::sql::substitute_nondeterministic(sql, &mut env).unwrap_or_else(|_| sql.to_string())
        } else {
            sql.to_string()
        };
        let mut env = NodeEnv { local_now_us: local, rng: &mut self.rng };
        let result = self.db.execute(&text, &mut session, &mut env);
        self.vol.sessions.insert(client, session);
        match result {
            Err(e) => out.push(reply(OpResult::error(e.message))),
            Ok(mut outcome) => {
                let Some(commit) = outcome.committed.take().filter(|c| !c.changes.is_empty()) else {
                    let served_lsn = Some(self.lsn());
                    out.push(reply(OpResult { served_lsn, ..OpResult::from_outcome(outcome, None) }));
                    return;
                };
                let mut keys = Vec::new();
                let mut inserted = Vec::new();
                for c in &commit.changes {
                    match c {
                        RowChange::Insert { table, row } => {
                            if let Some(k) = self.db.primary_key_of(table, row) {
                                let text: Vec<String> =
                                    row.iter().map(|(c, v)| format!("{c}={}", value_text(v))).collect();
                                inserted.push((format!("{table}:{}", value_text(&k)), text.join(", ")));
                                keys.push((table.clone(), k));
                            }
                        }
                        RowChange::Update { table, key, .. } | RowChange::Delete { table, key } => {
                            keys.push((table.clone(), key.clone()))
                        }
                        RowChange::Ddl { .. } => {}
                    }
                }
                let lsn = self.lsn() + 1;
                // The bytes this transaction wrote to pages: what WAL shipping sends. Other methods leave the pages
                // to the next checkpoint (`flush_pages`), as a database leaves dirty pages in its buffer pool.
                let pages = if cfg.log == LogKind::Wal { self.db.take_page_writes() } else { Vec::new() };
                let committed = Committed {
                    statements: &commit.statements,
                    changes: &commit.changes,
                    pages,
                    format: self.db.storage_format(),
                };
                let record = method(cfg.log, cfg.statement_mixed).encode(committed);
                let entry =
                    Rc::new(LogEntry { lsn, epoch: self.epoch, record, origin: Some(op), keys, committed_at: now });
                self.append(entry.clone(), cfg);
                out.push(Effect::Note(Note::WriteCommitted { op, lsn }));
                if cfg.log == LogKind::Trigger {
                    // The log stays on the leader: triggers have already queued the changes for the replicator.
                    if commit.changes.iter().any(|c| matches!(c, RowChange::Ddl { .. })) {
                        self.capture_new_tables(&cfg.trigger);
                    }
                }
                // Ship at once to every follower (and CDC consumer) that is in step (pipelining).
                let batch: Rc<[Rc<LogEntry>]> = Rc::new([entry.clone()]);
                for f in self.downstream(cfg) {
                    let p = self.vol.peers.or_default(f);
                    if p.sent_lsn + 1 == lsn {
                        p.sent_lsn = lsn;
                        p.last_send = now;
                        let prev_epoch = self.epoch_at(lsn - 1).unwrap_or(0);
                        let payload = Payload::Replicate {
                            epoch: self.epoch,
                            entries: batch.clone(),
                            leader_lsn: lsn,
                            prev_epoch,
                        };
                        out.push(send(f, payload));
                    }
                }
                let result = OpResult { inserted, ..OpResult::from_outcome(outcome, Some(lsn)) };
                if self.confirmed(lsn, cfg.mode) {
                    out.push(reply(result));
                } else {
                    self.vol.waiting.push(Waiting { client, op, lsn, result });
                }
            }
        }
    }

    /// Append to the durable log, dropping the oldest entries beyond the retention limit.
    fn append(&mut self, entry: Rc<LogEntry>, cfg: &NodeConfig) {
        if let Some(o) = entry.origin {
            self.origins.insert(o, ());
        }
        self.log.push_back(entry);
        while self.log.len() as u64 > cfg.log_retention {
            if let Some(e) = self.log.pop_front() {
                self.base_lsn = e.lsn;
                self.base_epoch = e.epoch;
            }
        }
    }

    /// Has `lsn` reached enough followers for this mode to acknowledge the client?
    fn confirmed(&self, lsn: u64, mode: Mode) -> bool {
        let has = |f: &usize| self.vol.peers.get(f).is_some_and(|p| p.match_lsn >= lsn);
        match mode {
            Mode::Async => true,
            Mode::Sync => self.followers().iter().all(has),
            Mode::SemiSync => self.vol.sync_follower.as_ref().is_none_or(has),
        }
    }

    fn release_confirmed(&mut self, cfg: &NodeConfig, out: &mut Vec<Effect>) {
        if self.vol.waiting.is_empty() {
            return;
        }
        let waiting = std::mem::take(&mut self.vol.waiting);
        for w in waiting {
            if self.confirmed(w.lsn, cfg.mode) {
                out.push(Effect::Send {
                    to: Endpoint::Client(w.client),
                    payload: Payload::Response { op: w.op, result: w.result },
                });
            } else {
                self.vol.waiting.push(w);
            }
        }
    }

    fn on_ack(&mut self, now: Micros, f: usize, lsn: u64, cfg: &NodeConfig, out: &mut Vec<Effect>) {
        let last = self.lsn();
        let p = self.vol.peers.or_default(f);
        p.match_lsn = p.match_lsn.max(lsn.min(last));
        p.last_ack = now;
        // Catching up: the follower has everything we sent, and more is waiting (log shipping only).
        if p.match_lsn >= p.sent_lsn && p.sent_lsn < last && cfg.log != LogKind::Trigger {
            self.send_batch(now, f, out);
        }
        self.release_confirmed(cfg, out);
        if let Some(target) = self.vol.handing_over {
            if target == f && self.vol.peers.get(&f).is_some_and(|p| p.match_lsn >= self.lsn()) {
                // Planned failover: the successor has everything; hand over and follow it.
                let epoch = self.epoch + 1;
                out.push(send(f, Payload::Promote { epoch }));
                self.step_down(epoch, Some(f), "handed leadership over (planned failover)".into(), out);
            }
        }
    }

    fn send_batch(&mut self, now: Micros, f: usize, out: &mut Vec<Effect>) {
        let last = self.lsn();
        let Some(p) = self.vol.peers.get_mut(&f) else { return };
        if p.sent_lsn < self.base_lsn {
            // What the follower needs next is no longer retained.
            out.push(send(f, Payload::NeedSnapshot { epoch: self.epoch }));
            p.last_send = now;
            return;
        }
        let from = p.sent_lsn.min(last);
        let to = (from + CATCH_UP_BATCH as u64).min(last);
        if to <= from {
            return;
        }
        p.sent_lsn = to;
        p.last_send = now;
        let entries: Rc<[Rc<LogEntry>]> = (from + 1..=to).filter_map(|l| self.entry(l).cloned()).collect();
        let prev_epoch = self.epoch_at(from).unwrap_or(0);
        out.push(send(f, Payload::Replicate { epoch: self.epoch, entries, leader_lsn: last, prev_epoch }));
    }

    /// Answer a follower's fetch: the backlog, or "you diverged", or "you need a snapshot".
    fn on_fetch(
        &mut self,
        now: Micros,
        f: usize,
        after_lsn: u64,
        last_epoch: u64,
        cfg: &NodeConfig,
        out: &mut Vec<Effect>,
    ) {
        if cfg.log == LogKind::Trigger {
            // Nothing is shipped from the log: the follower is a target of the replicator.
            let p = self.vol.peers.or_default(f);
            p.last_ack = now;
            return;
        }
        let mine = self.epoch_at(after_lsn);
        if cfg.failover.epochs && (after_lsn > self.lsn() || mine.is_some_and(|e| e != last_epoch)) {
            // The follower has entries this leader never had (an old leader's unreplicated writes). Keep what
            // both logs agree on: up to the end of the follower's last epoch in this log.
            let keep = self.end_of_epoch(last_epoch).min(after_lsn);
            out.push(send(f, Payload::Diverged { epoch: self.epoch, keep_lsn: keep }));
            return;
        }
        if after_lsn < self.base_lsn {
            out.push(send(f, Payload::NeedSnapshot { epoch: self.epoch }));
            return;
        }
        let p = self.vol.peers.or_default(f);
        p.match_lsn = after_lsn;
        p.sent_lsn = after_lsn;
        p.last_ack = now;
        self.send_batch(now, f, out);
    }

    /// The last LSN of `epoch` (or of the latest epoch before it) in this node's log.
    fn end_of_epoch(&self, epoch: u64) -> u64 {
        let mut end = if self.base_epoch <= epoch { self.base_lsn } else { 0 };
        for e in &self.log {
            if e.epoch <= epoch {
                end = e.lsn;
            } else {
                break;
            }
        }
        end
    }

    fn start_transfer(&mut self, now: Micros, f: usize, file_copy: bool, out: &mut Vec<Effect>) {
        let rows: usize = self.db.table_names().iter().map(|t| self.db.rows(t).len()).sum();
        let total = rows.div_ceil(ROWS_PER_CHUNK).max(1) as u32;
        let snapshot = (!file_copy).then(|| {
            Rc::new(Snapshot {
                lsn: self.lsn(),
                last_epoch: self.last_epoch(),
                db: self.db.clone(),
                origins: self.origins.clone(),
                rows,
            })
        });
        let idle = self.vol.transfers.is_empty();
        self.vol.transfers.insert(f, Transfer { snapshot, next: 0, total });
        if idle {
            out.push(Effect::SetTimer { at: now, timer: Timer::SendChunk });
        }
    }

    /// Send the next chunk of every transfer in progress. A snapshot's chunks all come from the copy taken when it
    /// started (consistent, tagged with its LSN); a naive file copy reads the live tables at each chunk.
    fn send_chunks(&mut self, now: Micros, out: &mut Vec<Effect>) {
        let targets: Vec<usize> = self.vol.transfers.keys().copied().collect();
        for f in targets {
            let Some(t) = self.vol.transfers.get_mut(&f) else { continue };
            let (part, total) = (t.next, t.total);
            t.next += 1;
            let payload = match &t.snapshot {
                Some(s) => Payload::SnapshotChunk { epoch: self.epoch, part, total, snapshot: s.clone() },
                None => {
                    let schema = (part == 0).then(|| Rc::new(empty_copy(&self.db)));
                    Payload::CopyChunk {
                        part,
                        total,
                        schema,
                        rows: rows_of_page(&self.db, part as usize),
                        lsn: self.lsn(),
                    }
                }
            };
            out.push(send(f, payload));
            if part + 1 >= total {
                self.vol.transfers.remove(&f);
                let last = self.lsn();
                let p = self.vol.peers.or_default(f);
                p.sent_lsn = last;
                p.last_send = now;
            }
        }
        if !self.vol.transfers.is_empty() {
            out.push(Effect::SetTimer { at: now + CHUNK_INTERVAL, timer: Timer::SendChunk });
        }
    }

    /// Planned failover: stop taking writes, let `target` catch up, then hand over.
    pub fn begin_handover(&mut self, target: usize, now: Micros, cfg: &NodeConfig) -> Vec<Effect> {
        let mut out = Vec::new();
        if !self.is_leader() || target == self.index {
            return out;
        }
        self.vol.handing_over = Some(target);
        let last = self.lsn();
        let p = self.vol.peers.or_default(target);
        if p.match_lsn >= last {
            let epoch = self.epoch + 1;
            out.push(send(target, Payload::Promote { epoch }));
            self.step_down(epoch, Some(target), "handed leadership over (planned failover)".into(), &mut out);
        } else {
            p.sent_lsn = p.match_lsn;
            self.send_batch(now, target, &mut out);
        }
        let _ = cfg;
        out
    }

    /// An administrator promotes this follower directly (the leader is gone).
    pub fn force_promote(&mut self, epoch: u64, now: Micros, cfg: &NodeConfig) -> Vec<Effect> {
        let mut out = Vec::new();
        if self.role == Role::Follower {
            self.epoch = self.epoch.max(epoch);
            self.become_leader(now, cfg, &mut out);
        }
        out
    }

    fn become_leader(&mut self, now: Micros, cfg: &NodeConfig, out: &mut Vec<Effect>) {
        self.role = Role::Leader;
        self.leader = Some(self.index);
        self.joining = None;
        self.vol.candidate = false;
        self.vol.votes.clear();
        self.vol.buffer.clear();
        self.vol.handing_over = None;
        self.leader_since = Some((self.epoch, now));
        self.reset_peers(now);
        let last = self.lsn();
        out.push(Effect::Note(Note::BecameLeader { epoch: self.epoch }));
        for f in self.followers() {
            out.push(send(f, Payload::Heartbeat { epoch: self.epoch, leader_lsn: last }));
        }
        let _ = cfg;
    }

    fn step_down(&mut self, epoch: u64, leader: Option<usize>, reason: String, out: &mut Vec<Effect>) {
        let was_leader = self.is_leader();
        self.epoch = self.epoch.max(epoch);
        self.voted_for = None;
        self.vol.candidate = false;
        self.vol.votes.clear();
        self.leader = leader;
        if was_leader {
            self.role = Role::Follower;
            self.leader_since = None;
            self.vol.peers.clear();
            self.vol.transfers.clear();
            self.vol.handing_over = None;
            // Held answers will never come: the clients time out.
            self.vol.waiting.clear();
            out.push(Effect::Note(Note::SteppedDown { epoch: self.epoch, reason }));
        }
    }

    // ----- followers and elections -----

    fn follower_tick(&mut self, now: Micros, cfg: &NodeConfig, out: &mut Vec<Effect>) {
        if self.status == Status::Halted {
            return;
        }
        let stalled = now.saturating_sub(self.vol.snapshot_since) > 8 * cfg.heartbeat;
        match (&self.joining, self.leader) {
            (Some(Joining::Snapshot { .. }), Some(l)) if stalled => {
                // Chunks were lost or the leader went away: ask again.
                self.vol.snapshot_since = now;
                self.vol.snapshot_parts.clear();
                out.push(send(l, Payload::SnapshotRequest { epoch: self.epoch }));
            }
            _ => {}
        }
        let auto = cfg.failover.auto && cfg.failover.election == Election::MostUpToDate;
        if auto && self.vol.election_deadline < now + cfg.heartbeat {
            // The deadline falls before the next tick: wake up exactly then, so that randomized deadlines differ.
            out.push(Effect::SetTimer { at: self.vol.election_deadline.max(now), timer: Timer::Election });
        }
    }

    fn election_timer(&mut self, now: Micros, cfg: &NodeConfig, out: &mut Vec<Effect>) {
        let auto = cfg.failover.auto && cfg.failover.election == Election::MostUpToDate;
        let copying = matches!(self.joining, Some(Joining::Snapshot { .. } | Joining::FileCopy { .. }));
        let follower = self.role == Role::Follower && self.status != Status::Halted;
        if auto && follower && now >= self.vol.election_deadline && !copying {
            self.start_election(now, cfg, out);
        }
    }

    fn start_election(&mut self, now: Micros, cfg: &NodeConfig, out: &mut Vec<Effect>) {
        self.epoch += 1;
        self.voted_for = Some(self.index);
        self.vol.candidate = true;
        self.vol.votes.clear();
        self.vol.votes.insert(self.index, ());
        self.vol.election_deadline = self.new_deadline(now, cfg);
        out.push(Effect::Note(Note::ElectionStarted { epoch: self.epoch }));
        let request = Payload::VoteRequest { epoch: self.epoch, last_lsn: self.lsn(), last_epoch: self.last_epoch() };
        for m in self.followers() {
            out.push(send(m, request.clone()));
        }
        if self.vol.votes.len() >= self.majority() {
            self.become_leader(now, cfg, out);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn on_vote_request(
        &mut self,
        now: Micros,
        c: usize,
        epoch: u64,
        last_lsn: u64,
        last_epoch: u64,
        cfg: &NodeConfig,
        out: &mut Vec<Effect>,
    ) {
        // A replica that hears from a live leader ignores candidates (a node cut off for a while must not depose
        // a working leader just because its own clock ran out).
        let leader_alive = self.is_leader()
            || (self.leader.is_some() && now.saturating_sub(self.vol.last_heard_leader) < cfg.timeout());
        if epoch < self.epoch
            || (leader_alive && !self.is_leader())
            || (self.is_leader() && self.status == Status::Running && !cfg.failover.epochs)
        {
            out.push(send(c, Payload::Vote { epoch: self.epoch, granted: false }));
            return;
        }
        if epoch > self.epoch {
            let reason = format!("a candidate asked for votes in epoch {epoch}");
            self.step_down(epoch, None, reason, out);
        }
        let up_to_date = (last_epoch, last_lsn) >= (self.last_epoch(), self.lsn());
        let granted = up_to_date && self.voted_for.is_none_or(|v| v == c);
        if granted {
            self.voted_for = Some(c);
            self.vol.election_deadline = self.new_deadline(now, cfg);
        }
        out.push(send(c, Payload::Vote { epoch: self.epoch, granted }));
    }

    /// Epoch rules for a message from a node that claims to lead `epoch`. Returns false when the message must be
    /// ignored (it comes from a stale leader, which is told so, or from a rival leader).
    fn accept_leader(&mut self, now: Micros, l: usize, epoch: u64, cfg: &NodeConfig, out: &mut Vec<Effect>) -> bool {
        let fenced = cfg.failover.fencing && epoch < self.epoch;
        if (cfg.failover.epochs && epoch < self.epoch) || fenced {
            out.push(send(l, Payload::Rejected { epoch: self.epoch, leader: self.leader }));
            return false;
        }
        let newer = cfg.failover.epochs && epoch > self.epoch;
        if self.is_leader() && l != self.index && !newer {
            // Two nodes act as leader and nothing says which is right.
            self.two_leaders(l, epoch, cfg, out);
            return false;
        }
        let changed = newer || self.leader != Some(l);
        if newer {
            self.step_down(epoch, Some(l), format!("heard from the leader of newer epoch {epoch}"), out);
        }
        self.epoch = self.epoch.max(epoch);
        self.vol.candidate = false;
        self.vol.votes.clear();
        self.leader = Some(l);
        self.vol.last_heard_leader = now;
        self.vol.election_deadline = self.new_deadline(now, cfg);
        if changed && self.follows() && self.joining.is_none() {
            // A different leader: what the old one shipped but this node has not applied may never have reached
            // the new one. Drop it and ask the new leader, which checks that the two logs agree.
            self.vol.buffer.clear();
            self.vol.leader_lsn_seen = 0;
            out.push(send(l, self.fetch()));
        }
        true
    }

    /// This node leads and hears from another node that also leads (and no epoch settles it).
    fn two_leaders(&mut self, other: usize, epoch: u64, cfg: &NodeConfig, out: &mut Vec<Effect>) {
        let reason = format!("{} saw another leader (node {other}, epoch {epoch})", self.id);
        let shut = match cfg.failover.two_leaders {
            TwoLeaders::Ignore => false,
            TwoLeaders::ShutdownBoth => true,
            // The guard compares election numbers: the leader elected earlier goes (ties: the higher index).
            TwoLeaders::ShutdownOlder => (self.epoch, other) < (epoch, self.index),
        };
        if shut {
            out.push(Effect::Note(Note::ShutDown { reason }));
        }
    }

    fn on_replica_message(&mut self, now: Micros, n: usize, payload: Payload, cfg: &NodeConfig, out: &mut Vec<Effect>) {
        match payload {
            Payload::Replicate { epoch, entries, leader_lsn, prev_epoch } => {
                if !self.accept_leader(now, n, epoch, cfg, out) || self.is_leader() {
                    return;
                }
                self.vol.leader_lsn_seen = self.vol.leader_lsn_seen.max(leader_lsn);
                let copying = matches!(self.joining, Some(Joining::Snapshot { .. } | Joining::FileCopy { .. }));
                let mut prev = prev_epoch;
                for e in entries.iter().cloned() {
                    // Changes that arrive during a copy wait until it is installed.
                    if copying || e.lsn > self.lsn() {
                        let next_prev = e.epoch;
                        self.vol.buffer.entry(e.lsn).or_insert((now + self.apply_delay, e, prev));
                        prev = next_prev;
                    } else {
                        prev = e.epoch;
                    }
                }
                if copying {
                    return;
                }
                self.apply_ready(now, cfg, out);
                out.push(send(n, Payload::Ack { epoch: self.epoch, lsn: self.lsn() }));
            }
            Payload::Heartbeat { epoch, leader_lsn } => {
                if !self.accept_leader(now, n, epoch, cfg, out) || self.is_leader() {
                    return;
                }
                self.vol.leader_lsn_seen = self.vol.leader_lsn_seen.max(leader_lsn);
                if self.joining.is_none() || self.joining == Some(Joining::CatchingUp) {
                    out.push(send(n, Payload::Ack { epoch: self.epoch, lsn: self.lsn() }));
                }
                self.check_caught_up(out);
                self.update_lag(now);
            }
            Payload::Ack { epoch, lsn } if self.is_leader() => {
                if cfg.failover.epochs && epoch > self.epoch {
                    self.step_down(epoch, None, format!("a follower is in newer epoch {epoch}"), out);
                    return;
                }
                self.on_ack(now, n, lsn, cfg, out);
            }
            Payload::Fetch { after_lsn, last_epoch, .. } if self.is_leader() => {
                self.on_fetch(now, n, after_lsn, last_epoch, cfg, out)
            }
            Payload::Rejected { epoch, leader } if self.is_leader() && cfg.failover.epochs && epoch > self.epoch => {
                let reason = format!("a replica knows newer epoch {epoch}: this node was replaced");
                self.step_down(epoch, leader, reason, out);
                if let Some(l) = leader {
                    out.push(send(l, self.fetch()));
                }
            }
            Payload::Diverged { epoch, keep_lsn } => {
                if !self.accept_leader(now, n, epoch, cfg, out) {
                    return;
                }
                let ops: Vec<usize> = self.log.iter().filter(|e| e.lsn > keep_lsn).filter_map(|e| e.origin).collect();
                out.push(Effect::Note(Note::Discarded { from_lsn: keep_lsn + 1, to_lsn: self.lsn(), ops }));
                // Rebuilding from the new leader's snapshot replaces the discarded state wholesale.
                self.join_by_snapshot(now, n, out);
            }
            Payload::NeedSnapshot { epoch } => {
                // A node already rebuilding from a snapshot keeps at it; epoch rules still apply to the others.
                let rebuilding = matches!(self.joining, Some(Joining::Snapshot { .. }));
                if !rebuilding && self.accept_leader(now, n, epoch, cfg, out) {
                    self.join_by_snapshot(now, n, out);
                }
            }
            Payload::SnapshotRequest { .. } if self.is_leader() => self.start_transfer(now, n, false, out),
            Payload::CopyRequest if self.is_leader() => self.start_transfer(now, n, true, out),
            Payload::SnapshotChunk { epoch, part, total, snapshot } => {
                if !self.accept_leader(now, n, epoch, cfg, out) || self.is_leader() {
                    return;
                }
                self.on_snapshot_chunk(now, n, part, total, snapshot, cfg, out);
            }
            Payload::CopyChunk { part, total, schema, rows, lsn } => {
                self.on_copy_chunk(now, n, part, total, schema, rows, lsn, cfg, out)
            }
            Payload::VoteRequest { epoch, last_lsn, last_epoch } => {
                self.on_vote_request(now, n, epoch, last_lsn, last_epoch, cfg, out)
            }
            Payload::PollChanges { after, limit } if self.is_leader() && cfg.log == LogKind::Trigger => {
                out.push(self.serve_poll(now, n, after, limit, cfg))
            }
            Payload::PurgeChanges { upto } if self.is_leader() => self.purge_changes(now, upto),
            Payload::ApplyChanges { changes, leader_lsn, complete } if self.follows() => {
                self.apply_changes(n, &changes, leader_lsn, complete, out)
            }
            Payload::Vote { epoch, granted } => {
                if self.vol.candidate && epoch == self.epoch && granted {
                    self.vol.votes.insert(n, ());
                    if self.vol.votes.len() >= self.majority() {
                        self.become_leader(now, cfg, out);
                    }
                } else if epoch > self.epoch && cfg.failover.epochs {
                    self.step_down(epoch, None, format!("newer epoch {epoch}"), out);
                }
            }
            Payload::Promote { epoch }
                if self.role == Role::Follower && (!cfg.failover.epochs || epoch > self.epoch) =>
            {
                self.epoch = epoch.max(self.epoch);
                self.become_leader(now, cfg, out);
            }
            Payload::Announce { leader, epoch }
                if leader != self.index && (!cfg.failover.epochs || epoch >= self.epoch) =>
            {
                if self.is_leader() {
                    if !cfg.failover.epochs {
                        return;
                    }
                    self.step_down(epoch, Some(leader), format!("the controller appointed node {leader}"), out);
                }
                self.epoch = self.epoch.max(epoch);
                self.leader = Some(leader);
                self.vol.last_heard_leader = now;
                out.push(send(leader, self.fetch()));
            }
            _ => {}
        }
    }

    fn join_by_snapshot(&mut self, now: Micros, leader: usize, out: &mut Vec<Effect>) {
        self.joining = Some(Joining::Snapshot { received: 0, total: 0, lsn: 0 });
        self.vol.snapshot_parts.clear();
        self.vol.snapshot_since = now;
        self.vol.buffer.clear();
        out.push(send(leader, Payload::SnapshotRequest { epoch: self.epoch }));
    }

    #[allow(clippy::too_many_arguments)]
    fn on_snapshot_chunk(
        &mut self,
        now: Micros,
        l: usize,
        part: u32,
        total: u32,
        snap: Rc<Snapshot>,
        cfg: &NodeConfig,
        out: &mut Vec<Effect>,
    ) {
        let Some(Joining::Snapshot { lsn, .. }) = self.joining else { return };
        if lsn != snap.lsn {
            // A new transfer (after a retry) replaces the old one.
            self.vol.snapshot_parts.clear();
        }
        self.vol.snapshot_parts.insert(part, ());
        self.vol.snapshot_since = now;
        let received = self.vol.snapshot_parts.len() as u32;
        self.joining = Some(Joining::Snapshot { received, total, lsn: snap.lsn });
        if received < total {
            return;
        }
        // Install: the database as of the snapshot's LSN, then ask for everything after it. A logical snapshot is
        // written in this node's own storage format.
        self.db = snap.db.clone();
        if self.db.storage_format() != self.storage_format {
            let _ = self.db.upgrade_storage(self.storage_format);
        }
        if self.role == Role::Cdc {
            self.rebuild_search();
        }

        self.log.clear();
        self.base_lsn = snap.lsn;
        self.base_epoch = snap.last_epoch;
        self.origins = snap.origins.clone();
        self.vol.snapshot_parts.clear();
        self.joining = Some(Joining::CatchingUp);
        out.push(Effect::Note(Note::SnapshotInstalled { lsn: snap.lsn }));
        let applied = self.lsn();
        self.vol.buffer.retain(|l, _| *l > applied);
        self.apply_ready(now, cfg, out);
        out.push(send(l, self.fetch()));
        self.check_caught_up(out);
    }

    #[allow(clippy::too_many_arguments)]
    fn on_copy_chunk(
        &mut self,
        now: Micros,
        l: usize,
        part: u32,
        total: u32,
        schema: Option<Rc<Database>>,
        rows: Vec<(String, Vec<(String, Value)>)>,
        leader_lsn: u64,
        cfg: &NodeConfig,
        out: &mut Vec<Effect>,
    ) {
        if !matches!(self.joining, Some(Joining::FileCopy { .. })) {
            return;
        }
        if let Some(s) = schema {
            self.db = (*s).clone();
        }
        self.vol.copy_rows.extend(rows);
        let received = part + 1;
        self.joining = Some(Joining::FileCopy { received, total });
        if received < total {
            return;
        }
        for (table, row) in std::mem::take(&mut self.vol.copy_rows) {
            let _ = self.db.apply_change(&RowChange::Insert { table, row });
        }
        // The copy has no log position of its own: start following from wherever the leader is now. Whatever
        // changed in pages copied earlier is simply missing.
        self.log.clear();
        self.base_lsn = leader_lsn;
        self.base_epoch = self.epoch;
        self.joining = Some(Joining::CatchingUp);
        out.push(Effect::Note(Note::SnapshotInstalled { lsn: leader_lsn }));
        let applied = self.lsn();
        self.vol.buffer.retain(|k, _| *k > applied);
        self.apply_ready(now, cfg, out);
        out.push(send(l, self.fetch()));
    }

    fn check_caught_up(&mut self, out: &mut Vec<Effect>) {
        if self.joining == Some(Joining::CatchingUp) && self.lsn() >= self.vol.leader_lsn_seen {
            self.joining = None;
            out.push(Effect::Note(Note::CaughtUp { lsn: self.lsn() }));
        }
    }

    /// Apply buffered entries in LSN order while the next one is present and ready.
    fn apply_ready(&mut self, now: Micros, cfg: &NodeConfig, out: &mut Vec<Effect>) {
        if self.status == Status::Halted {
            return;
        }
        while let Some((ready_at, _, prev_epoch)) = self.vol.buffer.get(&(self.lsn() + 1)) {
            if *ready_at > now {
                out.push(Effect::SetTimer { at: *ready_at, timer: Timer::ApplyReady });
                return;
            }
            if cfg.failover.epochs && *prev_epoch != self.last_epoch() {
                // The leader's log and ours disagree just before this entry: ask the leader to sort it out.
                self.vol.buffer.clear();
                if let Some(l) = self.leader {
                    out.push(send(l, self.fetch()));
                }
                return;
            }
            let Some((_, entry, _)) = self.vol.buffer.remove(&(self.lsn() + 1)) else { return };
            let applied = if self.role == Role::Cdc {
                self.cdc_apply(&entry.record)
            } else {
                let mut env = NodeEnv { local_now_us: self.local_time_us(now), rng: &mut self.rng };
                method(cfg.log, cfg.statement_mixed).apply(&mut self.db, &entry.record, &mut env)
            };
            if let Err(e) = applied {
                let error = format!("replication stopped at lsn {}: {}", entry.lsn, e.message);
                self.status = Status::Halted;
                self.halt_error = Some(error.clone());
                out.push(Effect::Note(Note::Halted { error }));
                return;
            }
            let lsn = entry.lsn;
            self.append(entry, cfg);
            out.push(Effect::Note(Note::Applied { lsn }));
        }
        // Drop anything already applied (duplicates).
        let applied = self.lsn();
        self.vol.buffer.retain(|l, _| *l > applied);
        self.check_caught_up(out);
        self.update_lag(now);
        self.release_held_reads(now, cfg, out);
    }

    /// Track since when this follower has been behind what it knows the leader has.
    fn update_lag(&mut self, now: Micros) {
        if self.lsn() >= self.vol.leader_lsn_seen {
            self.vol.behind_since = None;
        } else if self.vol.behind_since.is_none() {
            self.vol.behind_since = Some(now);
        }
    }

    /// This follower's replication lag as it can tell it: how long it has known of entries it lacks.
    pub fn lag_estimate(&self, now: Micros) -> Micros {
        self.vol.behind_since.map_or(0, |t| now.saturating_sub(t))
    }

    /// Serve held reads whose token this replica has now reached; pass on those that waited too long.
    fn release_held_reads(&mut self, now: Micros, cfg: &NodeConfig, out: &mut Vec<Effect>) {
        if self.vol.held_reads.is_empty() {
            return;
        }
        let lsn = self.lsn();
        for (client, op, sql, min_lsn, since) in std::mem::take(&mut self.vol.held_reads) {
            if min_lsn <= lsn {
                self.on_request(now, client, op, &sql, cfg, out);
            } else if now.saturating_sub(since) >= TOKEN_WAIT {
                out.push(self.pass_on(client, op, format!("{} has not reached lsn {min_lsn} after waiting", self.id)));
            } else {
                self.vol.held_reads.push((client, op, sql, min_lsn, since));
            }
        }
    }

    fn pass_on(&self, client: usize, op: usize, why: String) -> Effect {
        let retry = self.leader.filter(|l| *l != self.index);
        let result = OpResult { retry, ..OpResult::error(why) };
        Effect::Send { to: Endpoint::Client(client), payload: Payload::Response { op, result } }
    }

    /// Reads with a token or a lag bound may have to wait or go elsewhere; everything else runs now.
    #[allow(clippy::too_many_arguments)]
    fn on_client_read_or_write(
        &mut self,
        now: Micros,
        client: usize,
        op: usize,
        sql: String,
        min_lsn: u64,
        max_lag: Option<Micros>,
        cfg: &NodeConfig,
        out: &mut Vec<Effect>,
    ) {
        if !self.is_leader() && self.role == Role::Follower {
            if min_lsn > self.lsn() {
                // DDIA 5.2 read-your-writes by log position: wait until this replica has the client's write.
                self.vol.held_reads.push((client, op, sql, min_lsn, now));
                out.push(Effect::SetTimer { at: now + TOKEN_WAIT, timer: Timer::HeldReads });
                return;
            }
            if let Some(bound) = max_lag {
                let lag = self.lag_estimate(now);
                if lag > bound {
                    out.push(self.pass_on(
                        client,
                        op,
                        format!("{} is {}ms behind (bound {}ms)", self.id, lag / 1000, bound / 1000),
                    ));
                    return;
                }
            }
        }
        self.on_request(now, client, op, &sql, cfg, out);
    }

    /// Make this (absent) node a follower joining the cluster led by `leader`.
    pub fn join(&mut self, leader: Option<usize>, epoch: u64, file_copy: bool) {
        self.status = Status::Running;
        self.role = Role::Follower;
        self.leader = leader;
        self.epoch = epoch;
        self.joining = Some(if file_copy {
            Joining::FileCopy { received: 0, total: 0 }
        } else {
            Joining::Snapshot { received: 0, total: 0, lsn: 0 }
        });
    }

    // ----- controller -----

    fn on_controller_message(&mut self, now: Micros, n: usize, payload: Payload) {
        if let Payload::Status { epoch, lsn, leading } = payload {
            self.vol.statuses.insert(n, (now, epoch, lsn, leading));
            self.epoch = self.epoch.max(epoch);
            if leading && self.leader.is_none() {
                self.leader = Some(n);
            }
        }
    }

    fn controller_tick(&mut self, now: Micros, cfg: &NodeConfig, out: &mut Vec<Effect>) {
        if !cfg.failover.auto || cfg.failover.election != Election::Controller {
            return;
        }
        let timeout = cfg.timeout();
        let alive = |t: Micros| now.saturating_sub(t) <= timeout;
        if let Some((chosen, at)) = self.vol.appointed {
            // Give an appointment time to take effect before judging again.
            if now.saturating_sub(at) < timeout || self.vol.statuses.get(&chosen).is_some_and(|s| s.3 && alive(s.0)) {
                if self.vol.statuses.get(&chosen).is_some_and(|s| s.3) {
                    self.vol.appointed = None;
                }
                return;
            }
        }
        let leader_ok =
            self.leader.and_then(|l| self.vol.statuses.get(&l)).is_some_and(|(t, _, _, leading)| *leading && alive(*t));
        if leader_ok || self.leader.is_none() && now < timeout {
            return;
        }
        let best = self
            .vol
            .statuses
            .iter()
            .filter(|(n, (t, _, _, _))| alive(*t) && Some(**n) != self.leader)
            .max_by_key(|(n, (_, _, lsn, _))| (*lsn, std::cmp::Reverse(**n)))
            .map(|(n, _)| *n);
        let Some(chosen) = best else { return };
        let epoch = self.vol.statuses.values().map(|s| s.1).max().unwrap_or(0).max(self.epoch) + 1;
        self.epoch = epoch;
        self.leader = Some(chosen);
        self.vol.appointed = Some((chosen, now));
        out.push(Effect::Note(Note::Appointed { node: chosen, epoch }));
        out.push(send(chosen, Payload::Promote { epoch }));
        for n in self.vol.statuses.keys().copied().filter(|n| *n != chosen).collect::<Vec<_>>() {
            out.push(send(n, Payload::Announce { leader: chosen, epoch }));
        }
    }

    // ----- cache -----

    fn on_cache_message(&mut self, from: Endpoint, payload: Payload, out: &mut Vec<Effect>) {
        match payload {
            Payload::CachePut { key, owner, row } => {
                self.vol.kv.insert(key, (owner, row));
            }
            Payload::CacheGet { op, key } => {
                let result = match self.vol.kv.get(&key) {
                    Some((owner, row)) => OpResult {
                        ok: true,
                        read_only: true,
                        columns: vec!["key".into(), "row".into()],
                        rows: vec![vec![Value::Text(key.clone()), Value::Text(row.clone())]],
                        owner: Some(owner.clone()),
                        ..OpResult::default()
                    },
                    None => OpResult {
                        ok: true,
                        read_only: true,
                        columns: vec!["key".into(), "row".into()],
                        ..OpResult::default()
                    },
                };
                out.push(Effect::Send { to: from, payload: Payload::Response { op, result } });
            }
            _ => {}
        }
    }
}

/// The tables of a database without their rows: what a file copy's first chunk carries.
fn empty_copy(db: &Database) -> Database {
    let mut copy = db.clone();
    for t in db.table_names() {
        for row in db.rows(&t) {
            if let Some(key) = db.primary_key_of(&t, &row) {
                let _ = copy.apply_change(&RowChange::Delete { table: t.clone(), key });
            }
        }
    }
    copy
}

/// The rows on "page" `page` of the database as it is right now (tables in name order, `ROWS_PER_CHUNK` a page).
fn rows_of_page(db: &Database, page: usize) -> Vec<(String, Vec<(String, Value)>)> {
    db.table_names()
        .into_iter()
        .flat_map(|t| db.rows(&t).into_iter().map(move |r| (t.clone(), r)))
        .skip(page * ROWS_PER_CHUNK)
        .take(ROWS_PER_CHUNK)
        .collect()
}
#[cfg(test)]
mod tests {
    //! Handler tests: feed one input, assert the exact effects.
    use super::*;

    fn cfg(mode: Mode) -> NodeConfig {
        NodeConfig {
            mode,
            log: LogKind::Logical,
            heartbeat: 50_000,
            statement_substitution: false,
            semi_sync_timeout: 200_000,
            log_retention: 1_000,
            failover: FailoverSpec::default(),
            controller: None,
            statement_mixed: false,
            trigger: TriggerSpec::default(),
        }
    }

    fn leader() -> Node {
        let mut n = Node::new(0, "n1", Role::Leader, ClockSpec::default(), 0, 1);
        n.members = vec![0, 1, 2];
        n.leader = Some(0);
        n.bootstrap("CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT, v TEXT)").unwrap();
        n
    }

    fn follower(index: usize) -> Node {
        let mut n = Node::new(index, &format!("n{}", index + 1), Role::Follower, ClockSpec::default(), 0, 1);
        n.members = vec![0, 1, 2];
        n.leader = Some(0);
        n.epoch = 1;
        n.bootstrap("CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT, v TEXT)").unwrap();
        n
    }

    fn request(sql: &str) -> Payload {
        Payload::Request { op: 0, sql: sql.into(), min_lsn: 0, max_lag: None }
    }

    fn sends(effects: &[Effect]) -> Vec<(Endpoint, crate::trace::MsgKind)> {
        effects
            .iter()
            .filter_map(|e| match e {
                Effect::Send { to, payload } => Some((*to, payload.kind())),
                _ => None,
            })
            .collect()
    }

    // DDIA 5.1 asynchronous replication: commit, ship to every follower, answer the client at once.
    #[test]
    fn async_leader_commits_ships_and_answers() {
        use crate::trace::MsgKind::*;
        let mut n = leader();
        let c = cfg(Mode::Async);
        n.on_start(0, &c);
        let out = n.on_message(10, Endpoint::Client(0), request("INSERT INTO t (v) VALUES ('a')"), &c);
        assert_eq!(out[0], Effect::Note(Note::WriteCommitted { op: 0, lsn: 1 }));
        assert_eq!(
            sends(&out),
            vec![(Endpoint::Node(1), Replicate), (Endpoint::Node(2), Replicate), (Endpoint::Client(0), Response)]
        );
        assert_eq!(n.lsn(), 1);
    }

    // DDIA 5.1 synchronous replication: the answer waits for every follower's confirmation.
    #[test]
    fn sync_leader_holds_the_answer_until_all_followers_confirm() {
        use crate::trace::MsgKind::*;
        let mut n = leader();
        let c = cfg(Mode::Sync);
        n.on_start(0, &c);
        let out = n.on_message(10, Endpoint::Client(0), request("INSERT INTO t (v) VALUES ('a')"), &c);
        assert_eq!(sends(&out), vec![(Endpoint::Node(1), Replicate), (Endpoint::Node(2), Replicate)]);
        assert_eq!(n.waiting_writes(), 1);
        let out = n.on_message(20, Endpoint::Node(1), Payload::Ack { epoch: 1, lsn: 1 }, &c);
        assert!(sends(&out).is_empty(), "one of two followers is not enough");
        let out = n.on_message(30, Endpoint::Node(2), Payload::Ack { epoch: 1, lsn: 1 }, &c);
        assert_eq!(sends(&out), vec![(Endpoint::Client(0), Response)]);
    }

    // DDIA 5.1 semi-synchronous: one follower's confirmation is enough.
    #[test]
    fn semi_sync_leader_answers_after_the_synchronous_follower() {
        use crate::trace::MsgKind::*;
        let mut n = leader();
        let c = cfg(Mode::SemiSync);
        n.on_start(0, &c);
        n.on_message(10, Endpoint::Client(0), request("INSERT INTO t (v) VALUES ('a')"), &c);
        let out = n.on_message(20, Endpoint::Node(1), Payload::Ack { epoch: 1, lsn: 1 }, &c);
        assert_eq!(sends(&out), vec![(Endpoint::Client(0), Response)]);
    }

    #[test]
    fn follower_buffers_out_of_order_entries_and_applies_in_lsn_order() {
        let mut l = leader();
        let c = cfg(Mode::Async);
        l.on_start(0, &c);
        l.on_message(1, Endpoint::Client(0), request("INSERT INTO t (v) VALUES ('a')"), &c);
        l.on_message(2, Endpoint::Client(0), request("INSERT INTO t (v) VALUES ('b')"), &c);
        let mut f = follower(1);
        let second =
            Payload::Replicate { epoch: 1, entries: Rc::new([l.log[1].clone()]), leader_lsn: 2, prev_epoch: 1 };
        let out = f.on_message(5, Endpoint::Node(0), second, &c);
        assert_eq!(f.lsn(), 0, "entry 2 waits for entry 1");
        assert_eq!(f.buffered(), 1);
        assert_eq!(out, vec![Effect::Send { to: Endpoint::Node(0), payload: Payload::Ack { epoch: 1, lsn: 0 } }]);
        let first = Payload::Replicate { epoch: 1, entries: Rc::new([l.log[0].clone()]), leader_lsn: 2, prev_epoch: 0 };
        let out = f.on_message(6, Endpoint::Node(0), first.clone(), &c);
        assert_eq!(
            out,
            vec![
                Effect::Note(Note::Applied { lsn: 1 }),
                Effect::Note(Note::Applied { lsn: 2 }),
                Effect::Send { to: Endpoint::Node(0), payload: Payload::Ack { epoch: 1, lsn: 2 } },
            ]
        );
        // A duplicate changes nothing.
        let out = f.on_message(7, Endpoint::Node(0), first, &c);
        assert_eq!(out, vec![Effect::Send { to: Endpoint::Node(0), payload: Payload::Ack { epoch: 1, lsn: 2 } }]);
        assert_eq!(f.db.rows("t"), l.db.rows("t"));
    }

    // DDIA 5.1 follower failure: the applied log survives a crash; on restart the follower asks for the rest.
    #[test]
    fn restarted_follower_fetches_after_its_durable_position() {
        let mut l = leader();
        let c = cfg(Mode::Async);
        l.on_start(0, &c);
        l.on_message(1, Endpoint::Client(0), request("INSERT INTO t (v) VALUES ('a')"), &c);
        let mut f = follower(1);
        f.on_message(
            5,
            Endpoint::Node(0),
            Payload::Replicate { epoch: 1, entries: Rc::new([l.log[0].clone()]), leader_lsn: 1, prev_epoch: 0 },
            &c,
        );
        f.crash();
        assert_eq!(f.lsn(), 1, "durable");
        let out = f.on_start(100, &c);
        assert_eq!(
            out,
            vec![
                Effect::SetTimer { at: 50_100, timer: Timer::Tick },
                Effect::Send {
                    to: Endpoint::Node(0),
                    payload: Payload::Fetch { epoch: 1, after_lsn: 1, last_epoch: 1 }
                }
            ]
        );
        // The leader answers a fetch with the backlog.
        l.on_message(101, Endpoint::Client(0), request("INSERT INTO t (v) VALUES ('b')"), &c);
        let out = l.on_message(110, Endpoint::Node(1), Payload::Fetch { epoch: 1, after_lsn: 1, last_epoch: 1 }, &c);
        match &out[..] {
            [Effect::Send { to: Endpoint::Node(1), payload: Payload::Replicate { entries, leader_lsn: 2, .. } }] => {
                assert_eq!(entries.iter().map(|e| e.lsn).collect::<Vec<_>>(), vec![2]);
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn leader_retransmits_to_a_stalled_follower_on_heartbeat() {
        use crate::trace::MsgKind::*;
        let mut l = leader();
        let c = cfg(Mode::Async);
        l.on_start(0, &c);
        l.on_message(1, Endpoint::Client(0), request("INSERT INTO t (v) VALUES ('a')"), &c);
        l.on_message(20, Endpoint::Node(2), Payload::Ack { epoch: 1, lsn: 1 }, &c);
        // n2 never acknowledged: after two heartbeat intervals it gets the entry again; n3 gets a heartbeat.
        let out = l.on_timer(200_000, Timer::Tick, &c);
        assert_eq!(sends(&out), vec![(Endpoint::Node(1), Replicate), (Endpoint::Node(2), Heartbeat)]);
    }

    #[test]
    fn crash_rolls_back_open_transactions() {
        let mut l = leader();
        let c = cfg(Mode::Async);
        l.on_start(0, &c);
        l.on_message(1, Endpoint::Client(0), request("BEGIN"), &c);
        l.on_message(2, Endpoint::Client(0), request("INSERT INTO t (v) VALUES ('a')"), &c);
        assert_eq!(l.db.rows("t").len(), 1, "visible inside the transaction");
        assert_eq!(l.lsn(), 0, "not committed, not logged");
        l.crash();
        assert!(l.db.rows("t").is_empty(), "the uncommitted row dies with the process");
    }

    #[test]
    fn clocks_have_offset_and_drift() {
        let mut n = follower(1);
        n.clock = ClockSpec { offset_ms: 250, drift_ppm: 1000 };
        assert_eq!(n.local_time_us(1_000_000), EPOCH_BASE_US + 1_000_000 + 250_000 + 1_000);
    }
}
