//! The signed-in frame: the session gate, navigation, user menu, and the 404 page.

use crate::error::AppError;
use crate::features::auth::{get_current_user, signin_url, CurrentUser, SignOut};
use crate::ui::ThemeToggle;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::{Outlet, Redirect, A};
use leptos_router::hooks::use_location;

/// The signed-in user, for pages inside the layout; refetch it after changing the profile.
#[derive(Clone, Copy)]
pub struct UserResource(pub Resource<Result<Option<CurrentUser>, AppError>>);

#[component]
pub fn AppLayout() -> impl IntoView {
    let user = Resource::new_blocking(|| (), |_| get_current_user());
    provide_context(UserResource(user));
    // The gate and the page are siblings, not nested: a page's own resources must not wait
    // inside this resource's Suspend, or hydration races between the two (leptos #3398).
    // SSR runs in Async mode, so the redirect is still decided before any byte is sent.
    view! {
        <SessionGate user />
        <Frame />
    }
}

/// Sends a signed-out visitor to sign-in, remembering where they were going.
#[component]
fn SessionGate(user: Resource<Result<Option<CurrentUser>, AppError>>) -> impl IntoView {
    let location = use_location();
    view! {
        <Suspense>
            {move || Suspend::new(async move {
                match user.await {
                    Ok(None) | Err(AppError::Unauthenticated) => {
                        let path = location.pathname.get_untracked();
                        let search = location.search.get_untracked();
                        let search = search.trim_start_matches('?');
                        let here = if search.is_empty() { path } else { format!("{path}?{search}") };
                        Some(view! { <Redirect path=signin_url(&here) /> }.into_any())
                    }
                    Err(error) => Some(view! { <ErrorPanel error /> }.into_any()),
                    Ok(Some(_)) => None,
                }
            })}
        </Suspense>
    }
}

#[component]
fn Frame() -> impl IntoView {
    let sign_out = ServerAction::<SignOut>::new();
    let user = expect_context::<UserResource>().0;
    view! {
        <div class="min-h-screen flex flex-col">
            <header class="border-b border-slate-200 dark:border-slate-800 bg-white/80 dark:bg-slate-900/80 backdrop-blur sticky top-0 z-40">
                <div class="mx-auto max-w-6xl px-4 h-14 flex items-center gap-4">
                    <A href="/" attr:class="font-semibold text-lg tracking-tight">
                        <span class="text-indigo-600 dark:text-indigo-400">"Chat"</span>"Sphere"
                    </A>
                    <nav class="flex gap-1 text-sm overflow-x-auto" aria-label="Main">
                        <NavLink href="/" label="Dashboard" />
                        <NavLink href="/bots" label="Bots" />
                        <NavLink href="/analytics" label="Analytics" />
                        <NavLink href="/developers" label="API" />
                        <NavLink href="/settings" label="Settings" />
                    </nav>
                    <div class="ml-auto flex items-center gap-2">
                        <ThemeToggle />
                        <details class="relative" data-testid="user-menu">
                            <summary class="btn-ghost cursor-pointer list-none" data-testid="user-name">
                                <Suspense fallback=|| "…">{move || Suspend::new(async move { user.await.ok().flatten().map(|u| u.display_name) })}</Suspense>
                            </summary>
                            <div class="absolute right-0 mt-2 w-48 rounded-xl border border-slate-200 dark:border-slate-800 bg-white dark:bg-slate-900 shadow-lg p-1">
                                <a href="/settings" class="menu-item">"Account settings"</a>
                                <ActionForm action=sign_out>
                                    <button type="submit" class="menu-item w-full text-left">"Sign out"</button>
                                </ActionForm>
                            </div>
                        </details>
                    </div>
                </div>
            </header>
            <main class="mx-auto w-full max-w-6xl px-4 py-8 flex-1">
                <ErrorBoundary fallback=|errors| view! {
                    <div class="rounded-xl bg-red-50 dark:bg-red-950 p-6" role="alert">
                        <h2 class="font-semibold">"This page could not be shown."</h2>
                        <ul class="mt-2 text-sm">
                            {move || errors.get().into_iter().map(|(_, e)| view! { <li>{e.to_string()}</li> }).collect_view()}
                        </ul>
                    </div>
                }>
                    <Outlet />
                </ErrorBoundary>
            </main>
        </div>
    }
}

#[component]
fn NavLink(href: &'static str, label: &'static str) -> impl IntoView {
    let location = use_location();
    let active = move || {
        let path = location.pathname.get();
        if href == "/" { path == "/" } else { path.starts_with(href) }
    };
    view! {
        <a href=href class="nav-link" class:nav-link-active=active aria-current=move || active().then_some("page")>
            {label}
        </a>
    }
}

#[component]
fn ErrorPanel(error: AppError) -> impl IntoView {
    view! {
        <div class="mx-auto max-w-md mt-24 rounded-xl bg-red-50 dark:bg-red-950 p-6 text-center" role="alert">
            <h1 class="font-semibold">"ChatSphere could not load this page."</h1>
            <p class="mt-2 text-sm">{error.to_string()}</p>
            <a href="" class="btn-primary mt-4 inline-flex">"Try again"</a>
        </div>
    }
}

#[component]
pub fn NotFoundPage() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <Title text="Not found" />
        <div class="mx-auto max-w-md mt-24 text-center">
            <p class="text-6xl font-bold text-indigo-600 dark:text-indigo-400">"404"</p>
            <h1 class="mt-4 text-xl font-semibold">"This page does not exist."</h1>
            <p class="mt-2 text-slate-600 dark:text-slate-400">"The link may be old, or the address mistyped."</p>
            <a href="/" class="btn-primary mt-6 inline-flex">"Back to the dashboard"</a>
        </div>
    }
}
