//! One workload, four clusters: the same scenario replicated with each log method of DDIA 5.1 "Implementation of
//! Replication Logs" (statement-based, WAL shipping, logical, trigger-based), and the figures that tell them apart:
//! records and bytes shipped, work on the followers, extra work on the leader, lag, and whether the replicas match.

use serde_json::{json, Value};

use crate::check::{row_diffs, Anomaly};
use crate::protocol::single_leader::Status;
use crate::scenario::{LogKind, Role, Scenario};
use crate::world::sim::{SetupError, Simulation};
use crate::world::time::to_ms_f64;

pub const METHODS: [LogKind; 4] = [LogKind::Statement, LogKind::Wal, LogKind::Logical, LogKind::Trigger];

/// Do the replicas match the leader at the end?
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    /// Every replica that caught up holds exactly what it should.
    Match,
    /// Rows (or indexed documents) differ: `rows` of them in all.
    Diverged { rows: usize },
    /// A replica stopped replicating.
    Halted { node: String, error: String },
    /// A replica is still behind when the run ends (nothing to compare yet).
    Behind { node: String },
}

impl Verdict {
    pub fn text(&self) -> String {
        match self {
            Verdict::Match => "replicas match the leader".to_string(),
            Verdict::Diverged { rows } => format!("replicas DIVERGE: {rows} rows differ"),
            Verdict::Halted { node, error } => format!("{node} HALTED: {error}"),
            Verdict::Behind { node } => format!("{node} is still behind"),
        }
    }

    pub fn ok(&self) -> bool {
        *self == Verdict::Match
    }
}

/// The figures of one method's run.
#[derive(Clone, Debug, PartialEq)]
pub struct Figures {
    pub log: LogKind,
    /// Replication records shipped (log entries, or change rows for triggers) and their bytes.
    pub records: u64,
    pub record_bytes: u64,
    /// Every replication message (log shipping, polls, acknowledgements) and their bytes.
    pub messages: u64,
    pub bytes: u64,
    /// Work on followers and consumers to apply what they received: rows read and written, page bytes written.
    pub apply_rows: u64,
    pub apply_bytes: u64,
    /// Rows the leader wrote, its own and the replication machinery's (the changes table).
    pub leader_rows_written: u64,
    /// Trigger-based: polls of the changes table, and how many found nothing.
    pub polls: u64,
    pub empty_polls: u64,
    /// Largest replication lag seen (ms) and the mean of all samples.
    pub max_lag_ms: f64,
    pub mean_lag_ms: f64,
    pub verdict: Verdict,
    /// Divergence findings (with the rows that differ), from the same checker the report uses.
    pub divergence: Vec<Anomaly>,
}

/// Run the scenario once per method (same seed, same workload, same faults).
pub fn run_all(scenario: &Scenario, seed: u64) -> Result<Vec<Simulation>, SetupError> {
    if scenario.replication.leaderless.is_some() {
        return Err(SetupError(
            "the log-method comparison is about a leader's replication log; leaderless replication has none".into(),
        ));
    }
    METHODS
        .iter()
        .map(|m| {
            let s = scenario.with_log(*m);
            let mut sim = Simulation::new(&s, seed, &[])?;
            sim.run_to_end();
            Ok(sim)
        })
        .collect()
}

/// The figures of every method, the runs on every core (`crate::par`; `replsim compare`), in `METHODS` order.
pub fn figures_all(scenario: &Scenario, seed: u64) -> Result<Vec<Figures>, SetupError> {
    crate::par::map(&METHODS, |m| {
        let mut sim = Simulation::new(&scenario.with_log(*m), seed, &[])?;
        sim.run_to_end();
        Ok(figures(&sim))
    })
    .into_iter()
    .collect()
}

pub fn verdict(sim: &Simulation) -> Verdict {
    let Some(cl) = sim.protocol.single_leader() else {
        return Verdict::Behind { node: "(not a single-leader run)".into() };
    };
    let Some(l) = cl.leader() else { return Verdict::Behind { node: "(no leader)".into() } };
    let leader = &cl.nodes[l];
    let downstream = cl
        .nodes
        .iter()
        .filter(|n| n.index != l && n.status != Status::Absent && (n.is_replica() || n.role == Role::Cdc));
    let mut rows = 0;
    for n in downstream {
        if let Some(e) = &n.halt_error {
            return Verdict::Halted { node: n.id.clone(), error: e.clone() };
        }
        if n.lsn() < leader.lsn() {
            return Verdict::Behind { node: n.id.clone() };
        }
        if n.is_replica() {
            rows += row_diffs(sim, leader, n).len();
        }
    }
    let index_diverged = !crate::check::divergence::check_index_divergence(sim).is_empty();
    match (rows, index_diverged) {
        (0, false) => Verdict::Match,
        (r, _) => Verdict::Diverged { rows: r.max(1) },
    }
}

pub fn figures(sim: &Simulation) -> Figures {
    let cl = sim.protocol.single_leader();
    use crate::world::trace::MsgKind;
    let leader = cl.and_then(|c| c.leader());
    let (mut apply_rows, mut apply_bytes, mut leader_rows_written) = (0, 0, 0);
    for n in cl.into_iter().flat_map(|c| c.nodes.iter()).filter(|n| n.status != Status::Absent) {
        let st = n.db.stats();
        if Some(n.index) == leader {
            leader_rows_written = st.rows_written;
        } else if n.is_replica() || n.role == Role::Cdc {
            apply_rows += st.rows_read + st.rows_written;
            apply_bytes += st.bytes_written;
        }
    }
    let (mut messages, mut bytes) = (0, 0);
    for (k, m) in &sim.metrics.per_kind {
        if matches!(k, MsgKind::Replicate | MsgKind::Ack | MsgKind::Fetch | MsgKind::Heartbeat | MsgKind::Snapshot) {
            messages += m.sent;
            bytes += m.bytes;
        }
    }
    let lags: Vec<u64> =
        cl.into_iter().flat_map(|c| c.lag_samples.iter()).flat_map(|s| s.lags.iter().map(|(_, d)| *d)).collect();
    let max_lag = lags.iter().copied().max().unwrap_or(0);
    let mean_lag = if lags.is_empty() { 0.0 } else { lags.iter().sum::<u64>() as f64 / lags.len() as f64 / 1000.0 };
    let replicator =
        cl.into_iter().flat_map(|c| c.nodes.iter()).find(|n| n.role == Role::Replicator).map(|n| &n.replicator);
    Figures {
        log: sim.scenario.replication.log,
        records: sim.metrics.records,
        record_bytes: sim.metrics.record_bytes,
        messages,
        bytes,
        apply_rows,
        apply_bytes,
        leader_rows_written,
        polls: replicator.map_or(0, |r| r.polls),
        empty_polls: replicator.map_or(0, |r| r.empty_polls),
        max_lag_ms: to_ms_f64(max_lag),
        mean_lag_ms: mean_lag,
        verdict: verdict(sim),
        divergence: crate::check::check_divergence(sim),
    }
}

impl Figures {
    pub fn to_json(&self) -> Value {
        json!({
            "log": self.log.name(),
            "records": self.records,
            "record_bytes": self.record_bytes,
            "messages": self.messages,
            "bytes": self.bytes,
            "apply_rows": self.apply_rows,
            "apply_bytes": self.apply_bytes,
            "leader_rows_written": self.leader_rows_written,
            "polls": self.polls,
            "empty_polls": self.empty_polls,
            "max_lag_ms": self.max_lag_ms,
            "mean_lag_ms": self.mean_lag_ms,
            "match": self.verdict.ok(),
            "verdict": self.verdict.text(),
            "anomalies": self.divergence.iter().map(Anomaly::to_json).collect::<Vec<_>>(),
        })
    }
}

/// The comparison as a text table, one row per method.
pub fn table_text(all: &[Figures]) -> String {
    let mut s = format!(
        "{:<10} {:>8} {:>10} {:>9} {:>10} {:>11} {:>10} {:>9}  verdict\n",
        "method", "records", "rec bytes", "messages", "msg bytes", "apply work", "leader rw", "max lag"
    );
    for f in all {
        s.push_str(&format!(
            "{:<10} {:>8} {:>10} {:>9} {:>10} {:>11} {:>10} {:>7.1}ms  {}\n",
            f.log.name(),
            f.records,
            f.record_bytes,
            f.messages,
            f.bytes,
            format!("{}r/{}B", f.apply_rows, f.apply_bytes),
            f.leader_rows_written,
            f.max_lag_ms,
            f.verdict.text()
        ));
    }
    s
}
