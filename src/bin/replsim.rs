//! `replsim`: the command-line front door of the replication core. Runs scenarios headless and prints reports
//! and traces. Exit code 0 when a run completed (anomalies are findings), 2 for bad input.

#[cfg(target_arch = "wasm32")]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    std::process::exit(cli::main());
}

#[cfg(not(target_arch = "wasm32"))]
mod cli {
    use std::io::{BufRead, Write};

    use clap::{Parser, Subcommand, ValueEnum};
    use replsim::{library, report, Simulation};

    #[derive(Parser)]
    #[command(name = "replsim", version, about = "Deterministic database replication simulator (DDIA chapter 5)")]
    struct Cli {
        #[command(subcommand)]
        command: Cmd,
    }

    #[derive(Clone, Copy, ValueEnum)]
    enum Format {
        Json,
        Text,
    }

    #[derive(Subcommand)]
    enum Cmd {
        /// Run a scenario to its end and print the report.
        Run {
            /// A scenario file, or `lesson:NAME` for one from the library (see `replsim lessons`).
            scenario: String,
            #[arg(long)]
            seed: Option<u64>,
            #[arg(long)]
            until_ms: Option<u64>,
            #[arg(long, value_enum, default_value = "json")]
            format: Format,
        },
        /// Print the trace of a run, one event per line (legend in ARCHITECTURE.md).
        Trace {
            scenario: String,
            #[arg(long)]
            seed: Option<u64>,
            #[arg(long)]
            until_ms: Option<u64>,
        },
        /// Run a scenario over a range of failover timeouts and seeds: needless failovers vs. time without a leader.
        Sweep {
            scenario: String,
            /// Comma-separated timeouts in milliseconds.
            #[arg(long, value_delimiter = ',', default_values_t = vec![100u64, 200, 300, 500, 800, 1200])]
            timeouts: Vec<u64>,
            /// How many seeds per timeout (seeds 0..N).
            #[arg(long, default_value_t = 10)]
            seeds: u64,
            #[arg(long, value_enum, default_value = "text")]
            format: Format,
        },
        /// Run a scenario once per read-routing policy: anomalies, share of reads on the leader, read latency.
        Policies {
            scenario: String,
            #[arg(long)]
            seed: Option<u64>,
            #[arg(long, value_enum, default_value = "text")]
            format: Format,
        },
        /// Run a scenario once per replication log method (statement, wal, logical, trigger) and compare them.
        Compare {
            scenario: String,
            #[arg(long)]
            seed: Option<u64>,
            #[arg(long, value_enum, default_value = "text")]
            format: Format,
        },
        /// Run a multi-leader scenario once per conflict strategy (none, lww, replica-id, merge, on-write, crdt).
        Conflicts {
            scenario: String,
            #[arg(long)]
            seed: Option<u64>,
            #[arg(long, value_enum, default_value = "text")]
            format: Format,
        },
        /// List the scenario library.
        Lessons,
        /// Leaderless replication: the probability that a read t ms after an acknowledged write sees it, over many
        /// seeds (the PBS staleness curve), for the scenario's replicas, n, w, r and network.
        Staleness {
            scenario: String,
            /// Runs (seeds 0..N).
            #[arg(long, default_value_t = 1000)]
            seeds: u64,
            /// Points in time after the acknowledgement, in ms (default: 0 to twice the largest network delay).
            #[arg(long, value_delimiter = ',')]
            at: Vec<u64>,
            #[arg(long, value_enum, default_value = "text")]
            format: Format,
        },
        /// Print the HTML that embeds a lesson or scenario in a documentation page (see docs/embedding.md).
        Embed {
            /// A scenario file (embedded in the link), or `lesson:NAME` (linked by name).
            scenario: String,
            /// Where the playground is hosted (the URL of its index.html's folder).
            #[arg(long, default_value = "https://example.org/replication-playground/")]
            base: String,
            /// The iframe's height in CSS pixels.
            #[arg(long, default_value_t = 520)]
            height: u32,
            /// Load the playground as soon as the browser loads the iframe, without the still picture that stands
            /// in for it until the reader scrolls to it or clicks.
            #[arg(long)]
            live: bool,
        },
        /// Run SQL statements on a single node and print its tables as JSON; interactive without --file.
        Sql {
            #[arg(long)]
            file: Option<String>,
        },
        /// Random scenarios, one per seed, every safety claim checked after every event; prints seeds/s and the
        /// first failing seed with the command that replays it.
        Soak {
            /// How many seeds (from --from on).
            #[arg(long, default_value_t = 1000)]
            seeds: u64,
            #[arg(long, default_value_t = 1)]
            from: u64,
            /// Run (or with --print, show) this one seed only.
            #[arg(long)]
            seed: Option<u64>,
            /// Worker threads (0: one per core).
            #[arg(long, default_value_t = 0)]
            threads: usize,
            /// Check only this claim: one-leader-per-epoch, log-matching, sync-writes-survive, convergence.
            #[arg(long)]
            claim: Option<String>,
            /// Print the scenario of --seed (replay it with `replsim run FILE`).
            #[arg(long)]
            print: bool,
        },
        /// Simulated events per second for an async cluster (the benchmark of README.md): min / median / max over
        /// --runs, measured as `cargo bench` and the browser's ?bench=1 page measure.
        Bench {
            #[arg(long, default_value_t = 5)]
            nodes: usize,
            #[arg(long, default_value_t = 100_000)]
            writes: usize,
            #[arg(long, default_value_t = 3)]
            runs: usize,
            /// The engine's curve instead: 1k, 16k, 256k and 1M writes, and the 256k / 16k ratio.
            #[arg(long)]
            curve: bool,
            /// Leaderless replication instead (n = 3, w = r = 2): `writes` operations, puts and gets in turn.
            #[arg(long)]
            leaderless: bool,
            /// The text CRDT instead (DDIA 5.3 collaborative editing): 3 people × `writes` keystrokes (default
            /// 10,000 here) merged on every copy.
            #[arg(long)]
            collab: bool,
            /// Multi-leader replication instead: --nodes leaders all-to-all, the writes spread over them.
            #[arg(long, conflicts_with = "leaderless")]
            multi_leader: bool,
        },
        /// Long runs in the playback (what the page does): seek to the end of a run of --seconds with a write every
        /// --every-ms on 3 nodes, then seek to random moments; prints time and memory (Linux: from /proc).
        BenchSeek {
            #[arg(long, default_value_t = 60)]
            seconds: u64,
            #[arg(long, default_value_t = 20)]
            every_ms: u64,
            /// Random seeks after reaching the end.
            #[arg(long, default_value_t = 20)]
            seeks: usize,
        },
    }

    fn load(arg: &str) -> Result<String, String> {
        if let Some(name) = arg.strip_prefix("lesson:") {
            return library::LESSONS
                .iter()
                .find(|l| l.name == name)
                .map(|l| l.json.to_string())
                .ok_or_else(|| format!("no lesson {name:?}: see `replsim lessons`"));
        }
        std::fs::read_to_string(arg).map_err(|e| format!("cannot read {arg}: {e}"))
    }

    fn embed(arg: &str, base: &str, height: u32, live: bool, out: &mut impl Write) -> Result<(), String> {
        let s = replsim::scenario::Scenario::from_json_str(&load(arg)?).map_err(|e| format!("{arg}: {e}"))?;
        let fragment = match arg.strip_prefix("lesson:") {
            Some(name) => format!("lesson={name}"),
            None => {
                replsim::link::LinkState { seed: s.seed, scenario: s.clone(), commands: vec![], at: 0, panes: vec![] }
                    .encode()
            }
        };
        if fragment.len() > replsim::link::MAX_FRAGMENT {
            return Err(format!("{arg}: the scenario is too large for a link"));
        }
        let title =
            s.title.as_deref().map_or("Replication Playground".to_string(), |t| format!("Replication Playground: {t}"));
        // The still picture of the first moment: a scenario that does not start is refused here, with the message
        // the playground would show.
        let still = match live {
            true => None,
            false => Some(
                replsim::still::page(&s, &replsim::link::embed_src(base, &fragment))
                    .map_err(|e| format!("{arg}: {e}"))?,
            ),
        };
        let snippet = replsim::link::embed_snippet(base, &fragment, &title, height.clamp(200, 4000), still.as_deref());
        writeln!(out, "{snippet}").map_err(|e| e.to_string())
    }

    fn staleness(arg: &str, seeds: u64, at: &[u64], format: Format, out: &mut impl Write) -> Result<(), String> {
        use replsim::protocol::leaderless::staleness;
        let text = load(arg)?;
        let s = replsim::scenario::Scenario::from_json_str(&text).map_err(|e| format!("{arg}: {e}"))?;
        let Some(spec) = s.replication.leaderless.clone() else {
            return Err(format!("{arg}: the staleness curve is about leaderless replication (replication.leaderless)"));
        };
        let ts = if at.is_empty() { staleness::default_points(&s) } else { at.to_vec() };
        let points = staleness::curve(&s, &ts, 0..seeds).map_err(|e| format!("{arg}: {e}"))?;
        match format {
            Format::Json => {
                let pts: Vec<serde_json::Value> = points
                    .iter()
                    .map(|p| serde_json::json!({"t_ms": p.t_ms, "fresh": p.fresh, "runs": p.runs, "probability": p.probability()}))
                    .collect();
                let v = serde_json::json!({"n": spec.n, "w": spec.w, "r": spec.r, "points": pts});
                let _ = writeln!(out, "{v}");
            }
            Format::Text => {
                let _ = writeln!(
                    out,
                    "n = {}, w = {}, r = {} ({}), {seeds} seeds: P(read t ms after the acknowledgement sees the write)",
                    spec.n,
                    spec.w,
                    spec.r,
                    if spec.strict() { "w + r > n" } else { "w + r <= n" }
                );
                for p in &points {
                    let bar = "#".repeat((p.probability() * 40.0).round() as usize);
                    let _ = writeln!(
                        out,
                        "  t = {:>5} ms  {:>6.3}  {:>5}/{:<5} {bar}",
                        p.t_ms,
                        p.probability(),
                        p.fresh,
                        p.runs
                    );
                }
            }
        }
        Ok(())
    }

    /// Run a scenario file to its end; `keep_trace`: keep every trace event (`trace` prints them; a report needs
    /// only their hash and count).
    fn simulate(arg: &str, seed: Option<u64>, until_ms: Option<u64>, keep_trace: bool) -> Result<Simulation, String> {
        let text = load(arg)?;
        replsim::run_scenario(&text, seed, until_ms, keep_trace).map_err(|e| format!("{arg}: {e}"))
    }

    pub fn main() -> i32 {
        let cli = Cli::parse();
        let out = std::io::stdout();
        let mut out = out.lock();
        let result: Result<(), String> = match cli.command {
            Cmd::Run { scenario, seed, until_ms, format } => {
                simulate(&scenario, seed, until_ms, false).map(|sim| match format {
                    Format::Json => {
                        let mut w = std::io::BufWriter::new(&mut out);
                        let _ = report::write_report_json(&sim, &mut w).and_then(|()| writeln!(w));
                    }
                    Format::Text => {
                        let _ = writeln!(out, "{}", report::report_text(&sim));
                    }
                })
            }
            Cmd::Trace { scenario, seed, until_ms } => simulate(&scenario, seed, until_ms, true).map(|sim| {
                for e in sim.trace.events() {
                    let _ = writeln!(out, "{}", e.line());
                }
                let _ = writeln!(out, "# trace hash {:016x}", sim.trace.hash());
            }),
            Cmd::Sweep { scenario, timeouts, seeds, format } => sweep(&scenario, &timeouts, seeds, format, &mut out),
            Cmd::Policies { scenario, seed, format } => policies(&scenario, seed, format, &mut out),
            Cmd::Compare { scenario, seed, format } => compare(&scenario, seed, format, &mut out),
            Cmd::Conflicts { scenario, seed, format } => conflicts(&scenario, seed, format, &mut out),
            Cmd::Lessons => {
                for l in library::LESSONS {
                    let title = library::lesson(l.name).and_then(Result::ok).and_then(|s| s.title).unwrap_or_default();
                    let _ = writeln!(out, "{:<20} {title}", l.name);
                }
                Ok(())
            }
            Cmd::Sql { file } => sql(file.as_deref(), &mut out),
            Cmd::Embed { scenario, base, height, live } => embed(&scenario, &base, height, live, &mut out),
            Cmd::Staleness { scenario, seeds, at, format } => staleness(&scenario, seeds, &at, format, &mut out),
            Cmd::Soak { seeds, from, seed, threads, claim, print } => {
                soak(SoakArgs { seeds, from, seed, threads, claim, print }, &mut out)
            }
            Cmd::Bench { writes, collab: true, runs, .. } => {
                let origin = std::time::Instant::now();
                let clock = || origin.elapsed().as_secs_f64();
                let keys = if writes == 100_000 { 10_000 } else { writes.clamp(1, 1_000_000) };
                let b = replsim::protocol::multi_leader::collab::bench_merge(3, keys, runs.max(5), clock);
                let _ = writeln!(out, "{}", b.describe("native"));
                Ok(())
            }
            Cmd::Bench { nodes, writes, leaderless, multi_leader, curve, runs, .. } => {
                if !(2..=16).contains(&nodes) {
                    Err("--nodes: expected 2..=16".to_string())
                } else {
                    let origin = std::time::Instant::now();
                    let clock = || origin.elapsed().as_secs_f64();
                    let sizes: Vec<(usize, usize)> =
                        if curve { replsim::bench::CURVE.to_vec() } else { vec![(writes, runs.max(1))] };
                    let mut measured = Vec::new();
                    for (w, r) in sizes {
                        let m = if leaderless {
                            replsim::bench::measure_prepared(|| replsim::bench::prepare_leaderless(nodes, w), r, clock)
                        } else if multi_leader {
                            replsim::bench::measure_prepared(
                                || replsim::bench::prepare_multi_leader(nodes, w),
                                r,
                                clock,
                            )
                        } else {
                            replsim::bench::measure(nodes, w, r, clock)
                        };
                        let Some(m) = m else { return 2 };
                        let _ = writeln!(out, "{}", m.describe("native", nodes, w));
                        measured.push((w, m));
                    }
                    if let Some(ratio) = replsim::bench::curve_ratio(&measured) {
                        let _ = writeln!(
                            out,
                            "native: events/s at 256k writes / at 16k = {ratio:.2} (target: at least 0.9)"
                        );
                    }
                    Ok(())
                }
            }
            Cmd::BenchSeek { seconds, every_ms, seeks } => bench_seek(seconds, every_ms, seeks, &mut out),
        };
        // scripts/bench's memory-per-write figure: the process's peak resident memory, once its work is done.
        if std::env::var_os("REPLSIM_PEAK_MEMORY").is_some() {
            eprintln!("replsim: peak memory {} B", memory().1);
        }
        match result {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("replsim: {e}");
                2
            }
        }
    }

    /// Resident and peak memory of this process in bytes (0 where /proc is missing).
    fn memory() -> (u64, u64) {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                .map_or(0, |kb| kb * 1024)
        };
        (field("VmRSS:"), field("VmHWM:"))
    }

    fn bench_seek(seconds: u64, every_ms: u64, seeks: usize, out: &mut impl Write) -> Result<(), String> {
        if !(1..=86_400).contains(&seconds) {
            return Err("--seconds: expected 1..=86400".into());
        }
        let origin = std::time::Instant::now();
        let m =
            replsim::bench::measure_seek(seconds, every_ms, seeks, || origin.elapsed().as_secs_f64(), || memory().0)
                .ok_or("the long-run scenario did not start")?;
        let _ = writeln!(out, "{}", m.describe("native"));
        let _ = writeln!(out, "native: peak memory of this process {:.1} MB", memory().1 as f64 / 1e6);
        Ok(())
    }

    struct SoakArgs {
        seeds: u64,
        from: u64,
        seed: Option<u64>,
        threads: usize,
        claim: Option<String>,
        print: bool,
    }

    fn soak(a: SoakArgs, out: &mut impl Write) -> Result<(), String> {
        use replsim::check::invariants::Claim;
        use replsim::soak::{run_seed, scenario_json, Outcome};
        let claims: Vec<Claim> = match &a.claim {
            None => Vec::new(),
            Some(name) => vec![Claim::parse(name).ok_or_else(|| {
                let names: Vec<&str> = Claim::ALL.iter().map(|c| c.name()).collect();
                format!("--claim: no claim {name:?} (claims: {})", names.join(", "))
            })?],
        };
        if a.print {
            let seed = a.seed.ok_or("--print needs --seed")?;
            let _ = writeln!(out, "{}", scenario_json(seed));
            return Ok(());
        }
        let (from, count) = match a.seed {
            Some(s) => (s, 1),
            None => (a.from, a.seeds),
        };
        if count == 0 || count > 100_000_000 {
            return Err("--seeds: expected 1..=100000000".into());
        }
        let threads = match a.threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            t => t.min(256),
        };
        let start = std::time::Instant::now();
        // Seeds are taken in order from `from`; with --claim, a seed whose scenario the claim does not concern is
        // skipped and does not count towards --seeds.
        let next = std::sync::atomic::AtomicU64::new(0);
        let done = std::sync::atomic::AtomicU64::new(0);
        let ran = std::sync::atomic::AtomicU64::new(0);
        // Seeds whose cluster converged only after more settle time (a slow election after the heal).
        let late = std::sync::atomic::AtomicU64::new(0);
        let events = std::sync::atomic::AtomicU64::new(0);
        let per_claim: Vec<std::sync::atomic::AtomicU64> =
            Claim::ALL.iter().map(|_| std::sync::atomic::AtomicU64::new(0)).collect();
        let failures = std::sync::Mutex::new(Vec::<(u64, String)>::new());
        use std::sync::atomic::Ordering::Relaxed;
        std::thread::scope(|scope| {
            for _ in 0..threads {
                scope.spawn(|| {
                    // Each turn takes one of the `count` places, then seeds until one the claims concern.
                    while done.fetch_add(1, Relaxed) < count && failures.lock().is_ok_and(|f| f.is_empty()) {
                        let (seed, outcome) = loop {
                            let seed = from + next.fetch_add(1, Relaxed);
                            match run_seed(seed, &claims) {
                                // (--seed N runs that seed, concerned or not.)
                                Outcome::Skipped if a.seed.is_none() => continue,
                                outcome => break (seed, outcome),
                            }
                        };
                        ran.fetch_add(1, Relaxed);
                        let failure = match outcome {
                            Outcome::Skipped => None,
                            Outcome::Held { events: e, checked, extra_settles } => {
                                events.fetch_add(e, Relaxed);
                                late.fetch_add(u64::from(extra_settles > 0), Relaxed);
                                for c in checked {
                                    per_claim[c as usize].fetch_add(1, Relaxed);
                                }
                                None
                            }
                            Outcome::Broken(v) => Some(v.to_string()),
                            Outcome::BadScenario(e) => Some(format!("the generator made a bad scenario: {e}")),
                        };
                        if let (Some(f), Ok(mut list)) = (failure, failures.lock()) {
                            list.push((seed, f));
                        }
                    }
                });
            }
        });
        let secs = start.elapsed().as_secs_f64().max(1e-9);
        let ran = ran.load(Relaxed);
        let events = events.load(Relaxed);
        let mut failures = failures.into_inner().unwrap_or_default();
        failures.sort();
        let claim = a.claim.as_deref().unwrap_or("every claim");
        let skipped = next.load(Relaxed).saturating_sub(ran);
        let skipped = if skipped > 0 && !claims.is_empty() {
            format!(" ({skipped} more skipped: the claim does not concern their scenarios)")
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "soak ({claim}): {ran} seeds from {from}{skipped} on {threads} threads in {secs:.1} s = {:.0} seeds/s, {:.0} events/s",
            ran as f64 / secs,
            events as f64 / secs
        );
        let counts: Vec<String> = Claim::ALL
            .iter()
            .zip(&per_claim)
            .filter(|(c, _)| claims.is_empty() || claims.contains(c))
            .map(|(c, n)| format!("{} {}", c.name(), n.load(Relaxed)))
            .collect();
        let _ = writeln!(out, "seeds that held each claim: {}", counts.join(", "));
        let late = late.load(Relaxed);
        if late > 0 {
            let _ = writeln!(
                out,
                "{late} seed(s) converged only after more settle time (not yet {} s after the heal: a slow election or catch-up)",
                replsim::soak::SETTLE_MS / 1000
            );
        }
        let again = a.claim.as_deref().map(|c| format!(" --claim {c}")).unwrap_or_default();
        match failures.first() {
            None => Ok(()),
            Some((seed, f)) => Err(format!(
                "seed {seed}: {f}\n  replay: replsim soak --seed {seed}{again}   scenario: replsim soak --seed {seed} --print"
            )),
        }
    }

    fn conflicts(arg: &str, seed: Option<u64>, format: Format, out: &mut impl Write) -> Result<(), String> {
        use replsim::protocol::multi_leader::strategies;
        let text = load(arg)?;
        let scenario = replsim::Scenario::from_json_str(&text).map_err(|e| format!("{arg}: {e}"))?;
        let seed = seed.unwrap_or(scenario.seed);
        let figures = strategies::run_all(&scenario, seed).map_err(|e| format!("{arg}: {e}"))?;
        let _ = match format {
            Format::Json => {
                let all: Vec<serde_json::Value> = figures.iter().map(strategies::Figures::to_json).collect();
                writeln!(out, "{}", serde_json::json!({"seed": seed, "strategies": all}))
            }
            Format::Text => write!(out, "{}", strategies::table_text(&figures)),
        };
        Ok(())
    }

    fn compare(arg: &str, seed: Option<u64>, format: Format, out: &mut impl Write) -> Result<(), String> {
        let text = load(arg)?;
        let scenario = replsim::Scenario::from_json_str(&text).map_err(|e| format!("{arg}: {e}"))?;
        let seed = seed.unwrap_or(scenario.seed);
        let figures = replsim::compare::figures_all(&scenario, seed).map_err(|e| format!("{arg}: {e}"))?;
        match format {
            Format::Json => {
                let methods: Vec<serde_json::Value> = figures.iter().map(|f| f.to_json()).collect();
                let _ = writeln!(out, "{}", serde_json::json!({"seed": seed, "methods": methods}));
            }
            Format::Text => {
                let _ = write!(out, "{}", replsim::compare::table_text(&figures));
                for f in figures.iter().filter(|f| !f.divergence.is_empty()) {
                    for a in &f.divergence {
                        let _ = writeln!(out, "{}: {}", f.log.name(), a.detail);
                    }
                }
            }
        }
        Ok(())
    }

    fn sweep(arg: &str, timeouts: &[u64], seeds: u64, format: Format, out: &mut impl Write) -> Result<(), String> {
        if timeouts.is_empty() || timeouts.len() > 50 || timeouts.iter().any(|t| *t == 0 || *t > 60_000) {
            return Err("--timeouts: expected 1 to 50 values in 1..=60000".into());
        }
        if seeds == 0 || seeds > 1000 {
            return Err("--seeds: expected 1..=1000".into());
        }
        let text = load(arg)?;
        let scenario = replsim::Scenario::from_json_str(&text).map_err(|e| format!("{arg}: {e}"))?;
        let rows = replsim::check::failover::sweep(&scenario, timeouts, 0..seeds);
        match format {
            Format::Json => {
                let v: Vec<serde_json::Value> = rows
                    .iter()
                    .map(|r| {
                        serde_json::json!({"timeout_ms": r.timeout_ms, "runs": r.runs,
                            "mean_unavailable_ms": r.mean_unavailable_ms,
                            "unnecessary_failovers": r.unnecessary_failovers, "failovers": r.failovers})
                    })
                    .collect();
                let _ = writeln!(out, "{}", serde_json::Value::Array(v));
            }
            Format::Text => {
                let _ = writeln!(
                    out,
                    "{:>10} {:>5} {:>22} {:>22} {:>10}",
                    "timeout", "runs", "leaderless after crash", "needless failovers", "failovers"
                );
                for r in rows {
                    let _ = writeln!(
                        out,
                        "{:>8}ms {:>5} {:>20.1}ms {:>22} {:>10}",
                        r.timeout_ms, r.runs, r.mean_unavailable_ms, r.unnecessary_failovers, r.failovers
                    );
                }
            }
        }
        Ok(())
    }

    fn policies(arg: &str, seed: Option<u64>, format: Format, out: &mut impl Write) -> Result<(), String> {
        let text = load(arg)?;
        let scenario = replsim::Scenario::from_json_str(&text).map_err(|e| format!("{arg}: {e}"))?;
        let rows = replsim::check::lag::policy_table(&scenario, seed.unwrap_or(scenario.seed));
        match format {
            Format::Json => {
                let v: Vec<serde_json::Value> = rows
                    .iter()
                    .map(|r| {
                        let anomalies: serde_json::Map<String, serde_json::Value> =
                            r.anomalies.iter().map(|(k, n)| (k.name().to_string(), serde_json::json!(n))).collect();
                        serde_json::json!({"policy": r.policy, "anomalies": anomalies, "reads": r.reads,
                            "leader_share": r.leader_share, "read_p50_ms": r.read_p50_us as f64 / 1000.0,
                            "read_p99_ms": r.read_p99_us as f64 / 1000.0})
                    })
                    .collect();
                let _ = writeln!(out, "{}", serde_json::Value::Array(v));
            }
            Format::Text => {
                let _ = writeln!(
                    out,
                    "{:<16} {:>6} {:>13} {:>9} {:>9}  anomalies",
                    "policy", "reads", "on leader", "p50", "p99"
                );
                for r in rows {
                    let found: Vec<String> = r.anomalies.iter().map(|(k, n)| format!("{k} {n}")).collect();
                    let _ = writeln!(
                        out,
                        "{:<16} {:>6} {:>12.0}% {:>7.1}ms {:>7.1}ms  {}",
                        r.policy,
                        r.reads,
                        r.leader_share * 100.0,
                        r.read_p50_us as f64 / 1000.0,
                        r.read_p99_us as f64 / 1000.0,
                        if found.is_empty() { "none".to_string() } else { found.join(", ") }
                    );
                }
            }
        }
        Ok(())
    }

    struct CliEnv(u64);
    impl replsim::sql::Env for CliEnv {
        fn now_us(&mut self) -> i64 {
            replsim::protocol::single_leader::EPOCH_BASE_US
        }
        fn random_u64(&mut self) -> u64 {
            // SplitMix64: `replsim sql` is deterministic too.
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }
    }

    fn sql(file: Option<&str>, out: &mut impl Write) -> Result<(), String> {
        use replsim::sql::{split_statements, Database, Session};
        let mut db = Database::new();
        let mut session = Session::default();
        let mut env = CliEnv(1);
        let mut run = |stmt: &str, out: &mut dyn Write, db: &mut Database| {
            if let Err(e) = db.execute(stmt, &mut session, &mut env) {
                let _ = writeln!(out, "{}", serde_json::json!({ "error": e.message }));
            }
        };
        match file {
            Some(f) => {
                let text = std::fs::read_to_string(f).map_err(|e| format!("cannot read {f}: {e}"))?;
                for stmt in split_statements(&text) {
                    run(&stmt, out, &mut db);
                }
            }
            None => {
                let stdin = std::io::stdin();
                let _ = writeln!(out, "replsim sql: one statement per line; the tables are printed after each.");
                for line in stdin.lock().lines() {
                    let Ok(line) = line else { break };
                    for stmt in split_statements(&line) {
                        run(&stmt, out, &mut db);
                    }
                    let _ = writeln!(out, "{}", serde_json::json!({ "tables": db.tables_json() }));
                }
                return Ok(());
            }
        }
        let _ = writeln!(out, "{}", serde_json::json!({ "tables": db.tables_json() }));
        Ok(())
    }
}
