//! Pages load lazily, in six groups that `cargo leptos build --split` makes WASM chunks of: a
//! first visit downloads the frame and one group, not every page, and the server preloads the
//! group of the page it renders.
//!
//! Why groups and not one chunk per page: wasm-split gives every set of pages sharing
//! code its own file, and per page that made 50–137 files per first visit. Over HTTP/1.1 (six
//! connections) on a "Fast 4G" link that cost more time than the bytes saved: the chat page
//! became interactive in 5.7 s instead of 1.9 s (end2end/benchmarks/first-load.mjs). A few
//! split points make a handful of files.

use crate::features::analytics::AnalyticsPage;
use crate::features::auth::ForgotPasswordPage;
use crate::features::auth::ResetPasswordPage;
use crate::features::auth::SettingsPage;
use crate::features::auth::SignInPage;
use crate::features::auth::SignUpPage;
use crate::features::bots::BotEditorPage;
use crate::features::bots::BotsPage;
use crate::features::chat::ChatPage;
use crate::features::dashboard::DashboardPage;
use crate::features::developer::ApiKeysPage;
use crate::features::developer::DevelopersPage;
use crate::features::inbox::InboxPage;
use crate::features::knowledge::KnowledgePage;
use crate::features::public::SharePage;
use leptos::prelude::*;
use leptos_router::LazyRoute;

/// A route whose view is one page of a lazily loaded group. `preload` is the group's loader
/// (`#[lazy] fn g` defines `__preload_g` in the browser build): the router awaits it before
/// hydrating, so the page's code is there when the server's HTML is taken over.
macro_rules! page_route {
    ($route:ident => $group:ident($page:expr), $preload:ident) => {
        pub struct $route;

        impl LazyRoute for $route {
            fn data() -> Self {
                $route
            }
            async fn view(_this: Self) -> AnyView {
                $group($page).await
            }
            async fn preload() {
                #[cfg(target_arch = "wasm32")]
                $preload().await;
            }
        }
    };
}

#[derive(Clone, Copy)]
#[repr(u8)]
enum PublicPage {
    SignIn,
    SignUp,
    ForgotPassword,
    ResetPassword,
}

/// The pages a signed-out visitor sees.
#[leptos::lazy]
fn public(page: PublicPage) -> AnyView {
    match page {
        PublicPage::SignIn => view! { <SignInPage /> }.into_any(),
        PublicPage::SignUp => view! { <SignUpPage /> }.into_any(),
        PublicPage::ForgotPassword => view! { <ForgotPasswordPage /> }.into_any(),
        PublicPage::ResetPassword => view! { <ResetPasswordPage /> }.into_any(),
    }
}
page_route!(SignIn => public(PublicPage::SignIn), __preload_public);
page_route!(SignUp => public(PublicPage::SignUp), __preload_public);
page_route!(ForgotPassword => public(PublicPage::ForgotPassword), __preload_public);
page_route!(ResetPassword => public(PublicPage::ResetPassword), __preload_public);

#[derive(Clone, Copy)]
#[repr(u8)]
enum HomePage {
    Dashboard,
    Bots,
}

/// Where a signed-in owner lands: the dashboard and the list of bots.
#[leptos::lazy]
fn home(page: HomePage) -> AnyView {
    match page {
        HomePage::Dashboard => view! { <DashboardPage /> }.into_any(),
        HomePage::Bots => view! { <BotsPage /> }.into_any(),
    }
}
page_route!(Dashboard => home(HomePage::Dashboard), __preload_home);
page_route!(Bots => home(HomePage::Bots), __preload_home);

#[derive(Clone, Copy)]
#[repr(u8)]
enum AccountPage {
    Settings,
    ApiKeys,
    Developers,
}

/// The account's settings, API keys and the developer reference.
#[leptos::lazy]
fn account(page: AccountPage) -> AnyView {
    match page {
        AccountPage::Settings => view! { <SettingsPage /> }.into_any(),
        AccountPage::ApiKeys => view! { <ApiKeysPage /> }.into_any(),
        AccountPage::Developers => view! { <DevelopersPage /> }.into_any(),
    }
}
page_route!(Settings => account(AccountPage::Settings), __preload_account);
page_route!(ApiKeys => account(AccountPage::ApiKeys), __preload_account);
page_route!(Developers => account(AccountPage::Developers), __preload_account);

#[derive(Clone, Copy)]
#[repr(u8)]
enum InsightPage {
    Analytics,
    Inbox,
    Share,
}

/// How bots are used: analytics, the conversations inbox, and publishing.
#[leptos::lazy]
fn insight(page: InsightPage) -> AnyView {
    match page {
        InsightPage::Analytics => view! { <AnalyticsPage /> }.into_any(),
        InsightPage::Inbox => view! { <InboxPage /> }.into_any(),
        InsightPage::Share => view! { <SharePage /> }.into_any(),
    }
}
page_route!(Analytics => insight(InsightPage::Analytics), __preload_insight);
page_route!(Inbox => insight(InsightPage::Inbox), __preload_insight);
page_route!(Share => insight(InsightPage::Share), __preload_insight);

#[derive(Clone, Copy)]
#[repr(u8)]
enum BotSetupPage {
    BotEditor,
    Knowledge,
}

/// Setting one bot up: its editor and its knowledge.
#[leptos::lazy]
fn bot_setup(page: BotSetupPage) -> AnyView {
    match page {
        BotSetupPage::BotEditor => view! { <BotEditorPage /> }.into_any(),
        BotSetupPage::Knowledge => view! { <KnowledgePage /> }.into_any(),
    }
}
page_route!(BotEditor => bot_setup(BotSetupPage::BotEditor), __preload_bot_setup);
page_route!(Knowledge => bot_setup(BotSetupPage::Knowledge), __preload_bot_setup);

#[derive(Clone, Copy)]
#[repr(u8)]
enum ChatPage {
    Chat,
}

/// Talking to one bot.
#[leptos::lazy]
fn chat(page: ChatPage) -> AnyView {
    match page {
        ChatPage::Chat => view! { <ChatPage /> }.into_any(),
    }
}
page_route!(Chat => chat(ChatPage::Chat), __preload_chat);
