//! The owner's Conversations inbox for a bot: every conversation (the owner's own tests, the
//! share page, the widget) with its channel, website and page, a visitor label, the first
//! question, counts, thumbs and unanswered questions; filters; a transcript with sources; and
//! CSV and JSON exports.

mod api;
mod pages;
#[cfg(feature = "ssr")]
pub mod server;

pub use api::*;
pub use pages::*;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Which conversations to list. Empty strings mean "any".
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct InboxFilter {
    /// "", "owner", "share", "widget", "api".
    pub channel: String,
    /// `YYYY-MM-DD`, inclusive, UTC.
    pub from: String,
    pub to: String,
    pub thumbs_down: bool,
    pub unanswered: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InboxRow {
    pub id: Uuid,
    pub channel: String,
    /// The website (widget conversations).
    pub site: Option<String>,
    /// The page it started on (widget conversations).
    pub page_url: Option<String>,
    /// "You", "Visitor 3f2a" (the same visitor keeps the same label) or "API key “name”".
    pub visitor: String,
    pub first_question: String,
    pub messages: i64,
    pub thumbs_up: i64,
    pub thumbs_down: i64,
    pub unanswered: i64,
    pub started_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

pub fn channel_label(channel: &str) -> &'static str {
    match channel {
        "owner" => "Your tests",
        "share" => "Share page",
        "widget" => "Widget",
        "api" => "API",
        _ => "Other",
    }
}
