//! A database server process, as an I/O-free state machine: `on_message` / `on_timer` take the simulated time and an
//! input and return effects (send a message, set a timer, note something for the trace). Only the simulation
//! interprets effects; it owns true time, the network and the event queue. Handler tests assert the exact effects.
//!
//! Single-leader replication (DDIA 5.1 "Leaders and Followers"):
//! - the leader executes client statements on its storage engine; each committed transaction becomes one entry in
//!   its ordered log with the next log sequence number (LSN), and is shipped to every follower at once (pipelined);
//! - a follower applies entries strictly in LSN order (buffering any that arrive early), durably remembers the last
//!   LSN it applied, and acknowledges its position;
//! - every `heartbeat_ms` the leader tells each follower its latest LSN; a follower always answers with its own
//!   position, which is how a restarted leader relearns where everyone is, and the leader retransmits what a follower
//!   is missing (lost messages, a partition that healed, a follower that crashed and came back);
//! - after a restart a follower asks the leader for everything after its durable position (catch-up recovery);
//! - in async mode the leader answers the client as soon as its own commit is done; in sync mode only after every
//!   follower confirmed the entry; in semi-sync mode after the first follower (the synchronous one) confirmed it.

use std::collections::BTreeMap;
use std::rc::Rc;

use crate::replog::{method, LogEntry};
use crate::rng::SimRng;
use crate::scenario::{ClockSpec, LogKind, Mode, Role};
use crate::sql::{Database, Env, Outcome, Session, StatementKind, Value};
use crate::time::Micros;

/// 2026-01-01T00:00:00Z: the wall-clock reading at simulated time zero, for NOW().
pub const EPOCH_BASE_US: i64 = 1_767_225_600_000_000;
/// How many log entries a leader puts in one catch-up message.
pub const CATCH_UP_BATCH: usize = 64;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    Running,
    Crashed,
    Paused,
    /// Replication stopped on an error it cannot get past (e.g. a replayed statement failed).
    Halted,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Running => "running",
            Status::Crashed => "crashed",
            Status::Paused => "paused",
            Status::Halted => "halted",
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
#[derive(Clone, Debug, PartialEq)]
pub struct OpResult {
    pub ok: bool,
    pub error: Option<String>,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Value>>,
    pub rows_affected: u64,
    pub last_insert_id: Option<i64>,
    pub lsn: Option<u64>,
    pub read_only: bool,
}

impl OpResult {
    pub fn error(message: impl Into<String>) -> Self {
        OpResult {
            ok: false,
            error: Some(message.into()),
            columns: Vec::new(),
            rows: Vec::new(),
            rows_affected: 0,
            last_insert_id: None,
            lsn: None,
            read_only: false,
        }
    }
    fn from_outcome(o: Outcome, lsn: Option<u64>) -> Self {
        OpResult {
            ok: true,
            error: None,
            read_only: o.kind == StatementKind::Select,
            columns: o.columns,
            rows: o.rows,
            rows_affected: o.rows_affected,
            last_insert_id: o.last_insert_id,
            lsn,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Payload {
    Request {
        op: usize,
        sql: String,
    },
    Response {
        op: usize,
        result: OpResult,
    },
    Replicate {
        entries: Vec<Rc<LogEntry>>,
        leader_lsn: u64,
    },
    Ack {
        lsn: u64,
    },
    Heartbeat {
        leader_lsn: u64,
    },
    /// A follower asks for every entry after `after_lsn`.
    Fetch {
        after_lsn: u64,
    },
}

impl Payload {
    pub fn kind(&self) -> crate::trace::MsgKind {
        use crate::trace::MsgKind;
        match self {
            Payload::Request { .. } => MsgKind::Request,
            Payload::Response { .. } => MsgKind::Response,
            Payload::Replicate { .. } => MsgKind::Replicate,
            Payload::Ack { .. } => MsgKind::Ack,
            Payload::Heartbeat { .. } => MsgKind::Heartbeat,
            Payload::Fetch { .. } => MsgKind::Fetch,
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
            Payload::Replicate { entries, .. } => match entries.as_slice() {
                [] => "empty".to_string(),
                [one] => format!("lsn {}: {}", one.lsn, one.record.describe()),
                [first, .., last] => format!("lsn {}..{}", first.lsn, last.lsn),
            },
            Payload::Ack { lsn } => format!("ack {lsn}"),
            Payload::Heartbeat { leader_lsn } => format!("hb {leader_lsn}"),
            Payload::Fetch { after_lsn } => format!("fetch >{after_lsn}"),
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
            Payload::Ack { .. } | Payload::Heartbeat { .. } | Payload::Fetch { .. } => 8,
        };
        (24 + body).min(u32::MAX as usize) as u32
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timer {
    Heartbeat,
    /// A buffered entry becomes ready to apply (followers with an apply delay).
    ApplyReady,
}

/// Something worth a line in the trace, said by the node.
#[derive(Clone, Debug, PartialEq)]
pub enum Note {
    WriteCommitted { op: usize, lsn: u64 },
    Applied { lsn: u64 },
    Halted { error: String },
}

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
}

/// A client response held back until enough followers confirmed (sync and semi-sync modes).
#[derive(Clone, Debug, PartialEq)]
struct Waiting {
    client: usize,
    op: usize,
    lsn: u64,
    result: OpResult,
}

/// State lost in a crash.
#[derive(Clone, Debug, Default)]
struct Volatile {
    peers: BTreeMap<usize, PeerProgress>,
    /// Entries received ahead of order, with the time they may be applied.
    buffer: BTreeMap<u64, (Micros, Rc<LogEntry>)>,
    sessions: BTreeMap<usize, Session>,
    waiting: Vec<Waiting>,
    leader_lsn_seen: u64,
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
    /// The log as this node has it (entries are immutable and shared between nodes and messages).
    pub log: Vec<Rc<LogEntry>>,
    pub clock: ClockSpec,
    pub apply_delay: Micros,
    pub leader: usize,
    pub followers: Vec<usize>,
    rng: SimRng,
    // Volatile.
    vol: Volatile,
    /// Bumped at every crash, so timers set before the crash are ignored after it.
    pub incarnation: u64,
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
            log: Vec::new(),
            clock,
            apply_delay,
            leader: 0,
            followers: Vec::new(),
            rng: SimRng::fork(seed, &format!("node:{id}")),
            vol: Volatile::default(),
            incarnation: 0,
        }
    }

    /// The reading of this node's own clock at true time `now`: offset plus drift, in integer arithmetic.
    pub fn local_time_us(&self, now: Micros) -> i64 {
        let now = now as i64;
        let drift = (i128::from(now) * i128::from(self.clock.drift_ppm) / 1_000_000) as i64;
        EPOCH_BASE_US + now + self.clock.offset_ms * 1_000 + drift
    }

    pub fn lsn(&self) -> u64 {
        self.log.len() as u64
    }

    pub fn is_leader(&self) -> bool {
        self.role == Role::Leader
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

    /// Run a schema statement at setup, outside replication (every node starts with the same schema).
    pub fn bootstrap(&mut self, sql: &str) -> Result<(), String> {
        let mut env = NodeEnv { local_now_us: EPOCH_BASE_US, rng: &mut self.rng };
        self.db.execute_autocommit(sql, &mut env).map(|_| ()).map_err(|e| e.message)
    }

    /// Called when the process starts (at time zero, and at every restart).
    pub fn on_start(&mut self, now: Micros, cfg: &NodeConfig) -> Vec<Effect> {
        let mut out = Vec::new();
        if self.is_leader() {
            // Where followers are is unknown until they answer a heartbeat: assume caught up, learn otherwise.
            let last = self.lsn();
            self.vol.peers = self
                .followers
                .iter()
                .map(|f| (*f, PeerProgress { match_lsn: 0, sent_lsn: last, last_send: now }))
                .collect();
            out.push(Effect::SetTimer { at: now + cfg.heartbeat, timer: Timer::Heartbeat });
        } else if self.incarnation > 0 {
            // Catch-up recovery: ask for everything after the last durable position.
            out.push(Effect::Send {
                to: Endpoint::Node(self.leader),
                payload: Payload::Fetch { after_lsn: self.lsn() },
            });
        }
        out
    }

    pub fn crash(&mut self) {
        self.status = Status::Crashed;
        self.incarnation += 1;
        // Open transactions die with the process: undo their uncommitted changes.
        let sessions = std::mem::take(&mut self.vol.sessions);
        for (_, mut session) in sessions {
            if session.in_transaction() {
                let mut env = NodeEnv { local_now_us: EPOCH_BASE_US, rng: &mut self.rng };
                let _ = self.db.execute("ROLLBACK", &mut session, &mut env);
            }
        }
        self.vol = Volatile::default();
    }

    pub fn on_message(&mut self, now: Micros, from: Endpoint, payload: Payload, cfg: &NodeConfig) -> Vec<Effect> {
        let mut out = Vec::new();
        match (payload, from) {
            (Payload::Request { op, sql }, Endpoint::Client(c)) => self.on_request(now, c, op, &sql, cfg, &mut out),
            (Payload::Replicate { entries, leader_lsn }, Endpoint::Node(l)) if !self.is_leader() => {
                self.vol.leader_lsn_seen = self.vol.leader_lsn_seen.max(leader_lsn);
                for e in entries {
                    if e.lsn > self.lsn() {
                        self.vol.buffer.entry(e.lsn).or_insert((now + self.apply_delay, e));
                    }
                }
                self.apply_ready(now, cfg, &mut out);
                out.push(Effect::Send { to: Endpoint::Node(l), payload: Payload::Ack { lsn: self.lsn() } });
            }
            (Payload::Heartbeat { leader_lsn }, Endpoint::Node(l)) if !self.is_leader() => {
                self.vol.leader_lsn_seen = self.vol.leader_lsn_seen.max(leader_lsn);
                out.push(Effect::Send { to: Endpoint::Node(l), payload: Payload::Ack { lsn: self.lsn() } });
            }
            (Payload::Ack { lsn }, Endpoint::Node(f)) if self.is_leader() => self.on_ack(now, f, lsn, cfg, &mut out),
            (Payload::Fetch { after_lsn }, Endpoint::Node(f)) if self.is_leader() => {
                let p = self.vol.peers.entry(f).or_default();
                p.match_lsn = after_lsn;
                p.sent_lsn = after_lsn;
                self.send_batch(now, f, &mut out);
            }
            // Anything else (a stale replication message to a leader, say) is ignored.
            _ => {}
        }
        out
    }

    pub fn on_timer(&mut self, now: Micros, timer: Timer, cfg: &NodeConfig) -> Vec<Effect> {
        let mut out = Vec::new();
        match timer {
            Timer::Heartbeat if self.is_leader() => {
                let last = self.lsn();
                let followers = self.followers.clone();
                for f in followers {
                    let p = self.vol.peers.entry(f).or_default();
                    // Retransmit to a follower that is behind and has heard nothing for a while.
                    let stalled = now.saturating_sub(p.last_send) >= 2 * cfg.heartbeat;
                    if p.match_lsn < last && stalled {
                        p.sent_lsn = p.match_lsn;
                        self.send_batch(now, f, &mut out);
                    } else {
                        out.push(Effect::Send {
                            to: Endpoint::Node(f),
                            payload: Payload::Heartbeat { leader_lsn: last },
                        });
                    }
                }
                out.push(Effect::SetTimer { at: now + cfg.heartbeat, timer: Timer::Heartbeat });
            }
            Timer::ApplyReady if !self.is_leader() => {
                let before = self.lsn();
                self.apply_ready(now, cfg, &mut out);
                if self.lsn() > before {
                    out.push(Effect::Send {
                        to: Endpoint::Node(self.leader),
                        payload: Payload::Ack { lsn: self.lsn() },
                    });
                }
            }
            _ => {}
        }
        out
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
        if self.status == Status::Halted && !self.is_leader() {
            // A halted replica still answers reads from what it has.
        }
        if !self.is_leader() {
            match Database::is_read_only(sql) {
                Ok(true) => {}
                Ok(false) => {
                    out.push(reply(OpResult::error(format!(
                        "cannot execute a write on {}: it is a read-only follower (send writes to the leader)",
                        self.id
                    ))));
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
                    out.push(reply(OpResult::from_outcome(outcome, None)));
                    return;
                };
                let keys = commit
                    .changes
                    .iter()
                    .filter_map(|c| match c {
                        crate::sql::RowChange::Insert { table, row } => {
                            self.db.primary_key_of(table, row).map(|k| (table.clone(), k))
                        }
                        crate::sql::RowChange::Update { table, key, .. }
                        | crate::sql::RowChange::Delete { table, key } => Some((table.clone(), key.clone())),
                        crate::sql::RowChange::Ddl { .. } => None,
                    })
                    .collect();
                let lsn = self.lsn() + 1;
                let record = method(cfg.log).encode(&commit.statements, &commit.changes);
                self.log.push(Rc::new(LogEntry { lsn, record, origin: Some(op), keys, committed_at: now }));
                out.push(Effect::Note(Note::WriteCommitted { op, lsn }));
                // Ship at once to every follower that is in step (pipelining).
                let followers = self.followers.clone();
                for f in followers {
                    let p = self.vol.peers.entry(f).or_default();
                    if p.sent_lsn + 1 == lsn {
                        p.sent_lsn = lsn;
                        p.last_send = now;
                        let entry = self.log[(lsn - 1) as usize].clone();
                        out.push(Effect::Send {
                            to: Endpoint::Node(f),
                            payload: Payload::Replicate { entries: vec![entry], leader_lsn: lsn },
                        });
                    }
                }
                let result = OpResult::from_outcome(outcome, Some(lsn));
                if self.confirmed(lsn, cfg.mode) {
                    out.push(reply(result));
                } else {
                    self.vol.waiting.push(Waiting { client, op, lsn, result });
                }
            }
        }
    }

    /// Has `lsn` reached enough followers for this mode to acknowledge the client?
    fn confirmed(&self, lsn: u64, mode: Mode) -> bool {
        let has = |f: &usize| self.vol.peers.get(f).is_some_and(|p| p.match_lsn >= lsn);
        match mode {
            Mode::Async => true,
            Mode::Sync => self.followers.iter().all(has),
            Mode::SemiSync => self.followers.first().is_none_or(has),
        }
    }

    fn on_ack(&mut self, now: Micros, f: usize, lsn: u64, cfg: &NodeConfig, out: &mut Vec<Effect>) {
        let last = self.lsn();
        let p = self.vol.peers.entry(f).or_default();
        p.match_lsn = p.match_lsn.max(lsn.min(last));
        // Catching up: the follower has everything we sent, and more is waiting.
        if p.match_lsn >= p.sent_lsn && p.sent_lsn < last {
            self.send_batch(now, f, out);
        }
        if !self.vol.waiting.is_empty() {
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
    }

    fn send_batch(&mut self, now: Micros, f: usize, out: &mut Vec<Effect>) {
        let last = self.lsn();
        let Some(p) = self.vol.peers.get_mut(&f) else { return };
        let from = p.sent_lsn.min(last);
        let to = (from + CATCH_UP_BATCH as u64).min(last);
        if to <= from {
            return;
        }
        p.sent_lsn = to;
        p.last_send = now;
        let entries = self.log[from as usize..to as usize].to_vec();
        out.push(Effect::Send { to: Endpoint::Node(f), payload: Payload::Replicate { entries, leader_lsn: last } });
    }

    /// Apply buffered entries in LSN order while the next one is present and ready.
    fn apply_ready(&mut self, now: Micros, cfg: &NodeConfig, out: &mut Vec<Effect>) {
        if self.status == Status::Halted {
            return;
        }
        while let Some((ready_at, _)) = self.vol.buffer.get(&(self.lsn() + 1)) {
            if *ready_at > now {
                out.push(Effect::SetTimer { at: *ready_at, timer: Timer::ApplyReady });
                return;
            }
            let Some((_, entry)) = self.vol.buffer.remove(&(self.lsn() + 1)) else { return };
            let mut env = NodeEnv { local_now_us: self.local_time_us(now), rng: &mut self.rng };
            if let Err(e) = method(cfg.log).apply(&mut self.db, &entry.record, &mut env) {
                let error = format!("replication stopped at lsn {}: {}", entry.lsn, e.message);
                self.status = Status::Halted;
                self.halt_error = Some(error.clone());
                out.push(Effect::Note(Note::Halted { error }));
                return;
            }
            let lsn = entry.lsn;
            self.log.push(entry);
            out.push(Effect::Note(Note::Applied { lsn }));
        }
        // Drop anything already applied (duplicates).
        let applied = self.lsn();
        self.vol.buffer.retain(|l, _| *l > applied);
    }
}

#[cfg(test)]
mod tests {
    //! Handler tests: feed one input, assert the exact effects.
    use super::*;

    fn cfg(mode: Mode) -> NodeConfig {
        NodeConfig { mode, log: LogKind::Logical, heartbeat: 50_000, statement_substitution: false }
    }

    fn leader() -> Node {
        let mut n = Node::new(0, "n1", Role::Leader, ClockSpec::default(), 0, 1);
        n.followers = vec![1, 2];
        n.bootstrap("CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT, v TEXT)").unwrap();
        n
    }

    fn follower(index: usize) -> Node {
        let mut n = Node::new(index, &format!("n{}", index + 1), Role::Follower, ClockSpec::default(), 0, 1);
        n.bootstrap("CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT, v TEXT)").unwrap();
        n
    }

    fn request(sql: &str) -> Payload {
        Payload::Request { op: 0, sql: sql.into() }
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
        let out = n.on_message(20, Endpoint::Node(1), Payload::Ack { lsn: 1 }, &c);
        assert!(sends(&out).is_empty(), "one of two followers is not enough");
        let out = n.on_message(30, Endpoint::Node(2), Payload::Ack { lsn: 1 }, &c);
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
        let out = n.on_message(20, Endpoint::Node(1), Payload::Ack { lsn: 1 }, &c);
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
        let second = Payload::Replicate { entries: vec![l.log[1].clone()], leader_lsn: 2 };
        let out = f.on_message(5, Endpoint::Node(0), second, &c);
        assert_eq!(f.lsn(), 0, "entry 2 waits for entry 1");
        assert_eq!(f.buffered(), 1);
        assert_eq!(out, vec![Effect::Send { to: Endpoint::Node(0), payload: Payload::Ack { lsn: 0 } }]);
        let first = Payload::Replicate { entries: vec![l.log[0].clone()], leader_lsn: 2 };
        let out = f.on_message(6, Endpoint::Node(0), first.clone(), &c);
        assert_eq!(
            out,
            vec![
                Effect::Note(Note::Applied { lsn: 1 }),
                Effect::Note(Note::Applied { lsn: 2 }),
                Effect::Send { to: Endpoint::Node(0), payload: Payload::Ack { lsn: 2 } },
            ]
        );
        // A duplicate changes nothing.
        let out = f.on_message(7, Endpoint::Node(0), first, &c);
        assert_eq!(out, vec![Effect::Send { to: Endpoint::Node(0), payload: Payload::Ack { lsn: 2 } }]);
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
        f.on_message(5, Endpoint::Node(0), Payload::Replicate { entries: vec![l.log[0].clone()], leader_lsn: 1 }, &c);
        f.crash();
        assert_eq!(f.lsn(), 1, "durable");
        let out = f.on_start(100, &c);
        assert_eq!(out, vec![Effect::Send { to: Endpoint::Node(0), payload: Payload::Fetch { after_lsn: 1 } }]);
        // The leader answers a fetch with the backlog.
        l.on_message(101, Endpoint::Client(0), request("INSERT INTO t (v) VALUES ('b')"), &c);
        let out = l.on_message(110, Endpoint::Node(1), Payload::Fetch { after_lsn: 1 }, &c);
        match &out[..] {
            [Effect::Send { to: Endpoint::Node(1), payload: Payload::Replicate { entries, leader_lsn: 2 } }] => {
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
        l.on_message(20, Endpoint::Node(2), Payload::Ack { lsn: 1 }, &c);
        // n2 never acknowledged: after two heartbeat intervals it gets the entry again; n3 gets a heartbeat.
        let out = l.on_timer(200_000, Timer::Heartbeat, &c);
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
