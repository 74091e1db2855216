//! The local encoder's two precisions side by side (f32, and 8-bit linear layers where the
//! CPU has AVX-512 VNNI): passages/s at batch 32, one question's wall and CPU time, and how
//! far the 8-bit vectors are from the f32 ones (cosine over the same texts). Retrieval quality
//! with each: `EMBED_INT8=0|1 cargo bench --features ssr --bench scifact`.
//!
//!   source ./db.sh && cargo bench --features ssr --bench encoder

mod common;

use chatsphere::providers::embed::local::LocalEmbedder;
use chatsphere::providers::settings::EmbeddingSettings;
use std::path::PathBuf;
use std::time::Instant;

const PASSAGES: usize = 300;
const QUESTIONS: usize = 200;

fn main() {
    let corpus = common::jsonl(&common::eval_dir().join("scifact/corpus.jsonl"));
    let passages: Vec<String> = corpus
        .iter()
        .map(|d| d["text"].as_str().unwrap_or_default().to_owned())
        .filter(|t| (100..=300).contains(&t.split_whitespace().count()))
        .take(PASSAGES)
        .collect();
    let claims = common::jsonl(&common::eval_dir().join("scifact/queries-train.jsonl"));
    let questions: Vec<String> = claims.iter().filter_map(|c| c["text"].as_str().map(str::to_owned)).take(QUESTIONS).collect();

    let s = EmbeddingSettings::default();
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(&s.model_dir);
    let load = |int8: bool| LocalEmbedder::load(&dir, s.threads, s.batch_size, int8).expect("the local model (./setup.sh installs it)");
    let (f32_model, int8_model) = (load(false), load(true));
    if !int8_model.is_int8() {
        println!("this CPU has no AVX-512 VNNI: the 8-bit path is not available, both rows are f32");
    }

    println!("== {PASSAGES} SciFact passages (100–300 words), batch 32, all cores");
    let mut vectors = Vec::new();
    for (name, model) in [("f32", &f32_model), ("int8", &int8_model)] {
        model.embed_blocking(&passages[..8]).unwrap(); // warm up
        let cpu = common::own_cpu_ms();
        let t = Instant::now();
        let mut out = Vec::new();
        for group in passages.chunks(32) {
            out.extend(model.embed_blocking(group).unwrap());
        }
        let wall = t.elapsed().as_secs_f64();
        println!("{name:<5} {:>6.1} passages/s   CPU {:.1} ms per passage", PASSAGES as f64 / wall, (common::own_cpu_ms() - cpu) / PASSAGES as f64);
        vectors.push(out);
    }
    agreement("passages", &vectors[0], &vectors[1]);

    println!("\n== {QUESTIONS} SciFact claims, one at a time (a chat question's embedding)");
    let mut vectors = Vec::new();
    for (name, model) in [("f32", &f32_model), ("int8", &int8_model)] {
        let cpu = common::own_cpu_ms();
        let mut ms = Vec::new();
        let mut out = Vec::new();
        for q in &questions {
            let t = Instant::now();
            out.extend(model.embed_blocking(std::slice::from_ref(q)).unwrap());
            ms.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        ms.sort_by(f64::total_cmp);
        println!(
            "{name:<5} wall p50 {:.2} / p95 {:.2} ms   CPU {:.2} ms per question",
            common::percentile(&ms, 0.5),
            common::percentile(&ms, 0.95),
            (common::own_cpu_ms() - cpu) / QUESTIONS as f64
        );
        vectors.push(out);
    }
    agreement("questions", &vectors[0], &vectors[1]);
}

/// Cosine of each text's int8 vector with its f32 vector (both are L2-normalised).
fn agreement(what: &str, a: &[Vec<f32>], b: &[Vec<f32>]) {
    let mut cos: Vec<f64> = a.iter().zip(b).map(|(x, y)| x.iter().zip(y).map(|(p, q)| (p * q) as f64).sum()).collect();
    cos.sort_by(f64::total_cmp);
    let mean = cos.iter().sum::<f64>() / cos.len() as f64;
    println!("int8 vs f32 on the same {what}: cosine mean {mean:.5}, min {:.5}, p1 {:.5}", cos[0], common::percentile(&cos, 0.01));
}
