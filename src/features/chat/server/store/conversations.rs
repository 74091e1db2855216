//! Conversations: listed, created, renamed and deleted by the owner of their bot.

use crate::error::AppError;
use crate::features::bots::Bot;
use crate::features::chat::ConversationSummary;
use sqlx::PgPool;
use uuid::Uuid;

pub fn conversation_not_found() -> AppError {
    AppError::NotFound("Conversation".into())
}

/// The caller's bot: its internal id and its settings.
pub async fn owned_bot(db: &PgPool, owner: Uuid, public_id: &str) -> Result<(Uuid, Bot), AppError> {
    let bot = crate::features::bots::server::get(db, owner, public_id).await?;
    let id: Uuid = sqlx::query_scalar("SELECT id FROM bots WHERE public_id = $1 AND owner_id = $2")
        .bind(public_id)
        .bind(owner)
        .fetch_one(db)
        .await?;
    Ok((id, bot))
}

/// A conversation on one of the caller's bots: (conversation, bot id, bot public id).
pub async fn owned_conversation(db: &PgPool, owner: Uuid, id: Uuid) -> Result<(ConversationSummary, Uuid, String), AppError> {
    let row: Option<(Uuid, String, chrono::DateTime<chrono::Utc>, Uuid, String)> = sqlx::query_as(
        "SELECT c.id, c.title, c.updated_at, b.id, b.public_id
           FROM conversations c JOIN bots b ON b.id = c.bot_id
          WHERE c.id = $1 AND b.owner_id = $2",
    )
    .bind(id)
    .bind(owner)
    .fetch_optional(db)
    .await?;
    let (id, title, updated_at, bot, public_id) = row.ok_or_else(conversation_not_found)?;
    Ok((ConversationSummary { id, title, updated_at }, bot, public_id))
}

pub async fn list(db: &PgPool, owner: Uuid, bot_public_id: &str) -> Result<Vec<ConversationSummary>, AppError> {
    let (bot, _) = owned_bot(db, owner, bot_public_id).await?;
    let rows: Vec<(Uuid, String, chrono::DateTime<chrono::Utc>)> = sqlx::query_as(
        "SELECT id, title, updated_at FROM conversations WHERE bot_id = $1 AND user_id = $2
          ORDER BY updated_at DESC, created_at DESC LIMIT 500",
    )
    .bind(bot)
    .bind(owner)
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(|(id, title, updated_at)| ConversationSummary { id, title, updated_at }).collect())
}

pub async fn create(db: &PgPool, bot: Uuid, user: Uuid, title: &str) -> Result<ConversationSummary, AppError> {
    let (id, updated_at): (Uuid, chrono::DateTime<chrono::Utc>) = sqlx::query_as(
        "INSERT INTO conversations (bot_id, user_id, visitor_key, title) VALUES ($1, $2, $3, $4) RETURNING id, updated_at",
    )
    .bind(bot)
    .bind(user)
    .bind(format!("user:{user}"))
    .bind(title)
    .fetch_one(db)
    .await?;
    Ok(ConversationSummary { id, title: title.to_owned(), updated_at })
}

pub async fn rename(db: &PgPool, owner: Uuid, id: Uuid, title: &str) -> Result<ConversationSummary, AppError> {
    let title = title.split_whitespace().collect::<Vec<_>>().join(" ");
    if title.is_empty() {
        return Err(AppError::invalid("title", "Give the conversation a title."));
    }
    if title.chars().count() > 200 {
        return Err(AppError::invalid("title", "Titles are at most 200 characters."));
    }
    let row: Option<(Uuid, String, chrono::DateTime<chrono::Utc>)> = sqlx::query_as(
        "UPDATE conversations c SET title = $3 FROM bots b
          WHERE c.id = $1 AND b.id = c.bot_id AND b.owner_id = $2
         RETURNING c.id, c.title, c.updated_at",
    )
    .bind(id)
    .bind(owner)
    .bind(&title)
    .fetch_optional(db)
    .await?;
    let (id, title, updated_at) = row.ok_or_else(conversation_not_found)?;
    Ok(ConversationSummary { id, title, updated_at })
}

pub async fn delete(db: &PgPool, owner: Uuid, id: Uuid) -> Result<(), AppError> {
    let done = sqlx::query("DELETE FROM conversations c USING bots b WHERE c.id = $1 AND b.id = c.bot_id AND b.owner_id = $2")
        .bind(id)
        .bind(owner)
        .execute(db)
        .await?;
    if done.rows_affected() == 0 {
        return Err(conversation_not_found());
    }
    Ok(())
}
