use super::avatar::BotAvatar;
use crate::features::bots::{CreateBot, DeleteBot, DuplicateBot, list_bots, BotSummary, Visibility};
use crate::ui::{error_for, use_toasts, ConfirmDialog, EmptyState, FormError, SubmitButton, TextField};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_navigate;

#[component]
pub fn BotsPage() -> impl IntoView {
    view! {
        <Title text="Bots" />
        <h1 class="text-2xl font-semibold mb-6">"Bots"</h1>
        <BotList />
    }
}

/// The user's bots as cards, with create, duplicate and delete. Used by the dashboard too.
#[component]
pub fn BotList() -> impl IntoView {
    let toasts = use_toasts();
    let create = ServerAction::<CreateBot>::new();
    let duplicate = ServerAction::<DuplicateBot>::new();
    let delete = ServerAction::<DeleteBot>::new();
    let bots = Resource::new(
        move || (create.version().get(), duplicate.version().get(), delete.version().get()),
        |_| list_bots(),
    );
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(bot)) = create.value().get() {
            navigate(&format!("/bots/{}", bot.public_id), Default::default());
        }
    });
    Effect::new(move |_| match duplicate.value().get() {
        Some(Ok(bot)) => toasts.success(format!("Created “{}”.", bot.settings.name)),
        Some(Err(e)) => toasts.error(e.to_string()),
        None => {}
    });
    Effect::new(move |_| match delete.value().get() {
        Some(Ok(())) => toasts.success("Bot deleted."),
        Some(Err(e)) => toasts.error(e.to_string()),
        None => {}
    });

    let to_delete = RwSignal::new(None::<BotSummary>);
    let dialog_open = RwSignal::new(false);
    Effect::new(move |_| if !dialog_open.get() { to_delete.set(None) });

    view! {
        <section class="card mb-6">
            <ActionForm action=create attr:class="flex flex-col sm:flex-row gap-3 sm:items-end">
                <div class="flex-1">
                    <TextField label="New bot" name="name" required=true error=error_for(create.value(), "name")
                        hint="Just a name is enough; everything else has sensible defaults." />
                </div>
                <SubmitButton label="Create bot" pending_label="Creating…" pending=create.pending() class="btn-primary sm:mb-6" />
            </ActionForm>
            <FormError result=create.value() />
        </section>
        <Transition fallback=|| view! { <p class="text-slate-500">"Loading bots…"</p> }>
            {move || Suspend::new(async move {
                let bots = bots.await?;
                Ok::<_, crate::error::AppError>(if bots.is_empty() {
                    view! {
                        <EmptyState
                            title="No bots yet"
                            body="A bot answers questions from the documents and pages you give it. Name your first one above."
                        />
                    }.into_any()
                } else {
                    view! {
                        <ul class="grid gap-4 sm:grid-cols-2 lg:grid-cols-3" data-testid="bot-list">
                            {bots.into_iter().map(|bot| view! {
                                <BotCard bot=bot.clone()
                                    on_duplicate=move |id: String| { duplicate.dispatch(DuplicateBot { public_id: id }); }
                                    on_delete=move |b: BotSummary| { to_delete.set(Some(b)); dialog_open.set(true); }
                                />
                            }).collect_view()}
                        </ul>
                    }.into_any()
                })
            })}
        </Transition>
        <ConfirmDialog
            open=dialog_open
            title=Signal::derive(move || format!("Delete “{}”?", to_delete.get().map(|b| b.name).unwrap_or_default()))
            body=Signal::derive(|| "This deletes the bot with everything that belongs to it: its settings, documents and their search index, and all its conversations. It cannot be undone.".to_string())
            confirm_label="Delete bot"
            pending=delete.pending()
            on_confirm=move |_| {
                if let Some(bot) = to_delete.get_untracked() {
                    delete.dispatch(DeleteBot { public_id: bot.public_id });
                }
                dialog_open.set(false);
            }
        />
    }
}

#[component]
fn BotCard(
    bot: BotSummary,
    #[prop(into)] on_duplicate: Callback<String>,
    #[prop(into)] on_delete: Callback<BotSummary>,
) -> impl IntoView {
    let href = format!("/bots/{}", bot.public_id);
    let id_for_dup = bot.public_id.clone();
    let for_delete = bot.clone();
    let last = bot.last_activity_at.format("%b %e, %Y").to_string();
    view! {
        <li class="card flex flex-col gap-3" style=format!("border-top: 4px solid {}", bot.accent_color) data-testid="bot-card">
            <div class="flex items-start gap-3">
                <BotAvatar emoji=bot.avatar_emoji.clone() image=bot.avatar_url.clone() accent=bot.accent_color.clone() />
                <div class="min-w-0">
                    <a href=href.clone() class="font-semibold hover:underline block truncate">{bot.name.clone()}</a>
                    <p class="text-sm text-slate-500 line-clamp-2">
                        {if bot.description.is_empty() { "No description".to_string() } else { bot.description.clone() }}
                    </p>
                </div>
            </div>
            <p class="text-xs text-slate-500 flex gap-2 flex-wrap">
                <span class="rounded-full bg-slate-100 dark:bg-slate-800 px-2 py-0.5">
                    {match bot.visibility { Visibility::Private => "Private", Visibility::Public => "Published" }}
                </span>
                <span data-testid="bot-documents">{match bot.documents { 0 => "No documents".to_string(), 1 => "1 document".to_string(), n => format!("{n} documents") }}</span>
                <span data-testid="bot-conversations">{match bot.conversations { 0 => "No conversations".to_string(), 1 => "1 conversation".to_string(), n => format!("{n} conversations") }}</span>
                <span>"Last activity " {last}</span>
            </p>
            <div class="mt-auto flex gap-2">
                <a href=format!("{href}/chat") class="btn-primary">"Chat"</a>
                <a href=href class="btn-ghost">"Edit"</a>
                <button type="button" class="btn-ghost" on:click=move |_| on_duplicate.run(id_for_dup.clone())>"Duplicate"</button>
                <button type="button" class="btn-ghost text-red-600 dark:text-red-400 ml-auto" on:click=move |_| on_delete.run(for_delete.clone())>"Delete"</button>
            </div>
        </li>
    }
}
