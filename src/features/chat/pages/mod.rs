//! The chat page of a bot: its conversations on the left, the conversation in the middle with
//! answers streaming in, and the cited passage in context on the right.

mod browser;
mod message;
mod sidebar;
mod sources;
mod state;
mod trace;

use super::{bot_for_chat, ChatBot};
use crate::error::AppError;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};
use message::MessageList;
use sidebar::ConversationList;
use sources::SourcePanel;
use state::ChatState;
pub use trace::WhyThisAnswer;

#[component]
pub fn ChatPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let bot_id = Memo::new(move |_| params.read().get("id").unwrap_or_default());
    let requested = Memo::new(move |_| query.read().get("c").and_then(|c| uuid::Uuid::parse_str(&c).ok()));
    let chat = ChatState::new(bot_id);
    provide_context(chat);
    // Follow the address: opening ?c=… loads that conversation; no ?c= is a new one.
    Effect::new(move |_| chat.open(requested.get()));
    let bot = Resource::new(move || bot_id.get(), bot_for_chat);

    view! {
        <Title text="Chat" />
        <Transition fallback=|| view! { <p class="text-slate-500">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let bot = bot.await?;
                Ok::<_, AppError>(view! { <ChatLayout bot /> })
            })}
        </Transition>
    }
}

#[component]
fn ChatLayout(bot: ChatBot) -> impl IntoView {
    let chat = expect_context::<ChatState>();
    let accent = bot.accent_color.clone();
    let public_id = bot.public_id.clone();
    view! {
        <div class="flex items-center gap-3 mb-4 flex-wrap">
            <a href=format!("/bots/{public_id}") class="btn-ghost">"← Bot settings"</a>
            <a href=format!("/bots/{public_id}/knowledge") class="btn-ghost">"Knowledge"</a>
            <h1 class="text-2xl font-semibold">{bot.avatar_emoji.clone()} " " {bot.name.clone()}</h1>
        </div>
        <div class="grid gap-4 lg:grid-cols-[16rem_1fr] xl:grid-cols-[16rem_1fr_22rem]" style=format!("--accent: {accent}")>
            <ConversationList />
            <section class="card flex flex-col min-h-[70vh] p-0 overflow-hidden" aria-label="Conversation">
                <MessageList bot=bot.clone() />
                <Composer />
            </section>
            <SourcePanel />
        </div>
        <Show when=move || chat.cited.get().is_some()>
            <div class="xl:hidden fixed inset-0 z-40 bg-slate-950/50" on:click=move |_| chat.cited.set(None)></div>
        </Show>
    }
}

/// The question box: Enter sends, Shift+Enter starts a new line, Esc stops the answer.
#[component]
fn Composer() -> impl IntoView {
    let chat = expect_context::<ChatState>();
    let send = move || {
        let text = chat.draft.get_untracked();
        if !text.trim().is_empty() {
            chat.send(text);
        }
    };
    view! {
        <form
            class="border-t border-slate-200 dark:border-slate-800 p-3 flex gap-2 items-end"
            on:submit=move |ev| {
                ev.prevent_default();
                send();
            }
        >
            <div class="flex-1">
                <label for="question" class="sr-only">"Your question"</label>
                <textarea
                    id="question"
                    name="question"
                    rows="2"
                    class="input resize-none"
                    placeholder="Ask a question… (Enter sends, Shift+Enter for a new line)"
                    prop:value=move || chat.draft.get()
                    on:input=move |ev| chat.draft.set(event_target_value(&ev))
                    on:keydown=move |ev| {
                        if ev.key() == "Enter" && !ev.shift_key() && !ev.is_composing() {
                            ev.prevent_default();
                            if !chat.busy.get_untracked() {
                                send();
                            }
                        } else if ev.key() == "Escape" && chat.busy.get_untracked() {
                            ev.prevent_default();
                            chat.stop();
                        }
                    }
                ></textarea>
                <Show when=move || chat.error.get().is_some()>
                    <p class="mt-1 text-sm text-red-600 dark:text-red-400" role="alert" data-testid="composer-error">{move || chat.error.get()}</p>
                </Show>
            </div>
            <Show
                when=move || chat.busy.get()
                fallback=move || view! { <button type="submit" class="btn-primary" disabled=move || chat.draft.get().trim().is_empty()>"Send"</button> }
            >
                <button type="button" class="btn-danger" data-testid="stop" on:click=move |_| chat.stop()>"Stop"</button>
            </Show>
        </form>
    }
}
