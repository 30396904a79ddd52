//! The web playground's entry point (built by trunk for wasm32). Natively it only explains itself.

#[cfg(target_arch = "wasm32")]
fn main() {
    replsim::web::start();
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("The playground runs in the browser: `scripts/serve` builds it with trunk. Use `replsim` natively.");
    std::process::exit(2);
}
