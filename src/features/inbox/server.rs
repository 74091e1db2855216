//! Inbox queries. Every one names the owner beside the bot: another owner's bot, or its
//! conversations, look like missing ones.

use super::{InboxFilter, InboxRow};
use crate::error::AppError;
use crate::features::chat::{ConversationView, ExportFile};
use sqlx::PgPool;
use uuid::Uuid;

fn date(raw: &str, field: &str) -> Result<Option<chrono::NaiveDate>, AppError> {
    match raw.trim() {
        "" => Ok(None),
        d => chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").map(Some).map_err(|_| AppError::invalid(field, "Use a date like 2026-12-31.")),
    }
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    channel: String,
    site: Option<String>,
    page_url: Option<String>,
    visitor_id: Option<Uuid>,
    api_key: Option<String>,
    first_question: Option<String>,
    messages: i64,
    thumbs_up: i64,
    thumbs_down: i64,
    unanswered: i64,
    created_at: chrono::DateTime<chrono::Utc>,
    updated_at: chrono::DateTime<chrono::Utc>,
}

/// Conversations of the owner's bot matching `f`, newest activity first (at most 500).
pub async fn list(db: &PgPool, owner: Uuid, bot: &str, f: &InboxFilter) -> Result<Vec<InboxRow>, AppError> {
    if !matches!(f.channel.as_str(), "" | "owner" | "share" | "widget" | "api") {
        return Err(AppError::invalid("channel", "Choose a channel from the list."));
    }
    let (from, to) = (date(&f.from, "from")?, date(&f.to, "to")?);
    let bot_id: Uuid = sqlx::query_scalar("SELECT id FROM bots WHERE public_id = $1 AND owner_id = $2")
        .bind(bot)
        .bind(owner)
        .fetch_optional(db)
        .await?
        .ok_or_else(|| AppError::NotFound("Bot".into()))?;
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT c.id, c.channel, v.site, c.page_url, c.visitor_id, k.name AS api_key, c.created_at, c.updated_at,
                (SELECT q.content FROM messages q WHERE q.conversation_id = c.id AND q.role = 'user' ORDER BY q.position LIMIT 1) AS first_question,
                count(m.id) AS messages,
                count(m.id) FILTER (WHERE m.feedback = 1) AS thumbs_up,
                count(m.id) FILTER (WHERE m.feedback = -1) AS thumbs_down,
                count(m.id) FILTER (WHERE m.answered = false) AS unanswered
           FROM conversations c
           LEFT JOIN visitors v ON v.id = c.visitor_id
           LEFT JOIN api_keys k ON k.id = c.api_key_id
           LEFT JOIN messages m ON m.conversation_id = c.id
          WHERE c.bot_id = $1
            AND ($2 = '' OR c.channel = $2)
            AND ($3::date IS NULL OR c.updated_at >= $3::date)
            AND ($4::date IS NULL OR c.created_at < $4::date + 1)
          GROUP BY c.id, v.site, k.name
         HAVING (NOT $5 OR count(m.id) FILTER (WHERE m.feedback = -1) > 0)
            AND (NOT $6 OR count(m.id) FILTER (WHERE m.answered = false) > 0)
          ORDER BY c.updated_at DESC
          LIMIT 500",
    )
    .bind(bot_id)
    .bind(&f.channel)
    .bind(from)
    .bind(to)
    .bind(f.thumbs_down)
    .bind(f.unanswered)
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| InboxRow {
            id: r.id,
            visitor: match (r.visitor_id, r.api_key) {
                (Some(v), _) => format!("Visitor {}", &v.simple().to_string()[..4]),
                (None, Some(key)) => format!("API key “{key}”"),
                (None, None) if r.channel == "api" => "API key (deleted)".into(),
                (None, None) => "You".into(),
            },
            // Share-page visitors' "site" is this server itself: not worth a column.
            site: r.site.filter(|s| !s.is_empty() && r.channel == "widget"),
            channel: r.channel,
            page_url: r.page_url,
            first_question: r.first_question.unwrap_or_default(),
            messages: r.messages,
            thumbs_up: r.thumbs_up,
            thumbs_down: r.thumbs_down,
            unanswered: r.unanswered,
            started_at: r.created_at,
            updated_at: r.updated_at,
        })
        .collect())
}

/// One conversation of the owner's bot, whoever had it, with sources.
pub async fn transcript(db: &PgPool, owner: Uuid, id: Uuid) -> Result<ConversationView, AppError> {
    use crate::features::chat::server::store;
    let (conversation, _, _) = store::owned_conversation(db, owner, id).await?;
    let messages = store::messages(db, id).await?;
    Ok(ConversationView { conversation, messages })
}

/// The listed conversations with every message: CSV (one row per message, cells that a
/// spreadsheet would run made inert) or JSON.
pub async fn export(db: &PgPool, owner: Uuid, bot: &str, f: &InboxFilter, format: &str) -> Result<ExportFile, AppError> {
    let rows = list(db, owner, bot, f).await?;
    let mut transcripts = Vec::with_capacity(rows.len());
    for row in &rows {
        transcripts.push(transcript(db, owner, row.id).await?.messages);
    }
    match format {
        "json" => {
            let body: Vec<_> = rows.iter().zip(&transcripts).map(|(r, m)| serde_json::json!({ "conversation": r, "messages": m })).collect();
            let body = serde_json::to_string_pretty(&body).map_err(|_| AppError::Internal)?;
            Ok(ExportFile { filename: format!("{bot}-conversations.json"), mime: "application/json".into(), body })
        }
        "csv" => {
            let mut out = vec![["conversation", "channel", "site", "page", "visitor", "at", "role", "message", "status", "answered", "feedback", "sources"].map(String::from).to_vec()];
            for (r, messages) in rows.iter().zip(&transcripts) {
                for m in messages {
                    out.push(vec![
                        r.id.to_string(),
                        r.channel.clone(),
                        r.site.clone().unwrap_or_default(),
                        r.page_url.clone().unwrap_or_default(),
                        r.visitor.clone(),
                        m.created_at.to_rfc3339(),
                        format!("{:?}", m.role).to_lowercase(),
                        m.content.clone(),
                        format!("{:?}", m.status).to_lowercase(),
                        m.answered.map(|a| a.to_string()).unwrap_or_default(),
                        m.feedback.map(|f| f.to_string()).unwrap_or_default(),
                        m.sources.iter().map(|s| s.location()).collect::<Vec<_>>().join(" | "),
                    ]);
                }
            }
            crate::features::analytics::server::export::csv_file(format!("{bot}-conversations.csv"), out)
        }
        _ => Err(AppError::invalid("format", "Export as CSV or JSON.")),
    }
}
