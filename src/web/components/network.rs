//! The Network tab: the delay, loss, duplication and reordering every message meets, and links with settings of
//! their own (a replica in another region, a flaky cable). Every change is a timed command at the current moment
//! (`{"network": …}`), so it acts from now on, shows on the timeline and replays from a share link.

use yew::prelude::*;

use crate::scenario::{Command, LinkSpec};
use crate::web::state::{Action, Model};
use crate::web::text;
use crate::world::net::edit::{pct, Field};

use super::num_input::NumInput;

pub fn view(m: &Model, d: &Callback<Action>) -> Html {
    let Some(pb) = m.pb.as_ref() else { return Html::default() };
    let sim = pb.sim();
    let spec = sim.net.spec().clone();
    let ended = pb.now() >= pb.until();
    // A change: the whole new setting as one timed command.
    // `link`: an entry of `spec.links`, or None for the network's own settings.
    let apply = |link: Option<usize>, f: Field| {
        let spec = spec.clone();
        d.reform(move |e: Event| {
            let input = e.target_unchecked_into::<web_sys::HtmlInputElement>();
            let typed = input.value();
            let changed = match link {
                Some(i) => f.set_link(&spec, i, &typed),
                None => f.set_global(&spec, &typed),
            };
            match changed {
                Some(s) => Action::Do(Command::SetNetwork(s)),
                None => {
                    // Not a number (an emptied field): show the setting again, unchanged.
                    input.set_value(&f.shown(&spec, link));
                    Action::FlushHash
                }
            }
        })
    };
    let global = |f: Field, test: &'static str, label: &'static str| {
        let onchange = apply(None, f);
        let (max, step) = f.limits();
        html! {
            <label class="param">
                <span class="n-lab">{ label }</span>
                <NumInput test={test} min="0" max={max} step={step} value={f.shown(&spec, None)} {onchange} disabled={ended} />
                <span class="muted">{ if f.is_percent() { "%" } else { "ms" } }</span>
            </label>
        }
    };

    // Endpoints a new link entry can join: every node and client.
    let mut names: Vec<&str> = (0..sim.protocol.len()).map(|i| sim.name(crate::protocol::Endpoint::Node(i))).collect();
    names.extend(sim.clients.iter().map(|c| c.id.as_str()));
    let mut pairs: Vec<(String, String)> = Vec::new();
    for (i, a) in names.iter().enumerate() {
        for b in &names[i + 1..] {
            if !spec.links.iter().any(|l| l.both_ways && l.applies(a, b)) {
                pairs.push((a.to_string(), b.to_string()));
            }
        }
    }
    let on_add = {
        let spec = spec.clone();
        move |(a, b): (String, String)| {
            let mut s = spec.clone();
            s.links.push(LinkSpec {
                from: a.clone(),
                to: b.clone(),
                both_ways: true,
                latency_ms: Some((spec.latency_min_ms, spec.latency_max_ms)),
                loss: None,
                duplicate: None,
                reorder: None,
            });
            Action::Do(Command::SetNetwork(s))
        }
    };

    // Directed cuts now, and the one-way cuts a person can still make.
    let mut cut: Vec<(&str, &str)> = Vec::new();
    let mut uncut: Vec<(String, String)> = Vec::new();
    for a in &names {
        for b in names.iter().filter(|b| *b != a) {
            if sim.net.link_state(a, b).0 {
                cut.push((a, b));
            } else {
                uncut.push((a.to_string(), b.to_string()));
            }
        }
    }
    let on_cut =
        |(a, b): (String, String)| Action::Do(Command::Partition { groups: vec![vec![a], vec![b]], one_way: true });
    // A link cut both ways is listed once.
    let listed =
        cut.iter().enumerate().filter(|(i, (a, b))| cut.iter().position(|x| *x == (*b, *a)).is_none_or(|j| j > *i));
    let cut_rows = listed.map(|(_, (a, b))| {
        let (a2, b2) = (a.to_string(), b.to_string());
        let on_heal = d.reform(move |_: MouseEvent| Action::Do(Command::HealLink(a2.clone(), b2.clone())));
        let both = cut.contains(&(*b, *a));
        html! {
            <div class="net-link net-cut" data-testid="net-cut" data-from={a.to_string()} data-to={b.to_string()}>
                <span class="d-id">{ [*a, if both { " — " } else { " → " }, b].concat() }</span>
                <span class="muted">{ if both { "cut both ways".to_string() } else { ["cut one way: ", b, " still reaches ", a].concat() } }</span>
                <button class="btn" data-testid="net-heal" onclick={on_heal} disabled={ended}
                        title={["Heal the link between ", *a, " and ", b, " (both directions)"].concat()}>{ "heal" }</button>
            </div>
        }
    });
    let on_heal_all = d.reform(|_: MouseEvent| Action::Do(Command::HealAll));

    let link_rows = spec.links.iter().enumerate().map(|(i, l)| {
        let field = |f: Field, label: &'static str| {
            let onchange = apply(Some(i), f);
            let (max, step) = f.limits();
            html! {
                <NumInput class="d-num" test={["link-", label].concat()} min="0" max={max} step={step}
                       value={f.shown(&spec, Some(i))} {onchange} disabled={ended}
                       label={[label, " of link ", &l.name(), if f.is_percent() { " (%)" } else { " (ms)" }].concat()} />
            }
        };
        let on_remove = {
            let spec = spec.clone();
            d.reform(move |_: MouseEvent| {
                let mut s = spec.clone();
                if i < s.links.len() {
                    s.links.remove(i);
                }
                Action::Do(Command::SetNetwork(s))
            })
        };
        let extra: Vec<String> = [("duplicate", l.duplicate), ("reorder", l.reorder)]
            .iter()
            .filter_map(|(k, v)| v.map(|v| [k, " ", &pct(v), "%"].concat()))
            .collect();
        html! {
            <div class="net-link" data-testid="net-link" data-link={l.name()}>
                <span class="d-id">{ if l.both_ways { [l.from.as_str(), " — ", &l.to].concat() } else { [l.from.as_str(), " → ", &l.to].concat() } }</span>
                { field(Field::Min, "min") }
                <span class="muted">{ "–" }</span>
                { field(Field::Max, "max") }
                <span class="muted">{ "ms · loss" }</span>
                { field(Field::Loss, "loss") }
                <span class="muted">{ "%" }</span>
                if !extra.is_empty() { <span class="muted small">{ extra.join(", ") }</span> }
                <button class="btn icon-btn" data-testid="net-link-remove" onclick={on_remove} disabled={ended}
                        title={["Remove the settings of ", l.name().as_str(), ": it goes back to the network's"].concat()}>{ "×" }</button>
            </div>
        }
    });

    html! {
        <section class="panel lag-panel net-panel" data-testid="network-panel" aria-label="Network">
            <header class="panel-head">
                <h2>{ "Network" }<span class="muted">{ [" at ", &text::clock(m.now())].concat() }</span></h2>
            </header>
            <div class="scroll">
                <div class="lag-block">
                    <h3 class="c-label">{ "Every message" }</h3>
                    <p class="muted small">{ "A message takes a delay drawn evenly between min and max. Each link keeps order, like a TCP connection: a message never arrives before one sent earlier on the same link (messages on different links may overtake each other). Loss drops it; duplicate delivers it twice; reorder holds it back by up to another max, out of its link's order, so a later message can overtake it. A change acts from this moment on and is kept in the share link." }</p>
                    { global(Field::Min, "net-min", "delay at least") }
                    { global(Field::Max, "net-max", "delay at most") }
                    { global(Field::Loss, "net-loss", "lose") }
                    { global(Field::Duplicate, "net-duplicate", "duplicate") }
                    { global(Field::Reorder, "net-reorder", "reorder") }
                </div>
                <div class="lag-block" data-testid="net-links">
                    <h3 class="c-label">{ "Links with settings of their own" }</h3>
                    <p class="muted small">{ "A replica in another region sits behind a long link; a bad cable loses messages on one link only. Links listed here (both directions) override the settings above. Cuts are made by clicking a link on the cluster view." }</p>
                    if spec.links.is_empty() {
                        <p class="muted small">{ "None: every link behaves alike." }</p>
                    }
                    { for link_rows }
                    { picker("give a link its own settings", "net-add-link", "choose a link…", " — ", pairs, ended, d, on_add) }
                </div>
                <div class="lag-block" data-testid="net-cuts">
                    <h3 class="c-label">{ "Cuts" }</h3>
                    <p class="muted small">{ "Clicking a link on the cluster cuts it both ways. A link can also fail in one direction only (a one-way partition: a firewall rule on one side, a broken route back), so that one side keeps hearing the other but cannot answer." }</p>
                    if cut.is_empty() {
                        <p class="muted small">{ "No link is cut." }</p>
                    }
                    { for cut_rows }
                    { picker("cut one way", "net-cut-one-way", "choose a direction…", " → ", uncut, ended, d, on_cut) }
                    if cut.len() > 1 {
                        <button class="btn" data-testid="net-heal-all" onclick={on_heal_all} disabled={ended}>{ "Heal every link" }</button>
                    }
                </div>
            </div>
        </section>
    }
}

/// A select of endpoint pairs under a placeholder; picking one dispatches what `act` makes of it.
#[allow(clippy::too_many_arguments)]
fn picker(
    label: &'static str,
    test: &'static str,
    placeholder: &'static str,
    sep: &'static str,
    pairs: Vec<(String, String)>,
    ended: bool,
    d: &Callback<Action>,
    act: impl Fn((String, String)) -> Action + 'static,
) -> Html {
    let options: Vec<Html> =
        pairs.iter().map(|(a, b)| html! { <option>{ [a.as_str(), sep, b].concat() }</option> }).collect();
    let disabled = ended || pairs.is_empty();
    let onchange = d.reform(move |e: Event| {
        let k = e.target_unchecked_into::<web_sys::HtmlSelectElement>().selected_index();
        match usize::try_from(k - 1).ok().and_then(|k| pairs.get(k)) {
            Some(pair) => act(pair.clone()),
            None => Action::FlushHash,
        }
    });
    html! {
        <label class="param">
            <span class="n-lab">{ label }</span>
            <select data-testid={test} {onchange} {disabled}>
                <option selected=true>{ placeholder }</option>
                { for options }
            </select>
        </label>
    }
}
