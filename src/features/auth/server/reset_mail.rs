//! The reset mails `password_reset::request` promised, kept in `reset_mail_outbox` until sent.
//! The asking process tries at once on its own task; every process sweeps what is due, so a
//! process killed before sending, or a mail server down for a while, delays the mail but does
//! not lose it. The link is made when the mail is sent (no usable token is ever stored), and a
//! link that was made but not delivered is withdrawn.

use super::sessions::SessionToken;
use crate::error::AppError;
use crate::providers::retry::Backoff;
use crate::server::state::AppState;
use std::time::Duration;
use uuid::Uuid;

pub const SUBJECT: &str = "Reset your ChatSphere password";

/// Longer than the mailer's own tries of one message, so a slow delivery is not sent twice.
const LEASE_SECS: f64 = 120.0;

/// How often each process looks for mails that are due.
const SWEEP: Duration = Duration::from_secs(30);

/// After a delivery failed even with the mailer's own retries: 30 s, doubling, at most 10 min.
fn backoff() -> Backoff {
    Backoff::new(u32::MAX, 30_000, 600_000)
}

pub fn link(public_url: &str, token: &str) -> String {
    format!("{}/reset-password?token={token}", public_url.trim_end_matches('/'))
}

/// Records that `user` is owed a link, then tries to send it on a task of its own, so the
/// request's answer takes the same time whether or not the address has an account.
pub async fn promise(state: &AppState, user: Uuid) -> Result<(), AppError> {
    let id: i64 = sqlx::query_scalar("INSERT INTO reset_mail_outbox (user_id) VALUES ($1) RETURNING id").bind(user).fetch_one(&state.db).await?;
    let state = state.clone();
    tokio::spawn(async move {
        if let Err(error) = deliver(&state, Some(id)).await {
            tracing::warn!(%error, "reset mail left for the sweep");
        }
    });
    Ok(())
}

/// Every process, for as long as it runs: delivers the mails that are due.
pub async fn sweep(state: AppState) {
    let mut tick = tokio::time::interval(SWEEP);
    loop {
        tick.tick().await;
        if let Err(error) = deliver_due(&state).await {
            tracing::warn!(%error, "reset-mail sweep failed; trying again later");
        }
    }
}

/// Delivers the mails that are due; returns how many were sent.
pub async fn deliver_due(state: &AppState) -> Result<usize, AppError> {
    let mut sent = 0;
    while let Some(delivered) = deliver(state, None).await? {
        sent += usize::from(delivered);
    }
    Ok(sent)
}

/// Claims one due mail (`only` that one, if given) and sends it. None when none was due;
/// otherwise whether it was sent (a failure is recorded on the row, not returned).
async fn deliver(state: &AppState, only: Option<i64>) -> Result<Option<bool>, AppError> {
    let Some(mailer) = state.mailer.clone() else { return Ok(None) };
    let minutes = state.settings.mail.reset_link_minutes as i32;
    let claimed: Option<(i64, Uuid, i32, bool)> = sqlx::query_as(
        "UPDATE reset_mail_outbox SET attempts = attempts + 1, lease_until = now() + make_interval(secs => $1)
          WHERE id = (SELECT id FROM reset_mail_outbox
                       WHERE run_after <= now() AND (lease_until IS NULL OR lease_until < now()) AND ($2::bigint IS NULL OR id = $2)
                       ORDER BY run_after, id LIMIT 1 FOR UPDATE SKIP LOCKED)
         RETURNING id, user_id, attempts, created_at < now() - make_interval(mins => $3)",
    )
    .bind(LEASE_SECS)
    .bind(only)
    .bind(minutes)
    .fetch_optional(&state.db)
    .await?;
    let Some((id, user, attempts, too_old)) = claimed else { return Ok(None) };
    let done = || sqlx::query("DELETE FROM reset_mail_outbox WHERE id = $1").bind(id).execute(&state.db);
    let email: Option<String> = sqlx::query_scalar("SELECT email FROM users WHERE id = $1 AND disabled_at IS NULL").bind(user).fetch_optional(&state.db).await?;
    let Some(email) = email.filter(|_| !too_old) else {
        // Disabled since, or so late that the link would already have expired: asking again
        // is the person's better choice.
        tracing::warn!(user_id = %user, attempts, too_old, "reset mail dropped unsent");
        done().await?;
        return Ok(Some(false));
    };
    let token = SessionToken::generate();
    sqlx::query("INSERT INTO password_resets (token_hash, user_id, expires_at) VALUES ($1, $2, now() + make_interval(mins => $3))")
        .bind(token.hash())
        .bind(user)
        .bind(minutes)
        .execute(&state.db)
        .await?;
    let public_url = &state.settings.server.public_url;
    let body = format!(
        "Someone asked to reset the password of the ChatSphere account {email} at {public_url}.\n\n\
         To choose a new password, open this link. It works once, for {minutes} minutes:\n\n{link}\n\n\
         If it was not you, ignore this mail: your password stays as it is.\n",
        link = link(public_url, token.as_str()),
    );
    let failure = match mailer.send(&email, SUBJECT, body).await {
        Ok(()) => {
            done().await?;
            tracing::info!(user_id = %user, attempts, "password-reset link sent");
            return Ok(Some(true));
        }
        Err(failure) => failure,
    };
    // The link never reached anyone: it goes, and a later try makes a new one.
    sqlx::query("DELETE FROM password_resets WHERE token_hash = $1").bind(token.hash()).execute(&state.db).await?;
    if failure.is_permanent() {
        tracing::error!(user_id = %user, error = %failure, "password-reset link refused for good; not retried");
        done().await?;
    } else {
        let wait = backoff().delay(attempts as u32);
        tracing::warn!(user_id = %user, attempts, error = %failure, retry_in_secs = wait.as_secs(), "password-reset link not sent yet; will retry");
        sqlx::query("UPDATE reset_mail_outbox SET lease_until = NULL, last_error = $2, run_after = now() + make_interval(secs => $3) WHERE id = $1")
            .bind(id)
            .bind(failure.to_string())
            .bind(wait.as_secs_f64())
            .execute(&state.db)
            .await?;
    }
    Ok(Some(false))
}
