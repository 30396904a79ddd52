//! Concurrent writes and dotted version vectors (DDIA 5.4, "Detecting Concurrent Writes").
//!
//! Every write of a key produces a version stamped with a *dot*, a unique event (actor, counter): the actor is the
//! node, or the client library, that coordinated the write, and its counter goes up with every write it
//! coordinates. The version also carries its context: the version vector (one counter per actor) of what the
//! writer had read of the key, the join of the clocks it saw. A version *supersedes* another when its context
//! covers the other's dot: the writer had seen it, and the new value replaces it. The dot is kept apart from the
//! context on purpose: with a plain vector, two blind writes through one coordinator (a:1, then a:2) would look
//! ordered although neither writer saw the other, and the second would silently drop the first; a dotted version
//! vector says the second one's context is empty, so they are concurrent. When neither supersedes the other the
//! writes were concurrent: a replica keeps both,
//! as siblings, and a read returns all of them with the join of their vectors as the context. The next write that
//! carries that context replaces every sibling it covers; a write made without any context (a blind write) covers
//! nothing and becomes one more sibling. Nothing is ever dropped unless a later write had seen it, which is what
//! "no lost concurrent write" means.
//!
//! A delete is a version too (a tombstone, with no row), so that it can replace what it saw and not be undone by
//! a replica that still holds the old row.
//!
//! Last write wins (`resolve: "lww"`, Cassandra's way) keeps none of this apart: every version also carries a
//! timestamp, the clock of the node that coordinated the write (its offset and drift included), or the true time
//! when the client library coordinates itself, and a version supersedes another when its (timestamp, coordinator,
//! counter) is higher, whatever either writer had seen. Every set of versions is then one version long, replicas
//! converge on the same one, and every concurrent write but one is silently dropped, as is a write that came
//! causally after another but was stamped by a clock that runs behind. The causal relation (`saw`) is still kept,
//! so the checkers can say which writes were lost and whether the loser had read the winner first. Applications that merge siblings themselves (the shopping cart's union
//! of items) keep removals as tombstones inside the value as well: the union of two carts would otherwise bring a
//! removed item back.

use crate::vecmap::VecMap;

use crate::sql::Value;
use crate::world::time::Micros;

/// Actor -> counter. Actors: node indexes, then clients (`nodes + client index`).
pub type Vv = VecMap<usize, u64>;

/// One write event: (actor, counter).
pub type Dot = (usize, u64);

/// Has a writer whose context was `ctx` seen the write `dot`?
pub fn covers_dot(ctx: &Vv, dot: Dot) -> bool {
    ctx.get(&dot.0).is_some_and(|c| *c >= dot.1)
}

/// A row as (column, value) pairs, in the table's column order.
pub type Row = Vec<(String, Value)>;

/// Does `a` descend from (or equal) `b`: had the writer of `a` seen `b`?
pub fn descends(a: &Vv, b: &Vv) -> bool {
    b.iter().all(|(k, v)| a.get(k).is_some_and(|x| x >= v))
}

pub fn concurrent(a: &Vv, b: &Vv) -> bool {
    !descends(a, b) && !descends(b, a)
}

/// The pointwise maximum.
pub fn join(a: &Vv, b: &Vv) -> Vv {
    let mut out = a.clone();
    for (k, v) in b {
        let e = out.or_default(*k);
        *e = (*e).max(*v);
    }
    out
}

/// `{a:2, c1:1}` with the actors' names.
pub fn label(vv: &Vv, names: &[impl AsRef<str>]) -> String {
    let parts: Vec<String> = vv
        .iter()
        .map(|(k, v)| format!("{}:{v}", names.get(*k).map_or_else(|| format!("#{k}"), |n| n.as_ref().to_string())))
        .collect();
    format!("{{{}}}", parts.join(", "))
}

/// One version of a key.
#[derive(Clone, Debug, PartialEq)]
pub struct Sibling {
    /// The context: what the writer had seen of the key (not including this version's own dot).
    pub vv: Vv,
    /// This write's own event.
    pub dot: Dot,
    /// The row; `None`: deleted (a tombstone).
    pub row: Option<Row>,
    /// Items the application removed from its merged list column (tombstones of the union merge), sorted.
    pub removed: Vec<String>,
    /// The client operation (history index) that wrote it.
    pub op: usize,
    /// When its coordinator made it.
    pub at: Micros,
    /// Last write wins: the coordinator's clock when it made the version, µs (`None` under siblings).
    pub ts: Option<i64>,
}

impl Sibling {
    pub fn is_tombstone(&self) -> bool {
        self.row.is_none()
    }

    /// The version's clock: its context and its own dot.
    pub fn clock(&self) -> Vv {
        let mut c = self.vv.clone();
        let e = c.or_default(self.dot.0);
        *e = (*e).max(self.dot.1);
        c
    }

    /// Had this version's writer seen `other` (or is it the same write)? Causality, whatever the resolve mode.
    pub fn saw(&self, other: &Sibling) -> bool {
        self.dot == other.dot || covers_dot(&self.vv, other.dot)
    }

    /// Does this version replace `other`? With siblings: the same write, or one its writer had seen. With last
    /// write wins (both versions timestamped): the same write, or a higher (timestamp, coordinator, counter).
    pub fn supersedes(&self, other: &Sibling) -> bool {
        match (self.ts, other.ts) {
            (Some(a), Some(b)) => self.dot == other.dot || (a, self.dot) > (b, other.dot),
            _ => self.saw(other),
        }
    }

    /// Did last write wins drop `other` for this version: it replaces `other` although its writer had not seen it?
    pub fn beat(&self, other: &Sibling) -> bool {
        self.supersedes(other) && !self.saw(other)
    }

    /// Neither writer had seen the other's version.
    pub fn concurrent_with(&self, other: &Sibling) -> bool {
        !self.saw(other) && !other.saw(self)
    }

    fn order_key(&self) -> (&Vv, Dot) {
        (&self.vv, self.dot)
    }
}

/// Add `s` to a key's set of versions: ignored if a version there supersedes it; otherwise it replaces every
/// version it supersedes. Returns whether the set changed. The set stays sorted (by context, then dot), so two
/// replicas with the same versions list them alike.
pub fn apply(set: &mut Vec<Sibling>, s: &Sibling) -> bool {
    if set.iter().any(|x| x.supersedes(s)) {
        return false;
    }
    set.retain(|x| !s.supersedes(x));
    let at = set.partition_point(|x| x.order_key() < s.order_key());
    set.insert(at, s.clone());
    true
}

/// The versions of several replicas' answers reconciled: every version no other supersedes.
pub fn reconcile<'a>(sets: impl IntoIterator<Item = &'a [Sibling]>) -> Vec<Sibling> {
    let mut out = Vec::new();
    for set in sets {
        for s in set {
            apply(&mut out, s);
        }
    }
    out
}

/// The context a read returns: the join of every version's clock (contexts and dots).
pub fn context(set: &[Sibling]) -> Vv {
    set.iter().fold(Vv::new(), |acc, s| join(&acc, &s.clock()))
}

/// Does `set` hold everything of `other` (each of `other`'s versions is in `set` or replaced by one there)?
pub fn covers(set: &[Sibling], other: &[Sibling]) -> bool {
    other.iter().all(|o| set.iter().any(|s| s.supersedes(o)))
}

/// The items of a list column: comma-separated, trimmed, empty ones dropped.
pub fn items(v: &Value) -> Vec<String> {
    match v {
        Value::Text(t) => t.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect(),
        Value::Null => Vec::new(),
        Value::Integer(i) => vec![i.to_string()],
        Value::Real(r) => vec![r.to_string()],
    }
}

/// The application's union merge of siblings on column `column`: the row of the first live sibling (by vector)
/// with the column replaced by the union of every sibling's items minus every sibling's removed items (in order of
/// first appearance), and the union of the removed items. `None` when every sibling is a tombstone.
pub fn merge_union(siblings: &[Sibling], column: &str) -> Option<(Row, Vec<String>)> {
    let mut removed: Vec<String> = siblings.iter().flat_map(|s| s.removed.iter().cloned()).collect();
    crate::sql::sort_values(&mut removed);
    removed.dedup();
    let mut all: Vec<String> = Vec::new();
    for s in siblings {
        if let Some(row) = &s.row {
            for (c, v) in row {
                if c.eq_ignore_ascii_case(column) {
                    for it in items(v) {
                        if !all.contains(&it) && removed.binary_search(&it).is_err() {
                            all.push(it);
                        }
                    }
                }
            }
        }
    }
    let mut row = siblings.iter().find_map(|s| s.row.clone())?;
    for (c, v) in row.iter_mut() {
        if c.eq_ignore_ascii_case(column) {
            *v = Value::Text(all.join(","));
        }
    }
    Some((row, removed))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vv(e: &[(usize, u64)]) -> Vv {
        e.iter().copied().collect()
    }

    fn sib(ctx: &[(usize, u64)], dot: Dot, items: &str, removed: &[&str]) -> Sibling {
        Sibling {
            vv: vv(ctx),
            dot,
            row: Some(vec![("id".into(), Value::Integer(1)), ("items".into(), Value::Text(items.into()))]),
            removed: removed.iter().map(|s| s.to_string()).collect(),
            op: 0,
            at: 0,
            ts: None,
        }
    }

    #[test]
    fn concurrent_versions_are_kept_and_seen_ones_replaced() {
        let mut set = Vec::new();
        assert!(apply(&mut set, &sib(&[], (0, 1), "milk", &[])));
        assert!(apply(&mut set, &sib(&[], (1, 1), "eggs", &[])));
        assert_eq!(set.len(), 2, "two concurrent writes are siblings");
        assert!(!apply(&mut set, &sib(&[], (0, 1), "milk", &[])), "a version already held changes nothing");
        assert!(apply(&mut set, &sib(&[], (0, 2), "tea", &[])), "a blind write by the same actor saw nothing");
        assert_eq!(set.len(), 3);
        assert!(apply(&mut set, &sib(&[(0, 2), (1, 1)], (0, 3), "milk,eggs", &[])));
        assert_eq!(set.len(), 1, "a write that saw them all replaces them");
        assert!(concurrent(&vv(&[(0, 1)]), &vv(&[(1, 1)])));
        assert_eq!(context(&set), vv(&[(0, 3), (1, 1)]));
    }

    #[test]
    fn union_merge_keeps_removals() {
        let a = sib(&[], (0, 2), "milk,eggs", &["ham"]);
        let b = sib(&[], (1, 1), "milk,ham,flour", &[]);
        let (row, removed) = merge_union(&[a.clone(), b.clone()], "items").unwrap();
        assert_eq!(row[1].1, Value::Text("milk,eggs,flour".into()));
        assert_eq!(removed, vec!["ham".to_string()]);
        // Commutative and idempotent.
        assert_eq!(merge_union(&[b.clone(), a.clone()], "items").unwrap().1, removed);
        assert_eq!(merge_union(&[a.clone(), a], "items").unwrap().0[1].1, Value::Text("milk,eggs".into()));
    }

    #[test]
    fn last_write_wins_keeps_one_version_whatever_was_seen() {
        let at = |s: Sibling, ts: i64| Sibling { ts: Some(ts), ..s };
        let a = at(sib(&[], (0, 1), "milk", &[]), 20);
        let b = at(sib(&[], (1, 1), "eggs", &[]), 10);
        // c saw a, but its coordinator's clock is behind: it loses anyway.
        let c = at(sib(&[(0, 1)], (1, 2), "tea", &[]), 5);
        for order in [[&a, &b, &c], [&c, &b, &a], [&b, &c, &a]] {
            let mut set = Vec::new();
            for s in order {
                apply(&mut set, s);
            }
            assert_eq!(set, vec![a.clone()], "one version, the highest timestamp, in any order");
        }
        assert!(a.beat(&c) && c.saw(&a) && !a.concurrent_with(&c));
        assert!(a.concurrent_with(&b) && a.beat(&b));
        // A tie on the timestamp goes to the higher coordinator.
        let d = at(sib(&[], (2, 1), "ham", &[]), 20);
        assert!(d.supersedes(&a) && !a.supersedes(&d));
    }
}
