//! The page's side of its worker (`www/worker.js`): long jobs (`crate::jobs`) run there, so the page keeps drawing
//! while 1,000 seeds of a staleness curve or every conflict strategy run.
//!
//! The worker is started once, while the page loads (`spawn`, from `web::start`): the page's second
//! Content-Security-Policy, added once the app has started, forbids creating one later, and this way nothing after
//! load needs the network. It runs the same wasm module: the page posts the compiled `WebAssembly.Module` (no second
//! download) and the URL of its JS glue (trunk's `modulepreload` link). The worker answers `{"ready": true}` once it
//! has instantiated the module, then one `{"id", "out"}` per job.
//!
//! Without a worker (the browser refused it, it failed to start, or the page has no glue link as in the
//! wasm-bindgen tests), a job runs on the page's thread after the next paint: slower to feel, same answer.

use crate::vecmap::VecMap;
use std::cell::RefCell;

use serde_json::Value;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

type Done = Box<dyn FnOnce(Value)>;

#[derive(Default)]
struct Worker {
    handle: Option<web_sys::Worker>,
    /// Jobs sent and not answered yet, by id, with their text (to run them here if the worker fails).
    pending: VecMap<u32, (String, Done)>,
    next_id: u32,
    _onmessage: Option<Closure<dyn FnMut(web_sys::MessageEvent)>>,
    _onerror: Option<Closure<dyn FnMut(web_sys::Event)>>,
}

thread_local! {
    static WORKER: RefCell<Worker> = RefCell::new(Worker::default());
}

/// Mark the worker's state on `<html data-worker=…>` (the browser tests wait for "ready").
fn mark(state: &str) {
    if let Some(root) = super::dom::document().and_then(|d| d.document_element()) {
        let _ = root.set_attribute("data-worker", state);
    }
}

/// Start the worker, if this page can: a no-op where there is no glue link to hand it.
pub fn spawn() {
    let Some(doc) = super::dom::document() else { return };
    let glue = doc
        .query_selector("link[rel=modulepreload]")
        .ok()
        .flatten()
        .and_then(|l| l.get_attribute("href"))
        .filter(|h| !h.is_empty());
    let Some(glue) = glue else { return };
    let base = doc.base_uri().ok().flatten().unwrap_or_else(super::dom::location_href);
    let resolve = |path: &str| web_sys::Url::new_with_base(path, &base).ok().map(|u| u.href());
    let (Some(glue), Some(script)) = (resolve(&glue), resolve("worker.js")) else { return };
    let opts = web_sys::WorkerOptions::new();
    opts.set_type(web_sys::WorkerType::Module);
    let Ok(handle) = web_sys::Worker::new_with_options(&script, &opts) else {
        mark("failed");
        return;
    };
    let onmessage = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(|e: web_sys::MessageEvent| on_message(&e.data()));
    let onerror = Closure::<dyn FnMut(web_sys::Event)>::new(|_e: web_sys::Event| fail());
    handle.set_onmessage(Some(onmessage.as_ref().unchecked_ref()));
    handle.set_onerror(Some(onerror.as_ref().unchecked_ref()));
    let init = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&init, &"js".into(), &glue.into());
    let _ = js_sys::Reflect::set(&init, &"module".into(), &wasm_bindgen::module());
    let msg = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&msg, &"init".into(), &init);
    if handle.post_message(&msg).is_err() {
        handle.terminate();
        mark("failed");
        return;
    }
    mark("starting");
    WORKER.with(|w| {
        let mut w = w.borrow_mut();
        w.handle = Some(handle);
        w._onmessage = Some(onmessage);
        w._onerror = Some(onerror);
    });
}

fn field(data: &JsValue, key: &str) -> JsValue {
    js_sys::Reflect::get(data, &key.into()).unwrap_or(JsValue::UNDEFINED)
}

fn on_message(data: &JsValue) {
    if field(data, "ready").is_truthy() {
        mark("ready");
        return;
    }
    if !field(data, "failed").is_undefined() {
        fail();
        return;
    }
    let Some(id) = field(data, "id").as_f64() else { return };
    let out = field(data, "out").as_string().unwrap_or_default();
    let answer = serde_json::from_str(&out)
        .unwrap_or_else(|e| serde_json::json!({"error": format!("the worker's answer is not JSON: {e}")}));
    let done = WORKER.with(|w| w.borrow_mut().pending.remove(&(id as u32)));
    if let Some((_, done)) = done {
        done(answer);
    }
}

/// The worker could not start or died: stop using it, and run what it was given here.
fn fail() {
    mark("failed");
    let pending = WORKER.with(|w| {
        let mut w = w.borrow_mut();
        if let Some(h) = w.handle.take() {
            h.terminate();
        }
        std::mem::take(&mut w.pending)
    });
    for (_, (job, done)) in pending {
        run_here(job, done);
    }
}

/// Run a job on the page's thread, after the next paint (so "running…" shows first).
fn run_here(job: String, done: Done) {
    gloo_timers::callback::Timeout::new(60, move || {
        let answer = serde_json::from_str(&crate::jobs::run_text(&job)).unwrap_or(Value::Null);
        done(answer);
    })
    .forget();
}

/// Run `job` (see `crate::jobs`) in the worker, or here without one; `done` gets the answer.
pub fn run(job: &Value, done: impl FnOnce(Value) + 'static) {
    let text = job.to_string();
    let done: Done = Box::new(done);
    let sent = WORKER.with(|w| {
        let mut w = w.borrow_mut();
        let Some(handle) = w.handle.clone() else { return Err(done) };
        let id = w.next_id;
        w.next_id = w.next_id.wrapping_add(1);
        let msg = js_sys::Object::new();
        let _ = js_sys::Reflect::set(&msg, &"id".into(), &JsValue::from(id));
        let _ = js_sys::Reflect::set(&msg, &"job".into(), &JsValue::from_str(&text));
        if handle.post_message(&msg).is_err() {
            return Err(done);
        }
        w.pending.insert(id, (text.clone(), done));
        Ok(())
    });
    if let Err(done) = sent {
        run_here(text, done);
    }
}

/// What the worker calls for each job (exported to JS from the playground binary).
pub fn answer(job: &str) -> String {
    crate::jobs::run_text(job)
}

/// A job cut into chunks, sent one after another: progress after each, and a cancel that takes effect between
/// chunks (the worker is not killed: the page's locked-down policy would not let it start another).
struct Chunks {
    jobs: Vec<Value>,
    answers: Vec<Value>,
    cancel: std::rc::Rc<std::cell::Cell<bool>>,
    progress: Box<dyn Fn(usize, usize)>,
    done: Box<dyn FnOnce(Result<Vec<Value>, String>)>,
}

/// Run `jobs` in order; `progress(done, total)` after each; `done` gets every chunk's `ok` value, or the first
/// error. Nothing is called once `cancel` is set.
pub fn run_chunks(
    jobs: Vec<Value>,
    cancel: std::rc::Rc<std::cell::Cell<bool>>,
    progress: impl Fn(usize, usize) + 'static,
    done: impl FnOnce(Result<Vec<Value>, String>) + 'static,
) {
    next_chunk(Chunks { jobs, answers: Vec::new(), cancel, progress: Box::new(progress), done: Box::new(done) });
}

fn next_chunk(c: Chunks) {
    let Some(job) = c.jobs.get(c.answers.len()).cloned() else {
        (c.done)(Ok(c.answers));
        return;
    };
    run(&job, move |answer| {
        let mut c = c;
        if c.cancel.get() {
            return;
        }
        match answer.get("ok") {
            Some(v) => {
                c.answers.push(v.clone());
                (c.progress)(c.answers.len(), c.jobs.len());
                next_chunk(c);
            }
            None => (c.done)(Err(answer
                .get("error")
                .and_then(Value::as_str)
                .unwrap_or("the worker gave no answer")
                .to_string())),
        }
    });
}
