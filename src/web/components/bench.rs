//! `?bench=1`: the in-browser benchmark (the same workload as `cargo bench` and `replsim bench`).

use yew::prelude::*;

use crate::web::dom;
use crate::web::state::Model;
use crate::web::text;

pub const NODES: usize = 5;
pub const WRITES: usize = 100_000;

/// Run the benchmark now and describe the result in one line. It measures as `cargo bench` does (warm-up, then the
/// best of three timed `run_to_end`s), so the two numbers compare.
pub fn run() -> String {
    // The long runs first, while the wasm memory has not yet grown for the other runs (it never shrinks).
    let seek = seek_lines();
    let Some(m) = crate::bench::measure(NODES, WRITES, 3, || dom::now_ms() / 1000.0) else {
        return ["wasm: the benchmark scenario did not start\n", &seek].concat();
    };
    let (events, hash, secs) = (m.events, m.hash, m.secs.max(1e-9));
    let rate = (events as f64 / secs).round();
    let secs_text = ((secs * 1000.0).round() / 1000.0).to_string();
    [
        "wasm: ",
        &events.to_string(),
        " events in ",
        &secs_text,
        " s = ",
        &rate.to_string(),
        " events/s (trace hash ",
        &text::hex16(hash),
        ")\n",
        &sql_line(),
        "\n",
        &seek,
    ]
    .concat()
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
