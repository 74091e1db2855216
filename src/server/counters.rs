//! Fixed-window counters in PostgreSQL: one row per key and window, incremented in one
//! transaction that is rolled back when any of them would pass its limit. Visitor limits and
//! API-key limits count here; nothing scans history, and every server process sees the same
//! counts. Rows past their window are purged by housekeeping.

use crate::error::AppError;
use chrono::{DateTime, Datelike, Duration, TimeZone, Utc};
use sqlx::PgPool;

/// One counter: at most `max` spends under `key` until `ends`.
pub struct Window {
    pub key: String,
    pub max: i64,
    pub ends: DateTime<Utc>,
}

/// A limit was reached: when the window that is full ends, and which one it was.
#[derive(Debug)]
pub struct Limited {
    pub retry_after_secs: u64,
    pub max: i64,
}

/// The ends of the current minute, day and month (UTC).
pub fn windows(now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>, DateTime<Utc>) {
    let minute = now + Duration::seconds(60 - now.timestamp() % 60);
    let day = Utc.with_ymd_and_hms(now.year(), now.month(), now.day(), 0, 0, 0).unwrap() + Duration::days(1);
    let (y, m) = if now.month() == 12 { (now.year() + 1, 1) } else { (now.year(), now.month() + 1) };
    let month = Utc.with_ymd_and_hms(y, m, 1, 0, 0, 0).unwrap();
    (minute, day, month)
}

/// Counts one spend against every window, or refuses it (counting nothing). On success, the
/// count each window has reached, in order.
pub async fn spend(db: &PgPool, windows: &[Window]) -> Result<Result<Vec<i64>, Limited>, AppError> {
    let now = Utc::now();
    let mut tx = db.begin().await?;
    let mut counts = Vec::with_capacity(windows.len());
    for w in windows {
        let n: i32 = sqlx::query_scalar(
            "INSERT INTO rate_counts (key, n, expires_at) VALUES ($1, 1, $2)
             ON CONFLICT (key) DO UPDATE SET n = rate_counts.n + 1 RETURNING n",
        )
        .bind(&w.key)
        .bind(w.ends)
        .fetch_one(&mut *tx)
        .await?;
        if i64::from(n) > w.max {
            tx.rollback().await?;
            return Ok(Err(Limited { retry_after_secs: (w.ends - now).num_seconds().max(1) as u64, max: w.max }));
        }
        counts.push(i64::from(n));
    }
    tx.commit().await?;
    Ok(Ok(counts))
}

pub async fn purge_expired(db: &PgPool) -> Result<u64, AppError> {
    Ok(sqlx::query("DELETE FROM rate_counts WHERE expires_at <= now()").execute(db).await?.rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_end_at_the_next_minute_day_and_month() {
        let now = Utc.with_ymd_and_hms(2026, 12, 31, 23, 59, 30).unwrap();
        let (m, d, mo) = windows(now);
        assert_eq!(m, Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap());
        assert_eq!(d, Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap());
        assert_eq!(mo, Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap());
        let (m, d, mo) = windows(Utc.with_ymd_and_hms(2026, 3, 5, 10, 0, 0).unwrap());
        assert_eq!((m.timestamp() - 1772704800, d.day(), mo.month()), (60, 6, 4));
    }
}
