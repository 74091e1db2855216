//! Sign-in, sign-up and account settings. The forms are plain HTML forms posting to server
//! functions: opened directly, the signed-out pages are sent without WASM (app.rs,
//! `HTML_ONLY_PAGES`) and a failed post comes back with the error in the address, shown at
//! its field; inside the running app, errors show in place.

use super::{ChangePassword, CreateInvitation, DeleteAccount, ForgotPassword, ResetPassword, SignIn, SignUp, UpdateProfile, DISPLAY_NAME_MAX};
use crate::layout::UserResource;
use crate::ui::{error_for, use_toasts, FormError, SubmitButton, TextField, ThemeToggle};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
fn AuthCard(title: &'static str, children: Children) -> impl IntoView {
    view! {
        <div class="min-h-screen flex flex-col items-center justify-center px-4">
            <div class="absolute top-4 right-4"><ThemeToggle /></div>
            <a href="/" class="mb-8 text-2xl font-semibold tracking-tight">
                <span class="text-indigo-600 dark:text-indigo-400">"Chat"</span>"Sphere"
            </a>
            <div class="card w-full max-w-sm">
                <h1 class="text-xl font-semibold mb-6">{title}</h1>
                {children()}
            </div>
        </div>
    }
}

fn next_param() -> Signal<Option<String>> {
    let query = use_query_map();
    Signal::derive(move || query.read().get("next"))
}

#[component]
pub fn SignInPage() -> impl IntoView {
    let action = ServerAction::<SignIn>::new();
    let result = action.value();
    let next = next_param();
    let signup_href = move || match next.get() {
        Some(n) => format!("/signup?next={}", super::signin_url(&n).trim_start_matches("/signin?next=")),
        None => "/signup".into(),
    };
    view! {
        <Title text="Sign in" />
        <AuthCard title="Sign in">
            <ActionForm action attr:class="space-y-4">
                <input type="hidden" name="next" value=move || next.get().unwrap_or_default() />
                <TextField label="Email" name="email" kind="email" autocomplete="email" required=true error=error_for(result, "email") />
                <TextField label="Password" name="password" kind="password" autocomplete="current-password" required=true error=error_for(result, "password") />
                <FormError result />
                <SubmitButton label="Sign in" pending_label="Signing in…" pending=action.pending() />
            </ActionForm>
            <p class="mt-4 text-sm"><a class="link" href="/forgot-password">"Forgot your password?"</a></p>
            <p class="mt-6 text-sm text-slate-600 dark:text-slate-400">
                "New to ChatSphere? " <a class="link" href=signup_href>"Create an account"</a>
            </p>
        </AuthCard>
    }
}

#[component]
pub fn SignUpPage() -> impl IntoView {
    let action = ServerAction::<SignUp>::new();
    let result = action.value();
    let next = next_param();
    let query = use_query_map();
    let invite = Signal::derive(move || query.read().get("invite"));
    view! {
        <Title text="Create your account" />
        <AuthCard title="Create your account">
            <Show when=move || invite.get().is_some()>
                <p class="mb-4 text-sm text-slate-600 dark:text-slate-400">"You were invited: this link creates one account."</p>
            </Show>
            <ActionForm action attr:class="space-y-4">
                <input type="hidden" name="next" value=move || next.get().unwrap_or_default() />
                <input type="hidden" name="invite" value=move || invite.get().unwrap_or_default() />
                <TextField label="Email" name="email" kind="email" autocomplete="email" required=true error=error_for(result, "email") />
                <TextField label="Display name" name="display_name" autocomplete="name" required=true maxlength=DISPLAY_NAME_MAX error=error_for(result, "display_name") />
                <TextField label="Password" name="password" kind="password" autocomplete="new-password" required=true
                    hint="Longer is stronger: a few unrelated words make a good one."
                    error=error_for(result, "password") />
                <FormError result />
                <SubmitButton label="Create account" pending_label="Creating…" pending=action.pending() />
            </ActionForm>
            <p class="mt-6 text-sm text-slate-600 dark:text-slate-400">
                "Already have an account? " <a class="link" href="/signin">"Sign in"</a>
            </p>
        </AuthCard>
    }
}

#[component]
pub fn ForgotPasswordPage() -> impl IntoView {
    let action = ServerAction::<ForgotPassword>::new();
    let result = action.value();
    let query = use_query_map();
    let sent = move || matches!(result.get(), Some(Ok(()))) || query.read().get("sent").is_some();
    view! {
        <Title text="Reset your password" />
        <AuthCard title="Reset your password">
            <Show
                when=sent
                fallback=move || view! {
                    <p class="mb-4 text-sm text-slate-600 dark:text-slate-400">"Enter the email address of your account and we will mail you a link to choose a new password."</p>
                    <ActionForm action attr:class="space-y-4">
                        <TextField label="Email" name="email" kind="email" autocomplete="email" required=true error=error_for(result, "email") />
                        <FormError result />
                        <SubmitButton label="Send reset link" pending_label="Sending…" pending=action.pending() />
                    </ActionForm>
                }
            >
                <p role="status" class="text-sm">
                    "If an account uses that address, a link to choose a new password is on its way. It works once, within the hour; look in the spam folder too if it does not arrive."
                </p>
            </Show>
            <p class="mt-6 text-sm text-slate-600 dark:text-slate-400"><a class="link" href="/signin">"Back to sign in"</a></p>
        </AuthCard>
    }
}

#[component]
pub fn ResetPasswordPage() -> impl IntoView {
    let action = ServerAction::<ResetPassword>::new();
    let result = action.value();
    let query = use_query_map();
    let token = Signal::derive(move || query.read().get("token").unwrap_or_default());
    view! {
        <Title text="Choose a new password" />
        <AuthCard title="Choose a new password">
            <ActionForm action attr:class="space-y-4">
                <input type="hidden" name="token" value=move || token.get() />
                <TextField label="New password" name="password" kind="password" autocomplete="new-password" required=true
                    hint="Signs out every device where this account is signed in."
                    error=error_for(result, "password") />
                <FormError result />
                <SubmitButton label="Set password and sign in" pending_label="Saving…" pending=action.pending() />
            </ActionForm>
            <p class="mt-6 text-sm text-slate-600 dark:text-slate-400">
                "Link expired? " <a class="link" href="/forgot-password">"Ask for a new one"</a>
            </p>
        </AuthCard>
    }
}

#[component]
pub fn SettingsPage() -> impl IntoView {
    let user = expect_context::<UserResource>().0;
    let toasts = use_toasts();

    let profile = ServerAction::<UpdateProfile>::new();
    let password = ServerAction::<ChangePassword>::new();
    let delete = ServerAction::<DeleteAccount>::new();
    let confirming_delete = RwSignal::new(false);

    Effect::new(move |_| {
        if let Some(Ok(_)) = profile.value().get() {
            toasts.success("Profile saved.");
            user.refetch();
        }
    });
    Effect::new(move |_| {
        if let Some(Ok(ended)) = password.value().get() {
            let others = match ended {
                0 => String::new(),
                1 => " 1 other session was signed out.".into(),
                n => format!(" {n} other sessions were signed out."),
            };
            toasts.success(format!("Password changed.{others}"));
        }
    });

    // Awaited inside Suspense so that the server-rendered form is already filled in.
    let me = move || async move { user.await.ok().flatten() };

    view! {
        <Title text="Settings" />
        <h1 class="text-2xl font-semibold">"Account settings"</h1>
        <div class="mt-8 grid gap-6 max-w-2xl">
            <section class="card">
                <h2 class="section-title">"Profile"</h2>
                <Suspense>
                    {move || Suspend::new(async move {
                        let me = me().await;
                        let email = me.as_ref().map(|u| u.email.clone()).unwrap_or_default();
                        view! { <p class="text-sm text-slate-500 mb-4">"Signed in as " <span class="font-medium">{email}</span></p> }
                    })}
                </Suspense>
                <ActionForm action=profile attr:class="space-y-4">
                    <Suspense>
                        {move || Suspend::new(async move {
                            let name = me().await.map(|u| u.display_name).unwrap_or_default();
                            view! {
                                <TextField label="Display name" name="display_name" value=name
                                    required=true maxlength=DISPLAY_NAME_MAX error=error_for(profile.value(), "display_name") />
                            }
                        })}
                    </Suspense>
                    <FormError result=profile.value() />
                    <SubmitButton label="Save profile" pending_label="Saving…" pending=profile.pending() class="btn-primary" />
                </ActionForm>
            </section>

            <section class="card">
                <h2 class="section-title">"API keys"</h2>
                <p class="text-sm text-slate-500 mb-4">"Let your own programs chat with your bots and manage their knowledge, over the ChatSphere API or any OpenAI client."</p>
                <a href="/settings/api-keys" class="btn-ghost">"Manage API keys"</a>
            </section>

            <section class="card">
                <h2 class="section-title">"Password"</h2>
                <p class="text-sm text-slate-500 mb-4">"Changing it signs you out everywhere else."</p>
                <ActionForm action=password attr:class="space-y-4">
                    <TextField label="Current password" name="current_password" kind="password" autocomplete="current-password"
                        required=true error=error_for(password.value(), "current_password") />
                    <TextField label="New password" name="new_password" kind="password" autocomplete="new-password"
                        required=true error=error_for(password.value(), "new_password") />
                    <FormError result=password.value() />
                    <SubmitButton label="Change password" pending_label="Changing…" pending=password.pending() class="btn-primary" />
                </ActionForm>
            </section>

            <InvitationPanel />

            <section class="card border-red-200 dark:border-red-900">
                <h2 class="section-title text-red-700 dark:text-red-400">"Delete account"</h2>
                <p class="text-sm text-slate-600 dark:text-slate-400 mb-4">
                    "Deletes your account and everything in it: bots, documents, conversations and analytics. This cannot be undone."
                </p>
                <Show
                    when=move || confirming_delete.get()
                    fallback=move || view! {
                        <button type="button" class="btn-danger" on:click=move |_| confirming_delete.set(true)>"Delete my account…"</button>
                    }
                >
                    <ActionForm action=delete attr:class="space-y-4">
                        <TextField label="Type your password to confirm" name="password" kind="password" autocomplete="current-password"
                            required=true error=error_for(delete.value(), "password") />
                        <FormError result=delete.value() />
                        <div class="flex gap-2">
                            <SubmitButton label="Delete everything" pending_label="Deleting…" pending=delete.pending() class="btn-danger" />
                            <button type="button" class="btn-ghost" on:click=move |_| confirming_delete.set(false)>"Cancel"</button>
                        </div>
                    </ActionForm>
                </Show>
            </section>
        </div>
    }
}

/// On invite-only servers, any user can invite someone: one link, one account. The mode is
/// asked for after hydration (an effect), so the server-rendered page and the hydrated one are
/// the same whatever the answer: a second resource on this page hydrated unreliably.
#[component]
fn InvitationPanel() -> impl IntoView {
    let invite_only = RwSignal::new(false);
    Effect::new(move |_| {
        leptos::task::spawn_local(async move {
            if let Ok(mode) = super::registration_mode().await {
                invite_only.set(mode == "invite");
            }
        });
    });
    let create = ServerAction::<CreateInvitation>::new();
    view! {
        <Show when=move || invite_only.get()>
            <section class="card">
                <h2 class="section-title">"Invite someone"</h2>
                <p class="text-sm text-slate-500 mb-4">"This server is invitation-only. A link admits one new account and expires after a week."</p>
                <ActionForm action=create attr:class="space-y-4">
                    <FormError result=create.value() />
                    <SubmitButton label="Create invitation link" pending_label="Creating…" pending=create.pending() class="btn-primary" />
                </ActionForm>
                {move || match create.value().get() {
                    Some(Ok(link)) => Some(view! {
                        <label class="block mt-4 text-sm font-medium" for="invitation-link">"Invitation link (copy and send it)"</label>
                        <input id="invitation-link" class="input mt-1 w-full" readonly=true value=link />
                    }),
                    _ => None,
                }}
            </section>
        </Show>
    }
}
