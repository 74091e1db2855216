//! Answer traces: recorded by the answering pipeline with the answer's sources (one statement,
//! `store::save_sources`), read back for the bot's owner only, and retrieval re-run against the
//! current knowledge to compare.

use super::answer::retrieve_query;
use super::store::{self, message_not_found};
use crate::error::AppError;
use crate::features::chat::{AnswerTrace, PromptTurn, RetrievalTrace, Role, TracePrompt};
use crate::providers::llm::{LlmRequest, Speaker};
use crate::server::state::AppState;
use uuid::Uuid;

/// How much of a candidate passage the trace keeps: enough to recognise it; the kept ones are
/// in the prompt whole, and any can be opened in its document.
const SNIPPET_CHARS: usize = 280;

pub fn snippet(text: &str) -> String {
    let text = text.trim();
    match text.char_indices().nth(SNIPPET_CHARS) {
        Some((cut, _)) => format!("{}…", text[..cut].trim_end()),
        None => text.to_owned(),
    }
}

/// The prompt exactly as providers send it: `system`, the history, then the grounded question.
pub fn prompt_of(r: &LlmRequest) -> TracePrompt {
    TracePrompt {
        system: r.system.clone(),
        history: r
            .history
            .iter()
            .map(|t| PromptTurn { role: if t.speaker == Speaker::User { Role::User } else { Role::Assistant }, text: t.text.clone() })
            .collect(),
        user: r.grounded_question(),
    }
}

/// The answer `message` of one of `owner`'s bots with its trace; anyone else's is not found.
pub async fn answer_trace(state: &AppState, owner: Uuid, message: Uuid) -> Result<AnswerTrace, AppError> {
    let row: Option<(String, Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT b.public_id,
                (SELECT q.content FROM messages q WHERE q.conversation_id = m.conversation_id AND q.role = 'user'
                    AND q.position < m.position ORDER BY q.position DESC LIMIT 1),
                t.trace::text
           FROM messages m JOIN bots b ON b.id = m.bot_id LEFT JOIN answer_traces t ON t.message_id = m.id
          WHERE m.id = $1 AND b.owner_id = $2 AND m.role = 'assistant'",
    )
    .bind(message)
    .bind(owner)
    .fetch_optional(&state.db)
    .await?;
    let (bot_public_id, question, trace) = row.ok_or_else(message_not_found)?;
    let retrieval = match trace {
        Some(json) => Some(serde_json::from_str::<RetrievalTrace>(&json).map_err(|e| {
            tracing::error!(%message, error = %e, "a stored answer trace does not read back");
            AppError::Internal
        })?),
        None => None,
    };
    let answer = store::message(&state.db, message).await?;
    let cost = match (&answer.provider, &answer.model, answer.tokens_in, answer.tokens_out) {
        (Some(provider), Some(model), Some(tokens_in), Some(tokens_out)) => state
            .providers
            .models
            .iter()
            .find(|m| &m.provider == provider && &m.model == model)
            .and_then(|m| m.cost(tokens_in as i64, tokens_out as i64)),
        _ => None,
    };
    Ok(AnswerTrace { bot_public_id, question: question.unwrap_or_default(), answer, retrieval, cost })
}

/// The answer's search run again now: the same query, the bot's current knowledge and
/// settings. Nothing is stored; no model is asked.
pub async fn rerun(state: &AppState, owner: Uuid, message: Uuid) -> Result<RetrievalTrace, AppError> {
    // What the answer was searched by (after any follow-up rewrite), else the question before
    // it (an answer that failed before its search): only that and the bot, for its owner.
    let row: Option<(String, Option<String>)> = sqlx::query_as(
        "SELECT b.public_id,
                COALESCE(m.retrieval_query,
                    (SELECT q.content FROM messages q WHERE q.conversation_id = m.conversation_id AND q.role = 'user'
                        AND q.position < m.position ORDER BY q.position DESC LIMIT 1))
           FROM messages m JOIN bots b ON b.id = m.bot_id
          WHERE m.id = $1 AND b.owner_id = $2 AND m.role = 'assistant'",
    )
    .bind(message)
    .bind(owner)
    .fetch_optional(&state.db)
    .await?;
    let (bot_public_id, query) = row.ok_or_else(message_not_found)?;
    let (bot_id, bot) = store::owned_bot(&state.db, owner, &bot_public_id).await?;
    let s = &bot.settings;
    let found = retrieve_query(&state.db, &state.providers, bot_id, s, query.unwrap_or_default()).await?;
    Ok(RetrievalTrace {
        query: found.query,
        rewrite: None,
        min_relevance: s.min_relevance,
        top_k: s.top_k,
        keyword_weight: s.keyword_weight,
        candidates: found.candidates,
        timings: found.timings,
        prompt: None,
    })
}

#[cfg(test)]
mod tests {
    use super::snippet;

    #[test]
    fn snippets_cut_on_a_character_and_say_so() {
        assert_eq!(snippet("  short  "), "short");
        let long = "é".repeat(400);
        let cut = snippet(&long);
        assert_eq!(cut.chars().count(), 281);
        assert!(cut.ends_with('…'));
    }
}
