//! The document shell and the route table.

use crate::features::auth::{ForgotPasswordPage, ResetPasswordPage, SettingsPage, SignInPage, SignUpPage};
use crate::features::bots::{BotEditorPage, BotsPage};
use crate::features::analytics::AnalyticsPage;
use crate::features::dashboard::DashboardPage;
use crate::features::chat::ChatPage;
use crate::features::knowledge::KnowledgePage;
use crate::features::inbox::InboxPage;
use crate::features::public::SharePage;
use crate::layout::{AppLayout, NotFoundPage};
use crate::ui::{provide_toasts, ToastHost, THEME_BOOT_SCRIPT};
use leptos::prelude::*;
use leptos_meta::{provide_meta_context, HashedStylesheet, MetaTags, Title};
use leptos_router::components::{ParentRoute, Route, Router, Routes};
use leptos_router::{path, SsrMode};

pub fn shell(options: LeptosOptions) -> impl IntoView {
    let nonce = leptos::nonce::use_nonce();
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
                <script nonce=nonce inner_html=THEME_BOOT_SCRIPT></script>
                <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
                <AutoReload options=options.clone() />
                <HashedStylesheet options=options.clone() id="leptos" />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body class="min-h-screen bg-slate-50 text-slate-900 dark:bg-slate-950 dark:text-slate-100 antialiased">
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
                <Route path=path!("/signin") view=SignInPage />
                <Route path=path!("/signup") view=SignUpPage />
                <Route path=path!("/forgot-password") view=ForgotPasswordPage />
                <Route path=path!("/reset-password") view=ResetPasswordPage />
                // Async: the session is checked before any byte is sent, so a signed-out
                // visitor gets a real redirect to sign-in.
                <ParentRoute path=path!("") view=AppLayout ssr=SsrMode::Async>
                    <Route path=path!("") view=DashboardPage />
                    <Route path=path!("bots") view=BotsPage />
                    <Route path=path!("bots/:id") view=BotEditorPage />
                    <Route path=path!("bots/:id/knowledge") view=KnowledgePage />
                    <Route path=path!("bots/:id/chat") view=ChatPage />
                    <Route path=path!("bots/:id/share") view=SharePage />
                    <Route path=path!("bots/:id/conversations") view=InboxPage />
                    <Route path=path!("analytics") view=AnalyticsPage />
                    <Route path=path!("settings") view=SettingsPage />
                    <Route path=path!("settings/api-keys") view=crate::features::developer::ApiKeysPage />
                    <Route path=path!("developers") view=crate::features::developer::DevelopersPage />
                </ParentRoute>
            </Routes>
        </Router>
        <ToastHost />
    }
}
