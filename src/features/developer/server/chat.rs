//! Asking a bot over the API, for both the native and the OpenAI-compatible endpoints: the
//! same checks, limits and records as the app (the question is checked, the bot's own day and
//! month limits and the owner's answers per day are counted before anything is stored), then
//! the app's answering engine, whose events each endpoint frames its own way.

use super::keys::ApiKey;
use super::{access, conversations};
use crate::error::AppError;
use crate::features::chat::server::answer::{self, AnswerStream, Asking};
use crate::features::chat::server::prompt;
use crate::features::chat::{ChatEvent, MessageView};
use crate::features::public::server::{counts, store as publishing};
use crate::providers::llm::Turn;
use crate::server::api_error::ApiError;
use crate::server::counters;
use crate::server::state::AppState;
use futures::{Stream, StreamExt};
use std::time::Instant;
use uuid::Uuid;

pub struct Question<'a> {
    /// The bot's public id.
    pub bot: &'a str,
    pub text: &'a str,
    /// The request parameter holding the question, named in refusals.
    pub param: &'static str,
    pub conversation: Option<Uuid>,
    /// Earlier turns the request carries (OpenAI-style); `None` uses the conversation's.
    pub history: Option<Vec<Turn>>,
    /// The caller's own id for the person chatting, if it sends one.
    pub person: Option<&'a str>,
}

fn renamed(e: AppError, param: &str) -> ApiError {
    ApiError { param: Some(param.to_owned()), ..ApiError::from(e) }
}

/// Checks, counts and starts the answer; a refusal stores nothing.
pub async fn start(state: &AppState, key: &ApiKey, q: Question<'_>) -> Result<AnswerStream, ApiError> {
    let started = Instant::now();
    let text = answer::checked_question(state, q.text).map_err(|e| renamed(e, q.param))?;
    let (bot_id, bot) = access::usable_bot(&state.db, key, q.bot).await?;
    let existing = match q.conversation {
        Some(id) => Some(conversations::owned(&state.db, bot_id, id).await.map_err(|e| renamed(e, "conversation_id"))?.0),
        None => None,
    };
    let limits = publishing::publishing(&state.db, bot_id).await?;
    if let Err(limited) = counters::spend(&state.db, &counts::bot_windows(&limits, bot_id, chrono::Utc::now())).await? {
        let message = format!("Bot '{}' has given the most answers its owner allows for now; retry in {} s.", q.bot, limited.retry_after_secs);
        return Err(ApiError::rate_limited(message, limited.retry_after_secs));
    }
    answer::ensure_answer_allowance(&state.db, key.owner, state.settings.chat.answers_per_day).await?;
    let conversation = match existing {
        Some(c) => c,
        None => conversations::create(&state.db, key, bot_id, &prompt::title_from(text), q.person).await?,
    };
    let asking = Asking { bot_id, bot, conversation, started, history: q.history };
    Ok(answer::answer(state, asking, text).await?)
}

/// The engine's events, one per line it wrote.
pub fn events(stream: AnswerStream) -> impl Stream<Item = ChatEvent> + Send {
    stream.filter_map(|line| async move { line.ok().and_then(|l| serde_json::from_str(l.trim()).ok()) })
}

/// A whole answer: the conversation, the question, and the answer as stored.
pub struct Answered {
    pub conversation: Uuid,
    pub question: Uuid,
    pub answer: MessageView,
}

/// Waits for the whole answer (the non-streaming endpoints).
pub async fn whole(stream: AnswerStream) -> Result<Answered, ApiError> {
    let mut events = Box::pin(events(stream));
    let (mut conversation, mut question) = (None, None);
    while let Some(event) = events.next().await {
        match event {
            ChatEvent::Started { conversation: c, question: q, .. } => {
                conversation = Some(c.id);
                question = Some(q.id);
            }
            ChatEvent::Done { answer } => {
                if let (Some(conversation), Some(question)) = (conversation, question) {
                    return Ok(Answered { conversation, question, answer });
                }
            }
            ChatEvent::Sources { .. } | ChatEvent::Delta { .. } => {}
        }
    }
    tracing::error!("an answer stream ended without its end");
    Err(ApiError::from(AppError::Internal))
}
