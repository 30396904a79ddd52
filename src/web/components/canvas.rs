//! The cluster canvas: nodes around an ellipse (the leader on top), clients on the left, a link between every
//! pair of nodes and from each client to its node, and every message in flight as a token along its link.
//! One SVG with a viewBox fitted to the drawing, so it scales with its container.

use std::rc::Rc;

use yew::prelude::*;

use crate::layout::{self, is_replica, Rect, Style, NODE_HW};
use crate::protocol::single_leader::Status;
use crate::scenario::Role;
use crate::view::{ClusterView, MessageView, NodeView};
use crate::web::state::{Action, Mode, Model};
use crate::web::{derive, dom, text};
use crate::world::trace::MsgKind;

use super::icons::{kind_help, kind_swatch};
use super::tokens::Token;

fn f(v: f64) -> String {
    // One decimal is plenty for screen coordinates and keeps the DOM small.
    let r = (v * 10.0).round() / 10.0;
    r.to_string()
}

fn translate(x: f64, y: f64) -> String {
    ["translate(", &f(x), " ", &f(y), ")"].concat()
}

pub fn view(m: &Model, v: &ClusterView, msgs: Rc<Vec<MessageView>>, d: &Callback<Action>) -> Html {
    // Where everything goes (crate::layout, shared with the still pictures of embeds).
    let first_leader =
        m.scenario().and_then(|s| s.nodes.iter().find(|n| n.role == Role::Leader)).map(|n| n.id.as_str());
    // The media queries `(max-width: 600px) and (orientation: portrait)` and `(max-width: 800px)`.
    let (vw, vh) = dom::viewport();
    let style = if vw <= 600.0 && vh >= vw && vw > 0.0 {
        Style::Portrait
    } else if m.mode == Mode::Embed || (vw <= 800.0 && vw > 0.0) {
        Style::Compact
    } else {
        Style::Wide
    };
    // Multi-leader: one column per datacenter, in a labelled region (datacenters.rs).
    let ml = super::datacenters::cluster(m);
    let placed = layout::place(v, first_leader, ml, style);
    let (lay, node_rects) = (&placed.layout, &placed.node_rects);
    let (bx, by, bw, bh) = lay.view_box;
    let view_box = [f(bx), f(by), f(bw), f(bh)].join(" ");
    let rect_of = |name: &str| placed.rect_of(v, name);
    let is_cut = |a: &str, b: &str| -> (bool, bool) {
        (v.cuts.iter().any(|(x, y)| x == a && y == b), v.cuts.iter().any(|(x, y)| x == b && y == a))
    };

    // Links with settings of their own (the Network tab) carry a tag: their delay, their loss.
    let spec = m.pb.as_ref().map(|pb| pb.sim().net.spec().clone()).unwrap_or_default();
    let own = |a: &str, b: &str| own_settings(&spec, a, b);
    let links: Vec<Html> = layout::node_links(v, first_leader, ml)
        .into_iter()
        .map(|(i, j, kind)| {
            let (a, b) = (&v.nodes[i].id, &v.nodes[j].id);
            link_view(kind.class(), a, b, node_rects[i], node_rects[j], is_cut(a, b), own(a, b), d)
        })
        .collect();
    let caches: Vec<Option<String>> = v
        .clients
        .iter()
        .map(|c| m.scenario().and_then(|s| s.clients.iter().find(|x| x.id == c.id)).and_then(|x| x.cache.clone()))
        .collect();
    let mut client_links: Vec<Html> = Vec::new();
    for (j, c) in v.clients.iter().enumerate() {
        // A leaderless client that coordinates itself has no one node to talk to: it talks to the replicas.
        if c.target.is_empty() {
            for n in v.nodes.iter().filter(|n| n.role == Role::Replica) {
                if let Some(rn) = rect_of(&n.id) {
                    let tag = own(&c.id, &n.id);
                    let cut = is_cut(&c.id, &n.id);
                    client_links.push(link_view("clink fan", &c.id, &n.id, lay.clients[j], rn, cut, tag, d));
                }
            }
        }
        if let Some(rn) = rect_of(&c.target) {
            let tag = own(&c.id, &c.target);
            client_links.push(link_view(
                "clink",
                &c.id,
                &c.target,
                lay.clients[j],
                rn,
                is_cut(&c.id, &c.target),
                tag,
                d,
            ));
        }
        if let Some(cache) = &caches[j] {
            if let Some(rn) = rect_of(cache) {
                let tag = own(&c.id, cache);
                client_links.push(link_view(
                    "clink ext",
                    &c.id,
                    cache,
                    lay.clients[j],
                    rn,
                    is_cut(&c.id, cache),
                    tag,
                    d,
                ));
            }
        }
    }

    let real_leader = m.leader_id();
    let sim_node =
        |id: &str| m.pb.as_ref().and_then(|pb| pb.sim().protocol.single_leader()?.nodes.iter().find(|x| x.id == id));
    let leader_format = real_leader.and_then(sim_node).map(|x| x.storage_format);
    let nodes: Vec<Html> = v
        .nodes
        .iter()
        .zip(node_rects)
        .map(|(n, r)| {
            let selected = m.selected.as_deref() == Some(n.id.as_str());
            let x = sim_node(&n.id);
            if is_replica(n) {
                let format = x.map(|x| (x.storage_format, leader_format.is_some_and(|l| l != x.storage_format)));
                // Multi-leader: each datacenter's leader is a real leader, not just group 0's.
                let (real, top_lsn) = match ml {
                    Some(_) => (super::datacenters::group_leader(m, &n.id), n.lsn + n.lag_records),
                    None => (real_leader, v.leader_lsn),
                };
                node_view(n, *r, top_lsn, real, format, selected, d)
            } else {
                external_view(n, x, *r, selected, d)
            }
        })
        .collect();
    let clients: Vec<Html> = v
        .clients
        .iter()
        .zip(&lay.clients)
        .enumerate()
        .map(|(j, (c, r))| {
            let onclick = d.reform(move |_: MouseEvent| Action::SetClient(j));
            let pending = c.pending.to_string();
            let (talks, sub) = if c.target.is_empty() {
                ("talks to the replicas itself (its library coordinates)".to_string(), "→ replicas".to_string())
            } else {
                (["sends to ", &c.target].concat(), ["→ ", &c.target].concat())
            };
            html! {
                <g class={classes!("client", (m.client == j).then_some("chosen"))} data-client={c.id.clone()}
                   transform={translate(r.x, r.y)} {onclick}>
                    <title>{ ["Client ", &c.id, ": ", &talks, ". Click to write from it."].concat() }</title>
                    <rect class="card" x={f(-r.hw)} y={f(-r.hh)} width={f(2.0 * r.hw)} height={f(2.0 * r.hh)} rx="14" />
                    <text class="c-id" x={f(-r.hw + 14.0)} y="-4">{ text::truncate(&c.id, 9) }</text>
                    <text class="c-sub" x={f(-r.hw + 14.0)} y="15">{ sub }</text>
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

    // Labels only while they can be read: past a few dozen tokens they overlap, and drawing hundreds of them costs
    // the browser more than the rest of the frame (each token still names itself in its tooltip).
    let labels = msgs.len() <= MAX_LABELLED_MESSAGES;
    let tokens: Vec<Token> = msgs
        .iter()
        .enumerate()
        .filter_map(|(i, msg)| {
            let (ra, rb) = (rect_of(&msg.from)?, rect_of(&msg.to)?);
            Some(message_token(i, msg, ra, rb, v.now, labels))
        })
        .collect();

    // Leaderless replication: the latest operation as a quorum (components/quorum.rs), under the nodes.
    let quorum = super::quorum::overlay(m, &rect_of);
    html! {
        <div class="canvas-wrap">
            <svg class="canvas" viewBox={view_box} preserveAspectRatio="xMidYMid meet" role="img"
                 aria-label="The cluster: nodes, clients, links and messages in flight">
                if let Some(cl) = ml { { super::datacenters::regions_view(cl, &placed.regions) } }
                <g class="links">{ for client_links }{ for links }</g>
                if let Some(cl) = ml { { super::datacenters::topology_view(cl, &rect_of) } }
                { quorum }
                <g class="clients">{ for clients }</g>
                <g class="nodes">{ for nodes }</g>
                { super::tokens::layer(msgs, tokens) }
            </svg>
        </div>
    }
}

/// "80–110 ms · loss 5%" for a link whose settings differ from the network's (either direction), else None.
fn own_settings(spec: &crate::scenario::NetworkSpec, a: &str, b: &str) -> Option<String> {
    if !spec.links.iter().any(|l| l.applies(a, b) || l.applies(b, a)) {
        return None;
    }
    let p = spec.params(a, b);
    let mut parts = Vec::new();
    if (p.latency_min_ms, p.latency_max_ms) != (spec.latency_min_ms, spec.latency_max_ms) {
        parts.push(if p.latency_min_ms == p.latency_max_ms {
            [p.latency_min_ms.to_string(), " ms".into()].concat()
        } else {
            [p.latency_min_ms.to_string(), "–".into(), p.latency_max_ms.to_string(), " ms".into()].concat()
        });
    }
    if p.loss != spec.loss {
        parts.push(["loss ", &crate::world::net::edit::pct(p.loss), "%"].concat());
    }
    (!parts.is_empty()).then(|| parts.join(" · "))
}

#[allow(clippy::too_many_arguments)]
fn link_view(
    class: &'static str,
    a: &str,
    b: &str,
    ra: Rect,
    rb: Rect,
    cut: (bool, bool),
    own: Option<String>,
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
    let title = match &own {
        Some(o) => [title.as_str(), " Own settings (Network tab): ", o, "."].concat(),
        None => title,
    };
    let (x1, y1, x2, y2) = (f(ra.x), f(ra.y), f(rb.x), f(rb.y));
    let node_link = class.starts_with("link");
    let data_a = if node_link { Some(a.to_string()) } else { None };
    let data_b = if node_link { Some(b.to_string()) } else { None };
    let data_client = if node_link { None } else { Some(a.to_string()) };
    let data_node = if node_link { None } else { Some(b.to_string()) };
    html! {
        <g class={classes!(class.split(' ').collect::<Vec<_>>(), any_cut.then_some("cut"))} data-a={data_a} data-b={data_b}
           data-client={data_client} data-node={data_node}
           data-cut={if any_cut { "true" } else { "false" }} {onclick}>
            <title>{ title }</title>
            <line class="hit" x1={x1.clone()} y1={y1.clone()} x2={x2.clone()} y2={y2.clone()} />
            <line class="wire" {x1} {y1} {x2} {y2} />
            if let Some(o) = own.filter(|_| !any_cut) {
                <g class="link-tag" data-testid="link-tag" transform={translate(mx, my)}>
                    <rect x={f(-(o.chars().count() as f64) * 3.4 - 6.0)} y="-10" width={f(o.chars().count() as f64 * 6.8 + 12.0)} height="20" rx="10" />
                    <text y="4" text-anchor="middle">{ o }</text>
                </g>
            }
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

/// Click and Enter select a node (for the inspector).
fn select_handlers(id: &str, d: &Callback<Action>) -> (Callback<MouseEvent>, Callback<KeyboardEvent>) {
    let id1 = id.to_string();
    let onclick = d.reform(move |e: MouseEvent| {
        e.stop_propagation();
        Action::Select(Some(id1.clone()))
    });
    let id2 = id.to_string();
    let d2 = d.clone();
    let onkeydown = Callback::from(move |e: KeyboardEvent| {
        if e.key() == "Enter" {
            d2.emit(Action::Select(Some(id2.clone())));
        }
    });
    (onclick, onkeydown)
}

/// A small rounded label centred at (x, y) on the card's edge.
fn pill(class: &'static str, x: f64, y: f64, label: &str, tip: &str) -> Html {
    let w = label.chars().count() as f64 * 7.4 + 18.0;
    html! {
        <g class={classes!("n-pill", class)} transform={translate(x, y)}>
            <title>{ tip.to_string() }</title>
            <rect x={f(-w / 2.0)} y="-11" width={f(w)} height="22" rx="11" />
            <text y="5" text-anchor="middle">{ label.to_string() }</text>
        </g>
    }
}

fn node_view(
    n: &NodeView,
    r: Rect,
    leader_lsn: u64,
    real_leader: Option<&str>,
    format: Option<(u8, bool)>,
    selected: bool,
    d: &Callback<Action>,
) -> Html {
    let (onclick, onkeydown) = select_handlers(&n.id, d);
    let (x0, y0, w, h) = (-r.hw, -r.hh, 2.0 * r.hw, 2.0 * r.hh);
    let halted = n.status == Status::Halted;
    let leader = n.role == Role::Leader;
    let is_real_leader = real_leader == Some(n.id.as_str());
    let crashed = n.status == Status::Crashed;
    let progress = n.joining.as_ref().and_then(derive::progress);
    // A leaderless replica has no leader to lag behind, no epoch and no log: its count is of versions held.
    let replica = n.role == Role::Replica;
    let lag = if replica && !crashed {
        "takes reads and writes".to_string()
    } else if replica {
        "down: misses writes".to_string()
    } else if halted {
        "replication stopped".to_string()
    } else if n.candidate {
        "standing for election".to_string()
    } else if let Some(j) = &n.joining {
        derive::joining_label(j)
    } else if leader && crashed {
        "was leader: down".to_string()
    } else if leader && is_real_leader {
        "accepts writes".to_string()
    } else if leader {
        "still believes it leads".to_string()
    } else if n.lag_records == 0 {
        "in sync".to_string()
    } else if n.lag_us == 0 {
        [n.lag_records.to_string().as_str(), " behind"].concat()
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
    // Which leader it follows, when that is not the real one (an old leader, or none while an election runs).
    let stale_follow = n.follows.as_deref().filter(|l| !leader && Some(*l) != real_leader);
    let frac = match progress {
        Some((a, b)) => a as f64 / b as f64,
        None if leader_lsn == 0 => 1.0,
        None => (n.lsn as f64 / leader_lsn as f64).min(1.0),
    };
    let behind = n.lag_records > 0 || progress.is_some();
    let track = w - 28.0;
    let s = r.hw / NODE_HW;
    let line = |k: f64| f(y0 + k * s);
    let epoch = ["e", &n.epoch.to_string(), " · "].concat();
    let tip = [
        n.id.as_str(),
        " (",
        n.role.name(),
        ", ",
        n.status.name(),
        ", epoch ",
        &n.epoch.to_string(),
        if n.synchronous { ", synchronous" } else { "" },
        ")",
        n.error.as_deref().map_or("", |_| ": replication stopped, "),
        n.error.as_deref().unwrap_or(""),
        ". Click to inspect",
    ]
    .concat();
    html! {
        <g class={classes!("node", n.role.name(), n.status.name(), selected.then_some("selected"), n.candidate.then_some("candidate"),
                          (leader && !is_real_leader && !crashed).then_some("stale"), n.joining.is_some().then_some("joining"))}
           data-node={n.id.clone()} data-role={n.role.name()} data-status={n.status.name()} data-lsn={n.lsn.to_string()}
           data-epoch={n.epoch.to_string()} data-candidate={n.candidate.then_some("true")}
           data-sync={n.synchronous.then_some("true")} data-joining={n.joining.as_ref().map(derive::joining_label)}
           data-follows={n.follows.clone()} data-format={format.map(|f| f.0.to_string())}
           transform={translate(r.x, r.y)} {onclick} {onkeydown} tabindex="0">
            <title>{ tip }</title>
            <rect class="card" x={f(x0)} y={f(y0)} width={f(w)} height={f(h)} rx="12" />
            if leader { <rect class="crown" x={f(x0)} y={f(y0)} width={f(w)} height="6" rx="3" /> }
            <text class="n-id" x={f(x0 + 14.0)} y={line(30.0)}>{ n.id.clone() }</text>
            <text class="n-role" x={f(-x0 - 14.0)} y={line(29.0)} text-anchor="end">{ n.role.name() }</text>
            <text class="n-status" x={f(x0 + 14.0)} y={line(54.0)}>
                <tspan class="glyph">{ status_glyph(n.status) }</tspan>{ " " }{ n.status.name() }
            </text>
            <text class="n-lsn" x={f(-x0 - 14.0)} y={line(54.0)} text-anchor="end">
                if replica {
                    { [n.lsn.to_string().as_str(), if n.lsn == 1 { " version" } else { " versions" }].concat() }
                } else {
                    // (On a narrow card the epoch would run into the status; the tooltip and inspector keep it.)
                    if r.hw >= NODE_HW * 0.92 { <tspan class="n-epoch">{ epoch }</tspan> }
                    { ["LSN ", &n.lsn.to_string()].concat() }
                }
            </text>
            <text class={classes!("n-lag", (n.lag_records > 0).then_some("behind"), n.candidate.then_some("electing"), halted.then_some("stopped"))} x={f(x0 + 14.0)} y={line(78.0)}>{ text::truncate(&lag, 26) }</text>
            <rect class="bar-track" x={f(x0 + 14.0)} y={line(94.0)} width={f(track)} height="7" rx="3.5" />
            <rect class={classes!("bar-fill", behind.then_some("behind"), progress.is_some().then_some("copying"))} x={f(x0 + 14.0)} y={line(94.0)} width={f(track * frac)} height="7" rx="3.5" />
            if n.synchronous {
                { pill("sync", x0 + 36.0, y0, "sync", "The leader waits for this follower before it acknowledges a write") }
            }
            if let Some((fmt, differs)) = format {
                { pill(if differs { "fmt differs" } else { "fmt" }, -x0 - 58.0, y0, &["f", &fmt.to_string()].concat(),
                       &["Storage format ", &fmt.to_string(), if differs { ": not the leader's format" } else { "" }].concat()) }
            }
            if let Some(l) = stale_follow {
                { pill("follows", x0 + 14.0 + (l.chars().count() as f64 + 8.0) * 3.7 + 9.0, -y0, &["follows ", l].concat(),
                       "This node still takes its changes from this leader, not from the current one") }
            }
            if !extra.is_empty() {
                { pill("extra", -x0 - 14.0 - (extra.chars().count() as f64 * 7.4 + 18.0) / 2.0, -y0, &extra,
                       "Client writes held for confirmation, or entries received but not applied yet") }
            }
            if crashed {
                <path class="xmark" d={["M", &f(x0 + 10.0), " ", &f(y0 + 10.0), "L", &f(-x0 - 10.0), " ", &f(-y0 - 10.0),
                                        "M", &f(-x0 - 10.0), " ", &f(y0 + 10.0), "L", &f(x0 + 10.0), " ", &f(-y0 - 10.0)].concat()} />
            }
            { status_badge(n.status, -x0 - 2.0, y0 + 2.0) }
        </g>
    }
}

fn status_badge(s: Status, x: f64, y: f64) -> Html {
    match s {
        Status::Paused => html! {
            <g class="badge pause" transform={translate(x, y)}>
                <circle r="13" /><rect x="-6" y="-6" width="4" height="12" /><rect x="2" y="-6" width="4" height="12" />
            </g>
        },
        Status::Halted => html! {
            <g class="badge halt" transform={translate(x, y)}>
                <polygon points="0,-14 14,11 -14,11" /><text y="8" text-anchor="middle">{ "!" }</text>
            </g>
        },
        _ => Html::default(),
    }
}

/// A system outside the database: a cache drawn as a cylinder, a failover controller as a hexagon, the
/// trigger-based replicator as a capsule (a process in the pipe), a CDC consumer's search index as a document.
fn external_view(
    n: &NodeView,
    x: Option<&crate::protocol::single_leader::Node>,
    r: Rect,
    selected: bool,
    d: &Callback<Action>,
) -> Html {
    let (onclick, onkeydown) = select_handlers(&n.id, d);
    let (hw, hh) = (r.hw, r.hh);
    let cache = n.role == Role::Cache;
    let shape = if n.role == Role::Replicator {
        html! { <rect class="card" x={f(-hw)} y={f(-hh)} width={f(2.0 * hw)} height={f(2.0 * hh)} rx={f(hh)} /> }
    } else if n.role == Role::Cdc {
        let k = 16.0;
        let (a, b, c) = (f(hw - k), f(-hh + k), f(-hh));
        let body = ["M", &f(-hw), " ", &c, "H", &a, "L", &f(hw), " ", &b, "V", &f(hh), "H", &f(-hw), "Z"].concat();
        let fold = ["M", &a, " ", &c, "V", &b, "H", &f(hw)].concat();
        html! { <><path class="card" d={body} /><path class="fold" d={fold} /></> }
    } else if cache {
        let ry = 11.0;
        let body = [
            "M",
            &f(-hw),
            " ",
            &f(-hh + ry),
            "A",
            &f(hw),
            " ",
            &f(ry),
            " 0 0 0 ",
            &f(hw),
            " ",
            &f(-hh + ry),
            "V",
            &f(hh - ry),
            "A",
            &f(hw),
            " ",
            &f(ry),
            " 0 0 1 ",
            &f(-hw),
            " ",
            &f(hh - ry),
            "Z",
        ]
        .concat();
        html! {
            <>
                <path class="card" d={body} />
                <ellipse class="card lid" cx="0" cy={f(-hh + ry)} rx={f(hw)} ry={f(ry)} />
            </>
        }
    } else {
        let k = 20.0;
        let points = [
            [f(-hw), f(0.0)],
            [f(-hw + k), f(-hh)],
            [f(hw - k), f(-hh)],
            [f(hw), f(0.0)],
            [f(hw - k), f(hh)],
            [f(-hw + k), f(hh)],
        ]
        .iter()
        .map(|p| p.join(","))
        .collect::<Vec<_>>()
        .join(" ");
        html! { <polygon class="card" {points} /> }
    };
    let detail = if n.status == Status::Halted {
        "stopped".to_string()
    } else if cache {
        let keys = n.tables.iter().find(|t| t.name == "cache").map_or(0, |t| t.rows.len());
        [keys.to_string().as_str(), if keys == 1 { " key" } else { " keys" }].concat()
    } else if n.role == Role::Replicator {
        let r = x.map(|x| &x.replicator);
        ["read ", &r.map_or(0, |r| r.changes_read).to_string(), " · purged ", &r.map_or(0, |r| r.purged).to_string()]
            .concat()
    } else if n.role == Role::Cdc {
        let docs = x.and_then(|x| x.search.as_ref()).map_or(0, |s| s.docs.len());
        [docs.to_string().as_str(), if docs == 1 { " document" } else { " documents" }].concat()
    } else {
        match &n.follows {
            Some(l) => ["watches ", l].concat(),
            None => "watches the replicas".to_string(),
        }
    };
    let y_top = if cache { -hh + 30.0 } else { -hh + 24.0 };
    let what = match n.role {
        Role::Cache => " (a cache outside the database, keyed by primary key)",
        Role::Replicator => {
            " (trigger-based replication's replicator: polls the leader's _changes table, copies rows to its targets)"
        }
        Role::Cdc => " (change data capture: a search index kept from the leader's row changes)",
        _ => " (a failover controller: it watches the replicas and appoints a new leader)",
    };
    let role = if n.role == Role::Cdc { "cdc · search" } else { n.role.name() };
    html! {
        <g class={classes!("node", "external", n.role.name(), n.status.name(), selected.then_some("selected"))}
           data-node={n.id.clone()} data-role={n.role.name()} data-status={n.status.name()} data-lsn={n.lsn.to_string()}
           data-follows={n.follows.clone()}
           transform={translate(r.x, r.y)} {onclick} {onkeydown} tabindex="0">
            <title>{ [n.id.as_str(), what, n.error.as_deref().map_or("", |_| ": stopped, "), n.error.as_deref().unwrap_or(""), ". Click to inspect"].concat() }</title>
            { shape }
            <text class="n-id small" x="0" y={f(y_top + 6.0)} text-anchor="middle">{ text::truncate(&n.id, 10) }</text>
            <text class="n-role" x="0" y={f(y_top + 25.0)} text-anchor="middle">{ role }</text>
            <text class="n-ext" x="0" y={f(y_top + 45.0)} text-anchor="middle">
                <tspan class="glyph">{ status_glyph(n.status) }</tspan>{ " " }{ detail }
            </text>
            if n.status == Status::Crashed {
                <path class="xmark" d={["M", &f(-hw * 0.6), " ", &f(-hh * 0.6), "L", &f(hw * 0.6), " ", &f(hh * 0.6),
                                        "M", &f(hw * 0.6), " ", &f(-hh * 0.6), "L", &f(-hw * 0.6), " ", &f(hh * 0.6)].concat()} />
            }
            { status_badge(n.status, hw - 6.0, -hh + 6.0) }
        </g>
    }
}

/// With more messages in flight than this, tokens are drawn without their labels.
const MAX_LABELLED_MESSAGES: usize = 48;

/// The `i`th message in flight, where it is now on its link (`tokens::MessageLayer` draws it).
fn message_token(i: usize, msg: &MessageView, ra: Rect, rb: Rect, now: u64, labelled: bool) -> Token {
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
    let label = labelled.then(|| {
        let anchor = if nx > 0.35 {
            "start"
        } else if nx < -0.35 {
            "end"
        } else {
            "middle"
        };
        ((nx * 15.0) as f32, (ny * 15.0 + 4.0) as f32, anchor)
    });
    Token { msg: i, x: x as f32, y: y as f32, opacity: msg.doomed.then_some((1.0 - 0.8 * p) as f32), label }
}

/// How long (simulated) an election or failover stays announced under the canvas.
const RECENT_EVENT_US: u64 = 400_000;

/// The legend for message kinds and link states, and at its right end the current hint, or what the cluster just
/// did by itself (a new leader, a shutdown…).
pub fn legend(m: &Model) -> Html {
    let now = m.now();
    let recent = m.events.iter().rev().find(|e| e.at <= now && now - e.at <= RECENT_EVENT_US);
    let hint = if let Some(h) = &m.hint {
        html! { <li class="hint note" role="status">{ h.clone() }</li> }
    } else if let Some(e) = recent {
        html! { <li class={classes!("hint", "event", e.kind)} role="status" data-testid="recent-event">
        <span class="ev-dot" aria-hidden="true"></span>{ e.label.clone() }</li> }
    } else if !m.playing && now == 0 {
        html! { <li class="hint">{ "Press " }<kbd>{ "Space" }</kbd>{ " or ▶ to start" }</li> }
    } else {
        Html::default()
    };
    // Snapshot and election messages only in runs that have them (or can: automatic failover).
    let extra_kinds = m.pb.as_ref().map_or(Vec::new(), |pb| {
        let auto = pb.scenario().failover.auto;
        [MsgKind::Snapshot, MsgKind::Election]
            .into_iter()
            .filter(|k| {
                (*k == MsgKind::Election && auto) || pb.sim().metrics.per_kind.get(k).is_some_and(|x| x.sent > 0)
            })
            .collect()
    });
    html! {
        <ul class="legend" aria-label="Legend">
            { for MsgKind::ALL.iter().chain(&extra_kinds).map(|k| html! {
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
