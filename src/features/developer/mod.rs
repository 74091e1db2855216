//! The developer API: API keys an owner makes in Settings, and the versioned HTTP API other
//! programs call with them — the native API under `/api/v1` and an OpenAI-compatible one under
//! `/v1` — on the same answering engine, limits and records as the app. The key types and
//! their rules live here (shared with the browser); `server` serves the API and its OpenAPI
//! document.

mod api;
mod pages;
#[cfg(feature = "ssr")]
pub mod server;

pub use api::*;
pub use pages::*;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const KEY_NAME_MAX: usize = 80;
/// The longest expiry a key may be given, in days.
pub const MAX_EXPIRY_DAYS: i64 = 3650;

/// What a key may do with the bots in its scope.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Permission {
    /// Chat, and read and delete its API conversations.
    Chat,
    /// Chat, and add, read and delete knowledge.
    Manage,
}

impl Permission {
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::Chat => "chat",
            Permission::Manage => "manage",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "chat" => Some(Permission::Chat),
            "manage" => Some(Permission::Manage),
            _ => None,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Permission::Chat => "Chat only",
            Permission::Manage => "Chat and manage knowledge",
        }
    }
}

/// An API key as its owner sees it: never the secret, which is shown once at creation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ApiKeyView {
    pub id: Uuid,
    pub name: String,
    /// The one bot it may use (public id, name); `None`: all of the owner's bots.
    pub bot: Option<(String, String)>,
    pub permission: Permission,
    /// The secret's first characters, to tell keys apart ("csk_3f9a…").
    pub prefix: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
    pub revoked_at: Option<chrono::DateTime<chrono::Utc>>,
    pub last_used_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Neither revoked nor expired (decided by the server's clock).
    pub active: bool,
    /// Requests made with it, answers given to it, and their tokens (in + out).
    pub requests: i64,
    pub answers: i64,
    pub tokens: i64,
}

impl ApiKeyView {
    pub fn scope_label(&self) -> String {
        match &self.bot {
            Some((_, name)) => name.clone(),
            None => "All my bots".into(),
        }
    }

}

/// A key just made: the secret travels this once.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CreatedKey {
    pub key: ApiKeyView,
    pub secret: String,
}

/// Limits of the developer API (`[api]` in `Leptos.toml`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ApiSettings {
    /// Requests one key may make per minute and per day (429 with `Retry-After` beyond).
    pub requests_per_minute: i64,
    pub requests_per_day: i64,
    /// Keys one account may hold that are not revoked.
    pub max_keys_per_user: i64,
    /// Seconds between keep-alive comments on a streamed answer (proxies close silent streams).
    pub keep_alive_secs: u64,
}

impl Default for ApiSettings {
    fn default() -> Self {
        Self { requests_per_minute: 60, requests_per_day: 10_000, max_keys_per_user: 50, keep_alive_secs: 15 }
    }
}
