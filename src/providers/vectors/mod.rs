//! Keeping and searching chunk vectors. The default lives in PostgreSQL beside the chunks and
//! searches exactly in-process; a hosted store (Pinecone) implements the same trait with a
//! namespace per bot.

pub mod outbox;
pub mod pinecone;
pub mod postgres;

use super::BoxFuture;
use uuid::Uuid;

/// One chunk's vector, as written by ingestion.
#[derive(Clone, Debug)]
pub struct VectorRecord {
    pub chunk_id: i64,
    pub document_id: Uuid,
    /// The version of the document the chunk belongs to: records of a new version are written
    /// beside the live one's, never over them.
    pub generation: i32,
    pub ordinal: i32,
    pub vector: Vec<f32>,
}

/// A chunk and its cosine similarity to the query.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct VectorHit {
    pub chunk_id: i64,
    pub score: f32,
}

#[derive(Debug, thiserror::Error)]
pub enum VectorError {
    #[error("{0}")]
    Transient(String),
    #[error("{0}")]
    Permanent(String),
}

impl From<sqlx::Error> for VectorError {
    fn from(e: sqlx::Error) -> Self {
        VectorError::Transient(format!("database: {e}"))
    }
}

pub trait VectorStore: Send + Sync {
    /// Stores vectors of chunks that are not searchable yet; they become searchable when their
    /// chunk set is swapped in.
    fn upsert<'a>(&'a self, bot: Uuid, embedder: &'a str, records: Vec<VectorRecord>) -> BoxFuture<'a, Result<(), VectorError>>;
    /// The `top_k` live, enabled chunks of `bot` nearest to `query`, best first.
    fn query<'a>(&'a self, bot: Uuid, embedder: &'a str, query: &'a [f32], top_k: usize) -> BoxFuture<'a, Result<Vec<VectorHit>, VectorError>>;
    /// Removes what belongs to a document or a whole bot. The PostgreSQL store gets this from
    /// foreign-key cascades; remote stores must be told.
    fn delete_document<'a>(&'a self, bot: Uuid, document: Uuid) -> BoxFuture<'a, Result<(), VectorError>>;
    fn delete_bot<'a>(&'a self, bot: Uuid) -> BoxFuture<'a, Result<(), VectorError>>;
    /// Removes a bot's vectors of one embedding space (the old one, after re-indexing).
    fn delete_space<'a>(&'a self, bot: Uuid, embedder: &'a str) -> BoxFuture<'a, Result<(), VectorError>>;
    /// Removes a document's vectors of the versions before `live`, once `live` is swapped in.
    /// Later ones are left alone: they may be a newer version being written right now (a dead
    /// attempt's records are overwritten by its retry, which has the same generation). The
    /// PostgreSQL store gets this from cascades.
    fn retire_versions<'a>(&'a self, bot: Uuid, document: Uuid, live: i32) -> BoxFuture<'a, Result<(), VectorError>>;
}

/// Vectors travel as little-endian f32 bytes.
pub fn to_bytes(vector: &[f32]) -> Vec<u8> {
    vector.iter().flat_map(|v| v.to_le_bytes()).collect()
}

pub fn from_bytes(bytes: &[u8]) -> Vec<f32> {
    bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
}
