//! A number field that keeps what the person is typing. The page redraws every frame while a run plays, and Yew
//! puts a field's model value back into the DOM whenever the two differ: a field that only tells the model on
//! `change` would lose each keystroke at the next frame. This one keeps the typed text as a draft until `change`
//! (Enter, or leaving the field) hands it to `onchange`.

use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct NumInputProps {
    /// The model's value (shown whenever the person is not in the middle of typing).
    pub value: AttrValue,
    pub onchange: Callback<Event>,
    /// `data-testid`.
    #[prop_or_default]
    pub test: AttrValue,
    #[prop_or_default]
    pub class: Classes,
    #[prop_or_default]
    pub min: Option<AttrValue>,
    #[prop_or_default]
    pub max: Option<AttrValue>,
    #[prop_or_default]
    pub step: Option<AttrValue>,
    #[prop_or_default]
    pub disabled: bool,
    /// `aria-label`.
    #[prop_or_default]
    pub label: Option<AttrValue>,
    /// `data-node`, for fields of one node.
    #[prop_or_default]
    pub node: Option<AttrValue>,
    /// `range` for a slider (it keeps its draft while dragged, too); a number field otherwise.
    #[prop_or_default]
    pub slider: bool,
}

#[function_component(NumInput)]
pub fn num_input(p: &NumInputProps) -> Html {
    let draft = use_state(|| None::<AttrValue>);
    let oninput = {
        let draft = draft.clone();
        Callback::from(move |e: InputEvent| {
            let input: web_sys::HtmlInputElement = e.target_unchecked_into();
            draft.set(Some(input.value().into()));
        })
    };
    let onchange = {
        let (draft, f) = (draft.clone(), p.onchange.clone());
        Callback::from(move |e: Event| {
            draft.set(None);
            f.emit(e);
        })
    };
    let onblur = {
        let draft = draft.clone();
        Callback::from(move |_: FocusEvent| draft.set(None))
    };
    let value = (*draft).clone().unwrap_or_else(|| p.value.clone());
    html! {
        <input type={if p.slider { "range" } else { "number" }} class={p.class.clone()} data-testid={p.test.clone()} data-node={p.node.clone()}
               min={p.min.clone()} max={p.max.clone()} step={p.step.clone()} disabled={p.disabled}
               aria-label={p.label.clone()} {value} {oninput} {onchange} {onblur} />
    }
}
