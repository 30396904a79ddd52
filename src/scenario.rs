//! The scenario file: what a run starts from. JSON, documented in docs/scenario-format.md. Parsing validates every
//! field and names the one that is wrong (`nodes[2].clock.drift_ppm: expected an integer`); it never panics.
//! `to_json` writes the same shape back, so a scenario survives a share link unchanged.

use serde_json::{json, Map, Value};

use crate::world::time::{ms, Micros, US_PER_MS};

#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    pub version: u32,
    pub seed: u64,
    pub until_ms: u64,
    pub title: Option<String>,
    pub narration: Option<String>,
    pub nodes: Vec<NodeSpec>,
    pub replication: ReplicationSpec,
    pub failover: FailoverSpec,
    pub network: NetworkSpec,
    pub clients: Vec<ClientSpec>,
    pub schema: Vec<String>,
    pub workload: Vec<TimedCommand>,
    pub faults: Vec<TimedCommand>,
    /// A partitioned database: groups of replicas, each with its own leader, replicating independently. Empty:
    /// one group of all replicas.
    pub partitions: Vec<PartitionSpec>,
    /// Partitioned tables: table -> partition key column (rows spread by a hash of the key).
    pub partition_key: std::collections::BTreeMap<String, String>,
    /// Bytes per storage page on every node (small, so pages can be drawn).
    pub page_size: u32,
    /// Concurrency control of every node's engine: row locks (InnoDB-like) instead of SQLite's single writer.
    pub row_locking: bool,
    /// Several leaders (DDIA 5.3): datacenters, topology, conflict resolution (`protocol::multi_leader::spec`).
    pub multi_leader: Option<crate::protocol::multi_leader::spec::MultiLeaderSpec>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct PartitionSpec {
    pub id: String,
    pub nodes: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Leader,
    Follower,
    /// An external key-value cache keyed by primary key (not a database replica).
    Cache,
    /// A failover controller that watches the leader and appoints a new one (not a database replica).
    Controller,
    /// Trigger-based replication's replicator process: polls the leader's changes table and applies to targets.
    Replicator,
    /// A change-data-capture consumer: an external search index fed by the leader's log (or by the replicator).
    Cdc,
    /// A leaderless (Dynamo-style) replica: takes reads and writes for the keys it is a home of.
    Replica,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Leader => "leader",
            Role::Follower => "follower",
            Role::Cache => "cache",
            Role::Controller => "controller",
            Role::Replicator => "replicator",
            Role::Cdc => "cdc",
            Role::Replica => "replica",
        }
    }

    /// Leaders and followers hold the database and take part in replication and elections.
    pub fn is_replica(self) -> bool {
        matches!(self, Role::Leader | Role::Follower)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct NodeSpec {
    pub id: String,
    pub role: Role,
    pub clock: ClockSpec,
    /// Extra delay before a follower applies what it received: models a slow or overloaded replica.
    pub apply_delay_ms: u64,
    /// The on-disk format this node's storage engine writes (1 or 2).
    pub storage_format: u8,
    /// A CDC consumer's search index: the table and text column it indexes.
    pub index: Option<(String, String)>,
}

impl NodeSpec {
    pub fn new(id: &str, role: Role) -> Self {
        NodeSpec {
            id: id.to_string(),
            role,
            clock: ClockSpec::default(),
            apply_delay_ms: 0,
            storage_format: 1,
            index: None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct ClockSpec {
    pub offset_ms: i64,
    pub drift_ppm: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Async,
    Sync,
    SemiSync,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Async => "async",
            Mode::Sync => "sync",
            Mode::SemiSync => "semi-sync",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogKind {
    Statement,
    Wal,
    Logical,
    Trigger,
}

impl LogKind {
    pub fn name(self) -> &'static str {
        match self {
            LogKind::Statement => "statement",
            LogKind::Wal => "wal",
            LogKind::Logical => "logical",
            LogKind::Trigger => "trigger",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct ReplicationSpec {
    pub mode: Mode,
    pub log: LogKind,
    /// How often the leader sends heartbeats (and retransmits to followers that are behind).
    pub heartbeat_ms: u64,
    /// Statement-based only: the leader replaces NOW()/RAND()/UUID() with the values it used.
    pub statement_substitution: bool,
    /// Semi-sync: when the synchronous follower has not confirmed anything for this long while writes wait,
    /// the leader makes the most up-to-date asynchronous follower synchronous instead.
    pub semi_sync_timeout_ms: u64,
    /// How many log entries the leader keeps; a follower further behind needs a new snapshot.
    pub log_retention: u64,
    /// MySQL's MIXED format: a transaction with an unsafe (nondeterministic) statement ships row images instead.
    pub statement_mixed: bool,
    pub trigger: TriggerSpec,
    /// Leaderless replication (DDIA 5.4) instead of a leader: quorums, read repair, anti-entropy, hinted handoff.
    pub leaderless: Option<crate::protocol::leaderless::spec::LeaderlessSpec>,
}

/// Trigger-based replication: what the replicator copies, and how often it looks.
#[derive(Clone, Debug, PartialEq)]
pub struct TriggerSpec {
    pub poll_ms: u64,
    /// Most changes fetched per poll.
    pub batch: u32,
    /// Tables to replicate (lower case); empty: every table.
    pub tables: Vec<String>,
    /// Row filters: table -> SQL condition a row must meet to be copied.
    pub row_filter: std::collections::BTreeMap<String, String>,
}

impl Default for TriggerSpec {
    fn default() -> Self {
        TriggerSpec { poll_ms: 100, batch: 20, tables: Vec::new(), row_filter: std::collections::BTreeMap::new() }
    }
}

impl TriggerSpec {
    /// Does the replicator copy this table? Internal tables (a leading `_`) never.
    pub fn includes(&self, table: &str) -> bool {
        !table.starts_with('_') && (self.tables.is_empty() || self.tables.iter().any(|t| t.eq_ignore_ascii_case(table)))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]

pub enum Election {
    /// The remaining replicas vote; a replica only votes for a candidate at least as up to date as itself.
    MostUpToDate,
    /// A controller node appoints the most up-to-date reachable follower.
    Controller,
}

impl Election {
    pub fn name(self) -> &'static str {
        match self {
            Election::MostUpToDate => "most-up-to-date",
            Election::Controller => "controller",
        }
    }
}

/// What a leader does when it learns that another node also acts as leader (a split-brain guard).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TwoLeaders {
    /// Nothing: both go on accepting writes.
    Ignore,
    /// The leader of the older epoch (or, without epochs, the one that was leader first) shuts itself down.
    ShutdownOlder,
    /// The bad design: every leader that sees another shuts itself down, so both go, and nobody leads.
    ShutdownBoth,
}

impl TwoLeaders {
    pub fn name(self) -> &'static str {
        match self {
            TwoLeaders::Ignore => "ignore",
            TwoLeaders::ShutdownOlder => "shutdown-older",
            TwoLeaders::ShutdownBoth => "shutdown-both",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FailoverSpec {
    /// Followers (or the controller) detect a dead leader by heartbeat timeout and elect a new one.
    pub auto: bool,
    pub timeout_ms: u64,
    pub election: Election,
    /// Every leader-era message carries the epoch (term); a node that sees a newer epoch steps down.
    pub epochs: bool,
    /// Replicas refuse replication stamped with an older fencing token (epoch) than one they have seen.
    pub fencing: bool,
    pub two_leaders: TwoLeaders,
    /// How long clients take to learn of a new leader (service discovery), on top of network delay.
    pub discovery_ms: u64,
}

impl Default for FailoverSpec {
    fn default() -> Self {
        FailoverSpec {
            auto: false,
            timeout_ms: 500,
            election: Election::MostUpToDate,
            epochs: true,
            fencing: false,
            two_leaders: TwoLeaders::Ignore,
            discovery_ms: 100,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct NetworkSpec {
    pub latency_min_ms: u64,
    pub latency_max_ms: u64,
    pub loss: f64,
    pub duplicate: f64,
    pub reorder: f64,
    /// Links that differ from the settings above (a follower in another region, a flaky cable). Applied in order;
    /// each entry changes only the fields it sets.
    pub links: Vec<LinkSpec>,
}

impl Default for NetworkSpec {
    fn default() -> Self {
        NetworkSpec {
            latency_min_ms: 5,
            latency_max_ms: 20,
            loss: 0.0,
            duplicate: 0.0,
            reorder: 0.0,
            links: Vec::new(),
        }
    }
}

/// One link's own settings: `between` two endpoints (both directions) or `from` one `to` another.
#[derive(Clone, Debug, PartialEq)]
pub struct LinkSpec {
    pub from: String,
    pub to: String,
    pub both_ways: bool,
    /// (min, max) milliseconds.
    pub latency_ms: Option<(u64, u64)>,
    pub loss: Option<f64>,
    pub duplicate: Option<f64>,
    pub reorder: Option<f64>,
}

impl LinkSpec {
    /// `n1-n3` or `n1->n3`.
    pub fn name(&self) -> String {
        [self.from.as_str(), if self.both_ways { "-" } else { "->" }, &self.to].concat()
    }

    pub fn applies(&self, from: &str, to: &str) -> bool {
        (self.from == from && self.to == to) || (self.both_ways && self.from == to && self.to == from)
    }
}

/// How a message between two endpoints travels: the network's settings with the matching link entries applied.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LinkParams {
    pub latency_min_ms: u64,
    pub latency_max_ms: u64,
    pub loss: f64,
    pub duplicate: f64,
    pub reorder: f64,
}

impl NetworkSpec {
    /// The settings of a link no entry of `links` names.
    pub fn base(&self) -> LinkParams {
        LinkParams {
            latency_min_ms: self.latency_min_ms,
            latency_max_ms: self.latency_max_ms,
            loss: self.loss,
            duplicate: self.duplicate,
            reorder: self.reorder,
        }
    }

    pub fn params(&self, from: &str, to: &str) -> LinkParams {
        let mut p = self.base();
        for l in self.links.iter().filter(|l| l.applies(from, to)) {
            if let Some((min, max)) = l.latency_ms {
                (p.latency_min_ms, p.latency_max_ms) = (min, max);
            }
            p.loss = l.loss.unwrap_or(p.loss);
            p.duplicate = l.duplicate.unwrap_or(p.duplicate);
            p.reorder = l.reorder.unwrap_or(p.reorder);
        }
        p
    }
}

/// Where a client sends its reads (writes always go to the leader). DDIA 5.2's policies and their fixes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// Every read from the leader: never stale, all load on one node.
    Leader,
    /// Any replica, chosen at random for each read.
    Random,
    /// Always the same replica, chosen by a hash of the user id (monotonic reads); rerouted if it stops answering.
    Sticky,
    /// Data the user can edit (rows whose owner column is the user) from the leader, the rest from followers.
    OwnFromLeader,
    /// Everything from the leader for `window_ms` after the user's last write, then from followers.
    LeaderWindow,
    /// The client remembers the LSN of its (or, with `share_token`, its user's) last write; a replica that has not
    /// reached it waits a little, then passes the read to the leader.
    LsnToken,
    /// Followers that are more than `max_lag_ms` behind pass the read to the leader.
    MaxLag,
}

impl Route {
    pub const ALL: [Route; 7] = [
        Route::Leader,
        Route::Random,
        Route::Sticky,
        Route::OwnFromLeader,
        Route::LeaderWindow,
        Route::LsnToken,
        Route::MaxLag,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Route::Leader => "leader",
            Route::Random => "random",
            Route::Sticky => "sticky",
            Route::OwnFromLeader => "own-from-leader",
            Route::LeaderWindow => "leader-window",
            Route::LsnToken => "lsn-token",
            Route::MaxLag => "max-lag",
        }
    }
}

impl ClientSpec {
    /// A client with the defaults a scenario file gets when it only names the id.
    pub fn new(id: &str) -> Self {
        ClientSpec {
            id: id.to_string(),
            route: Route::Leader,
            user: None,
            timeout_ms: 1000,
            cache: None,
            window_ms: 1000,
            max_lag_ms: 100,
            share_token: false,
            owner_column: "owner".to_string(),
            leaderless: crate::protocol::leaderless::spec::ClientOptions::default(),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct ClientSpec {
    pub id: String,
    pub route: Route,
    pub user: Option<String>,
    /// A client gives up on an operation after this long and records it as failed (outcome unknown).
    pub timeout_ms: u64,
    /// The id of a cache node the application writes each inserted row to (keyed by table and primary key).
    pub cache: Option<String>,
    /// `leader-window`: how long after the user's last write reads stay on the leader.
    pub window_ms: u64,
    /// `max-lag`: the most a follower may be behind and still serve the read.
    pub max_lag_ms: u64,
    /// `lsn-token`: the user's devices share the token of the last write (cross-device read-after-write).
    pub share_token: bool,
    /// `own-from-leader`: the column that says who owns a row.
    pub owner_column: String,
    /// Leaderless replication: who coordinates the client's operations, and how it merges siblings.
    pub leaderless: crate::protocol::leaderless::spec::ClientOptions,
}

/// Something that happens at a moment of a run: a client statement, a fault, a network change.
/// Scenario workload and faults, and what a person does in the playground, are all timed commands.
#[derive(Clone, Debug, PartialEq)]
pub struct TimedCommand {
    pub at: Micros,
    pub command: Command,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    Sql {
        client: String,
        sql: String,
    },
    Crash(String),
    Restart(String),
    /// Leaderless: a crashed replica comes back with its disk replaced by a copy of another replica's data (a
    /// restore from the wrong, older copy: DDIA 5.4's "a node carrying a new value fails, and its data is restored
    /// from a replica carrying an old value"). `{"restart": "b", "restore_from": "c"}`.
    Restore {
        node: String,
        from: String,
    },
    Pause {
        node: String,
        for_ms: Option<u64>,
    },
    Resume(String),
    /// Nodes (or clients) in different groups cannot reach each other; `one_way`: only from earlier to later groups.
    Partition {
        groups: Vec<Vec<String>>,
        one_way: bool,
    },
    /// Cut the link between two endpoints, both directions.
    CutLink(String, String),
    HealLink(String, String),
    HealAll,
    SetNetwork(NetworkSpec),
    /// A new follower joins: from a consistent snapshot tied to a log position, or (the wrong way) by copying
    /// the leader's data files while writes go on. `group`: the partition it joins, by the partition's id (none:
    /// the first); it copies that group's leader and follows it.
    AddNode {
        id: String,
        copy: CopyMethod,
        group: Option<String>,
    },
    /// Planned failover: the current leader hands over to this follower.
    FailoverTo(String),
    /// The application reads a key through the cache (`table:id`).
    CacheGet {
        client: String,
        key: String,
    },
    /// A rolling upgrade's step: the node restarts running another storage format and rewrites its pages in it.
    Upgrade {
        node: String,
        format: u8,
    },
    /// Leaderless replication: a write without the context of an earlier read (`"blind": true`).
    BlindSql {
        client: String,
        sql: String,
    },
    /// Multi-leader (DDIA 5.3): the leaders' topology changes (by hand, e.g. a ring routed around a failed node).
    Reconfigure {
        topology: String,
        ring: Vec<String>,
        hub: Option<String>,
    },
    /// Multi-leader: a user's home leader changes (the user moved).
    Move {
        client: String,
        leader: String,
    },
    /// A device (node or client) loses every link / regains them (DDIA 5.3's offline clients).
    Offline(String),
    Online(String),
    /// Leaderless: new quorum settings (n, w, r, read repair, anti-entropy, sloppy quorum) from this moment.
    Quorum(crate::protocol::leaderless::spec::QuorumChange),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CopyMethod {
    Snapshot,
    FileCopy,
}

impl CopyMethod {
    pub fn name(self) -> &'static str {
        match self {
            CopyMethod::Snapshot => "snapshot",
            CopyMethod::FileCopy => "file-copy",
        }
    }
}

impl Command {
    /// Short text for timeline markers and the trace.
    pub fn label(&self) -> String {
        match self {
            Command::Sql { client, sql } => format!("{client}: {sql}"),
            Command::Crash(n) => format!("crash {n}"),
            Command::Restart(n) => format!("restart {n}"),
            Command::Restore { node, from } => format!("restart {node} restored from {from}"),
            Command::Pause { node, for_ms: Some(d) } => format!("pause {node} for {d}ms"),
            Command::Pause { node, for_ms: None } => format!("pause {node}"),
            Command::Resume(n) => format!("resume {n}"),
            Command::Partition { groups, one_way } => {
                let g: Vec<String> = groups.iter().map(|g| g.join(",")).collect();
                format!("{} {}", if *one_way { "one-way cut" } else { "partition" }, g.join(" | "))
            }
            Command::CutLink(a, b) => format!("cut {a}-{b}"),
            Command::HealLink(a, b) => format!("heal {a}-{b}"),
            Command::HealAll => "heal all".to_string(),
            Command::SetNetwork(n) => {
                let mut s = format!("network {}-{}ms loss {}", n.latency_min_ms, n.latency_max_ms, n.loss);
                for l in &n.links {
                    s.push_str(&[", ", &l.name()].concat());
                    if let Some((min, max)) = l.latency_ms {
                        s.push_str(&format!(" {min}-{max}ms"));
                    }
                    if let Some(p) = l.loss {
                        s.push_str(&format!(" loss {p}"));
                    }
                }
                s
            }
            Command::AddNode { id, copy, group: None } => format!("add {id} ({})", copy.name()),
            Command::AddNode { id, copy, group: Some(g) } => format!("add {id} to {g} ({})", copy.name()),
            Command::FailoverTo(n) => format!("failover to {n}"),
            Command::CacheGet { client, key } => format!("{client}: cache get {key}"),
            Command::Upgrade { node, format } => format!("upgrade {node} to format {format}"),
            Command::BlindSql { client, sql } => format!("{client}: {sql} (blind)"),
            Command::Reconfigure { topology, ring, hub } => match (ring.is_empty(), hub) {
                (false, _) => format!("reconfigure {topology} {}", ring.join(">")),
                (true, Some(h)) => format!("reconfigure {topology} around {h}"),
                (true, None) => format!("reconfigure {topology}"),
            },
            Command::Move { client, leader } => format!("move {client} to {leader}"),
            Command::Offline(n) => format!("{n} offline"),
            Command::Online(n) => format!("{n} online"),
            Command::Quorum(q) => q.label(),
        }
    }

    pub fn is_fault(&self) -> bool {
        !matches!(self, Command::Sql { .. } | Command::CacheGet { .. } | Command::BlindSql { .. })
    }
}

/// A validation error: the JSON path of the offending field and what was expected there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioError {
    pub path: String,
    pub message: String,
}

impl std::fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

impl std::error::Error for ScenarioError {}

type Res<T> = Result<T, ScenarioError>;

fn err<T>(path: &str, message: impl Into<String>) -> Res<T> {
    Err(ScenarioError { path: path.to_string(), message: message.into() })
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Field access with paths; unknown keys are rejected so typos do not pass silently.
struct Obj<'a> {
    map: &'a Map<String, Value>,
    path: String,
}

impl<'a> Obj<'a> {
    fn new(v: &'a Value, path: &str) -> Res<Self> {
        match v {
            Value::Object(map) => Ok(Obj { map, path: path.to_string() }),
            other => err(path, format!("expected an object, found {}", type_name(other))),
        }
    }
    fn only(&self, allowed: &[&str]) -> Res<()> {
        for k in self.map.keys() {
            if !allowed.contains(&k.as_str()) {
                return err(&join(&self.path, k), format!("unknown field (expected one of: {})", allowed.join(", ")));
            }
        }
        Ok(())
    }
    fn at(&self, key: &str) -> String {
        join(&self.path, key)
    }
    fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }
    fn u64_or(&self, key: &str, default: u64) -> Res<u64> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => as_u64(v, &self.at(key)),
        }
    }
    fn i64_or(&self, key: &str, default: i64) -> Res<i64> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v.as_i64().map_or_else(|| err(&self.at(key), expected_int(v)), Ok),
        }
    }
    fn prob_or(&self, key: &str, default: f64) -> Res<f64> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => match v.as_f64() {
                Some(p) if (0.0..=1.0).contains(&p) => Ok(p),
                Some(p) => err(&self.at(key), format!("expected a probability between 0 and 1, found {p}")),
                None => err(&self.at(key), format!("expected a number, found {}", type_name(v))),
            },
        }
    }
    fn bool_or(&self, key: &str, default: bool) -> Res<bool> {
        match self.get(key) {
            None => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(v) => err(&self.at(key), format!("expected true or false, found {}", type_name(v))),
        }
    }
    fn str_req(&self, key: &str) -> Res<&'a str> {
        match self.get(key) {
            None => err(&self.at(key), "required field is missing"),
            Some(v) => as_str(v, &self.at(key)),
        }
    }
    fn str_opt(&self, key: &str) -> Res<Option<&'a str>> {
        self.get(key).map(|v| as_str(v, &self.at(key))).transpose()
    }
    fn arr_or_empty(&self, key: &str) -> Res<&'a [Value]> {
        match self.get(key) {
            None => Ok(&[]),
            Some(Value::Array(a)) => Ok(a),
            Some(v) => err(&self.at(key), format!("expected an array, found {}", type_name(v))),
        }
    }
}

fn expected_int(v: &Value) -> String {
    format!("expected an integer, found {}", describe(v))
}

fn describe(v: &Value) -> String {
    match v {
        Value::Number(n) => format!("{n}"),
        Value::String(s) => format!("the string {s:?}"),
        other => type_name(other).to_string(),
    }
}

fn as_u64(v: &Value, path: &str) -> Res<u64> {
    v.as_u64().map_or_else(|| err(path, format!("expected a non-negative integer, found {}", describe(v))), Ok)
}

fn as_str<'a>(v: &'a Value, path: &str) -> Res<&'a str> {
    v.as_str().map_or_else(|| err(path, format!("expected a string, found {}", type_name(v))), Ok)
}

fn enum_of<T: Copy>(v: &str, path: &str, options: &[(&str, T)]) -> Res<T> {
    options.iter().find(|(name, _)| *name == v).map(|(_, t)| *t).map_or_else(
        || {
            let names: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
            err(path, format!("expected one of {}, found {v:?}", names.join(" | ")))
        },
        Ok,
    )
}

/// Upper bounds keep a hand-edited or hostile file from asking for an unbounded run.
pub const MAX_NODES: usize = 16;
pub const MAX_CLIENTS: usize = 32;
pub const MAX_UNTIL_MS: u64 = 3_600_000;
/// Multi-leader scenarios may run 48 hours simulated: a device offline for hours (DDIA 5.3's calendar).
pub const MAX_UNTIL_MS_MULTI_LEADER: u64 = 48 * 3_600_000;
pub const MAX_COMMANDS: usize = 200_000;
/// Longest client statement, in bytes of UTF-8 (characters, for ASCII). The playground's SQL input enforces the
/// same bound with [`check_statement`], so a person cannot make a share link that the decoder refuses.
pub const MAX_STATEMENT_LEN: usize = 10_000;

/// Whether a client statement is short enough for a scenario or a share link; the error says by how much not.
pub fn check_statement(sql: &str) -> Result<(), String> {
    if sql.len() > MAX_STATEMENT_LEN {
        return Err(format!("statement longer than {MAX_STATEMENT_LEN} bytes ({} bytes)", sql.len()));
    }
    Ok(())
}

/// Nodes that `add_node` commands bring in count against `MAX_NODES` with the scenario's own: `commands` are
/// (JSON path, command) in list order, and the error names the first `add_node` past the limit. (A trigger
/// scenario's automatic replicator may already stand one above it; added nodes may not take the run further.)
pub fn check_added_nodes<'a>(
    nodes: &[NodeSpec],
    commands: impl IntoIterator<Item = (String, &'a TimedCommand)>,
) -> Res<()> {
    let limit = MAX_NODES.max(nodes.len());
    let mut added: Vec<&str> = Vec::new();
    for (path, c) in commands {
        if let Command::AddNode { id, .. } = &c.command {
            if !added.contains(&id.as_str()) && !nodes.iter().any(|n| &n.id == id) {
                added.push(id);
                if nodes.len() + added.len() > limit {
                    return err(
                        &format!("{path}.add_node"),
                        format!("at most {MAX_NODES} nodes in a run, counting those added by add_node commands"),
                    );
                }
            }
        }
    }
    Ok(())
}
pub const DEFAULT_LOG_RETENTION: u64 = 1_000_000;

impl Scenario {
    pub fn from_json_str(text: &str) -> Res<Scenario> {
        let v: Value = serde_json::from_str(text)
            .map_err(|e| ScenarioError { path: String::new(), message: format!("not valid JSON: {e}") })?;
        Scenario::from_value(&v)
    }

    pub fn from_value(v: &Value) -> Res<Scenario> {
        let o = Obj::new(v, "")?;
        o.only(&[
            "version",
            "seed",
            "until_ms",
            "title",
            "narration",
            "nodes",
            "replication",
            "failover",
            "network",
            "clients",
            "schema",
            "workload",
            "faults",
            "partitions",
            "partition_key",
            "page_size",
            "locking",
        ])?;
        let version = o.u64_or("version", 1)?;
        if version != 1 {
            return err("version", format!("this build reads version 1, found {version}"));
        }
        let until_ms = o.u64_or("until_ms", 2000)?;
        if until_ms == 0 || until_ms > MAX_UNTIL_MS_MULTI_LEADER {
            return err(
                "until_ms",
                format!(
                    "expected 1..={MAX_UNTIL_MS} (multi-leader: up to {MAX_UNTIL_MS_MULTI_LEADER}), found {until_ms}"
                ),
            );
        }
        let partitions_v = o.arr_or_empty("partitions")?;
        let leaderless = o.get("replication").and_then(|r| r.get("leaderless")).is_some_and(|l| !l.is_null());
        let mut nodes = parse_nodes(o.arr_or_empty("nodes")?, !partitions_v.is_empty(), leaderless)?;
        let partitions = parse_partitions(partitions_v, &nodes)?;
        if !partitions.is_empty() && nodes.iter().any(|n| n.role == Role::Controller) {
            // The controller watches one replication group; several would need one controller each.
            return err("partitions", "a controller node cannot be combined with partitions in this version");
        }
        let mut partition_key = std::collections::BTreeMap::new();
        if let Some(v) = o.get("partition_key") {
            let k = Obj::new(v, "partition_key")?;
            for (table, col) in k.map {
                partition_key.insert(table.to_ascii_lowercase(), as_str(col, &k.at(table))?.to_ascii_lowercase());
            }
        }
        let mut replication = parse_replication(o.get("replication"))?;
        if !partitions.is_empty() && nodes.iter().any(|n| matches!(n.role, Role::Replicator | Role::Cdc)) {
            return err("partitions", "cdc and replicator nodes cannot be combined with partitions in this version");
        }
        if !partitions.is_empty() && replication.log == LogKind::Trigger {
            return err(
                "replication.log",
                "trigger-based replication cannot be combined with partitions in this version",
            );
        }
        add_replicator_if_needed(&mut nodes, replication.log);
        let page_size = o.u64_or("page_size", DEFAULT_PAGE_SIZE)?;
        if !(128..=65_536).contains(&page_size) {
            return err("page_size", format!("expected 128..=65536 bytes, found {page_size}"));
        }
        let failover = parse_failover(o.get("failover"), &mut replication, &nodes)?;
        let clients = parse_clients(o.arr_or_empty("clients")?, &nodes)?;
        if let Some(spec) = &replication.leaderless {
            crate::protocol::leaderless::spec::validate(spec, &nodes, &clients, &partitions)?;
        } else {
            crate::protocol::leaderless::spec::check_unused(&clients)?;
        }
        let multi_leader = crate::protocol::multi_leader::spec::parse(v, &nodes, &clients, !partitions.is_empty())?;
        if until_ms > MAX_UNTIL_MS && multi_leader.is_none() {
            return err(
                "until_ms",
                format!(
                    "expected 1..={MAX_UNTIL_MS}, found {until_ms} (only multi-leader scenarios may run up to \
                     {MAX_UNTIL_MS_MULTI_LEADER}: 48 hours)"
                ),
            );
        }
        let mut schema = Vec::new();
        for (i, s) in o.arr_or_empty("schema")?.iter().enumerate() {
            schema.push(as_str(s, &format!("schema[{i}]"))?.to_string());
        }
        let (workload_v, faults_v) = (o.arr_or_empty("workload")?, o.arr_or_empty("faults")?);
        let names = Names::new(&nodes, &clients, &[workload_v, faults_v]).with_groups(&partitions);
        let network = match o.get("network") {
            None => NetworkSpec::default(),
            Some(v) => parse_network(v, "network", &names)?,
        };
        let mut workload = Vec::new();
        for (i, w) in workload_v.iter().enumerate() {
            workload.push(TimedCommand::from_value(w, &format!("workload[{i}]"), &names)?);
        }
        let mut faults = Vec::new();
        for (i, w) in faults_v.iter().enumerate() {
            faults.push(TimedCommand::from_value(w, &format!("faults[{i}]"), &names)?);
        }
        if replication.leaderless.is_none() {
            if let Some(i) = workload.iter().position(|w| matches!(w.command, Command::BlindSql { .. })) {
                return err(&format!("workload[{i}].blind"), "only leaderless replication has blind writes");
            }
            let listed = (workload.iter().enumerate().map(|(i, c)| (format!("workload[{i}]"), c)))
                .chain(faults.iter().enumerate().map(|(i, c)| (format!("faults[{i}]"), c)));
            for (path, c) in listed {
                if matches!(c.command, Command::Quorum(_)) {
                    return err(&format!("{path}.quorum"), "only leaderless replication has quorum settings");
                }
                if matches!(c.command, Command::Restore { .. }) {
                    return err(
                        &format!("{path}.restore_from"),
                        "only leaderless replication restores a replica from another's copy (a follower catches up \
                         from its leader's log)",
                    );
                }
            }
        } else if let Some(spec) = &replication.leaderless {
            let listed = (workload.iter().enumerate().map(|(i, c)| (format!("workload[{i}]"), c)))
                .chain(faults.iter().enumerate().map(|(i, c)| (format!("faults[{i}]"), c)));
            let replicas = nodes.iter().filter(|n| n.role == Role::Replica).count();
            crate::protocol::leaderless::spec::check_commands(spec, replicas, listed)?;
        }
        if workload.len() + faults.len() > MAX_COMMANDS {
            return err("workload", format!("at most {MAX_COMMANDS} timed entries in all"));
        }
        let listed = (workload.iter().enumerate().map(|(i, c)| (format!("workload[{i}]"), c)))
            .chain(faults.iter().enumerate().map(|(i, c)| (format!("faults[{i}]"), c)));
        check_added_nodes(&nodes, listed)?;
        Ok(Scenario {
            version: 1,
            seed: o.u64_or("seed", 1)?,
            until_ms,
            title: o.str_opt("title")?.map(str::to_string),
            narration: o.str_opt("narration")?.map(str::to_string),
            nodes,
            replication,
            failover,
            network,
            clients,
            schema,
            workload,
            faults,
            partitions,
            partition_key,
            page_size: page_size as u32,
            row_locking: match o.str_opt("locking")? {
                None => false,
                Some(l) => enum_of(l, "locking", &[("database", false), ("row", true)])?,
            },
            multi_leader,
        })
    }

    /// The same scenario replicated with another log method (the comparison view runs all four).
    pub fn with_log(&self, log: LogKind) -> Scenario {
        let mut s = self.clone();
        s.replication.log = log;
        if log != LogKind::Trigger {
            s.nodes.retain(|n| n.role != Role::Replicator);
        }
        add_replicator_if_needed(&mut s.nodes, log);
        s
    }

    /// The ids commands may name, given a person's extra commands (which may add nodes).
    pub fn names_with(&self, extra: &[Value]) -> Names {
        let mut values: Vec<Value> = self.workload.iter().chain(&self.faults).map(TimedCommand::to_json).collect();
        values.extend(extra.iter().cloned());
        Names::new(&self.nodes, &self.clients, &[&values]).with_groups(&self.partitions)
    }

    pub fn until(&self) -> Micros {
        ms(self.until_ms)
    }

    pub fn to_json(&self) -> Value {
        let mut o = Map::new();
        o.insert("version".into(), json!(self.version));
        o.insert("seed".into(), json!(self.seed));
        o.insert("until_ms".into(), json!(self.until_ms));
        if let Some(t) = &self.title {
            o.insert("title".into(), json!(t));
        }
        if let Some(t) = &self.narration {
            o.insert("narration".into(), json!(t));
        }
        let nodes: Vec<Value> = self
            .nodes
            .iter()
            .map(|n| {
                let mut m = Map::new();
                m.insert("id".into(), json!(n.id));
                m.insert("role".into(), json!(n.role.name()));
                if n.clock != ClockSpec::default() {
                    m.insert("clock".into(), json!({"offset_ms": n.clock.offset_ms, "drift_ppm": n.clock.drift_ppm}));
                }
                if n.apply_delay_ms > 0 {
                    m.insert("apply_delay_ms".into(), json!(n.apply_delay_ms));
                }
                if n.storage_format != 1 {
                    m.insert("storage_format".into(), json!(n.storage_format));
                }
                if let Some((t, c)) = &n.index {
                    m.insert("index".into(), json!(format!("{t}.{c}")));
                }
                Value::Object(m)
            })
            .collect();
        o.insert("nodes".into(), Value::Array(nodes));
        let r = &self.replication;
        o.insert(
            "replication".into(),
            json!({"mode": r.mode.name(), "log": r.log.name(), "heartbeat_ms": r.heartbeat_ms,
                   "statement_substitution": r.statement_substitution, "statement_mixed": r.statement_mixed,
                   "semi_sync_timeout_ms": r.semi_sync_timeout_ms, "log_retention": r.log_retention,
                   "trigger": {"poll_ms": r.trigger.poll_ms, "batch": r.trigger.batch, "tables": r.trigger.tables,
                               "where": r.trigger.row_filter}}),
        );
        if let Some(l) = &r.leaderless {
            if let Some(Value::Object(rep)) = o.get_mut("replication") {
                rep.insert("leaderless".into(), l.to_json());
            }
        }
        if self.page_size != DEFAULT_PAGE_SIZE as u32 {
            o.insert("page_size".into(), json!(self.page_size));
        }
        if self.row_locking {
            o.insert("locking".into(), json!("row"));
        }
        let f = &self.failover;
        o.insert(
            "failover".into(),
            json!({"auto": f.auto, "timeout_ms": f.timeout_ms, "election": f.election.name(), "epochs": f.epochs,
                   "fencing": f.fencing, "two_leaders": f.two_leaders.name(), "discovery_ms": f.discovery_ms}),
        );
        o.insert("network".into(), network_json(&self.network));
        let clients: Vec<Value> = self
            .clients
            .iter()
            .map(|c| {
                let mut m = Map::new();
                m.insert("id".into(), json!(c.id));
                m.insert("route".into(), json!(c.route.name()));
                if let Some(u) = &c.user {
                    m.insert("user".into(), json!(u));
                }
                m.insert("timeout_ms".into(), json!(c.timeout_ms));
                if let Some(cache) = &c.cache {
                    m.insert("cache".into(), json!(cache));
                }
                m.insert("window_ms".into(), json!(c.window_ms));
                m.insert("max_lag_ms".into(), json!(c.max_lag_ms));
                m.insert("share_token".into(), json!(c.share_token));
                m.insert("owner_column".into(), json!(c.owner_column));
                c.leaderless.write_json(&mut m);
                Value::Object(m)
            })
            .collect();
        o.insert("clients".into(), Value::Array(clients));
        o.insert("schema".into(), json!(self.schema));
        o.insert("workload".into(), Value::Array(self.workload.iter().map(TimedCommand::to_json).collect()));
        o.insert("faults".into(), Value::Array(self.faults.iter().map(TimedCommand::to_json).collect()));
        if !self.partitions.is_empty() {
            let parts: Vec<Value> = self.partitions.iter().map(|p| json!({"id": p.id, "nodes": p.nodes})).collect();
            o.insert("partitions".into(), Value::Array(parts));
            o.insert("partition_key".into(), json!(self.partition_key));
        }
        if let Some(ml) = &self.multi_leader {
            ml.write_json(&mut o);
        }
        Value::Object(o)
    }

    pub fn node_index(&self, id: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.id == id)
    }
}

/// Storage page size when a scenario names none: small, so a handful of rows fill a page.
pub const DEFAULT_PAGE_SIZE: u64 = 256;

/// Trigger-based replication needs a replicator process; a scenario that names none gets one.
fn add_replicator_if_needed(nodes: &mut Vec<NodeSpec>, log: LogKind) {
    if log == LogKind::Trigger && !nodes.iter().any(|n| n.role == Role::Replicator) {
        let mut id = "replicator".to_string();
        while nodes.iter().any(|n| n.id == id) {
            id.push('_');
        }
        nodes.push(NodeSpec::new(&id, Role::Replicator));
    }
}

fn network_json(n: &NetworkSpec) -> Value {
    let mut v = json!({"latency_ms": {"min": n.latency_min_ms, "max": n.latency_max_ms}, "loss": n.loss,
           "duplicate": n.duplicate, "reorder": n.reorder});
    if !n.links.is_empty() {
        let links: Vec<Value> = n
            .links
            .iter()
            .map(|l| {
                let mut m = Map::new();
                if l.both_ways {
                    m.insert("between".into(), json!([l.from, l.to]));
                } else {
                    m.insert("from".into(), json!(l.from));
                    m.insert("to".into(), json!(l.to));
                }
                if let Some((min, max)) = l.latency_ms {
                    m.insert("latency_ms".into(), json!({"min": min, "max": max}));
                }
                for (k, p) in [("loss", l.loss), ("duplicate", l.duplicate), ("reorder", l.reorder)] {
                    if let Some(p) = p {
                        m.insert(k.into(), json!(p));
                    }
                }
                Value::Object(m)
            })
            .collect();
        v["links"] = Value::Array(links);
    }
    v
}

fn parse_id(o: &Obj, key: &str) -> Res<String> {
    let id = o.str_req(key)?;
    let ok = !id.is_empty() && id.len() <= 24 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !ok {
        return err(&o.at(key), format!("expected 1-24 letters, digits, '-' or '_', found {id:?}"));
    }
    Ok(id.to_string())
}

fn parse_partitions(arr: &[Value], nodes: &[NodeSpec]) -> Res<Vec<PartitionSpec>> {
    let mut out: Vec<PartitionSpec> = Vec::new();
    for (i, v) in arr.iter().enumerate() {
        let o = Obj::new(v, &format!("partitions[{i}]"))?;
        o.only(&["id", "nodes"])?;
        let id = parse_id(&o, "id")?;
        let mut members = Vec::new();
        for (k, n) in o.arr_or_empty("nodes")?.iter().enumerate() {
            let p = format!("partitions[{i}].nodes[{k}]");
            let n = as_str(n, &p)?;
            if !nodes.iter().any(|x| x.id == n && x.role.is_replica()) {
                return err(&p, format!("no leader or follower node {n:?}"));
            }
            if out.iter().any(|q| q.nodes.iter().any(|m| m == n)) || members.iter().any(|m| m == n) {
                return err(&p, format!("{n:?} is already in a partition"));
            }
            members.push(n.to_string());
        }
        let leaders = members.iter().filter(|m| nodes.iter().any(|x| &x.id == *m && x.role == Role::Leader)).count();
        if leaders != 1 {
            return err(&o.at("nodes"), format!("expected exactly one leader in the partition, found {leaders}"));
        }
        out.push(PartitionSpec { id, nodes: members });
    }
    if !out.is_empty() {
        if let Some(n) = nodes.iter().find(|n| n.role.is_replica() && !out.iter().any(|p| p.nodes.contains(&n.id))) {
            return err("partitions", format!("node {:?} is in no partition", n.id));
        }
    }
    Ok(out)
}

fn parse_nodes(arr: &[Value], _partitioned: bool, leaderless: bool) -> Res<Vec<NodeSpec>> {
    if arr.is_empty() {
        return err("nodes", "expected at least one node");
    }
    if arr.len() > MAX_NODES {
        return err("nodes", format!("at most {MAX_NODES} nodes, found {}", arr.len()));
    }
    let mut nodes: Vec<NodeSpec> = Vec::new();
    for (i, v) in arr.iter().enumerate() {
        let path = format!("nodes[{i}]");
        let o = Obj::new(v, &path)?;
        o.only(&["id", "role", "clock", "apply_delay_ms", "storage_format", "index", "datacenter", "auto_increment"])?;
        let id = parse_id(&o, "id")?;
        if nodes.iter().any(|n| n.id == id) {
            return err(&o.at("id"), format!("duplicate node id {id:?}"));
        }
        let role = enum_of(
            o.str_req("role")?,
            &o.at("role"),
            &[
                ("leader", Role::Leader),
                ("follower", Role::Follower),
                ("cache", Role::Cache),
                ("controller", Role::Controller),
                ("replicator", Role::Replicator),
                ("cdc", Role::Cdc),
                ("replica", Role::Replica),
            ],
        )?;
        if (role == Role::Replica) != leaderless {
            return err(
                &o.at("role"),
                if leaderless {
                    "under leaderless replication every node is a \"replica\" (there is no leader)"
                } else {
                    "a \"replica\" node needs leaderless replication (replication.leaderless)"
                },
            );
        }
        let clock = match o.get("clock") {
            None => ClockSpec::default(),
            Some(c) => {
                let c = Obj::new(c, &o.at("clock"))?;
                c.only(&["offset_ms", "drift_ppm"])?;
                let drift_ppm = c.i64_or("drift_ppm", 0)?;
                if drift_ppm.unsigned_abs() > 1_000_000 {
                    return err(&c.at("drift_ppm"), "expected between -1000000 and 1000000");
                }
                let offset_ms = c.i64_or("offset_ms", 0)?;
                if offset_ms.unsigned_abs() > 86_400_000 {
                    return err(&c.at("offset_ms"), "expected at most one day either way (86400000)");
                }
                ClockSpec { offset_ms, drift_ppm }
            }
        };
        let apply_delay_ms = o.u64_or("apply_delay_ms", 0)?;
        if apply_delay_ms > MAX_UNTIL_MS {
            return err(&o.at("apply_delay_ms"), format!("expected at most {MAX_UNTIL_MS}"));
        }
        let storage_format = match o.u64_or("storage_format", 1)? {
            f @ (1 | 2) => f as u8,
            f => return err(&o.at("storage_format"), format!("expected 1 or 2, found {f}")),
        };
        let index = match (o.str_opt("index")?, role) {
            (None, Role::Cdc) => {
                return err(&o.at("index"), "a cdc node needs the column it indexes, like \"posts.body\"")
            }
            (None, _) => None,
            (Some(_), r) if r != Role::Cdc => return err(&o.at("index"), "only a node with role \"cdc\" has an index"),
            (Some(ix), _) => match ix.split_once('.') {
                Some((t, c)) if !t.is_empty() && !c.is_empty() => {
                    Some((t.to_ascii_lowercase(), c.to_ascii_lowercase()))
                }
                _ => return err(&o.at("index"), format!("expected \"table.column\", found {ix:?}")),
            },
        };
        nodes.push(NodeSpec { id, role, clock, apply_delay_ms, storage_format, index });
    }
    if nodes.iter().filter(|n| n.role == Role::Replicator).count() > 1 {
        return err("nodes", "expected at most one node with role \"replicator\"");
    }
    let leaders = nodes.iter().filter(|n| n.role == Role::Leader).count();
    // Several leaders: a leader per partition, or multi-leader replication (DDIA 5.3, `multi_leader::spec`).
    if leaders == 0 && !leaderless {
        return err("nodes", "expected at least one node with role \"leader\", found 0");
    }
    if nodes.iter().filter(|n| n.role == Role::Controller).count() > 1 {
        return err("nodes", "expected at most one node with role \"controller\"");
    }
    Ok(nodes)
}

impl Default for ReplicationSpec {
    fn default() -> Self {
        ReplicationSpec {
            mode: Mode::Async,
            log: LogKind::Logical,
            heartbeat_ms: 50,
            statement_substitution: false,
            semi_sync_timeout_ms: 200,
            log_retention: DEFAULT_LOG_RETENTION,
            statement_mixed: false,
            trigger: TriggerSpec::default(),
            leaderless: None,
        }
    }
}

fn parse_replication(v: Option<&Value>) -> Res<ReplicationSpec> {
    let Some(v) = v else { return Ok(ReplicationSpec::default()) };
    let o = Obj::new(v, "replication")?;
    o.only(&[
        "mode",
        "log",
        "heartbeat_ms",
        "statement_substitution",
        "statement_mixed",
        "semi_sync_timeout_ms",
        "log_retention",
        "trigger",
        "leaderless",
        "topology",
        "ring",
        "hub",
        "conflict",
        "causality",
        "on_write",
    ])?;
    let mode = match o.str_opt("mode")? {
        None => Mode::Async,
        Some(m) => {
            enum_of(m, &o.at("mode"), &[("async", Mode::Async), ("sync", Mode::Sync), ("semi-sync", Mode::SemiSync)])?
        }
    };
    let log = match o.str_opt("log")? {
        None => LogKind::Logical,
        Some(l) => enum_of(
            l,
            &o.at("log"),
            &[
                ("statement", LogKind::Statement),
                ("wal", LogKind::Wal),
                ("logical", LogKind::Logical),
                ("trigger", LogKind::Trigger),
            ],
        )?,
    };
    let trigger = match o.get("trigger") {
        None => TriggerSpec::default(),
        Some(t) => parse_trigger(t, &o.at("trigger"))?,
    };
    let heartbeat_ms = o.u64_or("heartbeat_ms", 50)?;
    if heartbeat_ms == 0 || heartbeat_ms > 60_000 {
        return err(&o.at("heartbeat_ms"), "expected 1..=60000");
    }
    let log_retention = o.u64_or("log_retention", DEFAULT_LOG_RETENTION)?;
    if log_retention == 0 {
        return err(&o.at("log_retention"), "expected a positive number of entries");
    }
    Ok(ReplicationSpec {
        mode,
        log,
        heartbeat_ms,
        statement_substitution: o.bool_or("statement_substitution", false)?,
        semi_sync_timeout_ms: o.u64_or("semi_sync_timeout_ms", 4 * heartbeat_ms)?.max(1),
        log_retention,
        statement_mixed: o.bool_or("statement_mixed", false)?,
        trigger,
        leaderless: match o.get("leaderless") {
            None => None,
            Some(l) => Some(crate::protocol::leaderless::spec::parse(l, &o.at("leaderless"))?),
        },
    })
}

fn parse_trigger(v: &Value, path: &str) -> Res<TriggerSpec> {
    let o = Obj::new(v, path)?;
    o.only(&["poll_ms", "batch", "tables", "where"])?;
    let d = TriggerSpec::default();
    let poll_ms = o.u64_or("poll_ms", d.poll_ms)?;
    if poll_ms == 0 || poll_ms > 60_000 {
        return err(&o.at("poll_ms"), "expected 1..=60000");
    }
    let batch = o.u64_or("batch", u64::from(d.batch))?;
    if batch == 0 || batch > 1000 {
        return err(&o.at("batch"), "expected 1..=1000");
    }
    let mut tables = Vec::new();
    for (i, t) in o.arr_or_empty("tables")?.iter().enumerate() {
        tables.push(as_str(t, &format!("{}[{i}]", o.at("tables")))?.to_ascii_lowercase());
    }
    let mut row_filter = std::collections::BTreeMap::new();
    if let Some(w) = o.get("where") {
        let w = Obj::new(w, &o.at("where"))?;
        for (table, cond) in w.map {
            let p = w.at(table);
            let cond = as_str(cond, &p)?;
            // The condition must parse as SQL now; whether its columns exist is checked against the schema at start.
            if let Err(e) = crate::sql::Database::is_read_only(&format!("SELECT 1 FROM {table} WHERE {cond}")) {
                return err(&p, format!("not a valid SQL condition: {e}"));
            }
            row_filter.insert(table.to_ascii_lowercase(), cond.to_string());
        }
    }
    Ok(TriggerSpec { poll_ms, batch: batch as u32, tables, row_filter })
}

fn parse_failover(v: Option<&Value>, replication: &mut ReplicationSpec, nodes: &[NodeSpec]) -> Res<FailoverSpec> {
    let d = FailoverSpec::default();
    let Some(v) = v else { return Ok(d) };
    let o = Obj::new(v, "failover")?;
    o.only(&["auto", "heartbeat_ms", "timeout_ms", "election", "epochs", "fencing", "two_leaders", "discovery_ms"])?;
    if let Some(h) = o.get("heartbeat_ms") {
        let h = as_u64(h, &o.at("heartbeat_ms"))?;
        if h == 0 || h > 60_000 {
            return err(&o.at("heartbeat_ms"), "expected 1..=60000");
        }
        replication.heartbeat_ms = h;
    }
    let timeout_ms = o.u64_or("timeout_ms", d.timeout_ms)?;
    if timeout_ms == 0 || timeout_ms > MAX_UNTIL_MS {
        return err(&o.at("timeout_ms"), format!("expected 1..={MAX_UNTIL_MS}"));
    }
    let election = match o.str_opt("election")? {
        None => d.election,
        Some(e) => enum_of(
            e,
            &o.at("election"),
            &[("most-up-to-date", Election::MostUpToDate), ("controller", Election::Controller)],
        )?,
    };
    if election == Election::Controller && !nodes.iter().any(|n| n.role == Role::Controller) {
        return err(&o.at("election"), "\"controller\" needs a node with role \"controller\"");
    }
    let two_leaders = match o.str_opt("two_leaders")? {
        None => d.two_leaders,
        Some(t) => enum_of(
            t,
            &o.at("two_leaders"),
            &[
                ("ignore", TwoLeaders::Ignore),
                ("shutdown-older", TwoLeaders::ShutdownOlder),
                ("shutdown-both", TwoLeaders::ShutdownBoth),
            ],
        )?,
    };
    Ok(FailoverSpec {
        auto: o.bool_or("auto", d.auto)?,
        timeout_ms,
        election,
        epochs: o.bool_or("epochs", d.epochs)?,
        fencing: o.bool_or("fencing", d.fencing)?,
        two_leaders,
        discovery_ms: o.u64_or("discovery_ms", d.discovery_ms)?.min(MAX_UNTIL_MS),
    })
}

/// At most this many per-link entries in one network setting.
pub const MAX_LINKS: usize = 64;

/// `latency_ms`: a number, or `{"min": a, "max": b}`.
fn parse_latency(o: &Obj) -> Res<Option<(u64, u64)>> {
    Ok(match o.get("latency_ms") {
        None => None,
        Some(Value::Number(_)) => {
            let l = o.u64_or("latency_ms", 5)?;
            if l > 60_000 {
                return err(&o.at("latency_ms"), "expected at most 60000");
            }
            Some((l, l))
        }
        Some(l) => {
            let l = Obj::new(l, &o.at("latency_ms"))?;
            l.only(&["min", "max"])?;
            let min = l.u64_or("min", 5)?;
            let max = l.u64_or("max", min)?;
            if max < min {
                return err(&l.at("max"), format!("expected at least min ({min}), found {max}"));
            }
            if max > 60_000 {
                return err(&l.at("max"), "expected at most 60000");
            }
            Some((min, max))
        }
    })
}

fn parse_network(v: &Value, path: &str, names: &Names) -> Res<NetworkSpec> {
    let o = Obj::new(v, path)?;
    o.only(&["latency_ms", "loss", "duplicate", "reorder", "links", "datacenters"])?;
    let (min, max) = parse_latency(&o)?.unwrap_or((5, 20));
    let links_v = o.arr_or_empty("links")?;
    if links_v.len() > MAX_LINKS {
        return err(&o.at("links"), format!("at most {MAX_LINKS} links, found {}", links_v.len()));
    }
    let mut links = Vec::new();
    for (i, v) in links_v.iter().enumerate() {
        links.push(parse_link(v, &format!("{}[{i}]", o.at("links")), names)?);
    }
    Ok(NetworkSpec {
        latency_min_ms: min,
        latency_max_ms: max,
        loss: o.prob_or("loss", 0.0)?,
        duplicate: o.prob_or("duplicate", 0.0)?,
        reorder: o.prob_or("reorder", 0.0)?,
        links,
    })
}

fn parse_link(v: &Value, path: &str, names: &Names) -> Res<LinkSpec> {
    let o = Obj::new(v, path)?;
    o.only(&["between", "from", "to", "latency_ms", "loss", "duplicate", "reorder"])?;
    let (from, to, both_ways) = match (o.get("between"), o.get("from"), o.get("to")) {
        (Some(b), None, None) => {
            let (a, b) = pair(b, &o.at("between"), names)?;
            (a, b, true)
        }
        (None, Some(f), Some(t)) => {
            (endpoint_ref(f, &o.at("from"), names)?, endpoint_ref(t, &o.at("to"), names)?, false)
        }
        _ => {
            return err(
                path,
                "expected either \"between\": [a, b] (both directions) or \"from\" and \"to\" (one direction)",
            )
        }
    };
    if from == to {
        return err(path, format!("a link joins two different endpoints, found {from:?} twice"));
    }
    let prob = |k: &str| o.get(k).map(|_| o.prob_or(k, 0.0)).transpose();
    let link = LinkSpec {
        from,
        to,
        both_ways,
        latency_ms: parse_latency(&o)?,
        loss: prob("loss")?,
        duplicate: prob("duplicate")?,
        reorder: prob("reorder")?,
    };
    if link.latency_ms.is_none() && link.loss.is_none() && link.duplicate.is_none() && link.reorder.is_none() {
        return err(path, "expected at least one of latency_ms, loss, duplicate, reorder");
    }
    Ok(link)
}

fn parse_clients(arr: &[Value], nodes: &[NodeSpec]) -> Res<Vec<ClientSpec>> {
    if arr.len() > MAX_CLIENTS {
        return err("clients", format!("at most {MAX_CLIENTS} clients, found {}", arr.len()));
    }
    let mut clients: Vec<ClientSpec> = Vec::new();
    for (i, v) in arr.iter().enumerate() {
        let o = Obj::new(v, &format!("clients[{i}]"))?;
        o.only(&[
            "id",
            "route",
            "user",
            "timeout_ms",
            "cache",
            "window_ms",
            "max_lag_ms",
            "share_token",
            "owner_column",
            "coordinator",
            "merge",
            "datacenter",
            "leader",
        ])?;
        let id = parse_id(&o, "id")?;
        if clients.iter().any(|c| c.id == id) {
            return err(&o.at("id"), format!("duplicate client id {id:?}"));
        }
        let route = match o.str_opt("route")? {
            None => Route::Leader,
            Some(r) => {
                let all: Vec<(&str, Route)> = Route::ALL.iter().map(|r| (r.name(), *r)).collect();
                enum_of(r, &o.at("route"), &all)?
            }
        };
        let timeout_ms = o.u64_or("timeout_ms", 1000)?;
        if timeout_ms == 0 || timeout_ms > MAX_UNTIL_MS {
            return err(&o.at("timeout_ms"), format!("expected 1..={MAX_UNTIL_MS}, found {timeout_ms}"));
        }
        if nodes.iter().any(|n| n.id == id) {
            return err(&o.at("id"), format!("{id:?} is already a node id"));
        }
        let cache = o.str_opt("cache")?.map(str::to_string);
        if let Some(c) = &cache {
            if !nodes.iter().any(|n| &n.id == c && n.role == Role::Cache) {
                return err(&o.at("cache"), format!("no node {c:?} with role \"cache\""));
            }
        }
        let owner_column = o.str_opt("owner_column")?.unwrap_or("owner").to_string();
        clients.push(ClientSpec {
            id,
            route,
            user: o.str_opt("user")?.map(str::to_string),
            timeout_ms,
            cache,
            window_ms: o.u64_or("window_ms", 1000)?.min(MAX_UNTIL_MS),
            max_lag_ms: o.u64_or("max_lag_ms", 100)?.min(MAX_UNTIL_MS),
            share_token: o.bool_or("share_token", false)?,
            owner_column,
            leaderless: crate::protocol::leaderless::spec::parse_client(o.get("coordinator"), o.get("merge"), &o.path)?,
        });
    }
    Ok(clients)
}

/// The ids a timed command may name: the scenario's nodes and clients, plus nodes that `add_node` commands
/// bring in during the run.
#[derive(Clone, Debug, Default)]
pub struct Names {
    pub nodes: Vec<String>,
    pub clients: Vec<String>,
    pub added: Vec<String>,
    /// The partitions' ids, in order (empty: one unnamed group); `add_node`'s `group` names one of them.
    pub groups: Vec<String>,
}

impl Names {
    pub fn new(nodes: &[NodeSpec], clients: &[ClientSpec], commands: &[&[Value]]) -> Names {
        let mut added: Vec<String> = Vec::new();
        for v in commands.iter().flat_map(|c| c.iter()) {
            if let Some(id) = v.get("add_node").and_then(Value::as_str) {
                if !added.iter().any(|a| a == id) && !nodes.iter().any(|n| n.id == id) {
                    added.push(id.to_string());
                }
            }
        }
        Names {
            nodes: nodes.iter().map(|n| n.id.clone()).collect(),
            clients: clients.iter().map(|c| c.id.clone()).collect(),
            added,
            groups: Vec::new(),
        }
    }

    /// The same names, with the partitions that `add_node` may name as its `group`.
    pub fn with_groups(mut self, partitions: &[PartitionSpec]) -> Names {
        self.groups = partitions.iter().map(|p| p.id.clone()).collect();
        self
    }

    fn is_node(&self, id: &str) -> bool {
        self.nodes.iter().chain(&self.added).any(|n| n == id)
    }
}

fn node_ref(o: &Obj, key: &str, names: &Names) -> Res<String> {
    let id = o.str_req(key)?;
    if names.is_node(id) {
        Ok(id.to_string())
    } else {
        let ids: Vec<&str> = names.nodes.iter().chain(&names.added).map(String::as_str).collect();
        err(&o.at(key), format!("no node {id:?} (nodes: {})", ids.join(", ")))
    }
}

fn endpoint_ref(v: &Value, path: &str, names: &Names) -> Res<String> {
    let id = as_str(v, path)?;
    if names.is_node(id) || names.clients.iter().any(|c| c == id) {
        Ok(id.to_string())
    } else {
        err(path, format!("no node or client {id:?}"))
    }
}

fn pair(v: &Value, path: &str, names: &Names) -> Res<(String, String)> {
    match v.as_array().map(Vec::as_slice) {
        Some([a, b]) => {
            Ok((endpoint_ref(a, &format!("{path}[0]"), names)?, endpoint_ref(b, &format!("{path}[1]"), names)?))
        }
        _ => err(path, "expected two ids, like [\"n1\", \"n2\"]"),
    }
}

const COMMAND_KEYS: &[&str] = &[
    "sql",
    "cache_get",
    "crash",
    "restart",
    "pause",
    "resume",
    "partition",
    "cut",
    "heal",
    "network",
    "add_node",
    "failover_to",
    "upgrade",
    "reconfigure",
    "move",
    "offline",
    "online",
    "quorum",
];

fn client_ref<'a>(o: &Obj<'a>, names: &Names) -> Res<&'a str> {
    let client = o.str_req("client")?;
    if names.clients.iter().any(|c| c == client) {
        Ok(client)
    } else {
        err(&o.at("client"), format!("no client {client:?}"))
    }
}

impl TimedCommand {
    pub fn from_value(v: &Value, path: &str, names: &Names) -> Res<TimedCommand> {
        let o = Obj::new(v, path)?;
        o.only(&[
            "at_ms",
            "at_us",
            "client",
            "sql",
            "crash",
            "restart",
            "restore_from",
            "pause",
            "for_ms",
            "resume",
            "partition",
            "one_way",
            "cut",
            "heal",
            "network",
            "add_node",
            "copy",
            "group",
            "failover_to",
            "cache_get",
            "upgrade",
            "storage_format",
            "blind",
            "reconfigure",
            "move",
            "leader",
            "offline",
            "online",
            "quorum",
        ])?;
        let at = match (o.get("at_us"), o.get("at_ms")) {
            (Some(us), _) => as_u64(us, &o.at("at_us"))?,
            (None, Some(m)) => ms(as_u64(m, &o.at("at_ms"))?),
            (None, None) => return err(&o.at("at_ms"), "required field is missing"),
        };
        if at > ms(MAX_UNTIL_MS_MULTI_LEADER) {
            return err(&o.at("at_ms"), format!("expected at most {MAX_UNTIL_MS_MULTI_LEADER}"));
        }
        let present: Vec<&str> = COMMAND_KEYS.iter().copied().filter(|k| o.get(k).is_some()).collect();
        if present.is_empty() && o.get("client").is_some() {
            client_ref(&o, names)?;
            return err(&o.at("sql"), "required field is missing");
        }
        if o.get("restore_from").is_some() && present.len() == 1 && present[0] != "restart" {
            return err(
                &o.at("restore_from"),
                "only a restart entry takes restore_from (the replica whose copy the restarted one gets)",
            );
        }
        if o.get("group").is_some() && present.len() == 1 && present[0] != "add_node" {
            return err(&o.at("group"), "only an add_node entry takes a group (the partition the new node joins)");
        }
        let command = match present.as_slice() {
            ["cache_get"] => {
                let client = client_ref(&o, names)?;
                let key = o.str_req("cache_get")?;
                if key.split_once(':').is_none_or(|(t, k)| t.is_empty() || k.is_empty()) {
                    return err(&o.at("cache_get"), format!("expected a key like \"users:4\", found {key:?}"));
                }
                Command::CacheGet { client: client.to_string(), key: key.to_string() }
            }
            ["add_node"] => {
                let id = parse_id(&o, "add_node")?;
                if names.nodes.iter().any(|n| n == &id) || names.clients.iter().any(|c| c == &id) {
                    return err(&o.at("add_node"), format!("{id:?} already exists"));
                }
                let copy = match o.str_opt("copy")? {
                    None => CopyMethod::Snapshot,
                    Some(c) => enum_of(
                        c,
                        &o.at("copy"),
                        &[("snapshot", CopyMethod::Snapshot), ("file-copy", CopyMethod::FileCopy)],
                    )?,
                };
                let group = match o.get("group") {
                    None => None,
                    Some(v) => {
                        let g = as_str(v, &o.at("group"))?;
                        if names.groups.is_empty() {
                            return err(
                                &o.at("group"),
                                format!(
                                    "no partition {g:?}: the scenario has no partitions (add_node joins its one group)"
                                ),
                            );
                        }
                        if !names.groups.iter().any(|p| p == g) {
                            return err(
                                &o.at("group"),
                                format!("no partition {g:?} (partitions: {})", names.groups.join(", ")),
                            );
                        }
                        Some(g.to_string())
                    }
                };
                Command::AddNode { id, copy, group }
            }
            ["failover_to"] => Command::FailoverTo(node_ref(&o, "failover_to", names)?),
            ["reconfigure"] => {
                let p = o.at("reconfigure");
                let r = Obj::new(o.get("reconfigure").unwrap_or(&Value::Null), &p)?;
                r.only(&["topology", "ring", "hub"])?;
                let topology = r.str_req("topology")?;
                crate::protocol::multi_leader::spec::Topology::parse(topology, &r.at("topology"))?;
                let mut ring = Vec::new();
                for (i, v) in r.arr_or_empty("ring")?.iter().enumerate() {
                    let id = endpoint_ref(v, &format!("{}[{i}]", r.at("ring")), names)?;
                    if !names.is_node(&id) {
                        return err(&format!("{}[{i}]", r.at("ring")), format!("{id:?} is a client, not a leader"));
                    }
                    ring.push(id);
                }
                let hub = match r.get("hub") {
                    None => None,
                    Some(_) => Some(node_ref(&r, "hub", names)?),
                };
                Command::Reconfigure { topology: topology.to_string(), ring, hub }
            }
            ["offline"] => {
                Command::Offline(endpoint_ref(o.get("offline").unwrap_or(&Value::Null), &o.at("offline"), names)?)
            }
            ["online"] => {
                Command::Online(endpoint_ref(o.get("online").unwrap_or(&Value::Null), &o.at("online"), names)?)
            }
            ["quorum"] => Command::Quorum(crate::protocol::leaderless::spec::QuorumChange::parse(
                o.get("quorum").unwrap_or(&Value::Null),
                &o.at("quorum"),
            )?),
            ["move"] => {
                let client = o.str_req("move")?;
                if !names.clients.iter().any(|c| c == client) {
                    return err(&o.at("move"), format!("no client {client:?}"));
                }
                Command::Move { client: client.to_string(), leader: node_ref(&o, "leader", names)? }
            }
            ["upgrade"] => {
                let node = node_ref(&o, "upgrade", names)?;
                let format = match o.get("storage_format") {
                    None => return err(&o.at("storage_format"), "required field is missing (1 or 2)"),
                    Some(v) => match as_u64(v, &o.at("storage_format"))? {
                        f @ (1 | 2) => f as u8,
                        f => return err(&o.at("storage_format"), format!("expected 1 or 2, found {f}")),
                    },
                };
                Command::Upgrade { node, format }
            }
            ["sql"] => {
                let client = client_ref(&o, names)?;
                let sql = o.str_req("sql")?;
                check_statement(sql).or_else(|e| err(&o.at("sql"), e))?;
                if o.bool_or("blind", false)? {
                    Command::BlindSql { client: client.to_string(), sql: sql.to_string() }
                } else {
                    Command::Sql { client: client.to_string(), sql: sql.to_string() }
                }
            }
            ["crash"] => Command::Crash(node_ref(&o, "crash", names)?),
            ["restart"] => {
                let node = node_ref(&o, "restart", names)?;
                match o.get("restore_from") {
                    None => Command::Restart(node),
                    Some(_) => {
                        let from = node_ref(&o, "restore_from", names)?;
                        if from == node {
                            return err(
                                &o.at("restore_from"),
                                format!("{from:?} is the node being restarted: name another replica to copy"),
                            );
                        }
                        Command::Restore { node, from }
                    }
                }
            }
            ["resume"] => Command::Resume(node_ref(&o, "resume", names)?),
            ["pause"] => {
                let for_ms = o.get("for_ms").map(|v| as_u64(v, &o.at("for_ms"))).transpose()?;
                if let Some(d) = for_ms.filter(|d| *d > MAX_UNTIL_MS) {
                    return err(
                        &o.at("for_ms"),
                        format!(
                            "expected at most {MAX_UNTIL_MS} (the longest run), found {d}; \
                             leave for_ms out to pause until a resume"
                        ),
                    );
                }
                Command::Pause { node: node_ref(&o, "pause", names)?, for_ms }
            }
            ["partition"] => {
                let p = o.at("partition");
                let Some(groups_v) = o.get("partition").and_then(Value::as_array) else {
                    return err(&p, "expected an array of groups, like [[\"n1\"], [\"n2\", \"n3\"]]");
                };
                let mut groups = Vec::new();
                for (gi, g) in groups_v.iter().enumerate() {
                    let gp = format!("{p}[{gi}]");
                    let Some(members) = g.as_array() else { return err(&gp, "expected an array of ids") };
                    let mut group = Vec::new();
                    for (mi, m) in members.iter().enumerate() {
                        group.push(endpoint_ref(m, &format!("{gp}[{mi}]"), names)?);
                    }
                    groups.push(group);
                }
                if groups.len() < 2 {
                    return err(&p, "expected at least two groups");
                }
                Command::Partition { groups, one_way: o.bool_or("one_way", false)? }
            }
            ["cut"] => {
                let (a, b) = pair(o.get("cut").unwrap_or(&Value::Null), &o.at("cut"), names)?;
                Command::CutLink(a, b)
            }
            ["heal"] => match o.get("heal") {
                Some(Value::Bool(true)) => Command::HealAll,
                Some(v @ Value::Array(_)) => {
                    let (a, b) = pair(v, &o.at("heal"), names)?;
                    Command::HealLink(a, b)
                }
                _ => return err(&o.at("heal"), "expected true (heal everything) or a pair of ids"),
            },
            ["network"] => {
                Command::SetNetwork(parse_network(o.get("network").unwrap_or(&Value::Null), &o.at("network"), names)?)
            }
            [] => return err(path, format!("expected one of the fields {}", COMMAND_KEYS.join(", "))),
            many => return err(path, format!("expected exactly one action, found {}", many.join(" and "))),
        };
        Ok(TimedCommand { at, command })
    }

    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        if self.at % US_PER_MS == 0 {
            m.insert("at_ms".into(), json!(self.at / US_PER_MS));
        } else {
            m.insert("at_us".into(), json!(self.at));
        }
        match &self.command {
            Command::Sql { client, sql } => {
                m.insert("client".into(), json!(client));
                m.insert("sql".into(), json!(sql));
            }
            Command::Crash(n) => {
                m.insert("crash".into(), json!(n));
            }
            Command::Restart(n) => {
                m.insert("restart".into(), json!(n));
            }
            Command::Restore { node, from } => {
                m.insert("restart".into(), json!(node));
                m.insert("restore_from".into(), json!(from));
            }
            Command::Resume(n) => {
                m.insert("resume".into(), json!(n));
            }
            Command::Pause { node, for_ms } => {
                m.insert("pause".into(), json!(node));
                if let Some(d) = for_ms {
                    m.insert("for_ms".into(), json!(d));
                }
            }
            Command::Partition { groups, one_way } => {
                m.insert("partition".into(), json!(groups));
                if *one_way {
                    m.insert("one_way".into(), json!(true));
                }
            }
            Command::CutLink(a, b) => {
                m.insert("cut".into(), json!([a, b]));
            }
            Command::HealLink(a, b) => {
                m.insert("heal".into(), json!([a, b]));
            }
            Command::HealAll => {
                m.insert("heal".into(), json!(true));
            }
            Command::SetNetwork(n) => {
                m.insert("network".into(), network_json(n));
            }
            Command::AddNode { id, copy, group } => {
                m.insert("add_node".into(), json!(id));
                m.insert("copy".into(), json!(copy.name()));
                if let Some(g) = group {
                    m.insert("group".into(), json!(g));
                }
            }
            Command::FailoverTo(n) => {
                m.insert("failover_to".into(), json!(n));
            }
            Command::Upgrade { node, format } => {
                m.insert("upgrade".into(), json!(node));
                m.insert("storage_format".into(), json!(format));
            }
            Command::CacheGet { client, key } => {
                m.insert("client".into(), json!(client));
                m.insert("cache_get".into(), json!(key));
            }
            Command::BlindSql { client, sql } => {
                m.insert("client".into(), json!(client));
                m.insert("sql".into(), json!(sql));
                m.insert("blind".into(), json!(true));
            }
            Command::Reconfigure { topology, ring, hub } => {
                let mut r = Map::new();
                r.insert("topology".into(), json!(topology));
                if !ring.is_empty() {
                    r.insert("ring".into(), json!(ring));
                }
                if let Some(h) = hub {
                    r.insert("hub".into(), json!(h));
                }
                m.insert("reconfigure".into(), Value::Object(r));
            }
            Command::Move { client, leader } => {
                m.insert("move".into(), json!(client));
                m.insert("leader".into(), json!(leader));
            }
            Command::Offline(n) => {
                m.insert("offline".into(), json!(n));
            }
            Command::Online(n) => {
                m.insert("online".into(), json!(n));
            }
            Command::Quorum(q) => {
                m.insert("quorum".into(), q.to_json());
            }
        }
        Value::Object(m)
    }
}
