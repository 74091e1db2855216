//! The official OpenAI Python SDK (and an independent OpenAPI validator) against a real
//! ChatSphere server on a TCP port: `tests/sdk/openai_client.py`, run with the Python that
//! setup.sh prepares in `.data/venv-api` (or `CHATSPHERE_API_PYTHON`).

mod common;

use chatsphere::features::knowledge::server::worker;
use chatsphere::server::db::MIGRATOR;
use chatsphere::features::knowledge::server::settings::KnowledgeSettings;
use common::{call, ORIGIN};
use serde_json::Value;
use sqlx::PgPool;
use std::net::SocketAddr;
use std::path::PathBuf;

const GUIDE: &str = "# Harbour office\nBerth fees are paid at the harbour office. The harbour office closes at 6 pm on weekdays.\n\n\
# Ferries\nFerries to the island leave every hour from the northern quay.\n";

async fn create(app: &axum::Router, cookie: &str, endpoint: &str, form: &[(&str, &str)]) -> Value {
    let reply = call(app, endpoint, form, Some(ORIGIN), Some(cookie)).await;
    assert!(reply.status.is_success(), "{endpoint}: {} {}", reply.status, reply.body);
    serde_json::from_str(&reply.body).unwrap()
}

async fn key(app: &axum::Router, cookie: &str, name: &str, bot: &str, permission: &str) -> (String, String) {
    let made = create(app, cookie, "developer/create_key", &[("name", name), ("bot", bot), ("permission", permission), ("expires_in_days", "0")]).await;
    (made["secret"].as_str().unwrap().to_owned(), made["key"]["id"].as_str().unwrap().to_owned())
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn the_official_openai_sdk_works_against_the_server(db: PgPool) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let python = std::env::var("CHATSPHERE_API_PYTHON").map(PathBuf::from).unwrap_or_else(|_| root.join(".data/venv-api/bin/python3"));
    assert!(python.exists(), "{} is missing: ./setup.sh installs the pinned openai SDK there", python.display());

    let settings = common::settings();
    let per_day = settings.api.requests_per_day;
    let app = common::app_with(db.clone(), settings, common::providers(&db));
    let cookie = common::signed_up_as(&app, "ann@example.com").await;
    let bot = create(&app, &cookie, "bots/create", &[("name", "Harbour")]).await["public_id"].as_str().unwrap().to_owned();
    let other = create(&app, &cookie, "bots/create", &[("name", "Other")]).await["public_id"].as_str().unwrap().to_owned();
    let (manage, _) = key(&app, &cookie, "SDK", "", "manage").await;
    let (revoked, revoked_id) = key(&app, &cookie, "Old", "", "chat").await;
    create(&app, &cookie, "developer/revoke_key", &[("id", &revoked_id)]).await;
    let (scoped, _) = key(&app, &cookie, "Scoped", &bot, "chat").await;
    let (chat_only, _) = key(&app, &cookie, "Chat only", "", "chat").await;
    let (limited, limited_id) = key(&app, &cookie, "Limited", "", "chat").await;
    // The limited key has used up its day (today's window and tomorrow's, should the test
    // cross midnight).
    let now = chrono::Utc::now();
    let (_, day, _) = chatsphere::server::counters::windows(now);
    for ends in [day, day + chrono::Duration::days(1)] {
        sqlx::query("INSERT INTO rate_counts (key, n, expires_at) VALUES ($1, $2, $3)")
            .bind(format!("k:{limited_id}:d:{}", ends.timestamp()))
            .bind(per_day as i32)
            .bind(ends)
            .execute(&db)
            .await
            .unwrap();
    }

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = app.clone().into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, server).await.unwrap() });

    // The knowledge goes in through the API itself.
    let added = reqwest::Client::new()
        .post(format!("{base}/api/v1/bots/{bot}/documents"))
        .bearer_auth(&manage)
        .header("content-type", "multipart/form-data; boundary=sdk-boundary")
        .body(format!("--sdk-boundary\r\nContent-Disposition: form-data; name=\"file\"; filename=\"guide.md\"\r\nContent-Type: text/markdown\r\n\r\n{GUIDE}\r\n--sdk-boundary--\r\n"))
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), 202, "{}", added.text().await.unwrap());
    let knowledge = KnowledgeSettings { chunk_tokens: 40, chunk_overlap_tokens: 0, ..common::knowledge_settings() };
    while worker::run_once(&db, &knowledge, &common::providers(&db), "test").await.unwrap() {}

    let out = tokio::process::Command::new(&python)
        .arg(root.join("tests/sdk/openai_client.py"))
        .env("BASE", &base)
        .env("BOT", &bot)
        .env("OTHER_BOT", &other)
        .env("KEY", &manage)
        .env("REVOKED", &revoked)
        .env("SCOPED", &scoped)
        .env("CHAT_ONLY", &chat_only)
        .env("LIMITED", &limited)
        .output()
        .await
        .unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    println!("{stdout}");
    assert!(out.status.success(), "the SDK checks failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("all SDK checks passed"));
}
