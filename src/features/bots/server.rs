//! Bot storage. Every statement names the owner next to the bot (`AND owner_id = $n`): a bot
//! of someone else is indistinguishable from a bot that does not exist.

use super::{Bot, BotLimits, BotSettings, BotSummary, IndexState, ModelChoice, Visibility};
use crate::error::AppError;
use rand::Rng;
use sqlx::{PgPool, Postgres, Row, Transaction};
use tracing::instrument;
use uuid::Uuid;

const COLUMNS: &str = "b.id, b.public_id, b.name, b.description, b.avatar_emoji, b.persona, b.welcome_message,
    b.suggested_questions, b.llm_provider, b.llm_model, b.temperature, b.max_answer_tokens, b.top_k,
    b.min_relevance, b.keyword_weight, b.answer_only_from_knowledge, b.fallback_message, b.accent_color,
    b.visibility, b.embedding_model, b.embedder, b.search_language, b.search_language_live, b.reindex_done, b.reindex_total, b.reindex_error, b.created_at, b.updated_at, b.last_activity_at, a.updated_at AS avatar_updated_at";

#[derive(sqlx::FromRow)]
struct BotRow {
    #[allow(dead_code)]
    id: Uuid,
    public_id: String,
    name: String,
    description: String,
    avatar_emoji: String,
    persona: String,
    welcome_message: String,
    suggested_questions: Vec<String>,
    llm_provider: String,
    llm_model: String,
    temperature: f32,
    max_answer_tokens: i32,
    top_k: i32,
    min_relevance: f32,
    keyword_weight: f32,
    answer_only_from_knowledge: bool,
    fallback_message: String,
    accent_color: String,
    visibility: String,
    embedding_model: String,
    embedder: String,
    search_language: String,
    search_language_live: String,
    reindex_done: i32,
    reindex_total: i32,
    reindex_error: Option<String>,
    created_at: chrono::DateTime<chrono::Utc>,
    updated_at: chrono::DateTime<chrono::Utc>,
    last_activity_at: chrono::DateTime<chrono::Utc>,
    avatar_updated_at: Option<chrono::DateTime<chrono::Utc>>,
    #[sqlx(default)]
    documents: Option<i64>,
    #[sqlx(default)]
    conversations: Option<i64>,
}

fn avatar_url(public_id: &str, updated: Option<chrono::DateTime<chrono::Utc>>) -> Option<String> {
    updated.map(|at| format!("/media/bots/{public_id}/avatar?v={}", at.timestamp_millis()))
}

impl BotRow {
    fn into_bot(self) -> Bot {
        let avatar_url = avatar_url(&self.public_id, self.avatar_updated_at);
        Bot {
            settings: BotSettings {
                name: self.name,
                description: self.description,
                avatar_emoji: self.avatar_emoji,
                persona: self.persona,
                welcome_message: self.welcome_message,
                suggested_questions: self.suggested_questions,
                llm_provider: self.llm_provider,
                llm_model: self.llm_model,
                embedding_model: self.embedding_model,
                temperature: self.temperature,
                max_answer_tokens: self.max_answer_tokens.max(0) as u32,
                top_k: self.top_k.max(0) as u32,
                min_relevance: self.min_relevance,
                keyword_weight: self.keyword_weight,
                search_language: self.search_language,
                answer_only_from_knowledge: self.answer_only_from_knowledge,
                fallback_message: self.fallback_message,
                accent_color: self.accent_color,
                visibility: Visibility::parse(&self.visibility).unwrap_or_default(),
            },
            index: IndexState { live: self.embedder, keyword_language: self.search_language_live, done: self.reindex_done, total: self.reindex_total, error: self.reindex_error },
            public_id: self.public_id,
            avatar_url,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }

    fn into_summary(self) -> BotSummary {
        BotSummary {
            avatar_url: avatar_url(&self.public_id, self.avatar_updated_at),
            public_id: self.public_id,
            name: self.name,
            description: self.description,
            avatar_emoji: self.avatar_emoji,
            accent_color: self.accent_color,
            visibility: Visibility::parse(&self.visibility).unwrap_or_default(),
            documents: self.documents.unwrap_or(0),
            conversations: self.conversations.unwrap_or(0),
            last_activity_at: self.last_activity_at,
        }
    }
}

/// 16 characters from 36 gives about 82 random bits: ids that cannot be guessed or counted.
pub fn new_public_id() -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rngs::OsRng;
    (0..16).map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char).collect()
}

fn not_found() -> AppError {
    AppError::NotFound("Bot".into())
}

pub async fn list(db: &PgPool, owner: Uuid) -> Result<Vec<BotSummary>, AppError> {
    let rows: Vec<BotRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS}, (SELECT count(*) FROM documents d WHERE d.bot_id = b.id) AS documents,
                (SELECT count(*) FROM conversations c WHERE c.bot_id = b.id) AS conversations
           FROM bots b LEFT JOIN bot_avatars a ON a.bot_id = b.id
          WHERE b.owner_id = $1 ORDER BY b.last_activity_at DESC, b.created_at DESC"
    ))
    .bind(owner)
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(BotRow::into_summary).collect())
}

pub async fn get(db: &PgPool, owner: Uuid, public_id: &str) -> Result<Bot, AppError> {
    let row: Option<BotRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM bots b LEFT JOIN bot_avatars a ON a.bot_id = b.id
          WHERE b.public_id = $1 AND b.owner_id = $2"
    ))
    .bind(public_id)
    .bind(owner)
    .fetch_optional(db)
    .await?;
    row.map(BotRow::into_bot).ok_or_else(not_found)
}

/// Locks the owner's row so that two concurrent creations cannot both pass the limit.
async fn check_bot_limit(tx: &mut Transaction<'_, Postgres>, owner: Uuid, limits: &BotLimits) -> Result<(), AppError> {
    sqlx::query("SELECT 1 FROM users WHERE id = $1 FOR UPDATE").bind(owner).execute(&mut **tx).await?;
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM bots WHERE owner_id = $1")
        .bind(owner)
        .fetch_one(&mut **tx)
        .await?;
    if count >= limits.max_bots_per_user as i64 {
        return Err(AppError::invalid(
            "name",
            format!("You have reached the limit of {} bots. Delete one to make room.", limits.max_bots_per_user),
        ));
    }
    Ok(())
}

type PgQuery<'q> = sqlx::query::Query<'q, Postgres, sqlx::postgres::PgArguments>;

/// Binds the settings as $3…$21, in the column order both INSERT and UPDATE use.
fn bind_settings<'q>(query: PgQuery<'q>, s: &'q BotSettings) -> PgQuery<'q> {
    query
        .bind(&s.name)
        .bind(&s.description)
        .bind(&s.avatar_emoji)
        .bind(&s.persona)
        .bind(&s.welcome_message)
        .bind(&s.suggested_questions)
        .bind(&s.llm_provider)
        .bind(&s.llm_model)
        .bind(s.temperature)
        .bind(s.max_answer_tokens as i32)
        .bind(s.top_k as i32)
        .bind(s.min_relevance)
        .bind(s.keyword_weight)
        .bind(s.answer_only_from_knowledge)
        .bind(&s.fallback_message)
        .bind(&s.accent_color)
        .bind(s.visibility.as_str())
        .bind(&s.embedding_model)
        .bind(&s.search_language)
}

async fn insert(tx: &mut Transaction<'_, Postgres>, owner: Uuid, s: &BotSettings) -> Result<(Uuid, String), AppError> {
    let public_id = new_public_id();
    let row = bind_settings(sqlx::query(
        "INSERT INTO bots (public_id, owner_id, name, description, avatar_emoji, persona, welcome_message,
            suggested_questions, llm_provider, llm_model, temperature, max_answer_tokens, top_k, min_relevance,
            keyword_weight, answer_only_from_knowledge, fallback_message, accent_color, visibility, embedding_model, embedder,
            search_language, search_language_live)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $20, $21, $21)
         RETURNING id",
    )
    .bind(&public_id)
    .bind(owner), s)
    .fetch_one(&mut **tx)
    .await?;
    Ok((row.try_get("id")?, public_id))
}

#[instrument(skip(db, limits, models, embedders))]
pub async fn create(
    db: &PgPool,
    limits: &BotLimits,
    models: &[ModelChoice],
    embedders: &[ModelChoice],
    owner: Uuid,
    name: &str,
) -> Result<Bot, AppError> {
    let (Some(model), Some(embedder)) = (models.first(), embedders.first()) else {
        tracing::error!("no LLM or embedding models are configured");
        return Err(AppError::Internal);
    };
    let settings = BotSettings::named(name, model, &embedder.model).validate(limits, models, embedders)?;
    let mut tx = db.begin().await?;
    check_bot_limit(&mut tx, owner, limits).await?;
    let (_, public_id) = insert(&mut tx, owner, &settings).await?;
    tx.commit().await?;
    get(db, owner, &public_id).await
}

#[instrument(skip(db, limits, models, embedders, settings))]
pub async fn update(
    db: &PgPool,
    limits: &BotLimits,
    models: &[ModelChoice],
    embedders: &[ModelChoice],
    owner: Uuid,
    public_id: &str,
    settings: BotSettings,
) -> Result<Bot, AppError> {
    let s = settings.validate(limits, models, embedders)?;
    // The list is PostgreSQL 15's; an older server may lack a few.
    let known: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_ts_config WHERE cfgname = $1)").bind(&s.search_language).fetch_one(db).await?;
    if !known {
        return Err(AppError::invalid("search_language", format!("This server's PostgreSQL has no {} text search.", super::search_language_label(&s.search_language))));
    }
    let done = bind_settings(sqlx::query(
        "UPDATE bots SET name = $3, description = $4, avatar_emoji = $5, persona = $6, welcome_message = $7,
            suggested_questions = $8, llm_provider = $9, llm_model = $10, temperature = $11,
            max_answer_tokens = $12, top_k = $13, min_relevance = $14, keyword_weight = $15,
            answer_only_from_knowledge = $16, fallback_message = $17, accent_color = $18,
            -- $19 (visibility) is not written: publishing belongs to Share & embed (public::server::store).
            -- A new choice starts re-indexing afresh (the worker picks it up).
            reindex_done = CASE WHEN embedding_model = $20 THEN reindex_done ELSE 0 END,
            reindex_total = CASE WHEN embedding_model = $20 THEN reindex_total ELSE 0 END,
            reindex_error = CASE WHEN embedding_model = $20 THEN reindex_error ELSE NULL END,
            reindex_lease_until = CASE WHEN embedding_model = $20 THEN reindex_lease_until ELSE NULL END,
            embedding_model = $20,
            -- Another language re-indexes the words in the background (knowledge::server::language).
            search_language = $21, updated_at = now()
          WHERE public_id = $1 AND owner_id = $2",
    )
    .bind(public_id)
    .bind(owner), &s)
    .execute(db)
    .await?;
    if done.rows_affected() == 0 {
        return Err(not_found());
    }
    get(db, owner, public_id).await
}

/// A copy with its own id, named "Copy of …", private, with the same avatar. Knowledge is
/// not copied: documents belong to the bot they were uploaded to.
#[instrument(skip(db, limits))]
pub async fn duplicate(db: &PgPool, limits: &BotLimits, owner: Uuid, public_id: &str) -> Result<Bot, AppError> {
    let original = get(db, owner, public_id).await?;
    let mut settings = original.settings;
    let name: String = format!("Copy of {}", settings.name).chars().take(limits.name_max).collect();
    settings.name = name;
    settings.visibility = Visibility::Private;
    let mut tx = db.begin().await?;
    check_bot_limit(&mut tx, owner, limits).await?;
    let (new_id, new_public_id) = insert(&mut tx, owner, &settings).await?;
    sqlx::query(
        "INSERT INTO bot_avatars (bot_id, mime, bytes)
         SELECT $1, a.mime, a.bytes FROM bot_avatars a JOIN bots b ON b.id = a.bot_id
          WHERE b.public_id = $2 AND b.owner_id = $3",
    )
    .bind(new_id)
    .bind(public_id)
    .bind(owner)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    get(db, owner, &new_public_id).await
}

/// Deletes the bot; everything that belongs to it references `bots` with
/// `ON DELETE CASCADE`, so nothing is left behind in the database. Returns its id, so a
/// remote vector store can be told.
#[instrument(skip(db))]
pub async fn delete(db: &PgPool, owner: Uuid, public_id: &str) -> Result<Uuid, AppError> {
    // The vector store's deletion is queued in the same statement (see providers::vectors::outbox).
    let forget = crate::providers::vectors::outbox::forget_bots_sql("b");
    let id: Option<Uuid> = sqlx::query_scalar(&format!("WITH b AS (DELETE FROM bots WHERE public_id = $1 AND owner_id = $2 RETURNING id), q AS ({forget}) SELECT id FROM b"))
        .bind(public_id)
        .bind(owner)
        .fetch_optional(db)
        .await?;
    id.ok_or_else(not_found)
}

/// Image formats accepted as avatars, recognised by their first bytes, not their name.
pub fn sniff_image(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some("image/gif")
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

pub async fn set_avatar(db: &PgPool, limits: &BotLimits, owner: Uuid, public_id: &str, bytes: Vec<u8>) -> Result<Bot, AppError> {
    if bytes.len() > limits.avatar_max_bytes {
        return Err(too_large(limits));
    }
    let mime = sniff_image(&bytes)
        .ok_or_else(|| AppError::invalid("avatar", "Avatars must be PNG, JPEG, GIF or WebP images."))?;
    let done = sqlx::query(
        "INSERT INTO bot_avatars (bot_id, mime, bytes)
         SELECT id, $3, $4 FROM bots WHERE public_id = $1 AND owner_id = $2
         ON CONFLICT (bot_id) DO UPDATE SET mime = EXCLUDED.mime, bytes = EXCLUDED.bytes, updated_at = now()",
    )
    .bind(public_id)
    .bind(owner)
    .bind(mime)
    .bind(&bytes)
    .execute(db)
    .await?;
    if done.rows_affected() == 0 {
        return Err(not_found());
    }
    get(db, owner, public_id).await
}

pub fn too_large(limits: &BotLimits) -> AppError {
    AppError::invalid("avatar", format!("Avatars are at most {} KB.", limits.avatar_max_bytes / 1024))
}

pub async fn remove_avatar(db: &PgPool, owner: Uuid, public_id: &str) -> Result<Bot, AppError> {
    sqlx::query("DELETE FROM bot_avatars a USING bots b WHERE a.bot_id = b.id AND b.public_id = $1 AND b.owner_id = $2")
        .bind(public_id)
        .bind(owner)
        .execute(db)
        .await?;
    get(db, owner, public_id).await
}

/// The avatar image for a viewer: anyone for a public bot, only the owner otherwise.
pub async fn avatar_for(db: &PgPool, public_id: &str, viewer: Option<Uuid>) -> Result<Option<(String, Vec<u8>)>, AppError> {
    Ok(sqlx::query_as(
        "SELECT a.mime, a.bytes FROM bot_avatars a JOIN bots b ON b.id = a.bot_id
          WHERE b.public_id = $1 AND (b.visibility = 'public' OR b.owner_id = $2)",
    )
    .bind(public_id)
    .bind(viewer)
    .fetch_optional(db)
    .await?)
}

/// `GET /media/bots/{public_id}/avatar`: image bytes for whoever may see the bot. The URL
/// carries a version, so the browser may cache it.
pub async fn serve_avatar(
    axum::extract::State(state): axum::extract::State<crate::server::state::AppState>,
    axum::extract::Path(public_id): axum::extract::Path<String>,
    headers: http::HeaderMap,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    use http::{header, StatusCode};
    let viewer = match crate::features::auth::server::request::viewer(&state, &headers).await {
        Ok(v) => v.map(|u| u.id),
        Err(_) => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    };
    match avatar_for(&state.db, &public_id, viewer).await {
        Ok(Some((mime, bytes))) => (
            [
                (header::CONTENT_TYPE, mime),
                (header::CACHE_CONTROL, "private, max-age=604800".into()),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff".into()),
            ],
            bytes,
        )
            .into_response(),
        Ok(None) => StatusCode::NOT_FOUND.into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_ids_are_long_random_and_distinct() {
        let ids: std::collections::HashSet<String> = (0..1000).map(|_| new_public_id()).collect();
        assert_eq!(ids.len(), 1000);
        assert!(ids.iter().all(|id| id.len() == 16 && id.bytes().all(|b| b.is_ascii_alphanumeric())));
    }

    #[test]
    fn avatars_are_recognised_by_content() {
        assert_eq!(sniff_image(b"\x89PNG\r\n\x1a\nrest"), Some("image/png"));
        assert_eq!(sniff_image(&[0xFF, 0xD8, 0xFF, 0xE0]), Some("image/jpeg"));
        assert_eq!(sniff_image(b"RIFF\0\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(sniff_image(b"<svg onload=alert(1)>"), None);
        assert_eq!(sniff_image(b"GIF89a"), Some("image/gif"));
    }
}
