//! Retrieval quality on BEIR SciFact (training claims only; the held-out test claims measure the
//! product and are not used for tuning). All 5,183 abstracts go through the real pipeline into
//! one bot; each claim is searched by keyword, by vector and fused, and nDCG@10, recall@10 and
//! recall@100 are printed at the document level (a document ranks where its best chunk ranks).
//! "fused" fuses the lists 300 deep; "fused, chat depth" fuses them as deep as chat reads them
//! (what answers see); "reciprocal rank" is the fusion used before relative scores, for comparison.
//!
//!   source ./db.sh && cargo bench --features ssr --bench scifact
//! Options (environment): SCIFACT_LIMIT=N claims, SCIFACT_WEIGHT=w keyword weight (default the
//! bot default), SCIFACT_REUSE=1 to search the database the last run ingested.

mod common;

use chatsphere::features::knowledge::server::search::{self, fuse};
use chatsphere::features::knowledge::server::store::{self, NewDocument};
use chatsphere::features::knowledge::server::worker;
use std::collections::{HashMap, HashSet};
use std::time::Instant;

#[tokio::main]
async fn main() {
    let dir = common::eval_dir().join("scifact");
    let reuse = std::env::var_os("SCIFACT_REUSE").is_some();
    let db = if reuse { common::existing_db("chatsphere_bench_scifact").await } else { common::fresh_db("chatsphere_bench_scifact").await };
    let providers = common::providers(&db, common::embedder());
    let owner = if reuse { common::first_owner(&db).await } else { common::owner_and_bot(&db, "scifact@example.com").await };

    let corpus = if reuse { Vec::new() } else { common::jsonl(&dir.join("corpus.jsonl")) };
    let started = Instant::now();
    for doc in &corpus {
        let id = doc["_id"].as_str().unwrap();
        let body = format!("# {}\n\n{}\n", doc["title"].as_str().unwrap_or_default(), doc["text"].as_str().unwrap_or_default());
        let name = format!("{id}.md");
        let new = NewDocument { name: &name, source: "upload", mime: "text/markdown", bytes: body.into_bytes() };
        store::add(&db, owner.user, &owner.bot_public_id, new).await.unwrap();
    }
    let settings = common::knowledge_settings();
    while worker::run_once(&db, &settings, &providers, "bench").await.unwrap() {}
    let chunks: i64 = sqlx::query_scalar("SELECT count(*) FROM chunks").fetch_one(&db).await.unwrap();
    let ingest = started.elapsed().as_secs_f64();
    println!("ingested {} abstracts ({chunks} chunks) in {ingest:.0} s: {:.1} documents/s", corpus.len(), corpus.len() as f64 / ingest);

    // chunk id → corpus id
    let rows: Vec<(i64, String)> = sqlx::query_as("SELECT c.id, d.name FROM chunks c JOIN documents d ON d.id = c.document_id").fetch_all(&db).await.unwrap();
    let doc_of: HashMap<i64, String> = rows.into_iter().map(|(c, n)| (c, n.trim_end_matches(".md").to_owned())).collect();

    let mut qrels: HashMap<String, HashSet<String>> = HashMap::new();
    for line in std::fs::read_to_string(dir.join("qrels/train.tsv")).unwrap().lines().skip(1) {
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() >= 3 && f[2].trim() != "0" {
            qrels.entry(f[0].to_owned()).or_default().insert(f[1].to_owned());
        }
    }
    let limit: usize = std::env::var("SCIFACT_LIMIT").ok().and_then(|v| v.parse().ok()).unwrap_or(usize::MAX);
    let default_weight: f32 = sqlx::query_scalar("SELECT keyword_weight FROM bots WHERE id = $1").bind(owner.bot).fetch_one(&db).await.unwrap();
    let weight: f32 = std::env::var("SCIFACT_WEIGHT").ok().and_then(|v| v.parse().ok()).unwrap_or(default_weight);
    let queries: Vec<_> = common::jsonl(&dir.join("queries-train.jsonl")).into_iter().filter(|q| qrels.contains_key(q["_id"].as_str().unwrap())).take(limit).collect();

    let chat_depth = search::depth(20);
    let methods = ["keyword", "vector", "fused", "fused, chat depth", "reciprocal rank"];
    let mut totals = [[0.0f64; 3]; 5]; // methods × [ndcg@10, r@10, r@100]
    let mut latencies = Vec::new();
    for q in &queries {
        let relevant = &qrels[q["_id"].as_str().unwrap()];
        let t = Instant::now();
        let (keyword, vector) = search::candidates(&db, &providers, owner.bot, q["text"].as_str().unwrap(), 300).await.unwrap();
        latencies.push(t.elapsed().as_secs_f64() * 1000.0);
        let vector: Vec<(i64, f32)> = vector.iter().map(|h| (h.chunk_id, h.score)).collect();
        let ids = |list: Vec<(i64, f32)>| list.into_iter().map(|(id, _)| id).collect::<Vec<i64>>();
        let fused = ids(fuse(&keyword, &vector, weight));
        let (kd, vd) = (keyword.len().min(chat_depth), vector.len().min(chat_depth));
        let shallow = ids(fuse(&keyword[..kd], &vector[..vd], weight));
        let rrf = reciprocal_rank(&ids(keyword.clone()), &ids(vector.clone()), weight);
        for (i, list) in [ids(keyword), ids(vector), fused, shallow, rrf].iter().enumerate() {
            let docs = documents(list, &doc_of);
            totals[i][0] += ndcg_at(&docs, relevant, 10);
            totals[i][1] += recall_at(&docs, relevant, 10);
            totals[i][2] += recall_at(&docs, relevant, 100);
        }
    }
    latencies.sort_by(f64::total_cmp);
    let n = queries.len() as f64;
    println!("SciFact training claims: {} (keyword weight {weight:.2} for fused)", queries.len());
    println!("{:<18} {:>8} {:>10} {:>11}", "method", "nDCG@10", "recall@10", "recall@100");
    for (name, t) in methods.iter().zip(totals) {
        println!("{name:<18} {:>8.4} {:>10.4} {:>11.4}", t[0] / n, t[1] / n, t[2] / n);
    }
    println!("candidate retrieval (embed query + both lists, 300 deep): p50 {:.1} ms, p95 {:.1} ms", common::percentile(&latencies, 0.5), common::percentile(&latencies, 0.95));
}

/// Weighted reciprocal rank fusion (k = 60, Cormack et al.), the fusion before relative scores.
fn reciprocal_rank(keyword: &[i64], vector: &[i64], keyword_weight: f32) -> Vec<i64> {
    let mut fused: HashMap<i64, f32> = HashMap::new();
    for (list, weight) in [(keyword, keyword_weight), (vector, 1.0 - keyword_weight)] {
        for (rank, id) in list.iter().enumerate() {
            *fused.entry(*id).or_default() += weight / (61.0 + rank as f32);
        }
    }
    let mut out: Vec<(i64, f32)> = fused.into_iter().collect();
    out.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    out.into_iter().map(|(id, _)| id).collect()
}

/// Chunk ranking → document ranking, each document at its best chunk's place.
fn documents(chunks: &[i64], doc_of: &HashMap<i64, String>) -> Vec<String> {
    let mut seen = HashSet::new();
    chunks.iter().filter_map(|c| doc_of.get(c)).filter(|d| seen.insert(d.as_str())).cloned().collect()
}

fn ndcg_at(ranked: &[String], relevant: &HashSet<String>, k: usize) -> f64 {
    let dcg: f64 = ranked.iter().take(k).enumerate().filter(|(_, d)| relevant.contains(*d)).map(|(i, _)| 1.0 / (i as f64 + 2.0).log2()).sum();
    let ideal: f64 = (0..relevant.len().min(k)).map(|i| 1.0 / (i as f64 + 2.0).log2()).sum();
    if ideal == 0.0 { 0.0 } else { dcg / ideal }
}

fn recall_at(ranked: &[String], relevant: &HashSet<String>, k: usize) -> f64 {
    ranked.iter().take(k).filter(|d| relevant.contains(*d)).count() as f64 / relevant.len() as f64
}
