//! Simulated time: integer microseconds since the start of the run. Never a float, never the wall clock.

pub type Micros = u64;

pub const US_PER_MS: u64 = 1_000;

pub fn ms(v: u64) -> Micros {
    v.saturating_mul(US_PER_MS)
}

/// `now + d` for a duration that comes from input (a scenario, a link, a person): saturating, so a duration longer
/// than any run means "not within the run" (`Micros::MAX`, after every run's end) instead of overflowing, which is a
/// panic in a debug build and an event in the past in a release build.
pub fn after(now: Micros, d: Micros) -> Micros {
    now.saturating_add(d)
}

/// Milliseconds with three decimals, for people: `12.345ms`.
pub fn fmt_ms(t: Micros) -> String {
    format!("{}.{:03}ms", t / US_PER_MS, t % US_PER_MS)
}

/// Milliseconds as a JSON number (exact to the microsecond for any run shorter than 285 years).
pub fn to_ms_f64(t: Micros) -> f64 {
    t as f64 / US_PER_MS as f64
}

#[cfg(test)]
mod tests {
    #[test]
    fn formats_milliseconds() {
        assert_eq!(super::fmt_ms(12_345), "12.345ms");
        assert_eq!(super::fmt_ms(7), "0.007ms");
    }

    #[test]
    fn durations_from_input_saturate() {
        assert_eq!(super::after(5, 7), 12);
        assert_eq!(super::after(1_000, super::ms(u64::MAX / 1000)), u64::MAX, "a 584-million-year pause");
        assert_eq!(super::after(u64::MAX, 1), u64::MAX);
    }
}
