//! The bot's conversations, newest first: open, rename, delete, export, start a new one.

use crate::ui::download;
use super::state::ChatState;
use crate::features::chat::{delete_conversation, export_conversation, list_conversations, rename_conversation, ConversationSummary};
use crate::error::AppError;
use crate::ui::ConfirmDialog;
use leptos::prelude::*;
use leptos::task::spawn_local;

#[component]
pub fn ConversationList() -> impl IntoView {
    let chat = expect_context::<ChatState>();
    let list = Resource::new(move || (chat.bot_id.get(), chat.list_version.get()), |(bot, _)| list_conversations(bot));
    let to_delete = RwSignal::new(None::<ConversationSummary>);
    let confirm_open = RwSignal::new(false);
    let chat_href = move |c: Option<uuid::Uuid>| match c {
        Some(c) => format!("/bots/{}/chat?c={c}", chat.bot_id.get()),
        None => format!("/bots/{}/chat", chat.bot_id.get()),
    };
    let export = move |format: &'static str| {
        let Some(id) = chat.current.get_untracked() else { return };
        spawn_local(async move {
            match export_conversation(id.to_string(), format.into()).await {
                Ok(file) => download(&file.filename, &file.mime, &file.body),
                Err(e) => chat.error.set(Some(e.to_string())),
            }
        });
    };
    view! {
        <aside class="card p-3 space-y-3 self-start" aria-label="Conversations">
            <a href=move || chat_href(None) class="btn-primary w-full justify-center text-center block">"+ New conversation"</a>
            <Transition fallback=|| view! { <p class="text-sm text-slate-500">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    let items = list.await?;
                    Ok::<_, AppError>(if items.is_empty() {
                        view! { <p class="text-sm text-slate-500">"No conversations yet."</p> }.into_any()
                    } else {
                        view! {
                            <ul class="space-y-1" data-testid="conversation-list">
                                {items.into_iter().map(|c| view! { <ConversationItem conversation=c href=chat_href on_delete=move |c| { to_delete.set(Some(c)); confirm_open.set(true); } /> }).collect_view()}
                            </ul>
                        }.into_any()
                    })
                })}
            </Transition>
            <Show when=move || chat.current.get().is_some()>
                <div class="flex gap-2 text-xs border-t border-slate-200 dark:border-slate-800 pt-3">
                    <span class="text-slate-500 self-center">"Export:"</span>
                    <button type="button" class="btn-ghost text-xs" on:click=move |_| export("markdown")>"Markdown"</button>
                    <button type="button" class="btn-ghost text-xs" on:click=move |_| export("json")>"JSON"</button>
                </div>
            </Show>
        </aside>
        <ConfirmDialog
            open=confirm_open
            title=Signal::derive(move || format!("Delete “{}”?", to_delete.get().map(|c| c.title).unwrap_or_default()))
            body=Signal::derive(|| "The conversation and its answers, sources and feedback are deleted. It cannot be undone.".to_string())
            confirm_label="Delete conversation"
            on_confirm=move |_| {
                confirm_open.set(false);
                let Some(c) = to_delete.get_untracked() else { return };
                spawn_local(async move {
                    match delete_conversation(c.id.to_string()).await {
                        Ok(()) => {
                            if chat.current.get_untracked() == Some(c.id) {
                                chat.open(None);
                            }
                            chat.list_version.update(|v| *v += 1);
                        }
                        Err(e) => chat.error.set(Some(e.to_string())),
                    }
                });
            }
        />
    }
}

#[component]
fn ConversationItem(
    conversation: ConversationSummary,
    href: impl Fn(Option<uuid::Uuid>) -> String + Copy + Send + Sync + 'static,
    #[prop(into)] on_delete: Callback<ConversationSummary>,
) -> impl IntoView {
    let chat = expect_context::<ChatState>();
    let id = conversation.id;
    let title = RwSignal::new(conversation.title.clone());
    let renaming = RwSignal::new(false);
    let active = move || chat.current.get() == Some(id);
    let save = move || {
        renaming.set(false);
        let wanted = title.get_untracked();
        spawn_local(async move {
            match rename_conversation(id.to_string(), wanted).await {
                Ok(c) => title.set(c.title),
                Err(e) => chat.error.set(Some(e.to_string())),
            }
        });
    };
    let summary = conversation.clone();
    view! {
        <li class="group flex items-center gap-1 rounded-lg" class:bg-slate-100=active class:dark:bg-slate-800=active data-testid="conversation">
            <Show
                when=move || renaming.get()
                fallback=move || view! {
                    <a href=move || href(Some(id)) class="flex-1 truncate px-2 py-1.5 text-sm" aria-current=move || active().then_some("page")>{move || title.get()}</a>
                }
            >
                <form class="flex-1" on:submit=move |ev| { ev.prevent_default(); save(); }>
                    <input class="input text-sm py-1" aria-label="Conversation title" prop:value=move || title.get() on:input=move |ev| title.set(event_target_value(&ev)) />
                </form>
            </Show>
            <button type="button" class="btn-ghost text-xs px-1" aria-label="Rename" title="Rename" on:click=move |_| renaming.update(|r| *r = !*r)>"✎"</button>
            <button type="button" class="btn-ghost text-xs px-1" aria-label="Delete" title="Delete" on:click=move |_| on_delete.run(summary.clone())>"🗑"</button>
        </li>
    }
}
