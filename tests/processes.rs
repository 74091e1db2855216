//! Real server processes on one PostgreSQL database: killed with SIGKILL mid-ingestion and
//! mid-answer, stopped with SIGTERM, and two at once behaving as one. Each test starts the
//! `chatsphere` binary itself and speaks HTTP to it, the way a browser would; nothing here
//! waits for a fixed time: every wait is for a state the database or the server reports, with
//! a generous deadline that only a broken server runs into.

mod common;

use chatsphere_fakes::pinecone::FakePinecone;
use common::process::{session_cookie, Server};
use chatsphere::features::chat::{ChatEvent, ConversationView, FinishReason, MessageStatus, MessageView};
use chatsphere::features::knowledge::DocumentSummary;
use chatsphere::providers::vectors::pinecone::{index_name, record_id};
use chatsphere::server::db::MIGRATOR;
use futures::StreamExt;
use sqlx::PgPool;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};
use uuid::Uuid;

const PASSWORD: &str = "correct horse battery staple";
const LOCAL_SPACE: &str = "local/all-MiniLM-L6-v2";
/// Only a server that is broken takes this long for anything these tests wait for.
const PATIENCE: Duration = Duration::from_secs(180);

/// A server on the test's own database.
async fn start(db: &PgPool, name: &str, env: &[(&str, String)]) -> Server {
    Server::start_on(&database_url(db), name, env).await
}

/// The URL of the test's own database, on the server `DATABASE_URL` names.
fn database_url(db: &PgPool) -> String {
    let base = std::env::var("DATABASE_URL").expect("DATABASE_URL (source ./db.sh)");
    let name = db.connect_options().get_database().expect("the test database").to_owned();
    let (without_query, query) = base.split_once('?').map(|(a, b)| (a.to_owned(), format!("?{b}"))).unwrap_or((base.clone(), String::new()));
    let root = without_query.rsplit_once('/').map(|(root, _)| root.to_owned()).unwrap_or(without_query);
    format!("{root}/{name}{query}")
}

/// A signed-in owner with one bot, speaking to whichever server it is given.
struct Owner {
    cookie: String,
    bot: String,
    bot_id: Uuid,
}

async fn call(server: &Server, cookie: Option<&str>, endpoint: &str, form: &[(&str, &str)]) -> reqwest::Response {
    server.call(cookie, endpoint, form).await
}

async fn call_json<T: serde::de::DeserializeOwned>(server: &Server, owner: &Owner, endpoint: &str, form: &[(&str, &str)]) -> T {
    let reply = call(server, Some(&owner.cookie), endpoint, form).await;
    let status = reply.status();
    let body = reply.text().await.unwrap();
    assert!(status.is_success(), "{endpoint}: {status} {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{endpoint}: {e}: {body}"))
}

async fn sign_up(server: &Server, db: &PgPool, email: &str) -> Owner {
    let mut owner = sign_up_only(server, email).await;
    owner.bot_id = sqlx::query_scalar("SELECT id FROM bots WHERE public_id = $1").bind(&owner.bot).fetch_one(db).await.unwrap();
    owner
}

/// A new account with one bot (its internal id left nil).
async fn sign_up_only(server: &Server, email: &str) -> Owner {
    let reply = call(server, None, "auth/sign_up", &[("email", email), ("display_name", "Owner"), ("password", PASSWORD)]).await;
    assert!(reply.status().is_success(), "sign-up: {}", reply.status());
    let cookie = session_cookie(&reply).expect("a session cookie");
    let mut owner = Owner { cookie, bot: String::new(), bot_id: Uuid::nil() };
    let bot: serde_json::Value = call_json(server, &owner, "bots/create", &[("name", "Harbour")]).await;
    owner.bot = bot["public_id"].as_str().unwrap().to_owned();
    owner
}

async fn add_text(server: &Server, owner: &Owner, title: &str, text: &str) -> Uuid {
    let doc: DocumentSummary = call_json(server, owner, "knowledge/add_text", &[("bot_id", &owner.bot), ("title", title), ("text", text)]).await;
    doc.id
}

/// Waits until every document of the owner's bot is ready (as `server` reports it).
async fn all_ready(server: &Server, owner: &Owner, count: usize) -> Vec<DocumentSummary> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let docs: Vec<DocumentSummary> = call_json(server, owner, "knowledge/list", &[("bot_id", &owner.bot)]).await;
        assert!(docs.iter().all(|d| d.error.is_none()), "a document failed: {docs:?}");
        if docs.len() == count && docs.iter().all(|d| d.status.as_str() == "ready") {
            return docs;
        }
        assert!(Instant::now() < deadline, "documents never all became ready: {:?}", docs.iter().map(|d| (&d.name, d.status.as_str())).collect::<Vec<_>>());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// An answer being streamed: its events as they come.
struct Answering {
    body: futures::stream::BoxStream<'static, reqwest::Result<Vec<u8>>>,
    buffer: String,
    events: Vec<ChatEvent>,
    text: String,
}

impl Answering {
    async fn ask(server: &Server, owner: &Owner, conversation: Option<Uuid>, question: &str) -> Answering {
        let conversation = conversation.map(|c| c.to_string()).unwrap_or_default();
        let reply = call(server, Some(&owner.cookie), "chat/send", &[("bot_id", &owner.bot), ("conversation_id", &conversation), ("text", question)]).await;
        assert!(reply.status().is_success(), "chat/send: {}", reply.status());
        Answering::from(reply)
    }

    fn from(reply: reqwest::Response) -> Answering {
        Answering { body: reply.bytes_stream().map(|c| c.map(|b| b.to_vec())).boxed(), buffer: String::new(), events: Vec::new(), text: String::new() }
    }

    /// Reads until `until` holds for the events so far, or the stream ends (false).
    async fn read_until(&mut self, until: impl Fn(&[ChatEvent]) -> bool) -> bool {
        while !until(&self.events) {
            let Some(chunk) = self.body.next().await else { return false };
            let Ok(chunk) = chunk else { return false };
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
            for event in ChatEvent::drain_lines(&mut self.buffer) {
                if let ChatEvent::Delta { text } = &event {
                    self.text.push_str(text);
                }
                self.events.push(event);
            }
        }
        true
    }

    fn ids(&self) -> (Uuid, Uuid) {
        match self.events.first() {
            Some(ChatEvent::Started { conversation, answer_id, .. }) => (conversation.id, *answer_id),
            other => panic!("no Started event: {other:?}"),
        }
    }

    async fn done(&mut self) -> MessageView {
        self.read_until(|_| false).await;
        match self.events.last() {
            Some(ChatEvent::Done { answer }) => answer.clone(),
            other => panic!("the answer never finished: {other:?}"),
        }
    }
}

fn deltas(events: &[ChatEvent]) -> usize {
    events.iter().filter(|e| matches!(e, ChatEvent::Delta { .. })).count()
}

const HARBOUR: &str = "# Harbour office\n\
    Berth fees are paid at the harbour office beside the fuel dock, in cash or by card, before the boat leaves the marina. \
    The harbour office closes at six in the evening on weekdays and at noon on Saturdays, and it stays closed on Sundays. \
    Visiting sailors who arrive after the office has closed tie up at the waiting pontoon and pay the next morning. \
    Showers and laundry machines are open to every berth holder with the code printed on the berth receipt.\n";

/// Text with `paragraphs` distinct paragraphs, so each document has its own chunks.
fn filler(topic: usize, paragraphs: usize) -> String {
    (0..paragraphs)
        .map(|p| format!("Section {p} of report {topic}: the survey team counted {} boats of class {} in basin {} during week {}, and noted the tides, the wind and the state of the pontoons in detail for the harbour master.\n\n", p * 7 + topic, p % 5, topic % 3, p))
        .collect()
}

/// Chunks and vectors are exactly those of each document's live version: no chunk of another
/// version, no duplicate, one vector per chunk in PostgreSQL.
async fn assert_no_orphans_in_postgres(db: &PgPool) {
    let stale: i64 = sqlx::query_scalar("SELECT count(*) FROM chunks c JOIN documents d ON d.id = c.document_id WHERE c.generation <> d.generation").fetch_one(db).await.unwrap();
    assert_eq!(stale, 0, "chunks of a dead version remain");
    let duplicates: i64 = sqlx::query_scalar("SELECT count(*) FROM (SELECT document_id, generation, ordinal FROM chunks GROUP BY 1, 2, 3 HAVING count(*) > 1) d").fetch_one(db).await.unwrap();
    assert_eq!(duplicates, 0, "duplicate chunks");
    let counted: i64 = sqlx::query_scalar("SELECT count(*) FROM documents d WHERE d.chunk_count <> (SELECT count(*) FROM chunks c WHERE c.document_id = d.id)").fetch_one(db).await.unwrap();
    assert_eq!(counted, 0, "a document's chunk count disagrees with its chunks");
    let jobs: i64 = sqlx::query_scalar("SELECT count(*) FROM ingestion_jobs WHERE state <> 'done'").fetch_one(db).await.unwrap();
    assert_eq!(jobs, 0, "every job is done");
}

async fn assert_vectors_in_postgres(db: &PgPool) {
    let (chunks, vectors, orphans): (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM chunks), (SELECT count(*) FROM chunk_vectors),
                (SELECT count(*) FROM chunk_vectors v WHERE NOT EXISTS (SELECT 1 FROM chunks c WHERE c.id = v.chunk_id))",
    )
    .fetch_one(db)
    .await
    .unwrap();
    assert_eq!((vectors, orphans), (chunks, 0), "one vector per live chunk");
}

/// Twenty documents, the server killed with SIGKILL while it works on them, started again:
/// every document ends ready with exactly its own chunks and vectors.
async fn kill_mid_ingestion(db: &PgPool, env: &[(&str, String)]) -> (Owner, Duration, Server) {
    let env: Vec<(&str, String)> = [("CHATSPHERE_KNOWLEDGE_LEASE_SECS", "3".to_string())].into_iter().chain(env.iter().cloned()).collect();
    let mut server = start(db, "a", &env).await;
    let owner = sign_up(&server, db, "ada@example.com").await;
    for n in 0..20 {
        add_text(&server, &owner, &format!("Report {n}"), &filler(n, 40)).await;
    }
    // Kill once some documents are ready and another is being worked on.
    let deadline = Instant::now() + PATIENCE;
    loop {
        let (ready, working): (i64, i64) = sqlx::query_as(
            "SELECT count(*) FILTER (WHERE status = 'ready'), count(*) FILTER (WHERE status IN ('extracting', 'chunking', 'embedding', 'indexing')) FROM documents",
        )
        .fetch_one(db)
        .await
        .unwrap();
        if ready >= 1 && working >= 1 {
            break;
        }
        assert!(Instant::now() < deadline, "ingestion never got going:\n{}", server.log());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    server.kill9().await;
    let ready: i64 = sqlx::query_scalar("SELECT count(*) FROM documents WHERE status = 'ready'").fetch_one(db).await.unwrap();
    assert!(ready < 20, "killed mid-ingestion: {ready} of 20 ready");

    let restarted = Instant::now();
    let server = start(db, "a-again", &env).await;
    all_ready(&server, &owner, 20).await;
    let recovery = restarted.elapsed();
    assert_no_orphans_in_postgres(db).await;
    (owner, recovery, server)
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn killed_mid_ingestion_every_document_ends_ready_once_postgres_vectors(db: PgPool) {
    let (_, recovery, _server) = kill_mid_ingestion(&db, &[]).await;
    assert_vectors_in_postgres(&db).await;
    println!("kill -9 mid-ingestion (PostgreSQL vectors): restart to all 20 documents ready in {:.1} s", recovery.as_secs_f64());
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn killed_mid_ingestion_every_document_ends_ready_once_pinecone(db: PgPool) {
    let pinecone = FakePinecone::start("p-key", 0).await.unwrap();
    let env = [
        ("CHATSPHERE_VECTORS_PROVIDER", "pinecone".to_string()),
        ("CHATSPHERE_PINECONE_CONTROL_URL", pinecone.control_url()),
        ("CHATSPHERE_PINECONE_POLL_MS", "20".to_string()),
        ("PINECONE_API_KEY", "p-key".to_string()),
    ];
    let (owner, recovery, _server) = kill_mid_ingestion(&db, &env).await;
    // Old versions' records are retired through the outbox, which the restarted server works.
    let deadline = Instant::now() + PATIENCE;
    while chatsphere::providers::vectors::outbox::pending(&db).await.unwrap() > 0 {
        assert!(Instant::now() < deadline, "the vector outbox never emptied");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut expected: Vec<String> = sqlx::query_as::<_, (Uuid, i32, i32)>("SELECT document_id, generation, ordinal FROM chunks")
        .fetch_all(&db)
        .await
        .unwrap()
        .into_iter()
        .map(|(d, g, o)| record_id(d, g, o))
        .collect();
    expected.sort();
    let mut stored = pinecone.ids(&index_name("chatsphere", LOCAL_SPACE), &format!("bot-{}", owner.bot_id));
    stored.sort();
    assert_eq!(stored.len(), expected.len(), "one Pinecone record per live chunk, no orphans");
    assert_eq!(stored, expected);
    println!("kill -9 mid-ingestion (Pinecone): restart to all 20 documents ready in {:.1} s", recovery.as_secs_f64());
}

/// Answers stream slowly enough (one word per `word_ms`) to be caught mid-way.
fn slow_answers(word_ms: u64) -> Vec<(&'static str, String)> {
    vec![
        ("CHATSPHERE_LLM_OFFLINE_WORD_DELAY_MS", word_ms.to_string()),
        ("CHATSPHERE_CHAT_CHECKPOINT_MILLIS", "300".to_string()),
        ("CHATSPHERE_CHAT_ANSWER_LEASE_SECS", "2".to_string()),
    ]
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn killed_mid_answer_the_text_so_far_is_kept_marked_interrupted_and_retry_works(db: PgPool) {
    let mut server = start(&db, "a", &slow_answers(400)).await;
    let owner = sign_up(&server, &db, "ada@example.com").await;
    add_text(&server, &owner, "Harbour", HARBOUR).await;
    all_ready(&server, &owner, 1).await;

    let mut answering = Answering::ask(&server, &owner, None, "When does the harbour office close and where are berth fees paid?").await;
    assert!(answering.read_until(|e| deltas(e) >= 1).await, "the answer started");
    let (conversation, answer) = answering.ids();
    // Kill as soon as a checkpoint holds some of the text the reader has seen.
    let deadline = Instant::now() + PATIENCE;
    let checkpointed = loop {
        let (status, content): (String, String) = sqlx::query_as("SELECT status, content FROM messages WHERE id = $1").bind(answer).fetch_one(&db).await.unwrap();
        assert_eq!(status, "streaming", "still being written when it is killed");
        if !content.is_empty() {
            break content;
        }
        assert!(Instant::now() < deadline, "no checkpoint was written");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    server.kill9().await;
    answering.read_until(|_| false).await;
    assert!(!answering.events.iter().any(|e| matches!(e, ChatEvent::Done { .. })), "the killed server could not finish the answer");
    assert!(answering.text.starts_with(&checkpointed), "the checkpoint is what the reader saw: {checkpointed:?} vs {:?}", answering.text);

    // Another process (no word delay this time) shows it interrupted once its lease is over.
    let restarted = Instant::now();
    let server = start(&db, "b", &[("CHATSPHERE_CHAT_ANSWER_LEASE_SECS", "2".to_string())]).await;
    let deadline = Instant::now() + PATIENCE;
    let shown = loop {
        let view: ConversationView = call_json(&server, &owner, "chat/conversation", &[("conversation_id", &conversation.to_string())]).await;
        let shown = view.messages.into_iter().find(|m| m.id == answer).expect("the answer is kept");
        if shown.status != MessageStatus::Streaming {
            break shown;
        }
        assert!(Instant::now() < deadline, "the dead answer was never shown as interrupted");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let noticed = restarted.elapsed();
    assert_eq!(shown.status, MessageStatus::Failed);
    assert_eq!(shown.finish_reason, Some(FinishReason::Interrupted));
    assert!(shown.error.as_deref().is_some_and(|e| e.contains("interrupted")), "{:?}", shown.error);
    assert!(shown.content.len() >= checkpointed.len() && answering.text.starts_with(&shown.content), "kept up to the last checkpoint: {:?}", shown.content);

    // Retry answers it again, completely.
    let reply = call(&server, Some(&owner.cookie), "chat/regenerate", &[("conversation_id", &conversation.to_string())]).await;
    assert!(reply.status().is_success());
    let again = Answering::from(reply).done().await;
    assert_eq!((again.status, again.finish_reason), (MessageStatus::Complete, Some(FinishReason::Stop)));
    assert!(again.content.contains("harbour office") && !again.sources.is_empty(), "{}", again.content);
    let view: ConversationView = call_json(&server, &owner, "chat/conversation", &[("conversation_id", &conversation.to_string())]).await;
    assert_eq!(view.messages.len(), 2, "the interrupted answer was replaced");
    println!("kill -9 mid-answer: {} characters kept of {} shown; another process showed it interrupted {:.1} s after starting", shown.content.len(), answering.text.len(), noticed.as_secs_f64());
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn two_processes_behave_as_one(db: PgPool) {
    let a = start(&db, "a", &slow_answers(300)).await;
    let b = start(&db, "b", &slow_answers(300)).await;
    // Signed up through A, the session works on B.
    let owner = sign_up(&a, &db, "ada@example.com").await;
    let bots: Vec<serde_json::Value> = call_json(&b, &owner, "bots/list", &[]).await;
    assert_eq!(bots.len(), 1);

    // Uploaded through A, searchable through B as soon as B says it is ready.
    let harbour = add_text(&a, &owner, "Harbour", HARBOUR).await;
    all_ready(&b, &owner, 1).await;
    let first = Answering::ask(&b, &owner, None, "When does the harbour office close?").await.done().await;
    assert!(first.sources.iter().any(|s| s.document_name == "Harbour"), "B answers from A's upload: {:?}", first.sources);

    // A question streamed by A is stopped through B.
    let mut streaming = Answering::ask(&a, &owner, None, "When does the harbour office close and where are berth fees paid?").await;
    assert!(streaming.read_until(|e| deltas(e) >= 1).await);
    let (_, answer) = streaming.ids();
    let stopped: bool = call_json(&b, &owner, "chat/stop", &[("message_id", &answer.to_string())]).await;
    assert!(stopped, "B found the answer A is writing");
    let ended = streaming.done().await;
    assert_eq!((ended.status, ended.finish_reason), (MessageStatus::Complete, Some(FinishReason::Cancelled)));
    let stored: String = sqlx::query_scalar("SELECT content FROM messages WHERE id = $1").bind(answer).fetch_one(&db).await.unwrap();
    assert_eq!(stored, ended.content, "the text written until the Stop is kept");
    // Another owner cannot stop (or see) it: Stop through B on an answer of theirs finds nothing.
    let grace = sign_up(&b, &db, "grace@example.com").await;
    let mut theirs = Answering::ask(&a, &owner, None, "Where are berth fees paid?").await;
    assert!(theirs.read_until(|e| deltas(e) >= 1).await);
    let not_hers: bool = call_json(&b, &grace, "chat/stop", &[("message_id", &theirs.ids().1.to_string())]).await;
    assert!(!not_hers);
    assert_eq!(theirs.done().await.finish_reason, Some(FinishReason::Stop), "the owner's answer ran to its end");

    // A knowledge change through A is never answered from B's caches.
    let _: DocumentSummary = call_json(&a, &owner, "knowledge/set_enabled", &[("id", &harbour.to_string()), ("enabled", "false")]).await;
    let disabled = Answering::ask(&b, &owner, None, "When does the harbour office close?").await.done().await;
    assert!(disabled.sources.is_empty() && disabled.answered == Some(false), "B no longer uses the disabled document: {:?}", disabled.sources);
    let _: DocumentSummary = call_json(&a, &owner, "knowledge/set_enabled", &[("id", &harbour.to_string()), ("enabled", "true")]).await;
    add_text(&a, &owner, "Fuel", "# Fuel dock\nThe fuel dock sells diesel and petrol from seven in the morning until eight at night.\n").await;
    all_ready(&a, &owner, 2).await;
    let fuel = Answering::ask(&b, &owner, None, "When does the fuel dock sell diesel?").await.done().await;
    assert!(fuel.sources.iter().any(|s| s.document_name == "Fuel"), "B searches the document added through A: {:?}", fuel.sources);
    let _: () = call_json(&a, &owner, "knowledge/delete", &[("id", &harbour.to_string())]).await;
    let deleted = Answering::ask(&b, &owner, None, "Where are berth fees paid?").await.done().await;
    assert!(deleted.sources.iter().all(|s| s.document_name != "Harbour"), "B never cites the deleted document: {:?}", deleted.sources);
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn sigterm_keeps_the_open_answer_and_hands_the_running_job_to_another_process(db: PgPool) {
    let env = |name: &str| {
        let mut env = slow_answers(300);
        env.push(("CHATSPHERE_SERVER_SHUTDOWN_SECS", "15".to_string()));
        env.push(("CHATSPHERE_KNOWLEDGE_WORKERS", "1".to_string()));
        env.push(("HOSTNAME", name.to_string()));
        env.push(("CHATSPHERE_KNOWLEDGE_ALLOW_PRIVATE_URLS", "true".to_string()));
        env
    };
    let mut a = start(&db, "a", &env("a")).await;
    let owner = sign_up(&a, &db, "ada@example.com").await;
    add_text(&a, &owner, "Harbour", HARBOUR).await;
    all_ready(&a, &owner, 1).await;

    // A web page whose first fetch hangs (so A's worker is mid-job when it is told to stop),
    // and an answer being written by A.
    let site = chatsphere_fakes::serve(slow_site(), 0).await.unwrap();
    let page: DocumentSummary = call_json(&a, &owner, "knowledge/add_url", &[("bot_id", &owner.bot), ("url", &format!("http://{site}/survey"))]).await;
    let big = page.id;
    let deadline = Instant::now() + PATIENCE;
    loop {
        let worker: Option<String> = sqlx::query_scalar("SELECT worker FROM ingestion_jobs WHERE document_id = $1 AND state = 'running'").bind(big).fetch_optional(&db).await.unwrap().flatten();
        if worker.is_some_and(|w| w.starts_with("a:")) {
            break;
        }
        assert!(Instant::now() < deadline, "A never took the job");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut answering = Answering::ask(&a, &owner, None, "When does the harbour office close and where are berth fees paid?").await;
    assert!(answering.read_until(|e| deltas(e) >= 1).await);
    let (_, answer) = answering.ids();

    let asked = Instant::now();
    a.sigterm();
    let ended = answering.done().await;
    assert_eq!(ended.id, answer);
    assert_eq!((ended.status, ended.finish_reason), (MessageStatus::Failed, Some(FinishReason::Interrupted)), "told and closed cleanly");
    assert!(!ended.content.is_empty() && answering.text.starts_with(&ended.content), "the text written is kept");
    let exit = tokio::time::timeout(Duration::from_secs(15 + 10), a.child.wait()).await.expect("A exits within its shutdown deadline").unwrap();
    let exited = asked.elapsed();
    assert!(exit.success(), "a clean exit: {exit}\n{}", a.log());
    let (state, attempts, worker): (String, i32, Option<String>) =
        sqlx::query_as("SELECT state, attempts, worker FROM ingestion_jobs WHERE document_id = $1").bind(big).fetch_one(&db).await.unwrap();
    assert_eq!((state.as_str(), attempts, worker), ("pending", 0, None), "the job went back to the queue, its attempt not counted");
    let stored: (String, String) = sqlx::query_as("SELECT status, content FROM messages WHERE id = $1").bind(answer).fetch_one(&db).await.unwrap();
    assert_eq!(stored, ("failed".to_string(), ended.content.clone()));

    // Another process finishes the job at once (not after a lease).
    let b = start(&db, "b", &env("b")).await;
    let docs = all_ready(&b, &owner, 2).await;
    assert!(docs.iter().any(|d| d.id == big && d.chunk_count > 0));
    assert_no_orphans_in_postgres(&db).await;
    println!("SIGTERM: A exited {:.2} s after the signal with its stream closed and its job handed back", exited.as_secs_f64());
}

/// A site whose first request never gets an answer (the fetch is cut off by its client) and
/// whose later requests get a page about a harbour survey.
fn slow_site() -> axum::Router {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let seen = Arc::new(AtomicUsize::new(0));
    axum::Router::new().route(
        "/survey",
        axum::routing::get(move || {
            let seen = seen.clone();
            async move {
                if seen.fetch_add(1, Ordering::SeqCst) == 0 {
                    std::future::pending::<()>().await;
                }
                axum::response::Html(format!("<html><head><title>Survey</title></head><body><h1>Survey</h1><p>{}</p></body></html>", filler(7, 30)))
            }
        }),
    )
}

/// A PostgreSQL cluster of this test's own (made by `db.sh`, as a newcomer's is), so that it can
/// be stopped and started without disturbing the other tests' database.
struct PrivateCluster {
    root: PathBuf,
    url: String,
}

impl PrivateCluster {
    fn db_sh(root: &std::path::Path, action: &str) -> String {
        let out = std::process::Command::new("bash")
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/db.sh"))
            .arg(action)
            .env("CHATSPHERE_ROOT", root)
            .env("CHATSPHERE_PG_PORT", "26432")
            .env_remove("DATABASE_URL")
            .stdin(Stdio::null())
            .output()
            .expect("bash runs db.sh");
        assert!(out.status.success(), "db.sh {action}: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn up() -> PrivateCluster {
        let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("pg-restart");
        std::fs::create_dir_all(&root).unwrap();
        let out = Self::db_sh(&root, "start");
        let url = out.lines().find_map(|l| l.strip_prefix("DATABASE_URL=")).expect("db.sh start prints the URL").to_owned();
        PrivateCluster { root, url }
    }

    fn stop(&self) {
        Self::db_sh(&self.root, "stop");
    }

    fn start(&self) {
        Self::db_sh(&self.root, "start");
    }
}

impl Drop for PrivateCluster {
    fn drop(&mut self) {
        let _ = std::process::Command::new("bash").arg(concat!(env!("CARGO_MANIFEST_DIR"), "/db.sh")).arg("stop").env("CHATSPHERE_ROOT", &self.root).output();
    }
}

#[tokio::test]
async fn postgres_restarted_under_traffic_gives_a_clear_503_and_the_server_recovers_by_itself() {
    let cluster = PrivateCluster::up();
    let mut server = Server::start_on(&cluster.url, "pg-restart", &[]).await;
    let owner = sign_up_only(&server, &format!("ada-{}@example.com", Uuid::new_v4())).await;
    add_text(&server, &owner, "Harbour", HARBOUR).await;
    all_ready(&server, &owner, 1).await;

    cluster.stop();
    let stopped = Instant::now();
    for (endpoint, form) in [("knowledge/list", vec![("bot_id", owner.bot.as_str())]), ("chat/send", vec![("bot_id", owner.bot.as_str()), ("conversation_id", ""), ("text", "When does the harbour office close?")])] {
        let reply = call(&server, Some(&owner.cookie), endpoint, &form).await;
        assert_eq!(reply.status().as_u16(), 503, "{endpoint} while the database is down");
        assert!(reply.headers().contains_key("retry-after"), "{endpoint}: Retry-After");
        let body = reply.text().await.unwrap();
        let error: chatsphere::error::AppError = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{endpoint}: {e}: {body}"));
        assert!(error.to_string().contains("cannot reach its database"), "{endpoint}: a clear message: {error}");
    }
    let ready = reqwest::get(format!("{}/readyz", server.url)).await.unwrap();
    assert_eq!(ready.status().as_u16(), 503, "not ready without its database");
    let outage = stopped.elapsed();

    cluster.start();
    let restarted = Instant::now();
    let deadline = Instant::now() + PATIENCE;
    loop {
        let reply = call(&server, Some(&owner.cookie), "knowledge/list", &[("bot_id", owner.bot.as_str())]).await;
        if reply.status().is_success() {
            break;
        }
        assert_eq!(reply.status().as_u16(), 503, "only 503 while recovering");
        assert!(Instant::now() < deadline, "the server never recovered:\n{}", server.log());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let recovery = restarted.elapsed();
    let answer = Answering::ask(&server, &owner, None, "When does the harbour office close?").await.done().await;
    assert_eq!(answer.status, MessageStatus::Complete);
    assert!(!answer.sources.is_empty());
    assert!(server.child.try_wait().unwrap().is_none(), "the same process, never restarted");
    println!("PostgreSQL restart: requests during the {:.1} s outage got 503; served again {:.2} s after PostgreSQL was back", outage.as_secs_f64(), recovery.as_secs_f64());
}
