//! Cross-site request forgery guard for everything that can change state. Browsers send
//! `Origin` with every non-GET request (and `Referer` as a fallback); a value naming
//! another site is refused before any handler runs. `SameSite=Lax` cookies are the
//! second line of defence.

use super::state::AppState;
use crate::error::AppError;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{header, Method, StatusCode};

pub async fn reject_cross_site(State(state): State<AppState>, request: Request<Body>, next: Next) -> Response {
    // The developer API authenticates by a key in `Authorization`, never by cookie: a forged
    // cross-site request carries no key, so there is nothing to guard (and programs send any
    // `Origin` they like).
    if matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS) || super::api_error::is_api_path(request.uri().path()) {
        return next.run(request).await;
    }
    let headers = request.headers();
    let claimed = headers
        .get(header::ORIGIN)
        .or_else(|| headers.get(header::REFERER))
        .and_then(|v| v.to_str().ok());
    match claimed {
        Some(origin) if !same_site(origin, state.settings.public_origin()) => {
            tracing::warn!(origin, "refused a cross-site request");
            let body = serde_json::to_string(&AppError::CrossSiteRequest).unwrap_or_default();
            (StatusCode::FORBIDDEN, [(header::CONTENT_TYPE, "application/json")], body).into_response()
        }
        _ => next.run(request).await,
    }
}

/// True when `origin` (an Origin or a Referer URL) is the configured public origin. Not the
/// request's `Host`: under DNS rebinding an attacker's page and its request share one host name.
fn same_site(origin: &str, public_origin: &str) -> bool {
    let Some((_, rest)) = origin.split_once("://") else { return false };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let origin_root = &origin[..origin.len() - rest.len() + authority.len()];
    origin_root.eq_ignore_ascii_case(public_origin)
}

#[cfg(test)]
mod tests {
    use super::same_site;

    #[test]
    fn accepts_own_origin_and_host_refuses_others() {
        let public = "https://chat.example.com";
        assert!(same_site("https://chat.example.com", public));
        assert!(same_site("https://chat.example.com/bots?x=1", public));
        assert!(!same_site("http://rebound.evil.example:3000", public), "the Host header does not vouch for an origin");
        assert!(!same_site("https://evil.example", public));
        assert!(!same_site("https://chat.example.com.evil.example", public));
        assert!(!same_site("null", public));
    }
}
