//! The bot editor: sections for each part of a bot, checked as you type with the same rules
//! the server applies, a live preview, and a save bar that appears with unsaved changes.

use super::avatar::BotAvatar;
use super::preview::ChatPreview;
use crate::error::AppError;
use crate::features::bots::{
    bot_editor_options, get_bot, search_language_label, update_bot, Bot, BotSettings, EditorOptions, RemoveAvatar, Visibility,
    MAX_SUGGESTED_QUESTIONS, SEARCH_LANGUAGES,
};
use crate::features::knowledge::detect_knowledge_language;
use crate::ui::{use_toasts, BoundNumber, BoundSlider, BoundText, BoundToggle, FieldError, FormSection};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

#[component]
pub fn BotEditorPage() -> impl IntoView {
    let params = use_params_map();
    let data = Resource::new(
        move || params.read().get("id").unwrap_or_default(),
        |id| async move { Ok::<_, AppError>((get_bot(id).await?, bot_editor_options().await?)) },
    );
    view! {
        <Transition fallback=|| view! { <p class="text-slate-500">"Loading the bot…"</p> }>
            {move || Suspend::new(async move {
                let (bot, options) = data.await?;
                Ok::<_, AppError>(view! { <Editor bot options /> })
            })}
        </Transition>
    }
}

#[component]
fn Editor(bot: Bot, options: EditorOptions) -> impl IntoView {
    let toasts = use_toasts();
    let public_id = StoredValue::new(bot.public_id.clone());
    let saved = RwSignal::new(bot.settings.clone());
    let draft = RwSignal::new(bot.settings);
    let avatar_url = RwSignal::new(bot.avatar_url);
    let index = RwSignal::new(bot.index);
    let options = StoredValue::new(options);
    let dirty = Memo::new(move |_| draft.with(|d| saved.with(|s| d != s)));
    let check = Memo::new(move |_| options.with_value(|o| draft.get().validate(&o.limits, &o.models, &o.embedders)).err());

    let save = Action::new(move |settings: &BotSettings| update_bot(public_id.get_value(), settings.clone()));
    Effect::new(move |_| match save.value().get() {
        Some(Ok(bot)) => {
            index.set(bot.index);
            saved.set(bot.settings.clone());
            draft.set(bot.settings);
            toasts.success("Bot saved.");
        }
        Some(Err(e)) => toasts.error(e.to_string()),
        None => {}
    });
    let error = move |field: &'static str| {
        Signal::derive(move || {
            check
                .get()
                .filter(|e| e.field() == Some(field))
                .map(|e| e.to_string())
                .or_else(|| save.value().with(|r| match r {
                    Some(Err(e)) if e.field() == Some(field) => Some(e.to_string()),
                    _ => None,
                }))
        })
    };

    #[cfg(feature = "hydrate")]
    {
        // Leaving the page (reload, close, typed address) with unsaved changes asks first.
        let handle = window_event_listener(leptos::ev::beforeunload, move |ev| {
            if dirty.get_untracked() {
                ev.prevent_default();
                ev.set_return_value("");
            }
        });
        on_cleanup(move || handle.remove());
    }

    let title = move || draft.with(|d| d.name.clone());
    let limits = options.with_value(|o| o.limits.clone());
    view! {
        <Title text=title />
        <div class="flex items-center gap-3 mb-6">
            <a href="/bots" class="btn-ghost">"← Bots"</a>
            <h1 class="text-2xl font-semibold truncate">{title}</h1>
            <a href=format!("/bots/{}/knowledge", public_id.get_value()) class="btn-ghost ml-auto">"Knowledge →"</a>
            <a href=format!("/bots/{}/conversations", public_id.get_value()) class="btn-ghost">"Conversations →"</a>
            <a href=format!("/bots/{}/share", public_id.get_value()) class="btn-ghost">"Share & embed →"</a>
            <a href=format!("/bots/{}/chat", public_id.get_value()) class="btn-primary">"Chat →"</a>
        </div>
        <div class="grid gap-6 lg:grid-cols-[1fr_22rem]">
            <form class="space-y-6" on:submit=move |ev| {
                ev.prevent_default();
                if check.get_untracked().is_none() { save.dispatch(draft.get_untracked()); }
            }>
                <FormSection title="Identity" note="How people see the bot.">
                    <BoundText label="Name" name="name" draft get=|d| d.name.clone() set=|d, v| d.name = v error=error("name") maxlength=limits.name_max />
                    <BoundText label="Description" name="description" draft get=|d| d.description.clone() set=|d, v| d.description = v
                        error=error("description") maxlength=limits.description_max hint="Shown on its card and under its name in the chat." />
                    <AvatarPicker draft avatar_url public_id error=error("avatar_emoji") max_bytes=limits.avatar_max_bytes />
                </FormSection>

                <FormSection title="Behaviour" note="What the bot is told, and what it says first.">
                    <BoundText label="Persona (system prompt)" name="persona" draft get=|d| d.persona.clone() set=|d, v| d.persona = v
                        error=error("persona") multiline=true rows=6 maxlength=limits.persona_max
                        hint="Who the bot is, its tone, and anything it must or must not do." />
                    <BoundText label="Welcome message" name="welcome_message" draft get=|d| d.welcome_message.clone()
                        set=|d, v| d.welcome_message = v error=error("welcome_message") multiline=true rows=2 maxlength=limits.message_max />
                    <SuggestedQuestions draft error=error("suggested_questions") maxlength=limits.question_max />
                    <BoundToggle label="Answer only from knowledge" draft get=|d| d.answer_only_from_knowledge set=|d, v| d.answer_only_from_knowledge = v
                        hint="When nothing relevant is found, reply with the fallback message instead of guessing." />
                    <BoundText label="Fallback message" name="fallback_message" draft get=|d| d.fallback_message.clone()
                        set=|d, v| d.fallback_message = v error=error("fallback_message") multiline=true rows=2 maxlength=limits.message_max />
                </FormSection>

                <FormSection title="Model" note="Which model writes the answers, and how.">
                    <ModelSelect draft options error=error("llm_model") />
                    <BoundSlider label="Temperature" name="temperature" draft min=0.0 max=2.0 step=0.1 get=|d| d.temperature set=|d, v| d.temperature = v
                        show=|v| format!("{v:.1}") hint="Low: steady and literal. High: varied and creative." error=error("temperature") />
                    <BoundNumber label="Max answer length (tokens)" name="max_answer_tokens" draft get=|d| d.max_answer_tokens
                        set=|d, v| d.max_answer_tokens = v error=error("max_answer_tokens") />
                </FormSection>

                <FormSection title="Retrieval" note="How knowledge is found for each question.">
                    <BoundNumber label="Passages per answer" name="top_k" draft get=|d| d.top_k set=|d, v| d.top_k = v error=error("top_k") />
                    <BoundSlider label="Minimum relevance" name="min_relevance" draft min=0.0 max=1.0 step=0.05 get=|d| d.min_relevance set=|d, v| d.min_relevance = v
                        show=|v| format!("{v:.2}") hint="Passages scoring below this are not used." error=error("min_relevance") />
                    <EmbeddingSelect draft options index saved public_id error=error("embedding_model") />
                    <LanguageSelect draft index saved public_id error=error("search_language") />
                    <BoundSlider label="Keyword ↔ meaning balance" name="keyword_weight" draft min=0.0 max=1.0 step=0.05 get=|d| d.keyword_weight set=|d, v| d.keyword_weight = v
                        show=|v| format!("{:.0}% keyword, {:.0}% meaning", v * 100.0, (1.0 - v) * 100.0)
                        hint="Keyword search finds exact terms and names; meaning (vector) search finds paraphrases." error=error("keyword_weight") />
                </FormSection>

                <FormSection title="Appearance" note="Also what visitors see on the share page and in the widget.">
                    <ColourInput draft error=error("accent_color") />
                    <p class="text-sm">
                        {move || if draft.with(|d| d.visibility == Visibility::Public) { "Published: visitors can chat with it. " } else { "Private: only you can chat with it. " }}
                        <a class="link" href=format!("/bots/{}/share", public_id.get_value())>"Publishing, allowed websites and visitor limits"</a>
                    </p>
                </FormSection>

                <div class="sticky bottom-0 -mx-4 px-4 py-3 bg-slate-50/95 dark:bg-slate-950/95 border-t border-slate-200 dark:border-slate-800 flex items-center gap-3">
                    <span class="text-sm text-slate-600 dark:text-slate-400" data-testid="save-state">
                        {move || if save.pending().get() { "Saving…" } else if dirty.get() { "Unsaved changes" } else { "All changes saved" }}
                    </span>
                    <button type="button" class="btn-ghost ml-auto" disabled=move || !dirty.get() on:click=move |_| draft.set(saved.get_untracked())>"Discard"</button>
                    <button type="submit" class="btn-primary" disabled=move || !dirty.get() || check.get().is_some() || save.pending().get()>"Save changes"</button>
                </div>
            </form>
            <aside class="lg:sticky lg:top-20 self-start space-y-2">
                <p class="text-sm font-medium text-slate-500">"Preview"</p>
                <ChatPreview draft avatar_url />
            </aside>
        </div>
    }
}

#[component]
fn SuggestedQuestions(draft: RwSignal<BotSettings>, error: Signal<Option<String>>, maxlength: usize) -> impl IntoView {
    let count = move || draft.with(|d| d.suggested_questions.len());
    view! {
        <fieldset class="space-y-2">
            <legend class="text-sm font-medium">"Suggested questions"</legend>
            <p class="text-xs text-slate-500">"Shown as one-click starters on an empty conversation (up to 6)."</p>
            {move || (0..count()).map(|i| view! {
                <div class="flex gap-2">
                    <input class="input" type="text" maxlength=maxlength aria-label=format!("Suggested question {}", i + 1)
                        prop:value=move || draft.with(|d| d.suggested_questions.get(i).cloned().unwrap_or_default())
                        on:input=move |ev| draft.update(|d| if let Some(q) = d.suggested_questions.get_mut(i) { *q = event_target_value(&ev) }) />
                    <button type="button" class="btn-ghost" aria-label=format!("Remove question {}", i + 1)
                        on:click=move |_| draft.update(|d| { if i < d.suggested_questions.len() { d.suggested_questions.remove(i); } })>"✕"</button>
                </div>
            }).collect_view()}
            <button type="button" class="btn-ghost" disabled=move || { count() >= MAX_SUGGESTED_QUESTIONS }
                on:click=move |_| draft.update(|d| d.suggested_questions.push(String::new()))>"+ Add a question"</button>
            <FieldError error id="bot-suggested_questions-error".to_string() />
        </fieldset>
    }
}

#[component]
fn ModelSelect(draft: RwSignal<BotSettings>, options: StoredValue<EditorOptions>, error: Signal<Option<String>>) -> impl IntoView {
    let models = options.with_value(|o| o.models.clone());
    let current = move || draft.with(|d| format!("{}/{}", d.llm_provider, d.llm_model));
    view! {
        <div class="space-y-1">
            <label for="bot-model" class="block text-sm font-medium">"Model"</label>
            <select id="bot-model" class="input" prop:value=current
                on:change=move |ev| {
                    let value = event_target_value(&ev);
                    if let Some((provider, model)) = value.split_once('/') {
                        draft.update(|d| { d.llm_provider = provider.to_owned(); d.llm_model = model.to_owned(); });
                    }
                }>
                {models.into_iter().map(|m| {
                    let value = format!("{}/{}", m.provider, m.model);
                    view! { <option value=value.clone() selected=move || current() == value>{m.label}</option> }
                }).collect_view()}
            </select>
            <FieldError error id="bot-model-error".to_string() />
        </div>
    }
}

/// The embedding model, and while the knowledge is being re-indexed for a new one, how far
/// it has come (polled until done; the old index answers meanwhile).
#[component]
fn EmbeddingSelect(
    draft: RwSignal<BotSettings>,
    options: StoredValue<EditorOptions>,
    index: RwSignal<crate::features::bots::IndexState>,
    saved: RwSignal<BotSettings>,
    public_id: StoredValue<String>,
    error: Signal<Option<String>>,
) -> impl IntoView {
    let embedders = options.with_value(|o| o.embedders.clone());
    let label_of = StoredValue::new(embedders.iter().map(|m| (m.model.clone(), m.label.clone())).collect::<Vec<_>>());
    let label = move |id: &str| label_of.with_value(|l| l.iter().find(|(m, _)| m == id).map(|(_, l)| l.clone()).unwrap_or_else(|| id.to_owned()));
    let current = move || draft.with(|d| d.embedding_model.clone());
    let reindexing = move || saved.with(|s| index.with(|i| s.embedding_model != i.live));
    // Also polled while keyword search changes language (`LanguageSelect` shows that).
    let catching_up = move || reindexing() || saved.with(|s| index.with(|i| s.search_language != i.keyword_language));
    #[cfg(feature = "hydrate")]
    {
        let handle = set_interval_with_handle(
            move || {
                if catching_up() {
                    leptos::task::spawn_local(async move {
                        if let Ok(bot) = get_bot(public_id.get_value()).await {
                            index.set(bot.index);
                        }
                    });
                }
            },
            std::time::Duration::from_millis(1500),
        );
        if let Ok(handle) = handle {
            on_cleanup(move || handle.clear());
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (public_id, catching_up);
    view! {
        <div class="space-y-1">
            <label for="bot-embedding" class="block text-sm font-medium">"Embedding model"</label>
            <select id="bot-embedding" class="input" prop:value=current
                on:change=move |ev| draft.update(|d| d.embedding_model = event_target_value(&ev))>
                {embedders.into_iter().map(|m| {
                    let value = m.model.clone();
                    view! { <option value=value.clone() selected=move || current() == value>{m.label}</option> }
                }).collect_view()}
            </select>
            <p class="text-xs text-slate-500">"Changing it re-indexes the bot's documents in the background; answers keep using the current index until the new one is complete."</p>
            <Show when=reindexing>
                {move || index.with(|i| {
                    let percent = if i.total > 0 { i.done * 100 / i.total } else { 0 };
                    view! {
                        <div class="rounded border border-amber-300 bg-amber-50 dark:bg-amber-950/40 p-2 text-xs space-y-1" data-testid="reindex-status" role="status">
                            <p>{format!("Re-indexing for {}: {} of {} documents ({percent}%). Answers use {} until it is done.", label(&saved.with(|s| s.embedding_model.clone())), i.done, i.total, label(&i.live))}</p>
                            <div class="h-1.5 rounded bg-amber-200"><div class="h-1.5 rounded bg-amber-500" style=format!("width: {percent}%")></div></div>
                            {i.error.clone().map(|e| view! { <p class="text-red-700">{format!("Last attempt failed: {e} (retrying)")}</p> })}
                        </div>
                    }
                })}
            </Show>
            <FieldError error id="bot-embedding-error".to_string() />
        </div>
    }
}

#[component]
fn ColourInput(draft: RwSignal<BotSettings>, error: Signal<Option<String>>) -> impl IntoView {
    let value = move || draft.with(|d| d.accent_color.clone());
    let set = move |ev| draft.update(|d| d.accent_color = event_target_value(&ev));
    view! {
        <div class="space-y-1">
            <label for="bot-accent" class="block text-sm font-medium">"Accent colour"</label>
            <div class="flex gap-2 items-center">
                <input type="color" class="h-10 w-14 rounded border border-slate-300 dark:border-slate-700" aria-label="Pick the accent colour"
                    prop:value=value on:input=set />
                <input id="bot-accent" type="text" class="input max-w-32 font-mono" maxlength=7 prop:value=value on:input=set />
            </div>
            <FieldError error id="bot-accent-error".to_string() />
        </div>
    }
}


#[component]
fn AvatarPicker(
    draft: RwSignal<BotSettings>,
    avatar_url: RwSignal<Option<String>>,
    public_id: StoredValue<String>,
    error: Signal<Option<String>>,
    max_bytes: usize,
) -> impl IntoView {
    let toasts = use_toasts();
    let uploading = RwSignal::new(false);
    let remove = ServerAction::<RemoveAvatar>::new();
    Effect::new(move |_| match remove.value().get() {
        Some(Ok(bot)) => avatar_url.set(bot.avatar_url),
        Some(Err(e)) => toasts.error(e.to_string()),
        None => {}
    });
    let on_file = move |ev: leptos::ev::Event| {
        #[cfg(feature = "hydrate")]
        {
            use wasm_bindgen::JsCast;
            let Some(input) = ev.target().and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok()) else { return };
            let Some(file) = input.files().and_then(|f| f.get(0)) else { return };
            input.set_value("");
            if file.size() as usize > max_bytes {
                toasts.error(format!("Avatars are at most {} KB.", max_bytes / 1024));
                return;
            }
            let Ok(form) = web_sys::FormData::new() else { return };
            let _ = form.append_with_str("public_id", &public_id.get_value());
            let _ = form.append_with_blob("avatar", &file);
            uploading.set(true);
            leptos::task::spawn_local(async move {
                match crate::features::bots::upload_avatar(form.into()).await {
                    Ok(bot) => {
                        avatar_url.set(bot.avatar_url);
                        toasts.success("Avatar updated.");
                    }
                    Err(e) => toasts.error(e.to_string()),
                }
                uploading.set(false);
            });
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (ev, max_bytes, public_id);
    };
    view! {
        <div class="space-y-2">
            <span class="block text-sm font-medium">"Avatar"</span>
            <div class="flex items-center gap-3 flex-wrap">
                <BotAvatar emoji=Signal::derive(move || draft.with(|d| d.avatar_emoji.clone())) image=avatar_url
                    accent=Signal::derive(move || draft.with(|d| d.accent_color.clone())) />
                <input id="bot-avatar_emoji" class="input max-w-20 text-center text-xl" aria-label="Avatar emoji" maxlength=8
                    prop:value=move || draft.with(|d| d.avatar_emoji.clone())
                    on:input=move |ev| draft.update(|d| d.avatar_emoji = event_target_value(&ev)) />
                <label class="btn-ghost cursor-pointer">
                    {move || if uploading.get() { "Uploading…" } else { "Upload image" }}
                    <input type="file" accept="image/png,image/jpeg,image/gif,image/webp" class="sr-only" on:change=on_file />
                </label>
                <Show when=move || avatar_url.get().is_some()>
                    <button type="button" class="btn-ghost" on:click=move |_| { remove.dispatch(RemoveAvatar { public_id: public_id.get_value() }); }>
                        "Use the emoji"
                    </button>
                </Show>
            </div>
            <p class="text-xs text-slate-500">{format!("An emoji, or a PNG, JPEG, GIF or WebP image up to {} KB.", max_bytes / 1024)}</p>
            <FieldError error id="bot-avatar_emoji-error".to_string() />
        </div>
    }
}

/// Keyword search's language, with the one the documents look like they are in offered.
#[component]
fn LanguageSelect(
    draft: RwSignal<BotSettings>,
    index: RwSignal<crate::features::bots::IndexState>,
    saved: RwSignal<BotSettings>,
    public_id: StoredValue<String>,
    error: Signal<Option<String>>,
) -> impl IntoView {
    let current = move || draft.with(|d| d.search_language.clone());
    let switching = move || saved.with(|s| index.with(|i| s.search_language != i.keyword_language));
    let detected = RwSignal::new(None::<String>);
    Effect::new(move |_| {
        leptos::task::spawn_local(async move {
            if let Ok(found) = detect_knowledge_language(public_id.get_value()).await {
                detected.set(found);
            }
        });
    });
    let offer = move || detected.get().filter(|l| draft.with(|d| &d.search_language != l));
    view! {
        <div class="space-y-1">
            <label for="bot-search-language" class="block text-sm font-medium">"Keyword search language"</label>
            <select id="bot-search-language" class="input" prop:value=current aria-describedby="bot-search_language-error"
                on:change=move |ev| draft.update(|d| d.search_language = event_target_value(&ev))>
                {SEARCH_LANGUAGES.iter().map(|(name, label)| {
                    view! { <option value=*name selected=move || current() == *name>{*label}</option> }
                }).collect_view()}
            </select>
            <p class="text-xs text-slate-500">"How words are matched to their forms (in German, “Fähre” finds “Fähren”). Changing it re-indexes the words in the background; keyword search keeps the current language until that is done."</p>
            {move || offer().map(|language| {
                let label = search_language_label(&language).to_owned();
                view! {
                    <p class="text-xs" data-testid="language-suggestion">
                        {format!("Your documents read as {label}. ")}
                        <button type="button" class="link" on:click=move |_| draft.update(|d| d.search_language = language.clone())>{format!("Use {label}")}</button>
                    </p>
                }
            })}
            <Show when=switching>
                <p class="rounded border border-amber-300 bg-amber-50 dark:bg-amber-950/40 p-2 text-xs" role="status" data-testid="language-status">
                    {move || format!(
                        "Re-indexing keyword search in {}; it uses {} until that is done.",
                        search_language_label(&saved.with(|s| s.search_language.clone())),
                        search_language_label(&index.with(|i| i.keyword_language.clone())),
                    )}
                </p>
            </Show>
            <FieldError error id="bot-search_language-error".to_string() />
        </div>
    }
}
