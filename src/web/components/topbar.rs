//! The top bar (title, lesson picker, share, theme, help), the narration panel and the error banner.

use std::cell::RefCell;
use std::rc::Rc;

use yew::prelude::*;

use crate::web::dom;
use crate::web::state::{Action, CompareAction, Model, Share};

use super::icons::icon;
use super::memo::{self, Memo, PartView};

/// The largest scenario file the page opens (the library's largest lesson is under 10 KB).
const MAX_SCENARIO_FILE: f64 = 512.0 * 1024.0;

/// The top bar as a `Memo` part: it changes only with what `view` reads, not with the run's clock (each frame
/// would otherwise rebuild and compare the lesson picker's seventy options).
pub fn part(model: &Rc<RefCell<Model>>, m: &Model, d: &Callback<Action>) -> Html {
    let stamp =
        memo::stamp((m.lesson, &m.lessons, m.editing, m.compare.is_some(), &m.file_error, &m.share, m.dark, m.help));
    let draw = |m: &Model, d: &Callback<Action>, _: usize| view(m, d);
    html! { <Memo model={model.clone()} dispatch={d.clone()} view={draw as PartView} {stamp} /> }
}

/// The top bar; everything it reads from the model is in `part`'s stamp.
pub fn view(m: &Model, d: &Callback<Action>) -> Html {
    let on_lesson =
        d.reform(|e: Event| Action::LoadLesson(e.target_unchecked_into::<web_sys::HtmlSelectElement>().value()));
    let share = {
        let d = d.clone();
        Callback::from(move |_: MouseEvent| {
            d.emit(Action::FlushHash);
            let d = d.clone();
            let href = dom::location_href();
            let url = href.clone();
            dom::copy_text(href, move |ok| {
                if ok {
                    d.emit(Action::ShareResult(Share::Copied));
                    let d2 = d.clone();
                    gloo_timers::callback::Timeout::new(2500, move || d2.emit(Action::ShareResult(Share::Idle)))
                        .forget();
                } else {
                    d.emit(Action::ShareResult(Share::Manual(url.clone())));
                }
            });
        })
    };
    let on_file = {
        let d = d.clone();
        Callback::from(move |e: Event| {
            let input: web_sys::HtmlInputElement = e.target_unchecked_into();
            let d = d.clone();
            let reset = input.clone();
            dom::read_chosen_file(&input, MAX_SCENARIO_FILE, move |name, text| d.emit(Action::OpenFile(name, text)));
            // The same file chosen again (after fixing it) fires `change` again.
            reset.set_value("");
        })
    };
    let share_label = match m.share {
        Share::Copied => "Link copied",
        _ => "Share",
    };
    html! {
        <header class="topbar">
            <h1 class="brand">
                <svg class="logo" viewBox="0 0 32 32" width="26" height="26" aria-hidden="true">
                    <path d="M16 7L6 25M16 7l10 18M6 25h20" />
                    <circle class="k-request" cx="16" cy="7" r="5" /><circle class="k-response" cx="6" cy="25" r="5" /><circle class="k-replicate" cx="26" cy="25" r="5" />
                </svg>
                { "Replication Playground" }
            </h1>
            <label class="lesson">
                <span class="muted">{ "Lesson" }</span>
                <select data-testid="lesson-select" onchange={on_lesson} aria-label="Lesson">
                    if m.lesson.is_none() {
                        <option value="" selected=true disabled=true>{ "Custom run (changed settings)" }</option>
                    }
                    { for m.lessons.iter().map(|(name, title)| html! {
                        <option value={*name} selected={m.lesson == Some(*name)}>{ title.clone() }</option>
                    }) }
                </select>
            </label>
            <div class="seg view-switch" role="group" aria-label="View">
                { for [(false, "show-cluster", "One cluster"), (true, "show-compare", "Compare log methods")].into_iter().map(|(cmp, id, label)| {
                    let on = !m.editing && m.compare.is_some() == cmp;
                    let title = if cmp { "The same run under all four replication log methods, side by side" } else { "The cluster of this run" };
                    html! { <button class={classes!("seg-btn", on.then_some("on"))} data-testid={id} aria-pressed={if on { "true" } else { "false" }}
                                    {title} onclick={d.reform(move |_: MouseEvent| Action::Compare(if cmp { CompareAction::Open } else { CompareAction::Close }))}>{ label }</button> }
                }) }
                <button class={classes!("seg-btn", m.editing.then_some("on"))} data-testid="show-collab" aria-pressed={if m.editing { "true" } else { "false" }}
                        title="Two or three people typing into one document at once: a lock, last write wins, or a text CRDT"
                        onclick={d.reform(|_: MouseEvent| Action::Editing(true))}>{ "Collaborative editing" }</button>
            </div>
            <div class="spacer" />
            <div class="open-wrap">
                <label class="btn" data-testid="open-file" title="Open a scenario file (JSON, see docs/scenario-format.md) you wrote or saved">
                    { "Open file…" }
                    <input type="file" class="sr-only" data-testid="open-file-input" accept=".json,application/json" onchange={on_file} />
                </label>
                if let Some(e) = m.file_error.as_ref() {
                    <div class="popover file-error" role="alert" data-testid="file-error">
                        <p>{ e.clone() }</p>
                        <button class="btn" onclick={d.reform(|_: MouseEvent| Action::DismissError)}>{ "Dismiss" }</button>
                    </div>
                }
            </div>
            <div class="share-wrap">
                <button class={classes!("btn", (m.share == Share::Copied).then_some("done"))} data-testid="share" onclick={share}
                        title="Copy a link to exactly this moment of this run">{ icon("share") }{ share_label }</button>
                if let Share::Manual(url) = &m.share {
                    <div class="popover share-pop" role="dialog" aria-label="Copy this link">
                        <p>{ "Copy this link (Ctrl+C / ⌘C):" }</p>
                        <input type="text" readonly=true value={url.clone()} onfocus={Callback::from(|e: FocusEvent| {
                            e.target_unchecked_into::<web_sys::HtmlInputElement>().select();
                        })} />
                        <button class="btn" onclick={d.reform(|_: MouseEvent| Action::CloseHelp)}>{ "Close" }</button>
                    </div>
                }
            </div>
            <button class="btn icon-btn" data-testid="theme" aria-label={if m.dark { "Switch to light theme" } else { "Switch to dark theme" }}
                    title={if m.dark { "Light theme" } else { "Dark theme" }} onclick={d.reform(|_: MouseEvent| Action::ToggleTheme)}>
                { icon(if m.dark { "sun" } else { "moon" }) }
            </button>
            <div class="help-wrap">
                <button class="btn icon-btn" data-testid="help" aria-expanded={if m.help { "true" } else { "false" }}
                        title="Keyboard shortcuts (?)" onclick={d.reform(|_: MouseEvent| Action::ToggleHelp)}>{ "?" }</button>
                if m.help { { help() } }
            </div>
        </header>
    }
}

fn help() -> Html {
    let rows: &[(&str, &str)] = &[
        ("Space", "play / pause"),
        ("→", "step one event"),
        ("Shift + →", "forward 100 ms"),
        ("N", "skip to the next statement, fault or command (long runs)"),
        ("←", "back 100 ms"),
        ("Home", "restart from 0 ms"),
        ("?", "this help"),
    ];
    html! {
        <div class="popover help" role="dialog" aria-label="Keyboard shortcuts">
            <h3>{ "Keyboard" }</h3>
            <dl>
                { for rows.iter().map(|(k, what)| html! { <div><dt><kbd>{ *k }</kbd></dt><dd>{ *what }</dd></div> }) }
            </dl>
            <h3>{ "Mouse" }</h3>
            <ul>
                <li>{ "Click a node to inspect it, crash it, pause it." }</li>
                <li>{ "Click a link between two nodes to cut it; click again to heal. The Network tab sets delays, loss and one-way cuts, per link too." }</li>
                <li>{ "Drag the timeline to go anywhere in the run; markers show faults (▲) and client statements (|)." }</li>
                <li>{ "Share copies a link to this exact moment, with everything you did." }</li>
            </ul>
        </div>
    }
}

/// The lesson's title and what to watch.
pub fn narration(m: &Model, d: &Callback<Action>, embed_href: Option<String>) -> Html {
    let Some(s) = m.scenario() else { return Html::default() };
    let title = s.title.clone().unwrap_or_else(|| "Untitled scenario".to_string());
    let text = s.narration.clone().unwrap_or_default();
    let open = m.narration_open;
    html! {
        <section class={classes!("narration", (!open).then_some("closed"))} data-testid="narration" aria-label="Lesson">
            <div class="narr-head">
                <h2>{ title }</h2>
                if !text.is_empty() {
                    <button class="link-btn" aria-expanded={if open { "true" } else { "false" }}
                            onclick={d.reform(|_: MouseEvent| Action::ToggleNarration)}>{ if open { "Hide" } else { "What to watch" } }</button>
                }
                if let Some(href) = embed_href {
                    <a class="open-full" href={href} target="_blank" rel="noopener">{ "Open in playground ↗" }</a>
                }
            </div>
            if open && !text.is_empty() { <p>{ text }</p> }
        </section>
    }
}

pub fn error_banner(m: &Model, d: &Callback<Action>) -> Html {
    let Some(e) = m.error.as_ref() else { return Html::default() };
    html! {
        <div class="banner error" data-testid="error-banner" role="alert">
            <span class="b-icon" aria-hidden="true">{ "⚠" }</span>
            <span class="b-text">{ e.clone() }</span>
            <button class="btn" aria-label="Dismiss" onclick={d.reform(|_: MouseEvent| Action::DismissError)}>{ "Dismiss" }</button>
        </div>
    }
}
