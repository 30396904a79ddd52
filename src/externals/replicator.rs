//! The trigger-based replicator (DDIA 5.1 "Trigger-based replication"): a process outside the database.
//!
//! Every `poll_ms` it asks the leader for the rows of its changes table after the lowest position its targets
//! confirmed; the leader answers with the current rows behind those changes (through each table's row filter). The
//! replicator forwards them to each target as upserts and deletes, and once every target confirmed, tells the leader
//! to purge the copied changes. Its positions are durable (Bucardo keeps them in its own database).

use std::rc::Rc;

use crate::log_methods::trigger::ChangeRow;
use crate::protocol::single_leader::{send, Effect, Node, NodeConfig, Payload, Timer};
use crate::world::time::{after, ms, Micros};

/// The replicator's state. Positions are durable (Bucardo keeps them in its own database).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ReplicatorState {
    /// Followers and CDC consumers it applies changes to.
    pub targets: Vec<usize>,
    /// Per target: the last change it confirmed, and the leader LSN that made it complete.
    pub acked: crate::vecmap::VecMap<usize, (i64, u64)>,
    /// Changes up to here have been deleted from the leader's changes table.
    pub purged: i64,
    pub polls: u64,
    pub empty_polls: u64,
    /// Change rows read from the leader.
    pub changes_read: u64,
    /// A poll is out and unanswered since this time.
    pub waiting_since: Option<Micros>,
}

impl Node {
    pub(crate) fn replicator_poll(&mut self, now: Micros, cfg: &NodeConfig, out: &mut Vec<Effect>) {
        let poll = ms(cfg.trigger.poll_ms);
        out.push(Effect::SetTimer { at: after(now, poll), timer: Timer::Poll });
        let r = &mut self.replicator;
        if r.waiting_since.is_some_and(|t| now.saturating_sub(t) < poll.saturating_mul(4)) {
            return;
        }
        let Some(leader) = self.leader else { return };
        let after = r.targets.iter().map(|t| r.acked.get(t).map_or(0, |a| a.0)).min().unwrap_or(0).max(r.purged);
        r.waiting_since = Some(now);
        r.polls += 1;
        out.push(send(leader, Payload::PollChanges { after, limit: cfg.trigger.batch }));
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
            Payload::Changes { changes, leader_lsn, complete } => {
                let r = &mut self.replicator;
                r.waiting_since = None;
                r.changes_read += changes.len() as u64;
                if changes.is_empty() {
                    r.empty_polls += 1;
                }
                for &t in &r.targets {
                    let (seq, lsn) = r.acked.get(&t).copied().unwrap_or((0, 0));
                    let fresh: Vec<ChangeRow> = changes.iter().filter(|c| c.seq > seq).cloned().collect();
                    if !fresh.is_empty() || (complete && lsn < leader_lsn) {
                        let changes = Rc::new(fresh);
                        out.push(send(t, Payload::ApplyChanges { changes, leader_lsn, complete }));
                    }
                }
                if !complete {
                    // More are waiting: fetch the next batch at once.
                    self.replicator.waiting_since = None;
                    out.push(Effect::SetTimer { at: now, timer: Timer::Poll });
                }
            }
            Payload::ChangesApplied { seq, lsn } => {
                let r = &mut self.replicator;
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
            _ => {}
        }
        let _ = cfg;
    }
}
