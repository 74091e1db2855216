//! Refusals and faults of the developer API (`/api/v1`, `/v1`), in OpenAI's error shape, which
//! both the native and the OpenAI-compatible API use so one client-side handler reads both:
//! `{"error": {"message", "type", "param", "code"}}` with the matching status. Refusals are
//! logged at INFO, faults (5xx) at ERROR; the key itself never reaches a log.

use crate::error::AppError;
use axum::response::{IntoResponse, Response};
use axum::Json;
use http::{header, HeaderValue, StatusCode};
use serde_json::json;

/// Paths served by the developer API: errors there take this shape, and the CSRF guard (which
/// protects cookie sessions) does not apply, since a key travels only in `Authorization`.
pub fn is_api_path(path: &str) -> bool {
    path == "/v1" || path.starts_with("/v1/") || path == "/api/v1" || path.starts_with("/api/v1/")
}

#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    /// The request parameter at fault, when there is one.
    pub param: Option<String>,
    pub code: Option<&'static str>,
    pub retry_after_secs: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self { status, message: message.into(), param: None, code: None, retry_after_secs: None }
    }

    pub fn invalid(param: &str, message: impl Into<String>) -> Self {
        Self { param: Some(param.to_owned()), ..Self::new(StatusCode::BAD_REQUEST, message) }
    }

    pub fn code(mut self, code: &'static str) -> Self {
        self.code = Some(code);
        self
    }

    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, message).code("invalid_api_key")
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, message).code("insufficient_permissions")
    }

    pub fn rate_limited(message: impl Into<String>, retry_after_secs: u64) -> Self {
        Self { retry_after_secs: Some(retry_after_secs), ..Self::new(StatusCode::TOO_MANY_REQUESTS, message).code("rate_limit_exceeded") }
    }

    /// OpenAI's `type` for the status.
    pub fn kind(&self) -> &'static str {
        match self.status.as_u16() {
            400 | 405 | 408 | 413 | 415 | 422 => "invalid_request_error",
            401 => "authentication_error",
            403 => "permission_error",
            404 => "not_found_error",
            409 => "conflict_error",
            429 => "rate_limit_error",
            _ => "api_error",
        }
    }

    pub fn body(&self) -> serde_json::Value {
        json!({ "error": { "message": self.message, "type": self.kind(), "param": self.param, "code": self.code } })
    }
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        match e {
            AppError::Invalid { field, message } => Self { param: field, ..Self::new(status, message) },
            AppError::RateLimited { retry_after_secs } => Self::rate_limited(e.to_string(), retry_after_secs),
            // Quotas over a day: the caller may try again tomorrow, not in a second.
            AppError::QuotaExceeded(message) => Self { retry_after_secs: Some(3600), ..Self::new(status, message).code("quota_exceeded") },
            AppError::TooLarge(message) => Self::new(status, message).code("request_too_large"),
            AppError::NotFound(_) => Self::new(status, e.to_string()).code("not_found"),
            AppError::Unavailable => Self { retry_after_secs: Some(super::refusals::UNAVAILABLE_RETRY_SECS), ..Self::new(status, e.to_string()).code("service_unavailable") },
            other => Self::new(status, other.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(status = self.status.as_u16(), error = %self.message, "API request failed");
        } else {
            tracing::info!(status = self.status.as_u16(), error = %self.message, param = self.param.as_deref().unwrap_or(""), "API request refused");
        }
        let mut response = (self.status, Json(self.body())).into_response();
        if let Some(secs) = self.retry_after_secs {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_errors_keep_their_status_and_name_their_parameter() {
        let e = ApiError::from(AppError::invalid("message", "Write a question first."));
        assert_eq!((e.status.as_u16(), e.kind(), e.param.as_deref()), (400, "invalid_request_error", Some("message")));
        let e = ApiError::from(AppError::RateLimited { retry_after_secs: 7 });
        assert_eq!((e.status.as_u16(), e.kind(), e.retry_after_secs), (429, "rate_limit_error", Some(7)));
        assert_eq!(ApiError::from(AppError::Internal).kind(), "api_error");
        assert!(is_api_path("/v1/chat/completions") && is_api_path("/api/v1/bots") && !is_api_path("/v10") && !is_api_path("/api/knowledge/list"));
    }
}
