//! Account server functions: authenticate, call the plain functions in `server`, answer
//! with wire types. Forms post here directly, so they also work before the WASM loads.

use super::CurrentUser;
use crate::error::AppError;
use leptos::prelude::*;

/// The signed-in user, or `None` for a visitor.
#[server(endpoint = "auth/current_user")]
pub async fn get_current_user() -> Result<Option<CurrentUser>, AppError> {
    Ok(super::server::request::current_user().await?.map(|r| r.user))
}

#[server(endpoint = "auth/sign_up")]
pub async fn sign_up(
    email: String,
    display_name: String,
    password: String,
    next: Option<String>,
    invite: Option<String>,
) -> Result<(), AppError> {
    use super::server::accounts::{self, SignUpForm};
    use super::server::request;
    let state = crate::server::state::app_state()?;
    let ip = request::client_ip(&state.settings);
    let form = SignUpForm { email: &email, display_name: &display_name, password: &password, invite: invite.as_deref() };
    let user = accounts::sign_up_visitor(&state.db, &state.settings.auth, &state.passwords, form, &ip).await?;
    request::start_session(&state, user.id, next.as_deref()).await
}

/// How people join this server, for the sign-up page and the invitation panel.
#[server(endpoint = "auth/registration")]
pub async fn registration_mode() -> Result<String, AppError> {
    Ok(crate::server::state::app_state()?.settings.auth.registration.clone())
}

/// A single-use invitation link (invite-only servers): any signed-in user may make one.
#[server(endpoint = "auth/create_invitation")]
pub async fn create_invitation() -> Result<String, AppError> {
    let caller = super::server::require_user().await?;
    let settings = &caller.state.settings;
    if settings.auth.registration != "invite" {
        return Err(AppError::Forbidden("This server does not use invitations.".into()));
    }
    let token = super::server::invitations::create(&caller.state.db, Some(caller.user.id), settings.auth.invitation_ttl_hours).await?;
    Ok(super::server::invitations::link(&settings.server.public_url, &token))
}

#[server(endpoint = "auth/sign_in")]
pub async fn sign_in(email: String, password: String, next: Option<String>) -> Result<(), AppError> {
    use super::server::{accounts, request};
    let state = crate::server::state::app_state()?;
    let ip = request::client_ip(&state.settings);
    let user = accounts::authenticate(&state.db, &state.settings.auth, &state.passwords, &email, &password, &ip).await?;
    request::start_session(&state, user.id, next.as_deref()).await
}

/// Mails a single-use reset link when an account uses `email`; answers the same either way.
#[server(endpoint = "auth/forgot_password")]
pub async fn forgot_password(email: String) -> Result<(), AppError> {
    let state = crate::server::state::app_state()?;
    let ip = super::server::request::client_ip(&state.settings);
    super::server::password_reset::request(&state, &email, &ip).await?;
    // The page says the link is on its way when its address says so: a plain form post (the
    // page is served without WASM) lands there, and the app navigates there too.
    leptos_axum::redirect("/forgot-password?sent=1");
    Ok(())
}

/// Sets a new password with a mailed link, ends every other session, and signs in.
#[server(endpoint = "auth/reset_password")]
pub async fn reset_password(token: String, password: String) -> Result<(), AppError> {
    let state = crate::server::state::app_state()?;
    let user = super::server::password_reset::complete(&state, &token, &password).await?;
    super::server::request::start_session(&state, user, None).await
}

#[server(endpoint = "auth/sign_out")]
pub async fn sign_out() -> Result<(), AppError> {
    use super::server::{request, sessions};
    if let Some(caller) = request::current_user().await? {
        sessions::end(&caller.state.db, &caller.session).await?;
    }
    let state = crate::server::state::app_state()?;
    request::clear_session_cookie(&state.settings);
    leptos_axum::redirect("/signin");
    Ok(())
}

#[server(endpoint = "auth/update_profile")]
pub async fn update_profile(display_name: String) -> Result<CurrentUser, AppError> {
    let caller = super::server::require_user().await?;
    super::server::accounts::update_display_name(&caller.state.db, caller.user.id, &display_name).await
}

/// Returns how many other sessions were signed out.
#[server(endpoint = "auth/change_password")]
pub async fn change_password(current_password: String, new_password: String) -> Result<u64, AppError> {
    let caller = super::server::require_user().await?;
    let rules = &caller.state.settings.auth;
    super::server::accounts::change_password(
        &caller.state.db,
        rules,
        &caller.state.passwords,
        caller.user.id,
        &current_password,
        &new_password,
        &caller.session,
    )
    .await
}

#[server(endpoint = "auth/delete_account")]
pub async fn delete_account(password: String) -> Result<(), AppError> {
    let caller = super::server::require_user().await?;
    super::server::accounts::delete_account(&caller.state.db, &caller.state.settings.auth, &caller.state.passwords, caller.user.id, &password).await?;
    super::server::request::clear_session_cookie(&caller.state.settings);
    leptos_axum::redirect("/signup");
    Ok(())
}
