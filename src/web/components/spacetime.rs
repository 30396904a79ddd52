//! The space-time (Lamport) diagram of DDIA 5.2: one horizontal lane per client and per replica, time running
//! left to right over a window that follows the playhead. Client operations are arrows from the client to the
//! replica that served them and back (every hop, when a lagging follower hands a read on to the leader);
//! replication is a thin arrow from the leader to each follower, then a dotted wait along the follower's lane until
//! the change is applied (the follower's apply delay), marked with its log position. Reads the lag checkers flag
//! are red, thick and dashed, with the anomaly's name; the operation that proves it (the write the read missed, or
//! the earlier read that saw more) gets a red halo and a dotted link to it. Shapes and dashes say as much as the
//! colours.
//!
//! Also here: the strip above the stage (cluster or space-time, and the lag anomaly counts) and the diagram's
//! legend.

use crate::vecmap::VecMap;

use yew::prelude::*;

use crate::check::{Anomaly, AnomalyKind};
use crate::web::state::{Action, LagAction, Model, Stage};
use crate::web::{dom, text};
use crate::world::time::Micros;
use crate::world::trace::{MsgKind, TraceEvent};

use crate::web::state::lag::WINDOWS_MS;

/// The drawing's width in viewBox units (the SVG scales to the stage), and where the lanes start (their labels
/// live left of it): wide screens, then narrow ones.
const WIDE: (f64, f64) = (1000.0, 136.0);
const NARROW: (f64, f64) = (440.0, 76.0);
/// The time axis.
const AXIS_Y: f64 = 18.0;
/// The first lane (room above it for anomaly labels).
const TOP: f64 = 74.0;
const BOTTOM: f64 = 30.0;

// ---------------------------------------------------------------------------------------------------------------
// Anomaly kinds: names, help, shapes (shared with the policy table).

/// A short label for a lag anomaly kind (drawn next to a flagged read).
pub fn short_name(kind: AnomalyKind) -> &'static str {
    match kind {
        AnomalyKind::MonotonicReads => "monotonic",
        AnomalyKind::StaleRead => "stale",
        AnomalyKind::ConsistentPrefix => "prefix",
        other => other.name(),
    }
}

/// The badge name of a kind.
pub fn badge_name(kind: AnomalyKind) -> &'static str {
    match kind {
        AnomalyKind::MonotonicReads => "monotonic reads",
        AnomalyKind::StaleRead => "stale reads",
        AnomalyKind::ConsistentPrefix => "consistent prefix",
        other => other.name(),
    }
}

/// What a kind means, in one line.
pub fn kind_help(kind: AnomalyKind) -> &'static str {
    super::anomalies::kind_help(kind)
}

/// Each kind's shape, centred on (0, 0), about 10 units across: the shape alone tells the kinds apart.
pub fn kind_shape(kind: AnomalyKind) -> Html {
    match kind {
        AnomalyKind::ReadYourWrites => html! { <polygon class="k-shape" points="0,-5.5 5.5,0 0,5.5 -5.5,0" /> },
        AnomalyKind::MonotonicReads => html! { <polygon class="k-shape" points="-5.5,-4 5.5,-4 0,5" /> },
        AnomalyKind::StaleRead => html! { <circle class="k-shape" r="4.5" /> },
        _ => html! { <rect class="k-shape" x="-4.2" y="-4.2" width="8.4" height="8.4" /> },
    }
}

/// A kind's shape as a small inline SVG for HTML text.
pub fn kind_swatch(kind: AnomalyKind) -> Html {
    html! {
        <svg class="k-swatch" viewBox="-7 -7 14 14" width="12" height="12" aria-hidden="true">{ kind_shape(kind) }</svg>
    }
}

/// Lag anomalies by kind, in badge order.
pub fn counts(anomalies: &[Anomaly]) -> Vec<(AnomalyKind, usize)> {
    AnomalyKind::LAG.iter().map(|k| (*k, anomalies.iter().filter(|a| a.kind == *k).count())).collect()
}

// ---------------------------------------------------------------------------------------------------------------
// The strip above the stage.

/// Cluster | Space-time, and the lag anomaly counts at the moment on screen.
pub fn strip(m: &Model, d: &Callback<Action>) -> Html {
    let st = m.space_time();
    let set = |s: Stage| d.reform(move |_: MouseEvent| Action::Lag(LagAction::SetStage(s)));
    let counts = counts(&m.anomalies);
    html! {
        <div class="lag-strip">
            <div class="seg" role="group" aria-label="What the stage shows">
                <button class={classes!("seg-btn", (!st).then_some("on"))} data-testid="view-cluster"
                        aria-pressed={if st { "false" } else { "true" }} onclick={set(Stage::Cluster)}
                        title="The cluster: nodes, links and messages in flight">{ "Cluster" }</button>
                <button class={classes!("seg-btn", st.then_some("on"))} data-testid="view-spacetime"
                        aria-pressed={if st { "true" } else { "false" }} onclick={set(Stage::SpaceTime)}
                        title="Space-time diagram: who talked to whom, when; reads that saw stale data in red">{ "Space-time" }</button>
            </div>
            <ul class="lag-counts" aria-label="Replication lag anomalies so far">
                { for counts.iter().map(|(k, n)| html! {
                    <li class={classes!("lag-count", (*n > 0).then_some("hit"), k.name())} data-testid="lag-count" data-kind={k.name()}
                        data-count={n.to_string()} title={kind_help(*k)}>
                        { kind_swatch(*k) }
                        <span class="lc-name">{ badge_name(*k) }</span>
                        <b class="lc-n">{ *n }</b>
                    </li>
                }) }
            </ul>
        </div>
    }
}

fn window_label(ms: u64) -> String {
    if ms >= 1000 && ms % 1000 == 0 {
        [(ms / 1000).to_string().as_str(), " s"].concat()
    } else {
        [ms.to_string().as_str(), " ms"].concat()
    }
}

/// The legend under the diagram, and the diagram's time window.
pub fn legend(m: &Model, d: &Callback<Action>) -> Html {
    let line = |class: &'static str, dash: bool| {
        html! {
            <svg class={classes!("st-sw", class)} viewBox="0 0 28 12" width="24" height="12" aria-hidden="true">
                <line x1="1" y1="6" x2="27" y2="6" stroke-dasharray={dash.then_some("5 3")} />
            </svg>
        }
    };
    let window = m.lag.window_ms;
    let on_window = d.reform(|e: Event| {
        let v = e.target_unchecked_into::<web_sys::HtmlSelectElement>().value();
        Action::Lag(LagAction::SetWindow(v.parse::<u64>().ok()))
    });
    html! {
        <ul class="legend st-legend" aria-label="Legend">
            <li title="A client's write: its request to the leader and the answer. W3: it made log position 3">
                <svg class="st-sw write" viewBox="0 0 28 12" width="24" height="12" aria-hidden="true">
                    <rect x="1" y="3" width="6" height="6" /><line x1="7" y1="6" x2="27" y2="6" />
                </svg>{ "write " }<b class="st-lw">{ "W3" }</b>
            </li>
            <li title="A client's read: its request to a replica and the answer. R2: it saw the data up to log position 2">
                <svg class="st-sw read" viewBox="0 0 28 12" width="24" height="12" aria-hidden="true">
                    <circle cx="4" cy="6" r="3" /><line x1="7" y1="6" x2="27" y2="6" />
                </svg>{ "read " }<b class="st-lr">{ "R2" }</b>
            </li>
            <li title="The leader ships log entries to a follower (faint: a resend of entries already sent)">{ line("repl", false) }{ "replicate" }</li>
            <li title="Received, waiting out the follower's apply delay; the diamond marks the log position applied">
                { line("wait", true) }{ "wait, then apply ◆" }
            </li>
            <li title="A read the lag checkers flag; click it to find it in the client history">{ line("flag", true) }{ "flagged read" }</li>
            <li title="What the flagged read missed: the write, or the earlier read that saw more">{ line("proof", false) }{ "what it missed" }</li>
            <li class="st-window" title="How much time the diagram shows, up to now">
                <span>{ "window" }</span>
                <select data-testid="spacetime-window" aria-label="Time window" onchange={on_window}>
                    { for WINDOWS_MS.iter().map(|w| {
                        let (v, label) = match w {
                            Some(ms) => (ms.to_string(), window_label(*ms)),
                            None => ("all".to_string(), "whole run".to_string()),
                        };
                        html! { <option value={v} selected={*w == window}>{ label }</option> }
                    }) }
                </select>
            </li>
        </ul>
    }
}

// ---------------------------------------------------------------------------------------------------------------
// What the diagram shows, derived from the history and the trace.

#[derive(Clone, Debug)]
struct Msg<'a> {
    kind: MsgKind,
    from: &'a str,
    to: &'a str,
    sent: Micros,
    due: Micros,
    label: &'a str,
    /// The client operation it belongs to, and the log positions it carries (from the trace, never the label).
    op: Option<usize>,
    lsns: Option<(u64, u64)>,
    delivered: Option<Micros>,
    dropped: Option<Micros>,
}

/// One leg of a client operation, from lane to lane.
#[derive(Clone, Copy, Debug)]
struct Leg {
    msg: u64,
    /// The leg goes from the client to a node (a request), else back.
    request: bool,
}

/// Numbers in the SVG: one decimal.
fn f(v: f64) -> String {
    ((v * 10.0).round() / 10.0).to_string()
}

struct Frame {
    /// The window's start and end (µs); `end` is a little after now.
    t0: Micros,
    t1: Micros,
    /// Where the lanes start and end (viewBox units).
    px0: f64,
    px1: f64,
}

impl Frame {
    fn x(&self, t: Micros) -> f64 {
        let span = (self.t1 - self.t0).max(1) as f64;
        self.px0 + (self.px1 - self.px0) * (t as f64 - self.t0 as f64) / span
    }
}

/// A nice tick step (ms) for a window of `span_ms`.
fn tick_step(span_ms: u64, max_ticks: u64) -> u64 {
    const STEPS: &[u64] = &[1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 30_000, 60_000];
    STEPS.iter().copied().find(|s| span_ms / s <= max_ticks).unwrap_or(120_000)
}

fn tick_label(t_ms: u64, step_ms: u64) -> String {
    if step_ms >= 1000 {
        [(t_ms / 1000).to_string().as_str(), " s"].concat()
    } else if step_ms >= 100 {
        [(t_ms / 1000).to_string().as_str(), ".", &((t_ms % 1000) / 100).to_string(), " s"].concat()
    } else {
        [t_ms.to_string().as_str(), " ms"].concat()
    }
}

/// An arrow from (x1, y1) to (x2, y2) with a head (no trigonometry: the wasm has no libm).
fn arrow(x1: f64, y1: f64, x2: f64, y2: f64, head: f64) -> Html {
    let (dx, dy) = (x2 - x1, y2 - y1);
    let len = (dx * dx + dy * dy).sqrt();
    let line = html! { <line class="ln" x1={f(x1)} y1={f(y1)} x2={f(x2)} y2={f(y2)} /> };
    if len < head * 1.2 || head <= 0.0 {
        return line;
    }
    let (ux, uy) = (dx / len, dy / len);
    let (bx, by) = (x2 - ux * head, y2 - uy * head);
    let (nx, ny) = (-uy * head * 0.45, ux * head * 0.45);
    let pts = [
        f(x2),
        ",".into(),
        f(y2),
        " ".into(),
        f(bx + nx),
        ",".into(),
        f(by + ny),
        " ".into(),
        f(bx - nx),
        ",".into(),
        f(by - ny),
    ]
    .concat();
    html! { <>{ line }<polygon class="head" points={pts} /></> }
}

/// A replica's lane: what the diagram needs of a node, whichever protocol runs.
struct LaneNode {
    id: String,
    index: usize,
    role: crate::scenario::Role,
}

/// Endpoint lanes: clients first (scenario order), then the replicas (node order).
struct Lanes {
    /// (name, y)
    ys: VecMap<String, f64>,
}

impl Lanes {
    fn y(&self, name: &str) -> Option<f64> {
        self.ys.get(name).copied()
    }
}

pub fn view(m: &Model, d: &Callback<Action>) -> Html {
    let Some(pb) = m.pb.as_ref() else { return Html::default() };
    let sim = pb.sim();
    let now = pb.now();
    let window_us = m.lag.window_ms.map(|w| w * 1000);
    let (t0, end) = match window_us {
        Some(w) => {
            let end = now.max(w);
            (end - w, end)
        }
        None => (0, now.max(100_000)),
    };
    let span = end - t0;
    let narrow = dom::viewport().0 <= 800.0;
    let (vw, px0) = if narrow { NARROW } else { WIDE };
    let px1 = vw - 18.0;
    let frame = Frame { t0, t1: end + span / 40, px0, px1 };
    // Messages sent this long before the window can still reach into it.
    let scan_from = t0.saturating_sub(span.max(200_000));

    // ----- lanes
    let clients: Vec<&crate::world::sim::ClientState> = sim.clients.iter().collect();
    // Lanes of the replicas: a single-leader run's leader and followers, or every leaderless replica.
    let replicas: Vec<LaneNode> = match sim.protocol.single_leader() {
        Some(cl) => cl
            .nodes
            .iter()
            .filter(|n| n.is_replica() && n.status != crate::protocol::single_leader::Status::Absent)
            .map(|n| LaneNode { id: n.id.clone(), index: n.index, role: n.role })
            .collect(),
        None => (0..sim.protocol.len())
            .map(|i| LaneNode {
                id: sim.name(crate::protocol::Endpoint::Node(i)).to_string(),
                index: i,
                role: sim.protocol.observe(i).role,
            })
            .collect(),
    };
    let n_lanes = clients.len() + replicas.len();
    let gap = if n_lanes <= 1 {
        80.0
    } else {
        ((if narrow { 560.0 } else { 420.0 } - TOP - BOTTOM) / (n_lanes - 1) as f64)
            .clamp(46.0, if narrow { 140.0 } else { 96.0 })
    };
    let vh = TOP + BOTTOM + gap * n_lanes.saturating_sub(1) as f64;
    let mut ys = VecMap::new();
    for (k, c) in clients.iter().enumerate() {
        ys.insert(c.id.clone(), TOP + gap * k as f64);
    }
    for (k, n) in replicas.iter().enumerate() {
        ys.insert(n.id.clone(), TOP + gap * (clients.len() + k) as f64);
    }
    let lanes = Lanes { ys };

    // ----- the trace, from a little before the window
    let events = sim.trace.events();
    let first = events.partition_point(|e| e.at() < scan_from);
    let mut msgs: VecMap<u64, Msg> = VecMap::new();
    // (node, lsn, when applied), in trace order; keyed below.
    let mut applied: Vec<((&str, u64), Micros)> = Vec::new();
    let mut apply_marks: Vec<(&str, u64, Micros)> = Vec::new();
    for e in events.iter_from(first) {
        match e {
            TraceEvent::Sent { at, msg, from, to, kind, label, deliver_at, op, lsns, .. }
                if matches!(kind, MsgKind::Request | MsgKind::Response | MsgKind::Replicate) =>
            {
                msgs.insert(
                    *msg,
                    Msg {
                        kind: *kind,
                        from,
                        to,
                        sent: *at,
                        due: *deliver_at,
                        label: &label.0,
                        op: *op,
                        lsns: *lsns,
                        delivered: None,
                        dropped: None,
                    },
                );
            }
            TraceEvent::Delivered { at, msg, .. } => {
                if let Some(mm) = msgs.get_mut(msg) {
                    mm.delivered = Some(*at);
                }
            }
            TraceEvent::Dropped { at, msg, .. } => {
                if let Some(mm) = msgs.get_mut(msg) {
                    mm.dropped = Some(*at);
                }
            }
            TraceEvent::Applied { at, node, lsn } => {
                applied.push(((&**node, *lsn), *at));
                if *at >= t0 {
                    apply_marks.push((node, *lsn, *at));
                }
            }
            _ => {}
        }
    }

    // (node, lsn) -> when applied; a later apply of the same position (after a rebuild) wins.
    let applied = VecMap::from_pairs(applied);

    // ----- client operations: follow each one's hops through the messages
    // Messages are in id order, so each client's list of requests and responses is too.
    let mut reqs: VecMap<&str, Vec<u64>> = VecMap::new();
    let mut resps: VecMap<&str, Vec<u64>> = VecMap::new();
    for (id, mm) in &msgs {
        match mm.kind {
            MsgKind::Request => reqs.or_default(mm.from).push(*id),
            MsgKind::Response => resps.or_default(mm.to).push(*id),
            _ => {}
        }
    }
    let mut claimed: VecMap<u64, ()> = VecMap::new();
    // op -> its legs
    let mut ops: VecMap<usize, Vec<Leg>> = VecMap::new();
    for (i, h) in sim.history.iter().enumerate() {
        if h.start < scan_from || h.start > end {
            continue;
        }
        let Some(c) = sim.clients.get(h.client) else { continue };
        let cid = c.id.as_str();
        let done = h.end.unwrap_or(Micros::MAX);
        let mut legs = Vec::new();
        let mut t = h.start;
        for _ in 0..4 {
            let Some(req) = reqs.get(cid).and_then(|v| {
                v.iter().copied().find(|id| !claimed.contains_key(id) && msgs[id].sent == t && msgs[id].op == Some(i))
            }) else {
                break;
            };
            claimed.insert(req, ());
            legs.push(Leg { msg: req, request: true });
            let rq = &msgs[&req];
            let Some(arrived) = rq.delivered else { break };
            let node = rq.to;
            let Some(resp) = resps.get(cid).and_then(|v| {
                v.iter().copied().find(|id| {
                    let r = &msgs[id];
                    !claimed.contains_key(id)
                        && r.op == Some(i)
                        && r.from == node
                        && r.sent >= arrived
                        && r.delivered.is_none_or(|d| d <= done)
                })
            }) else {
                break;
            };
            claimed.insert(resp, ());
            legs.push(Leg { msg: resp, request: false });
            match msgs[&resp].delivered {
                Some(back) if back < done => t = back,
                _ => break,
            }
        }
        if !legs.is_empty() {
            ops.insert(i, legs);
        }
    }

    // ----- anomalies: flagged reads and the operations that prove them
    let mut flagged: VecMap<usize, Vec<&Anomaly>> = VecMap::new();
    let mut proof: VecMap<usize, Vec<&Anomaly>> = VecMap::new();
    for a in m.anomalies.iter().filter(|a| a.kind.is_lag()) {
        if let Some(&r) = a.ops.last() {
            flagged.or_default(r).push(a);
        }
        for &p in a.ops.iter().rev().skip(1) {
            proof.or_default(p).push(a);
        }
    }

    // Many flagged reads in the window (a long window): mark them by shape only, and draw what they missed only
    // for the anomaly a person picked.
    let in_window =
        flagged.keys().filter(|&&r| sim.history.get(r).is_some_and(|h| h.start >= t0 && h.start <= end)).count();
    let compact = in_window > 0 && (px1 - px0) / (in_window as f64) < 80.0;

    // ----- drawing
    let step = tick_step(span / 1000, if narrow { 4 } else { 10 });
    let mut ticks = Vec::new();
    let mut tms = (t0 / 1000).div_ceil(step) * step;
    while tms * 1000 <= frame.t1 {
        let x = frame.x(tms * 1000);
        ticks.push(html! {
            <g class="st-tick">
                <line x1={f(x)} y1={f(AXIS_Y + 6.0)} x2={f(x)} y2={f(vh - 8.0)} />
                <text x={f(x)} y={f(AXIS_Y)} text-anchor="middle">{ tick_label(tms, step) }</text>
            </g>
        });
        tms += step;
    }

    let leader = sim.protocol.single_leader().and_then(|c| c.leader());
    let lane_views: Vec<Html> = clients
        .iter()
        .enumerate()
        .map(|(j, c)| {
            let y = lanes.y(&c.id).unwrap_or(0.0);
            let sub = if c.user != c.id { [c.spec.route.name(), " · ", c.user.as_str()].concat() } else { c.spec.route.name().to_string() };
            let onclick = d.reform(move |_: MouseEvent| Action::SetClient(j));
            html! {
                <g class={classes!("st-lane", "client", (m.client == j).then_some("chosen"))} data-lane={c.id.clone()} {onclick}>
                    <title>{ ["Client ", &c.id, " (user ", &c.user, "), reads routed ", c.spec.route.name(), ". Click to choose it."].concat() }</title>
                    <line class="lane" x1={f(px0 - 6.0)} y1={f(y)} x2={f(px1)} y2={f(y)} />
                    <text class="l-id" x="10" y={f(y - 2.0)}>{ text::truncate(&c.id, if narrow { 8 } else { 11 }) }</text>
                    <text class="l-sub" x="10" y={f(y + 13.0)}>{ text::truncate(&sub, if narrow { 12 } else { 17 }) }</text>
                </g>
            }
        })
        .chain(replicas.iter().map(|n| {
            let y = lanes.y(&n.id).unwrap_or(0.0);
            let is_leader = leader == Some(n.index);
            let delay = m
                .scenario()
                .and_then(|s| s.nodes.iter().find(|x| x.id == n.id))
                .map_or(0, |x| x.apply_delay_ms);
            let sub = if is_leader {
                "leader".to_string()
            } else if delay > 0 {
                [if narrow { "+" } else { "follower +" }, &delay.to_string(), " ms"].concat()
            } else {
                n.role.name().to_string()
            };
            let id = n.id.clone();
            let onclick = d.reform(move |_: MouseEvent| Action::Select(Some(id.clone())));
            html! {
                <g class={classes!("st-lane", "node", is_leader.then_some("leader"))} data-lane={n.id.clone()} {onclick}>
                    <title>{ [&n.id, ": ", &sub, ". Click to inspect it."].concat() }</title>
                    <line class="lane" x1={f(px0 - 6.0)} y1={f(y)} x2={f(px1)} y2={f(y)} />
                    <text class="l-id" x="10" y={f(y - 2.0)}>{ text::truncate(&n.id, if narrow { 8 } else { 11 }) }</text>
                    <text class="l-sub" x="10" y={f(y + 13.0)}>{ sub }</text>
                </g>
            }
        }))
        .collect();

    // Crashes and pauses: the lane is broken while the node is down.
    let mut outages = Vec::new();
    let mut down: VecMap<String, (Micros, &'static str)> = VecMap::new();
    for e in events {
        let (node, at, start, class) = match e {
            TraceEvent::Crashed { node, at } => (node, *at, true, "crashed"),
            TraceEvent::Paused { node, at } => (node, *at, true, "paused"),
            TraceEvent::Restarted { node, at } | TraceEvent::Resumed { node, at } => (node, *at, false, ""),
            _ => continue,
        };
        if start {
            down.insert(node.to_string(), (at, class));
        } else if let Some((from, class)) = down.remove(&**node) {
            outages.push((node.to_string(), from, at, class));
        }
    }
    for (node, (from, class)) in down {
        outages.push((node, from, now, class));
    }
    let outage_views: Vec<Html> = outages
        .iter()
        .filter(|(_, a, b, _)| *b >= t0 && *a <= end)
        .filter_map(|(node, a, b, class)| {
            let y = lanes.y(node)?;
            let (xa, xb) = (frame.x((*a).max(t0)), frame.x(*b));
            Some(html! {
                <g class={classes!("st-outage", *class)}>
                    <title>{ [node.as_str(), " ", class, " from ", &text::ms(*a), if *b >= now { " (still)" } else { "" }].concat() }</title>
                    <line class="gap" x1={f(xa)} y1={f(y)} x2={f(xb.max(xa))} y2={f(y)} />
                    if *a >= t0 {
                        <path class="x" d={["M", &f(xa - 6.0), " ", &f(y - 6.0), "l12 12m0 -12l-12 12"].concat()} />
                    }
                </g>
            })
        })
        .collect();

    // Replication: leader -> follower, then the wait until applied.
    let mut repl_views = Vec::new();
    // The highest log position sent to each follower so far: a message that carries nothing newer is a resend.
    let mut sent_max: VecMap<&str, u64> = VecMap::new();
    for (id, mm) in msgs.iter().filter(|(_, mm)| mm.kind == MsgKind::Replicate) {
        let last = mm.lsns.map(|(_, b)| b);
        let prev = sent_max.get(mm.to).copied();
        let resend = matches!((last, prev), (Some(l), Some(p)) if l <= p) || last.is_none();
        if let Some(l) = last {
            sent_max.insert(mm.to, prev.unwrap_or(0).max(l));
        }
        let (Some(ya), Some(yb)) = (lanes.y(mm.from), lanes.y(mm.to)) else { continue };
        let arrive = mm.delivered.or(mm.dropped).unwrap_or(now.min(mm.due));
        if arrive < t0 && mm.delivered.is_none_or(|dl| applied_after(&applied, mm.to, mm.lsns, dl) < t0) {
            continue;
        }
        if mm.sent > end {
            continue;
        }
        let (x1, x2) = (frame.x(mm.sent), frame.x(arrive));
        let y2 = if mm.delivered.is_some() || mm.dropped.is_some() {
            yb
        } else {
            // In flight: as far as it got.
            let p = (now - mm.sent) as f64 / (mm.due - mm.sent).max(1) as f64;
            ya + (yb - ya) * p.clamp(0.0, 1.0)
        };
        let wait = mm.delivered.filter(|_| !resend).map(|dl| {
            let ap = applied_after(&applied, mm.to, mm.lsns, dl);
            (dl, if ap == Micros::MAX { now } else { ap })
        });
        let tip = [
            "#",
            &id.to_string(),
            " ",
            mm.from,
            " → ",
            mm.to,
            ": ",
            mm.label,
            if resend { " (a resend; sent " } else { " (sent " },
            &text::ms(mm.sent),
            match (mm.delivered, mm.dropped) {
                (Some(_), _) => ", received ",
                (_, Some(_)) => ", lost ",
                _ => ", in flight",
            },
            &mm.delivered.or(mm.dropped).map(text::ms).unwrap_or_default(),
            ")",
        ]
        .concat();
        repl_views.push(html! {
            <g class={classes!("st-repl", mm.dropped.is_some().then_some("dropped"), resend.then_some("resend"))}>
                <title>{ tip }</title>
                { arrow(x1, ya, x2, y2, 6.0) }
                if let Some((dl, ap)) = wait.filter(|(dl, ap)| ap > dl) {
                    <line class="wait" x1={f(frame.x(dl))} y1={f(yb + 5.0)} x2={f(frame.x(ap))} y2={f(yb + 5.0)} />
                }
            </g>
        });
    }
    let apply_views: Vec<Html> = apply_marks
        .iter()
        .filter(|(_, _, at)| *at <= end)
        .filter_map(|(node, lsn, at)| {
            let y = lanes.y(node)?;
            let x = frame.x(*at);
            Some(html! {
                <g class="st-apply" transform={["translate(", &f(x), " ", &f(y), ")"].concat()}>
                    <title>{ [*node, " applies log position ", &lsn.to_string(), " at ", &text::ms(*at)].concat() }</title>
                    <polygon points="0,-5 5,0 0,5 -5,0" />
                    <text x="0" y="19" text-anchor="middle">{ lsn }</text>
                </g>
            })
        })
        .collect();

    // Client operations.
    let mut op_views = Vec::new();
    let mut halo_views = Vec::new();
    let mut label_views = Vec::new();
    let mut links = Vec::new();
    let mut pills: Vec<(f64, f64, f64, Html)> = Vec::new();
    // The client-lane point of each operation: (x at its start, x at its end, y).
    let mut anchor: VecMap<usize, (f64, f64, f64)> = VecMap::new();
    let mut last_label: VecMap<usize, f64> = VecMap::new();
    for (&i, legs) in &ops {
        let h = &sim.history[i];
        let Some(cy) = sim.clients.get(h.client).and_then(|c| lanes.y(&c.id)) else { continue };
        let last_t = legs
            .iter()
            .map(|l| {
                let mm = &msgs[&l.msg];
                mm.delivered.or(mm.dropped).unwrap_or(now)
            })
            .max()
            .unwrap_or(h.start);
        if last_t.max(h.end.unwrap_or(now)) < t0 {
            continue;
        }
        let flags = flagged.get(&i);
        let proves = proof.get(&i);
        let lit = m.highlight.contains(&i);
        let mut parts = Vec::new();
        let mut path_pts: Vec<(f64, f64)> = Vec::new();
        for (k, l) in legs.iter().enumerate() {
            let mm = &msgs[&l.msg];
            let (Some(ya), Some(yb)) = (lanes.y(mm.from), lanes.y(mm.to)) else { continue };
            let arrive = mm.delivered.or(mm.dropped).unwrap_or(now.min(mm.due));
            let y2 = if mm.delivered.is_some() || mm.dropped.is_some() {
                yb
            } else {
                let p = (now - mm.sent) as f64 / (mm.due - mm.sent).max(1) as f64;
                ya + (yb - ya) * p.clamp(0.0, 1.0)
            };
            let (x1, x2) = (frame.x(mm.sent), frame.x(arrive));
            // A node that holds an operation before answering (waiting for a log position, or for followers).
            if !l.request && k > 0 {
                let prev = &msgs[&legs[k - 1].msg];
                if let Some(got) = prev.delivered.filter(|g| mm.sent > *g + 500) {
                    parts.push(html! {
                        <line class="hold" x1={f(frame.x(got))} y1={f(ya)} x2={f(x1)} y2={f(ya)} />
                    });
                }
            }
            parts.push(
                html! { <g class={if l.request { "leg req" } else { "leg resp" }}>{ arrow(x1, ya, x2, y2, 7.0) }</g> },
            );
            if mm.dropped.is_some() {
                parts.push(html! { <path class="x" d={["M", &f(x2 - 5.0), " ", &f(y2 - 5.0), "l10 10m0 -10l-10 10"].concat()} /> });
            }
            if path_pts.is_empty() {
                path_pts.push((x1, ya));
            }
            path_pts.push((x2, y2));
        }
        let (xs, xe) = (frame.x(h.start), frame.x(h.end.unwrap_or(last_t)));
        anchor.insert(i, (xs, xe, cy));
        let read = h.read;
        let res = h.result.as_ref();
        let value = if read { res.and_then(|r| r.served_lsn) } else { res.and_then(|r| r.lsn) };
        let failed = h.end.is_some() && !h.ok();
        let node = sim.name(crate::protocol::Endpoint::Node(h.node));
        let client = sim.clients.get(h.client).map_or("?", |c| c.id.as_str());
        let mut tip =
            ["#", &i.to_string(), " ", client, " → ", node, " at ", &text::ms(h.start), ": ", &h.sql].concat();
        match (h.end, value, failed) {
            (None, _, _) => tip.push_str(" (waiting for an answer)"),
            (Some(_), _, true) => tip.push_str(" (failed)"),
            (Some(e), Some(v), _) => {
                tip.push_str(if read { "\nsaw the state at log position " } else { "\nwrote log position " });
                tip.push_str(&v.to_string());
                tip.push_str(" (answered at ");
                tip.push_str(&text::ms(e));
                tip.push(')');
            }
            _ => {}
        }
        if let Some(fl) = flags {
            for a in fl {
                tip.push_str("\n⚠ ");
                tip.push_str(a.kind.name());
                tip.push_str(": ");
                tip.push_str(&a.detail);
            }
        }
        let path_d: String = path_pts
            .iter()
            .enumerate()
            .map(|(k, (x, y))| [if k == 0 { "M" } else { "L" }, &f(*x), " ", &f(*y)].concat())
            .collect::<Vec<_>>()
            .join(" ");
        if (proves.is_some() && !compact) || lit {
            halo_views.push(html! { <path class={classes!("st-halo", lit.then_some("lit"))} d={path_d.clone()} /> });
        }
        let class = classes!(
            "st-op",
            if read { "read" } else { "write" },
            flags.is_some().then_some("flag"),
            proves.is_some().then_some("proof"),
            failed.then_some("failed"),
            h.end.is_none().then_some("pending"),
            lit.then_some("lit"),
        );
        let start_mark = if read {
            html! { <circle class="start" cx={f(xs)} cy={f(cy)} r="3.6" /> }
        } else {
            html! { <rect class="start" x={f(xs - 3.6)} y={f(cy - 3.6)} width="7.2" height="7.2" /> }
        };
        let ops_of = flags.and_then(|fl| fl.first()).map(|a| a.ops.clone()).unwrap_or_else(|| vec![i]);
        let onclick = super::anomalies::highlight(d, ops_of);
        let kinds: Vec<&str> = flags.map(|fl| fl.iter().map(|a| a.kind.name()).collect()).unwrap_or_default();
        let mut kinds_dedup = kinds.clone();
        kinds_dedup.dedup();
        op_views.push(html! {
            <g {class} data-op={i.to_string()} data-testid={flags.is_some().then_some("flagged-read")}
               data-kind={(!kinds_dedup.is_empty()).then(|| kinds_dedup.join(" "))} {onclick}>
                <title>{ tip }</title>
                <path class="hit" d={path_d.clone()} />
                { for parts }
                { start_mark }
                if failed {
                    <path class="x" d={["M", &f(xe - 5.0), " ", &f(cy - 5.0), "l10 10m0 -10l-10 10"].concat()} />
                }
            </g>
        });
        // The value label: W<lsn> for a write, R<lsn> for a read, at the client end; skip it where it would
        // collide with the previous label on the lane (flagged reads always get theirs).
        if let (Some(v), Some(_)) = (value, h.end) {
            let lane_key = h.client;
            let room = last_label.get(&lane_key).is_none_or(|lx| xe - lx > 24.0);
            if room || (!compact && (flags.is_some() || proves.is_some())) {
                last_label.insert(lane_key, xe);
                let txt = [if read { "R" } else { "W" }, &v.to_string()].concat();
                label_views.push(html! {
                    <text class={classes!("st-val", if read { "read" } else { "write" }, flags.is_some().then_some("flag"), proves.is_some().then_some("proof"))}
                          x={f(xe + 3.0)} y={f(cy - 6.0)}>{ txt }</text>
                });
            }
        }
        if let Some(fl) = flags {
            let mut seen: Vec<AnomalyKind> = Vec::new();
            for a in fl {
                if seen.contains(&a.kind) {
                    continue;
                }
                seen.push(a.kind);
                let name = short_name(a.kind);
                let w =
                    if compact { 16.0 } else { 24.0 + name.chars().count() as f64 * if narrow { 8.0 } else { 6.6 } };
                let ops = a.ops.clone();
                let onclick = super::anomalies::highlight(d, ops);
                pills.push((
                    xs,
                    cy,
                    w,
                    html! {
                        <g class={classes!("st-pill", compact.then_some("compact"))} data-pill-kind={a.kind.name()} {onclick}>
                            <title>{ [a.kind.name(), ": ", &a.detail].concat() }</title>
                            <rect x="0" y="-8" width={f(w)} height="16" rx="8" />
                            <g transform="translate(8 0)">{ kind_shape(a.kind) }</g>
                            if !compact {
                                <text x="17" y="4">{ name }</text>
                            }
                        </g>
                    },
                ));
            }
        }
    }
    // Links from each flagged read back to its proof.
    for (r, fl) in &flagged {
        let Some(&(rxs, _, ry)) = anchor.get(r) else { continue };
        for a in fl {
            let Some(p) = a.ops.first().filter(|p| *p != r) else { continue };
            let Some(&(_, pxe, py)) = anchor.get(p) else { continue };
            let d = if (py - ry).abs() < 1.0 {
                let lift = 20.0 + ((rxs - pxe).abs() / 40.0).min(16.0);
                [
                    "M",
                    &f(pxe),
                    " ",
                    &f(py),
                    " Q",
                    &f((pxe + rxs) / 2.0),
                    " ",
                    &f(py - lift * 2.0),
                    " ",
                    &f(rxs),
                    " ",
                    &f(ry),
                ]
                .concat()
            } else {
                ["M", &f(pxe), " ", &f(py), " L", &f(rxs), " ", &f(ry)].concat()
            };
            let lit = m.highlight.contains(r) && m.highlight.contains(p);
            if compact && !lit {
                continue;
            }
            links.push(html! {
                <path class={classes!("st-link", lit.then_some("lit"))} d={d}>
                    <title>{ [a.kind.name(), ": ", &a.detail].concat() }</title>
                </path>
            });
        }
    }
    // Anomaly labels above their client lane, stacked so they do not overlap.
    let mut rows: VecMap<(i64, usize), f64> = VecMap::new();
    let pill_views: Vec<Html> = pills
        .into_iter()
        .map(|(x, y, w, pill)| {
            let lane = y as i64;
            let mut row = 0;
            while rows.get(&(lane, row)).is_some_and(|end| *end > x) && row < 2 {
                row += 1;
            }
            rows.insert((lane, row), x + w + 2.0);
            let py = y - 26.0 - row as f64 * 18.0;
            // A compact marker sits centred over its read; a labelled one starts just left of it.
            let x = if w <= 16.0 { x - 2.0 } else { x };
            html! {
                <g transform={["translate(", &f(x - 6.0), " ", &f(py), ")"].concat()}>{ pill }</g>
            }
        })
        .collect();

    let xn = frame.x(now);
    let view_box = ["0 0 ", &f(vw), " ", &f(vh)].concat();
    let lag_reads = flagged.len();
    html! {
        <div class="spacetime-wrap" data-testid="spacetime" data-flagged={lag_reads.to_string()}>
            <svg class="spacetime" viewBox={view_box} preserveAspectRatio="xMidYMid meet" role="img"
                 aria-label="Space-time diagram: clients and replicas as lanes, time left to right, operations and replication as arrows">
                <defs>
                    <clipPath id="st-clip"><rect x={f(px0 - 8.0)} y="0" width={f(px1 - px0 + 16.0)} height={f(vh)} /></clipPath>
                </defs>
                <g class="st-ticks">{ for ticks }</g>
                <g class="st-lanes">{ for lane_views }</g>
                <g clip-path="url(#st-clip)">
                    <g class="st-outages">{ for outage_views }</g>
                    <g class="st-repls">{ for repl_views }</g>
                    <g class="st-applies">{ for apply_views }</g>
                    <g class="st-halos">{ for halo_views }</g>
                    <g class="st-links">{ for links }</g>
                    <g class="st-ops">{ for op_views }</g>
                    <g class="st-vals">{ for label_views }</g>
                    <g class="st-pills">{ for pill_views }</g>
                </g>
                <g class="st-now">
                    <line x1={f(xn)} y1={f(AXIS_Y + 28.0)} x2={f(xn)} y2={f(vh - 6.0)} />
                    <text x={f(xn)} y={f(AXIS_Y + if narrow { 23.0 } else { 19.0 })} text-anchor="middle">{ "now" }</text>
                </g>
            </svg>
            if sim.history.is_empty() {
                <p class="st-empty muted">{ "No client operations yet: press Play." }</p>
            }
        </div>
    }
}

/// When `node` applied the last log position a replicate message (by its label) carried, if at or after `from`
/// (`Micros::MAX`: not yet).
fn applied_after(applied: &VecMap<(&str, u64), Micros>, node: &str, lsns: Option<(u64, u64)>, from: Micros) -> Micros {
    let Some((_, last)) = lsns else { return 0 };
    match applied.get(&(node, last)) {
        Some(at) if *at >= from => *at,
        Some(_) => 0,
        None => Micros::MAX,
    }
}
