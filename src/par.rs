//! Work on every core: `map` runs independent simulations (a sweep's runs, a policy table's rows) in parallel
//! natively and in order in the browser, where the page has one thread. Results come back in the order of the
//! input, so the output is the same as single-threaded, whatever the number of threads.

/// `f` over `items`, results in input order. Natively on up to `available_parallelism` threads (override with the
/// `REPLSIM_THREADS` environment variable, e.g. 1 to compare with a sequential run); on wasm one after another.
#[cfg(not(target_arch = "wasm32"))]
pub fn map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let threads = std::env::var("REPLSIM_THREADS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .min(items.len());
    if threads <= 1 {
        return items.iter().map(f).collect();
    }
    let next = AtomicUsize::new(0);
    let mut done: Vec<(usize, R)> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut out = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(item) = items.get(i) else { break };
                        out.push((i, f(item)));
                    }
                    out
                })
            })
            .collect();
        // A worker that panicked re-raises its panic here, as a sequential run would have.
        workers.into_iter().flat_map(|w| w.join().unwrap_or_else(|e| std::panic::resume_unwind(e))).collect()
    });
    crate::sql::sort_stable_by(&mut done, |a, b| a.0.cmp(&b.0));
    done.into_iter().map(|(_, r)| r).collect()
}

#[cfg(target_arch = "wasm32")]
pub fn map<T, R>(items: &[T], f: impl Fn(&T) -> R) -> Vec<R> {
    items.iter().map(f).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn results_keep_the_input_order() {
        let items: Vec<u64> = (0..1_000).collect();
        let out = super::map(&items, |x| x * x);
        assert_eq!(out, items.iter().map(|x| x * x).collect::<Vec<_>>());
        assert!(super::map(&[] as &[u64], |x| *x).is_empty());
    }
}
