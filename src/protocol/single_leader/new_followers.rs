//! DDIA 5.1 "Setting Up New Followers".
//!
//! Copying a leader's files while it keeps taking writes gives an inconsistent copy: each chunk shows the data at a
//! different moment, and nothing says where in the log to continue from. The correct way is a consistent snapshot
//! tied to an exact log position: the leader clones its database at an LSN and sends it in chunks; the new follower
//! installs it, asks for every entry after that LSN, applies the backlog, and reports when it has caught up.
//!
//! Under trigger-based replication a new node's data comes from the replicator instead: it asks for an initial copy
//! (the leader's rows of the replicated tables, through their filters, and the change they stand at), installs it,
//! and then applies the changes after that position like every other target (Bucardo's "onetimecopy").

use super::*;

impl Node {
    pub(super) fn start_transfer(&mut self, now: Micros, f: usize, file_copy: bool, out: &mut Vec<Effect>) {
        let rows: usize = self.db.row_count();
        let total = rows.div_ceil(ROWS_PER_CHUNK).max(1) as u32;
        let snapshot = (!file_copy).then(|| {
            Rc::new(Snapshot {
                lsn: self.lsn(),
                last_epoch: self.last_epoch(),
                db: self.db.clone(),
                origins: self.origins.clone(),
                rows,
            })
        });
        let idle = self.vol.leader.transfers.is_empty();
        self.vol.leader.transfers.insert(f, Transfer { snapshot, next: 0, total });
        if idle {
            out.push(Effect::SetTimer { at: now, timer: Timer::SendChunk });
        }
    }

    /// Send the next chunk of every transfer in progress. A snapshot's chunks all come from the copy taken when it
    /// started (consistent, tagged with its LSN); a naive file copy reads the live tables at each chunk.
    pub(super) fn send_chunks(&mut self, now: Micros, out: &mut Vec<Effect>) {
        let targets: Vec<usize> = self.vol.leader.transfers.keys().copied().collect();
        for f in targets {
            let Some(t) = self.vol.leader.transfers.get_mut(&f) else { continue };
            let (part, total) = (t.next, t.total);
            t.next += 1;
            let payload = match &t.snapshot {
                Some(s) => Payload::SnapshotChunk { epoch: self.epoch, part, total, snapshot: s.clone() },
                None => {
                    let schema = (part == 0).then(|| Rc::new(empty_copy(&self.db)));
                    Payload::CopyChunk {
                        part,
                        total,
                        schema,
                        rows: rows_of_page(&self.db, part as usize),
                        lsn: self.lsn(),
                    }
                }
            };
            out.push(send(f, payload));
            if part + 1 >= total {
                self.vol.leader.transfers.remove(&f);
                let last = self.lsn();
                let p = self.vol.leader.peers.or_default(f);
                p.sent_lsn = last;
                p.last_send = now;
            }
        }
        if !self.vol.leader.transfers.is_empty() {
            out.push(Effect::SetTimer { at: now + CHUNK_INTERVAL, timer: Timer::SendChunk });
        }
    }

    pub(super) fn join_by_snapshot(&mut self, now: Micros, leader: usize, out: &mut Vec<Effect>) {
        self.joining = Some(Joining::Snapshot { received: 0, total: 0, lsn: 0 });
        self.vol.follower.snapshot_parts.clear();
        self.vol.follower.snapshot_since = now;
        self.vol.follower.buffer.clear();
        out.push(send(leader, Payload::SnapshotRequest { epoch: self.epoch }));
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn on_snapshot_chunk(
        &mut self,
        now: Micros,
        l: usize,
        part: u32,
        total: u32,
        snap: Rc<Snapshot>,
        cfg: &NodeConfig,
        out: &mut Vec<Effect>,
    ) {
        let Some(Joining::Snapshot { lsn, .. }) = self.joining else { return };
        if lsn != snap.lsn {
            // A new transfer (after a retry) replaces the old one.
            self.vol.follower.snapshot_parts.clear();
        }
        self.vol.follower.snapshot_parts.insert(part, ());
        self.vol.follower.snapshot_since = now;
        let received = self.vol.follower.snapshot_parts.len() as u32;
        self.joining = Some(Joining::Snapshot { received, total, lsn: snap.lsn });
        if received < total {
            return;
        }
        // Install: the database as of the snapshot's LSN, then ask for everything after it. A logical snapshot is
        // written in this node's own storage format.
        self.db = snap.db.clone();
        if self.db.storage_format() != self.storage_format {
            let _ = self.db.upgrade_storage(self.storage_format);
        }
        if self.role == Role::Cdc {
            self.rebuild_search();
        }

        self.log.clear();
        self.base_lsn = snap.lsn;
        self.base_epoch = snap.last_epoch;
        self.origins = snap.origins.clone();
        self.vol.follower.snapshot_parts.clear();
        self.joining = Some(Joining::CatchingUp);
        out.push(Effect::Note(Note::SnapshotInstalled { lsn: snap.lsn }));
        let applied = self.lsn();
        self.vol.follower.buffer.retain(|l, _| *l > applied);
        self.apply_ready(now, cfg, out);
        out.push(send(l, self.fetch()));
        self.check_caught_up(out);
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn on_copy_chunk(
        &mut self,
        now: Micros,
        l: usize,
        part: u32,
        total: u32,
        schema: Option<Rc<Database>>,
        rows: Vec<(String, Vec<(String, Value)>)>,
        leader_lsn: u64,
        cfg: &NodeConfig,
        out: &mut Vec<Effect>,
    ) {
        if !matches!(self.joining, Some(Joining::FileCopy { .. })) {
            return;
        }
        if let Some(s) = schema {
            self.db = (*s).clone();
        }
        self.vol.follower.copy_rows.extend(rows);
        let received = part + 1;
        self.joining = Some(Joining::FileCopy { received, total });
        if received < total {
            return;
        }
        for (table, row) in std::mem::take(&mut self.vol.follower.copy_rows) {
            let _ = self.db.apply_change(&RowChange::Insert { table, row });
        }
        // The copy has no log position of its own: start following from wherever the leader is now. Whatever
        // changed in pages copied earlier is simply missing.
        self.log.clear();
        self.base_lsn = leader_lsn;
        self.base_epoch = self.epoch;
        self.joining = Some(Joining::CatchingUp);
        out.push(Effect::Note(Note::SnapshotInstalled { lsn: leader_lsn }));
        let applied = self.lsn();
        self.vol.follower.buffer.retain(|k, _| *k > applied);
        self.apply_ready(now, cfg, out);
        out.push(send(l, self.fetch()));
    }

    /// Trigger-based replication: a target installs an initial copy: its rows of the replicated tables are replaced, and it continues from the
    /// copy's position. Changes it held that the copy lacks (an old leader's lost writes) are discarded, and said so.
    pub(super) fn install_copy(&mut self, from: usize, copy: &TargetCopy, out: &mut Vec<Effect>) {
        if self.status == Status::Halted || copy.era < self.changes_era {
            return;
        }
        let has_position = self.changes_era != 0 && self.joining.is_none();
        if has_position && copy.era == self.changes_era && copy.seq <= self.applied_seq {
            // A copy this target is already past (a duplicate, or one that crossed with its changes).
            out.push(self.changes_applied(from));
            return;
        }
        let lost: Vec<usize> = self.origins.keys().filter(|o| !copy.origins.contains_key(o)).copied().collect();
        if !lost.is_empty() {
            let first = self.log.iter().find(|e| e.origin.is_some_and(|o| lost.contains(&o))).map(|e| e.lsn);
            let to = self.lsn();
            out.push(Effect::Note(Note::Discarded { from_lsn: first.unwrap_or(to), to_lsn: to, ops: lost }));
        }
        for sql in &copy.schema {
            // A table this node lacks (a new node has no schema yet); one it has stays as it is.
            let _ = self.db.apply_change(&RowChange::Ddl { sql: sql.clone() });
        }
        if let Some(index) = self.search.as_mut() {
            let mut fresh = SearchIndex::new(&index.table, &index.column);
            for (t, row) in &copy.rows {
                if !fresh.covers(t) {
                    continue;
                }
                let key = self.db.primary_key_of(t, row).or_else(|| row.first().map(|(_, v)| v.clone()));
                if let Some(k) = key {
                    fresh.put_row(&k, row);
                }
            }
            *index = fresh;
        } else {
            for t in &copy.tables {
                let _ = self.db.delete_all_rows(t);
            }
            for (t, row) in &copy.rows {
                let _ = self.db.apply_change(&RowChange::Insert { table: t.clone(), row: row.clone() });
            }
        }
        self.applied_seq = copy.seq;
        self.changes_era = copy.era;
        self.origins = copy.origins.clone();
        self.log.clear();
        self.base_lsn = copy.leader_lsn;
        self.base_epoch = copy.era;
        self.vol.follower.leader_lsn_seen = self.vol.follower.leader_lsn_seen.max(copy.leader_lsn);
        out.push(Effect::Note(Note::SnapshotInstalled { lsn: copy.leader_lsn }));
        if self.joining.is_some() {
            self.joining = Some(Joining::CatchingUp);
            self.check_caught_up(out);
        }
        out.push(self.changes_applied(from));
    }

    pub(super) fn check_caught_up(&mut self, out: &mut Vec<Effect>) {
        if self.joining == Some(Joining::CatchingUp) && self.lsn() >= self.vol.follower.leader_lsn_seen {
            self.joining = None;
            out.push(Effect::Note(Note::CaughtUp { lsn: self.lsn() }));
        }
    }

    /// Make this (absent) node a follower joining the cluster led by `leader`.
    pub fn join(&mut self, leader: Option<usize>, epoch: u64, file_copy: bool) {
        self.status = Status::Running;
        self.role = Role::Follower;
        self.leader = leader;
        self.epoch = epoch;
        self.leader_epoch = epoch;
        // No position in any leader's changes yet (trigger-based replication: it waits for an initial copy).
        self.changes_era = 0;
        self.applied_seq = 0;
        self.joining = Some(if file_copy {
            Joining::FileCopy { received: 0, total: 0 }
        } else {
            Joining::Snapshot { received: 0, total: 0, lsn: 0 }
        });
    }
}

/// The tables of a database without their rows: what a file copy's first chunk carries.
fn empty_copy(db: &Database) -> Database {
    let mut copy = db.clone();
    for t in db.table_names() {
        for row in db.rows(&t) {
            if let Some(key) = db.primary_key_of(&t, &row) {
                let _ = copy.apply_change(&RowChange::Delete { table: t.clone(), key });
            }
        }
    }
    copy
}

/// The rows on "page" `page` of the database as it is right now (tables in name order, `ROWS_PER_CHUNK` a page).
fn rows_of_page(db: &Database, page: usize) -> Vec<(String, Vec<(String, Value)>)> {
    db.table_names()
        .into_iter()
        .flat_map(|t| db.rows(&t).into_iter().map(move |r| (t.clone(), r)))
        .skip(page * ROWS_PER_CHUNK)
        .take(ROWS_PER_CHUNK)
        .collect()
}
