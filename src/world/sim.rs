//! The simulation: one world struct that owns true time, the event queue, the network, the nodes, the clients and
//! the trace. A run is a pure function of (scenario, seed, commands).
//!
//! Event order is total: `(time, class, sequence)`. Timed commands (the scenario's workload and faults, and what a
//! person does in the playground) come first at their time, in list order; everything else (deliveries, timers)
//! follows in the order it was scheduled. A command a person adds while watching is stamped one microsecond after
//! the moment on screen, so replaying the run from scratch puts it at exactly the same place in the order.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::rc::Rc;

use crate::protocol::single_leader::{
    Effect, Endpoint, Node, NodeConfig, Note, OpError, OpResult, Payload, Status, Timer,
};
use crate::scenario::{ClientSpec, Command, NodeSpec, Role, Route, Scenario, TimedCommand};
use crate::world::net::Network;
use crate::world::rng::SimRng;
use crate::world::time::{after, ms, Micros};
use crate::world::trace::{DropReason, Label, MsgKind, Name, RoleChange, Trace, TraceEvent};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum EventKind {
    Deliver(u64),
    Timer { node: usize, incarnation: u64, timer: Timer },
    ClientTimeout { client: usize, op: usize },
    Resume { node: usize, incarnation: u64 },
}

/// A message on the wire.
#[derive(Clone, Debug)]
pub struct InFlight {
    pub from: Endpoint,
    pub to: Endpoint,
    pub payload: Payload,
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

#[derive(Clone, Debug)]
pub struct ClientState {
    pub id: String,
    pub timeout: Micros,
    /// The node this client sends to: the leader it knows of.
    pub target: usize,
    /// Epoch of the newest leader announcement it has heard.
    pub known_epoch: u64,
    /// The cache node the application writes inserted rows to.
    pub cache: Option<usize>,
    /// The person behind the client.
    pub user: String,
    /// The leader it knows of, per partition (`target` is partition 0's).
    pub targets: Vec<usize>,
    pub route: Route,
    pub spec: Rc<ClientSpec>,
    /// When this client's last write was acknowledged (leader-window routing).
    pub last_write: Option<Micros>,
    /// LSN of this client's last acknowledged write (lsn-token routing).
    pub token: u64,
    /// Replicas a sticky client gave up on after they did not answer.
    pub avoid: crate::vecmap::VecMap<usize, ()>,
    rng: SimRng,
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
    commands: Rc<Vec<TimedCommand>>,
    next_command: usize,
    now: Micros,
    queue: BinaryHeap<Reverse<(Micros, u64, EventKind)>>,
    seq: u64,
    pub nodes: Vec<Node>,
    pub clients: Vec<ClientState>,
    pub net: Network,
    parked: Vec<Vec<Parked>>,
    /// Endpoint names: nodes first, then clients.
    names: Rc<[Name]>,
    /// Which replication group (partition) each node belongs to.
    pub partition_of: Vec<usize>,
    /// Scatter-gather reads in progress: op -> (partitions still to answer, rows so far, (partition, lsn) seen).
    scatter: crate::vecmap::VecMap<usize, (Vec<usize>, OpResult)>,
    /// LSN of each user's last acknowledged write, shared by the user's devices when they share tokens.
    pub user_tokens: crate::vecmap::VecMap<String, u64>,
    /// Who acted as leader when: (node, from, until). Split-brain checking reads it.
    pub leader_spans: Vec<(usize, Micros, Option<Micros>)>,
    /// Replication lag per follower, sampled at each leader's heartbeat ticks: one sample per tick, holding the
    /// followers of that leader's own replication group only (each partition has its own log).
    pub lag_samples: Vec<LagSample>,
    net_rng: SimRng,
    in_flight: InFlightTable,
    next_msg: u64,
    pub history: Vec<HistoryEntry>,
    pub trace: Trace,
    pub metrics: Metrics,
    cfg: Rc<NodeConfig>,
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
        let leader =
            scenario.nodes.iter().position(|n| n.role == Role::Leader).ok_or_else(|| SetupError("no leader".into()))?;
        let commands = merged_commands(scenario, extra);
        // Nodes that join later exist from the start, absent, so that every index and name is fixed for the run.
        let mut specs: Vec<NodeSpec> = scenario.nodes.clone();
        // The replication group each joining node belongs to, fixed by the first command that adds it.
        let mut joins: Vec<usize> = Vec::new();
        for c in commands.iter() {
            if let Command::AddNode { id, group, .. } = &c.command {
                if !specs.iter().any(|n| &n.id == id) {
                    let g =
                        match group {
                            None => 0,
                            Some(g) => scenario.partitions.iter().position(|p| &p.id == g).ok_or_else(|| {
                                SetupError(format!("add_node {id}: no partition {g:?} to join (group)"))
                            })?,
                        };
                    specs.push(NodeSpec::new(id, Role::Follower));
                    joins.push(g);
                }
            }
        }
        // Joiners count against the bound too (a link's or a person's commands are not checked by scenario parsing).
        let max_nodes = crate::scenario::MAX_NODES.max(scenario.nodes.len());
        if specs.len() > max_nodes {
            return Err(SetupError(format!(
                "at most {max_nodes} nodes in a run, counting those added by add_node commands (found {})",
                specs.len()
            )));
        }
        // Replication groups: the scenario's partitions, or one group of every replica; a joining node's own.
        let partition_of: Vec<usize> = specs
            .iter()
            .enumerate()
            .map(|(i, n)| match i.checked_sub(scenario.nodes.len()) {
                Some(k) => joins[k],
                None => scenario.partitions.iter().position(|p| p.nodes.contains(&n.id)).unwrap_or(0),
            })
            .collect();
        let groups = scenario.partitions.len().max(1);
        let leaders: Vec<usize> = (0..groups)
            .map(|g| {
                (0..scenario.nodes.len())
                    .find(|i| scenario.nodes[*i].role == Role::Leader && partition_of[*i] == g)
                    .unwrap_or(leader)
            })
            .collect();
        let members_of = |g: usize| -> Vec<usize> {
            (0..scenario.nodes.len())
                .filter(|i| scenario.nodes[*i].role.is_replica() && partition_of[*i] == g)
                .collect()
        };
        let controller = scenario.nodes.iter().position(|n| n.role == Role::Controller);
        let cdc: Vec<usize> = (0..scenario.nodes.len()).filter(|i| scenario.nodes[*i].role == Role::Cdc).collect();
        let mut nodes = Vec::new();
        for (i, spec) in specs.iter().enumerate() {
            let mut n = Node::new(i, &spec.id, spec.role, spec.clock, ms(spec.apply_delay_ms), seed);
            n.db = crate::sql::Database::with_storage(spec.storage_format, scenario.page_size as usize)
                .map_err(|e| SetupError(format!("nodes[{i}].storage_format: {e}")))?;
            n.storage_format = spec.storage_format;
            n.db.set_row_locking(scenario.row_locking);
            if i >= scenario.nodes.len() {
                n.status = Status::Absent;
            } else if spec.role.is_replica() || spec.role == Role::Cdc {
                n.leader = Some(leaders[partition_of[i]]);
                n.epoch = 1;
                for (k, sql) in scenario.schema.iter().enumerate() {
                    n.bootstrap(sql).map_err(|e| SetupError(format!("schema[{k}]: {e}")))?;
                }
                if spec.role.is_replica() {
                    n.members = members_of(partition_of[i]);
                    n.subscribers = cdc.clone();
                }
                if let Some((table, column)) = &spec.index {
                    n.search = Some(crate::protocol::single_leader::SearchIndex::new(table, column));
                }
            } else if matches!(spec.role, Role::Controller | Role::Replicator) {
                n.leader = Some(leader);
            }
            if spec.role == Role::Replicator {
                n.replicator.targets = (0..scenario.nodes.len())
                    .filter(|t| scenario.nodes[*t].role == Role::Follower || scenario.nodes[*t].role == Role::Cdc)
                    .collect();
            }
            nodes.push(n);
        }
        if scenario.replication.log == crate::scenario::LogKind::Trigger {
            nodes[leader].install_change_capture(&scenario.replication.trigger).map_err(SetupError)?;
        }
        let clients = scenario
            .clients
            .iter()
            .map(|c| ClientState {
                id: c.id.clone(),
                timeout: ms(c.timeout_ms),
                target: leader,
                targets: leaders.clone(),
                known_epoch: 1,
                cache: c.cache.as_ref().and_then(|id| scenario.nodes.iter().position(|n| &n.id == id)),
                user: c.user.clone().unwrap_or_else(|| c.id.clone()),
                route: c.route,
                spec: Rc::new(c.clone()),
                last_write: None,
                token: 0,
                avoid: Default::default(),
                rng: SimRng::fork(seed, &format!("client:{}", c.id)),
            })
            .collect();
        let cfg = NodeConfig {
            mode: scenario.replication.mode,
            log: scenario.replication.log,
            heartbeat: ms(scenario.replication.heartbeat_ms),
            statement_substitution: scenario.replication.statement_substitution,
            semi_sync_timeout: ms(scenario.replication.semi_sync_timeout_ms),
            log_retention: scenario.replication.log_retention,
            failover: scenario.failover,
            controller,
            statement_mixed: scenario.replication.statement_mixed,
            trigger: scenario.replication.trigger.clone(),
            replicator: scenario.nodes.iter().position(|n| n.role == Role::Replicator),
        };
        let mut names: Vec<String> = specs.iter().map(|n| n.id.clone()).collect();
        names.extend(scenario.clients.iter().map(|c| c.id.clone()));
        let mut sim = Simulation {
            scenario: Rc::new(scenario.clone()),
            seed,
            commands,
            next_command: 0,
            now: 0,
            queue: BinaryHeap::new(),
            seq: 0,
            nodes,
            clients,
            names: names.iter().map(|n| Name::from(n.as_str())).collect(),
            net: Network::new(scenario.network.clone(), names),
            parked: vec![Vec::new(); specs.len()],
            leader_spans: Vec::new(),
            user_tokens: Default::default(),
            partition_of,
            scatter: Default::default(),
            lag_samples: Vec::new(),
            net_rng: SimRng::fork(seed, "network"),
            in_flight: InFlightTable::default(),
            next_msg: 0,
            history: Vec::new(),
            trace: Trace::new(keep_trace),
            metrics: Metrics::default(),
            cfg: Rc::new(cfg),
        };
        for i in 0..sim.nodes.len() {
            if sim.nodes[i].status != Status::Absent {
                let effects = sim.nodes[i].on_start(0, &sim.cfg);
                sim.interpret(i, effects);
            }
        }
        sim.track_leadership();
        Ok(sim)
    }

    pub fn now(&self) -> Micros {
        self.now
    }

    pub fn commands(&self) -> &[TimedCommand] {
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
    pub fn set_commands(&mut self, commands: Rc<Vec<TimedCommand>>) {
        let now = self.now;
        self.next_command = commands.partition_point(|c| c.at <= now);
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
                let n = &self.nodes[node];
                if n.incarnation == incarnation && n.status != Status::Crashed {
                    if n.status == Status::Paused {
                        // A stalled process notices its timers only when it runs again.
                        self.parked[node].push(Parked::Timer { incarnation, timer });
                    } else {
                        if timer == Timer::Tick && self.nodes[node].acting_leader() {
                            self.sample_lag(node);
                        }
                        let effects = self.nodes[node].on_timer(t, timer, &self.cfg);
                        self.interpret(node, effects);
                    }
                }
            }
            EventKind::ClientTimeout { client, op } => {
                if self.history[op].end.is_none() {
                    // A sticky client stops trusting a replica that did not answer, and reroutes from now on.
                    let node = self.history[op].node;
                    self.scatter.remove(&op);
                    if self.history[op].read && self.clients[client].route == Route::Sticky {
                        self.clients[client].avoid.insert(node, ());
                    }
                    let error = OpError::TimedOut { after_ms: self.clients[client].timeout / 1000 };
                    self.finish_op(op, OpResult::error(error));
                }
            }
            EventKind::Resume { node, incarnation } => {
                if self.nodes[node].incarnation == incarnation && self.nodes[node].status == Status::Paused {
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
        self.nodes[node].status = if self.nodes[node].halt_error.is_some() { Status::Halted } else { Status::Running };
        self.trace.push(TraceEvent::Resumed { at: now, node: self.nm(Endpoint::Node(node)) });
        for p in std::mem::take(&mut self.parked[node]) {
            let effects = match p {
                Parked::Message { from, payload } => self.nodes[node].on_message(now, from, payload, &self.cfg),
                Parked::Timer { incarnation, timer } if incarnation == self.nodes[node].incarnation => {
                    self.nodes[node].on_timer(now, timer, &self.cfg)
                }
                Parked::Timer { .. } => Vec::new(),
            };
            self.interpret(node, effects);
        }
    }

    fn run_command(&mut self, c: &Command) {
        let now = self.now;
        match c {
            Command::Sql { client, sql } => {
                let Some(ci) = self.clients.iter().position(|x| &x.id == client) else { return };
                let op = self.history.len();
                // Classified again from the answer; this first guess decides the routing.
                let read = looks_like_read(sql);
                let groups = self.scenario.partitions.len().max(1);
                let routed = crate::protocol::partitions::target(sql, &self.scenario.partition_key, groups);
                let parts: Vec<usize> = match &routed {
                    Ok(crate::protocol::partitions::Target::One(p)) => vec![*p],
                    Ok(crate::protocol::partitions::Target::All) => (0..groups).collect(),
                    Err(_) => vec![0],
                };
                let legs: Vec<(usize, u64, Option<Micros>)> = parts
                    .iter()
                    .map(|p| if read { self.route_read(ci, sql, *p) } else { (self.clients[ci].targets[*p], 0, None) })
                    .collect();
                self.start_op(ci, read, sql.clone(), legs[0].0);
                if let Err(e) = routed {
                    // The router refuses statements it cannot place; nothing is sent.
                    self.finish_op(op, OpResult::error(OpError::Router(e.to_string())));
                    return;
                }
                let timeout = self.clients[ci].timeout;
                self.push(after(now, timeout), EventKind::ClientTimeout { client: ci, op });
                if legs.len() > 1 {
                    // Scatter-gather: one replica per partition, answers merged when all are in.
                    let result = OpResult { ok: true, read_only: true, ..OpResult::default() };
                    self.scatter.insert(op, (parts.clone(), result));
                }
                for (node, min_lsn, max_lag) in legs {
                    let request = Payload::Request { op, sql: sql.clone(), min_lsn, max_lag };
                    self.send(Endpoint::Client(ci), Endpoint::Node(node), request);
                }
            }
            Command::Crash(id) => {
                let Some(i) = self.node_index(id) else { return };
                if self.nodes[i].status != Status::Crashed {
                    self.nodes[i].crash();
                    self.parked[i].clear();
                    self.trace.push(TraceEvent::Crashed { at: now, node: self.nm(Endpoint::Node(i)) });
                }
            }
            Command::Restart(id) => {
                let Some(i) = self.node_index(id) else { return };
                if self.nodes[i].status == Status::Crashed {
                    self.nodes[i].status =
                        if self.nodes[i].halt_error.is_some() { Status::Halted } else { Status::Running };
                    self.trace.push(TraceEvent::Restarted { at: now, node: self.nm(Endpoint::Node(i)) });
                    let effects = self.nodes[i].on_start(now, &self.cfg);
                    self.interpret(i, effects);
                }
            }
            Command::Pause { node, for_ms } => {
                let Some(i) = self.node_index(node) else { return };
                if matches!(self.nodes[i].status, Status::Running | Status::Halted) {
                    self.nodes[i].status = Status::Paused;
                    self.trace.push(TraceEvent::Paused { at: now, node: self.nm(Endpoint::Node(i)) });
                    if let Some(d) = for_ms {
                        let inc = self.nodes[i].incarnation;
                        self.push(after(now, ms(*d)), EventKind::Resume { node: i, incarnation: inc });
                    }
                }
            }
            Command::Resume(id) => {
                let Some(i) = self.node_index(id) else { return };
                if self.nodes[i].status == Status::Paused {
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
            Command::HealAll => {
                self.net.heal_all();
                self.trace.push(TraceEvent::Healed { at: now });
            }
            Command::SetNetwork(spec) => {
                self.net.set_spec(spec.clone());
                self.trace.push(TraceEvent::NetworkChanged { at: now, detail: c.label() });
            }
            Command::AddNode { id, copy, .. } => {
                let Some(i) = self.node_index(id) else { return };
                if self.nodes[i].status != Status::Absent {
                    return;
                }
                // A configuration change: every replica of the node's group (partition) learns the new member (an
                // administrator's action); the node copies that group's leader and follows it. Other groups keep
                // their members, and their data never reaches it.
                let group = self.partition_of[i];
                let partition_of = &self.partition_of;
                let in_group = |n: &Node| n.is_replica() && partition_of[n.index] == group;
                let leader = self.leader_of(group);
                let epoch = self.nodes.iter().filter(|n| in_group(n)).map(|n| n.epoch).max().unwrap_or(1);
                for n in self.nodes.iter_mut().filter(|n| in_group(n) || n.index == i) {
                    if !n.members.contains(&i) {
                        n.members.push(i);
                    }
                }
                let members = self.nodes.iter().find(|n| in_group(n) && n.index != i).map(|n| n.members.clone());
                self.nodes[i].members = members.unwrap_or_else(|| vec![i]);
                let subscribers =
                    self.nodes.iter().find(|n| in_group(n) && n.index != i).map(|n| n.subscribers.clone());
                self.nodes[i].subscribers = subscribers.unwrap_or_default();
                self.nodes[i].join(leader, epoch, *copy == crate::scenario::CopyMethod::FileCopy);
                self.trace.push(TraceEvent::Joined {
                    at: now,
                    node: self.nm(Endpoint::Node(i)),
                    method: copy.name().into(),
                });
                let effects = self.nodes[i].on_start(now, &self.cfg);
                self.interpret(i, effects);
                self.track_leadership();
            }
            Command::Upgrade { node, format } => {
                let Some(i) = self.node_index(node) else { return };
                if matches!(self.nodes[i].status, Status::Absent) {
                    return;
                }
                // The process stops, its files are rewritten in the new format, and it starts again.
                let was_down = self.nodes[i].status == Status::Crashed;
                self.nodes[i].crash();
                self.parked[i].clear();
                if let Err(e) = self.nodes[i].upgrade_storage(*format) {
                    self.trace.push(TraceEvent::Halted { at: now, node: self.nm(Endpoint::Node(i)), error: e });
                }
                self.trace.push(TraceEvent::Upgraded { at: now, node: self.nm(Endpoint::Node(i)), format: *format });
                if !was_down {
                    self.nodes[i].status =
                        if self.nodes[i].halt_error.is_some() { Status::Halted } else { Status::Running };
                    let effects = self.nodes[i].on_start(now, &self.cfg);
                    self.interpret(i, effects);
                }
            }
            Command::FailoverTo(id) => {
                let Some(target) = self.node_index(id) else { return };
                // Only the named node's replication group changes hands: its own leader hands over to it.
                let group = self.partition_of[target];
                match self.leader_of(group) {
                    Some(l) if l != target && self.nodes[l].status == Status::Running => {
                        let effects = self.nodes[l].begin_handover(target, now, &self.cfg);
                        self.interpret(l, effects);
                    }
                    Some(l) if l == target => {}
                    _ => {
                        // No working leader to hand over: the administrator promotes the follower directly, in an
                        // epoch newer than any its group has seen (each group counts its own epochs).
                        let epoch = self
                            .nodes
                            .iter()
                            .filter(|n| self.partition_of[n.index] == group)
                            .map(|n| n.epoch)
                            .max()
                            .unwrap_or(0)
                            + 1;
                        if self.nodes[target].status == Status::Running {
                            let effects = self.nodes[target].force_promote(epoch, now, &self.cfg);
                            self.interpret(target, effects);
                        }
                    }
                }
            }
            Command::CacheGet { client, key } => {
                let Some(ci) = self.clients.iter().position(|x| &x.id == client) else { return };
                let Some(cache) =
                    self.clients[ci].cache.or_else(|| self.nodes.iter().position(|n| n.role == Role::Cache))
                else {
                    return;
                };
                let op = self.history.len();
                let sql = format!("cache get {key}");
                self.start_op(ci, true, sql, cache);
                let timeout = self.clients[ci].timeout;
                self.push(after(now, timeout), EventKind::ClientTimeout { client: ci, op });
                self.send(Endpoint::Client(ci), Endpoint::Node(cache), Payload::CacheGet { op, key: key.clone() });
            }
        }
        self.track_leadership();
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

    /// Pick the replica for a read by the client's routing policy (DDIA 5.2), with the token or lag bound the
    /// replica must honour: (node, min_lsn, max_lag).
    fn route_read(&mut self, ci: usize, sql: &str, group: usize) -> (usize, u64, Option<Micros>) {
        let now = self.now;
        let replicas: Vec<usize> = self
            .nodes
            .iter()
            .filter(|n| n.is_replica() && n.status != Status::Absent && self.partition_of[n.index] == group)
            .map(|n| n.index)
            .collect();
        let leader = self.clients[ci].targets[group];
        let followers: Vec<usize> = replicas.iter().copied().filter(|r| *r != leader).collect();
        let c = &mut self.clients[ci];
        let random_of = |set: &[usize], rng: &mut SimRng| -> usize {
            if set.is_empty() {
                leader
            } else {
                set[rng.range_inclusive(0, set.len() as u64 - 1) as usize]
            }
        };
        match c.route {
            Route::Leader => (leader, 0, None),
            Route::Random => (random_of(&replicas, &mut c.rng), 0, None),
            Route::Sticky => {
                // A replica chosen by a hash of the user id; past replicas that stopped answering, the next one.
                let mut h = crate::world::trace::Fnv64::new();
                h.write_bytes(c.user.as_bytes());
                let start = (h.finish() % replicas.len().max(1) as u64) as usize;
                let pick = (0..replicas.len())
                    .map(|k| replicas[(start + k) % replicas.len()])
                    .find(|r| !c.avoid.contains_key(r))
                    .unwrap_or(leader);
                (pick, 0, None)
            }
            Route::OwnFromLeader => {
                // The router's rule: a read that names the user in the owner column reads what the user edits.
                let own = owner_filter(sql, &c.spec.owner_column, &c.user);
                if own {
                    (leader, 0, None)
                } else {
                    (random_of(&followers, &mut c.rng), 0, None)
                }
            }
            Route::LeaderWindow => {
                let window = ms(c.spec.window_ms);
                if c.last_write.is_some_and(|w| now.saturating_sub(w) < window) {
                    (leader, 0, None)
                } else {
                    (random_of(&followers, &mut c.rng), 0, None)
                }
            }
            Route::LsnToken => {
                let token =
                    if c.spec.share_token { self.user_tokens.get(&c.user).copied().unwrap_or(0) } else { c.token };
                let c = &mut self.clients[ci];
                (random_of(&replicas, &mut c.rng), token, None)
            }
            Route::MaxLag => (random_of(&followers, &mut c.rng), 0, Some(ms(c.spec.max_lag_ms))),
        }
    }

    /// The node acting as leader with the newest epoch (several may act as leader in a split brain).
    pub fn leader(&self) -> Option<usize> {
        self.leader_of(0)
    }

    /// The acting leader of replication group (partition) `group`.
    pub fn leader_of(&self, group: usize) -> Option<usize> {
        self.nodes
            .iter()
            .filter(|n| n.acting_leader() && self.partition_of[n.index] == group)
            .max_by_key(|n| (n.epoch, std::cmp::Reverse(n.index)))
            .map(|n| n.index)
    }

    /// Record the replication lag of every replica of the leader's group (partition) as the leader sees it at one
    /// of its ticks (for the lag chart). A replica of another group follows another log: it is not measured here.
    fn sample_lag(&mut self, leader: usize) {
        let now = self.now;
        let l = &self.nodes[leader];
        let group = self.partition_of[leader];
        let lags: Vec<(usize, Micros)> = self
            .nodes
            .iter()
            .filter(|n| {
                n.is_replica() && n.index != leader && n.status != Status::Absent && self.partition_of[n.index] == group
            })
            .map(|n| {
                let behind = l.entry(n.lsn() + 1).filter(|_| n.lsn() < l.lsn());
                (n.index, behind.map_or(0, |e| now.saturating_sub(e.committed_at)))
            })
            .collect();
        if self.lag_samples.len() < MAX_LAG_SAMPLES {
            self.lag_samples.push(LagSample { at: now, group, lags });
        }
    }

    /// Keep `leader_spans` up to date with who acts as leader now.
    fn track_leadership(&mut self) {
        let now = self.now;
        for n in &self.nodes {
            let open = self.leader_spans.iter().rposition(|(i, _, end)| *i == n.index && end.is_none());
            match (n.acting_leader(), open) {
                (true, None) => self.leader_spans.push((n.index, now, None)),
                (false, Some(k)) => self.leader_spans[k].2 = Some(now),
                _ => {}
            }
        }
    }

    /// Index of an endpoint in the network's name table: nodes first, then clients.
    fn endpoint_index(&self, e: Endpoint) -> usize {
        match e {
            Endpoint::Node(i) => i,
            Endpoint::Client(i) => self.nodes.len() + i,
        }
    }

    fn node_index(&self, id: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.id == id)
    }

    fn send(&mut self, from: Endpoint, to: Endpoint, payload: Payload) {
        self.send_delayed(from, to, payload, 0);
    }

    /// Send with `extra` delay on top of the network's (service discovery's propagation time).
    fn send_delayed(&mut self, from: Endpoint, to: Endpoint, payload: Payload, extra: Micros) {
        let now = self.now;
        let kind = payload.kind();
        let bytes = payload.size_bytes();
        let m = self.metrics.per_kind.or_default(kind);
        m.sent += 1;
        m.bytes += u64::from(bytes);
        match &payload {
            Payload::Replicate { entries, .. } => {
                self.metrics.records += entries.len() as u64;
                self.metrics.record_bytes += entries.iter().map(|e| e.record.size_bytes() as u64).sum::<u64>();
            }
            Payload::ApplyChanges { changes, .. } => {
                self.metrics.records += changes.len() as u64;
                self.metrics.record_bytes += changes.iter().map(|c| c.size_bytes() as u64).sum::<u64>();
            }
            _ => {}
        }
        let (fi, ti) = (self.endpoint_index(from), self.endpoint_index(to));
        let link = self.net.params(fi, ti);
        let copies = if self.net_rng.chance(link.duplicate) { 2 } else { 1 };
        let mut payload = Some(payload);
        for copy in 1..=copies {
            let Some(p) = payload.as_ref() else { break };
            let label = if self.trace.keeps() { Label(p.label()) } else { Label::default() };
            let latency = Network::sample_latency(&link, &mut self.net_rng);
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
                Endpoint::Node(n) if self.nodes[n].status == Status::Crashed => Some(DropReason::TargetDown),
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
            Endpoint::Client(c) => self.on_client_message(c, m.from, m.payload),
            Endpoint::Node(n) => {
                if self.nodes[n].status == Status::Paused {
                    self.parked[n].push(Parked::Message { from: m.from, payload: m.payload });
                } else {
                    let effects = self.nodes[n].on_message(now, m.from, m.payload, &self.cfg);
                    self.interpret(n, effects);
                }
            }
        }
    }

    fn on_client_message(&mut self, client: usize, from: Endpoint, payload: Payload) {
        match payload {
            Payload::Response { op, result } => {
                if self.history.get(op).is_none_or(|h| h.end.is_some()) {
                    return;
                }
                if let Some(r) = result.redirect {
                    self.learn_leader(client, r, self.clients[client].known_epoch);
                }
                let mut result = result;
                if let Endpoint::Node(n) = from {
                    let p = self.partition_of[n];
                    if let Some(l) = result.lsn.or(result.served_lsn) {
                        result.served.push((p, l));
                    }
                }
                if let Some(next) = result.retry {
                    // Passed on (a follower too far behind for this read): ask the leader, same operation.
                    self.history[op].node = next;
                    let sql = self.history[op].sql.clone();
                    self.send(
                        Endpoint::Client(client),
                        Endpoint::Node(next),
                        Payload::Request { op, sql, min_lsn: 0, max_lag: None },
                    );
                    return;
                }
                if let Some((waiting, mut merged)) = self.scatter.remove(&op) {
                    // One partition's answer to a scatter-gather read.
                    if !result.ok {
                        self.finish_op(op, result);
                        return;
                    }
                    let p = match from {
                        Endpoint::Node(n) => self.partition_of[n],
                        Endpoint::Client(_) => 0,
                    };
                    let waiting: Vec<usize> = waiting.into_iter().filter(|w| *w != p).collect();
                    if merged.columns.is_empty() {
                        merged.columns = result.columns;
                    }
                    merged.rows.extend(result.rows);
                    merged.served.extend(result.served);
                    if waiting.is_empty() {
                        crate::sql::sort_values(&mut merged.served);
                        self.finish_op(op, merged);
                    } else {
                        self.scatter.insert(op, (waiting, merged));
                    }
                    return;
                }
                if result.ok && !result.read_only {
                    let c = &mut self.clients[client];
                    c.last_write = Some(self.now);
                    if let Some(lsn) = result.lsn {
                        c.token = c.token.max(lsn);
                        let user = c.user.clone();
                        let t = self.user_tokens.or_default(user);
                        *t = (*t).max(lsn);
                    }
                }
                // The application writes what it inserted to its cache, keyed by table and primary key.
                if let (Some(cache), true) = (self.clients[client].cache, result.ok) {
                    let owner = self.clients[client].user.clone();
                    for (key, row) in &result.inserted {
                        let payload = Payload::CachePut { key: key.clone(), owner: owner.clone(), row: row.clone() };
                        self.send(Endpoint::Client(client), Endpoint::Node(cache), payload);
                    }
                }
                self.finish_op(op, result);
            }
            Payload::Announce { leader, epoch } => {
                let newer = epoch >= self.clients[client].known_epoch || !self.cfg.failover.epochs;
                if newer && matches!(from, Endpoint::Node(_)) {
                    self.learn_leader(client, leader, epoch);
                }
            }
            _ => {}
        }
    }

    fn learn_leader(&mut self, client: usize, leader: usize, epoch: u64) {
        let group = self.partition_of[leader];
        let c = &mut self.clients[client];
        c.known_epoch = c.known_epoch.max(epoch);
        if c.targets[group] != leader {
            c.targets[group] = leader;
            if group == 0 {
                c.target = leader;
            }
            let ev = TraceEvent::LeaderLearned {
                at: self.now,
                client: self.nm(Endpoint::Client(client)),
                leader: self.nm(Endpoint::Node(leader)),
            };
            self.trace.push(ev);
        }
    }

    fn finish_op(&mut self, op: usize, result: OpResult) {
        let now = self.now;
        let h = &mut self.history[op];
        h.end = Some(now);
        let (client, node) = (h.client, h.node);
        let client = self.names[self.nodes.len() + client].clone();
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

    fn interpret(&mut self, node: usize, effects: Vec<Effect>) {
        let now = self.now;
        for e in effects {
            match e {
                Effect::Send { to, payload } => self.send(Endpoint::Node(node), to, payload),
                Effect::SetTimer { at, timer } => {
                    let incarnation = self.nodes[node].incarnation;
                    self.push(at.max(now), EventKind::Timer { node, incarnation, timer });
                }
                Effect::Note(Note::Applied { lsn }) => {
                    self.trace.push(TraceEvent::Applied { at: now, node: self.nm(Endpoint::Node(node)), lsn });
                }
                Effect::Note(Note::WriteCommitted { .. }) => {}
                Effect::Note(Note::Halted { error }) => {
                    self.trace.push(TraceEvent::Halted { at: now, node: self.nm(Endpoint::Node(node)), error });
                }
                Effect::Note(note) => self.note(node, note),
            }
        }
        self.track_leadership();
    }

    fn note(&mut self, node: usize, note: Note) {
        let now = self.now;
        let name = self.nm(Endpoint::Node(node));
        let ev = match note {
            Note::ElectionStarted { epoch } => TraceEvent::ElectionStarted { at: now, node: name, epoch },
            Note::BecameLeader { epoch } => {
                // Service discovery tells every client, after its delay.
                for c in 0..self.clients.len() {
                    let extra = ms(self.cfg.failover.discovery_ms);
                    self.send_delayed(
                        Endpoint::Node(node),
                        Endpoint::Client(c),
                        Payload::Announce { leader: node, epoch },
                        extra,
                    );
                }
                TraceEvent::RoleChanged { at: now, node: name, role: RoleChange::Leader { epoch } }
            }
            Note::SteppedDown { epoch, reason } => {
                TraceEvent::RoleChanged { at: now, node: name, role: RoleChange::Follower { epoch, reason } }
            }
            Note::Discarded { from_lsn, to_lsn, ops } => {
                TraceEvent::Discarded { at: now, node: name, from_lsn, to_lsn, ops: ops.len() }
            }
            Note::SnapshotInstalled { lsn } => TraceEvent::SnapshotInstalled { at: now, node: name, lsn },
            Note::CaughtUp { lsn } => TraceEvent::CaughtUp { at: now, node: name, lsn },
            Note::SyncFollower { node: f } => {
                TraceEvent::SyncFollower { at: now, leader: name, node: self.nm(Endpoint::Node(f)) }
            }
            Note::ShutDown { reason } => {
                self.nodes[node].crash();
                self.parked[node].clear();
                TraceEvent::ShutDown { at: now, node: name, reason }
            }
            Note::Appointed { node: chosen, epoch } => {
                TraceEvent::Appointed { at: now, controller: name, node: self.nm(Endpoint::Node(chosen)), epoch }
            }
            Note::Applied { .. } | Note::WriteCommitted { .. } | Note::Halted { .. } => return,
        };
        self.trace.push(ev);
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

/// Does `sql` filter on `column = 'user'` (the row owner)? A router's lexical check, not a parse.
pub fn owner_filter(sql: &str, column: &str, user: &str) -> bool {
    let flat: String = sql.split_whitespace().collect::<Vec<_>>().join(" ").to_ascii_lowercase();
    let col = column.to_ascii_lowercase();
    let val = format!("'{}'", user.to_ascii_lowercase());
    [format!("{col} = {val}"), format!("{col}={val}"), format!("{col} ={val}"), format!("{col}= {val}")]
        .iter()
        .any(|p| flat.contains(p.as_str()))
}

/// One lag sample: at a leader's tick, how far behind it each replica of its group (partition) was.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LagSample {
    pub at: Micros,
    /// The replication group (partition) of the leader that took the sample; every node in `lags` belongs to it.
    pub group: usize,
    /// (node, lag): the time since the leader committed the first entry the node has not applied (0: caught up).
    pub lags: Vec<(usize, Micros)>,
}

/// Bound on lag samples kept (one per heartbeat: an hour at 50 ms).
pub const MAX_LAG_SAMPLES: usize = 72_000;

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

/// The scenario's workload, then its faults, then `extra` (a person's commands), stably sorted by time: list order
/// breaks ties, so the order of events is the same however the list was built.
pub fn merged_commands(scenario: &Scenario, extra: &[TimedCommand]) -> Rc<Vec<TimedCommand>> {
    let mut commands: Vec<TimedCommand> =
        scenario.workload.iter().chain(scenario.faults.iter()).chain(extra.iter()).cloned().collect();
    crate::sql::sort_stable_by(&mut commands, |a, b| a.at.cmp(&b.at));
    Rc::new(commands)
}

/// What a paused node holds until it runs again: a stalled process neither reads its socket nor fires its timers.
// Parked messages are few (a paused node's inbox); boxing would only add allocations.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq)]
enum Parked {
    Message { from: Endpoint, payload: Payload },
    Timer { incarnation: u64, timer: Timer },
}

#[cfg(test)]
mod tests {
    use super::looks_like_read;

    #[test]
    fn reads_are_recognised_past_comments_and_case() {
        assert!(looks_like_read("  select 1"));
        assert!(looks_like_read("-- hi\n/* there */ SELECT * FROM t"));
        assert!(!looks_like_read("INSERT INTO t VALUES (1)"));
        assert!(!looks_like_read("sel"));
        assert!(!looks_like_read("-- only a comment"));
    }
}
