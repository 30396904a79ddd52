//! Long computations the page hands to its worker (`src/web/worker.rs`, `www/worker.js`), so that running many
//! seeds or every strategy never freezes the page.
//!
//! A job is a JSON value `{"kind": …, "scenario": <the scenario, as `Scenario::to_json` writes it>, …}` and its
//! answer is a JSON value: `{"ok": …}` with the result, or `{"error": "…"}` with a message to show. Both cross the
//! worker boundary as text, so this module is the whole contract between the page and its worker, and it runs
//! natively in tests exactly as it runs in the worker. Every job is a pure function of its input.
//!
//! Kinds:
//! - `staleness`: `seeds` (from `seed_from`, default 0), optional `points` (ms after the acknowledgement) → the PBS curve
//!   (`protocol::leaderless::staleness`): `[{"t_ms", "fresh", "runs"}]`.
//! - `strategies`: `seed` → the multi-leader strategies side by side (`protocol::multi_leader::strategies`), one
//!   object per strategy as `replsim conflicts --format json` prints it.
//! - `sweep`: `timeouts_ms`, `seeds` → the failover-timeout sweep (`check::failover::sweep`), `SweepRow::to_json`
//!   per timeout.
//! - `policies`: `seed` → the read-routing policy table (`check::lag::policy_table`), `PolicyRow::to_json` per
//!   policy.

use serde_json::{json, Value};

use crate::protocol::{leaderless::staleness, multi_leader::strategies};
use crate::scenario::Scenario;

/// Seeds the page's staleness curve runs (the issue's 1,000: about 1.5 s natively).
pub const STALENESS_SEEDS: u64 = 1_000;

/// The job `job` as text, answered as text (what the worker calls).
pub fn run_text(job: &str) -> String {
    let answer = match serde_json::from_str::<Value>(job) {
        Ok(v) => run(&v),
        Err(e) => json!({"error": format!("the job is not JSON: {e}")}),
    };
    answer.to_string()
}

/// Run one job. Never panics on any input: a malformed job is an `{"error": …}` answer.
pub fn run(job: &Value) -> Value {
    match answer(job) {
        Ok(v) => json!({"ok": v}),
        Err(e) => json!({"error": e}),
    }
}

fn answer(job: &Value) -> Result<Value, String> {
    let kind = job.get("kind").and_then(Value::as_str).ok_or("the job has no kind")?;
    let scenario = Scenario::from_value(job.get("scenario").ok_or("the job has no scenario")?)
        .map_err(|e| format!("the job's scenario: {e}"))?;
    let uint = |key: &str, default: u64| {
        job.get(key).map_or(Ok(default), |v| v.as_u64().ok_or(format!("{key}: expected a whole number")))
    };
    match kind {
        "staleness" => {
            if scenario.replication.leaderless.is_none() {
                return Err("the staleness curve is about leaderless replication (replication.leaderless)".into());
            }
            // The page sends the seeds in chunks (`seed_from`), to show progress and to be cancellable.
            let seeds = uint("seeds", STALENESS_SEEDS)?.clamp(1, 10_000);
            let from = uint("seed_from", 0)?.min(1 << 40);
            let ts = match job.get("points").and_then(Value::as_array) {
                Some(ts) => ts
                    .iter()
                    .map(|t| t.as_u64().ok_or("points: expected whole milliseconds"))
                    .collect::<Result<Vec<_>, _>>()?,
                None => staleness::default_points(&scenario),
            };
            let points = staleness::curve(&scenario, &ts, from..from + seeds)?;
            Ok(Value::Array(points.iter().map(|p| json!({"t_ms": p.t_ms, "fresh": p.fresh, "runs": p.runs})).collect()))
        }
        "strategies" => {
            let figures = strategies::run_all(&scenario, uint("seed", scenario.seed)?)?;
            Ok(Value::Array(figures.iter().map(strategies::Figures::to_json).collect()))
        }
        "sweep" => {
            let timeouts = match job.get("timeouts_ms").and_then(Value::as_array) {
                Some(ts) => ts
                    .iter()
                    .map(|t| t.as_u64().filter(|t| *t > 0).ok_or("timeouts_ms: expected whole milliseconds above 0"))
                    .collect::<Result<Vec<_>, _>>()?,
                None => return Err("the sweep needs timeouts_ms".into()),
            };
            if timeouts.len() > 32 {
                return Err("timeouts_ms: at most 32 timeouts".into());
            }
            let seeds = uint("seeds", 10)?.clamp(1, 1_000);
            let rows = crate::check::failover::sweep(&scenario, &timeouts, 0..seeds);
            Ok(Value::Array(rows.iter().map(crate::check::failover::SweepRow::to_json).collect()))
        }
        "policies" => {
            let rows = crate::check::lag::policy_table(&scenario, uint("seed", scenario.seed)?);
            Ok(Value::Array(rows.iter().map(crate::check::lag::PolicyRow::to_json).collect()))
        }
        other => Err(format!("no job of kind {other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lesson(name: &str) -> Value {
        crate::library::lesson(name).unwrap().unwrap().to_json()
    }

    #[test]
    fn bad_jobs_are_answered_with_an_error() {
        for job in [
            "",
            "[]",
            "{}",
            r#"{"kind":"staleness"}"#,
            r#"{"kind":"x","scenario":{}}"#,
            r#"{"kind":"staleness","scenario":{"nodes":5}}"#,
        ] {
            let a: Value = serde_json::from_str(&run_text(job)).unwrap();
            assert!(a["error"].as_str().is_some_and(|e| !e.is_empty()), "{job}: {a}");
        }
        let wrong = run(&json!({"kind": "staleness", "scenario": lesson("multi-leader-conflict")}));
        assert!(wrong["error"].as_str().unwrap().contains("leaderless"), "{wrong}");
        let wrong = run(&json!({"kind": "strategies", "scenario": lesson("leaderless-read-repair")}));
        assert!(wrong["error"].as_str().unwrap().contains("multi-leader"), "{wrong}");
    }

    #[test]
    fn the_worker_answers_what_the_core_computes() {
        let s = crate::library::lesson("leaderless-read-repair").unwrap().unwrap();
        let a = run(&json!({"kind": "staleness", "scenario": s.to_json(), "seeds": 20, "points": [0, 50]}));
        let direct = staleness::curve(&s, &[0, 50], 0..20).unwrap();
        let got: Vec<(u64, u64, u64)> = a["ok"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p["t_ms"].as_u64().unwrap(), p["fresh"].as_u64().unwrap(), p["runs"].as_u64().unwrap()))
            .collect();
        assert_eq!(got, direct.iter().map(|p| (p.t_ms, p.fresh, p.runs)).collect::<Vec<_>>());
        // In chunks of seeds, as the page sends them: the sums are the whole curve.
        let chunk = |from: u64| {
            run(
                &json!({"kind": "staleness", "scenario": s.to_json(), "seed_from": from, "seeds": 10, "points": [0, 50]}),
            )
        };
        let (a, b) = (chunk(0), chunk(10));
        for i in 0..2 {
            assert_eq!(a["ok"][i]["runs"].as_u64().unwrap() + b["ok"][i]["runs"].as_u64().unwrap(), direct[i].runs);
            assert_eq!(a["ok"][i]["fresh"].as_u64().unwrap() + b["ok"][i]["fresh"].as_u64().unwrap(), direct[i].fresh);
        }

        let s = crate::library::lesson("timeout-tradeoff").unwrap().unwrap();
        let a = run(&json!({"kind": "sweep", "scenario": s.to_json(), "timeouts_ms": [100, 400], "seeds": 3}));
        let rows: Vec<_> = a["ok"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| crate::check::failover::SweepRow::from_json(r).unwrap())
            .collect();
        assert_eq!(rows, crate::check::failover::sweep(&s, &[100, 400], 0..3));

        let s = crate::library::lesson("lag-read-your-writes").unwrap().unwrap();
        let a = run(&json!({"kind": "policies", "scenario": s.to_json(), "seed": 3}));
        let rows: Vec<_> =
            a["ok"].as_array().unwrap().iter().map(|r| crate::check::lag::PolicyRow::from_json(r).unwrap()).collect();
        let direct = crate::check::lag::policy_table(&s, 3);
        assert!(!direct.is_empty() && direct.iter().any(|r| !r.anomalies.is_empty()), "{direct:?}");
        assert_eq!(rows, direct);

        let s = crate::library::lesson("multi-leader-conflict").unwrap().unwrap();
        let a = run(&json!({"kind": "strategies", "scenario": s.to_json()}));
        let direct = strategies::run_all(&s, s.seed).unwrap();
        assert_eq!(a["ok"], Value::Array(direct.iter().map(strategies::Figures::to_json).collect()));
    }
}
