//! "Forgot your password?": a single-use link by mail. The link carries 256 random bits; the
//! database keeps only their SHA-256, valid for `mail.reset_link_minutes`. Asking for a link
//! answers the same whether or not an account uses the address (no account discovery), and the
//! mail leaves on its own task (from a durable outbox, `reset_mail`) so the answer's timing
//! says nothing either. Using the link sets
//! the password, ends every session and every other link of the account, and lifts its
//! sign-in lock.

use super::rate_limit::{self, Limit};
use crate::error::AppError;
use crate::features::auth::{Email, Password};
use crate::server::state::AppState;
use sha2::{Digest, Sha256};
use uuid::Uuid;

pub const UNAVAILABLE: &str = "This server cannot send mail, so it cannot send reset links. Ask its operator to reset your password.";
pub const DEAD_LINK: &str = "This reset link has expired or was already used. Ask for a new one.";

fn token_hash(token: &str) -> Option<Vec<u8>> {
    let token = token.trim();
    (token.len() == 64 && token.bytes().all(|b| b.is_ascii_hexdigit())).then(|| Sha256::digest(token.to_ascii_lowercase().as_bytes()).to_vec())
}

/// Records a link for the account using `email` (if any) and mails it. Throttled per client
/// address and per submitted address, whether or not it has an account.
pub async fn request(state: &AppState, email: &str, client_ip: &str) -> Result<(), AppError> {
    if state.mailer.is_none() {
        return Err(AppError::Forbidden(UNAVAILABLE.into()));
    }
    let email = Email::parse(email)?;
    let mail = &state.settings.mail;
    let (ip_key, account_key) = (format!("reset-ip:{client_ip}"), format!("reset:{}", email.as_str()));
    rate_limit::begin(
        &state.db,
        &[
            Limit { key: &ip_key, max: mail.max_resets_per_ip, window_secs: mail.reset_window_secs },
            Limit { key: &account_key, max: mail.max_resets_per_account, window_secs: mail.reset_window_secs },
        ],
    )
    .await?
    .keep();
    let user: Option<Uuid> = sqlx::query_scalar("SELECT id FROM users WHERE email = $1 AND disabled_at IS NULL").bind(email.as_str()).fetch_optional(&state.db).await?;
    let Some(user) = user else {
        tracing::info!("password reset asked for an address without an (enabled) account");
        return Ok(());
    };
    super::reset_mail::promise(state, user).await
}

/// Whether `token` is a live link, for the page that asks for the new password.
pub async fn is_live(state: &AppState, token: &str) -> Result<bool, AppError> {
    let Some(hash) = token_hash(token) else { return Ok(false) };
    Ok(sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM password_resets r JOIN users u ON u.id = r.user_id
                         WHERE r.token_hash = $1 AND r.used_at IS NULL AND r.expires_at > now() AND u.disabled_at IS NULL)",
    )
    .bind(hash)
    .fetch_one(&state.db)
    .await?)
}

/// Uses the link: sets the password (under the usual rules), ends the account's sessions and
/// other links, and returns the account to sign in.
pub async fn complete(state: &AppState, token: &str, new_password: &str) -> Result<Uuid, AppError> {
    let dead = || AppError::Invalid { field: None, message: DEAD_LINK.into() };
    let hash = token_hash(token).ok_or_else(dead)?;
    let db = &state.db;
    let (user, email): (Uuid, String) = sqlx::query_as(
        "SELECT u.id, u.email FROM password_resets r JOIN users u ON u.id = r.user_id
          WHERE r.token_hash = $1 AND r.used_at IS NULL AND r.expires_at > now() AND u.disabled_at IS NULL",
    )
    .bind(&hash)
    .fetch_optional(db)
    .await?
    .ok_or_else(dead)?;
    let email = Email::parse(&email)?;
    let new = Password::parse(new_password, state.settings.auth.password_min_length, &email)?;
    let hashed = state.passwords.hash(&new).await?;
    let mut tx = db.begin().await?;
    // Claimed here, not at the look-up above: of two submissions of one link, one wins.
    let claimed = sqlx::query("UPDATE password_resets SET used_at = now() WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now()").bind(&hash).execute(&mut *tx).await?;
    if claimed.rows_affected() == 0 {
        return Err(dead());
    }
    sqlx::query("UPDATE users SET password_hash = $2, updated_at = now() WHERE id = $1").bind(user).bind(&hashed.0).execute(&mut *tx).await?;
    sqlx::query("DELETE FROM password_resets WHERE user_id = $1 AND used_at IS NULL").bind(user).execute(&mut *tx).await?;
    sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(user).execute(&mut *tx).await?;
    sqlx::query("DELETE FROM auth_failures WHERE key = $1").bind(rate_limit::account_key(email.as_str())).execute(&mut *tx).await?;
    tx.commit().await?;
    tracing::info!(user_id = %user, "password reset by mailed link");
    Ok(user)
}
