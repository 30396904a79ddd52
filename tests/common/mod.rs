//! Helpers shared by the integration tests.
#![allow(dead_code)]

use replsim::library;
use replsim::scenario::Scenario;
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
