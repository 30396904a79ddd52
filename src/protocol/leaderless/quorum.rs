//! Quorums for reading and writing (DDIA 5.4, "Quorums for reading and writing").
//!
//! A coordinator (a replica the client named, or the client library itself) takes one put or get of one key. It
//! sends it to the key's `n` home replicas at once (a replica that coordinates stores or reads its own copy
//! directly) and counts answers: a write is acknowledged to the client once `w` replicas stored it, a read
//! answers once `r` replicas answered, with every version none of the others descends from. With w + r > n
//! every read quorum shares a replica with every write quorum, so a read sees the latest acknowledged write,
//! unless one of the edge cases the chapter lists interferes (sloppy quorums, concurrent writes, a write that
//! failed on some replicas and was not rolled back, a replica restored from old data).
//!
//! A coordinating replica waits `request_timeout_ms`. If the quorum is not met by then, with a sloppy quorum it
//! first tries the next reachable nodes on the ring (`sloppy.rs`); otherwise, or if that does not help either,
//! it reports the failure to the client, naming who was asked and who answered. A failed write is not undone on
//! the replicas that did store it. Answers that arrive after the client was answered still count for read repair
//! (`read_repair.rs`). A client library that coordinates does all of this itself, with a timer of its own.

use super::versions::{self, Sibling};
use super::*;

/// One operation in progress at its coordinator.
#[derive(Clone, Debug, PartialEq)]
pub struct Coordination {
    pub op: usize,
    pub client: usize,
    pub key: Key,
    /// The version a write stores; `None` for a read.
    pub put: Option<Sibling>,
    /// The key's preference list: its home replicas first, then fallbacks.
    pub pref: Vec<usize>,
    pub needed: usize,
    /// Replicas asked, and (for hinted writes) the home replica each fallback stands in for.
    pub sent: Vec<usize>,
    pub hinted: Vec<(usize, usize)>,
    pub answered: Vec<usize>,
    /// A read's answers.
    pub replies: Vec<(usize, Vec<Sibling>)>,
    pub finished: bool,
    pub sloppy_tried: bool,
    /// Replicas read repair already wrote to.
    pub repaired: Vec<usize>,
}

/// What the coordinator tells its client.
pub enum Decision {
    Wait,
    Done(Reply),
}

impl Coordination {
    pub fn is_write(&self) -> bool {
        self.put.is_some()
    }

    fn home(&self, n: usize) -> &[usize] {
        &self.pref[..n.min(self.pref.len())]
    }

    /// The request for replica `to` (a hinted put when it stands in for `hint`).
    fn request(&self, hint: Option<usize>) -> Msg {
        match &self.put {
            Some(v) => Msg::Put { op: self.op, key: self.key.clone(), version: v.clone(), hint },
            None => Msg::Get { op: self.op, key: self.key.clone() },
        }
    }

    /// Record an answer; returns false for one already counted (a duplicate) or not asked for.
    pub fn answer(&mut self, from: usize, versions: Option<Vec<Sibling>>) -> bool {
        if !self.sent.contains(&from) || self.answered.contains(&from) {
            return false;
        }
        self.answered.push(from);
        if let Some(v) = versions {
            self.replies.push((from, v));
        }
        true
    }

    /// The versions the read answers with: every version no other answer descends from.
    pub fn reconciled(&self) -> Vec<Sibling> {
        versions::reconcile(self.replies.iter().map(|(_, v)| v.as_slice()))
    }

    /// Met the quorum just now?
    pub fn decide(&mut self) -> Decision {
        if self.finished || self.answered.len() < self.needed {
            return Decision::Wait;
        }
        self.finished = true;
        Decision::Done(Reply {
            error: None,
            versions: if self.is_write() { Vec::new() } else { self.reconciled() },
            written: self.put.as_ref().map(Sibling::clock),
        })
    }

    /// The error when the quorum was not met.
    pub fn failure(&mut self, names: &[Name], spec: &LeaderlessSpec) -> Reply {
        self.finished = true;
        let list = |v: &[usize]| -> String {
            if v.is_empty() {
                "none".into()
            } else {
                v.iter().map(|i| names[*i].to_string()).collect::<Vec<_>>().join(", ")
            }
        };
        let home = self.home(spec.n).to_vec();
        let error = if self.is_write() {
            format!(
                "write quorum not met: {} of w = {} acknowledgements (sent to {}; acknowledged by {}; home replicas \
                 {}). The write is not rolled back on the replicas that stored it",
                self.answered.len(),
                self.needed,
                list(&self.sent),
                list(&self.answered),
                list(&home)
            )
        } else {
            format!(
                "read quorum not met: {} of r = {} answers (asked {}; answered by {})",
                self.answered.len(),
                self.needed,
                list(&self.sent),
                list(&self.answered)
            )
        };
        Reply { error: Some(error), versions: Vec::new(), written: None }
    }
}

impl Cluster {
    /// Start coordinating operation `op` at `by` (a replica or a client library): send the request to the key's
    /// home replicas (a coordinating replica serves its own copy at once). Returns the coordination and what the
    /// replica answered locally decided, if anything.
    pub(crate) fn begin(
        &mut self,
        by: Endpoint,
        op: usize,
        client: usize,
        key: Key,
        put: Option<Sibling>,
        out: &mut Vec<Action>,
    ) -> (Coordination, Decision) {
        let pref = self.preference_list(&key);
        let needed = if put.is_some() { self.spec.w } else { self.spec.r };
        let mut c = Coordination {
            op,
            client,
            key,
            put,
            pref,
            needed,
            sent: Vec::new(),
            hinted: Vec::new(),
            answered: Vec::new(),
            replies: Vec::new(),
            finished: false,
            sloppy_tried: false,
            repaired: Vec::new(),
        };
        let home: Vec<usize> = c.home(self.spec.n).to_vec();
        for h in &home {
            c.sent.push(*h);
            if by == Endpoint::Node(*h) {
                // The coordinator is a home replica: it stores or reads its own copy without a message.
                let local = match &c.put {
                    Some(v) => {
                        self.nodes[*h].store(&c.key, v);
                        None
                    }
                    None => Some(self.nodes[*h].versions_of(&c.key)),
                };
                c.answer(*h, local);
            } else {
                out.push(send(by, Endpoint::Node(*h), c.request(None)));
            }
        }
        self.records.insert(
            op,
            OpRecord {
                key: c.key.clone(),
                write: c.is_write(),
                home,
                reached: c.sent.clone(),
                answered: c.answered.clone(),
                needed,
                met: None,
                hinted: Vec::new(),
                written: c.put.clone(),
                returned: Vec::new(),
                merged: None,
            },
        );
        let d = c.decide();
        self.note(&c, &d);
        (c, d)
    }

    /// Bring the operation's record up to date with its coordination.
    pub(crate) fn note(&mut self, c: &Coordination, d: &Decision) {
        if let Some(r) = self.records.get_mut(&c.op) {
            r.reached = c.sent.clone();
            r.answered = c.answered.clone();
            r.hinted = c.hinted.clone();
            if let Decision::Done(reply) = d {
                r.met = Some(reply.error.is_none());
                if reply.error.is_none() && !c.is_write() {
                    r.returned = reply.versions.clone();
                }
            }
        }
    }

    /// A client asked replica `node` to coordinate.
    pub(crate) fn coordinate_at_node(
        &mut self,
        node: usize,
        client: usize,
        op: usize,
        req: Req,
        now: Micros,
        out: &mut Vec<Action>,
    ) {
        let (key, put) = match req {
            Req::Get { key } => (key, None),
            Req::Put { key, row, context, removed } => {
                let n = &mut self.nodes[node];
                n.counter += 1;
                // Last write wins: the coordinating node's own clock stamps the write, skew and all.
                let ts = self.spec.lww().then(|| clock_time_us(&n.clock, now));
                (key, Some(Sibling { vv: context, dot: (node, n.counter), row, removed, op, at: now, ts }))
            }
        };
        let by = Endpoint::Node(node);
        let (c, d) = self.begin(by, op, client, key, put, out);
        if let Decision::Done(reply) = d {
            out.push(send(by, Endpoint::Client(client), Msg::Done { op, reply }));
        }
        out.push(self.deadline(by, op, now));
        self.nodes[node].coordinating.insert(op, c);
    }

    /// A replica answered the operation that `node` (or client, through `by`) coordinates.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn answer_at_node(
        &mut self,
        node: usize,
        op: usize,
        by: Endpoint,
        from: Endpoint,
        versions: Option<Vec<Sibling>>,
        _now: Micros,
        out: &mut Vec<Action>,
    ) {
        let Endpoint::Node(from) = from else { return };
        let Some(mut c) = self.nodes[node].coordinating.remove(&op) else { return };
        if c.answer(from, versions) {
            let d = c.decide();
            self.note(&c, &d);
            if let Decision::Done(reply) = d {
                out.push(send(by, Endpoint::Client(c.client), Msg::Done { op, reply }));
            }
            if c.finished && !c.is_write() && self.spec.read_repair {
                for a in read_repair::repairs(&mut c, by) {
                    match a {
                        // The coordinator's own copy is repaired in place, not through the network.
                        Action::Send { to, msg: Message::Leaderless(Msg::Repair { key, versions }), .. }
                            if to == by =>
                        {
                            for v in &versions {
                                self.nodes[node].store(&key, v);
                            }
                        }
                        other => out.push(other),
                    }
                }
            }
        }
        if !(c.finished && c.answered.len() == c.sent.len()) {
            self.nodes[node].coordinating.insert(op, c);
        }
    }

    /// The coordinating replica's wait is over: try fallbacks (sloppy quorum) or give up.
    pub(crate) fn deadline_at_node(&mut self, node: usize, op: usize, now: Micros, out: &mut Vec<Action>) {
        let Some(mut c) = self.nodes[node].coordinating.remove(&op) else { return };
        let by = Endpoint::Node(node);
        match self.expire(by, &mut c, now, out) {
            Expiry::Wait => {
                self.nodes[node].coordinating.insert(op, c);
            }
            Expiry::Over => {}
            Expiry::Failed(reply) => out.push(send(by, Endpoint::Client(c.client), Msg::Done { op, reply })),
        }
    }

    /// A coordinator's wait for `c` is over. With a sloppy quorum not yet tried, the request goes to fallbacks
    /// and the wait starts again; otherwise an unfinished operation fails.
    pub(crate) fn expire(&mut self, by: Endpoint, c: &mut Coordination, now: Micros, out: &mut Vec<Action>) -> Expiry {
        if c.finished {
            return Expiry::Over; // Answered already; late answers no longer matter.
        }
        if self.spec.sloppy_quorum && !c.sloppy_tried {
            c.sloppy_tried = true;
            let sends = sloppy::fallbacks(c, self.spec.n);
            if !sends.is_empty() {
                for (to, hint) in sends {
                    out.push(send(by, Endpoint::Node(to), c.request(hint)));
                }
                self.note(c, &Decision::Wait);
                out.push(self.deadline(by, c.op, now));
                return Expiry::Wait;
            }
        }
        let names: Vec<Name> = self.names.to_vec();
        let reply = c.failure(&names, &self.spec);
        self.note(c, &Decision::Done(reply.clone()));
        Expiry::Failed(reply)
    }

    /// The timer that ends a coordinator's wait for operation `op`.
    pub(crate) fn deadline(&self, by: Endpoint, op: usize, now: Micros) -> Action {
        let at = after(now, ms(self.spec.request_timeout_ms));
        match by {
            Endpoint::Node(node) => timer(node, at, Timer::Request { op }),
            Endpoint::Client(client) => {
                Action::SetClientTimer { client, at, timer: AnyTimer::Leaderless(Timer::Request { op }) }
            }
        }
    }
}

/// What a coordinator does when its wait is over.
pub enum Expiry {
    /// Fallbacks were asked: wait again.
    Wait,
    /// The operation was answered already: forget it.
    Over,
    /// The quorum was not met.
    Failed(Reply),
}
