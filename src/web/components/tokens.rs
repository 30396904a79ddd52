//! The messages in flight on the cluster canvas, drawn outside Yew's virtual DOM.
//!
//! A busy cluster has hundreds of tokens, and every one of them moves on every frame. Built as virtual DOM, each
//! frame made and compared hundreds of elements and strings only to change one attribute per token (issue 13's
//! frame budget was missed by far). Here the layer is one empty `<g class="msgs">` that Yew owns, and the app's
//! effect after each render (`draw`) brings its children up to date itself: a token seen before gets its new
//! position (and a doomed one its fading), only if they changed; a new one is created once; one that arrived is
//! removed. The elements are the same as before (`g.msg` with `data-kind`, `data-msg`, a `<title>`, the kind's
//! shape and a label), so styles and tests see no difference.

use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen::JsCast;
use web_sys::{Document, Element, SvgGraphicsElement, SvgTransform};
use yew::prelude::*;

use crate::vecmap::VecMap;
use crate::view::MessageView;

use super::icons::{kind_class, shape_spec};

const SVG: Option<&str> = Some("http://www.w3.org/2000/svg");

/// One message in flight, as the layer draws it.
#[derive(Clone, Debug, PartialEq)]
pub struct Token {
    /// Which of the layer's messages it is.
    pub msg: usize,
    /// Where it is (canvas units).
    pub x: f32,
    pub y: f32,
    /// A doomed token fades as it travels.
    pub opacity: Option<f32>,
    /// Its label's place beside it (off the wire, on the side its direction travels) and anchor; `None`: no label.
    pub label: Option<(f32, f32, &'static str)>,
}

/// A token on the page and what was last written to it.
struct Drawn {
    el: Element,
    /// Its `translate(x y)`, moved in place (no attribute text to build and parse on every frame).
    at: SvgTransform,
    /// The position and opacity last written, in tenths (what the attribute text showed before).
    xy: (i32, i32),
    opacity: Option<i32>,
    label: Option<Element>,
    /// The sync pass that last saw it.
    seen: u64,
}

#[derive(Default)]
struct Layer {
    /// The `<g>` the tokens were drawn into (a new one, if Yew ever replaces it, starts empty).
    parent: Option<Element>,
    drawn: VecMap<u64, Drawn>,
    pass: u64,
    /// One finished token per kind (and doomed or not), cloned for each new token: one call instead of a dozen.
    templates: Vec<((&'static str, bool), Element)>,
}

fn tenths(v: f32) -> i32 {
    (v * 10.0).round() as i32
}

fn text(v: f32) -> String {
    (f64::from(tenths(v)) / 10.0).to_string()
}

/// The messages in flight and their tokens, for `draw`.
type Wanted = (Rc<Vec<MessageView>>, Vec<Token>);

thread_local! {
    /// The `<g>` the canvas draws for the tokens (the same `NodeRef` on every render), what it should show after
    /// this render, and what it shows.
    static GROUP: NodeRef = NodeRef::default();
    static WANTED: RefCell<Option<Wanted>> = const { RefCell::new(None) };
    static LAYER: RefCell<Layer> = RefCell::new(Layer::default());
}

/// The canvas's empty `<g class="msgs">`, and the tokens to draw in it once the page is rendered (`draw`).
pub fn layer(msgs: Rc<Vec<MessageView>>, tokens: Vec<Token>) -> Html {
    WANTED.with(|w| *w.borrow_mut() = Some((msgs, tokens)));
    let g = GROUP.with(Clone::clone);
    html! { <g class="msgs" ref={g}></g> }
}

/// After each render of the page: bring the tokens up to date (nothing when this render drew no canvas).
pub fn draw() {
    let Some((msgs, tokens)) = WANTED.with(|w| w.borrow_mut().take()) else { return };
    let Some(parent) = GROUP.with(|g| g.cast::<Element>()) else { return };
    LAYER.with(|l| {
        if let Ok(mut layer) = l.try_borrow_mut() {
            sync(&mut layer, parent, &msgs, &tokens);
        }
    });
}

fn sync(layer: &mut Layer, parent: Element, msgs: &[MessageView], tokens: &[Token]) {
    let Some(doc) = parent.owner_document() else { return };
    if layer.parent.as_ref() != Some(&parent) {
        layer.drawn.clear();
        layer.parent = Some(parent.clone());
    }
    layer.pass += 1;
    let pass = layer.pass;
    for t in tokens {
        let Some(msg) = msgs.get(t.msg) else { continue };
        match layer.drawn.get_mut(&msg.id) {
            Some(d) => {
                d.seen = pass;
                let xy = (tenths(t.x), tenths(t.y));
                if d.xy != xy {
                    let _ = d.at.set_translate(xy.0 as f32 / 10.0, xy.1 as f32 / 10.0);
                    d.xy = xy;
                }
                let opacity = t.opacity.map(tenths);
                if d.opacity != opacity {
                    match t.opacity {
                        Some(o) => drop(d.el.set_attribute("opacity", &text(o))),
                        None => drop(d.el.remove_attribute("opacity")),
                    }
                    d.opacity = opacity;
                }
                match (&d.label, &t.label) {
                    (Some(el), None) => {
                        el.remove();
                        d.label = None;
                    }
                    (None, Some(l)) => d.label = label(&doc, &d.el, msg, *l),
                    _ => {}
                }
            }
            None => {
                if let Some(d) = create(layer, &doc, &parent, msg, t) {
                    layer.drawn.insert(msg.id, d);
                }
            }
        }
    }
    layer.drawn.retain(|_, d| {
        let keep = d.seen == pass;
        if !keep {
            d.el.remove();
        }
        keep
    });
}

fn element(doc: &Document, name: &str) -> Option<Element> {
    doc.create_element_ns(SVG, name).ok()
}

fn template(doc: &Document, msg: &MessageView) -> Option<Element> {
    let g = element(doc, "g")?;
    let class = ["msg ", kind_class(msg.kind), if msg.doomed { " doomed" } else { "" }].concat();
    let _ = g.set_attribute("class", &class);
    let _ = g.set_attribute("data-kind", msg.kind.name());
    let _ = g.set_attribute("transform", "translate(0 0)");
    let title = element(doc, "title")?;
    let _ = g.append_child(&title);
    let (name, attrs) = shape_spec(msg.kind);
    let shape = element(doc, name)?;
    for (k, v) in attrs {
        let _ = shape.set_attribute(k, v);
    }
    let _ = g.append_child(&shape);
    Some(g)
}

fn create(layer: &mut Layer, doc: &Document, parent: &Element, msg: &MessageView, t: &Token) -> Option<Drawn> {
    let key = (msg.kind.name(), msg.doomed);
    let tpl = match layer.templates.iter().position(|(k, _)| *k == key) {
        Some(i) => &layer.templates[i].1,
        None => {
            layer.templates.push((key, template(doc, msg)?));
            &layer.templates[layer.templates.len() - 1].1
        }
    };
    let g: Element = tpl.clone_node_with_deep(true).ok()?.dyn_into().ok()?;
    let _ = g.set_attribute("data-msg", &msg.id.to_string());
    let at = g.dyn_ref::<SvgGraphicsElement>()?.transform().base_val().get_item(0).ok()?;
    let xy = (tenths(t.x), tenths(t.y));
    let _ = at.set_translate(xy.0 as f32 / 10.0, xy.1 as f32 / 10.0);
    if let Some(o) = t.opacity {
        let _ = g.set_attribute("opacity", &text(o));
    }
    let lost = if msg.doomed { " (will be lost)" } else { "" };
    if let Some(title) = g.first_element_child() {
        title.set_text_content(Some(
            &[msg.kind.name(), " ", &msg.from, " → ", &msg.to, ": ", &msg.label, lost].concat(),
        ));
    }
    let label = t.label.and_then(|l| label(doc, &g, msg, l));
    let _ = parent.append_child(&g);
    Some(Drawn { el: g, at, xy, opacity: t.opacity.map(tenths), label, seen: layer.pass })
}

fn label(doc: &Document, g: &Element, msg: &MessageView, (x, y, anchor): (f32, f32, &str)) -> Option<Element> {
    let el = element(doc, "text")?;
    let _ = el.set_attribute("class", "m-label");
    let _ = el.set_attribute("x", &text(x));
    let _ = el.set_attribute("y", &text(y));
    let _ = el.set_attribute("text-anchor", anchor);
    el.set_text_content(Some(&crate::web::text::truncate(&msg.label, 22)));
    let _ = g.append_child(&el);
    Some(el)
}
