//! Ingestion and query figures on a generated corpus (SciFact abstracts as pages):
//! extraction pages/s per format, embedding passages/s at batch 16/32/64 (beside Python
//! sentence-transformers when BENCH_PYTHON names a Python that has it), documents → searchable
//! end to end on a mixed corpus (beside the reference Python stack on the same files, with
//! BENCH_PYTHON), and query latency (vector, keyword, hybrid) with the memory and cold-load time of
//! each in-memory index at 10k and 100k chunks.
//!
//!   source ./db.sh && cargo bench --features ssr --bench ingest
//!   BENCH_PYTHON=/path/to/venv/bin/python cargo bench --features ssr --bench ingest

mod common;

use chatsphere::features::knowledge::server::extract;
use chatsphere::features::knowledge::server::search;
use chatsphere::features::knowledge::server::store::{self, NewDocument};
use chatsphere::features::knowledge::server::worker;
use chatsphere::providers::vectors::postgres::PgVectorStore;
use chatsphere::providers::embed::Embedder;
use chatsphere::providers::vectors::VectorStore;
use rand::Rng;
use std::io::Write;
use std::time::Instant;

const PAGES: usize = 300;

#[tokio::main]
async fn main() {
    let corpus = common::jsonl(&common::eval_dir().join("scifact/corpus.jsonl"));
    let pages: Vec<(String, String)> = corpus
        .iter()
        .map(|d| (d["title"].as_str().unwrap_or_default().to_owned(), d["text"].as_str().unwrap_or_default().to_owned()))
        .filter(|(_, t)| (100..=300).contains(&t.split_whitespace().count()))
        .take(PAGES)
        .collect();

    println!("== extraction ({PAGES} pages of 100–300 words each)");
    for (format, name, bytes) in formats(&pages) {
        let t = Instant::now();
        let out = extract::extract(name, &bytes).unwrap_or_else(|e| panic!("{format}: {e}"));
        let s = t.elapsed().as_secs_f64();
        println!("{format:<9} {:>9.0} pages/s   ({} KB, {} sections)", PAGES as f64 / s, bytes.len() / 1024, out.sections.len());
    }

    println!("\n== embedding (all-MiniLM-L6-v2, {PAGES} passages, in-process, all cores)");
    let embedder = common::embedder();
    let texts: Vec<String> = pages.iter().map(|(_, t)| t.clone()).collect();
    embedder.embed_blocking(&texts[..8]).unwrap(); // warm up
    for batch in [16usize, 32, 64] {
        let t = Instant::now();
        for group in texts.chunks(batch) {
            embedder.embed_blocking(group).unwrap();
        }
        println!("batch {batch:>2}: {:>6.1} passages/s (Rust, this crate)", PAGES as f64 / t.elapsed().as_secs_f64());
    }
    if let Some(python) = std::env::var_os("BENCH_PYTHON") {
        python_side_by_side(&python, &texts);
    } else {
        println!("(set BENCH_PYTHON to a Python with sentence-transformers for the side-by-side figure)");
    }

    let db = common::fresh_db("chatsphere_bench_ingest").await;
    let providers = common::providers(&db, embedder.clone());

    println!("\n== end to end: documents → searchable (one worker), the mixed corpus: {PAGES} pages as six documents of {} (PDF, DOCX, HTML, Markdown, text, CSV)", PAGES / 6);
    let owner = common::owner_and_bot(&db, "ingest@example.com").await;
    let corpus = mixed_corpus(&pages);
    // The same files for the Python reference below.
    let corpus_dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-corpus");
    let _ = std::fs::remove_dir_all(&corpus_dir);
    std::fs::create_dir_all(&corpus_dir).unwrap();
    for (name, _, bytes) in &corpus {
        std::fs::write(corpus_dir.join(name), bytes).unwrap();
    }
    let t = Instant::now();
    for (name, mime, bytes) in corpus {
        store::add(&db, owner.user, &owner.bot_public_id, NewDocument { name: &name, source: "upload", mime, bytes }).await.unwrap();
    }
    while worker::run_once(&db, &common::knowledge_settings(), &providers, "bench").await.unwrap() {}
    let s = t.elapsed().as_secs_f64();
    let (documents, failed): (i64, i64) = sqlx::query_as("SELECT count(*), count(*) FILTER (WHERE status <> 'ready') FROM documents").fetch_one(&db).await.unwrap();
    assert_eq!((documents, failed), (6, 0), "every document of the mixed corpus is searchable");
    // Characters embedded (heading and text, as `chunk::text_to_embed` sends them): chunk
    // counts differ between splitters, the model's work follows the text it reads.
    let (chunks, chars): (i64, i64) = sqlx::query_as("SELECT count(*), sum(length(heading_path) + 1 + length(text))::bigint FROM chunks").fetch_one(&db).await.unwrap();
    println!(
        "ChatSphere: 6 documents, {PAGES} pages, {chunks} chunks ({} k characters embedded) ready in {s:.1} s ({:.1} pages/s, {:.1} chunks/s)",
        chars / 1000,
        PAGES as f64 / s,
        chunks as f64 / s
    );
    // Each stage's own rate, from the time the worker recorded per document (the rest is the
    // queue and the status updates between stages).
    let stages: Vec<(String, f64)> = sqlx::query_as("SELECT key, sum(value::text::float8) FROM documents, jsonb_each(stage_ms) GROUP BY key ORDER BY 2 DESC")
        .fetch_all(&db)
        .await
        .unwrap();
    for (stage, ms) in stages {
        let secs = (ms / 1000.0).max(1e-3);
        println!("  {stage:<10} {:>6.1} s   {:>9.1} pages/s   {:>9.1} chunks/s", ms / 1000.0, PAGES as f64 / secs, chunks as f64 / secs);
    }

    match std::env::var_os("BENCH_PYTHON") {
        Some(python) => python_reference(&python, &corpus_dir, &db).await,
        None => println!("(set BENCH_PYTHON to a Python with the reference stack for its end-to-end figure on the same files)"),
    }

    println!("\n== query latency, embedded store (exact search, 384 dimensions)");
    for size in [10_000usize, 100_000] {
        let owner = common::owner_and_bot(&db, &format!("q{size}@example.com")).await;
        common::fill(&db, owner.bot, size, embedder.id(), &pages).await;
        let store = PgVectorStore::new(db.clone(), 4096);
        let mut rng = rand::thread_rng();
        let mut random_unit = || {
            let v: Vec<f32> = (0..384).map(|_| rng.gen_range(-1.0f32..1.0)).collect();
            let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            v.into_iter().map(|x| x / n).collect::<Vec<f32>>()
        };
        let t = Instant::now();
        store.query(owner.bot, embedder.id(), &random_unit(), 10).await.unwrap();
        let cold = t.elapsed().as_secs_f64() * 1000.0;
        let mut ms = Vec::new();
        for _ in 0..200 {
            let q = random_unit();
            let t = Instant::now();
            let hits = store.query(owner.bot, embedder.id(), &q, 50).await.unwrap();
            ms.push(t.elapsed().as_secs_f64() * 1000.0);
            assert_eq!(hits.len(), 50);
        }
        ms.sort_by(f64::total_cmp);
        println!("{size:>7} chunks: vector top-50 p50 {:.2} ms, p95 {:.2} ms (first query, loading the cache: {cold:.0} ms)", common::percentile(&ms, 0.5), common::percentile(&ms, 0.95));

        println!("{size:>7} chunks: vector matrix in memory {:.1} MB", store.cached_bytes() as f64 / 1e6);

        let bot = search::owned_bot(&db, owner.user, &owner.bot_public_id).await.unwrap();
        let providers = chatsphere::providers::Providers::with_offline_llm(embedder.clone(), std::sync::Arc::new(store));
        let t = Instant::now();
        let version: i64 = sqlx::query_scalar("SELECT knowledge_version FROM bots WHERE id = $1").bind(bot.id).fetch_one(&db).await.unwrap();
        let index = providers.keywords.index(&db, bot.id, version).await.unwrap();
        println!(
            "{size:>7} chunks: keyword index built in {:.0} ms, {:.1} MB in memory",
            t.elapsed().as_secs_f64() * 1000.0,
            providers.keywords.cached_bytes() as f64 / 1e6
        );
        assert_eq!(index.chunks(), size);
        let mut ms = Vec::new();
        for (title, _) in pages.iter().take(100) {
            let t = Instant::now();
            providers.keywords.search(&db, bot.id, title, 50).await.unwrap();
            ms.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        ms.sort_by(f64::total_cmp);
        println!("{size:>7} chunks: keyword top-50 (BM25, one database read for the version and the question's words) p50 {:.2} ms, p95 {:.2} ms", common::percentile(&ms, 0.5), common::percentile(&ms, 0.95));
        let mut ms = Vec::new();
        for (title, _) in pages.iter().take(100) {
            let t = Instant::now();
            search::hybrid(&db, &providers, &bot, title, 6).await.unwrap();
            ms.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        ms.sort_by(f64::total_cmp);
        println!("{size:>7} chunks: hybrid search (embed question + full-text + vector + fuse) p50 {:.1} ms, p95 {:.1} ms", common::percentile(&ms, 0.5), common::percentile(&ms, 0.95));
    }
}

/// The same pages in each format the pipeline reads.
fn formats(pages: &[(String, String)]) -> Vec<(&'static str, &'static str, Vec<u8>)> {
    let markdown: String = pages.iter().map(|(t, x)| format!("# {t}\n\n{x}\n\n")).collect();
    let html = format!("<!doctype html><html><body><main>{}</main></body></html>", pages.iter().map(|(t, x)| format!("<h2>{t}</h2><p>{x}</p>")).collect::<String>());
    let mut csv = String::from("title,abstract\n");
    for (t, x) in pages {
        csv.push_str(&format!("\"{}\",\"{}\"\n", t.replace('"', "\"\""), x.replace('"', "\"\"")));
    }
    let docx_body: String = pages
        .iter()
        .map(|(t, x)| format!(r#"<w:p><w:pPr><w:pStyle w:val="Heading1"/></w:pPr><w:r><w:t>{}</w:t></w:r></w:p><w:p><w:r><w:t>{}</w:t></w:r></w:p>"#, esc(t), esc(x)))
        .collect();
    // A complete package (content types, relationships, the real namespace), so other readers
    // (python-docx, in the Python reference) open it too.
    let docx = zip_with(&[
        (
            "[Content_Types].xml".into(),
            br#"<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>"#.to_vec(),
        ),
        (
            "_rels/.rels".into(),
            br#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>"#.to_vec(),
        ),
        (
            "word/document.xml".into(),
            format!(r#"<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>{docx_body}</w:body></w:document>"#).into_bytes(),
        ),
    ]);
    let mut slides = vec![("ppt/presentation.xml".to_string(), b"<p:presentation/>".to_vec())];
    for (i, (t, x)) in pages.iter().enumerate() {
        let xml = format!(r#"<p:sld xmlns:p="p" xmlns:a="a"><a:p><a:r><a:t>{}</a:t></a:r></a:p><a:p><a:r><a:t>{}</a:t></a:r></a:p></p:sld>"#, esc(t), esc(x));
        slides.push((format!("ppt/slides/slide{}.xml", i + 1), xml.into_bytes()));
    }
    vec![
        ("pdf", "corpus.pdf", pdf(pages)),
        ("docx", "corpus.docx", docx),
        ("pptx", "corpus.pptx", zip_with(&slides)),
        ("html", "corpus.html", html.into_bytes()),
        ("markdown", "corpus.md", markdown.into_bytes()),
        ("csv", "corpus.csv", csv.into_bytes()),
    ]
}

/// The pages as six documents of equal share, one per format a newcomer's files come in.
fn mixed_corpus(pages: &[(String, String)]) -> Vec<(String, &'static str, Vec<u8>)> {
    let share = pages.len() / 6;
    let group = |i: usize| &pages[i * share..(i + 1) * share];
    let text: String = group(4).iter().map(|(t, x)| format!("{t}\n\n{x}\n\n")).collect();
    let pick = |i: usize, format: &str| formats(group(i)).into_iter().find(|f| f.0 == format).unwrap().2;
    vec![
        ("pages.pdf".into(), "application/pdf", pick(0, "pdf")),
        ("pages.docx".into(), "application/vnd.openxmlformats-officedocument.wordprocessingml.document", pick(1, "docx")),
        ("pages.html".into(), "text/html", pick(2, "html")),
        ("pages.md".into(), "text/markdown", pick(3, "markdown")),
        ("pages.txt".into(), "text/plain", text.into_bytes()),
        ("pages.csv".into(), "text/csv", pick(5, "csv")),
    ]
}

/// The reference stack the original plan implied (`benches/python/reference_ingest.py`) on the
/// same files, into its own database.
async fn python_reference(python: &std::ffi::OsStr, corpus: &std::path::Path, db: &sqlx::PgPool) {
    let url = std::env::var("DATABASE_URL").expect("DATABASE_URL (source ./db.sh)");
    sqlx::query("DROP DATABASE IF EXISTS chatsphere_bench_python").execute(db).await.unwrap();
    sqlx::query("CREATE DATABASE chatsphere_bench_python").execute(db).await.unwrap();
    let url = match url.rsplit_once('/') {
        Some((server, _)) => format!("{server}/chatsphere_bench_python"),
        None => panic!("DATABASE_URL without a database name"),
    };
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let model = root.join(chatsphere::providers::settings::EmbeddingSettings::default().model_dir);
    let status = std::process::Command::new(python)
        .arg(root.join("benches/python/reference_ingest.py"))
        .args([corpus.as_os_str(), model.as_os_str(), std::ffi::OsStr::new(&url), std::ffi::OsStr::new(&PAGES.to_string())])
        .status()
        .expect("BENCH_PYTHON");
    assert!(status.success(), "the Python reference failed");
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

fn zip_with(parts: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    let mut zip = zip::ZipWriter::new(&mut out);
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in parts {
        zip.start_file(name.as_str(), options).unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap();
    out.into_inner()
}

/// One page per abstract, the text set in lines of ~90 characters as a real PDF would.
fn pdf(pages: &[(String, String)]) -> Vec<u8> {
    use lopdf::content::{Content, Operation};
    use lopdf::{dictionary, Document, Object, Stream};
    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let font = doc.add_object(dictionary! { "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica" });
    let resources = doc.add_object(dictionary! { "Font" => dictionary! { "F1" => font } });
    let mut kids = vec![];
    for (title, text) in pages {
        let mut ops = vec![Operation::new("BT", vec![]), Operation::new("Tf", vec!["F1".into(), 10.into()]), Operation::new("TL", vec![12.into()]), Operation::new("Td", vec![50.into(), 760.into()])];
        let mut line = String::new();
        let mut lines = vec![title.clone()];
        for word in text.split_whitespace() {
            if line.len() + word.len() > 90 {
                lines.push(std::mem::take(&mut line));
            }
            line.push_str(word);
            line.push(' ');
        }
        lines.push(line);
        for l in lines {
            ops.push(Operation::new("Tj", vec![Object::string_literal(l.chars().filter(char::is_ascii).collect::<String>())]));
            ops.push(Operation::new("T*", vec![]));
        }
        ops.push(Operation::new("ET", vec![]));
        let content = doc.add_object(Stream::new(dictionary! {}, Content { operations: ops }.encode().unwrap()));
        kids.push(Object::from(doc.add_object(dictionary! { "Type" => "Page", "Parent" => pages_id, "Contents" => content })));
    }
    let count = kids.len() as i64;
    doc.objects.insert(pages_id, Object::Dictionary(dictionary! { "Type" => "Pages", "Kids" => kids, "Count" => count, "Resources" => resources, "MediaBox" => vec![0.into(), 0.into(), 612.into(), 792.into()] }));
    let catalog = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    doc.trailer.set("Root", catalog);
    let mut out = Vec::new();
    doc.save_to(&mut out).unwrap();
    out
}

/// The same passages through sentence-transformers on the same machine.
fn python_side_by_side(python: &std::ffi::OsStr, texts: &[String]) {
    let script = r#"
import json, sys, time, os
os.environ["HF_HUB_OFFLINE"] = "1"
from sentence_transformers import SentenceTransformer
m = SentenceTransformer(sys.argv[1], device="cpu")
texts = json.load(sys.stdin)
m.encode(texts[:8])
for b in (16, 32, 64):
    t = time.time(); m.encode(texts, batch_size=b); s = time.time() - t
    print(f"batch {b:>2}: {len(texts)/s:>6.1f} passages/s (Python sentence-transformers)", flush=True)
"#;
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(chatsphere::providers::settings::EmbeddingSettings::default().model_dir);
    let mut child = std::process::Command::new(python)
        .arg("-c")
        .arg(script)
        .arg(dir)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::inherit())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("BENCH_PYTHON");
    child.stdin.take().unwrap().write_all(serde_json::to_string(texts).unwrap().as_bytes()).unwrap();
    child.wait().unwrap();
}
