//! The Analytics page: choose a bot (or all) and a date range; see activity, quality, speed,
//! usage and cost, cited and never-cited documents, and the questions the bots could not
//! answer, each with a one-click "Add an answer". Figures load in the browser, which knows
//! its time zone; days are cut there.

use super::{answer_unanswered, change, export_analytics, Report, ReportQuery, UnansweredGroup};
#[cfg(feature = "hydrate")]
use super::{analytics_report, unanswered_questions};
use crate::error::AppError;
use crate::ui::{download, use_toasts, LineChart, Series};
use chrono::NaiveDate;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

/// Today in the browser's time zone, and that zone's name.
#[cfg(feature = "hydrate")]
fn browser_today() -> (NaiveDate, String) {
    let now = js_sys::Date::new_0();
    let today = NaiveDate::from_ymd_opt(now.get_full_year() as i32, now.get_month() + 1, now.get_date()).unwrap_or_default();
    let zone = js_sys::Intl::DateTimeFormat::new(&js_sys::Array::new(), &js_sys::Object::new()).resolved_options();
    let zone = js_sys::Reflect::get(&zone, &"timeZone".into()).ok().and_then(|z| z.as_string()).unwrap_or_else(|| "UTC".into());
    (today, zone)
}

#[component]
pub fn AnalyticsPage() -> impl IntoView {
    let params = use_query_map();
    let bot = RwSignal::new(params.with_untracked(|p| p.get("bot")).filter(|b| !b.is_empty()));
    let range = RwSignal::new(None::<(NaiveDate, NaiveDate)>);
    let zone = RwSignal::new(None::<String>);
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        let (today, tz) = browser_today();
        range.set(Some((today - chrono::Duration::days(29), today)));
        zone.set(Some(tz));
    });
    let query = Memo::new(move |_| {
        let (from, to) = range.get()?;
        Some(ReportQuery { bot: bot.get(), from, to, time_zone: zone.get()? })
    });
    // Loaded from the browser only (the server does not know the zone): the page renders
    // "Loading" on the server and fills in once hydrated. A response for a query that is no
    // longer the current one is dropped.
    let report = RwSignal::new(None::<Result<Report, AppError>>);
    let unanswered = RwSignal::new(None::<Result<Vec<UnansweredGroup>, AppError>>);
    let refresh_unanswered = RwSignal::new(0u32);
    #[cfg(feature = "hydrate")]
    {
        let current = move |q: &ReportQuery| query.with_untracked(|now| now.as_ref() == Some(q));
        Effect::new(move |_| {
            let Some(q) = query.get() else { return };
            leptos::task::spawn_local(async move {
                let got = analytics_report(q.clone()).await;
                if current(&q) {
                    report.set(Some(got));
                }
            });
        });
        Effect::new(move |_| {
            refresh_unanswered.track();
            let Some(q) = query.get() else { return };
            leptos::task::spawn_local(async move {
                let got = unanswered_questions(q.clone()).await;
                if current(&q) {
                    unanswered.set(Some(got));
                }
            });
        });
    }
    let toasts = use_toasts();
    let export = Action::new_local(move |kind: &&'static str| {
        let (q, kind) = (query.get_untracked(), *kind);
        async move {
            let Some(q) = q else { return };
            match export_analytics(q, kind.to_owned()).await {
                Ok(file) => download(&file.filename, &file.mime, &file.body),
                Err(e) => toasts.error(e.to_string()),
            }
        }
    });
    let set_date = move |which: usize, raw: String| {
        if let Ok(d) = NaiveDate::parse_from_str(&raw, "%Y-%m-%d") {
            range.update(|r| {
                if let Some((from, to)) = r {
                    if which == 0 { *from = d } else { *to = d }
                }
            });
        }
    };

    view! {
        <Title text="Analytics" />
        <div class="flex flex-wrap items-end gap-3 mb-6">
            <h1 class="text-2xl font-semibold mr-auto">"Analytics"</h1>
            <label class="text-sm">"Bot"
                <select class="input" aria-label="Bot" data-testid="analytics-bot"
                    on:change=move |ev| { let v = event_target_value(&ev); bot.set((!v.is_empty()).then_some(v)); }>
                    <option value="" selected=move || bot.with(|b| b.is_none())>"All bots"</option>
                    {move || report.with(|r| r.as_ref().and_then(|r| r.as_ref().ok()).map(|r| r.bots.clone())).map(|bots| bots.into_iter().map(|b| {
                        let id = b.public_id.clone();
                        view! { <option value=b.public_id selected=move || bot.with(|s| s.as_deref() == Some(id.as_str()))>{b.name}</option> }
                    }).collect_view())}
                </select>
            </label>
            <label class="text-sm">"From"
                <input type="date" class="input" aria-label="From" prop:value=move || range.get().map(|r| r.0.to_string()).unwrap_or_default()
                    on:change=move |ev| set_date(0, event_target_value(&ev)) />
            </label>
            <label class="text-sm">"To"
                <input type="date" class="input" aria-label="To" prop:value=move || range.get().map(|r| r.1.to_string()).unwrap_or_default()
                    on:change=move |ev| set_date(1, event_target_value(&ev)) />
            </label>
            <button class="btn-ghost" on:click=move |_| { export.dispatch("figures"); }>"Export figures (CSV)"</button>
            <button class="btn-ghost" on:click=move |_| { export.dispatch("conversations"); }>"Export conversations (CSV)"</button>
        </div>
        {move || match report.get() {
            Some(Ok(r)) => view! { <Figures report=r /> }.into_any(),
            Some(Err(e)) => view! { <p class="text-red-700" role="alert">{e.to_string()}</p> }.into_any(),
            _ => view! { <p class="text-slate-500">"Loading figures…"</p> }.into_any(),
        }}
        <section class="mt-8">
            <h2 class="text-lg font-semibold mb-1">"Unanswered questions"</h2>
            <p class="text-sm text-slate-500 mb-3">"Questions that got the fallback or only weak passages, grouped by meaning. Add an answer and it becomes part of the bot's knowledge."</p>
            {move || match unanswered.get() {
                Some(Ok(groups)) if groups.is_empty() => view! { <p class="text-sm text-slate-500" data-testid="no-unanswered">"None in this period."</p> }.into_any(),
                Some(Ok(groups)) => view! {
                    <ul class="space-y-3">
                        {groups.into_iter().map(|g| view! { <Unanswered group=g refresh=refresh_unanswered /> }).collect_view()}
                    </ul>
                }.into_any(),
                Some(Err(e)) => view! { <p class="text-red-700" role="alert">{e.to_string()}</p> }.into_any(),
                _ => view! { <p class="text-slate-500">"Loading…"</p> }.into_any(),
            }}
        </section>
    }
}

fn percent(v: Option<f64>) -> String {
    v.map(|v| format!("{:.0}%", v * 100.0)).unwrap_or_else(|| "—".into())
}

fn delta(now: i64, before: i64) -> String {
    match change(now, before) {
        Some(c) if c >= 0.0 => format!("▲ {:.0}% vs previous period", c * 100.0),
        Some(c) => format!("▼ {:.0}% vs previous period", -c * 100.0),
        None if now > 0 => "new this period".into(),
        None => "no activity".into(),
    }
}

#[component]
fn Stat(label: &'static str, value: String, note: String, id: &'static str) -> impl IntoView {
    view! {
        <div class="card p-4" data-testid=format!("stat-{id}")>
            <div class="text-xs uppercase tracking-wide text-slate-500">{label}</div>
            <div class="text-2xl font-semibold" data-testid="stat-value">{value}</div>
            <div class="text-xs text-slate-500">{note}</div>
        </div>
    }
}

/// Where people chatted: one bar per channel, as long as its share of the questions.
#[component]
fn ChannelBars(channels: Vec<crate::features::analytics::ChannelFigures>) -> impl IntoView {
    let most = channels.iter().map(|c| c.questions).max().unwrap_or(0).max(1) as f64;
    view! {
        <section class="card p-4 mt-4" data-testid="channels">
            <h2 class="text-sm font-medium mb-2">"Where people chat"</h2>
            {if channels.is_empty() {
                view! { <p class="text-sm text-slate-500">"No questions in this period."</p> }.into_any()
            } else {
                view! {
                    <ul class="space-y-2">
                        {channels.into_iter().map(|c| {
                            let label = match &c.key {
                                Some(key) => format!("{} · {key}", crate::features::inbox::channel_label(&c.channel)),
                                None => crate::features::inbox::channel_label(&c.channel).to_owned(),
                            };
                            let text = format!("{label}: {} visitor{}, {} conversation{}, {} question{}", c.visitors, if c.visitors == 1 { "" } else { "s" },
                                c.conversations, if c.conversations == 1 { "" } else { "s" }, c.questions, if c.questions == 1 { "" } else { "s" });
                            view! {
                                <li class="text-sm" data-testid="channel">
                                    <div class="flex justify-between"><span>{label}</span><span class="text-slate-500">{text.clone()}</span></div>
                                    <div class="h-2 rounded bg-slate-200 dark:bg-slate-700" role="img" aria-label=text>
                                        <div class="h-2 rounded bg-indigo-500" style=format!("width: {:.1}%", c.questions as f64 / most * 100.0)></div>
                                    </div>
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                }.into_any()
            }}
        </section>
    }
}

#[component]
fn Figures(report: Report) -> impl IntoView {
    let Report { totals: t, previous: p, days, usage, downvotes, top_documents, uncited_documents, channels, .. } = report;
    let labels: Vec<String> = days.iter().map(|d| d.day.format("%b %-d").to_string()).collect();
    let count = |f: fn(&crate::features::analytics::Day) -> i64| days.iter().map(|d| Some(f(d) as f64)).collect::<Vec<_>>();
    let ms = |f: fn(&crate::features::analytics::Day) -> Option<f64>| days.iter().map(f).collect::<Vec<_>>();
    let activity = vec![
        Series { name: "Conversations".into(), color: "#4f46e5", values: count(|d| d.conversations) },
        Series { name: "Messages".into(), color: "#0ea5e9", values: count(|d| d.messages) },
        Series { name: "Visitors".into(), color: "#f59e0b", values: count(|d| d.visitors) },
    ];
    let speed = vec![
        Series { name: "First token p50".into(), color: "#10b981", values: ms(|d| d.ttft_p50) },
        Series { name: "First token p95".into(), color: "#047857", values: ms(|d| d.ttft_p95) },
        Series { name: "Whole answer p50".into(), color: "#a855f7", values: ms(|d| d.total_p50) },
        Series { name: "Whole answer p95".into(), color: "#6b21a8", values: ms(|d| d.total_p95) },
    ];
    let rate_note = |now: Option<f64>, before: Option<f64>| match (now, before) {
        (Some(n), Some(b)) => format!("{:+.0} points vs previous period", (n - b) * 100.0),
        _ => String::new(),
    };
    let answered_share = t.answered_rate().unwrap_or(0.0);
    view! {
        <div class="grid gap-3 grid-cols-2 md:grid-cols-5">
            <Stat id="conversations" label="Conversations" value=t.conversations.to_string() note=delta(t.conversations, p.conversations) />
            <Stat id="messages" label="Messages" value=t.messages.to_string() note=delta(t.messages, p.messages) />
            <Stat id="visitors" label="Visitors" value=t.visitors.to_string() note=delta(t.visitors, p.visitors) />
            <Stat id="answered" label="Answered from knowledge" value=percent(t.answered_rate()) note=rate_note(t.answered_rate(), p.answered_rate()) />
            <Stat id="thumbs-up" label="Thumbs up" value=percent(t.thumbs_up_rate()) note=format!("{} up, {} down", t.thumbs_up, t.thumbs_down) />
        </div>
        <div class="grid gap-4 lg:grid-cols-2 mt-4">
            <LineChart id="activity" title="Activity per day".into() labels=labels.clone() series=activity />
            <LineChart id="speed" title="Answer speed per day (ms)".into() labels=labels series=speed unit=" ms" />
        </div>
        <ChannelBars channels />
        <div class="grid gap-4 lg:grid-cols-2 mt-4">
            <section class="card p-4">
                <h2 class="text-sm font-medium mb-2">"Answered from knowledge vs fallback"</h2>
                <div class="flex h-4 rounded overflow-hidden bg-slate-200 dark:bg-slate-700" role="img"
                    aria-label=format!("{} answered from knowledge, {} fallback", t.answered, t.fallback)>
                    <div class="bg-emerald-500" style=format!("width: {:.1}%", answered_share * 100.0)></div>
                    <div class="bg-amber-400 flex-1" style:display={if t.fallback > 0 { "block" } else { "none" }}></div>
                </div>
                <p class="text-xs text-slate-500 mt-1" data-testid="answered-split">{format!("{} answered from knowledge · {} fallback", t.answered, t.fallback)}</p>
                <h2 class="text-sm font-medium mt-4 mb-2">"Thumbs-down answers"</h2>
                {if downvotes.is_empty() {
                    view! { <p class="text-sm text-slate-500">"None in this period."</p> }.into_any()
                } else {
                    view! {
                        <ul class="space-y-2 text-sm">
                            {downvotes.into_iter().map(|d| view! {
                                <li class="border-l-2 border-red-400 pl-2" data-testid="downvote">
                                    <a class="font-medium hover:underline" href=format!("/bots/{}/chat?c={}", d.bot, d.conversation)>{d.question}</a>
                                    <span class="text-xs text-slate-500">{format!(" · {}", d.bot_name)}</span>
                                    {d.comment.map(|c| view! { <p class="text-slate-600 dark:text-slate-400">{format!("“{c}”")}</p> })}
                                </li>
                            }).collect_view()}
                        </ul>
                    }.into_any()
                }}
            </section>
            <section class="card p-4">
                <h2 class="text-sm font-medium mb-2">"Usage and estimated cost"</h2>
                <table class="w-full text-sm" data-testid="usage">
                    <thead><tr class="text-left text-xs text-slate-500"><th>"Model"</th><th class="text-right">"Answers"</th><th class="text-right">"Tokens in"</th><th class="text-right">"Tokens out"</th><th class="text-right">"Cost"</th></tr></thead>
                    <tbody>
                        {usage.into_iter().map(|u| view! {
                            <tr>
                                <td>{format!("{}/{}", u.provider, u.model)}</td>
                                <td class="text-right">{u.answers}</td>
                                <td class="text-right">{u.tokens_in}</td>
                                <td class="text-right">{u.tokens_out}</td>
                                <td class="text-right">{u.cost.map(|c| format!("${c:.4}")).unwrap_or_else(|| "—".into())}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
                <h2 class="text-sm font-medium mt-4 mb-2">"Most cited documents"</h2>
                <ol class="text-sm list-decimal ml-5" data-testid="top-documents">
                    {top_documents.into_iter().map(|d| view! { <li>{format!("{} ({}) — {} citation{}", d.document, d.bot_name, d.citations, if d.citations == 1 { "" } else { "s" })}</li> }).collect_view()}
                </ol>
                <h2 class="text-sm font-medium mt-4 mb-2">"Never cited in this period"</h2>
                {if uncited_documents.is_empty() {
                    view! { <p class="text-sm text-slate-500">"Every ready document was cited."</p> }.into_any()
                } else {
                    view! {
                        <ul class="text-sm" data-testid="uncited-documents">
                            {uncited_documents.into_iter().map(|d| view! { <li>{format!("{} ({})", d.document, d.bot_name)}</li> }).collect_view()}
                        </ul>
                    }.into_any()
                }}
            </section>
        </div>
    }
}

#[component]
fn Unanswered(group: UnansweredGroup, refresh: RwSignal<u32>) -> impl IntoView {
    let toasts = use_toasts();
    let open = RwSignal::new(false);
    let text = RwSignal::new(String::new());
    let g = StoredValue::new(group.clone());
    let save = Action::new(move |answer: &String| {
        let (g, answer) = (g.get_value(), answer.clone());
        async move { answer_unanswered(g.bot, g.example, answer, g.answers).await }
    });
    Effect::new(move |_| match save.value().get() {
        Some(Ok(doc)) => {
            toasts.success(format!("Added to the bot's knowledge as “{}”.", doc.name));
            refresh.update(|n| *n += 1);
        }
        Some(Err(e)) => toasts.error(e.to_string()),
        None => {}
    });
    let error = move || save.value().with(|r| match r {
        Some(Err(AppError::Invalid { message, .. })) => Some(message.clone()),
        _ => None,
    });
    view! {
        <li class="card p-3" data-testid="unanswered">
            <div class="flex items-start gap-3">
                <span class="rounded-full bg-amber-100 text-amber-800 text-xs font-semibold px-2 py-0.5" data-testid="unanswered-count">{format!("×{}", group.count)}</span>
                <div class="flex-1">
                    <p class="font-medium" data-testid="unanswered-example">{group.example.clone()}</p>
                    <p class="text-xs text-slate-500">{format!("{} · last asked {}", group.bot_name, group.newest_at.format("%Y-%m-%d %H:%M UTC"))}</p>
                    {(!group.variants.is_empty()).then(|| view! { <p class="text-xs text-slate-500">{format!("Also asked as: {}", group.variants.join(" · "))}</p> })}
                </div>
                <button class="btn-ghost" on:click=move |_| open.update(|o| *o = !*o)>"Add an answer"</button>
            </div>
            <Show when=move || open.get()>
                <form class="mt-2 space-y-2" on:submit=move |ev| { ev.prevent_default(); save.dispatch(text.get_untracked()); }>
                    <textarea class="input" rows="3" aria-label="Answer" placeholder="The answer the bot should give"
                        prop:value=move || text.get() on:input=move |ev| text.set(event_target_value(&ev))></textarea>
                    {move || error().map(|e| view! { <p class="text-sm text-red-700" role="alert">{e}</p> })}
                    <button type="submit" class="btn-primary" disabled=move || save.pending().get()>"Save answer"</button>
                </form>
            </Show>
        </li>
    }
}
