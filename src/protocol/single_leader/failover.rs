//! DDIA 5.1 "Leader failure: Failover".
//!
//! Followers expect to hear from the leader every heartbeat. One that hears nothing for the failover timeout (plus
//! a random jitter, so they do not all start at once) stands for election in a new epoch. A replica grants one vote
//! per epoch, only to a candidate whose log (last epoch, LSN) is at least as up to date as its own and only while it
//! hears from no live leader; a majority makes the candidate leader. With epochs on, every leader-era message
//! carries the epoch: a node that sees a newer one steps down, and a returning old leader discards the entries the
//! new leader lacks (the lost writes). Without epochs nothing deposes an old leader: two leaders (split brain), which
//! the `two_leaders` guard resolves by shutting one down, or (badly designed) both. A planned handover waits until
//! the chosen follower has every entry and then promotes it.

use super::*;

impl Node {
    /// Planned failover: stop taking writes, let `target` catch up, then hand over.
    pub fn begin_handover(&mut self, target: usize, now: Micros, cfg: &NodeConfig) -> Vec<Effect> {
        let mut out = Vec::new();
        if !self.is_leader() || target == self.index {
            return out;
        }
        self.vol.leader.handing_over = Some(target);
        let last = self.lsn();
        let p = self.vol.leader.peers.or_default(target);
        if p.match_lsn >= last {
            let epoch = self.epoch + 1;
            out.push(send(target, Payload::Promote { epoch }));
            self.step_down(epoch, Some(target), "handed leadership over (planned failover)".into(), &mut out);
        } else if cfg.method().ships_log() {
            p.sent_lsn = p.match_lsn;
            self.send_batch(now, target, &mut out);
        }
        // Under trigger-based replication the log is not shipped: the replicator brings the target up to date, and
        // its confirmation (an ack at the leader's LSN) completes the handover.
        out
    }

    /// An administrator promotes this follower directly (the leader is gone).
    pub fn force_promote(&mut self, epoch: u64, now: Micros, cfg: &NodeConfig) -> Vec<Effect> {
        let mut out = Vec::new();
        if self.role == Role::Follower {
            self.epoch = self.epoch.max(epoch);
            self.become_leader(now, cfg, &mut out);
        }
        out
    }

    pub(super) fn become_leader(&mut self, now: Micros, cfg: &NodeConfig, out: &mut Vec<Effect>) {
        self.role = Role::Leader;
        self.leader = Some(self.index);
        self.leader_epoch = self.epoch;
        self.joining = None;
        self.vol.candidate.candidate = false;
        self.vol.candidate.votes.clear();
        self.vol.follower.buffer.clear();
        self.vol.leader.handing_over = None;
        self.leader_since = Some((self.epoch, now));
        self.reset_peers(now);
        let last = self.lsn();
        out.push(Effect::Note(Note::BecameLeader { epoch: self.epoch }));
        for f in self.followers() {
            out.push(send(f, Payload::Heartbeat { epoch: self.epoch, leader_lsn: last }));
        }
        if cfg.method().captures_changes() {
            // Trigger-based replication: the new leader's writes must be captured from now on.
            self.start_capture(now, cfg, out);
        }
    }

    pub(super) fn step_down(&mut self, epoch: u64, leader: Option<usize>, reason: String, out: &mut Vec<Effect>) {
        let was_leader = self.is_leader();
        self.epoch = self.epoch.max(epoch);
        self.voted_for = None;
        self.vol.candidate.candidate = false;
        self.vol.candidate.votes.clear();
        self.leader = leader;
        if was_leader {
            // Trigger-based replication: as a target from now on, this node holds every change it captured.
            self.stop_capture();
            self.role = Role::Follower;
            self.leader_since = None;
            self.vol.leader.peers.clear();
            self.vol.leader.transfers.clear();
            self.vol.leader.handing_over = None;
            // Held answers will never come: the clients time out.
            self.vol.leader.waiting.clear();
            out.push(Effect::Note(Note::SteppedDown { epoch: self.epoch, reason }));
        }
    }

    pub(super) fn follower_tick(&mut self, now: Micros, cfg: &NodeConfig, out: &mut Vec<Effect>) {
        if self.status == Status::Halted {
            return;
        }
        let stalled = now.saturating_sub(self.vol.follower.snapshot_since) > 8 * cfg.heartbeat;
        match (&self.joining, self.leader) {
            (Some(Joining::Snapshot { .. } | Joining::FileCopy { .. }), _)
                if cfg.method().captures_changes() && stalled =>
            {
                // The request or the copy was lost, or the replicator was down: ask again.
                self.vol.follower.snapshot_since = now;
                out.extend(self.ask_for_copy(cfg));
            }
            (Some(Joining::Snapshot { .. }), Some(l)) if stalled => {
                // Chunks were lost or the leader went away: ask again.
                self.vol.follower.snapshot_since = now;
                self.vol.follower.snapshot_parts.clear();
                out.push(send(l, Payload::SnapshotRequest { epoch: self.epoch }));
            }
            _ => {}
        }
        let auto = cfg.failover.auto && cfg.failover.election == Election::MostUpToDate;
        if auto && self.vol.follower.election_deadline < after(now, cfg.heartbeat) {
            // The deadline falls before the next tick: wake up exactly then, so that randomized deadlines differ.
            out.push(Effect::SetTimer { at: self.vol.follower.election_deadline.max(now), timer: Timer::Election });
        }
    }

    pub(super) fn election_timer(&mut self, now: Micros, cfg: &NodeConfig, out: &mut Vec<Effect>) {
        let auto = cfg.failover.auto && cfg.failover.election == Election::MostUpToDate;
        let copying = matches!(self.joining, Some(Joining::Snapshot { .. } | Joining::FileCopy { .. }));
        let follower = self.role == Role::Follower && self.status != Status::Halted;
        if auto && follower && now >= self.vol.follower.election_deadline && !copying {
            self.start_election(now, cfg, out);
        }
    }

    pub(super) fn start_election(&mut self, now: Micros, cfg: &NodeConfig, out: &mut Vec<Effect>) {
        self.epoch += 1;
        self.voted_for = Some(self.index);
        self.vol.candidate.candidate = true;
        self.vol.candidate.votes.clear();
        self.vol.candidate.votes.insert(self.index, ());
        self.vol.follower.election_deadline = self.new_deadline(now, cfg);
        out.push(Effect::Note(Note::ElectionStarted { epoch: self.epoch }));
        let request = Payload::VoteRequest { epoch: self.epoch, last_lsn: self.lsn(), last_epoch: self.last_epoch() };
        for m in self.followers() {
            out.push(send(m, request.clone()));
        }
        if self.vol.candidate.votes.len() >= self.majority() {
            self.become_leader(now, cfg, out);
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn on_vote_request(
        &mut self,
        now: Micros,
        c: usize,
        epoch: u64,
        last_lsn: u64,
        last_epoch: u64,
        cfg: &NodeConfig,
        out: &mut Vec<Effect>,
    ) {
        // A replica that hears from a live leader ignores candidates (a node cut off for a while must not depose
        // a working leader just because its own clock ran out).
        let leader_alive = self.is_leader()
            || (self.leader.is_some() && now.saturating_sub(self.vol.follower.last_heard_leader) < cfg.timeout());
        if epoch < self.epoch
            || (leader_alive && !self.is_leader())
            || (self.is_leader() && self.status == Status::Running && !cfg.failover.epochs)
        {
            out.push(send(c, Payload::Vote { epoch: self.epoch, granted: false }));
            return;
        }
        if epoch > self.epoch {
            let reason = format!("a candidate asked for votes in epoch {epoch}");
            self.step_down(epoch, None, reason, out);
        }
        let up_to_date = (last_epoch, last_lsn) >= (self.last_epoch(), self.lsn());
        let granted = up_to_date && self.voted_for.is_none_or(|v| v == c);
        if granted {
            self.voted_for = Some(c);
            self.vol.follower.election_deadline = self.new_deadline(now, cfg);
        }
        out.push(send(c, Payload::Vote { epoch: self.epoch, granted }));
    }

    /// Epoch rules for a message from a node that claims to lead `epoch`. Returns false when the message must be
    /// ignored (it comes from a stale leader, which is told so, or from a rival leader).
    pub(super) fn accept_leader(
        &mut self,
        now: Micros,
        l: usize,
        epoch: u64,
        cfg: &NodeConfig,
        out: &mut Vec<Effect>,
    ) -> bool {
        let fenced = cfg.failover.fencing && epoch < self.epoch;
        if (cfg.failover.epochs && epoch < self.epoch) || fenced {
            out.push(send(l, Payload::Rejected { epoch: self.epoch, leader: self.leader }));
            return false;
        }
        let newer = cfg.failover.epochs && epoch > self.epoch;
        if self.is_leader() && l != self.index && !newer {
            // Two nodes act as leader and nothing says which is right.
            self.two_leaders(l, epoch, cfg, out);
            return false;
        }
        let changed = newer || self.leader != Some(l);
        if newer {
            self.step_down(epoch, Some(l), format!("heard from the leader of newer epoch {epoch}"), out);
        }
        self.epoch = self.epoch.max(epoch);
        self.vol.candidate.candidate = false;
        self.vol.candidate.votes.clear();
        self.leader = Some(l);
        self.leader_epoch = self.epoch;
        self.vol.follower.last_heard_leader = now;
        self.vol.follower.election_deadline = self.new_deadline(now, cfg);
        if changed && self.follows() && self.joining.is_none() {
            // A different leader: what the old one shipped but this node has not applied may never have reached
            // the new one. Drop it and ask the new leader, which checks that the two logs agree.
            self.vol.follower.buffer.clear();
            self.vol.follower.leader_lsn_seen = 0;
            self.vol.follower.fetched_at = Some(now);
            out.push(send(l, self.fetch()));
        }
        true
    }

    /// This node leads and hears from another node that also leads (and no epoch settles it).
    pub(super) fn two_leaders(&mut self, other: usize, epoch: u64, cfg: &NodeConfig, out: &mut Vec<Effect>) {
        let reason = format!("{} saw another leader (node {other}, epoch {epoch})", self.id);
        let shut = match cfg.failover.two_leaders {
            TwoLeaders::Ignore => false,
            TwoLeaders::ShutdownBoth => true,
            // The guard compares election numbers: the leader elected earlier goes (ties: the higher index).
            TwoLeaders::ShutdownOlder => (self.epoch, other) < (epoch, self.index),
        };
        if shut {
            out.push(Effect::Note(Note::ShutDown { reason }));
        }
    }
}
