//! The text a question is searched by. A follow-up ("and how much does it cost?") means
//! little on its own: when the bot's model can follow instructions, it rewrites the question
//! as a standalone one from the conversation; otherwise (the offline model), or when the
//! model fails or is slow, the question is searched together with the previous one.
//!
//! Only questions that read as follow-ups are rewritten (`prompt::joined_follow_up`): asking
//! the model costs a round trip before the answer's first word, which a standalone question
//! should not pay.

use super::prompt;
use crate::features::bots::BotSettings;
use crate::features::chat::trace::QueryRewrite;
use crate::providers::llm::{LlmEvent, LlmRequest, Turn};
use crate::providers::Providers;
use futures::StreamExt;
use std::time::{Duration, Instant};

/// The instruction the model rewrites by.
const RULES: &str = "You turn the user's last message into a search query for a knowledge base. Using the conversation, \
     rewrite it as one standalone question that names what words like \"it\", \"they\" or \"that\" refer to. Keep the \
     user's language. Reply with the question alone, on one line: no quotes, no explanation, no answer.";

/// Earlier turns the model sees, in estimated tokens: the last exchange or two.
const HISTORY_TOKENS: u32 = 600;
/// A standalone question is short; a longer reply is the model answering instead.
const MAX_CHARS: usize = 300;

/// What a question is searched by.
pub struct SearchText {
    pub query: String,
    /// How it was made from the conversation (`None`: the question as asked).
    pub how: Option<QueryRewrite>,
    /// Tokens in and out the rewrite cost, whether or not its reply was used: the answer's
    /// usage includes them.
    pub tokens: Option<(u32, u32)>,
}

/// The text to search for `question`.
pub async fn search_query(providers: &Providers, s: &BotSettings, question: &str, history: &[Turn], deadline: Duration) -> SearchText {
    let question = question.trim();
    let Some(joined) = prompt::joined_follow_up(question, history) else {
        return SearchText { query: question.to_owned(), how: None, tokens: None };
    };
    let Some(llm) = providers.llm(&s.llm_provider).filter(|l| l.rewrites_questions()) else {
        return SearchText { query: joined, how: Some(QueryRewrite::Joined { reason: None }), tokens: None };
    };
    let request = LlmRequest {
        model: s.llm_model.clone(),
        system: RULES.to_owned(),
        history: prompt::trim_history(history, HISTORY_TOKENS),
        question: question.to_owned(),
        passages: Vec::new(),
        temperature: 0.0,
        max_tokens: 80,
    };
    let started = Instant::now();
    let mut tokens = None;
    let reply = tokio::time::timeout(deadline, async {
        let mut stream = llm.stream(request);
        let mut text = String::new();
        while let Some(event) = stream.next().await {
            match event {
                Ok(LlmEvent::Text(t)) => text.push_str(&t),
                Ok(LlmEvent::Usage { input, output }) => tokens = Some((input, output)),
                Ok(LlmEvent::Finish(_)) => break,
                Err(e) => return Err(e.to_string()),
            }
        }
        Ok(text)
    })
    .await
    .unwrap_or_else(|_| Err(format!("no reply within {} ms", deadline.as_millis())));
    let ms = started.elapsed().as_secs_f32() * 1000.0;
    let joined_because = |reason: String| Some(QueryRewrite::Joined { reason: Some(reason) });
    match reply.map(|text| standalone(&text)) {
        Ok(Some(query)) => {
            let how = QueryRewrite::Model {
                provider: s.llm_provider.clone(),
                model: s.llm_model.clone(),
                ms,
                tokens_in: tokens.map(|t| t.0),
                tokens_out: tokens.map(|t| t.1),
            };
            SearchText { query, how: Some(how), tokens }
        }
        Ok(None) => SearchText { query: joined, how: joined_because("the model's reply was not a question on one line".into()), tokens },
        Err(reason) => {
            tracing::warn!(provider = %s.llm_provider, %reason, "follow-up rewrite failed; searching with the previous question");
            SearchText { query: joined, how: joined_because(reason), tokens }
        }
    }
}

/// The model's reply as a query: one line, without quotes or a "Question:" label; `None` when
/// it is empty or too long to be a question.
fn standalone(reply: &str) -> Option<String> {
    let line = reply.trim().lines().next()?.trim();
    let line = ["Standalone question:", "Question:", "Query:"].iter().find_map(|l| line.strip_prefix(l)).unwrap_or(line).trim();
    let line = line.trim_matches(|c: char| matches!(c, '"' | '\'' | '“' | '”' | '«' | '»' | '`')).trim();
    (!line.is_empty() && line.chars().count() <= MAX_CHARS && reply.trim().lines().count() == 1).then(|| line.to_owned())
}

#[cfg(test)]
mod tests {
    use super::standalone;

    #[test]
    fn a_reply_is_taken_as_one_bare_question() {
        assert_eq!(standalone("How much does the Pro plan cost?\n").as_deref(), Some("How much does the Pro plan cost?"));
        assert_eq!(standalone("\"How much does the Pro plan cost?\"").as_deref(), Some("How much does the Pro plan cost?"));
        assert_eq!(standalone("Question: ¿Cuándo cierra la oficina?").as_deref(), Some("¿Cuándo cierra la oficina?"));
        // An answer or an explanation instead of a question is not used.
        assert_eq!(standalone("The Pro plan costs $20.\nIt includes …"), None);
        assert_eq!(standalone(&"very long ".repeat(40)), None);
        assert_eq!(standalone("  "), None);
    }
}
