//! The behaviour table: every lesson (and every comparison lesson under each of the four log methods) run to its end,
//! summed up in one row. `tests/golden/behaviour.tsv` holds the table; a restructure of the core must leave it as it
//! is, and a deliberate change of behaviour rewrites it in the same commit that makes the change, so the diff shows
//! exactly which runs moved.
//!
//! Columns: run, trace events, a digest of the trace as text (`replsim trace`'s lines), a digest of the report with
//! its `trace_hash` field left out, and the trace hash. A change of the hash's encoding alone moves only the last
//! column; a change of behaviour moves the text and report digests.
//!
//! Rewrite the table with `BLESS=1 cargo test --test behaviour`.

use replsim::compare::METHODS;
use replsim::library::{lesson, COMPARE_LESSONS, LESSONS};
use replsim::report::report_json;
use replsim::world::trace::Fnv64;
use replsim::Simulation;

const TABLE: &str = "tests/golden/behaviour.tsv";

fn digest(text: &str) -> String {
    let mut h = Fnv64::new();
    h.write_bytes(text.as_bytes());
    format!("{:016x}", h.finish())
}

fn row(name: &str, sim: &Simulation) -> String {
    let mut lines = String::new();
    for e in sim.trace.events() {
        lines.push_str(&e.line());
        lines.push('\n');
    }
    let mut report = report_json(sim);
    let trace_hash = report["trace_hash"].as_str().unwrap_or_default().to_string();
    report.as_object_mut().map(|o| o.remove("trace_hash"));
    format!("{name}\t{}\t{}\t{}\t{trace_hash}", sim.trace.len(), digest(&lines), digest(&report.to_string()))
}

fn table() -> String {
    let mut out = String::from("run\tevents\ttrace_text\treport\ttrace_hash\n");
    for l in LESSONS {
        let scenario = lesson(l.name).expect("listed").expect("lessons parse");
        let mut sim = Simulation::new(&scenario, scenario.seed, &[]).expect("lessons start");
        sim.run_to_end();
        out.push_str(&row(l.name, &sim));
        out.push('\n');
    }
    for name in COMPARE_LESSONS {
        let scenario = lesson(name).expect("listed").expect("lessons parse");
        for m in METHODS {
            let s = scenario.with_log(m);
            let mut sim = Simulation::new(&s, s.seed, &[]).expect("lessons start under every method");
            sim.run_to_end();
            out.push_str(&row(&format!("{name}@{}", m.name()), &sim));
            out.push('\n');
        }
    }
    out
}

#[test]
fn every_lesson_behaves_as_the_table_says() {
    let now = table();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(TABLE);
    if std::env::var_os("BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &now).unwrap();
        return;
    }
    let before = std::fs::read_to_string(&path).unwrap_or_default();
    if before != now {
        let old: Vec<&str> = before.lines().collect();
        let mut moved = String::new();
        for line in now.lines() {
            if !old.contains(&line) {
                let name = line.split('\t').next().unwrap_or_default();
                let was = old.iter().find(|l| l.split('\t').next() == Some(name)).copied().unwrap_or("(no row)");
                moved.push_str(&format!("  was {was}\n  now {line}\n"));
            }
        }
        panic!(
            "the behaviour table changed ({TABLE}). If the change is deliberate, rewrite it with \
             `BLESS=1 cargo test --test behaviour` and list the moved runs in the commit:\n{moved}"
        );
    }
}

/// Golden transcripts (etcd's datadriven style): every lesson's whole trace as text, one file per lesson under
/// `tests/golden/traces/`, so that a reviewer sees a change of behaviour as a diff of events. `BLESS=1` rewrites
/// them with the table.
const TRACES: &str = "tests/golden/traces";

#[test]
fn every_lesson_trace_matches_its_golden_transcript() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(TRACES);
    let bless = std::env::var_os("BLESS").is_some();
    if bless {
        std::fs::create_dir_all(&dir).unwrap();
    }
    let mut failures = Vec::new();
    for l in LESSONS {
        let scenario = lesson(l.name).expect("listed").expect("lessons parse");
        let mut sim = Simulation::new(&scenario, scenario.seed, &[]).expect("lessons start");
        sim.run_to_end();
        let mut text = format!("# replsim trace lesson:{} (seed {})\n", l.name, scenario.seed);
        for e in sim.trace.events() {
            text.push_str(&e.line());
            text.push('\n');
        }
        text.push_str(&format!("# trace hash {:016x}\n", sim.trace.hash()));
        let path = dir.join(format!("{}.trace", l.name));
        if bless {
            std::fs::write(&path, &text).unwrap();
            continue;
        }
        let before = std::fs::read_to_string(&path).unwrap_or_default();
        if before != text {
            let at = before.lines().zip(text.lines()).position(|(a, b)| a != b);
            let line = at.unwrap_or_else(|| before.lines().count().min(text.lines().count()));
            let was = before.lines().nth(line).unwrap_or("(end)");
            let now = text.lines().nth(line).unwrap_or("(end)");
            failures.push(format!("{}: line {}\n  was {was}\n  now {now}", l.name, line + 1));
        }
    }
    assert!(
        failures.is_empty(),
        "golden transcripts changed ({TRACES}); if deliberate, rewrite them with `BLESS=1 cargo test --test \
         behaviour` and let the diff show what moved:\n{}",
        failures.join("\n")
    );
}
