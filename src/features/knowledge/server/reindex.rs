//! Re-indexing a bot whose owner chose another embedding model: every ready document's live
//! chunks are embedded again from the kept text into the new space, while searches keep using
//! the old one. When nothing is left, one statement makes the new space live, and the old
//! vectors are deleted. A worker holds a lease on the bot while it works (renewed per batch),
//! so a crashed worker's bot is picked up by another; what was written is simply written again.

use super::chunk::text_to_embed;
use crate::error::AppError;
use crate::providers::embed::Purpose;
use crate::providers::vectors::VectorRecord;
use crate::providers::Providers;
use sqlx::PgPool;
use std::collections::HashSet;
use uuid::Uuid;

/// After a failed attempt, the bot waits this long before the next.
const RETRY_AFTER_SECS: i64 = 10;

/// Claims one bot that needs re-indexing and works on it. False when there was none.
pub async fn run_once(db: &PgPool, providers: &Providers, lease_secs: i64) -> Result<bool, AppError> {
    let claimed: Option<(Uuid, String, String)> = sqlx::query_as(
        "UPDATE bots SET reindex_lease_until = now() + make_interval(secs => $1)
          WHERE id = (SELECT id FROM bots
                       WHERE embedding_model <> embedder AND (reindex_lease_until IS NULL OR reindex_lease_until < now())
                       ORDER BY reindex_lease_until NULLS FIRST LIMIT 1 FOR UPDATE SKIP LOCKED)
         RETURNING id, embedder, embedding_model",
    )
    .bind(lease_secs as f64)
    .fetch_optional(db)
    .await?;
    let Some((bot, live, target)) = claimed else { return Ok(false) };
    let span = tracing::info_span!("reindex", %bot, from = %live, to = %target);
    let _enter = span.enter();
    match reindex(db, providers, bot, &live, &target, lease_secs).await {
        Ok(()) => {}
        Err(reason) => {
            tracing::warn!(%reason, "re-indexing attempt failed");
            sqlx::query("UPDATE bots SET reindex_error = $2, reindex_lease_until = now() + make_interval(secs => $3) WHERE id = $1 AND embedding_model = $4")
                .bind(bot)
                .bind(&reason)
                .bind(RETRY_AFTER_SECS as f64)
                .bind(&target)
                .execute(db)
                .await?;
        }
    }
    Ok(true)
}

async fn reindex(db: &PgPool, providers: &Providers, bot: Uuid, live: &str, target: &str, lease_secs: i64) -> Result<(), String> {
    // What the owner sees names the service at fault, never its error text (that goes to the log).
    let failed = |e: sqlx::Error| {
        tracing::warn!(error = %e, "re-indexing: database error");
        "The database was unavailable; re-indexing will try again shortly.".to_owned()
    };
    let embedder = providers.embedder(target).ok_or_else(|| format!("The embedding model {target} is not configured on this server."))?;
    // (document, generation) pairs already in the new space.
    let mut done: HashSet<(Uuid, i32)> = HashSet::new();
    loop {
        let docs: Vec<(Uuid, i32)> = sqlx::query_as("SELECT id, generation FROM documents WHERE bot_id = $1 AND status = 'ready' AND chunk_count > 0 ORDER BY created_at, id")
            .bind(bot)
            .fetch_all(db)
            .await
            .map_err(failed)?;
        let todo: Vec<(Uuid, i32)> = docs.iter().filter(|d| !done.contains(d)).copied().collect();
        let still_ours = progress(db, bot, target, docs.len() - todo.len(), docs.len(), lease_secs).await.map_err(failed)?;
        if !still_ours {
            // The owner chose again: give the bot back at once, so the next claim starts over.
            sqlx::query("UPDATE bots SET reindex_lease_until = NULL WHERE id = $1").bind(bot).execute(db).await.map_err(failed)?;
            return Ok(());
        }
        if todo.is_empty() {
            break;
        }
        for (document, generation) in todo {
            let chunks: Vec<(i64, i32, String, String)> = sqlx::query_as(
                "SELECT id, ordinal, heading_path, text FROM chunks WHERE document_id = $1 AND generation = $2 ORDER BY ordinal",
            )
            .bind(document)
            .bind(generation)
            .fetch_all(db)
            .await
            .map_err(failed)?;
            let mut records = Vec::with_capacity(chunks.len());
            for batch in chunks.chunks(embedder.batch_size()) {
                let texts = batch.iter().map(|(_, _, heading, text)| text_to_embed(heading, text)).collect();
                let vectors = embedder.embed(texts, Purpose::Document).await.map_err(|e| {
                    tracing::warn!(error = %e, "re-indexing: embedding failed");
                    "The embedding service failed; re-indexing will try again shortly.".to_owned()
                })?;
                if vectors.len() != batch.len() {
                    return Err("the embedder returned the wrong number of vectors".into());
                }
                records.extend(batch.iter().zip(vectors).map(|((id, ordinal, _, _), vector)| VectorRecord { chunk_id: *id, document_id: document, generation, ordinal: *ordinal, vector }));
                renew(db, bot, lease_secs).await.map_err(failed)?;
            }
            providers.vectors.upsert(bot, target, records).await.map_err(|e| {
                tracing::warn!(error = %e, "re-indexing: vector store failed");
                "The vector store failed; re-indexing will try again shortly.".to_owned()
            })?;
            done.insert((document, generation));
            progress(db, bot, target, done.len().min(docs.len()), docs.len(), lease_secs).await.map_err(failed)?;
        }
    }
    // Nothing left: the new space goes live in one statement (only if it is still the choice).
    // The old space is unreachable from then on; its vectors' deletion is queued in the same
    // statement (see providers::vectors::outbox).
    let swapped: i64 = sqlx::query_scalar(
        "WITH s AS (UPDATE bots SET embedder = embedding_model, knowledge_version = knowledge_version + 1,
                           reindex_lease_until = NULL, reindex_error = NULL
                     WHERE id = $1 AND embedding_model = $2 AND embedder = $3 RETURNING id),
              q AS (INSERT INTO vector_deletions (kind, bot_id, embedder) SELECT 'space', id, $3 FROM s)
         SELECT count(*) FROM s",
    )
    .bind(bot)
    .bind(target)
    .bind(live)
    .fetch_one(db)
    .await
    .map_err(failed)?;
    if swapped == 1 {
        tracing::info!(documents = done.len(), "re-indexed; the new embedding space is live");
    }
    Ok(())
}

/// Records progress and renews the lease; false when the bot no longer wants `target`.
async fn progress(db: &PgPool, bot: Uuid, target: &str, done: usize, total: usize, lease_secs: i64) -> Result<bool, sqlx::Error> {
    let updated = sqlx::query(
        "UPDATE bots SET reindex_done = $3, reindex_total = $4, reindex_lease_until = now() + make_interval(secs => $5)
          WHERE id = $1 AND embedding_model = $2 AND embedding_model <> embedder",
    )
    .bind(bot)
    .bind(target)
    .bind(done as i32)
    .bind(total as i32)
    .bind(lease_secs as f64)
    .execute(db)
    .await?;
    Ok(updated.rows_affected() == 1)
}

async fn renew(db: &PgPool, bot: Uuid, lease_secs: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE bots SET reindex_lease_until = now() + make_interval(secs => $2) WHERE id = $1").bind(bot).bind(lease_secs as f64).execute(db).await?;
    Ok(())
}

