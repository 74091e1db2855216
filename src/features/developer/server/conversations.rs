//! Conversations held over the API: channel `api`, the key that held them, no user. A key sees
//! the API conversations of the bots it may use (a rotated key keeps its predecessor's), never
//! the owner's own or a visitor's; anything else looks like a missing conversation.

use super::keys::ApiKey;
use super::wire::ConversationInfo;
use crate::error::AppError;
use crate::features::chat::ConversationSummary;
use sqlx::PgPool;
use uuid::Uuid;

pub fn not_found() -> AppError {
    AppError::NotFound("Conversation".into())
}

/// `person` is the caller's own name for the person chatting (OpenAI's `user`), so analytics
/// counts people rather than keys.
pub async fn create(db: &PgPool, key: &ApiKey, bot: Uuid, title: &str, person: Option<&str>) -> Result<ConversationSummary, AppError> {
    let visitor_key = match person.map(str::trim).filter(|p| !p.is_empty()) {
        Some(p) => format!("api:{}:{}", key.id, p.chars().take(200).collect::<String>()),
        None => format!("api:{}", key.id),
    };
    let (id, updated_at): (Uuid, chrono::DateTime<chrono::Utc>) = sqlx::query_as(
        "INSERT INTO conversations (bot_id, user_id, visitor_key, channel, api_key_id, title)
         VALUES ($1, NULL, $2, 'api', $3, $4) RETURNING id, updated_at",
    )
    .bind(bot)
    .bind(visitor_key)
    .bind(key.id)
    .bind(title)
    .fetch_one(db)
    .await?;
    Ok(ConversationSummary { id, title: title.to_owned(), updated_at })
}

pub async fn owned(db: &PgPool, bot: Uuid, id: Uuid) -> Result<(ConversationSummary, chrono::DateTime<chrono::Utc>), AppError> {
    let row: Option<(Uuid, String, chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>)> =
        sqlx::query_as("SELECT id, title, updated_at, created_at FROM conversations WHERE id = $1 AND bot_id = $2 AND channel = 'api'")
            .bind(id)
            .bind(bot)
            .fetch_optional(db)
            .await?;
    let (id, title, updated_at, created_at) = row.ok_or_else(not_found)?;
    Ok((ConversationSummary { id, title, updated_at }, created_at))
}

/// A page of the bot's API conversations, newest first; one more than `limit` is read to know
/// whether another page follows.
pub async fn list(db: &PgPool, bot: Uuid, limit: i64, offset: i64) -> Result<(Vec<ConversationInfo>, bool), AppError> {
    let rows: Vec<(Uuid, String, chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>, i64)> = sqlx::query_as(
        "SELECT c.id, c.title, c.created_at, c.updated_at, (SELECT count(*) FROM messages m WHERE m.conversation_id = c.id)
           FROM conversations c
          WHERE c.bot_id = $1 AND c.channel = 'api'
          ORDER BY c.updated_at DESC, c.id
          LIMIT $2 OFFSET $3",
    )
    .bind(bot)
    .bind(limit + 1)
    .bind(offset)
    .fetch_all(db)
    .await?;
    let has_more = rows.len() as i64 > limit;
    let data = rows
        .into_iter()
        .take(limit as usize)
        .map(|(id, title, created_at, updated_at, messages)| ConversationInfo { id, title, created_at, updated_at, messages })
        .collect();
    Ok((data, has_more))
}

pub async fn delete(db: &PgPool, bot: Uuid, id: Uuid) -> Result<(), AppError> {
    let done = sqlx::query("DELETE FROM conversations WHERE id = $1 AND bot_id = $2 AND channel = 'api'").bind(id).bind(bot).execute(db).await?;
    if done.rows_affected() == 0 {
        return Err(not_found());
    }
    Ok(())
}
