//! Analytics: how each bot is used, how well it answers, how fast, what it costs, and which
//! questions it could not answer (with a one-click way to teach it the answer). Every figure
//! is aggregated in SQL over indexed columns, for the owner's bots only, with days cut at
//! the owner's browser time zone.

mod api;
mod pages;
#[cfg(feature = "ssr")]
pub mod server;

pub use api::*;
pub use pages::*;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// What the page asks for: a date range (inclusive, in `time_zone`), and one bot or all.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReportQuery {
    /// A bot's public id; None for all of the owner's bots.
    pub bot: Option<String>,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// An IANA name from the browser, e.g. "Europe/Paris".
    pub time_zone: String,
}

/// Longest range one report covers.
pub const MAX_DAYS: i64 = 366;

/// Counts for a period.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    pub conversations: i64,
    /// Questions and answers.
    pub messages: i64,
    pub questions: i64,
    /// Distinct people (signed-in users and anonymous visitors) who asked something.
    pub visitors: i64,
    /// Answers that came from the knowledge, and answers that were the fallback.
    pub answered: i64,
    pub fallback: i64,
    pub thumbs_up: i64,
    pub thumbs_down: i64,
}

impl Totals {
    /// Share of rated answers that were rated up, if any were rated.
    pub fn thumbs_up_rate(&self) -> Option<f64> {
        let rated = self.thumbs_up + self.thumbs_down;
        (rated > 0).then(|| self.thumbs_up as f64 / rated as f64)
    }

    /// Share of answers that came from the knowledge rather than the fallback.
    pub fn answered_rate(&self) -> Option<f64> {
        let total = self.answered + self.fallback;
        (total > 0).then(|| self.answered as f64 / total as f64)
    }
}

/// One day of the range (every day is present, empty ones with zeros).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Day {
    pub day: NaiveDate,
    pub conversations: i64,
    pub messages: i64,
    pub visitors: i64,
    /// Milliseconds; None on days without answers.
    pub ttft_p50: Option<f64>,
    pub ttft_p95: Option<f64>,
    pub total_p50: Option<f64>,
    pub total_p95: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    pub provider: String,
    pub model: String,
    pub answers: i64,
    pub tokens_in: i64,
    pub tokens_out: i64,
    /// From the per-model prices in configuration; None when the model has none.
    pub cost: Option<f64>,
}

/// A thumbs-down, with what was asked and said, and where to read the conversation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Downvote {
    pub bot: String,
    pub bot_name: String,
    pub conversation: Uuid,
    pub question: String,
    pub answer: String,
    pub comment: Option<String>,
    pub at: chrono::DateTime<chrono::Utc>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DocumentCitations {
    pub bot_name: String,
    pub document: String,
    pub citations: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BotChoice {
    pub public_id: String,
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub query: ReportQuery,
    pub bots: Vec<BotChoice>,
    pub totals: Totals,
    /// The same length of time just before, for the change.
    pub previous: Totals,
    pub days: Vec<Day>,
    pub usage: Vec<Usage>,
    pub downvotes: Vec<Downvote>,
    pub top_documents: Vec<DocumentCitations>,
    pub uncited_documents: Vec<DocumentCitations>,
    /// Where people chatted: the owner's own tests, the share page, the widget.
    pub channels: Vec<ChannelFigures>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChannelFigures {
    /// "owner", "share", "widget", "api".
    pub channel: String,
    /// The API key's name, for the "api" channel (one row per key).
    pub key: Option<String>,
    pub visitors: i64,
    pub conversations: i64,
    pub questions: i64,
}

/// Questions the bot could not answer, grouped by meaning.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UnansweredGroup {
    pub bot: String,
    pub bot_name: String,
    /// The newest question of the group, shown as its example.
    pub example: String,
    pub count: i64,
    pub newest_at: chrono::DateTime<chrono::Utc>,
    /// The unanswered answers of the group, marked resolved when the owner answers it.
    pub answers: Vec<Uuid>,
    /// Other wordings in the group (a few).
    pub variants: Vec<String>,
}

/// Relative change from `before` to `now`, when `before` is not zero.
pub fn change(now: i64, before: i64) -> Option<f64> {
    (before != 0).then(|| (now - before) as f64 / before as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_and_changes_are_none_without_a_base() {
        let t = Totals { thumbs_up: 3, thumbs_down: 1, answered: 1, fallback: 3, ..Totals::default() };
        assert_eq!(t.thumbs_up_rate(), Some(0.75));
        assert_eq!(t.answered_rate(), Some(0.25));
        assert_eq!(Totals::default().thumbs_up_rate(), None);
        assert_eq!(change(15, 10), Some(0.5));
        assert_eq!(change(3, 0), None);
    }
}
