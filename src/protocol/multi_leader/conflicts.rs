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
//! - `siblings`: every concurrent version is kept (a multi-value register); the database holds the one from the node
//!   latest in the node list, and a read returns each version as its own row. A write replaces the versions its
//!   client read (its read context), so the application resolves the conflict on read.
//! - `merge`: column by column, equal values stay, differing text values are sorted and joined with "/" ("B/C"),
//!   other values go to the node later in the node list; a row that one side deleted and the other updated stays.
//! - `crdt`: a row is a map of registers, one per column: each column keeps the value of the last write that
//!   changed it (of concurrent ones, the node latest in the node list), so concurrent updates of different columns
//!   both survive; integer columns (but the key) are counters, the total of every write's change (`SET c = c + k`
//!   commutes); a deleted row is a tombstone that a concurrent update brings back.
//! - `on-write`: a handler per column (`replication.on_write`): max, min, sum (a counter: the column is the total
//!   of every write's change to it, whatever the order they arrive in), concat (sorted, joined with "/"); columns
//!   without a handler as in `replica-id`.

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
    /// The LWW timestamp: (writer's clock in µs, writer node, its number there: a later write of one node wins a tie).
    pub ts: (i64, usize, u64),
    /// The history indexes of the client operations behind the writers.
    pub ops: Vec<usize>,
    /// `replica-id`, `merge`, `on-write`: the concurrent versions the row is made of, none of which has seen
    /// another (a multi-value register); the image above is computed from them, the same on every leader.
    pub versions: Vec<Version>,
    /// `on-write` `sum` columns: the total of every applied write's change to the column (a counter).
    pub sums: Vec<(String, f64)>,
    /// `crdt`: per column, the concurrent writes that last changed it: (writer, its context, the value).
    pub cols: Vec<(String, Vec<ColumnWrite>)>,
}

/// `crdt`: one write's value of one column.
#[derive(Clone, Debug, PartialEq)]
pub struct ColumnWrite {
    pub writer: (usize, u64),
    pub ctx: Vec<u64>,
    pub value: Value,
}

/// One write's version of a row.
#[derive(Clone, Debug, PartialEq)]
pub struct Version {
    pub writer: (usize, u64),
    pub ctx: Vec<u64>,
    pub image: Option<Image>,
    pub before: Option<Image>,
    pub op: Option<usize>,
}

impl RowMeta {
    pub fn from_write(change: &Change, write: &RowWrite) -> RowMeta {
        let ctx = write.ctx.clone().unwrap_or_else(|| change.context());
        RowMeta {
            image: write.image.clone(),
            writers: vec![(change.origin, change.seq)],
            ctx: ctx.clone(),
            ts: (change.ts, change.origin, change.seq),
            ops: change.op.into_iter().collect(),
            versions: vec![Version {
                writer: (change.origin, change.seq),
                ctx,
                image: write.image.clone(),
                before: write.before.clone(),
                op: change.op,
            }],
            sums: Vec::new(),
            cols: Vec::new(),
        }
    }

    /// `crdt`: fold write `w` of `change` into the column registers carried over from `before`, and show each
    /// column's value (of concurrent writers that changed it, the node latest in the node list).
    pub fn registers(mut self, before: &[(String, Vec<ColumnWrite>)], change: &Change, w: &RowWrite) -> Self {
        self.cols = before.to_vec();
        let ctx = change.context();
        for (col, value) in w.image.iter().flat_map(|i| i.iter()) {
            let old = w.before.as_ref().and_then(|b| b.iter().find(|(c, _)| c == col)).map(|(_, v)| v);
            if old == Some(value) {
                // A write that left the column as it was says nothing about it.
                continue;
            }
            let k = match self.cols.iter().position(|(c, _)| c == col) {
                Some(k) => k,
                None => {
                    self.cols.push((col.clone(), Vec::new()));
                    self.cols.len() - 1
                }
            };
            let set = &mut self.cols[k].1;
            if set
                .iter()
                .any(|e| causality::saw(&e.ctx, change.origin, change.seq) || e.writer == (change.origin, change.seq))
            {
                continue;
            }
            set.retain(|e| !causality::saw(&ctx, e.writer.0, e.writer.1));
            set.push(ColumnWrite { writer: (change.origin, change.seq), ctx: ctx.clone(), value: value.clone() });
        }
        if let Some(img) = self.image.as_mut() {
            let mut row = img.to_vec();
            for (c, v) in row.iter_mut() {
                if let Some(e) =
                    self.cols.iter().find(|(k, _)| k == c).and_then(|(_, set)| set.iter().max_by_key(|e| e.writer))
                {
                    *v = e.value.clone();
                }
            }
            *img = row.into();
        }
        self
    }

    /// Add write `w`'s changes of the `sum` columns to the counters carried over from `before` (the row's previous
    /// version on this leader), and show the totals in the image. Each leader applies each write once, and addition
    /// does not care about order, so every leader ends with the same totals.
    pub fn counted(
        mut self,
        handlers: &[(String, Handler)],
        table: &str,
        before: &[(String, f64)],
        w: &RowWrite,
    ) -> Self {
        self.sums = before.to_vec();
        let prefix = format!("{}.", table.to_ascii_lowercase());
        for (key, h) in handlers {
            let Some(col) = key.strip_prefix(&prefix).filter(|_| *h == Handler::Sum) else { continue };
            let of = |img: &Option<Image>| {
                img.as_ref().and_then(|i| i.iter().find(|(c, _)| c.eq_ignore_ascii_case(col))).map(|(_, v)| num(v))
            };
            let delta = match (of(&w.image), of(&w.before)) {
                (Some(after), before) => after - before.unwrap_or(0.0),
                (None, _) => 0.0,
            };
            match self.sums.iter_mut().find(|(c, _)| c == col) {
                Some((_, t)) => *t += delta,
                None => self.sums.push((col.to_string(), delta)),
            }
        }
        if let Some(img) = self.image.as_mut() {
            let mut row = img.to_vec();
            for (c, v) in row.iter_mut() {
                if let Some((_, t)) = self.sums.iter().find(|(k, _)| k.eq_ignore_ascii_case(c)) {
                    *v = match v {
                        Value::Integer(_) | Value::Null => Value::Integer(*t as i64),
                        _ => Value::Real(*t),
                    };
                }
            }
            *img = row.into();
        }
        self
    }

    /// The summary of a set of concurrent versions (sorted by writer), its image made by the strategy.
    fn of_versions(
        strategy: Conflict,
        handlers: &[(String, Handler)],
        table: &str,
        mut versions: Vec<Version>,
        ts: (i64, usize, u64),
    ) -> RowMeta {
        crate::sql::sort_stable_by(&mut versions, |a, b| a.writer.cmp(&b.writer));
        let mut ctx = Vec::new();
        for v in &versions {
            causality::join(&mut ctx, &v.ctx);
        }
        let mut ops: Vec<usize> = versions.iter().filter_map(|v| v.op).collect();
        crate::sql::sort_values(&mut ops);
        ops.dedup();
        RowMeta {
            image: image_of(strategy, handlers, table, &versions),
            writers: versions.iter().map(|v| v.writer).collect(),
            ctx,
            ts,
            ops,
            versions,
            sums: Vec::new(),
            cols: Vec::new(),
        }
    }

    /// `replica-id`: the version shown (the highest node's); the others are kept but nobody sees them.
    pub fn winner(&self) -> Option<&Version> {
        self.versions.iter().max_by_key(|v| v.writer)
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
    let ctx = w.ctx.clone().unwrap_or_else(|| change.context());
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
            // A version that has seen this write makes it stale; the versions this write has seen are replaced.
            if m.versions.iter().any(|v| causality::saw(&v.ctx, change.origin, change.seq)) {
                let mut meta = m.clone();
                if strategy == Conflict::Crdt {
                    meta = meta.registers(&m.cols, change, w);
                }
                let meta = meta.counted(handlers, &w.table, &m.sums, w);
                return Decision { meta, conflict: None, discard: None };
            }
            let mut versions: Vec<Version> =
                m.versions.iter().filter(|v| !causality::saw(&ctx, v.writer.0, v.writer.1)).cloned().collect();
            let was_concurrent = !versions.is_empty();
            versions.extend(incoming.versions.iter().cloned());
            let mut meta = RowMeta::of_versions(strategy, handlers, &w.table, versions, m.ts.max(incoming.ts));
            if strategy == Conflict::Crdt {
                meta = meta.registers(&m.cols, change, w);
            }
            let meta = meta.counted(handlers, &w.table, &m.sums, w);
            let detail = match strategy {
                Conflict::ReplicaId => {
                    let win = meta.winner().map_or(0, |v| v.writer.0);
                    format!(
                        "replica-id shows {} from {} (the node latest in the node list); the other versions are \
                         discarded",
                        show(&meta.image),
                        who(win)
                    )
                }
                Conflict::Merge => format!("merge made {}", show(&meta.image)),
                Conflict::Siblings => {
                    let all: Vec<String> = meta.versions.iter().map(|v| show(&v.image)).collect();
                    format!(
                        "siblings: {} versions kept side by side, {}; a read returns each, and a write from a client \
                         that read them replaces them",
                        meta.versions.len(),
                        all.join(" and ")
                    )
                }
                Conflict::Crdt => format!("crdt registers and counters made {}", show(&meta.image)),
                _ => format!("on-write handlers made {}", show(&meta.image)),
            };
            let conflict = if was_concurrent {
                Some(Resolved {
                    table: w.table.clone(),
                    key: w.key.clone(),
                    sides: [m.writers[0], (change.origin, change.seq)],
                    ops: meta.ops.clone(),
                    detail: format!(
                        "concurrent writes to {row}: {} by {} and {} by {}, neither had seen the other; {detail}",
                        show(&m.image),
                        who(m.writers[0].0),
                        show(&w.image),
                        who(change.origin)
                    ),
                })
            } else {
                None
            };
            Decision { meta, conflict, discard: None }
        }
    }
}

/// The image of a set of concurrent versions (sorted by writer): `replica-id` shows the highest node's;
/// `merge` and `on-write` combine them column by column, starting from the highest node's (an update beats a
/// concurrent delete).
fn image_of(strategy: Conflict, handlers: &[(String, Handler)], table: &str, versions: &[Version]) -> Option<Image> {
    let live: Vec<&Version> = versions.iter().filter(|v| v.image.is_some()).collect();
    if matches!(strategy, Conflict::ReplicaId | Conflict::Siblings) || live.is_empty() {
        return versions.iter().max_by_key(|v| v.writer).and_then(|v| v.image.clone());
    }
    let hi = live.iter().max_by_key(|v| v.writer)?;
    let mut out = hi.image.as_deref()?.to_vec();
    for (col, v) in out.iter_mut() {
        let values: Vec<&Value> = live
            .iter()
            .filter_map(|x| x.image.as_ref().and_then(|i| i.iter().find(|(c, _)| c == col)).map(|(_, v)| v))
            .collect();
        if values.iter().all(|x| *x == &*v) {
            continue;
        }
        let key = format!("{}.{}", table.to_ascii_lowercase(), col.to_ascii_lowercase());
        let handler = handlers.iter().find(|(k, _)| *k == key).map(|(_, h)| *h);
        let joined = || {
            let mut parts: Vec<String> =
                values.iter().flat_map(|x| raw(x).split('/').map(str::to_string).collect::<Vec<_>>()).collect();
            crate::sql::sort_values(&mut parts);
            parts.dedup();
            Value::Text(parts.join("/"))
        };
        *v = match (strategy, handler) {
            (Conflict::Merge, _) => {
                if values.iter().all(|x| matches!(x, Value::Text(_))) {
                    joined()
                } else {
                    v.clone()
                }
            }
            (_, Some(Handler::Concat)) => joined(),
            (_, Some(Handler::Max)) => {
                values.iter().copied().max_by(|a, b| order(a, b)).cloned().unwrap_or(Value::Null)
            }
            (_, Some(Handler::Min)) => {
                values.iter().copied().min_by(|a, b| order(a, b)).cloned().unwrap_or(Value::Null)
            }
            // The total of every write's change: `RowMeta::counted`.
            (_, Some(Handler::Sum)) => v.clone(),
            (_, None) => v.clone(),
        };
    }
    Some(out.into())
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
