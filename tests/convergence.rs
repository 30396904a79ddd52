//! Property: a fault-free asynchronous cluster converges, for any seed and any latency range: every follower ends
//! with the leader's data and LSN. (DDIA 5.1: replicas agree once writes stop — "eventual consistency".)

use proptest::prelude::*;
use replsim::bench::cluster_scenario;
use replsim::world::sim::Simulation;

mod common;
use common::regressions;

proptest! {
    // Counterexamples are kept in tests/convergence.proptest-regressions and replayed first (commit them).
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: regressions(), ..ProptestConfig::default() })]
    // DDIA 5.1 leaders and followers: with no faults, every follower ends with the leader's data and LSN.
    #[test]
    fn ch5_1_fault_free_async_cluster_converges(seed in any::<u64>(), nodes in 2usize..6, writes in 1usize..60,
                                          lat_min in 0u64..30, lat_extra in 0u64..80, reorder in 0.0f64..0.5) {
        let mut s = cluster_scenario(nodes, writes);
        s.network.latency_min_ms = lat_min;
        s.network.latency_max_ms = lat_min + lat_extra;
        s.network.reorder = reorder;
        let mut sim = Simulation::new(&s, seed, &[]).unwrap();
        sim.run_to_end();
        let leader = &sim.protocol.single_leader().expect("single-leader run").nodes[0];
        prop_assert_eq!(leader.lsn(), writes as u64, "seed {}", seed);
        for f in &sim.protocol.single_leader().expect("single-leader run").nodes[1..] {
            prop_assert_eq!(f.lsn(), leader.lsn(), "seed {}: {} lsn", seed, &f.id);
            prop_assert_eq!(f.db.rows("kv"), leader.db.rows("kv"), "seed {}: {} rows", seed, &f.id);
        }
    }

    // DDIA 5.1 follower failure (catch-up): messages lost or duplicated for a while are made good once the network
    // recovers.
    #[test]
    fn ch5_1_lossy_cluster_converges_after_the_network_recovers(seed in any::<u64>(), loss in 0.0f64..0.4, dup in 0.0f64..0.3) {
        let mut s = cluster_scenario(3, 30);
        s.network.loss = loss;
        s.network.duplicate = dup;
        // The network turns clean for the last two seconds: a liveness phase after the fault phase.
        s.faults.push(replsim::scenario::TimedCommand {
            at: 1_000_000,
            command: replsim::scenario::Command::SetNetwork(replsim::scenario::NetworkSpec { loss: 0.0, duplicate: 0.0, ..s.network.clone() }),
        });
        let mut sim = Simulation::new(&s, seed, &[]).unwrap();
        sim.run_to_end();
        let leader = &sim.protocol.single_leader().expect("single-leader run").nodes[0];
        for f in &sim.protocol.single_leader().expect("single-leader run").nodes[1..] {
            prop_assert_eq!(f.db.rows("kv"), leader.db.rows("kv"), "seed {}: {}", seed, &f.id);
        }
    }
}
