//! A fake OpenAI-compatible chat endpoint (`POST /v1/chat/completions`, streaming): deltas in
//! `choices[0].delta.content`, the finish reason on the last choice chunk, usage on a final
//! chunk without choices when `stream_options.include_usage` is set, then `data: [DONE]`.
//! Bearer keys are checked when one is configured (Ollama-style servers configure none).

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

#[derive(Clone, Debug)]
pub enum Reply {
    /// Text chunks, then this finish reason (`None`: the connection drops).
    Stream { chunks: Vec<String>, finish: Option<String> },
    /// An error status with an OpenAI error body and an optional `Retry-After` (seconds).
    Error { status: u16, message: String, retry_after: Option<String> },
}

pub struct OpenAiState {
    pub key: Option<String>,
    pub models: Vec<String>,
    script: Mutex<VecDeque<Reply>>,
    requests: Mutex<Vec<Value>>,
}

#[derive(Clone)]
pub struct FakeOpenAi {
    pub addr: std::net::SocketAddr,
    pub state: Arc<OpenAiState>,
}

impl FakeOpenAi {
    pub async fn start(key: Option<&str>, port: u16) -> std::io::Result<Self> {
        let state = Arc::new(OpenAiState { key: key.map(str::to_owned), models: vec!["llama3.2".into(), "gpt-4o-mini".into()], script: Mutex::new(VecDeque::new()), requests: Mutex::new(Vec::new()) });
        let router = Router::new().route("/v1/chat/completions", post(complete)).with_state(state.clone());
        Ok(Self { addr: super::serve(router, port).await?, state })
    }

    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        self.state.script.lock().unwrap().extend(replies);
    }

    pub fn requests(&self) -> Vec<Value> {
        self.state.requests.lock().unwrap().clone()
    }
}

fn error(status: u16, message: &str, kind: &str) -> Response {
    (StatusCode::from_u16(status).unwrap(), Json(json!({"error": {"message": message, "type": kind, "param": null, "code": null}}))).into_response()
}

async fn complete(State(state): State<Arc<OpenAiState>>, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(key) = &state.key {
        let sent = headers.get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
        if sent != Some(key.as_str()) {
            return error(401, "Incorrect API key provided.", "invalid_request_error");
        }
    }
    let Ok(body) = serde_json::from_slice::<Value>(&body) else { return error(400, "We could not parse the JSON body of your request.", "invalid_request_error") };
    state.requests.lock().unwrap().push(body.clone());
    let model = body["model"].as_str().unwrap_or_default().to_owned();
    if !state.models.contains(&model) {
        return error(404, &format!("The model `{model}` does not exist or you do not have access to it."), "invalid_request_error");
    }
    let prompt = body["messages"].as_array().and_then(|m| m.last()).and_then(|m| m["content"].as_str()).unwrap_or_default().to_owned();
    let reply = state.script.lock().unwrap().pop_front().unwrap_or_else(|| {
        let answer = super::answer_from_prompt(&prompt);
        Reply::Stream { chunks: answer.split_inclusive(' ').map(str::to_owned).collect(), finish: Some("stop".into()) }
    });
    let (chunks, finish) = match reply {
        Reply::Error { status, message, retry_after } => {
            let mut r = error(status, &message, if status == 429 { "rate_limit_exceeded" } else { "server_error" });
            if let Some(after) = retry_after {
                r.headers_mut().insert("retry-after", after.parse().unwrap());
            }
            return r;
        }
        Reply::Stream { chunks, finish } => (chunks, finish),
    };
    let include_usage = body["stream_options"]["include_usage"].as_bool().unwrap_or(false);
    let chunk = |delta: Value, finish: Value| json!({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0, "model": model, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]});
    let mut frames = vec![chunk(json!({"role": "assistant", "content": ""}), Value::Null)];
    frames.extend(chunks.iter().map(|c| chunk(json!({"content": c}), Value::Null)));
    let dropped = finish.is_none();
    if let Some(f) = &finish {
        frames.push(chunk(json!({}), json!(f)));
        if include_usage {
            let completion: usize = chunks.iter().map(|c| c.len() / 4 + 1).sum();
            frames.push(json!({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0, "model": model, "choices": [], "usage": {"prompt_tokens": prompt.len() / 4 + 1, "completion_tokens": completion, "total_tokens": prompt.len() / 4 + 1 + completion}}));
        }
    }
    let mut text: Vec<Result<Bytes, std::io::Error>> = frames.iter().map(|f| Ok(Bytes::from(format!("data: {f}\n\n")))).collect();
    if dropped {
        text.push(Err(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "dropped")));
    } else {
        text.push(Ok(Bytes::from("data: [DONE]\n\n")));
    }
    // Each frame is flushed before the next (a dropped connection drops after the client got
    // what was sent, as on a real network).
    let paced = futures::StreamExt::then(futures::stream::iter(text), |frame| async move {
        tokio::time::sleep(std::time::Duration::from_millis(if frame.is_err() { 100 } else { 1 })).await;
        frame
    });
    Response::builder().header("content-type", "text/event-stream").body(Body::from_stream(paced)).unwrap()
}
