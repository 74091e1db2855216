//! What an operator can tune about the providers: which models and stores, their endpoints,
//! limits and deadlines. Keys are not here: they come from the environment (`Secrets`).

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LlmSettings {
    /// The provider/model pairs bots may choose from; the first is the default for new bots.
    pub models: Vec<crate::domain::ModelChoice>,
    /// The offline extract streams word by word; a pause between words makes it read like
    /// typing (0 = as fast as the browser reads).
    pub offline_word_delay_ms: u64,
}

impl Default for LlmSettings {
    fn default() -> Self {
        Self {
            models: vec![crate::domain::ModelChoice {
                provider: "offline".into(),
                model: "extractive".into(),
                label: "Offline extract (no key, no network)".into(),
                ..Default::default()
            }],
            offline_word_delay_ms: 0,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmbeddingSettings {
    /// `local`: a sentence-transformers folder run in-process.
    pub provider: String,
    /// The local model folder (config.json, model.safetensors, tokenizer.json).
    pub model_dir: String,
    /// Threads for local embedding; 0 means one per core.
    pub threads: usize,
    /// Texts per embedding call; progress is reported between calls.
    pub batch_size: usize,
    /// Run the local model's linear layers on 8-bit integers where the CPU has AVX-512 VNNI
    /// (f32 elsewhere, or when false).
    pub int8: bool,
}

impl Default for EmbeddingSettings {
    fn default() -> Self {
        Self { provider: "local".into(), model_dir: ".data/models/all-MiniLM-L6-v2".into(), threads: 0, batch_size: 32, int8: true }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VectorSettings {
    /// `postgres`: vectors beside the chunks, searched exactly in-process.
    pub provider: String,
    /// Memory for cached per-bot vector matrices, in MiB.
    pub cache_mb: usize,
}

impl Default for VectorSettings {
    fn default() -> Self {
        Self { provider: "postgres".into(), cache_mb: 1024 }
    }
}

/// Google Gemini (chat and embeddings). The key comes from `GEMINI_API_KEY` only; without
/// it, Gemini's models and embeddings are not offered.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GeminiSettings {
    pub base_url: String,
    /// The embedding model bots may choose (empty: none) and its output size.
    pub embedding_model: String,
    pub embedding_dimension: usize,
    pub max_attempts: u32,
    pub retry_base_ms: u64,
    pub retry_cap_ms: u64,
    /// A 429 asking for a longer wait than this fails at once, telling the user when to retry.
    pub max_retry_wait_secs: u64,
    /// Deadline of one try: until an embedding batch has fully answered, or until an answer's
    /// first words arrived.
    pub timeout_secs: u64,
}

impl Default for GeminiSettings {
    fn default() -> Self {
        Self {
            base_url: "https://generativelanguage.googleapis.com/v1beta".into(),
            embedding_model: "gemini-embedding-001".into(),
            embedding_dimension: 768,
            max_attempts: 5,
            retry_base_ms: 1000,
            retry_cap_ms: 60_000,
            max_retry_wait_secs: 20,
            timeout_secs: 60,
        }
    }
}

/// One OpenAI-compatible chat endpoint (OpenAI, Ollama, llama.cpp server, vLLM); off while
/// `base_url` is empty. Its key, if it needs one, comes from `OPENAI_API_KEY`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OpenAiSettings {
    /// The provider name `llm.models` entries use for it.
    pub name: String,
    pub base_url: String,
    pub max_attempts: u32,
    pub retry_base_ms: u64,
    pub retry_cap_ms: u64,
    pub max_retry_wait_secs: u64,
    /// Deadline until an answer's first words (local models may need to load first).
    pub timeout_secs: u64,
}

impl Default for OpenAiSettings {
    fn default() -> Self {
        Self { name: "openai".into(), base_url: String::new(), max_attempts: 5, retry_base_ms: 1000, retry_cap_ms: 60_000, max_retry_wait_secs: 20, timeout_secs: 120 }
    }
}

/// Pinecone serverless, used when `vectors.provider = "pinecone"`; the key comes from
/// `PINECONE_API_KEY`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PineconeSettings {
    pub control_url: String,
    /// Indexes are named `{index_prefix}-{embedding model}`.
    pub index_prefix: String,
    pub cloud: String,
    pub region: String,
    pub max_attempts: u32,
    pub retry_base_ms: u64,
    pub retry_cap_ms: u64,
    pub ready_timeout_secs: u64,
    pub freshness_timeout_secs: u64,
    pub poll_ms: u64,
    /// Deadline of one request, answer included.
    pub timeout_secs: u64,
}

impl Default for PineconeSettings {
    fn default() -> Self {
        Self {
            control_url: "https://api.pinecone.io".into(),
            index_prefix: "chatsphere".into(),
            cloud: "aws".into(),
            region: "us-east-1".into(),
            max_attempts: 4,
            retry_base_ms: 1000,
            retry_cap_ms: 20_000,
            ready_timeout_secs: 300,
            freshness_timeout_secs: 60,
            poll_ms: 1000,
            timeout_secs: 30,
        }
    }
}

/// Every outbound connection: how long to wait for it to open, and how long it may stay silent
/// (an answer that stalls mid-way is ended there, keeping what was written).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NetworkSettings {
    pub connect_timeout_secs: u64,
    pub read_idle_timeout_secs: u64,
}

impl Default for NetworkSettings {
    fn default() -> Self {
        Self { connect_timeout_secs: 10, read_idle_timeout_secs: 30 }
    }
}
