//! `cargo bench --bench sim`: simulated events per second for an asynchronous 5-node cluster over 100,000 writes
//! (the same workload the browser benchmark runs), plus SQL statements per second through the storage engine.
//! A plain harness: numbers, not pass/fail.

use std::time::Instant;

fn main() {
    let (nodes, writes) = (5, 100_000);
    // Warm up once, then min / median / max of five runs (the browser's `?bench=1` page measures the same way).
    let epoch = Instant::now();
    let m = replsim::bench::measure(nodes, writes, 5, || epoch.elapsed().as_secs_f64())
        .expect("benchmark scenario is valid");
    println!("{}", m.describe("sim", nodes, writes));

    let (statements, secs) = replsim::bench::measure_sql(20_000, || epoch.elapsed().as_secs_f64());
    println!("sql: {statements} statements in {secs:.3} s = {:.0} statements/s", statements as f64 / secs);

    println!("bytes shipped per log method (3 nodes, 1000 single-row inserts):");
    print!("{}", replsim::bench::method_table(3, 1_000));
}
