//! Helpers shared by the integration tests.
#![allow(dead_code)]

use replsim::library;
use replsim::scenario::Scenario;
use replsim::sql::Value;
use replsim::world::sim::Simulation;

/// A lesson from the library (panics with the lesson's error: a broken lesson is a test failure).
pub fn lesson(name: &str) -> Scenario {
    library::lesson(name).expect("lesson exists").expect("lesson parses")
}

/// Run a scenario to its end with `seed`.
pub fn run(s: &Scenario, seed: u64) -> Simulation {
    let mut sim = Simulation::new(s, seed, &[]).expect("setup");
    sim.run_to_end();
    sim
}

/// Where a property test keeps its counterexamples: `tests/NAME.proptest-regressions` beside the test's source file,
/// replayed before any new case (commit these files). proptest's default, `SourceParallel("proptest-regressions")`,
/// looks for a `lib.rs` or `main.rs` in the directories above the source file; an integration test has none above it
/// (unless the checkout sits under one), so it warns and falls back to exactly this path. `WithSource` names that
/// path directly. The source file is `file!()`, relative to the package root, which is where `cargo test` runs.
pub fn regressions() -> Option<Box<dyn proptest::test_runner::FailurePersistence>> {
    Some(Box::new(proptest::test_runner::FileFailurePersistence::WithSource("proptest-regressions")))
}

/// The text values of `column` in every row of `table` on node `n`.
pub fn text_column(sim: &Simulation, n: usize, table: &str, column: &str) -> Vec<String> {
    sim.protocol.single_leader().expect("single-leader run").nodes[n]
        .db
        .rows(table)
        .into_iter()
        .filter_map(|r| r.into_iter().find(|(c, _)| c == column).map(|(_, v)| v))
        .filter_map(|v| if let Value::Text(t) = v { Some(t) } else { None })
        .collect()
}
