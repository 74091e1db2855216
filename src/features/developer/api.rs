//! API keys from the owner's Settings: list, create (the secret comes back this once), revoke.

use super::{ApiKeyView, CreatedKey};
use crate::error::AppError;
use leptos::prelude::*;
use uuid::Uuid;

#[server(endpoint = "developer/keys")]
pub async fn list_keys() -> Result<Vec<ApiKeyView>, AppError> {
    let caller = crate::features::auth::server::require_user().await?;
    super::server::keys::list(&caller.state.db, caller.user.id).await
}

/// `bot` is a bot's id, or empty for all of the owner's bots; `expires_in_days` 0 is never.
#[server(endpoint = "developer/create_key")]
pub async fn create_key(name: String, bot: String, permission: String, expires_in_days: i64) -> Result<CreatedKey, AppError> {
    use super::server::keys::{self, NewKey};
    let caller = crate::features::auth::server::require_user().await?;
    let max = caller.state.settings.api.max_keys_per_user;
    let new = NewKey { name: &name, bot: &bot, permission: &permission, expires_in_days };
    keys::create(&caller.state.db, caller.user.id, max, new).await
}

#[server(endpoint = "developer/revoke_key")]
pub async fn revoke_key(id: Uuid) -> Result<(), AppError> {
    let caller = crate::features::auth::server::require_user().await?;
    super::server::keys::revoke(&caller.state.db, caller.user.id, id).await
}

/// The address programs call, for the reference page's examples.
#[server(endpoint = "developer/base_url")]
pub async fn api_base_url() -> Result<String, AppError> {
    let caller = crate::features::auth::server::require_user().await?;
    Ok(caller.state.settings.server.public_url.trim_end_matches('/').to_owned())
}
