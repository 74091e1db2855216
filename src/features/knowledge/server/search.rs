//! Retrieval over a bot's live, enabled chunks: keyword search in PostgreSQL full-text search,
//! vector search through the configured store, and their reciprocal-rank fusion weighted by
//! the bot's keyword/vector balance. Chat retrieves through `hybrid` too.

use crate::error::AppError;
use crate::features::knowledge::{ChunkView, KeywordHit, SearchHit};
use crate::providers::vectors::VectorHit;
use crate::providers::Providers;
use sqlx::PgPool;
use std::collections::HashMap;
use std::sync::Arc;
use uuid::Uuid;

/// RRF's rank constant: 60 as in Cormack et al., which keeps one list's top hit from
/// drowning the other list.
const RRF_K: f32 = 60.0;

/// How deep each list is read before fusing.
fn depth(limit: usize) -> usize {
    (limit * 4).max(50)
}

/// The bot an owner may search, with its balance setting.
pub struct SearchBot {
    pub id: Uuid,
    pub keyword_weight: f32,
}

pub async fn owned_bot(db: &PgPool, owner: Uuid, bot_public_id: &str) -> Result<SearchBot, AppError> {
    let row: Option<(Uuid, f32)> = sqlx::query_as("SELECT id, keyword_weight FROM bots WHERE public_id = $1 AND owner_id = $2")
        .bind(bot_public_id)
        .bind(owner)
        .fetch_optional(db)
        .await?;
    row.map(|(id, keyword_weight)| SearchBot { id, keyword_weight }).ok_or_else(|| AppError::NotFound("Bot".into()))
}

/// Terms in more than this share of a bot's chunks are left out of keyword queries (unless
/// the question has nothing else): they match nearly everything, so they cost the most to
/// rank, and `ts_rank` has no inverse document frequency to discount them. Bots under 50
/// chunks keep every term: there a share says little.
const COMMON_TERM_SHARE: f64 = 0.2;

/// Each bot's common terms. When its knowledge changes they are recomputed in the background
/// (at most once a minute, so a bulk upload does not recompute them per document) while the
/// previous set keeps serving: `ts_stat` reads every chunk (measured 0.18 s at 10k chunks,
/// 1.7 s at 100k), which no question should wait for. A bot seen for the first time waits for
/// one computation, shared by all its concurrent questions.
async fn common_terms(db: &PgPool, providers: &Providers, bot: Uuid) -> Result<Arc<Vec<String>>, AppError> {
    let version: i64 = sqlx::query_scalar("SELECT knowledge_version FROM bots WHERE id = $1").bind(bot).fetch_one(db).await?;
    let cache = &providers.common_terms;
    match cache.peek(&bot) {
        Some(cached) if cached.version == version => Ok(cached.value),
        Some(stale) => {
            if stale.filled_at.elapsed() >= std::time::Duration::from_secs(60) {
                let (db, cache) = (db.clone(), cache.clone());
                tokio::spawn(async move {
                    if let Err(e) = cache.get_or_fill(bot, version, || compute_common_terms(&db, bot)).await {
                        tracing::warn!(%bot, error = ?e, "could not refresh common terms");
                    }
                });
            }
            Ok(stale.value)
        }
        None => cache.get_or_fill(bot, version, || compute_common_terms(db, bot)).await,
    }
}

async fn compute_common_terms(db: &PgPool, bot: Uuid) -> Result<Vec<String>, AppError> {
    // ts_stat takes its query as text; the bot id is a UUID, so formatting it in is safe.
    let live = format!(
        "SELECT c.tsv FROM chunks c
           JOIN documents d ON d.id = c.document_id AND d.generation = c.generation AND d.enabled
          WHERE c.bot_id = '{bot}'"
    );
    let chunks: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM ({live}) l")).fetch_one(db).await?;
    if chunks < 50 {
        return Ok(Vec::new());
    }
    Ok(sqlx::query_scalar(&format!("SELECT word FROM ts_stat($${live}$$) WHERE ndoc > $1"))
        .bind((chunks as f64 * COMMON_TERM_SHARE) as i32)
        .fetch_all(db)
        .await?)
}

/// Chunk ids and scores for `query`. Terms are OR-ed (a question rarely repeats every word of
/// its answer), the bot's common terms dropped, and ranked by term frequency with length
/// normalisation (`ts_rank`, flag 1), mapped into 0–1 by rank / (rank + 1). Cover density
/// (`ts_rank_cd`) was measured worse for OR-ed questions: SciFact training nDCG@10 0.457
/// against 0.610.
async fn keyword_ranked(db: &PgPool, common: &[String], bot: Uuid, query: &str, limit: usize) -> Result<Vec<(i64, f32)>, AppError> {
    Ok(sqlx::query_as(
        "WITH terms AS (
            SELECT t FROM unnest(tsvector_to_array(to_tsvector('english', $2))) AS t WHERE strpos(t, E'\\\\') = 0
         ), kept AS (
            SELECT t FROM terms WHERE t <> ALL($4)
         ), chosen AS (
            SELECT t FROM kept UNION ALL SELECT t FROM terms WHERE NOT EXISTS (SELECT 1 FROM kept)
         ), q AS (
            SELECT string_agg(quote_literal(t), ' | ')::tsquery AS tsq FROM chosen
         )
         SELECT c.id, (ts_rank(c.tsv, q.tsq, 1) / (ts_rank(c.tsv, q.tsq, 1) + 1))::real AS score
           FROM q, chunks c
           JOIN documents d ON d.id = c.document_id AND d.generation = c.generation AND d.enabled
          WHERE c.bot_id = $1 AND q.tsq IS NOT NULL AND c.tsv @@ q.tsq
          ORDER BY score DESC, c.id
          LIMIT $3",
    )
    .bind(bot)
    .bind(query)
    .bind(limit as i64)
    .bind(common)
    .fetch_all(db)
    .await?)
}

/// The passages behind `ids`, if still live and enabled in `bot`.
async fn chunk_views(db: &PgPool, bot: Uuid, ids: &[i64]) -> Result<HashMap<i64, ChunkView>, AppError> {
    let rows: Vec<(i64, Uuid, String, i32, String, Option<i32>, String)> = sqlx::query_as(
        "SELECT c.id, c.document_id, d.name, c.ordinal, c.heading_path, c.page, c.text
           FROM chunks c
           JOIN documents d ON d.id = c.document_id AND d.generation = c.generation AND d.enabled
          WHERE c.bot_id = $1 AND c.id = ANY($2)",
    )
    .bind(bot)
    .bind(ids)
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, document_id, document_name, ordinal, heading_path, page, text)| {
            (id, ChunkView { id, document_id, document_name, ordinal, heading_path, page, text })
        })
        .collect())
}

/// Keyword search alone, for an owner.
pub async fn keyword(db: &PgPool, owner: Uuid, bot_public_id: &str, query: &str, limit: i64) -> Result<Vec<KeywordHit>, AppError> {
    let bot = owned_bot(db, owner, bot_public_id).await?;
    // Common terms computed afresh: this path inspects, it does not answer questions.
    let common = compute_common_terms(db, bot.id).await?;
    let ranked = keyword_ranked(db, &common, bot.id, query, limit.max(0) as usize).await?;
    let mut views = chunk_views(db, bot.id, &ranked.iter().map(|(id, _)| *id).collect::<Vec<_>>()).await?;
    Ok(ranked.into_iter().filter_map(|(id, score)| Some(KeywordHit { chunk: views.remove(&id)?, score })).collect())
}

/// Fuses two best-first lists of chunk ids by weighted reciprocal rank. Returns
/// `(chunk id, fused score)` best first; the score is scaled so that ranking first in both
/// lists gives 1.0.
pub fn fuse(keyword: &[i64], vector: &[i64], keyword_weight: f32) -> Vec<(i64, f32)> {
    let mut fused: HashMap<i64, f32> = HashMap::new();
    for (rank, id) in keyword.iter().enumerate() {
        *fused.entry(*id).or_default() += keyword_weight / (RRF_K + rank as f32 + 1.0);
    }
    for (rank, id) in vector.iter().enumerate() {
        *fused.entry(*id).or_default() += (1.0 - keyword_weight) / (RRF_K + rank as f32 + 1.0);
    }
    let mut out: Vec<(i64, f32)> = fused.into_iter().map(|(id, s)| (id, s * (RRF_K + 1.0))).collect();
    out.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    out
}

/// Both ranked lists for `query`, each `n` deep: (chunk id, keyword score) and vector hits.
pub async fn candidates(db: &PgPool, providers: &Providers, bot: Uuid, query: &str, n: usize) -> Result<(Vec<(i64, f32)>, Vec<VectorHit>), AppError> {
    let embed = async {
        // The space searches use now (during re-indexing, still the old one).
        let space: Option<String> = sqlx::query_scalar("SELECT embedder FROM bots WHERE id = $1").bind(bot).fetch_optional(db).await?;
        let Some(space) = space else { return Ok(Vec::new()) };
        let embedder = providers.embedder(&space).ok_or_else(|| {
            tracing::error!(%space, "the bot's embedding model is not configured");
            AppError::Unreachable
        })?;
        let vector = providers.queries.embed(&embedder, query).await.map_err(|e| {
            tracing::error!(error = %e, "query embedding failed");
            AppError::Unreachable
        })?;
        providers.vectors.query(bot, &space, &vector, n).await.map_err(|e| {
            tracing::error!(error = %e, "vector search failed");
            AppError::Unreachable
        })
    };
    let keyword = async {
        let common = common_terms(db, providers, bot).await?;
        keyword_ranked(db, &common, bot, query, n).await
    };
    let (keyword, vector) = tokio::join!(keyword, embed);
    Ok((keyword?, vector?))
}

/// Hybrid retrieval: the best `limit` passages with their keyword, vector and fused scores.
pub async fn hybrid(db: &PgPool, providers: &Providers, bot: &SearchBot, query: &str, limit: usize) -> Result<Vec<SearchHit>, AppError> {
    let query = query.trim();
    if query.is_empty() || limit == 0 {
        return Ok(Vec::new());
    }
    let (keyword, vector) = candidates(db, providers, bot.id, query, depth(limit)).await?;
    let keyword_ids: Vec<i64> = keyword.iter().map(|(id, _)| *id).collect();
    let vector_ids: Vec<i64> = vector.iter().map(|h| h.chunk_id).collect();
    let mut fused = fuse(&keyword_ids, &vector_ids, bot.keyword_weight);
    fused.truncate(limit);
    let keyword_scores: HashMap<i64, f32> = keyword.into_iter().collect();
    let vector_scores: HashMap<i64, f32> = vector.into_iter().map(|h| (h.chunk_id, h.score)).collect();
    let mut views = chunk_views(db, bot.id, &fused.iter().map(|(id, _)| *id).collect::<Vec<_>>()).await?;
    Ok(fused
        .into_iter()
        .filter_map(|(id, score)| {
            Some(SearchHit { chunk: views.remove(&id)?, keyword: keyword_scores.get(&id).copied(), vector: vector_scores.get(&id).copied(), fused: score })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::fuse;

    #[test]
    fn fusion_rewards_agreement_and_follows_the_balance() {
        // 2 is second in both lists and beats 1 and 3, each first in only one list.
        let both = fuse(&[1, 2, 4], &[3, 2, 5], 0.5);
        assert_eq!(both[0].0, 2);
        // All keyword: the keyword order is kept; vector-only ids score zero.
        let keyword = fuse(&[1, 2], &[3], 1.0);
        assert_eq!(keyword.iter().map(|(id, _)| *id).collect::<Vec<_>>(), vec![1, 2, 3]);
        assert_eq!(keyword[2].1, 0.0);
        // Leaning to vectors puts the vector list's first ahead of the keyword list's first.
        let vector = fuse(&[1], &[3], 0.3);
        assert_eq!(vector[0].0, 3);
        // First in both lists scores exactly 1.
        assert!((fuse(&[7], &[7], 0.4)[0].1 - 1.0).abs() < 1e-6);
    }
}
