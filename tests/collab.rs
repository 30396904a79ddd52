//! DDIA 5.3, collaborative editing: the text CRDT's merge as properties (commutative, associative, idempotent, any
//! delivery order gives the same text, runs are never interleaved) and the editing session's three modes.

mod common;

use replsim::protocol::multi_leader::collab::{EditMode, Key, LockState, Session};
use replsim::protocol::multi_leader::text::{Op, Text};

/// Type `word` at position `at` of `person`'s copy, one keystroke per character.
fn type_word(s: &mut Session, person: usize, at: usize, word: &str) {
    for (i, ch) in word.chars().enumerate() {
        assert!(s.key(person, Key::Insert(at + i, ch)));
    }
}

#[test]
fn ch5_3_crdt_keeps_every_keystroke_and_the_copies_agree() {
    let mut s = Session::new(EditMode::Crdt, 3, 50, 7);
    type_word(&mut s, 0, 0, "shared ");
    s.settle();
    // Two people type at the same place at the same time, each before seeing the other's words.
    type_word(&mut s, 0, 7, "alice");
    type_word(&mut s, 1, 7, "bob");
    assert_eq!(s.text(0), "shared alice");
    assert_eq!(s.text(1), "shared bob");
    assert!(!s.report().agree, "not yet delivered");
    s.settle();
    let r = s.report();
    assert!(r.agree, "{r:?}");
    assert_eq!((r.typed, r.kept, r.lost, r.in_flight), (15, 15, 0, 0));
    let text = s.text(2);
    assert!(text == "shared alicebob" || text == "shared bobalice", "{text}");
}

#[test]
fn ch5_3_lww_on_the_whole_document_loses_keystrokes() {
    let mut s = Session::new(EditMode::Lww, 2, 100, 7);
    type_word(&mut s, 0, 0, "hello");
    s.advance_to(10_000);
    type_word(&mut s, 1, 0, "world");
    s.settle();
    let r = s.report();
    assert!(r.agree, "{r:?}");
    assert_eq!(r.typed, 10);
    assert_eq!(r.lost, 5, "one person's whole word is lost: {r:?}");
    assert_eq!(s.text(0), "world");
    assert_eq!(r.kept_by, vec![0, 5]);
}

#[test]
fn ch5_3_a_lock_is_a_single_leader_typing_waits_for_the_round_trip() {
    let mut s = Session::new(EditMode::Lock, 2, 100, 7);
    assert!(s.key(0, Key::Insert(0, 'a')));
    assert_eq!(s.text(0), "a", "Ann sees her keystroke, waiting for the lock");
    assert_eq!(s.held_keys(0), 1);
    assert_eq!(s.lock_state(0), LockState::Asked);
    s.advance_to(150_000);
    assert_eq!(s.lock_state(0), LockState::Asked, "the request is on its way (one-way delay 100-125 ms)");
    s.advance_to(260_000);
    assert_eq!(s.lock_state(0), LockState::Held);
    assert_eq!(s.held_keys(0), 0);
    assert_eq!(s.text(1), "", "the change goes through the lock server");
    type_word(&mut s, 0, 1, "bc");
    // Bob asks while Ann holds the lock: Ann gives it up once she has been idle for 500 ms.
    assert!(s.key(1, Key::Insert(3, '!')));
    s.settle();
    assert_eq!(s.lock_state(1), LockState::Held);
    let r = s.report();
    assert!(r.agree, "{r:?}");
    assert_eq!((r.typed, r.lost), (4, 0));
    assert_eq!(s.text(0), "abc!");
}

#[test]
fn ch5_3_offline_changes_queue_and_sync_on_reconnect() {
    for mode in EditMode::ALL {
        let mut s = Session::new(mode, 3, 30, 1);
        type_word(&mut s, 0, 0, "base");
        s.settle();
        s.set_offline(2, true);
        type_word(&mut s, 2, 4, " offline");
        type_word(&mut s, 0, 0, ">");
        s.settle();
        assert_ne!(s.text(0), s.text(2), "{mode:?}: nothing crosses while offline");
        assert!(s.report().in_flight > 0, "{mode:?}");
        s.set_offline(2, false);
        s.settle();
        let r = s.report();
        assert!(r.agree, "{mode:?}: {r:?} {:?} {:?}", s.text(0), s.text(2));
        assert_eq!(r.in_flight, 0, "{mode:?}");
        if mode != EditMode::Lww {
            assert_eq!(s.text(1), ">base offline");
            assert_eq!(r.lost, 0);
        }
    }
}

#[test]
fn ch5_3_bad_input_never_panics() {
    for mode in EditMode::ALL {
        let mut s = Session::new(mode, 99, u64::MAX, u64::MAX);
        assert_eq!(s.people(), 3);
        assert!(!s.key(7, Key::Insert(0, 'x')));
        assert_eq!(s.edit(9, "nobody"), 0);
        assert!(!s.key(0, Key::Delete(5)));
        s.key(0, Key::Insert(usize::MAX, 'x'));
        let big: String = "y".repeat(50_000);
        assert!(s.edit(1, &big) <= replsim::protocol::multi_leader::collab::MAX_EDIT_KEYS);
        s.edit(1, "");
        s.set_offline(42, true);
        s.advance_to(u64::MAX);
        s.settle();
        let _ = s.report();
        assert_eq!(EditMode::parse(mode.name()), Some(mode));
    }
    assert_eq!(EditMode::parse("nope"), None);
}

#[test]
fn ch5_3_edit_turns_a_changed_text_into_keystrokes() {
    let mut s = Session::new(EditMode::Crdt, 2, 10, 3);
    assert_eq!(s.edit(0, "hello world"), 11);
    assert_eq!(s.edit(0, "hello, world"), 1);
    assert_eq!(s.edit(0, "hello, wörld"), 2, "one delete, one insert");
    s.settle();
    assert_eq!(s.text(1), "hello, wörld");
}

#[test]
fn ch5_3_the_session_is_deterministic() {
    let run = || {
        let mut s = Session::new(EditMode::Lww, 3, 40, 9);
        for i in 0..60u64 {
            let person = (i % 3) as usize;
            s.advance_to(i * 7_000);
            s.key(person, Key::Insert(i as usize % 5, 'a'));
        }
        s.settle();
        (s.text(0), s.report())
    };
    assert_eq!(run(), run());
}

#[test]
fn ch5_3_merge_benchmark_agrees() {
    let b = replsim::protocol::multi_leader::collab::bench_merge(3, 2_000, 1, || 0.0);
    assert!(b.agree);
    assert!(b.chars > 3 * 1_500);
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    /// A random editing history of three copies: each step one copy types, deletes, or receives some of what the
    /// others have. Returns every operation made, in the order made.
    fn history(steps: &[(u8, u8, u16, u8)]) -> Vec<Op> {
        let mut copies: Vec<Text> = (1..=3).map(Text::new).collect();
        let mut all = Vec::new();
        for &(who, kind, pos, ch) in steps {
            let who = usize::from(who % 3);
            let len = copies[who].len();
            let pos = usize::from(pos) % (len + 1);
            match kind % 5 {
                0..=2 => all.push(copies[who].insert_at(pos, char::from(b'a' + ch % 26))),
                3 => all.extend(copies[who].delete_at(pos)),
                _ => {
                    // Receive a prefix of everything made so far (a partial sync).
                    let upto = usize::from(ch) % (all.len() + 1);
                    for &op in &all[..upto] {
                        copies[who].apply(op);
                    }
                }
            }
        }
        all
    }

    /// A copy that has received `picks` of `ops` (indexes, repeats allowed), in that order.
    fn copy(ops: &[Op], picks: &[u16], replica: u16) -> Text {
        let mut t = Text::new(replica);
        if !ops.is_empty() {
            for &i in picks {
                t.apply(ops[usize::from(i) % ops.len()]);
            }
        }
        t
    }

    fn merged(a: &Text, b: &Text) -> Text {
        let mut m = a.clone();
        m.merge(b);
        m
    }

    fn same(a: &mut Text, b: &mut Text) -> bool {
        a.state() == b.state() && a.text() == b.text()
    }

    fn steps() -> impl Strategy<Value = Vec<(u8, u8, u16, u8)>> {
        proptest::collection::vec((any::<u8>(), any::<u8>(), any::<u16>(), any::<u8>()), 0..80)
    }

    fn picks() -> impl Strategy<Value = Vec<u16>> {
        proptest::collection::vec(any::<u16>(), 0..60)
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 200, failure_persistence: common::regressions(), ..ProptestConfig::default() })]

        #[test]
        fn ch5_3_text_merge_is_commutative(s in steps(), pa in picks(), pb in picks()) {
            let ops = history(&s);
            let (a, b) = (copy(&ops, &pa, 1), copy(&ops, &pb, 2));
            prop_assert!(same(&mut merged(&a, &b), &mut merged(&b, &a)));
        }

        #[test]
        fn ch5_3_text_merge_is_associative(s in steps(), pa in picks(), pb in picks(), pc in picks()) {
            let ops = history(&s);
            let (a, b, c) = (copy(&ops, &pa, 1), copy(&ops, &pb, 2), copy(&ops, &pc, 3));
            prop_assert!(same(&mut merged(&merged(&a, &b), &c), &mut merged(&a, &merged(&b, &c))));
        }

        #[test]
        fn ch5_3_text_merge_is_idempotent(s in steps(), pa in picks()) {
            let ops = history(&s);
            let mut a = copy(&ops, &pa, 1);
            prop_assert!(same(&mut merged(&a, &a), &mut a.clone()));
            let mut twice = a.clone();
            for op in a.ops() {
                twice.apply(op);
            }
            prop_assert!(same(&mut twice, &mut a));
        }

        #[test]
        fn ch5_3_text_any_delivery_order_gives_the_same_text(s in steps(), shuffle in proptest::collection::vec(any::<u32>(), 0..200)) {
            let ops = history(&s);
            let mut in_order = copy(&ops, &(0..ops.len() as u16).collect::<Vec<_>>(), 1);
            // A permutation (Fisher-Yates driven by the generated numbers), with some operations delivered twice.
            let mut order: Vec<usize> = (0..ops.len()).collect();
            for (i, r) in shuffle.iter().enumerate().take(order.len()) {
                let j = i + (*r as usize) % (order.len() - i);
                order.swap(i, j);
            }
            let mut shuffled = Text::new(2);
            for &i in order.iter().chain(order.iter().take(shuffle.len() % 7)) {
                shuffled.apply(ops[i]);
            }
            prop_assert_eq!(shuffled.waiting(), 0);
            prop_assert!(same(&mut shuffled, &mut in_order));
        }

        // Two people type a word each at the same place without seeing each other's: each word stays in one piece.
        #[test]
        fn ch5_3_text_concurrent_runs_are_not_interleaved(
            base in "[a-z]{0,6}", w1 in "[A-M]{1,8}", w2 in "[N-Z]{1,8}", at in any::<u8>(), order in any::<u64>()
        ) {
            let mut a = Text::new(1);
            let mut ops: Vec<Op> = base.chars().enumerate().map(|(i, c)| a.insert_at(i, c)).collect();
            let mut b = Text::new(2);
            for &op in &ops { b.apply(op); }
            let at = usize::from(at) % (base.len() + 1);
            let from_a: Vec<Op> = w1.chars().enumerate().map(|(i, c)| a.insert_at(at + i, c)).collect();
            let from_b: Vec<Op> = w2.chars().enumerate().map(|(i, c)| b.insert_at(at + i, c)).collect();
            ops.extend(from_a.iter().chain(&from_b));
            // Deliver everything to a third copy in a scrambled order.
            let mut c = Text::new(3);
            let n = ops.len();
            for k in 0..n {
                c.apply(ops[(k * ((order as usize % n) | 1)) % n]);
            }
            for &op in &ops { c.apply(op); }
            let text = c.text();
            prop_assert!(text.contains(&w1) && text.contains(&w2), "{} / {} / {}", text, w1, w2);
            for &op in &from_b { a.apply(op); }
            for &op in &from_a { b.apply(op); }
            prop_assert_eq!(a.text(), text.clone());
            prop_assert_eq!(b.text(), text);
        }
    }
}
