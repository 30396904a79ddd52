//! DDIA 5.1 "Trigger-based replication".
//!
//! - **Trigger-based**: the leader gets, for every replicated table, AFTER INSERT / UPDATE / DELETE triggers that
//!   write the table name, the operation and the row's key into a changes table (`_changes`) in the same
//!   transaction as the change itself. A separate replicator process polls that table every `poll_ms`, reads the
//!   current row behind each change (only rows meeting the table's filter), applies them to its targets — followers,
//!   or a store of another kind such as a search index — and, once every target has confirmed, deletes the copied
//!   changes. As in Bucardo, the changes table holds keys, not row images, and schema changes are not carried.

use std::rc::Rc;

use crate::log_methods::{sql_literal, value_text};
use crate::protocol::single_leader::{send, Effect, Node, NodeConfig, NodeEnv, Note, Payload};
use crate::protocol::Status;
use crate::scenario::TriggerSpec;
use crate::sql::{ident, RowChange, SqlError, Value};
use crate::world::time::Micros;

/// The leader's changes table, filled by the capture triggers.
pub const CHANGES_TABLE: &str = "_changes";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeOp {
    Insert,
    Update,
    Delete,
}

impl ChangeOp {
    pub fn name(self) -> &'static str {
        match self {
            ChangeOp::Insert => "insert",
            ChangeOp::Update => "update",
            ChangeOp::Delete => "delete",
        }
    }

    fn parse(s: &str) -> Option<ChangeOp> {
        [ChangeOp::Insert, ChangeOp::Update, ChangeOp::Delete].into_iter().find(|o| o.name() == s)
    }
}

/// One row of the changes table, with the current row it points at (None: deleted, or filtered out).
#[derive(Clone, Debug, PartialEq)]
pub struct ChangeRow {
    pub seq: i64,
    pub table: String,
    pub op: ChangeOp,
    pub key: Value,
    pub row: Option<Vec<(String, Value)>>,
}

impl ChangeRow {
    /// As the comparison view draws a change-table row: `#12 users insert 5`.
    pub fn describe(&self) -> String {
        let row = match &self.row {
            Some(r) => {
                let vals: Vec<String> = r.iter().skip(1).take(2).map(|(_, v)| value_text(v)).collect();
                format!(" ({})", vals.join(", "))
            }
            None if self.op != ChangeOp::Delete => " (filtered out)".to_string(),
            None => String::new(),
        };
        format!("#{} {} {} {}{row}", self.seq, self.table, self.op.name(), value_text(&self.key))
    }

    pub fn size_bytes(&self) -> usize {
        let value = |v: &Value| match v {
            Value::Text(s) => 4 + s.len(),
            Value::Null => 1,
            _ => 8,
        };
        let row: usize = self.row.as_ref().map_or(0, |r| r.iter().map(|(_, v)| value(v)).sum());
        16 + self.table.len() + value(&self.key) + row
    }
}

impl Node {
    /// Run a statement of this node's own (replication machinery, not a client), in its own transaction.
    pub(crate) fn run_internal(&mut self, sql: &str, now: Micros) -> Result<crate::sql::Outcome, SqlError> {
        let mut env = NodeEnv { local_now_us: self.local_time_us(now), rng: &mut self.rng };
        self.db.execute_autocommit(sql, &mut env)
    }

    /// The declared primary key column of a table, if it has one.
    pub(crate) fn pk_column(&self, table: &str) -> Option<String> {
        let cols = self.db.columns(table)?;
        let probe: Vec<(String, Value)> =
            cols.iter().enumerate().map(|(i, c)| (c.clone(), Value::Integer(i as i64))).collect();
        match self.db.primary_key_of(table, &probe) {
            Some(Value::Integer(i)) => cols.get(i as usize).cloned(),
            _ => None,
        }
    }

    /// Set up trigger-based capture on the leader: the changes table, triggers on every replicated table, and a
    /// check that each row filter is a valid condition on its table.
    pub fn install_change_capture(&mut self, spec: &TriggerSpec) -> Result<(), String> {
        let create = format!(
            "CREATE TABLE IF NOT EXISTS {CHANGES_TABLE} (seq INTEGER PRIMARY KEY AUTOINCREMENT, tbl TEXT NOT NULL, \
             op TEXT NOT NULL, pk)"
        );
        self.run_internal(&create, 0).map_err(|e| e.message)?;
        self.capture_new_tables(spec);
        for (table, cond) in &spec.row_filter {
            let probe = format!("SELECT 1 FROM {} WHERE {cond} LIMIT 0", ident(table));
            self.run_internal(&probe, 0).map_err(|e| format!("replication.trigger.where.{table}: {e}"))?;
        }
        Ok(())
    }

    /// Add capture triggers to replicated tables that have none yet (run after a CREATE TABLE commits).
    pub(crate) fn capture_new_tables(&mut self, spec: &TriggerSpec) {
        let schema = self.db.schema().join("\n");
        for table in self.db.table_names() {
            let name = |suffix: &str| ident(&format!("_capture_{}_{suffix}", table.to_ascii_lowercase()));
            if !spec.includes(&table) || schema.contains(&format!("TRIGGER {} ", name("ins"))) {
                continue;
            }
            let pk = ident(&self.pk_column(&table).unwrap_or_else(|| "rowid".to_string()));
            let (tbl, literal) = (ident(&table), sql_literal(&Value::Text(table.clone())));
            let log = |op: &str, image: &str| {
                format!("INSERT INTO {CHANGES_TABLE} (tbl, op, pk) VALUES ({literal}, '{op}', {image}.{pk});")
            };
            // An UPDATE that changes the key moves the row: the old key is logged as a delete first, or the
            // targets would keep the row under its old key too.
            let moved = format!(
                "INSERT INTO {CHANGES_TABLE} (tbl, op, pk) SELECT {literal}, 'delete', OLD.{pk} WHERE OLD.{pk} IS NOT NEW.{pk};"
            );
            for (suffix, event, body) in [
                ("ins", "INSERT", log("insert", "NEW")),
                ("upd", "UPDATE", [moved.as_str(), " ", &log("update", "NEW")].concat()),
                ("del", "DELETE", log("delete", "OLD")),
            ] {
                let sql = format!("CREATE TRIGGER {} AFTER {event} ON {tbl} BEGIN {body} END", name(suffix));
                let _ = self.run_internal(&sql, 0);
            }
        }
    }

    /// Answer the replicator's poll: the next changes, each with the current row it points at (reading the row
    /// through the table's filter). These reads are the price of trigger-based replication on the leader.
    pub(crate) fn serve_poll(&mut self, now: Micros, from: usize, after: i64, limit: u32, cfg: &NodeConfig) -> Effect {
        let query = format!(
            "SELECT seq, tbl, op, pk FROM {CHANGES_TABLE} WHERE seq > {after} ORDER BY seq LIMIT {}",
            limit + 1
        );
        let rows = self.run_internal(&query, now).map(|o| o.rows).unwrap_or_default();
        let complete = rows.len() <= limit as usize;
        let mut changes = Vec::new();
        for r in rows.iter().take(limit as usize) {
            let (Some(Value::Integer(seq)), Some(Value::Text(table)), Some(Value::Text(op)), Some(key)) =
                (r.first(), r.get(1), r.get(2), r.get(3))
            else {
                continue;
            };
            let Some(op) = ChangeOp::parse(op) else { continue };
            let row = if op == ChangeOp::Delete { None } else { self.current_row(now, table, key, cfg) };
            changes.push(ChangeRow { seq: *seq, table: table.clone(), op, key: key.clone(), row });
        }
        let leader_lsn = self.lsn();
        send(from, Payload::Changes { changes: Rc::new(changes), leader_lsn, complete })
    }

    pub(crate) fn current_row(
        &mut self,
        now: Micros,
        table: &str,
        key: &Value,
        cfg: &NodeConfig,
    ) -> Option<Vec<(String, Value)>> {
        let pk = self.pk_column(table).unwrap_or_else(|| "rowid".to_string());
        let filter = cfg.trigger.row_filter.get(&table.to_ascii_lowercase());
        let mut query = format!("SELECT * FROM {} WHERE {} = {}", ident(table), ident(&pk), sql_literal(key));
        if let Some(cond) = filter {
            query.push_str(&format!(" AND ({cond})"));
        }
        let outcome = self.run_internal(&query, now).ok()?;
        let values = outcome.rows.into_iter().next()?;
        Some(outcome.columns.into_iter().zip(values).collect())
    }

    /// Every target has these changes: delete them from the changes table (more writes on the leader).
    pub(crate) fn purge_changes(&mut self, now: Micros, upto: i64) {
        let _ = self.run_internal(&format!("DELETE FROM {CHANGES_TABLE} WHERE seq <= {upto}"), now);
    }

    /// A target (follower or CDC consumer) applies changes from the replicator, skipping ones it already has.
    pub(crate) fn apply_changes(
        &mut self,
        from: usize,
        changes: &[ChangeRow],
        leader_lsn: u64,
        complete: bool,
        out: &mut Vec<Effect>,
    ) {
        if self.status == Status::Halted {
            return;
        }
        for c in changes {
            if c.seq <= self.applied_seq {
                continue;
            }
            if let Err(e) = self.apply_change_row(c) {
                let error = format!("trigger-based replication stopped at change #{}: {}", c.seq, e.message);
                self.status = Status::Halted;
                self.halt_error = Some(error.clone());
                out.push(Effect::Note(Note::Halted { error }));
                return;
            }
            self.applied_seq = c.seq;
        }
        if complete && self.log.is_empty() && leader_lsn > self.base_lsn {
            self.base_lsn = leader_lsn;
            out.push(Effect::Note(Note::Applied { lsn: leader_lsn }));
        }
        out.push(send(from, Payload::ChangesApplied { seq: self.applied_seq, lsn: self.lsn() }));
    }

    pub(crate) fn apply_change_row(&mut self, c: &ChangeRow) -> Result<(), SqlError> {
        if let Some(index) = self.search.as_mut() {
            if index.covers(&c.table) {
                match &c.row {
                    Some(row) => index.put_row(&c.key, row),
                    None => index.remove(&value_text(&c.key)),
                }
            }
            return Ok(());
        }
        let missing = |e: &SqlError| e.message.starts_with("no such row");
        match &c.row {
            // An upsert: the row may or may not be here yet (changes are applied again after a lost confirmation).
            Some(row) => {
                let update = RowChange::Update { table: c.table.clone(), key: c.key.clone(), row: row.clone() };
                match self.db.apply_change(&update) {
                    Err(e) if missing(&e) => {
                        self.db.apply_change(&RowChange::Insert { table: c.table.clone(), row: row.clone() })
                    }
                    r => r,
                }
            }
            None => match self.db.apply_change(&RowChange::Delete { table: c.table.clone(), key: c.key.clone() }) {
                Err(e) if missing(&e) => Ok(()),
                r => r,
            },
        }
    }
}
