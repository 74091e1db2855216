//! Chat latency, the server's own share: with a fake model that streams instantly, the time
//! from a question arriving to its first answer word leaving (save the question, embed and
//! search it over 10k chunks, save the sources), one at a time and with 50 and 500
//! conversations at once; and the memory each open answer stream holds.
//!
//!     source ./db.sh && cargo bench --features ssr --bench chat

mod common;

use axum::body::Body;
use chatsphere::features::auth::server::{request::SESSION_COOKIE, sessions};
use chatsphere::features::chat::{ChatEvent, FinishReason};
use chatsphere::providers::llm::{Llm, LlmEvent, LlmRequest, LlmStream};
use chatsphere::server::settings::Settings;
use chatsphere::server::state::AppState;
use futures::StreamExt;
use http::{header, Request};
use std::sync::Arc;
use std::time::Instant;
use tower::ServiceExt;

const CHUNKS: usize = 10_000;

/// Streams a 60-word answer with no delay at all.
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

/// Writes one word, then holds the stream open until dropped.
struct OneWordThenWait;

impl Llm for OneWordThenWait {
    fn provider(&self) -> &str {
        "offline"
    }
    fn stream(&self, _: LlmRequest) -> LlmStream {
        Box::pin(futures::stream::iter([Ok(LlmEvent::Text("word ".into()))]).chain(futures::stream::pending()))
    }
}

fn send(bot: &str, cookie: &str, question: &str) -> Request<Body> {
    let form = format!("bot_id={bot}&conversation_id=&text={}", question.bytes().map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") }).collect::<String>());
    Request::post("/api/chat/send")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::HOST, "127.0.0.1:3000")
        .header(header::ORIGIN, "http://127.0.0.1:3000")
        .header(header::COOKIE, cookie)
        .body(Body::from(form))
        .unwrap()
}

/// Milliseconds from sending the question to the first answer word; the stream is returned
/// unread past that point.
async fn first_word(app: &axum::Router, request: Request<Body>) -> (f64, axum::body::BodyDataStream) {
    let t = Instant::now();
    let response = app.clone().oneshot(request).await.unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    let mut body = response.into_body().into_data_stream();
    let mut buffer = String::new();
    while let Some(chunk) = body.next().await {
        buffer.push_str(std::str::from_utf8(&chunk.unwrap()).unwrap());
        for event in ChatEvent::drain_lines(&mut buffer) {
            match event {
                ChatEvent::Delta { .. } => return (t.elapsed().as_secs_f64() * 1000.0, body),
                ChatEvent::Done { answer } => panic!("the answer ended without a word: {:?}", answer.error),
                _ => {}
            }
        }
    }
    panic!("the stream ended without an answer");
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok()))
        .unwrap_or(0)
}

/// CPU used by this process (the server's share) and by PostgreSQL between `start` and `report`.
struct Cpu {
    own: f64,
    postgres: f64,
}

impl Cpu {
    fn start() -> Self {
        Self { own: common::own_cpu_ms(), postgres: common::postgres_cpu_ms() }
    }
    fn report(&self, questions: usize) {
        let own = (common::own_cpu_ms() - self.own) / questions as f64;
        let postgres = (common::postgres_cpu_ms() - self.postgres) / questions as f64;
        println!("{:<34} CPU per question: server {own:.1} ms + PostgreSQL {postgres:.1} ms = {:.1} ms", "", own + postgres);
    }
}

/// Each retrieval stage run alone over `questions`: CPU per question of the question's
/// embedding (one at a time, and as the batches concurrent questions are coalesced into), the
/// vector search, and keyword + vector search together.
async fn stages(db: &sqlx::PgPool, providers: &chatsphere::providers::Providers, bot: uuid::Uuid, questions: &[String]) {
    use chatsphere::features::knowledge::server::search;
    use chatsphere::providers::embed::Purpose;
    let embedder = providers.embedders[0].clone();
    let space = embedder.id().to_owned();
    let n = questions.len();
    let mut vectors = Vec::new();
    let cpu = Cpu::start();
    let t = Instant::now();
    for q in questions {
        vectors.extend(embedder.embed(vec![q.clone()], Purpose::Query).await.unwrap());
    }
    println!("{:<34} {:>7.2} ms wall per question", "embed the question, one at a time", t.elapsed().as_secs_f64() * 1000.0 / n as f64);
    cpu.report(n);
    for batch in [8usize, 32] {
        let cpu = Cpu::start();
        let t = Instant::now();
        for group in questions.chunks(batch) {
            embedder.embed(group.to_vec(), Purpose::Query).await.unwrap();
        }
        println!("{:<34} {:>7.2} ms wall per question", format!("embed questions in batches of {batch}"), t.elapsed().as_secs_f64() * 1000.0 / n as f64);
        cpu.report(n);
    }
    let cpu = Cpu::start();
    let t = Instant::now();
    for v in &vectors {
        providers.vectors.query(bot, &space, v, 80).await.unwrap();
    }
    println!("{:<34} {:>7.2} ms wall per question", "vector search (80 deep)", t.elapsed().as_secs_f64() * 1000.0 / n as f64);
    cpu.report(n);
    let cpu = Cpu::start();
    let t = Instant::now();
    for q in questions {
        search::candidates(db, providers, bot, q, 80).await.unwrap();
    }
    println!("{:<34} {:>7.2} ms wall per question", "keyword + vector search (80 deep)", t.elapsed().as_secs_f64() * 1000.0 / n as f64);
    cpu.report(n);
}

fn report(label: &str, mut ms: Vec<f64>) {
    ms.sort_by(f64::total_cmp);
    println!(
        "{label:<34} n={:<4} p50 {:>7.1} ms   p95 {:>7.1} ms   p99 {:>7.1} ms",
        ms.len(),
        common::percentile(&ms, 0.5),
        common::percentile(&ms, 0.95),
        common::percentile(&ms, 0.99)
    );
}

#[tokio::main]
async fn main() {
    let db = common::fresh_db("chatsphere_bench_chat").await;
    let owner = common::owner_and_bot(&db, "chat-bench@example.com").await;
    let corpus = common::jsonl(&common::eval_dir().join("scifact/corpus.jsonl"));
    let pages: Vec<(String, String)> = corpus.iter().map(|d| (String::new(), d["text"].as_str().unwrap_or_default().to_owned())).collect();
    let questions: Vec<String> = common::jsonl(&common::eval_dir().join("scifact/queries-train.jsonl")).iter().map(|q| q["text"].as_str().unwrap().to_owned()).collect();
    let embedder = common::embedder();
    let mut providers = common::providers(&db, embedder.clone());
    common::fill(&db, owner.bot, CHUNKS, chatsphere::providers::embed::Embedder::id(embedder.as_ref()), &pages).await;
    let token = sessions::create(&db, owner.user, 24).await.unwrap();
    let cookie = format!("{SESSION_COOKIE}={}", token.as_str());
    let mut settings = Settings::default();
    settings.database.max_connections = 20;
    let pool = sqlx::postgres::PgPoolOptions::new().max_connections(20).connect_with((*db.connect_options()).clone()).await.unwrap();

    providers.llms = vec![Arc::new(Instant60)];
    let app = chatsphere::server::startup::router(AppState::new(pool.clone(), settings.clone(), providers.clone()));
    println!("== time to first token, server side ({CHUNKS} chunks in the bot; fake model streaming instantly; 20 database connections)");
    // Warm the vector cache and the code paths.
    for q in questions.iter().take(5) {
        let _ = first_word(&app, send(&owner.bot_public_id, &cookie, q)).await;
    }
    let mut sequential = Vec::new();
    let cpu = Cpu::start();
    for q in questions.iter().skip(5).take(100) {
        let (ms, mut body) = first_word(&app, send(&owner.bot_public_id, &cookie, q)).await;
        while body.next().await.is_some() {}
        sequential.push(ms);
    }
    let n = sequential.len();
    report("one conversation at a time", sequential);
    cpu.report(n);

    // Every question below is asked for the first time (no cached embedding), except where
    // the label says the questions are repeated.
    let mut next = 105;
    for (concurrent, rounds, repeat) in [(50usize, 2usize, false), (500, 1, false), (50, 2, true)] {
        let mut all = Vec::new();
        let cpu = Cpu::start();
        let first = if repeat { 105 } else { next };
        for round in 0..rounds {
            let tasks: Vec<_> = (0..concurrent)
                .map(|i| {
                    let (app, bot, cookie) = (app.clone(), owner.bot_public_id.clone(), cookie.clone());
                    let q = questions[(first + round * concurrent + i) % questions.len()].clone();
                    tokio::spawn(async move {
                        let (ms, mut body) = first_word(&app, send(&bot, &cookie, &q)).await;
                        while body.next().await.is_some() {}
                        ms
                    })
                })
                .collect();
            for t in tasks {
                all.push(t.await.unwrap());
            }
        }
        if !repeat {
            next += concurrent * rounds;
        }
        let n = all.len();
        report(&format!("{concurrent} conversations at once{}", if repeat { ", asked before" } else { "" }), all);
        cpu.report(n);
    }
    println!("\n== what keeping each answer's trace costs (\"Why this answer?\"): questions asked before, one at a time, alternating");
    let mut off = settings.clone();
    off.chat.keep_traces = false;
    let untraced = chatsphere::server::startup::router(AppState::new(pool.clone(), off, providers.clone()));
    let (mut with, mut without) = (Vec::new(), Vec::new());
    for q in questions.iter().skip(5).take(100) {
        for (app, times) in [(&app, &mut with), (&untraced, &mut without)] {
            let (ms, mut body) = first_word(app, send(&owner.bot_public_id, &cookie, q)).await;
            while body.next().await.is_some() {}
            times.push(ms);
        }
    }
    report("trace kept", with);
    report("trace off", without);

    println!("\n== where a question's CPU goes (the same questions, each stage alone)");
    stages(&db, &providers, owner.bot, &questions[5..105]).await;

    println!("\n== memory per open answer stream");
    providers.llms = vec![Arc::new(OneWordThenWait)];
    let app = chatsphere::server::startup::router(AppState::new(pool.clone(), settings, providers));
    let open = 500;
    // One round first, so allocator pools and caches are warm before measuring.
    let warm: Vec<_> = futures::future::join_all((0..20).map(|i| first_word(&app, send(&owner.bot_public_id, &cookie, &questions[i])))).await;
    drop(warm);
    let before = rss_kib();
    let mut streams = Vec::new();
    for chunk in questions.iter().cycle().take(open).collect::<Vec<_>>().chunks(50) {
        let opened = futures::future::join_all(chunk.iter().map(|q| first_word(&app, send(&owner.bot_public_id, &cookie, q)))).await;
        streams.extend(opened.into_iter().map(|(_, body)| body));
    }
    let after = rss_kib();
    println!(
        "{open} answers open at once: RSS {:.1} MiB → {:.1} MiB, {:.1} KiB per open stream (task, channel, HTTP body, answer so far)",
        before as f64 / 1024.0,
        after as f64 / 1024.0,
        (after.saturating_sub(before)) as f64 / open as f64
    );
    drop(streams);
}
