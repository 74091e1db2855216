//! The report's figures. Each is one SQL aggregate over `messages (bot_id, created_at)`,
//! `conversations (bot_id, created_at)` or the citation indexes; days are cut in the owner's
//! time zone, and every day of the range is present (zeros included).

use super::Scope;
use crate::error::AppError;
use crate::features::analytics::{ChannelFigures, Day, DocumentCitations, Downvote, Report, ReportQuery, Totals, Usage};
use crate::features::bots::ModelChoice;
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgPool;
use std::collections::HashMap;
use uuid::Uuid;

pub async fn report(db: &PgPool, scope: &Scope, query: &ReportQuery, prices: &[ModelChoice]) -> Result<Report, AppError> {
    let (days_and_totals, previous, usage, downvotes, (top_documents, uncited_documents), channels) = tokio::try_join!(
        days(db, scope, query.from, query.to),
        totals(db, &scope.bots, scope.previous_from, scope.from),
        usage(db, scope, prices),
        downvotes(db, scope),
        documents(db, scope),
        channels(db, scope),
    )?;
    let (days, totals) = days_and_totals;
    Ok(Report { query: query.clone(), bots: scope.choices.clone(), totals, previous, days, usage, downvotes, top_documents, uncited_documents, channels })
}

/// Visitors, conversations and questions per channel (API conversations per key), from the
/// questions asked in the range.
async fn channels(db: &PgPool, scope: &Scope) -> Result<Vec<ChannelFigures>, AppError> {
    let rows: Vec<(String, Option<String>, i64, i64, i64)> = sqlx::query_as(
        "SELECT c.channel, CASE WHEN c.channel = 'api' THEN coalesce(k.name, 'deleted key') END,
                count(DISTINCT c.visitor_key), count(DISTINCT c.id), count(*)
           FROM messages m JOIN conversations c ON c.id = m.conversation_id
           LEFT JOIN api_keys k ON k.id = c.api_key_id
          WHERE m.bot_id = ANY($1) AND m.created_at >= $2 AND m.created_at < $3 AND m.role = 'user'
          GROUP BY 1, 2 ORDER BY 5 DESC, 1, 2",
    )
    .bind(&scope.bots)
    .bind(scope.from)
    .bind(scope.to)
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(channel, key, visitors, conversations, questions)| ChannelFigures { channel, key, visitors, conversations, questions })
        .collect())
}

/// The counts of a range, summed from `message_stats` (kept per quarter hour by a trigger;
/// every time zone's midnight is on a quarter hour, so ranges cut cleanly).
const COUNTS: &str = "sum(messages)::bigint, sum(questions)::bigint, sum(answered)::bigint, sum(fallback)::bigint,
    sum(thumbs_up)::bigint, sum(thumbs_down)::bigint";
type Counts = (i64, i64, i64, i64, i64, i64);

fn with_counts(t: &mut Totals, c: Counts) {
    t.messages += c.0;
    t.questions += c.1;
    t.answered += c.2;
    t.fallback += c.3;
    t.thumbs_up += c.4;
    t.thumbs_down += c.5;
}

/// Distinct people who asked something in [from, to).
async fn visitors(db: &PgPool, bots: &[Uuid], from: DateTime<Utc>, to: DateTime<Utc>) -> Result<i64, AppError> {
    Ok(sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT DISTINCT visitor_key FROM messages
                                WHERE bot_id = ANY($1) AND created_at >= $2 AND created_at < $3 AND role = 'user') v",
    )
    .bind(bots)
    .bind(from)
    .bind(to)
    .fetch_one(db)
    .await?)
}

async fn conversations(db: &PgPool, bots: &[Uuid], from: DateTime<Utc>, to: DateTime<Utc>) -> Result<i64, AppError> {
    Ok(sqlx::query_scalar("SELECT count(*) FROM conversations WHERE bot_id = ANY($1) AND created_at >= $2 AND created_at < $3").bind(bots).bind(from).bind(to).fetch_one(db).await?)
}

pub async fn totals(db: &PgPool, bots: &[Uuid], from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Totals, AppError> {
    let counts = async {
        let c: Option<Counts> = sqlx::query_as(&format!("SELECT {COUNTS} FROM message_stats WHERE bot_id = ANY($1) AND bucket >= $2 AND bucket < $3 HAVING count(*) > 0"))
            .bind(bots)
            .bind(from)
            .bind(to)
            .fetch_optional(db)
            .await?;
        Ok::<_, AppError>(c.unwrap_or_default())
    };
    let (c, visitors, conversations) = tokio::try_join!(counts, visitors(db, bots, from, to), conversations(db, bots, from, to))?;
    let mut t = Totals { conversations, visitors, ..Totals::default() };
    with_counts(&mut t, c);
    Ok(t)
}

/// Local midnights from `from` to the day after `to`: row i of a day query is the day that
/// starts at edge i (width_bucket's numbering, from 1). A binary search per row is far cheaper
/// than converting every timestamp to the owner's zone.
const EDGES: &str = "WITH b AS (SELECT array_agg((d::date)::timestamp AT TIME ZONE $4 ORDER BY d) AS edges
                                 FROM generate_series($5::date, $6::date + 1, interval '1 day') AS d)";

/// Every day of the range, and the period's totals (all but the visitors come from the days).
async fn days(db: &PgPool, scope: &Scope, from: NaiveDate, to: NaiveDate) -> Result<(Vec<Day>, Totals), AppError> {
    let counts = async {
        let rows: Vec<(i32, i64, i64, i64, i64, i64, i64)> = sqlx::query_as(&format!(
            "{EDGES} SELECT width_bucket(bucket, b.edges), {COUNTS}
               FROM message_stats, b WHERE bot_id = ANY($1) AND bucket >= $2 AND bucket < $3 GROUP BY 1"
        ))
        .bind(&scope.bots).bind(scope.from).bind(scope.to).bind(&scope.time_zone).bind(from).bind(to)
        .fetch_all(db)
        .await?;
        Ok::<_, AppError>(rows)
    };
    let speed = async {
        let rows: Vec<(i32, Option<Vec<f64>>, Option<Vec<f64>>)> = sqlx::query_as(&format!(
            "{EDGES} SELECT width_bucket(created_at, b.edges),
                    percentile_cont(ARRAY[0.5, 0.95]) WITHIN GROUP (ORDER BY ttft_ms),
                    percentile_cont(ARRAY[0.5, 0.95]) WITHIN GROUP (ORDER BY total_ms)
               FROM messages, b WHERE bot_id = ANY($1) AND created_at >= $2 AND created_at < $3 AND role = 'assistant' GROUP BY 1"
        ))
        .bind(&scope.bots).bind(scope.from).bind(scope.to).bind(&scope.time_zone).bind(from).bind(to)
        .fetch_all(db)
        .await?;
        Ok::<_, AppError>(rows)
    };
    let daily_visitors = async {
        let rows: Vec<(i32, i64)> = sqlx::query_as(&format!(
            "{EDGES} SELECT i, count(*) FROM (SELECT DISTINCT width_bucket(created_at, b.edges) AS i, visitor_key
                                                FROM messages, b WHERE bot_id = ANY($1) AND created_at >= $2 AND created_at < $3 AND role = 'user') v
              GROUP BY 1"
        ))
        .bind(&scope.bots).bind(scope.from).bind(scope.to).bind(&scope.time_zone).bind(from).bind(to)
        .fetch_all(db)
        .await?;
        Ok::<_, AppError>(rows)
    };
    let daily_conversations = async {
        let rows: Vec<(i32, i64)> = sqlx::query_as(&format!(
            "{EDGES} SELECT width_bucket(created_at, b.edges), count(*)
               FROM conversations, b WHERE bot_id = ANY($1) AND created_at >= $2 AND created_at < $3 GROUP BY 1"
        ))
        .bind(&scope.bots).bind(scope.from).bind(scope.to).bind(&scope.time_zone).bind(from).bind(to)
        .fetch_all(db)
        .await?;
        Ok::<_, AppError>(rows)
    };
    let (counts, speed, daily_visitors, daily_conversations, visitors) =
        tokio::try_join!(counts, speed, daily_visitors, daily_conversations, visitors(db, &scope.bots, scope.from, scope.to))?;

    let n = (to - from).num_days() as usize + 1;
    let mut days: Vec<Day> = (0..n).map(|i| Day { day: from + chrono::Duration::days(i as i64), ..Day::default() }).collect();
    let at = |i: i32| (i >= 1 && (i as usize) <= n).then(|| i as usize - 1);
    let mut totals = Totals { visitors, ..Totals::default() };
    for (i, a, b, c, d, e, f) in counts {
        with_counts(&mut totals, (a, b, c, d, e, f));
        if let Some(k) = at(i) {
            days[k].messages = a;
        }
    }
    for (i, ttft, total) in speed {
        if let Some(k) = at(i) {
            let pick = |v: &Option<Vec<f64>>, j: usize| v.as_ref().and_then(|v| v.get(j).copied());
            (days[k].ttft_p50, days[k].ttft_p95, days[k].total_p50, days[k].total_p95) = (pick(&ttft, 0), pick(&ttft, 1), pick(&total, 0), pick(&total, 1));
        }
    }
    for (i, v) in daily_visitors {
        if let Some(k) = at(i) {
            days[k].visitors = v;
        }
    }
    for (i, c) in daily_conversations {
        totals.conversations += c;
        if let Some(k) = at(i) {
            days[k].conversations = c;
        }
    }
    Ok((days, totals))
}

async fn usage(db: &PgPool, scope: &Scope, prices: &[ModelChoice]) -> Result<Vec<Usage>, AppError> {
    let rows: Vec<(String, String, i64, i64, i64)> = sqlx::query_as(
        "SELECT provider, model, sum(answers)::bigint, sum(tokens_in)::bigint, sum(tokens_out)::bigint
           FROM message_stats WHERE bot_id = ANY($1) AND bucket >= $2 AND bucket < $3
          GROUP BY 1, 2 HAVING sum(answers) > 0 ORDER BY 4 + 5 DESC, 1, 2",
    )
    .bind(&scope.bots)
    .bind(scope.from)
    .bind(scope.to)
    .fetch_all(db)
    .await?;
    let price: HashMap<(&str, &str), &ModelChoice> = prices.iter().map(|m| ((m.provider.as_str(), m.model.as_str()), m)).collect();
    Ok(rows
        .into_iter()
        .map(|(provider, model, answers, tokens_in, tokens_out)| {
            let cost = price.get(&(provider.as_str(), model.as_str())).and_then(|m| m.cost(tokens_in, tokens_out));
            Usage { provider, model, answers, tokens_in, tokens_out, cost }
        })
        .collect())
}

async fn downvotes(db: &PgPool, scope: &Scope) -> Result<Vec<Downvote>, AppError> {
    let rows: Vec<(String, String, Uuid, Option<String>, String, Option<String>, DateTime<Utc>)> = sqlx::query_as(
        "SELECT b.public_id, b.name, a.conversation_id, q.content, a.content, a.feedback_comment, a.created_at
           FROM messages a JOIN bots b ON b.id = a.bot_id
           LEFT JOIN LATERAL (SELECT content FROM messages q WHERE q.conversation_id = a.conversation_id AND q.position < a.position
                                 AND q.role = 'user' ORDER BY q.position DESC LIMIT 1) q ON true
          WHERE a.bot_id = ANY($1) AND a.feedback = -1 AND a.created_at >= $2 AND a.created_at < $3
          ORDER BY a.created_at DESC LIMIT 50",
    )
    .bind(&scope.bots)
    .bind(scope.from)
    .bind(scope.to)
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(bot, bot_name, conversation, question, answer, comment, at)| Downvote { bot, bot_name, conversation, question: question.unwrap_or_default(), answer, comment, at })
        .collect())
}

async fn documents(db: &PgPool, scope: &Scope) -> Result<(Vec<DocumentCitations>, Vec<DocumentCitations>), AppError> {
    // Counted from the citations' own index (bot, time, document), then named.
    let top: Vec<(String, String, i64)> = sqlx::query_as(
        "WITH c AS (SELECT bot_id, document_id, max(document_name) AS name, count(*) AS n FROM message_sources
                     WHERE bot_id = ANY($1) AND created_at >= $2 AND created_at < $3
                     GROUP BY bot_id, document_id ORDER BY n DESC LIMIT 10)
         SELECT b.name, COALESCE(d.name, c.name), c.n FROM c JOIN bots b ON b.id = c.bot_id
           LEFT JOIN documents d ON d.id = c.document_id ORDER BY c.n DESC, 2",
    )
    .bind(&scope.bots)
    .bind(scope.from)
    .bind(scope.to)
    .fetch_all(db)
    .await?;
    let uncited: Vec<(String, String)> = sqlx::query_as(
        "SELECT b.name, d.name FROM documents d JOIN bots b ON b.id = d.bot_id
          WHERE d.bot_id = ANY($1) AND d.status = 'ready'
            AND NOT EXISTS (SELECT 1 FROM message_sources s WHERE s.document_id = d.id AND s.created_at >= $2 AND s.created_at < $3)
          ORDER BY b.name, d.name LIMIT 50",
    )
    .bind(&scope.bots)
    .bind(scope.from)
    .bind(scope.to)
    .fetch_all(db)
    .await?;
    Ok((
        top.into_iter().map(|(bot_name, document, citations)| DocumentCitations { bot_name, document, citations }).collect(),
        uncited.into_iter().map(|(bot_name, document)| DocumentCitations { bot_name, document, citations: 0 }).collect(),
    ))
}
