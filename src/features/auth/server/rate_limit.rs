//! Throttling of password guesses and sign-ups, kept in PostgreSQL so every server process sees
//! the same counts. A key (an account, an address) is locked while its `max` most recent
//! attempts all fall inside the window; the wait is until the oldest of them leaves it.
//!
//! Atomic: an attempt is recorded *before* the password is checked, under a per-key lock, and
//! withdrawn if it succeeds. Checking first and recording after would let a burst of parallel
//! guesses all pass the check before any of them was counted.

use crate::error::AppError;
use sqlx::{PgPool, Postgres, Transaction};

pub fn account_key(email: &str) -> String {
    format!("account:{email}")
}

pub fn ip_key(ip: &str) -> String {
    format!("ip:{ip}")
}

/// Re-checks of a signed-in user's password (password change, account deletion).
pub fn reauth_key(user: uuid::Uuid) -> String {
    format!("reauth:{user}")
}

pub fn signup_key(ip: &str) -> String {
    format!("signup:{ip}")
}

/// One key's limit: at most `max` attempts in `window_secs`.
pub struct Limit<'a> {
    pub key: &'a str,
    pub max: i64,
    pub window_secs: i64,
}

/// An attempt counted against its keys; `withdraw` it when it turns out well.
#[must_use]
pub struct Attempt {
    ids: Vec<i64>,
}

async fn wait_secs(tx: &mut Transaction<'_, Postgres>, limit: &Limit<'_>) -> Result<Option<f64>, AppError> {
    Ok(sqlx::query_scalar(
        "SELECT EXTRACT(EPOCH FROM (at + make_interval(secs => $3) - now()))::float8
           FROM auth_failures
          WHERE key = $1 AND at > now() - make_interval(secs => $3)
          ORDER BY at DESC
         OFFSET $2 - 1 LIMIT 1",
    )
    .bind(limit.key)
    .bind(limit.max.max(1))
    .bind(limit.window_secs as f64)
    .fetch_optional(&mut **tx)
    .await?)
}

/// Counts an attempt against every key, or refuses it (`RateLimited`, nothing recorded) when
/// any key is already at its limit.
pub async fn begin(db: &PgPool, limits: &[Limit<'_>]) -> Result<Attempt, AppError> {
    let mut tx = db.begin().await?;
    // Keys locked in one order, so two attempts over the same keys cannot deadlock.
    let mut keys: Vec<&str> = limits.iter().map(|l| l.key).collect();
    keys.sort_unstable();
    keys.dedup();
    for key in keys {
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 7))").bind(key).execute(&mut *tx).await?;
    }
    for limit in limits {
        if let Some(secs) = wait_secs(&mut tx, limit).await? {
            tx.rollback().await?;
            return Err(AppError::RateLimited { retry_after_secs: secs.ceil().max(1.0) as u64 });
        }
    }
    let mut ids = Vec::with_capacity(limits.len());
    for limit in limits {
        ids.push(sqlx::query_scalar("INSERT INTO auth_failures (key) VALUES ($1) RETURNING id").bind(limit.key).fetch_one(&mut *tx).await?);
    }
    // Old rows are useless; pruning here keeps the table as small as the longest window.
    let longest = limits.iter().map(|l| l.window_secs).max().unwrap_or(0).max(24 * 3600);
    sqlx::query("DELETE FROM auth_failures WHERE at < now() - make_interval(secs => $1)")
        .bind(longest as f64)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Attempt { ids })
}

impl Attempt {
    /// The attempt succeeded: it no longer counts (and, when `clear` names a key, neither do
    /// that key's earlier failures: the right password ends an account's lock).
    pub async fn withdraw(self, db: &PgPool, clear: Option<&str>) -> Result<(), AppError> {
        sqlx::query("DELETE FROM auth_failures WHERE id = ANY($1) OR key = $2")
            .bind(&self.ids)
            .bind(clear)
            .execute(db)
            .await?;
        Ok(())
    }

    /// The attempt stands (a wrong password, or a sign-up that must keep counting).
    pub fn keep(self) {}
}
