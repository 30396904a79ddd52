//! DDIA 5.1 "Statement-based replication": the leader logs every data-changing statement as SQL text and the
//! followers execute it again. Anything nondeterministic (NOW(), RAND(), UUID(), an autoincrement that depends on
//! order, a trigger's side effects) can give a follower another result. With `statement_mixed` (MySQL's MIXED
//! format) the decision is made per statement: an unsafe statement is logged as the row images it produced, the
//! safe statements around it stay SQL text, all in one record in the transaction's order.

use super::{Committed, LogRecord, MixedPart, ReplicationLog};
use crate::scenario::LogKind;

pub struct StatementLog {
    /// MySQL's MIXED binlog format: unsafe statements go as row images.
    pub mixed: bool,
}

impl ReplicationLog for StatementLog {
    fn kind(&self) -> LogKind {
        LogKind::Statement
    }
    fn encode(&self, c: Committed) -> LogRecord {
        if self.mixed {
            if let Some(parts) = mixed_parts(&c) {
                return LogRecord::Mixed { parts };
            }
        }
        LogRecord::Statement { statements: c.statements.to_vec() }
    }
    fn substitutes(&self, substitution: bool) -> bool {
        substitution
    }
}

/// MySQL's MIXED format decides statement by statement: one that is not safe to replay (a nondeterministic call)
/// is logged as the rows it changed, the others as their text. None when every statement is safe (a plain
/// statement record), or when the unsafe ones changed no rows (row events for nothing are not written).
fn mixed_parts(c: &Committed) -> Option<Vec<MixedPart>> {
    let mut parts = Vec::with_capacity(c.statements.len());
    let mut rows = false;
    let mut start = 0;
    for (i, s) in c.statements.iter().enumerate() {
        let end = c.ends.get(i).copied().unwrap_or(start).max(start);
        let changes = c.changes.get(start..end).unwrap_or_default();
        start = end;
        if crate::sql::is_deterministic(s).unwrap_or(false) {
            parts.push(MixedPart::Statement(s.clone()));
        } else if !changes.is_empty() {
            rows = true;
            parts.push(MixedPart::Rows { statement: s.clone(), changes: changes.to_vec() });
        }
    }
    rows.then_some(parts)
}
