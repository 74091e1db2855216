//! "Why this answer?" for owners: what the answer's retrieval found, kept and dropped (and
//! why), the exact prompt, where the time went, and what the owner can do about it.

use crate::error::AppError;
use crate::features::analytics::answer_unanswered;
use crate::features::chat::{load_answer_trace, rerun_trace, AnswerTrace, RetrievalTrace, Role, TraceCandidate, TracePrompt, Verdict};
use crate::features::knowledge::set_document_enabled;
use crate::ui::use_toasts;
use leptos::html;
use leptos::prelude::*;
use leptos::task::spawn_local;
use uuid::Uuid;

/// The button under an answer, and the trace it opens.
#[component]
pub fn WhyThisAnswer(message_id: Uuid) -> impl IntoView {
    let open = RwSignal::new(false);
    view! {
        <button type="button" class="btn-ghost text-xs" aria-haspopup="dialog" data-testid="why-this-answer" on:click=move |_| open.set(true)>
            "Why this answer?"
        </button>
        <Show when=move || open.get()>
            <TraceDialog message_id open />
        </Show>
    }
}

#[component]
fn TraceDialog(message_id: Uuid, open: RwSignal<bool>) -> impl IntoView {
    let trace = Resource::new(|| (), move |_| load_answer_trace(message_id.to_string()));
    let close = NodeRef::<html::Button>::new();
    // Focused once the dialog is in the document.
    Effect::new(move |_| {
        if let Some(button) = close.get() {
            request_animation_frame(move || {
                let _ = button.focus();
            });
        }
    });
    view! {
        <div class="fixed inset-0 z-50 flex justify-end bg-slate-950/50" on:keydown=move |ev| if ev.key() == "Escape" { open.set(false) }>
            <div role="dialog" aria-modal="true" aria-labelledby="trace-title" class="h-full w-full max-w-4xl overflow-y-auto bg-white dark:bg-slate-900 p-6 shadow-xl" data-testid="trace">
                <div class="flex items-center gap-3 mb-4">
                    <h2 id="trace-title" class="text-xl font-semibold">"Why this answer?"</h2>
                    <button type="button" class="btn-ghost ml-auto" node_ref=close on:click=move |_| open.set(false)>"Close"</button>
                </div>
                <Suspense fallback=|| view! { <p class="text-slate-500">"Loading the trace…"</p> }>
                    {move || Suspend::new(async move {
                        match trace.await {
                            Ok(trace) => view! { <TraceBody trace message_id /> }.into_any(),
                            Err(e) => view! { <p class="text-red-700 dark:text-red-400" role="alert">{e.to_string()}</p> }.into_any(),
                        }
                    })}
                </Suspense>
            </div>
        </div>
    }
}

#[component]
fn TraceBody(trace: AnswerTrace, message_id: Uuid) -> impl IntoView {
    let a = &trace.answer;
    let model = match (&a.provider, &a.model) {
        (Some(p), Some(m)) => format!("{p} / {m}"),
        _ => "no model".into(),
    };
    let finish = a.finish_reason.map(|f| f.as_str().replace('_', " ")).unwrap_or_else(|| "—".into());
    let tokens = match (a.tokens_in, a.tokens_out) {
        (Some(i), Some(o)) => format!("{i} in · {o} out"),
        _ => "not reported".into(),
    };
    let cost = trace.cost.map(|c| format!("≈ ${c:.5}")).unwrap_or_else(|| "no price configured".into());
    let outcome = match (a.answered, a.error.clone()) {
        (_, Some(e)) => e,
        (Some(false), _) => "Nothing relevant enough was found: the bot's fallback message was given.".into(),
        (Some(true), _) => format!("Answered from {} passage(s).", a.sources.len()),
        _ => "Answered without passages.".into(),
    };
    let stages = trace.retrieval.as_ref().map(|r| {
        let t = r.timings;
        vec![
            ("Question embedding", Some(t.embed_ms)),
            ("Vector search", Some(t.vector_ms)),
            ("Keyword search", Some(t.keyword_ms)),
            ("Fusion and passages", Some(t.fusion_ms)),
            ("Retrieval, in all", Some(t.total_ms)),
            ("First word", a.ttft_ms.map(|v| v as f32)),
            ("Whole answer", a.total_ms.map(|v| v as f32)),
        ]
    });
    let bot = trace.bot_public_id.clone();
    view! {
        <section aria-label="Summary" class="grid gap-1 text-sm">
            <p><span class="text-slate-500">"Question: "</span><span data-testid="trace-question">{trace.question.clone()}</span></p>
            {trace.retrieval.as_ref().map(|r| view! {
                <p><span class="text-slate-500">"Searched for: "</span><span data-testid="trace-query">{r.query.clone()}</span>
                    {r.rewrite_note(&trace.question).map(|note| view! { <span class="text-slate-500" data-testid="trace-rewrite">{format!(" ({note})")}</span> })}
                </p>
            })}
            <p data-testid="trace-outcome">{outcome}</p>
            <p><span class="text-slate-500">"Model: "</span>{model}<span class="text-slate-500">" · finish: "</span><span data-testid="trace-finish">{finish}</span>
                <span class="text-slate-500">" · tokens: "</span>{tokens}<span class="text-slate-500">" · cost: "</span>{cost}</p>
        </section>
        {stages.map(|stages| view! { <Timings stages /> })}
        {match trace.retrieval.clone() {
            None => view! {
                <p class="mt-4 text-slate-500" data-testid="trace-missing">"No trace was kept: this answer ended before its search did, was given before traces were kept, or traces are off on this server."</p>
            }.into_any(),
            Some(r) => view! {
                <h3 class="mt-6 font-semibold">"Passages found"</h3>
                <p class="text-xs text-slate-500">
                    {format!("Minimum relevance {:.2} · top {} kept · keyword weight {:.2}. Relevance is the vector similarity, or the keyword score when only keyword search found the passage.", r.min_relevance, r.top_k, r.keyword_weight)}
                </p>
                <Candidates retrieval=r.clone() bot=bot.clone() testid="trace-candidates" />
                <PromptView prompt=r.prompt.clone() />
            }.into_any(),
        }}
        <Act trace=trace.clone() message_id />
    }
}

/// Each stage's milliseconds as a bar, so the slow one stands out.
#[component]
fn Timings(stages: Vec<(&'static str, Option<f32>)>) -> impl IntoView {
    let max = stages.iter().filter_map(|(_, v)| *v).fold(1.0_f32, f32::max);
    view! {
        <h3 class="mt-6 font-semibold">"Where the time went"</h3>
        <table class="mt-2 w-full text-sm" data-testid="trace-timings">
            <tbody>
                {stages.into_iter().map(|(name, ms)| {
                    let width = ms.map(|v| (v / max * 100.0).max(0.5)).unwrap_or(0.0);
                    view! {
                        <tr>
                            <th scope="row" class="w-44 py-0.5 pr-2 text-left font-normal text-slate-600 dark:text-slate-400">{name}</th>
                            <td class="w-24 pr-2 text-right tabular-nums">{ms.map(|v| format!("{v:.1} ms")).unwrap_or_else(|| "—".into())}</td>
                            <td><div class="h-3 rounded bg-indigo-500" style=format!("width: {width:.1}%")></div></td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}

fn score(value: Option<f32>, rank: Option<u32>) -> String {
    match (value, rank) {
        (Some(v), Some(r)) => format!("{v:.3} (#{r})"),
        (Some(v), None) => format!("{v:.3}"),
        _ => "—".into(),
    }
}

/// Every candidate, best fused first, with what was done with it; each can be opened in its
/// document, and its document disabled.
#[component]
fn Candidates(retrieval: RetrievalTrace, bot: String, testid: &'static str) -> impl IntoView {
    let toasts = use_toasts();
    let disabled = RwSignal::new(Vec::<Uuid>::new());
    let disable = move |document: Uuid, name: String| {
        spawn_local(async move {
            match set_document_enabled(document, false).await {
                Ok(_) => {
                    disabled.update(|d| d.push(document));
                    toasts.success(format!("{name} is disabled: no answer will use it until you enable it again."));
                }
                Err(e) => toasts.error(e.to_string()),
            }
        });
    };
    let (min, top_k) = (retrieval.min_relevance, retrieval.top_k);
    if retrieval.candidates.is_empty() {
        return view! { <p class="mt-2 text-sm text-slate-500" data-testid=testid>"Neither search found anything."</p> }.into_any();
    }
    view! {
        <div class="mt-2 overflow-x-auto">
            <table class="w-full text-sm" data-testid=testid>
                <thead class="text-left text-xs text-slate-500">
                    <tr>
                        <th scope="col" class="pr-2">"Rank"</th>
                        <th scope="col" class="pr-2">"Passage"</th>
                        <th scope="col" class="pr-2">"Keyword"</th>
                        <th scope="col" class="pr-2">"Vector"</th>
                        <th scope="col" class="pr-2">"Fused"</th>
                        <th scope="col">"What happened"</th>
                    </tr>
                </thead>
                <tbody>
                    {retrieval.candidates.into_iter().map(|c: TraceCandidate| {
                        let kept = matches!(c.verdict, Verdict::Kept { .. });
                        let verdict = c.verdict.explain(c.relevance, min, top_k);
                        let kind = match c.verdict { Verdict::Kept { .. } => "kept", Verdict::BelowMinimum => "below_minimum", Verdict::BeyondTopK => "beyond_top_k" };
                        let document = c.document_id;
                        let name = c.location.split(" · ").next().unwrap_or_default().to_owned();
                        let open = format!("/bots/{bot}/knowledge?doc={document}&chunk={}", c.chunk_id);
                        let label = format!("Disable the document {name}");
                        view! {
                            <tr class=if kept { "align-top border-t border-slate-200 dark:border-slate-800 bg-emerald-50 dark:bg-emerald-950" } else { "align-top border-t border-slate-200 dark:border-slate-800" } data-testid="trace-candidate" data-verdict=kind>
                                <td class="py-2 pr-2 tabular-nums">{c.fused_rank}</td>
                                <td class="py-2 pr-2 min-w-[16rem]">
                                    <p class="font-medium">{c.location.clone()}</p>
                                    <p class="text-xs text-slate-600 dark:text-slate-400">{c.snippet.clone()}</p>
                                    <p class="mt-1 flex gap-2 text-xs">
                                        <a class="underline" href=open>"Open in document"</a>
                                        <Show
                                            when=move || !disabled.with(|d| d.contains(&document))
                                            fallback=|| view! { <span class="text-slate-500">"Document disabled"</span> }
                                        >
                                            <button type="button" class="underline" aria-label=label.clone() on:click={
                                                let name = name.clone();
                                                move |_| disable(document, name.clone())
                                            }>"Disable document"</button>
                                        </Show>
                                    </p>
                                </td>
                                <td class="py-2 pr-2 tabular-nums whitespace-nowrap">{score(c.keyword, c.keyword_rank)}</td>
                                <td class="py-2 pr-2 tabular-nums whitespace-nowrap">{score(c.vector, c.vector_rank)}</td>
                                <td class="py-2 pr-2 tabular-nums">{format!("{:.3}", c.fused)}</td>
                                <td class="py-2" data-testid="trace-verdict">{verdict}</td>
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
fn PromptView(prompt: Option<TracePrompt>) -> impl IntoView {
    let Some(p) = prompt else {
        return view! {
            <p class="mt-6 text-sm" data-testid="trace-no-prompt">
                "No model was asked: no passage reached the minimum relevance and the bot answers only from its knowledge, so its fallback message was given."
            </p>
        }
        .into_any();
    };
    let block = "mt-1 whitespace-pre-wrap break-words rounded bg-slate-100 dark:bg-slate-800 p-2 text-xs";
    view! {
        <details class="mt-6" data-testid="trace-prompt">
            <summary class="cursor-pointer font-semibold">"The prompt, exactly as the model received it"</summary>
            <h4 class="mt-2 text-sm text-slate-500">"System"</h4>
            <pre class=block data-testid="prompt-system">{p.system}</pre>
            {p.history.into_iter().map(|t| view! {
                <h4 class="mt-2 text-sm text-slate-500">{if t.role == Role::User { "Earlier question" } else { "Earlier answer" }}</h4>
                <pre class=block data-testid="prompt-history">{t.text}</pre>
            }).collect_view()}
            <h4 class="mt-2 text-sm text-slate-500">"Passages and question"</h4>
            <pre class=block data-testid="prompt-user">{p.user}</pre>
        </details>
    }
    .into_any()
}

/// What the owner can do from here: teach the bot a better answer, or search again now.
#[component]
fn Act(trace: AnswerTrace, message_id: Uuid) -> impl IntoView {
    let toasts = use_toasts();
    let better = RwSignal::new(String::new());
    let saving = RwSignal::new(false);
    let rerun = RwSignal::new(None::<Result<RetrievalTrace, AppError>>);
    let running = RwSignal::new(false);
    let (bot, question) = (trace.bot_public_id.clone(), trace.question.clone());
    let save = move |_| {
        let (bot, question, answer) = (bot.clone(), question.clone(), better.get_untracked());
        if answer.trim().is_empty() {
            return;
        }
        saving.set(true);
        spawn_local(async move {
            match answer_unanswered(bot, question, answer, vec![message_id]).await {
                Ok(doc) => {
                    better.set(String::new());
                    toasts.success(format!("Saved as “{}”: the bot answers from it once it is processed.", doc.name));
                }
                Err(e) => toasts.error(e.to_string()),
            }
            saving.set(false);
        });
    };
    let again = move |_| {
        running.set(true);
        spawn_local(async move {
            rerun.set(Some(rerun_trace(message_id.to_string()).await));
            running.set(false);
        });
    };
    let bot = trace.bot_public_id.clone();
    view! {
        <section class="mt-8 border-t border-slate-200 dark:border-slate-800 pt-4" aria-label="Improve this answer">
            <label for="better-answer" class="block font-semibold">"Add a better answer"</label>
            <p class="text-xs text-slate-500">"Saved as a Q&A source of the bot for this question, like an answer to an unanswered question."</p>
            <textarea id="better-answer" rows="3" class="input mt-2" prop:value=move || better.get() on:input=move |ev| better.set(event_target_value(&ev))></textarea>
            <button type="button" class="btn-primary mt-2" disabled=move || saving.get() || better.with(|b| b.trim().is_empty()) on:click=save>"Save as Q&A"</button>
            <div class="mt-6 flex items-center gap-3">
                <button type="button" class="btn-ghost border border-slate-300 dark:border-slate-700" disabled=move || running.get() on:click=again>
                    "Search again with the current knowledge"
                </button>
                <Show when=move || running.get()><span class="text-sm text-slate-500">"Searching…"</span></Show>
            </div>
            {move || rerun.get().map(|r| match r {
                Err(e) => view! { <p class="mt-2 text-red-700 dark:text-red-400" role="alert">{e.to_string()}</p> }.into_any(),
                Ok(r) => view! {
                    <h3 class="mt-4 font-semibold">"Found now"</h3>
                    <Candidates retrieval=r bot=bot.clone() testid="trace-rerun" />
                }.into_any(),
            })}
        </section>
    }
}
