//! The client library and application of leaderless replication: statements become puts and gets of one key.
//!
//! A statement must address one row by its primary key: an INSERT that gives the key, or an UPDATE, DELETE or
//! SELECT with `WHERE pk = literal`; anything else is refused before it is sent, with the reason. An INSERT runs on
//! an empty copy of the schema to produce the row (defaults and type affinity included); an INSERT of a key that
//! exists replaces it, as a put does. An UPDATE runs on a copy holding the row as the client last read it (a store
//! without a leader has no row to update in place: the application reads, modifies and writes back), and a
//! DELETE writes a tombstone. A write carries the context of the client's last read of the key (the join of the
//! version vectors it saw) unless it is blind, so it replaces exactly what the client had seen; after the write,
//! the new vector is the context. A read gets every sibling; the SELECT runs on each, one result row per sibling,
//! unless the client merges the table's siblings itself (`merge`: a union of list items, with removals kept as
//! tombstones so that a removed item does not come back).
//!
//! The client either sends each statement to its coordinating replica, or coordinates itself (`"client"`):
//! stamps the write's vector with its own counter and fans out to the key's home replicas.

use super::quorum::Decision;
use super::spec::{ClientOptions, Coordinator, MergeRule};
use super::versions::{self, Row, Sibling, Vv};
use super::*;
use crate::protocol::{OpError, OpResult};
use crate::sql::{keyed_shape, RowChange, StatementKind, Value};
use crate::vecmap::VecMap;

/// What the client remembers of a key it read or wrote.
#[derive(Clone, Debug, PartialEq)]
pub struct Context {
    pub vv: Vv,
    /// The live rows it saw (one after a merge or a write).
    pub rows: Vec<Row>,
    /// The merge column's removed items.
    pub removed: Vec<String>,
}

/// An operation the client sent and waits for.
#[derive(Clone, Debug, PartialEq)]
pub struct Pending {
    pub key: Key,
    pub sql: String,
    /// A write's row (None: a delete) and removed items; None for a read.
    pub write: Option<(Option<Row>, Vec<String>)>,
}

#[derive(Clone, Debug)]
pub struct Client {
    pub id: String,
    /// This client's actor number in version vectors (nodes, then clients).
    pub actor: usize,
    pub opts: ClientOptions,
    /// The coordinating replica (None: the client coordinates itself).
    pub coordinator: Option<usize>,
    pub counter: u64,
    pub contexts: VecMap<Key, Context>,
    pub pending: VecMap<usize, Pending>,
    /// Operations this client coordinates itself.
    pub coordinating: VecMap<usize, quorum::Coordination>,
}

impl Client {
    pub fn new(spec: &crate::scenario::ClientSpec, actor: usize, nodes: &[crate::scenario::NodeSpec]) -> Client {
        let coordinator = match &spec.leaderless.coordinator {
            Coordinator::Client => None,
            Coordinator::Node(id) => nodes.iter().position(|n| &n.id == id),
        };
        Client {
            id: spec.id.clone(),
            actor,
            opts: spec.leaderless.clone(),
            coordinator,
            counter: 0,
            contexts: VecMap::new(),
            pending: VecMap::new(),
            coordinating: VecMap::new(),
        }
    }
}

/// The primary key column of a table (`None`: no declared primary key).
pub fn pk_column(db: &Database, table: &str) -> Option<String> {
    let cols = db.columns(table)?;
    let probe: Row = cols.iter().enumerate().map(|(i, c)| (c.clone(), Value::Integer(i as i64))).collect();
    match db.primary_key_of(table, &probe)? {
        Value::Integer(i) => cols.get(usize::try_from(i).ok()?).cloned(),
        _ => None,
    }
}

/// The key literal of `WHERE pk = literal` as the table stores it (the column's type affinity applied: `k = 1`
/// on a TEXT key finds `'1'`): stored into an empty copy and read back.
fn key_value(schema: &Database, table: &str, pk: &str, literal: &Value) -> Value {
    let mut db = schema.clone();
    let row = vec![(pk.to_string(), literal.clone())];
    if db.apply_change(&RowChange::Insert { table: table.to_string(), row }).is_ok() {
        if let Some(v) = db.rows(table).first().and_then(|r| db.primary_key_of(table, r)) {
            return v;
        }
    }
    literal.clone()
}

fn refuse(message: String) -> Routed {
    Routed { read: false, node: 0, refused: Some(OpError::Sql(message)), actions: Vec::new() }
}

/// An empty copy of the schema holding `row`.
fn scratch_with(schema: &Database, table: &str, row: Option<&Row>) -> Result<Database, String> {
    let mut db = schema.clone();
    if let Some(row) = row {
        db.apply_change(&RowChange::Insert { table: table.to_string(), row: row.clone() }).map_err(|e| e.message)?;
    }
    Ok(db)
}

impl Cluster {
    /// The client's statement as a put or a get, sent to its coordinator or fanned out by the client itself.
    pub(crate) fn client_request_with(&mut self, ci: usize, op: usize, sql: &str, now: Micros, blind: bool) -> Routed {
        let prefix = "leaderless replication runs single-row statements by primary key";
        let shape = match keyed_shape(sql) {
            Ok(s) => s,
            Err(e) => return refuse(format!("{prefix}: {e}")),
        };
        let Some(pk) = pk_column(&self.schema, &shape.table) else {
            return refuse(format!("no such table: {}", shape.table));
        };
        let table = shape.table.to_ascii_lowercase();
        let mut env = crate::sql::FixedEnv { now_us: (now / 1000) as i64 * 1000, rng_state: op as u64 };
        let (key, write) = match (shape.kind, &shape.filter) {
            (StatementKind::Insert, _) => {
                if let Some(cols) = &shape.columns {
                    if !cols.iter().any(|c| c.eq_ignore_ascii_case(&pk)) {
                        return refuse(format!("{prefix}: the INSERT must give the primary key {pk}"));
                    }
                }
                let mut db = (*self.schema).clone();
                if let Err(e) = db.execute_autocommit(sql, &mut env) {
                    return refuse(e.message);
                }
                let rows = db.rows(&table);
                let [row] = rows.as_slice() else { return refuse(format!("{prefix}: the INSERT made no single row")) };
                let Some(v) = db.primary_key_of(&table, row) else { return refuse(format!("{prefix}: no key")) };
                (Key::new(&table, &v), Some(Some(row.clone())))
            }
            (_, Some((col, _))) if !col.eq_ignore_ascii_case(&pk) => {
                return refuse(format!(
                    "{prefix}: rows are found by the primary key {pk}, and the WHERE clause names {col}"
                ));
            }
            (StatementKind::Select, Some((_, v))) => (Key::new(&table, &key_value(&self.schema, &table, &pk, v)), None),
            (StatementKind::Delete, Some((_, v))) => {
                (Key::new(&table, &key_value(&self.schema, &table, &pk, v)), Some(None))
            }
            (StatementKind::Update, Some((_, v))) => {
                let key = Key::new(&table, &key_value(&self.schema, &table, &pk, v));
                let Some(base) = self.clients[ci].contexts.get(&key).and_then(|c| c.rows.first().cloned()) else {
                    return refuse(format!(
                        "UPDATE of {} without reading it first: a leaderless store has no row to update in place; \
                         SELECT it (the read returns the row and its version context), then UPDATE",
                        key.label()
                    ));
                };
                let mut db = match scratch_with(&self.schema, &table, Some(&base)) {
                    Ok(db) => db,
                    Err(e) => return refuse(e),
                };
                if let Err(e) = db.execute_autocommit(sql, &mut env) {
                    return refuse(e.message);
                }
                let rows = db.rows(&table);
                let [row] = rows.as_slice() else { return refuse(format!("{prefix}: the UPDATE removed the row")) };
                if db.primary_key_of(&table, row).map(|p| Key::new(&table, &p)) != Some(key.clone()) {
                    return refuse(format!("{prefix}: an UPDATE may not change the primary key"));
                }
                (key, Some(Some(row.clone())))
            }
            _ => return refuse(format!("{prefix}: no WHERE pk = literal")),
        };
        let c = &mut self.clients[ci];
        let pending = match write {
            None => Pending { key: key.clone(), sql: sql.to_string(), write: None },
            Some(row) => {
                let ctx = if blind { None } else { c.contexts.get(&key) };
                let mut removed = ctx.map(|x| x.removed.clone()).unwrap_or_default();
                if let (Some((col, MergeRule::Union)), Some(ctx)) = (c.opts.rule_for(&table), ctx) {
                    let now_items: Vec<String> = row
                        .as_ref()
                        .and_then(|r| r.iter().find(|(n, _)| n.eq_ignore_ascii_case(col)))
                        .map(|(_, v)| versions::items(v))
                        .unwrap_or_default();
                    for r in &ctx.rows {
                        for (_, v) in r.iter().filter(|(n, _)| n.eq_ignore_ascii_case(col)) {
                            removed.extend(versions::items(v).into_iter().filter(|i| !now_items.contains(i)));
                        }
                    }
                    removed.retain(|i| !now_items.contains(i));
                    crate::sql::sort_values(&mut removed);
                    removed.dedup();
                }
                Pending { key: key.clone(), sql: sql.to_string(), write: Some((row, removed)) }
            }
        };
        let context = if blind { Vv::new() } else { c.contexts.get(&key).map(|x| x.vv.clone()).unwrap_or_default() };
        let read = pending.write.is_none();
        let req = match &pending.write {
            None => Req::Get { key: key.clone() },
            Some((row, removed)) => Req::Put { key: key.clone(), row: row.clone(), context, removed: removed.clone() },
        };
        c.pending.insert(op, pending);
        let me = Endpoint::Client(ci);
        if let Some(node) = c.coordinator {
            let actions = vec![send(me, Endpoint::Node(node), Msg::Coordinate { op, req })];
            return Routed { read, node, refused: None, actions };
        }
        // The client library coordinates: it stamps the write with its own counter and fans out.
        let put = match req {
            Req::Get { .. } => None,
            Req::Put { row, context, removed, .. } => {
                c.counter += 1;
                // Last write wins: a client that coordinates stamps with its own clock, the true time here.
                let ts = self.spec.lww().then(|| clock_time_us(&crate::scenario::ClockSpec::default(), now));
                Some(Sibling { vv: context, dot: (c.actor, c.counter), row, removed, op, at: now, ts })
            }
        };
        let mut actions = Vec::new();
        let (coord, decision) = self.begin(me, op, ci, key, put, &mut actions);
        actions.push(self.deadline(me, op, now));
        let node = coord.pref.first().copied().unwrap_or(0);
        // Finished coordinations stay while late answers may still repair, until the deadline (the oldest go first
        // when a busy client has many).
        let client = &mut self.clients[ci];
        client.coordinating.insert(op, coord);
        while client.coordinating.len() > 16 {
            let Some(done) = client.coordinating.iter().find(|(_, c)| c.finished).map(|(op, _)| *op) else { break };
            client.coordinating.remove(&done);
        }
        if let Decision::Done(reply) = decision {
            let result = self.complete(ci, op, reply);
            actions.push(Action::Finish { op, result });
        }
        Routed { read, node, refused: None, actions }
    }

    /// A message reached client `ci`: its coordinator's answer, or a replica's (when it coordinates itself).
    pub fn on_client_message(
        &mut self,
        ci: usize,
        _now: Micros,
        from: Endpoint,
        msg: Msg,
        history: &crate::chunked::Chunked<HistoryEntry>,
    ) -> Vec<Action> {
        let mut out = Vec::new();
        let open = |op: usize| history.get(op).is_some_and(|h| h.end.is_none());
        match msg {
            Msg::Done { op, reply } if open(op) => {
                let result = self.complete(ci, op, reply);
                out.push(Action::Finish { op, result });
            }
            Msg::PutAck { op, .. } | Msg::GetReply { op, .. } => {
                let Endpoint::Node(node) = from else { return out };
                let versions = match msg {
                    Msg::GetReply { versions, .. } => Some(versions),
                    _ => None,
                };
                let Some(mut c) = self.clients[ci].coordinating.remove(&op) else { return out };
                if c.answer(node, versions) {
                    let d = c.decide();
                    self.note(&c, &d);
                    if let Decision::Done(reply) = d {
                        if open(op) {
                            let result = self.complete(ci, op, reply);
                            out.push(Action::Finish { op, result });
                        }
                    }
                    if c.finished && !c.is_write() && self.spec.read_repair {
                        out.extend(read_repair::repairs(&mut c, Endpoint::Client(ci)));
                    }
                }
                if !(c.finished && c.answered.len() == c.sent.len()) {
                    self.clients[ci].coordinating.insert(op, c);
                }
            }
            _ => {}
        }
        out
    }

    /// The client library's wait for a quorum it coordinates is over: fallbacks (sloppy quorum) or the failure.
    pub fn on_client_timer(
        &mut self,
        ci: usize,
        now: Micros,
        t: Timer,
        history: &crate::chunked::Chunked<HistoryEntry>,
    ) -> Vec<Action> {
        let mut out = Vec::new();
        let Timer::Request { op } = t else { return out };
        let Some(mut c) = self.clients[ci].coordinating.remove(&op) else { return out };
        match self.expire(Endpoint::Client(ci), &mut c, now, &mut out) {
            quorum::Expiry::Wait => {
                self.clients[ci].coordinating.insert(op, c);
            }
            quorum::Expiry::Over => {}
            quorum::Expiry::Failed(reply) => {
                if history.get(op).is_some_and(|h| h.end.is_none()) {
                    let result = self.complete(ci, op, reply);
                    out.push(Action::Finish { op, result });
                }
            }
        }
        out
    }

    /// The client's result of an operation its coordinator decided: contexts kept, siblings shown or merged.
    fn complete(&mut self, ci: usize, op: usize, reply: Reply) -> OpResult {
        let Some(p) = self.clients[ci].pending.remove(&op) else {
            return OpResult::error(OpError::Sql("no such operation".into()));
        };
        if let Some(e) = reply.error {
            if let Some(r) = self.records.get_mut(&op) {
                r.met = Some(false);
            }
            return OpResult::error(OpError::QuorumNotMet(e));
        }
        if let Some(r) = self.records.get_mut(&op) {
            r.met = Some(true);
        }
        let c = &mut self.clients[ci];
        if let Some((row, removed)) = p.write {
            let vv = reply.written.unwrap_or_default();
            c.contexts.insert(p.key, Context { vv, rows: row.into_iter().collect(), removed });
            return OpResult { ok: true, rows_affected: 1, ..OpResult::default() };
        }
        if let Some(r) = self.records.get_mut(&op) {
            r.returned = reply.versions.clone();
        }
        let live: Vec<Row> = reply.versions.iter().filter_map(|s| s.row.clone()).collect();
        let mut removed: Vec<String> = reply.versions.iter().flat_map(|s| s.removed.iter().cloned()).collect();
        crate::sql::sort_values(&mut removed);
        removed.dedup();
        let rows = match c.opts.rule_for(&p.key.table) {
            Some((col, MergeRule::Union)) if live.len() > 1 => {
                let col = col.to_string();
                let merged = versions::merge_union(&reply.versions, &col);
                if let Some(r) = self.records.get_mut(&op) {
                    r.merged = Some(col);
                }
                match merged {
                    Some((row, rem)) => {
                        removed = rem;
                        vec![row]
                    }
                    None => Vec::new(),
                }
            }
            _ => live,
        };
        let c = &mut self.clients[ci];
        c.contexts
            .insert(p.key.clone(), Context { vv: versions::context(&reply.versions), rows: rows.clone(), removed });
        let mut result = OpResult { ok: true, read_only: true, ..OpResult::default() };
        let mut env = crate::sql::FixedEnv { now_us: 0, rng_state: op as u64 };
        for row in &rows {
            let out = scratch_with(&self.schema, &p.key.table, Some(row))
                .and_then(|mut db| db.execute_autocommit(&p.sql, &mut env).map_err(|e| e.message));
            match out {
                Ok(o) => {
                    result.columns = o.columns;
                    result.rows.extend(o.rows);
                }
                Err(e) => return OpResult::error(OpError::Sql(e)),
            }
        }
        if rows.is_empty() {
            // No row: the columns as the SELECT would name them, from an empty copy.
            if let Ok(o) = scratch_with(&self.schema, &p.key.table, None)
                .and_then(|mut db| db.execute_autocommit(&p.sql, &mut env).map_err(|e| e.message))
            {
                result.columns = o.columns;
            }
        }
        result
    }
}
