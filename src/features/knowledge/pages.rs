//! The Knowledge page of a bot: add documents, watch them move through the pipeline, read
//! their chunks, and try keyword retrieval in the playground.

use super::{
    document_chunks, search_knowledge, list_documents, AddQa, AddText, AddUrl, DeleteDocument, DocumentSummary,
    ReprocessDocument, SetDocumentEnabled,
};
use crate::error::AppError;
use crate::ui::{error_for, use_toasts, EmptyState, FormError, SubmitButton, TextArea, TextField};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

#[component]
pub fn KnowledgePage() -> impl IntoView {
    let params = use_params_map();
    let bot_id = Memo::new(move |_| params.read().get("id").unwrap_or_default());
    let toasts = use_toasts();
    let changed = RwSignal::new(0u32);
    let bump = move || changed.update(|n| *n += 1);

    let add_text = ServerAction::<AddText>::new();
    let add_qa = ServerAction::<AddQa>::new();
    let add_url = ServerAction::<AddUrl>::new();
    let delete = ServerAction::<DeleteDocument>::new();
    let toggle = ServerAction::<SetDocumentEnabled>::new();
    let retry = ServerAction::<ReprocessDocument>::new();
    let docs = Resource::new(
        move || (bot_id.get(), changed.get(), add_text.version().get(), add_qa.version().get(), add_url.version().get(), delete.version().get(), toggle.version().get(), retry.version().get()),
        |(id, ..)| list_documents(id),
    );
    Effect::new(move |_| {
        let added = [add_text.value().get(), add_qa.value().get(), add_url.value().get()].into_iter().map(|v| v.map(|r| r.map(|_| ())));
        for result in added.chain([delete.value().get()]) {
            if let Some(Err(e)) = result {
                if e.field().is_none() {
                    toasts.error(e.to_string());
                }
            }
        }
    });

    // While anything is still in the pipeline, look again every second.
    Effect::new(move |_| {
        let busy = docs.get().and_then(Result::ok).is_some_and(|d| d.iter().any(|d| d.status.in_progress()));
        if busy {
            set_timeout(bump, std::time::Duration::from_millis(1000));
        }
    });

    view! {
        <Title text="Knowledge" />
        <div class="flex items-center gap-3 mb-6 flex-wrap">
            <a href=move || format!("/bots/{}", bot_id.get()) class="btn-ghost">"← Bot settings"</a>
            <h1 class="text-2xl font-semibold">"Knowledge"</h1>
        </div>
        <div class="grid gap-6 lg:grid-cols-[1fr_24rem]">
            <div class="space-y-6">
                <Uploader bot_id on_done=move || bump() />
                <section class="card">
                    <h2 class="section-title mb-4">"Documents"</h2>
                    <Transition fallback=|| view! { <p class="text-slate-500">"Loading documents…"</p> }>
                        {move || Suspend::new(async move {
                            let docs = docs.await?;
                            Ok::<_, AppError>(if docs.is_empty() {
                                view! { <EmptyState title="No knowledge yet" body="Upload files, paste text, or add questions with their answers. The bot answers from what you add here." /> }.into_any()
                            } else {
                                view! {
                                    <ul class="divide-y divide-slate-200 dark:divide-slate-800" data-testid="document-list">
                                        {docs.into_iter().map(|doc| view! { <DocumentRow doc delete toggle retry /> }).collect_view()}
                                    </ul>
                                }.into_any()
                            })
                        })}
                    </Transition>
                </section>
            </div>
            <div class="space-y-6">
                <section class="card">
                    <h2 class="section-title mb-4">"Web page"</h2>
                    <ActionForm action=add_url attr:class="space-y-3">
                        <input type="hidden" name="bot_id" value=move || bot_id.get() />
                        <TextField label="Address" name="url" kind="url" required=true hint="The page's main text is kept; fetch it again with Retry."
                            error=error_for(add_url.value(), "url") />
                        <SubmitButton label="Add page" pending_label="Adding…" pending=add_url.pending() class="btn-primary" />
                    </ActionForm>
                </section>
                <section class="card">
                    <h2 class="section-title mb-4">"Paste text"</h2>
                    <ActionForm action=add_text attr:class="space-y-3">
                        <input type="hidden" name="bot_id" value=move || bot_id.get() />
                        <TextField label="Title" name="title" required=true error=error_for(add_text.value(), "name") />
                        <TextArea label="Text (Markdown headings become sections)" name="text" rows=6 required=true
                            error=error_for(add_text.value(), "text") />
                        <SubmitButton label="Add text" pending_label="Adding…" pending=add_text.pending() class="btn-primary" />
                    </ActionForm>
                </section>
                <section class="card">
                    <h2 class="section-title mb-4">"Question and answer"</h2>
                    <ActionForm action=add_qa attr:class="space-y-3">
                        <input type="hidden" name="bot_id" value=move || bot_id.get() />
                        <TextField label="Question" name="question" required=true error=error_for(add_qa.value(), "question") />
                        <TextArea label="Answer" name="answer" rows=3 required=true error=error_for(add_qa.value(), "answer") />
                        <FormError result=add_qa.value() />
                        <SubmitButton label="Add Q&A" pending_label="Adding…" pending=add_qa.pending() class="btn-primary" />
                    </ActionForm>
                </section>
                <Playground bot_id />
            </div>
        </div>
    }
}

#[component]
fn Uploader(bot_id: Memo<String>, #[prop(into)] on_done: Callback<()>) -> impl IntoView {
    let toasts = use_toasts();
    let uploading = RwSignal::new(false);
    let dragging = RwSignal::new(false);
    #[cfg(feature = "hydrate")]
    let send = move |files: web_sys::FileList| {
        let Ok(form) = web_sys::FormData::new() else { return };
        let _ = form.append_with_str("bot_id", &bot_id.get_untracked());
        for i in 0..files.length() {
            if let Some(file) = files.get(i) {
                let _ = form.append_with_blob_and_filename("file", &file, &file.name());
            }
        }
        uploading.set(true);
        leptos::task::spawn_local(async move {
            match super::upload_documents(form.into()).await {
                Ok(results) => {
                    for r in results {
                        match (r.error, r.already_present) {
                            (Some(e), _) => toasts.error(e),
                            (None, true) => toasts.success(format!("{} is already in this bot's knowledge.", r.name)),
                            (None, false) => toasts.success(format!("{} added.", r.name)),
                        }
                    }
                }
                Err(e) => toasts.error(e.to_string()),
            }
            uploading.set(false);
            on_done.run(());
        });
    };
    let on_pick = move |ev: leptos::ev::Event| {
        #[cfg(feature = "hydrate")]
        {
            use wasm_bindgen::JsCast;
            if let Some(input) = ev.target().and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok()) {
                if let Some(files) = input.files() {
                    send(files);
                }
                input.set_value("");
            }
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = ev;
    };
    #[cfg(not(feature = "hydrate"))]
    let _ = (bot_id, on_done, toasts); // only the browser uploads
    let on_drop = move |ev: leptos::ev::DragEvent| {
        ev.prevent_default();
        dragging.set(false);
        #[cfg(feature = "hydrate")]
        if let Some(files) = ev.data_transfer().and_then(|d| d.files()) {
            send(files);
        }
    };
    view! {
        <section
            class="card border-2 border-dashed text-center transition-colors"
            class:border-indigo-500=move || dragging.get()
            on:dragover=move |ev| { ev.prevent_default(); dragging.set(true); }
            on:dragleave=move |_| dragging.set(false)
            on:drop=on_drop
        >
            <p class="font-medium">"Drop files here"</p>
            <p class="text-sm text-slate-500 mt-1">"PDF, Word (DOCX), CSV, Markdown and plain text. PowerPoint, Excel and web pages are next."</p>
            <label class="btn-primary mt-4 cursor-pointer">
                {move || if uploading.get() { "Uploading…" } else { "Choose files" }}
                <input type="file" multiple class="sr-only" data-testid="file-input" on:change=on_pick />
            </label>
        </section>
    }
}

fn size_label(bytes: i64) -> String {
    match bytes {
        b if b < 1024 => format!("{b} B"),
        b if b < 1024 * 1024 => format!("{:.1} KB", b as f64 / 1024.0),
        b => format!("{:.1} MB", b as f64 / (1024.0 * 1024.0)),
    }
}

#[component]
fn DocumentRow(
    doc: DocumentSummary,
    delete: ServerAction<DeleteDocument>,
    toggle: ServerAction<SetDocumentEnabled>,
    retry: ServerAction<ReprocessDocument>,
) -> impl IntoView {
    let id = doc.id;
    let percent = (doc.progress * 100.0).round() as u32;
    // `?doc=…&chunk=…` (from an answer's trace) opens that document at that passage.
    let query = use_query_map();
    let wanted = query.with_untracked(|q| q.get("doc").is_some_and(|d| d == id.to_string()));
    let target: Option<i64> = if wanted { query.with_untracked(|q| q.get("chunk").and_then(|c| c.parse().ok())) } else { None };
    let show_chunks = RwSignal::new(wanted);
    let chunks = Resource::new(move || show_chunks.get().then_some(id), |id| async move {
        match id {
            Some(id) => document_chunks(id).await.map(Some),
            None => Ok(None),
        }
    });
    let failed = doc.status == super::DocStatus::Failed;
    let busy = doc.status.in_progress();
    let badge = if failed {
        "bg-red-100 text-red-800 dark:bg-red-950 dark:text-red-300"
    } else if busy {
        "bg-amber-100 text-amber-800 dark:bg-amber-950 dark:text-amber-300"
    } else {
        "bg-emerald-100 text-emerald-800 dark:bg-emerald-950 dark:text-emerald-300"
    };
    let counts = match (doc.char_count, doc.chunk_count) {
        (Some(chars), chunks) if !busy && !failed => match doc.page_count {
            Some(pages) => format!("{pages} pages · {chars} characters · {chunks} chunks"),
            None => format!("{chars} characters · {chunks} chunks"),
        },
        _ => String::new(),
    };
    view! {
        <li class="py-4" data-testid="document-row">
            <div class="flex items-start gap-3 flex-wrap">
                <div class="min-w-0 flex-1">
                    <p class="font-medium truncate" class:opacity-50=!doc.enabled>{doc.name.clone()}</p>
                    <p class="text-xs text-slate-500">{size_label(doc.size_bytes)} " · " {doc.source.clone()} {(!counts.is_empty()).then(|| format!(" · {counts}"))}</p>
                </div>
                <span class=format!("text-xs rounded-full px-2 py-0.5 {badge}") data-testid="document-status">
                    {doc.status.label()}
                </span>
            </div>
            <Show when=move || busy>
                <div class="mt-2 h-2 rounded-full bg-slate-200 dark:bg-slate-800 overflow-hidden" role="progressbar"
                    aria-valuemin="0" aria-valuemax="100" aria-valuenow=percent>
                    <div class="h-full bg-indigo-600 transition-all" style=format!("width: {percent}%")></div>
                </div>
                <p class="text-xs text-slate-500 mt-1">{percent} "%"</p>
            </Show>
            {doc.error.clone().map(|e| view! { <p class="mt-2 text-sm text-red-700 dark:text-red-400" role="alert">{e}</p> })}
            {(!busy && !doc.stage_ms.is_empty()).then(|| {
                let order = ["extracting", "chunking", "embedding", "indexing"];
                let times = order
                    .iter()
                    .filter_map(|stage| doc.stage_ms.get(*stage).map(|ms| format!("{stage} {ms} ms")))
                    .collect::<Vec<_>>()
                    .join(" · ");
                view! { <p class="mt-1 text-xs text-slate-400" data-testid="stage-times">{times}</p> }
            })}
            <div class="mt-2 flex gap-1 flex-wrap text-sm">
                <Show when=move || !busy && !failed>
                    <button type="button" class="btn-ghost" on:click=move |_| show_chunks.update(|s| *s = !*s)>
                        {move || if show_chunks.get() { "Hide chunks" } else { "View chunks" }}
                    </button>
                </Show>
                <Show when=move || failed>
                    <button type="button" class="btn-ghost" on:click=move |_| { retry.dispatch(ReprocessDocument { id }); }>"Retry"</button>
                </Show>
                <button type="button" class="btn-ghost" on:click=move |_| { toggle.dispatch(SetDocumentEnabled { id, enabled: !doc.enabled }); }>
                    {if doc.enabled { "Disable" } else { "Enable" }}
                </button>
                <button type="button" class="btn-ghost text-red-600 dark:text-red-400" on:click=move |_| { delete.dispatch(DeleteDocument { id }); }>"Delete"</button>
            </div>
            <Show when=move || show_chunks.get()>
                <Transition fallback=|| view! { <p class="text-sm text-slate-500">"Loading chunks…"</p> }>
                    {move || Suspend::new(async move {
                        let list = chunks.await?.unwrap_or_default();
                        if let Some(chunk) = target {
                            request_animation_frame(move || {
                                if let Some(el) = document().get_element_by_id(&format!("chunk-{chunk}")) {
                                    el.scroll_into_view();
                                }
                            });
                        }
                        Ok::<_, AppError>(view! {
                            <ol class="mt-3 space-y-2" data-testid="chunk-list">
                                {list.into_iter().map(|c| view! {
                                    <li
                                        id=format!("chunk-{}", c.id)
                                        class=if target == Some(c.id) { "rounded-lg bg-amber-50 dark:bg-amber-950 ring-2 ring-amber-400 p-3 text-sm" } else { "rounded-lg bg-slate-50 dark:bg-slate-950 p-3 text-sm" }
                                        aria-current=(target == Some(c.id)).then_some("true")
                                    >
                                        <p class="text-xs text-slate-500 mb-1">"#" {c.ordinal + 1} {c.page.map(|p| format!(" · page {p}"))} {(!c.heading_path.is_empty()).then(|| format!(" · {}", c.heading_path))}</p>
                                        <p class="whitespace-pre-wrap">{c.text}</p>
                                    </li>
                                }).collect_view()}
                            </ol>
                        })
                    })}
                </Transition>
            </Show>
        </li>
    }
}

#[component]
fn Playground(bot_id: Memo<String>) -> impl IntoView {
    let query = RwSignal::new(String::new());
    let search = Action::new(move |q: &String| search_knowledge(bot_id.get_untracked(), q.clone()));
    view! {
        <section class="card">
            <h2 class="section-title">"Retrieval playground"</h2>
            <p class="text-sm text-slate-500 mb-3">
                "Ask a question and see which passages the bot would find, best first: keyword and meaning (vector) matches fused by the bot's balance setting."
            </p>
            <form class="flex gap-2" on:submit=move |ev| { ev.prevent_default(); search.dispatch(query.get_untracked()); }>
                <input class="input" aria-label="Question to search for" placeholder="Ask a question…"
                    prop:value=move || query.get() on:input=move |ev| query.set(event_target_value(&ev)) />
                <button type="submit" class="btn-primary">"Search"</button>
            </form>
            <ol class="mt-4 space-y-2" data-testid="playground-results">
                {move || match search.value().get() {
                    None => ().into_any(),
                    Some(Err(e)) => view! { <li class="text-sm text-red-600">{e.to_string()}</li> }.into_any(),
                    Some(Ok(hits)) if hits.is_empty() => view! { <li class="text-sm text-slate-500">"No passage matches."</li> }.into_any(),
                    Some(Ok(hits)) => hits.into_iter().map(|h| view! {
                        <li class="rounded-lg bg-slate-50 dark:bg-slate-950 p-3 text-sm" data-testid="playground-hit">
                            <p class="text-xs text-slate-500 mb-1">
                                {h.chunk.document_name} {h.chunk.page.map(|p| format!(" · page {p}"))}
                                {(!h.chunk.heading_path.is_empty()).then(|| format!(" · {}", h.chunk.heading_path))}
                            </p>
                            <p class="text-xs text-slate-500 mb-1 flex gap-3" data-testid="playground-scores">
                                <span title="Fused score: 1 = first by both keyword and meaning">"fused " {format!("{:.3}", h.fused)}</span>
                                <span title="Keyword (BM25) score, 0–1: the share of the question's weight this passage matches">"keyword " {h.keyword.map(|s| format!("{s:.3}")).unwrap_or_else(|| "–".into())}</span>
                                <span title="Cosine similarity of meaning, −1–1">"vector " {h.vector.map(|s| format!("{s:.3}")).unwrap_or_else(|| "–".into())}</span>
                            </p>
                            <p class="line-clamp-4">{h.chunk.text}</p>
                        </li>
                    }).collect_view().into_any(),
                }}
            </ol>
        </section>
    }
}
