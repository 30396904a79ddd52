//! Writes the seed corpus checked in under fuzz/corpus/ (run again when the lessons or the docs change):
//!
//!     cargo run --profile replay --bin seed-corpus [-- --sql-diff FILE]
//!
//! - scenario/: every lesson (minified) and the examples of docs/scenario-format.md;
//! - link/: a share link of every lesson (some with a person's commands, some for the compare view), and damaged ones;
//! - sql/: every lesson's schema and workload statements, the fuzz targets' own statements, and (with `--sql-diff`)
//!   the statement sequences of tests/sql_sqlite_diff.rs, one file per sequence. Make FILE with
//!   `SQL_DIFF_DUMP=1 SQL_DIFF_SEQUENCES=40 cargo test --test sql_sqlite_diff -- --nocapture 2> FILE` at the root;
//! - run/: one input per lesson (the decoder's first byte picks it) with a few commands, and generated scenarios.

use std::fs;
use std::path::Path;

use replsim::library::LESSONS;
use replsim::link::{LinkState, View};
use replsim::scenario::Command;
use replsim::Scenario;
use serde_json::Value;

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    fs::create_dir_all(dir).expect("corpus folder");
    fs::write(dir.join(name), bytes).expect("corpus file");
}

/// SplitMix64: the generated inputs are the same every time.
struct Mix(u64);

impl Mix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

fn lessons() -> Vec<(&'static str, Scenario)> {
    LESSONS.iter().map(|l| (l.name, Scenario::from_json_str(l.json).expect("lessons parse"))).collect()
}

fn docs_examples(root: &Path) -> Vec<String> {
    let text = fs::read_to_string(root.join("docs/scenario-format.md")).expect("docs/scenario-format.md");
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        match (&mut current, line.trim_start()) {
            (None, "```json") => current = Some(String::new()),
            (Some(_), "```") => blocks.push(current.take().unwrap_or_default()),
            (Some(block), _) => {
                block.push_str(line);
                block.push('\n');
            }
            (None, _) => {}
        }
    }
    // A fragment (`"network": {…}`) goes into the first example in place of its own network.
    let full: Option<Value> = blocks.first().and_then(|b| serde_json::from_str(b).ok());
    blocks
        .iter()
        .map(|b| match (b.trim_start().starts_with('"'), &full) {
            (true, Some(full)) => {
                let part: Value = serde_json::from_str(&format!("{{{b}}}")).unwrap_or(Value::Null);
                let mut doc = full.clone();
                if let (Some(doc), Some(part)) = (doc.as_object_mut(), part.as_object()) {
                    doc.extend(part.clone());
                }
                doc.to_string()
            }
            _ => b.clone(),
        })
        .collect()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = fuzz.parent().expect("the repository");
    let corpus = fuzz.join("corpus");
    let lessons = lessons();

    // scenario/
    let dir = corpus.join("scenario");
    for (name, s) in &lessons {
        write(&dir, &format!("lesson-{name}.json"), s.to_json().to_string().as_bytes());
    }
    for (i, doc) in docs_examples(root).iter().enumerate() {
        write(&dir, &format!("docs-example-{}.json", i + 1), doc.as_bytes());
    }

    // link/
    let dir = corpus.join("link");
    for (i, (name, s)) in lessons.iter().enumerate() {
        // Commands as a person would add them: the lesson's own faults again, a little later.
        let commands: Vec<_> = s
            .faults
            .iter()
            .filter(|c| !matches!(c.command, Command::AddNode { .. }))
            .take(if i % 2 == 0 { 0 } else { 3 })
            .map(|c| replsim::scenario::TimedCommand { at: c.at + 1, command: c.command.clone() })
            .collect();
        let state = LinkState { scenario: s.clone(), seed: s.seed, commands, at: s.until() / 2, panes: Vec::new() };
        let view = if i % 3 == 0 { View::Compare } else { View::Cluster };
        write(&dir, &format!("lesson-{name}.txt"), format!("#{}", state.encode_view(view)).as_bytes());
    }
    let damaged = [
        ("lesson-name.txt", "#lesson=basics-async".to_string()),
        ("empty-run.txt", "#run=".to_string()),
        ("not-base64.txt", "#run=%%%".to_string()),
        ("other-version.txt", "#run=e30".to_string()),
        ("truncated.txt", "#run=eyJ2IjoxLCJzY2Vu".to_string()),
    ];
    for (name, text) in damaged {
        write(&dir, name, text.as_bytes());
    }

    // sql/
    let dir = corpus.join("sql");
    for (name, s) in &lessons {
        let mut text: Vec<String> = s.schema.iter().map(|q| format!("{q};")).collect();
        for c in &s.workload {
            if let Command::Sql { sql, .. } = &c.command {
                text.push(format!("{sql};"));
            }
        }
        write(&dir, &format!("lesson-{name}.sql"), text.join("\n").as_bytes());
    }
    write(&dir, "fuzz-schema.sql", (replsim_fuzz::SQL_SCHEMA.join(";\n") + ";").as_bytes());
    write(&dir, "run-statements.sql", (replsim_fuzz::RUN_STATEMENTS.join(";\n") + ";").as_bytes());
    if let Some(i) = args.iter().position(|a| a == "--sql-diff") {
        let file = args.get(i + 1).expect("--sql-diff FILE");
        let dump = fs::read_to_string(file).expect("the dump");
        // The dump is 40 statements per sequence, each on its own line ending with `;` (cargo's own lines are not).
        let statements: Vec<&str> = dump.lines().filter(|l| l.ends_with(';') && !l.starts_with(' ')).collect();
        for (k, sequence) in statements.chunks(40).enumerate() {
            write(&dir, &format!("sqlite-diff-{k:03}.sql"), sequence.join("\n").as_bytes());
        }
    }

    // run/
    let dir = corpus.join("run");
    let mut mix = Mix(14);
    for (i, (name, _)) in lessons.iter().enumerate() {
        // The lesson, a seed, then a handful of commands.
        let mut input = vec![i as u8, (i * 7) as u8, 2 + (i % 5) as u8];
        input.extend(mix.bytes(24));
        write(&dir, &format!("lesson-{name}.bin"), &input);
    }
    for k in 0..24 {
        let mut input = vec![255 - k as u8];
        input.extend(mix.bytes(40 + 8 * k));
        write(&dir, &format!("generated-{k:02}.bin"), &input);
    }
}
