//! The trigger-based replicator (DDIA 5.1 "Trigger-based replication"): a process outside the database.
//!
//! Every `poll_ms` it asks the leader for the rows of its changes table after the lowest position its targets
//! confirmed; the leader answers with the current rows behind those changes (through each table's row filter). The
//! replicator forwards them to each target as upserts and deletes, and once every target confirmed, tells the leader
//! to purge the copied changes. Its positions are durable (Bucardo keeps them in its own database).
//!
//! Failover: a promoted follower tells the replicator it leads now; and when the leader stays silent for the
//! failover timeout, the replicator asks a target who leads (a replica answers a poll with the leader it knows). On a
//! new leader it starts a new era: it forgets its targets' positions in the old leader's numbering, takes the new
//! leader off its targets and the old one on (it becomes a follower when it returns), and polls the new leader from
//! the start of its changes table. Each target then checks the new leader's base against its own position: equal,
//! it continues; different, it asks for an initial copy, which the replicator fetches from the leader and forwards.
//! New nodes ask for a copy the same way, which is how they become targets.

use std::rc::Rc;

use crate::log_methods::trigger::{ChangePos, ChangeRow};
use crate::protocol::single_leader::{send, Effect, Node, NodeConfig, Payload, Timer};
use crate::world::time::{after, ms, Micros};

/// The replicator's state. Positions are durable (Bucardo keeps them in its own database).
#[derive(Clone, Debug, PartialEq)]
pub struct ReplicatorState {
    /// Followers and CDC consumers it applies changes to.
    pub targets: Vec<usize>,
    /// Per target: the last change it confirmed (in the current era), and the leader LSN that made it complete.
    pub acked: crate::vecmap::VecMap<usize, (i64, u64)>,
    /// Changes up to here have been deleted from the leader's changes table.
    pub purged: i64,
    pub polls: u64,
    pub empty_polls: u64,
    /// Change rows read from the leader.
    pub changes_read: u64,
    /// A poll is out and unanswered since this time.
    pub waiting_since: Option<Micros>,
    /// The epoch of the leader it follows: the era in which that leader's triggers number changes.
    pub era: u64,
    /// Where the current leader's numbering continues from (learned from its answers).
    pub base: ChangePos,
    /// When the leader last answered (or was learned): silence for the failover timeout sends it asking around.
    pub last_answer: Micros,
    /// Targets waiting for an initial copy, and when one was last asked of the leader.
    pub copying: Vec<usize>,
    pub copy_asked: Option<Micros>,
    /// Round-robin over the targets when asking who leads.
    pub asked: u64,
    /// Polls sent at once (more changes were waiting) since the last periodic one.
    pub quick_polls: u32,
    /// After a failover: the targets that have not yet confirmed a position in the new leader's era. They hear of
    /// the era with every answer, even one without changes, so that each checks its position against the new
    /// leader's base (an old leader that wrote what nobody else has asks for a copy) also while the new leader has
    /// captured nothing.
    pub unconfirmed: Vec<usize>,
}

/// At most this many immediate polls between two periodic ones. An answer can only be matched to "a poll is out",
/// not to its own poll, so on a network that duplicates messages (two answers to one poll, or a poll answered twice)
/// each answer started a poll and polls multiplied without end (found by the `run` fuzz target; with eight, a
/// replicator polling every 5 ms still sent 17 times the polls it sends without duplication).
const MAX_QUICK_POLLS: u32 = 1;

impl Default for ReplicatorState {
    fn default() -> Self {
        ReplicatorState {
            targets: Vec::new(),
            acked: Default::default(),
            purged: 0,
            polls: 0,
            empty_polls: 0,
            changes_read: 0,
            waiting_since: None,
            era: 1,
            base: ChangePos { era: 1, seq: 0 },
            last_answer: 0,
            copying: Vec::new(),
            copy_asked: None,
            asked: 0,
            quick_polls: 0,
            unconfirmed: Vec::new(),
        }
    }
}

impl Node {
    pub(crate) fn replicator_poll(&mut self, now: Micros, cfg: &NodeConfig, out: &mut Vec<Effect>) {
        let poll = ms(cfg.trigger.poll_ms);
        out.push(Effect::SetTimer { at: after(now, poll), timer: Timer::Poll });
        self.replicator.quick_polls = 0;
        self.poll_leader(now, cfg, out);
    }

    /// Ask the leader for the changes after the lowest confirmed position (and, if it has been silent too long,
    /// ask a target who leads; if targets wait for a copy, ask for one).
    fn poll_leader(&mut self, now: Micros, cfg: &NodeConfig, out: &mut Vec<Effect>) {
        let poll = ms(cfg.trigger.poll_ms);
        let Some(leader) = self.leader else { return };
        let r = &mut self.replicator;
        let again = poll.saturating_mul(4);
        if !r.copying.is_empty() && r.copy_asked.is_none_or(|t| now.saturating_sub(t) >= again) {
            r.copy_asked = Some(now);
            out.push(send(leader, Payload::TargetCopyRequest));
        }
        if r.waiting_since.is_some_and(|t| now.saturating_sub(t) < again) {
            return;
        }
        if now.saturating_sub(r.last_answer) >= again.max(ms(cfg.failover.timeout_ms)) && !r.targets.is_empty() {
            // The leader has been silent as long as a follower waits before an election: ask a target who leads.
            let t = r.targets[(r.asked % r.targets.len() as u64) as usize];
            r.asked += 1;
            out.push(send(t, Payload::PollChanges { after: 0, limit: 0 }));
        }
        let after = r.targets.iter().map(|t| r.acked.get(t).map_or(0, |a| a.0)).min().unwrap_or(0).max(r.purged);
        r.waiting_since = Some(now);
        r.polls += 1;
        out.push(send(leader, Payload::PollChanges { after, limit: cfg.trigger.batch }));
    }

    /// A new leader (it said so, or a replica did): a new era of numbering.
    fn follow_leader(&mut self, now: Micros, leader: usize, epoch: u64) {
        let old = self.leader.replace(leader);
        let r = &mut self.replicator;
        r.era = epoch;
        r.targets.retain(|t| *t != leader);
        if let Some(o) = old.filter(|o| *o != leader && !r.targets.contains(o)) {
            // The old leader is a follower when it comes back: a target like the others.
            r.targets.push(o);
        }
        // (Every target: the same node leading a newer epoch numbers its changes in a new era too.)
        r.unconfirmed = r.targets.clone();
        // Positions in the old leader's numbering mean nothing on the new one: each target checks its own against
        // the new leader's base when the first answer of the new era reaches it (`unconfirmed`: with changes or
        // without).
        r.acked = Default::default();
        r.purged = 0;
        r.copy_asked = None;
        r.waiting_since = None;
        r.last_answer = now;
    }

    pub(crate) fn on_replicator_message(
        &mut self,
        now: Micros,
        from: usize,
        payload: Payload,
        cfg: &NodeConfig,
        out: &mut Vec<Effect>,
    ) {
        match payload {
            // A new leader says so, or a replica names it. (The same leader in a newer epoch shows in its answers.)
            Payload::Announce { leader, epoch } if epoch > self.replicator.era && self.leader != Some(leader) => {
                self.follow_leader(now, leader, epoch);
                // At once, from the start of the new leader's changes table (the periodic polls go on as before).
                self.poll_leader(now, cfg, out);
            }
            // Answers from the leader it follows, or from a node that leads in this era or a newer one (asked who
            // leads, it answered the poll itself: only a leader serves a poll). The same era from another node
            // means the leader it follows was named wrongly: a follower asked who leads answers with the leader it
            // last heard of and its own, newer, epoch. An old leader's late answers are ignored.
            Payload::Changes { changes, leader_lsn, complete, era, base }
                if Some(from) == self.leader || era >= self.replicator.era =>
            {
                let awaited = self.replicator.waiting_since.is_some();
                if era != self.replicator.era || Some(from) != self.leader {
                    self.follow_leader(now, from, era);
                }
                let r = &mut self.replicator;
                r.waiting_since = None;
                r.last_answer = now;
                r.base = base;
                r.changes_read += changes.len() as u64;
                if changes.is_empty() {
                    r.empty_polls += 1;
                }
                for &t in r.targets.iter().filter(|t| !r.copying.contains(t)) {
                    let (seq, lsn) = r.acked.get(&t).copied().unwrap_or((0, 0));
                    let fresh: Vec<ChangeRow> = changes.iter().filter(|c| c.seq > seq).cloned().collect();
                    if !fresh.is_empty() || (complete && lsn < leader_lsn) || r.unconfirmed.contains(&t) {
                        let changes = Rc::new(fresh);
                        out.push(send(t, Payload::ApplyChanges { changes, leader_lsn, complete, era, base }));
                    }
                }
                if !complete && awaited && self.replicator.quick_polls < MAX_QUICK_POLLS {
                    // More are waiting: fetch the next batch at once (a poll, not a timer: a timer would start a
                    // second chain of periodic polls beside the first, for good), once per answer awaited.
                    self.replicator.quick_polls += 1;
                    self.poll_leader(now, cfg, out);
                }
            }
            Payload::ChangesApplied { seq, lsn, era } if era == self.replicator.era => {
                let r = &mut self.replicator;
                if !r.targets.contains(&from) {
                    return;
                }
                r.copying.retain(|t| *t != from);
                r.unconfirmed.retain(|t| *t != from);
                let a = r.acked.or_default(from);
                *a = (a.0.max(seq), a.1.max(lsn));
                let low = r.targets.iter().map(|t| r.acked.get(t).map_or(0, |a| a.0)).min().unwrap_or(0);
                if low > r.purged {
                    r.purged = low;
                    if let Some(l) = self.leader {
                        out.push(send(l, Payload::PurgeChanges { upto: low }));
                    }
                }
            }
            Payload::NeedCopy { .. } if Some(from) != self.leader => {
                // A new node subscribing, or a target that cannot continue: it gets the leader's rows first.
                let r = &mut self.replicator;
                if !r.targets.contains(&from) {
                    r.targets.push(from);
                }
                r.acked.remove(&from);
                if !r.copying.contains(&from) {
                    r.copying.push(from);
                }
                if r.copy_asked.is_none_or(|t| now > t) {
                    r.copy_asked = Some(now);
                    if let Some(l) = self.leader {
                        out.push(send(l, Payload::TargetCopyRequest));
                    }
                }
            }
            Payload::TargetCopy { copy } if Some(from) == self.leader && copy.era == self.replicator.era => {
                for &t in &self.replicator.copying {
                    out.push(send(t, Payload::TargetCopy { copy: copy.clone() }));
                }
            }
            _ => {}
        }
    }
}
