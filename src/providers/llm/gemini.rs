//! Google Gemini over `models/{model}:streamGenerateContent?alt=sse`: the persona as system
//! instruction, the conversation as alternating user/model contents, the passages and question
//! as the last user turn. Text parts are deltas (thought parts are skipped), usage is
//! cumulative (the last one counts), the finish reason comes on the last chunk only, and a
//! blocked prompt is a single event with `promptFeedback.blockReason` and no candidates.

use super::sse::{self, Failure, Protocol};
use super::{Llm, LlmEvent, LlmRequest, LlmStream, Speaker};
use crate::domain::FinishReason;
use crate::providers::gemini::{ApiError, GeminiConfig};
use serde::Deserialize;
use serde_json::json;

pub struct GeminiLlm {
    client: reqwest::Client,
    config: GeminiConfig,
}

impl GeminiLlm {
    pub fn new(client: reqwest::Client, config: GeminiConfig) -> Self {
        Self { client, config }
    }
}

impl Llm for GeminiLlm {
    fn provider(&self) -> &str {
        "gemini"
    }

    fn rewrites_questions(&self) -> bool {
        true
    }

    fn stream(&self, request: LlmRequest) -> LlmStream {
        let protocol = Stream {
            url: format!("{}?alt=sse", self.config.url(&request.model, "streamGenerateContent")),
            body: body(&request),
            config: self.config.clone(),
            usage: None,
            finish: None,
        };
        sse::spawn(self.client.clone(), protocol, self.config.backoff.clone(), "Gemini")
    }
}

/// The generateContent request for an answer.
pub fn body(r: &LlmRequest) -> serde_json::Value {
    let mut contents: Vec<serde_json::Value> = r
        .history
        .iter()
        .map(|t| json!({"role": if t.speaker == Speaker::User { "user" } else { "model" }, "parts": [{"text": t.text}]}))
        .collect();
    contents.push(json!({"role": "user", "parts": [{"text": r.grounded_question()}]}));
    json!({
        "systemInstruction": {"parts": [{"text": r.system}]},
        "contents": contents,
        "generationConfig": {"temperature": r.temperature, "maxOutputTokens": r.max_tokens, "candidateCount": 1},
    })
}

struct Stream {
    url: String,
    body: serde_json::Value,
    config: GeminiConfig,
    usage: Option<(u32, u32)>,
    finish: Option<FinishReason>,
}

// Every field is optional: proto3 JSON leaves out zero values.
#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Chunk {
    candidates: Vec<Candidate>,
    usage_metadata: Option<Usage>,
    prompt_feedback: Option<PromptFeedback>,
    error: Option<serde_json::Value>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Candidate {
    content: Option<Content>,
    finish_reason: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Content {
    parts: Vec<Part>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Part {
    text: Option<String>,
    thought: bool,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Usage {
    prompt_token_count: u32,
    candidates_token_count: u32,
    thoughts_token_count: u32,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct PromptFeedback {
    block_reason: Option<String>,
}

/// Gemini's finish reasons in our terms. Unknown (newer) values are accepted as an ordinary end.
pub fn finish_reason(raw: &str) -> FinishReason {
    match raw {
        "STOP" => FinishReason::Stop,
        "MAX_TOKENS" => FinishReason::MaxTokens,
        "SAFETY" | "PROHIBITED_CONTENT" | "SPII" | "BLOCKLIST" | "IMAGE_SAFETY" | "IMAGE_PROHIBITED_CONTENT" => FinishReason::Safety,
        "RECITATION" | "IMAGE_RECITATION" => FinishReason::Recitation,
        other => {
            tracing::info!(reason = other, "Gemini finished for a reason we treat as a plain stop");
            FinishReason::Stop
        }
    }
}

impl Protocol for Stream {
    fn request(&self, client: &reqwest::Client) -> reqwest::RequestBuilder {
        client.post(&self.url).header("x-goog-api-key", &self.config.api_key).json(&self.body)
    }

    fn error(&self, status: u16, _headers: &reqwest::header::HeaderMap, body: &str) -> Failure {
        Failure::from_gemini(&ApiError::parse(status, body))
    }

    fn event(&mut self, data: &str) -> Result<Vec<LlmEvent>, Failure> {
        let chunk: Chunk = serde_json::from_str(data).map_err(|e| Failure::permanent(format!("Gemini sent something unreadable ({e}); try again.")))?;
        if let Some(error) = chunk.error {
            let e = ApiError::parse(error.get("code").and_then(|c| c.as_u64()).unwrap_or(500) as u16, &json!({"error": error}).to_string());
            return Err(Failure::from_gemini(&e));
        }
        let mut out = Vec::new();
        if let Some(u) = chunk.usage_metadata {
            self.usage = Some((u.prompt_token_count, u.candidates_token_count + u.thoughts_token_count));
        }
        if let Some(reason) = chunk.prompt_feedback.and_then(|f| f.block_reason) {
            tracing::info!(%reason, "Gemini blocked the prompt");
            self.finish = Some(FinishReason::Blocked);
        }
        if let Some(candidate) = chunk.candidates.into_iter().next() {
            let text: String = candidate.content.into_iter().flat_map(|c| c.parts).filter(|p| !p.thought).filter_map(|p| p.text).collect();
            if !text.is_empty() {
                out.push(LlmEvent::Text(text));
            }
            if let Some(reason) = candidate.finish_reason {
                self.finish = Some(finish_reason(&reason));
            }
        }
        if let Some(finish) = self.finish {
            if let Some((input, output)) = self.usage {
                out.push(LlmEvent::Usage { input, output });
            }
            out.push(LlmEvent::Finish(finish));
        }
        Ok(out)
    }

    fn end(&mut self) -> Option<Vec<LlmEvent>> {
        None // Gemini always names the finish on its last chunk: without one, the stream was cut
    }

    fn reset(&mut self) {
        self.usage = None;
        self.finish = None;
    }
}
