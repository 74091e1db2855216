//! Visitor limits as fixed-window counters in PostgreSQL: one row per key and window (visitor
//! per minute and per day, client address per day, bot per day and per month), all incremented
//! in one transaction that is rolled back when any of them would pass its limit. Each message
//! touches five small rows; nothing scans history, and every server process sees the same counts.

use crate::error::AppError;
use crate::features::public::Publishing;
use chrono::{DateTime, Datelike, Duration, TimeZone, Utc};
use sqlx::PgPool;
use uuid::Uuid;

/// A limit was reached: the owner's message, and when the window that is full ends.
#[derive(Debug)]
pub struct Limited {
    pub retry_after_secs: u64,
}

fn windows(now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>, DateTime<Utc>) {
    let minute = now + Duration::seconds(60 - now.timestamp() % 60);
    let day = Utc.with_ymd_and_hms(now.year(), now.month(), now.day(), 0, 0, 0).unwrap() + Duration::days(1);
    let (y, m) = if now.month() == 12 { (now.year() + 1, 1) } else { (now.year(), now.month() + 1) };
    let month = Utc.with_ymd_and_hms(y, m, 1, 0, 0, 0).unwrap();
    (minute, day, month)
}

/// Counts one visitor message against every limit, or refuses it (counting nothing).
pub async fn spend(db: &PgPool, p: &Publishing, bot: Uuid, visitor: Uuid, address: &str) -> Result<Result<(), Limited>, AppError> {
    let now = Utc::now();
    let (minute, day, month) = windows(now);
    let keys = [
        (format!("v:{visitor}:m:{}", minute.timestamp()), p.per_visitor_minute, minute),
        (format!("v:{visitor}:d:{}", day.timestamp()), p.per_visitor_day, day),
        (format!("a:{bot}:{address}:d:{}", day.timestamp()), p.per_address_day, day),
        (format!("b:{bot}:d:{}", day.timestamp()), p.per_bot_day, day),
        (format!("b:{bot}:mo:{}", month.timestamp()), p.per_bot_month, month),
    ];
    let mut tx = db.begin().await?;
    for (key, max, ends) in &keys {
        let n: i32 = sqlx::query_scalar(
            "INSERT INTO visitor_counts (key, n, expires_at) VALUES ($1, 1, $2)
             ON CONFLICT (key) DO UPDATE SET n = visitor_counts.n + 1 RETURNING n",
        )
        .bind(key)
        .bind(ends)
        .fetch_one(&mut *tx)
        .await?;
        if n > *max {
            tx.rollback().await?;
            return Ok(Err(Limited { retry_after_secs: (*ends - now).num_seconds().max(1) as u64 }));
        }
    }
    tx.commit().await?;
    Ok(Ok(()))
}

pub async fn purge_expired(db: &PgPool) -> Result<u64, AppError> {
    Ok(sqlx::query("DELETE FROM visitor_counts WHERE expires_at <= now()").execute(db).await?.rows_affected())
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
