//! Leptos glue for server functions: who is asking (session cookie), from where (client
//! address), and writing the session cookie back.

use super::sessions::{self, SessionToken};
use crate::error::AppError;
use crate::features::auth::CurrentUser;
use crate::server::settings::Settings;
use crate::server::state::{app_state, AppState};
use axum::extract::ConnectInfo;
use http::{header, request::Parts, HeaderMap, HeaderValue};
use leptos::prelude::use_context;
use leptos_axum::ResponseOptions;
use std::net::SocketAddr;

pub const SESSION_COOKIE: &str = "chatsphere_session";

/// A signed-in caller, with the state server functions need to act for them.
pub struct RequestUser {
    pub state: AppState,
    pub user: CurrentUser,
    pub session: SessionToken,
}

fn request_parts() -> Result<Parts, AppError> {
    use_context::<Parts>().ok_or_else(|| {
        tracing::error!("no request in the server-function context");
        AppError::Internal
    })
}

pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find_map(|(k, v)| (k == name).then_some(v))
}

/// The signed-in user behind a plain axum request (no Leptos context; never renews).
pub async fn viewer(state: &AppState, headers: &HeaderMap) -> Result<Option<CurrentUser>, AppError> {
    let Some(token) = cookie(headers, SESSION_COOKIE).and_then(SessionToken::from_cookie) else {
        return Ok(None);
    };
    Ok(sessions::resolve(&state.db, &token, state.settings.auth.session_ttl_hours).await?.map(|a| a.user))
}

/// The caller if their session is live; renews the cookie when the session slid forward.
pub async fn current_user() -> Result<Option<RequestUser>, AppError> {
    let state = app_state()?;
    let parts = request_parts()?;
    let Some(token) = cookie(&parts.headers, SESSION_COOKIE).and_then(SessionToken::from_cookie) else {
        return Ok(None);
    };
    let ttl = state.settings.auth.session_ttl_hours;
    let Some(active) = sessions::resolve(&state.db, &token, ttl).await? else {
        return Ok(None);
    };
    if active.renewed {
        set_session_cookie(&state.settings, &token);
    }
    Ok(Some(RequestUser { state, user: active.user, session: token }))
}

/// Every server function that touches a user's data starts here.
pub async fn require_user() -> Result<RequestUser, AppError> {
    current_user().await?.ok_or(AppError::Unauthenticated)
}

fn write_cookie(value: String) {
    match (use_context::<ResponseOptions>(), HeaderValue::from_str(&value)) {
        (Some(response), Ok(header)) => response.append_header(header::SET_COOKIE, header),
        _ => tracing::error!("could not set the session cookie"),
    }
}

pub fn session_cookie_header(settings: &Settings, token: &SessionToken) -> String {
    let max_age = settings.auth.session_ttl_hours * 3600;
    let secure = if settings.secure_cookies() { "; Secure" } else { "" };
    format!("{SESSION_COOKIE}={}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}", token.as_str())
}

/// Signs `user_id` in on this response: a new session, its cookie, and the redirect onward
/// (to `next` when it is a path on this site).
pub async fn start_session(state: &AppState, user_id: uuid::Uuid, next: Option<&str>) -> Result<(), AppError> {
    let token = sessions::create(&state.db, user_id, state.settings.auth.session_ttl_hours).await?;
    set_session_cookie(&state.settings, &token);
    leptos_axum::redirect(&crate::features::auth::safe_next(next));
    Ok(())
}

pub fn set_session_cookie(settings: &Settings, token: &SessionToken) {
    write_cookie(session_cookie_header(settings, token));
}

pub fn clear_session_cookie(settings: &Settings) {
    let secure = if settings.secure_cookies() { "; Secure" } else { "" };
    write_cookie(format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{secure}"));
}

/// The caller's address, for per-address throttling. Proxy headers are believed only when
/// configuration says a trusted proxy sets them.
pub fn client_ip(settings: &Settings) -> String {
    let Ok(parts) = request_parts() else { return "unknown".into() };
    address_of(&parts.headers, &parts.extensions, settings)
}

/// The same, for handlers outside server functions.
pub fn address_of(headers: &HeaderMap, extensions: &http::Extensions, settings: &Settings) -> String {
    let peer = extensions.get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(addr)| addr.ip());
    let forwarded: Vec<&str> = headers.get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok()).collect();
    client_address(peer, &forwarded, settings.server.trust_proxy_headers)
}

/// Behind a trusted proxy, the client is the right-most address in `X-Forwarded-For` that is
/// not one of our own hops (loopback or the proxy itself): everything left of it was written
/// by the client and can say anything.
fn client_address(peer: Option<std::net::IpAddr>, forwarded: &[&str], trust_proxy: bool) -> String {
    if trust_proxy {
        let ours = |ip: &std::net::IpAddr| ip.is_loopback() || Some(*ip) == peer;
        let hops = forwarded.iter().flat_map(|h| h.split(',')).map(str::trim);
        if let Some(client) = hops.rev().filter_map(|h| h.parse::<std::net::IpAddr>().ok()).find(|ip| !ours(ip)) {
            return client.to_string();
        }
    }
    peer.map(|ip| ip.to_string()).unwrap_or_else(|| "unknown".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn behind_a_proxy_the_client_is_the_right_most_untrusted_hop() {
        let proxy: std::net::IpAddr = "10.0.0.2".parse().unwrap();
        let spoofed = ["1.2.3.4, 203.0.113.7"];
        assert_eq!(client_address(Some(proxy), &spoofed, true), "203.0.113.7", "the left part is the client's own claim");
        assert_eq!(client_address(Some(proxy), &["203.0.113.7, 10.0.0.2, 127.0.0.1"], true), "203.0.113.7");
        assert_eq!(client_address(Some(proxy), &["garbage"], true), "10.0.0.2");
        assert_eq!(client_address(Some(proxy), &spoofed, false), "10.0.0.2", "headers are ignored without a trusted proxy");
        assert_eq!(client_address(None, &[], false), "unknown");
    }

    #[test]
    fn finds_the_session_cookie_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_static("theme=dark; chatsphere_session=abc; x=1"));
        assert_eq!(cookie(&headers, SESSION_COOKIE), Some("abc"));
        assert_eq!(cookie(&headers, "missing"), None);
    }

    #[test]
    fn session_cookie_is_http_only_lax_and_secure_over_https() {
        let mut settings = Settings::default();
        let token = SessionToken::from_cookie(&"ab".repeat(32)).unwrap();
        let plain = session_cookie_header(&settings, &token);
        assert!(plain.contains("HttpOnly") && plain.contains("SameSite=Lax") && !plain.contains("Secure"));
        settings.server.public_url = "https://chat.example.com".into();
        assert!(session_cookie_header(&settings, &token).ends_with("; Secure"));
    }
}
