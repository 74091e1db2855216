//! A value to copy (a link, a snippet, a secret), with its button.

use leptos::prelude::*;

/// A value to copy, with its button.
#[component]
pub fn CopyField(label: &'static str, id: &'static str, #[prop(into)] value: Signal<String>, #[prop(optional)] multiline: bool, #[prop(default = 3)] rows: u32) -> impl IntoView {
    let copied = RwSignal::new(false);
    let copy = move |_| {
        #[cfg(feature = "hydrate")]
        if let Some(window) = web_sys::window() {
            let _ = window.navigator().clipboard().write_text(&value.get_untracked());
            copied.set(true);
        }
    };
    view! {
        <div>
            <label for=id class="block text-sm font-medium">{label}</label>
            <div class="mt-1 flex gap-2 items-start">
                {if multiline {
                    view! { <textarea id=id class="input flex-1 font-mono text-xs" rows=rows readonly=true prop:value=move || value.get()></textarea> }.into_any()
                } else {
                    view! { <input id=id class="input flex-1 font-mono text-sm" readonly=true prop:value=move || value.get() /> }.into_any()
                }}
                <button type="button" class="btn-ghost" aria-label=format!("Copy the {}", label.to_lowercase()) on:click=copy>
                    {move || if copied.get() { "Copied" } else { "Copy" }}
                </button>
            </div>
        </div>
    }
}

