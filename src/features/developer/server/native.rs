//! The native API under `/api/v1`: the bots a key may use, chat (JSON or server-sent events),
//! the bots' API conversations, and knowledge.

use super::chat::{self, Question};
use super::keys::ApiKey;
use super::wire::*;
use super::{access, conversations, sse};
use crate::features::chat::server::store as chat_store;
use crate::features::chat::{ChatEvent, MessageStatus};
use crate::features::knowledge::server::{intake, store as documents};
use crate::server::api_error::ApiError;
use crate::server::state::AppState;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use futures::StreamExt;
use http::{header, HeaderMap, StatusCode};
use serde::Deserialize;
use uuid::Uuid;

/// Reads a body under the request's byte limit (set by the server's limits layer).
pub async fn read_body(body: Body) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, usize::MAX)
        .await
        .map_err(|_| ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "The request body is larger than this endpoint accepts.").code("request_too_large"))
}

/// An id from the path; a malformed one names nothing that exists.
fn id_param(raw: &str, missing: impl Fn() -> ApiError) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| missing())
}

/// The bots this key may use.
#[utoipa::path(get, path = "/api/v1/bots", tag = "bots", security(("api_key" = [])),
    responses((status = 200, body = BotList), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn list_bots(State(state): State<AppState>, Extension(key): Extension<ApiKey>) -> Result<Json<BotList>, ApiError> {
    Ok(Json(BotList { data: super::usable_bots(&state, &key).await? }))
}

/// Ask a bot. JSON by default; server-sent events with `Accept: text/event-stream` or
/// `"stream": true` — events `conversation`, `delta`, `citations`, `error` (if the answer
/// failed) and `done` (the whole reply, last), with a `: keep-alive` comment every 15 s.
/// Closing the connection stops the answer and keeps what was written.
#[utoipa::path(post, path = "/api/v1/bots/{bot}/chat", tag = "chat", security(("api_key" = [])),
    params(("bot" = String, Path, description = "The bot's id")),
    request_body(content = ChatRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The whole answer (JSON), or its events (`text/event-stream`)", content((ChatReply = "application/json"), (String = "text/event-stream"))),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 413, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn chat_with_bot(State(state): State<AppState>, Path(bot): Path<String>, Extension(key): Extension<ApiKey>, headers: HeaderMap, body: Body) -> Result<Response, ApiError> {
    let body = read_body(body).await?;
    let request: ChatRequest = parse(&body)?;
    let wants_events = request.stream || headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains("text/event-stream"));
    let question = Question { bot: &bot, text: &request.message, param: "message", conversation: request.conversation_id, history: None, person: None };
    let stream = chat::start(&state, &key, question).await?;
    if !wants_events {
        let answered = chat::whole(stream).await?;
        return Ok(Json(ChatReply::new(answered.conversation, answered.question, &answered.answer)).into_response());
    }
    let mut ids = None;
    let events = chat::events(stream).flat_map(move |event| {
        let out: Vec<sse::Frame> = match event {
            ChatEvent::Started { conversation, question, answer_id } => {
                ids = Some((conversation.id, question.id));
                vec![sse::Frame::named("conversation", serde_json::json!({ "conversation_id": conversation.id, "question_id": question.id, "message_id": answer_id }))]
            }
            ChatEvent::Sources { .. } => vec![],
            ChatEvent::Delta { text } => vec![sse::Frame::named("delta", serde_json::json!({ "text": text }))],
            ChatEvent::Done { answer } => {
                let (conversation, question) = ids.unwrap_or_default();
                let reply = ChatReply::new(conversation, question, &answer);
                let mut frames = vec![sse::Frame::named("citations", serde_json::json!({ "citations": reply.citations }))];
                if answer.status == MessageStatus::Failed {
                    let failed = ApiError::new(StatusCode::BAD_GATEWAY, answer.error.clone().unwrap_or_default()).code("answer_failed");
                    frames.push(sse::Frame::named("error", failed.body()));
                }
                frames.push(sse::Frame::named("done", serde_json::to_value(&reply).unwrap_or_default()));
                frames
            }
        };
        futures::stream::iter(out)
    });
    Ok(sse::response(events, state.settings.api.keep_alive_secs))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Page {
    /// 1–100, default 20.
    pub limit: Option<i64>,
    /// Conversations to skip, default 0.
    pub offset: Option<i64>,
}

/// The bot's API conversations, newest first.
#[utoipa::path(get, path = "/api/v1/bots/{bot}/conversations", tag = "conversations", security(("api_key" = [])),
    params(("bot" = String, Path, description = "The bot's id"), Page),
    responses((status = 200, body = ConversationList), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn list_conversations(State(state): State<AppState>, Path(bot): Path<String>, Extension(key): Extension<ApiKey>, page: Result<Query<Page>, axum::extract::rejection::QueryRejection>) -> Result<Json<ConversationList>, ApiError> {
    let Query(page) = page.map_err(|_| ApiError::invalid("limit", "limit and offset are whole numbers."))?;
    let limit = page.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::invalid("limit", "limit is between 1 and 100."));
    }
    let offset = page.offset.unwrap_or(0);
    if offset < 0 {
        return Err(ApiError::invalid("offset", "offset is 0 or more."));
    }
    let (bot_id, _) = access::usable_bot(&state.db, &key, &bot).await?;
    let (data, has_more) = conversations::list(&state.db, bot_id, limit, offset).await?;
    Ok(Json(ConversationList { data, has_more }))
}

fn conversation_missing() -> ApiError {
    ApiError::from(conversations::not_found())
}

/// One API conversation with its messages and their citations.
#[utoipa::path(get, path = "/api/v1/bots/{bot}/conversations/{id}", tag = "conversations", security(("api_key" = [])),
    params(("bot" = String, Path, description = "The bot's id"), ("id" = Uuid, Path, description = "The conversation's id")),
    responses((status = 200, body = ConversationDetail), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get_conversation(State(state): State<AppState>, Path((bot, id)): Path<(String, String)>, Extension(key): Extension<ApiKey>) -> Result<Json<ConversationDetail>, ApiError> {
    let (bot_id, _) = access::usable_bot(&state.db, &key, &bot).await?;
    let id = id_param(&id, conversation_missing)?;
    let (conversation, created_at) = conversations::owned(&state.db, bot_id, id).await?;
    let messages = chat_store::messages(&state.db, conversation.id).await?;
    Ok(Json(ConversationDetail { id: conversation.id, title: conversation.title, created_at, messages: messages.iter().map(MessageInfo::from).collect() }))
}

/// Deletes an API conversation and its messages.
#[utoipa::path(delete, path = "/api/v1/bots/{bot}/conversations/{id}", tag = "conversations", security(("api_key" = [])),
    params(("bot" = String, Path, description = "The bot's id"), ("id" = Uuid, Path, description = "The conversation's id")),
    responses((status = 204, description = "Deleted"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete_conversation(State(state): State<AppState>, Path((bot, id)): Path<(String, String)>, Extension(key): Extension<ApiKey>) -> Result<StatusCode, ApiError> {
    let (bot_id, _) = access::usable_bot(&state.db, &key, &bot).await?;
    let id = id_param(&id, conversation_missing)?;
    conversations::delete(&state.db, bot_id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The bot's documents with their status, progress and error.
#[utoipa::path(get, path = "/api/v1/bots/{bot}/documents", tag = "knowledge", security(("api_key" = [])),
    params(("bot" = String, Path, description = "The bot's id")),
    responses((status = 200, body = DocumentList), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn list_documents(State(state): State<AppState>, Path(bot): Path<String>, Extension(key): Extension<ApiKey>) -> Result<Json<DocumentList>, ApiError> {
    access::require_manage(&key)?;
    access::usable_bot(&state.db, &key, &bot).await?;
    let data = documents::list(&state.db, key.owner, &bot).await?;
    Ok(Json(DocumentList { data: data.into_iter().map(DocumentInfo::from).collect() }))
}

/// Adds a document: a file (`multipart/form-data`, field `file`), or JSON with a `url`, or a
/// `title` and `text`. The same formats, limits and refusals as the app. It is queued at once
/// (`202`); poll it until `ready` or `failed`.
#[utoipa::path(post, path = "/api/v1/bots/{bot}/documents", tag = "knowledge", security(("api_key" = [])),
    params(("bot" = String, Path, description = "The bot's id")),
    request_body(description = "A file, or a web page, or text", content(
        (UploadForm = "multipart/form-data"),
        (AddDocument = "application/json"))),
    responses((status = 202, description = "Queued (or already present with the same content)", body = AddedDocument),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody)))]
pub async fn add_document(State(state): State<AppState>, Path(bot): Path<String>, Extension(key): Extension<ApiKey>, headers: HeaderMap, body: Body) -> Result<Response, ApiError> {
    access::require_manage(&key)?;
    access::usable_bot(&state.db, &key, &bot).await?;
    let limits = &state.settings.knowledge;
    // The boundary is case-sensitive: only the media type is compared without case.
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let media_type = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    let (document, created) = if media_type == "multipart/form-data" {
        let (name, mime, bytes) = super::upload::one_file(&content_type, body, limits.max_upload_bytes).await?;
        intake::add_file(&state.db, limits, key.owner, &bot, &name, &mime, bytes).await?
    } else if media_type == "application/json" {
        let request: AddDocument = parse(&read_body(body).await?)?;
        match (request.url, request.text) {
            (Some(url), None) if request.title.is_none() => intake::add_url(&state.db, limits, key.owner, &bot, &url).await?,
            (None, Some(text)) => {
                let title = request.title.filter(|t| !t.trim().is_empty()).ok_or_else(|| ApiError::invalid("title", "Give the text a title."))?;
                intake::add_text(&state.db, limits, key.owner, &bot, &title, text).await?
            }
            _ => return Err(ApiError::invalid("url", "Send either a url, or a title and text.")),
        }
    } else {
        return Err(ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "Send a file as multipart/form-data (field `file`), or JSON with a url, or a title and text."));
    };
    Ok((StatusCode::ACCEPTED, Json(AddedDocument { document: document.into(), already_present: !created })).into_response())
}

/// A document of the bot.
async fn bot_document(state: &AppState, key: &ApiKey, bot: &str, id: &str) -> Result<Uuid, ApiError> {
    access::require_manage(key)?;
    let (bot_id, _) = access::usable_bot(&state.db, key, bot).await?;
    let missing = || ApiError::from(documents::document_not_found());
    let id = id_param(id, missing)?;
    let found: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM documents WHERE id = $1 AND bot_id = $2)")
        .bind(id)
        .bind(bot_id)
        .fetch_one(&state.db)
        .await
        .map_err(crate::error::AppError::from)?;
    if found {
        Ok(id)
    } else {
        Err(missing())
    }
}

/// One document.
#[utoipa::path(get, path = "/api/v1/bots/{bot}/documents/{id}", tag = "knowledge", security(("api_key" = [])),
    params(("bot" = String, Path, description = "The bot's id"), ("id" = Uuid, Path, description = "The document's id")),
    responses((status = 200, body = DocumentInfo), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get_document(State(state): State<AppState>, Path((bot, id)): Path<(String, String)>, Extension(key): Extension<ApiKey>) -> Result<Json<DocumentInfo>, ApiError> {
    let id = bot_document(&state, &key, &bot, &id).await?;
    Ok(Json(documents::get(&state.db, key.owner, id).await?.into()))
}

/// Deletes a document: it leaves every search at once.
#[utoipa::path(delete, path = "/api/v1/bots/{bot}/documents/{id}", tag = "knowledge", security(("api_key" = [])),
    params(("bot" = String, Path, description = "The bot's id"), ("id" = Uuid, Path, description = "The document's id")),
    responses((status = 204, description = "Deleted"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete_document(State(state): State<AppState>, Path((bot, id)): Path<(String, String)>, Extension(key): Extension<ApiKey>) -> Result<StatusCode, ApiError> {
    let id = bot_document(&state, &key, &bot, &id).await?;
    intake::delete(&state.db, key.owner, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
