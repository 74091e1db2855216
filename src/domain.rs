//! Words both features and providers speak, in the browser and on the server: how an answer
//! ended, and which models the server offers. Providers depend on these, never on a feature.

use serde::{Deserialize, Serialize};

/// Why an answer ended. Stored as text, so analytics can group on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    /// The model finished its answer.
    Stop,
    /// Cut at the bot's answer length.
    MaxTokens,
    /// The provider withheld the answer for safety.
    Safety,
    /// The provider withheld the answer as recitation of protected text.
    Recitation,
    /// The provider refused the question itself.
    Blocked,
    /// Nothing in the knowledge answered it; the bot's fallback message was given.
    NotInKnowledge,
    /// The user stopped it, or left.
    Cancelled,
    /// The provider's stream ended without saying it was done.
    Interrupted,
    /// The provider failed.
    Error,
}

impl FinishReason {
    pub fn as_str(self) -> &'static str {
        match self {
            FinishReason::Stop => "stop",
            FinishReason::MaxTokens => "max_tokens",
            FinishReason::Safety => "safety",
            FinishReason::Recitation => "recitation",
            FinishReason::Blocked => "blocked",
            FinishReason::NotInKnowledge => "not_in_knowledge",
            FinishReason::Cancelled => "cancelled",
            FinishReason::Interrupted => "interrupted",
            FinishReason::Error => "error",
        }
    }

    pub const ALL: [FinishReason; 9] = [
        FinishReason::Stop,
        FinishReason::MaxTokens,
        FinishReason::Safety,
        FinishReason::Recitation,
        FinishReason::Blocked,
        FinishReason::NotInKnowledge,
        FinishReason::Cancelled,
        FinishReason::Interrupted,
        FinishReason::Error,
    ];

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == raw)
    }

    /// A note under the answer, when the ending is worth one.
    pub fn note(self) -> Option<&'static str> {
        match self {
            FinishReason::MaxTokens => Some("Cut at the bot's answer length."),
            FinishReason::Cancelled => Some("Stopped."),
            FinishReason::Interrupted => Some("The answer was interrupted before it finished."),
            FinishReason::Safety => Some("The model withheld this answer for safety reasons."),
            FinishReason::Recitation => Some("The model withheld this answer because it would repeat protected text."),
            FinishReason::Blocked => Some("The model refused this question."),
            _ => None,
        }
    }
}

/// A provider/model pair the server can answer with, from configuration, with its prices
/// (US dollars per million tokens) for the cost estimates in Analytics.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelChoice {
    pub provider: String,
    pub model: String,
    pub label: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_price_per_mtok: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_price_per_mtok: Option<f64>,
}

impl ModelChoice {
    /// The estimated cost of these tokens, when the model has prices.
    pub fn cost(&self, tokens_in: i64, tokens_out: i64) -> Option<f64> {
        let (i, o) = (self.input_price_per_mtok?, self.output_price_per_mtok?);
        Some((tokens_in as f64 * i + tokens_out as f64 * o) / 1e6)
    }
}
