//! Checkers: they read the client histories, the trace and the final state, and report findings (anomalies), each
//! naming the history entries that prove it. Findings are results of a run, not failures.
//!
//! - `divergence.rs`: replicas that should match and do not.
//! - `failover.rs`: DDIA 5.1 "Handling Node Outages" (lost writes, reused keys, split brain, unavailability).
//! - `lag.rs`: DDIA 5.2 "Problems with Replication Lag" (read-your-writes, monotonic reads, consistent prefix,
//!   stale reads).

pub mod divergence;
pub mod failover;
pub mod invariants;
pub mod lag;

use serde_json::{json, Value};

use crate::world::sim::Simulation;

pub use divergence::{check_divergence, row_diffs, RowDiff};

/// What a finding is. The JSON spelling (`name`) is part of the report contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum AnomalyKind {
    /// Replicas that applied the same log hold different rows.
    Divergence,
    /// An acknowledged write that the leader that counts no longer has.
    LostWrite,
    /// One primary key handed out for two different rows.
    KeyReuse,
    /// Two nodes acted as leader at once and both accepted writes.
    SplitBrain,
    /// Client writes failed: no leader, or none the clients knew of.
    Unavailable,
    ReadYourWrites,
    MonotonicReads,
    ConsistentPrefix,
    StaleRead,
    /// DDIA 5.3 and 5.4: concurrent writes to the same row or key (neither writer had seen the other's version).
    Conflict,
    /// DDIA 5.3: an acknowledged write that conflict resolution threw away.
    LostUpdate,
    /// DDIA 5.3: two leaders generated the same AUTOINCREMENT key.
    DuplicateKey,
}

impl AnomalyKind {
    pub const ALL: [AnomalyKind; 12] = [
        AnomalyKind::Divergence,
        AnomalyKind::LostWrite,
        AnomalyKind::KeyReuse,
        AnomalyKind::SplitBrain,
        AnomalyKind::Unavailable,
        AnomalyKind::ReadYourWrites,
        AnomalyKind::MonotonicReads,
        AnomalyKind::StaleRead,
        AnomalyKind::ConsistentPrefix,
        AnomalyKind::Conflict,
        AnomalyKind::LostUpdate,
        AnomalyKind::DuplicateKey,
    ];
    /// The DDIA 5.2 kinds, in badge order.
    pub const LAG: [AnomalyKind; 4] = [
        AnomalyKind::ReadYourWrites,
        AnomalyKind::MonotonicReads,
        AnomalyKind::StaleRead,
        AnomalyKind::ConsistentPrefix,
    ];

    /// The kind's spelling in reports (`"kind"`), in the trace and in the page's data attributes.
    pub fn name(self) -> &'static str {
        match self {
            AnomalyKind::Divergence => "divergence",
            AnomalyKind::LostWrite => "lost-write",
            AnomalyKind::KeyReuse => "key-reuse",
            AnomalyKind::SplitBrain => "split-brain",
            AnomalyKind::Unavailable => "unavailable",
            AnomalyKind::ReadYourWrites => "read-your-writes",
            AnomalyKind::MonotonicReads => "monotonic-reads",
            AnomalyKind::ConsistentPrefix => "consistent-prefix",
            AnomalyKind::StaleRead => "stale-read",
            AnomalyKind::Conflict => "conflict",
            AnomalyKind::LostUpdate => "lost-update",
            AnomalyKind::DuplicateKey => "duplicate-key",
        }
    }

    pub fn parse(name: &str) -> Option<AnomalyKind> {
        AnomalyKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// A problem of replication lag (DDIA 5.2)?
    pub fn is_lag(self) -> bool {
        AnomalyKind::LAG.contains(&self)
    }
}

impl std::fmt::Display for AnomalyKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Anomaly {
    pub kind: AnomalyKind,
    pub detail: String,
    /// Indexes into the history of the operations that prove it.
    pub ops: Vec<usize>,
}

impl Anomaly {
    pub fn to_json(&self) -> Value {
        json!({"kind": self.kind.name(), "detail": self.detail, "ops": self.ops})
    }
}

/// Every checker, in report order.
pub fn anomalies(sim: &Simulation) -> Vec<Anomaly> {
    if let crate::protocol::Protocol::MultiLeader(c) = &sim.protocol {
        // The single-leader checkers judge against one leader; several leaders have their own findings.
        return crate::protocol::multi_leader::check::anomalies(sim, c);
    }
    let mut all = check_divergence(sim);
    all.extend(failover::lost_writes(sim));
    all.extend(failover::key_reuse(sim));
    all.extend(failover::split_brain(sim));
    all.extend(failover::unavailability(sim));
    all.extend(lag::check(sim));
    if let Some(c) = sim.protocol.leaderless() {
        all.extend(crate::protocol::leaderless::findings::check(sim, c));
    }
    all
}

#[cfg(test)]
mod tests {
    use super::AnomalyKind;

    #[test]
    fn every_kind_parses_back_from_its_name() {
        for k in AnomalyKind::ALL {
            assert_eq!(AnomalyKind::parse(k.name()), Some(k));
        }
        assert_eq!(AnomalyKind::parse("nonsense"), None);
    }
}
