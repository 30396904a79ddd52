//! Corpus replay without AFL: every input once through its target, timed.
//!
//!     cargo run --profile replay --bin replay                  # every target's corpus (fuzz/corpus/*/)
//!     cargo run --profile replay --bin replay -- sql run       # these targets' corpora
//!     cargo run --profile replay --bin replay -- run FILE|DIR… # given inputs (an AFL crash, say) through one target
//!
//! Fails when an input panics or breaks a claim (the panic message names it, then the file), or takes longer than
//! `REPLAY_MAX_MS` milliseconds (default 1000, AFL's hang timeout; this build has no instrumentation and is faster).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn inputs(path: &Path) -> Vec<PathBuf> {
    if path.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .filter_map(Result::ok)
            .map(|e| e.path())
            // (AFL writes a README.txt beside the crashes it saves.)
            .filter(|p| p.is_file() && !p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')))
            .filter(|p| p.file_name().is_none_or(|n| n != "README.txt"))
            .collect();
        files.sort();
        files
    } else {
        vec![path.to_path_buf()]
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let max = Duration::from_millis(std::env::var("REPLAY_MAX_MS").ok().and_then(|v| v.parse().ok()).unwrap_or(1000));
    // (target name, inputs)
    let mut plan: Vec<(String, Vec<PathBuf>)> = Vec::new();
    match args.as_slice() {
        [] => {
            for (name, _) in replsim_fuzz::TARGETS {
                plan.push((name.to_string(), inputs(&corpus.join(name))));
            }
        }
        [first, rest @ ..] if rest.iter().any(|a| Path::new(a).exists()) => {
            plan.push((first.clone(), rest.iter().flat_map(|p| inputs(Path::new(p))).collect()));
        }
        names => {
            for name in names {
                plan.push((name.clone(), inputs(&corpus.join(name))));
            }
        }
    }
    // Report which input failed: the panic message is printed by the default hook first.
    let mut failed = 0;
    let mut total = 0;
    for (name, files) in &plan {
        let Some(target) = replsim_fuzz::target(name) else {
            let names: Vec<&str> = replsim_fuzz::TARGETS.iter().map(|(n, _)| *n).collect();
            eprintln!("no fuzz target {name:?} (targets: {})", names.join(", "));
            std::process::exit(2);
        };
        if files.is_empty() {
            eprintln!("{name}: no inputs");
            std::process::exit(2);
        }
        let started = Instant::now();
        let mut slowest = (Duration::ZERO, PathBuf::new());
        for file in files {
            let data = std::fs::read(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            let t = Instant::now();
            let ok = std::panic::catch_unwind(|| target(&data)).is_ok();
            let took = t.elapsed();
            if !ok {
                eprintln!("FAILED {name} {}", file.display());
                failed += 1;
            } else if took > max {
                eprintln!("TOO SLOW {name} {}: {took:?} (over {max:?})", file.display());
                failed += 1;
            }
            if took > slowest.0 {
                slowest = (took, file.clone());
            }
        }
        total += files.len();
        println!(
            "{name}: {} inputs in {:.2?}, slowest {:.2?} ({})",
            files.len(),
            started.elapsed(),
            slowest.0,
            slowest.1.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default()
        );
    }
    println!("replay: {} passed, {failed} failed", total - failed);
    if failed > 0 {
        std::process::exit(1);
    }
}
