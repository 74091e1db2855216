//! Pinecone's data plane: record ids, upsert batches under its limits, listing and deleting
//! by id prefix, and waiting until writes are searchable.

use super::{namespace, PineconeStore, VectorError, MAX_DELETE_IDS, MAX_UPSERT_BYTES, MAX_UPSERT_RECORDS};
use crate::providers::vectors::VectorRecord;
use serde::Deserialize;
use serde_json::json;
use std::time::Instant;
use uuid::Uuid;

/// `{document}#{generation}#{ordinal}`: a document's records share the prefix `{document}#`
/// (for listing and deleting), and a new version's records never overwrite the live one's.
pub fn record_id(document: Uuid, generation: i32, ordinal: i32) -> String {
    format!("{document}#{generation}#{ordinal:05}")
}

/// (document, generation, ordinal) of a record id; the generation is `None` in ids written
/// before generations were part of them (`{document}#{ordinal}`).
pub(super) fn parse_record_id(id: &str) -> Option<(Uuid, Option<i32>, i32)> {
    let mut parts = id.split('#');
    let document = parts.next()?.parse().ok()?;
    match (parts.next(), parts.next(), parts.next()) {
        (Some(g), Some(o), None) => Some((document, Some(g.parse().ok()?), o.parse().ok()?)),
        (Some(o), None, None) => Some((document, None, o.parse().ok()?)),
        _ => None,
    }
}

#[derive(Deserialize)]
pub(super) struct QueryResponse {
    #[serde(default)]
    pub(super) matches: Vec<Match>,
}

#[derive(Deserialize)]
pub(super) struct Match {
    pub(super) id: String,
    #[serde(default)]
    pub(super) score: f32,
}

#[derive(Deserialize)]
struct ListResponse {
    #[serde(default)]
    vectors: Vec<ListedId>,
    pagination: Option<Pagination>,
}

#[derive(Deserialize)]
struct ListedId {
    id: String,
}

#[derive(Deserialize)]
struct Pagination {
    next: Option<String>,
}

impl PineconeStore {
    /// Every record id in `namespace` starting with `prefix`, page by page.
    pub(super) async fn list_ids(&self, host: &str, namespace: &str, prefix: &str) -> Result<Vec<String>, VectorError> {
        let mut ids = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut url = reqwest::Url::parse(&self.data_url(host, "/vectors/list")).map_err(|e| VectorError::Permanent(e.to_string()))?;
            url.query_pairs_mut().append_pair("namespace", namespace).append_pair("prefix", prefix).append_pair("limit", "100");
            if let Some(t) = &token {
                url.query_pairs_mut().append_pair("paginationToken", t);
            }
            let reply = self.send(reqwest::Method::GET, url.as_str(), None, &[404]).await?;
            if reply.status == 404 {
                return Ok(ids);
            }
            let page: ListResponse = serde_json::from_str(&reply.body).map_err(|e| VectorError::Transient(format!("Pinecone list: {e}")))?;
            ids.extend(page.vectors.into_iter().map(|v| v.id));
            match page.pagination.and_then(|p| p.next) {
                Some(next) => token = Some(next),
                None => return Ok(ids),
            }
        }
    }

    pub(super) async fn delete_ids(&self, host: &str, namespace: &str, ids: &[String]) -> Result<(), VectorError> {
        for batch in ids.chunks(MAX_DELETE_IDS) {
            self.send(reqwest::Method::POST, &self.data_url(host, "/vectors/delete"), Some(&json!({"ids": batch, "namespace": namespace})), &[]).await?;
        }
        Ok(())
    }

    pub(super) async fn delete_namespace(&self, host: &str, bot: Uuid) -> Result<(), VectorError> {
        let url = self.data_url(host, &format!("/namespaces/{}", namespace(bot)));
        self.send(reqwest::Method::DELETE, &url, None, &[404]).await?;
        Ok(())
    }

    /// Waits until a query sees writes up to `lsn`.
    pub(super) async fn wait_visible(&self, host: &str, namespace: &str, probe: &[f32], lsn: u64) -> Result<(), VectorError> {
        let started = Instant::now();
        loop {
            let reply = self.send(reqwest::Method::POST, &self.data_url(host, "/query"), Some(&json!({"namespace": namespace, "topK": 1, "vector": probe})), &[]).await?;
            let indexed = lsn_header(&reply.headers, "x-pinecone-max-indexed-lsn");
            match indexed {
                None => return Ok(()), // an API without freshness headers: nothing to wait on
                Some(indexed) if indexed >= lsn => return Ok(()),
                Some(_) if started.elapsed() > self.config.freshness_timeout => {
                    return Err(VectorError::Transient(format!("Pinecone had not indexed the writes after {:?}", self.config.freshness_timeout)));
                }
                Some(_) => tokio::time::sleep(self.config.poll).await,
            }
        }
    }
}

pub(super) fn lsn_header(headers: &reqwest::header::HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// Splits records into upsert requests under both limits (count and body size).
pub fn batches(namespace: &str, records: &[(String, &VectorRecord)]) -> Vec<serde_json::Value> {
    // Room for the envelope and for the serialiser's number formatting differing from ours.
    let budget = MAX_UPSERT_BYTES - 64 * 1024;
    let mut out = Vec::new();
    let mut current: Vec<serde_json::Value> = Vec::new();
    let mut size = 0;
    for (id, r) in records {
        let vector = json!({"id": id, "values": r.vector, "metadata": {"document_id": r.document_id.to_string(), "ordinal": r.ordinal}});
        let bytes = vector.to_string().len() + 1;
        if !current.is_empty() && (current.len() == MAX_UPSERT_RECORDS || size + bytes > budget) {
            out.push(json!({"vectors": std::mem::take(&mut current), "namespace": namespace}));
            size = 0;
        }
        size += bytes;
        current.push(vector);
    }
    if !current.is_empty() {
        out.push(json!({"vectors": current, "namespace": namespace}));
    }
    out
}

