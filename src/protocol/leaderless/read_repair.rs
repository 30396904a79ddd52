//! Read repair (DDIA 5.4, "Writing to the Database When a Node Is Down").
//!
//! A read asks several replicas and gets their versions of the key. Once the coordinator has reconciled them
//! (every version no other descends from), it knows which replicas answered with something older or with less:
//! it sends each of them the versions they lack. Answers that arrive after the client already has its result are
//! repaired too. Read repair only heals keys that are read: a value nobody reads stays stale on the replica that
//! missed it until anti-entropy comes by.

use super::quorum::Coordination;
use super::versions;
use super::*;

/// Repairs for the replicas that answered `c` with less than the reconciled versions (each replica once).
pub fn repairs(c: &mut Coordination, by: Endpoint) -> Vec<Action> {
    let best = c.reconciled();
    let mut out = Vec::new();
    for (node, theirs) in &c.replies {
        if c.repaired.contains(node) || versions::covers(theirs, &best) {
            continue;
        }
        let missing: Vec<Sibling> = best.iter().filter(|b| !theirs.iter().any(|t| t.supersedes(b))).cloned().collect();
        c.repaired.push(*node);
        out.push(send(by, Endpoint::Node(*node), Msg::Repair { key: c.key.clone(), versions: missing }));
    }
    out
}
