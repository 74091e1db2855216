//! The pluggable services the product runs on, each behind a small trait with an embedded
//! default that needs no key and no network: `embed` turns text into vectors, `vectors` keeps
//! and searches them, `llm` writes (or, offline, quotes) answers. Features reach providers
//! only through `Providers` in `AppState`.

pub mod embed;
mod kernels;
pub mod llm;
pub mod vectors;

use crate::server::settings::Settings;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// A boxed future, so the provider traits stay object-safe (`Arc<dyn Embedder>`).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The providers this deployment is configured with.
#[derive(Clone)]
pub struct Providers {
    pub embedder: Arc<dyn embed::Embedder>,
    pub vectors: Arc<dyn vectors::VectorStore>,
    /// Every language-model provider bots may choose, by provider name.
    pub llms: Vec<Arc<dyn llm::Llm>>,
}

#[derive(Debug, thiserror::Error)]
pub enum ProviderSetupError {
    #[error("embedding model: {0}")]
    Embedder(#[from] embed::local::LoadError),
    #[error("unknown embedding provider {0:?} (known: local)")]
    UnknownEmbedder(String),
    #[error("unknown vector store {0:?} (known: postgres)")]
    UnknownVectorStore(String),
}

impl Providers {
    /// Builds the configured providers; fails at startup, with the reason, rather than on the
    /// first document.
    pub fn from_settings(settings: &Settings, db: sqlx::PgPool) -> Result<Self, ProviderSetupError> {
        let e = &settings.embeddings;
        let embedder: Arc<dyn embed::Embedder> = match e.provider.as_str() {
            "local" => Arc::new(embed::local::LocalEmbedder::load(std::path::Path::new(&e.model_dir), e.threads, e.batch_size)?),
            other => return Err(ProviderSetupError::UnknownEmbedder(other.into())),
        };
        let vectors: Arc<dyn vectors::VectorStore> = match settings.vectors.provider.as_str() {
            "postgres" => Arc::new(vectors::postgres::PgVectorStore::new(db, settings.vectors.cache_mb)),
            other => return Err(ProviderSetupError::UnknownVectorStore(other.into())),
        };
        let offline = llm::extractive::ExtractiveLlm { word_delay: std::time::Duration::from_millis(settings.llm.offline_word_delay_ms) };
        Ok(Self { embedder, vectors, llms: vec![Arc::new(offline)] })
    }

    /// `embedder` and `vectors` with the offline language model (streaming without pauses).
    pub fn with_offline_llm(embedder: Arc<dyn embed::Embedder>, vectors: Arc<dyn vectors::VectorStore>) -> Self {
        let offline = llm::extractive::ExtractiveLlm { word_delay: std::time::Duration::ZERO };
        Self { embedder, vectors, llms: vec![Arc::new(offline)] }
    }

    /// The language model behind a bot's provider name.
    pub fn llm(&self, provider: &str) -> Option<Arc<dyn llm::Llm>> {
        self.llms.iter().find(|l| l.provider() == provider).cloned()
    }
}
