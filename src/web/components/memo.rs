//! Parts of the page drawn again only when what they show changed.
//!
//! The page is one model and functions of it; left alone, Yew rebuilds and compares every element on every
//! animation frame, although most of the page (the timeline's markers, the client history) changes only now and
//! then. A `Memo` is a component that draws one such part from the model, and whose `stamp` summarises what the
//! part shows: while the stamp stays the same, Yew neither calls the view nor compares its elements.

use std::cell::RefCell;
use std::hash::Hash;
use std::rc::Rc;

use yew::prelude::*;

use crate::web::state::{Action, Model};
use crate::world::trace::Fnv64;

/// Draws a part of the page from the model; `arg` tells parts of one kind apart (an index, or 0).
pub type PartView = fn(&Model, &Callback<Action>, usize) -> Html;

#[derive(Properties, Clone)]
pub struct MemoProps {
    pub model: Rc<RefCell<Model>>,
    pub dispatch: Callback<Action>,
    pub view: PartView,
    #[prop_or_default]
    pub arg: usize,
    /// Everything the part shows depends on, hashed (`stamp`): the part is redrawn when it changes.
    pub stamp: u64,
}

impl PartialEq for MemoProps {
    fn eq(&self, other: &Self) -> bool {
        // The dispatcher is the same reducer's on every render (a new `Callback` wrapping it is not a change).
        self.stamp == other.stamp
            && self.arg == other.arg
            && std::ptr::fn_addr_eq(self.view, other.view)
            && Rc::ptr_eq(&self.model, &other.model)
    }
}

#[function_component(Memo)]
pub fn memo(p: &MemoProps) -> Html {
    p.model.try_borrow().map_or_else(|_| Html::default(), |m| (p.view)(&m, &p.dispatch, p.arg))
}

/// A stamp: the hash of `what` (FNV-1a, the same in every build).
pub fn stamp(what: impl Hash) -> u64 {
    let mut h = Fnv64::new();
    what.hash(&mut h);
    h.finish()
}
