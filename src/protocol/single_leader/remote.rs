//! A leader commits row changes that did not come from its own clients: multi-leader replication (DDIA 5.3) hands
//! a leader the changes another leader made, and the leader applies them as one transaction of its own log, so that
//! the followers of its datacenter get them as they get any other write (single-leader inside the datacenter).

use super::*;
use crate::log_methods::LogRecord;
use crate::protocol::Action;
use crate::sql::RowChange;

impl Node {
    /// Apply `changes` (already made valid against this node's rows) as one transaction, append it to the log with
    /// no client operation, and ship it to every follower in step. Fails (changing nothing) while a client
    /// transaction holds the database's write lock.
    pub fn commit_replicated(
        &mut self,
        now: Micros,
        changes: Vec<RowChange>,
        cfg: &NodeConfig,
    ) -> Result<Vec<Effect>, String> {
        let mut changes = changes;
        let failed = changes.iter().position(|c| self.db.apply_change(c).is_err());
        if let Some(done) = failed {
            // The caller only passes changes valid against the current rows, so only a client transaction's lock
            // makes one fail, and then it is the first: nothing was applied. Otherwise log what was applied.
            if done == 0 {
                return Err("database is locked".into());
            }
            changes.truncate(done);
        }
        let keys: Vec<(std::sync::Arc<str>, Value)> = changes
            .iter()
            .filter_map(|c| match c {
                RowChange::Insert { table, row } => {
                    self.db.primary_key_of(table, row).map(|k| (self.db.table_key(table), k))
                }
                RowChange::Update { table, key, .. } | RowChange::Delete { table, key } => {
                    Some((self.db.table_key(table), key.clone()))
                }
                RowChange::Ddl { .. } => None,
            })
            .collect();
        let lsn = self.lsn() + 1;
        let record = LogRecord::Logical { changes };
        let entry = Rc::new(LogEntry { lsn, epoch: self.epoch, record, origin: None, keys, committed_at: now });
        self.append(entry.clone(), cfg);
        Ok(self.ship_in_step(entry, now, cfg))
    }
}

impl Cluster {
    /// Leader `node` commits changes another leader made (see `Node::commit_replicated`), as world actions.
    pub fn commit_replicated(
        &mut self,
        node: usize,
        now: Micros,
        changes: Vec<RowChange>,
    ) -> Result<Vec<Action>, String> {
        let cfg = self.cfg.clone();
        let effects = self.nodes[node].commit_replicated(now, changes, &cfg)?;
        Ok(self.actions(node, now, effects))
    }
}
