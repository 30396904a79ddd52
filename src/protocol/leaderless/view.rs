//! What the playground draws of a leaderless run: every node as a replica with its badge and rows (siblings as
//! rows of their own), each key's versions with their vectors, and the hints a node holds.

use crate::view::{value_text, ClientView, ClusterView, NodeView, TableView};
use crate::world::sim::Simulation;

use super::spec::Coordinator;
use super::versions;
use super::{Cluster, Replica};

/// A last-write-wins timestamp as the inspector shows it: `105.405 ms by a's clock` (ms of the run by the
/// coordinator's clock; one that runs behind can read below 0).
fn timestamp_of(s: &versions::Sibling, names: &[impl AsRef<str>]) -> String {
    let Some(ts) = s.ts else { return String::new() };
    let by = names.get(s.dot.0).map_or("?", |n| n.as_ref());
    format!("{} ms by {by}'s clock", (ts - crate::protocol::single_leader::EPOCH_BASE_US) as f64 / 1000.0)
}

/// A version's row as the inspector lists it.
fn value_of(s: &versions::Sibling) -> String {
    match &s.row {
        Some(r) => r.iter().map(|(_, v)| value_text(v)).collect::<Vec<_>>().join(", "),
        None => "(deleted)".into(),
    }
}

impl Simulation {
    /// A leaderless run's view; only `detail`'s tables (its rows, versions and hints) are filled.
    pub(crate) fn leaderless_view(&self, detail: Option<&str>) -> ClusterView {
        let now = self.now();
        let Some(c) = self.protocol.leaderless() else {
            return ClusterView {
                now,
                until: self.scenario.until(),
                leader_lsn: 0,
                nodes: Vec::new(),
                clients: Vec::new(),
                messages: Vec::new(),
                cuts: Vec::new(),
            };
        };
        let names: Vec<&str> = c.names.iter().map(|n| &**n).collect();
        let nodes = c
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let seen = self.protocol.observe(i);
                let tables = if detail == Some(&*n.id) { replica_tables(c, n, &names) } else { Vec::new() };
                NodeView {
                    id: n.id.clone(),
                    role: seen.role,
                    status: seen.status,
                    lsn: n.data.values().map(Vec::len).sum::<usize>() as u64,
                    lag_records: 0,
                    lag_us: 0,
                    clock_offset_ms: n.clock.offset_ms,
                    clock_drift_ppm: n.clock.drift_ppm,
                    buffered: 0,
                    waiting_writes: n.coordinating.values().filter(|o| !o.finished).count(),
                    error: None,
                    halted_on_format: None,
                    tables,
                    log_tail: Vec::new(),
                    epoch: 0,
                    candidate: false,
                    synchronous: false,
                    joining: None,
                    follows: None,
                    partition: None,
                }
            })
            .collect();
        let clients = self
            .clients
            .iter()
            .enumerate()
            .map(|(i, cs)| ClientView {
                id: cs.id.clone(),
                target: match &c.clients[i].opts.coordinator {
                    Coordinator::Node(id) => id.clone(),
                    // The client fans out itself: no one target (the canvas draws it talking to every replica).
                    Coordinator::Client => String::new(),
                },
                pending: self.history.iter().filter(|h| h.client == i && h.end.is_none()).count(),
            })
            .collect();
        let messages = self.message_views();
        let cuts = self.cut_views(c.nodes.iter().map(|n| n.id.clone()));
        ClusterView { now, until: self.scenario.until(), leader_lsn: 0, nodes, clients, messages, cuts }
    }
}

/// A replica's tables for the inspector: its rows, every version with its vector (and timestamp under last write
/// wins), and the hints it holds for others.
fn replica_tables(c: &Cluster, n: &Replica, names: &[&str]) -> Vec<TableView> {
    let mut tables: Vec<TableView> = c
        .schema
        .table_names()
        .into_iter()
        .map(|t| {
            let lower = t.to_ascii_lowercase();
            let rows = n
                .data
                .iter()
                .filter(|(k, _)| k.table == lower)
                .flat_map(|(_, set)| set.iter().filter_map(|s| s.row.as_ref()))
                .map(|r| r.iter().map(|(_, v)| value_text(v)).collect())
                .collect();
            TableView { columns: c.schema.columns(&t).unwrap_or_default(), rows, name: t }
        })
        .collect();
    // Under last write wins each version also shows its timestamp: the only thing replicas compare.
    let lww = c.spec.lww();
    let mut columns = vec!["key".to_string(), "vector".into(), "value".into()];
    if lww {
        columns.push("timestamp".into());
    }
    tables.push(TableView {
        name: "versions".into(),
        columns,
        rows: n
            .data
            .iter()
            .flat_map(|(k, set)| {
                set.iter().map(|s| {
                    let mut row = vec![k.label(), versions::label(&s.clock(), names), value_of(s)];
                    if lww {
                        row.push(timestamp_of(s, names));
                    }
                    row
                })
            })
            .collect(),
    });
    if !n.hints.is_empty() {
        tables.push(TableView {
            name: "hints".into(),
            columns: vec!["for".into(), "key".into(), "vector".into(), "value".into()],
            rows: n
                .hints
                .iter()
                .map(|h| {
                    vec![
                        c.nodes[h.home].id.clone(),
                        h.key.label(),
                        versions::label(&h.version.clock(), names),
                        value_of(&h.version),
                    ]
                })
                .collect(),
        });
    }
    tables
}
