//! DDIA 5.2 "Problems with Replication Lag": the session checkers on hand-written histories (a positive and a
//! negative case for each rule) and on randomized runs, where the anomaly occurs with `random` routing and lag
//! and never with the matching fix. Every randomized failure prints its seed.

use replsim::check::lag::check;
use replsim::protocol::single_leader::OpResult;
use replsim::scenario::Route;
use replsim::world::sim::{HistoryEntry, Simulation};

mod common;
use common::{lesson, run};

fn kinds(sim: &Simulation) -> Vec<String> {
    check(sim).into_iter().map(|a| a.kind.name().to_string()).collect()
}

/// A world with two users' clients (ann: client 0, carol: client 1) and a hand-written history.
fn hand(history: Vec<HistoryEntry>) -> Simulation {
    let s = lesson("lag-monotonic-reads");
    let mut sim = Simulation::new(&s, 1, &[]).unwrap();
    sim.clients[0].user = "ann".into();
    sim.clients[1].user = "carol".into();
    sim.history = history.into_iter().collect();
    sim
}

fn write(client: usize, lsn: u64, start: u64, end: u64) -> HistoryEntry {
    HistoryEntry {
        client,
        read: false,
        sql: "INSERT".into(),
        node: 0,
        start,
        end: Some(end),
        result: Some(OpResult { ok: true, lsn: Some(lsn), ..OpResult::default() }),
    }
}

fn read(client: usize, node: usize, served: u64, start: u64, end: u64) -> HistoryEntry {
    HistoryEntry {
        client,
        read: true,
        sql: "SELECT".into(),
        node,
        start,
        end: Some(end),
        result: Some(OpResult { ok: true, read_only: true, served_lsn: Some(served), ..OpResult::default() }),
    }
}

// DDIA 5.2 read-your-writes
#[test]
fn ch5_2_read_your_writes_rule() {
    // ann writes lsn 3 (acknowledged at 20), then reads a replica at lsn 2: violation.
    assert_eq!(kinds(&hand(vec![write(0, 3, 10, 20), read(0, 2, 2, 30, 40)])), vec!["read-your-writes"]);
    // The read began before the write was acknowledged: no guarantee applies.
    assert!(kinds(&hand(vec![write(0, 3, 10, 50), read(0, 2, 2, 30, 40)])).is_empty());
    // The replica had the write.
    assert!(kinds(&hand(vec![write(0, 3, 10, 20), read(0, 2, 3, 30, 40)])).is_empty());
}

// DDIA 5.2 monotonic reads
#[test]
fn ch5_2_monotonic_reads_rule() {
    assert_eq!(kinds(&hand(vec![read(1, 1, 5, 10, 20), read(1, 2, 4, 30, 40)])), vec!["monotonic-reads"]);
    // Overlapping reads are not ordered; another user's older read is not this user's.
    assert!(kinds(&hand(vec![read(1, 1, 5, 10, 35), read(1, 2, 4, 30, 40)])).is_empty());
    assert!(kinds(&hand(vec![read(0, 1, 5, 10, 20), read(1, 2, 4, 30, 40)])).is_empty());
}

// DDIA 5.2 stale reads (the general case)
#[test]
fn ch5_2_stale_read_rule() {
    // carol misses ann's acknowledged write: stale, but not carol's own write.
    assert_eq!(kinds(&hand(vec![write(0, 3, 10, 20), read(1, 2, 2, 30, 40)])), vec!["stale-read"]);
    assert!(kinds(&hand(vec![write(0, 3, 10, 20), read(1, 2, 3, 30, 40)])).is_empty());
}

// DDIA 5.2 read-your-writes: a user's comment vanishes on reload with random routing and lag; every fix removes it.
#[test]
fn ch5_2_read_your_writes_happens_with_random_routing_and_each_fix_removes_it() {
    let s = lesson("lag-read-your-writes");
    for seed in 0..20 {
        assert!(kinds(&run(&s, seed)).contains(&"read-your-writes".to_string()), "seed {seed}: random routing");
        for route in [Route::OwnFromLeader, Route::LeaderWindow, Route::LsnToken, Route::Leader] {
            let mut fixed = s.clone();
            fixed.clients[0].route = route;
            let found = kinds(&run(&fixed, seed));
            assert!(!found.contains(&"read-your-writes".to_string()), "seed {seed}, {}: {found:?}", route.name());
        }
    }
}

// DDIA 5.2 monotonic reads: random routing goes back in time; sticky routing never does (while replicas live).
#[test]
fn ch5_2_monotonic_reads_fail_with_random_routing_and_hold_with_sticky() {
    let s = lesson("lag-monotonic-reads");
    let mut violated = 0;
    for seed in 0..20 {
        violated += usize::from(kinds(&run(&s, seed)).contains(&"monotonic-reads".to_string()));
        let mut sticky = s.clone();
        sticky.clients[1].route = Route::Sticky;
        let found = kinds(&run(&sticky, seed));
        assert!(!found.contains(&"monotonic-reads".to_string()), "seed {seed}: {found:?}");
    }
    assert!(violated >= 15, "random routing across lagging replicas goes back in time ({violated}/20 seeds)");
}

// DDIA 5.2 cross-device read-after-write: the token must be shared between the user's devices.
#[test]
fn ch5_2_cross_device_reads_need_a_shared_token() {
    for seed in 0..10 {
        let apart = kinds(&run(&lesson("lag-cross-device"), seed));
        assert!(apart.contains(&"read-your-writes".to_string()), "seed {seed}: per-device tokens");
        let shared = kinds(&run(&lesson("lag-cross-device-shared"), seed));
        assert!(!shared.contains(&"read-your-writes".to_string()), "seed {seed}: {shared:?}");
    }
}

// DDIA 5.2 monotonic reads: when the sticky replica fails, reads are rerouted.
#[test]
fn ch5_2_sticky_reads_reroute_when_the_replica_fails() {
    let s = lesson("lag-sticky-failure");
    let sim = run(&s, s.seed);
    let carol = sim.clients.iter().position(|c| c.id == "carol").unwrap();
    let n2 = sim.protocol.single_leader().expect("single-leader run").nodes.iter().position(|n| n.id == "n2").unwrap();
    let late: Vec<&HistoryEntry> =
        sim.history.iter().filter(|h| h.client == carol && h.start > 2_000_000 && h.ok()).collect();
    assert!(!late.is_empty() && late.iter().all(|h| h.node != n2), "carol now reads elsewhere");
}

// DDIA 5.2 solutions for replication lag: the policy table prices each fix (the leader serves more reads).
#[test]
fn ch5_2_policy_table_shows_the_cost_of_each_fix() {
    let rows = replsim::check::lag::policy_table(&lesson("lag-read-your-writes"), 11);
    let row = |p: &str| rows.iter().find(|r| r.policy == p).unwrap();
    assert_eq!(row("leader").leader_share, 1.0);
    assert!(row("random").leader_share < 0.5);
    assert!(row("random").anomalies.iter().any(|(k, n)| k.name() == "read-your-writes" && *n > 0));
    assert!(row("lsn-token").anomalies.iter().all(|(k, _)| k.name() != "read-your-writes"));
    assert!(row("lsn-token").read_p99_us > row("random").read_p99_us, "waiting for the token costs latency");
}

// DDIA 5.2 consistent prefix reads: independent partitions show the answer before the question.
#[test]
fn ch5_2_partitions_replicating_independently_break_consistent_prefix_and_colocation_fixes_it() {
    for seed in 0..10 {
        let broken = kinds(&run(&lesson("lag-consistent-prefix"), seed));
        assert!(broken.contains(&"consistent-prefix".to_string()), "seed {seed}: {broken:?}");
        let fixed = kinds(&run(&lesson("lag-consistent-prefix-fixed"), seed));
        assert!(!fixed.contains(&"consistent-prefix".to_string()), "seed {seed}: {fixed:?}");
    }
}

// DDIA 5.2 consistent prefix reads: with partitions replicating independently, the 5.1 checkers compare replicas
// of the same partition only.
#[test]
fn ch5_2_partitioned_failover_checkers_stay_within_a_partition() {
    let s = lesson("lag-consistent-prefix");
    let sim = run(&s, s.seed);
    let all: Vec<String> = replsim::check::anomalies(&sim).into_iter().map(|a| a.kind.name().to_string()).collect();
    for k in ["divergence", "lost-write", "key-reuse", "split-brain"] {
        assert!(!all.contains(&k.to_string()), "{k} across partitions is not an anomaly: {all:?}");
    }
    // Each partition holds only its own rows.
    let n1 = sim.protocol.single_leader().expect("single-leader run").nodes.iter().position(|n| n.id == "n1").unwrap();
    let m1 = sim.protocol.single_leader().expect("single-leader run").nodes.iter().position(|n| n.id == "m1").unwrap();
    assert_eq!(sim.protocol.single_leader().expect("single-leader run").nodes[n1].db.rows("messages").len(), 1);
    assert_eq!(sim.protocol.single_leader().expect("single-leader run").nodes[m1].db.rows("messages").len(), 1);
}

// DDIA 5.2 consistent prefix reads: the rule on a hand-written history (a causal chain across two partitions).
#[test]
fn ch5_2_consistent_prefix_rule_on_a_hand_written_history() {
    // Two partitions: write #0 (p0, lsn 1) by ann; carol reads it (#1) then writes #2 (p1, lsn 1);
    // an observer's read #3 sees p1 at 1 but p0 at 0.
    let mut w0 = write(0, 1, 10, 20);
    w0.result.as_mut().unwrap().served = vec![(0, 1)];
    let mut r1 = read(1, 0, 1, 25, 30);
    r1.result.as_mut().unwrap().served = vec![(0, 1)];
    let mut w2 = write(1, 1, 35, 40);
    w2.result.as_mut().unwrap().served = vec![(1, 1)];
    let mut r3 = read(0, 1, 0, 50, 60);
    r3.result.as_mut().unwrap().served = vec![(0, 0), (1, 1)];
    let mut sim = hand(vec![w0.clone(), r1.clone(), w2.clone(), r3]);
    sim.clients[0].user = "observer".into();
    let found = kinds(&sim);
    assert!(found.contains(&"consistent-prefix".to_string()), "{found:?}");
    // Without the causal read, the two writes are concurrent: no consistent-prefix anomaly.
    let mut r3b = read(0, 1, 0, 50, 60);
    r3b.result.as_mut().unwrap().served = vec![(0, 0), (1, 1)];
    let _ = r1;
    let sim = hand(vec![w0, w2, r3b]);
    assert!(!kinds(&sim).contains(&"consistent-prefix".to_string()));
}
