//! Findings of a leaderless run, from the history and each operation's quorum record:
//!
//! - `stale-read`: a read that did not see a write acknowledged before the read began (no version it returned
//!   descends from the write's), or that missed a version an earlier, finished read had already returned. The
//!   detail says whether w + r > n held and which of the chapter's edge cases explains it: quorums that need not
//!   overlap, a sloppy quorum, a write concurrent with the read, a write that failed on some replicas and was not
//!   rolled back, a replica restored from stale data (a restore that took the version from a replica that had it).
//! - `lost-write`: an acknowledged write that no replica still up (running or paused) holds, in its data or as a
//!   hint, at the end of the run.
//! - `conflict`: acknowledged writes of one key that were concurrent (neither writer had seen the other's), and
//!   how they ended: still siblings, merged by a client, or replaced by a write that had seen them all.

use super::*;
use crate::check::{Anomaly, AnomalyKind};
use crate::vecmap::VecMap;
use crate::world::sim::Simulation;
use crate::world::time::to_ms_f64;

/// Every finding of a leaderless run.
pub fn check(sim: &Simulation, cluster: &Cluster) -> Vec<Anomaly> {
    let mut out = stale_reads(sim, cluster);
    out.extend(lost_writes(sim, cluster));
    out.extend(conflicts(sim, cluster));
    out
}

/// Did the versions a read returned (or a replica holds) include `v` or one whose writer had seen it? Causal on
/// purpose: under last write wins a version with a higher timestamp replaces `v` without holding its data.
fn seen(returned: &[Sibling], v: &Sibling) -> bool {
    returned.iter().any(|s| s.saw(v))
}

/// Under last write wins, the acknowledged write whose version beat `v` (dropped it without its writer having seen
/// it), among `candidates`: one `v`'s own writer had read first (the clock-skew case: `v` came causally later and
/// still lost) if any, else the lowest timestamp above `v`'s (that one alone was enough). With whether `v` was
/// causally later.
fn lww_winner<'a>(v: &Sibling, candidates: impl Iterator<Item = &'a Sibling>) -> Option<(&'a Sibling, bool)> {
    v.ts?;
    let beaters: Vec<&Sibling> = candidates.filter(|s| s.beat(v)).collect();
    if let Some(s) = beaters.iter().filter(|s| v.saw(s)).max_by_key(|s| (s.ts, s.dot)) {
        return Some((s, true));
    }
    beaters.into_iter().min_by_key(|s| (s.ts, s.dot)).map(|s| (s, false))
}

/// "write #3 (UPDATE …, timestamp 1767225600.120000 s on n2's clock)": a winner of last write wins, in words.
fn lww_words(sim: &Simulation, cluster: &Cluster, w: &Sibling, loser: &Sibling, later: bool) -> String {
    let stamp = |s: &Sibling| {
        let by = cluster.names.get(s.dot.0).map_or("?", |n| n.as_ref());
        format!("stamped {} ms by {by}'s clock", to_ms_f64_signed(s.ts.unwrap_or(0)))
    };
    let why = if later {
        format!(
            "the lost write was causally later (its writer had read #{} first), but its coordinator's clock was behind: clock skew",
            w.op
        )
    } else {
        "neither writer had seen the other's version".to_string()
    };
    format!(
        "concurrent writes resolved by last write wins: write #{} ({}, {}) beat write #{} ({}); {why}",
        w.op,
        sim.history[w.op].sql,
        stamp(w),
        loser.op,
        stamp(loser)
    )
}

/// A last-write-wins timestamp as milliseconds of the run (0: the run's start by the true clock; a clock that runs
/// behind can read below 0).
fn to_ms_f64_signed(ts: i64) -> f64 {
    (ts - crate::protocol::single_leader::EPOCH_BASE_US) as f64 / 1000.0
}

/// The versions of every acknowledged write of `key`.
fn acked_versions<'a>(sim: &'a Simulation, cluster: &'a Cluster, key: &'a Key) -> impl Iterator<Item = &'a Sibling> {
    cluster
        .records
        .iter()
        .filter(move |(op, r)| r.write && &r.key == key && sim.history.get(**op).is_some_and(HistoryEntry::ok))
        .filter_map(|(_, r)| r.written.as_ref())
}

pub fn stale_reads(sim: &Simulation, cluster: &Cluster) -> Vec<Anomaly> {
    let spec = &cluster.spec;
    // Writes by the time they were acknowledged, reads by the time they ended: each read is checked against the
    // frontier of what had been acknowledged (or returned) before it began, the versions no other of them
    // supersedes. Seeing a frontier version means seeing every version it superseded, so the check stays linear.
    let mut writes: Vec<(Micros, usize, &OpRecord, &Sibling)> = sim
        .history
        .iter()
        .enumerate()
        .filter(|(_, h)| h.ok())
        .filter_map(|(i, h)| {
            let r = cluster.records.get(&i).filter(|r| r.write)?;
            Some((h.end?, i, r, r.written.as_ref()?))
        })
        .collect();
    crate::sql::sort_stable_by(&mut writes, |a, b| (a.0, a.1).cmp(&(b.0, b.1)));
    let reads: Vec<(usize, &HistoryEntry, &OpRecord)> = sim
        .history
        .iter()
        .enumerate()
        .filter(|(_, h)| h.ok())
        .filter_map(|(i, h)| cluster.records.get(&i).filter(|r| !r.write).map(|r| (i, h, r)))
        .collect();
    let mut by_end: Vec<(Micros, usize, &OpRecord)> =
        reads.iter().filter_map(|(i, h, r)| Some((h.end?, *i, *r))).collect();
    crate::sql::sort_stable_by(&mut by_end, |a, b| (a.0, a.1).cmp(&(b.0, b.1)));
    let (mut acked, mut returned): (Frontiers, Frontiers) = (BTreeMap::new(), BTreeMap::new());
    let (mut next_write, mut next_read) = (0, 0);
    let mut out = Vec::new();
    for (ri, read, rec) in reads {
        while let Some((_, wi, wr, v)) = writes.get(next_write).filter(|w| w.0 < read.start) {
            add(acked.entry(wr.key.clone()).or_default(), v, *wi);
            next_write += 1;
        }
        while let Some((_, pi, pr)) = by_end.get(next_read).filter(|p| p.0 < read.start) {
            for v in &pr.returned {
                add(returned.entry(pr.key.clone()).or_default(), v, *pi);
            }
            next_read += 1;
        }
        // 1. An acknowledged write that ended before the read began, not seen.
        let missed = acked.get(&rec.key).and_then(|f| f.iter().find(|(v, _)| !seen(&rec.returned, v)));
        let until = read.end.unwrap_or(Micros::MAX);
        if let Some((v, wi)) = missed {
            let (wi, w, wr) = (*wi, &sim.history[*wi], &cluster.records[wi]);
            let restored = wr.answered.iter().find_map(|a| cluster.restore_lost(*a, &rec.key, v, w.start, until));
            // The w and r these two operations ran with (a timed quorum change may have moved them since).
            let (held, strict) = quorum_words(wr.needed, rec.needed, rec.home.len());
            let lww = lww_winner(v, acked_versions(sim, cluster, &rec.key).filter(|s| seen(&rec.returned, s)));
            let cause = if let Some((winner, later)) = lww {
                lww_words(sim, cluster, winner, v, later)
            } else if !held {
                "the read's replicas and the write's happened not to overlap".to_string()
            } else if let Some(r) = restored {
                restore_cause(cluster, r)
            } else if !wr.hinted.is_empty() {
                let f: Vec<String> = wr
                    .hinted
                    .iter()
                    .map(|(f, h)| format!("{} for {}", cluster.nodes[*f].id, cluster.nodes[*h].id))
                    .collect();
                format!(
                    "sloppy quorum: the write was acknowledged by fallback nodes outside the key's home replicas \
                     ({}), and the read asked the home replicas",
                    f.join(", ")
                )
            } else {
                "the replicas that acknowledged the write did not answer this read, and no other had it yet".to_string()
            };
            out.push(Anomaly {
                kind: AnomalyKind::StaleRead,
                detail: format!(
                    "read #{ri} of {} did not see write #{wi} ({}), acknowledged at {} ms before the read began; {strict}; {cause}",
                    rec.key.label(),
                    w.sql,
                    to_ms_f64(w.end.unwrap_or(0)),
                ),
                ops: vec![wi, ri],
            });
            continue;
        }
        // 2. A version an earlier finished read returned, missing now.
        let earlier = returned.get(&rec.key).and_then(|f| f.iter().find(|(v, _)| !seen(&rec.returned, v)));
        if let Some((v, pi)) = earlier {
            let (pi, wop) = (*pi, v.op);
            let w = &sim.history[wop];
            let restored = (0..cluster.nodes.len()).find_map(|n| cluster.restore_lost(n, &rec.key, v, 0, until));
            let w_of = cluster.records.get(&wop).map_or(spec.w, |r| r.needed);
            let (_, strict) = quorum_words(w_of, rec.needed, rec.home.len());
            let lww = lww_winner(v, rec.returned.iter());
            let cause = if let Some((winner, later)) = lww {
                lww_words(sim, cluster, winner, v, later)
            } else if let Some(r) = restored {
                restore_cause(cluster, r)
            } else if w.end.is_some() && !w.ok() {
                format!(
                    "a write that failed on some replicas and was not rolled back (#{wop}, {}): read #{pi} saw it on a \
                     replica that stored it, this read asked others",
                    w.sql
                )
            } else {
                format!(
                    "a write concurrent with the reads (#{wop}, {}): it had reached some replicas only, read #{pi} \
                     asked one of them and this read did not",
                    w.sql
                )
            };
            out.push(Anomaly {
                kind: AnomalyKind::StaleRead,
                detail: format!(
                    "read #{ri} of {} returned older data than read #{pi}, which ended before it began; {strict}; {cause}",
                    rec.key.label()
                ),
                ops: vec![pi, ri, wop],
            });
        }
    }
    out
}

/// Whether w + r > n held for a write and a read, and the words for it.
fn quorum_words(w: usize, r: usize, n: usize) -> (bool, String) {
    if w + r > n {
        (true, format!("w + r > n held ({w} + {r} > {n})"))
    } else {
        (false, format!("w + r > n did not hold ({w} + {r} ≤ {n}): read and write quorums need not overlap"))
    }
}

/// The edge case of a replica restored from stale data, in words.
fn restore_cause(cluster: &Cluster, r: &Restore) -> String {
    format!(
        "a replica restored from stale data: {} had stored the write, crashed, and was restored at {} ms from {}'s \
         copy, which did not have it, so fewer replicas than the quorum counted on still held it",
        cluster.nodes[r.node].id,
        to_ms_f64(r.at),
        cluster.nodes[r.from].id
    )
}

/// Per key, the versions no other of them supersedes, each with the operation it came from.
type Frontiers = BTreeMap<Key, Vec<(Sibling, usize)>>;

fn add(front: &mut Vec<(Sibling, usize)>, v: &Sibling, op: usize) {
    if front.iter().any(|(f, _)| f.saw(v)) {
        return;
    }
    front.retain(|(f, _)| !v.saw(f));
    front.push((v.clone(), op));
}

/// Was `v` replaced along a chain of writes whose writers had each seen the one before, down to a version still
/// held? Then it was overwritten on purpose, not lost. (A vector does not always carry its writer's whole past: a
/// client that coordinates its own writes numbers them with one counter, so its blind write covers the client's
/// earlier writes but not the versions those had replaced.)
fn overwritten_knowingly(cluster: &Cluster, key: &Key, v: &Sibling, held: &[Sibling]) -> bool {
    let written: Vec<&Sibling> =
        cluster.records.values().filter(|r| r.key == *key).filter_map(|r| r.written.as_ref()).collect();
    let mut reached = vec![v];
    let mut i = 0;
    while let Some(&x) = reached.get(i) {
        if seen(held, x) {
            return true;
        }
        for w in &written {
            if w.saw(x) && !reached.iter().any(|r| r.dot == w.dot) {
                reached.push(w);
            }
        }
        i += 1;
    }
    false
}

pub fn lost_writes(sim: &Simulation, cluster: &Cluster) -> Vec<Anomaly> {
    let mut out = Vec::new();
    for (wi, w) in sim.history.iter().enumerate() {
        let Some(rec) = cluster.records.get(&wi).filter(|r| r.write && w.ok()) else { continue };
        let Some(v) = &rec.written else { continue };
        let holds = |n: &Replica| seen(&n.versions_of(&rec.key), v);
        // A paused replica still has its data; a crashed one cannot give it to anyone.
        let up = |n: &&Replica| matches!(n.status, Status::Running | Status::Paused);
        let held: Vec<Sibling> = cluster.nodes.iter().filter(up).flat_map(|n| n.versions_of(&rec.key)).collect();
        if seen(&held, v) || overwritten_knowingly(cluster, &rec.key, v, &held) {
            continue;
        }
        let down: Vec<&str> = cluster.nodes.iter().filter(|n| !up(n) && holds(n)).map(|n| n.id.as_str()).collect();
        let mut lww_op = None;
        let why = if let Some((winner, later)) = lww_winner(v, acked_versions(sim, cluster, &rec.key)) {
            let mut w = lww_words(sim, cluster, winner, v, later);
            if !held.iter().any(|s| s.saw(winner)) {
                w.push_str(" (and a later write has since replaced the winner too)");
            }
            lww_op = Some(winner.op);
            format!("discarded: {w}")
        } else if down.is_empty() {
            "no replica holds it".to_string()
        } else {
            format!("only {} hold(s) it, and they are down", down.join(", "))
        };
        let sloppy = if rec.hinted.is_empty() { "" } else { " (acknowledged by a sloppy quorum's fallbacks)" };
        out.push(Anomaly {
            kind: AnomalyKind::LostWrite,
            detail: format!(
                "acknowledged write #{wi} of {}{sloppy} is gone at the end of the run: {why}",
                rec.key.label()
            ),
            ops: std::iter::once(wi).chain(lww_op).collect(),
        });
    }
    out
}

pub fn conflicts(sim: &Simulation, cluster: &Cluster) -> Vec<Anomaly> {
    // Acknowledged writes per key in the order they started. An episode is a set of writes linked by concurrency
    // (a write joins the episodes of every earlier write it had not seen, whether or not a later write has
    // replaced that one since), so the grouping does not depend on which of two writes started first. A write
    // that supersedes every newest version of an episode resolves it.
    let mut per_key: BTreeMap<&Key, Vec<(usize, &Sibling)>> = BTreeMap::new();
    for (op, r) in &cluster.records {
        if let (true, Some(v), true) = (r.write, r.written.as_ref(), sim.history.get(*op).is_some_and(HistoryEntry::ok))
        {
            per_key.entry(&r.key).or_default().push((*op, v));
        }
    }
    fn root(parent: &mut [usize], mut e: usize) -> usize {
        while parent[e] != e {
            parent[e] = parent[parent[e]];
            e = parent[e];
        }
        e
    }
    let mut out = Vec::new();
    for (key, writes) in per_key {
        // Union-find over the key's writes (indices into `writes`); per root, its size and what resolved it.
        let mut parent: Vec<usize> = (0..writes.len()).collect();
        let mut size: Vec<usize> = vec![1; writes.len()];
        let mut resolved: Vec<Option<usize>> = vec![None; writes.len()];
        // Earlier writes per actor of their dot, by counter. A write has not seen exactly those whose counter is
        // above its context's entry for that actor (an earlier write cannot have seen a later one). Once a run of
        // them is linked into one episode, only its newest is kept: linking to it links to all (so each write is
        // linked individually once, and the pass stays near linear).
        let mut by_actor: VecMap<usize, VecMap<u64, usize>> = VecMap::new();
        // The key's newest versions (no later write superseded them), with their write's index.
        let mut front: Vec<(&Sibling, usize)> = Vec::new();
        for (i, (op, v)) in writes.iter().enumerate() {
            let mut linked: Vec<usize> = Vec::new();
            for (actor, m) in by_actor.iter_mut() {
                let seen = v.vv.get(actor).copied().unwrap_or(0);
                let unseen: Vec<u64> = m.from(&seen.saturating_add(1)).map(|(c, _)| *c).collect();
                if let Some((newest, rest)) = unseen.split_last() {
                    linked.extend(unseen.iter().map(|c| m[c]));
                    for c in rest {
                        m.remove(c);
                    }
                    debug_assert!(m.contains_key(newest));
                }
            }
            let linked_roots: Vec<usize> = linked.iter().map(|x| root(&mut parent, *x)).collect();
            // Episodes whose every newest version this write supersedes are resolved by it.
            let front_roots: Vec<usize> = front.iter().map(|(_, y)| root(&mut parent, *y)).collect();
            for (k, (f, _)) in front.iter().enumerate() {
                let e = front_roots[k];
                if !v.saw(f) || front_roots[..k].contains(&e) {
                    continue; // Not superseded, or this episode was looked at already.
                }
                let all = front.iter().zip(&front_roots).filter(|(_, r)| **r == e).all(|((g, _), _)| v.saw(g));
                if all && size[e] > 1 && resolved[e].is_none() && !linked_roots.contains(&e) {
                    resolved[e] = Some(*op);
                }
            }
            for r in linked_roots {
                let (a, b) = (root(&mut parent, r), root(&mut parent, i));
                if a != b {
                    parent[a] = b;
                    size[b] += size[a];
                }
                // A new concurrent write reopens the episode.
                resolved[b] = None;
            }
            by_actor.or_default(v.dot.0).insert(v.dot.1, i);
            front.retain(|(f, _)| !v.saw(f));
            front.push((v, i));
        }
        // Episodes of more than one write, in the order of their first write.
        let mut members: Vec<Vec<usize>> = vec![Vec::new(); writes.len()];
        for i in 0..writes.len() {
            let r = root(&mut parent, i);
            members[r].push(i);
        }
        let mut episodes: Vec<(Vec<usize>, Option<usize>)> = members
            .into_iter()
            .enumerate()
            .filter(|(_, m)| m.len() > 1)
            .map(|(r, m)| (m.iter().map(|i| writes[*i].0).collect(), resolved[r]))
            .collect();
        crate::sql::sort_stable_by(&mut episodes, |a, b| a.0.first().cmp(&b.0.first()));
        let merged_reads: Vec<(usize, &OpRecord)> = cluster
            .records
            .iter()
            .filter(|(_, r)| !r.write && &r.key == key && r.merged.is_some())
            .map(|(op, r)| (*op, r))
            .collect();
        for (mut involved, resolved) in episodes {
            crate::sql::sort_values(&mut involved);
            let merged_read = merged_reads
                .iter()
                .find(|(_, r)| r.returned.iter().filter(|s| involved.binary_search(&s.op).is_ok()).count() > 1);
            let siblings = cluster
                .nodes
                .iter()
                .map(|n| {
                    n.data.get(key).map_or(0, |s| s.iter().filter(|v| involved.binary_search(&v.op).is_ok()).count())
                })
                .max()
                .unwrap_or(0);
            // Last write wins: the episode's highest timestamp is all the replicas keep of it.
            let lww_kept = cluster.spec.lww().then(|| {
                involved.iter().filter_map(|op| cluster.records.get(op)?.written.as_ref()).max_by_key(|s| (s.ts, s.dot))
            });
            let how = match (resolved, merged_read, lww_kept.flatten()) {
                (None, _, Some(kept)) => {
                    let dropped: Vec<String> =
                        involved.iter().filter(|op| **op != kept.op).map(|op| format!("#{op}")).collect();
                    format!(
                        "discarded by last write wins: every replica keeps only #{kept_op} (the highest timestamp, stamped {} ms \
                         by {}'s clock); {} silently lost",
                        to_ms_f64_signed(kept.ts.unwrap_or(0)),
                        cluster.names.get(kept.dot.0).map_or("?", |n| n.as_ref()),
                        dropped.join(", "),
                        kept_op = kept.op,
                    )
                }
                (r, m, _) => match (r, m) {
                (Some(op), Some((rop, r))) => format!(
                    "merged: read #{rop} merged the siblings ({} union) and write #{op} stored the result, replacing them",
                    r.merged.clone().unwrap_or_default()
                ),
                (Some(op), None) => format!("resolved: write #{op} had read every sibling and replaced them"),
                (None, Some((rop, r))) if siblings > 1 => format!(
                    "siblings: {siblings} versions remain on the replicas; read #{rop} merged them in the application ({} \
                     union), but no write has stored the merge yet",
                    r.merged.clone().unwrap_or_default()
                ),
                (None, _) if siblings > 1 => format!("siblings: {siblings} versions of the key remain side by side"),
                (None, _) => "one of them replaced the other on every replica".to_string(),
                },
            };
            const NAMED: usize = 6;
            let mut names: Vec<String> =
                involved.iter().take(NAMED).map(|op| format!("#{op} ({})", sim.history[*op].sql)).collect();
            if involved.len() > NAMED {
                names.push(format!("and {} more", involved.len() - NAMED));
            }
            let mut ops = involved.clone();
            ops.extend(resolved);
            out.push(Anomaly {
                kind: AnomalyKind::Conflict,
                detail: format!(
                    "concurrent writes to {}: {} (neither writer had seen the other's version); {how}",
                    key.label(),
                    names.join(", ")
                ),
                ops,
            });
        }
    }
    out
}
