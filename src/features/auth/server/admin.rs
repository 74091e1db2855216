//! What the operator does from the command line (`chatsphere admin`), without a mail server:
//! create accounts, reset a password (ending that user's sessions), disable or enable an
//! account, list accounts. Plain functions over the pool, so tests call them directly.

use super::sessions;
use crate::error::AppError;
use crate::features::auth::{Email, Password};
use super::password::Passwords;
use super::settings::AuthSettings;
use sqlx::PgPool;
use uuid::Uuid;

async fn user_id(db: &PgPool, email: &str) -> Result<Uuid, AppError> {
    let email = Email::parse(email)?;
    sqlx::query_scalar("SELECT id FROM users WHERE email = $1")
        .bind(email.as_str())
        .fetch_optional(db)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("Account {}", email.as_str())))
}

/// Sets a new password and ends every session of the account. Returns the sessions ended.
pub async fn reset_password(db: &PgPool, rules: &AuthSettings, passwords: &Passwords, email: &str, new: &str) -> Result<u64, AppError> {
    let id = user_id(db, email).await?;
    let new = Password::parse(new, rules.password_min_length, &Email::parse(email)?)?;
    let hash = passwords.hash(&new).await?;
    sqlx::query("UPDATE users SET password_hash = $2, updated_at = now() WHERE id = $1").bind(id).bind(&hash.0).execute(db).await?;
    sqlx::query("DELETE FROM auth_failures WHERE key = $1").bind(super::rate_limit::account_key(&email.trim().to_lowercase())).execute(db).await?;
    tracing::info!(user_id = %id, "password reset by the operator");
    sessions::end_all(db, id).await
}

/// A disabled account cannot sign in and loses its sessions at once; its data is kept.
pub async fn set_disabled(db: &PgPool, email: &str, disabled: bool) -> Result<(), AppError> {
    let id = user_id(db, email).await?;
    sqlx::query("UPDATE users SET disabled_at = CASE WHEN $2 THEN coalesce(disabled_at, now()) END, updated_at = now() WHERE id = $1")
        .bind(id)
        .bind(disabled)
        .execute(db)
        .await?;
    if disabled {
        sessions::end_all(db, id).await?;
    }
    tracing::info!(user_id = %id, disabled, "account access changed by the operator");
    Ok(())
}

pub struct Account {
    pub email: String,
    pub display_name: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub disabled: bool,
    pub bots: i64,
}

pub async fn list(db: &PgPool) -> Result<Vec<Account>, AppError> {
    let rows: Vec<(String, String, chrono::DateTime<chrono::Utc>, bool, i64)> = sqlx::query_as(
        "SELECT u.email, u.display_name, u.created_at, u.disabled_at IS NOT NULL,
                (SELECT count(*) FROM bots b WHERE b.owner_id = u.id)
           FROM users u ORDER BY u.created_at, u.email",
    )
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(|(email, display_name, created_at, disabled, bots)| Account { email, display_name, created_at, disabled, bots }).collect())
}
