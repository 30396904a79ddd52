//! Pure helpers that turn the core's data (trace events, view text, node names) into what the failover views
//! draw: timeline markers for elections and failovers, a joining follower's progress, the id of a node to add.
//! No browser calls here, so tests/web.rs can check them directly.

use crate::world::time::Micros;
use crate::world::trace::TraceEvent;

/// A timeline marker for something the cluster did by itself (not a person's command).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventMarker {
    pub at: Micros,
    /// `leader` (a node became leader), `sync` (a new synchronous follower), `shutdown` (a split-brain guard shut
    /// a node down), `discard` (a node threw away log entries nobody else had).
    pub kind: &'static str,
    pub label: String,
}

/// The marker for a trace event, when it is one the timeline shows.
pub fn event_marker(e: &TraceEvent) -> Option<EventMarker> {
    let (kind, label) = match e {
        TraceEvent::RoleChanged { node, role, .. } if role.starts_with("leader") => {
            ("leader", [&**node, " becomes ", role.as_str()].concat())
        }
        TraceEvent::SyncFollower { leader, node, .. } => {
            ("sync", [&**leader, " makes ", &**node, " its synchronous follower"].concat())
        }
        TraceEvent::ShutDown { node, reason, .. } => ("shutdown", [&**node, " shuts itself down: ", reason].concat()),
        TraceEvent::Discarded { node, from_lsn, to_lsn, ops, .. } => (
            "discard",
            [
                &**node,
                " discards log entries ",
                &from_lsn.to_string(),
                "–",
                &to_lsn.to_string(),
                " (",
                &ops.to_string(),
                if *ops == 1 { " client write)" } else { " client writes)" },
            ]
            .concat(),
        ),
        _ => return None,
    };
    Some(EventMarker { at: e.at(), kind, label })
}

/// Markers for the events of `events` that happened after `after` (the trace is in time order).
pub fn markers_after(events: &[TraceEvent], after: Option<Micros>) -> Vec<EventMarker> {
    let start = after.map_or(0, |t| events.partition_point(|e| e.at() <= t));
    events[start..].iter().filter_map(event_marker).collect()
}

/// The `received/total` at the end of a joining follower's progress text ("snapshot @lsn 12: 3/10" → (3, 10)).
pub fn progress(text: &str) -> Option<(u32, u32)> {
    let last = text.split_whitespace().last()?;
    let (a, b) = last.split_once('/')?;
    let (a, b) = (a.parse::<u32>().ok()?, b.parse::<u32>().ok()?);
    (b > 0).then_some((a.min(b), b))
}

/// What a joining follower's card says: the core's progress text, or what it waits for before the first chunk
/// ("snapshot @lsn 0: 0/0" → "asking for a snapshot…").
pub fn joining_label(text: &str) -> String {
    if progress(text).is_none() && text.ends_with(" 0/0") {
        return if text.starts_with("file") { "asking for the files…" } else { "asking for a snapshot…" }.to_string();
    }
    text.to_string()
}

/// The first `n<k>` (k = 1, 2, …) that no node, client or planned node already uses.
pub fn next_node_id<'a>(taken: impl Iterator<Item = &'a str> + Clone) -> String {
    let mut k = 1u32;
    loop {
        let id = ["n", &k.to_string()].concat();
        if !taken.clone().any(|t| t == id) {
            return id;
        }
        k += 1;
    }
}

/// Why a person may not fail over to a node right now (None: they may).
pub fn failover_block(role: &str, status: &str, ended: bool) -> Option<&'static str> {
    if ended {
        Some("The run has ended: scrub back or restart first")
    } else if role != "follower" {
        Some("Only a follower can be promoted")
    } else if status != "running" {
        Some("Only a running follower can be promoted")
    } else {
        None
    }
}
