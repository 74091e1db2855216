//! Per-account quotas on knowledge: documents, bytes of kept originals, indexed passages. A
//! file that does not fit is refused whole with the limit named; nothing is half stored.

use crate::error::AppError;
use crate::features::knowledge::server::settings::KnowledgeSettings;
use sqlx::PgPool;
use uuid::Uuid;

/// Room for one more document of `bytes` in `owner`'s account.
pub async fn ensure_room(db: &PgPool, owner: Uuid, limits: &KnowledgeSettings, bytes: usize) -> Result<(), AppError> {
    let (documents, stored): (i64, i64) = sqlx::query_as(
        "SELECT count(*), coalesce(sum(d.size_bytes), 0)::int8 FROM documents d JOIN bots b ON b.id = d.bot_id WHERE b.owner_id = $1",
    )
    .bind(owner)
    .fetch_one(db)
    .await?;
    if documents >= limits.max_documents_per_account {
        return Err(AppError::Forbidden(format!(
            "Your account has reached its limit of {} documents; delete some you no longer need to add more.",
            limits.max_documents_per_account
        )));
    }
    let cap = limits.max_stored_mb_per_account.saturating_mul(1024 * 1024);
    if stored.saturating_add(bytes as i64) > cap {
        return Err(AppError::Forbidden(format!(
            "This file would take your account past its {} MB of stored documents ({} MB used); delete documents you no longer need.",
            limits.max_stored_mb_per_account,
            stored / (1024 * 1024)
        )));
    }
    Ok(())
}

/// Room for `new_chunks` passages of `document` (its own current passages are replaced).
pub async fn ensure_chunk_room(db: &PgPool, document: Uuid, new_chunks: usize, limits: &KnowledgeSettings) -> Result<(), AppError> {
    let others: i64 = sqlx::query_scalar(
        "SELECT coalesce(sum(d.chunk_count), 0)::int8 FROM documents d JOIN bots b ON b.id = d.bot_id
          WHERE b.owner_id = (SELECT b2.owner_id FROM documents d2 JOIN bots b2 ON b2.id = d2.bot_id WHERE d2.id = $1)
            AND d.id <> $1",
    )
    .bind(document)
    .fetch_one(db)
    .await?;
    if others.saturating_add(new_chunks as i64) > limits.max_chunks_per_account {
        return Err(AppError::Forbidden(format!(
            "This document has {new_chunks} passages, which would take your account past its limit of {} indexed passages; split it or delete documents you no longer need.",
            limits.max_chunks_per_account
        )));
    }
    Ok(())
}
