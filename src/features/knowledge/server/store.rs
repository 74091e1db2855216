//! Documents, with the owner named in every statement (through the bot), so that another
//! user's document looks exactly like a missing one.

use super::queue;
use crate::error::AppError;
use crate::features::knowledge::{ChunkView, DocStatus, DocumentSummary};
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use tracing::instrument;
use uuid::Uuid;

const SUMMARY_COLUMNS: &str = "d.id, d.name, d.source, d.mime, d.size_bytes, d.status, d.progress, d.error,
    d.enabled, d.char_count, d.page_count, d.chunk_count, d.stage_ms, d.created_at";

#[derive(sqlx::FromRow)]
struct SummaryRow {
    id: Uuid,
    name: String,
    source: String,
    mime: String,
    size_bytes: i64,
    status: String,
    progress: f32,
    error: Option<String>,
    enabled: bool,
    char_count: Option<i32>,
    page_count: Option<i32>,
    chunk_count: i32,
    stage_ms: serde_json::Value,
    created_at: chrono::DateTime<chrono::Utc>,
}

impl From<SummaryRow> for DocumentSummary {
    fn from(r: SummaryRow) -> Self {
        DocumentSummary {
            id: r.id,
            name: r.name,
            source: r.source,
            mime: r.mime,
            size_bytes: r.size_bytes,
            status: DocStatus::parse(&r.status).unwrap_or(DocStatus::Failed),
            progress: r.progress,
            error: r.error,
            enabled: r.enabled,
            char_count: r.char_count,
            page_count: r.page_count,
            chunk_count: r.chunk_count,
            stage_ms: serde_json::from_value(r.stage_ms).unwrap_or_default(),
            created_at: r.created_at,
        }
    }
}

pub fn document_not_found() -> AppError {
    AppError::NotFound("Document".into())
}

pub struct NewDocument<'a> {
    pub name: &'a str,
    pub source: &'static str,
    pub mime: &'a str,
    pub bytes: Vec<u8>,
}

/// Stores the original and queues it. The same bytes already in this bot give back the
/// existing document (`false`) and queue nothing; a changed upload with the name of an
/// existing upload replaces it in place.
#[instrument(skip(db, doc), fields(name = doc.name, size = doc.bytes.len()))]
pub async fn add(db: &PgPool, owner: Uuid, bot_public_id: &str, doc: NewDocument<'_>) -> Result<(DocumentSummary, bool), AppError> {
    let name = display_name(doc.name);
    let name = name.as_str();
    if name.is_empty() {
        return Err(AppError::invalid("name", "Document names are 1 to 255 characters."));
    }
    let hash = Sha256::digest(&doc.bytes).to_vec();
    let mut tx = db.begin().await?;
    let bot_id: Uuid = sqlx::query_scalar("SELECT id FROM bots WHERE public_id = $1 AND owner_id = $2")
        .bind(bot_public_id)
        .bind(owner)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| AppError::NotFound("Bot".into()))?;
    let same_content: Option<Uuid> = sqlx::query_scalar("SELECT id FROM documents WHERE bot_id = $1 AND content_hash = $2")
        .bind(bot_id)
        .bind(&hash)
        .fetch_optional(&mut *tx)
        .await?;
    if let Some(id) = same_content {
        // The same bytes again after they failed: the owner is trying again, so try again.
        let retried = sqlx::query("UPDATE documents SET status = 'queued', progress = 0, error = NULL, updated_at = now() WHERE id = $1 AND status = 'failed'")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if retried.rows_affected() == 1 {
            queue::enqueue(&mut tx, id).await?;
        }
        tx.commit().await?;
        return Ok((get(db, owner, id).await?, retried.rows_affected() == 1));
    }
    // A changed file under a name the bot already has replaces that document: the new
    // content is queued, and the old chunks answer until the new set is swapped in.
    let replaced: Option<Uuid> = sqlx::query_scalar(
        "UPDATE documents SET mime = $3, size_bytes = $4, content_hash = $5, status = 'queued', progress = 0,
                error = NULL, updated_at = now()
          WHERE id = (SELECT id FROM documents WHERE bot_id = $1 AND name = $2 AND source = 'upload'
                       ORDER BY created_at LIMIT 1 FOR UPDATE)
            AND $6 = 'upload'
        RETURNING id",
    )
    .bind(bot_id)
    .bind(name)
    .bind(doc.mime)
    .bind(doc.bytes.len() as i64)
    .bind(&hash)
    .bind(doc.source)
    .fetch_optional(&mut *tx)
    .await?;
    let id = match replaced {
        Some(id) => {
            sqlx::query("UPDATE document_originals SET bytes = $2 WHERE document_id = $1")
                .bind(id)
                .bind(&doc.bytes)
                .execute(&mut *tx)
                .await?;
            id
        }
        None => {
            // A concurrent upload of the same bytes may have won the race: then it is that one.
            let inserted: Option<Uuid> = sqlx::query_scalar(
                "INSERT INTO documents (bot_id, name, source, mime, size_bytes, content_hash)
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (bot_id, content_hash) DO NOTHING RETURNING id",
            )
            .bind(bot_id)
            .bind(name)
            .bind(doc.source)
            .bind(doc.mime)
            .bind(doc.bytes.len() as i64)
            .bind(&hash)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(id) = inserted else {
                tx.rollback().await?;
                let id = sqlx::query_scalar("SELECT id FROM documents WHERE bot_id = $1 AND content_hash = $2")
                    .bind(bot_id)
                    .bind(&hash)
                    .fetch_one(db)
                    .await?;
                return Ok((get(db, owner, id).await?, false));
            };
            sqlx::query("INSERT INTO document_originals (document_id, bytes) VALUES ($1, $2)")
                .bind(id)
                .bind(&doc.bytes)
                .execute(&mut *tx)
                .await?;
            id
        }
    };
    queue::enqueue(&mut tx, id).await?;
    tx.commit().await?;
    Ok((get(db, owner, id).await?, true))
}

/// Most characters a document name keeps.
const NAME_MAX_CHARS: usize = 255;

/// A name that shows what it is: control characters and the invisible marks that reorder text
/// (which make "invoice_\u{202e}fdp.txt" display as "invoice_txt.pdf") are dropped, and a name
/// too long is shortened in the middle so its extension stays visible.
pub fn display_name(raw: &str) -> String {
    let bidi = |c: char| matches!(c, '\u{200e}' | '\u{200f}' | '\u{061c}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
    let clean: String = raw.chars().filter(|&c| !c.is_control() && !bidi(c)).collect();
    let clean = clean.trim();
    let count = clean.chars().count();
    if count <= NAME_MAX_CHARS {
        return clean.to_owned();
    }
    let tail: String = match clean.rfind('.') {
        Some(dot) if clean.len() - dot <= 16 => clean[dot..].to_owned(),
        _ => String::new(),
    };
    let keep = NAME_MAX_CHARS - 1 - tail.chars().count();
    format!("{}…{tail}", clean.chars().take(keep).collect::<String>())
}

pub async fn get(db: &PgPool, owner: Uuid, id: Uuid) -> Result<DocumentSummary, AppError> {
    let row: Option<SummaryRow> = sqlx::query_as(&format!(
        "SELECT {SUMMARY_COLUMNS} FROM documents d JOIN bots b ON b.id = d.bot_id
          WHERE d.id = $1 AND b.owner_id = $2"
    ))
    .bind(id)
    .bind(owner)
    .fetch_optional(db)
    .await?;
    row.map(Into::into).ok_or_else(document_not_found)
}

pub async fn list(db: &PgPool, owner: Uuid, bot_public_id: &str) -> Result<Vec<DocumentSummary>, AppError> {
    let exists: Option<i32> = sqlx::query_scalar("SELECT 1 FROM bots WHERE public_id = $1 AND owner_id = $2")
        .bind(bot_public_id)
        .bind(owner)
        .fetch_optional(db)
        .await?;
    exists.ok_or_else(|| AppError::NotFound("Bot".into()))?;
    let rows: Vec<SummaryRow> = sqlx::query_as(&format!(
        "SELECT {SUMMARY_COLUMNS} FROM documents d JOIN bots b ON b.id = d.bot_id
          WHERE b.public_id = $1 AND b.owner_id = $2 ORDER BY d.created_at DESC, d.name"
    ))
    .bind(bot_public_id)
    .bind(owner)
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

/// A question with its answer, kept as a small document of its own (queued for indexing).
pub async fn add_qa(db: &PgPool, owner: Uuid, bot_public_id: &str, question: &str, answer: &str) -> Result<DocumentSummary, AppError> {
    let (question, answer) = (question.trim(), answer.trim());
    if question.is_empty() {
        return Err(AppError::invalid("question", "Write the question."));
    }
    if answer.is_empty() {
        return Err(AppError::invalid("answer", "Write the answer."));
    }
    let name: String = format!("Q&A: {question}").chars().take(255).collect();
    let body = format!("# {question}\n\n{answer}\n");
    let doc = NewDocument { name: &name, source: "qa", mime: "text/markdown", bytes: body.into_bytes() };
    Ok(add(db, owner, bot_public_id, doc).await?.0)
}

/// Deletes the document; its original, chunks (and keyword index entries with them) and jobs
/// go by cascade. Returns the bot it belonged to, so a remote vector store can be told.
pub async fn delete(db: &PgPool, owner: Uuid, id: Uuid) -> Result<Uuid, AppError> {
    // The vector store's deletion is queued in the same statement (see providers::vectors::outbox).
    let bot: Option<Uuid> = sqlx::query_scalar(
        "WITH d AS (DELETE FROM documents d USING bots b WHERE d.id = $1 AND b.id = d.bot_id AND b.owner_id = $2 RETURNING d.bot_id, d.id),
              q AS (INSERT INTO vector_deletions (kind, bot_id, document_id) SELECT 'document', bot_id, id FROM d)
         SELECT bot_id FROM d",
    )
        .bind(id)
        .bind(owner)
        .fetch_optional(db)
        .await?;
    bot.ok_or_else(document_not_found)
}

/// A disabled document stays stored and indexed but is left out of every search.
pub async fn set_enabled(db: &PgPool, owner: Uuid, id: Uuid, enabled: bool) -> Result<DocumentSummary, AppError> {
    let done = sqlx::query(
        "UPDATE documents d SET enabled = $3, updated_at = now() FROM bots b
          WHERE d.id = $1 AND b.id = d.bot_id AND b.owner_id = $2",
    )
    .bind(id)
    .bind(owner)
    .bind(enabled)
    .execute(db)
    .await?;
    if done.rows_affected() == 0 {
        return Err(document_not_found());
    }
    get(db, owner, id).await
}

/// Puts a document through the pipeline again from its kept original (after a failure, or
/// when chunking settings changed). Its current chunks stay searchable meanwhile.
pub async fn reprocess(db: &PgPool, owner: Uuid, id: Uuid) -> Result<DocumentSummary, AppError> {
    let mut tx = db.begin().await?;
    let done = sqlx::query(
        "UPDATE documents d SET status = 'queued', progress = 0, error = NULL, updated_at = now() FROM bots b
          WHERE d.id = $1 AND b.id = d.bot_id AND b.owner_id = $2",
    )
    .bind(id)
    .bind(owner)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 0 {
        return Err(document_not_found());
    }
    queue::enqueue(&mut tx, id).await?;
    tx.commit().await?;
    get(db, owner, id).await
}

/// The live chunks of a document, in reading order.
pub async fn chunks(db: &PgPool, owner: Uuid, id: Uuid) -> Result<Vec<ChunkView>, AppError> {
    get(db, owner, id).await?;
    let rows: Vec<(i64, Uuid, String, i32, String, Option<i32>, String)> = sqlx::query_as(
        "SELECT c.id, c.document_id, d.name, c.ordinal, c.heading_path, c.page, c.text
           FROM chunks c JOIN documents d ON d.id = c.document_id AND d.generation = c.generation
          WHERE c.document_id = $1 ORDER BY c.ordinal",
    )
    .bind(id)
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, document_id, document_name, ordinal, heading_path, page, text)| ChunkView {
            id,
            document_id,
            document_name,
            ordinal,
            heading_path,
            page,
            text,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::display_name;

    #[test]
    fn names_show_what_they_are() {
        assert_eq!(display_name("invoice_\u{202e}fdp.txt"), "invoice_fdp.txt");
        assert_eq!(display_name(" tab\there\n.md "), "tabhere.md");
        assert_eq!(display_name("résumé_履歴書_🚀.md"), "résumé_履歴書_🚀.md");
        let long = display_name(&format!("{}.txt", "n".repeat(300)));
        assert_eq!(long.chars().count(), 255);
        assert!(long.ends_with("n….txt"));
    }
}
