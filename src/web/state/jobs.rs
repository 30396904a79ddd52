//! The model's share of the worker's jobs (`src/jobs.rs`, `src/web/worker.rs`): the staleness curves a person drew
//! (DDIA 5.4, Bailis et al.'s PBS) and the multi-leader strategies side by side (DDIA 5.3). A job runs in the
//! worker while the page keeps playing; its answer comes back as an action and is kept only if the run it was asked
//! for is still the one on screen.

use serde_json::Value;

use super::Model;

/// Curves kept on the staleness chart at once (the oldest goes first).
pub const MAX_CURVES: usize = 4;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobKind {
    Staleness,
    Strategies,
    /// The failover-timeout sweep (its state is `Model::sweep`; here only its progress and cancel).
    Sweep,
}

/// Set to stop a chunked job between chunks (`web::worker::run_chunks`).
pub type CancelToken = std::rc::Rc<std::cell::Cell<bool>>;

#[derive(Clone, Debug, PartialEq)]
pub enum JobState {
    Idle,
    /// Sent to the worker for the scenario of `epoch`, labelled for the chart.
    Running {
        epoch: u64,
        label: String,
    },
    Failed(String),
}

/// One staleness curve: its settings and `(t ms, fresh, runs)` per point.
#[derive(Clone, Debug, PartialEq)]
pub struct Curve {
    pub label: String,
    pub points: Vec<(u64, u64, u64)>,
}

/// The staleness curve's settings form: n, w, r and the largest one-way network delay (ms).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PbsForm {
    pub n: u64,
    pub w: u64,
    pub r: u64,
    pub latency_max_ms: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PbsField {
    N,
    W,
    R,
    LatencyMax,
}

pub struct JobsUi {
    pub staleness: JobState,
    pub curves: Vec<Curve>,
    pub form: Option<PbsForm>,
    pub strategies: JobState,
    /// `replsim conflicts --format json`'s rows, for the scenario they were computed for (its `epoch`).
    pub figures: Option<(u64, Value)>,
    /// Chunks done of chunks sent, and the cancel token, of each job running in chunks.
    pub progress: Vec<(JobKind, usize, usize, CancelToken)>,
    /// Bumped whenever another scenario goes on screen (a lesson, a rebuild; not a person's command, which jobs
    /// leave out like the sweep does): answers for an older epoch are dropped.
    pub epoch: u64,
}

impl Default for JobsUi {
    fn default() -> Self {
        JobsUi {
            staleness: JobState::Idle,
            curves: Vec::new(),
            form: None,
            strategies: JobState::Idle,
            figures: None,
            progress: Vec::new(),
            epoch: 0,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum JobAction {
    Start {
        kind: JobKind,
        label: String,
    },
    /// The worker's answer for the scenario of `epoch` (`{"ok": …}` or `{"error": …}`).
    Done {
        kind: JobKind,
        epoch: u64,
        answer: Value,
    },
    /// A chunked job started: its cancel token, and `total` chunks to go.
    Track {
        kind: JobKind,
        total: usize,
        cancel: CancelToken,
    },
    Progress {
        kind: JobKind,
        epoch: u64,
        done: usize,
    },
    /// Stop a chunked job (between chunks) and forget it.
    Cancel(JobKind),
    Form(PbsField, u64),
    ClearCurves,
}

impl JobsUi {
    pub fn state(&self, kind: JobKind) -> &JobState {
        match kind {
            JobKind::Staleness => &self.staleness,
            JobKind::Strategies => &self.strategies,
            JobKind::Sweep => &JobState::Idle,
        }
    }

    fn state_mut(&mut self, kind: JobKind) -> &mut JobState {
        match kind {
            JobKind::Staleness => &mut self.staleness,
            JobKind::Strategies | JobKind::Sweep => &mut self.strategies,
        }
    }

    /// Chunks done and in all, while a chunked job runs.
    pub fn progress_of(&self, kind: JobKind) -> Option<(usize, usize)> {
        self.progress.iter().find(|p| p.0 == kind).map(|p| (p.1, p.2))
    }

    pub(super) fn untrack(&mut self, kind: JobKind) {
        for p in self.progress.iter().filter(|p| p.0 == kind) {
            p.3.set(true);
        }
        self.progress.retain(|p| p.0 != kind);
    }

    /// The form's values: what the person typed, else the scenario's n, w, r and network.
    pub fn form_or(&self, m: &Model) -> PbsForm {
        self.form.unwrap_or_else(|| {
            let s = m.scenario();
            let spec = s.and_then(|s| s.replication.leaderless.as_ref());
            PbsForm {
                n: spec.map_or(3, |l| l.n as u64),
                w: spec.map_or(1, |l| l.w as u64),
                r: spec.map_or(1, |l| l.r as u64),
                latency_max_ms: s.map_or(20, |s| s.network.latency_max_ms),
            }
        })
    }
}

impl Model {
    pub(super) fn apply_jobs(&mut self, a: JobAction) -> bool {
        match a {
            JobAction::Start { kind, label } => {
                if kind == JobKind::Sweep || matches!(self.jobs.state(kind), JobState::Running { .. }) {
                    return false;
                }
                *self.jobs.state_mut(kind) = JobState::Running { epoch: self.jobs.epoch, label };
            }
            JobAction::Done { kind, epoch, answer } => {
                let JobState::Running { epoch: asked, label } = self.jobs.state(kind).clone() else { return false };
                if asked != epoch || epoch != self.jobs.epoch {
                    return false;
                }
                self.jobs.untrack(kind);
                let Some(ok) = answer.get("ok") else {
                    let e = answer.get("error").and_then(Value::as_str).unwrap_or("the worker gave no answer");
                    *self.jobs.state_mut(kind) = JobState::Failed(e.to_string());
                    return true;
                };
                *self.jobs.state_mut(kind) = JobState::Idle;
                match kind {
                    JobKind::Staleness => {
                        let points = ok
                            .as_array()
                            .map(|ps| {
                                ps.iter()
                                    .filter_map(|p| {
                                        Some((p["t_ms"].as_u64()?, p["fresh"].as_u64()?, p["runs"].as_u64()?))
                                    })
                                    .collect()
                            })
                            .unwrap_or_default();
                        self.jobs.curves.retain(|c| c.label != label);
                        if self.jobs.curves.len() >= MAX_CURVES {
                            self.jobs.curves.remove(0);
                        }
                        self.jobs.curves.push(Curve { label, points });
                    }
                    JobKind::Strategies => self.jobs.figures = Some((epoch, ok.clone())),
                    // The sweep answers with `Action::SweepDone`.
                    JobKind::Sweep => {}
                }
            }
            JobAction::Track { kind, total, cancel } => {
                self.jobs.untrack(kind);
                self.jobs.progress.push((kind, 0, total, cancel));
            }
            JobAction::Progress { kind, epoch, done } => {
                if epoch != self.jobs.epoch {
                    return false;
                }
                let Some(p) = self.jobs.progress.iter_mut().find(|p| p.0 == kind) else { return false };
                p.1 = done;
            }
            JobAction::Cancel(kind) => {
                self.jobs.untrack(kind);
                match kind {
                    JobKind::Sweep => self.sweep = super::Sweep::Idle,
                    _ => *self.jobs.state_mut(kind) = JobState::Idle,
                }
            }
            JobAction::Form(field, v) => {
                let mut f = self.jobs.form_or(self);
                match field {
                    // (w and r cannot exceed n: shrinking n lowers them with it.)
                    PbsField::N => (f.n, f.w, f.r) = (v, f.w.min(v), f.r.min(v)),
                    PbsField::W => f.w = v,
                    PbsField::R => f.r = v,
                    PbsField::LatencyMax => f.latency_max_ms = v,
                }
                self.jobs.form = Some(f);
            }
            JobAction::ClearCurves => self.jobs.curves.clear(),
        }
        true
    }
}

/// The staleness curve from its chunks of seeds: each chunk's `[{"t_ms", "fresh", "runs"}]`, summed per point.
pub fn sum_curve(chunks: &[Value]) -> Value {
    let mut sum: Vec<(u64, u64, u64)> = Vec::new();
    for c in chunks {
        for (i, p) in c.as_array().into_iter().flatten().enumerate() {
            let (t, fresh, runs) =
                (p["t_ms"].as_u64().unwrap_or(0), p["fresh"].as_u64().unwrap_or(0), p["runs"].as_u64().unwrap_or(0));
            match sum.get_mut(i) {
                Some(s) => {
                    s.1 += fresh;
                    s.2 += runs;
                }
                None => sum.push((t, fresh, runs)),
            }
        }
    }
    Value::Array(sum.into_iter().map(|(t, f, r)| serde_json::json!({"t_ms": t, "fresh": f, "runs": r})).collect())
}

/// The rows of a worker's answer (`{"ok": [row, …]}`), or the message to show.
pub fn rows<T>(answer: &Value, row: impl Fn(&Value) -> Option<T>) -> Result<Vec<T>, String> {
    match answer.get("ok").and_then(Value::as_array) {
        Some(rows) => rows
            .iter()
            .map(|r| row(r).ok_or_else(|| format!("the worker sent a row this page cannot read: {r}")))
            .collect(),
        None => Err(answer.get("error").and_then(Value::as_str).unwrap_or("the worker gave no answer").to_string()),
    }
}

/// A new run is on screen: answers on their way are for the old one; a new lesson starts a new chart.
pub(super) fn on_install(m: &mut Model, same_lesson: bool) {
    m.jobs.epoch += 1;
    for kind in [JobKind::Staleness, JobKind::Strategies, JobKind::Sweep] {
        m.jobs.untrack(kind);
    }
    for kind in [JobKind::Staleness, JobKind::Strategies] {
        if matches!(m.jobs.state(kind), JobState::Running { .. } | JobState::Failed(_)) {
            *m.jobs.state_mut(kind) = JobState::Idle;
        }
    }
    if !same_lesson {
        m.jobs.curves.clear();
        m.jobs.form = None;
    }
}
