//! The node inspector: the selected node's state (tables, log tail, clock, buffers, error) and the faults a person
//! can inject into it. With nothing selected, a one-line-per-node overview to pick from.

use yew::prelude::*;

use crate::node::Status;
use crate::scenario::Command;
use crate::view::{ClusterView, NodeView, TableView};
use crate::web::state::{Action, Model};
use crate::web::text;

/// Rows shown per table before "… n more".
const MAX_ROWS: usize = 40;

pub fn view(m: &Model, v: &ClusterView, d: &Callback<Action>) -> Html {
    let node = m.selected.as_ref().and_then(|id| v.nodes.iter().find(|n| &n.id == id));
    let any_cut = !v.cuts.is_empty();
    let heal = html! {
        if any_cut {
            <button class="btn warn" data-testid="heal-all" onclick={d.reform(|_: MouseEvent| Action::Do(Command::HealAll))}
                    title="Reconnect every cut link">{ "Heal all links" }</button>
        }
    };
    match node {
        Some(n) => node_panel(n, v, m.at_end(), heal, d),
        None => overview(v, heal, d),
    }
}

fn overview(v: &ClusterView, heal: Html, d: &Callback<Action>) -> Html {
    html! {
        <section class="panel inspector overview" aria-label="Nodes">
            <header class="panel-head">
                <h2>{ "Nodes" }</h2>
                { heal }
            </header>
            <p class="muted">{ "Click a node to inspect its tables, log and clock, and to crash or pause it. Click a link to cut it." }</p>
            <table class="grid overview">
                <thead><tr><th>{ "node" }</th><th>{ "role" }</th><th>{ "status" }</th><th class="num">{ "LSN" }</th><th class="num">{ "lag" }</th></tr></thead>
                <tbody>
                    { for v.nodes.iter().map(|n| {
                        let id = n.id.clone();
                        let onclick = d.reform(move |_: MouseEvent| Action::Select(Some(id.clone())));
                        html! {
                            <tr class="pick" {onclick}>
                                <td><b>{ n.id.clone() }</b></td>
                                <td>{ n.role }</td>
                                <td><span class={classes!("status", n.status.name())}>{ n.status.name() }</span></td>
                                <td class="num">{ n.lsn }</td>
                                <td class="num">{ lag_text(n) }</td>
                            </tr>
                        }
                    }) }
                </tbody>
            </table>
        </section>
    }
}

fn lag_text(n: &NodeView) -> String {
    if n.lag_records == 0 {
        "–".to_string()
    } else {
        [&n.lag_records.to_string(), " (", &text::ms(n.lag_us), ")"].concat()
    }
}

fn node_panel(n: &NodeView, v: &ClusterView, ended: bool, heal: Html, d: &Callback<Action>) -> Html {
    let id = n.id.clone();
    let act = |c: fn(String) -> Command| {
        let id = id.clone();
        d.reform(move |_: MouseEvent| Action::Do(c(id.clone())))
    };
    let pause = {
        let id = id.clone();
        d.reform(move |_: MouseEvent| Action::Do(Command::Pause { node: id.clone(), for_ms: None }))
    };
    let s = n.status;
    let why = ended.then_some("The run has ended: scrub back or restart first");
    let drift = if n.clock_drift_ppm == 0 {
        String::new()
    } else {
        [", drift ", &n.clock_drift_ppm.to_string(), " ppm"].concat()
    };
    let clock = [if n.clock_offset_ms >= 0 { "+" } else { "" }, &n.clock_offset_ms.to_string(), " ms", &drift].concat();
    html! {
        <section class="panel inspector" aria-label={["Node ", &n.id].concat()}>
            <header class="panel-head">
                <h2>
                    <button class="link-btn back" title="Back to all nodes" onclick={d.reform(|_: MouseEvent| Action::Select(None))}>{ "Nodes" }</button>
                    { " / " }{ n.id.clone() }
                    <span class={classes!("status", s.name())}>{ s.name() }</span>
                </h2>
                { heal }
            </header>
            <div class="actions">
                <button class="btn" data-testid="crash" disabled={ended || s == Status::Crashed} title={why.unwrap_or("Crash: lose everything not written to disk; stop answering")} onclick={act(Command::Crash)}>{ "Crash" }</button>
                <button class="btn" data-testid="restart-node" disabled={ended || s != Status::Crashed} title={why.unwrap_or("Restart a crashed node: it recovers from its log and catches up")} onclick={act(Command::Restart)}>{ "Restart" }</button>
                <button class="btn" data-testid="pause-node" disabled={ended || !matches!(s, Status::Running | Status::Halted)} title={why.unwrap_or("Pause the process (a GC pause, a stalled VM): messages wait for it")} onclick={pause}>{ "Pause" }</button>
                <button class="btn" data-testid="resume-node" disabled={ended || s != Status::Paused} title={why.unwrap_or("Resume: it handles everything that arrived meanwhile")} onclick={act(Command::Resume)}>{ "Resume" }</button>
            </div>
            if let Some(e) = &n.error {
                <p class="node-error" role="alert"><b>{ "Replication stopped: " }</b>{ e.clone() }</p>
            }
            <dl class="facts">
                <div><dt>{ "role" }</dt><dd>{ n.role }</dd></div>
                <div><dt>{ "LSN" }</dt><dd>{ n.lsn }{ " / " }{ v.leader_lsn }</dd></div>
                <div><dt>{ "lag" }</dt><dd>{ if n.lag_records == 0 { "none".to_string() } else { [n.lag_records.to_string().as_str(), " · ", &text::ms(n.lag_us)].concat() } }</dd></div>
                <div><dt>{ "clock" }</dt><dd>{ clock }</dd></div>
                <div title="Entries received but not applied yet (out of order, or an apply delay)"><dt>{ "buffered" }</dt><dd>{ n.buffered }</dd></div>
                <div title="Client writes the leader holds until followers confirm (sync / semi-sync)"><dt>{ "waiting" }</dt><dd>{ n.waiting_writes }</dd></div>
            </dl>
            <div class="scroll">
                { for n.tables.iter().map(table_view) }
                <h3>{ "Log tail" }</h3>
                if n.log_tail.is_empty() {
                    <p class="muted">{ "(empty log)" }</p>
                } else {
                    <ol class="log">
                        { for n.log_tail.iter().map(|(lsn, desc)| html! {
                            <li><span class="lsn">{ lsn }</span><code>{ desc.clone() }</code></li>
                        }) }
                    </ol>
                }
            </div>
        </section>
    }
}

fn table_view(t: &TableView) -> Html {
    let skip = t.rows.len().saturating_sub(MAX_ROWS);
    html! {
        <div class="table-block">
            <h3>{ t.name.clone() }<span class="muted">{ [" · ", &t.rows.len().to_string(), if t.rows.len() == 1 { " row" } else { " rows" }].concat() }</span></h3>
            <div class="table-scroll">
                <table class="grid data">
                    <thead><tr>{ for t.columns.iter().map(|c| html! { <th>{ c.clone() }</th> }) }</tr></thead>
                    <tbody>
                        if skip > 0 {
                            <tr><td class="muted" colspan={t.columns.len().max(1).to_string()}>{ ["… ", &skip.to_string(), " earlier rows"].concat() }</td></tr>
                        }
                        { for t.rows.iter().skip(skip).map(|r| html! {
                            <tr>{ for r.iter().map(|c| html! { <td>{ text::truncate(c, 40) }</td> }) }</tr>
                        }) }
                    </tbody>
                </table>
            </div>
        </div>
    }
}
