use leptos::prelude::*;

/// What a page shows when it has nothing yet: what this place is for and what to do next.
#[component]
pub fn EmptyState(
    title: &'static str,
    body: &'static str,
    #[prop(optional)] action_label: Option<&'static str>,
    #[prop(optional)] action_href: Option<&'static str>,
) -> impl IntoView {
    view! {
        <div class="rounded-2xl border border-dashed border-slate-300 dark:border-slate-700 p-10 text-center">
            <h2 class="text-lg font-semibold">{title}</h2>
            <p class="mt-2 text-slate-600 dark:text-slate-400 max-w-md mx-auto">{body}</p>
            {action_href.map(|href| view! {
                <a href=href class="btn-primary mt-6 inline-flex">{action_label.unwrap_or("Get started")}</a>
            })}
        </div>
    }
}
