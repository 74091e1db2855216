//! Bot server functions: authenticate, then call `server` with the caller's id. Every one
//! of them answers "Bot not found." for a bot the caller does not own.

use super::{Bot, BotSettings, BotSummary, EditorOptions};
use crate::error::AppError;
use leptos::prelude::*;
use leptos::server_fn::codec::{Json, MultipartData, MultipartFormData};

#[server(endpoint = "bots/list")]
pub async fn list_bots() -> Result<Vec<BotSummary>, AppError> {
    let caller = crate::features::auth::server::require_user().await?;
    super::server::list(&caller.state.db, caller.user.id).await
}

#[server(endpoint = "bots/get")]
pub async fn get_bot(public_id: String) -> Result<Bot, AppError> {
    let caller = crate::features::auth::server::require_user().await?;
    super::server::get(&caller.state.db, caller.user.id, &public_id).await
}

#[server(endpoint = "bots/editor_options")]
pub async fn bot_editor_options() -> Result<EditorOptions, AppError> {
    let caller = crate::features::auth::server::require_user().await?;
    let state = &caller.state;
    Ok(EditorOptions { limits: state.settings.bots.clone(), models: state.providers.models.clone(), embedders: state.providers.embedding_choices() })
}

#[server(endpoint = "bots/create")]
pub async fn create_bot(name: String) -> Result<Bot, AppError> {
    let caller = crate::features::auth::server::require_user().await?;
    let state = &caller.state;
    let embedders = state.providers.embedding_choices();
    super::server::create(&state.db, &state.settings.bots, &state.providers.models, &embedders, caller.user.id, &name).await
}

#[server(endpoint = "bots/update", input = Json)]
pub async fn update_bot(public_id: String, settings: BotSettings) -> Result<Bot, AppError> {
    let caller = crate::features::auth::server::require_user().await?;
    let state = &caller.state;
    let embedders = state.providers.embedding_choices();
    super::server::update(&state.db, &state.settings.bots, &state.providers.models, &embedders, caller.user.id, &public_id, settings).await
}

#[server(endpoint = "bots/duplicate")]
pub async fn duplicate_bot(public_id: String) -> Result<Bot, AppError> {
    let caller = crate::features::auth::server::require_user().await?;
    super::server::duplicate(&caller.state.db, &caller.state.settings.bots, caller.user.id, &public_id).await
}

#[server(endpoint = "bots/delete")]
pub async fn delete_bot(public_id: String) -> Result<(), AppError> {
    let caller = crate::features::auth::server::require_user().await?;
    // Its vectors in a remote store go through the deletion outbox.
    super::server::delete(&caller.state.db, caller.user.id, &public_id).await?;
    Ok(())
}

/// Multipart fields: `public_id`, then `avatar` (the image). The image is read in chunks and
/// refused as soon as it passes the configured cap, so a huge upload costs no memory.
#[server(endpoint = "bots/upload_avatar", input = MultipartFormData)]
pub async fn upload_avatar(data: MultipartData) -> Result<Bot, AppError> {
    let caller = crate::features::auth::server::require_user().await?;
    let limits = &caller.state.settings.bots;
    let mut form = data.into_inner().ok_or(AppError::Internal)?;
    let bad_form = || AppError::invalid("avatar", "The upload was not understood; choose the image again.");
    let mut public_id = None;
    let mut image = None;
    while let Some(mut field) = form.next_field().await.map_err(|_| bad_form())? {
        match field.name() {
            Some("public_id") => public_id = Some(crate::server::form::short_field(&mut field).await.ok_or_else(bad_form)?),
            Some("avatar") => {
                let mut bytes = Vec::new();
                while let Some(chunk) = field.chunk().await.map_err(|_| bad_form())? {
                    if bytes.len() + chunk.len() > limits.avatar_max_bytes {
                        return Err(super::server::too_large(limits));
                    }
                    bytes.extend_from_slice(&chunk);
                }
                image = Some(bytes);
            }
            _ => {}
        }
    }
    let (Some(public_id), Some(image)) = (public_id, image) else { return Err(bad_form()) };
    super::server::set_avatar(&caller.state.db, limits, caller.user.id, &public_id, image).await
}

#[server(endpoint = "bots/remove_avatar")]
pub async fn remove_avatar(public_id: String) -> Result<Bot, AppError> {
    let caller = crate::features::auth::server::require_user().await?;
    super::server::remove_avatar(&caller.state.db, caller.user.id, &public_id).await
}
