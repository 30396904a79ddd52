//! DDIA 5.1 "Logical (row-based) log replication": row images keyed by primary key (an insert carries every
//! column, an update the key and the new values, a delete the key), closed by a commit record. Decoupled from the
//! storage engine, so followers may run another storage format, and external consumers can decode it.

use super::{Committed, LogRecord, ReplicationLog};
use crate::scenario::LogKind;

pub struct LogicalLog;

impl ReplicationLog for LogicalLog {
    fn kind(&self) -> LogKind {
        LogKind::Logical
    }
    fn encode(&self, c: Committed) -> LogRecord {
        LogRecord::Logical { changes: c.changes.to_vec() }
    }
}
