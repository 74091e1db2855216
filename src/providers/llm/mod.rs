//! Language models behind one small streaming trait. A provider turns an `LlmRequest` (the
//! persona and rules, the trimmed conversation, the numbered passages and the question) into
//! a stream of text deltas, usage counts and one finish reason. Dropping the stream is the
//! cancellation: a provider must stop its work (close its upstream request) when dropped,
//! which is how a user's Stop and a closed browser tab stop the spending.

pub mod extractive;
pub mod gemini;
pub mod openai;
mod sse;

use crate::domain::FinishReason;
use futures::Stream;
use std::pin::Pin;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Speaker {
    User,
    Assistant,
}

#[derive(Clone, Debug)]
pub struct Turn {
    pub speaker: Speaker,
    pub text: String,
    /// For an earlier answer of this app's own conversations: the text it was searched by
    /// (a follow-up's rewrite or join), so the next follow-up builds on it. Never sent to a model.
    pub searched: Option<String>,
}

/// One retrieved passage, numbered as the answer should cite it.
#[derive(Clone, Debug)]
pub struct Passage {
    pub n: usize,
    /// Where it comes from, for the model and the reader: "Handbook.pdf, p. 4 — Returns".
    pub source: String,
    pub text: String,
}

#[derive(Clone, Debug)]
pub struct LlmRequest {
    pub model: String,
    /// The bot's persona followed by the answering rules.
    pub system: String,
    /// Earlier turns, oldest first, already trimmed to the history budget.
    pub history: Vec<Turn>,
    pub question: String,
    pub passages: Vec<Passage>,
    pub temperature: f32,
    pub max_tokens: u32,
}

impl LlmRequest {
    /// The user turn a generative model receives: the passages, then the question. Cloud
    /// providers send this; the extractive provider reads the parts directly.
    pub fn grounded_question(&self) -> String {
        if self.passages.is_empty() {
            return self.question.clone();
        }
        let mut out = String::from("Passages:\n");
        for p in &self.passages {
            out.push_str(&format!("\n[{}] ({})\n{}\n", p.n, p.source, p.text.trim()));
        }
        out.push_str(&format!("\nQuestion: {}", self.question));
        out
    }

    /// Estimated prompt size, for providers that do not report usage.
    pub fn estimated_input_tokens(&self) -> u32 {
        estimate_tokens(&self.system)
            + self.history.iter().map(|t| estimate_tokens(&t.text)).sum::<u32>()
            + estimate_tokens(&self.grounded_question())
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum LlmEvent {
    /// Text to append to the answer.
    Text(String),
    /// Tokens used so far; the last one seen is kept.
    Usage { input: u32, output: u32 },
    /// Always the last event of a stream that ends normally.
    Finish(FinishReason),
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LlmError {
    /// A reason the user may read ("The model is overloaded; try again in a minute.").
    #[error("{0}")]
    Unavailable(String),
}

pub type LlmStream = Pin<Box<dyn Stream<Item = Result<LlmEvent, LlmError>> + Send>>;

pub trait Llm: Send + Sync {
    /// The provider name bots refer to ("offline", "gemini", …).
    fn provider(&self) -> &str;
    fn stream(&self, request: LlmRequest) -> LlmStream;
    /// Whether it follows instructions well enough to rewrite a follow-up question as a
    /// standalone one (generative models); the offline extract does not.
    fn rewrites_questions(&self) -> bool {
        false
    }
}

/// About four characters per token for English under the common BPE vocabularies; used for
/// history budgets and by providers that report no usage.
pub fn estimate_tokens(text: &str) -> u32 {
    (text.chars().count() as u32).div_ceil(4)
}
