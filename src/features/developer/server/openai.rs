//! The OpenAI-compatible API under `/v1`, for every tool that already speaks it: `GET /v1/models`
//! lists the bots a key may use (a bot's id is its model id), and `POST /v1/chat/completions`
//! asks the bot named by `model` the last user message, with the earlier user and assistant
//! messages as the history. The bot's persona, knowledge, model and settings apply: a request's
//! own system messages and sampling parameters are accepted and ignored. Citations travel in an
//! extra `citations` field that OpenAI's SDKs pass over.

use super::chat::{self, Question};
use super::keys::ApiKey;
use super::sse::{self, Frame};
use super::wire::{parse, Citation, ErrorBody, Usage};
use crate::features::chat::{ChatEvent, FinishReason, MessageStatus, MessageView};
use crate::providers::llm::{Speaker, Turn};
use crate::server::api_error::ApiError;
use crate::server::state::AppState;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use futures::StreamExt;
use http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

/// A bot, as a model.
#[derive(Serialize, ToSchema)]
pub struct Model {
    /// The bot's id.
    pub id: String,
    /// Always `model`.
    pub object: String,
    /// When the bot was created (Unix seconds).
    pub created: i64,
    pub owned_by: String,
}

#[derive(Serialize, ToSchema)]
pub struct ModelList {
    /// Always `list`.
    pub object: String,
    pub data: Vec<Model>,
}

fn model_of(bot: &super::wire::BotInfo) -> Model {
    Model { id: bot.id.clone(), object: "model".into(), created: bot.created_at.timestamp(), owned_by: "chatsphere".into() }
}

/// The bots this key may use, as models.
#[utoipa::path(get, path = "/v1/models", tag = "openai", security(("api_key" = [])),
    responses((status = 200, body = ModelList), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn list_models(State(state): State<AppState>, Extension(key): Extension<ApiKey>) -> Result<Json<ModelList>, ApiError> {
    let bots = super::usable_bots(&state, &key).await?;
    Ok(Json(ModelList { object: "list".into(), data: bots.iter().map(model_of).collect() }))
}

/// One bot, as a model.
#[utoipa::path(get, path = "/v1/models/{model}", tag = "openai", security(("api_key" = [])),
    params(("model" = String, Path, description = "The bot's id")),
    responses((status = 200, body = Model), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get_model(State(state): State<AppState>, Path(model): Path<String>, Extension(key): Extension<ApiKey>) -> Result<Json<Model>, ApiError> {
    let bots = super::usable_bots(&state, &key).await?;
    bots.iter().find(|b| b.id == model).map(|b| Json(model_of(b))).ok_or_else(|| unknown_model(&model))
}

fn unknown_model(model: &str) -> ApiError {
    ApiError { param: Some("model".into()), ..ApiError::new(StatusCode::NOT_FOUND, format!("The model '{model}' does not exist or you do not have access to it.")).code("model_not_found") }
}

/// A chat completion request. Other OpenAI parameters (temperature, top_p, max_tokens, …) are
/// accepted and ignored: the bot's own settings apply.
#[derive(Deserialize, ToSchema)]
pub struct CompletionRequest {
    /// The bot's id.
    pub model: String,
    /// The conversation so far; the last one is the user's question. System and developer
    /// messages are ignored (the bot's persona applies).
    pub messages: Vec<InputMessage>,
    #[serde(default)]
    pub stream: Option<bool>,
    #[serde(default)]
    pub stream_options: Option<StreamOptions>,
    /// Only 1.
    #[serde(default)]
    pub n: Option<u32>,
    /// Your id for the person chatting; analytics counts people by it.
    #[serde(default)]
    pub user: Option<String>,
    /// Not supported: bots answer from their knowledge.
    #[serde(default)]
    #[schema(value_type = Option<Vec<Object>>)]
    pub tools: Option<Vec<serde_json::Value>>,
}

#[derive(Deserialize, ToSchema)]
pub struct InputMessage {
    /// `system`, `developer`, `user`, `assistant` or `tool`.
    pub role: String,
    #[serde(default)]
    pub content: Option<Content>,
}

/// Text, or text parts.
#[derive(Deserialize, ToSchema)]
#[serde(untagged)]
pub enum Content {
    Text(String),
    Parts(Vec<ContentPart>),
}

#[derive(Deserialize, ToSchema)]
pub struct ContentPart {
    /// Only `text`.
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub text: Option<String>,
}

#[derive(Deserialize, ToSchema)]
pub struct StreamOptions {
    /// Send a last chunk with the usage (and no choices) before `[DONE]`.
    #[serde(default)]
    pub include_usage: bool,
}

#[derive(Serialize, ToSchema)]
pub struct CompletionUsage {
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub total_tokens: i64,
}

impl From<Usage> for CompletionUsage {
    fn from(u: Usage) -> Self {
        CompletionUsage { prompt_tokens: u.input_tokens, completion_tokens: u.output_tokens, total_tokens: u.input_tokens + u.output_tokens }
    }
}

#[derive(Serialize, ToSchema)]
pub struct OutputMessage {
    /// Always `assistant`.
    pub role: String,
    pub content: String,
    pub refusal: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct Choice {
    pub index: u32,
    pub message: OutputMessage,
    /// `stop`, `length` (cut at the bot's answer length) or `content_filter`.
    pub finish_reason: String,
    #[schema(value_type = Option<Object>)]
    pub logprobs: Option<serde_json::Value>,
}

/// A whole completion. Streamed (`stream: true`), it arrives as `chat.completion.chunk`
/// server-sent events ending with `data: [DONE]`; the chunk with the `finish_reason` (and the
/// usage chunk, when asked for) carries `citations`.
#[derive(Serialize, ToSchema)]
pub struct Completion {
    /// `chatcmpl-` and the answer's message id.
    pub id: String,
    /// Always `chat.completion`.
    pub object: String,
    pub created: i64,
    pub model: String,
    pub choices: Vec<Choice>,
    pub usage: CompletionUsage,
    /// The passages the answer was built from (an extension; OpenAI's SDKs ignore it).
    pub citations: Vec<Citation>,
    /// The conversation stored for this request (an extension).
    pub conversation_id: Uuid,
}

fn finish_reason(f: Option<FinishReason>) -> &'static str {
    match f {
        Some(FinishReason::MaxTokens) => "length",
        Some(FinishReason::Safety | FinishReason::Recitation | FinishReason::Blocked) => "content_filter",
        _ => "stop",
    }
}

/// The question and the history the request carries, or the parameter at fault.
fn conversation_of(messages: &[InputMessage]) -> Result<(String, Vec<Turn>), ApiError> {
    let text_of = |i: usize, m: &InputMessage| -> Result<String, ApiError> {
        match &m.content {
            None => Ok(String::new()),
            Some(Content::Text(t)) => Ok(t.clone()),
            Some(Content::Parts(parts)) => {
                let mut text = String::new();
                for part in parts {
                    match (part.kind.as_str(), &part.text) {
                        ("text", Some(t)) => text.push_str(t),
                        _ => return Err(ApiError::invalid(&format!("messages[{i}].content"), "Only text content is supported.")),
                    }
                }
                Ok(text)
            }
        }
    };
    let Some((last, earlier)) = messages.split_last() else {
        return Err(ApiError::invalid("messages", "messages must hold at least the user's question."));
    };
    if last.role != "user" {
        return Err(ApiError::invalid(&format!("messages[{}].role", messages.len() - 1), "The last message must be the user's question (role \"user\")."));
    }
    let mut history = Vec::new();
    for (i, m) in earlier.iter().enumerate() {
        let speaker = match m.role.as_str() {
            "user" => Speaker::User,
            "assistant" => Speaker::Assistant,
            "system" | "developer" | "tool" => continue,
            other => return Err(ApiError::invalid(&format!("messages[{i}].role"), format!("Unknown role \"{other}\"."))),
        };
        let text = text_of(i, m)?;
        if !text.trim().is_empty() {
            history.push(Turn { speaker, text, searched: None });
        }
    }
    Ok((text_of(messages.len() - 1, last)?, history))
}

/// Ask a bot, OpenAI-style.
#[utoipa::path(post, path = "/v1/chat/completions", tag = "openai", security(("api_key" = [])),
    request_body(content = CompletionRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The completion (JSON), or its chunks (`text/event-stream`)", content((Completion = "application/json"), (String = "text/event-stream"))),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 429, body = ErrorBody), (status = 502, body = ErrorBody)))]
pub async fn chat_completions(State(state): State<AppState>, Extension(key): Extension<ApiKey>, body: Body) -> Result<Response, ApiError> {
    let request: CompletionRequest = parse(&super::native::read_body(body).await?)?;
    if request.n.is_some_and(|n| n != 1) {
        return Err(ApiError::invalid("n", "Only n = 1 is supported."));
    }
    if request.tools.as_ref().is_some_and(|t| !t.is_empty()) {
        return Err(ApiError::invalid("tools", "Tools are not supported: bots answer from their knowledge."));
    }
    let (question, history) = conversation_of(&request.messages)?;
    let model = request.model.clone();
    let ask = Question { bot: &model, text: &question, param: "messages", conversation: None, history: Some(history), person: request.user.as_deref() };
    let stream = chat::start(&state, &key, ask).await.map_err(|e| if e.code == Some("bot_not_found") { unknown_model(&model) } else { e })?;
    let created = chrono::Utc::now().timestamp();
    if !request.stream.unwrap_or(false) {
        let answered = chat::whole(stream).await?;
        return whole(answered, &model, created);
    }
    let include_usage = request.stream_options.is_some_and(|o| o.include_usage);
    let mut id = String::new();
    let mut conversation = Uuid::nil();
    let frames = chat::events(stream).flat_map(move |event| {
        let chunk = |id: &str, choices: serde_json::Value| json!({ "id": id, "object": "chat.completion.chunk", "created": created, "model": model, "choices": choices });
        let frames: Vec<Frame> = match event {
            ChatEvent::Started { conversation: c, answer_id, .. } => {
                id = format!("chatcmpl-{}", answer_id.simple());
                conversation = c.id;
                vec![Frame::data(chunk(&id, json!([{ "index": 0, "delta": { "role": "assistant", "content": "" }, "finish_reason": null, "logprobs": null }])).to_string())]
            }
            ChatEvent::Sources { .. } => vec![],
            ChatEvent::Delta { text } => vec![Frame::data(chunk(&id, json!([{ "index": 0, "delta": { "content": text }, "finish_reason": null, "logprobs": null }])).to_string())],
            ChatEvent::Done { answer } => {
                let citations = Citation::all(&answer);
                let mut frames = Vec::new();
                if answer.status == MessageStatus::Failed {
                    frames.push(Frame::data(failed(&answer).body().to_string()));
                } else {
                    let mut last = chunk(&id, json!([{ "index": 0, "delta": {}, "finish_reason": finish_reason(answer.finish_reason), "logprobs": null }]));
                    last["citations"] = json!(citations);
                    last["conversation_id"] = json!(conversation);
                    frames.push(Frame::data(last.to_string()));
                    if include_usage {
                        let mut usage = chunk(&id, json!([]));
                        usage["usage"] = json!(CompletionUsage::from(Usage::of(&answer)));
                        usage["citations"] = json!(citations);
                        frames.push(Frame::data(usage.to_string()));
                    }
                }
                frames.push(Frame::data("[DONE]".into()));
                frames
            }
        };
        futures::stream::iter(frames)
    });
    Ok(sse::response(frames, state.settings.api.keep_alive_secs))
}

/// An answer that failed (the bot's model could not be reached, or broke off): the provider's
/// fault, passed on as a gateway error.
fn failed(answer: &MessageView) -> ApiError {
    let reason = answer.error.clone().unwrap_or_else(|| "The bot's model failed.".into());
    ApiError::new(StatusCode::BAD_GATEWAY, reason).code("answer_failed")
}

fn whole(answered: chat::Answered, model: &str, created: i64) -> Result<Response, ApiError> {
    let answer = &answered.answer;
    if answer.status == MessageStatus::Failed {
        return Err(failed(answer));
    }
    let completion = Completion {
        id: format!("chatcmpl-{}", answer.id.simple()),
        object: "chat.completion".into(),
        created,
        model: model.to_owned(),
        choices: vec![Choice {
            index: 0,
            message: OutputMessage { role: "assistant".into(), content: answer.content.clone(), refusal: None },
            finish_reason: finish_reason(answer.finish_reason).into(),
            logprobs: None,
        }],
        usage: Usage::of(answer).into(),
        citations: Citation::all(answer),
        conversation_id: answered.conversation,
    };
    Ok(Json(completion).into_response())
}
