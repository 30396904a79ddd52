//! The Metrics tab's worker-backed tools: the staleness curve of a leaderless cluster (DDIA 5.4; Bailis et al.'s
//! probabilistically bounded staleness) and the multi-leader conflict strategies side by side (DDIA 5.3, the page's
//! `replsim conflicts`). Both run in the page's worker (`web::worker`), so the run on screen keeps playing.

use serde_json::{json, Value};
use yew::prelude::*;

use crate::jobs::STALENESS_SEEDS;
use crate::web::chart::{self, num};
use crate::web::state::jobs::{sum_curve, CancelToken, JobAction, JobKind, JobState, PbsField, PbsForm};
use crate::web::state::{Action, Model};
use crate::web::worker;

use super::num_input::NumInput;

/// The staleness curve's seeds go to the worker in this many chunks.
const STALENESS_CHUNKS: u64 = 10;

const W: f64 = 360.0;
const H: f64 = 140.0;
const LEFT: f64 = 40.0;
const TOP: f64 = 10.0;
const BOTTOM: f64 = 26.0;

/// Send `chunks` to the worker one after another, with progress and a cancel token tracked under `kind`;
/// `finish` gets `{"ok": combine(every chunk's answer)}` or the first `{"error": …}`.
pub fn start_chunks(
    d: &Callback<Action>,
    kind: JobKind,
    epoch: u64,
    chunks: Vec<Value>,
    combine: impl FnOnce(Vec<Value>) -> Value + 'static,
    finish: impl FnOnce(Value) + 'static,
) {
    let cancel = CancelToken::default();
    d.emit(Action::Jobs(JobAction::Track { kind, total: chunks.len(), cancel: cancel.clone() }));
    let d1 = d.clone();
    worker::run_chunks(
        chunks,
        cancel,
        move |done, _| d1.emit(Action::Jobs(JobAction::Progress { kind, epoch, done })),
        move |answers| {
            finish(match answers {
                Ok(chunks) => json!({"ok": combine(chunks)}),
                Err(e) => json!({"error": e}),
            })
        },
    );
}

fn pbs_label(f: &PbsForm) -> String {
    format!("n={} w={} r={} · delay ≤ {} ms", f.n, f.w, f.r, f.latency_max_ms)
}

/// The scenario on screen with the form's n, w, r and largest delay.
fn pbs_job(m: &Model, f: &PbsForm) -> Option<Value> {
    let mut s = m.scenario()?.to_json();
    let l = s.pointer_mut("/replication/leaderless")?;
    l["n"] = json!(f.n);
    l["w"] = json!(f.w);
    l["r"] = json!(f.r);
    let lat = s.pointer_mut("/network/latency_ms")?;
    let min = lat["min"].as_u64().unwrap_or(0).min(f.latency_max_ms);
    *lat = json!({"min": min, "max": f.latency_max_ms});
    Some(json!({"kind": "staleness", "scenario": s, "seeds": STALENESS_SEEDS}))
}

/// "running…" with a progress bar and a Cancel button, while a chunked job runs.
pub fn progress_line(m: &Model, d: &Callback<Action>, kind: JobKind, test: &'static str, what: &str) -> Html {
    let (done, total) = m.jobs.progress_of(kind).unwrap_or((0, 0));
    let cancel = {
        let d = d.clone();
        Callback::from(move |_: MouseEvent| d.emit(Action::Jobs(JobAction::Cancel(kind))))
    };
    html! {
        <div class="job-progress" role="status" data-testid={[test, "-running"].concat()}>
            <span class="running">{ ["running in the background (", what, ")… the page keeps playing"].concat() }</span>
            if total > 0 {
                <progress data-testid={[test, "-progress"].concat()} max={total.to_string()} value={done.to_string()}></progress>
            }
            <button class="link-btn" data-testid={[test, "-cancel"].concat()} onclick={cancel}>{ "Cancel" }</button>
        </div>
    }
}

fn state_line(m: &Model, d: &Callback<Action>, kind: JobKind, test: &'static str) -> Html {
    match m.jobs.state(kind) {
        JobState::Running { label, .. } => progress_line(m, d, kind, test, label),
        JobState::Failed(e) => {
            html! { <p class="error" role="alert" data-testid={[test, "-error"].concat()}>{ e.clone() }</p> }
        }
        JobState::Idle => Html::default(),
    }
}

pub fn staleness_section(m: &Model, d: &Callback<Action>) -> Html {
    let f = m.jobs.form_or(m);
    let running = matches!(m.jobs.staleness, JobState::Running { .. });
    let field = |label: &'static str, test: &'static str, which: PbsField, v: u64, (min, max): (u64, u64)| {
        let d = d.clone();
        // (NumInput keeps what is typed while the run redraws the page, and refuses what is not a whole number in
        // range with a message beside the field, before this runs.)
        let onchange = Callback::from(move |e: Event| {
            let input: web_sys::HtmlInputElement = e.target_unchecked_into();
            if let Ok(v) = input.value().trim().parse::<u64>() {
                d.emit(Action::Jobs(JobAction::Form(which, v)));
            }
        });
        html! {
            <label class="pbs-field">{ label }
                <NumInput {test} min={AttrValue::from(min.to_string())} max={AttrValue::from(max.to_string())}
                          value={AttrValue::from(v.to_string())} {onchange} />
            </label>
        }
    };
    let onclick = {
        let (d, job, label) = (d.clone(), pbs_job(m, &f), pbs_label(&f));
        let epoch = m.jobs.epoch;
        Callback::from(move |_: MouseEvent| {
            let Some(job) = job.clone() else { return };
            let kind = JobKind::Staleness;
            d.emit(Action::Jobs(JobAction::Start { kind, label: label.clone() }));
            // Ten chunks of seeds: a progress bar, and a cancel between chunks.
            let chunks: Vec<Value> = (0..STALENESS_CHUNKS)
                .map(|i| {
                    let mut j = job.clone();
                    j["seed_from"] = json!(i * STALENESS_SEEDS / STALENESS_CHUNKS);
                    j["seeds"] = json!(STALENESS_SEEDS / STALENESS_CHUNKS);
                    j
                })
                .collect();
            let d2 = d.clone();
            start_chunks(
                &d,
                kind,
                epoch,
                chunks,
                |chunks| sum_curve(&chunks),
                move |answer| d2.emit(Action::Jobs(JobAction::Done { kind, epoch, answer })),
            );
        })
    };
    let strict = f.w + f.r > f.n;
    let clear = {
        let d = d.clone();
        Callback::from(move |_: MouseEvent| d.emit(Action::Jobs(JobAction::ClearCurves)))
    };
    html! {
        <div class="chart-block staleness" data-testid="staleness">
            <div class="chart-head">
                <h3 class="chart-title">{ "Staleness curve" }<span class="muted">{ " · how soon a read sees a write" }</span></h3>
                <button class="btn" data-testid="staleness-run" disabled={running || m.pb.is_none()} {onclick}
                        aria-busy={running.then_some("true")}>{ if running { "Running…" } else { "Draw curve" } }</button>
            </div>
            <p class="muted chart-note">
                { ["One client writes a key; another reads it t ms after the write was acknowledged. Over ",
                   &STALENESS_SEEDS.to_string(),
                   " seeds (each a different draw of network delays), the curve is the share of reads that saw the write. \
                    With w + r > n every read overlaps the write's replicas, so the curve is flat at 100%. With smaller \
                    quorums a read right after the acknowledgement often misses it, and the chance falls as the write \
                    reaches the other replicas. Read repair and anti-entropy are off here: only the write's own messages \
                    spread it."].concat() }
            </p>
            <div class="pbs-form">
                { field("n", "pbs-n", PbsField::N, f.n, (1, 16)) }
                { field("w", "pbs-w", PbsField::W, f.w, (1, f.n)) }
                { field("r", "pbs-r", PbsField::R, f.r, (1, f.n)) }
                { field("largest delay (ms)", "pbs-latency", PbsField::LatencyMax, f.latency_max_ms, (0, 10_000)) }
                <span class={classes!("pbs-badge", strict.then_some("ok"))} data-testid="pbs-strict">
                    { if strict { "w + r > n: every read overlaps the write" } else { "w + r ≤ n: reads can miss the write" } }</span>
            </div>
            { state_line(m, d, JobKind::Staleness, "staleness") }
            if !m.jobs.curves.is_empty() {
                { curves_chart(m) }
                <button class="link-btn" data-testid="staleness-clear" onclick={clear}>{ "Clear curves" }</button>
            }
        </div>
    }
}

fn curves_chart(m: &Model) -> Html {
    let curves = &m.jobs.curves;
    let right = W - 12.0;
    let plot_h = H - TOP - BOTTOM;
    let t_max = curves.iter().flat_map(|c| c.points.iter().map(|p| p.0)).max().unwrap_or(1).max(1) as f64;
    let x_of = |t: u64| LEFT + (right - LEFT) * (t as f64 / t_max);
    let prob = |fresh: u64, runs: u64| if runs == 0 { 0.0 } else { fresh as f64 / runs as f64 };
    // The y axis starts at the lowest tenth any curve reaches, so that 96.8% and 100% do not look alike.
    let lowest =
        curves.iter().flat_map(|c| c.points.iter().filter(|p| p.2 > 0).map(|p| prob(p.1, p.2))).fold(1.0, f64::min);
    let y_min = ((lowest * 10.0).floor() / 10.0).min(0.9);
    let y_of = |p: f64| TOP + plot_h * (1.0 - (p - y_min) / (1.0 - y_min));
    let lines = curves.iter().enumerate().map(|(i, c)| {
        let (class, dash) = chart::series_style(i);
        let pts: Vec<(f64, f64)> = c.points.iter().filter(|p| p.2 > 0).map(|p| (x_of(p.0), y_of(prob(p.1, p.2)))).collect();
        let dots = c.points.iter().filter(|p| p.2 > 0).map(|p| {
            let tip = format!("{} ms after the acknowledgement: {} of {} reads saw the write ({}%)", p.0, p.1, p.2, num(100.0 * prob(p.1, p.2)));
            html! { <circle class={classes!("dot", class)} cx={num(x_of(p.0))} cy={num(y_of(prob(p.1, p.2)))} r="2.5"><title>{ tip }</title></circle> }
        });
        let first = c.points.iter().find(|p| p.2 > 0).map_or(0.0, |p| prob(p.1, p.2));
        html! {
            <g class="curve" data-label={c.label.clone()} data-first={format!("{first:.3}")}>
                <path class={classes!("series", class)} d={chart::path(&pts)} stroke-dasharray={(!dash.is_empty()).then_some(dash)} />
                { for dots }
            </g>
        }
    });
    let legend = curves.iter().enumerate().map(|(i, c)| {
        let (class, dash) = chart::series_style(i);
        let first = c.points.iter().find(|p| p.2 > 0).map(|p| prob(p.1, p.2));
        html! {
            <li>
                <svg class="lswatch" viewBox="0 -6 30 12" width="30" height="12" aria-hidden="true">
                    <line class={classes!("series", class)} x1="0" y1="0" x2="30" y2="0" stroke-dasharray={(!dash.is_empty()).then_some(dash)} />
                </svg>
                { c.label.clone() }
                if let Some(p) = first {
                    <span class="muted">{ [" · fresh at once: ", &num(100.0 * p), "%"].concat() }</span>
                }
            </li>
        }
    });
    let ticks = [y_min, (y_min + 1.0) / 2.0, 1.0].map(|p| {
        let y = y_of(p);
        html! {
            <g class="tick">
                <line class="grid" x1={num(LEFT)} x2={num(right)} y1={num(y)} y2={num(y)} />
                <text class="axis" x={num(LEFT - 5.0)} y={num(y + 4.0)} text-anchor="end">{ [num(p * 100.0).as_str(), "%"].concat() }</text>
            </g>
        }
    });
    html! {
        <div data-testid="staleness-chart">
            <svg class="chart" viewBox={["0 0 ", &num(W), " ", &num(H + 8.0)].concat()} role="img"
                 aria-label="Staleness curve: the share of reads that saw a write, against the time since it was acknowledged">
                { for ticks }
                <text class="axis" x={num(LEFT)} y={num(H - 8.0)} text-anchor="middle">{ "0" }</text>
                <text class="axis" x={num(right)} y={num(H - 8.0)} text-anchor="end">{ [num(t_max).as_str(), " ms"].concat() }</text>
                { for lines }
                <text class="axis title" x={num((LEFT + right) / 2.0)} y={num(H + 6.0)} text-anchor="middle">{ "time since the write was acknowledged" }</text>
            </svg>
            <ul class="chart-legend">{ for legend }</ul>
        </div>
    }
}

pub fn strategies_section(m: &Model, d: &Callback<Action>) -> Html {
    let running = matches!(m.jobs.strategies, JobState::Running { .. });
    let onclick = {
        let d = d.clone();
        let job = m.scenario().map(|s| json!({"kind": "strategies", "scenario": s.to_json(), "seed": m.pb.as_ref().map_or(s.seed, |p| p.seed())}));
        let epoch = m.jobs.epoch;
        Callback::from(move |_: MouseEvent| {
            let Some(job) = job.clone() else { return };
            d.emit(Action::Jobs(JobAction::Start { kind: JobKind::Strategies, label: "every strategy".into() }));
            let d = d.clone();
            worker::run(&job, move |answer| {
                d.emit(Action::Jobs(JobAction::Done { kind: JobKind::Strategies, epoch, answer }))
            });
        })
    };
    let current = m.scenario().and_then(|s| s.multi_leader.as_ref()).map(|ml| ml.conflict.name());
    let rows = m.jobs.figures.as_ref().filter(|(e, _)| *e == m.jobs.epoch).and_then(|(_, v)| v.as_array());
    html! {
        <div class="chart-block strategies" data-testid="strategies">
            <div class="chart-head">
                <h3 class="chart-title">{ "Conflict strategies side by side" }</h3>
                <button class="btn" data-testid="strategies-run" disabled={running || m.pb.is_none()} {onclick}
                        aria-busy={running.then_some("true")}>{ if running { "Running…" } else { "Run every strategy" } }</button>
            </div>
            <p class="muted chart-note">
                { "Runs this scenario (its workload and faults, not your clicks) once under every way of resolving \
                   conflicts. Discarded: acknowledged writes no replica keeps in the end. Converged: every replica \
                   ends with the same rows." }
            </p>
            { state_line(m, d, JobKind::Strategies, "strategies") }
            if let Some(rows) = rows {
                <div class="table-scroll"><table class="grid strategies-table" data-testid="strategies-table">
                    <thead><tr><th>{ "strategy" }</th><th>{ "conflicts" }</th><th>{ "discarded" }</th><th>{ "converged" }</th><th>{ "final rows (first leader)" }</th></tr></thead>
                    <tbody>
                        { for rows.iter().map(|r| strategy_row(r, current)) }
                    </tbody>
                </table></div>
            }
        </div>
    }
}

fn strategy_row(r: &Value, current: Option<&str>) -> Html {
    let name = r["conflict"].as_str().unwrap_or("?").to_string();
    let converged = r["converged"].as_bool().unwrap_or(false);
    let finals: Vec<&str> =
        r["rows"].as_array().map(|v| v.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
    let mine = current == Some(name.as_str());
    html! {
        <tr class={classes!(mine.then_some("current"))} data-strategy={name.clone()}
            data-discarded={r["discarded"].to_string()} data-converged={converged.to_string()}>
            <th scope="row">{ name }{ if mine { " (this run)" } else { "" } }</th>
            <td>{ r["conflicts"].to_string() }</td>
            <td class={classes!((r["discarded"].as_u64().unwrap_or(0) > 0).then_some("bad"))}>{ r["discarded"].to_string() }</td>
            <td class={classes!((!converged).then_some("bad"))}>{ if converged { "yes" } else { "no" } }</td>
            <td class="rows">{ finals.join("; ") }</td>
        </tr>
    }
}
