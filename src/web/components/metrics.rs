//! The Metrics tab: three hand-drawn SVG charts. Write latency of acknowledged writes (a histogram with p50/p99),
//! replication lag per follower over time (one line per follower, colour and dash pattern, a cursor at the
//! moment on screen), and the failover-timeout sweep (time without a leader after a crash vs. needless failovers).

use yew::prelude::*;

use crate::check::failover::SweepRow;
use crate::web::chart::{self, num};
use crate::web::state::jobs::JobKind;
use crate::web::state::{Action, Model, Sweep, SWEEP_SEEDS, SWEEP_TIMEOUTS_MS};
use crate::web::{dom, text};
use crate::world::sim::{percentile, write_latencies, Simulation};
use crate::world::time::Micros;

/// Chart size in viewBox units (the SVG scales to the panel's width).
const W: f64 = 360.0;
const H: f64 = 132.0;
const LEFT: f64 = 44.0;
const TOP: f64 = 10.0;
const BOTTOM: f64 = 24.0;

pub fn view(m: &Model, d: &Callback<Action>) -> Html {
    let Some(pb) = m.pb.as_ref() else { return Html::default() };
    let sim = pb.sim();
    html! {
        <section class="panel metrics" data-testid="metrics" aria-label="Metrics">
            <div class="scroll">
                { latency_chart(sim) }
                { lag_chart(sim, pb.until(), pb.now()) }
                if sim.protocol.leaderless().is_some() {
                    { super::jobs::staleness_section(m, d) }
                } else if m.scenario().is_some_and(|s| s.multi_leader.is_some()) {
                    { super::jobs::strategies_section(m, d) }
                } else {
                    { sweep_section(m, d) }
                }
            </div>
        </section>
    }
}

fn ms_label(us: u64) -> String {
    if us < 10_000 && us % 1000 != 0 {
        [num(us as f64 / 1000.0).as_str(), " ms"].concat()
    } else {
        text::ms(us)
    }
}

/// Horizontal grid line and label at value `v` of a y axis running from 0 to `max` over the plot height.
fn y_tick(v: f64, max: f64, right: f64, label: &str) -> Html {
    let y = TOP + (H - TOP - BOTTOM) * (1.0 - v / max);
    html! {
        <g class="tick">
            <line class="grid" x1={num(LEFT)} x2={num(right)} y1={num(y)} y2={num(y)} />
            <text class="axis" x={num(LEFT - 5.0)} y={num(y + 4.0)} text-anchor="end">{ label.to_string() }</text>
        </g>
    }
}

fn latency_chart(sim: &Simulation) -> Html {
    let values = write_latencies(sim);
    let head = html! {
        <h3 class="chart-title">{ "Write latency" }<span class="muted">{ " · acknowledged writes" }</span></h3>
    };
    if values.is_empty() {
        return html! {
            <div class="chart-block" data-testid="latency-chart" data-count="0">
                { head }<p class="muted empty-chart">{ "No write has been acknowledged yet." }</p>
            </div>
        };
    }
    let (p50, p99) = (percentile(&values, 50), percentile(&values, 99));
    let hist = chart::histogram(&values, 18, 1000);
    let bins = hist.counts.len();
    let span = hist.width * bins as u64;
    let max_count = hist.counts.iter().copied().max().unwrap_or(1);
    let y_max = chart::nice_max(f64::from(max_count)).max(1.0);
    let right = W - 12.0;
    let plot_h = H - TOP - BOTTOM;
    let x_of = |us: u64| LEFT + (right - LEFT) * (us as f64 / span.max(1) as f64);
    let bw = (right - LEFT) / bins as f64;
    let bars = hist.counts.iter().enumerate().filter(|(_, c)| **c > 0).map(|(i, c)| {
        let h = plot_h * f64::from(*c) / y_max;
        let from = hist.width * i as u64;
        let tip = [
            c.to_string().as_str(),
            if *c == 1 { " write took " } else { " writes took " },
            &ms_label(from),
            "–",
            &ms_label(from + hist.width),
        ]
        .concat();
        html! {
            <rect class="bar" x={num(LEFT + bw * i as f64 + 1.0)} y={num(TOP + plot_h - h)} width={num((bw - 2.0).max(1.0))} height={num(h)}>
                <title>{ tip }</title>
            </rect>
        }
    });
    let marker = |us: u64, label: &'static str, class: &'static str, dy: f64| {
        let x = x_of(us);
        // Near the right edge the label goes on the line's left.
        let (tx, anchor) = if x > right - 26.0 { (x - 3.0, "end") } else { (x + 3.0, "start") };
        html! {
            <g class={classes!("pmark", class)}>
                <line x1={num(x)} x2={num(x)} y1={num(TOP)} y2={num(TOP + plot_h)} />
                <text x={num(tx)} y={num(TOP + 9.0 + dy)} text-anchor={anchor}>{ label }</text>
            </g>
        }
    };
    let n = values.len();
    html! {
        <div class="chart-block" data-testid="latency-chart" data-count={n.to_string()}
             data-p50-ms={(p50 / 1000).to_string()} data-p99-ms={(p99 / 1000).to_string()}>
            { head }
            <p class="chart-facts">
                <span class="fact"><b>{ "p50 " }</b>{ ms_label(p50) }</span>
                <span class="fact"><b>{ "p99 " }</b>{ ms_label(p99) }</span>
                <span class="muted">{ [n.to_string().as_str(), if n == 1 { " write" } else { " writes" }].concat() }</span>
            </p>
            <svg class="chart" viewBox={["0 0 ", &num(W), " ", &num(H)].concat()} role="img"
                 aria-label={["Write latency histogram: p50 ", &ms_label(p50), ", p99 ", &ms_label(p99)].concat()}>
                { y_tick(0.0, y_max, right, "0") }
                { y_tick(y_max, y_max, right, &num(y_max)) }
                { for bars }
                { marker(p50, "p50", "p50", 0.0) }
                { marker(p99, "p99", "p99", if x_of(p99) - x_of(p50) < 26.0 { 12.0 } else { 0.0 }) }
                <text class="axis" x={num(LEFT)} y={num(H - 6.0)}>{ "0" }</text>
                <text class="axis" x={num(right)} y={num(H - 6.0)} text-anchor="end">{ ms_label(span) }</text>
                <text class="axis title" x={num((LEFT + right) / 2.0)} y={num(H - 6.0)} text-anchor="middle">{ "latency" }</text>
                <text class="axis title" x="10" y={num(TOP + plot_h / 2.0)} text-anchor="middle"
                      transform={["rotate(-90 10 ", &num(TOP + plot_h / 2.0), ")"].concat()}>{ "writes" }</text>
            </svg>
        </div>
    }
}

fn lag_chart(sim: &Simulation, until: Micros, now: Micros) -> Html {
    let none = crate::chunked::Chunked::new();
    let series = chart::lag_series(sim.protocol.single_leader().map_or(&none, |c| &c.lag_samples), until, 320);
    let head = html! {
        <h3 class="chart-title">{ "Replication lag" }<span class="muted">{ " · per follower, as its leader sees it" }</span></h3>
    };
    // A partitioned database: each follower is measured against its own partition's leader, named in the legend.
    let partitions = &sim.scenario.partitions;
    let group_of =
        |g: usize| -> String { partitions.get(g).map_or_else(String::new, |p| [" (", p.id.as_str(), ")"].concat()) };
    let right = W - 12.0;
    let plot_h = H - TOP - BOTTOM;
    let max_us = series.iter().map(|s| s.max).max().unwrap_or(0);
    let y_max = chart::nice_max(max_us as f64 / 1000.0).max(1.0);
    let x_of = |t: Micros| LEFT + (right - LEFT) * (t as f64 / until.max(1) as f64);
    let y_of = |lag: Micros| TOP + plot_h * (1.0 - (lag as f64 / 1000.0) / y_max);
    let name =
        |i: usize| sim.protocol.single_leader().and_then(|c| c.nodes.get(i)).map_or("?", |n| n.id.as_str()).to_string();
    let lines = series.iter().map(|s| {
        let (class, dash) = chart::series_style(s.node);
        let d: String = s
            .segments
            .iter()
            .map(|seg| chart::path(&seg.iter().map(|(t, l)| (x_of(*t), y_of(*l))).collect::<Vec<_>>()))
            .collect::<Vec<_>>()
            .join(" ");
        html! {
            <path class={classes!("series", class)} data-node={name(s.node)} data-group={s.group.to_string()} d={d}
                  stroke-dasharray={(!dash.is_empty()).then_some(dash)} />
        }
    });
    let legend = series.iter().map(|s| {
        let (class, dash) = chart::series_style(s.node);
        html! {
            <li>
                <svg class="lswatch" viewBox="0 -6 30 12" width="30" height="12" aria-hidden="true">
                    <line class={classes!("series", class)} x1="0" y1="0" x2="30" y2="0" stroke-dasharray={(!dash.is_empty()).then_some(dash)} />
                </svg>
                { name(s.node) }{ group_of(s.group) }<span class="muted">{ [" max ", &ms_label(s.max)].concat() }</span>
            </li>
        }
    });
    let cursor = x_of(now.min(until));
    html! {
        <div class="chart-block" data-testid="lag-chart" data-series={series.len().to_string()}>
            { head }
            if series.is_empty() {
                <p class="muted empty-chart">{ "No lag samples yet: the leader records every follower's lag at each heartbeat." }</p>
            } else {
                <svg class="chart" viewBox={["0 0 ", &num(W), " ", &num(H)].concat()} role="img"
                     aria-label="Replication lag of each follower over time">
                    { y_tick(0.0, y_max, right, "0") }
                    { y_tick(y_max, y_max, right, &num(y_max)) }
                    { y_tick(y_max / 2.0, y_max, right, &num(y_max / 2.0)) }
                    { for lines }
                    <line class="cursor" x1={num(cursor)} x2={num(cursor)} y1={num(TOP - 4.0)} y2={num(TOP + plot_h)} />
                    <text class="axis" x={num(LEFT)} y={num(H - 6.0)}>{ "0" }</text>
                    <text class="axis" x={num(right)} y={num(H - 6.0)} text-anchor="end">{ text::ms(until) }</text>
                    <text class="axis title" x={num((LEFT + right) / 2.0)} y={num(H - 6.0)} text-anchor="middle">{ "simulated time" }</text>
                    <text class="axis title" x="10" y={num(TOP + plot_h / 2.0)} text-anchor="middle"
                          transform={["rotate(-90 10 ", &num(TOP + plot_h / 2.0), ")"].concat()}>{ "lag (ms)" }</text>
                </svg>
                <ul class="chart-legend">{ for legend }</ul>
            }
        </div>
    }
}

fn sweep_section(m: &Model, d: &Callback<Action>) -> Html {
    let running = m.sweep == Sweep::Running;
    let onclick = {
        let d = d.clone();
        let scenario = m.scenario().map(|s| s.to_json());
        let epoch = m.jobs.epoch;
        Callback::from(move |_: MouseEvent| {
            let Some(scenario) = scenario.clone() else { return };
            d.emit(Action::RunSweep);
            // In the worker, one chunk per timeout: the page keeps playing, shows progress, and can cancel.
            let chunks: Vec<serde_json::Value> = SWEEP_TIMEOUTS_MS
                .iter()
                .map(|t| serde_json::json!({"kind": "sweep", "scenario": scenario, "timeouts_ms": [t], "seeds": SWEEP_SEEDS}))
                .collect();
            let d2 = d.clone();
            let rows = |chunks: Vec<serde_json::Value>| {
                serde_json::Value::Array(
                    chunks.into_iter().flat_map(|c| c.as_array().cloned().unwrap_or_default()).collect(),
                )
            };
            super::jobs::start_chunks(&d, JobKind::Sweep, epoch, chunks, rows, move |answer| {
                d2.emit(Action::SweepDone { epoch, answer });
                gloo_timers::callback::Timeout::new(0, || {
                    dom::scroll_list_to(".metrics .scroll", "[data-testid=sweep]")
                })
                .forget();
            });
        })
    };
    let current = m.scenario().map(|s| s.failover.timeout_ms);
    html! {
        <div class="chart-block sweep" data-testid="sweep">
            <div class="chart-head">
                <h3 class="chart-title">{ "Failover timeout sweep" }</h3>
                <button class="btn" data-testid="sweep-run" disabled={running || m.pb.is_none()} {onclick}
                        aria-busy={running.then_some("true")}>{ if running { "Running…" } else { "Run sweep" } }</button>
            </div>
            <p class="muted chart-note">
                { ["Runs this scenario (its own faults, not your clicks) with automatic failover at each timeout, over ",
                   &SWEEP_SEEDS.to_string(), " seeds. Too short: failovers while the old leader was only slow. Too long: a dead leader stays unreplaced."].concat() }
            </p>
            if running {
                { super::jobs::progress_line(m, d, JobKind::Sweep, "sweep", &[&(SWEEP_SEEDS as usize * SWEEP_TIMEOUTS_MS.len()).to_string(), " runs"].concat()) }
            }
            if let Sweep::Failed(e) = &m.sweep {
                <p class="error" role="alert" data-testid="sweep-error">{ e.clone() }</p>
            }
            if let Sweep::Done(rows) = &m.sweep {
                { sweep_chart(rows, current) }
            }
        </div>
    }
}

fn sweep_chart(rows: &[SweepRow], current: Option<u64>) -> Html {
    if rows.is_empty() {
        return html! { <p class="muted" data-testid="sweep-chart">{ "This scenario cannot run with automatic failover." }</p> };
    }
    let right = W - 34.0;
    let plot_h = H - TOP - BOTTOM;
    let ms_max = chart::nice_max(rows.iter().map(|r| r.mean_unavailable_ms).fold(0.0, f64::max)).max(1.0);
    let n_max = (rows.iter().map(|r| r.unnecessary_failovers).max().unwrap_or(0) as f64).max(1.0);
    let n_max = chart::nice_max(n_max).max(1.0);
    let group = (right - LEFT) / rows.len() as f64;
    let bar_w = (group * 0.5).min(30.0);
    let cx = |i: usize| LEFT + group * (i as f64 + 0.5);
    let y_ms = |v: f64| TOP + plot_h * (1.0 - v / ms_max);
    let y_n = |v: f64| TOP + plot_h * (1.0 - v / n_max);
    let points: Vec<(f64, f64)> =
        rows.iter().enumerate().map(|(i, r)| (cx(i), y_n(r.unnecessary_failovers as f64))).collect();
    let bars = rows.iter().enumerate().map(|(i, r)| {
        let y = y_ms(r.mean_unavailable_ms);
        let tip = [
            "timeout ",
            &r.timeout_ms.to_string(),
            " ms: ",
            &num(r.mean_unavailable_ms),
            " ms without a leader after a crash (mean of ",
            &r.runs.to_string(),
            " runs), ",
            &r.unnecessary_failovers.to_string(),
            " needless of ",
            &r.failovers.to_string(),
            " failovers",
        ]
        .concat();
        let mine = current == Some(r.timeout_ms);
        html! {
            <g class={classes!("group", mine.then_some("current"))} data-timeout={r.timeout_ms.to_string()}
               data-unavailable-ms={num(r.mean_unavailable_ms)} data-needless={r.unnecessary_failovers.to_string()}>
                <title>{ tip }</title>
                <rect class="bar" x={num(cx(i) - bar_w / 2.0)} y={num(y)} width={num(bar_w)} height={num((TOP + plot_h - y).max(0.0))} />
                <text class="axis" x={num(cx(i))} y={num(H - 8.0)} text-anchor="middle">{ r.timeout_ms }</text>
            </g>
        }
    });
    let dots = points
        .iter()
        .map(|(x, y)| html! { <rect class="dot" x={num(x - 4.0)} y={num(y - 4.0)} width="8" height="8" /> });
    let n_label = num(n_max);
    html! {
        <div data-testid="sweep-chart">
            <svg class="chart" viewBox={["0 0 ", &num(W), " ", &num(H + 8.0)].concat()} role="img"
                 aria-label="Failover timeout sweep: time without a leader after a crash, and needless failovers, per timeout">
                { y_tick(0.0, ms_max, right, "0") }
                { y_tick(ms_max, ms_max, right, &num(ms_max)) }
                <text class="axis right" x={num(right + 5.0)} y={num(TOP + 4.0)}>{ n_label }</text>
                <text class="axis right" x={num(right + 5.0)} y={num(TOP + plot_h + 4.0)}>{ "0" }</text>
                { for bars }
                <path class="needless" d={chart::path(&points)} />
                { for dots }
                <text class="axis title" x={num((LEFT + right) / 2.0)} y={num(H + 6.0)} text-anchor="middle">{ "failover timeout (ms)" }</text>
            </svg>
            <ul class="chart-legend">
                <li><svg class="lswatch" viewBox="0 0 12 12" width="12" height="12" aria-hidden="true"><rect class="bar" width="12" height="12" /></svg>
                    { "ms without a leader after a crash (mean, left axis)" }</li>
                <li><svg class="lswatch" viewBox="0 -6 30 12" width="30" height="12" aria-hidden="true">
                        <line class="needless" x1="0" y1="0" x2="30" y2="0" /><rect class="dot" x="11" y="-4" width="8" height="8" /></svg>
                    { ["needless failovers (all ", &SWEEP_SEEDS.to_string(), " seeds, right axis)"].concat() }</li>
                if let Some(t) = current {
                    <li><svg class="lswatch" viewBox="0 0 12 12" width="12" height="12" aria-hidden="true"><rect class="bar mine" width="12" height="12" /></svg>
                        { ["this run's timeout (", &t.to_string(), " ms)"].concat() }</li>
                }
            </ul>
        </div>
    }
}
