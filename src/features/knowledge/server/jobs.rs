//! The background loop of each ingestion worker: new and changed documents first (people wait
//! for them), then bots being re-indexed (another embedding model, then another keyword
//! language), then vectors a remote store must forget. It stops
//! taking work when the process shuts down and gives back the job it holds.

use super::{language, reindex, worker};
use crate::providers::Providers;
use crate::features::knowledge::server::settings::KnowledgeSettings;
use crate::server::shutdown::Shutdown;
use sqlx::PgPool;
use std::time::Duration;

pub async fn run(db: PgPool, settings: KnowledgeSettings, providers: Providers, worker: String, shutdown: Shutdown) {
    tracing::info!(%worker, "ingestion worker started");
    while !shutdown.is_requested() {
        let work = match worker::run_once_until(&db, &settings, &providers, &worker, &shutdown).await {
            Ok(false) => reindex::run_once(&db, &providers, settings.lease_secs).await,
            other => other,
        };
        let work = match work {
            Ok(false) => language::run_once(&db).await,
            other => other,
        };
        let work = match work {
            Ok(false) => crate::providers::vectors::outbox::run_once(&db, &providers.vectors).await,
            other => other,
        };
        let pause = match work {
            Ok(true) => continue,
            Ok(false) => Duration::from_millis(settings.poll_millis),
            Err(error) => {
                tracing::error!(?error, "ingestion worker could not reach the queue");
                Duration::from_secs(2)
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = shutdown.requested() => {}
        }
    }
    tracing::info!(%worker, "ingestion worker stopped");
}
