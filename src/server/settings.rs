//! Runtime configuration: `Leptos.toml` (or the file named by `CHATSPHERE_CONFIG`), then
//! environment overrides. Any key can be overridden by `CHATSPHERE_<SECTION>_<KEY>`, e.g.
//! `CHATSPHERE_SERVER_SITE_ADDR=0.0.0.0:8080`; `DATABASE_URL` sets the database. Secrets come
//! only from the environment, never from the file.

use serde::Deserialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub auth: AuthSettings,
    pub bots: crate::features::bots::BotLimits,
    pub llm: LlmSettings,
    pub knowledge: KnowledgeSettings,
    pub embeddings: EmbeddingSettings,
    pub vectors: VectorSettings,
    pub chat: ChatSettings,
    pub gemini: GeminiSettings,
    pub openai: OpenAiSettings,
    pub pinecone: PineconeSettings,
    pub network: NetworkSettings,
    pub mail: MailSettings,
    pub api: crate::features::developer::ApiSettings,
}

/// Outgoing mail, used for password-reset links. Off while `smtp_url` is empty; the login,
/// if the server needs one, comes from `SMTP_USERNAME` and `SMTP_PASSWORD` only.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MailSettings {
    /// `smtps://host` (TLS, port 465), `smtp://host?tls=required` (STARTTLS, port 587) or
    /// `smtp://host:25` (a relay on a trusted network, no TLS).
    pub smtp_url: String,
    /// The sender, e.g. `ChatSphere <no-reply@example.com>`.
    pub from: String,
    /// Deadline of one delivery attempt (connect, greeting, every reply).
    pub timeout_secs: u64,
    /// A reset link works once, for this long.
    pub reset_link_minutes: i64,
    /// Reset requests per client address, and per email address, in `reset_window_secs`.
    pub max_resets_per_ip: i64,
    pub max_resets_per_account: i64,
    pub reset_window_secs: i64,
}

impl Default for MailSettings {
    fn default() -> Self {
        Self {
            smtp_url: String::new(),
            from: "ChatSphere <no-reply@localhost>".into(),
            timeout_secs: 20,
            reset_link_minutes: 60,
            max_resets_per_ip: 10,
            max_resets_per_account: 3,
            reset_window_secs: 3600,
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

/// API keys, from the environment only. Not `Serialize`, and `Debug` shows only which are set.
#[derive(Clone, Default)]
pub struct Secrets {
    pub gemini_api_key: Option<String>,
    pub openai_api_key: Option<String>,
    pub pinecone_api_key: Option<String>,
    /// The SMTP login (both or neither).
    pub smtp_login: Option<(String, String)>,
}

impl Secrets {
    pub fn from_env() -> Self {
        let key = |name: &str| std::env::var(name).ok().map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        Self {
            gemini_api_key: key("GEMINI_API_KEY"),
            openai_api_key: key("OPENAI_API_KEY"),
            pinecone_api_key: key("PINECONE_API_KEY"),
            smtp_login: key("SMTP_USERNAME").zip(key("SMTP_PASSWORD")),
        }
    }
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secrets")
            .field("gemini_api_key", &self.gemini_api_key.is_some())
            .field("openai_api_key", &self.openai_api_key.is_some())
            .field("pinecone_api_key", &self.pinecone_api_key.is_some())
            .field("smtp_login", &self.smtp_login.is_some())
            .finish()
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChatSettings {
    /// Earlier turns sent with a question, newest first, up to this many estimated tokens.
    pub history_tokens: u32,
    /// Longest question accepted, in characters.
    pub question_max_chars: usize,
    /// Answers one account's bots may give in 24 hours (each may cost the operator's model
    /// key); regenerated answers count too.
    pub answers_per_day: i64,
    /// How often an answer being written saves its text so far (and renews its lease), so a
    /// process killed mid-answer loses at most this much of what the reader saw.
    pub checkpoint_millis: u64,
    /// How long an answer's lease lasts without a checkpoint; after it, any process treats the
    /// answer as interrupted. Several checkpoints long, so a slow database write is not a death.
    pub answer_lease_secs: i64,
}

impl Default for ChatSettings {
    fn default() -> Self {
        Self { history_tokens: 1500, question_max_chars: 4000, answers_per_day: 2000, checkpoint_millis: 1000, answer_lease_secs: 10 }
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
}

impl Default for EmbeddingSettings {
    fn default() -> Self {
        Self { provider: "local".into(), model_dir: ".data/models/all-MiniLM-L6-v2".into(), threads: 0, batch_size: 32 }
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

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LlmSettings {
    /// The provider/model pairs bots may choose from; the first is the default for new bots.
    pub models: Vec<crate::features::bots::ModelChoice>,
    /// The offline extract streams word by word; a pause between words makes it read like
    /// typing (0 = as fast as the browser reads).
    pub offline_word_delay_ms: u64,
}

impl Default for LlmSettings {
    fn default() -> Self {
        Self {
            models: vec![crate::features::bots::ModelChoice {
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
pub struct ServerSettings {
    pub site_addr: String,
    /// Where the compiled WASM, JS, CSS and public assets live.
    pub site_root: String,
    pub site_pkg_dir: String,
    /// The address people use to reach the site. Its origin is the one state-changing
    /// requests must come from, and an `https` URL makes session cookies `Secure`.
    pub public_url: String,
    /// Take the client IP from `X-Forwarded-For` (only behind a proxy you control).
    pub trust_proxy_headers: bool,
    pub reload_port: u32,
    /// Largest request body outside uploads (forms, JSON), in bytes.
    pub max_body_bytes: usize,
    /// Time a request may take until its response starts: a body dripped in slowly is cut off.
    pub request_timeout_secs: u64,
    /// On SIGTERM, how long open streams and jobs get to end before the process exits anyway.
    pub shutdown_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseSettings {
    /// Normally empty here and set by `DATABASE_URL`.
    pub url: String,
    pub max_connections: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthSettings {
    pub session_ttl_hours: i64,
    pub password_min_length: usize,
    pub max_failures_per_account: i64,
    pub max_failures_per_ip: i64,
    pub failure_window_secs: i64,
    /// Who may create an account: `open` (anyone), `invite` (with an invitation link from the
    /// operator or an existing user) or `closed` (only the operator, with `chatsphere admin`).
    pub registration: String,
    /// Sign-ups accepted from one client address per window.
    pub max_signups_per_ip: i64,
    pub signup_window_secs: i64,
    /// Invitation links stay valid this long.
    pub invitation_ttl_hours: i64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            server: ServerSettings::default(),
            database: DatabaseSettings::default(),
            auth: AuthSettings::default(),
            bots: Default::default(),
            llm: LlmSettings::default(),
            knowledge: KnowledgeSettings::default(),
            embeddings: EmbeddingSettings::default(),
            vectors: VectorSettings::default(),
            chat: ChatSettings::default(),
            gemini: GeminiSettings::default(),
            openai: OpenAiSettings::default(),
            pinecone: PineconeSettings::default(),
            network: NetworkSettings::default(),
            mail: MailSettings::default(),
            api: Default::default(),
        }
    }
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            site_addr: "127.0.0.1:3000".into(),
            site_root: "target/site".into(),
            site_pkg_dir: "pkg".into(),
            public_url: "http://127.0.0.1:3000".into(),
            trust_proxy_headers: false,
            reload_port: 3001,
            max_body_bytes: 4 * 1024 * 1024,
            request_timeout_secs: 300,
            shutdown_secs: 20,
        }
    }
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self { url: String::new(), max_connections: 10 }
    }
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            session_ttl_hours: 24 * 14,
            password_min_length: 10,
            max_failures_per_account: 5,
            max_failures_per_ip: 20,
            failure_window_secs: 15 * 60,
            registration: "open".into(),
            max_signups_per_ip: 10,
            signup_window_secs: 3600,
            invitation_ttl_hours: 24 * 7,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("invalid configuration in {origin}: {message}")]
    Invalid { origin: String, message: String },
}

const ENV_PREFIX: &str = "CHATSPHERE_";

impl Settings {
    /// Reads the configuration file (missing is fine: defaults apply) and the environment.
    pub fn load() -> Result<Self, SettingsError> {
        let path = std::env::var_os("CHATSPHERE_CONFIG")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("Leptos.toml"));
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(source) => return Err(SettingsError::Read { path, source }),
        };
        Self::from_sources(&text, &path, std::env::vars())
    }

    /// Layers the environment over the file's text; separate from `load` so tests need no
    /// real environment.
    pub fn from_sources(
        file_text: &str,
        path: &Path,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, SettingsError> {
        let mut table: toml::Table = toml::from_str(file_text).map_err(|e| SettingsError::Invalid {
            origin: path.display().to_string(),
            message: e.to_string(),
        })?;
        for (name, value) in env {
            let (section, key) = match name.as_str() {
                "DATABASE_URL" => ("database".to_owned(), "url".to_owned()),
                // cargo-leptos tells the server where it put the site when it runs it.
                "LEPTOS_SITE_ADDR" => ("server".into(), "site_addr".into()),
                "LEPTOS_SITE_ROOT" => ("server".into(), "site_root".into()),
                "LEPTOS_SITE_PKG_DIR" => ("server".into(), "site_pkg_dir".into()),
                "LEPTOS_RELOAD_PORT" => ("server".into(), "reload_port".into()),
                _ => match name.strip_prefix(ENV_PREFIX).and_then(|rest| rest.split_once('_')) {
                    Some((section, key)) if section != "CONFIG" => {
                        (section.to_ascii_lowercase(), key.to_ascii_lowercase())
                    }
                    _ => continue,
                },
            };
            let section = table
                .entry(section)
                .or_insert_with(|| toml::Value::Table(Default::default()));
            if let toml::Value::Table(section) = section {
                section.insert(key, parse_env_value(&value));
            }
        }
        let settings: Settings =
            table.try_into().map_err(|e: toml::de::Error| SettingsError::Invalid {
                origin: format!("{} and {ENV_PREFIX}* variables", path.display()),
                message: e.to_string(),
            })?;
        settings.check()
    }

    fn check(self) -> Result<Self, SettingsError> {
        let invalid = |message: &str| {
            Err(SettingsError::Invalid { origin: "settings".into(), message: message.into() })
        };
        if self.server.site_addr.parse::<std::net::SocketAddr>().is_err() {
            return invalid("server.site_addr must be an address like 127.0.0.1:3000");
        }
        if !(self.server.public_url.starts_with("http://")
            || self.server.public_url.starts_with("https://"))
        {
            return invalid("server.public_url must start with http:// or https://");
        }
        if self.knowledge.lease_secs < 3 || self.knowledge.chunk_tokens < 16 || self.knowledge.max_attempts < 1 {
            return invalid("knowledge.lease_secs must be ≥ 3, chunk_tokens ≥ 16, max_attempts ≥ 1");
        }
        if self.embeddings.batch_size == 0 || self.embeddings.batch_size > 1024 {
            return invalid("embeddings.batch_size must be between 1 and 1024");
        }
        if self.llm.models.is_empty() {
            return invalid("llm.models must list at least one provider/model");
        }
        if self.auth.session_ttl_hours < 1 || self.auth.password_min_length < 8 {
            return invalid("auth.session_ttl_hours must be ≥ 1 and auth.password_min_length ≥ 8");
        }
        if self.mail.reset_link_minutes < 1 || self.mail.reset_link_minutes > 24 * 60 || self.mail.timeout_secs < 1 {
            return invalid("mail.reset_link_minutes must be between 1 and 1440, mail.timeout_secs ≥ 1");
        }
        if !matches!(self.auth.registration.as_str(), "open" | "invite" | "closed") {
            return invalid("auth.registration must be \"open\", \"invite\" or \"closed\"");
        }
        if self.knowledge.extract_memory_mb < 128 || self.knowledge.extract_timeout_secs < 1 || self.knowledge.max_files_per_request < 1 {
            return invalid("knowledge.extract_memory_mb must be ≥ 128, extract_timeout_secs ≥ 1, max_files_per_request ≥ 1");
        }
        if self.api.requests_per_minute < 1 || self.api.requests_per_day < 1 || self.api.keep_alive_secs < 1 {
            return invalid("api.requests_per_minute, api.requests_per_day and api.keep_alive_secs must be ≥ 1");
        }
        Ok(self)
    }

    /// The scheme and authority of `public_url`, which browsers send as `Origin`.
    pub fn public_origin(&self) -> &str {
        let url = self.server.public_url.trim_end_matches('/');
        let after_scheme = url.find("://").map(|i| i + 3).unwrap_or(0);
        match url[after_scheme..].find('/') {
            Some(slash) => &url[..after_scheme + slash],
            None => url,
        }
    }

    pub fn secure_cookies(&self) -> bool {
        self.server.public_url.starts_with("https://")
    }
}

/// Environment values are strings; numbers and booleans are recognised so that
/// `CHATSPHERE_AUTH_SESSION_TTL_HOURS=24` fills an integer field.
fn parse_env_value(raw: &str) -> toml::Value {
    if let Ok(i) = raw.parse::<i64>() {
        return toml::Value::Integer(i);
    }
    if let Ok(f) = raw.parse::<f64>() {
        if raw.contains('.') {
            return toml::Value::Float(f);
        }
    }
    match raw {
        "true" => toml::Value::Boolean(true),
        "false" => toml::Value::Boolean(false),
        _ => toml::Value::String(raw.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn environment_overrides_the_file() {
        let file = "[server]\nsite_addr = \"127.0.0.1:4000\"\n[auth]\nsession_ttl_hours = 5\n";
        let s = Settings::from_sources(
            file,
            Path::new("Leptos.toml"),
            env(&[
                ("CHATSPHERE_AUTH_SESSION_TTL_HOURS", "9"),
                ("DATABASE_URL", "postgres://x@h/db"),
                ("CHATSPHERE_SERVER_TRUST_PROXY_HEADERS", "true"),
                ("UNRELATED", "1"),
            ]),
        )
        .unwrap();
        assert_eq!(s.server.site_addr, "127.0.0.1:4000");
        assert_eq!(s.auth.session_ttl_hours, 9);
        assert_eq!(s.database.url, "postgres://x@h/db");
        assert!(s.server.trust_proxy_headers);
    }

    #[test]
    fn unknown_keys_and_bad_values_are_reported() {
        let err = Settings::from_sources("[auth]\nsesion_ttl = 3\n", Path::new("L.toml"), env(&[]))
            .unwrap_err();
        assert!(err.to_string().contains("sesion_ttl"), "{err}");
        let err = Settings::from_sources("", Path::new("L.toml"), env(&[("CHATSPHERE_SERVER_SITE_ADDR", "nope")]))
            .unwrap_err();
        assert!(err.to_string().contains("site_addr"), "{err}");
    }

    #[test]
    fn public_origin_drops_the_path() {
        let s = Settings::from_sources(
            "",
            Path::new("L.toml"),
            env(&[("CHATSPHERE_SERVER_PUBLIC_URL", "https://chat.example.com/app/")]),
        )
        .unwrap();
        assert_eq!(s.public_origin(), "https://chat.example.com");
        assert!(s.secure_cookies());
    }
}
