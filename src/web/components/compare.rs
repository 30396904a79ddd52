//! "Compare log methods" (DDIA 5.1): four panes, one per replication log method, running the same workload and
//! faults at the same moment. Each pane draws its cluster with the log records in flight written in the method's
//! own form (SQL text, page bytes in hex, row images, change-table rows), its figures, a verdict (do the replicas
//! match the leader?) and, where they do not, the differing rows side by side. A side column holds the lesson's
//! narration and the workload editor. One `pane` function draws all four. Under each drawing, buttons crash or restart
//! a node and cut or heal a link in that pane only (the playground's own commands); the grid listens for their clicks
//! once, so the panes stay plain elements from the builder below, with no callbacks of their own.

use yew::prelude::*;
use yew::virtual_dom::{AttrValue, VTag, VText};

use crate::check::RowDiff;
use crate::compare::{Verdict, METHODS};
use crate::log_methods::{hex_preview, value_text, LogRecord, MixedPart};
use crate::protocol::single_leader::{Payload, Status};
use crate::scenario::{Command, LogKind, Role};
use crate::sql::{RowChange, Value};
use crate::web::state::compare::{lessons, Facts};
use crate::web::state::{Action, CompareAction, Model};
use crate::web::text;
use crate::world::sim::Simulation;
use crate::world::trace::MsgKind;

use super::icons::kind_class;
use super::topbar;

/// Rows of one table shown per replica (the rest are counted).
const MAX_DIFF_ROWS: usize = 8;
/// Records listed under a drawing.
const MAX_RECORDS: usize = 3;

/// The method's name and what it ships, in a line.
fn about(log: LogKind) -> (&'static str, &'static str) {
    match log {
        LogKind::Statement => {
            ("Statement-based", "Ships the SQL text; each follower runs it again, with its own clock and RNG.")
        }
        LogKind::Wal => {
            ("Write-ahead log shipping", "Ships the bytes written into storage pages; followers copy them.")
        }
        LogKind::Logical => {
            ("Logical (row-based) log", "Ships each changed row's new values by primary key, then a commit.")
        }
        LogKind::Trigger => ("Trigger-based", "Triggers fill a changes table; a replicator polls it and copies rows."),
    }
}

pub fn view(m: &Model, d: &Callback<Action>) -> Html {
    let Some(c) = m.compare.as_ref() else { return Html::default() };
    let on_draft = d.reform(|e: InputEvent| {
        Action::Compare(CompareAction::SetDraft(e.target_unchecked_into::<web_sys::HtmlTextAreaElement>().value()))
    });
    let on_lesson =
        d.reform(|e: Event| Action::LoadLesson(e.target_unchecked_into::<web_sys::HtmlSelectElement>().value()));
    let same = m.scenario().is_some_and(|s| crate::web::state::compare::workload_text(s) == c.draft);
    html! {
        <div class="compare" data-testid="compare">
            <aside class="cmp-side">
                { topbar::narration(m, d, None) }
                if m.lesson.is_none() && m.scenario().is_some_and(|s| s.narration.is_some()) {
                    <p class="cmp-note muted">{ "This run differs from the library lesson: the narration describes the lesson's own workload." }</p>
                }
                <label class="field">
                    <span class="c-label">{ "Lessons about log methods" }</span>
                    <select data-testid="compare-lesson" onchange={on_lesson}>
                        if m.lesson.is_none_or(|l| !crate::library::COMPARE_LESSONS.contains(&l)) {
                            <option value="" selected=true disabled=true>{ "Pick a lesson…" }</option>
                        }
                        { for lessons(m).into_iter().map(|(name, title)| html! {
                            <option value={name} selected={m.lesson == Some(name)}>{ title.to_string() }</option>
                        }) }
                    </select>
                </label>
                if let Some(h) = &m.hint {
                    <p class="cmp-hint" role="status" data-testid="compare-hint">{ h.clone() }</p>
                }
                <div class="workload">
                    <label class="c-label" for="cmp-workload">{ "Workload" }</label>
                    <p class="muted small">{ "One SQL statement per line; start a line with " }<code>{ "bob:" }</code>{ " to send it from another client. Every method runs it." }</p>
                    <textarea id="cmp-workload" data-testid="workload" spellcheck="false" rows="7" value={c.draft.clone()} oninput={on_draft} />
                    if let Some(e) = &c.draft_error {
                        <p class="node-error" data-testid="workload-error" role="alert">{ "Not run: " }{ e.clone() }</p>
                    }
                    <div class="cmp-buttons">
                        <button class="btn primary" data-testid="run-again" onclick={d.reform(|_: MouseEvent| Action::Compare(CompareAction::Run))}
                                title="Run this workload from the start under all four methods">{ "Run again" }</button>
                        <button class="btn" data-testid="reset-workload" disabled={same}
                                onclick={d.reform(|_: MouseEvent| Action::Compare(CompareAction::ResetDraft))}>{ "Undo edits" }</button>
                    </div>
                </div>
                { legend() }
            </aside>
            <div class="cmp-grid" onclick={pane_clicks(d)}>
                { for METHODS.iter().enumerate().map(|(i, log)| pane(m, i, *log, c.facts.get(i).and_then(Option::as_ref))) }
            </div>
        </div>
    }
}

/// One listener for every pane's fault buttons: each says what it does in `data-` attributes.
fn pane_clicks(d: &Callback<Action>) -> Callback<MouseEvent> {
    let d = d.clone();
    Callback::from(move |e: MouseEvent| {
        let target = e.target_unchecked_into::<web_sys::Element>();
        let Ok(Some(b)) = target.closest("button[data-cmd]") else { return };
        let attr = |k: &str| b.get_attribute(k).unwrap_or_default();
        let Ok(i) = attr("data-pane").parse::<usize>() else { return };
        let (a, z) = (attr("data-a"), attr("data-b"));
        let command = match attr("data-cmd").as_str() {
            "crash" => Command::Crash(a),
            "restart" => Command::Restart(a),
            "cut" => Command::CutLink(a, z),
            "heal" => Command::HealLink(a, z),
            "clear" => return d.emit(Action::Compare(CompareAction::ClearPane(i))),
            _ => return,
        };
        d.emit(Action::Compare(CompareAction::PaneCommand(i, command)));
    })
}

/// What the tokens and highlights mean (static content, built once).
fn legend() -> Html {
    let mut o = Out::root("ul");
    o.a("class", "cmp-legend").a("aria-label", "Legend");
    for (kind, what) in [
        (MsgKind::Replicate, "a log record, labelled in the method's own form"),
        (MsgKind::Ack, "a replica confirming what it has applied"),
        (MsgKind::Fetch, "a request for records: a fetch, or the replicator's poll"),
        (MsgKind::Heartbeat, "the leader's heartbeat"),
        (MsgKind::Request, "a client's statement"),
    ] {
        o.open("li").open("svg").a("class", ["swatch ", kind_class(kind)].concat()).a("viewBox", "-8 -8 16 16");
        o.a("width", "16").a("height", "16").a("aria-hidden", "true");
        shape(&mut o, kind);
        o.close().t(what).close();
    }
    o.open("li").open("mark").a("class", "diff-swatch").t("0.42").close();
    o.t("a value that differs from the leader's").close();
    o.finish()
}

/// (glyph, class, headline) of a verdict: never colour alone.
fn verdict_text(v: &Verdict) -> (&'static str, &'static str, String) {
    match v {
        Verdict::Match => ("✓", "match", "Replicas match the leader".into()),
        Verdict::Diverged { rows } => {
            ("✗", "diverged", ["Replicas DIVERGE: ", &rows.to_string(), " rows differ"].concat())
        }
        Verdict::Halted { node, .. } => ("⚠", "halted", ["Replication HALTED on ", node].concat()),
        Verdict::Behind { node } => ("…", "behind", [node.as_str(), " is catching up"].concat()),
    }
}

/// Panes are built as Yew elements by a small builder (`open` an element, set attributes with `a`, add text with
/// `t`, `close` it) rather than `html!` trees: their buttons carry `data-` attributes and the grid's one listener
/// reads them, so no element needs a callback, and out-of-line builder calls cost a fraction
/// of the wasm that `html!` expands to. Data only ever becomes a text node or an attribute value, never markup: a
/// scenario's names and SQL cannot add elements to the page.
struct Out {
    /// The open elements, outermost first.
    open: Vec<VTag>,
}

impl Out {
    fn root(tag: &'static str) -> Out {
        Out { open: vec![VTag::new(tag)] }
    }

    /// Open a child element of the innermost open one.
    #[inline(never)]
    fn open(&mut self, tag: &'static str) -> &mut Out {
        self.open.push(VTag::new(tag));
        self
    }

    /// An attribute of the innermost open element.
    fn a(&mut self, key: &'static str, value: impl Into<AttrValue>) -> &mut Out {
        self.attr(key, value.into())
    }

    #[inline(never)]
    fn attr(&mut self, key: &'static str, value: AttrValue) -> &mut Out {
        if let Some(tag) = self.open.last_mut() {
            tag.add_attribute(key, value);
        }
        self
    }

    /// Text (a text node: never parsed as markup).
    #[inline(never)]
    fn t(&mut self, text: &str) -> &mut Out {
        if let Some(tag) = self.open.last_mut() {
            tag.add_child(VText::new(text.to_string()).into());
        }
        self
    }

    /// Close the innermost open element (the root stays open until `finish`).
    #[inline(never)]
    fn close(&mut self) -> &mut Out {
        if self.open.len() > 1 {
            if let (Some(child), Some(parent)) = (self.open.pop(), self.open.last_mut()) {
                parent.add_child(child.into());
            }
        }
        self
    }

    /// A coordinate attribute, to a tenth.
    fn n(&mut self, key: &'static str, v: f64) -> &mut Out {
        self.attr(key, num(v).into())
    }

    fn at(&mut self, x: f64, y: f64) -> &mut Out {
        self.attr("transform", ["translate(", &num(x), " ", &num(y), ")"].concat().into())
    }

    #[inline(never)]
    fn finish(mut self) -> Html {
        while self.open.len() > 1 {
            self.close();
        }
        self.open.pop().map_or_else(Html::default, Html::from)
    }
}

/// A number to a tenth, without a trailing `.0`.
#[inline(never)]
fn num(v: f64) -> String {
    let tenths = (v * 10.0).round() as i64;
    let a = tenths.unsigned_abs();
    let mut s = if tenths < 0 { "-".to_string() } else { String::new() };
    s.push_str(&(a / 10).to_string());
    if a % 10 != 0 {
        s.push('.');
        s.push(char::from(b'0' + (a % 10) as u8));
    }
    s
}

fn pane(m: &Model, i: usize, log: LogKind, facts: Option<&Facts>) -> Html {
    let (title, what) = about(log);
    let sim = m.pane_sim(i);
    let (glyph, class, headline) = match (&sim, facts) {
        (Err(_), _) => ("⚠", "failed", "Cannot run this scenario".to_string()),
        (_, Some(f)) => verdict_text(&f.figures.verdict),
        _ => ("…", "behind", "Working…".to_string()),
    };
    let mut o = Out::root("section");
    o.a("class", ["cmp-pane ", class].concat()).a("data-testid", ["pane-", log.name()].concat());
    o.a("data-verdict", class).a("aria-label", title);
    o.open("header").a("class", "cmp-head").open("h2").t(title).close();
    o.open("span").a("class", ["verdict ", class].concat()).a("data-testid", "verdict").a("role", "status");
    o.open("span").a("class", "v-glyph").a("aria-hidden", "true").t(glyph).close();
    o.t(&headline).close().close();
    o.open("p").a("class", "cmp-what").t(what).close();
    match sim {
        Err(e) => {
            o.open("p").a("class", "node-error").t(e).close();
        }
        Ok(sim) => {
            drawing(&mut o, sim);
            faults(&mut o, m, i, sim);
            records(&mut o, sim, log);
            if let Some(f) = facts {
                figures(&mut o, f, log);
                problems(&mut o, sim, f);
            }
        }
    }
    o.finish()
}

/// This pane's own faults: a button per node (crash, or restart when it is down) and per link from the leader, or
/// from the replicator to its targets (cut, or heal when it is cut); then what the person did here so far.
fn faults(o: &mut Out, m: &Model, i: usize, sim: &Simulation) {
    // The comparison runs single-leader replication logs only (compare::run_all refuses other protocols).
    let Some(cl) = sim.protocol.single_leader() else { return };
    let ended = m.at_end();
    let pane = i.to_string();
    let button = |o: &mut Out, cmd: &'static str, a: &str, b: &str, text: &str| {
        let testid =
            if b.is_empty() { ["pane-", cmd, "-", a].concat() } else { ["pane-", cmd, "-", a, "-", b].concat() };
        o.open("button").a("class", "btn tiny").a("data-cmd", cmd).a("data-pane", pane.clone());
        o.a("data-a", a.to_string()).a("data-b", b.to_string()).a("data-testid", testid);
        if ended {
            o.a("disabled", "").a("title", "The run has ended: scrub back to change what happens");
        }
        o.t(text).close();
    };
    // One line: what these buttons do, then the buttons (the pane's records and figures stay in view).
    o.open("div").a("class", "cmp-faults").a("data-testid", "pane-faults");
    o.open("span").a("class", "cmp-faults-why").a(
        "title",
        "A crash or a cut here happens in this pane's run only: the other three panes run on without it, so you can see how this log method copes.",
    );
    o.t("Crash or cut in this pane only (the other three run on):").close();
    let cluster = cl;
    let live: Vec<&crate::protocol::single_leader::Node> =
        cluster.nodes.iter().filter(|n| n.status != Status::Absent).collect();
    for n in &live {
        if n.status == Status::Crashed {
            button(o, "restart", &n.id, "", &["Restart ", &n.id].concat());
        } else {
            button(o, "crash", &n.id, "", &["Crash ", &n.id].concat());
        }
    }
    let mut pairs: Vec<(&str, &str)> = Vec::new();
    if let Some(l) = cluster.leader() {
        let l = cluster.nodes[l].id.as_str();
        pairs.extend(live.iter().filter(|n| n.id != l && n.role != Role::Replicator).map(|n| (l, n.id.as_str())));
    }
    for r in live.iter().filter(|n| n.role == Role::Replicator) {
        pairs.extend(r.replicator.targets.iter().map(|&t| (r.id.as_str(), cluster.nodes[t].id.as_str())));
        if let Some(l) = r.leader {
            pairs.push((r.id.as_str(), cluster.nodes[l].id.as_str()));
        }
    }
    let cut = |a: &str, b: &str| sim.net.link_state(a, b).0 || sim.net.link_state(b, a).0;
    // Links cut earlier stay on the list (to heal them) even when the leader has changed since.
    for a in &live {
        for b in &live {
            if a.index < b.index && cut(&a.id, &b.id) {
                pairs.push((a.id.as_str(), b.id.as_str()));
            }
        }
    }
    let mut seen: Vec<(&str, &str)> = Vec::new();
    for (a, b) in pairs {
        if seen.iter().any(|p| *p == (a, b) || *p == (b, a)) {
            continue;
        }
        seen.push((a, b));
        if cut(a, b) {
            button(o, "heal", a, b, &["Heal ", a, "–", b].concat());
        } else {
            button(o, "cut", a, b, &["Cut ", a, "–", b].concat());
        }
    }
    let own = m.compare.as_ref().and_then(|c| c.pane_commands.get(i)).filter(|c| !c.is_empty());
    if let Some(own) = own {
        o.open("p").a("class", "cmp-own").a("data-testid", "pane-own").t("Here only: ");
        for (k, c) in own.iter().enumerate() {
            if k > 0 {
                o.t(" · ");
            }
            o.t(&c.command.label()).t(" at ").t(&text::ms(c.at));
        }
        o.t(" ");
        o.open("button").a("class", "btn tiny").a("data-cmd", "clear").a("data-pane", pane.clone());
        o.a("data-testid", "pane-clear").t("Undo these").close();
        o.close();
    }
    o.close();
}

/// A box on the drawing: centre and half sizes.
type Spot = (f64, f64, f64, f64);

/// Where the ray from the box's centre in direction (ux, uy) leaves it.
fn edge(s: Spot, ux: f64, uy: f64) -> (f64, f64) {
    let tx = if ux.abs() > 1e-9 { s.2 / ux.abs() } else { f64::INFINITY };
    let ty = if uy.abs() > 1e-9 { s.3 / uy.abs() } else { f64::INFINITY };
    let t = tx.min(ty) + 3.0;
    (s.0 + ux * t, s.1 + uy * t)
}

/// `n` centres spread over [a, b].
fn spread(n: usize, a: f64, b: f64) -> impl Iterator<Item = f64> {
    (0..n).map(move |k| a + (b - a) * (k as f64 + 0.5) / n as f64)
}

/// A message kind's shape, small (the canvas's shapes, `icons::kind_shape`, at 60%).
fn shape(o: &mut Out, kind: MsgKind) {
    let polygon = |o: &mut Out, points: &'static str| {
        o.open("polygon").a("class", "shape").a("points", points).close();
    };
    let rect = |o: &mut Out, x: &'static str, y: &'static str, w: &'static str, h: &'static str| {
        o.open("rect").a("class", "shape").a("x", x).a("y", y).a("width", w).a("height", h).a("rx", "1").close();
    };
    match kind {
        MsgKind::Request => rect(o, "-4", "-4", "8", "8"),
        MsgKind::Response => {
            o.open("circle").a("class", "shape").a("r", "5").close();
        }
        MsgKind::Replicate => polygon(o, "0,-6 6,0 0,6 -6,0"),
        MsgKind::Ack => polygon(o, "0,-5.5 5.5,4 -5.5,4"),
        MsgKind::Heartbeat => {
            o.open("circle").a("class", "shape ring").a("r", "3.5").close();
        }
        MsgKind::Fetch => polygon(o, "0,5.5 5.5,-4 -5.5,-4"),
        MsgKind::Snapshot => rect(o, "-6", "-3.5", "12", "7"),
        MsgKind::Election => polygon(o, "0,-6 2,-2 6,-2 2.5,1 3.5,5.5 0,3 -3.5,5.5 -2.5,1 -6,-2 -2,-2"),
    }
}

/// The cluster, small: leaders on top, followers below, clients on the left, systems outside the database (the
/// trigger replicator, a CDC consumer) on the right; a line wherever records flow; every message in flight.
fn drawing(o: &mut Out, sim: &Simulation) {
    // The comparison runs single-leader replication logs only (compare::run_all refuses other protocols).
    let Some(cl) = sim.protocol.single_leader() else { return };
    const W: f64 = 460.0;
    const H: f64 = 108.0;
    let live: Vec<usize> = cl.nodes.iter().filter(|n| n.status != Status::Absent).map(|n| n.index).collect();
    let (top, rest): (Vec<usize>, Vec<usize>) = live.iter().partition(|&&i| cl.nodes[i].role == Role::Leader);
    let (bottom, side): (Vec<usize>, Vec<usize>) = rest.into_iter().partition(|&i| cl.nodes[i].is_replica());
    let right = if side.is_empty() { W - 30.0 } else { W - 112.0 };
    let mut spots: Vec<(&str, Spot)> = Vec::new();
    for (row, y) in [(&top, 20.0), (&bottom, 88.0)] {
        let xs = spread(row.len(), 96.0, right);
        spots.extend(row.iter().zip(xs).map(|(&i, x)| (cl.nodes[i].id.as_str(), (x, y, 40.0, 17.0))));
    }
    let side: Vec<&str> = side.iter().map(|&i| cl.nodes[i].id.as_str()).collect();
    let clients: Vec<&str> = sim.clients.iter().map(|c| c.id.as_str()).collect();
    for (names, x, hw, hh) in [(side, W - 48.0, 44.0, 17.0), (clients, 34.0, 30.0, 11.0)] {
        let ys = spread(names.len(), 2.0, H - 2.0);
        spots.extend(names.into_iter().zip(ys).map(|(id, y)| (id, (x, y, hw, hh))));
    }
    let spot = |name: &str| spots.iter().find(|(n, _)| *n == name).map(|(_, s)| *s);
    o.open("svg").a("class", "cmp-draw").a("viewBox", ["0 0 ", &num(W), " ", &num(H)].concat());
    o.a("preserveAspectRatio", "xMidYMid meet")
        .a("role", "img")
        .a("aria-label", "The cluster and the messages in flight");
    // Links: from the leader to everything downstream, from the replicator to its targets, clients to their node.
    let mut pairs: Vec<(&str, &str, &str)> = Vec::new();
    let hub = cl.leader().map(|l| cl.nodes[l].id.as_str());
    for &i in &live {
        let n = &cl.nodes[i];
        if let Some(h) = hub.filter(|h| *h != n.id) {
            pairs.push((h, &n.id, "wire"));
        }
        if n.role == Role::Replicator {
            pairs.extend(n.replicator.targets.iter().map(|&t| (n.id.as_str(), cl.nodes[t].id.as_str(), "wire")));
        }
    }
    pairs.extend(
        sim.clients
            .iter()
            .zip(&cl.clients)
            .map(|(c, s)| (c.id.as_str(), cl.nodes[s.target].id.as_str(), "wire client")),
    );
    for (a, b, class) in pairs {
        if let (Some(p), Some(q)) = (spot(a), spot(b)) {
            o.open("line").a("class", class).n("x1", p.0).n("y1", p.1).n("x2", q.0).n("y2", q.1).close();
        }
    }
    for c in &sim.clients {
        let Some(s) = spot(&c.id) else { continue };
        o.open("g").a("class", "cc").at(s.0, s.1);
        o.open("rect").n("x", -s.2).n("y", -s.3).n("width", 2.0 * s.2).n("height", 2.0 * s.3).a("rx", "10").close();
        o.open("text").a("y", "3.5").a("text-anchor", "middle").t(&text::truncate(&c.id, 8)).close().close();
    }
    let lead_lsn = cl.leader().map_or(0, |l| cl.nodes[l].lsn());
    for &i in &live {
        let n = &cl.nodes[i];
        let Some(s) = spot(&n.id) else { continue };
        let behind = n.is_replica() && n.lsn() < lead_lsn;
        let sub = match (n.status, n.role) {
            (Status::Halted, _) => "⚠ halted".to_string(),
            (Status::Crashed, _) => "✕ down".to_string(),
            (_, Role::Replicator) => ["polls ", &n.replicator.polls.to_string()].concat(),
            (_, Role::Cdc) => [&n.search.as_ref().map_or(0, |x| x.docs.len()).to_string(), " docs"].concat(),
            (_, r) if !r.is_replica() => r.name().to_string(),
            _ if behind => ["LSN ", &n.lsn().to_string(), " −", &(lead_lsn - n.lsn()).to_string()].concat(),
            _ => ["LSN ", &n.lsn().to_string()].concat(),
        };
        let class = ["cn ", n.role.name(), " ", n.status.name(), if behind { " behind" } else { "" }].concat();
        o.open("g").a("class", class).a("data-node", n.id.clone()).at(s.0, s.1);
        let title = [n.id.as_str(), " (", n.role.name(), ", ", n.status.name(), ")"].concat();
        let halted = n.halt_error.as_ref().map(|e| [": ", e.as_str()].concat()).unwrap_or_default();
        o.open("title").t(&(title + &halted)).close();
        o.open("rect").n("x", -s.2).n("y", -s.3).n("width", 2.0 * s.2).n("height", 2.0 * s.3).a("rx", "6").close();
        o.open("text").a("class", "cn-id").a("y", "-2.5").a("text-anchor", "middle").t(&n.id).close();
        o.open("text").a("class", "cn-sub").a("y", "10.5").a("text-anchor", "middle").t(&sub).close().close();
    }
    let now = sim.now();
    let mut tokens = Vec::new();
    for (id, msg) in sim.in_flight() {
        let (Some(a), Some(b)) = (spot(sim.name(msg.from)), spot(sim.name(msg.to))) else { continue };
        let (dx, dy) = (b.0 - a.0, b.1 - a.1);
        let len = (dx * dx + dy * dy).sqrt().max(1e-6);
        let (ux, uy) = (dx / len, dy / len);
        let ((sx, sy), (ex, ey)) = (edge(a, ux, uy), edge(b, -ux, -uy));
        let p = if msg.deliver <= msg.sent {
            1.0
        } else {
            (now.saturating_sub(msg.sent) as f64 / (msg.deliver - msg.sent) as f64).clamp(0.0, 1.0)
        };
        // Opposite directions travel on either side of the wire.
        let (nx, ny) = (-uy, ux);
        let (x, y) = (sx + (ex - sx) * p + nx * 6.0, sy + (ey - sy) * p + ny * 6.0);
        tokens.push((id, msg, x, y, ux, msg.payload.single_leader().and_then(form)));
    }
    // One label per record: the same entry on its way to every follower is written once, preferably on a token
    // that travels right (its label runs ahead of it, away from the clients).
    let mut order: Vec<usize> = (0..tokens.len()).collect();
    crate::sql::sort_stable_by(&mut order, |&i, &j| tokens[j].4.total_cmp(&tokens[i].4));
    let mut labelled: Vec<usize> = Vec::new();
    for i in order {
        if tokens[i].5.is_some() && !labelled.iter().any(|&k| tokens[k].5 == tokens[i].5) {
            labelled.push(i);
        }
    }
    for (i, (id, msg, x, y, ux, form)) in tokens.iter().enumerate() {
        let kind = msg.payload.kind();
        let class = ["msg ", kind_class(kind), if msg.doomed.is_some() { " doomed" } else { "" }].concat();
        o.open("g").a("class", class).a("data-kind", kind.name()).a("data-msg", id.to_string()).at(*x, *y);
        shape(o, kind);
        if let (Some(t), true) = (form, labelled.contains(&i)) {
            let (anchor, lx, ly) = if *ux > 0.2 {
                ("start", 9.0, 3.5)
            } else if *ux < -0.2 {
                ("end", -9.0, 3.5)
            } else {
                ("middle", 0.0, -9.0)
            };
            o.open("text").a("class", "cm-label").n("x", lx).n("y", ly).a("text-anchor", anchor);
            o.t(&text::truncate(t, 26)).close();
        }
        o.close();
    }
    o.close();
}

/// A replication message's records in the method's own form (None for other messages).
fn form(p: &Payload) -> Option<String> {
    let (first, n) = match p {
        Payload::Replicate { entries, .. } => (record_form(&entries.first()?.record), entries.len()),
        Payload::Changes { changes, .. } | Payload::ApplyChanges { changes, .. } => {
            (changes.first()?.describe(), changes.len())
        }
        _ => return None,
    };
    Some(if n > 1 { [first, " (+".into(), (n - 1).to_string(), ")".into()].concat() } else { first })
}

fn row_form(row: &[(String, Value)]) -> String {
    let cols: Vec<String> = row.iter().map(|(c, v)| [c.as_str(), "=", &value_text(v)].concat()).collect();
    ["{", &cols.join(", "), "}"].concat()
}

fn record_form(r: &LogRecord) -> String {
    let parts: Vec<String> = match r {
        LogRecord::Statement { statements } => return statements.join("; "),
        LogRecord::Wal { format, writes } => writes
            .iter()
            .map(|w| {
                let at =
                    ["f", &format.to_string(), " p", &w.page.to_string(), "+", &w.offset.to_string(), ": "].concat();
                at + &hex_preview(&w.bytes, 10)
            })
            .collect(),
        LogRecord::Logical { changes } => {
            changes.iter().map(change_form).chain(std::iter::once("commit".to_string())).collect()
        }
        // MIXED: each statement the way it travels, in order (row images marked with the unsafe statement).
        LogRecord::Mixed { parts } => parts
            .iter()
            .flat_map(|p| match p {
                MixedPart::Statement(s) => vec![s.clone()],
                MixedPart::Rows { changes, .. } => {
                    changes.iter().map(|c| ["rows: ", &change_form(c)].concat()).collect()
                }
            })
            .chain(std::iter::once("commit".to_string()))
            .collect(),
    };
    parts.join(" · ")
}

fn change_form(c: &RowChange) -> String {
    match c {
        RowChange::Insert { table, row } => ["insert ", table, " ", &row_form(row)].concat(),
        RowChange::Update { table, key, row } => {
            ["update ", table, "[", &value_text(key), "] ", &row_form(row)].concat()
        }
        RowChange::Delete { table, key } => ["delete ", table, "[", &value_text(key), "]"].concat(),
        RowChange::Ddl { sql } => sql.clone(),
    }
}

/// The records in flight, in full (as far as a line goes); when none are, what the leader logged last.
fn records(o: &mut Out, sim: &Simulation, log: LogKind) {
    // The comparison runs single-leader replication logs only (compare::run_all refuses other protocols).
    let Some(cl) = sim.protocol.single_leader() else { return };
    let mut lines: Vec<(String, String)> = Vec::new();
    for (_, msg) in sim.in_flight() {
        let Some(form) = msg.payload.single_leader().and_then(form) else { continue };
        let to = sim.name(msg.to);
        match lines.iter_mut().find(|(_, f)| *f == form) {
            Some((who, _)) => {
                who.push_str(", ");
                who.push_str(to);
            }
            None => lines.push(([sim.name(msg.from), " → ", to].concat(), form)),
        }
    }
    let more = lines.len().saturating_sub(MAX_RECORDS);
    lines.truncate(MAX_RECORDS);
    if lines.is_empty() {
        let idle = match cl.leader().map(|l| &cl.nodes[l]) {
            None => "no leader".to_string(),
            Some(l) if log == LogKind::Trigger => {
                let waiting = l.db.rows(crate::protocol::single_leader::CHANGES_TABLE).len().to_string();
                ["changes table on ", &l.id, ": ", &waiting, " rows not yet purged"].concat()
            }
            Some(l) => l
                .log
                .back()
                .map_or_else(|| "the log is empty".into(), |e| ["last record: ", &record_form(&e.record)].concat()),
        };
        lines.push(("nothing in flight".into(), idle));
    }
    o.open("ul").a("class", "cmp-records").a("data-testid", "records").a("aria-label", "Log records in flight");
    for (who, form) in &lines {
        o.open("li").open("span").a("class", "r-who").t(who).close();
        o.open("code").a("title", form.clone()).t(form).close().close();
    }
    if more > 0 {
        o.open("li").a("class", "muted").t(&["+", &more.to_string(), " more in flight"].concat()).close();
    }
    o.close();
}

fn bytes(b: u64) -> String {
    if b < 1024 {
        [b.to_string().as_str(), " B"].concat()
    } else {
        let tenths = b * 10 / 1024;
        [(tenths / 10).to_string().as_str(), ".", &(tenths % 10).to_string(), " KB"].concat()
    }
}

fn figures(o: &mut Out, f: &Facts, log: LogKind) {
    let g = &f.figures;
    let mut cells = vec![
        ("records", g.records.to_string(), "Log records shipped (change rows, for triggers)"),
        ("shipped", bytes(g.record_bytes), "Bytes of those records on the wire"),
        (
            "apply work",
            [g.apply_rows.to_string().as_str(), " rows · ", &bytes(g.apply_bytes)].concat(),
            "Rows read and written, and page bytes written, on followers and consumers to apply what they received",
        ),
        (
            "leader rows",
            g.leader_rows_written.to_string(),
            "Rows the leader wrote: the clients' own and the replication machinery's (the changes table)",
        ),
        (
            "max lag",
            [(g.max_lag_ms.round() as u64).to_string().as_str(), " ms"].concat(),
            "The longest a replica was behind the leader so far",
        ),
    ];
    if log == LogKind::Trigger {
        cells.push((
            "polls",
            [g.polls.to_string().as_str(), " · ", &g.empty_polls.to_string(), " empty"].concat(),
            "Times the replicator asked the leader's changes table for news, and how many found nothing",
        ));
    }
    o.open("dl").a("class", "cmp-figs").a("data-testid", "figures");
    for (k, v, tip) in cells {
        o.open("div").a("title", tip).open("dt").t(k).close().open("dd").t(&v).close().close();
    }
    o.close();
}

/// Halted nodes with their errors; other divergence (a search index); the rows that differ, leader and replica
/// side by side.
fn problems(o: &mut Out, sim: &Simulation, f: &Facts) {
    // The comparison runs single-leader replication logs only (compare::run_all refuses other protocols).
    let Some(cl) = sim.protocol.single_leader() else { return };
    for n in &cl.nodes {
        if let Some(e) = &n.halt_error {
            o.open("p").a("class", "node-error").a("data-testid", "halted").t("⚠ ").open("b").t(&n.id).close();
            o.t(" stopped: ").t(e).close();
        }
    }
    if f.diffs.is_empty() && matches!(f.figures.verdict, Verdict::Diverged { .. }) {
        for a in f.figures.divergence.iter().take(2) {
            o.open("p").a("class", "node-error").t(&a.detail).close();
        }
    }
    for (replica, rows) in &f.diffs {
        let mut tables: Vec<&str> = rows.iter().map(|r| r.table.as_str()).collect();
        tables.dedup();
        for t in tables {
            diff(o, &f.leader, replica, t, rows);
        }
    }
}

/// The rows of `table` that differ between the leader and `replica`: two tables side by side, aligned row for row,
/// the differing cells marked (highlighted, bold, underlined: not by colour alone).
fn diff(o: &mut Out, leader: &str, replica: &str, table: &str, rows: &[RowDiff]) {
    let rows: Vec<&RowDiff> = rows.iter().filter(|r| r.table == table).collect();
    let Some(first) = rows.iter().find_map(|r| r.leader.as_ref().or(r.replica.as_ref())) else { return };
    let cols: Vec<&str> = first.iter().map(|(c, _)| c.as_str()).collect();
    let marks: Vec<Vec<String>> = rows.iter().map(|r| r.differing_columns()).collect();
    let shown = rows.len().min(MAX_DIFF_ROWS);
    o.open("div").a("class", "cmp-diff").a("data-testid", "diff").a("data-replica", replica.to_string());
    let of = if rows.len() == 1 { " row of " } else { " rows of " };
    o.open("h3").t(&[replica, " ≠ leader ", leader, ": ", &rows.len().to_string(), of, table].concat()).close();
    o.open("div").a("class", "diff-pair");
    for (who, node, replica_side) in [("leader ", leader, false), ("replica ", replica, true)] {
        o.open("table").a("class", "grid data diff-side");
        o.open("caption").t(who).open("b").t(node).close().close();
        o.open("thead").open("tr");
        for c in &cols {
            o.open("th").t(c).close();
        }
        o.close().close().open("tbody");
        for (r, mark) in rows.iter().zip(&marks).take(shown) {
            let side = if replica_side { &r.replica } else { &r.leader };
            o.open("tr");
            for c in &cols {
                match side.as_ref().and_then(|row| row.iter().find(|(k, _)| k == c)) {
                    None => o.open("td").a("class", "missing").t("—"),
                    Some((_, v)) if mark.iter().any(|m| m == c) => {
                        o.open("td").a("class", "diff").open("mark").t(&value_text(v)).close()
                    }
                    Some((_, v)) => o.open("td").t(&value_text(v)),
                };
                o.close();
            }
            o.close();
        }
        o.close().close();
    }
    o.close();
    if rows.len() > shown {
        o.open("p").a("class", "muted small").t(&["+", &(rows.len() - shown).to_string(), " more rows"].concat());
        o.close();
    }
    o.close();
}
