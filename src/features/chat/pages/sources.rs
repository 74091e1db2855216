//! The sources panel: the cited passage, where it comes from, and the passages around it.

use super::state::ChatState;
use crate::features::chat::cited_passage;
use crate::error::AppError;
use leptos::prelude::*;

#[component]
pub fn SourcePanel() -> impl IntoView {
    let chat = expect_context::<ChatState>();
    let passage = Resource::new(move || chat.cited.get(), |cited| async move {
        match cited {
            Some((message, n)) => cited_passage(message.to_string(), n).await.map(Some),
            None => Ok(None),
        }
    });
    view! {
        <aside
            class="card self-start space-y-3 xl:block"
            class:hidden=move || chat.cited.get().is_none()
            class=("max-xl:fixed", move || chat.cited.get().is_some())
            class=("max-xl:inset-x-4", move || chat.cited.get().is_some())
            class=("max-xl:top-16", move || chat.cited.get().is_some())
            class=("max-xl:z-50", move || chat.cited.get().is_some())
            aria-label="Sources"
            data-testid="source-panel"
        >
            <div class="flex items-center justify-between">
                <h2 class="section-title">"Source"</h2>
                <Show when=move || chat.cited.get().is_some()>
                    <button type="button" class="btn-ghost text-sm" aria-label="Close source" on:click=move |_| chat.cited.set(None)>"✕"</button>
                </Show>
            </div>
            <Transition fallback=|| view! { <p class="text-sm text-slate-500">"Loading the passage…"</p> }>
                {move || Suspend::new(async move {
                    let Some(p) = passage.await? else {
                        return Ok::<_, AppError>(view! { <p class="text-sm text-slate-500">"Click a citation like [1] in an answer to read its passage here."</p> }.into_any());
                    };
                    Ok(view! {
                        <div class="space-y-2 text-sm" data-testid="source-detail">
                            <p class="font-medium" data-testid="source-location">{format!("[{}] {}", p.source.n, p.source.location())}</p>
                            <p class="text-xs text-slate-500">{format!("Relevance {:.2}", p.source.score)}</p>
                            {p.before.map(|t| view! { <p class="text-slate-500 whitespace-pre-wrap line-clamp-6">{t}</p> })}
                            <blockquote class="border-l-4 pl-3 whitespace-pre-wrap" style="border-color: var(--accent)" data-testid="source-passage">{p.source.text.clone()}</blockquote>
                            {p.after.map(|t| view! { <p class="text-slate-500 whitespace-pre-wrap line-clamp-6">{t}</p> })}
                            {(!p.current).then(|| view! { <p class="text-xs text-amber-700 dark:text-amber-400">"The document has changed since this answer; this is the passage as the answer saw it."</p> })}
                        </div>
                    }.into_any())
                })}
            </Transition>
        </aside>
    }
}
