//! Knowledge: what a bot knows. Documents go through a durable pipeline (extract → chunk →
//! index) run by workers that survive crashes; chunks are searchable per bot.

mod api;
mod pages;
#[cfg(feature = "ssr")]
pub mod server;

pub use api::*;
pub use pages::KnowledgePage;

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DocStatus {
    Queued,
    Extracting,
    Chunking,
    Embedding,
    Indexing,
    Ready,
    Failed,
}

impl DocStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DocStatus::Queued => "queued",
            DocStatus::Extracting => "extracting",
            DocStatus::Chunking => "chunking",
            DocStatus::Embedding => "embedding",
            DocStatus::Indexing => "indexing",
            DocStatus::Ready => "ready",
            DocStatus::Failed => "failed",
        }
    }

    /// Still moving through the pipeline: the page keeps polling while any document is.
    pub fn in_progress(self) -> bool {
        !matches!(self, DocStatus::Ready | DocStatus::Failed)
    }

    pub fn label(self) -> &'static str {
        match self {
            DocStatus::Queued => "Queued",
            DocStatus::Extracting => "Extracting text",
            DocStatus::Chunking => "Chunking",
            DocStatus::Embedding => "Embedding",
            DocStatus::Indexing => "Indexing",
            DocStatus::Ready => "Ready",
            DocStatus::Failed => "Failed",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [
            DocStatus::Queued,
            DocStatus::Extracting,
            DocStatus::Chunking,
            DocStatus::Embedding,
            DocStatus::Indexing,
            DocStatus::Ready,
            DocStatus::Failed,
        ]
        .into_iter()
        .find(|s| s.as_str() == raw)
    }
}

/// A document as its owner sees it in the list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DocumentSummary {
    pub id: uuid::Uuid,
    pub name: String,
    pub source: String,
    pub mime: String,
    pub size_bytes: i64,
    pub status: DocStatus,
    /// 0–1 through the whole pipeline.
    pub progress: f32,
    /// Why it failed, in words for the owner.
    pub error: Option<String>,
    pub enabled: bool,
    pub char_count: Option<i32>,
    pub page_count: Option<i32>,
    pub chunk_count: i32,
    /// Milliseconds per pipeline stage of the last run, in pipeline order.
    pub stage_ms: std::collections::BTreeMap<String, u64>,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// A passage as stored: for reading a document's chunks in order, and for search results.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChunkView {
    pub id: i64,
    pub document_id: uuid::Uuid,
    pub document_name: String,
    pub ordinal: i32,
    pub heading_path: String,
    pub page: Option<i32>,
    pub text: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KeywordHit {
    pub chunk: ChunkView,
    pub score: f32,
}

/// A passage found by the bot's hybrid retrieval, with each list's score: keyword (0–1, full
/// BM25 over its most for the question), vector (cosine similarity) and the fused score (each
/// list's scores rescaled between its worst and best hit, weighted by the balance: 1 = first in
/// both lists).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SearchHit {
    pub chunk: ChunkView,
    pub keyword: Option<f32>,
    pub vector: Option<f32>,
    pub fused: f32,
    /// Places in each list, from 1 (`None`: that list did not find it).
    pub keyword_rank: Option<u32>,
    pub vector_rank: Option<u32>,
}

/// Where one hybrid search spent its time, in milliseconds. The keyword search runs beside the
/// question's embedding and the vector search, so the parts add up to more than `total_ms`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SearchTimings {
    /// Embedding the question (a cached question costs next to nothing).
    pub embed_ms: f32,
    pub vector_ms: f32,
    pub keyword_ms: f32,
    /// Fusing both lists and reading the passages behind the best.
    pub fusion_ms: f32,
    pub total_ms: f32,
}
