//! Text → vectors. The local MiniLM model is the default; cloud embedders implement the same
//! trait. Vectors from different embedders live in different spaces, so everything stored is
//! tagged with `Embedder::id` and never compared across ids.

pub mod gemini;
pub mod local;
pub mod queries;

use super::BoxFuture;

/// What a text is for: some models embed questions and passages differently.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    Document,
    Query,
}

#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    /// Worth trying again later (a busy service, a dropped connection).
    #[error("{0}")]
    Transient(String),
    /// Will fail the same way again (bad key, unknown model).
    #[error("{0}")]
    Permanent(String),
}

pub trait Embedder: Send + Sync {
    /// Names the vector space, e.g. `local/all-MiniLM-L6-v2`.
    fn id(&self) -> &str;
    fn dimension(&self) -> usize;
    /// How many texts one `embed` call should carry; callers report progress between calls.
    fn batch_size(&self) -> usize;
    /// How many `embed` calls are worth running at once: 1 for a model that already uses every
    /// core for one call; more for a remote service, where calls mostly wait.
    fn concurrent_calls(&self) -> usize {
        1
    }
    /// One L2-normalised vector per text, in order.
    fn embed<'a>(&'a self, texts: Vec<String>, purpose: Purpose) -> BoxFuture<'a, Result<Vec<Vec<f32>>, EmbedError>>;
}
