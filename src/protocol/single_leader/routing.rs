//! DDIA 5.2 "Problems with Replication Lag": how a replica serves a client's read.
//!
//! A follower serves reads from its own state. A client that carries an LSN token (its last write's position) is
//! served only once the replica has reached it: the read waits a while, and is passed to the leader if the replica
//! stays behind. A client that bounds the staleness it accepts (`max_lag`) is passed to the leader by a replica
//! that lags more than that. Followers refuse writes and name the leader they know.

use super::*;

impl Node {
    /// Serve held reads whose token this replica has now reached; pass on those that waited too long.
    pub(super) fn release_held_reads(&mut self, now: Micros, cfg: &NodeConfig, out: &mut Vec<Effect>) {
        if self.vol.follower.held_reads.is_empty() {
            return;
        }
        let lsn = self.lsn();
        for (client, op, sql, min_lsn, since) in std::mem::take(&mut self.vol.follower.held_reads) {
            if min_lsn <= lsn {
                self.on_request(now, client, op, &sql, cfg, out);
            } else if now.saturating_sub(since) >= TOKEN_WAIT {
                out.push(self.pass_on(client, op, format!("{} has not reached lsn {min_lsn} after waiting", self.id)));
            } else {
                self.vol.follower.held_reads.push((client, op, sql, min_lsn, since));
            }
        }
    }

    pub(super) fn pass_on(&self, client: usize, op: usize, why: String) -> Effect {
        let retry = self.leader.filter(|l| *l != self.index);
        let result = OpResult { retry, ..OpResult::error(OpError::PassedOn { why }) };
        Effect::Send { to: Endpoint::Client(client), payload: Payload::Response { op, result } }
    }

    /// Reads with a token or a lag bound may have to wait or go elsewhere; everything else runs now.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn on_client_read_or_write(
        &mut self,
        now: Micros,
        client: usize,
        op: usize,
        sql: String,
        min_lsn: u64,
        max_lag: Option<Micros>,
        cfg: &NodeConfig,
        out: &mut Vec<Effect>,
    ) {
        if !self.is_leader() && self.role == Role::Follower {
            if min_lsn > self.lsn() {
                // DDIA 5.2 read-your-writes by log position: wait until this replica has the client's write.
                self.vol.follower.held_reads.push((client, op, sql, min_lsn, now));
                out.push(Effect::SetTimer { at: now + TOKEN_WAIT, timer: Timer::HeldReads });
                return;
            }
            if let Some(bound) = max_lag {
                let lag = self.lag_estimate(now);
                if lag > bound {
                    out.push(self.pass_on(
                        client,
                        op,
                        format!("{} is {}ms behind (bound {}ms)", self.id, lag / 1000, bound / 1000),
                    ));
                    return;
                }
            }
        }
        self.on_request(now, client, op, &sql, cfg, out);
    }
}
