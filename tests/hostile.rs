//! The hostile-upload corpus (`../shared/hostile`): 39 malformed and hostile files, uploaded to
//! one bot over HTTP as a browser would, worked by the real ingestion worker with extraction in
//! its child process. Every expectation in the corpus's manifest is checked: the terminal
//! state, a reason for each refusal, the marker text searchable for files that must be
//! accepted, no 5xx, nothing else touched (a control document in the same bot and another
//! user's bot stay searchable), and this process's peak memory bounded.
//!
//! The three large cases (a 1.1 GB zip bomb, 60 MB of text, a million shared strings) take
//! minutes to generate and ingest on two cores; they run when CHATSPHERE_HOSTILE_LARGE=1.
//! The generator needs Python with reportlab, python-docx and pillow: `./setup.sh` puts them
//! in `.data/venv-hostile` (or set HOSTILE_PYTHON).

mod common;

use chatsphere::features::knowledge::server::{search, worker};
use chatsphere::server::db::MIGRATOR;
use serde_json::Value;
use sqlx::PgPool;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use uuid::Uuid;

const CONTROL: &[u8] = b"# Control\n\nThe lighthouse keeper logs peerscheckcontroldocument every evening.\n";
const OTHER: &[u8] = b"# Other bot\n\nThe other owner's ferry schedule mentions peerscheckotherbot twice daily.\n";

fn generate_corpus() -> (PathBuf, Value) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let script = root.join("../shared/hostile/make_hostile.py");
    assert!(script.exists(), "the hostile corpus generator is missing: {}", script.display());
    let python = std::env::var("HOSTILE_PYTHON").map(PathBuf::from).unwrap_or_else(|_| root.join(".data/venv-hostile/bin/python3"));
    assert!(python.exists(), "{} is missing: run ./setup.sh (it installs the corpus generator's packages)", python.display());
    let large = std::env::var("CHATSPHERE_HOSTILE_LARGE").is_ok_and(|v| v == "1");
    let out = std::env::temp_dir().join(format!("chatsphere-hostile-{}{}", std::process::id(), if large { "-large" } else { "" }));
    let mut command = std::process::Command::new(&python);
    command.arg(&script).arg(&out);
    if !large {
        command.arg("--skip-large");
    }
    let status = command.stdout(std::process::Stdio::null()).status().expect("the corpus generator runs");
    assert!(status.success(), "the corpus generator failed");
    let manifest: Value = serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    (out, manifest)
}

/// This process's resident memory now and at its peak, in MB (Linux).
fn memory_mb() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status.lines().find(|l| l.starts_with(name)).and_then(|l| l.split_whitespace().nth(1)).and_then(|kb| kb.parse::<u64>().ok()).unwrap_or(0) / 1024
    };
    (field("VmRSS:"), field("VmHWM:"))
}

struct Outcome {
    status: String,
    error: Option<String>,
    chunks: Vec<String>,
}

async fn outcome(db: &PgPool, id: Uuid) -> Outcome {
    let (status, error): (String, Option<String>) = sqlx::query_as("SELECT status, error FROM documents WHERE id = $1").bind(id).fetch_one(db).await.unwrap();
    let chunks: Vec<String> = sqlx::query_scalar(
        "SELECT c.text FROM chunks c JOIN documents d ON d.id = c.document_id AND d.generation = c.generation WHERE d.id = $1 ORDER BY c.ordinal",
    )
    .bind(id)
    .fetch_all(db)
    .await
    .unwrap();
    Outcome { status, error, chunks }
}

/// Works the queue until no job is open, as the server's worker would (bounded, so a defect
/// shows as a failure rather than a hang).
async fn work_until_idle(db: &PgPool, settings: &chatsphere::features::knowledge::server::settings::KnowledgeSettings) {
    let providers = common::providers(db);
    let give_up = Instant::now() + Duration::from_secs(1800);
    loop {
        let worked = worker::run_once(db, settings, &providers, "hostile-test").await.unwrap();
        let open: i64 = sqlx::query_scalar("SELECT count(*) FROM ingestion_jobs WHERE state IN ('pending', 'running')").fetch_one(db).await.unwrap();
        if open == 0 {
            return;
        }
        assert!(Instant::now() < give_up, "{open} jobs still open after 30 minutes");
        if !worked {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn every_hostile_upload_ends_clean_and_touches_nothing_else(db: PgPool) {
    let (dir, manifest) = generate_corpus();
    let settings = common::settings();
    let app = common::app_with(db.clone(), settings.clone(), common::providers(&db));

    // The owner's bot with a control document, and another owner's bot, both ready first.
    let owner = common::signed_up_as(&app, "owner@example.com").await;
    let other = common::signed_up_as(&app, "other@example.com").await;
    let bot = create_bot(&app, &owner, "Target").await;
    let other_bot = create_bot(&app, &other, "Bystander").await;
    for (cookie, bot, name, body) in [(&owner, &bot, "control.md", CONTROL), (&other, &other_bot, "other.md", OTHER)] {
        let reply = common::upload(&app, cookie, bot, &[(name, body)]).await;
        assert!(reply.status.is_success(), "{}", reply.body);
    }
    work_until_idle(&db, &settings.knowledge).await;
    let (rss_before, _) = memory_mb();

    // Every case, under its upload name (and the extra names the traversal case asks for).
    let mut documents: Vec<(Value, Option<Uuid>, Option<String>)> = Vec::new();
    for case in manifest["cases"].as_array().unwrap() {
        if case["skipped"].as_bool() == Some(true) {
            continue;
        }
        let bytes = std::fs::read(dir.join(case["file"].as_str().unwrap())).unwrap();
        let mut names = vec![case["upload_name"].as_str().unwrap().to_owned()];
        names.extend(case["also_try_upload_names"].as_array().into_iter().flatten().filter_map(|n| n.as_str().map(str::to_owned)));
        for (i, name) in names.iter().enumerate() {
            let reply = common::upload(&app, &owner, &bot, &[(name, &bytes)]).await;
            let id = case["id"].as_str().unwrap();
            assert!(reply.status.is_success(), "{id}: the upload is answered {} ({})", reply.status, reply.body);
            let results: Value = serde_json::from_str(&reply.body).unwrap();
            let result = &results[0];
            if i == 0 {
                let document = result["document"]["id"].as_str().map(|s| s.parse().unwrap());
                documents.push((case.clone(), document, result["error"].as_str().map(str::to_owned)));
            } else {
                assert!(result["document"].is_object() || result["error"].is_string(), "{id} as {name}: {result}");
            }
        }
    }
    work_until_idle(&db, &settings.knowledge).await;
    let (_, peak) = memory_mb();

    println!("{:<36} {:<9} reason", "case", "outcome");
    let mut wrong = Vec::new();
    for (case, document, upload_error) in &documents {
        let id = case["id"].as_str().unwrap();
        let expect = case["expect"].as_str().unwrap();
        let (accepted, reason, chunks) = match document {
            None => (false, upload_error.clone(), vec![]),
            Some(doc) => {
                let o = outcome(&db, *doc).await;
                assert!(matches!(o.status.as_str(), "ready" | "failed"), "{id} is left {}", o.status);
                (o.status == "ready", o.error, o.chunks)
            }
        };
        println!("{id:<36} {:<9} {}", if accepted { "accepted" } else { "refused" }, reason.clone().unwrap_or_default());
        match (expect, accepted) {
            ("accept", false) => wrong.push(format!("{id} must be accepted; refused with {reason:?}")),
            ("reject", true) => wrong.push(format!("{id} must be refused; it was accepted")),
            _ => {}
        }
        if !accepted && reason.as_deref().is_none_or(|r| r.trim().len() < 10) {
            wrong.push(format!("{id} was refused without a reason a person can read: {reason:?}"));
        }
        if accepted {
            if let Some(marker) = case["text_contains"].as_str() {
                let hits = search::keyword(&db, &common::providers(&db), owner_id(&db, "owner@example.com").await, &bot, marker, 5).await.unwrap();
                if hits.is_empty() {
                    wrong.push(format!("{id} was accepted but {marker} is not searchable"));
                }
            }
            if let Some(check) = case["check_text"].as_str() {
                if !chunks.iter().any(|c| c.contains(check)) {
                    wrong.push(format!("{id}: the decoded text {check:?} is not in its chunks"));
                }
            }
            let all = chunks.join("\n");
            // Script and style bodies never become text (escaped markup shown as text is content).
            for leak in ["root:x:0:0", "\u{0}", "__pwned", "xss-script", "xss-css", "xss-template", "xss-meta"] {
                if all.contains(leak) {
                    wrong.push(format!("{id}: its text holds {leak:?}"));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));

    // Nothing was retried as if it might pass: every refusal was final at its first attempt.
    let retried: Vec<(String, i32)> = sqlx::query_as(
        "SELECT d.name, j.attempts FROM ingestion_jobs j JOIN documents d ON d.id = j.document_id WHERE j.attempts > 1",
    )
    .fetch_all(&db)
    .await
    .unwrap();
    assert!(retried.is_empty(), "permanent problems were retried: {retried:?}");

    // The control document and the other owner's bot are untouched and still searchable.
    let owner = owner_id(&db, "owner@example.com").await;
    assert!(!search::keyword(&db, &common::providers(&db), owner, &bot, "peerscheckcontroldocument", 5).await.unwrap().is_empty());
    let other_id = owner_id(&db, "other@example.com").await;
    let hits = search::keyword(&db, &common::providers(&db), other_id, &other_bot, "peerscheckotherbot", 5).await.unwrap();
    assert_eq!(hits.len(), 1, "the other bot has exactly its own document");
    let others: i64 = sqlx::query_scalar("SELECT count(*) FROM documents d JOIN bots b ON b.id = d.bot_id WHERE b.public_id = $1")
        .bind(&other_bot)
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(others, 1);
    assert!(common::get(&app, "/healthz", None).await.status.is_success(), "the server still answers");

    let grown = peak.saturating_sub(rss_before);
    println!("memory: {rss_before} MB before the corpus, peak {peak} MB (+{grown} MB)");
    assert!(grown < 512, "the corpus grew this process by {grown} MB");
    let _ = std::fs::remove_dir_all(&dir);
}

async fn create_bot(app: &axum::Router, cookie: &str, name: &str) -> String {
    let reply = common::call(app, "bots/create", &[("name", name)], Some(common::ORIGIN), Some(cookie)).await;
    assert!(reply.status.is_success(), "{}", reply.body);
    let bot: Value = serde_json::from_str(&reply.body).unwrap();
    bot["public_id"].as_str().unwrap().to_owned()
}

async fn owner_id(db: &PgPool, email: &str) -> Uuid {
    sqlx::query_scalar("SELECT id FROM users WHERE email = $1").bind(email).fetch_one(db).await.unwrap()
}
