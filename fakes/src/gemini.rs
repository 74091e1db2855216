//! A fake Gemini API (v1beta): `streamGenerateContent` (SSE with `alt=sse`, a JSON array
//! without), `generateContent`, `batchEmbedContents`, `embedContent` and `models`. Keys are
//! checked the way Google does (missing: 403, wrong: 400 API_KEY_INVALID), unknown models get
//! the 404, batches over 100 the 400, and tests script replies: safety endings, blocked
//! prompts, 429 with RetryInfo, 503s, dropped and slow streams, CRLF framing, thought parts.

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One scripted answer to the next generate call.
#[derive(Clone, Debug)]
pub enum Reply {
    /// Text in these chunks, then `finish` on a final chunk without parts; `None` drops the
    /// connection instead. `crlf` frames events with CRLF; `thought` adds a thought part.
    Stream { chunks: Vec<String>, finish: Option<String>, crlf: bool, thought: bool, delay_ms: u64 },
    /// 200 with only `promptFeedback.blockReason`.
    Blocked(String),
    /// An error status with Google's error body.
    Error { status: u16, body: Value },
    /// 200, then Google's error body as the only event (errors can arrive inside a stream).
    StreamError(u16),
}

impl Reply {
    pub fn text(chunks: &[&str]) -> Self {
        Reply::Stream { chunks: chunks.iter().map(|c| c.to_string()).collect(), finish: Some("STOP".into()), crlf: false, thought: false, delay_ms: 0 }
    }

    pub fn ending(chunks: &[&str], finish: &str) -> Self {
        Reply::Stream { chunks: chunks.iter().map(|c| c.to_string()).collect(), finish: Some(finish.into()), crlf: false, thought: false, delay_ms: 0 }
    }

    pub fn dropped(chunks: &[&str]) -> Self {
        Reply::Stream { chunks: chunks.iter().map(|c| c.to_string()).collect(), finish: None, crlf: false, thought: false, delay_ms: 0 }
    }

    /// 429 RESOURCE_EXHAUSTED with QuotaFailure and RetryInfo (no Retry-After header).
    pub fn quota(retry_delay: &str, per_day: bool) -> Self {
        let quota = if per_day { "GenerateRequestsPerDayPerProjectPerModel-FreeTier" } else { "GenerateRequestsPerMinutePerProjectPerModel-FreeTier" };
        Reply::Error {
            status: 429,
            body: json!({"error": {"code": 429, "message": format!("You exceeded your current quota. Please retry in {retry_delay}."), "status": "RESOURCE_EXHAUSTED", "details": [
                {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [{"quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests", "quotaId": quota, "quotaDimensions": {"location": "global"}, "quotaValue": "10"}]},
                {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": retry_delay}]}}),
        }
    }

    pub fn overloaded() -> Self {
        Reply::Error { status: 503, body: json!({"error": {"code": 503, "message": "The model is overloaded. Please try again later.", "status": "UNAVAILABLE"}}) }
    }
}

#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    pub model: String,
    pub query: HashMap<String, String>,
    pub body: Value,
}

pub struct GeminiState {
    pub key: String,
    pub models: Vec<String>,
    pub embedding_models: Vec<String>,
    script: Mutex<VecDeque<Reply>>,
    embed_script: Mutex<VecDeque<Reply>>,
    requests: Mutex<Vec<Recorded>>,
    /// Streams whose response body is still open (a client that goes away closes them).
    pub open_streams: AtomicUsize,
    /// Chunks written to streams so far.
    pub chunks_sent: AtomicUsize,
    /// Pause between the chunks of unscripted answers (ms), so a browser can watch them stream.
    pub default_delay_ms: std::sync::atomic::AtomicU64,
}

#[derive(Clone)]
pub struct FakeGemini {
    pub addr: std::net::SocketAddr,
    pub state: Arc<GeminiState>,
}

impl FakeGemini {
    pub async fn start(key: &str, port: u16) -> std::io::Result<Self> {
        let state = Arc::new(GeminiState {
            key: key.to_owned(),
            models: vec!["gemini-2.5-flash".into(), "gemini-2.5-flash-lite".into(), "gemini-2.5-pro".into()],
            embedding_models: vec!["gemini-embedding-001".into()],
            script: Mutex::new(VecDeque::new()),
            embed_script: Mutex::new(VecDeque::new()),
            requests: Mutex::new(Vec::new()),
            open_streams: AtomicUsize::new(0),
            chunks_sent: AtomicUsize::new(0),
            default_delay_ms: std::sync::atomic::AtomicU64::new(15),
        });
        let router = Router::new()
            .route("/v1beta/models", get(list_models))
            .route("/v1beta/models/{call}", post(call))
            .with_state(state.clone());
        Ok(Self { addr: super::serve(router, port).await?, state })
    }

    pub fn base_url(&self) -> String {
        format!("http://{}/v1beta", self.addr)
    }

    /// Replies for the next generate calls, in order; afterwards the default answer.
    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        self.state.script.lock().unwrap().extend(replies);
    }

    /// Error replies for the next embedding calls.
    pub fn script_embeddings(&self, replies: impl IntoIterator<Item = Reply>) {
        self.state.embed_script.lock().unwrap().extend(replies);
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.state.requests.lock().unwrap().clone()
    }
}

fn error(status: u16, google_status: &str, message: &str) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (code, Json(json!({"error": {"code": status, "message": message, "status": google_status}}))).into_response()
}

async fn list_models(State(state): State<Arc<GeminiState>>, headers: HeaderMap, Query(query): Query<HashMap<String, String>>) -> Response {
    if let Some(denied) = check_key(&state, &headers, &query) {
        return denied;
    }
    let models: Vec<Value> = state
        .models
        .iter()
        .map(|m| json!({"name": format!("models/{m}"), "inputTokenLimit": 1048576, "outputTokenLimit": 65536, "supportedGenerationMethods": ["generateContent", "countTokens"]}))
        .chain(state.embedding_models.iter().map(|m| json!({"name": format!("models/{m}"), "supportedGenerationMethods": ["embedContent"]})))
        .collect();
    Json(json!({ "models": models })).into_response()
}

fn check_key(state: &GeminiState, headers: &HeaderMap, query: &HashMap<String, String>) -> Option<Response> {
    let key = headers.get("x-goog-api-key").and_then(|v| v.to_str().ok()).map(str::to_owned).or_else(|| query.get("key").cloned());
    match key {
        None => Some(error(403, "PERMISSION_DENIED", "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.")),
        Some(k) if k != state.key => Some(
            (StatusCode::BAD_REQUEST, Json(json!({"error": {"code": 400, "message": "API key not valid. Please pass a valid API key.", "status": "INVALID_ARGUMENT",
                "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID", "domain": "googleapis.com"}]}})))
                .into_response(),
        ),
        Some(_) => None,
    }
}

async fn call(State(state): State<Arc<GeminiState>>, Path(call): Path<String>, headers: HeaderMap, Query(query): Query<HashMap<String, String>>, body: Bytes) -> Response {
    let Some((model, method)) = call.split_once(':') else { return error(404, "NOT_FOUND", "Method not found.") };
    if let Some(denied) = check_key(&state, &headers, &query) {
        return denied;
    }
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.");
    };
    state.requests.lock().unwrap().push(Recorded { method: method.into(), model: model.into(), query: query.clone(), body: body.clone() });
    let known = match method {
        "batchEmbedContents" | "embedContent" => state.embedding_models.iter().any(|m| m == model),
        _ => state.models.iter().any(|m| m == model),
    };
    if !known {
        return error(404, "NOT_FOUND", &format!("models/{model} is not found for API version v1beta, or is not supported for {method}. Call ListModels to see the list of available models and their supported methods."));
    }
    match method {
        "batchEmbedContents" => embed_batch(&state, model, &body),
        "embedContent" => {
            if let Some(Reply::Error { status, body }) = state.embed_script.lock().unwrap().pop_front() {
                return (StatusCode::from_u16(status).unwrap(), Json(body)).into_response();
            }
            let dim = body.get("outputDimensionality").and_then(|d| d.as_u64()).unwrap_or(3072) as usize;
            Json(json!({"embedding": {"values": embedding(&text_of(&body["content"]), dim)}})).into_response()
        }
        "streamGenerateContent" | "generateContent" => generate(&state, method, &query, &body),
        _ => error(404, "NOT_FOUND", "Method not found."),
    }
}

fn text_of(content: &Value) -> String {
    content["parts"].as_array().map(|parts| parts.iter().filter_map(|p| p["text"].as_str()).collect::<Vec<_>>().join("")).unwrap_or_default()
}

/// Full-size (3072) vectors come normalised; cut ones do not, as with the real model.
fn embedding(text: &str, dim: usize) -> Vec<f32> {
    let v = super::hashed_embedding(text, dim);
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    let scale = if dim == 3072 { 1.0 / norm } else { 0.37 };
    v.into_iter().map(|x| x * scale).collect()
}

fn embed_batch(state: &GeminiState, model: &str, body: &Value) -> Response {
    if let Some(Reply::Error { status, body }) = state.embed_script.lock().unwrap().pop_front() {
        return (StatusCode::from_u16(status).unwrap(), Json(body)).into_response();
    }
    let Some(requests) = body.get("requests").and_then(|r| r.as_array()) else {
        return error(400, "INVALID_ARGUMENT", "* BatchEmbedContentsRequest.requests: requests is required");
    };
    if requests.len() > 100 {
        return error(400, "INVALID_ARGUMENT", "* BatchEmbedContentsRequest.requests: at most 100 requests can be in one batch");
    }
    let mut out = Vec::new();
    for (i, r) in requests.iter().enumerate() {
        let named = r.get("model").and_then(|m| m.as_str()).unwrap_or_default();
        if named != format!("models/{model}") {
            return error(400, "INVALID_ARGUMENT", &format!("* BatchEmbedContentsRequest.requests[{i}].model: unexpected model name format"));
        }
        let dim = r.get("outputDimensionality").and_then(|d| d.as_u64()).unwrap_or(3072) as usize;
        if !(128..=3072).contains(&dim) {
            return error(400, "INVALID_ARGUMENT", "* outputDimensionality must be between 128 and 3072");
        }
        out.push(json!({"values": embedding(&text_of(&r["content"]), dim)}));
    }
    Json(json!({ "embeddings": out })).into_response()
}

fn usage(prompt: usize, answer: usize) -> Value {
    json!({"promptTokenCount": prompt, "candidatesTokenCount": answer, "totalTokenCount": prompt + answer})
}

fn generate(state: &Arc<GeminiState>, method: &str, query: &HashMap<String, String>, body: &Value) -> Response {
    let prompt = body["contents"].as_array().and_then(|c| c.last()).map(text_of).unwrap_or_default();
    let reply = state.script.lock().unwrap().pop_front().unwrap_or_else(|| {
        let answer = super::answer_from_prompt(&prompt);
        let words: Vec<String> = answer.split_inclusive(' ').map(str::to_owned).collect();
        let delay_ms = state.default_delay_ms.load(Ordering::Relaxed);
        Reply::Stream { chunks: words.chunks(3).map(|c| c.concat()).collect(), finish: Some("STOP".into()), crlf: false, thought: false, delay_ms }
    });
    let prompt_tokens = prompt.len() / 4 + 1;
    let (chunks, finish, crlf, thought, delay_ms) = match reply {
        Reply::Error { status, body } => return (StatusCode::from_u16(status).unwrap(), Json(body)).into_response(),
        Reply::StreamError(status) => {
            let event = json!({"error": {"code": status, "message": "The model is overloaded. Please try again later.", "status": "UNAVAILABLE"}});
            return respond(state, method, query, vec![event], Some(String::new()), false, 0);
        }
        Reply::Blocked(reason) => {
            // A blocked prompt: one event, no candidates, and the stream simply ends.
            let event = json!({"promptFeedback": {"blockReason": reason}, "usageMetadata": {"promptTokenCount": prompt_tokens, "totalTokenCount": prompt_tokens}});
            return respond(state, method, query, vec![event], Some(String::new()), false, 0);
        }
        Reply::Stream { chunks, finish, crlf, thought, delay_ms } => (chunks, finish, crlf, thought, delay_ms),
    };
    let mut events: Vec<Value> = Vec::new();
    let mut written = 0;
    for (i, text) in chunks.iter().enumerate() {
        written += text.len() / 4 + 1;
        let mut parts = vec![json!({"text": text})];
        if thought && i == 0 {
            parts.insert(0, json!({"text": "Let me think about the passages first.", "thought": true}));
        }
        events.push(json!({"candidates": [{"content": {"role": "model", "parts": parts}, "index": 0}], "usageMetadata": usage(prompt_tokens, written), "modelVersion": "gemini-2.5-flash", "responseId": "fake-1"}));
    }
    match &finish {
        Some(reason) if reason == "STOP" || reason == "MAX_TOKENS" => {
            events.push(json!({"candidates": [{"finishReason": reason, "index": 0}], "usageMetadata": usage(prompt_tokens, written), "modelVersion": "gemini-2.5-flash", "responseId": "fake-1"}));
        }
        Some(reason) => {
            // Safety-like endings: no content, a blocked rating, no candidatesTokenCount.
            events.push(json!({"candidates": [{"finishReason": reason, "index": 0, "safetyRatings": [{"category": "HARM_CATEGORY_HARASSMENT", "probability": "HIGH", "blocked": true}]}],
                "usageMetadata": {"promptTokenCount": prompt_tokens, "totalTokenCount": prompt_tokens}}));
        }
        None => {}
    }
    respond(state, method, query, events, finish, crlf, delay_ms)
}

fn respond(state: &Arc<GeminiState>, method: &str, query: &HashMap<String, String>, events: Vec<Value>, finish: Option<String>, crlf: bool, delay_ms: u64) -> Response {
    if method == "generateContent" {
        let text: String = events.iter().filter_map(|e| e["candidates"][0]["content"]["parts"][0]["text"].as_str()).collect();
        let last = events.last().cloned().unwrap_or(json!({}));
        let mut whole = last.clone();
        if let Some(c) = whole["candidates"].get_mut(0) {
            c["content"] = json!({"role": "model", "parts": [{"text": text}]});
        }
        return Json(whole).into_response();
    }
    let sse = query.get("alt").map(|a| a == "sse").unwrap_or(false);
    let dropped = finish.is_none();
    let sep = if crlf { "\r\n\r\n" } else { "\n\n" };
    let frames: Vec<String> = if sse {
        events.iter().map(|e| format!("data: {e}{sep}")).collect()
    } else {
        // Without alt=sse: one JSON array, streamed in pieces.
        let n = events.len();
        events.iter().enumerate().map(|(i, e)| format!("{}{e}{}", if i == 0 { "[" } else { "\r\n," }, if i + 1 == n { "]" } else { "" })).collect()
    };
    state.open_streams.fetch_add(1, Ordering::SeqCst);
    let guard = StreamGuard(state.clone());
    let stream = futures::stream::unfold((frames.into_iter(), guard, dropped), move |(mut frames, guard, dropped)| async move {
        match frames.next() {
            Some(frame) => {
                if delay_ms > 0 {
                    tokio::time::sleep(Duration::from_millis(delay_ms)).await;
                }
                guard.0.chunks_sent.fetch_add(1, Ordering::SeqCst);
                Some((Ok::<_, std::io::Error>(Bytes::from(frame)), (frames, guard, dropped)))
            }
            // A dropped connection: the body fails instead of ending (after what was sent
            // has had time to reach the client, as on a real network).
            None if dropped => {
                tokio::time::sleep(Duration::from_millis(100)).await;
                Some((Err(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "dropped")), (frames, guard, false)))
            }
            None => None,
        }
    });
    let content_type = if sse { "text/event-stream" } else { "application/json" };
    Response::builder().header("content-type", content_type).body(Body::from_stream(stream)).unwrap()
}

/// Counts a stream as closed when its body is dropped (finished, or the client went away).
struct StreamGuard(Arc<GeminiState>);

impl Drop for StreamGuard {
    fn drop(&mut self) {
        self.0.open_streams.fetch_sub(1, Ordering::SeqCst);
    }
}
