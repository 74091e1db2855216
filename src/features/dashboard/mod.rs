//! The signed-in landing page.

use crate::features::bots::BotList;
use crate::layout::UserResource;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn DashboardPage() -> impl IntoView {
    let user = expect_context::<UserResource>().0;
    view! {
        <Title text="Dashboard" />
        <h1 class="text-2xl font-semibold" data-testid="dashboard-heading">
            // Awaited inside Suspense, so the server-rendered page already has the name.
            <Suspense fallback=|| "Welcome">
                {move || Suspend::new(async move {
                    let name = user.await.ok().flatten().map(|u| u.display_name).unwrap_or_default();
                    format!("Welcome, {name}")
                })}
            </Suspense>
        </h1>
        <p class="mt-1 text-slate-600 dark:text-slate-400">"Your chatbots, what they know, and how people use them."</p>
        <div class="mt-8">
            <BotList />
        </div>
    }
}
