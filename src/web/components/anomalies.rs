//! The Anomalies tab: what the checkers find in the run up to the moment on screen (lost acknowledged writes,
//! reused keys, split brain, divergence, unavailability), each with the history entries that prove it as chips
//! that highlight those entries in the client history.

use yew::prelude::*;

use crate::check::{Anomaly, AnomalyKind};
use crate::web::dom;
use crate::web::state::{Action, Model};
use crate::web::text;

/// Items listed before "… n more".
const MAX_ITEMS: usize = 80;

/// A short name for an anomaly kind.
pub fn kind_name(kind: AnomalyKind) -> &'static str {
    match kind {
        AnomalyKind::LostWrite => "lost write",
        AnomalyKind::KeyReuse => "key reused",
        AnomalyKind::SplitBrain => "split brain",
        other => other.name(),
    }
}

/// What a kind means, in one line (badge tooltips).
pub fn kind_help(kind: AnomalyKind) -> &'static str {
    match kind {
        AnomalyKind::LostWrite => {
            "A write was acknowledged to its client, but the leader that counts now does not have it"
        }
        AnomalyKind::KeyReuse => "One primary key was handed out for two different rows",
        AnomalyKind::SplitBrain => "Two nodes acted as leader at the same time and both accepted writes",
        AnomalyKind::Unavailable => "Client writes failed: there was no leader, or none the clients knew of",
        AnomalyKind::Divergence => "Replicas that applied the same log hold different rows",
        AnomalyKind::ReadYourWrites => "A user's read missed a write the same user had already been told was saved",
        AnomalyKind::MonotonicReads => {
            "A user's read saw an older state than an earlier read of theirs: time went backwards"
        }
        AnomalyKind::StaleRead => "A read missed a write that had been acknowledged before the read began",
        AnomalyKind::Conflict => {
            "Concurrent writes to one row or key: neither writer had seen the other's version (resolved, merged or kept as siblings)"
        }
        AnomalyKind::ConsistentPrefix => "A read saw a write without the earlier write it depends on",
        AnomalyKind::LostUpdate => "An acknowledged write that conflict resolution threw away",
        AnomalyKind::DuplicateKey => "Two leaders generated the same AUTOINCREMENT key for different rows",
    }
}

/// What the checkers look for, said when they found nothing yet.
const NONE_LEADER: &str = "None so far. The checkers look for acknowledged writes the leader no longer has, keys handed out twice, two leaders taking writes at once, replicas that disagree, and windows without a working leader.";
const NONE_LEADERLESS: &str = "None so far. The checkers look for reads that missed a write acknowledged before they began (stale reads, with the edge case that explains each), acknowledged writes no replica still holds, and concurrent writes to one key.";

/// Highlight `ops` in the history, and scroll the first into view after the next render.
pub fn highlight(d: &Callback<Action>, ops: Vec<usize>) -> Callback<MouseEvent> {
    let d = d.clone();
    Callback::from(move |_: MouseEvent| {
        let first = ops.first().copied();
        d.emit(Action::Highlight(ops.clone()));
        if let Some(op) = first {
            gloo_timers::callback::Timeout::new(0, move || {
                dom::scroll_list_to("[data-testid=history]", &["[data-op=\"", &op.to_string(), "\"]"].concat());
            })
            .forget();
        }
    })
}

pub fn view(m: &Model, d: &Callback<Action>) -> Html {
    let Some(pb) = m.pb.as_ref() else { return Html::default() };
    let sim = pb.sim();
    let list = &m.anomalies;
    let more = list.len().saturating_sub(MAX_ITEMS);
    html! {
        <section class="panel anomalies" data-testid="anomalies" data-count={list.len().to_string()} aria-label="Anomalies">
            <header class="panel-head">
                <h2>{ "Anomalies" }<span class="muted">{ [" at ", &text::clock(m.now())].concat() }</span></h2>
                if !m.highlight.is_empty() {
                    <button class="link-btn" onclick={d.reform(|_: MouseEvent| Action::Highlight(Vec::new()))}>{ "Clear highlight" }</button>
                }
            </header>
            if list.is_empty() {
                <p class="muted">{ if sim.protocol.leaderless().is_some() { NONE_LEADERLESS } else { NONE_LEADER } }</p>
            } else {
                <p class="muted">{ "Click an operation to find it in the client history below." }</p>
            }
            if m.conflict_row.is_some() {
                // The conflict view takes the list's place until it is closed.
                <div class="scroll">{ super::conflicts::view(m, d) }</div>
            } else {
                <ol class="anomaly-list scroll">
                    { for list.iter().take(MAX_ITEMS).map(|a| item(a, m, sim, d)) }
                    if more > 0 { <li class="muted">{ ["… ", &more.to_string(), " more"].concat() }</li> }
                </ol>
            }
        </section>
    }
}

fn item(a: &Anomaly, m: &Model, sim: &crate::world::sim::Simulation, d: &Callback<Action>) -> Html {
    let chips = a.ops.iter().take(24).map(|op| {
        let op = *op;
        let tip = sim.history.get(op).map_or(String::new(), |h| {
            let who = sim.clients.get(h.client).map_or("?", |c| c.id.as_str());
            [who, ": ", &h.sql].concat()
        });
        let on = m.highlight.contains(&op);
        html! {
            <button class={classes!("op-chip", on.then_some("on"))} data-testid="anomaly-op" data-op={op.to_string()}
                    title={tip} onclick={highlight(d, vec![op])}>{ ["#", &op.to_string()].concat() }</button>
        }
    });
    let all = (a.ops.len() > 1).then(|| {
        html! { <button class="link-btn all" onclick={highlight(d, a.ops.clone())}>{ "all" }</button> }
    });
    let conflict_view = (a.kind == AnomalyKind::Conflict).then(|| super::conflicts::open_button(m, &a.ops, d));
    html! {
        <li class="anomaly" data-testid="anomaly" data-kind={a.kind.name()}>
            <span class={classes!("a-kind", a.kind.name())} title={kind_help(a.kind)}>{ kind_name(a.kind) }</span>
            <p class="a-detail">{ a.detail.clone() }</p>
            if !a.ops.is_empty() {
                <div class="a-ops"><span class="muted">{ "proof:" }</span>{ for chips }{ all }{ conflict_view }</div>
            }
        </li>
    }
}
