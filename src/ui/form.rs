use crate::error::AppError;
use leptos::prelude::*;

/// The message of `result`'s error when it belongs to `field`.
pub fn error_for<T, S>(result: S, field: &'static str) -> Signal<Option<String>>
where
    T: 'static,
    S: With<Value = Option<Result<T, AppError>>> + Send + Sync + 'static,
{
    Signal::derive(move || {
        result.with(|r| match r {
            Some(Err(e)) if e.field() == Some(field) => Some(e.to_string()),
            _ => None,
        })
    })
}

/// The frame every form control shares: its label, an optional hint, and its error beneath,
/// tied to the control by ids (`field-{name}`, `field-{name}-error`) for screen readers.
#[component]
pub fn FieldShell(
    label: &'static str,
    name: &'static str,
    hint: Option<&'static str>,
    error: Signal<Option<String>>,
    children: Children,
) -> impl IntoView {
    let id = format!("field-{name}");
    view! {
        <div class="space-y-1">
            <label for=id.clone() class="block text-sm font-medium">{label}</label>
            {children()}
            {hint.map(|h| view! { <p class="text-xs text-slate-500">{h}</p> })}
            <FieldError error id=format!("{id}-error") />
        </div>
    }
}

/// A field's error, announced when it appears; `id` is what the control's
/// `aria-describedby` names.
#[component]
pub fn FieldError(#[prop(into)] error: Signal<Option<String>>, #[prop(into)] id: String) -> impl IntoView {
    view! { <p id=id class="text-sm text-red-600 dark:text-red-400" role="alert">{move || error.get()}</p> }
}

/// A labelled input with its error shown beneath it.
#[component]
pub fn TextField(
    label: &'static str,
    name: &'static str,
    #[prop(default = "text")] kind: &'static str,
    #[prop(optional)] autocomplete: Option<&'static str>,
    #[prop(optional)] hint: Option<&'static str>,
    #[prop(optional, into)] value: Option<String>,
    #[prop(optional)] required: bool,
    #[prop(optional)] maxlength: Option<usize>,
    #[prop(into)] error: Signal<Option<String>>,
) -> impl IntoView {
    view! {
        <FieldShell label name hint error>
            <input
                id=format!("field-{name}")
                name=name
                type=kind
                value=value
                autocomplete=autocomplete
                maxlength=maxlength
                required=required
                aria-invalid=move || error.get().is_some().to_string()
                aria-describedby=format!("field-{name}-error")
                class="input"
            />
        </FieldShell>
    }
}

/// A labelled multi-line input with its error shown beneath it.
#[component]
pub fn TextArea(
    label: &'static str,
    name: &'static str,
    #[prop(default = 4)] rows: u32,
    #[prop(optional)] required: bool,
    #[prop(into)] error: Signal<Option<String>>,
) -> impl IntoView {
    view! {
        <FieldShell label name hint=None error>
            <textarea id=format!("field-{name}") name=name rows=rows required=required class="input"
                aria-invalid=move || error.get().is_some().to_string()
                aria-describedby=format!("field-{name}-error")></textarea>
        </FieldShell>
    }
}

/// An error from a form that belongs to no single field.
#[component]
pub fn FormError<T, S>(result: S) -> impl IntoView
where
    T: 'static,
    S: With<Value = Option<Result<T, AppError>>> + Send + Sync + 'static,
{
    let message = Signal::derive(move || {
        result.with(|r| match r {
            Some(Err(e)) if e.field().is_none() => Some(e.to_string()),
            _ => None,
        })
    });
    view! {
        <Show when=move || message.with(Option::is_some)>
            <div class="rounded-lg bg-red-50 dark:bg-red-950 text-red-700 dark:text-red-300 px-3 py-2 text-sm" role="alert">
                {message}
            </div>
        </Show>
    }
}

#[component]
pub fn SubmitButton(
    label: &'static str,
    pending_label: &'static str,
    #[prop(into)] pending: Signal<bool>,
    #[prop(default = "btn-primary w-full")] class: &'static str,
) -> impl IntoView {
    view! {
        <button type="submit" class=class disabled=move || pending.get()>
            {move || if pending.get() { pending_label } else { label }}
        </button>
    }
}

/// For pages served without WASM: a form post that fails comes back as a redirect to the
/// page with the error in its address, and the browser would show the form empty again. This
/// keeps what was typed in text and email fields (never passwords) for that one return, in
/// the tab's session storage.
pub const KEEP_FIELDS_SCRIPT: &str = "(function(){var k='fields:'+location.pathname;\
document.addEventListener('submit',function(e){var v={},l=e.target.elements||[];for(var i=0;i<l.length;i++){var f=l[i];\
if(f.name&&(f.type==='email'||f.type==='text'))v[f.name]=f.value}try{sessionStorage.setItem(k,JSON.stringify(v))}catch(_){}});\
document.addEventListener('DOMContentLoaded',function(){if(location.search.indexOf('__err=')<0)return;\
try{var v=JSON.parse(sessionStorage.getItem(k)||'{}');for(var n in v){var f=document.querySelector('form [name=\"'+n+'\"]');\
if(f&&!f.value)f.value=v[n]}}catch(_){}})})()";
