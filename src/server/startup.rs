//! Builds the HTTP stack and runs it until SIGTERM or Ctrl-C.

use super::{csrf, db, limits, refusals, security_headers, settings::Settings, state::AppState, telemetry};
use crate::app::{shell, App};
use axum::extract::{MatchedPath, State};
use axum::routing::get;
use axum::{middleware, Router};
use http::{Request, StatusCode};
use leptos_axum::{generate_route_list, LeptosRoutes};
use std::net::SocketAddr;
use std::time::Duration;
use tower_http::trace::TraceLayer;

/// The whole application as a `Router`: pages, server functions, static files, health.
/// Tests drive it directly with `tower::ServiceExt::oneshot`.
pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(App);
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/media/bots/{public_id}/avatar", get(crate::features::bots::server::serve_avatar))
        .merge(crate::features::public::server::routes::routes())
        .merge(crate::features::developer::server::routes(&state))
        .leptos_routes(&state, routes, {
            let options = state.leptos_options.clone();
            move || shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .layer(middleware::from_fn(refusals::set_error_status))
        .layer(middleware::from_fn_with_state(state.clone(), limits::bound_requests))
        .layer(middleware::from_fn_with_state(state.clone(), csrf::reject_cross_site))
        .layer(middleware::from_fn_with_state(state.clone(), security_headers::add))
        .layer(TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
            let route = request
                .extensions()
                .get::<MatchedPath>()
                .map(|m| m.as_str().to_owned())
                .unwrap_or_else(|| request.uri().path().to_owned());
            tracing::info_span!("request", method = %request.method(), route)
        }))
        .with_state(state)
}

/// Ready means the database answers, so a load balancer stops sending traffic without it.
async fn readyz(State(state): State<AppState>) -> (StatusCode, &'static str) {
    match sqlx::query("SELECT 1").execute(&state.db).await {
        Ok(_) => (StatusCode::OK, "ready"),
        Err(error) => {
            tracing::warn!(%error, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable")
        }
    }
}

pub async fn serve() -> Result<(), Box<dyn std::error::Error>> {
    telemetry::init();
    let settings = Settings::load()?;
    let pool = db::connect_and_migrate(&settings.database).await?;
    let secrets = crate::server::settings::Secrets::from_env();
    let providers = crate::providers::Providers::from_settings(&settings, &secrets, pool.clone())?;
    let embedders: Vec<&str> = providers.embedders.iter().map(|e| e.id()).collect();
    let models: Vec<String> = providers.models.iter().map(|m| format!("{}/{}", m.provider, m.model)).collect();
    tracing::info!(?embedders, ?models, vectors = %settings.vectors.provider, "providers ready");
    let mailer = crate::server::mail::Mailer::from_settings(&settings.mail, &secrets)?;
    tracing::info!(mail = mailer.is_some(), "password-reset mail {}", if mailer.is_some() { "on" } else { "off (mail.smtp_url is empty)" });
    let state = AppState::new(pool, settings, providers).with_mailer(mailer);
    spawn_housekeeping(&state);
    spawn_workers(&state);

    let addr: SocketAddr = state.leptos_options.site_addr;
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!("ChatSphere listening on http://{addr}");
    axum::serve(listener, router(state).into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    tracing::info!("shut down cleanly");
    Ok(())
}

fn spawn_workers(state: &AppState) {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "local".into());
    for n in 0..state.settings.knowledge.workers {
        let worker = format!("{host}:{}:{n}", std::process::id());
        tokio::spawn(crate::features::knowledge::server::worker::run(
            state.db.clone(),
            state.settings.knowledge.clone(),
            state.providers.clone(),
            worker,
        ));
    }
}

fn spawn_housekeeping(state: &AppState) {
    let db = state.db.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(3600));
        loop {
            tick.tick().await;
            if let Ok(n) = crate::features::auth::server::sessions::purge_expired(&db).await {
                tracing::debug!(purged = n, "expired sessions removed");
            }
            if let Ok(n) = crate::server::counters::purge_expired(&db).await {
                tracing::debug!(purged = n, "visitor counters past their window removed");
            }
        }
    });
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! { _ = ctrl_c => {}, _ = terminate => {} }
    tracing::info!("shutdown requested; finishing open requests");
}
