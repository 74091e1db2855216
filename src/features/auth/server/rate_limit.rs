//! Sign-in throttling, kept in PostgreSQL so every server process sees the same counts.
//! A key (an account or an address) is locked while its `max` most recent failures all
//! fall inside the window; the wait is until the oldest of them leaves it.

use crate::error::AppError;
use sqlx::PgPool;

pub fn account_key(email: &str) -> String {
    format!("account:{email}")
}

pub fn ip_key(ip: &str) -> String {
    format!("ip:{ip}")
}

pub async fn check(db: &PgPool, key: &str, max: i64, window_secs: i64) -> Result<(), AppError> {
    let wait: Option<f64> = sqlx::query_scalar(
        "SELECT EXTRACT(EPOCH FROM (at + make_interval(secs => $3) - now()))::float8
           FROM auth_failures
          WHERE key = $1 AND at > now() - make_interval(secs => $3)
          ORDER BY at DESC
         OFFSET $2 - 1 LIMIT 1",
    )
    .bind(key)
    .bind(max)
    .bind(window_secs as f64)
    .fetch_optional(db)
    .await?;
    match wait {
        Some(secs) => Err(AppError::RateLimited { retry_after_secs: secs.ceil().max(1.0) as u64 }),
        None => Ok(()),
    }
}

pub async fn record_failure(db: &PgPool, keys: &[&str], window_secs: i64) -> Result<(), AppError> {
    let mut tx = db.begin().await?;
    for key in keys {
        sqlx::query("INSERT INTO auth_failures (key) VALUES ($1)").bind(key).execute(&mut *tx).await?;
    }
    // Old rows are useless; pruning here keeps the table as small as the window.
    sqlx::query("DELETE FROM auth_failures WHERE at < now() - make_interval(secs => $1)")
        .bind(window_secs as f64)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn clear(db: &PgPool, key: &str) -> Result<(), AppError> {
    sqlx::query("DELETE FROM auth_failures WHERE key = $1").bind(key).execute(db).await?;
    Ok(())
}
