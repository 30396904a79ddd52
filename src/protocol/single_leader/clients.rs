//! The client's side of single-leader replication (DDIA 5.1 and 5.2): where a statement goes.
//!
//! A write goes to the leader the client knows of, in the partition the statement's key falls in; a client learns
//! of a new leader from service discovery's announcement or from a follower that turns its write away and names the
//! leader. A read goes where the client's routing policy says (DDIA 5.2): always the leader; any replica; the same
//! replica every time (monotonic reads, by a hash of the user); the leader for what the user edits or for a window
//! after the user's last write (read-your-writes); any replica with the client's LSN token (a replica holds the read
//! until it reaches the token); a follower with a bound on its lag. A statement that touches every partition is
//! sent to one replica of each, and the answers are merged.

use super::*;
use crate::protocol::{Action, Message, Routed};
use crate::scenario::{ClientSpec, NodeSpec, Route};

/// What a client's database driver remembers.
#[derive(Clone, Debug)]
pub struct Client {
    /// The node this client sends writes to: the leader it knows of (in the first partition).
    pub target: usize,
    /// The leader it knows of, per partition (`target` is partition 0's).
    pub targets: Vec<usize>,
    /// Epoch of the newest leader announcement it has heard.
    pub known_epoch: u64,
    /// The cache node the application writes inserted rows to.
    pub cache: Option<usize>,
    /// The person behind the client.
    pub user: String,
    pub route: Route,
    pub spec: Rc<ClientSpec>,
    /// When this client's last write was acknowledged (leader-window routing).
    pub last_write: Option<Micros>,
    /// LSN of this client's last acknowledged write (lsn-token routing).
    pub token: u64,
    /// Replicas a sticky client gave up on after they did not answer.
    pub avoid: VecMap<usize, ()>,
    rng: SimRng,
}

impl Client {
    pub fn new(spec: &ClientSpec, leader: usize, leaders: Vec<usize>, nodes: &[NodeSpec], seed: u64) -> Self {
        Client {
            target: leader,
            targets: leaders,
            known_epoch: 1,
            cache: spec.cache.as_ref().and_then(|id| nodes.iter().position(|n| &n.id == id)),
            user: spec.user.clone().unwrap_or_else(|| spec.id.clone()),
            route: spec.route,
            spec: Rc::new(spec.clone()),
            last_write: None,
            token: 0,
            avoid: VecMap::new(),
            rng: SimRng::fork(seed, &format!("client:{}", spec.id)),
        }
    }
}

impl Cluster {
    /// Client `ci` sends `sql` as operation `op`: to which node(s), with which token or lag bound.
    pub fn client_request(&mut self, ci: usize, op: usize, sql: &str, now: Micros) -> Routed {
        // Classified again from the answer; this first guess decides the routing.
        let read = crate::world::sim::looks_like_read(sql);
        let groups = self.scenario.partitions.len().max(1);
        let routed = crate::protocol::partitions::target(sql, &self.scenario.partition_key, groups);
        let parts: Vec<usize> = match &routed {
            Ok(crate::protocol::partitions::Target::One(p)) => vec![*p],
            Ok(crate::protocol::partitions::Target::All) => (0..groups).collect(),
            Err(_) => vec![0],
        };
        let legs: Vec<(usize, u64, Option<Micros>)> = parts
            .iter()
            .map(|p| if read { self.route_read(ci, sql, *p, now) } else { (self.clients[ci].targets[*p], 0, None) })
            .collect();
        let node = legs[0].0;
        if let Err(e) = routed {
            // The router refuses statements it cannot place; nothing is sent.
            return Routed { read, node, refused: Some(OpError::Router(e.to_string())), actions: Vec::new() };
        }
        if legs.len() > 1 {
            // Scatter-gather: one replica per partition, answers merged when all are in.
            let result = OpResult { ok: true, read_only: true, ..OpResult::default() };
            self.scatter.insert(op, (parts.clone(), result));
        }
        let actions = legs
            .into_iter()
            .map(|(node, min_lsn, max_lag)| Action::Send {
                from: Endpoint::Client(ci),
                to: Endpoint::Node(node),
                msg: Message::SingleLeader(Payload::Request { op, sql: sql.to_string(), min_lsn, max_lag }),
                delay: 0,
            })
            .collect();
        Routed { read, node, refused: None, actions }
    }

    /// Pick the replica for a read by the client's routing policy (DDIA 5.2), with the token or lag bound the
    /// replica must honour: (node, min_lsn, max_lag).
    fn route_read(&mut self, ci: usize, sql: &str, group: usize, now: Micros) -> (usize, u64, Option<Micros>) {
        let replicas: Vec<usize> = self
            .nodes
            .iter()
            .filter(|n| n.is_replica() && n.status != Status::Absent && self.partition_of[n.index] == group)
            .map(|n| n.index)
            .collect();
        let leader = self.clients[ci].targets[group];
        let followers: Vec<usize> = replicas.iter().copied().filter(|r| *r != leader).collect();
        let c = &mut self.clients[ci];
        let random_of = |set: &[usize], rng: &mut SimRng| -> usize {
            if set.is_empty() {
                leader
            } else {
                set[rng.range_inclusive(0, set.len() as u64 - 1) as usize]
            }
        };
        match c.route {
            Route::Leader => (leader, 0, None),
            Route::Random => (random_of(&replicas, &mut c.rng), 0, None),
            Route::Sticky => {
                // A replica chosen by a hash of the user id; past replicas that stopped answering, the next one.
                let mut h = crate::world::trace::Fnv64::new();
                h.write_bytes(c.user.as_bytes());
                let start = (h.finish() % replicas.len().max(1) as u64) as usize;
                let pick = (0..replicas.len())
                    .map(|k| replicas[(start + k) % replicas.len()])
                    .find(|r| !c.avoid.contains_key(r))
                    .unwrap_or(leader);
                (pick, 0, None)
            }
            Route::OwnFromLeader => {
                // The router's rule: a read that names the user in the owner column reads what the user edits.
                let own = owner_filter(sql, &c.spec.owner_column, &c.user);
                if own {
                    (leader, 0, None)
                } else {
                    (random_of(&followers, &mut c.rng), 0, None)
                }
            }
            Route::LeaderWindow => {
                let window = ms(c.spec.window_ms);
                if c.last_write.is_some_and(|w| now.saturating_sub(w) < window) {
                    (leader, 0, None)
                } else {
                    (random_of(&followers, &mut c.rng), 0, None)
                }
            }
            Route::LsnToken => {
                let token =
                    if c.spec.share_token { self.user_tokens.get(&c.user).copied().unwrap_or(0) } else { c.token };
                let c = &mut self.clients[ci];
                (random_of(&replicas, &mut c.rng), token, None)
            }
            Route::MaxLag => (random_of(&followers, &mut c.rng), 0, Some(ms(c.spec.max_lag_ms))),
        }
    }
}

/// Does `sql` filter on `column = 'user'` (the row owner)? A router's lexical check, not a parse.
pub fn owner_filter(sql: &str, column: &str, user: &str) -> bool {
    let flat: String = sql.split_whitespace().collect::<Vec<_>>().join(" ").to_ascii_lowercase();
    let col = column.to_ascii_lowercase();
    let val = format!("'{}'", user.to_ascii_lowercase());
    [format!("{col} = {val}"), format!("{col}={val}"), format!("{col} ={val}"), format!("{col}= {val}")]
        .iter()
        .any(|p| flat.contains(p.as_str()))
}
