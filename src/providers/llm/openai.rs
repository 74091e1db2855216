//! OpenAI-compatible chat completions (OpenAI, Ollama, llama.cpp server, vLLM): `POST
//! {base}/chat/completions` with `stream: true`. Deltas come as `choices[0].delta.content`,
//! the finish reason on the last choice chunk, usage on a final chunk without choices (asked
//! for with `stream_options.include_usage`), then `data: [DONE]`. Errors are
//! `{"error": {"message", "type", "code"}}`; a 429 may carry `Retry-After`.

use super::sse::{self, Failure, Protocol};
use super::{Llm, LlmEvent, LlmRequest, LlmStream, Speaker};
use crate::domain::FinishReason;
use crate::providers::retry::{retryable_status, Backoff};
use serde::Deserialize;
use serde_json::json;
use std::time::Duration;

#[derive(Clone)]
pub struct OpenAiConfig {
    /// The provider name bots choose it by ("openai", "ollama", …).
    pub name: String,
    /// e.g. `https://api.openai.com/v1`, `http://localhost:11434/v1`.
    pub base_url: String,
    /// Empty for servers that need none (a local Ollama).
    pub api_key: String,
    pub backoff: Backoff,
}

pub struct OpenAiLlm {
    client: reqwest::Client,
    config: OpenAiConfig,
}

impl OpenAiLlm {
    pub fn new(client: reqwest::Client, config: OpenAiConfig) -> Self {
        Self { client, config }
    }
}

impl Llm for OpenAiLlm {
    fn provider(&self) -> &str {
        &self.config.name
    }

    fn rewrites_questions(&self) -> bool {
        true
    }

    fn stream(&self, request: LlmRequest) -> LlmStream {
        let protocol = Stream { body: body(&request), config: self.config.clone(), usage: None, finish: None };
        sse::spawn(self.client.clone(), protocol, self.config.backoff.clone(), "the model server")
    }
}

pub fn body(r: &LlmRequest) -> serde_json::Value {
    let mut messages = vec![json!({"role": "system", "content": r.system})];
    messages.extend(r.history.iter().map(|t| json!({"role": if t.speaker == Speaker::User { "user" } else { "assistant" }, "content": t.text})));
    messages.push(json!({"role": "user", "content": r.grounded_question()}));
    json!({
        "model": r.model,
        "messages": messages,
        "stream": true,
        "stream_options": {"include_usage": true},
        "temperature": r.temperature,
        "max_tokens": r.max_tokens,
    })
}

struct Stream {
    body: serde_json::Value,
    config: OpenAiConfig,
    usage: Option<(u32, u32)>,
    finish: Option<FinishReason>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Chunk {
    choices: Vec<Choice>,
    usage: Option<Usage>,
    error: Option<ErrorBody>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Choice {
    delta: Delta,
    finish_reason: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Delta {
    content: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Usage {
    prompt_tokens: u32,
    completion_tokens: u32,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ErrorBody {
    message: String,
}

#[derive(Deserialize)]
struct ErrorEnvelope {
    error: ErrorBody,
}

pub fn finish_reason(raw: &str) -> FinishReason {
    match raw {
        "length" => FinishReason::MaxTokens,
        "content_filter" => FinishReason::Safety,
        _ => FinishReason::Stop,
    }
}

impl Stream {
    fn finished(&mut self) -> Vec<LlmEvent> {
        let mut out = Vec::new();
        if let Some((input, output)) = self.usage {
            out.push(LlmEvent::Usage { input, output });
        }
        out.push(LlmEvent::Finish(self.finish.unwrap_or(FinishReason::Stop)));
        out
    }
}

impl Protocol for Stream {
    fn request(&self, client: &reqwest::Client) -> reqwest::RequestBuilder {
        let url = format!("{}/chat/completions", self.config.base_url.trim_end_matches('/'));
        let request = client.post(url).json(&self.body);
        if self.config.api_key.is_empty() {
            request
        } else {
            request.bearer_auth(&self.config.api_key)
        }
    }

    fn error(&self, status: u16, headers: &reqwest::header::HeaderMap, body: &str) -> Failure {
        let detail = serde_json::from_str::<ErrorEnvelope>(body).map(|e| e.error.message).unwrap_or_else(|_| body.trim().chars().take(300).collect());
        let asked: Option<Duration> = headers
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(Duration::from_secs_f64);
        let message = match status {
            401 | 403 => "The model server refused this server's API key; the server's operator has to fix it.".to_string(),
            404 => format!("The model server does not offer this model: {detail}"),
            429 => "The model server is rate-limiting this server; try again in a minute.".to_string(),
            500..=599 => format!("The model server is failing or overloaded right now ({status}); try again in a minute."),
            _ => format!("The model server refused the request ({status}): {detail}"),
        };
        Failure { message, transient: retryable_status(status), asked }
    }

    fn event(&mut self, data: &str) -> Result<Vec<LlmEvent>, Failure> {
        if data.trim() == "[DONE]" {
            return Ok(self.finished());
        }
        let chunk: Chunk = serde_json::from_str(data)
            .map_err(|e| Failure::permanent(format!("The model server sent something unreadable ({e}); try again.")))?;
        if let Some(error) = chunk.error {
            return Err(Failure::permanent(format!("The model server failed: {}", error.message)));
        }
        if let Some(u) = chunk.usage {
            self.usage = Some((u.prompt_tokens, u.completion_tokens));
        }
        let mut out = Vec::new();
        if let Some(choice) = chunk.choices.into_iter().next() {
            if let Some(text) = choice.delta.content.filter(|t| !t.is_empty()) {
                out.push(LlmEvent::Text(text));
            }
            if let Some(reason) = choice.finish_reason {
                self.finish = Some(finish_reason(&reason));
            }
        }
        Ok(out)
    }

    fn end(&mut self) -> Option<Vec<LlmEvent>> {
        // Some servers close without `[DONE]` after the finish chunk; that is a complete answer.
        self.finish.map(|_| self.finished())
    }

    fn reset(&mut self) {
        self.usage = None;
        self.finish = None;
    }
}
