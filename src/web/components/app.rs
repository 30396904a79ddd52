//! The root component: owns the reducer state, the animation loop and the window listeners (keyboard,
//! `hashchange`), and lays out the views for the full page, embed mode (`?embed=1`) and the benchmark (`?bench=1`).

use wasm_bindgen::JsCast;
use yew::prelude::*;

use crate::web::dom::{self, AnimationLoop, Listener};
use crate::web::state::{Action, AppState, Mode, Model, Tab};
use crate::web::text;

use super::{
    anomalies, bench, canvas, client, collab, compare, inspector, metrics, network, policies, spacetime, tokens,
    topbar, transport,
};

#[derive(Properties, PartialEq, Default)]
pub struct AppProps {
    /// Ignore the page URL and start with the default lesson (tests).
    #[prop_or_default]
    pub ignore_url: bool,
}

/// Everything the app holds on to while mounted.
#[derive(Default)]
struct Guards {
    _frames: Option<AnimationLoop>,
    _listeners: Vec<Listener>,
}

fn key_action(e: &web_sys::KeyboardEvent) -> Option<Action> {
    if e.ctrl_key() || e.meta_key() || e.alt_key() {
        return None;
    }
    Some(match e.key().as_str() {
        " " | "Spacebar" => Action::TogglePlay,
        "ArrowRight" if e.shift_key() => Action::Jump(100),
        "ArrowRight" => Action::Step,
        "ArrowLeft" => Action::Jump(-100),
        "Home" => Action::Restart,
        "n" | "N" => Action::SkipToNext,
        "?" => Action::ToggleHelp,
        "Escape" => Action::CloseHelp,
        _ => return None,
    })
}

#[function_component(App)]
pub fn app(props: &AppProps) -> Html {
    let ignore_url = props.ignore_url;
    let state = use_reducer(move || if ignore_url { AppState::default_lesson() } else { AppState::from_location() });
    let dispatch: Callback<Action> = state.dispatcher().into();

    {
        let model = state.model.clone();
        let d = dispatch.clone();
        use_effect_with((), move |_| {
            let mode = model.try_borrow().map_or(Mode::Full, |m| m.mode);
            // The first run is on the page (the benchmarks read this mark: time to first drawn frame).
            dom::mark("first-frame");
            let mut guards = Guards::default();
            if mode == Mode::Bench {
                // After the first paint, so that the page says "Running…" while it runs.
                let d = d.clone();
                gloo_timers::callback::Timeout::new(80, move || d.emit(Action::BenchDone(bench::run()))).forget();
            } else {
                let (m2, d2) = (model.clone(), d.clone());
                guards._frames = Some(dom::animation_loop(move |ts| {
                    let wanted = m2.try_borrow().is_ok_and(|m| m.wants_frame());
                    if wanted {
                        dom::frame_started();
                        d2.emit(Action::Frame(ts));
                    } else {
                        dom::frame_idle();
                    }
                }));
                let d3 = d.clone();
                guards._listeners.extend(Listener::window("keydown", move |e: web_sys::Event| {
                    if dom::target_is_field(&e) {
                        return;
                    }
                    let Some(k) = e.dyn_ref::<web_sys::KeyboardEvent>() else { return };
                    if let Some(a) = key_action(k) {
                        e.prevent_default();
                        d3.emit(a);
                    }
                }));
                // Space on a focused button would also "click" it on keyup: the shortcut already handled it.
                guards._listeners.extend(Listener::window("keyup", move |e: web_sys::Event| {
                    if let Some(k) = e.dyn_ref::<web_sys::KeyboardEvent>() {
                        if k.key() == " " && dom::target_is_button(&e) {
                            e.prevent_default();
                        }
                    }
                }));
                if mode == Mode::Embed {
                    // Scrolled out of the host page's view (index.html's observer): stop playing.
                    let d5 = d.clone();
                    guards._listeners.extend(Listener::window("replsim:offscreen", move |_| d5.emit(Action::Pause)));
                    // A narrower or wider frame wants another height: measure again once the resizing settles.
                    guards._listeners.extend(Listener::window("resize", move |_| {
                        gloo_timers::callback::Timeout::new(300, dom::report_embed_height).forget();
                    }));
                }
                if !ignore_url {
                    let d4 = d.clone();
                    guards._listeners.extend(Listener::window("hashchange", move |_| {
                        d4.emit(Action::LoadHash(dom::location_hash()));
                    }));
                }
            }
            move || drop(guards)
        });
    }

    // Embed mode: after each render, the host page may learn how tall the playground wants to be.
    let embed = state.model.try_borrow().is_ok_and(|m| m.mode == Mode::Embed);
    use_effect(move || {
        tokens::draw();
        dom::frame_drawn();
        if embed {
            dom::report_embed_height();
        }
    });

    let Ok(m) = state.model.try_borrow() else { return Html::default() };
    if m.mode == Mode::Bench {
        return bench::view(&m);
    }
    let Some(pb) = m.pb.as_ref() else {
        return html! {
            <main id="app" class="app">
                { topbar::error_banner(&m, &dispatch) }
                <p class="fatal">{ "The playground could not start a run. Pick a lesson from the list after reloading." }</p>
            </main>
        };
    };
    // Only the inspector shows a node's tables and log tail: the selected node's, on the Nodes tab.
    let detail = m.selected.as_deref().filter(|_| m.mode == Mode::Full && m.tab == Tab::Nodes);
    let mut v = pb.sim().view_of(detail);
    // The canvas's token layer keeps these (it reads a message's text only when its token is created).
    let msgs = std::rc::Rc::new(std::mem::take(&mut v.messages));
    let hash = text::hex16(pb.sim().trace.hash());
    let close_popovers = dispatch.reform(|_: MouseEvent| Action::CloseHelp);
    let footer = html! {
        <footer class="footer">
            <span class="muted">{ "seed " }{ pb.seed() }</span>
            <span class="muted">{ "events " }{ pb.sim().metrics.events }</span>
            <span class="muted">{ "trace " }<code data-testid="trace-hash" title="Trace hash: compare with `replsim run` at the same moment">{ hash }</code></span>
        </footer>
    };

    if m.mode == Mode::Embed {
        let mut href = dom::location_pathname();
        if !m.hash.is_empty() {
            href.push('#');
            href.push_str(&m.hash);
        } else {
            href.push_str(&dom::location_hash());
        }
        return html! {
            <main id="app" class="app embed">
                { topbar::error_banner(&m, &dispatch) }
                { topbar::narration(&m, &dispatch, Some(href)) }
                <div class="stage-canvas">{ canvas::view(&m, &v, msgs.clone(), &dispatch) }</div>
                { transport::view(&m, &state.model, &dispatch, true) }
                { footer }
            </main>
        };
    }

    html! {
        <main id="app" class={classes!("app", m.reduced_motion.then_some("reduced-motion"))}>
            { topbar::part(&state.model, &m, &dispatch) }
            { topbar::error_banner(&m, &dispatch) }
            if m.editing {
                <div class="workspace collab-space">{ html! { <collab::CollabEditor /> } }</div>
            } else if m.compare.is_some() {
                <div class="workspace cmp-space" onclick={close_popovers.clone()}>{ compare::view(&m, &dispatch) }</div>
            } else {
            <div class="workspace" onclick={close_popovers}>
                <section class="stage" aria-label="Cluster">
                    { topbar::narration(&m, &dispatch, None) }
                    { spacetime::strip(&m, &dispatch) }
                    if m.space_time() {
                        <div class="stage-canvas">{ spacetime::view(&m, &dispatch) }</div>
                        { spacetime::legend(&m, &dispatch) }
                    } else {
                        <div class="stage-canvas">{ canvas::view(&m, &v, msgs.clone(), &dispatch) }</div>
                        { canvas::legend(&m) }
                    }
                </section>
                <aside class="side">
                    { tabs(&m, &dispatch) }
                    { match m.tab {
                        Tab::Nodes => inspector::view(&m, &v, &dispatch),
                        Tab::Metrics => metrics::view(&m, &dispatch),
                        Tab::Anomalies => anomalies::view(&m, &dispatch),
                        Tab::Lag => policies::view(&m, &dispatch),
                        Tab::Network => network::view(&m, &dispatch),
                    } }
                    { client::view(&m, &state.model, &dispatch) }
                </aside>
            </div>
            }
            <div class="bottom">
                { transport::view(&m, &state.model, &dispatch, false) }
                { footer }
            </div>
        </main>
    }
}

/// The tabs of the right-hand column: Nodes | Metrics | Anomalies (with how many the checkers found) | Lag | Network.
fn tabs(m: &Model, d: &Callback<Action>) -> Html {
    let tab = |t: Tab, id: &'static str, label: &'static str, count: Option<usize>| {
        let on = m.tab == t;
        html! {
            <button class={classes!("tab", on.then_some("on"))} role="tab" data-testid={id}
                    aria-selected={if on { "true" } else { "false" }} onclick={d.reform(move |_: MouseEvent| Action::SetTab(t))}>
                { label }
                if let Some(n) = count.filter(|n| *n > 0) {
                    <span class="tab-count" data-testid="anomaly-count">{ n }</span>
                }
            </button>
        }
    };
    html! {
        <div class="tabs" role="tablist" aria-label="Panels">
            { tab(Tab::Nodes, "tab-nodes", "Nodes", None) }
            { tab(Tab::Metrics, "tab-metrics", "Metrics", None) }
            { tab(Tab::Anomalies, "tab-anomalies", "Anomalies", Some(m.anomalies.len())) }
            { tab(Tab::Lag, "tab-lag", "Lag", None) }
            { tab(Tab::Network, "tab-network", "Network", None) }
        </div>
    }
}
