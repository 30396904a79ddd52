//! The typed trace: every observable thing that happens in a run, in the order it happens. The UI draws it, the
//! checkers and tests read it, and its hash proves that two runs were identical, natively and in the browser.
//!
//! The hash is taken over an explicit, versioned encoding of each event (`TraceEvent::encode`), never over
//! `#[derive(Hash)]` output, whose byte stream std does not promise to keep across Rust releases. The encoding is a
//! sequence of 64-bit words: the event's tag (a fixed number per variant, listed in `encode`; a retired tag is never reused: 18 was the never-recorded `Anomaly`), then its fields in
//! order: integers as one word, a string as its byte length followed by its bytes packed eight to a word
//! (little-endian, zero-padded), a list as its length followed by its items. Labels (text for people) and the other facts derived from a message's payload (its operation, its log
//! positions) are left out.
//! Each word is folded into the running hash by `TraceHasher::word`. The hash starts from `TRACE_ENCODING`, so a
//! change of the encoding changes every hash, and the version says which encoding a recorded hash used.

use std::fmt::{self, Write as _};
use std::rc::Rc;

use crate::world::time::{fmt_ms, Micros};

/// FNV-1a, 64-bit, over bytes: partition and sticky-replica hashing, and the fork labels of the RNG.
#[derive(Clone, Debug)]
pub struct Fnv64(u64);

impl Default for Fnv64 {
    fn default() -> Self {
        Self::new()
    }
}

impl Fnv64 {
    pub fn new() -> Self {
        Fnv64(0xcbf2_9ce4_8422_2325)
    }
    pub fn write_bytes(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
    pub fn finish(&self) -> u64 {
        self.0
    }
}

/// For `Hash` values (the page's redraw stamps): the same bytes give the same hash in every build.
impl std::hash::Hasher for Fnv64 {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        self.write_bytes(bytes);
    }
}

/// The version of the trace encoding. Bump it whenever `TraceEvent::encode` changes what it writes.
pub const TRACE_ENCODING: u64 = 1;

/// The running trace hash: each 64-bit word is xored in, multiplied by the FNV-64 prime and rotated left by 29
/// bits (the rotation carries high bits down, which a multiply alone never does). Starts from the FNV-64 offset
/// basis folded with `TRACE_ENCODING`.
#[derive(Clone, Debug)]
pub struct TraceHasher(u64);

impl Default for TraceHasher {
    fn default() -> Self {
        Self::new()
    }
}

impl TraceHasher {
    pub fn new() -> Self {
        let mut h = TraceHasher(0xcbf2_9ce4_8422_2325);
        h.word(TRACE_ENCODING);
        h
    }
    pub fn word(&mut self, w: u64) {
        self.0 = ((self.0 ^ w).wrapping_mul(0x0100_0000_01b3)).rotate_left(29);
    }
    pub fn str(&mut self, s: &str) {
        self.word(s.len() as u64);
        for chunk in s.as_bytes().chunks(8) {
            let mut w = [0u8; 8];
            w[..chunk.len()].copy_from_slice(chunk);
            self.word(u64::from_le_bytes(w));
        }
    }
    pub fn finish(&self) -> u64 {
        self.0
    }
}

/// An endpoint name in the trace: shared, so recording an event does not allocate.
pub type Name = Rc<str>;

/// Text for people (a message's label). It is derived from the message, so it is left out of the trace hash:
/// a benchmark that keeps no trace need not format it, and the hash is the same either way.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Label(pub String);

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Message kinds, as drawn on tokens and counted in metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MsgKind {
    Request,
    Response,
    Replicate,
    Ack,
    Heartbeat,
    Fetch,
    Snapshot,
    Election,
}

impl MsgKind {
    pub const ALL: [MsgKind; 6] =
        [MsgKind::Request, MsgKind::Response, MsgKind::Replicate, MsgKind::Ack, MsgKind::Heartbeat, MsgKind::Fetch];
    pub fn name(self) -> &'static str {
        match self {
            MsgKind::Request => "request",
            MsgKind::Response => "response",
            MsgKind::Replicate => "replicate",
            MsgKind::Ack => "ack",
            MsgKind::Heartbeat => "heartbeat",
            MsgKind::Fetch => "fetch",
            MsgKind::Snapshot => "snapshot",
            MsgKind::Election => "election",
        }
    }
}

/// A node's new role, as the trace records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RoleChange {
    /// Became leader (elected, appointed or promoted) in `epoch`.
    Leader { epoch: u64 },
    /// Stepped down to follower on learning of `epoch`.
    Follower { epoch: u64, reason: String },
}

impl RoleChange {
    pub fn is_leader(&self) -> bool {
        matches!(self, RoleChange::Leader { .. })
    }
}

impl fmt::Display for RoleChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RoleChange::Leader { epoch } => write!(f, "leader (epoch {epoch})"),
            RoleChange::Follower { epoch, reason } => write!(f, "follower (epoch {epoch}): {reason}"),
        }
    }
}

/// Why a message never arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DropReason {
    Loss,
    Partition,
    TargetDown,
}

impl DropReason {
    pub fn name(self) -> &'static str {
        match self {
            DropReason::Loss => "lost",
            DropReason::Partition => "partition",
            DropReason::TargetDown => "target-down",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TraceEvent {
    Sent {
        at: Micros,
        msg: u64,
        from: Name,
        to: Name,
        kind: MsgKind,
        label: Label,
        deliver_at: Micros,
        bytes: u32,
        /// The client operation (history index) the message belongs to: a request or response, or a replicated
        /// entry written by that operation. Derived from the payload, like the label, so not hashed.
        op: Option<usize>,
        /// The log positions a replicate message carries (first, last). Derived from the payload: not hashed.
        lsns: Option<(u64, u64)>,
    },
    Delivered {
        at: Micros,
        msg: u64,
        from: Name,
        to: Name,
        kind: MsgKind,
    },
    Dropped {
        at: Micros,
        msg: u64,
        from: Name,
        to: Name,
        kind: MsgKind,
        reason: DropReason,
    },
    Crashed {
        at: Micros,
        node: Name,
    },
    Restarted {
        at: Micros,
        node: Name,
    },
    Paused {
        at: Micros,
        node: Name,
    },
    Resumed {
        at: Micros,
        node: Name,
    },
    Partitioned {
        at: Micros,
        groups: Vec<Vec<String>>,
        one_way: bool,
    },
    Healed {
        at: Micros,
    },
    NetworkChanged {
        at: Micros,
        detail: String,
    },
    ClientSent {
        at: Micros,
        client: Name,
        op: usize,
        node: Name,
        sql: String,
    },
    WriteAcked {
        at: Micros,
        client: Name,
        op: usize,
        node: Name,
        lsn: u64,
    },
    ReadServed {
        at: Micros,
        client: Name,
        op: usize,
        node: Name,
        rows: usize,
    },
    OpFailed {
        at: Micros,
        client: Name,
        op: usize,
        error: String,
    },
    Applied {
        at: Micros,
        node: Name,
        lsn: u64,
    },
    RoleChanged {
        at: Micros,
        node: Name,
        role: RoleChange,
    },
    Halted {
        at: Micros,
        node: Name,
        error: String,
    },
    ElectionStarted {
        at: Micros,
        node: Name,
        epoch: u64,
    },
    Appointed {
        at: Micros,
        controller: Name,
        node: Name,
        epoch: u64,
    },
    Discarded {
        at: Micros,
        node: Name,
        from_lsn: u64,
        to_lsn: u64,
        ops: usize,
    },
    Joined {
        at: Micros,
        node: Name,
        method: String,
    },
    SnapshotInstalled {
        at: Micros,
        node: Name,
        lsn: u64,
    },
    CaughtUp {
        at: Micros,
        node: Name,
        lsn: u64,
    },
    SyncFollower {
        at: Micros,
        leader: Name,
        node: Name,
    },
    ShutDown {
        at: Micros,
        node: Name,
        reason: String,
    },
    LeaderLearned {
        at: Micros,
        client: Name,
        leader: Name,
    },
    /// A rolling upgrade's step: the node restarted with another storage format (pages rewritten).
    Upgraded {
        at: Micros,
        node: Name,
        format: u8,
    },
    /// Leaderless: a crashed replica restarted with a copy of another replica's data in place of its own.
    Restored {
        at: Micros,
        node: Name,
        from: Name,
    },
    /// Multi-leader: a leader found two concurrent writes to one row (neither had seen the other) and resolved them
    /// by its conflict strategy; `how` says what was kept and what was discarded.
    ConflictResolved {
        at: Micros,
        node: Name,
        row: String,
        how: String,
    },
    /// Multi-leader: a leader dropped change `seq` of `origin` because the change already carried its id (it went
    /// round a ring or came back through a star): no replication loop.
    DroppedOwn {
        at: Micros,
        node: Name,
        origin: Name,
        seq: u64,
    },
}

impl MsgKind {
    /// The kind's word in the trace encoding (fixed: never renumber).
    pub fn code(self) -> u64 {
        match self {
            MsgKind::Request => 1,
            MsgKind::Response => 2,
            MsgKind::Replicate => 3,
            MsgKind::Ack => 4,
            MsgKind::Heartbeat => 5,
            MsgKind::Fetch => 6,
            MsgKind::Snapshot => 7,
            MsgKind::Election => 8,
        }
    }
}

impl DropReason {
    /// The reason's word in the trace encoding (fixed: never renumber).
    pub fn code(self) -> u64 {
        match self {
            DropReason::Loss => 1,
            DropReason::Partition => 2,
            DropReason::TargetDown => 3,
        }
    }
}

impl TraceEvent {
    /// Write this event's words into the hash (the encoding is described at the top of this module). Tags are
    /// fixed numbers: a new variant takes the next free one, and changing what an existing tag writes bumps
    /// `TRACE_ENCODING`.
    pub fn encode(&self, h: &mut TraceHasher) {
        match self {
            TraceEvent::Sent { at, msg, from, to, kind, label: _, deliver_at, bytes, op: _, lsns: _ } => {
                h.word(1);
                h.word(*at);
                h.word(*msg);
                h.str(from);
                h.str(to);
                h.word(kind.code());
                h.word(*deliver_at);
                h.word(u64::from(*bytes));
            }
            TraceEvent::Delivered { at, msg, from, to, kind } => {
                h.word(2);
                h.word(*at);
                h.word(*msg);
                h.str(from);
                h.str(to);
                h.word(kind.code());
            }
            TraceEvent::Dropped { at, msg, from, to, kind, reason } => {
                h.word(3);
                h.word(*at);
                h.word(*msg);
                h.str(from);
                h.str(to);
                h.word(kind.code());
                h.word(reason.code());
            }
            TraceEvent::Crashed { at, node } => node_event(h, 4, *at, node),
            TraceEvent::Restarted { at, node } => node_event(h, 5, *at, node),
            TraceEvent::Paused { at, node } => node_event(h, 6, *at, node),
            TraceEvent::Resumed { at, node } => node_event(h, 7, *at, node),
            TraceEvent::Partitioned { at, groups, one_way } => {
                h.word(8);
                h.word(*at);
                h.word(groups.len() as u64);
                for g in groups {
                    h.word(g.len() as u64);
                    for name in g {
                        h.str(name);
                    }
                }
                h.word(u64::from(*one_way));
            }
            TraceEvent::Healed { at } => {
                h.word(9);
                h.word(*at);
            }
            TraceEvent::NetworkChanged { at, detail } => {
                h.word(10);
                h.word(*at);
                h.str(detail);
            }
            TraceEvent::ClientSent { at, client, op, node, sql } => {
                client_event(h, 11, *at, client, *op);
                h.str(node);
                h.str(sql);
            }
            TraceEvent::WriteAcked { at, client, op, node, lsn } => {
                client_event(h, 12, *at, client, *op);
                h.str(node);
                h.word(*lsn);
            }
            TraceEvent::ReadServed { at, client, op, node, rows } => {
                client_event(h, 13, *at, client, *op);
                h.str(node);
                h.word(*rows as u64);
            }
            TraceEvent::OpFailed { at, client, op, error } => {
                client_event(h, 14, *at, client, *op);
                h.str(error);
            }
            TraceEvent::Applied { at, node, lsn } => node_number(h, 15, *at, node, *lsn),
            TraceEvent::RoleChanged { at, node, role } => node_text(h, 16, *at, node, &role.to_string()),
            TraceEvent::Halted { at, node, error } => node_text(h, 17, *at, node, error),
            TraceEvent::ElectionStarted { at, node, epoch } => node_number(h, 19, *at, node, *epoch),
            TraceEvent::Appointed { at, controller, node, epoch } => {
                h.word(20);
                h.word(*at);
                h.str(controller);
                h.str(node);
                h.word(*epoch);
            }
            TraceEvent::Discarded { at, node, from_lsn, to_lsn, ops } => {
                h.word(21);
                h.word(*at);
                h.str(node);
                h.word(*from_lsn);
                h.word(*to_lsn);
                h.word(*ops as u64);
            }
            TraceEvent::Joined { at, node, method } => node_text(h, 22, *at, node, method),
            TraceEvent::SnapshotInstalled { at, node, lsn } => node_number(h, 23, *at, node, *lsn),
            TraceEvent::CaughtUp { at, node, lsn } => node_number(h, 24, *at, node, *lsn),
            TraceEvent::SyncFollower { at, leader, node } => {
                h.word(25);
                h.word(*at);
                h.str(leader);
                h.str(node);
            }
            TraceEvent::ShutDown { at, node, reason } => node_text(h, 26, *at, node, reason),
            TraceEvent::LeaderLearned { at, client, leader } => {
                h.word(27);
                h.word(*at);
                h.str(client);
                h.str(leader);
            }
            TraceEvent::Upgraded { at, node, format } => node_number(h, 28, *at, node, u64::from(*format)),
            TraceEvent::Restored { at, node, from } => node_text(h, 29, *at, node, from),
            TraceEvent::ConflictResolved { at, node, row, how } => {
                node_text(h, 30, *at, node, row);
                h.str(how);
            }
            TraceEvent::DroppedOwn { at, node, origin, seq } => {
                node_text(h, 31, *at, node, origin);
                h.word(*seq);
            }
        }
    }

    pub fn at(&self) -> Micros {
        match self {
            TraceEvent::Sent { at, .. }
            | TraceEvent::Delivered { at, .. }
            | TraceEvent::Dropped { at, .. }
            | TraceEvent::Crashed { at, .. }
            | TraceEvent::Restarted { at, .. }
            | TraceEvent::Paused { at, .. }
            | TraceEvent::Resumed { at, .. }
            | TraceEvent::Partitioned { at, .. }
            | TraceEvent::Healed { at }
            | TraceEvent::NetworkChanged { at, .. }
            | TraceEvent::ClientSent { at, .. }
            | TraceEvent::WriteAcked { at, .. }
            | TraceEvent::ReadServed { at, .. }
            | TraceEvent::OpFailed { at, .. }
            | TraceEvent::Applied { at, .. }
            | TraceEvent::RoleChanged { at, .. }
            | TraceEvent::Halted { at, .. }
            | TraceEvent::ElectionStarted { at, .. }
            | TraceEvent::Appointed { at, .. }
            | TraceEvent::Discarded { at, .. }
            | TraceEvent::Joined { at, .. }
            | TraceEvent::SnapshotInstalled { at, .. }
            | TraceEvent::CaughtUp { at, .. }
            | TraceEvent::SyncFollower { at, .. }
            | TraceEvent::ShutDown { at, .. }
            | TraceEvent::LeaderLearned { at, .. }
            | TraceEvent::Upgraded { at, .. }
            | TraceEvent::Restored { at, .. }
            | TraceEvent::ConflictResolved { at, .. }
            | TraceEvent::DroppedOwn { at, .. } => *at,
        }
    }

    /// One line of `replsim trace`; the legend is in ARCHITECTURE.md.
    pub fn line(&self) -> String {
        let mut s = format!("{:>12} ", fmt_ms(self.at()));
        let _ = match self {
            TraceEvent::Sent { msg, from, to, kind, label, deliver_at, bytes, .. } => write!(
                s,
                "send     #{msg} {from} -> {to} {} {label} ({bytes} B, due {})",
                kind.name(),
                fmt_ms(*deliver_at)
            ),
            TraceEvent::Delivered { msg, from, to, kind, .. } => {
                write!(s, "deliver  #{msg} {from} -> {to} {}", kind.name())
            }
            TraceEvent::Dropped { msg, from, to, kind, reason, .. } => {
                write!(s, "drop     #{msg} {from} -> {to} {} ({})", kind.name(), reason.name())
            }
            TraceEvent::Crashed { node, .. } => write!(s, "crash    {node}"),
            TraceEvent::Restarted { node, .. } => write!(s, "restart  {node}"),
            TraceEvent::Paused { node, .. } => write!(s, "pause    {node}"),
            TraceEvent::Resumed { node, .. } => write!(s, "resume   {node}"),
            TraceEvent::Partitioned { groups, one_way, .. } => {
                let g: Vec<String> = groups.iter().map(|g| format!("[{}]", g.join(","))).collect();
                let arrow = if *one_way { " -/-> " } else { " | " };
                write!(s, "cut      {}", g.join(arrow))
            }
            TraceEvent::Healed { .. } => write!(s, "heal     all links"),
            TraceEvent::NetworkChanged { detail, .. } => write!(s, "network  {detail}"),
            TraceEvent::ClientSent { client, op, node, sql, .. } => {
                write!(s, "op       {client}#{op} -> {node}: {sql}")
            }
            TraceEvent::WriteAcked { client, op, node, lsn, .. } => {
                write!(s, "ack      {client}#{op} by {node} at lsn {lsn}")
            }
            TraceEvent::ReadServed { client, op, node, rows, .. } => {
                write!(s, "read     {client}#{op} by {node}: {rows} rows")
            }
            TraceEvent::OpFailed { client, op, error, .. } => {
                write!(s, "fail     {client}#{op}: {error}")
            }
            TraceEvent::Applied { node, lsn, .. } => write!(s, "apply    {node} lsn {lsn}"),
            TraceEvent::RoleChanged { node, role, .. } => write!(s, "role     {node} is now {role}"),
            TraceEvent::Halted { node, error, .. } => write!(s, "halt     {node}: {error}"),
            TraceEvent::ElectionStarted { node, epoch, .. } => write!(s, "elect    {node} stands for epoch {epoch}"),
            TraceEvent::Appointed { controller, node, epoch, .. } => {
                write!(s, "appoint  {controller} makes {node} leader of epoch {epoch}")
            }
            TraceEvent::Discarded { node, from_lsn, to_lsn, ops, .. } => {
                write!(s, "discard  {node} drops lsn {from_lsn}..{to_lsn} ({ops} client writes)")
            }
            TraceEvent::Joined { node, method, .. } => write!(s, "join     {node} by {method}"),
            TraceEvent::SnapshotInstalled { node, lsn, .. } => write!(s, "install  {node} snapshot at lsn {lsn}"),
            TraceEvent::CaughtUp { node, lsn, .. } => write!(s, "caughtup {node} at lsn {lsn}"),
            TraceEvent::SyncFollower { leader, node, .. } => {
                write!(s, "sync     {leader} makes {node} its synchronous follower")
            }
            TraceEvent::ShutDown { node, reason, .. } => write!(s, "shutdown {node}: {reason}"),
            TraceEvent::LeaderLearned { client, leader, .. } => write!(s, "discover {client} now sends to {leader}"),
            TraceEvent::Upgraded { node, format, .. } => write!(s, "upgrade  {node} to storage format {format}"),
            TraceEvent::Restored { node, from, .. } => write!(s, "restore  {node} from {from}'s copy"),
            TraceEvent::ConflictResolved { node, row, how, .. } => write!(s, "conflict {node} {row}: {how}"),
            TraceEvent::DroppedOwn { node, origin, seq, .. } => {
                write!(s, "loopdrop {node} drops change {seq} of {origin}: it carries {node}'s id")
            }
        };
        s
    }
}

fn client_event(h: &mut TraceHasher, tag: u64, at: Micros, client: &str, op: usize) {
    h.word(tag);
    h.word(at);
    h.str(client);
    h.word(op as u64);
}

fn node_event(h: &mut TraceHasher, tag: u64, at: Micros, node: &str) {
    h.word(tag);
    h.word(at);
    h.str(node);
}

fn node_number(h: &mut TraceHasher, tag: u64, at: Micros, node: &str, n: u64) {
    node_event(h, tag, at, node);
    h.word(n);
}

fn node_text(h: &mut TraceHasher, tag: u64, at: Micros, node: &str, text: &str) {
    node_event(h, tag, at, node);
    h.str(text);
}

impl fmt::Display for TraceEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.line())
    }
}

/// The trace of a run: events plus a running hash, so the hash never needs a second pass.
#[derive(Clone, Debug, Default)]
pub struct Trace {
    events: crate::chunked::Chunked<TraceEvent>,
    hasher: TraceHasher,
    count: u64,
    /// When false (benchmarks), events are hashed and counted but not kept.
    keep: bool,
}

impl Trace {
    pub fn new(keep: bool) -> Self {
        Trace { events: crate::chunked::Chunked::new(), hasher: TraceHasher::new(), count: 0, keep }
    }
    pub fn push(&mut self, e: TraceEvent) {
        e.encode(&mut self.hasher);
        self.count += 1;
        if self.keep {
            self.events.push(e);
        }
    }
    pub fn events(&self) -> &crate::chunked::Chunked<TraceEvent> {
        &self.events
    }

    pub fn hash(&self) -> u64 {
        self.hasher.finish()
    }
    pub fn len(&self) -> u64 {
        self.count
    }
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
    /// Does this trace keep events (and so want labels)?
    pub fn keeps(&self) -> bool {
        self.keep
    }
}

/// The hash of `sample_events()` under encoding `TRACE_ENCODING` (pinned natively and in the browser).
pub const GOLDEN_SAMPLE_HASH: &str = "8fa1827298cddcc0";

/// A few events covering every field shape of the encoding, for the pinned hash.
pub fn sample_events() -> Vec<TraceEvent> {
    vec![
        TraceEvent::Sent {
            at: 1_000,
            msg: 7,
            from: "n1".into(),
            to: "n2".into(),
            kind: MsgKind::Replicate,
            label: Label("lsn 1".into()),
            deliver_at: 2_500,
            bytes: 120,
            op: Some(3),
            lsns: Some((1, 1)),
        },
        TraceEvent::Dropped {
            at: 3_000,
            msg: 8,
            from: "n2".into(),
            to: "n1".into(),
            kind: MsgKind::Ack,
            reason: DropReason::Partition,
        },
        TraceEvent::Partitioned {
            at: 4_000,
            groups: vec![vec!["n1".into()], vec!["n2".into(), "n3".into()]],
            one_way: true,
        },
        TraceEvent::ClientSent {
            at: 5_000,
            client: "alice".into(),
            op: 3,
            node: "n1".into(),
            sql: "INSERT INTO users (name) VALUES ('Ada Lovelace')".into(),
        },
        TraceEvent::WriteAcked { at: 6_000, client: "alice".into(), op: 3, node: "n1".into(), lsn: 42 },
        TraceEvent::RoleChanged { at: 7_000, node: "n2".into(), role: RoleChange::Leader { epoch: 2 } },
        TraceEvent::Upgraded { at: 8_000, node: "n3".into(), format: 2 },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_matches_reference_vector() {
        // FNV-1a 64 of "a" is 0xaf63dc4c8601ec8c (published test vector).
        let mut h = Fnv64::new();
        h.write_bytes(b"a");
        assert_eq!(h.finish(), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn the_encoding_is_pinned() {
        // One event of every shape, hashed: a change of the encoding (or of the hasher) changes this number, and
        // must bump TRACE_ENCODING and rewrite tests/golden/behaviour.tsv. The browser test pins it too.
        let mut t = Trace::new(false);
        for e in sample_events() {
            t.push(e);
        }
        assert_eq!(format!("{:016x}", t.hash()), GOLDEN_SAMPLE_HASH);
    }

    #[test]
    fn strings_are_length_prefixed() {
        // "ab" + "c" and "a" + "bc" must not hash alike.
        let mut a = TraceHasher::new();
        a.str("ab");
        a.str("c");
        let mut b = TraceHasher::new();
        b.str("a");
        b.str("bc");
        assert_ne!(a.finish(), b.finish());
    }

    #[test]
    fn hash_depends_on_every_event() {
        let mut a = Trace::new(true);
        let mut b = Trace::new(false);
        a.push(TraceEvent::Crashed { at: 5, node: "n1".into() });
        b.push(TraceEvent::Crashed { at: 5, node: "n1".into() });
        let sent = |label: &str| TraceEvent::Sent {
            at: 1,
            msg: 0,
            from: "a".into(),
            to: "b".into(),
            kind: MsgKind::Ack,
            label: Label(label.into()),
            deliver_at: 2,
            bytes: 3,
            op: None,
            lsns: None,
        };
        a.push(sent("with a label"));
        b.push(sent(""));
        assert_eq!(a.hash(), b.hash());
        b.push(TraceEvent::Healed { at: 6 });
        assert_ne!(a.hash(), b.hash());
        assert!(b.events().is_empty(), "a trace that does not keep events stores none");
    }
}
