//! Knowledge server functions: authenticate, then act only on the caller's bots.

use super::{ChunkView, DocumentSummary, SearchHit};
use crate::error::AppError;
use leptos::prelude::*;
use leptos::server_fn::codec::{MultipartData, MultipartFormData};
use uuid::Uuid;

#[server(endpoint = "knowledge/list")]
pub async fn list_documents(bot_id: String) -> Result<Vec<DocumentSummary>, AppError> {
    let caller = crate::features::auth::server::require_user().await?;
    super::server::store::list(&caller.state.db, caller.user.id, &bot_id).await
}

/// Text typed or pasted in by the owner, stored as a Markdown document.
#[server(endpoint = "knowledge/add_text")]
pub async fn add_text(bot_id: String, title: String, text: String) -> Result<DocumentSummary, AppError> {
    let caller = crate::features::auth::server::require_user().await?;
    let state = &caller.state;
    Ok(super::server::intake::add_text(&state.db, &state.settings.knowledge, caller.user.id, &bot_id, &title, text).await?.0)
}

/// A web page, fetched by the server's workers (and fetched again when reprocessed).
#[server(endpoint = "knowledge/add_url")]
pub async fn add_url(bot_id: String, url: String) -> Result<DocumentSummary, AppError> {
    let caller = crate::features::auth::server::require_user().await?;
    let state = &caller.state;
    Ok(super::server::intake::add_url(&state.db, &state.settings.knowledge, caller.user.id, &bot_id, &url).await?.0)
}

/// A question with its answer, kept as a small document of its own.
#[server(endpoint = "knowledge/add_qa")]
pub async fn add_qa(bot_id: String, question: String, answer: String) -> Result<DocumentSummary, AppError> {
    let caller = crate::features::auth::server::require_user().await?;
    super::server::quota::ensure_room(&caller.state.db, caller.user.id, &caller.state.settings.knowledge, question.len() + answer.len()).await?;
    super::server::store::add_qa(&caller.state.db, caller.user.id, &bot_id, &question, &answer).await
}

/// Multipart fields: `bot_id`, then one or more `file`s. Each file is capped while it is
/// read; one that is too large is reported by name and the others still go in.
#[server(endpoint = "knowledge/upload", input = MultipartFormData)]
pub async fn upload_documents(data: MultipartData) -> Result<Vec<UploadResult>, AppError> {
    use super::server::store;
    let caller = crate::features::auth::server::require_user().await?;
    let db = &caller.state.db;
    let cap = caller.state.settings.knowledge.max_upload_bytes;
    let max_files = caller.state.settings.knowledge.max_files_per_request;
    let mut form = data.into_inner().ok_or(AppError::Internal)?;
    let bad_form = || AppError::invalid("file", "The upload was not understood; choose the files again.");
    let mut bot_id = None;
    let mut results = Vec::new();
    while let Some(mut field) = form.next_field().await.map_err(|_| bad_form())? {
        match field.name() {
            Some("bot_id") => bot_id = Some(crate::server::form::short_field(&mut field).await.ok_or_else(bad_form)?),
            Some("file") if results.len() >= max_files => {
                // Past the limit, each further file is named in a refusal and not read.
                let name = store::display_name(field.file_name().unwrap_or("untitled"));
                let error = format!("{name} was not added: at most {max_files} files can be uploaded at once.");
                results.push(UploadResult { name, document: None, already_present: false, error: Some(error) });
            }
            Some("file") => {
                let bot = bot_id.clone().ok_or_else(bad_form)?;
                let name = Some(store::display_name(field.file_name().unwrap_or_default())).filter(|n| !n.is_empty()).unwrap_or_else(|| "untitled".into());
                let mime = field.content_type().map(|m| m.to_string()).unwrap_or_else(|| "application/octet-stream".into());
                let mut bytes = Vec::new();
                let mut too_large = false;
                while let Some(chunk) = field.chunk().await.map_err(|_| bad_form())? {
                    if bytes.len() + chunk.len() > cap {
                        too_large = true;
                        bytes = Vec::new(); // drain the rest of this file without keeping it
                        continue;
                    }
                    if !too_large {
                        bytes.extend_from_slice(&chunk);
                    }
                }
                let outcome = if too_large {
                    Err(format!("{name} is larger than the {} MB limit.", cap / (1024 * 1024)))
                } else {
                    let added = super::server::intake::add_file(db, &caller.state.settings.knowledge, caller.user.id, &bot, &name, &mime, bytes).await;
                    match added {
                        Ok((doc, created)) => Ok((doc, created)),
                        Err(AppError::Invalid { message, .. } | AppError::Forbidden(message)) => Err(message),
                        Err(other) => return Err(other),
                    }
                };
                results.push(match outcome {
                    Ok((document, created)) => UploadResult { name, document: Some(document), already_present: !created, error: None },
                    // Every message names its file, so a list of results reads on its own.
                    Err(error) if error.contains(name.as_str()) => UploadResult { name, document: None, already_present: false, error: Some(error) },
                    Err(error) => UploadResult { error: Some(format!("{name}: {error}")), name, document: None, already_present: false },
                });
            }
            _ => {}
        }
    }
    Ok(results)
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct UploadResult {
    pub name: String,
    pub document: Option<DocumentSummary>,
    /// The same content was already in this bot; nothing new was queued.
    pub already_present: bool,
    pub error: Option<String>,
}

#[server(endpoint = "knowledge/delete")]
pub async fn delete_document(id: Uuid) -> Result<(), AppError> {
    let caller = crate::features::auth::server::require_user().await?;
    super::server::intake::delete(&caller.state.db, caller.user.id, id).await
}

#[server(endpoint = "knowledge/set_enabled")]
pub async fn set_document_enabled(id: Uuid, enabled: bool) -> Result<DocumentSummary, AppError> {
    let caller = crate::features::auth::server::require_user().await?;
    super::server::store::set_enabled(&caller.state.db, caller.user.id, id, enabled).await
}

#[server(endpoint = "knowledge/reprocess")]
pub async fn reprocess_document(id: Uuid) -> Result<DocumentSummary, AppError> {
    let caller = crate::features::auth::server::require_user().await?;
    super::server::store::reprocess(&caller.state.db, caller.user.id, id).await
}

#[server(endpoint = "knowledge/chunks")]
pub async fn document_chunks(id: Uuid) -> Result<Vec<ChunkView>, AppError> {
    let caller = crate::features::auth::server::require_user().await?;
    super::server::store::chunks(&caller.state.db, caller.user.id, id).await
}

/// The retrieval playground: what the bot would find for `query`, with every score.
#[server(endpoint = "knowledge/search")]
pub async fn search_knowledge(bot_id: String, query: String) -> Result<Vec<SearchHit>, AppError> {
    use super::server::search;
    let caller = crate::features::auth::server::require_user().await?;
    let db = &caller.state.db;
    let bot = search::owned_bot(db, caller.user.id, &bot_id).await?;
    search::hybrid(db, &caller.state.providers, &bot, &query, 10).await
}

/// The language the bot's documents read as (a keyword-search language name), to suggest it
/// in the bot's settings; `None` when there is too little to tell.
#[server(endpoint = "knowledge/detect_language")]
pub async fn detect_knowledge_language(bot_id: String) -> Result<Option<String>, AppError> {
    use super::server::{language, search};
    let caller = crate::features::auth::server::require_user().await?;
    let db = &caller.state.db;
    let bot = search::owned_bot(db, caller.user.id, &bot_id).await?;
    Ok(language::detected(db, bot.id).await?.map(str::to_owned))
}
