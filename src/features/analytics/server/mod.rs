//! Server side of analytics: the figures (`figures`), the unanswered questions and their
//! answers (`unanswered`), and CSV exports (`export`). Every query is scoped to bots the
//! caller owns, resolved once by `scope`.

pub mod export;
pub mod figures;
pub mod unanswered;

use super::{BotChoice, ReportQuery, MAX_DAYS};
use crate::error::AppError;
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

/// The bots a report covers and the instants its days start and end at.
pub struct Scope {
    pub bots: Vec<Uuid>,
    pub choices: Vec<BotChoice>,
    pub time_zone: String,
    /// [from, to) in the owner's time zone, and the same length just before.
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub previous_from: DateTime<Utc>,
}

/// Checks the query and resolves it for `owner`: someone else's bot is "not found".
pub async fn scope(db: &PgPool, owner: Uuid, q: &ReportQuery) -> Result<Scope, AppError> {
    if q.to < q.from {
        return Err(AppError::invalid("to", "The end date is before the start date."));
    }
    if (q.to - q.from).num_days() >= MAX_DAYS {
        return Err(AppError::invalid("from", format!("Choose at most {MAX_DAYS} days.")));
    }
    let tz = q.time_zone.trim();
    if tz.is_empty() || tz.len() > 64 {
        return Err(AppError::invalid("time_zone", "Unknown time zone."));
    }
    // Midnights in the owner's zone; PostgreSQL knows the zone database (and says when not).
    let bounds: Result<(DateTime<Utc>, DateTime<Utc>, DateTime<Utc>), sqlx::Error> = sqlx::query_as(
        "SELECT ($1::date)::timestamp AT TIME ZONE $3, ($2::date + 1)::timestamp AT TIME ZONE $3,
                ($1::date - ($2::date - $1::date + 1))::timestamp AT TIME ZONE $3",
    )
    .bind(q.from)
    .bind(q.to)
    .bind(tz)
    .fetch_one(db)
    .await;
    let (from, to, previous_from) = match bounds {
        Ok(b) => b,
        Err(sqlx::Error::Database(e)) if e.message().contains("time zone") => return Err(AppError::invalid("time_zone", format!("Unknown time zone {tz}."))),
        Err(e) => return Err(e.into()),
    };
    let owned: Vec<(Uuid, String, String)> = sqlx::query_as("SELECT id, public_id, name FROM bots WHERE owner_id = $1 ORDER BY name, created_at").bind(owner).fetch_all(db).await?;
    let choices = owned.iter().map(|(_, public_id, name)| BotChoice { public_id: public_id.clone(), name: name.clone() }).collect();
    let bots = match &q.bot {
        Some(public_id) => {
            let bot = owned.iter().find(|(_, p, _)| p == public_id).ok_or_else(|| AppError::NotFound("Bot".into()))?;
            vec![bot.0]
        }
        None => owned.iter().map(|(id, _, _)| *id).collect(),
    };
    Ok(Scope { bots, choices, time_zone: tz.to_owned(), from, to, previous_from })
}
