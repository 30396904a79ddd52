//! The scenario fields of multi-leader replication (docs/scenario-format.md, "Multi-leader"), parsed from the raw
//! JSON after the single-leader parser has checked the rest, with the same kind of errors: the JSON path of the
//! field that is wrong and what was expected. `write_json` puts them back, so a scenario round-trips.
//!
//! A scenario is multi-leader when it has two or more nodes with role "leader" and no partitions. Every replica
//! belongs to a datacenter (`nodes[i].datacenter`; a leader without one gets its own, named after it; a follower
//! without one joins the first leader's); each datacenter has exactly one leader.

use serde_json::{json, Map, Value};

use crate::scenario::{ClientSpec, NodeSpec, Role, ScenarioError};

type Res<T> = Result<T, ScenarioError>;

fn err<T>(path: &str, message: impl Into<String>) -> Res<T> {
    Err(ScenarioError { path: path.to_string(), message: message.into() })
}

/// How the leaders pass changes to each other.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Topology {
    AllToAll,
    Circular,
    Star,
}

impl Topology {
    pub fn name(self) -> &'static str {
        match self {
            Topology::AllToAll => "all-to-all",
            Topology::Circular => "circular",
            Topology::Star => "star",
        }
    }
    pub fn parse(s: &str, path: &str) -> Res<Topology> {
        match s {
            "all-to-all" => Ok(Topology::AllToAll),
            "circular" => Ok(Topology::Circular),
            "star" => Ok(Topology::Star),
            _ => err(path, format!("expected one of \"all-to-all\", \"circular\", \"star\", found {s:?}")),
        }
    }
}

/// How concurrent writes to the same row are resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Conflict {
    None,
    Lww,
    ReplicaId,
    Merge,
    Siblings,
    OnWrite,
    Crdt,
}

impl Conflict {
    pub const ALL: [Conflict; 7] = [
        Conflict::None,
        Conflict::Lww,
        Conflict::ReplicaId,
        Conflict::Merge,
        Conflict::Siblings,
        Conflict::OnWrite,
        Conflict::Crdt,
    ];
    pub fn name(self) -> &'static str {
        match self {
            Conflict::None => "none",
            Conflict::Lww => "lww",
            Conflict::ReplicaId => "replica-id",
            Conflict::Merge => "merge",
            Conflict::Siblings => "siblings",
            Conflict::OnWrite => "on-write",
            Conflict::Crdt => "crdt",
        }
    }
    /// The strategies this build implements (the others are refused with a clear error).
    pub fn implemented(self) -> bool {
        true
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Causality {
    None,
    VersionVectors,
}

impl Causality {
    pub fn name(self) -> &'static str {
        match self {
            Causality::None => "none",
            Causality::VersionVectors => "version-vectors",
        }
    }
}

/// An on-write conflict handler for one column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Handler {
    Max,
    Min,
    Sum,
    Concat,
}

impl Handler {
    pub fn name(self) -> &'static str {
        match self {
            Handler::Max => "max",
            Handler::Min => "min",
            Handler::Sum => "sum",
            Handler::Concat => "concat",
        }
    }
}

/// Links between different datacenters (local links keep `network`'s settings).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DcLinks {
    pub latency_ms: Option<(u64, u64)>,
    pub loss: Option<f64>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct MultiLeaderSpec {
    pub topology: Topology,
    /// The ring of a circular topology, by node id (every leader once).
    pub ring: Vec<String>,
    /// The root of a star.
    pub hub: Option<String>,
    pub conflict: Conflict,
    pub causality: Causality,
    /// `table.column` -> handler, for `conflict: on-write`.
    pub on_write: Vec<(String, Handler)>,
    /// Datacenter names, in order of first appearance.
    pub datacenters: Vec<String>,
    /// Each node's datacenter (index into `datacenters`); None for nodes that are not replicas.
    pub dc_of: Vec<Option<usize>>,
    /// Whether `nodes[i].datacenter` was written (for `write_json`).
    pub dc_given: Vec<bool>,
    /// `nodes[i].auto_increment`: (increment, offset).
    pub auto_increment: Vec<Option<(i64, i64)>>,
    pub dc_links: Option<DcLinks>,
    /// Per client: its datacenter and its home leader, as written.
    pub client_dc: Vec<Option<String>>,
    pub client_leader: Vec<Option<String>>,
}

impl MultiLeaderSpec {
    /// The leader node ids, in node order.
    pub fn leaders<'a>(&self, nodes: &'a [NodeSpec]) -> Vec<&'a str> {
        nodes.iter().filter(|n| n.role == Role::Leader).map(|n| n.id.as_str()).collect()
    }

    /// The home leader of client `c` (node id): its own `leader`, else its datacenter's, else the first leader.
    pub fn home_leader<'a>(&'a self, c: usize, nodes: &'a [NodeSpec]) -> &'a str {
        if let Some(Some(l)) = self.client_leader.get(c) {
            return l;
        }
        self.client_dc_leader(c, nodes).unwrap_or_else(|| self.leaders(nodes)[0])
    }

    /// The leader of client `c`'s datacenter, if it has one.
    pub fn client_dc_leader<'a>(&self, c: usize, nodes: &'a [NodeSpec]) -> Option<&'a str> {
        let dc = self.client_dc.get(c)?.as_ref()?;
        let d = self.datacenters.iter().position(|x| x == dc)?;
        nodes
            .iter()
            .enumerate()
            .find(|(i, n)| n.role == Role::Leader && self.dc_of[*i] == Some(d))
            .map(|(_, n)| n.id.as_str())
    }
}

fn obj<'a>(v: &'a Value, path: &str) -> Res<&'a Map<String, Value>> {
    v.as_object().map_or_else(|| err(path, "expected an object"), Ok)
}

fn str_at<'a>(o: &'a Map<String, Value>, key: &str, path: &str) -> Res<Option<&'a str>> {
    match o.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => err(&format!("{path}.{key}"), "expected a string"),
    }
}

fn i64_at(o: &Map<String, Value>, key: &str, path: &str) -> Res<Option<i64>> {
    match o.get(key) {
        None => Ok(None),
        Some(v) => v
            .as_i64()
            .map(Some)
            .ok_or(ScenarioError { path: format!("{path}.{key}"), message: "expected an integer".into() }),
    }
}

fn arr<'a>(o: &'a Map<String, Value>, key: &str, path: &str) -> Res<&'a [Value]> {
    match o.get(key) {
        None => Ok(&[]),
        Some(Value::Array(a)) => Ok(a),
        Some(_) => err(&format!("{path}.{key}"), "expected an array"),
    }
}

/// Keys the single-leader parser must let through, per object.
pub const NODE_KEYS: [&str; 2] = ["datacenter", "auto_increment"];
pub const REPLICATION_KEYS: [&str; 6] = ["topology", "ring", "hub", "conflict", "causality", "on_write"];
pub const NETWORK_KEYS: [&str; 1] = ["datacenters"];
pub const CLIENT_KEYS: [&str; 2] = ["datacenter", "leader"];

fn dc_name(s: &str, path: &str) -> Res<String> {
    let ok = !s.is_empty() && s.len() <= 24 && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !ok {
        return err(path, format!("expected 1-24 letters, digits, '-' or '_', found {s:?}"));
    }
    Ok(s.to_string())
}

/// Parse the multi-leader fields of scenario `v`, whose nodes and clients are already parsed. `None`: not a
/// multi-leader scenario (and none of its fields is set).
pub fn parse(v: &Value, nodes: &[NodeSpec], clients: &[ClientSpec], partitioned: bool) -> Res<Option<MultiLeaderSpec>> {
    let root = obj(v, "")?;
    let empty = Map::new();
    let repl = match root.get("replication") {
        Some(r) => obj(r, "replication")?,
        None => &empty,
    };
    let leaders: Vec<&str> = nodes.iter().filter(|n| n.role == Role::Leader).map(|n| n.id.as_str()).collect();
    let multi = leaders.len() > 1 && !partitioned;
    // Where a multi-leader field is set on a scenario that is not multi-leader, say so at that field.
    let mut set: Vec<String> =
        REPLICATION_KEYS.iter().filter(|k| repl.contains_key(**k)).map(|k| format!("replication.{k}")).collect();
    let node_vals = match root.get("nodes") {
        Some(Value::Array(a)) => a.as_slice(),
        _ => &[],
    };
    for (i, n) in node_vals.iter().enumerate() {
        for k in NODE_KEYS {
            if n.get(k).is_some() {
                set.push(format!("nodes[{i}].{k}"));
            }
        }
    }
    let client_vals = match root.get("clients") {
        Some(Value::Array(a)) => a.as_slice(),
        _ => &[],
    };
    for (i, c) in client_vals.iter().enumerate() {
        for k in CLIENT_KEYS {
            if c.get(k).is_some() {
                set.push(format!("clients[{i}].{k}"));
            }
        }
    }
    let network = match root.get("network") {
        Some(n) => obj(n, "network")?,
        None => &empty,
    };
    if network.contains_key("datacenters") {
        set.push("network.datacenters".into());
    }
    if !multi {
        if let Some(p) = set.first() {
            let why = if partitioned {
                "multi-leader replication cannot be combined with partitions in this version"
            } else {
                "multi-leader replication needs at least two nodes with role \"leader\""
            };
            return err(p, why);
        }
        return Ok(None);
    }
    if nodes.iter().any(|n| matches!(n.role, Role::Controller | Role::Replicator | Role::Cdc | Role::Cache)) {
        return err("nodes", "multi-leader replication takes leaders and followers only in this version");
    }
    if root.get("failover").and_then(|f| f.get("auto")).and_then(Value::as_bool) == Some(true) {
        return err(
            "failover.auto",
            "automatic failover inside a datacenter is not supported with several leaders in this version",
        );
    }
    let log = repl.get("log").and_then(Value::as_str).unwrap_or("logical");
    if log != "logical" {
        return err(
            "replication.log",
            format!("leaders exchange row changes: multi-leader replication needs \"logical\", found {log:?}"),
        );
    }
    // Datacenters.
    let mut datacenters: Vec<String> = Vec::new();
    let mut dc_of: Vec<Option<usize>> = vec![None; nodes.len()];
    let mut dc_given = vec![false; nodes.len()];
    let mut auto_increment = vec![None; nodes.len()];
    for (i, n) in nodes.iter().enumerate() {
        let Some(nv) = node_vals.get(i) else { continue };
        let path = format!("nodes[{i}]");
        let o = obj(nv, &path)?;
        if let Some(d) = str_at(o, "datacenter", &path)? {
            let d = dc_name(d, &format!("{path}.datacenter"))?;
            dc_given[i] = true;
            let k = match datacenters.iter().position(|x| *x == d) {
                Some(k) => k,
                None => {
                    datacenters.push(d);
                    datacenters.len() - 1
                }
            };
            dc_of[i] = Some(k);
        }
        if let Some(a) = o.get("auto_increment") {
            let p = format!("{path}.auto_increment");
            let ao = obj(a, &p)?;
            if let Some(k) = ao.keys().find(|k| *k != "increment" && *k != "offset") {
                return err(&format!("{p}.{k}"), "unknown field (expected increment, offset)");
            }
            let inc = i64_at(ao, "increment", &p)?.unwrap_or(1);
            let off = i64_at(ao, "offset", &p)?.unwrap_or(1);
            if !(1..=65_535).contains(&inc) {
                return err(&format!("{p}.increment"), format!("expected 1..=65535, found {inc}"));
            }
            if !(1..=inc).contains(&off) {
                return err(&format!("{p}.offset"), format!("expected 1..=increment ({inc}), found {off}"));
            }
            if n.role != Role::Leader {
                return err(&p, "only a leader hands out keys");
            }
            auto_increment[i] = Some((inc, off));
        }
    }
    // A leader without a datacenter has its own; then each datacenter needs exactly one leader.
    for (i, n) in nodes.iter().enumerate() {
        if n.role == Role::Leader && dc_of[i].is_none() {
            let mut name = n.id.clone();
            while datacenters.contains(&name) {
                name.push('_');
            }
            datacenters.push(name);
            dc_of[i] = Some(datacenters.len() - 1);
        }
    }
    for (d, name) in datacenters.iter().enumerate() {
        let ls: Vec<&str> = nodes
            .iter()
            .enumerate()
            .filter(|(i, n)| n.role == Role::Leader && dc_of[*i] == Some(d))
            .map(|(_, n)| n.id.as_str())
            .collect();
        match ls.len() {
            1 => {}
            0 => {
                let i = dc_of.iter().position(|x| *x == Some(d)).unwrap_or(0);
                return err(&format!("nodes[{i}].datacenter"), format!("datacenter {name:?} has no leader"));
            }
            _ => {
                let i = nodes.iter().rposition(|n| n.id == ls[ls.len() - 1]).unwrap_or(0);
                return err(
                    &format!("nodes[{i}].datacenter"),
                    format!(
                        "datacenter {name:?} has more than one leader ({}): one leader per datacenter",
                        ls.join(", ")
                    ),
                );
            }
        }
    }
    let first_dc = nodes.iter().position(|n| n.role == Role::Leader).and_then(|i| dc_of[i]);
    for (i, n) in nodes.iter().enumerate() {
        if n.role.is_replica() && dc_of[i].is_none() {
            dc_of[i] = first_dc;
        }
    }
    // Topology.
    let topology = match str_at(repl, "topology", "replication")? {
        None => Topology::AllToAll,
        Some(t) => Topology::parse(t, "replication.topology")?,
    };
    let mut ring = Vec::new();
    for (k, r) in arr(repl, "ring", "replication")?.iter().enumerate() {
        let p = format!("replication.ring[{k}]");
        let Some(id) = r.as_str() else { return err(&p, "expected a node id") };
        if !leaders.contains(&id) {
            return err(&p, format!("no leader {id:?} (a ring joins leaders)"));
        }
        if ring.iter().any(|x| x == id) {
            return err(&p, format!("{id:?} is already in the ring"));
        }
        ring.push(id.to_string());
    }
    if repl.contains_key("ring") && topology != Topology::Circular {
        return err("replication.ring", "a ring is only for \"topology\": \"circular\"");
    }
    if topology == Topology::Circular {
        if ring.is_empty() {
            ring = leaders.iter().map(|s| s.to_string()).collect();
        } else if let Some(missing) = leaders.iter().find(|l| !ring.iter().any(|r| r == *l)) {
            return err("replication.ring", format!("leader {missing:?} is not in the ring (every leader must be)"));
        }
    }
    let hub = str_at(repl, "hub", "replication")?.map(str::to_string);
    match (&hub, topology) {
        (Some(_), t) if t != Topology::Star => {
            return err("replication.hub", "a hub is only for \"topology\": \"star\"")
        }
        (None, Topology::Star) => return err("replication.hub", "a star needs its root: the id of a leader"),
        (Some(h), _) if !leaders.contains(&h.as_str()) => {
            return err("replication.hub", format!("no leader {h:?} (the hub must be a leader)"))
        }
        _ => {}
    }
    let conflict = match str_at(repl, "conflict", "replication")? {
        None => Conflict::Lww,
        Some(c) => match Conflict::ALL.into_iter().find(|x| x.name() == c) {
            Some(x) if x.implemented() => x,
            Some(x) => {
                return err("replication.conflict", format!("{:?} is not implemented in this build yet", x.name()))
            }
            None => {
                let all: Vec<String> = Conflict::ALL.iter().map(|x| format!("{:?}", x.name())).collect();
                return err("replication.conflict", format!("expected one of {}, found {c:?}", all.join(", ")));
            }
        },
    };
    let causality = match str_at(repl, "causality", "replication")? {
        None | Some("version-vectors") => Causality::VersionVectors,
        Some("none") => Causality::None,
        Some(c) => {
            return err("replication.causality", format!("expected \"none\" or \"version-vectors\", found {c:?}"))
        }
    };
    let mut on_write = Vec::new();
    if let Some(h) = repl.get("on_write") {
        for (col, v) in obj(h, "replication.on_write")? {
            let p = format!("replication.on_write.{col}");
            if !matches!(col.split_once('.'), Some((t, c)) if !t.is_empty() && !c.is_empty()) {
                return err(&p, "expected a key \"table.column\"");
            }
            let handler = match v.as_str() {
                Some("max") => Handler::Max,
                Some("min") => Handler::Min,
                Some("sum") => Handler::Sum,
                Some("concat") => Handler::Concat,
                _ => return err(&p, "expected one of \"max\", \"min\", \"sum\", \"concat\""),
            };
            on_write.push((col.to_ascii_lowercase(), handler));
        }
        if conflict != Conflict::OnWrite {
            return err("replication.on_write", "handlers are only for \"conflict\": \"on-write\"");
        }
    }
    let dc_links = match network.get("datacenters") {
        None => None,
        Some(d) => {
            let o = obj(d, "network.datacenters")?;
            if let Some(k) = o.keys().find(|k| *k != "latency_ms" && *k != "loss") {
                return err(&format!("network.datacenters.{k}"), "unknown field (expected latency_ms, loss)");
            }
            let latency_ms = match o.get("latency_ms") {
                None => None,
                Some(Value::Number(n)) => {
                    let l = n.as_u64().filter(|l| *l <= 60_000);
                    let Some(l) = l else { return err("network.datacenters.latency_ms", "expected 0..=60000") };
                    Some((l, l))
                }
                Some(l) => {
                    let lo = obj(l, "network.datacenters.latency_ms")?;
                    let min = lo.get("min").and_then(Value::as_u64);
                    let max = lo.get("max").and_then(Value::as_u64).or(min);
                    match (min, max) {
                        (Some(a), Some(b)) if a <= b && b <= 60_000 => Some((a, b)),
                        _ => {
                            return err(
                                "network.datacenters.latency_ms",
                                "expected {\"min\": a, \"max\": b} with a <= b <= 60000",
                            )
                        }
                    }
                }
            };
            let loss = match o.get("loss") {
                None => None,
                Some(l) => match l.as_f64().filter(|p| (0.0..=1.0).contains(p)) {
                    Some(p) => Some(p),
                    None => return err("network.datacenters.loss", "expected a probability between 0 and 1"),
                },
            };
            Some(DcLinks { latency_ms, loss })
        }
    };
    let mut client_dc = Vec::new();
    let mut client_leader = Vec::new();
    for (i, _) in clients.iter().enumerate() {
        let path = format!("clients[{i}]");
        let o = match client_vals.get(i) {
            Some(c) => obj(c, &path)?,
            None => &empty,
        };
        let dc = str_at(o, "datacenter", &path)?;
        if let Some(d) = dc {
            if !datacenters.iter().any(|x| x == d) {
                return err(
                    &format!("{path}.datacenter"),
                    format!("no datacenter {d:?} (known: {})", datacenters.join(", ")),
                );
            }
        }
        let l = str_at(o, "leader", &path)?;
        if let Some(l) = l {
            if !leaders.contains(&l) {
                return err(&format!("{path}.leader"), format!("no leader {l:?}"));
            }
        }
        client_dc.push(dc.map(str::to_string));
        client_leader.push(l.map(str::to_string));
    }
    Ok(Some(MultiLeaderSpec {
        topology,
        ring,
        hub,
        conflict,
        causality,
        on_write,
        datacenters,
        dc_of,
        dc_given,
        auto_increment,
        dc_links,
        client_dc,
        client_leader,
    }))
}

impl MultiLeaderSpec {
    /// Put the multi-leader fields into the JSON that `Scenario::to_json` wrote.
    pub fn write_json(&self, o: &mut Map<String, Value>) {
        if let Some(Value::Array(nodes)) = o.get_mut("nodes") {
            for (i, n) in nodes.iter_mut().enumerate() {
                if let (Some(true), Some(Some(d))) = (self.dc_given.get(i), self.dc_of.get(i)) {
                    n["datacenter"] = json!(self.datacenters[*d]);
                }
                if let Some(Some((inc, off))) = self.auto_increment.get(i) {
                    n["auto_increment"] = json!({"increment": inc, "offset": off});
                }
            }
        }
        if let Some(r) = o.get_mut("replication") {
            r["topology"] = json!(self.topology.name());
            if self.topology == Topology::Circular {
                r["ring"] = json!(self.ring);
            }
            if let Some(h) = &self.hub {
                r["hub"] = json!(h);
            }
            r["conflict"] = json!(self.conflict.name());
            r["causality"] = json!(self.causality.name());
            if !self.on_write.is_empty() {
                let m: Map<String, Value> = self.on_write.iter().map(|(c, h)| (c.clone(), json!(h.name()))).collect();
                r["on_write"] = Value::Object(m);
            }
        }
        if let (Some(n), Some(d)) = (o.get_mut("network"), &self.dc_links) {
            let mut m = Map::new();
            if let Some((a, b)) = d.latency_ms {
                m.insert("latency_ms".into(), json!({"min": a, "max": b}));
            }
            if let Some(l) = d.loss {
                m.insert("loss".into(), json!(l));
            }
            n["datacenters"] = Value::Object(m);
        }
        if let Some(Value::Array(cs)) = o.get_mut("clients") {
            for (i, c) in cs.iter_mut().enumerate() {
                if let Some(Some(d)) = self.client_dc.get(i) {
                    c["datacenter"] = json!(d);
                }
                if let Some(Some(l)) = self.client_leader.get(i) {
                    c["leader"] = json!(l);
                }
            }
        }
    }

    /// The links between endpoints of different datacenters, for the network (before the scenario's own
    /// `network.links`, which still override single links). Clients with a datacenter count too.
    pub fn links(&self, nodes: &[NodeSpec], clients: &[ClientSpec]) -> Vec<crate::scenario::LinkSpec> {
        let Some(d) = self.dc_links else { return Vec::new() };
        let mut at: Vec<(&str, usize)> =
            nodes.iter().enumerate().filter_map(|(i, n)| self.dc_of[i].map(|d| (n.id.as_str(), d))).collect();
        for (i, c) in clients.iter().enumerate() {
            if let Some(Some(name)) = self.client_dc.get(i) {
                if let Some(k) = self.datacenters.iter().position(|x| x == name) {
                    at.push((c.id.as_str(), k));
                }
            }
        }
        let mut out = Vec::new();
        for (i, (a, da)) in at.iter().enumerate() {
            for (b, db) in &at[i + 1..] {
                if da != db {
                    out.push(crate::scenario::LinkSpec {
                        from: a.to_string(),
                        to: b.to_string(),
                        both_ways: true,
                        latency_ms: d.latency_ms,
                        loss: d.loss,
                        duplicate: None,
                        reorder: None,
                    });
                }
            }
        }
        out
    }
}
