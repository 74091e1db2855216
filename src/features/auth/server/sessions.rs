//! Sessions: a random 256-bit token lives only in the browser's cookie; the database keeps
//! its SHA-256, so a leaked table cannot be replayed. Expiry slides forward with use.

use crate::error::AppError;
use crate::features::auth::CurrentUser;
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use uuid::Uuid;

/// The cookie value. Not `Serialize`: it travels only in `Set-Cookie`.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionToken(String);

impl std::fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionToken(..)")
    }
}

impl SessionToken {
    /// 256 random bits, hex-encoded (invitation links use the same kind of token).
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self(hex::encode(bytes))
    }

    pub fn from_cookie(value: &str) -> Option<Self> {
        (value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit())).then(|| Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn hash(&self) -> Vec<u8> {
        Sha256::digest(self.0.as_bytes()).to_vec()
    }
}

pub async fn create(db: &PgPool, user_id: Uuid, ttl_hours: i64) -> Result<SessionToken, AppError> {
    let token = SessionToken::generate();
    sqlx::query(
        "INSERT INTO sessions (token_hash, user_id, expires_at)
         VALUES ($1, $2, now() + make_interval(hours => $3::int))",
    )
    .bind(token.hash())
    .bind(user_id)
    .bind(ttl_hours as i32)
    .execute(db)
    .await?;
    Ok(token)
}

pub struct ActiveSession {
    pub user: CurrentUser,
    /// True when the expiry was pushed forward, so the cookie needs refreshing too.
    pub renewed: bool,
}

/// The session's user if the token is live. Past half its lifetime, the session is renewed.
pub async fn resolve(db: &PgPool, token: &SessionToken, ttl_hours: i64) -> Result<Option<ActiveSession>, AppError> {
    // Decided from the expiry before the update; a session is written to at most once per
    // half-lifetime, not on every request.
    let row: Option<(Uuid, String, String, bool)> = sqlx::query_as(
        "WITH live AS (
            SELECT user_id, expires_at < now() + make_interval(hours => $2::int) / 2 AS due
              FROM sessions WHERE token_hash = $1 AND expires_at > now()
         ), renewal AS (
            UPDATE sessions SET expires_at = now() + make_interval(hours => $2::int), renewed_at = now()
             WHERE token_hash = $1 AND (SELECT due FROM live)
         )
         SELECT u.id, u.email, u.display_name, live.due
           FROM live JOIN users u ON u.id = live.user_id AND u.disabled_at IS NULL",
    )
    .bind(token.hash())
    .bind(ttl_hours as i32)
    .fetch_optional(db)
    .await?;
    Ok(row.map(|(id, email, display_name, renewed)| ActiveSession {
        user: CurrentUser { id, email, display_name },
        renewed,
    }))
}

pub async fn end(db: &PgPool, token: &SessionToken) -> Result<(), AppError> {
    sqlx::query("DELETE FROM sessions WHERE token_hash = $1").bind(token.hash()).execute(db).await?;
    Ok(())
}

/// Ends every session of the user (password reset by the operator, account disabled).
pub async fn end_all(db: &PgPool, user_id: Uuid) -> Result<u64, AppError> {
    let done = sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(user_id).execute(db).await?;
    Ok(done.rows_affected())
}

/// Ends every session of the user except `keep` (the one making the request).
pub async fn end_others(db: &PgPool, user_id: Uuid, keep: &SessionToken) -> Result<u64, AppError> {
    let done = sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND token_hash <> $2")
        .bind(user_id)
        .bind(keep.hash())
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}

/// Expired sessions are never accepted; this only reclaims their rows.
pub async fn purge_expired(db: &PgPool) -> Result<u64, AppError> {
    let done = sqlx::query("DELETE FROM sessions WHERE expires_at <= now()").execute(db).await?;
    // Reset links past their hour (used or not) are worth nothing either.
    sqlx::query("DELETE FROM password_resets WHERE expires_at <= now()").execute(db).await?;
    Ok(done.rows_affected())
}
