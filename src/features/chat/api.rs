//! Chat server functions: authenticate, then act only on conversations of the caller's bots.
//! Answers stream as newline-delimited `ChatEvent` JSON.

use super::{AnswerTrace, ChatBot, ConversationSummary, ConversationView, ExportFile, MessageView, PassageContext, RetrievalTrace};
use crate::error::AppError;
use leptos::prelude::*;
use leptos::server_fn::codec::{StreamingText, TextStream};

/// An id from the browser; a malformed one is as unknown as a missing one.
#[cfg(feature = "ssr")]
fn parse_id(raw: &str, what: &str) -> Result<uuid::Uuid, AppError> {
    uuid::Uuid::parse_str(raw.trim()).map_err(|_| AppError::NotFound(what.into()))
}

#[server(endpoint = "chat/bot")]
pub async fn bot_for_chat(bot_id: String) -> Result<ChatBot, AppError> {
    let caller = crate::features::auth::server::require_user().await?;
    let bot = crate::features::bots::server::get(&caller.state.db, caller.user.id, &bot_id).await?;
    let s = bot.settings;
    Ok(ChatBot {
        public_id: bot.public_id,
        name: s.name,
        avatar_emoji: s.avatar_emoji,
        avatar_url: bot.avatar_url,
        accent_color: s.accent_color,
        welcome_message: s.welcome_message,
        suggested_questions: s.suggested_questions,
    })
}

#[server(endpoint = "chat/conversations")]
pub async fn list_conversations(bot_id: String) -> Result<Vec<ConversationSummary>, AppError> {
    let caller = crate::features::auth::server::require_user().await?;
    super::server::store::list(&caller.state.db, caller.user.id, &bot_id).await
}

#[server(endpoint = "chat/conversation")]
pub async fn get_conversation(conversation_id: String) -> Result<ConversationView, AppError> {
    let caller = crate::features::auth::server::require_user().await?;
    let state = &caller.state;
    let id = parse_id(&conversation_id, "Conversation")?;
    let (conversation, _, _) = super::server::store::owned_conversation(&state.db, caller.user.id, id).await?;
    let messages = super::server::store::messages(&state.db, id).await?;
    Ok(ConversationView { conversation, messages })
}

#[server(endpoint = "chat/rename")]
pub async fn rename_conversation(conversation_id: String, title: String) -> Result<ConversationSummary, AppError> {
    let caller = crate::features::auth::server::require_user().await?;
    let id = parse_id(&conversation_id, "Conversation")?;
    super::server::store::rename(&caller.state.db, caller.user.id, id, &title).await
}

#[server(endpoint = "chat/delete")]
pub async fn delete_conversation(conversation_id: String) -> Result<(), AppError> {
    let caller = crate::features::auth::server::require_user().await?;
    let id = parse_id(&conversation_id, "Conversation")?;
    super::server::store::delete(&caller.state.db, caller.user.id, id).await
}

/// Asks a question (`conversation_id` empty: in a new conversation) and streams the answer.
#[server(endpoint = "chat/send", output = StreamingText)]
pub async fn send_message(bot_id: String, conversation_id: String, text: String) -> Result<TextStream<AppError>, AppError> {
    let caller = crate::features::auth::server::require_user().await?;
    let conversation = match conversation_id.trim() {
        "" => None,
        raw => Some(parse_id(raw, "Conversation")?),
    };
    let stream = super::server::answer::ask(&caller.state, caller.user.id, &bot_id, conversation, &text).await?;
    Ok(TextStream::new(stream))
}

/// Answers the last question of a conversation again (also the retry of a failed answer).
#[server(endpoint = "chat/regenerate", output = StreamingText)]
pub async fn regenerate_answer(conversation_id: String) -> Result<TextStream<AppError>, AppError> {
    let caller = crate::features::auth::server::require_user().await?;
    let id = parse_id(&conversation_id, "Conversation")?;
    let stream = super::server::answer::regenerate(&caller.state, caller.user.id, id).await?;
    Ok(TextStream::new(stream))
}

/// Stops an answer being written; what was written so far is kept.
#[server(endpoint = "chat/stop")]
pub async fn stop_answer(message_id: String) -> Result<bool, AppError> {
    let caller = crate::features::auth::server::require_user().await?;
    let id = parse_id(&message_id, "Message")?;
    super::server::store::request_stop(&caller.state.db, id, caller.user.id).await
}

/// `rating`: 1 thumbs up, -1 thumbs down, 0 takes the rating back.
#[server(endpoint = "chat/rate")]
pub async fn rate_answer(message_id: String, rating: i16, comment: String) -> Result<MessageView, AppError> {
    let caller = crate::features::auth::server::require_user().await?;
    let id = parse_id(&message_id, "Message")?;
    let rating = if rating == 0 { None } else { Some(rating) };
    super::server::store::set_feedback(&caller.state.db, caller.user.id, id, rating, &comment).await
}

#[server(endpoint = "chat/passage")]
pub async fn cited_passage(message_id: String, n: u16) -> Result<PassageContext, AppError> {
    let caller = crate::features::auth::server::require_user().await?;
    let id = parse_id(&message_id, "Message")?;
    super::server::store::passage(&caller.state.db, caller.user.id, id, n).await
}

/// "Why this answer?": an answer of one of the caller's bots with its retrieval and prompt.
#[server(endpoint = "chat/trace")]
pub async fn load_answer_trace(message_id: String) -> Result<AnswerTrace, AppError> {
    let caller = crate::features::auth::server::require_user().await?;
    let id = parse_id(&message_id, "Message")?;
    super::server::trace::answer_trace(&caller.state, caller.user.id, id).await
}

/// The answer's search run again against the bot's current knowledge, to compare.
#[server(endpoint = "chat/trace_rerun")]
pub async fn rerun_trace(message_id: String) -> Result<RetrievalTrace, AppError> {
    let caller = crate::features::auth::server::require_user().await?;
    let id = parse_id(&message_id, "Message")?;
    super::server::trace::rerun(&caller.state, caller.user.id, id).await
}

/// `format`: "markdown" or "json".
#[server(endpoint = "chat/export")]
pub async fn export_conversation(conversation_id: String, format: String) -> Result<ExportFile, AppError> {
    use super::server::{export, store};
    let caller = crate::features::auth::server::require_user().await?;
    let db = &caller.state.db;
    let id = parse_id(&conversation_id, "Conversation")?;
    let (conversation, _, bot_public_id) = store::owned_conversation(db, caller.user.id, id).await?;
    let bot = crate::features::bots::server::get(db, caller.user.id, &bot_public_id).await?;
    let view = ConversationView { conversation, messages: store::messages(db, id).await? };
    match format.as_str() {
        "markdown" => Ok(export::markdown(&bot.settings.name, &view)),
        "json" => Ok(export::json(&bot.settings.name, &view)),
        _ => Err(AppError::invalid("format", "Export as markdown or json.")),
    }
}
