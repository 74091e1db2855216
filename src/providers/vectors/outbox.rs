//! Deletions a vector store must carry out, kept in PostgreSQL until the store confirms them:
//! a deleted document, bot (account) or embedding space, and a document's versions that are no
//! longer live (written with the swap that made another version live).
//! They are written in the same statement that deletes the document, bot or account (so a crash
//! cannot separate the two) and worked by every process's ingestion workers, each row claimed
//! under a short lease and retried with backoff until it is done: a remote store that is down
//! for an hour gets its deletions when it is back, and a restart loses none.

use super::VectorStore;
use crate::providers::retry::Backoff;
use sqlx::PgPool;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

/// How long one claimed deletion may take before another worker may take it over.
const LEASE_SECS: f64 = 120.0;

/// Pauses between tries: from 5 s doubling to an hour, so a long outage costs little.
fn backoff() -> Backoff {
    Backoff::new(u32::MAX, 5_000, 3_600_000)
}

/// SQL (for a data-modifying `WITH`) queueing the deletion of the bots whose ids the CTE
/// named `from` returns in column `id`.
pub fn forget_bots_sql(from: &str) -> String {
    format!("INSERT INTO vector_deletions (kind, bot_id) SELECT 'bot', id FROM {from}")
}

/// Claims one due deletion and carries it out. False when none was due.
pub async fn run_once(db: &PgPool, store: &Arc<dyn VectorStore>) -> Result<bool, crate::error::AppError> {
    let claimed: Option<(i64, String, Uuid, Option<Uuid>, Option<String>, Option<i32>, i32)> = sqlx::query_as(
        "UPDATE vector_deletions SET attempts = attempts + 1, lease_until = now() + make_interval(secs => $1)
          WHERE id = (SELECT id FROM vector_deletions
                       WHERE run_after <= now() AND (lease_until IS NULL OR lease_until < now())
                       ORDER BY run_after, id LIMIT 1 FOR UPDATE SKIP LOCKED)
         RETURNING id, kind, bot_id, document_id, embedder, generation, attempts",
    )
    .bind(LEASE_SECS)
    .fetch_optional(db)
    .await?;
    let Some((id, kind, bot, document, embedder, generation, attempts)) = claimed else { return Ok(false) };
    let done = match (kind.as_str(), document, embedder.as_deref(), generation) {
        ("document", Some(document), _, _) => store.delete_document(bot, document).await,
        ("retire", Some(document), _, Some(live)) => store.retire_versions(bot, document, live).await,
        ("space", _, Some(embedder), _) => store.delete_space(bot, embedder).await,
        _ => store.delete_bot(bot).await,
    };
    match done {
        Ok(()) => {
            sqlx::query("DELETE FROM vector_deletions WHERE id = $1").bind(id).execute(db).await?;
            tracing::debug!(%kind, %bot, "vectors deleted");
        }
        Err(error) => {
            let wait: Duration = backoff().delay(attempts as u32);
            tracing::warn!(%kind, %bot, attempts, %error, retry_in_secs = wait.as_secs(), "vector deletion failed; will retry");
            sqlx::query(
                "UPDATE vector_deletions SET lease_until = NULL, last_error = $2, run_after = now() + make_interval(secs => $3) WHERE id = $1",
            )
            .bind(id)
            .bind(error.to_string())
            .bind(wait.as_secs_f64())
            .execute(db)
            .await?;
        }
    }
    Ok(true)
}

/// Deletions not carried out yet (for tests and the operator).
pub async fn pending(db: &PgPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT count(*) FROM vector_deletions").fetch_one(db).await
}
