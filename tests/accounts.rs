//! Account rules against a real PostgreSQL, through the same functions the server
//! functions call.

mod common;

use chatsphere::features::auth::server::password::Passwords;
use chatsphere::error::AppError;
use chatsphere::features::auth::server::{accounts, sessions};
use chatsphere::server::db::MIGRATOR;
use chatsphere::features::auth::server::settings::AuthSettings;
use sqlx::PgPool;

const PASSWORD: &str = "correct horse battery";

fn rules() -> AuthSettings {
    AuthSettings::default()
}

async fn ada(db: &PgPool) -> chatsphere::features::auth::CurrentUser {
    accounts::sign_up(db, &rules(), &Passwords::default(), "Ada@Example.com", "Ada Lovelace", PASSWORD).await.unwrap()
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn sign_up_stores_a_normalised_email_and_an_argon2id_hash(db: PgPool) {
    let user = ada(&db).await;
    assert_eq!(user.email, "ada@example.com");
    let hash: String = sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1")
        .bind(user.id)
        .fetch_one(&db)
        .await
        .unwrap();
    assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
    assert!(!hash.contains(PASSWORD));
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn duplicate_email_is_refused_whatever_its_case(db: PgPool) {
    ada(&db).await;
    let err = accounts::sign_up(&db, &rules(), &Passwords::default(), "ADA@example.COM", "Another", "another long password").await.unwrap_err();
    assert_eq!(err.field(), Some("email"));
    assert!(err.to_string().contains("already exists"), "{err}");
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM users").fetch_one(&db).await.unwrap();
    assert_eq!(count, 1);
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn invalid_sign_up_input_names_the_rule_broken(db: PgPool) {
    let err = accounts::sign_up(&db, &rules(), &Passwords::default(), "not-an-email", "Ada", PASSWORD).await.unwrap_err();
    assert_eq!(err.field(), Some("email"));
    let err = accounts::sign_up(&db, &rules(), &Passwords::default(), "ada@example.com", "Ada", "short").await.unwrap_err();
    assert_eq!(err.to_string(), "Passwords must be at least 10 characters.");
    let err = accounts::sign_up(&db, &rules(), &Passwords::default(), "ada@example.com", "  ", PASSWORD).await.unwrap_err();
    assert_eq!(err.field(), Some("display_name"));
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn wrong_password_and_unknown_email_get_the_same_answer(db: PgPool) {
    ada(&db).await;
    let wrong = accounts::authenticate(&db, &rules(), &Passwords::default(), "ada@example.com", "wrong password!", "10.0.0.1").await;
    let unknown = accounts::authenticate(&db, &rules(), &Passwords::default(), "nobody@example.com", PASSWORD, "10.0.0.1").await;
    assert_eq!(wrong.unwrap_err(), AppError::WrongCredentials);
    assert_eq!(unknown.unwrap_err(), AppError::WrongCredentials);
    assert_eq!(AppError::WrongCredentials.to_string(), "Wrong email or password.");
    let ok = accounts::authenticate(&db, &rules(), &Passwords::default(), " ADA@example.com ", PASSWORD, "10.0.0.1").await.unwrap();
    assert_eq!(ok.display_name, "Ada Lovelace");
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn repeated_failures_lock_the_account_even_for_the_right_password(db: PgPool) {
    ada(&db).await;
    let r = rules();
    for attempt in 0..r.max_failures_per_account {
        let ip = format!("10.0.0.{attempt}"); // spread over addresses: the account limit alone applies
        let err = accounts::authenticate(&db, &r, &Passwords::default(), "ada@example.com", "wrong password!", &ip).await.unwrap_err();
        assert_eq!(err, AppError::WrongCredentials);
    }
    let locked = accounts::authenticate(&db, &r, &Passwords::default(), "ada@example.com", PASSWORD, "10.0.0.99").await.unwrap_err();
    match locked {
        AppError::RateLimited { retry_after_secs } => {
            assert!(retry_after_secs > 0 && retry_after_secs <= r.failure_window_secs as u64, "{retry_after_secs}");
        }
        other => panic!("expected a rate limit, got {other:?}"),
    }
    // Once the failures age out of the window, the right password works again.
    sqlx::query("UPDATE auth_failures SET at = at - make_interval(secs => $1)")
        .bind(r.failure_window_secs as f64 + 1.0)
        .execute(&db)
        .await
        .unwrap();
    accounts::authenticate(&db, &r, &Passwords::default(), "ada@example.com", PASSWORD, "10.0.0.99").await.unwrap();
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn one_address_guessing_many_accounts_is_limited_per_address(db: PgPool) {
    let r = AuthSettings { max_failures_per_ip: 3, ..rules() };
    for i in 0..3 {
        let email = format!("user{i}@example.com");
        let err = accounts::authenticate(&db, &r, &Passwords::default(), &email, "whatever password", "192.0.2.7").await.unwrap_err();
        assert_eq!(err, AppError::WrongCredentials);
    }
    let err = accounts::authenticate(&db, &r, &Passwords::default(), "fresh@example.com", "whatever password", "192.0.2.7").await.unwrap_err();
    assert!(matches!(err, AppError::RateLimited { .. }), "{err:?}");
    // Another address is unaffected.
    let err = accounts::authenticate(&db, &r, &Passwords::default(), "fresh@example.com", "whatever password", "192.0.2.8").await.unwrap_err();
    assert_eq!(err, AppError::WrongCredentials);
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn sessions_resolve_until_they_expire(db: PgPool) {
    let user = ada(&db).await;
    let token = sessions::create(&db, user.id, 24).await.unwrap();
    let active = sessions::resolve(&db, &token, 24).await.unwrap().expect("fresh session is live");
    assert_eq!(active.user.id, user.id);

    sqlx::query("UPDATE sessions SET expires_at = now() - interval '1 second'").execute(&db).await.unwrap();
    assert!(sessions::resolve(&db, &token, 24).await.unwrap().is_none(), "expired session must not resolve");
    assert_eq!(sessions::purge_expired(&db).await.unwrap(), 1);
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn a_session_past_half_its_life_slides_forward(db: PgPool) {
    let user = ada(&db).await;
    let token = sessions::create(&db, user.id, 24).await.unwrap();
    sqlx::query("UPDATE sessions SET expires_at = now() + interval '2 hours'").execute(&db).await.unwrap();
    let active = sessions::resolve(&db, &token, 24).await.unwrap().unwrap();
    assert!(active.renewed);
    let left: f64 = sqlx::query_scalar("SELECT EXTRACT(EPOCH FROM expires_at - now())::float8 FROM sessions")
        .fetch_one(&db)
        .await
        .unwrap();
    assert!(left > 23.0 * 3600.0, "expiry should be pushed to ~24 h, is {left} s");
    // A young session is left alone (no cookie rewrite on every request).
    let again = sessions::resolve(&db, &token, 24).await.unwrap().unwrap();
    assert!(!again.renewed);
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn only_the_hash_of_a_session_token_is_stored(db: PgPool) {
    let user = ada(&db).await;
    let token = sessions::create(&db, user.id, 24).await.unwrap();
    let stored: Vec<u8> = sqlx::query_scalar("SELECT token_hash FROM sessions").fetch_one(&db).await.unwrap();
    assert_eq!(stored.len(), 32);
    assert_ne!(stored, token.as_str().as_bytes());
    assert_eq!(token.as_str().len(), 64, "256 random bits, hex-encoded");
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn changing_the_password_ends_the_other_sessions_only(db: PgPool) {
    let user = ada(&db).await;
    let here = sessions::create(&db, user.id, 24).await.unwrap();
    let laptop = sessions::create(&db, user.id, 24).await.unwrap();
    let phone = sessions::create(&db, user.id, 24).await.unwrap();

    let err = accounts::change_password(&db, &rules(), &Passwords::default(), user.id, "not my password", "a brand new password", &here)
        .await
        .unwrap_err();
    assert_eq!(err.field(), Some("current_password"));

    let ended = accounts::change_password(&db, &rules(), &Passwords::default(), user.id, PASSWORD, "a brand new password", &here).await.unwrap();
    assert_eq!(ended, 2);
    assert!(sessions::resolve(&db, &here, 24).await.unwrap().is_some());
    assert!(sessions::resolve(&db, &laptop, 24).await.unwrap().is_none());
    assert!(sessions::resolve(&db, &phone, 24).await.unwrap().is_none());

    let old = accounts::authenticate(&db, &rules(), &Passwords::default(), "ada@example.com", PASSWORD, "10.0.0.1").await;
    assert_eq!(old.unwrap_err(), AppError::WrongCredentials);
    accounts::authenticate(&db, &rules(), &Passwords::default(), "ada@example.com", "a brand new password", "10.0.0.1").await.unwrap();
}

/// Counts the rows that point at a user in every table with a foreign key to `users`, so

#[sqlx::test(migrator = "MIGRATOR")]
async fn deleting_an_account_removes_everything_it_owned_and_nothing_else(db: PgPool) {
    let user = ada(&db).await;
    let other = accounts::sign_up(&db, &rules(), &Passwords::default(), "grace@example.com", "Grace", "another long password").await.unwrap();
    let here = sessions::create(&db, user.id, 24).await.unwrap();
    sessions::create(&db, user.id, 24).await.unwrap();
    let others_session = sessions::create(&db, other.id, 24).await.unwrap();
    assert!(common::rows_referencing(&db, "users", user.id).await.iter().any(|(_, n)| *n > 0));

    let err = accounts::delete_account(&db, &rules(), &Passwords::default(), user.id, "wrong password").await.unwrap_err();
    assert_eq!(err.field(), Some("password"));
    assert!(sessions::resolve(&db, &here, 24).await.unwrap().is_some(), "a refused deletion deletes nothing");

    accounts::delete_account(&db, &rules(), &Passwords::default(), user.id, PASSWORD).await.unwrap();
    for (table, n) in common::rows_referencing(&db, "users", user.id).await {
        assert_eq!(n, 0, "{table} still holds rows of the deleted user");
    }
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users WHERE id = $1").bind(user.id).fetch_one(&db).await.unwrap();
    assert_eq!(users, 0);
    assert!(sessions::resolve(&db, &others_session, 24).await.unwrap().is_some(), "other users are untouched");
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn parallel_guesses_cannot_all_pass_the_check_before_they_are_counted(db: PgPool) {
    ada(&db).await;
    let guesses: Vec<_> = (0..24)
        .map(|i| {
            let db = db.clone();
            tokio::spawn(async move { accounts::authenticate(&db, &rules(), &Passwords::default(), "ada@example.com", &format!("wrong guess {i}"), "203.0.113.9").await })
        })
        .collect();
    let mut checked = 0;
    let mut limited = 0;
    for guess in guesses {
        match guess.await.unwrap() {
            Err(AppError::WrongCredentials) => checked += 1,
            Err(AppError::RateLimited { .. }) => limited += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(checked, rules().max_failures_per_account, "exactly the allowed number of guesses reached the password check");
    assert_eq!(limited, 24 - rules().max_failures_per_account);
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn re_checks_of_the_current_password_are_throttled(db: PgPool) {
    let user = ada(&db).await;
    for _ in 0..rules().max_failures_per_account {
        let err = accounts::delete_account(&db, &rules(), &Passwords::default(), user.id, "not my password").await.unwrap_err();
        assert_eq!(err.field(), Some("password"));
    }
    let err = accounts::delete_account(&db, &rules(), &Passwords::default(), user.id, PASSWORD).await.unwrap_err();
    assert!(matches!(err, AppError::RateLimited { .. }), "{err:?}");
    let still: i64 = sqlx::query_scalar("SELECT count(*) FROM users").fetch_one(&db).await.unwrap();
    assert_eq!(still, 1, "the locked re-check deleted nothing");
}

fn visitor<'a>(email: &'a str, invite: Option<&'a str>) -> accounts::SignUpForm<'a> {
    accounts::SignUpForm { email, display_name: "Visitor", password: "a long enough password", invite }
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn a_sign_up_flood_from_one_address_is_limited(db: PgPool) {
    let rules = AuthSettings { max_signups_per_ip: 3, ..rules() };
    for i in 0..3 {
        accounts::sign_up_visitor(&db, &rules, &Passwords::default(), visitor(&format!("v{i}@example.com"), None), "198.51.100.1").await.unwrap();
    }
    let err = accounts::sign_up_visitor(&db, &rules, &Passwords::default(), visitor("v9@example.com", None), "198.51.100.1").await.unwrap_err();
    assert!(matches!(err, AppError::RateLimited { .. }), "{err:?}");
    accounts::sign_up_visitor(&db, &rules, &Passwords::default(), visitor("elsewhere@example.com", None), "198.51.100.2").await.expect("another address is not held back");
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users").fetch_one(&db).await.unwrap();
    assert_eq!(users, 4);
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn registration_can_be_closed_or_by_invitation_only(db: PgPool) {
    use chatsphere::features::auth::server::invitations;
    let closed = AuthSettings { registration: "closed".into(), ..rules() };
    let err = accounts::sign_up_visitor(&db, &closed, &Passwords::default(), visitor("a@example.com", None), "ip").await.unwrap_err();
    assert!(matches!(&err, AppError::Forbidden(m) if m.contains("closed")), "{err:?}");
    assert_eq!(err.status(), 403);

    let invite_only = AuthSettings { registration: "invite".into(), ..rules() };
    let err = accounts::sign_up_visitor(&db, &invite_only, &Passwords::default(), visitor("a@example.com", None), "ip").await.unwrap_err();
    assert!(matches!(&err, AppError::Forbidden(m) if m.contains("invitation")), "{err:?}");
    let inviter = ada(&db).await;
    let token = invitations::create(&db, Some(inviter.id), 24).await.unwrap();
    accounts::sign_up_visitor(&db, &invite_only, &Passwords::default(), visitor("invited@example.com", Some(&token)), "ip").await.unwrap();
    let again = accounts::sign_up_visitor(&db, &invite_only, &Passwords::default(), visitor("second@example.com", Some(&token)), "ip").await.unwrap_err();
    assert_eq!(again.field(), Some("invite"), "one link, one account: {again:?}");
    let forged = accounts::sign_up_visitor(&db, &invite_only, &Passwords::default(), visitor("third@example.com", Some(&"ab".repeat(32))), "ip").await.unwrap_err();
    assert_eq!(forged.field(), Some("invite"));
    let emails: Vec<String> = sqlx::query_scalar("SELECT email FROM users ORDER BY email").fetch_all(&db).await.unwrap();
    assert_eq!(emails, vec!["ada@example.com", "invited@example.com"], "refused sign-ups left no account behind");
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn the_operator_resets_passwords_and_disables_accounts(db: PgPool) {
    use chatsphere::features::auth::server::admin;
    let user = ada(&db).await;
    let token = sessions::create(&db, user.id, 24).await.unwrap();
    let ended = admin::reset_password(&db, &rules(), &Passwords::default(), "ada@example.com", "a fresh operator password").await.unwrap();
    assert_eq!(ended, 1);
    assert!(sessions::resolve(&db, &token, 24).await.unwrap().is_none(), "the old session is over");
    assert!(accounts::authenticate(&db, &rules(), &Passwords::default(), "ada@example.com", PASSWORD, "ip").await.is_err());
    accounts::authenticate(&db, &rules(), &Passwords::default(), "ada@example.com", "a fresh operator password", "ip").await.unwrap();

    let token = sessions::create(&db, user.id, 24).await.unwrap();
    admin::set_disabled(&db, "ada@example.com", true).await.unwrap();
    assert!(sessions::resolve(&db, &token, 24).await.unwrap().is_none());
    let err = accounts::authenticate(&db, &rules(), &Passwords::default(), "ada@example.com", "a fresh operator password", "ip").await.unwrap_err();
    assert_eq!(err, AppError::WrongCredentials, "a disabled account looks like a wrong password");
    let listed = admin::list(&db).await.unwrap();
    assert_eq!((listed.len(), listed[0].disabled), (1, true));
    admin::set_disabled(&db, "ada@example.com", false).await.unwrap();
    accounts::authenticate(&db, &rules(), &Passwords::default(), "ada@example.com", "a fresh operator password", "ip").await.unwrap();
    assert!(matches!(admin::set_disabled(&db, "nobody@example.com", true).await, Err(AppError::NotFound(_))));
}

/// `chatsphere admin ...` against this test's database; returns (exit code, stdout).
async fn admin(db: &PgPool, args: &[&str], stdin: Option<&str>) -> (i32, String) {
    use std::io::Write;
    let name: String = sqlx::query_scalar("SELECT current_database()").fetch_one(db).await.unwrap();
    let base = std::env::var("DATABASE_URL").expect("DATABASE_URL (source ./db.sh)");
    let url = format!("{}/{name}", base.rsplit_once('/').unwrap().0);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_chatsphere"))
        .arg("admin")
        .args(args)
        .env("DATABASE_URL", url)
        .env("RUST_LOG", "warn")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.unwrap_or_default().as_bytes()).unwrap();
    drop(input);
    let out = child.wait_with_output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), text)
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn the_admin_command_recovers_accounts_without_a_mail_server(db: PgPool) {
    let (code, out) = admin(&db, &["create-user", "grace@example.com", "Grace Hopper"], Some("a long first password\n")).await;
    assert_eq!(code, 0, "{out}");
    accounts::authenticate(&db, &rules(), &Passwords::default(), "grace@example.com", "a long first password", "ip").await.unwrap();
    let user: uuid::Uuid = sqlx::query_scalar("SELECT id FROM users").fetch_one(&db).await.unwrap();
    let token = sessions::create(&db, user, 24).await.unwrap();

    let (code, out) = admin(&db, &["reset-password", "grace@example.com"], Some("a second long password\n")).await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("1 session(s) ended"), "{out}");
    assert!(sessions::resolve(&db, &token, 24).await.unwrap().is_none());
    accounts::authenticate(&db, &rules(), &Passwords::default(), "grace@example.com", "a second long password", "ip").await.unwrap();

    let (code, out) = admin(&db, &["disable", "grace@example.com"], None).await;
    assert_eq!(code, 0, "{out}");
    let (_, listed) = admin(&db, &["list"], None).await;
    assert!(listed.contains("grace@example.com") && listed.contains("disabled"), "{listed}");
    let (code, out) = admin(&db, &["disable", "nobody@example.com"], None).await;
    assert_eq!(code, 1, "an unknown account is an error: {out}");
    let (code, _) = admin(&db, &["frobnicate"], None).await;
    assert_eq!(code, 2, "unknown commands print the usage");
}
