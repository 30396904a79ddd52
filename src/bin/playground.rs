//! The web playground's entry point (built by trunk for wasm32). Natively it only explains itself.

#[cfg(target_arch = "wasm32")]
fn main() {
    replsim::web::start();
}

/// The worker's entry point (www/worker.js): one job of `replsim::jobs` as JSON text, answered as JSON text.
#[cfg(target_arch = "wasm32")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn worker_job(job: &str) -> String {
    replsim::web::worker::answer(job)
}

/// The page's own work for each of its last animation frames, in ms (from the frame callback until the run is
/// redrawn): `window.wasmBindings.frame_work_ms()`, read by the frame-budget benchmark (tests/e2e/frames.mjs).
#[cfg(target_arch = "wasm32")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn frame_work_ms() -> Vec<f64> {
    replsim::web::dom::frame_work()
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("The playground runs in the browser: `scripts/serve` builds it with trunk. Use `replsim` natively.");
    std::process::exit(2);
}
