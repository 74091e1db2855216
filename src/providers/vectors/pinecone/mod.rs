//! Pinecone (serverless) over its REST API. One index per embedding space, created on first
//! use and waited for until Ready (a deployment with one embedding model has one index); one
//! namespace per bot in it. Records are `{document}#{generation}#{ordinal:05}` with the document id
//! in metadata, so a document's vectors are found by listing the id prefix (the delimiter
//! included: `doc1#` never matches `doc10#`). Matches are mapped back to the bot's live,
//! enabled chunks in PostgreSQL, which is also where keyword search stays.
//!
//! Writes are eventually visible: an upsert returns `x-pinecone-request-lsn`, a query
//! `x-pinecone-max-indexed-lsn`; `upsert` returns only once its writes are searchable, so a
//! document is never shown "ready" before questions can find it.

mod control;
mod data;

pub use control::index_name;
pub use data::{batches, record_id};

use super::{VectorError, VectorHit, VectorRecord, VectorStore};
use data::{lsn_header, parse_record_id, QueryResponse};
use crate::providers::retry::{retryable_status, within, Backoff, Outcome};
use crate::providers::BoxFuture;
use serde_json::json;
use sqlx::PgPool;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;
use uuid::Uuid;

/// Pinecone's limits per upsert request.
pub const MAX_UPSERT_RECORDS: usize = 1000;
pub const MAX_UPSERT_BYTES: usize = 2 * 1024 * 1024;
/// Ids per delete request.
pub const MAX_DELETE_IDS: usize = 1000;
const API_VERSION: &str = "2025-04";

#[derive(Clone)]
pub struct PineconeConfig {
    /// `https://api.pinecone.io`; data-plane hosts are reached with the same scheme.
    pub control_url: String,
    pub api_key: String,
    /// Index names are `{prefix}-{embedding space}`.
    pub index_prefix: String,
    pub cloud: String,
    pub region: String,
    pub backoff: Backoff,
    /// How long to wait for a new index to become Ready, and for writes to become searchable.
    pub ready_timeout: Duration,
    pub freshness_timeout: Duration,
    pub poll: Duration,
}

pub struct PineconeStore {
    client: reqwest::Client,
    config: PineconeConfig,
    db: PgPool,
    /// Index name → data-plane host, cached: describe-index is not for every request.
    hosts: Mutex<HashMap<String, String>>,
}

pub(super) fn namespace(bot: Uuid) -> String {
    format!("bot-{bot}")
}

/// A data-plane or control-plane answer worth reading.
pub(super) struct Reply {
    pub(super) status: u16,
    pub(super) headers: reqwest::header::HeaderMap,
    pub(super) body: String,
}

impl PineconeStore {
    pub fn new(client: reqwest::Client, config: PineconeConfig, db: PgPool) -> Self {
        Self { client, config, db, hosts: Mutex::new(HashMap::new()) }
    }

    fn scheme(&self) -> &str {
        if self.config.control_url.starts_with("http://") { "http" } else { "https" }
    }

    /// Sends with Pinecone's headers, retrying 429 and 5xx with backoff. Statuses in `ok` are
    /// returned as they are (e.g. 404 where "not there" is an answer); other failures become
    /// errors that say what happened.
    pub(super) async fn send(&self, method: reqwest::Method, url: &str, body: Option<&serde_json::Value>, ok: &[u16]) -> Result<Reply, VectorError> {
        let (backoff, method) = (&self.config.backoff, &method);
        backoff
            .run("Pinecone", |attempt| async move {
                let mut request = self.client.request(method.clone(), url).header("Api-Key", &self.config.api_key).header("X-Pinecone-API-Version", API_VERSION);
                if let Some(body) = body {
                    request = request.json(body);
                }
                let answer = within(backoff.deadline, async {
                    let response = request.send().await?;
                    let (status, headers) = (response.status().as_u16(), response.headers().clone());
                    Ok((status, headers, response.text().await?))
                });
                match answer.await {
                    Err(e) => {
                        tracing::warn!(attempt, error = %e, "Pinecone unreachable");
                        Outcome::Again { asked: None, failure: VectorError::Transient(format!("Pinecone unreachable: {e}")) }
                    }
                    Ok((status, headers, body)) if (200..300).contains(&status) || ok.contains(&status) => Outcome::Done(Reply { status, headers, body }),
                    Ok((status, _, body)) => {
                        tracing::warn!(attempt, status, body = %body.chars().take(200).collect::<String>(), "Pinecone refused");
                        Outcome::failed(retryable_status(status), None, error(status, &body))
                    }
                }
            })
            .await
    }

    pub(super) fn data_url(&self, host: &str, path: &str) -> String {
        format!("{}://{host}{path}", self.scheme())
    }


}

/// Pinecone's errors: JSON `{code, message}` (data plane), `{error: {code, message}}` (control
/// plane), or plain text (a data-plane 401).
fn error(status: u16, body: &str) -> VectorError {
    let value: Option<serde_json::Value> = serde_json::from_str(body).ok();
    let message = value
        .as_ref()
        .and_then(|v| v.pointer("/error/message").or_else(|| v.get("message")))
        .and_then(|m| m.as_str())
        .map(str::to_owned)
        .unwrap_or_else(|| body.trim().chars().take(300).collect());
    match status {
        401 => VectorError::Permanent("Pinecone rejected this server's API key (PINECONE_API_KEY).".into()),
        s if retryable_status(s) => VectorError::Transient(format!("Pinecone is busy or failing ({s}): {message}")),
        s => VectorError::Permanent(format!("Pinecone refused the request ({s}): {message}")),
    }
}

impl VectorStore for PineconeStore {
    fn upsert<'a>(&'a self, bot: Uuid, embedder: &'a str, records: Vec<VectorRecord>) -> BoxFuture<'a, Result<(), VectorError>> {
        Box::pin(async move {
            let Some(first) = records.first() else { return Ok(()) };
            let host = self.host(embedder, Some(first.vector.len())).await?.unwrap_or_default();
            let ns = namespace(bot);
            // Beside the live version's records; the old ones go after the swap (`retire_versions`).
            let ided: Vec<(String, &VectorRecord)> = records.iter().map(|r| (record_id(r.document_id, r.generation, r.ordinal), r)).collect();
            let mut lsn = None;
            for body in batches(&ns, &ided) {
                let reply = self.send(reqwest::Method::POST, &self.data_url(&host, "/vectors/upsert"), Some(&body), &[]).await?;
                lsn = lsn.max(lsn_header(&reply.headers, "x-pinecone-request-lsn"));
            }
            if let Some(lsn) = lsn {
                self.wait_visible(&host, &ns, &first.vector, lsn).await?;
            }
            Ok(())
        })
    }

    fn query<'a>(&'a self, bot: Uuid, embedder: &'a str, query: &'a [f32], k: usize) -> BoxFuture<'a, Result<Vec<VectorHit>, VectorError>> {
        Box::pin(async move {
            let Some(host) = self.host(embedder, None).await? else { return Ok(Vec::new()) };
            let disabled: Vec<String> = sqlx::query_scalar("SELECT id::text FROM documents WHERE bot_id = $1 AND NOT enabled").bind(bot).fetch_all(&self.db).await?;
            // A few extra: records of a document being re-indexed may not map to live chunks.
            let mut body = json!({"namespace": namespace(bot), "topK": (k + 10).min(10_000), "vector": query, "includeMetadata": true, "includeValues": false});
            if !disabled.is_empty() {
                body["filter"] = json!({"document_id": {"$nin": disabled}});
            }
            let reply = self.send(reqwest::Method::POST, &self.data_url(&host, "/query"), Some(&body), &[]).await?;
            let found: QueryResponse = serde_json::from_str(&reply.body).map_err(|e| VectorError::Transient(format!("Pinecone query: {e}")))?;
            let keys: Vec<((Uuid, Option<i32>, i32), f32)> = found.matches.iter().filter_map(|m| Some((parse_record_id(&m.id)?, m.score))).collect();
            let docs: Vec<Uuid> = keys.iter().map(|k| k.0 .0).collect();
            let generations: Vec<Option<i32>> = keys.iter().map(|k| k.0 .1).collect();
            let ordinals: Vec<i32> = keys.iter().map(|k| k.0 .2).collect();
            // The bot's live, enabled chunks only: whatever the index returns, nothing of
            // another bot, of a disabled document or of a version not (or no longer) live gets
            // through.
            let rows: Vec<(Uuid, Option<i32>, i32, i64)> = sqlx::query_as(
                "SELECT k.document_id, k.generation, k.ordinal, c.id
                   FROM UNNEST($2::uuid[], $3::int[], $4::int[]) AS k(document_id, generation, ordinal)
                   JOIN chunks c ON c.document_id = k.document_id AND c.ordinal = k.ordinal AND c.bot_id = $1
                                AND c.generation = coalesce(k.generation, c.generation)
                   JOIN documents d ON d.id = c.document_id AND d.generation = c.generation AND d.enabled",
            )
            .bind(bot)
            .bind(&docs)
            .bind(&generations)
            .bind(&ordinals)
            .fetch_all(&self.db)
            .await?;
            let live: HashMap<(Uuid, Option<i32>, i32), i64> = rows.into_iter().map(|(d, g, o, id)| ((d, g, o), id)).collect();
            Ok(keys.into_iter().filter_map(|(key, score)| live.get(&key).map(|&chunk_id| VectorHit { chunk_id, score })).take(k).collect())
        })
    }

    fn delete_document<'a>(&'a self, bot: Uuid, document: Uuid) -> BoxFuture<'a, Result<(), VectorError>> {
        Box::pin(async move {
            let ns = namespace(bot);
            for host in self.all_hosts().await? {
                let ids = self.list_ids(&host, &ns, &format!("{document}#")).await?;
                self.delete_ids(&host, &ns, &ids).await?;
            }
            Ok(())
        })
    }

    fn retire_versions<'a>(&'a self, bot: Uuid, document: Uuid, live: i32) -> BoxFuture<'a, Result<(), VectorError>> {
        Box::pin(async move {
            let ns = namespace(bot);
            for host in self.all_hosts().await? {
                let stale: Vec<String> = self
                    .list_ids(&host, &ns, &format!("{document}#"))
                    .await?
                    .into_iter()
                    .filter(|id| parse_record_id(id).is_none_or(|(_, generation, _)| generation.is_none_or(|g| g < live)))
                    .collect();
                self.delete_ids(&host, &ns, &stale).await?;
            }
            Ok(())
        })
    }

    fn delete_bot<'a>(&'a self, bot: Uuid) -> BoxFuture<'a, Result<(), VectorError>> {
        Box::pin(async move {
            for host in self.all_hosts().await? {
                self.delete_namespace(&host, bot).await?;
            }
            Ok(())
        })
    }

    fn delete_space<'a>(&'a self, bot: Uuid, embedder: &'a str) -> BoxFuture<'a, Result<(), VectorError>> {
        Box::pin(async move {
            if let Some(host) = self.host(embedder, None).await? {
                self.delete_namespace(&host, bot).await?;
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_names_follow_pinecone_rules() {
        assert_eq!(index_name("chatsphere", "local/all-MiniLM-L6-v2"), "chatsphere-local-all-minilm-l6-v2");
        assert_eq!(index_name("chatsphere", "gemini/gemini-embedding-001@768"), "chatsphere-gemini-gemini-embedding-001-768");
        let long = index_name("chatsphere", "someone/a-very-long-embedding-model-name-v3@1536");
        let other = index_name("chatsphere", "someone/a-very-long-embedding-model-name-v3@3072");
        assert!(long.len() <= 45 && other.len() <= 45 && long != other, "{long} {other}");
        assert!(long.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'));
    }

    #[test]
    fn upserts_stay_under_both_limits() {
        let doc = Uuid::new_v4();
        let records: Vec<VectorRecord> = (0..2500).map(|i| VectorRecord { chunk_id: i, document_id: doc, generation: 1, ordinal: i as i32, vector: vec![0.123_456_79; 768] }).collect();
        let ided: Vec<(String, &VectorRecord)> = records.iter().map(|r| (record_id(r.document_id, r.generation, r.ordinal), r)).collect();
        let bodies = batches("bot-x", &ided);
        let total: usize = bodies.iter().map(|b| b["vectors"].as_array().unwrap().len()).sum();
        assert_eq!(total, 2500);
        for b in &bodies {
            assert!(b["vectors"].as_array().unwrap().len() <= MAX_UPSERT_RECORDS);
            assert!(b.to_string().len() < MAX_UPSERT_BYTES, "{} bytes", b.to_string().len());
        }
        assert!(bodies.len() >= 3, "768 floats a record: 2 MB holds a few hundred, so more than count alone would need");
        assert_eq!(record_id(doc, 3, 7), format!("{doc}#3#00007"));
        assert_eq!(parse_record_id(&record_id(doc, 3, 7)), Some((doc, Some(3), 7)));
        assert_eq!(parse_record_id(&format!("{doc}#00007")), Some((doc, None, 7)), "ids written before generations");
        assert_eq!(parse_record_id(&format!("{doc}#1#2#3")), None);
    }
}
