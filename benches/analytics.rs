//! The Analytics page for a bot with 1 million messages (and 1.5 million citations): the
//! report (every figure of the page: daily series with percentiles, totals for the period and
//! the one before, usage, thumbs-down, cited and never-cited documents) and the
//! unanswered-questions section, over 30 and 90 days, first call and median of five.
//!
//!     source ./db.sh && cargo bench --features ssr --bench analytics

mod common;

use chatsphere::features::analytics::server::{self as analytics, figures, unanswered};
use chatsphere::features::analytics::ReportQuery;
use chatsphere::providers::settings::LlmSettings;
use chrono::{Duration, Utc};
use std::time::Instant;

const MESSAGES: i64 = 1_000_000;

#[tokio::main]
async fn main() {
    let db = common::fresh_db("chatsphere_bench_analytics").await;
    let owner = common::owner_and_bot(&db, "analytics-bench@example.com").await;
    let t = Instant::now();
    // 100k conversations of 5 question/answer pairs over the last 90 days, from 20k visitors;
    // one answer in 12 is the fallback, one in 10 is rated.
    sqlx::query(
        "INSERT INTO conversations (id, bot_id, visitor_key, title, created_at, updated_at)
         SELECT md5(g::text)::uuid, $1, 'visitor:' || (g % 20000), 'conversation ' || g,
                now() - (g % 129600) * interval '1 minute', now()
           FROM generate_series(1, $2 / 10) g",
    )
    .bind(owner.bot)
    .bind(MESSAGES)
    .execute(&db)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO messages (conversation_id, bot_id, role, content, status, answered, best_score, ttft_ms, total_ms, tokens_in, tokens_out,
                               provider, model, feedback, created_at)
         SELECT md5((1 + (g / 10))::text)::uuid, $1,
                CASE WHEN g % 2 = 0 THEN 'user' ELSE 'assistant' END,
                CASE WHEN g % 2 = 0 THEN 'question about topic ' || (g % 400) ELSE 'an answer' END,
                'complete',
                CASE WHEN g % 2 = 0 THEN NULL ELSE g % 12 <> 1 END,
                CASE WHEN g % 2 = 0 THEN NULL ELSE 0.2 + (g % 70) / 100.0 END,
                CASE WHEN g % 2 = 0 THEN NULL ELSE 80 + g % 900 END,
                CASE WHEN g % 2 = 0 THEN NULL ELSE 900 + g % 4000 END,
                CASE WHEN g % 2 = 0 THEN NULL ELSE 300 + g % 500 END,
                CASE WHEN g % 2 = 0 THEN NULL ELSE 40 + g % 300 END,
                CASE WHEN g % 2 = 0 THEN NULL WHEN g % 3 = 0 THEN 'gemini' ELSE 'offline' END,
                CASE WHEN g % 2 = 0 THEN NULL WHEN g % 3 = 0 THEN 'gemini-2.5-flash' ELSE 'extractive' END,
                CASE WHEN g % 2 = 0 OR g % 10 > 1 THEN NULL WHEN g % 10 = 0 THEN 1 ELSE -1 END,
                now() - ((1 + g / 10) % 129600) * interval '1 minute' + (g % 10) * interval '20 seconds'
           FROM generate_series(0, $2 - 1) g",
    )
    .bind(owner.bot)
    .bind(MESSAGES)
    .execute(&db)
    .await
    .unwrap();
    // 40 documents; every answer cites three of them (1.5 million citations).
    sqlx::query(
        "INSERT INTO documents (bot_id, name, source, mime, size_bytes, content_hash, status)
         SELECT $1, 'handbook-' || g || '.pdf', 'upload', 'application/pdf', 1000, sha256(g::text::bytea), 'ready' FROM generate_series(1, 40) g",
    )
    .bind(owner.bot)
    .execute(&db)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO message_sources (message_id, n, document_id, document_name, text, score)
         SELECT m.id, k, d.id, d.name, 'a passage', 0.5
           FROM messages m CROSS JOIN generate_series(1, 3) k
           JOIN LATERAL (SELECT id, name FROM documents WHERE bot_id = $1 ORDER BY id OFFSET ((m.ttft_ms * k) % 37) LIMIT 1) d ON true
          WHERE m.role = 'assistant'",
    )
    .bind(owner.bot)
    .execute(&db)
    .await
    .unwrap();
    // As autovacuum would have by then: the visibility map lets the covering indexes answer alone.
    sqlx::query("VACUUM ANALYZE").execute(&db).await.unwrap();
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM messages").fetch_one(&db).await.unwrap();
    let cited: i64 = sqlx::query_scalar("SELECT count(*) FROM message_sources").fetch_one(&db).await.unwrap();
    println!("== analytics over one bot with {count} messages and {cited} citations (generated in {:.1} s)", t.elapsed().as_secs_f64());

    let providers = common::providers(&db, common::embedder());
    let prices = LlmSettings::default().models;
    let today = Utc::now().date_naive();
    for days in [30, 90] {
        let query = ReportQuery { bot: Some(owner.bot_public_id.clone()), from: today - Duration::days(days - 1), to: today, time_zone: "Europe/Paris".into() };
        let mut report_ms = Vec::new();
        let mut unanswered_ms = Vec::new();
        for _ in 0..5 {
            let t = Instant::now();
            let scope = analytics::scope(&db, owner.user, &query).await.unwrap();
            let report = figures::report(&db, &scope, &query, &prices).await.unwrap();
            report_ms.push(t.elapsed().as_secs_f64() * 1000.0);
            assert!(report.totals.messages > 0);
            let t = Instant::now();
            let groups = unanswered::groups(&db, &providers, &scope).await.unwrap();
            unanswered_ms.push(t.elapsed().as_secs_f64() * 1000.0);
            assert!(!groups.is_empty());
        }
        let first = report_ms[0];
        report_ms.sort_by(f64::total_cmp);
        unanswered_ms.sort_by(f64::total_cmp);
        println!(
            "{days:>2} days: report first {first:.0} ms, median of 5 {:.0} ms; unanswered questions (newest 500, embedded and grouped) median {:.0} ms",
            report_ms[2], unanswered_ms[2]
        );
    }
}
