//! Keyword search over a bot's live, enabled chunks with PostgreSQL full-text search.

use crate::error::AppError;
use crate::features::knowledge::{ChunkView, KeywordHit};
use sqlx::PgPool;
use uuid::Uuid;

/// Ranked passages for `query`. Terms are OR-ed (a question rarely repeats every word of
/// its answer) and ranked by cover density, normalised into 0–1 by rank / (rank + 1).
pub async fn keyword(db: &PgPool, owner: Uuid, bot_public_id: &str, query: &str, limit: i64) -> Result<Vec<KeywordHit>, AppError> {
    let rows: Vec<(i64, Uuid, String, i32, String, Option<i32>, String, f32)> = sqlx::query_as(
        "WITH q AS (
            SELECT NULLIF(replace(plainto_tsquery('english', $3)::text, '&', '|'), '')::tsquery AS tsq
         )
         SELECT c.id, c.document_id, d.name, c.ordinal, c.heading_path, c.page, c.text,
                (ts_rank_cd(c.tsv, q.tsq, 1) / (ts_rank_cd(c.tsv, q.tsq, 1) + 1))::real AS score
           FROM q, chunks c
           JOIN documents d ON d.id = c.document_id AND d.generation = c.generation AND d.enabled
           JOIN bots b ON b.id = c.bot_id
          WHERE b.public_id = $1 AND b.owner_id = $2 AND q.tsq IS NOT NULL AND c.tsv @@ q.tsq
          ORDER BY score DESC, c.id
          LIMIT $4",
    )
    .bind(bot_public_id)
    .bind(owner)
    .bind(query)
    .bind(limit)
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, document_id, document_name, ordinal, heading_path, page, text, score)| KeywordHit {
            chunk: ChunkView { id, document_id, document_name, ordinal, heading_path, page, text },
            score,
        })
        .collect())
}
