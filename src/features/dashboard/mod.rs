//! The signed-in landing pages. Bots and Analytics show their empty states until those
//! features land.

use crate::layout::UserResource;
use crate::ui::EmptyState;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn DashboardPage() -> impl IntoView {
    let user = expect_context::<UserResource>().0;
    let name = move || user.get().and_then(|r| r.ok().flatten()).map(|u| u.display_name).unwrap_or_default();
    view! {
        <Title text="Dashboard" />
        <h1 class="text-2xl font-semibold" data-testid="dashboard-heading">"Welcome, " {name}</h1>
        <p class="mt-1 text-slate-600 dark:text-slate-400">"Your chatbots, what they know, and how people use them."</p>
        <div class="mt-8 grid gap-4 sm:grid-cols-3">
            <Stat label="Bots" value="0" />
            <Stat label="Documents" value="0" />
            <Stat label="Conversations (30 days)" value="0" />
        </div>
        <div class="mt-8">
            <EmptyState
                title="No bots yet"
                body="A bot answers questions from the documents and pages you give it. Create one, add its knowledge, and try it in the chat."
                action_label="Go to Bots"
                action_href="/bots"
            />
        </div>
    }
}

#[component]
fn Stat(label: &'static str, value: &'static str) -> impl IntoView {
    view! {
        <div class="card">
            <p class="text-sm text-slate-500">{label}</p>
            <p class="mt-1 text-3xl font-semibold tabular-nums">{value}</p>
        </div>
    }
}

#[component]
pub fn BotsPage() -> impl IntoView {
    view! {
        <Title text="Bots" />
        <h1 class="text-2xl font-semibold mb-8">"Bots"</h1>
        <EmptyState
            title="You have no bots yet"
            body="Bots are created here: give one a name and a persona, then upload the documents it should answer from. Bot creation is the next part of ChatSphere being built."
        />
    }
}

#[component]
pub fn AnalyticsPage() -> impl IntoView {
    view! {
        <Title text="Analytics" />
        <h1 class="text-2xl font-semibold mb-8">"Analytics"</h1>
        <EmptyState
            title="Nothing to measure yet"
            body="Once your bots have conversations, this page shows how often they are used, how well they answer, and which questions they could not answer."
        />
    }
}
