//! The Lag tab (DDIA 5.2): how a client's reads are routed (with the route's own settings), how late each follower
//! applies what it receives, and a table comparing every routing policy on this scenario: anomalies, the share of
//! reads the leader serves, read latency. Every change rebuilds the run at the same moment, so the anomaly counts
//! above the stage follow at once.

use serde_json::json;
use yew::prelude::*;

use crate::check::lag::PolicyRow;
use crate::scenario::{ClientSpec, Role, Route};
use crate::web::state::lag::{readers, readers_route, route_help, route_of, MAX_APPLY_DELAY_MS};
use crate::web::state::{Action, ClientParam, LagAction, Model, Policies};
use crate::web::text;
use crate::web::{dom, worker};

use super::num_input::NumInput;
use super::spacetime::{badge_name, kind_swatch};

/// The apply-delay slider's range (ms); the number box goes up to `MAX_APPLY_DELAY_MS`.
const SLIDER_MAX_MS: u64 = 2000;

pub fn view(m: &Model, d: &Callback<Action>) -> Html {
    let Some(pb) = m.pb.as_ref() else { return Html::default() };
    let s = pb.scenario();
    html! {
        <section class="panel lag-panel" data-testid="lag-panel" aria-label="Replication lag">
            <header class="panel-head">
                <h2>{ "Replication lag" }<span class="muted">{ [" at ", &text::clock(m.now())].concat() }</span></h2>
            </header>
            <div class="scroll">
                { routing(m, s.clients.as_slice(), d) }
                { delays(s, d) }
                { policies(m, d) }
            </div>
        </section>
    }
}

fn num_value(e: &Event) -> Option<u64> {
    let v = e.target_unchecked_into::<web_sys::HtmlInputElement>().value();
    v.trim().parse::<u64>().ok()
}

fn routing(m: &Model, clients: &[ClientSpec], d: &Callback<Action>) -> Html {
    if clients.is_empty() {
        return html! { <p class="muted">{ "This scenario has no clients." }</p> };
    }
    let i = m.client.min(clients.len() - 1);
    let c = &clients[i];
    let on_client = d.reform(|e: Event| {
        let k = e.target_unchecked_into::<web_sys::HtmlSelectElement>().selected_index();
        Action::SetClient(k.max(0) as usize)
    });
    let on_route = d.reform(move |e: Event| {
        let v = e.target_unchecked_into::<web_sys::HtmlSelectElement>().value();
        Action::Lag(LagAction::Client(i, ClientParam::Route(route_of(&v).unwrap_or(Route::Leader))))
    });
    let param = |p: fn(u64) -> ClientParam| {
        d.reform(move |e: Event| match num_value(&e) {
            Some(v) => Action::Lag(LagAction::Client(i, p(v))),
            // An empty or unreadable field: change nothing.
            None => Action::FlushHash,
        })
    };
    let on_share = d.reform(move |e: Event| {
        let on = e.target_unchecked_into::<web_sys::HtmlInputElement>().checked();
        Action::Lag(LagAction::Client(i, ClientParam::ShareToken(on)))
    });
    let user = c.user.clone().unwrap_or_else(|| c.id.clone());
    let devices = clients.iter().filter(|x| x.user.as_deref().unwrap_or(&x.id) == user).count();
    html! {
        <div class="lag-block" data-testid="routing">
            <h3 class="c-label">{ "How reads are routed" }</h3>
            <div class="route-row">
                <label class="field">
                    <span class="muted">{ "client" }</span>
                    <select data-testid="lag-client-select" aria-label="Client" onchange={on_client}>
                        { for clients.iter().enumerate().map(|(k, x)| html! {
                            <option value={x.id.clone()} selected={k == i}>
                                { x.id.clone() }{ [" · ", x.route.name()].concat() }
                            </option>
                        }) }
                    </select>
                </label>
                <label class="field">
                    <span class="muted">{ "route" }</span>
                    <select data-testid="route-select" aria-label={["Read route of ", c.id.as_str()].concat()} onchange={on_route}>
                        { for Route::ALL.iter().map(|r| html! {
                            <option value={r.name()} selected={*r == c.route}>{ r.name() }</option>
                        }) }
                    </select>
                </label>
            </div>
            <p class="route-help">{ route_help(c.route) }</p>
            if c.route == Route::LeaderWindow {
                <label class="param">
                    <span>{ "stay on the leader for" }</span>
                    <NumInput test="window-ms" min="0" step="100" value={c.window_ms.to_string()}
                              onchange={param(ClientParam::WindowMs)} />
                    <span class="muted">{ "ms after a write" }</span>
                </label>
            }
            if c.route == Route::MaxLag {
                <label class="param">
                    <span>{ "a follower may lag at most" }</span>
                    <NumInput test="max-lag-ms" min="0" step="10" value={c.max_lag_ms.to_string()}
                              onchange={param(ClientParam::MaxLagMs)} />
                    <span class="muted">{ "ms" }</span>
                </label>
            }
            if c.route == Route::LsnToken {
                <label class="param check" title="Keep the token with the user account, so that every device of the user waits for the user's latest write">
                    <input type="checkbox" data-testid="share-token" checked={c.share_token} onchange={on_share} />
                    <span>{ "share the write token across " }<b>{ user.clone() }</b>{ "'s devices" }
                        if devices > 1 { <span class="muted">{ [" (", &devices.to_string(), " clients)"].concat() }</span> }
                    </span>
                </label>
            }
            if c.route == Route::OwnFromLeader {
                <p class="param muted">{ "rows whose " }<code>{ c.owner_column.clone() }</code>{ " is " }<code>{ ["'", &user, "'"].concat() }</code>{ " come from the leader" }</p>
            }
        </div>
    }
}

fn delays(s: &crate::scenario::Scenario, d: &Callback<Action>) -> Html {
    let followers: Vec<(usize, &crate::scenario::NodeSpec)> =
        s.nodes.iter().enumerate().filter(|(_, n)| n.role == Role::Follower).collect();
    if followers.is_empty() {
        return Html::default();
    }
    html! {
        <div class="lag-block" data-testid="apply-delays">
            <h3 class="c-label">{ "Follower apply delay" }</h3>
            <p class="muted small">{ "How long a follower sits on a change it received before applying it: turn it up and reads from it fall behind." }</p>
            { for followers.iter().map(|(k, n)| {
                let k = *k;
                let on_slide = d.reform(move |e: InputEvent| {
                    let v = e.target_unchecked_into::<web_sys::HtmlInputElement>().value();
                    Action::Lag(LagAction::ApplyDelay(k, v.trim().parse::<u64>().unwrap_or(0)))
                });
                let on_num = d.reform(move |e: Event| match num_value(&e) {
                    Some(v) => Action::Lag(LagAction::ApplyDelay(k, v)),
                    None => Action::FlushHash,
                });
                let v = n.apply_delay_ms;
                html! {
                    <div class="delay-row" data-node={n.id.clone()}>
                        <span class="d-id">{ n.id.clone() }</span>
                        <input type="range" data-testid="apply-delay" data-node={n.id.clone()} min="0" max={SLIDER_MAX_MS.to_string()}
                               step="10" value={v.min(SLIDER_MAX_MS).to_string()} oninput={on_slide}
                               aria-label={["Apply delay of ", n.id.as_str()].concat()} />
                        <NumInput class="d-num" test="apply-delay-ms" node={n.id.clone()} min="0"
                                  max={MAX_APPLY_DELAY_MS.to_string()} step="10" value={v.to_string()} onchange={on_num}
                                  label={["Apply delay of ", n.id.as_str(), " in ms"].concat()} />
                        <span class="muted">{ "ms" }</span>
                    </div>
                }
            }) }
        </div>
    }
}

fn policies(m: &Model, d: &Callback<Action>) -> Html {
    let running = m.lag.policies == Policies::Running;
    let onclick = {
        let d = d.clone();
        let job =
            m.pb.as_ref().map(|pb| json!({"kind": "policies", "scenario": pb.scenario().to_json(), "seed": pb.seed()}));
        let epoch = m.jobs.epoch;
        Callback::from(move |_: MouseEvent| {
            let Some(job) = job.clone() else { return };
            d.emit(Action::Lag(LagAction::RunPolicies));
            // In the worker: the page keeps playing and says "running…" while the runs go.
            let d = d.clone();
            worker::run(&job, move |answer| {
                d.emit(Action::Lag(LagAction::PoliciesDone { epoch, answer }));
                gloo_timers::callback::Timeout::new(0, || {
                    dom::scroll_list_to(".lag-panel .scroll", "[data-testid=policies]")
                })
                .forget();
            });
        })
    };
    let s = m.scenario();
    let current = s.and_then(readers_route);
    let n_readers = s.map_or(0, |s| readers(s).len());
    html! {
        <div class="lag-block" data-testid="policies">
            <div class="chart-head">
                <h3 class="c-label">{ "Routing policies compared" }</h3>
                <button class="btn" data-testid="policies-run" disabled={running || m.pb.is_none() || n_readers == 0} {onclick}
                        title="Run the whole scenario once per routing policy, every reader routed that way">
                    { if m.policy_rows().is_some() { "Run again" } else { "Compare" } }
                </button>
            </div>
            if n_readers == 0 {
                <p class="muted small">{ "No client reads in this scenario's workload." }</p>
            } else if m.policy_rows().is_none() && !running {
                <p class="muted small">{ "Runs this scenario to its end once per policy, with every reader routed that way, and counts what each fix costs: reads moved onto the leader, and latency." }</p>
            }
            if let Policies::Failed(e) = &m.lag.policies {
                <p class="error" role="alert" data-testid="policies-error">{ e.clone() }</p>
            }
            if running {
                <p class="running" role="status" data-testid="policies-running">{ ["running… (", &Route::ALL.len().to_string(), " runs)"].concat() }</p>
            }
            if let Some(rows) = m.policy_rows() {
                { table(rows, current, d) }
            }
        </div>
    }
}

fn us_ms(us: u64) -> String {
    // One decimal, without float formatting.
    let tenths = (us + 50) / 100;
    [(tenths / 10).to_string().as_str(), ".", &(tenths % 10).to_string()].concat()
}

fn table(rows: &[PolicyRow], current: Option<Route>, d: &Callback<Action>) -> Html {
    if rows.is_empty() {
        return html! { <p class="muted" data-testid="policy-table">{ "This scenario cannot run with other routes." }</p> };
    }
    html! {
        <>
        <table class="grid policy-table" data-testid="policy-table">
            <thead><tr>
                <th>{ "policy" }</th>
                <th title="Lag anomalies over the whole run, by kind">{ "anomalies" }</th>
                <th class="num" title="Share of the reads the leader served">{ "leader" }</th>
                <th class="num" title="Read latency, median (ms)">{ "p50" }</th>
                <th class="num" title="Read latency, 99th percentile (ms)">{ "p99" }</th>
            </tr></thead>
            <tbody>
                { for rows.iter().map(|r| {
                    let route = route_of(r.policy);
                    let on = route.is_some() && route == current;
                    let total: usize = r.anomalies.iter().map(|(_, n)| *n).sum();
                    let onclick = route.map(|rt| d.reform(move |_: MouseEvent| Action::Lag(LagAction::RouteReaders(rt))));
                    let pct = (r.leader_share * 100.0).round() as u64;
                    html! {
                        <tr class={classes!("pick", on.then_some("current"))} data-testid="policy-row" data-policy={r.policy}
                            data-anomalies={total.to_string()} aria-current={on.then_some("true")} {onclick}
                            title={["Click to route every reader by ", r.policy].concat()}>
                            <td class="p-name">{ r.policy }if on { <span class="cur-tag">{ "current" }</span> }</td>
                            <td class="p-anom">
                                if total == 0 {
                                    <span class="none">{ "✓ none" }</span>
                                } else {
                                    { for crate::check::AnomalyKind::LAG.into_iter().filter_map(|k| {
                                        let n = r.anomalies.iter().find(|(kk, _)| *kk == k).map_or(0, |(_, n)| *n);
                                        (n > 0).then(|| html! {
                                            <span class={classes!("p-k", k.name())} title={[badge_name(k), ": ", &n.to_string()].concat()}>
                                                { kind_swatch(k) }{ n }
                                            </span>
                                        })
                                    }) }
                                }
                            </td>
                            <td class="num">{ [pct.to_string().as_str(), "%"].concat() }</td>
                            <td class="num">{ us_ms(r.read_p50_us) }</td>
                            <td class="num">{ us_ms(r.read_p99_us) }</td>
                        </tr>
                    }
                }) }
            </tbody>
        </table>
        <p class="muted small">{ "Latency in ms, over " }{ rows.first().map_or(0, |r| r.reads) }{ " reads. Click a row to route every reader that way." }</p>
        </>
    }
}
