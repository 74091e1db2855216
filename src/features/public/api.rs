//! The owner's publishing server functions: read and save a bot's public side.

use super::ShareInfo;
use crate::error::AppError;
use leptos::prelude::*;

#[server(endpoint = "public/share")]
pub async fn get_share(bot_id: String) -> Result<ShareInfo, AppError> {
    let caller = crate::features::auth::server::require_user().await?;
    let state = &caller.state;
    super::server::store::get(&state.db, &state.settings.server.public_url, caller.user.id, &bot_id).await
}

/// The "Share & embed" form. Checkboxes are present only when ticked; allowed websites come
/// one per line.
#[server(endpoint = "public/save_share")]
#[allow(clippy::too_many_arguments)]
pub async fn save_share(
    bot_id: String,
    published: Option<String>,
    allowed_sites: String,
    per_visitor_minute: i32,
    per_visitor_day: i32,
    per_address_day: i32,
    per_bot_day: i32,
    per_bot_month: i32,
    limit_message: String,
    show_sources: Option<String>,
    widget_position: String,
    open_on_load: Option<String>,
    indexable: Option<String>,
) -> Result<ShareInfo, AppError> {
    let caller = crate::features::auth::server::require_user().await?;
    let state = &caller.state;
    let settings = super::Publishing {
        allowed_sites: allowed_sites.lines().map(str::to_owned).collect(),
        per_visitor_minute,
        per_visitor_day,
        per_address_day,
        per_bot_day,
        per_bot_month,
        limit_message,
        show_sources: show_sources.is_some(),
        widget_position,
        open_on_load: open_on_load.is_some(),
        indexable: indexable.is_some(),
    };
    super::server::store::save(&state.db, &state.settings.server.public_url, caller.user.id, &bot_id, published.is_some(), settings).await
}
