//! The simulation: one world struct that owns true time, the event queue, the network, the processes' lives, the
//! clients' history and the trace. A run is a pure function of (scenario, seed, commands). The world knows
//! processes and messages, not leaders: what the processes do is the replication protocol's
//! (`crate::protocol::Protocol`), reached through one enum.
//!
//! Event order is total: `(time, class, sequence)`. Timed commands (the scenario's workload and faults, and what a
//! person does in the playground) come first at their time, in list order; everything else (deliveries, timers)
//! follows in the order it was scheduled. A command a person adds while watching is stamped one microsecond after
//! the moment on screen, so replaying the run from scratch puts it at exactly the same place in the order.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::rc::Rc;

use crate::chunked::Chunked;

use crate::protocol::{Action, CommandOutcome, Endpoint, Message, OpError, OpResult, Protocol, Routed, Status, Timer};
use crate::scenario::{ClientSpec, Command, Scenario, TimedCommand};
use crate::world::net::Network;
use crate::world::rng::SimRng;
use crate::world::time::{after, ms, Micros};
use crate::world::trace::{DropReason, Label, MsgKind, Name, Trace, TraceEvent};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum EventKind {
    Deliver(u64),
    Timer { node: usize, incarnation: u64, timer: Timer },
    ClientTimeout { client: usize, op: usize },
    Resume { node: usize, incarnation: u64 },
    ClientTimer { client: usize, timer: Timer },
}

/// A message on the wire.
#[derive(Clone, Debug)]
pub struct InFlight {
    pub from: Endpoint,
    pub to: Endpoint,
    pub payload: Message,
    pub sent: Micros,
    pub deliver: Micros,
    /// Decided at send time: the network loses this one, or the link was already cut.
    pub doomed: Option<DropReason>,
}

/// Messages on the wire, by id. Ids are handed out in increasing order and most messages arrive in roughly the
/// order they were sent, so a deque indexed by `id - first` gives O(1) insert and remove with stable iteration.
#[derive(Clone, Debug, Default)]
struct InFlightTable {
    first: u64,
    slots: std::collections::VecDeque<Option<InFlight>>,
    live: usize,
}

impl InFlightTable {
    fn insert(&mut self, id: u64, m: InFlight) {
        if self.slots.is_empty() {
            self.first = id;
        }
        debug_assert_eq!(id, self.first + self.slots.len() as u64, "ids are handed out in order");
        self.slots.push_back(Some(m));
        self.live += 1;
    }

    fn remove(&mut self, id: u64) -> Option<InFlight> {
        let slot = self.slots.get_mut(id.checked_sub(self.first)? as usize)?;
        let m = slot.take()?;
        self.live -= 1;
        while matches!(self.slots.front(), Some(None)) {
            self.slots.pop_front();
            self.first += 1;
        }
        Some(m)
    }

    fn iter(&self) -> impl Iterator<Item = (u64, &InFlight)> {
        let first = self.first;
        self.slots.iter().enumerate().filter_map(move |(i, m)| m.as_ref().map(|m| (first + i as u64, m)))
    }

    fn is_empty(&self) -> bool {
        self.live == 0
    }
}

/// One client operation, as the client saw it.
#[derive(Clone, Debug, PartialEq)]
pub struct HistoryEntry {
    pub client: usize,
    pub read: bool,
    pub sql: String,
    pub node: usize,
    pub start: Micros,
    pub end: Option<Micros>,
    pub result: Option<OpResult>,
}

impl HistoryEntry {
    pub fn ok(&self) -> bool {
        self.result.as_ref().is_some_and(|r| r.ok)
    }
}

/// A client as the world knows it: a name, a person, a timeout. Where its statements go is the protocol's client
/// library's business.
#[derive(Clone, Debug)]
pub struct ClientState {
    pub id: String,
    pub timeout: Micros,
    /// The person behind the client.
    pub user: String,
    pub spec: Rc<ClientSpec>,
}

/// Counters per message kind.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct KindMetrics {
    pub sent: u64,
    pub bytes: u64,
    pub delivered: u64,
    pub dropped: u64,
}

#[derive(Clone, Debug, Default)]
pub struct Metrics {
    pub per_kind: crate::vecmap::VecMap<MsgKind, KindMetrics>,
    pub events: u64,
    /// Replication log records shipped (log entries to followers, change rows to trigger targets) and their bytes.
    pub records: u64,
    pub record_bytes: u64,
}

#[derive(Clone, Debug)]
pub struct Simulation {
    pub scenario: Rc<Scenario>,
    pub seed: u64,
    /// All timed commands, sorted by time (stable: list order breaks ties).
    commands: Rc<Commands>,
    next_command: usize,
    now: Micros,
    queue: BinaryHeap<Reverse<(Micros, u64, EventKind)>>,
    seq: u64,
    /// The processes and what they do: the replication protocol of this run.
    pub protocol: Protocol,
    pub clients: Vec<ClientState>,
    pub net: Network,
    parked: Vec<Vec<Parked>>,
    /// Endpoint names: nodes first, then clients.
    names: Rc<[Name]>,
    net_rng: SimRng,
    in_flight: InFlightTable,
    next_msg: u64,
    pub history: Chunked<HistoryEntry>,
    pub trace: Trace,
    pub metrics: Metrics,
}

/// A world saved so that a run can be resumed from it (seeking in the playground). The trace, the history and
/// the replication logs are `Chunked`, so a copy shares them and costs one pointer per chunk: its size is the state
/// of the processes, not the length of the run.
#[derive(Clone, Debug)]
pub struct Checkpoint {
    world: Simulation,
}

impl Checkpoint {
    pub fn now(&self) -> Micros {
        self.world.now
    }
    /// Events processed before this moment.
    pub fn events(&self) -> u64 {
        self.world.metrics.events
    }
    pub fn set_commands(&mut self, commands: Rc<Commands>) {
        self.world.set_commands(commands);
    }
}

/// Errors that stop a run from starting (the scenario parsed, but its schema does not execute).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetupError(pub String);

impl std::fmt::Display for SetupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Simulation {
    pub fn new(scenario: &Scenario, seed: u64, extra: &[TimedCommand]) -> Result<Self, SetupError> {
        Self::with_trace(scenario, seed, extra, true)
    }

    /// `keep_trace = false` hashes events without storing them (benchmarks, sweeps).
    pub fn with_trace(
        scenario: &Scenario,
        seed: u64,
        extra: &[TimedCommand],
        keep_trace: bool,
    ) -> Result<Self, SetupError> {
        // One copy of the scenario, shared by the world, its commands and the protocol.
        let scenario_rc = Rc::new(scenario.clone());
        let commands = merged_commands(&scenario_rc, extra);
        let protocol = Protocol::new(&scenario_rc, seed, &commands)?;
        let names = protocol.names();
        let clients = scenario
            .clients
            .iter()
            .map(|c| ClientState {
                id: c.id.clone(),
                timeout: ms(c.timeout_ms),
                user: c.user.clone().unwrap_or_else(|| c.id.clone()),
                spec: Rc::new(c.clone()),
            })
            .collect();
        let n = protocol.len();
        let mut sim = Simulation {
            scenario: scenario_rc,
            seed,
            commands,
            next_command: 0,
            now: 0,
            queue: BinaryHeap::new(),
            seq: 0,
            protocol,
            clients,
            net: Network::new(
                crate::protocol::multi_leader::network_of(scenario),
                names.iter().map(|n| n.to_string()).collect(),
            ),
            names,
            parked: vec![Vec::new(); n],
            net_rng: SimRng::fork(seed, "network"),
            in_flight: InFlightTable::default(),
            next_msg: 0,
            history: Chunked::new(),
            trace: Trace::new(keep_trace),
            metrics: Metrics::default(),
        };
        for i in 0..n {
            if sim.protocol.status(i) != Status::Absent {
                let actions = sim.protocol.on_start(i, 0);
                sim.interpret(actions);
            }
        }
        sim.protocol.after_event(0);
        Ok(sim)
    }

    pub fn now(&self) -> Micros {
        self.now
    }

    pub fn commands(&self) -> &Commands {
        &self.commands
    }

    pub fn in_flight(&self) -> impl Iterator<Item = (u64, &InFlight)> {
        self.in_flight.iter()
    }

    pub fn name(&self, e: Endpoint) -> &str {
        &self.names[self.endpoint_index(e)]
    }

    /// The shared name of an endpoint, for trace events.
    fn nm(&self, e: Endpoint) -> Name {
        self.names[self.endpoint_index(e)].clone()
    }

    /// Replace the command list (the playground does this when a person acts). Only valid while standing at a
    /// moment whose events have all run (after `run_until`): commands at or before now count as done.
    /// Save this moment (see [`Checkpoint`]).
    pub fn checkpoint(&self) -> Checkpoint {
        Checkpoint { world: self.clone() }
    }

    /// Go to a checkpoint of this run (before or after this moment).
    pub fn restore(&mut self, cp: &Checkpoint) {
        *self = cp.world.clone();
    }

    pub fn set_commands(&mut self, commands: Rc<Commands>) {
        self.next_command = commands.done_by(self.now);
        self.commands = commands;
    }

    fn next_time(&self) -> Option<Micros> {
        let c = self.commands.get(self.next_command).map(|c| c.at);
        let e = self.queue.peek().map(|Reverse((t, _, _))| *t);
        match (c, e) {
            (Some(c), Some(e)) => Some(c.min(e)),
            (c, e) => c.or(e),
        }
    }

    pub fn next_event_time(&self) -> Option<Micros> {
        self.next_time()
    }

    /// Process one event. Returns false when nothing is left to do.
    pub fn step(&mut self) -> bool {
        let Some(t) = self.next_time() else { return false };
        self.now = t;
        self.metrics.events += 1;
        // Commands first at equal times.
        if let Some(c) = self.commands.get(self.next_command).filter(|c| c.at == t) {
            let c = c.command.clone();
            self.next_command += 1;
            self.run_command(&c);
            return true;
        }
        let Some(Reverse((_, _, ev))) = self.queue.pop() else { return false };
        match ev {
            EventKind::Deliver(id) => self.deliver(id),
            EventKind::Timer { node, incarnation, timer } => {
                let status = self.protocol.status(node);
                if self.protocol.incarnation(node) == incarnation && status != Status::Crashed {
                    if status == Status::Paused {
                        // A stalled process notices its timers only when it runs again.
                        self.parked[node].push(Parked::Timer { incarnation, timer });
                    } else {
                        let actions = self.protocol.on_timer(node, t, timer);
                        self.interpret(actions);
                    }
                }
            }
            EventKind::ClientTimeout { client, op } => {
                if self.history[op].end.is_none() {
                    self.protocol.on_client_timeout(client, &self.history[op], op);
                    let error = OpError::TimedOut { after_ms: self.clients[client].timeout / 1000 };
                    self.finish_op(op, OpResult::error(error));
                }
            }
            EventKind::ClientTimer { client, timer } => {
                let actions = self.protocol.on_client_timer(client, t, timer, &self.history);
                self.interpret(actions);
            }
            EventKind::Resume { node, incarnation } => {
                if self.protocol.incarnation(node) == incarnation && self.protocol.status(node) == Status::Paused {
                    self.resume(node);
                }
            }
        }
        true
    }

    /// Process every event at or before `t`, then stand at `t`.
    pub fn run_until(&mut self, t: Micros) {
        while self.next_time().is_some_and(|n| n <= t) {
            self.step();
        }
        self.now = self.now.max(t);
    }

    pub fn run_to_end(&mut self) {
        let until = self.scenario.until();
        self.run_until(until);
    }

    fn push(&mut self, at: Micros, ev: EventKind) {
        self.seq += 1;
        self.queue.push(Reverse((at, self.seq, ev)));
    }

    /// A resumed process handles, in arrival order, everything that reached it while it was stalled.
    fn resume(&mut self, node: usize) {
        let now = self.now;
        self.protocol.revive(node);
        self.trace.push(TraceEvent::Resumed { at: now, node: self.nm(Endpoint::Node(node)) });
        for p in std::mem::take(&mut self.parked[node]) {
            let actions = match p {
                Parked::Message { from, msg } => self.protocol.on_message(node, now, from, msg),
                Parked::Timer { incarnation, timer } if incarnation == self.protocol.incarnation(node) => {
                    self.protocol.on_timer(node, now, timer)
                }
                Parked::Timer { .. } => Vec::new(),
            };
            self.interpret(actions);
        }
    }

    fn run_command(&mut self, c: &Command) {
        let now = self.now;
        match c {
            Command::Sql { client, sql } => {
                let Some(ci) = self.clients.iter().position(|x| &x.id == client) else { return };
                let op = self.history.len();
                let routed = self.protocol.client_request(ci, op, sql, now);
                self.begin_op(ci, sql.clone(), routed);
            }
            Command::Crash(id) => {
                let Some(i) = self.node_index(id) else { return };
                if self.protocol.status(i) != Status::Crashed {
                    self.stop(i);
                    self.trace.push(TraceEvent::Crashed { at: now, node: self.nm(Endpoint::Node(i)) });
                }
            }
            Command::Restart(id) => {
                let Some(i) = self.node_index(id) else { return };
                if self.protocol.status(i) == Status::Crashed {
                    self.protocol.revive(i);
                    self.trace.push(TraceEvent::Restarted { at: now, node: self.nm(Endpoint::Node(i)) });
                    let actions = self.protocol.on_start(i, now);
                    self.interpret(actions);
                }
            }
            Command::Restore { node, from } => {
                let (Some(i), Some(j)) = (self.node_index(node), self.node_index(from)) else { return };
                // Only a crashed replica is restored, and only by a protocol that can (leaderless); else ignored.
                if self.protocol.status(i) == Status::Crashed && self.protocol.restore(i, j, now) {
                    self.protocol.revive(i);
                    let (node, from) = (self.nm(Endpoint::Node(i)), self.nm(Endpoint::Node(j)));
                    self.trace.push(TraceEvent::Restored { at: now, node, from });
                    let actions = self.protocol.on_start(i, now);
                    self.interpret(actions);
                }
            }
            Command::Pause { node, for_ms } => {
                let Some(i) = self.node_index(node) else { return };
                if matches!(self.protocol.status(i), Status::Running | Status::Halted) {
                    self.protocol.pause(i);
                    self.trace.push(TraceEvent::Paused { at: now, node: self.nm(Endpoint::Node(i)) });
                    if let Some(d) = for_ms {
                        let inc = self.protocol.incarnation(i);
                        self.push(after(now, ms(*d)), EventKind::Resume { node: i, incarnation: inc });
                    }
                }
            }
            Command::Resume(id) => {
                let Some(i) = self.node_index(id) else { return };
                if self.protocol.status(i) == Status::Paused {
                    self.resume(i);
                }
            }
            Command::Partition { groups, one_way } => {
                self.net.partition(groups, *one_way);
                self.trace.push(TraceEvent::Partitioned { at: now, groups: groups.clone(), one_way: *one_way });
            }
            Command::CutLink(a, b) => {
                self.net.partition(&[vec![a.clone()], vec![b.clone()]], false);
                self.trace.push(TraceEvent::Partitioned {
                    at: now,
                    groups: vec![vec![a.clone()], vec![b.clone()]],
                    one_way: false,
                });
            }
            Command::HealLink(a, b) => {
                self.net.heal_link(a, b);
                self.trace.push(TraceEvent::NetworkChanged { at: now, detail: format!("healed {a}-{b}") });
            }
            Command::Offline(id) | Command::Online(id) => {
                // A device loses (or regains) every link at once: cut from (or healed with) every other endpoint
                // but those in the same place (its own datacenter: the user's app on the phone).
                let here = crate::protocol::multi_leader::same_place(&self.scenario, id);
                let others: Vec<String> = self
                    .protocol
                    .names()
                    .iter()
                    .map(|n| n.to_string())
                    .filter(|n| n != id && !here.contains(n))
                    .collect();
                if matches!(c, Command::Offline(_)) {
                    self.net.partition(&[vec![id.clone()], others], false);
                } else {
                    for o in &others {
                        self.net.heal_link(id, o);
                    }
                }
                self.trace.push(TraceEvent::NetworkChanged { at: now, detail: c.label() });
            }
            Command::HealAll => {
                self.net.heal_all();
                self.trace.push(TraceEvent::Healed { at: now });
            }
            Command::SetNetwork(spec) => {
                self.net.set_spec(spec.clone());
                self.trace.push(TraceEvent::NetworkChanged { at: now, detail: c.label() });
            }
            Command::Upgrade { node, format } => {
                let Some(i) = self.node_index(node) else { return };
                if matches!(self.protocol.status(i), Status::Absent) {
                    return;
                }
                // The process stops, its files are rewritten in the new format, and it starts again.
                let was_down = self.protocol.status(i) == Status::Crashed;
                self.stop(i);
                if let Err(e) = self.protocol.upgrade_storage(i, *format) {
                    self.trace.push(TraceEvent::Halted { at: now, node: self.nm(Endpoint::Node(i)), error: e });
                }
                self.trace.push(TraceEvent::Upgraded { at: now, node: self.nm(Endpoint::Node(i)), format: *format });
                if !was_down {
                    self.protocol.revive(i);
                    let actions = self.protocol.on_start(i, now);
                    self.interpret(actions);
                }
            }
            Command::AddNode { .. }
            | Command::FailoverTo(_)
            | Command::CacheGet { .. }
            | Command::Reconfigure { .. }
            | Command::Move { .. }
            | Command::Quorum(_)
            | Command::BlindSql { .. } => match self.protocol.command(c, self.history.len(), now) {
                CommandOutcome::Ignored => {}
                CommandOutcome::Actions(actions) => self.interpret(actions),
                CommandOutcome::Operation { client, sql, routed } => self.begin_op(client, sql, routed),
            },
        }
        self.protocol.after_event(now);
    }

    /// A client operation starts: recorded in the history, refused at once by the client library or sent with
    /// its timeout running.
    fn begin_op(&mut self, client: usize, sql: String, routed: Routed) {
        let op = self.start_op(client, routed.read, sql, routed.node);
        if let Some(e) = routed.refused {
            self.finish_op(op, OpResult::error(e));
            return;
        }
        let timeout = self.clients[client].timeout;
        self.push(after(self.now, timeout), EventKind::ClientTimeout { client, op });
        self.interpret(routed.actions);
    }

    /// The process stops (crashed, shut down, or stopped for an upgrade): what it had parked is lost with it.
    fn stop(&mut self, node: usize) {
        self.protocol.crash(node);
        self.parked[node].clear();
    }

    /// Record the start of a client operation in the history and the trace; returns its history index.
    fn start_op(&mut self, client: usize, read: bool, sql: String, node: usize) -> usize {
        let (now, op) = (self.now, self.history.len());
        let ev = TraceEvent::ClientSent {
            at: now,
            client: self.nm(Endpoint::Client(client)),
            op,
            node: self.nm(Endpoint::Node(node)),
            sql: sql.clone(),
        };
        self.history.push(HistoryEntry { client, read, sql, node, start: now, end: None, result: None });
        self.trace.push(ev);
        op
    }

    /// Index of an endpoint in the network's name table: nodes first, then clients.
    fn endpoint_index(&self, e: Endpoint) -> usize {
        match e {
            Endpoint::Node(i) => i,
            Endpoint::Client(i) => self.protocol.len() + i,
        }
    }

    fn node_index(&self, id: &str) -> Option<usize> {
        self.protocol.node_index(id)
    }

    /// Send with `extra` delay on top of the network's (service discovery's propagation time).
    fn send_delayed(&mut self, from: Endpoint, to: Endpoint, payload: Message, extra: Micros) {
        let now = self.now;
        let kind = payload.kind();
        let bytes = payload.size_bytes();
        let m = self.metrics.per_kind.or_default(kind);
        m.sent += 1;
        m.bytes += u64::from(bytes);
        let (records, record_bytes) = payload.records();
        self.metrics.records += records;
        self.metrics.record_bytes += record_bytes;
        let (fi, ti) = (self.endpoint_index(from), self.endpoint_index(to));
        let link = self.net.params(fi, ti);
        let copies = if self.net_rng.chance(link.duplicate) { 2 } else { 1 };
        let mut payload = Some(payload);
        for copy in 1..=copies {
            let Some(p) = payload.as_ref() else { break };
            let label = if self.trace.keeps() { Label(p.label()) } else { Label::default() };
            let (latency, reordered) = Network::sample(&link, &mut self.net_rng);
            let lost = self.net_rng.chance(link.loss);
            let doomed = if !self.net.can_reach(fi, ti) {
                Some(DropReason::Partition)
            } else if lost {
                Some(DropReason::Loss)
            } else {
                None
            };
            let id = self.next_msg;
            self.next_msg += 1;
            let deliver = after(now, latency.saturating_add(extra));
            // The link keeps order unless the reorder knob picked this message. An announcement that service
            // discovery holds back (`extra`) is not on the link: it neither waits for the link nor holds it up.
            let deliver = if extra == 0 { self.net.in_order_arrival(fi, ti, deliver, reordered) } else { deliver };
            self.trace.push(TraceEvent::Sent {
                at: now,
                msg: id,
                from: self.nm(from),
                to: self.nm(to),
                kind,
                label,
                deliver_at: deliver,
                bytes,
                op: p.op(),
                lsns: p.lsns(),
            });
            // The last copy takes the payload itself: a clone is a Vec allocation for every replicated batch.
            let Some(payload) = (if copy == copies { payload.take() } else { payload.clone() }) else { break };
            self.in_flight.insert(id, InFlight { from, to, payload, sent: now, deliver, doomed });
            self.push(deliver, EventKind::Deliver(id));
        }
    }

    fn deliver(&mut self, id: u64) {
        let Some(m) = self.in_flight.remove(id) else { return };
        let now = self.now;
        let kind = m.payload.kind();
        let reason = if m.doomed.is_some() {
            m.doomed
        } else if !self.net.can_reach(self.endpoint_index(m.from), self.endpoint_index(m.to)) {
            Some(DropReason::Partition)
        } else {
            match m.to {
                Endpoint::Node(n) if self.protocol.status(n) == Status::Crashed => Some(DropReason::TargetDown),
                _ => None,
            }
        };
        let (from_name, to_name) = (self.nm(m.from), self.nm(m.to));
        if let Some(reason) = reason {
            self.metrics.per_kind.or_default(kind).dropped += 1;
            self.trace.push(TraceEvent::Dropped { at: now, msg: id, from: from_name, to: to_name, kind, reason });
            return;
        }
        self.metrics.per_kind.or_default(kind).delivered += 1;
        self.trace.push(TraceEvent::Delivered { at: now, msg: id, from: from_name, to: to_name, kind });
        match m.to {
            Endpoint::Client(c) => {
                let actions = self.protocol.on_client_message(c, now, m.from, m.payload, &self.history);
                self.interpret(actions);
            }
            Endpoint::Node(n) => {
                if self.protocol.status(n) == Status::Paused {
                    self.parked[n].push(Parked::Message { from: m.from, msg: m.payload });
                } else {
                    let actions = self.protocol.on_message(n, now, m.from, m.payload);
                    self.interpret(actions);
                }
            }
        }
    }

    fn finish_op(&mut self, op: usize, result: OpResult) {
        let now = self.now;
        let h = &mut self.history[op];
        h.end = Some(now);
        let (client, node) = (h.client, h.node);
        let client = self.names[self.protocol.len() + client].clone();
        let node = self.names[node].clone();
        let ev = match (&result.error, result.read_only) {
            (Some(e), _) => TraceEvent::OpFailed { at: now, client, op, error: e.to_string() },
            (None, true) => TraceEvent::ReadServed { at: now, client, op, node, rows: result.rows.len() },
            (None, false) => TraceEvent::WriteAcked { at: now, client, op, node, lsn: result.lsn.unwrap_or(0) },
        };
        h.read = result.read_only || (h.read && result.error.is_some());
        h.result = Some(result);
        self.trace.push(ev);
    }

    /// Carry out what the protocol asked for, in order.
    fn interpret(&mut self, actions: Vec<Action>) {
        let now = self.now;
        for a in actions {
            match a {
                Action::Send { from, to, msg, delay } => self.send_delayed(from, to, msg, delay),
                Action::SetTimer { node, at, timer } => {
                    let incarnation = self.protocol.incarnation(node);
                    self.push(at.max(now), EventKind::Timer { node, incarnation, timer });
                }
                Action::Trace(ev) => self.trace.push(ev),
                Action::Stop { node } => self.stop(node),
                Action::Finish { op, result } => self.finish_op(op, result),
                Action::Reassign { op, node } => self.history[op].node = node,
                Action::SetClientTimer { client, at, timer } => {
                    self.push(at.max(now), EventKind::ClientTimer { client, timer })
                }
            }
        }
        self.protocol.after_event(now);
    }

    /// Nothing on the wire.
    pub fn is_quiet(&self) -> bool {
        self.in_flight.is_empty()
    }
}

/// A statement that starts with SELECT (after white space and comments) reads; the node decides for real.
pub fn looks_like_read(sql: &str) -> bool {
    let mut rest = sql.trim_start();
    loop {
        if let Some(r) = rest.strip_prefix("--") {
            rest = r.split_once('\n').map_or("", |(_, after)| after).trim_start();
        } else if let Some(r) = rest.strip_prefix("/*") {
            rest = r.split_once("*/").map_or("", |(_, after)| after).trim_start();
        } else {
            break;
        }
    }
    rest.get(..6).is_some_and(|w| w.eq_ignore_ascii_case("select"))
}

/// Write latencies (acknowledged writes: answer time minus send time), in the order the writes started.
pub fn write_latencies(sim: &Simulation) -> Vec<Micros> {
    sim.history.iter().filter(|h| !h.read && h.ok()).filter_map(|h| h.end.map(|e| e - h.start)).collect()
}

/// The value below which `p` (0..=100) percent of `values` lie (nearest rank); 0 for no values.
pub fn percentile(values: &[Micros], p: u32) -> Micros {
    if values.is_empty() {
        return 0;
    }
    let mut v = values.to_vec();
    crate::sql::sort_values(&mut v);
    let rank = (u64::from(p.min(100)) * v.len() as u64).div_ceil(100).max(1) as usize;
    v[rank - 1]
}

/// A run's timed commands: the scenario's workload, then its faults, then `extra` (a person's commands), stably
/// sorted by time, so list order breaks ties and the order of events is the same however the list was built. The
/// scenario's own commands are not copied (a long run's workload is its largest input): `order` indexes the
/// concatenation workload ++ faults ++ extra.
#[derive(Debug, Default)]
pub struct Commands {
    scenario: Option<Rc<Scenario>>,
    extra: Vec<TimedCommand>,
    order: Vec<usize>,
}

impl Commands {
    pub fn new(scenario: &Rc<Scenario>, extra: &[TimedCommand]) -> Self {
        Self::build(Some(Rc::clone(scenario)), extra.to_vec())
    }

    /// Only these commands (no scenario's).
    pub fn only(commands: Vec<TimedCommand>) -> Self {
        Self::build(None, commands)
    }

    fn build(scenario: Option<Rc<Scenario>>, extra: Vec<TimedCommand>) -> Self {
        let mut c = Commands { scenario, extra, order: Vec::new() };
        let at: Vec<Micros> = (0..c.total()).filter_map(|i| c.nth(i)).map(|t| t.at).collect();
        c.order = crate::sql::sorted_indices(at.len(), &mut |a, b| at[a].cmp(&at[b]));
        c
    }

    fn total(&self) -> usize {
        self.scenario.as_ref().map_or(0, |s| s.workload.len() + s.faults.len()) + self.extra.len()
    }

    /// The i-th of workload ++ faults ++ extra.
    fn nth(&self, i: usize) -> Option<&TimedCommand> {
        let (workload, faults) =
            self.scenario.as_ref().map_or((&[][..], &[][..]), |s| (&s.workload[..], &s.faults[..]));
        match i.checked_sub(workload.len()) {
            None => workload.get(i),
            Some(j) => match j.checked_sub(faults.len()) {
                None => faults.get(j),
                Some(k) => self.extra.get(k),
            },
        }
    }

    /// The k-th command in time order.
    pub fn get(&self, k: usize) -> Option<&TimedCommand> {
        self.nth(*self.order.get(k)?)
    }

    pub fn len(&self) -> usize {
        self.order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// In time order.
    pub fn iter(&self) -> impl Iterator<Item = &TimedCommand> + Clone + '_ {
        self.order.iter().filter_map(|&i| self.nth(i))
    }

    /// How many commands come at or before `t`.
    fn done_by(&self, t: Micros) -> usize {
        self.order.partition_point(|&i| self.nth(i).is_some_and(|c| c.at <= t))
    }
}

/// [`Commands::new`], shared.
pub fn merged_commands(scenario: &Rc<Scenario>, extra: &[TimedCommand]) -> Rc<Commands> {
    Rc::new(Commands::new(scenario, extra))
}

/// What a paused node holds until it runs again: a stalled process neither reads its socket nor fires its timers.
// Parked messages are few (a paused node's inbox); boxing would only add allocations.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq)]
enum Parked {
    Message { from: Endpoint, msg: Message },
    Timer { incarnation: u64, timer: Timer },
}

#[cfg(test)]
mod tests {
    use super::{looks_like_read, Commands};
    use crate::scenario::{Command, Scenario, TimedCommand};
    use std::rc::Rc;

    /// The commands, without copying the scenario's, come in the order a stable sort of workload ++ faults ++ extra
    /// by time gives (list order breaks ties), and `done_by` counts those at or before a moment.
    #[test]
    fn commands_are_the_stably_merged_lists() {
        let mut s = Scenario::from_json_str(crate::library::LESSONS[0].json).expect("a lesson");
        let cmd = |at: u64, name: &str| TimedCommand { at, command: Command::Crash(name.into()) };
        s.workload = vec![cmd(5, "w0"), cmd(1, "w1"), cmd(5, "w2")];
        s.faults = vec![cmd(1, "f0"), cmd(5, "f1")];
        let extra = [cmd(5, "x0"), cmd(0, "x1")];
        let mut expected: Vec<TimedCommand> = s.workload.iter().chain(&s.faults).chain(&extra).cloned().collect();
        crate::sql::sort_stable_by(&mut expected, |a, b| a.at.cmp(&b.at));
        let commands = Commands::new(&Rc::new(s), &extra);
        assert_eq!(commands.iter().cloned().collect::<Vec<_>>(), expected);
        assert_eq!(commands.len(), 7);
        assert!((0..7).all(|k| commands.get(k) == expected.get(k)) && commands.get(7).is_none());
        assert_eq!([0, 1, 4, 5].map(|t| commands.done_by(t)), [1, 3, 3, 7]);
        let only = Commands::only(extra.to_vec());
        assert_eq!(only.iter().map(|c| c.at).collect::<Vec<_>>(), [0, 5]);
    }

    #[test]
    fn reads_are_recognised_past_comments_and_case() {
        assert!(looks_like_read("  select 1"));
        assert!(looks_like_read("-- hi\n/* there */ SELECT * FROM t"));
        assert!(!looks_like_read("INSERT INTO t VALUES (1)"));
        assert!(!looks_like_read("sel"));
        assert!(!looks_like_read("-- only a comment"));
    }
}
