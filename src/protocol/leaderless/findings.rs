//! Findings of a leaderless run, from the history and each operation's quorum record:
//!
//! - `stale-read`: a read that did not see a write acknowledged before the read began (no version it returned
//!   descends from the write's), or that missed a version an earlier, finished read had already returned. The
//!   detail says whether w + r > n held and which of the chapter's edge cases explains it: quorums that need not
//!   overlap, a sloppy quorum, a write concurrent with the read, a write that failed on some replicas and was not
//!   rolled back.
//! - `lost-write`: an acknowledged write that no replica still up (running or paused) holds, in its data or as a
//!   hint, at the end of the run.
//! - `conflict`: acknowledged writes of one key that were concurrent (neither writer had seen the other's), and
//!   how they ended: still siblings, merged by a client, or replaced by a write that had seen them all.

use super::*;
use crate::check::{Anomaly, AnomalyKind};
use crate::world::sim::Simulation;
use crate::world::time::to_ms_f64;

fn ended(h: &HistoryEntry) -> Option<Micros> {
    h.end
}

/// Every finding of a leaderless run.
pub fn check(sim: &Simulation, cluster: &Cluster) -> Vec<Anomaly> {
    let mut out = stale_reads(sim, cluster);
    out.extend(lost_writes(sim, cluster));
    out.extend(conflicts(sim, cluster));
    out
}

/// Did the versions a read returned (or a replica holds) include `v` or one whose writer had seen it?
fn seen(returned: &[Sibling], v: &Sibling) -> bool {
    returned.iter().any(|s| s.supersedes(v))
}

pub fn stale_reads(sim: &Simulation, cluster: &Cluster) -> Vec<Anomaly> {
    let spec = &cluster.spec;
    let strict = if spec.strict() {
        format!("w + r > n held ({} + {} > {})", spec.w, spec.r, spec.n)
    } else {
        format!(
            "w + r > n did not hold ({} + {} ≤ {}): read and write quorums need not overlap",
            spec.w, spec.r, spec.n
        )
    };
    let mut out = Vec::new();
    for (ri, read) in sim.history.iter().enumerate() {
        let Some(rec) = cluster.records.get(&ri).filter(|r| !r.write && read.ok()) else { continue };
        // 1. An acknowledged write that ended before the read began, not seen.
        let missed = sim.history.iter().enumerate().find(|(wi, w)| {
            w.ok()
                && ended(w).is_some_and(|e| e < read.start)
                && cluster.records.get(wi).is_some_and(|wr| {
                    wr.write && wr.key == rec.key && wr.written.as_ref().is_some_and(|v| !seen(&rec.returned, v))
                })
        });
        if let Some((wi, w)) = missed {
            let wr = &cluster.records[&wi];
            let cause = if !spec.strict() {
                "the read's replicas and the write's happened not to overlap".to_string()
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
        let earlier = sim.history.iter().enumerate().find_map(|(pi, p)| {
            let pr = cluster.records.get(&pi).filter(|pr| !pr.write && pr.key == rec.key && p.ok())?;
            if ended(p).is_none_or(|e| e >= read.start) {
                return None;
            }
            let lost = pr.returned.iter().find(|v| !seen(&rec.returned, v))?;
            Some((pi, lost.op))
        });
        if let Some((pi, wop)) = earlier {
            let w = &sim.history[wop];
            let cause = if w.end.is_some() && !w.ok() {
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

pub fn lost_writes(sim: &Simulation, cluster: &Cluster) -> Vec<Anomaly> {
    let mut out = Vec::new();
    for (wi, w) in sim.history.iter().enumerate() {
        let Some(rec) = cluster.records.get(&wi).filter(|r| r.write && w.ok()) else { continue };
        let Some(v) = &rec.written else { continue };
        let holds = |n: &Replica| seen(&n.versions_of(&rec.key), v);
        // A paused replica still has its data; a crashed one cannot give it to anyone.
        let up = |n: &&Replica| matches!(n.status, Status::Running | Status::Paused);
        if cluster.nodes.iter().filter(up).any(holds) {
            continue;
        }
        let down: Vec<&str> = cluster.nodes.iter().filter(|n| !up(n) && holds(n)).map(|n| n.id.as_str()).collect();
        let why = if down.is_empty() {
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
            ops: vec![wi],
        });
    }
    out
}

pub fn conflicts(sim: &Simulation, cluster: &Cluster) -> Vec<Anomaly> {
    let writes: Vec<(usize, &OpRecord)> = cluster
        .records
        .iter()
        .filter(|(op, r)| r.write && r.written.is_some() && sim.history.get(**op).is_some_and(HistoryEntry::ok))
        .map(|(op, r)| (*op, r))
        .collect();
    let mut keys: Vec<&Key> = writes.iter().map(|(_, r)| &r.key).collect();
    keys.sort();
    keys.dedup();
    let mut out = Vec::new();
    for key in keys {
        let of_key: Vec<(usize, &OpRecord)> = writes.iter().filter(|(_, r)| &r.key == key).copied().collect();
        // Concurrent pairs, grouped into episodes: writes linked by concurrency are one conflict.
        let mut groups: Vec<Vec<usize>> = Vec::new();
        let version = |r: &OpRecord| r.written.clone();
        for (i, (a, ra)) in of_key.iter().enumerate() {
            for (b, rb) in &of_key[i + 1..] {
                let (Some(va), Some(vb)) = (version(ra), version(rb)) else { continue };
                if !va.concurrent_with(&vb) {
                    continue;
                }
                let ga = groups.iter().position(|g| g.contains(a));
                let gb = groups.iter().position(|g| g.contains(b));
                match (ga, gb) {
                    (Some(x), Some(y)) if x != y => {
                        let moved = groups.remove(x.max(y));
                        groups[x.min(y)].extend(moved);
                    }
                    (Some(x), None) => groups[x].push(*b),
                    (None, Some(y)) => groups[y].push(*a),
                    (None, None) => groups.push(vec![*a, *b]),
                    _ => {}
                }
            }
        }
        for mut involved in groups {
            involved.sort_unstable();
            let episode: Vec<Sibling> = involved.iter().filter_map(|op| version(&cluster.records[op])).collect();
            // A later write that had seen all of them resolved the conflict.
            let resolved = of_key.iter().find(|(op, r)| {
                !involved.contains(op) && version(r).is_some_and(|v| episode.iter().all(|e| v.supersedes(e)))
            });
            let merged_read = cluster.records.iter().find(|(_, r)| {
                !r.write
                    && &r.key == key
                    && r.merged.is_some()
                    && r.returned.iter().filter(|s| involved.contains(&s.op)).count() > 1
            });
            let siblings = cluster
                .nodes
                .iter()
                .map(|n| n.data.get(key).map_or(0, |s| s.iter().filter(|v| involved.contains(&v.op)).count()))
                .max()
                .unwrap_or(0);
            let how = match (resolved, merged_read) {
                (Some((op, _)), Some((rop, r))) => format!(
                "merged: read #{rop} merged the siblings ({} union) and write #{op} stored the result, replacing them",
                r.merged.clone().unwrap_or_default()
            ),
                (Some((op, _)), None) => format!("resolved: write #{op} had read every sibling and replaced them"),
                (None, Some((rop, r))) if siblings > 1 => format!(
                "siblings: {siblings} versions remain on the replicas; read #{rop} merged them in the application ({} \
                 union), but no write has stored the merge yet",
                r.merged.clone().unwrap_or_default()
            ),
                (None, _) if siblings > 1 => format!("siblings: {siblings} versions of the key remain side by side"),
                (None, _) => "one of them replaced the other on every replica".to_string(),
            };
            let names: Vec<String> = involved.iter().map(|op| format!("#{op} ({})", sim.history[*op].sql)).collect();
            let mut ops = involved.clone();
            if let Some((op, _)) = resolved {
                ops.push(*op);
            }
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
