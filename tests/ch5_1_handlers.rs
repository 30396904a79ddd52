//! DDIA 5.1 "Handling Node Outages", one handler at a time: `Node`s built directly, fed one input each, and the
//! exact effects asserted (messages with their payloads, timers, notes). These pin what the protocol does today:
//! elections and votes, stepping down, fencing, snapshots for new followers, a controller's appointment and a planned
//! handover. The cluster is n1 (index 0, the leader of epoch 1), n2 and n3; timeouts are 500 ms, heartbeats 50 ms.

use std::ops::RangeInclusive;
use std::rc::Rc;

use replsim::protocol::single_leader::{
    Effect, Endpoint, Joining, Node, NodeConfig, Note, OpError, OpResult, Payload, Timer,
};
use replsim::scenario::{ClockSpec, Election, FailoverSpec, LogKind, Mode, Role, TriggerSpec};

const SCHEMA: &str = "CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT, v TEXT)";

/// Async, logical log, automatic failover with epochs (the defaults: timeout 500 ms, no fencing).
fn cfg() -> NodeConfig {
    NodeConfig {
        mode: Mode::Async,
        log: LogKind::Logical,
        heartbeat: 50_000,
        statement_substitution: false,
        semi_sync_timeout: 200_000,
        log_retention: 1_000,
        failover: FailoverSpec { auto: true, ..FailoverSpec::default() },
        controller: None,
        statement_mixed: false,
        trigger: TriggerSpec::default(),
        replicator: None,
        caches: false,
    }
}

/// A replica of the cluster `members`, following (or being) n1 in epoch 1, with the schema in place.
fn replica(index: usize, role: Role, members: &[usize]) -> Node {
    let mut n = Node::new(index, &format!("n{}", index + 1), role, ClockSpec::default(), 0, 1);
    n.members = members.to_vec();
    n.leader = Some(0);
    n.epoch = 1;
    n.bootstrap(SCHEMA).unwrap();
    n
}

fn leader() -> Node {
    replica(0, Role::Leader, &[0, 1, 2])
}

fn follower(index: usize) -> Node {
    replica(index, Role::Follower, &[0, 1, 2])
}

fn send(to: usize, payload: Payload) -> Effect {
    Effect::Send { to: Endpoint::Node(to), payload }
}

fn note(n: Note) -> Effect {
    Effect::Note(n)
}

fn insert(op: usize, v: &str) -> Payload {
    Payload::Request { op, sql: format!("INSERT INTO t (v) VALUES ('{v}')"), min_lsn: 0, max_lag: None }
}

/// The replicate message the leader `l` of epoch 1 ships with its entries `lsns`.
fn replicate(l: &Node, lsns: RangeInclusive<u64>, leader_lsn: u64, prev_epoch: u64) -> Payload {
    let entries = lsns.map(|lsn| l.entry(lsn).expect("retained").clone()).collect();
    Payload::Replicate { epoch: 1, entries, leader_lsn, prev_epoch }
}

fn vote_request(epoch: u64, last_lsn: u64, last_epoch: u64) -> Payload {
    Payload::VoteRequest { epoch, last_lsn, last_epoch }
}

// ----- votes -----

// DDIA 5.1 failover (choosing a new leader): a replica that no longer hears its leader votes for a candidate of a
// newer epoch whose log is at least as up to date as its own, and moves to that epoch.
#[test]
fn ch5_1_vote_granted_to_an_up_to_date_candidate_of_a_newer_epoch() {
    let c = cfg();
    let mut n2 = follower(1);
    n2.on_start(0, &c);
    // Last heard from n1 at 0: at 600 ms the leader is presumed dead (timeout 500 ms).
    let out = n2.on_message(600_000, Endpoint::Node(2), vote_request(2, 0, 0), &c);
    assert_eq!(out, vec![send(2, Payload::Vote { epoch: 2, granted: true })]);
    assert_eq!(n2.epoch, 2, "the voter moves to the candidate's epoch");
    assert_eq!(n2.leader, None, "and no longer believes in the old leader");
}

// DDIA 5.1 failover: a candidate of an epoch older than one the replica already knows gets no vote.
#[test]
fn ch5_1_vote_refused_to_a_candidate_of_a_stale_epoch() {
    let c = cfg();
    let mut n2 = follower(1);
    n2.on_start(0, &c);
    // n2 hears from n3, the leader of epoch 3 (it fetches from its new leader and acknowledges).
    let out = n2.on_message(10, Endpoint::Node(2), Payload::Heartbeat { epoch: 3, leader_lsn: 0 }, &c);
    assert_eq!(
        out,
        vec![
            send(2, Payload::Fetch { epoch: 3, after_lsn: 0, last_epoch: 0 }),
            send(2, Payload::Ack { epoch: 3, lsn: 0 }),
        ]
    );
    // Long after n3 went quiet, the old leader n1 stands for epoch 2: too old.
    let out = n2.on_message(700_000, Endpoint::Node(0), vote_request(2, 0, 0), &c);
    assert_eq!(out, vec![send(0, Payload::Vote { epoch: 3, granted: false })]);
    assert_eq!(n2.epoch, 3);
}

// DDIA 5.1 failover: "the best candidate is usually the replica with the most up-to-date data" — a replica refuses
// a candidate whose log is behind its own, comparing the last entry's epoch first, then the LSN.
#[test]
fn ch5_1_vote_refused_to_a_candidate_with_a_less_up_to_date_log() {
    let c = cfg();
    let mut l = leader();
    l.on_start(0, &c);
    l.on_message(5, Endpoint::Client(0), insert(0, "a"), &c);
    let mut n2 = follower(1);
    n2.on_start(0, &c);
    let batch = replicate(&l, 1..=1, 1, 0);
    let out = n2.on_message(10, Endpoint::Node(0), batch, &c);
    assert_eq!(out, vec![note(Note::Applied { lsn: 1 }), send(0, Payload::Ack { epoch: 1, lsn: 1 })]);
    assert_eq!((n2.last_epoch(), n2.lsn()), (1, 1));
    // n3 never got lsn 1.
    let out = n2.on_message(600_000, Endpoint::Node(2), vote_request(2, 0, 0), &c);
    assert_eq!(out, vec![send(2, Payload::Vote { epoch: 2, granted: false })]);
    assert_eq!(n2.epoch, 2, "a refusal still moves the replica to the newer epoch");
    // More entries, but of an older epoch, are less up to date than one entry of epoch 1.
    let out = n2.on_message(610_000, Endpoint::Node(2), vote_request(3, 5, 0), &c);
    assert_eq!(out, vec![send(2, Payload::Vote { epoch: 3, granted: false })]);
    // An equal log gets the vote.
    let out = n2.on_message(620_000, Endpoint::Node(2), vote_request(4, 1, 1), &c);
    assert_eq!(out, vec![send(2, Payload::Vote { epoch: 4, granted: true })]);
}

// DDIA 5.1 failover: one vote per replica per epoch, so two candidates of the same epoch cannot both win.
#[test]
fn ch5_1_vote_refused_after_voting_for_another_candidate_in_the_same_epoch() {
    let c = cfg();
    let mut n2 = follower(1);
    n2.on_start(0, &c);
    let out = n2.on_message(600_000, Endpoint::Node(2), vote_request(2, 0, 0), &c);
    assert_eq!(out, vec![send(2, Payload::Vote { epoch: 2, granted: true })]);
    let out = n2.on_message(601_000, Endpoint::Node(0), vote_request(2, 0, 0), &c);
    assert_eq!(out, vec![send(0, Payload::Vote { epoch: 2, granted: false })], "n2 already voted for n3 in epoch 2");
    // The same candidate asking again (its request or the answer was lost) gets the same answer.
    let out = n2.on_message(602_000, Endpoint::Node(2), vote_request(2, 0, 0), &c);
    assert_eq!(out, vec![send(2, Payload::Vote { epoch: 2, granted: true })]);
}

// DDIA 5.1 failover: a replica that hears from a live leader does not help depose it (a node cut off for a while
// must not take over just because its own timer ran out).
#[test]
fn ch5_1_vote_refused_while_the_leader_is_alive() {
    let c = cfg();
    let mut n2 = follower(1);
    n2.on_start(0, &c);
    n2.on_message(100_000, Endpoint::Node(0), Payload::Heartbeat { epoch: 1, leader_lsn: 0 }, &c);
    let out = n2.on_message(300_000, Endpoint::Node(2), vote_request(2, 0, 0), &c);
    assert_eq!(out, vec![send(2, Payload::Vote { epoch: 1, granted: false })]);
    assert_eq!((n2.epoch, n2.leader), (1, Some(0)), "nothing changes");
}

// ----- elections -----

// DDIA 5.1 failover: a follower whose election deadline passes stands in a new epoch and becomes leader once a
// majority of the replicas (itself included) voted for it; it announces itself with heartbeats.
#[test]
fn ch5_1_candidate_with_a_majority_becomes_leader() {
    let c = cfg();
    let mut n2 = replica(1, Role::Follower, &[0, 1, 2, 3, 4]);
    n2.on_start(0, &c);
    // The deadline is last heard (0) + timeout + a jitter in [0, timeout]: never before 500 ms, always by 1 s.
    assert_eq!(n2.on_timer(499_999, Timer::Election, &c), vec![]);
    let out = n2.on_timer(1_000_000, Timer::Election, &c);
    let ask = vote_request(2, 0, 0);
    assert_eq!(
        out,
        vec![
            note(Note::ElectionStarted { epoch: 2 }),
            send(0, ask.clone()),
            send(2, ask.clone()),
            send(3, ask.clone()),
            send(4, ask),
        ]
    );
    assert!(n2.is_candidate());
    assert_eq!(n2.epoch, 2);
    // A refusal counts for nothing; its own vote and one more are two of five: not yet a majority.
    assert_eq!(n2.on_message(1_010_000, Endpoint::Node(3), Payload::Vote { epoch: 2, granted: false }, &c), vec![]);
    assert_eq!(n2.on_message(1_020_000, Endpoint::Node(2), Payload::Vote { epoch: 2, granted: true }, &c), vec![]);
    assert_eq!(n2.role, Role::Follower);
    // The third vote of five wins.
    let out = n2.on_message(1_030_000, Endpoint::Node(4), Payload::Vote { epoch: 2, granted: true }, &c);
    let hb = Payload::Heartbeat { epoch: 2, leader_lsn: 0 };
    assert_eq!(
        out,
        vec![
            note(Note::BecameLeader { epoch: 2 }),
            send(0, hb.clone()),
            send(2, hb.clone()),
            send(3, hb.clone()),
            send(4, hb),
        ]
    );
    assert_eq!((n2.role, n2.leader, n2.leader_since), (Role::Leader, Some(1), Some((2, 1_030_000))));
    assert!(!n2.is_candidate());
}

// ----- stepping down -----

// DDIA 5.1 failover: "the system needs to ensure that the old leader becomes a follower and recognizes the new
// leader" — a leader that hears from the leader of a newer epoch steps down and follows it, and the new leader
// tells it to discard the write it never replicated.
#[test]
fn ch5_1_leader_steps_down_on_a_newer_epoch_and_discards_its_unreplicated_write() {
    let c = cfg();
    let mut old = leader();
    old.on_start(0, &c);
    // n1 commits lsn 1, but the replicate messages never arrive.
    old.on_message(10, Endpoint::Client(0), insert(0, "lost"), &c);
    // An administrator promotes n2 in epoch 2.
    let mut n2 = follower(1);
    n2.on_start(0, &c);
    let out = n2.force_promote(2, 1_000_000, &c);
    let hb = Payload::Heartbeat { epoch: 2, leader_lsn: 0 };
    assert_eq!(out, vec![note(Note::BecameLeader { epoch: 2 }), send(0, hb.clone()), send(2, hb.clone())]);
    // n1 hears n2's heartbeat: it steps down, asks n2 for what comes after its own log, and reports its position.
    let out = old.on_message(1_010_000, Endpoint::Node(1), hb, &c);
    assert_eq!(
        out,
        vec![
            note(Note::SteppedDown { epoch: 2, reason: "heard from the leader of newer epoch 2".into() }),
            send(1, Payload::Fetch { epoch: 2, after_lsn: 1, last_epoch: 1 }),
            send(1, Payload::Ack { epoch: 2, lsn: 1 }),
        ]
    );
    assert_eq!((old.role, old.leader, old.epoch, old.leader_since), (Role::Follower, Some(1), 2, None));
    // n2 never had lsn 1: the logs agree up to lsn 0.
    let out = n2.on_message(1_020_000, Endpoint::Node(0), Payload::Fetch { epoch: 2, after_lsn: 1, last_epoch: 1 }, &c);
    assert_eq!(out, vec![send(0, Payload::Diverged { epoch: 2, keep_lsn: 0 })]);
    // n1 discards the client write behind lsn 1 (op 0: a lost write) and rebuilds from n2's snapshot.
    let out = old.on_message(1_030_000, Endpoint::Node(1), Payload::Diverged { epoch: 2, keep_lsn: 0 }, &c);
    assert_eq!(
        out,
        vec![
            note(Note::Discarded { from_lsn: 1, to_lsn: 1, ops: vec![0] }),
            send(1, Payload::SnapshotRequest { epoch: 2 }),
        ]
    );
    assert_eq!(old.joining, Some(Joining::Snapshot { received: 0, total: 0, lsn: 0 }));
}

// DDIA 5.1 failover: a replica that knows the newer epoch rejects the old leader's messages, and the old leader,
// told so, steps down and follows the leader the replica names.
#[test]
fn ch5_1_leader_steps_down_when_a_replica_rejects_its_stale_epoch() {
    let c = cfg();
    let mut n3 = follower(2);
    n3.on_start(0, &c);
    n3.on_message(1_000_000, Endpoint::Node(1), Payload::Heartbeat { epoch: 2, leader_lsn: 0 }, &c);
    let mut old = leader();
    old.on_start(0, &c);
    let out = n3.on_message(1_010_000, Endpoint::Node(0), Payload::Heartbeat { epoch: 1, leader_lsn: 0 }, &c);
    let rejected = Payload::Rejected { epoch: 2, leader: Some(1) };
    assert_eq!(out, vec![send(0, rejected.clone())]);
    let out = old.on_message(1_020_000, Endpoint::Node(2), rejected, &c);
    assert_eq!(
        out,
        vec![
            note(Note::SteppedDown {
                epoch: 2,
                reason: "a replica knows newer epoch 2: this node was replaced".into()
            }),
            send(1, Payload::Fetch { epoch: 2, after_lsn: 0, last_epoch: 0 }),
        ]
    );
    assert_eq!((old.role, old.leader, old.epoch), (Role::Follower, Some(1), 2));
}

// ----- fencing -----

// DDIA 5.1 split brain, fencing tokens: without epochs nothing deposes the old leader, but with fencing on a replica
// that has seen token 2 refuses writes stamped with token 1. Without fencing it takes them, and follows the old
// leader again.
#[test]
fn ch5_1_fencing_refuses_the_deposed_leaders_writes() {
    let fenced = NodeConfig {
        failover: FailoverSpec { auto: true, epochs: false, fencing: true, ..FailoverSpec::default() },
        ..cfg()
    };
    let unfenced = NodeConfig { failover: FailoverSpec { fencing: false, ..fenced.failover }, ..cfg() };
    for c in [fenced, unfenced] {
        let mut old = leader();
        old.on_start(0, &c);
        old.on_message(10, Endpoint::Client(0), insert(0, "stale"), &c);
        // n3 follows n2, the newer leader (token 2).
        let mut n3 = follower(2);
        n3.on_start(0, &c);
        let out = n3.on_message(100, Endpoint::Node(1), Payload::Heartbeat { epoch: 2, leader_lsn: 0 }, &c);
        assert_eq!(
            out,
            vec![
                send(1, Payload::Fetch { epoch: 2, after_lsn: 0, last_epoch: 0 }),
                send(1, Payload::Ack { epoch: 2, lsn: 0 }),
            ]
        );
        // The deposed n1 still ships its write, with token 1.
        let stale = replicate(&old, 1..=1, 1, 0);
        let out = n3.on_message(200, Endpoint::Node(0), stale, &c);
        if c.failover.fencing {
            assert_eq!(out, vec![send(0, Payload::Rejected { epoch: 2, leader: Some(1) })]);
            assert_eq!((n3.lsn(), n3.leader), (0, Some(1)), "nothing applied, still following n2");
            assert!(n3.db.rows("t").is_empty());
            // Without epochs the refusal does not make n1 step down: only its writes are kept off the replicas.
            let out = old.on_message(300, Endpoint::Node(2), Payload::Rejected { epoch: 2, leader: Some(1) }, &c);
            assert_eq!(out, vec![]);
            assert_eq!(old.role, Role::Leader);
        } else {
            assert_eq!(
                out,
                vec![
                    send(0, Payload::Fetch { epoch: 2, after_lsn: 0, last_epoch: 0 }),
                    note(Note::Applied { lsn: 1 }),
                    send(0, Payload::Ack { epoch: 2, lsn: 1 }),
                ]
            );
            assert_eq!((n3.lsn(), n3.leader), (1, Some(0)), "the stale write applied; n3 follows n1 again");
        }
    }
}

// ----- new followers -----

// DDIA 5.1 setting up new followers: a consistent snapshot tagged with its log position, copied in chunks while the
// leader goes on writing; the follower installs it and fetches everything after that position.
#[test]
fn ch5_1_new_follower_installs_a_snapshot_and_fetches_after_its_lsn() {
    let c = cfg();
    let mut l = leader();
    l.on_start(0, &c);
    for (op, v) in ["a", "b", "c", "d", "e"].into_iter().enumerate() {
        l.on_message(10 + op as u64, Endpoint::Client(0), insert(op, v), &c);
    }
    assert_eq!(l.lsn(), 5);
    // n4 is added (as the add_node command does): the replicas learn the member, n4 joins by snapshot.
    l.members.push(3);
    let mut n4 = Node::new(3, "n4", Role::Follower, ClockSpec::default(), 0, 1);
    n4.members = vec![0, 1, 2, 3];
    n4.join(Some(0), 1, false);
    let out = n4.on_start(100_000, &c);
    assert_eq!(
        out,
        vec![Effect::SetTimer { at: 150_000, timer: Timer::Tick }, send(0, Payload::SnapshotRequest { epoch: 1 })]
    );
    // The leader takes the snapshot now and starts sending chunks (4 rows each: 5 rows make 2 chunks).
    let out = l.on_message(110_000, Endpoint::Node(3), Payload::SnapshotRequest { epoch: 1 }, &c);
    assert_eq!(out, vec![Effect::SetTimer { at: 110_000, timer: Timer::SendChunk }]);
    let out = l.on_timer(110_000, Timer::SendChunk, &c);
    let snapshot = match &out[..] {
        [Effect::Send {
            to: Endpoint::Node(3),
            payload: Payload::SnapshotChunk { epoch: 1, part: 0, total: 2, snapshot },
        }, Effect::SetTimer { at: 125_000, timer: Timer::SendChunk }] => snapshot.clone(),
        other => panic!("unexpected {other:?}"),
    };
    assert_eq!((snapshot.lsn, snapshot.last_epoch, snapshot.rows), (5, 1, 5));
    assert_eq!(snapshot.db.rows("t"), l.db.rows("t"));
    // A write during the transfer: not in the snapshot, and not shipped to n4, which is not in step.
    let out = l.on_message(112_000, Endpoint::Client(0), insert(5, "f"), &c);
    let to: Vec<Endpoint> = out
        .iter()
        .filter_map(|e| match e {
            Effect::Send { to, .. } => Some(*to),
            _ => None,
        })
        .collect();
    assert_eq!(to, vec![Endpoint::Node(1), Endpoint::Node(2), Endpoint::Client(0)]);
    // The last chunk comes from the same copy: consistent at lsn 5 although the leader is at 6.
    let out = l.on_timer(125_000, Timer::SendChunk, &c);
    match &out[..] {
        [Effect::Send {
            to: Endpoint::Node(3),
            payload: Payload::SnapshotChunk { epoch: 1, part: 1, total: 2, snapshot: same },
        }] => assert!(Rc::ptr_eq(same, &snapshot)),
        other => panic!("unexpected {other:?}"),
    }
    let chunk = |part| Payload::SnapshotChunk { epoch: 1, part, total: 2, snapshot: snapshot.clone() };
    assert_eq!(n4.on_message(120_000, Endpoint::Node(0), chunk(0), &c), vec![]);
    assert_eq!(n4.joining, Some(Joining::Snapshot { received: 1, total: 2, lsn: 5 }));
    // Installed: n4 is at lsn 5 and fetches after it. (It has heard of no leader LSN beyond the snapshot's, since
    // a leader sends no heartbeats to a node it is copying to, so it reports caught up at once, at lsn 5.)
    let out = n4.on_message(140_000, Endpoint::Node(0), chunk(1), &c);
    assert_eq!(
        out,
        vec![
            note(Note::SnapshotInstalled { lsn: 5 }),
            note(Note::CaughtUp { lsn: 5 }),
            send(0, Payload::Fetch { epoch: 1, after_lsn: 5, last_epoch: 1 }),
        ]
    );
    assert_eq!((n4.lsn(), n4.joining.clone()), (5, None));
    assert_eq!(n4.db.rows("t"), snapshot.db.rows("t"));
    // The leader answers with the backlog after lsn 5; n4 applies it and has everything.
    let out = l.on_message(150_000, Endpoint::Node(3), Payload::Fetch { epoch: 1, after_lsn: 5, last_epoch: 1 }, &c);
    let backlog = replicate(&l, 6..=6, 6, 1);
    assert_eq!(out, vec![send(3, backlog.clone())]);
    let out = n4.on_message(160_000, Endpoint::Node(0), backlog, &c);
    assert_eq!(out, vec![note(Note::Applied { lsn: 6 }), send(0, Payload::Ack { epoch: 1, lsn: 6 })]);
    assert_eq!(n4.db.rows("t"), l.db.rows("t"));
}

// ----- controller -----

// DDIA 5.1 failover "by a previously elected controller node": the controller watches every replica's status,
// and when the leader's reports stop for longer than the timeout it appoints the follower with the highest LSN in a
// new epoch, and tells the others.
#[test]
fn ch5_1_controller_appoints_the_most_up_to_date_follower() {
    let c = NodeConfig {
        failover: FailoverSpec { auto: true, election: Election::Controller, ..FailoverSpec::default() },
        controller: Some(3),
        ..cfg()
    };
    let status = |lsn, leading| Payload::Status { epoch: 1, lsn, leading };
    let mut ctl = Node::new(3, "ctl", Role::Controller, ClockSpec::default(), 0, 1);
    ctl.on_start(0, &c);
    assert_eq!(ctl.on_message(100_000, Endpoint::Node(0), status(5, true), &c), vec![]);
    assert_eq!(ctl.on_message(100_000, Endpoint::Node(1), status(3, false), &c), vec![]);
    assert_eq!(ctl.on_message(100_000, Endpoint::Node(2), status(4, false), &c), vec![]);
    assert_eq!(ctl.leader, Some(0), "the controller learns the leader from its reports");
    // The leader reports in time: nothing to do.
    let out = ctl.on_timer(150_000, Timer::Tick, &c);
    assert_eq!(out, vec![Effect::SetTimer { at: 200_000, timer: Timer::Tick }]);
    // n1 crashes; only the followers keep reporting.
    ctl.on_message(700_000, Endpoint::Node(1), status(3, false), &c);
    ctl.on_message(700_000, Endpoint::Node(2), status(4, false), &c);
    let out = ctl.on_timer(700_000, Timer::Tick, &c);
    let announce = Payload::Announce { leader: 2, epoch: 2 };
    assert_eq!(
        out,
        vec![
            Effect::SetTimer { at: 750_000, timer: Timer::Tick },
            note(Note::Appointed { node: 2, epoch: 2 }),
            send(2, Payload::Promote { epoch: 2 }),
            send(0, announce.clone()),
            send(1, announce.clone()),
        ]
    );
    // The appointment is given time to take effect: no second one at the next tick.
    let out = ctl.on_timer(750_000, Timer::Tick, &c);
    assert_eq!(out, vec![Effect::SetTimer { at: 800_000, timer: Timer::Tick }]);
    // The appointee leads epoch 2; the other follower follows it and asks for what it lacks.
    let mut n3 = follower(2);
    n3.on_start(0, &c);
    let out = n3.on_message(710_000, Endpoint::Node(3), Payload::Promote { epoch: 2 }, &c);
    let hb = Payload::Heartbeat { epoch: 2, leader_lsn: 0 };
    assert_eq!(out, vec![note(Note::BecameLeader { epoch: 2 }), send(0, hb.clone()), send(1, hb)]);
    let mut n2 = follower(1);
    n2.on_start(0, &c);
    let out = n2.on_message(710_000, Endpoint::Node(3), announce, &c);
    assert_eq!(out, vec![send(2, Payload::Fetch { epoch: 2, after_lsn: 0, last_epoch: 0 })]);
    assert_eq!((n2.leader, n2.epoch), (Some(2), 2));
}

// DDIA 5.1 failover by a controller: between followers equally up to date, the lower index is appointed.
#[test]
fn ch5_1_controller_breaks_a_tie_by_the_lower_index() {
    let c = NodeConfig {
        failover: FailoverSpec { auto: true, election: Election::Controller, ..FailoverSpec::default() },
        controller: Some(3),
        ..cfg()
    };
    let mut ctl = Node::new(3, "ctl", Role::Controller, ClockSpec::default(), 0, 1);
    ctl.on_message(100_000, Endpoint::Node(0), Payload::Status { epoch: 1, lsn: 4, leading: true }, &c);
    ctl.on_message(700_000, Endpoint::Node(2), Payload::Status { epoch: 1, lsn: 4, leading: false }, &c);
    ctl.on_message(700_000, Endpoint::Node(1), Payload::Status { epoch: 1, lsn: 4, leading: false }, &c);
    let out = ctl.on_timer(700_000, Timer::Tick, &c);
    assert_eq!(out[1], note(Note::Appointed { node: 1, epoch: 2 }));
    assert_eq!(out[2], send(1, Payload::Promote { epoch: 2 }));
}

// ----- planned failover -----

// DDIA 5.1 planned failover: the leader stops taking writes, brings the chosen follower fully up to date, then
// promotes it in a new epoch and follows it; no acknowledged write is lost.
#[test]
fn ch5_1_planned_handover_waits_for_the_successor_to_catch_up() {
    let c = cfg();
    let mut l = leader();
    l.on_start(0, &c);
    let mut n2 = follower(1);
    n2.on_start(0, &c);
    // lsn 1 is shipped, but n2 has not confirmed it.
    l.on_message(10, Endpoint::Client(0), insert(0, "a"), &c);
    let batch = replicate(&l, 1..=1, 1, 0);
    let out = l.begin_handover(1, 20, &c);
    assert_eq!(out, vec![send(1, batch.clone())], "n2 is sent what it has not confirmed");
    // Meanwhile writes are refused, so the successor can catch up with a log that stands still.
    let out = l.on_message(25, Endpoint::Client(0), insert(1, "b"), &c);
    let refused = OpResult::error(OpError::HandingOver { node: "n1".into() });
    assert_eq!(
        refused.error.as_ref().unwrap().to_string(),
        "n1 is handing leadership over (planned failover): retry shortly"
    );
    assert_eq!(
        out,
        vec![Effect::Send { to: Endpoint::Client(0), payload: Payload::Response { op: 1, result: refused } }]
    );
    assert_eq!(l.lsn(), 1);
    let out = n2.on_message(30, Endpoint::Node(0), batch, &c);
    assert_eq!(out, vec![note(Note::Applied { lsn: 1 }), send(0, Payload::Ack { epoch: 1, lsn: 1 })]);
    // n2 has everything: n1 promotes it in epoch 2 and becomes its follower.
    let out = l.on_message(40, Endpoint::Node(1), Payload::Ack { epoch: 1, lsn: 1 }, &c);
    assert_eq!(
        out,
        vec![
            send(1, Payload::Promote { epoch: 2 }),
            note(Note::SteppedDown { epoch: 2, reason: "handed leadership over (planned failover)".into() }),
        ]
    );
    assert_eq!((l.role, l.leader, l.epoch), (Role::Follower, Some(1), 2));
    let out = n2.on_message(50, Endpoint::Node(0), Payload::Promote { epoch: 2 }, &c);
    let hb = Payload::Heartbeat { epoch: 2, leader_lsn: 1 };
    assert_eq!(out, vec![note(Note::BecameLeader { epoch: 2 }), send(0, hb.clone()), send(2, hb)]);
}

// DDIA 5.1 planned failover: a successor that already confirmed everything is promoted at once.
#[test]
fn ch5_1_planned_handover_to_a_follower_in_step_is_immediate() {
    let c = cfg();
    let mut l = leader();
    l.on_start(0, &c);
    l.on_message(10, Endpoint::Client(0), insert(0, "a"), &c);
    l.on_message(20, Endpoint::Node(2), Payload::Ack { epoch: 1, lsn: 1 }, &c);
    let out = l.begin_handover(2, 30, &c);
    assert_eq!(
        out,
        vec![
            send(2, Payload::Promote { epoch: 2 }),
            note(Note::SteppedDown { epoch: 2, reason: "handed leadership over (planned failover)".into() }),
        ]
    );
    assert_eq!((l.role, l.leader), (Role::Follower, Some(2)));
    // Only a leader hands over.
    assert_eq!(l.begin_handover(1, 40, &c), vec![]);
}

// ----- a deposed leader's tail -----

// DDIA 5.1 failover (an old leader rejoins): found by the soak (seed 1115, 1% loss): the deposed leader's fetch
// was answered "diverged", that answer was lost, and the old leader went on acknowledging an LSN its new leader
// never wrote, so its unreplicated tail stayed for good. A heartbeat that shows the leader's log ends before an
// older-epoch tail now makes the follower ask again, at most once in two heartbeats.
#[test]
fn ch5_1_a_deposed_leader_asks_again_when_its_diverged_answer_was_lost() {
    let c = cfg();
    let mut n1 = leader();
    n1.on_start(0, &c);
    n1.on_message(10, Endpoint::Client(0), insert(0, "a"), &c);
    n1.on_message(20, Endpoint::Client(0), insert(1, "b"), &c);
    assert_eq!(n1.lsn(), 2, "two entries nobody else has");
    // n2 leads epoch 2 with an empty log; n1 hears of it, steps down and asks n2 to compare logs.
    let out = n1.on_message(1_000_000, Endpoint::Node(1), Payload::Rejected { epoch: 2, leader: Some(1) }, &c);
    assert!(out.contains(&send(1, Payload::Fetch { epoch: 2, after_lsn: 2, last_epoch: 1 })), "{out:?}");
    // The "diverged" answer is lost. A heartbeat soon after: n1 acknowledges and waits for the answer.
    let hb = Payload::Heartbeat { epoch: 2, leader_lsn: 0 };
    let out = n1.on_message(1_050_000, Endpoint::Node(1), hb.clone(), &c);
    assert_eq!(out, vec![send(1, Payload::Ack { epoch: 2, lsn: 2 })]);
    // Two heartbeats after asking, no answer yet: it asks again.
    let out = n1.on_message(1_100_000, Endpoint::Node(1), hb.clone(), &c);
    assert_eq!(out, vec![send(1, Payload::Fetch { epoch: 2, after_lsn: 2, last_epoch: 1 })]);
    // A follower of the same epoch whose heartbeat was merely overtaken by newer entries does not.
    let mut n3 = follower(2);
    n3.on_start(0, &c);
    let mut l = leader();
    l.on_start(0, &c);
    l.on_message(10, Endpoint::Client(0), insert(0, "a"), &c);
    n3.on_message(20, Endpoint::Node(0), replicate(&l, 1..=1, 1, 0), &c);
    let out = n3.on_message(500_000, Endpoint::Node(0), Payload::Heartbeat { epoch: 1, leader_lsn: 0 }, &c);
    assert_eq!(out, vec![send(0, Payload::Ack { epoch: 1, lsn: 1 })]);
}
