//! DDIA 5.1 "Write-ahead log (WAL) shipping": the leader ships the bytes its storage engine wrote to its pages,
//! tagged with its storage format; followers write the same bytes, so their pages are identical, and refuse bytes of
//! another format (why a rolling upgrade cannot work under WAL shipping).

use super::{Committed, LogRecord, ReplicationLog};
use crate::scenario::LogKind;

pub struct WalLog;

impl ReplicationLog for WalLog {
    fn kind(&self) -> LogKind {
        LogKind::Wal
    }
    fn encode(&self, c: Committed) -> LogRecord {
        LogRecord::Wal { format: c.format, writes: c.pages }
    }
    fn pages_are_the_log(&self) -> bool {
        true
    }
}
