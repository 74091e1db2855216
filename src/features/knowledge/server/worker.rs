//! Runs the pipeline for queued documents: extract → chunk → embed → index. The new chunk set
//! and its vectors are written beside the live ones and swapped in by one transaction that also
//! closes the job, so a crash at any point leaves the old set searchable and the job re-queued,
//! and a rerun never duplicates chunks.

use super::chunk::{self, Chunk};
use super::extract::{self, Unreadable};
use super::fetch;
use super::queue::{self, Job, Outcome};
use crate::error::AppError;
use crate::providers::embed::{EmbedError, Embedder, Purpose};
use crate::providers::vectors::{VectorError, VectorRecord};
use crate::providers::Providers;
use crate::features::knowledge::DocStatus;
use crate::features::knowledge::server::settings::KnowledgeSettings;
use crate::server::shutdown::Shutdown;
use sqlx::PgPool;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// Why a run stopped. Unreadable input fails the document at once; anything else is retried.
#[derive(Debug, thiserror::Error)]
enum RunError {
    #[error("{0}")]
    Unreadable(#[from] Unreadable),
    #[error("the job was taken over by another worker")]
    LostLease,
    #[error("the process is shutting down")]
    ShuttingDown,
    #[error("{0}")]
    Transient(String),
}

impl From<AppError> for RunError {
    fn from(e: AppError) -> Self {
        RunError::Transient(format!("{e:?}"))
    }
}

impl From<EmbedError> for RunError {
    fn from(e: EmbedError) -> Self {
        match e {
            EmbedError::Transient(why) => RunError::Transient(format!("embedding: {why}")),
            EmbedError::Permanent(why) => RunError::Unreadable(Unreadable(format!("The embedding model refused this text: {why}"))),
        }
    }
}

impl From<VectorError> for RunError {
    fn from(e: VectorError) -> Self {
        RunError::Transient(format!("vector store: {e}"))
    }
}

impl From<sqlx::Error> for RunError {
    fn from(e: sqlx::Error) -> Self {
        RunError::Transient(e.to_string())
    }
}

/// Requeues expired leases, then claims and runs one job. False when there was nothing to do.
pub async fn run_once(db: &PgPool, settings: &KnowledgeSettings, providers: &Providers, worker: &str) -> Result<bool, AppError> {
    run_once_until(db, settings, providers, worker, &Shutdown::default()).await
}

/// `run_once`, giving the job back to the queue (its attempt not counted) if `shutdown` begins
/// while it runs, so another process picks it up at once instead of after its lease.
pub async fn run_once_until(db: &PgPool, settings: &KnowledgeSettings, providers: &Providers, worker: &str, shutdown: &Shutdown) -> Result<bool, AppError> {
    queue::requeue_expired(db, settings.max_attempts).await?;
    let Some(job) = queue::claim(db, worker, settings.lease_secs).await? else {
        return Ok(false);
    };
    let span = tracing::info_span!("ingest", job = job.id, document = %job.document_id, attempt = job.attempts);
    let _enter = span.enter();
    let (lost, lease_lost) = tokio::sync::oneshot::channel();
    let heartbeat = spawn_heartbeat(db.clone(), job.clone(), worker.to_owned(), settings, lost);
    // A lost lease stops the work at once (dropping it kills an extraction child too).
    let result = tokio::select! {
        result = process(db, settings, providers, &job, worker) => result,
        _ = lease_lost => Err(RunError::LostLease),
        _ = shutdown.requested() => Err(RunError::ShuttingDown),
    };
    heartbeat.abort();
    match result {
        Ok(()) => tracing::info!("document ready"),
        Err(RunError::LostLease) => tracing::warn!("lease lost; another worker finishes this document"),
        Err(RunError::ShuttingDown) => {
            queue::release(db, &job, worker).await?;
            tracing::info!("shutting down: the job went back to the queue");
        }
        Err(RunError::Unreadable(reason)) => {
            tracing::info!(%reason, "document cannot be read");
            queue::give_up(db, &job, worker, &reason.0).await?;
            mark_failed(db, job.document_id, &reason.0).await?;
        }
        Err(RunError::Transient(error)) => {
            tracing::warn!(%error, "ingestion attempt failed");
            if let Outcome::GaveUp = queue::retry_later(db, &job, worker, &error, settings.max_attempts).await? {
                mark_failed(db, job.document_id, "Processing failed repeatedly; try again later.").await?;
            }
        }
    }
    Ok(true)
}

/// Renews the job's lease while it makes progress; says so on `lost` when the job is no
/// longer this worker's.
fn spawn_heartbeat(db: PgPool, job: Job, worker: String, settings: &KnowledgeSettings, lost: tokio::sync::oneshot::Sender<()>) -> tokio::task::JoinHandle<()> {
    let (lease_secs, deadline_secs) = (settings.lease_secs, settings.job_timeout_secs);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs((lease_secs / 3).max(1) as u64));
        tick.tick().await;
        loop {
            tick.tick().await;
            match queue::heartbeat(&db, &job, &worker, lease_secs, deadline_secs).await {
                Ok(queue::Lease::Renewed) => {}
                Ok(queue::Lease::Stalled) => tracing::warn!("no progress (or past the job's deadline): the lease is not renewed"),
                Ok(queue::Lease::Lost) => {
                    let _ = lost.send(());
                    return;
                }
                Err(error) => tracing::warn!(?error, "lease renewal failed"),
            }
        }
    })
}

async fn set_stage(db: &PgPool, document: Uuid, status: DocStatus, progress: f32) -> Result<(), RunError> {
    sqlx::query("UPDATE documents SET status = $2, progress = $3, error = NULL, updated_at = now() WHERE id = $1")
        .bind(document)
        .bind(status.as_str())
        .bind(progress)
        .execute(db)
        .await?;
    Ok(())
}

async fn mark_failed(db: &PgPool, document: Uuid, reason: &str) -> Result<(), AppError> {
    sqlx::query("UPDATE documents SET status = 'failed', error = $2, updated_at = now() WHERE id = $1")
        .bind(document)
        .bind(reason)
        .execute(db)
        .await?;
    Ok(())
}

async fn process(db: &PgPool, settings: &KnowledgeSettings, providers: &Providers, job: &Job, worker: &str) -> Result<(), RunError> {
    let doc: Option<(String, i32, Vec<u8>, Uuid, String)> = sqlx::query_as(
        "SELECT d.name, d.generation, o.bytes, d.bot_id, d.source FROM documents d JOIN document_originals o ON o.document_id = d.id
          WHERE d.id = $1",
    )
    .bind(job.document_id)
    .fetch_optional(db)
    .await?;
    let Some((mut name, generation, mut bytes, bot, source)) = doc else {
        return Ok(()); // deleted meanwhile; its job went with it
    };
    let mut stage_ms = BTreeMap::new();

    set_stage(db, job.document_id, DocStatus::Extracting, 0.05).await?;
    let started = Instant::now();
    if source == "url" {
        // A web page's kept original is its address; each run fetches the page anew.
        let url = String::from_utf8_lossy(&bytes).into_owned();
        let page = fetch::fetch(&url, settings).await?;
        sqlx::query("UPDATE documents SET size_bytes = $2 WHERE id = $1").bind(job.document_id).bind(page.bytes.len() as i64).execute(db).await?;
        tracing::info!(url = %page.final_url, bytes = page.bytes.len(), "page fetched");
        (name, bytes) = (page.name_hint.to_owned(), page.bytes);
    }
    let extracted = match extract::sandbox::extract(settings, &name, &bytes).await {
        Ok(extracted) => extracted,
        Err(extract::sandbox::Failure::Unreadable(reason)) => return Err(reason.into()),
        Err(extract::sandbox::Failure::CouldNotStart(why)) => {
            tracing::error!(%why, "the extraction child could not be started");
            return Err(RunError::Transient(format!("extraction could not start: {why}")));
        }
    };
    drop(bytes);
    stage_ms.insert("extracting", started.elapsed().as_millis() as u64);

    set_stage(db, job.document_id, DocStatus::Chunking, 0.25).await?;
    let started = Instant::now();
    let (target, overlap) = (settings.chunk_tokens, settings.chunk_overlap_tokens);
    let sections = extracted.sections.clone();
    let chunks = tokio::task::spawn_blocking(move || chunk::chunk(&sections, target, overlap))
        .await
        .map_err(|e| RunError::Transient(format!("chunking task failed: {e}")))?;
    stage_ms.insert("chunking", started.elapsed().as_millis() as u64);
    if chunks.is_empty() {
        return Err(Unreadable("The document has no text to index.".into()).into());
    }
    match super::quota::ensure_chunk_room(db, job.document_id, chunks.len(), settings).await {
        Err(AppError::Forbidden(message)) => return Err(Unreadable(message).into()),
        other => other?,
    }

    set_stage(db, job.document_id, DocStatus::Embedding, EMBED_FROM).await?;
    let started = Instant::now();
    // The bot's live space, and the one it is being re-indexed into if any.
    let spaces = bot_spaces(db, bot).await?;
    let mut embedded = Vec::with_capacity(spaces.len());
    for (i, space) in spaces.iter().enumerate() {
        let embedder = providers
            .embedder(space)
            .ok_or_else(|| Unreadable(format!("The bot's embedding model {space} is not configured on this server; choose another in its settings.")))?;
        let share = (i as f32 / spaces.len() as f32, (i + 1) as f32 / spaces.len() as f32);
        embedded.push((space.clone(), embed_chunks(db, embedder.as_ref(), job.document_id, &chunks, share).await?));
    }
    stage_ms.insert("embedding", started.elapsed().as_millis() as u64);

    set_stage(db, job.document_id, DocStatus::Indexing, EMBED_TO).await?;
    let started = Instant::now();
    let next = generation + 1;
    // The new set goes in beside the live one (invisible to searches until the swap below).
    // Leftovers of an attempt that died half-way are removed first.
    let mut tx = db.begin().await?;
    sqlx::query("DELETE FROM chunks WHERE document_id = $1 AND generation >= $2")
        .bind(job.document_id)
        .bind(next)
        .execute(&mut *tx)
        .await?;
    let Some(ids) = insert_chunks(&mut tx, job.document_id, next, &chunks).await? else {
        return Ok(()); // deleted while we worked
    };
    tx.commit().await?;
    for (space, vectors) in embedded {
        let records = chunks
            .iter()
            .zip(&ids)
            .zip(vectors)
            .map(|((c, &chunk_id), vector)| VectorRecord { chunk_id, document_id: job.document_id, generation: next, ordinal: c.ordinal, vector })
            .collect();
        providers.vectors.upsert(bot, &space, records).await?;
    }

    let mut tx = db.begin().await?;
    stage_ms.insert("indexing", started.elapsed().as_millis() as u64);
    // The owner may have chosen another embedding model while we worked: the new set must be
    // in every space the bot now searches or is being re-indexed into.
    let now: Option<(String, String)> = sqlx::query_as("SELECT embedder, embedding_model FROM bots WHERE id = $1 FOR SHARE").bind(bot).fetch_optional(&mut *tx).await?;
    if let Some((live, target)) = now {
        if !spaces.contains(&live) || !spaces.contains(&target) {
            return Err(RunError::Transient("the bot's embedding model changed during indexing".into()));
        }
    }
    let swapped = sqlx::query(
        "UPDATE documents SET generation = $2, status = 'ready', progress = 1, error = NULL,
                chunk_count = $3, char_count = $4, page_count = $5, stage_ms = $6, updated_at = now()
          WHERE id = $1",
    )
    .bind(job.document_id)
    .bind(next)
    .bind(chunks.len() as i32)
    .bind(extracted.char_count() as i32)
    .bind(extracted.pages)
    .bind(serde_json::to_value(&stage_ms).unwrap_or_default())
    .execute(&mut *tx)
    .await?;
    if swapped.rows_affected() == 0 {
        return Ok(()); // deleted while we worked
    }
    sqlx::query("DELETE FROM chunks WHERE document_id = $1 AND generation <> $2")
        .bind(job.document_id)
        .bind(next)
        .execute(&mut *tx)
        .await?;
    // A remote store's records of the versions no longer live go after the swap, durably.
    sqlx::query("INSERT INTO vector_deletions (kind, bot_id, document_id, generation) VALUES ('retire', $1, $2, $3)")
        .bind(bot)
        .bind(job.document_id)
        .bind(next)
        .execute(&mut *tx)
        .await?;
    if !queue::finish(&mut tx, job, worker).await? {
        tx.rollback().await?;
        return Err(RunError::LostLease);
    }
    tx.commit().await?;
    Ok(())
}

/// Progress runs through embedding between these two marks: it is most of the time.
const EMBED_FROM: f32 = 0.3;
const EMBED_TO: f32 = 0.9;

/// The vector spaces a bot's new chunks must be embedded into: the one its searches use, and
/// the one it is being re-indexed into, if any.
async fn bot_spaces(db: &PgPool, bot: Uuid) -> Result<Vec<String>, RunError> {
    let (live, target): (String, String) = sqlx::query_as("SELECT embedder, embedding_model FROM bots WHERE id = $1").bind(bot).fetch_one(db).await?;
    Ok(if live == target { vec![live] } else { vec![live, target] })
}

/// Embeds in the embedder's batch size, reporting progress after each batch (`share` is the
/// part of the embedding stage this space takes). The heading path goes in with the text:
/// "Refunds › Digital goods" says what a terse passage is about.
async fn embed_chunks(db: &PgPool, embedder: &dyn Embedder, document: Uuid, chunks: &[Chunk], share: (f32, f32)) -> Result<Vec<Vec<f32>>, RunError> {
    let mut vectors = Vec::with_capacity(chunks.len());
    for batch in chunks.chunks(embedder.batch_size()) {
        let texts = batch.iter().map(embedding_text).collect();
        let got = embedder.embed(texts, Purpose::Document).await?;
        if got.len() != batch.len() || got.iter().any(|v| v.len() != embedder.dimension()) {
            return Err(RunError::Transient("the embedder returned the wrong number or size of vectors".into()));
        }
        vectors.extend(got);
        let done = share.0 + (share.1 - share.0) * vectors.len() as f32 / chunks.len() as f32;
        set_stage(db, document, DocStatus::Embedding, EMBED_FROM + (EMBED_TO - EMBED_FROM) * done).await?;
    }
    Ok(vectors)
}

pub fn embedding_text(chunk: &Chunk) -> String {
    chunk::text_to_embed(&chunk.heading_path, &chunk.text)
}

/// One round trip for the whole set, through arrays; returns the chunk ids in input order, or
/// None when the document is gone.
async fn insert_chunks(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    document: Uuid,
    generation: i32,
    chunks: &[Chunk],
) -> Result<Option<Vec<i64>>, sqlx::Error> {
    let ordinals: Vec<i32> = chunks.iter().map(|c| c.ordinal).collect();
    let headings: Vec<&str> = chunks.iter().map(|c| c.heading_path.as_str()).collect();
    let pages: Vec<Option<i32>> = chunks.iter().map(|c| c.page).collect();
    let tokens: Vec<i32> = chunks.iter().map(|c| c.token_count).collect();
    let texts: Vec<&str> = chunks.iter().map(|c| c.text.as_str()).collect();
    let rows: Vec<(i32, i64)> = sqlx::query_as(
        "INSERT INTO chunks (document_id, bot_id, generation, ordinal, heading_path, page, token_count, text)
         SELECT $1, d.bot_id, $2, u.ordinal, u.heading, u.page, u.tokens, u.text
           FROM documents d,
                UNNEST($3::int[], $4::text[], $5::int[], $6::int[], $7::text[]) AS u(ordinal, heading, page, tokens, text)
          WHERE d.id = $1
         RETURNING ordinal, id",
    )
    .bind(document)
    .bind(generation)
    .bind(&ordinals)
    .bind(&headings)
    .bind(&pages)
    .bind(&tokens)
    .bind(&texts)
    .fetch_all(&mut **tx)
    .await?;
    let by_ordinal: std::collections::HashMap<i32, i64> = rows.into_iter().collect();
    Ok(chunks.iter().map(|c| by_ordinal.get(&c.ordinal).copied()).collect())
}
