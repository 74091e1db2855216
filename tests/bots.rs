//! Bots against a real PostgreSQL: the lifecycle, configured limits, cascade deletion, and
//! the ownership matrix, both through the service functions and over HTTP.

mod common;

use chatsphere::features::auth::server::password::Passwords;
use chatsphere::error::AppError;
use chatsphere::features::auth::server::accounts;
use chatsphere::features::bots::server as bots;
use chatsphere::features::bots::{BotLimits, ModelChoice, Visibility};
use chatsphere::server::db::MIGRATOR;
use chatsphere::features::auth::server::settings::AuthSettings;
use common::{app, call, get, ORIGIN};
use http::StatusCode;
use sqlx::PgPool;
use uuid::Uuid;

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89\0\0\0\rIDATx\x9cc\xf8\xff\xff?\0\x05\xfe\x02\xfe\xa7\x35\x81\x84\0\0\0\0IEND\xaeB`\x82";

fn models() -> Vec<ModelChoice> {
    chatsphere::providers::settings::LlmSettings::default().models
}

async fn user(db: &PgPool, email: &str) -> Uuid {
    accounts::sign_up(db, &AuthSettings::default(), &Passwords::default(), email, "Someone", "correct horse battery").await.unwrap().id
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn a_bot_with_only_a_name_gets_working_defaults(db: PgPool) {
    let owner = user(&db, "ada@example.com").await;
    let bot = bots::create(&db, &BotLimits::default(), &models(), &common::embedders(), owner, "  Support Bot ").await.unwrap();
    assert_eq!(bot.settings.name, "Support Bot");
    assert_eq!(bot.public_id.len(), 16);
    assert_eq!(bot.settings.visibility, Visibility::Private);
    assert_eq!((bot.settings.llm_provider.as_str(), bot.settings.llm_model.as_str()), ("offline", "extractive"));
    assert!(bot.settings.answer_only_from_knowledge && !bot.settings.fallback_message.is_empty());
    assert!(bot.settings.welcome_message.contains("Support Bot"));
    let listed = bots::list(&db, owner).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].public_id, bot.public_id);
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn updates_are_validated_tidied_and_persisted(db: PgPool) {
    let owner = user(&db, "ada@example.com").await;
    let limits = BotLimits::default();
    let bot = bots::create(&db, &limits, &models(), &common::embedders(), owner, "Helper").await.unwrap();

    let mut s = bot.settings.clone();
    s.persona = "You are a pirate.".into();
    s.accent_color = "#FF0066".into();
    s.suggested_questions = vec![" Where is the treasure? ".into(), "".into()];
    s.visibility = Visibility::Public;
    let updated = bots::update(&db, &limits, &models(), &common::embedders(), owner, &bot.public_id, s).await.unwrap();
    assert_eq!(updated.settings.persona, "You are a pirate.");
    assert_eq!(updated.settings.accent_color, "#ff0066");
    assert_eq!(updated.settings.suggested_questions, vec!["Where is the treasure?".to_string()]);
    assert_eq!(updated.settings.visibility, Visibility::Private, "the editor's save does not publish: Share & embed does");
    assert!(updated.updated_at >= bot.updated_at);
    assert_eq!(bots::get(&db, owner, &bot.public_id).await.unwrap().settings, updated.settings);

    let mut bad = updated.settings.clone();
    bad.llm_model = "no-such-model".into();
    let err = bots::update(&db, &limits, &models(), &common::embedders(), owner, &bot.public_id, bad).await.unwrap_err();
    assert_eq!(err.field(), Some("llm_model"));
    assert_eq!(bots::get(&db, owner, &bot.public_id).await.unwrap().settings, updated.settings, "a refused update changes nothing");
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn limits_come_from_configuration(db: PgPool) {
    let owner = user(&db, "ada@example.com").await;
    let limits = BotLimits { max_bots_per_user: 2, name_max: 10, ..BotLimits::default() };
    let first = bots::create(&db, &limits, &models(), &common::embedders(), owner, "One").await.unwrap();
    let err = bots::create(&db, &limits, &models(), &common::embedders(), owner, "Far too long a name").await.unwrap_err();
    assert_eq!(err.to_string(), "Names are at most 10 characters.");
    bots::create(&db, &limits, &models(), &common::embedders(), owner, "Two").await.unwrap();
    let err = bots::create(&db, &limits, &models(), &common::embedders(), owner, "Three").await.unwrap_err();
    assert!(err.to_string().contains("limit of 2 bots"), "{err}");
    let err = bots::duplicate(&db, &limits, owner, &first.public_id).await.unwrap_err();
    assert!(err.to_string().contains("limit of 2 bots"), "duplicating counts too: {err}");
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn duplicating_copies_settings_and_avatar_under_a_new_id(db: PgPool) {
    let owner = user(&db, "ada@example.com").await;
    let limits = BotLimits::default();
    let bot = bots::create(&db, &limits, &models(), &common::embedders(), owner, "Helper").await.unwrap();
    let mut s = bot.settings.clone();
    s.persona = "Be brief.".into();
    s.visibility = Visibility::Public;
    bots::update(&db, &limits, &models(), &common::embedders(), owner, &bot.public_id, s).await.unwrap();
    sqlx::query("UPDATE bots SET visibility = 'public' WHERE public_id = $1").bind(&bot.public_id).execute(&db).await.unwrap();
    bots::set_avatar(&db, &limits, owner, &bot.public_id, PNG.to_vec()).await.unwrap();

    let copy = bots::duplicate(&db, &limits, owner, &bot.public_id).await.unwrap();
    assert_ne!(copy.public_id, bot.public_id);
    assert_eq!(copy.settings.name, "Copy of Helper");
    assert_eq!(copy.settings.persona, "Be brief.");
    assert_eq!(copy.settings.visibility, Visibility::Private, "a copy starts private");
    assert!(copy.avatar_url.is_some());
    let (_, bytes) = bots::avatar_for(&db, &copy.public_id, Some(owner)).await.unwrap().unwrap();
    assert_eq!(bytes, PNG);
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn avatars_are_checked_by_content_and_size(db: PgPool) {
    let owner = user(&db, "ada@example.com").await;
    let limits = BotLimits { avatar_max_bytes: 1024, ..BotLimits::default() };
    let bot = bots::create(&db, &limits, &models(), &common::embedders(), owner, "Helper").await.unwrap();
    let err = bots::set_avatar(&db, &limits, owner, &bot.public_id, b"<svg onload=alert(1)>".to_vec()).await.unwrap_err();
    assert_eq!(err.field(), Some("avatar"));
    let mut big = PNG.to_vec();
    big.resize(2048, 0);
    let err = bots::set_avatar(&db, &limits, owner, &bot.public_id, big).await.unwrap_err();
    assert_eq!(err.to_string(), "Avatars are at most 1 KB.");
    let with = bots::set_avatar(&db, &limits, owner, &bot.public_id, PNG.to_vec()).await.unwrap();
    assert!(with.avatar_url.unwrap().starts_with(&format!("/media/bots/{}/avatar?v=", bot.public_id)));
    let without = bots::remove_avatar(&db, owner, &bot.public_id).await.unwrap();
    assert!(without.avatar_url.is_none());
}

/// Rows in every table that references `bots`, so the test keeps covering the tables that

#[sqlx::test(migrator = "MIGRATOR")]
async fn deleting_a_bot_leaves_no_orphans_and_spares_the_others(db: PgPool) {
    let owner = user(&db, "ada@example.com").await;
    let limits = BotLimits::default();
    let doomed = bots::create(&db, &limits, &models(), &common::embedders(), owner, "Doomed").await.unwrap();
    let kept = bots::create(&db, &limits, &models(), &common::embedders(), owner, "Kept").await.unwrap();
    bots::set_avatar(&db, &limits, owner, &doomed.public_id, PNG.to_vec()).await.unwrap();
    bots::set_avatar(&db, &limits, owner, &kept.public_id, PNG.to_vec()).await.unwrap();
    let doomed_id: Uuid = sqlx::query_scalar("SELECT id FROM bots WHERE public_id = $1")
        .bind(&doomed.public_id)
        .fetch_one(&db)
        .await
        .unwrap();
    assert!(common::rows_referencing(&db, "bots", doomed_id).await.iter().any(|(_, n)| *n > 0), "the bot owns rows before deletion");

    bots::delete(&db, owner, &doomed.public_id).await.unwrap();
    for (table, n) in common::rows_referencing(&db, "bots", doomed_id).await {
        assert_eq!(n, 0, "{table} still holds rows of the deleted bot");
    }
    assert_eq!(bots::get(&db, owner, &doomed.public_id).await.unwrap_err(), AppError::NotFound("Bot".into()));
    let survivor = bots::get(&db, owner, &kept.public_id).await.unwrap();
    assert!(survivor.avatar_url.is_some());
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn another_user_can_do_nothing_to_a_bot_and_learns_nothing(db: PgPool) {
    let limits = BotLimits::default();
    let owner = user(&db, "ada@example.com").await;
    let intruder = user(&db, "mallory@example.com").await;
    let bot = bots::create(&db, &limits, &models(), &common::embedders(), owner, "Private").await.unwrap();
    let missing = "zzzzzzzzzzzzzzzz";
    let not_found = AppError::NotFound("Bot".into());

    assert!(bots::list(&db, intruder).await.unwrap().is_empty());
    for id in [bot.public_id.as_str(), missing] {
        assert_eq!(bots::get(&db, intruder, id).await.unwrap_err(), not_found);
        let mut s = bot.settings.clone();
        s.name = "Hijacked".into();
        assert_eq!(bots::update(&db, &limits, &models(), &common::embedders(), intruder, id, s).await.unwrap_err(), not_found);
        assert_eq!(bots::duplicate(&db, &limits, intruder, id).await.unwrap_err(), not_found);
        assert_eq!(bots::delete(&db, intruder, id).await.unwrap_err(), not_found);
        assert_eq!(bots::set_avatar(&db, &limits, intruder, id, PNG.to_vec()).await.unwrap_err(), not_found);
        assert_eq!(bots::remove_avatar(&db, intruder, id).await.unwrap_err(), not_found);
    }
    let untouched = bots::get(&db, owner, &bot.public_id).await.unwrap();
    assert_eq!(untouched.settings, bot.settings);
    assert!(untouched.avatar_url.is_none());
    assert_eq!(bots::list(&db, owner).await.unwrap().len(), 1, "nothing was duplicated into or out of the account");
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM bots").fetch_one(&db).await.unwrap();
    assert_eq!(total, 1);
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn the_ownership_matrix_holds_over_http(db: PgPool) {
    let app = app(db.clone());
    let sign_up = |email: &'static str| {
        let app = app.clone();
        async move {
            let reply = call(&app, "auth/sign_up", &[("email", email), ("display_name", "X"), ("password", "correct horse battery")], Some(ORIGIN), None).await;
            reply.session_cookie().unwrap()
        }
    };
    let ada = sign_up("ada@example.com").await;
    let mallory = sign_up("mallory@example.com").await;

    let created = call(&app, "bots/create", &[("name", "Ada's bot")], Some(ORIGIN), Some(&ada)).await;
    assert!(created.status.is_success(), "{}", created.body);
    let public_id = serde_json::from_str::<serde_json::Value>(&created.body).unwrap()["public_id"].as_str().unwrap().to_owned();

    let listed = call(&app, "bots/list", &[], Some(ORIGIN), Some(&mallory)).await;
    assert_eq!(listed.body, "[]");
    for endpoint in ["bots/get", "bots/duplicate", "bots/delete", "bots/remove_avatar"] {
        let reply = call(&app, endpoint, &[("public_id", &public_id)], Some(ORIGIN), Some(&mallory)).await;
        assert!(!reply.status.is_success(), "{endpoint} answered {}", reply.status);
        assert!(reply.body.contains("NotFound"), "{endpoint}: {}", reply.body);
    }
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM bots").fetch_one(&db).await.unwrap();
    assert_eq!(total, 1, "the bot is still there and was not copied");

    // Avatar images follow the bot's visibility.
    let owner_id: Uuid = sqlx::query_scalar("SELECT owner_id FROM bots").fetch_one(&db).await.unwrap();
    bots::set_avatar(&db, &BotLimits::default(), owner_id, &public_id, PNG.to_vec()).await.unwrap();
    let path = format!("/media/bots/{public_id}/avatar");
    assert_eq!(get(&app, &path, Some(&ada)).await.status, StatusCode::OK);
    assert_eq!(get(&app, &path, Some(&mallory)).await.status, StatusCode::NOT_FOUND);
    assert_eq!(get(&app, &path, None).await.status, StatusCode::NOT_FOUND);
    sqlx::query("UPDATE bots SET visibility = 'public'").execute(&db).await.unwrap();
    assert_eq!(get(&app, &path, None).await.status, StatusCode::OK, "a public bot's avatar is public");

    // Signed out: nothing at all.
    let reply = call(&app, "bots/list", &[], Some(ORIGIN), None).await;
    assert!(reply.body.contains("Unauthenticated"), "{}", reply.body);
}
