//! Who is asking: every developer-API request presents a key in `Authorization: Bearer`, which
//! is looked up (revocation and expiry count at once), counted against the key's per-minute and
//! per-day limits, and handed to the handler. Then each handler asks the key about the bot it
//! wants: a bot of another owner does not exist for it, a bot outside its scope or an action
//! beyond its permission is forbidden.

use super::keys::{self, ApiKey, Refused};
use crate::features::bots::Bot;
use crate::features::developer::Permission;
use crate::server::api_error::ApiError;
use crate::server::counters::{self, Window};
use crate::server::state::AppState;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{header, HeaderMap, HeaderValue};
use sqlx::PgPool;
use uuid::Uuid;

fn presented(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, secret) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| secret.trim())
}

/// The key check, the rate limit and the `X-RateLimit-*` headers, around every API handler.
pub async fn authenticate(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let Some(secret) = presented(request.headers()) else {
        return ApiError::unauthenticated("No API key: send it as `Authorization: Bearer <key>` (Settings → API keys).").into_response();
    };
    let key = match keys::resolve(&state.db, secret).await {
        Ok(Ok(key)) => key,
        Ok(Err(refused)) => {
            let message = match refused {
                Refused::Unknown => "This API key is not valid.",
                Refused::Revoked => "This API key has been revoked.",
                Refused::Expired => "This API key has expired.",
                Refused::Disabled => "The account this API key belongs to is disabled.",
            };
            return ApiError::unauthenticated(message).into_response();
        }
        Err(e) => return ApiError::from(e).into_response(),
    };
    let limits = &state.settings.api;
    let now = chrono::Utc::now();
    let (minute, day, _) = counters::windows(now);
    let windows = [
        Window { key: format!("k:{}:m:{}", key.id, minute.timestamp()), max: limits.requests_per_minute, ends: minute },
        Window { key: format!("k:{}:d:{}", key.id, day.timestamp()), max: limits.requests_per_day, ends: day },
    ];
    let reset = (minute - now).num_seconds().max(1);
    let spent = match counters::spend(&state.db, &windows).await {
        Ok(spent) => spent,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let (remaining, mut response) = match spent {
        Ok(counts) => {
            request.extensions_mut().insert(key);
            ((limits.requests_per_minute - counts[0]).max(0), next.run(request).await)
        }
        Err(limited) => {
            let message = format!("This key made more than {} requests in this window; retry in {} s.", limited.max, limited.retry_after_secs);
            (0, ApiError::rate_limited(message, limited.retry_after_secs).into_response())
        }
    };
    let h = response.headers_mut();
    h.insert("x-ratelimit-limit", HeaderValue::from(limits.requests_per_minute));
    h.insert("x-ratelimit-remaining", HeaderValue::from(remaining));
    h.insert("x-ratelimit-reset", HeaderValue::from(reset));
    response
}

pub fn bot_not_found(public_id: &str) -> ApiError {
    ApiError::new(http::StatusCode::NOT_FOUND, format!("No bot '{public_id}' for this key.")).code("bot_not_found")
}

/// A bot the key may use: (internal id, settings). Another owner's bot, or none, is 404; a bot
/// of the owner outside the key's scope is 403.
pub async fn usable_bot(db: &PgPool, key: &ApiKey, public_id: &str) -> Result<(Uuid, Bot), ApiError> {
    let id: Option<Uuid> = sqlx::query_scalar("SELECT id FROM bots WHERE public_id = $1 AND owner_id = $2").bind(public_id).bind(key.owner).fetch_optional(db).await.map_err(crate::error::AppError::from)?;
    let id = id.ok_or_else(|| bot_not_found(public_id))?;
    if key.bot.is_some_and(|only| only != id) {
        return Err(ApiError::forbidden(format!("This key may not use bot '{public_id}'; it is scoped to another bot.")));
    }
    let bot = crate::features::bots::server::get(db, key.owner, public_id).await?;
    Ok((id, bot))
}

pub fn require_manage(key: &ApiKey) -> Result<(), ApiError> {
    match key.permission {
        Permission::Manage => Ok(()),
        Permission::Chat => Err(ApiError::forbidden("This key may only chat; managing knowledge needs a key with the \"chat and manage knowledge\" permission.")),
    }
}
