use super::avatar::BotAvatar;
use crate::features::bots::BotSettings;
use leptos::prelude::*;

/// How the chat will look to visitors, redrawn as the owner edits.
#[component]
pub fn ChatPreview(draft: RwSignal<BotSettings>, avatar_url: RwSignal<Option<String>>) -> impl IntoView {
    let field = move |f: fn(&BotSettings) -> String| Signal::derive(move || draft.with(f));
    let accent = field(|d| d.accent_color.clone());
    view! {
        <div class="card p-0 overflow-hidden" data-testid="chat-preview">
            <div class="px-4 py-3 flex items-center gap-3 text-white" data-testid="preview-header"
                style=move || format!("background-color: {}", accent.get())>
                <BotAvatar emoji=field(|d| d.avatar_emoji.clone()) image=avatar_url accent=Signal::derive(|| "#ffffff".to_string()) size="h-9 w-9 text-xl" />
                <div class="min-w-0">
                    <p class="font-semibold truncate" data-testid="preview-name">{move || field(|d| d.name.clone()).get()}</p>
                    <p class="text-xs opacity-80 truncate">{move || field(|d| d.description.clone()).get()}</p>
                </div>
            </div>
            <div class="p-4 space-y-3 min-h-56">
                <div class="rounded-2xl rounded-tl-sm bg-slate-100 dark:bg-slate-800 px-3 py-2 text-sm max-w-[85%] whitespace-pre-wrap"
                    data-testid="preview-welcome">
                    {move || field(|d| d.welcome_message.clone()).get()}
                </div>
                <div class="flex flex-wrap gap-2">
                    {move || draft.with(|d| d.suggested_questions.iter().filter(|q| !q.trim().is_empty()).cloned().collect::<Vec<_>>())
                        .into_iter()
                        .map(|q| view! {
                            <span class="rounded-full border px-3 py-1 text-xs" style=move || format!("border-color: {0}; color: {0}", accent.get())>{q}</span>
                        })
                        .collect_view()}
                </div>
            </div>
            <div class="border-t border-slate-200 dark:border-slate-800 p-3 flex gap-2">
                <input class="input" disabled placeholder="Ask a question…" aria-label="Preview of the question box" />
                <span class="inline-flex items-center rounded-lg px-4 text-sm text-white" style=move || format!("background-color: {}", accent.get())>"Send"</span>
            </div>
        </div>
    }
}
