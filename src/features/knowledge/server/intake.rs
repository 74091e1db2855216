//! Knowledge coming in, the same way from the app's forms and from the developer API: typed
//! text, a web page by address, a file, and deletion. Each checks its input and the owner's
//! quota before anything is stored, so a refusal leaves nothing behind.

use super::store::{self, NewDocument};
use super::{fetch, quota};
use crate::error::AppError;
use crate::features::knowledge::DocumentSummary;
use crate::features::knowledge::server::settings::KnowledgeSettings;
use sqlx::PgPool;
use uuid::Uuid;

/// Text typed or pasted in, stored as a Markdown document. (document, newly queued)
pub async fn add_text(db: &PgPool, limits: &KnowledgeSettings, owner: Uuid, bot: &str, title: &str, text: String) -> Result<(DocumentSummary, bool), AppError> {
    if text.trim().is_empty() {
        return Err(AppError::invalid("text", "Write or paste some text."));
    }
    let doc = NewDocument { name: title, source: "text", mime: "text/markdown", bytes: text.into_bytes() };
    quota::ensure_room(db, owner, limits, doc.bytes.len()).await?;
    store::add(db, owner, bot, doc).await
}

/// A web page, fetched by the workers (and fetched again when reprocessed).
pub async fn add_url(db: &PgPool, limits: &KnowledgeSettings, owner: Uuid, bot: &str, url: &str) -> Result<(DocumentSummary, bool), AppError> {
    let url = fetch::parse(url).map_err(|e| AppError::invalid("url", e.0))?;
    let name: String = url.as_str().chars().take(255).collect();
    let doc = NewDocument { name: &name, source: "url", mime: "text/uri-list", bytes: url.as_str().as_bytes().to_vec() };
    quota::ensure_room(db, owner, limits, 0).await?;
    store::add(db, owner, bot, doc).await
}

/// An uploaded file, already read under the size cap.
pub async fn add_file(db: &PgPool, limits: &KnowledgeSettings, owner: Uuid, bot: &str, name: &str, mime: &str, bytes: Vec<u8>) -> Result<(DocumentSummary, bool), AppError> {
    let doc = NewDocument { name, source: "upload", mime, bytes };
    quota::ensure_room(db, owner, limits, doc.bytes.len()).await?;
    store::add(db, owner, bot, doc).await
}

/// Deletes a document everywhere. It is gone from every search at once (its chunks are); the
/// vectors a remote store keeps are removed by the deletion outbox, retried until done.
pub async fn delete(db: &PgPool, owner: Uuid, id: Uuid) -> Result<(), AppError> {
    store::delete(db, owner, id).await?;
    Ok(())
}
