//! The cluster canvas: nodes around an ellipse (the leader on top), clients on the left, a link between every
//! pair of nodes and from each client to its node, and every message in flight as a token along its link.
//! One SVG with a viewBox fitted to the drawing, so it scales with its container.

use yew::prelude::*;

use crate::node::Status;
use crate::trace::MsgKind;
use crate::view::{ClusterView, MessageView, NodeView};
use crate::web::state::{Action, Mode, Model};
use crate::web::{dom, text};

use super::icons::{kind_class, kind_help, kind_shape, kind_swatch};

/// A box on the canvas: centre and half sizes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rect {
    pub x: f64,
    pub y: f64,
    pub hw: f64,
    pub hh: f64,
}

impl Rect {
    /// Where the ray from the centre in direction (ux, uy) leaves the box (plus `pad`).
    fn exit(&self, ux: f64, uy: f64, pad: f64) -> (f64, f64) {
        let tx = if ux.abs() > 1e-9 { self.hw / ux.abs() } else { f64::INFINITY };
        let ty = if uy.abs() > 1e-9 { self.hh / uy.abs() } else { f64::INFINITY };
        let t = tx.min(ty) + pad;
        (self.x + ux * t, self.y + uy * t)
    }
}

pub struct Layout {
    pub nodes: Vec<Rect>,
    pub clients: Vec<Rect>,
    /// x, y, width, height
    pub view_box: (f64, f64, f64, f64),
    pub scale: f64,
}

const NODE_HW: f64 = 104.0;
const NODE_HH: f64 = 58.0;
const CLIENT_HW: f64 = 58.0;
const CLIENT_HH: f64 = 28.0;

/// How to arrange the drawing for the space it gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// The full page: clients in a column on the left, nodes on a wide ellipse.
    Wide,
    /// Embed mode and medium screens: the same, packed closer so that text stays legible.
    Compact,
    /// Phones: clients in a row on top, nodes on a narrow ellipse below.
    Portrait,
}

/// Positions for `n` nodes (leader at index `leader`, drawn on top) and `m` clients.
pub fn layout(n: usize, leader: usize, m: usize, style: Style) -> Layout {
    let scale = if n <= 6 { 1.0 } else { (6.0 / n as f64).max(0.55) };
    let (hw, hh) = (NODE_HW * scale, NODE_HH * scale);
    let (cx, cy) = (620.0, 300.0);
    let (rx, ry) = match style {
        Style::Wide => (265.0, 200.0),
        Style::Compact => (215.0, 150.0),
        Style::Portrait => (if n == 3 { 128.0 } else { 150.0 }, 200.0),
    };
    let (rx, ry) = (if n <= 2 { 0.0 } else { rx }, if n <= 1 { 0.0 } else { ry });
    let nodes: Vec<Rect> = (0..n)
        .map(|i| {
            let k = (i + n - leader.min(n.saturating_sub(1))) % n.max(1);
            // Counter-clockwise from the top, so that n2 is drawn left of n3. (JS Math: no libm in the wasm.)
            let a = -std::f64::consts::FRAC_PI_2 - std::f64::consts::TAU * k as f64 / n.max(1) as f64;
            Rect { x: cx + rx * js_sys::Math::cos(a), y: cy + ry * js_sys::Math::sin(a), hw, hh }
        })
        .collect();
    let mut min_x = nodes.iter().map(|r| r.x - r.hw).fold(f64::INFINITY, f64::min);
    let mut max_x = nodes.iter().map(|r| r.x + r.hw).fold(f64::NEG_INFINITY, f64::max);
    let mut min_y = nodes.iter().map(|r| r.y - r.hh).fold(f64::INFINITY, f64::min);
    let mut max_y = nodes.iter().map(|r| r.y + r.hh).fold(f64::NEG_INFINITY, f64::max);
    if n == 0 {
        (min_x, max_x, min_y, max_y) = (400.0, 800.0, 100.0, 500.0);
    }
    let clients: Vec<Rect> = if style == Style::Portrait {
        // A row above the nodes, spread over their width.
        let y = min_y - 90.0 - CLIENT_HH;
        let span = (max_x - min_x).max(m as f64 * (CLIENT_HW * 2.0 + 12.0));
        let mid = (min_x + max_x) / 2.0;
        (0..m)
            .map(|j| {
                let x = if m == 1 {
                    mid
                } else {
                    mid - span / 2.0 + CLIENT_HW + (span - 2.0 * CLIENT_HW) * j as f64 / (m - 1) as f64
                };
                Rect { x, y, hw: CLIENT_HW, hh: CLIENT_HH }
            })
            .collect()
    } else {
        // A column left of the nodes, spread over their height.
        let x = min_x - if style == Style::Compact { 110.0 } else { 190.0 } - CLIENT_HW;
        let span = (max_y - min_y).max(m as f64 * (CLIENT_HH * 2.0 + 16.0));
        let mid = (min_y + max_y) / 2.0;
        (0..m)
            .map(|j| {
                let y = if m == 1 {
                    mid
                } else {
                    mid - span / 2.0 + CLIENT_HH + (span - 2.0 * CLIENT_HH) * j as f64 / (m - 1) as f64
                };
                Rect { x, y, hw: CLIENT_HW, hh: CLIENT_HH }
            })
            .collect()
    };
    for c in &clients {
        min_x = min_x.min(c.x - c.hw);
        max_x = max_x.max(c.x + c.hw);
        min_y = min_y.min(c.y - c.hh);
        max_y = max_y.max(c.y + c.hh);
    }
    let pad = if style == Style::Wide { 34.0 } else { 16.0 };
    Layout {
        nodes,
        clients,
        view_box: (min_x - pad, min_y - pad, max_x - min_x + 2.0 * pad, max_y - min_y + 2.0 * pad),
        scale,
    }
}

fn f(v: f64) -> String {
    // One decimal is plenty for screen coordinates and keeps the DOM small.
    let r = (v * 10.0).round() / 10.0;
    r.to_string()
}

fn translate(x: f64, y: f64) -> String {
    ["translate(", &f(x), " ", &f(y), ")"].concat()
}

pub fn view(m: &Model, v: &ClusterView, d: &Callback<Action>) -> Html {
    let leader = v.nodes.iter().position(|n| n.role == "leader").unwrap_or(0);
    let style = if dom::media_matches("(max-width: 600px) and (orientation: portrait)") {
        Style::Portrait
    } else if m.mode == Mode::Embed || dom::media_matches("(max-width: 800px)") {
        Style::Compact
    } else {
        Style::Wide
    };
    let lay = layout(v.nodes.len(), leader, v.clients.len(), style);
    let (bx, by, bw, bh) = lay.view_box;
    let view_box = [f(bx), f(by), f(bw), f(bh)].join(" ");
    let rect_of = |name: &str| -> Option<Rect> {
        if let Some(i) = v.nodes.iter().position(|n| n.id == name) {
            return lay.nodes.get(i).copied();
        }
        v.clients.iter().position(|c| c.id == name).and_then(|j| lay.clients.get(j).copied())
    };
    let is_cut = |a: &str, b: &str| -> (bool, bool) {
        (v.cuts.iter().any(|(x, y)| x == a && y == b), v.cuts.iter().any(|(x, y)| x == b && y == a))
    };

    // Links between every pair of nodes (a before b in node order).
    let mut links = Vec::new();
    for i in 0..v.nodes.len() {
        for j in i + 1..v.nodes.len() {
            let (a, b) = (&v.nodes[i].id, &v.nodes[j].id);
            let (ra, rb) = (lay.nodes[i], lay.nodes[j]);
            links.push(link_view("link", a, b, ra, rb, is_cut(a, b), d));
        }
    }
    let client_links: Vec<Html> = v
        .clients
        .iter()
        .enumerate()
        .filter_map(|(j, c)| {
            let rn = rect_of(&c.target)?;
            Some(link_view("clink", &c.id, &c.target, lay.clients[j], rn, is_cut(&c.id, &c.target), d))
        })
        .collect();

    let nodes: Vec<Html> = v
        .nodes
        .iter()
        .zip(&lay.nodes)
        .map(|(n, r)| node_view(n, *r, v.leader_lsn, m.selected.as_deref() == Some(n.id.as_str()), d))
        .collect();
    let clients: Vec<Html> = v
        .clients
        .iter()
        .zip(&lay.clients)
        .enumerate()
        .map(|(j, (c, r))| {
            let onclick = d.reform(move |_: MouseEvent| Action::SetClient(j));
            let pending = c.pending.to_string();
            html! {
                <g class={classes!("client", (m.client == j).then_some("chosen"))} data-client={c.id.clone()}
                   transform={translate(r.x, r.y)} {onclick}>
                    <title>{ ["Client ", &c.id, ": sends to ", &c.target, ". Click to write from it."].concat() }</title>
                    <rect class="card" x={f(-r.hw)} y={f(-r.hh)} width={f(2.0 * r.hw)} height={f(2.0 * r.hh)} rx="14" />
                    <text class="c-id" x={f(-r.hw + 14.0)} y="-4">{ text::truncate(&c.id, 9) }</text>
                    <text class="c-sub" x={f(-r.hw + 14.0)} y="15">{ ["→ ", &c.target].concat() }</text>
                    if c.pending > 0 {
                        <g class="c-pending" transform={translate(r.hw - 4.0, -r.hh + 4.0)}>
                            <title>{ [&pending, " waiting for an answer"].concat() }</title>
                            <circle r="11" /><text y="4.5" text-anchor="middle">{ c.pending }</text>
                        </g>
                    }
                </g>
            }
        })
        .collect();

    let tokens: Vec<Html> = v
        .messages
        .iter()
        .filter_map(|msg| {
            let (ra, rb) = (rect_of(&msg.from)?, rect_of(&msg.to)?);
            Some(message_view(msg, ra, rb, v.now))
        })
        .collect();

    html! {
        <div class="canvas-wrap">
            <svg class="canvas" viewBox={view_box} preserveAspectRatio="xMidYMid meet" role="img"
                 aria-label="The cluster: nodes, clients, links and messages in flight">
                <g class="links">{ for client_links }{ for links }</g>
                <g class="clients">{ for clients }</g>
                <g class="nodes">{ for nodes }</g>
                <g class="msgs">{ for tokens }</g>
            </svg>
        </div>
    }
}

fn link_view(
    class: &'static str,
    a: &str,
    b: &str,
    ra: Rect,
    rb: Rect,
    cut: (bool, bool),
    d: &Callback<Action>,
) -> Html {
    let any_cut = cut.0 || cut.1;
    let (mx, my) = ((ra.x + rb.x) / 2.0, (ra.y + rb.y) / 2.0);
    let (a2, b2) = (a.to_string(), b.to_string());
    let onclick = d.reform(move |_: MouseEvent| Action::ToggleLink(a2.clone(), b2.clone()));
    let title = if any_cut {
        let dir = match cut {
            (true, true) => String::new(),
            (true, false) => [" (one way: ", a, " → ", b, " blocked)"].concat(),
            _ => [" (one way: ", b, " → ", a, " blocked)"].concat(),
        };
        ["Link ", a, " — ", b, " is cut", &dir, ". Click to heal it."].concat()
    } else {
        ["Link ", a, " — ", b, ". Click to cut it."].concat()
    };
    let (x1, y1, x2, y2) = (f(ra.x), f(ra.y), f(rb.x), f(rb.y));
    let data_a = if class == "link" { Some(a.to_string()) } else { None };
    let data_b = if class == "link" { Some(b.to_string()) } else { None };
    let data_client = if class == "clink" { Some(a.to_string()) } else { None };
    let data_node = if class == "clink" { Some(b.to_string()) } else { None };
    html! {
        <g class={classes!(class, any_cut.then_some("cut"))} data-a={data_a} data-b={data_b}
           data-client={data_client} data-node={data_node}
           data-cut={if any_cut { "true" } else { "false" }} {onclick}>
            <title>{ title }</title>
            <line class="hit" x1={x1.clone()} y1={y1.clone()} x2={x2.clone()} y2={y2.clone()} />
            <line class="wire" {x1} {y1} {x2} {y2} />
            if any_cut {
                <g class="scissors" transform={translate(mx, my)}>
                    <circle r="14" />
                    <text y="5" text-anchor="middle">{ "✂" }</text>
                </g>
            }
        </g>
    }
}

fn status_glyph(s: Status) -> &'static str {
    match s {
        Status::Running => "●",
        Status::Crashed => "✕",
        Status::Paused => "❚❚",
        Status::Halted => "⚠",
        Status::Absent => "·",
    }
}

fn node_view(n: &NodeView, r: Rect, leader_lsn: u64, selected: bool, d: &Callback<Action>) -> Html {
    let id = n.id.clone();
    let onclick = d.reform(move |e: MouseEvent| {
        e.stop_propagation();
        Action::Select(Some(id.clone()))
    });
    let id = n.id.clone();
    let d2 = d.clone();
    let onkeydown = Callback::from(move |e: KeyboardEvent| {
        if e.key() == "Enter" {
            d2.emit(Action::Select(Some(id.clone())));
        }
    });
    let (x0, y0, w, h) = (-r.hw, -r.hh, 2.0 * r.hw, 2.0 * r.hh);
    let leader = n.role == "leader";
    let lag = if leader {
        "accepts writes".to_string()
    } else if n.lag_records == 0 {
        "in sync".to_string()
    } else {
        [n.lag_records.to_string().as_str(), " behind · ", &text::ms(n.lag_us)].concat()
    };
    let extra = if n.waiting_writes > 0 {
        [n.waiting_writes.to_string().as_str(), " waiting"].concat()
    } else if n.buffered > 0 {
        [n.buffered.to_string().as_str(), " buffered"].concat()
    } else {
        String::new()
    };
    let pill_w = extra.chars().count() as f64 * 7.6 + 18.0;
    let frac = if leader_lsn == 0 { 1.0 } else { (n.lsn as f64 / leader_lsn as f64).min(1.0) };
    let track = w - 28.0;
    let s = r.hw / NODE_HW;
    let line = |k: f64| f(y0 + k * s);
    html! {
        <g class={classes!("node", n.role, n.status.name(), selected.then_some("selected"))}
           data-node={n.id.clone()} data-role={n.role} data-status={n.status.name()} data-lsn={n.lsn.to_string()}
           transform={translate(r.x, r.y)} {onclick} {onkeydown} tabindex="0">
            <title>{ [&n.id, " (", n.role, ", ", n.status.name(), "): click to inspect"].concat() }</title>
            <rect class="card" x={f(x0)} y={f(y0)} width={f(w)} height={f(h)} rx="12" />
            if leader { <rect class="crown" x={f(x0)} y={f(y0)} width={f(w)} height="6" rx="3" /> }
            <text class="n-id" x={f(x0 + 14.0)} y={line(30.0)}>{ n.id.clone() }</text>
            <text class="n-role" x={f(-x0 - 14.0)} y={line(29.0)} text-anchor="end">{ n.role }</text>
            <text class="n-status" x={f(x0 + 14.0)} y={line(54.0)}>
                <tspan class="glyph">{ status_glyph(n.status) }</tspan>{ " " }{ n.status.name() }
            </text>
            <text class="n-lsn" x={f(-x0 - 14.0)} y={line(54.0)} text-anchor="end">{ ["LSN ", &n.lsn.to_string()].concat() }</text>
            <text class={classes!("n-lag", (n.lag_records > 0).then_some("behind"))} x={f(x0 + 14.0)} y={line(78.0)}>{ lag }</text>
            <rect class="bar-track" x={f(x0 + 14.0)} y={line(94.0)} width={f(track)} height="7" rx="3.5" />
            <rect class={classes!("bar-fill", (n.lag_records > 0).then_some("behind"))} x={f(x0 + 14.0)} y={line(94.0)} width={f(track * frac)} height="7" rx="3.5" />
            if !extra.is_empty() {
                <g class="n-pill" transform={translate(-x0 - 14.0 - pill_w / 2.0, -y0)}>
                    <rect x={f(-pill_w / 2.0)} y="-11" width={f(pill_w)} height="22" rx="11" />
                    <text y="5" text-anchor="middle">{ extra }</text>
                </g>
            }
            if n.status == Status::Crashed {
                <path class="xmark" d={["M", &f(x0 + 10.0), " ", &f(y0 + 10.0), "L", &f(-x0 - 10.0), " ", &f(-y0 - 10.0),
                                        "M", &f(-x0 - 10.0), " ", &f(y0 + 10.0), "L", &f(x0 + 10.0), " ", &f(-y0 - 10.0)].concat()} />
            }
            if n.status == Status::Paused {
                <g class="badge pause" transform={translate(-x0 - 2.0, y0 + 2.0)}>
                    <circle r="13" /><rect x="-6" y="-6" width="4" height="12" /><rect x="2" y="-6" width="4" height="12" />
                </g>
            }
            if n.status == Status::Halted {
                <g class="badge halt" transform={translate(-x0 - 2.0, y0 + 2.0)}>
                    <polygon points="0,-14 14,11 -14,11" /><text y="8" text-anchor="middle">{ "!" }</text>
                </g>
            }
        </g>
    }
}

fn message_view(msg: &MessageView, ra: Rect, rb: Rect, now: u64) -> Html {
    let (dx, dy) = (rb.x - ra.x, rb.y - ra.y);
    let len = (dx * dx + dy * dy).sqrt().max(1e-6);
    let (ux, uy) = (dx / len, dy / len);
    let (sx, sy) = ra.exit(ux, uy, 4.0);
    let (ex, ey) = rb.exit(-ux, -uy, 4.0);
    let p = msg.progress(now);
    // Opposite directions travel on either side of the wire.
    let (nx, ny) = (-uy, ux);
    let off = 9.0;
    let (x, y) = (sx + (ex - sx) * p + nx * off, sy + (ey - sy) * p + ny * off);
    let (lx, ly) = (nx * 15.0, ny * 15.0 + 4.0);
    let anchor = if nx > 0.35 {
        "start"
    } else if nx < -0.35 {
        "end"
    } else {
        "middle"
    };
    let opacity = if msg.doomed { Some(f(1.0 - 0.8 * p)) } else { None };
    let label = text::truncate(&msg.label, 22);
    html! {
        <g class={classes!("msg", kind_class(msg.kind), msg.doomed.then_some("doomed"))}
           data-kind={msg.kind.name()} data-msg={msg.id.to_string()} transform={translate(x, y)} opacity={opacity}>
            <title>{ [msg.kind.name(), " ", &msg.from, " → ", &msg.to, ": ", &msg.label, if msg.doomed { " (will be lost)" } else { "" }].concat() }</title>
            { kind_shape(msg.kind) }
            <text class="m-label" x={f(lx)} y={f(ly)} text-anchor={anchor}>{ label }</text>
        </g>
    }
}

/// The legend for message kinds and link states, and the current hint at its right end.
pub fn legend(m: &Model) -> Html {
    let hint = if let Some(h) = &m.hint {
        html! { <li class="hint note" role="status">{ h.clone() }</li> }
    } else if !m.playing && m.now() == 0 {
        html! { <li class="hint">{ "Press " }<kbd>{ "Space" }</kbd>{ " or ▶ to start" }</li> }
    } else {
        Html::default()
    };
    html! {
        <ul class="legend" aria-label="Legend">
            { for MsgKind::ALL.iter().map(|k| html! {
                <li title={kind_help(*k)}>{ kind_swatch(*k) }{ k.name() }</li>
            }) }
            <li class="l-doomed" title="The network will drop this message (loss, or a cut link)">
                <svg class="swatch" viewBox="-12 -12 24 24" width="18" height="18" aria-hidden="true"><circle class="fade" r="7" /></svg>
                { "fading: will be lost" }
            </li>
            <li class="l-cut" title="Click a link to cut it, click again to heal it">
                <svg class="swatch wide" viewBox="0 -6 30 12" width="30" height="12" aria-hidden="true"><line x1="0" y1="0" x2="30" y2="0" /></svg>
                { "✂ cut link" }
            </li>
            { hint }
        </ul>
    }
}
