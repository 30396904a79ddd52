//! The node inspector: the selected node's state (tables, log tail, clock, buffers, error) and the faults a person
//! can inject into it. With nothing selected, a one-line-per-node overview to pick from.

use yew::prelude::*;

use crate::protocol::single_leader::{Node, Status};
use crate::scenario::{Command, CopyMethod, LogKind, Role};
use crate::view::{ClusterView, NodeView, TableView};
use crate::web::derive;
use crate::web::state::{Action, FailoverSetting, Model, Tab, TIMEOUTS_MS};
use crate::web::text;

use super::pages::{self, fact};

/// Rows shown per table before "… n more".
const MAX_ROWS: usize = 40;
/// Search-index words shown.
const MAX_TERMS: usize = 16;

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
        Some(n) => node_panel(n, v, m, heal, d),
        None => overview(m, v, heal, d),
    }
}

fn overview(m: &Model, v: &ClusterView, heal: Html, d: &Callback<Action>) -> Html {
    html! {
        <section class="panel inspector overview" aria-label="Nodes">
            <header class="panel-head">
                <h2>{ "Nodes" }</h2>
                { heal }
            </header>
            <p class="muted">{ "Click a node to inspect or crash it; click a link to cut it." }</p>
            { super::quorum::replica_table(m, d).unwrap_or_else(|| leader_table(v, d)) }
            { super::quorum::controls(m, d).unwrap_or_else(|| cluster_controls(m, d)) }
        </section>
    }
}

/// The overview's table under leader-based replication: each node's role, epoch, LSN and lag.
fn leader_table(v: &ClusterView, d: &Callback<Action>) -> Html {
    html! {
        <table class="grid overview">
            <thead><tr><th>{ "node" }</th><th>{ "role" }</th><th class="num" title="epoch (term)">{ "ep." }</th><th>{ "status" }</th><th class="num">{ "LSN" }</th><th class="num">{ "lag" }</th></tr></thead>
            <tbody>
                { for v.nodes.iter().map(|n| {
                    let id = n.id.clone();
                    let onclick = d.reform(move |_: MouseEvent| Action::Select(Some(id.clone())));
                    html! {
                        <tr class="pick" {onclick}>
                            <td><b>{ n.id.clone() }</b></td>
                            <td>
                                if n.candidate {
                                    <span class="role-pill electing" title="Standing for election">{ "candidate" }</span>
                                } else if n.synchronous {
                                    <span class="role-pill sync" title="Synchronous follower: the leader waits for it">{ "sync" }</span>
                                } else {
                                    { n.role.name() }
                                }
                            </td>
                            <td class="num">{ n.epoch }</td>
                            <td><span class={classes!("status", n.status.name())}>{ n.status.name() }</span></td>
                            <td class="num">{ n.lsn }</td>
                            <td class="num">{ lag_text(n) }</td>
                        </tr>
                    }
                }) }
            </tbody>
        </table>
    }
}

/// Add a follower, and the failover settings of the scenario.
/// With partitions, which replication group a new follower joins: it copies that group's leader only.
fn group_picker(m: &Model, s: &crate::scenario::Scenario, d: &Callback<Action>) -> Html {
    if s.partitions.is_empty() {
        return Html::default();
    }
    let chosen = m.add_group.clone().filter(|g| s.partitions.iter().any(|p| &p.id == g));
    let chosen = chosen.unwrap_or_else(|| s.partitions[0].id.clone());
    let onchange =
        d.reform(|e: Event| Action::AddGroup(e.target_unchecked_into::<web_sys::HtmlSelectElement>().value()));
    html! {
        <label title="Each partition is its own replication group: the new follower copies and follows that partition's leader, and holds that partition's rows only">
            { "into " }
            <select data-testid="add-group" aria-label="Partition the new follower joins" {onchange}>
                { for s.partitions.iter().map(|p| html! {
                    <option value={p.id.clone()} selected={p.id == chosen}>{ p.id.clone() }</option>
                }) }
            </select>
        </label>
    }
}

/// Why the page offers no planned failover with several leaders (the core ignores it).
const MULTI_LEADER_NO_FAILOVER: &str =
    "Several leaders: planned failover is not supported in this version (each datacenter keeps its leader)";
/// Why the page offers no new follower with several leaders (the core refuses add_node).
const MULTI_LEADER_NO_ADD: &str = "Several leaders: adding a node is not supported in this version";

fn cluster_controls(m: &Model, d: &Callback<Action>) -> Html {
    let Some(s) = m.scenario() else { return Html::default() };
    let ended = m.at_end();
    let ml = s.multi_leader.is_some();
    let f = s.failover;
    let why_ended = "The run has ended: scrub back or restart first";
    let on_auto = d.reform(|e: Event| {
        Action::Failover(FailoverSetting::Auto(e.target_unchecked_into::<web_sys::HtmlInputElement>().checked()))
    });
    let on_epochs = d.reform(|e: Event| {
        Action::Failover(FailoverSetting::Epochs(e.target_unchecked_into::<web_sys::HtmlInputElement>().checked()))
    });
    let on_timeout = d.reform(|e: Event| {
        let v = e.target_unchecked_into::<web_sys::HtmlSelectElement>().value();
        Action::Failover(FailoverSetting::TimeoutMs(v.parse().unwrap_or(500)))
    });
    let mut timeouts: Vec<u64> = TIMEOUTS_MS.to_vec();
    if !timeouts.contains(&f.timeout_ms) {
        timeouts.push(f.timeout_ms);
        crate::sql::sort_values(&mut timeouts);
    }
    html! {
        <div class="cluster-controls">
            if ml {
                <div class="control-row add" role="group" aria-label="Add a follower">
                    <span class="c-label">{ "Add follower" }</span>
                    <span class="muted refused" data-testid="add-refused">{ MULTI_LEADER_NO_ADD }</span>
                </div>
            } else {
            <div class="control-row add" role="group" aria-label="Add a follower">
                <span class="c-label" title="A new node joins the cluster now and catches up with the leader">{ "Add follower" }</span>
                <button class="btn" data-testid="add-snapshot" disabled={ended}
                        title={if ended { why_ended } else { "Correct: copy a consistent snapshot tied to a log position, then fetch everything after it" }}
                        onclick={d.reform(|_: MouseEvent| Action::AddFollower(CopyMethod::Snapshot))}>{ "from snapshot" }</button>
                <button class="btn" data-testid="add-file-copy" disabled={ended}
                        title={if ended { why_ended } else { "Wrong: copy the leader's data files while writes go on (an inconsistent copy)" }}
                        onclick={d.reform(|_: MouseEvent| Action::AddFollower(CopyMethod::FileCopy))}>{ "by copying files" }</button>
                { group_picker(m, s, d) }
            </div>
            }
            <div class="control-row settings" role="group" aria-label="Failover settings" data-testid="failover-settings">
                <span class="c-label">{ "Failover" }
                    <button class="link-btn c-link" data-testid="to-sweep" title="The Metrics tab runs this scenario at several timeouts"
                            onclick={d.reform(|_: MouseEvent| Action::SetTab(Tab::Metrics))}>{ "compare timeouts →" }</button>
                </span>
                <label title="Followers (or the controller) notice a silent leader by timeout and elect a new one">
                    <input type="checkbox" data-testid="auto-failover" checked={f.auto} onchange={on_auto} />{ " automatic" }
                </label>
                <label title="Every leader-era message carries the leader's epoch; a node that sees a newer epoch steps down">
                    <input type="checkbox" data-testid="epochs" checked={f.epochs} onchange={on_epochs} />{ " epochs" }
                </label>
                <label title="How long followers wait without a heartbeat before they declare the leader dead">
                    { "timeout " }
                    <select data-testid="failover-timeout" onchange={on_timeout} aria-label="Failover timeout">
                        { for timeouts.iter().map(|t| html! {
                            <option value={t.to_string()} selected={*t == f.timeout_ms}>{ [t.to_string().as_str(), " ms"].concat() }</option>
                        }) }
                    </select>
                </label>
            </div>
        </div>
    }
}

fn lag_text(n: &NodeView) -> String {
    if n.lag_records == 0 {
        "–".to_string()
    } else if n.lag_us == 0 {
        n.lag_records.to_string()
    } else {
        [&n.lag_records.to_string(), " (", &text::ms(n.lag_us), ")"].concat()
    }
}

fn node_panel(n: &NodeView, v: &ClusterView, m: &Model, heal: Html, d: &Callback<Action>) -> Html {
    let ended = m.at_end();
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
    // Multi-leader: the leader of the node's own datacenter, and its LSN.
    let ml = super::datacenters::cluster(m).is_some();
    let failover_block = if ml { Some(MULTI_LEADER_NO_FAILOVER) } else { derive::failover_block(n.role, s, ended) };
    let real_leader = if ml { super::datacenters::group_leader(m, &n.id) } else { m.leader_id() };
    let leader_lsn = if ml { n.lsn + n.lag_records } else { v.leader_lsn };
    let drift = if n.clock_drift_ppm == 0 {
        String::new()
    } else {
        [", drift ", &n.clock_drift_ppm.to_string(), " ppm"].concat()
    };
    let clock = [if n.clock_offset_ms >= 0 { "+" } else { "" }, &n.clock_offset_ms.to_string(), " ms", &drift].concat();
    let sim_node = m.pb.as_ref().and_then(|pb| pb.sim().protocol.single_leader()?.nodes.iter().find(|x| x.id == n.id));
    let database = matches!(n.role, Role::Leader | Role::Follower);
    let format = sim_node.map_or(1, |x| x.storage_format);
    let to_format = if format == 1 { 2 } else { 1 };
    let upgrade = {
        let id = id.clone();
        d.reform(move |_: MouseEvent| Action::Do(Command::Upgrade { node: id.clone(), format: to_format }))
    };
    // The replicator reads no log of its own, and a leaderless replica has none: epochs, LSNs and buffers mean
    // nothing for them (a replica's versions and hints are its tables).
    let log_facts = !matches!(n.role, Role::Replicator | Role::Replica);
    let wal = m.scenario().is_some_and(|s| s.replication.log == LogKind::Wal);
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
                if n.role == Role::Follower {
                    <button class="btn wide half" data-testid="failover-to" disabled={failover_block.is_some()}
                            title={failover_block.unwrap_or("Planned failover: the leader stops taking writes, hands everything it has to this follower, and this follower leads a new epoch")}
                            onclick={act(Command::FailoverTo)}>{ "Fail over to this node" }</button>
                    if ml {
                        <span class="muted refused" data-testid="failover-refused">{ MULTI_LEADER_NO_FAILOVER }</span>
                    }
                }
                if database {
                    <button class={classes!("btn", "wide", "upgrade", (n.role == Role::Follower).then_some("half"))} data-testid="upgrade"
                            data-format={to_format.to_string()} disabled={ended}
                            title={why.unwrap_or(if to_format == 2 { "Upgrade to storage format 2: a rolling upgrade's step. The node restarts on the new format and rewrites its pages" } else { "Back to storage format 1: the node restarts on the old format and rewrites its pages" })}
                            onclick={upgrade}>{ if to_format == 2 { "Upgrade to format 2" } else { "Back to format 1" } }</button>
                }
            </div>
            if let Some(e) = &n.error {
                <p class="node-error" role="alert" data-testid="node-error"><b>{ "Replication stopped: " }</b>{ e.clone() }</p>
            }
            <dl class="facts">
                <div class={classes!((n.role.name().len() > 8).then_some("span2"))}><dt>{ "role" }</dt><dd>{ n.role.name() }</dd></div>
                if log_facts {
                <div title="The newest epoch (term) this node knows"><dt>{ "epoch" }</dt><dd>{ n.epoch }</dd></div>
                }
                if n.role != Role::Replica {
                <div title="Who this node believes leads"><dt>{ "follows" }</dt>
                    <dd class={classes!(n.follows.as_deref().is_some_and(|l| Some(l) != real_leader).then_some("stale"))}>
                        { n.follows.clone().unwrap_or_else(|| if n.role == Role::Leader { "itself".into() } else { "–".into() }) }
                    </dd></div>
                }
                if log_facts {
                <div title="This node's log position / the leader's"><dt>{ "LSN" }</dt><dd>{ n.lsn }{ if real_leader.is_some() { [" / ", &leader_lsn.to_string()].concat() } else { " · no leader".to_string() } }</dd></div>
                <div><dt>{ "lag" }</dt><dd>{ if n.lag_records == 0 { "none".to_string() } else { [n.lag_records.to_string().as_str(), " · ", &text::ms(n.lag_us)].concat() } }</dd></div>
                }
                <div><dt>{ "clock" }</dt><dd>{ clock }</dd></div>
                if log_facts {
                <div title="Entries received but not applied yet (out of order, or an apply delay)"><dt>{ "buffered" }</dt><dd>{ n.buffered }</dd></div>
                <div title="Client writes the leader holds until followers confirm (sync / semi-sync)"><dt>{ "waiting" }</dt><dd>{ n.waiting_writes }</dd></div>
                }
                if database {
                    <div title="The storage format this node's engine writes its pages in"><dt>{ "format" }</dt><dd data-testid="node-format">{ ["f", &format.to_string()].concat() }</dd></div>
                }
            </dl>
            if n.candidate {
                <p class="node-note electing">{ "Standing for election in epoch " }{ n.epoch }{ ": asking the other replicas for their votes." }</p>
            }
            if n.synchronous {
                <p class="node-note sync">{ "Synchronous follower: the leader acknowledges a write only after this node has it." }</p>
            }
            if let Some(j) = &n.joining {
                <p class="node-note joining">{ "Joining: " }{ derive::joining_label(j) }</p>
            }
            <div class="scroll">
                { super::datacenters::inspector(m, &v.cuts, &n.id, d) }
                if wal && n.halted_on_format.is_some() {
                    <p class="node-note why" data-testid="wal-format-help">{ text::WAL_FORMAT_HELP }</p>
                }
                if let Some(x) = sim_node.filter(|_| n.role == Role::Replicator) { { replicator_view(x, m) } }
                if n.role == Role::Replica { { super::quorum::merkle_view(m, &n.id) } }
                if let Some(x) = sim_node.filter(|_| n.role == Role::Cdc) { { cdc_view(x) } }
                { for n.tables.iter().map(table_view) }
                if let Some(x) = sim_node.filter(|_| database) { { pages::view(m, x, d) } }
                // A leaderless replica keeps versions, not a log: nothing to show there.
                if n.role != Role::Replica {
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

/// Trigger-based replication's replicator: how often it polled, what it read, what every target confirmed.
fn replicator_view(x: &Node, m: &Model) -> Html {
    let r = &x.replicator;
    let name = |i: usize| {
        m.pb.as_ref()
            .and_then(|pb| pb.sim().protocol.single_leader()?.nodes.get(i))
            .map_or(String::new(), |n| n.id.clone())
    };
    let targets = TableView {
        name: "targets".into(),
        columns: vec!["node".into(), "acked change".into(), "at leader LSN".into()],
        rows: r
            .targets
            .iter()
            .map(|t| {
                let a = r.acked.get(t);
                vec![
                    name(*t),
                    a.map_or("–".into(), |a| ["#", &a.0.to_string()].concat()),
                    a.map_or("–".into(), |a| a.1.to_string()),
                ]
            })
            .collect(),
    };
    html! {
        <div class="role-block" data-testid="replicator">
            <h3>{ "Replicator" }</h3>
            <p class="help">{ text::REPLICATOR_HELP }</p>
            <dl class="facts">
                { fact("polls", r.polls.to_string(), "Times it asked the leader for new changes") }
                { fact("empty polls", r.empty_polls.to_string(), "Polls that found nothing new: the cost of polling") }
                { fact("changes read", r.changes_read.to_string(), "Rows of the changes table read from the leader") }
                { fact("purged ≤", r.purged.to_string(), "Changes up to this number are deleted from the leader's _changes table") }
                { fact("waiting", (if r.waiting_since.is_some() { "yes" } else { "no" }).to_string(), "A poll is out and not answered yet") }
            </dl>
            { table_view(&targets) }
        </div>
    }
}

/// A CDC consumer's search index: its documents, and the first few words with the keys that contain them.
fn cdc_view(x: &Node) -> Html {
    let Some(ix) = &x.search else { return Html::default() };
    let docs = TableView {
        name: ["documents (", &ix.table, ".", &ix.column, ")"].concat(),
        columns: vec!["key".into(), ix.column.clone()],
        rows: ix.docs.iter().map(|(k, t)| vec![k.clone(), t.clone()]).collect(),
    };
    let words = TableView {
        name: ["words (", &ix.terms.len().to_string(), ")"].concat(),
        columns: vec!["word".into(), "keys".into()],
        rows: ix
            .terms
            .iter()
            .take(MAX_TERMS)
            .map(|(w, keys)| vec![w.clone(), keys.iter().take(8).cloned().collect::<Vec<_>>().join(", ")])
            .collect(),
    };
    html! {
        <div class="role-block" data-testid="search-index">
            <h3>{ "Search index" }</h3>
            <p class="help">{ text::CDC_HELP }</p>
            { table_view(&docs) }
            { table_view(&words) }
        </div>
    }
}
