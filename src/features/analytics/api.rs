//! Analytics server functions: authenticate, resolve the caller's bots, compute. A bot of
//! someone else is "not found", exactly like a bot that does not exist.

use super::{Report, ReportQuery, UnansweredGroup};
use crate::error::AppError;
use crate::features::chat::ExportFile;
use crate::features::knowledge::DocumentSummary;
use leptos::prelude::*;
use leptos::server_fn::codec::Json;
use uuid::Uuid;

#[server(endpoint = "analytics/report", input = Json)]
pub async fn analytics_report(query: ReportQuery) -> Result<Report, AppError> {
    let caller = crate::features::auth::server::require_user().await?;
    let scope = super::server::scope(&caller.state.db, caller.user.id, &query).await?;
    super::server::figures::report(&caller.state.db, &scope, &query, &caller.state.settings.llm.models).await
}

#[server(endpoint = "analytics/unanswered", input = Json)]
pub async fn unanswered_questions(query: ReportQuery) -> Result<Vec<UnansweredGroup>, AppError> {
    let caller = crate::features::auth::server::require_user().await?;
    let scope = super::server::scope(&caller.state.db, caller.user.id, &query).await?;
    super::server::unanswered::groups(&caller.state.db, &caller.state.providers, &scope).await
}

/// The owner's answer to a group of unanswered questions becomes a Q&A source of the bot.
#[server(endpoint = "analytics/answer", input = Json)]
pub async fn answer_unanswered(bot: String, question: String, answer: String, answers: Vec<Uuid>) -> Result<DocumentSummary, AppError> {
    let caller = crate::features::auth::server::require_user().await?;
    super::server::unanswered::answer(&caller.state.db, caller.user.id, &bot, &question, &answer, &answers).await
}

/// `kind`: "figures" (what the page shows) or "conversations" (every message of the range).
#[server(endpoint = "analytics/export", input = Json)]
pub async fn export_analytics(query: ReportQuery, kind: String) -> Result<ExportFile, AppError> {
    let caller = crate::features::auth::server::require_user().await?;
    let db = &caller.state.db;
    let scope = super::server::scope(db, caller.user.id, &query).await?;
    match kind.as_str() {
        "figures" => super::server::export::figures(&super::server::figures::report(db, &scope, &query, &caller.state.settings.llm.models).await?),
        "conversations" => super::server::export::conversations(db, &scope, query.from, query.to).await,
        _ => Err(AppError::invalid("kind", "Export figures or conversations.")),
    }
}
