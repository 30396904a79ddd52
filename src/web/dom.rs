//! Thin, panic-free wrappers over the browser APIs the playground uses. Every JS call that can fail returns an
//! `Option`/`bool`; nothing here unwraps a JS result.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};

pub fn window() -> Option<web_sys::Window> {
    web_sys::window()
}

pub fn document() -> Option<web_sys::Document> {
    window()?.document()
}

/// Milliseconds from `performance.now()` (0 when unavailable).
pub fn now_ms() -> f64 {
    window().and_then(|w| w.performance()).map_or(0.0, |p| p.now())
}

/// The URL fragment including `#` ("" when there is none).
pub fn location_hash() -> String {
    window().and_then(|w| w.location().hash().ok()).unwrap_or_default()
}

pub fn location_search() -> String {
    window().and_then(|w| w.location().search().ok()).unwrap_or_default()
}

pub fn location_pathname() -> String {
    window().and_then(|w| w.location().pathname().ok()).unwrap_or_default()
}

pub fn location_href() -> String {
    window().and_then(|w| w.location().href().ok()).unwrap_or_default()
}

/// The value of `name` in the query string (`?embed=1`).
pub fn query_param(name: &str) -> Option<String> {
    let params = web_sys::UrlSearchParams::new_with_str(&location_search()).ok()?;
    params.get(name)
}

/// Replace the fragment without adding a history entry and without firing `hashchange`.
pub fn replace_hash(fragment: &str) -> bool {
    let Some(w) = window() else { return false };
    let Ok(history) = w.history() else { return false };
    let mut url = String::with_capacity(fragment.len() + 1);
    url.push('#');
    url.push_str(fragment);
    history.replace_state_with_url(&JsValue::NULL, "", Some(&url)).is_ok()
}

pub fn media_matches(query: &str) -> bool {
    window().and_then(|w| w.match_media(query).ok().flatten()).is_some_and(|m| m.matches())
}

/// The viewport's width and height in CSS pixels (what `max-width` and `orientation` media queries test), read
/// without building a `MediaQueryList` (views ask on every frame). 0 when unknown.
pub fn viewport() -> (f64, f64) {
    let Some(w) = window() else { return (0.0, 0.0) };
    let num = |v: Result<wasm_bindgen::JsValue, wasm_bindgen::JsValue>| v.ok().and_then(|v| v.as_f64()).unwrap_or(0.0);
    (num(w.inner_width()), num(w.inner_height()))
}

pub fn storage_get(key: &str) -> Option<String> {
    window()?.local_storage().ok().flatten()?.get_item(key).ok().flatten()
}

pub fn storage_set(key: &str, value: &str) {
    if let Some(s) = window().and_then(|w| w.local_storage().ok().flatten()) {
        let _ = s.set_item(key, value);
    }
}

/// `data-theme` on `<html>`.
pub fn set_theme_attr(dark: bool) {
    if let Some(el) = document().and_then(|d| d.document_element()) {
        let _ = el.set_attribute("data-theme", if dark { "dark" } else { "light" });
    }
}

pub fn set_body_class(class: &str, on: bool) {
    if let Some(body) = document().and_then(|d| d.body()) {
        let list = body.class_list();
        let _ = if on { list.add_1(class) } else { list.remove_1(class) };
    }
}

pub fn remove_element_by_id(id: &str) {
    if let Some(el) = document().and_then(|d| d.get_element_by_id(id)) {
        el.remove();
    }
}

/// Copy `text` to the clipboard: the async Clipboard API when present, else a selected textarea and
/// `execCommand("copy")`. `done(true)` when it worked, `done(false)` when the person has to copy by hand.
/// The first file chosen in file input `input`, read as text: `done(name, Ok(text))`, or `Err(message)` when it is
/// larger than `max_bytes` or cannot be read. Nothing chosen: `done` is not called.
pub fn read_chosen_file(
    input: &web_sys::HtmlInputElement,
    max_bytes: f64,
    done: impl FnOnce(String, Result<String, String>) + 'static,
) {
    let Some(file) = input.files().and_then(|f| f.get(0)) else { return };
    let name = file.name();
    if file.size() > max_bytes {
        let kb = (file.size() / 1024.0).ceil();
        done(name, Err(format!("it is {kb} KB; a scenario file may be at most {} KB", max_bytes / 1024.0)));
        return;
    }
    let promise = file.text();
    let done = Rc::new(std::cell::RefCell::new(Some(done)));
    let (ok_done, err_done) = (done.clone(), done);
    let ok_name = name.clone();
    let on_ok = Closure::once_into_js(move |text: JsValue| {
        if let Some(f) = ok_done.borrow_mut().take() {
            f(ok_name, text.as_string().ok_or_else(|| "it is not text".to_string()));
        }
    });
    let on_err = Closure::once_into_js(move |_: JsValue| {
        if let Some(f) = err_done.borrow_mut().take() {
            f(name, Err("the browser could not read it".into()));
        }
    });
    if let Some(then) = js_sys::Reflect::get(&promise, &JsValue::from_str("then"))
        .ok()
        .and_then(|f| f.dyn_into::<js_sys::Function>().ok())
    {
        let _ = then.call2(&promise, &on_ok, &on_err);
    }
}

/// `performance.mark(name)`: a moment the benchmarks read (`first-frame`: the first run is drawn).
pub fn mark(name: &str) {
    if let Some(p) = window().and_then(|w| w.performance()) {
        let _ = p.mark(name);
    }
}

thread_local! {
    /// When the frame being handled started (ms), and the work of the last frames (ms), oldest first.
    static FRAME_START: Cell<Option<f64>> = const { Cell::new(None) };
    static FRAME_WORK: RefCell<std::collections::VecDeque<f64>> = const { RefCell::new(std::collections::VecDeque::new()) };
}

/// How many frames `frame_work` keeps.
const FRAME_WORK_KEPT: usize = 1200;

/// An animation frame that redraws the run starts now.
pub fn frame_started() {
    FRAME_START.with(|s| s.set(Some(now_ms())));
}

/// A frame with nothing to redraw: a later render is not this frame's work.
pub fn frame_idle() {
    FRAME_START.with(|s| s.set(None));
}

/// The page has been redrawn (called after each render): the frame started by `frame_started` is done.
pub fn frame_drawn() {
    let Some(start) = FRAME_START.with(Cell::take) else { return };
    let work = now_ms() - start;
    FRAME_WORK.with(|w| {
        let mut w = w.borrow_mut();
        if w.len() == FRAME_WORK_KEPT {
            w.pop_front();
        }
        w.push_back(work);
    });
}

/// The work of the last frames that redrew the run (ms), oldest first.
pub fn frame_work() -> Vec<f64> {
    FRAME_WORK.with(|w| w.borrow().iter().copied().collect())
}

thread_local! {
    /// The height last posted to the host page, and when it was measured (ms).
    static EMBED_HEIGHT: Cell<(i32, f64)> = const { Cell::new((0, f64::NEG_INFINITY)) };
}

/// Embed mode: tell the page around the iframe how tall the playground wants to be, as
/// `{type: "replsim:height", height}` (docs/embedding.md has the listener). The canvas fills whatever height the
/// iframe has, so its wanted height is the rest of the page plus the canvas at its drawing's own aspect ratio.
/// Measured at most every quarter second, posted only when it changed.
pub fn report_embed_height() {
    let now = now_ms();
    let (last, at) = EMBED_HEIGHT.with(Cell::get);
    if now - at < 250.0 {
        return;
    }
    let Some(w) = window() else { return };
    let Ok(Some(parent)) = w.parent() else { return };
    if js_sys::Object::is(&parent, &w) {
        return; // not in a frame
    }
    let Some(doc) = w.document() else { return };
    let Some(app) = doc.get_element_by_id("app") else { return };
    let canvas = app.query_selector(".stage-canvas").ok().flatten();
    let aspect = canvas
        .as_ref()
        .and_then(|c| c.query_selector("svg").ok().flatten())
        .and_then(|svg| svg.get_attribute("viewBox"))
        .and_then(|vb| {
            let v: Vec<f64> = vb.split([' ', ',']).filter_map(|x| x.parse().ok()).collect();
            (v.len() == 4 && v[2] > 0.0).then(|| v[3] / v[2])
        });
    let (Some(canvas), Some(aspect)) = (canvas, aspect) else { return };
    let rest = app.scroll_height() - canvas.client_height();
    let wanted = rest + ((f64::from(canvas.client_width()) * aspect).round() as i32).clamp(160, 1200);
    EMBED_HEIGHT.with(|h| h.set((wanted, now)));
    if wanted == last {
        return;
    }
    let msg = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&msg, &"type".into(), &"replsim:height".into());
    let _ = js_sys::Reflect::set(&msg, &"height".into(), &f64::from(wanted).into());
    let _ = parent.post_message(&msg, "*");
}

pub fn copy_text(text: String, done: impl Fn(bool) + 'static) {
    let done = Rc::new(done);
    let api = window().and_then(|w| {
        let nav: JsValue = w.navigator().into();
        let clip = js_sys::Reflect::get(&nav, &JsValue::from_str("clipboard")).ok()?;
        if clip.is_undefined() || clip.is_null() {
            return None;
        }
        let f = js_sys::Reflect::get(&clip, &JsValue::from_str("writeText")).ok()?;
        let f: js_sys::Function = f.dyn_into().ok()?;
        let p = f.call1(&clip, &JsValue::from_str(&text)).ok()?;
        p.dyn_into::<js_sys::Promise>().ok()
    });
    match api {
        Some(promise) => {
            let ok = done.clone();
            let on_ok = Closure::once_into_js(move |_: JsValue| ok(true));
            let on_err = Closure::once_into_js(move |_: JsValue| done(exec_copy(&text)));
            // `promise.then(on_ok, on_err)`, called through Reflect (js-sys' typed `then2` wants owned closures).
            if let Some(then) = js_sys::Reflect::get(&promise, &JsValue::from_str("then"))
                .ok()
                .and_then(|f| f.dyn_into::<js_sys::Function>().ok())
            {
                let _ = then.call2(&promise, &on_ok, &on_err);
            }
        }
        None => done(exec_copy(&text)),
    }
}

fn exec_copy(text: &str) -> bool {
    let Some(doc) = document() else { return false };
    let Some(body) = doc.body() else { return false };
    let Some(el) = doc.create_element("textarea").ok() else { return false };
    let Ok(area) = el.dyn_into::<web_sys::HtmlTextAreaElement>() else { return false };
    area.set_value(text);
    let _ = area.set_attribute("readonly", "");
    let _ = area.set_attribute("style", "position:fixed;top:-1000px;opacity:0");
    if body.append_child(&area).is_err() {
        return false;
    }
    area.select();
    let ok = js_sys::Reflect::get(&doc, &JsValue::from_str("execCommand"))
        .ok()
        .and_then(|f| f.dyn_into::<js_sys::Function>().ok())
        .and_then(|f| f.call1(&doc, &JsValue::from_str("copy")).ok())
        .and_then(|v| v.as_bool())
        .unwrap_or(false);
    area.remove();
    ok
}

/// A `requestAnimationFrame` loop calling `f(timestamp)` every frame until the returned guard is dropped.
pub struct AnimationLoop {
    alive: Rc<Cell<bool>>,
}

impl Drop for AnimationLoop {
    fn drop(&mut self) {
        self.alive.set(false);
    }
}

type FrameSlot = Rc<RefCell<Option<Closure<dyn FnMut(f64)>>>>;

fn request_frame(slot: &FrameSlot) {
    if let (Some(w), Some(c)) = (window(), slot.borrow().as_ref()) {
        let _ = w.request_animation_frame(c.as_ref().unchecked_ref());
    }
}

pub fn animation_loop(mut f: impl FnMut(f64) + 'static) -> AnimationLoop {
    let alive = Rc::new(Cell::new(true));
    let slot: FrameSlot = Rc::new(RefCell::new(None));
    let (alive2, slot2) = (alive.clone(), slot.clone());
    let closure = Closure::<dyn FnMut(f64)>::new(move |ts: f64| {
        if !alive2.get() {
            // Stopped: do not ask for another frame. The closure stays allocated (a one-off on unmount).
            return;
        }
        f(ts);
        request_frame(&slot2);
    });
    *slot.borrow_mut() = Some(closure);
    request_frame(&slot);
    AnimationLoop { alive }
}

/// An event listener on `window`, removed when dropped.
pub struct Listener {
    event: &'static str,
    closure: Closure<dyn FnMut(web_sys::Event)>,
}

impl Listener {
    pub fn window(event: &'static str, f: impl FnMut(web_sys::Event) + 'static) -> Option<Listener> {
        let closure = Closure::<dyn FnMut(web_sys::Event)>::new(f);
        window()?.add_event_listener_with_callback(event, closure.as_ref().unchecked_ref()).ok()?;
        Some(Listener { event, closure })
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        if let Some(w) = window() {
            let _ = w.remove_event_listener_with_callback(self.event, self.closure.as_ref().unchecked_ref());
        }
    }
}

/// True when the event's target is a text field or a select, where keys belong to the field.
pub fn target_is_field(e: &web_sys::Event) -> bool {
    let Some(el) = e.target().and_then(|t| t.dyn_into::<web_sys::Element>().ok()) else { return false };
    let tag = el.tag_name();
    matches!(tag.as_str(), "INPUT" | "TEXTAREA" | "SELECT") || el.get_attribute("contenteditable").is_some()
}

pub fn target_is_button(e: &web_sys::Event) -> bool {
    e.target()
        .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
        .is_some_and(|el| matches!(el.tag_name().as_str(), "BUTTON" | "A" | "SUMMARY"))
}

/// Scroll the list matching `list_selector` (itself, not the page) so that its item matching `item_selector` is
/// near the top. The list must be the item's offset parent (`position: relative`).
pub fn scroll_list_to(list_selector: &str, item_selector: &str) {
    let Some(list) = document().and_then(|d| d.query_selector(list_selector).ok().flatten()) else { return };
    let Some(item) = list.query_selector(item_selector).ok().flatten() else { return };
    let Some(item) = item.dyn_ref::<web_sys::HtmlElement>() else { return };
    list.set_scroll_top((item.offset_top() - 6).max(0));
}
