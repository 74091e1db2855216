//! The whole product on the cloud providers, against the fake services: a bot on Gemini
//! (chat and embeddings) and Pinecone ingests, answers with citations, keeps each bot in its
//! own namespace, honours disabled documents, and cleans Pinecone up when documents and bots
//! go; Pinecone's limits, freshness and failures are handled; and switching a bot's
//! embedding model re-indexes it in the background while the old index keeps answering.

mod common;

use chatsphere_fakes::gemini::{FakeGemini, Reply};
use chatsphere_fakes::openai::{self, FakeOpenAi};
use chatsphere_fakes::pinecone::FakePinecone;
use chatsphere::features::bots::server as bots;
use chatsphere::features::chat::{ChatEvent, FinishReason, QueryRewrite};
use chatsphere::features::knowledge::server::store::{self as documents, NewDocument};
use chatsphere::features::knowledge::server::{reindex, worker};
use chatsphere::features::bots::ModelChoice;
use chatsphere::providers::retry::Backoff;
use chatsphere::providers::vectors::pinecone::{PineconeConfig, PineconeStore};
use chatsphere::providers::vectors::{outbox, VectorError, VectorRecord, VectorStore};
use chatsphere::providers::Providers;
use chatsphere::server::db::MIGRATOR;
use chatsphere::server::settings::{Secrets, Settings};
use chatsphere::features::knowledge::server::settings::KnowledgeSettings;
use common::{call, encode, ORIGIN};
use futures::StreamExt;
use http::{header, Request};
use serde_json::json;
use sqlx::PgPool;
use std::time::{Duration, Instant};
use tower::ServiceExt;
use uuid::Uuid;

const GEMINI_KEY: &str = "g-key";
const PINECONE_KEY: &str = "p-key";
const GEMINI_SPACE: &str = "gemini/gemini-embedding-001@768";
const INDEX: &str = "chatsphere-gemini-gemini-embedding-001-768";

const HARBOUR: &str = "# Harbour office\nBerth fees are paid at the harbour office. The harbour office closes at 6 pm on weekdays.\n\n\
# Ferries\nFerries to the island leave every hour from the northern quay.\n";
const BAKERY: &str = "# Bakery\nThe bakery sells sourdough loaves baked at dawn. Croissants are sold out by ten.\n";

struct Cloud {
    gemini: FakeGemini,
    pinecone: FakePinecone,
    settings: Settings,
    providers: Providers,
    app: axum::Router,
}

/// The app wired the way a deployment on Gemini + Pinecone is, through its configuration.
async fn cloud(db: &PgPool) -> Cloud {
    cloud_with(db, |_, _| ()).await
}

/// `cloud`, with its configuration changed by `adjust` before the providers are made.
async fn cloud_with(db: &PgPool, adjust: impl FnOnce(&mut Settings, &mut Secrets)) -> Cloud {
    let gemini = FakeGemini::start(GEMINI_KEY, 0).await.unwrap();
    let pinecone = FakePinecone::start(PINECONE_KEY, 0).await.unwrap();
    let mut settings = common::settings();
    settings.gemini.base_url = gemini.base_url();
    settings.gemini.retry_base_ms = 10;
    settings.gemini.retry_cap_ms = 50;
    settings.embeddings.provider = "gemini".into();
    settings.vectors.provider = "pinecone".into();
    settings.pinecone.control_url = pinecone.control_url();
    settings.pinecone.retry_base_ms = 10;
    settings.pinecone.retry_cap_ms = 50;
    settings.pinecone.poll_ms = 20;
    settings.llm.models.insert(0, ModelChoice { provider: "gemini".into(), model: "gemini-2.5-flash".into(), label: "Gemini 2.5 Flash".into(), ..Default::default() });
    settings.llm.models.push(ModelChoice { provider: "openai".into(), model: "gpt-4o-mini".into(), label: "not set up".into(), ..Default::default() });
    let mut secrets = Secrets { gemini_api_key: Some(GEMINI_KEY.into()), pinecone_api_key: Some(PINECONE_KEY.into()), openai_api_key: None, smtp_login: None };
    adjust(&mut settings, &mut secrets);
    let providers = Providers::from_settings(&settings, &secrets, db.clone()).unwrap();
    let app = common::app_with(db.clone(), settings.clone(), providers.clone());
    Cloud { gemini, pinecone, settings, providers, app }
}

struct Owner {
    id: Uuid,
    cookie: String,
    bot: String,
    bot_id: Uuid,
}

async fn owner(c: &Cloud, db: &PgPool, email: &str) -> Owner {
    let reply = call(&c.app, "auth/sign_up", &[("email", email), ("display_name", "X"), ("password", "correct horse battery")], Some(ORIGIN), None).await;
    let cookie = reply.session_cookie().expect("signed up");
    let created = call(&c.app, "bots/create", &[("name", "Harbour")], Some(ORIGIN), Some(&cookie)).await;
    let bot = serde_json::from_str::<serde_json::Value>(&created.body).unwrap()["public_id"].as_str().unwrap().to_owned();
    let (id, bot_id): (Uuid, Uuid) = sqlx::query_as("SELECT owner_id, id FROM bots WHERE public_id = $1").bind(&bot).fetch_one(db).await.unwrap();
    Owner { id, cookie, bot, bot_id }
}

async fn ingest(c: &Cloud, db: &PgPool, o: &Owner, name: &str, text: &str) -> Uuid {
    let doc = NewDocument { name, source: "upload", mime: "text/markdown", bytes: text.as_bytes().to_vec() };
    let (doc, _) = documents::add(db, o.id, &o.bot, doc).await.unwrap();
    let knowledge = KnowledgeSettings { chunk_tokens: 40, chunk_overlap_tokens: 0, ..common::knowledge_settings() };
    while worker::run_once(db, &knowledge, &c.providers, "test").await.unwrap() {}
    drain_outbox(c, db).await; // as the workers' loop does next
    let (status, error): (String, Option<String>) = sqlx::query_as("SELECT status, error FROM documents WHERE id = $1").bind(doc.id).fetch_one(db).await.unwrap();
    assert_eq!(status, "ready", "{error:?}");
    doc.id
}

async fn ask(c: &Cloud, o: &Owner, question: &str) -> (String, Vec<ChatEvent>) {
    ask_in(c, o, "", question).await
}

/// `ask` in a conversation ("" starts one).
async fn ask_in(c: &Cloud, o: &Owner, conversation: &str, question: &str) -> (String, Vec<ChatEvent>) {
    let body = [("bot_id", o.bot.as_str()), ("conversation_id", conversation), ("text", question)].iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect::<Vec<_>>().join("&");
    let request = Request::post("/api/chat/send")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::HOST, "127.0.0.1:3000")
        .header(header::ORIGIN, ORIGIN)
        .header(header::COOKIE, &o.cookie)
        .body(axum::body::Body::from(body))
        .unwrap();
    let response = c.app.clone().oneshot(request).await.unwrap();
    assert!(response.status().is_success());
    let mut stream = response.into_body().into_data_stream();
    let (mut buffer, mut events, mut text) = (String::new(), Vec::new(), String::new());
    while let Some(chunk) = stream.next().await {
        buffer.push_str(&String::from_utf8(chunk.unwrap().to_vec()).unwrap());
        for event in ChatEvent::drain_lines(&mut buffer) {
            if let ChatEvent::Delta { text: t } = &event {
                text.push_str(t);
            }
            events.push(event);
        }
    }
    (text, events)
}

fn answer(events: &[ChatEvent]) -> chatsphere::features::chat::MessageView {
    match events.last() {
        Some(ChatEvent::Done { answer }) => answer.clone(),
        other => panic!("no Done: {other:?}"),
    }
}


#[sqlx::test(migrator = "MIGRATOR")]
async fn a_bot_on_gemini_and_pinecone_answers_with_citations_from_its_own_namespace(db: PgPool) {
    let c = cloud(&db).await;
    let ada = owner(&c, &db, "ada@example.com").await;
    let bob = owner(&c, &db, "bob@example.com").await;
    // New bots get the configured defaults; a model whose provider is not set up is not offered.
    let bot = bots::get(&db, ada.id, &ada.bot).await.unwrap();
    assert_eq!((bot.settings.llm_provider.as_str(), bot.settings.embedding_model.as_str(), bot.index.live.as_str()), ("gemini", GEMINI_SPACE, GEMINI_SPACE));
    assert!(!c.providers.models.iter().any(|m| m.provider == "openai"));

    ingest(&c, &db, &ada, "guide.md", HARBOUR).await;
    ingest(&c, &db, &bob, "bakery.md", BAKERY).await;
    assert_eq!(c.pinecone.index_names(), [INDEX], "one index, created on first use and waited for");
    let mut spaces = c.pinecone.namespaces(INDEX);
    spaces.sort();
    let mut want = vec![format!("bot-{}", ada.bot_id), format!("bot-{}", bob.bot_id)];
    want.sort();
    assert_eq!(spaces, want, "one namespace per bot");
    let ids = c.pinecone.ids(INDEX, &format!("bot-{}", ada.bot_id));
    assert!(!ids.is_empty() && ids.iter().all(|id| id.contains("#1#0000")), "{{document}}#{{generation}}#{{ordinal:05}}: {ids:?}");
    let embed_calls: Vec<_> = c.gemini.requests().into_iter().filter(|r| r.method == "batchEmbedContents").collect();
    assert_eq!(embed_calls[0].body["requests"][0]["taskType"], "RETRIEVAL_DOCUMENT");

    let before = c.pinecone.queried().len();
    let (text, events) = ask(&c, &ada, "When does the harbour office close?").await;
    // The fake model quotes the first sentence of passage [1]; that passage is the harbour office one.
    assert_eq!(text, format!("According to the documents, {} [1]", first_sentence(&events)));
    assert!(text.contains("harbour office"), "{text}");
    let done = answer(&events);
    assert_eq!(done.finish_reason, Some(FinishReason::Stop));
    assert_eq!((done.provider.as_deref(), done.model.as_deref()), (Some("gemini"), Some("gemini-2.5-flash")));
    assert!(done.sources[0].text.contains("harbour office"), "{:?}", done.sources);
    assert!(done.tokens_in.unwrap_or(0) > 0 && done.tokens_out.unwrap_or(0) > 0, "Gemini's usage is kept");
    let queried = c.pinecone.queried();
    assert!(queried.len() > before);
    assert!(queried[before..].iter().all(|(_, ns)| *ns == format!("bot-{}", ada.bot_id)), "only Ada's namespace was searched: {queried:?}");
    let generate = c.gemini.requests().into_iter().rfind(|r| r.method == "streamGenerateContent").unwrap();
    let prompt = generate.body["contents"][0]["parts"][0]["text"].as_str().unwrap().to_owned();
    assert!(prompt.contains("harbour office") && !prompt.contains("bakery"), "{prompt}");
    // "Why this answer?" shows Ada the prompt exactly as Gemini received it, and Gemini's usage.
    let trace = call(&c.app, "chat/trace", &[("message_id", &done.id.to_string())], Some(ORIGIN), Some(&ada.cookie)).await.json::<chatsphere::features::chat::AnswerTrace>();
    let shown = trace.retrieval.and_then(|r| r.prompt).expect("the prompt is in the trace");
    assert_eq!(shown.user, prompt, "byte for byte");
    assert_eq!(Some(shown.system.as_str()), generate.body["systemInstruction"]["parts"][0]["text"].as_str());
    assert!(shown.history.is_empty() && generate.body["contents"].as_array().unwrap().len() == 1);
    assert_eq!((trace.answer.tokens_in, trace.answer.tokens_out), (done.tokens_in, done.tokens_out));
    let bobs = call(&c.app, "chat/trace", &[("message_id", &done.id.to_string())], Some(ORIGIN), Some(&bob.cookie)).await;
    assert!(bobs.status == http::StatusCode::NOT_FOUND && bobs.body.contains("NotFound"), "{} {}", bobs.status, bobs.body);
    let query_embedding = c.gemini.requests().into_iter().rfind(|r| r.method == "batchEmbedContents").unwrap();
    assert_eq!(query_embedding.body["requests"][0]["taskType"], "RETRIEVAL_QUERY");
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn gemini_rewrites_a_follow_up_before_it_is_searched_and_a_failed_rewrite_falls_back(db: PgPool) {
    let c = cloud(&db).await;
    let ada = owner(&c, &db, "ada@example.com").await;
    ingest(&c, &db, &ada, "guide.md", HARBOUR).await;
    let start = || async {
        let (_, events) = ask(&c, &ada, "Where are berth fees paid?").await;
        let Some(ChatEvent::Started { conversation, .. }) = events.first() else { panic!("{events:?}") };
        conversation.id.to_string()
    };
    let conversation = start().await;
    let trace_of = |id: Uuid| {
        let (app, cookie) = (c.app.clone(), ada.cookie.clone());
        async move {
            let reply = call(&app, "chat/trace", &[("message_id", &id.to_string())], Some(ORIGIN), Some(&cookie)).await;
            serde_json::from_str::<chatsphere::features::chat::AnswerTrace>(&reply.body).unwrap().retrieval.unwrap()
        }
    };

    // A follow-up: the model is asked for a standalone question first, with the conversation.
    c.gemini.script([Reply::text(&["When does the ", "harbour office close?"])]);
    let before = c.gemini.requests().len();
    let (text, events) = ask_in(&c, &ada, &conversation, "And when does it close?").await;
    let calls: Vec<_> = c.gemini.requests()[before..].iter().filter(|r| r.method == "streamGenerateContent").cloned().collect();
    assert_eq!(calls.len(), 2, "the rewrite, then the answer");
    let rules = calls[0].body["systemInstruction"]["parts"][0]["text"].as_str().unwrap();
    assert!(rules.contains("standalone question"), "{rules}");
    let turns = calls[0].body["contents"].as_array().unwrap();
    assert!(turns.len() == 3 && text_of(&turns[0]).contains("berth fees") && text_of(&turns[2]) == "And when does it close?", "{turns:?}");
    let done = answer(&events);
    let searched: String = sqlx::query_scalar("SELECT retrieval_query FROM messages WHERE id = $1").bind(done.id).fetch_one(&db).await.unwrap();
    assert_eq!(searched, "When does the harbour office close?");
    assert!(done.sources[0].text.contains("closes at 6 pm"), "the rewritten question found the closing time: {text} {:?}", done.sources);
    let trace = trace_of(done.id).await;
    let Some(QueryRewrite::Model { provider, tokens_in: Some(rewrite_in), tokens_out: Some(rewrite_out), .. }) = trace.rewrite.clone() else {
        panic!("{:?}", trace.rewrite)
    };
    assert_eq!(provider, "gemini");
    assert_eq!(trace.query, searched);
    // The rewrite's tokens are in the answer's usage (and so in its cost): the fake counts a
    // call's input as its last turn's characters / 4 + 1.
    let input = |call: &chatsphere_fakes::gemini::Recorded| text_of(call.body["contents"].as_array().unwrap().last().unwrap()).len() as i32 / 4 + 1;
    assert_eq!(rewrite_in as i32, input(&calls[0]));
    assert_eq!(done.tokens_in, Some(input(&calls[0]) + input(&calls[1])), "{done:?}");
    assert!(rewrite_out > 0 && done.tokens_out.unwrap() > rewrite_out as i32, "{done:?}");

    // The model failing (a refused request) or answering instead of rewriting: the follow-up
    // is searched joined to the question before, and the answer still comes.
    for reply in [Reply::Error { status: 400, body: json!({"error": {"code": 400, "message": "Bad request", "status": "INVALID_ARGUMENT"}}) }, Reply::text(&["It closes at 6 pm.\n", "Anything else?"])] {
        let conversation = start().await;
        c.gemini.script([reply]);
        let (_, events) = ask_in(&c, &ada, &conversation, "And when does it close?").await;
        let done = answer(&events);
        assert_eq!(done.finish_reason, Some(FinishReason::Stop), "{done:?}");
        let trace = trace_of(done.id).await;
        assert_eq!(trace.query, "Where are berth fees paid? And when does it close?");
        assert!(matches!(&trace.rewrite, Some(QueryRewrite::Joined { reason: Some(_) })), "{:?}", trace.rewrite);
    }

    // A question that stands on its own is not sent for rewriting.
    let before = c.gemini.requests().len();
    ask_in(&c, &ada, &conversation, "How often do ferries leave for the island?").await;
    assert_eq!(c.gemini.requests()[before..].iter().filter(|r| r.method == "streamGenerateContent").count(), 1);
}

fn text_of(content: &serde_json::Value) -> String {
    content["parts"].as_array().into_iter().flatten().filter_map(|p| p["text"].as_str()).collect()
}

fn first_sentence(events: &[ChatEvent]) -> String {
    let done = answer(events);
    let text = &done.sources[0].text;
    text.split_inclusive(['.', '!', '?']).next().unwrap_or(text).trim().to_owned()
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn pinecone_follows_disabled_and_deleted_documents_and_deleted_bots(db: PgPool) {
    let c = cloud(&db).await;
    let ada = owner(&c, &db, "ada@example.com").await;
    let guide = ingest(&c, &db, &ada, "guide.md", HARBOUR).await;
    let ns = format!("bot-{}", ada.bot_id);

    documents::set_enabled(&db, ada.id, guide, false).await.unwrap();
    let (_, events) = ask(&c, &ada, "When does the harbour office close?").await;
    assert_eq!(answer(&events).finish_reason, Some(FinishReason::NotInKnowledge), "a disabled document is never used");
    documents::set_enabled(&db, ada.id, guide, true).await.unwrap();

    // Pinecone is down when the document is deleted: the deletion waits in the outbox (the
    // document is gone from PostgreSQL at once) and is carried out once Pinecone is back.
    c.pinecone.fail_next(&vec![503; c.settings.pinecone.max_attempts as usize]); // every try of one outbox run
    let deleted = call(&c.app, "knowledge/delete", &[("id", &guide.to_string())], Some(ORIGIN), Some(&ada.cookie)).await;
    assert!(deleted.status.is_success(), "{}", deleted.body);
    assert!(outbox::run_once(&db, &c.providers.vectors).await.unwrap(), "the deletion was queued");
    let (attempts, error): (i32, Option<String>) = sqlx::query_as("SELECT attempts, last_error FROM vector_deletions").fetch_one(&db).await.unwrap();
    assert_eq!(attempts, 1);
    assert!(error.is_some_and(|e| !e.is_empty()), "the failure is recorded");
    assert!(!c.pinecone.ids(INDEX, &ns).is_empty(), "Pinecone was unreachable");
    assert!(!outbox::run_once(&db, &c.providers.vectors).await.unwrap(), "not retried before its backoff");
    sqlx::query("UPDATE vector_deletions SET run_after = now()").execute(&db).await.unwrap();
    drain_outbox(&c, &db).await;
    assert!(c.pinecone.ids(INDEX, &ns).is_empty(), "the document's vectors are gone");

    ingest(&c, &db, &ada, "guide.md", HARBOUR).await;
    assert!(!c.pinecone.ids(INDEX, &ns).is_empty());
    let gone = call(&c.app, "bots/delete", &[("public_id", &ada.bot)], Some(ORIGIN), Some(&ada.cookie)).await;
    assert!(gone.status.is_success(), "{}", gone.body);
    drain_outbox(&c, &db).await;
    assert!(!c.pinecone.namespaces(INDEX).contains(&ns), "the bot's namespace is gone");

    // Deleting an account removes the namespaces of all its bots.
    let grace = owner(&c, &db, "grace@example.com").await;
    ingest(&c, &db, &grace, "guide.md", HARBOUR).await;
    let grace_ns = format!("bot-{}", grace.bot_id);
    assert!(c.pinecone.namespaces(INDEX).contains(&grace_ns));
    let closed = call(&c.app, "auth/delete_account", &[("password", "correct horse battery")], Some(ORIGIN), Some(&grace.cookie)).await;
    assert!(closed.status.is_success(), "{}", closed.body);
    drain_outbox(&c, &db).await;
    assert!(!c.pinecone.namespaces(INDEX).contains(&grace_ns), "the account's namespaces are gone");
}

async fn drain_outbox(c: &Cloud, db: &PgPool) {
    while outbox::run_once(db, &c.providers.vectors).await.unwrap() {}
    assert_eq!(outbox::pending(db).await.unwrap(), 0, "every deletion was carried out");
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn a_document_is_ready_only_once_pinecone_can_find_it_and_busy_calls_are_retried(db: PgPool) {
    let c = cloud(&db).await;
    let ada = owner(&c, &db, "ada@example.com").await;
    ingest(&c, &db, &ada, "bakery.md", BAKERY).await; // the index exists now
    c.pinecone.set_lag(Duration::from_millis(400));
    c.pinecone.fail_next(&[429, 503]);
    let started = Instant::now();
    ingest(&c, &db, &ada, "guide.md", HARBOUR).await;
    assert!(started.elapsed() >= Duration::from_millis(400), "ready waited for the writes to be indexed ({:?})", started.elapsed());
    // Straight after "ready", without waiting, the new passages are found.
    let (_, events) = ask(&c, &ada, "When does the harbour office close?").await;
    let done = answer(&events);
    assert_eq!(done.finish_reason, Some(FinishReason::Stop));
    assert!(done.sources.iter().any(|s| s.text.contains("6 pm")), "{:?}", done.sources);
    // Found by meaning too, not only by keyword: Pinecone already had the vectors.
    let vector: Option<f32> = sqlx::query_scalar("SELECT vector_score FROM message_sources WHERE message_id = $1 AND text LIKE '%6 pm%'").bind(done.id).fetch_one(&db).await.unwrap();
    assert!(vector.is_some(), "the new passage came back from the vector index");
}

fn store(c: &Cloud, db: &PgPool, key: &str) -> PineconeStore {
    let config = PineconeConfig {
        control_url: c.pinecone.control_url(),
        api_key: key.into(),
        index_prefix: "chatsphere".into(),
        cloud: "aws".into(),
        region: "us-east-1".into(),
        backoff: Backoff::new(3, 10, 40),
        ready_timeout: Duration::from_secs(5),
        freshness_timeout: Duration::from_secs(5),
        poll: Duration::from_millis(20),
    };
    PineconeStore::new(reqwest::Client::new(), config, db.clone())
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn pinecone_upserts_stay_under_its_limits_and_a_bad_key_reads_plainly(db: PgPool) {
    let c = cloud(&db).await;
    let pinecone = store(&c, &db, PINECONE_KEY);
    let (bot, doc) = (Uuid::new_v4(), Uuid::new_v4());
    let records: Vec<VectorRecord> = (0..1500).map(|i| VectorRecord { chunk_id: i, document_id: doc, generation: 1, ordinal: i as i32, vector: (0..768).map(|d| ((i as usize * 7 + d) % 13) as f32 / 13.0 + 0.01).collect() }).collect();
    pinecone.upsert(bot, GEMINI_SPACE, records).await.unwrap();
    let upserts: Vec<_> = c.pinecone.writes().into_iter().filter(|w| w.0 == "/vectors/upsert").collect();
    assert!(upserts.len() >= 2, "{upserts:?}");
    assert!(upserts.iter().all(|(_, bytes, n)| *bytes <= 2 * 1024 * 1024 && *n <= 1000), "{upserts:?}");
    assert_eq!(upserts.iter().map(|w| w.2).sum::<usize>(), 1500);
    assert_eq!(c.pinecone.ids(INDEX, &format!("bot-{bot}")).len(), 1500);

    // A new version's records go in beside the live one's (a crash before the swap leaves the
    // live records whole); retiring the old version after the swap removes it, tail included.
    let shorter: Vec<VectorRecord> = (0..3).map(|i| VectorRecord { chunk_id: i, document_id: doc, generation: 2, ordinal: i as i32, vector: vec![0.5; 768] }).collect();
    pinecone.upsert(bot, GEMINI_SPACE, shorter).await.unwrap();
    assert_eq!(c.pinecone.ids(INDEX, &format!("bot-{bot}")).len(), 1503, "the live version is untouched");
    pinecone.retire_versions(bot, doc, 2).await.unwrap();
    let mut left = c.pinecone.ids(INDEX, &format!("bot-{bot}"));
    left.sort();
    assert_eq!(left, [format!("{doc}#2#00000"), format!("{doc}#2#00001"), format!("{doc}#2#00002")]);

    // Deleting by id prefix: `doc#` never matches another document whose id starts alike.
    pinecone.delete_document(bot, doc).await.unwrap();
    assert!(c.pinecone.ids(INDEX, &format!("bot-{bot}")).is_empty());

    let wrong = store(&c, &db, "wrong-key");
    match wrong.query(bot, GEMINI_SPACE, &[0.1; 768], 3).await {
        Err(VectorError::Permanent(m)) => assert!(m.contains("API key"), "{m}"),
        other => panic!("{other:?}"),
    }
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn the_fake_pinecone_enforces_what_the_real_one_does(db: PgPool) {
    let c = cloud(&db).await;
    let http = reqwest::Client::new();
    let control = c.pinecone.control_url();
    let send = |method: reqwest::Method, url: String, body: Option<serde_json::Value>, key: &str| {
        let mut r = http.request(method, url).header("Api-Key", key).header("X-Pinecone-API-Version", "2025-04");
        if let Some(b) = body {
            r = r.json(&b);
        }
        r.send()
    };
    let index = json!({"name": "idx", "dimension": 4, "metric": "cosine", "spec": {"serverless": {"cloud": "aws", "region": "us-east-1"}}});
    let created = send(reqwest::Method::POST, format!("{control}/indexes"), Some(index.clone()), PINECONE_KEY).await.unwrap();
    assert_eq!(created.status(), 201);
    let created: serde_json::Value = created.json().await.unwrap();
    assert_eq!(created["status"]["ready"], false);
    assert_eq!(send(reqwest::Method::POST, format!("{control}/indexes"), Some(index), PINECONE_KEY).await.unwrap().status(), 409);
    let missing_metric = json!({"name": "idx2", "dimension": 4, "spec": {}});
    assert_eq!(send(reqwest::Method::POST, format!("{control}/indexes"), Some(missing_metric), PINECONE_KEY).await.unwrap().status(), 422);
    assert_eq!(send(reqwest::Method::GET, format!("{control}/indexes/nope"), None, PINECONE_KEY).await.unwrap().status(), 404);
    let mut states = vec![];
    for _ in 0..3 {
        let d: serde_json::Value = send(reqwest::Method::GET, format!("{control}/indexes/idx"), None, PINECONE_KEY).await.unwrap().json().await.unwrap();
        states.push(d["status"]["state"].as_str().unwrap().to_owned());
    }
    assert_eq!(states, ["Initializing", "Initializing", "Ready"]);
    let data = format!("http://{}", created["host"].as_str().unwrap());
    let upsert = |vectors: serde_json::Value| send(reqwest::Method::POST, format!("{data}/vectors/upsert"), Some(json!({"vectors": vectors, "namespace": "a"})), PINECONE_KEY);
    let status = |r: reqwest::Response| r.status().as_u16();
    assert_eq!(status(upsert(json!([{"id": "d#1", "values": [1, 0, 0, 0], "metadata": {"doc": "d", "tags": ["x"]}}])).await.unwrap()), 200);
    assert_eq!(status(upsert(json!([{"id": "d#2", "values": [1, 0, 0]}])).await.unwrap()), 400, "wrong dimension");
    assert_eq!(status(upsert(json!([{"id": "d#2", "values": [0, 0, 0, 0]}])).await.unwrap()), 400, "all zero");
    assert_eq!(status(upsert(json!([{"id": "d#2", "values": [1, 0, 0, 0], "metadata": {"x": null}}])).await.unwrap()), 400, "null metadata");
    assert_eq!(status(upsert(json!([{"id": "d#2", "values": [1, 0, 0, 0], "metadata": {"x": {"y": 1}}}])).await.unwrap()), 400, "nested metadata");
    let big = upsert(json!([{"id": "d#2", "values": [1, 0, 0, 0], "metadata": {"x": "y".repeat(41_000)}}])).await.unwrap();
    assert_eq!(big.status(), 400);
    assert!(big.text().await.unwrap().contains("exceeds the limit of 40960 bytes"));
    let many: Vec<_> = (0..1001).map(|i| json!({"id": format!("m#{i}"), "values": [1, 0, 0, 1]})).collect();
    assert_eq!(status(upsert(json!(many)).await.unwrap()), 400, "over 1,000 records");
    let heavy: Vec<_> = (0..900).map(|i| json!({"id": format!("h#{i}"), "values": [1, 0, 0, 1], "metadata": {"t": "z".repeat(2500)}})).collect();
    let heavy = upsert(json!(heavy)).await.unwrap();
    assert_eq!(heavy.status(), 400);
    assert!(heavy.text().await.unwrap().contains("exceeds the maximum supported size of 2MB"));
    let query = |body: serde_json::Value| send(reqwest::Method::POST, format!("{data}/query"), Some(body), PINECONE_KEY);
    let empty: serde_json::Value = query(json!({"namespace": "never", "topK": 3, "vector": [1, 0, 0, 0]})).await.unwrap().json().await.unwrap();
    assert_eq!(empty["matches"], json!([]));
    assert_eq!(status(query(json!({"namespace": "a", "topK": 10_001, "vector": [1, 0, 0, 0]})).await.unwrap()), 400);
    assert_eq!(status(query(json!({"namespace": "a", "topK": 1, "vector": [1, 0, 0, 0], "id": "d#1"})).await.unwrap()), 400);
    let filtered: serde_json::Value = query(json!({"namespace": "a", "topK": 3, "vector": [1, 0, 0, 0], "filter": {"tags": {"$in": ["x"]}}})).await.unwrap().json().await.unwrap();
    assert_eq!(filtered["matches"][0]["id"], "d#1");
    let excluded: serde_json::Value = query(json!({"namespace": "a", "topK": 3, "vector": [1, 0, 0, 0], "filter": {"doc": {"$nin": ["d"]}}})).await.unwrap().json().await.unwrap();
    assert_eq!(excluded["matches"], json!([]));
    let ids: Vec<String> = (0..1001).map(|i| format!("x#{i}")).collect();
    assert_eq!(status(send(reqwest::Method::POST, format!("{data}/vectors/delete"), Some(json!({"ids": ids, "namespace": "a"})), PINECONE_KEY).await.unwrap()), 400);
    let fetched: serde_json::Value = send(reqwest::Method::GET, format!("{data}/vectors/fetch?ids=d%231&ids=nope&namespace=a"), None, PINECONE_KEY).await.unwrap().json().await.unwrap();
    assert!(fetched["vectors"].get("d#1").is_some() && fetched["vectors"].get("nope").is_none());
    let listed: serde_json::Value = send(reqwest::Method::GET, format!("{data}/vectors/list?namespace=a&prefix=d%23"), None, PINECONE_KEY).await.unwrap().json().await.unwrap();
    assert_eq!(listed["vectors"], json!([{"id": "d#1"}]));
    assert!(listed.get("pagination").is_none(), "no pagination on the last page");
    let unauthorised = send(reqwest::Method::POST, format!("{data}/query"), Some(json!({"namespace": "a", "topK": 1, "vector": [1, 0, 0, 0]})), "bad").await.unwrap();
    assert_eq!(unauthorised.status(), 401);
    assert_eq!(unauthorised.text().await.unwrap(), "Unauthorized", "a data-plane 401 is plain text");
    assert_eq!(status(send(reqwest::Method::POST, format!("{data}/vectors/delete"), Some(json!({"deleteAll": true, "namespace": "a"})), PINECONE_KEY).await.unwrap()), 200);
    let stats: serde_json::Value = send(reqwest::Method::POST, format!("{data}/describe_index_stats"), Some(json!({})), PINECONE_KEY).await.unwrap().json().await.unwrap();
    assert_eq!(stats["namespaces"], json!({}), "deleteAll removes the namespace");
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn switching_the_embedding_model_reindexes_in_the_background_while_the_old_index_answers(db: PgPool) {
    // A deployment on PostgreSQL vectors with both the local model and Gemini embeddings.
    let gemini = FakeGemini::start(GEMINI_KEY, 0).await.unwrap();
    let mut settings = common::settings();
    settings.gemini.base_url = gemini.base_url();
    let secrets = Secrets { gemini_api_key: Some(GEMINI_KEY.into()), ..Secrets::default() };
    let providers = Providers::from_settings(&settings, &secrets, db.clone()).unwrap();
    assert_eq!(providers.embedding_choices().iter().map(|m| m.model.as_str()).collect::<Vec<_>>(), ["local/all-MiniLM-L6-v2", GEMINI_SPACE]);
    let app = common::app_with(db.clone(), settings.clone(), providers.clone());
    let c = Cloud { gemini, pinecone: FakePinecone::start(PINECONE_KEY, 0).await.unwrap(), settings, providers, app };
    let ada = owner(&c, &db, "ada@example.com").await;
    ingest(&c, &db, &ada, "guide.md", HARBOUR).await;

    let mut bot = bots::get(&db, ada.id, &ada.bot).await.unwrap();
    assert_eq!(bot.index.live, "local/all-MiniLM-L6-v2");
    let embedders = c.providers.embedding_choices();
    bot.settings.embedding_model = "gemini/not-configured@768".into();
    let refused = bots::update(&db, &c.settings.bots, &c.providers.models, &embedders, ada.id, &ada.bot, bot.settings.clone()).await.unwrap_err();
    assert_eq!(refused.field(), Some("embedding_model"), "an unknown model is refused at save time");
    bot.settings.embedding_model = GEMINI_SPACE.into();
    let saved = bots::update(&db, &c.settings.bots, &c.providers.models, &embedders, ada.id, &ada.bot, bot.settings).await.unwrap();
    assert_eq!((saved.settings.embedding_model.as_str(), saved.index.live.as_str()), (GEMINI_SPACE, "local/all-MiniLM-L6-v2"));

    // Until the new index is complete, questions are answered from the old one.
    let (_, events) = ask(&c, &ada, "When does the harbour office close?").await;
    assert_eq!(answer(&events).finish_reason, Some(FinishReason::Stop));
    assert!(!c.gemini.requests().iter().any(|r| r.body["requests"][0]["taskType"] == "RETRIEVAL_QUERY"), "the question was embedded locally");

    assert!(reindex::run_once(&db, &c.providers, 60).await.unwrap());
    drain_outbox(&c, &db).await;
    let bot = bots::get(&db, ada.id, &ada.bot).await.unwrap();
    assert_eq!((bot.index.live.as_str(), bot.index.done, bot.index.total, bot.index.error), (GEMINI_SPACE, 1, 1, None));
    let spaces: Vec<String> = sqlx::query_scalar("SELECT DISTINCT embedder FROM chunk_vectors WHERE bot_id = $1").bind(ada.bot_id).fetch_all(&db).await.unwrap();
    assert_eq!(spaces, [GEMINI_SPACE], "the old vectors are gone once the new space is live");
    assert!(!reindex::run_once(&db, &c.providers, 60).await.unwrap(), "nothing left to do");

    let (_, events) = ask(&c, &ada, "When does the harbour office close?").await;
    let done = answer(&events);
    assert_eq!(done.finish_reason, Some(FinishReason::Stop));
    assert!(done.sources.iter().any(|s| s.text.contains("6 pm")));
    assert!(c.gemini.requests().iter().any(|r| r.body["requests"][0]["taskType"] == "RETRIEVAL_QUERY"), "now the question is embedded by Gemini");

    // A new document while a bot is mid-switch lands in both spaces.
    let mut bot = bots::get(&db, ada.id, &ada.bot).await.unwrap();
    bot.settings.embedding_model = "local/all-MiniLM-L6-v2".into();
    bots::update(&db, &c.settings.bots, &c.providers.models, &embedders, ada.id, &ada.bot, bot.settings).await.unwrap();
    ingest(&c, &db, &ada, "bakery.md", BAKERY).await;
    let mut spaces: Vec<String> = sqlx::query_scalar("SELECT DISTINCT v.embedder FROM chunk_vectors v JOIN chunks c ON c.id = v.chunk_id JOIN documents d ON d.id = c.document_id WHERE d.name = 'bakery.md'").fetch_all(&db).await.unwrap();
    spaces.sort();
    assert_eq!(spaces, [GEMINI_SPACE, "local/all-MiniLM-L6-v2"]);
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn an_openai_compatible_model_rewrites_a_follow_up_and_the_trace_shows_its_prompt_and_tokens(db: PgPool) {
    let local = FakeOpenAi::start(Some("sk-local"), 0).await.unwrap();
    let c = cloud_with(&db, |settings, secrets| {
        settings.openai.name = "ollama".into();
        settings.openai.base_url = local.base_url();
        // First in the list: new bots answer with it.
        settings.llm.models.insert(0, ModelChoice { provider: "ollama".into(), model: "llama3.2".into(), label: "Llama 3.2".into(), ..Default::default() });
        secrets.openai_api_key = Some("sk-local".into());
    })
    .await;
    let ada = owner(&c, &db, "ada@example.com").await;
    ingest(&c, &db, &ada, "guide.md", HARBOUR).await;
    let (_, events) = ask(&c, &ada, "Where are berth fees paid?").await;
    let Some(ChatEvent::Started { conversation, .. }) = events.first() else { panic!("{events:?}") };
    assert_eq!(answer(&events).provider.as_deref(), Some("ollama"));

    local.script([openai::Reply::Stream { chunks: vec!["When does the harbour ".into(), "office close?".into()], finish: Some("stop".into()) }]);
    let before = local.requests().len();
    let (_, events) = ask_in(&c, &ada, &conversation.id.to_string(), "And when does it close?").await;
    let calls = local.requests()[before..].to_vec();
    assert_eq!(calls.len(), 2, "the rewrite, then the answer");
    let done = answer(&events);
    assert_eq!(done.finish_reason, Some(FinishReason::Stop), "{done:?}");
    let trace = call(&c.app, "chat/trace", &[("message_id", &done.id.to_string())], Some(ORIGIN), Some(&ada.cookie)).await.json::<chatsphere::features::chat::AnswerTrace>();
    let r = trace.retrieval.expect("a trace was kept");
    assert_eq!(r.query, "When does the harbour office close?");
    assert!(done.sources.iter().any(|s| s.text.contains("closes at 6 pm")), "{:?}", done.sources);
    // The fake counts a call's input as its last message's characters / 4 + 1.
    let input = |call: &serde_json::Value| call["messages"].as_array().unwrap().last().unwrap()["content"].as_str().unwrap().len() as i32 / 4 + 1;
    let Some(QueryRewrite::Model { provider, tokens_in: Some(rewrite_in), tokens_out: Some(rewrite_out), .. }) = r.rewrite.clone() else { panic!("{:?}", r.rewrite) };
    assert_eq!((provider.as_str(), rewrite_in as i32), ("ollama", input(&calls[0])));
    assert_eq!(done.tokens_in, Some(input(&calls[0]) + input(&calls[1])), "the rewrite's tokens are in the answer's usage");
    assert!(done.tokens_out.unwrap() > rewrite_out as i32);
    // The prompt shown is what the model received, byte for byte.
    let prompt = r.prompt.expect("the model was asked");
    let messages = calls[1]["messages"].as_array().unwrap();
    assert_eq!(messages.first().unwrap()["content"].as_str(), Some(prompt.system.as_str()));
    assert_eq!(messages.last().unwrap()["content"].as_str(), Some(prompt.user.as_str()));
    assert_eq!(messages.len(), prompt.history.len() + 2, "system, the history shown, the question");
}
