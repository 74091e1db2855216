//! What the owner does with an answer afterwards: rate it, and read a cited passage in place.

use super::messages::{message_not_found, sources_of};
use crate::error::AppError;
use crate::features::chat::{MessageView, PassageContext};
use sqlx::PgPool;
use uuid::Uuid;

/// Thumbs up (1) or down (-1) with an optional comment, or `None` to take it back. Only the
/// answers of the caller's bots can be rated.
pub async fn set_feedback(db: &PgPool, owner: Uuid, message: Uuid, rating: Option<i16>, comment: &str) -> Result<MessageView, AppError> {
    if rating.is_some_and(|r| r != 1 && r != -1) {
        return Err(AppError::invalid("rating", "Rate with a thumb up or down."));
    }
    let comment = comment.trim();
    if comment.chars().count() > 2000 {
        return Err(AppError::invalid("comment", "Comments are at most 2,000 characters."));
    }
    let done = sqlx::query(
        "UPDATE messages m SET feedback = $3, feedback_comment = NULLIF($4, ''), feedback_at = CASE WHEN $3 IS NULL THEN NULL ELSE now() END
           FROM bots b
          WHERE m.id = $1 AND m.role = 'assistant' AND b.id = m.bot_id AND b.owner_id = $2",
    )
    .bind(message)
    .bind(owner)
    .bind(rating)
    .bind(if rating.is_some() { comment } else { "" })
    .execute(db)
    .await?;
    if done.rows_affected() == 0 {
        return Err(message_not_found());
    }
    super::messages::message(db, message).await
}

/// Citation `n` of an answer, with the passages before and after it when its document still
/// holds it.
pub async fn passage(db: &PgPool, owner: Uuid, message: Uuid, n: u16) -> Result<PassageContext, AppError> {
    let owned: Option<(Uuid,)> = sqlx::query_as("SELECT m.id FROM messages m JOIN bots b ON b.id = m.bot_id WHERE m.id = $1 AND b.owner_id = $2")
        .bind(message)
        .bind(owner)
        .fetch_optional(db)
        .await?;
    owned.ok_or_else(message_not_found)?;
    let source = sources_of(db, &[message])
        .await?
        .remove(&message)
        .and_then(|s| s.into_iter().find(|s| s.n == n))
        .ok_or_else(|| AppError::NotFound("Source".into()))?;
    let Some(chunk) = source.chunk_id else {
        return Ok(PassageContext { source, before: None, after: None, current: false });
    };
    let around: Vec<(i32, String)> = sqlx::query_as(
        "SELECT n.ordinal - c.ordinal, n.text
           FROM chunks c
           JOIN documents d ON d.id = c.document_id AND d.generation = c.generation
           JOIN chunks n ON n.document_id = c.document_id AND n.generation = c.generation AND n.ordinal BETWEEN c.ordinal - 1 AND c.ordinal + 1
          WHERE c.id = $1",
    )
    .bind(chunk)
    .fetch_all(db)
    .await?;
    let pick = |offset: i32| around.iter().find(|(o, _)| *o == offset).map(|(_, t)| t.clone());
    Ok(PassageContext { before: pick(-1), after: pick(1), current: !around.is_empty(), source })
}
