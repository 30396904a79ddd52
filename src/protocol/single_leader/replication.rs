//! DDIA 5.1 "Synchronous Versus Asynchronous Replication": the leader's side and the follower's side of the log.
//!
//! The leader executes a client's statement; each committed transaction becomes one log entry with the next LSN and
//! the leader's epoch, and goes at once to every follower that is in step. A follower applies entries strictly in
//! LSN order (early ones wait in a buffer, duplicates are dropped), durably remembers how far it got, and answers
//! with its position. Async mode answers the client after the leader's own commit; sync mode only after every
//! follower confirmed; semi-sync after the one synchronous follower confirmed, and a synchronous follower that goes
//! quiet is replaced by the most up-to-date asynchronous one. Every heartbeat the leader tells each follower its
//! latest LSN and retransmits to a follower that has stalled.

use super::*;

impl Node {
    pub(super) fn leader_tick(&mut self, now: Micros, cfg: &NodeConfig, out: &mut Vec<Effect>) {
        let last = self.lsn();
        let shipping = cfg.method().ships_log();
        let mut targets = self.followers();
        targets.extend(self.downstream(cfg).into_iter().filter(|s| self.subscribers.contains(s)));
        for f in targets {
            if self.vol.leader.transfers.contains_key(&f) {
                continue;
            }
            let p = self.vol.leader.peers.or_default(f);
            // Retransmit to a follower that is behind and has been sent nothing for a while.
            let stalled = now.saturating_sub(p.last_send) >= 2 * cfg.heartbeat;
            if shipping && p.match_lsn < last && stalled {
                p.sent_lsn = p.match_lsn;
                self.send_batch(now, f, out);
            } else {
                out.push(send(f, Payload::Heartbeat { epoch: self.epoch, leader_lsn: last }));
            }
        }
        if cfg.mode == Mode::SemiSync {
            self.check_sync_follower(now, cfg, out);
        }
    }

    /// Semi-sync: replace a synchronous follower that has stopped confirming while writes wait on it.
    pub(super) fn check_sync_follower(&mut self, now: Micros, cfg: &NodeConfig, out: &mut Vec<Effect>) {
        let current = self.vol.leader.sync_follower;
        let silent =
            |p: Option<&PeerProgress>| p.is_none_or(|p| now.saturating_sub(p.last_ack) > cfg.semi_sync_timeout);
        let stuck = match current {
            None => true,
            Some(s) => {
                silent(self.vol.leader.peers.get(&s))
                    && (!self.vol.leader.waiting.is_empty()
                        || self.vol.leader.peers.get(&s).is_none_or(|p| p.match_lsn < self.lsn()))
            }
        };
        if !stuck {
            return;
        }
        let best = self
            .followers()
            .into_iter()
            .filter(|f| Some(*f) != current && !silent(self.vol.leader.peers.get(f)))
            .max_by_key(|f| (self.vol.leader.peers.get(f).map_or(0, |p| p.match_lsn), std::cmp::Reverse(*f)));
        if let Some(b) = best {
            self.vol.leader.sync_follower = Some(b);
            out.push(Effect::Note(Note::SyncFollower { node: b }));
            self.release_confirmed(cfg, out);
        }
    }

    pub(super) fn on_request(
        &mut self,
        now: Micros,
        client: usize,
        op: usize,
        sql: &str,
        cfg: &NodeConfig,
        out: &mut Vec<Effect>,
    ) {
        let reply =
            |result: OpResult| Effect::Send { to: Endpoint::Client(client), payload: Payload::Response { op, result } };
        if !self.is_leader() || self.vol.leader.handing_over.is_some() {
            match Database::is_read_only(sql) {
                Ok(true) => {}
                Ok(false) => {
                    let node = self.id.clone();
                    let why = match self.vol.leader.handing_over {
                        Some(_) => OpError::HandingOver { node },
                        None => OpError::NotLeader { node },
                    };
                    let redirect = self.leader.filter(|l| *l != self.index);
                    out.push(reply(OpResult { redirect, ..OpResult::error(why) }));
                    return;
                }
                Err(e) => {
                    out.push(reply(OpResult::error(OpError::Sql(e.message))));
                    return;
                }
            }
        }
        let local = self.local_time_us(now);
        let mut session = self.vol.sessions.remove(&client).unwrap_or_default();
        // Statement-based replication with substitution: the leader fixes NOW()/RAND()/UUID() to literal values
        // first and executes the fixed text, so followers replaying it compute exactly what the leader did.
        let text = if self.is_leader() && cfg.method().substitutes(cfg.statement_substitution) {
            let mut env = NodeEnv { local_now_us: local, rng: &mut self.rng };
            crate::sql::substitute_nondeterministic(sql, &mut env).unwrap_or_else(|_| sql.to_string())
        } else {
            sql.to_string()
        };
        let mut env = NodeEnv { local_now_us: local, rng: &mut self.rng };
        let result = self.db.execute(&text, &mut session, &mut env);
        self.vol.sessions.insert(client, session);
        match result {
            Err(e) => out.push(reply(OpResult::error(OpError::Sql(e.message)))),
            Ok(mut outcome) => {
                let Some(commit) = outcome.committed.take().filter(|c| !c.changes.is_empty()) else {
                    let served_lsn = Some(self.lsn());
                    out.push(reply(OpResult { served_lsn, ..OpResult::from_outcome(outcome, None) }));
                    return;
                };
                // Sized once: these live as long as the run (in the log entry and the history), and a first push
                // would reserve room for four (a quarter of `replsim run`'s memory went to such spare room).
                let mut keys = Vec::with_capacity(commit.changes.len());
                let mut inserted = Vec::with_capacity(commit.changes.len());
                for c in &commit.changes {
                    match c {
                        RowChange::Insert { table, row } => {
                            if let Some(k) = self.db.primary_key_of(table, row) {
                                let text = if cfg.caches {
                                    let pairs: Vec<String> =
                                        row.iter().map(|(c, v)| format!("{c}={}", value_text(v))).collect();
                                    pairs.join(", ")
                                } else {
                                    String::new()
                                };
                                inserted.push((format!("{table}:{}", value_text(&k)), text));
                                keys.push((self.db.table_key(table), k));
                            }
                        }
                        RowChange::Update { table, key, .. } | RowChange::Delete { table, key } => {
                            keys.push((self.db.table_key(table), key.clone()))
                        }
                        RowChange::Ddl { .. } => {}
                    }
                }
                let lsn = self.lsn() + 1;
                // The bytes this transaction wrote to pages: what WAL shipping sends. Other methods leave the pages
                // to the next checkpoint (`flush_pages`), as a database leaves dirty pages in its buffer pool.
                let pages = if cfg.method().pages_are_the_log() { self.db.take_page_writes() } else { Vec::new() };
                let committed = Committed {
                    statements: &commit.statements,
                    changes: &commit.changes,
                    ends: &commit.ends,
                    pages,
                    format: self.db.storage_format(),
                };
                let record = cfg.method().encode(committed);
                let entry =
                    Rc::new(LogEntry { lsn, epoch: self.epoch, record, origin: Some(op), keys, committed_at: now });
                self.append(entry.clone(), cfg);
                out.push(Effect::Note(Note::WriteCommitted { op, lsn }));
                if cfg.method().captures_changes() {
                    // The log stays on the leader: triggers have already queued the changes for the replicator.
                    self.note_captures(&commit.changes, op);
                    if commit.changes.iter().any(|c| matches!(c, RowChange::Ddl { .. })) {
                        self.capture_new_tables(&cfg.trigger);
                    }
                }
                out.extend(self.ship_in_step(entry, now, cfg));
                let result = OpResult { inserted, ..OpResult::from_outcome(outcome, Some(lsn)) };
                if self.confirmed(lsn, cfg.mode) {
                    out.push(reply(result));
                } else {
                    self.vol.leader.waiting.push(Waiting { client, op, lsn, result });
                }
            }
        }
    }

    /// Ship a just-appended entry at once to every follower (and CDC consumer) that is in step with the log
    /// (pipelining); the others get it when they catch up.
    pub(super) fn ship_in_step(&mut self, entry: Rc<LogEntry>, now: Micros, cfg: &NodeConfig) -> Vec<Effect> {
        let lsn = entry.lsn;
        let mut out = Vec::new();
        let batch: Rc<[Rc<LogEntry>]> = Rc::new([entry]);
        for f in self.downstream(cfg) {
            let p = self.vol.leader.peers.or_default(f);
            if p.sent_lsn + 1 == lsn {
                p.sent_lsn = lsn;
                p.last_send = now;
                let prev_epoch = self.epoch_at(lsn - 1).unwrap_or(0);
                let payload =
                    Payload::Replicate { epoch: self.epoch, entries: batch.clone(), leader_lsn: lsn, prev_epoch };
                out.push(send(f, payload));
            }
        }
        out
    }

    /// Append to the durable log, dropping the oldest entries beyond the retention limit.
    pub(super) fn append(&mut self, entry: Rc<LogEntry>, cfg: &NodeConfig) {
        if let Some(o) = entry.origin {
            self.origins.insert(o, ());
        }
        self.log.push_back(entry);
        while self.log.len() as u64 > cfg.log_retention {
            if let Some(e) = self.log.pop_front() {
                self.base_lsn = e.lsn;
                self.base_epoch = e.epoch;
            }
        }
    }

    /// Has `lsn` reached enough followers for this mode to acknowledge the client?
    pub(super) fn confirmed(&self, lsn: u64, mode: Mode) -> bool {
        let has = |f: &usize| self.vol.leader.peers.get(f).is_some_and(|p| p.match_lsn >= lsn);
        match mode {
            Mode::Async => true,
            Mode::Sync => self.followers().iter().all(has),
            Mode::SemiSync => self.vol.leader.sync_follower.as_ref().is_none_or(has),
        }
    }

    pub(super) fn release_confirmed(&mut self, cfg: &NodeConfig, out: &mut Vec<Effect>) {
        if self.vol.leader.waiting.is_empty() {
            return;
        }
        let waiting = std::mem::take(&mut self.vol.leader.waiting);
        for w in waiting {
            if self.confirmed(w.lsn, cfg.mode) {
                out.push(Effect::Send {
                    to: Endpoint::Client(w.client),
                    payload: Payload::Response { op: w.op, result: w.result },
                });
            } else {
                self.vol.leader.waiting.push(w);
            }
        }
    }

    pub(super) fn on_ack(&mut self, now: Micros, f: usize, lsn: u64, cfg: &NodeConfig, out: &mut Vec<Effect>) {
        let last = self.lsn();
        let p = self.vol.leader.peers.or_default(f);
        p.match_lsn = p.match_lsn.max(lsn.min(last));
        p.last_ack = now;
        // Catching up: the follower has everything we sent, and more is waiting (log shipping only).
        if p.match_lsn >= p.sent_lsn && p.sent_lsn < last && cfg.method().ships_log() {
            self.send_batch(now, f, out);
        }
        self.release_confirmed(cfg, out);
        if let Some(target) = self.vol.leader.handing_over {
            if target == f && self.vol.leader.peers.get(&f).is_some_and(|p| p.match_lsn >= self.lsn()) {
                // Planned failover: the successor has everything; hand over and follow it.
                let epoch = self.epoch + 1;
                out.push(send(f, Payload::Promote { epoch }));
                self.step_down(epoch, Some(f), "handed leadership over (planned failover)".into(), out);
            }
        }
    }

    pub(super) fn send_batch(&mut self, now: Micros, f: usize, out: &mut Vec<Effect>) {
        let last = self.lsn();
        let Some(p) = self.vol.leader.peers.get_mut(&f) else { return };
        if p.sent_lsn < self.base_lsn {
            // What the follower needs next is no longer retained.
            out.push(send(f, Payload::NeedSnapshot { epoch: self.epoch }));
            p.last_send = now;
            return;
        }
        let from = p.sent_lsn.min(last);
        let to = (from + CATCH_UP_BATCH as u64).min(last);
        if to <= from {
            return;
        }
        p.sent_lsn = to;
        p.last_send = now;
        p.last_batch = Some((from, now));
        let entries: Rc<[Rc<LogEntry>]> = (from + 1..=to).filter_map(|l| self.entry(l).cloned()).collect();
        let prev_epoch = self.epoch_at(from).unwrap_or(0);
        out.push(send(f, Payload::Replicate { epoch: self.epoch, entries, leader_lsn: last, prev_epoch }));
    }

    pub(super) fn on_replica_message(
        &mut self,
        now: Micros,
        n: usize,
        payload: Payload,
        cfg: &NodeConfig,
        out: &mut Vec<Effect>,
    ) {
        match payload {
            Payload::Replicate { epoch, entries, leader_lsn, prev_epoch } => {
                if !self.accept_leader(now, n, epoch, cfg, out) || self.is_leader() {
                    return;
                }
                self.vol.follower.leader_lsn_seen = self.vol.follower.leader_lsn_seen.max(leader_lsn);
                let copying = matches!(self.joining, Some(Joining::Snapshot { .. } | Joining::FileCopy { .. }));
                let mut prev = prev_epoch;
                for e in entries.iter().cloned() {
                    // Changes that arrive during a copy wait until it is installed.
                    if copying || e.lsn > self.lsn() {
                        let next_prev = e.epoch;
                        self.vol.follower.buffer.entry(e.lsn).or_insert((after(now, self.apply_delay), e, prev));
                        prev = next_prev;
                    } else {
                        prev = e.epoch;
                    }
                }
                if copying {
                    return;
                }
                self.apply_ready(now, cfg, out);
                out.push(send(n, Payload::Ack { epoch: self.epoch, lsn: self.lsn() }));
            }
            Payload::Heartbeat { epoch, leader_lsn } => {
                if !self.accept_leader(now, n, epoch, cfg, out) || self.is_leader() {
                    return;
                }
                self.vol.follower.leader_lsn_seen = self.vol.follower.leader_lsn_seen.max(leader_lsn);
                let ahead = leader_lsn < self.lsn() && self.last_epoch() < epoch && self.joining.is_none();
                let asked_lately =
                    self.vol.follower.fetched_at.is_some_and(|t| now.saturating_sub(t) < 2 * cfg.heartbeat);
                if cfg.failover.epochs && ahead && !asked_lately {
                    // This follower holds entries of an older epoch past its leader's end: a deposed leader's
                    // unreplicated tail whose "diverged" answer was lost. Ask again (no more than once in two
                    // heartbeats), so that the leader compares logs; an acknowledgement of an LSN the leader never
                    // wrote would tell it nothing.
                    self.vol.follower.fetched_at = Some(now);
                    out.push(send(n, self.fetch()));
                } else if self.joining.is_none() || self.joining == Some(Joining::CatchingUp) {
                    out.push(send(n, Payload::Ack { epoch: self.epoch, lsn: self.lsn() }));
                }
                self.check_caught_up(out);
                self.update_lag(now);
            }
            Payload::Ack { epoch, lsn } if self.is_leader() => {
                if cfg.failover.epochs && epoch > self.epoch {
                    self.step_down(epoch, None, format!("a follower is in newer epoch {epoch}"), out);
                    return;
                }
                self.on_ack(now, n, lsn, cfg, out);
            }
            Payload::Fetch { after_lsn, last_epoch, .. } if self.is_leader() => {
                self.on_fetch(now, n, after_lsn, last_epoch, cfg, out)
            }
            Payload::Rejected { epoch, leader } if self.is_leader() && cfg.failover.epochs && epoch > self.epoch => {
                let reason = format!("a replica knows newer epoch {epoch}: this node was replaced");
                self.step_down(epoch, leader, reason, out);
                if let Some(l) = leader {
                    self.vol.follower.fetched_at = Some(now);
                    out.push(send(l, self.fetch()));
                }
            }
            Payload::Diverged { epoch, keep_lsn } => {
                if !self.accept_leader(now, n, epoch, cfg, out) {
                    return;
                }
                let ops: Vec<usize> = self.log.iter().filter(|e| e.lsn > keep_lsn).filter_map(|e| e.origin).collect();
                out.push(Effect::Note(Note::Discarded { from_lsn: keep_lsn + 1, to_lsn: self.lsn(), ops }));
                // Rebuilding from the new leader's snapshot replaces the discarded state wholesale.
                self.join_by_snapshot(now, n, out);
            }
            Payload::NeedSnapshot { epoch } => {
                // A node already rebuilding from a snapshot keeps at it; epoch rules still apply to the others.
                let rebuilding = matches!(self.joining, Some(Joining::Snapshot { .. }));
                if !rebuilding && self.accept_leader(now, n, epoch, cfg, out) {
                    self.join_by_snapshot(now, n, out);
                }
            }
            Payload::SnapshotRequest { .. } if self.is_leader() => self.start_transfer(now, n, false, out),
            Payload::CopyRequest if self.is_leader() => self.start_transfer(now, n, true, out),
            Payload::SnapshotChunk { epoch, part, total, snapshot } => {
                if !self.accept_leader(now, n, epoch, cfg, out) || self.is_leader() {
                    return;
                }
                self.on_snapshot_chunk(now, n, part, total, snapshot, cfg, out);
            }
            Payload::CopyChunk { part, total, schema, rows, lsn } => {
                self.on_copy_chunk(now, n, part, total, schema, rows, lsn, cfg, out)
            }
            Payload::VoteRequest { epoch, last_lsn, last_epoch } => {
                self.on_vote_request(now, n, epoch, last_lsn, last_epoch, cfg, out)
            }
            Payload::PollChanges { after, limit } if self.is_leader() && cfg.method().captures_changes() => {
                out.push(self.serve_poll(now, n, after, limit, cfg))
            }
            Payload::PollChanges { .. } => {
                // Not the leader: say who is (the replicator asks around when its leader has gone quiet).
                if let Some(l) = self.leader.filter(|l| *l != self.index) {
                    out.push(send(n, Payload::Announce { leader: l, epoch: self.leader_epoch }));
                }
            }
            Payload::PurgeChanges { upto } if self.is_leader() => self.purge_changes(now, upto),
            Payload::ApplyChanges { changes, leader_lsn, complete, era, base } if self.follows() => {
                self.apply_changes(n, &changes, leader_lsn, complete, era, base, out)
            }
            Payload::TargetCopyRequest if self.is_leader() && cfg.method().captures_changes() => {
                out.push(self.serve_copy(now, n, cfg))
            }
            Payload::TargetCopy { copy } if self.follows() => self.install_copy(n, &copy, out),
            Payload::Vote { epoch, granted } => {
                if self.vol.candidate.candidate && epoch == self.epoch && granted {
                    self.vol.candidate.votes.insert(n, ());
                    if self.vol.candidate.votes.len() >= self.majority() {
                        self.become_leader(now, cfg, out);
                    }
                } else if epoch > self.epoch && cfg.failover.epochs {
                    self.step_down(epoch, None, format!("newer epoch {epoch}"), out);
                }
            }
            Payload::Promote { epoch }
                if self.role == Role::Follower && (!cfg.failover.epochs || epoch > self.epoch) =>
            {
                self.epoch = epoch.max(self.epoch);
                self.become_leader(now, cfg, out);
            }
            Payload::Announce { leader, epoch }
                if leader != self.index && (!cfg.failover.epochs || epoch >= self.epoch) =>
            {
                if self.is_leader() {
                    if !cfg.failover.epochs {
                        return;
                    }
                    self.step_down(epoch, Some(leader), format!("the controller appointed node {leader}"), out);
                }
                self.epoch = self.epoch.max(epoch);
                self.leader = Some(leader);
                self.leader_epoch = self.epoch;
                self.vol.follower.last_heard_leader = now;
                out.push(send(leader, self.fetch()));
            }
            _ => {}
        }
    }

    /// Apply buffered entries in LSN order while the next one is present and ready.
    pub(super) fn apply_ready(&mut self, now: Micros, cfg: &NodeConfig, out: &mut Vec<Effect>) {
        if self.status == Status::Halted {
            return;
        }
        while let Some((ready_at, _, prev_epoch)) = self.vol.follower.buffer.get(&(self.lsn() + 1)) {
            if *ready_at > now {
                out.push(Effect::SetTimer { at: *ready_at, timer: Timer::ApplyReady });
                return;
            }
            if cfg.failover.epochs && *prev_epoch != self.last_epoch() {
                // The leader's log and ours disagree just before this entry: ask the leader to sort it out.
                self.vol.follower.buffer.clear();
                if let Some(l) = self.leader {
                    out.push(send(l, self.fetch()));
                }
                return;
            }
            let Some((_, entry, _)) = self.vol.follower.buffer.remove(&(self.lsn() + 1)) else { return };
            let applied = if self.role == Role::Cdc {
                self.cdc_apply(&entry.record)
            } else {
                let mut env = NodeEnv { local_now_us: self.local_time_us(now), rng: &mut self.rng };
                cfg.method().apply(&mut self.db, &entry.record, &mut env)
            };
            if let Err(e) = applied {
                let error = format!("replication stopped at lsn {}: {}", entry.lsn, e.message);
                if let crate::log_methods::LogRecord::Wal { format, .. } = &entry.record {
                    if *format != self.storage_format {
                        self.halted_on_format = Some((*format, self.storage_format));
                    }
                }
                self.status = Status::Halted;
                self.halt_error = Some(error.clone());
                out.push(Effect::Note(Note::Halted { error }));
                return;
            }
            let lsn = entry.lsn;
            self.append(entry, cfg);
            out.push(Effect::Note(Note::Applied { lsn }));
        }
        // Drop anything already applied (duplicates).
        let applied = self.lsn();
        self.vol.follower.buffer.retain(|l, _| *l > applied);
        self.check_caught_up(out);
        self.update_lag(now);
        self.release_held_reads(now, cfg, out);
    }

    /// Track since when this follower has been behind what it knows the leader has.
    pub(super) fn update_lag(&mut self, now: Micros) {
        if self.lsn() >= self.vol.follower.leader_lsn_seen {
            self.vol.follower.behind_since = None;
        } else if self.vol.follower.behind_since.is_none() {
            self.vol.follower.behind_since = Some(now);
        }
    }

    /// This follower's replication lag as it can tell it: how long it has known of entries it lacks.
    pub fn lag_estimate(&self, now: Micros) -> Micros {
        self.vol.follower.behind_since.map_or(0, |t| now.saturating_sub(t))
    }
}
