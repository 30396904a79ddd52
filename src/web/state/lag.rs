//! The replication-lag views' share of the model (DDIA 5.2): which picture the stage shows (the cluster or the
//! space-time diagram), the diagram's time window, the routing-policy table, and the actions that change a
//! client's read routing or a follower's apply delay. Those change the scenario, so the run is rebuilt from it
//! with the same seed and commands, standing at the same moment, and every count on screen follows.
//!
//! A child module of `state` so that it can use the model's private rebuild machinery.

use crate::check::lag::PolicyRow;
use crate::scenario::{Command, Role, Route, Scenario};

use super::{Model, Sweep, Tab};

/// The largest apply delay the controls offer (ms).
pub const MAX_APPLY_DELAY_MS: u64 = 5_000;

/// Time windows the space-time diagram offers (ms); `None` is the whole run so far.
pub const WINDOWS_MS: &[Option<u64>] = &[Some(500), Some(1000), Some(2000), Some(5000), None];
pub const DEFAULT_WINDOW_MS: Option<u64> = Some(1000);

/// What the stage shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    Cluster,
    SpaceTime,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Policies {
    Idle,
    /// Asked for: the page shows "running…" and a timer starts the computation after the next paint.
    Running,
    /// The table, and the scenario and seed it was computed for (a changed scenario makes it stale).
    Done {
        scenario: Box<Scenario>,
        seed: u64,
        rows: Vec<PolicyRow>,
    },
    Failed(String),
}

pub struct LagUi {
    pub stage: Stage,
    pub window_ms: Option<u64>,
    pub policies: Policies,
}

impl Default for LagUi {
    fn default() -> Self {
        LagUi { stage: Stage::Cluster, window_ms: DEFAULT_WINDOW_MS, policies: Policies::Idle }
    }
}

/// A change to one client's read routing.
#[derive(Clone, Debug, PartialEq)]
pub enum ClientParam {
    Route(Route),
    WindowMs(u64),
    MaxLagMs(u64),
    ShareToken(bool),
}

pub enum LagAction {
    SetStage(Stage),
    SetWindow(Option<u64>),
    /// Change client `usize`'s routing: the run is rebuilt from the changed scenario, standing at the same moment.
    Client(usize, ClientParam),
    /// Route every client that reads this way (a row of the policy table).
    RouteReaders(Route),
    /// Set the apply delay (ms) of the scenario's node with this index.
    ApplyDelay(usize, u64),
    /// Show "running…" (the table itself is computed in the worker: `web::worker`).
    RunPolicies,
    /// The worker's answer for the scenario of `epoch` (`state::jobs`).
    PoliciesDone {
        epoch: u64,
        answer: serde_json::Value,
    },
}

/// Does this scenario read from followers (some client routes reads away from the leader)? Such runs are about
/// replication lag: the stage opens on the space-time diagram and the side column on the Lag tab.
pub fn reads_from_followers(s: &Scenario) -> bool {
    s.clients.iter().any(|c| c.route != Route::Leader)
}

/// Indices of the clients that send reads in the scenario's workload (the ones a routing policy affects), as
/// `lag::policy_table` picks them.
pub fn readers(s: &Scenario) -> Vec<usize> {
    (0..s.clients.len())
        .filter(|&i| {
            let id = &s.clients[i].id;
            s.workload.iter().any(|w| {
                matches!(&w.command, Command::Sql { client, sql } if client == id && crate::world::sim::looks_like_read(sql))
            })
        })
        .collect()
}

/// Whether two scenarios differ at most in their readers' routes.
fn same_but_reader_routes(a: &Scenario, b: &Scenario) -> bool {
    if a.clients.len() != b.clients.len() {
        return false;
    }
    let mut b = b.clone();
    for i in readers(a) {
        b.clients[i].route = a.clients[i].route;
    }
    *a == b
}

/// The route all readers share, if they share one (the row the policy table marks as current).
pub fn readers_route(s: &Scenario) -> Option<Route> {
    let rs = readers(s);
    let first = s.clients.get(*rs.first()?)?.route;
    rs.iter().all(|&i| s.clients[i].route == first).then_some(first)
}

pub fn route_of(name: &str) -> Option<Route> {
    Route::ALL.iter().copied().find(|r| r.name() == name)
}

/// What a route does, in one line.
pub fn route_help(r: Route) -> &'static str {
    match r {
        Route::Leader => "Every read goes to the leader: never stale, but the leader serves all the load.",
        Route::Random => "Each read goes to a replica picked at random: the load spreads, and reads may be stale or go back in time.",
        Route::Sticky => "Always the same replica, picked by a hash of the user id: reads never go back in time (while that replica lives).",
        Route::OwnFromLeader => "Rows the user owns come from the leader, everything else from followers: the user always sees their own edits.",
        Route::LeaderWindow => "Everything from the leader for a while after the user's last write, then from followers.",
        Route::LsnToken => "The client remembers the log position of its last write; a replica that has not reached it waits briefly, then hands the read to the leader.",
        Route::MaxLag => "A follower more than the allowed lag behind hands the read to the leader.",
    }
}

/// Called when a new run is put on screen (a lesson, a link): runs about lag open on their views.
pub(super) fn on_install(m: &mut Model) {
    m.lag.policies = Policies::Idle;
    let lagging = m.pb.as_ref().is_some_and(|pb| reads_from_followers(pb.scenario()));
    m.lag.stage = if lagging { Stage::SpaceTime } else { Stage::Cluster };
    if lagging && m.mode == super::Mode::Full {
        m.tab = Tab::Lag;
    }
    // The routing controls open on the first client that reads.
    let first_reader = m.pb.as_ref().and_then(|pb| readers(pb.scenario()).first().copied());
    if let (true, Some(r)) = (lagging, first_reader) {
        m.client = r;
    }
}

impl Model {
    /// Whether the stage shows the space-time diagram.
    pub fn space_time(&self) -> bool {
        self.lag.stage == Stage::SpaceTime
    }

    /// The policy table for the run on screen, if it was computed for this scenario and seed. The table sets every
    /// reader's route itself, so it stays valid when only those routes changed (a row was picked).
    pub fn policy_rows(&self) -> Option<&[PolicyRow]> {
        let pb = self.pb.as_ref()?;
        match &self.lag.policies {
            Policies::Done { scenario, seed, rows }
                if *seed == pb.seed() && same_but_reader_routes(scenario, pb.scenario()) =>
            {
                Some(rows)
            }
            _ => None,
        }
    }

    pub(super) fn apply_lag(&mut self, action: LagAction) -> bool {
        match action {
            LagAction::SetStage(s) => {
                if self.lag.stage == s {
                    return false;
                }
                self.lag.stage = s;
                true
            }
            LagAction::SetWindow(w) => {
                if self.lag.window_ms == w {
                    return false;
                }
                self.lag.window_ms = w;
                true
            }
            LagAction::Client(i, param) => {
                let Some(mut s) = self.scenario().cloned() else { return false };
                let Some(c) = s.clients.get_mut(i) else { return false };
                let what = match param {
                    ClientParam::Route(r) => {
                        c.route = r;
                        [c.id.as_str(), "'s reads now go by ", r.name()].concat()
                    }
                    ClientParam::WindowMs(v) => {
                        c.window_ms = v.min(crate::scenario::MAX_UNTIL_MS);
                        [c.id.as_str(), "'s leader window changed"].concat()
                    }
                    ClientParam::MaxLagMs(v) => {
                        c.max_lag_ms = v.min(crate::scenario::MAX_UNTIL_MS);
                        [c.id.as_str(), "'s allowed lag changed"].concat()
                    }
                    ClientParam::ShareToken(on) => {
                        c.share_token = on;
                        [
                            c.id.as_str(),
                            if on { " now shares" } else { " no longer shares" },
                            " its write token across the user's devices",
                        ]
                        .concat()
                    }
                };
                self.rebuild_with(s, &what)
            }
            LagAction::RouteReaders(r) => {
                let Some(mut s) = self.scenario().cloned() else { return false };
                for i in readers(&s) {
                    s.clients[i].route = r;
                }
                self.rebuild_with(s, &["Every reader now reads by ", r.name()].concat())
            }
            LagAction::ApplyDelay(i, v) => {
                let Some(mut s) = self.scenario().cloned() else { return false };
                let Some(n) = s.nodes.get_mut(i) else { return false };
                if n.role == Role::Leader {
                    return false;
                }
                n.apply_delay_ms = v.min(MAX_APPLY_DELAY_MS);
                let what =
                    [n.id.as_str(), " now applies changes ", &n.apply_delay_ms.to_string(), " ms after receiving them"]
                        .concat();
                self.rebuild_with(s, &what)
            }
            LagAction::RunPolicies => {
                if self.lag.policies == Policies::Running {
                    return false;
                }
                self.lag.policies = Policies::Running;
                true
            }
            LagAction::PoliciesDone { epoch, answer } => {
                if self.lag.policies != Policies::Running || epoch != self.jobs.epoch {
                    return false;
                }
                let Some(pb) = self.pb.as_ref() else { return false };
                let (scenario, seed) = (pb.scenario().clone(), pb.seed());
                self.lag.policies = match super::jobs::rows(&answer, crate::check::lag::PolicyRow::from_json) {
                    Ok(rows) => Policies::Done { scenario: Box::new(scenario), seed, rows },
                    Err(e) => Policies::Failed(e),
                };
                true
            }
        }
    }

    /// Replace the run by one of `scenario` (same seed and commands), standing at the same moment.
    pub(super) fn rebuild_with(&mut self, scenario: Scenario, what: &str) -> bool {
        let Some(pb) = self.pb.as_ref() else { return false };
        if scenario == *pb.scenario() {
            return false;
        }
        let (commands, at) = (pb.user_commands().to_vec(), pb.now());
        if self.rebuild(scenario, commands, at) {
            self.sweep = Sweep::Idle;
            self.forget_events_after(None);
            self.hint = Some([what, ": the run is replayed with it up to this moment."].concat());
            self.write_hash();
        }
        true
    }
}
