//! The scenario library: lessons shipped with the playground, each a scenario file from `scenarios/` with a title
//! and an on-screen narration of what to watch and why it happens.

use crate::scenario::Scenario;

pub struct Lesson {
    pub name: &'static str,
    /// The scenario file without whitespace between tokens (build.rs writes it; the page never shows the text).
    pub json: &'static str,
    /// The scenario's `title`, or its name when it has none (build.rs reads it, so listing lessons parses nothing).
    pub title: &'static str,
}

/// A lesson from `scenarios/NAME.json`, as build.rs prepared it.
macro_rules! lesson {
    ($name:literal) => {
        Lesson {
            name: $name,
            json: include_str!(concat!(env!("OUT_DIR"), "/scenarios/", $name, ".json")),
            title: include_str!(concat!(env!("OUT_DIR"), "/scenarios/", $name, ".title")),
        }
    };
}

pub const LESSONS: &[Lesson] = &[
    lesson!("basics-async"),
    lesson!("follower-catch-up"),
    lesson!("partition-heal"),
    lesson!("lossy-network"),
    lesson!("leader-pause"),
    lesson!("sync-blocks"),
    lesson!("statement-rand"),
    lesson!("semi-sync"),
    lesson!("far-follower"),
    lesson!("new-follower-snapshot"),
    lesson!("new-follower-file-copy"),
    lesson!("catch-up-needs-snapshot"),
    lesson!("failover-lost-writes"),
    lesson!("planned-failover"),
    lesson!("controller-failover"),
    lesson!("key-reuse"),
    lesson!("split-brain"),
    lesson!("split-brain-epochs"),
    lesson!("split-brain-fencing"),
    lesson!("split-brain-shutdown-both"),
    lesson!("split-brain-shutdown-older"),
    lesson!("timeout-too-short"),
    lesson!("timeout-too-long"),
    lesson!("timeout-tradeoff"),
    lesson!("lag-read-your-writes"),
    lesson!("lag-monotonic-reads"),
    lesson!("lag-cross-device"),
    lesson!("lag-cross-device-shared"),
    lesson!("lag-sticky-failure"),
    lesson!("lag-consistent-prefix"),
    lesson!("lag-consistent-prefix-fixed"),
    lesson!("statement-now"),
    lesson!("statement-substitution"),
    lesson!("statement-mixed"),
    lesson!("statement-trigger"),
    lesson!("statement-autoincrement"),
    lesson!("wal-rolling-upgrade"),
    lesson!("logical-rolling-upgrade"),
    lesson!("cdc-search-index"),
    lesson!("trigger-subset"),
    lesson!("trigger-add-target"),
    lesson!("trigger-failover"),
    lesson!("leaderless-read-repair"),
    lesson!("leaderless-shopping-cart"),
    lesson!("leaderless-sloppy-quorum"),
    lesson!("leaderless-quorum-overlap"),
    lesson!("leaderless-concurrent-read"),
    lesson!("leaderless-failed-write"),
    lesson!("leaderless-restored-replica"),
    lesson!("leaderless-anti-entropy"),
    lesson!("leaderless-hint-lost"),
    lesson!("leaderless-lww-clock-skew"),
    lesson!("multi-leader-conflict"),
    lesson!("multi-leader-ring"),
    lesson!("multi-leader-overtaking"),
    lesson!("multi-leader-overtaking-fixed"),
    lesson!("multi-leader-autoincrement"),
    lesson!("multi-leader-collab-editing"),
    lesson!("multi-leader-datacenters"),
    lesson!("multi-leader-dc-outage"),
    lesson!("multi-leader-dc-partition"),
    lesson!("multi-leader-home-move"),
    lesson!("multi-leader-lww-skew"),
    lesson!("multi-leader-star"),
    lesson!("multi-leader-offline-calendar"),
    lesson!("multi-leader-siblings"),
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

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    /// build.rs strips whitespace and reads titles without a JSON parser: what ships must be the file, exactly.
    #[test]
    fn shipped_lessons_parse_to_their_files_and_carry_their_titles() {
        for l in LESSONS {
            let path = format!("{}/scenarios/{}.json", env!("CARGO_MANIFEST_DIR"), l.name);
            let file = std::fs::read_to_string(&path).unwrap();
            let from_file = Scenario::from_json_str(&file).unwrap();
            let shipped = Scenario::from_json_str(l.json).unwrap_or_else(|e| panic!("{}: {e}", l.name));
            assert!(shipped == from_file, "{}: the minified lesson differs from {path}", l.name);
            assert!(l.json.len() < file.len() && !l.json.contains('\n'), "{}: not minified", l.name);
            assert_eq!(l.title, from_file.title.as_deref().unwrap_or(l.name), "{}", l.name);
        }
    }
}
