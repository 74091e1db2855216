//! A visitor's own conversations: created for them, and found only through their visitor id
//! (another visitor's conversation id looks like a missing one).

use super::visitors::Visitor;
use crate::error::AppError;
use crate::features::chat::ConversationSummary;
use sqlx::PgPool;
use uuid::Uuid;

/// Longest page address kept with a widget conversation.
const PAGE_URL_MAX: usize = 2000;

pub async fn create(db: &PgPool, visitor: &Visitor, title: &str, page_url: Option<&str>) -> Result<ConversationSummary, AppError> {
    let page_url = page_url.map(str::trim).filter(|u| u.starts_with("http://") || u.starts_with("https://")).map(|u| u.chars().take(PAGE_URL_MAX).collect::<String>());
    let (id, updated_at): (Uuid, chrono::DateTime<chrono::Utc>) = sqlx::query_as(
        "INSERT INTO conversations (bot_id, user_id, visitor_id, visitor_key, channel, page_url, title)
         VALUES ($1, NULL, $2, $3, $4, $5, $6) RETURNING id, updated_at",
    )
    .bind(visitor.bot_id)
    .bind(visitor.id)
    .bind(format!("visitor:{}", visitor.id))
    .bind(&visitor.channel)
    .bind(page_url)
    .bind(title)
    .fetch_one(db)
    .await?;
    Ok(ConversationSummary { id, title: title.to_owned(), updated_at })
}

pub fn not_found() -> AppError {
    AppError::NotFound("Conversation".into())
}

pub async fn owned(db: &PgPool, visitor: &Visitor, id: Uuid) -> Result<ConversationSummary, AppError> {
    let row: Option<(Uuid, String, chrono::DateTime<chrono::Utc>)> =
        sqlx::query_as("SELECT id, title, updated_at FROM conversations WHERE id = $1 AND visitor_id = $2 AND bot_id = $3")
            .bind(id)
            .bind(visitor.id)
            .bind(visitor.bot_id)
            .fetch_optional(db)
            .await?;
    let (id, title, updated_at) = row.ok_or_else(not_found)?;
    Ok(ConversationSummary { id, title, updated_at })
}

/// Whether `message` is in one of the visitor's conversations.
pub async fn owns_message(db: &PgPool, visitor: &Visitor, message: Uuid) -> Result<bool, AppError> {
    Ok(sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM messages m JOIN conversations c ON c.id = m.conversation_id WHERE m.id = $1 AND c.visitor_id = $2)")
        .bind(message)
        .bind(visitor.id)
        .fetch_one(db)
        .await?)
}
