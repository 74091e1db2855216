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

/// Why an attempt ended early, in words for the owner (the editor shows them).
enum Stop {
    /// A service failed; the next attempt comes after `RETRY_AFTER_SECS`.
    Transient(String),
    /// The target cannot work on this server (its embedder is not configured): parked until the
    /// owner chooses again or the server restarts with other settings.
    Permanent(String),
}

impl From<String> for Stop {
    fn from(reason: String) -> Self {
        Stop::Transient(reason)
    }
}

impl From<&str> for Stop {
    fn from(reason: &str) -> Self {
        Stop::Transient(reason.to_owned())
    }
}

/// At startup: bots parked because their target could not work are tried again (the
/// configuration may have changed since).
pub async fn retry_parked(db: &PgPool) -> Result<u64, AppError> {
    Ok(sqlx::query("UPDATE bots SET reindex_lease_until = NULL WHERE reindex_lease_until = 'infinity'").execute(db).await?.rows_affected())
}

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
    let (reason, retry_after) = match reindex(db, providers, bot, &live, &target, lease_secs).await {
        Ok(()) => return Ok(true),
        Err(Stop::Transient(reason)) => (reason, Some(RETRY_AFTER_SECS as f64)),
        Err(Stop::Permanent(reason)) => (reason, None),
    };
    tracing::warn!(%reason, parked = retry_after.is_none(), "re-indexing attempt failed");
    sqlx::query(
        "UPDATE bots SET reindex_error = $2,
                reindex_lease_until = CASE WHEN $3::float8 IS NULL THEN 'infinity'::timestamptz ELSE now() + make_interval(secs => $3) END
          WHERE id = $1 AND embedding_model = $4",
    )
    .bind(bot)
    .bind(&reason)
    .bind(retry_after)
    .bind(&target)
    .execute(db)
    .await?;
    Ok(true)
}

async fn reindex(db: &PgPool, providers: &Providers, bot: Uuid, live: &str, target: &str, lease_secs: i64) -> Result<(), Stop> {
    // What the owner sees names the service at fault, never its error text (that goes to the log).
    let failed = |e: sqlx::Error| {
        tracing::warn!(error = %e, "re-indexing: database error");
        "The database was unavailable; re-indexing will try again shortly.".to_owned()
    };
    let Some(embedder) = providers.embedder(target) else {
        return Err(Stop::Permanent(format!("The embedding model {target} is not configured on this server; choose another in the bot's settings.")));
    };
    // (document, generation) pairs already in the new space, by this attempt or one that died.
    let mut done: HashSet<(Uuid, i32)> = sqlx::query_as("SELECT document_id, generation FROM reindex_progress WHERE bot_id = $1 AND embedder = $2")
        .bind(bot)
        .bind(target)
        .fetch_all(db)
        .await
        .map_err(failed)?
        .into_iter()
        .collect();
    loop {
        let docs: Vec<(Uuid, i32)> = sqlx::query_as("SELECT id, generation FROM documents WHERE bot_id = $1 AND status = 'ready' AND chunk_count > 0 ORDER BY created_at, id")
            .bind(bot)
            .fetch_all(db)
            .await
            .map_err(failed)?;
        let todo: Vec<(Uuid, i32)> = docs.iter().filter(|d| !done.contains(d)).copied().collect();
        let still_ours = progress(db, bot, target, docs.len() - todo.len(), docs.len(), lease_secs).await.map_err(failed)?;
        if !still_ours {
            // The owner chose again: give the bot back at once, so the next claim starts over
            // (and forget this target's progress: its vectors are not kept up to date).
            sqlx::query("WITH p AS (DELETE FROM reindex_progress WHERE bot_id = $1 AND embedder = $2) UPDATE bots SET reindex_lease_until = NULL WHERE id = $1")
                .bind(bot)
                .bind(target)
                .execute(db)
                .await
                .map_err(failed)?;
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
            // A big document's upsert (waiting for Pinecone to make it searchable) may take
            // longer than a lease: keep renewing while it runs.
            let upsert = providers.vectors.upsert(bot, target, records);
            let renewing = async {
                loop {
                    tokio::time::sleep(std::time::Duration::from_secs((lease_secs / 3).max(1) as u64)).await;
                    if let Err(error) = renew(db, bot, lease_secs).await {
                        tracing::warn!(%error, "re-indexing: lease renewal failed");
                    }
                }
            };
            tokio::select! {
                written = upsert => written.map_err(|e| {
                    tracing::warn!(error = %e, "re-indexing: vector store failed");
                    "The vector store failed; re-indexing will try again shortly.".to_owned()
                })?,
                _ = renewing => unreachable!("renews until the upsert ends"),
            }
            sqlx::query("INSERT INTO reindex_progress (bot_id, embedder, document_id, generation) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING")
                .bind(bot)
                .bind(target)
                .bind(document)
                .bind(generation)
                .execute(db)
                .await
                .map_err(failed)?;
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
              q AS (INSERT INTO vector_deletions (kind, bot_id, embedder) SELECT 'space', id, $3 FROM s),
              p AS (DELETE FROM reindex_progress WHERE bot_id IN (SELECT id FROM s))
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

