//! The story of one row under multi-leader replication, for the playground's conflict view and its tests: on each
//! leader, every write of the row it applied, in the order (and at the moment) it applied them, with the write's
//! version vector and whether it was one of the concurrent writes of a conflict; then what the row holds now on
//! that leader (the versions kept) and which writes the strategy discarded.

use super::{conflicts::show, row_key, Cluster};
use crate::sql::Value;
use crate::world::time::Micros;

/// One write of the row, as one leader applied it.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    pub at: Micros,
    /// `eu1:2`: the leader that took it and its number there.
    pub writer: String,
    pub op: Option<usize>,
    pub image: String,
    /// The write's version vector, `[eu1:2 us1:1]` (leaders with a non-zero count).
    pub vv: String,
    /// One side of a conflict on this row: neither it nor the other side had seen each other.
    pub concurrent: bool,
    /// Its effect is still in the row here (a kept version, or the write the row shows).
    pub kept: bool,
}

/// One leader's view of the row.
#[derive(Clone, Debug, PartialEq)]
pub struct LeaderStory {
    pub leader: String,
    pub steps: Vec<Step>,
    /// What the row holds now on this leader.
    pub shown: String,
    /// The versions kept (more than one: siblings, or the concurrent versions a merge is made of).
    pub versions: Vec<(String, String, String)>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct RowStory {
    pub row: String,
    pub strategy: &'static str,
    pub leaders: Vec<LeaderStory>,
    /// The conflicts found on the row, as the findings say them.
    pub conflicts: Vec<String>,
    /// Writes the strategy threw away: (writer, op, the writer that beat it).
    pub discarded: Vec<(String, Option<usize>, String)>,
}

/// The rows that had a conflict: (table, key), in the order the conflicts were found.
pub fn conflict_rows(c: &Cluster) -> Vec<(String, Value)> {
    let mut out: Vec<(String, Value)> = Vec::new();
    for x in &c.conflicts {
        if !out.iter().any(|(t, k)| t == &x.table && k == &x.key) {
            out.push((x.table.clone(), x.key.clone()));
        }
    }
    out
}

/// The row a conflict finding (its operations) is about.
pub fn row_of_finding(c: &Cluster, ops: &[usize]) -> Option<(String, Value)> {
    c.conflicts.iter().find(|x| x.ops == ops).map(|x| (x.table.clone(), x.key.clone()))
}

fn vv_text(c: &Cluster, ctx: &[u64]) -> String {
    let parts: Vec<String> = ctx
        .iter()
        .enumerate()
        .filter(|(_, n)| **n > 0)
        .map(|(i, n)| format!("{}:{n}", c.inner.nodes.get(i).map_or("?", |x| x.id.as_str())))
        .collect();
    format!("[{}]", parts.join(" "))
}

pub fn row_story(c: &Cluster, table: &str, key: &Value) -> RowStory {
    let k = row_key(table, key);
    let name = |i: usize| c.inner.nodes.get(i).map_or("?".to_string(), |n| n.id.clone());
    let writer = |w: (usize, u64)| format!("{}:{}", name(w.0), w.1);
    let same_row = |t: &str, kk: &Value| row_key(t, kk) == k;
    let sides: Vec<(usize, u64)> =
        c.conflicts.iter().filter(|x| same_row(&x.table, &x.key)).flat_map(|x| x.sides).collect();
    let row_text = format!("{table} {}", crate::log_methods::value_text(key));
    let leaders = (0..c.inner.nodes.len())
        .filter(|i| c.is_leader(*i))
        .map(|l| {
            let st = &c.state[l];
            let meta = st.rows.get(&k);
            let kept_writers: Vec<(usize, u64)> = meta.map_or_else(Vec::new, |m| {
                let mut w = m.writers.clone();
                w.extend(m.versions.iter().map(|v| v.writer));
                w
            });
            let steps = st
                .applied
                .iter()
                .zip(st.applied_at.iter().copied().chain(std::iter::repeat(0)))
                .filter_map(|(ch, at)| {
                    let w = ch.rows.iter().find(|w| same_row(&w.table, &w.key))?;
                    let id = (ch.origin, ch.seq);
                    Some(Step {
                        at,
                        writer: writer(id),
                        op: ch.op,
                        image: show(&w.image),
                        vv: vv_text(c, &w.ctx.clone().unwrap_or_else(|| ch.context())),
                        concurrent: sides.contains(&id),
                        kept: kept_writers.contains(&id),
                    })
                })
                .collect();
            let versions = meta.map_or_else(Vec::new, |m| {
                m.versions.iter().map(|v| (writer(v.writer), show(&v.image), vv_text(c, &v.ctx))).collect()
            });
            LeaderStory {
                leader: name(l),
                steps,
                shown: meta.map_or("(no row)".to_string(), |m| show(&m.image)),
                versions,
            }
        })
        .collect();
    RowStory {
        row: row_text.clone(),
        strategy: c.spec.conflict.name(),
        leaders,
        conflicts: c.conflicts.iter().filter(|x| same_row(&x.table, &x.key)).map(|x| x.detail.clone()).collect(),
        discarded: c
            .discards
            .iter()
            .filter(|d| d.row == row_text)
            .map(|d| (writer(d.loser), d.loser_op, writer(d.winner)))
            .collect(),
    }
}
