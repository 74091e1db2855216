//! Builds the HTTP stack and runs it until SIGTERM or Ctrl-C.

use super::{csrf, db, limits, refusals, security_headers, settings::Settings, state::AppState, telemetry};
use crate::app::{shell, App};
use axum::extract::{MatchedPath, State};
use axum::routing::get;
use axum::{middleware, Router};
use crate::features::chat::server::live::Halt;
use std::future::IntoFuture;
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
        .nest_service(&format!("/{}", state.settings.server.site_pkg_dir), super::assets::service(state.settings.pkg_dir()))
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

/// Ready means the database answers and the process is not shutting down, so a load balancer
/// stops sending traffic to a process that cannot serve it.
async fn readyz(State(state): State<AppState>) -> (StatusCode, &'static str) {
    if state.shutdown.is_requested() {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down");
    }
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
    if let Ok(n @ 1..) = crate::features::knowledge::server::reindex::retry_parked(&state.db).await {
        tracing::info!(bots = n, "re-indexing parked for an unconfigured model will be tried again");
    }
    super::assets::fill_in_background(state.settings.pkg_dir());
    spawn_housekeeping(&state);
    tokio::spawn(crate::features::chat::server::live::stop_listener(state.db.clone(), state.live.clone()));
    if state.mailer.is_some() {
        tokio::spawn(crate::features::auth::server::reset_mail::sweep(state.clone()));
    }
    let workers = spawn_workers(&state);

    let addr: SocketAddr = state.leptos_options.site_addr;
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!("ChatSphere listening on http://{addr}");
    let stopping = state.clone();
    let server = axum::serve(listener, router(state.clone()).into_make_service_with_connect_info::<SocketAddr>()).with_graceful_shutdown(async move {
        shutdown_signal().await;
        // New connections are refused from here; answers being written end now with their
        // text kept, and workers hand their jobs back to the queue.
        stopping.shutdown.begin();
        let answers = stopping.live.halt_all(Halt::Shutdown);
        tracing::info!(answers, "shutting down: open answers closed, jobs handed back");
    });
    let deadline = Duration::from_secs(state.settings.server.shutdown_secs);
    let past_deadline = async {
        state.shutdown.requested().await;
        tokio::time::sleep(deadline).await;
    };
    tokio::select! {
        served = server.into_future() => served?,
        _ = past_deadline => tracing::warn!(secs = deadline.as_secs(), "shutdown deadline passed with connections still open; exiting"),
    }
    // The last answers store their end, and the workers give back their jobs, within the deadline.
    let settled = async {
        while state.live.count() > 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        futures::future::join_all(workers).await;
    };
    if tokio::time::timeout(deadline, settled).await.is_err() {
        tracing::warn!("answers or jobs still running at the shutdown deadline; their leases hand them to another process");
    }
    tracing::info!("shut down");
    Ok(())
}

fn spawn_workers(state: &AppState) -> Vec<tokio::task::JoinHandle<()>> {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "local".into());
    (0..state.settings.knowledge.workers)
        .map(|n| {
            let worker = format!("{host}:{}:{n}", std::process::id());
            tokio::spawn(crate::features::knowledge::server::jobs::run(
                state.db.clone(),
                state.settings.knowledge.clone(),
                state.providers.clone(),
                worker,
                state.shutdown.clone(),
            ))
        })
        .collect()
}

fn spawn_housekeeping(state: &AppState) {
    let db = state.db.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            // Answers whose writer died; every process sweeps (the UPDATE is idempotent).
            let _ = crate::features::chat::server::store::close_abandoned(&db).await;
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
