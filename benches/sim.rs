//! `cargo bench --bench sim`: simulated events per second for an asynchronous 5-node cluster over 100,000 writes
//! (the same workload the browser benchmark runs), plus SQL statements per second through the storage engine.
//! A plain harness: numbers, not pass/fail.

use std::time::Instant;

fn main() {
    let (nodes, writes) = (5, 100_000);
    // Warm up once, then take the best of three (the browser's `?bench=1` page measures the same way).
    let epoch = Instant::now();
    let m = replsim::bench::measure(nodes, writes, 3, || epoch.elapsed().as_secs_f64())
        .expect("benchmark scenario is valid");
    println!(
        "sim: {nodes} nodes, {writes} writes: {} events in {:.3} s = {:.0} events/s (trace hash {:016x})",
        m.events,
        m.secs,
        m.events_per_sec(),
        m.hash
    );

    let statements = 20_000;
    let mut db = replsim::sql::Database::new();
    struct Env(u64);
    impl replsim::sql::Env for Env {
        fn now_us(&mut self) -> i64 {
            0
        }
        fn random_u64(&mut self) -> u64 {
            self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1);
            self.0
        }
    }
    let mut env = Env(1);
    let _ =
        db.execute_autocommit("CREATE TABLE kv (id INTEGER PRIMARY KEY AUTOINCREMENT, v INTEGER, s TEXT)", &mut env);
    let start = Instant::now();
    for i in 0..statements {
        let sql = if i % 4 == 3 {
            format!("UPDATE kv SET v = v + 1 WHERE id = {}", i / 2)
        } else {
            format!("INSERT INTO kv (v, s) VALUES ({i}, 'row {i}')")
        };
        let _ = db.execute_autocommit(&sql, &mut env);
    }
    let secs = start.elapsed().as_secs_f64();
    println!("sql: {statements} statements in {secs:.3} s = {:.0} statements/s", statements as f64 / secs);
}
