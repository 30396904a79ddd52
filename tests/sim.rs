//! Simulation tests: determinism, convergence, faults, playback. Every randomized test prints the seed that
//! reproduces a failure.

use replsim::library;
use replsim::link::LinkState;
use replsim::playback::Playback;
use replsim::protocol::single_leader::Status;
use replsim::report::{anomalies, report_json};
use replsim::scenario::{Command, LinkSpec, Mode, Scenario};
use replsim::world::sim::Simulation;
use replsim::world::trace::TraceEvent;

mod common;
use common::{lesson, run};

fn rows(sim: &Simulation, node: usize, table: &str) -> Vec<Vec<(String, replsim::sql::Value)>> {
    sim.protocol.single_leader().expect("single-leader run").nodes[node].db.rows(table)
}

// Determinism: a run is a pure function of (scenario, seed, commands).
#[test]
fn same_seed_gives_same_trace_hash() {
    let s = lesson("lossy-network");
    let a = run(&s, 11);
    let b = run(&s, 11);
    assert_eq!(a.trace.hash(), b.trace.hash(), "seed 11");
    assert_eq!(a.trace.events(), b.trace.events(), "seed 11");
}

#[test]
fn another_seed_with_random_latency_gives_another_trace() {
    let s = lesson("basics-async");
    assert_ne!(run(&s, 1).trace.hash(), run(&s, 2).trace.hash());
}

// DDIA 5.1 leaders and followers: writes go to the leader, which ships them to every follower in order.
#[test]
fn ch5_1_fault_free_async_cluster_converges() {
    let s = lesson("basics-async");
    let sim = run(&s, s.seed);
    let leader_rows = rows(&sim, 0, "users");
    assert_eq!(leader_rows.len(), 16);
    for f in 1..sim.protocol.single_leader().expect("single-leader run").nodes.len() {
        assert_eq!(
            sim.protocol.single_leader().expect("single-leader run").nodes[f].lsn(),
            sim.protocol.single_leader().expect("single-leader run").nodes[0].lsn(),
            "follower {f} lsn"
        );
        assert_eq!(rows(&sim, f, "users"), leader_rows, "follower {f} rows");
    }
    assert!(anomalies(&sim).is_empty());
}

// DDIA 5.1 follower failure: catch-up recovery from the durable log position.
#[test]
fn ch5_1_crashed_follower_catches_up_after_restart() {
    let s = lesson("follower-catch-up");
    let mut sim = Simulation::new(&s, s.seed, &[]).unwrap();
    sim.run_until(1_700_000);
    assert_eq!(sim.protocol.single_leader().expect("single-leader run").nodes[2].status, Status::Crashed);
    let behind = sim.protocol.single_leader().expect("single-leader run").nodes[0].lsn()
        - sim.protocol.single_leader().expect("single-leader run").nodes[2].lsn();
    assert!(behind >= 5, "n3 should have missed writes while down, missed {behind}");
    let before_crash = sim.protocol.single_leader().expect("single-leader run").nodes[2].lsn();
    assert!(before_crash > 0, "n3 applied some entries before crashing, and keeps them");
    sim.run_to_end();
    assert_eq!(
        sim.protocol.single_leader().expect("single-leader run").nodes[2].lsn(),
        sim.protocol.single_leader().expect("single-leader run").nodes[0].lsn()
    );
    assert_eq!(rows(&sim, 2, "users"), rows(&sim, 0, "users"));
    let fetched = sim.trace.events().iter().any(|e| matches!(e, replsim::world::trace::TraceEvent::Sent { from, kind: replsim::world::trace::MsgKind::Fetch, .. } if &**from == "n3"));
    assert!(fetched, "the restarted follower asks for what it missed");
}

// DDIA 5.1 follower failure: a follower cut off by a partition catches up once the network heals.
#[test]
fn ch5_1_partitioned_follower_converges_after_heal() {
    let s = lesson("partition-heal");
    let mut sim = Simulation::new(&s, s.seed, &[]).unwrap();
    sim.run_until(1_500_000);
    assert!(
        sim.protocol.single_leader().expect("single-leader run").nodes[2].lsn()
            < sim.protocol.single_leader().expect("single-leader run").nodes[0].lsn(),
        "cut off from the leader, n3 falls behind"
    );
    sim.run_to_end();
    assert_eq!(rows(&sim, 2, "users"), rows(&sim, 0, "users"));
}

// DDIA 5.1 leaders and followers: followers apply the log in LSN order, exactly once, whatever the network loses,
// duplicates or reorders (retransmission fills the gaps).
#[test]
fn ch5_1_lossy_reordering_network_still_converges() {
    let s = lesson("lossy-network");
    for seed in 0..20 {
        let sim = run(&s, seed);
        for f in 1..3 {
            assert_eq!(rows(&sim, f, "users"), rows(&sim, 0, "users"), "seed {seed}, follower {f}");
        }
    }
}

/// How often a message reached its end (delivered or dropped) after a message sent later: on the same directed link,
/// and on another one. Service discovery's announcements to clients are left out: they are held back on purpose
/// (`discovery_ms`), off the link.
fn overtakes(sim: &Simulation) -> (usize, usize) {
    use replsim::world::trace::MsgKind;
    let clients: Vec<&str> = sim.clients.iter().map(|c| c.id.as_str()).collect();
    let mut newest_on_link: std::collections::BTreeMap<(String, String), u64> = Default::default();
    let (mut same, mut other, mut newest) = (0, 0, None);
    for e in sim.trace.events() {
        let (msg, from, to) = match e {
            TraceEvent::Delivered { msg, from, to, kind, .. } | TraceEvent::Dropped { msg, from, to, kind, .. }
                if !(*kind == MsgKind::Election && clients.contains(&&**to)) =>
            {
                (*msg, from.to_string(), to.to_string())
            }
            _ => continue,
        };
        let last = newest_on_link.entry((from, to)).or_insert(msg);
        if msg < *last {
            same += 1;
        } else if newest.is_some_and(|n| msg < n) {
            other += 1;
        }
        *last = (*last).max(msg);
        newest = newest.max(Some(msg));
    }
    (same, other)
}

// Links keep order, as the TCP connections PostgreSQL and MySQL replicate over do: in every lesson, with the reorder
// knob at 0, no message on a directed link arrives (or is dropped) before one sent earlier on it, whatever the
// jitter, loss, duplication, crashes, pauses and cuts. Messages on different links still overtake each other (which
// DDIA 5.2's consistent prefix anomaly needs), and the knob still reorders a link when it is set.
#[test]
fn every_link_keeps_order_unless_the_reorder_knob_is_set() {
    let mut across = 0;
    for l in library::LESSONS {
        let mut s = lesson(l.name);
        s.network.reorder = 0.0;
        s.network.links.iter_mut().for_each(|link| link.reorder = None);
        let sim = run(&s, s.seed);
        let (same, other) = overtakes(&sim);
        assert_eq!(same, 0, "{}: a link reordered its messages", l.name);
        across += other;
    }
    assert!(across > 0, "messages on different links overtake each other");
    let s = lesson("lossy-network");
    assert!(s.network.reorder > 0.0);
    for seed in 0..5 {
        assert!(overtakes(&run(&s, seed)).0 > 0, "seed {seed}: reorder {} reorders", s.network.reorder);
    }
}

// DDIA 5.1 synchronous replication: a dead synchronous follower blocks every write.
#[test]
fn ch5_1_sync_mode_blocks_writes_while_a_follower_is_down() {
    let s = lesson("sync-blocks");
    let mut sim = Simulation::new(&s, s.seed, &[]).unwrap();
    sim.run_until(1_800_000);
    let waiting = sim.protocol.single_leader().expect("single-leader run").nodes[0].waiting_writes();
    assert!(waiting > 0, "writes after the crash wait for n3");
    let acked_during_outage =
        sim.history.iter().filter(|h| h.start > 800_000 && h.end.is_some_and(|e| e < 1_800_000) && h.ok()).count();
    assert_eq!(acked_during_outage, 0, "no write is acknowledged while a sync follower is down");
    sim.run_to_end();
    assert_eq!(
        sim.protocol.single_leader().expect("single-leader run").nodes[0].waiting_writes(),
        0,
        "after the restart, held writes complete"
    );
}

// DDIA 5.1 asynchronous replication: the leader acknowledges before followers have the write.
#[test]
fn ch5_1_async_acknowledges_before_followers_apply() {
    let s = clients_beside_the_leader(Mode::Async);
    let sim = run(&s, s.seed);
    let writes = acks_and_applies(&sim);
    assert_eq!(writes.len(), 16, "every write of the lesson is acknowledged");
    for (lsn, acked, applied) in writes {
        assert_eq!(applied.len(), 2, "lsn {lsn}: both followers apply it");
        // The answer left the leader at its commit; each follower is at least 10 ms away.
        assert!(applied.iter().all(|a| acked < *a), "lsn {lsn}: acked at {acked}, applied at {applied:?}");
    }
}

// DDIA 5.1 synchronous replication: the counterpart, so the comparison above is known to tell the modes apart.
#[test]
fn ch5_1_sync_acknowledges_after_every_follower_applied() {
    let s = clients_beside_the_leader(Mode::Sync);
    let sim = run(&s, s.seed);
    let writes = acks_and_applies(&sim);
    assert_eq!(writes.len(), 16);
    for (lsn, acked, applied) in writes {
        assert_eq!(applied.len(), 2, "lsn {lsn}: both followers apply it");
        assert!(applied.iter().all(|a| *a < acked), "lsn {lsn}: acked at {acked}, applied at {applied:?}");
    }
}

/// basics-async with both clients 1 ms from the leader (the followers stay 10-40 ms away): when the client hears
/// the answer is then decided by when the leader sent it, not by the luck of the latency draws.
fn clients_beside_the_leader(mode: Mode) -> Scenario {
    let mut s = lesson("basics-async");
    s.replication.mode = mode;
    for client in ["alice", "bob"] {
        s.network.links.push(LinkSpec {
            from: "n1".into(),
            to: client.into(),
            both_ways: true,
            latency_ms: Some((1, 1)),
            loss: None,
            duplicate: None,
            reorder: None,
        });
    }
    s
}

/// For each acknowledged write: its LSN, when the client got the acknowledgement (`WriteAcked`), and when each
/// follower applied that LSN (`Applied`).
fn acks_and_applies(sim: &Simulation) -> Vec<(u64, u64, Vec<u64>)> {
    let events = sim.trace.events();
    events
        .iter()
        .filter_map(|e| match e {
            TraceEvent::WriteAcked { at, lsn, .. } => Some((*lsn, *at)),
            _ => None,
        })
        .map(|(lsn, acked)| {
            let applied = events
                .iter()
                .filter_map(|e| match e {
                    TraceEvent::Applied { at, lsn: l, .. } if *l == lsn => Some(*at),
                    _ => None,
                })
                .collect();
            (lsn, acked, applied)
        })
        .collect()
}

// DDIA 5.1 statement-based replication: RAND() is evaluated again on each follower.
#[test]
fn ch5_1_statement_log_with_rand_diverges_and_substitution_fixes_it() {
    let mut s = lesson("statement-rand");
    let sim = run(&s, s.seed);
    let found = anomalies(&sim);
    assert!(found.iter().any(|a| a.kind.name() == "divergence"), "seed {}", s.seed);
    assert!(found.iter().all(|a| !a.ops.is_empty()), "divergence names the writes behind it");
    s.replication.statement_substitution = true;
    let fixed = run(&s, s.seed);
    assert!(anomalies(&fixed).is_empty(), "with substitution the replicas agree");
    s.replication.statement_substitution = false;
    s.replication.log = replsim::scenario::LogKind::Logical;
    assert!(anomalies(&run(&s, s.seed)).is_empty(), "a logical log ships the values");
}

// DDIA 5.1 leaders and followers: followers are read-only from the client's point of view.
#[test]
fn ch5_1_followers_refuse_client_writes() {
    // Lessons ship minified: `"clients":[` is where the list starts.
    let text =
        library::LESSONS[0].json.replace("\"clients\":[", "\"clients\":[{\"id\":\"rogue\",\"route\":\"leader\"},");
    assert!(text.contains("rogue"), "the lesson has a client list");
    let s = Scenario::from_json_str(&text).unwrap();
    let mut sim = Simulation::new(&s, 1, &[]).unwrap();
    sim.run_until(10);
    sim.protocol.single_leader_mut().expect("single-leader run").clients[0].target = 1; // pretend the client was misrouted to n2
    sim.protocol.single_leader_mut().expect("single-leader run").clients[0].targets[0] = 1;
    let cmd = replsim::scenario::TimedCommand {
        at: 20,
        command: Command::Sql { client: "rogue".into(), sql: "INSERT INTO users (name) VALUES ('x')".into() },
    };
    sim.set_commands(std::rc::Rc::new(replsim::world::sim::Commands::only(vec![cmd])));
    sim.run_until(200_000);
    let h = &sim.history[0];
    let err = h.result.as_ref().and_then(|r| r.error.clone()).unwrap();
    assert!(matches!(&err, replsim::protocol::OpError::NotLeader { node } if node == "n2"), "{err}");
    assert!(err.to_string().contains("read-only follower"), "{err}");
}

// Playback: seeking anywhere gives exactly the world a straight run reaches.
#[test]
fn seeking_backwards_and_forwards_matches_a_straight_run() {
    let s = lesson("follower-catch-up");
    let mut straight = Simulation::new(&s, s.seed, &[]).unwrap();
    straight.run_until(1_234_567);
    let mut p = Playback::new(s.clone(), s.seed, Vec::new()).unwrap();
    p.seek(2_500_000);
    p.seek(300_000);
    p.seek(1_234_567);
    assert_eq!(p.sim().trace.hash(), straight.trace.hash());
    assert_eq!(p.sim().trace.events(), straight.trace.events());
}

#[test]
fn a_persons_commands_replay_exactly_from_a_share_link() {
    let s = lesson("basics-async");
    let mut p = Playback::new(s.clone(), 99, Vec::new()).unwrap();
    p.seek(400_000);
    p.command(Command::Crash("n2".into()));
    p.seek(900_000);
    p.command(Command::Sql { client: "alice".into(), sql: "INSERT INTO users (name) VALUES ('zoe')".into() });
    p.seek(1_500_000);
    p.command(Command::Restart("n2".into()));
    p.seek(2_900_000);
    let live = p.sim().trace.hash();
    let link = LinkState {
        scenario: s.clone(),
        seed: 99,
        commands: p.user_commands().to_vec(),
        at: p.now(),
        panes: Vec::new(),
    };
    let decoded = LinkState::decode(&format!("#{}", link.encode())).unwrap();
    assert_eq!(decoded, link);
    let mut replay = Playback::new(decoded.scenario, decoded.seed, decoded.commands).unwrap();
    replay.seek(decoded.at);
    assert_eq!(replay.sim().trace.hash(), live);
    assert_eq!(report_json(replay.sim()), report_json(p.sim()));
}

#[test]
fn a_new_command_discards_the_persons_later_commands() {
    let s = lesson("basics-async");
    let mut p = Playback::new(s, 3, Vec::new()).unwrap();
    p.seek(1_000_000);
    p.command(Command::Crash("n3".into()));
    p.seek(500_000);
    p.command(Command::Crash("n2".into()));
    assert_eq!(p.user_commands().len(), 1);
    p.seek(1_200_000);
    assert_eq!(
        p.sim().protocol.single_leader().expect("single-leader run").nodes[2].status,
        Status::Running,
        "the discarded crash of n3 never happens"
    );
    assert_eq!(p.sim().protocol.single_leader().expect("single-leader run").nodes[1].status, Status::Crashed);
}

#[test]
fn pause_holds_messages_until_resume() {
    let s = lesson("leader-pause");
    let mut sim = Simulation::new(&s, s.seed, &[]).unwrap();
    sim.run_until(1_000_000);
    assert_eq!(sim.protocol.single_leader().expect("single-leader run").nodes[0].status, Status::Paused);
    let lsn_during = sim.protocol.single_leader().expect("single-leader run").nodes[0].lsn();
    sim.run_until(1_290_000);
    assert_eq!(
        sim.protocol.single_leader().expect("single-leader run").nodes[0].lsn(),
        lsn_during,
        "a paused leader commits nothing"
    );
    sim.run_to_end();
    assert_eq!(sim.protocol.single_leader().expect("single-leader run").nodes[0].status, Status::Running);
    assert_eq!(rows(&sim, 1, "users"), rows(&sim, 0, "users"));
}

#[test]
fn every_lesson_runs() {
    for l in library::LESSONS {
        let s = library::lesson(l.name).unwrap().unwrap_or_else(|e| panic!("{e}"));
        assert!(s.title.is_some() && s.narration.is_some(), "{} explains itself", l.name);
        let sim = run(&s, s.seed);
        // Leaderless lessons are quiet between operations (no heartbeats): the smallest has 44 events.
        assert!(sim.trace.len() > 30, "{} does something", l.name);
    }
}

#[test]
fn scenario_round_trips_through_json() {
    for l in library::LESSONS {
        let s = library::lesson(l.name).unwrap().unwrap();
        let again = Scenario::from_value(&s.to_json()).unwrap();
        assert_eq!(again, s, "{}", l.name);
    }
}

/// The one-way delay of every message sent from `from` to `to` in the run, in microseconds.
fn delays(sim: &Simulation, from: &str, to: &str) -> Vec<u64> {
    sim.trace
        .events()
        .iter()
        .filter_map(|e| match e {
            replsim::world::trace::TraceEvent::Sent { at, from: f, to: t, deliver_at, .. }
                if &**f == from && &**t == to =>
            {
                Some(deliver_at - at)
            }
            _ => None,
        })
        .collect()
}

// Per-link settings (`network.links`): a replica in another region is slow on its own links only.
#[test]
fn a_link_of_its_own_is_slow_and_the_others_are_not() {
    let s = lesson("far-follower");
    let sim = run(&s, s.seed);
    let far = delays(&sim, "n1", "n3");
    let near = delays(&sim, "n1", "n2");
    assert!(!far.is_empty() && !near.is_empty());
    assert!(far.iter().all(|d| (80_000..=110_000).contains(d)), "n1->n3 follows its link: {far:?}");
    assert!(delays(&sim, "n3", "n1").iter().all(|d| (80_000..=110_000).contains(d)), "between: both directions");
    assert!(near.iter().all(|d| (2_000..=6_000).contains(d)), "n1->n2 keeps the network's latency: {near:?}");
}

// DDIA 5.1: a synchronous follower far away makes every write wait for a long round trip.
#[test]
fn ch5_1_semi_sync_falling_back_to_a_distant_follower_slows_every_write() {
    let s = lesson("far-follower");
    let sim = run(&s, s.seed);
    // A write with n3 synchronous needs at most 2 x 6 ms (client) + 2 x 110 ms (n3) = 232 ms: one sent later than
    // 250 ms before the end may be cut off by the end of the run, so it says nothing about the latency.
    let last_start = s.until_ms * 1_000 - 250_000;
    let latency = |from: u64, to: u64| -> Vec<u64> {
        sim.history
            .iter()
            .filter(|h| !h.read && h.start >= from && h.start < to.min(last_start))
            .map(|h| h.end.expect("every write with time to finish is answered") - h.start)
            .collect()
    };
    let before = latency(0, 1_200_000);
    let after = latency(1_500_000, u64::MAX);
    assert!(before.len() >= 5 && after.len() >= 5, "writes on both sides of the crash: {before:?} {after:?}");
    assert!(before.iter().all(|l| *l < 40_000), "n2 nearby confirms: {before:?}");
    assert!(after.iter().all(|l| *l > 160_000), "n3 across the ocean confirms: {after:?}");
}

// The network can change during a run, per link too, and a link entry changes only the fields it sets.
#[test]
fn link_settings_change_during_a_run() {
    let mut s = lesson("basics-async");
    let v = serde_json::json!({"at_ms": 500, "network": {"latency_ms": {"min": 5, "max": 20},
        "links": [{"from": "n1", "to": "n2", "latency_ms": 300}, {"between": ["n1", "n2"], "loss": 0.0}]}});
    let names = replsim::scenario::Names::new(&s.nodes, &s.clients, &[]);
    let cmd = replsim::scenario::TimedCommand::from_value(&v, "faults[0]", &names).unwrap();
    assert_eq!(cmd.command.label(), "network 5-20ms loss 0, n1->n2 300-300ms, n1-n2 loss 0");
    s.faults.push(cmd);
    let sim = run(&s, s.seed);
    let sent_after = |from: &str, to: &str| -> Vec<u64> {
        sim.trace
            .events()
            .iter()
            .filter_map(|e| match e {
                replsim::world::trace::TraceEvent::Sent { at, from: f, to: t, deliver_at, .. }
                    if &**f == from && &**t == to && *at >= 500_000 =>
                {
                    Some(deliver_at - at)
                }
                _ => None,
            })
            .collect()
    };
    assert!(delays(&sim, "n1", "n2").iter().any(|d| *d <= 20_000), "before the change: the network's latency");
    let slow = sent_after("n1", "n2");
    assert!(!slow.is_empty() && slow.iter().all(|d| *d == 300_000), "from n1 to n2 only: {slow:?}");
    assert!(sent_after("n2", "n1").iter().all(|d| *d <= 20_000), "the other direction is unchanged");
    let again = Scenario::from_value(&s.to_json()).unwrap();
    assert_eq!(again, s, "links survive the JSON round trip");
}

/// Seeking through checkpoints (back, and forward past now to a later checkpoint) lands on exactly the world a
/// straight run reaches: the same trace (hash and kept events), history and rows; and a long run keeps few
/// checkpoints, spaced by work.
#[test]
fn playback_seeks_through_checkpoints_to_the_exact_world() {
    use replsim::world::sim::Simulation;
    let scenario = replsim::bench::long_run_scenario(30, 20);
    let straight = |t: u64| {
        let mut s = Simulation::new(&scenario, 42, &[]).expect("the benchmark scenario runs");
        s.run_until(t);
        s
    };
    let mut p = Playback::new(scenario.clone(), 42, Vec::new()).expect("the benchmark scenario runs");
    p.seek(30_000_000);
    let n = p.checkpoint_count();
    assert!((3..=60).contains(&n), "{n} checkpoints for 30 s of a write every 20 ms");
    for t in [29_000_000, 1_234_567, 17_500_001, 9_000_000, 25_000_000, 0, 30_000_000] {
        p.seek(t);
        let want = straight(t);
        let got = p.sim();
        assert_eq!(got.now(), want.now(), "seek to {t}");
        assert_eq!(got.trace.hash(), want.trace.hash(), "trace hash after seeking to {t}");
        assert_eq!(got.trace.events(), want.trace.events(), "kept trace after seeking to {t}");
        assert_eq!(got.history.to_vec(), want.history.to_vec(), "history after seeking to {t}");
        let rows = |s: &Simulation| {
            s.protocol
                .single_leader()
                .expect("single-leader run")
                .nodes
                .iter()
                .map(|n| n.db.rows("kv"))
                .collect::<Vec<_>>()
        };
        assert_eq!(rows(got), rows(&want), "rows after seeking to {t}");
    }
}

/// The streamed JSON report (`replsim run`) is byte for byte the report's JSON value, for every lesson.
#[test]
fn streamed_report_is_the_report_json() {
    for lesson in replsim::library::LESSONS {
        let sim = replsim::run_scenario(lesson.json, None, None, true).expect("lesson runs");
        let mut out = Vec::new();
        replsim::report::write_report_json(&sim, &mut out).expect("written to memory");
        assert_eq!(String::from_utf8(out).expect("utf-8"), report_json(&sim).to_string(), "{}", lesson.name);
    }
}

/// `replsim run` keeps no trace events (a report needs only their hash and count): every lesson's report, text and
/// JSON, is the same as with the whole trace kept.
#[test]
fn a_report_without_the_kept_trace_is_the_same_report() {
    for lesson in replsim::library::LESSONS {
        let kept = replsim::run_scenario(lesson.json, None, None, true).expect("lesson runs");
        let hashed = replsim::run_scenario(lesson.json, None, None, false).expect("lesson runs");
        assert!(hashed.trace.events().is_empty() && !kept.trace.is_empty(), "{}", lesson.name);
        assert_eq!(report_json(&hashed), report_json(&kept), "{}", lesson.name);
        assert_eq!(replsim::report::report_text(&hashed), replsim::report::report_text(&kept), "{}", lesson.name);
    }
}
