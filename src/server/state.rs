use super::settings::Settings;
use crate::error::AppError;
use crate::providers::Providers;
use axum::extract::FromRef;
use leptos::prelude::{use_context, LeptosOptions};
use sqlx::PgPool;
use std::sync::Arc;

/// Everything a request handler needs; provided to server functions as context by
/// `leptos_routes`, so each test can build its own around its own database.
#[derive(Clone)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub db: PgPool,
    pub settings: Arc<Settings>,
    pub providers: Providers,
    /// Answers being written right now, for Stop.
    pub live: crate::features::chat::server::LiveAnswers,
    /// Set when the process has been told to stop.
    pub shutdown: super::shutdown::Shutdown,
    /// Password hashing, bounded per process.
    pub passwords: crate::features::auth::server::password::Passwords,
    /// Outgoing mail; None when `mail.smtp_url` is empty.
    pub mailer: Option<Arc<super::mail::Mailer>>,
}

impl AppState {
    pub fn new(db: PgPool, settings: Settings, providers: Providers) -> Self {
        let server = &settings.server;
        let leptos_options = LeptosOptions::builder()
            .output_name("chatsphere")
            .site_root(server.site_root.as_str())
            .site_pkg_dir(server.site_pkg_dir.as_str())
            .site_addr(server.site_addr.parse::<std::net::SocketAddr>().expect("checked when settings load"))
            .reload_port(server.reload_port)
            .hash_files(hashed_names())
            .build();
        Self { leptos_options, db, settings: Arc::new(settings), providers, live: Default::default(), shutdown: Default::default(), passwords: Default::default(), mailer: None }
    }

    pub fn with_mailer(mut self, mailer: Option<super::mail::Mailer>) -> Self {
        self.mailer = mailer.map(Arc::new);
        self
    }
}

/// Whether the front end was built with content-hashed file names: cargo-leptos then writes
/// `hash.txt` beside the binary, and Leptos reads the names from it (a build without it, such
/// as the test binaries, uses the plain names).
fn hashed_names() -> bool {
    std::env::current_exe().ok().and_then(|exe| exe.parent().map(|dir| dir.join("hash.txt").exists())).unwrap_or(false)
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

/// The state inside a server function.
pub fn app_state() -> Result<AppState, AppError> {
    use_context::<AppState>().ok_or_else(|| {
        tracing::error!("AppState missing from the server-function context");
        AppError::Internal
    })
}
