//! Visitor sessions: 256 random bits the visitor's browser keeps (in the panel's own storage,
//! per website); PostgreSQL keeps their SHA-256, the bot, the channel and the website.

use crate::features::auth::server::sessions::SessionToken;
use crate::error::AppError;
use sqlx::PgPool;
use uuid::Uuid;

#[derive(Clone, Debug)]
pub struct Visitor {
    pub id: Uuid,
    pub bot_id: Uuid,
    pub channel: String,
    pub site: String,
}

/// A new visitor of `bot_id`; returns it and the token to hand to the browser.
pub async fn create(db: &PgPool, bot_id: Uuid, channel: &str, site: &str) -> Result<(Visitor, String), AppError> {
    let token = SessionToken::generate();
    let id: Uuid = sqlx::query_scalar("INSERT INTO visitors (bot_id, token_hash, channel, site) VALUES ($1, $2, $3, $4) RETURNING id")
        .bind(bot_id)
        .bind(token.hash())
        .bind(channel)
        .bind(site)
        .fetch_one(db)
        .await?;
    Ok((Visitor { id, bot_id, channel: channel.into(), site: site.into() }, token.as_str().to_owned()))
}

/// The visitor holding `token`, if it belongs to `bot_id`.
pub async fn resolve(db: &PgPool, bot_id: Uuid, token: &str) -> Result<Option<Visitor>, AppError> {
    let Some(token) = SessionToken::from_cookie(token.trim()) else { return Ok(None) };
    let row: Option<(Uuid, String, String)> = sqlx::query_as(
        "UPDATE visitors SET last_seen_at = now() WHERE token_hash = $1 AND bot_id = $2 RETURNING id, channel, site",
    )
    .bind(token.hash())
    .bind(bot_id)
    .fetch_optional(db)
    .await?;
    Ok(row.map(|(id, channel, site)| Visitor { id, bot_id, channel, site }))
}
