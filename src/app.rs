//! The document shell and the route table.

use crate::lazy_pages as page;
use crate::layout::{AppLayout, NotFoundPage};
use crate::ui::{provide_toasts, ToastHost, KEEP_FIELDS_SCRIPT, THEME_BOOT_SCRIPT};
use leptos::prelude::*;
use leptos_meta::{provide_meta_context, HashedStylesheet, MetaTags, Title};
use leptos_router::components::{ParentRoute, Route, Router, Routes};
use leptos_router::{path, Lazy, SsrMode};

/// Pages a signed-out visitor opens: plain HTML forms that post to their server functions
/// (see features/auth/pages.rs), so they are sent without the app's WASM and a first visit
/// downloads only the stylesheet. Once the app is running, navigating to them renders their
/// lazy chunk in the browser as before.
pub const HTML_ONLY_PAGES: [&str; 4] = ["/signin", "/signup", "/forgot-password", "/reset-password"];

pub fn shell(options: LeptosOptions) -> impl IntoView {
    let nonce = leptos::nonce::use_nonce();
    #[cfg(feature = "ssr")]
    let html_only = use_context::<http::request::Parts>().is_some_and(|request| HTML_ONLY_PAGES.contains(&request.uri.path()));
    #[cfg(not(feature = "ssr"))]
    let html_only = false;
    #[cfg(feature = "ssr")]
    if let (Some(nonce), Some(response)) = (&nonce, use_context::<leptos_axum::ResponseOptions>()) {
        let dev_reload = std::env::var_os("LEPTOS_WATCH").is_some();
        if let Ok(policy) = http::HeaderValue::from_str(&crate::server::security_headers::page_policy(nonce, dev_reload)) {
            response.insert_header(http::header::CONTENT_SECURITY_POLICY, policy);
        }
    }
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="color-scheme" content="light dark" />
                <script nonce=nonce.clone() inner_html=THEME_BOOT_SCRIPT></script>
                {html_only.then(|| view! { <script nonce=nonce inner_html=KEEP_FIELDS_SCRIPT></script> })}
                <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
                <AutoReload options=options.clone() />
                <HashedStylesheet options=options.clone() id="leptos" />
                {(!html_only).then(|| view! { <HydrationScripts options /> })}
                <MetaTags />
            </head>
            // `data-html-only` tells tests and tools that this page will not hydrate.
            <body data-html-only=html_only.then_some("") class="min-h-screen bg-slate-50 text-slate-900 dark:bg-slate-950 dark:text-slate-100 antialiased">
                <App />
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    provide_toasts();
    view! {
        <Title formatter=|page: String| if page.is_empty() { "ChatSphere".into() } else { format!("{page} · ChatSphere") } />
        <Router>
            <Routes fallback=NotFoundPage>
                <Route path=path!("/signin") view={Lazy::<page::SignIn>::new()} />
                <Route path=path!("/signup") view={Lazy::<page::SignUp>::new()} />
                <Route path=path!("/forgot-password") view={Lazy::<page::ForgotPassword>::new()} />
                <Route path=path!("/reset-password") view={Lazy::<page::ResetPassword>::new()} />
                // Async: the session is checked before any byte is sent, so a signed-out
                // visitor gets a real redirect to sign-in.
                <ParentRoute path=path!("") view=AppLayout ssr=SsrMode::Async>
                    <Route path=path!("") view={Lazy::<page::Dashboard>::new()} />
                    <Route path=path!("bots") view={Lazy::<page::Bots>::new()} />
                    <Route path=path!("bots/:id") view={Lazy::<page::BotEditor>::new()} />
                    <Route path=path!("bots/:id/knowledge") view={Lazy::<page::Knowledge>::new()} />
                    <Route path=path!("bots/:id/chat") view={Lazy::<page::Chat>::new()} />
                    <Route path=path!("bots/:id/share") view={Lazy::<page::Share>::new()} />
                    <Route path=path!("bots/:id/conversations") view={Lazy::<page::Inbox>::new()} />
                    <Route path=path!("analytics") view={Lazy::<page::Analytics>::new()} />
                    <Route path=path!("settings") view={Lazy::<page::Settings>::new()} />
                    <Route path=path!("settings/api-keys") view={Lazy::<page::ApiKeys>::new()} />
                    <Route path=path!("developers") view={Lazy::<page::Developers>::new()} />
                </ParentRoute>
            </Routes>
        </Router>
        <ToastHost />
    }
}
