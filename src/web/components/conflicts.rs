//! The conflict view (multi-leader): for one row, each leader's versions over time (every write of the row it
//! applied, when, with its version vector, the concurrent ones marked), what the row holds now on that leader (the
//! versions kept), the conflicts found and the acknowledged writes the strategy discarded. Opened from a conflict
//! finding; the data comes from `protocol::multi_leader::story` at the moment on screen.

use yew::prelude::*;

use crate::protocol::multi_leader::story::{self, RowStory};
use crate::protocol::Protocol;
use crate::web::state::{Action, Model};
use crate::web::text;

/// The "Conflict view" button for a conflict finding with operations `ops` (nothing outside multi-leader runs).
pub fn open_button(m: &Model, ops: &[usize], d: &Callback<Action>) -> Html {
    let Some(pb) = m.pb.as_ref() else { return Html::default() };
    let Protocol::MultiLeader(c) = &pb.sim().protocol else { return Html::default() };
    let Some(row) = story::row_of_finding(c, ops) else { return Html::default() };
    let label = ["Conflict view of ", &row.0, " ", &crate::log_methods::value_text(&row.1)].concat();
    html! {
        <button class="link-btn" data-testid="open-conflict" title={label.clone()}
                onclick={d.reform(move |_: MouseEvent| Action::ConflictView(Some(row.clone())))}>{ "conflict view" }</button>
    }
}

pub fn view(m: &Model, d: &Callback<Action>) -> Html {
    let (Some(pb), Some((table, key))) = (m.pb.as_ref(), m.conflict_row.as_ref()) else { return Html::default() };
    let Protocol::MultiLeader(c) = &pb.sim().protocol else { return Html::default() };
    let s: RowStory = story::row_story(c, table, key);
    html! {
        <section class="conflict-view" data-testid="conflict-view" data-row={s.row.clone()} data-strategy={s.strategy}
                 aria-label={["Conflict view of ", &s.row].concat()}>
            <header class="panel-head">
                <h3>{ "Row " }<code>{ s.row.clone() }</code><span class="muted">{ [" · conflict strategy ", s.strategy].concat() }</span></h3>
                <button class="link-btn" data-testid="close-conflict" onclick={d.reform(|_: MouseEvent| Action::ConflictView(None))}>{ "close" }</button>
            </header>
            <div class="cv-leaders">
                { for s.leaders.iter().map(|l| html! {
                    <div class="cv-leader" data-testid="conflict-leader" data-leader={l.leader.clone()}>
                        <h4>{ l.leader.clone() }<span class="muted">{ " now: " }</span><code>{ l.shown.clone() }</code></h4>
                        <table class="cv-steps">
                            <thead><tr><th>{ "applied" }</th><th>{ "write" }</th><th>{ "op" }</th><th>{ "row written" }</th>
                                <th title="The write's version vector: how many writes of each leader its writer had seen">{ "version vector" }</th><th></th></tr></thead>
                            <tbody>
                            { for l.steps.iter().map(|st| html! {
                                <tr class={classes!(st.concurrent.then_some("concurrent"), (!st.kept).then_some("gone"))}
                                    data-testid="conflict-step" data-concurrent={st.concurrent.to_string()} data-kept={st.kept.to_string()}>
                                    <td class="num">{ text::clock(st.at) }</td>
                                    <td><code>{ st.writer.clone() }</code></td>
                                    <td>{ st.op.map_or(String::new(), |o| ["#", &o.to_string()].concat()) }</td>
                                    <td><code>{ st.image.clone() }</code></td>
                                    <td><code>{ st.vv.clone() }</code></td>
                                    <td>{ match (st.concurrent, st.kept) {
                                        (true, true) => "concurrent · kept",
                                        (true, false) => "concurrent · discarded",
                                        (false, true) => "kept",
                                        (false, false) => "superseded",
                                    } }</td>
                                </tr>
                            }) }
                            </tbody>
                        </table>
                        if l.versions.len() > 1 {
                            <p class="cv-versions" data-testid="conflict-versions" data-count={l.versions.len().to_string()}>
                                { ["Kept side by side (", &l.versions.len().to_string(), " versions): "].concat() }
                                { for l.versions.iter().map(|(w, img, vv)| html! { <span class="cv-version"><code>{ [w.as_str(), " ", img, " ", vv].concat() }</code></span> }) }
                            </p>
                        }
                    </div>
                }) }
            </div>
            if !s.conflicts.is_empty() {
                <ul class="cv-conflicts">{ for s.conflicts.iter().map(|x| html! { <li>{ x.clone() }</li> }) }</ul>
            }
            <p class="cv-discarded" data-testid="conflict-discarded" data-count={s.discarded.len().to_string()}>
                if s.discarded.is_empty() {
                    { "Discarded by the strategy: nothing." }
                } else {
                    { "Discarded by the strategy: " }
                    { for s.discarded.iter().map(|(w, op, by)| html! {
                        <span class="cv-lost"><code>{ w.clone() }</code>{ op.map_or(String::new(), |o| [" (#", &o.to_string(), ")"].concat()) }{ " lost to " }<code>{ by.clone() }</code>{ "; " }</span>
                    }) }
                }
            </p>
        </section>
    }
}
