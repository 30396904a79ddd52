//! An external cache in front of the database (DDIA 5.1 "Handling Node Outages": the reused-key incident).
//!
//! The application writes each row it inserts into a cache keyed by table and primary key, and reads through the
//! cache. The cache knows nothing of the database: when a promoted follower hands out a key again, the cache still
//! maps it to the old row, so a user is shown another user's data.

use crate::protocol::single_leader::{Effect, Payload};
use crate::protocol::{Endpoint, OpResult};
use crate::sql::Value;
use crate::vecmap::VecMap;

/// The cache's answer to one message: a put stores the row under its key, a get answers with what is stored.
pub(crate) fn on_message(
    kv: &mut VecMap<String, (String, String)>,
    from: Endpoint,
    payload: Payload,
    out: &mut Vec<Effect>,
) {
    match payload {
        Payload::CachePut { key, owner, row } => {
            kv.insert(key, (owner, row));
        }
        Payload::CacheGet { op, key } => {
            let result = match kv.get(&key) {
                Some((owner, row)) => OpResult {
                    ok: true,
                    read_only: true,
                    columns: vec!["key".into(), "row".into()],
                    rows: vec![vec![Value::Text(key.clone()), Value::Text(row.clone())]],
                    owner: Some(owner.clone()),
                    ..OpResult::default()
                },
                None => OpResult {
                    ok: true,
                    read_only: true,
                    columns: vec!["key".into(), "row".into()],
                    ..OpResult::default()
                },
            };
            out.push(Effect::Send { to: from, payload: Payload::Response { op, result } });
        }
        _ => {}
    }
}
