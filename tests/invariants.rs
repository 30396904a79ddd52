//! Safety invariants of single-leader replication, checked after every event of every lesson (and of each lesson
//! under other seeds), not only at the end of a run:
//!
//! - DDIA 5.1 failover: with epochs, at most one node acts as leader for a given epoch of a replication group
//!   (an epoch is one term: two leaders in one term is split brain that epochs exist to rule out).
//! - DDIA 5.1 replication log, with epochs: log matching. If two replicas of a group hold an entry at the same LSN written in the
//!   same epoch, they agree on the epochs of every entry before it (a follower's log is a prefix of its leader's,
//!   after divergent tails are discarded).
//! - DDIA 5.1 synchronous replication: under sync mode with epochs, a write acknowledged to its client is never
//!   lost, whatever fails over: the final leader of its group holds it.
//!
//! The claims live in `replsim::check::invariants` (the soak, `replsim soak`, checks the same ones on random
//! scenarios). A failure prints the lesson, the seed and the simulated time that reproduce it.

use replsim::check::invariants::Monitor;
use replsim::library::LESSONS;
use replsim::scenario::Mode;
use replsim::world::sim::Simulation;

mod common;
use common::lesson;

/// The per-event claims, right now; a broken one fails the test with what reproduces it.
fn check_now(sim: &Simulation, monitor: &mut Monitor, what: &str) {
    if let Err(v) = monitor.after_event(sim) {
        panic!("{what}: {v}");
    }
}

/// Run lesson `name` with `seed`, checking after every event; returns the finished run.
fn run_checked(name: &str, seed: u64) -> Simulation {
    run_scenario_checked(
        &lesson(name),
        &format!("lesson {name} seed {seed} (replsim run lesson:{name} --seed {seed})"),
        seed,
    )
}

fn run_scenario_checked(s: &replsim::Scenario, what: &str, seed: u64) -> Simulation {
    let mut sim = Simulation::new(s, seed, &[]).expect("lessons start");
    let until = s.until();
    let mut monitor = Monitor::new();
    check_now(&sim, &mut monitor, what);
    while sim.next_event_time().is_some_and(|t| t <= until) {
        sim.step();
        check_now(&sim, &mut monitor, what);
    }
    // Lessons do not all heal their faults: convergence is the soak's claim (`replsim soak`), not checked here.
    if let Err(v) = monitor.at_end(&sim, None) {
        panic!("{what}: {v}");
    }
    sim
}

// DDIA 5.1: one leader per epoch, log matching and durable synchronous writes, after every event of every lesson.
#[test]
fn ch5_1_safety_holds_after_every_event_of_every_lesson() {
    for l in LESSONS {
        let s = lesson(l.name);
        run_checked(l.name, s.seed);
    }
}

// DDIA 5.1: the same invariants under other seeds of the failover lessons (different timings, different winners).
#[test]
fn ch5_1_safety_holds_under_other_seeds_of_the_failover_lessons() {
    let failover_lessons = LESSONS.iter().filter(|l| {
        let s = lesson(l.name);
        s.failover.auto || l.name.contains("failover") || l.name.contains("split-brain")
    });
    for l in failover_lessons {
        for seed in 1..=8 {
            run_checked(l.name, seed);
        }
    }
}

// DDIA 5.1: synchronous replication guarantees an up-to-date copy on the followers, so a failover loses no
// acknowledged write. The failover lessons (with epochs) under sync mode, several seeds each.
#[test]
fn ch5_1_sync_writes_survive_every_failover() {
    let mut runs = 0;
    for l in LESSONS {
        let mut s = lesson(l.name);
        if !(s.failover.epochs && s.failover.auto && s.replication.mode == Mode::Async) {
            continue;
        }
        s.replication.mode = Mode::Sync;
        for seed in 1..=4 {
            let sim = run_scenario_checked(&s, &format!("lesson {} under sync mode, seed {seed}", l.name), seed);
            assert!(sim.history.iter().any(|h| !h.read && h.ok()), "{}: some write was acknowledged", l.name);
            runs += 1;
        }
    }
    assert!(runs >= 8, "enough failover lessons ran under sync ({runs})");
}

// The checker itself: a run where two nodes lead the same epoch must be caught.
#[test]
#[should_panic(expected = "both lead epoch")]
fn two_leaders_in_one_epoch_are_caught() {
    let s = lesson("basics-async");
    let mut sim = Simulation::new(&s, s.seed, &[]).expect("starts");
    sim.run_until(200_000);
    let mut monitor = Monitor::new();
    let c = sim.protocol.single_leader().expect("single-leader run");
    let leader = c.leader().expect("a leader");
    let epoch = c.nodes[leader].leader_since.expect("leads").0;
    // Pretend another node led this epoch before.
    let other = (leader + 1) % c.nodes.len();
    monitor.record_leader(c.partition_of[leader], epoch, other);
    check_now(&sim, &mut monitor, "planted");
}
