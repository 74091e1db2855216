//! Server functions answer every error with HTTP 500 unless told otherwise. This layer gives
//! each `AppError` its proper status (400, 401, 403, 404, 413, 429; 500 only for faults of
//! ours) in one place, so that logs, proxies and load tests can tell a refusal from a fault,
//! and logs it at the level it deserves: refusals at INFO, faults at ERROR.

use crate::error::AppError;
use axum::body::Body;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use http::{header, HeaderValue, StatusCode};

/// When a client should try again while the database is unreachable.
pub const UNAVAILABLE_RETRY_SECS: u64 = 5;

/// Server-function error bodies are a small JSON document; anything larger is not one of ours.
const ERROR_BODY_CAP: usize = 64 * 1024;

pub async fn set_error_status(request: Request<Body>, next: Next) -> Response {
    let response = next.run(request).await;
    if !response.headers().contains_key("serverfnerror") {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, ERROR_BODY_CAP).await else {
        parts.status = StatusCode::INTERNAL_SERVER_ERROR;
        return Response::from_parts(parts, Body::empty());
    };
    if let Ok(error) = serde_json::from_slice::<AppError>(&bytes) {
        let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if status.is_server_error() {
            tracing::error!(status = status.as_u16(), %error, "request failed");
        } else {
            tracing::info!(status = status.as_u16(), %error, "request refused");
        }
        match error {
            AppError::RateLimited { retry_after_secs } => {
                parts.headers.insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
            }
            AppError::Unavailable => {
                parts.headers.insert(header::RETRY_AFTER, HeaderValue::from(UNAVAILABLE_RETRY_SECS));
            }
            _ => {}
        }
        // A plain HTML form's post (a page served without WASM) is answered with a redirect
        // back to the form, the error in its address (server_fn's form redirects): the
        // browser must follow it, so the refusal is logged but the redirect kept.
        if !(parts.status.is_redirection() && parts.headers.contains_key(header::LOCATION)) {
            parts.status = status;
        }
    }
    Response::from_parts(parts, Body::from(bytes))
}
