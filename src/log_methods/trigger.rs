//! DDIA 5.1 "Trigger-based replication".
//!
//! - **Trigger-based**: the leader gets, for every replicated table, AFTER INSERT / UPDATE / DELETE triggers that
//!   write the table name, the operation and the row's key into a changes table (`_changes`) in the same
//!   transaction as the change itself. A separate replicator process polls that table every `poll_ms`, reads the
//!   current row behind each change (only rows meeting the table's filter), applies them to its targets — followers,
//!   or a store of another kind such as a search index — and, once every target has confirmed, deletes the copied
//!   changes. As in Bucardo, the changes table holds keys, not row images, and schema changes are not carried.
//!
//! Here the targets are the followers themselves (as with Slony-I): the leader's own log is not shipped, so the
//! changes table exists only on the leader. After a failover:
//!
//! - The promoted follower gets the capture triggers and a changes table whose numbering continues from the last
//!   change it applied as a target (its `base`): every change up to there is in its data, every later one will be
//!   captured by its own triggers. Numbers are qualified by the era (the epoch) of the leader that issued them, since
//!   the old leader may have numbered changes past that point too.
//! - It tells the replicator, which also asks a replica who leads when the leader stays silent. The replicator then
//!   polls the new leader and forwards its changes; a target that stands exactly at the new leader's base continues
//!   from its position.
//! - A target anywhere else cannot continue: behind, it misses changes the new changes table never held; ahead, it
//!   holds changes the old leader captured after the new leader's last one, which no one will ever replicate again
//!   (they are lost, as in any asynchronous failover). It asks for an initial copy, as a new target does: the leader's
//!   replicated rows (through the filters) and the position they stand at. Installing it discards what the target had
//!   of those tables, lost changes included, and the trace says how many client writes that dropped. A returning old
//!   leader becomes a target the same way.

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

/// A position in the numbering of changes: change `seq` as numbered by the triggers of the leader of epoch `era`
/// (era 0: no position at all).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ChangePos {
    pub era: u64,
    pub seq: i64,
}

/// One row of the changes table, with the current row it points at (None: deleted, or filtered out).
#[derive(Clone, Debug, PartialEq)]
pub struct ChangeRow {
    pub seq: i64,
    pub table: String,
    pub op: ChangeOp,
    pub key: Value,
    pub row: Option<Vec<(String, Value)>>,
    /// The client operation that made the change (bookkeeping for the checkers, like a log entry's origin: not
    /// shipped, not counted in the bytes).
    pub origin: Option<usize>,
}

/// An initial copy for a trigger target: the leader's rows of every replicated table (through the row filters),
/// consistent at change `seq` of era `era`, when the leader was at LSN `leader_lsn`.
#[derive(Clone, Debug, PartialEq)]
pub struct TargetCopy {
    pub era: u64,
    pub seq: i64,
    pub leader_lsn: u64,
    /// The replicated tables: a target replaces exactly these, creating the ones it lacks from `schema`.
    pub tables: Vec<String>,
    /// Their CREATE TABLE statements (a new node has no schema yet; its tables must match the leader's).
    pub schema: Vec<String>,
    pub rows: Vec<(String, Vec<(String, Value)>)>,
    /// The client operations whose writes the copy holds (bookkeeping, not shipped).
    pub origins: crate::chunked::ChunkMap<usize, ()>,
}

impl TargetCopy {
    /// Table name and column values of every row, and a fixed header.
    pub fn size_bytes(&self) -> usize {
        let row =
            |(t, r): &(String, Vec<(String, Value)>)| 8 + t.len() + r.iter().map(|(_, v)| value_size(v)).sum::<usize>();
        16 + self.schema.iter().map(|s| 8 + s.len()).sum::<usize>() + self.rows.iter().map(row).sum::<usize>()
    }
}

fn value_size(v: &Value) -> usize {
    match v {
        Value::Text(s) => 4 + s.len(),
        Value::Null => 1,
        _ => 8,
    }
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
        let row: usize = self.row.as_ref().map_or(0, |r| r.iter().map(|(_, v)| value_size(v)).sum());
        16 + self.table.len() + value_size(&self.key) + row
    }
}

impl Node {
    /// Run a statement of this node's own (replication machinery, not a client), in its own transaction.
    pub(crate) fn run_internal(&mut self, sql: &str, now: Micros) -> Result<crate::sql::Outcome, SqlError> {
        let mut env = NodeEnv { local_now_us: self.local_time_us(now), rng: &mut self.rng };
        self.db.without_work_limit(|db| db.execute_autocommit(sql, &mut env))
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
            let origin = self.change_origins.get(seq).copied();
            changes.push(ChangeRow { seq: *seq, table: table.clone(), op, key: key.clone(), row, origin });
        }
        let leader_lsn = self.lsn();
        let (era, base) = (self.changes_era, self.capture_base);
        send(from, Payload::Changes { changes: Rc::new(changes), leader_lsn, complete, era, base })
    }

    /// Remember which client operation wrote each change row of a commit (the capture triggers' inserts into the
    /// changes table are among its row changes).
    pub(crate) fn note_captures(&mut self, changes: &[RowChange], op: usize) {
        let mut captured = false;
        for c in changes {
            let RowChange::Insert { table, row } = c else { continue };
            if !table.eq_ignore_ascii_case(CHANGES_TABLE) {
                continue;
            }
            if let Some((_, Value::Integer(seq))) = row.iter().find(|(c, _)| c.eq_ignore_ascii_case("seq")) {
                self.change_origins.insert(*seq, op);
                captured = true;
            }
        }
        if captured {
            self.captured_ops.insert(op, ());
        }
    }

    /// A follower becomes leader under trigger-based replication: capture triggers on, a changes table whose
    /// numbering continues after the last change it applied as a target, and a word to the replicator.
    pub(crate) fn start_capture(&mut self, now: Micros, cfg: &NodeConfig, out: &mut Vec<Effect>) {
        let base = ChangePos { era: self.changes_era, seq: self.applied_seq };
        let _ = self.install_change_capture(&cfg.trigger);
        // Rows left from an earlier time as leader are another era's: its changes are in this node's data already.
        let _ = self.run_internal(&format!("DELETE FROM {CHANGES_TABLE}"), now);
        self.db.advance_autoincrement(CHANGES_TABLE, base.seq);
        self.change_origins = Default::default();
        self.capture_base = base;
        self.changes_era = self.epoch;
        self.captured_ops = self.origins.clone();
        if let Some(r) = cfg.replicator {
            out.push(send(r, Payload::Announce { leader: self.index, epoch: self.epoch }));
        }
    }

    /// A leader steps down: its position as a target is the last change its own triggers numbered (every change up
    /// to there is in its data). Its LSN, as a target's, will be the leader's as of the last complete poll it applies:
    /// the log it kept for itself is history.
    pub(crate) fn stop_capture(&mut self) {
        let Some(seq) = self.db.autoincrement_sequence(CHANGES_TABLE) else { return };
        self.applied_seq = seq.max(self.capture_base.seq);
        self.base_epoch = self.last_epoch();
        self.base_lsn = self.lsn();
        self.log.clear();
    }

    /// Ask the replicator for an initial copy (a new node, or a target that cannot continue from where it is).
    pub(crate) fn ask_for_copy(&self, cfg: &NodeConfig) -> Option<Effect> {
        let at = ChangePos { era: self.changes_era, seq: self.applied_seq };
        cfg.replicator.map(|r| send(r, Payload::NeedCopy { at }))
    }

    /// The leader's rows of every replicated table, through the row filters, as of now: an initial copy.
    pub(crate) fn serve_copy(&mut self, now: Micros, from: usize, cfg: &NodeConfig) -> Effect {
        let tables: Vec<String> = self.db.table_names().into_iter().filter(|t| cfg.trigger.includes(t)).collect();
        let schema = tables.iter().filter_map(|t| self.db.table_sql(t)).collect();
        let mut rows = Vec::new();
        for t in &tables {
            let mut query = format!("SELECT * FROM {}", ident(t));
            if let Some(cond) = cfg.trigger.row_filter.get(&t.to_ascii_lowercase()) {
                query.push_str(&format!(" WHERE {cond}"));
            }
            if let Ok(o) = self.run_internal(&query, now) {
                rows.extend(o.rows.into_iter().map(|r| (t.clone(), o.columns.iter().cloned().zip(r).collect())));
            }
        }
        // Every change numbered so far is in these rows.
        let seq = self.db.autoincrement_sequence(CHANGES_TABLE).unwrap_or(0).max(self.capture_base.seq);
        let copy = TargetCopy {
            era: self.changes_era,
            seq,
            leader_lsn: self.lsn(),
            tables,
            schema,
            rows,
            origins: self.captured_ops.clone(),
        };
        send(from, Payload::TargetCopy { copy: Rc::new(copy) })
    }

    pub(crate) fn changes_applied(&self, to: usize) -> Effect {
        send(to, Payload::ChangesApplied { seq: self.applied_seq, lsn: self.lsn(), era: self.changes_era })
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
        self.change_origins.retain(|seq, _| *seq > upto);
    }

    /// A target (follower or CDC consumer) applies changes from the replicator, skipping ones it already has.
    /// Changes of an older era than its own are stale (sent before a failover); a newer era's continue only from
    /// exactly its base.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn apply_changes(
        &mut self,
        from: usize,
        changes: &[ChangeRow],
        leader_lsn: u64,
        complete: bool,
        era: u64,
        base: ChangePos,
        out: &mut Vec<Effect>,
    ) {
        if self.status == Status::Halted || era < self.changes_era {
            return;
        }
        let here = ChangePos { era: self.changes_era, seq: self.applied_seq };
        if self.changes_era == 0 || (era > self.changes_era && here != base) {
            out.extend(self.ask_for_copy_from(from, here));
            return;
        }
        self.changes_era = era;
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
            if let Some(o) = c.origin {
                self.origins.insert(o, ());
            }
        }
        if complete && self.log.is_empty() && leader_lsn > self.base_lsn {
            self.base_lsn = leader_lsn;
            self.base_epoch = era;
            out.push(Effect::Note(Note::Applied { lsn: leader_lsn }));
        }
        out.push(self.changes_applied(from));
    }

    fn ask_for_copy_from(&self, replicator: usize, at: ChangePos) -> Option<Effect> {
        Some(send(replicator, Payload::NeedCopy { at }))
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
        let missing = |e: &SqlError| e.kind == crate::sql::SqlErrorKind::NoSuchRow;
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

/// Trigger-based replication as a log method: the leader keeps a row-based log for itself (its own recovery and
/// the comparison's figures), ships it nowhere, and captures every change in the changes table instead.
pub struct TriggerLog;

impl super::ReplicationLog for TriggerLog {
    fn kind(&self) -> crate::scenario::LogKind {
        crate::scenario::LogKind::Trigger
    }
    fn encode(&self, c: super::Committed) -> super::LogRecord {
        super::LogRecord::Logical { changes: c.changes.to_vec() }
    }
    fn ships_log(&self) -> bool {
        false
    }
}
