//! Gemini embeddings over `models/{model}:batchEmbedContents`: at most 100 texts per call,
//! `RETRIEVAL_DOCUMENT` for chunks and `RETRIEVAL_QUERY` for questions, the configured output
//! dimension. Only full-size (3072) vectors come back normalised, so every vector is
//! L2-normalised here before it is stored or compared.

use super::{EmbedError, Embedder, Purpose};
use crate::providers::gemini::{ApiError, GeminiConfig};
use crate::providers::retry::{retryable_status, within, Outcome};
use crate::providers::BoxFuture;
use serde::Deserialize;
use serde_json::json;

/// The service refuses larger batches.
pub const MAX_BATCH: usize = 100;

pub struct GeminiEmbedder {
    client: reqwest::Client,
    config: GeminiConfig,
    model: String,
    dimension: usize,
    id: String,
}

impl GeminiEmbedder {
    pub fn new(client: reqwest::Client, config: GeminiConfig, model: &str, dimension: usize) -> Self {
        Self { client, config, model: model.to_owned(), dimension, id: format!("gemini/{model}@{dimension}") }
    }

    async fn call(&self, texts: &[String], purpose: Purpose) -> Result<Vec<Vec<f32>>, EmbedError> {
        let task = match purpose {
            Purpose::Document => "RETRIEVAL_DOCUMENT",
            Purpose::Query => "RETRIEVAL_QUERY",
        };
        let requests: Vec<_> = texts
            .iter()
            .map(|t| json!({"model": format!("models/{}", self.model), "content": {"parts": [{"text": t}]}, "taskType": task, "outputDimensionality": self.dimension}))
            .collect();
        let body = json!({ "requests": requests });
        let url = self.config.url(&self.model, "batchEmbedContents");
        let (backoff, url, body) = (&self.config.backoff, &url, &body);
        backoff
            .run("Gemini embeddings", |attempt| async move {
                let request = self.client.post(url).header("x-goog-api-key", &self.config.api_key).json(body);
                let answer = within(backoff.deadline, async {
                    let response = request.send().await?;
                    let status = response.status().as_u16();
                    Ok((status, response.text().await?))
                });
                match answer.await {
                    Err(e) => {
                        tracing::warn!(attempt, error = %e, "Gemini embeddings unreachable");
                        Outcome::Again { asked: None, failure: EmbedError::Transient(format!("Gemini embeddings unreachable: {e}")) }
                    }
                    Ok((status, text)) if (200..300).contains(&status) => match parse(&text, texts.len(), self.dimension) {
                        Ok(vectors) => Outcome::Done(vectors),
                        Err(e) => Outcome::Final(e),
                    },
                    Ok((status, text)) => {
                        let error = ApiError::parse(status, &text);
                        let message = error.user_message();
                        tracing::warn!(attempt, status, %message, "Gemini embeddings refused");
                        let failure = if retryable_status(status) { EmbedError::Transient(message) } else { EmbedError::Permanent(message) };
                        Outcome::failed(error.worth_retrying(), error.retry_delay, failure)
                    }
                }
            })
            .await
    }
}

#[derive(Deserialize)]
struct Batch {
    #[serde(default)]
    embeddings: Vec<Values>,
}

#[derive(Deserialize)]
struct Values {
    #[serde(default)]
    values: Vec<f32>,
}

fn parse(body: &str, expected: usize, dimension: usize) -> Result<Vec<Vec<f32>>, EmbedError> {
    let batch: Batch = serde_json::from_str(body).map_err(|e| EmbedError::Transient(format!("Gemini embeddings: unreadable answer: {e}")))?;
    if batch.embeddings.len() != expected || batch.embeddings.iter().any(|v| v.values.len() != dimension) {
        return Err(EmbedError::Transient(format!("Gemini embeddings: expected {expected} vectors of {dimension} values")));
    }
    Ok(batch.embeddings.into_iter().map(|v| normalised(v.values)).collect())
}

pub fn normalised(mut v: Vec<f32>) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
    v
}

impl Embedder for GeminiEmbedder {
    fn id(&self) -> &str {
        &self.id
    }

    fn dimension(&self) -> usize {
        self.dimension
    }

    fn batch_size(&self) -> usize {
        MAX_BATCH
    }

    fn concurrent_calls(&self) -> usize {
        4
    }

    fn embed<'a>(&'a self, texts: Vec<String>, purpose: Purpose) -> BoxFuture<'a, Result<Vec<Vec<f32>>, EmbedError>> {
        Box::pin(async move {
            let mut out = Vec::with_capacity(texts.len());
            for batch in texts.chunks(MAX_BATCH) {
                out.extend(self.call(batch, purpose).await?);
            }
            Ok(out)
        })
    }
}
