//! Conversations and messages in PostgreSQL. Every read and write that starts from an id the
//! browser sent checks, in the SQL itself, that the bot behind it belongs to the caller; a
//! stranger's conversation looks exactly like a missing one.

use crate::error::AppError;
use crate::features::bots::Bot;
use crate::features::chat::{ConversationSummary, FinishReason, MessageStatus, MessageView, PassageContext, Role, SourceView};
use crate::providers::llm::{Speaker, Turn};
use sqlx::PgPool;
use std::collections::HashMap;
use uuid::Uuid;

pub fn conversation_not_found() -> AppError {
    AppError::NotFound("Conversation".into())
}

pub fn message_not_found() -> AppError {
    AppError::NotFound("Message".into())
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

#[derive(sqlx::FromRow)]
struct MessageRow {
    id: Uuid,
    role: String,
    content: String,
    status: String,
    error: Option<String>,
    finish_reason: Option<String>,
    answered: Option<bool>,
    feedback: Option<i16>,
    feedback_comment: Option<String>,
    provider: Option<String>,
    model: Option<String>,
    ttft_ms: Option<i32>,
    total_ms: Option<i32>,
    tokens_in: Option<i32>,
    tokens_out: Option<i32>,
    created_at: chrono::DateTime<chrono::Utc>,
}

/// An answer still `streaming` past its lease was being written by a process that died: it is
/// read as interrupted (with the text of its last checkpoint) by every process, before the
/// sweeper (`close_abandoned`) gets to it.
const MESSAGE_COLUMNS: &str = "id, role, content,
    CASE WHEN status = 'streaming' AND coalesce(lease_until, '-infinity') < now() THEN 'interrupted' ELSE status END AS status,
    CASE WHEN status = 'streaming' AND coalesce(lease_until, '-infinity') < now() THEN 'interrupted' ELSE finish_reason END AS finish_reason,
    error, answered, feedback, feedback_comment, provider, model, ttft_ms, total_ms, tokens_in, tokens_out, created_at";

/// What a reader is told about an answer whose writer died.
pub const INTERRUPTED: &str = "The answer was interrupted; try again.";

/// Messages matching `filter` (a condition on `messages` with `$1`), in conversation order,
/// with their sources.
async fn load(db: &PgPool, filter: &str, id: Uuid) -> Result<Vec<MessageView>, AppError> {
    let rows: Vec<MessageRow> = sqlx::query_as(&format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE {filter} ORDER BY position"))
        .bind(id)
        .fetch_all(db)
        .await?;
    let ids: Vec<Uuid> = rows.iter().filter(|r| r.role == "assistant").map(|r| r.id).collect();
    let mut sources = sources_of(db, &ids).await?;
    Ok(rows
        .into_iter()
        .map(|r| MessageView {
            sources: sources.remove(&r.id).unwrap_or_default(),
            id: r.id,
            role: if r.role == "user" { Role::User } else { Role::Assistant },
            content: r.content,
            status: match r.status.as_str() {
                "streaming" => MessageStatus::Streaming,
                "failed" | "interrupted" => MessageStatus::Failed,
                _ => MessageStatus::Complete,
            },
            error: if r.status == "interrupted" { Some(INTERRUPTED.into()) } else { r.error },
            finish_reason: r.finish_reason.as_deref().and_then(FinishReason::parse),
            answered: r.answered,
            feedback: r.feedback,
            feedback_comment: r.feedback_comment,
            provider: r.provider,
            model: r.model,
            ttft_ms: r.ttft_ms,
            total_ms: r.total_ms,
            tokens_in: r.tokens_in,
            tokens_out: r.tokens_out,
            created_at: r.created_at,
        })
        .collect())
}

async fn sources_of(db: &PgPool, messages: &[Uuid]) -> Result<HashMap<Uuid, Vec<SourceView>>, AppError> {
    let rows: Vec<(Uuid, i16, Option<i64>, Option<Uuid>, String, String, Option<i32>, String, f32)> = sqlx::query_as(
        "SELECT message_id, n, chunk_id, document_id, document_name, heading_path, page, text, score
           FROM message_sources WHERE message_id = ANY($1) ORDER BY message_id, n",
    )
    .bind(messages)
    .fetch_all(db)
    .await?;
    let mut out: HashMap<Uuid, Vec<SourceView>> = HashMap::new();
    for (message, n, chunk_id, document_id, document_name, heading_path, page, text, score) in rows {
        out.entry(message).or_default().push(SourceView { n: n as u16, chunk_id, document_id, document_name, heading_path, page, text, score });
    }
    Ok(out)
}

pub async fn messages(db: &PgPool, conversation: Uuid) -> Result<Vec<MessageView>, AppError> {
    load(db, "conversation_id = $1", conversation).await
}

pub async fn message(db: &PgPool, id: Uuid) -> Result<MessageView, AppError> {
    load(db, "id = $1", id).await?.pop().ok_or_else(message_not_found)
}

/// Marks the conversation and its bot as active now. The bot row is shared by all of its
/// conversations, so it is written at most once a minute: hundreds of concurrent answers
/// would otherwise queue on that one row's lock.
async fn touch(db: &PgPool, conversation: Uuid, bot: Uuid) -> Result<(), AppError> {
    sqlx::query(
        "WITH c AS (UPDATE conversations SET updated_at = now() WHERE id = $1)
         UPDATE bots SET last_activity_at = now() WHERE id = $2 AND last_activity_at < now() - interval '1 minute'",
    )
    .bind(conversation)
    .bind(bot)
    .execute(db)
    .await?;
    Ok(())
}

/// Saves the user's words first, before anything can fail, so nothing typed is lost.
pub async fn add_question(db: &PgPool, conversation: Uuid, bot: Uuid, text: &str) -> Result<MessageView, AppError> {
    let id: Uuid = sqlx::query_scalar("INSERT INTO messages (conversation_id, bot_id, role, content) VALUES ($1, $2, 'user', $3) RETURNING id")
        .bind(conversation)
        .bind(bot)
        .bind(text)
        .fetch_one(db)
        .await?;
    touch(db, conversation, bot).await?;
    message(db, id).await
}

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

/// The conversation so far as model turns: complete messages before `before` (a question id).
pub async fn history(db: &PgPool, conversation: Uuid, before: Uuid) -> Result<Vec<Turn>, AppError> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT role, content FROM messages
          WHERE conversation_id = $1 AND status = 'complete' AND content <> ''
            AND position < (SELECT position FROM messages WHERE id = $2)
          ORDER BY position",
    )
    .bind(conversation)
    .bind(before)
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(role, text)| Turn { speaker: if role == "user" { Speaker::User } else { Speaker::Assistant }, text })
        .collect())
}

/// For regenerating: the conversation's last question, with every answer after it removed.
pub async fn reopen_last_question(db: &PgPool, conversation: Uuid) -> Result<MessageView, AppError> {
    let mut tx = db.begin().await?;
    let question: Option<(Uuid, i64)> = sqlx::query_as(
        "SELECT id, position FROM messages WHERE conversation_id = $1 AND role = 'user' ORDER BY position DESC LIMIT 1 FOR UPDATE",
    )
    .bind(conversation)
    .fetch_optional(&mut *tx)
    .await?;
    let (id, position) = question.ok_or_else(|| AppError::invalid("conversation", "There is no question to answer again."))?;
    sqlx::query("DELETE FROM messages WHERE conversation_id = $1 AND position > $2")
        .bind(conversation)
        .bind(position)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    message(db, id).await
}

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
    self::message(db, message).await
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
