//! What the front end draws, computed from the simulation at the current moment. The UI never computes protocol
//! logic: it renders these structs and turns clicks into commands.

pub(crate) use crate::log_methods::value_text;
use crate::protocol::single_leader::{Endpoint, Status};
use crate::world::sim::Simulation;
use crate::world::time::Micros;
use crate::world::trace::MsgKind;

#[derive(Clone, Debug, PartialEq)]
pub struct ClusterView {
    pub now: Micros,
    pub until: Micros,
    pub leader_lsn: u64,
    pub nodes: Vec<NodeView>,
    pub clients: Vec<ClientView>,
    pub messages: Vec<MessageView>,
    /// Directed cuts between named endpoints: (from, to).
    pub cuts: Vec<(String, String)>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct NodeView {
    pub id: String,
    pub role: crate::scenario::Role,
    pub status: Status,
    pub lsn: u64,
    /// Entries the leader has committed that this node has not applied.
    pub lag_records: u64,
    /// How long ago the leader committed the oldest entry this node lacks (0 when caught up).
    pub lag_us: Micros,
    pub clock_offset_ms: i64,
    pub clock_drift_ppm: i64,
    /// Entries received but not yet applied (out of order, or waiting out an apply delay).
    pub buffered: usize,
    /// Client writes the leader holds until followers confirm (sync / semi-sync).
    pub waiting_writes: usize,
    pub error: Option<String>,
    /// Replication stopped on a WAL record of another storage format: (record format, own format).
    pub halted_on_format: Option<(u8, u8)>,
    pub tables: Vec<TableView>,
    /// The last few log entries: (lsn, description).
    pub log_tail: Vec<(u64, String)>,
    /// The newest epoch (term) this node knows.
    pub epoch: u64,
    /// Standing for election right now.
    pub candidate: bool,
    /// The leader's current synchronous follower (semi-sync), or every follower in sync mode.
    pub synchronous: bool,
    /// A joining follower's progress (snapshot or file copy chunks, then catching up).
    pub joining: Option<crate::protocol::single_leader::Joining>,
    /// Who this node believes leads.
    pub follows: Option<String>,
    /// The partition (replication group) it belongs to, when the database is partitioned.
    pub partition: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct TableView {
    pub name: String,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ClientView {
    pub id: String,
    /// The node it sends to; empty for a leaderless client that coordinates itself (it talks to the replicas).
    pub target: String,
    pub pending: usize,
}

#[derive(Clone, Debug, PartialEq)]
pub struct MessageView {
    pub id: u64,
    pub from: String,
    pub to: String,
    pub kind: MsgKind,
    pub label: String,
    pub sent: Micros,
    pub deliver: Micros,
    /// The network will drop it (loss or a cut link): drawn fading.
    pub doomed: bool,
}

impl MessageView {
    /// Position along the link at time `t`, 0.0 at the sender, 1.0 at the receiver.
    pub fn progress(&self, t: Micros) -> f64 {
        if self.deliver <= self.sent {
            return 1.0;
        }
        let p = t.saturating_sub(self.sent) as f64 / (self.deliver - self.sent) as f64;
        p.clamp(0.0, 1.0)
    }
}

pub const LOG_TAIL: usize = 6;

/// Every table of a database, its rows as text.
fn table_views(db: &crate::sql::Database) -> Vec<TableView> {
    db.table_names()
        .into_iter()
        .map(|t| TableView {
            columns: db.columns(&t).unwrap_or_default(),
            rows: db.rows(&t).iter().map(|r| r.iter().map(|(_, v)| value_text(v)).collect()).collect(),
            name: t,
        })
        .collect()
}

impl Simulation {
    /// The cluster at this moment, without any node's tables or log tail (what the canvas draws).
    pub fn view(&self) -> ClusterView {
        self.view_of(None)
    }

    /// The cluster at this moment, with the tables and log tail of `detail` (the node the inspector shows) only.
    /// Those are every row of a database formatted as text: built for every node on every frame, they were a good
    /// share of a busy cluster's frame (issue 13), for one node that the inspector lists at most.
    /// A cache's keys are always there: its card counts them.
    pub fn view_of(&self, detail: Option<&str>) -> ClusterView {
        let now = self.now();
        let Some(cl) = self.protocol.single_leader() else { return self.leaderless_view(detail) };
        let leader = cl.leader();
        let leader_lsn = leader.map_or(0, |l| cl.nodes[l].lsn());
        let sync_of_leader = leader.and_then(|l| cl.nodes[l].sync_follower());
        // A multi-leader run is one replication group per datacenter.
        let partitioned = !self.scenario.partitions.is_empty() || self.scenario.multi_leader.is_some();
        let nodes = cl
            .nodes
            .iter()
            .filter(|n| n.status != Status::Absent)
            .map(|n| {
                // Lag is measured against the leader of the node's own partition.
                let seen = self.protocol.observe(n.index);
                let leader = if partitioned { cl.leader_of(seen.group) } else { leader };
                let leader_lsn = leader.map_or(0, |l| cl.nodes[l].lsn());
                let lag_records = if n.is_replica() { leader_lsn.saturating_sub(n.lsn()) } else { 0 };
                let lag_us = match leader {
                    Some(l) if lag_records > 0 => {
                        cl.nodes[l].entry(n.lsn() + 1).map_or(0, |e| now.saturating_sub(e.committed_at))
                    }
                    _ => 0,
                };
                let detailed = detail == Some(n.id.as_str());
                let mut tables: Vec<TableView> = if detailed { table_views(&n.db) } else { Vec::new() };
                if n.role == crate::scenario::Role::Cache {
                    tables.push(TableView {
                        name: "cache".into(),
                        columns: vec!["key".into(), "owner".into(), "row".into()],
                        rows: n
                            .cache_entries()
                            .iter()
                            .map(|(k, (o, r))| vec![k.clone(), o.clone(), r.clone()])
                            .collect(),
                    });
                }
                let start = if detailed { n.log.len().saturating_sub(LOG_TAIL) } else { n.log.len() };
                NodeView {
                    id: n.id.clone(),
                    role: seen.role,
                    status: seen.status,
                    lsn: n.lsn(),
                    lag_records,
                    lag_us,
                    clock_offset_ms: n.clock.offset_ms,
                    clock_drift_ppm: n.clock.drift_ppm,
                    buffered: n.buffered(),
                    waiting_writes: n.waiting_writes(),
                    error: n.halt_error.clone(),
                    halted_on_format: n.halted_on_format,
                    tables,
                    log_tail: n.log.iter().skip(start).map(|e| (e.lsn, e.record.describe())).collect(),
                    epoch: n.epoch,
                    candidate: n.is_candidate(),
                    synchronous: match self.scenario.replication.mode {
                        crate::scenario::Mode::Sync => n.role == crate::scenario::Role::Follower,
                        crate::scenario::Mode::SemiSync => sync_of_leader == Some(n.index),
                        crate::scenario::Mode::Async => false,
                    },
                    joining: n.joining.clone(),
                    follows: n.leader.filter(|l| *l != n.index).map(|l| cl.nodes[l].id.clone()),
                    partition: self
                        .scenario
                        .partitions
                        .get(cl.partition_of[n.index])
                        .filter(|_| n.is_replica())
                        .map(|p| p.id.clone()),
                }
            })
            .collect();
        let clients = self
            .clients
            .iter()
            .enumerate()
            .map(|(i, c)| ClientView {
                id: c.id.clone(),
                // Multi-leader: the user's home leader (a `move` changes it).
                target: cl.nodes[match &self.protocol {
                    crate::protocol::Protocol::MultiLeader(ml) => ml.home.get(i).copied(),
                    _ => None,
                }
                .unwrap_or(cl.clients[i].target)]
                .id
                .clone(),
                pending: self.history.iter().filter(|h| h.client == i && h.end.is_none()).count(),
            })
            .collect();
        let messages = self.message_views();
        let cuts = self.cut_views(cl.nodes.iter().map(|n| n.id.clone()));
        ClusterView { now, until: self.scenario.until(), leader_lsn, nodes, clients, messages, cuts }
    }

    /// The messages in flight, for any protocol's view.
    pub(crate) fn message_views(&self) -> Vec<MessageView> {
        self.in_flight()
            .map(|(id, m)| MessageView {
                id,
                from: self.name(m.from).to_string(),
                to: self.name(m.to).to_string(),
                kind: m.payload.kind(),
                label: m.payload.label(),
                sent: m.sent,
                deliver: m.deliver,
                doomed: m.doomed.is_some(),
            })
            .collect()
    }

    /// Every cut directed link between the given nodes and the clients, for any protocol's view.
    pub(crate) fn cut_views(&self, nodes: impl Iterator<Item = String>) -> Vec<(String, String)> {
        let mut names: Vec<String> = nodes.collect();
        names.extend(self.clients.iter().map(|c| c.id.clone()));
        let mut cuts = Vec::new();
        for a in &names {
            for b in &names {
                if a != b && self.net.link_state(a, b).0 {
                    cuts.push((a.clone(), b.clone()));
                }
            }
        }
        cuts
    }

    /// Name of an endpoint for views.
    pub fn endpoint_name(&self, e: Endpoint) -> String {
        self.name(e).to_string()
    }
}

#[cfg(test)]
mod tests {
    use crate::library;
    use crate::world::sim::Simulation;
    use crate::world::time::ms;

    /// The inspector's node gets its tables and log tail; every other node's are left out; what is drawn of the
    /// nodes is otherwise the same.
    #[test]
    fn view_of_fills_only_the_inspected_node() {
        for lesson in ["basics-async", "leaderless-read-repair", "key-reuse"] {
            let s = library::lesson(lesson).expect("a lesson").expect("it parses");
            let mut sim = Simulation::new(&s, s.seed, &[]).expect("it starts");
            sim.run_until(s.until().min(ms(2000)));
            let plain = sim.view();
            for n in &plain.nodes {
                let full = sim.view_of(Some(&n.id));
                for (a, b) in plain.nodes.iter().zip(&full.nodes) {
                    let (mut a, mut b) = (a.clone(), b.clone());
                    if b.id == n.id {
                        assert!(a.log_tail.is_empty(), "{lesson}: {} has no log tail unless inspected", a.id);
                        if n.role == crate::scenario::Role::Replica || n.role == crate::scenario::Role::Leader {
                            assert!(!b.tables.is_empty(), "{lesson}: inspected {} shows its tables", b.id);
                        }
                    } else {
                        assert_eq!(a, b, "{lesson}: {} is drawn the same whoever is inspected", a.id);
                    }
                    a.tables.clear();
                    a.log_tail.clear();
                    b.tables.clear();
                    b.log_tail.clear();
                    assert_eq!(a, b, "{lesson}: inspecting changes nothing else of {}", a.id);
                }
            }
        }
    }
}
