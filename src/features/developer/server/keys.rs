//! API keys in PostgreSQL. The secret is `csk_` and 64 hex digits (256 random bits); the
//! database keeps its SHA-256 and the first characters for display, so neither a leaked table
//! nor a log can be replayed. Every statement names the owner.

use crate::error::AppError;
use crate::features::auth::server::sessions::SessionToken;
use crate::features::developer::{ApiKeyView, CreatedKey, Permission, KEY_NAME_MAX, MAX_EXPIRY_DAYS};
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use uuid::Uuid;

pub const SECRET_PREFIX: &str = "csk_";
/// Characters of the secret shown in lists: the prefix and 8 hex digits.
const DISPLAY_CHARS: usize = 12;

pub fn hash(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// Whether a presented string is shaped like one of our keys (checked before any query).
pub fn well_formed(secret: &str) -> bool {
    secret.strip_prefix(SECRET_PREFIX).is_some_and(|hex| hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

pub fn not_found() -> AppError {
    AppError::NotFound("API key".into())
}

/// What the owner asked for in the form.
pub struct NewKey<'a> {
    pub name: &'a str,
    /// A bot's public id, or empty for all of the owner's bots.
    pub bot: &'a str,
    pub permission: &'a str,
    /// Days until it expires; 0 for never.
    pub expires_in_days: i64,
}

pub async fn create(db: &PgPool, owner: Uuid, max_keys: i64, new: NewKey<'_>) -> Result<CreatedKey, AppError> {
    let name = new.name.split_whitespace().collect::<Vec<_>>().join(" ");
    if name.is_empty() {
        return Err(AppError::invalid("name", "Give the key a name (what will use it?)."));
    }
    if name.chars().count() > KEY_NAME_MAX {
        return Err(AppError::invalid("name", format!("Key names are at most {KEY_NAME_MAX} characters.")));
    }
    let permission = Permission::parse(new.permission).ok_or_else(|| AppError::invalid("permission", "Choose what the key may do."))?;
    if !(0..=MAX_EXPIRY_DAYS).contains(&new.expires_in_days) {
        return Err(AppError::invalid("expires_in_days", format!("A key expires within {MAX_EXPIRY_DAYS} days, or never.")));
    }
    let mut tx = db.begin().await?;
    // One owner's key creations are serialised, so the count below cannot be raced past.
    sqlx::query("SELECT 1 FROM users WHERE id = $1 FOR UPDATE").bind(owner).execute(&mut *tx).await?;
    let bot_id: Option<Uuid> = match new.bot.trim() {
        "" => None,
        public_id => Some(
            sqlx::query_scalar("SELECT id FROM bots WHERE public_id = $1 AND owner_id = $2")
                .bind(public_id)
                .bind(owner)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or_else(|| AppError::invalid("bot", "Choose one of your bots, or all of them."))?,
        ),
    };
    let held: i64 = sqlx::query_scalar("SELECT count(*) FROM api_keys WHERE owner_id = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())")
        .bind(owner)
        .fetch_one(&mut *tx)
        .await?;
    if held >= max_keys {
        return Err(AppError::Forbidden(format!("You have {held} active keys, the most allowed; revoke one first.")));
    }
    let secret = format!("{SECRET_PREFIX}{}", SessionToken::generate().as_str());
    let id: Uuid = sqlx::query_scalar(
        "INSERT INTO api_keys (owner_id, name, bot_id, permission, secret_hash, prefix, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, CASE WHEN $7 > 0 THEN now() + make_interval(days => $7::int) END)
         RETURNING id",
    )
    .bind(owner)
    .bind(&name)
    .bind(bot_id)
    .bind(permission.as_str())
    .bind(hash(&secret))
    .bind(&secret[..DISPLAY_CHARS])
    .bind(new.expires_in_days)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    let key = list(db, owner).await?.into_iter().find(|k| k.id == id).ok_or(AppError::Internal)?;
    Ok(CreatedKey { key, secret })
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    name: String,
    bot_public_id: Option<String>,
    bot_name: Option<String>,
    permission: String,
    prefix: String,
    created_at: chrono::DateTime<chrono::Utc>,
    expires_at: Option<chrono::DateTime<chrono::Utc>>,
    revoked_at: Option<chrono::DateTime<chrono::Utc>>,
    last_used_at: Option<chrono::DateTime<chrono::Utc>>,
    active: bool,
    requests: i64,
    answers: i64,
    tokens: i64,
}

/// The owner's keys, newest first, with what each has been used for.
pub async fn list(db: &PgPool, owner: Uuid) -> Result<Vec<ApiKeyView>, AppError> {
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT k.id, k.name, b.public_id AS bot_public_id, b.name AS bot_name, k.permission, k.prefix, k.created_at,
                k.expires_at, k.revoked_at, k.last_used_at, k.requests,
                k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > now()) AS active,
                coalesce(u.answers, 0) AS answers, coalesce(u.tokens, 0) AS tokens
           FROM api_keys k
           LEFT JOIN bots b ON b.id = k.bot_id
           LEFT JOIN LATERAL (
                SELECT count(m.id) AS answers, coalesce(sum(coalesce(m.tokens_in, 0) + coalesce(m.tokens_out, 0)), 0)::bigint AS tokens
                  FROM conversations c JOIN messages m ON m.conversation_id = c.id AND m.role = 'assistant'
                 WHERE c.api_key_id = k.id) u ON true
          WHERE k.owner_id = $1
          ORDER BY k.created_at DESC",
    )
    .bind(owner)
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| ApiKeyView {
            id: r.id,
            name: r.name,
            bot: r.bot_public_id.zip(r.bot_name),
            permission: Permission::parse(&r.permission).unwrap_or(Permission::Chat),
            prefix: r.prefix,
            created_at: r.created_at,
            expires_at: r.expires_at,
            revoked_at: r.revoked_at,
            last_used_at: r.last_used_at,
            active: r.active,
            requests: r.requests,
            answers: r.answers,
            tokens: r.tokens,
        })
        .collect())
}

/// Revoking takes effect on the key's next request: every request looks the key up.
pub async fn revoke(db: &PgPool, owner: Uuid, id: Uuid) -> Result<(), AppError> {
    let done = sqlx::query("UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1 AND owner_id = $2")
        .bind(id)
        .bind(owner)
        .execute(db)
        .await?;
    if done.rows_affected() == 0 {
        return Err(not_found());
    }
    Ok(())
}

/// The key behind a request, checked on every request.
#[derive(Clone, Debug)]
pub struct ApiKey {
    pub id: Uuid,
    pub owner: Uuid,
    pub name: String,
    /// The one bot it may use; `None`: all of the owner's bots.
    pub bot: Option<Uuid>,
    pub permission: Permission,
}

/// Why a presented key does not work, in words its holder can act on.
pub enum Refused {
    Unknown,
    Revoked,
    Expired,
    Disabled,
}

/// Looks a presented secret up and counts the request against it, in one statement.
pub async fn resolve(db: &PgPool, secret: &str) -> Result<Result<ApiKey, Refused>, AppError> {
    if !well_formed(secret) {
        return Ok(Err(Refused::Unknown));
    }
    let row: Option<(Uuid, Uuid, String, Option<Uuid>, String, bool, bool, bool)> = sqlx::query_as(
        "UPDATE api_keys k SET last_used_at = now(), requests = k.requests + 1
           FROM users u
          WHERE k.secret_hash = $1 AND u.id = k.owner_id
        RETURNING k.id, k.owner_id, k.name, k.bot_id, k.permission,
                  k.revoked_at IS NOT NULL, k.expires_at IS NOT NULL AND k.expires_at <= now(), u.disabled_at IS NOT NULL",
    )
    .bind(hash(secret))
    .fetch_optional(db)
    .await?;
    let Some((id, owner, name, bot, permission, revoked, expired, disabled)) = row else { return Ok(Err(Refused::Unknown)) };
    Ok(match () {
        _ if revoked => Err(Refused::Revoked),
        _ if expired => Err(Refused::Expired),
        _ if disabled => Err(Refused::Disabled),
        _ => Ok(ApiKey { id, owner, name, bot, permission: Permission::parse(&permission).unwrap_or(Permission::Chat) }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_our_shape_of_secret_is_looked_up() {
        let secret = format!("{SECRET_PREFIX}{}", SessionToken::generate().as_str());
        assert!(well_formed(&secret));
        assert_eq!(secret.len(), 68);
        assert!(!well_formed("sk-abc"));
        assert!(!well_formed(&secret[..67]));
        assert!(!well_formed(&format!("{}z", &secret[..67])));
        assert_ne!(hash(&secret), hash(&secret[..67]));
    }
}
