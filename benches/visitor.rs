//! The visitor side, the server's share: rendering the share page (with its signed ticket),
//! starting a visitor session, and answering a visitor's message (limits counted, conversation
//! and question stored, retrieval over 10k chunks, answer streamed and stored) with a fake model
//! that streams instantly. Prints wall time to the first word and server CPU per message.
//!
//!     source ./db.sh && cargo bench --features ssr --bench visitor

mod common;

use axum::body::Body;
use chatsphere::features::chat::FinishReason;
use chatsphere::features::public::Publishing;
use chatsphere::providers::llm::{Llm, LlmEvent, LlmRequest, LlmStream};
use chatsphere::server::settings::Settings;
use chatsphere::server::state::AppState;
use futures::StreamExt;
use http::{header, Request};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tower::ServiceExt;

const CHUNKS: usize = 10_000;
const ORIGIN: &str = "http://127.0.0.1:3000";

struct Instant60;

impl Llm for Instant60 {
    fn provider(&self) -> &str {
        "offline"
    }
    fn stream(&self, _: LlmRequest) -> LlmStream {
        let words = (0..60).map(|i| Ok(LlmEvent::Text(format!("word{i} "))));
        Box::pin(futures::stream::iter(words.chain([Ok(LlmEvent::Finish(FinishReason::Stop))])))
    }
}

/// CPU time of this process so far (user + system), all threads.
fn cpu() -> Duration {
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage writes into the struct it is given and nothing else.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let t = |tv: libc::timeval| Duration::from_secs(tv.tv_sec as u64) + Duration::from_micros(tv.tv_usec as u64);
    t(usage.ru_utime) + t(usage.ru_stime)
}

fn report(label: &str, mut ms: Vec<f64>) {
    ms.sort_by(f64::total_cmp);
    println!("{label:<40} n={:<4} p50 {:>7.2} ms   p95 {:>7.2} ms", ms.len(), common::percentile(&ms, 0.5), common::percentile(&ms, 0.95));
}

async fn body_of(app: &axum::Router, request: Request<Body>) -> String {
    let response = app.clone().oneshot(request).await.unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    String::from_utf8(axum::body::to_bytes(response.into_body(), 1 << 24).await.unwrap().to_vec()).unwrap()
}

fn post(path: &str, body: serde_json::Value, token: Option<&str>) -> Request<Body> {
    let mut r = Request::post(path).header(header::CONTENT_TYPE, "application/json").header(header::ORIGIN, ORIGIN).header(header::HOST, "127.0.0.1:3000");
    if let Some(t) = token {
        r = r.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    r.body(Body::from(body.to_string())).unwrap()
}

#[tokio::main]
async fn main() {
    let db = common::fresh_db("chatsphere_bench_visitor").await;
    let owner = common::owner_and_bot(&db, "visitor-bench@example.com").await;
    let corpus = common::jsonl(&common::eval_dir().join("scifact/corpus.jsonl"));
    let pages: Vec<(String, String)> = corpus.iter().map(|d| (String::new(), d["text"].as_str().unwrap_or_default().to_owned())).collect();
    let questions: Vec<String> = common::jsonl(&common::eval_dir().join("scifact/queries-train.jsonl")).iter().map(|q| q["text"].as_str().unwrap().to_owned()).collect();
    let embedder = common::embedder();
    let mut providers = common::providers(&db, embedder.clone());
    common::fill(&db, owner.bot, CHUNKS, chatsphere::providers::embed::Embedder::id(embedder.as_ref()), &pages).await;
    let roomy = Publishing { per_visitor_minute: 1000, per_visitor_day: 100_000, per_address_day: 1_000_000, per_bot_day: 10_000_000, per_bot_month: 100_000_000, ..Publishing::default() };
    chatsphere::features::public::server::store::save(&db, ORIGIN, owner.user, &owner.bot_public_id, true, roomy).await.unwrap();
    providers.llms = vec![Arc::new(Instant60)];
    let app = chatsphere::server::startup::router(AppState::new(db.clone(), Settings::default(), providers));
    let bot = owner.bot_public_id.clone();

    println!("== share page and visitor sessions");
    let mut page_ms = Vec::new();
    let mut page = String::new();
    for _ in 0..200 {
        let t = Instant::now();
        page = body_of(&app, Request::get(format!("/s/{bot}")).body(Body::empty()).unwrap()).await;
        page_ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    report("share page (HTML with a signed ticket)", page_ms);
    let attr = |name: &str| {
        let start = page.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
        page[start..start + page[start..].find('"').unwrap()].to_owned()
    };
    let (ticket, site) = (attr("data-ticket"), attr("data-site"));
    let mut session_ms = Vec::new();
    let mut token = String::new();
    for _ in 0..200 {
        let t = Instant::now();
        let reply = body_of(&app, post(&format!("/visitor/{bot}/session"), serde_json::json!({ "ticket": ticket, "channel": "share", "site": site }), None)).await;
        session_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        token = serde_json::from_str::<serde_json::Value>(&reply).unwrap()["token"].as_str().unwrap().to_owned();
    }
    report("new visitor session", session_ms);

    println!("\n== a visitor's message ({CHUNKS} chunks; fake model streaming 60 words instantly)");
    for q in questions.iter().take(5) {
        body_of(&app, post(&format!("/visitor/{bot}/messages"), serde_json::json!({ "text": q }), Some(&token))).await;
    }
    let (mut first_word, n) = (Vec::new(), 200);
    let cpu_before = cpu();
    let wall = Instant::now();
    for q in questions.iter().skip(5).take(n) {
        let t = Instant::now();
        let response = app.clone().oneshot(post(&format!("/visitor/{bot}/messages"), serde_json::json!({ "text": q }), Some(&token))).await.unwrap();
        let mut body = response.into_body().into_data_stream();
        let mut seen = String::new();
        let mut first = None;
        while let Some(chunk) = body.next().await {
            seen.push_str(std::str::from_utf8(&chunk.unwrap()).unwrap());
            if first.is_none() && seen.contains("\"t\":\"delta\"") {
                first = Some(t.elapsed().as_secs_f64() * 1000.0);
            }
        }
        first_word.push(first.expect("an answer word"));
    }
    let (cpu_used, wall) = (cpu() - cpu_before, wall.elapsed());
    report("time to first word, one at a time", first_word);
    println!(
        "server CPU per visitor message: {:.1} ms (this process, all threads: {:.2} s CPU over {:.2} s for {n} messages; PostgreSQL's own CPU not included)",
        cpu_used.as_secs_f64() * 1000.0 / n as f64,
        cpu_used.as_secs_f64(),
        wall.as_secs_f64()
    );
}
