//! DDIA 5.3 "Multi-Leader Replication Topologies": which leaders a leader sends its changes to.
//!
//! All-to-all: every leader sends the changes its own clients made to every other leader, and forwards nothing.
//! Circular: every leader sends to the next leader of the ring both its own changes and every change it received,
//! so a change goes round until it comes back to the leader that made it. Star: the leaves send their own changes
//! to the root, and the root sends everything it has (its own and the leaves') to every leaf. Every change carries
//! the ids of the nodes it passed through; a leader that receives a change carrying its own id drops it, which is
//! what stops a change from going round a ring for ever. In a ring or a star one failed leader stops the flow for
//! the leaders after it; the fix the book describes is by hand: `reconfigure` the ring around it.

use super::spec::Topology;
use super::Change;

/// The leaders' current topology (a `reconfigure` command replaces it).
#[derive(Clone, Debug, PartialEq)]
pub struct Shape {
    pub topology: Topology,
    /// Node indexes: every leader (all-to-all, star) or the ring in order (circular).
    pub leaders: Vec<usize>,
    pub hub: Option<usize>,
}

impl Shape {
    /// The leaders `node` sends changes to.
    pub fn downstream(&self, node: usize) -> Vec<usize> {
        match self.topology {
            Topology::AllToAll => self.leaders.iter().copied().filter(|l| *l != node).collect(),
            Topology::Circular => match self.leaders.iter().position(|l| *l == node) {
                Some(i) if self.leaders.len() > 1 => vec![self.leaders[(i + 1) % self.leaders.len()]],
                _ => Vec::new(),
            },
            Topology::Star => match self.hub {
                Some(h) if h == node => self.leaders.iter().copied().filter(|l| *l != node).collect(),
                Some(h) if self.leaders.contains(&node) => vec![h],
                _ => Vec::new(),
            },
        }
    }

    /// Does `node` pass `change` on to `peer`? Its own changes always; others' only in a ring (to the next) and
    /// from the root of a star (to the leaves the change has not been through).
    pub fn forwards(&self, node: usize, change: &Change, peer: usize) -> bool {
        if change.origin == node {
            return true;
        }
        match self.topology {
            Topology::AllToAll => false,
            Topology::Circular => true,
            Topology::Star => self.hub == Some(node) && !change.path.contains(&peer),
        }
    }
}
