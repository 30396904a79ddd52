//! Browser tests of the playground's UI glue (wasm-bindgen-test, in headless Chromium):
//!
//! ```sh
//! CHROMEDRIVER=/usr/bin/chromedriver cargo test --target wasm32-unknown-unknown --test web
//! ```
//!
//! (`.cargo/config.toml` sets `wasm-bindgen-test-runner` as the wasm32 runner.) Natively this file is empty.
#![cfg(target_arch = "wasm32")]

use std::time::Duration;

use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;

use replsim::library;
use replsim::link::LinkState;
use replsim::playback::Playback;
use replsim::scenario::Command;
use replsim::web::{self, text};

wasm_bindgen_test_configure!(run_in_browser);

/// The native behaviour table (`tests/behaviour.rs` writes it): every lesson's trace hash as the native build computes
/// it. The browser must compute the same for every row.
const BEHAVIOUR_TABLE: &str = include_str!("golden/behaviour.tsv");

fn document() -> web_sys::Document {
    web_sys::window().and_then(|w| w.document()).expect("a document")
}

/// A fresh container in the test page.
fn container() -> web_sys::Element {
    let doc = document();
    let div = doc.create_element("div").expect("div");
    doc.body().expect("body").append_child(&div).expect("append");
    div
}

async fn settle() {
    yew::platform::time::sleep(Duration::from_millis(60)).await;
}

fn q(root: &web_sys::Element, selector: &str) -> Option<web_sys::Element> {
    root.query_selector(selector).ok().flatten()
}

fn count(root: &web_sys::Element, selector: &str) -> u32 {
    root.query_selector_all(selector).map(|l| l.length()).unwrap_or(0)
}

/// A bubbling click (Yew listens at the root), on SVG elements too.
fn click(el: &web_sys::Element) {
    let init = web_sys::MouseEventInit::new();
    init.set_bubbles(true);
    init.set_cancelable(true);
    let ev = web_sys::MouseEvent::new_with_mouse_event_init_dict("click", &init).expect("event");
    el.dispatch_event(&ev).expect("dispatch");
}

fn press(key: &str, shift: bool) {
    let init = web_sys::KeyboardEventInit::new();
    init.set_key(key);
    init.set_shift_key(shift);
    init.set_bubbles(true);
    init.set_cancelable(true);
    let ev = web_sys::KeyboardEvent::new_with_keyboard_event_init_dict("keydown", &init).expect("event");
    document().body().expect("body").dispatch_event(&ev).expect("dispatch");
}

fn attr(el: &web_sys::Element, name: &str) -> String {
    el.get_attribute(name).unwrap_or_default()
}

fn clock_text(root: &web_sys::Element) -> String {
    q(root, "[data-testid=clock]").and_then(|e| e.text_content()).unwrap_or_default()
}

#[wasm_bindgen_test]
async fn renders_the_cluster_and_the_controls() {
    let root = container();
    let app = web::mount_default(root.clone());
    settle().await;
    assert!(q(&root, "main#app").is_some());
    assert_eq!(count(&root, "g.node"), 3);
    let n1 = q(&root, r#"g.node[data-node="n1"]"#).expect("n1");
    assert_eq!(attr(&n1, "data-role"), "leader");
    assert_eq!(attr(&n1, "data-status"), "running");
    assert_eq!(attr(&n1, "data-lsn"), "0");
    // Three nodes: three links, a < b in node order.
    assert_eq!(count(&root, "g.link"), 3);
    assert!(q(&root, r#"g.link[data-a="n1"][data-b="n2"][data-cut="false"]"#).is_some());
    for id in [
        "play",
        "step",
        "restart",
        "speed",
        "scrubber",
        "clock",
        "share",
        "theme",
        "lesson-select",
        "narration",
        "trace-hash",
        "history",
        "client-select",
        "sql-input",
        "send",
    ] {
        assert!(q(&root, &format!("[data-testid={id}]")).is_some(), "missing data-testid={id}");
    }
    assert!(q(&root, "[data-testid=error-banner]").is_none());
    assert_eq!(clock_text(&root), "0.000 ms");
    let play = q(&root, "[data-testid=play]").expect("play");
    assert_eq!(attr(&play, "aria-pressed"), "false");
    let lessons = count(&root, "[data-testid=lesson-select] option");
    assert_eq!(lessons as usize, library::LESSONS.len());
    let sql =
        q(&root, "[data-testid=sql-input]").and_then(|e| e.dyn_into::<web_sys::HtmlInputElement>().ok()).expect("sql");
    assert_eq!(sql.value(), "INSERT INTO users (name) VALUES ('zoe')");
    app.destroy();
}

#[wasm_bindgen_test]
async fn clicking_a_node_then_crash_changes_its_status() {
    let root = container();
    let app = web::mount_default(root.clone());
    settle().await;
    click(&q(&root, r#"g.node[data-node="n2"]"#).expect("n2"));
    settle().await;
    let crash = q(&root, "[data-testid=crash]").expect("the inspector shows Crash for the selected node");
    assert!(q(&root, "[data-testid=restart-node]").is_some());
    assert!(q(&root, "[data-testid=pause-node]").is_some());
    assert!(q(&root, "[data-testid=resume-node]").is_some());
    click(&crash);
    settle().await;
    let n2 = q(&root, r#"g.node[data-node="n2"]"#).expect("n2");
    assert_eq!(attr(&n2, "data-status"), "crashed");
    // Now only Restart is offered.
    let restart = q(&root, "[data-testid=restart-node]").and_then(|e| e.dyn_into::<web_sys::HtmlButtonElement>().ok());
    assert!(restart.is_some_and(|b| !b.disabled()));
    // The command is in the URL.
    let hash = web_sys::window().and_then(|w| w.location().hash().ok()).unwrap_or_default();
    let state = LinkState::decode(&hash).expect("the fragment decodes");
    assert_eq!(state.commands.len(), 1);
    assert_eq!(state.commands[0].command, Command::Crash("n2".into()));
    app.destroy();
}

#[wasm_bindgen_test]
async fn clicking_a_link_cuts_it_and_heal_all_heals() {
    let root = container();
    let app = web::mount_default(root.clone());
    settle().await;
    click(&q(&root, r#"g.link[data-a="n1"][data-b="n3"] line.hit"#).expect("link n1-n3"));
    settle().await;
    assert!(q(&root, r#"g.link[data-a="n1"][data-b="n3"][data-cut="true"]"#).is_some());
    let heal = q(&root, "[data-testid=heal-all]").expect("Heal all appears when something is cut");
    click(&heal);
    settle().await;
    assert!(q(&root, r#"g.link[data-a="n1"][data-b="n3"][data-cut="false"]"#).is_some());
    assert!(q(&root, "[data-testid=heal-all]").is_none());
    app.destroy();
}

#[wasm_bindgen_test]
async fn keyboard_steps_and_plays() {
    let root = container();
    let app = web::mount_default(root.clone());
    settle().await;
    press("ArrowRight", false);
    settle().await;
    let after_step = clock_text(&root);
    assert_ne!(after_step, "0.000 ms", "a step runs the next event");
    press("ArrowRight", true);
    settle().await;
    assert_ne!(clock_text(&root), after_step, "shift+right jumps 100 ms");
    press(" ", false);
    settle().await;
    assert_eq!(attr(&q(&root, "[data-testid=play]").expect("play"), "aria-pressed"), "true");
    press(" ", false);
    settle().await;
    assert_eq!(attr(&q(&root, "[data-testid=play]").expect("play"), "aria-pressed"), "false");
    press("Home", false);
    settle().await;
    assert_eq!(clock_text(&root), "0.000 ms");
    app.destroy();
}

#[wasm_bindgen_test]
async fn a_malformed_link_shows_a_banner_and_the_default_lesson() {
    let history = web_sys::window().and_then(|w| w.history().ok()).expect("history");
    history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some("#run=eyJ2IjoxLCJzY2Vu")).expect("hash");
    let root = container();
    let app = web::mount(root.clone());
    settle().await;
    let banner = q(&root, "[data-testid=error-banner]").and_then(|e| e.text_content()).expect("banner");
    assert!(banner.contains("damaged"), "{banner}");
    assert_eq!(count(&root, "g.node"), 3);
    click(&q(&root, "[data-testid=error-banner] button").expect("dismiss"));
    settle().await;
    assert!(q(&root, "[data-testid=error-banner]").is_none());
    app.destroy();
    history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some("#")).expect("hash");
}

#[wasm_bindgen_test]
fn the_trace_encoding_hashes_alike_in_the_browser() {
    let mut t = replsim::world::trace::Trace::new(false);
    for e in replsim::world::trace::sample_events() {
        t.push(e);
    }
    assert_eq!(text::hex16(t.hash()), replsim::world::trace::GOLDEN_SAMPLE_HASH);
}

#[wasm_bindgen_test]
fn every_lesson_matches_the_native_trace_hash() {
    let mut checked = 0;
    for line in BEHAVIOUR_TABLE.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        let (run, native_hash) = (cols[0], cols[4]);
        let (name, method) = match run.split_once('@') {
            Some((n, m)) => (n, Some(m)),
            None => (run, None),
        };
        let mut scenario = match library::lesson(name) {
            Some(Ok(s)) => s,
            other => panic!("lesson {name}: {other:?}"),
        };
        if let Some(m) = method {
            let log = replsim::compare::METHODS.into_iter().find(|k| k.name() == m).expect("a log method");
            scenario = scenario.with_log(log);
        }
        let seed = scenario.seed;
        let mut pb = Playback::new(scenario, seed, Vec::new()).expect("playback");
        let until = pb.until();
        pb.seek(until);
        assert_eq!(
            text::hex16(pb.sim().trace.hash()),
            native_hash,
            "{run}: the browser's trace differs from the native one"
        );
        checked += 1;
    }
    let expected = library::LESSONS.len() + library::COMPARE_LESSONS.len() * replsim::compare::METHODS.len();
    assert_eq!(checked, expected, "the table lists every lesson, and every compare lesson under each log method");
}

#[wasm_bindgen_test]
fn a_share_link_replays_to_the_same_state() {
    let scenario = match library::lesson("basics-async") {
        Some(Ok(s)) => s,
        other => panic!("lesson: {other:?}"),
    };
    let seed = scenario.seed;
    let mut pb = Playback::new(scenario, seed, Vec::new()).expect("playback");
    pb.seek(600_000);
    pb.command(Command::Crash("n2".into()));
    pb.seek(1_500_000);
    pb.command(Command::Restart("n2".into()));
    pb.seek(2_000_000);
    let link = LinkState {
        scenario: pb.scenario().clone(),
        seed,
        commands: pb.user_commands().to_vec(),
        at: pb.now(),
        panes: Vec::new(),
    }
    .encode();
    let decoded = LinkState::decode(&link).expect("decodes");
    let mut again = Playback::new(decoded.scenario, decoded.seed, decoded.commands).expect("playback");
    again.seek(decoded.at);
    assert_eq!(again.now(), pb.now());
    assert_eq!(again.sim().trace.hash(), pb.sim().trace.hash());
    let until = pb.until();
    pb.seek(until);
    again.seek(until);
    assert_eq!(again.sim().trace.hash(), pb.sim().trace.hash());
}

#[wasm_bindgen_test]
fn text_helpers() {
    assert_eq!(text::clock(123_456), "123.456 ms");
    assert_eq!(text::clock(7), "0.007 ms");
    assert_eq!(text::clock(1_000_050), "1000.050 ms");
    assert_eq!(text::hex16(0xabc), "0000000000000abc");
    assert_eq!(text::truncate("abcdef", 4), "abc…");
    assert_eq!(text::truncate("abc", 4), "abc");
    let sql = |t: &str| text::default_sql(&[t.to_string()]);
    assert_eq!(
        sql("CREATE TABLE users (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT)"),
        "INSERT INTO users (name) VALUES ('zoe')"
    );
    assert_eq!(
        sql("CREATE TABLE dice (id INTEGER PRIMARY KEY AUTOINCREMENT, roll REAL)"),
        "INSERT INTO dice (roll) VALUES (1.5)"
    );
    assert_eq!(
        sql("CREATE TABLE IF NOT EXISTS kv (id INTEGER PRIMARY KEY, v INTEGER)"),
        "INSERT INTO kv (v) VALUES (42)"
    );
    assert_eq!(text::default_sql(&[]), "INSERT INTO users (name) VALUES ('zoe')");
}

// ----- DDIA 5.1 failover views: pure helpers -----

use replsim::protocol::single_leader::LagSample;
use replsim::protocol::single_leader::{Joining, Status};
use replsim::scenario::Role;
use replsim::web::{chart, derive};
use replsim::world::trace::{RoleChange, TraceEvent};

#[wasm_bindgen_test]
fn event_markers_come_from_elections_syncs_shutdowns_and_discards() {
    // DDIA 5.1 failover: a node becoming leader is a marker; stepping down is not.
    let leader = TraceEvent::RoleChanged { at: 7, node: "n2".into(), role: RoleChange::Leader { epoch: 2 } };
    let m = derive::event_marker(&leader).expect("a marker");
    assert_eq!((m.at, m.kind, m.label.as_str()), (7, "leader", "n2 becomes leader (epoch 2)"));
    let down = TraceEvent::RoleChanged {
        at: 8,
        node: "n1".into(),
        role: RoleChange::Follower { epoch: 2, reason: "newer".into() },
    };
    assert!(derive::event_marker(&down).is_none());
    let sync = TraceEvent::SyncFollower { at: 9, leader: "n1".into(), node: "n3".into() };
    assert_eq!(derive::event_marker(&sync).map(|m| m.kind), Some("sync"));
    let shut = TraceEvent::ShutDown { at: 10, node: "n2".into(), reason: "saw another leader".into() };
    assert_eq!(derive::event_marker(&shut).map(|m| m.label), Some("n2 shuts itself down: saw another leader".into()));
    let gone = TraceEvent::Discarded { at: 11, node: "n1".into(), from_lsn: 20, to_lsn: 23, ops: 4 };
    let g = derive::event_marker(&gone).expect("discard");
    assert_eq!(g.kind, "discard");
    assert!(g.label.contains("20–23") && g.label.contains("4 client writes"), "{}", g.label);
    assert!(derive::event_marker(&TraceEvent::Crashed { at: 1, node: "n1".into() }).is_none());
    // Only events after the time given (the trace is in time order).
    let events: replsim::chunked::Chunked<TraceEvent> = [leader, down, sync, shut, gone].into_iter().collect();
    assert_eq!(derive::markers_after(&events, None).len(), 4);
    let after_8: Vec<&str> = derive::markers_after(&events, Some(8)).iter().map(|m| m.kind).collect();
    assert_eq!(after_8, ["sync", "shutdown", "discard"]);
    assert!(derive::markers_after(&events, Some(11)).is_empty());
}

#[wasm_bindgen_test]
fn joining_progress_and_fresh_node_ids() {
    // DDIA 5.1 new follower: "snapshot @lsn 12: 3/10" draws a 30 % bar.
    let snap = |received, total| Joining::Snapshot { received, total, lsn: 12 };
    let copy = |received, total| Joining::FileCopy { received, total };
    assert_eq!(derive::progress(&snap(3, 10)), Some((3, 10)));
    assert_eq!(derive::progress(&copy(2, 8)), Some((2, 8)));
    assert_eq!(derive::progress(&copy(9, 8)), Some((8, 8)), "clamped");
    assert_eq!(derive::progress(&snap(0, 0)), None, "nothing to copy: no bar");
    assert_eq!(derive::progress(&Joining::CatchingUp), None);
    assert_eq!(derive::joining_label(&snap(0, 0)), "asking for a snapshot…");
    assert_eq!(derive::joining_label(&copy(0, 0)), "asking for the files…");
    assert_eq!(derive::joining_label(&copy(2, 8)), "file copy 2/8");
    assert_eq!(derive::joining_label(&snap(3, 10)), "snapshot @lsn 12: 3/10");
    assert_eq!(derive::joining_label(&Joining::CatchingUp), "catching up");
    let taken = ["n1", "n2", "n3", "alice"];
    assert_eq!(derive::next_node_id(taken.iter().copied()), "n4");
    let gap = ["n1", "n3"];
    assert_eq!(derive::next_node_id(gap.iter().copied()), "n2");
    assert_eq!(derive::next_node_id(std::iter::empty()), "n1");
    assert_eq!(derive::failover_block(Role::Follower, Status::Running, false), None);
    assert!(derive::failover_block(Role::Leader, Status::Running, false).is_some());
    assert!(derive::failover_block(Role::Follower, Status::Crashed, false).is_some());
    assert!(derive::failover_block(Role::Follower, Status::Running, true).is_some());
}

#[wasm_bindgen_test]
fn chart_axes_and_histograms_are_round() {
    assert_eq!(chart::nice_step(0), 1);
    assert_eq!(chart::nice_step(1), 1);
    assert_eq!(chart::nice_step(3), 5);
    assert_eq!(chart::nice_step(7), 10);
    assert_eq!(chart::nice_step(1500), 2000);
    assert_eq!(chart::nice_max(0.0), 1.0);
    assert_eq!(chart::nice_max(7.0), 10.0);
    assert_eq!(chart::nice_max(837.0), 1000.0);
    assert_eq!(chart::nice_max(150.0), 200.0);
    assert_eq!(chart::nice_max(0.3), 0.5);
    assert_eq!(chart::nice_max(f64::NAN), 1.0);
    // Latencies in µs, bins of at least 1 ms.
    let h = chart::histogram(&[500, 1_500, 1_700, 9_999], 18, 1000);
    assert_eq!(h.width, 1000);
    assert_eq!(h.counts.len(), 10);
    assert_eq!((h.counts[0], h.counts[1], h.counts[9]), (1, 2, 1));
    assert_eq!(h.counts.iter().sum::<u32>(), 4);
    let wide = chart::histogram(&[0, 170_000], 18, 1000);
    assert!(wide.counts.len() <= 18 && wide.width * wide.counts.len() as u64 > 170_000, "{wide:?}");
    assert_eq!(chart::histogram(&[], 10, 1000).counts, vec![0]);
    assert_eq!(chart::path(&[(0.0, 1.0), (2.25, 3.0)]), "M0 1 L2.3 3");
    assert!(chart::path(&[(1.0, 1.0)]).ends_with("h0.1"));
}

#[wasm_bindgen_test]
fn lag_series_break_where_a_node_was_not_a_follower() {
    // DDIA 5.1: node 1 follows, leads for a while (no samples: a gap), then follows again.
    let sample = |at, lags: Vec<(usize, u64)>| LagSample { at, group: 0, lags };
    let samples: replsim::chunked::Chunked<LagSample> = [
        sample(0, vec![(1, 0), (2, 0)]),
        sample(100, vec![(1, 40), (2, 10)]),
        sample(200, vec![(2, 0)]),
        sample(300, vec![(1, 900), (2, 5)]),
    ]
    .into_iter()
    .collect();
    let s = chart::lag_series(&samples, 1000, 1000);
    assert_eq!(s.len(), 2);
    assert_eq!(s[0].node, 1);
    assert_eq!(s[0].segments, vec![vec![(0, 0), (100, 40)], vec![(300, 900)]]);
    assert_eq!(s[0].max, 900);
    assert_eq!(s[1].segments.len(), 1);
    // Few buckets: points merge, keeping the largest lag.
    let coarse = chart::lag_series(&samples, 1000, 2);
    assert_eq!(coarse[1].segments, vec![vec![(0, 10)]]);
    assert_eq!(chart::series_style(1), chart::series_style(1 + chart::SERIES.len()));
}

#[wasm_bindgen_test]
fn ch5_2_lag_series_of_each_partition_read_only_their_own_leaders_samples() {
    // DDIA 5.2 consistent prefix: two partitions' leaders tick in turn; a follower's line is not broken by the
    // other partition's samples, and each series carries its group.
    let samples: replsim::chunked::Chunked<LagSample> = [
        LagSample { at: 0, group: 0, lags: vec![(1, 0)] },
        LagSample { at: 10, group: 1, lags: vec![(3, 5)] },
        LagSample { at: 50, group: 0, lags: vec![(1, 800)] },
        LagSample { at: 60, group: 1, lags: vec![(3, 0)] },
    ]
    .into_iter()
    .collect();
    let s = chart::lag_series(&samples, 1000, 1000);
    assert_eq!(s.iter().map(|s| (s.group, s.node)).collect::<Vec<_>>(), vec![(0, 1), (1, 3)]);
    assert_eq!(s[0].segments, vec![vec![(0, 0), (50, 800)]]);
    assert_eq!(s[1].segments, vec![vec![(10, 5), (60, 0)]]);
}

// ----- DDIA 5.1 failover views in the DOM -----

#[wasm_bindgen_test]
async fn tabs_show_metrics_and_anomalies_and_add_follower_adds_a_node() {
    let root = container();
    let app = web::mount_default(root.clone());
    settle().await;
    for id in ["tab-nodes", "tab-metrics", "tab-anomalies", "add-snapshot", "add-file-copy", "auto-failover", "epochs"]
    {
        assert!(q(&root, &format!("[data-testid={id}]")).is_some(), "missing data-testid={id}");
    }
    click(&q(&root, "[data-testid=tab-metrics]").expect("metrics tab"));
    settle().await;
    assert!(q(&root, "[data-testid=metrics]").is_some());
    assert!(q(&root, "[data-testid=latency-chart]").is_some());
    assert!(q(&root, "[data-testid=sweep-run]").is_some());
    click(&q(&root, "[data-testid=tab-anomalies]").expect("anomalies tab"));
    settle().await;
    let panel = q(&root, "[data-testid=anomalies]").expect("anomalies panel");
    assert_eq!(attr(&panel, "data-count"), "0", "nothing has gone wrong at 0 ms");
    // Clicking a node brings the Nodes tab back with its inspector.
    click(&q(&root, r#"g.node[data-node="n2"]"#).expect("n2"));
    settle().await;
    assert!(q(&root, "[data-testid=failover-to]").is_some(), "a follower can be promoted");
    click(&q(&root, "[data-testid=tab-nodes]").expect("nodes tab"));
    settle().await;
    click(&q(&root, ".inspector .back").expect("back to all nodes"));
    settle().await;
    press("ArrowRight", true);
    settle().await;
    click(&q(&root, "[data-testid=add-snapshot]").expect("add follower"));
    settle().await;
    assert_eq!(count(&root, "g.node"), 4);
    let n4 = q(&root, r#"g.node[data-node="n4"]"#).expect("n4 joined");
    assert_eq!(attr(&n4, "data-role"), "follower");
    let hash = web_sys::window().and_then(|w| w.location().hash().ok()).unwrap_or_default();
    let state = LinkState::decode(&hash).expect("the fragment decodes");
    assert!(matches!(&state.commands[0].command, Command::AddNode { id, .. } if id == "n4"));
    app.destroy();
}

/// The comparison view's workload editor (DDIA 5.1, issue #3): the scenario's statements as text and back, a
/// client named before a colon, new lines 100 ms apart, and typos reported with their line instead of run.
#[wasm_bindgen_test]
fn compare_workload_text_round_trips_and_reports_bad_sql() {
    use replsim::scenario::Command;
    use replsim::web::state::compare::{with_workload, workload_text};
    let s = library::lesson("statement-rand").expect("lesson").expect("parses");
    let text = workload_text(&s);
    assert_eq!(text.lines().count(), 6);
    assert_eq!(with_workload(&s, &text).expect("its own text runs"), s, "unchanged text, unchanged scenario");
    let edited = with_workload(&s, &[&text, "bob: INSERT INTO dice (roll) VALUES (0.5)\n"].concat()).expect("runs");
    let last = edited.workload.last().expect("a statement");
    assert!(matches!(&last.command, Command::Sql { client, .. } if client == "bob"));
    assert_eq!(last.at, s.workload[5].at + 100_000, "a new line comes 100 ms after the last");
    assert!(workload_text(&edited).ends_with("bob: INSERT INTO dice (roll) VALUES (0.5)\n"));
    let err =
        with_workload(&s, "INSERT INTO dice (roll) VALUES (1)\nINSRT INTO dice VALUES (2)\nSELECT nope FROM dice")
            .expect_err("typos are refused");
    assert!(err.contains("line 2") && err.contains("line 3"), "{err}");
}

/// The comparison view opens from the top bar, shows four panes with a verdict each, and its link says so.
#[wasm_bindgen_test]
async fn the_compare_view_opens_with_four_panes_and_a_link() {
    let root = container();
    let app = web::mount_default(root.clone());
    settle().await;
    click(&q(&root, "[data-testid=show-compare]").expect("the view switch"));
    settle().await;
    for m in ["statement", "wal", "logical", "trigger"] {
        let pane = q(&root, &format!("[data-testid=pane-{m}]")).expect("a pane per method");
        assert!(!attr(&pane, "data-verdict").is_empty());
        assert!(q(&pane, "svg.cmp-draw g.cn").is_some(), "{m}: the cluster is drawn");
    }
    let hash = web_sys::window().and_then(|w| w.location().hash().ok()).unwrap_or_default();
    let (_, view) = LinkState::decode_view(&hash).expect("the fragment decodes");
    assert_eq!(view, replsim::link::View::Compare);
    click(&q(&root, "[data-testid=show-cluster]").expect("back"));
    settle().await;
    assert_eq!(count(&root, "[data-testid=compare]"), 0);
    assert_eq!(count(&root, "g.node"), 3);
    app.destroy();
}

// A number field refuses what is not a number in its range, with a message that says the range (issue 14).
#[wasm_bindgen_test]
fn a_number_field_refuses_what_is_not_a_number_in_its_range() {
    assert_eq!(text::number_problem("5", Some("0"), Some("10"), None), None);
    assert_eq!(text::number_problem("0", Some("0"), None, None), None);
    assert_eq!(
        text::number_problem("-1", Some("0"), Some("10"), None).unwrap(),
        "-1 is out of range: enter a number from 0 to 10."
    );
    assert_eq!(text::number_problem("", Some("0"), None, None).unwrap(), "Not a number: enter a number of at least 0.");
    assert_eq!(text::number_problem("1e400", None, None, None).unwrap(), "Not a number: enter a number.");
    assert_eq!(
        text::number_problem("4", Some("1"), Some("3"), None).unwrap(),
        "4 is out of range: enter a number from 1 to 3."
    );
    // Whole numbers only, unless the step has a fraction (or is "any").
    assert_eq!(
        text::number_problem("2.5", Some("1"), Some("16"), None).unwrap(),
        "2.5 is not a whole number: enter a whole number from 1 to 16."
    );
    assert_eq!(
        text::number_problem("2.5", Some("0"), None, Some("10")).unwrap(),
        "2.5 is not a whole number: enter a whole number of at least 0."
    );
    assert_eq!(text::number_problem("2.5", Some("0"), Some("100"), Some("0.1")), None);
    assert_eq!(text::number_problem("2.5", None, None, Some("any")), None);
}
