//! "Forgot your password?" end to end: the server functions over HTTP, a real SMTP client
//! (lettre) delivering to the SMTP sink in `chatsphere_fakes::smtp`, and PostgreSQL.

mod common;

use chatsphere_fakes::smtp::FakeSmtp;
use chatsphere::features::auth::server::password_reset::{DEAD_LINK, UNAVAILABLE};
use chatsphere::features::auth::server::reset_mail;
use chatsphere::server::state::AppState;
use common::{call, form_post, get, Reply, ORIGIN};
use sqlx::PgPool;
use std::sync::atomic::Ordering;
use std::time::Duration;

const OLD: &str = "correct horse battery";
const NEW: &str = "a brand new passphrase";
/// Long enough for any machine; the mail normally arrives in milliseconds.
const PATIENCE: Duration = Duration::from_secs(60);

async fn app_with_mail(db: PgPool) -> (axum::Router, FakeSmtp) {
    let (_, app, sink) = mail_setup(db).await;
    (app, sink)
}

async fn mail_setup(db: PgPool) -> (AppState, axum::Router, FakeSmtp) {
    let sink = FakeSmtp::start(0).await.unwrap();
    let mut settings = common::settings();
    settings.mail.smtp_url = sink.url();
    let providers = common::providers(&db);
    let state = common::state_with(db, settings, providers);
    (state.clone(), chatsphere::server::startup::router(state), sink)
}

/// Waits (up to PATIENCE) until `query` returns true.
async fn until(db: &PgPool, what: &str, query: &str) {
    let deadline = std::time::Instant::now() + PATIENCE;
    while !sqlx::query_scalar::<_, bool>(query).fetch_one(db).await.unwrap() {
        assert!(std::time::Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn mails_to(sink: &FakeSmtp, to: &str) -> usize {
    sink.inbox().iter().filter(|m| m.to.iter().any(|t| t == to)).count()
}

async fn forgot(app: &axum::Router, email: &str) -> Reply {
    call(app, "auth/forgot_password", &[("email", email)], Some(ORIGIN), None).await
}

async fn reset(app: &axum::Router, token: &str, password: &str) -> Reply {
    call(app, "auth/reset_password", &[("token", token), ("password", password)], Some(ORIGIN), None).await
}

async fn sign_in(app: &axum::Router, password: &str) -> Reply {
    call(app, "auth/sign_in", &[("email", "ada@example.com"), ("password", password)], Some(ORIGIN), None).await
}

async fn signed_in(app: &axum::Router, cookie: &str) -> bool {
    let reply = call(app, "auth/current_user", &[], Some(ORIGIN), Some(cookie)).await;
    assert!(reply.status.is_success(), "{} {}", reply.status, reply.body);
    reply.body.trim() != "null"
}

/// The token in the link of a mail.
fn token_in(text: &str) -> String {
    let at = text.find("/reset-password?token=").expect("the mail has a reset link") + "/reset-password?token=".len();
    let token: String = text[at..].chars().take_while(|c| c.is_ascii_hexdigit()).collect();
    assert_eq!(token.len(), 64, "{text}");
    token
}

#[sqlx::test(migrator = "chatsphere::server::db::MIGRATOR")]
async fn a_mailed_link_resets_the_password_once_and_ends_every_session(db: PgPool) {
    let (app, sink) = app_with_mail(db.clone()).await;
    let first_device = common::signed_up_as(&app, "ada@example.com").await;
    let second_device = sign_in(&app, OLD).await.session_cookie().unwrap();

    let asked = forgot(&app, "  Ada@Example.COM ").await;
    assert!(asked.status.is_success(), "{} {}", asked.status, asked.body);
    let mail = sink.wait_for("ada@example.com", PATIENCE).await.expect("the reset mail arrives");
    assert!(mail.data.contains("Subject: Reset your ChatSphere password"), "{}", mail.data);
    let text = mail.text();
    assert!(text.contains("http://127.0.0.1:3000/reset-password?token=") && text.contains("60 minutes"), "{text}");
    let token = token_in(&text);

    let stored: Vec<Vec<u8>> = sqlx::query_scalar("SELECT token_hash FROM password_resets").fetch_all(&db).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_ne!(stored[0], token.as_bytes(), "only a hash of the token is stored");
    assert_eq!(stored[0].len(), 32);

    let weak = reset(&app, &token, "short").await;
    assert_eq!(weak.status, 400, "{}", weak.body);
    assert!(weak.body.contains("\"password\""), "the rule is shown at the password field: {}", weak.body);

    let done = reset(&app, &token, NEW).await;
    assert!(done.status.is_success() || done.status.is_redirection(), "{} {}", done.status, done.body);
    let new_session = done.session_cookie().expect("resetting signs in");
    assert!(signed_in(&app, &new_session).await);
    assert!(!signed_in(&app, &first_device).await && !signed_in(&app, &second_device).await, "every earlier session ended");

    assert_eq!(sign_in(&app, OLD).await.status, 401, "the old password no longer works");
    assert!(sign_in(&app, NEW).await.session_cookie().is_some(), "the new one does");

    let again = reset(&app, &token, "yet another passphrase").await;
    assert_eq!(again.status, 400);
    assert!(again.body.contains(DEAD_LINK), "{}", again.body);
    assert!(sign_in(&app, NEW).await.session_cookie().is_some(), "a used link changed nothing");
}

#[sqlx::test(migrator = "chatsphere::server::db::MIGRATOR")]
async fn unknown_addresses_get_the_same_answer_and_no_mail(db: PgPool) {
    let (app, sink) = app_with_mail(db).await;
    common::signed_up_as(&app, "ada@example.com").await;
    let unknown = forgot(&app, "nobody@example.com").await;
    let known = forgot(&app, "ada@example.com").await;
    assert_eq!((unknown.status, unknown.body.as_str()), (known.status, known.body.as_str()), "the answer does not reveal accounts");
    sink.wait_for("ada@example.com", PATIENCE).await.expect("the account's mail arrives");
    assert!(sink.inbox().iter().all(|m| !m.to.iter().any(|t| t == "nobody@example.com")), "no mail to an address without an account");

    let bad = forgot(&app, "not an address").await;
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("\"email\""), "{}", bad.body);
}

#[sqlx::test(migrator = "chatsphere::server::db::MIGRATOR")]
async fn expired_links_and_links_of_disabled_accounts_do_not_work(db: PgPool) {
    let (app, sink) = app_with_mail(db.clone()).await;
    common::signed_up_as(&app, "ada@example.com").await;
    assert!(forgot(&app, "ada@example.com").await.status.is_success());
    let token = token_in(&sink.wait_for("ada@example.com", PATIENCE).await.unwrap().text());

    sqlx::query("UPDATE password_resets SET expires_at = now() - interval '1 second'").execute(&db).await.unwrap();
    let expired = reset(&app, &token, NEW).await;
    assert_eq!(expired.status, 400);
    assert!(expired.body.contains(DEAD_LINK), "{}", expired.body);

    sqlx::query("UPDATE password_resets SET expires_at = now() + interval '1 hour'").execute(&db).await.unwrap();
    chatsphere::features::auth::server::admin::set_disabled(&db, "ada@example.com", true).await.unwrap();
    assert_eq!(reset(&app, &token, NEW).await.status, 400, "a disabled account cannot be taken back by mail");
    assert_eq!(reset(&app, "0123", NEW).await.status, 400, "a malformed token is a dead link, not a fault");
}

#[sqlx::test(migrator = "chatsphere::server::db::MIGRATOR")]
async fn requests_are_throttled_and_a_busy_mail_server_is_retried(db: PgPool) {
    let (app, sink) = app_with_mail(db).await;
    common::signed_up_as(&app, "ada@example.com").await;
    // The sink answers the first delivery with "451 try again later".
    sink.state.refuse_next.store(1, Ordering::SeqCst);
    assert!(forgot(&app, "ada@example.com").await.status.is_success());
    let mail = sink.wait_for("ada@example.com", PATIENCE).await.expect("delivered on the second try");
    assert!(mail.text().contains("/reset-password?token="));
    assert_eq!(sink.state.refuse_next.load(Ordering::SeqCst), 0, "the refusal was really met");

    for _ in 0..2 {
        assert!(forgot(&app, "ada@example.com").await.status.is_success());
    }
    let limited = forgot(&app, "ADA@example.com").await;
    assert_eq!(limited.status, 429, "three requests per address per hour: {}", limited.body);
}

#[sqlx::test(migrator = "chatsphere::server::db::MIGRATOR")]
async fn without_mail_the_user_is_told_to_ask_the_operator(db: PgPool) {
    let app = common::app(db);
    common::signed_up_as(&app, "ada@example.com").await;
    let reply = forgot(&app, "ada@example.com").await;
    assert_eq!(reply.status, 403);
    assert!(reply.body.contains(UNAVAILABLE), "{}", reply.body);
    let page = common::get(&app, "/forgot-password", None).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Send reset link"));
    let page = common::get(&app, "/reset-password?token=abc", None).await;
    assert!(page.status == 200 && page.body.contains("Choose a new password"));
}

/// The process that accepted the request died before sending (its claim's lease ran out):
/// any process's sweep sends the mail, and its link works. A claim still under its lease is
/// another process sending it, and is left alone.
#[sqlx::test(migrator = "chatsphere::server::db::MIGRATOR")]
async fn a_promised_mail_outlives_the_process_that_promised_it(db: PgPool) {
    let (state, app, sink) = mail_setup(db.clone()).await;
    common::signed_up_as(&app, "ada@example.com").await;
    let user: uuid::Uuid = sqlx::query_scalar("SELECT id FROM users").fetch_one(&db).await.unwrap();
    sqlx::query("INSERT INTO reset_mail_outbox (user_id, attempts, lease_until) VALUES ($1, 1, now() - interval '1 second')")
        .bind(user)
        .execute(&db)
        .await
        .unwrap();
    assert_eq!(reset_mail::deliver_due(&state).await.unwrap(), 1);
    let token = token_in(&sink.wait_for("ada@example.com", PATIENCE).await.expect("the owed mail arrives").text());
    let done = reset(&app, &token, NEW).await;
    assert!(done.status.is_success() || done.status.is_redirection(), "{} {}", done.status, done.body);
    let owed: i64 = sqlx::query_scalar("SELECT count(*) FROM reset_mail_outbox").fetch_one(&db).await.unwrap();
    assert_eq!(owed, 0, "a sent mail is no longer owed");

    sqlx::query("INSERT INTO reset_mail_outbox (user_id, attempts, lease_until) VALUES ($1, 1, now() + interval '1 minute')")
        .bind(user)
        .execute(&db)
        .await
        .unwrap();
    assert_eq!(reset_mail::deliver_due(&state).await.unwrap(), 0, "another process holds it");
    assert_eq!(mails_to(&sink, "ada@example.com"), 1);
}

/// A mail server down for longer than the mailer's own retries delays the mail to a later
/// sweep (the undelivered link withdrawn); a permanent rejection is tried once and dropped.
#[sqlx::test(migrator = "chatsphere::server::db::MIGRATOR")]
async fn a_mail_server_outage_delays_the_mail_and_a_rejection_is_not_retried(db: PgPool) {
    let (state, app, sink) = mail_setup(db.clone()).await;
    common::signed_up_as(&app, "ada@example.com").await;
    sink.state.refuse_next.store(1000, Ordering::SeqCst);
    assert!(forgot(&app, "ada@example.com").await.status.is_success(), "the person is told the mail is on its way");
    until(&db, "the first delivery gave up", "SELECT EXISTS (SELECT 1 FROM reset_mail_outbox WHERE last_error IS NOT NULL AND lease_until IS NULL)").await;
    let (attempts, later): (i32, bool) = sqlx::query_as("SELECT attempts, run_after > now() FROM reset_mail_outbox").fetch_one(&db).await.unwrap();
    assert_eq!((attempts, later), (1, true), "recorded and put off, not retried at once");
    let links: i64 = sqlx::query_scalar("SELECT count(*) FROM password_resets").fetch_one(&db).await.unwrap();
    assert_eq!(links, 0, "a link nobody received does not stay usable");

    sink.state.refuse_next.store(0, Ordering::SeqCst);
    assert_eq!(reset_mail::deliver_due(&state).await.unwrap(), 0, "not due yet");
    sqlx::query("UPDATE reset_mail_outbox SET run_after = now()").execute(&db).await.unwrap();
    assert_eq!(reset_mail::deliver_due(&state).await.unwrap(), 1);
    let token = token_in(&sink.wait_for("ada@example.com", PATIENCE).await.expect("delivered once the server is back").text());
    assert!(reset(&app, &token, NEW).await.session_cookie().is_some(), "that link works");

    sink.state.reject_next.store(1, Ordering::SeqCst);
    let offered = sink.state.offered.load(Ordering::SeqCst);
    assert!(forgot(&app, "ada@example.com").await.status.is_success());
    until(&db, "the rejected mail is dropped", "SELECT NOT EXISTS (SELECT 1 FROM reset_mail_outbox)").await;
    assert_eq!(sink.state.offered.load(Ordering::SeqCst), offered + 1, "a 550 is not retried");
    assert_eq!(mails_to(&sink, "ada@example.com"), 1);
    let live: i64 = sqlx::query_scalar("SELECT count(*) FROM password_resets WHERE used_at IS NULL").fetch_one(&db).await.unwrap();
    assert_eq!(live, 0, "the rejected mail's link was withdrawn");
}

#[sqlx::test(migrator = "chatsphere::server::db::MIGRATOR")]
async fn the_plain_html_form_lands_on_the_page_saying_the_link_is_on_its_way(db: PgPool) {
    let (app, sink) = app_with_mail(db).await;
    assert!(call(&app, "auth/sign_up", &[("email", "ada@example.com"), ("display_name", "Ada"), ("password", OLD)], Some(ORIGIN), None).await.status.is_success());
    // The page is served without WASM, so the browser posts the form itself and follows the redirect.
    let asked = form_post(&app, "auth/forgot_password", &[("email", "ada@example.com")], "/forgot-password").await;
    assert_eq!((asked.status.as_u16(), asked.header(http::header::LOCATION)), (302, Some("/forgot-password?sent=1")), "{}", asked.body);
    let page = get(&app, "/forgot-password?sent=1", None).await;
    assert!(page.body.contains("a link to choose a new password is on its way"), "{}", page.body);
    let deadline = std::time::Instant::now() + PATIENCE;
    while mails_to(&sink, "ada@example.com") == 0 {
        assert!(std::time::Instant::now() < deadline, "no mail arrived");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
