//! Publishing settings in PostgreSQL (owner side), and the published bot a visitor reaches.

use crate::error::AppError;
use crate::features::bots::Bot;
use crate::features::public::{Publishing, ShareInfo};
use sqlx::PgPool;
use uuid::Uuid;

#[derive(sqlx::FromRow)]
struct Row {
    allowed_sites: Vec<String>,
    per_visitor_minute: i32,
    per_visitor_day: i32,
    per_address_day: i32,
    per_bot_day: i32,
    per_bot_month: i32,
    limit_message: String,
    show_sources: bool,
    widget_position: String,
    open_on_load: bool,
    indexable: bool,
}

impl From<Row> for Publishing {
    fn from(r: Row) -> Self {
        Publishing {
            allowed_sites: r.allowed_sites,
            per_visitor_minute: r.per_visitor_minute,
            per_visitor_day: r.per_visitor_day,
            per_address_day: r.per_address_day,
            per_bot_day: r.per_bot_day,
            per_bot_month: r.per_bot_month,
            limit_message: r.limit_message,
            show_sources: r.show_sources,
            widget_position: r.widget_position,
            open_on_load: r.open_on_load,
            indexable: r.indexable,
        }
    }
}

const COLUMNS: &str = "allowed_sites, per_visitor_minute, per_visitor_day, per_address_day, per_bot_day, per_bot_month,
    limit_message, show_sources, widget_position, open_on_load, indexable";

/// A bot's settings; the defaults until the owner saved some.
pub async fn publishing(db: &PgPool, bot_id: Uuid) -> Result<Publishing, AppError> {
    let row: Option<Row> = sqlx::query_as(&format!("SELECT {COLUMNS} FROM bot_publishing WHERE bot_id = $1")).bind(bot_id).fetch_optional(db).await?;
    Ok(row.map(Publishing::from).unwrap_or_default())
}

async fn owned_bot_id(db: &PgPool, owner: Uuid, public_id: &str) -> Result<(Uuid, bool), AppError> {
    let row: Option<(Uuid, String)> = sqlx::query_as("SELECT id, visibility FROM bots WHERE public_id = $1 AND owner_id = $2").bind(public_id).bind(owner).fetch_optional(db).await?;
    row.map(|(id, v)| (id, v == "public")).ok_or_else(|| AppError::NotFound("Bot".into()))
}

pub fn share_url(public_url: &str, public_id: &str) -> String {
    format!("{}/s/{public_id}", public_url.trim_end_matches('/'))
}

pub fn share_info(public_url: &str, public_id: &str, published: bool, publishing: Publishing) -> ShareInfo {
    let base = public_url.trim_end_matches('/');
    let site = publishing.allowed_sites.iter().find(|s| !s.contains('*')).cloned().unwrap_or_else(|| "https://your-site.example".into());
    ShareInfo {
        published,
        share_url: share_url(public_url, public_id),
        script_snippet: format!("<script src=\"{base}/widget.js\" data-bot=\"{public_id}\" async></script>"),
        iframe_snippet: format!(
            "<iframe src=\"{base}/embed/{public_id}?site={site}\" title=\"Chat\" style=\"width:100%;max-width:420px;height:640px;border:0\"></iframe>"
        ),
        publishing,
    }
}

pub async fn get(db: &PgPool, public_url: &str, owner: Uuid, public_id: &str) -> Result<ShareInfo, AppError> {
    let (bot_id, published) = owned_bot_id(db, owner, public_id).await?;
    Ok(share_info(public_url, public_id, published, publishing(db, bot_id).await?))
}

/// Publishes or unpublishes the bot and saves its settings (checked first: nothing is saved
/// when a rule is broken).
pub async fn save(db: &PgPool, public_url: &str, owner: Uuid, public_id: &str, published: bool, settings: Publishing) -> Result<ShareInfo, AppError> {
    let p = settings.validate()?;
    let (bot_id, _) = owned_bot_id(db, owner, public_id).await?;
    let mut tx = db.begin().await?;
    sqlx::query("UPDATE bots SET visibility = $3, updated_at = now() WHERE id = $1 AND owner_id = $2")
        .bind(bot_id)
        .bind(owner)
        .bind(if published { "public" } else { "private" })
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO bot_publishing (bot_id, allowed_sites, per_visitor_minute, per_visitor_day, per_address_day, per_bot_day, per_bot_month,
                                     limit_message, show_sources, widget_position, open_on_load, indexable)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
         ON CONFLICT (bot_id) DO UPDATE SET allowed_sites = $2, per_visitor_minute = $3, per_visitor_day = $4, per_address_day = $5,
            per_bot_day = $6, per_bot_month = $7, limit_message = $8, show_sources = $9, widget_position = $10, open_on_load = $11,
            indexable = $12, updated_at = now()",
    )
    .bind(bot_id)
    .bind(&p.allowed_sites)
    .bind(p.per_visitor_minute)
    .bind(p.per_visitor_day)
    .bind(p.per_address_day)
    .bind(p.per_bot_day)
    .bind(p.per_bot_month)
    .bind(&p.limit_message)
    .bind(p.show_sources)
    .bind(&p.widget_position)
    .bind(p.open_on_load)
    .bind(p.indexable)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(share_info(public_url, public_id, published, p))
}

/// A published bot as visitors see it.
pub struct PublicBot {
    pub id: Uuid,
    pub owner: Uuid,
    pub bot: Bot,
    pub publishing: Publishing,
}

pub const UNAVAILABLE: &str = "This assistant is not available.";

/// The bot behind `public_id` if it is published; anything else (unknown, private,
/// unpublished a moment ago) is the same "not available".
pub async fn published(db: &PgPool, public_id: &str) -> Result<PublicBot, AppError> {
    let row: Option<(Uuid, Uuid)> = sqlx::query_as("SELECT id, owner_id FROM bots WHERE public_id = $1 AND visibility = 'public'").bind(public_id).fetch_optional(db).await?;
    let (id, owner) = row.ok_or_else(|| AppError::NotFound(UNAVAILABLE.into()))?;
    let bot = crate::features::bots::server::get(db, owner, public_id).await?;
    Ok(PublicBot { id, owner, bot, publishing: publishing(db, id).await? })
}
