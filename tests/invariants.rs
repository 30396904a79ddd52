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
//! A failure prints the lesson, the seed and the simulated time that reproduce it.

use replsim::library::LESSONS;
use replsim::protocol::Status;
use replsim::scenario::Mode;
use replsim::vecmap::VecMap;
use replsim::world::sim::Simulation;

mod common;
use common::lesson;

/// Every invariant that must hold right now; `leaders` remembers which node led each (group, epoch) so far.
fn check_now(sim: &Simulation, leaders: &mut VecMap<(usize, u64), usize>, what: &str) {
    let now = sim.now();
    let epochs = sim.scenario.failover.epochs;
    for n in sim.protocol.single_leader().nodes.iter().filter(|n| n.acting_leader()) {
        let Some((epoch, _)) = n.leader_since else { continue };
        let group = sim.protocol.single_leader().partition_of[n.index];
        if epochs {
            match leaders.get(&(group, epoch)) {
                Some(&other) if other != n.index => panic!(
                    "{what} at {now} µs: {} and {} both lead epoch {epoch} of group {group}",
                    sim.protocol.single_leader().nodes[other].id,
                    n.id
                ),
                _ => {
                    leaders.insert((group, epoch), n.index);
                }
            }
        }
    }
    if !epochs {
        // Without epochs nothing stops two leaders writing the same LSNs: that is the split-brain lesson's point.
        return;
    }
    let replicas: Vec<_> =
        sim.protocol.single_leader().nodes.iter().filter(|n| n.is_replica() && n.status != Status::Absent).collect();
    for (i, a) in replicas.iter().enumerate() {
        for b in &replicas[i + 1..] {
            if sim.protocol.single_leader().partition_of[a.index] != sim.protocol.single_leader().partition_of[b.index]
            {
                continue;
            }
            // The LSNs both logs retain.
            let lo = a.base_lsn.max(b.base_lsn) + 1;
            let hi = a.lsn().min(b.lsn());
            if lo > hi {
                continue;
            }
            // The highest common LSN whose entries share an epoch: everything before it must agree.
            let Some(top) = (lo..=hi).rev().find(|l| epoch_at(a, *l) == epoch_at(b, *l)) else { continue };
            for l in lo..top {
                assert_eq!(
                    epoch_at(a, l),
                    epoch_at(b, l),
                    "{what} at {now} µs: {} and {} agree on lsn {top} but not on lsn {l}",
                    a.id,
                    b.id
                );
            }
        }
    }
}

fn epoch_at(n: &replsim::protocol::single_leader::Node, lsn: u64) -> Option<u64> {
    n.entry(lsn).map(|e| e.epoch)
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
    let mut leaders = VecMap::new();
    check_now(&sim, &mut leaders, what);
    while sim.next_event_time().is_some_and(|t| t <= until) {
        sim.step();
        check_now(&sim, &mut leaders, what);
    }
    if s.replication.mode == Mode::Sync && s.failover.epochs {
        for (op, h) in sim.history.iter().enumerate().filter(|(_, h)| !h.read && h.ok()) {
            let group = h.result.as_ref().and_then(|r| r.served.first()).map_or(0, |(g, _)| *g);
            let Some(leader) = sim.protocol.single_leader().leader_of(group) else { continue };
            assert!(
                sim.protocol.single_leader().nodes[leader].origins.contains_key(&op),
                "{what}: acknowledged write #{op} ({}) is not on the final leader {}",
                h.sql,
                sim.protocol.single_leader().nodes[leader].id
            );
        }
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
    let mut leaders = VecMap::new();
    let leader = sim.protocol.single_leader().leader().expect("a leader");
    let epoch = sim.protocol.single_leader().nodes[leader].leader_since.expect("leads").0;
    // Pretend another node led this epoch before.
    let other = (leader + 1) % sim.protocol.single_leader().nodes.len();
    leaders.insert((sim.protocol.single_leader().partition_of[leader], epoch), other);
    check_now(&sim, &mut leaders, "planted");
}
