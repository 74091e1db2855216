//! Answers being written: started under a lease, checkpointed while they stream, stopped
//! from any process, closed when their writer died, and finished with how they ended.

use super::messages::{message, touch, INTERRUPTED};
use crate::error::AppError;
use crate::features::chat::{FinishReason, MessageView, SourceView};
use sqlx::PgPool;
use uuid::Uuid;

/// A new answer, `streaming` under a lease of `lease_secs` that its writer renews.
pub async fn start_answer(db: &PgPool, conversation: Uuid, bot: Uuid, provider: &str, model: &str, lease_secs: i64) -> Result<Uuid, AppError> {
    Ok(sqlx::query_scalar(
        "INSERT INTO messages (conversation_id, bot_id, role, status, provider, model, lease_until)
         VALUES ($1, $2, 'assistant', 'streaming', $3, $4, now() + make_interval(secs => $5)) RETURNING id",
    )
    .bind(conversation)
    .bind(bot)
    .bind(provider)
    .bind(model)
    .bind(lease_secs as f64)
    .fetch_one(db)
    .await?)
}

/// Saves the text written so far (`None`: unchanged) and renews the lease. Returns whether a
/// Stop was asked for, or `None` once the answer is no longer being written.
pub async fn checkpoint(db: &PgPool, answer: Uuid, text: Option<&str>, lease_secs: i64) -> Result<Option<bool>, AppError> {
    Ok(sqlx::query_scalar(
        "UPDATE messages SET content = coalesce($2, content), lease_until = now() + make_interval(secs => $3)
          WHERE id = $1 AND status = 'streaming'
         RETURNING stop_requested",
    )
    .bind(answer)
    .bind(text)
    .bind(lease_secs as f64)
    .fetch_optional(db)
    .await?)
}

/// The channel on which Stops reach the process writing the answer.
pub const STOP_CHANNEL: &str = "answer_stop";

/// Asks the answer's writer, in whichever process it runs, to stop: false when `owner`'s bots
/// have no such answer being written. The owner is checked here, in SQL.
pub async fn request_stop(db: &PgPool, answer: Uuid, owner: Uuid) -> Result<bool, AppError> {
    let stopped: Option<Uuid> = sqlx::query_scalar(
        "WITH s AS (UPDATE messages m SET stop_requested = true FROM bots b
                     WHERE m.id = $1 AND m.status = 'streaming' AND m.lease_until > now() AND b.id = m.bot_id AND b.owner_id = $2
                    RETURNING m.id)
         SELECT id FROM s, LATERAL (SELECT pg_notify($3, s.id::text)) n",
    )
    .bind(answer)
    .bind(owner)
    .bind(STOP_CHANNEL)
    .fetch_optional(db)
    .await?;
    Ok(stopped.is_some())
}

/// The sweeper: answers whose writer died (lease run out) are closed for good as interrupted,
/// keeping their checkpointed text, so analytics and history see what readers already see.
pub async fn close_abandoned(db: &PgPool) -> Result<u64, AppError> {
    let done = sqlx::query(
        "UPDATE messages SET status = 'failed', finish_reason = 'interrupted', error = $1, lease_until = NULL
          WHERE status = 'streaming' AND coalesce(lease_until, '-infinity') < now()",
    )
    .bind(INTERRUPTED)
    .execute(db)
    .await?;
    if done.rows_affected() > 0 {
        tracing::warn!(answers = done.rows_affected(), "closed answers whose writer stopped (marked interrupted)");
    }
    Ok(done.rows_affected())
}

pub struct Retrieval<'a> {
    pub query: &'a str,
    pub best_score: Option<f32>,
    pub sources: &'a [(SourceView, Option<f32>, Option<f32>)],
}

pub async fn save_sources(db: &PgPool, answer: Uuid, r: &Retrieval<'_>) -> Result<(), AppError> {
    let mut tx = db.begin().await?;
    sqlx::query("UPDATE messages SET retrieval_query = $2, best_score = $3 WHERE id = $1")
        .bind(answer)
        .bind(r.query)
        .bind(r.best_score)
        .execute(&mut *tx)
        .await?;
    for (s, keyword, vector) in r.sources {
        sqlx::query(
            "INSERT INTO message_sources (message_id, n, chunk_id, document_id, document_name, heading_path, page, text, score, keyword_score, vector_score)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(answer)
        .bind(s.n as i16)
        .bind(s.chunk_id)
        .bind(s.document_id)
        .bind(&s.document_name)
        .bind(&s.heading_path)
        .bind(s.page)
        .bind(&s.text)
        .bind(s.score)
        .bind(keyword)
        .bind(vector)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// How an answer ended, as stored.
#[derive(Debug, Default)]
pub struct Outcome {
    pub content: String,
    pub failed: Option<String>,
    pub finish_reason: Option<FinishReason>,
    pub answered: Option<bool>,
    pub ttft_ms: Option<i32>,
    pub total_ms: i32,
    pub tokens_in: Option<i32>,
    pub tokens_out: Option<i32>,
}

pub async fn finish_answer(db: &PgPool, answer: Uuid, conversation: Uuid, bot: Uuid, o: &Outcome) -> Result<MessageView, AppError> {
    sqlx::query(
        "UPDATE messages SET content = $2, status = $3, error = $4, finish_reason = $5, answered = $6, ttft_ms = $7,
                total_ms = $8, tokens_in = $9, tokens_out = $10, lease_until = NULL
          WHERE id = $1",
    )
    .bind(answer)
    .bind(&o.content)
    .bind(if o.failed.is_some() { "failed" } else { "complete" })
    .bind(&o.failed)
    .bind(o.finish_reason.map(FinishReason::as_str))
    .bind(o.answered)
    .bind(o.ttft_ms)
    .bind(o.total_ms)
    .bind(o.tokens_in)
    .bind(o.tokens_out)
    .execute(db)
    .await?;
    touch(db, conversation, bot).await?;
    message(db, answer).await
}
