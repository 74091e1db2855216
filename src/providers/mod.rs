//! The pluggable services the product runs on, each behind a small trait with an embedded
//! default that needs no key and no network: `embed` turns text into vectors, `vectors` keeps
//! and searches them, `llm` writes (or, offline, quotes) answers. The cloud services (Gemini,
//! Pinecone, any OpenAI-compatible endpoint) implement the same traits over their REST APIs.
//! Features reach providers only through `Providers` in `AppState`.

pub mod cache;
pub mod embed;
pub mod gemini;
pub mod keywords;
mod kernels;
pub mod llm;
pub mod retry;
pub mod settings;
pub mod vectors;

use crate::domain::ModelChoice;
use crate::server::settings::{Secrets, Settings};
use retry::Backoff;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

/// A boxed future, so the provider traits stay object-safe (`Arc<dyn Embedder>`).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The providers this deployment is configured with.
#[derive(Clone)]
pub struct Providers {
    /// Every embedding model bots may choose; the first is the default for new bots.
    pub embedders: Vec<Arc<dyn embed::Embedder>>,
    pub vectors: Arc<dyn vectors::VectorStore>,
    /// Every language-model provider bots may choose, by provider name.
    pub llms: Vec<Arc<dyn llm::Llm>>,
    /// The provider/model pairs offered to bots: configured ones whose provider is set up.
    pub models: Vec<ModelChoice>,
    /// Keyword search: each bot's BM25 index, at its knowledge version.
    pub keywords: Arc<keywords::KeywordIndexes>,
    /// Questions' vectors: cached, and coalesced into shared passes under load.
    pub queries: Arc<embed::queries::QueryEmbeddings>,
}

/// Question vectors kept in memory: ~9,000 questions of the local model (1.8 KB each).
const QUERY_VECTORS_BUDGET: usize = 16 * 1024 * 1024;

fn query_embeddings() -> Arc<embed::queries::QueryEmbeddings> {
    Arc::new(embed::queries::QueryEmbeddings::new(QUERY_VECTORS_BUDGET))
}

/// Keyword indexes kept in memory (postings take about 8 bytes per distinct word of a chunk).
const KEYWORD_INDEX_BUDGET: usize = 512 * 1024 * 1024;

fn keyword_indexes() -> Arc<keywords::KeywordIndexes> {
    Arc::new(keywords::KeywordIndexes::new(KEYWORD_INDEX_BUDGET))
}

#[derive(Debug, thiserror::Error)]
pub enum ProviderSetupError {
    #[error("embedding model: {0}")]
    Embedder(#[from] embed::local::LoadError),
    #[error("unknown embedding provider {0:?} (known: local, gemini)")]
    UnknownEmbedder(String),
    #[error("embeddings.provider = \"gemini\" needs GEMINI_API_KEY and gemini.embedding_model")]
    GeminiEmbedderUnset,
    #[error("unknown vector store {0:?} (known: postgres, pinecone)")]
    UnknownVectorStore(String),
    #[error("vectors.provider = \"pinecone\" needs PINECONE_API_KEY in the environment")]
    PineconeKeyMissing,
    #[error("none of llm.models can be served: {0}")]
    NoModels(String),
    #[error("HTTP client: {0}")]
    Http(#[from] reqwest::Error),
}

impl Providers {
    /// Builds the configured providers; fails at startup, with the reason, rather than on the
    /// first document. Cloud providers without a key are left out (and said so in the log).
    pub fn from_settings(settings: &Settings, secrets: &Secrets, db: sqlx::PgPool) -> Result<Self, ProviderSetupError> {
        // One client: connection pools and TLS sessions are shared by every provider.
        // Connect and read-idle deadlines for every call; each client adds its per-try deadline.
        let n = &settings.network;
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(n.connect_timeout_secs.max(1)))
            .read_timeout(Duration::from_secs(n.read_idle_timeout_secs.max(1)))
            .build()?;
        let g = &settings.gemini;
        let gemini = secrets.gemini_api_key.as_ref().map(|key| gemini::GeminiConfig {
            base_url: g.base_url.clone(),
            api_key: key.clone(),
            backoff: Backoff::new(g.max_attempts, g.retry_base_ms, g.retry_cap_ms).with_deadline(Duration::from_secs(g.timeout_secs))
                .with_max_wait(Duration::from_secs(g.max_retry_wait_secs)),
        });

        let e = &settings.embeddings;
        let local = || -> Result<Arc<dyn embed::Embedder>, ProviderSetupError> {
            Ok(Arc::new(embed::local::LocalEmbedder::load(std::path::Path::new(&e.model_dir), e.threads, e.batch_size, e.int8)?))
        };
        let cloud_embedder = gemini
            .as_ref()
            .filter(|_| !g.embedding_model.is_empty())
            .map(|config| Arc::new(embed::gemini::GeminiEmbedder::new(client.clone(), config.clone(), &g.embedding_model, g.embedding_dimension)) as Arc<dyn embed::Embedder>);
        let embedders: Vec<Arc<dyn embed::Embedder>> = match e.provider.as_str() {
            "local" => std::iter::once(local()?).chain(cloud_embedder).collect(),
            "gemini" => {
                let first = cloud_embedder.ok_or(ProviderSetupError::GeminiEmbedderUnset)?;
                vec![first, local()?]
            }
            other => return Err(ProviderSetupError::UnknownEmbedder(other.into())),
        };

        let vectors: Arc<dyn vectors::VectorStore> = match settings.vectors.provider.as_str() {
            "postgres" => Arc::new(vectors::postgres::PgVectorStore::new(db, settings.vectors.cache_mb)),
            "pinecone" => {
                let p = &settings.pinecone;
                let key = secrets.pinecone_api_key.clone().ok_or(ProviderSetupError::PineconeKeyMissing)?;
                let config = vectors::pinecone::PineconeConfig {
                    control_url: p.control_url.clone(),
                    api_key: key,
                    index_prefix: p.index_prefix.clone(),
                    cloud: p.cloud.clone(),
                    region: p.region.clone(),
                    backoff: Backoff::new(p.max_attempts, p.retry_base_ms, p.retry_cap_ms).with_deadline(Duration::from_secs(p.timeout_secs)),
                    ready_timeout: Duration::from_secs(p.ready_timeout_secs),
                    freshness_timeout: Duration::from_secs(p.freshness_timeout_secs),
                    poll: Duration::from_millis(p.poll_ms),
                };
                Arc::new(vectors::pinecone::PineconeStore::new(client.clone(), config, db))
            }
            other => return Err(ProviderSetupError::UnknownVectorStore(other.into())),
        };

        let offline = llm::extractive::ExtractiveLlm { word_delay: Duration::from_millis(settings.llm.offline_word_delay_ms) };
        let mut llms: Vec<Arc<dyn llm::Llm>> = vec![Arc::new(offline)];
        if let Some(config) = gemini {
            llms.push(Arc::new(llm::gemini::GeminiLlm::new(client.clone(), config)));
        }
        let o = &settings.openai;
        if !o.base_url.is_empty() {
            llms.push(Arc::new(llm::openai::OpenAiLlm::new(
                client.clone(),
                llm::openai::OpenAiConfig {
                    name: o.name.clone(),
                    base_url: o.base_url.clone(),
                    api_key: secrets.openai_api_key.clone().unwrap_or_default(),
                    backoff: Backoff::new(o.max_attempts, o.retry_base_ms, o.retry_cap_ms).with_deadline(Duration::from_secs(o.timeout_secs))
                        .with_max_wait(Duration::from_secs(o.max_retry_wait_secs)),
                },
            )));
        }
        let mut providers = Self { embedders, vectors, llms, models: Vec::new(), keywords: keyword_indexes(), queries: query_embeddings() };
        providers.models = settings.llm.models.iter().filter(|m| providers.llm(&m.provider).is_some()).cloned().collect();
        for m in settings.llm.models.iter().filter(|m| providers.llm(&m.provider).is_none()) {
            tracing::warn!(provider = %m.provider, model = %m.model, "model not offered: its provider is not set up (key or base URL missing)");
        }
        if providers.models.is_empty() {
            return Err(ProviderSetupError::NoModels("set their providers up or add the offline model".into()));
        }
        Ok(providers)
    }

    /// `embedder` and `vectors` with the offline language model (streaming without pauses).
    pub fn with_offline_llm(embedder: Arc<dyn embed::Embedder>, vectors: Arc<dyn vectors::VectorStore>) -> Self {
        let offline = llm::extractive::ExtractiveLlm { word_delay: Duration::ZERO };
        let models = crate::providers::settings::LlmSettings::default().models;
        Self { embedders: vec![embedder], vectors, llms: vec![Arc::new(offline)], models, keywords: keyword_indexes(), queries: query_embeddings() }
    }

    /// The language model behind a bot's provider name.
    pub fn llm(&self, provider: &str) -> Option<Arc<dyn llm::Llm>> {
        self.llms.iter().find(|l| l.provider() == provider).cloned()
    }

    /// The embedding model (vector space) with this id.
    pub fn embedder(&self, id: &str) -> Option<Arc<dyn embed::Embedder>> {
        self.embedders.iter().find(|e| e.id() == id).cloned()
    }

    /// The embedding model new bots get.
    pub fn default_embedder(&self) -> &Arc<dyn embed::Embedder> {
        &self.embedders[0]
    }

    /// The embedding models as bot editors offer them.
    pub fn embedding_choices(&self) -> Vec<ModelChoice> {
        self.embedders
            .iter()
            .map(|e| {
                let (provider, name) = e.id().split_once('/').unwrap_or(("", e.id()));
                let label = match provider {
                    "local" => format!("{name} (local, no key, {} dimensions)", e.dimension()),
                    "gemini" => format!("Gemini {} ({} dimensions)", name.split('@').next().unwrap_or(name), e.dimension()),
                    _ => e.id().to_owned(),
                };
                ModelChoice { provider: provider.to_owned(), model: e.id().to_owned(), label, ..Default::default() }
            })
            .collect()
    }
}
