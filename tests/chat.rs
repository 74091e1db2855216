//! Chat against a real PostgreSQL and the real local embedding model, over HTTP the way the
//! browser speaks to it: answers stream with citations and are kept with their metadata;
//! retrieval fuses, filters and cuts; the fallback path; history trimming; Stop and a closed
//! connection stop the model; failures keep the question; and nobody reaches another user's
//! conversations.

mod common;

use axum::body::Body;
use chatsphere::features::chat::{AnswerTrace, ChatEvent, FinishReason, MessageStatus, MessageView, RetrievalTrace, Role, Verdict};
use chatsphere::features::knowledge::server::store::{self as documents, NewDocument};
use chatsphere::features::knowledge::server::worker;
use chatsphere::providers::llm::{Llm, LlmError, LlmEvent, LlmRequest, LlmStream, Speaker};
use chatsphere::providers::Providers;
use chatsphere::server::db::MIGRATOR;
use chatsphere::features::knowledge::server::settings::KnowledgeSettings;
use common::{app, app_with, call, encode, ORIGIN};
use futures::StreamExt;
use http::{header, Request};
use sqlx::PgPool;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tower::ServiceExt;
use uuid::Uuid;

const HARBOUR: &str = "# Harbour office\nBerth fees are paid at the harbour office. The harbour office closes at 6 pm on weekdays.\n\n\
# Ferries\nFerries to the island leave every hour from the northern quay.\n\n\
# Premium berths\nThe premium berth plan includes fresh water, shore power and a reserved parking space.\n";

struct Session {
    app: axum::Router,
    cookie: String,
    bot: String,
}

async fn sign_up(app: &axum::Router, email: &str) -> String {
    let reply = call(app, "auth/sign_up", &[("email", email), ("display_name", "X"), ("password", "correct horse battery")], Some(ORIGIN), None).await;
    reply.session_cookie().expect("signed up")
}

/// A signed-up owner with a bot whose knowledge is the harbour guide, ready to search.
async fn owner_with_knowledge(db: &PgPool, app: axum::Router) -> Session {
    let cookie = sign_up(&app, "ada@example.com").await;
    let created = call(&app, "bots/create", &[("name", "Harbour")], Some(ORIGIN), Some(&cookie)).await;
    let bot = serde_json::from_str::<serde_json::Value>(&created.body).unwrap()["public_id"].as_str().unwrap().to_owned();
    let owner: Uuid = sqlx::query_scalar("SELECT owner_id FROM bots WHERE public_id = $1").bind(&bot).fetch_one(db).await.unwrap();
    let doc = NewDocument { name: "guide.md", source: "upload", mime: "text/markdown", bytes: HARBOUR.as_bytes().to_vec() };
    documents::add(db, owner, &bot, doc).await.unwrap();
    let knowledge = KnowledgeSettings { chunk_tokens: 40, chunk_overlap_tokens: 0, ..common::knowledge_settings() };
    while worker::run_once(db, &knowledge, &common::providers(db), "test").await.unwrap() {}
    Session { app, cookie, bot }
}

/// Posts to a streaming endpoint and returns the body as it arrives.
async fn open(app: &axum::Router, endpoint: &str, form: &[(&str, &str)], cookie: &str) -> (http::StatusCode, axum::body::BodyDataStream) {
    let body = form.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect::<Vec<_>>().join("&");
    let request = Request::post(format!("/api/{endpoint}"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::HOST, "127.0.0.1:3000")
        .header(header::ORIGIN, ORIGIN)
        .header(header::COOKIE, cookie)
        .body(Body::from(body))
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    (response.status(), response.into_body().into_data_stream())
}

/// Reads events until `stop` says enough (or the stream ends).
async fn read_events(stream: &mut axum::body::BodyDataStream, mut stop: impl FnMut(&ChatEvent) -> bool) -> Vec<ChatEvent> {
    let mut buffer = String::new();
    let mut events = Vec::new();
    while let Some(chunk) = stream.next().await {
        buffer.push_str(&String::from_utf8(chunk.unwrap().to_vec()).unwrap());
        for event in ChatEvent::drain_lines(&mut buffer) {
            let enough = stop(&event);
            events.push(event);
            if enough {
                return events;
            }
        }
    }
    events
}

async fn ask(s: &Session, conversation: &str, question: &str) -> Vec<ChatEvent> {
    let (status, mut stream) = open(&s.app, "chat/send", &[("bot_id", &s.bot), ("conversation_id", conversation), ("text", question)], &s.cookie).await;
    assert!(status.is_success(), "{status}");
    read_events(&mut stream, |_| false).await
}

fn done(events: &[ChatEvent]) -> MessageView {
    match events.last() {
        Some(ChatEvent::Done { answer }) => answer.clone(),
        other => panic!("the stream did not end with Done: {other:?}"),
    }
}

fn started(events: &[ChatEvent]) -> (Uuid, Uuid) {
    match &events[0] {
        ChatEvent::Started { conversation, answer_id, .. } => (conversation.id, *answer_id),
        other => panic!("the stream did not start with Started: {other:?}"),
    }
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn an_answer_streams_with_citations_and_is_kept_with_its_metadata(db: PgPool) {
    let s = owner_with_knowledge(&db, app(db.clone())).await;
    let events = ask(&s, "", "When does the harbour office close?").await;
    let (conversation, answer_id) = started(&events);
    let deltas: String = events.iter().filter_map(|e| if let ChatEvent::Delta { text } = e { Some(text.as_str()) } else { None }).collect();
    assert!(events.iter().filter(|e| matches!(e, ChatEvent::Delta { .. })).count() > 5, "the answer arrives in pieces");
    let answer = done(&events);
    assert_eq!(answer.id, answer_id);
    assert_eq!(answer.content, deltas, "what streamed is what was kept");
    assert!(answer.content.contains("closes at 6 pm on weekdays."), "{}", answer.content);
    assert!(answer.content.contains("an extract, not generated"), "labelled as an extract: {}", answer.content);
    assert!(!answer.sources.is_empty());
    let cited = &answer.sources[0];
    assert!(cited.text.contains("6 pm") && cited.document_name == "guide.md" && cited.heading_path.contains("Harbour office"), "{cited:?}");
    assert!(answer.content.contains(&format!("[{}]", cited.n)));
    assert_eq!((answer.status, answer.finish_reason, answer.answered), (MessageStatus::Complete, Some(FinishReason::Stop), Some(true)));
    assert_eq!((answer.provider.as_deref(), answer.model.as_deref()), (Some("offline"), Some("extractive")));
    let (ttft, total) = (answer.ttft_ms.unwrap(), answer.total_ms.unwrap());
    assert!(ttft >= 0 && total >= ttft);
    assert!(answer.tokens_in.unwrap() > 20 && answer.tokens_out.unwrap() > 5);

    // Kept: the question, the answer with its sources and scores, the conversation titled.
    let listed = call(&s.app, "chat/conversations", &[("bot_id", &s.bot)], Some(ORIGIN), Some(&s.cookie)).await;
    assert!(listed.body.contains("When does the harbour office close?"), "{}", listed.body);
    let view = call(&s.app, "chat/conversation", &[("conversation_id", &conversation.to_string())], Some(ORIGIN), Some(&s.cookie)).await;
    let view: chatsphere::features::chat::ConversationView = serde_json::from_str(&view.body).unwrap();
    assert_eq!(view.messages.len(), 2);
    assert_eq!(view.messages[1], answer);
    let stored: (i64, Option<String>) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM message_sources WHERE message_id = $1 AND chunk_id IS NOT NULL AND vector_score IS NOT NULL), retrieval_query FROM messages WHERE id = $1",
    )
    .bind(answer_id)
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(stored, (answer.sources.len() as i64, Some("When does the harbour office close?".into())));

    // The dashboard counts it.
    let bots = call(&s.app, "bots/list", &[], Some(ORIGIN), Some(&s.cookie)).await;
    assert!(bots.body.contains("\"conversations\":1"), "{}", bots.body);

    // The citation opens in context.
    let passage = call(&s.app, "chat/passage", &[("message_id", &answer_id.to_string()), ("n", &cited.n.to_string())], Some(ORIGIN), Some(&s.cookie)).await;
    let passage: chatsphere::features::chat::PassageContext = serde_json::from_str(&passage.body).unwrap();
    assert!(passage.current && passage.source.text.contains("6 pm"));
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn retrieval_fuses_both_searches_then_filters_by_relevance_and_keeps_top_k(db: PgPool) {
    use chatsphere::features::chat::server::answer::retrieve_query;
    let s = owner_with_knowledge(&db, app(db.clone())).await;
    let (bot_id, bot) = {
        let owner: Uuid = sqlx::query_scalar("SELECT owner_id FROM bots").fetch_one(&db).await.unwrap();
        chatsphere::features::chat::server::store::owned_bot(&db, owner, &s.bot).await.unwrap()
    };
    let providers = common::providers(&db);
    let mut settings = bot.settings.clone();
    settings.min_relevance = 0.0;
    let all = retrieve_query(&db, &providers, bot_id, &settings, "Which plan gives me shore power?".into()).await.unwrap();
    assert!(all.passages.len() >= 2, "{}", all.passages.len());
    assert!(all.passages[0].0.text.contains("shore power"), "the passage both searches rank first leads");
    assert!(all.passages[0].1.is_some() && all.passages[0].2.is_some(), "it carries its keyword and vector scores");
    assert!(all.passages.iter().enumerate().all(|(i, p)| p.0.n as usize == i + 1), "numbered in order");

    // A question in other words than the text is still found by meaning.
    let meaning = retrieve_query(&db, &providers, bot_id, &settings, "boat trips to the isle".into()).await.unwrap();
    assert!(meaning.passages[0].0.text.contains("Ferries"), "{:?}", meaning.passages[0].0.text);

    settings.top_k = 1;
    assert_eq!(retrieve_query(&db, &providers, bot_id, &settings, "Which plan gives me shore power?".into()).await.unwrap().passages.len(), 1);

    settings.top_k = 6;
    settings.min_relevance = 0.99;
    let strict = retrieve_query(&db, &providers, bot_id, &settings, "Which plan gives me shore power?".into()).await.unwrap();
    assert!(strict.passages.is_empty(), "nothing is that similar");
    assert!(strict.best.unwrap() > 0.3 && strict.best.unwrap() < 0.99, "the best score is still recorded: {:?}", strict.best);
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn nothing_relevant_gives_the_fallback_and_is_recorded_unanswered(db: PgPool) {
    let s = owner_with_knowledge(&db, app(db.clone())).await;
    let fallback = chatsphere::features::bots::DEFAULT_FALLBACK;
    let answer = done(&ask(&s, "", "What is the recipe for chocolate cake?").await);
    assert_eq!(answer.content, fallback);
    assert_eq!((answer.answered, answer.finish_reason), (Some(false), Some(FinishReason::NotInKnowledge)));
    assert!(answer.sources.is_empty());
    let unanswered: i64 = sqlx::query_scalar("SELECT count(*) FROM messages WHERE answered = false AND role = 'assistant'").fetch_one(&db).await.unwrap();
    assert_eq!(unanswered, 1);

    // Passages that are near the topic but do not say it: the extract declines rather than
    // quoting something merely nearby.
    let answer = done(&ask(&s, "", "How much does a ferry ticket to the island cost for children?").await);
    assert_eq!((answer.content.as_str(), answer.answered), (fallback, Some(false)), "{}", answer.content);
}

/// Records each request and answers with a fixed sentence.
struct Recording(Arc<Mutex<Vec<LlmRequest>>>);

impl Llm for Recording {
    fn provider(&self) -> &str {
        "offline"
    }
    fn stream(&self, request: LlmRequest) -> LlmStream {
        self.0.lock().unwrap().push(request);
        Box::pin(futures::stream::iter(vec![Ok(LlmEvent::Text("Noted [1].".into())), Ok(LlmEvent::Finish(FinishReason::Stop))]))
    }
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn history_is_trimmed_to_its_budget_and_follow_ups_search_with_the_previous_question(db: PgPool) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let mut providers = common::providers(&db);
    providers.llms = vec![Arc::new(Recording(seen.clone()))];
    let mut settings = common::settings();
    settings.chat.history_tokens = 30;
    let s = owner_with_knowledge(&db, app_with(db.clone(), settings, providers)).await;

    let first = ask(&s, "", "What does the premium berth plan include?").await;
    let (conversation, _) = started(&first);
    let conversation = conversation.to_string();
    ask(&s, &conversation, &format!("Is the harbour office open on weekdays? {}", "Please answer in detail. ".repeat(4))).await;
    let last = done(&ask(&s, &conversation, "How much does it cost?").await);

    let requests = seen.lock().unwrap();
    assert_eq!(requests.len(), 3);
    assert!(requests[0].history.is_empty());
    assert!(requests[0].system.contains("[1]") && requests[0].system.contains(&chatsphere::features::bots::BotSettings::named("x", &common::settings().llm.models[0], "").persona));
    // Third question: 4 earlier turns exist, but only the newest that fit in 30 tokens are sent.
    let history = &requests[2].history;
    assert_eq!(history.len(), 1, "{history:?}");
    assert_eq!((history[0].speaker, history[0].text.as_str()), (Speaker::Assistant, "Noted [1]."));
    let total: u32 = history.iter().map(|t| chatsphere::providers::llm::estimate_tokens(&t.text)).sum();
    assert!(total <= 30);
    // "it" leans on the question before, so both were searched together.
    let query: String = sqlx::query_scalar("SELECT retrieval_query FROM messages WHERE id = $1").bind(last.id).fetch_one(&db).await.unwrap();
    assert!(query.starts_with("Is the harbour office open on weekdays?") && query.ends_with("How much does it cost?"), "{query}");
    assert_eq!(requests[2].question, "How much does it cost?");
}

fn trace_of(reply: &common::Reply) -> AnswerTrace {
    reply.json()
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn every_answer_keeps_a_trace_of_its_candidates_verdicts_timings_and_exact_prompt(db: PgPool) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let mut providers = common::providers(&db);
    providers.llms = vec![Arc::new(Recording(seen.clone()))];
    let s = owner_with_knowledge(&db, app_with(db.clone(), common::settings(), providers)).await;
    // Two passages may be sent: the rest of what is relevant must be dropped as beyond top-k.
    sqlx::query("UPDATE bots SET top_k = 2, min_relevance = 0.05").execute(&db).await.unwrap();

    let first = ask(&s, "", "What does the premium berth plan include?").await;
    let (conversation, _) = started(&first);
    let question = "Where are berth fees paid, and when does the harbour office close?";
    let answer = done(&ask(&s, &conversation.to_string(), question).await);
    let trace = trace_of(&call(&s.app, "chat/trace", &[("message_id", &answer.id.to_string())], Some(ORIGIN), Some(&s.cookie)).await);
    assert_eq!(trace.question, question);
    assert_eq!(trace.answer.id, answer.id);
    let r = trace.retrieval.expect("a trace was kept");
    assert_eq!((r.top_k, r.min_relevance), (2, 0.05));
    assert_eq!(r.query, question, "not a follow-up: searched as asked");
    // Ranked best fused first; the kept ones are exactly the answer's sources, in order.
    assert!(r.candidates.windows(2).all(|w| w[0].fused >= w[1].fused && w[1].fused_rank == w[0].fused_rank + 1));
    let kept: Vec<(u16, i64)> = r.candidates.iter().filter_map(|c| match c.verdict { Verdict::Kept { n } => Some((n, c.chunk_id)), _ => None }).collect();
    let sources: Vec<(u16, i64)> = answer.sources.iter().map(|s| (s.n, s.chunk_id.unwrap())).collect();
    assert_eq!(kept, sources);
    assert_eq!(kept.len(), 2);
    for c in &r.candidates {
        match c.verdict {
            Verdict::Kept { .. } => assert!(c.relevance >= 0.05),
            Verdict::BelowMinimum => assert!(c.relevance < 0.05, "{c:?}"),
            Verdict::BeyondTopK => assert!(c.relevance >= 0.05, "{c:?}"),
        }
        assert_eq!(c.relevance, c.vector.or(c.keyword).unwrap());
        assert!(c.keyword_rank.is_some() == c.keyword.is_some() && c.vector_rank.is_some() == c.vector.is_some());
    }
    assert!(r.candidates.iter().any(|c| c.verdict == Verdict::BeyondTopK), "{:?}", r.candidates);
    assert!(r.timings.total_ms > 0.0 && r.timings.embed_ms > 0.0 && r.timings.total_ms >= r.timings.fusion_ms);
    // The prompt shown is the one the model received, byte for byte, history included.
    let sent = seen.lock().unwrap().last().cloned().unwrap();
    let prompt = r.prompt.expect("the model was asked");
    assert_eq!(prompt.system, sent.system);
    assert_eq!(prompt.user, sent.grounded_question());
    assert!(prompt.user.contains(question) && prompt.user.contains("[1]"));
    let history: Vec<(Role, String)> = prompt.history.into_iter().map(|t| (t.role, t.text)).collect();
    let sent_history: Vec<(Role, String)> = sent.history.iter().map(|t| (if t.speaker == Speaker::User { Role::User } else { Role::Assistant }, t.text.clone())).collect();
    assert_eq!(history, sent_history);
    assert_eq!(history.len(), 2, "the first question and its answer");
    assert_eq!((trace.answer.provider.as_deref(), trace.answer.finish_reason), (Some("offline"), Some(FinishReason::Stop)));

    // A follow-up is searched joined to the question before, and the trace says what was searched.
    let follow = done(&ask(&s, &conversation.to_string(), "And on weekends?").await);
    let r = trace_of(&call(&s.app, "chat/trace", &[("message_id", &follow.id.to_string())], Some(ORIGIN), Some(&s.cookie)).await).retrieval.unwrap();
    assert_eq!(r.query, format!("{question} And on weekends?"));
    // A follow-up to that follow-up builds on its search, not on "And on weekends?" alone.
    let again = done(&ask(&s, &conversation.to_string(), "And what does it cost?").await);
    let r = trace_of(&call(&s.app, "chat/trace", &[("message_id", &again.id.to_string())], Some(ORIGIN), Some(&s.cookie)).await).retrieval.unwrap();
    assert_eq!(r.query, format!("{question} And on weekends? And what does it cost?"));

    // The fallback: nothing relevant, no model asked, every candidate below the minimum.
    sqlx::query("UPDATE bots SET min_relevance = 0.9").execute(&db).await.unwrap();
    let asked = seen.lock().unwrap().len();
    let fallback = done(&ask(&s, "", "What is the recipe for chocolate cake?").await);
    assert_eq!(fallback.answered, Some(false));
    let trace = trace_of(&call(&s.app, "chat/trace", &[("message_id", &fallback.id.to_string())], Some(ORIGIN), Some(&s.cookie)).await);
    let r = trace.retrieval.unwrap();
    assert_eq!(seen.lock().unwrap().len(), asked, "no model was asked");
    assert!(r.prompt.is_none());
    assert!(!r.candidates.is_empty() && r.candidates.iter().all(|c| c.verdict == Verdict::BelowMinimum), "{:?}", r.candidates);

    // Re-run against the current knowledge and settings: with the guide disabled, nothing is found.
    sqlx::query("UPDATE bots SET min_relevance = 0.05").execute(&db).await.unwrap();
    let again = call(&s.app, "chat/trace_rerun", &[("message_id", &answer.id.to_string())], Some(ORIGIN), Some(&s.cookie)).await.json::<RetrievalTrace>();
    assert_eq!(again.candidates.iter().filter(|c| matches!(c.verdict, Verdict::Kept { .. })).count(), 2, "{:?}", again.candidates);
    assert_eq!(again.query, question);
    sqlx::query("UPDATE documents SET enabled = false").execute(&db).await.unwrap();
    let again = call(&s.app, "chat/trace_rerun", &[("message_id", &answer.id.to_string())], Some(ORIGIN), Some(&s.cookie)).await.json::<RetrievalTrace>();
    assert!(again.candidates.is_empty(), "{:?}", again.candidates);
    // The stored trace is what the answer saw then, not now.
    let stored = trace_of(&call(&s.app, "chat/trace", &[("message_id", &answer.id.to_string())], Some(ORIGIN), Some(&s.cookie)).await);
    assert_eq!(stored.retrieval.unwrap().candidates.iter().filter(|c| matches!(c.verdict, Verdict::Kept { .. })).count(), 2);
}

/// Streams a word every 20 ms until dropped, and says when it was dropped.
struct Endless(Arc<AtomicBool>);

struct SetOnDrop(Arc<AtomicBool>);
impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

impl Llm for Endless {
    fn provider(&self) -> &str {
        "offline"
    }
    fn stream(&self, _: LlmRequest) -> LlmStream {
        let guard = SetOnDrop(self.0.clone());
        Box::pin(futures::stream::unfold(guard, |guard| async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            Some((Ok(LlmEvent::Text("word ".into())), guard))
        }))
    }
}

async fn wait_until_finished(db: &PgPool, answer: Uuid) -> (String, Option<String>, String) {
    for _ in 0..200 {
        let row: (String, Option<String>, String) = sqlx::query_as("SELECT status, finish_reason, content FROM messages WHERE id = $1").bind(answer).fetch_one(db).await.unwrap();
        if row.0 != "streaming" {
            return row;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the answer never finished");
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn stop_and_a_closed_connection_both_stop_the_model_and_keep_what_was_written(db: PgPool) {
    let dropped = Arc::new(AtomicBool::new(false));
    let mut providers = common::providers(&db);
    providers.llms = vec![Arc::new(Endless(dropped.clone()))];
    let s = owner_with_knowledge(&db, app_with(db.clone(), common::settings(), providers)).await;

    // Stop pressed after three words.
    let (_, mut stream) = open(&s.app, "chat/send", &[("bot_id", &s.bot), ("conversation_id", ""), ("text", "When do ferries leave?")], &s.cookie).await;
    let mut words = 0;
    let events = read_events(&mut stream, |e| {
        words += matches!(e, ChatEvent::Delta { .. }) as usize;
        words == 3
    })
    .await;
    let (conversation, answer) = started(&events);
    let stopped = call(&s.app, "chat/stop", &[("message_id", &answer.to_string())], Some(ORIGIN), Some(&s.cookie)).await;
    assert_eq!(stopped.body, "true");
    let rest = read_events(&mut stream, |_| false).await;
    let kept = done(&rest);
    assert_eq!(kept.finish_reason, Some(FinishReason::Cancelled));
    assert_eq!(kept.status, MessageStatus::Complete);
    assert!(kept.content.starts_with("word word word"), "what was written is kept: {:?}", kept.content);
    assert!(dropped.load(Ordering::SeqCst), "the model's stream was dropped");

    // The browser goes away mid-answer.
    dropped.store(false, Ordering::SeqCst);
    let (_, mut stream) = open(&s.app, "chat/send", &[("bot_id", &s.bot), ("conversation_id", &conversation.to_string()), ("text", "And on Sundays?")], &s.cookie).await;
    let mut words = 0;
    let events = read_events(&mut stream, |e| {
        words += matches!(e, ChatEvent::Delta { .. }) as usize;
        words == 2
    })
    .await;
    let (_, answer) = started(&events);
    drop(stream);
    let (status, finish, content) = wait_until_finished(&db, answer).await;
    assert_eq!((status.as_str(), finish.as_deref()), ("complete", Some("cancelled")));
    assert!(content.starts_with("word word"));
    assert!(dropped.load(Ordering::SeqCst), "the model's stream was dropped");

    // Nobody else can stop an answer.
    let (_, mut stream) = open(&s.app, "chat/send", &[("bot_id", &s.bot), ("conversation_id", ""), ("text", "Ferries?")], &s.cookie).await;
    let events = read_events(&mut stream, |e| matches!(e, ChatEvent::Delta { .. })).await;
    let (_, answer) = started(&events);
    let mallory = sign_up(&s.app, "mallory@example.com").await;
    let refused = call(&s.app, "chat/stop", &[("message_id", &answer.to_string())], Some(ORIGIN), Some(&mallory)).await;
    assert_eq!(refused.body, "false");
    let more = read_events(&mut stream, |e| matches!(e, ChatEvent::Delta { .. })).await;
    assert!(!more.is_empty(), "the answer goes on");
}

/// A generative model that answers questions (requests with passages) but never replies to a
/// request to rewrite a follow-up (none), and says when that request was dropped.
struct StallsOnRewrite(Arc<AtomicBool>);

impl Llm for StallsOnRewrite {
    fn provider(&self) -> &str {
        "offline"
    }
    fn rewrites_questions(&self) -> bool {
        true
    }
    fn stream(&self, request: LlmRequest) -> LlmStream {
        if !request.passages.is_empty() {
            return Box::pin(futures::stream::iter(vec![Ok(LlmEvent::Text("Every hour [1].".into())), Ok(LlmEvent::Finish(FinishReason::Stop))]));
        }
        let guard = SetOnDrop(self.0.clone());
        Box::pin(futures::stream::unfold(guard, |_guard| futures::future::pending()))
    }
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn stop_ends_an_answer_whose_follow_up_is_still_being_rewritten(db: PgPool) {
    let dropped = Arc::new(AtomicBool::new(false));
    let mut providers = common::providers(&db);
    providers.llms = vec![Arc::new(StallsOnRewrite(dropped.clone()))];
    // The rewrite's own deadline is far beyond the test's patience: only Stop can end it.
    let mut settings = common::settings();
    settings.chat.rewrite_timeout_ms = 3_600_000;
    let s = owner_with_knowledge(&db, app_with(db.clone(), settings, providers)).await;
    let first = ask(&s, "", "When do ferries leave?").await;
    let (conversation, _) = started(&first);
    assert_eq!(done(&first).content, "Every hour [1].");

    let (_, mut stream) = open(&s.app, "chat/send", &[("bot_id", &s.bot), ("conversation_id", &conversation.to_string()), ("text", "And on Sundays?")], &s.cookie).await;
    let events = read_events(&mut stream, |e| matches!(e, ChatEvent::Started { .. })).await;
    let (_, answer) = started(&events);
    let stopped = call(&s.app, "chat/stop", &[("message_id", &answer.to_string())], Some(ORIGIN), Some(&s.cookie)).await;
    assert_eq!(stopped.body, "true");
    let rest = tokio::time::timeout(Duration::from_secs(120), read_events(&mut stream, |_| false))
        .await
        .expect("Stop ended the answer while its question was being rewritten");
    let kept = done(&rest);
    assert_eq!((kept.finish_reason, kept.status, kept.content.as_str()), (Some(FinishReason::Cancelled), MessageStatus::Complete, ""));
    assert!(!rest.iter().any(|e| matches!(e, ChatEvent::Delta { .. })), "no words after Stop: {rest:?}");
    assert!(dropped.load(Ordering::SeqCst), "the rewrite request was dropped");
    // The question stays; the stopped answer asked the model nothing more.
    let (status, finish): (String, Option<String>) = sqlx::query_as("SELECT status, finish_reason FROM messages WHERE id = $1").bind(answer).fetch_one(&db).await.unwrap();
    assert_eq!((status.as_str(), finish.as_deref()), ("complete", Some("cancelled")));
}

/// Fails the first request the way an overloaded provider does, then answers.
struct FailsOnce(AtomicUsize);

impl Llm for FailsOnce {
    fn provider(&self) -> &str {
        "offline"
    }
    fn stream(&self, _: LlmRequest) -> LlmStream {
        if self.0.fetch_add(1, Ordering::SeqCst) == 0 {
            return Box::pin(futures::stream::iter(vec![Err(LlmError::Unavailable("The model is overloaded; try again in a minute.".into()))]));
        }
        Box::pin(futures::stream::iter(vec![Ok(LlmEvent::Text("Every hour [1].".into())), Ok(LlmEvent::Finish(FinishReason::Stop))]))
    }
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn a_failed_answer_keeps_the_question_and_a_retry_replaces_it(db: PgPool) {
    let mut providers: Providers = common::providers(&db);
    providers.llms = vec![Arc::new(FailsOnce(AtomicUsize::new(0)))];
    let s = owner_with_knowledge(&db, app_with(db.clone(), common::settings(), providers)).await;
    let events = ask(&s, "", "When do ferries leave?").await;
    let (conversation, _) = started(&events);
    let failed = done(&events);
    assert_eq!(failed.status, MessageStatus::Failed);
    assert_eq!(failed.error.as_deref(), Some("The model is overloaded; try again in a minute."));
    // The question and its answer row are stored by one statement; the answer still comes after.
    let roles: Vec<String> = sqlx::query_scalar("SELECT role FROM messages ORDER BY position").fetch_all(&db).await.unwrap();
    assert_eq!(roles, ["user", "assistant"]);

    let (status, mut stream) = open(&s.app, "chat/regenerate", &[("conversation_id", &conversation.to_string())], &s.cookie).await;
    assert!(status.is_success());
    let retried = done(&read_events(&mut stream, |_| false).await);
    assert_eq!((retried.status, retried.content.as_str()), (MessageStatus::Complete, "Every hour [1]."));
    let rows: Vec<(String, String)> = sqlx::query_as("SELECT role, content FROM messages ORDER BY position").fetch_all(&db).await.unwrap();
    assert_eq!(rows, vec![("user".into(), "When do ferries leave?".into()), ("assistant".into(), "Every hour [1].".into())]);

    // A question refused before anything is saved says why, at the field.
    let (status, mut stream) = open(&s.app, "chat/send", &[("bot_id", &s.bot), ("conversation_id", ""), ("text", "   ")], &s.cookie).await;
    assert!(!status.is_success());
    let body = String::from_utf8(stream.next().await.unwrap().unwrap().to_vec()).unwrap();
    assert!(body.contains("Write a question first."), "{body}");
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn feedback_and_exports_keep_the_whole_conversation(db: PgPool) {
    let s = owner_with_knowledge(&db, app(db.clone())).await;
    let events = ask(&s, "", "When does the harbour office close?").await;
    let (conversation, answer) = started(&events);
    let rated = call(&s.app, "chat/rate", &[("message_id", &answer.to_string()), ("rating", "-1"), ("comment", "Missing Saturday hours")], Some(ORIGIN), Some(&s.cookie)).await;
    assert!(rated.status.is_success(), "{}", rated.body);
    let stored: (Option<i16>, Option<String>) = sqlx::query_as("SELECT feedback, feedback_comment FROM messages WHERE id = $1").bind(answer).fetch_one(&db).await.unwrap();
    assert_eq!(stored, (Some(-1), Some("Missing Saturday hours".into())));
    let bad = call(&s.app, "chat/rate", &[("message_id", &answer.to_string()), ("rating", "5"), ("comment", "")], Some(ORIGIN), Some(&s.cookie)).await;
    assert!(bad.body.contains("thumb"), "{}", bad.body);

    let renamed = call(&s.app, "chat/rename", &[("conversation_id", &conversation.to_string()), ("title", "Office hours")], Some(ORIGIN), Some(&s.cookie)).await;
    assert!(renamed.body.contains("Office hours"));

    let md = call(&s.app, "chat/export", &[("conversation_id", &conversation.to_string()), ("format", "markdown")], Some(ORIGIN), Some(&s.cookie)).await;
    let md: chatsphere::features::chat::ExportFile = serde_json::from_str(&md.body).unwrap();
    assert_eq!(md.filename, "office-hours.md");
    for expected in ["# Office hours", "## You", "When does the harbour office close?", "closes at 6 pm", "Sources:", "guide.md", "👎 Missing Saturday hours"] {
        assert!(md.body.contains(expected), "{expected} missing from\n{}", md.body);
    }
    let json = call(&s.app, "chat/export", &[("conversation_id", &conversation.to_string()), ("format", "json")], Some(ORIGIN), Some(&s.cookie)).await;
    let json: chatsphere::features::chat::ExportFile = serde_json::from_str(&json.body).unwrap();
    let parsed: serde_json::Value = serde_json::from_str(&json.body).unwrap();
    assert_eq!(parsed["conversation"]["messages"].as_array().unwrap().len(), 2);
    assert_eq!(parsed["conversation"]["messages"][1]["feedback"], -1);
    assert!(parsed["conversation"]["messages"][1]["sources"][0]["chunk_id"].is_i64());
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn another_user_cannot_read_post_to_export_or_delete_a_conversation(db: PgPool) {
    let s = owner_with_knowledge(&db, app(db.clone())).await;
    let events = ask(&s, "", "When does the harbour office close?").await;
    let (conversation, answer) = started(&events);
    let (c, a) = (conversation.to_string(), answer.to_string());
    let mallory = sign_up(&s.app, "mallory@example.com").await;
    let mallory_bot = call(&s.app, "bots/create", &[("name", "Mine")], Some(ORIGIN), Some(&mallory)).await;
    let mallory_bot = serde_json::from_str::<serde_json::Value>(&mallory_bot.body).unwrap()["public_id"].as_str().unwrap().to_owned();

    let attempts: Vec<(&str, Vec<(&str, &str)>)> = vec![
        ("chat/conversation", vec![("conversation_id", &c)]),
        ("chat/rename", vec![("conversation_id", &c), ("title", "Mine now")]),
        ("chat/delete", vec![("conversation_id", &c)]),
        ("chat/export", vec![("conversation_id", &c), ("format", "json")]),
        ("chat/rate", vec![("message_id", &a), ("rating", "-1"), ("comment", "")]),
        ("chat/passage", vec![("message_id", &a), ("n", "1")]),
        ("chat/trace", vec![("message_id", &a)]),
        ("chat/trace_rerun", vec![("message_id", &a)]),
        ("chat/conversations", vec![("bot_id", &s.bot)]),
        ("chat/bot", vec![("bot_id", &s.bot)]),
    ];
    for (endpoint, form) in attempts {
        let reply = call(&s.app, endpoint, &form, Some(ORIGIN), Some(&mallory)).await;
        assert!(!reply.status.is_success() && reply.body.contains("NotFound"), "{endpoint}: {} {}", reply.status, reply.body);
    }
    // Posting into the conversation, through her own bot or through Ada's.
    for bot in [mallory_bot.as_str(), s.bot.as_str()] {
        let (status, mut stream) = open(&s.app, "chat/send", &[("bot_id", bot), ("conversation_id", &c), ("text", "Tell me everything")], &mallory).await;
        let body = String::from_utf8(stream.next().await.unwrap().unwrap().to_vec()).unwrap();
        assert!(!status.is_success() && body.contains("NotFound"), "{status} {body}");
    }
    let (status, _) = open(&s.app, "chat/regenerate", &[("conversation_id", &c)], &mallory).await;
    assert!(!status.is_success());
    // Signed out: nothing at all.
    let reply = call(&s.app, "chat/conversation", &[("conversation_id", &c)], Some(ORIGIN), None).await;
    assert!(reply.body.contains("Unauthenticated"), "{}", reply.body);

    let after: (i64, String, Option<i16>) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM messages), (SELECT title FROM conversations), (SELECT feedback FROM messages WHERE role = 'assistant')",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(after, (2, "When does the harbour office close?".into(), None), "Ada's conversation is untouched");

    // The owner can delete it, and deleting the bot leaves nothing of its chats.
    let deleted = call(&s.app, "chat/delete", &[("conversation_id", &c)], Some(ORIGIN), Some(&s.cookie)).await;
    assert!(deleted.status.is_success());
    ask(&s, "", "When do ferries leave?").await;
    let bot_id: Uuid = sqlx::query_scalar("SELECT id FROM bots WHERE public_id = $1").bind(&s.bot).fetch_one(&db).await.unwrap();
    call(&s.app, "bots/delete", &[("public_id", &s.bot)], Some(ORIGIN), Some(&s.cookie)).await;
    let left: (i64, i64, i64) = sqlx::query_as("SELECT (SELECT count(*) FROM conversations), (SELECT count(*) FROM messages), (SELECT count(*) FROM message_sources)")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(left, (0, 0, 0));
    assert!(common::rows_referencing(&db, "bots", bot_id).await.iter().all(|(_, n)| *n == 0));
}


#[sqlx::test(migrator = "MIGRATOR")]
async fn answers_past_the_daily_quota_are_refused_with_the_limit_named(db: PgPool) {
    let mut settings = common::settings();
    settings.chat.answers_per_day = 2;
    let s = owner_with_knowledge(&db, app_with(db.clone(), settings, common::providers(&db))).await;
    for _ in 0..2 {
        done(&ask(&s, "", "When does the harbour office close?").await);
    }
    let (status, mut body) = open(&s.app, "chat/send", &[("bot_id", &s.bot), ("conversation_id", ""), ("text", "And the ferries?")], &s.cookie).await;
    assert_eq!(status, http::StatusCode::TOO_MANY_REQUESTS);
    let mut text = String::new();
    while let Some(chunk) = body.next().await {
        text.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
    }
    assert!(text.contains("2 answers in the last 24 hours"), "{text}");
    let questions: i64 = sqlx::query_scalar("SELECT count(*) FROM messages WHERE role = 'user'").fetch_one(&db).await.unwrap();
    assert_eq!(questions, 2, "the refused question left no trace");
}
