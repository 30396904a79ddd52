//! AFL entry point of the `run` target (see `replsim_fuzz::run`); build with `cargo afl build --release --features afl`.
fn main() {
    afl::fuzz!(|data: &[u8]| replsim_fuzz::run(data));
}
