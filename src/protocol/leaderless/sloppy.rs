//! Sloppy quorums and hinted handoff (DDIA 5.4, "Sloppy Quorums and Hinted Handoff").
//!
//! When a coordinator cannot reach enough of a key's home replicas in time, a sloppy quorum accepts the write
//! anyway on the next nodes along the ring (the key's fallbacks), one for each home replica that did not answer.
//! A fallback stores the write apart from its own data, as a hint naming the home replica it stands in for, and
//! acknowledges it: those acknowledgements count towards w. Every `handoff_ms` a node sends each hint to its home
//! replica; when the home replica confirms, the hint is dropped. Until then, a read of the home replicas may not
//! see the write even with w + r > n: a sloppy quorum is an assurance of durability, not of reading it back. If
//! the fallbacks die before handing off, the acknowledged write is gone.

use super::quorum::Coordination;
use super::versions;
use super::*;

/// The fallbacks to try for the home replicas that did not answer: (fallback, the home replica it stands in for;
/// `None` for a read, which just asks the fallback what it holds).
pub fn fallbacks(c: &mut Coordination, n: usize) -> Vec<(usize, Option<usize>)> {
    let home: Vec<usize> = c.pref.iter().take(n).copied().collect();
    let silent: Vec<usize> = home.iter().filter(|h| !c.answered.contains(h)).copied().collect();
    let spare_list: Vec<usize> = c.pref.iter().skip(n).filter(|f| !c.sent.contains(f)).copied().collect();
    let mut spare = spare_list.into_iter();
    let mut out = Vec::new();
    for h in silent {
        let Some(f) = spare.next() else { break };
        c.sent.push(f);
        if c.is_write() {
            c.hinted.push((f, h));
            out.push((f, Some(h)));
        } else {
            out.push((f, None));
        }
    }
    out
}

/// A fallback keeps a hinted write (once per home replica and version).
pub fn keep_hint(node: &mut Replica, home: usize, key: &Key, version: &Sibling) {
    if node.index == home {
        node.store(key, version);
        return;
    }
    let known = node.hints.iter().any(|h| h.home == home && &h.key == key && h.version.supersedes(version));
    if !known {
        node.hints.push(Hint { home, key: key.clone(), version: version.clone() });
    }
}

/// The home replica confirmed: the hint (and any it covers) can go.
pub fn drop_hint(node: &mut Replica, home: usize, key: &Key, dot: versions::Dot) {
    node.hints.retain(|h| !(h.home == home && &h.key == key && h.version.dot == dot));
}

/// Send every hint this node holds to its home replica (unanswered ones go again next time).
pub fn hand_off(cluster: &Cluster, node: usize) -> Vec<Action> {
    cluster.nodes[node]
        .hints
        .iter()
        .map(|h| {
            send(
                Endpoint::Node(node),
                Endpoint::Node(h.home),
                Msg::Handoff { key: h.key.clone(), version: h.version.clone() },
            )
        })
        .collect()
}
