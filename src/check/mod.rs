//! Checkers: they read the client histories, the trace and the final state, and report findings (anomalies), each
//! naming the history entries that prove it. Findings are results of a run, not failures.
//!
//! - `divergence.rs`: replicas that should match and do not.
//! - `failover.rs`: DDIA 5.1 "Handling Node Outages" (lost writes, reused keys, split brain, unavailability).
//! - `lag.rs`: DDIA 5.2 "Problems with Replication Lag" (read-your-writes, monotonic reads, consistent prefix,
//!   stale reads).

pub mod divergence;
pub mod failover;
pub mod lag;

use serde_json::{json, Value};

use crate::world::sim::Simulation;

pub use divergence::{check_divergence, row_diffs, RowDiff};

#[derive(Clone, Debug, PartialEq)]
pub struct Anomaly {
    pub kind: String,
    pub detail: String,
    /// Indexes into the history of the operations that prove it.
    pub ops: Vec<usize>,
}

impl Anomaly {
    pub fn to_json(&self) -> Value {
        json!({"kind": self.kind, "detail": self.detail, "ops": self.ops})
    }
}

/// Every checker, in report order.
pub fn anomalies(sim: &Simulation) -> Vec<Anomaly> {
    let mut all = check_divergence(sim);
    all.extend(failover::lost_writes(sim));
    all.extend(failover::key_reuse(sim));
    all.extend(failover::split_brain(sim));
    all.extend(failover::unavailability(sim));
    all.extend(lag::check(sim));
    all
}
