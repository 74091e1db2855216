//! The default embedder: a sentence-transformers model folder (all-MiniLM-L6-v2 unless the
//! deployment points elsewhere) run in-process. Matches sentence-transformers' output: its
//! tokenizer with truncation at the folder's `max_seq_length`, mean pooling, L2 norm.
//! Work runs on a dedicated rayon pool entered from tokio's blocking pool, so the async
//! runtime keeps serving requests while documents embed.

mod bert;
mod int8;

use super::{EmbedError, Embedder, Purpose};
use crate::providers::BoxFuture;
use bert::Bert;
use std::path::Path;
use std::sync::Arc;
use tokenizers::{PaddingParams, Tokenizer, TruncationParams};

pub use bert::LoadError;

pub struct LocalEmbedder {
    inner: Arc<Inner>,
    id: String,
    batch_size: usize,
}

struct Inner {
    model: Bert,
    tokenizer: Tokenizer,
    pool: rayon::ThreadPool,
    threads: usize,
}

impl LocalEmbedder {
    /// Loads `folder` (config.json, model.safetensors, tokenizer.json). `threads` 0 means one
    /// per core. `int8`: linear layers on 8-bit integers where the CPU has AVX-512 VNNI.
    pub fn load(folder: &Path, threads: usize, batch_size: usize, int8: bool) -> Result<Self, LoadError> {
        if !folder.join("model.safetensors").is_file() {
            return Err(LoadError::Format(format!(
                "no model.safetensors in {} (./setup.sh places all-MiniLM-L6-v2 there; set [embeddings] model_dir for another folder)",
                folder.display()
            )));
        }
        let model = Bert::load(folder, int8)?;
        match (int8, model.is_int8()) {
            (true, false) => tracing::info!(folder = %folder.display(), "local embeddings in f32: this CPU has no AVX-512 VNNI for embeddings.int8"),
            (got, _) => tracing::info!(folder = %folder.display(), precision = if got { "int8" } else { "f32" }, "local embedding model loaded"),
        }
        let tokenizer_path = folder.join("tokenizer.json");
        let mut tokenizer = Tokenizer::from_file(&tokenizer_path).map_err(|e| LoadError::Format(format!("{}: {e}", tokenizer_path.display())))?;
        // The folder's tokenizer.json pads and truncates at 128; sentence-transformers
        // truncates at `max_seq_length` (256 here) and pads per batch, which we do not need
        // because sequences are packed.
        let max_len = max_seq_length(folder).unwrap_or(256).min(model.max_positions());
        tokenizer
            .with_truncation(Some(TruncationParams { max_length: max_len, ..Default::default() }))
            .map_err(|e| LoadError::Format(format!("tokenizer: {e}")))?;
        tokenizer.with_padding(None::<PaddingParams>);
        let threads = if threads == 0 { std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1) } else { threads };
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("embed-{i}"))
            .build()
            .map_err(|e| LoadError::Format(format!("thread pool: {e}")))?;
        let name = folder.file_name().and_then(|n| n.to_str()).unwrap_or("model").to_owned();
        Ok(Self { id: format!("local/{name}"), batch_size: batch_size.max(1), inner: Arc::new(Inner { model, tokenizer, pool, threads }) })
    }

    /// Whether the linear layers run on 8-bit integers (asked for, and the CPU has VNNI).
    pub fn is_int8(&self) -> bool {
        self.inner.model.is_int8()
    }

    /// Embeds on the calling thread (inside the embedder's pool): for benchmarks and tools.
    pub fn embed_blocking(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        self.inner.embed(texts)
    }
}

impl Inner {
    fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| EmbedError::Permanent(format!("tokenizer: {e}")))?;
        // Sorted by length so each forward pass holds sequences of similar cost.
        let mut order: Vec<usize> = (0..encodings.len()).collect();
        order.sort_by_key(|&i| encodings[i].get_ids().len());
        let ids: Vec<&[u32]> = order.iter().map(|&i| encodings[i].get_ids()).collect();
        let vectors = self.pool.install(|| self.model.embed(&ids, self.threads));
        let mut out = vec![Vec::new(); texts.len()];
        for (slot, vector) in order.into_iter().zip(vectors) {
            out[slot] = vector;
        }
        Ok(out)
    }
}

fn max_seq_length(folder: &Path) -> Option<usize> {
    let raw = std::fs::read(folder.join("sentence_bert_config.json")).ok()?;
    let config: serde_json::Value = serde_json::from_slice(&raw).ok()?;
    config["max_seq_length"].as_u64().map(|n| n as usize)
}

impl Embedder for LocalEmbedder {
    fn id(&self) -> &str {
        &self.id
    }

    fn dimension(&self) -> usize {
        self.inner.model.hidden_size()
    }

    fn batch_size(&self) -> usize {
        self.batch_size
    }

    fn embed<'a>(&'a self, texts: Vec<String>, _purpose: Purpose) -> BoxFuture<'a, Result<Vec<Vec<f32>>, EmbedError>> {
        let inner = self.inner.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || inner.embed(&texts))
                .await
                .map_err(|e| EmbedError::Transient(format!("embedding task failed: {e}")))?
        })
    }
}
