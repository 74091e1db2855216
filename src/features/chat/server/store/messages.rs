//! Messages as readers see them (an answer whose writer died reads as interrupted), the
//! questions that start answers, and the history sent with the next question.

use crate::error::AppError;
use crate::features::chat::{FinishReason, MessageStatus, MessageView, Role, SourceView};
use crate::providers::llm::{Speaker, Turn};
use sqlx::PgPool;
use std::collections::HashMap;
use uuid::Uuid;

pub fn message_not_found() -> AppError {
    AppError::NotFound("Message".into())
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

pub(super) async fn sources_of(db: &PgPool, messages: &[Uuid]) -> Result<HashMap<Uuid, Vec<SourceView>>, AppError> {
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

/// Marks the conversation (`$1`) and its bot (`$2`) as active now, as two data-modifying CTEs
/// so a statement that stores a message can do it too. The bot row is shared by all of its
/// conversations, so it is written at most once a minute: hundreds of concurrent answers
/// would otherwise queue on that one row's lock.
macro_rules! touch_ctes {
    () => {
        "c AS (UPDATE conversations SET updated_at = now() WHERE id = $1),
         b AS (UPDATE bots SET last_activity_at = now() WHERE id = $2 AND last_activity_at < now() - interval '1 minute')"
    };
}

/// Marks the conversation and its bot as active now (`touch_ctes`).
pub(super) async fn touch(db: &PgPool, conversation: Uuid, bot: Uuid) -> Result<(), AppError> {
    sqlx::query(concat!("WITH ", touch_ctes!(), " SELECT 1")).bind(conversation).bind(bot).execute(db).await?;
    Ok(())
}

/// Saves the user's words first, before anything can fail, so nothing typed is lost, and starts
/// the answer to them (`streaming` under a lease of `lease_secs` that its writer renews): one
/// statement and one commit before the first word, where a question, the conversation's
/// activity (as `touch`) and the answer row were three. The answer's position is drawn after the
/// question's (it is selected from the question's row), so it always follows it.
pub async fn add_question(db: &PgPool, conversation: Uuid, bot: Uuid, text: &str, provider: &str, model: &str, lease_secs: i64) -> Result<(MessageView, Uuid), AppError> {
    let (id, created_at, answer): (Uuid, chrono::DateTime<chrono::Utc>, Uuid) = sqlx::query_as(concat!(
        "WITH q AS (
            INSERT INTO messages (conversation_id, bot_id, role, content) VALUES ($1, $2, 'user', $3) RETURNING id, created_at
          ), a AS (
            INSERT INTO messages (conversation_id, bot_id, role, status, provider, model, lease_until, position)
            SELECT $1, $2, 'assistant', 'streaming', $4, $5, now() + make_interval(secs => $6),
                   nextval(pg_get_serial_sequence('messages', 'position'))
              FROM q RETURNING id
          ), ",
        touch_ctes!(),
        " SELECT q.id, q.created_at, a.id FROM q, a"
    ))
    .bind(conversation)
    .bind(bot)
    .bind(text)
    .bind(provider)
    .bind(model)
    .bind(lease_secs as f64)
    .fetch_one(db)
    .await?;
    let question = MessageView::fresh(id, Role::User, text.to_owned(), MessageStatus::Complete, created_at);
    Ok((question, answer))
}

/// The conversation so far as model turns: complete messages before `before` (a question id).
pub async fn history(db: &PgPool, conversation: Uuid, before: Uuid) -> Result<Vec<Turn>, AppError> {
    let rows: Vec<(String, String, Option<String>)> = sqlx::query_as(
        "SELECT role, content, retrieval_query FROM messages
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
        .map(|(role, text, searched)| Turn { speaker: if role == "user" { Speaker::User } else { Speaker::Assistant }, text, searched })
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
