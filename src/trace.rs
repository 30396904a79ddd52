//! The typed trace: every observable thing that happens in a run, in the order it happens. The UI draws it, the
//! checkers and tests read it, and its stable hash (FNV-1a 64 over a platform-independent encoding) proves that two
//! runs were identical, natively and in the browser.

use std::fmt::{self, Write as _};
use std::hash::{Hash, Hasher};
use std::rc::Rc;

use crate::time::{fmt_ms, Micros};

/// FNV-1a, 64-bit, over bytes; integers are folded in as whole 64-bit words (one xor-multiply step each, not eight),
/// and `usize`/`isize` are widened first, so the hash is the same on wasm32 and x86_64.
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

impl Hasher for Fnv64 {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        self.write_bytes(bytes);
    }
    fn write_u8(&mut self, i: u8) {
        self.write_u64(u64::from(i));
    }
    fn write_u16(&mut self, i: u16) {
        self.write_u64(u64::from(i));
    }
    fn write_u32(&mut self, i: u32) {
        self.write_u64(u64::from(i));
    }
    fn write_u64(&mut self, i: u64) {
        self.0 ^= i;
        self.0 = self.0.wrapping_mul(0x0100_0000_01b3).rotate_left(29);
    }
    fn write_usize(&mut self, i: usize) {
        self.write_u64(i as u64);
    }
    fn write_i64(&mut self, i: i64) {
        self.write_u64(i as u64);
    }
    fn write_isize(&mut self, i: isize) {
        self.write_u64(i as u64);
    }
}

/// An endpoint name in the trace: shared, so recording an event does not allocate.
pub type Name = Rc<str>;

/// Text for people (a message's label). It is derived from the message, so it is left out of the trace hash:
/// a benchmark that keeps no trace need not format it, and the hash is the same either way.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Label(pub String);

impl Hash for Label {
    fn hash<H: Hasher>(&self, _: &mut H) {}
}

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

/// Why a message never arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
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

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
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
        role: String,
    },
    Halted {
        at: Micros,
        node: Name,
        error: String,
    },
    Anomaly {
        at: Micros,
        kind: String,
        detail: String,
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
}

impl TraceEvent {
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
            | TraceEvent::Anomaly { at, .. }
            | TraceEvent::ElectionStarted { at, .. }
            | TraceEvent::Appointed { at, .. }
            | TraceEvent::Discarded { at, .. }
            | TraceEvent::Joined { at, .. }
            | TraceEvent::SnapshotInstalled { at, .. }
            | TraceEvent::CaughtUp { at, .. }
            | TraceEvent::SyncFollower { at, .. }
            | TraceEvent::ShutDown { at, .. }
            | TraceEvent::LeaderLearned { at, .. }
            | TraceEvent::Upgraded { at, .. } => *at,
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
            TraceEvent::Anomaly { kind, detail, .. } => write!(s, "ANOMALY  {kind}: {detail}"),
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
        };
        s
    }
}

impl fmt::Display for TraceEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.line())
    }
}

/// The trace of a run: events plus a running hash, so the hash never needs a second pass.
#[derive(Clone, Debug, Default)]
pub struct Trace {
    events: Vec<TraceEvent>,
    hasher: Fnv64,
    count: u64,
    /// When false (benchmarks), events are hashed and counted but not kept.
    keep: bool,
}

impl Trace {
    pub fn new(keep: bool) -> Self {
        Trace { events: Vec::new(), hasher: Fnv64::new(), count: 0, keep }
    }
    pub fn push(&mut self, e: TraceEvent) {
        e.hash(&mut self.hasher);
        self.count += 1;
        if self.keep {
            self.events.push(e);
        }
    }
    pub fn events(&self) -> &[TraceEvent] {
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
    fn usize_hashes_like_u64() {
        let mut a = Fnv64::new();
        a.write_usize(42);
        let mut b = Fnv64::new();
        b.write_u64(42);
        assert_eq!(a.finish(), b.finish());
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
        };
        a.push(sent("with a label"));
        b.push(sent(""));
        assert_eq!(a.hash(), b.hash());
        b.push(TraceEvent::Healed { at: 6 });
        assert_ne!(a.hash(), b.hash());
        assert!(b.events().is_empty(), "a trace that does not keep events stores none");
    }
}
