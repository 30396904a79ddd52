//! AFL entry point of the `scenario` target (see `replsim_fuzz::scenario`); build with `cargo afl build --release --features afl`.
fn main() {
    afl::fuzz!(|data: &[u8]| replsim_fuzz::scenario(data));
}
