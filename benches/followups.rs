//! Follow-up questions ("how much is a ticket?" after asking about ferries), searched three
//! ways over a small visitor guide of our own (`benches/data/followups.json`, 20
//! conversations): as asked, joined to the previous question (what the offline model does),
//! rewritten as a standalone question through the model path (`chat::server::rewrite`, which
//! asks the model only when a question reads as a follow-up), here by a stand-in that replies
//! with the hand-written standalone question — the figure a model that rewrites well would
//! reach — and the standalone question searched directly (as if every question with a
//! conversation before it were rewritten). Prints how many read as follow-ups, and how often
//! the section that answers the follow-up is the first passage, and among the first three.
//!
//!     source ./db.sh && cargo bench --features ssr --bench followups

mod common;

use chatsphere::domain::FinishReason;
use chatsphere::features::bots::BotSettings;
use chatsphere::features::chat::server::answer::{retrieve, retrieve_query, Retrieved};
use chatsphere::features::knowledge::server::store::{self, NewDocument};
use chatsphere::features::knowledge::server::worker;
use chatsphere::providers::llm::{Llm, LlmEvent, LlmRequest, LlmStream, Speaker, Turn};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Replies to a rewrite request with the standalone question it was given.
struct Rewriter(Mutex<String>);

impl Llm for Rewriter {
    fn provider(&self) -> &str {
        "stand-in"
    }
    fn stream(&self, _: LlmRequest) -> LlmStream {
        let reply = self.0.lock().unwrap().clone();
        Box::pin(futures::stream::iter([Ok(LlmEvent::Text(reply)), Ok(LlmEvent::Finish(FinishReason::Stop))]))
    }
    fn rewrites_questions(&self) -> bool {
        true
    }
}

#[tokio::main]
async fn main() {
    let data: serde_json::Value = serde_json::from_str(include_str!("data/followups.json")).unwrap();
    let db = common::fresh_db("chatsphere_bench_followups").await;
    let mut providers = common::providers(&db, common::embedder());
    let rewriter = Arc::new(Rewriter(Mutex::new(String::new())));
    providers.llms.push(rewriter.clone());
    let owner = common::owner_and_bot(&db, "followups@example.com").await;
    for d in data["documents"].as_array().unwrap() {
        let new = NewDocument { name: d["name"].as_str().unwrap(), source: "upload", mime: "text/markdown", bytes: d["text"].as_str().unwrap().as_bytes().to_vec() };
        store::add(&db, owner.user, &owner.bot_public_id, new).await.unwrap();
    }
    while worker::run_once(&db, &common::knowledge_settings(), &providers, "bench").await.unwrap() {}
    let offline: BotSettings = chatsphere::features::bots::server::get(&db, owner.user, &owner.bot_public_id).await.unwrap().settings;
    let model = BotSettings { llm_provider: "stand-in".into(), ..offline.clone() };

    let conversations = data["conversations"].as_array().unwrap();
    let mut hits = [[0usize; 2]; 4]; // [as asked, joined, rewritten, every one rewritten] × [first, top 3]
    let mut read_as_follow_ups = 0;
    let deadline = Duration::from_secs(5);
    for c in conversations {
        let text = |k: &str| c[k].as_str().unwrap().to_owned();
        let history = vec![Turn { speaker: Speaker::User, text: text("first"), searched: None }, Turn { speaker: Speaker::Assistant, text: text("answer"), searched: None }];
        *rewriter.0.lock().unwrap() = text("standalone");
        let asked = retrieve_query(&db, &providers, owner.bot, &offline, text("follow_up")).await.unwrap();
        let joined = retrieve(&db, &providers, owner.bot, &offline, &text("follow_up"), &history, deadline).await.unwrap();
        let rewritten = retrieve(&db, &providers, owner.bot, &model, &text("follow_up"), &history, deadline).await.unwrap();
        read_as_follow_ups += usize::from(rewritten.query == text("standalone"));
        let every = retrieve_query(&db, &providers, owner.bot, &offline, text("standalone")).await.unwrap();
        if std::env::var_os("FOLLOWUPS_SHOW").is_some() {
            let first = |f: &Retrieved| f.passages.first().map(|(p, _, _)| p.heading_path.clone()).unwrap_or_default();
            println!("{:<45} want {:<20} asked {:<20} joined {:<20} rewritten {}", text("follow_up"), text("expect"), first(&asked), first(&joined), first(&rewritten));
        }
        for (i, found) in [asked, joined, rewritten, every].iter().enumerate() {
            let at = place(found, &text("expect"));
            hits[i][0] += usize::from(at == Some(0));
            hits[i][1] += usize::from(at.is_some_and(|p| p < 3));
        }
    }
    let n = conversations.len() as f64;
    println!("Follow-up questions: {} conversations, bot defaults (top_k {}, min relevance {}); {read_as_follow_ups} read as follow-ups", conversations.len(), offline.top_k, offline.min_relevance);
    println!("{:<34} {:>10} {:>10}", "searched", "first", "in top 3");
    let methods = ["as asked", "joined to the previous question", "rewritten (a model's best)", "every question rewritten"];
    for (name, h) in methods.iter().zip(hits) {
        println!("{name:<34} {:>9.0}% {:>9.0}%", 100.0 * h[0] as f64 / n, 100.0 * h[1] as f64 / n);
    }
}

/// Where the section `heading` is among the passages kept for the model.
fn place(found: &Retrieved, heading: &str) -> Option<usize> {
    found.passages.iter().position(|(p, _, _)| p.heading_path == heading)
}
