//! AFL entry point of the `sql` target (see `replsim_fuzz::sql`); build with `cargo afl build --release --features afl`.
fn main() {
    afl::fuzz!(|data: &[u8]| replsim_fuzz::sql(data));
}
