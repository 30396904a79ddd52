//! DDIA 5.1 "Statement-based replication": the leader logs every data-changing statement as SQL text and the
//! followers execute it again. Anything nondeterministic (NOW(), RAND(), UUID(), an autoincrement that depends on
//! order, a trigger's side effects) can give a follower another result. With `statement_mixed` (MySQL's MIXED
//! format) an unsafe statement is logged as row images instead.

use super::{Committed, LogRecord, ReplicationLog};
use crate::scenario::LogKind;

pub struct StatementLog {
    /// MySQL's MIXED binlog format: unsafe transactions go as row images.
    pub mixed: bool,
}

impl ReplicationLog for StatementLog {
    fn kind(&self) -> LogKind {
        LogKind::Statement
    }
    fn encode(&self, c: Committed) -> LogRecord {
        if self.mixed {
            // MySQL decides per statement; here one unsafe statement sends its whole transaction as rows.
            let unsafe_one = c.statements.iter().find(|s| !crate::sql::is_deterministic(s).unwrap_or(false));
            if let Some(s) = unsafe_one {
                return LogRecord::Logical { changes: c.changes.to_vec(), unsafe_statement: Some(s.clone()) };
            }
        }
        LogRecord::Statement { statements: c.statements.to_vec() }
    }
}
