//! What an operator can tune about knowledge: upload limits, quotas, chunking, the job queue,
//! web fetches and the extraction sandbox.

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KnowledgeSettings {
    /// Largest file accepted, enforced while the upload is read.
    pub max_upload_bytes: usize,
    /// Most files one upload request may carry.
    pub max_files_per_request: usize,
    /// Per-account quotas: documents, bytes of originals kept, and passages (chunks) indexed.
    pub max_documents_per_account: i64,
    pub max_stored_mb_per_account: i64,
    pub max_chunks_per_account: i64,
    /// Chunk size and overlap, in estimated model tokens.
    pub chunk_tokens: usize,
    pub chunk_overlap_tokens: usize,
    /// Ingestion workers in this process (several processes may share one database).
    pub workers: usize,
    /// How long a claimed job is held without a heartbeat before another worker takes it.
    pub lease_secs: i64,
    pub max_attempts: i32,
    /// Longest one attempt at a document may run; past it, its lease is no longer renewed and
    /// the job is taken back (the attempt counted).
    pub job_timeout_secs: i64,
    /// How often an idle worker looks for new jobs.
    pub poll_millis: u64,
    /// Web pages added by URL: time allowed for the whole fetch, and the largest body read.
    pub url_timeout_secs: u64,
    pub url_max_bytes: usize,
    /// Fetch URLs on private, loopback and link-local addresses. Off in production: it lets
    /// owners probe the server's own network. Tests turn it on for their local pages.
    pub allow_private_urls: bool,
    /// Extraction runs in a child process (this executable in `extract` mode, or the one
    /// named here) so that a parser that crashes or runs away costs only its document.
    pub extract_program: String,
    /// The child's address-space limit, CPU seconds and wall-clock deadline.
    pub extract_memory_mb: u64,
    pub extract_cpu_secs: u64,
    pub extract_timeout_secs: u64,
    /// Most characters of text one document may yield (about 20 pages per 50,000).
    pub max_text_chars: usize,
}

impl Default for KnowledgeSettings {
    fn default() -> Self {
        Self {
            max_upload_bytes: 50 * 1024 * 1024,
            max_files_per_request: 20,
            max_documents_per_account: 2000,
            max_stored_mb_per_account: 2048,
            max_chunks_per_account: 500_000,
            chunk_tokens: 256,
            chunk_overlap_tokens: 32,
            workers: 2,
            lease_secs: 60,
            max_attempts: 5,
            job_timeout_secs: 3600,
            poll_millis: 500,
            url_timeout_secs: 15,
            url_max_bytes: 10 * 1024 * 1024,
            allow_private_urls: false,
            extract_program: String::new(),
            extract_memory_mb: 1024,
            extract_cpu_secs: 40,
            extract_timeout_secs: 45,
            max_text_chars: 32_000_000,
        }
    }
}
