//! The arithmetic behind the hand-drawn SVG charts of the Metrics tab: round axis steps, a histogram, lag series
//! per follower with gaps, path strings. Pure and small: no chart crate in the wasm.

use crate::protocol::single_leader::LagSample;
use crate::world::time::Micros;

/// The smallest 1, 2 or 5 × 10^k that is at least `x` (and at least 1).
pub fn nice_step(x: u64) -> u64 {
    let mut p = 1u64;
    loop {
        for m in [1, 2, 5] {
            let s = p.saturating_mul(m);
            if s >= x {
                return s;
            }
        }
        if p > u64::MAX / 10 {
            return u64::MAX;
        }
        p *= 10;
    }
}

/// A round top for an axis that must show `max` (0 → 1).
pub fn nice_max(max: f64) -> f64 {
    if !(max.is_finite() && max > 0.0) {
        return 1.0;
    }
    let mut p = 1.0;
    while p * 10.0 <= max {
        p *= 10.0;
    }
    while p > max && p > 1e-6 {
        p /= 10.0;
    }
    for m in [1.0, 2.0, 2.5, 5.0, 10.0] {
        if p * m >= max {
            return p * m;
        }
    }
    p * 10.0
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Histogram {
    /// Width of each bin (same unit as the values); bin i holds values in [i·width, (i+1)·width).
    pub width: u64,
    pub counts: Vec<u32>,
}

/// Bin `values` into at most `max_bins` bins of a round width (at least `min_width`).
pub fn histogram(values: &[u64], max_bins: usize, min_width: u64) -> Histogram {
    let max_bins = max_bins.max(1) as u64;
    let max = values.iter().copied().max().unwrap_or(0);
    let width = nice_step((max / max_bins + 1).max(min_width.max(1)));
    let bins = (max / width + 1).min(max_bins) as usize;
    let mut counts = vec![0u32; bins];
    for v in values {
        let i = ((v / width) as usize).min(bins - 1);
        counts[i] += 1;
    }
    Histogram { width, counts }
}

/// One follower's replication lag over time, against the leader of its own replication group (partition): runs of
/// (time, lag) points, broken where it was not a follower (it led, or had not joined yet).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LagSeries {
    pub node: usize,
    /// The node's replication group: its points come only from samples its group's leader took.
    pub group: usize,
    pub segments: Vec<Vec<(Micros, Micros)>>,
    pub max: Micros,
}

/// Split the simulation's lag samples into one series per follower, ordered by group, then node. A follower's series
/// reads only its own group's samples (another partition's leader ticks on its own log, and a gap there would only
/// break the line). Points closer than `until / buckets` are merged (the largest lag wins), so a long run draws as
/// many points as the chart has pixels, not samples.
pub fn lag_series(samples: &crate::chunked::Chunked<LagSample>, until: Micros, buckets: u64) -> Vec<LagSeries> {
    let mut nodes: Vec<(usize, usize)> =
        samples.iter().flat_map(|s| s.lags.iter().map(move |(n, _)| (s.group, *n))).collect();
    crate::sql::sort_values(&mut nodes);
    nodes.dedup();
    let bucket_of = |t: Micros| t.saturating_mul(buckets.max(1)) / until.max(1);
    nodes
        .into_iter()
        .map(|(group, node)| {
            let mut series = LagSeries { node, group, segments: Vec::new(), max: 0 };
            let mut current: Vec<(Micros, Micros)> = Vec::new();
            let mut last_bucket = None;
            for s in samples.iter().filter(|s| s.group == group) {
                match s.lags.iter().find(|(n, _)| *n == node) {
                    Some((_, lag)) => {
                        series.max = series.max.max(*lag);
                        let b = bucket_of(s.at);
                        match current.last_mut() {
                            Some(p) if last_bucket == Some(b) => p.1 = p.1.max(*lag),
                            _ => current.push((s.at, *lag)),
                        }
                        last_bucket = Some(b);
                    }
                    None => {
                        if !current.is_empty() {
                            series.segments.push(std::mem::take(&mut current));
                        }
                        last_bucket = None;
                    }
                }
            }
            if !current.is_empty() {
                series.segments.push(current);
            }
            series
        })
        .collect()
}

/// One decimal place is plenty for chart coordinates.
pub fn num(v: f64) -> String {
    let r = (v * 10.0).round() / 10.0;
    r.to_string()
}

/// An SVG path through `points` ("M x y L x y …"); a single point draws a dot-sized stroke.
pub fn path(points: &[(f64, f64)]) -> String {
    let mut out = String::new();
    for (i, (x, y)) in points.iter().enumerate() {
        out.push_str(if i == 0 { "M" } else { " L" });
        out.push_str(&num(*x));
        out.push(' ');
        out.push_str(&num(*y));
    }
    if points.len() == 1 {
        out.push_str(" h0.1");
    }
    out
}

/// Series styles: a CSS class (an Okabe–Ito colour, colour-blind safe, with a dark-theme variant) paired with a
/// dash pattern, so that colour is never the only difference between two lines.
pub const SERIES: &[(&str, &str)] =
    &[("s0", ""), ("s1", "7 4"), ("s2", "2 3"), ("s3", "9 3 2 3"), ("s4", "4 2"), ("s5", "12 3"), ("s6", "1 3")];

/// The (class, dash) of the `i`-th series (cycling).
pub fn series_style(i: usize) -> (&'static str, &'static str) {
    SERIES[i % SERIES.len()]
}
