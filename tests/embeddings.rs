//! The in-process embedding model gives what sentence-transformers gives for the same folder
//! (reference vectors kept in tests/fixtures, made by make_minilm_reference.py), whatever the
//! batching, and says clearly when the folder is wrong. Both precisions: f32 matches the
//! reference to rounding; the 8-bit linear layers (on CPUs with AVX-512 VNNI; f32 elsewhere)
//! stay within the quantization error measured by `--bench encoder` (cosine ≥ 0.994 there).

use chatsphere::providers::embed::local::LocalEmbedder;
use chatsphere::providers::embed::{Embedder, Purpose};
use chatsphere::providers::settings::EmbeddingSettings;
use std::path::Path;

fn model(int8: bool) -> LocalEmbedder {
    LocalEmbedder::load(Path::new(&EmbeddingSettings::default().model_dir), 2, 32, int8).expect("./setup.sh installs the model")
}

/// f32 always; int8 too where this CPU runs it.
fn models() -> Vec<(&'static str, LocalEmbedder)> {
    let int8 = model(true);
    let mut all = vec![("f32", model(false))];
    if int8.is_int8() {
        all.push(("int8", int8));
    } else {
        eprintln!("this CPU has no AVX-512 VNNI: only the f32 path is tested");
    }
    all
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (norm(a) * norm(b))
}

#[derive(serde::Deserialize)]
struct Reference {
    text: String,
    vector: Vec<f32>,
}

#[tokio::test]
async fn matches_sentence_transformers_reference_vectors() {
    let references: Vec<Reference> = serde_json::from_str(include_str!("fixtures/minilm_reference.json")).unwrap();
    for (precision, model) in models() {
        assert_eq!(model.dimension(), 384);
        let texts: Vec<String> = references.iter().map(|r| r.text.clone()).collect();
        let got = model.embed(texts, Purpose::Document).await.unwrap();
        let floor = if precision == "f32" { 0.999 } else { 0.99 };
        for (r, v) in references.iter().zip(&got) {
            let c = cosine(&r.vector, v);
            assert!(c >= floor, "{precision}: cosine {c} for {:?}", r.text.chars().take(40).collect::<String>());
            let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            assert!((norm - 1.0).abs() < 1e-4, "vectors are L2-normalised");
        }
    }
}

#[tokio::test]
async fn batching_and_order_do_not_change_a_vector() {
    // Together they are over 48 tokens, alone each is under: the batched and the lone
    // question's code paths (`gemm`, and the small-row kernel; for int8 one tile or several)
    // must agree.
    let texts: Vec<String> = [
        "short one",
        "a somewhat longer sentence about harbour cranes and tides",
        "x",
        "the quartermaster keeps the manifests of every ship in the harbour",
        "fog horns sound every thirty seconds while visibility stays low",
        "the lighthouse keeper feeds the gulls before the morning tide",
    ]
    .map(String::from)
    .to_vec();
    for (precision, model) in models() {
        let together = model.embed(texts.clone(), Purpose::Document).await.unwrap();
        for (i, text) in texts.iter().enumerate() {
            let alone = model.embed(vec![text.clone()], Purpose::Document).await.unwrap();
            assert!(cosine(&alone[0], &together[i]) > 0.99999, "{precision}: text {i} differs when batched");
        }
    }
}

#[tokio::test]
async fn similar_meaning_lands_closer() {
    let model = model(true);
    let v = model
        .embed(
            ["How do I reset my password?", "Steps to recover a forgotten login credential", "Container cranes unload ships at the harbour"]
                .map(String::from)
                .to_vec(),
            Purpose::Query,
        )
        .await
        .unwrap();
    assert!(cosine(&v[0], &v[1]) > cosine(&v[0], &v[2]) + 0.2, "{} vs {}", cosine(&v[0], &v[1]), cosine(&v[0], &v[2]));
}

#[test]
fn a_folder_without_a_model_is_a_clear_error() {
    let err = LocalEmbedder::load(Path::new("/nonexistent/model"), 1, 8, true).err().expect("must fail");
    assert!(err.to_string().contains("model.safetensors"), "{err}");
}
