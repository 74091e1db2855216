//! The embedded vector store: vectors in PostgreSQL beside their chunks, searched exactly
//! in-process. Each bot's live vectors are cached as one contiguous matrix, so a query is one
//! pass of dot products; the cache is checked against `bots.knowledge_version` on every query
//! (one primary-key read), so a swap made by any server process is seen at once.

use super::{from_bytes, to_bytes, VectorError, VectorHit, VectorRecord, VectorStore};
use crate::providers::cache::VersionedCache;
use crate::providers::{kernels, BoxFuture};
use sqlx::PgPool;
use std::sync::Arc;
use uuid::Uuid;

/// Above this many rows a query is scored on the blocking pool instead of the async thread.
const INLINE_ROWS: usize = 20_000;

pub struct PgVectorStore {
    db: PgPool,
    /// Per (bot, space): its matrix at the bot's knowledge version, LRU within the byte budget.
    cache: VersionedCache<(Uuid, String), BotMatrix>,
}

/// A bot's live, enabled vectors at one knowledge version.
struct BotMatrix {
    ids: Vec<i64>,
    dim: usize,
    rows: Vec<f32>,
}

impl BotMatrix {
    fn bytes(&self) -> usize {
        self.rows.len() * 4 + self.ids.len() * 8
    }
}

impl PgVectorStore {
    pub fn new(db: PgPool, cache_mb: usize) -> Self {
        Self { db, cache: VersionedCache::new(cache_mb * 1024 * 1024, BotMatrix::bytes) }
    }

    /// Bytes of vector matrices held in memory.
    pub fn cached_bytes(&self) -> usize {
        self.cache.weight()
    }

    async fn matrix(&self, bot: Uuid, embedder: &str) -> Result<Option<Arc<BotMatrix>>, VectorError> {
        let version: Option<i64> = sqlx::query_scalar("SELECT knowledge_version FROM bots WHERE id = $1").bind(bot).fetch_optional(&self.db).await?;
        let Some(version) = version else { return Ok(None) };
        // Many questions to a bot whose knowledge just changed load its matrix once.
        let matrix = self.cache.get_or_fill((bot, embedder.to_owned()), version, || self.load(bot, embedder)).await?;
        Ok(Some(matrix))
    }

    /// Read after the version: a swap in between makes the next query reload, never serve
    /// stale rows under a new version.
    async fn load(&self, bot: Uuid, embedder: &str) -> Result<BotMatrix, VectorError> {
        let rows: Vec<(i64, Vec<u8>)> = sqlx::query_as(
            "SELECT v.chunk_id, v.vector
               FROM chunk_vectors v
               JOIN chunks c ON c.id = v.chunk_id
               JOIN documents d ON d.id = c.document_id AND d.generation = c.generation AND d.enabled
              WHERE v.bot_id = $1 AND v.embedder = $2
              ORDER BY v.chunk_id",
        )
        .bind(bot)
        .bind(embedder)
        .fetch_all(&self.db)
        .await?;
        let dim = rows.first().map(|(_, v)| v.len() / 4).unwrap_or(0);
        let mut matrix = BotMatrix { ids: Vec::with_capacity(rows.len()), dim, rows: Vec::with_capacity(rows.len() * dim) };
        for (id, bytes) in rows {
            if bytes.len() == dim * 4 {
                matrix.ids.push(id);
                matrix.rows.extend(from_bytes(&bytes));
            }
        }
        Ok(matrix)
    }
}

fn top_k(matrix: &BotMatrix, query: &[f32], k: usize) -> Vec<VectorHit> {
    if matrix.ids.is_empty() || query.len() != matrix.dim || k == 0 {
        return Vec::new();
    }
    let mut scores = vec![0.0f32; matrix.ids.len()];
    kernels::dot_rows(&matrix.rows, query, &mut scores);
    let mut order: Vec<usize> = (0..scores.len()).collect();
    let by_score = |a: &usize, b: &usize| scores[*b].total_cmp(&scores[*a]).then(matrix.ids[*a].cmp(&matrix.ids[*b]));
    if k < order.len() {
        order.select_nth_unstable_by(k, by_score);
        order.truncate(k);
    }
    order.sort_by(by_score);
    order.into_iter().map(|i| VectorHit { chunk_id: matrix.ids[i], score: scores[i] }).collect()
}

impl VectorStore for PgVectorStore {
    fn upsert<'a>(&'a self, bot: Uuid, embedder: &'a str, records: Vec<VectorRecord>) -> BoxFuture<'a, Result<(), VectorError>> {
        Box::pin(async move {
            // Bounded statements: a 100k-chunk document must not become one 150 MB bind.
            for batch in records.chunks(2_000) {
                let ids: Vec<i64> = batch.iter().map(|r| r.chunk_id).collect();
                let vectors: Vec<Vec<u8>> = batch.iter().map(|r| to_bytes(&r.vector)).collect();
                sqlx::query(
                    "INSERT INTO chunk_vectors (chunk_id, bot_id, embedder, vector)
                     SELECT u.id, $1, $2, u.v FROM UNNEST($3::bigint[], $4::bytea[]) AS u(id, v)
                     ON CONFLICT (chunk_id, embedder) DO UPDATE SET vector = EXCLUDED.vector",
                )
                .bind(bot)
                .bind(embedder)
                .bind(&ids)
                .bind(&vectors)
                .execute(&self.db)
                .await?;
            }
            Ok(())
        })
    }

    fn query<'a>(&'a self, bot: Uuid, embedder: &'a str, query: &'a [f32], k: usize) -> BoxFuture<'a, Result<Vec<VectorHit>, VectorError>> {
        Box::pin(async move {
            let Some(matrix) = self.matrix(bot, embedder).await? else { return Ok(Vec::new()) };
            if matrix.ids.len() <= INLINE_ROWS {
                return Ok(top_k(&matrix, query, k));
            }
            let query = query.to_vec();
            tokio::task::spawn_blocking(move || top_k(&matrix, &query, k)).await.map_err(|e| VectorError::Transient(format!("search task failed: {e}")))
        })
    }

    fn delete_document<'a>(&'a self, _bot: Uuid, _document: Uuid) -> BoxFuture<'a, Result<(), VectorError>> {
        Box::pin(async { Ok(()) }) // chunk_vectors cascade from chunks
    }

    fn delete_bot<'a>(&'a self, bot: Uuid) -> BoxFuture<'a, Result<(), VectorError>> {
        self.cache.remove_where(|(b, _)| *b == bot);
        Box::pin(async { Ok(()) }) // chunk_vectors cascade from bots
    }

    fn retire_versions<'a>(&'a self, _bot: Uuid, _document: Uuid, _live: i32) -> BoxFuture<'a, Result<(), VectorError>> {
        Box::pin(async { Ok(()) }) // chunk_vectors cascade from the old version's chunks
    }

    fn delete_space<'a>(&'a self, bot: Uuid, embedder: &'a str) -> BoxFuture<'a, Result<(), VectorError>> {
        self.cache.remove_where(|(b, e)| *b == bot && e == embedder);
        Box::pin(async move {
            sqlx::query("DELETE FROM chunk_vectors WHERE bot_id = $1 AND embedder = $2").bind(bot).bind(embedder).execute(&self.db).await?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matrix(rows: &[[f32; 2]]) -> BotMatrix {
        BotMatrix { ids: (1..=rows.len() as i64).collect(), dim: 2, rows: rows.iter().flatten().copied().collect() }
    }

    #[test]
    fn top_k_ranks_by_similarity_and_breaks_ties_by_id() {
        let m = matrix(&[[1.0, 0.0], [0.0, 1.0], [0.6, 0.8], [0.0, 1.0]]);
        let hits = top_k(&m, &[0.0, 1.0], 3);
        let ids: Vec<i64> = hits.iter().map(|h| h.chunk_id).collect();
        assert_eq!(ids, vec![2, 4, 3]);
        assert!((hits[2].score - 0.8).abs() < 1e-6);
        assert_eq!(top_k(&m, &[0.0, 1.0, 0.0], 3), vec![], "a query of another dimension matches nothing");
        assert_eq!(top_k(&m, &[1.0, 0.0], 10).len(), 4);
    }
}
