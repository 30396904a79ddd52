//! The scenario's side of leaderless replication: `replication.leaderless` and each client's `coordinator` and
//! `merge`, parsed and validated with JSON paths in the errors (the rest of the file is `scenario.rs`'s).

use serde_json::{json, Map, Value};

use crate::scenario::{ClientSpec, NodeSpec, PartitionSpec, Role, ScenarioError, MAX_UNTIL_MS};

type Res<T> = Result<T, ScenarioError>;

fn err<T>(path: &str, message: impl Into<String>) -> Res<T> {
    Err(ScenarioError { path: path.to_string(), message: message.into() })
}

/// `replication.leaderless`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaderlessSpec {
    /// Replicas per key (its home replicas on the ring).
    pub n: usize,
    /// Acknowledgements a write needs.
    pub w: usize,
    /// Answers a read needs.
    pub r: usize,
    /// A read that sees an older version on some replica writes the newest back to it.
    pub read_repair: bool,
    /// Every so often (0: never) each replica compares Merkle trees with another and copies what differs.
    pub anti_entropy_ms: u64,
    /// Writes that cannot reach enough home replicas go to the next reachable nodes on the ring, with a hint.
    pub sloppy_quorum: bool,
    /// How often a node holding hints tries to hand them to their home replica.
    pub handoff_ms: u64,
    /// How long a coordinating node waits for replicas before it decides (and, with a sloppy quorum, tries the
    /// next nodes on the ring).
    pub request_timeout_ms: u64,
    /// What a replica does with concurrent versions of a key.
    pub resolve: Resolve,
}

/// `replication.leaderless.resolve`: how replicas treat versions of a key that neither writer had seen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Resolve {
    /// Riak: keep every concurrent version (siblings, dotted version vectors) and let a reader merge them.
    #[default]
    Siblings,
    /// Cassandra: every write carries its coordinator's timestamp and each replica, read repair, anti-entropy and
    /// hinted handoff keep only the version with the highest (timestamp, coordinator) pair; the rest are dropped.
    Lww,
}

impl Resolve {
    pub fn name(self) -> &'static str {
        match self {
            Resolve::Siblings => "siblings",
            Resolve::Lww => "lww",
        }
    }
}

impl Default for LeaderlessSpec {
    fn default() -> Self {
        LeaderlessSpec {
            n: 3,
            w: 2,
            r: 2,
            read_repair: true,
            anti_entropy_ms: 0,
            sloppy_quorum: false,
            handoff_ms: 100,
            request_timeout_ms: 100,
            resolve: Resolve::Siblings,
        }
    }
}

impl LeaderlessSpec {
    pub fn to_json(&self) -> Value {
        let mut v = json!({"n": self.n, "w": self.w, "r": self.r, "read_repair": self.read_repair,
               "anti_entropy_ms": self.anti_entropy_ms, "sloppy_quorum": self.sloppy_quorum,
               "handoff_ms": self.handoff_ms, "request_timeout_ms": self.request_timeout_ms});
        // Written only when it is not the default, so existing scenarios and share links keep their exact text.
        if self.resolve != Resolve::Siblings {
            v["resolve"] = json!(self.resolve.name());
        }
        v
    }

    pub fn lww(&self) -> bool {
        self.resolve == Resolve::Lww
    }

    /// w + r > n: every read quorum overlaps every write quorum.
    pub fn strict(&self) -> bool {
        self.w + self.r > self.n
    }
}

/// Who coordinates a client's operations.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum Coordinator {
    /// The client library fans out to the replicas itself (Cassandra's token-aware drivers, Riak's clients).
    #[default]
    Client,
    /// This node (by id) coordinates: the client sends it each statement.
    Node(String),
}

/// How an application merges siblings of a column on read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MergeRule {
    /// The column holds a comma-separated list, merged as a set union; removed items are remembered as tombstones.
    Union,
}

#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ClientOptions {
    pub coordinator: Coordinator,
    /// (table, column) -> rule, lower case.
    pub merge: Vec<((String, String), MergeRule)>,
}

impl ClientOptions {
    pub fn write_json(&self, m: &mut Map<String, Value>) {
        if let Coordinator::Node(n) = &self.coordinator {
            m.insert("coordinator".into(), json!(n));
        }
        if !self.merge.is_empty() {
            let rules: Map<String, Value> =
                self.merge.iter().map(|((t, c), MergeRule::Union)| (format!("{t}.{c}"), json!("union"))).collect();
            m.insert("merge".into(), Value::Object(rules));
        }
    }

    /// The merge rule of a table's columns, if any.
    pub fn rule_for(&self, table: &str) -> Option<(&str, MergeRule)> {
        self.merge.iter().find(|((t, _), _)| t.eq_ignore_ascii_case(table)).map(|((_, c), r)| (c.as_str(), *r))
    }
}

fn field_u64(o: &Map<String, Value>, path: &str, key: &str, default: u64) -> Res<u64> {
    match o.get(key).filter(|v| !v.is_null()) {
        None => Ok(default),
        Some(v) => v
            .as_u64()
            .map_or_else(|| err(&format!("{path}.{key}"), format!("expected a non-negative integer, found {v}")), Ok),
    }
}

fn field_bool(o: &Map<String, Value>, path: &str, key: &str, default: bool) -> Res<bool> {
    match o.get(key).filter(|v| !v.is_null()) {
        None => Ok(default),
        Some(Value::Bool(b)) => Ok(*b),
        Some(v) => err(&format!("{path}.{key}"), format!("expected true or false, found {v}")),
    }
}

/// Parse `replication.leaderless` (`path` is its JSON path). Counts are checked against the nodes in `validate`.
pub fn parse(v: &Value, path: &str) -> Res<LeaderlessSpec> {
    let Value::Object(o) = v else { return err(path, "expected an object like {\"n\": 3, \"w\": 2, \"r\": 2}") };
    const KEYS: [&str; 9] = [
        "n",
        "w",
        "r",
        "read_repair",
        "anti_entropy_ms",
        "sloppy_quorum",
        "handoff_ms",
        "request_timeout_ms",
        "resolve",
    ];
    if let Some(k) = o.keys().find(|k| !KEYS.contains(&k.as_str())) {
        return err(&format!("{path}.{k}"), format!("unknown field (expected one of: {})", KEYS.join(", ")));
    }
    let d = LeaderlessSpec::default();
    let count = |key: &str, default: usize| -> Res<usize> {
        let x = field_u64(o, path, key, default as u64)?;
        if x == 0 || x > crate::scenario::MAX_NODES as u64 {
            return err(&format!("{path}.{key}"), format!("expected 1..={}, found {x}", crate::scenario::MAX_NODES));
        }
        Ok(x as usize)
    };
    let (n, w, r) = (count("n", d.n)?, count("w", d.w)?, count("r", d.r)?);
    if w > n {
        return err(&format!("{path}.w"), format!("w = {w} is more than n = {n}: no write could ever be acknowledged"));
    }
    if r > n {
        return err(&format!("{path}.r"), format!("r = {r} is more than n = {n}: no read could ever be answered"));
    }
    let ms = |key: &str, default: u64, zero_ok: bool| -> Res<u64> {
        let x = field_u64(o, path, key, default)?;
        if x > MAX_UNTIL_MS || (x == 0 && !zero_ok) {
            let low = if zero_ok { 0 } else { 1 };
            return err(&format!("{path}.{key}"), format!("expected {low}..={MAX_UNTIL_MS} milliseconds, found {x}"));
        }
        Ok(x)
    };
    let resolve = match o.get("resolve").filter(|v| !v.is_null()) {
        None => d.resolve,
        Some(Value::String(s)) if s == "siblings" => Resolve::Siblings,
        Some(Value::String(s)) if s == "lww" => Resolve::Lww,
        Some(v) => {
            return err(
                &format!("{path}.resolve"),
                format!("expected \"siblings\" (keep concurrent versions) or \"lww\" (last write wins), found {v}"),
            )
        }
    };
    Ok(LeaderlessSpec {
        resolve,
        n,
        w,
        r,
        read_repair: field_bool(o, path, "read_repair", d.read_repair)?,
        anti_entropy_ms: ms("anti_entropy_ms", d.anti_entropy_ms, true)?,
        sloppy_quorum: field_bool(o, path, "sloppy_quorum", d.sloppy_quorum)?,
        handoff_ms: ms("handoff_ms", d.handoff_ms, false)?,
        request_timeout_ms: ms("request_timeout_ms", d.request_timeout_ms, false)?,
    })
}

/// A client's `coordinator` and `merge` (`path` is the client's JSON path).
pub fn parse_client(coordinator: Option<&Value>, merge: Option<&Value>, path: &str) -> Res<ClientOptions> {
    let coordinator = match coordinator.filter(|v| !v.is_null()) {
        None => Coordinator::Client,
        Some(Value::String(s)) if s == "client" => Coordinator::Client,
        Some(Value::String(s)) => Coordinator::Node(s.clone()),
        Some(v) => return err(&format!("{path}.coordinator"), format!("expected a node id or \"client\", found {v}")),
    };
    let mut rules = Vec::new();
    if let Some(m) = merge.filter(|v| !v.is_null()) {
        let Value::Object(m) = m else {
            return err(&format!("{path}.merge"), "expected an object like {\"carts.items\": \"union\"}");
        };
        for (k, v) in m {
            let p = format!("{path}.merge.{k}");
            let Some((t, c)) = k.split_once('.').filter(|(t, c)| !t.is_empty() && !c.is_empty()) else {
                return err(&p, format!("expected a \"table.column\" key, found {k:?}"));
            };
            match v.as_str() {
                Some("union") => rules.push(((t.to_ascii_lowercase(), c.to_ascii_lowercase()), MergeRule::Union)),
                _ => return err(&p, format!("expected \"union\" (the one merge rule in this version), found {v}")),
            }
        }
    }
    Ok(ClientOptions { coordinator, merge: rules })
}

/// Checks that need the whole scenario: n no larger than the replicas, coordinators that are replicas, no
/// partitions (the ring is the partitioning).
pub fn validate(spec: &LeaderlessSpec, nodes: &[NodeSpec], clients: &[ClientSpec], parts: &[PartitionSpec]) -> Res<()> {
    let replicas = nodes.iter().filter(|n| n.role == Role::Replica).count();
    if spec.n > replicas {
        return err(
            "replication.leaderless.n",
            format!("n = {} but the scenario has {replicas} replica node(s): n must be at most that", spec.n),
        );
    }
    if !parts.is_empty() {
        return err("partitions", "leaderless replication spreads keys on its own ring: leave partitions out");
    }
    for (i, c) in clients.iter().enumerate() {
        if let Coordinator::Node(id) = &c.leaderless.coordinator {
            if !nodes.iter().any(|n| &n.id == id && n.role == Role::Replica) {
                return err(
                    &format!("clients[{i}].coordinator"),
                    format!("no replica {id:?} (expected a replica's id or \"client\")"),
                );
            }
        }
        if c.cache.is_some() {
            return err(
                &format!("clients[{i}].cache"),
                "the application cache is not modelled under leaderless replication",
            );
        }
    }
    Ok(())
}

/// A client that names a coordinator or merge rule outside leaderless replication.
pub fn check_unused(clients: &[ClientSpec]) -> Res<()> {
    for (i, c) in clients.iter().enumerate() {
        if c.leaderless.coordinator != Coordinator::Client {
            return err(&format!("clients[{i}].coordinator"), "only leaderless replication has coordinators");
        }
        if !c.leaderless.merge.is_empty() {
            return err(&format!("clients[{i}].merge"), "only leaderless replication keeps siblings to merge");
        }
    }
    Ok(())
}

/// Commands that only mean something with a leader (a joining follower, a planned failover, a cache, a storage
/// upgrade) are refused in a leaderless scenario; `listed` are (JSON path, command).
pub fn check_commands<'a>(
    spec: &LeaderlessSpec,
    replicas: usize,
    listed: impl IntoIterator<Item = (String, &'a crate::scenario::TimedCommand)>,
) -> Res<()> {
    use crate::scenario::Command;
    for (path, c) in listed {
        let what = match &c.command {
            Command::AddNode { .. } => "add_node (a follower copying a leader)",
            Command::FailoverTo(_) => "failover_to (there is no leader to hand over)",
            Command::CacheGet { .. } => "cache_get (the application cache)",
            Command::Upgrade { .. } => "upgrade (replicas keep versions, not storage pages)",
            Command::Quorum(q) => {
                // Checked against the scenario's own settings: a lesson's change must be able to apply.
                if let Err(e) = q.applied_to(spec, replicas) {
                    return err(&format!("{path}.quorum"), e);
                }
                continue;
            }
            _ => continue,
        };
        return err(&path, format!("{what} is not part of leaderless replication"));
    }
    Ok(())
}

/// A timed change of the quorum settings (`{"quorum": {"w": 1, "r": 1}}`, or a person's sliders): the fields it
/// names replace the running ones from that moment; operations already under way keep the w or r they started with.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct QuorumChange {
    pub n: Option<usize>,
    pub w: Option<usize>,
    pub r: Option<usize>,
    pub read_repair: Option<bool>,
    pub anti_entropy_ms: Option<u64>,
    pub sloppy_quorum: Option<bool>,
}

impl QuorumChange {
    pub const KEYS: [&'static str; 6] = ["n", "w", "r", "read_repair", "anti_entropy_ms", "sloppy_quorum"];

    /// Parse the object of a `quorum` entry (`path` is its JSON path). Counts against each other and the replicas
    /// are checked in `check_commands` and again when it runs (`applied_to`).
    pub fn parse(v: &Value, path: &str) -> Res<QuorumChange> {
        let Value::Object(o) = v else { return err(path, "expected an object like {\"w\": 1, \"r\": 1}") };
        if let Some(k) = o.keys().find(|k| !Self::KEYS.contains(&k.as_str())) {
            return err(&format!("{path}.{k}"), format!("unknown field (expected one of: {})", Self::KEYS.join(", ")));
        }
        if o.is_empty() {
            return err(path, format!("expected at least one of: {}", Self::KEYS.join(", ")));
        }
        let count = |key: &str| -> Res<Option<usize>> {
            if o.get(key).is_none_or(Value::is_null) {
                return Ok(None);
            }
            let x = field_u64(o, path, key, 0)?;
            if x == 0 || x > crate::scenario::MAX_NODES as u64 {
                return err(
                    &format!("{path}.{key}"),
                    format!("expected 1..={}, found {x}", crate::scenario::MAX_NODES),
                );
            }
            Ok(Some(x as usize))
        };
        let flag = |key: &str| -> Res<Option<bool>> {
            match o.get(key).filter(|v| !v.is_null()) {
                None => Ok(None),
                Some(_) => field_bool(o, path, key, false).map(Some),
            }
        };
        let anti_entropy_ms = match o.get("anti_entropy_ms").filter(|v| !v.is_null()) {
            None => None,
            Some(_) => {
                let x = field_u64(o, path, "anti_entropy_ms", 0)?;
                if x > MAX_UNTIL_MS {
                    return err(
                        &format!("{path}.anti_entropy_ms"),
                        format!("expected 0..={MAX_UNTIL_MS} milliseconds, found {x}"),
                    );
                }
                Some(x)
            }
        };
        let q = QuorumChange {
            n: count("n")?,
            w: count("w")?,
            r: count("r")?,
            read_repair: flag("read_repair")?,
            anti_entropy_ms,
            sloppy_quorum: flag("sloppy_quorum")?,
        };
        if let (Some(n), Some(w)) = (q.n, q.w) {
            if w > n {
                return err(&format!("{path}.w"), format!("w = {w} is more than n = {n}"));
            }
        }
        if let (Some(n), Some(r)) = (q.n, q.r) {
            if r > n {
                return err(&format!("{path}.r"), format!("r = {r} is more than n = {n}"));
            }
        }
        Ok(q)
    }

    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        let mut put = |k: &str, v: Option<Value>| {
            if let Some(v) = v {
                m.insert(k.into(), v);
            }
        };
        put("n", self.n.map(|x| json!(x)));
        put("w", self.w.map(|x| json!(x)));
        put("r", self.r.map(|x| json!(x)));
        put("read_repair", self.read_repair.map(|x| json!(x)));
        put("anti_entropy_ms", self.anti_entropy_ms.map(|x| json!(x)));
        put("sloppy_quorum", self.sloppy_quorum.map(|x| json!(x)));
        Value::Object(m)
    }

    /// `quorum n=3 w=1 r=1 read repair off` (only what it changes).
    pub fn label(&self) -> String {
        let onoff = |b: bool| if b { "on" } else { "off" };
        let mut parts = vec!["quorum".to_string()];
        for (k, v) in [("n", self.n), ("w", self.w), ("r", self.r)] {
            if let Some(v) = v {
                parts.push(format!("{k}={v}"));
            }
        }
        if let Some(b) = self.read_repair {
            parts.push(format!("read repair {}", onoff(b)));
        }
        match self.anti_entropy_ms {
            Some(0) => parts.push("anti-entropy off".into()),
            Some(x) => parts.push(format!("anti-entropy every {x}ms")),
            None => {}
        }
        if let Some(b) = self.sloppy_quorum {
            parts.push(format!("sloppy quorum {}", onoff(b)));
        }
        parts.join(" ")
    }

    /// The settings after this change, or why it cannot apply (w or r above n, n above the replicas): the message
    /// the page shows next to its controls.
    pub fn applied_to(&self, spec: &LeaderlessSpec, replicas: usize) -> Result<LeaderlessSpec, String> {
        let mut s = spec.clone();
        s.n = self.n.unwrap_or(s.n);
        s.w = self.w.unwrap_or(s.w);
        s.r = self.r.unwrap_or(s.r);
        s.read_repair = self.read_repair.unwrap_or(s.read_repair);
        s.anti_entropy_ms = self.anti_entropy_ms.unwrap_or(s.anti_entropy_ms);
        s.sloppy_quorum = self.sloppy_quorum.unwrap_or(s.sloppy_quorum);
        if s.n == 0 || s.w == 0 || s.r == 0 {
            return Err("n, w and r must be at least 1".into());
        }
        if s.n > replicas {
            return Err(format!("n = {} but there are only {replicas} replicas", s.n));
        }
        if s.w > s.n {
            return Err(format!("w = {} is more than n = {}: no write could ever be acknowledged", s.w, s.n));
        }
        if s.r > s.n {
            return Err(format!("r = {} is more than n = {}: no read could ever be answered", s.r, s.n));
        }
        if s.anti_entropy_ms > MAX_UNTIL_MS {
            return Err(format!("anti-entropy interval above {MAX_UNTIL_MS} ms"));
        }
        Ok(s)
    }
}
