//! The HTTP boundary of the running app, in-process: health, the session gate on pages,
//! CSRF, and the account server functions end to end with cookies.

mod common;

use common::{app, call, get, ORIGIN};
use http::{header, StatusCode};
use sqlx::PgPool;
use chatsphere::server::db::MIGRATOR;

const PASSWORD: &str = "correct horse battery";

async fn signed_up(app: &axum::Router) -> String {
    let reply = call(
        app,
        "auth/sign_up",
        &[("email", "ada@example.com"), ("display_name", "Ada Lovelace"), ("password", PASSWORD)],
        Some(ORIGIN),
        None,
    )
    .await;
    assert!(reply.status.is_success(), "{} {}", reply.status, reply.body);
    reply.session_cookie().expect("sign-up sets a session cookie")
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn health_and_readiness_answer(db: PgPool) {
    let app = app(db);
    assert_eq!(get(&app, "/healthz", None).await.status, StatusCode::OK);
    let ready = get(&app, "/readyz", None).await;
    assert_eq!((ready.status, ready.body.as_str()), (StatusCode::OK, "ready"));
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn a_signed_out_visit_to_a_protected_page_redirects_to_sign_in_and_back(db: PgPool) {
    let app = app(db);
    for (path, expected) in [
        ("/settings", "/signin?next=/settings"),
        ("/bots", "/signin?next=/bots"),
        ("/", "/signin"),
    ] {
        let reply = get(&app, path, None).await;
        assert_eq!(reply.status, StatusCode::FOUND, "{path}: {}", reply.body);
        assert_eq!(reply.header(header::LOCATION), Some(expected), "{path}");
    }
    let signin = get(&app, "/signin", None).await;
    assert_eq!(signin.status, StatusCode::OK);
    assert!(signin.body.contains("<form"), "sign-in renders a form that works without WASM");
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn the_session_cookie_is_http_only_and_opens_the_dashboard(db: PgPool) {
    let app = app(db);
    let reply = call(
        &app,
        "auth/sign_up",
        &[("email", "ada@example.com"), ("display_name", "Ada Lovelace"), ("password", PASSWORD), ("next", "/settings")],
        Some(ORIGIN),
        None,
    )
    .await;
    assert!(reply.status.is_success(), "{}", reply.body);
    let set_cookie = reply.header(header::SET_COOKIE).unwrap();
    assert!(set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Lax"), "{set_cookie}");
    assert_eq!(reply.header(header::LOCATION), Some("/settings"), "sign-up returns where the visitor was going");

    let cookie = reply.session_cookie().unwrap();
    let dashboard = get(&app, "/", Some(&cookie)).await;
    assert_eq!(dashboard.status, StatusCode::OK);
    let at = dashboard.body.find("dashboard-heading").unwrap_or(0);
    assert!(dashboard.body.contains("Welcome, Ada Lovelace"), "the server-rendered dashboard greets the user by name: {}", &dashboard.body[at..(at + 400).min(dashboard.body.len())]);
    let settings = get(&app, "/settings", Some(&cookie)).await;
    assert!(settings.body.contains(r#"value="Ada Lovelace""#), "the server-rendered settings form is filled in");
    assert!(settings.body.contains("ada@example.com"));
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn sign_out_ends_the_session(db: PgPool) {
    let app = app(db.clone());
    let cookie = signed_up(&app).await;
    let reply = call(&app, "auth/sign_out", &[], Some(ORIGIN), Some(&cookie)).await;
    assert!(reply.status.is_success(), "{}", reply.body);
    assert!(reply.header(header::SET_COOKIE).unwrap().contains("Max-Age=0"));
    let sessions: i64 = sqlx::query_scalar("SELECT count(*) FROM sessions").fetch_one(&db).await.unwrap();
    assert_eq!(sessions, 0);
    assert_eq!(get(&app, "/", Some(&cookie)).await.status, StatusCode::FOUND, "the old cookie opens nothing");
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn state_changing_requests_from_another_site_are_refused(db: PgPool) {
    let app = app(db.clone());
    let cookie = signed_up(&app).await;
    let forged = call(&app, "auth/update_profile", &[("display_name", "Pwned")], Some("https://evil.example"), Some(&cookie)).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert!(forged.body.contains("CrossSiteRequest"), "{}", forged.body);
    let name: String = sqlx::query_scalar("SELECT display_name FROM users").fetch_one(&db).await.unwrap();
    assert_eq!(name, "Ada Lovelace", "the forged request changed nothing");

    let own = call(&app, "auth/update_profile", &[("display_name", "Ada King")], Some(ORIGIN), Some(&cookie)).await;
    assert!(own.status.is_success(), "{}", own.body);
    let name: String = sqlx::query_scalar("SELECT display_name FROM users").fetch_one(&db).await.unwrap();
    assert_eq!(name, "Ada King");
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn server_functions_refuse_callers_without_a_session(db: PgPool) {
    let app = app(db);
    let reply = call(&app, "auth/update_profile", &[("display_name", "Nobody")], Some(ORIGIN), None).await;
    assert!(!reply.status.is_success());
    assert!(reply.body.contains("Unauthenticated"), "{}", reply.body);
    let forged_cookie = format!("chatsphere_session={}", "ab".repeat(32));
    let reply = call(&app, "auth/update_profile", &[("display_name", "Nobody")], Some(ORIGIN), Some(&forged_cookie)).await;
    assert!(reply.body.contains("Unauthenticated"), "{}", reply.body);
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn sign_in_failures_never_reveal_database_text(db: PgPool) {
    let app = app(db);
    signed_up(&app).await;
    let reply = call(&app, "auth/sign_in", &[("email", "ada@example.com"), ("password", "wrong password!")], Some(ORIGIN), None).await;
    assert!(!reply.status.is_success());
    assert!(reply.body.contains("WrongCredentials"), "{}", reply.body);
    assert!(reply.session_cookie().is_none());
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn unknown_pages_are_a_404(db: PgPool) {
    let app = app(db);
    let cookie = signed_up(&app).await;
    let reply = get(&app, "/no/such/page", Some(&cookie)).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert!(reply.body.contains("This page does not exist."));
}
