//! Messages: the question bubbles, the answers rendered from Markdown with their citations,
//! notes, retry and regenerate, and the thumbs with an optional comment.

use super::browser::{answer_click, AnswerClick};
use super::state::ChatState;
use super::trace::WhyThisAnswer;
use crate::features::chat::{markdown, rate_answer, ChatBot, MessageStatus, MessageView, Role};
use leptos::prelude::*;
use leptos::task::spawn_local;

#[component]
pub fn MessageList(bot: ChatBot) -> impl IntoView {
    let chat = expect_context::<ChatState>();
    let avatar = bot.avatar_emoji.clone();
    let empty = move || chat.messages.with(Vec::is_empty) && !chat.loading.get();
    view! {
        <div class="flex-1 overflow-y-auto p-4 space-y-4" data-testid="messages" aria-live="polite">
            <Show when=empty>
                <div class="flex gap-3">
                    <span class="text-2xl" aria-hidden="true">{bot.avatar_emoji.clone()}</span>
                    <div class="rounded-2xl bg-slate-100 dark:bg-slate-800 px-4 py-2" data-testid="welcome">{bot.welcome_message.clone()}</div>
                </div>
                <div class="flex flex-wrap gap-2 pl-10" data-testid="suggested-questions">
                    {bot.suggested_questions.clone().into_iter().map(|q| {
                        let text = q.clone();
                        view! {
                            <button type="button" class="btn-ghost border border-slate-300 dark:border-slate-700 text-sm" on:click=move |_| chat.send(text.clone())>{q}</button>
                        }
                    }).collect_view()}
                </div>
            </Show>
            <Show when=move || chat.loading.get()>
                <p class="text-slate-500">"Loading the conversation…"</p>
            </Show>
            <For
                // Feedback is not in the key: the thumbs keep their own state once shown.
                each={move || chat.messages.get().into_iter().enumerate().collect::<Vec<_>>()}
                key={|(i, m): &(usize, MessageView)| (*i, m.id, m.content.len(), m.status as u8, m.sources.len())}
                let:item
            >
                <Message message=item.1 avatar=avatar.clone() />
            </For>
        </div>
    }
}

#[component]
fn Message(message: MessageView, avatar: String) -> impl IntoView {
    let chat = expect_context::<ChatState>();
    let is_last = {
        let id = message.id;
        move || chat.messages.with(|list| list.last().is_some_and(|m| m.id == id))
    };
    match message.role {
        Role::User => view! {
            <div class="flex justify-end" data-testid="message-user">
                <div class="max-w-[85%] rounded-2xl px-4 py-2 text-white whitespace-pre-wrap break-words" style="background: var(--accent)">{message.content}</div>
            </div>
        }
        .into_any(),
        Role::Assistant => {
            let id = message.id;
            let sources = message.sources.clone();
            let html = markdown::render(&message.content, sources.len());
            let streaming = message.status == MessageStatus::Streaming;
            let failed = message.status == MessageStatus::Failed;
            let note = message.finish_reason.and_then(|r| r.note());
            let fallback = message.answered == Some(false);
            let error = message.error.clone();
            let complete = message.status == MessageStatus::Complete;
            view! {
                <div class="flex gap-3" data-testid="message-assistant" data-status=format!("{:?}", message.status).to_lowercase()>
                    <span class="text-2xl" aria-hidden="true">{avatar}</span>
                    <div class="min-w-0 flex-1">
                        <div
                            class="answer rounded-2xl bg-slate-100 dark:bg-slate-800 px-4 py-2 break-words"
                            data-testid="answer"
                            inner_html=html
                            on:click=move |ev| {
                                if let AnswerClick::Cite(n) = answer_click(&ev) {
                                    chat.cited.set(Some((id, n)));
                                }
                            }
                        ></div>
                        {streaming.then(|| view! { <p class="mt-1 text-xs text-slate-500 animate-pulse" data-testid="writing">"Writing…"</p> })}
                        {note.map(|n| view! { <p class="mt-1 text-xs text-slate-500" data-testid="finish-note">{n}</p> })}
                        {fallback.then(|| view! { <p class="mt-1 text-xs text-amber-700 dark:text-amber-400">"Not found in the knowledge: the bot's fallback message was given."</p> })}
                        {failed.then(|| view! {
                            <div class="mt-2 text-sm text-red-700 dark:text-red-400 flex items-center gap-3" role="alert" data-testid="answer-error">
                                <span>{error.clone().unwrap_or_else(|| "The answer failed.".into())}</span>
                                <Show when=is_last>
                                    <button type="button" class="btn-ghost" disabled=move || chat.busy.get() on:click=move |_| chat.regenerate()>"Retry"</button>
                                </Show>
                                <WhyThisAnswer message_id=id />
                            </div>
                        })}
                        {(!sources.is_empty()).then(|| view! {
                            <ol class="mt-2 flex flex-wrap gap-2 text-xs" aria-label="Sources" data-testid="sources">
                                {sources.into_iter().map(|s| {
                                    let n = s.n;
                                    view! {
                                        <li>
                                            <button type="button" class="rounded-full border border-slate-300 dark:border-slate-700 px-2 py-0.5 hover:bg-slate-100 dark:hover:bg-slate-800" on:click=move |_| chat.cited.set(Some((id, n)))>
                                                {format!("[{}] {}", s.n, s.location())}
                                            </button>
                                        </li>
                                    }
                                }).collect_view()}
                            </ol>
                        })}
                        {complete.then(|| view! {
                            <div class="mt-1 flex items-center gap-1">
                                <Feedback message=message.clone() />
                                <Show when=is_last>
                                    <button type="button" class="btn-ghost text-xs" disabled=move || chat.busy.get() on:click=move |_| chat.regenerate()>"↻ Regenerate"</button>
                                </Show>
                                <WhyThisAnswer message_id=id />
                            </div>
                        })}
                    </div>
                </div>
            }
            .into_any()
        }
    }
}

/// Thumbs up/down; choosing one opens an optional comment.
#[component]
fn Feedback(message: MessageView) -> impl IntoView {
    let chat = expect_context::<ChatState>();
    let id = message.id;
    let rating = RwSignal::new(message.feedback.unwrap_or(0));
    let comment = RwSignal::new(message.feedback_comment.clone().unwrap_or_default());
    let editing = RwSignal::new(false);
    let saved = RwSignal::new(message.feedback_comment.is_some());
    let save = move |value: i16, text: String| {
        spawn_local(async move {
            match rate_answer(id.to_string(), value, text).await {
                Ok(view) => {
                    saved.set(view.feedback_comment.is_some());
                    chat.messages.update(|list| {
                        if let Some(m) = list.iter_mut().find(|m| m.id == id) {
                            m.feedback = view.feedback;
                            m.feedback_comment = view.feedback_comment;
                        }
                    });
                }
                Err(e) => chat.error.set(Some(e.to_string())),
            }
        });
    };
    let choose = move |value: i16| {
        let value = if rating.get_untracked() == value { 0 } else { value };
        rating.set(value);
        editing.set(value != 0);
        save(value, if value == 0 { String::new() } else { comment.get_untracked() });
    };
    view! {
        <button type="button" class="btn-ghost text-sm" aria-label="Good answer" aria-pressed=move || (rating.get() == 1).to_string() class:opacity-40=move || rating.get() == -1 on:click=move |_| choose(1)>"👍"</button>
        <button type="button" class="btn-ghost text-sm" aria-label="Bad answer" aria-pressed=move || (rating.get() == -1).to_string() class:opacity-40=move || rating.get() == 1 on:click=move |_| choose(-1)>"👎"</button>
        <Show when=move || editing.get()>
            <form class="flex gap-2 items-center" on:submit=move |ev| {
                ev.prevent_default();
                editing.set(false);
                save(rating.get_untracked(), comment.get_untracked());
            }>
                <input class="input text-sm py-1" name="comment" placeholder="What was wrong or right? (optional)" aria-label="Feedback comment" prop:value=move || comment.get() on:input=move |ev| comment.set(event_target_value(&ev)) />
                <button type="submit" class="btn-ghost text-sm">"Send"</button>
            </form>
        </Show>
        <Show when=move || saved.get() && !editing.get()>
            <span class="text-xs text-slate-500" data-testid="feedback-comment">{move || format!("“{}”", comment.get())}</span>
        </Show>
    }
}
