//! The `replsim` command line: exit codes, report contract, trace output.

use std::process::Command;

fn replsim(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_replsim")).args(args).output().expect("runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[test]
fn run_prints_the_report_contract() {
    let (code, out, err) = replsim(&["run", "lesson:basics-async", "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    for k in ["seed", "until_ms", "trace_hash", "nodes", "history", "anomalies", "metrics"] {
        assert!(v.get(k).is_some(), "report lacks {k}");
    }
    let n = &v["nodes"][0];
    for k in ["id", "role", "status", "lsn", "tables"] {
        assert!(n.get(k).is_some(), "node lacks {k}");
    }
    let h = &v["history"][0];
    for k in ["client", "op", "sql", "node", "start_ms", "end_ms", "ok", "result"] {
        assert!(h.get(k).is_some(), "history entry lacks {k}");
    }
    assert_eq!(v["nodes"][1]["tables"]["users"].as_array().unwrap().len(), 16);
    assert!(v["metrics"]["per_kind"]["replicate"]["bytes"].as_u64().unwrap() > 0);
}

#[test]
fn seed_and_until_override_the_file() {
    let (_, a, _) = replsim(&["run", "lesson:basics-async", "--seed", "5"]);
    let (_, b, _) = replsim(&["run", "lesson:basics-async", "--seed", "6", "--until-ms", "500"]);
    let a: serde_json::Value = serde_json::from_str(&a).unwrap();
    let b: serde_json::Value = serde_json::from_str(&b).unwrap();
    assert_eq!(a["seed"], 5);
    assert_eq!(b["until_ms"], 500);
    assert_ne!(a["trace_hash"], b["trace_hash"]);
}

#[test]
fn bad_input_exits_2_with_the_error_on_stderr() {
    let dir = std::env::temp_dir().join(format!("replsim-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.json");
    std::fs::write(&bad, r#"{"nodes": [{"id": "n1", "role": "leader", "clock": {"drift_ppm": 1.5}}]}"#).unwrap();
    let (code, out, err) = replsim(&["run", bad.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(out.is_empty());
    assert!(err.contains("nodes[0].clock.drift_ppm: expected an integer, found 1.5"), "{err}");
    let (code, _, err) = replsim(&["run", "/no/such/file.json"]);
    assert_eq!(code, 2);
    assert!(err.contains("cannot read"), "{err}");
    let (code, _, _) = replsim(&["run", "lesson:basics-async", "--format", "xml"]);
    assert_eq!(code, 2);
}

#[test]
fn text_format_is_a_readable_summary() {
    let (code, out, _) = replsim(&["run", "lesson:statement-rand", "--format", "text"]);
    assert_eq!(code, 0);
    assert!(out.contains("statement log"), "{out}");
    assert!(out.contains("divergence"), "{out}");
}

#[test]
fn trace_prints_one_event_per_line_and_the_hash() {
    let (code, out, _) = replsim(&["trace", "lesson:follower-catch-up"]);
    assert_eq!(code, 0);
    assert!(out.lines().any(|l| l.contains("crash    n3")));
    assert!(out.lines().any(|l| l.contains("fetch")));
    let (_, report, _) = replsim(&["run", "lesson:follower-catch-up"]);
    let v: serde_json::Value = serde_json::from_str(&report).unwrap();
    let hash = v["trace_hash"].as_str().unwrap();
    assert!(out.trim_end().ends_with(&format!("# trace hash {hash}")));
}

#[test]
fn embed_prints_an_iframe_whose_link_replays_the_scenario() {
    let (code, out, _) = replsim(&["embed", "lesson:basics-async", "--base", "https://example.org/pg/"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("<iframe src=\"https://example.org/pg/?embed=1#lesson=basics-async\""), "{out}");
    let (code, out, _) = replsim(&["embed", "scenarios/far-follower.json"]);
    assert_eq!(code, 0);
    let fragment = out.split('#').nth(1).and_then(|f| f.split('"').next()).expect("a #run= link");
    let link = replsim::link::LinkState::decode(fragment).expect("the link decodes");
    let file = std::fs::read_to_string("scenarios/far-follower.json").unwrap();
    assert_eq!(link.scenario, replsim::scenario::Scenario::from_json_str(&file).unwrap());
    let (code, _, err) = replsim(&["embed", "no-such-file.json"]);
    assert_eq!(code, 2);
    assert!(err.contains("cannot read"), "{err}");
}
