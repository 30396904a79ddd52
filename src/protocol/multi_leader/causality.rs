//! DDIA 5.3 "Multi-Leader Replication Topologies" (the overtaking problem) and "Detecting Concurrent Writes":
//! causal order with version vectors.
//!
//! Every leader counts the changes its clients make (1, 2, 3, …). A leader's version vector says, for every leader,
//! how many of that leader's changes it has applied. A change carries the version vector its leader had when the
//! client wrote it (its causal context: everything that write may have depended on). With `causality:
//! "version-vectors"` a leader applies change k of leader L only when it has applied L's changes 1..k-1 and, for
//! every other leader M, at least as many of M's changes as the context says; otherwise the change waits in a
//! buffer, and every apply retries the buffer. So an update never overtakes the insert it depends on, even when it
//! reaches a leader first over a faster link. With `causality: "none"` a change is applied when it arrives (the
//! book's Figure 5-9: the update finds no row to update, and the replicas end different). Either way a change is
//! applied once: a leader remembers the (leader, number) pairs it has applied.

use super::Change;

/// Has `vv` (a leader's applied counts) everything `change` depends on, and is it the next of its origin?
pub fn deliverable(vv: &[u64], change: &Change) -> bool {
    let next = vv.get(change.origin).copied().unwrap_or(0) + 1 == change.seq;
    next && change
        .deps
        .iter()
        .enumerate()
        .all(|(m, need)| m == change.origin || vv.get(m).copied().unwrap_or(0) >= *need)
}

/// Had the writer of `later` seen write (origin, seq) when it wrote?
pub fn saw(later: &[u64], origin: usize, seq: u64) -> bool {
    later.get(origin).copied().unwrap_or(0) >= seq
}

/// The pointwise maximum.
pub fn join(a: &mut Vec<u64>, b: &[u64]) {
    if a.len() < b.len() {
        a.resize(b.len(), 0);
    }
    for (x, y) in a.iter_mut().zip(b) {
        *x = (*x).max(*y);
    }
}

/// `join(a, &change.context())` without building the context.
pub fn join_change(a: &mut Vec<u64>, change: &Change) {
    join(a, &change.deps);
    if a.len() <= change.origin {
        a.resize(change.origin + 1, 0);
    }
    a[change.origin] = a[change.origin].max(change.seq);
}
