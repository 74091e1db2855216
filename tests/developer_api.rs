//! The developer API over HTTP against PostgreSQL and the real local model: keys (shown once,
//! stored hashed, revoked and expired at once), who may do what (two owners, scoped keys,
//! chat-only keys), chat as JSON and as server-sent events at the byte level, conversations,
//! knowledge, the OpenAI-compatible endpoints, bad input, rate limits, and the OpenAPI document
//! against the router that serves it.

mod common;

use axum::body::Body;
use chatsphere::features::knowledge::server::worker;
use chatsphere::providers::llm::{Llm, LlmEvent, LlmRequest, LlmStream};
use chatsphere::features::chat::FinishReason;
use chatsphere::server::db::MIGRATOR;
use chatsphere::server::settings::Settings;
use chatsphere::features::knowledge::server::settings::KnowledgeSettings;
use common::{call, ORIGIN};
use futures::StreamExt;
use http::{header, Request, StatusCode};
use serde_json::{json, Value};
use sqlx::PgPool;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tower::ServiceExt;

const GUIDE: &str = "# Harbour office\nBerth fees are paid at the harbour office. The harbour office closes at 6 pm on weekdays.\n\n\
# Ferries\nFerries to the island leave every hour from the northern quay.\n";

struct Owner {
    cookie: String,
    bots: Vec<String>,
}

async fn bot(app: &axum::Router, cookie: &str, name: &str) -> String {
    let created = call(app, "bots/create", &[("name", name)], Some(ORIGIN), Some(cookie)).await;
    assert!(created.status.is_success(), "{}", created.body);
    serde_json::from_str::<Value>(&created.body).unwrap()["public_id"].as_str().unwrap().to_owned()
}

async fn owner(app: &axum::Router, email: &str, bots: usize) -> Owner {
    let cookie = common::signed_up_as(app, email).await;
    let mut ids = vec![];
    for n in 0..bots {
        ids.push(bot(app, &cookie, &format!("Harbour {n}")).await);
    }
    Owner { cookie, bots: ids }
}

/// Creates a key through the Settings server function; (secret, key id).
async fn key(app: &axum::Router, o: &Owner, name: &str, bot: &str, permission: &str) -> (String, String) {
    let made = call(app, "developer/create_key", &[("name", name), ("bot", bot), ("permission", permission), ("expires_in_days", "0")], Some(ORIGIN), Some(&o.cookie)).await;
    assert!(made.status.is_success(), "{} {}", made.status, made.body);
    let v: Value = serde_json::from_str(&made.body).unwrap();
    (v["secret"].as_str().unwrap().to_owned(), v["key"]["id"].as_str().unwrap().to_owned())
}

struct Reply {
    status: StatusCode,
    headers: http::HeaderMap,
    body: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {} {}", self.status, self.body))
    }
    /// The documented error shape: (type, param).
    fn error(&self) -> (String, Option<String>) {
        let e = &self.json()["error"];
        assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()), "{}", self.body);
        (e["type"].as_str().unwrap().to_owned(), e["param"].as_str().map(str::to_owned))
    }
}

async fn api(app: &axum::Router, method: &str, path: &str, secret: Option<&str>, body: Option<Value>) -> Reply {
    let mut request = Request::builder().method(method).uri(path).header(header::HOST, "127.0.0.1:3000");
    if let Some(secret) = secret {
        request = request.header(header::AUTHORIZATION, format!("Bearer {secret}"));
    }
    let body = match body {
        Some(v) => {
            request = request.header(header::CONTENT_TYPE, "application/json");
            Body::from(v.to_string())
        }
        None => Body::empty(),
    };
    raw(app, request.body(body).unwrap()).await
}

async fn raw(app: &axum::Router, request: Request<Body>) -> Reply {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), 16 << 20).await.unwrap();
    Reply { status, headers, body: String::from_utf8_lossy(&bytes).into_owned() }
}

async fn ingest(db: &PgPool) {
    let knowledge = KnowledgeSettings { chunk_tokens: 40, chunk_overlap_tokens: 0, ..common::knowledge_settings() };
    while worker::run_once(db, &knowledge, &common::providers(db), "test").await.unwrap() {}
}

/// Every text a table holds, searched for `needle`.
async fn tables_containing(db: &PgPool, needle: &str) -> Vec<String> {
    let tables: Vec<String> = sqlx::query_scalar("SELECT tablename::text FROM pg_tables WHERE schemaname = 'public'").fetch_all(db).await.unwrap();
    let mut found = vec![];
    for t in tables {
        let n: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM \"{t}\" x WHERE x::text LIKE '%' || $1 || '%'")).bind(needle).fetch_one(db).await.unwrap();
        if n > 0 {
            found.push(t);
        }
    }
    found
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn keys_are_shown_once_stored_hashed_and_revoked_or_expired_at_once(db: PgPool) {
    let app = common::app(db.clone());
    let ann = owner(&app, "ann@example.com", 1).await;
    let (secret, id) = key(&app, &ann, "Support backend", "", "chat").await;
    assert!(secret.starts_with("csk_") && secret.len() == 68, "{secret}");
    assert_eq!(tables_containing(&db, &secret[4..]).await, Vec::<String>::new(), "no plaintext secret anywhere in the database");
    let listed = call(&app, "developer/keys", &[], Some(ORIGIN), Some(&ann.cookie)).await;
    assert!(!listed.body.contains(&secret[12..]), "the list never shows the secret again");
    assert!(listed.body.contains(&secret[..12]), "it shows the prefix");

    let bots = api(&app, "GET", "/api/v1/bots", Some(&secret), None).await;
    assert_eq!(bots.status, StatusCode::OK, "{}", bots.body);
    assert_eq!(bots.json()["data"][0]["id"], ann.bots[0].as_str());
    assert_eq!(bots.headers["x-ratelimit-limit"], "60");
    assert_eq!(bots.headers["x-ratelimit-remaining"], "59");
    let (requests, used): (i64, bool) = sqlx::query_as("SELECT requests, last_used_at IS NOT NULL FROM api_keys WHERE id = $1::uuid").bind(&id).fetch_one(&db).await.unwrap();
    assert_eq!((requests, used), (1, true));

    for (presented, says) in [(None, "No API key"), (Some("csk_nope"), "not valid"), (Some("sk-proj-123"), "not valid")] {
        let refused = api(&app, "GET", "/api/v1/bots", presented, None).await;
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
        assert_eq!(refused.error().0, "authentication_error");
        assert!(refused.body.contains(says), "{}", refused.body);
    }
    let revoked = call(&app, "developer/revoke_key", &[("id", &id)], Some(ORIGIN), Some(&ann.cookie)).await;
    assert!(revoked.status.is_success());
    let refused = api(&app, "GET", "/v1/models", Some(&secret), None).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert!(refused.body.contains("revoked"), "{}", refused.body);

    let (expiring, id) = key(&app, &ann, "Nightly job", "", "manage").await;
    assert_eq!(api(&app, "GET", "/v1/models", Some(&expiring), None).await.status, StatusCode::OK);
    sqlx::query("UPDATE api_keys SET expires_at = now() - interval '1 second' WHERE id = $1::uuid").bind(&id).execute(&db).await.unwrap();
    let refused = api(&app, "GET", "/v1/models", Some(&expiring), None).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert!(refused.body.contains("expired"), "{}", refused.body);

    // Another owner cannot revoke Ann's key; deleting the bot ends the keys scoped to it.
    let bob = owner(&app, "bob@example.com", 0).await;
    let (scoped, scoped_id) = key(&app, &ann, "Widget bridge", &ann.bots[0], "chat").await;
    let stranger = call(&app, "developer/revoke_key", &[("id", &scoped_id)], Some(ORIGIN), Some(&bob.cookie)).await;
    assert_eq!(stranger.status, StatusCode::NOT_FOUND);
    assert_eq!(api(&app, "GET", "/api/v1/bots", Some(&scoped), None).await.status, StatusCode::OK);
    let deleted = call(&app, "bots/delete", &[("public_id", &ann.bots[0])], Some(ORIGIN), Some(&ann.cookie)).await;
    assert!(deleted.status.is_success(), "{}", deleted.body);
    assert_eq!(api(&app, "GET", "/api/v1/bots", Some(&scoped), None).await.status, StatusCode::UNAUTHORIZED);
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn one_party_can_never_reach_anothers_bots_documents_or_conversations(db: PgPool) {
    let app = common::app(db.clone());
    let ann = owner(&app, "ann@example.com", 2).await;
    let bob = owner(&app, "bob@example.com", 1).await;
    let (ann_all, _) = key(&app, &ann, "Ann all", "", "manage").await;
    let (ann_chat, _) = key(&app, &ann, "Ann chat", "", "chat").await;
    let (ann_first, _) = key(&app, &ann, "Ann first bot", &ann.bots[0], "manage").await;
    let (bob_all, _) = key(&app, &bob, "Bob all", "", "manage").await;
    let (a0, a1, b0) = (&ann.bots[0], &ann.bots[1], &bob.bots[0]);

    let added = api(&app, "POST", &format!("/api/v1/bots/{a0}/documents"), Some(&ann_all), Some(json!({ "title": "Guide", "text": GUIDE }))).await;
    assert_eq!(added.status, StatusCode::ACCEPTED, "{}", added.body);
    let doc = added.json()["document"]["id"].as_str().unwrap().to_owned();
    ingest(&db).await;
    let asked = api(&app, "POST", &format!("/api/v1/bots/{a0}/chat"), Some(&ann_chat), Some(json!({ "message": "Where are berth fees paid?" }))).await;
    assert_eq!(asked.status, StatusCode::OK, "{}", asked.body);
    let conversation = asked.json()["conversation_id"].as_str().unwrap().to_owned();

    // Bob's key: Ann's bots, documents and conversations do not exist for it.
    for (method, path, body) in [
        ("POST", format!("/api/v1/bots/{a0}/chat"), Some(json!({ "message": "Hello?" }))),
        ("GET", format!("/api/v1/bots/{a0}/documents"), None),
        ("GET", format!("/api/v1/bots/{a0}/documents/{doc}"), None),
        ("DELETE", format!("/api/v1/bots/{a0}/documents/{doc}"), None),
        ("GET", format!("/api/v1/bots/{a0}/conversations"), None),
        ("GET", format!("/api/v1/bots/{a0}/conversations/{conversation}"), None),
        ("DELETE", format!("/api/v1/bots/{a0}/conversations/{conversation}"), None),
        ("GET", format!("/api/v1/bots/{b0}/documents/{doc}"), None),
        ("GET", format!("/api/v1/bots/{b0}/conversations/{conversation}"), None),
        ("GET", format!("/v1/models/{a0}"), None),
    ] {
        let refused = api(&app, method, &path, Some(&bob_all), body).await;
        assert_eq!(refused.status, StatusCode::NOT_FOUND, "{method} {path}: {}", refused.body);
        assert_eq!(refused.error().0, "not_found_error");
    }
    let completion = api(&app, "POST", "/v1/chat/completions", Some(&bob_all), Some(json!({ "model": a0, "messages": [{ "role": "user", "content": "Hi" }] }))).await;
    assert_eq!((completion.status, completion.error()), (StatusCode::NOT_FOUND, ("not_found_error".into(), Some("model".into()))));
    let models = api(&app, "GET", "/v1/models", Some(&bob_all), None).await.json();
    assert_eq!(models["data"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap()).collect::<Vec<_>>(), vec![b0.as_str()]);

    // A chat-only key cannot touch knowledge, and nothing changes.
    for (method, path, body) in [
        ("POST", format!("/api/v1/bots/{a0}/documents"), Some(json!({ "title": "Sneaky", "text": "Free berths for all." }))),
        ("DELETE", format!("/api/v1/bots/{a0}/documents/{doc}"), None),
        ("GET", format!("/api/v1/bots/{a0}/documents"), None),
    ] {
        let refused = api(&app, method, &path, Some(&ann_chat), body).await;
        assert_eq!((refused.status, refused.error().0.as_str()), (StatusCode::FORBIDDEN, "permission_error"), "{method} {path}");
    }
    let docs: i64 = sqlx::query_scalar("SELECT count(*) FROM documents").fetch_one(&db).await.unwrap();
    assert_eq!(docs, 1);

    // A key scoped to one bot cannot reach the owner's other bot.
    let refused = api(&app, "POST", &format!("/api/v1/bots/{a1}/chat"), Some(&ann_first), Some(json!({ "message": "Hello?" }))).await;
    assert_eq!((refused.status, refused.error().0.as_str()), (StatusCode::FORBIDDEN, "permission_error"));
    let refused = api(&app, "POST", "/v1/chat/completions", Some(&ann_first), Some(json!({ "model": a1, "messages": [{ "role": "user", "content": "Hi" }] }))).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let models = api(&app, "GET", "/v1/models", Some(&ann_first), None).await.json();
    assert_eq!(models["data"].as_array().unwrap().len(), 1);
    assert_eq!(api(&app, "GET", &format!("/api/v1/bots/{a0}/documents/{doc}"), Some(&ann_first), None).await.status, StatusCode::OK);
    // Its document is not reachable through the other bot's path either.
    assert_eq!(api(&app, "GET", &format!("/api/v1/bots/{a1}/documents/{doc}"), Some(&ann_all), None).await.status, StatusCode::NOT_FOUND);

    // The owner's own conversations are not the API's.
    let own: uuid::Uuid = sqlx::query_scalar("INSERT INTO conversations (bot_id, user_id, visitor_key, title) SELECT id, owner_id, 'user:ann', 'Mine' FROM bots WHERE public_id = $1 RETURNING id")
        .bind(a0)
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(api(&app, "GET", &format!("/api/v1/bots/{a0}/conversations/{own}"), Some(&ann_all), None).await.status, StatusCode::NOT_FOUND);
    // Ann's other key (rotation) sees the conversation, and deletes it.
    assert_eq!(api(&app, "GET", &format!("/api/v1/bots/{a0}/conversations/{conversation}"), Some(&ann_all), None).await.status, StatusCode::OK);
    assert_eq!(api(&app, "DELETE", &format!("/api/v1/bots/{a0}/conversations/{conversation}"), Some(&ann_all), None).await.status, StatusCode::NO_CONTENT);
    assert_eq!(api(&app, "GET", &format!("/api/v1/bots/{a0}/conversations/{conversation}"), Some(&ann_all), None).await.status, StatusCode::NOT_FOUND);
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn chat_answers_with_citations_keeps_conversations_and_shows_them_to_the_owner(db: PgPool) {
    let app = common::app(db.clone());
    let ann = owner(&app, "ann@example.com", 1).await;
    let b = &ann.bots[0];
    let (secret, _) = key(&app, &ann, "Support backend", "", "manage").await;
    let boundary = "XyZ-boundary";
    let body = format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"guide.md\"\r\nContent-Type: text/markdown\r\n\r\n{GUIDE}\r\n--{boundary}--\r\n");
    let upload = Request::post(format!("/api/v1/bots/{b}/documents"))
        .header(header::AUTHORIZATION, format!("Bearer {secret}"))
        .header(header::CONTENT_TYPE, format!("multipart/form-data; boundary={boundary}"))
        .body(Body::from(body))
        .unwrap();
    let added = raw(&app, upload).await;
    assert_eq!(added.status, StatusCode::ACCEPTED, "{}", added.body);
    let doc = added.json()["document"]["id"].as_str().unwrap().to_owned();
    assert_eq!(added.json()["document"]["status"], "queued");
    ingest(&db).await;
    let read = api(&app, "GET", &format!("/api/v1/bots/{b}/documents/{doc}"), Some(&secret), None).await.json();
    assert_eq!((read["status"].as_str(), read["progress"].as_f64()), (Some("ready"), Some(1.0)), "{read}");

    let asked = api(&app, "POST", &format!("/api/v1/bots/{b}/chat"), Some(&secret), Some(json!({ "message": "Where are berth fees paid?" }))).await;
    assert_eq!(asked.status, StatusCode::OK, "{}", asked.body);
    let reply = asked.json();
    assert!(reply["answer"].as_str().unwrap().contains("harbour office") && reply["answer"].as_str().unwrap().contains("[1]"), "{reply}");
    assert_eq!(reply["finish_reason"], "stop");
    let citation = &reply["citations"][0];
    assert_eq!((citation["document"].as_str(), citation["cited"].as_bool(), citation["heading"].as_str()), (Some("guide.md"), Some(true), Some("Harbour office")), "{citation}");
    assert!(citation["passage"].as_str().unwrap().contains("Berth fees"));
    assert!(reply["usage"]["input_tokens"].as_i64().unwrap() > 0 && reply["usage"]["output_tokens"].as_i64().unwrap() > 0);

    let conversation = reply["conversation_id"].as_str().unwrap();
    let follow = api(&app, "POST", &format!("/api/v1/bots/{b}/chat"), Some(&secret), Some(json!({ "message": "When do ferries leave?", "conversation_id": conversation }))).await;
    assert_eq!(follow.json()["conversation_id"], conversation);
    let listed = api(&app, "GET", &format!("/api/v1/bots/{b}/conversations?limit=1"), Some(&secret), None).await.json();
    assert_eq!((listed["data"][0]["id"].as_str(), listed["data"][0]["messages"].as_i64(), listed["has_more"].as_bool()), (Some(conversation), Some(4), Some(false)));
    let detail = api(&app, "GET", &format!("/api/v1/bots/{b}/conversations/{conversation}"), Some(&secret), None).await.json();
    let roles: Vec<&str> = detail["messages"].as_array().unwrap().iter().map(|m| m["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["user", "assistant", "user", "assistant"]);
    assert_eq!(detail["messages"][1]["citations"][0]["document"], "guide.md");

    // The owner sees it in the inbox under the key's name, and in analytics as its channel.
    let form = [("bot_id", b.as_str()), ("filter[channel]", "api"), ("filter[from]", ""), ("filter[to]", ""), ("filter[thumbs_down]", "false"), ("filter[unanswered]", "false")];
    let inbox = call(&app, "inbox/list", &form, Some(ORIGIN), Some(&ann.cookie)).await;
    let rows: Value = serde_json::from_str(&inbox.body).unwrap();
    assert_eq!((rows[0]["channel"].as_str(), rows[0]["visitor"].as_str()), (Some("api"), Some("API key “Support backend”")), "{rows}");
    let keys: Value = serde_json::from_str(&call(&app, "developer/keys", &[], Some(ORIGIN), Some(&ann.cookie)).await.body).unwrap();
    assert_eq!(keys[0]["answers"], 2);
    assert!(keys[0]["tokens"].as_i64().unwrap() > 0 && keys[0]["requests"].as_i64().unwrap() == 6);

    // OpenAI-compatible, non-streaming: the same engine, the citations in an extra field.
    let completion = api(&app, "POST", "/v1/chat/completions", Some(&secret), Some(json!({
        "model": b, "temperature": 0.2, "max_tokens": 5,
        "messages": [{ "role": "system", "content": "Answer in French." }, { "role": "user", "content": "Hi" }, { "role": "assistant", "content": "Hello!" },
                     { "role": "user", "content": [{ "type": "text", "text": "When do ferries leave?" }] }] }))).await;
    assert_eq!(completion.status, StatusCode::OK, "{}", completion.body);
    let c = completion.json();
    assert_eq!((c["object"].as_str(), c["model"].as_str(), c["choices"][0]["index"].as_i64(), c["choices"][0]["finish_reason"].as_str()), (Some("chat.completion"), Some(b.as_str()), Some(0), Some("stop")));
    assert!(c["choices"][0]["message"]["content"].as_str().unwrap().contains("every hour"), "{c}");
    assert_eq!(c["citations"][0]["document"], "guide.md");
    let u = &c["usage"];
    assert_eq!(u["total_tokens"].as_i64(), Some(u["prompt_tokens"].as_i64().unwrap() + u["completion_tokens"].as_i64().unwrap()));
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn bad_input_gets_a_clear_refusal_in_the_documented_shape_and_stores_nothing(db: PgPool) {
    let mut settings = common::settings();
    settings.knowledge.max_upload_bytes = 64 * 1024;
    settings.api.requests_per_minute = 1000;
    let app = common::app_with(db.clone(), settings, common::providers(&db));
    let ann = owner(&app, "ann@example.com", 1).await;
    let b = &ann.bots[0];
    let (secret, _) = key(&app, &ann, "Tests", "", "manage").await;
    let chat = format!("/api/v1/bots/{b}/chat");
    let cases: Vec<(&str, String, Option<Value>, StatusCode, Option<&str>)> = vec![
        ("POST", chat.clone(), None, StatusCode::BAD_REQUEST, None),
        ("POST", chat.clone(), Some(json!({})), StatusCode::BAD_REQUEST, Some("message")),
        ("POST", chat.clone(), Some(json!({ "message": 42 })), StatusCode::BAD_REQUEST, Some("message")),
        ("POST", chat.clone(), Some(json!({ "message": "   " })), StatusCode::BAD_REQUEST, Some("message")),
        ("POST", chat.clone(), Some(json!({ "message": "x".repeat(4001) })), StatusCode::BAD_REQUEST, Some("message")),
        ("POST", chat.clone(), Some(json!({ "message": "Hi", "conversation_id": "not-a-uuid" })), StatusCode::BAD_REQUEST, Some("conversation_id")),
        ("POST", chat.clone(), Some(json!({ "message": "Hi", "conversation_id": uuid::Uuid::new_v4() })), StatusCode::NOT_FOUND, Some("conversation_id")),
        ("POST", chat.clone(), Some(json!({ "message": "Hi", "colour": "blue" })), StatusCode::BAD_REQUEST, Some("colour")),
        ("POST", "/v1/chat/completions".into(), Some(json!({ "messages": [] })), StatusCode::BAD_REQUEST, Some("model")),
        ("POST", "/v1/chat/completions".into(), Some(json!({ "model": b, "messages": [] })), StatusCode::BAD_REQUEST, Some("messages")),
        ("POST", "/v1/chat/completions".into(), Some(json!({ "model": b, "messages": [{ "role": "user" , "content": "Hi" }, { "role": "assistant", "content": "Yes?" }] })), StatusCode::BAD_REQUEST, Some("messages[1].role")),
        ("POST", "/v1/chat/completions".into(), Some(json!({ "model": b, "messages": [{ "role": "user", "content": [{ "type": "image_url", "image_url": { "url": "x" } }] }] })), StatusCode::BAD_REQUEST, Some("messages[0].content")),
        ("POST", "/v1/chat/completions".into(), Some(json!({ "model": b, "n": 2, "messages": [{ "role": "user", "content": "Hi" }] })), StatusCode::BAD_REQUEST, Some("n")),
        ("POST", "/v1/chat/completions".into(), Some(json!({ "model": "no-such-bot", "messages": [{ "role": "user", "content": "Hi" }] })), StatusCode::NOT_FOUND, Some("model")),
        ("POST", format!("/api/v1/bots/{b}/documents"), Some(json!({ "url": "ftp://example.com/x" })), StatusCode::BAD_REQUEST, Some("url")),
        ("POST", format!("/api/v1/bots/{b}/documents"), Some(json!({ "text": "No title" })), StatusCode::BAD_REQUEST, Some("title")),
        ("GET", format!("/api/v1/bots/{b}/conversations?limit=1000"), None, StatusCode::BAD_REQUEST, Some("limit")),
        ("GET", format!("/api/v1/bots/{b}/documents/{}", uuid::Uuid::new_v4()), None, StatusCode::NOT_FOUND, None),
        ("GET", "/api/v1/nothing-here".into(), None, StatusCode::NOT_FOUND, None),
        ("PUT", "/v1/models".into(), None, StatusCode::METHOD_NOT_ALLOWED, None),
    ];
    for (method, path, body, status, param) in cases {
        let reply = api(&app, method, &path, Some(&secret), body.clone()).await;
        assert_eq!(reply.status, status, "{method} {path} {body:?}: {}", reply.body);
        let (_, got) = reply.error();
        assert_eq!(got.as_deref(), param, "{method} {path} {body:?}: {}", reply.body);
    }
    // A file over the limit: 413, nothing stored.
    let boundary = "b0undary";
    let big = "x".repeat(100 * 1024);
    let body = format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.txt\"\r\n\r\n{big}\r\n--{boundary}--\r\n");
    let upload = Request::post(format!("/api/v1/bots/{b}/documents"))
        .header(header::AUTHORIZATION, format!("Bearer {secret}"))
        .header(header::CONTENT_TYPE, format!("multipart/form-data; boundary={boundary}"))
        .body(Body::from(body))
        .unwrap();
    let refused = raw(&app, upload).await;
    assert_eq!(refused.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", refused.body);
    assert_eq!(refused.error().0, "invalid_request_error");
    let (conversations, messages, documents): (i64, i64, i64) =
        sqlx::query_as("SELECT (SELECT count(*) FROM conversations), (SELECT count(*) FROM messages), (SELECT count(*) FROM documents)").fetch_one(&db).await.unwrap();
    assert_eq!((conversations, messages, documents), (0, 0, 0), "refusals store nothing");
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn a_key_over_its_rate_limit_gets_429_with_retry_after(db: PgPool) {
    let mut settings = common::settings();
    settings.api.requests_per_minute = 3;
    let app = common::app_with(db.clone(), settings, common::providers(&db));
    let ann = owner(&app, "ann@example.com", 1).await;
    let (secret, _) = key(&app, &ann, "Busy", "", "chat").await;
    let (other, _) = key(&app, &ann, "Quiet", "", "chat").await;
    // A minute boundary between the requests would reset the window: start just after one.
    let second = chrono::Utc::now().timestamp() % 60;
    if second > 50 {
        tokio::time::sleep(Duration::from_secs((61 - second) as u64)).await;
    }
    let remaining: Vec<String> = {
        let mut seen = vec![];
        for _ in 0..3 {
            let r = api(&app, "GET", "/v1/models", Some(&secret), None).await;
            assert_eq!(r.status, StatusCode::OK);
            seen.push(r.headers["x-ratelimit-remaining"].to_str().unwrap().to_owned());
        }
        seen
    };
    assert_eq!(remaining, ["2", "1", "0"]);
    let limited = api(&app, "GET", "/v1/models", Some(&secret), None).await;
    assert_eq!((limited.status, limited.error().0.as_str()), (StatusCode::TOO_MANY_REQUESTS, "rate_limit_error"));
    let retry: u64 = limited.headers[header::RETRY_AFTER].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry));
    assert_eq!(limited.headers["x-ratelimit-remaining"], "0");
    assert_eq!(api(&app, "GET", "/v1/models", Some(&other), None).await.status, StatusCode::OK, "limits are per key");
}

/// Says one word, then waits for the test before finishing; records when it is dropped.
struct Gated {
    gate: Arc<tokio::sync::Semaphore>,
    dropped: Arc<AtomicBool>,
}

struct SetOnDrop(Arc<AtomicBool>);
impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

impl Llm for Gated {
    fn provider(&self) -> &str {
        "offline"
    }
    fn stream(&self, _: LlmRequest) -> LlmStream {
        let (gate, guard) = (self.gate.clone(), SetOnDrop(self.dropped.clone()));
        Box::pin(futures::stream::unfold((0, gate, guard), |(step, gate, guard)| async move {
            let event = match step {
                0 => LlmEvent::Text("Fees are paid ".into()),
                1 => {
                    gate.acquire().await.unwrap().forget();
                    LlmEvent::Text("at the harbour office [1].".into())
                }
                2 => LlmEvent::Usage { input: 30, output: 8 },
                3 => LlmEvent::Finish(FinishReason::Stop),
                _ => return None,
            };
            Some((Ok(event), (step + 1, gate, guard)))
        }))
    }
}

/// Reads a streamed body until `needle` has arrived; everything read so far.
async fn read_until(stream: &mut axum::body::BodyDataStream, seen: &mut String, needle: &str) {
    let give_up = tokio::time::Instant::now() + Duration::from_secs(120);
    while !seen.contains(needle) {
        match tokio::time::timeout_at(give_up, stream.next()).await {
            Ok(Some(chunk)) => seen.push_str(&String::from_utf8(chunk.unwrap().to_vec()).unwrap()),
            Ok(None) => panic!("the stream ended before {needle:?}: {seen}"),
            Err(_) => panic!("no {needle:?} within 120 s: {seen}"),
        }
    }
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn streams_are_framed_kept_alive_and_stopped_by_a_disconnect(db: PgPool) {
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let dropped = Arc::new(AtomicBool::new(false));
    let mut providers = common::providers(&db);
    providers.llms = vec![Arc::new(Gated { gate: gate.clone(), dropped: dropped.clone() })];
    let mut settings: Settings = common::settings();
    settings.api.keep_alive_secs = 1;
    let app = common::app_with(db.clone(), settings, providers);
    let ann = owner(&app, "ann@example.com", 1).await;
    let b = ann.bots[0].clone();
    let (secret, _) = key(&app, &ann, "Streams", "", "manage").await;
    api(&app, "POST", &format!("/api/v1/bots/{b}/documents"), Some(&secret), Some(json!({ "title": "Guide", "text": GUIDE }))).await;
    ingest(&db).await;

    let open = |body: Value, path: String, accept: &'static str| {
        let (app, secret) = (app.clone(), secret.clone());
        async move {
            let request = Request::post(path)
                .header(header::AUTHORIZATION, format!("Bearer {secret}"))
                .header(header::CONTENT_TYPE, "application/json")
                .header(header::ACCEPT, accept)
                .body(Body::from(body.to_string()))
                .unwrap();
            app.oneshot(request).await.unwrap()
        }
    };
    // Native: named events, a keep-alive while the model is quiet, citations then done last.
    let response = open(json!({ "message": "Where are berth fees paid?" }), format!("/api/v1/bots/{b}/chat"), "text/event-stream").await;
    assert_eq!(response.status(), StatusCode::OK);
    let h = response.headers().clone();
    assert_eq!(h[header::CONTENT_TYPE], "text/event-stream");
    assert_eq!(h[header::CACHE_CONTROL], "no-cache, no-transform");
    assert_eq!(h["x-accel-buffering"], "no");
    let mut stream = response.into_body().into_data_stream();
    let mut seen = String::new();
    read_until(&mut stream, &mut seen, "event: delta\ndata: {\"text\":\"Fees are paid \"}\n\n").await;
    assert!(seen.starts_with("event: conversation\ndata: {\"conversation_id\":\""), "{seen}");
    read_until(&mut stream, &mut seen, ": keep-alive\n\n").await;
    gate.add_permits(1);
    read_until(&mut stream, &mut seen, "event: done\n").await;
    while let Some(chunk) = stream.next().await {
        seen.push_str(&String::from_utf8(chunk.unwrap().to_vec()).unwrap());
    }
    let frames: Vec<&str> = seen.split("\n\n").filter(|f| !f.is_empty() && !f.starts_with(':')).collect();
    let names: Vec<&str> = frames.iter().map(|f| f.lines().next().unwrap().trim_start_matches("event: ")).collect();
    assert_eq!(names, ["conversation", "delta", "delta", "citations", "done"], "{seen}");
    let done: Value = serde_json::from_str(frames[4].lines().nth(1).unwrap().trim_start_matches("data: ")).unwrap();
    assert_eq!((done["answer"].as_str(), done["finish_reason"].as_str()), (Some("Fees are paid at the harbour office [1]."), Some("stop")));
    assert_eq!(done["citations"][0]["cited"], true);

    // OpenAI-compatible: data-only chunks, the citations on the last chunk, usage when asked, [DONE].
    gate.add_permits(1);
    let response = open(
        json!({ "model": b, "stream": true, "stream_options": { "include_usage": true }, "messages": [{ "role": "user", "content": "Where are berth fees paid?" }] }),
        "/v1/chat/completions".into(),
        "application/json",
    )
    .await;
    assert_eq!(response.headers()[header::CONTENT_TYPE], "text/event-stream");
    let body = String::from_utf8(axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap().to_vec()).unwrap();
    let chunks: Vec<&str> = body.split("\n\n").filter(|f| f.starts_with("data: ")).map(|f| f.trim_start_matches("data: ")).collect();
    assert_eq!(chunks.last(), Some(&"[DONE]"), "{body}");
    let parsed: Vec<Value> = chunks[..chunks.len() - 1].iter().map(|c| serde_json::from_str(c).unwrap()).collect();
    assert_eq!(parsed[0]["choices"][0]["delta"]["role"], "assistant");
    let text: String = parsed.iter().filter_map(|c| c["choices"][0]["delta"]["content"].as_str()).collect();
    assert_eq!(text, "Fees are paid at the harbour office [1].");
    let finish = &parsed[parsed.len() - 2];
    assert_eq!((finish["choices"][0]["finish_reason"].as_str(), finish["citations"][0]["document"].as_str()), (Some("stop"), Some("Guide")));
    let usage = &parsed[parsed.len() - 1];
    assert_eq!((usage["choices"].as_array().map(Vec::len), usage["usage"]["total_tokens"].as_i64()), (Some(0), Some(38)));
    assert!(parsed.iter().all(|c| c["object"] == "chat.completion.chunk" && c["id"] == parsed[0]["id"]));

    // A client that goes away stops the model and keeps what was written.
    dropped.store(false, Ordering::SeqCst);
    let response = open(json!({ "message": "Where are berth fees paid?", "stream": true }), format!("/api/v1/bots/{b}/chat"), "*/*").await;
    let mut stream = response.into_body().into_data_stream();
    let mut seen = String::new();
    read_until(&mut stream, &mut seen, "Fees are paid").await;
    let answer = seen.split("\"message_id\":\"").nth(1).unwrap()[..36].to_owned();
    drop(stream);
    let mut row: (String, Option<String>, String) = (String::new(), None, String::new());
    for _ in 0..400 {
        row = sqlx::query_as("SELECT status, finish_reason, content FROM messages WHERE id = $1::uuid").bind(&answer).fetch_one(&db).await.unwrap();
        if row.0 != "streaming" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!((row.0.as_str(), row.1.as_deref(), row.2.as_str()), ("complete", Some("cancelled"), "Fees are paid "));
    assert!(dropped.load(Ordering::SeqCst), "the model's stream was dropped");
}

/// Every route the router serves under `/api/v1` and `/v1`, from the router itself.
fn served_paths(router: &axum::Router) -> Vec<String> {
    let debug = format!("{router:?}");
    let mut paths: Vec<String> = debug
        .split('"')
        .filter(|s| (s.starts_with("/api/v1") || s.starts_with("/v1")) && !s.contains("{*"))
        .map(str::to_owned)
        .collect();
    paths.sort();
    paths.dedup();
    paths
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn the_openapi_document_covers_every_route_the_router_serves(db: PgPool) {
    let app = common::app(db.clone());
    let document: Value = serde_json::from_str(&api(&app, "GET", "/api/v1/openapi.json", None, None).await.body).unwrap();
    assert!(document["openapi"].as_str().unwrap().starts_with("3.1"));
    let documented: Vec<String> = document["paths"].as_object().unwrap().keys().cloned().collect();
    let served = served_paths(&app);
    assert!(served.len() >= 9, "the router's routes could not be read: {served:?}");
    for path in &served {
        assert!(documented.contains(path), "{path} is served but not in the OpenAPI document");
    }
    // And every documented operation is served: without a key it is refused, not missing.
    for (path, operations) in document["paths"].as_object().unwrap() {
        for method in operations.as_object().unwrap().keys() {
            let concrete = path.replace("{bot}", "some-bot").replace("{id}", &uuid::Uuid::nil().to_string()).replace("{model}", "some-bot");
            let reply = api(&app, &method.to_uppercase(), &concrete, None, None).await;
            let expected = if path.ends_with("openapi.json") { StatusCode::OK } else { StatusCode::UNAUTHORIZED };
            assert_eq!(reply.status, expected, "{method} {path}");
        }
    }
}
