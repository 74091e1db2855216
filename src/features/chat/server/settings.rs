//! What an operator can tune about answering: history, limits, checkpoints, traces, rewrites.

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChatSettings {
    /// Earlier turns sent with a question, newest first, up to this many estimated tokens.
    pub history_tokens: u32,
    /// Longest question accepted, in characters.
    pub question_max_chars: usize,
    /// Answers one account's bots may give in 24 hours (each may cost the operator's model
    /// key); regenerated answers count too.
    pub answers_per_day: i64,
    /// How often an answer being written saves its text so far (and renews its lease), so a
    /// process killed mid-answer loses at most this much of what the reader saw.
    pub checkpoint_millis: u64,
    /// How long an answer's lease lasts without a checkpoint; after it, any process treats the
    /// answer as interrupted. Several checkpoints long, so a slow database write is not a death.
    pub answer_lease_secs: i64,
    /// Keep each answer's trace for its owner ("Why this answer?": every candidate passage, the
    /// prompt, the timings). Off, nothing is written beyond the answer and its sources.
    pub keep_traces: bool,
    /// How long the bot's model may take to rewrite a follow-up question as a standalone one
    /// before it is searched joined to the previous question instead.
    pub rewrite_timeout_ms: u64,
}

impl Default for ChatSettings {
    fn default() -> Self {
        Self { history_tokens: 1500, question_max_chars: 4000, answers_per_day: 2000, checkpoint_millis: 1000, answer_lease_secs: 10, keep_traces: true, rewrite_timeout_ms: 4000 }
    }
}
