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

//!
//! The files of this folder, one per section of the chapter: `replication.rs` (sync, async, semi-sync; applying the
//! log), `new_followers.rs` (snapshots and the naive file copy), `catch_up.rs` (a returning follower), `failover.rs`
//! (detection, elections, epochs, step-down, split-brain guards, planned handover), `controller.rs` (failover by a
//! controller node), `routing.rs` (how a replica serves reads under lag). This file holds the node's state and
//! dispatches each input to them.

mod catch_up;
mod clients;
mod cluster;
mod controller;
mod failover;
mod new_followers;
mod remote;
mod replication;
mod routing;
use std::collections::BTreeMap;
use std::rc::Rc;

use crate::vecmap::VecMap;

use crate::log_methods::{method, value_text, Committed, LogEntry};
use crate::scenario::{ClockSpec, Election, FailoverSpec, LogKind, Mode, Role, TriggerSpec, TwoLeaders};
use crate::world::rng::SimRng;

pub use crate::externals::cdc::SearchIndex;
pub use crate::externals::replicator::ReplicatorState;
pub use crate::log_methods::trigger::{ChangeOp, ChangePos, ChangeRow, TargetCopy, CHANGES_TABLE};
pub use clients::{owner_filter, Client};
pub use cluster::{Cluster, LagSample, MAX_LAG_SAMPLES};

pub use crate::protocol::{Endpoint, OpError, OpResult, Status};
use crate::sql::{Database, Env, RowChange, Session, Value};
use crate::world::time::{after, ms, Micros};

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

/// A consistent copy of a leader's database at one log position.
#[derive(Clone, Debug, PartialEq)]
pub struct Snapshot {
    pub lsn: u64,
    /// Epoch of the entry at `lsn` (0 for an empty log).
    pub last_epoch: u64,
    pub db: Database,
    pub origins: crate::chunked::ChunkMap<usize, ()>,
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
    /// `era`: the epoch in which this leader's triggers number its changes; `base`: the position its own numbering
    /// continues from (what it had applied as a target when it was promoted).
    Changes {
        changes: Rc<Vec<ChangeRow>>,
        leader_lsn: u64,
        complete: bool,
        era: u64,
        base: ChangePos,
    },
    /// The replicator applies changes to a target store: changes of the leader era `era`, whose numbering continues
    /// from `base` (a target at another position cannot continue: it asks for a copy).
    ApplyChanges {
        changes: Rc<Vec<ChangeRow>>,
        leader_lsn: u64,
        complete: bool,
        era: u64,
        base: ChangePos,
    },
    /// A target confirms it has applied every change of era `era` up to `seq`, and is now at leader LSN `lsn`.
    ChangesApplied {
        seq: i64,
        lsn: u64,
        era: u64,
    },
    /// A target (or a node that wants to become one) cannot continue from its position `at` (none yet, or one the
    /// leader's changes table does not continue): it needs an initial copy.
    NeedCopy {
        at: ChangePos,
    },
    /// The replicator asks the leader for a consistent copy of the replicated rows.
    TargetCopyRequest,
    /// That copy, from the leader to the replicator and on to the targets that need it.
    TargetCopy {
        copy: Rc<TargetCopy>,
    },
    /// The replicator tells the leader it may delete changes up to `upto` (every target has them).
    PurgeChanges {
        upto: i64,
    },
}

impl Payload {
    pub fn kind(&self) -> crate::world::trace::MsgKind {
        use crate::world::trace::MsgKind;
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
            Payload::PollChanges { .. } | Payload::PurgeChanges { .. } | Payload::NeedCopy { .. } => MsgKind::Fetch,
            Payload::TargetCopyRequest | Payload::TargetCopy { .. } => MsgKind::Snapshot,
            Payload::Changes { .. } | Payload::ApplyChanges { .. } => MsgKind::Replicate,
            Payload::ChangesApplied { .. } => MsgKind::Ack,
        }
    }

    /// The client operation (history index) this message belongs to, if any: a request, its response, a cache
    /// lookup, or a one-entry replicate batch written by that operation.
    pub fn op(&self) -> Option<usize> {
        match self {
            Payload::Request { op, .. } | Payload::Response { op, .. } | Payload::CacheGet { op, .. } => Some(*op),
            Payload::Replicate { entries, .. } => match &entries[..] {
                [one] => one.origin,
                _ => None,
            },
            _ => None,
        }
    }

    /// The log positions (first, last) a replicate batch carries.
    pub fn lsns(&self) -> Option<(u64, u64)> {
        match self {
            Payload::Replicate { entries, .. } => Some((entries.first()?.lsn, entries.last()?.lsn)),
            _ => None,
        }
    }

    /// Replication log records this message carries (log entries to followers, change rows to trigger targets),
    /// and their bytes.
    pub fn records(&self) -> (u64, u64) {
        match self {
            Payload::Replicate { entries, .. } => {
                (entries.len() as u64, entries.iter().map(|e| e.record.size_bytes() as u64).sum())
            }
            Payload::ApplyChanges { changes, .. } => {
                (changes.len() as u64, changes.iter().map(|c| c.size_bytes() as u64).sum())
            }
            _ => (0, 0),
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
            Payload::NeedCopy { at } if at.era == 0 => "copy me?".to_string(),
            Payload::NeedCopy { at } => format!("copy me? (at #{} e{})", at.seq, at.era),
            Payload::TargetCopyRequest => "copy rows?".to_string(),
            Payload::TargetCopy { copy } => format!("copy ≤#{}: {} rows", copy.seq, copy.rows.len()),
        }
    }

    /// Estimated bytes on the wire (a fixed header plus the body).
    pub fn size_bytes(&self) -> u32 {
        let body = match self {
            Payload::Request { sql, .. } => sql.len(),
            Payload::Response { result, .. } => {
                result.rows.iter().map(|r| r.len() * 8).sum::<usize>()
                    + result.error.as_ref().map_or(0, |e| e.to_string().len())
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
            Payload::TargetCopy { copy } => copy.size_bytes(),
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
    /// The last catch-up batch sent to it: the LSN it followed, and when it left. A repeated request for the same
    /// entries while they are still in flight is not answered twice.
    pub last_batch: Option<(u64, Micros)>,
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

/// State lost in a crash, by the role that uses it. A node changes role during a run (a follower is elected, a
/// leader steps down), so every part is there; each file of this folder touches only its role's part.
#[derive(Clone, Debug, Default)]
struct Volatile {
    /// Open client sessions (transactions in progress), on whichever replica took them.
    sessions: VecMap<usize, Session>,
    leader: LeaderState,
    follower: FollowerState,
    candidate: CandidateState,
    controller: ControllerState,
    cache: CacheState,
}

/// What a leader keeps about its followers and its clients (`replication.rs`, `new_followers.rs`, `failover.rs`).
#[derive(Clone, Debug, Default)]
struct LeaderState {
    peers: VecMap<usize, PeerProgress>,
    /// Client answers held until enough followers confirmed (sync and semi-sync).
    waiting: Vec<Waiting>,
    sync_follower: Option<usize>,
    /// Planned failover in progress: hand leadership to this follower once it has everything.
    handing_over: Option<usize>,
    /// Snapshots and file copies on their way to joining followers.
    transfers: VecMap<usize, Transfer>,
}

/// What a follower keeps about its leader and what it receives (`replication.rs`, `catch_up.rs`,
/// `new_followers.rs`, `routing.rs`, failure detection in `failover.rs`).
#[derive(Clone, Debug, Default)]
struct FollowerState {
    /// Entries received ahead of order: (ready time, entry, epoch of the entry before it).
    buffer: BTreeMap<u64, (Micros, Rc<LogEntry>, u64)>,
    leader_lsn_seen: u64,
    last_heard_leader: Micros,
    /// When this follower will start an election if it still hears nothing.
    election_deadline: Micros,
    snapshot_parts: VecMap<u32, ()>,
    snapshot_since: Micros,
    copy_rows: Vec<(String, Vec<(String, Value)>)>,
    /// Reads waiting for this replica to reach the client's token: (client, op, sql, min_lsn, since).
    held_reads: Vec<(usize, usize, String, u64, Micros)>,
    /// Since when this follower knows of leader entries it has not applied (its replication lag).
    behind_since: Option<Micros>,
    /// When this follower last asked a new leader to compare logs (a fetch after a change of leader).
    fetched_at: Option<Micros>,
}

/// An election in progress (`failover.rs`).
#[derive(Clone, Debug, Default)]
struct CandidateState {
    candidate: bool,
    votes: VecMap<usize, ()>,
}

/// A controller node's view of the replicas (`controller.rs`).
#[derive(Clone, Debug, Default)]
struct ControllerState {
    /// Last status heard from each replica (time, epoch, lsn, leading).
    statuses: VecMap<usize, (Micros, u64, u64, bool)>,
    appointed: Option<(usize, Micros)>,
}

/// An application cache's contents (`externals/cache.rs`): key -> (owner, row).
#[derive(Clone, Debug, Default)]
struct CacheState {
    kv: VecMap<String, (String, String)>,
}

#[derive(Clone, Debug)]
pub struct Node {
    pub index: usize,
    pub id: String,
    pub role: Role,
    pub status: Status,
    pub halt_error: Option<String>,
    /// Replication halted on a WAL record of another storage format: (the record's format, this node's).
    pub halted_on_format: Option<(u8, u8)>,
    // Durable: survives a crash.
    pub db: Database,
    /// The retained log (entries are immutable and shared between nodes and messages).
    pub log: crate::chunked::Chunked<Rc<LogEntry>>,
    /// LSN just before the first retained entry (a snapshot's position, or what retention dropped).
    pub base_lsn: u64,
    pub(crate) base_epoch: u64,
    /// The newest epoch this node knows of.
    pub epoch: u64,
    voted_for: Option<usize>,
    /// Client operations whose writes this node holds (for the lost-write checker).
    pub origins: crate::chunked::ChunkMap<usize, ()>,
    /// The database replicas of the cluster (including this one).
    pub members: Vec<usize>,
    /// Who this node believes is the leader, and the epoch it learned that in (asked who leads, it names the
    /// leader with that epoch: its own may be newer, an election it stood in or voted in).
    pub leader: Option<usize>,
    pub leader_epoch: u64,
    pub joining: Option<Joining>,
    /// Epoch in which this node last became leader (to tell two leaders apart).
    pub leader_since: Option<(u64, Micros)>,
    pub clock: ClockSpec,
    pub apply_delay: Micros,
    pub(crate) rng: SimRng,
    timer_rng: SimRng,
    vol: Volatile,
    /// Bumped at every crash, so timers set before the crash are ignored after it.
    pub incarnation: u64,
    /// The storage format this node's engine writes (an upgrade command changes it).
    pub storage_format: u8,
    /// CDC consumers the leader feeds its log to (they are not replicas: no votes, no write confirmations).
    pub subscribers: Vec<usize>,
    /// Trigger-based replication target: the last change of the leader's changes table applied here, numbered in
    /// leader era `changes_era` (0: none yet, a node waiting for its initial copy). On a leader: the era its own
    /// triggers number changes in.
    pub applied_seq: i64,
    pub changes_era: u64,
    /// Trigger-based replication, on a leader: where its own numbering of changes continues from.
    pub capture_base: ChangePos,
    /// On a leader: the client operation that wrote each change row not yet purged (bookkeeping for the checkers,
    /// like a log entry's origin; not shipped bytes).
    pub change_origins: VecMap<i64, usize>,
    /// On a leader: the client operations whose changes it captured, or holds from its time as a target (what an
    /// initial copy gives a target).
    pub captured_ops: crate::chunked::ChunkMap<usize, ()>,
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
    /// The trigger-based replicator process, if the run has one (a new leader tells it; a new node asks it for a
    /// copy).
    pub replicator: Option<usize>,
    /// Some client writes the rows it inserts to a cache: a leader's answers then carry each inserted row as text
    /// (otherwise only its key, which the failover checks need).
    pub caches: bool,
}

impl NodeConfig {
    /// The log method this cluster replicates with; every difference between methods is asked of it.
    pub fn method(&self) -> &'static dyn crate::log_methods::ReplicationLog {
        method(self.log, self.statement_mixed)
    }

    fn timeout(&self) -> Micros {
        ms(self.failover.timeout_ms)
    }
}

pub(crate) fn send(to: usize, payload: Payload) -> Effect {
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
            halted_on_format: None,
            db: Database::new(),
            log: crate::chunked::Chunked::new(),
            base_lsn: 0,
            base_epoch: 0,
            epoch: if role == Role::Leader { 1 } else { 0 },
            voted_for: None,
            origins: crate::chunked::ChunkMap::new(),
            members: Vec::new(),
            leader: None,
            leader_epoch: 0,
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
            changes_era: 1,
            capture_base: ChangePos { era: 1, seq: 0 },
            change_origins: VecMap::new(),
            captured_ops: crate::chunked::ChunkMap::new(),
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
        self.vol.candidate.candidate
    }

    /// The latest leader LSN this node has heard of (its own if it is the leader).
    pub fn leader_lsn_seen(&self) -> u64 {
        if self.is_leader() {
            self.lsn()
        } else {
            self.vol.follower.leader_lsn_seen.max(self.lsn())
        }
    }

    pub fn peer(&self, follower: usize) -> Option<&PeerProgress> {
        self.vol.leader.peers.get(&follower)
    }

    pub fn buffered(&self) -> usize {
        self.vol.follower.buffer.len()
    }

    pub fn waiting_writes(&self) -> usize {
        self.vol.leader.waiting.len()
    }

    pub fn sync_follower(&self) -> Option<usize> {
        self.vol.leader.sync_follower
    }

    /// A cache node's contents: key -> (owner, row).
    pub fn cache_entries(&self) -> &VecMap<String, (String, String)> {
        &self.vol.cache.kv
    }

    fn followers(&self) -> Vec<usize> {
        self.members.iter().copied().filter(|m| *m != self.index).collect()
    }

    /// Where the leader ships its log: followers and CDC consumers (nobody under trigger-based replication, whose
    /// replicator reads the changes table instead).
    fn downstream(&self, cfg: &NodeConfig) -> Vec<usize> {
        if cfg.method().captures_changes() {
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
        after(after(now, t), self.timer_rng.range_inclusive(0, t))
    }

    /// Called when the process starts: at time zero, at every restart, and when an added node joins.
    pub fn on_start(&mut self, now: Micros, cfg: &NodeConfig) -> Vec<Effect> {
        let mut out = vec![Effect::SetTimer { at: after(now, cfg.heartbeat), timer: Timer::Tick }];
        self.vol.follower.last_heard_leader = now;
        self.vol.follower.election_deadline = self.new_deadline(now, cfg);
        match self.role {
            Role::Leader => self.reset_peers(now),
            Role::Replicator => out.push(Effect::SetTimer { at: now, timer: Timer::Poll }),
            // Leaderless replicas are another protocol's nodes; a single-leader cluster never has one.
            Role::Replica => {}
            Role::Follower | Role::Cdc => match (&self.joining, self.leader) {
                // Under trigger-based replication a new node's data comes from the replicator (its initial copy).
                (Some(Joining::Snapshot { .. } | Joining::FileCopy { .. }), _) if cfg.method().captures_changes() => {
                    self.vol.follower.snapshot_since = now;
                    out.extend(self.ask_for_copy(cfg));
                }
                (Some(Joining::Snapshot { .. }), Some(l)) => {
                    self.vol.follower.snapshot_since = now;
                    out.push(send(l, Payload::SnapshotRequest { epoch: self.epoch }));
                }
                (Some(Joining::FileCopy { .. }), Some(l)) => out.push(send(l, Payload::CopyRequest)),
                (_, Some(l)) if self.incarnation > 0 => {
                    self.vol.follower.fetched_at = Some(now);
                    out.push(send(l, self.fetch()))
                }
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
        self.vol.leader.peers.clear();
        for f in all {
            self.vol.leader.peers.insert(
                f,
                PeerProgress { match_lsn: 0, sent_lsn: last, last_send: now, last_ack: now, last_batch: None },
            );
        }
        self.vol.leader.sync_follower = self.followers().first().copied();
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
            (Role::Cache, _) => crate::externals::cache::on_message(&mut self.vol.cache.kv, from, payload, &mut out),
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
                out.push(Effect::SetTimer { at: after(now, cfg.heartbeat), timer: Timer::Tick });
                // Under WAL shipping the pages are the log: they are written at each commit, never in between.
                if !cfg.method().pages_are_the_log() {
                    self.flush_pages();
                }
                match self.role {
                    Role::Leader => self.leader_tick(now, cfg, &mut out),
                    Role::Follower | Role::Cdc => self.follower_tick(now, cfg, &mut out),
                    Role::Controller => self.controller_tick(now, cfg, &mut out),
                    Role::Cache | Role::Replicator | Role::Replica => {}
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
            replicator: None,
            caches: false,
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

    fn sends(effects: &[Effect]) -> Vec<(Endpoint, crate::world::trace::MsgKind)> {
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
        use crate::world::trace::MsgKind::*;
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
        use crate::world::trace::MsgKind::*;
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
        use crate::world::trace::MsgKind::*;
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
    fn leader_answers_a_repeated_fetch_once_while_its_batch_is_in_flight() {
        let mut l = leader();
        let c = cfg(Mode::Async);
        l.on_start(0, &c);
        l.on_message(1, Endpoint::Client(0), request("INSERT INTO t (v) VALUES ('a')"), &c);
        let fetch = || Payload::Fetch { epoch: 1, after_lsn: 0, last_epoch: 0 };
        let first = l.on_message(10, Endpoint::Node(1), fetch(), &c);
        assert!(matches!(&first[..], [Effect::Send { payload: Payload::Replicate { .. }, .. }]), "{first:?}");
        // The same request again (a duplicate, or a follower switching back to this leader): the batch is on its way.
        assert_eq!(l.on_message(12, Endpoint::Node(1), fetch(), &c), vec![]);
        // Another follower's request is its own.
        let other = l.on_message(12, Endpoint::Node(2), fetch(), &c);
        assert!(matches!(&other[..], [Effect::Send { payload: Payload::Replicate { .. }, .. }]), "{other:?}");
        // A heartbeat later it may have been lost: asked again, the leader sends it again.
        let later = l.on_message(10 + c.heartbeat, Endpoint::Node(1), fetch(), &c);
        assert!(matches!(&later[..], [Effect::Send { payload: Payload::Replicate { .. }, .. }]), "{later:?}");
    }

    #[test]
    fn leader_retransmits_to_a_stalled_follower_on_heartbeat() {
        use crate::world::trace::MsgKind::*;
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
