//! DDIA 5.3, collaborative editing: a text CRDT, so that people typing into copies of one document at once end with
//! the same text and every keystroke kept.
//!
//! The algorithm is RGA (a replicated growable array) in its tree form. Every character ever typed gets an id that
//! no other character has: `(counter, replica)`, where the counter is a Lamport clock (one more than the largest
//! counter this replica has seen) and the replica is the typist's device. A character is inserted *after* another
//! one, its origin (the character left of the cursor, or the start of the document). So the characters form a tree:
//! the start of the document is the root and each character hangs under its origin. Siblings (characters inserted
//! after the same origin) are ordered by id, largest first, and the document is the tree read in pre-order (a
//! character, then everything under it, then its next sibling).
//!
//! Why this converges: the place of a character depends only on its origin and on the ids of its siblings, never on
//! the order in which a replica received them, so every replica that has the same set of characters has the same
//! tree and the same text. Deleting a character only marks it deleted (a tombstone): it stays in the tree, because
//! a character typed after it on another replica may still arrive and name it as its origin. An insert whose origin
//! has not arrived yet, or a delete whose character has not, waits in a buffer until it has.
//!
//! Why a person's run of characters stays together: typing "abc" makes `b` a child of `a` and `c` a child of `b`.
//! A run is a chain in the tree and the pre-order reads a whole subtree before the next sibling, so another
//! person's run typed at the same place concurrently goes before or after it as a block, never between its letters.
//! A fresh keystroke always has a larger counter than anything its replica has seen, so it becomes the first child
//! of its origin and shows up exactly where it was typed.
//!
//! The merge of two states (`merge`) applies the other state's characters (in the order it created them, which
//! respects origins), its deletions and its waiting operations: a union of sets of operations, so it is
//! commutative, associative and idempotent (tests/collab.rs checks these as properties).

use crate::vecmap::VecMap;

/// A person's device: who typed a character.
pub type ReplicaId = u16;

/// A character's id: unique across replicas because each replica's counter only grows. Ordered by counter, then
/// replica (the order in which siblings are placed, largest first).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CharId {
    pub counter: u64,
    pub replica: ReplicaId,
}

impl CharId {
    /// The start of the document: the origin of a character typed at position 0.
    pub const ROOT: CharId = CharId { counter: 0, replica: 0 };
}

/// One keystroke's change, as replicated to the other copies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Op {
    /// `ch` goes after `origin` (the character left of the cursor when it was typed).
    Insert { id: CharId, origin: CharId, ch: char },
    /// `target` is deleted (it stays in the tree as a tombstone).
    Delete { target: CharId },
}

/// What applying an operation did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applied {
    /// It changed the document (perhaps along with operations that were waiting for it).
    Done,
    /// This copy had it already: nothing to do (so delivering twice is harmless).
    Duplicate,
    /// The character it refers to has not arrived; it waits in the buffer.
    Waiting,
    /// Malformed (an insert with the root's id, a delete of the root) or the buffer is full: ignored.
    Refused,
}

/// At most this many operations wait for missing characters; more are refused (a bound on the buffer).
pub const MAX_WAITING: usize = 1 << 20;

const NONE: u32 = u32::MAX;

#[derive(Clone, Debug)]
struct Node {
    id: CharId,
    ch: char,
    deleted: bool,
    parent: u32,
    first_child: u32,
    next_sibling: u32,
}

/// One copy of the document.
#[derive(Clone, Debug)]
pub struct Text {
    replica: ReplicaId,
    /// The largest counter this copy has seen (the Lamport clock).
    clock: u64,
    /// Every character, in the order this copy integrated it (so a node's parent comes before it); 0 is the root.
    nodes: Vec<Node>,
    index: IdIndex,
    /// Operations waiting for a character, by the id they wait for.
    waiting: VecMap<CharId, Vec<Op>>,
    waiting_len: usize,
    /// The visible characters in document order (node indexes); rebuilt after remote operations, kept up to date
    /// by local typing (which knows where its character goes).
    visible: Vec<u32>,
    visible_ok: bool,
}

impl Text {
    pub fn new(replica: ReplicaId) -> Text {
        let root =
            Node { id: CharId::ROOT, ch: '\0', deleted: true, parent: NONE, first_child: NONE, next_sibling: NONE };
        Text {
            replica,
            clock: 0,
            nodes: vec![root],
            index: IdIndex::default(),
            waiting: VecMap::new(),
            waiting_len: 0,
            visible: Vec::new(),
            visible_ok: true,
        }
    }

    pub fn replica(&self) -> ReplicaId {
        self.replica
    }

    /// Characters ever inserted (deleted ones included).
    pub fn chars_total(&self) -> usize {
        self.nodes.len() - 1
    }

    /// Operations waiting for a character that has not arrived.
    pub fn waiting(&self) -> usize {
        self.waiting_len
    }

    /// Visible length in characters.
    pub fn len(&mut self) -> usize {
        self.ensure_visible();
        self.visible.len()
    }

    pub fn is_empty(&mut self) -> bool {
        self.len() == 0
    }

    /// The document as this copy sees it.
    pub fn text(&mut self) -> String {
        self.ensure_visible();
        self.visible.iter().map(|&i| self.nodes[i as usize].ch).collect()
    }

    /// Type `ch` so that it lands at visible position `pos` (clamped to the end); returns the operation to send.
    pub fn insert_at(&mut self, pos: usize, ch: char) -> Op {
        self.ensure_visible();
        let pos = pos.min(self.visible.len());
        let origin = if pos == 0 { CharId::ROOT } else { self.nodes[self.visible[pos - 1] as usize].id };
        let id = CharId { counter: self.clock.saturating_add(1), replica: self.replica };
        let op = Op::Insert { id, origin, ch };
        if let Some(idx) = self.integrate(id, origin, ch) {
            // The largest counter this copy knows: the first child of its origin, so right after it in the text.
            self.visible.insert(pos, idx);
            self.visible_ok = true;
        }
        op
    }

    /// Delete the visible character at `pos`; `None` when there is none.
    pub fn delete_at(&mut self, pos: usize) -> Option<Op> {
        self.ensure_visible();
        if pos >= self.visible.len() {
            return None;
        }
        let idx = self.visible.remove(pos);
        let node = &mut self.nodes[idx as usize];
        node.deleted = true;
        Some(Op::Delete { target: node.id })
    }

    /// Apply an operation from any copy (its own included), in any order, any number of times.
    pub fn apply(&mut self, op: Op) -> Applied {
        let first = self.apply_one(op);
        if first != Applied::Done {
            return first;
        }
        // Operations that waited for this character (and, in turn, for theirs).
        let mut ready = Vec::new();
        if let Op::Insert { id, .. } = op {
            ready.push(id);
        }
        while let Some(id) = ready.pop() {
            if self.waiting_len == 0 {
                break;
            }
            let Some(ops) = self.waiting.remove(&id) else { continue };
            self.waiting_len -= ops.len();
            for op in ops {
                if self.apply_one(op) == Applied::Done {
                    if let Op::Insert { id, .. } = op {
                        ready.push(id);
                    }
                }
            }
        }
        Applied::Done
    }

    fn apply_one(&mut self, op: Op) -> Applied {
        match op {
            Op::Insert { id, origin, ch } => {
                if id.counter == 0 || origin >= id {
                    // An id must be larger than its origin's (the counter is a Lamport clock): anything else did
                    // not come from `insert_at`.
                    return Applied::Refused;
                }
                if self.index.get(id).is_some() {
                    return Applied::Duplicate;
                }
                if origin != CharId::ROOT && self.index.get(origin).is_none() {
                    return self.wait(origin, op);
                }
                self.integrate(id, origin, ch);
                self.visible_ok = false;
                Applied::Done
            }
            Op::Delete { target } => {
                if target == CharId::ROOT {
                    return Applied::Refused;
                }
                let Some(idx) = self.index.get(target) else { return self.wait(target, op) };
                let node = &mut self.nodes[idx as usize];
                if node.deleted {
                    return Applied::Duplicate;
                }
                node.deleted = true;
                self.visible_ok = false;
                Applied::Done
            }
        }
    }

    fn wait(&mut self, on: CharId, op: Op) -> Applied {
        let list = self.waiting.or_default(on);
        if list.contains(&op) {
            return Applied::Duplicate;
        }
        if self.waiting_len >= MAX_WAITING {
            if list.is_empty() {
                self.waiting.remove(&on);
            }
            return Applied::Refused;
        }
        list.push(op);
        self.waiting_len += 1;
        Applied::Waiting
    }

    /// Put a new character into the tree under its (present) origin; returns its node index.
    fn integrate(&mut self, id: CharId, origin: CharId, ch: char) -> Option<u32> {
        let parent = if origin == CharId::ROOT { 0 } else { self.index.get(origin)? };
        let idx = u32::try_from(self.nodes.len()).ok().filter(|&i| i != NONE)?;
        self.clock = self.clock.max(id.counter);
        // Siblings are kept largest id first: walk past the larger ones.
        let mut prev = NONE;
        let mut cur = self.nodes[parent as usize].first_child;
        while cur != NONE && self.nodes[cur as usize].id > id {
            prev = cur;
            cur = self.nodes[cur as usize].next_sibling;
        }
        self.nodes.push(Node { id, ch, deleted: false, parent, first_child: NONE, next_sibling: cur });
        if prev == NONE {
            self.nodes[parent as usize].first_child = idx;
        } else {
            self.nodes[prev as usize].next_sibling = idx;
        }
        self.index.insert(id, idx);
        Some(idx)
    }

    /// Rebuild the visible order: the tree in pre-order, without tombstones (no recursion: a run is a deep chain).
    fn ensure_visible(&mut self) {
        if self.visible_ok {
            return;
        }
        self.visible.clear();
        let mut cur = self.nodes[0].first_child;
        while cur != NONE {
            let node = &self.nodes[cur as usize];
            if !node.deleted {
                self.visible.push(cur);
            }
            if node.first_child != NONE {
                cur = node.first_child;
                continue;
            }
            // Up until a node has a next sibling.
            let mut n = cur;
            cur = NONE;
            while n != 0 && n != NONE {
                let node = &self.nodes[n as usize];
                if node.next_sibling != NONE {
                    cur = node.next_sibling;
                    break;
                }
                n = node.parent;
            }
        }
        self.visible_ok = true;
    }

    /// Every operation this copy knows, in an order that can be replayed (origins before the characters under them,
    /// then deletions, then the waiting ones).
    pub fn ops(&self) -> Vec<Op> {
        let mut ops: Vec<Op> = self.nodes[1..]
            .iter()
            .map(|n| Op::Insert { id: n.id, origin: self.nodes[n.parent as usize].id, ch: n.ch })
            .collect();
        ops.extend(self.nodes[1..].iter().filter(|n| n.deleted).map(|n| Op::Delete { target: n.id }));
        ops.extend(self.waiting.values().flatten().copied());
        ops
    }

    /// The state-based merge: everything `other` knows, added to this copy.
    pub fn merge(&mut self, other: &Text) {
        for op in other.ops() {
            self.apply(op);
        }
    }

    /// The state as a set of operations (sorted), independent of arrival order: equal for two copies that know the
    /// same operations.
    pub fn state(&self) -> Vec<Op> {
        let mut ops = self.ops();
        crate::sql::sort_values(&mut ops);
        ops
    }
}

/// Where each character's node is: per replica, (counter, node index) sorted by counter. A replica's characters
/// usually arrive in the order it typed them, so an insert is a push at the end and a lookup a binary search in one
/// short, contiguous list (a B-tree over all ids cost twice as much in the merge benchmark).
#[derive(Clone, Debug, Default)]
struct IdIndex {
    replicas: Vec<(ReplicaId, Vec<(u64, u32)>)>,
}

impl IdIndex {
    fn list(&self, replica: ReplicaId) -> Option<&Vec<(u64, u32)>> {
        self.replicas.iter().find(|(r, _)| *r == replica).map(|(_, l)| l)
    }

    fn get(&self, id: CharId) -> Option<u32> {
        let list = self.list(id.replica)?;
        match list.last() {
            Some(&(c, i)) if c == id.counter => Some(i),
            _ => list.binary_search_by_key(&id.counter, |&(c, _)| c).ok().map(|k| list[k].1),
        }
    }

    fn insert(&mut self, id: CharId, idx: u32) {
        let pos = match self.replicas.iter().position(|(r, _)| *r == id.replica) {
            Some(p) => p,
            None => {
                self.replicas.push((id.replica, Vec::new()));
                self.replicas.len() - 1
            }
        };
        let list = &mut self.replicas[pos].1;
        if list.last().is_none_or(|&(c, _)| c < id.counter) {
            list.push((id.counter, idx));
        } else if let Err(k) = list.binary_search_by_key(&id.counter, |&(c, _)| c) {
            list.insert(k, (id.counter, idx));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(t: &mut Text, at: usize, s: &str) -> Vec<Op> {
        s.chars().enumerate().map(|(i, c)| t.insert_at(at + i, c)).collect()
    }

    #[test]
    fn ch5_3_local_typing_edits_the_text() {
        let mut t = Text::new(1);
        typed(&mut t, 0, "helo");
        t.insert_at(3, 'l');
        assert_eq!(t.text(), "hello");
        assert!(t.delete_at(0).is_some());
        assert_eq!(t.delete_at(99), None);
        t.insert_at(99, '!');
        assert_eq!(t.text(), "ello!");
    }

    #[test]
    fn ch5_3_concurrent_words_at_one_place_are_not_interleaved() {
        let mut base = Text::new(1);
        let mut ops = typed(&mut base, 0, "[]");
        let mut a = base.clone();
        let mut b = Text::new(2);
        for &op in &ops {
            b.apply(op);
        }
        let from_a = typed(&mut a, 1, "alice");
        let from_b = typed(&mut b, 1, "bob");
        for &op in &from_b {
            a.apply(op);
        }
        for &op in from_a.iter().rev() {
            // Reverse order: the run waits for its origins, then lands whole.
            b.apply(op);
        }
        assert_eq!(a.text(), b.text());
        assert!(a.text() == "[alicebob]" || a.text() == "[bobalice]", "{}", a.text());
        ops.extend(from_a);
        assert_eq!(b.waiting(), 0);
    }

    #[test]
    fn ch5_3_a_delete_before_its_insert_waits() {
        let mut a = Text::new(1);
        let ins = a.insert_at(0, 'x');
        let del = a.delete_at(0).unwrap_or(Op::Delete { target: CharId::ROOT });
        let mut b = Text::new(2);
        assert_eq!(b.apply(del), Applied::Waiting);
        assert_eq!(b.apply(ins), Applied::Done);
        assert_eq!(b.text(), "");
        assert_eq!(b.apply(ins), Applied::Duplicate);
        assert_eq!(b.apply(Op::Delete { target: CharId::ROOT }), Applied::Refused);
        assert_eq!(b.apply(Op::Insert { id: CharId::ROOT, origin: CharId::ROOT, ch: 'q' }), Applied::Refused);
    }
}
