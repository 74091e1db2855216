//! Form controls bound to one field of a draft (an `RwSignal<T>` with a getter and a setter),
//! for editors that check and save a whole struct at once, such as the bot editor. Each one
//! sits in a `FieldShell`: label, hint and error tied to the control by ids (`field-{name}`).

use super::form::FieldShell;
use leptos::prelude::*;

/// Reads one field of the draft.
pub type Getter<T, V> = fn(&T) -> V;
/// Writes one field of the draft.
pub type Setter<T, V> = fn(&mut T, V);

/// A one-line or multi-line text field.
#[component]
pub fn BoundText<T: Send + Sync + 'static>(
    label: &'static str,
    name: &'static str,
    draft: RwSignal<T>,
    get: Getter<T, String>,
    set: Setter<T, String>,
    #[prop(into)] error: Signal<Option<String>>,
    #[prop(optional)] multiline: bool,
    #[prop(default = 3)] rows: u32,
    #[prop(optional)] maxlength: Option<usize>,
    #[prop(optional)] hint: Option<&'static str>,
) -> impl IntoView {
    let id = format!("field-{name}");
    let error_id = format!("{id}-error");
    let value = move || draft.with(get);
    let on_input = move |ev| draft.update(|d| set(d, event_target_value(&ev)));
    let invalid = move || error.get().is_some().to_string();
    let control = if multiline {
        view! { <textarea id=id class="input" rows=rows maxlength=maxlength aria-invalid=invalid aria-describedby=error_id
            prop:value=value on:input=on_input>{value}</textarea> }
        .into_any()
    } else {
        view! { <input id=id class="input" type="text" maxlength=maxlength aria-invalid=invalid aria-describedby=error_id
            prop:value=value on:input=on_input /> }
        .into_any()
    };
    view! { <FieldShell label name hint error>{control}</FieldShell> }
}

/// A whole number; what is not one reads as 0, which the draft's own check then refuses.
#[component]
pub fn BoundNumber<T: Send + Sync + 'static>(
    label: &'static str,
    name: &'static str,
    draft: RwSignal<T>,
    get: Getter<T, u32>,
    set: Setter<T, u32>,
    #[prop(into)] error: Signal<Option<String>>,
    #[prop(optional)] hint: Option<&'static str>,
) -> impl IntoView {
    let id = format!("field-{name}");
    view! {
        <FieldShell label name hint error>
            <input id=id.clone() class="input max-w-40" type="number" inputmode="numeric" aria-describedby=format!("{id}-error")
                aria-invalid=move || error.get().is_some().to_string()
                prop:value=move || draft.with(get).to_string()
                on:input=move |ev| draft.update(|d| set(d, event_target_value(&ev).trim().parse().unwrap_or(0))) />
        </FieldShell>
    }
}

/// A range with its value written out beside it (and read out by screen readers as written).
#[component]
pub fn BoundSlider<T: Send + Sync + 'static>(
    label: &'static str,
    name: &'static str,
    draft: RwSignal<T>,
    min: f32,
    max: f32,
    step: f32,
    get: Getter<T, f32>,
    set: Setter<T, f32>,
    show: fn(f32) -> String,
    #[prop(into)] error: Signal<Option<String>>,
    #[prop(optional)] hint: Option<&'static str>,
) -> impl IntoView {
    let id = format!("field-{name}");
    let shown = move || show(draft.with(get));
    view! {
        <FieldShell label name hint error>
            <div class="flex items-center gap-3">
                <input id=id.clone() type="range" class="w-full accent-indigo-600" min=min max=max step=step
                    aria-describedby=format!("{id}-error") aria-valuetext=shown
                    prop:value=move || draft.with(get).to_string()
                    on:input=move |ev| {
                        if let Ok(v) = event_target_value(&ev).parse::<f32>() { draft.update(|d| set(d, v)) }
                    } />
                <span class="shrink-0 text-sm tabular-nums text-slate-500" aria-hidden="true">{shown}</span>
            </div>
        </FieldShell>
    }
}

/// A checkbox with its label and hint beside it (the label is the whole clickable line).
#[component]
pub fn BoundToggle<T: Send + Sync + 'static>(
    label: &'static str,
    draft: RwSignal<T>,
    get: Getter<T, bool>,
    set: Setter<T, bool>,
    hint: &'static str,
) -> impl IntoView {
    view! {
        <label class="flex items-start gap-3">
            <input type="checkbox" class="mt-1 h-4 w-4 accent-indigo-600" prop:checked=move || draft.with(get)
                on:change=move |ev| draft.update(|d| set(d, event_target_checked(&ev))) />
            <span>
                <span class="block text-sm font-medium">{label}</span>
                <span class="block text-xs text-slate-500">{hint}</span>
            </span>
        </label>
    }
}

/// A titled card grouping the fields of one part of an editor.
#[component]
pub fn FormSection(title: &'static str, note: &'static str, children: Children) -> impl IntoView {
    view! {
        <section class="card space-y-4">
            <div>
                <h2 class="section-title">{title}</h2>
                <p class="text-sm text-slate-500">{note}</p>
            </div>
            {children()}
        </section>
    }
}
