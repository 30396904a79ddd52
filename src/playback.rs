//! Playback: a run that a person watches, scrubs and changes. It owns the scenario, the seed, the commands the
//! person added, the live simulation and a list of checkpoints (clones of the world every `CHECKPOINT_EVERY` of
//! simulated time). Seeking backwards restores the nearest earlier checkpoint and re-runs to the target, so any
//! moment is reachable quickly and exactly. Adding a command discards the person's later commands (the timeline
//! branches at the moment on screen) and the checkpoints after it.

use crate::scenario::{Command, Scenario, TimedCommand};
use crate::world::sim::{merged_commands, SetupError, Simulation};
use crate::world::time::{ms, Micros};

pub const CHECKPOINT_EVERY: Micros = 50_000;

#[derive(Clone, Debug)]
pub struct Playback {
    scenario: Scenario,
    seed: u64,
    user_commands: Vec<TimedCommand>,
    sim: Simulation,
    /// Checkpoint k holds the world at exactly k * CHECKPOINT_EVERY.
    checkpoints: Vec<Simulation>,
}

impl Playback {
    pub fn new(scenario: Scenario, seed: u64, user_commands: Vec<TimedCommand>) -> Result<Self, SetupError> {
        let mut sim = Simulation::new(&scenario, seed, &user_commands)?;
        // Invariant: a world "stands at t" once every event at or before t has run; checkpoint 0 too.
        sim.run_until(0);
        let checkpoints = vec![sim.clone()];
        Ok(Playback { scenario, seed, user_commands, sim, checkpoints })
    }

    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }
    pub fn seed(&self) -> u64 {
        self.seed
    }
    pub fn user_commands(&self) -> &[TimedCommand] {
        &self.user_commands
    }
    pub fn sim(&self) -> &Simulation {
        &self.sim
    }
    pub fn now(&self) -> Micros {
        self.sim.now()
    }
    pub fn until(&self) -> Micros {
        self.scenario.until()
    }

    /// Stand at time `t` (clamped to the run's length): forward by running, backward by restoring a checkpoint.
    pub fn seek(&mut self, t: Micros) {
        let t = t.min(self.until());
        if t < self.sim.now() {
            let k = ((t / CHECKPOINT_EVERY) as usize).min(self.checkpoints.len() - 1);
            self.sim = self.checkpoints[k].clone();
        }
        self.advance_to(t);
    }

    fn advance_to(&mut self, t: Micros) {
        // Run checkpoint by checkpoint so that the list grows as the run is first explored.
        loop {
            let next_cp = self.checkpoints.len() as Micros * CHECKPOINT_EVERY;
            if next_cp > t {
                break;
            }
            self.sim.run_until(next_cp);
            self.checkpoints.push(self.sim.clone());
        }
        self.sim.run_until(t);
    }

    /// Process exactly one more event (the "step" button). Returns false at the end of the run.
    pub fn step_event(&mut self) -> bool {
        match self.sim.next_event_time() {
            Some(t) if t <= self.until() => {
                self.seek(t);
                true
            }
            _ => false,
        }
    }

    /// Do something now: it becomes a timed command one microsecond after the moment on screen. The person's
    /// commands after now are discarded (the timeline branches here), and so are the checkpoints after now.
    pub fn command(&mut self, command: Command) {
        let now = self.sim.now();
        self.user_commands.retain(|c| c.at <= now);
        self.user_commands.push(TimedCommand { at: now + 1, command });
        self.checkpoints.truncate((now / CHECKPOINT_EVERY) as usize + 1);
        let merged = merged_commands(&self.scenario, &self.user_commands);
        // Every kept world stands at or before now, and the list only changed after now: swapping it is exact.
        self.sim.set_commands(merged.clone());
        for cp in &mut self.checkpoints {
            cp.set_commands(merged.clone());
        }
    }

    /// Start again from time zero with the same scenario, seed and commands.
    pub fn restart(&mut self) {
        self.seek(0);
    }

    /// Markers for the timeline: (time, label, is_fault).
    pub fn markers(&self) -> Vec<(Micros, String, bool)> {
        self.sim
            .commands()
            .iter()
            .filter(|c| c.at <= self.until())
            .map(|c| (c.at, c.command.label(), c.command.is_fault()))
            .collect()
    }

    pub fn until_ms(&self) -> u64 {
        self.scenario.until_ms
    }

    /// The end of the run, for "skip to end".
    pub fn end(&self) -> Micros {
        ms(self.scenario.until_ms)
    }
}
