//! Runtime configuration: `Leptos.toml` (or the file named by `CHATSPHERE_CONFIG`), then
//! environment overrides. Any key can be overridden by `CHATSPHERE_<SECTION>_<KEY>`, e.g.
//! `CHATSPHERE_SERVER_SITE_ADDR=0.0.0.0:8080`; `DATABASE_URL` sets the database. Secrets come
//! only from the environment, never from the file.

use crate::features::auth::server::settings::AuthSettings;
use crate::features::chat::server::settings::ChatSettings;
use crate::features::knowledge::server::settings::KnowledgeSettings;
use crate::providers::settings::{EmbeddingSettings, GeminiSettings, LlmSettings, NetworkSettings, OpenAiSettings, PineconeSettings, VectorSettings};
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

    /// Where the compiled front end (WASM, JS, CSS) is.
    pub fn pkg_dir(&self) -> PathBuf {
        Path::new(&self.server.site_root).join(&self.server.site_pkg_dir)
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
