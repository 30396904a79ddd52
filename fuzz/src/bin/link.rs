//! AFL entry point of the `link` target (see `replsim_fuzz::link`); build with `cargo afl build --release --features afl`.
fn main() {
    afl::fuzz!(|data: &[u8]| replsim_fuzz::link(data));
}
