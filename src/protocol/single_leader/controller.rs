//! DDIA 5.1 "Leader failure: Failover", choosing the new leader by a controller node.
//!
//! Instead of an election, a controller collects every replica's periodic status (epoch, LSN, leading). When the
//! leader's reports stop for the failover timeout, it appoints the follower with the highest LSN leader of a new
//! epoch and announces it to the other replicas.

use super::*;

impl Node {
    pub(super) fn on_controller_message(&mut self, now: Micros, n: usize, payload: Payload) {
        if let Payload::Status { epoch, lsn, leading } = payload {
            self.vol.controller.statuses.insert(n, (now, epoch, lsn, leading));
            self.epoch = self.epoch.max(epoch);
            if leading && self.leader.is_none() {
                self.leader = Some(n);
                self.leader_epoch = epoch;
            }
        }
    }

    pub(super) fn controller_tick(&mut self, now: Micros, cfg: &NodeConfig, out: &mut Vec<Effect>) {
        if !cfg.failover.auto || cfg.failover.election != Election::Controller {
            return;
        }
        let timeout = cfg.timeout();
        let alive = |t: Micros| now.saturating_sub(t) <= timeout;
        if let Some((chosen, at)) = self.vol.controller.appointed {
            // Give an appointment time to take effect before judging again.
            if now.saturating_sub(at) < timeout
                || self.vol.controller.statuses.get(&chosen).is_some_and(|s| s.3 && alive(s.0))
            {
                if self.vol.controller.statuses.get(&chosen).is_some_and(|s| s.3) {
                    self.vol.controller.appointed = None;
                }
                return;
            }
        }
        let leader_ok = self
            .leader
            .and_then(|l| self.vol.controller.statuses.get(&l))
            .is_some_and(|(t, _, _, leading)| *leading && alive(*t));
        if leader_ok || self.leader.is_none() && now < timeout {
            return;
        }
        let best = self
            .vol
            .controller
            .statuses
            .iter()
            .filter(|(n, (t, _, _, _))| alive(*t) && Some(**n) != self.leader)
            .max_by_key(|(n, (_, _, lsn, _))| (*lsn, std::cmp::Reverse(**n)))
            .map(|(n, _)| *n);
        let Some(chosen) = best else { return };
        let epoch = self.vol.controller.statuses.values().map(|s| s.1).max().unwrap_or(0).max(self.epoch) + 1;
        self.epoch = epoch;
        self.leader = Some(chosen);
        self.leader_epoch = epoch;
        self.vol.controller.appointed = Some((chosen, now));
        out.push(Effect::Note(Note::Appointed { node: chosen, epoch }));
        out.push(send(chosen, Payload::Promote { epoch }));
        for n in self.vol.controller.statuses.keys().copied().filter(|n| *n != chosen).collect::<Vec<_>>() {
            out.push(send(n, Payload::Announce { leader: chosen, epoch }));
        }
    }
}
