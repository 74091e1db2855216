//! The knowledge pipeline against a real PostgreSQL: documents become searchable chunks,
//! bad files fail alone with a reason, a worker that dies mid-job loses nothing and leaves
//! no duplicates, and nobody reaches another user's documents.

mod common;

use chatsphere::features::auth::server::password::Passwords;
use chatsphere::error::AppError;
use chatsphere::features::auth::server::accounts;
use chatsphere::features::bots::server as bots;
use chatsphere::features::bots::BotLimits;
use chatsphere::features::knowledge::server::store::{self, NewDocument};
use chatsphere::features::knowledge::server::{queue, search, worker};
use chatsphere::features::knowledge::DocStatus;
use chatsphere::server::db::MIGRATOR;
use chatsphere::features::auth::server::settings::AuthSettings;
use chatsphere::features::knowledge::server::settings::KnowledgeSettings;
use chatsphere::providers::settings::LlmSettings;
use sqlx::PgPool;
use uuid::Uuid;

const GUIDE: &str = "# Setup\nInstall the harbour crane before the first shipment arrives.\n\n\
## Database\nThe ledger lives in PostgreSQL and is backed up nightly.\n\n\
# Usage\nAsk the quartermaster about cargo manifests and tide tables.\n";

fn settings() -> KnowledgeSettings {
    KnowledgeSettings { chunk_tokens: 64, chunk_overlap_tokens: 8, lease_secs: 30, ..common::knowledge_settings() }
}

async fn owner_and_bot(db: &PgPool, email: &str) -> (Uuid, String) {
    let user = accounts::sign_up(db, &AuthSettings::default(), &Passwords::default(), email, "Owner", "correct horse battery").await.unwrap();
    let bot = bots::create(db, &BotLimits::default(), &LlmSettings::default().models, &common::embedders(), user.id, "Harbour").await.unwrap();
    (user.id, bot.public_id)
}

fn text(name: &str, body: &[u8]) -> NewDocument<'static> {
    NewDocument { name: Box::leak(name.to_owned().into_boxed_str()), source: "upload", mime: "text/plain", bytes: body.to_vec() }
}

/// Works the queue dry, as the server's workers would.
async fn drain(db: &PgPool) {
    while worker::run_once(db, &settings(), &common::providers(db), "test-worker").await.unwrap() {}
}

async fn vector_rows(db: &PgPool, document: Uuid) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM chunk_vectors v JOIN chunks c ON c.id = v.chunk_id WHERE c.document_id = $1")
        .bind(document)
        .fetch_one(db)
        .await
        .unwrap()
}

/// Hybrid search as the playground and chat run it.
async fn hybrid(db: &PgPool, owner: Uuid, bot: &str, query: &str) -> Vec<chatsphere::features::knowledge::SearchHit> {
    let bot = search::owned_bot(db, owner, bot).await.unwrap();
    search::hybrid(db, &common::providers(db), &bot, query, 5).await.unwrap()
}

async fn live_chunk_rows(db: &PgPool, document: Uuid) -> (i64, i64) {
    sqlx::query_as(
        "SELECT count(*), count(*) FILTER (WHERE c.generation = d.generation)
           FROM chunks c JOIN documents d ON d.id = c.document_id WHERE c.document_id = $1",
    )
    .bind(document)
    .fetch_one(db)
    .await
    .unwrap()
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn a_document_goes_from_queued_to_ready_and_is_searchable(db: PgPool) {
    let (owner, bot) = owner_and_bot(&db, "ada@example.com").await;
    let (doc, created) = store::add(&db, owner, &bot, text("guide.md", GUIDE.as_bytes())).await.unwrap();
    assert!(created);
    assert_eq!((doc.status, doc.progress), (DocStatus::Queued, 0.0));

    drain(&db).await;
    let doc = store::get(&db, owner, doc.id).await.unwrap();
    assert_eq!(doc.status, DocStatus::Ready, "{:?}", doc.error);
    assert_eq!(doc.progress, 1.0);
    let bodies = [
        "Install the harbour crane before the first shipment arrives.",
        "The ledger lives in PostgreSQL and is backed up nightly.",
        "Ask the quartermaster about cargo manifests and tide tables.",
    ];
    assert_eq!(doc.char_count.unwrap() as usize, bodies.iter().map(|b| b.len()).sum::<usize>(), "headings are structure, not text");

    let chunks = store::chunks(&db, owner, doc.id).await.unwrap();
    assert_eq!(chunks.len() as i32, doc.chunk_count);
    let paths: Vec<_> = chunks.iter().map(|c| c.heading_path.as_str()).collect();
    assert_eq!(paths, vec!["Setup", "Setup › Database", "Usage"]);
    assert!(chunks.windows(2).all(|w| w[0].ordinal < w[1].ordinal));

    let hits = search::keyword(&db, &common::providers(&db), owner, &bot, "where is the ledger backed up?", 5).await.unwrap();
    assert_eq!(hits[0].chunk.heading_path, "Setup › Database");
    assert!(hits[0].score > 0.0 && hits[0].score < 1.0);
    assert!(search::keyword(&db, &common::providers(&db), owner, &bot, "zeppelin", 5).await.unwrap().is_empty());
    assert!(search::keyword(&db, &common::providers(&db), owner, &bot, "the and of", 5).await.unwrap().is_empty(), "stop words alone match nothing");
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn meaning_finds_what_keywords_miss_and_fusion_keeps_both(db: PgPool) {
    let (owner, bot) = owner_and_bot(&db, "ada@example.com").await;
    let manual = "# Vehicle care\nRotate the tyres every ten thousand kilometres and change the engine oil twice a year.\n\n\
                  # Billing\nInvoices are emailed on the first working day of each month.\n\n\
                  # Harbour\nThe quartermaster keeps the cargo manifests and tide tables.\n";
    let (doc, _) = store::add(&db, owner, &bot, text("manual.md", manual.as_bytes())).await.unwrap();
    drain(&db).await;
    assert_eq!(vector_rows(&db, doc.id).await, 3);

    // No word in common with the passage: keyword search finds nothing, vectors find it.
    let question = "how should I look after my car?";
    assert!(search::keyword(&db, &common::providers(&db), owner, &bot, question, 5).await.unwrap().is_empty());
    let hits = hybrid(&db, owner, &bot, question).await;
    assert_eq!(hits[0].chunk.heading_path, "Vehicle care");
    assert!(hits[0].keyword.is_none() && hits[0].vector.unwrap() > 0.1, "{:?}", hits[0]);

    // Both lists agree on an exact-term question: first in both, fused score 1.
    let hits = hybrid(&db, owner, &bot, "who keeps the tide tables?").await;
    assert_eq!(hits[0].chunk.heading_path, "Harbour");
    assert!(hits[0].keyword.is_some() && hits[0].vector.is_some());
    assert!((hits[0].fused - 1.0).abs() < 1e-6, "{:?}", hits[0]);
    assert!(hits.windows(2).all(|w| w[0].fused >= w[1].fused), "best first");

    // Disabling takes the document out of vector search too (the cache sees the change).
    store::set_enabled(&db, owner, doc.id, false).await.unwrap();
    assert!(hybrid(&db, owner, &bot, question).await.is_empty());
    store::set_enabled(&db, owner, doc.id, true).await.unwrap();
    assert_eq!(hybrid(&db, owner, &bot, question).await[0].chunk.heading_path, "Vehicle care");
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn one_store_serves_changes_made_through_another(db: PgPool) {
    // Two server processes share the database; each has its own vector cache.
    let (owner, bot) = owner_and_bot(&db, "ada@example.com").await;
    let reader = common::providers(&db);
    let found = |hits: Vec<chatsphere::features::knowledge::SearchHit>| hits.iter().any(|h| h.chunk.text.contains("quartermaster"));
    let b = search::owned_bot(&db, owner, &bot).await.unwrap();
    assert!(search::hybrid(&db, &reader, &b, "who has the manifests?", 5).await.unwrap().is_empty(), "cached empty");

    let (doc, _) = store::add(&db, owner, &bot, text("guide.md", GUIDE.as_bytes())).await.unwrap();
    drain(&db).await; // another process's worker
    assert!(found(search::hybrid(&db, &reader, &b, "who has the manifests?", 5).await.unwrap()));
    store::delete(&db, owner, doc.id).await.unwrap();
    assert!(search::hybrid(&db, &reader, &b, "who has the manifests?", 5).await.unwrap().is_empty());
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn identical_content_is_recognised_and_queues_nothing(db: PgPool) {
    let (owner, bot) = owner_and_bot(&db, "ada@example.com").await;
    let (first, _) = store::add(&db, owner, &bot, text("guide.md", GUIDE.as_bytes())).await.unwrap();
    drain(&db).await;
    let (again, created) = store::add(&db, owner, &bot, text("copy of guide.md", GUIDE.as_bytes())).await.unwrap();
    assert!(!created);
    assert_eq!(again.id, first.id);
    let jobs: i64 = sqlx::query_scalar("SELECT count(*) FROM ingestion_jobs").fetch_one(&db).await.unwrap();
    assert_eq!(jobs, 1, "no second job");
    assert_eq!(store::list(&db, owner, &bot).await.unwrap().len(), 1);
    assert_eq!(bots::list(&db, owner).await.unwrap()[0].documents, 1, "the bot card counts it once");
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn each_bad_file_fails_alone_with_a_reason(db: PgPool) {
    let (owner, bot) = owner_and_bot(&db, "ada@example.com").await;
    let (good, _) = store::add(&db, owner, &bot, text("guide.md", GUIDE.as_bytes())).await.unwrap();
    let bad: &[(&str, &[u8], &str)] = &[
        ("empty.txt", b"", "The file is empty."),
        ("latin1.txt", b"caf\xe9", "not valid UTF-8"),
        ("image.txt", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", "is an image"),
        ("truncated.pdf", b"%PDF-1.4\n%\xe2\xe3", "The PDF is damaged or truncated"),
        ("report.docx", b"PK\x03\x04\x14\0\x06\0", "damaged zip archive"),
    ];
    let mut ids = vec![];
    for (name, bytes, _) in bad {
        ids.push(store::add(&db, owner, &bot, text(name, bytes)).await.unwrap().0.id);
    }
    drain(&db).await;
    for ((name, _, reason), id) in bad.iter().zip(ids) {
        let doc = store::get(&db, owner, id).await.unwrap();
        assert_eq!(doc.status, DocStatus::Failed, "{name}");
        let error = doc.error.unwrap();
        assert!(error.contains(reason), "{name}: {error}");
        assert_eq!(live_chunk_rows(&db, id).await.0, 0, "{name} left no chunks");
    }
    let good = store::get(&db, owner, good.id).await.unwrap();
    assert_eq!(good.status, DocStatus::Ready, "the good document is untouched");
    assert!(!search::keyword(&db, &common::providers(&db), owner, &bot, "quartermaster", 5).await.unwrap().is_empty());
    let failed_jobs: i64 = sqlx::query_scalar("SELECT count(*) FROM ingestion_jobs WHERE state = 'failed' AND attempts = 1")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(failed_jobs, 5, "unreadable files are not retried");
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn a_worker_that_dies_mid_job_loses_nothing_and_duplicates_nothing(db: PgPool) {
    let (owner, bot) = owner_and_bot(&db, "ada@example.com").await;
    let (doc, _) = store::add(&db, owner, &bot, text("guide.md", GUIDE.as_bytes())).await.unwrap();

    // Worker A claims the job, writes part of the next chunk set, and dies.
    let job = queue::claim(&db, "worker-a", 30).await.unwrap().expect("a job");
    sqlx::query(
        "INSERT INTO chunks (document_id, bot_id, generation, ordinal, token_count, text)
         SELECT id, bot_id, generation + 1, 0, 3, 'half written chunk' FROM documents WHERE id = $1",
    )
    .bind(doc.id)
    .execute(&db)
    .await
    .unwrap();
    assert!(queue::claim(&db, "worker-b", 30).await.unwrap().is_none(), "a held lease keeps the job from others");

    // Its lease runs out; the watchdog in worker B's loop puts the job back and B runs it.
    sqlx::query("UPDATE ingestion_jobs SET lease_until = now() - interval '1 second'").execute(&db).await.unwrap();
    assert!(worker::run_once(&db, &settings(), &common::providers(&db), "worker-b").await.unwrap());

    let doc = store::get(&db, owner, doc.id).await.unwrap();
    assert_eq!(doc.status, DocStatus::Ready);
    let (all, live) = live_chunk_rows(&db, doc.id).await;
    assert_eq!((all, live), (doc.chunk_count as i64, doc.chunk_count as i64), "no leftovers, no duplicates");
    assert_eq!(vector_rows(&db, doc.id).await, doc.chunk_count as i64, "one vector per live chunk");
    assert!(store::chunks(&db, owner, doc.id).await.unwrap().iter().all(|c| c.text != "half written chunk"));

    // Worker A wakes up late: it can no longer commit anything.
    let mut tx = db.begin().await.unwrap();
    assert!(!queue::finish(&mut tx, &job, "worker-a").await.unwrap());
    assert_eq!(queue::heartbeat(&db, &job, "worker-a", 30, 3600).await.unwrap(), queue::Lease::Lost);
    let attempts: i32 = sqlx::query_scalar("SELECT attempts FROM ingestion_jobs").fetch_one(&db).await.unwrap();
    assert_eq!(attempts, 2);
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn passing_failures_are_retried_with_backoff_then_given_up(db: PgPool) {
    let (owner, bot) = owner_and_bot(&db, "ada@example.com").await;
    store::add(&db, owner, &bot, text("guide.md", GUIDE.as_bytes())).await.unwrap();
    let job = queue::claim(&db, "w", 30).await.unwrap().unwrap();
    assert!(matches!(queue::retry_later(&db, &job, "w", "database went away", 2).await.unwrap(), queue::Outcome::WillRetry));
    let (state, wait): (String, f64) =
        sqlx::query_as("SELECT state, EXTRACT(EPOCH FROM run_after - now())::float8 FROM ingestion_jobs").fetch_one(&db).await.unwrap();
    assert_eq!(state, "pending");
    assert!((1.0..=3.0).contains(&wait), "first retry waits about 2 s, not {wait}");
    assert!(queue::claim(&db, "w", 30).await.unwrap().is_none(), "not before its time");

    sqlx::query("UPDATE ingestion_jobs SET run_after = now()").execute(&db).await.unwrap();
    let job = queue::claim(&db, "w", 30).await.unwrap().unwrap();
    assert_eq!(job.attempts, 2);
    assert!(matches!(queue::retry_later(&db, &job, "w", "still down", 2).await.unwrap(), queue::Outcome::GaveUp));
    let state: String = sqlx::query_scalar("SELECT state FROM ingestion_jobs").fetch_one(&db).await.unwrap();
    assert_eq!(state, "failed");
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn reprocessing_keeps_the_old_chunks_searchable_until_the_swap(db: PgPool) {
    let (owner, bot) = owner_and_bot(&db, "ada@example.com").await;
    let (doc, _) = store::add(&db, owner, &bot, text("guide.md", GUIDE.as_bytes())).await.unwrap();
    drain(&db).await;
    let before = store::chunks(&db, owner, doc.id).await.unwrap();

    let queued = store::reprocess(&db, owner, doc.id).await.unwrap();
    assert_eq!(queued.status, DocStatus::Queued);
    assert_eq!(store::chunks(&db, owner, doc.id).await.unwrap(), before, "the live set is untouched while queued");
    assert!(!search::keyword(&db, &common::providers(&db), owner, &bot, "quartermaster", 5).await.unwrap().is_empty());

    drain(&db).await;
    let after = store::chunks(&db, owner, doc.id).await.unwrap();
    assert_eq!(after.len(), before.len());
    assert!(after.iter().zip(&before).all(|(a, b)| a.text == b.text && a.id != b.id), "a fresh set replaced the old");
    let (all, live) = live_chunk_rows(&db, doc.id).await;
    assert_eq!(all, live, "the old generation is gone");
    assert_eq!(vector_rows(&db, doc.id).await, live, "and its vectors with it");
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn disabled_documents_leave_search_and_deleted_ones_leave_nothing(db: PgPool) {
    let (owner, bot) = owner_and_bot(&db, "ada@example.com").await;
    let (doc, _) = store::add(&db, owner, &bot, text("guide.md", GUIDE.as_bytes())).await.unwrap();
    drain(&db).await;

    store::set_enabled(&db, owner, doc.id, false).await.unwrap();
    assert!(search::keyword(&db, &common::providers(&db), owner, &bot, "quartermaster", 5).await.unwrap().is_empty());
    store::set_enabled(&db, owner, doc.id, true).await.unwrap();
    assert_eq!(search::keyword(&db, &common::providers(&db), owner, &bot, "quartermaster", 5).await.unwrap().len(), 1);

    store::delete(&db, owner, doc.id).await.unwrap();
    for (table, n) in common::rows_referencing(&db, "documents", doc.id).await {
        assert_eq!(n, 0, "{table} still holds rows of the deleted document");
    }
    assert!(search::keyword(&db, &common::providers(&db), owner, &bot, "quartermaster", 5).await.unwrap().is_empty());
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn deleting_a_bot_takes_its_knowledge_with_it(db: PgPool) {
    let (owner, bot) = owner_and_bot(&db, "ada@example.com").await;
    store::add(&db, owner, &bot, text("guide.md", GUIDE.as_bytes())).await.unwrap();
    drain(&db).await;
    bots::delete(&db, owner, &bot).await.unwrap();
    for table in ["documents", "document_originals", "chunks", "chunk_vectors", "ingestion_jobs"] {
        let n: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {table}")).fetch_one(&db).await.unwrap();
        assert_eq!(n, 0, "{table} kept rows of the deleted bot");
    }
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn another_user_cannot_reach_any_document(db: PgPool) {
    let (owner, bot) = owner_and_bot(&db, "ada@example.com").await;
    let (intruder, _) = owner_and_bot(&db, "mallory@example.com").await;
    let (doc, _) = store::add(&db, owner, &bot, text("guide.md", GUIDE.as_bytes())).await.unwrap();
    drain(&db).await;
    let doc_gone = AppError::NotFound("Document".into());
    let bot_gone = AppError::NotFound("Bot".into());

    assert_eq!(store::list(&db, intruder, &bot).await.unwrap_err(), bot_gone);
    assert_eq!(store::add(&db, intruder, &bot, text("x.txt", b"planted")).await.unwrap_err(), bot_gone);
    assert_eq!(store::get(&db, intruder, doc.id).await.unwrap_err(), doc_gone);
    assert_eq!(store::chunks(&db, intruder, doc.id).await.unwrap_err(), doc_gone);
    assert_eq!(store::set_enabled(&db, intruder, doc.id, false).await.unwrap_err(), doc_gone);
    assert_eq!(store::reprocess(&db, intruder, doc.id).await.unwrap_err(), doc_gone);
    assert_eq!(store::delete(&db, intruder, doc.id).await.unwrap_err(), doc_gone);
    assert_eq!(search::keyword(&db, &common::providers(&db), intruder, &bot, "quartermaster", 5).await.unwrap_err(), bot_gone);
    assert_eq!(search::owned_bot(&db, intruder, &bot).await.err().unwrap(), bot_gone, "nor search it by meaning");

    let doc = store::get(&db, owner, doc.id).await.unwrap();
    assert!(doc.enabled && doc.status == DocStatus::Ready);
    assert_eq!(store::list(&db, owner, &bot).await.unwrap().len(), 1, "nothing was planted");
}

mod files {
    //! Real files, built with real libraries, for the extraction tests.
    use lopdf::content::{Content, Operation};
    use lopdf::{dictionary, Document, Object, Stream};
    use std::io::Write;

    /// A PDF with one page per entry; `None` is a page with no text layer (like a scan).
    pub fn pdf(pages: &[Option<&str>]) -> Vec<u8> {
        let mut doc = Document::with_version("1.5");
        let pages_id = doc.new_object_id();
        let font_id = doc.add_object(dictionary! { "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica" });
        let resources_id = doc.add_object(dictionary! { "Font" => dictionary! { "F1" => font_id } });
        let mut kids = vec![];
        for page in pages {
            let mut operations = vec![];
            if let Some(text) = page {
                operations = vec![
                    Operation::new("BT", vec![]),
                    Operation::new("Tf", vec!["F1".into(), 12.into()]),
                    Operation::new("Td", vec![72.into(), 720.into()]),
                    Operation::new("Tj", vec![Object::string_literal(*text)]),
                    Operation::new("ET", vec![]),
                ];
            }
            let content_id = doc.add_object(Stream::new(dictionary! {}, Content { operations }.encode().unwrap()));
            kids.push(Object::from(doc.add_object(dictionary! {
                "Type" => "Page", "Parent" => pages_id, "Contents" => content_id,
            })));
        }
        let count = kids.len() as i64;
        doc.objects.insert(pages_id, Object::Dictionary(dictionary! {
            "Type" => "Pages", "Kids" => kids, "Count" => count, "Resources" => resources_id,
            "MediaBox" => vec![0.into(), 0.into(), 612.into(), 792.into()],
        }));
        let catalog_id = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
        doc.trailer.set("Root", catalog_id);
        let mut out = Vec::new();
        doc.save_to(&mut out).unwrap();
        out
    }

    /// A PDF whose trailer says it is encrypted with a password we do not have.
    pub fn encrypted_pdf() -> Vec<u8> {
        let mut doc = Document::load_mem(&pdf(&[Some("secret")])).unwrap();
        let encrypt_id = doc.add_object(dictionary! {
            "Filter" => "Standard", "V" => 2, "R" => 3, "Length" => 128, "P" => -3904,
            "O" => Object::string_literal(vec![7u8; 32]), "U" => Object::string_literal(vec![9u8; 32]),
        });
        doc.trailer.set("Encrypt", encrypt_id);
        doc.trailer.set("ID", vec![Object::string_literal(vec![1u8; 16]), Object::string_literal(vec![1u8; 16])]);
        let mut out = Vec::new();
        doc.save_to(&mut out).unwrap();
        out
    }

    fn zip_with(parts: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = std::io::Cursor::new(Vec::new());
        let mut zip = zip::ZipWriter::new(&mut out);
        let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        for (name, bytes) in parts {
            zip.start_file(*name, options).unwrap();
            zip.write_all(bytes).unwrap();
        }
        zip.finish().unwrap();
        out.into_inner()
    }

    /// A Word document: (style, text) paragraphs.
    pub fn docx(paragraphs: &[(&str, &str)]) -> Vec<u8> {
        let body: String = paragraphs
            .iter()
            .map(|(style, text)| {
                let style = if style.is_empty() { String::new() } else { format!(r#"<w:pPr><w:pStyle w:val="{style}"/></w:pPr>"#) };
                format!("<w:p>{style}<w:r><w:t>{text}</w:t></w:r></w:p>")
            })
            .collect();
        let xml = format!(
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>{body}</w:body></w:document>"#
        );
        zip_with(&[("[Content_Types].xml", b"<Types/>"), ("word/document.xml", xml.as_bytes())])
    }

    /// A zip holding `marker` (the part that says what kind of office file it is) and a part that
    /// unpacks past the 64 MB cap.
    pub fn office_bomb(marker: &str, big_part: &str) -> Vec<u8> {
        let huge = vec![b' '; 65 * 1024 * 1024];
        zip_with(&[(marker, b"<x/>"), (big_part, &huge)])
    }

    /// A workbook with two cells far apart: a reader that makes the sheet a dense table needs
    /// 16,384 × 1,048,576 cells.
    pub fn far_apart_cells_xlsx() -> Vec<u8> {
        let sheet = br#"<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>first</t></is></c></row><row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>last</t></is></c></row></sheetData></worksheet>"#;
        let workbook = br#"<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>"#;
        let rels = br#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"></Relationship></Relationships>"#;
        let types = br#"<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>"#;
        let package = br#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"></Relationship></Relationships>"#;
        zip_with(&[
            ("[Content_Types].xml", types),
            ("_rels/.rels", package),
            ("xl/workbook.xml", workbook),
            ("xl/_rels/workbook.xml.rels", rels),
            ("xl/worksheets/sheet1.xml", sheet),
        ])
    }

    /// A small zip whose document part unpacks to more than the 64 MB cap.
    pub fn docx_bomb() -> Vec<u8> {
        let huge = vec![b' '; 65 * 1024 * 1024];
        zip_with(&[("word/document.xml", &huge)])
    }
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn pdf_docx_and_csv_become_cited_chunks(db: PgPool) {
    let (owner, bot) = owner_and_bot(&db, "ada@example.com").await;
    let pdf = files::pdf(&[Some("The lighthouse keeper lights the lamp at dusk."), Some("Fog horns sound every thirty seconds in fog.")]);
    let docx = files::docx(&[
        ("Title", "Crew handbook"),
        ("Heading1", "Meals"),
        ("", "Breakfast is served at six &amp; dinner at seven."),
        ("Heading1", "Watches"),
        ("", "The night watch changes at midnight."),
    ]);
    let csv = b"vessel,captain,berth\nAurora,Ada,North 3\nBorealis,Grace,South 1\n";
    let (pdf_doc, _) = store::add(&db, owner, &bot, text("keeper.pdf", &pdf)).await.unwrap();
    let (docx_doc, _) = store::add(&db, owner, &bot, text("handbook.docx", &docx)).await.unwrap();
    let (csv_doc, _) = store::add(&db, owner, &bot, text("berths.csv", csv)).await.unwrap();
    drain(&db).await;

    let pdf_doc = store::get(&db, owner, pdf_doc.id).await.unwrap();
    assert_eq!(pdf_doc.status, DocStatus::Ready, "{:?}", pdf_doc.error);
    assert_eq!(pdf_doc.page_count, Some(2));
    let hits = search::keyword(&db, &common::providers(&db), owner, &bot, "how often do fog horns sound", 3).await.unwrap();
    assert_eq!(hits[0].chunk.document_name, "keeper.pdf");
    assert_eq!(hits[0].chunk.page, Some(2), "the citation names the page");

    let chunks = store::chunks(&db, owner, docx_doc.id).await.unwrap();
    let paths: Vec<_> = chunks.iter().map(|c| c.heading_path.as_str()).collect();
    assert_eq!(paths, vec!["Crew handbook › Meals", "Crew handbook › Watches"]);
    assert_eq!(chunks[0].text, "Breakfast is served at six & dinner at seven.");

    let chunks = store::chunks(&db, owner, csv_doc.id).await.unwrap();
    assert!(chunks[0].text.contains("vessel: Borealis; captain: Grace; berth: South 1"), "{}", chunks[0].text);
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn spreadsheets_slides_and_web_pages_become_cited_chunks(db: PgPool) {
    let (owner, bot) = owner_and_bot(&db, "ada@example.com").await;
    let xlsx = include_bytes!("fixtures/berths.xlsx");
    let pptx = include_bytes!("fixtures/briefing.pptx");
    let html = b"<!doctype html><html><head><title>Port</title></head><body><nav>Menu</nav>\
        <article><h1>Port rules</h1><p>Speed limit in the harbour is five knots.</p>\
        <h2>Fuel</h2><p>Refuelling only at berth South 1.</p></article><footer>Contact</footer></body></html>";
    // Named .bin: the type comes from the content.
    let (x, _) = store::add(&db, owner, &bot, text("berths.bin", xlsx)).await.unwrap();
    let (p, _) = store::add(&db, owner, &bot, text("briefing.pptx", pptx)).await.unwrap();
    let (h, _) = store::add(&db, owner, &bot, text("rules.txt", html)).await.unwrap();
    drain(&db).await;

    let sheet = store::chunks(&db, owner, x.id).await.unwrap();
    assert_eq!(store::get(&db, owner, x.id).await.unwrap().status, DocStatus::Ready);
    let berths = sheet.iter().find(|c| c.heading_path == "Berths").expect("a section per sheet");
    assert!(berths.text.contains("vessel: Borealis; captain: Grace; berth: South 1; length_m: 95.5"), "{}", berths.text);
    assert!(berths.text.contains("length_m: 120"), "whole numbers stay whole: {}", berths.text);
    assert!(sheet.iter().any(|c| c.heading_path == "Crew" && c.text.contains("name: Linus; role: Quartermaster")));

    let slides = store::chunks(&db, owner, p.id).await.unwrap();
    assert_eq!(store::get(&db, owner, p.id).await.unwrap().page_count, Some(2));
    assert_eq!(slides[0].heading_path, "Slide 1: Harbour safety");
    assert!(slides[0].text.contains("Life jackets are stored in the blue lockers."));
    assert_eq!((slides[1].heading_path.as_str(), slides[1].page), ("Slide 2: Cargo & cranes", Some(2)));
    assert!(slides.iter().all(|c| !c.text.contains("Presenter only")), "speaker notes stay out");

    let page = store::chunks(&db, owner, h.id).await.unwrap();
    let paths: Vec<_> = page.iter().map(|c| c.heading_path.as_str()).collect();
    assert_eq!(paths, vec!["Port rules", "Port rules › Fuel"]);
    assert!(page.iter().all(|c| !c.text.contains("Menu") && !c.text.contains("Contact")));
}

/// A small web server for the URL tests: a page, a redirect to it, an error, a slow page, a
/// page too large.
async fn web_server() -> String {
    use axum::response::{Html, Redirect};
    use axum::routing::get;
    let app = axum::Router::new()
        .route("/page", get(|| async { Html("<html><head><title>Tides</title></head><body><main><p>Spring tides come after the full moon.</p></main></body></html>") }))
        .route("/moved", get(|| async { Redirect::temporary("/page") }))
        .route("/missing", get(|| async { (http::StatusCode::NOT_FOUND, "no such page") }))
        .route("/slow", get(|| async {
            tokio::time::sleep(std::time::Duration::from_secs(5)).await;
            Html("<p>too late</p>")
        }))
        .route("/huge", get(|| async { Html(format!("<p>{}</p>", "word ".repeat(100_000))) }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn web_pages_are_fetched_and_each_bad_address_fails_alone(db: PgPool) {
    let (owner, bot) = owner_and_bot(&db, "ada@example.com").await;
    let base = web_server().await;
    let open = KnowledgeSettings { allow_private_urls: true, url_timeout_secs: 2, url_max_bytes: 64 * 1024, ..settings() };
    let url_doc = |u: String| NewDocument { name: Box::leak(u.clone().into_boxed_str()), source: "url", mime: "text/uri-list", bytes: u.into_bytes() };
    let mut ids = vec![];
    for path in ["/moved", "/missing", "/slow", "/huge"] {
        ids.push(store::add(&db, owner, &bot, url_doc(format!("{base}{path}"))).await.unwrap().0.id);
    }
    while worker::run_once(&db, &open, &common::providers(&db), "w").await.unwrap() {}

    let page = store::get(&db, owner, ids[0]).await.unwrap();
    assert_eq!(page.status, DocStatus::Ready, "{:?}", page.error);
    let chunks = store::chunks(&db, owner, ids[0]).await.unwrap();
    assert_eq!(chunks[0].heading_path, "Tides");
    assert_eq!(chunks[0].text, "Spring tides come after the full moon.");
    for (id, reason) in ids[1..].iter().zip(["HTTP 404", "did not answer within 2 seconds", "larger than"]) {
        let doc = store::get(&db, owner, *id).await.unwrap();
        assert_eq!(doc.status, DocStatus::Failed);
        assert!(doc.error.as_deref().unwrap_or_default().contains(reason), "{reason}: {:?}", doc.error);
    }

    // The same address twice is one document.
    let (again, created) = store::add(&db, owner, &bot, url_doc(format!("{base}/moved"))).await.unwrap();
    assert!(!created && again.id == ids[0]);

    // Without the test-only switch, the server refuses to fetch from its own network.
    store::reprocess(&db, owner, ids[0]).await.unwrap();
    while worker::run_once(&db, &settings(), &common::providers(&db), "w").await.unwrap() {}
    let refused = store::get(&db, owner, ids[0]).await.unwrap();
    assert!(refused.error.as_deref().unwrap_or_default().contains("private network"), "{:?}", refused.error);
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn unreadable_pdfs_and_office_files_say_why(db: PgPool) {
    let (owner, bot) = owner_and_bot(&db, "ada@example.com").await;
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("scan.pdf", files::pdf(&[None, None]), "No extractable text: is it a scanned PDF? OCR is not supported."),
        ("locked.pdf", files::encrypted_pdf(), "password-protected"),
        ("bomb.docx", files::docx_bomb(), "more than 64 MB"),
        ("bomb.xlsx", files::office_bomb("xl/workbook.xml", "xl/worksheets/sheet1.xml"), "more than 64 MB"),
        ("bomb.pptx", files::office_bomb("ppt/presentation.xml", "ppt/slides/slide1.xml"), "more than 64 MB"),
        ("old.doc", b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1rest of an old Word file".to_vec(), "save the file as .docx"),
        ("truncated.pdf", files::pdf(&[Some("cut short")])[..200].to_vec(), "damaged"),
    ];
    let mut ids = vec![];
    for (name, bytes, _) in &cases {
        ids.push(store::add(&db, owner, &bot, text(name, bytes)).await.unwrap().0.id);
    }
    drain(&db).await;
    for ((name, _, reason), id) in cases.iter().zip(ids) {
        let doc = store::get(&db, owner, id).await.unwrap();
        assert_eq!(doc.status, DocStatus::Failed, "{name}");
        assert!(doc.error.as_deref().unwrap_or_default().contains(reason), "{name}: {:?}", doc.error);
    }
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn a_changed_upload_replaces_its_document_and_the_old_text_answers_until_then(db: PgPool) {
    let (owner, bot) = owner_and_bot(&db, "ada@example.com").await;
    let (first, _) = store::add(&db, owner, &bot, text("tides.txt", b"High tide is at noon.")).await.unwrap();
    drain(&db).await;
    assert!(store::get(&db, owner, first.id).await.unwrap().stage_ms.contains_key("indexing"));

    let (second, created) = store::add(&db, owner, &bot, text("tides.txt", b"High tide is at two in the afternoon.")).await.unwrap();
    assert!(created);
    assert_eq!(second.id, first.id, "same name: the document is replaced, not duplicated");
    assert_eq!(second.status, DocStatus::Queued);
    let hits = search::keyword(&db, &common::providers(&db), owner, &bot, "when is high tide", 5).await.unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].chunk.text, "High tide is at noon.", "the old text answers until the new one is ready");

    drain(&db).await;
    let hits = search::keyword(&db, &common::providers(&db), owner, &bot, "when is high tide", 5).await.unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].chunk.text, "High tide is at two in the afternoon.");
    assert_eq!(store::list(&db, owner, &bot).await.unwrap().len(), 1);
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn words_in_most_chunks_do_not_outrank_the_rare_word_asked_for(db: PgPool) {
    let (owner, bot) = owner_and_bot(&db, "ada@example.com").await;
    for i in 0..60 {
        store::add(&db, owner, &bot, text(&format!("note{i}.md"), format!("Harbour note {i}: the harbour is open today.").as_bytes())).await.unwrap();
    }
    store::add(&db, owner, &bot, text("keeper.md", b"The lighthouse keeper feeds the gulls.")).await.unwrap();
    drain(&db).await;
    // "harbour" is in 60 of 61 chunks, twice each: ranked on it, every note would beat the keeper.
    let hits = search::keyword(&db, &common::providers(&db), owner, &bot, "harbour lighthouse", 5).await.unwrap();
    assert_eq!(hits[0].chunk.document_name, "keeper.md", "{:?}", hits.iter().map(|h| &h.chunk.document_name).collect::<Vec<_>>());
    // A question made only of common words still finds them.
    assert_eq!(search::keyword(&db, &common::providers(&db), owner, &bot, "harbour", 5).await.unwrap().len(), 5);
}

/// An "extractor" that is a shell script, to stand in for a parser that hangs or crashes.
fn script(name: &str, body: &str) -> String {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::temp_dir().join(format!("chatsphere-{name}-{}.sh", std::process::id()));
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path.to_string_lossy().into_owned()
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn a_file_that_exhausts_its_reader_fails_alone_and_the_server_carries_on(db: PgPool) {
    let (owner, bot) = owner_and_bot(&db, "ada@example.com").await;
    let (good, _) = store::add(&db, owner, &bot, text("guide.md", GUIDE.as_bytes())).await.unwrap();
    let (bomb, _) = store::add(&db, owner, &bot, text("far.xlsx", &files::far_apart_cells_xlsx())).await.unwrap();
    drain(&db).await;
    let bomb = store::get(&db, owner, bomb.id).await.unwrap();
    assert_eq!(bomb.status, DocStatus::Failed);
    assert_eq!(bomb.error.as_deref(), Some("The file could not be read: it needs more memory than a document is allowed."));
    assert_eq!(store::get(&db, owner, good.id).await.unwrap().status, DocStatus::Ready);
    assert!(!search::keyword(&db, &common::providers(&db), owner, &bot, "quartermaster", 5).await.unwrap().is_empty());
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn a_reader_that_hangs_or_crashes_costs_only_its_document(db: PgPool) {
    let (owner, bot) = owner_and_bot(&db, "ada@example.com").await;
    let cases = [
        ("hangs", "exec sleep 600", "needs more time than a document is allowed"),
        ("crashes", "kill -SEGV $$", "appears to be damaged"),
        ("is killed", "kill -KILL $$", "needs more memory or time"),
    ];
    for (what, body, reason) in cases {
        let (doc, _) = store::add(&db, owner, &bot, text(&format!("{what}.txt"), what.as_bytes())).await.unwrap();
        let settings = KnowledgeSettings { extract_program: script(&what.replace(' ', "-"), body), extract_timeout_secs: 1, ..settings() };
        assert!(worker::run_once(&db, &settings, &common::providers(&db), "w").await.unwrap());
        let doc = store::get(&db, owner, doc.id).await.unwrap();
        assert_eq!(doc.status, DocStatus::Failed, "{what}");
        assert!(doc.error.as_deref().unwrap_or_default().contains(reason), "{what}: {:?}", doc.error);
    }
    let attempts: Vec<i32> = sqlx::query_scalar("SELECT attempts FROM ingestion_jobs").fetch_all(&db).await.unwrap();
    assert_eq!(attempts, vec![1, 1, 1], "a file its reader cannot survive is not tried again");
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn a_job_whose_worker_dies_at_every_attempt_fails_for_good(db: PgPool) {
    let (owner, bot) = owner_and_bot(&db, "ada@example.com").await;
    let (doc, _) = store::add(&db, owner, &bot, text("poison.md", GUIDE.as_bytes())).await.unwrap();
    let max_attempts = settings().max_attempts;
    for attempt in 1..=max_attempts {
        // A worker claims the job and the whole process dies: its lease runs out.
        let job = queue::claim(&db, &format!("doomed-{attempt}"), 30).await.unwrap().expect("the job is offered again");
        assert_eq!(job.attempts, attempt);
        sqlx::query("UPDATE ingestion_jobs SET lease_until = now() - interval '1 second'").execute(&db).await.unwrap();
        queue::requeue_expired(&db, max_attempts).await.unwrap();
    }
    let (state, doc_status, error): (String, String, Option<String>) = sqlx::query_as(
        "SELECT j.state, d.status, d.error FROM ingestion_jobs j JOIN documents d ON d.id = j.document_id WHERE d.id = $1",
    )
    .bind(doc.id)
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!((state.as_str(), doc_status.as_str()), ("failed", "failed"));
    assert_eq!(error.as_deref(), Some(queue::STOPPED_REPEATEDLY));
    assert!(!worker::run_once(&db, &settings(), &common::providers(&db), "w").await.unwrap(), "nothing is left to crash on");

    // Uploading the same bytes again is the owner trying again: the document is queued anew.
    let (again, queued) = store::add(&db, owner, &bot, text("poison.md", GUIDE.as_bytes())).await.unwrap();
    assert_eq!((again.id, queued), (doc.id, true));
    drain(&db).await;
    assert_eq!(store::get(&db, owner, doc.id).await.unwrap().status, DocStatus::Ready);
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn account_quotas_refuse_whole_files_and_name_the_limit(db: PgPool) {
    let mut settings = common::settings();
    settings.knowledge.max_documents_per_account = 2;
    settings.knowledge.max_stored_mb_per_account = 1;
    settings.knowledge.max_chunks_per_account = 3;
    let app = common::app_with(db.clone(), settings.clone(), common::providers(&db));
    let cookie = common::signed_up_as(&app, "ada@example.com").await;
    let created = common::call(&app, "bots/create", &[("name", "Harbour")], Some(common::ORIGIN), Some(&cookie)).await;
    let bot = serde_json::from_str::<serde_json::Value>(&created.body).unwrap()["public_id"].as_str().unwrap().to_owned();

    let big = vec![b'a'; 1024 * 1024 + 1];
    let reply = common::upload(&app, &cookie, &bot, &[("one.md", GUIDE.as_bytes()), ("big.txt", &big)]).await;
    let results: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
    assert!(results[0]["document"].is_object(), "{results}");
    assert!(results[1]["error"].as_str().unwrap().contains("1 MB of stored documents"), "{results}");
    let many_words = "Lighthouse keepers log the weather every evening. ".repeat(200);
    let reply = common::upload(&app, &cookie, &bot, &[("two.md", many_words.as_bytes()), ("three.md", b"A third small note.")]).await;
    let results: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
    assert!(results[0]["document"].is_object(), "{results}");
    assert!(results[1]["error"].as_str().unwrap().contains("limit of 2 documents"), "{results}");
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM documents").fetch_one(&db).await.unwrap();
    assert_eq!(stored, 2, "refused files left nothing behind");

    // The passage quota is known only once the document is chunked: that document fails alone.
    let knowledge = KnowledgeSettings { chunk_tokens: 64, ..settings.knowledge.clone() };
    while worker::run_once(&db, &knowledge, &common::providers(&db), "w").await.unwrap() {}
    let (status, error): (String, Option<String>) = sqlx::query_as("SELECT status, error FROM documents WHERE name = 'two.md'").fetch_one(&db).await.unwrap();
    assert_eq!(status, "failed");
    assert!(error.unwrap().contains("limit of 3 indexed passages"));
    let first: String = sqlx::query_scalar("SELECT status FROM documents WHERE name = 'one.md'").fetch_one(&db).await.unwrap();
    assert_eq!(first, "ready");
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn the_queue_serves_an_account_that_waits_before_more_of_a_busy_one(db: PgPool) {
    let (busy, busy_bot) = owner_and_bot(&db, "busy@example.com").await;
    let (other, other_bot) = owner_and_bot(&db, "other@example.com").await;
    for i in 0..4 {
        store::add(&db, busy, &busy_bot, text(&format!("big-{i}.md"), format!("{GUIDE} {i}").as_bytes())).await.unwrap();
    }
    let (waiting, _) = store::add(&db, other, &other_bot, text("small.md", GUIDE.as_bytes())).await.unwrap();
    // A worker is busy with the first account's first document...
    let first = queue::claim(&db, "worker-1", 30).await.unwrap().unwrap();
    let owner_of_first: Uuid = sqlx::query_scalar("SELECT b.owner_id FROM documents d JOIN bots b ON b.id = d.bot_id WHERE d.id = $1")
        .bind(first.document_id)
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(owner_of_first, busy);
    // ...so the next free worker takes the other account's document, queued last.
    let next = queue::claim(&db, "worker-2", 30).await.unwrap().unwrap();
    assert_eq!(next.document_id, waiting.id);
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn a_lease_is_renewed_only_while_the_job_makes_progress_and_within_its_deadline(db: PgPool) {
    let (owner, bot) = owner_and_bot(&db, "ada@example.com").await;
    let (doc, _) = store::add(&db, owner, &bot, text("guide.md", GUIDE.as_bytes())).await.unwrap();
    let job = queue::claim(&db, "w", 30).await.unwrap().unwrap();
    assert_eq!(queue::heartbeat(&db, &job, "w", 30, 3600).await.unwrap(), queue::Lease::Renewed);
    // Stuck: the document has shown no progress for longer than two leases.
    sqlx::query("UPDATE documents SET updated_at = now() - interval '61 seconds' WHERE id = $1").bind(doc.id).execute(&db).await.unwrap();
    assert_eq!(queue::heartbeat(&db, &job, "w", 30, 3600).await.unwrap(), queue::Lease::Stalled);
    // Progressing, but running past the job's deadline.
    sqlx::query("UPDATE documents SET updated_at = now() WHERE id = $1").bind(doc.id).execute(&db).await.unwrap();
    sqlx::query("UPDATE ingestion_jobs SET started_at = now() - interval '2 hours'").execute(&db).await.unwrap();
    assert_eq!(queue::heartbeat(&db, &job, "w", 30, 3600).await.unwrap(), queue::Lease::Stalled);
    // Not renewed, the lease runs out and the watchdog takes the job back, counting the attempt.
    sqlx::query("UPDATE ingestion_jobs SET lease_until = now() - interval '1 second'").execute(&db).await.unwrap();
    assert_eq!(queue::requeue_expired(&db, 5).await.unwrap(), 1);
    assert_eq!(queue::heartbeat(&db, &job, "w", 30, 3600).await.unwrap(), queue::Lease::Lost);
}

/// The local model under another name, failing its `fail_on`-th call: a re-index target whose
/// service breaks half-way.
struct Flaky {
    inner: std::sync::Arc<dyn chatsphere::providers::embed::Embedder>,
    calls: std::sync::atomic::AtomicUsize,
    fail_on: usize,
}

impl chatsphere::providers::embed::Embedder for Flaky {
    fn id(&self) -> &str {
        "test/flaky"
    }
    fn dimension(&self) -> usize {
        self.inner.dimension()
    }
    fn batch_size(&self) -> usize {
        1000
    }
    fn embed<'a>(&'a self, texts: Vec<String>, purpose: chatsphere::providers::embed::Purpose) -> chatsphere::providers::BoxFuture<'a, Result<Vec<Vec<f32>>, chatsphere::providers::embed::EmbedError>> {
        let call = self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        if call == self.fail_on {
            return Box::pin(async { Err(chatsphere::providers::embed::EmbedError::Transient("the service is down".into())) });
        }
        self.inner.embed(texts, purpose)
    }
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn reindexing_keeps_its_progress_and_parks_a_model_that_cannot_work(db: PgPool) {
    use chatsphere::features::knowledge::server::reindex;
    let (owner, bot) = owner_and_bot(&db, "ada@example.com").await;
    for (name, body) in [("a.md", GUIDE), ("b.md", "# Tides\nHigh tide is at noon; the pilot boards at the outer buoy.\n")] {
        store::add(&db, owner, &bot, text(name, body.as_bytes())).await.unwrap();
    }
    drain(&db).await;
    let mut providers = common::providers(&db);
    let flaky = std::sync::Arc::new(Flaky { inner: providers.embedders[0].clone(), calls: Default::default(), fail_on: 2 });
    providers.embedders.push(flaky.clone());
    sqlx::query("UPDATE bots SET embedding_model = 'test/flaky' WHERE public_id = $1").bind(&bot).execute(&db).await.unwrap();
    let calls = || flaky.calls.load(std::sync::atomic::Ordering::SeqCst);

    // The first document is embedded, the second's call fails: the attempt ends, its progress kept.
    assert!(reindex::run_once(&db, &providers, 30).await.unwrap());
    let state = bots::get(&db, owner, &bot).await.unwrap().index;
    assert_eq!((state.live.as_str(), state.done, state.error.is_some()), ("local/all-MiniLM-L6-v2", 1, true), "{state:?}");
    let kept: i64 = sqlx::query_scalar("SELECT count(*) FROM reindex_progress").fetch_one(&db).await.unwrap();
    assert_eq!((calls(), kept), (2, 1));

    // The next attempt (another process, say) embeds only what is left.
    sqlx::query("UPDATE bots SET reindex_lease_until = now()").execute(&db).await.unwrap();
    assert!(reindex::run_once(&db, &providers, 30).await.unwrap());
    let state = bots::get(&db, owner, &bot).await.unwrap().index;
    assert_eq!((state.live.as_str(), state.error), ("test/flaky", None));
    assert_eq!(calls(), 3, "the finished document was not embedded again");
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM reindex_progress").fetch_one(&db).await.unwrap();
    assert_eq!(left, 0, "progress is forgotten once the new space is live");
    let searched = search::owned_bot(&db, owner, &bot).await.unwrap();
    let hits = search::hybrid(&db, &providers, &searched, "When is high tide?", 5).await.unwrap();
    assert!(hits.iter().any(|h| h.chunk.document_name == "b.md" && h.vector.is_some()), "searched in the new space");

    // A model this server does not have: said once in the editor, not retried every few seconds.
    sqlx::query("UPDATE bots SET embedding_model = 'nowhere/none@384' WHERE public_id = $1").bind(&bot).execute(&db).await.unwrap();
    assert!(reindex::run_once(&db, &providers, 30).await.unwrap());
    let state = bots::get(&db, owner, &bot).await.unwrap().index;
    assert!(state.error.as_deref().is_some_and(|e| e.contains("not configured")), "{state:?}");
    assert!(!reindex::run_once(&db, &providers, 30).await.unwrap(), "parked, not retried");
    sqlx::query("UPDATE bots SET reindex_lease_until = now() - interval '1 day' WHERE reindex_lease_until <> 'infinity'").execute(&db).await.unwrap();
    assert!(!reindex::run_once(&db, &providers, 30).await.unwrap(), "still parked whatever time passes");
    assert_eq!(reindex::retry_parked(&db).await.unwrap(), 1, "a restart (perhaps with new settings) tries again");
    assert!(reindex::run_once(&db, &providers, 30).await.unwrap());
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn one_long_lived_keyword_index_sees_every_change_at_once(db: PgPool) {
    // One set of providers for the whole test, as a server process holds it: its cached index
    // must follow the bot's knowledge version, whichever process made the change.
    let providers = common::providers(&db);
    let (owner, bot) = owner_and_bot(&db, "ada@example.com").await;
    let (first, _) = store::add(&db, owner, &bot, text("tides.txt", b"The quartermaster keeps the tide tables.")).await.unwrap();
    drain(&db).await;
    let names = |hits: Vec<chatsphere::features::knowledge::KeywordHit>| hits.into_iter().map(|h| h.chunk.document_name).collect::<Vec<_>>();
    assert_eq!(names(search::keyword(&db, &providers, owner, &bot, "quartermaster", 5).await.unwrap()), vec!["tides.txt"]);

    store::add(&db, owner, &bot, text("crane.txt", b"The quartermaster also runs the harbour crane.")).await.unwrap();
    drain(&db).await;
    let both = names(search::keyword(&db, &providers, owner, &bot, "quartermaster crane", 5).await.unwrap());
    assert_eq!(both, vec!["crane.txt", "tides.txt"], "the new document is found, and first for the rarer word");

    store::set_enabled(&db, owner, first.id, false).await.unwrap();
    assert_eq!(names(search::keyword(&db, &providers, owner, &bot, "quartermaster", 5).await.unwrap()), vec!["crane.txt"]);
    store::set_enabled(&db, owner, first.id, true).await.unwrap();
    store::delete(&db, owner, first.id).await.unwrap();
    assert_eq!(names(search::keyword(&db, &providers, owner, &bot, "tide tables", 5).await.unwrap()), Vec::<String>::new());
}

const GERMAN: &str = "# Fähren\nDie Fähren zur Insel fahren stündlich vom Nordkai ab.\n\n\
# Hafenbüro\nDas Hafenbüro schließt werktags um 18 Uhr. Die Liegegebühren werden im Büro bezahlt.\n\n\
# Strom\nDie Premium-Liegeplätze haben Frischwasser und Landstrom.\n";

const SPANISH: &str = "# Transbordadores\nLos transbordadores a la isla salen cada hora del muelle norte.\n\n\
# Oficina\nLa oficina del puerto cierra a las seis de la tarde. Las tarifas de amarre se pagan en la oficina.\n\n\
# Electricidad\nLos amarres premium tienen agua potable y electricidad.\n";

async fn choose_language(db: &PgPool, owner: Uuid, bot: &str, language: &str) {
    let mut s = bots::get(db, owner, bot).await.unwrap().settings;
    s.search_language = language.into();
    bots::update(db, &BotLimits::default(), &LlmSettings::default().models, &common::embedders(), owner, bot, s).await.unwrap();
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn german_and_spanish_knowledge_is_found_in_its_own_language_by_keywords_and_meaning(db: PgPool) {
    use chatsphere::features::knowledge::server::language;
    use chatsphere::providers::llm::{extractive, Passage};
    let (ada, harbour) = owner_and_bot(&db, "ada@example.com").await;
    store::add(&db, ada, &harbour, text("hafen.md", GERMAN.as_bytes())).await.unwrap();
    drain(&db).await;
    let bot = search::owned_bot(&db, ada, &harbour).await.unwrap();
    assert_eq!(language::detected(&db, bot.id).await.unwrap(), Some("german"), "offered as a suggestion");

    // Stemmed as English, "Fähre" never meets "Fähren": only meaning finds the ferries.
    let question = "Wann fährt eine Fähre?";
    let hits = hybrid(&db, ada, &harbour, question).await;
    let ferries = hits.iter().find(|h| h.chunk.text.contains("Fähren")).expect("found by meaning");
    assert!(ferries.keyword.is_none() && ferries.vector.is_some(), "{ferries:?}");

    // German is chosen: keyword search stays English until a worker has re-stemmed the chunks.
    choose_language(&db, ada, &harbour, "german").await;
    let pending = bots::get(&db, ada, &harbour).await.unwrap();
    assert_eq!((pending.settings.search_language.as_str(), pending.index.keyword_language.as_str()), ("german", "english"));
    assert!(hybrid(&db, ada, &harbour, question).await.iter().all(|h| !h.chunk.text.contains("Fähren") || h.keyword.is_none()));
    assert!(language::run_once(&db).await.unwrap());
    assert!(!language::run_once(&db).await.unwrap(), "nothing left to re-stem");
    assert_eq!(bots::get(&db, ada, &harbour).await.unwrap().index.keyword_language, "german");
    let hits = hybrid(&db, ada, &harbour, question).await;
    assert!(hits[0].chunk.text.contains("Fähren") && hits[0].keyword.is_some() && hits[0].vector.is_some(), "both searches: {:?}", hits[0]);

    // Documents added later are stemmed in German as they are written.
    store::add(&db, ada, &harbour, text("preise.md", "# Preise\nEine Überfahrt kostet für Erwachsene zwölf Euro.\n".as_bytes())).await.unwrap();
    drain(&db).await;
    let hits = hybrid(&db, ada, &harbour, "Was kosten Überfahrten?").await;
    assert!(hits[0].chunk.text.contains("zwölf Euro") && hits[0].keyword.is_some(), "{:?}", hits[0]);

    // A Spanish bot, its language chosen before any document.
    let (bea, puerto) = owner_and_bot(&db, "bea@example.com").await;
    choose_language(&db, bea, &puerto, "spanish").await;
    assert!(language::run_once(&db).await.unwrap());
    store::add(&db, bea, &puerto, text("puerto.md", SPANISH.as_bytes())).await.unwrap();
    drain(&db).await;
    let question = "¿Cuándo cierran las oficinas del puerto?";
    let hits = hybrid(&db, bea, &puerto, question).await;
    assert!(hits[0].chunk.text.contains("cierra a las seis") && hits[0].keyword.is_some() && hits[0].vector.is_some(), "{:?}", hits[0]);
    // The offline answer quotes the sentence in the language it was asked in.
    let passages: Vec<Passage> = hits.iter().take(3).enumerate().map(|(i, h)| Passage { n: i + 1, source: h.chunk.document_name.clone(), text: h.chunk.text.clone() }).collect();
    let (answer, _) = extractive::compose(question, &passages, 200).expect("answered");
    assert!(answer.contains("> La oficina del puerto cierra a las seis de la tarde. [1]"), "{answer}");
    // Ada's German bot is untouched by Bea's choice.
    assert_eq!(bots::get(&db, ada, &harbour).await.unwrap().index.keyword_language, "german");
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn a_language_postgresql_does_not_have_is_refused_by_name(db: PgPool) {
    let (ada, harbour) = owner_and_bot(&db, "ada@example.com").await;
    let mut s = bots::get(&db, ada, &harbour).await.unwrap().settings;
    s.search_language = "klingon".into();
    let refused = bots::update(&db, &BotLimits::default(), &LlmSettings::default().models, &common::embedders(), ada, &harbour, s).await.unwrap_err();
    assert_eq!(refused.field(), Some("search_language"), "{refused:?}");
}
