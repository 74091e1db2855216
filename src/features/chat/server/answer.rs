//! The answering pipeline: save the question, retrieve, prompt, stream the model's words to
//! the browser while keeping them, and store how it ended. The answer is written by its own
//! task, so a slow reader never holds a database connection, and it stops (the provider's
//! stream is dropped, closing its request) when the user presses Stop or goes away.

use super::store::{self, Outcome, Retrieval};
use super::live::{Halt, LiveAnswer};
use super::prompt;
use super::rewrite;
use super::trace;
use crate::error::AppError;
use crate::features::bots::{Bot, BotSettings};
use crate::features::chat::{ChatEvent, ConversationSummary, FinishReason, MessageView, QueryRewrite, RetrievalTrace, SourceView, TraceCandidate, Verdict};
use crate::features::knowledge::server::search::{self, SearchBot};
use crate::features::knowledge::{SearchHit, SearchTimings};
use crate::providers::llm::{LlmError, LlmEvent, LlmRequest, Passage, Turn};
use crate::providers::Providers;
use crate::server::state::AppState;
use futures::{Stream, StreamExt};
use sqlx::PgPool;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};
use uuid::Uuid;

/// Lines of `ChatEvent` JSON, as the browser reads them.
pub type AnswerStream = std::pin::Pin<Box<dyn Stream<Item = Result<String, AppError>> + Send>>;

/// The question as it will be stored, or why it cannot be asked.
pub fn checked_question<'a>(state: &AppState, text: &'a str) -> Result<&'a str, AppError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(AppError::invalid("question", "Write a question first."));
    }
    let max = state.settings.chat.question_max_chars;
    if text.chars().count() > max {
        return Err(AppError::invalid("question", format!("Questions are at most {max} characters.")));
    }
    Ok(text)
}

/// A new question from `owner` to their bot, in a new conversation (`None`) or an existing one.
pub async fn ask(state: &AppState, owner: Uuid, bot_public_id: &str, conversation: Option<Uuid>, text: &str) -> Result<AnswerStream, AppError> {
    let started = Instant::now();
    let text = checked_question(state, text)?;
    let (bot_id, bot) = store::owned_bot(&state.db, owner, bot_public_id).await?;
    ensure_answer_allowance(&state.db, owner, state.settings.chat.answers_per_day).await?;
    let conversation = match conversation {
        Some(id) => {
            let (conversation, conversation_bot, _) = store::owned_conversation(&state.db, owner, id).await?;
            if conversation_bot != bot_id {
                return Err(store::conversation_not_found());
            }
            conversation
        }
        None => store::create(&state.db, bot_id, owner, &prompt::title_from(text)).await?,
    };
    answer_in(state, bot_id, bot, conversation, text, started).await
}

/// Stores `text` as the next question of `conversation` (already checked to be the asker's,
/// the bot owner's answer allowance checked too) and starts answering it.
pub async fn answer_in(state: &AppState, bot_id: Uuid, bot: Bot, conversation: ConversationSummary, text: &str, started: Instant) -> Result<AnswerStream, AppError> {
    answer(state, Asking { bot_id, bot, conversation, started, history: None }, text).await
}

/// A question about to be answered in a conversation already checked to be the asker's.
pub struct Asking {
    pub bot_id: Uuid,
    pub bot: Bot,
    pub conversation: ConversationSummary,
    pub started: Instant,
    /// Earlier turns given by the caller instead of the conversation's own (an OpenAI-style
    /// request carries its whole history); `None` reads them from the conversation.
    pub history: Option<Vec<Turn>>,
}

/// Stores `text` as the next question and starts answering it.
pub async fn answer(state: &AppState, asking: Asking, text: &str) -> Result<AnswerStream, AppError> {
    let Asking { bot_id, bot, conversation, started, history } = asking;
    let s = &bot.settings;
    let lease = state.settings.chat.answer_lease_secs;
    let (question, answer) = store::add_question(&state.db, conversation.id, bot_id, text, &s.llm_provider, &s.llm_model, lease).await?;
    begin(state, Ask { bot_id, bot, conversation, question, started, history }, answer).await
}

/// Answers the conversation's last question again, replacing the answer it had.
pub async fn regenerate(state: &AppState, owner: Uuid, conversation: Uuid) -> Result<AnswerStream, AppError> {
    let started = Instant::now();
    let (conversation, bot_id, public_id) = store::owned_conversation(&state.db, owner, conversation).await?;
    let (_, bot) = store::owned_bot(&state.db, owner, &public_id).await?;
    ensure_answer_allowance(&state.db, owner, state.settings.chat.answers_per_day).await?;
    let question = store::reopen_last_question(&state.db, conversation.id).await?;
    let s = &bot.settings;
    let answer = store::start_answer(&state.db, conversation.id, bot_id, &s.llm_provider, &s.llm_model, state.settings.chat.answer_lease_secs).await?;
    begin(state, Ask { bot_id, bot, conversation, question, started, history: None }, answer).await
}

/// Each answer may cost the operator's model key: an account's bots give at most `per_day` in
/// any 24 hours. Checked before anything is stored, so a refused question leaves no trace.
/// Read from the analytics counters (quarter hours, kept by a trigger on `messages`) rather
/// than by counting the day's answers, so the check costs the same at 2,000 answers a day as at
/// 50,000 (1.6-2.7 ms instead of 17 ms there). The window is 24 hours plus the part of the
/// quarter hour it starts in: the allowance is never exceeded, and an answer given at the limit
/// frees its place at most 15 minutes later than a strict 24 hours would.
pub async fn ensure_answer_allowance(db: &PgPool, owner: Uuid, per_day: i64) -> Result<(), AppError> {
    let used: i64 = sqlx::query_scalar(
        "SELECT coalesce(sum(s.answers), 0)::bigint FROM message_stats s JOIN bots b ON b.id = s.bot_id
          WHERE b.owner_id = $1 AND s.bucket >= stats_bucket(now() - interval '1 day')",
    )
    .bind(owner)
    .fetch_one(db)
    .await?;
    if used >= per_day {
        return Err(AppError::QuotaExceeded(format!(
            "Your bots have given {per_day} answers in the last 24 hours, the most this server allows; try again later."
        )));
    }
    Ok(())
}

struct Ask {
    bot_id: Uuid,
    bot: Bot,
    conversation: ConversationSummary,
    question: MessageView,
    started: Instant,
    history: Option<Vec<Turn>>,
}

/// Streams the answer `answer` (its row already `streaming`) to `ask`.
async fn begin(state: &AppState, ask: Ask, answer: Uuid) -> Result<AnswerStream, AppError> {
    let live = state.live.start(answer);
    // Room for a burst of words; a reader slower than that slows the writer down.
    let (tx, rx) = mpsc::channel::<String>(64);
    let started = ChatEvent::Started { conversation: ask.conversation.clone(), question: ask.question.clone(), answer_id: answer };
    let _ = tx.send(started.to_line()).await;
    tokio::spawn(run(state.clone(), ask, answer, live, tx));
    Ok(Box::pin(futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|line| (Ok(line), rx)) })))
}

async fn run(state: AppState, ask: Ask, answer: Uuid, live: LiveAnswer, tx: mpsc::Sender<String>) {
    let (written, snapshot) = watch::channel(String::new());
    let keeper = tokio::spawn(keep(state.clone(), answer, snapshot));
    let outcome = write(&state, &ask, answer, live.halt.clone(), &written, &tx).await.unwrap_or_else(|reason| Outcome {
        failed: Some(reason),
        finish_reason: Some(FinishReason::Error),
        ..Outcome::default()
    });
    // The final write below supersedes any checkpoint (which only touches a `streaming` row).
    keeper.abort();
    let outcome = Outcome { total_ms: ask.started.elapsed().as_millis() as i32, ..outcome };
    match store::finish_answer(&state.db, answer, ask.conversation.id, ask.bot_id, &outcome).await {
        Ok(view) => {
            let _ = tx.send(ChatEvent::Done { answer: view }.to_line()).await;
        }
        Err(e) => tracing::error!(%answer, error = %e, "could not store the end of an answer"),
    }
    drop(live);
}

/// Keeps an answer being written durable: every `chat.checkpoint_millis` the text written so
/// far goes to PostgreSQL with a renewed lease, so a process killed mid-answer leaves what its
/// reader saw (up to the last checkpoint) for every process to show; and a Stop asked for
/// through a process whose notification did not arrive is read back from the row.
async fn keep(state: AppState, answer: Uuid, mut written: watch::Receiver<String>) {
    let chat = &state.settings.chat;
    let mut tick = tokio::time::interval(std::time::Duration::from_millis(chat.checkpoint_millis.max(50)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tick.tick().await;
        let text = match written.has_changed() {
            Ok(true) => Some(written.borrow_and_update().clone()),
            Ok(false) => None,
            Err(_) => return, // the writer is done
        };
        match store::checkpoint(&state.db, answer, text.as_deref(), chat.answer_lease_secs).await {
            Ok(Some(true)) => state.live.halt(answer, Halt::Stop),
            Ok(Some(false)) => {}
            Ok(None) => return,
            // The next checkpoint carries the text; the lease outlasts several misses.
            Err(error) => tracing::warn!(%answer, %error, "answer checkpoint failed"),
        }
    }
}

/// What retrieval found: the searched text, the passages that passed the bot's minimum
/// relevance (numbered, with their keyword and vector scores), the best relevance seen, and
/// for the trace every candidate with its verdict and where the time went.
pub struct Retrieved {
    pub query: String,
    /// How a follow-up was made searchable (`None`: searched as asked).
    pub rewrite: Option<QueryRewrite>,
    /// Tokens in and out the bot's model spent rewriting a follow-up.
    pub rewrite_tokens: Option<(u32, u32)>,
    pub passages: Vec<(SourceView, Option<f32>, Option<f32>)>,
    pub best: Option<f32>,
    pub candidates: Vec<TraceCandidate>,
    pub timings: SearchTimings,
}

/// Hybrid retrieval for a question; a follow-up is first made standalone (`rewrite`), by the
/// bot's model within `rewrite_deadline` when it has one.
pub async fn retrieve(db: &PgPool, providers: &Providers, bot_id: Uuid, s: &BotSettings, question: &str, history: &[Turn], rewrite_deadline: Duration) -> Result<Retrieved, AppError> {
    let searched = rewrite::search_query(providers, s, question, history, rewrite_deadline).await;
    let found = retrieve_query(db, providers, bot_id, s, searched.query).await?;
    Ok(Retrieved { rewrite: searched.how, rewrite_tokens: searched.tokens, ..found })
}

/// Hybrid retrieval of `query`: vector and keyword lists fused by the bot's balance, filtered
/// by its minimum relevance, its top-k kept. Relevance is the passage's semantic similarity to
/// the question, or its keyword score when only keyword search found it: the fused score
/// ranks, but it is relative (first place always scores 1), so it cannot say whether anything
/// relevant was found at all.
pub async fn retrieve_query(db: &PgPool, providers: &Providers, bot_id: Uuid, s: &BotSettings, query: String) -> Result<Retrieved, AppError> {
    let bot = SearchBot { id: bot_id, keyword_weight: s.keyword_weight };
    let top_k = s.top_k as usize;
    let (hits, timings) = search::hybrid_timed(db, providers, &bot, &query, (top_k * 3).max(20)).await?;
    let relevance = |h: &SearchHit| h.vector.or(h.keyword).unwrap_or(0.0);
    let best = hits.iter().map(relevance).reduce(f32::max);
    let mut passages = Vec::new();
    let mut candidates = Vec::with_capacity(hits.len());
    for (i, h) in hits.into_iter().enumerate() {
        let score = relevance(&h);
        let verdict = if score < s.min_relevance {
            Verdict::BelowMinimum
        } else if passages.len() >= top_k {
            Verdict::BeyondTopK
        } else {
            Verdict::Kept { n: passages.len() as u16 + 1 }
        };
        let c = h.chunk;
        let source = SourceView {
            n: passages.len() as u16 + 1,
            chunk_id: Some(c.id),
            document_id: Some(c.document_id),
            document_name: c.document_name,
            heading_path: c.heading_path,
            page: c.page,
            text: c.text,
            score,
        };
        candidates.push(TraceCandidate {
            chunk_id: c.id,
            document_id: c.document_id,
            location: source.location(),
            snippet: trace::snippet(&source.text),
            keyword: h.keyword,
            keyword_rank: h.keyword_rank,
            vector: h.vector,
            vector_rank: h.vector_rank,
            fused: h.fused,
            fused_rank: i as u32 + 1,
            relevance: score,
            verdict,
        });
        if matches!(verdict, Verdict::Kept { .. }) {
            passages.push((source, h.keyword, h.vector));
        }
    }
    Ok(Retrieved { query, rewrite: None, rewrite_tokens: None, passages, best, candidates, timings })
}

/// The request the bot's model gets for a question.
pub fn request(s: &BotSettings, question: &str, history: &[Turn], history_tokens: u32, passages: &[(SourceView, Option<f32>, Option<f32>)]) -> LlmRequest {
    LlmRequest {
        model: s.llm_model.clone(),
        system: prompt::system_prompt(&s.persona, s.answer_only_from_knowledge),
        history: prompt::trim_history(history, history_tokens),
        question: question.to_owned(),
        passages: passages.iter().map(|(p, _, _)| Passage { n: p.n as usize, source: p.location(), text: p.text.clone() }).collect(),
        temperature: s.temperature,
        max_tokens: s.max_answer_tokens,
    }
}

/// How a halted answer ends: Stop cancels it; a shutdown interrupts it, saying to ask again.
fn halted(halt: Halt, out: &mut Outcome) -> FinishReason {
    if halt == Halt::Shutdown {
        out.failed = Some("The server restarted while answering; try again.".into());
        FinishReason::Interrupted
    } else {
        FinishReason::Cancelled
    }
}

/// Writes the answer; `Err` is a reason the user can read, stored with the failed answer.
async fn write(state: &AppState, ask: &Ask, answer: Uuid, mut halt: watch::Receiver<Halt>, written: &watch::Sender<String>, tx: &mpsc::Sender<String>) -> Result<Outcome, String> {
    let s = &ask.bot.settings;
    let db = &state.db;
    let stored = |e: AppError| {
        tracing::error!(%answer, error = %e, "answer storage failed");
        "Something went wrong while answering; try again.".to_string()
    };
    let history = match &ask.history {
        Some(given) => given.clone(),
        None => store::history(db, ask.conversation.id, ask.question.id).await.map_err(stored)?,
    };
    let rewrite_deadline = Duration::from_millis(state.settings.chat.rewrite_timeout_ms);
    // Stop, a shutdown or the reader leaving count while a follow-up is rewritten and searched
    // too: a slow rewrite model must not keep a stopped answer going until its deadline.
    let searching = retrieve(db, &state.providers, ask.bot_id, s, &ask.question.content, &history, rewrite_deadline);
    let found = tokio::select! {
        biased;
        _ = halt.changed() => {
            let mut out = Outcome::default();
            out.finish_reason = Some(halted(*halt.borrow(), &mut out));
            return Ok(out);
        }
        _ = tx.closed() => return Ok(Outcome { finish_reason: Some(FinishReason::Cancelled), ..Outcome::default() }),
        found = searching => found,
    };
    let mut found = found.map_err(|_| "Searching the bot's knowledge failed; try again.".to_string())?;
    // Built before anything is stored, so the trace keeps exactly what the model is sent.
    let only_fallback = found.passages.is_empty() && s.answer_only_from_knowledge;
    let prompt = (!only_fallback).then(|| request(s, &ask.question.content, &history, state.settings.chat.history_tokens, &found.passages));
    let record = state.settings.chat.keep_traces.then(|| RetrievalTrace {
        query: found.query.clone(),
        rewrite: found.rewrite.clone(),
        min_relevance: s.min_relevance,
        top_k: s.top_k,
        keyword_weight: s.keyword_weight,
        candidates: std::mem::take(&mut found.candidates),
        timings: found.timings,
        prompt: prompt.as_ref().map(trace::prompt_of),
    });
    let retrieval = Retrieval { query: &found.query, best_score: found.best, sources: &found.passages, trace: record.as_ref() };
    store::save_sources(db, answer, &retrieval).await.map_err(stored)?;
    let sources = found.passages.iter().map(|(s, _, _)| s.clone()).collect();
    let _ = tx.send(ChatEvent::Sources { sources }.to_line()).await;

    let mut out = Outcome::default();
    let fallback = |out: &mut Outcome| {
        out.content = s.fallback_message.clone();
        out.answered = Some(false);
        out.finish_reason = Some(FinishReason::NotInKnowledge);
        out.ttft_ms.get_or_insert(ask.started.elapsed().as_millis() as i32);
    };
    let Some(prompt) = prompt else {
        fallback(&mut out);
        out.add_tokens(found.rewrite_tokens);
        let _ = tx.send(ChatEvent::Delta { text: out.content.clone() }.to_line()).await;
        return Ok(out);
    };
    let llm = state
        .providers
        .llm(&s.llm_provider)
        .ok_or_else(|| format!("The model {}/{} is not available on this server; choose another in the bot's settings.", s.llm_provider, s.llm_model))?;
    let mut stream = llm.stream(prompt);
    let mut finish = None;
    loop {
        let event = tokio::select! {
            biased;
            _ = halt.changed() => {
                finish = Some(halted(*halt.borrow(), &mut out));
                break;
            }
            _ = tx.closed() => { finish = Some(FinishReason::Cancelled); break; }
            event = stream.next() => event,
        };
        match event {
            None => break,
            Some(Ok(LlmEvent::Text(text))) => {
                out.ttft_ms.get_or_insert(ask.started.elapsed().as_millis() as i32);
                out.content.push_str(&text);
                written.send_modify(|w| w.push_str(&text));
                if tx.send(ChatEvent::Delta { text }.to_line()).await.is_err() {
                    finish = Some(FinishReason::Cancelled);
                    break;
                }
            }
            Some(Ok(LlmEvent::Usage { input, output })) => {
                out.tokens_in = Some(input as i32);
                out.tokens_out = Some(output as i32);
            }
            Some(Ok(LlmEvent::Finish(reason))) => {
                finish = Some(reason);
                break;
            }
            Some(Err(LlmError::Unavailable(reason))) => {
                out.failed = Some(reason);
                finish = Some(FinishReason::Error);
                break;
            }
        }
    }
    // Dropping the provider's stream is what stops it (and its upstream request).
    drop(stream);
    out.add_tokens(found.rewrite_tokens);
    let finish = finish.unwrap_or(FinishReason::Interrupted);
    out.finish_reason = Some(finish);
    if finish == FinishReason::NotInKnowledge && out.content.trim().is_empty() {
        fallback(&mut out);
        let _ = tx.send(ChatEvent::Delta { text: out.content.clone() }.to_line()).await;
    } else if out.content.trim().is_empty() && out.failed.is_none() && finish != FinishReason::Cancelled {
        // Never an empty bubble: say why there is no answer.
        out.failed = Some(finish.note().unwrap_or("The model returned an empty answer; try again.").to_owned());
    } else if out.answered.is_none() && !out.content.is_empty() {
        out.answered = Some(!found.passages.is_empty());
    }
    Ok(out)
}
