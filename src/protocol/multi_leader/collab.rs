//! DDIA 5.3, collaborative editing as multi-leader replication: two or three people, each with a copy of one
//! document on their own device. Every device is a leader: a keystroke is a change applied to the local copy at once
//! and sent to the other devices, which apply it when it arrives, after the network's delay. Three ways to do it:
//!
//! - `lock`: a person must hold the document's lock before typing; the lock lives on a server, so taking it is a
//!   round trip, and keystrokes typed meanwhile wait. The holder's changes go through the server to the others.
//!   This is single-leader replication in disguise (the lock holder is the leader), and nobody loses a keystroke;
//!   the price is waiting, and a holder who goes offline keeps everyone else waiting.
//! - `lww`: each keystroke sends the whole document, stamped with the writer's clock (ties broken by person); a copy
//!   keeps whichever document has the higher stamp. Copies agree once the messages arrive, but a document that loses
//!   takes every keystroke only it had with it: those are counted as lost. (A keystroke is kept when the document
//!   with the highest stamp so far descends from the version it made.)
//! - `crdt`: each keystroke is an operation of the text CRDT (`text.rs`); every copy applies every operation, in any
//!   order, and all copies end with the same text with every keystroke kept.
//!
//! A person can go offline: what their device sends waits in its outbox, what is sent to it waits at the sender, and
//! both flow when it comes back (with the network's delay). Everything runs in simulated integer time; the only
//! randomness (a little jitter on each message's delay) comes from the project's seeded `SimRng`, and each link
//! delivers in order, like the TCP connection it stands for. The page drives a `Session` with real typing and the
//! real clock; tests and the benchmark drive it with scripted keystrokes.

use std::collections::{BTreeMap, VecDeque};

use super::text::{Op, Text};
use crate::world::rng::SimRng;
use crate::world::time::Micros;

pub const MIN_PEOPLE: usize = 2;
pub const MAX_PEOPLE: usize = 3;
pub const MAX_LATENCY_MS: u64 = 5_000;
/// A lock holder gives the lock up when someone else asked and it has not typed for this long.
pub const LOCK_IDLE_MS: u64 = 500;
/// Bounds on hostile or accidental input (a huge paste): a document never grows past this many characters, and one
/// edit types at most `MAX_EDIT_KEYS` keystrokes.
pub const MAX_DOC_CHARS: usize = 100_000;
pub const MAX_EDIT_KEYS: usize = 2_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EditMode {
    Lock,
    Lww,
    Crdt,
}

impl EditMode {
    pub const ALL: [EditMode; 3] = [EditMode::Lock, EditMode::Lww, EditMode::Crdt];

    pub fn name(self) -> &'static str {
        match self {
            EditMode::Lock => "lock",
            EditMode::Lww => "lww",
            EditMode::Crdt => "crdt",
        }
    }

    pub fn parse(s: &str) -> Option<EditMode> {
        EditMode::ALL.into_iter().find(|m| m.name() == s)
    }
}

/// One keystroke at a visible position of the typist's copy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Key {
    Insert(usize, char),
    Delete(usize),
}

/// A stamp for last-write-wins: the writer's clock, then the person (higher wins).
type Stamp = (Micros, u16);

#[derive(Clone, Debug)]
enum Msg {
    Crdt(Op),
    Lww {
        text: String,
        stamp: Stamp,
        version: u32,
    },
    /// Lock mode, person → server.
    LockRequest,
    /// Lock mode, server → person.
    LockGrant,
    /// Lock mode, server → holder: someone else is waiting.
    LockRevoke,
    /// Lock mode, holder → server.
    LockRelease,
    /// Lock mode: the holder's keystroke, to the server and from it to the others.
    Change(Key),
}

#[derive(Clone, Debug)]
enum Event {
    Deliver {
        from: usize,
        to: usize,
        msg: Msg,
    },
    /// Lock mode: the holder checks whether it has been idle long enough to give the lock up.
    ReleaseCheck {
        person: usize,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockState {
    Free,
    Asked,
    Held,
}

impl LockState {
    /// Its name in the page (`data-lock`).
    pub fn name(self) -> &'static str {
        match self {
            LockState::Free => "free",
            LockState::Asked => "asked",
            LockState::Held => "held",
        }
    }
}

#[derive(Clone, Debug)]
struct Person {
    offline: bool,
    crdt: Text,
    /// The copy in `lock` and `lww` modes.
    plain: Vec<char>,
    stamp: Stamp,
    version: u32,
    lock: LockState,
    release_wanted: bool,
    /// Keystrokes typed while waiting for the lock.
    held: Vec<Key>,
    last_key: Micros,
    outbox: Vec<(usize, Msg)>,
    /// Messages that reached this device while it was offline (they wait at their sender).
    inbox: Vec<(usize, Msg)>,
    typed: u64,
    /// Bumped on every change of the visible copy, so a view knows when to redraw it.
    revision: u64,
}

/// What the page shows: keystrokes typed, kept and lost, what is still on its way, and whether the copies agree.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Report {
    pub typed: u64,
    /// Keystrokes whose effect is in the document everyone ends with if typing stopped now and everyone came online.
    pub kept: u64,
    pub lost: u64,
    pub typed_by: Vec<u64>,
    pub kept_by: Vec<u64>,
    /// Messages travelling or waiting in an outbox, plus keystrokes waiting for the lock.
    pub in_flight: usize,
    /// Every copy shows the same text right now.
    pub agree: bool,
}

/// One collaborative editing session.
#[derive(Clone, Debug)]
pub struct Session {
    mode: EditMode,
    latency_us: Micros,
    now: Micros,
    rng: SimRng,
    people: Vec<Person>,
    /// Lock mode: the server's copy, the holder and who waits.
    server: Vec<char>,
    holder: Option<usize>,
    queue: VecDeque<usize>,
    revoked: bool,
    events: BTreeMap<(Micros, u64), Event>,
    seq: u64,
    /// Per directed link (from × to, people then the server): the arrival of its last message (links keep order).
    last_arrival: Vec<Micros>,
    /// LWW: every document version made, as (person who typed, parent version); version 0 is the empty document.
    versions: Vec<(u16, u32)>,
    best: (Stamp, u32),
}

impl Session {
    /// A session of `people` (clamped to 2..=3) with a one-way delay of `latency_ms` (clamped to 0..=5 s).
    pub fn new(mode: EditMode, people: usize, latency_ms: u64, seed: u64) -> Session {
        let n = people.clamp(MIN_PEOPLE, MAX_PEOPLE);
        let people = (0..n)
            .map(|i| Person {
                offline: false,
                crdt: Text::new(i as u16 + 1),
                plain: Vec::new(),
                stamp: (0, 0),
                version: 0,
                lock: LockState::Free,
                release_wanted: false,
                held: Vec::new(),
                last_key: 0,
                outbox: Vec::new(),
                inbox: Vec::new(),
                typed: 0,
                revision: 0,
            })
            .collect();
        Session {
            mode,
            latency_us: latency_ms.min(MAX_LATENCY_MS) * 1000,
            now: 0,
            rng: SimRng::fork(seed, "collab"),
            people,
            server: Vec::new(),
            holder: None,
            queue: VecDeque::new(),
            revoked: false,
            events: BTreeMap::new(),
            seq: 0,
            last_arrival: vec![0; (n + 1) * (n + 1)],
            versions: vec![(0, 0)],
            best: ((0, 0), 0),
        }
    }

    pub fn mode(&self) -> EditMode {
        self.mode
    }

    pub fn people(&self) -> usize {
        self.people.len()
    }

    pub fn now(&self) -> Micros {
        self.now
    }

    pub fn latency_ms(&self) -> u64 {
        self.latency_us / 1000
    }

    /// Change the one-way delay of messages sent from now on.
    pub fn set_latency_ms(&mut self, ms: u64) {
        self.latency_us = ms.min(MAX_LATENCY_MS) * 1000;
    }

    pub fn is_offline(&self, person: usize) -> bool {
        self.people.get(person).is_some_and(|p| p.offline)
    }

    pub fn lock_state(&self, person: usize) -> LockState {
        self.people.get(person).map_or(LockState::Free, |p| p.lock)
    }

    /// Keystrokes of `person` waiting for the lock.
    pub fn held_keys(&self, person: usize) -> usize {
        self.people.get(person).map_or(0, |p| p.held.len())
    }

    pub fn revision(&self, person: usize) -> u64 {
        self.people.get(person).map_or(0, |p| p.revision)
    }

    /// `person`'s copy of the document as they see it (in lock mode with their keystrokes that wait for the lock).
    pub fn text(&mut self, person: usize) -> String {
        let mode = self.mode;
        let Some(p) = self.people.get_mut(person) else { return String::new() };
        match mode {
            EditMode::Crdt => p.crdt.text(),
            EditMode::Lww => p.plain.iter().collect(),
            EditMode::Lock => draft(p).iter().collect(),
        }
    }

    fn len(&mut self, person: usize) -> usize {
        let mode = self.mode;
        let Some(p) = self.people.get_mut(person) else { return 0 };
        match mode {
            EditMode::Crdt => p.crdt.len(),
            EditMode::Lww => p.plain.len(),
            EditMode::Lock if p.held.is_empty() => p.plain.len(),
            EditMode::Lock => draft(p).len(),
        }
    }

    /// `person` edited their copy so that it reads `new`: the difference (one replaced stretch) becomes keystrokes,
    /// deletions first. Returns how many keystrokes that made.
    pub fn edit(&mut self, person: usize, new: &str) -> usize {
        if person >= self.people.len() {
            return 0;
        }
        let old: Vec<char> = self.text(person).chars().collect();
        let new: Vec<char> = new.chars().collect();
        let prefix = old.iter().zip(&new).take_while(|(a, b)| a == b).count();
        let rest = old.len().min(new.len()) - prefix;
        let suffix = old.iter().rev().zip(new.iter().rev()).take(rest).take_while(|(a, b)| a == b).count();
        let deleted = old.len() - prefix - suffix;
        let inserted = &new[prefix..new.len() - suffix];
        let mut keys = 0;
        for _ in 0..deleted.min(MAX_EDIT_KEYS) {
            keys += usize::from(self.key(person, Key::Delete(prefix)));
        }
        for (i, &ch) in inserted.iter().take(MAX_EDIT_KEYS - keys.min(MAX_EDIT_KEYS)).enumerate() {
            keys += usize::from(self.key(person, Key::Insert(prefix + i, ch)));
        }
        keys
    }

    /// One keystroke by `person` at the current time; false when it did nothing (a delete past the end, a full
    /// document, no such person).
    pub fn key(&mut self, person: usize, key: Key) -> bool {
        if person >= self.people.len() {
            return false;
        }
        let len = self.len(person);
        match key {
            Key::Insert(..) if len >= MAX_DOC_CHARS => return false,
            Key::Delete(pos) if pos >= len => return false,
            _ => {}
        }
        self.people[person].typed += 1;
        match self.mode {
            EditMode::Crdt => {
                let p = &mut self.people[person];
                let op = match key {
                    Key::Insert(pos, ch) => Some(p.crdt.insert_at(pos, ch)),
                    Key::Delete(pos) => p.crdt.delete_at(pos),
                };
                p.revision += 1;
                if let Some(op) = op {
                    self.send_others(person, &Msg::Crdt(op));
                }
            }
            EditMode::Lww => {
                let p = &mut self.people[person];
                apply_plain(&mut p.plain, key);
                p.revision += 1;
                let version = self.versions.len() as u32;
                self.versions.push((person as u16, p.version));
                p.stamp = (self.now.max(p.stamp.0.saturating_add(1)), person as u16);
                p.version = version;
                let (stamp, text) = (p.stamp, p.plain.iter().collect::<String>());
                if (stamp, version) > self.best {
                    self.best = (stamp, version);
                }
                self.send_others(person, &Msg::Lww { text, stamp, version });
            }
            EditMode::Lock => {
                let server = self.people.len();
                let p = &mut self.people[person];
                match p.lock {
                    LockState::Held => {
                        p.last_key = self.now;
                        apply_plain(&mut p.plain, key);
                        p.revision += 1;
                        self.send(person, server, Msg::Change(key));
                    }
                    LockState::Asked => p.held.push(key),
                    LockState::Free => {
                        p.held.push(key);
                        p.lock = LockState::Asked;
                        self.send(person, server, Msg::LockRequest);
                    }
                }
            }
        }
        true
    }

    /// Take `person` off the network, or bring them back (their outbox and what waited for them flow again).
    pub fn set_offline(&mut self, person: usize, offline: bool) {
        let Some(p) = self.people.get_mut(person) else { return };
        if p.offline == offline {
            return;
        }
        p.offline = offline;
        if !offline {
            let outbox = std::mem::take(&mut p.outbox);
            let inbox = std::mem::take(&mut p.inbox);
            for (to, msg) in outbox {
                self.send(person, to, msg);
            }
            for (from, msg) in inbox {
                self.send(from, person, msg);
            }
        }
    }

    fn send_others(&mut self, from: usize, msg: &Msg) {
        for to in 0..self.people.len() {
            if to != from {
                self.send(from, to, msg.clone());
            }
        }
    }

    fn send(&mut self, from: usize, to: usize, msg: Msg) {
        if let Some(p) = self.people.get_mut(from) {
            if p.offline {
                p.outbox.push((to, msg));
                return;
            }
        }
        let jitter = self.rng.range_inclusive(0, self.latency_us / 4);
        let link = from * (self.people.len() + 1) + to;
        let Some(last) = self.last_arrival.get_mut(link) else { return };
        let at = self.now.saturating_add(self.latency_us).saturating_add(jitter).max(*last);
        *last = at;
        self.schedule(at, Event::Deliver { from, to, msg });
    }

    fn schedule(&mut self, at: Micros, event: Event) {
        self.seq += 1;
        self.events.insert((at, self.seq), event);
    }

    /// Run every event up to `t` (simulated microseconds; time never goes back). Returns how many ran.
    pub fn advance_to(&mut self, t: Micros) -> usize {
        let mut ran = 0;
        while let Some(entry) = self.events.first_entry() {
            if entry.key().0 > t {
                break;
            }
            let ((at, _), event) = entry.remove_entry();
            self.now = self.now.max(at);
            self.handle(event);
            ran += 1;
        }
        self.now = self.now.max(t);
        ran
    }

    /// Run until nothing is left to happen (messages for offline people keep waiting). Bounded by the events there
    /// are: each keystroke makes a bounded number of them.
    pub fn settle(&mut self) -> usize {
        let mut ran = 0;
        while let Some((&(at, _), _)) = self.events.first_key_value() {
            ran += self.advance_to(at);
        }
        ran
    }

    fn handle(&mut self, event: Event) {
        match event {
            Event::ReleaseCheck { person } => self.release_check(person),
            Event::Deliver { from, to, msg } => {
                let server = self.people.len();
                if to == server {
                    self.server_receives(from, msg);
                    return;
                }
                let Some(p) = self.people.get_mut(to) else { return };
                if p.offline {
                    p.inbox.push((from, msg));
                    return;
                }
                match msg {
                    Msg::Crdt(op) => {
                        p.crdt.apply(op);
                        p.revision += 1;
                    }
                    Msg::Lww { text, stamp, version } => {
                        if stamp > p.stamp {
                            p.plain = text.chars().collect();
                            p.stamp = stamp;
                            p.version = version;
                            p.revision += 1;
                        }
                    }
                    Msg::Change(key) => {
                        apply_plain(&mut p.plain, key);
                        p.revision += 1;
                        // Keystrokes waiting for the lock were typed at positions of the text before this change.
                        for held in &mut p.held {
                            *held = shift(*held, key);
                        }
                    }
                    Msg::LockGrant => {
                        p.lock = LockState::Held;
                        p.last_key = self.now;
                        let held = std::mem::take(&mut p.held);
                        for key in held {
                            let p = &mut self.people[to];
                            apply_plain(&mut p.plain, key);
                            p.revision += 1;
                            self.send(to, server, Msg::Change(key));
                        }
                        if self.people[to].release_wanted {
                            self.schedule(
                                self.now.saturating_add(LOCK_IDLE_MS * 1000),
                                Event::ReleaseCheck { person: to },
                            );
                        }
                    }
                    Msg::LockRevoke => {
                        p.release_wanted = true;
                        let at = p.last_key.saturating_add(LOCK_IDLE_MS * 1000).max(self.now);
                        self.schedule(at, Event::ReleaseCheck { person: to });
                    }
                    Msg::LockRequest | Msg::LockRelease => {}
                }
            }
        }
    }

    fn release_check(&mut self, person: usize) {
        let server = self.people.len();
        let now = self.now;
        let Some(p) = self.people.get_mut(person) else { return };
        if p.lock != LockState::Held || !p.release_wanted {
            return;
        }
        let idle_at = p.last_key.saturating_add(LOCK_IDLE_MS * 1000);
        if now < idle_at {
            self.schedule(idle_at, Event::ReleaseCheck { person });
            return;
        }
        p.lock = LockState::Free;
        p.release_wanted = false;
        self.send(person, server, Msg::LockRelease);
    }

    fn server_receives(&mut self, from: usize, msg: Msg) {
        let server = self.people.len();
        match msg {
            Msg::LockRequest => {
                if self.holder.is_none() {
                    self.holder = Some(from);
                    self.send(server, from, Msg::LockGrant);
                } else if self.holder != Some(from) && !self.queue.contains(&from) {
                    self.queue.push_back(from);
                    if !self.revoked {
                        self.revoked = true;
                        if let Some(h) = self.holder {
                            self.send(server, h, Msg::LockRevoke);
                        }
                    }
                }
            }
            Msg::LockRelease if self.holder == Some(from) => {
                self.holder = self.queue.pop_front();
                self.revoked = false;
                if let Some(next) = self.holder {
                    self.send(server, next, Msg::LockGrant);
                    if !self.queue.is_empty() {
                        self.revoked = true;
                        self.send(server, next, Msg::LockRevoke);
                    }
                }
            }
            Msg::Change(key) if self.holder == Some(from) => {
                apply_plain(&mut self.server, key);
                for to in 0..self.people.len() {
                    if to != from {
                        self.send(server, to, Msg::Change(key));
                    }
                }
            }
            _ => {}
        }
    }

    /// The counters of the page, and whether the copies agree.
    pub fn report(&mut self) -> Report {
        let n = self.people.len();
        let typed_by: Vec<u64> = self.people.iter().map(|p| p.typed).collect();
        let typed = typed_by.iter().sum();
        let kept_by = match self.mode {
            EditMode::Crdt | EditMode::Lock => typed_by.clone(),
            EditMode::Lww => {
                let mut kept = vec![0; n];
                let mut v = self.best.1;
                // Each version's parent is older, so the walk ends at version 0.
                while v != 0 {
                    let Some(&(who, parent)) = self.versions.get(v as usize) else { break };
                    if let Some(k) = kept.get_mut(usize::from(who)) {
                        *k += 1;
                    }
                    v = parent;
                }
                kept
            }
        };
        let kept: u64 = kept_by.iter().sum();
        let in_flight = self.events.values().filter(|e| matches!(e, Event::Deliver { .. })).count()
            + self.people.iter().map(|p| p.outbox.len() + p.inbox.len() + p.held.len()).sum::<usize>();
        let first = self.text(0);
        let agree = (1..n).all(|i| self.text(i) == first);
        Report { typed, kept, lost: typed - kept.min(typed), typed_by, kept_by, in_flight, agree }
    }
}

/// The copy with the keystrokes that wait for the lock applied.
fn draft(p: &Person) -> Vec<char> {
    let mut doc = p.plain.clone();
    for &key in &p.held {
        apply_plain(&mut doc, key);
    }
    doc
}

/// Where `held` goes once `before` has happened (a keystroke typed before seeing another one).
fn shift(held: Key, before: Key) -> Key {
    let moved = |pos: usize| match before {
        Key::Insert(at, _) if at <= pos => pos.saturating_add(1),
        Key::Delete(at) if at < pos => pos - 1,
        _ => pos,
    };
    match held {
        Key::Insert(pos, ch) => Key::Insert(moved(pos), ch),
        Key::Delete(pos) => Key::Delete(moved(pos)),
    }
}

fn apply_plain(doc: &mut Vec<char>, key: Key) {
    match key {
        Key::Insert(pos, ch) => {
            if doc.len() < MAX_DOC_CHARS {
                doc.insert(pos.min(doc.len()), ch);
            }
        }
        Key::Delete(pos) => {
            if pos < doc.len() {
                doc.remove(pos);
            }
        }
    }
}

/// The benchmark of issue 11: `people` each type `keystrokes` keystrokes into their own copy of an empty document at
/// once (mostly letters at their cursor, a backspace now and then, a jump of the cursor now and then), then every
/// copy applies everyone else's operations and reads its text.
#[derive(Clone, Debug, PartialEq)]
pub struct MergeBench {
    pub people: usize,
    pub keystrokes: usize,
    /// Median, min and max over the runs, in milliseconds, of merging on every copy and reading the text.
    pub ms: f64,
    pub min_ms: f64,
    pub max_ms: f64,
    pub runs: usize,
    pub chars: usize,
    pub agree: bool,
}

impl MergeBench {
    pub fn describe(&self, target: &str) -> String {
        format!(
            "{target}: text CRDT, {} people × {} keystrokes merged on every copy: {:.1} ms (median of {} runs; min {:.1} ms, max {:.1} ms), {} characters, copies {} (target: under 100 ms in wasm)",
            self.people,
            self.keystrokes,
            self.ms,
            self.runs,
            self.min_ms,
            self.max_ms,
            self.chars,
            if self.agree { "agree" } else { "DIFFER" }
        )
    }
}

/// Each person's operations for the benchmark (not timed).
pub fn bench_typing(people: usize, keystrokes: usize, seed: u64) -> Vec<Vec<Op>> {
    let mut rng = SimRng::fork(seed, "collab-bench");
    (0..people)
        .map(|i| {
            let mut t = Text::new(i as u16 + 1);
            let mut cursor = 0usize;
            let mut ops = Vec::with_capacity(keystrokes);
            for k in 0..keystrokes {
                let roll = rng.range_inclusive(0, 99);
                if roll < 8 && cursor > 0 {
                    cursor -= 1;
                    if let Some(op) = t.delete_at(cursor) {
                        ops.push(op);
                    }
                    continue;
                }
                if roll == 99 {
                    cursor = rng.range_inclusive(0, t.len() as u64) as usize;
                }
                let ch = char::from(b'a' + (k % 26) as u8);
                ops.push(t.insert_at(cursor, ch));
                cursor += 1;
            }
            ops
        })
        .collect()
}

/// Merge the benchmark's operations on every copy, `runs` times (at least 1); `clock` reads seconds.
pub fn bench_merge(people: usize, keystrokes: usize, runs: usize, clock: impl Fn() -> f64) -> MergeBench {
    let ops = bench_typing(people, keystrokes, 42);
    let mut times = Vec::new();
    let mut chars = 0;
    let mut agree = true;
    for _ in 0..runs.max(1) {
        let start = clock();
        let mut texts = Vec::with_capacity(people);
        for me in 0..people {
            let mut t = Text::new(me as u16 + 1);
            // Everyone's operations, the own ones first (they were applied while typing), then the others'.
            for from in (me..people).chain(0..me) {
                for &op in &ops[from] {
                    t.apply(op);
                }
            }
            texts.push(t.text());
        }
        times.push((clock() - start) * 1000.0);
        chars = texts.first().map_or(0, |t| t.chars().count());
        agree &= texts.windows(2).all(|w| w[0] == w[1]);
    }
    crate::sql::sort_stable_by(&mut times, f64::total_cmp);
    MergeBench {
        people,
        keystrokes,
        ms: times[times.len() / 2],
        min_ms: times[0],
        max_ms: times[times.len() - 1],
        runs: times.len(),
        chars,
        agree,
    }
}
