//! `?bench=1`: the in-browser benchmark (the same workload as `cargo bench` and `replsim bench`).

use yew::prelude::*;

use crate::web::dom;
use crate::web::state::Model;
use crate::web::text;

pub const NODES: usize = 5;
pub const WRITES: usize = 100_000;

/// Run the benchmark now and describe the result in one line.
pub fn run() -> String {
    let start = dom::now_ms();
    let (events, hash) = crate::bench::run_cluster(NODES, WRITES);
    let secs = ((dom::now_ms() - start) / 1000.0).max(1e-9);
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
        ")",
    ]
    .concat()
}

pub fn view(m: &Model) -> Html {
    html! {
        <main id="app" class="bench">
            <h1>{ "Replication Playground — benchmark" }</h1>
            <p>{ "An asynchronous cluster of " }{ NODES }{ " nodes taking " }{ "100 000" }{ " single-row inserts, run to the end in this tab." }</p>
            if let Some(r) = &m.bench {
                <pre data-testid="bench-result">{ r.clone() }</pre>
            } else {
                <p class="muted" aria-busy="true">{ "Running…" }</p>
            }
            <p><a href="./">{ "Back to the playground" }</a></p>
        </main>
    }
}
