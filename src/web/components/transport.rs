//! The transport bar: play/pause, step, restart, speed, the timeline scrubber with its markers, the clock.

use std::cell::RefCell;
use std::rc::Rc;

use yew::prelude::*;

use super::memo::{self, Memo, PartView};

use crate::web::state::{speed_of, Action, Model, DEFAULT_SPEED, SPEEDS};
use crate::web::text;
use crate::world::time::Micros;

use super::icons::icon;

/// Runs at least this long show their clock as hours, minutes and seconds.
const LONG_RUN: Micros = 10 * 60 * 1_000_000;

/// `t` as `h:mm:ss.mmm` in a long run (`text::clock`'s milliseconds otherwise).
fn long_clock(t: Micros, until: Micros) -> String {
    if until < LONG_RUN {
        return text::clock(t);
    }
    let ms = t / 1000;
    format!("{}:{:02}:{:02}.{:03}", ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000)
}

pub fn view(m: &Model, model: &Rc<RefCell<Model>>, d: &Callback<Action>, slim: bool) -> Html {
    let now = m.now();
    let until = m.until();
    let until_ms = until / 1000;
    let ended = m.at_end();
    let play_label = if m.playing {
        "Pause (Space)"
    } else if ended {
        "Replay from the start (Space)"
    } else {
        "Play (Space)"
    };
    let on_scrub = d.reform(|e: InputEvent| {
        let v = e.target_unchecked_into::<web_sys::HtmlInputElement>().value_as_number();
        Action::Seek(if v.is_finite() && v > 0.0 { (v * 1000.0) as Micros } else { 0 }, false)
    });
    let on_scrub_done = d.reform(|e: Event| {
        let v = e.target_unchecked_into::<web_sys::HtmlInputElement>().value_as_number();
        Action::Seek(if v.is_finite() && v > 0.0 { (v * 1000.0) as Micros } else { 0 }, true)
    });
    let on_speed = d.reform(|e: Event| {
        let v = e.target_unchecked_into::<web_sys::HtmlSelectElement>().value();
        Action::SetSpeed(speed_of(&v).unwrap_or(DEFAULT_SPEED))
    });
    let next = m.pb.as_ref().and_then(|pb| pb.next_marker(now));
    // The markers change only with the commands, the run's length and what the cluster did by itself.
    let markers_stamp = memo::stamp((m.run_id, until, m.events.len(), m.events.last().map(|e| e.at)));
    let skip_title = match &next {
        Some((at, label, _)) => ["Skip to the next event: ", &long_clock(*at, until), " · ", label].concat(),
        None => "Skip to the end: nothing else is scheduled".to_string(),
    };
    let speed_value =
        SPEEDS.iter().min_by(|a, b| (a.0 - m.speed).abs().total_cmp(&(b.0 - m.speed).abs())).map_or(1.0, |s| s.0);
    html! {
        <div class={classes!("transport", slim.then_some("slim"))} role="toolbar" aria-label="Playback">
            <div class="buttons">
                if !slim {
                    <button class="btn icon-btn" data-testid="restart" title="Restart from 0 ms (Home)" aria-label="Restart"
                            onclick={d.reform(|_: MouseEvent| Action::Restart)}>{ icon("restart") }</button>
                }
                <button class="btn icon-btn primary play" data-testid="play" title={play_label} aria-label={play_label}
                        aria-pressed={if m.playing { "true" } else { "false" }}
                        onclick={d.reform(|_: MouseEvent| Action::TogglePlay)}>{ icon(if m.playing { "pause" } else { "play" }) }</button>
                <button class="btn icon-btn" data-testid="step" title="Step: run exactly one more event (→)" aria-label="Step one event"
                        disabled={ended} onclick={d.reform(|_: MouseEvent| Action::Step)}>{ icon("step") }</button>
                <button class="btn icon-btn" data-testid="skip-next" title={skip_title.clone()} aria-label={skip_title}
                        disabled={ended} onclick={d.reform(|_: MouseEvent| Action::SkipToNext)}>{ icon("next") }</button>
                if slim {
                    <button class="btn icon-btn" data-testid="restart" title="Restart from 0 ms (Home)" aria-label="Restart"
                            onclick={d.reform(|_: MouseEvent| Action::Restart)}>{ icon("restart") }</button>
                }
            </div>
            <label class="speed" title="Speed: simulated milliseconds per real millisecond">
                <span class="sr-only">{ "Speed" }</span>
                <select data-testid="speed" onchange={on_speed}>
                    { for SPEEDS.iter().map(|(v, value, name)| html! {
                        <option value={*value} selected={*v == speed_value}>{ *name }</option>
                    }) }
                </select>
            </label>
            <div class="timeline">
                <input class="scrubber" data-testid="scrubber" type="range" min="0" max={until_ms.to_string()} step="1"
                       value={(now / 1000).to_string()} oninput={on_scrub} onchange={on_scrub_done}
                       aria-label="Timeline (ms)" aria-valuetext={text::clock(now)} />
                <Memo model={model.clone()} dispatch={d.clone()} view={markers as PartView} stamp={markers_stamp} />
            </div>
            <div class="time">
                if until >= LONG_RUN {
                    <span class="clock" data-testid="clock" title={text::clock(now)}>{ long_clock(now, until) }</span>
                    <span class="until">{ ["/ ", &long_clock(until, until)].concat() }</span>
                } else {
                    <span class="clock" data-testid="clock">{ text::clock(now) }</span>
                    <span class="until">{ ["/ ", &until_ms.to_string(), " ms"].concat() }</span>
                }
                if ended { <span class="end-badge" data-testid="end">{ "end" }</span> }
            </div>
        </div>
    }
}

/// The timeline's markers (a `Memo` part): each command of the run, and what the cluster did by itself.
fn markers(m: &Model, d: &Callback<Action>, _: usize) -> Html {
    let until = m.until();
    let ops: Vec<Html> =
        m.pb.as_ref()
            .map(|pb| pb.markers())
            .unwrap_or_default()
            .into_iter()
            .map(|(at, label, fault)| {
                let left = if until == 0 { 0.0 } else { at as f64 / until as f64 * 100.0 };
                let style = ["left:", &((left * 100.0).round() / 100.0).to_string(), "%"].concat();
                let title = [&text::clock(at), " · ", &label].concat();
                let onclick = d.reform(move |_: MouseEvent| Action::Seek(at, true));
                html! {
                    <button class={classes!("marker", if fault { "fault" } else { "op" })} {style} {title}
                            aria-label={label.clone()} tabindex="-1" {onclick}></button>
                }
            })
            .collect();
    // What the cluster did by itself: a node became leader, a new synchronous follower, a shutdown, a discard.
    let events: Vec<Html> = m
        .events
        .iter()
        .filter(|e| e.at <= until)
        .map(|e| {
            let at = e.at;
            let left = if until == 0 { 0.0 } else { at as f64 / until as f64 * 100.0 };
            let style = ["left:", &((left * 100.0).round() / 100.0).to_string(), "%"].concat();
            let title = [&text::clock(at), " · ", &e.label].concat();
            let onclick = d.reform(move |_: MouseEvent| Action::Seek(at, true));
            html! {
                <button class={classes!("marker", "event", e.kind)} data-testid="event-marker" data-kind={e.kind}
                        data-at={at.to_string()} {style} {title} aria-label={e.label.clone()} tabindex="-1" {onclick}></button>
            }
        })
        .collect();
    html! { <div class="markers" aria-hidden="true">{ for ops }{ for events }</div> }
}
