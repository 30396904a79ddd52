//! The report of a run (a contract other tools read: see docs/scenario-format.md) and the checkers that turn the
//! final state and the client histories into anomalies. Anomalies are findings, not failures.

use serde_json::{json, Map, Value};

use crate::protocol::single_leader::{OpResult, Status};
use crate::sql::{Database, Value as SqlValue};
use crate::world::sim::{HistoryEntry, Simulation};
use crate::world::time::to_ms_f64;

pub use crate::check::{anomalies, Anomaly};

pub fn result_json(r: &OpResult) -> Value {
    if let Some(e) = &r.error {
        return json!({ "error": e.to_string() });
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
    let mut v = json!({
        "index": i,
        "client": sim.clients[h.client].id,
        "op": if h.read { "read" } else { "write" },
        "sql": h.sql,
        "node": sim.endpoint_name(crate::protocol::Endpoint::Node(h.node)),
        "start_ms": to_ms_f64(h.start),
        "end_ms": h.end.map(to_ms_f64),
        "ok": h.ok(),
        "result": h.result.as_ref().map_or_else(|| json!({"error": "no answer before the run ended"}), result_json),
    });
    // Leaderless replication: which replicas the operation reached, how many answered, whether w or r was met.
    if let Some(q) = sim.protocol.leaderless().and_then(|c| c.quorum_json(i)) {
        v["quorum"] = q;
    }
    v
}

pub fn report_json(sim: &Simulation) -> Value {
    report_value(sim, true)
}

/// The report as `report_json(sim).to_string()` writes it, byte for byte, without holding the whole history as
/// JSON values at once: each history entry is built and written in turn (`replsim run` of 64,000 writes peaked
/// at 807 MB building the tree, against 341 MB for the text report).
pub fn write_report_json(sim: &Simulation, out: &mut impl std::io::Write) -> std::io::Result<()> {
    let Value::Object(top) = report_value(sim, false) else { return Ok(()) };
    // `nodes` and `history` are written an element at a time: a long run's tables and history, built whole as JSON
    // values, were most of `replsim run`'s memory.
    write_object(&top, out, |key, out| match key {
        "history" => Some(write_array(sim.history.iter().enumerate(), out, |(j, h), out| {
            Ok(serde_json::to_writer(&mut *out, &history_json(sim, j, h))?)
        })),
        "nodes" => Some(write_array(node_parts(sim, false), out, |(node, db), out| write_node(&node, db, out))),
        _ => None,
    })
}

/// A JSON object as `serde_json` writes it, except the fields `special` writes itself (it returns `None` for the
/// others).
fn write_object<W: std::io::Write>(
    fields: &Map<String, Value>,
    out: &mut W,
    mut special: impl FnMut(&str, &mut W) -> Option<std::io::Result<()>>,
) -> std::io::Result<()> {
    out.write_all(b"{")?;
    for (i, (key, value)) in fields.iter().enumerate() {
        if i > 0 {
            out.write_all(b",")?;
        }
        serde_json::to_writer(&mut *out, key)?;
        out.write_all(b":")?;
        match special(key, out) {
            Some(written) => written?,
            None => serde_json::to_writer(&mut *out, value)?,
        }
    }
    out.write_all(b"}")
}

/// A JSON array, each element written by `write`.
fn write_array<W: std::io::Write, T>(
    items: impl Iterator<Item = T>,
    out: &mut W,
    mut write: impl FnMut(T, &mut W) -> std::io::Result<()>,
) -> std::io::Result<()> {
    out.write_all(b"[")?;
    for (i, item) in items.enumerate() {
        if i > 0 {
            out.write_all(b",")?;
        }
        write(item, out)?;
    }
    out.write_all(b"]")
}

/// Every node's part of the report, one at a time.
fn node_values(sim: &Simulation) -> impl Iterator<Item = Value> + '_ {
    node_parts(sim, true).map(|(node, _)| node)
}

/// Every node's part of the report, one at a time; with `tables: false` a database's tables are left out (`tables`
/// is null) and the database comes along, for `write_node` to write them row by row.
fn node_parts(sim: &Simulation, tables: bool) -> Box<dyn Iterator<Item = (Value, Option<&Database>)> + '_> {
    match sim.protocol.leaderless() {
        Some(c) => Box::new(crate::protocol::leaderless::report::nodes_json(c).into_iter().map(|v| (v, None))),
        None => Box::new(single_leader_nodes(sim, tables)),
    }
}

/// A node's JSON as `serde_json` writes its value, with its database's tables (when given) written from the rows
/// themselves: a long run's tables, built whole as JSON values first, were most of `replsim run`'s memory.
fn write_node(node: &Value, db: Option<&Database>, out: &mut impl std::io::Write) -> std::io::Result<()> {
    let (Value::Object(fields), Some(db)) = (node, db) else { return Ok(serde_json::to_writer(&mut *out, node)?) };
    write_object(fields, out, |key, out| (key == "tables").then(|| db.write_tables_json(out)))
}

/// The report; `whole: false` leaves `nodes` and `history` empty arrays for `write_report_json` to stream.
fn report_value(sim: &Simulation, whole: bool) -> Value {
    let nodes: Vec<Value> = if whole { node_values(sim).collect() } else { Vec::new() };
    let history: Vec<Value> =
        if whole { sim.history.iter().enumerate().map(|(i, h)| history_json(sim, i, h)).collect() } else { Vec::new() };
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
    let mut replication =
        json!({"mode": sim.scenario.replication.mode.name(), "log": sim.scenario.replication.log.name()});
    if let Some(l) = &sim.scenario.replication.leaderless {
        replication = json!({"leaderless": l.to_json()});
    }
    if let crate::protocol::Protocol::MultiLeader(c) = &sim.protocol {
        replication["topology"] = json!(c.shape.topology.name());
        replication["conflict"] = json!(c.spec.conflict.name());
        replication["causality"] = json!(c.spec.causality.name());
        // Per client, where its writes went and how long they took to be acknowledged: the cost of a far leader.
        let per_client: Vec<Value> = sim
            .scenario
            .clients
            .iter()
            .enumerate()
            .map(|(i, cl)| {
                let v: Vec<crate::world::time::Micros> = sim
                    .history
                    .iter()
                    .filter(|h| h.client == i && !h.read && h.ok())
                    .filter_map(|h| h.end.map(|e| e - h.start))
                    .collect();
                let p = |q| crate::world::sim::percentile(&v, q) as f64 / 1000.0;
                json!({"client": cl.id, "leader": c.inner.nodes[c.home[i]].id, "writes": v.len(),
                       "p50_ms": p(50), "p99_ms": p(99)})
            })
            .collect();
        replication["write_latency"] = Value::Array(per_client);
    }
    json!({
        "seed": sim.seed,
        "until_ms": sim.scenario.until_ms,
        "trace_hash": format!("{:016x}", sim.trace.hash()),
        "replication": replication,
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

/// The per-node fields of a single-leader run.
fn single_leader_nodes(sim: &Simulation, with_tables: bool) -> impl Iterator<Item = (Value, Option<&Database>)> + '_ {
    let multi = match &sim.protocol {
        crate::protocol::Protocol::MultiLeader(c) => Some(c),
        _ => None,
    };
    sim.protocol.single_leader().into_iter().flat_map(|cl| cl.nodes.iter()).filter(|n| n.status != Status::Absent).map(
        move |n| {
            let mut m = Map::new();
            m.insert("id".into(), json!(n.id));
            m.insert("role".into(), json!(n.role.name()));
            m.insert("status".into(), json!(n.status.name()));
            m.insert("lsn".into(), json!(n.lsn()));
            m.insert("epoch".into(), json!(n.epoch));
            if let Some(dc) = multi.and_then(|c| c.datacenter(n.index)) {
                m.insert("datacenter".into(), json!(dc));
            }
            let mut db = None;
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
            } else if with_tables {
                n.db.tables_json()
            } else {
                db = Some(&n.db);
                Map::new()
            };
            if n.is_replica() {
                m.insert("storage_format".into(), json!(n.storage_format));
            }
            m.insert("tables".into(), if db.is_some() { Value::Null } else { Value::Object(tables) });
            if let Some(e) = &n.halt_error {
                m.insert("error".into(), json!(e));
            }
            (Value::Object(m), db)
        },
    )
}

/// The `--format text` summary.
pub fn report_text(sim: &Simulation) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let sc = &sim.scenario;
    let how = match &sc.replication.leaderless {
        Some(l) => format!("leaderless replication, n = {}, w = {}, r = {}", l.n, l.w, l.r),
        None => format!("{} replication, {} log", sc.replication.mode.name(), sc.replication.log.name()),
    };
    let _ = writeln!(s, "{} — seed {}, {} ms, {how}", sc.title.as_deref().unwrap_or("scenario"), sim.seed, sc.until_ms);
    let _ = writeln!(s, "trace hash {:016x} ({} events)", sim.trace.hash(), sim.trace.len());
    if let crate::protocol::Protocol::MultiLeader(_) = &sim.protocol {
        let r = report_json(sim);
        for l in r["replication"]["write_latency"].as_array().into_iter().flatten() {
            let _ = writeln!(
                s,
                "write latency of {} (home leader {}): {} writes, p50 {} ms, p99 {} ms",
                l["client"].as_str().unwrap_or(""),
                l["leader"].as_str().unwrap_or(""),
                l["writes"],
                l["p50_ms"],
                l["p99_ms"]
            );
        }
    }
    let _ = writeln!(s, "\nnodes:");
    if let Some(c) = sim.protocol.leaderless() {
        s.push_str(&crate::protocol::leaderless::report::nodes_text(c));
    }
    let cl = sim.protocol.single_leader();
    let leader_lsn = cl.and_then(|c| c.leader().map(|l| c.nodes[l].lsn())).unwrap_or(0);
    for n in cl.into_iter().flat_map(|c| c.nodes.iter()).filter(|n| n.status != Status::Absent) {
        let rows: usize = n.db.row_count();
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
        let err =
            h.result.as_ref().and_then(|r| r.error.as_ref()).map_or_else(|| "no answer".into(), ToString::to_string);
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
