//! The client panel: write SQL as one of the scenario's clients, and read what every client has seen.

use std::cell::RefCell;
use std::rc::Rc;

use yew::prelude::*;

use super::memo::{self, Memo, PartView};

use crate::scenario::MAX_STATEMENT_LEN;
use crate::web::state::{Action, Model};
use crate::web::text;
use crate::world::sim::HistoryEntry;

/// History entries shown (latest first).
const MAX_HISTORY: usize = 60;

pub fn view(m: &Model, model: &Rc<RefCell<Model>>, d: &Callback<Action>) -> Html {
    let Some(pb) = m.pb.as_ref() else { return Html::default() };
    let sim = pb.sim();
    let clients = &pb.scenario().clients;
    let onchange = d.reform(|e: Event| {
        let i = e.target_unchecked_into::<web_sys::HtmlSelectElement>().selected_index();
        Action::SetClient(i.max(0) as usize)
    });
    let oninput =
        d.reform(|e: InputEvent| Action::SetSql(e.target_unchecked_into::<web_sys::HtmlInputElement>().value()));
    let onsubmit = d.reform(|e: SubmitEvent| {
        e.prevent_default();
        Action::Send
    });
    let target = match (sim.protocol.single_leader(), sim.protocol.leaderless()) {
        (Some(cl), _) => cl.clients.get(m.client).and_then(|c| cl.nodes.get(c.target)).map(|n| n.id.clone()),
        // Leaderless: the coordinating replica (none when the client coordinates itself).
        (None, Some(c)) => c
            .clients
            .get(m.client)
            .and_then(|c| c.coordinator)
            .map(|i| sim.name(crate::protocol::Endpoint::Node(i)).to_string()),
        (None, None) => None,
    };
    let target = super::datacenters::home(m).or(target);
    let ended = m.at_end();
    // What Send would refuse (the bound of scenario files and share links), said at the input as it is typed.
    let too_long = crate::scenario::check_statement(m.sql.trim()).err();
    // The latest entries, and any highlighted older one (the proof of an anomaly), latest first.
    let len = sim.history.len();
    let mut shown: Vec<usize> = (len.saturating_sub(MAX_HISTORY)..len).rev().collect();
    for &h in m.highlight.iter().filter(|&&h| h < len.saturating_sub(MAX_HISTORY)) {
        shown.push(h);
    }
    let cut = MAX_HISTORY.min(shown.len());
    // Through the crate's one sort (each sort instantiated in the wasm costs ~3 KB).
    crate::sql::sort_stable_by(&mut shown[cut..], |a, b| b.cmp(a));
    shown.dedup();
    html! {
        <section class="panel client-panel" aria-label="Clients">
            <header class="panel-head"><h2>{ "Clients" }</h2>
                if let Some(t) = target { <span class="muted">{ "sends to " }<b>{ t }</b></span> }
                { super::datacenters::client_device(m, d) }
            </header>
            <form class="sql-form" {onsubmit}>
                <select data-testid="client-select" aria-label="Client" {onchange}>
                    { for clients.iter().enumerate().map(|(i, c)| html! {
                        <option value={c.id.clone()} selected={i == m.client}>{ c.id.clone() }</option>
                    }) }
                </select>
                <input data-testid="sql-input" type="text" aria-label="SQL statement" spellcheck="false" autocomplete="off"
                       maxlength={MAX_STATEMENT_LEN.to_string()} aria-invalid={too_long.is_some().then_some("true")}
                       aria-describedby={too_long.is_some().then_some("sql-too-long")}
                       value={m.sql.clone()} {oninput} placeholder="INSERT INTO … / SELECT …" />
                <button class="btn primary" data-testid="send" type="submit" disabled={clients.is_empty() || ended || too_long.is_some()}
                        title={if ended { "The run has ended: scrub back or restart first" } else { "Send this statement now (Enter)" }}>{ "Send" }</button>
            </form>
            if let Some(e) = too_long {
                <p id="sql-too-long" class="sql-error" data-testid="sql-too-long" role="alert">{ "Too long to send: " }{ e }</p>
            }
            <ol class="history" data-testid="history" aria-label="Client history, latest first">
                if sim.history.is_empty() {
                    <li class="muted empty">{ "No statements yet." }</li>
                } else {
                    // One keyed list of its own (beside an unkeyed sibling, Yew would diff it by position and
                    // rebuild every entry whenever one is added at the top).
                    // Each entry is redrawn only when it changed (`memo`): it finished, or it was flagged or lit.
                    { shown.iter().map(|&i| {
                        let h = &sim.history[i];
                        let flags: Vec<&str> = m.anomalies.iter().filter(|a| a.ops.contains(&i))
                            .map(|a| super::anomalies::kind_name(a.kind)).collect();
                        let stamp = memo::stamp((m.run_id, h.start, h.end, h.result.is_some(),
                                                 m.highlight.contains(&i), flags));
                        html! { <Memo key={i} model={model.clone()} dispatch={d.clone()} view={entry_part as PartView}
                                      arg={i} {stamp} /> }
                    }).collect::<Html>() }
                }
            </ol>
        </section>
    }
}

/// History entry `i` (a `Memo` part).
fn entry_part(m: &Model, _: &Callback<Action>, i: usize) -> Html {
    let Some(sim) = m.pb.as_ref().map(crate::playback::Playback::sim) else { return Html::default() };
    sim.history.get(i).map_or_else(Html::default, |h| entry(i, h, sim, m))
}

fn entry(i: usize, h: &HistoryEntry, sim: &crate::world::sim::Simulation, m: &Model) -> Html {
    let flagged: Vec<&str> =
        m.anomalies.iter().filter(|a| a.ops.contains(&i)).map(|a| super::anomalies::kind_name(a.kind)).collect();
    let lit = m.highlight.contains(&i);
    let client = sim.clients.get(h.client).map_or("?", |c| c.id.as_str());
    let node = sim.name(crate::protocol::Endpoint::Node(h.node));
    let ok = h.ok();
    let pending = h.end.is_none();
    let (status, detail) = match &h.result {
        None => ("pending".to_string(), None),
        Some(r) if r.ok => {
            let what = if r.read_only {
                let n = r.rows.len();
                [n.to_string().as_str(), if n == 1 { " row" } else { " rows" }].concat()
            } else {
                match r.lsn {
                    Some(l) => ["ok · lsn ", &l.to_string()].concat(),
                    None => "ok".to_string(),
                }
            };
            (what, read_preview(r))
        }
        Some(r) => ("error".to_string(), r.error.as_ref().map(ToString::to_string)),
    };
    let latency = h.end.map(|e| text::ms(e.saturating_sub(h.start)));
    html! {
        <li data-testid="history-item" data-op={i.to_string()} data-ok={if ok { "true" } else { "false" }}
            data-pending={pending.then_some("true")} data-highlight={lit.then_some("true")}
            class={classes!(if pending { "pending" } else if ok { "ok" } else { "err" }, lit.then_some("hl"))}>
            <div class="h-top">
                <span class="h-op">{ ["#", &i.to_string()].concat() }</span>
                <span class="h-who">{ client }{ " → " }{ node }</span>
                <span class="h-time">{ "@" }{ text::ms(h.start) }</span>
                <span class="h-status">{ if ok { "✓ " } else if pending { "… " } else { "✕ " } }{ status }</span>
                if let Some(l) = latency { <span class="h-lat" title="latency">{ l }</span> }
            </div>
            <code class="h-sql">{ h.sql.clone() }</code>
            if !flagged.is_empty() {
                <div class="h-flags">{ for flagged.iter().map(|k| html! { <span class="h-flag">{ *k }</span> }) }</div>
            }
            if let Some(dt) = detail { <div class={classes!("h-detail", (!ok).then_some("err"))}>{ dt }</div> }
        </li>
    }
}

/// A read's rows, in one short line.
fn read_preview(r: &crate::protocol::single_leader::OpResult) -> Option<String> {
    if !r.read_only || r.rows.is_empty() {
        return None;
    }
    let mut out = String::new();
    for (i, row) in r.rows.iter().take(4).enumerate() {
        if i > 0 {
            out.push_str("; ");
        }
        let cells: Vec<String> = row.iter().map(crate::log_methods::value_text).collect();
        out.push_str(&cells.join(", "));
    }
    if r.rows.len() > 4 {
        out.push_str("; …");
    }
    Some(text::truncate(&out, 120))
}
