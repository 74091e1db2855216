//! The HTTP boundary of the running app, in-process: health, the session gate on pages,
//! CSRF, and the account server functions end to end with cookies.

mod common;

use common::{app, call, form_post, get, ORIGIN};
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
async fn signed_out_pages_come_without_wasm_and_their_forms_answer_by_redirect(db: PgPool) {
    let app = app(db);
    let cookie = signed_up(&app).await;
    for path in ["/signin", "/signup", "/forgot-password", "/reset-password"] {
        let page = get(&app, path, None).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        assert!(page.body.contains("<body data-html-only"), "{path} is marked as not hydrating");
        assert!(!page.body.contains(".wasm") && !page.body.contains(r#"type="module""#), "{path} loads no WASM: {}", page.body);
    }
    let dashboard = get(&app, "/", Some(&cookie)).await;
    assert_eq!(dashboard.status, StatusCode::OK);
    assert!(dashboard.body.contains(".wasm") && !dashboard.body.contains("data-html-only"), "signed-in pages run the app");

    // A refused post comes back to the form with the error in the address (a redirect the
    // browser follows, not a 400 page of JSON), and the page shows it.
    let refused = form_post(&app, "auth/sign_in", &[("email", "ada@example.com"), ("password", "not the password"), ("next", "/settings")], "/signin?next=/settings").await;
    assert_eq!(refused.status, StatusCode::FOUND, "{}", refused.body);
    let location = refused.header(header::LOCATION).unwrap().strip_prefix(ORIGIN).expect("back to this site").to_owned();
    assert!(location.starts_with("/signin?next=") && location.contains("settings&__path=") && location.contains("&__err="), "{location}");
    let shown = get(&app, &location, None).await;
    assert!(shown.body.contains("Wrong email or password."), "{}", shown.body);
    // Accepted: on to where the visitor was going, signed in.
    let accepted = form_post(&app, "auth/sign_in", &[("email", "ada@example.com"), ("password", PASSWORD), ("next", "/settings")], &location).await;
    assert_eq!((accepted.status, accepted.header(header::LOCATION)), (StatusCode::FOUND, Some("/settings")), "{}", accepted.body);
    assert!(accepted.session_cookie().is_some());
    // This server has no mail set up: asking for a reset link comes back saying so (sent:
    // tests/password_reset.rs).
    let asked = form_post(&app, "auth/forgot_password", &[("email", "ada@example.com")], "/forgot-password").await;
    assert_eq!(asked.status, StatusCode::FOUND, "{}", asked.body);
    let location = asked.header(header::LOCATION).unwrap().strip_prefix(ORIGIN).unwrap().to_owned();
    assert!(get(&app, &location, None).await.body.contains("cannot send mail"), "{location}");
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

#[sqlx::test(migrator = "MIGRATOR")]
async fn refusals_are_4xx_with_the_right_status_and_only_faults_are_5xx(db: PgPool) {
    let app = app(db);
    let cookie = signed_up(&app).await;
    let wrong = call(&app, "auth/sign_in", &[("email", "ada@example.com"), ("password", "wrong password!")], Some(ORIGIN), None).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED, "{}", wrong.body);
    let signed_out = call(&app, "bots/list", &[], Some(ORIGIN), None).await;
    assert_eq!(signed_out.status, StatusCode::UNAUTHORIZED, "{}", signed_out.body);
    let invalid = call(&app, "bots/create", &[("name", "")], Some(ORIGIN), Some(&cookie)).await;
    assert_eq!(invalid.status, StatusCode::BAD_REQUEST, "{}", invalid.body);
    assert!(invalid.body.contains("Invalid"), "the error still reaches the page: {}", invalid.body);
    let missing = call(&app, "knowledge/list", &[("bot_id", "nosuchbot")], Some(ORIGIN), Some(&cookie)).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND, "{}", missing.body);
    let cross_site = call(&app, "bots/list", &[], Some("https://evil.example"), Some(&cookie)).await;
    assert_eq!(cross_site.status, StatusCode::FORBIDDEN);
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn a_multi_gigabyte_form_field_is_refused_as_it_streams(db: PgPool) {
    use futures::StreamExt;
    let app = app(db);
    let cookie = signed_up(&app).await;
    let boundary = "xyzzy";
    // 3 GB of "bot id", generated lazily: the server must stop reading long before the end.
    let head = format!("--{boundary}\r\nContent-Disposition: form-data; name=\"bot_id\"\r\n\r\n");
    let produced = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = produced.clone();
    let body = futures::stream::once(async move { Ok::<_, std::io::Error>(axum::body::Bytes::from(head)) }).chain(futures::stream::iter(0..3072).map(move |_| {
        counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(axum::body::Bytes::from(vec![b'a'; 1024 * 1024]))
    }));
    let request = http::Request::post("/api/knowledge/upload")
        .header(header::CONTENT_TYPE, format!("multipart/form-data; boundary={boundary}"))
        .header(header::ORIGIN, ORIGIN)
        .header(header::COOKIE, &cookie)
        .body(axum::body::Body::from_stream(body))
        .unwrap();
    let reply = tower::ServiceExt::oneshot(app.clone(), request).await.unwrap();
    assert_eq!(reply.status(), StatusCode::BAD_REQUEST);
    let read = produced.load(std::sync::atomic::Ordering::Relaxed);
    assert!(read < 64, "the server read {read} MB of a form field before refusing it");

    // A body that declares itself too large is refused before it is read at all.
    let request = http::Request::post("/api/bots/create")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::CONTENT_LENGTH, "3221225472")
        .header(header::ORIGIN, ORIGIN)
        .header(header::COOKIE, &cookie)
        .body(axum::body::Body::empty())
        .unwrap();
    let reply = tower::ServiceExt::oneshot(app.clone(), request).await.unwrap();
    assert_eq!(reply.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn a_next_parameter_with_control_characters_goes_home_without_a_panic(db: PgPool) {
    let app = app(db);
    signed_up(&app).await;
    for next in ["/\t/evil.example", "/\n/evil.example", "/\r\nSet-Cookie: a=b", "\\\\evil.example"] {
        let reply = call(&app, "auth/sign_in", &[("email", "ada@example.com"), ("password", PASSWORD), ("next", next)], Some(ORIGIN), None).await;
        assert!(reply.status.is_success() || reply.status.is_redirection(), "{next:?}: {} {}", reply.status, reply.body);
        assert_eq!(reply.header(header::LOCATION), Some("/"), "{next:?}");
    }
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn every_kind_of_response_carries_the_browser_protections(db: PgPool) {
    let app = app(db);
    let cookie = signed_up(&app).await;
    let page = get(&app, "/signin", None).await;
    let signed_in_page = get(&app, "/bots", Some(&cookie)).await;
    let missing = get(&app, "/no/such/page", Some(&cookie)).await;
    let api = call(&app, "bots/list", &[], Some(ORIGIN), Some(&cookie)).await;
    let health = get(&app, "/healthz", None).await;
    for (what, reply) in [("page", &page), ("signed-in page", &signed_in_page), ("404 page", &missing), ("server function", &api), ("health", &health)] {
        assert_eq!(reply.header(header::X_CONTENT_TYPE_OPTIONS), Some("nosniff"), "{what}");
        assert_eq!(reply.header(header::REFERRER_POLICY), Some("strict-origin-when-cross-origin"), "{what}");
        let csp = reply.header(header::CONTENT_SECURITY_POLICY).unwrap_or_else(|| panic!("{what} has no CSP"));
        assert!(csp.contains("frame-ancestors 'none'"), "{what}: {csp}");
        assert!(reply.header(header::STRICT_TRANSPORT_SECURITY).is_none(), "no HSTS over plain http");
    }
    for (what, reply) in [("signed-in page", &signed_in_page), ("server function", &api)] {
        assert_eq!(reply.header(header::CACHE_CONTROL), Some("no-store"), "{what}");
    }
    // Pages allow exactly the scripts that carry this response's nonce.
    for reply in [&page, &signed_in_page] {
        let csp = reply.header(header::CONTENT_SECURITY_POLICY).unwrap();
        let nonce = csp.split("'nonce-").nth(1).and_then(|rest| rest.split('\'').next()).expect("a script nonce");
        let scripts = reply.body.matches("<script").count();
        let nonced = reply.body.matches(&format!("nonce=\"{nonce}\"")).count();
        assert!(scripts >= 2 && nonced >= scripts, "{scripts} scripts, {nonced} with the nonce");
    }
    assert_ne!(page.header(header::CONTENT_SECURITY_POLICY), signed_in_page.header(header::CONTENT_SECURITY_POLICY), "a fresh nonce per response");
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn a_malformed_request_is_the_callers_mistake_not_a_fault(db: PgPool) {
    let app = app(db);
    let cookie = signed_up(&app).await;
    let missing = call(&app, "knowledge/list", &[], Some(ORIGIN), Some(&cookie)).await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST, "{}", missing.body);
    let malformed = call(&app, "knowledge/delete", &[("id", "not-a-uuid")], Some(ORIGIN), Some(&cookie)).await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST, "{}", malformed.body);
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn a_body_dripped_in_too_slowly_is_cut_off(db: PgPool) {
    use futures::StreamExt;
    let mut settings = common::settings();
    settings.server.request_timeout_secs = 1;
    let app = common::app_with(db.clone(), settings, common::providers(&db));
    let cookie = signed_up(&app).await;
    // The first bytes of a form, then nothing, ever.
    let body = futures::stream::once(async { Ok::<_, std::io::Error>(axum::body::Bytes::from_static(b"name=Slow")) }).chain(futures::stream::pending());
    let request = http::Request::post("/api/bots/create")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ORIGIN, ORIGIN)
        .header(header::COOKIE, &cookie)
        .body(axum::body::Body::from_stream(body))
        .unwrap();
    let reply = tower::ServiceExt::oneshot(app.clone(), request).await.unwrap();
    assert_eq!(reply.status(), StatusCode::REQUEST_TIMEOUT);
    let bots: i64 = sqlx::query_scalar("SELECT count(*) FROM bots").fetch_one(&db).await.unwrap();
    assert_eq!(bots, 0);
}
