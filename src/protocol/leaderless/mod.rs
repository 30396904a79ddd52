//! Leaderless replication (DDIA 5.4), as Dynamo, Riak, Cassandra and Voldemort do it.
//!
//! There is no leader. Every node is a replica that keeps, for each key it is responsible for, the set of
//! concurrent versions of the row (`versions.rs`). A key lives on `n` home replicas, found by consistent hashing
//! of the table and primary key on a ring of all replicas (`ring.rs`). A client's statement is one put or get of
//! one key; a coordinator (a replica the client names, or the client library itself) sends it to the key's home
//! replicas and waits for `w` acknowledgements of a write or `r` answers to a read (`quorum.rs`). A write that
//! cannot gather w fails, but is not rolled back where it did land. A read returns every version no other
//! descends from (siblings), and, with read repair on, writes the newest versions back to the replicas that
//! answered with older ones (`read_repair.rs`). A background process compares replicas' Merkle trees and copies
//! what differs, so keys nobody reads converge too (`anti_entropy.rs`). With a sloppy quorum, a write that cannot
//! reach enough home replicas is accepted by the next nodes on the ring, which keep it as a hint and hand it home
//! later (`sloppy.rs`).
//!
//! This file holds the replica's state, the messages, and the cluster the `Protocol` enum holds (node inputs in,
//! world actions out); `clients.rs` is the client library (statements to puts and gets, contexts, merges) and
//! `findings.rs` the checkers of this protocol (stale reads, lost writes, conflicts).

pub mod anti_entropy;
pub mod clients;
pub mod findings;
pub mod quorum;
pub mod read_repair;
pub mod report;
pub mod ring;
pub mod sloppy;
pub mod spec;
pub mod staleness;
pub mod versions;
pub mod view;

use crate::vecmap::VecMap;
use std::collections::BTreeMap;
use std::rc::Rc;

use serde_json::{json, Map, Value as Json};

use crate::protocol::{
    Action, CommandOutcome, Endpoint, Message, Observation, Routed, Status, Timer as AnyTimer, Version,
};
use crate::scenario::{Command, Role, Scenario};
use crate::sql::Database;
use crate::world::sim::{HistoryEntry, SetupError};
use crate::world::time::{after, ms, Micros};
use crate::world::trace::{MsgKind, Name};

use quorum::Coordination;
use ring::Ring;
use spec::LeaderlessSpec;
use versions::{Row, Sibling, Vv};

/// A row's address: its table (lower case) and its primary key (as JSON text, so `1` and `'1'` differ).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Key {
    pub table: String,
    pub pk: String,
}

impl Key {
    pub fn new(table: &str, pk: &crate::sql::Value) -> Key {
        Key { table: table.to_ascii_lowercase(), pk: pk.to_json().to_string() }
    }

    /// What the ring hashes.
    pub fn ring_key(&self) -> String {
        format!("{}:{}", self.table, self.pk)
    }

    /// `kv:key0` (text keys without their quotes).
    pub fn label(&self) -> String {
        let pk = self.pk.strip_prefix('"').and_then(|p| p.strip_suffix('"')).unwrap_or(&self.pk);
        format!("{}:{pk}", self.table)
    }
}

/// What a client asks of a coordinating replica.
#[derive(Clone, Debug, PartialEq)]
pub enum Req {
    Get {
        key: Key,
    },
    /// `row: None`: a delete. `context`: the join of the vectors the client last read of the key (empty: blind).
    Put {
        key: Key,
        row: Option<Row>,
        context: Vv,
        removed: Vec<String>,
    },
}

/// A coordinator's answer to its client.
#[derive(Clone, Debug, PartialEq)]
pub struct Reply {
    pub error: Option<String>,
    /// A read's reconciled versions (tombstones included).
    pub versions: Vec<Sibling>,
    /// A write's new version's clock (its context and its dot): the writer's context for its next write.
    pub written: Option<Vv>,
}

/// A message of leaderless replication.
#[derive(Clone, Debug, PartialEq)]
pub enum Msg {
    /// Client to its coordinating replica: one statement, as a put or a get.
    Coordinate {
        op: usize,
        req: Req,
    },
    /// Coordinator to a replica: store this version (`hint`: as a fallback for that home replica).
    Put {
        op: usize,
        key: Key,
        version: Sibling,
        hint: Option<usize>,
    },
    PutAck {
        op: usize,
        key: Key,
    },
    Get {
        op: usize,
        key: Key,
    },
    GetReply {
        op: usize,
        key: Key,
        versions: Vec<Sibling>,
    },
    /// Coordinator to client: the operation's outcome.
    Done {
        op: usize,
        reply: Reply,
    },
    /// Read repair: versions the replica lacked.
    Repair {
        key: Key,
        versions: Vec<Sibling>,
    },
    /// Anti-entropy, step 1: the sender's Merkle tree over the keys both replicas hold.
    Tree {
        tree: anti_entropy::MerkleTree,
    },
    /// Step 2: the receiver's entries in the leaves that differ.
    Diff {
        leaves: Vec<usize>,
        entries: Vec<(Key, Vec<Sibling>)>,
    },
    /// Step 3: the first replica's entries in those leaves.
    Entries {
        entries: Vec<(Key, Vec<Sibling>)>,
    },
    /// Hinted handoff: a fallback hands a write to its home replica.
    Handoff {
        key: Key,
        version: Sibling,
    },
    HandoffAck {
        key: Key,
        dot: versions::Dot,
    },
}

fn row_bytes(row: &Option<Row>) -> u32 {
    row.as_ref().map_or(0, |r| r.iter().map(|(c, v)| c.len() as u32 + v.to_json().to_string().len() as u32).sum())
}

fn versions_bytes(v: &[Sibling]) -> u32 {
    v.iter().map(|s| 16 * (s.vv.len() as u32 + 1) + row_bytes(&s.row) + 8 + if s.ts.is_some() { 8 } else { 0 }).sum()
}

impl Msg {
    pub fn kind(&self) -> MsgKind {
        match self {
            Msg::Coordinate { .. } | Msg::Put { .. } | Msg::Get { .. } => MsgKind::Request,
            Msg::PutAck { .. } | Msg::GetReply { .. } | Msg::Done { .. } => MsgKind::Response,
            Msg::Repair { .. } | Msg::Diff { .. } | Msg::Entries { .. } | Msg::Handoff { .. } => MsgKind::Replicate,
            Msg::Tree { .. } => MsgKind::Fetch,
            Msg::HandoffAck { .. } => MsgKind::Ack,
        }
    }

    pub fn op(&self) -> Option<usize> {
        match self {
            Msg::Coordinate { op, .. }
            | Msg::Put { op, .. }
            | Msg::PutAck { op, .. }
            | Msg::Get { op, .. }
            | Msg::GetReply { op, .. }
            | Msg::Done { op, .. } => Some(*op),
            _ => None,
        }
    }

    pub fn label(&self) -> String {
        match self {
            Msg::Coordinate { req: Req::Get { key }, .. } => format!("get {}", key.label()),
            Msg::Coordinate { req: Req::Put { key, row: None, .. }, .. } => format!("delete {}", key.label()),
            Msg::Coordinate { req: Req::Put { key, .. }, .. } => format!("put {}", key.label()),
            Msg::Put { key, hint: Some(_), .. } => format!("put {} (hint)", key.label()),
            Msg::Put { key, .. } => format!("put {}", key.label()),
            Msg::PutAck { key, .. } => format!("ack {}", key.label()),
            Msg::Get { key, .. } => format!("get {}", key.label()),
            Msg::GetReply { key, versions, .. } => format!("{} × {}", versions.len(), key.label()),
            Msg::Done { reply, .. } => match &reply.error {
                Some(_) => "failed".into(),
                None => "ok".into(),
            },
            Msg::Repair { key, .. } => format!("repair {}", key.label()),
            Msg::Tree { .. } => "merkle tree".into(),
            Msg::Diff { leaves, .. } => format!("diff {} leaves", leaves.len()),
            Msg::Entries { entries } => format!("{} keys", entries.len()),
            Msg::Handoff { key, .. } => format!("handoff {}", key.label()),
            Msg::HandoffAck { key, .. } => format!("handed off {}", key.label()),
        }
    }

    pub fn size_bytes(&self) -> u32 {
        let key = |k: &Key| (k.table.len() + k.pk.len()) as u32;
        let entries = |e: &[(Key, Vec<Sibling>)]| e.iter().map(|(k, v)| key(k) + versions_bytes(v)).sum::<u32>();
        32 + match self {
            Msg::Coordinate { req: Req::Get { key: k }, .. } | Msg::Get { key: k, .. } | Msg::PutAck { key: k, .. } => {
                key(k)
            }
            Msg::Coordinate { req: Req::Put { key: k, row, context, .. }, .. } => {
                key(k) + row_bytes(row) + 16 * context.len() as u32
            }
            Msg::Put { key: k, version, .. } | Msg::Handoff { key: k, version } => {
                key(k) + versions_bytes(std::slice::from_ref(version))
            }
            Msg::GetReply { key: k, versions, .. } | Msg::Repair { key: k, versions } => {
                key(k) + versions_bytes(versions)
            }
            Msg::Done { reply, .. } => versions_bytes(&reply.versions) + 16,
            Msg::Tree { tree } => 8 * tree.hashes() as u32,
            Msg::Diff { leaves, entries: e } => 4 * leaves.len() as u32 + entries(e),
            Msg::Entries { entries: e } => entries(e),
            Msg::HandoffAck { key: k, .. } => key(k) + 16,
        }
    }
}

/// Timers of a replica.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Timer {
    /// The operation this node coordinates has waited long enough for replicas.
    Request {
        op: usize,
    },
    AntiEntropy,
    Handoff,
}

/// A write a fallback node holds for a home replica that was out of reach.
#[derive(Clone, Debug, PartialEq)]
pub struct Hint {
    pub home: usize,
    pub key: Key,
    pub version: Sibling,
}

/// One replica.
#[derive(Clone, Debug)]
pub struct Replica {
    pub index: usize,
    pub id: String,
    pub status: Status,
    pub incarnation: u64,
    // Durable: survives a crash.
    /// Per key, the versions no other descends from (sorted by vector).
    pub data: BTreeMap<Key, Vec<Sibling>>,
    /// Writes held for other replicas (sloppy quorum).
    pub hints: Vec<Hint>,
    /// This node's counter in the version vectors of writes it coordinates.
    pub counter: u64,
    // Volatile: lost at a crash.
    /// Operations this node coordinates, by history index.
    pub coordinating: VecMap<usize, Coordination>,
    /// Anti-entropy rounds started (picks the next peer).
    pub ae_round: u64,
    /// The leaves that differed in this node's last anti-entropy comparison, and with whom (for the inspector).
    pub ae_last: Option<(usize, Vec<usize>)>,
    /// Whether this incarnation has an anti-entropy / handoff timer pending (so a quorum change that turns them on
    /// starts one chain, not two).
    pub ae_armed: bool,
    pub handoff_armed: bool,
    /// This node's clock (`nodes[i].clock`): the timestamps it gives the writes it coordinates under last write wins.
    pub clock: crate::scenario::ClockSpec,
}

/// A clock's reading at true time `now`, µs since the Unix epoch: the run starts at
/// `single_leader::EPOCH_BASE_US`, plus the clock's offset and its drift so far (as every protocol reads a node's
/// clock). A client library's clock is the true time (`ClockSpec::default()`).
pub fn clock_time_us(clock: &crate::scenario::ClockSpec, now: Micros) -> i64 {
    let now = now as i64;
    let drift = (i128::from(now) * i128::from(clock.drift_ppm) / 1_000_000) as i64;
    crate::protocol::single_leader::EPOCH_BASE_US + now + clock.offset_ms * 1_000 + drift
}

impl Replica {
    /// Store a version; returns whether anything changed.
    pub fn store(&mut self, key: &Key, s: &Sibling) -> bool {
        versions::apply(self.data.entry(key.clone()).or_default(), s)
    }

    /// Everything this node holds of a key: its own versions and any hinted ones.
    pub fn versions_of(&self, key: &Key) -> Vec<Sibling> {
        let mut v = self.data.get(key).cloned().unwrap_or_default();
        for h in self.hints.iter().filter(|h| &h.key == key) {
            versions::apply(&mut v, &h.version);
        }
        v
    }

    /// The join of every version this node holds: how far its data goes, per actor.
    pub fn summary(&self) -> Vv {
        self.data.values().fold(Vv::new(), |acc, set| versions::join(&acc, &versions::context(set)))
    }
}

/// What the history and the checkers know of one operation's quorum.
#[derive(Clone, Debug, PartialEq)]
pub struct OpRecord {
    pub key: Key,
    pub write: bool,
    /// The key's home replicas.
    pub home: Vec<usize>,
    /// Replicas the request was sent to (home replicas, then fallbacks).
    pub reached: Vec<usize>,
    /// Replicas that answered, in order.
    pub answered: Vec<usize>,
    /// w or r.
    pub needed: usize,
    /// Whether the quorum was met (None while undecided).
    pub met: Option<bool>,
    /// (fallback, home) pairs of a sloppy quorum's hinted writes.
    pub hinted: Vec<(usize, usize)>,
    /// A write's version (context and dot).
    pub written: Option<Sibling>,
    /// A read's reconciled versions.
    pub returned: Vec<Sibling>,
    /// Siblings the client merged on read (the application's merge rule), and the column.
    pub merged: Option<String>,
}

/// A replica restored from another's copy (`{"restart": …, "restore_from": …}`), and what that cost it.
#[derive(Clone, Debug, PartialEq)]
pub struct Restore {
    pub at: Micros,
    pub node: usize,
    pub from: usize,
    /// The keys whose versions changed: (key, what the node held, what the copy gave it).
    pub changed: Vec<(Key, Vec<Sibling>, Vec<Sibling>)>,
}

impl Restore {
    /// Did this restore take version `v` of `key` from the node (it had `v` or a version descending from it, and
    /// the copy had neither)?
    pub fn took(&self, key: &Key, v: &Sibling) -> bool {
        self.changed.iter().any(|(k, had, kept)| {
            k == key && had.iter().any(|s| s.supersedes(v)) && !kept.iter().any(|s| s.supersedes(v))
        })
    }
}

/// The leaderless cluster: replicas, clients, the ring and what each operation's quorum did.
#[derive(Clone, Debug)]
pub struct Cluster {
    pub nodes: Vec<Replica>,
    pub clients: Vec<clients::Client>,
    pub ring: Ring,
    pub spec: LeaderlessSpec,
    /// Endpoint names: nodes first, then clients.
    pub names: Rc<[Name]>,
    /// An empty database with the scenario's schema: statements run on a copy holding one row.
    pub schema: Rc<Database>,
    /// Per operation (history index), its quorum.
    pub records: VecMap<usize, OpRecord>,
    /// Replicas restored from another's copy, in the order it happened.
    pub restores: Vec<Restore>,
}

impl Cluster {
    pub fn new(scenario: &Scenario, seed: u64, spec: &LeaderlessSpec) -> Result<Self, SetupError> {
        let mut schema =
            Database::with_storage(1, scenario.page_size as usize).map_err(|e| SetupError(e.to_string()))?;
        let mut env = crate::sql::FixedEnv { now_us: 0, rng_state: seed };
        for (k, sql) in scenario.schema.iter().enumerate() {
            schema.execute_autocommit(sql, &mut env).map_err(|e| SetupError(format!("schema[{k}]: {e}")))?;
        }
        for t in schema.table_names() {
            if clients::pk_column(&schema, &t).is_none() {
                return Err(SetupError(format!(
                    "table {t} has no PRIMARY KEY: leaderless replication finds every row by its key"
                )));
            }
        }
        let ids: Vec<Option<&str>> =
            scenario.nodes.iter().map(|n| (n.role == Role::Replica).then_some(n.id.as_str())).collect();
        let nodes = scenario
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| Replica {
                index: i,
                id: n.id.clone(),
                status: Status::Running,
                incarnation: 0,
                data: BTreeMap::new(),
                hints: Vec::new(),
                counter: 0,
                coordinating: VecMap::new(),
                ae_round: 0,
                ae_last: None,
                ae_armed: false,
                handoff_armed: false,
                clock: n.clock,
            })
            .collect();
        let names: Vec<Name> = scenario
            .nodes
            .iter()
            .map(|n| Name::from(n.id.as_str()))
            .chain(scenario.clients.iter().map(|c| Name::from(c.id.as_str())))
            .collect();
        let clients = scenario
            .clients
            .iter()
            .enumerate()
            .map(|(ci, c)| clients::Client::new(c, scenario.nodes.len() + ci, &scenario.nodes))
            .collect();
        Ok(Cluster {
            nodes,
            clients,
            ring: Ring::new(&ids),
            spec: spec.clone(),
            names: names.into(),
            schema: Rc::new(schema),
            records: VecMap::new(),
            restores: Vec::new(),
        })
    }

    pub fn name(&self, e: Endpoint) -> &str {
        match e {
            Endpoint::Node(i) => &self.names[i],
            Endpoint::Client(c) => &self.names[self.nodes.len() + c],
        }
    }

    /// A key's home replicas and, after them, its fallbacks.
    pub fn preference_list(&self, key: &Key) -> Vec<usize> {
        self.ring.preference_list(&key.ring_key())
    }

    pub fn home(&self, key: &Key) -> Vec<usize> {
        let mut p = self.preference_list(key);
        p.truncate(self.spec.n);
        p
    }

    pub fn observe(&self, node: usize) -> Observation {
        let n = &self.nodes[node];
        Observation {
            role: Role::Replica,
            status: n.status,
            version: Version::Vector(n.summary().into_iter().collect()),
            takes_writes: n.status == Status::Running,
            group: 0,
        }
    }

    pub fn crash(&mut self, node: usize) {
        let n = &mut self.nodes[node];
        n.status = Status::Crashed;
        n.incarnation += 1;
        n.coordinating.clear();
        n.ae_last = None;
        n.ae_armed = false;
        n.handoff_armed = false;
    }

    /// A crashed replica's disk is replaced by a copy of `from`'s data (the edge case of DDIA 5.4 where a node that
    /// carried a new value is restored from a replica carrying an old one): whatever it had stored that the copy
    /// lacks is gone, so a write may now live on fewer than w replicas. Its hints went with its disk. Its own
    /// counter is kept (as Riak gives a restored node a fresh actor id), so its next writes never reuse a dot.
    /// Returns false (nothing changed) unless `node` is a crashed replica and `from` another replica.
    pub fn restore(&mut self, node: usize, from: usize, now: Micros) -> bool {
        if node == from || from >= self.nodes.len() || self.nodes.get(node).is_none_or(|n| n.status != Status::Crashed)
        {
            return false;
        }
        let copy = self.nodes[from].data.clone();
        let changed: Vec<(Key, Vec<Sibling>, Vec<Sibling>)> = self.nodes[node]
            .data
            .iter()
            .filter(|(k, had)| copy.get(*k) != Some(*had))
            .map(|(k, had)| (k.clone(), had.clone(), copy.get(k).cloned().unwrap_or_default()))
            .collect();
        let n = &mut self.nodes[node];
        n.data = copy;
        n.hints.clear();
        n.ae_last = None;
        self.restores.push(Restore { at: now, node, from, changed });
        true
    }

    /// The restore (if any) at or after `since` and before `until` that took version `v` of `key` from `node`.
    pub fn restore_lost(&self, node: usize, key: &Key, v: &Sibling, since: Micros, until: Micros) -> Option<&Restore> {
        self.restores.iter().find(|r| r.node == node && r.at >= since && r.at < until && r.took(key, v))
    }

    pub fn on_start(&mut self, node: usize, now: Micros) -> Vec<Action> {
        let mut out = Vec::new();
        self.arm_timers(node, now, &mut out);
        out
    }

    /// Start the background timers the settings call for and this node does not have running yet.
    fn arm_timers(&mut self, node: usize, now: Micros, out: &mut Vec<Action>) {
        let n = &mut self.nodes[node];
        if self.spec.anti_entropy_ms > 0 && !n.ae_armed {
            n.ae_armed = true;
            out.push(timer(node, after(now, ms(self.spec.anti_entropy_ms)), Timer::AntiEntropy));
        }
        if self.spec.sloppy_quorum && !n.handoff_armed {
            n.handoff_armed = true;
            out.push(timer(node, after(now, ms(self.spec.handoff_ms)), Timer::Handoff));
        }
    }

    pub fn on_message(&mut self, node: usize, now: Micros, from: Endpoint, msg: Msg) -> Vec<Action> {
        let mut out = Vec::new();
        let me = Endpoint::Node(node);
        match msg {
            Msg::Coordinate { op, req } => {
                let Endpoint::Client(client) = from else { return out };
                // A request the network duplicated is the same operation, taken once (over a real transport its
                // request id makes it idempotent). Coordinated twice, a write would get two versions (two dots):
                // siblings of itself, and a record naming a version its acknowledgements were not for.
                if self.records.contains_key(&op) {
                    return out;
                }
                self.coordinate_at_node(node, client, op, req, now, &mut out);
            }
            Msg::Put { op, key, version, hint } => {
                match hint {
                    Some(home) => sloppy::keep_hint(&mut self.nodes[node], home, &key, &version),
                    None => {
                        self.nodes[node].store(&key, &version);
                    }
                }
                out.push(send(me, from, Msg::PutAck { op, key }));
            }
            Msg::Get { op, key } => {
                let versions = self.nodes[node].versions_of(&key);
                out.push(send(me, from, Msg::GetReply { op, key, versions }));
            }
            Msg::PutAck { op, .. } => self.answer_at_node(node, op, Endpoint::Node(node), from, None, now, &mut out),
            Msg::GetReply { op, versions, .. } => {
                self.answer_at_node(node, op, Endpoint::Node(node), from, Some(versions), now, &mut out)
            }
            Msg::Repair { key, versions } => {
                for v in &versions {
                    self.nodes[node].store(&key, v);
                }
            }
            Msg::Tree { tree } => {
                let Endpoint::Node(peer) = from else { return out };
                out.extend(anti_entropy::on_tree(self, node, peer, &tree));
            }
            Msg::Diff { leaves, entries } => {
                let Endpoint::Node(peer) = from else { return out };
                out.extend(anti_entropy::on_diff(self, node, peer, &leaves, entries));
            }
            Msg::Entries { entries } => {
                for (k, vs) in entries {
                    for v in &vs {
                        self.nodes[node].store(&k, v);
                    }
                }
            }
            Msg::Handoff { key, version } => {
                self.nodes[node].store(&key, &version);
                out.push(send(me, from, Msg::HandoffAck { key, dot: version.dot }));
            }
            Msg::HandoffAck { key, dot } => {
                let Endpoint::Node(home) = from else { return out };
                sloppy::drop_hint(&mut self.nodes[node], home, &key, dot);
            }
            Msg::Done { .. } => {}
        }
        out
    }

    pub fn on_timer(&mut self, node: usize, now: Micros, t: Timer) -> Vec<Action> {
        let mut out = Vec::new();
        match t {
            Timer::Request { op } => self.deadline_at_node(node, op, now, &mut out),
            // Turned off by a quorum change: the chain ends (a later change starts a new one).
            Timer::AntiEntropy if self.spec.anti_entropy_ms == 0 => self.nodes[node].ae_armed = false,
            Timer::AntiEntropy => {
                out.extend(anti_entropy::start_round(self, node));
                out.push(timer(node, after(now, ms(self.spec.anti_entropy_ms)), Timer::AntiEntropy));
            }
            // Hints already kept are still handed off after sloppy quorums are turned off.
            Timer::Handoff if !self.spec.sloppy_quorum && self.nodes[node].hints.is_empty() => {
                self.nodes[node].handoff_armed = false
            }
            Timer::Handoff => {
                out.extend(sloppy::hand_off(self, node));
                out.push(timer(node, after(now, ms(self.spec.handoff_ms)), Timer::Handoff));
            }
        }
        out
    }

    /// Leaderless runs have no membership changes or failovers; blind writes are client operations; a quorum
    /// change replaces the settings from now on (an invalid one is ignored: the page refuses it before).
    pub fn command(&mut self, command: &Command, op: usize, now: Micros) -> CommandOutcome {
        match command {
            Command::Quorum(q) => {
                let replicas = self.nodes.len();
                let Ok(spec) = q.applied_to(&self.spec, replicas) else { return CommandOutcome::Ignored };
                self.spec = spec;
                let mut out = Vec::new();
                for i in 0..self.nodes.len() {
                    if matches!(self.nodes[i].status, Status::Running | Status::Paused) {
                        self.arm_timers(i, now, &mut out);
                    }
                }
                CommandOutcome::Actions(out)
            }
            Command::BlindSql { client, sql } => {
                let Some(ci) = self.clients.iter().position(|c| &c.id == client) else {
                    return CommandOutcome::Ignored;
                };
                let routed = self.client_request_with(ci, op, sql, now, true);
                CommandOutcome::Operation { client: ci, sql: sql.clone(), routed }
            }
            _ => CommandOutcome::Ignored,
        }
    }

    pub fn client_request(&mut self, ci: usize, op: usize, sql: &str, now: Micros) -> Routed {
        self.client_request_with(ci, op, sql, now, false)
    }

    pub fn on_client_timeout(&mut self, client: usize, _entry: &HistoryEntry, op: usize) {
        self.clients[client].coordinating.remove(&op);
        if let Some(r) = self.records.get_mut(&op) {
            if r.met.is_none() {
                r.met = Some(false);
            }
        }
    }

    /// Rows of every table as the report lists them: each key's live versions, siblings as rows of their own.
    pub fn tables_json(&self, node: usize) -> Map<String, Json> {
        let mut out = Map::new();
        for t in self.schema.table_names() {
            let lower = t.to_ascii_lowercase();
            let rows: Vec<Json> = self.nodes[node]
                .data
                .iter()
                .filter(|(k, _)| k.table == lower)
                .flat_map(|(_, set)| set.iter().filter_map(|s| s.row.as_ref()))
                .map(|row| Json::Object(row.iter().map(|(c, v)| (c.clone(), v.to_json())).collect()))
                .collect();
            out.insert(t, Json::Array(rows));
        }
        out
    }

    /// The report's extra fields of a node: its hints and how many keys have siblings.
    pub fn node_json(&self, node: usize, m: &mut Map<String, Json>) {
        let n = &self.nodes[node];
        let names: Vec<&str> = self.names.iter().map(|n| &**n).collect();
        let hints: Vec<Json> = n
            .hints
            .iter()
            .map(|h| json!({"for": self.nodes[h.home].id, "key": h.key.label(), "vv": versions::label(&h.version.clock(), &names)}))
            .collect();
        m.insert("hints".into(), Json::Array(hints));
        let siblings = n.data.values().filter(|s| s.iter().filter(|v| !v.is_tombstone()).count() > 1).count();
        m.insert("keys_with_siblings".into(), json!(siblings));
        m.insert("version".into(), json!(versions::label(&n.summary(), &names)));
    }

    /// The quorum of an operation, for the report's history.
    pub fn quorum_json(&self, op: usize) -> Option<Json> {
        let r = self.records.get(&op)?;
        let id = |i: &usize| json!(self.nodes[*i].id);
        let names: Vec<&str> = self.names.iter().map(|n| &**n).collect();
        let mut m = Map::new();
        m.insert("key".into(), json!(r.key.label()));
        m.insert("home".into(), Json::Array(r.home.iter().map(id).collect()));
        m.insert("reached".into(), Json::Array(r.reached.iter().map(id).collect()));
        m.insert("answered".into(), Json::Array(r.answered.iter().map(id).collect()));
        m.insert(if r.write { "w" } else { "r" }.into(), json!(r.needed));
        m.insert("met".into(), json!(r.met.unwrap_or(false)));
        if !r.hinted.is_empty() {
            let h: Vec<Json> = r
                .hinted
                .iter()
                .map(|(f, h)| json!({"fallback": self.nodes[*f].id, "for": self.nodes[*h].id}))
                .collect();
            m.insert("hinted".into(), Json::Array(h));
        }
        if let Some(w) = &r.written {
            m.insert("vv".into(), json!(versions::label(&w.clock(), &names)));
        }
        if !r.write {
            let vs: Vec<Json> = r.returned.iter().map(|s| json!(versions::label(&s.clock(), &names))).collect();
            m.insert("versions".into(), Json::Array(vs));
        }
        if let Some(c) = &r.merged {
            m.insert("merged".into(), json!(c));
        }
        Some(Json::Object(m))
    }
}

pub(crate) fn send(from: Endpoint, to: Endpoint, msg: Msg) -> Action {
    Action::Send { from, to, msg: Message::Leaderless(msg), delay: 0 }
}

pub(crate) fn timer(node: usize, at: Micros, t: Timer) -> Action {
    Action::SetTimer { node, at, timer: AnyTimer::Leaderless(t) }
}
