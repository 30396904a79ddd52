//! The collaborative editing view (DDIA 5.3): one text box per person, each a copy of the same document on that
//! person's device, driven by real typing and the real clock through `multi_leader::collab::Session`.
//!
//! The component owns its session (nothing of it is in the playground's run or share link). The text boxes are not
//! controlled by Yew: typing reaches the session through `input` events, and what arrives from the others is written
//! into a box only when that copy changed (`Session::revision`), keeping the caret where the person was typing. So a
//! keystroke costs a diff against one copy and at most one write per box, not a rebuild of the document's DOM.

use std::rc::Rc;

use wasm_bindgen::JsCast;
use yew::prelude::*;

use crate::protocol::multi_leader::collab::{EditMode, LockState, Report, Session};
use crate::web::dom;

const NAMES: [&str; 3] = ["Ann", "Bob", "Cat"];
const SEED: u64 = 5;
/// What "Fill" types for each person in CRDT mode: the benchmark's load (3 × 10,000 keystrokes), live.
const FILL_KEYS: usize = 10_000;
const FILL_TEXT: &str = "every keystroke is a change applied here at once and sent to the others; ";

struct Editor {
    session: Session,
    /// The page clock (ms) at simulated time 0.
    origin_ms: f64,
    /// The revision of each copy last written into its box (`u64::MAX`: never).
    shown: [u64; 3],
    /// When the last input event started (ms), until the render after it has run.
    input_at: Option<f64>,
    /// The longest input-to-rendered time seen (ms): what the editor costs a frame.
    slowest_ms: f64,
    /// Where the next `sync` starts looking for a stale box.
    next_box: usize,
}

impl Editor {
    fn new(mode: EditMode, people: usize, latency_ms: u64) -> Editor {
        Editor {
            session: Session::new(mode, people, latency_ms, SEED),
            origin_ms: dom::now_ms(),
            shown: [u64::MAX; 3],
            input_at: None,
            slowest_ms: 0.0,
            next_box: 0,
        }
    }

    fn sim_now(&self) -> u64 {
        ((dom::now_ms() - self.origin_ms).max(0.0) * 1000.0) as u64
    }

    /// Whether some box shows an older revision of its copy than the session has.
    fn stale(&self) -> bool {
        (0..self.session.people()).any(|i| self.shown[i] != self.session.revision(i))
    }

    /// Write each copy that changed into its box (at most `limit` boxes, the others at the next call), keeping the
    /// caret in place relative to the text around it. The browser lays a 30,000-character box out again in about
    /// 7 ms after its value changes, so the frame loop rewrites one box per frame.
    fn sync(&mut self, boxes: &[NodeRef; 3], limit: usize) {
        let focused = dom::document().and_then(|d| d.active_element());
        let n = self.session.people();
        let mut written = 0;
        for k in 0..n {
            if written >= limit {
                break;
            }
            // Round robin from the box after the last one written, so no box waits behind the others.
            let i = (self.next_box + k) % n;
            let rev = self.session.revision(i);
            if self.shown[i] == rev {
                continue;
            }
            let Some(ta) = boxes[i].cast::<web_sys::HtmlTextAreaElement>() else { continue };
            self.shown[i] = rev;
            let new = self.session.text(i);
            let old = ta.value();
            if old == new {
                continue;
            }
            written += 1;
            self.next_box = (i + 1) % n;
            let has_focus = focused.as_ref().is_some_and(|f| f == ta.unchecked_ref::<web_sys::Element>());
            let caret = |pos: u32| -> u32 {
                // Positions are UTF-16 units: the common prefix in those units, and the change in length after it.
                let prefix: u32 =
                    old.chars().zip(new.chars()).take_while(|(a, b)| a == b).map(|(a, _)| a.len_utf16() as u32).sum();
                if pos <= prefix {
                    return pos;
                }
                let (o, n) = (old.encode_utf16().count() as i64, new.encode_utf16().count() as i64);
                (i64::from(pos) + n - o).clamp(i64::from(prefix), n) as u32
            };
            let sel = if has_focus {
                Some((
                    caret(ta.selection_start().ok().flatten().unwrap_or(0)),
                    caret(ta.selection_end().ok().flatten().unwrap_or(0)),
                ))
            } else {
                None
            };
            ta.set_value(&new);
            if let Some((s, e)) = sel {
                let _ = ta.set_selection_range(s, e);
            }
        }
    }
}

#[function_component(CollabEditor)]
pub fn collab_editor() -> Html {
    let editor = use_mut_ref(|| Editor::new(EditMode::Crdt, 2, 400));
    let update = use_force_update();
    let boxes: [NodeRef; 3] = [use_node_ref(), use_node_ref(), use_node_ref()];
    let root = use_node_ref();

    // The network runs on the page clock: deliver what is due each frame, redraw only when something arrived.
    {
        let (editor, boxes, update) = (editor.clone(), boxes.clone(), update.clone());
        use_effect_with((), move |_| {
            let frames = dom::animation_loop(move |_| {
                let Ok(mut e) = editor.try_borrow_mut() else { return };
                let now = e.sim_now();
                let arrived = e.session.advance_to(now) > 0;
                if arrived || e.stale() {
                    e.sync(&boxes, 1);
                    drop(e);
                    update.force_update();
                }
            });
            move || drop(frames)
        });
    }
    // After every render: the time from the last keystroke's input event to here is what the editor cost.
    {
        let (editor, root) = (editor.clone(), root.clone());
        use_effect(move || {
            if let Ok(mut e) = editor.try_borrow_mut() {
                if let Some(at) = e.input_at.take() {
                    e.slowest_ms = e.slowest_ms.max(dom::now_ms() - at);
                }
                if let Some(el) = root.cast::<web_sys::Element>() {
                    let _ = el.set_attribute("data-slowest-input-ms", &format!("{:.2}", e.slowest_ms));
                }
            }
        });
    }

    let Ok(mut e) = editor.try_borrow_mut() else { return Html::default() };
    let mode = e.session.mode();
    let people = e.session.people();
    let latency = e.session.latency_ms();
    let report = e.session.report();
    let lock_held: Vec<(LockState, usize)> =
        (0..people).map(|i| (e.session.lock_state(i), e.session.held_keys(i))).collect();
    let offline: Vec<bool> = (0..people).map(|i| e.session.is_offline(i)).collect();
    drop(e);

    let restart = {
        let (editor, boxes, update) = (editor.clone(), boxes.clone(), update.clone());
        Rc::new(move |mode: EditMode, people: usize, latency: u64| {
            if let Ok(mut e) = editor.try_borrow_mut() {
                *e = Editor::new(mode, people, latency);
                for b in &boxes {
                    if let Some(ta) = b.cast::<web_sys::HtmlTextAreaElement>() {
                        ta.set_value("");
                    }
                }
                e.sync(&boxes, 3);
            }
            update.force_update();
        })
    };
    let on_input = |i: usize| {
        let (editor, boxes, update) = (editor.clone(), boxes.clone(), update.clone());
        Callback::from(move |ev: InputEvent| {
            let Some(ta) = ev.target_dyn_into::<web_sys::HtmlTextAreaElement>() else { return };
            let Ok(mut e) = editor.try_borrow_mut() else { return };
            e.input_at = Some(dom::now_ms());
            let now = e.sim_now();
            e.session.advance_to(now);
            e.session.edit(i, &ta.value());
            // The typed box first (its copy may differ from what was typed: a full document), then one stale box.
            e.shown[i] = u64::MAX;
            e.next_box = i;
            e.sync(&boxes, 1);
            drop(e);
            update.force_update();
        })
    };
    let on_offline = |i: usize| {
        let (editor, boxes, update) = (editor.clone(), boxes.clone(), update.clone());
        Callback::from(move |ev: Event| {
            let Some(cb) = ev.target_dyn_into::<web_sys::HtmlInputElement>() else { return };
            let Ok(mut e) = editor.try_borrow_mut() else { return };
            let now = e.sim_now();
            e.session.advance_to(now);
            e.session.set_offline(i, cb.checked());
            e.sync(&boxes, 3);
            drop(e);
            update.force_update();
        })
    };
    let on_latency = {
        let (editor, update) = (editor.clone(), update.clone());
        Callback::from(move |ev: Event| {
            let Some(el) = ev.target_dyn_into::<web_sys::HtmlInputElement>() else { return };
            let ms = el.value().parse::<u64>().unwrap_or(400);
            if let Ok(mut e) = editor.try_borrow_mut() {
                e.session.set_latency_ms(ms);
            }
            update.force_update();
        })
    };
    let on_fill = {
        let (editor, boxes, update) = (editor.clone(), boxes.clone(), update.clone());
        Callback::from(move |_: MouseEvent| {
            let Ok(mut e) = editor.try_borrow_mut() else { return };
            let now = e.sim_now();
            e.session.advance_to(now);
            let text: Vec<char> = FILL_TEXT.chars().collect();
            let n = e.session.people();
            for p in 0..n {
                let start = e.session.text(p).chars().count();
                for k in 0..FILL_KEYS {
                    let ch = text[(k + p * 7) % text.len()];
                    e.session.key(p, crate::protocol::multi_leader::collab::Key::Insert(start + k, ch));
                }
            }
            e.sync(&boxes, 3);
            drop(e);
            update.force_update();
        })
    };

    let explain = match mode {
        EditMode::Lock => "Lock: before typing, a person's device asks a server for the document's lock and waits for the answer; keystrokes typed meanwhile stay on the typist's own screen (the badge counts them) and reach the others only once the lock has arrived. The holder gives it up after half a second without typing if someone else asked. Nothing is lost and the copies agree, but this is one leader at a time: typing waits for a round trip, and a holder who goes offline blocks everyone.",
        EditMode::Lww => "Last write wins, on the whole document: each keystroke sends the entire text, stamped with the typist's clock, and a copy keeps the document with the latest stamp. The copies agree once messages arrive, but when two people type at the same time one document replaces the other and its keystrokes are gone: they are counted as lost.",
        EditMode::Crdt => "Text CRDT: each character gets a unique id and is placed after the character that was left of the cursor; deleting leaves a tombstone. Every copy applies every keystroke, in whatever order it arrives, and ends with the same text. Two people typing at the same spot get their words one after the other, never letter by letter mixed.",
    };
    let seg = |m: EditMode, label: &'static str| {
        let restart = restart.clone();
        let on = m == mode;
        html! {
            <button class={classes!("seg-btn", on.then_some("on"))} data-testid={format!("collab-mode-{}", m.name())}
                    aria-pressed={if on { "true" } else { "false" }}
                    onclick={Callback::from(move |_: MouseEvent| restart(m, people, latency))}>{ label }</button>
        }
    };
    let people_btn = |n: usize| {
        let restart = restart.clone();
        let on = n == people;
        html! {
            <button class={classes!("seg-btn", on.then_some("on"))} data-testid={format!("collab-people-{n}")}
                    aria-pressed={if on { "true" } else { "false" }}
                    onclick={Callback::from(move |_: MouseEvent| restart(mode, n, latency))}>{ n }</button>
        }
    };
    let reset = {
        let restart = restart.clone();
        Callback::from(move |_: MouseEvent| restart(mode, people, latency))
    };

    html! {
        <section class="collab panel" data-testid="collab" data-mode={mode.name()} ref={root} aria-label="Collaborative editing">
            <div class="panel-head">
                <h2>{ "Collaborative editing" }</h2>
                <div class="collab-controls">
                    <div class="seg" role="group" aria-label="How copies are kept in step">
                        { seg(EditMode::Lock, "Lock") }{ seg(EditMode::Lww, "Last write wins") }{ seg(EditMode::Crdt, "Text CRDT") }
                    </div>
                    <div class="seg" role="group" aria-label="People">{ people_btn(2) }{ people_btn(3) }</div>
                    <label class="collab-latency">{ "one-way delay " }
                        <input type="range" min="0" max="2000" step="50" value={latency.to_string()} data-testid="collab-latency" onchange={on_latency} aria-label="One-way network delay in milliseconds" />
                        <span>{ latency }{ " ms" }</span>
                    </label>
                    <button class="btn" data-testid="collab-reset" onclick={reset} title="Empty every copy and start again">{ "Reset" }</button>
                    if mode == EditMode::Crdt {
                        <button class="btn" data-testid="collab-fill" onclick={on_fill} title="Everyone types 10,000 keystrokes at once (the benchmark's load), then try typing">{ "Fill 10,000 each" }</button>
                    }
                </div>
            </div>
            <p class="collab-explain">
                { "Each box is one person's copy of the same document, on their own device. Every device accepts writes (it is a leader): a keystroke changes the local copy at once and travels to the others after the network's delay. Type in two boxes at the same time, or take someone offline, and watch what each way of keeping the copies in step does. " }
                { explain }
            </p>
            <div class="collab-people">
                { for (0..people).map(|i| {
                    let (lock, held) = lock_held[i];
                    let off = offline[i];
                    html! {
                        <div class={classes!("collab-person", off.then_some("offline"))} data-testid={format!("collab-person-{i}")}>
                            <div class="collab-person-head">
                                <strong>{ NAMES[i] }</strong>
                                if mode == EditMode::Lock {
                                    <span class="badge" data-testid={format!("collab-lock-{i}")} data-lock={lock.name()}>
                                        { match lock { LockState::Held => "holds the lock".to_string(), LockState::Asked => format!("waiting for the lock ({held} keystrokes)"), LockState::Free => "no lock".to_string() } }
                                    </span>
                                }
                                <span class="muted">{ "typed " }{ report.typed_by.get(i).copied().unwrap_or(0) }{ ", kept " }{ report.kept_by.get(i).copied().unwrap_or(0) }</span>
                                <label class="collab-offline">
                                    <input type="checkbox" checked={off} data-testid={format!("collab-offline-{i}")} onchange={on_offline(i)} />
                                    { " offline" }
                                </label>
                            </div>
                            <textarea ref={boxes[i].clone()} data-testid={format!("collab-box-{i}")} spellcheck="false"
                                      aria-label={format!("{}'s copy of the document", NAMES[i])} oninput={on_input(i)} />
                        </div>
                    }
                }) }
            </div>
            { counters(&report) }
        </section>
    }
}

fn counters(r: &Report) -> Html {
    html! {
        <dl class="collab-counters" data-testid="collab-counters">
            <div><dt>{ "keystrokes typed" }</dt><dd data-testid="collab-typed">{ r.typed }</dd></div>
            <div><dt>{ "kept" }</dt><dd data-testid="collab-kept">{ r.kept }</dd></div>
            <div title="Keystrokes whose effect is in no copy once everything has arrived">
                <dt>{ "lost" }</dt><dd data-testid="collab-lost" class={classes!((r.lost > 0).then_some("bad"))}>{ r.lost }</dd>
            </div>
            <div title="Messages on the network or waiting in an offline device's outbox, and keystrokes waiting for the lock">
                <dt>{ "on their way" }</dt><dd data-testid="collab-inflight">{ r.in_flight }</dd>
            </div>
            <div><dt>{ "copies" }</dt>
                <dd data-testid="collab-agree" data-agree={if r.agree { "true" } else { "false" }} class={classes!(if r.agree { "good" } else { "bad" })}>
                    { if r.agree { "agree" } else { "differ" } }
                </dd>
            </div>
        </dl>
    }
}
