//! Answers being written: started under a lease, checkpointed while they stream, stopped
//! from any process, closed when their writer died, and finished with how they ended.

use super::messages::{message, touch, INTERRUPTED};
use crate::error::AppError;
use crate::features::chat::{FinishReason, MessageView, RetrievalTrace, SourceView};
use sqlx::PgPool;
use uuid::Uuid;

/// A new answer to the question already last in the conversation (regenerating), `streaming`
/// under a lease of `lease_secs` that its writer renews.
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
    /// `None`: traces are not kept on this server.
    pub trace: Option<&'a RetrievalTrace>,
}

/// The search behind an answer, its numbered passages and its trace, in one statement (it used
/// to take a transaction of one insert per passage: 9 round trips of the ~25 a question costs).
pub async fn save_sources(db: &PgPool, answer: Uuid, r: &Retrieval<'_>) -> Result<(), AppError> {
    let sources = r.sources;
    let n: Vec<i16> = sources.iter().map(|(s, _, _)| s.n as i16).collect();
    let chunks: Vec<Option<i64>> = sources.iter().map(|(s, _, _)| s.chunk_id).collect();
    let documents: Vec<Option<Uuid>> = sources.iter().map(|(s, _, _)| s.document_id).collect();
    let names: Vec<&str> = sources.iter().map(|(s, _, _)| s.document_name.as_str()).collect();
    let headings: Vec<&str> = sources.iter().map(|(s, _, _)| s.heading_path.as_str()).collect();
    let pages: Vec<Option<i32>> = sources.iter().map(|(s, _, _)| s.page).collect();
    let texts: Vec<&str> = sources.iter().map(|(s, _, _)| s.text.as_str()).collect();
    let scores: Vec<f32> = sources.iter().map(|(s, _, _)| s.score).collect();
    let keyword: Vec<Option<f32>> = sources.iter().map(|(_, k, _)| *k).collect();
    let vector: Vec<Option<f32>> = sources.iter().map(|(_, _, v)| *v).collect();
    let trace = r.trace.map(serde_json::to_string).transpose().map_err(|e| {
        tracing::error!(error = %e, "an answer trace does not serialise");
        AppError::Internal
    })?;
    sqlx::query(
        "WITH m AS (UPDATE messages SET retrieval_query = $2, best_score = $3 WHERE id = $1),
              t AS (INSERT INTO answer_traces (message_id, trace) SELECT $1, $14::jsonb WHERE $14 IS NOT NULL
                    ON CONFLICT (message_id) DO UPDATE SET trace = EXCLUDED.trace)
         INSERT INTO message_sources (message_id, n, chunk_id, document_id, document_name, heading_path, page, text, score, keyword_score, vector_score)
         SELECT $1, u.n, u.chunk_id, u.document_id, u.name, u.heading, u.page, u.text, u.score, u.keyword, u.vector
           FROM UNNEST($4::smallint[], $5::bigint[], $6::uuid[], $7::text[], $8::text[], $9::int[], $10::text[], $11::real[], $12::real[], $13::real[])
             AS u(n, chunk_id, document_id, name, heading, page, text, score, keyword, vector)",
    )
    .bind(answer)
    .bind(r.query)
    .bind(r.best_score)
    .bind(&n)
    .bind(&chunks)
    .bind(&documents)
    .bind(&names)
    .bind(&headings)
    .bind(&pages)
    .bind(&texts)
    .bind(&scores)
    .bind(&keyword)
    .bind(&vector)
    .bind(&trace)
    .execute(db)
    .await?;
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

impl Outcome {
    /// Counts tokens the same model spent for this answer before it (the follow-up rewrite),
    /// so the answer's usage and cost are what its provider bills.
    pub fn add_tokens(&mut self, spent: Option<(u32, u32)>) {
        if let Some((input, output)) = spent {
            self.tokens_in = Some(self.tokens_in.unwrap_or(0).saturating_add(input as i32));
            self.tokens_out = Some(self.tokens_out.unwrap_or(0).saturating_add(output as i32));
        }
    }
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
