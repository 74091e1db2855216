//! The Conversations page of a bot: filters, the list, a transcript, exports.

use super::{channel_label, inbox, inbox_export, inbox_transcript, InboxFilter, InboxRow};
use crate::error::AppError;
use crate::features::chat::{MessageView, Role, WhyThisAnswer};
use crate::ui::{download, use_toasts};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

#[component]
pub fn InboxPage() -> impl IntoView {
    let params = use_params_map();
    let bot = move || params.read().get("id").unwrap_or_default();
    let filter = RwSignal::new(InboxFilter::default());
    let rows = Resource::new(move || (bot(), filter.get()), |(bot, f)| async move { inbox(bot, f).await });
    let open = RwSignal::new(None::<uuid::Uuid>);
    let toasts = use_toasts();
    let export = Action::new(move |format: &&'static str| {
        let (bot, f, format) = (bot(), filter.get_untracked(), format.to_string());
        async move { inbox_export(bot, f, format).await }
    });
    Effect::new(move |_| match export.value().get() {
        Some(Ok(file)) => download(&file.filename, &file.mime, &file.body),
        Some(Err(e)) => toasts.error(e.to_string()),
        None => {}
    });
    let text = move |set: fn(&mut InboxFilter, String)| move |ev| filter.update(|f| set(f, event_target_value(&ev)));
    let flag = move |set: fn(&mut InboxFilter, bool)| move |ev| filter.update(|f| set(f, event_target_checked(&ev)));
    view! {
        <Title text="Conversations" />
        <div class="flex items-center gap-3 mb-6">
            <a href=move || format!("/bots/{}", bot()) class="btn-ghost">"← Bot settings"</a>
            <h1 class="text-2xl font-semibold">"Conversations"</h1>
            <div class="ml-auto flex gap-2">
                <button type="button" class="btn-ghost" on:click=move |_| { export.dispatch("csv"); }>"Export CSV"</button>
                <button type="button" class="btn-ghost" on:click=move |_| { export.dispatch("json"); }>"Export JSON"</button>
            </div>
        </div>
        <form class="card flex flex-wrap gap-4 items-end mb-6" on:submit=|ev| ev.prevent_default()>
            <div>
                <label for="inbox-channel" class="block text-sm font-medium">"Channel"</label>
                <select id="inbox-channel" class="input mt-1" on:change=text(|f, v| f.channel = v)>
                    <option value="">"All"</option>
                    <option value="owner">"Your tests"</option>
                    <option value="share">"Share page"</option>
                    <option value="widget">"Widget"</option>
                </select>
            </div>
            <div>
                <label for="inbox-from" class="block text-sm font-medium">"From"</label>
                <input id="inbox-from" type="date" class="input mt-1" on:change=text(|f, v| f.from = v) />
            </div>
            <div>
                <label for="inbox-to" class="block text-sm font-medium">"To"</label>
                <input id="inbox-to" type="date" class="input mt-1" on:change=text(|f, v| f.to = v) />
            </div>
            <label class="flex items-center gap-2 text-sm"><input type="checkbox" class="accent-indigo-600" on:change=flag(|f, v| f.thumbs_down = v) />"With a thumbs-down"</label>
            <label class="flex items-center gap-2 text-sm"><input type="checkbox" class="accent-indigo-600" on:change=flag(|f, v| f.unanswered = v) />"With unanswered questions"</label>
        </form>
        <div class="grid gap-6 lg:grid-cols-[1fr_28rem]">
            <Transition fallback=|| view! { <p class="text-slate-500">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    let rows = rows.await?;
                    Ok::<_, AppError>(view! { <InboxTable rows open /> })
                })}
            </Transition>
            <aside class="self-start">
                {move || open.get().map(|id| view! { <Transcript id /> })}
            </aside>
        </div>
    }
}

#[component]
fn InboxTable(rows: Vec<InboxRow>, open: RwSignal<Option<uuid::Uuid>>) -> impl IntoView {
    if rows.is_empty() {
        return view! { <p class="card text-sm text-slate-500" data-testid="inbox-empty">"No conversations match."</p> }.into_any();
    }
    let count = rows.len();
    view! {
        <div class="card overflow-x-auto">
            <p class="text-sm text-slate-500 mb-2" data-testid="inbox-count">{format!("{count} conversation{}", if count == 1 { "" } else { "s" })}</p>
            <table class="w-full text-sm">
                <thead><tr class="text-left text-slate-500">
                    <th class="py-2 pr-3">"First question"</th><th class="pr-3">"Channel"</th><th class="pr-3">"Visitor"</th>
                    <th class="pr-3 text-right">"Messages"</th><th class="pr-3 text-right">"👍 / 👎"</th><th class="pr-3 text-right">"Unanswered"</th><th>"Last activity"</th>
                </tr></thead>
                <tbody>
                    {rows.into_iter().map(|r| {
                        let id = r.id;
                        let place = r.page_url.clone().or(r.site.clone()).unwrap_or_default();
                        view! {
                            <tr class="border-t border-slate-200 dark:border-slate-800" data-testid="inbox-row">
                                <td class="py-2 pr-3">
                                    <button type="button" class="link text-left" on:click=move |_| open.set(Some(id))>
                                        {if r.first_question.is_empty() { "(no question yet)".to_string() } else { r.first_question.clone() }}
                                    </button>
                                </td>
                                <td class="pr-3">
                                    <span data-testid="inbox-channel">{channel_label(&r.channel)}</span>
                                    {(!place.is_empty()).then(|| view! { <span class="block text-xs text-slate-500 break-all" data-testid="inbox-page">{place}</span> })}
                                </td>
                                <td class="pr-3">{r.visitor.clone()}</td>
                                <td class="pr-3 text-right">{r.messages}</td>
                                <td class="pr-3 text-right">{format!("{} / {}", r.thumbs_up, r.thumbs_down)}</td>
                                <td class="pr-3 text-right">{r.unanswered}</td>
                                <td class="text-slate-500">{r.updated_at.format("%Y-%m-%d %H:%M").to_string()}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}

#[component]
fn Transcript(id: uuid::Uuid) -> impl IntoView {
    let view_of = Resource::new(move || id, |id| async move { inbox_transcript(id.to_string()).await });
    view! {
        <section class="card space-y-3" aria-label="Transcript" data-testid="transcript">
            <Suspense fallback=|| view! { <p class="text-slate-500">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    let c = view_of.await?;
                    Ok::<_, AppError>(view! {
                        <h2 class="section-title">{c.conversation.title.clone()}</h2>
                        {c.messages.into_iter().map(|m| view! { <TranscriptMessage m /> }).collect_view()}
                    })
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn TranscriptMessage(m: MessageView) -> impl IntoView {
    let who = if m.role == Role::User { "Visitor" } else { "Bot" };
    let feedback = match m.feedback {
        Some(1) => " · 👍",
        Some(-1) => " · 👎",
        _ => "",
    };
    let unanswered = if m.answered == Some(false) { " · unanswered" } else { "" };
    view! {
        <div class="text-sm">
            <p class="font-medium">{who}<span class="text-slate-500 font-normal">{format!("{feedback}{unanswered}")}</span></p>
            <p class="whitespace-pre-wrap">{m.content.clone()}</p>
            {m.error.clone().map(|e| view! { <p class="text-red-600">{e}</p> })}
            {(!m.sources.is_empty()).then(|| view! {
                <ul class="mt-1 text-xs text-slate-500 list-disc pl-5">
                    {m.sources.iter().map(|s| view! { <li>{format!("[{}] {}", s.n, s.location())}</li> }).collect_view()}
                </ul>
            })}
            {(m.role == Role::Assistant).then(|| view! { <WhyThisAnswer message_id=m.id /> })}
        </div>
    }
}
