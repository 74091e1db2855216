//! Shared helpers for integration tests: each test gets its own fresh database from
//! `#[sqlx::test]`; these build the app around it and speak HTTP to it in-process.
#![allow(dead_code)]

pub mod process;

use axum::body::Body;
use axum::Router;
use chatsphere::providers::embed::local::LocalEmbedder;
use chatsphere::providers::vectors::postgres::PgVectorStore;
use chatsphere::providers::Providers;
use chatsphere::server::settings::Settings;
use std::path::Path;
use std::sync::{Arc, OnceLock};
use chatsphere::server::state::AppState;
use http::{header, Request, Response, StatusCode};
use sqlx::PgPool;
use tower::ServiceExt;

pub const ORIGIN: &str = "http://127.0.0.1:3000";

/// The embedding models tests offer bots: the local model `providers` loads.
pub fn embedders() -> Vec<chatsphere::features::bots::ModelChoice> {
    vec![chatsphere::features::bots::ModelChoice { provider: "local".into(), model: "local/all-MiniLM-L6-v2".into(), label: "MiniLM".into(), ..Default::default() }]
}

pub fn settings() -> Settings {
    Settings { knowledge: knowledge_settings(), ..Settings::default() }
}

/// The real local embedding model, loaded once per test binary (it is read-only), and a
/// PostgreSQL vector store on the test's own database.
pub fn providers(db: &PgPool) -> Providers {
    static EMBEDDER: OnceLock<Arc<LocalEmbedder>> = OnceLock::new();
    let embedder = EMBEDDER.get_or_init(|| {
        let s = settings().embeddings;
        Arc::new(LocalEmbedder::load(Path::new(&s.model_dir), 2, s.batch_size, s.int8).expect("the local model (./setup.sh installs it)"))
    });
    Providers::with_offline_llm(embedder.clone(), Arc::new(PgVectorStore::new(db.clone(), 64)))
}

pub fn app(db: PgPool) -> Router {
    let providers = providers(&db);
    app_with(db, settings(), providers)
}

/// The app with its own settings and providers (fake language models, small budgets).
pub fn app_with(db: PgPool, settings: Settings, providers: Providers) -> Router {
    chatsphere::server::startup::router(state_with(db, settings, providers))
}

/// What `app_with` serves, for tests that also call server code directly.
pub fn state_with(db: PgPool, settings: Settings, providers: Providers) -> AppState {
    let mailer = chatsphere::server::mail::Mailer::from_settings(&settings.mail, &Default::default()).expect("mail settings");
    AppState::new(db, settings, providers).with_mailer(mailer)
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: http::HeaderMap,
    pub body: String,
}

impl Reply {
    /// The body of a successful reply, read as `T`; any other reply fails the test, saying why.
    #[allow(dead_code)] // not every test binary reads bodies this way
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> T {
        assert!(self.status.is_success(), "{} {}", self.status, self.body);
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }

    pub fn header(&self, name: header::HeaderName) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The session cookie's `name=value` from `Set-Cookie`, if one was set.
    pub fn session_cookie(&self) -> Option<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|c| c.starts_with("chatsphere_session=") && !c.starts_with("chatsphere_session=;"))
            .map(|c| c.split(';').next().unwrap().to_owned())
    }
}

async fn read(response: Response<Body>) -> Reply {
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), 16 * 1024 * 1024).await.unwrap();
    Reply { status, headers, body: String::from_utf8_lossy(&bytes).into_owned() }
}

pub async fn get(app: &Router, path: &str, cookie: Option<&str>) -> Reply {
    let mut request = Request::get(path).header(header::ACCEPT, "text/html");
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, cookie);
    }
    read(app.clone().oneshot(request.body(Body::empty()).unwrap()).await.unwrap()).await
}

/// Calls a server function the way the WASM client does (form-encoded POST, no redirects).
pub async fn call(app: &Router, endpoint: &str, form: &[(&str, &str)], origin: Option<&str>, cookie: Option<&str>) -> Reply {
    let body = form
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&");
    let mut request = Request::post(format!("/api/{endpoint}"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ACCEPT, "application/json")
        .header(header::HOST, "127.0.0.1:3000");
    if let Some(origin) = origin {
        request = request.header(header::ORIGIN, origin);
    }
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, cookie);
    }
    read(app.clone().oneshot(request.body(Body::from(body)).unwrap()).await.unwrap()).await
}

/// Posts `form` to a server function the way a browser's plain HTML form does, from the page
/// at `referer` (a page served without WASM): it follows redirects itself, so none are followed here.
#[allow(dead_code)] // not every test binary posts plain forms
pub async fn form_post(app: &Router, endpoint: &str, form: &[(&str, &str)], referer: &str) -> Reply {
    let body = form.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect::<Vec<_>>().join("&");
    let request = Request::post(format!("/api/{endpoint}"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ACCEPT, "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
        .header(header::ORIGIN, ORIGIN)
        .header(header::REFERER, format!("{ORIGIN}{referer}"))
        .header(header::HOST, "127.0.0.1:3000");
    read(app.clone().oneshot(request.body(Body::from(body)).unwrap()).await.unwrap()).await
}

pub fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Counts, in every table with a foreign key to `table`, the rows pointing at `id`, so that
/// deletion tests keep covering the tables later features add.
pub async fn rows_referencing(db: &PgPool, table: &str, id: uuid::Uuid) -> Vec<(String, i64)> {
    let refs: Vec<(String, String)> = sqlx::query_as(
        "SELECT cl.relname::text, att.attname::text
           FROM pg_constraint con
           JOIN pg_class cl ON cl.oid = con.conrelid
           JOIN pg_attribute att ON att.attrelid = con.conrelid AND att.attnum = ANY (con.conkey)
          WHERE con.contype = 'f' AND con.confrelid = $1::regclass",
    )
    .bind(table)
    .fetch_all(db)
    .await
    .unwrap();
    let mut counts = vec![];
    for (referencing, column) in refs {
        let n: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM \"{referencing}\" WHERE \"{column}\" = $1"))
            .bind(id)
            .fetch_one(db)
            .await
            .unwrap();
        counts.push((referencing, n));
    }
    counts
}

/// Uploads files the way the browser's form does (`multipart/form-data`: `bot_id`, then each
/// `file` with its name), to `/api/knowledge/upload`.
pub async fn upload(app: &Router, cookie: &str, bot_id: &str, files: &[(&str, &[u8])]) -> Reply {
    let boundary = "----chatsphere-test-boundary-7MA4YWxkTrZu0gW";
    let mut body = Vec::new();
    body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"bot_id\"\r\n\r\n{bot_id}\r\n").as_bytes());
    for (name, bytes) in files {
        let quoted = name.replace('"', "%22");
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{quoted}\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    let request = Request::post("/api/knowledge/upload")
        .header(header::CONTENT_TYPE, format!("multipart/form-data; boundary={boundary}"))
        .header(header::ACCEPT, "application/json")
        .header(header::HOST, "127.0.0.1:3000")
        .header(header::ORIGIN, ORIGIN)
        .header(header::COOKIE, cookie)
        .body(Body::from(body))
        .unwrap();
    read(app.clone().oneshot(request).await.unwrap()).await
}

/// Signs up over HTTP and returns the session cookie.
pub async fn signed_up_as(app: &Router, email: &str) -> String {
    let form = [("email", email), ("display_name", "Owner"), ("password", "correct horse battery")];
    let reply = call(app, "auth/sign_up", &form, Some(ORIGIN), None).await;
    assert!(reply.status.is_success(), "{} {}", reply.status, reply.body);
    reply.session_cookie().expect("sign-up sets a session cookie")
}

/// The extraction child for tests: the server binary cargo built beside the test.
pub fn knowledge_settings() -> chatsphere::features::knowledge::server::settings::KnowledgeSettings {
    chatsphere::features::knowledge::server::settings::KnowledgeSettings { extract_program: env!("CARGO_BIN_EXE_chatsphere").into(), ..Default::default() }
}
