//! Divergence (DDIA 5.1 and 5.2: replicas must end in the same state once writes stop): after the run, every
//! replica that has caught up with its group's leader must hold the same rows. Differences are reported with the
//! rows that differ, and with what a statement-based log did to cause them.

use std::collections::BTreeMap;

use super::{Anomaly, AnomalyKind};
use crate::log_methods::value_text;
use crate::protocol::Status;
use crate::sql::Value as SqlValue;
use crate::world::sim::Simulation;

/// Replicas that have applied everything the leader has must hold the same rows (DDIA 5.1: a replication log
/// whose replay is not deterministic breaks this). Compares each such follower with the leader, row by primary key.
pub fn check_divergence(sim: &Simulation) -> Vec<Anomaly> {
    crate::check::failover::groups(sim).flat_map(|g| divergence_in(sim, g)).collect()
}

/// The search indexes (CDC consumers) that hold other documents than their leader's rows say they should.
pub fn check_index_divergence(sim: &Simulation) -> Vec<Anomaly> {
    let Some(cl) = sim.protocol.single_leader() else { return Vec::new() };
    crate::check::failover::groups(sim)
        .filter_map(|g| crate::check::failover::final_leader_of(sim, g))
        .flat_map(|l| index_divergence_in(sim, &cl.nodes[l]))
        .collect()
}

/// A CDC consumer that has seen everything must index exactly the leader's rows.
fn index_divergence_in(sim: &Simulation, leader: &crate::protocol::single_leader::Node) -> Vec<Anomaly> {
    let Some(cl) = sim.protocol.single_leader() else { return Vec::new() };
    let mut out = Vec::new();
    for c in cl.nodes.iter().filter(|n| n.search.is_some() && n.status != Status::Absent && n.status != Status::Halted)
    {
        let Some(index) = &c.search else { continue };
        if !caught_up(leader, c) {
            continue;
        }
        let want = search_docs(sim, leader, &index.table, &index.column);
        let mut diffs = Vec::new();
        let mut keys: Vec<&String> = want.keys().chain(index.docs.keys()).collect();
        crate::sql::sort_values(&mut keys);
        keys.dedup();
        for k in keys {
            let (a, b) = (want.get(k), index.docs.get(k));
            if a != b {
                let show = |x: Option<&String>| x.map_or("(missing)".to_string(), |t| format!("{t:?}"));
                diffs.push(format!("key {k}: {} {} vs {} {}", leader.id, show(a), c.id, show(b)));
            }
        }
        if !diffs.is_empty() {
            let shown: Vec<&str> = diffs.iter().take(5).map(String::as_str).collect();
            out.push(Anomaly {
                kind: AnomalyKind::Divergence,
                detail: format!(
                    "the search index {} over {}.{} differs from {} in {} documents: {}",
                    c.id,
                    index.table,
                    index.column,
                    leader.id,
                    diffs.len(),
                    shown.join("; ")
                ),
                ops: Vec::new(),
            });
        }
    }
    out
}

/// One row that differs between the leader and a replica (None: the row is missing on that side).
#[derive(Clone, Debug, PartialEq)]
pub struct RowDiff {
    pub table: String,
    pub key: SqlValue,
    pub leader: Option<Vec<(String, SqlValue)>>,
    pub replica: Option<Vec<(String, SqlValue)>>,
}

impl RowDiff {
    /// Columns whose values differ (all of them when a side is missing).
    pub fn differing_columns(&self) -> Vec<String> {
        match (&self.leader, &self.replica) {
            (Some(a), Some(b)) => a
                .iter()
                .filter(|(c, v)| b.iter().find(|(d, _)| d == c).map(|(_, w)| w) != Some(v))
                .map(|(c, _)| c.clone())
                .collect(),
            (Some(r), None) | (None, Some(r)) => r.iter().map(|(c, _)| c.clone()).collect(),
            (None, None) => Vec::new(),
        }
    }
}

fn row_text(row: &[(String, SqlValue)]) -> String {
    let parts: Vec<String> = row.iter().map(|(c, v)| format!("{c}={}", value_text(v))).collect();
    parts.join(", ")
}

/// Whether a replica should hold every row of `table` (not a trigger's filtered subset, or nothing).
fn whole_table_expected(sim: &Simulation, table: &str) -> bool {
    let r = &sim.scenario.replication;
    !crate::log_methods::method(r.log, r.statement_mixed).captures_changes()
        || (r.trigger.includes(table) && !r.trigger.row_filter.contains_key(&table.to_ascii_lowercase()))
}

/// The rows a replica should hold of a table: all of the leader's, or under trigger-based replication only the
/// replicated tables and the rows that meet their filters (internal tables such as the changes table never).
fn expected_rows(sim: &Simulation, db: &crate::sql::Database, table: &str) -> Option<Vec<Vec<(String, SqlValue)>>> {
    if whole_table_expected(sim, table) {
        return Some(db.rows(table));
    }
    let trigger = &sim.scenario.replication.trigger;
    let cond = trigger.row_filter.get(&table.to_ascii_lowercase()).filter(|_| trigger.includes(table))?;
    let mut copy = db.clone();
    let mut env = crate::sql::FixedEnv { now_us: 0, rng_state: 0 };
    let sql = format!("SELECT * FROM \"{table}\" WHERE {cond}");
    let out = copy.without_work_limit(|db| db.execute_autocommit(&sql, &mut env)).ok()?;
    Some(out.rows.into_iter().map(|vals| out.columns.iter().cloned().zip(vals).collect()).collect())
}

/// Rows that differ between the leader's database and a replica's, table by table, keyed by primary key.
pub fn row_diffs(
    sim: &Simulation,
    leader: &crate::protocol::single_leader::Node,
    replica: &crate::protocol::single_leader::Node,
) -> Vec<RowDiff> {
    let mut diffs = Vec::new();
    for table in leader.db.table_names() {
        // The usual case in a long run: the same rows under the same rowids, nothing to copy or key.
        if whole_table_expected(sim, &table) && leader.db.same_rows(&replica.db, &table) {
            continue;
        }
        let Some(expected) = expected_rows(sim, &leader.db, &table) else { continue };
        let keyed = |db: &crate::sql::Database, rows: Vec<Vec<(String, SqlValue)>>| {
            let mut m = Vec::with_capacity(rows.len());
            for row in rows {
                if let Some(key) = db.primary_key_of(&table, &row) {
                    m.push((value_text(&key), (key, row)));
                }
            }
            crate::vecmap::VecMap::from_pairs(m)
        };
        let theirs = replica.db.rows(&table);
        // The usual case, the same rows in the same order under the same keys: nothing to key or copy (a long run's
        // tables are large).
        if theirs == expected
            && expected.iter().all(|r| leader.db.primary_key_of(&table, r) == replica.db.primary_key_of(&table, r))
        {
            continue;
        }
        let a = keyed(&leader.db, expected);
        let b = keyed(&replica.db, theirs);
        // Both maps' keys, sorted, once each.
        let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
        crate::sql::sort_values(&mut keys);
        keys.dedup();
        for k in keys {
            let (ra, rb) = (a.get(k), b.get(k));
            if ra.map(|x| &x.1) == rb.map(|x| &x.1) {
                continue;
            }
            let key = ra.or(rb).map_or(SqlValue::Null, |x| x.0.clone());
            diffs.push(RowDiff {
                table: table.clone(),
                key,
                leader: ra.map(|x| x.1.clone()),
                replica: rb.map(|x| x.1.clone()),
            });
        }
    }
    diffs
}

/// Has this node applied everything the leader has (so that any difference is a divergence, not lag)?
fn caught_up(leader: &crate::protocol::single_leader::Node, n: &crate::protocol::single_leader::Node) -> bool {
    // Under trigger-based replication a target's LSN is the leader's as of the last complete poll it applied, in the
    // era of that leader: the same test holds (an old leader's LSN of another era is not the new leader's).
    n.lsn() == leader.lsn() && n.last_epoch() == leader.last_epoch()
}

fn divergence_in(sim: &Simulation, group: usize) -> Vec<Anomaly> {
    let Some(cl) = sim.protocol.single_leader() else { return Vec::new() };
    let Some(l) = crate::check::failover::final_leader_of(sim, group) else { return Vec::new() };
    let leader = &cl.nodes[l];
    let mut out = Vec::new();
    let same = |n: &crate::protocol::single_leader::Node| caught_up(leader, n) && cl.partition_of[n.index] == group;
    for f in cl.nodes.iter().filter(|n| n.index != l && n.is_replica() && n.status != Status::Absent && same(n)) {
        let diffs = row_diffs(sim, leader, f);
        if diffs.is_empty() {
            continue;
        }
        let mut ops = Vec::new();
        for d in &diffs {
            for e in leader.log.iter() {
                if e.keys.iter().any(|(t, kv)| t.eq_ignore_ascii_case(&d.table) && kv == &d.key) {
                    ops.extend(e.origin);
                }
            }
        }
        crate::sql::sort_values(&mut ops);
        ops.dedup();
        let show = |r: &Option<Vec<(String, SqlValue)>>| {
            r.as_ref().map_or("(missing)".to_string(), |x| format!("({})", row_text(x)))
        };
        let shown: Vec<String> = diffs
            .iter()
            .take(5)
            .map(|d| {
                format!(
                    "{} key {}: {} {} vs {} {}",
                    d.table,
                    value_text(&d.key),
                    leader.id,
                    show(&d.leader),
                    f.id,
                    show(&d.replica)
                )
            })
            .collect();
        let more = if diffs.len() > 5 { format!(" (+{} more)", diffs.len() - 5) } else { String::new() };
        out.push(Anomaly {
            kind: AnomalyKind::Divergence,
            detail: format!(
                "{} has applied every entry up to lsn {} like {}, yet {} rows differ: {}{more}",
                f.id,
                leader.lsn(),
                leader.id,
                diffs.len(),
                shown.join("; ")
            ),
            ops,
        });
    }
    out.extend(index_divergence_in(sim, leader));
    out
}

/// What a search index over `table.column` should hold, given the leader's rows: key -> text.
pub fn search_docs(
    sim: &Simulation,
    leader: &crate::protocol::single_leader::Node,
    table: &str,
    column: &str,
) -> BTreeMap<String, String> {
    let mut docs = BTreeMap::new();
    for row in expected_rows(sim, &leader.db, table).unwrap_or_default() {
        let Some(key) = leader.db.primary_key_of(table, &row).or_else(|| row.first().map(|(_, v)| v.clone())) else {
            continue;
        };
        let text = row.iter().find(|(c, _)| c.eq_ignore_ascii_case(column)).map_or(String::new(), |(_, v)| match v {
            SqlValue::Text(s) => s.clone(),
            SqlValue::Null => String::new(),
            other => value_text(other),
        });
        docs.insert(value_text(&key), text);
    }
    docs
}
