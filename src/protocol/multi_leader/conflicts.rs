//! DDIA 5.3 "Handling Write Conflicts": what a leader does when a change from another leader touches a row.
//!
//! Each leader keeps, per row, what the row's current version is made of: the writes it reflects (leader and
//! number), their joined causal context, and the timestamp of the write LWW would keep. A change whose writer had
//! seen every write of the current version simply replaces it. A change the current version has already seen is
//! stale. Otherwise the two writes were concurrent, neither knew of the other: a conflict, which the strategy
//! resolves, the same way on every leader whatever the order the changes arrive in (except "none"):
//!
//! - `none`: apply in arrival order (replicas end different: the baseline the book calls not acceptable).
//! - `lww`: the write with the highest (timestamp of the writer's clock, node) wins, conflict or not: a causally
//!   later write made on a node whose clock is behind loses too. Loses acknowledged writes.
//! - `replica-id`: of concurrent writes, the one from the node later in the node list wins.
//! - `merge`: column by column, equal values stay, differing text values are sorted and joined with "/" ("B/C"),
//!   other values go to the node later in the node list; a row that one side deleted and the other updated stays.
//! - `on-write`: a handler per column (`replication.on_write`): max, min, sum (both sides' changes added to the
//!   value they started from), concat (sorted, joined with "/"); columns without a handler as in `replica-id`.

use super::spec::{Conflict, Handler};
use super::{causality, Change, Image, RowWrite};
use crate::log_methods::value_text;
use crate::sql::Value;

/// What a leader knows of one row's current version.
#[derive(Clone, Debug, PartialEq)]
pub struct RowMeta {
    /// None: deleted (a tombstone, so that a late write can be ordered against the delete).
    pub image: Option<Image>,
    /// The writes (leader, number) this version reflects.
    pub writers: Vec<(usize, u64)>,
    /// The joined causal context of those writes.
    pub ctx: Vec<u64>,
    /// The LWW timestamp: (writer's clock in µs, writer node).
    pub ts: (i64, usize),
    /// The history indexes of the client operations behind the writers.
    pub ops: Vec<usize>,
}

impl RowMeta {
    pub fn from_write(change: &Change, write: &RowWrite) -> RowMeta {
        RowMeta {
            image: write.image.clone(),
            writers: vec![(change.origin, change.seq)],
            ctx: change.context(),
            ts: (change.ts, change.origin),
            ops: change.op.into_iter().collect(),
        }
    }
}

/// A conflict, as seen where it was resolved.
#[derive(Clone, Debug, PartialEq)]
pub struct Resolved {
    pub table: String,
    pub key: Value,
    /// The two sides: (leader, number) of one write of each.
    pub sides: [(usize, u64); 2],
    pub ops: Vec<usize>,
    pub detail: String,
}

/// An acknowledged-or-not write whose effect the strategy threw away, and the write that beat it.
#[derive(Clone, Debug, PartialEq)]
pub struct Discard {
    pub loser: (usize, u64),
    pub loser_op: Option<usize>,
    pub winner: (usize, u64),
    pub winner_ops: Vec<usize>,
    /// The loser's writer had seen the winner: a causally later write lost (clock skew under LWW).
    pub causally_later: bool,
    pub row: String,
}

/// What to do with one row of an incoming change.
pub struct Decision {
    pub meta: RowMeta,
    pub conflict: Option<Resolved>,
    pub discard: Option<Discard>,
}

pub fn show(image: &Option<Image>) -> String {
    match image {
        None => "(deleted)".into(),
        Some(r) => {
            let cols: Vec<String> = r.iter().map(|(c, v)| format!("{c}={}", value_text(v))).collect();
            format!("({})", cols.join(", "))
        }
    }
}

/// Resolve an incoming write `w` of `change` against the current version `m` of its row.
pub fn resolve(
    strategy: Conflict,
    handlers: &[(String, Handler)],
    names: &[String],
    m: &RowMeta,
    change: &Change,
    w: &RowWrite,
) -> Decision {
    let ctx = change.context();
    let c_saw_m = m.writers.iter().all(|(o, s)| causality::saw(&ctx, *o, *s));
    let m_saw_c = causality::saw(&m.ctx, change.origin, change.seq);
    let concurrent = !c_saw_m && !m_saw_c;
    let incoming = RowMeta::from_write(change, w);
    let mut joined = m.ctx.clone();
    causality::join(&mut joined, &ctx);
    let row = format!("{} {}", w.table, value_text(&w.key));
    let who = |o: usize| names.get(o).cloned().unwrap_or_default();
    let ops_of = |a: &RowMeta, b: &RowMeta| {
        let mut ops: Vec<usize> = a.ops.iter().chain(&b.ops).copied().collect();
        crate::sql::sort_values(&mut ops);
        ops.dedup();
        ops
    };
    let conflict = |detail: String| {
        concurrent.then(|| Resolved {
            table: w.table.clone(),
            key: w.key.clone(),
            sides: [m.writers[0], (change.origin, change.seq)],
            ops: ops_of(m, &incoming),
            detail: format!(
                "concurrent writes to {row}: {} by {} and {} by {}, neither had seen the other; {detail}",
                show(&m.image),
                who(m.ts.1),
                show(&w.image),
                who(change.origin)
            ),
        })
    };
    let keep = |meta: &RowMeta| RowMeta { ctx: joined.clone(), ..meta.clone() };
    match strategy {
        Conflict::None => Decision {
            conflict: conflict(format!(
                "conflict \"none\": each replica keeps the write it received last (here {})",
                show(&w.image)
            )),
            meta: RowMeta { ctx: joined.clone(), ..incoming },
            discard: None,
        },
        Conflict::Lww => {
            let c_wins = incoming.ts > m.ts;
            let (win, lose) = if c_wins { (&incoming, m) } else { (m, &incoming) };
            let detail = format!(
                "lww kept {} by {} (timestamp {} µs) and discarded {} by {} (timestamp {} µs)",
                show(&win.image),
                who(win.ts.1),
                win.ts.0,
                show(&lose.image),
                who(lose.ts.1),
                lose.ts.0
            );
            // A write is thrown away when it loses a conflict, or when its writer had seen the winner and still
            // lost (its clock was behind): both are lost updates. A stale change losing to what followed it is not.
            let discard = (concurrent || (!c_wins && c_saw_m)).then(|| Discard {
                loser: lose.writers[0],
                loser_op: lose.ops.first().copied(),
                winner: win.writers[0],
                winner_ops: win.ops.clone(),
                causally_later: !concurrent,
                row: row.clone(),
            });
            Decision { conflict: conflict(detail), meta: keep(win), discard }
        }
        Conflict::ReplicaId | Conflict::Merge | Conflict::OnWrite | Conflict::Siblings | Conflict::Crdt => {
            if c_saw_m {
                return Decision { meta: RowMeta { ctx: joined, ..incoming }, conflict: None, discard: None };
            }
            if m_saw_c {
                return Decision { meta: keep(m), conflict: None, discard: None };
            }
            // Concurrent.
            let c_higher = change.origin > m.ts.1;
            let (hi, lo) = if c_higher { (&incoming, m) } else { (m, &incoming) };
            if strategy == Conflict::ReplicaId {
                let detail = format!(
                    "replica-id kept {} from {} (the higher node) and discarded {} from {}",
                    show(&hi.image),
                    who(hi.ts.1),
                    show(&lo.image),
                    who(lo.ts.1)
                );
                let discard = Some(Discard {
                    loser: lo.writers[0],
                    loser_op: lo.ops.first().copied(),
                    winner: hi.writers[0],
                    winner_ops: hi.ops.clone(),
                    causally_later: false,
                    row: row.clone(),
                });
                return Decision { conflict: conflict(detail), meta: keep(hi), discard };
            }
            let image = merge_images(strategy, handlers, &w.table, &hi.image, &lo.image, &w.before, &m_before(m, w));
            let mut writers = m.writers.clone();
            writers.push((change.origin, change.seq));
            writers.sort_unstable();
            let ops = ops_of(m, &incoming);
            let how = if strategy == Conflict::Merge { "merge" } else { "on-write handlers" };
            let detail = format!("{how} made {}", show(&image));
            Decision {
                conflict: conflict(detail),
                meta: RowMeta { image, writers, ctx: joined, ts: m.ts.max(incoming.ts), ops },
                discard: None,
            }
        }
    }
}

/// The image the current version's write started from, for `sum`: the incoming write's own `before` is what its
/// writer saw; for the current version that is the same row before either write, so the incoming one's serves.
fn m_before(_m: &RowMeta, w: &RowWrite) -> Option<Image> {
    w.before.clone()
}

fn merge_images(
    strategy: Conflict,
    handlers: &[(String, Handler)],
    table: &str,
    hi: &Option<Image>,
    lo: &Option<Image>,
    base: &Option<Image>,
    _base2: &Option<Image>,
) -> Option<Image> {
    let (hi, lo) = match (hi, lo) {
        (Some(h), Some(l)) => (h, l),
        // One side deleted the row, the other changed it: keep the change.
        (Some(h), None) => return Some(h.clone()),
        (None, Some(l)) => return Some(l.clone()),
        (None, None) => return None,
    };
    let mut out = hi.clone();
    for (col, v) in out.iter_mut() {
        let Some((_, other)) = lo.iter().find(|(c, _)| c == col) else { continue };
        if v == other {
            continue;
        }
        let handler = handlers
            .iter()
            .find(|(k, _)| k == &format!("{}.{}", table.to_ascii_lowercase(), col.to_ascii_lowercase()))
            .map(|(_, h)| *h);
        let joined = |a: &Value, b: &Value| {
            let (a, b) = (raw(a), raw(b));
            let mut parts: Vec<String> = a.split('/').chain(b.split('/')).map(str::to_string).collect();
            crate::sql::sort_values(&mut parts);
            parts.dedup();
            Value::Text(parts.join("/"))
        };
        *v = match (strategy, handler) {
            (Conflict::Merge, _) => match (&*v, other) {
                (Value::Text(_), Value::Text(_)) => joined(v, other),
                _ => v.clone(),
            },
            (_, Some(Handler::Concat)) => joined(v, other),
            (_, Some(Handler::Max)) => {
                if order(other, v).is_gt() {
                    other.clone()
                } else {
                    v.clone()
                }
            }
            (_, Some(Handler::Min)) => {
                if order(other, v).is_lt() {
                    other.clone()
                } else {
                    v.clone()
                }
            }
            (_, Some(Handler::Sum)) => {
                let start = base.as_ref().and_then(|b| b.iter().find(|(c, _)| c == col)).map_or(0.0, |(_, x)| num(x));
                let total = num(v) + num(other) - start;
                match (&*v, other) {
                    (Value::Integer(_), Value::Integer(_)) => Value::Integer(total as i64),
                    _ => Value::Real(total),
                }
            }
            (_, None) => v.clone(),
        };
    }
    Some(out)
}

/// Numbers by value, anything else by its text.
fn order(a: &Value, b: &Value) -> std::cmp::Ordering {
    match (a, b) {
        (Value::Integer(_) | Value::Real(_), Value::Integer(_) | Value::Real(_)) => num(a).total_cmp(&num(b)),
        _ => raw(a).cmp(&raw(b)),
    }
}

/// A value as plain text (no quotes): what a merge joins.
fn raw(v: &Value) -> String {
    match v {
        Value::Text(t) => t.clone(),
        other => value_text(other),
    }
}

fn num(v: &Value) -> f64 {
    match v {
        Value::Integer(i) => *i as f64,
        Value::Real(r) => *r,
        Value::Text(t) => t.parse().unwrap_or(0.0),
        Value::Null => 0.0,
    }
}
