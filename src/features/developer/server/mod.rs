//! The developer API's server side: keys, their checks, the native and OpenAI-compatible
//! endpoints, and the OpenAPI document generated from the handlers that serve it (a route can
//! only be added together with its documentation: see `parts`).

mod access;
mod chat;
mod conversations;
pub mod keys;
mod native;
mod openai;
mod sse;
mod upload;
mod wire;

use crate::server::api_error::ApiError;
use crate::server::state::AppState;
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::{middleware, Router};
use http::{header, StatusCode};
use keys::ApiKey;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::OpenApi as Document;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use wire::BotInfo;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "ChatSphere API",
        version = "1",
        description = "Chat with your bots and manage their knowledge from other programs. Authenticate with an API key \
            (Settings → API keys) as `Authorization: Bearer <key>`. Every error has the shape \
            `{\"error\": {\"message\", \"type\", \"param\", \"code\"}}`; every response carries `X-RateLimit-Limit`, \
            `X-RateLimit-Remaining` and `X-RateLimit-Reset` (seconds) for the key's per-minute limit."
    ),
    modifiers(&BearerKey),
    tags(
        (name = "bots", description = "The bots a key may use"),
        (name = "chat", description = "Ask a bot"),
        (name = "conversations", description = "A bot's API conversations"),
        (name = "knowledge", description = "A bot's documents (keys with the manage permission)"),
        (name = "openai", description = "OpenAI-compatible: a bot's id is the model"),
        (name = "meta", description = "This document")
    )
)]
struct ApiDoc;

struct BearerKey;

impl utoipa::Modify for BearerKey {
    fn modify(&self, openapi: &mut Document) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("api_key", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
    }
}

/// Every route with its documentation: (routes behind the key check, open routes, document).
fn parts() -> (Router<AppState>, Router<AppState>, Document) {
    let (keyed, mut document) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(native::list_bots))
        .routes(routes!(native::chat_with_bot))
        .routes(routes!(native::list_conversations))
        .routes(routes!(native::get_conversation, native::delete_conversation))
        .routes(routes!(native::list_documents, native::add_document))
        .routes(routes!(native::get_document, native::delete_document))
        .routes(routes!(openai::list_models))
        .routes(routes!(openai::get_model))
        .routes(routes!(openai::chat_completions))
        .split_for_parts();
    let (open, open_document) = OpenApiRouter::default().routes(routes!(openapi_json)).split_for_parts();
    document.merge(open_document);
    (keyed, open, document)
}

/// The OpenAPI 3.1 document of everything served under `/api/v1` and `/v1`.
pub fn document() -> Document {
    parts().2
}

/// This document.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "meta", responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json")))]
async fn openapi_json() -> Response {
    match document().to_json() {
        Ok(json) => ([(header::CONTENT_TYPE, "application/json"), (header::CACHE_CONTROL, "no-cache")], json).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "the OpenAPI document could not be written");
            ApiError::from(crate::error::AppError::Internal).into_response()
        }
    }
}

/// Anything else under the API's prefixes, in the API's error shape.
async fn unknown_endpoint(request: Request) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, format!("Unknown endpoint {} {}; the endpoints are listed at /api/v1/openapi.json.", request.method(), request.uri().path())).code("unknown_endpoint")
}

/// A known endpoint asked with a method it does not take: axum's empty 405, in the API's shape.
async fn method_refusals(response: Response) -> Response {
    if response.status() != StatusCode::METHOD_NOT_ALLOWED {
        return response;
    }
    let allowed = response.headers().get(header::ALLOW).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let mut refused = ApiError::new(StatusCode::METHOD_NOT_ALLOWED, format!("This endpoint takes {allowed}.")).code("method_not_allowed").into_response();
    if let Ok(value) = http::HeaderValue::from_str(&allowed) {
        refused.headers_mut().insert(header::ALLOW, value);
    }
    refused
}

pub fn routes(state: &AppState) -> Router<AppState> {
    let (keyed, open, _) = parts();
    keyed
        .route_layer(middleware::from_fn_with_state(state.clone(), access::authenticate))
        .merge(open)
        .route("/api/v1/{*rest}", any(unknown_endpoint))
        .route("/v1/{*rest}", any(unknown_endpoint))
        .layer(middleware::map_response(method_refusals))
}

/// The bots a key may use, oldest first.
pub async fn usable_bots(state: &AppState, key: &ApiKey) -> Result<Vec<BotInfo>, ApiError> {
    let rows: Vec<(String, String, String, String, Vec<String>, bool, chrono::DateTime<chrono::Utc>)> = sqlx::query_as(
        "SELECT public_id, name, description, welcome_message, suggested_questions, visibility = 'public', created_at
           FROM bots WHERE owner_id = $1 AND ($2::uuid IS NULL OR id = $2)
          ORDER BY created_at, public_id",
    )
    .bind(key.owner)
    .bind(key.bot)
    .fetch_all(&state.db)
    .await
    .map_err(crate::error::AppError::from)?;
    Ok(rows
        .into_iter()
        .map(|(id, name, description, welcome_message, suggested_questions, published, created_at)| BotInfo { id, name, description, welcome_message, suggested_questions, published, created_at })
        .collect())
}
