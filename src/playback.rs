//! Playback: a run that a person watches, scrubs and changes. It owns the scenario, the seed, the commands the
//! person added, the live simulation and a list of checkpoints. Seeking backwards restores the nearest earlier
//! checkpoint and re-runs to the target, so any moment is reachable quickly and exactly. Adding a command discards
//! the person's later commands (the timeline branches at the moment on screen) and the checkpoints after it.
//!
//! Checkpoints are spaced by work as well as by time: one is taken on the `CHECKPOINT_EVERY` grid once at least
//! `CHECKPOINT_EVENTS` events ran since the last, so a quiet lesson keeps one every 50 ms while a busy hour-long run
//! keeps one per few thousand events, and a seek (back or forward through explored time) re-runs at most about that
//! many. A checkpoint shares the trace, history and logs with the live world (`world::sim::Checkpoint`).

use crate::scenario::{Command, Scenario, TimedCommand};
use crate::world::sim::{merged_commands, Checkpoint, SetupError, Simulation};
use crate::world::time::{ms, Micros};

pub const CHECKPOINT_EVERY: Micros = 50_000;
/// Events since the last checkpoint before the next grid point takes one.
pub const CHECKPOINT_EVENTS: u64 = 2_000;

#[derive(Clone, Debug)]
pub struct Playback {
    scenario: Scenario,
    seed: u64,
    user_commands: Vec<TimedCommand>,
    sim: Simulation,
    /// Checkpoints in time order, each on the `CHECKPOINT_EVERY` grid; the first at time 0.
    checkpoints: Vec<Checkpoint>,
    /// The grid point up to which taking checkpoints was decided (they are taken as the run is first explored).
    explored: Micros,
}

impl Playback {
    pub fn new(scenario: Scenario, seed: u64, user_commands: Vec<TimedCommand>) -> Result<Self, SetupError> {
        let mut sim = Simulation::new(&scenario, seed, &user_commands)?;
        // Invariant: a world "stands at t" once every event at or before t has run; checkpoint 0 too.
        sim.run_until(0);
        let checkpoints = vec![sim.checkpoint()];
        Ok(Playback { scenario, seed, user_commands, sim, checkpoints, explored: 0 })
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
        // The last checkpoint at or before t (the first is at 0): back to it, or ahead to it if it is past now.
        let k = self.checkpoints.partition_point(|c| c.now() <= t).max(1) - 1;
        let cp = &self.checkpoints[k];
        if t < self.sim.now() || cp.now() > self.sim.now() {
            self.sim.restore(cp);
        }
        self.advance_to(t);
    }

    fn advance_to(&mut self, t: Micros) {
        // Run grid point by grid point past what was explored, so that the list grows as the run is first explored.
        while self.explored + CHECKPOINT_EVERY <= t {
            let next = self.explored + CHECKPOINT_EVERY;
            if self.sim.now() < next {
                self.sim.run_until(next);
                let last = self.checkpoints.last().map_or(0, Checkpoint::events);
                if self.sim.metrics.events >= last + CHECKPOINT_EVENTS {
                    self.checkpoints.push(self.sim.checkpoint());
                }
            }
            self.explored = next;
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
        let keep = self.checkpoints.partition_point(|c| c.now() <= now).max(1);
        self.checkpoints.truncate(keep);
        self.explored = self.explored.min(now / CHECKPOINT_EVERY * CHECKPOINT_EVERY);
        let merged = merged_commands(&self.sim.scenario, &self.user_commands);
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

    /// The first marker after `t`, if any (`markers`, without building the others' labels).
    pub fn next_marker(&self, t: Micros) -> Option<(Micros, String, bool)> {
        let c = self.sim.commands().iter().filter(|c| c.at > t && c.at <= self.until()).min_by_key(|c| c.at)?;
        Some((c.at, c.command.label(), c.command.is_fault()))
    }

    /// How many checkpoints are kept (benchmarks report it).
    pub fn checkpoint_count(&self) -> usize {
        self.checkpoints.len()
    }

    pub fn until_ms(&self) -> u64 {
        self.scenario.until_ms
    }

    /// The end of the run, for "skip to end".
    pub fn end(&self) -> Micros {
        ms(self.scenario.until_ms)
    }
}
