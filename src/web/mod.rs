//! The browser front end: a Yew app drawing the simulation (see ARCHITECTURE.md, "Front end").
//!
//! - `state`: the reducer-owned model (the `Playback`, the playback clock, selection, URL fragment);
//! - `components`: the views, each a function of the model that turns clicks into `Action`s;
//! - `dom`: panic-free wrappers over browser APIs (URL, clipboard, animation frames, listeners);
//! - `text`: formatting helpers; `derive`: timeline markers and other facts drawn from the core's data;
//!   `chart`: the arithmetic of the hand-drawn SVG charts.

pub mod chart;
pub mod components;
pub mod derive;
pub mod dom;
pub mod state;
pub mod text;
pub mod worker;

/// Render the playground into `<body>` (replacing the loading placeholder).
pub fn start() {
    // In the worker (www/worker.js instantiates this same module) there is no page: only jobs run there.
    if dom::document().is_none() {
        return;
    }
    dom::remove_element_by_id("boot");
    if dom::query_param("embed").as_deref() == Some("1") {
        dom::set_body_class("embed", true);
    }
    yew::Renderer::<components::app::App>::new().render();
    worker::spawn();
}

/// Render the playground into `root` (tests). The app reads the page's URL like `start` does.
pub fn mount(root: web_sys::Element) -> yew::AppHandle<components::app::App> {
    yew::Renderer::<components::app::App>::with_root(root).render()
}

/// Render the playground into `root` with the default lesson, ignoring the page URL (tests).
pub fn mount_default(root: web_sys::Element) -> yew::AppHandle<components::app::App> {
    yew::Renderer::<components::app::App>::with_root_and_props(root, components::app::AppProps { ignore_url: true })
        .render()
}
