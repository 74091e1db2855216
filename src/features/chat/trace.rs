//! "Why this answer?": what an answer's retrieval found and what it did with each passage,
//! the exact prompt its model was sent, and where the time went. Kept with every answer (on
//! every channel) and shown only to the bot's owner.

use super::{MessageView, Role};
use crate::features::knowledge::SearchTimings;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// What retrieval did with a candidate passage.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Verdict {
    /// Sent to the model as passage `[n]`.
    Kept { n: u16 },
    /// Its relevance was under the bot's minimum.
    BelowMinimum,
    /// Relevant enough, but the bot's top-k were already taken by better-fused passages.
    BeyondTopK,
}

/// A passage hybrid retrieval found for the question.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TraceCandidate {
    pub chunk_id: i64,
    pub document_id: Uuid,
    /// "Handbook.pdf · p. 4 · Returns"
    pub location: String,
    /// The passage's opening (the kept ones are also in the prompt, whole).
    pub snippet: String,
    pub keyword: Option<f32>,
    pub keyword_rank: Option<u32>,
    pub vector: Option<f32>,
    pub vector_rank: Option<u32>,
    pub fused: f32,
    pub fused_rank: u32,
    /// What the minimum relevance is compared with: the vector similarity, or the keyword
    /// score when only keyword search found it.
    pub relevance: f32,
    pub verdict: Verdict,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PromptTurn {
    pub role: Role,
    pub text: String,
}

/// The prompt as the model received it: the system instruction (persona and rules), the
/// trimmed earlier turns, and the last user turn (numbered passages, then the question).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TracePrompt {
    pub system: String,
    pub history: Vec<PromptTurn>,
    pub user: String,
}

/// How a follow-up question was made searchable.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum QueryRewrite {
    /// The bot's model rewrote it as a standalone question, in `ms`, using these tokens (as
    /// the provider reported them; they are counted in the answer's usage and cost too).
    Model {
        provider: String,
        model: String,
        ms: f32,
        #[serde(default)]
        tokens_in: Option<u32>,
        #[serde(default)]
        tokens_out: Option<u32>,
    },
    /// Joined to the previous question: the bot's model does not rewrite (offline), or
    /// `reason` it could not.
    Joined { reason: Option<String> },
}

/// What is stored with an answer once its retrieval is done.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RetrievalTrace {
    /// The text searched: the question, or for a follow-up its rewrite (`rewrite`).
    pub query: String,
    /// `None`: the question was searched as asked (or the trace predates rewrites).
    #[serde(default)]
    pub rewrite: Option<QueryRewrite>,
    /// The bot's settings when it answered.
    pub min_relevance: f32,
    pub top_k: u32,
    pub keyword_weight: f32,
    /// Every passage fusion ranked, best first.
    pub candidates: Vec<TraceCandidate>,
    pub timings: SearchTimings,
    /// `None`: no model was asked (nothing relevant, and the bot answers only from its
    /// knowledge, so its fallback message was given).
    pub prompt: Option<TracePrompt>,
}

/// An answer with everything behind it, for its owner.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AnswerTrace {
    pub bot_public_id: String,
    pub question: String,
    /// Provider, model, first-token and whole-answer times, tokens, finish reason, sources.
    pub answer: MessageView,
    /// `None`: the answer ended before its retrieval did, or was given before traces were kept.
    pub retrieval: Option<RetrievalTrace>,
    /// Estimated from the model's configured prices, when it has them.
    pub cost: Option<f64>,
}

impl RetrievalTrace {
    /// How the searched text came from the question, in words; `None` when it is the question.
    pub fn rewrite_note(&self, question: &str) -> Option<String> {
        match &self.rewrite {
            Some(QueryRewrite::Model { provider, model, ms, tokens_in, tokens_out }) => {
                let tokens = match (tokens_in, tokens_out) {
                    (Some(i), Some(o)) => format!(", {i} tokens in and {o} out (counted in the answer's usage)"),
                    _ => String::new(),
                };
                Some(format!("a follow-up, rewritten as a standalone question by {provider}/{model} in {ms:.0} ms{tokens}"))
            }
            Some(QueryRewrite::Joined { reason: None }) => Some("a follow-up, joined to the question before (or to its search, if that was a follow-up too; the offline model does not rewrite)".into()),
            Some(QueryRewrite::Joined { reason: Some(r) }) => Some(format!("a follow-up, joined to the question before (or its search): the model could not rewrite it ({r})")),
            None => (self.query != question).then(|| "a follow-up: joined to the question before".into()),
        }
    }
}

impl Verdict {
    /// Why a candidate was or was not sent, in words.
    pub fn explain(&self, relevance: f32, min_relevance: f32, top_k: u32) -> String {
        match self {
            Verdict::Kept { n } => format!("Kept as [{n}]"),
            Verdict::BelowMinimum => format!("Dropped: relevance {relevance:.2} is below the minimum {min_relevance:.2}"),
            Verdict::BeyondTopK => format!("Dropped: the top {top_k} were already chosen"),
        }
    }
}
