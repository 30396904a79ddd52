//! The report's per-node fields under leaderless replication (the contract's `id`, `role`, `status`, `lsn`,
//! `tables`, plus each replica's hints, keys with siblings and the join of its version vectors).

use serde_json::{json, Map, Value as Json};

use super::Cluster;

pub fn nodes_json(c: &Cluster) -> Vec<Json> {
    (0..c.nodes.len())
        .map(|i| {
            let n = &c.nodes[i];
            let mut m = Map::new();
            m.insert("id".into(), json!(n.id));
            m.insert("role".into(), json!("replica"));
            m.insert("status".into(), json!(n.status.name()));
            // No log, so no log position: the count of versions a replica holds stands in for it.
            m.insert("lsn".into(), json!(n.data.values().map(Vec::len).sum::<usize>()));
            m.insert("tables".into(), Json::Object(c.tables_json(i)));
            c.node_json(i, &mut m);
            Json::Object(m)
        })
        .collect()
}

pub fn nodes_text(c: &Cluster) -> String {
    let names: Vec<&str> = c.names.iter().map(|n| &**n).collect();
    let mut s = String::new();
    for n in &c.nodes {
        let rows: usize = n.data.values().map(|v| v.iter().filter(|s| !s.is_tombstone()).count()).sum();
        s.push_str(&format!(
            "  {:<8} replica   {:<8} {} keys, {rows} rows, {} hints, version {}\n",
            n.id,
            n.status.name(),
            n.data.len(),
            n.hints.len(),
            super::versions::label(&n.summary(), &names)
        ));
    }
    s
}
