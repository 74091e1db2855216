//! Chat: a user asks, the bot answers from its knowledge with numbered citations, streamed as
//! it is written. Every message is kept with its sources, provider, timings, tokens, finish
//! reason and feedback, which analytics reads.

mod api;
pub mod markdown;
mod pages;
#[cfg(feature = "ssr")]
pub mod server;
mod trace;

pub use api::*;
pub use pages::*;
pub use trace::*;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Assistant,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MessageStatus {
    Streaming,
    Complete,
    Failed,
}

pub use crate::domain::FinishReason;

/// A passage an answer was built from, numbered as the answer cites it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SourceView {
    pub n: u16,
    pub chunk_id: Option<i64>,
    pub document_id: Option<Uuid>,
    pub document_name: String,
    pub heading_path: String,
    pub page: Option<i32>,
    pub text: String,
    /// Relevance to the question, 0–1 (semantic similarity, or keyword score when only the
    /// keyword search found it).
    pub score: f32,
}

impl SourceView {
    /// "Handbook.pdf · p. 4 · Returns › Refunds"
    pub fn location(&self) -> String {
        let mut parts = vec![self.document_name.clone()];
        if let Some(page) = self.page {
            parts.push(format!("p. {page}"));
        }
        if !self.heading_path.is_empty() {
            parts.push(self.heading_path.clone());
        }
        parts.join(" · ")
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MessageView {
    pub id: Uuid,
    pub role: Role,
    pub content: String,
    pub status: MessageStatus,
    /// Why it failed, for the user.
    pub error: Option<String>,
    pub finish_reason: Option<FinishReason>,
    /// `Some(false)`: the fallback message, nothing relevant was found.
    pub answered: Option<bool>,
    pub sources: Vec<SourceView>,
    pub feedback: Option<i16>,
    pub feedback_comment: Option<String>,
    pub provider: Option<String>,
    pub model: Option<String>,
    pub ttft_ms: Option<i32>,
    pub total_ms: Option<i32>,
    pub tokens_in: Option<i32>,
    pub tokens_out: Option<i32>,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

impl MessageView {
    /// A message that has nothing yet but its words: a question just stored, or an answer
    /// about to stream in.
    pub fn fresh(id: Uuid, role: Role, content: String, status: MessageStatus, created_at: chrono::DateTime<chrono::Utc>) -> Self {
        Self {
            id,
            role,
            content,
            status,
            error: None,
            finish_reason: None,
            answered: None,
            sources: Vec::new(),
            feedback: None,
            feedback_comment: None,
            provider: None,
            model: None,
            ttft_ms: None,
            total_ms: None,
            tokens_in: None,
            tokens_out: None,
            created_at,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConversationSummary {
    pub id: Uuid,
    pub title: String,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

/// What the chat page shows of the bot.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChatBot {
    pub public_id: String,
    pub name: String,
    pub avatar_emoji: String,
    pub avatar_url: Option<String>,
    pub accent_color: String,
    pub welcome_message: String,
    pub suggested_questions: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConversationView {
    pub conversation: ConversationSummary,
    pub messages: Vec<MessageView>,
}

/// A cited passage with the passages around it in its document.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PassageContext {
    pub source: SourceView,
    pub before: Option<String>,
    pub after: Option<String>,
    /// False when the document has since been changed or deleted: the snapshot is shown alone.
    pub current: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExportFile {
    pub filename: String,
    pub mime: String,
    pub body: String,
}

/// One line of an answer stream, newline-delimited JSON.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum ChatEvent {
    /// The question is saved; the answer with this id is on its way.
    Started { conversation: ConversationSummary, question: MessageView, answer_id: Uuid },
    Sources { sources: Vec<SourceView> },
    Delta { text: String },
    /// The answer as saved (complete, or failed with its reason).
    Done { answer: MessageView },
}

impl ChatEvent {
    pub fn to_line(&self) -> String {
        let mut line = serde_json::to_string(self).unwrap_or_default();
        line.push('\n');
        line
    }

    /// Takes every complete line out of `buffer` (a response may split or merge lines).
    pub fn drain_lines(buffer: &mut String) -> Vec<ChatEvent> {
        let Some(end) = buffer.rfind('\n') else { return Vec::new() };
        let complete: String = buffer.drain(..=end).collect();
        complete.lines().filter(|l| !l.trim().is_empty()).filter_map(|l| serde_json::from_str(l).ok()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_survive_arbitrary_splits_of_the_stream() {
        let lines: String = [ChatEvent::Delta { text: "a\nb".into() }, ChatEvent::Sources { sources: vec![] }, ChatEvent::Delta { text: "ç".into() }]
            .iter()
            .map(ChatEvent::to_line)
            .collect();
        for cut in 0..lines.len() {
            if !lines.is_char_boundary(cut) {
                continue;
            }
            let mut buffer = String::new();
            buffer.push_str(&lines[..cut]);
            let mut events = ChatEvent::drain_lines(&mut buffer);
            buffer.push_str(&lines[cut..]);
            events.extend(ChatEvent::drain_lines(&mut buffer));
            assert_eq!(events.len(), 3, "cut at {cut}");
            assert_eq!(events[0], ChatEvent::Delta { text: "a\nb".into() });
            assert!(buffer.is_empty());
        }
    }

    #[test]
    fn finish_reasons_round_trip_through_their_stored_names() {
        for r in FinishReason::ALL {
            assert_eq!(FinishReason::parse(r.as_str()), Some(r));
        }
        assert_eq!(FinishReason::parse("STOP"), None);
    }
}
