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

/// The next job, fairly: accounts with fewer documents being processed right now go first, so
/// one account's big upload holding a worker does not make everyone else's wait behind its
/// other files; within that, oldest first.
pub async fn claim(db: &PgPool, worker: &str, lease_secs: i64) -> Result<Option<Job>, AppError> {
    let row: Option<(i64, Uuid, i32)> = sqlx::query_as(
        "UPDATE ingestion_jobs
            SET state = 'running', attempts = attempts + 1, worker = $1, started_at = now(),
                lease_until = now() + make_interval(secs => $2), updated_at = now()
          WHERE id = (SELECT j.id FROM ingestion_jobs j
                        JOIN documents d ON d.id = j.document_id
                        JOIN bots b ON b.id = d.bot_id
                       WHERE j.state = 'pending' AND j.run_after <= now()
                       ORDER BY (SELECT count(*) FROM ingestion_jobs r
                                   JOIN documents rd ON rd.id = r.document_id
                                   JOIN bots rb ON rb.id = rd.bot_id
                                  WHERE r.state = 'running' AND rb.owner_id = b.owner_id),
                                j.run_after, j.id
                       FOR UPDATE OF j SKIP LOCKED
                       LIMIT 1)
        RETURNING id, document_id, attempts",
    )
    .bind(worker)
    .bind(lease_secs as f64)
    .fetch_optional(db)
    .await?;
    Ok(row.map(|(id, document_id, attempts)| Job { id, document_id, attempts }))
}

/// What a heartbeat found.
#[derive(Debug, PartialEq)]
pub enum Lease {
    /// Extended: the job made progress recently and is within its deadline.
    Renewed,
    /// Still this worker's, but not extended: no progress for two leases, or past the job's
    /// deadline. If nothing changes, the lease runs out and the watchdog takes the job back.
    Stalled,
    /// No longer this worker's (the watchdog gave it to another): stop, commit nothing.
    Lost,
}

/// Extends the lease, but only for a job that shows progress (its document's stage or progress
/// changed within the last two leases) and has run less than `deadline_secs`: a worker stuck in
/// a call that never returns must not hold its job for ever.
pub async fn heartbeat(db: &PgPool, job: &Job, worker: &str, lease_secs: i64, deadline_secs: i64) -> Result<Lease, AppError> {
    let renewed: Option<bool> = sqlx::query_scalar(
        "UPDATE ingestion_jobs j
            SET lease_until = CASE WHEN ok THEN now() + make_interval(secs => $3) ELSE lease_until END,
                updated_at = now()
           FROM (SELECT j2.id,
                        (SELECT d.updated_at > now() - make_interval(secs => 2 * $3) FROM documents d WHERE d.id = j2.document_id)
                        AND j2.started_at > now() - make_interval(secs => $4) AS ok
                   FROM ingestion_jobs j2 WHERE j2.id = $1) AS progress
          WHERE j.id = $1 AND j.id = progress.id AND j.worker = $2 AND j.state = 'running'
         RETURNING coalesce(progress.ok, false)",
    )
    .bind(job.id)
    .bind(worker)
    .bind(lease_secs as f64)
    .bind(deadline_secs as f64)
    .fetch_optional(db)
    .await?;
    Ok(match renewed {
        None => Lease::Lost,
        Some(true) => Lease::Renewed,
        Some(false) => Lease::Stalled,
    })
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

/// Gives a job back on shutdown: pending again at once, this attempt not counted (the file did
/// nothing wrong), its document shown as queued until another worker claims it.
pub async fn release(db: &PgPool, job: &Job, worker: &str) -> Result<(), AppError> {
    sqlx::query(
        "WITH j AS (UPDATE ingestion_jobs
                       SET state = 'pending', attempts = greatest(attempts - 1, 0), worker = NULL, lease_until = NULL,
                           run_after = now(), updated_at = now()
                     WHERE id = $1 AND worker = $2 AND state = 'running'
                 RETURNING document_id)
         UPDATE documents d SET status = 'queued', progress = 0, updated_at = now() FROM j WHERE d.id = j.document_id",
    )
    .bind(job.id)
    .bind(worker)
    .execute(db)
    .await?;
    Ok(())
}

/// What the owner reads when a file's processing kept dying with its worker.
pub const STOPPED_REPEATEDLY: &str =
    "Processing stopped without finishing several times (the server restarted or ran out of resources while working on this file); it will not be tried again on its own. Choose Reprocess to try once more.";

/// The watchdog: jobs whose worker stopped renewing go back to the queue, each death counted
/// as an attempt (it was counted when claimed). One that has used all its attempts fails for
/// good with its document, so a file that kills whatever works on it cannot do so for ever.
pub async fn requeue_expired(db: &PgPool, max_attempts: i32) -> Result<u64, AppError> {
    let (requeued, failed): (i64, i64) = sqlx::query_as(
        "WITH expired AS (
             UPDATE ingestion_jobs
                SET state = CASE WHEN attempts >= $1 THEN 'failed' ELSE 'pending' END,
                    worker = NULL, lease_until = NULL, run_after = now(),
                    last_error = 'the worker stopped (lease expired)', updated_at = now()
              WHERE state = 'running' AND lease_until < now()
          RETURNING document_id, state),
         failed_docs AS (
             UPDATE documents d SET status = 'failed', error = $2, updated_at = now()
               FROM expired e WHERE e.state = 'failed' AND d.id = e.document_id
          RETURNING d.id)
         SELECT count(*) FILTER (WHERE state = 'pending'), count(*) FILTER (WHERE state = 'failed') FROM expired",
    )
    .bind(max_attempts)
    .bind(STOPPED_REPEATEDLY)
    .fetch_one(db)
    .await?;
    if requeued > 0 {
        tracing::warn!(jobs = requeued, "re-queued ingestion jobs whose worker stopped");
    }
    if failed > 0 {
        tracing::warn!(jobs = failed, "ingestion jobs whose worker stopped at every attempt failed for good");
    }
    Ok((requeued + failed) as u64)
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
