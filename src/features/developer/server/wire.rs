//! What the developer API reads and writes, as Rust types: serde gives the wire format and
//! utoipa the OpenAPI schemas from the same definitions, so the document cannot drift from
//! what is served. Bodies are parsed here with the parameter at fault named in the refusal.

use crate::features::chat::{FinishReason, MessageStatus, MessageView, Role, SourceView};
use crate::features::knowledge::DocumentSummary;
use crate::server::api_error::ApiError;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// Parses a JSON body, naming the parameter at fault when it does not fit.
pub fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::new(http::StatusCode::BAD_REQUEST, "The request body is empty; send a JSON object."));
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let text = inner.to_string();
        if inner.is_syntax() || inner.is_eof() {
            return ApiError::new(http::StatusCode::BAD_REQUEST, format!("The request body is not valid JSON ({text})."));
        }
        // "missing field `model` at line 1 column 2": the field belongs to the path's object.
        let missing = text.strip_prefix("missing field `").and_then(|rest| rest.split('`').next());
        let param = match (missing, path.as_str()) {
            (Some(field), ".") => field.to_owned(),
            (Some(field), parent) => format!("{parent}.{field}"),
            (None, at) => at.to_owned(),
        };
        let reason = text.split(" at line ").next().unwrap_or(&text).to_owned();
        ApiError::invalid(&param, format!("Invalid value for '{param}': {reason}."))
    })
}

/// `{"error": {...}}`, the shape of every refusal and fault.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// What went wrong, in words for the developer.
    pub message: String,
    /// `invalid_request_error`, `authentication_error`, `permission_error`, `not_found_error`,
    /// `rate_limit_error` or `api_error`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The request parameter at fault, if any.
    pub param: Option<String>,
    pub code: Option<String>,
}

/// A bot the key may use.
#[derive(Serialize, ToSchema)]
pub struct BotInfo {
    /// The bot's id in every path, and its `model` in the OpenAI-compatible API.
    pub id: String,
    pub name: String,
    pub description: String,
    pub welcome_message: String,
    pub suggested_questions: Vec<String>,
    /// Whether it is published (share page, widget); the API works either way.
    pub published: bool,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Serialize, ToSchema)]
pub struct BotList {
    pub data: Vec<BotInfo>,
}

/// A question to a bot.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChatRequest {
    /// The question, 1 to `chat.question_max_chars` characters.
    pub message: String,
    /// Continue this conversation (one started over the API with this bot); omit to start one.
    #[serde(default)]
    pub conversation_id: Option<Uuid>,
    /// Stream the answer as server-sent events (the same as `Accept: text/event-stream`).
    #[serde(default)]
    pub stream: bool,
}

/// A passage the answer was built from; the answer cites it as `[n]`.
#[derive(Serialize, ToSchema, Clone)]
pub struct Citation {
    pub n: u16,
    pub document_id: Option<Uuid>,
    /// The document's name (file name, page address or title).
    pub document: String,
    pub page: Option<i32>,
    /// The heading path of the passage, "Returns › Refunds"; empty when it has none.
    pub heading: String,
    /// The passage's text, as the model saw it.
    pub passage: String,
    /// Relevance to the question, 0–1.
    pub score: f32,
    /// Whether the answer's text cites it.
    pub cited: bool,
}

impl Citation {
    pub fn from_source(s: &SourceView, answer: &str) -> Self {
        Citation {
            n: s.n,
            document_id: s.document_id,
            document: s.document_name.clone(),
            page: s.page,
            heading: s.heading_path.clone(),
            passage: s.text.clone(),
            score: s.score,
            cited: answer.contains(&format!("[{}]", s.n)),
        }
    }

    pub fn all(m: &MessageView) -> Vec<Citation> {
        m.sources.iter().map(|s| Citation::from_source(s, &m.content)).collect()
    }
}

#[derive(Serialize, ToSchema, Clone, Copy, Default)]
pub struct Usage {
    pub input_tokens: i64,
    pub output_tokens: i64,
}

impl Usage {
    pub fn of(m: &MessageView) -> Self {
        Usage { input_tokens: m.tokens_in.unwrap_or(0).into(), output_tokens: m.tokens_out.unwrap_or(0).into() }
    }
}

/// A whole answer.
#[derive(Serialize, ToSchema)]
pub struct ChatReply {
    pub conversation_id: Uuid,
    /// The answer's message id.
    pub message_id: Uuid,
    pub question_id: Uuid,
    pub answer: String,
    pub citations: Vec<Citation>,
    pub usage: Usage,
    /// `stop`, `max_tokens`, `safety`, `recitation`, `blocked`, `not_in_knowledge` (the bot's
    /// fallback message), `cancelled`, `interrupted` or `error`.
    pub finish_reason: String,
    /// False when nothing in the knowledge answered it and the fallback message was given.
    pub answered: Option<bool>,
    /// Why the answer failed, when it did.
    pub error: Option<String>,
}

impl ChatReply {
    pub fn new(conversation_id: Uuid, question_id: Uuid, m: &MessageView) -> Self {
        ChatReply {
            conversation_id,
            message_id: m.id,
            question_id,
            answer: m.content.clone(),
            citations: Citation::all(m),
            usage: Usage::of(m),
            finish_reason: m.finish_reason.unwrap_or(FinishReason::Interrupted).as_str().to_owned(),
            answered: m.answered,
            error: m.error.clone(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ConversationInfo {
    pub id: Uuid,
    pub title: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
    pub messages: i64,
}

#[derive(Serialize, ToSchema)]
pub struct ConversationList {
    pub data: Vec<ConversationInfo>,
    /// More conversations follow: ask again with a larger `offset`.
    pub has_more: bool,
}

#[derive(Serialize, ToSchema)]
pub struct MessageInfo {
    pub id: Uuid,
    /// `user` or `assistant`.
    pub role: String,
    pub content: String,
    /// `complete`, `streaming` or `failed`.
    pub status: String,
    pub finish_reason: Option<String>,
    pub error: Option<String>,
    pub citations: Vec<Citation>,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

impl From<&MessageView> for MessageInfo {
    fn from(m: &MessageView) -> Self {
        MessageInfo {
            id: m.id,
            role: match m.role {
                Role::User => "user",
                Role::Assistant => "assistant",
            }
            .into(),
            content: m.content.clone(),
            status: match m.status {
                MessageStatus::Streaming => "streaming",
                MessageStatus::Complete => "complete",
                MessageStatus::Failed => "failed",
            }
            .into(),
            finish_reason: m.finish_reason.map(|f| f.as_str().to_owned()),
            error: m.error.clone(),
            citations: Citation::all(m),
            created_at: m.created_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ConversationDetail {
    pub id: Uuid,
    pub title: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub messages: Vec<MessageInfo>,
}

/// A document of a bot's knowledge and where it is in the pipeline.
#[derive(Serialize, ToSchema)]
pub struct DocumentInfo {
    pub id: Uuid,
    pub name: String,
    /// `upload`, `url`, `text` or `qa`.
    pub source: String,
    pub mime: String,
    pub size_bytes: i64,
    /// `queued`, `extracting`, `chunking`, `embedding`, `indexing`, `ready` or `failed`.
    pub status: String,
    /// 0–1 through the whole pipeline.
    pub progress: f32,
    /// Why it failed, when it did.
    pub error: Option<String>,
    pub enabled: bool,
    pub chunk_count: i32,
    pub page_count: Option<i32>,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

impl From<DocumentSummary> for DocumentInfo {
    fn from(d: DocumentSummary) -> Self {
        DocumentInfo {
            id: d.id,
            name: d.name,
            source: d.source,
            mime: d.mime,
            size_bytes: d.size_bytes,
            status: d.status.as_str().to_owned(),
            progress: d.progress,
            error: d.error,
            enabled: d.enabled,
            chunk_count: d.chunk_count,
            page_count: d.page_count,
            created_at: d.created_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct DocumentList {
    pub data: Vec<DocumentInfo>,
}

/// A document added as JSON: a web page by `url`, or a `title` and `text`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddDocument {
    /// An `http`/`https` page, fetched and re-fetched by the server.
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    /// Markdown or plain text.
    #[serde(default)]
    pub text: Option<String>,
}

/// A document added (or found already there with the same content).
#[derive(Serialize, ToSchema)]
pub struct AddedDocument {
    pub document: DocumentInfo,
    /// The same content was already in this bot: nothing new was queued.
    pub already_present: bool,
}

/// The multipart form of a file upload.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct UploadForm {
    /// One file: PDF, DOCX, PPTX, XLSX/XLS/ODS, CSV, HTML, Markdown or text.
    #[schema(value_type = String, format = Binary)]
    pub file: Vec<u8>,
}
