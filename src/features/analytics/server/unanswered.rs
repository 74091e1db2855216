//! Questions a bot could not answer: answers that were the fallback or stood on a weak best
//! passage, grouped by meaning with the bot's own embedding model, newest first. Answering a
//! group adds a Q&A document to the bot (queued for indexing at once) and marks the group's
//! answers resolved, so it leaves the list; the next time the question comes, the knowledge
//! has it.

use super::Scope;
use crate::error::AppError;
use crate::features::analytics::UnansweredGroup;
use crate::features::knowledge::server::store as documents;
use crate::features::knowledge::DocumentSummary;
use crate::providers::embed::Purpose;
use crate::providers::Providers;
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use std::collections::BTreeMap;
use uuid::Uuid;

/// A best passage scoring under this counts as "not really answered" even without fallback.
pub const LOW_SCORE: f32 = 0.3;
/// Questions at least this similar (cosine) are one group.
pub const SAME_QUESTION: f32 = 0.7;
/// Most questions read per report (the newest).
const MAX_QUESTIONS: i64 = 500;

struct Question {
    answer: Uuid,
    at: DateTime<Utc>,
    bot: String,
    bot_name: String,
    embedder: String,
    text: String,
}

pub async fn groups(db: &PgPool, providers: &Providers, scope: &Scope) -> Result<Vec<UnansweredGroup>, AppError> {
    let rows: Vec<(Uuid, DateTime<Utc>, String, String, String, String)> = sqlx::query_as(
        "SELECT a.id, a.created_at, b.public_id, b.name, b.embedder, q.content
           FROM messages a JOIN bots b ON b.id = a.bot_id
           CROSS JOIN LATERAL (SELECT content FROM messages q WHERE q.conversation_id = a.conversation_id AND q.position < a.position
                                  AND q.role = 'user' ORDER BY q.position DESC LIMIT 1) q
          WHERE a.bot_id = ANY($1) AND a.role = 'assistant' AND a.status = 'complete'
            AND (a.answered = false OR a.best_score < $4)
            AND a.created_at >= $2 AND a.created_at < $3
            AND NOT EXISTS (SELECT 1 FROM resolved_questions r WHERE r.message_id = a.id)
          ORDER BY a.created_at DESC LIMIT $5",
    )
    .bind(&scope.bots)
    .bind(scope.from)
    .bind(scope.to)
    .bind(LOW_SCORE)
    .bind(MAX_QUESTIONS)
    .fetch_all(db)
    .await?;
    // Per bot: questions are only compared within a bot (and its vector space).
    let mut by_bot: BTreeMap<String, Vec<Question>> = BTreeMap::new();
    for (answer, at, bot, bot_name, embedder, text) in rows {
        by_bot.entry(bot.clone()).or_default().push(Question { answer, at, bot, bot_name, embedder, text });
    }
    let mut out = Vec::new();
    for questions in by_bot.into_values() {
        let embedder = providers.embedder(&questions[0].embedder).ok_or_else(|| {
            tracing::error!(space = %questions[0].embedder, "the bot's embedding model is not configured");
            AppError::Unreachable
        })?;
        let vectors = embedder.embed(questions.iter().map(|q| q.text.clone()).collect(), Purpose::Query).await.map_err(|e| {
            tracing::error!(error = %e, "embedding unanswered questions failed");
            AppError::Unreachable
        })?;
        out.extend(cluster(&questions, &vectors));
    }
    out.sort_by(|a, b| b.count.cmp(&a.count).then(b.newest_at.cmp(&a.newest_at)));
    Ok(out)
}

/// Greedy grouping, newest first: a question joins the first group whose first (newest)
/// question it is close to, or starts its own.
fn cluster(questions: &[Question], vectors: &[Vec<f32>]) -> Vec<UnansweredGroup> {
    let mut heads: Vec<usize> = Vec::new();
    let mut members: Vec<Vec<usize>> = Vec::new();
    for (i, v) in vectors.iter().enumerate() {
        let near = heads.iter().position(|&h| dot(&vectors[h], v) >= SAME_QUESTION);
        match near {
            Some(g) => members[g].push(i),
            None => {
                heads.push(i);
                members.push(vec![i]);
            }
        }
    }
    members
        .into_iter()
        .map(|m| {
            let head = &questions[m[0]];
            let mut variants: Vec<String> = Vec::new();
            for &i in &m[1..] {
                let t = &questions[i].text;
                if t != &head.text && !variants.contains(t) && variants.len() < 4 {
                    variants.push(t.clone());
                }
            }
            UnansweredGroup {
                bot: head.bot.clone(),
                bot_name: head.bot_name.clone(),
                example: head.text.clone(),
                count: m.len() as i64,
                newest_at: head.at,
                answers: m.iter().map(|&i| questions[i].answer).collect(),
                variants,
            }
        })
        .collect()
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// The owner's answer to a group: a Q&A document for the bot, and the group's answers marked
/// resolved. Answers of other bots (or owners) in `answers` are ignored.
pub async fn answer(db: &PgPool, owner: Uuid, bot: &str, question: &str, answer: &str, answers: &[Uuid]) -> Result<DocumentSummary, AppError> {
    let doc = documents::add_qa(db, owner, bot, question, answer).await?;
    sqlx::query(
        "INSERT INTO resolved_questions (message_id, bot_id, document_id)
         SELECT m.id, m.bot_id, $4 FROM messages m JOIN bots b ON b.id = m.bot_id
          WHERE m.id = ANY($1) AND b.public_id = $2 AND b.owner_id = $3
         ON CONFLICT (message_id) DO NOTHING",
    )
    .bind(answers)
    .bind(bot)
    .bind(owner)
    .bind(doc.id)
    .execute(db)
    .await?;
    Ok(doc)
}
