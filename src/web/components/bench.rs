//! `?bench=1`: the in-browser benchmark (the same workload as `cargo bench` and `replsim bench`).

use yew::prelude::*;

use crate::web::dom;
use crate::web::state::Model;

pub const NODES: usize = 5;
pub const WRITES: usize = 100_000;

/// Run the benchmarks now and describe the results, one figure per line. They measure as `cargo bench` and
/// `replsim bench` do (warm-up, then min / median / max of timed `run_to_end`s), so the numbers compare; the trace
/// hashes must equal the native ones (scripts/bench checks).
pub fn run() -> String {
    // `&part=seek` or `&part=engine`: one half only. Each half measures best in a wasm instance of its own, as each
    // native figure is a process of its own: the engine runs after a 1 GB seek run into a heap it left behind, and
    // the seek's memory figure is the growth of a memory that never shrinks (tests/e2e/bench.mjs loads each half).
    let part = dom::query_param("part");
    let seek = (part.as_deref() != Some("engine")).then(seek_lines);
    if part.as_deref() == Some("seek") {
        return seek.unwrap_or_default();
    }
    let clock = || dom::now_ms() / 1000.0;
    let collab = crate::protocol::multi_leader::collab::bench_merge(3, 10_000, 5, clock).describe("wasm");
    let mut lines = vec![crate::bench::measure(NODES, WRITES, 5, clock).map_or_else(
        || "wasm: the benchmark scenario did not start".to_string(),
        |m| m.describe("wasm", NODES, WRITES),
    )];
    lines.push(sql_line());
    let mut curve = Vec::new();
    for (writes, runs) in crate::bench::CURVE {
        if let Some(m) = crate::bench::measure(3, writes, runs, clock) {
            lines.push(m.describe("wasm", 3, writes));
            curve.push((writes, m));
        }
    }
    if let Some(ratio) = crate::bench::curve_ratio(&curve) {
        lines.push(format!("wasm: events/s at 256k writes / at 16k = {ratio:.2} (target: at least 0.9)"));
    }
    lines.extend(seek);
    lines.push(collab);
    lines.join("\n")
}

/// The wasm memory's size in bytes (it only grows).
fn wasm_memory() -> u64 {
    use wasm_bindgen::JsCast;
    wasm_bindgen::memory()
        .dyn_into::<js_sys::WebAssembly::Memory>()
        .map_or(0, |m| m.buffer().unchecked_into::<js_sys::ArrayBuffer>().byte_length() as u64)
}

/// Long runs in the playback, measured as `replsim bench-seek` measures them.
fn seek_lines() -> String {
    let clock = || dom::now_ms() / 1000.0;
    [(60, 20), (3600, 20)]
        .iter()
        .map(|&(seconds, seeks)| {
            crate::bench::measure_seek(seconds, 20, seeks, clock, wasm_memory)
                .map_or_else(|| "wasm: the long-run scenario did not start".to_string(), |m| m.describe("wasm"))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The storage engine alone, measured as `cargo bench` measures it.
fn sql_line() -> String {
    let (n, secs) = crate::bench::measure_sql(20_000, || dom::now_ms() / 1000.0);
    let secs = secs.max(1e-9);
    let rate = (n as f64 / secs).round();
    [
        "sql: ",
        &n.to_string(),
        " statements in ",
        &(((secs * 1000.0).round()) / 1000.0).to_string(),
        " s = ",
        &rate.to_string(),
        " statements/s",
    ]
    .concat()
}

pub fn view(m: &Model) -> Html {
    html! {
        <main id="app" class="bench">
            <h1>{ "Replication Playground — benchmark" }</h1>
            <p>{ "An asynchronous cluster of " }{ NODES }{ " nodes taking " }{ "100 000" }{ " single-row inserts, run to the end in this tab; then the playback seeking through a 60-second and a one-hour run (3 nodes, a write every 20 ms)." }</p>
            if let Some(r) = &m.bench {
                <pre data-testid="bench-result">{ r.clone() }</pre>
            } else {
                <p class="muted" aria-busy="true">{ "Running…" }</p>
            }
            <p><a href="./">{ "Back to the playground" }</a></p>
        </main>
    }
}
