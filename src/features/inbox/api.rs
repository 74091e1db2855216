//! Inbox server functions: the caller's bots only.

use super::{InboxFilter, InboxRow};
use crate::error::AppError;
use crate::features::chat::{ConversationView, ExportFile};
use leptos::prelude::*;

#[server(endpoint = "inbox/list")]
pub async fn inbox(bot_id: String, filter: InboxFilter) -> Result<Vec<InboxRow>, AppError> {
    let caller = crate::features::auth::server::require_user().await?;
    super::server::list(&caller.state.db, caller.user.id, &bot_id, &filter).await
}

#[server(endpoint = "inbox/transcript")]
pub async fn inbox_transcript(conversation_id: String) -> Result<ConversationView, AppError> {
    let caller = crate::features::auth::server::require_user().await?;
    let id = uuid::Uuid::parse_str(conversation_id.trim()).map_err(|_| AppError::NotFound("Conversation".into()))?;
    super::server::transcript(&caller.state.db, caller.user.id, id).await
}

/// `format`: "csv" or "json".
#[server(endpoint = "inbox/export")]
pub async fn inbox_export(bot_id: String, filter: InboxFilter, format: String) -> Result<ExportFile, AppError> {
    let caller = crate::features::auth::server::require_user().await?;
    super::server::export(&caller.state.db, caller.user.id, &bot_id, &filter, &format).await
}
