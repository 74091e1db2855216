//! Visitor limits: per visitor per minute and per day, per client address per day, per bot per
//! day and per month, as fixed-window counters (`server::counters`). The bot's day and month
//! windows are shared with the developer API, so they limit the bot wherever it answers.

use crate::error::AppError;
use crate::features::public::Publishing;
use crate::server::counters::{self, Limited, Window};
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

/// The bot's own day and month windows.
pub fn bot_windows(p: &Publishing, bot: Uuid, now: DateTime<Utc>) -> [Window; 2] {
    let (_, day, month) = counters::windows(now);
    [
        Window { key: format!("b:{bot}:d:{}", day.timestamp()), max: i64::from(p.per_bot_day), ends: day },
        Window { key: format!("b:{bot}:mo:{}", month.timestamp()), max: i64::from(p.per_bot_month), ends: month },
    ]
}

/// Counts one visitor message against every limit, or refuses it (counting nothing).
pub async fn spend(db: &PgPool, p: &Publishing, bot: Uuid, visitor: Uuid, address: &str) -> Result<Result<(), Limited>, AppError> {
    let now = Utc::now();
    let (minute, day, _) = counters::windows(now);
    let mut windows = vec![
        Window { key: format!("v:{visitor}:m:{}", minute.timestamp()), max: i64::from(p.per_visitor_minute), ends: minute },
        Window { key: format!("v:{visitor}:d:{}", day.timestamp()), max: i64::from(p.per_visitor_day), ends: day },
        Window { key: format!("a:{bot}:{address}:d:{}", day.timestamp()), max: i64::from(p.per_address_day), ends: day },
    ];
    windows.extend(bot_windows(p, bot, now));
    Ok(counters::spend(db, &windows).await?.map(|_| ()))
}
