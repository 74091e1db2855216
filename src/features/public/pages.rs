//! "Share & embed" for a bot's owner: publish, the link and snippets to copy, the websites the
//! widget may load on, visitor limits and appearance, and a live preview of the share page.

use super::{Publishing, SaveShare, ShareInfo};
use crate::error::AppError;
use crate::ui::{error_for, use_toasts, CopyField, FormError, SubmitButton};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

#[component]
pub fn SharePage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let info = Resource::new(id, |id| async move { super::get_share(id).await });
    view! {
        <Title text="Share & embed" />
        <div class="flex items-center gap-3 mb-6">
            <a href=move || format!("/bots/{}", id()) class="btn-ghost">"← Bot settings"</a>
            <h1 class="text-2xl font-semibold">"Share & embed"</h1>
        </div>
        <Transition fallback=|| view! { <p class="text-slate-500">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let info = info.await?;
                Ok::<_, AppError>(view! { <ShareForm bot_id=id() info /> })
            })}
        </Transition>
    }
}

#[component]
fn NumberField(label: &'static str, name: &'static str, value: i32, result: Signal<Option<Result<ShareInfo, AppError>>>) -> impl IntoView {
    let error = error_for(result, name);
    view! {
        <div>
            <label for=format!("share-{name}") class="block text-sm font-medium">{label}</label>
            <input id=format!("share-{name}") name=name type="number" min="1" class="input mt-1 w-full" value=value.to_string()
                aria-invalid=move || error.get().is_some().to_string() aria-describedby=format!("share-{name}-error") />
            <p id=format!("share-{name}-error") class="text-sm text-red-600 dark:text-red-400" role="alert">{move || error.get()}</p>
        </div>
    }
}

#[component]
fn ShareForm(bot_id: String, info: ShareInfo) -> impl IntoView {
    let toasts = use_toasts();
    let current = RwSignal::new(info.clone());
    let save = ServerAction::<SaveShare>::new();
    let result: Signal<Option<Result<ShareInfo, AppError>>> = save.value().into();
    Effect::new(move |_| {
        if let Some(Ok(saved)) = save.value().get() {
            current.set(saved);
            toasts.success("Sharing settings saved.");
        }
    });
    let p: Publishing = info.publishing.clone();
    let share_url = Signal::derive(move || current.with(|c| c.share_url.clone()));
    let snippet = Signal::derive(move || current.with(|c| c.script_snippet.clone()));
    let iframe = Signal::derive(move || current.with(|c| c.iframe_snippet.clone()));
    let published = move || current.with(|c| c.published);
    let sites_error = error_for(result, "allowed_sites");
    let message_error = error_for(result, "limit_message");
    view! {
        <div class="grid gap-6 lg:grid-cols-[1fr_24rem]">
            <ActionForm action=save attr:class="space-y-6">
                <input type="hidden" name="bot_id" value=bot_id.clone() />
                <section class="card space-y-4">
                    <h2 class="section-title">"Publishing"</h2>
                    <label class="flex items-start gap-3">
                        <input type="checkbox" name="published" value="on" class="mt-1 accent-indigo-600" checked=info.published />
                        <span>
                            <span class="block text-sm font-medium">"Published"</span>
                            <span class="block text-xs text-slate-500">"Visitors can chat with the bot on its share page and in the widget on the websites below. Off: only you can."</span>
                        </span>
                    </label>
                    <p class="text-sm" data-testid="publish-state">
                        {move || if published() { "The bot is published." } else { "The bot is private." }}
                    </p>
                    <CopyField label="Share link" id="share-link" value=share_url />
                    <CopyField label="Embed snippet" id="share-snippet" value=snippet multiline=true />
                    <CopyField label="Iframe alternative" id="share-iframe" value=iframe multiline=true />
                </section>

                <section class="card space-y-4">
                    <h2 class="section-title">"Allowed websites"</h2>
                    <p class="text-sm text-slate-500">"The widget loads only on these sites (one per line, like https://shop.example or *.example.com). None: it loads nowhere; the share link still works."</p>
                    <label for="share-allowed_sites" class="sr-only">"Allowed websites"</label>
                    <textarea id="share-allowed_sites" name="allowed_sites" rows=4 class="input w-full font-mono text-sm"
                        aria-describedby="share-allowed_sites-error" aria-invalid=move || sites_error.get().is_some().to_string()>
                        {p.allowed_sites.join("\n")}
                    </textarea>
                    <p id="share-allowed_sites-error" class="text-sm text-red-600 dark:text-red-400" role="alert">{move || sites_error.get()}</p>
                </section>

                <section class="card space-y-4">
                    <h2 class="section-title">"Visitor limits"</h2>
                    <p class="text-sm text-slate-500">"Each visitor, each visitor's network address and the bot as a whole. Windows are calendar minutes, days and months (UTC)."</p>
                    <div class="grid gap-4 sm:grid-cols-2">
                        <NumberField label="Messages per visitor per minute" name="per_visitor_minute" value=p.per_visitor_minute result />
                        <NumberField label="Messages per visitor per day" name="per_visitor_day" value=p.per_visitor_day result />
                        <NumberField label="Messages per address per day" name="per_address_day" value=p.per_address_day result />
                        <NumberField label="Messages to the bot per day" name="per_bot_day" value=p.per_bot_day result />
                        <NumberField label="Messages to the bot per month" name="per_bot_month" value=p.per_bot_month result />
                    </div>
                    <div>
                        <label for="share-limit_message" class="block text-sm font-medium">"Message when a limit is reached"</label>
                        <input id="share-limit_message" name="limit_message" class="input mt-1 w-full" maxlength=super::LIMIT_MESSAGE_MAX value=p.limit_message.clone()
                            aria-describedby="share-limit_message-error" />
                        <p id="share-limit_message-error" class="text-sm text-red-600 dark:text-red-400" role="alert">{move || message_error.get()}</p>
                    </div>
                </section>

                <section class="card space-y-4">
                    <h2 class="section-title">"Visitor appearance"</h2>
                    <p class="text-sm text-slate-500">"Name, avatar, colour, welcome message and suggested questions come from the bot's settings."</p>
                    <label class="flex items-center gap-3 text-sm">
                        <input type="checkbox" name="show_sources" value="on" class="accent-indigo-600" checked=p.show_sources />
                        "Show sources to visitors (document title and the cited passage)"
                    </label>
                    <label class="flex items-center gap-3 text-sm">
                        <input type="checkbox" name="open_on_load" value="on" class="accent-indigo-600" checked=p.open_on_load />
                        "Open the widget when the page loads"
                    </label>
                    <label class="flex items-center gap-3 text-sm">
                        <input type="checkbox" name="indexable" value="on" class="accent-indigo-600" checked=p.indexable />
                        "Let search engines index the share page"
                    </label>
                    <div>
                        <label for="share-widget_position" class="block text-sm font-medium">"Widget position"</label>
                        <select id="share-widget_position" name="widget_position" class="input mt-1">
                            <option value="right" selected=p.widget_position == "right">"Bottom right"</option>
                            <option value="left" selected=p.widget_position == "left">"Bottom left"</option>
                        </select>
                    </div>
                </section>
                <FormError result />
                <SubmitButton label="Save sharing settings" pending_label="Saving…" pending=save.pending() class="btn-primary" />
            </ActionForm>
            <aside class="lg:sticky lg:top-20 self-start space-y-2">
                <p class="text-sm font-medium text-slate-500">"What a visitor sees"</p>
                <Show when=published fallback=|| view! { <p class="card text-sm text-slate-500">"Publish the bot to preview its share page."</p> }>
                    <iframe title="Share page preview" src=move || share_url.get() class="w-full h-[36rem] rounded-xl border border-slate-200 dark:border-slate-800 bg-white"></iframe>
                </Show>
            </aside>
        </div>
    }
}
