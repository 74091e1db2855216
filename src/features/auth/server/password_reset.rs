//! "Forgot your password?": a single-use link by mail. The link carries 256 random bits; the
//! database keeps only their SHA-256, valid for `mail.reset_link_minutes`. Asking for a link
//! answers the same whether or not an account uses the address (no account discovery), and the
//! mail leaves on its own task so the answer's timing says nothing either. Using the link sets
//! the password, ends every session and every other link of the account, and lifts its
//! sign-in lock.

use super::rate_limit::{self, Limit};
use super::sessions::SessionToken;
use super::password;
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

pub fn link(public_url: &str, token: &str) -> String {
    format!("{}/reset-password?token={token}", public_url.trim_end_matches('/'))
}

/// Records a link for the account using `email` (if any) and mails it. Throttled per client
/// address and per submitted address, whether or not it has an account.
pub async fn request(state: &AppState, email: &str, client_ip: &str) -> Result<(), AppError> {
    let mailer = state.mailer.clone().ok_or_else(|| AppError::Forbidden(UNAVAILABLE.into()))?;
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
    let token = SessionToken::generate();
    sqlx::query("INSERT INTO password_resets (token_hash, user_id, expires_at) VALUES ($1, $2, now() + make_interval(mins => $3::int))")
        .bind(token.hash())
        .bind(user)
        .bind(mail.reset_link_minutes as i32)
        .execute(&state.db)
        .await?;
    let public_url = &state.settings.server.public_url;
    let body = format!(
        "Someone asked to reset the password of the ChatSphere account {email} at {public_url}.\n\n\
         To choose a new password, open this link. It works once, for {minutes} minutes:\n\n{link}\n\n\
         If it was not you, ignore this mail: your password stays as it is.\n",
        email = email.as_str(),
        minutes = mail.reset_link_minutes,
        link = link(public_url, token.as_str()),
    );
    let to = email.as_str().to_owned();
    tokio::spawn(async move {
        match mailer.send(&to, "Reset your ChatSphere password", body).await {
            Ok(()) => tracing::info!(user_id = %user, "password-reset link sent"),
            Err(e) => tracing::error!(user_id = %user, error = %e, "password-reset link could not be sent"),
        }
    });
    Ok(())
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
    let hashed = password::hash(&new).await?;
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
