use leptos::prelude::*;

/// A confirmation that names what will happen; Esc or "Cancel" closes it.
#[component]
pub fn ConfirmDialog(
    #[prop(into)] open: RwSignal<bool>,
    #[prop(into)] title: Signal<String>,
    #[prop(into)] body: Signal<String>,
    confirm_label: &'static str,
    #[prop(into)] on_confirm: Callback<()>,
    #[prop(optional, into)] pending: Signal<bool>,
) -> impl IntoView {
    view! {
        <Show when=move || open.get()>
            <div
                class="fixed inset-0 z-50 flex items-center justify-center bg-slate-950/50 p-4"
                on:keydown=move |ev| if ev.key() == "Escape" { open.set(false) }
            >
                <div role="dialog" aria-modal="true" aria-labelledby="confirm-title" class="card w-full max-w-md">
                    <h2 id="confirm-title" class="text-lg font-semibold">{move || title.get()}</h2>
                    <p class="mt-2 text-sm text-slate-600 dark:text-slate-400">{move || body.get()}</p>
                    <div class="mt-6 flex justify-end gap-2">
                        <button type="button" class="btn-ghost" autofocus on:click=move |_| open.set(false)>"Cancel"</button>
                        <button type="button" class="btn-danger" disabled=move || pending.get() on:click=move |_| on_confirm.run(())>
                            {confirm_label}
                        </button>
                    </div>
                </div>
            </div>
        </Show>
    }
}
