//! The single-leader cluster as the world sees it: every node of the run, the clients' library state, and the
//! bookkeeping only this protocol has (who led when, replication lag per group).
//!
//! The world hands each input to one node (`on_start`, `on_message`, `on_timer`) and gets back what that node's
//! effects mean for the world: messages to send, timers to set, lines for the trace. A node's effects are turned
//! into world actions here, in order, so that the world needs to know nothing of leaders: a node that becomes
//! leader has service discovery tell every client (after the discovery delay); a node a split-brain guard shuts
//! down stops. Administrative commands that change the cluster's shape (adding a node to one replication group,
//! a planned failover inside one group) are carried out here too.

use super::*;
use crate::protocol::{Action, CommandOutcome, Message, Observation, Routed, Timer as AnyTimer, Version};
use crate::scenario::{Command, NodeSpec, Route, Scenario};
use crate::world::sim::{HistoryEntry, SetupError};
use crate::world::trace::{Name, RoleChange, TraceEvent};

/// The single-leader cluster: nodes (including those that join later, absent until then) and client state.
#[derive(Clone, Debug)]
pub struct Cluster {
    pub nodes: Vec<Node>,
    pub clients: Vec<super::clients::Client>,
    /// Which replication group (partition) each node belongs to.
    pub partition_of: Vec<usize>,
    /// Who acted as leader when: (node, from, until). Split-brain checking reads it.
    pub leader_spans: Vec<(usize, Micros, Option<Micros>)>,
    /// Replication lag per follower, sampled at each leader's heartbeat ticks: one sample per tick, holding the
    /// followers of that leader's own replication group only (each partition has its own log).
    pub lag_samples: crate::chunked::Chunked<LagSample>,
    /// LSN of each user's last acknowledged write, shared by the user's devices when they share tokens.
    pub user_tokens: VecMap<String, u64>,
    /// Scatter-gather reads in progress: op -> (partitions still to answer, rows so far).
    pub(super) scatter: VecMap<usize, (Vec<usize>, OpResult)>,
    pub cfg: Rc<NodeConfig>,
    pub scenario: Rc<Scenario>,
    /// Endpoint names for trace lines: nodes first, then clients.
    pub names: Rc<[Name]>,
}

impl Cluster {
    /// The cluster keeps `scenario` (shared, not copied).
    pub fn new(scenario: &Rc<Scenario>, seed: u64, commands: &crate::world::sim::Commands) -> Result<Self, SetupError> {
        let leader =
            scenario.nodes.iter().position(|n| n.role == Role::Leader).ok_or_else(|| SetupError("no leader".into()))?;
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
                n.leader_epoch = 1;
                for (k, sql) in scenario.schema.iter().enumerate() {
                    n.bootstrap(sql).map_err(|e| SetupError(format!("schema[{k}]: {e}")))?;
                }
                if spec.role.is_replica() {
                    n.members = members_of(partition_of[i]);
                    n.subscribers = cdc.clone();
                }
                if let Some((table, column)) = &spec.index {
                    n.search = Some(SearchIndex::new(table, column));
                }
            } else if matches!(spec.role, Role::Controller | Role::Replicator) {
                n.leader = Some(leader);
                n.leader_epoch = 1;
            }
            if spec.role == Role::Replicator {
                n.replicator.targets = (0..scenario.nodes.len())
                    .filter(|t| scenario.nodes[*t].role == Role::Follower || scenario.nodes[*t].role == Role::Cdc)
                    .collect();
            }
            nodes.push(n);
        }
        if crate::log_methods::method(scenario.replication.log, false).captures_changes() {
            nodes[leader].install_change_capture(&scenario.replication.trigger).map_err(SetupError)?;
        }
        let clients = scenario
            .clients
            .iter()
            .map(|c| super::clients::Client::new(c, leader, leaders.clone(), &scenario.nodes, seed))
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
            caches: scenario.clients.iter().any(|c| c.cache.is_some()),
        };
        let names: Vec<Name> = specs
            .iter()
            .map(|n| Name::from(n.id.as_str()))
            .chain(scenario.clients.iter().map(|c| Name::from(c.id.as_str())))
            .collect();
        Ok(Cluster {
            nodes,
            clients,
            partition_of,
            leader_spans: Vec::new(),
            lag_samples: crate::chunked::Chunked::new(),
            user_tokens: VecMap::new(),
            scatter: VecMap::new(),
            cfg: Rc::new(cfg),
            scenario: Rc::clone(scenario),
            names: names.into(),
        })
    }

    fn name(&self, e: Endpoint) -> Name {
        match e {
            Endpoint::Node(i) => self.names[i].clone(),
            Endpoint::Client(c) => self.names[self.nodes.len() + c].clone(),
        }
    }

    /// The node acting as leader with the newest epoch in the first replication group (several may act as leader
    /// in a split brain).
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

    pub fn observe(&self, node: usize) -> Observation {
        let n = &self.nodes[node];
        let group = self.partition_of[node];
        Observation {
            role: n.role,
            status: n.status,
            version: Version::Lsn { group, lsn: n.lsn() },
            takes_writes: n.acting_leader(),
            group,
        }
    }

    pub fn on_start(&mut self, node: usize, now: Micros) -> Vec<Action> {
        let effects = self.nodes[node].on_start(now, &self.cfg);
        self.actions(node, now, effects)
    }

    pub fn on_message(&mut self, node: usize, now: Micros, from: Endpoint, payload: Payload) -> Vec<Action> {
        let effects = self.nodes[node].on_message(now, from, payload, &self.cfg);
        self.actions(node, now, effects)
    }

    pub fn on_timer(&mut self, node: usize, now: Micros, timer: Timer) -> Vec<Action> {
        if timer == Timer::Tick && self.nodes[node].acting_leader() {
            self.sample_lag(node, now);
        }
        let effects = self.nodes[node].on_timer(now, timer, &self.cfg);
        self.actions(node, now, effects)
    }

    /// Commands that change the cluster's shape or ask a cache: everything else is the world's.
    pub fn command(&mut self, command: &Command, op: usize, now: Micros) -> CommandOutcome {
        match command {
            Command::AddNode { id, copy, .. } => {
                let Some(i) = self.nodes.iter().position(|n| &n.id == id) else { return CommandOutcome::Ignored };
                if self.nodes[i].status != Status::Absent {
                    return CommandOutcome::Ignored;
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
                let mut actions = vec![Action::Trace(TraceEvent::Joined {
                    at: now,
                    node: self.name(Endpoint::Node(i)),
                    method: copy.name().into(),
                })];
                actions.extend(self.on_start(i, now));
                self.track_leadership(now);
                CommandOutcome::Actions(actions)
            }
            Command::FailoverTo(id) => {
                let Some(target) = self.nodes.iter().position(|n| &n.id == id) else {
                    return CommandOutcome::Ignored;
                };
                // Only the named node's replication group changes hands: its own leader hands over to it.
                let group = self.partition_of[target];
                let actions = match self.leader_of(group) {
                    Some(l) if l != target && self.nodes[l].status == Status::Running => {
                        let effects = self.nodes[l].begin_handover(target, now, &self.cfg);
                        self.actions(l, now, effects)
                    }
                    Some(l) if l == target => Vec::new(),
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
                            self.actions(target, now, effects)
                        } else {
                            Vec::new()
                        }
                    }
                };
                CommandOutcome::Actions(actions)
            }
            Command::CacheGet { client, key } => {
                let Some(ci) = self.scenario.clients.iter().position(|x| &x.id == client) else {
                    return CommandOutcome::Ignored;
                };
                let Some(cache) =
                    self.clients[ci].cache.or_else(|| self.nodes.iter().position(|n| n.role == Role::Cache))
                else {
                    return CommandOutcome::Ignored;
                };
                CommandOutcome::Operation {
                    client: ci,
                    sql: format!("cache get {key}"),
                    routed: Routed {
                        read: true,
                        node: cache,
                        refused: None,
                        actions: vec![Action::Send {
                            from: Endpoint::Client(ci),
                            to: Endpoint::Node(cache),
                            msg: Message::SingleLeader(Payload::CacheGet { op, key: key.clone() }),
                            delay: 0,
                        }],
                    },
                }
            }
            _ => CommandOutcome::Ignored,
        }
    }

    /// Record the replication lag of every replica of the leader's group (partition) as the leader sees it at one
    /// of its ticks (for the lag chart). A replica of another group follows another log: it is not measured here.
    fn sample_lag(&mut self, leader: usize, now: Micros) {
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
    pub fn track_leadership(&mut self, now: Micros) {
        for n in &self.nodes {
            let open = self.leader_spans.iter().rposition(|(i, _, end)| *i == n.index && end.is_none());
            match (n.acting_leader(), open) {
                (true, None) => self.leader_spans.push((n.index, now, None)),
                (false, Some(k)) => self.leader_spans[k].2 = Some(now),
                _ => {}
            }
        }
    }

    /// What a node's effects mean for the world, in order.
    pub(super) fn actions(&mut self, node: usize, now: Micros, effects: Vec<Effect>) -> Vec<Action> {
        let mut out = Vec::with_capacity(effects.len());
        for e in effects {
            match e {
                Effect::Send { to, payload } => out.push(Action::Send {
                    from: Endpoint::Node(node),
                    to,
                    msg: Message::SingleLeader(payload),
                    delay: 0,
                }),
                Effect::SetTimer { at, timer } => {
                    out.push(Action::SetTimer { node, at, timer: AnyTimer::SingleLeader(timer) })
                }
                Effect::Note(note) => self.note(node, now, note, &mut out),
            }
        }
        out
    }

    fn note(&mut self, node: usize, now: Micros, note: Note, out: &mut Vec<Action>) {
        let name = self.name(Endpoint::Node(node));
        let ev = match note {
            Note::Applied { lsn } => TraceEvent::Applied { at: now, node: name, lsn },
            Note::WriteCommitted { .. } => return,
            Note::Halted { error } => TraceEvent::Halted { at: now, node: name, error },
            Note::ElectionStarted { epoch } => TraceEvent::ElectionStarted { at: now, node: name, epoch },
            Note::BecameLeader { epoch } => {
                // Service discovery tells every client, after its delay.
                for c in 0..self.clients.len() {
                    out.push(Action::Send {
                        from: Endpoint::Node(node),
                        to: Endpoint::Client(c),
                        msg: Message::SingleLeader(Payload::Announce { leader: node, epoch }),
                        delay: ms(self.cfg.failover.discovery_ms),
                    });
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
                TraceEvent::SyncFollower { at: now, leader: name, node: self.name(Endpoint::Node(f)) }
            }
            Note::ShutDown { reason } => {
                out.push(Action::Stop { node });
                TraceEvent::ShutDown { at: now, node: name, reason }
            }
            Note::Appointed { node: chosen, epoch } => {
                TraceEvent::Appointed { at: now, controller: name, node: self.name(Endpoint::Node(chosen)), epoch }
            }
        };
        out.push(Action::Trace(ev));
    }

    /// Client `client`'s answer (or leader announcement) arrived.
    pub fn on_client_message(
        &mut self,
        client: usize,
        now: Micros,
        from: Endpoint,
        payload: Payload,
        history: &crate::chunked::Chunked<HistoryEntry>,
    ) -> Vec<Action> {
        let mut out = Vec::new();
        match payload {
            Payload::Response { op, result } => {
                let Some(entry) = history.get(op).filter(|h| h.end.is_none()) else { return out };
                if let Some(r) = result.redirect {
                    let epoch = self.clients[client].known_epoch;
                    self.learn_leader(client, r, epoch, now, &mut out);
                }
                let mut result = result;
                if let Endpoint::Node(n) = from {
                    let p = self.partition_of[n];
                    if let Some(l) = result.lsn.or(result.served_lsn) {
                        // Usually the only part: sized exactly, as the history keeps it for the whole run.
                        result.served.reserve_exact(1);
                        result.served.push((p, l));
                    }
                }
                if let Some(next) = result.retry {
                    // Passed on (a follower too far behind for this read): ask the leader, same operation.
                    out.push(Action::Reassign { op, node: next });
                    let request = Payload::Request { op, sql: entry.sql.clone(), min_lsn: 0, max_lag: None };
                    out.push(Action::Send {
                        from: Endpoint::Client(client),
                        to: Endpoint::Node(next),
                        msg: Message::SingleLeader(request),
                        delay: 0,
                    });
                    return out;
                }
                if let Some((waiting, mut merged)) = self.scatter.remove(&op) {
                    // One partition's answer to a scatter-gather read.
                    if !result.ok {
                        out.push(Action::Finish { op, result });
                        return out;
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
                        out.push(Action::Finish { op, result: merged });
                    } else {
                        self.scatter.insert(op, (waiting, merged));
                    }
                    return out;
                }
                if result.ok && !result.read_only {
                    let c = &mut self.clients[client];
                    c.last_write = Some(now);
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
                        out.push(Action::Send {
                            from: Endpoint::Client(client),
                            to: Endpoint::Node(cache),
                            msg: Message::SingleLeader(payload),
                            delay: 0,
                        });
                    }
                }
                out.push(Action::Finish { op, result });
            }
            Payload::Announce { leader, epoch } => {
                let newer = epoch >= self.clients[client].known_epoch || !self.cfg.failover.epochs;
                if newer && matches!(from, Endpoint::Node(_)) {
                    self.learn_leader(client, leader, epoch, now, &mut out);
                }
            }
            _ => {}
        }
        out
    }

    fn learn_leader(&mut self, client: usize, leader: usize, epoch: u64, now: Micros, out: &mut Vec<Action>) {
        let group = self.partition_of[leader];
        let c = &mut self.clients[client];
        c.known_epoch = c.known_epoch.max(epoch);
        if c.targets[group] != leader {
            c.targets[group] = leader;
            if group == 0 {
                c.target = leader;
            }
            out.push(Action::Trace(TraceEvent::LeaderLearned {
                at: now,
                client: self.name(Endpoint::Client(client)),
                leader: self.name(Endpoint::Node(leader)),
            }));
        }
    }

    /// A client's operation had no answer in time: a scatter-gather read is abandoned, and a sticky client stops
    /// trusting the replica that did not answer (it reroutes from now on).
    pub fn on_client_timeout(&mut self, client: usize, entry: &HistoryEntry, op: usize) {
        self.scatter.remove(&op);
        if entry.read && self.clients[client].route == Route::Sticky {
            self.clients[client].avoid.insert(entry.node, ());
        }
    }
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
