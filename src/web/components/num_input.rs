//! A number field that keeps what the person is typing. The page redraws every frame while a run plays, and Yew
//! puts a field's model value back into the DOM whenever the two differ: a field that only tells the model on
//! `change` would lose each keystroke at the next frame. This one keeps the typed text as a draft until `change`
//! (Enter, or leaving the field) hands it to `onchange`.
//!
//! A number field also refuses what is not a number in its range: the message appears beside the field, the typed
//! text stays so it can be corrected, and the setting keeps its value (`onchange` is not called), until the
//! model's value changes underneath it.

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
    let problem = use_state(|| None::<String>);
    let oninput = {
        let draft = draft.clone();
        Callback::from(move |e: InputEvent| {
            let input: web_sys::HtmlInputElement = e.target_unchecked_into();
            draft.set(Some(input.value().into()));
        })
    };
    let onchange = {
        let (draft, problem, f) = (draft.clone(), problem.clone(), p.onchange.clone());
        let (min, max, step, slider) = (p.min.clone(), p.max.clone(), p.step.clone(), p.slider);
        Callback::from(move |e: Event| {
            let input: web_sys::HtmlInputElement = e.target_unchecked_into();
            if !slider {
                if let Some(why) =
                    crate::web::text::number_problem(&input.value(), min.as_deref(), max.as_deref(), step.as_deref())
                {
                    problem.set(Some(why));
                    return;
                }
            }
            problem.set(None);
            draft.set(None);
            f.emit(e);
        })
    };
    let onblur = {
        let (draft, problem) = (draft.clone(), problem.clone());
        // A refused entry stays on screen, with its message, until it is corrected.
        Callback::from(move |_: FocusEvent| {
            if problem.is_none() {
                draft.set(None)
            }
        })
    };
    {
        let (draft, problem) = (draft.clone(), problem.clone());
        // The model's value changed underneath (another lesson, a rebuilt run): what was typed, or refused, for the
        // old value goes with it.
        use_effect_with(p.value.clone(), move |_| {
            if draft.is_some() {
                draft.set(None);
            }
            if problem.is_some() {
                problem.set(None);
            }
        });
    }
    let value = (*draft).clone().unwrap_or_else(|| p.value.clone());
    let error_id = problem.as_ref().map(|_| AttrValue::from([p.test.as_str(), "-error"].concat()));
    html! {
        <>
        <input type={if p.slider { "range" } else { "number" }} class={p.class.clone()} data-testid={p.test.clone()} data-node={p.node.clone()}
               min={p.min.clone()} max={p.max.clone()} step={p.step.clone()} disabled={p.disabled}
               aria-label={p.label.clone()} aria-invalid={problem.is_some().then_some("true")}
               aria-describedby={error_id.clone()} {value} {oninput} {onchange} {onblur} />
        if let Some(why) = problem.as_ref() {
            <span class="num-error" id={error_id.clone()} data-testid={error_id} role="alert">{ why.clone() }</span>
        }
        </>
    }
}
