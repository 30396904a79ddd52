//! Pure helpers that turn the core's data (trace events, view text, node names) into what the failover views
//! draw: timeline markers for elections and failovers, a joining follower's progress, the id of a node to add.
//! No browser calls here, so tests/web.rs can check them directly.

use crate::protocol::single_leader::Joining;
use crate::protocol::Status;
use crate::scenario::Role;
use crate::world::time::Micros;
use crate::world::trace::TraceEvent;

/// A timeline marker for something the cluster did by itself (not a person's command).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventMarker {
    pub at: Micros,
    /// `leader` (a node became leader), `sync` (a new synchronous follower), `shutdown` (a split-brain guard shut
    /// a node down), `discard` (a node threw away log entries nobody else had), `conflict` (a leader resolved
    /// concurrent writes to a row), `loopdrop` (a leader dropped a change that carried its own id).
    pub kind: &'static str,
    pub label: String,
}

/// The marker for a trace event, when it is one the timeline shows.
pub fn event_marker(e: &TraceEvent) -> Option<EventMarker> {
    let (kind, label) = match e {
        TraceEvent::RoleChanged { node, role, .. } if role.is_leader() => {
            ("leader", [&**node, " becomes ", &role.to_string()].concat())
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
        TraceEvent::ConflictResolved { node, row, how, .. } => {
            ("conflict", [&**node, " resolves a conflict on ", row, ": ", how].concat())
        }
        TraceEvent::DroppedOwn { node, origin, seq, .. } => (
            "loopdrop",
            [&**node, " drops change ", &seq.to_string(), " of ", origin, ": it carries ", node, "'s id"].concat(),
        ),
        _ => return None,
    };
    Some(EventMarker { at: e.at(), kind, label })
}

/// Markers for the events of `events` that happened after `after` (the trace is in time order).
pub fn markers_after(events: &crate::chunked::Chunked<TraceEvent>, after: Option<Micros>) -> Vec<EventMarker> {
    let start = after.map_or(0, |t| events.partition_point(|e| e.at() <= t));
    events.iter_from(start).filter_map(event_marker).collect()
}

/// A joining follower's transfer progress (received, total), once the first chunk told it the total.
pub fn progress(j: &Joining) -> Option<(u32, u32)> {
    match *j {
        Joining::Snapshot { received, total, .. } | Joining::FileCopy { received, total } if total > 0 => {
            Some((received.min(total), total))
        }
        _ => None,
    }
}

/// What a joining follower's card and inspector say.
pub fn joining_label(j: &Joining) -> String {
    match *j {
        Joining::Snapshot { total: 0, .. } => "asking for a snapshot…".to_string(),
        Joining::FileCopy { total: 0, .. } => "asking for the files…".to_string(),
        Joining::Snapshot { received, total, lsn } => format!("snapshot @lsn {lsn}: {received}/{total}"),
        Joining::FileCopy { received, total } => format!("file copy {received}/{total}"),
        Joining::CatchingUp => "catching up".to_string(),
    }
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
pub fn failover_block(role: Role, status: Status, ended: bool) -> Option<&'static str> {
    if ended {
        Some("The run has ended: scrub back or restart first")
    } else if role != Role::Follower {
        Some("Only a follower can be promoted")
    } else if status != Status::Running {
        Some("Only a running follower can be promoted")
    } else {
        None
    }
}
