//! Shared by the benchmark binaries: a throw-away database beside the one `DATABASE_URL`
//! names (source ./db.sh first), the real local model, an owner with a bot.
#![allow(dead_code)]

use chatsphere::features::auth::server::password::Passwords;
use chatsphere::features::auth::server::accounts;
use chatsphere::features::bots::server as bots;
use chatsphere::features::bots::BotLimits;
use chatsphere::providers::embed::local::LocalEmbedder;
use chatsphere::providers::vectors::postgres::PgVectorStore;
use chatsphere::providers::Providers;
use chatsphere::server::db::MIGRATOR;
use chatsphere::features::auth::server::settings::AuthSettings;
use chatsphere::providers::settings::EmbeddingSettings;
use chatsphere::providers::settings::LlmSettings;
use sqlx::postgres::PgPoolOptions;
use sqlx::{Executor, PgPool};
use std::path::PathBuf;
use std::sync::Arc;
use uuid::Uuid;

pub async fn fresh_db(name: &str) -> PgPool {
    let url = std::env::var("DATABASE_URL").expect("DATABASE_URL (run `source ./db.sh` first)");
    let admin = PgPoolOptions::new().max_connections(1).connect(&url).await.expect("database");
    admin.execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str()).await.unwrap();
    admin.execute(format!("CREATE DATABASE {name}").as_str()).await.unwrap();
    let base = url.rsplit_once('/').map(|(b, _)| b).unwrap_or(&url);
    let db = PgPoolOptions::new().max_connections(8).connect(&format!("{base}/{name}")).await.unwrap();
    MIGRATOR.run(&db).await.unwrap();
    db
}

pub async fn existing_db(name: &str) -> PgPool {
    let url = std::env::var("DATABASE_URL").expect("DATABASE_URL (run `source ./db.sh` first)");
    let base = url.rsplit_once('/').map(|(b, _)| b).unwrap_or(&url);
    let db = PgPoolOptions::new().max_connections(8).connect(&format!("{base}/{name}")).await.expect("run once without reuse first");
    // An earlier run's data under today's schema.
    MIGRATOR.run(&db).await.unwrap();
    db
}

/// The bot of an earlier run's database.
pub async fn first_owner(db: &PgPool) -> Owner {
    let (user, bot_public_id, bot) = sqlx::query_as("SELECT owner_id, public_id, id FROM bots ORDER BY created_at LIMIT 1").fetch_one(db).await.unwrap();
    Owner { user, bot_public_id, bot }
}

/// The local model as deployed by default; `EMBED_INT8=0` or `1` overrides its precision.
pub fn embedder() -> Arc<LocalEmbedder> {
    let mut s = EmbeddingSettings::default();
    if let Some(v) = std::env::var_os("EMBED_INT8") {
        s.int8 = v != "0";
    }
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(&s.model_dir);
    Arc::new(LocalEmbedder::load(&dir, s.threads, s.batch_size, s.int8).expect("the local model (./setup.sh installs it)"))
}

pub fn providers(db: &PgPool, embedder: Arc<LocalEmbedder>) -> Providers {
    Providers::with_offline_llm(embedder, Arc::new(PgVectorStore::new(db.clone(), 4096)))
}

pub struct Owner {
    pub user: Uuid,
    pub bot_public_id: String,
    pub bot: Uuid,
}

pub async fn owner_and_bot(db: &PgPool, email: &str) -> Owner {
    let user = accounts::sign_up(db, &AuthSettings::default(), &Passwords::default(), email, "Bench", "correct horse battery").await.unwrap();
    let limits = BotLimits { max_bots_per_user: 1000, ..BotLimits::default() };
    let bot = bots::create(db, &limits, &LlmSettings::default().models, &[chatsphere::features::bots::ModelChoice { provider: "local".into(), model: "local/all-MiniLM-L6-v2".into(), label: String::new(), ..Default::default() }], user.id, "Bench").await.unwrap();
    let id = sqlx::query_scalar("SELECT id FROM bots WHERE public_id = $1").bind(&bot.public_id).fetch_one(db).await.unwrap();
    Owner { user: user.id, bot_public_id: bot.public_id, bot: id }
}

/// `../shared/eval` beside the checkout, or EVAL_DIR.
pub fn eval_dir() -> PathBuf {
    std::env::var_os("EVAL_DIR").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/eval"))
}

pub fn jsonl(path: &std::path::Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).lines().filter(|l| !l.trim().is_empty()).map(|l| serde_json::from_str(l).unwrap()).collect()
}

pub fn percentile(sorted_ms: &[f64], p: f64) -> f64 {
    if sorted_ms.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted_ms.len() as f64 - 1.0) * p).round() as usize;
    sorted_ms[i]
}

/// `size` chunks with random unit vectors in one ready document of `bot`.
pub async fn fill(db: &sqlx::PgPool, bot: uuid::Uuid, size: usize, embedder: &str, pages: &[(String, String)]) {
    let doc: uuid::Uuid = sqlx::query_scalar(
        "INSERT INTO documents (bot_id, name, source, mime, size_bytes, content_hash, status, progress, generation)
         VALUES ($1, 'synthetic', 'text', 'text/plain', 0, decode(md5(random()::text), 'hex'), 'ready', 1, 1) RETURNING id",
    )
    .bind(bot)
    .fetch_one(db)
    .await
    .unwrap_or_else(|_| panic!("insert document"));
    use rand::Rng;
    let mut rng = rand::thread_rng();
    for start in (0..size).step_by(5_000) {
        let n = 5_000.min(size - start);
        let ordinals: Vec<i32> = (start..start + n).map(|i| i as i32).collect();
        let texts: Vec<&str> = (start..start + n).map(|i| pages[i % pages.len()].1.as_str()).collect();
        let ids: Vec<i64> = sqlx::query_scalar(
            "INSERT INTO chunks (document_id, bot_id, generation, ordinal, token_count, text)
             SELECT $1, $2, 1, o, 200, t FROM UNNEST($3::int[], $4::text[]) AS u(o, t) RETURNING id",
        )
        .bind(doc)
        .bind(bot)
        .bind(&ordinals)
        .bind(&texts)
        .fetch_all(db)
        .await
        .unwrap();
        let vectors: Vec<Vec<u8>> = ids
            .iter()
            .map(|_| {
                let v: Vec<f32> = (0..384).map(|_| rng.gen_range(-1.0f32..1.0)).collect();
                let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
                chatsphere::providers::vectors::to_bytes(&v.iter().map(|x| x / norm).collect::<Vec<_>>())
            })
            .collect();
        sqlx::query("INSERT INTO chunk_vectors (chunk_id, bot_id, embedder, vector) SELECT u.id, $1, $2, u.v FROM UNNEST($3::bigint[], $4::bytea[]) AS u(id, v)")
            .bind(bot)
            .bind(embedder)
            .bind(&ids)
            .bind(&vectors)
            .execute(db)
            .await
            .unwrap();
    }
    // Done now rather than by autovacuum in the middle of a measurement (seen: a 100k-chunk
    // hybrid search p50 30 ms in one run, 100 ms in the next while the new rows were vacuumed).
    sqlx::query("VACUUM ANALYZE chunks, chunk_vectors, documents").execute(db).await.unwrap();
}

/// Ingestion settings whose extraction child is the server binary cargo built for the bench.
pub fn knowledge_settings() -> chatsphere::features::knowledge::server::settings::KnowledgeSettings {
    chatsphere::features::knowledge::server::settings::KnowledgeSettings { extract_program: env!("CARGO_BIN_EXE_chatsphere").into(), ..Default::default() }
}

/// CPU time (user + system) this process has used, in milliseconds.
pub fn own_cpu_ms() -> f64 {
    cpu_ms_of("/proc/self/stat")
}

/// CPU time used so far by every PostgreSQL process on this machine, in milliseconds (the
/// benchmarks' cluster is private, so on an idle machine that is their database's share).
pub fn postgres_cpu_ms() -> f64 {
    let Ok(dir) = std::fs::read_dir("/proc") else { return 0.0 };
    dir.filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_str().is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit())))
        .filter(|e| std::fs::read_to_string(e.path().join("comm")).is_ok_and(|c| c.trim() == "postgres"))
        .map(|e| cpu_ms_of(e.path().join("stat")))
        .sum()
}

fn cpu_ms_of(stat: impl AsRef<std::path::Path>) -> f64 {
    let Ok(text) = std::fs::read_to_string(stat) else { return 0.0 };
    // Fields after the parenthesised command name: utime and stime are the 12th and 13th.
    let rest = text.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = [11, 12].iter().filter_map(|&i| fields.get(i)?.parse::<f64>().ok()).sum();
    // Clock ticks are 100 a second on Linux (USER_HZ).
    ticks * 10.0
}
