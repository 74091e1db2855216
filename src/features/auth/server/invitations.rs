//! Invitation links, for servers whose registration is invite-only: the operator (from the
//! command line) or any user creates one; it admits one sign-up before it expires. Only the
//! token's SHA-256 is stored, as with sessions.

use super::sessions::SessionToken;
use crate::error::AppError;
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

/// A new invitation's token (it goes in the link `/signup?invite=TOKEN`).
pub async fn create(db: &PgPool, created_by: Option<Uuid>, ttl_hours: i64) -> Result<String, AppError> {
    let token = SessionToken::generate();
    sqlx::query("INSERT INTO invitations (token_hash, created_by, expires_at) VALUES ($1, $2, now() + make_interval(hours => $3::int))")
        .bind(token.hash())
        .bind(created_by)
        .bind(ttl_hours.clamp(1, 24 * 365) as i32)
        .execute(db)
        .await?;
    Ok(token.as_str().to_owned())
}

/// The link a person opens to accept it.
pub fn link(public_url: &str, token: &str) -> String {
    format!("{}/signup?invite={token}", public_url.trim_end_matches('/'))
}

/// Uses the invitation up, inside the transaction that creates the account, so that it admits
/// exactly one account even when two people open it at once.
pub async fn redeem(tx: &mut Transaction<'_, Postgres>, token: &str, user: Uuid) -> Result<(), AppError> {
    let unusable = || AppError::invalid("invite", "This invitation link has expired or was already used; ask for a new one.");
    let token = SessionToken::from_cookie(token.trim()).ok_or_else(unusable)?;
    let used = sqlx::query(
        "UPDATE invitations SET used_by = $2, used_at = now()
          WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now()",
    )
    .bind(token.hash())
    .bind(user)
    .execute(&mut **tx)
    .await?;
    if used.rows_affected() == 0 {
        return Err(unusable());
    }
    Ok(())
}
