//! Strategies side by side (`replsim conflicts FILE`): the same multi-leader scenario, workload and faults run once
//! under every implemented `replication.conflict` value, with per strategy the conflicts found, the acknowledged
//! writes discarded, whether the replicas converged, and the final rows.

use serde_json::{json, Value};

use super::spec::Conflict;
use crate::check::AnomalyKind;
use crate::scenario::Scenario;
use crate::world::sim::Simulation;

#[derive(Clone, Debug, PartialEq)]
pub struct Figures {
    pub conflict: Conflict,
    pub conflicts: usize,
    /// Acknowledged writes the strategy threw away (`lost-update` findings).
    pub discarded: usize,
    pub converged: bool,
    /// The first running leader's rows, as `table: (col=value, …)` lines.
    pub rows: Vec<String>,
}

/// Run `scenario` with `seed` under every implemented strategy. An error for a scenario that is not multi-leader.
pub fn run_all(scenario: &Scenario, seed: u64) -> Result<Vec<Figures>, String> {
    let Some(ml) = &scenario.multi_leader else {
        return Err("not a multi-leader scenario: it needs two or more nodes with role \"leader\"".into());
    };
    // One independent run per strategy, on every core (`crate::par`), in the strategies' order.
    let strategies: Vec<Conflict> = Conflict::ALL.into_iter().filter(|c| c.implemented()).collect();
    crate::par::map(&strategies, |&conflict| {
        let mut s = scenario.clone();
        let mut spec = ml.clone();
        spec.conflict = conflict;
        s.multi_leader = Some(spec);
        let mut sim = Simulation::new(&s, seed, &[]).map_err(|e| e.to_string())?;
        sim.run_to_end();
        let found = crate::check::anomalies(&sim);
        let count = |k: AnomalyKind| found.iter().filter(|a| a.kind == k).count();
        let nodes = sim.protocol.single_leader().map_or(&[][..], |c| &c.nodes[..]);
        let first = nodes.iter().find(|n| n.is_leader() && n.status == crate::protocol::Status::Running);
        let rows = first.map_or_else(Vec::new, |n| {
            n.db.table_names()
                .into_iter()
                .flat_map(|t| {
                    n.db.rows(&t)
                        .into_iter()
                        .map(|r| format!("{t}: {}", super::conflicts::show(&Some(r.into()))))
                        .collect::<Vec<_>>()
                })
                .collect()
        });
        // Siblings: the database holds one version of a row; the others are kept beside it.
        let mut rows = rows;
        if let (crate::protocol::Protocol::MultiLeader(c), Some(n)) = (&sim.protocol, first) {
            for ((t, _), m) in c.state[n.index].rows.iter().filter(|(_, m)| m.versions.len() > 1) {
                if conflict == Conflict::Siblings {
                    let all: Vec<String> = m.versions.iter().map(|v| super::conflicts::show(&v.image)).collect();
                    rows.push(format!("{t}: siblings {}", all.join(" | ")));
                }
            }
        }
        Ok(Figures {
            conflict,
            conflicts: count(AnomalyKind::Conflict),
            discarded: count(AnomalyKind::LostUpdate),
            converged: count(AnomalyKind::Divergence) == 0,
            rows,
        })
    })
    .into_iter()
    .collect()
}

impl Figures {
    pub fn to_json(&self) -> Value {
        json!({"conflict": self.conflict.name(), "conflicts": self.conflicts, "discarded": self.discarded,
               "converged": self.converged, "rows": self.rows})
    }
}

pub fn table_text(figures: &[Figures]) -> String {
    let mut s = format!(
        "{:<12} {:>9} {:>9} {:>9}  final rows (first leader)\n",
        "strategy", "conflicts", "discarded", "converged"
    );
    for f in figures {
        s.push_str(&format!(
            "{:<12} {:>9} {:>9} {:>9}  {}\n",
            f.conflict.name(),
            f.conflicts,
            f.discarded,
            if f.converged { "yes" } else { "NO" },
            f.rows.join("; ")
        ));
    }
    s
}
