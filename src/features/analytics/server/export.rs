//! CSV exports: the figures shown (one row per day, then the totals), and the conversations of
//! the range (one row per message).

use super::Scope;
use crate::error::AppError;
use crate::features::analytics::Report;
use crate::features::chat::ExportFile;
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

pub fn csv_file(filename: String, rows: Vec<Vec<String>>) -> Result<ExportFile, AppError> {
    let failed = |e: &dyn std::fmt::Display| {
        tracing::error!(error = %e, "CSV export failed");
        AppError::Internal
    };
    // Sections of different widths follow one another in the figures file.
    let mut w = csv::WriterBuilder::new().flexible(true).from_writer(Vec::new());
    for row in rows {
        w.write_record(row.iter().map(|cell| inert(cell).into_owned())).map_err(|e| failed(&e))?;
    }
    let body = String::from_utf8(w.into_inner().map_err(|e| failed(&e))?).map_err(|e| failed(&e))?;
    Ok(ExportFile { filename, mime: "text/csv".into(), body })
}

/// A cell a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, or a tab or carriage return
/// before one) gets a leading apostrophe, so a visitor's question cannot become a formula in the
/// owner's spreadsheet. Numbers are left as they are.
fn inert(cell: &str) -> std::borrow::Cow<'_, str> {
    let risky = cell.starts_with(['=', '+', '-', '@', '\t', '\r']) && cell.parse::<f64>().is_err();
    if risky {
        format!("'{cell}").into()
    } else {
        cell.into()
    }
}

fn opt(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.0}")).unwrap_or_default()
}

pub fn figures(report: &Report) -> Result<ExportFile, AppError> {
    let mut rows = vec![["day", "conversations", "messages", "visitors", "ttft_p50_ms", "ttft_p95_ms", "total_p50_ms", "total_p95_ms"].map(String::from).to_vec()];
    for d in &report.days {
        rows.push(vec![d.day.to_string(), d.conversations.to_string(), d.messages.to_string(), d.visitors.to_string(), opt(d.ttft_p50), opt(d.ttft_p95), opt(d.total_p50), opt(d.total_p95)]);
    }
    rows.push(["total", "conversations", "messages", "visitors", "questions", "answered", "fallback", "thumbs_up", "thumbs_down"].map(String::from).to_vec());
    for (label, t) in [("this period", &report.totals), ("previous period", &report.previous)] {
        rows.push(vec![
            label.into(),
            t.conversations.to_string(),
            t.messages.to_string(),
            t.visitors.to_string(),
            t.questions.to_string(),
            t.answered.to_string(),
            t.fallback.to_string(),
            t.thumbs_up.to_string(),
            t.thumbs_down.to_string(),
        ]);
    }
    rows.push(["provider", "model", "answers", "tokens_in", "tokens_out", "estimated_cost"].map(String::from).to_vec());
    for u in &report.usage {
        rows.push(vec![u.provider.clone(), u.model.clone(), u.answers.to_string(), u.tokens_in.to_string(), u.tokens_out.to_string(), u.cost.map(|c| format!("{c:.4}")).unwrap_or_default()]);
    }
    csv_file(format!("analytics-{}-to-{}.csv", report.query.from, report.query.to), rows)
}

type MessageRow = (Uuid, String, String, DateTime<Utc>, String, String, String, Option<bool>, Option<i16>, Option<String>, Option<String>, Option<String>, Option<i32>, Option<i32>, Option<i32>, Option<i32>);

/// Most messages one export carries.
const MAX_ROWS: i64 = 200_000;

pub async fn conversations(db: &PgPool, scope: &Scope, from: chrono::NaiveDate, to: chrono::NaiveDate) -> Result<ExportFile, AppError> {
    let rows: Vec<MessageRow> = sqlx::query_as(
        "SELECT m.conversation_id, b.name, c.title, m.created_at, m.role, m.content, m.status, m.answered, m.feedback,
                m.feedback_comment, m.provider, m.model, m.ttft_ms, m.total_ms, m.tokens_in, m.tokens_out
           FROM messages m JOIN conversations c ON c.id = m.conversation_id JOIN bots b ON b.id = m.bot_id
          WHERE m.bot_id = ANY($1) AND m.created_at >= $2 AND m.created_at < $3
          ORDER BY m.conversation_id, m.position LIMIT $4",
    )
    .bind(&scope.bots)
    .bind(scope.from)
    .bind(scope.to)
    .bind(MAX_ROWS)
    .fetch_all(db)
    .await?;
    let mut out = vec![["conversation", "bot", "title", "at", "role", "content", "status", "answered_from_knowledge", "feedback", "feedback_comment", "provider", "model", "ttft_ms", "total_ms", "tokens_in", "tokens_out"]
        .map(String::from)
        .to_vec()];
    let s = |v: Option<String>| v.unwrap_or_default();
    let n = |v: Option<i32>| v.map(|v| v.to_string()).unwrap_or_default();
    for (conversation, bot, title, at, role, content, status, answered, feedback, comment, provider, model, ttft, total, tin, tout) in rows {
        out.push(vec![
            conversation.to_string(),
            bot,
            title,
            at.to_rfc3339(),
            role,
            content,
            status,
            answered.map(|a| a.to_string()).unwrap_or_default(),
            feedback.map(|f| f.to_string()).unwrap_or_default(),
            s(comment),
            s(provider),
            s(model),
            n(ttft),
            n(total),
            n(tin),
            n(tout),
        ]);
    }
    csv_file(format!("conversations-{from}-to-{to}.csv"), out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn formulas_are_made_inert_and_numbers_kept() {
        assert_eq!(super::inert("=HYPERLINK(\"http://evil\")"), "'=HYPERLINK(\"http://evil\")");
        assert_eq!(super::inert("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(super::inert("+1+cmd"), "'+1+cmd");
        assert_eq!(super::inert("\t=1"), "'\t=1");
        assert_eq!(super::inert("-12.5"), "-12.5");
        assert_eq!(super::inert("plain question?"), "plain question?");
    }
}
