//! The "Compare log methods" view's share of the model (DDIA 5.1, "Implementation of Replication Logs"): the same
//! scenario run once per log method (statement, WAL, logical, trigger), with the same seed, workload, faults and the
//! person's commands. The main run (`Model::pb`) is the pane of the scenario's own method; the other three are
//! playbacks of their own that follow it: after every action they stand at the main run's moment, so the four
//! panes share one transport and one simulated time.
//!
//! The workload is edited as text, one SQL statement per line (`bob: …` sends from another client); the edited
//! scenario replaces the main run, so the person's text travels in the share link like any scenario change.
//!
//! A person may also crash or restart a node, or cut or heal a link, in one pane only (the playground's own
//! commands). Each pane keeps its own list of those, and its run is built from the scenario, the seed, the shared
//! commands and that list: a pure function of them, rebuilt from the start whenever the list changes, and carried in
//! the share link. A pane with commands of its own runs its own playback, the main method's pane included (the main
//! run stays as it is: it drives the transport).
//!
//! A child module of `state` so that it can use the model's private machinery (install, hash, playing).

use crate::check::{row_diffs, RowDiff};
use crate::compare::{figures, Figures, METHODS};
use crate::library;
use crate::link::View;
use crate::playback::Playback;
use crate::protocol::single_leader::Status;
use crate::scenario::{Command, LogKind, Scenario, TimedCommand, MAX_UNTIL_MS};
use crate::sql::{Database, FixedEnv, Session};
use crate::world::sim::Simulation;
use crate::world::time::{Micros, US_PER_MS};

use super::{dom, Mode, Model};

/// While playing, the figures of the four panes are recomputed at most this often (they compare every table).
const FIGURES_EVERY_PLAYING_MS: f64 = 300.0;
/// Lines the workload editor accepts.
pub const MAX_WORKLOAD_LINES: usize = 300;
/// Gap between statements the person added beyond the scenario's own.
const LINE_GAP_US: Micros = 100 * US_PER_MS;

/// One method's run.
pub enum Run {
    /// The scenario's own method: the main run.
    Main,
    Own(Box<Playback>),
    /// This method cannot run the scenario (e.g. a fault names the trigger replicator, which other methods lack).
    Failed(String),
}

/// What a pane shows below its drawing, at the moment on screen.
pub struct Facts {
    pub figures: Figures,
    pub leader: String,
    /// Replicas that hold everything the leader committed but different rows: (replica id, the rows).
    pub diffs: Vec<(String, Vec<RowDiff>)>,
}

pub struct CompareUi {
    /// One per `compare::METHODS`.
    pub runs: Vec<Run>,
    /// One per `compare::METHODS`: what the person did in that pane only (crash, restart, cut, heal).
    pub pane_commands: Vec<Vec<TimedCommand>>,
    /// The workload editor's text.
    pub draft: String,
    pub draft_error: Option<String>,
    /// Per pane, for `facts_key`'s moment (None: the pane has no run).
    pub facts: Vec<Option<Facts>>,
    facts_key: Option<(u64, Micros)>,
    facts_wall: f64,
}

pub enum CompareAction {
    Open,
    Close,
    SetDraft(String),
    /// Run the draft workload from the start, under all four methods.
    Run,
    /// Put the scenario's workload back in the editor.
    ResetDraft,
    /// Crash, restart, cut or heal now, in pane `i` only.
    PaneCommand(usize, Command),
    /// Forget what the person did in pane `i`: it runs the shared commands only again.
    ClearPane(usize),
}

/// The commands a person may give one pane: faults, nothing that changes the scenario.
pub fn pane_command_allowed(c: &Command) -> bool {
    matches!(c, Command::Crash(_) | Command::Restart(_) | Command::CutLink(..) | Command::HealLink(..))
}

/// Pane `log`'s run: the scenario under that method, the shared commands, then the pane's own.
fn pane_run(pb: &Playback, log: LogKind, own: &[TimedCommand]) -> Run {
    let mut commands = pb.user_commands().to_vec();
    commands.extend(own.iter().cloned());
    match Playback::new(pb.scenario().with_log(log), pb.seed(), commands) {
        Ok(mut p) => {
            p.seek(pb.now());
            Run::Own(Box::new(p))
        }
        Err(e) => Run::Failed(e.0),
    }
}

impl CompareUi {
    /// `panes`: (method, commands) for the panes that have commands of their own.
    fn new(pb: &Playback, panes: Vec<(LogKind, Vec<TimedCommand>)>) -> CompareUi {
        let mut pane_commands = vec![Vec::new(); METHODS.len()];
        for (log, c) in panes {
            if let Some(i) = METHODS.iter().position(|m| *m == log) {
                pane_commands[i] = c;
            }
        }
        let runs = METHODS
            .iter()
            .zip(&pane_commands)
            .map(|(&log, own)| {
                if log == pb.scenario().replication.log && own.is_empty() {
                    return Run::Main;
                }
                pane_run(pb, log, own)
            })
            .collect();
        CompareUi {
            runs,
            pane_commands,
            draft: workload_text(pb.scenario()),
            draft_error: None,
            facts: Vec::new(),
            facts_key: None,
            facts_wall: f64::NEG_INFINITY,
        }
    }
}

impl Model {
    pub fn view(&self) -> View {
        if self.compare.is_some() {
            View::Compare
        } else if self.editing {
            View::Collab
        } else {
            View::Cluster
        }
    }

    /// Pane `i`'s simulation, or why it has none.
    pub fn pane_sim(&self, i: usize) -> Result<&Simulation, &str> {
        let main = self.pb.as_ref().map(Playback::sim).ok_or("no run");
        match self.compare.as_ref().and_then(|c| c.runs.get(i)) {
            Some(Run::Own(p)) => Ok(p.sim()),
            Some(Run::Failed(e)) => Err(e.as_str()),
            _ => main,
        }
    }

    pub(super) fn set_view(&mut self, view: View) {
        match (view, self.pb.as_ref()) {
            // Embed mode draws one cluster only: the comparison would run unseen.
            (View::Compare, Some(pb)) if self.compare.is_none() && self.mode == Mode::Full => {
                self.compare = Some(CompareUi::new(pb, Vec::new()));
                self.hint = None;
                after_change(self, false);
            }
            (View::Cluster, _) => {
                self.compare = None;
                self.editing = false;
            }
            // Embed mode has no view switch: it stays on its cluster.
            (View::Collab, _) if self.mode == Mode::Full => {
                self.compare = None;
                self.editing = true;
                self.set_playing(false);
            }
            _ => {}
        }
    }

    pub(super) fn apply_compare(&mut self, action: CompareAction) -> bool {
        match action {
            CompareAction::Open | CompareAction::Close => {
                let view = if matches!(action, CompareAction::Open) { View::Compare } else { View::Cluster };
                if self.view() == view {
                    return false;
                }
                self.set_view(view);
                self.write_hash();
            }
            CompareAction::SetDraft(text) => {
                let Some(c) = self.compare.as_mut() else { return false };
                c.draft = text;
            }
            CompareAction::ResetDraft => {
                let (Some(c), Some(pb)) = (self.compare.as_mut(), self.pb.as_ref()) else { return false };
                c.draft = workload_text(pb.scenario());
                c.draft_error = None;
            }
            CompareAction::Run => {
                let (Some(c), Some(pb)) = (self.compare.as_mut(), self.pb.as_ref()) else { return false };
                let built = with_workload(pb.scenario(), &c.draft)
                    .and_then(|s| Playback::new(s, pb.seed(), pb.user_commands().to_vec()).map_err(|e| e.0));
                match built {
                    Ok(run) => {
                        // What the person did in each pane stays with the new workload, as the shared commands do.
                        let panes = self.pane_commands();
                        self.install(run, 0);
                        self.restore_panes(panes);
                        self.error = None;
                        self.set_playing(true);
                        self.write_hash();
                    }
                    Err(e) => c.draft_error = Some(e),
                }
            }
            CompareAction::PaneCommand(i, command) => return self.pane_command(i, command),
            CompareAction::ClearPane(i) => {
                let (Some(c), Some(pb)) = (self.compare.as_mut(), self.pb.as_ref()) else { return false };
                let Some(own) = c.pane_commands.get_mut(i).filter(|o| !o.is_empty()) else { return false };
                own.clear();
                let log = METHODS[i];
                c.runs[i] = if log == pb.scenario().replication.log { Run::Main } else { pane_run(pb, log, &[]) };
                c.facts_key = None;
                self.hint = Some(["The ", about_pane(i), " runs the shared commands only again."].concat());
                self.write_hash();
            }
        }
        true
    }

    /// A crash, restart, cut or heal now, in pane `i` only: its own list branches here (its later commands go,
    /// as a command in the playground discards the person's later ones), and its run is built again from the start.
    /// Every pane then stands 1 µs later, so the consequence shows at once.
    fn pane_command(&mut self, i: usize, command: Command) -> bool {
        let Some(pb) = self.pb.as_ref() else { return false };
        let now = pb.now();
        if now >= pb.until() {
            self.hint = Some("The run has ended: scrub back or restart to change what happens.".into());
            return true;
        }
        if !pane_command_allowed(&command) || i >= METHODS.len() {
            return false;
        }
        let Some(c) = self.compare.as_mut() else { return false };
        let label = command.label();
        let own = &mut c.pane_commands[i];
        own.retain(|x| x.at <= now);
        own.push(TimedCommand { at: now + 1, command });
        c.runs[i] = pane_run(pb, METHODS[i], own);
        c.facts_key = None;
        if let Some(pb) = self.pb.as_mut() {
            pb.seek(now + 1);
        }
        self.sync_clock();
        self.last_frame = None;
        let next = if self.playing { "." } else { ": press Play (Space) or Step (→) to watch what follows." };
        self.hint = Some(["In the ", about_pane(i), " only: ", &label, next].concat());
        self.write_hash();
        true
    }

    /// Put back what the person did in each pane (a link that carries it, a workload run again).
    pub(super) fn restore_panes(&mut self, panes: Vec<(LogKind, Vec<TimedCommand>)>) {
        if panes.iter().all(|(_, c)| c.is_empty()) {
            return;
        }
        if let (Some(c), Some(pb)) = (self.compare.as_mut(), self.pb.as_ref()) {
            *c = CompareUi::new(pb, panes);
        }
        after_change(self, false);
    }

    /// What each pane did on its own, for the share link: (method, commands), panes with none left out.
    pub(super) fn pane_commands(&self) -> Vec<(LogKind, Vec<TimedCommand>)> {
        let Some(c) = self.compare.as_ref() else { return Vec::new() };
        METHODS.iter().zip(&c.pane_commands).filter(|(_, o)| !o.is_empty()).map(|(m, o)| (*m, o.clone())).collect()
    }

    /// Step: the next event of any of the four runs.
    pub(super) fn compare_step(&mut self) -> bool {
        self.set_playing(false);
        let until = self.until();
        let next = (0..METHODS.len()).filter_map(|i| self.pane_sim(i).ok()?.next_event_time()).min();
        let Some(pb) = self.pb.as_mut() else { return false };
        match next {
            Some(t) if t <= until => pb.seek(t),
            _ => self.hint = Some("Nothing left to happen: this is the end of the run.".into()),
        }
        self.sync_clock();
        self.write_hash();
        true
    }
}

/// A new main run is on screen: the other methods' runs are built again from it.
pub(super) fn on_install(m: &mut Model) {
    if let (Some(c), Some(pb)) = (m.compare.as_mut(), m.pb.as_ref()) {
        *c = CompareUi::new(pb, Vec::new());
    }
}

/// "the trigger-based pane", for hints.
fn about_pane(i: usize) -> &'static str {
    match METHODS.get(i) {
        Some(LogKind::Statement) => "statement-based pane",
        Some(LogKind::Wal) => "WAL-shipping pane",
        Some(LogKind::Logical) => "logical-log pane",
        Some(LogKind::Trigger) => "trigger-based pane",
        None => "pane",
    }
}

/// After every change: the other runs stand where the main run stands, and the figures follow (at a bounded rate
/// while playing or dragging).
pub(super) fn after_change(m: &mut Model, throttle: bool) {
    let Some(now) = m.pb.as_ref().map(Playback::now) else { return };
    let key = (m.run_id, now);
    let Some(c) = m.compare.as_mut() else { return };
    for r in &mut c.runs {
        if let Run::Own(p) = r {
            if p.now() != now {
                p.seek(now);
            }
        }
    }
    let wall = dom::now_ms();
    if c.facts_key == Some(key) || (throttle && wall - c.facts_wall < FIGURES_EVERY_PLAYING_MS) {
        return;
    }
    c.facts_key = Some(key);
    c.facts_wall = wall;
    let facts = (0..METHODS.len()).map(|i| m.pane_sim(i).ok().map(facts)).collect();
    if let Some(c) = m.compare.as_mut() {
        c.facts = facts;
    }
}

fn facts(sim: &Simulation) -> Facts {
    let Some(cl) = sim.protocol.single_leader() else {
        return Facts { figures: crate::compare::figures(sim), leader: String::new(), diffs: Vec::new() };
    };
    let mut diffs = Vec::new();
    let mut leader = String::new();
    if let Some(l) = cl.leader() {
        let ln = &cl.nodes[l];
        leader.clone_from(&ln.id);
        for n in cl.nodes.iter().filter(|n| {
            n.index != l
                && n.is_replica()
                && n.status != Status::Absent
                && n.halt_error.is_none()
                && n.lsn() >= ln.lsn()
        }) {
            let rows = row_diffs(sim, ln, n);
            if !rows.is_empty() {
                diffs.push((n.id.clone(), rows));
            }
        }
    }
    Facts { figures: figures(sim), leader, diffs }
}

/// The client whose statements need no `client:` prefix: the one that sends first.
fn main_client(s: &Scenario) -> Option<&str> {
    s.workload
        .iter()
        .find_map(|w| match &w.command {
            Command::Sql { client, .. } => Some(client.as_str()),
            _ => None,
        })
        .or(s.clients.first().map(|c| c.id.as_str()))
}

/// The scenario's SQL workload as the editor shows it: one statement per line, in time order.
pub fn workload_text(s: &Scenario) -> String {
    let main = main_client(s);
    let mut out = String::new();
    for w in &s.workload {
        if let Command::Sql { client, sql } = &w.command {
            if Some(client.as_str()) != main {
                out.push_str(client);
                out.push_str(": ");
            }
            out.push_str(&sql.replace('\n', " "));
            out.push('\n');
        }
    }
    out
}

/// The scenario with its SQL workload replaced by `text`. Line i keeps the time of the scenario's i-th statement;
/// lines beyond those follow 100 ms apart (the simulation orders commands by time: the list need not be sorted).
/// Lines go from the first client, or from the one named before a colon.
/// Every statement is tried first on a scratch copy of the schema, so that a typo is reported with its line
/// instead of failing quietly in the run.
pub fn with_workload(s: &Scenario, text: &str) -> Result<Scenario, String> {
    let main = main_client(s).ok_or("this scenario has no clients to send statements from")?.to_string();
    let times: Vec<Micros> =
        s.workload.iter().filter(|w| matches!(w.command, Command::Sql { .. })).map(|w| w.at).collect();
    let lines: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with("--")).collect();
    if lines.len() > MAX_WORKLOAD_LINES {
        return Err(["at most ", &MAX_WORKLOAD_LINES.to_string(), " statements, please"].concat());
    }
    let mut db = Database::new();
    let mut env = FixedEnv { now_us: 0, rng_state: 1 };
    for sql in &s.schema {
        let _ = db.execute_autocommit(sql, &mut env);
    }
    let mut sessions: Vec<(&str, Session)> = Vec::new();
    let mut problems = Vec::new();
    let mut workload: Vec<TimedCommand> =
        s.workload.iter().filter(|w| !matches!(w.command, Command::Sql { .. })).cloned().collect();
    let mut at = 0;
    for (i, line) in lines.iter().enumerate() {
        let (client, sql) = match line.split_once(':') {
            Some((head, rest)) if s.clients.iter().any(|c| c.id == head.trim()) => (head.trim(), rest.trim()),
            _ => (main.as_str(), *line),
        };
        at = match times.get(i) {
            Some(t) => *t,
            None => at.max(times.last().copied().unwrap_or(0)) + LINE_GAP_US,
        };
        let k = match sessions.iter().position(|(c, _)| *c == client) {
            Some(k) => k,
            None => {
                sessions.push((client, Session::new()));
                sessions.len() - 1
            }
        };
        let session = &mut sessions[k].1;
        if let Err(e) = db.execute(sql, session, &mut env) {
            // Constraint failures and locks depend on what other clients do when: the run decides those.
            if !matches!(e.kind, crate::sql::SqlErrorKind::Constraint | crate::sql::SqlErrorKind::Locked) {
                problems.push(["line ", &(i + 1).to_string(), ": ", &e.message].concat());
            }
        }
        workload.push(TimedCommand { at, command: Command::Sql { client: client.to_string(), sql: sql.to_string() } });
    }
    if !problems.is_empty() {
        let more = if problems.len() > 3 {
            ["; and ", &(problems.len() - 3).to_string(), " more"].concat()
        } else {
            String::new()
        };
        problems.truncate(3);
        return Err([&problems.join("; "), more.as_str()].concat());
    }
    let mut edited = s.clone();
    edited.workload = workload;
    // Half a second at least to watch the last statement replicate.
    if at / US_PER_MS + 500 > edited.until_ms {
        edited.until_ms = (at / US_PER_MS + 1000).min(MAX_UNTIL_MS);
    }
    // Through the scenario format's own checks: what runs here is what a share link will carry.
    Scenario::from_value(&edited.to_json()).map_err(|e| e.to_string())
}

/// The comparison lessons, (name, title), for the view's own picker.
pub fn lessons(m: &Model) -> Vec<(&'static str, &str)> {
    library::COMPARE_LESSONS
        .iter()
        .filter_map(|name| m.lessons.iter().find(|(n, _)| n == name).map(|(n, t)| (*n, t.as_str())))
        .collect()
}
