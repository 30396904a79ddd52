//! The scenario library: lessons shipped with the playground, each a scenario file from `scenarios/` with a title
//! and an on-screen narration of what to watch and why it happens.

use crate::scenario::Scenario;

pub struct Lesson {
    pub name: &'static str,
    pub json: &'static str,
}

pub const LESSONS: &[Lesson] = &[
    Lesson { name: "basics-async", json: include_str!("../scenarios/basics-async.json") },
    Lesson { name: "follower-catch-up", json: include_str!("../scenarios/follower-catch-up.json") },
    Lesson { name: "partition-heal", json: include_str!("../scenarios/partition-heal.json") },
    Lesson { name: "lossy-network", json: include_str!("../scenarios/lossy-network.json") },
    Lesson { name: "leader-pause", json: include_str!("../scenarios/leader-pause.json") },
    Lesson { name: "sync-blocks", json: include_str!("../scenarios/sync-blocks.json") },
    Lesson { name: "statement-rand", json: include_str!("../scenarios/statement-rand.json") },
    Lesson { name: "semi-sync", json: include_str!("../scenarios/semi-sync.json") },
    Lesson { name: "far-follower", json: include_str!("../scenarios/far-follower.json") },
    Lesson { name: "new-follower-snapshot", json: include_str!("../scenarios/new-follower-snapshot.json") },
    Lesson { name: "new-follower-file-copy", json: include_str!("../scenarios/new-follower-file-copy.json") },
    Lesson { name: "catch-up-needs-snapshot", json: include_str!("../scenarios/catch-up-needs-snapshot.json") },
    Lesson { name: "failover-lost-writes", json: include_str!("../scenarios/failover-lost-writes.json") },
    Lesson { name: "planned-failover", json: include_str!("../scenarios/planned-failover.json") },
    Lesson { name: "controller-failover", json: include_str!("../scenarios/controller-failover.json") },
    Lesson { name: "key-reuse", json: include_str!("../scenarios/key-reuse.json") },
    Lesson { name: "split-brain", json: include_str!("../scenarios/split-brain.json") },
    Lesson { name: "split-brain-epochs", json: include_str!("../scenarios/split-brain-epochs.json") },
    Lesson { name: "split-brain-fencing", json: include_str!("../scenarios/split-brain-fencing.json") },
    Lesson { name: "split-brain-shutdown-both", json: include_str!("../scenarios/split-brain-shutdown-both.json") },
    Lesson { name: "split-brain-shutdown-older", json: include_str!("../scenarios/split-brain-shutdown-older.json") },
    Lesson { name: "timeout-too-short", json: include_str!("../scenarios/timeout-too-short.json") },
    Lesson { name: "timeout-too-long", json: include_str!("../scenarios/timeout-too-long.json") },
    Lesson { name: "timeout-tradeoff", json: include_str!("../scenarios/timeout-tradeoff.json") },
    Lesson { name: "lag-read-your-writes", json: include_str!("../scenarios/lag-read-your-writes.json") },
    Lesson { name: "lag-monotonic-reads", json: include_str!("../scenarios/lag-monotonic-reads.json") },
    Lesson { name: "lag-cross-device", json: include_str!("../scenarios/lag-cross-device.json") },
    Lesson { name: "lag-cross-device-shared", json: include_str!("../scenarios/lag-cross-device-shared.json") },
    Lesson { name: "lag-sticky-failure", json: include_str!("../scenarios/lag-sticky-failure.json") },
    Lesson { name: "lag-consistent-prefix", json: include_str!("../scenarios/lag-consistent-prefix.json") },
    Lesson { name: "lag-consistent-prefix-fixed", json: include_str!("../scenarios/lag-consistent-prefix-fixed.json") },
    Lesson { name: "statement-now", json: include_str!("../scenarios/statement-now.json") },
    Lesson { name: "statement-substitution", json: include_str!("../scenarios/statement-substitution.json") },
    Lesson { name: "statement-mixed", json: include_str!("../scenarios/statement-mixed.json") },
    Lesson { name: "statement-trigger", json: include_str!("../scenarios/statement-trigger.json") },
    Lesson { name: "statement-autoincrement", json: include_str!("../scenarios/statement-autoincrement.json") },
    Lesson { name: "wal-rolling-upgrade", json: include_str!("../scenarios/wal-rolling-upgrade.json") },
    Lesson { name: "logical-rolling-upgrade", json: include_str!("../scenarios/logical-rolling-upgrade.json") },
    Lesson { name: "cdc-search-index", json: include_str!("../scenarios/cdc-search-index.json") },
    Lesson { name: "trigger-subset", json: include_str!("../scenarios/trigger-subset.json") },
    Lesson { name: "trigger-add-target", json: include_str!("../scenarios/trigger-add-target.json") },
    Lesson { name: "trigger-failover", json: include_str!("../scenarios/trigger-failover.json") },
    Lesson { name: "leaderless-read-repair", json: include_str!("../scenarios/leaderless-read-repair.json") },
    Lesson { name: "leaderless-shopping-cart", json: include_str!("../scenarios/leaderless-shopping-cart.json") },
    Lesson { name: "leaderless-sloppy-quorum", json: include_str!("../scenarios/leaderless-sloppy-quorum.json") },
    Lesson { name: "leaderless-quorum-overlap", json: include_str!("../scenarios/leaderless-quorum-overlap.json") },
    Lesson { name: "leaderless-concurrent-read", json: include_str!("../scenarios/leaderless-concurrent-read.json") },
    Lesson { name: "leaderless-failed-write", json: include_str!("../scenarios/leaderless-failed-write.json") },
    Lesson { name: "leaderless-restored-replica", json: include_str!("../scenarios/leaderless-restored-replica.json") },
    Lesson { name: "leaderless-anti-entropy", json: include_str!("../scenarios/leaderless-anti-entropy.json") },
    Lesson { name: "leaderless-hint-lost", json: include_str!("../scenarios/leaderless-hint-lost.json") },
    Lesson { name: "leaderless-lww-clock-skew", json: include_str!("../scenarios/leaderless-lww-clock-skew.json") },
    Lesson { name: "multi-leader-conflict", json: include_str!("../scenarios/multi-leader-conflict.json") },
    Lesson { name: "multi-leader-ring", json: include_str!("../scenarios/multi-leader-ring.json") },
    Lesson { name: "multi-leader-overtaking", json: include_str!("../scenarios/multi-leader-overtaking.json") },
    Lesson {
        name: "multi-leader-overtaking-fixed",
        json: include_str!("../scenarios/multi-leader-overtaking-fixed.json"),
    },
    Lesson { name: "multi-leader-autoincrement", json: include_str!("../scenarios/multi-leader-autoincrement.json") },
    Lesson { name: "multi-leader-collab-editing", json: include_str!("../scenarios/multi-leader-collab-editing.json") },
    Lesson { name: "multi-leader-datacenters", json: include_str!("../scenarios/multi-leader-datacenters.json") },
    Lesson { name: "multi-leader-dc-outage", json: include_str!("../scenarios/multi-leader-dc-outage.json") },
    Lesson { name: "multi-leader-dc-partition", json: include_str!("../scenarios/multi-leader-dc-partition.json") },
    Lesson { name: "multi-leader-home-move", json: include_str!("../scenarios/multi-leader-home-move.json") },
    Lesson { name: "multi-leader-lww-skew", json: include_str!("../scenarios/multi-leader-lww-skew.json") },
    Lesson { name: "multi-leader-star", json: include_str!("../scenarios/multi-leader-star.json") },
    Lesson {
        name: "multi-leader-offline-calendar",
        json: include_str!("../scenarios/multi-leader-offline-calendar.json"),
    },
    Lesson { name: "multi-leader-siblings", json: include_str!("../scenarios/multi-leader-siblings.json") },
];

/// Lessons about replication log methods: the comparison view offers these (each runs under all four methods).
pub const COMPARE_LESSONS: &[&str] = &[
    "statement-now",
    "statement-rand",
    "statement-trigger",
    "statement-autoincrement",
    "wal-rolling-upgrade",
    "cdc-search-index",
    "trigger-subset",
    "statement-substitution",
    "statement-mixed",
    "logical-rolling-upgrade",
];

pub const DEFAULT_LESSON: &str = "basics-async";

pub fn lesson(name: &str) -> Option<Result<Scenario, String>> {
    LESSONS
        .iter()
        .find(|l| l.name == name)
        .map(|l| Scenario::from_json_str(l.json).map_err(|e| format!("lesson {name}: {e}")))
}

/// The default scenario; it is compiled in and tested, so failing to parse it is a build bug.
pub fn default_scenario() -> Scenario {
    match lesson(DEFAULT_LESSON) {
        Some(Ok(s)) => s,
        _ => unreachable!("the default lesson is checked by tests"),
    }
}
