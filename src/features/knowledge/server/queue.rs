//! The ingestion queue, in PostgreSQL so that any number of server processes can work it.
//! A worker claims a job with `FOR UPDATE SKIP LOCKED` and holds a lease it renews while it
//! works; the watchdog returns jobs whose lease ran out (their worker died) to the queue.

use crate::error::AppError;
use rand::Rng;
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub id: i64,
    pub document_id: Uuid,
    /// Including the attempt now running.
    pub attempts: i32,
}

pub async fn enqueue(tx: &mut Transaction<'_, Postgres>, document_id: Uuid) -> Result<(), AppError> {
    // At most one open job per document (a unique partial index): enqueueing twice is a no-op.
    sqlx::query("INSERT INTO ingestion_jobs (document_id) VALUES ($1) ON CONFLICT DO NOTHING")
        .bind(document_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn claim(db: &PgPool, worker: &str, lease_secs: i64) -> Result<Option<Job>, AppError> {
    let row: Option<(i64, Uuid, i32)> = sqlx::query_as(
        "UPDATE ingestion_jobs
            SET state = 'running', attempts = attempts + 1, worker = $1,
                lease_until = now() + make_interval(secs => $2), updated_at = now()
          WHERE id = (SELECT id FROM ingestion_jobs
                       WHERE state = 'pending' AND run_after <= now()
                       ORDER BY run_after, id
                       FOR UPDATE SKIP LOCKED
                       LIMIT 1)
        RETURNING id, document_id, attempts",
    )
    .bind(worker)
    .bind(lease_secs as f64)
    .fetch_optional(db)
    .await?;
    Ok(row.map(|(id, document_id, attempts)| Job { id, document_id, attempts }))
}

/// Extends the lease; false when the job is no longer this worker's (the watchdog gave it
/// to another), in which case the worker must not commit its result.
pub async fn heartbeat(db: &PgPool, job: &Job, worker: &str, lease_secs: i64) -> Result<bool, AppError> {
    let done = sqlx::query(
        "UPDATE ingestion_jobs SET lease_until = now() + make_interval(secs => $3), updated_at = now()
          WHERE id = $1 AND worker = $2 AND state = 'running'",
    )
    .bind(job.id)
    .bind(worker)
    .bind(lease_secs as f64)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Marks the job done inside the transaction that commits its result; false (and the caller
/// rolls back) when the lease was lost meanwhile.
pub async fn finish(tx: &mut Transaction<'_, Postgres>, job: &Job, worker: &str) -> Result<bool, AppError> {
    let done = sqlx::query(
        "UPDATE ingestion_jobs SET state = 'done', lease_until = NULL, updated_at = now()
          WHERE id = $1 AND worker = $2 AND state = 'running'",
    )
    .bind(job.id)
    .bind(worker)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Seconds to wait before attempt `attempts + 1`: doubling from 2 s, capped at 5 minutes,
/// with ±20 % jitter so that jobs failing together do not retry together.
pub fn backoff_secs(attempts: i32) -> f64 {
    let base = 2f64.powi(attempts.clamp(1, 16)).min(300.0);
    base * rand::thread_rng().gen_range(0.8..1.2)
}

pub enum Outcome {
    WillRetry,
    GaveUp,
}

/// A failure that may pass (database, timeout): retried with backoff until `max_attempts`.
pub async fn retry_later(db: &PgPool, job: &Job, worker: &str, error: &str, max_attempts: i32) -> Result<Outcome, AppError> {
    if job.attempts >= max_attempts {
        give_up(db, job, worker, error).await?;
        return Ok(Outcome::GaveUp);
    }
    sqlx::query(
        "UPDATE ingestion_jobs
            SET state = 'pending', worker = NULL, lease_until = NULL, last_error = $3,
                run_after = now() + make_interval(secs => $4), updated_at = now()
          WHERE id = $1 AND worker = $2 AND state = 'running'",
    )
    .bind(job.id)
    .bind(worker)
    .bind(error)
    .bind(backoff_secs(job.attempts))
    .execute(db)
    .await?;
    Ok(Outcome::WillRetry)
}

pub async fn give_up(db: &PgPool, job: &Job, worker: &str, error: &str) -> Result<(), AppError> {
    sqlx::query(
        "UPDATE ingestion_jobs SET state = 'failed', lease_until = NULL, last_error = $3, updated_at = now()
          WHERE id = $1 AND worker = $2 AND state = 'running'",
    )
    .bind(job.id)
    .bind(worker)
    .bind(error)
    .execute(db)
    .await?;
    Ok(())
}

/// The watchdog: jobs whose worker stopped renewing go back to the queue.
pub async fn requeue_expired(db: &PgPool) -> Result<u64, AppError> {
    let done = sqlx::query(
        "UPDATE ingestion_jobs
            SET state = 'pending', worker = NULL, lease_until = NULL, run_after = now(),
                last_error = 'the worker stopped (lease expired)', updated_at = now()
          WHERE state = 'running' AND lease_until < now()",
    )
    .execute(db)
    .await?;
    if done.rows_affected() > 0 {
        tracing::warn!(jobs = done.rows_affected(), "re-queued ingestion jobs whose worker stopped");
    }
    Ok(done.rows_affected())
}

#[cfg(test)]
mod tests {
    #[test]
    fn backoff_doubles_and_is_capped() {
        for _ in 0..50 {
            let first = super::backoff_secs(1);
            assert!((1.6..=2.4).contains(&first), "{first}");
            let late = super::backoff_secs(30);
            assert!((240.0..=360.0).contains(&late), "{late}");
        }
    }
}
