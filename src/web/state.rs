//! The one piece of state the playground has: a `Model` holding the `Playback`, owned by a Yew reducer.
//!
//! `AppState` wraps the model in a shared `RefCell` and carries a version number: the reducer mutates the model in
//! place (a `Playback` holds checkpoints — cloning it per frame would be wasteful) and returns a new `AppState`
//! with the next version to make Yew re-render, or the same `Rc` when nothing visible changed.

use std::cell::RefCell;
use std::rc::Rc;

use yew::Reducible;

use crate::check::failover::SweepRow;
use crate::check::Anomaly;
use crate::library;
use crate::link::{LinkState, View};
use crate::playback::Playback;
use crate::scenario::{Command, CopyMethod, Scenario, TimedCommand};
use crate::world::time::Micros;

use super::derive::{self, EventMarker};
use super::{dom, text};

pub mod compare;
pub mod jobs;
pub mod lag;
pub use compare::{CompareAction, CompareUi};
pub use lag::{ClientParam, LagAction, LagUi, Policies, Stage};

/// Speeds offered, in simulated milliseconds per wall-clock millisecond.
/// (speed, the `<option>` value, its label). Values are matched as text: no float parsing in the wasm.
pub const SPEEDS: &[(f64, &str, &str)] = &[
    (0.05, "0.05", "0.05×"),
    (0.1, "0.1", "0.1×"),
    (0.25, "0.25", "0.25×"),
    (0.5, "0.5", "0.5×"),
    (1.0, "1", "1×"),
    (2.0, "2", "2×"),
    (5.0, "5", "5×"),
    (20.0, "20", "20×"),
    (100.0, "100", "100×"),
    // Long runs (offline devices, DDIA 5.3): simulated minutes or hours per real second.
    (600.0, "600", "10 min/s"),
    (3600.0, "3600", "1 h/s"),
];

/// The speed an `<option>` value stands for.
pub fn speed_of(value: &str) -> Option<f64> {
    SPEEDS.iter().find(|s| s.1 == value).map(|s| s.0)
}
pub const DEFAULT_SPEED: f64 = 0.1;
pub const REDUCED_MOTION_SPEED: f64 = 0.05;

/// The longest wall-clock gap one animation frame may cover (a background tab must not jump the run).
const MAX_FRAME_MS: f64 = 100.0;
/// While scrubbing, at most this often (the last position is flushed by the animation loop).
const HASH_EVERY_SEEKING_MS: f64 = 120.0;

const THEME_KEY: &str = "replsim-theme";

/// While playing, the checkers run at most this often (they read the whole history); paused, at every change.
const ANOMALIES_EVERY_PLAYING_MS: f64 = 300.0;

/// The failover timeouts the sweep tries, and how many seeds for each.
pub const SWEEP_TIMEOUTS_MS: &[u64] = &[100, 200, 300, 500, 800, 1200];
pub const SWEEP_SEEDS: u64 = 6;

/// Failover timeouts offered in the settings (the scenario's own is added when it is not one of them).
pub const TIMEOUTS_MS: &[u64] = &[100, 200, 300, 500, 800, 1000, 1500, 2000];

/// The tabs of the right-hand column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tab {
    Nodes,
    Metrics,
    Anomalies,
    /// Replication lag (DDIA 5.2): read routing, follower apply delays, the policy table.
    Lag,
    /// Latency, loss, duplication, reordering; links with settings of their own.
    Network,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Sweep {
    Idle,
    /// Asked for: the page shows "running…" and a timer starts the computation after the next paint.
    Running,
    Done(Vec<SweepRow>),
    Failed(String),
}

/// A change to the scenario's failover settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailoverSetting {
    Auto(bool),
    Epochs(bool),
    TimeoutMs(u64),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Full,
    Embed,
    Bench,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Share {
    Idle,
    Copied,
    /// The clipboard refused: show the link in a field to copy by hand.
    Manual(String),
}

pub struct Model {
    pub mode: Mode,
    pub pb: Option<Playback>,
    /// (name, title) of every library lesson.
    pub lessons: Vec<(&'static str, String)>,
    /// The library lesson on screen, when the run is one (unchanged scenario and seed).
    pub lesson: Option<&'static str>,
    pub playing: bool,
    /// Simulated ms per wall ms.
    pub speed: f64,
    /// The playback clock in µs, fractional so that slow motion accumulates exactly.
    pub clock_us: f64,
    last_frame: Option<f64>,
    pub selected: Option<String>,
    /// The storage page of the selected node whose bytes the inspector shows.
    pub page: Option<u32>,
    pub client: usize,
    pub sql: String,
    pub error: Option<String>,
    /// Why the scenario file the person opened was refused (shown beside the Open button; the run stays).
    pub file_error: Option<String>,
    /// A short, transient hint under the canvas ("the run has ended…").
    pub hint: Option<String>,
    /// With partitions: the partition (replication group) an added follower joins; None means the first.
    pub add_group: Option<String>,
    pub share: Share,
    pub dark: bool,
    pub help: bool,
    pub narration_open: bool,
    pub reduced_motion: bool,
    pub bench: Option<String>,
    pub tab: Tab,
    /// History entries to highlight (the proof of an anomaly the person clicked).
    pub highlight: Vec<usize>,
    /// Multi-leader: the row whose conflict view is open (table, key).
    pub conflict_row: Option<(String, crate::sql::Value)>,
    pub sweep: Sweep,
    /// What the checkers report at `anomalies_key`'s moment (computed lazily, see `refresh_anomalies`).
    pub anomalies: Vec<Anomaly>,
    anomalies_key: Option<(u64, Micros)>,
    anomalies_wall: f64,
    /// Bumped whenever the run changes (a lesson, a command, a rebuild): cached results of older runs are stale, and
    /// parts of the page drawn from it are redrawn (`components/memo.rs`).
    pub run_id: u64,
    /// Timeline markers for elections, failovers, shutdowns and discards, for every moment explored so far (the
    /// trace only reaches the moment on screen; these stay when the person scrubs back).
    pub events: Vec<EventMarker>,
    /// Every trace event at or before this time has been turned into markers (None: nothing yet).
    events_upto: Option<Micros>,
    /// The fragment last written to the URL (without `#`).
    pub hash: String,
    hash_dirty: bool,
    last_hash_write: f64,
    /// The replication-lag views (state/lag.rs).
    pub lag: LagUi,
    /// The worker's jobs: staleness curves and strategies side by side (state/jobs.rs).
    pub jobs: jobs::JobsUi,
    /// The "Compare log methods" view, when it is open (state/compare.rs).
    pub compare: Option<CompareUi>,
    /// The collaborative editing view (DDIA 5.3) is open instead of the cluster.
    pub editing: bool,
}

pub enum Action {
    /// An animation frame, with its `requestAnimationFrame` timestamp.
    Frame(f64),
    TogglePlay,
    Pause,
    Step,
    /// Move the clock by this many milliseconds (negative: back).
    Jump(i64),
    /// To the next timed entry (a client's statement, a fault, a command) after the moment on screen, else the end:
    /// how a run of hours is watched without waiting through the quiet between.
    SkipToNext,
    Restart,
    SetSpeed(f64),
    /// Stand at this time (µs); `true` on the final position of a drag.
    Seek(Micros, bool),
    /// Do something now (crash, restart, cut…).
    Do(Command),
    Select(Option<String>),
    /// Show a storage page's bytes in the inspector (None: close).
    ShowPage(Option<u32>),
    /// Cut the link between two endpoints, or heal it when it is cut.
    ToggleLink(String, String),
    LoadLesson(String),
    /// The fragment changed under us (a pasted link, the back button).
    LoadHash(String),
    SetClient(usize),
    SetSql(String),
    Send,
    DismissError,
    /// A scenario file was chosen: its name and its text, or why it could not be read.
    OpenFile(String, Result<String, String>),
    ToggleTheme,
    ToggleHelp,
    CloseHelp,
    ToggleNarration,
    /// Write the run into the URL now (before Share copies it).
    FlushHash,
    ShareResult(Share),
    BenchDone(String),
    /// Open or close the collaborative editing view.
    Editing(bool),
    SetTab(Tab),
    /// A new follower joins now, with a fresh id.
    AddFollower(CopyMethod),
    /// Choose the partition an added follower joins.
    AddGroup(String),
    /// Change the failover settings: the run is rebuilt from the changed scenario, standing at the same moment.
    Failover(FailoverSetting),
    /// Show "running…" (the sweep itself runs in the worker: `web::worker`).
    RunSweep,
    /// The worker's answer for the scenario of `epoch` (`state::jobs`).
    SweepDone {
        epoch: u64,
        answer: serde_json::Value,
    },
    /// Highlight these history entries (and show the Clients history).
    Highlight(Vec<usize>),
    /// Multi-leader: run again under another conflict strategy (`replication.conflict`), up to the same moment.
    Strategy(String),
    /// Multi-leader: open the conflict view of a row (table, key), or close it.
    ConflictView(Option<(String, crate::sql::Value)>),
    /// The replication-lag views: routing, apply delays, the space-time diagram, the policy table.
    Lag(LagAction),
    /// The "Compare log methods" view: open, close, edit and run the workload.
    Compare(CompareAction),
    /// The worker's jobs: start one, take its answer, the staleness form (state/jobs.rs).
    Jobs(jobs::JobAction),
}

#[derive(Clone)]
pub struct AppState {
    pub model: Rc<RefCell<Model>>,
    pub version: u64,
}

impl PartialEq for AppState {
    fn eq(&self, other: &Self) -> bool {
        self.version == other.version && Rc::ptr_eq(&self.model, &other.model)
    }
}

impl Reducible for AppState {
    type Action = Action;

    fn reduce(self: Rc<Self>, action: Action) -> Rc<Self> {
        let changed = match self.model.try_borrow_mut() {
            Ok(mut m) => m.apply(action),
            Err(_) => false,
        };
        if changed {
            Rc::new(AppState { model: self.model.clone(), version: self.version + 1 })
        } else {
            self
        }
    }
}

impl AppState {
    /// The state for the page as loaded: mode from the query string, run from the fragment.
    pub fn from_location() -> AppState {
        let mode = if dom::query_param("bench").as_deref() == Some("1") {
            Mode::Bench
        } else if dom::query_param("embed").as_deref() == Some("1") {
            Mode::Embed
        } else {
            Mode::Full
        };
        let mut m = Model::new(mode);
        if mode != Mode::Bench {
            m.load_fragment(&dom::location_hash());
        }
        AppState { model: Rc::new(RefCell::new(m)), version: 0 }
    }

    /// A state with the default lesson, ignoring the URL (tests).
    pub fn default_lesson() -> AppState {
        let mut m = Model::new(Mode::Full);
        m.load_lesson(library::DEFAULT_LESSON);
        AppState { model: Rc::new(RefCell::new(m)), version: 0 }
    }
}

impl Model {
    pub fn new(mode: Mode) -> Model {
        let reduced_motion = dom::media_matches("(prefers-reduced-motion: reduce)");
        let dark = match dom::storage_get(THEME_KEY).as_deref() {
            Some("dark") => true,
            Some("light") => false,
            _ => dom::media_matches("(prefers-color-scheme: dark)"),
        };
        dom::set_theme_attr(dark);
        let lessons = library::LESSONS.iter().map(|l| (l.name, l.title.to_string())).collect();
        Model {
            mode,
            pb: None,
            lessons,
            lesson: None,
            playing: false,
            speed: if reduced_motion { REDUCED_MOTION_SPEED } else { DEFAULT_SPEED },
            clock_us: 0.0,
            last_frame: None,
            selected: None,
            page: None,
            client: 0,
            sql: String::new(),
            error: None,
            file_error: None,
            hint: None,
            add_group: None,
            share: Share::Idle,
            dark,
            help: false,
            narration_open: mode != Mode::Embed,
            reduced_motion,
            bench: None,
            tab: Tab::Nodes,
            highlight: Vec::new(),
            conflict_row: None,
            sweep: Sweep::Idle,
            anomalies: Vec::new(),
            anomalies_key: None,
            anomalies_wall: f64::NEG_INFINITY,
            run_id: 0,
            events: Vec::new(),
            events_upto: None,
            hash: String::new(),
            hash_dirty: false,
            last_hash_write: f64::NEG_INFINITY,
            lag: LagUi::default(),
            jobs: jobs::JobsUi::default(),
            compare: None,
            editing: false,
        }
    }

    /// Whether the animation loop should send a `Frame` (playing, or a URL write is pending).
    pub fn wants_frame(&self) -> bool {
        self.playing || self.hash_dirty
    }

    pub fn now(&self) -> Micros {
        self.pb.as_ref().map_or(0, Playback::now)
    }

    pub fn until(&self) -> Micros {
        self.pb.as_ref().map_or(0, Playback::until)
    }

    pub fn at_end(&self) -> bool {
        self.pb.as_ref().is_some_and(|p| p.now() >= p.until())
    }

    pub fn scenario(&self) -> Option<&Scenario> {
        self.pb.as_ref().map(Playback::scenario)
    }

    /// Put a run on screen, paused, standing at `at`.
    fn install(&mut self, pb: Playback, at: Micros) {
        let mut pb = pb;
        pb.seek(at);
        self.clock_us = pb.now() as f64;
        self.sql = text::default_sql(&pb.scenario().schema);
        let lesson = lesson_of(&pb);
        jobs::on_install(self, lesson.is_some() && lesson == self.lesson);
        self.lesson = lesson;
        self.pb = Some(pb);
        self.playing = false;
        self.last_frame = None;
        self.selected = None;
        self.client = 0;
        self.hint = None;
        self.highlight.clear();
        self.conflict_row = None;
        self.sweep = Sweep::Idle;
        lag::on_install(self);
        compare::on_install(self);
        self.forget_events_after(None);
        self.after_change(false);
    }

    /// Replace the run by one built from `scenario` and `commands` (same seed), standing at `at`. Used when a
    /// change cannot be patched into the live run: a node that did not exist at the start, other settings.
    fn rebuild(&mut self, scenario: Scenario, commands: Vec<TimedCommand>, at: Micros) -> bool {
        let Some(seed) = self.pb.as_ref().map(Playback::seed) else { return false };
        match Playback::new(scenario, seed, commands) {
            Ok(mut pb) => {
                pb.seek(at);
                let lesson = lesson_of(&pb);
                jobs::on_install(self, lesson == self.lesson);
                self.lesson = lesson;
                self.pb = Some(pb);
                compare::on_install(self);
                self.sync_clock();
                self.last_frame = None;
                true
            }
            Err(e) => {
                self.error = Some(["This change cannot run: ", &e.0].concat());
                false
            }
        }
    }

    /// Forget markers after `t` (None: all of them): the run changed from there on.
    fn forget_events_after(&mut self, t: Option<Micros>) {
        match t {
            None => {
                self.events.clear();
                self.events_upto = None;
            }
            Some(t) => {
                self.events.retain(|e| e.at <= t);
                self.events_upto = self.events_upto.map(|u| u.min(t));
            }
        }
        self.run_id += 1;
    }

    /// Bring the derived state up to the moment on screen: new timeline markers, and (lazily) the anomalies.
    fn after_change(&mut self, throttle: bool) {
        let Some(pb) = self.pb.as_ref() else { return };
        let now = pb.now();
        if self.events_upto.is_none_or(|u| now > u) {
            let new = derive::markers_after(pb.sim().trace.events(), self.events_upto);
            self.events.extend(new);
            self.events_upto = Some(now);
        }
        self.refresh_anomalies(!throttle);
    }

    /// Run the checkers on the moment on screen, unless that moment's result is known. While playing or dragging
    /// the scrubber, at most every `ANOMALIES_EVERY_PLAYING_MS`; `force` ignores that (play stops, a drag ends).
    fn refresh_anomalies(&mut self, force: bool) {
        let Some(pb) = self.pb.as_ref() else { return };
        let key = (self.run_id, pb.now());
        if self.anomalies_key == Some(key) {
            return;
        }
        let wall = dom::now_ms();
        if !force && wall - self.anomalies_wall < ANOMALIES_EVERY_PLAYING_MS {
            return;
        }
        self.anomalies = crate::check::anomalies(pb.sim());
        self.anomalies_key = Some(key);
        self.anomalies_wall = wall;
    }

    /// Load a library lesson at time zero. Errors go to the banner; the current run stays.
    pub fn load_lesson(&mut self, name: &str) -> bool {
        let scenario = match library::lesson(name) {
            Some(Ok(s)) => s,
            Some(Err(e)) => {
                self.error = Some(e);
                return false;
            }
            None => {
                self.error = Some(["There is no lesson called “", name, "”: pick one from the list."].concat());
                return false;
            }
        };
        let seed = scenario.seed;
        match Playback::new(scenario, seed, Vec::new()) {
            Ok(pb) => {
                self.install(pb, 0);
                true
            }
            Err(e) => {
                self.error = Some(["Lesson ", name, " cannot start: ", &e.0].concat());
                false
            }
        }
    }

    /// Open a scenario file (the format of docs/scenario-format.md) at time zero, with its own seed. A file that
    /// cannot be read, parsed or started is refused with the reason, its JSON path included, and the run on
    /// screen stays as it was.
    fn open_file(&mut self, name: &str, text: Result<String, String>) {
        let refused =
            |why: &str| Some(["Could not open ", name, ": ", why, ". The run on screen is unchanged."].concat());
        let scenario = match text.and_then(|t| Scenario::from_json_str(&t).map_err(|e| e.to_string())) {
            Ok(s) => s,
            Err(e) => {
                self.file_error = refused(&e);
                return;
            }
        };
        let seed = scenario.seed;
        match Playback::new(scenario, seed, Vec::new()) {
            Ok(pb) => {
                self.install(pb, 0);
                self.set_view(View::Cluster);
                self.file_error = None;
                self.error = None;
            }
            Err(e) => self.file_error = refused(&["it cannot start: ", &e.0].concat()),
        }
    }

    /// Load what the URL fragment describes: `#run=…`, `#lesson=NAME[&view=compare]`, or nothing (the default
    /// lesson), in the view it names. A bad fragment shows its error in the banner, and the default lesson.
    pub fn load_fragment(&mut self, fragment: &str) {
        let f = fragment.trim_start_matches('#');
        if f.is_empty() {
            self.load_lesson(library::DEFAULT_LESSON);
            self.set_view(View::Cluster);
            return;
        }
        if let Some(rest) = f.strip_prefix("lesson=") {
            let mut parts = rest.split('&');
            let name = parts.next().unwrap_or(rest);
            let view = parts.find_map(|p| p.strip_prefix("view=")).and_then(View::from_name).unwrap_or(View::Cluster);
            if !self.load_lesson(name) {
                self.load_lesson(library::DEFAULT_LESSON);
            }
            self.set_view(view);
            return;
        }
        let err = match LinkState::decode_view(f) {
            Ok((ls, view)) => match Playback::new(ls.scenario, ls.seed, ls.commands) {
                Ok(pb) => {
                    self.install(pb, ls.at);
                    self.set_view(view);
                    self.restore_panes(ls.panes);
                    self.error = None;
                    self.hash = f.to_string();
                    return;
                }
                Err(e) => ["The run in this link cannot start: ", &e.0].concat(),
            },
            Err(e) => e,
        };
        let mut msg = String::from("Could not open this link: ");
        msg.push_str(&err);
        msg.push_str(". Showing the first lesson instead.");
        self.load_lesson(library::DEFAULT_LESSON);
        self.set_view(View::Cluster);
        self.error = Some(msg);
    }

    fn link_state(&self) -> Option<LinkState> {
        let pb = self.pb.as_ref()?;
        Some(LinkState {
            scenario: pb.scenario().clone(),
            seed: pb.seed(),
            commands: pb.user_commands().to_vec(),
            at: pb.now(),
            panes: self.pane_commands(),
        })
    }

    /// Write the run into the URL fragment now.
    pub fn write_hash(&mut self) {
        self.hash_dirty = false;
        self.last_hash_write = dom::now_ms();
        let Some(ls) = self.link_state() else { return };
        let enc = ls.encode_view(self.view());
        if enc != self.hash {
            dom::replace_hash(&enc);
            self.hash = enc;
        }
    }

    fn write_hash_soon(&mut self, every_ms: f64) {
        if dom::now_ms() - self.last_hash_write >= every_ms {
            self.write_hash();
        } else {
            self.hash_dirty = true;
        }
    }

    fn set_playing(&mut self, on: bool) {
        if on == self.playing {
            return;
        }
        self.playing = on;
        self.last_frame = None;
        if !on {
            self.write_hash();
            self.refresh_anomalies(true);
        }
    }

    /// The real leader's id (the acting leader of the newest epoch), as the core decides it.
    pub fn leader_id(&self) -> Option<&str> {
        let sim = self.pb.as_ref()?.sim();
        let cl = sim.protocol.single_leader()?;
        cl.leader().map(|i| cl.nodes[i].id.as_str())
    }

    fn sync_clock(&mut self) {
        self.clock_us = self.now() as f64;
    }

    /// Apply one action; returns whether anything on screen changed.
    pub fn apply(&mut self, action: Action) -> bool {
        // Frames and scrubber drags come many times a second: the checkers then run at a bounded rate.
        let throttle = self.playing || matches!(action, Action::Frame(_) | Action::Seek(_, false));
        let changed = self.apply_action(action);
        if changed {
            self.after_change(throttle);
            compare::after_change(self, throttle);
        }
        changed
    }

    fn apply_action(&mut self, action: Action) -> bool {
        match action {
            Action::Frame(ts) => return self.frame(ts),
            Action::TogglePlay => {
                if self.playing {
                    self.set_playing(false);
                } else {
                    if self.at_end() {
                        if let Some(pb) = self.pb.as_mut() {
                            pb.restart();
                        }
                        self.sync_clock();
                    }
                    self.hint = None;
                    self.set_playing(true);
                }
            }
            Action::Pause => {
                if !self.playing {
                    return false;
                }
                self.set_playing(false);
            }
            Action::Step if self.compare.is_some() => return self.compare_step(),
            Action::Step => {
                self.set_playing(false);
                let Some(pb) = self.pb.as_mut() else { return false };
                if !pb.step_event() {
                    self.hint = Some("Nothing left to happen: this is the end of the run.".into());
                }
                self.sync_clock();
                self.write_hash();
            }
            Action::SkipToNext => {
                let Some(pb) = self.pb.as_ref() else { return false };
                let now = pb.now();
                let next = pb.markers().into_iter().map(|(at, _, _)| at).filter(|at| *at > now).min();
                return self.apply(Action::Seek(next.unwrap_or_else(|| pb.until()), true));
            }
            Action::Jump(delta_ms) => {
                let now = self.now() as i64;
                let t = (now + delta_ms * 1000).max(0) as Micros;
                return self.apply(Action::Seek(t, true));
            }
            Action::Restart => {
                let Some(pb) = self.pb.as_mut() else { return false };
                pb.restart();
                self.sync_clock();
                self.last_frame = None;
                self.hint = None;
                self.write_hash();
            }
            Action::SetSpeed(s) => {
                if !(s.is_finite() && s > 0.0) {
                    return false;
                }
                self.speed = s.clamp(0.01, 100.0);
            }
            Action::Seek(t, final_position) => {
                let Some(pb) = self.pb.as_mut() else { return false };
                pb.seek(t);
                self.sync_clock();
                self.last_frame = None;
                self.hint = None;
                if final_position {
                    self.write_hash();
                } else {
                    self.write_hash_soon(HASH_EVERY_SEEKING_MS);
                }
            }
            Action::Do(command) => {
                self.command(command);
            }
            Action::Select(id) => {
                if self.selected == id && (id.is_none() || self.tab == Tab::Nodes) {
                    return false;
                }
                if id.is_some() {
                    self.tab = Tab::Nodes;
                }
                self.selected = id;
                self.page = None;
            }
            Action::ShowPage(p) => self.page = p,
            Action::ToggleLink(a, b) => {
                let cut = self.pb.as_ref().is_some_and(|pb| {
                    let net = &pb.sim().net;
                    net.link_state(&a, &b).0 || net.link_state(&b, &a).0
                });
                self.command(if cut { Command::HealLink(a, b) } else { Command::CutLink(a, b) });
            }
            Action::LoadLesson(name) => {
                // A lesson is a cluster: picking one leaves the editor.
                self.editing = false;
                if self.load_lesson(&name) {
                    self.error = None;
                    self.write_hash();
                }
            }
            Action::LoadHash(fragment) => {
                if fragment.trim_start_matches('#') == self.hash {
                    return false;
                }
                self.load_fragment(&fragment);
                self.hash = fragment.trim_start_matches('#').to_string();
            }
            Action::SetClient(i) => self.client = i,
            Action::SetSql(s) => self.sql = s,
            Action::Send => {
                let sql = self.sql.trim().to_string();
                if sql.is_empty() {
                    self.hint = Some("Type a SQL statement first.".into());
                    return true;
                }
                // The bound scenario files and share links have: longer, and the share link would not open.
                if let Err(e) = crate::scenario::check_statement(&sql) {
                    self.hint = Some(["Not sent: ", &e, "."].concat());
                    return true;
                }
                let Some(client) = self.scenario().and_then(|s| s.clients.get(self.client)).map(|c| c.id.clone())
                else {
                    self.hint = Some("This scenario has no clients to send from.".into());
                    return true;
                };
                self.command(Command::Sql { client, sql });
            }
            Action::DismissError => {
                self.error = None;
                self.file_error = None;
            }
            Action::OpenFile(name, text) => self.open_file(&name, text),
            Action::ToggleTheme => {
                self.dark = !self.dark;
                dom::set_theme_attr(self.dark);
                dom::storage_set(THEME_KEY, if self.dark { "dark" } else { "light" });
            }
            Action::ToggleHelp => self.help = !self.help,
            Action::CloseHelp => {
                if !self.help && self.share == Share::Idle {
                    return false;
                }
                self.help = false;
                self.share = Share::Idle;
            }
            Action::ToggleNarration => self.narration_open = !self.narration_open,
            Action::FlushHash => {
                self.write_hash();
                return false;
            }
            Action::ShareResult(s) => {
                // A late "back to idle" must not hide a manual-copy field the person is using.
                if s == Share::Idle && matches!(self.share, Share::Manual(_)) {
                    return false;
                }
                self.share = s;
            }
            Action::BenchDone(s) => self.bench = Some(s),
            Action::SetTab(t) => {
                if self.tab == t {
                    return false;
                }
                self.tab = t;
            }
            Action::AddFollower(copy) => {
                let Some(pb) = self.pb.as_ref() else { return false };
                let sim = pb.sim();
                let Some(cl) = sim.protocol.single_leader() else {
                    self.hint =
                        Some("Leaderless replicas have no leader to copy: adding one is not modelled yet.".into());
                    return true;
                };
                if cl.nodes.len() >= crate::scenario::MAX_NODES {
                    self.hint = Some("The cluster is as large as the playground allows.".into());
                    return true;
                }
                let taken =
                    cl.nodes.iter().map(|n| n.id.as_str()).chain(sim.clients.iter().map(|c| c.id.as_str())).chain(
                        sim.commands().iter().filter_map(|c| match &c.command {
                            Command::AddNode { id, .. } => Some(id.as_str()),
                            _ => None,
                        }),
                    );
                let id = derive::next_node_id(taken);
                // Only a partition of this scenario (a stale choice from another scenario means the first).
                let group = self.add_group.clone().filter(|g| sim.scenario.partitions.iter().any(|p| &p.id == g));
                let joins = match &group {
                    Some(g) => [" joins partition ", g.as_str(), ": it copies that partition's leader"].concat(),
                    None => " is joining".to_string(),
                };
                let trigger = pb.scenario().replication.log == crate::scenario::LogKind::Trigger;
                if self.command(Command::AddNode { id: id.clone(), copy, group }) && !self.playing {
                    let how = match copy {
                        // Trigger-based replication has no log to replay: the replicator copies the rows it replicates.
                        _ if trigger => " with an initial copy from the replicator",
                        CopyMethod::Snapshot => " from a snapshot",
                        CopyMethod::FileCopy => " by copying files",
                    };
                    self.hint = Some([id.as_str(), joins.as_str(), how, ": press Play to watch it catch up."].concat());
                }
            }
            Action::AddGroup(g) => {
                self.add_group = Some(g);
            }
            Action::Failover(setting) => {
                let Some(pb) = self.pb.as_ref() else { return false };
                let mut scenario = pb.scenario().clone();
                let f = &mut scenario.failover;
                match setting {
                    FailoverSetting::Auto(on) => f.auto = on,
                    FailoverSetting::Epochs(on) => f.epochs = on,
                    FailoverSetting::TimeoutMs(ms) => f.timeout_ms = ms.clamp(1, crate::scenario::MAX_UNTIL_MS),
                }
                return self.rebuild_with(scenario, "Failover settings changed");
            }
            Action::RunSweep => {
                if self.sweep == Sweep::Running {
                    return false;
                }
                self.sweep = Sweep::Running;
            }
            Action::SweepDone { epoch, answer } => {
                if self.sweep != Sweep::Running || epoch != self.jobs.epoch {
                    return false;
                }
                self.jobs.untrack(jobs::JobKind::Sweep);
                self.sweep = match jobs::rows(&answer, crate::check::failover::SweepRow::from_json) {
                    Ok(rows) => Sweep::Done(rows),
                    Err(e) => Sweep::Failed(e),
                };
            }
            Action::Lag(a) => return self.apply_lag(a),
            Action::Jobs(a) => return self.apply_jobs(a),
            Action::Compare(a) => {
                let closed = std::mem::take(&mut self.editing);
                let changed = self.apply_compare(a);
                if closed {
                    // The link no longer names the editing view.
                    self.write_hash();
                }
                return changed || closed;
            }
            Action::Editing(on) => {
                if self.editing == on {
                    return false;
                }
                self.editing = on;
                if on {
                    // The editor has a clock of its own: the run waits, so frames go to typing.
                    self.set_playing(false);
                }
                // `view=collab` in the link: a shared link opens the editor.
                self.write_hash();
            }
            Action::Highlight(ops) => {
                if self.highlight == ops {
                    return false;
                }
                self.highlight = ops;
            }
            Action::Strategy(name) => {
                use crate::protocol::multi_leader::spec::Conflict;
                let Some(pb) = self.pb.as_ref() else { return false };
                let mut scenario = pb.scenario().clone();
                let (Some(ml), Some(c)) =
                    (scenario.multi_leader.as_mut(), Conflict::ALL.into_iter().find(|c| c.name() == name))
                else {
                    return false;
                };
                ml.conflict = c;
                return self.rebuild_with(scenario, &["Conflict strategy now ", c.name()].concat());
            }
            Action::ConflictView(row) => {
                if self.conflict_row == row {
                    return false;
                }
                self.conflict_row = row;
            }
        }
        true
    }

    fn frame(&mut self, ts: f64) -> bool {
        if !self.playing {
            if self.hash_dirty && dom::now_ms() - self.last_hash_write >= HASH_EVERY_SEEKING_MS {
                self.write_hash();
            }
            return false;
        }
        let Some(pb) = self.pb.as_mut() else {
            self.playing = false;
            return true;
        };
        let dt = self.last_frame.map_or(0.0, |last| (ts - last).clamp(0.0, MAX_FRAME_MS));
        self.last_frame = Some(ts);
        if dt <= 0.0 {
            return false;
        }
        let until = pb.until() as f64;
        self.clock_us = (self.clock_us.max(pb.now() as f64) + dt * self.speed * 1000.0).min(until);
        pb.seek(self.clock_us as Micros);
        if self.clock_us >= until {
            self.set_playing(false);
        } else {
            // The moment on screen reaches the URL when the run pauses or ends (and when Share is pressed), not
            // while it plays: a link holds the whole scenario, and rewriting a long URL costs the browser tens of
            // milliseconds (70 ms for a 20 KB link here), a dropped frame each time.
            self.hash_dirty = true;
        }
        true
    }

    /// Do something at the moment on screen, and step 1 µs past it so the consequence shows at once.
    /// Apply a person's command at the moment on screen; false when it was refused (the hint says why).
    fn command(&mut self, command: Command) -> bool {
        let Some(pb) = self.pb.as_ref() else { return false };
        let now = pb.now();
        if now >= pb.until() {
            self.hint = Some("The run has ended: scrub back or restart to change what happens.".into());
            return false;
        }
        // A node that joins must exist (absent) from the start of the run: the simulation fixes every index and
        // name when it is built. A new one means building the run again, with the command in its list.
        let new_node = match &command {
            Command::AddNode { id, .. } => pb.sim().protocol.node_index(id).is_none(),
            _ => false,
        };
        if new_node {
            let scenario = pb.scenario().clone();
            let mut commands: Vec<TimedCommand> = pb.user_commands().iter().filter(|c| c.at <= now).cloned().collect();
            commands.push(TimedCommand { at: now + 1, command });
            if !self.rebuild(scenario, commands, now + 1) {
                return false;
            }
        } else if let Some(pb) = self.pb.as_mut() {
            pb.command(command);
            pb.seek(now + 1);
        }
        self.forget_events_after(Some(now));
        self.hint = if self.playing {
            None
        } else {
            Some("Done: press Play (Space) or Step (→) to watch what follows.".into())
        };
        self.sync_clock();
        self.last_frame = None;
        self.write_hash();
        true
    }
}

/// The library lesson `pb` runs unchanged (same scenario, same seed), if any.
fn lesson_of(pb: &Playback) -> Option<&'static str> {
    // Titles first: parsing only the lessons that could match keeps opening a link fast.
    library::LESSONS
        .iter()
        .filter(|l| pb.scenario().title.as_deref().unwrap_or(l.name) == l.title)
        .map(|l| l.name)
        .find(|name| matches!(library::lesson(name), Some(Ok(s)) if s == *pb.scenario() && s.seed == pb.seed()))
}
