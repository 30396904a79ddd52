//! The report of a run (a contract other tools read: see docs/scenario-format.md) and the checkers that turn the
//! final state and the client histories into anomalies. Anomalies are findings, not failures.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use crate::node::{OpResult, Status};
use crate::replog::value_text;
use crate::sim::{HistoryEntry, Simulation};
use crate::sql::Value as SqlValue;
use crate::time::to_ms_f64;

#[derive(Clone, Debug, PartialEq)]
pub struct Anomaly {
    pub kind: String,
    pub detail: String,
    /// Indexes into the history of the operations that prove it.
    pub ops: Vec<usize>,
}

impl Anomaly {
    pub fn to_json(&self) -> Value {
        json!({"kind": self.kind, "detail": self.detail, "ops": self.ops})
    }
}

pub fn result_json(r: &OpResult) -> Value {
    if let Some(e) = &r.error {
        return json!({ "error": e });
    }
    if r.read_only {
        let rows: Vec<Value> = r
            .rows
            .iter()
            .map(|row| {
                let m: Map<String, Value> = r.columns.iter().cloned().zip(row.iter().map(SqlValue::to_json)).collect();
                Value::Object(m)
            })
            .collect();
        return json!({ "rows": rows, "lsn": r.served_lsn });
    }
    json!({ "rows_affected": r.rows_affected, "last_insert_id": r.last_insert_id, "lsn": r.lsn })
}

fn history_json(sim: &Simulation, i: usize, h: &HistoryEntry) -> Value {
    json!({
        "index": i,
        "client": sim.clients[h.client].id,
        "op": if h.read { "read" } else { "write" },
        "sql": h.sql,
        "node": sim.nodes[h.node].id,
        "start_ms": to_ms_f64(h.start),
        "end_ms": h.end.map(to_ms_f64),
        "ok": h.ok(),
        "result": h.result.as_ref().map_or_else(|| json!({"error": "no answer before the run ended"}), result_json),
    })
}

/// Replicas that have applied everything the leader has must hold the same rows (DDIA 5.1: a replication log
/// whose replay is not deterministic breaks this). Compares each such follower with the leader, row by primary key.
pub fn check_divergence(sim: &Simulation) -> Vec<Anomaly> {
    crate::check::groups(sim).flat_map(|g| divergence_in(sim, g)).collect()
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

/// The rows a replica should hold of a table: all of the leader's, or under trigger-based replication only the
/// replicated tables and the rows that meet their filters (internal tables such as the changes table never).
fn expected_rows(sim: &Simulation, db: &crate::sql::Database, table: &str) -> Option<Vec<Vec<(String, SqlValue)>>> {
    let r = &sim.scenario.replication;
    if r.log != crate::scenario::LogKind::Trigger {
        return Some(db.rows(table));
    }
    if !r.trigger.includes(table) {
        return None;
    }
    match r.trigger.row_filter.get(&table.to_ascii_lowercase()) {
        None => Some(db.rows(table)),
        Some(cond) => {
            let mut copy = db.clone();
            let mut env = crate::sql::FixedEnv { now_us: 0, rng_state: 0 };
            let sql = format!("SELECT * FROM \"{table}\" WHERE {cond}");
            let out = copy.execute_autocommit(&sql, &mut env).ok()?;
            Some(out.rows.into_iter().map(|vals| out.columns.iter().cloned().zip(vals).collect()).collect())
        }
    }
}

/// Rows that differ between the leader's database and a replica's, table by table, keyed by primary key.
pub fn row_diffs(sim: &Simulation, leader: &crate::node::Node, replica: &crate::node::Node) -> Vec<RowDiff> {
    let mut diffs = Vec::new();
    for table in leader.db.table_names() {
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
        let a = keyed(&leader.db, expected);
        let b = keyed(&replica.db, replica.db.rows(&table));
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
fn caught_up(sim: &Simulation, leader: &crate::node::Node, n: &crate::node::Node) -> bool {
    if sim.scenario.replication.log == crate::scenario::LogKind::Trigger {
        return n.lsn() == leader.lsn();
    }
    n.lsn() == leader.lsn() && n.last_epoch() == leader.last_epoch()
}

fn divergence_in(sim: &Simulation, group: usize) -> Vec<Anomaly> {
    let Some(l) = crate::check::final_leader_of(sim, group) else { return Vec::new() };
    let leader = &sim.nodes[l];
    let mut out = Vec::new();
    let same = |n: &crate::node::Node| caught_up(sim, leader, n) && sim.partition_of[n.index] == group;
    for f in sim.nodes.iter().filter(|n| n.index != l && n.is_replica() && n.status != Status::Absent && same(n)) {
        let diffs = row_diffs(sim, leader, f);
        if diffs.is_empty() {
            continue;
        }
        let mut ops = Vec::new();
        for d in &diffs {
            for e in leader.log.iter() {
                if e.keys.iter().any(|(t, kv)| t == &d.table && kv == &d.key) {
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
            kind: "divergence".to_string(),
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
    // A CDC consumer that has seen everything must index exactly the leader's rows.
    for c in sim.nodes.iter().filter(|n| n.search.is_some() && n.status != Status::Absent && n.status != Status::Halted)
    {
        let Some(index) = &c.search else { continue };
        if !caught_up(sim, leader, c) {
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
                kind: "divergence".to_string(),
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

/// What a search index over `table.column` should hold, given the leader's rows: key -> text.
pub fn search_docs(
    sim: &Simulation,
    leader: &crate::node::Node,
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

pub fn anomalies(sim: &Simulation) -> Vec<Anomaly> {
    let mut all = check_divergence(sim);
    all.extend(crate::check::lost_writes(sim));
    all.extend(crate::check::key_reuse(sim));
    all.extend(crate::check::split_brain(sim));
    all.extend(crate::check::unavailability(sim));
    all.extend(crate::lag::check(sim));
    all
}

pub fn report_json(sim: &Simulation) -> Value {
    let nodes: Vec<Value> = sim
        .nodes
        .iter()
        .filter(|n| n.status != Status::Absent)
        .map(|n| {
            let mut m = Map::new();
            m.insert("id".into(), json!(n.id));
            m.insert("role".into(), json!(n.role.name()));
            m.insert("status".into(), json!(n.status.name()));
            m.insert("lsn".into(), json!(n.lsn()));
            m.insert("epoch".into(), json!(n.epoch));
            let tables = if n.role == crate::scenario::Role::Cache {
                let rows: Vec<Value> = n
                    .cache_entries()
                    .iter()
                    .map(|(k, (owner, row))| json!({"key": k, "owner": owner, "row": row}))
                    .collect();
                let mut t = Map::new();
                t.insert("cache".into(), Value::Array(rows));
                t
            } else if let Some(index) = &n.search {
                let docs: Vec<Value> = index.docs.iter().map(|(k, text)| json!({"key": k, "text": text})).collect();
                let mut t = Map::new();
                t.insert("documents".into(), Value::Array(docs));
                t
            } else {
                n.db.tables_json()
            };
            if n.is_replica() {
                m.insert("storage_format".into(), json!(n.storage_format));
            }
            m.insert("tables".into(), Value::Object(tables));
            if let Some(e) = &n.halt_error {
                m.insert("error".into(), json!(e));
            }
            Value::Object(m)
        })
        .collect();
    let history: Vec<Value> = sim.history.iter().enumerate().map(|(i, h)| history_json(sim, i, h)).collect();
    let anomalies: Vec<Value> = anomalies(sim).iter().map(Anomaly::to_json).collect();
    let mut per_kind = Map::new();
    let (mut sent, mut bytes) = (0, 0);
    for (k, m) in &sim.metrics.per_kind {
        sent += m.sent;
        bytes += m.bytes;
        per_kind.insert(
            k.name().to_string(),
            json!({"sent": m.sent, "bytes": m.bytes, "delivered": m.delivered, "dropped": m.dropped}),
        );
    }
    let acked = sim.history.iter().filter(|h| !h.read && h.ok()).count();
    json!({
        "seed": sim.seed,
        "until_ms": sim.scenario.until_ms,
        "trace_hash": format!("{:016x}", sim.trace.hash()),
        "replication": {"mode": sim.scenario.replication.mode.name(), "log": sim.scenario.replication.log.name()},
        "nodes": nodes,
        "history": history,
        "anomalies": anomalies,
        "metrics": {
            "events": sim.metrics.events,
            "trace_events": sim.trace.len(),
            "messages_sent": sent,
            "bytes_sent": bytes,
            "per_kind": per_kind,
            "writes_acknowledged": acked,
        },
    })
}

/// The `--format text` summary.
pub fn report_text(sim: &Simulation) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let sc = &sim.scenario;
    let _ = writeln!(
        s,
        "{} — seed {}, {} ms, {} replication, {} log",
        sc.title.as_deref().unwrap_or("scenario"),
        sim.seed,
        sc.until_ms,
        sc.replication.mode.name(),
        sc.replication.log.name()
    );
    let _ = writeln!(s, "trace hash {:016x} ({} events)", sim.trace.hash(), sim.trace.len());
    let _ = writeln!(s, "\nnodes:");
    let leader_lsn = sim.leader().map_or(0, |l| sim.nodes[l].lsn());
    for n in sim.nodes.iter().filter(|n| n.status != Status::Absent) {
        let rows: usize = n.db.table_names().iter().map(|t| n.db.rows(t).len()).sum();
        let _ = writeln!(
            s,
            "  {:<8} {:<9} {:<8} lsn {:>5} (behind {:>3})  {rows} rows{}",
            n.id,
            n.role.name(),
            n.status.name(),
            n.lsn(),
            leader_lsn.saturating_sub(n.lsn()),
            n.halt_error.as_ref().map_or(String::new(), |e| format!("  error: {e}"))
        );
    }
    let ok = sim.history.iter().filter(|h| h.ok()).count();
    let writes = sim.history.iter().filter(|h| !h.read).count();
    let _ = writeln!(s, "\nhistory: {} operations ({writes} writes), {ok} succeeded", sim.history.len());
    for (i, h) in sim.history.iter().enumerate().filter(|(_, h)| !h.ok()).take(10) {
        let err = h.result.as_ref().and_then(|r| r.error.clone()).unwrap_or_else(|| "no answer".into());
        let _ = writeln!(s, "  #{i} {} {}: {err}", sim.clients[h.client].id, h.sql);
    }
    let _ = writeln!(s, "\nmessages:");
    for (k, m) in &sim.metrics.per_kind {
        let _ = writeln!(s, "  {:<10} {:>7} sent {:>9} bytes {:>6} dropped", k.name(), m.sent, m.bytes, m.dropped);
    }
    let found = anomalies(sim);
    let _ = writeln!(s, "\nanomalies: {}", if found.is_empty() { "none".to_string() } else { found.len().to_string() });
    for a in found {
        let _ = writeln!(s, "  {}: {} (ops {:?})", a.kind, a.detail, a.ops);
    }
    s
}
