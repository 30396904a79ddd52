//! DDIA 5.1 "Follower failure: Catch-up recovery".
//!
//! A follower that crashed, restarted or was cut off knows durably the last entry it applied. It asks the leader
//! for everything after that position (`fetch`); the leader answers in batches. If the follower's log disagrees
//! with the leader's (it holds entries of an epoch the leader never had), the leader names the last position both
//! agree on and the follower discards the rest and rebuilds. If the leader no longer retains the entries the
//! follower needs, the follower must start again from a snapshot. A request repeated while its batch is still on
//! the way (within a heartbeat) is answered once: the tick resends what is lost.

use super::*;

impl Node {
    /// Answer a follower's fetch: the backlog, or "you diverged", or "you need a snapshot".
    pub(super) fn on_fetch(
        &mut self,
        now: Micros,
        f: usize,
        after_lsn: u64,
        last_epoch: u64,
        cfg: &NodeConfig,
        out: &mut Vec<Effect>,
    ) {
        if cfg.method().captures_changes() {
            // Nothing is shipped from the log: the follower is a target of the replicator.
            let p = self.vol.leader.peers.or_default(f);
            p.last_ack = now;
            return;
        }
        let mine = self.epoch_at(after_lsn);
        if cfg.failover.epochs && (after_lsn > self.lsn() || mine.is_some_and(|e| e != last_epoch)) {
            // The follower has entries this leader never had (an old leader's unreplicated writes). Keep what
            // both logs agree on: up to the end of the follower's last epoch in this log.
            let keep = self.end_of_epoch(last_epoch).min(after_lsn);
            out.push(send(f, Payload::Diverged { epoch: self.epoch, keep_lsn: keep }));
            return;
        }
        if after_lsn < self.base_lsn {
            out.push(send(f, Payload::NeedSnapshot { epoch: self.epoch }));
            return;
        }
        let p = self.vol.leader.peers.or_default(f);
        p.last_ack = now;
        if p.last_batch.is_some_and(|(after, at)| after == after_lsn && now.saturating_sub(at) < cfg.heartbeat) {
            // The entries this asks for left less than a heartbeat ago and are still on their way: a duplicated
            // request, or one repeated by a follower torn between two leaders. Answering each copy would multiply
            // the traffic; if that batch is lost, the tick's retransmission sends it again.
            return;
        }
        p.match_lsn = after_lsn;
        p.sent_lsn = after_lsn;
        self.send_batch(now, f, out);
    }

    /// The last LSN of `epoch` (or of the latest epoch before it) in this node's log.
    pub(super) fn end_of_epoch(&self, epoch: u64) -> u64 {
        let mut end = if self.base_epoch <= epoch { self.base_lsn } else { 0 };
        for e in &self.log {
            if e.epoch <= epoch {
                end = e.lsn;
            } else {
                break;
            }
        }
        end
    }
}
