use super::settings::DatabaseSettings;
use sqlx::postgres::{PgPool, PgPoolOptions};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum DbSetupError {
    #[error("DATABASE_URL is not set (run ./run.sh, which starts a private PostgreSQL, or point DATABASE_URL at yours)")]
    NoUrl,
    #[error("cannot connect to PostgreSQL: {0}")]
    Connect(#[source] sqlx::Error),
    #[error("applying migrations failed: {0}")]
    Migrate(#[source] sqlx::migrate::MigrateError),
}

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Connects and brings the schema up to date; the server refuses to start otherwise.
pub async fn connect_and_migrate(settings: &DatabaseSettings) -> Result<PgPool, DbSetupError> {
    if settings.url.is_empty() {
        return Err(DbSetupError::NoUrl);
    }
    let pool = PgPoolOptions::new()
        .max_connections(settings.max_connections)
        .acquire_timeout(Duration::from_secs(5))
        .connect(&settings.url)
        .await
        .map_err(DbSetupError::Connect)?;
    MIGRATOR.run(&pool).await.map_err(DbSetupError::Migrate)?;
    Ok(pool)
}
