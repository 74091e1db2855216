//! Every request is bounded before any handler reads it: its body by size (uploads by the
//! upload limits, everything else by `server.max_body_bytes`), and its handling by time, so a
//! body dripped in a byte at a time cannot hold a connection and a task for ever.

use super::api_error::{is_api_path, ApiError};
use super::state::AppState;
use crate::error::AppError;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{header, StatusCode};
use std::time::Duration;

/// Room for the form fields and multipart framing around the files.
const FORM_OVERHEAD_BYTES: usize = 1024 * 1024;

fn body_limit(state: &AppState, path: &str) -> usize {
    let s = &state.settings;
    match path {
        "/api/knowledge/upload" => s.knowledge.max_upload_bytes.saturating_mul(s.knowledge.max_files_per_request).saturating_add(FORM_OVERHEAD_BYTES),
        "/api/bots/upload_avatar" => s.bots.avatar_max_bytes.saturating_add(FORM_OVERHEAD_BYTES),
        // The developer API's document upload: one file per request.
        p if p.starts_with("/api/v1/bots/") && p.ends_with("/documents") => s.knowledge.max_upload_bytes.saturating_add(FORM_OVERHEAD_BYTES),
        _ => s.server.max_body_bytes,
    }
}

fn refusal(path: &str, status: StatusCode, error: AppError) -> Response {
    if is_api_path(path) {
        return ApiError { status, ..ApiError::from(error) }.into_response();
    }
    tracing::info!(status = status.as_u16(), %error, "request refused");
    let body = serde_json::to_string(&error).unwrap_or_default();
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

pub async fn bound_requests(State(state): State<AppState>, request: Request<Body>, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let limit = body_limit(&state, &path);
    let declared = request.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return refusal(&path, StatusCode::PAYLOAD_TOO_LARGE, AppError::TooLarge(format!("The request is larger than the {} MB allowed.", limit.div_ceil(1024 * 1024))));
    }
    // A body without a length, or one that lies about it, is cut off at the limit as it streams.
    let request = request.map(|body| Body::new(Paced { inner: http_body_util::Limited::new(body, limit), handed_out: false }));
    let timeout = Duration::from_secs(state.settings.server.request_timeout_secs.max(1));
    match tokio::time::timeout(timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => refusal(&path, StatusCode::REQUEST_TIMEOUT, AppError::Invalid { field: None, message: format!("The request took longer than {} s and was stopped.", timeout.as_secs()) }),
    }
}

/// Hands the body out one frame per poll. The multipart parser (multer) reads every frame that
/// is ready into its own buffer before parsing; on a fast connection that is the whole upload,
/// in memory, before the handler's per-file caps ever see it. Yielding after each frame keeps
/// its buffer at about one frame ahead of what the handler has consumed.
struct Paced<B> {
    inner: B,
    handed_out: bool,
}

impl<B: http_body::Body + Unpin> http_body::Body for Paced<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        if self.handed_out {
            self.handed_out = false;
            cx.waker().wake_by_ref();
            return std::task::Poll::Pending;
        }
        let polled = std::pin::Pin::new(&mut self.inner).poll_frame(cx);
        self.handed_out = matches!(polled, std::task::Poll::Ready(Some(Ok(_))));
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}
