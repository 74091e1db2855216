//! The standard browser protections on every response. Pages get a Content-Security-Policy
//! whose script nonce is the one Leptos puts on its hydration scripts (set by the shell, which
//! knows it); everything else gets a policy that allows nothing to run. HTML and server-function
//! answers are never cached (they hold a signed-in user's data); HSTS when served over https.

use super::state::AppState;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http::{header, HeaderValue};

/// The policy for the app's own pages. Styles allow inline attributes (charts and colour
/// swatches are styled inline; a style cannot run code). Nothing may frame the app.
pub fn page_policy(nonce: &str, dev_reload: bool) -> String {
    let reload = if dev_reload { " ws://127.0.0.1:* ws://localhost:*" } else { "" };
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; \
         img-src 'self' data: blob:; connect-src 'self'{reload}; font-src 'self'; object-src 'none'; base-uri 'none'; \
         form-action 'self'; frame-ancestors 'none'"
    )
}

/// For anything that is not a page (JSON, files, errors): nothing runs, nothing frames it.
const LOCKED_DOWN: &str = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

pub async fn add(State(state): State<AppState>, request: Request<Body>, next: Next) -> Response {
    let is_asset = request.uri().path().starts_with(&format!("/{}/", state.settings.server.site_pkg_dir));
    let mut response = next.run(request).await;
    let https = state.settings.secure_cookies();
    let headers = response.headers_mut();
    let html = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|t| t.starts_with("text/html"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("strict-origin-when-cross-origin"));
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(LOCKED_DOWN));
    }
    // The widget panel names the one website that may frame it in its own policy; everything
    // else is framed by nobody (the old header too, for old browsers).
    let framable = headers
        .get(header::CONTENT_SECURITY_POLICY)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|p| p.contains("frame-ancestors") && !p.contains("frame-ancestors 'none'"));
    if !framable {
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    if !is_asset && (html || !headers.contains_key(header::CACHE_CONTROL)) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if https {
        headers.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=31536000; includeSubDomains"));
    }
    response
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_page_policy_allows_only_nonced_scripts_and_no_framing() {
        let policy = super::page_policy("abc123", false);
        assert!(policy.contains("script-src 'self' 'nonce-abc123' 'wasm-unsafe-eval';"));
        assert!(policy.contains("frame-ancestors 'none'"));
        assert!(!policy.contains(" 'unsafe-eval'") && !policy.contains("script-src 'self' 'unsafe-inline'"), "no eval, no inline scripts: {policy}");
        assert!(!policy.contains("ws://"));
        assert!(super::page_policy("n", true).contains("connect-src 'self' ws://127.0.0.1:*"));
    }
}
