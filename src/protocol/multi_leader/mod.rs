//! Multi-leader replication (DDIA 5.3): several leaders take writes, each in its own datacenter, and replicate to
//! each other asynchronously.
//!
//! Inside a datacenter nothing changes: its leader and followers replicate as single-leader replication does
//! (`single_leader::Cluster`, with one replication group per datacenter). A client's write goes to its home leader,
//! which commits it locally and answers at once (leader-to-leader replication is asynchronous). After every input
//! a leader handles, this layer looks at the new entries of its log: each one a client made becomes a *change*
//! (the row images it wrote, keyed by primary key), numbered by its leader (1, 2, 3, …), stamped with its leader's
//! clock and causal context (version vector), tagged with the leader's id, and queued for the leaders downstream
//! in the topology (`topology.rs`). Each link from one leader to another is an ordered, acknowledged stream:
//! unacknowledged changes are sent again at the leader's heartbeat, so loss and crashes only delay them.
//!
//! A leader receiving a change drops it if it carries its own id (it went round), or if it has applied it already;
//! holds it while its causal predecessors are missing (`causality.rs`); otherwise resolves it row by row against
//! what it has (`conflicts.rs`) and commits the result as one transaction of its own log, which its followers
//! replicate like any other. Conflicts and the writes they discarded are recorded for the checkers (`check.rs`).
//!
//! Files: `spec.rs` (the scenario fields), `topology.rs`, `causality.rs`, `conflicts.rs`, `check.rs` (findings),
//! `strategies.rs` (one scenario under every conflict strategy: `replsim conflicts`).

pub mod causality;
pub mod check;
pub mod collab;
pub mod conflicts;
pub mod spec;
pub mod story;
pub mod strategies;
pub mod text;
pub mod topology;

use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

use crate::log_methods::LogRecord;
use crate::protocol::single_leader::{self, Payload as SlPayload};
use crate::protocol::{Action, Endpoint, Message, Observation, Routed, Status};
use crate::scenario::{Command, Role, Scenario};
use crate::sql::{RowChange, Value};
use crate::vecmap::VecMap;
use crate::world::sim::{HistoryEntry, SetupError};
use crate::world::time::{ms, Micros};
use crate::world::trace::MsgKind;

use conflicts::{Discard, Resolved, RowMeta};
use spec::{Causality, Conflict, MultiLeaderSpec};
use topology::Shape;

/// A row (table, key) and a causal context.
pub type RowContext = (RowKey, Vec<u64>);

/// A row's column values.
/// A row image as leaders keep it: shared (a change, each leader's version of the row and its conflict history point
/// at one copy).
pub type Image = Rc<[(String, Value)]>;

/// One row a change writes.
#[derive(Clone, Debug, PartialEq)]
pub struct RowWrite {
    pub table: String,
    pub key: Value,
    /// The row after the write; None: deleted.
    pub image: Option<Image>,
    /// The row as its writer saw it before the write (for the `sum` handler).
    pub before: Option<Image>,
    pub insert: bool,
    /// `siblings`: the causal context this write replaces on its row, when the row had siblings where it was
    /// written: what its client had read of them (the leader's own earlier writes count as read). None: the
    /// change's whole context.
    pub ctx: Option<Vec<u64>>,
}

/// What one client transaction on one leader did, as it travels between leaders.
#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    /// The leader that took the write, and its number there (1, 2, …).
    pub origin: usize,
    pub seq: u64,
    /// The origin's version vector when it took the write (by node index; its own entry is seq - 1).
    pub deps: Vec<u64>,
    /// The origin's clock (µs) when it took the write.
    pub ts: i64,
    /// The client operation (history index).
    pub op: Option<usize>,
    pub rows: Vec<RowWrite>,
    /// The nodes it passed through, origin first.
    pub path: Vec<usize>,
    /// Their ids, for the message label (`eu1>us1`).
    pub via: String,
}

impl Change {
    /// The causal context of the write itself: its deps and itself.
    pub fn context(&self) -> Vec<u64> {
        let mut c = self.deps.clone();
        if c.len() <= self.origin {
            c.resize(self.origin + 1, 0);
        }
        c[self.origin] = self.seq;
        c
    }
}

/// Messages between leaders.
#[derive(Clone, Debug, PartialEq)]
pub enum Payload {
    /// Changes `first..` of the sender's stream to the receiver.
    Changes { first: u64, changes: Rc<[Rc<Change>]> },
    /// "I have everything of your stream before `next`."
    Ack { next: u64 },
}

/// How many changes a leader puts in one message when it sends a backlog again.
pub const RESEND_BATCH: usize = 64;

impl Payload {
    pub fn kind(&self) -> MsgKind {
        match self {
            Payload::Changes { .. } => MsgKind::Replicate,
            Payload::Ack { .. } => MsgKind::Ack,
        }
    }
    pub fn op(&self) -> Option<usize> {
        match self {
            Payload::Changes { changes, .. } => match &changes[..] {
                [one] => one.op,
                _ => None,
            },
            Payload::Ack { .. } => None,
        }
    }
    pub fn label(&self) -> String {
        match self {
            Payload::Changes { changes, .. } => match &changes[..] {
                [] => "no changes".into(),
                [one] => format!("change {} via {}", one.seq, one.via),
                [first, .., last] => format!("changes {}..{} via {}", first.seq, last.seq, first.via),
            },
            Payload::Ack { next } => format!("ack <{next}"),
        }
    }
    pub fn records(&self) -> (u64, u64) {
        match self {
            Payload::Changes { changes, .. } => {
                let rows: usize = changes.iter().map(|c| c.rows.len()).sum();
                (changes.len() as u64, rows as u64 * 40)
            }
            Payload::Ack { .. } => (0, 0),
        }
    }
    pub fn size_bytes(&self) -> u32 {
        let body = match self {
            Payload::Changes { changes, .. } => {
                changes.iter().map(|c| 16 + c.deps.len() * 8 + c.path.len() * 4 + c.rows.len() * 40).sum()
            }
            Payload::Ack { .. } => 8,
        };
        (24 + body).min(u32::MAX as usize) as u32
    }
}

/// The stream of changes from one leader to one downstream leader.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OutLink {
    pub queue: Vec<Rc<Change>>,
    /// Sent up to (exclusive), acknowledged up to (exclusive).
    pub sent: usize,
    pub acked: usize,
    pub last_send: Micros,
    /// When the stream last made progress (an acknowledgement moved, or a change was queued on an idle stream).
    pub progress_at: Micros,
    /// The resend interval once the stream has made no progress for `BACKOFF_AFTER` (doubling, up to
    /// `BACKOFF_MAX`); 0 until then. A device offline for hours is then asked about a few hundred times, not tens
    /// of thousands.
    pub backoff: Micros,
}

/// How long a stream may go without progress before its resends back off, and the longest interval between them.
pub const BACKOFF_AFTER: Micros = 10_000_000;
pub const BACKOFF_MAX: Micros = 60_000_000;

/// What a leader keeps for multi-leader replication (durable: it is part of its database).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LeaderState {
    /// How many changes of its own it has made.
    pub seq: u64,
    /// Version vector: how many changes of each leader it has applied (by node index).
    pub vv: Vec<u64>,
    /// What its clients' writes depend on: the joined contexts of every change applied (the changes those depended
    /// on count too, even where they have not arrived yet under causality "none"). Equal to `vv` with version
    /// vectors.
    pub known: Vec<u64>,
    /// Every (origin, number) applied out of order: beyond `vv` (what `vv` covers is applied, and is not kept
    /// here twice; see `has_applied`).
    pub seen: BTreeSet<(usize, u64)>,
    /// Changes waiting for their causal predecessors (or for a client transaction's lock).
    pub pending: Vec<Rc<Change>>,
    /// Per row (table, key): its current version.
    pub rows: BTreeMap<RowKey, RowMeta>,
    pub out: VecMap<usize, OutLink>,
    /// Per upstream leader: the next position of its stream expected.
    pub inbound: VecMap<usize, u64>,
    /// Everything applied, in order (sent again from the start to a new downstream leader after a reconfigure).
    pub applied: Vec<Rc<Change>>,
    /// When each of `applied` was applied here (the conflict view's time line).
    pub applied_at: Vec<Micros>,
    /// The log position up to which its own log has been turned into changes.
    pub seen_lsn: u64,
    /// Changes dropped because they carried its own id.
    pub dropped_own: u64,
}

/// The multi-leader cluster: the single-leader machinery per datacenter, and what leaders exchange.
#[derive(Clone, Debug)]
pub struct Cluster {
    pub inner: single_leader::Cluster,
    pub spec: Rc<MultiLeaderSpec>,
    pub shape: Shape,
    /// Per node: its datacenter (index into `spec.datacenters`).
    pub dc_of: Vec<Option<usize>>,
    /// Per node (leaders only).
    pub state: Vec<LeaderState>,
    /// Per client: home leader and the node its reads go to.
    pub home: Vec<usize>,
    pub reads_at: Vec<usize>,
    pub conflicts: Vec<Resolved>,
    pub discards: Vec<Discard>,
    /// (table, key, first op, second op): two leaders inserted the same generated key.
    pub duplicate_keys: Vec<(String, Value, Vec<usize>)>,
    /// (increment, offset) per node.
    pub auto_increment: Vec<Option<(i64, i64)>>,
    /// `siblings`: per client, the context of each row with siblings it last read (what its next write of the row
    /// replaces); per read operation, the contexts its answer carries (the client keeps them when it arrives); per
    /// write operation, its client.
    pub read_ctx: Vec<VecMap<RowKey, Vec<u64>>>,
    pending_read_ctx: VecMap<usize, Vec<RowContext>>,
    op_client: VecMap<usize, usize>,
    heartbeat: Micros,
    /// The nodes' ids, by index (conflict resolution names them).
    names: Vec<String>,
}

impl LeaderState {
    /// Has change `seq` of leader `origin` been applied here?
    pub fn has_applied(&self, origin: usize, seq: u64) -> bool {
        seq <= self.vv[origin] || self.seen.contains(&(origin, seq))
    }
}

/// A row of a leader: its table (lower case) and primary key, in SQLite's order of values.
pub type RowKey = (String, crate::sql::SortKey);

/// The key of a row in `LeaderState::rows`.
pub fn row_key(table: &str, key: &Value) -> RowKey {
    (table.to_ascii_lowercase(), crate::sql::SortKey(key.clone()))
}

impl Cluster {
    pub fn new(scenario: &Scenario, seed: u64, commands: &crate::world::sim::Commands) -> Result<Self, SetupError> {
        let spec = scenario.multi_leader.clone().ok_or_else(|| SetupError("not a multi-leader scenario".into()))?;
        if scenario.replication.log != crate::scenario::LogKind::Logical {
            return Err(SetupError(format!(
                "replication.log: leaders exchange row changes: multi-leader replication needs \"logical\", found {:?}",
                scenario.replication.log.name()
            )));
        }
        if commands.iter().any(|c| matches!(c.command, Command::AddNode { .. })) {
            return Err(SetupError("add_node is not supported with several leaders in this version".into()));
        }
        // One replication group per datacenter: the single-leader cluster sees them as partitions.
        let mut inner_scenario = scenario.clone();
        inner_scenario.multi_leader = None;
        inner_scenario.partitions = spec
            .datacenters
            .iter()
            .enumerate()
            .map(|(d, name)| crate::scenario::PartitionSpec {
                id: name.clone(),
                nodes: scenario
                    .nodes
                    .iter()
                    .enumerate()
                    .filter(|(i, n)| n.role.is_replica() && spec.dc_of[*i] == Some(d))
                    .map(|(_, n)| n.id.clone())
                    .collect(),
            })
            .collect();
        let inner = single_leader::Cluster::new(&std::rc::Rc::new(inner_scenario), seed, commands)?;
        let index = |id: &str| scenario.nodes.iter().position(|n| n.id == id);
        let leaders: Vec<usize> =
            (0..scenario.nodes.len()).filter(|i| scenario.nodes[*i].role == Role::Leader).collect();
        let shape = Shape {
            topology: spec.topology,
            leaders: match spec.topology {
                spec::Topology::Circular => spec.ring.iter().filter_map(|id| index(id)).collect(),
                _ => leaders.clone(),
            },
            hub: spec.hub.as_deref().and_then(index),
        };
        let n = inner.nodes.len();
        let mut state = vec![LeaderState::default(); n];
        for s in &mut state {
            s.vv = vec![0; n];
            s.known = vec![0; n];
        }
        let home: Vec<usize> = (0..scenario.clients.len())
            .map(|c| index(spec.home_leader(c, &scenario.nodes)).unwrap_or(leaders[0]))
            .collect();
        let reads_at: Vec<usize> = (0..scenario.clients.len())
            .map(|c| spec.client_dc_leader(c, &scenario.nodes).and_then(index).unwrap_or(home[c]))
            .collect();
        let mut dc_of = spec.dc_of.clone();
        dc_of.resize(n, None);
        let names = inner.nodes.iter().map(|n| n.id.clone()).collect();
        let mut c = Cluster {
            names,
            inner,
            auto_increment: spec.auto_increment.clone(),
            spec: Rc::new(spec),
            shape,
            dc_of,
            state,
            home,
            reads_at,
            conflicts: Vec::new(),
            discards: Vec::new(),
            duplicate_keys: Vec::new(),
            read_ctx: vec![VecMap::new(); scenario.clients.len()],
            pending_read_ctx: VecMap::new(),
            op_client: VecMap::new(),
            heartbeat: ms(scenario.replication.heartbeat_ms),
        };
        for l in leaders {
            c.step_autoincrement(l);
        }
        Ok(c)
    }

    /// The name of `node`'s datacenter.
    pub fn datacenter(&self, node: usize) -> Option<&str> {
        self.dc_of.get(node).copied().flatten().map(|d| self.spec.datacenters[d].as_str())
    }

    pub fn is_leader(&self, node: usize) -> bool {
        self.inner.nodes[node].role == Role::Leader
    }

    pub fn observe(&self, node: usize) -> Observation {
        self.inner.observe(node)
    }

    pub fn on_start(&mut self, node: usize, now: Micros) -> Vec<Action> {
        let mut out = self.inner.on_start(node, now);
        if self.is_leader(node) {
            // A restarted leader sends again what its downstream leaders have not confirmed.
            for (_, link) in self.state[node].out.iter_mut() {
                link.sent = link.acked;
            }
            out.extend(self.after_input(node, now));
            out.extend(self.resend(node, now, true));
        }
        out
    }

    pub fn on_message(&mut self, node: usize, now: Micros, from: Endpoint, msg: Message) -> Vec<Action> {
        match msg {
            Message::SingleLeader(p) => {
                let read = match (&p, from) {
                    (SlPayload::Request { op, sql, .. }, Endpoint::Client(_))
                        if self.spec.conflict == Conflict::Siblings && crate::world::sim::looks_like_read(sql) =>
                    {
                        Some((*op, sql.clone()))
                    }
                    _ => None,
                };
                let mut out = self.inner.on_message(node, now, from, p);
                if let Some((op, sql)) = read.filter(|_| self.is_leader(node)) {
                    self.show_siblings(node, now, op, &sql, &mut out);
                }
                if self.is_leader(node) {
                    out.extend(self.after_input(node, now));
                }
                out
            }
            Message::MultiLeader(p) => match from {
                Endpoint::Node(sender) if self.is_leader(node) => self.on_leader_message(node, sender, now, p),
                _ => Vec::new(),
            },
            // Another protocol's message cannot reach this run's processes.
            Message::Leaderless(_) => Vec::new(),
        }
    }

    pub fn on_timer(&mut self, node: usize, now: Micros, timer: single_leader::Timer) -> Vec<Action> {
        let mut out = self.inner.on_timer(node, now, timer);
        if self.is_leader(node) {
            out.extend(self.after_input(node, now));
            if timer == single_leader::Timer::Tick {
                out.extend(self.resend(node, now, false));
            }
        }
        out
    }

    /// A client's statement: writes to its home leader, reads to its datacenter (its datacenter's leader).
    pub fn client_request(&mut self, client: usize, op: usize, sql: &str, _now: Micros) -> Routed {
        let read = crate::world::sim::looks_like_read(sql);
        let node = if read { self.reads_at[client] } else { self.home[client] };
        if !read && self.spec.conflict == Conflict::Siblings {
            self.op_client.insert(op, client);
        }
        let request = SlPayload::Request { op, sql: sql.to_string(), min_lsn: 0, max_lag: None };
        Routed {
            read,
            node,
            refused: None,
            actions: vec![Action::Send {
                from: Endpoint::Client(client),
                to: Endpoint::Node(node),
                msg: Message::SingleLeader(request),
                delay: 0,
            }],
        }
    }

    pub fn on_client_message(
        &mut self,
        client: usize,
        now: Micros,
        from: Endpoint,
        msg: Message,
        history: &crate::chunked::Chunked<HistoryEntry>,
    ) -> Vec<Action> {
        match msg {
            Message::SingleLeader(p) => {
                if let SlPayload::Response { op, .. } = &p {
                    self.op_client.remove(op);
                    for (k, ctx) in self.pending_read_ctx.remove(op).unwrap_or_default() {
                        if let Some(known) = self.read_ctx.get_mut(client) {
                            known.insert(k, ctx);
                        }
                    }
                }
                self.inner.on_client_message(client, now, from, p, history)
            }
            Message::MultiLeader(_) | Message::Leaderless(_) => Vec::new(),
        }
    }

    /// `siblings`: leader `node` answered read `op` (in `out`): the SELECT runs again with each sibling of a row in
    /// place of the version the database holds, and each sibling's rows are added to the answer (one row per
    /// sibling, the same key); the answer carries the joined context of the siblings it showed.
    fn show_siblings(&mut self, node: usize, now: Micros, op: usize, sql: &str, out: &mut [Action]) {
        let Some(result) = out.iter_mut().find_map(|a| match a {
            Action::Send {
                to: Endpoint::Client(_),
                msg: Message::SingleLeader(SlPayload::Response { op: o, result }),
                ..
            } if *o == op && result.ok => Some(result),
            _ => None,
        }) else {
            return;
        };
        let db = &self.inner.nodes[node].db;
        let tables = db.table_names();
        let mut env = crate::sql::FixedEnv { now_us: self.inner.nodes[node].local_time_us(now), rng_state: op as u64 };
        let mut extra: Vec<Vec<Value>> = Vec::new();
        let mut contexts = Vec::new();
        for (k, m) in self.state[node].rows.iter().filter(|(_, m)| m.versions.len() > 1) {
            let Some(table) = tables.iter().find(|t| t.eq_ignore_ascii_case(&k.0)) else { continue };
            let mut saw = false;
            for img in m.versions.iter().filter_map(|v| v.image.as_ref()).filter(|i| m.image.as_ref() != Some(*i)) {
                let Some(key) = db.primary_key_of(table, img) else { continue };
                let mut alt = db.clone();
                let change = match alt.row_by_key(table, &key) {
                    Some(_) => RowChange::Update { table: table.clone(), key, row: img.to_vec() },
                    None => RowChange::Insert { table: table.clone(), row: img.to_vec() },
                };
                if alt.apply_change(&change).is_err() {
                    continue;
                }
                let Ok(o) = alt.execute_autocommit(sql, &mut env) else { continue };
                if o.rows != result.rows {
                    saw = true;
                    for r in o.rows {
                        if !result.rows.contains(&r) && !extra.contains(&r) {
                            extra.push(r);
                        }
                    }
                }
            }
            if saw {
                contexts.push((k.clone(), m.ctx.clone()));
            }
        }
        result.rows.extend(extra);
        if !contexts.is_empty() {
            self.pending_read_ctx.insert(op, contexts);
        }
    }

    pub fn command(&mut self, command: &Command, op: usize, now: Micros) -> crate::protocol::CommandOutcome {
        use crate::protocol::CommandOutcome;
        let index = |id: &str| self.inner.nodes.iter().position(|n| n.id == id && n.role == Role::Leader);
        match command {
            Command::AddNode { .. } | Command::FailoverTo(_) => CommandOutcome::Ignored,
            Command::Reconfigure { topology, ring, hub } => {
                // Checked when the scenario was read, except that the ids are leaders: anything else is ignored.
                let Ok(topology) = spec::Topology::parse(topology, "") else { return CommandOutcome::Ignored };
                let all: Vec<usize> = (0..self.inner.nodes.len()).filter(|i| self.is_leader(*i)).collect();
                let ring: Option<Vec<usize>> = ring.iter().map(|id| index(id)).collect();
                let Some(ring) = ring else { return CommandOutcome::Ignored };
                let hub = match hub {
                    None => None,
                    Some(h) => match index(h) {
                        Some(h) => Some(h),
                        None => return CommandOutcome::Ignored,
                    },
                };
                if topology == spec::Topology::Star && hub.is_none() {
                    return CommandOutcome::Ignored;
                }
                let leaders = match topology {
                    spec::Topology::Circular if !ring.is_empty() => ring,
                    _ => all,
                };
                self.shape = Shape { topology, leaders, hub };
                CommandOutcome::Actions(self.reroute(now))
            }
            Command::Move { client, leader } => {
                let c = self.inner.scenario.clients.iter().position(|x| &x.id == client);
                match (c, index(leader)) {
                    (Some(c), Some(l)) => {
                        self.home[c] = l;
                        CommandOutcome::Actions(Vec::new())
                    }
                    _ => CommandOutcome::Ignored,
                }
            }
            _ => self.inner.command(command, op, now),
        }
    }

    /// After a reconfiguration: each leader's streams to leaders that are no longer downstream stop; a new
    /// downstream leader gets everything this leader has applied, from the start (it drops what it already has),
    /// so what a failed node had not passed on reaches the rest of the ring through its upstream neighbour.
    fn reroute(&mut self, now: Micros) -> Vec<Action> {
        let mut out = Vec::new();
        for node in 0..self.inner.nodes.len() {
            if !self.is_leader(node) {
                continue;
            }
            let down = self.shape.downstream(node);
            let st = &mut self.state[node];
            let old: Vec<usize> = st.out.iter().map(|(p, _)| *p).filter(|p| !down.contains(p)).collect();
            for p in old {
                st.out.remove(&p);
            }
            let new: Vec<usize> = down.into_iter().filter(|p| !st.out.contains_key(p)).collect();
            for peer in new {
                let st = &self.state[node];
                let queue: Vec<Rc<Change>> = st
                    .applied
                    .iter()
                    .filter(|c| self.shape.forwards(node, c, peer))
                    .map(|c| self.passed_on(node, c))
                    .collect();
                let st = &mut self.state[node];
                st.out.insert(peer, OutLink { queue, sent: 0, acked: 0, last_send: now, progress_at: now, backoff: 0 });
                // The receiver starts this stream from its beginning too.
                self.state[peer].inbound.remove(&node);
            }
            out.extend(self.resend(node, now, true));
        }
        out
    }

    fn name(&self, node: usize) -> String {
        self.inner.nodes[node].id.clone()
    }

    fn names(&self) -> &[String] {
        &self.names
    }

    /// After leader `node` handled an input: turn the log entries its clients made into changes, queue them
    /// downstream, and retry what waits.
    fn after_input(&mut self, node: usize, now: Micros) -> Vec<Action> {
        let mut out = Vec::new();
        let lsn = self.inner.nodes[node].lsn();
        while self.state[node].seen_lsn < lsn {
            let at = self.state[node].seen_lsn + 1;
            self.state[node].seen_lsn = at;
            let Some(entry) = self.inner.nodes[node].entry(at).cloned() else { continue };
            let (Some(op), LogRecord::Logical { changes }) = (entry.origin, &entry.record) else { continue };
            out.extend(self.originate(node, now, op, changes));
        }
        if !self.state[node].pending.is_empty() {
            out.extend(self.drain_pending(node, now));
        }
        out
    }

    /// A client's transaction committed on leader `node`: make it a change.
    fn originate(&mut self, node: usize, now: Micros, op: usize, changes: &[RowChange]) -> Vec<Action> {
        let mut rows = Vec::new();
        for c in changes {
            let db = &self.inner.nodes[node].db;
            match c {
                RowChange::Insert { table, row } => {
                    if let Some(key) = db.primary_key_of(table, row) {
                        rows.push((table.clone(), key, Some(Image::from(&row[..])), true));
                    }
                }
                RowChange::Update { table, key, row } => {
                    let new_key = db.primary_key_of(table, row).unwrap_or_else(|| key.clone());
                    if &new_key != key {
                        rows.push((table.clone(), key.clone(), None, false));
                    }
                    rows.push((table.clone(), new_key, Some(Image::from(&row[..])), false));
                }
                RowChange::Delete { table, key } => rows.push((table.clone(), key.clone(), None, false)),
                RowChange::Ddl { .. } => {}
            }
        }
        let client = self.op_client.remove(&op);
        let siblings = self.spec.conflict == Conflict::Siblings;
        let st = &mut self.state[node];
        st.seq += 1;
        let seq = st.seq;
        let deps = st.known.clone();
        let read_ctx = client.and_then(|c| self.read_ctx.get(c));
        let rows: Vec<RowWrite> = rows
            .into_iter()
            .map(|(table, key, image, insert)| {
                let k = row_key(&table, &key);
                let m = st.rows.get(&k);
                let before = m.and_then(|m| m.image.clone());
                // A row with siblings here: the write replaces what its client read of them (and this leader's
                // own earlier writes), and stays beside the rest.
                let ctx = m.filter(|m| siblings && m.versions.len() > 1).map(|_| {
                    let mut c = read_ctx.and_then(|r| r.get(&k)).cloned().unwrap_or_default();
                    if c.len() <= node {
                        c.resize(node + 1, 0);
                    }
                    c[node] = seq;
                    c
                });
                RowWrite { table, key, image, before, insert, ctx }
            })
            .collect();
        let ts = self.inner.nodes[node].local_time_us(now);
        let change =
            Rc::new(Change { origin: node, seq, deps, ts, op: Some(op), rows, path: vec![node], via: self.name(node) });
        let st = &mut self.state[node];
        st.vv[node] = seq;
        st.known[node] = seq;
        // The write saw the row as this leader had it, so it follows the current version; only LWW can still
        // throw it away (this leader's clock is behind the version's timestamp: a causally later write loses), and
        // a `sum` column shows the counter's total.
        let mut restore = Vec::new();
        for w in &change.rows {
            let k = row_key(&w.table, &w.key);
            let incoming = RowMeta::from_write(&change, w);
            let meta = match self.state[node].rows.get(&k).cloned() {
                Some(m) if self.spec.conflict == Conflict::Lww && m.ts > incoming.ts => {
                    self.record_discard(Discard {
                        loser: (node, seq),
                        loser_op: Some(op),
                        winner: m.writers[0],
                        winner_ops: m.ops.clone(),
                        causally_later: true,
                        row: format!("{} {}", w.table, crate::log_methods::value_text(&w.key)),
                    });
                    let mut ctx = m.ctx.clone();
                    causality::join(&mut ctx, &incoming.ctx);
                    RowMeta { ctx, ..m }
                }
                Some(m) if self.spec.conflict == Conflict::Siblings => {
                    conflicts::resolve(Conflict::Siblings, &[], self.names(), &m, &change, w).meta
                }
                Some(m) if self.counts() => self.local_version(node, incoming, Some(&m), &change, w),
                _ if self.counts() => self.local_version(node, incoming, None, &change, w),
                _ => incoming,
            };
            // Where the row's version is not what the client wrote (LWW kept another write; a counter's total),
            // the leader makes its row say so.
            if meta.image != w.image {
                restore.push((w.clone(), meta.image.clone()));
            }
            self.state[node].rows.insert(k, meta);
        }
        let mut out = Vec::new();
        let fixes: Vec<RowChange> =
            restore.iter().filter_map(|(w, image)| self.row_change(node, &w.table, &w.key, image.clone())).collect();
        if !fixes.is_empty() {
            if let Ok(a) = self.inner.commit_replicated(node, now, fixes) {
                out.extend(a);
            }
            self.state[node].seen_lsn = self.inner.nodes[node].lsn();
        }
        self.state[node].applied.push(change.clone());
        self.state[node].applied_at.push(now);
        self.step_autoincrement(node);
        out.extend(self.enqueue(node, now, &change));
        out
    }

    /// The change that makes `node`'s row (table, key) equal to `image`, if it is not already.
    fn row_change(&self, node: usize, table: &str, key: &Value, image: Option<Image>) -> Option<RowChange> {
        let db = &self.inner.nodes[node].db;
        let current = db.row_by_key(table, key);
        match (current, image) {
            (None, None) => None,
            (Some(_), None) => Some(RowChange::Delete { table: table.to_string(), key: key.clone() }),
            (None, Some(row)) => Some(RowChange::Insert { table: table.to_string(), row: row.to_vec() }),
            (Some(cur), Some(row)) if cur[..] == row[..] => None,
            (Some(_), Some(row)) => {
                Some(RowChange::Update { table: table.to_string(), key: key.clone(), row: row.to_vec() })
            }
        }
    }

    /// Queue `change` (applied on `node`) for the leaders downstream of `node`, sending at once where in step.
    fn enqueue(&mut self, node: usize, now: Micros, change: &Rc<Change>) -> Vec<Action> {
        let mut out = Vec::new();
        // What goes downstream names the leaders it passed through: a change of another leader, passed on, gets
        // this hop added (once, shared by every peer it goes to).
        let mut hop: Option<Rc<Change>> = None;
        if change.origin != node && self.shape.topology == spec::Topology::AllToAll {
            return out; // all-to-all: every leader hears from the origin itself
        }
        for peer in self.shape.downstream(node) {
            if !self.shape.forwards(node, change, peer) {
                continue;
            }
            let change = hop.get_or_insert_with(|| self.passed_on(node, change));
            let link = self.state[node].out.or_default(peer);
            if link.acked == link.queue.len() {
                link.progress_at = now;
                link.backoff = 0;
            }
            link.queue.push(change.clone());
            let at = link.queue.len() - 1;
            if link.sent == at {
                link.sent += 1;
                link.last_send = now;
                let msg = Payload::Changes { first: at as u64, changes: Rc::new([change.clone()]) };
                out.push(send(node, peer, msg));
            }
        }
        out
    }

    /// `change` as `node` passes it on: its own as it is, another leader's with this hop added to its path.
    fn passed_on(&self, node: usize, change: &Rc<Change>) -> Rc<Change> {
        if change.origin == node {
            return change.clone();
        }
        let mut forwarded = (**change).clone();
        forwarded.path.push(node);
        forwarded.via = format!("{}>{}", forwarded.via, self.inner.nodes[node].id);
        Rc::new(forwarded)
    }

    /// Send again what downstream leaders have not confirmed (at a heartbeat, or `now` after a restart).
    fn resend(&mut self, node: usize, now: Micros, at_once: bool) -> Vec<Action> {
        let mut out = Vec::new();
        let every = 2 * self.heartbeat;
        for (peer, link) in self.state[node].out.iter_mut() {
            if link.acked >= link.queue.len()
                || (!at_once && now.saturating_sub(link.last_send) < every.max(link.backoff))
            {
                continue;
            }
            if !at_once && now.saturating_sub(link.progress_at) >= BACKOFF_AFTER {
                link.backoff = (link.backoff.max(every) * 2).min(BACKOFF_MAX);
            }
            let end = (link.acked + RESEND_BATCH).min(link.queue.len());
            let changes: Rc<[Rc<Change>]> = link.queue[link.acked..end].iter().cloned().collect();
            link.sent = end;
            link.last_send = now;
            out.push(send(node, *peer, Payload::Changes { first: link.acked as u64, changes }));
        }
        out
    }

    fn on_leader_message(&mut self, node: usize, sender: usize, now: Micros, p: Payload) -> Vec<Action> {
        match p {
            Payload::Ack { next } => {
                if let Some(link) = self.state[node].out.get_mut(&sender) {
                    let next = (next as usize).min(link.queue.len());
                    if next > link.acked {
                        link.acked = next;
                        link.sent = link.sent.max(next);
                        link.progress_at = now;
                        link.backoff = 0;
                    }
                }
                Vec::new()
            }
            Payload::Changes { first, changes } => {
                let mut out = Vec::new();
                let expected = *self.state[node].inbound.or_default(sender);
                // An ordered stream: take what continues it, ignore the rest (it comes again).
                let mut next = expected;
                for (i, c) in changes.iter().enumerate() {
                    if first + i as u64 != next {
                        continue;
                    }
                    next += 1;
                    out.extend(self.receive(node, now, c.clone()));
                }
                self.state[node].inbound.insert(sender, next);
                out.push(send(node, sender, Payload::Ack { next }));
                out
            }
        }
    }

    /// A change reached leader `node`.
    fn receive(&mut self, node: usize, now: Micros, change: Rc<Change>) -> Vec<Action> {
        let st = &mut self.state[node];
        if change.path.contains(&node) {
            // It carries this leader's id: it has been here (it went round the ring).
            st.dropped_own += 1;
            let name = |i: usize| -> crate::world::trace::Name { self.inner.nodes[i].id.as_str().into() };
            return vec![Action::Trace(crate::world::trace::TraceEvent::DroppedOwn {
                at: now,
                node: name(node),
                origin: name(change.origin),
                seq: change.seq,
            })];
        }
        if st.has_applied(change.origin, change.seq)
            || st.pending.iter().any(|p| p.origin == change.origin && p.seq == change.seq)
        {
            return Vec::new();
        }
        // Kept as it arrived (shared with the sender's queue): a copy naming this hop is made only where it is
        // passed on (`enqueue`).
        self.state[node].pending.push(change);
        self.drain_pending(node, now)
    }

    /// Apply every waiting change that may be applied now, until none may.
    fn drain_pending(&mut self, node: usize, now: Micros) -> Vec<Action> {
        let mut out = Vec::new();
        loop {
            let st = &self.state[node];
            let ready = st.pending.iter().position(|c| match self.spec.causality {
                Causality::None => true,
                Causality::VersionVectors => causality::deliverable(&st.vv, c),
            });
            let Some(i) = ready else { break };
            let change = self.state[node].pending[i].clone();
            match self.apply(node, now, &change) {
                Some(actions) => {
                    self.state[node].pending.remove(i);
                    out.extend(actions);
                    out.extend(self.enqueue(node, now, &change));
                }
                // The database is locked by a client transaction: try again after the next input.
                None => break,
            }
        }
        out
    }

    /// Resolve and commit `change` on leader `node`. None: the database is locked (nothing changed).
    fn apply(&mut self, node: usize, now: Micros, change: &Rc<Change>) -> Option<Vec<Action>> {
        let mut decisions = Vec::new();
        for w in &change.rows {
            let k = row_key(&w.table, &w.key);
            let d = match self.state[node].rows.get(&k) {
                None => {
                    let mut meta = RowMeta::from_write(change, w);
                    if self.counts() {
                        meta = self.local_version(node, meta, None, change, w);
                    }
                    conflicts::Decision { meta, conflict: None, discard: None }
                }
                Some(m) => conflicts::resolve(self.spec.conflict, &self.handlers(node, w), self.names(), m, change, w),
            };
            decisions.push((w, k, d));
        }
        let fixes: Vec<RowChange> = decisions
            .iter()
            .filter_map(|(w, _, d)| self.row_change(node, &w.table, &w.key, d.meta.image.clone()))
            .collect();
        let mut out = Vec::new();
        if !fixes.is_empty() {
            out = self.inner.commit_replicated(node, now, fixes).ok()?;
        }
        self.state[node].seen_lsn = self.inner.nodes[node].lsn();
        for (w, k, d) in decisions {
            if let Some(c) = &d.conflict {
                let how = c.detail.split_once("neither had seen the other; ").map_or(&c.detail[..], |(_, h)| h);
                out.push(Action::Trace(crate::world::trace::TraceEvent::ConflictResolved {
                    at: now,
                    node: self.inner.nodes[node].id.as_str().into(),
                    row: format!("{} {}", w.table, crate::log_methods::value_text(&w.key)),
                    how: how.to_string(),
                }));
            }
            if let Some(c) = d.conflict {
                let both_inserts = w.insert
                    && self.state[node].rows.get(&k).is_some_and(|_| true)
                    && self.inner.nodes[node]
                        .db
                        .table_sql(&w.table)
                        .is_some_and(|s| s.to_ascii_uppercase().contains("AUTOINCREMENT"));
                if both_inserts && !self.duplicate_keys.iter().any(|(t, key, _)| t == &w.table && key == &w.key) {
                    self.duplicate_keys.push((w.table.clone(), w.key.clone(), c.ops.clone()));
                }
                if !self.conflicts.iter().any(|x| x.table == c.table && x.key == c.key && same_sides(x.sides, c.sides))
                {
                    self.conflicts.push(c);
                }
            }
            if let Some(x) = d.discard {
                self.record_discard(x);
            }
            self.state[node].rows.insert(k, d.meta);
        }
        let st = &mut self.state[node];
        // The version vector counts the changes of each leader applied without a gap (with causality "none"
        // they may come out of order): a write's context never claims a change its leader has not applied.
        causality::join_change(&mut st.known, change);
        let o = change.origin;
        if change.seq == st.vv[o] + 1 {
            st.vv[o] += 1;
            while st.seen.remove(&(o, st.vv[o] + 1)) {
                st.vv[o] += 1;
            }
        } else {
            st.seen.insert((o, change.seq));
        }
        st.applied.push(change.clone());
        st.applied_at.push(now);
        self.step_autoincrement(node);
        Some(out)
    }

    /// A write that follows the row's version `old` (or is its first): registers and counters carried over.
    fn local_version(
        &self,
        node: usize,
        meta: RowMeta,
        old: Option<&RowMeta>,
        change: &Change,
        w: &RowWrite,
    ) -> RowMeta {
        let meta = match (self.spec.conflict, old) {
            (Conflict::Crdt, Some(m)) => meta.registers(&m.cols, change, w),
            (Conflict::Crdt, None) => meta.registers(&[], change, w),
            _ => meta,
        };
        meta.counted(&self.handlers(node, w), &w.table, old.map_or(&[][..], |m| &m.sums), w)
    }

    /// Does the strategy keep counters (`on-write` with `sum`, `crdt`)?
    fn counts(&self) -> bool {
        matches!(self.spec.conflict, Conflict::OnWrite | Conflict::Crdt)
    }

    /// The per-column handlers for write `w`: `on-write`'s from the scenario; under `crdt` every integer column
    /// but the primary key is a counter.
    fn handlers(&self, node: usize, w: &RowWrite) -> Vec<(String, spec::Handler)> {
        if self.spec.conflict != Conflict::Crdt {
            return self.spec.on_write.clone();
        }
        let db = &self.inner.nodes[node].db;
        let pk = db.primary_key_column(&w.table);
        let t = w.table.to_ascii_lowercase();
        w.image
            .iter()
            .chain(&w.before)
            .flat_map(|i| i.iter())
            .filter(|(c, v)| matches!(v, Value::Integer(_)) && pk.as_ref().is_none_or(|k| !k.eq_ignore_ascii_case(c)))
            .map(|(c, _)| (format!("{t}.{}", c.to_ascii_lowercase()), spec::Handler::Sum))
            .fold(Vec::new(), |mut all, h| {
                if !all.contains(&h) {
                    all.push(h);
                }
                all
            })
    }

    fn record_discard(&mut self, d: Discard) {
        if !self.discards.iter().any(|x| x.loser == d.loser && x.row == d.row) {
            self.discards.push(d);
        }
    }

    /// MySQL's auto_increment_increment/offset: move each AUTOINCREMENT counter of leader `node` so that the next
    /// key it hands out is ≡ offset (mod increment).
    fn step_autoincrement(&mut self, node: usize) {
        let Some(Some((inc, off))) = self.auto_increment.get(node).copied() else { return };
        let db = &mut self.inner.nodes[node].db;
        for t in db.table_names() {
            let Some(seq) = db.autoincrement_sequence(&t) else { continue };
            let mut next = seq + 1;
            let r = (next - off).rem_euclid(inc);
            if r != 0 {
                next += inc - r;
            }
            db.advance_autoincrement(&t, next - 1);
        }
    }

    /// Every leader is running, and has sent and applied everything (for tests and quiescence checks).
    pub fn quiet(&self) -> bool {
        self.state.iter().enumerate().filter(|(i, _)| self.is_leader(*i)).all(|(i, s)| {
            self.inner.nodes[i].status == Status::Running
                && s.pending.is_empty()
                && s.out.iter().all(|(_, l)| l.acked == l.queue.len())
        })
    }
}

fn same_sides(a: [(usize, u64); 2], b: [(usize, u64); 2]) -> bool {
    a == b || (a[0] == b[1] && a[1] == b[0])
}

fn send(from: usize, to: usize, p: Payload) -> Action {
    Action::Send { from: Endpoint::Node(from), to: Endpoint::Node(to), msg: Message::MultiLeader(p), delay: 0 }
}

/// The endpoints in the same datacenter as endpoint `id` (nodes, and clients that name it), `id` excluded: what
/// stays reachable when `id` goes offline.
pub fn same_place(scenario: &Scenario, id: &str) -> Vec<String> {
    let Some(ml) = &scenario.multi_leader else { return Vec::new() };
    let dc_of_node = |i: usize| ml.dc_of.get(i).copied().flatten().map(|d| ml.datacenters[d].as_str());
    let here = match scenario.nodes.iter().position(|n| n.id == id) {
        Some(i) => dc_of_node(i),
        None => scenario.clients.iter().position(|c| c.id == id).and_then(|c| ml.client_dc[c].as_deref()),
    };
    let Some(here) = here else { return Vec::new() };
    let nodes =
        scenario.nodes.iter().enumerate().filter(|(i, _)| dc_of_node(*i) == Some(here)).map(|(_, n)| n.id.clone());
    let clients = scenario
        .clients
        .iter()
        .enumerate()
        .filter(|(c, _)| ml.client_dc[*c].as_deref() == Some(here))
        .map(|(_, c)| c.id.clone());
    nodes.chain(clients).filter(|x| x != id).collect()
}

/// The network of `scenario`: links between datacenters first, then the scenario's own links (which override).
pub fn network_of(scenario: &Scenario) -> crate::scenario::NetworkSpec {
    let mut n = scenario.network.clone();
    if let Some(ml) = &scenario.multi_leader {
        let mut links = ml.links(&scenario.nodes, &scenario.clients);
        links.extend(n.links);
        n.links = links;
    }
    n
}
