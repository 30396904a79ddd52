//! The fuzz targets, one function per input the playground takes from strangers. Each takes the fuzzer's bytes and
//! returns normally for every input; a panic (including an integer overflow: the fuzzed build has overflow checks)
//! or a violated claim (an `assert!` below, each naming the claim) is a crash, and an input that takes over a
//! second is a hang (AFL's `-t 1000`).
//!
//! - [`sql`]: SQL text into the engine (`replsim::sql`): statements run against a small database, and what the
//!   engine ships (page writes, row changes) rebuilds the same tables elsewhere.
//! - [`scenario`]: scenario JSON into the parser and validation; a scenario that parses round-trips through
//!   `to_json` and starts (`Simulation::new`) or says why not.
//! - [`link`]: a share link's fragment (`#run=…`) into `LinkState::decode_view`; what decodes re-encodes to itself.
//! - [`run`]: a scenario and a person's command list, both built from the bytes by a structure-aware decoder, run
//!   for a bounded simulated time; then the checkers read its history.
//!
//! `TARGETS` lists them for the AFL entry points (`src/bin/*.rs`, built by `cargo afl build`) and the corpus replay
//! (`src/bin/replay.rs`).

use replsim::link::LinkState;
use replsim::scenario::{check_added_nodes, TimedCommand};
use replsim::sql::{Database, FixedEnv, Session};
use replsim::world::time::ms;
use replsim::{Scenario, Simulation};
use serde_json::{json, Value};

pub type Target = fn(&[u8]);

/// Every target by name: the name is its binary, its corpus folder (`fuzz/corpus/NAME/`) and its findings folder.
pub const TARGETS: &[(&str, Target)] = &[("sql", sql), ("scenario", scenario), ("link", link), ("run", run)];

pub fn target(name: &str) -> Option<Target> {
    TARGETS.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

// ---------- (a) SQL text into the engine ----------

/// The small database every SQL input starts from: each column affinity, an AUTOINCREMENT key, a hidden rowid, a
/// text primary key, UNIQUE constraints and a trigger, with a few rows.
pub const SQL_SCHEMA: &[&str] = &[
    "CREATE TABLE users (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, email TEXT UNIQUE, score REAL, n)",
    "CREATE TABLE posts (id INTEGER PRIMARY KEY, body TEXT, owner TEXT DEFAULT 'alice', at TIMESTAMP)",
    "CREATE TABLE kv (k TEXT PRIMARY KEY, v NUMERIC)",
    "CREATE TABLE notes (body, stamp BOOLEAN)",
    "CREATE TRIGGER audit AFTER INSERT ON users BEGIN INSERT INTO kv VALUES ('u' || NEW.id, NEW.n); END",
    "INSERT INTO users (name, email, score, n) VALUES ('ann', 'a@x', 1.5, 1), ('bob', NULL, -2, 'x')",
    "INSERT INTO posts (id, body) VALUES (1, 'hello'), (7, 'world')",
    "INSERT INTO notes VALUES ('n', TRUE)",
];

/// At most this many statements of one input run (each is cheap; the bound keeps one input well under a second).
pub const MAX_SQL_STATEMENTS: usize = 64;

fn sql_env() -> FixedEnv {
    FixedEnv { now_us: 1_700_000_000_000_000, rng_state: 7 }
}

fn new_database(format: u8) -> Database {
    let mut db = Database::with_storage(format, 512).expect("a valid storage setting");
    for s in SQL_SCHEMA {
        db.execute_autocommit(s, &mut sql_env()).unwrap_or_else(|e| panic!("the fuzz schema: {s}: {e}"));
    }
    db
}

/// SQL text, split into statements as the CLI and a scenario's schema are, run one after another in one session
/// (transactions stay open across statements). The input's length picks storage format 1 or 2, so both row formats
/// see every kind of statement.
///
/// Claims checked besides "no panic": every committed transaction's page writes, applied to a physical (WAL)
/// replica, and its row changes, applied to a logical replica, are accepted; at the end the WAL replica has the same
/// tables and byte-identical pages, the logical replica the same rows, and the pages alone recover the database
/// (crash recovery). (Compared once at the end, not after every commit: the fuzzer runs several times faster.)
pub fn sql(data: &[u8]) {
    thread_local! {
        static BASE: [Database; 2] = [1, 2].map(|format| {
            let mut db = new_database(format);
            db.take_page_writes();
            db
        });
    }
    let text = String::from_utf8_lossy(data);
    let format = 1 + (data.len() % 2) as u8;
    let mut db = BASE.with(|b| b[usize::from(format - 1)].clone());
    let mut wal = db.clone();
    let mut logical = db.clone();
    let mut env = sql_env();
    let mut session = Session::new();
    for statement in replsim::sql::split_statements(&text).iter().take(MAX_SQL_STATEMENTS) {
        let Ok(outcome) = db.execute(statement, &mut session, &mut env) else { continue };
        let Some(commit) = outcome.committed else { continue };
        let writes = db.take_page_writes();
        wal.apply_page_writes(format, &writes)
            .unwrap_or_else(|e| panic!("a WAL replica refused the page writes of {statement:?}: {e}"));
        for change in &commit.changes {
            logical
                .apply_change(change)
                .unwrap_or_else(|e| panic!("a logical replica refused {change:?} (after {statement:?}): {e}"));
        }
    }
    // An open transaction is rolled back (the client went away); what that wrote to pages ships with the next commit.
    db.close_session(&mut session);
    let writes = db.take_page_writes();
    wal.apply_page_writes(format, &writes).unwrap_or_else(|e| panic!("a WAL replica refused a rollback's pages: {e}"));
    assert!(wal == db, "the WAL replica's tables differ from the database's");
    assert!(wal.pages_equal(&db), "the WAL replica's pages differ from the database's");
    for table in db.table_names() {
        assert!(logical.rows(&table) == db.rows(&table), "the logical replica's {table} differs");
    }
    let recovered = db.recover_from_pages().unwrap_or_else(|e| panic!("recovery from pages failed: {e}"));
    assert!(recovered == db, "the database recovered from its pages differs");
}

// ---------- (b) scenario JSON ----------

/// A scenario file: parse and validate; on success it round-trips through `to_json` and starts (or gives a setup
/// error with a message). It does not run: a valid file may ask for an hour of simulated time ([`run`] runs).
pub fn scenario(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let s = match Scenario::from_json_str(text) {
        Ok(s) => s,
        Err(e) => {
            assert!(!e.message.is_empty(), "a scenario error without a message at {:?}", e.path);
            return;
        }
    };
    let again = Scenario::from_value(&s.to_json()).unwrap_or_else(|e| panic!("to_json made an invalid file: {e}"));
    assert!(again == s, "the scenario changed on a round trip through to_json");
    if let Err(e) = Simulation::new(&s, s.seed, &[]) {
        assert!(!e.0.is_empty(), "a setup error without a message");
    }
}

// ---------- (c) a share link's fragment ----------

/// A share link's fragment, as the page reads it from `location.hash`: decode; what decodes re-encodes to the same
/// state and view, and starts (or gives a setup error with a message).
pub fn link(data: &[u8]) {
    let fragment = String::from_utf8_lossy(data);
    let (state, view) = match LinkState::decode_view(&fragment) {
        Ok(ok) => ok,
        Err(e) => {
            assert!(!e.is_empty(), "a link error without a message");
            return;
        }
    };
    let again = LinkState::decode_view(&state.encode_view(view))
        .unwrap_or_else(|e| panic!("a decoded link does not decode after encoding again: {e}"));
    assert!(again == (state.clone(), view), "a link changed on a round trip");
    if let Err(e) = Simulation::new(&state.scenario, state.seed, &state.commands) {
        assert!(!e.0.is_empty(), "a setup error without a message");
    }
}

// ---------- (d) a scenario and a person's commands, run ----------

/// The longest simulated time a [`run`] input runs.
pub const RUN_MS: u64 = 3_000;

/// The fuzzer's bytes, read front to back; past the end every read is 0 (so every input decodes to something, and
/// a short input to a plain one).
pub struct Bytes<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Bytes<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Bytes { data, pos: 0 }
    }

    pub fn byte(&mut self) -> u8 {
        let b = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        b
    }

    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.byte(), self.byte()])
    }

    /// A number in 0..n (0 when n is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        match n {
            0 | 1 => 0,
            2..=256 => u64::from(self.byte()) % n,
            _ => u64::from(self.u16()) % n,
        }
    }

    fn chance(&mut self, percent: u8) -> bool {
        self.byte() % 100 < percent
    }

    fn pick<T: Clone>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize].clone()
    }

    /// Up to `max` bytes of the input, as text.
    fn text(&mut self, max: usize) -> String {
        let n = (self.byte() as usize).min(max);
        let start = self.pos.min(self.data.len());
        let end = (start + n).min(self.data.len());
        self.pos += n;
        String::from_utf8_lossy(&self.data[start..end]).into_owned()
    }
}

const ROUTES: &[&str] = &["leader", "random", "sticky", "own-from-leader", "leader-window", "lsn-token", "max-lag"];

/// Statements a client sends: writes of every kind, reads, transactions, nondeterministic functions, errors.
pub const RUN_STATEMENTS: &[&str] = &[
    "INSERT INTO users (name, owner) VALUES ('ann', 'alice')",
    "INSERT INTO users (name, owner) VALUES ('bob', 'bob')",
    "INSERT INTO users (name, owner) VALUES (UUID(), 'carol')",
    "INSERT INTO users (name) VALUES (RAND())",
    "INSERT INTO users (id, name) VALUES (1, 'dup')",
    "INSERT INTO posts (id, body) VALUES (1, 'hello world')",
    "INSERT INTO posts (body) VALUES ('second')",
    "UPDATE users SET name = NOW() WHERE id = 1",
    "UPDATE users SET name = 'bo' WHERE owner = 'alice'",
    "UPDATE users SET id = id + 10 WHERE id = 2",
    "UPDATE posts SET body = body || '!'",
    "DELETE FROM users WHERE id = 2",
    "DELETE FROM posts",
    "SELECT * FROM users",
    "SELECT * FROM users WHERE owner = 'alice'",
    "SELECT name FROM users WHERE id = 1",
    "SELECT COUNT(*) FROM posts",
    "BEGIN",
    "COMMIT",
    "ROLLBACK",
    "CREATE TABLE extra (k TEXT PRIMARY KEY, v)",
    "SELEC garbage",
    "INSERT INTO nope VALUES (1)",
];

const RUN_SCHEMA: &[&str] = &[
    "CREATE TABLE users (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT, owner TEXT)",
    "CREATE TABLE posts (id INTEGER PRIMARY KEY, body TEXT)",
];

/// Whom a run can name: its nodes and clients, and the nodes `add_node` commands may bring in.
struct Cast {
    nodes: Vec<String>,
    clients: Vec<String>,
    groups: Vec<String>,
}

impl Cast {
    fn of(s: &Scenario) -> Cast {
        Cast {
            nodes: s.nodes.iter().map(|n| n.id.clone()).collect(),
            clients: s.clients.iter().map(|c| c.id.clone()).collect(),
            groups: s.partitions.iter().map(|p| p.id.clone()).collect(),
        }
    }

    fn node(&self, b: &mut Bytes) -> String {
        // Now and then a node that only an add_node command brings in (perhaps later, perhaps never).
        if b.chance(10) {
            return format!("j{}", b.below(3));
        }
        if self.nodes.is_empty() {
            return "n1".into();
        }
        b.pick(&self.nodes)
    }

    fn endpoint(&self, b: &mut Bytes) -> String {
        if !self.clients.is_empty() && b.chance(25) {
            b.pick(&self.clients)
        } else {
            self.node(b)
        }
    }

    /// Two different endpoints (a link joins two), of the scenario's own.
    fn pair(&self, b: &mut Bytes) -> (String, String) {
        let all: Vec<&String> = self.nodes.iter().chain(&self.clients).collect();
        if all.len() < 2 {
            return ("n1".into(), "n2".into());
        }
        let i = b.below(all.len() as u64) as usize;
        let j = (i + 1 + b.below(all.len() as u64 - 1) as usize) % all.len();
        (all[i].clone(), all[j].clone())
    }

    fn client(&self, b: &mut Bytes) -> Option<String> {
        (!self.clients.is_empty()).then(|| b.pick(&self.clients))
    }
}

fn latency(b: &mut Bytes) -> Value {
    let min = b.below(20);
    json!({"min": min, "max": min + b.below(60)})
}

fn network(b: &mut Bytes, cast: &Cast) -> Value {
    let mut n = json!({
        "latency_ms": latency(b),
        "loss": b.pick(&[0.0, 0.0, 0.0, 0.05, 0.3, 1.0]),
        "duplicate": b.pick(&[0.0, 0.0, 0.1, 0.5]),
        "reorder": b.pick(&[0.0, 0.0, 0.2, 0.9]),
    });
    if b.chance(30) {
        let (from, to) = cast.pair(b);
        n["links"] = if b.chance(50) {
            json!([{"between": [from, to], "latency_ms": latency(b)}])
        } else {
            json!([{"from": from, "to": to, "loss": b.pick(&[0.1, 0.5, 1.0])}])
        };
    }
    n
}

/// One timed command of any kind, at a moment within the run.
fn command(b: &mut Bytes, cast: &Cast, until_ms: u64) -> Value {
    let at = b.below(until_ms + 1);
    let mut c = match b.below(30) {
        0 | 1 => json!({"crash": cast.node(b)}),
        2 | 3 => json!({"restart": cast.node(b)}),
        4 => match b.pick(&[None, Some(0u64), Some(50), Some(400), Some(2000)]) {
            None => json!({"pause": cast.node(b)}),
            Some(d) => json!({"pause": cast.node(b), "for_ms": d}),
        },
        5 => json!({"resume": cast.node(b)}),
        6 => {
            let mut groups: Vec<Vec<String>> = vec![Vec::new(), Vec::new()];
            for id in cast.nodes.iter().chain(&cast.clients) {
                let g = b.below(3) as usize;
                if g < 2 {
                    groups[g].push(id.clone());
                }
            }
            groups.retain(|g| !g.is_empty());
            json!({"partition": groups, "one_way": b.chance(30)})
        }
        7 => json!({"cut": [cast.endpoint(b), cast.endpoint(b)]}),
        8 => json!({"heal": cast.pair(b)}),
        9 => json!({"heal": true}),
        10 | 11 => {
            let mut a = json!({"add_node": format!("j{}", b.below(3)), "copy": b.pick(&["snapshot", "file-copy"])});
            if !cast.groups.is_empty() && b.chance(50) {
                a["group"] = json!(b.pick(&cast.groups));
            }
            a
        }
        12 | 13 => json!({"failover_to": cast.node(b)}),
        14 => json!({"upgrade": cast.node(b), "storage_format": 1 + b.below(2)}),
        15 => json!({"network": network(b, cast)}),
        16 => match cast.client(b) {
            Some(c) => json!({"client": c, "cache_get": b.pick(&["users:1", "users:2", "posts:1"])}),
            None => json!({"heal": true}),
        },
        // Multi-leader (DDIA 5.3) and leaderless (5.4) commands; under another protocol validation refuses them.
        24 => json!({"offline": cast.endpoint(b)}),
        25 => json!({"online": cast.endpoint(b)}),
        26 => match cast.client(b) {
            Some(c) => json!({"move": c, "leader": cast.node(b)}),
            None => json!({"online": cast.node(b)}),
        },
        27 => {
            let mut ring = cast.nodes.clone();
            let len = ring.len().max(1) as u64;
            let turn = b.below(len) as usize % ring.len().max(1);
            ring.rotate_left(turn);
            ring.truncate(1 + b.below(len) as usize);
            json!({"reconfigure": {"topology": b.pick(&["all-to-all", "circular", "star"]), "ring": ring, "hub": cast.node(b)}})
        }
        28 => {
            let mut q = serde_json::Map::new();
            for k in ["n", "w", "r"] {
                if b.chance(60) {
                    q.insert(k.into(), json!(b.below(6)));
                }
            }
            if b.chance(40) {
                q.insert("read_repair".into(), json!(b.chance(50)));
            }
            if b.chance(40) {
                q.insert("sloppy_quorum".into(), json!(b.chance(50)));
            }
            if b.chance(40) {
                q.insert("anti_entropy_ms".into(), json!(b.pick(&[0u64, 1, 50, 400])));
            }
            json!({"quorum": q})
        }
        29 => json!({"restart": cast.node(b), "restore_from": cast.node(b)}),
        k => match cast.client(b) {
            // Mostly a statement from the list; now and then text straight from the input.
            Some(c) if k == 23 => json!({"client": c, "sql": b.text(200)}),
            Some(c) => json!({"client": c, "sql": b.pick(RUN_STATEMENTS)}),
            None => json!({"crash": cast.node(b)}),
        },
    };
    c["at_ms"] = json!(at);
    c
}

/// A scenario built from the bytes: its shape (nodes and roles, partitions), replication, failover, network and
/// client settings, and a workload, each picked from what the format allows. Validation still runs on it.
fn generated_scenario(b: &mut Bytes) -> Value {
    let partitioned = b.chance(12);
    let mut roles = vec!["leader"];
    if partitioned {
        roles = vec!["leader", "follower", "leader", "follower"];
    } else {
        for _ in 0..b.below(5) {
            let r = b.pick(&["follower", "follower", "follower", "follower", "cache", "controller", "cdc"]);
            roles.push(if r == "controller" && roles.contains(&r) { "follower" } else { r });
        }
    }
    let nodes: Vec<Value> = roles
        .iter()
        .enumerate()
        .map(|(i, role)| {
            let mut n = json!({"id": format!("n{}", i + 1), "role": role});
            if b.chance(15) {
                n["clock"] =
                    json!({"offset_ms": b.below(2000) as i64 - 1000, "drift_ppm": b.below(4000) as i64 - 2000});
            }
            if b.chance(10) {
                n["apply_delay_ms"] = json!(b.below(500));
            }
            if b.chance(20) {
                n["storage_format"] = json!(2);
            }
            if *role == "cdc" {
                n["index"] = json!("users.name");
            }
            n
        })
        .collect();
    let log = if partitioned {
        b.pick(&["statement", "wal", "logical"])
    } else {
        b.pick(&["statement", "wal", "logical", "trigger"])
    };
    let heartbeat = b.pick(&[5u64, 20, 50, 200]);
    let mut replication = json!({
        "mode": b.pick(&["async", "async", "sync", "semi-sync"]),
        "log": log,
        "heartbeat_ms": heartbeat,
        "statement_substitution": b.chance(30),
        "statement_mixed": b.chance(20),
        "log_retention": b.pick(&[1_000_000u64, 1_000_000, 3, 10]),
        "semi_sync_timeout_ms": 4 * heartbeat,
    });
    if log == "trigger" {
        replication["trigger"] =
            json!({"poll_ms": b.pick(&[5u64, 50, 200]), "batch": 1 + b.below(20), "tables": ["users"]});
        if b.chance(40) {
            replication["trigger"]["where"] = json!({"users": "owner = 'alice'"});
        }
    }
    let mut clients = Vec::new();
    let caches: Vec<String> =
        roles.iter().enumerate().filter(|(_, r)| **r == "cache").map(|(i, _)| format!("n{}", i + 1)).collect();
    for id in ["alice", "bob", "carol"].iter().take(b.below(4) as usize) {
        let mut c = json!({
            "id": id,
            "route": b.pick(ROUTES),
            "timeout_ms": b.pick(&[100u64, 1000, 3000]),
            "window_ms": b.below(2000),
            "max_lag_ms": b.below(300),
            "share_token": b.chance(50),
        });
        if b.chance(30) {
            c["user"] = json!(b.pick(&["u1", "u2"]));
        }
        if !caches.is_empty() && b.chance(60) {
            c["cache"] = json!(b.pick(&caches));
        }
        clients.push(c);
    }
    let until_ms = b.pick(&[200u64, 500, 1000, 2000, 3000]);
    let mut s = json!({
        "version": 1,
        "until_ms": until_ms,
        "nodes": nodes,
        "replication": replication,
        "clients": clients,
        "schema": RUN_SCHEMA,
    });
    if b.chance(70) {
        let election = if roles.contains(&"controller") && b.chance(50) { "controller" } else { "most-up-to-date" };
        s["failover"] = json!({
            "auto": b.chance(60),
            "timeout_ms": b.pick(&[20u64, 50, 100, 300, 1000]),
            "election": election,
            "epochs": b.chance(70),
            "fencing": b.chance(30),
            "two_leaders": b.pick(&["ignore", "shutdown-older", "shutdown-both"]),
            "discovery_ms": b.pick(&[0u64, 20, 100]),
        });
    }
    if partitioned {
        s["partitions"] = json!([{"id": "p1", "nodes": ["n1", "n2"]}, {"id": "p2", "nodes": ["n3", "n4"]}]);
        s["partition_key"] = json!({"users": "owner"});
    }
    if b.chance(20) {
        s["locking"] = json!("row");
    }
    if b.chance(20) {
        s["page_size"] = json!(b.pick(&[128u64, 512, 4096]));
    }
    let cast = Cast {
        nodes: roles.iter().enumerate().map(|(i, _)| format!("n{}", i + 1)).collect(),
        clients: Vec::new(),
        groups: Vec::new(),
    };
    if b.chance(80) {
        s["network"] = network(b, &cast);
    }
    let client_ids: Vec<String> =
        s["clients"].as_array().into_iter().flatten().filter_map(|c| c["id"].as_str().map(String::from)).collect();
    let cast = Cast { clients: client_ids, ..cast };
    let workload: Vec<Value> = (0..b.below(8))
        .filter_map(|_| {
            let at = b.below(until_ms + 1);
            let sql = b.pick(RUN_STATEMENTS);
            cast.client(b).map(|c| json!({"at_ms": at, "client": c, "sql": sql}))
        })
        .collect();
    s["workload"] = json!(workload);
    // Now and then the same cast under another protocol: leaders per datacenter (DDIA 5.3) or leaderless replicas
    // (5.4). Settings the other protocol refuses (auto failover, caches, …) make validation refuse the input.
    let n = roles.len();
    if n >= 2 && b.chance(15) {
        for (i, node) in s["nodes"].as_array_mut().into_iter().flatten().enumerate() {
            node["datacenter"] = json!(if i % 2 == 0 { "dc1" } else { "dc2" });
            node["role"] = json!(if i < 2 { "leader" } else { "follower" });
        }
        s["replication"] = json!({
            "log": "logical",
            "topology": b.pick(&["all-to-all", "circular", "star"]),
            "hub": "n1",
            "conflict": b.pick(&["none", "lww", "replica-id", "merge", "on-write", "crdt", "siblings"]),
            "on_write": {"users.name": b.pick(&["max", "min", "concat"])},
            "causality": b.pick(&["none", "version-vectors"]),
        });
        s["network"]["datacenters"] = json!({"latency_ms": latency(b), "loss": b.pick(&[0.0, 0.1])});
        s.as_object_mut().map(|o| o.remove("failover"));
    } else if b.chance(12) {
        for node in s["nodes"].as_array_mut().into_iter().flatten() {
            node["role"] = json!("replica");
        }
        let n_rep = 1 + b.below(n as u64);
        s["replication"] = json!({"leaderless": {
            "n": n_rep, "w": 1 + b.below(n_rep), "r": 1 + b.below(n_rep),
            "read_repair": b.chance(60), "anti_entropy_ms": b.pick(&[0u64, 0, 50, 300]),
            "sloppy_quorum": b.chance(30), "handoff_ms": b.pick(&[20u64, 100, 500]),
        }});
        for c in s["clients"].as_array_mut().into_iter().flatten() {
            c["coordinator"] =
                if b.chance(30) { json!("client") } else { json!(format!("n{}", 1 + b.below(n as u64))) };
            c.as_object_mut().map(|o| o.remove("route"));
        }
        s.as_object_mut().map(|o| o.remove("failover"));
        s["workload"] = json!((0..b.below(8))
            .filter_map(|_| {
                let at = b.below(until_ms + 1);
                let sql = b.pick(&[
                    "INSERT INTO posts (id, body) VALUES (1, 'a')",
                    "INSERT INTO posts (id, body) VALUES (2, 'b')",
                    "UPDATE posts SET body = 'c' WHERE id = 1",
                    "DELETE FROM posts WHERE id = 2",
                    "SELECT * FROM posts WHERE id = 1",
                ]);
                cast.client(b).map(|c| json!({"at_ms": at, "client": c, "sql": sql, "blind": b.chance(20)}))
            })
            .collect::<Vec<_>>());
    }
    s
}

/// The scenario and commands a [`run`] input decodes to, validated as a share link's are; `None` when validation
/// refuses them (the fuzzer learns to avoid that).
pub fn decode_run(data: &[u8]) -> Option<(Scenario, u64, Vec<TimedCommand>)> {
    use replsim::library::LESSONS;
    let mut b = Bytes::new(data);
    // A lesson from the library (the richest scenarios there are) or a scenario built from the bytes.
    let base = b.byte() as usize;
    let scenario = match LESSONS.get(base) {
        Some(lesson) => Scenario::from_json_str(lesson.json).ok()?,
        None => {
            let doc = generated_scenario(&mut b);
            match Scenario::from_value(&doc) {
                Ok(s) => s,
                Err(e) => {
                    if std::env::var_os("FUZZ_DEBUG").is_some() {
                        eprintln!("refused: {e}");
                    }
                    return None;
                }
            }
        }
    };
    let seed = u64::from(b.byte());
    let cast = Cast::of(&scenario);
    let until_ms = scenario.until_ms.min(RUN_MS);
    let list: Vec<Value> = (0..b.below(32)).map(|_| command(&mut b, &cast, until_ms)).collect();
    // As `LinkState::decode` checks a person's commands: ids must exist, joiners count against the bound.
    // (A command validation refuses is left out rather than refusing the whole input.)
    let names = scenario.names_with(&list);
    let commands: Vec<TimedCommand> = list
        .iter()
        .enumerate()
        .filter_map(|(i, c)| TimedCommand::from_value(c, &format!("commands[{i}]"), &names).ok())
        .collect();
    let own = scenario.workload.iter().chain(&scenario.faults).map(|c| (String::from("scenario"), c));
    let theirs = commands.iter().map(|c| (String::from("commands"), c));
    check_added_nodes(&scenario.nodes, own.chain(theirs)).ok()?;
    Some((scenario, seed, commands))
}

/// A scenario and a person's commands (see [`decode_run`]) run for up to [`RUN_MS`] of simulated time; then the
/// checkers (divergence, lost writes, split brain, lag anomalies) read the history, as the page's panels do.
pub fn run(data: &[u8]) {
    let Some((scenario, seed, commands)) = decode_run(data) else { return };
    let mut sim = match Simulation::new(&scenario, seed, &commands) {
        Ok(sim) => sim,
        Err(e) => {
            assert!(!e.0.is_empty(), "a setup error without a message");
            return;
        }
    };
    sim.run_until(scenario.until().min(ms(RUN_MS)));
    let _ = replsim::check::anomalies(&sim);
}
