//! Leaderless replication (DDIA 5.4) on the canvas and in the inspector: the latest operation drawn as a quorum
//! (the key's n home replicas ringed, the requests fanning out from the coordinator, the answers counted against
//! w or r, and, for a read, the replicas it shares with the last write of the key: with w + r > n there is always
//! one); the quorum settings a person changes from the moment on screen (a timed `Command::Quorum`); and a
//! replica's Merkle tree against its last anti-entropy peer, differing branches marked.

use yew::prelude::*;

use crate::protocol::leaderless::spec::{Coordinator, LeaderlessSpec, QuorumChange};
use crate::protocol::leaderless::{anti_entropy, Cluster, OpRecord};
use crate::scenario::Command;
use crate::web::state::{Action, Model};
use crate::world::sim::Simulation;

use super::num_input::NumInput;

use crate::layout::Rect;

fn f(v: f64) -> String {
    format!("{:.1}", v)
}

/// The operation to draw at the moment on screen: the newest one still waiting, else the newest one.
fn current(sim: &Simulation, c: &Cluster) -> Option<(usize, OpRecord)> {
    let waiting = c.records.iter().rev().find(|(op, r)| r.met.is_none() && sim.history.get(**op).is_some());
    let (op, r) = waiting.or_else(|| c.records.iter().next_back())?;
    Some((*op, r.clone()))
}

/// The newest write of `key` that started before operation `before`, and the replicas that stored it.
fn last_write(c: &Cluster, before: usize, r: &OpRecord) -> Option<(usize, Vec<usize>)> {
    c.records
        .below(&before)
        .rev()
        .find(|(_, w)| w.write && w.key == r.key && w.met == Some(true))
        .map(|(op, w)| (*op, w.answered.clone()))
}

/// The quorum overlay of the canvas (drawn under the message tokens). `rect_of` finds a node or client's box.
pub fn overlay(m: &Model, rect_of: &dyn Fn(&str) -> Option<Rect>) -> Html {
    let Some(pb) = m.pb.as_ref() else { return Html::default() };
    let sim = pb.sim();
    let Some(c) = sim.protocol.leaderless() else { return Html::default() };
    let Some((op, r)) = current(sim, c) else { return Html::default() };
    let Some(h) = sim.history.get(op) else { return Html::default() };
    let Some(client) = c.clients.get(h.client) else { return Html::default() };
    let name = |i: usize| c.nodes.get(i).map(|n| n.id.clone()).unwrap_or_default();
    let (coord_name, coord_node) = match &client.opts.coordinator {
        Coordinator::Node(id) => (id.clone(), c.nodes.iter().position(|n| &n.id == id)),
        Coordinator::Client => (sim.clients.get(h.client).map(|x| x.id.clone()).unwrap_or_default(), None),
    };
    let Some(co) = rect_of(&coord_name) else { return Html::default() };
    let overlap: Vec<usize> =
        if r.write { Vec::new() } else { last_write(c, op, &r).map(|(_, stored)| stored).unwrap_or_default() };
    let overlap: Vec<usize> = r.answered.iter().copied().filter(|i| overlap.contains(i)).collect();
    let count = count_text(&r);
    let verdict = match r.met {
        Some(true) => "met",
        Some(false) => "failed",
        None => "waiting",
    };
    let homes: Vec<Html> = r
        .home
        .iter()
        .filter_map(|&i| {
            let id = name(i);
            let b = rect_of(&id)?;
            let ov = overlap.contains(&i);
            Some(html! {
                <g class={classes!("q-home", ov.then_some("q-overlap"))} data-testid="quorum-home" data-node={id.clone()}
                   data-overlap={ov.then_some("true")}>
                    <title>{ if ov { format!("{id}: a home replica of {} that both the last write and this read reached", r.key.label()) }
                             else { format!("{id}: a home replica of {}", r.key.label()) } }</title>
                    <rect x={f(b.x - b.hw - 7.0)} y={f(b.y - b.hh - 7.0)} width={f(2.0 * b.hw + 14.0)}
                          height={f(2.0 * b.hh + 14.0)} rx="18" />
                    if ov {
                        <text class="q-ov-label" x={f(b.x)} y={f(b.y + b.hh + 22.0)} text-anchor="middle">{ "in both sets" }</text>
                    }
                </g>
            })
        })
        .collect();
    let fans: Vec<Html> = r
        .reached
        .iter()
        .filter(|&&i| Some(i) != coord_node)
        .filter_map(|&i| {
            let id = name(i);
            let b = rect_of(&id)?;
            let answered = r.answered.contains(&i);
            let hinted = r.hinted.iter().any(|(fb, _)| *fb == i);
            Some(html! {
                <line class={classes!("q-fan", answered.then_some("answered"), hinted.then_some("hinted"))}
                      data-testid="quorum-fan" data-node={id} x1={f(co.x)} y1={f(co.y)} x2={f(b.x)} y2={f(b.y)} />
            })
        })
        .collect();
    let kind = if r.write { "write" } else { "read" };
    let pill_w = 7.0 * count.chars().count() as f64 + 18.0;
    let caption = caption(op, &r, !overlap.is_empty());
    html! {
        <g class={classes!("quorum", r.write.then_some("write"), verdict)} data-testid="quorum" data-op={op.to_string()}
           data-kind={kind} data-key={r.key.label()} data-count={count.clone()} data-met={verdict}>
            { for fans }
            { for homes }
            <g class="q-count" data-testid="quorum-count" transform={format!("translate({},{})", f(co.x), f(co.y - co.hh - 4.0))}>
                <title>{ caption.clone() }</title>
                <rect x={f(-pill_w / 2.0)} y="-12" width={f(pill_w)} height="22" rx="11" />
                <text y="4" text-anchor="middle">{ count }</text>
            </g>
        </g>
    }
}

/// `2/2 acks`, `1/1 answers (+2 late)`: answers counted against w or r (late ones still feed read repair).
fn count_text(r: &OpRecord) -> String {
    let word = if r.write { "acks" } else { "answers" };
    let counted = r.answered.len().min(r.needed);
    let late = r.answered.len() - counted;
    if late > 0 {
        format!("{counted}/{} {word} (+{late} late)", r.needed)
    } else {
        format!("{counted}/{} {word}", r.needed)
    }
}

/// One line on the operation drawn: `#2 read kv:x by bob · 1/1 answers (met) · r = 1 of n = 3 …`.
fn caption(op: usize, r: &OpRecord, overlap: bool) -> String {
    let kind = if r.write { "write" } else { "read" };
    let verdict = match r.met {
        Some(true) => "met",
        Some(false) => "not met",
        None => "waiting",
    };
    let need = if r.write { "w" } else { "r" };
    let sets = if r.write {
        String::new()
    } else if overlap {
        " · it shares a replica with the last write of the key (ringed in orange)".into()
    } else {
        " · it shares no replica with the last write of the key".into()
    };
    format!(
        "#{op} {kind} {} · {} ({verdict}) · {need} = {} of n = {}{sets}",
        r.key.label(),
        count_text(r),
        r.needed,
        r.home.len()
    )
}

/// The caption of the operation the canvas draws now.
fn current_caption(m: &Model) -> Option<String> {
    let sim = m.pb.as_ref()?.sim();
    let c = sim.protocol.leaderless()?;
    let (op, r) = current(sim, c)?;
    let stored = if r.write { Vec::new() } else { last_write(c, op, &r).map(|(_, s)| s).unwrap_or_default() };
    Some(caption(op, &r, r.answered.iter().any(|i| stored.contains(i))))
}

#[derive(Properties, PartialEq)]
pub struct ControlsProps {
    pub spec: LeaderlessSpec,
    pub replicas: usize,
    pub ended: bool,
    /// What the canvas draws now (the latest operation's quorum), if anything.
    pub caption: Option<String>,
    pub dispatch: Callback<Action>,
}

/// n, w, r, read repair, anti-entropy and sloppy quorum, acting from the moment on screen. A change that cannot
/// apply (w or r above n, n above the replicas) is refused here with the reason, never sent.
#[function_component(QuorumControls)]
pub fn quorum_controls(p: &ControlsProps) -> Html {
    let message = use_state(|| None::<String>);
    let send = {
        let (spec, replicas, d, message) = (p.spec.clone(), p.replicas, p.dispatch.clone(), message.clone());
        move |q: QuorumChange| match q.applied_to(&spec, replicas) {
            Err(e) => message.set(Some(e)),
            Ok(_) => {
                message.set(None);
                d.emit(Action::Do(Command::Quorum(q)));
            }
        }
    };
    let number = |key: &'static str, value: usize, tip: &'static str| {
        let send = send.clone();
        let message = message.clone();
        let onchange = Callback::from(move |e: Event| {
            let text = e.target_unchecked_into::<web_sys::HtmlInputElement>().value();
            let Ok(x) = text.trim().parse::<usize>() else {
                message.set(Some(format!("{key} must be a whole number, found {text:?}")));
                return;
            };
            let mut q = QuorumChange::default();
            match key {
                "n" => q.n = Some(x),
                "w" => q.w = Some(x),
                _ => q.r = Some(x),
            }
            send(q);
        });
        html! {
            <label title={tip}>{ format!("{key} ") }
                <NumInput slider=true min="1" max={p.replicas.to_string()} step="1" value={value.to_string()} class="q-slider"
                          test={format!("quorum-{key}-slider")} label={format!("{key} (slider)")} disabled={p.ended} onchange={onchange.clone()} />
                <NumInput min="1" max={p.replicas.to_string()} value={value.to_string()} class="q-num"
                          test={format!("quorum-{key}")} label={key} disabled={p.ended} {onchange} />
            </label>
        }
    };
    let flag = |key: &'static str, label: String, on: bool, tip: &'static str| {
        let send = send.clone();
        let onchange = Callback::from(move |e: Event| {
            let b = e.target_unchecked_into::<web_sys::HtmlInputElement>().checked();
            let mut q = QuorumChange::default();
            match key {
                "read-repair" => q.read_repair = Some(b),
                "anti-entropy" => q.anti_entropy_ms = Some(if b { 200 } else { 0 }),
                _ => q.sloppy_quorum = Some(b),
            }
            send(q);
        });
        html! {
            <label title={tip}>
                <input type="checkbox" data-testid={format!("quorum-{key}")} checked={on} disabled={p.ended} {onchange} />
                { format!(" {label}") }
            </label>
        }
    };
    let s = &p.spec;
    let ae =
        if s.anti_entropy_ms > 0 { format!("anti-entropy ({} ms)", s.anti_entropy_ms) } else { "anti-entropy".into() };
    html! {
        <div class="cluster-controls quorum-controls">
            <div class="control-row settings" role="group" aria-label="Quorum settings" data-testid="quorum-settings">
                <span class="c-label" title="From the moment on screen: operations already under way keep theirs">{ "Quorum" }</span>
                { number("n", s.n, "Replicas per key: its home replicas on the ring") }
                { number("w", s.w, "Acknowledgements a write waits for") }
                { number("r", s.r, "Answers a read waits for") }
                <span class={classes!("q-strict", s.strict().then_some("ok"))} data-testid="quorum-strict">
                    { if s.strict() { "w + r > n" } else { "w + r ≤ n" } }
                </span>
            </div>
            <div class="control-row settings" role="group" aria-label="Repair settings">
                { flag("read-repair", "read repair".into(), s.read_repair, "A read writes the newest version back to replicas that answered with an older one") }
                { flag("anti-entropy", ae, s.anti_entropy_ms > 0, "A background process compares replicas' Merkle trees and copies what differs (every 200 ms when turned on here)") }
                { flag("sloppy", "sloppy quorum".into(), s.sloppy_quorum, "A write that cannot reach enough home replicas goes to the next nodes on the ring, with a hint") }
                <span class="muted q-resolve" data-testid="quorum-resolve"
                      title="replication.leaderless.resolve, fixed for the run: siblings keeps concurrent versions side by side (version vectors); last write wins keeps only the highest timestamp of the coordinator's clock and drops the rest">
                    { if s.lww() { "resolve: last write wins (timestamps)" } else { "resolve: siblings (version vectors)" } }
                </span>
            </div>
            if let Some(e) = (*message).clone() {
                <p class="node-error" role="alert" data-testid="quorum-error">{ e }</p>
            }
            if let Some(cap) = p.caption.clone() {
                <p class="muted q-caption" data-testid="quorum-caption">{ cap }</p>
            }
        </div>
    }
}

/// The Nodes overview's table for a leaderless run: what means something for a replica (keys held, keys with
/// siblings, hints held for other replicas) instead of a leader's epoch, LSN and lag. `None` for other protocols.
pub fn replica_table(m: &Model, d: &Callback<Action>) -> Option<Html> {
    let c = m.pb.as_ref()?.sim().protocol.leaderless()?;
    Some(html! {
        <table class="grid overview" data-testid="replica-table">
            <thead><tr>
                <th>{ "node" }</th><th>{ "status" }</th>
                <th class="num" title="Keys this replica holds a version of">{ "keys" }</th>
                <th class="num" title="Keys with concurrent versions side by side (siblings)">{ "siblings" }</th>
                <th class="num" title="Writes held for another replica (sloppy quorum), waiting for handoff">{ "hints" }</th>
            </tr></thead>
            <tbody>
                { for c.nodes.iter().map(|n| {
                    let id = n.id.clone();
                    let onclick = d.reform(move |_: MouseEvent| Action::Select(Some(id.clone())));
                    let siblings = n.data.values().filter(|s| s.iter().filter(|v| !v.is_tombstone()).count() > 1).count();
                    html! {
                        <tr class="pick" data-testid="replica-row" data-node={n.id.clone()} {onclick}>
                            <td><b>{ n.id.clone() }</b></td>
                            <td><span class={classes!("status", n.status.name())}>{ n.status.name() }</span></td>
                            <td class="num" data-testid="keys-held">{ n.data.len() }</td>
                            <td class="num">{ siblings }</td>
                            <td class="num" data-testid="hints-held">{ n.hints.len() }</td>
                        </tr>
                    }
                }) }
            </tbody>
        </table>
    })
}

/// The controls for the run on screen, if it is leaderless.
pub fn controls(m: &Model, d: &Callback<Action>) -> Option<Html> {
    let c = m.pb.as_ref()?.sim().protocol.leaderless()?;
    Some(html! {
        <QuorumControls spec={c.spec.clone()} replicas={c.nodes.len()} ended={m.at_end()} caption={current_caption(m)} dispatch={d.clone()} />
    })
}

/// A replica's Merkle tree over the keys it shares with its last anti-entropy peer, next to the peer's: the
/// branches whose hashes differ now are marked, and the leaves the last round found different are listed.
pub fn merkle_view(m: &Model, id: &str) -> Html {
    let Some(c) = m.pb.as_ref().and_then(|pb| pb.sim().protocol.leaderless()) else { return Html::default() };
    let Some(me) = c.nodes.iter().position(|n| n.id == id) else { return Html::default() };
    let Some((peer, last)) = c.nodes[me].ae_last.clone() else {
        return if c.spec.anti_entropy_ms > 0 {
            html! { <p class="muted" data-testid="merkle-none">{ "Merkle tree: no anti-entropy round yet." }</p> }
        } else {
            Html::default()
        };
    };
    let Some(peer_node) = c.nodes.get(peer) else { return Html::default() };
    let (a, b) = (c.merkle_tree(me, peer), c.merkle_tree(peer, me));
    const W: f64 = 320.0;
    let rows = a.levels.len();
    let mut cells = Vec::new();
    for (lv, hashes) in a.levels.iter().enumerate() {
        let k = hashes.len().max(1) as f64;
        let cw = W / k;
        for (i, h) in hashes.iter().enumerate() {
            let differs = b.levels.get(lv).and_then(|l| l.get(i)) != Some(h);
            let x = i as f64 * cw;
            let y = lv as f64 * 18.0;
            cells.push(html! {
                <rect class={classes!("m-cell", differs.then_some("differs"))} data-differs={differs.then_some("true")}
                      x={f(x + 1.0)} y={f(y)} width={f(cw - 2.0)} height="14" rx="3">
                    <title>{ format!("level {lv}, {} {i}: {h:016x}{}", if lv + 1 == rows { "leaf" } else { "branch" },
                                     if differs { " (differs from the peer's)" } else { "" }) }</title>
                </rect>
            });
        }
    }
    let keys: Vec<String> = last.iter().map(|l| l.to_string()).collect();
    let same = anti_entropy::LEAVES;
    html! {
        <div class="merkle" data-testid="merkle">
            <h3>{ format!("Merkle tree vs {}", peer_node.id) }</h3>
            <svg class="merkle-tree" viewBox={format!("0 0 {W} {}", rows * 18)} role="img"
                 aria-label="Merkle tree: root on top, leaves below; differing branches marked">
                { for cells }
            </svg>
            <p class="muted">
                { if last.is_empty() { format!("Last round with {}: all {same} leaves agreed.", peer_node.id) }
                  else { format!("Last round with {}: leaves {} differed and were copied.", peer_node.id, keys.join(", ")) } }
            </p>
        </div>
    }
}
