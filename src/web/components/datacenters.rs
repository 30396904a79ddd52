//! Multi-leader replication (DDIA 5.3) on the canvas and in the inspector: one labelled region per datacenter
//! (its leader on top, its followers below), the leaders' topology as arrows between leaders, and for a selected
//! node its datacenter, topology, conflict strategy, causality, version vector and the changes it holds back
//! until their causal predecessors arrive, with the commands of DDIA 5.3 (a device offline/online, a user's home
//! leader moved, the topology reconfigured).

use yew::prelude::*;

use crate::protocol::multi_leader::spec::{Causality, Conflict, Topology};
use crate::protocol::multi_leader::Cluster;
use crate::protocol::Protocol;
use crate::scenario::Command;
use crate::web::state::{Action, Model};

use crate::layout::{index, Rect, Region};

/// The multi-leader cluster of the run on screen, if it is one.
pub fn cluster(m: &Model) -> Option<&Cluster> {
    match &m.pb.as_ref()?.sim().protocol {
        Protocol::MultiLeader(c) => Some(c),
        _ => None,
    }
}

/// The acting leader of `id`'s own replication group (its datacenter), for a multi-leader run.
pub fn group_leader<'a>(m: &'a Model, id: &str) -> Option<&'a str> {
    let pb = m.pb.as_ref()?;
    let Protocol::MultiLeader(cl) = &pb.sim().protocol else { return None };
    let i = index(cl, id)?;
    let group = pb.sim().protocol.observe(i).group;
    cl.inner.leader_of(group).and_then(|l| cl.inner.nodes.get(l)).map(|n| n.id.as_str())
}

fn f(v: f64) -> String {
    ((v * 10.0).round() / 10.0).to_string()
}

/// The regions, each with its datacenter's name, and a caption saying how the leaders replicate.
pub fn regions_view(cl: &Cluster, regions: &[Region]) -> Html {
    let caption = caption(cl);
    let first = regions.first().map_or((0.0, 0.0), |r| (r.x0, r.y0));
    html! {
        <g class="datacenters" data-topology={cl.shape.topology.name()}>
            { for regions.iter().map(|r| html! {
                <g class="dc" data-dc={r.name.clone()}>
                    <title>{ ["Datacenter ", &r.name, ": its leader takes the writes of its users and replicates to its followers; leaders replicate to each other asynchronously"].concat() }</title>
                    <rect class="dc-region" x={f(r.x0)} y={f(r.y0)} width={f(r.x1 - r.x0)} height={f(r.y1 - r.y0)} rx="18" />
                    <text class="dc-label" x={f(r.x0 + 14.0)} y={f(r.y0 + 22.0)}>{ ["datacenter ", &r.name].concat() }</text>
                </g>
            }) }
            <text class="dc-caption" x={f(first.0)} y={f(first.1 - 8.0)}>{ caption }</text>
        </g>
    }
}

fn topology_name(cl: &Cluster) -> String {
    let name = |i: usize| cl.inner.nodes.get(i).map_or("?", |n| n.id.as_str());
    match cl.shape.topology {
        Topology::AllToAll => "all-to-all".into(),
        Topology::Circular => {
            let ring: Vec<&str> = cl.shape.leaders.iter().map(|&i| name(i)).collect();
            ["circular ", &ring.join("→")].concat()
        }
        Topology::Star => ["star around ", cl.shape.hub.map_or("?", name)].concat(),
    }
}

fn caption(cl: &Cluster) -> String {
    [
        "leaders: ",
        &topology_name(cl),
        " · conflicts: ",
        cl.spec.conflict.name(),
        " · causality: ",
        cl.spec.causality.name(),
    ]
    .concat()
}

/// The topology: an arrow along each leader-to-leader stream, drawn over the links (it takes no clicks).
pub fn topology_view(cl: &Cluster, rect_of: &dyn Fn(&str) -> Option<Rect>) -> Html {
    let mut arrows = Vec::new();
    for a in 0..cl.inner.nodes.len() {
        if !cl.is_leader(a) {
            continue;
        }
        for b in cl.shape.downstream(a) {
            let (Some(na), Some(nb)) = (cl.inner.nodes.get(a), cl.inner.nodes.get(b)) else { continue };
            let (Some(ra), Some(rb)) = (rect_of(&na.id), rect_of(&nb.id)) else { continue };
            let (dx, dy) = (rb.x - ra.x, rb.y - ra.y);
            let len = (dx * dx + dy * dy).sqrt();
            if len < 1.0 {
                continue;
            }
            let (ux, uy) = (dx / len, dy / len);
            // Each direction on its own side of the wire.
            let (nx, ny) = (-uy * 5.0, ux * 5.0);
            let t = |r: &Rect, sx: f64, sy: f64| {
                let tx = if sx.abs() > 1e-9 { r.hw / sx.abs() } else { f64::INFINITY };
                let ty = if sy.abs() > 1e-9 { r.hh / sy.abs() } else { f64::INFINITY };
                tx.min(ty) + 6.0
            };
            let (sa, sb) = (t(&ra, ux, uy), t(&rb, -ux, -uy));
            let (x1, y1) = (ra.x + ux * sa + nx, ra.y + uy * sa + ny);
            let (x2, y2) = (rb.x - ux * sb + nx, rb.y - uy * sb + ny);
            // The arrowhead at the receiving end.
            let (hx, hy) = (x2 - ux * 14.0, y2 - uy * 14.0);
            let head = [
                f(x2),
                ",".into(),
                f(y2),
                " ".into(),
                f(hx + ny * 1.2),
                ",".into(),
                f(hy - nx * 1.2),
                " ".into(),
                f(hx - ny * 1.2),
                ",".into(),
                f(hy + nx * 1.2),
            ]
            .concat();
            // Changes sent along this stream and not acknowledged yet: they pile up before a failed leader.
            let queued =
                cl.state.get(a).and_then(|s| s.out.get(&b)).map_or(0, |o| o.queue.len().saturating_sub(o.acked));
            let (mx, my) = ((x1 + hx) / 2.0 + nx * 3.0, (y1 + hy) / 2.0 + ny * 3.0);
            arrows.push(html! {
                <g class="topo-arrow" data-from={na.id.clone()} data-to={nb.id.clone()} data-queued={queued.to_string()}>
                    <line x1={f(x1)} y1={f(y1)} x2={f(hx)} y2={f(hy)} />
                    <polygon points={head} />
                    if queued > 0 {
                        <g class="topo-queued" transform={["translate(", &f(mx), " ", &f(my), ")"].concat()}>
                            <rect x="-30" y="-10" width="60" height="20" rx="10" />
                            <text y="4.5" text-anchor="middle">{ [queued.to_string().as_str(), " queued"].concat() }</text>
                        </g>
                    }
                </g>
            });
        }
    }
    html! { <g class="topology" data-topology={cl.shape.topology.name()} aria-hidden="true">{ for arrows }</g> }
}

/// The inspector's multi-leader section for node `id`: what it is, what it holds back, and the commands.
pub fn inspector(m: &Model, cuts: &[(String, String)], id: &str, d: &Callback<Action>) -> Html {
    let Some(cl) = cluster(m) else { return Html::default() };
    let Some(i) = index(cl, id) else { return Html::default() };
    let name = |k: usize| cl.inner.nodes.get(k).map_or("?".to_string(), |n| n.id.clone());
    let is_leader = cl.is_leader(i);
    let leaders: Vec<usize> = (0..cl.inner.nodes.len()).filter(|&k| cl.is_leader(k)).collect();
    let st = cl.state.get(i);
    let vv = st.map_or(String::new(), |s| {
        leaders
            .iter()
            .map(|&k| [name(k), ":".into(), s.vv.get(k).copied().unwrap_or(0).to_string()].concat())
            .collect::<Vec<_>>()
            .join(" ")
    });
    let pending: Vec<String> = st.map_or(Vec::new(), |s| {
        s.pending.iter().map(|c| [name(c.origin), " #".into(), c.seq.to_string()].concat()).collect()
    });
    let ended = m.at_end();
    let act = move |c: Command| d.reform(move |_: MouseEvent| Action::Do(c.clone()));
    let cut = cuts.iter().any(|(a, b)| a == id || b == id);
    let client = m.scenario().and_then(|s| s.clients.get(m.client)).map(|c| c.id.clone());
    let home_here = m
        .scenario()
        .and_then(|s| s.clients.iter().position(|c| Some(&c.id) == client.as_ref()))
        .and_then(|c| cl.home.get(c))
        .is_some_and(|&h| h == i);
    let others: Vec<String> = cl.shape.leaders.iter().filter(|&&k| k != i).map(|&k| name(k)).collect();
    let in_ring = cl.shape.topology == Topology::Circular && cl.shape.leaders.contains(&i);
    let causality = match cl.spec.causality {
        Causality::VersionVectors => "version vectors (a change waits for its predecessors)",
        Causality::None => "none (a change is applied on arrival)",
    };
    let why = ended.then_some("The run has ended: scrub back or restart first");
    html! {
        <section class="ml-node" data-testid="ml-node" aria-label="Multi-leader">
            <h3>{ "Multi-leader" }</h3>
            <dl class="facts">
                { super::pages::fact("datacenter", cl.datacenter(i).unwrap_or("–").to_string(), "Leaders replicate to each other; inside a datacenter the leader replicates to its followers") }
                <div class="span2" title="How concurrent writes to the same row are resolved (replication.conflict): changing it replays the run up to this moment"><dt>{ "conflicts" }</dt><dd>
                    <select data-testid="ml-strategy" aria-label="Conflict strategy"
                            onchange={d.reform(|e: Event| Action::Strategy(e.target_unchecked_into::<web_sys::HtmlSelectElement>().value()))}>
                        { for Conflict::ALL.iter().map(|c| html! {
                            <option value={c.name()} selected={*c == cl.spec.conflict}>{ c.name() }</option>
                        }) }
                    </select>
                </dd></div>
                <div class="full" title="Which leaders send their changes to which (reconfigure below)"><dt>{ "topology" }</dt><dd>{ topology_name(cl) }</dd></div>
                <div class="full" title="replication.causality"><dt>{ "causality" }</dt><dd>{ causality }</dd></div>
                if is_leader {
                    <div class="full" data-testid="ml-vv" title="How many changes of each leader this leader has applied"><dt>{ "version vector" }</dt><dd>{ vv }</dd></div>
                    <div class="full" data-testid="ml-pending" title="Changes that arrived before a change they depend on: held back until it arrives">
                        <dt>{ "waiting for predecessors" }</dt>
                        <dd>{ if pending.is_empty() { "none".to_string() } else { pending.join(", ") } }</dd>
                    </div>
                }
            </dl>
            <div class="actions">
                <button class="btn" data-testid="ml-offline" disabled={ended} title={why.unwrap_or("The device loses every link outside its datacenter (a phone on a plane)")}
                        onclick={act(Command::Offline(id.to_string()))}>{ "Offline" }</button>
                <button class="btn" data-testid="ml-online" disabled={ended || !cut} title={why.unwrap_or("The device regains its links and syncs")}
                        onclick={act(Command::Online(id.to_string()))}>{ "Online" }</button>
                if is_leader {
                    if let Some(c) = client.clone() {
                        <button class="btn wide" data-testid="ml-move" disabled={ended || home_here}
                                title={why.unwrap_or("The user moved: their writes now go to this leader (conflict avoidance breaks while their old writes are in flight)")}
                                onclick={act(Command::Move { client: c.clone(), leader: id.to_string() })}>{ ["Move ", &c, "'s home here"].concat() }</button>
                    }
                    if in_ring && others.len() > 1 {
                        <button class="btn wide" data-testid="ml-reroute" disabled={ended}
                                title={why.unwrap_or("Reconfigure the ring by hand without this node, as deployments do when a node fails")}
                                onclick={act(Command::Reconfigure { topology: "circular".into(), ring: others.clone(), hub: None })}>{ "Ring without this node" }</button>
                    }
                    if cl.shape.topology != Topology::Star || cl.shape.hub != Some(i) {
                        <button class="btn" data-testid="ml-star" disabled={ended} title={why.unwrap_or("Reconfigure: a star with this leader at the root")}
                                onclick={act(Command::Reconfigure { topology: "star".into(), ring: Vec::new(), hub: Some(id.to_string()) })}>{ "Star here" }</button>
                    }
                    if cl.shape.topology != Topology::AllToAll {
                        <button class="btn" data-testid="ml-all" disabled={ended} title={why.unwrap_or("Reconfigure: every leader sends to every other")}
                                onclick={act(Command::Reconfigure { topology: "all-to-all".into(), ring: Vec::new(), hub: None })}>{ "All-to-all" }</button>
                    }
                }
            </div>
        </section>
    }
}

/// Multi-leader: the chosen client as a device that can go offline (every link outside its datacenter cut) and
/// come back, for the client panel's header.
pub fn client_device(m: &Model, d: &Callback<Action>) -> Html {
    if cluster(m).is_none() {
        return Html::default();
    }
    let Some(id) = m.scenario().and_then(|s| s.clients.get(m.client)).map(|c| c.id.clone()) else {
        return Html::default();
    };
    let ended = m.at_end();
    let (off, on) = (Command::Offline(id.clone()), Command::Online(id.clone()));
    html! {
        <span class="ml-device">
            <button class="btn small" data-testid="ml-client-offline" disabled={ended}
                    title={["Take ", &id, " offline: it loses every link outside its datacenter"].concat()}
                    onclick={d.reform(move |_: MouseEvent| Action::Do(off.clone()))}>{ "Offline" }</button>
            <button class="btn small" data-testid="ml-client-online" disabled={ended}
                    title={["Bring ", &id, " back online: it regains its links"].concat()}
                    onclick={d.reform(move |_: MouseEvent| Action::Do(on.clone()))}>{ "Online" }</button>
        </span>
    }
}

/// Multi-leader: the chosen client's home leader (where its writes go; a `move` changes it).
pub fn home(m: &Model) -> Option<String> {
    let cl = cluster(m)?;
    cl.home.get(m.client).and_then(|&h| cl.inner.nodes.get(h)).map(|n| n.id.clone())
}
