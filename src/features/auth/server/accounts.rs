//! Account lifecycle: sign-up, credential checks with throttling, profile and password
//! changes, and deletion (which takes every row the user owns with it, by foreign keys).

use super::rate_limit::{self, Limit};
use super::{invitations, password::Passwords, sessions::{self, SessionToken}};
use crate::error::AppError;
use crate::features::auth::{CurrentUser, DisplayName, Email, Password};
use super::settings::AuthSettings;
use sqlx::PgPool;
use tracing::instrument;
use uuid::Uuid;

/// Creates an account (the operator's path, and the one the web sign-up ends in). No
/// registration rules apply here: see `sign_up_visitor`.
#[instrument(skip_all)]
pub async fn sign_up(
    db: &PgPool,
    rules: &AuthSettings,
    passwords: &Passwords,
    email: &str,
    display_name: &str,
    password: &str,
) -> Result<CurrentUser, AppError> {
    register(db, rules, passwords, email, display_name, password, None).await
}

/// What a stranger fills in on the sign-up page.
pub struct SignUpForm<'a> {
    pub email: &'a str,
    pub display_name: &'a str,
    pub password: &'a str,
    pub invite: Option<&'a str>,
}

/// Sign-up from the web: the server's registration mode decides whether it is allowed, and
/// each client address may make only so many attempts per window (a flood of sign-ups costs
/// a password hash each).
pub async fn sign_up_visitor(db: &PgPool, rules: &AuthSettings, passwords: &Passwords, form: SignUpForm<'_>, client_ip: &str) -> Result<CurrentUser, AppError> {
    let invite = form.invite.map(str::trim).filter(|i| !i.is_empty());
    match (rules.registration.as_str(), invite) {
        ("closed", _) => return Err(AppError::Forbidden("Sign-up is closed on this server; ask its operator for an account.".into())),
        ("invite", None) => {
            return Err(AppError::Forbidden("Sign-up on this server needs an invitation link; ask someone who has an account for one.".into()))
        }
        _ => {}
    }
    let key = rate_limit::signup_key(client_ip);
    rate_limit::begin(db, &[Limit { key: &key, max: rules.max_signups_per_ip, window_secs: rules.signup_window_secs }]).await?.keep();
    // An invitation is used only where one is required; an open server ignores it.
    let invite = invite.filter(|_| rules.registration == "invite");
    register(db, rules, passwords, form.email, form.display_name, form.password, invite).await
}

async fn register(db: &PgPool, rules: &AuthSettings, passwords: &Passwords, email: &str, display_name: &str, password: &str, invite: Option<&str>) -> Result<CurrentUser, AppError> {
    let email = Email::parse(email)?;
    let display_name = DisplayName::parse(display_name)?;
    let password = Password::parse(password, rules.password_min_length, &email)?;
    let hash = passwords.hash(&password).await?;
    let mut tx = db.begin().await?;
    let inserted: Option<Uuid> = sqlx::query_scalar(
        "INSERT INTO users (email, display_name, password_hash) VALUES ($1, $2, $3)
         ON CONFLICT (email) DO NOTHING RETURNING id",
    )
    .bind(email.as_str())
    .bind(display_name.as_str())
    .bind(&hash.0)
    .fetch_optional(&mut *tx)
    .await?;
    let id = inserted.ok_or_else(|| {
        AppError::invalid("email", "An account with this email already exists. Sign in instead.")
    })?;
    if let Some(token) = invite {
        invitations::redeem(&mut tx, token, id).await?;
    }
    tx.commit().await?;
    tracing::info!(user_id = %id, "account created");
    Ok(CurrentUser { id, email: email.as_str().to_owned(), display_name: display_name.as_str().to_owned() })
}

/// Checks an email and password. Every failure is `WrongCredentials`, whatever the cause;
/// too many recent failures for the account or the address give `RateLimited` before the
/// password is even looked at.
#[instrument(skip_all)]
pub async fn authenticate(
    db: &PgPool,
    rules: &AuthSettings,
    passwords: &Passwords,
    email: &str,
    password: &str,
    client_ip: &str,
) -> Result<CurrentUser, AppError> {
    let normalised = email.trim().to_lowercase();
    let account_key = rate_limit::account_key(&normalised);
    let ip_key = rate_limit::ip_key(client_ip);
    let window_secs = rules.failure_window_secs;
    let attempt = rate_limit::begin(
        db,
        &[
            Limit { key: &account_key, max: rules.max_failures_per_account, window_secs },
            Limit { key: &ip_key, max: rules.max_failures_per_ip, window_secs },
        ],
    )
    .await?;

    let row: Option<(Uuid, String, String, String, bool)> = sqlx::query_as(
        "SELECT id, email, display_name, password_hash, disabled_at IS NOT NULL FROM users WHERE email = $1",
    )
    .bind(&normalised)
    .fetch_optional(db)
    .await?;
    // A disabled account is checked like any other (same time, same answer) and never let in.
    let stored = row.as_ref().map(|r| r.3.clone());
    let disabled = row.as_ref().is_some_and(|r| r.4);
    if password.chars().count() <= crate::features::auth::PASSWORD_MAX && passwords.verify(stored, password).await && !disabled {
        let (id, email, display_name, _, _) = row.expect("verify succeeds only for a real account");
        attempt.withdraw(db, Some(&account_key)).await?;
        return Ok(CurrentUser { id, email, display_name });
    }
    attempt.keep();
    tracing::info!("sign-in failed");
    Err(AppError::WrongCredentials)
}

pub async fn update_display_name(db: &PgPool, user_id: Uuid, display_name: &str) -> Result<CurrentUser, AppError> {
    let name = DisplayName::parse(display_name)?;
    let row: Option<(Uuid, String, String)> = sqlx::query_as(
        "UPDATE users SET display_name = $2, updated_at = now() WHERE id = $1
         RETURNING id, email, display_name",
    )
    .bind(user_id)
    .bind(name.as_str())
    .fetch_optional(db)
    .await?;
    let (id, email, display_name) = row.ok_or_else(|| AppError::NotFound("Account".into()))?;
    Ok(CurrentUser { id, email, display_name })
}

/// Re-checks the signed-in user's password, throttled like sign-in: a stolen session must not
/// become a way to guess the password.
async fn check_current_password(db: &PgPool, rules: &AuthSettings, passwords: &Passwords, user_id: Uuid, current: &str) -> Result<Email, AppError> {
    let key = rate_limit::reauth_key(user_id);
    let attempt = rate_limit::begin(db, &[Limit { key: &key, max: rules.max_failures_per_account, window_secs: rules.failure_window_secs }]).await?;
    let row: Option<(String, String)> =
        sqlx::query_as("SELECT email, password_hash FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(db)
            .await?;
    let (email, hash) = row.ok_or(AppError::Unauthenticated)?;
    if !passwords.verify(Some(hash), current).await {
        attempt.keep();
        return Err(AppError::invalid("current_password", "Your current password is not correct."));
    }
    attempt.withdraw(db, Some(&key)).await?;
    Email::parse(&email)
}

/// Changes the password and ends every other session of the user, so a stolen session
/// dies with the old password. Returns how many sessions were ended.
#[instrument(skip_all, fields(user_id = %user_id))]
pub async fn change_password(
    db: &PgPool,
    rules: &AuthSettings,
    passwords: &Passwords,
    user_id: Uuid,
    current: &str,
    new: &str,
    keep: &SessionToken,
) -> Result<u64, AppError> {
    let email = check_current_password(db, rules, passwords, user_id, current).await?;
    let new = Password::parse(new, rules.password_min_length, &email)
        .map_err(|e| match e {
            AppError::Invalid { message, .. } => AppError::invalid("new_password", message),
            other => other,
        })?;
    let hash = passwords.hash(&new).await?;
    sqlx::query("UPDATE users SET password_hash = $2, updated_at = now() WHERE id = $1")
        .bind(user_id)
        .bind(&hash.0)
        .execute(db)
        .await?;
    sessions::end_others(db, user_id, keep).await
}

/// Deletes the account after re-checking the password. Everything the user owns references
/// `users` with `ON DELETE CASCADE`, so one statement removes it all.
#[instrument(skip_all, fields(user_id = %user_id))]
pub async fn delete_account(db: &PgPool, rules: &AuthSettings, passwords: &Passwords, user_id: Uuid, password: &str) -> Result<(), AppError> {
    check_current_password(db, rules, passwords, user_id, password).await.map_err(|e| match e {
        AppError::Invalid { .. } => AppError::invalid("password", "That password is not correct."),
        other => other,
    })?;
    // The vector store forgets the account's bots (their namespaces) through the outbox,
    // queued in the same statement.
    let forget = crate::providers::vectors::outbox::forget_bots_sql("b");
    sqlx::query(&format!("WITH b AS (SELECT id FROM bots WHERE owner_id = $1), q AS ({forget}) DELETE FROM users WHERE id = $1"))
        .bind(user_id)
        .execute(db)
        .await?;
    tracing::info!("account deleted");
    Ok(())
}
