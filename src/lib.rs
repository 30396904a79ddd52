//! Replication Playground: a deterministic simulation of database replication (DDIA chapter 5).
//! See ARCHITECTURE.md for the map of the code and its invariants.

pub mod bench;
pub mod check;
pub mod chunked;
pub mod compare;
pub mod externals;
pub mod jobs;
pub mod layout;
pub mod library;
pub mod link;
pub mod log_methods;
pub mod par;
pub mod playback;
pub mod protocol;
pub mod report;
pub mod scenario;
#[cfg(not(target_arch = "wasm32"))]
pub mod soak;
pub mod sql;
pub mod still;
pub mod vecmap;
pub mod view;
pub mod world;

#[cfg(target_arch = "wasm32")]
pub mod web;

/// The wasm32 global allocator (memory grows in large steps; see the module).
#[cfg(target_arch = "wasm32")]
mod wasm_alloc;

pub use scenario::Scenario;
pub use world::sim::Simulation;

/// Parse a scenario and run it to its end (`until_ms`, or `until_ms_override`). With `keep_trace` false the trace
/// is hashed and counted but its events are not kept: a report needs only its hash and length, and a long run's
/// events are most of its memory (`replsim run`: about 130 B per event, 16 events per write).
pub fn run_scenario(
    text: &str,
    seed: Option<u64>,
    until_ms_override: Option<u64>,
    keep_trace: bool,
) -> Result<Simulation, String> {
    let mut scenario = Scenario::from_json_str(text).map_err(|e| e.to_string())?;
    if let Some(u) = until_ms_override {
        let max =
            if scenario.multi_leader.is_some() { scenario::MAX_UNTIL_MS_MULTI_LEADER } else { scenario::MAX_UNTIL_MS };
        if u == 0 || u > max {
            return Err(format!("--until-ms: expected 1..={max}, found {u}"));
        }
        scenario.until_ms = u;
    }
    let seed = seed.unwrap_or(scenario.seed);
    let mut sim = Simulation::with_trace(&scenario, seed, &[], keep_trace).map_err(|e| e.to_string())?;
    drop(scenario); // the simulation holds what it needs of it
    sim.run_to_end();
    Ok(sim)
}
