//! End-to-end answers on SQuAD 2.0 (dev, first 16 articles): the 646 paragraphs go through
//! the real pipeline into one bot, then each question is retrieved and answered exactly as
//! chat does it with the offline extractive model and the bot's default settings. Reports how
//! often an answerable question's answer contains a gold answer, and how often an
//! unanswerable one gets the fallback instead of a quote.
//!
//!     source ./db.sh && cargo bench --features ssr --bench squad
//!     SQUAD_EVERY=1 (all 6,078 questions; default every 3rd), SQUAD_REUSE=1 (keep the last ingest)

mod common;

use chatsphere::features::bots::BotSettings;
use chatsphere::features::chat::server::answer::{request, retrieve_query};
use chatsphere::features::knowledge::server::store::{self, NewDocument};
use chatsphere::features::knowledge::server::worker;
use chatsphere::providers::llm::extractive::compose;
use std::time::Instant;

/// SQuAD's answer normalisation: lower case, no punctuation, no articles, single spaces.
fn normalise(text: &str) -> String {
    let lower: String = text.to_lowercase().chars().map(|c| if c.is_alphanumeric() || c.is_whitespace() { c } else { ' ' }).collect();
    lower.split_whitespace().filter(|w| !matches!(*w, "a" | "an" | "the")).collect::<Vec<_>>().join(" ")
}

fn contains_gold(answer: &str, golds: &[String]) -> bool {
    let answer = format!(" {} ", normalise(answer));
    golds.iter().map(|g| normalise(g)).filter(|g| !g.is_empty()).any(|g| answer.contains(&format!(" {g} ")))
}

#[tokio::main]
async fn main() {
    let dir = common::eval_dir().join("squad2-dev-subset");
    let reuse = std::env::var("SQUAD_REUSE").is_ok_and(|v| v == "1");
    let every: usize = std::env::var("SQUAD_EVERY").ok().and_then(|v| v.parse().ok()).unwrap_or(3);
    let name = "chatsphere_bench_squad";
    let db = if reuse { common::existing_db(name).await } else { common::fresh_db(name).await };
    let embedder = common::embedder();
    let providers = common::providers(&db, embedder);
    let owner = if reuse { common::first_owner(&db).await } else { common::owner_and_bot(&db, "squad@example.com").await };

    if !reuse {
        let corpus = common::jsonl(&dir.join("corpus.jsonl"));
        let t = Instant::now();
        for p in &corpus {
            let name = format!("{}.md", p["_id"].as_str().unwrap());
            let body = format!("# {}\n\n{}\n", p["title"].as_str().unwrap().replace('_', " "), p["text"].as_str().unwrap());
            store::add(&db, owner.user, &owner.bot_public_id, NewDocument { name: &name, source: "upload", mime: "text/markdown", bytes: body.into_bytes() }).await.unwrap();
        }
        let knowledge = common::knowledge_settings();
        while worker::run_once(&db, &knowledge, &providers, "bench").await.unwrap() {}
        let chunks: i64 = sqlx::query_scalar("SELECT count(*) FROM chunks").fetch_one(&db).await.unwrap();
        println!("ingested {} paragraphs ({chunks} chunks) in {:.0} s", corpus.len(), t.elapsed().as_secs_f64());
    }

    let bot = chatsphere::features::bots::server::get(&db, owner.user, &owner.bot_public_id).await.unwrap();
    let s: BotSettings = bot.settings;
    println!(
        "bot defaults: top_k {}, min_relevance {}, keyword_weight {}, answer only from knowledge {}",
        s.top_k, s.min_relevance, s.keyword_weight, s.answer_only_from_knowledge
    );
    let qa = common::jsonl(&dir.join("qa.jsonl"));
    let (mut answerable, mut contained, mut answered, mut found_context) = (0usize, 0usize, 0usize, 0usize);
    let (mut impossible, mut fell_back, mut fell_back_retrieval) = (0usize, 0usize, 0usize);
    let mut words = 0usize;
    let t = Instant::now();
    for q in qa.iter().step_by(every.max(1)) {
        let question = q["question"].as_str().unwrap();
        let found = retrieve_query(&db, &providers, owner.bot, &s, question.to_owned()).await.unwrap();
        let context = format!("{}.md", q["context_id"].as_str().unwrap());
        let text = if found.passages.is_empty() {
            None
        } else {
            let req = request(&s, question, &[], 0, &found.passages);
            compose(&req.question, &req.passages, req.max_tokens as usize).map(|(t, _)| t)
        };
        if q["is_impossible"].as_bool().unwrap() {
            impossible += 1;
            if text.is_none() {
                fell_back += 1;
                fell_back_retrieval += found.passages.is_empty() as usize;
            }
        } else {
            answerable += 1;
            found_context += found.passages.iter().any(|(p, _, _)| p.document_name == context) as usize;
            if let Some(text) = text {
                answered += 1;
                words += text.split_whitespace().count();
                let golds: Vec<String> = q["answers"].as_array().unwrap().iter().map(|a| a.as_str().unwrap().to_owned()).collect();
                contained += contains_gold(&text, &golds) as usize;
            }
        }
    }
    let pct = |a: usize, b: usize| 100.0 * a as f64 / b.max(1) as f64;
    println!("{} questions in {:.0} s (every {every}th of {})", answerable + impossible, t.elapsed().as_secs_f64(), qa.len());
    println!("answerable   {answerable:>5}: answer contains a gold answer {:.1} %  (answered {:.1} %, fallback {:.1} %; gold paragraph among the passages {:.1} %; {:.0} words per answer)",
        pct(contained, answerable), pct(answered, answerable), pct(answerable - answered, answerable), pct(found_context, answerable), words as f64 / answered.max(1) as f64);
    println!("unanswerable {impossible:>5}: fallback instead of a quote {:.1} %  ({:.1} % because nothing passed the relevance bar, the rest declined by the extract)",
        pct(fell_back, impossible), pct(fell_back_retrieval, impossible));
}
